#define _GNU_SOURCE
#include "cshim.h"

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <termios.h>

int shim_errno(void) { return errno; }

int shim_open(const char *path, int flags, int mode) { return open(path, flags, (mode_t)mode); }

int shim_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

static int saved_argc;
static char **saved_argv;

// glibc calls .init_array functions with the program's argc, argv and envp.
__attribute__((constructor)) static void capture_arguments(int argc, char **argv, char **envp) {
  (void)envp;
  saved_argc = argc;
  saved_argv = argv;
}

int shim_argc(void) { return saved_argc; }
const char *shim_argv(int index) { return (index >= 0 && index < saved_argc) ? saved_argv[index] : ""; }

int shim_set_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int shim_sigchld_fd(void) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) return -1;
  signal(SIGPIPE, SIG_IGN);
  return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

int shim_read_signal(int fd) {
  struct signalfd_siginfo info;
  ssize_t n = read(fd, &info, sizeof(info));
  if (n != sizeof(info)) return -1;
  return (int)info.ssi_signo;
}

int shim_set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -1;
  return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int shim_set_cloexec(int fd, int on) {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return -1;
  return fcntl(fd, F_SETFD, on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC));
}

int shim_receive_fd(int socket) {
  char data[256];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
  union {
    char buffer[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof(control.buffer)};
  if (recvmsg(socket, &message, MSG_CMSG_CLOEXEC) < 0) return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof(int));
      return fd;
    }
  }
  errno = EBADMSG;
  return -1;
}

int shim_set_window_size(int fd, unsigned short columns, unsigned short rows) {
  struct winsize size = {.ws_row = rows, .ws_col = columns};
  return ioctl(fd, TIOCSWINSZ, &size);
}

int shim_listen_unix(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(address.sun_path)) {
    close(fd);
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(address.sun_path, path);
  unlink(path);
  mode_t previous = umask(0177);
  int bound = bind(fd, (struct sockaddr *)&address, sizeof(address));
  umask(previous);
  if (bound < 0 || listen(fd, 16) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

int shim_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); }

pid_t shim_spawn(char *const argv[], int in, int out, int err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int fds[3] = {in, out, err};
  for (int target = 0; target < 3; target++) {
    if (fds[target] >= 0) {
      posix_spawn_file_actions_adddup2(&actions, fds[target], target);
    } else {
      posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setsigmask(&attributes, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  extern char **environ;
  pid_t pid;
  int result = posix_spawn(&pid, argv[0], &actions, &attributes, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (result != 0) {
    errno = result;
    return -1;
  }
  return pid;
}

int shim_exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

int shim_signal_of(int status) { return WIFSIGNALED(status) ? WTERMSIG(status) : 0; }

int shim_timestamp(char *out, int size, int64_t *nanoseconds) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  if (nanoseconds) *nanoseconds = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
  struct tm parts;
  gmtime_r(&now.tv_sec, &parts);
  char fraction[16] = "";
  if (now.tv_nsec != 0) {
    snprintf(fraction, sizeof(fraction), ".%09ld", now.tv_nsec);
    size_t length = strlen(fraction);
    while (length > 1 && fraction[length - 1] == '0') fraction[--length] = '\0';
  }
  return snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                  parts.tm_hour, parts.tm_min, parts.tm_sec, fraction);
}
