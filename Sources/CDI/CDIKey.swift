/// Any key of a spec file's mapping, so decoding can name keys it does not know: an unknown key is an error
/// (a misspelt `deviceNodes` would otherwise give a container none of its device nodes).
struct CDIKey: CodingKey {
  let stringValue: String
  var intValue: Int? { nil }

  init(_ name: String) { stringValue = name }
  init?(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }

  /// The mapping's keys, refusing any not in `allowed`.
  static func container(_ decoder: any Decoder, allowed: Set<String>) throws -> KeyedDecodingContainer<CDIKey> {
    let container = try decoder.container(keyedBy: CDIKey.self)
    if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !allowed.contains($0) }) {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown key \"\(unknown)\""))
    }
    return container
  }
}
