// The hypervisor vmgwd follows: libvirt's domains and their events, behind an interface so the
// follower is tested against a fake. The real one talks to a libvirt daemon through libvirt's
// C API (libvirt_hypervisor.cpp).
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vmgw::backend {

struct HypervisorError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A domain as libvirt describes it now.
struct DomainSnapshot {
  std::string uuid;
  std::string xml;  // the live XML of a running domain, the persistent one of a stopped one
  bool active = false;
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;
  // Connects (again); throws HypervisorError when libvirt cannot be reached.
  virtual void connect() = 0;
  virtual bool connected() const = 0;
  // Every domain libvirt knows (defined, running or both).
  virtual std::vector<DomainSnapshot> domains() = 0;
  // One domain by UUID; nullopt when libvirt no longer knows it.
  virtual std::optional<DomainSnapshot> domain(const std::string& uuid) = 0;
  // Readable when events wait; -1 while not connected.
  virtual int fd() const = 0;
  // The UUIDs of the domains that had an event since the last call (started, stopped, defined,
  // undefined, migrated, a device added or removed), each once. Clears the fd's readiness.
  // A lost connection is reported by connected() turning false.
  virtual std::vector<std::string> changed_domains() = 0;
  // libvirt's filters (virNWFilter): name and XML, as `virsh nwfilter-dumpxml` gives them.
  virtual std::vector<std::pair<std::string, std::string>> filters() = 0;
};

// libvirt at `uri` ("qemu:///system"); connects on connect().
std::unique_ptr<Hypervisor> make_libvirt_hypervisor(const std::string& uri);

}  // namespace vmgw::backend
