/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* libFuzzer harness: what a client can send, end to end short of the socket.
 * Each input is a byte stream (format in tests/fuzz/fuzz.h) cut into pieces
 * and fed to a FrameReader (from memory, or through a pipe and
 * frame_reader_fill()); every frame it returns goes where the server sends
 * it (dispatch_request(), or a status response), against a Manager built by
 * hand on one of three host layouts (the hybrid, v2 and v1 probe fixtures)
 * whose cgroup engine has its root in a temporary directory: a fake cgroup
 * tree of plain directories and files.
 *
 * Oracles besides the sanitizers (ASan, UBSan, and LeakSanitizer per input):
 * the frames a chunked stream yields are those of the whole stream parsed at
 * once; every response decodes, with a status code in range, the one the
 * envelope calls for, and a payload of the method's response type; the
 * daemon creates and removes directories only below a hierarchy's mount,
 * never removes a mount or a file of the tree, and never signals a process
 * group or pid 1.
 *
 * Safety: the fuzzer must not touch the host's cgroups or processes.
 *  - The engine's root dirfd is the temporary tree (the probe's paths are
 *    rewritten before the engine opens them, so it never opens
 *    /sys/fs/cgroup), and fileio resolves every path beneath it without
 *    following symlinks. "Attaching" a pid writes it into a plain file there.
 *  - The daemon code is linked with -Wl,--wrap=kill: while an input runs,
 *    __wrap_kill() below never sends a signal (sig 0, an existence check,
 *    excepted): it emulates the death of the pid inside the fake tree only
 *    (removes it and its threads from the tree's cgroup.procs, tasks and
 *    cgroup.threads files). kill() in cgroup_destroy()'s kill_listed() is
 *    the daemon's only way to signal (no pidfd_send_signal, tgkill or
 *    ptrace), so a pid that the fuzzer makes up, whatever process it names,
 *    is at most read in /proc, pinned with a pidfd and written into a file
 *    of the fake tree. Outside an input (libFuzzer's own calls) kill() is
 *    the real one. Without --wrap=kill the program does not link (no
 *    __real_kill), and LLVMFuzzerInitialize() checks that kill, mkdirat,
 *    unlinkat, nanosleep and write are the wrappers.
 *  - While an input runs, write(), mkdirat() and unlinkat() of a file
 *    outside the fuzzer's temporary directory (or through "..") abort the
 *    run before they reach the kernel: a path that escaped the fake tree is
 *    a failure, never a change to the host (fds 0-2, pipes and sockets
 *    excepted).
 *  - The fake tree behaves enough like cgroupfs for the engine to work in
 *    it: -Wl,--wrap=mkdirat fills each new directory with the control files
 *    of its hierarchy (v1: cgroup.procs and tasks are one file, so a pid
 *    written to one is listed in the other), --wrap=unlinkat removes them
 *    with the directory (EBUSY while it has subdirectories), and
 *    --wrap=nanosleep makes the engine's waits virtual. Differences that
 *    remain: written values are kept as written; a v2 cgroup.events never
 *    says populated; rmdir does not refuse a cgroup that lists pids.
 *
 * Each input starts from a fresh tree and no sandboxes (reset after any
 * input that changed something), so that a crash reproduces from its input
 * alone. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/sandbox.h"
#include "proto/frame.h"
#include "sandboxcg/v1/sandboxcg.pb-c.h"
#include "tests/fuzz/fuzz.h"
#include "ttrpc.pb-c.h"

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must name tests/unit/fixtures"
#endif

/* Requests dispatched per input, at most (the rest are only decoded). */
#define DISPATCH_MAX 32
/* CreateSandbox beyond this is refused with RESOURCE_EXHAUSTED. */
#define FUZZ_MAX_SANDBOXES 8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The wrapped functions (-Wl,--wrap=...) and the real ones. */
int __real_kill(pid_t pid, int sig);
int __real_mkdirat(int dfd, const char *name, mode_t mode);
int __real_unlinkat(int dfd, const char *name, int flags);
int __real_nanosleep(const struct timespec *req, struct timespec *rem);
ssize_t __real_write(int fd, const void *buf, size_t n);
int __wrap_kill(pid_t pid, int sig);
int __wrap_mkdirat(int dfd, const char *name, mode_t mode);
int __wrap_unlinkat(int dfd, const char *name, int flags);
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem);
ssize_t __wrap_write(int fd, const void *buf, size_t n);

typedef struct World {
        const char *fixture;
        char root[PATH_MAX];    /* the fake cgroup root */
        char state[PATH_MAX];   /* the state directory */
        Manager *m;
        bool dirty;             /* the tree or the records changed: reset before the next input */
} World;

static World worlds[] = {
        { .fixture = "hybrid" },
        { .fixture = "v2" },
        { .fixture = "v1" },
};

static char basedir[PATH_MAX];
static World *current;          /* whose tree the wrappers emulate, while an input runs */
static bool in_target;
static int report_fd = STDERR_FILENO;
static pid_t vmm_pid, vcpu_tid[2];
static int pipe_fd[2] = { -EBADF, -EBADF };
static bool check_utf8, verbose;

/* ---- reporting ----------------------------------------------------------- */

/* To the stderr libFuzzer had at start: -close_fd_mask=2 sends the daemon's
 * log lines to /dev/null, not these. */
static _printf_(3, 4) _Noreturn void fail_at(const char *file, int line, const char *format, ...)
{
        char buf[2048];
        va_list ap;
        int n;

        n = snprintf(buf, sizeof buf, "fuzz-dispatch: %s:%d: ", file, line);
        va_start(ap, format);
        n += vsnprintf(buf + n, sizeof buf - (size_t) n, format, ap);
        va_end(ap);
        if (n > (int) sizeof buf - 2)
                n = (int) sizeof buf - 2;
        buf[n++] = '\n';
        (void) __real_write(report_fd, buf, (size_t) n);
        abort();
}

#define CHECK(cond, ...)                                        \
        do {                                                    \
                if (!(cond))                                    \
                        fail_at(__FILE__, __LINE__, __VA_ARGS__); \
        } while (0)

static void die(const char *what, int r)
{
        fail_at(__FILE__, __LINE__, "setup: %s: %s", what, strerror(abs(r)));
}

/* ---- the fake cgroup tree ------------------------------------------------ */

static void write_file_at(int dfd, const char *name, const char *value)
{
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                die(name, errno);
        size_t n = strlen(value);
        if (n > 0 && __real_write(fd, value, n) != (ssize_t) n)
                die(name, errno ?: EIO);
        safe_close(fd);
}

static void link_file_at(int dfd, const char *from, const char *to)
{
        if (linkat(dfd, from, dfd, to, 0) < 0)
                die(to, errno);
}

static bool holds(const Hierarchy *h, Controller c)
{
        return h->controllers & (1u << c);
}

/* The control files of a cgroup of hierarchy h (root: its mount). */
static void populate(const World *w, int dfd, const Hierarchy *h, bool root)
{
        const HostProbe *host = &w->m->host;
        char name[128];

        if (h->version == 1) {
                write_file_at(dfd, "cgroup.procs", "");
                link_file_at(dfd, "cgroup.procs", "tasks");
                write_file_at(dfd, "notify_on_release", "0");
                write_file_at(dfd, "cgroup.clone_children", "0");
                if (holds(h, CONTROLLER_CPU)) {
                        write_file_at(dfd, "cpu.cfs_period_us", "100000");
                        write_file_at(dfd, "cpu.cfs_quota_us", "-1");
                        write_file_at(dfd, "cpu.shares", "1024");
                        write_file_at(dfd, "cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n");
                }
                if (holds(h, CONTROLLER_CPUACCT))
                        write_file_at(dfd, "cpuacct.usage", "0");
                if (holds(h, CONTROLLER_CPUSET)) {
                        write_file_at(dfd, "cpuset.cpus", root ? "0-1" : "");
                        write_file_at(dfd, "cpuset.mems", root ? "0" : "");
                        write_file_at(dfd, "cpuset.effective_cpus", "0-1");
                        write_file_at(dfd, "cpuset.effective_mems", "0");
                }
                if (holds(h, CONTROLLER_MEMORY)) {
                        write_file_at(dfd, "memory.limit_in_bytes", "9223372036854771712");
                        write_file_at(dfd, "memory.usage_in_bytes", "0");
                        if (host->features.memory_swap) {
                                write_file_at(dfd, "memory.memsw.limit_in_bytes", "9223372036854771712");
                                write_file_at(dfd, "memory.memsw.usage_in_bytes", "0");
                        }
                }
                if (holds(h, CONTROLLER_HUGETLB))
                        for (char **s = host->hugepage_sizes; s && *s; s++) {
                                (void) snprintf(name, sizeof name, "hugetlb.%s.limit_in_bytes", *s);
                                write_file_at(dfd, name, "9223372036854771712");
                                (void) snprintf(name, sizeof name, "hugetlb.%s.usage_in_bytes", *s);
                                write_file_at(dfd, name, "0");
                        }
                if (holds(h, CONTROLLER_PIDS) && !root) {
                        write_file_at(dfd, "pids.max", "max");
                        write_file_at(dfd, "pids.current", "0");
                }
                if (holds(h, CONTROLLER_FREEZER) && !root)
                        write_file_at(dfd, "freezer.state", "THAWED");
                return;
        }

        {
                char list[256] = "";
                FOREACH_CONTROLLER(c)
                        if (holds(h, c))
                                (void) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                                                list[0] ? " " : "", controller_to_string(c));
                write_file_at(dfd, "cgroup.controllers", list);
        }
        write_file_at(dfd, "cgroup.procs", "");
        write_file_at(dfd, "cgroup.threads", "");
        write_file_at(dfd, "cgroup.subtree_control", "");
        write_file_at(dfd, "cgroup.max.depth", "max");
        write_file_at(dfd, "cgroup.max.descendants", "max");
        write_file_at(dfd, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
        if (holds(h, CONTROLLER_CPUSET)) {
                write_file_at(dfd, "cpuset.cpus.effective", "0-1");
                write_file_at(dfd, "cpuset.mems.effective", "0");
        }
        if (root)
                return;
        write_file_at(dfd, "cgroup.type", "domain");
        write_file_at(dfd, "cgroup.events", "populated 0\nfrozen 0\n");
        if (host->features.cgroup_freeze)
                write_file_at(dfd, "cgroup.freeze", "0");
        if (host->features.cgroup_kill)
                write_file_at(dfd, "cgroup.kill", "");
        if (holds(h, CONTROLLER_CPU)) {
                write_file_at(dfd, "cpu.max", "max 100000");
                write_file_at(dfd, "cpu.weight", "100");
        }
        if (holds(h, CONTROLLER_CPUSET)) {
                write_file_at(dfd, "cpuset.cpus", "");
                write_file_at(dfd, "cpuset.mems", "");
        }
        if (holds(h, CONTROLLER_MEMORY)) {
                write_file_at(dfd, "memory.max", "max");
                write_file_at(dfd, "memory.current", "0");
                if (host->features.memory_swap)
                        write_file_at(dfd, "memory.swap.max", "max");
        }
        if (holds(h, CONTROLLER_HUGETLB))
                for (char **s = host->hugepage_sizes; s && *s; s++) {
                        (void) snprintf(name, sizeof name, "hugetlb.%s.max", *s);
                        write_file_at(dfd, name, "max");
                        (void) snprintf(name, sizeof name, "hugetlb.%s.current", *s);
                        write_file_at(dfd, name, "0");
                }
        if (holds(h, CONTROLLER_PIDS)) {
                write_file_at(dfd, "pids.max", "max");
                write_file_at(dfd, "pids.current", "0");
        }
}

/* Everything in the directory dfd, not the directory itself. */
static void remove_contents(int dfd)
{
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                die("open for removal", errno);
        DIR *d = fdopendir(fd);
        if (!d)
                die("fdopendir", errno);
        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (de->d_type == DT_DIR) {
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                die(de->d_name, errno);
                        remove_contents(sub);
                        safe_close(sub);
                        if (__real_unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0)
                                die(de->d_name, errno);
                } else if (__real_unlinkat(dirfd(d), de->d_name, 0) < 0)
                        die(de->d_name, errno);
        }
        closedir(d);
}

/* The directory of a mount point below the cgroup root ("" for the root). */
static const char *mount_rel(const World *w, const char *mount_point)
{
        size_t n = strlen(w->root);

        CHECK(strncmp(mount_point, w->root, n) == 0, "mount %s outside %s", mount_point, w->root);
        mount_point += n;
        while (*mount_point == '/')
                mount_point++;
        return mount_point;
}

/* The hierarchy mounts, empty (before the engine exists). */
static void tree_make_mounts(World *w)
{
        const HostProbe *host = &w->m->host;
        int root = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (root < 0)
                die(w->root, errno);
        if (host->unified_mount && *mount_rel(w, host->unified_mount))
                if (__real_mkdirat(root, mount_rel(w, host->unified_mount), 0755) < 0 && errno != EEXIST)
                        die(host->unified_mount, errno);
        FOREACH_CONTROLLER(c) {
                const ControllerMount *cm = &host->controllers[c];
                if (cm->version == 0 || !cm->mount_point || !*mount_rel(w, cm->mount_point))
                        continue;
                if (__real_mkdirat(root, mount_rel(w, cm->mount_point), 0755) < 0 && errno != EEXIST)
                        die(cm->mount_point, errno);
        }
        safe_close(root);
}

/* The control files of each mount, once the engine says which holds what. */
static void tree_populate_mounts(World *w)
{
        const CgroupEngine *eng = &w->m->engine;
        int root = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (root < 0)
                die(w->root, errno);
        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                const Hierarchy *h = &eng->hierarchies[i];
                int fd = *h->mount_dir ? openat(root, h->mount_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                       : fcntl(root, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        die(h->mount_dir, errno);
                populate(w, fd, h, true);
                safe_close(fd);
        }
        safe_close(root);
}

static void tree_reset(World *w)
{
        int fd = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                die(w->root, errno);
        remove_contents(fd);
        safe_close(fd);
        tree_make_mounts(w);
        tree_populate_mounts(w);

        fd = open(w->state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                die(w->state, errno);
        remove_contents(fd);
        safe_close(fd);
}

/* Whether dfd/name (name may be NULL: dfd itself) lies in the fuzzer's
 * temporary directory. What the daemon code writes, creates or removes while
 * an input runs must: checked before the call reaches the kernel, so that a
 * path that escaped the fake tree aborts the run instead of touching the
 * host. */
static bool has_dotdot(const char *p)
{
        for (const char *c = p; (c = strstr(c, "..")); c += 2)
                if ((c == p || c[-1] == '/') && (c[2] == '/' || c[2] == '\0'))
                        return true;
        return false;
}

static bool beneath_basedir(int dfd, const char *name)
{
        char link[64], path[PATH_MAX];
        size_t n = strlen(basedir);
        ssize_t k;

        if (name && name[0] == '/')
                (void) snprintf(path, sizeof path, "%s", name);
        else {
                if (dfd == AT_FDCWD)
                        return false; /* the daemon code works relative to directory fds only */
                (void) snprintf(link, sizeof link, "/proc/self/fd/%d", dfd);
                k = readlink(link, path, sizeof path - 1);
                if (k < 0)
                        return false;
                path[k] = '\0';
        }
        if (has_dotdot(path) || (name && has_dotdot(name)))
                return false;
        return strncmp(path, basedir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* dfd/name relative to the current world's fake root, or false when it is
 * elsewhere. */
static bool fake_rel(int dfd, const char *name, char *rel, size_t size)
{
        char link[64], path[PATH_MAX];
        size_t n;
        ssize_t k;

        if (!current || !name || name[0] == '/')
                return false;
        (void) snprintf(link, sizeof link, "/proc/self/fd/%d", dfd);
        k = readlink(link, path, sizeof path - 1);
        if (k < 0)
                return false;
        path[k] = '\0';
        n = strlen(current->root);
        if (strncmp(path, current->root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
                return false;
        (void) snprintf(rel, size, "%s%s%s", path + n + (path[n] == '/'), path[n] == '/' ? "/" : "", name);
        return true;
}

/* The hierarchy whose mount rel lies strictly below, or NULL. */
static const Hierarchy *hierarchy_below(const World *w, const char *rel)
{
        const CgroupEngine *eng = &w->m->engine;

        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                const Hierarchy *h = &eng->hierarchies[i];
                size_t n = strlen(h->mount_dir);

                if (n == 0 && *rel)
                        return h;
                if (n > 0 && strncmp(rel, h->mount_dir, n) == 0 && rel[n] == '/' && rel[n + 1])
                        return h;
        }
        return NULL;
}

int __wrap_mkdirat(int dfd, const char *name, mode_t mode)
{
        char rel[PATH_MAX];
        const Hierarchy *h;
        int r, fd;

        CHECK(!in_target || beneath_basedir(dfd, name), "mkdirat(%d, %s): outside the fuzzer's directory", dfd,
              name);
        r = __real_mkdirat(dfd, name, mode);
        if (r < 0 || !in_target || !fake_rel(dfd, name, rel, sizeof rel))
                return r;
        current->dirty = true;
        h = hierarchy_below(current, rel);
        CHECK(h, "mkdir %s: not below the mount of any hierarchy", rel);
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                die(rel, errno);
        populate(current, fd, h, false);
        safe_close(fd);
        return 0;
}

int __wrap_unlinkat(int dfd, const char *name, int flags)
{
        char rel[PATH_MAX];
        bool busy = false;
        DIR *d;
        int fd;

        CHECK(!in_target || beneath_basedir(dfd, name), "unlinkat(%d, %s): outside the fuzzer's directory", dfd,
              name);
        if (!in_target || !fake_rel(dfd, name, rel, sizeof rel))
                return __real_unlinkat(dfd, name, flags);
        current->dirty = true;
        CHECK(flags & AT_REMOVEDIR, "unlink %s: the daemon removes only directories from cgroupfs", rel);
        CHECK(hierarchy_below(current, rel), "rmdir %s: a hierarchy's mount or above", rel);

        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return __real_unlinkat(dfd, name, flags); /* its errno: ENOENT, ENOTDIR, ... */
        d = fdopendir(fd);
        if (!d)
                die("fdopendir", errno);
        /* A cgroup with child cgroups cannot go; its control files go with it. */
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        busy = true;
        if (!busy) {
                rewinddir(d);
                for (struct dirent *de; (de = readdir(d));)
                        if (de->d_type != DT_DIR && __real_unlinkat(dirfd(d), de->d_name, 0) < 0)
                                die(de->d_name, errno);
        }
        closedir(d);
        if (busy) {
                errno = EBUSY;
                return -1;
        }
        return __real_unlinkat(dfd, name, flags);
}

static bool is_thread_of(pid_t pid, long tid)
{
        char path[64];

        (void) snprintf(path, sizeof path, "/proc/%d/task/%ld", (int) pid, tid);
        return access(path, F_OK) >= 0;
}

/* Drop pid and its threads from every pid list below dfd. */
static void reap_in(int dfd, pid_t pid)
{
        static const char *const lists[] = { "cgroup.procs", "tasks", "cgroup.threads" };
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;

        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return;
        }
        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (de->d_type == DT_DIR) {
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0) {
                                reap_in(sub, pid);
                                safe_close(sub);
                        }
                        continue;
                }
                for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                        char buf[4096], out[4096];
                        size_t k = 0;
                        ssize_t n;
                        int f;

                        if (!streq(de->d_name, lists[i]))
                                continue;
                        f = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                        if (f < 0)
                                continue;
                        n = read(f, buf, sizeof buf - 1);
                        safe_close(f);
                        if (n <= 0)
                                continue;
                        buf[n] = '\0';
                        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
                                char *end;
                                long v = strtol(line, &end, 10);
                                if (*end == '\0' && (v == pid || is_thread_of(pid, v)))
                                        continue;
                                k += (size_t) snprintf(out + k, sizeof out - k, "%s\n", line);
                                if (k >= sizeof out)
                                        k = sizeof out - 1;
                        }
                        out[k] = '\0';
                        write_file_at(dirfd(d), de->d_name, out);
                }
        }
        closedir(d);
}

int __wrap_kill(pid_t pid, int sig)
{
        int fd;

        if (!in_target || sig == 0)
                return __real_kill(pid, sig);
        CHECK(pid > 1, "kill(%d, %d): the daemon signals only single processes, never pid 1", (int) pid, sig);
        /* Never a signal: the process "dies" in the fake tree only. */
        current->dirty = true;
        fd = open(current->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                reap_in(fd, pid);
                safe_close(fd);
        }
        return 0;
}

int __wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
        if (!in_target)
                return __real_nanosleep(req, rem);
        return 0; /* the engine counts its waits itself: time passes at once */
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
        if (in_target && current) {
                char link[64], path[PATH_MAX];
                ssize_t k;

                /* Log lines (fds 0-2), pipes and sockets, or a file of the
                 * fuzzer's directory: nothing else, /sys and /proc least. */
                if (fd > STDERR_FILENO) {
                        (void) snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
                        k = readlink(link, path, sizeof path - 1);
                        path[MAX(k, (ssize_t) 0)] = '\0';
                        CHECK(k > 0 && (path[0] != '/' || beneath_basedir(fd, NULL)),
                              "write to fd %d (%s): outside the fuzzer's directory", fd, path);
                }
                current->dirty = true;
        }
        return __real_write(fd, buf, n);
}

/* ---- setup ---------------------------------------------------------------- */

static char *replace_prefix(char *s, const char *old, const char *new)
{
        size_t n = strlen(old);
        char *t;

        if (!s || strncmp(s, old, n) != 0 || (s[n] != '/' && s[n] != '\0'))
                return s;
        if (asprintf(&t, "%s%s", new, s + n) < 0)
                die("asprintf", ENOMEM);
        free(s);
        return t;
}

static void world_setup(World *w)
{
        Config config;
        Error e = {};
        int r;

        (void) snprintf(w->root, sizeof w->root, "%s/%s/cgroup", basedir, w->fixture);
        (void) snprintf(w->state, sizeof w->state, "%s/%s/state", basedir, w->fixture);
        {
                char dir[PATH_MAX];
                (void) snprintf(dir, sizeof dir, "%s/%s", basedir, w->fixture);
                if (mkdir(dir, 0700) < 0 || mkdir(w->root, 0755) < 0 || mkdir(w->state, 0700) < 0)
                        die(dir, errno);
        }

        r = config_init(&config);
        if (r < 0)
                die("config_init", r);
        config.max_sandboxes = FUZZ_MAX_SANDBOXES;
        r = manager_new(&config, &w->m);
        if (r < 0)
                die("manager_new", r);

        {
                char prefix[PATH_MAX];
                (void) snprintf(prefix, sizeof prefix, "%s/%s", FIXTURE_DIR, w->fixture);
                e = (Error){};
                r = host_probe(prefix, "/sys/fs/cgroup", &w->m->host, &e);
                if (r < 0)
                        fail_at(__FILE__, __LINE__, "setup: probe of %s: %s", prefix, e.message);
        }
        /* The host as the fixture describes it, moved into the fake root:
         * the engine never sees /sys/fs/cgroup. */
        {
                HostProbe *h = &w->m->host;
                h->unified_mount = replace_prefix(h->unified_mount, "/sys/fs/cgroup", w->root);
                FOREACH_CONTROLLER(c)
                        h->controllers[c].mount_point =
                                replace_prefix(h->controllers[c].mount_point, "/sys/fs/cgroup", w->root);
                h->cgroup_root = replace_prefix(h->cgroup_root, "/sys/fs/cgroup", w->root);
                CHECK(streq(h->cgroup_root, w->root), "probe: cgroup root %s", h->cgroup_root);
        }

        tree_make_mounts(w);
        r = cgroup_engine_init(&w->m->engine, &w->m->host, &e);
        if (r < 0)
                fail_at(__FILE__, __LINE__, "setup: engine in %s: %s", w->root, e.message);
        w->m->engine.owner = w->state;
        w->m->engine_ready = true;
        tree_populate_mounts(w);

        r = store_open(&w->m->store, w->state, &e);
        if (r < 0)
                fail_at(__FILE__, __LINE__, "setup: store in %s: %s", w->state, e.message);
}

static void world_reset(World *w)
{
        Manager *m = w->m;

        for (size_t i = 0; i < m->n_sandboxes; i++)
                sandbox_free(m->sandboxes[i]);
        m->n_sandboxes = 0;
        tree_reset(w);
        w->dirty = false;
}

static void remove_basedir(void)
{
        int fd;

        if (!basedir[0])
                return;
        fd = open(basedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                remove_contents(fd);
                safe_close(fd);
        }
        (void) rmdir(basedir);
}

/* The stand-in VMM: a child process with two threads named like Cloud
 * Hypervisor's vCPUs, blocked until the fuzzer exits. */
static int vcpu_report_fd = -EBADF;

static void *vcpu_main(void *arg)
{
        char name[16];
        pid_t tid = (pid_t) syscall(SYS_gettid);

        (void) snprintf(name, sizeof name, "vcpu%d", (int) (intptr_t) arg);
        (void) prctl(PR_SET_NAME, name);
        (void) __real_write(vcpu_report_fd, &tid, sizeof tid);
        for (;;)
                pause();
        return NULL;
}

static void spawn_vmm(void)
{
        pid_t parent = getpid();
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                die("pipe2", errno);
        vmm_pid = fork();
        if (vmm_pid < 0)
                die("fork", errno);
        if (vmm_pid == 0) {
                pthread_t t;

                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(0);
                (void) prctl(PR_SET_NAME, "fuzz-vmm");
                vcpu_report_fd = p[1];
                for (intptr_t i = 0; i < 2; i++)
                        if (pthread_create(&t, NULL, vcpu_main, (void *) i) != 0)
                                _exit(1);
                for (;;)
                        pause();
        }
        safe_close(p[1]);
        for (int i = 0; i < 2; i++) {
                pid_t tid;
                if (read(p[0], &tid, sizeof tid) != (ssize_t) sizeof tid)
                        die("stand-in VMM", errno ?: EIO);
                vcpu_tid[i] = tid;
        }
        safe_close(p[0]);
        /* vcpu0 first. */
        {
                char path[64], comm[32] = "";
                (void) snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int) vmm_pid, (int) vcpu_tid[0]);
                FILE *f = fopen(path, "re");
                if (f) {
                        if (!fgets(comm, sizeof comm, f))
                                comm[0] = '\0';
                        fclose(f);
                }
                if (strncmp(comm, "vcpu1", 5) == 0)
                        SWAP(vcpu_tid[0], vcpu_tid[1]);
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *tmp = getenv("TMPDIR") ?: "/tmp";

        /* Before libFuzzer's -close_fd_mask=2 sends fd 2 to /dev/null. */
        report_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        if (report_fd < 0)
                report_fd = STDERR_FILENO;
        check_utf8 = getenv("FUZZ_CHECK_UTF8") != NULL;
        verbose = getenv("FUZZ_VERBOSE") != NULL;

        /* Every line formatted (the formatting is fuzzed too), none to the
         * journal. */
        unsetenv("JOURNAL_STREAM");
        log_set_max_level(LOG_DEBUG);

        (void) snprintf(basedir, sizeof basedir, "%s/sandboxcg-fuzz-XXXXXX", tmp);
        if (!mkdtemp(basedir))
                die(basedir, errno);
        {
                /* Compared with readlink() of fds: no symlinks in it. */
                char *real = realpath(basedir, NULL);
                if (!real)
                        die(basedir, errno);
                (void) snprintf(basedir, sizeof basedir, "%s", real);
                free(real);
        }
        atexit(remove_basedir);

        for (size_t i = 0; i < ELEMENTSOF(worlds); i++)
                world_setup(&worlds[i]);

        if (pipe2(pipe_fd, O_CLOEXEC | O_NONBLOCK) < 0)
                die("pipe2", errno);
        spawn_vmm();

        /* The daemon's code is linked into this program with the harness,
         * with the same -Wl,--wrap options: if they took effect here, they
         * did there, and its kill() cannot signal a real process. */
        {
                /* volatile: else the compiler folds the comparisons to false
                 * (distinct functions have distinct addresses, as far as C
                 * knows). */
                void *volatile linked[] = { (void *) kill, (void *) mkdirat, (void *) unlinkat,
                                            (void *) nanosleep, (void *) write };
                void *volatile wrapper[] = { (void *) __wrap_kill, (void *) __wrap_mkdirat,
                                             (void *) __wrap_unlinkat, (void *) __wrap_nanosleep,
                                             (void *) __wrap_write };
                for (size_t i = 0; i < ELEMENTSOF(linked); i++)
                        CHECK(linked[i] == wrapper[i],
                              "setup: link with -Wl,--wrap=kill,--wrap=mkdirat,--wrap=unlinkat,--wrap=nanosleep,"
                              "--wrap=write (function %zu is not wrapped)",
                              i);
        }
        return 0;
}

/* ---- the stream ----------------------------------------------------------- */

typedef struct RefFrame {
        TtrpcHeader h;
        size_t offset;          /* of the payload in the stream */
        bool oversized;
} RefFrame;

/* The frames of the whole stream, read at once. */
static size_t ref_parse(const uint8_t *s, size_t n, uint32_t max_length, RefFrame *ret, size_t max)
{
        size_t o = 0, k = 0;

        while (k < max && n - o >= TTRPC_HEADER_SIZE) {
                RefFrame *f = &ret[k];

                ttrpc_header_decode(s + o, &f->h);
                o += TTRPC_HEADER_SIZE;
                f->offset = o;
                f->oversized = f->h.length > max_length;
                if (f->oversized) {
                        k++;
                        if (n - o < f->h.length)
                                break;
                        o += f->h.length;
                        continue;
                }
                if (n - o < f->h.length)
                        break;
                o += f->h.length;
                k++;
        }
        return k;
}

/* Whether a string field of a message of type desc (or of a message within)
 * holds a NUL byte on the wire: protobuf-c cuts such a string short, the
 * daemon refuses it with INVALID_ARGUMENT. Its own walk, not the daemon's
 * pb_find_nul_string(). Only called on data protobuf-c has unpacked. */
static uint64_t wire_varint(const uint8_t **p, const uint8_t *end, bool *ok)
{
        uint64_t v = 0;

        for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
                uint8_t b = *(*p)++;
                v |= (uint64_t) (b & 0x7f) << shift;
                if (!(b & 0x80))
                        return v;
        }
        *ok = false;
        return 0;
}

static bool wire_has_nul_string(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t size, unsigned depth)
{
        const uint8_t *end = p + size;
        bool ok = true;

        while (ok && p < end) {
                uint64_t tag = wire_varint(&p, end, &ok), n;
                const ProtobufCFieldDescriptor *f;

                if (!ok)
                        break;
                switch (tag & 7) {
                case 0:
                        (void) wire_varint(&p, end, &ok);
                        continue;
                case 1:
                        p += MIN((size_t) (end - p), (size_t) 8);
                        continue;
                case 5:
                        p += MIN((size_t) (end - p), (size_t) 4);
                        continue;
                case 2:
                        break;
                default:
                        return false;
                }
                n = wire_varint(&p, end, &ok);
                if (!ok || n > (uint64_t) (end - p))
                        break;
                f = (tag >> 3) <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned) (tag >> 3))
                                             : NULL;
                if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, (size_t) n))
                        return true;
                if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && depth < 32 &&
                    wire_has_nul_string(f->descriptor, p, (size_t) n, depth + 1))
                        return true;
                p += n;
        }
        return false;
}

static bool utf8_valid(const char *s)
{
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                unsigned n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : 4;
                if (n == 4 || (n == 1 && *p < 0xc2))
                        return false;
                p++;
                for (unsigned i = 0; i < n; i++, p++)
                        if ((*p & 0xc0) != 0x80)
                                return false;
        }
        return true;
}

/* What the envelope calls for, from the request alone. */
static void check_response(const uint8_t *out, size_t out_size, const uint8_t *req_buf, size_t req_size,
                           GrpcCode expect)
{
        Ttrpc__Response *resp = ttrpc__response__unpack(NULL, out_size, out);
        Ttrpc__Request *req = NULL;
        const ProtobufCMethodDescriptor *md = NULL;

        CHECK(resp, "a response of %zu bytes does not decode as ttrpc.Response", out_size);
        if (resp->status) {
                CHECK(resp->status->code > 0 && resp->status->code < _GRPC_CODE_MAX, "status code %d",
                      resp->status->code);
                CHECK(resp->payload.len == 0, "an error status with a payload");
                CHECK(!check_utf8 || utf8_valid(resp->status->message), "status message not UTF-8: %s",
                      resp->status->message);
        }
        if (expect != GRPC_OK) {
                CHECK(resp->status && resp->status->code == (int32_t) expect, "status %d, expected %d",
                      resp->status ? resp->status->code : 0, expect);
                goto done;
        }

        req = ttrpc__request__unpack(NULL, req_size, req_buf);
        if (!req) {
                CHECK(resp->status && resp->status->code == GRPC_INVALID_ARGUMENT,
                      "an undecodable request answered with %d %s", resp->status ? resp->status->code : 0,
                      resp->status ? resp->status->message : "");
                goto done;
        }
        if (wire_has_nul_string(&ttrpc__request__descriptor, req_buf, req_size, 0)) {
                CHECK(resp->status && resp->status->code == GRPC_INVALID_ARGUMENT,
                      "a request with a NUL byte in a string answered with %d %s",
                      resp->status ? resp->status->code : 0, resp->status ? resp->status->message : "");
                goto done;
        }
        if (streq(req->service, SANDBOXCG_SERVICE))
                md = protobuf_c_service_descriptor_get_method_by_name(&sandboxcg__v1__sandbox_cgroup__descriptor,
                                                                      req->method);
        if (!md) {
                CHECK(resp->status && resp->status->code == GRPC_UNIMPLEMENTED,
                      "unknown %.100s/%.100s answered with %d %s", req->service, req->method,
                      resp->status ? resp->status->code : 0, resp->status ? resp->status->message : "");
                goto done;
        }
        if (verbose)
                dprintf(report_fd, "fuzz-dispatch: %s: %s%s%s\n", md->name,
                        resp->status ? grpc_code_to_string(resp->status->code) : "OK", resp->status ? ": " : "",
                        resp->status ? resp->status->message : "");
        if (!resp->status) {
                ProtobufCMessage *msg = protobuf_c_message_unpack(md->output, NULL, resp->payload.len,
                                                                  resp->payload.data);
                CHECK(msg, "%s: the response payload does not decode as %s", md->name, md->output->name);
                protobuf_c_message_free_unpacked(msg, NULL);
        }
done:
        if (req)
                ttrpc__request__free_unpacked(req, NULL);
        ttrpc__response__free_unpacked(resp, NULL);
}

typedef struct Run {
        World *w;
        const Peer *peer;
        const uint8_t *stream;
        const RefFrame *ref;
        size_t n_ref, n_seen, n_dispatched;
} Run;

static void on_frame(Run *run, int r, const TtrpcHeader *h, const uint8_t *payload)
{
        const RefFrame *f;
        uint8_t *out = NULL;
        size_t out_size = 0;
        GrpcCode expect = GRPC_OK;
        int k;

        CHECK(run->n_seen < run->n_ref, "frame %zu: the whole stream has only %zu", run->n_seen, run->n_ref);
        f = &run->ref[run->n_seen++];
        CHECK(h->length == f->h.length && h->stream_id == f->h.stream_id && h->type == f->h.type &&
                      h->flags == f->h.flags,
              "frame %zu: header differs from the whole stream's", run->n_seen - 1);
        CHECK((r == -EMSGSIZE) == f->oversized, "frame %zu: oversized %d, whole stream %d", run->n_seen - 1,
              r == -EMSGSIZE, f->oversized);
        if (r == 1)
                CHECK(h->length == 0 || memcmp(payload, run->stream + f->offset, h->length) == 0,
                      "frame %zu: payload differs from the whole stream's", run->n_seen - 1);

        if (run->n_dispatched >= DISPATCH_MAX)
                return;
        /* As server.c does. */
        if (r == -EMSGSIZE) {
                k = dispatch_status_response(GRPC_RESOURCE_EXHAUSTED, "message length exceeds maximum", &out,
                                             &out_size);
                expect = GRPC_RESOURCE_EXHAUSTED;
        } else if (h->type != TTRPC_TYPE_REQUEST)
                return;
        else if (h->stream_id % 2 != 1) {
                k = dispatch_status_response(GRPC_INVALID_ARGUMENT, "stream id must be odd", &out, &out_size);
                expect = GRPC_INVALID_ARGUMENT;
        } else
                k = dispatch_request(run->w->m, run->peer, payload, h->length, &out, &out_size);
        run->n_dispatched++;
        CHECK(k == 0, "dispatch: %s", strerror(-k));
        check_response(out, out_size, payload, r == 1 ? h->length : 0, expect);
        free(out);
}

static void drain(Run *run, FrameReader *reader)
{
        for (;;) {
                TtrpcHeader h;
                const uint8_t *payload = NULL;
                int r = frame_reader_next(reader, &h, &payload);

                if (r == 0)
                        return;
                CHECK(r == 1 || r == -EMSGSIZE, "frame_reader_next: %d", r);
                on_frame(run, r, &h, payload);
        }
}

static uint32_t xorshift(uint32_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        return *s;
}

static void run_stream(Run *run, const uint8_t *s, size_t n, uint32_t max_length, uint8_t cut, bool fill)
{
        FrameReader reader;
        uint32_t rng = 0x9e3779b9u ^ ((uint32_t) cut * 0x01000193u);
        size_t piece_max = (cut & 0x80) ? 4096 : (size_t) (cut & 0x7f) + 1;

        frame_reader_init(&reader, max_length);
        for (size_t o = 0; o < n;) {
                size_t piece = cut == 0 ? n - o : 1 + xorshift(&rng) % piece_max;

                piece = MIN(piece, n - o);

                if (!fill) {
                        CHECK(frame_reader_feed(&reader, s + o, piece) == 0, "frame_reader_feed");
                        o += piece;
                        drain(run, &reader);
                        continue;
                }
                /* Never more than the pipe holds: it is emptied each round. */
                piece = MIN(piece, (size_t) 16384);
                ssize_t w = __real_write(pipe_fd[1], s + o, piece);
                CHECK(w > 0, "write to the pipe: %s", strerror(errno));
                o += (size_t) w;
                for (;;) {
                        int r = frame_reader_fill(&reader, pipe_fd[0]);
                        if (r == -EAGAIN)
                                break;
                        CHECK(r > 0, "frame_reader_fill: %d", r);
                        drain(run, &reader);
                }
        }
        drain(run, &reader);
        CHECK(run->n_seen == run->n_ref, "%zu frames, the whole stream has %zu", run->n_seen, run->n_ref);
        frame_reader_done(&reader);
}

/* The magic numbers of fuzz.h into the stand-in VMM's ids. */
static void substitute_ids(uint8_t *s, size_t n)
{
        const unsigned magic[] = { FUZZ_MAGIC_VMM, FUZZ_MAGIC_VCPU0, FUZZ_MAGIC_VCPU1 };
        const pid_t real[] = { vmm_pid, vcpu_tid[0], vcpu_tid[1] };

        for (size_t i = 0; i < ELEMENTSOF(magic); i++) {
                unsigned char from[4], to[4];

                fuzz_varint4(magic[i], from);
                fuzz_varint4((unsigned) real[i], to);
                for (size_t o = 0; n >= 4 && o <= n - 4; o++)
                        if (memcmp(s + o, from, 4) == 0) {
                                memcpy(s + o, to, 4);
                                o += 3;
                        }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static RefFrame ref[4096];
        uint8_t flags, cut, *stream;
        size_t n;
        World *w;

        if (size < 2)
                return 0;
        flags = data[0];
        cut = data[1];
        n = size - 2;
        w = &worlds[(flags & FUZZ_LAYOUT_MASK) % ELEMENTSOF(worlds)];

        stream = malloc(MAX(n, (size_t) 1));
        CHECK(stream, "out of memory");
        memcpy(stream, data + 2, n);
        substitute_ids(stream, n);

        const uint32_t max_length = (flags & FUZZ_FLAG_SMALL_FRAMES) ? FUZZ_SMALL_FRAME : TTRPC_MESSAGE_LENGTH_MAX;
        const Peer peer = {
                .pid = getpid(),
                .uid = (flags & FUZZ_FLAG_NOT_ROOT) ? 1000 : 0,
                .gid = (flags & FUZZ_FLAG_NOT_ROOT) ? 1000 : 0,
                .read_only = flags & FUZZ_FLAG_READ_ONLY,
        };
        Run run = {
                .w = w,
                .peer = &peer,
                .stream = stream,
                .ref = ref,
                .n_ref = ref_parse(stream, n, max_length, ref, ELEMENTSOF(ref)),
        };
        /* More frames than ref holds cannot be compared: only read so many. */
        if (run.n_ref == ELEMENTSOF(ref))
                n = ref[run.n_ref - 1].offset + (ref[run.n_ref - 1].oversized ? 0 : ref[run.n_ref - 1].h.length);

        current = w;
        in_target = true;
        run_stream(&run, stream, n, max_length, cut, flags & FUZZ_FLAG_FILL);
        in_target = false;
        if (w->dirty || w->m->n_sandboxes > 0)
                world_reset(w);
        current = NULL;
        free(stream);
        return 0;
}
