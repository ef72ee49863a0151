// Changes to the files of one directory, from inotify: the DHCP hosts files vmgw writes have no
// netlink events, and one deleted or rewritten by another program must be noticed at once, not
// at the next change of reservations.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vmgw::backend {

struct FileEvent {
  std::string name;  // the file's name in the directory; "" for the directory itself
  std::string what;  // "deleted", "written", "moved in", "moved away", "created", "mode changed",
                     // "events lost" (queue overflow: any file may have changed)
  bool operator==(const FileEvent&) const = default;
};

class FileWatch {
 public:
  virtual ~FileWatch() = default;
  virtual int fd() const = 0;  // for poll()
  // Non-blocking: what happened since the last call, in order.
  virtual std::vector<FileEvent> read_ready() = 0;
};

// Watches `dir` (which must exist). Throws std::runtime_error with the reason.
std::unique_ptr<FileWatch> make_inotify_file_watch(const std::string& dir);

// Events queued by the test.
class FakeFileWatch : public FileWatch {
 public:
  int fd() const override { return fake_fd; }
  std::vector<FileEvent> read_ready() override { return std::exchange(events, {}); }
  std::vector<FileEvent> events;
  int fake_fd = 1003;
};

}  // namespace vmgw::backend
