import CDI

/// The `cdi` entry of Status's verbose info: the spec directories, every CDI device crisp can give (with
/// the spec file defining it), and the spec files it does not use, with why.
struct CDIStatusReport: Encodable {
  var specDirs: [String]
  var devices: [Device]
  var rejectedSpecs: [CDIRejectedFile]

  struct Device: Encodable {
    var name: String
    var specFile: String
  }

  init(_ registry: CDIRegistry) {
    let contents = registry.current
    specDirs = registry.directories
    devices = contents.devices.values.sorted { $0.name < $1.name }.map { Device(name: $0.name.description, specFile: $0.specPath) }
    rejectedSpecs = contents.rejected
  }
}
