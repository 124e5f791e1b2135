import Foundation

/// Reads the CRI log format (`<time> <stream> <P|F> <content>`), joining partial (`P`) records.
struct CRILogReader {
  struct Line {
    var stream: String
    var text: String
  }
  let timestamps: Bool
  private var pending = Data()
  private var partial: [String: String] = [:]

  init(timestamps: Bool) { self.timestamps = timestamps }

  mutating func lines(_ data: Data) -> [Line] {
    pending += data
    var result: [Line] = []
    while let newline = pending.firstIndex(of: 10) {
      let record = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
      pending = pending[(newline + 1)...]
      let fields = record.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
      guard fields.count >= 3 else { continue }
      let stream = String(fields[1])
      let content = fields.count == 4 ? String(fields[3]) : ""
      let prefix = partial[stream] ?? (timestamps ? "\(fields[0]) " : "")
      if fields[2] == "P" {
        partial[stream] = prefix + content
      } else {
        partial[stream] = nil
        result.append(Line(stream: stream, text: prefix + content + "\n"))
      }
    }
    return result
  }
}
