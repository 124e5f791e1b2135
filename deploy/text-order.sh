#!/usr/bin/env bash
# Remakes deploy/crisp.text-order, the layout of the daemon's code (see deploy/release-flags.sh), from what
# the daemon runs while kubelet polls a full node. Run as root on an idle machine; needs perf (Debian:
# linux-perf); about 10 minutes.
#
# It builds crisp with the current layout, runs the node scenario (crisp alone, 110 pods, 100 s of polling)
# and, once every pod runs, records the daemon for 75 s two ways: its call stacks sampled at 20 kHz, and
# every page fault it takes with its stack (the daemon drops its code pages every 30 s while polled, so
# the code it runs faults back in; a function the samples miss shows up on a fault's stack). Every symbol on
# those stacks goes first, the most seen first; the previous order follows, so runs accumulate. Run it twice
# after a large change: the second run sees the faults the first layout still takes.
#
# The first file was seeded from an instrumented build's function counts (-profile-generate, 20 s against
# 100 s of polling); those see functions before the optimizer specialises them, so most of what polling
# runs in the release build (specialisations, thunks, the Swift runtime) came from the samples.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "text-order.sh: run as root" >&2; exit 1; }
command -v perf >/dev/null || { echo "text-order.sh: needs perf (apt-get install linux-perf)" >&2; exit 1; }
source deploy/release-flags.sh
for product in crisp crisp-bench; do
  swift build -c release --scratch-path .build-rel --static-swift-stdlib --product "$product" "${crisp_release_flags[@]}"
done
for product in crisp-shim crisp-pause; do swift build -c release --scratch-path .build-rel --product "$product"; done
# The physical path: the daemon starts the shim found beside its own resolved path.
bin=$(cd .build-rel/release && pwd -P)
work=$(mktemp -d /tmp/crisp-text-order.XXXXXX)
bench= cycles= faults=
cleanup() {
  # The bench runs in a session of its own: ending its group ends bench.sh, crisp-bench and the daemon,
  # whose own cleanup then runs (bench.sh's trap). The perf recorders are ended by PID.
  for pid in $cycles $faults; do kill "$pid" 2>/dev/null || true; done
  [ -n "$bench" ] && kill -TERM -- "-$bench" 2>/dev/null || true
  [ -n "$bench" ] && wait "$bench" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

shims() {
  local procs pid
  for procs in /sys/fs/cgroup/cpuacct/crisp-bench-daemon-crisp/cgroup.procs /sys/fs/cgroup/crisp-bench-daemon-crisp/cgroup.procs; do
    [ -r "$procs" ] || continue
    while read -r pid; do
      if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$bin/crisp-shim" ]; then echo "$pid"; fi
    done < "$procs"
    return 0
  done
}

# 110 pods whatever the environment says: recording starts once all of them run.
pods=110
CRISP_BENCH_PODS=$pods CRISP_BENCH_CONTAINERD=0 CRISP_BENCH_STEADY=100 CRISP_BENCH_BIN="$bin" \
  setsid deploy/bench.sh 1 node > "$work/bench.log" 2>&1 &
bench=$!
daemon=
for _ in $(seq 600); do
  kill -0 "$bench" 2>/dev/null || { cat "$work/bench.log" >&2; echo "text-order.sh: the bench ended early" >&2; exit 1; }
  # This run's daemon (in the bench's session) and its shims (two per pod), which leave the session but
  # stay in the daemon's cgroup (bench.sh's crisp-bench-daemon-crisp).
  daemon=$(pgrep -s "$bench" -f "^$bin/crisp --config" | head -1 || true)
  [ -n "$daemon" ] && [ "$(shims | wc -l)" -ge $((pods * 2)) ] && break
  sleep 1
done
[ -n "$daemon" ] || { echo "text-order.sh: the bench's daemon did not start" >&2; exit 1; }
sleep 3
perf record -F 20000 -g -p "$daemon" -o "$work/cycles.data" -- sleep 75 2> "$work/cycles.err" &
cycles=$!
perf record -e page-faults -c 1 -g -p "$daemon" -o "$work/faults.data" -- sleep 75 2> "$work/faults.err" &
faults=$!
for kind in cycles faults; do
  pid=$([ "$kind" = cycles ] && echo "$cycles" || echo "$faults")
  wait "$pid" || { cat "$work/$kind.err" >&2; echo "text-order.sh: perf record ($kind) failed" >&2; exit 1; }
done
cycles= faults=
wait "$bench" || { tail -20 "$work/bench.log" >&2; echo "text-order.sh: the bench failed" >&2; exit 1; }
bench=
for kind in cycles faults; do perf script --no-demangle -i "$work/$kind.data" -F ip,sym > "$work/$kind.stacks"; done
# Only symbols of the daemon's own text can be placed.
nm --defined-only "$bin/crisp" | awk '$2 ~ /^[tTwW]$/ { print $3 }' > "$work/symbols"

python3 deploy/text-order.py deploy/crisp.text-order "$work/symbols" "$work/cycles.stacks" "$work/faults.stacks" > "$work/order"
mv "$work/order" deploy/crisp.text-order
echo "text-order.sh: wrote deploy/crisp.text-order ($(wc -l < deploy/crisp.text-order) functions); bench-results.* are this run's"
