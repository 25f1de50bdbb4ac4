/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* The only code that opens, reads, writes, creates or removes anything in the
 * cgroup file systems. Every path is resolved beneath the root directory fd
 * and never through a symlink: with openat2(2) and RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS where the kernel has it (5.6+),
 * otherwise one O_NOFOLLOW openat(2) per component. Mount points are crossed
 * on purpose: on v1 and hybrid hosts each hierarchy is its own mount below
 * the root. Paths are also checked lexically before any syscall, so both ways
 * of resolving refuse the same inputs. */

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

#include "common/macro.h"
#include "daemon/cgroup/fileio.h"
#include "daemon/failpoint.h"

#if defined(HAVE_LINUX_OPENAT2_H) && defined(SYS_openat2)
#define HAVE_OPENAT2 1
#define RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
#else
#define HAVE_OPENAT2 0
#endif

/* cgroup.procs of a cgroup holding every pid the kernel allows (4M) is about
 * 32 MiB; anything larger is not a cgroup file. */
#define READ_SIZE_MAX ((size_t) 64 << 20)
#define READ_CHUNK ((size_t) 4096)

/* How much of a written value error messages quote. */
#define VALUE_SHOWN_MAX 64

/* Room for a signed decimal of type and the NUL. */
#define DECIMAL_STR_MAX(type) \
        (2 + (sizeof(type) <= 1 ? 3 : sizeof(type) <= 2 ? 5 : sizeof(type) <= 4 ? 10 : 20))

static bool force_fallback = false;

#if HAVE_OPENAT2
static int openat2_cached = -1; /* -1: not probed yet, 0: unusable, 1: usable */
#endif

void cgroupfs_force_fallback(bool b)
{
        force_fallback = b;
}

static inline bool isempty(const char *s)
{
        return !s || !s[0];
}

/* The gRPC status for an errno from this module: as grpc_code_from_errno(),
 * except where the cgroup context says more. */
static GrpcCode fileio_code(int errnum)
{
        switch (abs(errnum)) {
        case ELOOP:      /* a symlink where a cgroup directory or file was expected */
        case EXDEV:      /* resolution would leave the root */
        case ENOTDIR:    /* a file where a cgroup directory was expected */
        case EISDIR:
        case EOPNOTSUPP: /* e.g. threads into a domain cgroup, a refused cgroup.type */
                return GRPC_FAILED_PRECONDITION;
        case ENXIO:      /* no such key in a keyed file */
                return GRPC_NOT_FOUND;
        case EBADMSG:    /* the kernel file did not have the expected format */
                return GRPC_INTERNAL;
        default:
                return grpc_code_from_errno(errnum);
        }
}

GrpcCode cg_error_code(int errnum)
{
        return fileio_code(errnum);
}

static void path_append(char *buf, size_t size, const char *part)
{
        size_t n = strnlen(buf, size);

        if (isempty(part) || n + 1 >= size)
                return;
        (void) snprintf(buf + n, size - n, "%s%s", n > 0 && buf[n - 1] != '/' ? "/" : "", part);
}

/* "<op> <root>/<dir>/<file>: <detail or strerror>", for paths that passed
 * validation. Returns -errnum. */
static int fail(Error *e, const CgroupFs *fs, const char *dir, const char *file, int errnum,
                const char *detail, const char *op)
{
        char path[PATH_MAX + 64] = "";

        errnum = abs(errnum) ?: EIO;
        if (!e || error_is_set(e))
                return -errnum;

        path_append(path, sizeof path, fs->root_path);
        path_append(path, sizeof path, dir);
        path_append(path, sizeof path, file);
        return error_set(e, fileio_code(errnum), errnum, "%s %s: %s", op, path, detail ?: strerror(errnum));
}

/* For paths refused before any syscall: quote what the caller asked for. */
static int fail_invalid(Error *e, const CgroupFs *fs, const char *dir, const char *file, int errnum,
                        const char *why, const char *op)
{
        return error_set(e, GRPC_INVALID_ARGUMENT, errnum, "%s \"%s%s%s\" below %s: %s", op, strempty(dir),
                         !isempty(dir) && file ? "/" : "", strempty(file), strna(fs->root_path), why);
}

/* dir: "" or NULL (the root), or relative components that are neither empty,
 * "." nor "..". */
static int validate_dir(const char *dir, const char **ret_why)
{
        if (isempty(dir))
                return 0;
        if (dir[0] == '/') {
                *ret_why = "absolute paths are not allowed";
                return -EINVAL;
        }

        for (const char *p = dir;;) {
                size_t n = strcspn(p, "/");

                if (n == 0) {
                        *ret_why = "empty path components are not allowed";
                        return -EINVAL;
                }
                if (n == 1 && p[0] == '.') {
                        *ret_why = "\".\" components are not allowed";
                        return -EINVAL;
                }
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        *ret_why = "\"..\" components are not allowed";
                        return -EINVAL;
                }
                if (n > NAME_MAX) {
                        *ret_why = "path component too long";
                        return -ENAMETOOLONG;
                }
                if (!p[n])
                        return 0;
                p += n + 1;
        }
}

static int validate_file(const char *file, const char **ret_why)
{
        if (isempty(file)) {
                *ret_why = "the file name is empty";
                return -EINVAL;
        }
        if (strchr(file, '/')) {
                *ret_why = "file names must not contain '/'";
                return -EINVAL;
        }
        if (streq(file, ".") || streq(file, "..")) {
                *ret_why = "\".\" and \"..\" are not file names";
                return -EINVAL;
        }
        if (strlen(file) > NAME_MAX) {
                *ret_why = "file name too long";
                return -ENAMETOOLONG;
        }
        return 0;
}

/* Validates dir and file (NULL: dir itself) and joins them into buf: "."
 * for the root, else "dir", "file" or "dir/file". */
static int make_path(char *buf, size_t size, const char *dir, const char *file, const char **ret_why)
{
        int r, n;

        r = validate_dir(dir, ret_why);
        if (r < 0)
                return r;
        if (file) {
                r = validate_file(file, ret_why);
                if (r < 0)
                        return r;
        }

        if (isempty(dir))
                n = snprintf(buf, size, "%s", file ?: ".");
        else if (!file)
                n = snprintf(buf, size, "%s", dir);
        else
                n = snprintf(buf, size, "%s/%s", dir, file);
        if (n < 0 || (size_t) n >= size) {
                *ret_why = "path too long";
                return -ENAMETOOLONG;
        }
        return 0;
}

#if HAVE_OPENAT2
static int sys_openat2(int dfd, const char *path, int flags)
{
        /* O_NOFOLLOW is dropped: with O_PATH it would return an fd to a
         * trailing symlink instead of the ELOOP that RESOLVE_NO_SYMLINKS
         * gives, and without O_PATH it adds nothing. */
        struct open_how how = {
                .flags = (uint64_t) ((flags & ~O_NOFOLLOW) | O_CLOEXEC),
                .resolve = RESOLVE_FLAGS,
        };

        return (int) syscall(SYS_openat2, dfd, path, &how, sizeof how);
}

/* Probed once: ENOSYS before Linux 5.6, EPERM under seccomp profiles that
 * predate openat2 (opening "." beneath the root cannot fail with either
 * otherwise). Any other error says nothing, and the next call probes again. */
static bool openat2_usable(int root_fd)
{
        int fd;

        if (force_fallback)
                return false;
        if (openat2_cached >= 0)
                return openat2_cached;

        fd = sys_openat2(root_fd, ".", O_PATH | O_DIRECTORY);
        if (fd >= 0) {
                safe_close(fd);
                openat2_cached = 1;
        } else if (errno == ENOSYS || errno == EPERM)
                openat2_cached = 0;
        else
                return true; /* let the real call report its error */
        return openat2_cached;
}
#endif

/* With O_NOFOLLOW a symlink shows up as ENOTDIR when O_DIRECTORY was asked
 * for; report it as ELOOP, as RESOLVE_NO_SYMLINKS does. */
static int refuse_symlink(int dfd, const char *name, int r)
{
        struct stat st;

        if (r == -ENOTDIR && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode))
                return -ELOOP;
        return r;
}

/* The walk for kernels without openat2: every component but the last is
 * opened O_PATH|O_DIRECTORY|O_NOFOLLOW relative to the previous one, the last
 * with the caller's flags and O_NOFOLLOW. */
static int walk_open(int root_fd, const char *path, int flags)
{
        _cleanup_close_ int cur = -EBADF;
        int dfd = root_fd, fd;
        char name[NAME_MAX + 1];

        flags |= O_NOFOLLOW | O_CLOEXEC;

        if (streq(path, ".")) {
                fd = openat(root_fd, ".", flags);
                return fd < 0 ? negative_errno() : fd;
        }

        for (const char *p = path;;) {
                size_t n = strcspn(p, "/");

                if (n == 0 || n > NAME_MAX)
                        return n == 0 ? -EINVAL : -ENAMETOOLONG;
                memcpy(name, p, n);
                name[n] = '\0';
                if (streq(name, ".") || streq(name, ".."))
                        return -EINVAL;
                if (!p[n])
                        break;

                fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return refuse_symlink(dfd, name, negative_errno());
                safe_close(cur);
                dfd = cur = fd;
                p += n + 1;
        }

        fd = openat(dfd, name, flags);
        if (fd < 0)
                return refuse_symlink(dfd, name, negative_errno());

        if (flags & O_PATH) {
                /* O_PATH|O_NOFOLLOW opens a symlink itself. */
                struct stat st;

                if (fstat(fd, &st) < 0) {
                        int r = negative_errno();

                        safe_close(fd);
                        return r;
                }
                if (S_ISLNK(st.st_mode)) {
                        safe_close(fd);
                        return -ELOOP;
                }
        }
        return fd;
}

/* Opens path (already validated) beneath root_fd. Returns the fd or -errno. */
static int resolve_open(int root_fd, const char *path, int flags)
{
#if HAVE_OPENAT2
        if (openat2_usable(root_fd)) {
                int fd = sys_openat2(root_fd, path, flags);

                if (fd >= 0)
                        return fd;
                if (errno != ENOSYS)
                        return negative_errno();
                openat2_cached = 0;
        }
#endif
        return walk_open(root_fd, path, flags);
}

/* Opens dir/file (file NULL: dir itself) with flags; fills *e on failure. */
static int open_at_root(const CgroupFs *fs, const char *dir, const char *file, int flags, Error *e,
                        const char *op)
{
        char path[PATH_MAX];
        const char *why = NULL;
        int r, fd;

        r = make_path(path, sizeof path, dir, file, &why);
        if (r < 0)
                return fail_invalid(e, fs, dir, file, r, why, op);

        fd = resolve_open(fs->root_fd, path, flags);
        if (fd < 0)
                return fail(e, fs, dir, file, fd, NULL, op);
        return fd;
}

/* Opens the parent of dir (validated, not the root) and points *ret_name at
 * dir's last component. Returns the parent's fd: fs->root_fd itself when dir
 * is a single component, else an fd also stored in *ret_fd for the caller to
 * close. */
static int open_parent(const CgroupFs *fs, const char *dir, int *ret_fd, const char **ret_name)
{
        char parent[PATH_MAX];
        const char *slash = strrchr(dir, '/');
        size_t n;
        int fd;

        if (!slash) {
                *ret_name = dir;
                return fs->root_fd;
        }

        n = (size_t) (slash - dir);
        if (n >= sizeof parent)
                return -ENAMETOOLONG;
        memcpy(parent, dir, n);
        parent[n] = '\0';

        fd = resolve_open(fs->root_fd, parent, O_PATH | O_DIRECTORY);
        if (fd < 0)
                return fd;
        *ret_name = slash + 1;
        return *ret_fd = fd;
}

int cgroupfs_open(CgroupFs *fs, const char *root_path, Error *e)
{
        _cleanup_free_ char *p = NULL;
        int fd;

        *fs = CGROUPFS_NULL;

        if (isempty(root_path))
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "open cgroup root: the path is empty");

        p = strdup(root_path);
        if (!p)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "open cgroup root %s: %s", root_path,
                                 strerror(ENOMEM));

        fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                int r = negative_errno();

                return error_set(e, fileio_code(r), r, "open cgroup root %s: %s", root_path, strerror(-r));
        }

        fs->root_fd = fd;
        fs->root_path = TAKE_PTR(p);
        return 0;
}

void cgroupfs_close(CgroupFs *fs)
{
        if (!fs)
                return;
        fs->root_fd = safe_close(fs->root_fd);
        free(fs->root_path);
        fs->root_path = NULL;
}

int cg_mkdir(CgroupFs *fs, const char *dir, Error *e)
{
        _cleanup_close_ int parent_fd = -EBADF;
        const char *why = NULL, *name = NULL;
        struct stat st;
        int r, dfd;

        r = validate_dir(dir, &why);
        if (r < 0)
                return fail_invalid(e, fs, dir, NULL, r, why, "mkdir");
        if (isempty(dir))
                return fail_invalid(e, fs, dir, NULL, -EINVAL, "refusing to create the root", "mkdir");

        dfd = open_parent(fs, dir, &parent_fd, &name);
        if (dfd < 0)
                return fail(e, fs, dir, NULL, dfd, NULL, "mkdir");

        if (mkdirat(dfd, name, 0755) >= 0) {
                FAILPOINT("kernel");
                return 1;
        }
        if (errno != EEXIST)
                return fail(e, fs, dir, NULL, errno, NULL, "mkdir");

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return fail(e, fs, dir, NULL, errno, NULL, "mkdir");
        if (!S_ISDIR(st.st_mode))
                return fail(e, fs, dir, NULL, ENOTDIR, "exists and is not a directory", "mkdir");
        return 0;
}

int cg_rmdir(CgroupFs *fs, const char *dir, Error *e)
{
        _cleanup_close_ int parent_fd = -EBADF;
        const char *why = NULL, *name = NULL;
        int r, dfd;

        r = validate_dir(dir, &why);
        if (r < 0)
                return fail_invalid(e, fs, dir, NULL, r, why, "rmdir");
        if (isempty(dir))
                return fail_invalid(e, fs, dir, NULL, -EINVAL, "refusing to remove the root", "rmdir");

        dfd = open_parent(fs, dir, &parent_fd, &name);
        if (dfd == -ENOENT)
                return 0;
        if (dfd < 0)
                return fail(e, fs, dir, NULL, dfd, NULL, "rmdir");

        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0) {
                if (errno == ENOENT)
                        return 0;
                return fail(e, fs, dir, NULL, errno, NULL, "rmdir");
        }
        FAILPOINT("kernel");
        return 0;
}

/* 1 if dir[/file] opens with flags (with the device of its file system in
 * *ret_dev unless NULL), 0 if it is not there, -errno. */
static int exists(CgroupFs *fs, const char *dir, const char *file, int flags, dev_t *ret_dev)
{
        _cleanup_close_ int fd = -EBADF;
        char path[PATH_MAX];
        const char *why = NULL;
        struct stat st;
        int r;

        r = make_path(path, sizeof path, dir, file, &why);
        if (r < 0)
                return r;

        fd = resolve_open(fs->root_fd, path, flags);
        if (fd == -ENOENT || fd == -ENOTDIR)
                return 0;
        if (fd < 0)
                return fd;
        if (ret_dev) {
                if (fstat(fd, &st) < 0)
                        return -errno;
                *ret_dev = st.st_dev;
        }
        return 1;
}

int cg_dir_device(CgroupFs *fs, const char *dir, dev_t *ret)
{
        return exists(fs, dir, NULL, O_PATH | O_DIRECTORY, ret);
}

int cg_dir_exists(CgroupFs *fs, const char *dir)
{
        return exists(fs, dir, NULL, O_PATH | O_DIRECTORY, NULL);
}

int cg_file_exists(CgroupFs *fs, const char *dir, const char *file)
{
        if (!file)
                return -EINVAL;
        return exists(fs, dir, file, O_PATH, NULL);
}

int cg_write(CgroupFs *fs, const char *dir, const char *file, const char *value, Error *e)
{
        _cleanup_close_ int fd = -EBADF;
        char op[VALUE_SHOWN_MAX + 32];
        size_t len;
        ssize_t n;

        if (!file)
                return fail_invalid(e, fs, dir, file, -EINVAL, "no file name", "write");
        if (!value)
                return fail_invalid(e, fs, dir, file, -EINVAL, "no value", "write");

        len = strlen(value);
        (void) snprintf(op, sizeof op, "write \"%.*s%s\" to", (int) MIN(len, (size_t) VALUE_SHOWN_MAX),
                        value, len > VALUE_SHOWN_MAX ? "..." : "");

        fd = open_at_root(fs, dir, file, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, e, op);
        if (fd < 0)
                return fd;

        do
                n = write(fd, value, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return fail(e, fs, dir, file, errno, NULL, op);
        if ((size_t) n != len) {
                char detail[64];

                (void) snprintf(detail, sizeof detail, "short write (%zd of %zu bytes)", n, len);
                return fail(e, fs, dir, file, EIO, detail, op);
        }
        FAILPOINT("kernel");
        return 0;
}

/* Reads an fd to its end into a NUL-terminated buffer. cgroup files report
 * st_size 0 (or 4096), so the buffer grows as data comes. */
static int read_fd(int fd, char **ret, size_t *ret_size)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                ssize_t n;

                if (allocated - size < 2) {
                        size_t want = allocated == 0 ? READ_CHUNK : allocated * 2;
                        char *p;

                        if (allocated >= READ_SIZE_MAX + 1)
                                return -EFBIG;
                        want = MIN(want, READ_SIZE_MAX + 1);
                        p = realloc(buf, want);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = want;
                }

                n = read(fd, buf + size, allocated - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }

        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

static int read_at_root(CgroupFs *fs, const char *dir, const char *file, char **ret, size_t *ret_size,
                        Error *e)
{
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!file)
                return fail_invalid(e, fs, dir, file, -EINVAL, "no file name", "read");

        fd = open_at_root(fs, dir, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, e, "read");
        if (fd < 0)
                return fd;

        r = read_fd(fd, ret, ret_size);
        if (r < 0)
                return fail(e, fs, dir, file, r, r == -EFBIG ? "file too large" : NULL, "read");
        return 0;
}

int cg_read(CgroupFs *fs, const char *dir, const char *file, char **ret, Error *e)
{
        char *buf = NULL;
        size_t size;
        int r;

        r = read_at_root(fs, dir, file, &buf, &size, e);
        if (r < 0)
                return r;

        if (size > 0 && buf[size - 1] == '\n')
                buf[size - 1] = '\0';
        *ret = buf;
        return 0;
}

int cg_read_key(CgroupFs *fs, const char *dir, const char *file, const char *key, char **ret, Error *e)
{
        _cleanup_free_ char *buf = NULL;
        char op[VALUE_SHOWN_MAX + 32];
        size_t keylen;
        char *value;
        int r;

        if (isempty(key) || key[strcspn(key, " \t\n")])
                return fail_invalid(e, fs, dir, file, -EINVAL, "invalid key", "read key from");
        keylen = strlen(key);
        (void) snprintf(op, sizeof op, "read key \"%.*s\" from", VALUE_SHOWN_MAX, key);

        r = read_at_root(fs, dir, file, &buf, NULL, e);
        if (r < 0)
                return r;

        for (char *line = buf; *line;) {
                size_t n = strcspn(line, "\n");

                if (strncmp(line, key, keylen) == 0 && (n == keylen || line[keylen] == ' ')) {
                        if (n == keylen)
                                return fail(e, fs, dir, file, EBADMSG, "key without a value", op);
                        value = strndup(line + keylen + 1, n - keylen - 1);
                        if (!value)
                                return fail(e, fs, dir, file, ENOMEM, NULL, op);
                        *ret = value;
                        return 0;
                }

                line += n;
                if (*line == '\n')
                        line++;
        }

        return fail(e, fs, dir, file, ENXIO, "no such key", op);
}

/* One pid per line: digits only, canonical, fitting a pid_t. 0 is valid: the
 * kernel shows pids outside the reader's pid namespace as 0. */
static bool parse_pid(const char *s, size_t n, pid_t *ret)
{
        int64_t v = 0;

        if (n == 0 || n > 10 || (s[0] == '0' && n > 1))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (s[i] - '0');
        }
        if (v > INT32_MAX)
                return false;
        *ret = (pid_t) v;
        return true;
}

int cg_read_pids(CgroupFs *fs, const char *dir, const char *file, pid_t **ret, size_t *ret_n, Error *e)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t size, lines = 0, n = 0;
        const char *p, *end;
        int r;

        r = read_at_root(fs, dir, file, &buf, &size, e);
        if (r < 0)
                return r;

        end = buf + size;
        for (p = buf; p < end; p++)
                lines += *p == '\n';
        if (size > 0 && end[-1] != '\n')
                lines++;

        if (lines > 0) {
                pids = calloc(lines, sizeof *pids);
                if (!pids)
                        return fail(e, fs, dir, file, ENOMEM, NULL, "read");
        }

        for (p = buf; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = (size_t) ((nl ?: end) - p);

                if (!parse_pid(p, len, &pids[n])) {
                        char detail[128];

                        (void) snprintf(detail, sizeof detail, "line %zu: invalid pid \"%.*s\"", n + 1,
                                        (int) MIN(len, (size_t) 32), p);
                        return fail(e, fs, dir, file, EBADMSG, detail, "parse");
                }
                n++;
                p = nl ? nl + 1 : end;
        }

        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

int cg_write_pid(CgroupFs *fs, const char *dir, const char *file, pid_t pid, Error *e)
{
        char buf[DECIMAL_STR_MAX(pid_t)];

        if (pid <= 0) {
                char why[64];

                (void) snprintf(why, sizeof why, "%d is not a valid pid", (int) pid);
                return fail_invalid(e, fs, dir, file, -EINVAL, why, "write pid to");
        }

        (void) snprintf(buf, sizeof buf, "%d", (int) pid);
        return cg_write(fs, dir, file, buf, e);
}

static int strcmp_ptr(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int cg_set_xattr(CgroupFs *fs, const char *dir, const char *name, const char *value, Error *e)
{
        _cleanup_close_ int fd = -EBADF;

        fd = open_at_root(fs, dir, NULL, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, e, "setxattr");
        if (fd < 0)
                return fd;
        if (fsetxattr(fd, name, value, strlen(value), 0) < 0)
                return fail(e, fs, dir, NULL, errno, name, "setxattr");
        FAILPOINT("kernel");
        return 0;
}

int cg_get_xattr(CgroupFs *fs, const char *dir, const char *name, char *buf, size_t size)
{
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (size == 0)
                return -EINVAL;
        fd = open_at_root(fs, dir, NULL, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, NULL, "getxattr");
        if (fd < 0)
                return fd;
        n = fgetxattr(fd, name, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

int cg_list_children(CgroupFs *fs, const char *dir, char ***ret, Error *e)
{
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;

        fd = open_at_root(fs, dir, NULL, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, e, "list");
        if (fd < 0)
                return fd;

        d = fdopendir(fd);
        if (!d)
                return fail(e, fs, dir, NULL, errno, NULL, "list");
        (void) TAKE_FD(fd); /* owned by d now */

        l = calloc(1, sizeof *l);
        if (!l)
                return fail(e, fs, dir, NULL, ENOMEM, NULL, "list");

        for (;;) {
                struct dirent *de;
                char **k;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return fail(e, fs, dir, NULL, errno, NULL, "list");
                        break;
                }

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (de->d_type == DT_UNKNOWN) {
                        struct stat st;

                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno == ENOENT) /* removed meanwhile */
                                        continue;
                                return fail(e, fs, dir, de->d_name, errno, NULL, "list");
                        }
                        if (!S_ISDIR(st.st_mode))
                                continue;
                } else if (de->d_type != DT_DIR)
                        continue;

                k = reallocarray(l, n + 2, sizeof *l);
                if (!k)
                        return fail(e, fs, dir, NULL, ENOMEM, NULL, "list");
                l = k;
                l[n] = strdup(de->d_name);
                if (!l[n])
                        return fail(e, fs, dir, NULL, ENOMEM, NULL, "list");
                l[++n] = NULL;
        }

        qsort(l, n, sizeof *l, strcmp_ptr);
        *ret = TAKE_PTR(l);
        return 0;
}

int cg_open_file(CgroupFs *fs, const char *dir, const char *file, int flags, Error *e)
{
        if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
                return fail_invalid(e, fs, dir, file, -EINVAL, "creating files is not supported", "open");

        return open_at_root(fs, dir, file, flags | O_CLOEXEC, e, "open");
}

int cg_wait_unpopulated(CgroupFs *fs, const char *dir, unsigned timeout_ms, Error *e)
{
        _cleanup_close_ int fd = -EBADF;
        struct timespec start, now;
        char buf[256];

        fd = open_at_root(fs, dir, "cgroup.events", O_RDONLY | O_NOFOLLOW | O_CLOEXEC, e, "read");
        if (fd < 0)
                return fd;
        (void) clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
                if (n < 0)
                        return fail(e, fs, dir, "cgroup.events", errno, NULL, "read");
                buf[n] = '\0';
                const char *p = strstr(buf, "populated ");
                if (!p || (p != buf && p[-1] != '\n'))
                        return fail(e, fs, dir, "cgroup.events", EBADMSG, "no populated key", "parse");
                if (p[10] == '0')
                        return 1;

                (void) clock_gettime(CLOCK_MONOTONIC, &now);
                int64_t waited = (int64_t) (now.tv_sec - start.tv_sec) * 1000 +
                                 (now.tv_nsec - start.tv_nsec) / 1000000;
                if (waited >= (int64_t) timeout_ms)
                        return 0;
                /* The kernel signals a change of cgroup.events with
                 * POLLPRI; 50 ms steps for files that never signal. */
                struct pollfd pfd = { .fd = fd, .events = POLLPRI };
                if (poll(&pfd, 1, (int) MIN((int64_t) timeout_ms - waited, (int64_t) 50)) < 0 && errno != EINTR)
                        return fail(e, fs, dir, "cgroup.events", errno, NULL, "poll");
        }
}
