// Fuzz targets over Sources/Config: crisp's config.toml, a registry's hosts.toml, and a containerd
// config.toml being imported (`crisp config import-containerd`).
import CrispCore

let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  "config-toml": { bytes in
    guard let config = try? ConfigLoader.parse(String(decoding: bytes, as: UTF8.self), source: "fuzz.toml") else { return }
    // What parsed must render (`crisp config default` and the daemon's effective config do).
    _ = ConfigRenderer.render(config)
  },
  "hosts-toml": { bytes in
    _ = try? HostsFile.parse(String(decoding: bytes, as: UTF8.self), path: "/etc/crisp/certs.d/fuzz.example/hosts.toml")
  },
  "containerd-toml": { bytes in
    _ = try? ContainerdImporter.importConfig(String(decoding: bytes, as: UTF8.self), source: "fuzz.toml")
  },
]
