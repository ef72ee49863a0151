// Prometheus text exposition (version 0.0.4) of the daemon's state and counters.
#include <map>
#include <sstream>

#include "daemon/routes.h"

namespace vmgw::daemon {
namespace {

void metric(std::ostringstream& os, const std::string& name, const std::string& type,
            const std::string& help, const std::string& value, const std::string& labels = "") {
  os << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
     << name << labels << " " << value << "\n";
}

}  // namespace

std::string metrics_text(const Gateway& gw, const DaemonInfo& info) {
  std::ostringstream os;
  const auto& c = gw.counters();
  size_t bound = 0;
  for (const auto& e : gw.state().eips) bound += e.vm.empty() ? 0 : 1;
  metric(os, "vmgw_generation", "gauge", "Generation of the state in force.",
         std::to_string(gw.state().generation));
  metric(os, "vmgw_vms", "gauge", "VMs declared.", std::to_string(gw.vms().size()));
  metric(os, "vmgw_port_forwards", "gauge", "Port forwards declared.",
         std::to_string(gw.desired().port_forwards.size()));
  metric(os, "vmgw_elastic_ips_allocated", "gauge", "Elastic IPs allocated.",
         std::to_string(gw.state().eips.size()));
  metric(os, "vmgw_elastic_ips_bound", "gauge", "Elastic IPs bound to a VM.",
         std::to_string(bound));
  metric(os, "vmgw_applies_total", "counter", "Reconciles and changes applied.",
         std::to_string(c.applies));
  metric(os, "vmgw_apply_errors_total", "counter", "Changes refused or failed.",
         std::to_string(c.apply_errors));
  metric(os, "vmgw_nft_transactions_total", "counter", "nftables transactions sent to the kernel.",
         std::to_string(c.nft_transactions));
  metric(os, "vmgw_apply_seconds_total", "counter", "Time spent applying API changes.",
         std::to_string(c.apply_seconds));
  metric(os, "vmgw_conntrack_deleted_total", "counter",
         "Conntrack entries deleted because a binding moved or went away.",
         std::to_string(c.conntrack_deleted));
  // Every kind from the start, so that a rate() over the first heal sees it move from 0.
  std::map<std::string, uint64_t> heals;
  for (const char* kind : {"nftables", "address", "route", "rule", "nexthop", "bridge_port", "link",
                           "sysctl", "hosts_file"})
    heals[kind] = 0;
  for (const auto& [kind, n] : c.self_heals) heals[kind] = n;
  os << "# HELP vmgw_self_heals_total Objects put back after another program or the kernel "
        "changed them (nftables: transactions), by kind.\n# TYPE vmgw_self_heals_total counter\n";
  for (const auto& [kind, n] : heals)
    os << "vmgw_self_heals_total{kind=\"" << kind << "\"} " << n << "\n";
  os << "# HELP vmgw_dhcp_up Whether the network's dnsmasq runs.\n# TYPE vmgw_dhcp_up gauge\n";
  for (const auto& [net, state] : info.dhcp_state())
    os << "vmgw_dhcp_up{network=\"" << net << "\"} " << (state == "running" ? 1 : 0) << "\n";
  metric(os, "vmgw_dhcp_restarts_total", "counter", "dnsmasq restarts after it died.",
         std::to_string(info.dhcp_restarts()));
  if (info.drop_log) {
    const auto d = info.drop_log();
    metric(os, "vmgw_drop_log_packets_total", "counter",
           "Packets logged by vmgw's rules that vmgwd received (vmgw log).",
           std::to_string(d.logged));
    metric(os, "vmgw_drop_log_overruns_total", "counter",
           "Times the NFLOG socket overran: logged packets were lost.", std::to_string(d.overruns));
    if (d.suppressed)
      metric(os, "vmgw_drop_log_suppressed_packets_total", "counter",
             "Packets vmgw's rules dropped (or let through) without logging them: over "
             "host.drop_log.",
             std::to_string(*d.suppressed));
  }
  // Uplinks: one series per uplink for each, the HELP and TYPE once.
  auto status = info.uplink_status ? info.uplink_status() : std::vector<UplinkStatus>{};
  auto series = [&](const char* name, const char* type, const char* help, auto value) {
    os << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    for (const auto& u : status) os << name << "{uplink=\"" << u.name << "\"} " << value(u) << "\n";
  };
  series("vmgw_uplink_up", "gauge", "Whether the uplink's probes are answered (1) or not (0).",
         [](const UplinkStatus& u) { return u.state == UplinkState::up ? 1 : 0; });
  series("vmgw_uplink_carrier", "gauge", "Whether the uplink's link has carrier.",
         [](const UplinkStatus& u) { return u.carrier ? 1 : 0; });
  series("vmgw_uplink_rtt_seconds", "gauge", "Smoothed round-trip time of the uplink's probes.",
         [](const UplinkStatus& u) { return u.srtt_ms ? *u.srtt_ms / 1000 : 0.0; });
  series("vmgw_uplink_probe_loss_ratio", "gauge",
         "Unanswered fraction of the uplink's last 100 probe rounds.",
         [](const UplinkStatus& u) { return u.loss; });
  series("vmgw_uplink_probe_rounds_total", "counter", "Probe rounds sent through the uplink.",
         [](const UplinkStatus& u) { return u.rounds; });
  series("vmgw_uplink_transitions_total", "counter", "Times the uplink went down or up.",
         [](const UplinkStatus& u) { return u.transitions; });
  return os.str();
}

}  // namespace vmgw::daemon
