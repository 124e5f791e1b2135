#!/usr/bin/env bash
# Node bootstrap for crisp: installs what it needs, builds release binaries and installs them, writes the
# configuration and the CNI, crictl, kernel and systemd pieces, and starts crisp where systemd runs.
# Idempotent: run it again to upgrade the binaries; files it did not create are never overwritten.
#
# usage: deploy/install.sh [--from-containerd FILE] [--uninstall]
#                          [--destdir DIR] [--binaries DIR] [--no-packages]
#   --from-containerd FILE  write /etc/crisp/config.toml from containerd's config.toml (crisp config import-containerd)
#   --uninstall             remove exactly what an earlier run installed (its manifest), nothing else
#   --destdir DIR           install under DIR instead of / (packaging, tests); the running kernel,
#                           systemd and the Debian packages are then left alone
#   --binaries DIR          install crisp, crisp-shim, crisp-pause and crispctl from DIR instead of building
#   --no-packages           do not apt-get install the Debian packages
set -euo pipefail

destdir="" binaries="" from_containerd="" uninstall=0 packages=1
# Paths given on the command line are the caller's: made absolute before the script changes directory.
while [ $# -gt 0 ]; do
  case "$1" in
    --destdir) destdir=$(realpath -m "$2"); [ "$destdir" = / ] && destdir=""; shift 2 ;;
    --binaries) binaries=$(realpath -m "$2"); shift 2 ;;
    --from-containerd) from_containerd=$(realpath -m "$2"); shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    --no-packages) packages=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
cd "$(dirname "$0")/.."
[ -z "$destdir" ] || mkdir -p "$destdir"

manifest="$destdir/var/lib/crisp/install-manifest"
systemd_running=0
if [ -z "$destdir" ] && [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then systemd_running=1; fi

if [ "$uninstall" = 1 ]; then
  [ -f "$manifest" ] || { echo "install.sh: nothing to uninstall ($manifest not found)"; exit 0; }
  if [ "$systemd_running" = 1 ]; then
    systemctl disable --now crisp.service 2>/dev/null || true
  fi
  mapfile -t installed < <(tac "$manifest")
  rm -f "$manifest"
  # Newest first, so files go before the directories they were made in (the manifest's own included). A
  # file whose content changed since (an edited config) or a link pointing elsewhere is the operator's now.
  for entry in "${installed[@]}"; do
    IFS=$'\t' read -r kind path detail <<< "$entry"
    target="$destdir$path"
    case "$kind" in
      file)
        if [ -f "$target" ] && [ "$(sha256sum < "$target" | cut -d' ' -f1)" = "$detail" ]; then
          rm -f "$target"
        elif [ -e "$target" ]; then
          echo "  keep $path (changed since it was installed)"
        fi ;;
      link)
        if [ -L "$target" ] && [ "$(readlink "$target")" = "$detail" ]; then rm -f "$target"; fi ;;
      dir)
        rmdir "$target" 2>/dev/null || true ;;
    esac
  done
  [ "$systemd_running" = 1 ] && systemctl daemon-reload
  echo "install.sh: crisp uninstalled (containers still running keep running; /var/lib/crisp data is kept)"
  exit 0
fi

# The manifest's own directories are recorded too, so --uninstall leaves no trace.
manifest_dirs=()
path=/var/lib/crisp
while [ "$path" != / ] && [ ! -d "$destdir$path" ]; do manifest_dirs=("$path" "${manifest_dirs[@]}"); path=$(dirname "$path"); done
mkdir -p "$(dirname "$manifest")"
touch "$manifest"
# The manifest: one line per path this installer created (as seen on the node, without destdir): its kind
# (dir, file, link) and what was written (a file's sha256, a link's target), so --uninstall removes only
# what is still as it was left.
owned() { awk -F'\t' -v p="$1" '$2 == p { found = 1 } END { exit !found }' "$manifest"; }
record() {
  local kind=$1 path=$2 detail=${3:-}
  if owned "$path"; then
    awk -F'\t' -v OFS='\t' -v p="$path" -v d="$detail" '$2 == p { $3 = d } { print }' "$manifest" > "$manifest.new"
    mv "$manifest.new" "$manifest"
  else
    printf '%s\t%s\t%s\n' "$kind" "$path" "$detail" >> "$manifest"
  fi
}
for path in "${manifest_dirs[@]}"; do record dir "$path"; done
# Creates a directory (and records each level it creates).
make_dir() {
  local path=$1 missing=()
  while [ "$path" != / ] && [ ! -d "$destdir$path" ]; do missing=("$path" "${missing[@]}"); path=$(dirname "$path"); done
  for path in "${missing[@]}"; do mkdir -p "$destdir$path"; record dir "$path"; done
}
# Installs $2 at $1 with mode $3, unless a file is there that this installer did not put there.
put() {
  local path=$1 from=$2 mode=$3
  if [ -e "$destdir$path" ] && ! owned "$path"; then echo "  keep $path (not installed by crisp)"; return; fi
  make_dir "$(dirname "$path")"
  install -m "$mode" "$from" "$destdir$path"
  record file "$path" "$(sha256sum < "$destdir$path" | cut -d' ' -f1)"
  echo "  install $path"
}

if [ "$packages" = 1 ] && [ -z "$destdir" ]; then
  source deploy/packages.sh
  install_crisp_packages node
fi

if [ -z "$binaries" ]; then
  # A scratch path of its own, only ever built with the release flags (see deploy/release-flags.sh).
  source deploy/release-flags.sh
  swift build -c release --scratch-path .build-rel --static-swift-stdlib --product crisp "${crisp_release_flags[@]}"
  swift build -c release --scratch-path .build-rel --static-swift-stdlib --product crispctl "${crisp_release_flags[@]}"
  swift build -c release --scratch-path .build-rel --product crisp-shim
  swift build -c release --scratch-path .build-rel --product crisp-pause
  binaries=$(swift build -c release --scratch-path .build-rel --show-bin-path)
fi
echo "install.sh: installing into ${destdir:-/}"
for binary in crisp crisp-shim crisp-pause crispctl; do
  [ -x "$binaries/$binary" ] || { echo "install.sh: $binaries/$binary is missing" >&2; exit 1; }
  put "/usr/local/bin/$binary" "$binaries/$binary" 0755
done
# The Swift runtime's crash backtracer (static build, no toolchain needed on the node): crisp.service points
# SWIFT_BACKTRACE at it, so a trap or fatal signal leaves a backtrace in the journal.
backtracer=""
for candidate in "$(dirname "$(command -v swift 2>/dev/null || echo /nonexistent)")/../libexec/swift/linux/swift-backtrace-static" \
  /opt/swift/usr/libexec/swift/linux/swift-backtrace-static; do
  if [ -x "$candidate" ]; then backtracer=$candidate; break; fi
done
if [ -n "$backtracer" ]; then
  put /usr/local/libexec/crisp/swift-backtrace-static "$backtracer" 0755
else
  echo "  no swift-backtrace-static in the toolchain: a crash of crisp will log no backtrace"
fi

# Configuration: written once; an existing file (the operator's) is kept.
if [ ! -e "$destdir/etc/crisp/config.toml" ]; then
  generated=$(mktemp)
  if [ -n "$from_containerd" ]; then
    "$binaries/crisp" config import-containerd "$from_containerd" > "$generated"
  else
    "$binaries/crisp" config default > "$generated"
  fi
  # 0600: an imported configuration can hold registry passwords.
  put /etc/crisp/config.toml "$generated" 0600
  rm -f "$generated"
else
  echo "  keep /etc/crisp/config.toml"
fi

# CNI plugins from Debian's package, where crisp looks for them by default; plugins already there stay.
make_dir /opt/cni/bin
for plugin in /usr/lib/cni/*; do
  [ -x "$plugin" ] || continue
  path="/opt/cni/bin/$(basename "$plugin")"
  if [ -e "$destdir$path" ] || [ -L "$destdir$path" ]; then continue; fi
  ln -s "$plugin" "$destdir$path"
  record link "$path" "$plugin"
done
# A node without a pod network gets crisp's default bridge network.
make_dir /etc/cni/net.d
if [ -z "$(find "$destdir/etc/cni/net.d" -maxdepth 1 \( -name '*.conflist' -o -name '*.conf' -o -name '*.json' \) -print -quit)" ] ||
  owned /etc/cni/net.d/10-crisp-bridge.conflist; then
  put /etc/cni/net.d/10-crisp-bridge.conflist cni-conf/10-crisp-bridge.conflist 0644
fi

# crictl talks to crisp without flags.
crictl=$(mktemp)
printf 'runtime-endpoint: unix:///run/crisp/crisp.sock\nimage-endpoint: unix:///run/crisp/crisp.sock\ntimeout: 10\n' > "$crictl"
put /etc/crictl.yaml "$crictl" 0644
rm -f "$crictl"

# Kernel: overlayfs and bridged traffic through iptables, and forwarding, now and at every boot.
modules=$(mktemp)
printf 'overlay\nbr_netfilter\n' > "$modules"
put /etc/modules-load.d/crisp.conf "$modules" 0644
rm -f "$modules"
sysctls=$(mktemp)
printf 'net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n' > "$sysctls"
put /etc/sysctl.d/99-crisp.conf "$sysctls" 0644
rm -f "$sysctls"
if [ -z "$destdir" ]; then
  modprobe overlay || echo "install.sh: modprobe overlay failed (crisp falls back to the native snapshotter)" >&2
  modprobe br_netfilter || echo "install.sh: modprobe br_netfilter failed" >&2
  sysctl -q -p /etc/sysctl.d/99-crisp.conf || echo "install.sh: some sysctls could not be set" >&2
fi

# systemd: the unit and kubelet's drop-in.
put /etc/systemd/system/crisp.service deploy/crisp.service 0644
put /etc/systemd/system/kubelet.service.d/20-crisp.conf deploy/kubelet-crisp.conf 0644
put /usr/local/share/doc/crisp/README.md README.md 0644

if [ "$systemd_running" = 1 ]; then
  systemctl daemon-reload
  systemctl enable crisp.service
  systemctl restart crisp.service
  echo "install.sh: crisp is running (systemctl status crisp; crictl version)"
else
  cat <<EOF
install.sh: installed. systemd is not running here, so crisp was not started. Start it with:
  ${destdir}/usr/local/bin/crisp --config ${destdir}/etc/crisp/config.toml
(or under your init system; it serves unix:///run/crisp/crisp.sock and needs the kernel settings above)
EOF
fi

# The node preflight, read-only: what crisp meets on this node, one line per check. A warning is a cost
# crisp works around; a failure is printed but does not undo the install (fix it, then re-run crisp check).
echo "install.sh: crisp check:"
if ! "$destdir/usr/local/bin/crisp" check --config "$destdir/etc/crisp/config.toml"; then
  echo "install.sh: crisp check found problems (the fail lines above): fix them before pointing kubelet at crisp" >&2
fi
