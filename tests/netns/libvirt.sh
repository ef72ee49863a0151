# shellcheck shell=bash
# Globals are set here for the sourcing scripts:
# shellcheck disable=SC2034
# A real libvirt daemon with real qemu guests in a test's lab (tests/netns/lib.sh). Sourced
# after lib.sh, used after vmgw_test_begin (and usually vmgw_daemon_lab_up, which makes br-vm).
#
#   vmgw_libvirt_require            skip (77) unless qemu can run a guest here (KVM or TCG)
#   vmgw_libvirt_up                 libvirtd in the gateway namespace; VMGW_LIBVIRT_URI for virsh
#   vmgw_libvirt_define NAME MAC [XML] [CMDLINE]  a persistent domain: the test guest, one virtio NIC on
#                                   br-vm with MAC; XML (e.g. <filterref .../>) goes inside
#                                   <interface>
#   vmgw_libvirt ARGS...            virsh ARGS against this lab's libvirtd (bounded)
#   vmgw_libvirt_port NAME          the domain's tap device (vnetN), from its live XML
#   vmgw_libvirt_wait_lease NAME SECONDS   wait for the guest's DHCP lease; prints its address
#   vmgw_libvirt_qemu_pids          pids of the lab's qemu processes (none when all are gone)
#   vmgw_libvirt_down               destroy every domain, stop libvirtd (also run by the lab's
#                                   cleanup: a failing test leaves no process behind)
#
# The guest (tests/netns/tools/guest) is a Debian kernel and a busybox initramfs, built once and
# cached outside the tree; it takes an address by DHCP and answers on tcp/80 with
# "guest NAME seen-from CLIENT". Its console goes to $VMGW_LAB/logs/console-NAME.log.
#
# Isolation: libvirtd (Debian 12 ships libvirt 9.0 with the monolithic libvirtd only) runs
# inside the gateway namespace ($NS_GW) AND a mount namespace of its own in which the lab's
# directories are bind-mounted over /etc/libvirt (a copy of it plus our libvirtd.conf and
# qemu.conf), /run and /var. So every file libvirt and qemu write (sockets, pid files, domain
# XML, logs, capability cache) lands under $VMGW_LAB/libvirt and goes with the lab; the
# machine's own /etc/libvirt, /run and /var see nothing. The unix socket is at
# $VMGW_LAB/libvirt/run/libvirt/libvirt-sock, reachable from outside that mount namespace
# (vmgwd, virsh) with VMGW_LIBVIRT_URI. qemu runs as root without cgroups, without a private
# /dev and without a security driver: the lab is root-only, and none of these would add to
# what the tests check. Taps (vnetN) are created by libvirtd inside $NS_GW and plugged into
# the bridge named in the domain (br-vm).
#
# <filterref> in a domain (what libvirt 9.0 does here; test_libvirt_guest.sh checks it):
#   * libvirtd loads its nwfilter driver (part of libvirt-daemon) but the stock filters
#     (clean-traffic, no-spoofing, ...) come with libvirt-daemon-config-nwfilter, which the lab
#     does not install: a domain referencing one is defined, but "virsh start" fails with
#     "referenced filter 'clean-traffic' is missing". A test that wants one defines it first
#     (vmgw_libvirt nwfilter-define FILE).
#   * With a defined filter, starting the domain makes libvirt write rules for the tap, inside
#     the gateway namespace (where libvirtd runs) and nowhere else: layer-2 rules through
#     ebtables (Debian's is ebtables-nft: nft "table bridge nat", chains libvirt-I-vnetN,
#     libvirt-O-vnetN) and IP/TCP rules through iptables (iptables-nft: "table ip filter", chains
#     libvirt-in/-out/-host-in with physdev matches, FORWARD and INPUT hooks). These tables sit
#     beside vmgw's own in the gateway; vmgw neither owns nor removes them. libvirt removes them
#     when the domain stops. (The iptables rules match bridged traffic only where
#     br_netfilter is active, which the lab does not turn on.)
#   * Without <filterref>, libvirt adds no table at all.

VMGW_GUEST_TOOLS="${VMGW_GUEST_TOOLS:-$VMGW_SOURCE_DIR/tests/netns/tools/guest}"
# The CPU model given to KVM guests: "-cpu host" fails on this class of machine (an MSR qemu
# cannot set), a named model works. TCG guests get qemu64.
VMGW_GUEST_KVM_CPU="${VMGW_GUEST_KVM_CPU:-Nehalem}"
VMGW_GUEST_MEMORY_MIB="${VMGW_GUEST_MEMORY_MIB:-128}"
VMGW_LIBVIRT_CAPS_CACHE="${VMGW_LIBVIRT_CAPS_CACHE:-${VMGW_GUEST_CACHE:-/var/cache/vmgw-tests}/libvirt-qemu-capabilities}"

# vmgw_libvirt_paths: set the globals of this lab's libvirt (after vmgw_lab_init/load).
vmgw_libvirt_paths() {
  VMGW_LIBVIRT_DIR=$VMGW_LAB/libvirt
  VMGW_LIBVIRT_SOCK=$VMGW_LIBVIRT_DIR/run/libvirt/libvirt-sock
  VMGW_LIBVIRT_URI="qemu+unix:///system?socket=$VMGW_LIBVIRT_SOCK"
}

# vmgw_libvirt_guest: build (once, cached) the guest; sets VMGW_GUEST_DIR. A failure here is an
# environment failure (no package lists, no registry): the test fails, it is not skipped.
vmgw_libvirt_guest() {
  if [[ -z ${VMGW_GUEST_DIR:-} || ! -f $VMGW_GUEST_DIR/manifest ]]; then
    VMGW_GUEST_DIR=$(timeout 900 "$VMGW_GUEST_TOOLS/build-guest" --quiet) ||
      vmgw_die "could not build the test guest (tests/netns/tools/guest/build-guest)"
  fi
  # The uncompressed kernel boots twice as fast under TCG (no xz to undo); VMGW_GUEST_KERNEL
  # may name another (e.g. $VMGW_GUEST_DIR/vmlinuz, the bzImage as Debian ships it).
  if [[ -z ${VMGW_GUEST_KERNEL:-} ]]; then
    VMGW_GUEST_KERNEL=$VMGW_GUEST_DIR/vmlinux
    [[ -f $VMGW_GUEST_KERNEL ]] || VMGW_GUEST_KERNEL=$VMGW_GUEST_DIR/vmlinuz
  fi
}

# vmgw_qemu_boots ACCEL CPU SECONDS: boot the guest with qemu directly (no network, no libvirt,
# the console to a scratch file) and succeed when its init speaks within SECONDS. Prints the
# seconds it took.
vmgw_qemu_boots() {
  local accel=$1 cpu=$2 limit=$3 con pid start rc=1
  con=$(mktemp "${TMPDIR:-/tmp}/vmgw-guest-probe.XXXXXX")
  start=$(date +%s%N)
  timeout "$((limit + 5))" qemu-system-x86_64 -machine "pc,accel=$accel" -cpu "$cpu" \
    -m "$VMGW_GUEST_MEMORY_MIB" -smp 1 -nodefaults -display none -no-reboot -nic none \
    -serial "file:$con" -kernel "$VMGW_GUEST_KERNEL" -initrd "$VMGW_GUEST_DIR/initrd.img" \
    -append "console=ttyS0 loglevel=4 panic=-1 vmgw.name=probe" </dev/null >/dev/null 2>&1 &
  pid=$!
  if vmgw_wait_for "$limit" grep -q 'vmgw-guest: probe: booted' "$con"; then
    rc=0
    echo "$((($(date +%s%N) - start) / 1000000))"
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f -- "$con"
  return $rc
}

# vmgw_libvirt_accel: choose how guests run; sets VMGW_GUEST_ACCEL (kvm or tcg) and
# VMGW_GUEST_CPU. VMGW_GUEST_ACCEL=kvm|tcg set by the caller is obeyed. Otherwise KVM when
# /dev/kvm can be opened and the guest boots under it in 20 s, else TCG (which works wherever
# qemu runs). The answer is remembered per machine (host kernel and CPU) in the guest's cache
# directory, so only the first test on a machine pays for the probe. Returns non-zero when
# neither works.
vmgw_libvirt_accel() {
  local cache key ms
  vmgw_libvirt_guest
  case ${VMGW_GUEST_ACCEL:-} in
    kvm) VMGW_GUEST_CPU=$VMGW_GUEST_KVM_CPU; return 0 ;;
    tcg) VMGW_GUEST_CPU=qemu64; return 0 ;;
    "") ;;
    *) vmgw_die "VMGW_GUEST_ACCEL must be kvm or tcg, not '$VMGW_GUEST_ACCEL'" ;;
  esac
  key=$( { uname -r; grep -m1 '^model name' /proc/cpuinfo; echo "$VMGW_GUEST_KVM_CPU ${VMGW_GUEST_KERNEL##*/}"; } |
    sha256sum | cut -c1-12)
  cache=$VMGW_GUEST_DIR/accel-$key
  if [[ -s $cache ]]; then
    VMGW_GUEST_ACCEL=$(cat "$cache")
  elif [[ -r /dev/kvm && -w /dev/kvm ]] &&
    ms=$(vmgw_qemu_boots kvm "$VMGW_GUEST_KVM_CPU" 20); then
    vmgw_log "KVM boots the guest (cpu $VMGW_GUEST_KVM_CPU) in $ms ms"
    VMGW_GUEST_ACCEL=kvm
  elif ms=$(vmgw_qemu_boots tcg qemu64 60); then
    vmgw_log "KVM cannot boot the guest here; TCG boots it in $ms ms"
    VMGW_GUEST_ACCEL=tcg
  else
    return 1
  fi
  [[ -s $cache ]] || { echo "$VMGW_GUEST_ACCEL" >"$cache.$$" && mv -f "$cache.$$" "$cache"; }
  if [[ $VMGW_GUEST_ACCEL == kvm ]]; then VMGW_GUEST_CPU=$VMGW_GUEST_KVM_CPU; else VMGW_GUEST_CPU=qemu64; fi
}

# vmgw_libvirt_require: skip unless the test can run guests. Missing packages are NOT a skip
# (scripts/setup installs them): a missing libvirtd, virsh or qemu fails the test. Only a
# machine where neither KVM nor TCG can boot the guest skips.
vmgw_libvirt_require() {
  local t
  for t in libvirtd virsh qemu-system-x86_64 unshare flock; do
    command -v "$t" >/dev/null 2>&1 || vmgw_die "missing $t: run scripts/setup"
  done
  vmgw_libvirt_accel || vmgw_skip "qemu can boot no guest here (neither KVM nor TCG)"
  vmgw_log "guests run under $VMGW_GUEST_ACCEL (cpu $VMGW_GUEST_CPU), $VMGW_GUEST_DIR"
}

# vmgw_libvirt ARGS...: virsh against this lab's libvirtd. Bounded (30 s).
vmgw_libvirt() {
  timeout 30 virsh -q -c "$VMGW_LIBVIRT_URI" "$@"
}

# vmgw_libvirt_up: start libvirtd for this lab and wait (at most 30 s) until virsh answers.
vmgw_libvirt_up() {
  local d pid deadline
  vmgw_libvirt_paths
  [[ -n ${VMGW_GUEST_ACCEL:-} ]] || vmgw_libvirt_require
  d=$VMGW_LIBVIRT_DIR
  mkdir -p "$d"/{etc,run/libvirt,var/lib/libvirt,var/cache/libvirt,var/log/libvirt,var/tmp}
  chmod 1777 "$d/var/tmp"
  ln -sfn /run "$d/var/run"
  ln -sfn /run/lock "$d/var/lock"
  mkdir -p "$d/run/lock"
  cp -a /etc/libvirt/. "$d/etc/"
  # libvirtd sees the lab's /var, not the machine's: the guest's files are linked (or copied)
  # into the lab, where qemu can open them.
  mkdir -p "$d/guest"
  ln -f "$VMGW_GUEST_KERNEL" "$d/guest/kernel" 2>/dev/null || cp "$VMGW_GUEST_KERNEL" "$d/guest/kernel"
  ln -f "$VMGW_GUEST_DIR/initrd.img" "$d/guest/" 2>/dev/null || cp "$VMGW_GUEST_DIR/initrd.img" "$d/guest/"
  # libvirt 9.0's qemu driver looks its compiled-in user up before it reads qemu.conf, and
  # fails without it; the package that creates that user (libvirt-daemon-system) would also
  # set up services and a default network on the machine. So libvirtd sees copies of
  # /etc/passwd and /etc/group with the user added; the machine's files are not changed.
  cp /etc/passwd "$d/passwd"
  cp /etc/group "$d/group"
  grep -q '^libvirt-qemu:' "$d/passwd" ||
    echo 'libvirt-qemu:x:64055:64055:vmgw test lab:/var/lib/libvirt:/usr/sbin/nologin' >>"$d/passwd"
  grep -q '^libvirt-qemu:' "$d/group" || echo 'libvirt-qemu:x:64055:' >>"$d/group"
  grep -q '^kvm:' "$d/group" || echo 'kvm:x:64056:' >>"$d/group"
  # Only the local unix socket; no TCP, no TLS; logs into the lab.
  cat >"$d/etc/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 0
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_level = 3
log_outputs = "3:file:$VMGW_LAB/logs/libvirtd.log"
EOF
  # qemu as root without cgroups, namespaces, security labels or virtlogd: nothing outside the
  # lab's directories is touched (see the header).
  cat >"$d/etc/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
lock_manager = "nop"
swtpm_user = "root"
swtpm_group = "root"
EOF
  # libvirtd probes qemu's capabilities before it answers (seconds; most of its start-up). The
  # probe's result is kept between labs in $VMGW_LIBVIRT_CAPS_CACHE (see vmgw_libvirt_down);
  # libvirtd checks a cached probe against qemu's and its own binaries, the kernel and the CPU
  # and probes again when anything changed, so a stale copy costs only the probe.
  mkdir -p "$d/var/cache/libvirt/qemu/capabilities"
  cp "$VMGW_LIBVIRT_CAPS_CACHE"/*.xml "$d/var/cache/libvirt/qemu/capabilities/" 2>/dev/null || true
  # A second start in one lab (libvirtd restarted): the last one's pid must not read as this one
  # having exited.
  rm -f "$d/pid"
  echo "=== $(date +%T) starting libvirtd" >>"$VMGW_LAB/logs/libvirtd.out"
  # The mounts exist only in the new mount namespace (private propagation): they go when
  # libvirtd and its qemus exit. /run and /var are replaced whole, so libvirtd finds no D-Bus,
  # systemd or firewalld of the machine and runs on its own.
  # shellcheck disable=SC2016  # expanded by the inner bash
  ip netns exec "$NS_GW" setsid unshare --mount --propagation private -- bash -c '
    set -e
    d=$1
    mount --bind "$d/etc" /etc/libvirt
    mount --bind "$d/passwd" /etc/passwd
    mount --bind "$d/group" /etc/group
    mount --bind "$d/run" /run
    mount --bind "$d/var" /var
    echo $$ >"$d/pid"
    exec libvirtd --config /etc/libvirt/libvirtd.conf --pid-file /run/libvirtd.pid
  ' vmgw-libvirtd "$d" </dev/null >>"$VMGW_LAB/logs/libvirtd.out" 2>&1 &
  disown 2>/dev/null || true
  VMGW_LAB_DESTROY_HOOKS+=(vmgw_libvirt_down)
  deadline=$((SECONDS + 30))
  until vmgw_libvirt_answers; do
    pid=$(cat "$d/pid" 2>/dev/null || true)
    if [[ -n $pid ]] && ! vmgw_is_proc "$pid" ""; then
      vmgw_log "libvirtd exited while starting:"
      tail -n 20 "$VMGW_LAB/logs/libvirtd.out" "$VMGW_LAB/logs/libvirtd.log" >&2 2>/dev/null
      return 1
    fi
    if ((SECONDS >= deadline)); then
      vmgw_log "libvirtd did not answer within 30 s"
      tail -n 20 "$VMGW_LAB/logs/libvirtd.out" "$VMGW_LAB/logs/libvirtd.log" >&2 2>/dev/null
      return 1
    fi
    sleep 0.2
  done
  vmgw_log "libvirtd up (pid $(cat "$d/pid"), $VMGW_LIBVIRT_URI)"
}

vmgw_libvirt_answers() {
  [[ -S $VMGW_LIBVIRT_SOCK ]] && timeout 5 virsh -q -c "$VMGW_LIBVIRT_URI" version >/dev/null 2>&1
}

# vmgw_libvirt_define NAME MAC [INTERFACE_XML] [CMDLINE]: define (persistently; not start) a domain with
# 1 vCPU, $VMGW_GUEST_MEMORY_MIB MiB, the guest kernel booted directly with vmgw.name=NAME,
# and one virtio NIC of type bridge on br-vm (VMGW_LIBVIRT_BRIDGE overrides) with MAC.
# INTERFACE_XML is added inside <interface> (a <filterref>, a <target dev=.../>, ...); CMDLINE
# is added to the guest's kernel command line (vmgw.spoof=ADDR vmgw.probe=TARGET: the guest
# also pings TARGET from ADDR, not its own address; tools/guest/init).
vmgw_libvirt_define() {
  local name=$1 mac=$2 extra=${3:-} cmdline=${4:-} type=qemu xml
  [[ $VMGW_GUEST_ACCEL == kvm ]] && type=kvm
  xml=$VMGW_LIBVIRT_DIR/$name.xml
  cat >"$xml" <<EOF
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>$VMGW_GUEST_MEMORY_MIB</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$VMGW_LIBVIRT_DIR/guest/kernel</kernel>
    <initrd>$VMGW_LIBVIRT_DIR/guest/initrd.img</initrd>
    <cmdline>console=ttyS0 loglevel=4 panic=-1 vmgw.name=$name${cmdline:+ $cmdline}</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>$VMGW_GUEST_CPU</model>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <interface type='bridge'>
      <source bridge='${VMGW_LIBVIRT_BRIDGE:-br-vm}'/>
      <mac address='$mac'/>
      <model type='virtio'/>
      $extra
    </interface>
    <serial type='file'>
      <source path='$VMGW_LAB/logs/console-$name.log'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
  vmgw_libvirt define "$xml" >/dev/null
}

# vmgw_libvirt_port NAME: the tap device of NAME's (first) interface, from its live XML.
vmgw_libvirt_port() {
  vmgw_libvirt dumpxml "$1" | sed -n "s/.*<target dev='\([^']*\)'.*/\1/p" | grep '^vnet' | head -n 1
}

# vmgw_libvirt_wait_lease NAME SECONDS: wait until the guest's console reports a DHCP lease;
# prints the address. Fails after SECONDS.
vmgw_libvirt_wait_lease() {
  local con=$VMGW_LAB/logs/console-$1.log
  vmgw_wait_for "$2" grep -q "vmgw-guest: $1: lease " "$con" || return 1
  tr -d '\r' <"$con" | sed -n "s/^vmgw-guest: $1: lease \([0-9.]*\) .*/\1/p" | tail -n 1
}

# vmgw_libvirt_qemu_pids: the pids of qemu processes in the lab's gateway namespace.
vmgw_libvirt_qemu_pids() {
  local pid
  for pid in $(ip netns pids "$NS_GW" 2>/dev/null); do
    vmgw_is_proc "$pid" qemu-system && echo "$pid"
  done
  return 0
}

# vmgw_libvirt_down: destroy every running domain, then stop libvirtd (SIGTERM, 10 s, SIGKILL)
# and kill any qemu left in the gateway namespace. Idempotent, never fails (it runs from the
# lab's cleanup).
vmgw_libvirt_down() {
  local d=${VMGW_LIBVIRT_DIR:-} pid dom deadline
  [[ -n $d && -d $d ]] || return 0
  if vmgw_libvirt_answers; then
    for dom in $(timeout 10 virsh -q -c "$VMGW_LIBVIRT_URI" list --name 2>/dev/null); do
      timeout 10 virsh -q -c "$VMGW_LIBVIRT_URI" destroy "$dom" >/dev/null 2>&1 || true
    done
  fi
  pid=$(cat "$d/pid" 2>/dev/null || true)
  if [[ -n $pid ]] && vmgw_is_proc "$pid" libvirtd; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while vmgw_is_proc "$pid" libvirtd && ((SECONDS < deadline)); do sleep 0.1; done
    vmgw_is_proc "$pid" libvirtd && kill -9 "$pid" 2>/dev/null
  fi
  for pid in $(vmgw_libvirt_qemu_pids); do kill -9 "$pid" 2>/dev/null || true; done
  vmgw_libvirt_save_caps "$d"
  return 0
}

# vmgw_libvirt_save_caps DIR: keep libvirtd's probe of qemu for the next lab (written aside and
# renamed: labs may stop at the same time). Never fails.
vmgw_libvirt_save_caps() {
  local src=$1/var/cache/libvirt/qemu/capabilities f
  for f in "$src"/*.xml; do
    [[ -s $f ]] || continue
    mkdir -p "$VMGW_LIBVIRT_CAPS_CACHE" 2>/dev/null || return 0
    cp "$f" "$VMGW_LIBVIRT_CAPS_CACHE/.${f##*/}.$$" 2>/dev/null &&
      mv -f "$VMGW_LIBVIRT_CAPS_CACHE/.${f##*/}.$$" "$VMGW_LIBVIRT_CAPS_CACHE/${f##*/}" 2>/dev/null
  done
  return 0
}
