#ifndef CRISP_CSECCOMP_H
#define CRISP_CSECCOMP_H

/// Whether libseccomp knows `name` as a system call on this machine's architecture or on one of the
/// compatibility architectures a container may use (x86 and x32 on x86_64): 1 yes, 0 no.
int crisp_seccomp_known_syscall(const char *name);

/// Whether `name` is a system call of this machine's own architecture: 1 yes, 0 no.
int crisp_seccomp_native_syscall(const char *name);

#endif
