#define _GNU_SOURCE
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

// MARK: Compiling OCI profiles

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_ARCHITECTURES = 8 };

struct crisp_filter {
  scmp_filter_ctx context;
  uint32_t default_action;
  int architecture_count;
  uint32_t architectures[MAX_ARCHITECTURES];
  /// The highest call number the profile names, per architecture (-1: none).
  int highest[MAX_ARCHITECTURES];
};

static int parse_action(const char *name, int has_errno, uint32_t errno_value, uint32_t *action) {
  uint32_t value = has_errno ? errno_value : EPERM;
  if (!strcmp(name, "SCMP_ACT_ALLOW")) *action = SCMP_ACT_ALLOW;
  else if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD")) *action = SCMP_ACT_KILL_THREAD;
  else if (!strcmp(name, "SCMP_ACT_KILL_PROCESS")) *action = SCMP_ACT_KILL_PROCESS;
  else if (!strcmp(name, "SCMP_ACT_TRAP")) *action = SCMP_ACT_TRAP;
  else if (!strcmp(name, "SCMP_ACT_ERRNO")) *action = SCMP_ACT_ERRNO(value);
  else if (!strcmp(name, "SCMP_ACT_TRACE")) *action = SCMP_ACT_TRACE(value);
  else if (!strcmp(name, "SCMP_ACT_LOG")) *action = SCMP_ACT_LOG;
  else return -1;
  return 0;
}

static int parse_operator(const char *name, enum scmp_compare *op) {
  static const struct { const char *name; enum scmp_compare op; } table[] = {
      {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
  };
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    if (!strcmp(name, table[i].name)) {
      *op = table[i].op;
      return 0;
    }
  }
  return -1;
}

void *crisp_seccomp_new(const char *default_action, uint32_t default_errno, char *error, size_t error_size) {
  uint32_t action;
  if (parse_action(default_action, 1, default_errno, &action) != 0) {
    snprintf(error, error_size, "default action %s is not supported here", default_action);
    return NULL;
  }
  struct crisp_filter *filter = calloc(1, sizeof(*filter));
  if (!filter) return NULL;
  filter->context = seccomp_init(action);
  if (!filter->context) {
    free(filter);
    snprintf(error, error_size, "seccomp_init failed");
    return NULL;
  }
  // no_new_privs is the runtime's decision, from the OCI spec, never libseccomp's.
  seccomp_attr_set(filter->context, SCMP_FLTATR_CTL_NNP, 0);
  filter->default_action = action;
  filter->architectures[0] = seccomp_arch_native();
  filter->highest[0] = -1;
  filter->architecture_count = 1;
  return filter;
}

void crisp_seccomp_release(void *opaque) {
  struct crisp_filter *filter = opaque;
  if (!filter) return;
  seccomp_release(filter->context);
  free(filter);
}

int crisp_seccomp_add_architecture(void *opaque, const char *architecture, char *error, size_t error_size) {
  struct crisp_filter *filter = opaque;
  // OCI names are libseccomp's constants: SCMP_ARCH_X86_64 → "x86_64".
  char name[32];
  const char *bare = strncmp(architecture, "SCMP_ARCH_", 10) == 0 ? architecture + 10 : architecture;
  size_t length = strlen(bare);
  if (length >= sizeof(name)) length = sizeof(name) - 1;
  for (size_t i = 0; i < length; i++) name[i] = (char)(bare[i] >= 'A' && bare[i] <= 'Z' ? bare[i] - 'A' + 'a' : bare[i]);
  name[length] = 0;
  uint32_t token = seccomp_arch_resolve_name(name);
  if (token == 0) {
    snprintf(error, error_size, "architecture %s is not known to libseccomp", architecture);
    return -1;
  }
  int result = seccomp_arch_add(filter->context, token);
  if (result != 0 && result != -EEXIST) {
    snprintf(error, error_size, "add architecture %s: %s", architecture, strerror(-result));
    return -1;
  }
  for (int i = 0; i < filter->architecture_count; i++) {
    if (filter->architectures[i] == token) return 0;
  }
  if (filter->architecture_count < MAX_ARCHITECTURES) {
    filter->architectures[filter->architecture_count] = token;
    filter->highest[filter->architecture_count] = -1;
    filter->architecture_count++;
  }
  return 0;
}

int crisp_seccomp_add_rule(void *opaque, const char *name, const char *action_name, int has_errno, uint32_t errno_value,
                           const struct crisp_seccomp_condition *conditions, int count, char *error, size_t error_size) {
  struct crisp_filter *filter = opaque;
  uint32_t action;
  if (parse_action(action_name, has_errno, errno_value, &action) != 0) {
    snprintf(error, error_size, "action %s is not supported here", action_name);
    return -1;
  }
  int number = seccomp_syscall_resolve_name(name);
  // A call this libseccomp does not know cannot be named in a filter: skipped, as runc does.
  if (number == __NR_SCMP_ERROR) return 0;
  for (int i = 0; i < filter->architecture_count; i++) {
    int native = seccomp_syscall_resolve_name_arch(filter->architectures[i], name);
    if (native >= 0 && native > filter->highest[i]) filter->highest[i] = native;
  }
  if (action == filter->default_action) return 0;
  struct scmp_arg_cmp compare[6];
  if (count > 6) {
    snprintf(error, error_size, "%s: more than six argument conditions", name);
    return -1;
  }
  int repeated = 0;
  for (int i = 0; i < count; i++) {
    if (conditions[i].index > 5 || parse_operator(conditions[i].op, &compare[i].op) != 0) {
      snprintf(error, error_size, "%s: unsupported argument condition", name);
      return -1;
    }
    compare[i].arg = conditions[i].index;
    compare[i].datum_a = conditions[i].value;
    compare[i].datum_b = conditions[i].value_two;
    for (int j = 0; j < i; j++) {
      if (conditions[j].index == conditions[i].index) repeated = 1;
    }
  }
  int result = 0;
  if (repeated) {
    // Two conditions on one argument can never both hold: each is a rule of its own (either matches).
    for (int i = 0; i < count && result == 0; i++) result = seccomp_rule_add_array(filter->context, action, number, 1, &compare[i]);
  } else {
    result = seccomp_rule_add_array(filter->context, action, number, (unsigned int)count, compare);
  }
  if (result != 0) {
    snprintf(error, error_size, "rule for %s: %s", name, strerror(-result));
    return -1;
  }
  return 0;
}

/// Instructions the ENOSYS stub spends on architecture `i`: none for one the profile names no call of, or
/// for x32 (its calls arrive as x86_64 ones with bit 30 set); x86_64 has one more, to let x32 calls pass.
static unsigned char stub_block_length(const struct crisp_filter *filter, int i) {
  if (filter->highest[i] < 0 || filter->architectures[i] == SCMP_ARCH_X32) return 0;
  return filter->architectures[i] == SCMP_ARCH_X86_64 ? 5 : 4;
}

int crisp_seccomp_export(void *opaque, void **program, int *instructions, char *error, size_t error_size) {
  struct crisp_filter *filter = opaque;
  int fd = memfd_create("crisp-seccomp", MFD_CLOEXEC);
  if (fd < 0) {
    snprintf(error, error_size, "memfd_create: %s", strerror(errno));
    return -1;
  }
  int result = seccomp_export_bpf(filter->context, fd);
  struct stat info;
  if (result != 0 || fstat(fd, &info) != 0 || info.st_size <= 0 || info.st_size % sizeof(struct sock_filter) != 0) {
    close(fd);
    snprintf(error, error_size, "seccomp_export_bpf failed");
    return -1;
  }
  size_t body = (size_t)info.st_size / sizeof(struct sock_filter);

  // The ENOSYS stub, in front of libseccomp's program: per architecture, a call numbered past the highest
  // the profile names answers ENOSYS. Not needed when unknown calls are allowed anyway.
  struct sock_filter stub[1 + MAX_ARCHITECTURES * 5];
  size_t stub_length = 0;
  int allow_by_default = filter->default_action == SCMP_ACT_ALLOW || filter->default_action == SCMP_ACT_LOG;
  size_t planned = 1;
  for (int i = 0; i < filter->architecture_count; i++) planned += stub_block_length(filter, i);
  if (!allow_by_default && planned > 1) {
    stub[stub_length++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4);  // arch
    for (int i = 0; i < filter->architecture_count; i++) {
      unsigned char block = stub_block_length(filter, i);
      if (!block) continue;
      stub[stub_length++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, filter->architectures[i], 0, block - 1);
      stub[stub_length++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);  // call number
      if (filter->architectures[i] == SCMP_ARCH_X86_64) {
        // x32 calls (bit 30) are left to libseccomp's program.
        unsigned char to_main = (unsigned char)(planned - (stub_length + 1));
        stub[stub_length++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000, to_main, 0);
      }
      unsigned char to_main = (unsigned char)(planned - (stub_length + 1));
      stub[stub_length++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)filter->highest[i], 0, to_main);
      stub[stub_length++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
    }
  }
  if (stub_length + body > 0xffff) {
    close(fd);
    snprintf(error, error_size, "seccomp program too long");
    return -1;
  }
  struct sock_filter *output = malloc((stub_length + body) * sizeof(struct sock_filter));
  if (!output) {
    close(fd);
    return -1;
  }
  memcpy(output, stub, stub_length * sizeof(struct sock_filter));
  size_t wanted = body * sizeof(struct sock_filter), got = 0;
  while (got < wanted) {
    ssize_t n = pread(fd, (char *)(output + stub_length) + got, wanted - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (got != wanted) {
    free(output);
    snprintf(error, error_size, "reading the exported seccomp program failed");
    return -1;
  }
  *program = output;
  *instructions = (int)(stub_length + body);
  return 0;
}
