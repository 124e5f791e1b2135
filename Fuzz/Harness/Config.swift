// Fuzz targets over Sources/Config: crisp's config.toml (alone and merged with a drop-in), a registry's
// hosts.toml, and a containerd config.toml being imported (`crisp config import-containerd`).
import CrispCore

let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  "config-toml": { bytes in
    guard let config = try? ConfigLoader.parse(String(decoding: bytes, as: UTF8.self), source: "fuzz.toml") else { return }
    // What parsed must render (`crisp config default` and the daemon's effective config do).
    _ = ConfigRenderer.render(config)
  },
  // A main file and a drop-in (the input split at its first NUL byte), merged key by key.
  "config-dropins": { bytes in
    let split = bytes.firstIndex(of: 0) ?? bytes.endIndex
    let main = String(decoding: bytes[..<split], as: UTF8.self)
    let dropIn = String(decoding: bytes[split...].dropFirst(), as: UTF8.self)
    guard let loaded = try? ConfigLoader.parse(documents: [("main.toml", main), ("config.d/10-fuzz.toml", dropIn)]) else { return }
    // What merged must render with its sources (`crisp config dump`).
    _ = ConfigRenderer.renderEffective(loaded)
  },
  "hosts-toml": { bytes in
    _ = try? HostsFile.parse(String(decoding: bytes, as: UTF8.self), path: "/etc/crisp/certs.d/fuzz.example/hosts.toml")
  },
  "containerd-toml": { bytes in
    _ = try? ContainerdImporter.importConfig(String(decoding: bytes, as: UTF8.self), source: "fuzz.toml")
  },
]
