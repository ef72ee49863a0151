// The carrier of the host's devices, kept current from rtnetlink link notifications
// (RTNLGRP_LINK) so that a cable pulled, a peer gone or `ip link set down` is seen at once,
// without polling. A device has carrier when it is administratively up (IFF_UP) and its lower
// layer is up (IFF_LOWER_UP); a device that does not exist has none.
//
// The decoding and the bookkeeping are pure (decode_link_event, CarrierTable) so unit tests feed
// them hand-built messages; only make_netlink_link_watch() touches the kernel.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace vmgw::backend {

// What one RTM_NEWLINK / RTM_DELLINK says about a device.
struct LinkEvent {
  int index = 0;
  std::string name;
  bool carrier = false;  // IFF_UP and IFF_LOWER_UP; false for a removed device
  bool removed = false;  // RTM_DELLINK
  bool operator==(const LinkEvent&) const = default;
};

// Decodes one netlink message (the bytes of one nlmsghdr, any alignment). nullopt unless it is
// an RTM_NEWLINK or RTM_DELLINK with a device name.
std::optional<LinkEvent> decode_link_event(std::span<const uint8_t> nlmsg);

// A carrier change: device name and whether it has carrier now.
using CarrierChange = std::pair<std::string, bool>;

// The devices known from link events, by ifindex (a rename keeps the index).
class CarrierTable {
 public:
  // Applies one event; returns the carrier changes it makes, by name: a new device with carrier,
  // carrier gained or lost, a device removed (lost, if it had carrier), a rename (the old name
  // loses carrier, the new one gains it). Repeated events without change return nothing.
  std::vector<CarrierChange> apply(const LinkEvent& e);
  // Replaces the whole table with a complete dump (after lost events); returns the changes.
  std::vector<CarrierChange> replace(const std::vector<LinkEvent>& dump);
  // Every known device and its carrier, by name.
  std::map<std::string, bool> carrier() const;

 private:
  struct Device {
    std::string name;
    bool carrier = false;
  };
  std::map<int, Device> devices_;
};

class LinkWatch {
 public:
  virtual ~LinkWatch() = default;
  virtual int fd() const = 0;  // for poll(): readable when read_ready() may have changes
  // Every device's carrier as of the last read_ready() (or the initial dump), by name.
  virtual std::map<std::string, bool> carrier() const = 0;
  // Non-blocking: the carrier changes notified since the last call, in order. After lost
  // notifications (receive overrun) the table is dumped again and the differences reported.
  virtual std::vector<CarrierChange> read_ready() = 0;
};

// Subscribes to RTNLGRP_LINK, then dumps every link, in the calling process's network
// namespace. Throws std::runtime_error with the reason.
std::unique_ptr<LinkWatch> make_netlink_link_watch();

// Carrier set by the test; changes are handed out by read_ready().
class FakeLinkWatch : public LinkWatch {
 public:
  int fd() const override { return fake_fd; }
  std::map<std::string, bool> carrier() const override { return carrier_; }
  std::vector<CarrierChange> read_ready() override { return std::exchange(changes_, {}); }

  // The device's carrier changes (queued for read_ready() if it differs from the current one).
  void set(const std::string& device, bool carrier) {
    auto it = carrier_.find(device);
    if (it != carrier_.end() && it->second == carrier) return;
    carrier_[device] = carrier;
    changes_.emplace_back(device, carrier);
  }
  // The device exists with that carrier from the start (nothing queued).
  void preset(const std::string& device, bool carrier) { carrier_[device] = carrier; }

  int fake_fd = 1001;  // what fd() returns (never polled)

 private:
  std::map<std::string, bool> carrier_;
  std::vector<CarrierChange> changes_;
};

}  // namespace vmgw::backend
