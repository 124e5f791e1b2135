import CrispCore
import Foundation
@testable import Images
@testable import Registry
import Store
import Testing
import OCI

/// A tar stream built block by block, so headers can say what no archiver writes.
struct CraftedTar {
  var bytes: [UInt8] = []

  static func header(_ name: String, type: Character, size: Int64 = 0, sizeField: [UInt8]? = nil) -> [UInt8] {
    var block = [UInt8](repeating: 0, count: 512)
    func put(_ text: String, _ offset: Int) { for (i, b) in text.utf8.enumerated() { block[offset + i] = b } }
    put(String(name.prefix(100)), 0)
    put("0000644", 100)
    put("0000000", 108)
    put("0000000", 116)
    if let sizeField {
      for (i, b) in sizeField.prefix(12).enumerated() { block[124 + i] = b }
    } else {
      let octal = String(size, radix: 8)
      put(String(repeating: "0", count: max(0, 11 - octal.count)) + octal, 124)
    }
    put("14524770400", 136)
    put("        ", 148)
    block[156] = type.asciiValue ?? 0
    put("ustar", 257)
    put("00", 263)
    let sum = block.reduce(0) { $0 + Int($1) }
    let digits = String(sum, radix: 8)
    put(String(repeating: "0", count: max(0, 6 - digits.count)) + digits, 148)
    block[154] = 0
    block[155] = 32
    return block
  }

  static func paxRecord(_ key: String, _ value: String) -> String {
    let body = " \(key)=\(value)\n"
    var length = body.utf8.count + 1
    while String(length).utf8.count + body.utf8.count != length { length += 1 }
    return "\(length)\(body)"
  }

  mutating func member(_ name: String, type: Character, content: [UInt8] = [], declaredSize: Int64? = nil, sizeField: [UInt8]? = nil) {
    bytes += Self.header(name, type: type, size: declaredSize ?? Int64(content.count), sizeField: sizeField)
    bytes += content
    bytes += [UInt8](repeating: 0, count: (512 - content.count % 512) % 512)
  }

  mutating func pax(_ records: String, global: Bool = false) {
    member(global ? "pax_global_header" : "PaxHeaders/x", type: global ? "g" : "x", content: Array(records.utf8))
  }

  mutating func end() { bytes += [UInt8](repeating: 0, count: 1024) }

  /// Every entry the reader yields, with the content of files.
  func read() throws(CrispError) -> [(entry: TarEntry, content: [UInt8])] {
    var reader = TarReader(MemorySource(bytes), name: "layer sha256:test")
    defer { reader.close() }
    var result: [(TarEntry, [UInt8])] = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
    defer { buffer.deallocate() }
    while let entry = try reader.next() {
      var content: [UInt8] = []
      while true {
        let n = try reader.readContent(into: buffer)
        if n == 0 { break }
        content += buffer[0..<n]
      }
      result.append((entry, content))
    }
    return result
  }
}

/// Expects `body` to throw a CrispError and returns it.
func expectCrispError<T>(_ body: () throws -> T) -> CrispError? {
  do {
    _ = try body()
    return nil
  } catch let error as CrispError {
    return error
  } catch {
    return CrispError.internalError("not a CrispError: \(error)")
  }
}

@Suite struct TarReaderHostileTests {
  /// Issue 17 item 2: a PAX size of 2^63-1 on a directory trapped on `remainingContent + remainingPadding`.
  @Test func aPAXSizeNoTarCanCarryIsRefusedNamingTheEntry() {
    var tar = CraftedTar()
    tar.pax(CraftedTar.paxRecord("size", "9223372036854775807"))
    tar.member("d/", type: "5")
    tar.member("f", type: "0", content: Array("hi".utf8))
    tar.end()
    let error = expectCrispError { try tar.read() }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("\"d/\"") == true, "\(error?.message ?? "")")
    #expect(error?.message.contains("9223372036854775807") == true)
    #expect(error?.message.contains("layer sha256:test") == true)
  }

  /// The same through the header's base-256 size field (GNU): 2^63-257 passes the field's own overflow
  /// check, and its padding took the sum past Int64.max.
  @Test func aBase256SizeNoTarCanCarryIsRefused() {
    var tar = CraftedTar()
    tar.member("big", type: "0", sizeField: [0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff])
    tar.end()
    let error = expectCrispError { try tar.read() }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("\"big\"") == true, "\(error?.message ?? "")")
  }

  /// A PAX record whose length field is huge overflowed `index + length`.
  @Test(arguments: [
    "9223372036854775807 path=x\n", "9 a=bcde\n9223372036854775807 path=x\n", "99999999999999999999 path=x\n", "-5 path=x\n", "+9 path=x\n", "3 \n",
    "0 x=y\n", "6 =xy\n",
  ])
  func malformedPAXRecordsAreRefused(_ records: String) {
    var tar = CraftedTar()
    tar.pax(records)
    tar.member("f", type: "0", content: Array("hi".utf8))
    tar.end()
    let error = expectCrispError { try tar.read() }
    #expect(error?.code == .invalidArgument, "\(records)")
    #expect(error?.message.contains("malformed PAX") == true, "\(error?.message ?? "")")
  }

  /// Links, devices, fifos and directories carry no content whatever size they declare, as Go's
  /// archive/tar reads them: the next header follows directly (crisp used to skip the declared bytes, so
  /// the same layer unpacked differently here and under containerd).
  @Test func headerOnlyEntriesCarryNoContent() throws {
    var tar = CraftedTar()
    tar.bytes += CraftedTar.header("d/", type: "5", size: 1024)
    tar.member("f", type: "0", content: Array("hi".utf8))
    tar.bytes += CraftedTar.header("l", type: "2", size: 512)
    tar.member("g", type: "0", content: Array("ho".utf8))
    tar.end()
    let entries = try tar.read()
    #expect(entries.map { $0.entry.path } == ["d/", "f", "l", "g"])
    #expect(entries.map { $0.entry.size } == [0, 2, 0, 2])
    #expect(entries.last?.content == Array("ho".utf8))
  }

  /// Issue 17 item 11: a global header's records applied to every later entry (a global
  /// `SCHILY.xattr.*` became an xattr of every file). They apply to none now, as with containerd.
  @Test func globalPAXRecordsApplyToNoEntry() throws {
    var tar = CraftedTar()
    tar.pax(
      CraftedTar.paxRecord("SCHILY.xattr.user.evil", "x") + CraftedTar.paxRecord("path", "evil") + CraftedTar.paxRecord("uid", "7"), global: true)
    tar.member("a", type: "0", content: Array("1".utf8))
    tar.pax(CraftedTar.paxRecord("SCHILY.xattr.user.mine", "y"))
    tar.member("b", type: "0", content: Array("2".utf8))
    tar.member("c", type: "0", content: Array("3".utf8))
    tar.end()
    let entries = try tar.read()
    #expect(entries.map { $0.entry.path } == ["a", "b", "c"])
    #expect(entries.map { $0.entry.uid } == [0, 0, 0])
    #expect(entries[0].entry.xattrs.isEmpty)
    #expect(entries[1].entry.xattrs.map { $0.name } == ["user.mine"])
    #expect(entries[2].entry.xattrs.isEmpty)
  }

  /// A global header is still checked, and bounded like any extended header.
  @Test func malformedOrHugeGlobalHeadersAreRefused() {
    var bad = CraftedTar()
    bad.pax("99999999999999999999 x=y\n", global: true)
    bad.end()
    #expect(expectCrispError { try bad.read() }?.message.contains("malformed PAX") == true)

    var huge = CraftedTar()
    huge.pax(CraftedTar.paxRecord("comment", String(repeating: "x", count: (1 << 20) + 1)), global: true)
    huge.end()
    #expect(expectCrispError { try huge.read() }?.message.contains("limit") == true)
  }

  /// Extended headers before one entry share one budget: many of them cannot pile up memory.
  @Test func extendedHeadersBeforeOneEntryAreBoundedTogether() {
    var tar = CraftedTar()
    for index in 0..<5 {
      tar.pax(CraftedTar.paxRecord("SCHILY.xattr.user.k\(index)", String(repeating: "v", count: 300 * 1024)))
    }
    tar.member("f", type: "0")
    tar.end()
    let error = expectCrispError { try tar.read() }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("before one entry") == true, "\(error?.message ?? "")")
  }

  @Test func paxTimesAreParsedStrictly() {
    #expect(TarFormat.paxTime(Array("1700000000.5".utf8)).map { [$0.seconds, $0.nanoseconds] } == [1_700_000_000, 500_000_000])
    #expect(TarFormat.paxTime(Array("-1.25".utf8)).map { [$0.seconds, $0.nanoseconds] } == [-2, 750_000_000])
    #expect(TarFormat.paxTime(Array("5.1234567891".utf8)).map { [$0.seconds, $0.nanoseconds] } == [5, 123_456_789])
    #expect(TarFormat.paxTime(Array("1.-5".utf8)) == nil)
    #expect(TarFormat.paxTime(Array("99999999999999999999".utf8)) == nil)
    #expect(TarFormat.paxTime(Array("".utf8)) == nil)
    #expect(TarFormat.decimal(Array("9223372036854775807".utf8)) == Int64.max)
    #expect(TarFormat.decimal(Array("9223372036854775808".utf8)) == nil)
    #expect(TarFormat.decimal(Array("+1".utf8)) == nil)
  }

  /// A malformed PAX mtime is an error naming the entry (it used to give negative nanoseconds).
  @Test func aMalformedPAXTimeIsRefused() {
    var tar = CraftedTar()
    tar.pax(CraftedTar.paxRecord("mtime", "1.-5"))
    tar.member("f", type: "0")
    tar.end()
    let error = expectCrispError { try tar.read() }
    #expect(error?.message.contains("\"f\"") == true && error?.message.contains("mtime") == true, "\(error?.message ?? "")")
  }

  /// A file deep below directories the layer never lists: made walking down, not recursing.
  @Test(.enabled(if: getuid() == 0, "unpacking chowns entries to their owners: root only"))
  func aDeepPathWithoutParentEntriesUnpacks() throws {
    let directory = try TemporaryDirectory()
    let depth = 2000
    let path = Array(repeating: "a", count: depth).joined(separator: "/") + "/f"
    var tar = CraftedTar()
    tar.pax(CraftedTar.paxRecord("path", path))
    tar.member("placeholder", type: "0", content: Array("deep".utf8))
    tar.end()
    let blob = directory.path + "/layer.tar"
    try Data(tar.bytes).write(to: URL(fileURLWithPath: blob))
    try FileManager.default.createDirectory(atPath: directory.path + "/out", withIntermediateDirectories: true)
    _ = try LayerExtraction.extract(blob: blob, compression: .none, into: directory.path + "/out", whiteouts: .markers, name: "layer")
    let fd = open(directory.path + "/out", O_RDONLY | O_DIRECTORY)
    defer { close(fd) }
    // The whole path is longer than PATH_MAX for one lookup; check a component at a time.
    var current = fd
    for _ in 0..<depth {
      let next = openat(current, "a", O_RDONLY | O_DIRECTORY)
      #expect(next >= 0)
      if current != fd { close(current) }
      guard next >= 0 else { return }
      current = next
    }
    var info = stat()
    #expect(fstatat(current, "f", &info, 0) == 0 && info.st_size == 4)
    close(current)
  }
}

/// A directory under /tmp, removed when the value goes away.
final class TemporaryDirectory {
  let path: String
  init() throws {
    path = "/tmp/crisp-unit-" + UUID().uuidString.prefix(8).lowercased()
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }
  deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct ManifestHostileTests {
  static let digestA = "sha256:" + String(repeating: "a", count: 64)
  static let digestB = "sha256:" + String(repeating: "b", count: 64)

  /// Issue 17 item 3: an index entry with an empty mediaType pointing at a manifest without one trapped on
  /// `split(";")[0]`. The manifest itself parses (its type is inferred) and the index is refused by entry.
  @Test func anEmptyMediaTypeNeitherTrapsNorPasses() throws {
    let manifest =
      #"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(Self.digestA)","size":2},"layers":[]}"#
    for header in ["", ";", " ; x=y", ";;"] {
      guard case .manifest = try ManifestParser.parse(Array(manifest.utf8), mediaType: header, reference: "r") else {
        Issue.record("\"\(header)\" did not give a manifest")
        continue
      }
    }
    let index =
      #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"","digest":"\#(Self.digestB)","size":10,"platform":{"architecture":"amd64","os":"linux"}}]}"#
    let error = expectCrispError { try ManifestParser.parse(Array(index.utf8), mediaType: nil, reference: "r") }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("manifests[0]") == true, "\(error?.message ?? "")")
    #expect(error?.message.contains(Self.digestB) == true)
  }

  /// Issue 17 item 8: declared sizes are bounded when the manifest is parsed, naming the descriptor.
  @Test(arguments: [
    (
      "layers[0]", #"{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"DA","size":2}"#,
      #"[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"DB","size":9223372036854775807}]"#
    ),
    (
      "layers[1]", #"{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"DA","size":2}"#,
      #"[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"DA","size":1},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"DB","size":-1}]"#
    ),
    ("config", #"{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"DB","size":9223372036854775807}"#, "[]"),
    (
      "layers[0]", #"{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"DA","size":2}"#,
      #"[{"mediaType":"not a type","digest":"DB","size":1}]"#
    ),
  ])
  func absurdDescriptorsAreRefusedByName(_ field: String, _ config: String, _ layers: String) {
    let text = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":\#(config),"layers":\#(layers)}"#
      .replacingOccurrences(of: "\"DA\"", with: "\"\(Self.digestA)\"").replacingOccurrences(of: "\"DB\"", with: "\"\(Self.digestB)\"")
    let error = expectCrispError { try ManifestParser.parse(Array(text.utf8), mediaType: nil, reference: "r") }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("\(field) (\(Self.digestB))") == true, "\(error?.message ?? "")")
  }

  @Test func sizesAreSummedChecked() throws {
    let config = Descriptor(mediaType: MediaType.ociConfig, digest: try Digest(parsing: Self.digestA), size: 2)
    let big = Descriptor(mediaType: MediaType.ociLayerGzip, digest: try Digest(parsing: Self.digestB), size: Int64.max)
    let manifest = ImageManifest(mediaType: MediaType.ociManifest, config: config, layers: [big])
    #expect(expectCrispError { try manifest.totalSize(reference: "r") }?.code == .invalidArgument)
    let fine = ImageManifest(
      mediaType: MediaType.ociManifest, config: config, layers: [Descriptor(mediaType: MediaType.ociLayerGzip, digest: config.digest, size: 40)])
    #expect(try fine.totalSize(reference: "r") == 42)
    #expect(PullProgressTracker.adding(Int64.max, 5) == Int64.max)
    #expect(PullProgressTracker.adding(40, 2) == 42)
  }

  @Test func mediaTypesAreShapeChecked() {
    for good in [MediaType.ociLayerGzip, MediaType.dockerManifest, "application/vnd.cncf.helm.config.v1+json"] {
      #expect(MediaType.isWellFormed(good), "\(good)")
    }
    for bad in ["", ";", "application", "/json", "application/", "a/b c", "a/b;x=y", String(repeating: "a", count: 300) + "/b"] {
      #expect(!MediaType.isWellFormed(bad), "\(bad)")
    }
  }
}

@Suite struct DigestPathTests {
  /// Issue 17 item 13: archive blob names must be digests before they become paths.
  @Test func archiveBlobNamesMustBeDigests() throws {
    let hex = String(repeating: "ab", count: 32)
    #expect(try ImageManager.blobDigest(entry: "blobs/sha256/\(hex)")?.encoded == hex)
    #expect(try ImageManager.blobDigest(entry: "blobs/sha512/" + String(repeating: "f", count: 128))?.algorithm == "sha512")
    #expect(try ImageManager.blobDigest(entry: "manifest.json") == nil)
    #expect(try ImageManager.blobDigest(entry: "abc/layer.tar") == nil)
    for bad in [
      "blobs/sha256/../../../../tmp/x", "blobs/sha256/" + hex.uppercased(), "blobs/sha256/" + hex.dropLast(), "blobs/sha256/\(hex)/x",
      "blobs/sha512/\(hex)", "blobs/md5/\(hex)", "blobs//\(hex)", "blobs/sha256/", "blobs/index.json",
    ] {
      let error = expectCrispError { try ImageManager.blobDigest(entry: bad) }
      #expect(error?.code == .invalidArgument, "\(bad)")
      #expect(error?.message.contains("is not a blob name") == true, "\(bad)")
    }
    #expect(Digest.isWellFormed(algorithm: "sha256", encoded: hex))
    #expect(!Digest.isWellFormed(algorithm: "sha384", encoded: String(repeating: "0", count: 96)))
  }

  @Test func registryHostsInBracketsAreIPv6Literals() {
    #expect(ImageReference.isValidDomain("[::1]:5000"))
    #expect(ImageReference.isValidDomain("[fe80::1]"))
    #expect(!ImageReference.isValidDomain("[..]:5000"))
    #expect(!ImageReference.isValidDomain("[a/b]"))
    #expect(!ImageReference.isValidDomain("[]"))
  }
}

@Suite struct RedirectPolicyTests {
  /// Issue 17 item 12: credentials and configured headers go only to the original scheme, host and port.
  @Test func credentialsStayWithTheOrigin() {
    let original = "https://registry.example:5000/v2/app/blobs/sha256:x"
    #expect(
      RedirectPolicy.decide(original: original, current: original, location: "/v2/other", redirects: 0)
        == .follow(url: "https://registry.example:5000/v2/other", sameOrigin: true))
    #expect(
      RedirectPolicy.decide(original: original, current: original, location: "https://REGISTRY.example:5000/x", redirects: 0)
        == .follow(url: "https://REGISTRY.example:5000/x", sameOrigin: true))
    // Same host, another port: another server.
    #expect(
      RedirectPolicy.decide(original: original, current: original, location: "https://registry.example:5001/x", redirects: 0)
        == .follow(url: "https://registry.example:5001/x", sameOrigin: false))
    #expect(
      RedirectPolicy.decide(original: original, current: original, location: "https://storage.example/x?sig=1", redirects: 0)
        == .follow(url: "https://storage.example/x?sig=1", sameOrigin: false))
    // Default ports are the same origin written either way.
    #expect(
      RedirectPolicy.decide(original: "http://h/v2/", current: "http://h/v2/", location: "http://h:80/x", redirects: 0)
        == .follow(url: "http://h:80/x", sameOrigin: true))
    // http to https on the same host is another origin (another port).
    #expect(
      RedirectPolicy.decide(original: "http://h/v2/", current: "http://h/v2/", location: "https://h/x", redirects: 0)
        == .follow(url: "https://h/x", sameOrigin: false))
    // Back at the origin after a hop elsewhere: credentials again.
    #expect(
      RedirectPolicy.decide(original: original, current: "https://storage.example/x", location: "https://registry.example:5000/y", redirects: 1)
        == .follow(url: "https://registry.example:5000/y", sameOrigin: true))
  }

  @Test func onlyHTTPAndNoDowngradeAndABoundedChain() {
    let original = "https://registry.example/v2/app/blobs/sha256:x"
    for location in [
      "http+unix://%2Fvar%2Frun%2Fdocker.sock/info", "unix:///var/run/docker.sock", "file:///etc/shadow", "ftp://h/x", "https+unix://%2Ftmp%2Fs/x",
    ] {
      guard case .refuse(let why) = RedirectPolicy.decide(original: original, current: original, location: location, redirects: 0) else {
        Issue.record("\(location) was followed")
        continue
      }
      #expect(why.contains("only http and https"), "\(why)")
    }
    guard
      case .refuse(let downgrade) = RedirectPolicy.decide(original: original, current: original, location: "http://registry.example/x", redirects: 0)
    else {
      Issue.record("https to http was followed")
      return
    }
    #expect(downgrade.contains("https to plain http"))
    #expect(
      RedirectPolicy.decide(original: original, current: original, location: "/x", redirects: RedirectPolicy.maximumRedirects)
        == .refuse("more than \(RedirectPolicy.maximumRedirects) redirects"))
    #expect(RedirectPolicy.decide(original: original, current: original, location: nil, redirects: 0) == .refuse("a redirect without a Location"))
  }

  @Test func tokenRealmsAreHTTPAndNeverDowngradeCredentials() throws {
    let https = try RegistryEndpoint.direct("https://registry.example")
    let http = try RegistryEndpoint.direct("http://127.0.0.1:5000")
    #expect(RegistryClient.realmRefusal("https://auth.example/token", endpoint: https, sendsCredentials: true) == nil)
    #expect(
      RegistryClient.realmRefusal("http+unix://%2Fvar%2Frun%2Fdocker.sock/x", endpoint: https, sendsCredentials: false)?.contains(
        "not an http(s) URL") == true)
    #expect(RegistryClient.realmRefusal("http://auth.example/token", endpoint: https, sendsCredentials: true)?.contains("in clear") == true)
    #expect(RegistryClient.realmRefusal("http://auth.example/token", endpoint: https, sendsCredentials: false) == nil)
    #expect(RegistryClient.realmRefusal("http://127.0.0.1:5001/token", endpoint: http, sendsCredentials: true) == nil)
  }
}
