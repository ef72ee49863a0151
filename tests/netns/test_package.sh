#!/usr/bin/env bash
# The Debian package, installed as a user installs it: the .deb of scripts/package goes into a
# fresh Debian 12 root with apt-get (its dependencies come from Debian's mirror), which must then
# hold the groups vmgw and vmgw-ro, /var/lib/vmgw, the unit (dist/vmgwd.service as it is), the
# binaries, the man pages and the bash completion. vmgwd is started there with the unit's own
# ExecStart command line, inside the lab's gateway namespace, against the packaged example
# config: `vmgw status` answers through its socket, a VM added through the API gets its DHCP
# reservation, the completion offers its name. Then `apt-get purge vmgw` must leave no unit, no
# binary, no state.
#
# Caches, under /var/cache/vmgw-tests/ (nothing else outside the test's own directory is
# written, and nothing in the machine's own network namespace):
#   debian-root/KEY/root  a debootstrap minbase bookworm root with man-db, apt lists updated;
#                         KEY hashes its inputs (suite, mirror, variant, packages, architecture,
#                         debootstrap's version). Never changed: each run mounts an overlay on it.
#   apt-archives/         the .debs apt downloads into the root (its /var/cache/apt/archives)
#   deb/KEY/              the vmgw .deb of one source tree: KEY is the commit, plus a hash of the
#                         uncommitted changes if any. Built by scripts/package (into deb-build/)
#                         only when missing: a full build of the project takes minutes.
# VMGW_DEB=/path/vmgw_*.deb tests that package instead; VMGW_DEBIAN_MIRROR changes the mirror.
# Everything runs in a private mount namespace; every mount, namespace and process the test
# makes is removed at the end, also on failure (the lab's destroy hook below).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vmgw_private_mounts "$@"
vmgw_test_begin package
for t in debootstrap chroot flock dpkg-deb sha256sum; do
  command -v "$t" >/dev/null || vmgw_skip "missing tool: $t (scripts/setup installs it)"
done

cache=/var/cache/vmgw-tests
suite=bookworm
mirror=${VMGW_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"

# --- The package under test -------------------------------------------------------------------
deb_of_tree() {
  local src=$VMGW_SOURCE_DIR key dir built
  if ! key=$(git -C "$src" rev-parse HEAD 2>/dev/null); then
    vmgw_log "not a git checkout: building the package"
    VMGW_DEB_DIR=$cache/deb-build "$src/scripts/package" | tail -n 1
    return
  fi
  if [[ -n $(git -C "$src" status --porcelain) ]]; then
    key+=-$({
      git -C "$src" diff HEAD --binary
      git -C "$src" ls-files -z --others --exclude-standard | (cd "$src" && xargs -0 -r sha256sum)
    } | sha256sum | cut -c1-12)
  fi
  dir=$cache/deb/$key
  (
    flock 9
    if ! compgen -G "$dir/vmgw_*.deb" >/dev/null; then
      vmgw_log "no package of $key in $cache/deb: scripts/package (minutes)"
      built=$(VMGW_DEB_DIR=$cache/deb-build "$src/scripts/package" | tail -n 1)
      mkdir -p "$dir.tmp"
      cp "$built" "$dir.tmp/"
      rm -rf "$cache/deb-build/src"  # the build tree (hundreds of MB); ccache keeps the objects
      mv "$dir.tmp" "$dir"
      # Keep the five newest.
      find "$cache/deb" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn \
        | tail -n +6 | cut -d' ' -f2- | xargs -r rm -rf --
    fi
  ) 9>"$cache/deb.lock"
  compgen -G "$dir/vmgw_*.deb" | head -n 1
}
t0=$SECONDS
deb=${VMGW_DEB:-$(deb_of_tree)}
[[ -f $deb ]] || vmgw_die "no package: '$deb'"
version=$(dpkg-deb -f "$deb" Version)
vmgw_log "package $deb (version $version, $((SECONDS - t0)) s)"

# --- The Debian 12 root -----------------------------------------------------------------------
arch=$(dpkg --print-architecture)
recipe="v1 $suite $mirror minbase man-db $arch $(debootstrap --version)"
base=$cache/debian-root/$(sha256sum <<<"$recipe" | cut -c1-16)
if [[ ! -f $base/ready ]]; then
  (
    flock 9
    if [[ ! -f $base/ready ]]; then
      vmgw_log "debootstrap $suite into $base (once: $recipe)"
      rm -rf "$base.tmp"
      mkdir -p "$base.tmp"
      debootstrap --variant=minbase --include=man-db "$suite" "$base.tmp/root" "$mirror" \
        >"$base.tmp/debootstrap.log" 2>&1 || { tail -n 20 "$base.tmp/debootstrap.log" >&2; exit 1; }
      security=${mirror%/debian}/debian-security
      printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
        "$mirror" "$suite" "$mirror" "$suite" "$security" "$suite" >"$base.tmp/root/etc/apt/sources.list"
      chroot "$base.tmp/root" apt-get update -qq >"$base.tmp/apt-update.log" 2>&1 \
        || { cat "$base.tmp/apt-update.log" >&2; exit 1; }
      echo "$recipe" >"$base.tmp/ready"
      rm -rf "$base"
      mv "$base.tmp" "$base"
    fi
  ) 9>"$cache/debian-root.lock" || vmgw_die "could not make the Debian root"
  vmgw_log "Debian root ready ($((SECONDS - t0)) s so far)"
fi

# Per test: an overlay on the cached root (which stays as it is), with /proc, /dev and apt's
# download cache mounted inside. All of it under $VMGW_LAB, unmounted by the hook below.
ROOT=$VMGW_LAB/root
# shellcheck disable=SC2317  # called by vmgw_lab_destroy
package_unmount() {
  local dir=$1 root=$1/root p m
  # What runs in the root: the daemon and its dnsmasq (in the gateway namespace), anything else.
  vmgw_kill_recorded "$dir"
  [[ -n ${NS_GW:-} && -e /run/netns/$NS_GW ]] && { ip netns pids "$NS_GW" | xargs -r kill -9 2>/dev/null || true; }
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] && kill -9 "${p#/proc/}" 2>/dev/null
  done
  sleep 0.2
  # Deepest first; lazily if busy, so that removing the directory never reaches into a mount.
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  return 0
}
VMGW_LAB_DESTROY_HOOKS+=(package_unmount)
mkdir -p "$VMGW_LAB"/overlay/{upper,work} "$ROOT" "$cache/apt-archives/partial"
mount -t overlay overlay \
  -o "lowerdir=$base/root,upperdir=$VMGW_LAB/overlay/upper,workdir=$VMGW_LAB/overlay/work" "$ROOT"
mount -t proc proc "$ROOT/proc"
mount --rbind /dev "$ROOT/dev"
mount --bind "$cache/apt-archives" "$ROOT/var/cache/apt/archives"
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

# --- Install ----------------------------------------------------------------------------------
cp "$deb" "$ROOT/tmp/"
debname=/tmp/$(basename "$deb")
# The download cache is shared by every run of this test (two checkouts testing at once): apt's
# own lock on it fails at once, so runs take turns here (up to 10 minutes).
install_deb() {
  (
    flock -w 600 9 || exit 1
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "$debname" >>"$VMGW_LAB/logs/apt.log" 2>&1
  ) 9>"$cache/apt-archives.lock"
}
t1=$SECONDS
if ! install_deb; then
  vmgw_log "apt-get install failed: apt-get update in the root, and again"
  in_root apt-get update -qq >>"$VMGW_LAB/logs/apt.log" 2>&1 || true
  install_deb || { tail -n 30 "$VMGW_LAB/logs/apt.log"; vmgw_die "apt-get install $debname failed"; }
fi
vmgw_log "installed in $((SECONDS - t1)) s"
assert "dpkg says vmgw $version is installed" \
  bash -c "[[ \$(chroot '$ROOT' dpkg-query -W -f='\${Status} \${Version}' vmgw) == 'install ok installed $version' ]]"
assert "dnsmasq-base came with it" \
  bash -c "[[ \$(chroot '$ROOT' dpkg-query -W -f='\${Status}' dnsmasq-base) == 'install ok installed' ]]"
for g in vmgw vmgw-ro; do
  assert "group $g exists" bash -c "chroot '$ROOT' getent group '$g' >/dev/null"
done
assert "/var/lib/vmgw exists" test -d "$ROOT/var/lib/vmgw"
unit=$ROOT/lib/systemd/system/vmgwd.service
assert "the unit is dist/vmgwd.service, hardening included" cmp "$VMGW_SOURCE_DIR/dist/vmgwd.service" "$unit"
assert "the unit is not enabled (it needs /etc/vmgw/vmgw.yaml first)" \
  not test -e "$ROOT/etc/systemd/system/multi-user.target.wants/vmgwd.service"
tmpfiles=$ROOT/usr/lib/tmpfiles.d/vmgw.conf
assert "tmpfiles.d makes /run/vmgw" grep -qE '^d /run/vmgw ' "$tmpfiles"
assert "vmgw --version says $version" bash -c "[[ \$(chroot '$ROOT' vmgw --version) == 'vmgw $version' ]]"
assert "vmgwd --version says $version" bash -c "[[ \$(chroot '$ROOT' vmgwd --version) == 'vmgwd $version' ]]"
for page in 8:vmgw 8:vmgwd 5:vmgw.yaml; do
  assert "man -w ${page#*:}(${page%%:*})" bash -c \
    "[[ \$(chroot '$ROOT' man -w ${page%%:*} ${page#*:}) == /usr/share/man/man${page%%:*}/${page#*:}.${page%%:*}.gz ]]"
done
man_text=$(in_root env MANWIDTH=80 man -P cat vmgw 2>&1) || true
assert "man vmgw shows its commands" grep -q "vmgw vm add NAME" <<<"$man_text"
assert "the bash completion is installed" test -f "$ROOT/usr/share/bash-completion/completions/vmgw"
assert "the example config is in /usr/share/doc/vmgw/examples" test -f "$ROOT/usr/share/doc/vmgw/examples/daemon.yaml"

# --- Run it as the unit runs it ---------------------------------------------------------------
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
read -r -a argv <<<"$exec_start"
config=""
for ((i = 0; i < ${#argv[@]}; i++)); do
  [[ ${argv[i]} == --config ]] && config=${argv[i + 1]:-}
done
[[ -n $config ]] || vmgw_die "no --config in the unit's ExecStart: $exec_start"
mkdir -p "$ROOT$(dirname "$config")"
cp "$ROOT/usr/share/doc/vmgw/examples/daemon.yaml" "$ROOT$config"
# What systemd-tmpfiles would make from the package's entry (there is no systemd in the root).
while read -r type path mode user group _; do
  [[ $type == d ]] && install -d -m "$mode" -o "$user" -g "$group" "$ROOT$path"
done < <(grep -v '^#' "$tmpfiles")

vmgw_topology_up
vmgw_servers_up
vmgw_log "starting in $NS_GW: $exec_start"
echo "=== $(date +%T) $exec_start" >>"$VMGWD_LOG"
# ip netns exec gives the daemon a mount namespace of its own with the namespace's /sys; the same
# goes on the root's /sys there, and it goes with that namespace.
# shellcheck disable=SC2016  # expanded by that shell
ip netns exec "$NS_GW" bash -c 'mount -t sysfs sysfs "$0/sys" && exec chroot "$0" "$@"' \
  "$ROOT" "${argv[@]}" </dev/null >>"$VMGWD_LOG" 2>&1 &
VMGWD_PID=$!
echo "$VMGWD_PID" >>"$VMGW_LAB/pids"
disown "$VMGWD_PID" 2>/dev/null || true
vmgw_in() { timeout 30 ip netns exec "$NS_GW" chroot "$ROOT" vmgw "$@"; }
vmgw_wait_for 20 vmgw_in status || { tail -n 20 "$VMGWD_LOG"; vmgw_die "vmgwd did not answer within 20 s"; }
status=$(vmgw_in status 2>&1) || true
assert "vmgw status through the socket: vmgwd $version running" grep -q "running (vmgwd $version" <<<"$status"
assert "the socket is where the unit says" test -S "$ROOT/run/vmgw/vmgw.sock"
added=$(vmgw_in vm add web --network vmnet --mac "$LAB_WEB_MAC" --port vnet-web 2>&1) || true
assert "vm add through the API: $added" grep -q "vm web added: 10.10.0.2" <<<"$added"
assert "vmgw leases shows the reservation" bash -c "ip netns exec '$NS_GW' chroot '$ROOT' vmgw leases | grep -q '$LAB_WEB_MAC'"
vmgw_dhcp "$NS_WEB" || true
assert "the VM gets its reservation by DHCP from the root's dnsmasq" test "$(vmgw_ipv4_of "$NS_WEB")" = 10.10.0.2
# shellcheck disable=SC2016  # expanded by the root's bash
completion=$(in_root bash -c 'source /usr/share/bash-completion/completions/vmgw
  COMP_WORDS=(vmgw vm show ""); COMP_CWORD=3; _vmgw; printf "%s\n" "${COMPREPLY[@]}"') || true
assert "the completion offers the VM's name" grep -qx web <<<"$completion"
kill -TERM "$VMGWD_PID"
assert "vmgwd stops on SIGTERM" vmgw_daemon_wait_gone 10
assert "vmgwd said it stopped" grep -q "stopping; the kernel keeps the rules" "$VMGWD_LOG"
# Its dnsmasq outlives it (the unit's KillMode=process): stopped as systemd would on a purge.
ip netns pids "$NS_GW" | xargs -r kill 2>/dev/null || true

# --- Purge ------------------------------------------------------------------------------------
in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q vmgw >>"$VMGW_LAB/logs/apt.log" 2>&1 \
  || { tail -n 20 "$VMGW_LAB/logs/apt.log"; vmgw_die "apt-get purge vmgw failed"; }
assert "purged: dpkg knows no vmgw" not bash -c "chroot '$ROOT' dpkg-query -W vmgw 2>/dev/null"
for f in /usr/bin/vmgw /usr/sbin/vmgwd /lib/systemd/system/vmgwd.service /usr/lib/tmpfiles.d/vmgw.conf \
  /usr/share/man/man8/vmgw.8.gz /usr/share/bash-completion/completions/vmgw /var/lib/vmgw; do
  assert "purged: no $f" not test -e "$ROOT$f"
done
vmgw_log "test body took $((SECONDS - t0)) s"
vmgw_test_end
