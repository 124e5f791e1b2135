import Testing

@testable import Store

/// The sandbox `ips` column: the plain form is split directly, and whatever else it holds gives what the
/// JSON parser gives (never a wrong address).
@Suite struct IPListTests {
  @Test(arguments: [
    ("[]", [String]()),
    (#"["10.0.0.2"]"#, ["10.0.0.2"]),
    (#"["10.0.0.2","fd00::2"]"#, ["10.0.0.2", "fd00::2"]),
    (#"["fe80::1%eth0"]"#, ["fe80::1%eth0"]),
    (#"[ "10.0.0.2" ]"#, ["10.0.0.2"]),
    (#"["a\"b"]"#, ["a\"b"]),
    ("[1]", [String]()),
    ("[,]", [String]()),
    ("", [String]()),
    ("not json", [String]()),
    (#"["10.0.0.2""#, [String]()),
  ])
  func decodes(_ text: String, _ expected: [String]) {
    #expect(IPList.decode(text) == expected, "\(text)")
  }
}
