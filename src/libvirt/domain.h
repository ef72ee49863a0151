// A libvirt domain as vmgw reads it from its XML (virDomainGetXMLDesc): its name and UUID, its
// network interfaces (MAC, the bridge and tap they are on, a <filterref> libvirt enforces
// itself) and what its vmgw metadata says about them. Pure: no libvirt call here.
//
// The metadata is how a domain hands its filters to vmgw instead of libvirt (docs/libvirt.md):
//
//   <metadata>
//     <vmgw:vmgw xmlns:vmgw="https://vmgw.dev/xmlns/libvirt/1">
//       <vmgw:interface mac="52:54:00:00:01:01" name="web" ip="10.10.0.20" eip-pool="public">
//         <vmgw:filterref filter="clean-traffic">
//           <vmgw:parameter name="IP" value="10.10.0.20"/>
//         </vmgw:filterref>
//       </vmgw:interface>
//     </vmgw:vmgw>
//   </metadata>
//
// Elements are matched by namespace, not prefix: libvirt keeps the namespace and may change the
// prefix (`virsh metadata --key`).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/net.h"

namespace vmgw::libvirt {

inline constexpr std::string_view kMetadataNamespace = "https://vmgw.dev/xmlns/libvirt/1";

struct FilterRef {
  std::string filter;
  std::vector<std::pair<std::string, std::string>> params;  // in order; a repeated name is a list
  bool operator==(const FilterRef&) const = default;
};

// One <interface> of the domain's devices.
struct Interface {
  Mac mac;
  std::string bridge;  // <source bridge=...> (a libvirt network's live XML names its bridge too)
  std::string device;  // <target dev=...>: the tap, "" while the domain is not running
  std::optional<FilterRef> libvirt_filter;  // a plain <filterref>: libvirt's nwfilter enforces it
};

// What the vmgw metadata says about the interface with `mac`.
struct VmgwInterface {
  Mac mac;
  std::string name;                     // the VM's name in vmgw; "" for the default
  std::optional<Ipv4> ip;               // its address; none: from the IP filter parameter or free
  std::optional<std::string> eip_pool;  // allocate an elastic IP of this pool when first seen
  std::vector<FilterRef> filters;       // the filters vmgw enforces, in order
};

struct Domain {
  std::string name;
  std::string uuid;
  std::vector<Interface> interfaces;  // in the XML's order
  std::vector<VmgwInterface> vmgw;    // from the metadata
};

// The domain, or why its XML cannot be read ("interface[2]/mac: 'x' is not a MAC address").
struct DomainXml {
  std::optional<Domain> domain;
  std::string error;
};

DomainXml parse_domain_xml(std::string_view xml);

}  // namespace vmgw::libvirt
