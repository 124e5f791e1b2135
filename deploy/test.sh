#!/usr/bin/env bash
# Runs crisp's whole test suite, unit and integration, for real: the integration tests start the built
# daemon as root and use runc, CNI plugins and a loopback registry. Installs what it needs first.
# CI (.ci/run) calls exactly this. Phases, cheapest first, each stopping the run when it fails and each
# timed (a table of wall times is printed at the end, or at the failure):
#   lint         deploy/lint.sh: swift-format over the hand-written Swift (seconds, no build)
#   build        swift build --build-tests
#   unit         the tests that start no daemon, registry, runc or CNI plugin (seconds)
#   integration  every other test: the built daemon as root, real runc/CNI/registry (most of the time)
#   fuzz         every decoder of untrusted bytes under libFuzzer, 20 s each (CRISP_FUZZ_SECONDS)
#   proto        the committed generated code is exactly what proto/generate.sh produces
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root (the integration tests drive real mounts, netns and cgroups)" >&2; exit 1; }

# The unit tests, as swift-testing ID patterns (an ID reads Target.Suite/test(); a pattern that matches a
# suite selects its tests). Whole targets that hold only such tests are named by target, so a suite added to
# them is a unit test without editing this list; in the targets that mix both (ImagesTests, PodNetworkTests)
# the unit suites are named one by one, and a new suite there runs with the integration tests until it is
# added here. The integration run skips exactly these patterns (--skip), so the two runs together are every
# test once, whatever is added. Counted on 2026-12-08: 350 unit tests, 143 integration, 493 in all.
unit_tests=(
  '^(CDITests|CRIAPITests|ConfigTests|CRIServerUnitTests|CRITranslationTests|RuntimeUnitTests|StoreTests|StreamingUnitTests)\.'
  '^ImagesTests\.(ConnectionErrorTranslationTests|ImageCatalogTests|DigestPathTests|DiskUsageTests|ImageViewUsageTests|LoopbackHostTests|ManifestHostileTests|PlainHTTPFallbackSelectionTests|PullRollbackTests|RedirectPolicyTests|TarReaderHostileTests)(/|$)'
  '^PodNetworkTests\.(CNIConfigLoaderTests|CNIModelTests|JSONValueTests|LinkCountersTests|RouteNetlinkParsingTests)(/|$)'
  '^PreflightTests\.CgroupChecksTests(/|$)'
)
unit_filter=() integration_skip=()
for pattern in "${unit_tests[@]}"; do
  unit_filter+=(--filter "$pattern")
  integration_skip+=(--skip "$pattern")
done

timings=()
print_timings() {
  echo "test.sh: wall time per phase"
  printf '  %s\n' "${timings[@]}"
}
# phase NAME COMMAND...: runs COMMAND, records its wall time, and ends the run with its status if it fails.
phase() {
  local name=$1 start=$EPOCHREALTIME status=0
  shift
  echo "test.sh: == $name: $*"
  "$@" || status=$?
  local took
  took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  timings+=("$(printf '%-12s %8s s  %s' "$name" "$took" "$([ "$status" = 0 ] && echo ok || echo "FAILED (exit $status)")")")
  echo "test.sh: == $name: ${took} s"
  if [ "$status" != 0 ]; then
    print_timings
    echo "test.sh: $name failed" >&2
    exit "$status"
  fi
}
proto_check() {
  proto/generate.sh || return
  git diff --exit-code -- Sources/CRIAPI Tests/DaemonTests/Generated || {
    echo "test.sh: Sources/CRIAPI or Tests/DaemonTests/Generated differs from proto/generate.sh output" >&2
    return 1
  }
}

source deploy/packages.sh
packages_start=$EPOCHREALTIME
install_crisp_packages
timings+=("$(printf '%-12s %8s s  %s' packages "$(awk -v a="$packages_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" ok)")

phase lint deploy/lint.sh
phase build swift build --build-tests
phase unit swift test --skip-build "${unit_filter[@]}"
phase integration swift test --skip-build "${integration_skip[@]}"
phase fuzz deploy/fuzz.sh "${CRISP_FUZZ_SECONDS:-20}"
phase proto proto_check
print_timings
echo "test.sh: all tests passed"
