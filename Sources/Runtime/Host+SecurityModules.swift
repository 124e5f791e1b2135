import CrispCore

extension Host {
  /// Whether the kernel has AppArmor enabled (its module parameter says `Y`).
  static var appArmorEnabled: Bool {
    ((try? FilePath.readText("/sys/module/apparmor/parameters/enabled")) ?? nil)?.hasPrefix("Y") == true
  }

  /// Whether SELinux is active (selinuxfs mounted with an enforce file).
  static var selinuxEnabled: Bool { FilePath.exists("/sys/fs/selinux/enforce") }
}
