import Testing

@testable import Config

/// toml++ asserts (aborting the daemon) on a table header whose key starts with a character no key may
/// start with, and on an array element starting with `}`; crisp refuses such text before TOMLKit sees it.
@Suite struct TOMLPreCheckTests {
  @Test func headersStartingBadlyAreRefusedWithTheirLine() throws {
    #expect(TOMLPreCheck.firstAssertingLine("[!a]\n") == 1)
    #expect(TOMLPreCheck.firstAssertingLine("a = 1\n\n[[ =]]\n") == 3)
    #expect(TOMLPreCheck.firstAssertingLine("[[\n  \"x\"]\n") == 1)
    #expect(TOMLPreCheck.firstAssertingLine("  [\t%]") == 1)
    #expect(TOMLPreCheck.firstAssertingLine("\u{FEFF}[!a]\n") == 1)
    #expect(TOMLPreCheck.firstAssertingLine("a = [}\n") == 1)
    #expect(TOMLPreCheck.firstAssertingLine("a = 1\nb = [\n  1,\n  }\n]\n") == 4)
    #expect(TOMLPreCheck.firstAssertingLine("a = [[\"x\"], [}}}]\n") == 1)
    for text in ["[!a]\n", "[registry]\nconfig_path = \"x\"\n[[\n \"io\"]\n", "a = [}\n"] {
      #expect(throws: ConfigError.self) { _ = try ConfigLoader.parse(text, source: "t.toml") }
      #expect(throws: ConfigError.self) { _ = try HostsFile.parse(text, path: "/etc/crisp/certs.d/x/hosts.toml") }
      #expect(throws: ConfigError.self) { _ = try ContainerdImporter.importConfig(text, source: "t.toml") }
    }
  }

  @Test func validTextIsLeftToTOMLKit() {
    let valid = [
      "[a]\n[\"b c\"]\n['d']\n[[e]]\n[ f . g ]\n[_h]\n[-i]\n[9]\n",
      // Brackets and braces inside values, also on continuation lines, are not headers.
      "a = [\n  [1, 2],\n  [+3],\n  [{ x = 1 }],\n]\nb = { c = [ \"[!\" ] }\n",
      // Strings and comments may hold anything.
      "a = \"\"\"\n[!x]\n\"\"\"\nb = '''\n[!y]\n'''\n# [!z]\nc = \"[!\" # [!\n",
      "a = \"\"\"x\"\"\"\"\"\n[ok]\n",
      "",
    ]
    for text in valid { #expect(TOMLPreCheck.firstAssertingLine(text) == nil, "\(text)") }
  }
}
