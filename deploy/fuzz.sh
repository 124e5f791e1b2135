#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of every decoder of untrusted bytes in crisp, each for N seconds.
#
#   deploy/fuzz.sh [seconds-per-target] [target...]      (default 60 s, every target; FUZZ_JOBS=2 at a time)
#
# How the fuzzers are built, and why this way: each group below is one binary holding the decoder's own
# source files (a whole module's, or the one file a decoder lives in) plus its harness in Fuzz/Harness,
# compiled by swiftc with -sanitize=fuzzer into a module of its own (Fuzz<group>). The compile uses the flags
# SwiftPM used for that module (Fuzz/Tools/module_flags.py reads them from .build/debug.yaml), so it imports
# the dependencies' modules from the ordinary debug build, and links their unchanged objects from a thin
# archive of that build: only the decoder code is instrumented, and nothing (swift-nio, GRDB, TOMLKit,
# swift-crypto) is compiled twice. Measured here (2 cores, shared with other builds): 222 s to build all nine
# binaries after the debug build deploy/test.sh has already made, then 19 targets x N s / 2 jobs (190 s at
# CI's 20 s). Not chosen: a package under Fuzz/ built with -Xswiftc -sanitize=fuzzer (depending on crisp by
# path, or with symlinked sources) compiles every dependency a second time, instrumented, and that
# dependency graph alone is most of the 10-20 minute debug build; it was not measured for that reason.
#
# One run per target: CRISP_FUZZ_TARGET picks it inside its group's binary. The inputs libFuzzer starts
# from are Fuzz/corpus/<target> (small real inputs) and Fuzz/regressions/<target> (inputs that once made a
# decoder trap; each is replayed first on every run, so a fixed crash that comes back fails here). New
# corpus entries and crash artifacts go under .build/fuzz, never into the tree. A target that traps, times
# out (10 s per input) or runs out of memory (2 GiB) fails the script, after printing the input's path and
# the stack. The summary table gives executions, executions per second and the outcome per target.
set -euo pipefail
# A module's sources may sit in subdirectories (Sources/Runtime/Sandbox, …): `**` in the table below.
shopt -s globstar
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-60}"
shift || true
JOBS="${FUZZ_JOBS:-2}"

# group | module whose compile flags apply | decoder sources | targets
GROUPS_TABLE='
images|Images|Sources/Images/*.swift|tar gzip zstd image-archive
oci|OCI|Sources/OCI/*.swift|manifest image-config
cdi|CDI|Sources/CDI/*.swift|cdi-spec
registry|Registry|Sources/Registry/*.swift|reference
config|Config|Sources/Config/*.swift|config-toml config-dropins hosts-toml containerd-toml
runtime|Runtime|Sources/Runtime/**/*.swift|image-user seccomp
podnetwork|PodNetwork|Sources/PodNetwork/*.swift|cni-result rtnetlink
grpc|CRIServer|Sources/CRIServer/GRPC/GRPCWire.swift Sources/CRIServer/GRPC/GRPCMessageReader.swift|grpc-frames grpc-timeout
spdy|SPDY|Sources/SPDY/*.swift|spdy-frames spdy-headers
websocket|Streaming|Sources/Streaming/WebSocketFraming.swift|websocket
crilog|crispctl|Sources/crispctl/CRILogReader.swift|cri-log
'
declare -A HARNESS=(
  [images]=Images [oci]=OCI [cdi]=CDI [registry]=Registry [config]=Config [runtime]=Runtime [podnetwork]=PodNetwork
  [grpc]=GRPC [spdy]=SPDY [websocket]=WebSocket [crilog]=CRILog
)

swift build --build-tests
BIN="$(swift build --show-bin-path)"
MANIFEST=.build/debug.yaml
WORK=.build/fuzz
mkdir -p "$WORK/bin" "$WORK/obj"

# Every object of the debug build but the test targets', the executables' (their mains) and plugin tools'.
# A thin archive: the linker takes only the members a fuzzer needs.
# Made again only when the build changed (so is every fuzzer, below).
DEPS="$WORK/libcrisp-deps.a"
find "$(realpath "$BIN")"/*.build -name '*.o' \
  | grep -Ev '/(crisp|crispctl|crisp_bench|crisp_shim|crisp_pause|TestSupport|crispPackage[A-Za-z]*|[A-Za-z]+Tests|[A-Za-z_]+-tool)\.build/' \
  | sort >"$WORK/deps.list.new"
if [ ! -f "$DEPS" ] || ! cmp -s "$WORK/deps.list.new" "$WORK/deps.list" \
  || [ -n "$(find "$(realpath "$BIN")"/*.build -name '*.o' -newer "$DEPS" | head -1)" ]; then
  rm -f "$DEPS"
  xargs -d '\n' ar qc --thin "$DEPS" <"$WORK/deps.list.new"
fi
mv "$WORK/deps.list.new" "$WORK/deps.list"
LINK_LIBS=(-lstdc++ -lm -lz -lzstd -lseccomp -lnl-route-3 -lnl-3 -lsqlite3)

build_group() {
  local group="$1" module="$2" sources="$3"
  local out="$WORK/bin/$group"
  # shellcheck disable=SC2086 # $sources is a glob
  if [ -f "$out" ] && [ -z "$(find $sources Fuzz/Harness/Common.swift "Fuzz/Harness/${HARNESS[$group]}.swift" "$DEPS" "$0" -newer "$out")" ]; then
    return 0
  fi
  local flags
  mapfile -t flags < <(python3 Fuzz/Tools/module_flags.py "$MANIFEST" "$module")
  # shellcheck disable=SC2086 # $sources is a glob
  swiftc -module-name "Fuzz${HARNESS[$group]}" -parse-as-library -sanitize=fuzzer -O -wmo \
    "${flags[@]}" $sources Fuzz/Harness/Common.swift "Fuzz/Harness/${HARNESS[$group]}.swift" \
    "$DEPS" "${LINK_LIBS[@]}" -o "$WORK/bin/$group" >"$WORK/obj/$group.log" 2>&1 \
    || { cat "$WORK/obj/$group.log" >&2; echo "fuzz.sh: building the $group fuzzer failed" >&2; return 1; }
}

# Which targets to run (all, or those named on the command line), and which groups they need.
declare -A GROUP_OF=()
ALL_TARGETS=()
while IFS='|' read -r group module sources targets; do
  [ -n "$group" ] || continue
  for target in $targets; do
    GROUP_OF[$target]="$group"
    ALL_TARGETS+=("$target")
  done
done <<<"$GROUPS_TABLE"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
declare -A NEEDED=()
for target in "${TARGETS[@]}"; do
  [ -n "${GROUP_OF[$target]:-}" ] || { echo "fuzz.sh: no target $target (targets: ${ALL_TARGETS[*]})" >&2; exit 2; }
  NEEDED[${GROUP_OF[$target]}]=1
done

started=$(date +%s)
rm -f "$WORK"/obj/*.failed
while IFS='|' read -r group module sources targets; do
  [ -n "$group" ] && [ -n "${NEEDED[$group]:-}" ] || continue
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  { build_group "$group" "$module" "$sources" || touch "$WORK/obj/$group.failed"; } &
done <<<"$GROUPS_TABLE"
wait
if compgen -G "$WORK/obj/*.failed" >/dev/null; then exit 1; fi
echo "fuzz.sh: ${#NEEDED[@]} fuzzers up to date in $(($(date +%s) - started)) s"

run_target() {
  local target="$1" group="${GROUP_OF[$1]}"
  local dir="$WORK/run/$target"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/tmp" "$dir/artifacts"
  local seeds=()
  for seed in "Fuzz/corpus/$target" "Fuzz/regressions/$target"; do [ -d "$seed" ] && seeds+=("$seed"); done
  local status=0
  # SWIFT_BACKTRACE: Swift's own crash handler would take the signal first, and libFuzzer would keep no input.
  SWIFT_BACKTRACE=enable=no CRISP_FUZZ_TARGET="$target" TMPDIR="$(realpath "$dir/tmp")" "$WORK/bin/$group" \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" "${seeds[@]}" >"$dir/log" 2>&1 || status=$?
  rm -rf "$dir/tmp"
  echo "$status" >"$dir/status"
}

started=$(date +%s)
for target in "${TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  run_target "$target" &
done
wait
echo "fuzz.sh: ran ${#TARGETS[@]} targets for ${SECONDS_PER_TARGET} s each in $(($(date +%s) - started)) s"

failed=0
printf '%-16s %12s %10s %8s  %s\n' target executions exec/s corpus result
for target in "${TARGETS[@]}"; do
  dir="$WORK/run/$target"
  status="$(cat "$dir/status")"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)"
  corpus="$(find "$dir/corpus" -type f | wc -l)"
  result=ok
  if [ "$status" != 0 ]; then
    failed=1
    artifact="$(find "$dir/artifacts" -type f | head -1)"
    result="FAILED (exit $status) ${artifact:-no artifact}"
  fi
  printf '%-16s %12s %10s %8s  %s\n' "$target" "${execs:-?}" "${rate:-?}" "$corpus" "$result"
done
if [ "$failed" != 0 ]; then
  for target in "${TARGETS[@]}"; do
    dir="$WORK/run/$target"
    [ "$(cat "$dir/status")" = 0 ] && continue
    echo "---- $target ($dir/log) ----" >&2
    grep -E -A40 'ERROR: libFuzzer|Fatal error|SUMMARY|==[0-9]+==' "$dir/log" | head -80 >&2 || tail -40 "$dir/log" >&2
  done
  echo "fuzz.sh: a decoder failed: keep the artifact as Fuzz/regressions/<target>/<name> with the fix" >&2
  exit 1
fi
echo "fuzz.sh: no decoder failed"
