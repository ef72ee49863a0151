// Everything the CLI's verbs do to the world, in one replaceable place: the HTTP exchange with
// vmgwd, the editor, the pause between `log --follow` polls and the verbs that work locally
// (files, the kernel). `real_io()` is the real thing; the CLI fuzzer runs every verb against an
// in-process daemon and stubs instead, so no input of its can touch the machine.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/http.h"
#include "cli/commands.h"

namespace vmgw::cli {

struct CliIo {
  // One request to the daemon at `socket`; throws std::runtime_error when it cannot be reached.
  std::function<api::Response(const std::string& socket, const api::Request&)> http;
  // The contents of a file the operator named (`filter define FILE`), or nullopt after saying
  // why not.
  std::function<std::optional<std::string>(const std::string& path)> read_file;
  // The filter files `path` names (`filter import`): itself if it is a file, the *.xml files in
  // it (sorted) if it is a directory; nullopt after saying why not.
  std::function<std::optional<std::vector<std::string>>(const std::string& path)> filter_files;
  // The filters of the libvirt daemon at `uri` (virNWFilter), name and XML (`filter import
  // --libvirt`); nullopt after saying why not.
  std::function<std::optional<std::vector<std::pair<std::string, std::string>>>(
      const std::string& uri)>
      libvirt_filters;
  // Opens `path` in the operator's editor; false if the editor failed.
  std::function<bool(const std::string& path)> run_editor;
  std::function<void()> pause_between_polls;

  std::function<int(const std::string& file)> check;
  std::function<int(const std::string& file, const std::string& output)> plan;
  std::function<int(const std::string& file, const Dirs& dirs, bool dry_run)> apply;
  std::function<int(const Dirs& dirs, const std::string& socket, bool dry_run)> down;
  std::function<int(const std::string& output)> show;
  // `vmgw status` without vmgwd: the counted rules in force, read from the kernel.
  std::function<int(const std::string& output)> kernel_status;
  // `vmgw log` without vmgwd: the kernel's log group, live, for `seconds` (0: until stopped).
  std::function<int(int seconds, const std::string& output)> follow_kernel_log;
  std::function<int(const Dirs& dirs, const std::string& output, const std::string& socket)> leases;
  std::function<int(const Dirs& dirs, const std::string& socket, const std::string& network,
                    const std::vector<std::string>& args)>
      lease_event;
};

CliIo real_io();

// Parses the command line and runs the verb it names through `io`; returns the exit code.
int run_cli(int argc, const char* const* argv, const CliIo& io);

}  // namespace vmgw::cli
