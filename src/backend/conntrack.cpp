// Conntrack over ctnetlink (libnetfilter_conntrack): dump the IPv4 table, keep the entries that
// match the filter, then delete them one by one. The dump and the deletes are not atomic: an
// entry may expire in between (ENOENT, not an error), and a flow that starts after the dump is
// not deleted (the caller changes the NAT rules first, so such a flow already has the new
// binding).
//
// list() dumps the table too; delete_flows() needs no dump: the kernel looks each flow up by
// its original tuple. libnetfilter_conntrack keeps only the original tuple's ICMP type, code
// and id, so those of the reply tuple (which NAT may change) are read from the netlink message.
#include "backend/conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <functional>
#include <iterator>
#include <utility>

namespace vmgw::backend {

bool is_empty(const ConntrackFilter& f) {
  return !f.orig_dst && !f.reply_src && !f.orig_src && !f.reply_dst;
}

bool matches(const ConntrackFilter& f, const ConntrackEntry& e) {
  return (!f.orig_dst || *f.orig_dst == e.orig_dst) &&
         (!f.reply_src || *f.reply_src == e.reply_src) &&
         (!f.orig_src || *f.orig_src == e.orig_src) &&
         (!f.reply_dst || *f.reply_dst == e.reply_dst);
}

std::string describe(const ConntrackFilter& f) {
  std::string out;
  auto add = [&](const char* name, const std::optional<Ipv4>& a) {
    if (!a) return;
    if (!out.empty()) out += ' ';
    out += name;
    out += '=';
    out += a->str();
  };
  add("orig_dst", f.orig_dst);
  add("reply_src", f.reply_src);
  add("orig_src", f.orig_src);
  add("reply_dst", f.reply_dst);
  return out.empty() ? "any" : out;
}

bool involves(const ConntrackFlow& f, Ipv4 a) {
  return f.orig_src == a || f.orig_dst == a || f.reply_src == a || f.reply_dst == a;
}

bool same_flow(const ConntrackFlow& a, const ConntrackFlow& b) {
  return a.proto == b.proto && a.orig_src == b.orig_src && a.orig_dst == b.orig_dst &&
         a.orig_sport == b.orig_sport && a.orig_dport == b.orig_dport;
}

namespace {

// Protocols whose tuple has ports.
bool has_ports(uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP:
    case IPPROTO_UDP:
    case IPPROTO_UDPLITE:
    case IPPROTO_SCTP:
    case IPPROTO_DCCP:
      return true;
    default:
      return false;
  }
}

const char* proto_name(uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    default:
      return nullptr;
  }
}

}  // namespace

std::string describe(const ConntrackFlow& f) {
  const char* name = proto_name(f.proto);
  std::string out = name != nullptr ? name : "proto " + std::to_string(f.proto);
  if (has_ports(f.proto))
    return out + " " + f.orig_src.str() + ":" + std::to_string(f.orig_sport) + " -> " +
           f.orig_dst.str() + ":" + std::to_string(f.orig_dport);
  out += " " + f.orig_src.str() + " -> " + f.orig_dst.str();
  if (f.proto == IPPROTO_ICMP)
    out += " type " + std::to_string(f.orig_dport >> 8) + " code " +
           std::to_string(f.orig_dport & 0xff) + " id " + std::to_string(f.orig_sport);
  return out;
}

nlohmann::json to_json(const ConntrackFlow& f) {
  const char* name = proto_name(f.proto);
  nlohmann::json j = {{"proto", name != nullptr ? nlohmann::json(name) : nlohmann::json(f.proto)},
                      {"src", f.orig_src.str()},
                      {"dst", f.orig_dst.str()},
                      {"sport", f.orig_sport},
                      {"dport", f.orig_dport},
                      {"reply_src", f.reply_src.str()},
                      {"reply_dst", f.reply_dst.str()},
                      {"reply_sport", f.reply_sport},
                      {"reply_dport", f.reply_dport},
                      {"state", f.state},
                      {"timeout", f.timeout},
                      {"mark", f.mark},
                      {"assured", f.assured},
                      {"packets", f.packets_orig + f.packets_reply},
                      {"bytes", f.bytes_orig + f.bytes_reply}};
  if (f.proto == IPPROTO_ICMP) {
    j["icmp_type"] = f.orig_dport >> 8;
    j["icmp_code"] = f.orig_dport & 0xff;
    j["icmp_id"] = f.orig_sport;
  }
  return j;
}

namespace {

void refuse_empty(const ConntrackFilter& f) {
  if (is_empty(f))
    throw ConntrackError(
        "conntrack: refusing to delete with an empty filter (it would match "
        "every entry)");
}

struct HandleCloser {
  void operator()(nfct_handle* h) const { nfct_close(h); }
};
struct EntryDestroyer {
  void operator()(nf_conntrack* ct) const { nfct_destroy(ct); }
};
using Handle = std::unique_ptr<nfct_handle, HandleCloser>;
using Entry = std::unique_ptr<nf_conntrack, EntryDestroyer>;

std::string error_text(int e) {
  return std::strerror(e);
}

Ipv4 attr_ipv4(const nf_conntrack* ct, nf_conntrack_attr type) {
  return Ipv4{ntohl(nfct_get_attr_u32(ct, type))};
}

// The addresses of an IPv4 entry; nullopt for any other family (or an incomplete entry).
std::optional<ConntrackEntry> addresses(const nf_conntrack* ct) {
  if (nfct_attr_is_set(ct, ATTR_L3PROTO) <= 0 || nfct_get_attr_u8(ct, ATTR_L3PROTO) != AF_INET)
    return std::nullopt;
  for (nf_conntrack_attr t :
       {ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV4_DST, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV4_DST})
    if (nfct_attr_is_set(ct, t) <= 0) return std::nullopt;
  return ConntrackEntry{attr_ipv4(ct, ATTR_ORIG_IPV4_SRC), attr_ipv4(ct, ATTR_ORIG_IPV4_DST),
                        attr_ipv4(ct, ATTR_REPL_IPV4_SRC), attr_ipv4(ct, ATTR_REPL_IPV4_DST)};
}

// The ICMP type, code and id of one tuple (CTA_TUPLE_ORIG or CTA_TUPLE_REPLY) of a ctnetlink
// message; nullopt if the message does not carry them.
struct IcmpTuple {
  uint8_t type = 0;
  uint8_t code = 0;
  uint16_t id = 0;  // host byte order
};

// The attribute of type `type` among those in [begin, end); nullptr if there is none.
const nlattr* find_attr(const void* begin, const void* end, uint16_t type) {
  const auto* a = static_cast<const nlattr*>(begin);
  const char* stop = static_cast<const char*>(end);
  while (mnl_attr_ok(a, static_cast<int>(stop - reinterpret_cast<const char*>(a)))) {
    if (mnl_attr_get_type(a) == type) return a;
    a = mnl_attr_next(a);
  }
  return nullptr;
}

const nlattr* find_nested(const nlattr* parent, uint16_t type) {
  if (parent == nullptr) return nullptr;
  const char* payload = static_cast<const char*>(mnl_attr_get_payload(parent));
  return find_attr(payload, payload + mnl_attr_get_payload_len(parent), type);
}

std::optional<IcmpTuple> icmp_tuple(const nlmsghdr* nlh, uint16_t direction) {
  const nlattr* tuple = find_attr(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)),
                                  mnl_nlmsg_get_payload_tail(nlh), direction);
  const nlattr* p = find_nested(tuple, CTA_TUPLE_PROTO);
  const nlattr* type = find_nested(p, CTA_PROTO_ICMP_TYPE);
  const nlattr* code = find_nested(p, CTA_PROTO_ICMP_CODE);
  const nlattr* id = find_nested(p, CTA_PROTO_ICMP_ID);
  if (type == nullptr || code == nullptr || id == nullptr ||
      mnl_attr_validate(type, MNL_TYPE_U8) < 0 || mnl_attr_validate(code, MNL_TYPE_U8) < 0 ||
      mnl_attr_validate(id, MNL_TYPE_U16) < 0)
    return std::nullopt;
  return IcmpTuple{mnl_attr_get_u8(type), mnl_attr_get_u8(code), ntohs(mnl_attr_get_u16(id))};
}

uint16_t icmp_port(const IcmpTuple& t) {
  return static_cast<uint16_t>((t.type << 8) | t.code);
}

bool has(const nf_conntrack* ct, nf_conntrack_attr type) {
  return nfct_attr_is_set(ct, type) > 0;
}

uint16_t attr_port(const nf_conntrack* ct, nf_conntrack_attr type) {
  return has(ct, type) ? ntohs(nfct_get_attr_u16(ct, type)) : 0;
}

std::string tcp_state_name(uint8_t state) {
  // enum tcp_conntrack of the kernel, in order.
  static constexpr std::array<const char*, 10> kNames = {
      "NONE",       "SYN_SENT", "SYN_RECV",  "ESTABLISHED", "FIN_WAIT",
      "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE",       "SYN_SENT2"};
  return state < kNames.size() ? kNames[state] : "UNKNOWN(" + std::to_string(state) + ")";
}

// The flow of an IPv4 entry; nullopt for any other family (or an incomplete entry).
std::optional<ConntrackFlow> flow_of(const nlmsghdr* nlh, const nf_conntrack* ct) {
  auto e = addresses(ct);
  if (!e) return std::nullopt;
  ConntrackFlow f;
  f.orig_src = e->orig_src;
  f.orig_dst = e->orig_dst;
  f.reply_src = e->reply_src;
  f.reply_dst = e->reply_dst;
  f.proto = has(ct, ATTR_L4PROTO) ? nfct_get_attr_u8(ct, ATTR_L4PROTO) : 0;
  if (f.proto == IPPROTO_ICMP) {
    if (auto t = icmp_tuple(nlh, CTA_TUPLE_ORIG)) {
      f.orig_sport = t->id;
      f.orig_dport = icmp_port(*t);
    }
    if (auto t = icmp_tuple(nlh, CTA_TUPLE_REPLY)) {
      f.reply_sport = t->id;
      f.reply_dport = icmp_port(*t);
    }
  } else {
    f.orig_sport = attr_port(ct, ATTR_ORIG_PORT_SRC);
    f.orig_dport = attr_port(ct, ATTR_ORIG_PORT_DST);
    f.reply_sport = attr_port(ct, ATTR_REPL_PORT_SRC);
    f.reply_dport = attr_port(ct, ATTR_REPL_PORT_DST);
  }
  if (f.proto == IPPROTO_TCP && has(ct, ATTR_TCP_STATE))
    f.state = tcp_state_name(nfct_get_attr_u8(ct, ATTR_TCP_STATE));
  if (has(ct, ATTR_TIMEOUT)) f.timeout = nfct_get_attr_u32(ct, ATTR_TIMEOUT);
  if (has(ct, ATTR_MARK)) f.mark = nfct_get_attr_u32(ct, ATTR_MARK);
  if (has(ct, ATTR_STATUS)) f.assured = (nfct_get_attr_u32(ct, ATTR_STATUS) & IPS_ASSURED) != 0;
  auto counter = [&](nf_conntrack_attr t) -> uint64_t {
    return has(ct, t) ? nfct_get_attr_u64(ct, t) : 0;
  };
  f.packets_orig = counter(ATTR_ORIG_COUNTER_PACKETS);
  f.bytes_orig = counter(ATTR_ORIG_COUNTER_BYTES);
  f.packets_reply = counter(ATTR_REPL_COUNTER_PACKETS);
  f.bytes_reply = counter(ATTR_REPL_COUNTER_BYTES);
  return f;
}

// A conntrack object with just the original tuple of `f`: what the kernel looks a flow up by.
Entry original_tuple(const ConntrackFlow& f) {
  Entry ct(nfct_new());
  if (!ct) return ct;
  nfct_set_attr_u8(ct.get(), ATTR_L3PROTO, AF_INET);
  nfct_set_attr_u32(ct.get(), ATTR_ORIG_IPV4_SRC, htonl(f.orig_src.value));
  nfct_set_attr_u32(ct.get(), ATTR_ORIG_IPV4_DST, htonl(f.orig_dst.value));
  nfct_set_attr_u8(ct.get(), ATTR_L4PROTO, f.proto);
  if (f.proto == IPPROTO_ICMP) {
    nfct_set_attr_u8(ct.get(), ATTR_ICMP_TYPE, static_cast<uint8_t>(f.orig_dport >> 8));
    nfct_set_attr_u8(ct.get(), ATTR_ICMP_CODE, static_cast<uint8_t>(f.orig_dport & 0xff));
    nfct_set_attr_u16(ct.get(), ATTR_ICMP_ID, htons(f.orig_sport));
  } else {
    // Protocols without ports (generic) ignore these: the library sends ports only for TCP,
    // UDP, UDP-Lite, SCTP, DCCP and GRE.
    nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_SRC, htons(f.orig_sport));
    nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_DST, htons(f.orig_dport));
  }
  return ct;
}

Handle open_handle(const std::string& what) {
  Handle h(nfct_open(CONNTRACK, 0));
  if (!h) throw ConntrackError(what + ": open ctnetlink socket: " + error_text(errno));
  return h;
}

// What the dump callback does with each entry: false stops the dump (out of memory).
using Visitor = std::function<bool(const nlmsghdr*, nf_conntrack*)>;

struct DumpState {
  Visitor* visit = nullptr;
  std::exception_ptr failure;  // thrown by the visitor, rethrown after the dump
  bool out_of_memory = false;
};

int on_entry(const nlmsghdr* nlh, enum nf_conntrack_msg_type /*type*/, nf_conntrack* ct,
             void* data) {
  auto* state = static_cast<DumpState*>(data);
  try {
    if ((*state->visit)(nlh, ct)) return NFCT_CB_CONTINUE;
    state->out_of_memory = true;
  } catch (...) {
    state->failure = std::current_exception();
  }
  return NFCT_CB_FAILURE;
}

// Dumps the IPv4 table, calling `visit` for every entry.
void dump(nfct_handle* h, const std::string& what, Visitor visit) {
  DumpState state;
  state.visit = &visit;
  if (nfct_callback_register2(h, NFCT_T_ALL, on_entry, &state) < 0)
    throw ConntrackError(what + ": register callback: " + error_text(errno));
  uint32_t family = AF_INET;
  int rc = nfct_query(h, NFCT_Q_DUMP, &family);
  int e = errno;
  nfct_callback_unregister2(h);
  if (state.failure) std::rethrow_exception(state.failure);
  if (rc < 0)
    throw ConntrackError(what + ": dump: " + error_text(state.out_of_memory ? ENOMEM : e));
}

// Closes the handle when the scope is left by an exception: a dump stopped half-way leaves its
// rest in the socket, which the next query must not read.
class DropOnThrow {
 public:
  explicit DropOnThrow(Handle& h) : h_(h), exceptions_(std::uncaught_exceptions()) {}
  ~DropOnThrow() {
    if (std::uncaught_exceptions() > exceptions_) h_.reset();
  }
  DropOnThrow(const DropOnThrow&) = delete;
  DropOnThrow& operator=(const DropOnThrow&) = delete;

 private:
  Handle& h_;
  int exceptions_;
};

// One ctnetlink socket for the object's life: closing it after a dump waits for the kernel
// (2-5 ms measured), on every change that cuts flows.
class NetlinkConntrack : public Conntrack {
 public:
  using Conntrack::delete_matching;
  size_t delete_matching(const std::vector<ConntrackFilter>& filters) override {
    for (const auto& f : filters) refuse_empty(f);
    if (filters.empty()) return 0;
    std::string what = "conntrack: delete " + describe(filters[0]);
    for (size_t i = 1; i < filters.size(); ++i) what += " or " + describe(filters[i]);
    nfct_handle* h = handle(what);
    DropOnThrow drop(handle_);

    std::vector<Entry> matched;
    dump(h, what, [&](const nlmsghdr*, nf_conntrack* ct) {
      auto e = addresses(ct);
      if (!e || std::none_of(filters.begin(), filters.end(),
                             [&](const ConntrackFilter& f) { return matches(f, *e); }))
        return true;
      Entry copy(nfct_clone(ct));
      if (!copy) return false;
      matched.push_back(std::move(copy));
      return true;
    });

    size_t deleted = 0;
    for (const auto& ct : matched) {
      if (nfct_query(h, NFCT_Q_DESTROY, ct.get()) == 0) {
        ++deleted;
        continue;
      }
      int e = errno;
      if (e == ENOENT) continue;  // expired or deleted by someone else since the dump
      throw ConntrackError(what + ": " + std::to_string(deleted) + " of " +
                           std::to_string(matched.size()) +
                           " matching entries deleted, then: " + error_text(e));
    }
    return deleted;
  }

  std::vector<ConntrackFlow> list(std::optional<Ipv4> address) override {
    const std::string what =
        "conntrack: list " + (address ? "flows of " + address->str() : std::string("flows"));
    nfct_handle* h = handle(what);
    DropOnThrow drop(handle_);
    std::vector<ConntrackFlow> out;
    dump(h, what, [&](const nlmsghdr* nlh, nf_conntrack* ct) {
      auto f = flow_of(nlh, ct);
      if (f && (!address || involves(*f, *address))) out.push_back(std::move(*f));
      return true;
    });
    return out;
  }

  size_t delete_flows(const std::vector<ConntrackFlow>& flows) override {
    if (flows.empty()) return 0;
    const std::string what = "conntrack: delete " + std::to_string(flows.size()) + " flow" +
                             (flows.size() == 1 ? "" : "s");
    nfct_handle* h = handle(what);
    DropOnThrow drop(handle_);
    size_t deleted = 0;
    for (size_t i = 0; i < flows.size(); ++i) {
      Entry ct = original_tuple(flows[i]);
      if (!ct) throw ConntrackError(what + ": " + error_text(ENOMEM));
      if (nfct_query(h, NFCT_Q_DESTROY, ct.get()) == 0) {
        ++deleted;
        continue;
      }
      int e = errno;
      if (e == ENOENT) continue;  // expired or deleted by someone else meanwhile
      throw ConntrackError(what + ": " + describe(flows[i]) + ": " + error_text(e) + " (" +
                           std::to_string(deleted) + " deleted, " + std::to_string(i) +
                           " tried before)");
    }
    return deleted;
  }

 private:
  nfct_handle* handle(const std::string& what) {
    if (!handle_) handle_ = open_handle(what);
    return handle_.get();
  }
  Handle handle_;
};

}  // namespace

std::unique_ptr<Conntrack> make_netlink_conntrack() {
  return std::make_unique<NetlinkConntrack>();
}

size_t FakeConntrack::delete_matching(const std::vector<ConntrackFilter>& any_of) {
  filters.insert(filters.end(), any_of.begin(), any_of.end());
  for (const auto& f : any_of) refuse_empty(f);
  auto matched = [&](const ConntrackEntry& e) {
    return std::any_of(any_of.begin(), any_of.end(),
                       [&](const ConntrackFilter& f) { return matches(f, e); });
  };
  size_t before = entries.size() + flows.size();
  std::erase_if(entries, matched);
  std::erase_if(flows, [&](const ConntrackFlow& fl) {
    return matched(ConntrackEntry{fl.orig_src, fl.orig_dst, fl.reply_src, fl.reply_dst});
  });
  return before - entries.size() - flows.size();
}

std::vector<ConntrackFlow> FakeConntrack::list(std::optional<Ipv4> address) {
  if (error) throw ConntrackError(*error);
  std::vector<ConntrackFlow> out;
  std::copy_if(flows.begin(), flows.end(), std::back_inserter(out),
               [&](const ConntrackFlow& f) { return !address || involves(f, *address); });
  return out;
}

size_t FakeConntrack::delete_flows(const std::vector<ConntrackFlow>& to_delete) {
  deletions.insert(deletions.end(), to_delete.begin(), to_delete.end());
  if (error) throw ConntrackError(*error);
  size_t deleted = 0;
  for (const auto& f : to_delete) {
    auto it = std::find_if(flows.begin(), flows.end(),
                           [&](const ConntrackFlow& g) { return same_flow(f, g); });
    if (it == flows.end()) continue;  // ENOENT
    flows.erase(it);
    ++deleted;
  }
  return deleted;
}

}  // namespace vmgw::backend
