/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/bench/bench.h"

#define READY_TIMEOUT_MS 120000
#define CALL_TIMEOUT_USEC (120ULL * 1000000ULL)

/* The daemon is run as: [prefix...] sandboxcgd --config EMPTY --socket S
 * --state-dir D --max-sandboxes 20000 [--request-rate 0], with NOTIFY_SOCKET set to a datagram
 * socket of ours; BENCH_DAEMON_PREFIX (e.g. "strace -c -f -o FILE") runs it
 * under a tool. */

const char *daemon_binary_problem(const char *path)
{
        static const char *const marks[] = { "__asan_init", "__ubsan_handle_", "__tsan_init", "__msan_init" };
        static char msg[512];
        struct stat st;
        const char *found = NULL;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 4) {
                (void) snprintf(msg, sizeof msg, "%s: %s", path, strerror(fd < 0 ? errno : EINVAL));
                if (fd >= 0)
                        close(fd);
                return msg;
        }
        const char *p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (p == MAP_FAILED) {
                (void) snprintf(msg, sizeof msg, "%s: cannot map: %s", path, strerror(errno));
                return msg;
        }
        if (p[0] == '#' && p[1] == '!')
                found = "a script (a libtool wrapper?), not the daemon binary";
        for (size_t i = 0; !found && i < ELEMENTSOF(marks); i++)
                if (memmem(p, (size_t) st.st_size, marks[i], strlen(marks[i])))
                        found = "built with sanitizers (it references the ASan/UBSan runtime): its numbers would "
                                "measure the sanitizers; configure without --enable-sanitizers";
        munmap((void *) p, (size_t) st.st_size);
        if (!found)
                return NULL;
        (void) snprintf(msg, sizeof msg, "%s is %s", path, found);
        return msg;
}

void daemon_log_tail(Bench *b)
{
        char cmd[400];

        fprintf(stderr, "bench: last lines of the daemon's log %s:\n", b->log);
        (void) snprintf(cmd, sizeof cmd, "tail -n 20 '%s' >&2", b->log);
        (void) system(cmd);
}

/* Does the daemon take this option (its --help lists it)? */
bool daemon_has_option(Bench *b, const char *option)
{
        char cmd[600], line[512];
        bool found = false;
        FILE *f;

        (void) snprintf(cmd, sizeof cmd, "'%s' --help 2>/dev/null", b->opt.daemon);
        f = popen(cmd, "re");
        if (!f)
                return false;
        while (fgets(line, sizeof line, f))
                found = found || strstr(line, option);
        (void) pclose(f);
        return found;
}

bool daemon_alive(Bench *b)
{
        return b->daemon_pid > 0 && waitpid(b->daemon_pid, NULL, WNOHANG) == 0;
}

static void drain_notify(Bench *b)
{
        char buf[4096];
        while (recv(b->notify_fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
                ;
}

static _Noreturn void daemon_exec(Bench *b, pid_t parent)
{
        const char *argv[64];
        char *prefix = getenv("BENCH_DAEMON_PREFIX") ? strdup(getenv("BENCH_DAEMON_PREFIX")) : NULL;
        size_t n = 0;
        sigset_t none;
        int fd;

        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
                _exit(EXIT_FAILURE);
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                _exit(EXIT_FAILURE);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
                _exit(EXIT_FAILURE);
        (void) syscall(SYS_close_range, 3U, ~0U, 0U);
        if (setenv("NOTIFY_SOCKET", b->notify, 1) < 0)
                _exit(EXIT_FAILURE);
        (void) unsetenv("JOURNAL_STREAM");

        for (char *save = NULL, *t = prefix ? strtok_r(prefix, " ", &save) : NULL; t && n < 48;
             t = strtok_r(NULL, " ", &save))
                argv[n++] = t;
        argv[n++] = b->opt.daemon;
        argv[n++] = "--config";
        argv[n++] = b->config;
        argv[n++] = "--socket";
        argv[n++] = b->socket;
        argv[n++] = "--state-dir";
        argv[n++] = b->state_dir;
        argv[n++] = "--max-sandboxes";
        argv[n++] = "20000";
        if (b->no_rate_limit) {
                argv[n++] = "--request-rate";
                argv[n++] = "0";
        }
        argv[n] = NULL;
        execvp(argv[0], (char *const *) argv);
        fprintf(stderr, "bench: cannot run %s: %m\n", argv[0]);
        _exit(127);
}

int daemon_start(Bench *b, double *ret_ready_s)
{
        pid_t parent = getpid(), pid;
        uint64_t t0;

        drain_notify(b);
        t0 = now_ns();
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                daemon_exec(b, parent);
        b->daemon_pid = pid;

        for (uint64_t deadline = t0 + READY_TIMEOUT_MS * UINT64_C(1000000);;) {
                struct pollfd p = { .fd = b->notify_fd, .events = POLLIN };
                char buf[4096];
                int k = poll(&p, 1, 50);

                if (bench_interrupted)
                        return -EINTR;
                if (k > 0) {
                        ssize_t l = recv(b->notify_fd, buf, sizeof buf - 1, MSG_DONTWAIT);
                        if (l > 0) {
                                buf[l] = '\0';
                                if (strncmp(buf, "READY=1", 7) == 0 || strstr(buf, "\nREADY=1")) {
                                        if (ret_ready_s)
                                                *ret_ready_s = (double) (now_ns() - t0) / 1e9;
                                        return 0;
                                }
                        }
                        continue;
                }
                if (!daemon_alive(b)) {
                        fprintf(stderr, "bench: the daemon exited before READY=1\n");
                        b->daemon_pid = -1;
                        daemon_log_tail(b);
                        return -ECHILD;
                }
                if (now_ns() > deadline) {
                        fprintf(stderr, "bench: no READY=1 from the daemon within %d s\n", READY_TIMEOUT_MS / 1000);
                        return -ETIMEDOUT;
                }
        }
}

int daemon_stop(Bench *b)
{
        int status = 0;

        if (b->daemon_pid <= 0)
                return 0;
        (void) kill(b->daemon_pid, SIGTERM);
        for (int i = 0; i < 3000; i++) {
                pid_t k = waitpid(b->daemon_pid, &status, WNOHANG);
                if (k == b->daemon_pid || (k < 0 && errno == ECHILD)) {
                        b->daemon_pid = -1;
                        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPROTO;
                }
                struct timespec ts = { 0, 10000000 };
                (void) nanosleep(&ts, NULL);
        }
        fprintf(stderr, "bench: the daemon did not stop within 30 s of SIGTERM; killing it\n");
        (void) kill(b->daemon_pid, SIGKILL);
        (void) waitpid(b->daemon_pid, NULL, 0);
        b->daemon_pid = -1;
        return -ETIMEDOUT;
}

long daemon_rss_kib(Bench *b)
{
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        (void) snprintf(path, sizeof path, "/proc/%d/status", (int) b->daemon_pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

/* CPU time of the daemon (all its threads), from /proc/<pid>/stat (clock
 * ticks); 0 when unknown. */
uint64_t daemon_cpu_ns(Bench *b)
{
        char path[64], buf[1024];
        unsigned long long ut = 0, st = 0;
        int fd;
        ssize_t k;

        if (b->daemon_pid <= 0)
                return 0;
        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) b->daemon_pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        k = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (k <= 0)
                return 0;
        buf[k] = '\0';
        const char *p = strrchr(buf, ')');
        /* After "pid (comm)": state is field 3, utime 14, stime 15. */
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return 0;
        return (ut + st) * (UINT64_C(1000000000) / (uint64_t) sysconf(_SC_CLK_TCK));
}

int daemon_fd_count(Bench *b)
{
        char path[64];
        int n = 0;

        (void) snprintf(path, sizeof path, "/proc/%d/fd", (int) b->daemon_pid);
        _cleanup_closedir_ DIR *d = opendir(path);
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_name[0] != '.')
                        n++;
        return n;
}

int daemon_connect(Bench *b, SandboxcgClient **ret)
{
        SandboxcgClient *c = NULL;
        int r = sandboxcg_client_new(&c, b->socket);

        if (r < 0)
                return r;
        (void) sandboxcg_client_set_timeout(c, CALL_TIMEOUT_USEC);
        *ret = c;
        return 0;
}

/* ---- the life through libsandboxcg ----------------------------------------- */

typedef struct DaemonSpec {
        Sandboxcg__V1__Resources res, ovh;
        Sandboxcg__V1__HugepageLimit hp[MAX_HUGEPAGE_SIZES];
        Sandboxcg__V1__HugepageLimit *hpv[MAX_HUGEPAGE_SIZES];
} DaemonSpec;

#define SET(m, f, v)                 \
        do {                         \
                (m).has_##f = true;  \
                (m).f = (v);         \
        } while (0)

static void spec_init(const Host *h, DaemonSpec *s)
{
        s->res = (Sandboxcg__V1__Resources) SANDBOXCG__V1__RESOURCES__INIT;
        s->ovh = (Sandboxcg__V1__Resources) SANDBOXCG__V1__RESOURCES__INIT;
        SET(s->res, cpu_period, SPEC_RES_PERIOD);
        SET(s->res, cpu_quota, SPEC_RES_QUOTA);
        SET(s->res, cpu_shares, SPEC_RES_SHARES);
        if (h->ctl_hier[CTL_CPUSET] >= 0) {
                s->res.cpuset_cpus = (char *) h->cpus;
                s->res.cpuset_mems = (char *) h->mems;
        }
        SET(s->res, memory_limit_in_bytes, SPEC_RES_MEMORY);
        if (h->memsw)
                SET(s->res, memory_swap_limit_in_bytes, SPEC_RES_SWAP);
        if (h->ctl_hier[CTL_HUGETLB] >= 0) {
                for (size_t i = 0; i < h->n_hugepage_sizes; i++) {
                        s->hp[i] = (Sandboxcg__V1__HugepageLimit) SANDBOXCG__V1__HUGEPAGE_LIMIT__INIT;
                        s->hp[i].page_size = (char *) h->hugepage_sizes[i];
                        SET(s->hp[i], limit, SPEC_RES_HUGEPAGES);
                        s->hpv[i] = &s->hp[i];
                }
                s->res.hugepage_limits = s->hpv;
                s->res.n_hugepage_limits = h->n_hugepage_sizes;
        }
        SET(s->res, pids_limit, SPEC_RES_PIDS);
        SET(s->ovh, cpu_period, SPEC_OVH_PERIOD);
        SET(s->ovh, cpu_quota, SPEC_OVH_QUOTA);
        SET(s->ovh, cpu_shares, SPEC_OVH_SHARES);
        SET(s->ovh, memory_limit_in_bytes, SPEC_OVH_MEMORY);
}

static int call_fail(Worker *w, SandboxcgClient *c, int r, const char *method, const char *id)
{
        if (r == -EREMOTEIO)
                (void) snprintf(w->err, sizeof w->err, "%s %s: %s: %s", method, id,
                                sandboxcg_code_to_string(sandboxcg_client_error_code(c)) ?: "?",
                                sandboxcg_client_error_message(c) ?: "");
        else
                (void) snprintf(w->err, sizeof w->err, "%s %s: %s", method, id, strerror(-r));
        w->error = r < 0 ? r : -EIO;
        return w->error;
}

static int d_worker_init(Worker *w)
{
        int r = daemon_connect(w->b, &w->client);
        if (r < 0) {
                (void) snprintf(w->err, sizeof w->err, "cannot connect to %s: %s", w->b->socket, strerror(-r));
                w->error = r;
        }
        return r;
}

static void d_worker_done(Worker *w)
{
        w->client = sandboxcg_client_free(w->client);
}

static int d_create(Worker *w, const char *id)
{
        Sandboxcg__V1__CreateSandboxRequest req = SANDBOXCG__V1__CREATE_SANDBOX_REQUEST__INIT;
        Sandboxcg__V1__CreateSandboxResponse *resp = NULL;
        DaemonSpec s;
        int r;

        spec_init(&w->b->host, &s);
        req.id = (char *) id;
        req.cgroup_parent = w->b->host.parent;
        req.resources = &s.res;
        req.overhead = &s.ovh;
        r = sandboxcg_client_create_sandbox(w->client, &req, &resp);
        if (r < 0)
                return call_fail(w, w->client, r, "CreateSandbox", id);
        bool created = resp->has_created && resp->created;
        sandboxcg__v1__create_sandbox_response__free_unpacked(resp, NULL);
        if (!created) {
                (void) snprintf(w->err, sizeof w->err, "CreateSandbox %s: created=false", id);
                return w->error = -EEXIST;
        }
        return 0;
}

static int d_attach(Worker *w, const char *id, const Standin *st)
{
        Sandboxcg__V1__AttachVmmRequest vreq = SANDBOXCG__V1__ATTACH_VMM_REQUEST__INIT;
        Sandboxcg__V1__AttachVmmResponse *vresp = NULL;
        Sandboxcg__V1__AttachVcpusRequest creq = SANDBOXCG__V1__ATTACH_VCPUS_REQUEST__INIT;
        Sandboxcg__V1__AttachVcpusResponse *cresp = NULL;
        int32_t tid = st->tid;
        int r;

        vreq.id = (char *) id;
        SET(vreq, pid, st->pid);
        r = sandboxcg_client_attach_vmm(w->client, &vreq, &vresp);
        if (r < 0)
                return call_fail(w, w->client, r, "AttachVmm", id);
        sandboxcg__v1__attach_vmm_response__free_unpacked(vresp, NULL);

        creq.id = (char *) id;
        creq.tids = &tid;
        creq.n_tids = 1;
        r = sandboxcg_client_attach_vcpus(w->client, &creq, &cresp);
        if (r < 0)
                return call_fail(w, w->client, r, "AttachVcpus", id);
        size_t attached = cresp->n_attached;
        sandboxcg__v1__attach_vcpus_response__free_unpacked(cresp, NULL);
        if (attached != 1) {
                (void) snprintf(w->err, sizeof w->err, "AttachVcpus %s: %zu threads attached, not 1", id, attached);
                return w->error = -EBADMSG;
        }
        return 0;
}

static int d_delete(Worker *w, const char *id)
{
        Sandboxcg__V1__DeleteSandboxRequest req = SANDBOXCG__V1__DELETE_SANDBOX_REQUEST__INIT;
        Sandboxcg__V1__DeleteSandboxResponse *resp = NULL;
        int r;

        req.id = (char *) id;
        r = sandboxcg_client_delete_sandbox(w->client, &req, &resp);
        if (r < 0)
                return call_fail(w, w->client, r, "DeleteSandbox", id);
        bool existed = resp->has_existed && resp->existed;
        sandboxcg__v1__delete_sandbox_response__free_unpacked(resp, NULL);
        if (!existed) {
                (void) snprintf(w->err, sizeof w->err, "DeleteSandbox %s: existed=false", id);
                return w->error = -ENOENT;
        }
        return 0;
}

const Life life_daemon = {
        .name = "sandboxcgd",
        .worker_init = d_worker_init,
        .worker_done = d_worker_done,
        .create = d_create,
        .attach = d_attach,
        .delete = d_delete,
};

int daemon_get(SandboxcgClient *c, const char *id)
{
        Sandboxcg__V1__GetSandboxRequest req = SANDBOXCG__V1__GET_SANDBOX_REQUEST__INIT;
        Sandboxcg__V1__GetSandboxResponse *resp = NULL;
        int r;

        req.id = (char *) id;
        r = sandboxcg_client_get_sandbox(c, &req, &resp);
        if (r < 0)
                return r;
        r = resp->sandbox && resp->sandbox->id && streq(resp->sandbox->id, id) ? 0 : -EBADMSG;
        sandboxcg__v1__get_sandbox_response__free_unpacked(resp, NULL);
        return r;
}

int daemon_list(SandboxcgClient *c, size_t expect, double *ret_ms, size_t *ret_bytes)
{
        Sandboxcg__V1__ListSandboxesResponse *resp = NULL;
        uint64_t t0 = now_ns();
        int r = sandboxcg_client_list_all_sandboxes(c, &resp);
        uint64_t t1 = now_ns();

        if (r < 0)
                return r;
        r = resp->n_sandboxes == expect ? 0 : -EBADMSG;
        if (ret_bytes)
                *ret_bytes = protobuf_c_message_get_packed_size(&resp->base);
        sandboxcg__v1__list_sandboxes_response__free_unpacked(resp, NULL);
        *ret_ms = (double) (t1 - t0) / 1e6;
        return r;
}

/* Until the daemon has seen every VMM exit (its pidfd watch), so that a
 * delete timed next does not include that work. */
int daemon_wait_exited(Bench *b, size_t n)
{
        SandboxcgClient *c = NULL;
        int r = daemon_connect(b, &c);

        if (r < 0)
                return r;
        for (int i = 0; i < 1000 && !bench_interrupted; i++) {
                Sandboxcg__V1__ListSandboxesResponse *resp = NULL;
                size_t exited = 0;
                r = sandboxcg_client_list_all_sandboxes(c, &resp);
                if (r < 0)
                        break;
                for (size_t k = 0; k < resp->n_sandboxes; k++)
                        exited += resp->sandboxes[k]->state == SANDBOXCG__V1__SANDBOX_STATE__SANDBOX_STATE_VMM_EXITED;
                sandboxcg__v1__list_sandboxes_response__free_unpacked(resp, NULL);
                if (exited >= n)
                        break;
                r = -ETIMEDOUT;
                struct timespec ts = { 0, 10000000 };
                (void) nanosleep(&ts, NULL);
        }
        sandboxcg_client_free(c);
        return r < 0 ? r : 0;
}

/* Does the floor write what the daemon writes? Create one sandbox through
 * the daemon and compare GetSandbox's `applied` (file and value the kernel
 * holds) and `cgroups` with the plan and the hierarchies. */
int daemon_probe(Bench *b)
{
        const Host *h = &b->host;
        Sandboxcg__V1__GetSandboxRequest greq = SANDBOXCG__V1__GET_SANDBOX_REQUEST__INIT;
        Sandboxcg__V1__GetSandboxResponse *g = NULL;
        Worker w = { .b = b };
        char id[ID_MAX], path[512];
        int r, bad = 0;

        (void) snprintf(id, sizeof id, "probe-%d", (int) getpid());
        r = d_worker_init(&w);
        if (r < 0)
                goto out;
        r = d_create(&w, id);
        if (r < 0)
                goto out;
        greq.id = id;
        r = sandboxcg_client_get_sandbox(w.client, &greq, &g);
        if (r < 0) {
                call_fail(&w, w.client, r, "GetSandbox", id);
                goto out;
        }
        const Sandboxcg__V1__Sandbox *s = g->sandbox;

        for (size_t i = 0; i < h->n_plan; i++) {
                const PlanWrite *p = &h->plan[i];
                bool found = false;
                plan_path(h, p, id, path, sizeof path);
                for (size_t k = 0; k < s->n_applied; k++)
                        if (s->applied[k]->file && streq(s->applied[k]->file, path)) {
                                found = true;
                                if (!s->applied[k]->value || !streq(s->applied[k]->value, p->value)) {
                                        fprintf(stderr, "bench: probe: %s: daemon \"%s\", floor \"%s\"\n", path,
                                                strempty(s->applied[k]->value), p->value);
                                        bad++;
                                }
                        }
                if (!found) {
                        fprintf(stderr, "bench: probe: the floor writes %s, the daemon does not\n", path);
                        bad++;
                }
        }
        for (size_t k = 0; k < s->n_applied; k++) {
                bool found = false;
                for (size_t i = 0; i < h->n_plan && !found; i++) {
                        plan_path(h, &h->plan[i], id, path, sizeof path);
                        found = s->applied[k]->file && streq(s->applied[k]->file, path);
                }
                if (!found) {
                        fprintf(stderr, "bench: probe: the daemon writes %s, the floor does not\n",
                                strempty(s->applied[k]->file));
                        bad++;
                }
        }
        for (size_t i = 0; i < h->n_hier; i++) {
                bool found = false;
                (void) snprintf(path, sizeof path, "/sys/fs/cgroup/%s/%s/%s", h->hier[i].rel, h->parent, id);
                for (size_t k = 0; k < s->n_cgroups; k++)
                        found = found || (s->cgroups[k]->hierarchy && s->cgroups[k]->path &&
                                          streq(s->cgroups[k]->hierarchy, h->hier[i].name) &&
                                          streq(s->cgroups[k]->path, path));
                if (!found) {
                        fprintf(stderr, "bench: probe: the daemon does not list %s: %s\n", h->hier[i].name, path);
                        bad++;
                }
        }
        if (s->n_cgroups != h->n_hier) {
                fprintf(stderr, "bench: probe: the daemon lists %zu hierarchies, the floor uses %zu\n", s->n_cgroups,
                        h->n_hier);
                bad++;
        }
        sandboxcg__v1__get_sandbox_response__free_unpacked(g, NULL);
        if (bad) {
                r = -EBADMSG;
                (void) snprintf(w.err, sizeof w.err, "the floor does not mirror the daemon (%d differences)", bad);
                (void) d_delete(&w, id);
                goto out;
        }
        r = d_delete(&w, id);
        if (r >= 0 && verify_gone(h, id, w.err, sizeof w.err) < 0)
                r = -EEXIST;
out:
        if (r < 0)
                fprintf(stderr, "bench: probe: %s\n", w.err);
        d_worker_done(&w);
        return r;
}
