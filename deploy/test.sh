#!/usr/bin/env bash
# Runs crisp's whole test suite, unit and integration, for real: the integration tests start the built
# daemon as root and use runc, CNI plugins and a loopback registry. Installs what it needs first.
# CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root (the integration tests drive real mounts, netns and cgroups)" >&2; exit 1; }
source deploy/packages.sh
install_crisp_packages
swift build --build-tests
swift test --skip-build
# Every decoder of untrusted bytes under libFuzzer, 20 s each (Fuzz/, deploy/fuzz.sh); a trap fails CI.
deploy/fuzz.sh "${CRISP_FUZZ_SECONDS:-20}"
# The committed generated code must be exactly what proto/generate.sh produces from proto/.
proto/generate.sh
git diff --exit-code -- Sources/CRIAPI || { echo "test.sh: Sources/CRIAPI differs from proto/generate.sh output" >&2; exit 1; }
echo "test.sh: all tests passed"
