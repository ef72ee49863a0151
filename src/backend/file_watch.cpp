// FileWatch over inotify. See file_watch.h.
#include "backend/file_watch.h"

#include <errno.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <stdexcept>

namespace vmgw::backend {
namespace {

// What changes a file's content or existence; plain writes (IN_MODIFY) are left out: the logs in
// the same directory are written all the time, and a rewrite ends with IN_CLOSE_WRITE.
constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                           IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

std::string what_of(uint32_t mask) {
  if (mask & IN_Q_OVERFLOW) return "events lost";
  if (mask & (IN_DELETE | IN_DELETE_SELF)) return "deleted";
  if (mask & (IN_MOVED_FROM | IN_MOVE_SELF)) return "moved away";
  if (mask & IN_MOVED_TO) return "moved in";
  if (mask & IN_CREATE) return "created";
  if (mask & IN_CLOSE_WRITE) return "written";
  if (mask & IN_ATTRIB) return "mode changed";
  return "";
}

class InotifyFileWatch : public FileWatch {
 public:
  explicit InotifyFileWatch(const std::string& dir) : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ < 0) throw std::runtime_error(std::string("inotify: ") + std::strerror(errno));
    if (inotify_add_watch(fd_, dir.c_str(), kMask) < 0) {
      int e = errno;
      ::close(fd_);
      throw std::runtime_error("inotify: watch " + dir + ": " + std::strerror(e));
    }
  }
  ~InotifyFileWatch() override { ::close(fd_); }
  InotifyFileWatch(const InotifyFileWatch&) = delete;
  InotifyFileWatch& operator=(const InotifyFileWatch&) = delete;

  int fd() const override { return fd_; }

  std::vector<FileEvent> read_ready() override {
    std::vector<FileEvent> out;
    for (;;) {
      ssize_t n = ::read(fd_, buf_.data(), buf_.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        throw std::runtime_error(std::string("inotify: read: ") + std::strerror(errno));
      }
      if (n == 0) break;
      for (size_t at = 0; at + sizeof(inotify_event) <= static_cast<size_t>(n);) {
        inotify_event ev{};
        std::memcpy(&ev, buf_.data() + at, sizeof ev);
        std::string name;
        if (ev.len > 0)
          name = std::string(
              reinterpret_cast<const char*>(buf_.data() + at + sizeof ev),
              strnlen(reinterpret_cast<const char*>(buf_.data() + at + sizeof ev), ev.len));
        if (auto what = what_of(ev.mask); !what.empty()) out.push_back({name, what});
        at += sizeof ev + ev.len;
      }
    }
    return out;
  }

 private:
  int fd_;
  alignas(inotify_event) std::array<uint8_t, 64 * 1024> buf_{};
};

}  // namespace

std::unique_ptr<FileWatch> make_inotify_file_watch(const std::string& dir) {
  return std::make_unique<InotifyFileWatch>(dir);
}

}  // namespace vmgw::backend
