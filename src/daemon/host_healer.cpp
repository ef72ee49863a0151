#include "daemon/host_healer.h"

#include <algorithm>

#include "daemon/log.h"

namespace vmgw::daemon {
namespace {

std::string who(const backend::NetEvent& e) {
  // `ip` and most programs bind their netlink socket to their pid.
  return e.sender == 0 ? "" : " (netlink port " + std::to_string(e.sender) + ")";
}

std::string ms_since(std::optional<HostHealer::Clock::time_point> since,
                     HostHealer::Clock::time_point now) {
  if (!since) return "";
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - *since).count();
  return ", restored " + std::to_string(ms) + " ms later";
}

}  // namespace

HostHealer::HostHealer(Gateway& gw, std::unique_ptr<backend::NetWatch> net,
                       std::unique_ptr<backend::FileWatch> files, Log info, Log error)
    : gw_(gw),
      net_(std::move(net)),
      files_(std::move(files)),
      info_(std::move(info)),
      error_(std::move(error)) {}

std::vector<int> HostHealer::fds() const {
  std::vector<int> out;
  if (net_) out.push_back(net_->fd());
  if (files_) out.push_back(files_->fd());
  return out;
}

int HostHealer::timeout_ms(int max, Clock::time_point now) const {
  if (sysctls_now_) return 0;
  std::optional<Clock::time_point> next;
  for (auto t : {net_timer_.due(), hosts_timer_.due(), next_sysctls_, retry_})
    if (t && (!next || *t < *next)) next = t;
  if (!next) return max;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*next - now).count() + 1;
  return static_cast<int>(std::clamp<int64_t>(left, 0, max));
}

const Owned& HostHealer::owned() {
  // Rebuilt only when the plan in force changed since, and only when notifications came.
  if (owned_version_ != gw_.plan_version()) {
    owned_ = owned_of(gw_.live_plan());
    owned_version_ = gw_.plan_version();
  }
  return owned_;
}

void HostHealer::read_net(Clock::time_point now) {
  for (const auto& e : net_->read_ready()) {
    auto r = recheck_for(e, owned());
    if (r.net) {
      if (!net_timer_.due()) {
        noticed_net_ = e.str() + who(e);
        noticed_net_at_ = now;
      }
      net_timer_.noticed(now);
    }
    if (r.sysctls) {
      sysctls_now_ = true;
      noticed_sysctls_ = e.str();
    }
  }
}

void HostHealer::read_files(Clock::time_point now) {
  for (const auto& e : files_->read_ready()) {
    if (!concerns_hosts(e)) continue;
    if (!hosts_timer_.due()) {
      noticed_hosts_ = (e.name.empty() ? "the directory" : e.name) + " " + e.what;
      noticed_hosts_at_ = now;
    }
    hosts_timer_.noticed(now);
  }
}

bool HostHealer::poll(const std::vector<int>& ready, Clock::time_point now) {
  for (int fd : ready) {
    try {
      if (net_ && fd == net_->fd()) read_net(now);
      if (files_ && fd == files_->fd()) read_files(now);
    } catch (const std::exception& e) {
      error_(std::string("self-heal: ") + e.what());
    }
  }
  HealParts parts;
  if (net_timer_.ready(now)) {
    parts.net = true;
    net_timer_.done();
  }
  if (hosts_timer_.ready(now)) {
    parts.hosts = true;
    hosts_timer_.done();
  }
  if (sysctls_now_ || !next_sysctls_ || *next_sysctls_ <= now) {
    if (!sysctls_now_) noticed_sysctls_ = "the check twice a second";
    parts.sysctls = true;
    sysctls_now_ = false;
    next_sysctls_ = now + kSysctlPeriod;
  }
  if (retry_ && *retry_ <= now) {
    parts = {true, true, true};
    retry_.reset();
  }
  if (!parts.net && !parts.sysctls && !parts.hosts) return false;
  return heal(parts, now);
}

bool HostHealer::heal(HealParts parts, Clock::time_point now) {
  HostHeal done;
  try {
    done = gw_.heal_host(parts);
    last_error_.clear();
  } catch (const std::exception& e) {
    // The kernel refused (a device gone, an uplink without carrier the plan has not followed
    // yet): said once, tried again later and at the next contradiction.
    if (e.what() != last_error_)
      error_(std::string("self-heal failed (tried again in 5 s): ") + e.what());
    last_error_ = e.what();
    retry_ = now + kRetry;
    return true;
  }
  for (const auto& op : done.net)
    info_("self-heal: restored " + heal_kind(op.kind) + ": " + op.str() +
          " (noticed: " + noticed_net_ + ms_since(noticed_net_at_, now) + ")");
  for (const auto& s : done.sysctls)
    info_("self-heal: restored sysctl: " + s + " (noticed: " + noticed_sysctls_ + ")");
  for (const auto& net : done.hosts_files)
    info_("self-heal: restored hosts_file: the DHCP reservations of network " + net +
          " (noticed: " + noticed_hosts_ + ms_since(noticed_hosts_at_, now) + ")");
  if (parts.net) noticed_net_at_.reset();
  if (parts.hosts) noticed_hosts_at_.reset();
  auto fight = [&](const std::optional<std::string>& object) {
    if (object)
      error_("self-heal: " + *object + ": undone again at once, " +
             std::to_string(HealTimer::kFightHeals) +
             " times within 5 s: another program fights vmgw over it; restoring at most once a "
             "second while that goes on");
  };
  if (!done.net.empty()) {
    std::vector<std::string> objects;
    for (const auto& op : done.net) objects.push_back(op.str());
    fight(net_timer_.healed(now, objects));
  }
  if (!done.hosts_files.empty()) {
    std::vector<std::string> objects;
    for (const auto& net : done.hosts_files) objects.push_back("the hosts file of network " + net);
    fight(hosts_timer_.healed(now, objects));
  }
  return !done.empty();
}

std::unique_ptr<HostHealer> make_host_healer(Gateway& gw, const std::string& hosts_dir) {
  std::unique_ptr<backend::NetWatch> net;
  std::unique_ptr<backend::FileWatch> files;
  try {
    net = backend::make_netlink_net_watch();
  } catch (const std::exception& e) {
    log_error(std::string("self-healing of links, addresses and routing unavailable: ") + e.what());
  }
  try {
    files = backend::make_inotify_file_watch(hosts_dir);
  } catch (const std::exception& e) {
    log_error(std::string("self-healing of the DHCP hosts files unavailable: ") + e.what());
  }
  // "self-heal: restored route: ..." names its object "route" in the journal (VMGW_OBJECT) and
  // on the status page; other lines have no fields.
  auto about = [](const std::string& msg) {
    const std::string restored = "self-heal: restored ";
    if (msg.rfind("self-heal", 0) != 0) return LogFields{};
    if (msg.rfind(restored, 0) != 0) return LogFields{"host", "self-heal"};
    auto end = msg.find(':', restored.size());
    return LogFields{msg.substr(restored.size(), end - restored.size()), "self-heal"};
  };
  return std::make_unique<HostHealer>(
      gw, std::move(net), std::move(files),
      [about](const std::string& m) { log_info(m, about(m)); },
      [about](const std::string& m) { log_error(m, about(m)); });
}

}  // namespace vmgw::daemon
