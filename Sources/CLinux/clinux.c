#define _GNU_SOURCE
#include "clinux.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

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
