import CDI
import Testing

@Suite struct CDINameTests {
  private func parsed(_ text: String) -> CDIName? {
    if case .success(let name) = CDIName.parse(text) { return name }
    return nil
  }

  private func problem(_ text: String) -> String? {
    if case .failure(let error) = CDIName.parse(text) { return error.message }
    return nil
  }

  @Test func qualifiedNamesSplitIntoTheirParts() throws {
    let name = try #require(parsed("nvidia.com/gpu=0"))
    #expect(name == CDIName(vendor: "nvidia.com", class: "gpu", device: "0"))
    #expect(name.kind == "nvidia.com/gpu")
    #expect(name.description == "nvidia.com/gpu=0")
    #expect(parsed("vendor.com/class.sub=dev:1.a_b-c")?.device == "dev:1.a_b-c")
    #expect(parsed("example.com/net=all")?.device == "all")
    #expect(parsed("a/b=c") != nil)
  }

  @Test func badNamesSayWhichPartIsWrong() throws {
    #expect(problem("nvidia.com/gpu")?.contains("no '='") == true)
    #expect(problem("gpu=0")?.contains("no '/'") == true)
    #expect(problem("/gpu=0")?.contains("vendor is empty") == true)
    #expect(problem("nvidia.com/=0")?.contains("class is empty") == true)
    #expect(problem("nvidia.com/gpu=")?.contains("device name is empty") == true)
    #expect(problem("1vendor.com/gpu=0")?.contains("must start with a letter") == true)
    #expect(problem("vendor.com-/gpu=0")?.contains("must end with a letter or digit") == true)
    #expect(problem("vendor.com/g pu=0")?.contains("invalid character byte 0x20") == true)
    #expect(problem("vendor.com/gpu=a/b")?.contains("invalid character '/'") == true)
    #expect(problem("vendor.com/gpu=a=b")?.contains("invalid character '='") == true)
    #expect(problem("vendor.com/gpu=_a")?.contains("must start with a letter or digit") == true)
    #expect(problem("vendor.com/gpu=a:")?.contains("must end with a letter or digit") == true)
    #expect(problem("vendör.com/gpu=0")?.contains("invalid character") == true)
    #expect(problem("v.com/gpu=" + String(repeating: "a", count: 254))?.contains("longer than") == true)
  }

  @Test func kindsParse() throws {
    guard case .success(let kind) = CDIName.parseKind("vendor.com/class") else { Issue.record("kind refused"); return }
    #expect(kind.vendor == "vendor.com")
    #expect(kind.class == "class")
    guard case .failure = CDIName.parseKind("vendor.com") else { Issue.record("a kind without '/' passed"); return }
  }

  @Test func versionsAreTheReleasedOnes() throws {
    #expect(CDIVersion("0.3.0") != nil)
    #expect(CDIVersion("v0.6.0") != nil)
    #expect(CDIVersion("1.1.0") == CDIVersion.current)
    #expect(CDIVersion("0.2.0") == nil)
    #expect(CDIVersion("0.9.0") == nil)
    #expect(CDIVersion("1.2.0") == nil)
    #expect(CDIVersion("0.6") == nil)
    #expect(CDIVersion("0.6.0.1") == nil)
    #expect(CDIVersion("x.y.z") == nil)
    let older = try #require(CDIVersion("0.5.0"))
    let newer = try #require(CDIVersion("1.0.0"))
    #expect(older < newer)
    #expect(CDIVersion.supported.map(\.description) == ["0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"])
  }
}
