/// A set of keys applied together on a reload (SIGHUP), by one applier in the daemon.
///
/// The daemon holds one applier per group; a key that belongs to no group needs a restart. Adding a
/// reloadable setting is one ``ReloadKey`` entry naming its group (and, for a new group, one applier).
public enum ReloadGroup: String, Sendable, CaseIterable, Hashable {
  /// `log.level`.
  case logLevel = "log level"
  /// `registry.*`: hosts.toml directories, inline mirrors, credentials and TLS. Read at each pull.
  case registry
  /// `image_pull_progress_timeout`: the registry client's read timeout for the next pulls.
  case imagePull = "image pull"
  /// `cni.bin_dirs`, `cni.plugin_timeout`, `cni.ip_pref`: used by the next plugin call.
  case cni
  /// `runtime.handlers.*.pod_annotations` and `container_annotations`: used by the next create.
  case annotations
  /// `cdi.spec_dirs`: read again at once and watched instead of the old directories.
  case cdi
}
