// Fuzz target over Sources/CDI: CDI spec files as a vendor's tool writes them into /etc/cdi.
import CrispCore

let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  // Byte 0: bit 0 set reads the rest as JSON, else as YAML. A spec that parses names only devices that
  // make valid qualified names with its kind.
  "cdi-spec": { bytes in
    guard let first = bytes.first else { return }
    let format: CDISpecParser.Format = first & 1 == 1 ? .json : .yaml
    guard let spec = try? CDISpecParser.parse(Array(bytes.dropFirst()), format: format) else { return }
    for device in spec.devices {
      guard case .success = CDIName.parse(spec.kind + "=" + device.name) else {
        fatalError("spec accepted with device \(device.name) of kind \(spec.kind), which is no qualified name")
      }
    }
  }
]
