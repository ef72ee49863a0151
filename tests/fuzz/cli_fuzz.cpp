// libFuzzer target: the `vmgw` command line, run for real against an in-process daemon (the real
// router and Gateway over fake kernel backends). Local verbs, files and the editor are stubs, so
// no input can touch the machine. Besides crashes and sanitizer reports it checks (abort() on
// violation):
//   - the exit code is one of the documented ones (0-6);
//   - every request the CLI sends is one the daemon's HTTP parser reads back whole, with the
//     same method and body and the same number of path segments: no argument (a name with '/',
//     '?', spaces or CR/LF in it) can change which route is called or smuggle in a header.
//
// Input: the arguments after `vmgw`, one per line.
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "api/http.h"
#include "cli/io.h"
#include "fake_daemon.h"

using namespace vmgw;
using fuzz::check;

namespace {

// Path segments as the client built them: a percent-encoded segment holds no '/'.
size_t segments(const std::string& path) {
  size_t n = 0;
  for (size_t i = 0; i < path.size(); ++i)
    if (path[i] != '/' && (i == 0 || path[i - 1] == '/')) ++n;
  return n;
}

const char* kFilterXml =
    "<filter name='web-in' chain='root'><filterref filter='clean-traffic'/>"
    "<rule action='accept' direction='in' priority='100'><tcp dstportstart='80'/></rule></filter>";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The verbs print a lot; the fuzzer checks what they do, not what they say.
  std::cout.rdbuf(nullptr);
  std::cerr.rdbuf(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args{"vmgw"};
  while (!in.empty() && args.size() < 24) {
    auto nl = in.find('\n');
    args.emplace_back(in.substr(0, nl));
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  }
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);

  fuzz::Daemon d;
  int calls = 0;
  cli::CliIo io;
  io.http = [&](const std::string&, const api::Request& req) {
    // `log --follow` polls until the daemon goes away: let it go away.
    if (++calls > 8) throw std::runtime_error("fuzz: the daemon stopped");
    api::RequestParser p;
    p.feed(api::serialize(req));
    check(p.state() != api::RequestParser::State::need_more, "the daemon would wait for more");
    if (p.state() == api::RequestParser::State::error)
      return api::error_response(p.error_status(), "", p.error_reason());
    const api::Request& got = p.request();
    check(got.method == req.method && got.body == req.body && got.query == req.query,
          "the request changed on the wire: " + req.path);
    check(api::split_path(got.path).size() == segments(req.path),
          "an argument changed the route: " + req.path + " read as " + got.path);
    return d.router.dispatch(got);
  };
  io.read_file = [](const std::string&) { return std::optional<std::string>(kFilterXml); };
  io.filter_files = [](const std::string& path) {
    return std::optional<std::vector<std::string>>(std::vector<std::string>{path});
  };
  io.libvirt_filters = [](const std::string&) {
    return std::optional<std::vector<std::pair<std::string, std::string>>>(
        std::vector<std::pair<std::string, std::string>>{{"from-libvirt", kFilterXml}});
  };
  io.run_editor = [](const std::string&) { return true; };
  io.pause_between_polls = [] {};
  io.check = [](const std::string&) { return 0; };
  io.plan = [](const std::string&, const std::string&) { return 0; };
  io.apply = [](const std::string&, const cli::Dirs&, bool) { return 0; };
  io.down = [](const cli::Dirs&, const std::string&, bool) { return 0; };
  io.follow_kernel_log = [](int, const std::string&) { return 0; };
  io.kernel_status = [](const std::string&) { return 3; };
  io.show = [](const std::string&) { return 0; };
  io.leases = [](const cli::Dirs&, const std::string&, const std::string&) { return 0; };
  io.lease_event = [](const cli::Dirs&, const std::string&, const std::string&,
                      const std::vector<std::string>&) { return 0; };

  int rc = cli::run_cli(static_cast<int>(args.size()), argv.data(), io);
  check(rc >= 0 && rc <= 6, "undocumented exit code " + std::to_string(rc));
  return 0;
}
