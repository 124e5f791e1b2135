// The C side of crisp-shim: libc headers for the Swift code, and wrappers for what Swift cannot call
// directly (variadic prctl/ioctl/fcntl, errno, signalfd setup, SCM_RIGHTS).
#ifndef CRISP_CSHIM_H
#define CRISP_CSHIM_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int shim_errno(void);
/// open(2) without varargs.
int shim_open(const char *path, int flags, int mode);
/// pipe2(O_CLOEXEC).
int shim_pipe(int fds[2]);
/// The process's arguments (captured before main; CommandLine is not in Embedded Swift).
int shim_argc(void);
const char *shim_argv(int index);
/// PR_SET_CHILD_SUBREAPER: orphaned descendants (the container's init, once runc exits) become ours.
int shim_set_subreaper(void);
/// Blocks SIGCHLD (and SIGPIPE) and returns a signalfd delivering SIGCHLD, or -1.
int shim_sigchld_fd(void);
/// Drains one signalfd record; returns the signal number or -1.
int shim_read_signal(int fd);
int shim_set_nonblocking(int fd);
int shim_set_cloexec(int fd, int on);
/// Receives one file descriptor sent with SCM_RIGHTS (runc's console socket); -1 on failure.
int shim_receive_fd(int socket);
/// TIOCSWINSZ on a terminal.
int shim_set_window_size(int fd, unsigned short columns, unsigned short rows);
/// A listening unix socket at path (mode 0600); -1 on failure.
int shim_listen_unix(const char *path);
int shim_accept(int fd);
/// Spawns argv[0] with stdin/stdout/stderr from the given fds (-1: /dev/null); returns the pid or -1.
pid_t shim_spawn(char *const argv[], int in, int out, int err);
/// Exit code the way shells report it: the code, or 128 + signal.
int shim_exit_code(int status);
int shim_signal_of(int status);
/// RFC 3339 UTC timestamp with nanoseconds, trailing zeros trimmed (Go's RFC3339Nano); writes at most
/// size bytes into out and returns the length.
int shim_timestamp(char *out, int size, int64_t *nanoseconds);

#endif
