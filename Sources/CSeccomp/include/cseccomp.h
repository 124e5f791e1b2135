#ifndef CRISP_CSECCOMP_H
#define CRISP_CSECCOMP_H

#include <stddef.h>

/// Whether libseccomp knows `name` as a system call on this machine's architecture or on one of the
/// compatibility architectures a container may use (x86 and x32 on x86_64): 1 yes, 0 no.
int crisp_seccomp_known_syscall(const char *name);

/// Whether `name` is a system call of this machine's own architecture: 1 yes, 0 no.
int crisp_seccomp_native_syscall(const char *name);


#include <stdint.h>

/// One argument condition of an OCI seccomp rule (`op` is the OCI name, e.g. "SCMP_CMP_MASKED_EQ").
struct crisp_seccomp_condition {
  unsigned int index;
  uint64_t value;
  uint64_t value_two;
  const char *op;
};

/// Compiles OCI seccomp profiles into the classic BPF program the kernel loads, the way runc does: rules
/// with the default action are skipped, names libseccomp does not know are skipped, conditions on the same
/// argument become separate rules, and calls numbered past every call the profile names answer ENOSYS
/// (so a C library falls back from a call newer than the profile, instead of failing with EPERM).
/// Each function returns 0, or -1 with a message in `error`.
void *crisp_seccomp_new(const char *default_action, uint32_t default_errno, char *error, size_t error_size);
int crisp_seccomp_add_architecture(void *filter, const char *architecture, char *error, size_t error_size);
int crisp_seccomp_add_rule(void *filter, const char *name, const char *action, int has_errno, uint32_t errno_value,
                           const struct crisp_seccomp_condition *conditions, int count, char *error, size_t error_size);
/// The program (malloc'd struct sock_filter[]; free() it) and its instruction count.
int crisp_seccomp_export(void *filter, void **program, int *instructions, char *error, size_t error_size);
void crisp_seccomp_release(void *filter);

#endif
