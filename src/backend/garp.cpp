// Gratuitous ARP through an AF_PACKET/SOCK_RAW socket: the frame is built in full (Ethernet
// header included) by gratuitous_arp_frame, so what goes on the wire is exactly what the unit
// tests check.
#include "backend/garp.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace vmgw::backend {

namespace {

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xffU));
}

void put_ipv4(std::vector<uint8_t>& out, Ipv4 a) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>((a.value >> shift) & 0xffU));
}

void put_mac(std::vector<uint8_t>& out, const std::array<uint8_t, 6>& mac) {
  out.insert(out.end(), mac.begin(), mac.end());
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket& operator=(Socket&&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::vector<uint8_t> gratuitous_arp_frame(const std::array<uint8_t, 6>& mac, Ipv4 address) {
  std::vector<uint8_t> out;
  out.reserve(ETH_HLEN + 28);
  // Ethernet header.
  put_mac(out, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  put_mac(out, mac);
  put16(out, ETH_P_ARP);
  // ARP request, sender = target = address.
  put16(out, ARPHRD_ETHER);
  put16(out, ETH_P_IP);
  out.push_back(ETH_ALEN);
  out.push_back(4);
  put16(out, ARPOP_REQUEST);
  put_mac(out, mac);
  put_ipv4(out, address);
  put_mac(out, {0, 0, 0, 0, 0, 0});
  put_ipv4(out, address);
  return out;
}

namespace {

Socket packet_socket(const std::string& what) {
  Socket sock(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));  // protocol 0: send only
  if (sock.fd() < 0) throw GarpError(what + ": packet socket: " + std::strerror(errno));
  return sock;
}

void send_on(const Socket& sock, const std::string& device, Ipv4 address) {
  const std::string what = "gratuitous ARP for " + address.str() + " on " + device;
  if (device.empty() || device.size() >= IFNAMSIZ) throw GarpError(what + ": invalid device name");

  ifreq ifr{};
  std::memcpy(ifr.ifr_name, device.c_str(), device.size() + 1);
  if (ioctl(sock.fd(), SIOCGIFINDEX, &ifr) < 0) throw GarpError(what + ": " + std::strerror(errno));
  const int ifindex = ifr.ifr_ifindex;
  if (ioctl(sock.fd(), SIOCGIFHWADDR, &ifr) < 0)
    throw GarpError(what + ": read MAC address: " + std::strerror(errno));
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) throw GarpError(what + ": not an Ethernet device");
  std::array<uint8_t, 6> mac{};
  std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, mac.size());

  const auto frame = gratuitous_arp_frame(mac, address);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = ifindex;
  to.sll_halen = ETH_ALEN;
  std::memset(to.sll_addr, 0xff, ETH_ALEN);
  ssize_t n =
      sendto(sock.fd(), frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  if (n < 0) throw GarpError(what + ": send: " + std::strerror(errno));
  if (static_cast<size_t>(n) != frame.size())
    throw GarpError(what + ": short send (" + std::to_string(n) + " of " +
                    std::to_string(frame.size()) + " bytes)");
}

}  // namespace

void send_gratuitous_arp(const std::string& device, Ipv4 address) {
  send_on(packet_socket("gratuitous ARP for " + address.str() + " on " + device), device, address);
}

// One packet socket for the announcer's life: closing one waits for the network stack to
// quiesce (5 ms measured), on every elastic IP bound.
class GarpAnnouncer : public Announcer {
 public:
  void announce(const std::string& device, Ipv4 address) override {
    if (!sock_)
      sock_.emplace(packet_socket("gratuitous ARP for " + address.str() + " on " + device));
    send_on(*sock_, device, address);
  }

 private:
  std::optional<Socket> sock_;
};

std::unique_ptr<Announcer> make_garp_announcer() {
  return std::make_unique<GarpAnnouncer>();
}

}  // namespace vmgw::backend
