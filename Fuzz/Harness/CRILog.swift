// Fuzz target over Sources/crispctl/CRILogReader.swift: a container's log file as `crispctl logs` reads it
// (the container writes the content; a rotated or damaged file can hold anything), in reads cut anywhere.
import Foundation

let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  // First byte: bit 0 = timestamps, the rest = read size - 1 (in 2-byte steps); then the file's bytes.
  "cri-log": { bytes in
    guard let mode = bytes.first else { return }
    var reader = CRILogReader(timestamps: mode & 1 == 1)
    let body = Array(bytes.dropFirst())
    var lines = 0
    for chunk in fuzzChunks(body, sizes: mode >> 1) { lines += reader.lines(Data(chunk)).count }
    // A line is only ever given for a record that ended in a newline.
    let records = body.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
    guard lines <= records else { fatalError("cri-log: \(lines) lines from \(records) records") }
  }
]
