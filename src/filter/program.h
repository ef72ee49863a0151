// A VM's filters instantiated: every <filterref> expanded, every variable replaced by its value,
// every rule placed in its layer and chain and sorted by priority. This is the one form that the
// nft compiler, the trace evaluator and the conntrack cut on redefinition all read, so what
// `vmgw trace` explains is what the kernel enforces.
//
// Layers follow libvirt's own split: rules on layer-2 elements (mac, vlan, stp, arp, rarp) and
// on <ip>/<ipv6>, and rules without any protocol element, are libvirt's ebtables part: evaluated
// per frame, statelessly, in nwfilter's chain structure (root jumping to mac, ipv4, arp, ... by
// chain priority). Rules on tcp, udp, udplite, sctp, icmp, igmp, esp, ah, all and their -ipv6
// variants are libvirt's iptables part: evaluated statefully for the first packet of a flow,
// in one list per direction ordered by priority.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "filter/model.h"

namespace vmgw::filter {

enum class Layer { l2, l3 };

// l2 for mac, vlan, stp, arp, rarp, ip, ipv6; l3 for the rest.
Layer layer_of(Protocol p);

// Variable values: a name maps to one value or a list (libvirt list variables).
using Variables = std::map<std::string, std::vector<std::string>, std::less<>>;

// A VM's reference to a top-level filter, with the parameters given for it. Parameters are
// ordered pairs: a name given twice makes a list, as with libvirt's repeated <parameter>.
struct Binding {
  std::string filter;
  std::vector<std::pair<std::string, std::string>> params;
  bool operator==(const Binding&) const = default;
};

// One attribute with its value resolved (no variables left).
struct Attr {
  std::string name;
  std::string value;
  bool match = true;  // false: match='no' on a negatable attribute
  // The value is the VM's own rather than its filter program's: it came from a variable ($IP,
  // $MAC, a parameter of a binding), or from a filter the operator wrote (filters written per VM
  // name that VM's values as literals). The nft compiler looks such values up in sets keyed by
  // the VM, so VMs whose filters differ only in them share one program; the built-in filters'
  // own constants stay in the rules.
  bool per_vm = false;
  bool operator==(const Attr&) const = default;
};

struct ConcreteRule {
  Layer layer = Layer::l2;
  std::string chain = "root";  // l2: the nwfilter chain ("root", "mac", "ipv4-ip"); l3: "root"
  int priority = kDefaultRulePriority;
  Action action = Action::accept;
  Direction direction = Direction::inout;
  std::optional<Protocol> protocol;  // nullopt: no protocol element, matches every frame
  std::vector<Attr> attrs;           // in the element's written order
  bool statematch = true;
  bool log = false;
  // Where the rule came from, for counters, logs and traces: the path of filter names from the
  // VM's binding and the rule's 1-based position in its filter ("clean-traffic/no-mac-spoofing
  // rule 2"). Iterated list variables give one rule per combination, with the same origin.
  std::string origin;
  // The VM's binding (1-based) the rule came from: programs shared by VMs whose own filters have
  // different names name it "filter <binding>" (compile::program_origin).
  size_t binding = 0;

  const Attr* find(std::string_view name) const;
  bool applies_to(Direction d) const { return direction == Direction::inout || direction == d; }
  bool operator==(const ConcreteRule&) const = default;
};

// An l2 sub-chain (any nwfilter chain but root): root jumps to it, at its priority, for frames
// of its protocol (mac: all frames; stp: STP BPDUs; vlan: 802.1Q; ipv4, ipv6, arp, rarp: that
// ether type).
struct SubChain {
  std::string name;
  int priority = 0;
  bool operator==(const SubChain&) const = default;
};

struct Program {
  // Sorted: l2 rules by (chain, priority), then l3 rules by priority; ties keep the order of
  // the filters' expansion (depth first, as written), as libvirt does.
  std::vector<ConcreteRule> rules;
  std::vector<SubChain> chains;  // sorted by (priority, name)

  bool empty() const { return rules.empty(); }
  bool operator==(const Program&) const = default;
};

// One step of root's l2 evaluation: a rule of root or a jump into a sub-chain. Root's rules and
// its jumps are interleaved by priority; at equal priority a jump comes before rules.
struct RootStep {
  const SubChain* jump = nullptr;      // set for a jump
  const ConcreteRule* rule = nullptr;  // set for a rule
};
std::vector<RootStep> root_steps(const Program& p, Direction d);

// The rules of one l2 chain (not root), or of the l3 list (chain "root", layer l3), that apply
// to direction `d`, in evaluation order.
std::vector<const ConcreteRule*> rules_of(const Program& p, Layer layer, const std::string& chain,
                                          Direction d);

}  // namespace vmgw::filter
