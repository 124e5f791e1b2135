#define _GNU_SOURCE
#include "clinux.h"

#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <sys/vfs.h>
#include <termios.h>
#include <spawn.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <signal.h>
#include <poll.h>
#include <malloc.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

struct crisp_open_how {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};

int crisp_openat2(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve) {
  struct crisp_open_how how = {.flags = (uint64_t)(unsigned)flags, .mode = mode, .resolve = resolve};
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int crisp_lsetxattr(const char *path, const char *name, const void *value, size_t size) {
  return lsetxattr(path, name, value, size, 0);
}
int crisp_fsetxattr(int fd, const char *name, const void *value, size_t size) {
  return fsetxattr(fd, name, value, size, 0);
}
ssize_t crisp_lgetxattr(const char *path, const char *name, void *value, size_t size) {
  return lgetxattr(path, name, value, size);
}
ssize_t crisp_llistxattr(const char *path, char *list, size_t size) { return llistxattr(path, list, size); }

int crisp_mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data) {
  return mount(source, target, fstype, flags, data);
}
int crisp_umount2(const char *target, int flags) { return umount2(target, flags); }
int crisp_unshare(int flags) { return unshare(flags); }
int crisp_setns(int fd, int nstype) { return setns(fd, nstype); }

unsigned long crisp_ms_rdonly(void) { return MS_RDONLY; }
unsigned long crisp_ms_bind(void) { return MS_BIND; }
unsigned long crisp_ms_rec(void) { return MS_REC; }
unsigned long crisp_ms_private(void) { return MS_PRIVATE; }
unsigned long crisp_ms_slave(void) { return MS_SLAVE; }
unsigned long crisp_ms_shared(void) { return MS_SHARED; }
unsigned long crisp_ms_nosuid(void) { return MS_NOSUID; }
unsigned long crisp_ms_nodev(void) { return MS_NODEV; }
unsigned long crisp_ms_noexec(void) { return MS_NOEXEC; }
unsigned long crisp_ms_remount(void) { return MS_REMOUNT; }
int crisp_mnt_detach(void) { return MNT_DETACH; }
int crisp_clone_newnet(void) { return CLONE_NEWNET; }
dev_t crisp_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }
unsigned int crisp_major(dev_t dev) { return major(dev); }
unsigned int crisp_minor(dev_t dev) { return minor(dev); }

#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#define CRISP_FSCONFIG_SET_STRING 1
#define CRISP_FSCONFIG_CMD_CREATE 6
#define CRISP_FSOPEN_CLOEXEC 0x1
#define CRISP_FSMOUNT_CLOEXEC 0x1
#define CRISP_MOVE_MOUNT_F_EMPTY_PATH 0x4

int crisp_fsopen(const char *fsname, unsigned int flags) {
  return (int)syscall(SYS_fsopen, fsname, flags | CRISP_FSOPEN_CLOEXEC);
}
int crisp_fsconfig_string(int fd, const char *key, const char *value) {
  return (int)syscall(SYS_fsconfig, fd, CRISP_FSCONFIG_SET_STRING, key, value, 0);
}
int crisp_fsconfig_create(int fd) { return (int)syscall(SYS_fsconfig, fd, CRISP_FSCONFIG_CMD_CREATE, NULL, NULL, 0); }
int crisp_fsmount(int fd) { return (int)syscall(SYS_fsmount, fd, CRISP_FSMOUNT_CLOEXEC, 0); }
int crisp_move_mount_to(int mountfd, const char *target) {
  return (int)syscall(SYS_move_mount, mountfd, "", AT_FDCWD, target, CRISP_MOVE_MOUNT_F_EMPTY_PATH);
}
ssize_t crisp_copy_file_range(int in, int out, size_t length) { return copy_file_range(in, NULL, out, NULL, length, 0); }
int crisp_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

struct netns_request {
  const char *path;
  int error;
};

static void *netns_thread(void *argument) {
  struct netns_request *request = argument;
  if (unshare(CLONE_NEWNET) < 0) {
    request->error = errno;
    return NULL;
  }
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock >= 0) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) == 0) {
      ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
      if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) request->error = errno;
    }
    close(sock);
  }
  if (request->error) return NULL;
  char source[64];
  snprintf(source, sizeof(source), "/proc/self/task/%ld/ns/net", (long)syscall(SYS_gettid));
  if (mount(source, request->path, NULL, MS_BIND, NULL) < 0) request->error = errno;
  return NULL;
}

int crisp_netns_create(const char *path) {
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return errno;
  close(fd);
  struct netns_request request = {.path = path, .error = 0};
  pthread_t thread;
  int created = pthread_create(&thread, NULL, netns_thread, &request);
  if (created != 0) {
    unlink(path);
    return created;
  }
  pthread_join(thread, NULL);
  if (request.error) unlink(path);
  return request.error;
}

struct in_netns_request {
  const char *path;
  void (*body)(void *);
  void *context;
  int error;
};

static void *in_netns_thread(void *argument) {
  struct in_netns_request *request = argument;
  int fd = open(request->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    request->error = errno;
    return NULL;
  }
  // A thread sharing its file system information with the process cannot setns into a user namespace,
  // but network namespaces are fine; the thread ends right after, so the process never sees the change.
  if (setns(fd, CLONE_NEWNET) < 0) {
    request->error = errno;
    close(fd);
    return NULL;
  }
  close(fd);
  request->body(request->context);
  return NULL;
}

int crisp_in_netns(const char *path, void (*body)(void *), void *context) {
  struct in_netns_request request = {.path = path, .body = body, .context = context, .error = 0};
  pthread_t thread;
  int created = pthread_create(&thread, NULL, in_netns_thread, &request);
  if (created != 0) return created;
  pthread_join(thread, NULL);
  return request.error;
}
int crisp_madvise(void *address, size_t length, int advice) { return madvise(address, length, advice); }
int crisp_madv_random(void) { return MADV_RANDOM; }
int crisp_madv_dontneed(void) { return MADV_DONTNEED; }
int crisp_madv_pageout(void) {
#ifdef MADV_PAGEOUT
  return MADV_PAGEOUT;
#else
  return -1;
#endif
}

int crisp_is_nsfs(const char *path) {
  struct statfs info;
  if (statfs(path, &info) != 0) return 0;
  return info.f_type == 0x6e736673; /* NSFS_MAGIC */
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int crisp_pidfd_open(int pid) {
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

int crisp_pidfd_signal(int pidfd, int signal) {
  return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
}

int crisp_pidfd_alive(int pidfd) {
  return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

int crisp_set_pipe_size(int fd, int size) {
  return fcntl(fd, F_SETPIPE_SZ, size);
}

int crisp_set_window_size(int fd, unsigned short columns, unsigned short rows) {
  struct winsize size = {.ws_row = rows, .ws_col = columns};
  return ioctl(fd, TIOCSWINSZ, &size);
}

struct dial_request {
  unsigned short port;
  int fd;
  int error;
};

/* A listener whose accept queue is full drops the SYN, and a plain connect() then waits out the kernel's SYN
 * retries (about two minutes) holding a dial thread: a pod can make that happen on purpose. Linux bounds
 * connect() by SO_SNDTIMEO (it fails with EINPROGRESS when the time is up); the timeout is cleared again on
 * success so the copy loops' writes keep blocking as before. */
static int connect_bounded(int fd, const struct sockaddr *address, socklen_t length) {
  struct timeval limit = {.tv_sec = 10, .tv_usec = 0};
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit)) != 0) return -1;
  if (connect(fd, address, length) != 0) {
    if (errno == EINPROGRESS) errno = ETIMEDOUT;
    return -1;
  }
  struct timeval none = {.tv_sec = 0, .tv_usec = 0};
  return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
}

static void dial_loopback(void *pointer) {
  struct dial_request *request = pointer;
  struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(request->port)};
  v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect_bounded(fd, (struct sockaddr *)&v4, sizeof(v4)) == 0) {
    request->fd = fd;
    return;
  }
  request->error = errno;
  if (fd >= 0) close(fd);
  struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(request->port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect_bounded(fd, (struct sockaddr *)&v6, sizeof(v6)) == 0) {
    request->fd = fd;
    return;
  }
  /* The IPv4 error is the one reported: it is the address tried first and the usual one. */
  if (fd >= 0) close(fd);
}

int crisp_dial_loopback(const char *netns, unsigned short port, int *fd) {
  struct dial_request request = {.port = port, .fd = -1, .error = 0};
  if (netns == NULL) {
    dial_loopback(&request);
  } else {
    int status = crisp_in_netns(netns, dial_loopback, &request);
    if (status != 0) return status;
  }
  if (request.fd < 0) return request.error ? request.error : ECONNREFUSED;
  *fd = request.fd;
  return 0;
}

int crisp_openpty(int *master, int *slave) {
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return -1;
  if (grantpt(m) != 0 || unlockpt(m) != 0) {
    close(m);
    return -1;
  }
  char name[128];
  if (ptsname_r(m, name, sizeof(name)) != 0) {
    close(m);
    return -1;
  }
  int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    close(m);
    return -1;
  }
  *master = m;
  *slave = s;
  return 0;
}

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define CRISP_OPEN_TREE_CLONE 1
#define CRISP_MOUNT_ATTR_IDMAP 0x00100000

struct crisp_mount_attr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};

static int write_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  size_t length = strlen(text);
  ssize_t written = write(fd, text, length);
  int error = written == (ssize_t)length ? 0 : (written < 0 ? errno : EIO);
  close(fd);
  return error;
}

static int pin_namespace(const char *source, const char *target) {
  int fd = open(target, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return errno;
  close(fd);
  if (mount(source, target, NULL, MS_BIND, NULL) < 0) {
    int error = errno;
    unlink(target);
    return error;
  }
  return 0;
}

static void unpin_namespace(const char *target) {
  umount2(target, MNT_DETACH);
  unlink(target);
}

int crisp_userns_create(const char *userns_path, const char *netns_path, const char *uid_map, const char *gid_map) {
  int go[2], report[2];
  if (pipe2(go, O_CLOEXEC) < 0) return errno;
  if (pipe2(report, O_CLOEXEC) < 0) {
    int error = errno;
    close(go[0]);
    close(go[1]);
    return error;
  }
  // A fork-like clone straight into a new user namespace (unshare(CLONE_NEWUSER) is refused to a threaded
  // process). The child makes only raw system calls: it waits for its id maps, makes the network namespace
  // (owned by the new user namespace, so the pod's processes may configure it), reports, and waits for EOF.
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0) {
    int error = errno;
    close(go[0]); close(go[1]); close(report[0]); close(report[1]);
    return error;
  }
  if (pid == 0) {
    char byte;
    int result = 0;
    // The child holds copies of every descriptor of the daemon (it never execs, so close-on-exec does not
    // apply): keep only its own two ends, so that no other pipe's end-of-file waits on this child.
    int low = go[0] < report[1] ? go[0] : report[1];
    int high = go[0] < report[1] ? report[1] : go[0];
    if (low > 0) syscall(SYS_close_range, 0U, (unsigned)(low - 1), 0U);
    if (high - low > 1) syscall(SYS_close_range, (unsigned)(low + 1), (unsigned)(high - 1), 0U);
    syscall(SYS_close_range, (unsigned)(high + 1), ~0U, 0U);
    if (read(go[0], &byte, 1) != 1) _exit(1);
    if (netns_path != NULL) {
      if (unshare(CLONE_NEWNET) < 0) {
        result = errno;
      } else {
        int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock < 0) {
          result = errno;
        } else {
          struct ifreq ifr;
          memset(&ifr, 0, sizeof(ifr));
          memcpy(ifr.ifr_name, "lo", 3);
          if (ioctl(sock, SIOCGIFFLAGS, &ifr) == 0) {
            ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
            if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) result = errno;
          } else {
            result = errno;
          }
          close(sock);
        }
      }
    }
    if (write(report[1], &result, sizeof(result)) != sizeof(result)) _exit(1);
    while (read(go[0], &byte, 1) > 0) {}
    _exit(0);
  }
  close(go[0]);
  close(report[1]);
  char path[64];
  int error = 0;
  snprintf(path, sizeof(path), "/proc/%ld/uid_map", pid);
  error = write_text(path, uid_map);
  if (!error) {
    snprintf(path, sizeof(path), "/proc/%ld/gid_map", pid);
    error = write_text(path, gid_map);
  }
  int child_result = 0;
  if (!error) {
    if (write(go[1], "g", 1) != 1) error = errno;
  }
  if (!error) {
    ssize_t got = read(report[0], &child_result, sizeof(child_result));
    if (got != sizeof(child_result)) error = ECHILD;
    else error = child_result;
  }
  int pinned_user = 0;
  if (!error) {
    snprintf(path, sizeof(path), "/proc/%ld/ns/user", pid);
    error = pin_namespace(path, userns_path);
    pinned_user = error == 0;
  }
  if (!error && netns_path != NULL) {
    snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
    error = pin_namespace(path, netns_path);
  }
  if (error && pinned_user) unpin_namespace(userns_path);
  close(go[1]);
  close(report[0]);
  // The namespaces are pinned (or the attempt failed): the child has nothing left to do.
  kill((pid_t)pid, SIGKILL);
  int status;
  while (waitpid((pid_t)pid, &status, 0) < 0 && errno == EINTR) {}
  return error;
}

int crisp_idmap_clone(const char *source, const char *userns_path, const char *target) {
  int userns = open(userns_path, O_RDONLY | O_CLOEXEC);
  if (userns < 0) return errno;
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source, CRISP_OPEN_TREE_CLONE | O_CLOEXEC);
  if (tree < 0) {
    int error = errno;
    close(userns);
    return error;
  }
  struct crisp_mount_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.attr_set = CRISP_MOUNT_ATTR_IDMAP;
  attr.userns_fd = (uint64_t)userns;
  int error = 0;
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) error = errno;
  else if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, CRISP_MOVE_MOUNT_F_EMPTY_PATH) < 0) error = errno;
  close(tree);
  close(userns);
  return error;
}

static long long monotonic_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/// Whether `pid` is gone or a zombie (runc's own start treats a zombie init as dead too).
static int process_dead(int pid) {
  if (kill(pid, 0) != 0) return 1;
  char path[64], text[512];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  ssize_t n = read(fd, text, sizeof(text) - 1);
  close(fd);
  if (n <= 0) return 1;
  text[n] = 0;
  char *end = strrchr(text, ')');
  return end != NULL && end[1] == ' ' && end[2] == 'Z';
}

int crisp_release_exec_fifo(const char *path, int pid, int timeout_ms) {
  // Opening the read side releases the runtime's init, blocked opening the write side; it writes one byte,
  // closes, and execs the container's process.
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno;
  char buffer[16];
  ssize_t total = 0;
  int error = 0;
  long long deadline = monotonic_ms() + timeout_ms;
  for (;;) {
    struct pollfd entry = {.fd = fd, .events = POLLIN, .revents = 0};
    int ready = poll(&entry, 1, 100);
    if (ready < 0 && errno != EINTR) {
      error = errno;
      break;
    }
    if (ready > 0) {
      ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n > 0) {
        total += n;
        continue;
      }
      if (n == 0 && total > 0) break;
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        error = errno;
        break;
      }
      // Hang-up without data (a writer that closed at once): do not spin.
      if (n == 0) usleep(10000);
    }
    if (total == 0 && process_dead(pid)) {
      error = ESRCH;
      break;
    }
    if (monotonic_ms() >= deadline) {
      error = ETIMEDOUT;
      break;
    }
  }
  close(fd);
  if (!error) unlink(path);
  return error;
}

/// 1 when `name` (relative to `dirfd`) is the root of a mount, 0 when not, -1 when unknown.
int crisp_is_mount_root(int dirfd, const char *name) {
  struct statx info;
  // DONT_SYNC: a hung network filesystem must not stall the question (its attributes are not needed).
  if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC, 0, &info) != 0) return -1;
  if (!(info.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) return -1;
  return (info.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
}

int crisp_malloc_trim(void) { return malloc_trim(0); }

int crisp_limit_malloc_arenas(int count) { return mallopt(M_ARENA_MAX, count); }
