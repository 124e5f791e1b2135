public import CrispCore
import Glibc

extension RuntimeManager {
  /// `log_directory/log_path`, refusing a path that leaves the directory.
  func logPath(directory: String, relative: String) throws(CrispError) -> String? {
    guard !relative.isEmpty else { return nil }
    guard !directory.isEmpty else {
      throw CrispError.invalidArgument("log_path \"\(relative)\" is set but the sandbox has no log_directory")
    }
    guard !relative.hasPrefix("/") else {
      throw CrispError.invalidArgument("log_path \"\(relative)\" must be relative to the sandbox's log_directory")
    }
    var depth = 0
    for component in relative.split(separator: "/") {
      if component == ".." { depth -= 1 } else if component != "." { depth += 1 }
      if depth < 0 { throw CrispError.invalidArgument("log_path \"\(relative)\" escapes the sandbox's log_directory") }
    }
    return FilePath.join(directory, relative)
  }

  /// CRI mounts with their host paths checked to exist and resolved through symlinks.
  func resolveMounts(
    _ mounts: [MountRequest], recursiveReadOnly: Bool, userNamespace: SpecBuilder.PodUserNamespace? = nil
  ) throws(CrispError) -> [SpecBuilder.ResolvedMount] {
    var result: [SpecBuilder.ResolvedMount] = []
    for (index, mount) in mounts.enumerated() {
      guard mount.containerPath.hasPrefix("/") else {
        throw CrispError.invalidArgument("mounts[\(index)].container_path \"\(mount.containerPath)\" must be an absolute path")
      }
      if mount.isImageVolume {
        // Checked by planImageVolumes; the host path is the view's directory, known once it is mounted. The
        // view has no mounts below it, so read-only is already recursive.
        result.append(.init(hostPath: "", containerPath: mount.containerPath, readonly: true, propagation: .private, imageVolume: true))
        continue
      }
      guard !mount.hostPath.isEmpty else { throw CrispError.invalidArgument("mounts[\(index)].host_path is empty") }
      guard let resolved = realpath(mount.hostPath, nil) else {
        throw CrispError.invalidArgument("mounts[\(index)].host_path \"\(mount.hostPath)\": \(SystemError.last("realpath", mount.hostPath).strerror)")
      }
      let path = String(cString: resolved)
      free(resolved)
      if mount.recursiveReadOnly {
        let field = "mounts[\(index)].recursive_read_only"
        guard recursiveReadOnly else {
          throw CrispError.invalidArgument("\(field): this runtime handler cannot make recursive read-only mounts (Status does not advertise it)")
        }
        guard mount.readonly else { throw CrispError.invalidArgument("\(field) needs readonly: true") }
        guard mount.propagation == .private else {
          throw CrispError.invalidArgument("\(field) needs private propagation (mounts propagated into a read-only tree could not be made read-only)")
        }
      }
      if mount.propagation != .private {
        try MountPropagation.check(path, shared: mount.propagation == .bidirectional, field: "mounts[\(index)]")
      }
      let idmapped = !mount.uidMappings.isEmpty || !mount.gidMappings.isEmpty
      if idmapped {
        // kubelet gives a user-namespaced pod's volumes the pod's own mappings; crisp maps them that way only.
        guard let userNamespace else {
          throw CrispError.invalidArgument("mounts[\(index)]: uidMappings/gidMappings need a pod with its own user namespace")
        }
        guard SecurityChecks.isPodMapping(mount.uidMappings, userNamespace.uids), SecurityChecks.isPodMapping(mount.gidMappings, userNamespace.gids)
        else {
          throw CrispError.invalidArgument(
            "mounts[\(index)].uidMappings/gidMappings: must be the pod's own mappings (one range each, from container id 0)")
        }
        guard mount.propagation == .private else {
          throw CrispError.invalidArgument("mounts[\(index)]: an idmapped mount cannot propagate mounts (propagation must be private)")
        }
      }
      result.append(
        .init(
          hostPath: path, containerPath: mount.containerPath, readonly: mount.readonly, propagation: mount.propagation,
          recursiveReadOnly: mount.recursiveReadOnly, idmapped: idmapped))
    }
    return result
  }
}
