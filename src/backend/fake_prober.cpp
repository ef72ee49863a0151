#include <algorithm>

#include "backend/prober.h"

namespace vmgw::backend {

void FakeProber::configure(const std::vector<ProbeUplink>& u) {
  uplinks = u;
  ++configures;
  // Like the sockets of a removed uplink, its pending answers are gone.
  std::erase_if(pending_, [&](const ProbeAnswer& a) {
    return std::none_of(u.begin(), u.end(),
                        [&](const ProbeUplink& x) { return x.name == a.uplink; });
  });
}

void FakeProber::send_round(const std::string& uplink, uint32_t round,
                            const std::vector<ProbeDestination>& to, ProbeTime now) {
  sent.push_back({uplink, round, to, now});
  if (!responder) return;
  for (const auto& d : to)
    if (auto delay = responder(sent.back(), d))
      answer({uplink, round, d.address, d.tcp_port, now + *delay});
}

std::vector<ProbeAnswer> FakeProber::read_ready(ProbeTime now) {
  std::vector<ProbeAnswer> due;
  for (const auto& a : pending_)
    if (a.at <= now) due.push_back(a);
  std::erase_if(pending_, [&](const ProbeAnswer& a) { return a.at <= now; });
  std::stable_sort(due.begin(), due.end(),
                   [](const ProbeAnswer& a, const ProbeAnswer& b) { return a.at < b.at; });
  return due;
}

std::string FakeProber::send_error(const std::string& uplink) const {
  auto it = errors.find(uplink);
  return it == errors.end() ? "" : it->second;
}

}  // namespace vmgw::backend
