// Hypervisor over libvirt's C API. libvirt delivers events through an event loop the client
// runs: one thread of ours runs libvirt's default loop for the process, the callbacks (on that
// thread) note the domain's UUID and wake the daemon's poll loop through an eventfd; everything
// else (listing domains, reading their XML) runs on the daemon's thread. A connection is
// read-only: vmgw never changes a domain.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>

#include "backend/hypervisor.h"

namespace vmgw::backend {
namespace {

// libvirt prints every error to stderr unless told otherwise; ours are reported by exceptions.
void quiet(void*, virErrorPtr) {}

std::string last_error(const std::string& what) {
  const char* m = virGetLastErrorMessage();
  return what + ": " + (m ? m : "unknown libvirt error");
}

// libvirt's default event loop, registered once per process and run by one thread for the
// life of the process (libvirt has no way to unregister it).
void start_event_loop() {
  static std::once_flag once;
  std::call_once(once, [] {
    virSetErrorFunc(nullptr, quiet);
    if (virEventRegisterDefaultImpl() < 0) throw HypervisorError(last_error("libvirt event loop"));
    std::thread([] {
      for (;;) virEventRunDefaultImpl();
    }).detach();
  });
}

class LibvirtHypervisor final : public Hypervisor {
 public:
  explicit LibvirtHypervisor(std::string uri) : uri_(std::move(uri)) {
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_ < 0) throw HypervisorError("eventfd failed");
  }
  ~LibvirtHypervisor() override {
    disconnect();
    ::close(wake_);
  }

  void connect() override {
    start_event_loop();
    disconnect();
    lost_ = false;
    conn_ = virConnectOpenReadOnly(uri_.c_str());
    if (!conn_) throw HypervisorError(last_error("cannot connect to libvirt at " + uri_));
    // A daemon that dies without closing the socket is noticed within 15 s.
    virConnectSetKeepAlive(conn_, 5, 3);
    virConnectRegisterCloseCallback(conn_, &LibvirtHypervisor::on_close, this, nullptr);
    // Lifecycle (defined, started, stopped, undefined, migrated), NICs plugged and unplugged,
    // and the metadata (vmgw's part of it: `virsh metadata`).
    for (int id : {VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                   VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE}) {
      auto cb = id == VIR_DOMAIN_EVENT_ID_LIFECYCLE
                    ? VIR_DOMAIN_EVENT_CALLBACK(&LibvirtHypervisor::on_lifecycle)
                : id == VIR_DOMAIN_EVENT_ID_METADATA_CHANGE
                    ? VIR_DOMAIN_EVENT_CALLBACK(&LibvirtHypervisor::on_metadata)
                    : VIR_DOMAIN_EVENT_CALLBACK(&LibvirtHypervisor::on_device);
      int handle = virConnectDomainEventRegisterAny(conn_, nullptr, id, cb, this, nullptr);
      if (handle < 0) {
        std::string why = last_error("cannot follow libvirt's domain events");
        disconnect();
        throw HypervisorError(why);
      }
      handles_.push_back(handle);
    }
  }

  bool connected() const override { return conn_ && !lost_; }

  std::vector<DomainSnapshot> domains() override {
    require();
    virDomainPtr* list = nullptr;
    int n = virConnectListAllDomains(conn_, &list, 0);
    if (n < 0) throw HypervisorError(last_error("cannot list libvirt's domains"));
    std::vector<DomainSnapshot> out;
    for (int i = 0; i < n; ++i) {
      if (auto s = snapshot(list[i])) out.push_back(std::move(*s));
      virDomainFree(list[i]);
    }
    free(list);  // NOLINT(cppcoreguidelines-no-malloc): libvirt's allocation
    return out;
  }

  std::optional<DomainSnapshot> domain(const std::string& uuid) override {
    require();
    virDomainPtr d = virDomainLookupByUUIDString(conn_, uuid.c_str());
    if (!d) {
      if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) return std::nullopt;
      throw HypervisorError(last_error("cannot look up libvirt domain " + uuid));
    }
    auto s = snapshot(d);
    virDomainFree(d);
    return s;
  }

  std::vector<std::pair<std::string, std::string>> filters() override {
    require();
    virNWFilterPtr* list = nullptr;
    int n = virConnectListAllNWFilters(conn_, &list, 0);
    if (n < 0) throw HypervisorError(last_error("cannot list libvirt's filters"));
    std::vector<std::pair<std::string, std::string>> out;
    std::string error;
    for (int i = 0; i < n; ++i) {
      const char* name = virNWFilterGetName(list[i]);
      char* xml = virNWFilterGetXMLDesc(list[i], 0);
      if (name && xml)
        out.emplace_back(name, xml);
      else if (error.empty())
        error = last_error("cannot read libvirt filter " + std::string(name ? name : "?"));
      free(xml);  // NOLINT(cppcoreguidelines-no-malloc): libvirt's allocation
      virNWFilterFree(list[i]);
    }
    free(list);  // NOLINT(cppcoreguidelines-no-malloc): libvirt's allocation
    if (!error.empty()) throw HypervisorError(error);
    return out;
  }

  int fd() const override { return wake_; }

  std::vector<std::string> changed_domains() override {
    uint64_t n = 0;
    while (::read(wake_, &n, sizeof n) == sizeof n) {
    }
    std::lock_guard<std::mutex> g(mu_);
    std::vector<std::string> out(changed_.begin(), changed_.end());
    changed_.clear();
    return out;
  }

 private:
  void require() const {
    if (!connected()) throw HypervisorError("not connected to libvirt at " + uri_);
  }

  // nullopt when the domain went away between listing and reading.
  std::optional<DomainSnapshot> snapshot(virDomainPtr d) {
    DomainSnapshot s;
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(d, uuid) < 0) return std::nullopt;
    s.uuid = uuid;
    int active = virDomainIsActive(d);
    char* xml = virDomainGetXMLDesc(d, 0);
    if (active < 0 || !xml) {
      if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) return std::nullopt;
      throw HypervisorError(last_error("cannot read libvirt domain " + s.uuid));
    }
    s.active = active == 1;
    s.xml = xml;
    free(xml);  // NOLINT(cppcoreguidelines-no-malloc): libvirt's allocation
    return s;
  }

  void note(virDomainPtr d) {
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(d, uuid) < 0) return;
    {
      std::lock_guard<std::mutex> g(mu_);
      changed_.insert(uuid);
    }
    wake();
  }

  void wake() const {
    uint64_t one = 1;
    [[maybe_unused]] auto w = ::write(wake_, &one, sizeof one);
  }

  static int on_lifecycle(virConnectPtr, virDomainPtr d, int, int, void* self) {
    static_cast<LibvirtHypervisor*>(self)->note(d);
    return 0;
  }
  static void on_device(virConnectPtr, virDomainPtr d, const char*, void* self) {
    static_cast<LibvirtHypervisor*>(self)->note(d);
  }
  static void on_metadata(virConnectPtr, virDomainPtr d, int, const char*, void* self) {
    static_cast<LibvirtHypervisor*>(self)->note(d);
  }
  static void on_close(virConnectPtr, int, void* self) {
    auto* h = static_cast<LibvirtHypervisor*>(self);
    h->lost_ = true;
    h->wake();
  }

  void disconnect() {
    if (!conn_) return;
    for (int h : handles_) virConnectDomainEventDeregisterAny(conn_, h);
    handles_.clear();
    virConnectUnregisterCloseCallback(conn_, &LibvirtHypervisor::on_close);
    virConnectClose(conn_);
    conn_ = nullptr;
  }

  std::string uri_;
  virConnectPtr conn_ = nullptr;
  std::vector<int> handles_;
  int wake_ = -1;
  std::atomic<bool> lost_{false};
  std::mutex mu_;
  std::set<std::string> changed_;
};

}  // namespace

std::unique_ptr<Hypervisor> make_libvirt_hypervisor(const std::string& uri) {
  return std::make_unique<LibvirtHypervisor>(uri);
}

}  // namespace vmgw::backend
