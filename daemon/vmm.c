/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/vmm.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif

/* include/linux/sched.h: "I am a kernel thread". Field 9 of /proc/<pid>/stat. */
#define PF_KTHREAD 0x00200000U

/* A stat line is a few hundred bytes; 4 KiB leaves room for any comm. */
#define PROC_STAT_SIZE_MAX 4096
/* TASK_COMM_LEN is 16, but kernel threads may show up to 64 bytes. */
#define COMM_SIZE_MAX 64
/* "/proc/<pid>/task/<tid>/comm" */
#define PROC_PATH_MAX 64

/* Bound on the scans of /proc/<pid>/task that look for two identical passes. */
#define DISCOVER_PASSES_MAX 10

typedef struct ProcStat {
        char comm[COMM_SIZE_MAX + 1];
        pid_t ppid;             /* field 4 */
        unsigned flags;         /* field 9 */
        uint64_t start_time;    /* field 22 */
} ProcStat;

/* s[0..n) as a decimal number without sign or spaces, at most max. */
static bool parse_decimal(const char *s, size_t n, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0;

        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned d;

                if (s[i] < '0' || s[i] > '9')
                        return false;
                d = (unsigned) (s[i] - '0');
                if (v > (max - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        *ret = v;
        return true;
}

/* Reads the small file path (relative to dir_fd) into buf, NUL-terminated.
 * -EFBIG when it does not fit. */
static int read_small_file(int dir_fd, const char *path, char *buf, size_t size, size_t *ret_len)
{
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;

        fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        for (;;) {
                ssize_t k;

                if (n >= size - 1)
                        return -EFBIG;
                k = read(fd, buf + n, size - 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = '\0';
        *ret_len = n;
        return 0;
}

/* "pid (comm) state ppid ...": comm may hold any byte but NUL (spaces, ')'
 * and newlines included), so the fields start after the LAST ')'. From
 * there on, fields are single-space separated and never contain ')'. */
static int proc_stat_parse(const char *buf, size_t len, ProcStat *ret)
{
        const char *lparen, *rparen, *p;
        ProcStat st = {};
        size_t comm_len;

        lparen = memchr(buf, '(', len);
        rparen = memrchr(buf, ')', len);
        if (!lparen || !rparen || rparen < lparen)
                return -EBADMSG;

        comm_len = MIN((size_t) (rparen - lparen - 1), (size_t) COMM_SIZE_MAX);
        memcpy(st.comm, lparen + 1, comm_len);
        st.comm[comm_len] = '\0';

        p = rparen + 1;
        for (unsigned field = 3;; field++) {
                const char *end;
                uint64_t v;

                if (*p != ' ')
                        return -EBADMSG;
                p++;
                end = p + strcspn(p, " \n");
                if (end == p)
                        return -EBADMSG;

                if (field == 4) {
                        if (!parse_decimal(p, (size_t) (end - p), INT_MAX, &v))
                                return -EBADMSG;
                        st.ppid = (pid_t) v;
                } else if (field == 9) {
                        if (!parse_decimal(p, (size_t) (end - p), UINT_MAX, &v))
                                return -EBADMSG;
                        st.flags = (unsigned) v;
                } else if (field == 22) {
                        if (!parse_decimal(p, (size_t) (end - p), UINT64_MAX, &st.start_time))
                                return -EBADMSG;
                        break;
                }
                p = end;
        }

        *ret = st;
        return 0;
}

static int proc_stat_read(pid_t pid, ProcStat *ret, Error *e)
{
        char path[PROC_PATH_MAX], buf[PROC_STAT_SIZE_MAX];
        size_t len;
        int r;

        if (pid <= 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "Invalid PID %d", pid);

        (void) snprintf(path, sizeof path, "/proc/%d/stat", pid);
        r = read_small_file(AT_FDCWD, path, buf, sizeof buf, &len);
        /* ENOENT: no such entry; ESRCH: the task died after the open. */
        if (r == -ENOENT || r == -ESRCH)
                return error_set(e, GRPC_NOT_FOUND, ESRCH, "Process %d does not exist", pid);
        if (r == -EFBIG)
                return error_set(e, GRPC_INTERNAL, EBADMSG, "%s is unexpectedly large", path);
        if (r < 0)
                return error_set(e, grpc_code_from_errno(r), r, "Cannot read %s: %s", path, strerror(-r));

        r = proc_stat_parse(buf, len, ret);
        if (r < 0)
                return error_set(e, GRPC_INTERNAL, r, "Cannot parse %s", path);
        return 0;
}

/* The thread group (process) of tid, from the "Tgid:" line of
 * /proc/<tid>/status (comm is escaped there, so lines are lines). */
static int proc_read_tgid(pid_t tid, pid_t *ret)
{
        char path[PROC_PATH_MAX];
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t allocated = 0;

        (void) snprintf(path, sizeof path, "/proc/%d/status", tid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : negative_errno();

        for (;;) {
                uint64_t v;
                ssize_t n;

                errno = 0;
                n = getline(&line, &allocated, f);
                if (n < 0)
                        return errno == 0 ? -EBADMSG : negative_errno();
                if (strncmp(line, "Tgid:", 5) != 0)
                        continue;

                const char *p = line + 5 + strspn(line + 5, " \t");
                if (!parse_decimal(p, strcspn(p, "\n"), INT_MAX, &v) || v == 0)
                        return -EBADMSG;
                *ret = (pid_t) v;
                return 0;
        }
}

int vmm_read_start_time(pid_t pid, uint64_t *ret, Error *e)
{
        ProcStat st;
        int r;

        r = proc_stat_read(pid, &st, e);
        if (r < 0)
                return r;
        *ret = st.start_time;
        return 0;
}

int vmm_pidfd_alive(int pidfd)
{
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        int r;

        if (pidfd < 0)
                return -EBADF;

        do
                r = poll(&p, 1, 0);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        if (p.revents & POLLNVAL)
                return -EBADF;
        /* POLLIN once the process exited; POLLHUP too once it was reaped
         * (Linux 6.9+). */
        return !(p.revents & (POLLIN | POLLHUP));
}

int vmm_pidfd_read_start_time(int pidfd, pid_t pid, uint64_t *ret, Error *e)
{
        uint64_t start_time;
        int r;

        r = vmm_read_start_time(pid, &start_time, e);
        if (r < 0)
                return r;

        /* The pidfd's process holds on to its number until it is reaped: if
         * it is still alive now, what was just read was its own stat. */
        r = vmm_pidfd_alive(pidfd);
        if (r < 0)
                return error_set(e, GRPC_INTERNAL, r, "Cannot poll the pidfd of process %d: %s", pid,
                                 strerror(-r));
        if (r == 0)
                return error_set(e, GRPC_NOT_FOUND, ESRCH, "Process %d has exited", pid);

        *ret = start_time;
        return 0;
}

int vmm_pidfd_open(pid_t pid, uint64_t expected_start_time, int *ret_fd, Error *e)
{
        _cleanup_close_ int fd = -EBADF;
        uint64_t start_time;
        pid_t tgid;
        int r;

        if (pid <= 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "Invalid PID %d", pid);

        /* pidfds are always close-on-exec. */
        fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0) {
                r = -errno;
                switch (r) {
                case -ESRCH:
                        return error_set(e, GRPC_NOT_FOUND, ESRCH, "Process %d does not exist", pid);
                case -EINVAL: /* not a thread-group leader, before Linux 6.9 */
                case -ENOENT: /* the same, since */
                        if (proc_read_tgid(pid, &tgid) >= 0 && tgid != pid)
                                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                                 "PID %d is a thread of process %d, not a process", pid,
                                                 tgid);
                        return error_set(e, GRPC_NOT_FOUND, ESRCH, "Process %d does not exist", pid);
                case -ENOSYS:
                        return error_set(e, GRPC_UNIMPLEMENTED, ENOSYS,
                                         "Cannot open a pidfd for process %d: pidfd_open() needs Linux 5.3",
                                         pid);
                default:
                        return error_set(e, grpc_code_from_errno(r), r,
                                         "Cannot open a pidfd for process %d: %s", pid, strerror(-r));
                }
        }

        /* Read the start time after the pidfd pinned the process, never before. */
        r = vmm_pidfd_read_start_time(fd, pid, &start_time, e);
        if (r < 0)
                return r;

        if (expected_start_time != 0 && start_time != expected_start_time)
                return error_set(e, GRPC_NOT_FOUND, ESRCH,
                                 "PID %d was reused: the process started at tick %" PRIu64
                                 " after boot, the expected one at tick %" PRIu64,
                                 pid, start_time, expected_start_time);

        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Deeper than any real process tree (pid_max is at most 4M, but a chain of
 * parents that long is not a process tree anyone runs a VMM in). */
#define ANCESTORS_MAX 4096

int vmm_check_descendant(pid_t pid, pid_t ancestor, Error *e)
{
        pid_t p = pid;
        int r;

        if (ancestor <= 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "Invalid PID %d", ancestor);
        for (unsigned depth = 0; depth < ANCESTORS_MAX; depth++) {
                ProcStat st;

                if (p == ancestor)
                        return 0;
                if (p <= 1)
                        break;
                r = proc_stat_read(p, &st, e);
                if (r < 0)
                        return r;
                p = st.ppid;
        }
        return error_set(e, GRPC_PERMISSION_DENIED, EPERM,
                         "PID %d is not a descendant of the caller (PID %d): only root may attach other "
                         "processes (AttachDescendantsOnly=)",
                         pid, ancestor);
}

int vmm_check_attachable(pid_t pid, Error *e)
{
        ProcStat st;
        pid_t tgid;
        int r;

        if (pid <= 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "Invalid PID %d", pid);
        if (pid == 1)
                return error_set(e, GRPC_PERMISSION_DENIED, EPERM,
                                 "PID 1 is the init process and is never attached to a sandbox");
        if (pid == getpid())
                return error_set(e, GRPC_PERMISSION_DENIED, EPERM,
                                 "PID %d is sandboxcgd itself and is never attached to a sandbox", pid);

        r = proc_stat_read(pid, &st, e);
        if (r < 0)
                return r;
        /* Not the parent PID 2 (kthreadd): that only holds in the initial PID
         * namespace; PF_KTHREAD holds everywhere. */
        if (st.flags & PF_KTHREAD)
                return error_set(e, GRPC_PERMISSION_DENIED, EPERM,
                                 "PID %d (%s) is a kernel thread and is never attached to a sandbox", pid,
                                 st.comm);

        r = proc_read_tgid(pid, &tgid);
        if (r == -ESRCH)
                return error_set(e, GRPC_NOT_FOUND, ESRCH, "Process %d does not exist", pid);
        if (r < 0)
                return error_set(e, grpc_code_from_errno(r), r, "Cannot read /proc/%d/status: %s", pid,
                                 strerror(-r));
        if (tgid == getpid())
                return error_set(e, GRPC_PERMISSION_DENIED, EPERM,
                                 "PID %d is a thread of sandboxcgd and is never attached to a sandbox", pid);
        /* cgroup.procs would take it for its whole process. */
        if (tgid != pid)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "PID %d (%s) is a thread of process %d, not a process", pid, st.comm, tgid);

        return 0;
}

int vmm_is_thread_of(pid_t pid, pid_t tid)
{
        char path[PROC_PATH_MAX], name[PROC_PATH_MAX];
        _cleanup_close_ int fd = -EBADF;

        if (pid <= 0 || tid <= 0)
                return -EINVAL;

        /* The lookup of <tid> in /proc/<pid>/task finds only threads of
         * pid's own group, unlike /proc/<tid>. */
        (void) snprintf(path, sizeof path, "/proc/%d/task", pid);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;

        (void) snprintf(name, sizeof name, "%d", tid);
        if (faccessat(fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 1;
}

/* The length of the literal text pattern, with "%%" as one '%'. False for
 * any other '%'. */
static bool literal_length(const char *pattern, size_t *ret)
{
        size_t n = 0;

        for (const char *p = pattern; *p; p++, n++)
                if (*p == '%' && *++p != '%')
                        return false;
        *ret = n;
        return true;
}

/* Does s (exactly) equal the literal text pattern? */
static bool literal_equal(const char *pattern, const char *s)
{
        for (const char *p = pattern;; p++, s++) {
                if (*p == '%')
                        p++; /* "%%": literal_length() vetted it */
                if (*p != *s)
                        return false;
                if (*p == '\0')
                        return true;
        }
}

bool vcpu_pattern_match(const char *pattern, const char *comm, unsigned *ret_index)
{
        const char *p = pattern, *c = comm;
        size_t suffix_len, rest_len, digits;
        uint64_t v;

        if (!pattern || !comm || !*pattern)
                return false;

        /* The literal prefix, up to "%u". */
        for (;;) {
                if (*p == '%') {
                        if (p[1] == 'u')
                                break;
                        if (p[1] != '%')
                                return false;
                        p++;
                }
                if (*p != *c)
                        return false;
                if (*p == '\0') {
                        if (ret_index)
                                *ret_index = 0;
                        return true;
                }
                p++;
                c++;
        }
        p += 2;

        /* The suffix is literal too, so its length fixes where the digits end. */
        if (!literal_length(p, &suffix_len))
                return false;
        rest_len = strlen(c);
        if (rest_len <= suffix_len)
                return false;
        digits = rest_len - suffix_len;
        if (!parse_decimal(c, digits, UINT_MAX, &v))
                return false;
        if (!literal_equal(p, c + digits))
                return false;

        if (ret_index)
                *ret_index = (unsigned) v;
        return true;
}

bool vcpu_pattern_is_valid(const char *pattern)
{
        bool number = false;

        if (!pattern || !*pattern)
                return false;

        for (const char *p = pattern; *p; p++) {
                if (*p != '%')
                        continue;
                p++;
                if (*p == 'u') {
                        if (number)
                                return false;
                        number = true;
                } else if (*p != '%')
                        return false;
        }
        return true;
}

static int vcpu_thread_compare(const void *a, const void *b)
{
        const VcpuThread *x = a, *y = b;

        if (x->index != y->index)
                return x->index < y->index ? -1 : 1;
        return (x->tid > y->tid) - (x->tid < y->tid);
}

static bool vcpu_threads_equal(const VcpuThread *a, size_t n_a, const VcpuThread *b, size_t n_b)
{
        if (n_a != n_b)
                return false;
        for (size_t i = 0; i < n_a; i++)
                if (a[i].tid != b[i].tid || a[i].index != b[i].index)
                        return false;
        return true;
}

/* One pass over /proc/<pid>/task (d), the matches sorted by index. */
static int discover_pass(DIR *d, pid_t pid, const char *const *patterns, VcpuThread **ret, size_t *ret_n,
                         Error *e)
{
        _cleanup_free_ VcpuThread *list = NULL;
        size_t n = 0, allocated = 0, seen = 0;

        rewinddir(d);
        for (;;) {
                char path[PROC_PATH_MAX], comm[COMM_SIZE_MAX + 2];
                const char *const *pattern;
                struct dirent *de;
                unsigned index;
                size_t len;
                uint64_t tid;
                int r;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno == 0)
                                break;
                        if (errno == ENOENT || errno == ESRCH)
                                return error_set(e, GRPC_NOT_FOUND, ESRCH, "Process %d has exited", pid);
                        return error_set(e, grpc_code_from_errno(errno), errno,
                                         "Cannot read /proc/%d/task: %s", pid, strerror(errno));
                }
                if (!parse_decimal(de->d_name, strlen(de->d_name), INT_MAX, &tid))
                        continue; /* "." and ".." */
                seen++;

                (void) snprintf(path, sizeof path, "%d/comm", (int) tid);
                r = read_small_file(dirfd(d), path, comm, sizeof comm, &len);
                if (r == -ENOENT || r == -ESRCH)
                        continue; /* the thread exited meanwhile */
                if (r == -EFBIG)
                        return error_set(e, GRPC_INTERNAL, EBADMSG, "/proc/%d/task/%s is unexpectedly large",
                                         pid, path);
                if (r < 0)
                        return error_set(e, grpc_code_from_errno(r), r, "Cannot read /proc/%d/task/%s: %s",
                                         pid, path, strerror(-r));
                if (len > 0 && comm[len - 1] == '\n')
                        comm[--len] = '\0';

                for (pattern = patterns; *pattern; pattern++)
                        if (vcpu_pattern_match(*pattern, comm, &index))
                                break;
                if (!*pattern)
                        continue;

                if (n == allocated) {
                        size_t m = MAX(allocated * 2, (size_t) 8);
                        VcpuThread *l = reallocarray(list, m, sizeof *list);

                        if (!l)
                                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
                        list = l;
                        allocated = m;
                }
                list[n++] = (VcpuThread){ .tid = (pid_t) tid, .index = index };
        }

        /* Every process, even a zombie, lists its leader. readdir() reports
         * the end of the list where the kernel says ENOENT (process gone). */
        if (seen == 0)
                return error_set(e, GRPC_NOT_FOUND, ESRCH, "Process %d has exited", pid);

        if (n > 0)
                qsort(list, n, sizeof *list, vcpu_thread_compare);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

int vmm_discover_vcpus(pid_t pid, const char *const *patterns, VcpuThread **ret, size_t *ret_n, Error *e)
{
        static const char *const patterns_default[] = VCPU_PATTERNS_DEFAULT;
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ VcpuThread *list = NULL;
        _cleanup_close_ int fd = -EBADF;
        char path[PROC_PATH_MAX];
        size_t n = 0;
        int r;

        if (pid <= 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "Invalid PID %d", pid);
        if (!patterns)
                patterns = patterns_default;
        for (const char *const *p = patterns; *p; p++)
                if (!vcpu_pattern_is_valid(*p))
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         "Invalid vCPU thread name pattern \"%s\"", *p);

        /* Opened once: the directory stays the one of this process, whoever
         * gets its number later. */
        (void) snprintf(path, sizeof path, "/proc/%d/task", pid);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return error_set(e, GRPC_NOT_FOUND, ESRCH, "Process %d does not exist", pid);
                return error_set(e, grpc_code_from_errno(errno), errno, "Cannot open %s: %s", path,
                                 strerror(errno));
        }
        d = fdopendir(fd);
        if (!d)
                return error_set(e, grpc_code_from_errno(errno), errno, "Cannot open %s: %s", path,
                                 strerror(errno));
        TAKE_FD(fd);

        /* Threads come and go while the directory is read: rescan until two
         * passes agree. If they never do, the last pass is as good as any. */
        for (unsigned pass = 0; pass < DISCOVER_PASSES_MAX; pass++) {
                _cleanup_free_ VcpuThread *cur = NULL;
                size_t cur_n;
                bool stable;

                r = discover_pass(d, pid, patterns, &cur, &cur_n, e);
                if (r < 0)
                        return r;

                stable = pass > 0 && vcpu_threads_equal(list, n, cur, cur_n);
                free(list);
                list = TAKE_PTR(cur);
                n = cur_n;
                if (stable)
                        break;
        }

        for (size_t i = 1; i < n; i++)
                if (list[i].index == list[i - 1].index)
                        return error_set(e, GRPC_FAILED_PRECONDITION, EBADMSG,
                                         "Threads %d and %d of process %d both claim to be vCPU %u",
                                         list[i - 1].tid, list[i].tid, pid, list[i].index);

        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}
