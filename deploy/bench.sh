#!/usr/bin/env bash
# Measures crisp against containerd (Debian's package) in one run, on this machine, as root:
#   - a loopback registry (docker-registry) with a ~5 MB single-layer and a ~100 MB five-layer image,
#   - crisp (release build) and containerd, each on a private socket, root and state, both pulling from
#     that registry through a hosts.toml, with the same CNI configuration,
#   - crisp-bench with every scenario, writing bench-results.md and bench-results.json.
#   - for the imagefs scenario, 100 generated images of ~100 MB unpacked each (4 layers of 250 files of
#     100 kB of zeros, and a file naming the image and layer, so no two images share a layer): zeros
#     compress, so the registry holds a few kB per image while each runtime's store grows to 100 MB, 1 GB
#     and 10 GB (one runtime's store at a time: crisp-bench removes them before the next one pulls).
# Usage: deploy/bench.sh [ITERATIONS [SCENARIO...]]   (scenarios default to all; see crisp-bench --help)
#   The node scenario (not in all): `deploy/bench.sh 1 node` runs 110 pods and 60 s of kubelet's polling;
#   CRISP_BENCH_PODS=250 and CRISP_BENCH_STEADY=120 change them. CRISP_BENCH_CALLS=N makes the status and
#   calls rows N calls each instead of 200 (long enough to profile the daemon under one kind of call), and
#   CRISP_BENCH_ALONE=N makes the node scenario's alone phase N calls of each stats list instead of 10.
# Each daemon runs in a cgroup of its own (crisp-bench-daemon-NAME; cgroup v1 cpuacct or v2), which its shims,
# runc and CNI plugins inherit, so the node scenario reads the CPU they all spend per pod start and teardown.
# Environment: CRISP_BENCH_BIN=DIR uses the crisp, crisp-bench, crisp-shim and crisp-pause already built in DIR
# (no release build); CRISP_BENCH_CONTAINERD=0 measures crisp alone; CRISP_BENCH_IMAGEFS_COUNT=N (default
# 100) generates N imagefs images.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root" >&2; exit 1; }
iterations=${1:-5}
pods=${CRISP_BENCH_PODS:-110}
steady=${CRISP_BENCH_STEADY:-60}
shift || true
scenarios=("${@:-all}")
source deploy/packages.sh
install_crisp_packages
with_containerd=${CRISP_BENCH_CONTAINERD:-1}
[ "$with_containerd" = 0 ] || dpkg-query -W containerd >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -q containerd

# A scratch path of its own, so a benchmark build never waits on (or invalidates) a development build.
# (.build-rel, built only with deploy/release-flags.sh's flags: see there why not the older .build-bench.)
scratch=.build-rel
if [ -n "${CRISP_BENCH_BIN:-}" ]; then
  bin=$(cd "$CRISP_BENCH_BIN" && pwd)
else
  # The daemon and the bench link the Swift runtime statically; the shim and pause are static by construction.
  source deploy/release-flags.sh
  for product in crisp crisp-bench; do
    swift build -c release --scratch-path "$scratch" --static-swift-stdlib --product "$product" "${crisp_release_flags[@]}"
  done
  for product in crisp-shim crisp-pause; do swift build -c release --scratch-path "$scratch" --product "$product"; done
  bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)
fi

work=$(mktemp -d /tmp/crisp-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # A containerd that died mid-run (it has, in its CRI sandbox store) leaves its shims and containers:
  # those of this run (shims serving its socket, containers whose bundle is under $work) are removed.
  for shim in $(pgrep -f "containerd-shim-runc-v2 .*-address $work/containerd.sock" || true); do kill -9 "$shim" 2>/dev/null || true; done
  local runc_root=/run/containerd/runc/k8s.io id bundle
  for id in $(runc --root "$runc_root" list -q 2>/dev/null || true); do
    bundle=$(runc --root "$runc_root" state "$id" 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin).get("bundle", ""))' 2>/dev/null || true)
    case "$bundle" in "$work"/*) runc --root "$runc_root" delete --force "$id" >/dev/null 2>&1 || true ;; esac
  done
  umount -R "$work"/containerd/state 2>/dev/null || true
  ip link delete crispbench0 2>/dev/null || true
  for d in /sys/fs/cgroup/*/crisp-bench /sys/fs/cgroup/crisp-bench /sys/fs/cgroup/*/crisp-bench-node-* /sys/fs/cgroup/crisp-bench-node-* \
    /sys/fs/cgroup/*/crisp-bench-daemon-* /sys/fs/cgroup/crisp-bench-daemon-*; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts "$@" in the background inside a fresh cgroup named crisp-bench-daemon-$name (v1 cpuacct, else v2).
start_in_cgroup() {
  local name=$1 log=$2
  shift 2
  local cgroup=/sys/fs/cgroup/crisp-bench-daemon-$name
  [ -d /sys/fs/cgroup/cpuacct ] && cgroup=/sys/fs/cgroup/cpuacct/crisp-bench-daemon-$name
  mkdir -p "$cgroup"
  (echo "$BASHPID" > "$cgroup/cgroup.procs"; exec "$@") > "$log" 2>&1 &
  pids+=($!)
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
registry="127.0.0.1:$port"
mkdir -p "$work/registry" "$work/net.d" "$work/certs.d/$registry"
cat > "$work/registry/config.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry/data}, delete: {enabled: true}}
http: {addr: $registry}
YAML
docker-registry serve "$work/registry/config.yml" > "$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://$registry/v2/" >/dev/null && break; sleep 0.1; done

push() { python3 Tests/Fixtures/ocibuild.py > /dev/null; }
echo "{\"registry\": \"http://$registry\", \"repository\": \"bench/small\", \"tag\": \"1\", \"images\": [{\"config\": {\"Cmd\": [\"/bin/sh\"]}, \"layers\": [{\"compression\": \"gzip\", \"entries\": [{\"path\": \"bin/busybox\", \"type\": \"file\", \"source\": \"/bin/busybox\", \"mode\": 493}, {\"path\": \"data\", \"type\": \"file\", \"random\": 4000000}]}]}]}" | push
layers=""
for i in 1 2 3 4 5; do
  layers="$layers{\"compression\": \"gzip\", \"entries\": [{\"path\": \"data$i\", \"type\": \"file\", \"random\": 16000000}, {\"path\": \"text$i\", \"type\": \"file\", \"size\": 8000000}]},"
done
echo "{\"registry\": \"http://$registry\", \"repository\": \"bench/big\", \"tag\": \"1\", \"images\": [{\"config\": {\"Cmd\": [\"/bin/sh\"]}, \"layers\": [${layers%,}]}]}" | push

# Images for the pod scenarios: busybox for containers, and for containerd a pause image made from crisp's
# own pause program (crisp builds the same one locally; nothing is pulled from outside).
echo "{\"registry\": \"http://$registry\", \"repository\": \"bench/busybox\", \"tag\": \"1\", \"images\": [{\"config\": {\"Cmd\": [\"/bin/sh\"]}, \"layers\": [{\"compression\": \"gzip\", \"entries\": [{\"path\": \"bin\", \"type\": \"dir\"}, {\"path\": \"bin/busybox\", \"type\": \"file\", \"source\": \"/bin/busybox\", \"mode\": 493}, {\"path\": \"bin/sleep\", \"type\": \"symlink\", \"target\": \"busybox\"}, {\"path\": \"bin/echo\", \"type\": \"symlink\", \"target\": \"busybox\"}, {\"path\": \"bin/sh\", \"type\": \"symlink\", \"target\": \"busybox\"}, {\"path\": \"bin/cat\", \"type\": \"symlink\", \"target\": \"busybox\"}, {\"path\": \"bin/dd\", \"type\": \"symlink\", \"target\": \"busybox\"}]}]}]}" | push
echo "{\"registry\": \"http://$registry\", \"repository\": \"bench/pause\", \"tag\": \"1\", \"images\": [{\"config\": {\"Entrypoint\": [\"/pause\"], \"User\": \"65535:65535\"}, \"layers\": [{\"compression\": \"gzip\", \"entries\": [{\"path\": \"pause\", \"type\": \"file\", \"source\": \"$bin/crisp-pause\", \"mode\": 493}]}]}]}" | push

imagefs_count=${CRISP_BENCH_IMAGEFS_COUNT:-100}
imagefs_args=()
if [[ " ${scenarios[*]} " == *" imagefs "* ]]; then
  for i in $(seq "$imagefs_count"); do
    python3 - "$registry" "$i" <<'PY' | push
import json, sys
registry, index = sys.argv[1], int(sys.argv[2])
layers = []
for layer in range(4):
    entries = [{"path": f"l{layer}", "type": "dir"}]
    entries += [{"path": f"l{layer}/f{n}", "type": "file", "zeros": 100000} for n in range(250)]
    entries.append({"path": f"l{layer}/image", "type": "file", "content": f"image {index} layer {layer}"})
    layers.append({"compression": "gzip", "entries": entries})
print(json.dumps({"registry": f"http://{registry}", "repository": "bench/fs", "tag": str(index),
                  "images": [{"config": {"Cmd": ["/bin/sh"]}, "layers": layers}]}))
PY
  done
  imagefs_args=(--imagefs-repository "$registry/bench/fs" --imagefs-count "$imagefs_count" --imagefs-base-bytes 100000000)
fi

printf 'server = "http://%s"\n' "$registry" > "$work/certs.d/$registry/hosts.toml"
# The same network for both: crisp's shipped default (cni-conf/10-crisp-bridge.conflist: bridge, host-local,
# portmap, bandwidth, loopback) on a bridge and private range of the benchmark's own. Traffic stays inside the
# pods' namespaces and the bridge.
python3 - "$work" > "$work/net.d/10-bench.conflist" <<'PY'
import json, sys
work = sys.argv[1]
conf = json.load(open("cni-conf/10-crisp-bridge.conflist"))
conf["name"] = "crisp-bench"
bridge = conf["plugins"][0]
bridge["bridge"] = "crispbench0"
bridge["ipam"]["ranges"] = [[{"subnet": "10.231.0.0/16"}]]
bridge["ipam"]["dataDir"] = work + "/ipam"
print(json.dumps(conf))
PY

cat > "$work/crisp.toml" <<TOML
root = "$work/crisp/root"
state = "$work/crisp/state"
[grpc]
address = "$work/crisp.sock"
[cni]
conf_dir = "$work/net.d"
[registry]
config_path = "$work/certs.d"
TOML
start_in_cgroup crisp "$work/crisp.log" "$bin/crisp" --config "$work/crisp.toml"

cat > "$work/containerd.toml" <<TOML
version = 2
root = "$work/containerd/root"
state = "$work/containerd/state"
[grpc]
  address = "$work/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$registry/bench/pause:1"
  # The pause container's default oom_score_adj is -998; without CAP_SYS_RESOURCE runc's write of it fails
  # (EACCES) and RunPodSandbox dies with "can't get final child's PID from pipe: EOF". Clamp it to
  # containerd's own score, as crisp clamps its own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "$work/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$work/certs.d"
TOML
compare_args=()
sockets=("$work/crisp.sock")
if [ "$with_containerd" != 0 ]; then
  start_in_cgroup containerd "$work/containerd.log" containerd --config "$work/containerd.toml"
  compare_args=(--compare "unix://$work/containerd.sock")
  sockets+=("$work/containerd.sock")
fi
for socket in "${sockets[@]}"; do
  for _ in $(seq 200); do [ -S "$socket" ] && break; sleep 0.1; done
done
sleep 1

"$bin/crisp-bench" --endpoint "unix://$work/crisp.sock" "${compare_args[@]}" "${imagefs_args[@]}" \
  --iterations "$iterations" --registry "http://$registry" \
  --image "$registry/bench/small:1" --image "$registry/bench/big:1" --container-image "$registry/bench/busybox:1" \
  --pods "$pods" --steady-seconds "$steady" --cni-data-dir "$work/ipam/crisp-bench" \
  --json bench-results.json --markdown bench-results.md "${scenarios[@]}"
echo "bench.sh: wrote bench-results.md and bench-results.json"
