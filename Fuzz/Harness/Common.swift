// Compiled into every fuzz binary (deploy/fuzz.sh): libFuzzer's entry point, dispatching to the target the
// binary's group names in `fuzzTargets` (each group file defines it) by CRISP_FUZZ_TARGET.
import Glibc

/// The target this process fuzzes; fuzz.sh sets it, one target per libFuzzer run.
let fuzzTargetName: String = getenv("CRISP_FUZZ_TARGET").map { String(cString: $0) } ?? ""

/// The selected target's body, looked up once.
let selectedFuzzTarget: @Sendable ([UInt8]) -> Void = {
  guard let body = fuzzTargets[fuzzTargetName] else {
    let known = fuzzTargets.keys.sorted().joined(separator: ", ")
    let message = Array("fuzz: CRISP_FUZZ_TARGET=\"\(fuzzTargetName)\" is not a target of this binary (\(known))\n".utf8)
    _ = write(2, message, message.count)
    exit(2)
  }
  return body
}()

/// Checks the target name before any input runs (an exit from inside a run would count as a crash).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?)
  -> CInt
{
  _ = selectedFuzzTarget
  return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
  selectedFuzzTarget(bytes)
  return 0
}

/// Splits an input into up to `limit` pieces at each `separator` byte: targets taking several inputs
/// (a USER and a passwd file) or several deliveries (chunks of a stream) read them from one byte string.
func fuzzPieces(_ bytes: [UInt8], separator: UInt8 = 0, limit: Int) -> [[UInt8]] {
  bytes.split(separator: separator, maxSplits: max(0, limit - 1), omittingEmptySubsequences: false).map { Array($0) }
}

/// Cuts `bytes` into deliveries whose sizes come from `sizes` (1...256 each, cycling), so a decoder that
/// keeps state between reads sees every way a peer can split its bytes.
func fuzzChunks(_ bytes: [UInt8], sizes: UInt8) -> [[UInt8]] {
  let step = Int(sizes) + 1
  var chunks: [[UInt8]] = []
  var index = 0
  while index < bytes.count {
    let end = min(bytes.count, index + step)
    chunks.append(Array(bytes[index..<end]))
    index = end
  }
  return chunks
}

/// A new directory under $TMPDIR (or /tmp) for targets whose decoder reads or writes files.
func fuzzScratchDirectory(_ prefix: String) -> String {
  let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
  var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
  guard let made = mkdtemp(&template) else { fatalError("fuzz: mkdtemp in \(base) failed") }
  return String(cString: made)
}
