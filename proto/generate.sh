#!/usr/bin/env bash
# Regenerates the Swift code under Sources/CRIAPI from the .proto files in this directory, and the OTLP
# messages the tracing tests decode under Tests/DaemonTests/Generated.
#
# Normal builds never run this: the generated files are committed. Run it after editing a .proto file:
#
#     proto/generate.sh
#
# It needs `protoc` (Debian: protobuf-compiler) and builds the two code generator plugins, protoc-gen-swift
# (swift-protobuf 1.39.0) and protoc-gen-grpc-swift-2 (grpc-swift-protobuf 2.4.1), once, in a scratch package
# under .build-protoc-plugins/ (ignored by git). The versions are pinned here so the output is reproducible.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
plugins="$top/.build-protoc-plugins"
out="$top/Sources/CRIAPI/Generated"

command -v protoc >/dev/null || { echo "generate.sh: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

mkdir -p "$plugins"
cat > "$plugins/Package.swift" <<'PKG'
// swift-tools-version:6.1
import PackageDescription
let package = Package(
  name: "crisp-protoc-plugins",
  dependencies: [
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
  ]
)
PKG
if [ ! -x "$plugins/.build/release/protoc-gen-swift" ] || [ ! -x "$plugins/.build/release/protoc-gen-grpc-swift-2" ]; then
  (cd "$plugins" && swift build -c release --product protoc-gen-swift && swift build -c release --product protoc-gen-grpc-swift-2)
fi

rm -rf "$out"
mkdir -p "$out"
cd "$here"
protos=(runtime/v1/api.proto)
[ -f admin/v1/admin.proto ] && protos+=(admin/v1/admin.proto)
protoc -I . \
  --plugin=protoc-gen-swift="$plugins/.build/release/protoc-gen-swift" \
  --plugin=protoc-gen-grpc-swift="$plugins/.build/release/protoc-gen-grpc-swift-2" \
  --swift_out="$out" --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
  --grpc-swift_out="$out" --grpc-swift_opt=Visibility=Public,FileNaming=PathToUnderscores,Server=true,Client=true \
  "${protos[@]}"
echo "generated: $(cd "$out" && ls | tr '\n' ' ')"

# The OTLP trace messages the tracing tests decode (internal to the test target; no services).
test_out="$top/Tests/DaemonTests/Generated"
rm -rf "$test_out"
mkdir -p "$test_out"
protoc -I . \
  --plugin=protoc-gen-swift="$plugins/.build/release/protoc-gen-swift" \
  --swift_out="$test_out" --swift_opt=Visibility=Internal,FileNaming=PathToUnderscores \
  otlp/trace.proto
echo "generated: $(cd "$test_out" && ls | tr '\n' ' ')"
