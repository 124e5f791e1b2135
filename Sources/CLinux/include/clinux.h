// Thin wrappers for the Linux calls Swift's Glibc module does not expose (or exposes only as variadics):
// openat2 path resolution, xattrs, mounts, namespaces. Kept minimal: logic lives in Swift.
#ifndef CRISP_CLINUX_H
#define CRISP_CLINUX_H

#include <stdint.h>
#include <sys/types.h>

// RESOLVE_* flags for crisp_openat2 (linux/openat2.h).
#define CRISP_RESOLVE_NO_XDEV 0x01
#define CRISP_RESOLVE_NO_MAGICLINKS 0x02
#define CRISP_RESOLVE_NO_SYMLINKS 0x04
#define CRISP_RESOLVE_BENEATH 0x08
#define CRISP_RESOLVE_IN_ROOT 0x10

/// openat2(2): opens `path` relative to `dirfd` under the given RESOLVE_* restrictions.
int crisp_openat2(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve);

int crisp_lsetxattr(const char *path, const char *name, const void *value, size_t size);
int crisp_fsetxattr(int fd, const char *name, const void *value, size_t size);
ssize_t crisp_lgetxattr(const char *path, const char *name, void *value, size_t size);
ssize_t crisp_llistxattr(const char *path, char *list, size_t size);

int crisp_mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data);
int crisp_umount2(const char *target, int flags);
int crisp_unshare(int flags);
int crisp_setns(int fd, int nstype);

/// mount flags and constants Swift cannot see as macros.
unsigned long crisp_ms_rdonly(void);
unsigned long crisp_ms_bind(void);
unsigned long crisp_ms_rec(void);
unsigned long crisp_ms_private(void);
unsigned long crisp_ms_slave(void);
unsigned long crisp_ms_shared(void);
unsigned long crisp_ms_nosuid(void);
unsigned long crisp_ms_nodev(void);
unsigned long crisp_ms_noexec(void);
unsigned long crisp_ms_remount(void);
int crisp_mnt_detach(void);
int crisp_clone_newnet(void);
/// pipe2(O_CLOEXEC): pipes crisp creates never leak into the programs it starts.
int crisp_pipe_cloexec(int fds[2]);
/// Creates a network namespace with loopback up and pins it by bind-mounting it on `path` (created as an
/// empty file). Runs on a thread of its own, so no thread of the caller ever changes namespace. Returns 0 or
/// an errno.
int crisp_netns_create(const char *path);
/// 1 when `path` is a namespace file (nsfs) — a pinned namespace, not a plain file left behind; 0 otherwise.
int crisp_is_nsfs(const char *path);
/// Creates a user namespace with the given uid_map/gid_map lines ("0 100000 65536") and pins it with a bind
/// mount on `userns_path`; with `netns_path`, also a network namespace owned by it (loopback up), pinned
/// there. Returns 0 or an errno value; on failure nothing is pinned and no file is left.
int crisp_userns_create(const char *userns_path, const char *netns_path, const char *uid_map, const char *gid_map);
/// Attaches at `target` a clone of the mount at `source` (not its submounts) whose ids are mapped through
/// the user namespace pinned at `userns_path`. Returns 0 or an errno value.
/// Does what `runc start` does for a created container: reads the byte its init writes to `exec.fifo`
/// (which lets it exec the process) and removes the fifo. 0, ENOENT (no fifo: not created, or another
/// runtime), ESRCH (the init died), ETIMEDOUT, or another errno.
/// Returns the allocator's free heap memory to the kernel.
int crisp_malloc_trim(void);
/* Caps how many heaps (arenas) glibc's allocator creates for new threads. */
int crisp_limit_malloc_arenas(int count);
/// 1 when `name` (relative to `dirfd`) is the root of a mount, 0 when not, -1 when the kernel cannot say.
int crisp_is_mount_root(int dirfd, const char *name);
int crisp_release_exec_fifo(const char *path, int pid, int timeout_ms);
int crisp_idmap_clone(const char *source, const char *userns_path, const char *target);
/// pidfd_open(2): a handle on one process that a reused pid can never alias. Returns the fd or -1 (errno).
int crisp_pidfd_open(int pid);
/// 1 while the process behind a pidfd has not exited, 0 otherwise.
int crisp_pidfd_alive(int pidfd);
/// Sends `signal` to the process behind a pidfd (never to a process that reused its pid); 0 or -1 (errno).
int crisp_pidfd_signal(int pidfd, int signal);
/// Connects a TCP socket to `port` on loopback (127.0.0.1, then ::1) inside the network namespace at
/// `netns` (NULL: the host's). The socket stays in that namespace. Returns 0 and sets *fd, or an errno.
int crisp_dial_loopback(const char *netns, unsigned short port, int *fd);
/// Sets a terminal's window size (TIOCSWINSZ); 0 or -1 (errno).
int crisp_set_window_size(int fd, unsigned short columns, unsigned short rows);
/// Grows a pipe's buffer (F_SETPIPE_SZ) so bulk output moves in fewer, larger reads; best effort.
int crisp_set_pipe_size(int fd, int size);
/// Opens a new pseudo-terminal pair (both ends close-on-exec, the slave without becoming anyone's controlling
/// terminal); 0, or -1 (errno).
int crisp_openpty(int *master, int *slave);
/// Runs `body` inside the network namespace at `path`, on a thread of its own; returns 0 or an errno.
int crisp_in_netns(const char *path, void (*body)(void *), void *context);
int crisp_madvise(void *address, size_t length, int advice);
int crisp_madv_random(void);
int crisp_madv_dontneed(void);
/// MADV_PAGEOUT (Linux 5.4): reclaim the range now, as memory pressure would; -1 where the headers lack it.
int crisp_madv_pageout(void);
ssize_t crisp_copy_file_range(int in, int out, size_t length);
dev_t crisp_makedev(unsigned int major, unsigned int minor);
unsigned int crisp_major(dev_t dev);
unsigned int crisp_minor(dev_t dev);



// The new mount API (fsopen/fsconfig/fsmount/move_mount), used for overlay mounts whose layer list does
// not fit in one page of legacy mount data ("lowerdir+" needs Linux 6.8).
int crisp_fsopen(const char *fsname, unsigned int flags);
int crisp_fsconfig_string(int fd, const char *key, const char *value);
int crisp_fsconfig_create(int fd);
int crisp_fsmount(int fd);
int crisp_move_mount_to(int mountfd, const char *target);

/// One resource limit for crisp_exec_in_container (RLIMIT_* number, soft and hard values).
struct crisp_exec_rlimit {
  int resource;
  uint64_t soft;
  uint64_t hard;
};

/// A command to run inside a running container, with the container's own confinement: what `runc exec`
/// does, without starting runc. Every field is prepared by the caller; the children only make system calls.
struct crisp_exec_request {
  /// pidfd of the container's init, and the CLONE_NEW* namespaces of it to join (all in one setns).
  int pidfd;
  int namespaces;
  /// `cgroup.procs` of each of the container's cgroups, opened for writing.
  const int *cgroup_procs;
  int cgroup_count;
  int set_oom_score_adj;
  int oom_score_adj;
  /// NULL-terminated; argv[0] without a slash is looked up in `search_path` (colon-separated).
  const char *const *argv;
  const char *const *envp;
  const char *search_path;
  const char *cwd;
  uint32_t uid;
  uint32_t gid;
  const uint32_t *groups;
  int group_count;
  uint32_t umask;
  /// Capability sets as bit masks; `last_cap` is the kernel's highest capability number.
  uint64_t bounding, effective, permitted, inheritable, ambient;
  int last_cap;
  const struct crisp_exec_rlimit *rlimits;
  int rlimit_count;
  int no_new_privileges;
  /// A classic BPF seccomp program (struct sock_filter[]) and SECCOMP_FILTER_FLAG_* flags; NULL for none.
  const void *filter;
  int filter_instructions;
  unsigned int filter_flags;
  /// Descriptors for the command's stdin, stdout and stderr (-1: /dev/null).
  int stdin_fd, stdout_fd, stderr_fd;
  /// The session keyring to join (`_ses.<container id>`, as runc names it); NULL: keep the current one.
  const char *session_keyring;
};

/// Starts `request` in its container and returns once the command has been exec'd (or failed to start,
/// or `timeout_ms` passed first; 0: no limit). Returns the pid of a small waiter process that exits with the
/// command's status (128 + signal when it was killed); SIGTERM to the waiter kills the command. Sets
/// *command_pid to the command. On failure returns -1, sets *failure (127: the command was not found, 126:
/// not executable, 124: it did not start in time, 1: anything else) and writes the reason to `error`.
pid_t crisp_exec_in_container(const struct crisp_exec_request *request, int timeout_ms, pid_t *command_pid, int *failure,
                              char *error, size_t error_size);

#endif
