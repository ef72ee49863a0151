#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "backend/dhcp.h"

namespace vmgw::backend {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Temp file + rename: dnsmasq never reads a half-written hosts file. The temp file is created
// anew (O_EXCL) and never followed through a symlink (O_NOFOLLOW): someone able to write in the
// directory cannot make vmgwd write elsewhere. On any failure (a full disk) it is removed and the
// file stays as it was.
void write_atomically(const std::string& path, const std::string& content, mode_t mode) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
  const char* at = content.data();
  size_t left = content.size();
  int err = 0;
  while (left > 0 && !err) {
    ssize_t n = ::write(fd, at, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      err = n < 0 ? errno : EIO;
    else
      at += n, left -= static_cast<size_t>(n);
  }
  if (!err && (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0)) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (!err && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
  }
}

// The hosts file, replaced so that stepping back needs no free space: the file in force is kept
// as `<hosts>.prev` (a second name, no new blocks), and a write of exactly that content renames
// it back. A change refused because the disk is full is then undone on that full disk.
void replace_hosts(const std::string& path, const std::string& content) {
  const std::string prev = path + ".prev";
  if (read_file(prev) == content && ::rename(prev.c_str(), path.c_str()) == 0) return;
  ::unlink(prev.c_str());
  if (::link(path.c_str(), prev.c_str()) != 0 && errno != ENOENT)
    ::unlink(prev.c_str());  // no step back without space then; the write below still works
  write_atomically(path, content, 0644);
}

// Paths dnsmasq hands to a shell: with --leasefile-ro it runs "<dhcp-script> init" through
// popen(), so the hook's path must hold nothing a shell would read.
bool shell_safe(const std::string& path) {
  return !path.empty() && std::all_of(path.begin(), path.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' ||
           c == '-' || c == '+' || c == ',' || c == ':' || c == '@' || c == '%';
  });
}

// The arguments a running process was started with (/proc/PID/cmdline), one per line.
std::string cmdline_of(pid_t pid) {
  std::string raw = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  std::string out;
  for (char c : raw) out += c == '\0' ? '\n' : c;
  return out;
}

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  return ::getcwd(cwd, sizeof cwd) ? std::string(cwd) + "/" + path : path;
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
}

// dnsmasq drops root for an unprivileged user right after start and reads its hosts file as
// that user (at start and on every SIGHUP): every directory above the file must be searchable
// by others. Returns why not, or "" when it is.
std::string unsearchable_reason(const std::string& dir) {
  std::string path = dir;
  while (!path.empty()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH)) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return path + " (mode " + mode + ") is not searchable by others";
    }
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos || path == "/") break;
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return "";
}

bool is_dnsmasq(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::string comm = read_file("/proc/" + std::to_string(pid) + "/comm");
  return comm.rfind("dnsmasq", 0) == 0;
}

pid_t read_pid(const std::string& path) {
  std::string s = read_file(path);
  try {
    return s.empty() ? 0 : static_cast<pid_t>(std::stol(s));
  } catch (const std::exception&) {
    return 0;
  }
}

void stop(pid_t pid) {
  if (!is_dnsmasq(pid)) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 50 && is_dnsmasq(pid); ++i) ::usleep(20000);
  if (is_dnsmasq(pid)) ::kill(pid, SIGKILL);
}

class Dnsmasq : public Dhcp {
 public:
  explicit Dnsmasq(DnsmasqPaths p) : p_(std::move(p)) {
    for (const auto& path : {p_.state_dir, p_.run_dir, p_.socket, p_.vmgw_binary}) {
      if (path.find('\'') != std::string::npos)
        throw std::runtime_error("paths may not contain a quote: " + path);
    }
    if (!shell_safe(absolute(p_.run_dir)))
      throw std::runtime_error("--run-dir " + p_.run_dir +
                               ": dnsmasq runs the lease hook in it through a shell; use only "
                               "letters, digits and / . _ - + , : @ %");
    for (const auto& dir : {p_.state_dir, p_.state_dir + "/dhcp", p_.run_dir}) make_dir(dir);
    // Rather than serve no addresses, dnsmasq then keeps root, and every start says why.
    unprivileged_blocker_ = unsearchable_reason(absolute(p_.state_dir + "/dhcp"));
  }

  std::string ensure(const DhcpServer& s) override {
    const std::string hosts = dhcp_hosts_path(p_.state_dir, s.network);
    const bool hosts_changed = read_file(hosts) != s.hosts_file();
    if (hosts_changed) replace_hosts(hosts, s.hosts_file());
    write_hook(s.network);

    const auto args = argv(s);
    std::string joined;
    for (const auto& a : args) joined += a + "\n";
    const std::string args_file = args_path(s.network);
    pid_t pid = server_pid(s.network);
    if (pid > 0 && read_file(args_file) == joined) {
      if (!hosts_changed) return "";
      ::kill(pid, SIGHUP);  // re-reads --dhcp-hostsfile; leases and sockets stay
      return "reloaded";
    }
    const bool was_running = is_dnsmasq(pid);
    stop(pid);
    start(args);
    write_atomically(args_file, joined, 0644);
    std::string what = was_running ? "restarted" : "started";
    if (!unprivileged_blocker_.empty())
      what += " as root (warning: " + unprivileged_blocker_ +
              ", so its unprivileged user could not read the hosts file)";
    return what;
  }

  // Copy and truncate, not rename and reopen: dnsmasq writes its log with O_APPEND through the
  // descriptor it opened as root, and as its unprivileged user it could not create a new one.
  bool trim_log(const std::string& network, uint64_t max_bytes) override {
    const std::string log = log_path(network);
    struct stat st {};
    if (::stat(log.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) <= max_bytes)
      return false;
    write_atomically(log + ".1", read_file(log), 0640);
    return ::truncate(log.c_str(), 0) == 0;
  }

  bool running(const std::string& network) override { return server_pid(network) > 0; }

  bool restore_hosts(const DhcpServer& s) override {
    const std::string hosts = dhcp_hosts_path(p_.state_dir, s.network);
    if (read_file(hosts) == s.hosts_file()) return false;
    replace_hosts(hosts, s.hosts_file());
    // The other program may have had dnsmasq read its version already (an edit and a SIGHUP):
    // re-read, so that what it serves is the reservations again.
    if (pid_t pid = server_pid(s.network); pid > 0) ::kill(pid, SIGHUP);
    return true;
  }

  std::vector<std::string> stop_except(const std::vector<std::string>& keep) override {
    std::vector<std::string> stopped;
    auto kept = [&](const std::string& net) {
      return std::find(keep.begin(), keep.end(), net) != keep.end();
    };
    for (const auto& net : names_in(p_.run_dir, "dnsmasq-", ".pid")) {
      if (kept(net)) continue;
      stop(server_pid(net));
      ::unlink(pid_path(net).c_str());
      ::unlink(args_path(net).c_str());
      ::unlink(hook_path(net).c_str());
      stopped.push_back(net);
    }
    // The reservations of a network no longer served go with it: the hosts file is derived
    // from the configuration, and a stale one would read as reservations still in force
    // (`vmgw leases`, vmgwd's check of a host's earlier state). Lease events stay: history.
    for (const auto& net : names_in(dhcp_dir(p_.state_dir), "", ".hosts"))
      if (!kept(net)) ::unlink(dhcp_hosts_path(p_.state_dir, net).c_str());
    return stopped;
  }

 private:
  // The NAME of each file PREFIX NAME SUFFIX in `dir` (none if it cannot be read).
  static std::vector<std::string> names_in(const std::string& dir, const std::string& prefix,
                                           const std::string& suffix) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n.rfind(prefix, 0) == 0 && n.size() > prefix.size() + suffix.size() &&
          n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
        out.push_back(n.substr(prefix.size(), n.size() - prefix.size() - suffix.size()));
    }
    ::closedir(d);
    return out;
  }

  // The network's dnsmasq, or 0. Its pid file is written by dnsmasq (as its unprivileged user):
  // the pid in it is trusted only when that process is a dnsmasq running exactly the arguments
  // vmgwd started it with (kept in a file of vmgwd's own), never to signal anything else.
  pid_t server_pid(const std::string& net) const {
    pid_t pid = read_pid(pid_path(net));
    const std::string args = read_file(args_path(net));
    if (!is_dnsmasq(pid) || args.empty() || cmdline_of(pid) != args) return 0;
    return pid;
  }
  std::string log_path(const std::string& net) const {
    return p_.state_dir + "/dhcp/" + net + ".log";
  }
  std::string args_path(const std::string& net) const {
    return p_.run_dir + "/dnsmasq-" + net + ".args";
  }
  std::string pid_path(const std::string& net) const {
    return p_.run_dir + "/dnsmasq-" + net + ".pid";
  }
  std::string hook_path(const std::string& net) const { return p_.run_dir + "/lease-hook-" + net; }

  // dnsmasq runs --dhcp-script without arguments of ours, so a tiny generated hook adds them.
  // Every part is a validated name or a quote-free path.
  void write_hook(const std::string& net) {
    std::string script =
        "#!/bin/sh\n# Generated by vmgw: reports dnsmasq lease events of network " + net +
        ".\nexec '" + p_.vmgw_binary + "' lease-event --state-dir '" + p_.state_dir + "'" +
        (p_.socket.empty() ? "" : " --socket '" + p_.socket + "'") + " --network '" + net +
        "' \"$@\"\n";
    if (read_file(hook_path(net)) != script) write_atomically(hook_path(net), script, 0755);
  }

  std::vector<std::string> argv(const DhcpServer& s) const {
    std::vector<std::string> a = {
        p_.dnsmasq,
        "--conf-file=/dev/null",  // nothing from /etc/dnsmasq.conf leaks in
        "--port=0",               // DHCP only; no DNS server
        "--bind-dynamic",
        "--interface=" + s.interface,
        "--except-interface=lo",
        "--pid-file=" + pid_path(s.network),
        "--dhcp-range=" + s.subnet.network.str() + ",static," + Ipv4{s.subnet.mask()}.str() + "," +
            std::to_string(s.lease_time),
        "--dhcp-hostsfile=" + dhcp_hosts_path(p_.state_dir, s.network),
        "--dhcp-authoritative",
        "--leasefile-ro",
        "--dhcp-script=" + hook_path(s.network),
        "--dhcp-option=option:router," + s.gateway.str(),
        "--log-dhcp",
        "--log-facility=" + log_path(s.network),
    };
    if (!unprivileged_blocker_.empty()) a.push_back("--user=root");
    if (!s.dns_servers.empty()) {
      std::string dns = "--dhcp-option=option:dns-server";
      for (const auto& d : s.dns_servers) dns += "," + d.str();
      a.push_back(dns);
    }
    return a;
  }

  void start(const std::vector<std::string>& args) {
    int err[2];
    if (::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_t child = ::fork();
    if (child < 0) throw std::runtime_error("fork failed");
    if (child == 0) {
      // A daemon caller blocks signals for its signalfd and ignores SIGPIPE; both survive exec,
      // and a dnsmasq with SIGHUP blocked would never re-read its hosts file.
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGPIPE, SIG_DFL);
      ::dup2(err[1], 2);
      std::vector<char*> cargs;
      for (const auto& x : args) cargs.push_back(const_cast<char*>(x.c_str()));
      cargs.push_back(nullptr);
      ::execv(cargs[0], cargs.data());
      ::_exit(127);
    }
    ::close(err[1]);
    // dnsmasq forks its daemon and the first process exits once the daemon is ready, with a
    // non-zero status (and a message on stderr) if it could not start.
    int status = 0;
    ::waitpid(child, &status, 0);
    std::string msg;
    char buf[512];
    ssize_t n;
    while ((n = ::read(err[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
    ::close(err[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 127) msg = "cannot execute " + args[0];
      throw std::runtime_error("dnsmasq failed to start: " + msg);
    }
  }

  DnsmasqPaths p_;
  std::string unprivileged_blocker_;  // why dnsmasq cannot drop root here ("" normally)
};

}  // namespace

std::string dhcp_dir(const std::string& state_dir) {
  return state_dir + "/dhcp";
}
std::string dhcp_hosts_path(const std::string& state_dir, const std::string& network) {
  return dhcp_dir(state_dir) + "/" + network + ".hosts";
}
std::string dhcp_events_path(const std::string& state_dir, const std::string& network) {
  return dhcp_dir(state_dir) + "/" + network + ".events";
}

std::unique_ptr<Dhcp> make_dnsmasq(const DnsmasqPaths& paths) {
  return std::make_unique<Dnsmasq>(paths);
}

std::string FakeDhcp::ensure(const DhcpServer& s) {
  for (auto& [net, hosts] : servers) {
    if (net != s.network) continue;
    if (hosts == s.hosts_file()) return "";
    hosts = s.hosts_file();
    actions.push_back("reload " + net);
    return "reloaded";
  }
  servers.emplace_back(s.network, s.hosts_file());
  actions.push_back("start " + s.network);
  return "started";
}

std::vector<std::string> FakeDhcp::stop_except(const std::vector<std::string>& keep) {
  std::vector<std::string> stopped;
  std::erase_if(servers, [&](const auto& r) {
    if (std::find(keep.begin(), keep.end(), r.first) != keep.end()) return false;
    stopped.push_back(r.first);
    actions.push_back("stop " + r.first);
    return true;
  });
  return stopped;
}

}  // namespace vmgw::backend

namespace vmgw::backend {
bool FakeDhcp::trim_log(const std::string& network, uint64_t max_bytes) {
  auto it = log_bytes.find(network);
  if (it == log_bytes.end() || it->second <= max_bytes) return false;
  it->second = 0;
  actions.push_back("trim log " + network);
  return true;
}

bool FakeDhcp::running(const std::string& network) {
  return std::any_of(servers.begin(), servers.end(),
                     [&](const auto& s) { return s.first == network; });
}

bool FakeDhcp::restore_hosts(const DhcpServer& s) {
  for (auto& [net, hosts] : servers) {
    if (net != s.network || hosts == s.hosts_file()) continue;
    hosts = s.hosts_file();
    actions.push_back("restore " + net);
    return true;
  }
  return false;
}
}  // namespace vmgw::backend
