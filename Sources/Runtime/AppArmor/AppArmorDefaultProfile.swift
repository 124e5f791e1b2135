/// crisp's own AppArmor profile for containers that ask for the runtime's default (or for nothing): what
/// containerd and CRI-O apply in the same case. It lets a container do what it may do in its namespaces
/// (files, network, capabilities it was given) and stops the usual ways out of them: writing to /proc
/// outside the process directories and the namespaced kernel sysctls, mounting, most of /sys, the
/// kernel's memory and security files.
public enum AppArmorDefaultProfile {
  /// The profile's name, as it appears in the OCI spec and in the kernel's profile list.
  public static let name = "crisp-default"

  /// The profile's source for `apparmor_parser`. Its text is part of crisp: a change here is loaded again
  /// (the file crisp last loaded is compared with this).
  public static func source(name: String = name) -> String {
    """
    # Written by crisp; loaded with apparmor_parser when missing or changed. Edits here are overwritten:
    # write a profile of your own and name it with a Localhost AppArmor profile instead.
    #include <tunables/global>

    profile \(name) flags=(attach_disconnected,mediate_deleted) {
      #include <abstractions/base>

      # What a process in its own namespaces may do; its capabilities are bounded by the OCI spec.
      network,
      capability,
      file,
      umount,

      # The node's unconfined processes (crisp, kubelet) may signal containers; containers under this
      # profile may signal and trace each other, nothing else.
      signal (receive) peer=unconfined,
      signal (send,receive) peer=\(name),
      ptrace (trace,read,tracedby,readby) peer=\(name),

      deny mount,

      # /proc: no writes to its top-level files, nor below anything that is not a process directory or
      # sys; under sys only the namespaced kernel.shm* keys; never the sysrq trigger or kernel memory.
      deny @{PROC}/* w,
      deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9/]*}/** w,
      deny @{PROC}/sys/[^k]** w,
      deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,
      deny @{PROC}/sysrq-trigger rwklx,
      deny @{PROC}/kcore rwklx,

      # /sys: writable only under /sys/fs/cgroup (its own, read-only unless privileged); firmware, power
      # capping and the security modules' files not even readable.
      deny /sys/[^f]*/** wklx,
      deny /sys/f[^s]*/** wklx,
      deny /sys/fs/[^c]*/** wklx,
      deny /sys/fs/c[^g]*/** wklx,
      deny /sys/fs/cg[^r]*/** wklx,
      deny /sys/firmware/** rwklx,
      deny /sys/devices/virtual/powercap/** rwklx,
      deny /sys/kernel/security/** rwklx,
    }

    """
  }
}
