/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sandboxcg-bench: see README.md, section "Speed", and `--help`. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libcgroup.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/bench/bench.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

volatile sig_atomic_t bench_interrupted;
static atomic_int phase_failed;

static const Life *const lives[_V_MAX] = { &life_floor, &life_libcgroup, &life_daemon };
static const char variant_letter[_V_MAX] = { 'f', 'l', 'd' };
static const char *const phase_names[_P_MAX] = { "create", "attach", "delete" };
enum { M_SEQ, M_CONC, _M_MAX };

/* Microseconds per sandbox, per mode, variant, phase (+ total) and round. */
static double life_us[_M_MAX][_V_MAX][_P_MAX + 1][MAX_ROUNDS];
/* CPU time, microseconds per sandbox: the benchmark process (all its
 * threads) plus the daemon; little affected by other load on the machine. */
static double cpu_us[_M_MAX][_V_MAX][_P_MAX + 1][MAX_ROUNDS];
static double exited_delete_us[_M_MAX][_V_MAX][MAX_ROUNDS];
static unsigned rounds_done;

typedef struct Results {
        long rss0_kib, rss_live_kib, rss_restart_kib;
        int fd0, fd_vmms, fd_scale;
        size_t vmms, scale;
        double create_scale_s, delete_scale_s;
        double get_p50_us, get_p99_us;
        double list_p50_ms, list_p99_ms;
        double list_first_ms;           /* the first call: the daemon packs every listing */
        char list_error[512];
        double ready_s[8];
        unsigned n_ready;
        double ready0_s;
        bool have_scale, have_fds;
        double list_small_ms;           /* ListSandboxes with opt.n live */
        size_t list_small_bytes;
        char load_start[64], load_end[64];
} Results;

static void on_signal(int sig)
{
        (void) sig;
        bench_interrupted = 1;
}

static void help(void)
{
        printf("sandboxcg-bench [OPTIONS] --daemon PATH\n\n"
               "Times the same sandbox life (create the tree with all limits, attach a VMM\n"
               "process and a vCPU thread, delete) directly on cgroupfs (the floor), through\n"
               "libcgroup and through sandboxcgd, sequentially and with concurrent clients,\n"
               "and the daemon at scale. Root, on a hybrid cgroup host. Prints a table with\n"
               "the targets of issue 7. Run by `make bench`.\n\n"
               "  -n --sandboxes N    Sandboxes per life and round (default 1000)\n"
               "  -r --rounds N       Rounds; the table shows medians (default 5)\n"
               "  -c --clients N      Concurrent clients (default 8)\n"
               "     --scale N        Sandboxes live for GetSandbox, ListSandboxes, READY=1\n"
               "                      and RSS (default 10000)\n"
               "     --get-calls N    GetSandbox calls timed (default 5000)\n"
               "     --list-calls N   ListSandboxes calls timed (default 100)\n"
               "     --restarts N     Daemon restarts timed (default 3)\n"
               "  -q --quick          Smoke run: 50 sandboxes, 1 round, scale 500\n"
               "     --only PARTS     Comma-separated: floor, libcgroup, daemon (their lives),\n"
               "                      scale (fds, GetSandbox, ListSandboxes, READY, RSS)\n"
               "     --daemon PATH    The sandboxcgd binary (no sanitizers)\n"
               "  -o --output FILE    Also write the table to FILE\n\n"
               "BENCH_DAEMON_PREFIX=\"strace -c -f -o FILE\" runs the daemon under a tool.\n");
}

/* ---- phases ------------------------------------------------------------------ */

typedef struct Job {
        Worker *w;
        const Life *life;
        Phase phase;
        char (*ids)[ID_MAX];
        const Standin *st;
        size_t n;
        pthread_barrier_t *barrier;
} Job;

static int do_phase(const Job *j)
{
        Worker *w = j->w;

        for (size_t i = w->first; i < j->n; i += w->step) {
                int r;
                if (bench_interrupted) {
                        (void) snprintf(w->err, sizeof w->err, "interrupted");
                        return w->error = -EINTR;
                }
                if (atomic_load_explicit(&phase_failed, memory_order_relaxed))
                        return 0;
                switch (j->phase) {
                case P_CREATE:
                        r = j->life->create(w, j->ids[i]);
                        break;
                case P_ATTACH:
                        r = j->life->attach(w, j->ids[i], &j->st[i]);
                        break;
                default:
                        r = j->life->delete(w, j->ids[i]);
                        break;
                }
                if (r < 0) {
                        atomic_store(&phase_failed, 1);
                        return r;
                }
        }
        return 0;
}

static void *phase_thread(void *arg)
{
        const Job *j = arg;

        (void) pthread_barrier_wait(j->barrier);
        (void) do_phase(j);
        return NULL;
}

/* Run one phase over ids[0..n) with nw workers; wall time in *ret_s. */
static int run_phase(const Life *life, Worker *w, unsigned nw, Phase phase, char (*ids)[ID_MAX],
                     const Standin *st, size_t n, double *ret_s)
{
        pthread_barrier_t barrier;
        pthread_t threads[64];
        Job jobs[64];
        uint64_t t0, t1;
        int r = 0;

        atomic_store(&phase_failed, 0);
        for (unsigned i = 0; i < nw; i++) {
                w[i].first = i;
                w[i].step = nw;
                w[i].error = 0;
                jobs[i] = (Job){ .w = &w[i], .life = life, .phase = phase, .ids = ids, .st = st, .n = n,
                                 .barrier = &barrier };
        }
        if (nw == 1) {
                t0 = now_ns();
                (void) do_phase(&jobs[0]);
                t1 = now_ns();
        } else {
                if (pthread_barrier_init(&barrier, NULL, nw + 1) != 0)
                        return -ENOMEM;
                for (unsigned i = 0; i < nw; i++)
                        if (pthread_create(&threads[i], NULL, phase_thread, &jobs[i]) != 0) {
                                fprintf(stderr, "bench: cannot start a client thread\n");
                                abort(); /* the barrier would wait forever */
                        }
                (void) pthread_barrier_wait(&barrier);
                t0 = now_ns();
                for (unsigned i = 0; i < nw; i++)
                        (void) pthread_join(threads[i], NULL);
                t1 = now_ns();
                (void) pthread_barrier_destroy(&barrier);
        }
        for (unsigned i = 0; i < nw; i++)
                if (w[i].error < 0) {
                        fprintf(stderr, "bench: %s %s: %s\n", life->name, phase_names[phase], w[i].err);
                        if (r == 0)
                                r = w[i].error;
                }
        *ret_s = (double) (t1 - t0) / 1e9;
        return r;
}

static int workers_init(Bench *b, const Life *life, Worker *w, unsigned nw)
{
        for (unsigned i = 0; i < nw; i++) {
                w[i] = (Worker){ .b = b };
                if (life->worker_init) {
                        int r = life->worker_init(&w[i]);
                        if (r < 0) {
                                fprintf(stderr, "bench: %s: %s\n", life->name, w[i].err);
                                return r;
                        }
                }
        }
        return 0;
}

static void workers_done(const Life *life, Worker *w, unsigned nw)
{
        for (unsigned i = 0; i < nw; i++)
                if (life->worker_done)
                        life->worker_done(&w[i]);
}

static char (*make_ids(const char *fmt_prefix, size_t n))[ID_MAX]
{
        char (*ids)[ID_MAX] = calloc(n, ID_MAX);
        for (size_t i = 0; ids && i < n; i++)
                (void) snprintf(ids[i], ID_MAX, "%s%06zu", fmt_prefix, i);
        return ids;
}

/* Before a timed phase: until the CPUs are idle again (up to 1 s), so that
 * the kernel's deferred work of what came before (exits of a thousand
 * stand-ins, cgroups being freed) is not charged to the phase. */
static void settle(void)
{
        unsigned long long prev_total = 0, prev_idle = 0;

        for (int i = 0; i < 20 && !bench_interrupted; i++) {
                unsigned long long v[10] = {}, total = 0, idle;
                FILE *f = fopen("/proc/stat", "re");
                if (!f)
                        return;
                int k = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                               &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
                fclose(f);
                if (k < 5)
                        return;
                for (int j = 0; j < 8; j++)
                        total += v[j];
                idle = v[3] + v[4];
                if (i > 0 && total > prev_total &&
                    (double) (idle - prev_idle) / (double) (total - prev_total) >= 0.90)
                        return;
                prev_total = total;
                prev_idle = idle;
                struct timespec ts = { 0, 50000000 };
                (void) nanosleep(&ts, NULL);
        }
}

/* BENCH_PROFILE="perf record -g -p {pid} -o /tmp/{mode}-{phase}.data" (or
 * strace -c -f -p {pid} ...): run around each timed phase of the daemon's
 * life, stopped with SIGINT after it. */
static pid_t profile_start(Bench *b, Variant v, int mode, Phase p)
{
        const char *t = getenv("BENCH_PROFILE");
        char cmd[2048] = "", pid[16];
        size_t l = 0;

        if (!t || v != V_DAEMON)
                return -1;
        (void) snprintf(pid, sizeof pid, "%d", (int) b->daemon_pid);
        for (const char *c = t; *c && l + 32 < sizeof cmd;) {
                const char *rep = NULL;
                if (strncmp(c, "{pid}", 5) == 0)
                        rep = pid, c += 5;
                else if (strncmp(c, "{phase}", 7) == 0)
                        rep = phase_names[p], c += 7;
                else if (strncmp(c, "{mode}", 6) == 0)
                        rep = mode == M_CONC ? "clients" : "seq", c += 6;
                if (rep)
                        l += (size_t) snprintf(cmd + l, sizeof cmd - l, "%s", rep);
                else
                        cmd[l++] = *c++;
                cmd[l] = '\0';
        }
        pid_t child = fork();
        if (child == 0) {
                (void) setpgid(0, 0);
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        struct timespec ts = { 1, 0 }; /* let it attach */
        (void) nanosleep(&ts, NULL);
        return child;
}

static void profile_stop(pid_t child)
{
        if (child <= 0)
                return;
        (void) kill(-child, SIGINT);
        (void) waitpid(child, NULL, 0);
}

static uint64_t self_cpu_ns(void)
{
        struct timespec ts;
        (void) clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

/* The benchmark's CPU time, and the daemon's for its life. */
static uint64_t cpu_ns(Bench *b, Variant v)
{
        return self_cpu_ns() + (v == V_DAEMON ? daemon_cpu_ns(b) : 0);
}

/* One timed phase of a life: wall time into *ret_t, CPU time (us, the
 * benchmark and the daemon) into *ret_c, the daemon profiled around it if
 * asked (BENCH_PROFILE). */
static int timed_phase(Bench *b, Variant v, int mode, const Life *life, Worker *w, unsigned nw, Phase p,
                       char (*ids)[ID_MAX], Standin *st, size_t n, double *ret_t, double *ret_c)
{
        pid_t prof;
        uint64_t c0;
        int r;

        settle();
        prof = profile_start(b, v, mode, p);
        c0 = cpu_ns(b, v);
        r = run_phase(life, w, nw, p, ids, st, n, ret_t);
        *ret_c = (double) (cpu_ns(b, v) - c0) / 1e3;
        profile_stop(prof);
        return r;
}

/* One life of n sandboxes: create, attach, delete, each timed and checked
 * on the kernel's files. exited: the stand-ins exit before the delete (it
 * has nothing to kill), and only the delete is recorded. */
static int run_life(Bench *b, Variant v, int mode, unsigned round, bool exited)
{
        const Life *life = lives[v];
        size_t n = b->opt.n;
        unsigned nw = mode == M_CONC ? b->opt.clients : 1;
        char prefix[16], err[1024];
        double t[_P_MAX], c[_P_MAX];
        Worker w[64];
        Standin *st = NULL;
        int r;

        (void) snprintf(prefix, sizeof prefix, "%c%c%c%u-", variant_letter[v], mode == M_CONC ? 'c' : 's',
                        exited ? 'x' : 'r', round);
        char (*ids)[ID_MAX] = make_ids(prefix, n);
        st = calloc(n, sizeof *st);
        if (!ids || !st) {
                free(ids);
                free(st);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                st[i] = (Standin){ .pid = -1, .fd = -1 };
        r = workers_init(b, life, w, nw);
        if (r < 0)
                goto out;

        r = timed_phase(b, v, mode, life, w, nw, P_CREATE, ids, NULL, n, &t[P_CREATE], &c[P_CREATE]);
        if (r < 0)
                goto out;
        if ((r = verify_created(&b->host, ids[0], err, sizeof err)) < 0 ||
            (r = verify_created(&b->host, ids[n - 1], err, sizeof err)) < 0) {
                fprintf(stderr, "bench: %s: after create: %s\n", life->name, err);
                goto out;
        }
        r = standins_spawn(st, n);
        if (r < 0)
                goto out;
        r = timed_phase(b, v, mode, life, w, nw, P_ATTACH, ids, st, n, &t[P_ATTACH], &c[P_ATTACH]);
        if (r < 0)
                goto out;
        if ((r = verify_attached(&b->host, ids[0], &st[0], err, sizeof err)) < 0 ||
            (r = verify_attached(&b->host, ids[n - 1], &st[n - 1], err, sizeof err)) < 0) {
                fprintf(stderr, "bench: %s: after attach: %s\n", life->name, err);
                goto out;
        }
        if (exited) {
                standins_kill(st, n);
                if (v == V_DAEMON) {
                        r = daemon_wait_exited(b, n);
                        if (r < 0) {
                                fprintf(stderr, "bench: the daemon did not see the stand-ins exit: %s\n",
                                        strerror(-r));
                                goto out;
                        }
                }
        }
        r = timed_phase(b, v, mode, life, w, nw, P_DELETE, ids, NULL, n, &t[P_DELETE], &c[P_DELETE]);
        if (r < 0)
                goto out;
        size_t alive = standins_reap(st, n, 5000);
        if (alive > 0) {
                fprintf(stderr, "bench: %s: %zu stand-in VMMs still alive 5 s after their sandbox was deleted\n",
                        life->name, alive);
                r = -EBUSY;
                goto out;
        }
        for (size_t i = 0; i < n; i++)
                if ((r = verify_gone(&b->host, ids[i], err, sizeof err)) < 0) {
                        fprintf(stderr, "bench: %s: after delete: %s\n", life->name, err);
                        goto out;
                }

        if (exited) {
                exited_delete_us[mode][v][round] = t[P_DELETE] * 1e6 / (double) n;
                fprintf(stderr, "  %-8s %-10s delete, VMM already exited %8.1f us\n",
                        mode == M_CONC ? "clients" : "seq", life->name, exited_delete_us[mode][v][round]);
        } else {
                double total = 0, cpu = 0;
                for (int p = 0; p < _P_MAX; p++) {
                        life_us[mode][v][p][round] = t[p] * 1e6 / (double) n;
                        total += life_us[mode][v][p][round];
                        cpu_us[mode][v][p][round] = c[p] / (double) n;
                        cpu += cpu_us[mode][v][p][round];
                }
                life_us[mode][v][_P_MAX][round] = total;
                cpu_us[mode][v][_P_MAX][round] = cpu;
                fprintf(stderr, "  %-8s %-10s create %8.1f  attach %7.1f  delete %8.1f  total %8.1f us"
                        "  (CPU %.1f us)\n",
                        mode == M_CONC ? "clients" : "seq", life->name, life_us[mode][v][P_CREATE][round],
                        life_us[mode][v][P_ATTACH][round], life_us[mode][v][P_DELETE][round], total, cpu);
        }
out:
        workers_done(life, w, nw);
        standins_kill(st, n);
        free(st);
        free(ids);
        return r;
}

/* ---- the daemon at scale ---------------------------------------------------- */

/* The daemon's open fds less the connections of the workers: a call on each
 * first, so that the daemon has accepted every one. */
static int daemon_fds_without(Bench *b, Worker *w, unsigned nw)
{
        for (unsigned i = 0; i < nw; i++) {
                Sandboxcg__V1__VersionResponse *v = NULL;
                if (sandboxcg_client_version(w[i].client, &v) >= 0)
                        sandboxcg__v1__version_response__free_unpacked(v, NULL);
        }
        return daemon_fd_count(b) - (int) nw;
}

static int measure_fds(Bench *b, Results *res)
{
        size_t n = b->opt.n;
        unsigned nw = b->opt.clients;
        char (*ids)[ID_MAX] = make_ids("v-", n);
        Standin *st = calloc(n, sizeof *st);
        Worker w[64];
        double t;
        int r;

        if (!ids || !st) {
                free(ids);
                free(st);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                st[i] = (Standin){ .pid = -1, .fd = -1 };
        r = workers_init(b, &life_daemon, w, nw);
        if (r < 0)
                goto out;
        /* Not counting our own connections. */
        res->fd0 = daemon_fds_without(b, w, nw);
        r = run_phase(&life_daemon, w, nw, P_CREATE, ids, NULL, n, &t);
        if (r >= 0)
                r = standins_spawn(st, n);
        if (r >= 0)
                r = run_phase(&life_daemon, w, nw, P_ATTACH, ids, st, n, &t);
        if (r < 0)
                goto out;
        res->fd_vmms = daemon_fds_without(b, w, nw);
        res->vmms = n;
        res->have_fds = true;
        /* The size of a ListSandboxes answer per sandbox, while it fits. */
        settle();
        r = daemon_list(w[0].client, n, &res->list_small_ms, &res->list_small_bytes);
        if (r < 0)
                fprintf(stderr, "bench: ListSandboxes with %zu live: %s\n", n, strerror(-r));
        r = run_phase(&life_daemon, w, nw, P_DELETE, ids, NULL, n, &t);
        if (r >= 0 && standins_reap(st, n, 5000) > 0)
                r = -EBUSY;
out:
        workers_done(&life_daemon, w, nw);
        standins_kill(st, n);
        free(st);
        free(ids);
        return r;
}

/* One timed ListSandboxes of every page; on failure, why in res. */
static int list_call(SandboxcgClient *c, size_t n, double *ret_ms, Results *res)
{
        int r = daemon_list(c, n, ret_ms, NULL);

        if (r == -EREMOTEIO)
                (void) snprintf(res->list_error, sizeof res->list_error, "%s: %s",
                                sandboxcg_code_to_string(sandboxcg_client_error_code(c)) ?: "?",
                                sandboxcg_client_error_message(c) ?: "");
        else if (r < 0)
                (void) snprintf(res->list_error, sizeof res->list_error, "%s", strerror(-r));
        if (r < 0)
                fprintf(stderr, "bench: ListSandboxes: %s\n", res->list_error);
        return r;
}

static int measure_scale(Bench *b, Results *res)
{
        size_t n = b->opt.scale;
        unsigned nw = b->opt.clients;
        char (*ids)[ID_MAX] = make_ids("s-", n);
        double *lat = calloc(MAX(b->opt.get_calls, b->opt.list_calls) + 1, sizeof *lat);
        SandboxcgClient *c = NULL;
        Worker w[64];
        double t;
        int r;

        if (!ids || !lat) {
                free(ids);
                free(lat);
                return -ENOMEM;
        }
        res->scale = n;
        fprintf(stderr, "bench: creating %zu sandboxes through the daemon (%u clients)\n", n, nw);
        settle();
        r = workers_init(b, &life_daemon, w, nw);
        if (r >= 0)
                r = run_phase(&life_daemon, w, nw, P_CREATE, ids, NULL, n, &t);
        if (r >= 0)
                res->fd_scale = daemon_fds_without(b, w, nw);
        workers_done(&life_daemon, w, nw);
        if (r < 0)
                goto out;
        res->create_scale_s = t;
        res->rss_live_kib = daemon_rss_kib(b);

        r = daemon_connect(b, &c);
        if (r < 0)
                goto out;
        settle();
        fprintf(stderr, "bench: %zu GetSandbox calls with %zu live\n", b->opt.get_calls, n);
        unsigned seed = 1;
        for (size_t i = 0; i < b->opt.get_calls && !bench_interrupted; i++) {
                const char *id = ids[(size_t) rand_r(&seed) % n];
                uint64_t t0 = now_ns();
                r = daemon_get(c, id);
                lat[i] = (double) (now_ns() - t0) / 1e3;
                if (r < 0) {
                        fprintf(stderr, "bench: GetSandbox %s: %s\n", id, strerror(-r));
                        goto out;
                }
        }
        res->get_p50_us = percentile(lat, b->opt.get_calls, 50);
        res->get_p99_us = percentile(lat, b->opt.get_calls, 99);

        settle();
        fprintf(stderr, "bench: %zu ListSandboxes calls with %zu live\n", b->opt.list_calls, n);
        /* The first call after the sandboxes changed packs each listing,
         * which the daemon keeps until the sandbox changes: timed apart. */
        r = list_call(c, n, &res->list_first_ms, res);
        size_t k = 0;
        while (r >= 0 && k < b->opt.list_calls && !bench_interrupted)
                if ((r = list_call(c, n, &lat[k], res)) >= 0)
                        k++;
        if (k == b->opt.list_calls) {
                res->list_p50_ms = percentile(lat, k, 50);
                res->list_p99_ms = percentile(lat, k, 99);
        }
        c = sandboxcg_client_free(c);
        if (bench_interrupted) {
                r = -EINTR;
                goto out;
        }

        for (unsigned i = 0; i < b->opt.restarts && i < ELEMENTSOF(res->ready_s); i++) {
                fprintf(stderr, "bench: restarting the daemon with %zu records\n", n);
                settle();
                r = daemon_stop(b);
                if (r < 0)
                        fprintf(stderr, "bench: the daemon did not stop cleanly\n");
                r = daemon_start(b, &res->ready_s[i]);
                if (r < 0)
                        goto out;
                res->n_ready++;
        }
        res->rss_restart_kib = daemon_rss_kib(b);
        res->have_scale = true;

        fprintf(stderr, "bench: deleting the %zu sandboxes\n", n);
        r = workers_init(b, &life_daemon, w, nw);
        if (r >= 0)
                r = run_phase(&life_daemon, w, nw, P_DELETE, ids, NULL, n, &t);
        workers_done(&life_daemon, w, nw);
        if (r >= 0)
                res->delete_scale_s = t;
out:
        sandboxcg_client_free(c);
        free(lat);
        free(ids);
        return r;
}

/* ---- the table ----------------------------------------------------------------- */

static FILE *out_file;

static void out(const char *fmt, ...) _printf_(1, 2);
static void out(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        if (out_file) {
                va_start(ap, fmt);
                vfprintf(out_file, fmt, ap);
                va_end(ap);
        }
}

static double med(int mode, Variant v, int p)
{
        return median(life_us[mode][v][p], rounds_done);
}

static void print_target(const char *what, const char *measured, const char *target, bool pass, const char *note)
{
        out("  %-48s %14s  %-22s %s%s%s\n", what, measured, target, pass ? "PASS" : "MISS", note ? "  " : "",
            note ? note : "");
}

static void loadavg(char *buf, size_t size)
{
        FILE *f = fopen("/proc/loadavg", "re");
        double a = 0, b = 0, c = 0;

        if (!f || fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
                (void) snprintf(buf, size, "?");
        else
                (void) snprintf(buf, size, "%.2f %.2f %.2f", a, b, c);
        if (f)
                fclose(f);
}

static void print_table(Bench *b, const Results *res, bool lives_done)
{
        const Host *h = &b->host;
        char m[64], t[64], conc[32], what[96];
        bool quick_scale = res->scale != 10000;

        (void) snprintf(conc, sizeof conc, "%u clients", b->opt.clients);

        out("\nsandboxcg benchmark (tests/bench, `make bench`)\n");
        out("machine   %s\n", h->description);
        out("cgroups   %s\n", h->layout);
        out("load      1, 5, 15 min load average at the start: %s; at the end: %s (a shared machine: other "
            "work adds noise)\n", res->load_start, res->load_end);
        out("daemon    %s, no sanitizers; state directory on tmpfs; LogLevel=info to a file%s\n", b->opt.daemon,
            b->no_rate_limit ? "; RequestRate=0" : "");
        out("sandbox   S in %zu hierarchies, vcpu and pod_overhead in %s; %zu limit files (GetSandbox.applied);\n"
            "          1 stand-in VMM process + 1 vCPU thread; parent %s\n",
            h->n_hier, h->hier[h->ctl_hier[CTL_CPU]].name, h->n_plan, h->parent);
        if (lives_done) {
                out("run       %zu sandboxes per life, medians of %u rounds, %u concurrent clients\n\n", b->opt.n,
                    rounds_done, b->opt.clients);
                out("Full life, microseconds per sandbox (%u clients: wall time / sandboxes)\n", b->opt.clients);
                out("                                    create    attach    delete     total   sandboxes/s\n");
                for (int mode = 0; mode < _M_MAX; mode++) {
                        bool first = true;
                        for (int v = 0; v < _V_MAX; v++) {
                                if (!life_us[mode][v][_P_MAX][0])
                                        continue;
                                out("%-12s %-20s", first ? (mode == M_SEQ ? "sequential" : conc) : "",
                                    lives[v]->name);
                                first = false;
                                for (int p = 0; p <= _P_MAX; p++)
                                        out(" %9.1f", med(mode, v, p));
                                out("   %11.0f\n", 1e6 / med(mode, v, _P_MAX));
                        }
                        if (life_us[mode][V_DAEMON][_P_MAX][0] && life_us[mode][V_FLOOR][_P_MAX][0]) {
                                out("%-12s %-20s", "", "sandboxcgd/floor");
                                for (int p = 0; p <= _P_MAX; p++)
                                        out(" %8.2fx", med(mode, V_DAEMON, p) / med(mode, V_FLOOR, p));
                                out("\n");
                        }
                        if (life_us[mode][V_DAEMON][_P_MAX][0] && life_us[mode][V_LIBCGROUP][_P_MAX][0]) {
                                out("%-12s %-20s", "", "libcgroup/sandboxcgd");
                                for (int p = 0; p <= _P_MAX; p++)
                                        out(" %8.2fx", med(mode, V_LIBCGROUP, p) / med(mode, V_DAEMON, p));
                                out("\n");
                        }
                }
                out("\nCPU time, microseconds per sandbox (the benchmark's threads + the daemon; kernel work "
                    "done in\nthe calling process is included, deferred kernel work and the stand-ins are not)\n");
                out("                                    create    attach    delete     total\n");
                for (int mode = 0; mode < _M_MAX; mode++) {
                        bool first = true;
                        for (int v = 0; v < _V_MAX; v++) {
                                if (!life_us[mode][v][_P_MAX][0])
                                        continue;
                                out("%-12s %-20s", first ? (mode == M_SEQ ? "sequential" : conc) : "",
                                    lives[v]->name);
                                first = false;
                                for (int p = 0; p <= _P_MAX; p++)
                                        out(" %9.1f", median(cpu_us[mode][v][p], rounds_done));
                                out("\n");
                        }
                        if (life_us[mode][V_DAEMON][_P_MAX][0] && life_us[mode][V_FLOOR][_P_MAX][0]) {
                                out("%-12s %-20s", "", "sandboxcgd/floor");
                                for (int p = 0; p <= _P_MAX; p++)
                                        out(" %8.2fx", median(cpu_us[mode][V_DAEMON][p], rounds_done) /
                                                               median(cpu_us[mode][V_FLOOR][p], rounds_done));
                                out("\n");
                        }
                        if (life_us[mode][V_DAEMON][_P_MAX][0] && life_us[mode][V_LIBCGROUP][_P_MAX][0]) {
                                out("%-12s %-20s", "", "libcgroup/sandboxcgd");
                                for (int p = 0; p <= _P_MAX; p++)
                                        out(" %8.2fx", median(cpu_us[mode][V_LIBCGROUP][p], rounds_done) /
                                                               median(cpu_us[mode][V_DAEMON][p], rounds_done));
                                out("\n");
                        }
                }
                out("\nDelete, microseconds per sandbox: VMM alive (killed by the delete) vs. already exited\n");
                out("                                     alive    exited  kill+wait\n");
                for (int mode = 0; mode < _M_MAX; mode++) {
                        bool first = true;
                        for (int v = 0; v < _V_MAX; v++) {
                                if (!exited_delete_us[mode][v][0] || !life_us[mode][v][_P_MAX][0])
                                        continue;
                                double alive = med(mode, v, P_DELETE),
                                       gone = median(exited_delete_us[mode][v], rounds_done);
                                out("%-12s %-20s %9.1f %9.1f %9.1f\n",
                                    first ? (mode == M_SEQ ? "sequential" : conc) : "", lives[v]->name, alive,
                                    gone, alive - gone);
                                first = false;
                        }
                }
        }
        if (res->have_scale || res->have_fds)
                out("\nThe daemon at scale (%zu sandboxes live, no VMMs)\n", res->scale);
        if (res->have_scale) {
                out("  create %zu, %u clients          %8.2f s  (%.0f us per sandbox)\n", res->scale,
                    b->opt.clients, res->create_scale_s, res->create_scale_s * 1e6 / (double) res->scale);
                out("  GetSandbox                       p50 %8.1f us   p99 %8.1f us   (%zu calls)\n",
                    res->get_p50_us, res->get_p99_us, b->opt.get_calls);
                if (res->list_error[0])
                        out("  ListSandboxes                    failed: %s\n", res->list_error);
                else
                        out("  ListSandboxes                    p50 %8.2f ms   p99 %8.2f ms   (%zu calls; "
                            "the first, packing each: %.2f ms)\n",
                            res->list_p50_ms, res->list_p99_ms, b->opt.list_calls, res->list_first_ms);
                out("  start to READY=1, %zu records  ", res->scale);
                for (unsigned i = 0; i < res->n_ready; i++)
                        out(" %.3f s", res->ready_s[i]);
                out("   (0 records: %.3f s)\n", res->ready0_s);
                out("  VmRSS                            0: %ld KiB   %zu live: %ld KiB   after restart: %ld KiB\n",
                    res->rss0_kib, res->scale, res->rss_live_kib, res->rss_restart_kib);
                if (res->delete_scale_s > 0)
                        out("  delete %zu, %u clients          %8.2f s  (%.0f us per sandbox)\n", res->scale,
                            b->opt.clients, res->delete_scale_s, res->delete_scale_s * 1e6 / (double) res->scale);
        }
        if (res->list_small_bytes)
                out("  ListSandboxes of %zu (with VMMs)  %.2f ms, %zu bytes (%zu per sandbox; a 4 MiB page "
                    "holds %zu)\n",
                    res->vmms, res->list_small_ms, res->list_small_bytes, res->list_small_bytes / res->vmms,
                    (size_t) 4 * 1024 * 1024 / (res->list_small_bytes / res->vmms));
        if (res->have_fds)
                out("  open fds                         0 sandboxes: %d   %zu with a live VMM: %d   %zu without "
                    "VMMs: %d\n",
                    res->fd0, res->vmms, res->fd_vmms, res->scale, res->fd_scale);

        out("\nTargets (issue 7)                                         measured  target                 \n");
        if (lives_done && life_us[M_SEQ][V_DAEMON][_P_MAX][0]) {
                double seq = med(M_SEQ, V_DAEMON, _P_MAX);
                if (life_us[M_SEQ][V_FLOOR][_P_MAX][0]) {
                        double ratio = seq / med(M_SEQ, V_FLOOR, _P_MAX);
                        (void) snprintf(m, sizeof m, "%.2fx", ratio);
                        print_target("sequential full life vs. the floor", m, "<= 1.25x", ratio <= 1.25, NULL);
                }
                if (life_us[M_SEQ][V_LIBCGROUP][_P_MAX][0]) {
                        double ratio = med(M_SEQ, V_LIBCGROUP, _P_MAX) / seq;
                        (void) snprintf(m, sizeof m, "%.2fx", ratio);
                        print_target("faster than libcgroup, sequential", m, ">= 4x", ratio >= 4, NULL);
                }
                if (life_us[M_CONC][V_LIBCGROUP][_P_MAX][0] && life_us[M_CONC][V_DAEMON][_P_MAX][0]) {
                        double ratio = med(M_CONC, V_LIBCGROUP, _P_MAX) / med(M_CONC, V_DAEMON, _P_MAX);
                        (void) snprintf(m, sizeof m, "%.2fx", ratio);
                        (void) snprintf(what, sizeof what, "faster than libcgroup, %s", conc);
                        print_target(what, m, ">= 4x", ratio >= 4, NULL);
                }
                if (life_us[M_CONC][V_DAEMON][_P_MAX][0] && life_us[M_SEQ][V_FLOOR][_P_MAX][0]) {
                        double ratio = med(M_SEQ, V_FLOOR, _P_MAX) / med(M_CONC, V_DAEMON, _P_MAX);
                        (void) snprintf(m, sizeof m, "%.2fx", ratio);
                        (void) snprintf(what, sizeof what, "%s: throughput vs. sequential floor", conc);
                        print_target(what, m, ">= 1x", ratio >= 1, NULL);
                }
        }
        const char *note = quick_scale ? "(not at 10,000)" : NULL;
        if (res->have_scale) {
                (void) snprintf(m, sizeof m, "%.1f us", res->get_p99_us);
                print_target("GetSandbox p99", m, "<= 100 us", res->get_p99_us <= 100, note);
                if (res->list_error[0])
                        print_target("ListSandboxes p99", "failed", "<= 20 ms", false, "(see above)");
                else {
                        (void) snprintf(m, sizeof m, "%.2f ms", res->list_p99_ms);
                        print_target("ListSandboxes p99", m, "<= 20 ms", res->list_p99_ms <= 20, note);
                }
                double ready = median(res->ready_s, res->n_ready);
                (void) snprintf(m, sizeof m, "%.3f s", ready);
                print_target("start to READY=1 with the records (median)", m, "<= 1 s", ready <= 1, note);
                (void) snprintf(m, sizeof m, "%.1f MiB", (double) res->rss0_kib / 1024);
                print_target("RSS, 0 sandboxes", m, "<= 8 MiB", res->rss0_kib <= 8 * 1024, NULL);
                long rss = MAX(res->rss_live_kib, res->rss_restart_kib);
                double limit = 8 * 1024 + 2.0 * (double) res->scale;
                (void) snprintf(m, sizeof m, "%.1f MiB", (double) rss / 1024);
                (void) snprintf(t, sizeof t, "<= %.1f MiB", limit / 1024);
                print_target("RSS with the sandboxes (larger of live, restart)", m, t, (double) rss <= limit, note);
        }
        if (res->have_fds) {
                double per = (double) (res->fd_vmms - res->fd0) / (double) res->vmms;
                (void) snprintf(m, sizeof m, "%.2f", per);
                print_target("open fds per live VMM", m, "<= 1", per <= 1.0, NULL);
        }
        out("\n");
}

/* ---- set-up and clean-up -------------------------------------------------------- */

static int setup_run_dir(Bench *b)
{
        struct statfs sf;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        (void) snprintf(b->run_dir, sizeof b->run_dir, "/tmp/scg-bench-XXXXXX");
        if (!mkdtemp(b->run_dir)) {
                b->run_dir[0] = '\0';
                return -errno;
        }
        /* The daemon's state as on any systemd host: on tmpfs. */
        if (statfs(b->run_dir, &sf) < 0 || sf.f_type != TMPFS_MAGIC) {
                if (mount("scg-bench", b->run_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=512m") <
                    0) {
                        fprintf(stderr, "bench: cannot mount a tmpfs on %s: %m\n", b->run_dir);
                        return -errno;
                }
                b->tmpfs = true;
        }
        (void) snprintf(b->socket, sizeof b->socket, "%s/sandboxcg.sock", b->run_dir);
        (void) snprintf(b->state_dir, sizeof b->state_dir, "%s/state", b->run_dir);
        (void) snprintf(b->config, sizeof b->config, "%s/sandboxcgd.conf", b->run_dir);
        (void) snprintf(b->notify, sizeof b->notify, "%s/notify", b->run_dir);
        (void) snprintf(b->log, sizeof b->log, "%s/sandboxcgd.log", b->run_dir);
        int fd = open(b->config, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        close(fd);

        b->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (b->notify_fd < 0)
                return -errno;
        if (strlen(b->notify) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, b->notify);
        if (bind(b->notify_fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        return 0;
}

static void cleanup(Bench *b)
{
        if (b->daemon_pid > 0 && daemon_stop(b) < 0)
                daemon_log_tail(b);
        host_remove_parent(&b->host);
        if (b->notify_fd >= 0)
                b->notify_fd = safe_close(b->notify_fd);
        if (b->run_dir[0]) {
                if (b->tmpfs && umount2(b->run_dir, MNT_DETACH) < 0)
                        fprintf(stderr, "bench: cannot unmount %s: %m\n", b->run_dir);
                char cmd[400];
                (void) snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", b->run_dir);
                if (strncmp(b->run_dir, "/tmp/scg-bench-", 15) == 0)
                        (void) system(cmd);
        }
        for (size_t i = 0; i < b->host.n_hier; i++)
                if (b->host.hier[i].fd >= 0)
                        b->host.hier[i].fd = safe_close(b->host.hier[i].fd);
}

/* Is part in --only (a comma-separated list), or no --only given? */
static bool wants(const Options *o, const char *part)
{
        size_t l = strlen(part);

        if (!o->only)
                return true;
        for (const char *p = o->only; (p = strstr(p, part)); p += l)
                if ((p == o->only || p[-1] == ',') && (p[l] == ',' || p[l] == '\0'))
                        return true;
        return false;
}

static int parse_size(const char *s, size_t min, size_t *ret)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || v < min || v > 1000000)
                return -EINVAL;
        *ret = (size_t) v;
        return 0;
}

static int parse_argv(int argc, char *argv[], Options *o, const char **ret_output)
{
        enum { ARG_SCALE = 0x100, ARG_GET, ARG_LIST, ARG_RESTARTS, ARG_ONLY, ARG_DAEMON };
        static const struct option longopts[] = {
                { "help", no_argument, NULL, 'h' },
                { "sandboxes", required_argument, NULL, 'n' },
                { "rounds", required_argument, NULL, 'r' },
                { "clients", required_argument, NULL, 'c' },
                { "quick", no_argument, NULL, 'q' },
                { "output", required_argument, NULL, 'o' },
                { "scale", required_argument, NULL, ARG_SCALE },
                { "get-calls", required_argument, NULL, ARG_GET },
                { "list-calls", required_argument, NULL, ARG_LIST },
                { "restarts", required_argument, NULL, ARG_RESTARTS },
                { "only", required_argument, NULL, ARG_ONLY },
                { "daemon", required_argument, NULL, ARG_DAEMON },
                {},
        };
        size_t v;
        int c;
        bool n_set = false, rounds_set = false, scale_set = false, get_set = false, list_set = false,
             restarts_set = false;

        *o = (Options){ .n = 1000, .rounds = 5, .clients = 8, .scale = 10000, .get_calls = 5000, .list_calls = 100,
                        .restarts = 3 };
        while ((c = getopt_long(argc, argv, "hn:r:c:qo:", longopts, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'n':
                        if (parse_size(optarg, 1, &o->n) < 0)
                                goto bad;
                        n_set = true;
                        break;
                case 'r':
                        if (parse_size(optarg, 1, &v) < 0 || v > MAX_ROUNDS)
                                goto bad;
                        o->rounds = (unsigned) v;
                        rounds_set = true;
                        break;
                case 'c':
                        if (parse_size(optarg, 2, &v) < 0 || v > 64)
                                goto bad;
                        o->clients = (unsigned) v;
                        break;
                case 'q':
                        o->quick = true;
                        break;
                case 'o':
                        *ret_output = optarg;
                        break;
                case ARG_SCALE:
                        if (parse_size(optarg, 1, &o->scale) < 0 || o->scale > 19000)
                                goto bad;
                        scale_set = true;
                        break;
                case ARG_GET:
                        if (parse_size(optarg, 1, &o->get_calls) < 0)
                                goto bad;
                        get_set = true;
                        break;
                case ARG_LIST:
                        if (parse_size(optarg, 1, &o->list_calls) < 0)
                                goto bad;
                        list_set = true;
                        break;
                case ARG_RESTARTS:
                        if (parse_size(optarg, 1, &v) < 0 || v > 8)
                                goto bad;
                        o->restarts = (unsigned) v;
                        restarts_set = true;
                        break;
                case ARG_ONLY: {
                        char copy[128];
                        (void) snprintf(copy, sizeof copy, "%s", optarg);
                        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                                if (!streq(t, "floor") && !streq(t, "libcgroup") && !streq(t, "daemon") &&
                                    !streq(t, "scale"))
                                        goto bad;
                        o->only = optarg;
                        break;
                }
                case ARG_DAEMON:
                        o->daemon = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc || !o->daemon) {
                fprintf(stderr, "usage: sandboxcg-bench [OPTIONS] --daemon PATH (see --help)\n");
                return -EINVAL;
        }
        if (o->quick) {
                o->n = n_set ? o->n : 50;
                o->rounds = rounds_set ? o->rounds : 1;
                o->scale = scale_set ? o->scale : 500;
                o->get_calls = get_set ? o->get_calls : 500;
                o->list_calls = list_set ? o->list_calls : 5;
                o->restarts = restarts_set ? o->restarts : 1;
        }
        return 1;
bad:
        fprintf(stderr, "sandboxcg-bench: invalid value for option -%c: %s\n", c < 0x100 ? c : '-', optarg);
        return -EINVAL;
}

int main(int argc, char *argv[])
{
        Bench b = { .notify_fd = -1, .daemon_pid = -1 };
        Results res = {};
        const char *output = NULL, *problem;
        bool lives_done = false;
        uint64_t t_start = now_ns();
        int r;

        r = parse_argv(argc, argv, &b.opt, &output);
        if (r <= 0)
                return r < 0 ? 2 : 0;
#if defined(__SANITIZE_ADDRESS__)
        fprintf(stderr, "sandboxcg-bench: this benchmark was built with AddressSanitizer; its numbers would "
                        "measure the sanitizer. `make bench` configures an optimized build of its own.\n");
        return 2;
#endif
        if (geteuid() != 0) {
                fprintf(stderr, "sandboxcg-bench: needs root (it creates cgroups); skipped\n");
                return 77;
        }
        problem = daemon_binary_problem(b.opt.daemon);
        if (problem) {
                fprintf(stderr, "sandboxcg-bench: refusing to print numbers: %s\n", problem);
                return 2;
        }
        if (output) {
                out_file = fopen(output, "we");
                if (!out_file) {
                        fprintf(stderr, "sandboxcg-bench: cannot write %s: %m\n", output);
                        return 2;
                }
        }

        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGHUP, &sa, NULL);
        (void) signal(SIGPIPE, SIG_IGN);

        loadavg(res.load_start, sizeof res.load_start);
        r = host_discover(&b.host);
        if (r < 0)
                return r == -EOPNOTSUPP ? 77 : 1;
        r = setup_run_dir(&b);
        if (r < 0) {
                fprintf(stderr, "bench: cannot set up %s: %s\n", b.run_dir, strerror(-r));
                goto finish;
        }
        r = host_make_parent(&b.host);
        if (r < 0)
                goto finish;
        r = cgroup_init();
        if (r != 0) {
                fprintf(stderr, "bench: libcgroup: cgroup_init: %s\n", cgroup_strerror(r));
                r = -EIO;
                goto finish;
        }

        /* A per-connection request rate limit (RequestRate=, 1000 by
         * default) would measure the limit, not the daemon: off. */
        b.no_rate_limit = daemon_has_option(&b, "--request-rate");
        r = daemon_start(&b, &res.ready0_s);
        if (r < 0)
                goto finish;
        res.rss0_kib = daemon_rss_kib(&b);
        r = daemon_probe(&b);
        if (r < 0)
                goto finish;
        fprintf(stderr, "bench: the floor and libcgroup write the %zu files the daemon lists in applied, with the "
                        "same values, in the same %zu hierarchies\n",
                b.host.n_plan, b.host.n_hier);

        bool want[_V_MAX];
        for (int v = 0; v < _V_MAX; v++)
                want[v] = wants(&b.opt, v == V_FLOOR ? "floor" : v == V_LIBCGROUP ? "libcgroup" : "daemon");

        for (unsigned round = 0; round < b.opt.rounds && (want[0] || want[1] || want[2]); round++) {
                fprintf(stderr, "bench: round %u of %u, %zu sandboxes\n", round + 1, b.opt.rounds, b.opt.n);
                for (int mode = 0; mode < _M_MAX; mode++) {
                        for (int v = 0; v < _V_MAX; v++)
                                if (want[v] && (r = run_life(&b, (Variant) v, mode, round, false)) < 0)
                                        goto finish;
                        for (int v = 0; v < _V_MAX; v += 2)
                                if (want[v] && (r = run_life(&b, (Variant) v, mode, round, true)) < 0)
                                        goto finish;
                }
                rounds_done = round + 1;
                lives_done = true;
        }

        if (wants(&b.opt, "scale")) {
                fprintf(stderr, "bench: open fds with %zu live VMMs\n", b.opt.n);
                r = measure_fds(&b, &res);
                if (r < 0)
                        goto finish;
                r = measure_scale(&b, &res);
                if (r < 0)
                        goto finish;
        }
        r = 0;

finish:
        if (r < 0 && b.daemon_pid > 0 && !daemon_alive(&b)) {
                fprintf(stderr, "bench: the daemon died\n");
                daemon_log_tail(&b);
                b.daemon_pid = -1;
        }
        cleanup(&b);
        loadavg(res.load_end, sizeof res.load_end);
        if (bench_interrupted)
                fprintf(stderr, "bench: interrupted; everything under %s removed\n", b.host.parent);
        else if (r < 0)
                fprintf(stderr, "bench: failed (%s); everything under %s removed\n", strerror(-r), b.host.parent);
        if (lives_done || res.have_scale || res.have_fds) {
                print_table(&b, &res, lives_done);
                out("(%s: %.0f s)\n", r < 0 ? "incomplete run" : "complete run",
                    (double) (now_ns() - t_start) / 1e9);
        }
        if (out_file)
                fclose(out_file);
        return r < 0 ? 1 : 0;
}
