// Running a command inside a running container, as `runc exec` would, in two forked processes:
//   the waiter joins the container's cgroups and namespaces (one setns on the init's pidfd), forks, reports
//   the command's pid and waits for it; the command (now inside the container's pid namespace) takes the
//   container's limits, user, capabilities, no_new_privs and seccomp filter, then execs.
// Both run in a child of a multi-threaded daemon, so they only make system calls on memory prepared by
// the caller. Messages to the caller go through a close-on-exec pipe as frames: one kind byte, a two-byte
// length and the payload; end of file means the command was exec'd.
#define _GNU_SOURCE
#include "clinux.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <poll.h>
#include <time.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

// Frame kinds.
enum { FRAME_PID = 'P', FRAME_ERROR = 'E', FRAME_NOT_FOUND = 'N', FRAME_NOT_EXECUTABLE = 'X', FRAME_TIMEOUT = 'T' };

static void send_frame(int fd, char kind, const void *payload, size_t length) {
  char frame[512];
  if (length > sizeof(frame) - 3) length = sizeof(frame) - 3;
  frame[0] = kind;
  frame[1] = (char)(length & 0xff);
  frame[2] = (char)(length >> 8);
  memcpy(frame + 3, payload, length);
  // Frames are shorter than PIPE_BUF: each write is atomic even with both children writing.
  while (write(fd, frame, length + 3) < 0 && errno == EINTR) {
  }
}

/// Reports a failed step and exits. The payload is the errno (four bytes) and what failed: the caller
/// formats the message, since strerror and printf are not safe in the child of a multi-threaded process.
static void _Noreturn fail(int fd, char kind, int code, const char *what, int error) {
  char payload[300];
  size_t length = strlen(what);
  if (length > sizeof(payload) - sizeof(int)) length = sizeof(payload) - sizeof(int);
  memcpy(payload, &error, sizeof(int));
  memcpy(payload + sizeof(int), what, length);
  send_frame(fd, kind, payload, sizeof(int) + length);
  _exit(code);
}

/// Closes descriptors from `low` to `high` (inclusive): close_range, else one by one.
static void close_span(int low, unsigned int high) {
  if (syscall(SYS_close_range, low, high, 0) == 0) return;
  struct rlimit limit;
  unsigned int last = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY ? (unsigned int)limit.rlim_cur : 1048576;
  if (high > last) high = last;
  for (unsigned int fd = (unsigned int)low; fd <= high; fd++) close((int)fd);
}

/// Closes every descriptor from 3 up except those in `keep` (unsorted, small).
static void close_others(const int *keep, int count) {
  int low = 3;
  for (;;) {
    int next = -1;
    for (int i = 0; i < count; i++) {
      if (keep[i] >= low && (next < 0 || keep[i] < next)) next = keep[i];
    }
    if (next < 0) {
      close_span(low, ~0U);
      return;
    }
    if (next > low) close_span(low, (unsigned int)next - 1);
    low = next + 1;
  }
}

static int load_filter(const struct crisp_exec_request *r) {
  struct sock_fprog program = {.len = (unsigned short)r->filter_instructions, .filter = (struct sock_filter *)r->filter};
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, r->filter_flags, &program);
}

/// The command: inside the namespaces already; becomes the container's kind of process and execs.
static void _Noreturn run_command(const struct crisp_exec_request *r, int status) {
  // The container's session keyring, as runc joins it for exec (the daemon's must not be reachable).
  if (r->session_keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, r->session_keyring) < 0 && errno != ENOSYS) {
    fail(status, FRAME_ERROR, 1, "join the session keyring", errno);
  }
  for (int i = 0; i < r->rlimit_count; i++) {
    struct rlimit limit = {.rlim_cur = r->rlimits[i].soft, .rlim_max = r->rlimits[i].hard};
    if (setrlimit(r->rlimits[i].resource, &limit) != 0) fail(status, FRAME_ERROR, 1, "setrlimit", errno);
  }
  umask(r->umask);
  // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it while the process still has it.
  if (r->filter && !r->no_new_privileges && load_filter(r) != 0) fail(status, FRAME_ERROR, 1, "seccomp", errno);
  for (int cap = 0; cap <= r->last_cap && cap < 64; cap++) {
    if (!(r->bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      fail(status, FRAME_ERROR, 1, "drop bounding capability", errno);
    }
  }
  // As runc: the working directory is entered as root if it can be (a directory only the user can enter is
  // tried again after the user change).
  int in_cwd = chdir(r->cwd) == 0;
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail(status, FRAME_ERROR, 1, "keep capabilities", errno);
  if (setgroups((size_t)r->group_count, (const gid_t *)r->groups) != 0) fail(status, FRAME_ERROR, 1, "setgroups", errno);
  if (setresgid(r->gid, r->gid, r->gid) != 0) fail(status, FRAME_ERROR, 1, "setresgid", errno);
  if (setresuid(r->uid, r->uid, r->uid) != 0) fail(status, FRAME_ERROR, 1, "setresuid", errno);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) fail(status, FRAME_ERROR, 1, "keep capabilities", errno);
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  data[0].effective = (uint32_t)r->effective;
  data[1].effective = (uint32_t)(r->effective >> 32);
  data[0].permitted = (uint32_t)r->permitted;
  data[1].permitted = (uint32_t)(r->permitted >> 32);
  data[0].inheritable = (uint32_t)r->inheritable;
  data[1].inheritable = (uint32_t)(r->inheritable >> 32);
  if (syscall(SYS_capset, &header, data) != 0) fail(status, FRAME_ERROR, 1, "capset", errno);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; cap <= r->last_cap && cap < 64; cap++) {
    if ((r->ambient & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      fail(status, FRAME_ERROR, 1, "raise ambient capability", errno);
    }
  }
  // Dies with its waiter (set after the user change, which clears it).
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (!in_cwd && chdir(r->cwd) != 0) fail(status, FRAME_ERROR, 1, "chdir to the container's working directory", errno);
  if (r->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(status, FRAME_ERROR, 1, "no_new_privs", errno);
  if (r->filter && r->no_new_privileges && load_filter(r) != 0) fail(status, FRAME_ERROR, 1, "seccomp", errno);

  const char *name = r->argv[0];
  if (strchr(name, '/')) {
    execve(name, (char *const *)r->argv, (char *const *)r->envp);
    int error = errno;
    int missing = error == ENOENT || error == ENOTDIR;
    fail(status, missing ? FRAME_NOT_FOUND : FRAME_NOT_EXECUTABLE, missing ? 127 : 126, name, error);
  }
  int denied = 0;
  size_t name_length = strlen(name);
  const char *directory = r->search_path;
  char candidate[4096];
  while (directory) {
    const char *end = strchr(directory, ':');
    size_t length = end ? (size_t)(end - directory) : strlen(directory);
    // An empty entry means the working directory.
    const char *prefix = length ? directory : ".";
    size_t prefix_length = length ? length : 1;
    if (prefix_length + 1 + name_length < sizeof(candidate)) {
      memcpy(candidate, prefix, prefix_length);
      candidate[prefix_length] = '/';
      memcpy(candidate + prefix_length + 1, name, name_length + 1);
      execve(candidate, (char *const *)r->argv, (char *const *)r->envp);
      if (errno == EACCES) denied = 1;
      else if (errno != ENOENT && errno != ENOTDIR) fail(status, FRAME_NOT_EXECUTABLE, 126, candidate, errno);
    }
    directory = end ? end + 1 : NULL;
  }
  fail(status, denied ? FRAME_NOT_EXECUTABLE : FRAME_NOT_FOUND, denied ? 126 : 127, name, denied ? EACCES : ENOENT);
}

/// The command's pid in the waiter (0 before it exists and in the command itself): SIGTERM to the waiter
/// kills it. The daemon signals the waiter, whose pid stays valid until the daemon reaps it, never the
/// command's pid, which the waiter may already have reaped.
static volatile pid_t waited_command = 0;

static void kill_command(int signal) {
  (void)signal;
  if (waited_command > 0) kill(waited_command, SIGKILL);
}

/// The waiter: joins the container, forks the command and exits with its status.
static void _Noreturn run_waiter(const struct crisp_exec_request *r, int status) {
  // A copy of the daemon is about to enter the container: until the command's execve replaces it, no
  // process in there may read its memory or open /proc/<pid>/exe (the host's crisp binary). execve resets it.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // The status pipe must not sit where stdio goes.
  if (status < 3) status = fcntl(status, F_DUPFD_CLOEXEC, 3);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (int signal = 1; signal < NSIG; signal++) {
    if (signal != SIGKILL && signal != SIGSTOP) (void)sigaction(signal, &(struct sigaction){.sa_handler = SIG_DFL}, NULL);
  }
  int sources[3] = {r->stdin_fd, r->stdout_fd, r->stderr_fd};
  for (int target = 0; target < 3; target++) {
    int fd = sources[target];
    if (fd < 0) {
      fd = open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY);
      if (fd < 0) fail(status, FRAME_ERROR, 1, "open /dev/null", errno);
    }
    if (fd == target) {
      fcntl(fd, F_SETFD, 0);
    } else if (dup2(fd, target) < 0) {
      fail(status, FRAME_ERROR, 1, "dup2", errno);
    }
  }
  // Descriptors the daemon's other threads opened (another exec's pipes among them) must not live on here.
  int keep[64];
  int count = 0;
  keep[count++] = status;
  keep[count++] = r->pidfd;
  for (int i = 0; i < r->cgroup_count && count < 64; i++) keep[count++] = r->cgroup_procs[i];
  close_others(keep, count);

  if (r->set_oom_score_adj) {
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      char digits[16];
      int n = 0;
      long value = r->oom_score_adj;
      int negative = value < 0;
      if (negative) value = -value;
      do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
      } while (value && n < 12);
      char text[16];
      int length = 0;
      if (negative) text[length++] = '-';
      while (n) text[length++] = digits[--n];
      // Lowering it needs CAP_SYS_RESOURCE; without it the daemon's own value stays (clamped, never fatal).
      (void)!write(fd, text, (size_t)length);
      close(fd);
    }
  }
  for (int i = 0; i < r->cgroup_count; i++) {
    if (write(r->cgroup_procs[i], "0", 1) != 1) fail(status, FRAME_ERROR, 1, "join the container's cgroup", errno);
  }
  if (setns(r->pidfd, r->namespaces) != 0) fail(status, FRAME_ERROR, 1, "join the container's namespaces", errno);

  pid_t command = fork();
  if (command < 0) fail(status, FRAME_ERROR, 1, "fork", errno);
  if (command == 0) run_command(r, status);
  waited_command = command;
  (void)sigaction(SIGTERM, &(struct sigaction){.sa_handler = kill_command}, NULL);
  send_frame(status, FRAME_PID, &command, sizeof(command));
  close(status);
  // Only the command holds the output pipes now: the caller sees end of file when it (and its children) end.
  close(0);
  close(1);
  close(2);
  // Wait without reaping, so a late SIGTERM can only hit the command or its zombie; then reap with SIGTERM
  // blocked.
  siginfo_t info;
  while (waitid(P_PID, (id_t)command, &info, WEXITED | WNOWAIT) < 0) {
    if (errno != EINTR) _exit(255);
  }
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, NULL);
  int result;
  while (waitpid(command, &result, 0) < 0) {
    if (errno != EINTR) _exit(255);
  }
  if (WIFSIGNALED(result)) _exit(128 + WTERMSIG(result));
  _exit(WEXITSTATUS(result));
}

pid_t crisp_exec_in_container(const struct crisp_exec_request *request, int timeout_ms, pid_t *command_pid, int *failure,
                              char *error, size_t error_size) {
  *command_pid = -1;
  *failure = 1;
  if (error_size) error[0] = 0;
  int status[2];
  if (pipe2(status, O_CLOEXEC) != 0) {
    snprintf(error, error_size, "pipe: %s", strerror(errno));
    return -1;
  }
  pid_t waiter = fork();
  if (waiter < 0) {
    int saved = errno;
    close(status[0]);
    close(status[1]);
    snprintf(error, error_size, "fork: %s", strerror(saved));
    return -1;
  }
  if (waiter == 0) {
    close(status[0]);
    run_waiter(request, status[1]);
  }
  close(status[1]);
  char buffer[2048];
  size_t used = 0;
  int timed_out = 0;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    int wait_ms = -1;
    if (timeout_ms > 0) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      if (elapsed >= timeout_ms) {
        timed_out = 1;
        break;
      }
      wait_ms = (int)(timeout_ms - elapsed);
    }
    struct pollfd ready = {.fd = status[0], .events = POLLIN};
    int polled = poll(&ready, 1, wait_ms);
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) continue;
    ssize_t n = read(status[0], buffer + used, sizeof(buffer) - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
    if (used == sizeof(buffer)) break;
  }
  close(status[0]);
  char kind = 0;
  for (size_t offset = 0; offset + 3 <= used;) {
    size_t length = (size_t)(unsigned char)buffer[offset + 1] | ((size_t)(unsigned char)buffer[offset + 2] << 8);
    if (offset + 3 + length > used) break;
    const char *payload = buffer + offset + 3;
    if (buffer[offset] == FRAME_PID && length == sizeof(pid_t)) {
      memcpy(command_pid, payload, sizeof(pid_t));
    } else if (!kind && length >= sizeof(int)) {
      kind = buffer[offset];
      int code;
      memcpy(&code, payload, sizeof(int));
      snprintf(error, error_size, "%.*s: %s", (int)(length - sizeof(int)), payload + sizeof(int), strerror(code));
    }
    offset += 3 + length;
  }
  if (timed_out) {
    // Still starting (a hung mount under the working directory, say): the waiter takes the command with it.
    kill(waiter, SIGTERM);
    kill(waiter, SIGKILL);
    snprintf(error, error_size, "the command did not start within the timeout");
    kind = FRAME_TIMEOUT;
  }
  if (kind || *command_pid <= 0) {
    // The command is not running (it failed before exec): reap the waiter, which exits right after it.
    int ignored;
    while (waitpid(waiter, &ignored, 0) < 0 && errno == EINTR) {
    }
    if (!kind) snprintf(error, error_size, "the exec helper ended without starting the command");
    *failure = kind == FRAME_NOT_FOUND ? 127 : kind == FRAME_NOT_EXECUTABLE ? 126 : kind == FRAME_TIMEOUT ? 124 : 1;
    *command_pid = -1;
    return -1;
  }
  *failure = 0;
  return waiter;
}
