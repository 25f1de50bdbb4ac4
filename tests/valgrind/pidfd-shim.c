/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* LD_PRELOAD shim of make check-valgrind, for a valgrind that does not
 * implement pidfd_open(2) (Debian 12's valgrind 3.19: "unhandled
 * amd64-linux syscall: 434", the program gets ENOSYS). The daemon needs a
 * pidfd for every VMM it attaches, so without this nothing past AttachVmm
 * could run under memcheck. tests/valgrind/memcheck preloads it only when a
 * probe finds pidfd_open missing under valgrind; the sanitizer build (make
 * check) always runs on the kernel's real pidfds.
 *
 * It stands in for the kernel's pidfd, as far as the daemon uses one:
 *  - syscall(SYS_pidfd_open, pid, 0) fails like the kernel (ESRCH for no
 *    such process, EINVAL for a thread that is not a thread-group leader)
 *    or returns the read end of a pipe, which becomes readable (POLLIN, as a
 *    pidfd) once the process has exited: a zombie, gone, or its pid taken
 *    by a process with another start time;
 *  - a watcher thread checks every 10 ms (sd-event's epoll sees the pipe);
 *    poll() on such an fd checks first, so that vmm_pidfd_alive() is exact;
 *  - close() of such an fd closes the pipe's other end with it.
 * What it cannot do: pin the pid (a pidfd's process keeps its number until
 * reaped). Nothing else of the process goes through here: every other call
 * goes to libc. */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define MAX_PIDFDS 4096

typedef struct Emulated {
        int read_fd, write_fd;  /* -1: a free slot */
        pid_t pid;
        unsigned long long start_time;
        bool exited;
} Emulated;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Emulated table[MAX_PIDFDS];
static size_t n_table;
static bool watcher_started;

static long (*real_syscall)(long, ...);
static int (*real_close)(int);
static int (*real_poll)(struct pollfd *, nfds_t, int);

static void resolve(void)
{
        if (!real_syscall)
                real_syscall = (long (*)(long, ...)) dlsym(RTLD_NEXT, "syscall");
        if (!real_close)
                real_close = (int (*)(int)) dlsym(RTLD_NEXT, "close");
        if (!real_poll)
                real_poll = (int (*)(struct pollfd *, nfds_t, int)) dlsym(RTLD_NEXT, "poll");
}

/* State and start time (field 22) of /proc/<pid>/stat: 0, or -errno. */
static int proc_stat(pid_t pid, char *ret_state, unsigned long long *ret_start)
{
        char path[64], buf[1024], *p;
        ssize_t n;
        int fd;

        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof buf - 1);
        real_close(fd);
        if (n <= 0)
                return -ESRCH;
        buf[n] = '\0';
        p = strrchr(buf, ')'); /* the name may hold anything */
        if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                         ret_state, ret_start) != 2)
                return -EBADMSG;
        return 0;
}

static pid_t proc_tgid(pid_t pid)
{
        char path[64], line[256];
        pid_t tgid = -1;
        FILE *f;

        (void) snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "Tgid: %d", &tgid) == 1)
                        break;
        fclose(f);
        return tgid;
}

static bool has_exited(const Emulated *e)
{
        unsigned long long start;
        char state;

        if (proc_stat(e->pid, &state, &start) < 0)
                return true;
        return start != e->start_time || state == 'Z' || state == 'X';
}

/* With lock held. */
static void check(Emulated *e)
{
        if (e->read_fd < 0 || e->exited || !has_exited(e))
                return;
        e->exited = true;
        (void) write(e->write_fd, "x", 1);
}

static Emulated *find(int fd)
{
        for (size_t i = 0; i < n_table; i++)
                if (table[i].read_fd == fd)
                        return &table[i];
        return NULL;
}

static void *watcher(void *arg)
{
        const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };

        (void) arg;
        for (;;) {
                pthread_mutex_lock(&lock);
                for (size_t i = 0; i < n_table; i++)
                        check(&table[i]);
                pthread_mutex_unlock(&lock);
                (void) nanosleep(&tick, NULL);
        }
        return NULL;
}

/* A fork (Check's test cases, the daemon's helpers) must not inherit the
 * lock taken, nor count on a watcher thread it does not have. */
static void before_fork(void)
{
        pthread_mutex_lock(&lock);
}

static void after_fork_parent(void)
{
        pthread_mutex_unlock(&lock);
}

static void after_fork_child(void)
{
        watcher_started = false;
        pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void init(void)
{
        resolve();
        (void) pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

static long emulate_pidfd_open(pid_t pid, unsigned flags)
{
        unsigned long long start;
        Emulated *e = NULL;
        int p[2], r;
        char state;

        if (pid <= 0 || flags != 0) {
                errno = EINVAL;
                return -1;
        }
        r = proc_stat(pid, &state, &start);
        if (r < 0) {
                errno = ESRCH;
                return -1;
        }
        if (proc_tgid(pid) != pid) {
                errno = EINVAL; /* a thread, not a process (before Linux 6.9) */
                return -1;
        }
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return -1;

        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_table; i++)
                if (table[i].read_fd < 0) {
                        e = &table[i];
                        break;
                }
        if (!e && n_table < MAX_PIDFDS)
                e = &table[n_table++];
        if (!e) {
                pthread_mutex_unlock(&lock);
                real_close(p[0]);
                real_close(p[1]);
                errno = EMFILE;
                return -1;
        }
        *e = (Emulated){ .read_fd = p[0], .write_fd = p[1], .pid = pid, .start_time = start };
        check(e);
        if (!watcher_started) {
                pthread_t t;
                pthread_attr_t a;

                pthread_attr_init(&a);
                pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                if (pthread_create(&t, &a, watcher, NULL) == 0)
                        watcher_started = true;
                pthread_attr_destroy(&a);
        }
        pthread_mutex_unlock(&lock);
        return p[0];
}

long syscall(long number, ...)
{
        long a[6];
        va_list ap;

        resolve();
        va_start(ap, number);
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);

        if (number == SYS_pidfd_open) {
                long r = real_syscall(number, a[0], a[1]);
                if (r >= 0 || errno != ENOSYS)
                        return r;
                return emulate_pidfd_open((pid_t) a[0], (unsigned) a[1]);
        }
        return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int close(int fd)
{
        Emulated *e;

        resolve();
        if (fd >= 0) {
                pthread_mutex_lock(&lock);
                e = find(fd);
                if (e) {
                        real_close(e->write_fd);
                        e->read_fd = e->write_fd = -1;
                }
                pthread_mutex_unlock(&lock);
        }
        return real_close(fd);
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
        resolve();
        pthread_mutex_lock(&lock);
        for (nfds_t i = 0; i < n && n_table > 0; i++) {
                Emulated *e = fds[i].fd >= 0 ? find(fds[i].fd) : NULL;
                if (e)
                        check(e);
        }
        pthread_mutex_unlock(&lock);
        return real_poll(fds, n, timeout);
}
