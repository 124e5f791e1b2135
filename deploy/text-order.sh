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
bin=$(cd .build-rel/release && pwd)
work=$(mktemp -d /tmp/crisp-text-order.XXXXXX)
trap 'rm -rf "$work"' EXIT

CRISP_BENCH_CONTAINERD=0 CRISP_BENCH_STEADY=100 CRISP_BENCH_BIN="$bin" deploy/bench.sh 1 node > "$work/bench.log" &
bench=$!
daemon=
for _ in $(seq 600); do
  daemon=$(pgrep -f "^$bin/crisp --config" || true)
  [ -n "$daemon" ] && [ "$(pgrep -c -f "crisp-shim .*--bundle /tmp/crisp-bench" || true)" -ge 220 ] && break
  sleep 1
done
[ -n "$daemon" ] || { echo "text-order.sh: the bench's daemon did not start" >&2; exit 1; }
sleep 3
perf record -F 20000 -g -p "$daemon" -o "$work/cycles.data" -- sleep 75 2> "$work/cycles.err" &
cycles=$!
perf record -e page-faults -c 1 -g -p "$daemon" -o "$work/faults.data" -- sleep 75 2> "$work/faults.err" &
faults=$!
wait "$cycles" "$faults" "$bench"
for kind in cycles faults; do perf script --no-demangle -i "$work/$kind.data" -F ip,sym > "$work/$kind.stacks" 2>/dev/null; done

python3 deploy/text-order.py deploy/crisp.text-order "$work/cycles.stacks" "$work/faults.stacks" > "$work/order"
mv "$work/order" deploy/crisp.text-order
echo "text-order.sh: wrote deploy/crisp.text-order ($(wc -l < deploy/crisp.text-order) functions)"
