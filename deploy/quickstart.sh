#!/usr/bin/env bash
# Sets crisp up on this machine and runs it in the foreground with the built-in defaults:
# installs the Debian packages it needs, builds release binaries, and serves the CRI on
# /run/crisp/crisp.sock (try `.build-rel/release/crispctl version` from another shell). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "quickstart.sh: run as root (crisp manages mounts, namespaces and cgroups)" >&2; exit 1; }
source deploy/packages.sh
install_crisp_packages
# Release builds go to a scratch path of their own, only ever built with these flags (see the file).
source deploy/release-flags.sh
swift build -c release --scratch-path .build-rel --static-swift-stdlib --product crisp "${crisp_release_flags[@]}"
swift build -c release --scratch-path .build-rel --static-swift-stdlib --product crispctl "${crisp_release_flags[@]}"
# Static by construction (Embedded Swift, plain C): no --static-swift-stdlib.
swift build -c release --scratch-path .build-rel --product crisp-shim
swift build -c release --scratch-path .build-rel --product crisp-pause
# A node with no pod network yet gets crisp's default bridge network (cni-conf/README.md).
mkdir -p /etc/cni/net.d
if [ -z "$(find /etc/cni/net.d -maxdepth 1 \( -name '*.conflist' -o -name '*.conf' -o -name '*.json' \) -print -quit)" ]; then
  install -m 0644 cni-conf/10-crisp-bridge.conflist /etc/cni/net.d/10-crisp-bridge.conflist
fi
# The node preflight (read-only): what crisp meets here; a failed check is shown, crisp starts anyway.
.build-rel/release/crisp check || echo "quickstart.sh: crisp check found problems (the fail lines above)" >&2
exec .build-rel/release/crisp "$@"
