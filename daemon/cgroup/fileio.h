/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one module that touches kernel files. Every path is relative to the
 * directory fd of the cgroup root ("/sys/fs/cgroup", or a temporary tree in
 * unit tests) and is resolved beneath it without following symlinks
 * (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where the kernel has it,
 * otherwise a component-by-component O_NOFOLLOW walk). Errors fill *e with
 * the path, the file and the errno. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/strv.h"
#include "daemon/error.h"

typedef struct CgroupFs {
        int root_fd;            /* O_PATH|O_DIRECTORY of the cgroup root */
        char *root_path;        /* for messages */
} CgroupFs;

/* A CgroupFs that cgroupfs_close() may be called on before cgroupfs_open(). */
#define CGROUPFS_NULL ((CgroupFs) { .root_fd = -EBADF })

/* On failure *fs is left closed (CGROUPFS_NULL). cgroupfs_close() is idempotent. */
int cgroupfs_open(CgroupFs *fs, const char *root_path, Error *e);
void cgroupfs_close(CgroupFs *fs);

/* dir is relative to the root, e.g. "cpu/kubepods/pod1/sb1" ("" is the root). */

/* mkdir one directory (its parent must exist). Returns 1 when created, 0 when
 * it already existed. */
int cg_mkdir(CgroupFs *fs, const char *dir, Error *e);
/* rmdir; returns 0 when removed or already absent, -EBUSY etc. otherwise. */
int cg_rmdir(CgroupFs *fs, const char *dir, Error *e);
/* Is dir an existing directory? (0/1, or -errno) */
int cg_dir_exists(CgroupFs *fs, const char *dir);
/* As cg_dir_exists(), with the device of the file system that holds dir. */
int cg_dir_device(CgroupFs *fs, const char *dir, dev_t *ret);
/* The gRPC code of an errno of these functions, as they report it: a
 * symlink, a file or an escape where a cgroup directory should be is
 * FAILED_PRECONDITION, not INTERNAL. */
GrpcCode cg_error_code(int errnum);
/* Does dir/file exist? (0/1, or -errno) */
int cg_file_exists(CgroupFs *fs, const char *dir, const char *file);

/* Write value to dir/file with one write(2), as the kernel wants. The file
 * is opened O_TRUNC like `echo >` does: the kernel ignores it, and a regular
 * file in a test tree then holds exactly value. */
int cg_write(CgroupFs *fs, const char *dir, const char *file, const char *value, Error *e);
/* Read dir/file whole; the trailing newline is removed. */
int cg_read(CgroupFs *fs, const char *dir, const char *file, char **ret, Error *e);
/* Read a flat-keyed file ("populated 1") and return the value of key;
 * -ENXIO when no line has that key. */
int cg_read_key(CgroupFs *fs, const char *dir, const char *file, const char *key, char **ret, Error *e);
/* Read a list of pids/tids (cgroup.procs, cgroup.threads, tasks): one decimal
 * per line, anything else is -EBADMSG. An empty file gives *ret NULL, *ret_n 0. */
int cg_read_pids(CgroupFs *fs, const char *dir, const char *file, pid_t **ret, size_t *ret_n, Error *e);
/* Write one pid or tid to dir/file (cgroup.procs, cgroup.threads, tasks).
 * pid <= 0 is refused (0 would move the daemon itself). */
int cg_write_pid(CgroupFs *fs, const char *dir, const char *file, pid_t pid, Error *e);
/* Extended attributes of the directory dir ("trusted.*": only root may set
 * or read them). cgroup2 always has them; a v1 hierarchy only when mounted
 * with -o xattr (-EOPNOTSUPP otherwise). cg_get_xattr() returns -ENODATA
 * when dir has no such attribute; the value is NUL-terminated. */
int cg_set_xattr(CgroupFs *fs, const char *dir, const char *name, const char *value, Error *e);
int cg_get_xattr(CgroupFs *fs, const char *dir, const char *name, char *buf, size_t size);

/* Subdirectories of dir (names, sorted, NULL-terminated strv, freed with
 * strv_free); symlinks are not subdirectories. */
int cg_list_children(CgroupFs *fs, const char *dir, char ***ret, Error *e);

/* Open dir/file with flags (O_CLOEXEC is added; O_CREAT and O_TMPFILE are
 * refused), or, with file NULL, dir itself (O_RDONLY|O_DIRECTORY, e.g. for
 * CLONE_INTO_CGROUP or to poll cgroup.events). Returns the fd. */
int cg_open_file(CgroupFs *fs, const char *dir, const char *file, int flags, Error *e);
/* Wait until dir/cgroup.events (cgroup2) says "populated 0", woken by the
 * kernel's notification rather than by polling on a timer. Returns 1 once
 * unpopulated, 0 after timeout_ms. */
int cg_wait_unpopulated(CgroupFs *fs, const char *dir, unsigned timeout_ms, Error *e);


/* For tests: resolve with the component-by-component walk even where the
 * kernel has openat2(2). */
void cgroupfs_force_fallback(bool b);
