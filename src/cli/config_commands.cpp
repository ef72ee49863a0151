// check, plan, apply, down, show: the declared-config verbs.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <variant>

#include "api/unix_client.h"
#include "apply/apply.h"
#include "apply/down.h"
#include "cli/commands.h"
#include "compile/compile.h"
#include "compile/plan_text.h"
#include "filter/builtins.h"
#include "filter/parse.h"
#include "model/load.h"

namespace vmgw::cli {
namespace {

// The built-in filters plus those defined in the config's `filters:` files (relative to the
// config file's directory); a file's filter replaces a built-in of the same name.
filter::FilterCatalog load_filters(const Config& c, const std::string& file, Diagnostics& errors) {
  filter::FilterCatalog catalog = filter::builtin_catalog();
  const std::filesystem::path dir = std::filesystem::path(file).parent_path();
  for (size_t i = 0; i < c.filter_files.size(); ++i) {
    std::filesystem::path p = c.filter_files[i];
    if (p.is_relative()) p = dir / p;
    std::ifstream in(p, std::ios::binary);
    std::string xml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      errors.push_back(
          {{file, 0, 0}, "filters[" + std::to_string(i) + "]", "cannot read " + p.string()});
      continue;
    }
    auto parsed = filter::parse_filter_xml(xml, p.string());
    if (!parsed.ok()) {
      errors.insert(errors.end(), parsed.errors.begin(), parsed.errors.end());
      continue;
    }
    catalog.add_or_replace(std::move(*parsed.filter));
  }
  return catalog;
}

struct Loaded {
  Validated<Config> config;
  filter::FilterCatalog filters;
};

// Parses and validates `file` and the filters it uses, printing every error; nullopt if there
// were any.
std::optional<Loaded> load(const std::string& file) {
  auto result = load_config_file(file);
  Diagnostics errors;
  std::optional<Loaded> ok;
  if (auto* v = std::get_if<Validated<Config>>(&result)) {
    auto catalog = load_filters(v->get(), file, errors);
    auto filter_errors = check_filters(v->get(), catalog);
    errors.insert(errors.end(), filter_errors.begin(), filter_errors.end());
    if (errors.empty()) ok.emplace(Loaded{std::move(*v), std::move(catalog)});
  } else {
    errors = std::get<Diagnostics>(result);
  }
  for (const auto& d : errors) std::cerr << d.str() << "\n";
  if (!errors.empty()) {
    std::cerr << errors.size() << " error" << (errors.size() == 1 ? "" : "s") << " in " << file
              << "; nothing was applied\n";
  }
  return ok;
}

std::string self_path() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "/usr/bin/vmgw";
}

}  // namespace

int cmd_check(const std::string& file) {
  auto config = load(file);
  if (!config) return kInvalidInput;
  const Config& c = config->config.get();
  std::cout << "ok: " << file << " is valid (" << c.uplinks.size() << " uplinks, "
            << c.networks.size() << " networks, " << c.vms.size() << " VMs, "
            << c.port_forwards.size() << " port forwards, " << c.eip_bindings.size()
            << " elastic IP bindings)\n";
  return kOk;
}

int cmd_plan(const std::string& file, const std::string& output) {
  auto config = load(file);
  if (!config) return kInvalidInput;
  Plan plan = compile(config->config, config->filters);
  if (output == "json") {
    std::cout << plan_json(plan).dump(2) << "\n";
  } else {
    std::cout << plan_text(plan);
  }
  return kOk;
}

namespace {

// Runs a verb that writes to the kernel, turning each failure into its message and exit code.
int on_kernel(const std::function<int()>& verb) {
  try {
    return verb();
  } catch (const EnvironmentError& e) {
    std::cerr << "error: " << e.what() << "; nothing was changed\n";
    return kEnvironment;
  } catch (const backend::NftError& e) {
    std::cerr
        << "error: the kernel refused the nftables transaction; the previous rules stay in force:\n"
        << e.what() << "\n";
    return kKernelRefused;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kFailed;
  }
}

std::unique_ptr<backend::Dhcp> real_dhcp(const Dirs& dirs) {
  try {
    return backend::make_dnsmasq({dirs.state, dirs.run, self_path()});
  } catch (const std::exception& e) {
    throw EnvironmentError(e.what());  // before any change: nothing was applied
  }
}

}  // namespace

int cmd_apply(const std::string& file, const Dirs& dirs, bool dry_run) {
  auto config = load(file);
  if (!config) return kInvalidInput;
  if (::geteuid() != 0) {
    std::cerr << "vmgw apply needs root (CAP_NET_ADMIN); `vmgw plan -f " << file
              << "` shows what it would do\n";
    return kEnvironment;
  }
  return on_kernel([&] {
    auto nft = backend::make_libnftables_backend();
    auto rtnl = backend::make_mnl_rtnl();
    // No probes here: an uplink is usable when its link has carrier (vmgwd also probes).
    Plan plan = compile(config->config, config->filters,
                        link_conditions(config->config.get(), rtnl->links()));
    auto sysctl = backend::make_proc_sysctl();
    backend::FakeDhcp no_dhcp;  // a dry run must not start or signal anything
    std::unique_ptr<backend::Dhcp> dhcp = dry_run ? nullptr : real_dhcp(dirs);
    Backends b{*nft, *rtnl, *sysctl, dry_run ? static_cast<backend::Dhcp&>(no_dhcp) : *dhcp};
    if (dry_run) {
      auto report = preview(plan, b);
      std::cout << "would apply: "
                << (report.nft.empty() ? "nothing to nftables" : report.nft.summary()) << "\n";
      for (const auto& line : report.net) std::cout << "  " << line << "\n";
      for (const auto& line : report.sysctl) std::cout << "  " << line << "\n";
      return static_cast<int>(kOk);
    }
    auto report = apply(plan, b);
    std::cout << report.summary() << "\n";
    return static_cast<int>(kOk);
  });
}

int cmd_down(const Dirs& dirs, const std::string& socket, bool dry_run) {
  if (::geteuid() != 0) {
    std::cerr << "vmgw down needs root (CAP_NET_ADMIN)\n";
    return kEnvironment;
  }
  // A running vmgwd would put back what down removes (self-healing), or half of it.
  bool daemon_running = false;
  try {
    api::Request probe;
    probe.method = "GET";
    probe.path = "/v1/networks";
    api::http_call(socket, probe, 2000);
    daemon_running = true;
  } catch (const std::exception&) {  // nothing answers there: no daemon
  }
  if (daemon_running) {
    std::cerr << "error: vmgwd answers at " << socket
              << " and would put back what down removes: stop it first (systemctl stop vmgwd), "
                 "then run vmgw down; nothing was changed\n";
    return kEnvironment;
  }
  return on_kernel([&] {
    auto nft = backend::make_libnftables_backend();
    auto rtnl = backend::make_mnl_rtnl();
    auto sysctl = backend::make_proc_sysctl();
    backend::FakeDhcp no_dhcp;
    std::unique_ptr<backend::Dhcp> dhcp = dry_run ? nullptr : real_dhcp(dirs);
    Backends b{*nft, *rtnl, *sysctl, dry_run ? static_cast<backend::Dhcp&>(no_dhcp) : *dhcp};
    if (dry_run) {
      auto report = preview_down(b);
      if (!report.changed()) {
        std::cout << "would remove nothing: vmgw holds nothing on this host\n";
        return static_cast<int>(kOk);
      }
      std::cout << "would remove:\n";
      for (const auto& t : report.tables) std::cout << "  nftables table " << t << "\n";
      for (const auto& line : report.net) std::cout << "  " << line << "\n";
      std::cout << "  and stop vmgw's dnsmasq processes (pid files in " << dirs.run << ")\n";
      return static_cast<int>(kOk);
    }
    std::cout << take_down(b).summary() << "\n";
    return static_cast<int>(kOk);
  });
}

int cmd_show(const std::string& output) {
  try {
    auto nft = backend::make_libnftables_backend();
    if (output == "json") {
      auto t = nft->read_table("inet", names::kTable);
      if (!t) {
        std::cout << "{}\n";
        return kOk;
      }
      auto cmds = nft::create_all_cmds(*t);
      if (auto b = nft->read_table("bridge", names::kTable))
        for (auto& c : nft::create_all_cmds(*b)) cmds.push_back(std::move(c));
      std::cout << nft::Json(cmds).dump(2) << "\n";
      return kOk;
    }
    std::string text = nft->list_text("inet", names::kTable);
    if (text.empty()) {
      std::cout << "no vmgw table in this network namespace (nothing applied yet)\n";
      return kOk;
    }
    // The inet table (NAT, policy, per-VM IP rules), then the bridge table (layer-2 rules).
    std::cout << text << "\n" << nft->list_text("bridge", names::kTable);
    return kOk;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return ::geteuid() == 0 ? kFailed : kEnvironment;
  }
}

}  // namespace vmgw::cli
