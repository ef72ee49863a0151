// Gratuitous ARP: when an address moves to this host (an elastic IP attached to an uplink), the
// neighbours' ARP caches still map it to the previous holder's MAC. One gratuitous ARP request
// (sender IP = target IP = the address) makes them update their entry at once.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/net.h"

namespace vmgw::backend {

struct GarpError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The 42-byte Ethernet frame of a gratuitous ARP request for `address` from `mac`: destination
// ff:ff:ff:ff:ff:ff, source `mac`, EtherType 0x0806; ARP htype 1, ptype 0x0800, hlen 6, plen 4,
// oper 1 (request), sender `mac`/`address`, target 00:00:00:00:00:00/`address`. Unpadded: the
// driver pads to the Ethernet minimum.
std::vector<uint8_t> gratuitous_arp_frame(const std::array<uint8_t, 6>& mac, Ipv4 address);

// Sends one gratuitous ARP on `device` (an Ethernet device that is up) through an AF_PACKET
// socket, with the device's own MAC. Throws GarpError naming the device and the reason.
void send_gratuitous_arp(const std::string& device, Ipv4 address);

class Announcer {
 public:
  virtual ~Announcer() = default;
  // Tells the neighbours on `device` that `address` is now here.
  virtual void announce(const std::string& device, Ipv4 address) = 0;
};

// Calls send_gratuitous_arp.
std::unique_ptr<Announcer> make_garp_announcer();

struct Announcement {
  std::string device;
  Ipv4 address;
  auto operator<=>(const Announcement&) const = default;
};

// Records every announcement, sends nothing.
class FakeAnnouncer : public Announcer {
 public:
  void announce(const std::string& device, Ipv4 address) override {
    announcements.push_back({device, address});
  }
  std::vector<Announcement> announcements;
};

}  // namespace vmgw::backend
