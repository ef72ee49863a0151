#include "backend/nft_monitor.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>

#include "backend/nft_dump.h"

namespace vmgw::backend {
namespace {

struct Attrs {
  int max;
  const nlattr* tb[16] = {};
};

int collect_attr(const nlattr* attr, void* data) {
  auto* a = static_cast<Attrs*>(data);
  int type = mnl_attr_get_type(attr);
  if (type > a->max || type >= 16) return MNL_CB_OK;
  a->tb[type] = attr;
  return MNL_CB_OK;
}

std::optional<uint32_t> u32_attr(const nlattr* a) {
  if (!a || mnl_attr_validate(a, MNL_TYPE_U32) != 0) return std::nullopt;
  return ntohl(mnl_attr_get_u32(a));
}

// Generations are a wrapping 32-bit counter: `a` is after `b` when it is less than half the
// range ahead.
bool after(uint32_t a, uint32_t b) {
  return a != b && static_cast<uint32_t>(a - b) < 0x80000000U;
}

class Monitor : public NftMonitor {
 public:
  explicit Monitor(uint32_t self_pid) : changes_(self_pid) {
    nl_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (!nl_) throw std::runtime_error(std::string("nftables events: socket: ") + strerror(errno));
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
      int e = errno;
      mnl_socket_close(nl_);
      throw std::runtime_error(std::string("nftables events: bind: ") + strerror(e));
    }
    int group = NFNLGRP_NFTABLES;
    if (mnl_socket_setsockopt(nl_, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
      int e = errno;
      mnl_socket_close(nl_);
      throw std::runtime_error(std::string("nftables events: join group (needs CAP_NET_ADMIN): ") +
                               strerror(e));
    }
    // The generation now: what the first events lost are judged from.
    changes_.lost(generation());
    changes_.take();
  }
  ~Monitor() override {
    mnl_socket_close(nl_);
    close_generation_socket();
  }
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  int fd() const override { return mnl_socket_get_fd(nl_); }

  std::vector<NftChanger> foreign_changes() override {
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE * 4);
    bool lost = false;
    for (int i = 0; i < 4096; ++i) {  // bounded: a flood of events cannot stall the daemon
      ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) {
        if (errno == ENOBUFS) {  // events were lost: read on, then judge by the generation
          lost = true;
          continue;
        }
        break;  // EAGAIN: nothing more
      }
      if (lost) continue;  // what follows a loss is judged with it
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
      int len = static_cast<int>(n);
      for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
        auto e = decode_nft_event(
            {reinterpret_cast<const uint8_t*>(nlh), static_cast<size_t>(nlh->nlmsg_len)});
        if (e) changes_.event(*e);
      }
    }
    if (lost) {
      std::optional<uint32_t> now;
      try {
        now = generation();
      } catch (const std::exception&) {  // unknown: a foreign change, to be safe
      }
      changes_.lost(now);
    }
    return changes_.take();
  }

  uint32_t generation() override {
    // A socket of its own, so that the answer does not mix with the events, kept open: closing
    // an nfnetlink socket right after a transaction that deleted anything waits for the kernel
    // (7-26 ms), and vmgwd reads the generation around every batch it sends.
    if (!gen_) {
      gen_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
      if (!gen_)
        throw std::runtime_error(std::string("nftables generation: socket: ") + strerror(errno));
      if (mnl_socket_bind(gen_, 0, MNL_SOCKET_AUTOPID) != 0) {
        const int e = errno;
        close_generation_socket();
        throw std::runtime_error(std::string("nftables generation: bind: ") + strerror(e));
      }
    }
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
    auto* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN);
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = ++gen_seq_;
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    std::optional<uint32_t> gen;
    if (mnl_socket_sendto(gen_, nlh, nlh->nlmsg_len) >= 0) {
      ssize_t n = mnl_socket_recvfrom(gen_, buf.data(), buf.size());
      if (n > 0) {
        const auto* r = reinterpret_cast<const nlmsghdr*>(buf.data());
        if (mnl_nlmsg_ok(r, static_cast<int>(n)) && r->nlmsg_seq == gen_seq_) {
          auto e = decode_nft_event({buf.data(), static_cast<size_t>(r->nlmsg_len)});
          if (e && e->kind == NftEvent::Kind::generation) gen = e->generation;
        }
      }
    }
    if (!gen) {
      close_generation_socket();  // a fresh one next time: nothing stale is left to read
      throw std::runtime_error("nftables generation: no answer to GETGEN");
    }
    return *gen;
  }

  void own_transaction(uint32_t before, uint32_t after_gen) override {
    changes_.own_transaction(before, after_gen);
  }

  void pause_events() override {
    int group = NFNLGRP_NFTABLES;
    if (mnl_socket_setsockopt(nl_, NETLINK_DROP_MEMBERSHIP, &group, sizeof group) < 0)
      throw std::runtime_error(std::string("nftables events: leave group: ") + strerror(errno));
  }

  void resume_events() override {
    int group = NFNLGRP_NFTABLES;
    if (mnl_socket_setsockopt(nl_, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
      throw std::runtime_error(std::string("nftables events: join group again: ") +
                               strerror(errno));
    // Listening again first, then the generation: a commit in between is either heard or
    // judged here. Events still queued from before the pause are judged with it.
    std::optional<uint32_t> now;
    try {
      now = generation();
    } catch (const std::exception&) {  // unknown: a foreign change, to be safe
    }
    changes_.lost(now);
  }

 private:
  void close_generation_socket() {
    if (gen_) mnl_socket_close(gen_);
    gen_ = nullptr;
  }

  mnl_socket* nl_ = nullptr;
  mnl_socket* gen_ = nullptr;  // GETGEN requests and their answers
  uint32_t gen_seq_ = 0;
  ForeignChanges changes_;
};

// The commands of a batch, each "add element" counted by its elements.
size_t batch_size(const nft::Json& batch) {
  size_t n = 0;
  if (!batch.contains("nftables") || !batch["nftables"].is_array()) return 0;
  for (const auto& cmd : batch["nftables"]) {
    size_t elements = 0;
    if (cmd.is_object())
      for (const auto& [verb, what] : cmd.items())
        if (what.is_object() && what.contains("element") && what["element"].contains("elem") &&
            what["element"]["elem"].is_array())
          elements += what["element"]["elem"].size();
    n += elements ? elements : 1;
  }
  return n;
}

class NotingOwn : public NftBackend {
 public:
  NotingOwn(NftBackend& inner, NftMonitor* monitor) : inner_(inner), monitor_(monitor) {}
  std::optional<nft::Table> read_table(const std::string& family,
                                       const std::string& name) override {
    return inner_.read_table(family, name);
  }
  void apply(const nft::Json& batch) override {
    if (!monitor_) return inner_.apply(batch);
    std::optional<uint32_t> before;
    try {
      before = monitor_->generation();
    } catch (const std::exception&) {  // unknown: lost events then count as foreign
    }
    bool paused = false;
    if (batch_size(batch) >= kQuietBatch) {
      try {
        monitor_->pause_events();
        paused = true;
      } catch (const std::exception&) {  // heard, then: slower, not wrong
      }
    }
    auto note = [&] {
      try {
        if (before) monitor_->own_transaction(*before, monitor_->generation());
      } catch (const std::exception&) {
      }
      if (paused) {
        try {
          monitor_->resume_events();
        } catch (const std::exception&) {  // a later loss of events is judged the same way
        }
      }
    };
    try {
      inner_.apply(batch);
    } catch (...) {
      note();  // refused: nothing of it committed, the events are listened to again
      throw;
    }
    note();
  }
  std::string list_text(const std::string& family, const std::string& name) override {
    return inner_.list_text(family, name);
  }
  std::vector<RuleCounter> rule_counters(const std::string& family, const std::string& table,
                                         const std::string& chain) override {
    return inner_.rule_counters(family, table, chain);
  }
  std::optional<nft::Set> read_set(const std::string& family, const std::string& table,
                                   const std::string& set) override {
    return inner_.read_set(family, table, set);
  }
  Counts element_counts(const std::string& family, const std::string& table,
                        const nft::Set& declared,
                        const std::vector<nft::Element>& elements) override {
    return inner_.element_counts(family, table, declared, elements);
  }

 private:
  NftBackend& inner_;
  NftMonitor* monitor_;
};

}  // namespace

std::optional<NftEvent> decode_nft_event(std::span<const uint8_t> bytes) {
  auto copy = nftables_message(bytes);
  if (!copy) return std::nullopt;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(copy->data());
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  NftEvent e;
  switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
    case NFT_MSG_NEWGEN: {
      Attrs a{NFTA_GEN_MAX};
      mnl_attr_parse(nlh, sizeof(nfgenmsg), collect_attr, &a);
      e.kind = NftEvent::Kind::generation;
      e.generation = u32_attr(a.tb[NFTA_GEN_ID]).value_or(0);
      e.changer.pid = u32_attr(a.tb[NFTA_GEN_PROC_PID]).value_or(0);
      if (a.tb[NFTA_GEN_PROC_NAME] &&
          mnl_attr_validate(a.tb[NFTA_GEN_PROC_NAME], MNL_TYPE_STRING) == 0)
        e.changer.name = mnl_attr_get_str(a.tb[NFTA_GEN_PROC_NAME]);
      return e;
    }
    case NFT_MSG_NEWTABLE:
    case NFT_MSG_DELTABLE:
    case NFT_MSG_NEWCHAIN:
    case NFT_MSG_DELCHAIN:
    case NFT_MSG_NEWRULE:
    case NFT_MSG_DELRULE:
    case NFT_MSG_NEWSET:
    case NFT_MSG_DELSET:
    case NFT_MSG_NEWSETELEM:
    case NFT_MSG_DELSETELEM:
    case NFT_MSG_NEWOBJ:
    case NFT_MSG_DELOBJ:
    case NFT_MSG_NEWFLOWTABLE:
    case NFT_MSG_DELFLOWTABLE: {
      // The table's name is attribute 1 of every object kind (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE,
      // NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, NFTA_OBJ_TABLE, ...).
      Attrs a{1};
      mnl_attr_parse(nlh, sizeof(nfgenmsg), collect_attr, &a);
      e.kind = NftEvent::Kind::object;
      e.family = nfg->nfgen_family;
      if (a.tb[1] && mnl_attr_validate(a.tb[1], MNL_TYPE_STRING) == 0)
        e.table = mnl_attr_get_str(a.tb[1]);
      return e;
    }
    default:
      return std::nullopt;
  }
}

std::optional<NftChanger> decode_nft_generation(std::span<const uint8_t> bytes) {
  auto e = decode_nft_event(bytes);
  if (!e || e->kind != NftEvent::Kind::generation) return std::nullopt;
  return e->changer;
}

void ForeignChanges::own_transaction(uint32_t before, uint32_t after_gen) {
  // More than one step: another program committed in between, and which one was ours is
  // unknown; if their events are lost, that counts as a foreign change.
  if (after_gen == before + 1) own_.insert(after_gen);
}

void ForeignChanges::event(const NftEvent& e) {
  if (e.kind == NftEvent::Kind::object) {
    // An object event with no table name cannot be placed: take it for ours to be safe.
    bool ours_family = e.family == NFPROTO_INET || e.family == NFPROTO_BRIDGE;
    if ((ours_family && e.table == "vmgw") || e.table.empty()) touched_ = true;
    return;
  }
  const bool touched = touched_;
  touched_ = false;
  // A generation already accounted for (judged with lost events) is not counted again.
  if (last_ && !after(e.generation, *last_) && e.generation != 0) return;
  if (e.generation != 0) last_ = e.generation;
  own_.erase(e.generation);
  if (touched && e.changer.pid != self_) found_.push_back(e.changer);
}

void ForeignChanges::lost(std::optional<uint32_t> now_or_unknown) {
  touched_ = false;
  if (!now_or_unknown) {
    found_.push_back({0, "unknown (events lost)"});
    last_.reset();
    own_.clear();
    return;
  }
  const uint32_t now = *now_or_unknown;
  bool all_ours = true;
  if (last_) {
    for (uint32_t g = *last_ + 1; after(g, *last_) && !after(g, now); ++g) {
      if (!own_.count(g)) {
        all_ours = false;
        break;
      }
    }
  } else {
    all_ours = false;
  }
  if (!all_ours) found_.push_back({0, "unknown (events lost)"});
  // Forget what is accounted for.
  for (auto it = own_.begin(); it != own_.end();)
    it = after(*it, now) ? std::next(it) : own_.erase(it);
  last_ = now;
}

std::vector<NftChanger> ForeignChanges::take() {
  return std::exchange(found_, {});
}

std::unique_ptr<NftMonitor> open_nft_monitor(uint32_t self_pid) {
  return std::make_unique<Monitor>(self_pid);
}

std::unique_ptr<NftBackend> noting_own_transactions(NftBackend& inner, NftMonitor* monitor) {
  return std::make_unique<NotingOwn>(inner, monitor);
}

}  // namespace vmgw::backend
