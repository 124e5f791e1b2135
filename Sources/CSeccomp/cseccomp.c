#include "cseccomp.h"

#include <seccomp.h>

int crisp_seccomp_native_syscall(const char *name) {
  return seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, name) != __NR_SCMP_ERROR;
}

int crisp_seccomp_known_syscall(const char *name) {
  if (crisp_seccomp_native_syscall(name)) return 1;
#if defined(__x86_64__)
  if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, name) != __NR_SCMP_ERROR) return 1;
  if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_X32, name) != __NR_SCMP_ERROR) return 1;
#elif defined(__aarch64__)
  if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_ARM, name) != __NR_SCMP_ERROR) return 1;
#endif
  return 0;
}
