/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* The VMM module against real processes: a forked "fake VMM" whose threads
 * are named like the vCPUs of Cloud Hypervisor, Firecracker or QEMU. It dies
 * with the test process (PR_SET_PDEATHSIG), and the fixture kills and reaps
 * whatever a test left behind. The thread name matcher is tested alone. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "daemon/vmm.h"

#define FAKE_THREADS_MAX 8
#define NO_SUCH_PID INT_MAX /* above any pid_max (2^22) */

typedef struct FakeVmm {
        pid_t pid;
        pid_t tids[FAKE_THREADS_MAX]; /* in the order of the names given */
        size_t n;
} FakeVmm;

/* ---- the fake VMM (in the forked child) -------------------------------- */

static pthread_barrier_t child_barrier;
static const char *child_names[FAKE_THREADS_MAX];
static pid_t child_tids[FAKE_THREADS_MAX];

static void *child_thread(void *arg)
{
        size_t i = (size_t) (uintptr_t) arg;

        if (pthread_setname_np(pthread_self(), child_names[i]) != 0)
                _exit(EXIT_FAILURE);
        child_tids[i] = gettid();
        (void) pthread_barrier_wait(&child_barrier);
        for (;;)
                pause();
}

static void *child_short_lived(void *arg)
{
        (void) pthread_setname_np(pthread_self(), "churn");
        return arg;
}

/* Threads that come and go while the tests scan /proc/<pid>/task. */
static void *child_churner(void *arg)
{
        for (;;) {
                pthread_t t;

                if (pthread_create(&t, NULL, child_short_lived, NULL) == 0)
                        (void) pthread_join(t, NULL);
        }
        return arg;
}

static _Noreturn void child_main(int fd, const char *process_name, const char *const *names, size_t n,
                                 bool churn)
{
        pthread_t t;

        /* Before the threads: they start with the name of their creator. */
        if (process_name && prctl(PR_SET_NAME, (unsigned long) process_name, 0, 0, 0) < 0)
                _exit(EXIT_FAILURE);
        if (pthread_barrier_init(&child_barrier, NULL, (unsigned) n + 1) != 0)
                _exit(EXIT_FAILURE);
        for (size_t i = 0; i < n; i++) {
                child_names[i] = names[i];
                if (pthread_create(&t, NULL, child_thread, (void *) (uintptr_t) i) != 0)
                        _exit(EXIT_FAILURE);
        }
        (void) pthread_barrier_wait(&child_barrier);
        if (churn) {
                if (pthread_create(&t, NULL, child_churner, NULL) != 0)
                        _exit(EXIT_FAILURE);
                (void) pthread_setname_np(t, "churner");
        }

        if (write(fd, child_tids, n * sizeof(pid_t)) != (ssize_t) (n * sizeof(pid_t)))
                _exit(EXIT_FAILURE);
        (void) close(fd);
        for (;;)
                pause();
}

/* ---- the parent's side --------------------------------------------------- */

static pid_t children[16];

static void child_register(pid_t pid)
{
        for (size_t i = 0; i < ELEMENTSOF(children); i++)
                if (children[i] == 0) {
                        children[i] = pid;
                        return;
                }
        ck_abort_msg("too many fake VMMs");
}

static void child_forget(pid_t pid)
{
        for (size_t i = 0; i < ELEMENTSOF(children); i++)
                if (children[i] == pid)
                        children[i] = 0;
}

/* Checked teardown: kill and reap what a test left running. (If the test
 * process dies first, PR_SET_PDEATHSIG kills the children.) */
static void children_reap(void)
{
        for (size_t i = 0; i < ELEMENTSOF(children); i++)
                if (children[i] > 0) {
                        (void) kill(children[i], SIGKILL);
                        (void) waitpid(children[i], NULL, 0);
                        children[i] = 0;
                }
}

/* names: NULL-terminated; process_name NULL keeps the test's name. */
static void fake_vmm_spawn_full(FakeVmm *ret, const char *process_name, const char *const *names, bool churn)
{
        pid_t parent = getpid(), pid;
        int fds[2];
        size_t n = 0;
        ssize_t k;

        while (names[n])
                n++;
        ck_assert_uint_le(n, FAKE_THREADS_MAX);

        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) close(fds[0]);
                if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
                        _exit(EXIT_FAILURE);
                child_main(fds[1], process_name, names, n, churn);
        }
        child_register(pid);
        (void) close(fds[1]);

        *ret = (FakeVmm){ .pid = pid, .n = n };
        do
                k = read(fds[0], ret->tids, n * sizeof(pid_t));
        while (k < 0 && errno == EINTR);
        (void) close(fds[0]);
        /* n == 0: EOF once the child closed the pipe. */
        ck_assert_msg(k == (ssize_t) (n * sizeof(pid_t)), "the fake VMM did not start (read %zd)", k);
}

static void fake_vmm_spawn(FakeVmm *ret, const char *process_name, const char *const *names)
{
        fake_vmm_spawn_full(ret, process_name, names, false);
}

static void fake_vmm_kill(FakeVmm *f)
{
        ck_assert_int_eq(kill(f->pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(f->pid, NULL, 0), f->pid);
        child_forget(f->pid);
}

/* Field 22 of /proc/<pid>/stat, parsed independently of daemon/vmm.c. */
static uint64_t stat_start_time(pid_t pid)
{
        char path[64], buf[4096];
        _cleanup_fclose_ FILE *f = NULL;
        unsigned long long start;
        const char *p;
        size_t n;

        (void) snprintf(path, sizeof path, "/proc/%d/stat", pid);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        p = strrchr(buf, ')');
        ck_assert_ptr_nonnull(p);
        /* 3 state, 4-8 ppid pgrp session tty_nr tpgid, 9-15 flags minflt
         * cminflt majflt cmajflt utime stime, 16-21 cutime cstime priority
         * nice num_threads itrealvalue, 22 starttime. */
        ck_assert_int_eq(sscanf(p + 1,
                                " %*c %*d %*d %*d %*d %*d"                 /* 3-8 */
                                " %*u %*u %*u %*u %*u %*u %*u"             /* 9-15 */
                                " %*d %*d %*d %*d %*d %*d %llu",           /* 16-22 */
                                &start),
                         1);
        return start;
}

static void read_comm(pid_t pid, char *buf, size_t size)
{
        char path[64];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        (void) snprintf(path, sizeof path, "/proc/%d/comm", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        n = read(fd, buf, size - 1);
        ck_assert_int_gt(n, 0);
        buf[n] = '\0';
        if (buf[n - 1] == '\n')
                buf[n - 1] = '\0';
}

#define assert_error(e, c, err, text)                                                                  \
        do {                                                                                           \
                ck_assert_int_eq((e).code, (c));                                                       \
                ck_assert_int_eq((e).errnum, (err));                                                   \
                ck_assert_msg(strstr((e).message, (text)), "\"%s\" not in the message \"%s\"", (text), \
                              (e).message);                                                            \
        } while (0)

static const char *const ch_threads[] = { "vcpu0", "vcpu1", "io-worker", NULL };

/* ---- vcpu_pattern_match ---------------------------------------------------- */

static const struct {
        const char *pattern, *comm;
        bool match;
        unsigned index;
} pattern_cases[] = {
        { "vcpu%u", "vcpu0", true, 0 },
        { "vcpu%u", "vcpu12", true, 12 },
        { "vcpu%u", "vcpu007", true, 7 },
        { "vcpu%u", "vcpu4294967295", true, UINT_MAX },
        { "vcpu%u", "vcpu4294967296", false, 0 },
        { "vcpu%u", "vcpu99999999999999999999999", false, 0 },
        { "vcpu%u", "vcpu", false, 0 },
        { "vcpu%u", "vcpu1x", false, 0 },
        { "vcpu%u", "xvcpu1", false, 0 },
        { "vcpu%u", "vcpu-1", false, 0 },
        { "vcpu%u", "vcpu+1", false, 0 },
        { "vcpu%u", "vcpu 1", false, 0 },
        { "vcpu%u", "VCPU1", false, 0 },
        { "vcpu%u", "", false, 0 },
        { "CPU %u/KVM", "CPU 3/KVM", true, 3 },
        { "CPU %u/KVM", "CPU 15/KVM", true, 15 },
        { "CPU %u/KVM", "CPU 3/TCG", false, 0 },
        { "CPU %u/KVM", "CPU /KVM", false, 0 },
        { "CPU %u/KVM", "CPU 3/KVMx", false, 0 },
        { "CPU %u/KVM", "CPU 3/KV", false, 0 },
        { "CPU %u/TCG", "CPU 0/TCG", true, 0 },
        { "fc_vcpu %u", "fc_vcpu 7", true, 7 },
        { "fc_vcpu %u", "fc_vcpu7", false, 0 },
        { "fc_vcpu %u", "fc_vcpu 7 ", false, 0 },
        { "fc_vcpu %u", "fc_vcpu  7", false, 0 },
        { "%u", "42", true, 42 },
        { "%u", "4294967295", true, UINT_MAX },
        { "%u", "", false, 0 },
        { "vcpu%u0", "vcpu120", true, 12 },
        { "vcpu%u0", "vcpu0", false, 0 },
        { "%%", "%", true, 0 },
        { "%%", "%%", false, 0 },
        { "%%", "", false, 0 },
        { "100%%", "100%", true, 0 },
        { "%u%%", "12%", true, 12 },
        { "%%%u", "%5", true, 5 },
        { "%%u", "%u", true, 0 },
        { "%%u", "%5", false, 0 },
        { "io-worker", "io-worker", true, 0 },
        { "io-worker", "io-worker2", false, 0 },
        { "io-worker", "io-worke", false, 0 },
        /* Invalid patterns match nothing. */
        { "vcpu%d", "vcpu1", false, 0 },
        { "vcpu%d", "vcpu%d", false, 0 },
        { "vcpu%u%u", "vcpu12", false, 0 },
        { "vcpu%u-%u", "vcpu1-2", false, 0 },
        { "vcpu%", "vcpu%", false, 0 },
        { "vcpu%u%", "vcpu1%", false, 0 },
        { "", "", false, 0 },
};

START_TEST(test_pattern_match)
{
        unsigned index = 0xdeadbeef;
        bool m;

        m = vcpu_pattern_match(pattern_cases[_i].pattern, pattern_cases[_i].comm, &index);
        ck_assert_msg(m == pattern_cases[_i].match, "\"%s\" vs \"%s\": %s", pattern_cases[_i].pattern,
                      pattern_cases[_i].comm, m ? "matched" : "did not match");
        if (m)
                ck_assert_uint_eq(index, pattern_cases[_i].index);
        else
                ck_assert_uint_eq(index, 0xdeadbeef); /* untouched */
        ck_assert(vcpu_pattern_match(pattern_cases[_i].pattern, pattern_cases[_i].comm, NULL) == m);
}
END_TEST

START_TEST(test_pattern_valid)
{
        static const char *const valid[] = VCPU_PATTERNS_DEFAULT;

        for (size_t i = 0; valid[i]; i++)
                ck_assert(vcpu_pattern_is_valid(valid[i]));
        ck_assert(vcpu_pattern_is_valid("worker"));
        ck_assert(vcpu_pattern_is_valid("%%"));
        ck_assert(vcpu_pattern_is_valid("%u%%"));
        ck_assert(vcpu_pattern_is_valid("%%u"));

        ck_assert(!vcpu_pattern_is_valid(NULL));
        ck_assert(!vcpu_pattern_is_valid(""));
        ck_assert(!vcpu_pattern_is_valid("%"));
        ck_assert(!vcpu_pattern_is_valid("vcpu%"));
        ck_assert(!vcpu_pattern_is_valid("vcpu%d"));
        ck_assert(!vcpu_pattern_is_valid("vcpu%s"));
        ck_assert(!vcpu_pattern_is_valid("%u%u"));
        ck_assert(!vcpu_pattern_is_valid("CPU %u/%u"));

        ck_assert(!vcpu_pattern_match(NULL, "vcpu0", NULL));
        ck_assert(!vcpu_pattern_match("vcpu%u", NULL, NULL));
}
END_TEST

/* ---- start time ------------------------------------------------------------ */

START_TEST(test_start_time)
{
        FakeVmm f;
        uint64_t t, self;
        Error e = {};

        fake_vmm_spawn(&f, NULL, ch_threads);
        ck_assert_int_eq(vmm_read_start_time(f.pid, &t, &e), 0);
        ck_assert_uint_eq(t, stat_start_time(f.pid));
        ck_assert(!error_is_set(&e));

        ck_assert_int_eq(vmm_read_start_time(getpid(), &self, &e), 0);
        ck_assert_uint_eq(self, stat_start_time(getpid()));
        ck_assert_uint_ge(t, self); /* forked after this process started */
}
END_TEST

START_TEST(test_start_time_missing)
{
        FakeVmm f;
        uint64_t t = 42;
        Error e = {};

        ck_assert_int_eq(vmm_read_start_time(NO_SUCH_PID, &t, &e), -ESRCH);
        assert_error(e, GRPC_NOT_FOUND, ESRCH, "does not exist");
        ck_assert_uint_eq(t, 42);

        e = (Error){};
        ck_assert_int_eq(vmm_read_start_time(0, &t, &e), -EINVAL);
        assert_error(e, GRPC_INVALID_ARGUMENT, EINVAL, "Invalid PID 0");
        e = (Error){};
        ck_assert_int_eq(vmm_read_start_time(-5, &t, &e), -EINVAL);

        /* A reaped child. */
        fake_vmm_spawn(&f, NULL, ch_threads);
        fake_vmm_kill(&f);
        e = (Error){};
        ck_assert_int_eq(vmm_read_start_time(f.pid, &t, &e), -ESRCH);
        assert_error(e, GRPC_NOT_FOUND, ESRCH, "does not exist");

        /* Error is optional. */
        ck_assert_int_eq(vmm_read_start_time(NO_SUCH_PID, &t, NULL), -ESRCH);
}
END_TEST

/* Process names that break a parser that looks for the first ')' or
 * splits on spaces or lines (at most 15 bytes: TASK_COMM_LEN). */
static const char *const odd_names[] = {
        "a) b (c", ") S 1 2 3 4 5 6", "x)\n(y) z 1", "((", "))", " ", "vm (1))",
};

START_TEST(test_odd_process_name)
{
        static const char *const threads[] = { "vcpu1", "io-worker", "vcpu0", NULL };
        char comm[64];
        FakeVmm f;
        uint64_t t;
        VcpuThread *v = NULL;
        size_t n;
        int fd;
        Error e = {};

        fake_vmm_spawn(&f, odd_names[_i], threads);
        read_comm(f.pid, comm, sizeof comm);
        ck_assert_str_eq(comm, odd_names[_i]);

        ck_assert_int_eq(vmm_read_start_time(f.pid, &t, &e), 0);
        ck_assert_uint_eq(t, stat_start_time(f.pid));
        ck_assert_int_eq(vmm_check_attachable(f.pid, &e), 0);
        ck_assert_int_eq(vmm_pidfd_open(f.pid, t, &fd, &e), 0);
        ck_assert_int_eq(vmm_pidfd_alive(fd), 1);
        (void) close(fd);

        ck_assert_int_eq(vmm_discover_vcpus(f.pid, NULL, &v, &n, &e), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(v[0].tid, f.tids[2]);
        ck_assert_int_eq(v[1].tid, f.tids[0]);
        free(v);
        ck_assert_msg(!error_is_set(&e), "%s", e.message);
}
END_TEST

/* ---- pidfds ---------------------------------------------------------------- */

START_TEST(test_pidfd_open)
{
        FakeVmm f;
        uint64_t t, t2;
        int fd = -EBADF, fd2 = -EBADF;
        Error e = {};

        fake_vmm_spawn(&f, NULL, ch_threads);
        t = stat_start_time(f.pid);

        ck_assert_int_eq(vmm_pidfd_open(f.pid, t, &fd, &e), 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        ck_assert_int_eq(vmm_pidfd_alive(fd), 1);
        ck_assert_int_eq(vmm_pidfd_read_start_time(fd, f.pid, &t2, &e), 0);
        ck_assert_uint_eq(t2, t);

        /* 0: any start time. */
        ck_assert_int_eq(vmm_pidfd_open(f.pid, 0, &fd2, &e), 0);
        ck_assert_int_ge(fd2, 0);
        ck_assert_msg(!error_is_set(&e), "%s", e.message);
        (void) close(fd2);

        /* The PID now belongs to another process than the recorded one. */
        fd2 = -EBADF;
        ck_assert_int_eq(vmm_pidfd_open(f.pid, t + 1, &fd2, &e), -ESRCH);
        assert_error(e, GRPC_NOT_FOUND, ESRCH, "reused");
        ck_assert_int_eq(fd2, -EBADF);

        /* A thread is not a process. */
        e = (Error){};
        ck_assert_int_eq(vmm_pidfd_open(f.tids[0], 0, &fd2, &e), -EINVAL);
        char text[64];
        (void) snprintf(text, sizeof text, "thread of process %d", f.pid);
        assert_error(e, GRPC_INVALID_ARGUMENT, EINVAL, text);

        e = (Error){};
        ck_assert_int_eq(vmm_pidfd_open(NO_SUCH_PID, 0, &fd2, &e), -ESRCH);
        assert_error(e, GRPC_NOT_FOUND, ESRCH, "does not exist");
        e = (Error){};
        ck_assert_int_eq(vmm_pidfd_open(0, 0, &fd2, &e), -EINVAL);
        ck_assert_int_eq(fd2, -EBADF);

        (void) close(fd);
}
END_TEST

START_TEST(test_pidfd_alive)
{
        FakeVmm f;
        siginfo_t si = {};
        uint64_t t;
        int fd, fd2 = -EBADF;
        Error e = {};

        fake_vmm_spawn(&f, NULL, ch_threads);
        ck_assert_int_eq(vmm_pidfd_open(f.pid, stat_start_time(f.pid), &fd, &e), 0);
        ck_assert_int_eq(vmm_pidfd_alive(fd), 1);
        ck_assert_int_eq(vmm_pidfd_alive(fd), 1); /* no side effect */

        /* A zombie is dead: its pidfd is readable. */
        ck_assert_int_eq(kill(f.pid, SIGKILL), 0);
        ck_assert_int_eq(waitid(P_PID, (id_t) f.pid, &si, WEXITED | WNOWAIT), 0);
        ck_assert_int_eq(si.si_pid, f.pid);
        ck_assert_int_eq(vmm_pidfd_alive(fd), 0);
        ck_assert_int_eq(vmm_pidfd_read_start_time(fd, f.pid, &t, &e), -ESRCH);
        assert_error(e, GRPC_NOT_FOUND, ESRCH, "has exited");
        e = (Error){};
        ck_assert_int_eq(vmm_pidfd_open(f.pid, 0, &fd2, &e), -ESRCH);
        assert_error(e, GRPC_NOT_FOUND, ESRCH, "has exited");
        ck_assert_int_eq(fd2, -EBADF);

        /* Reaped. */
        ck_assert_int_eq(waitpid(f.pid, NULL, 0), f.pid);
        child_forget(f.pid);
        ck_assert_int_eq(vmm_pidfd_alive(fd), 0);
        (void) close(fd);

        ck_assert_int_eq(vmm_pidfd_alive(-1), -EBADF);
        ck_assert_int_eq(vmm_pidfd_alive(fd), -EBADF); /* closed */
}
END_TEST

/* ---- vmm_check_attachable -------------------------------------------------- */

typedef struct OwnThread {
        pthread_t thread;
        pthread_barrier_t started;
        int block[2];
        pid_t tid;
} OwnThread;

static void *own_thread(void *arg)
{
        OwnThread *o = arg;
        char c;

        o->tid = gettid();
        (void) pthread_barrier_wait(&o->started);
        (void) read(o->block[0], &c, 1); /* until the write end is closed */
        return NULL;
}

/* A kernel thread other than kthreadd, if this PID namespace shows any. */
static pid_t find_kernel_thread(void)
{
        for (pid_t pid = 3; pid < 1000; pid++) {
                char path[64], buf[4096];
                _cleanup_fclose_ FILE *f = NULL;
                unsigned flags;
                const char *p;
                size_t n;

                (void) snprintf(path, sizeof path, "/proc/%d/stat", pid);
                f = fopen(path, "re");
                if (!f)
                        continue;
                n = fread(buf, 1, sizeof buf - 1, f);
                buf[n] = '\0';
                p = strrchr(buf, ')');
                if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %u", &flags) == 1 && (flags & 0x00200000U))
                        return pid;
        }
        return 0;
}

START_TEST(test_check_attachable)
{
        FakeVmm f;
        OwnThread o = {};
        char comm[64], text[128];
        pid_t kthread;
        Error e = {};

        fake_vmm_spawn(&f, "cloud-hyperviso", ch_threads);
        ck_assert_int_eq(vmm_check_attachable(f.pid, &e), 0);
        ck_assert(!error_is_set(&e));

        ck_assert_int_eq(vmm_check_attachable(1, &e), -EPERM);
        assert_error(e, GRPC_PERMISSION_DENIED, EPERM, "PID 1 ");

        e = (Error){};
        ck_assert_int_eq(vmm_check_attachable(getpid(), &e), -EPERM);
        (void) snprintf(text, sizeof text, "PID %d is sandboxcgd itself", getpid());
        assert_error(e, GRPC_PERMISSION_DENIED, EPERM, text);

        /* A thread of ours: cgroup.procs would move the whole daemon. */
        ck_assert_int_eq(pipe2(o.block, O_CLOEXEC), 0);
        ck_assert_int_eq(pthread_barrier_init(&o.started, NULL, 2), 0);
        ck_assert_int_eq(pthread_create(&o.thread, NULL, own_thread, &o), 0);
        (void) pthread_barrier_wait(&o.started);
        e = (Error){};
        ck_assert_int_eq(vmm_check_attachable(o.tid, &e), -EPERM);
        (void) snprintf(text, sizeof text, "PID %d is a thread of sandboxcgd", o.tid);
        assert_error(e, GRPC_PERMISSION_DENIED, EPERM, text);
        (void) close(o.block[1]);
        ck_assert_int_eq(pthread_join(o.thread, NULL), 0);
        (void) close(o.block[0]);
        (void) pthread_barrier_destroy(&o.started);

        /* A thread of the VMM is not the VMM. */
        e = (Error){};
        ck_assert_int_eq(vmm_check_attachable(f.tids[1], &e), -EINVAL);
        (void) snprintf(text, sizeof text, "PID %d (vcpu1) is a thread of process %d", f.tids[1], f.pid);
        assert_error(e, GRPC_INVALID_ARGUMENT, EINVAL, text);

        e = (Error){};
        ck_assert_int_eq(vmm_check_attachable(NO_SUCH_PID, &e), -ESRCH);
        assert_error(e, GRPC_NOT_FOUND, ESRCH, "does not exist");
        e = (Error){};
        ck_assert_int_eq(vmm_check_attachable(0, &e), -EINVAL);
        assert_error(e, GRPC_INVALID_ARGUMENT, EINVAL, "Invalid PID");
        e = (Error){};
        ck_assert_int_eq(vmm_check_attachable(-1, &e), -EINVAL);

        /* Kernel threads: kthreadd (PID 2 in the initial PID namespace). */
        if (access("/proc/2/comm", F_OK) == 0) {
                read_comm(2, comm, sizeof comm);
                if (streq(comm, "kthreadd")) {
                        e = (Error){};
                        ck_assert_int_eq(vmm_check_attachable(2, &e), -EPERM);
                        assert_error(e, GRPC_PERMISSION_DENIED, EPERM,
                                     "PID 2 (kthreadd) is a kernel thread");
                }
        }
        kthread = find_kernel_thread();
        if (kthread > 0) {
                e = (Error){};
                ck_assert_int_eq(vmm_check_attachable(kthread, &e), -EPERM);
                assert_error(e, GRPC_PERMISSION_DENIED, EPERM, "is a kernel thread");
        }
}
END_TEST

/* ---- vmm_is_thread_of ------------------------------------------------------ */

START_TEST(test_is_thread_of)
{
        FakeVmm f, g;

        fake_vmm_spawn(&f, NULL, ch_threads);
        fake_vmm_spawn(&g, NULL, ch_threads);

        for (size_t i = 0; i < f.n; i++) {
                ck_assert_int_eq(vmm_is_thread_of(f.pid, f.tids[i]), 1);
                ck_assert_int_eq(vmm_is_thread_of(g.pid, f.tids[i]), 0);
        }
        ck_assert_int_eq(vmm_is_thread_of(f.pid, f.pid), 1); /* the leader */

        /* Leaders of other processes: /proc/<tid> exists for them, but they
         * are not in f's task directory. */
        ck_assert_int_eq(vmm_is_thread_of(f.pid, getpid()), 0);
        ck_assert_int_eq(vmm_is_thread_of(f.pid, gettid()), 0);
        ck_assert_int_eq(vmm_is_thread_of(f.pid, g.pid), 0);
        ck_assert_int_eq(vmm_is_thread_of(getpid(), f.tids[0]), 0);
        ck_assert_int_eq(vmm_is_thread_of(f.pid, NO_SUCH_PID), 0);

        ck_assert_int_eq(vmm_is_thread_of(NO_SUCH_PID, f.tids[0]), -ESRCH);
        ck_assert_int_eq(vmm_is_thread_of(0, f.tids[0]), -EINVAL);
        ck_assert_int_eq(vmm_is_thread_of(f.pid, 0), -EINVAL);

        fake_vmm_kill(&g);
        ck_assert_int_eq(vmm_is_thread_of(g.pid, g.tids[0]), -ESRCH);
}
END_TEST

/* ---- vmm_discover_vcpus ---------------------------------------------------- */

static const struct {
        const char *process_name;
        const char *threads[FAKE_THREADS_MAX + 1];
        size_t n_vcpus;
        size_t vcpu_pos[FAKE_THREADS_MAX]; /* position in threads of vCPU 0, 1, ... */
} schemes[] = {
        /* Cloud Hypervisor, vCPUs started out of order. */
        { "cloud-hyperviso",
          { "vcpu2", "io-worker", "vcpu0", "vcpu3", "vcpu1", "http-server", NULL },
          4,
          { 2, 4, 0, 3 } },
        /* Firecracker */
        { "firecracker", { "fc_api", "fc_vcpu 1", "fc_vcpu 0", NULL }, 2, { 2, 1 } },
        /* QEMU -name ...,debug-threads=on, with KVM and with TCG */
        { "qemu-system-x86",
          { "CPU 1/KVM", "IO mon_iothread", "CPU 0/KVM", "CPU 2/KVM", "worker", NULL },
          3,
          { 2, 0, 3 } },
        { "qemu-system-x86", { "CPU 0/TCG", "call_rcu", "CPU 1/TCG", NULL }, 2, { 0, 2 } },
};

static void assert_scheme(const FakeVmm *f, size_t s, const VcpuThread *v, size_t n)
{
        ck_assert_uint_eq(n, schemes[s].n_vcpus);
        for (size_t k = 0; k < n; k++) {
                ck_assert_uint_eq(v[k].index, k);
                ck_assert_int_eq(v[k].tid, f->tids[schemes[s].vcpu_pos[k]]);
        }
}

START_TEST(test_discover)
{
        static const char *const defaults[] = VCPU_PATTERNS_DEFAULT;
        VcpuThread *v = NULL;
        FakeVmm f;
        size_t n = 0;
        Error e = {};

        fake_vmm_spawn(&f, schemes[_i].process_name, schemes[_i].threads);

        ck_assert_int_eq(vmm_discover_vcpus(f.pid, NULL, &v, &n, &e), 0);
        assert_scheme(&f, (size_t) _i, v, n);
        free(v);

        v = NULL;
        ck_assert_int_eq(vmm_discover_vcpus(f.pid, defaults, &v, &n, &e), 0);
        assert_scheme(&f, (size_t) _i, v, n);
        free(v);
        ck_assert_msg(!error_is_set(&e), "%s", e.message);
}
END_TEST

START_TEST(test_discover_churn)
{
        VcpuThread *v = NULL;
        FakeVmm f;
        size_t n = 0;
        Error e = {};

        /* Short-lived threads appear and vanish in the task directory while
         * it is read: they are skipped, the vCPUs are always found. */
        fake_vmm_spawn_full(&f, schemes[0].process_name, schemes[0].threads, true);
        for (int i = 0; i < 50; i++) {
                ck_assert_int_eq(vmm_discover_vcpus(f.pid, NULL, &v, &n, &e), 0);
                assert_scheme(&f, 0, v, n);
                free(v);
                v = NULL;
        }
        ck_assert_msg(!error_is_set(&e), "%s", e.message);
}
END_TEST

START_TEST(test_discover_custom)
{
        static const char *const threads[] = { "worker-1", "vcpu0", "worker-0", NULL };
        static const char *const patterns[] = { "worker-%u", NULL };
        static const char *const none[] = { NULL };
        VcpuThread *v = NULL;
        FakeVmm f;
        size_t n = 0;
        Error e = {};

        fake_vmm_spawn(&f, "vmm", threads);
        ck_assert_int_eq(vmm_discover_vcpus(f.pid, patterns, &v, &n, &e), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(v[0].index, 0);
        ck_assert_int_eq(v[0].tid, f.tids[2]);
        ck_assert_uint_eq(v[1].index, 1);
        ck_assert_int_eq(v[1].tid, f.tids[0]);
        free(v);

        v = (VcpuThread *) &f; /* must be overwritten */
        ck_assert_int_eq(vmm_discover_vcpus(f.pid, none, &v, &n, &e), 0);
        ck_assert_ptr_null(v);
        ck_assert_uint_eq(n, 0);
        ck_assert_msg(!error_is_set(&e), "%s", e.message);
}
END_TEST

START_TEST(test_discover_none)
{
        /* e.g. QEMU without -name ...,debug-threads=on */
        static const char *const threads[] = { "qemu-system-x86", "qemu-system-x86", NULL };
        VcpuThread *v = (VcpuThread *) &v;
        FakeVmm f;
        size_t n = 42;
        Error e = {};

        fake_vmm_spawn(&f, "qemu-system-x86", threads);
        ck_assert_int_eq(vmm_discover_vcpus(f.pid, NULL, &v, &n, &e), 0);
        ck_assert_ptr_null(v);
        ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_discover_duplicates)
{
        static const char *const twins[] = { "vcpu0", "vcpu1", "vcpu0", NULL };
        static const char *const mixed[] = { "vcpu0", "fc_vcpu 0", NULL };
        VcpuThread *v = NULL;
        FakeVmm f, g;
        size_t n = 0;
        char text[128];
        Error e = {};

        fake_vmm_spawn(&f, "vmm", twins);
        ck_assert_int_eq(vmm_discover_vcpus(f.pid, NULL, &v, &n, &e), -EBADMSG);
        ck_assert_ptr_null(v);
        (void) snprintf(text, sizeof text, "Threads %d and %d of process %d both claim to be vCPU 0",
                        MIN(f.tids[0], f.tids[2]), MAX(f.tids[0], f.tids[2]), f.pid);
        assert_error(e, GRPC_FAILED_PRECONDITION, EBADMSG, text);

        fake_vmm_spawn(&g, "vmm", mixed);
        e = (Error){};
        ck_assert_int_eq(vmm_discover_vcpus(g.pid, NULL, &v, &n, &e), -EBADMSG);
        assert_error(e, GRPC_FAILED_PRECONDITION, EBADMSG, "vCPU 0");
}
END_TEST

START_TEST(test_discover_errors)
{
        static const char *const bad[] = { "vcpu%u", "vcpu%d", NULL };
        VcpuThread *v = NULL;
        siginfo_t si = {};
        FakeVmm f;
        size_t n = 0;
        Error e = {};

        fake_vmm_spawn(&f, "vmm", ch_threads);

        ck_assert_int_eq(vmm_discover_vcpus(f.pid, bad, &v, &n, &e), -EINVAL);
        assert_error(e, GRPC_INVALID_ARGUMENT, EINVAL, "\"vcpu%d\"");
        e = (Error){};
        ck_assert_int_eq(vmm_discover_vcpus(0, NULL, &v, &n, &e), -EINVAL);
        e = (Error){};
        ck_assert_int_eq(vmm_discover_vcpus(NO_SUCH_PID, NULL, &v, &n, &e), -ESRCH);
        assert_error(e, GRPC_NOT_FOUND, ESRCH, "does not exist");

        /* A zombie has no threads left but its leader. */
        ck_assert_int_eq(kill(f.pid, SIGKILL), 0);
        ck_assert_int_eq(waitid(P_PID, (id_t) f.pid, &si, WEXITED | WNOWAIT), 0);
        e = (Error){};
        ck_assert_int_eq(vmm_discover_vcpus(f.pid, NULL, &v, &n, &e), 0);
        ck_assert_uint_eq(n, 0);

        ck_assert_int_eq(waitpid(f.pid, NULL, 0), f.pid);
        child_forget(f.pid);
        e = (Error){};
        ck_assert_int_eq(vmm_discover_vcpus(f.pid, NULL, &v, &n, &e), -ESRCH);
        assert_error(e, GRPC_NOT_FOUND, ESRCH, "does not exist");
        ck_assert_ptr_null(v);
}
END_TEST

static Suite *vmm_suite(void)
{
        Suite *s = suite_create("vmm");
        TCase *tc;

        tc = tcase_create("pattern");
        tcase_add_loop_test(tc, test_pattern_match, 0, (int) ELEMENTSOF(pattern_cases));
        tcase_add_test(tc, test_pattern_valid);
        suite_add_tcase(s, tc);

        tc = tcase_create("process");
        tcase_add_checked_fixture(tc, NULL, children_reap);
        tcase_add_test(tc, test_start_time);
        tcase_add_test(tc, test_start_time_missing);
        tcase_add_loop_test(tc, test_odd_process_name, 0, (int) ELEMENTSOF(odd_names));
        tcase_add_test(tc, test_pidfd_open);
        tcase_add_test(tc, test_pidfd_alive);
        tcase_add_test(tc, test_check_attachable);
        tcase_add_test(tc, test_is_thread_of);
        suite_add_tcase(s, tc);

        tc = tcase_create("discover");
        tcase_add_checked_fixture(tc, NULL, children_reap);
        tcase_add_loop_test(tc, test_discover, 0, (int) ELEMENTSOF(schemes));
        tcase_add_test(tc, test_discover_churn);
        tcase_add_test(tc, test_discover_custom);
        tcase_add_test(tc, test_discover_none);
        tcase_add_test(tc, test_discover_duplicates);
        tcase_add_test(tc, test_discover_errors);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(vmm_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
