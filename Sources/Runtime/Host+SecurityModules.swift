import CrispCore

extension Host {
  /// Whether SELinux is active (selinuxfs mounted with an enforce file).
  static var selinuxEnabled: Bool { FilePath.exists("/sys/fs/selinux/enforce") }
}
