import CrispCore
import Runtime
import Testing

/// An image's USER and its /etc/passwd and /etc/group come from whoever built the image: every malformed
/// shape is an INVALID_ARGUMENT naming the image and the field, never a trap or a guess.
@Suite struct ImageUserTests {
  let field = "image \"example.test/app:1\" config.User"
  let passwd = Array(
    """
    root:x:0:0:root:/root:/bin/sh
    www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
    short:x:77
    badnumber:x:4294967296:1:big:/:/bin/sh
    negative:x:-1:1::/:/bin/sh
    app:x:1000:1001::/home/app:/bin/sh

    """.utf8)
  let group = Array(
    """
    root:x:0:
    staff:x:50:app,www-data
    short
    huge:x:99999999999:
    app:x:1001:

    """.utf8)

  var accounts: ImageAccountFiles { .init(passwd: passwd, group: group) }

  func resolve(_ value: String, _ accounts: ImageAccountFiles? = nil) throws(CrispError) -> ImageUser.Resolved {
    try ImageUser.resolve(value, field: field, accounts: accounts ?? self.accounts)
  }

  /// The error's message, nil when the value resolved.
  func failure(_ value: String, _ accounts: ImageAccountFiles? = nil) -> String? {
    do {
      _ = try resolve(value, accounts)
      return nil
    } catch {
      guard error.code == .invalidArgument else { return "not invalidArgument: \(error)" }
      return error.message
    }
  }

  @Test func emptyIsRoot() throws {
    #expect(try resolve("") == .init(uid: 0, gid: 0, name: "root"))
    #expect(try resolve("", .init(passwd: nil, group: nil)) == .init(uid: 0, gid: 0, name: nil))
  }

  @Test func numbers() throws {
    #expect(try resolve("1000") == .init(uid: 1000, gid: 1001, name: "app"))
    #expect(try resolve("1002") == .init(uid: 1002, gid: 0, name: nil))
    #expect(try resolve("1002:7") == .init(uid: 1002, gid: 7, name: nil))
    #expect(try resolve("4294967295:4294967295") == .init(uid: UInt32.max, gid: UInt32.max, name: nil))
    #expect(try resolve("0", .init(passwd: nil, group: nil)) == .init(uid: 0, gid: 0, name: nil))
  }

  @Test func names() throws {
    #expect(try resolve("www-data") == .init(uid: 33, gid: 33, name: "www-data"))
    #expect(try resolve("app:staff") == .init(uid: 1000, gid: 50, name: "app"))
    #expect(try resolve("www-data:1001") == .init(uid: 33, gid: 1001, name: "www-data"))
    #expect(try resolve("1000:app") == .init(uid: 1000, gid: 1001, name: "app"))
  }

  @Test(arguments: [
    (":", "user part is empty"),
    (":b", "user part is empty"),
    ("a:", "group part after ':' is empty"),
    ("1000:", "group part after ':' is empty"),
    ("1:2:3", "more than one ':'"),
    ("::", "more than one ':'"),
    ("4294967296", "user id 4294967296 is out of range"),
    ("99999999999999999999999", "out of range"),
    ("1000:4294967296", "group id 4294967296 is out of range"),
    ("nobody", "no user \"nobody\" in the image's /etc/passwd"),
    ("app:nogroup", "no group \"nogroup\" in the image's /etc/group"),
    ("short", "no user \"short\""),
    ("badnumber", "no user \"badnumber\""),
    ("negative", "no user \"negative\""),
    ("root:huge", "no group \"huge\""),
    ("-1", "no user \"-1\""),
    ("+5", "no user \"+5\""),
    (" 5", "no user \" 5\""),
  ])
  func malformedIsRefused(value: String, expected: String) {
    let message = failure(value)
    #expect(message?.contains(field) == true, "\(value): \(message ?? "resolved")")
    #expect(message?.contains(expected) == true, "\(value): \(message ?? "resolved")")
  }

  @Test func namesNeedTheFiles() {
    #expect(failure("app", .init(passwd: nil, group: group))?.contains("the image has no /etc/passwd") == true)
    #expect(failure("1000:staff", .init(passwd: passwd, group: nil))?.contains("the image has no /etc/group") == true)
  }

  /// A name that is not UTF-8 in the file matches nothing (decoding it with repair would make it match
  /// U+FFFD), and a file of garbage is just a file without users.
  @Test func nonUTF8Files() throws {
    let odd = ImageAccountFiles(
      passwd: [0xFF, 0x3A, 0x78, 0x3A, 0x35, 0x3A, 0x35, 0x0A] + Array("ok:x:6:6::/:\n".utf8), group: [0xFE, 0xFF, 0x00, 0x3A])
    #expect(failure("\u{FFFD}", odd)?.contains("no user") == true)
    #expect(try resolve("ok", odd) == .init(uid: 6, gid: 6, name: "ok"))
    #expect(try resolve("5", odd) == .init(uid: 5, gid: 5, name: nil))
    #expect(failure("ok:x", odd)?.contains("no group \"x\"") == true)
    let garbage = ImageAccountFiles(passwd: (0...255).map { UInt8($0) }, group: Array(repeating: 0x3A, count: 4096))
    #expect(failure("root", garbage)?.contains("no user \"root\"") == true)
  }

  @Test func entriesSkipShortLines() {
    let entries = AccountEntry.entries(Array("a\n:x:1:1\nb:x:2\nc:x:3:4\n".utf8), group: false)
    #expect(entries.map(\.id) == [3])
    #expect(ImageUser.decimal(Array("4294967295".utf8)) == UInt32.max)
    #expect(ImageUser.decimal(Array("4294967296".utf8)) == nil)
    #expect(ImageUser.decimal(Array("".utf8)) == nil)
    #expect(ImageUser.decimal(Array("12a".utf8)) == nil)
  }

  @Test func criIDsAreCheckedNotClamped() throws {
    #expect(try SpecBuilder.criID(1000, field: "f") == 1000)
    #expect(throws: CrispError.self) { try SpecBuilder.criID(-1, field: "f") }
    #expect(throws: CrispError.self) { try SpecBuilder.criID(Int64(UInt32.max) + 1, field: "f") }
  }
}
