#!/usr/bin/env bash
# Installs the Debian packages crisp needs to build, run and test, skipping `apt-get update` when everything
# is already there. Sourced by deploy/quickstart.sh and deploy/test.sh; run as root.
set -euo pipefail

# What a node needs to build and run crisp (deploy/install.sh installs only these).
crisp_node_packages=(
  # runtime: OCI runtimes, CNI plugins, iptables for portmap, apparmor_parser for crisp's default profile
  runc crun containernetworking-plugins iptables iproute2 apparmor
  # build: system libraries crisp links
  libseccomp-dev libsqlite3-dev zlib1g-dev libzstd-dev libnl-3-dev libnl-route-3-dev
)
# Plus what the tests and the benchmark use: never on a production node (docker-registry runs a registry).
crisp_packages=(
  "${crisp_node_packages[@]}"
  # tests: a real registry, a static busybox for test images, protoc for proto/generate.sh
  docker-registry busybox-static protobuf-compiler apache2-utils python3 openssl zstd skopeo curl
  python3-grpcio python3-grpc-tools python3-websocket python3-h2
)

# install_crisp_packages [node]: the full list, or with "node" only what a node needs. Outside "node" mode
# it also links the CNI plugins into /opt/cni/bin (the installer does that itself, recording each link).
install_crisp_packages() {
  local mode=${1:-all} missing=()
  local wanted=("${crisp_packages[@]}")
  [ "$mode" = node ] && wanted=("${crisp_node_packages[@]}")
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  [ "$mode" = node ] && return 0
  # Debian installs the CNI plugins under /usr/lib/cni; crisp's default bin_dirs is /opt/cni/bin.
  mkdir -p /opt/cni/bin
  for plugin in /usr/lib/cni/*; do
    [ -e "/opt/cni/bin/$(basename "$plugin")" ] || ln -s "$plugin" "/opt/cni/bin/$(basename "$plugin")"
  done
}
