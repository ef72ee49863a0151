#include "daemon/desired.h"

namespace vmgw::daemon {

std::string vm_path(const std::string& name) {
  return "vm '" + name + "'";
}
std::string forward_path(const store::ForwardRecord& f) {
  return "forward " + f.public_address.str() + ":" + f.public_ports.str() + "/" +
         std::string(to_string(f.proto));
}
std::string binding_path(Ipv4 address) {
  return "elastic IP " + address.str();
}

Vm to_vm(const store::VmRecord& r, const std::string& path) {
  Vm v;
  v.origin.path = path;
  v.name = r.name;
  v.network = r.network;
  v.mac = r.mac;
  v.ip = r.ip;
  v.port = r.port;
  v.owner = r.owner;
  for (size_t i = 0; i < r.filters.size(); ++i) {
    VmFilter f;
    f.origin.path = path + ".filters[" + std::to_string(i) + "]";
    f.filter = r.filters[i].filter;
    f.params = r.filters[i].params;
    v.filters.push_back(std::move(f));
  }
  if (r.quarantine) v.quarantine = Quarantine{r.quarantine->allow_from};
  return v;
}

PortForward to_forward(const store::ForwardRecord& r, const std::string& path) {
  PortForward f;
  f.origin.path = path;
  f.public_address = r.public_address;
  f.public_ports = r.public_ports;
  f.proto = r.proto;
  f.vm = r.vm;
  f.vm_ports = r.vm_ports;
  return f;
}

Config desired_config(const Config& topology, const store::StoredState& state) {
  Config c = topology;
  for (const auto& v : state.vms) c.vms.push_back(to_vm(v, "vm '" + v.name + "'"));
  for (const auto& f : state.forwards) {
    c.port_forwards.push_back(to_forward(f, "forward " + f.public_address.str() + ":" +
                                                f.public_ports.str() + "/" +
                                                std::string(to_string(f.proto))));
  }
  for (const auto& e : state.eips) {
    if (e.vm.empty()) continue;  // allocated, not bound: nothing in the kernel yet
    ElasticIpBinding b;
    b.origin.path = binding_path(e.address);
    b.address = e.address;
    b.vm = e.vm;
    b.pool = e.pool;
    c.eip_bindings.push_back(b);
  }
  return c;
}

}  // namespace vmgw::daemon
