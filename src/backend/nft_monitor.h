// Notices when another program changes vmgw's nftables tables in this network namespace (for
// self-healing): every nftables transaction ends with a NEWGEN event naming the process that
// made it, after an event per object it changed (each naming its table). vmgw's own
// transactions are told apart by process, and other programs' transactions that leave vmgw's
// tables alone (docker, firewalld) are not changes to undo, all without comparing rulesets.
//
// A transaction of ten thousand rules sends as many events and can overrun the socket: the
// events lost are then judged by nftables' generation counter (read before and after each of
// vmgw's own transactions), so vmgw's own large batches are not taken for a foreign change.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "backend/nft_backend.h"

namespace vmgw::backend {

struct NftChanger {
  uint32_t pid = 0;
  std::string name;  // the process's name as the kernel reports it ("nft", "iptables-nft")
  bool operator==(const NftChanger&) const = default;
};

// Decodes one netlink message; a NEWGEN event gives who committed it, anything else nullopt.
std::optional<NftChanger> decode_nft_generation(std::span<const uint8_t> nlmsg);

// One nftables event: a transaction's end (NEWGEN), or a change of an object of a table.
struct NftEvent {
  enum class Kind { generation, object } kind = Kind::object;
  uint32_t generation = 0;  // NEWGEN: the generation the transaction made
  NftChanger changer;       // NEWGEN: who
  uint8_t family = 0;       // object: NFPROTO_INET, NFPROTO_BRIDGE, ...
  std::string table;        // object: its table
};
// nullopt for messages that are neither (and for malformed ones).
std::optional<NftEvent> decode_nft_event(std::span<const uint8_t> nlmsg);

// The event stream -> the foreign transactions that touched vmgw's tables ("vmgw" in the inet
// and bridge families). Pure: the real monitor feeds it.
class ForeignChanges {
 public:
  explicit ForeignChanges(uint32_t self_pid) : self_(self_pid) {}
  // One of vmgw's own transactions committed while the generation went from `before` to
  // `after`: with exactly one step, that generation was vmgw's.
  void own_transaction(uint32_t before, uint32_t after);
  void event(const NftEvent& e);  // in the order received
  // Events were lost, and the generation is `now`: a foreign change unless every generation
  // since the last one seen was vmgw's own (always, when the generation is unknown).
  void lost(std::optional<uint32_t> now);
  // The foreign changes found since the last call.
  std::vector<NftChanger> take();

 private:
  uint32_t self_;
  std::optional<uint32_t> last_;  // the last generation accounted for
  bool touched_ = false;          // the transaction being received changed vmgw's tables
  std::set<uint32_t> own_;
  std::vector<NftChanger> found_;
};

class NftMonitor {
 public:
  virtual ~NftMonitor() = default;
  virtual int fd() const = 0;  // for poll()
  // The transactions committed since the last call by other processes that changed vmgw's
  // tables. Events lost that could have been another program's are reported as one change by
  // an unknown process.
  virtual std::vector<NftChanger> foreign_changes() = 0;
  // nftables' generation now (NFT_MSG_GETGEN).
  virtual uint32_t generation() = 0;
  // See ForeignChanges::own_transaction.
  virtual void own_transaction(uint32_t before, uint32_t after) = 0;
  // Leaves the event group until resume_events(): while anyone listens, the kernel builds an
  // event per element of every transaction (at 200 000 elements, half of vmgwd's start went to
  // events it then dropped for want of room). What happens meanwhile is judged by the
  // generation on resume, as lost events are: a foreign change unless every generation since
  // the last one seen was vmgw's own.
  virtual void pause_events() = 0;
  virtual void resume_events() = 0;
};

// Subscribes to the nftables event group in the calling process's network namespace; `self_pid`
// is vmgw's own process. Throws std::runtime_error with the reason.
std::unique_ptr<NftMonitor> open_nft_monitor(uint32_t self_pid);

// `inner`, with each batch applied bracketed by the monitor's generation (when there is a
// monitor), so that the monitor knows which generations were vmgw's own; a batch of at least
// kQuietBatch elements and commands is applied with the monitor's events paused.
inline constexpr size_t kQuietBatch = 1000;
std::unique_ptr<NftBackend> noting_own_transactions(NftBackend& inner, NftMonitor* monitor);

}  // namespace vmgw::backend
