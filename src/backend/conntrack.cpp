// Conntrack over ctnetlink (libnetfilter_conntrack): dump the IPv4 table, keep the entries that
// match the filter, then delete them one by one. The dump and the deletes are not atomic: an
// entry may expire in between (ENOENT, not an error), and a flow that starts after the dump is
// not deleted (the caller changes the NAT rules first, so such a flow already has the new
// binding).
#include "backend/conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <sys/socket.h>

#include <cstring>
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

struct DumpState {
  const ConntrackFilter* filter = nullptr;
  std::vector<Entry> matched;
  bool out_of_memory = false;
};

int on_entry(enum nf_conntrack_msg_type /*type*/, nf_conntrack* ct, void* data) {
  auto* state = static_cast<DumpState*>(data);
  auto e = addresses(ct);
  if (!e || !matches(*state->filter, *e)) return NFCT_CB_CONTINUE;
  Entry copy(nfct_clone(ct));
  if (!copy) {
    state->out_of_memory = true;
    return NFCT_CB_FAILURE;
  }
  state->matched.push_back(std::move(copy));
  return NFCT_CB_CONTINUE;
}

class NetlinkConntrack : public Conntrack {
 public:
  size_t delete_matching(const ConntrackFilter& f) override {
    refuse_empty(f);
    const std::string what = "conntrack: delete " + describe(f);
    Handle h(nfct_open(CONNTRACK, 0));
    if (!h) throw ConntrackError(what + ": open ctnetlink socket: " + error_text(errno));

    DumpState state;
    state.filter = &f;
    if (nfct_callback_register(h.get(), NFCT_T_ALL, on_entry, &state) < 0)
      throw ConntrackError(what + ": register callback: " + error_text(errno));
    uint32_t family = AF_INET;
    if (nfct_query(h.get(), NFCT_Q_DUMP, &family) < 0) {
      int e = state.out_of_memory ? ENOMEM : errno;
      throw ConntrackError(what + ": dump: " + error_text(e));
    }
    nfct_callback_unregister(h.get());

    size_t deleted = 0;
    for (const auto& ct : state.matched) {
      if (nfct_query(h.get(), NFCT_Q_DESTROY, ct.get()) == 0) {
        ++deleted;
        continue;
      }
      int e = errno;
      if (e == ENOENT) continue;  // expired or deleted by someone else since the dump
      throw ConntrackError(what + ": " + std::to_string(deleted) + " of " +
                           std::to_string(state.matched.size()) +
                           " matching entries deleted, then: " + error_text(e));
    }
    return deleted;
  }
};

}  // namespace

std::unique_ptr<Conntrack> make_netlink_conntrack() {
  return std::make_unique<NetlinkConntrack>();
}

size_t FakeConntrack::delete_matching(const ConntrackFilter& f) {
  filters.push_back(f);
  refuse_empty(f);
  size_t before = entries.size();
  std::erase_if(entries, [&](const ConntrackEntry& e) { return matches(f, e); });
  return before - entries.size();
}

}  // namespace vmgw::backend
