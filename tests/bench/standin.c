/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/bench/bench.h"

uint64_t now_ns(void)
{
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

double percentile(double *v, size_t n, double p)
{
        if (n == 0)
                return NAN;
        qsort(v, n, sizeof *v, cmp_double);
        /* Nearest rank. */
        size_t k = (size_t) ceil(p / 100.0 * (double) n);
        return v[k == 0 ? 0 : k - 1];
}

double median(const double *v, size_t n)
{
        double c[MAX_ROUNDS];

        if (n == 0 || n > MAX_ROUNDS)
                return NAN;
        memcpy(c, v, n * sizeof *v);
        qsort(c, n, sizeof *c, cmp_double);
        return n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2.0;
}

/* ---- stand-in VMMs ---------------------------------------------------------
 * A child that pauses, with one extra thread (the "vCPU") that tells its tid
 * on fd 3 and pauses too. It dies with the benchmark (PR_SET_PDEATHSIG). */

static void *standin_vcpu(void *arg)
{
        pid_t tid = (pid_t) syscall(SYS_gettid);

        (void) arg;
        (void) prctl(PR_SET_NAME, "vcpu0");
        if (write(3, &tid, sizeof tid) != sizeof tid)
                _exit(EXIT_FAILURE);
        close(3);
        for (;;)
                pause();
        return NULL;
}

static _Noreturn void standin_main(int fd, pid_t parent)
{
        pthread_attr_t attr;
        pthread_t t;
        sigset_t all;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(EXIT_FAILURE);
        /* The benchmark's SIGINT handler is not ours. */
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        if (fd != 3) {
                if (dup2(fd, 3) < 0)
                        _exit(EXIT_FAILURE);
        } else if (fcntl(3, F_SETFD, 0) < 0)
                _exit(EXIT_FAILURE);
        /* Nothing of the benchmark's: sockets to the daemon, cgroup fds. */
        (void) syscall(SYS_close_range, 4U, ~0U, 0U);
        (void) prctl(PR_SET_NAME, "standin-vmm");
        if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, 64 * 1024) != 0 ||
            pthread_create(&t, &attr, standin_vcpu, NULL) != 0)
                _exit(EXIT_FAILURE);
        for (;;)
                pause();
}

int standins_spawn(Standin *s, size_t n)
{
        pid_t parent = getpid();
        int r = 0;

        for (size_t i = 0; i < n; i++)
                s[i] = (Standin){ .pid = -1, .fd = -1 };
        for (size_t i = 0; i < n; i++) {
                int p[2];
                if (pipe2(p, O_CLOEXEC) < 0) {
                        r = -errno;
                        goto fail;
                }
                pid_t pid = fork();
                if (pid < 0) {
                        r = -errno;
                        close(p[0]);
                        close(p[1]);
                        goto fail;
                }
                if (pid == 0)
                        standin_main(p[1], parent);
                close(p[1]);
                s[i].pid = pid;
                s[i].fd = p[0];
        }
        for (size_t i = 0; i < n; i++) {
                pid_t tid;
                ssize_t k;
                do
                        k = read(s[i].fd, &tid, sizeof tid);
                while (k < 0 && errno == EINTR && !bench_interrupted);
                close(s[i].fd);
                s[i].fd = -1;
                if (k != sizeof tid) {
                        r = k < 0 ? -errno : -ECHILD;
                        goto fail;
                }
                s[i].tid = tid;
        }
        return 0;
fail:
        fprintf(stderr, "bench: cannot start stand-in VMMs: %s\n", strerror(-r));
        standins_kill(s, n);
        return r;
}

void standins_kill(Standin *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (s[i].fd >= 0)
                        s[i].fd = safe_close(s[i].fd);
                if (s[i].pid > 0) {
                        (void) kill(s[i].pid, SIGKILL);
                        (void) waitpid(s[i].pid, NULL, 0);
                        s[i].pid = -1;
                }
        }
}

size_t standins_reap(Standin *s, size_t n, int timeout_ms)
{
        uint64_t deadline = now_ns() + (uint64_t) timeout_ms * 1000000u;
        size_t alive = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i].pid <= 0)
                        continue;
                for (;;) {
                        pid_t k = waitpid(s[i].pid, NULL, WNOHANG);
                        if (k == s[i].pid || (k < 0 && errno == ECHILD))
                                break;
                        if (now_ns() > deadline) {
                                alive++;
                                (void) kill(s[i].pid, SIGKILL);
                                (void) waitpid(s[i].pid, NULL, 0);
                                break;
                        }
                        struct timespec ts = { 0, 200000 };
                        (void) nanosleep(&ts, NULL);
                }
                s[i].pid = -1;
        }
        return alive;
}
