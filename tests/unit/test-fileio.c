/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* The cgroup file-I/O module against a temporary tree: results of mkdir,
 * rmdir, reads and writes, the parsers, and the security properties (no
 * symlink is followed, nothing outside the root is reached, bad paths are
 * refused before any syscall). Every test runs twice: _i == 0 resolves with
 * openat2(2), _i == 1 with the component-by-component walk. */

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "daemon/cgroup/fileio.h"

static char basedir[PATH_MAX];  /* per test case, removed by the parent */
static char root[PATH_MAX];     /* per test: the cgroup root */
static char outside[PATH_MAX];  /* per test: a directory the root must never reach */
static CgroupFs fs = { .root_fd = -EBADF };

/* ---- the tree ------------------------------------------------------------ */

static void basedir_setup(void)
{
        const char *tmp = getenv("TMPDIR") ?: "/tmp";

        ck_assert_int_lt(snprintf(basedir, sizeof basedir, "%s/test-fileio-XXXXXX", tmp),
                         (int) sizeof basedir);
        ck_assert_ptr_nonnull(mkdtemp(basedir));
}

static int remove_one(const char *path, _unused_ const struct stat *st, _unused_ int type,
                      _unused_ struct FTW *ftw)
{
        (void) remove(path);
        return 0;
}

/* An unchecked fixture: runs in the parent, so also after a failed test.
 * FTW_PHYS: symlinks are removed, never followed. */
static void basedir_teardown(void)
{
        if (basedir[0])
                (void) nftw(basedir, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        basedir[0] = '\0';
}

static const char *at(const char *base, const char *rel, char *buf, size_t size)
{
        ck_assert_int_lt(snprintf(buf, size, "%s/%s", base, rel), (int) size);
        return buf;
}
#define AT(base, rel) at((base), (rel), (char[PATH_MAX]){}, PATH_MAX)

static void mk(const char *base, const char *rel)
{
        ck_assert_int_eq(mkdir(AT(base, rel), 0755), 0);
}

static void put(const char *base, const char *rel, const char *content)
{
        _cleanup_close_ int fd = open(AT(base, rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        size_t n = strlen(content);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, content, n), (ssize_t) n);
}

static void link_to(const char *target, const char *rel)
{
        ck_assert_int_eq(symlink(target, AT(root, rel)), 0);
}

static char *slurp(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        static char buf[256];
        ssize_t n;

        ck_assert_int_ge(fd, 0);
        n = read(fd, buf, sizeof buf - 1);
        ck_assert_int_ge(n, 0);
        buf[n] = '\0';
        return buf;
}

static bool present(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0;
}

/* A checked fixture (in the test's process): a fresh root, and next to it a
 * directory with a file and a subdirectory that symlinks will point at. */
static void tree_setup(void)
{
        Error e = {};

        (void) umask(022);
        ck_assert_int_lt(snprintf(root, sizeof root, "%s/root-XXXXXX", basedir), (int) sizeof root);
        ck_assert_ptr_nonnull(mkdtemp(root));
        ck_assert_int_lt(snprintf(outside, sizeof outside, "%s/outside-XXXXXX", basedir),
                         (int) sizeof outside);
        ck_assert_ptr_nonnull(mkdtemp(outside));
        put(outside, "secret", "outside\n");
        mk(outside, "sub");

        ck_assert_int_eq(cgroupfs_open(&fs, root, &e), 0);
        ck_assert_int_eq(e.code, GRPC_OK);
}

static void tree_teardown(void)
{
        cgroupfs_close(&fs);
        cgroupfs_force_fallback(false);
}

static void use_mode(int i)
{
        cgroupfs_force_fallback(i == 1);
}

static void assert_error(const Error *e, GrpcCode code, int errnum)
{
        ck_assert_msg(e->code == code, "code %d, expected %d: %s", e->code, code, e->message);
        ck_assert_int_eq(e->errnum, errnum);
        ck_assert_msg(strlen(e->message) > 0, "no message");
}

static void assert_read(const char *dir, const char *file, const char *expected)
{
        _cleanup_free_ char *v = NULL;
        Error e = {};

        ck_assert_int_eq(cg_read(&fs, dir, file, &v, &e), 0);
        ck_assert_int_eq(e.code, GRPC_OK);
        ck_assert_str_eq(v, expected);
}

static void assert_key(const char *file, const char *key, const char *expected)
{
        _cleanup_free_ char *v = NULL;
        Error e = {};

        ck_assert_int_eq(cg_read_key(&fs, "", file, key, &v, &e), 0);
        ck_assert_int_eq(e.code, GRPC_OK);
        ck_assert_str_eq(v, expected);
}

/* Refused because of a symlink: ELOOP (RESOLVE_NO_SYMLINKS, O_NOFOLLOW) or
 * EXDEV (RESOLVE_BENEATH). */
#define ck_assert_refused(r, e)                                                                      \
        do {                                                                                         \
                int _r = (r);                                                                        \
                ck_assert_msg(_r == -ELOOP || _r == -EXDEV, "expected -ELOOP/-EXDEV, got %d", _r);   \
                ck_assert_int_eq((e)->code, GRPC_FAILED_PRECONDITION);                               \
                ck_assert_int_eq((e)->errnum, -_r);                                                  \
        } while (0)

/* ---- open ---------------------------------------------------------------- */

START_TEST(test_open_close)
{
        CgroupFs f = CGROUPFS_NULL;
        Error e = {};

        use_mode(_i);

        ck_assert_int_ge(fs.root_fd, 0);
        ck_assert_int_eq(fcntl(fs.root_fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        ck_assert_int_eq(fcntl(fs.root_fd, F_GETFL) & O_PATH, O_PATH);
        ck_assert_str_eq(fs.root_path, root);

        cgroupfs_close(&f); /* never opened */

        ck_assert_int_eq(cgroupfs_open(&f, AT(root, "missing"), &e), -ENOENT);
        assert_error(&e, GRPC_NOT_FOUND, ENOENT);
        ck_assert_ptr_nonnull(strstr(e.message, AT(root, "missing")));
        ck_assert_int_lt(f.root_fd, 0);
        ck_assert_ptr_null(f.root_path);
        cgroupfs_close(&f);

        put(root, "file", "");
        e = (Error) {};
        ck_assert_int_eq(cgroupfs_open(&f, AT(root, "file"), &e), -ENOTDIR);
        ck_assert_int_eq(e.errnum, ENOTDIR);

        e = (Error) {};
        ck_assert_int_eq(cgroupfs_open(&f, "", &e), -EINVAL);
        ck_assert_int_eq(e.code, GRPC_INVALID_ARGUMENT);

        ck_assert_int_eq(cgroupfs_open(&f, root, NULL), 0);
        cgroupfs_close(&f);
        ck_assert_int_lt(f.root_fd, 0);
        ck_assert_ptr_null(f.root_path);
        cgroupfs_close(&f); /* idempotent */
}
END_TEST

/* ---- mkdir, rmdir, exists ------------------------------------------------ */

START_TEST(test_mkdir)
{
        char expect[PATH_MAX + 64];
        struct stat st;
        Error e = {};

        use_mode(_i);

        ck_assert_int_eq(cg_mkdir(&fs, "a", &e), 1);
        ck_assert_int_eq(cg_mkdir(&fs, "a", &e), 0);
        ck_assert_int_eq(cg_mkdir(&fs, "a/b", &e), 1);
        ck_assert_int_eq(cg_mkdir(&fs, "a/b", &e), 0);
        ck_assert_int_eq(cg_mkdir(&fs, "a/b/c", &e), 1);
        ck_assert_int_eq(e.code, GRPC_OK);
        ck_assert_int_eq(stat(AT(root, "a/b/c"), &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0755);

        /* The parent must exist. */
        ck_assert_int_eq(cg_mkdir(&fs, "x/y", &e), -ENOENT);
        assert_error(&e, GRPC_NOT_FOUND, ENOENT);
        (void) snprintf(expect, sizeof expect, "mkdir %s/x/y: %s", root, strerror(ENOENT));
        ck_assert_str_eq(e.message, expect);
        ck_assert(!present(AT(root, "x")));

        /* EEXIST on something that is not a directory is an error. */
        put(root, "a/file", "");
        e = (Error) {};
        ck_assert_int_eq(cg_mkdir(&fs, "a/file", &e), -ENOTDIR);
        assert_error(&e, GRPC_FAILED_PRECONDITION, ENOTDIR);
        e = (Error) {};
        ck_assert_int_eq(cg_mkdir(&fs, "a/file/sub", &e), -ENOTDIR);

        e = (Error) {};
        ck_assert_int_eq(cg_mkdir(&fs, "", &e), -EINVAL);
        assert_error(&e, GRPC_INVALID_ARGUMENT, EINVAL);
        ck_assert_int_eq(cg_mkdir(&fs, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_rmdir)
{
        Error e = {};

        use_mode(_i);

        mk(root, "a");
        mk(root, "a/b");
        put(root, "a/file", "");

        ck_assert_int_eq(cg_rmdir(&fs, "a", &e), -ENOTEMPTY);
        ck_assert_int_eq(e.errnum, ENOTEMPTY);
        ck_assert_ptr_nonnull(strstr(e.message, AT(root, "a")));
        ck_assert(present(AT(root, "a/b")));

        e = (Error) {};
        ck_assert_int_eq(cg_rmdir(&fs, "a/b", &e), 0);
        ck_assert(!present(AT(root, "a/b")));
        ck_assert_int_eq(cg_rmdir(&fs, "a/b", &e), 0);       /* already gone */
        ck_assert_int_eq(cg_rmdir(&fs, "missing/x", &e), 0); /* parent gone too */
        ck_assert_int_eq(e.code, GRPC_OK);

        ck_assert_int_eq(cg_rmdir(&fs, "a/file", &e), -ENOTDIR);
        ck_assert(present(AT(root, "a/file")));

        e = (Error) {};
        ck_assert_int_eq(cg_rmdir(&fs, "", &e), -EINVAL);
        assert_error(&e, GRPC_INVALID_ARGUMENT, EINVAL);
        ck_assert(present(root));
}
END_TEST

START_TEST(test_exists)
{
        use_mode(_i);

        mk(root, "a");
        put(root, "a/cgroup.procs", "");
        put(root, "file", "");

        ck_assert_int_eq(cg_dir_exists(&fs, ""), 1);
        ck_assert_int_eq(cg_dir_exists(&fs, NULL), 1);
        ck_assert_int_eq(cg_dir_exists(&fs, "a"), 1);
        ck_assert_int_eq(cg_dir_exists(&fs, "missing"), 0);
        ck_assert_int_eq(cg_dir_exists(&fs, "missing/deeper"), 0);
        ck_assert_int_eq(cg_dir_exists(&fs, "file"), 0);
        ck_assert_int_eq(cg_dir_exists(&fs, "file/x"), 0);

        ck_assert_int_eq(cg_file_exists(&fs, "a", "cgroup.procs"), 1);
        ck_assert_int_eq(cg_file_exists(&fs, "", "file"), 1);
        ck_assert_int_eq(cg_file_exists(&fs, "", "a"), 1);
        ck_assert_int_eq(cg_file_exists(&fs, "a", "missing"), 0);
        ck_assert_int_eq(cg_file_exists(&fs, "missing", "cgroup.procs"), 0);

        ck_assert_int_eq(cg_dir_exists(&fs, "../a"), -EINVAL);
        ck_assert_int_eq(cg_file_exists(&fs, "", "a/cgroup.procs"), -EINVAL);
        ck_assert_int_eq(cg_file_exists(&fs, "a", NULL), -EINVAL);
}
END_TEST

/* ---- write and read ------------------------------------------------------ */

START_TEST(test_write_read)
{
        Error e = {};

        use_mode(_i);

        mk(root, "a");
        mk(root, "a/b");
        put(root, "a/cpu.max", "100000 100000\n");
        assert_read("a", "cpu.max", "100000 100000");

        /* One write of exactly the value, replacing what was there. */
        ck_assert_int_eq(cg_write(&fs, "a", "cpu.max", "max 100000", &e), 0);
        ck_assert_str_eq(slurp(AT(root, "a/cpu.max")), "max 100000");
        ck_assert_int_eq(cg_write(&fs, "a", "cpu.max", "max", &e), 0);
        ck_assert_str_eq(slurp(AT(root, "a/cpu.max")), "max");
        assert_read("a", "cpu.max", "max");

        /* In the root itself, and deeper down. */
        put(root, "cgroup.subtree_control", "");
        ck_assert_int_eq(cg_write(&fs, "", "cgroup.subtree_control", "+cpu +cpuset", &e), 0);
        assert_read(NULL, "cgroup.subtree_control", "+cpu +cpuset");
        put(root, "a/b/cgroup.type", "domain\n");
        ck_assert_int_eq(cg_write(&fs, "a/b", "cgroup.type", "threaded", &e), 0);
        assert_read("a/b", "cgroup.type", "threaded");
        ck_assert_int_eq(e.code, GRPC_OK);

        /* Only one trailing newline goes. */
        put(root, "a/two", "x\n\n");
        assert_read("a", "two", "x\n");
        put(root, "a/none", "x");
        assert_read("a", "none", "x");
        put(root, "a/empty", "");
        assert_read("a", "empty", "");
        put(root, "a/newline", "\n");
        assert_read("a", "newline", "");
}
END_TEST

START_TEST(test_read_large)
{
        _cleanup_free_ char *big = NULL, *v = NULL;
        const size_t size = 300 * 1000;

        use_mode(_i);

        /* A cgroup.procs of 50000 pids: the buffer has to grow. */
        big = malloc(size + 1);
        ck_assert_ptr_nonnull(big);
        for (size_t i = 0; i < size; i += 6)
                memcpy(big + i, "12345\n", 6);
        big[size] = '\0';
        put(root, "cgroup.procs", big);

        ck_assert_int_eq(cg_read(&fs, "", "cgroup.procs", &v, NULL), 0);
        ck_assert_uint_eq(strlen(v), size - 1);
        ck_assert_int_eq(memcmp(v, big, size - 1), 0);
}
END_TEST

START_TEST(test_write_read_errors)
{
        char expect[PATH_MAX + 256], value[101];
        char *v = (char *) "untouched";
        Error e = {};

        use_mode(_i);

        mk(root, "cpu");
        mk(root, "cpu/x");

        /* No O_CREAT: a missing kernel file is an error, and none appears. */
        ck_assert_int_eq(cg_write(&fs, "cpu/x", "cpu.cfs_quota_us", "-1", &e), -ENOENT);
        assert_error(&e, GRPC_NOT_FOUND, ENOENT);
        (void) snprintf(expect, sizeof expect, "write \"-1\" to %s/cpu/x/cpu.cfs_quota_us: %s", root,
                        strerror(ENOENT));
        ck_assert_str_eq(e.message, expect);
        ck_assert(!present(AT(root, "cpu/x/cpu.cfs_quota_us")));

        e = (Error) {};
        ck_assert_int_eq(cg_read(&fs, "cpu/x", "missing", &v, &e), -ENOENT);
        (void) snprintf(expect, sizeof expect, "read %s/cpu/x/missing: %s", root, strerror(ENOENT));
        ck_assert_str_eq(e.message, expect);
        ck_assert_str_eq(v, "untouched");

        /* Long values are quoted shortened. */
        memset(value, 'v', sizeof value - 1);
        value[sizeof value - 1] = '\0';
        e = (Error) {};
        ck_assert_int_eq(cg_write(&fs, "cpu/x", "missing", value, &e), -ENOENT);
        (void) snprintf(expect, sizeof expect, "write \"%.64s...\" to %s/cpu/x/missing: %s", value, root,
                        strerror(ENOENT));
        ck_assert_str_eq(e.message, expect);

        /* A directory is not a file. */
        e = (Error) {};
        ck_assert_int_eq(cg_write(&fs, "cpu", "x", "1", &e), -EISDIR);
        assert_error(&e, GRPC_FAILED_PRECONDITION, EISDIR);

        /* Without an Error. */
        ck_assert_int_eq(cg_read(&fs, "cpu/x", "missing", &v, NULL), -ENOENT);
        ck_assert_int_eq(cg_write(&fs, "cpu/x", "missing", "1", NULL), -ENOENT);
        ck_assert_int_eq(cg_write(&fs, "cpu/x", NULL, "1", NULL), -EINVAL);
        ck_assert_int_eq(cg_write(&fs, "cpu/x", "missing", NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_read_key)
{
        char expect[PATH_MAX + 64];
        char *v = NULL;
        Error e = {};

        use_mode(_i);

        put(root, "cgroup.events", "populated_not 5\npopulated 1\nfrozen 0");
        put(root, "memory.events", "low 0\nhigh 12\noom\n");
        put(root, "cpu.stat", "usage_usec 10\nnr_periods 0\n");

        assert_key("cgroup.events", "populated", "1");
        assert_key("cgroup.events", "frozen", "0"); /* no final newline */
        assert_key("cgroup.events", "populated_not", "5");
        assert_key("memory.events", "high", "12");
        assert_key("cpu.stat", "usage_usec", "10");

        /* A prefix of a key is not the key. */
        ck_assert_int_eq(cg_read_key(&fs, "", "cgroup.events", "pop", &v, &e), -ENXIO);
        assert_error(&e, GRPC_NOT_FOUND, ENXIO);
        (void) snprintf(expect, sizeof expect, "read key \"pop\" from %s/cgroup.events: no such key", root);
        ck_assert_str_eq(e.message, expect);
        ck_assert_ptr_null(v);

        e = (Error) {};
        ck_assert_int_eq(cg_read_key(&fs, "", "memory.events", "oom", &v, &e), -EBADMSG);
        assert_error(&e, GRPC_INTERNAL, EBADMSG);

        ck_assert_int_eq(cg_read_key(&fs, "", "cgroup.events", "", &v, NULL), -EINVAL);
        ck_assert_int_eq(cg_read_key(&fs, "", "cgroup.events", "populated 1", &v, NULL), -EINVAL);
        ck_assert_int_eq(cg_read_key(&fs, "", "missing", "populated", &v, NULL), -ENOENT);
        ck_assert_ptr_null(v);
}
END_TEST

/* ---- pids ---------------------------------------------------------------- */

START_TEST(test_read_pids)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 99;
        Error e = {};

        use_mode(_i);

        put(root, "cgroup.procs", "1\n22\n333\n");
        ck_assert_int_eq(cg_read_pids(&fs, "", "cgroup.procs", &pids, &n, &e), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_int_eq(pids[0], 1);
        ck_assert_int_eq(pids[1], 22);
        ck_assert_int_eq(pids[2], 333);
        free(pids);

        /* No final newline; 0 (a pid outside our namespace); the largest pid_t. */
        put(root, "tasks", "0\n2147483647");
        ck_assert_int_eq(cg_read_pids(&fs, "", "tasks", &pids, &n, &e), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(pids[0], 0);
        ck_assert_int_eq(pids[1], 2147483647);
        free(pids);

        put(root, "cgroup.threads", "");
        ck_assert_int_eq(cg_read_pids(&fs, "", "cgroup.threads", &pids, &n, &e), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(pids);
        ck_assert_int_eq(e.code, GRPC_OK);
}
END_TEST

START_TEST(test_read_pids_garbage)
{
        static const char *const garbage[] = {
                "abc\n", "12a\n", "-1\n",         "+1\n",         " 1\n",  "1 \n",     "1\t\n",
                "1\n\n", "\n",    "2147483648\n", "99999999999\n", "007\n", "1\r\n",    "1\n2\nx\n",
                "0x10\n",
        };

        use_mode(_i);

        for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
                pid_t sentinel = 7, *pids = &sentinel; /* must be left alone */
                size_t n = 99;
                Error e = {};
                int r;

                put(root, "cgroup.procs", garbage[i]);
                r = cg_read_pids(&fs, "", "cgroup.procs", &pids, &n, &e);
                ck_assert_msg(r == -EBADMSG, "\"%s\": %d", garbage[i], r);
                assert_error(&e, GRPC_INTERNAL, EBADMSG);
                ck_assert_msg(strncmp(e.message, "parse ", 6) == 0, "%s", e.message);
                ck_assert_ptr_nonnull(strstr(e.message, AT(root, "cgroup.procs")));
                ck_assert_ptr_eq(pids, &sentinel);
                ck_assert_uint_eq(n, 99);
        }
}
END_TEST

START_TEST(test_write_pid)
{
        Error e = {};

        use_mode(_i);

        mk(root, "a");
        put(root, "a/cgroup.procs", "");

        ck_assert_int_eq(cg_write_pid(&fs, "a", "cgroup.procs", 1234, &e), 0);
        ck_assert_str_eq(slurp(AT(root, "a/cgroup.procs")), "1234");
        ck_assert_int_eq(cg_write_pid(&fs, "a", "cgroup.procs", 2147483647, &e), 0);
        ck_assert_str_eq(slurp(AT(root, "a/cgroup.procs")), "2147483647");
        ck_assert_int_eq(e.code, GRPC_OK);

        /* 0 would move the writer itself. */
        ck_assert_int_eq(cg_write_pid(&fs, "a", "cgroup.procs", 0, &e), -EINVAL);
        assert_error(&e, GRPC_INVALID_ARGUMENT, EINVAL);
        e = (Error) {};
        ck_assert_int_eq(cg_write_pid(&fs, "a", "cgroup.procs", -1, &e), -EINVAL);
        ck_assert_str_eq(slurp(AT(root, "a/cgroup.procs")), "2147483647");

        e = (Error) {};
        ck_assert_int_eq(cg_write_pid(&fs, "missing", "cgroup.procs", 1, &e), -ENOENT);
        ck_assert_ptr_nonnull(strstr(e.message, "write \"1\" to "));
}
END_TEST

/* ---- list, open ---------------------------------------------------------- */

START_TEST(test_list_children)
{
        _cleanup_strv_free_ char **l = NULL;
        char expect[PATH_MAX + 64];
        Error e = {};

        use_mode(_i);

        mk(root, "s");
        mk(root, "s/vcpu");
        mk(root, "s/pod_overhead");
        mk(root, "s/a");
        put(root, "s/cgroup.procs", "");
        ck_assert_int_eq(symlink("vcpu", AT(root, "s/inner")), 0);
        ck_assert_int_eq(symlink(outside, AT(root, "s/out")), 0);

        ck_assert_int_eq(cg_list_children(&fs, "s", &l, &e), 0);
        ck_assert_ptr_nonnull(l);
        ck_assert_str_eq(l[0], "a");
        ck_assert_str_eq(l[1], "pod_overhead");
        ck_assert_str_eq(l[2], "vcpu");
        ck_assert_ptr_null(l[3]);
        l = strv_free(l);

        ck_assert_int_eq(cg_list_children(&fs, "s/vcpu", &l, &e), 0);
        ck_assert_ptr_nonnull(l);
        ck_assert_ptr_null(l[0]);
        l = strv_free(l);

        ck_assert_int_eq(cg_list_children(&fs, "", &l, &e), 0);
        ck_assert_str_eq(l[0], "s");
        ck_assert_ptr_null(l[1]);
        l = strv_free(l);
        ck_assert_int_eq(e.code, GRPC_OK);

        ck_assert_int_eq(cg_list_children(&fs, "missing", &l, &e), -ENOENT);
        (void) snprintf(expect, sizeof expect, "list %s/missing: %s", root, strerror(ENOENT));
        ck_assert_str_eq(e.message, expect);
        e = (Error) {};
        ck_assert_int_eq(cg_list_children(&fs, "s/cgroup.procs", &l, &e), -ENOTDIR);
        ck_assert_ptr_null(l);

        ck_assert_ptr_null(strv_free(NULL));
}
END_TEST

START_TEST(test_open_file)
{
        _cleanup_close_ int fd = -EBADF, fd2 = -EBADF;
        struct stat st1, st2;
        char buf[32];
        Error e = {};

        use_mode(_i);

        mk(root, "a");
        put(root, "a/cgroup.events", "populated 0\n");

        fd = cg_open_file(&fs, "a", NULL, O_RDONLY | O_DIRECTORY, &e);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        ck_assert_int_eq(fstat(fd, &st1), 0);
        ck_assert_int_eq(stat(AT(root, "a"), &st2), 0);
        ck_assert(st1.st_dev == st2.st_dev && st1.st_ino == st2.st_ino);

        fd2 = cg_open_file(&fs, "a", "cgroup.events", O_RDONLY, &e);
        ck_assert_int_ge(fd2, 0);
        ck_assert_int_eq(fcntl(fd2, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        ck_assert_int_eq(read(fd2, buf, sizeof buf), 12);
        ck_assert_int_eq(memcmp(buf, "populated 0\n", 12), 0);
        ck_assert_int_eq(e.code, GRPC_OK);

        /* This module creates directories, never files. */
        ck_assert_int_eq(cg_open_file(&fs, "a", "new", O_WRONLY | O_CREAT, &e), -EINVAL);
        assert_error(&e, GRPC_INVALID_ARGUMENT, EINVAL);
        ck_assert_int_eq(cg_open_file(&fs, "a", NULL, O_RDWR | O_TMPFILE, NULL), -EINVAL);
        ck_assert(!present(AT(root, "a/new")));

        ck_assert_int_eq(cg_open_file(&fs, "a", "missing", O_RDONLY, NULL), -ENOENT);
        ck_assert_int_eq(cg_open_file(&fs, "a", "", O_RDONLY, NULL), -EINVAL);
}
END_TEST

/* ---- security ------------------------------------------------------------ */

START_TEST(test_symlink_dir)
{
        char *v = NULL;
        char **l = NULL;
        pid_t *pids = NULL;
        size_t n = 0;
        Error e = {};

        use_mode(_i);

        link_to(outside, "evil");      /* absolute, out of the tree */
        link_to("/etc", "evil_etc");   /* `ln -s /etc evil_etc` */
        mk(root, "a");
        mk(root, "a/b");
        link_to(outside, "a/b/deep");  /* deeper down */
        link_to("b", "a/inner");       /* relative, staying inside: still a symlink */
        link_to("../..", "a/up");      /* relative, climbing out */

        static const char *const dirs[] = {
                "evil", "evil_etc", "a/b/deep", "a/inner", "a/up", "a/up/outside",
        };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                e = (Error) {};
                ck_assert_refused(cg_read(&fs, dirs[i], "secret", &v, &e), &e);
                ck_assert_ptr_nonnull(strstr(e.message, root));
                e = (Error) {};
                ck_assert_refused(cg_list_children(&fs, dirs[i], &l, &e), &e);
                e = (Error) {};
                ck_assert_refused(cg_open_file(&fs, dirs[i], NULL, O_RDONLY | O_DIRECTORY, &e), &e);
                e = (Error) {};
                ck_assert_refused(cg_open_file(&fs, dirs[i], NULL, O_PATH | O_DIRECTORY, &e), &e);
                ck_assert_int_eq(cg_dir_exists(&fs, dirs[i]), -ELOOP);
        }
        ck_assert_ptr_null(v);
        ck_assert_ptr_null(l);

        /* Reads. /etc/passwd exists, so anything but a refusal is a bug. */
        e = (Error) {};
        ck_assert_refused(cg_read(&fs, "evil_etc", "passwd", &v, &e), &e);
        e = (Error) {};
        ck_assert_refused(cg_read_key(&fs, "evil_etc", "passwd", "root", &v, &e), &e);
        e = (Error) {};
        ck_assert_refused(cg_read_pids(&fs, "evil", "secret", &pids, &n, &e), &e);
        ck_assert_int_eq(cg_file_exists(&fs, "evil_etc", "passwd"), -ELOOP);
        ck_assert_int_eq(cg_file_exists(&fs, "evil", "secret"), -ELOOP);
        ck_assert_ptr_null(v);
        ck_assert_ptr_null(pids);

        /* Writes. */
        e = (Error) {};
        ck_assert_refused(cg_write(&fs, "evil", "secret", "pwned", &e), &e);
        e = (Error) {};
        ck_assert_refused(cg_write(&fs, "a/b/deep", "secret", "pwned", &e), &e);
        e = (Error) {};
        ck_assert_refused(cg_write_pid(&fs, "evil", "secret", 1, &e), &e);
        ck_assert_str_eq(slurp(AT(outside, "secret")), "outside\n");

        /* mkdir below it, and of it. */
        e = (Error) {};
        ck_assert_refused(cg_mkdir(&fs, "evil/x", &e), &e);
        e = (Error) {};
        ck_assert_refused(cg_mkdir(&fs, "a/b/deep/x", &e), &e);
        e = (Error) {};
        ck_assert_refused(cg_mkdir(&fs, "a/up/x", &e), &e);
        ck_assert(!present(AT(outside, "x")));
        ck_assert(!present(AT(basedir, "x")));
        e = (Error) {};
        ck_assert_int_eq(cg_mkdir(&fs, "evil", &e), -ENOTDIR);
        assert_error(&e, GRPC_FAILED_PRECONDITION, ENOTDIR);

        /* rmdir below it, and of it (the link stays). */
        e = (Error) {};
        ck_assert_refused(cg_rmdir(&fs, "evil/sub", &e), &e);
        ck_assert(present(AT(outside, "sub")));
        e = (Error) {};
        ck_assert_int_eq(cg_rmdir(&fs, "evil", &e), -ENOTDIR);
        ck_assert(present(AT(root, "evil")));
        ck_assert(present(AT(outside, "secret")));
}
END_TEST

START_TEST(test_symlink_file)
{
        char *v = NULL;
        Error e = {};

        use_mode(_i);

        mk(root, "a");
        link_to(AT(outside, "secret"), "a/cgroup.procs");
        link_to("/etc/passwd", "a/passwd");

        ck_assert_refused(cg_read(&fs, "a", "passwd", &v, &e), &e);
        e = (Error) {};
        ck_assert_refused(cg_read(&fs, "a", "cgroup.procs", &v, &e), &e);
        e = (Error) {};
        ck_assert_refused(cg_write(&fs, "a", "cgroup.procs", "pwned", &e), &e);
        e = (Error) {};
        ck_assert_refused(cg_write_pid(&fs, "a", "cgroup.procs", 1, &e), &e);
        ck_assert_str_eq(slurp(AT(outside, "secret")), "outside\n");
        ck_assert_ptr_null(v);

        ck_assert_int_eq(cg_file_exists(&fs, "a", "cgroup.procs"), -ELOOP);

        /* O_PATH|O_NOFOLLOW would open the link itself: refused too. */
        e = (Error) {};
        ck_assert_refused(cg_open_file(&fs, "a", "cgroup.procs", O_PATH, &e), &e);
        e = (Error) {};
        ck_assert_refused(cg_open_file(&fs, "a", "cgroup.procs", O_PATH | O_NOFOLLOW, &e), &e);
        e = (Error) {};
        ck_assert_refused(cg_open_file(&fs, "a", "cgroup.procs", O_RDONLY, &e), &e);
}
END_TEST

/* With root_fd invalid, any syscall would fail with EBADF: EINVAL shows that
 * the path was refused before. */
START_TEST(test_invalid_paths)
{
        static const char *const bad_dirs[] = {
                "..", "../x", "a/..", "a/../..", "a/../b", "/", "/etc", "//etc",
                ".", "./a", "a/.", "a/./b", "a//b", "a/", "/a/b",
        };
        static const char *const bad_files[] = { "a/b", "../secret", "/etc/passwd", "", ".", "..", "x/" };
        _cleanup_strv_free_ char **l = NULL;
        pid_t *pids = NULL;
        char *v = NULL;
        char expect[PATH_MAX + 128];
        size_t n = 0;
        int saved = fs.root_fd;
        Error e = {};

        use_mode(_i);
        mk(root, "a");
        put(root, "a/f", "");
        fs.root_fd = -EBADF;

#define CK_EINVAL(call)                                                              \
        do {                                                                         \
                e = (Error) {};                                                      \
                ck_assert_int_eq((call), -EINVAL);                                   \
                assert_error(&e, GRPC_INVALID_ARGUMENT, EINVAL);                     \
        } while (0)

        for (size_t i = 0; i < ELEMENTSOF(bad_dirs); i++) {
                const char *d = bad_dirs[i];

                CK_EINVAL(cg_mkdir(&fs, d, &e));
                CK_EINVAL(cg_rmdir(&fs, d, &e));
                CK_EINVAL(cg_write(&fs, d, "f", "1", &e));
                CK_EINVAL(cg_write_pid(&fs, d, "f", 1, &e));
                CK_EINVAL(cg_read(&fs, d, "f", &v, &e));
                CK_EINVAL(cg_read_key(&fs, d, "f", "k", &v, &e));
                CK_EINVAL(cg_read_pids(&fs, d, "f", &pids, &n, &e));
                CK_EINVAL(cg_list_children(&fs, d, &l, &e));
                CK_EINVAL(cg_open_file(&fs, d, NULL, O_RDONLY | O_DIRECTORY, &e));
                CK_EINVAL(cg_open_file(&fs, d, "f", O_RDONLY, &e));
                ck_assert_int_eq(cg_dir_exists(&fs, d), -EINVAL);
                ck_assert_int_eq(cg_file_exists(&fs, d, "f"), -EINVAL);
        }

        for (size_t i = 0; i < ELEMENTSOF(bad_files); i++) {
                const char *f = bad_files[i];

                CK_EINVAL(cg_write(&fs, "a", f, "1", &e));
                CK_EINVAL(cg_write_pid(&fs, "a", f, 1, &e));
                CK_EINVAL(cg_read(&fs, "a", f, &v, &e));
                CK_EINVAL(cg_read_key(&fs, "a", f, "k", &v, &e));
                CK_EINVAL(cg_read_pids(&fs, "a", f, &pids, &n, &e));
                CK_EINVAL(cg_open_file(&fs, "a", f, O_RDONLY, &e));
                ck_assert_int_eq(cg_file_exists(&fs, "a", f), -EINVAL);
        }
#undef CK_EINVAL

        ck_assert_ptr_null(v);
        ck_assert_ptr_null(l);
        ck_assert_ptr_null(pids);

        /* The message quotes what was asked for. */
        e = (Error) {};
        ck_assert_int_eq(cg_read(&fs, "../etc", "passwd", &v, &e), -EINVAL);
        (void) snprintf(expect, sizeof expect,
                        "read \"../etc/passwd\" below %s: \"..\" components are not allowed", root);
        ck_assert_str_eq(e.message, expect);

        fs.root_fd = saved;

        /* Too long a component. */
        char name[NAME_MAX + 2];
        memset(name, 'n', sizeof name - 1);
        name[sizeof name - 1] = '\0';
        e = (Error) {};
        ck_assert_int_eq(cg_mkdir(&fs, name, &e), -ENAMETOOLONG);
        ck_assert_int_eq(e.code, GRPC_INVALID_ARGUMENT);
        ck_assert_int_eq(cg_read(&fs, "a", name, &v, NULL), -ENAMETOOLONG);

        /* And nothing was created while refusing. */
        ck_assert(!present(AT(basedir, "x")));
        ck_assert(!present(AT(root, "a/b")));
}
END_TEST

static Suite *fileio_suite(void)
{
        Suite *s = suite_create("fileio");
        TCase *tc;

        /* Each test twice: 0 = openat2, 1 = the O_NOFOLLOW walk. */
#define ADD(t) tcase_add_loop_test(tc, t, 0, 2)

        tc = tcase_create("files");
        tcase_add_unchecked_fixture(tc, basedir_setup, basedir_teardown);
        tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
        ADD(test_open_close);
        ADD(test_mkdir);
        ADD(test_rmdir);
        ADD(test_exists);
        ADD(test_write_read);
        ADD(test_read_large);
        ADD(test_write_read_errors);
        ADD(test_read_key);
        ADD(test_read_pids);
        ADD(test_read_pids_garbage);
        ADD(test_write_pid);
        ADD(test_list_children);
        ADD(test_open_file);
        suite_add_tcase(s, tc);

        tc = tcase_create("security");
        tcase_add_unchecked_fixture(tc, basedir_setup, basedir_teardown);
        tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
        ADD(test_symlink_dir);
        ADD(test_symlink_file);
        ADD(test_invalid_paths);
        suite_add_tcase(s, tc);
#undef ADD

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(fileio_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
