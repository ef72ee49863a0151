// vmgwd: keeps the kernel equal to the config file plus the objects created through its API.
// One thread, one poll loop: API requests are served one at a time, so two requests can never
// interleave their changes (no double allocation, no lost update).
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>

#include "api/unix_server.h"
#include "backend/dhcp.h"
#include "backend/hypervisor.h"
#include "backend/link_watch.h"
#include "backend/nflog.h"
#include "backend/nft_monitor.h"
#include "backend/prober.h"
#include "compile/compile.h"
#include "compile/drop_log.h"
#include "compile/filter_rules.h"
#include "daemon/change_fields.h"
#include "daemon/filter_routes.h"
#include "daemon/gateway.h"
#include "daemon/host_healer.h"
#include "daemon/libvirt_follower.h"
#include "daemon/log.h"
#include "daemon/log_book.h"
#include "daemon/memory.h"
#include "daemon/previous_state.h"
#include "daemon/recent_changes.h"
#include "daemon/routes.h"
#include "daemon/status_page.h"
#include "daemon/supervisor.h"
#include "daemon/uplink_follower.h"
#include "model/load.h"

#ifndef VMGW_VERSION
#define VMGW_VERSION "0.0.0"
#endif

namespace {

using namespace vmgw;

struct Options {
  std::string config = "/etc/vmgw/vmgw.yaml";
  std::string db = "/var/lib/vmgw/state.db";
  std::string socket = "/run/vmgw/vmgw.sock";
  std::string state_dir = "/var/lib/vmgw";
  std::string run_dir = "/run/vmgw";
  std::string group;              // --group: overrides the config's api.group
  bool reset_host_state = false;  // start on an empty database even if the host holds vmgw state
};

// systemd's readiness protocol (Type=notify): one datagram to $NOTIFY_SOCKET.
void notify_systemd(const std::string& message) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  ::sendto(fd, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&addr),
           static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(path)));
  ::close(fd);
}

std::optional<Config> load_topology(const std::string& path) {
  auto result = load_config_file(path);
  if (auto* d = std::get_if<Diagnostics>(&result)) {
    for (const auto& e : *d) daemon::log_error(e.str());
    return std::nullopt;
  }
  return std::get<Validated<Config>>(std::move(result)).get();
}

std::string self_vmgw() {
  // The CLI next to the daemon runs the lease hook.
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  auto cli = self.parent_path() / "vmgw";
  return std::filesystem::exists(cli) ? cli.string() : "/usr/bin/vmgw";
}

// A group of the config (api.group, api.read_only_group): a numeric gid as it is, a name looked up;
// nullopt (and a log line) when there is no such group: it then gives nobody access.
std::optional<api::Group> resolve_group(const std::string& name, const char* what) {
  if (name.empty()) return std::nullopt;
  if (name.find_first_not_of("0123456789") == std::string::npos && name.size() <= 9)
    return api::Group{static_cast<uint32_t>(std::stoul(name)), name};
  if (const group* g = ::getgrnam(name.c_str())) return api::Group{g->gr_gid, name};
  daemon::log_info(std::string(what) + " '" + name +
                   "' does not exist: it gives no access to the API");
  return std::nullopt;
}

api::AccessPolicy access_policy(const Config& c, const Options& o) {
  api::AccessPolicy p;
  p.owner_uid = ::geteuid();
  p.full = resolve_group(o.group.empty() ? c.api.group : o.group, "group");
  p.read_only = resolve_group(c.api.read_only_group, "read-only group");
  return p;
}

api::ServerLimits server_limits(const Config& c) {
  api::ServerLimits l;
  l.reserved_for_root = 32;  // root is never locked out by other users' connections
  l.per_uid = c.api.connections_per_user;
  return l;
}

// Puts back what another program changed, and says who it was.
void heal(daemon::Gateway& gw, const backend::NftChanger& who) {
  try {
    auto report = gw.heal();
    if (report.changed()) {
      daemon::log_info(
          "self-heal: " + (who.name.empty() ? std::string("another program") : who.name) +
              " (pid " + std::to_string(who.pid) + ") changed the ruleset; " + report.summary(),
          {"nftables", "self-heal"});
    }
  } catch (const std::exception& e) {
    daemon::log_error(std::string("self-heal failed (retried at the next change): ") + e.what());
  }
}

// A logged packet -> a log book entry naming the VM: by address (out: the source, in: the
// destination), else by the bridge port it came in or went out through.
void record_logged(const backend::LoggedPacket& pkt, const daemon::Gateway& gw,
                   daemon::LogBook& book) {
  auto prefix = daemon::parse_prefix(pkt.prefix);
  if (!prefix) return;
  daemon::LogEntry e;
  e.time_ns = pkt.time_ns;
  e.verdict = prefix->verdict;
  e.direction = prefix->direction;
  e.rule = prefix->rule;
  if (auto t = backend::five_tuple(pkt.payload)) e.tuple = *t;
  if (e.direction == "out") e.vm = gw.vm_of_ip(e.tuple.src);
  if (e.direction == "in") e.vm = gw.vm_of_ip(e.tuple.dst);
  if (e.vm.empty()) {
    e.vm = gw.vm_of_ip(e.tuple.src);
    if (!e.vm.empty() && e.direction.empty()) e.direction = "out";
  }
  if (e.vm.empty()) {
    e.vm = gw.vm_of_ip(e.tuple.dst);
    if (!e.vm.empty() && e.direction.empty()) e.direction = "in";
  }
  for (uint32_t ifindex : {pkt.physindev, pkt.physoutdev, pkt.indev, pkt.outdev}) {
    char name[IF_NAMESIZE] = {};
    if (!e.vm.empty() || ifindex == 0 || !::if_indextoname(ifindex, name)) continue;
    e.vm = gw.vm_of_port(name);
  }
  if (!e.vm.empty()) e.rule = gw.own_rule(e.vm, e.rule);
  // Kept beyond the book's 4096 entries: every logged packet reaches the journal too.
  daemon::log_packet(daemon::format_fields(e));
  book.add(std::move(e));
}

// A change failed and could not be stepped back at once (a full disk): the host is put back to
// the plan in force as soon as it can be, tried once a second (a whole converge each time: not
// on every pass of a loop that API requests keep busy).
void retry_host(daemon::Gateway& gw) {
  static std::string last_error;
  static std::chrono::steady_clock::time_point last_try{};
  const auto now = std::chrono::steady_clock::now();
  if (now - last_try < std::chrono::seconds(1)) return;
  last_try = now;
  try {
    auto report = gw.heal();
    daemon::log_info("the host is back to the plan in force: " + report.summary());
    last_error.clear();
  } catch (const std::exception& e) {
    if (e.what() != last_error)
      daemon::log_error(std::string("the host is not yet back to the "
                                    "plan in force: ") +
                        e.what());
    last_error = e.what();
  }
}

// The status page's TCP listener, when the config's status.listen names one; a failure to bind
// is said and the daemon goes on without it (the page stays on the API socket).
std::unique_ptr<api::UnixServer> listen_status_page(const Config& c) {
  if (!c.status_listen) return nullptr;
  const std::string address = c.status_listen->address.str();
  const auto port = c.status_listen->port;
  try {
    api::ServerLimits limits;
    limits.max_connections = 64;  // a few browsers, not a web server
    auto server = api::UnixServer::listen_tcp(address, port, limits);
    daemon::log_info("serving the status page on http://" + address + ":" + std::to_string(port) +
                     "/status");
    return server;
  } catch (const std::exception& e) {
    daemon::log_error(std::string("status page unavailable on TCP: ") + e.what());
    return nullptr;
  }
}

// One sample for the status page's plots when one is due (every 10 s).
void sample_status(daemon::StatusHistory& history, const daemon::Gateway& gw,
                   const daemon::UplinkFollower& uplinks) {
  const auto now = static_cast<int64_t>(std::time(nullptr));
  if (!history.due(now)) return;
  history.add(daemon::uplink_sample(gw, uplinks.status(), daemon::read_link_bytes(), now));
}

// An empty database next to a live gateway: refuse (previous_state.h), saying what the host
// holds and how to go on. True when refused.
bool refuse_empty_database(const Config& topology, store::StateStore& store,
                           backend::NftBackend& nft, backend::Rtnl& rtnl, const Options& o) {
  if (!daemon::never_used(store.load())) return false;
  std::map<std::string, std::string> hosts;
  for (const auto& n : topology.networks) {
    std::ifstream in(backend::dhcp_hosts_path(o.state_dir, n.name));
    hosts[n.name] = std::string(std::istreambuf_iterator<char>(in), {});
  }
  auto held = daemon::previous_state_on_host(topology, nft.read_table("inet", names::kTable),
                                             rtnl.addresses(), hosts);
  if (held.empty()) return false;
  daemon::log_error("not starting: the database " + o.db +
                    " is new or empty, but this host holds the state of an earlier vmgwd, which "
                    "starting would remove:");
  for (const auto& h : held) daemon::log_error("  " + h);
  daemon::log_error(
      "restore the database from a backup (docs/reliability.md, \"A new database next to a live "
      "gateway\") and start again, or start once with --reset-host-state to remove that state "
      "and begin empty");
  return true;
}

int run(const Options& o) {
  auto topology = load_topology(o.config);
  if (!topology) {
    daemon::log_error("not starting: " + o.config + " is invalid");
    return 1;
  }
  try {
    daemon::Gateway::check_topology(*topology);
  } catch (const daemon::ServiceError& e) {
    for (const auto& [field, reason] : e.errors)
      daemon::log_error(o.config + ": " + field + ": " + reason);
    return 1;
  }
  std::filesystem::create_directories(std::filesystem::path(o.db).parent_path());
  std::filesystem::create_directories(std::filesystem::path(o.socket).parent_path());
  // One daemon per state database: a second one would fight the first over the kernel.
  int lock = ::open((o.db + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock < 0) {
    const int e = errno;
    daemon::log_error("not starting: cannot open " + o.db + ".lock: " + std::strerror(e) +
                      (e == EROFS || e == EACCES ? " (the state directory must be writable)" : ""));
    return 1;
  }
  if (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
    daemon::log_error("not starting: another vmgwd is running on " + o.db);
    return 1;
  }
  // The database holds the operator's whole intent: readable by root and the vmgw group only.
  // (SQLite gives its -wal and -shm files the database's mode; one written by an older vmgwd
  // with 0644 is narrowed too.)
  const mode_t old_umask = ::umask(027);
  auto store = store::open_sqlite_store(o.db);
  ::umask(old_umask);
  for (const char* suffix : {"", "-wal", "-shm"})
    if (::chmod((o.db + suffix).c_str(), 0640) != 0 && errno != ENOENT)
      daemon::log_error("cannot make " + o.db + suffix + " 0640: " + std::strerror(errno));
  // Another program deleting or changing vmgw's tables (nft flush ruleset, a firewall reload)
  // is noticed through nftables' own events and undone at once. Opened before the first
  // transaction, so that the monitor knows which generations are vmgw's own.
  std::unique_ptr<backend::NftMonitor> monitor;
  try {
    monitor = backend::open_nft_monitor(static_cast<uint32_t>(::getpid()));
  } catch (const std::exception& e) {
    daemon::log_error(std::string("self-healing unavailable: ") + e.what());
  }
  auto kernel_nft = backend::make_libnftables_backend();
  auto nft = backend::noting_own_transactions(*kernel_nft, monitor.get());
  auto rtnl = backend::make_mnl_rtnl();
  auto sysctl = backend::make_proc_sysctl();
  auto dhcp = backend::make_dnsmasq({o.state_dir, o.run_dir, self_vmgw(), o.socket});
  auto conntrack = backend::make_netlink_conntrack();
  auto announcer = backend::make_garp_announcer();
  Backends backends{*nft, *rtnl, *sysctl, *dhcp};
  daemon::Gateway gw(*topology, {*store, backends, *conntrack, *announcer});

  daemon::DhcpSupervisor supervisor(*dhcp, [](const std::string& m) { daemon::log_info(m); });
  daemon::UplinkFollower uplinks(gw);
  daemon::DaemonInfo info{VMGW_VERSION,
                          o.config,
                          ::getpid(),
                          [&] { return supervisor.state(); },
                          [&] { return supervisor.restarts(); },
                          [&] { return uplinks.status(); }};
  if (!o.reset_host_state && refuse_empty_database(*topology, *store, *kernel_nft, *rtnl, o))
    return 1;
  try {
    auto report = gw.start();
    for (const auto& note : gw.start_notes()) daemon::log_error(note);
    daemon::log_info("started at generation " + std::to_string(gw.state().generation) + ": " +
                     report.summary());
    daemon::return_free_memory();  // the converge's transient plan and kernel listing
    if (size_t pruned = gw.prune_lease_events(std::time(nullptr)))
      daemon::log_info("pruned " + std::to_string(pruned) +
                       " lease events (lease_events retention)");
  } catch (const daemon::ServiceError& e) {
    daemon::log_error(std::string("not starting: the stored objects do not fit ") + o.config +
                      ": " + e.what());
    return 1;
  }
  uplinks.configure();
  // Links, addresses, routing, sysctls and hosts files another program changes are put back too
  // (nftables' own events cover the tables, above).
  auto healer = daemon::make_host_healer(gw, backend::dhcp_dir(o.state_dir));
  // libvirt's domains become VMs (the config's libvirt section); libvirt not running yet is
  // retried every second, the API serves meanwhile.
  std::unique_ptr<backend::Hypervisor> hypervisor;
  std::unique_ptr<daemon::LibvirtFollower> libvirt;
  if (topology->libvirt) {
    hypervisor = backend::make_libvirt_hypervisor(topology->libvirt->uri);
    libvirt = std::make_unique<daemon::LibvirtFollower>(gw, *hypervisor, topology->libvirt->uri,
                                                        daemon::followed_networks(*topology));
    libvirt->start(std::chrono::steady_clock::now());
    info.libvirt = [&] { return libvirt->status(); };
    gw.set_following_libvirt(true);
  }

  // Who may use the API is decided from the peer's credentials (api/access.h): the socket file
  // is open to every local user when a group can be given access (others are answered 403 at
  // once), else it is root's (0660 root:root; the policy refuses root's group too).
  auto policy = access_policy(*topology, o);
  const bool groups = policy.full || policy.read_only;
  api::UnixServer server(o.socket, groups ? 0666 : 0660, "", server_limits(*topology));
  server.set_access_policy(policy);
  if (!groups) daemon::log_info("no API group exists: the API socket is for root only");
  api::Router router;
  daemon::add_routes(router, gw, info);
  daemon::LogBook log_book;
  daemon::add_filter_routes(router, gw, log_book, &info);
  // The status page (docs/status-page.md): on the API socket always; on TCP when the config asks,
  // through a router of its own that holds the page's routes and nothing else.
  daemon::StatusHistory history;
  daemon::RecentChanges recent;
  // The listener goes before `recent` does (a log line while run() unwinds must not reach it).
  struct ForgetListener {
    ~ForgetListener() { daemon::set_log_listener({}); }
  } forget_listener;
  daemon::set_log_listener(
      [&recent](const std::string& msg, const daemon::LogFields& about, bool error) {
        recent.add({static_cast<int64_t>(std::time(nullptr)), about.object, about.change, msg,
                    !error && !about.failed});
      });
  daemon::add_status_page_routes(router, router, history, recent);
  api::Router status_router;
  daemon::add_status_page_routes(status_router, router, history, recent);
  auto status_server = listen_status_page(*topology);
  auto status_handle = [&](const api::Request& req) {
    if (req.method != "GET" && req.method != "HEAD")
      return api::error_response(405, "", "the status page is read only");
    return status_router.dispatch(req);
  };
  // Packets logged by vmgw's rules (filter rules with log='yes', default drops, quarantine).
  std::unique_ptr<backend::NflogSource> nflog;
  try {
    nflog = backend::open_nflog(compile_detail::kNflogGroup);
  } catch (const std::exception& e) {
    daemon::log_error(std::string("drop log unavailable: ") + e.what());
  }
  info.drop_log = [&] {
    daemon::DaemonInfo::DropLog d;
    d.logged = log_book.last_seq();
    d.overruns = nflog ? nflog->overruns() : 0;
    try {
      d.suppressed = gw.drop_log_suppressed();
    } catch (const std::exception&) {  // left out of /metrics rather than a wrong 0
    }
    return d;
  };

  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
  ::sigprocmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  int sigfd = ::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);

  supervisor.tick(gw.dhcp_servers(),
                  daemon::DhcpSupervisor::Clock::now());  // status is right at once
  notify_systemd("READY=1\nSTATUS=serving on " + o.socket);
  daemon::log_info("serving the API on " + o.socket);
  // Work that builds large transient data (a change, a heal, a reload, routing following the
  // uplinks) marks the heap; its freed memory goes back to the system once the daemon has been
  // quiet for a second. Not after every change: in a burst of changes the next one would fault
  // the same pages back in (at 10 000 VMs that doubled the latency of an API change).
  const auto quiet_before_trim = std::chrono::seconds(1);
  std::optional<std::chrono::steady_clock::time_point> worked;
  auto handle = [&](const api::Request& req) {
    // A read-only client's change is refused here, before any route runs.
    auto refused = api::refusal(req.access, req.peer_uid, req.method, req.path, policy);
    auto resp = refused ? api::error_response(403, "", *refused) : router.dispatch(req);
    if (!api::is_read_only(req.method, req.path)) {
      worked = std::chrono::steady_clock::now();
      // The change log: who asked (the peer's uid, from the kernel), what, and what came of it.
      // A refused change is a warning in the journal (its priority), the same line on stderr.
      const std::string line = "uid " + std::to_string(req.peer_uid) + ": " + req.method + " " +
                               req.path + " -> " + std::to_string(resp.status) + " (generation " +
                               std::to_string(gw.state().generation) + ")";
      auto about = daemon::change_fields(req.method, req.path, resp.body);
      about.failed = resp.status >= 400;
      daemon::log_info(line, about);
    }
    return resp;
  };
  for (;;) {
    std::vector<int> extra{sigfd};
    if (status_server)
      for (int fd : status_server->fds()) extra.push_back(fd);
    if (nflog) extra.push_back(nflog->fd());
    if (monitor) extra.push_back(monitor->fd());
    for (int fd : uplinks.fds()) extra.push_back(fd);
    for (int fd : healer->fds()) extra.push_back(fd);
    if (libvirt)
      for (int fd : libvirt->fds()) extra.push_back(fd);
    // At most a second asleep: the trim after a quiet second needs the loop back.
    int timeout = healer->timeout_ms(uplinks.timeout_ms(1000), std::chrono::steady_clock::now());
    if (libvirt) timeout = libvirt->timeout_ms(timeout, std::chrono::steady_clock::now());
    auto ready = server.poll_once(timeout, handle, extra);
    // The status page's clients: served after the API's, never blocking it (a zero timeout).
    if (status_server) status_server->poll_once(0, status_handle);
    sample_status(history, gw, uplinks);
    if (uplinks.poll(ready)) worked = std::chrono::steady_clock::now();
    // After the uplinks: routing follows a lost carrier before a re-diff looks at it.
    if (healer->poll(ready, std::chrono::steady_clock::now()))
      worked = std::chrono::steady_clock::now();
    if (libvirt && libvirt->poll(ready, std::chrono::steady_clock::now()))
      worked = std::chrono::steady_clock::now();
    for (int fd : ready) {
      if (monitor && fd == monitor->fd()) {
        auto changers = monitor->foreign_changes();
        if (!changers.empty()) {
          heal(gw, changers.front());
          worked = std::chrono::steady_clock::now();
        }
        continue;
      }
      if (nflog && fd == nflog->fd()) {
        for (auto& pkt : nflog->read_ready()) record_logged(pkt, gw, log_book);
        continue;
      }
      if (fd != sigfd) continue;
      signalfd_siginfo si{};
      while (::read(sigfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGHUP) {
          auto next = load_topology(o.config);
          if (!next) {
            daemon::log_error("reload refused: " + o.config +
                              " is invalid; the previous configuration stays in force");
            continue;
          }
          try {
            worked = std::chrono::steady_clock::now();
            daemon::log_info("reloaded " + o.config + ": " + gw.reload(*next).summary());
            uplinks.configure();
            // The networks followed change now; the uri, or whether vmgwd follows libvirt at
            // all, at its next start (docs/config.md).
            const bool same_uri =
                libvirt && next->libvirt && next->libvirt->uri == topology->libvirt->uri;
            if (same_uri)
              libvirt->configure(daemon::followed_networks(*next),
                                 std::chrono::steady_clock::now());
            else if (libvirt || next->libvirt)
              daemon::log_error(
                  "the libvirt section's uri, or whether there is one, changes when vmgwd "
                  "restarts; until then it follows what it followed");
            if (next->status_listen != topology->status_listen)
              daemon::log_error(
                  "the status section's listen address changes when vmgwd restarts; until then "
                  "the status page stays where it was");
            // The API's groups and share follow the file too, and the socket's mode with them.
            policy = access_policy(*next, o);
            server.set_access_policy(policy);
            server.set_limits(server_limits(*next));
            ::chmod(o.socket.c_str(), policy.full || policy.read_only ? 0666 : 0660);
          } catch (const std::exception& e) {
            daemon::log_error(
                std::string("reload refused; the previous configuration stays in force: ") +
                e.what());
          }
        } else {
          // The rules stay in force: a stopped daemon never leaves the host open.
          daemon::log_info("stopping; the kernel keeps the rules of generation " +
                           std::to_string(gw.state().generation));
          notify_systemd("STOPPING=1");
          return 0;
        }
      }
    }
    if (gw.host_behind()) retry_host(gw);
    supervisor.tick(gw.dhcp_servers(), daemon::DhcpSupervisor::Clock::now());
    if (worked && std::chrono::steady_clock::now() - *worked >= quiet_before_trim) {
      daemon::return_free_memory();
      worked.reset();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vmgwd: the vmgw daemon"};
  Options o;
  app.add_option("--config", o.config, "host topology (uplinks, networks, pools, host)")
      ->capture_default_str();
  app.add_option("--db", o.db, "SQLite state database")->capture_default_str();
  app.add_option("--socket", o.socket, "API socket")->capture_default_str();
  app.add_option("--state-dir", o.state_dir, "DHCP hosts files and logs")->capture_default_str();
  app.add_option("--run-dir", o.run_dir, "dnsmasq pid files and hooks")->capture_default_str();
  app.add_option("--group", o.group,
                 "group with full control of the API (default: the config's api.group, vmgw)");
  app.add_flag(
      "--reset-host-state", o.reset_host_state,
      "start on a new or empty database even though the host holds the state of an "
      "earlier vmgwd (elastic IPs, forwards, filters, reservations): that state is removed");
  bool version = false;
  app.add_flag("--version", version, "print the version");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::cout << "vmgwd " << VMGW_VERSION << "\n";
    return 0;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    daemon::log_error(e.what());
    return 1;
  }
}
