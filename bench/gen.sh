# shellcheck shell=bash
# shellcheck disable=SC2034  # the constants are used by the scripts that source this file
# Generators of the benchmark's scenarios: vmgw's YAML configuration with N VMs (each bound to
# clean-traffic and a filter of its own with 10 rules), port forwards and elastic IPs; the same
# policy as a "linear" ruleset (libvirt's layout: per-VM chains reached by one jump per
# interface) for nft (layer 2, the ebtables part) and iptables-restore (IP filter and NAT).
# Everything is written with awk: a bash loop over 10 000 VMs would take longer than what it
# generates takes to apply.
#
# The scenario, shared by every generator (VM index i = 0 .. N-1):
#   VM i: name vm-%05d, MAC 52:54:00:ab:HH:LL (HH.LL = i), address 10.0.0.10 + i in 10.0.0.0/16,
#         bridge port vnet<i>, management source 192.168.HH.LL, service port 20000 + i.
#   uplink wan0 198.18.0.2/24 via 198.18.0.1 (the internet namespace's address).
#   port forward k (k = 0 .. F-1): 198.18.0.2:(10000 + k)/tcp -> VM (k mod N):80.
#   elastic IP e (e = 0 .. E-1): 198.19.0.0/22 + e, bound to VM e.
# The bench's traffic: UDP from the last VM to 198.18.0.1:9000, allowed by rule 9 of its filter.

BENCH_NET=10.0.0.0/16
BENCH_NET_GW=10.0.0.1
BENCH_UPLINK_ADDR=198.18.0.2
BENCH_INET_ADDR=198.18.0.1
BENCH_EIP_POOL=198.19.0.0/22
BENCH_UDP_PORT=9000

# The awk helpers every generator uses: VM i's address, MAC, name.
# shellcheck disable=SC2016  # awk code, expanded by awk
BENCH_AWK_LIB='
function ip(i,  a) { a = 10 + i; return "10.0." int(a / 256) "." (a % 256) }
function mac(i) { return sprintf("52:54:00:ab:%02x:%02x", int(i / 256) % 256, i % 256) }
function mac_hex(i) { return sprintf("0x525400ab%02x%02x", int(i / 256) % 256, i % 256) }
function name(i) { return sprintf("vm-%05d", i) }
function mgmt(i) { return "192.168." (int(i / 256) % 256) "." (i % 256) }
function eip(e) { return "198.19." int(e / 256) "." (e % 256) }
'

# bench_vm_ip I: VM I's address (for the scripts that set up the sender).
bench_vm_ip() { awk -v i="$1" "$BENCH_AWK_LIB"'BEGIN { print ip(i) }'; }
bench_vm_mac() { awk -v i="$1" "$BENCH_AWK_LIB"'BEGIN { print mac(i) }'; }
bench_vm_name() { awk -v i="$1" "$BENCH_AWK_LIB"'BEGIN { print name(i) }'; }

# The 10 rules of VM i's own filter, as nwfilter XML lines. Rules 1 and 4 name values of the VM
# alone (its management source and service port, which wraps after 40 000 VMs since ports end at
# 65535): what per-VM policies look like. vmgw hoists those values into sets, so that all VMs
# share one program; before, no two VMs shared chains.
# shellcheck disable=SC2016
BENCH_AWK_RULES='
function rules(i) {
  return \
  "  <rule action=\"accept\" direction=\"in\" priority=\"100\"><tcp srcipaddr=\"" mgmt(i) "\" dstportstart=\"22\"/></rule>\n" \
  "  <rule action=\"accept\" direction=\"in\" priority=\"100\"><tcp dstportstart=\"80\"/></rule>\n" \
  "  <rule action=\"accept\" direction=\"in\" priority=\"100\"><tcp dstportstart=\"443\"/></rule>\n" \
  "  <rule action=\"accept\" direction=\"in\" priority=\"100\"><udp dstportstart=\"" (20000 + i % 40000) "\"/></rule>\n" \
  "  <rule action=\"accept\" direction=\"in\" priority=\"100\"><icmp/></rule>\n" \
  "  <rule action=\"drop\" direction=\"out\" priority=\"200\"><tcp dstportstart=\"25\"/></rule>\n" \
  "  <rule action=\"accept\" direction=\"out\" priority=\"300\"><udp dstportstart=\"53\"/></rule>\n" \
  "  <rule action=\"accept\" direction=\"out\" priority=\"300\"><tcp/></rule>\n" \
  "  <rule action=\"accept\" direction=\"out\" priority=\"400\"><udp dstportstart=\"9000\" dstportend=\"9099\"/></rule>\n" \
  "  <rule action=\"drop\" direction=\"inout\" priority=\"900\"><all/></rule>\n"
}
'

# bench_gen_filters DIR N: DIR/vm-<i>.xml for every VM, each "<filter name='vm-%05d'>".
bench_gen_filters() {
  local dir=$1 n=$2
  mkdir -p "$dir"
  awk -v n="$n" -v dir="$dir" "$BENCH_AWK_LIB$BENCH_AWK_RULES"'
    BEGIN {
      for (i = 0; i < n; i++) {
        f = dir "/" name(i) ".xml"
        printf "<filter name=\"%s\" chain=\"root\">\n%s</filter>\n", name(i), rules(i) > f
        close(f)
      }
    }'
}

# bench_gen_shared_filter FILE VERSION: the filter "tenant" all VMs of the daemon scenario use,
# for the redefinition benchmark: VERSION changes one port, so every VM's rules change.
bench_gen_shared_filter() {
  cat >"$1" <<XML
<filter name='tenant' chain='root'>
  <rule action='drop' direction='out' priority='150'><tcp dstportstart='$((6000 + $2 % 1000))'/></rule>
  <rule action='drop' direction='in' priority='150'><udp dstportstart='137' dstportend='139'/></rule>
</filter>
XML
}

# bench_gen_yaml FILE N FORWARDS EIPS FILTER_DIR: vmgw's configuration (for vmgw apply).
bench_gen_yaml() {
  local file=$1 n=$2 fwd=$3 eips=$4 fdir=$5
  awk -v n="$n" -v fwd="$fwd" -v eips="$eips" -v fdir="$fdir" "$BENCH_AWK_LIB"'
    BEGIN {
      print "uplinks:"
      print "  - {name: up, device: wan0, address: 198.18.0.2/24, gateway: 198.18.0.1}"
      print "networks:"
      print "  - {name: vms, bridge: br-vm, subnet: 10.0.0.0/16, gateway: 10.0.0.1, masquerade: [up]}"
      print "filters:"
      for (i = 0; i < n; i++) printf "  - %s/%s.xml\n", fdir, name(i)
      print "vms:"
      for (i = 0; i < n; i++)
        printf "  - {name: %s, network: vms, mac: \"%s\", ip: %s, port: vnet%d, filters: [{filter: clean-traffic}, {filter: %s}]}\n",
          name(i), mac(i), ip(i), i, name(i)
      if (fwd > 0) {
        print "port_forwards:"
        for (k = 0; k < fwd; k++)
          printf "  - {public: \"198.18.0.2:%d\", proto: tcp, to: \"%s:80\"}\n", 10000 + k, name(k % n)
      }
      if (eips > 0) {
        print "elastic_ips:"
        print "  pools:"
        print "    - {name: public, uplink: up, cidr: 198.19.0.0/22}"
        print "  bindings:"
        for (e = 0; e < eips; e++) printf "    - {address: %s, vm: %s}\n", eip(e), name(e)
      }
    }' >"$file"
}

# The "linear" baseline: libvirt's nwfilter layout (and OpenStack's iptables-hybrid one), where
# each packet walks a list with one jump per VM interface until its own interface matches.
# The sender (VM 0) is put LAST in every list: the worst case, which is also the average case
# of a busy host where every VM sends (on average a packet walks half the list; see
# docs/performance.md).
# Lists are generated in the order 1, 2, ..., N-1, 0.

# bench_gen_linear_l2 FILE N: the layer-2 part (libvirt's ebtables rules, here native nft in the
# bridge family): per VM a chain of clean-traffic's checks (MAC, IP and ARP anti-spoofing, only
# IPv4 and ARP), reached from prerouting by "iifname vnetK jump"; frames to the VM from
# postrouting by "oifname vnetK jump". The file replaces the table when loaded again.
bench_gen_linear_l2() {
  local file=$1 n=$2
  awk -v n="$n" "$BENCH_AWK_LIB"'
    function order(k) { return (k < n - 1) ? k + 1 : 0 }
    BEGIN {
      print "table bridge linear"
      print "delete table bridge linear"
      print "table bridge linear {"
      for (k = 0; k < n; k++) {
        i = order(k)
        printf "  chain I-vnet%d {\n", i
        printf "    ether saddr != %s drop\n", mac(i)
        printf "    ip saddr 0.0.0.0 udp dport 67 accept\n"
        printf "    ip saddr != %s drop\n", ip(i)
        printf "    arp saddr ether != %s drop\n", mac(i)
        printf "    arp saddr ip != %s drop\n", ip(i)
        printf "    ether type ip accept\n"
        printf "    ether type arp accept\n"
        printf "    drop\n  }\n"
        printf "  chain O-vnet%d {\n", i
        printf "    ether type ip accept\n"
        printf "    ether type arp accept\n"
        printf "    drop\n  }\n"
      }
      print "  chain prerouting {"
      print "    type filter hook prerouting priority -300; policy accept;"
      for (k = 0; k < n; k++) printf "    iifname \"vnet%d\" jump I-vnet%d\n", order(k), order(k)
      print "  }"
      print "  chain postrouting {"
      print "    type filter hook postrouting priority 300; policy accept;"
      for (k = 0; k < n; k++) printf "    oifname \"vnet%d\" jump O-vnet%d\n", order(k), order(k)
      print "  }"
      print "}"
    }' >"$file"
}

# bench_gen_linear_ipt FILE N FORWARDS EIPS: the IP part and the NAT, for iptables-restore
# (iptables-nft): libvirt's FORWARD layout, "-m physdev --physdev-in vnetK -g FI-vnetK" per VM
# (traffic from the VM) and "--physdev-out vnetK" (to it), host input likewise; each per-VM
# chain returns at once for established flows (as OpenStack's per-port chains do), then holds
# the VM's 10 rules. The gateway's policy follows the lists (replies, the VM network may open
# connections, DNATed flows in). NAT: one DNAT rule per port forward and per elastic IP, one
# SNAT rule per elastic IP, and the network's masquerade.
bench_gen_linear_ipt() {
  local file=$1 n=$2 fwd=$3 eips=$4
  awk -v n="$n" -v fwd="$fwd" -v eips="$eips" "$BENCH_AWK_LIB"'
    function order(k) { return (k < n - 1) ? k + 1 : 0 }
    BEGIN {
      print "*filter"
      print ":INPUT DROP [0:0]"
      print ":FORWARD DROP [0:0]"
      print ":OUTPUT ACCEPT [0:0]"
      print ":libvirt-in - [0:0]"
      print ":libvirt-out - [0:0]"
      print ":libvirt-host-in - [0:0]"
      for (k = 0; k < n; k++) { i = order(k); printf ":FI-vnet%d - [0:0]\n:FO-vnet%d - [0:0]\n:HI-vnet%d - [0:0]\n", i, i, i }
      print "-A INPUT -j libvirt-host-in"
      print "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
      print "-A INPUT -i lo -j ACCEPT"
      print "-A INPUT -p icmp --icmp-type echo-request -j ACCEPT"
      print "-A FORWARD -j libvirt-in"
      print "-A FORWARD -j libvirt-out"
      print "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
      print "-A FORWARD -m conntrack --ctstate INVALID -j DROP"
      print "-A FORWARD -i br-vm -j ACCEPT"
      print "-A FORWARD -m conntrack --ctstate DNAT -j ACCEPT"
      for (k = 0; k < n; k++) printf "-A libvirt-in -m physdev --physdev-in vnet%d -g FI-vnet%d\n", order(k), order(k)
      for (k = 0; k < n; k++) printf "-A libvirt-out -m physdev --physdev-is-bridged --physdev-out vnet%d -g FO-vnet%d\n", order(k), order(k)
      for (k = 0; k < n; k++) printf "-A libvirt-host-in -m physdev --physdev-in vnet%d -g HI-vnet%d\n", order(k), order(k)
      for (k = 0; k < n; k++) {
        i = order(k)
        for (h = 0; h < 2; h++) {
          c = (h == 0 ? "FI" : "HI") "-vnet" i
          printf "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n", c
          printf "-A %s -p tcp --dport 25 -j DROP\n", c
          printf "-A %s -p udp --dport 53 -j RETURN\n", c
          printf "-A %s -p tcp -j RETURN\n", c
          printf "-A %s -p udp --dport 9000:9099 -j RETURN\n", c
          printf "-A %s -j DROP\n", c
        }
        c = "FO-vnet" i
        printf "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n", c
        printf "-A %s -s %s/32 -p tcp --dport 22 -j RETURN\n", c, mgmt(i)
        printf "-A %s -p tcp --dport 80 -j RETURN\n", c
        printf "-A %s -p tcp --dport 443 -j RETURN\n", c
        printf "-A %s -p udp --dport %d -j RETURN\n", c, 20000 + i
        printf "-A %s -p icmp -j RETURN\n", c
        printf "-A %s -j DROP\n", c
      }
      print "COMMIT"
      print "*nat"
      print ":PREROUTING ACCEPT [0:0]"
      print ":INPUT ACCEPT [0:0]"
      print ":OUTPUT ACCEPT [0:0]"
      print ":POSTROUTING ACCEPT [0:0]"
      for (k = 0; k < fwd; k++)
        printf "-A PREROUTING -d 198.18.0.2/32 -p tcp --dport %d -j DNAT --to-destination %s:80\n", 10000 + k, ip(k % n)
      for (e = 0; e < eips; e++) printf "-A PREROUTING -d %s/32 -j DNAT --to-destination %s\n", eip(e), ip(e)
      for (e = 0; e < eips; e++) printf "-A POSTROUTING -s %s/32 -o wan0 -j SNAT --to-source %s\n", ip(e), eip(e)
      print "-A POSTROUTING -s 10.0.0.0/16 -o wan0 -j MASQUERADE"
      print "COMMIT"
    }' >"$file"
}

# bench_gen_seed FILE N FORWARDS EIPS FILTER_DIR SHARED_FILTER: the objects of the daemon
# scenario for vmgw-bench-seed: the filters, N VMs bound to clean-traffic, their own filter and
# the shared filter "tenant", the forwards, the elastic IPs (allocated from pool "public" and
# bound, plus one allocated and unbound), as the YAML scenario.
bench_gen_seed() {
  local file=$1 n=$2 fwd=$3 eips=$4 fdir=$5 shared=$6
  awk -v n="$n" -v fwd="$fwd" -v eips="$eips" -v fdir="$fdir" -v shared="$shared" "$BENCH_AWK_LIB"'
    BEGIN {
      printf "filter tenant %s\n", shared
      for (i = 0; i < n; i++) printf "filter %s %s/%s.xml\n", name(i), fdir, name(i)
      for (i = 0; i < n; i++)
        printf "vm %s vms %s %s vnet%d clean-traffic,%s,tenant\n", name(i), mac(i), ip(i), i, name(i)
      for (e = 0; e < eips; e++) printf "eip %s public %s\n", eip(e), name(e)
      # One more, allocated and unbound: the one the bind operations of B2 move from VM to VM.
      printf "eip %s public -\n", eip(eips)
      for (k = 0; k < fwd; k++) printf "forward 198.18.0.2 tcp %d %s 80\n", 10000 + k, name(k % n)
    }' >"$file"
}

# bench_gen_topology FILE: vmgwd's config file (the topology only; VMs come from its store).
bench_gen_topology() {
  cat >"$1" <<'YAML'
uplinks:
  - {name: up, device: wan0, address: 198.18.0.2/24, gateway: 198.18.0.1}
networks:
  - {name: vms, bridge: br-vm, subnet: 10.0.0.0/16, gateway: 10.0.0.1, masquerade: [up]}
elastic_ips:
  pools:
    - {name: public, uplink: up, cidr: 198.19.0.0/22}
YAML
}
