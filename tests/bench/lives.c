/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/bench/bench.h"

#define KILL_TIMEOUT_MS 5000

static int fail(Worker *w, int error, const char *fmt, ...) _printf_(3, 4);
static int fail(Worker *w, int error, const char *fmt, ...)
{
        va_list ap;
        size_t l;

        va_start(ap, fmt);
        (void) vsnprintf(w->err, sizeof w->err, fmt, ap);
        va_end(ap);
        l = strlen(w->err);
        if (error > 0)
                (void) snprintf(w->err + l, sizeof w->err - l, ": %s", strerror(error));
        w->error = error > 0 ? -error : -EIO;
        return w->error;
}

/* ---- the floor: the same cgroupfs operations, no daemon ------------------- */

static int floor_write_node(Worker *w, size_t hier, const char *id, Node node)
{
        const Host *h = &w->b->host;
        char path[256];

        for (size_t i = 0; i < h->n_plan; i++) {
                const PlanWrite *p = &h->plan[i];
                if ((size_t) p->hier != hier || p->node != node)
                        continue;
                (void) snprintf(path, sizeof path, "%s/%s%s/%s", h->parent, id, node_suffix(node), p->file);
                int r = write_at(h->hier[hier].fd, path, p->value);
                if (r < 0)
                        return fail(w, -r, "write %s to %s/%s", p->value, h->hier[hier].rel, path);
        }
        return 0;
}

static int floor_create(Worker *w, const char *id)
{
        const Host *h = &w->b->host;
        char path[256];
        int r;

        /* Per hierarchy: S, its limits, then the children and theirs (v1
         * cpuset: before any task can come). */
        for (size_t i = 0; i < h->n_hier; i++) {
                const Hier *x = &h->hier[i];
                (void) snprintf(path, sizeof path, "%s/%s", h->parent, id);
                if (mkdirat(x->fd, path, 0755) < 0)
                        return fail(w, errno, "mkdir %s/%s", x->rel, path);
                r = floor_write_node(w, i, id, NODE_S);
                if (r < 0)
                        return r;
                if (!x->children)
                        continue;
                for (Node n = NODE_VCPU; n <= NODE_OVERHEAD; n++) {
                        (void) snprintf(path, sizeof path, "%s/%s%s", h->parent, id, node_suffix(n));
                        if (mkdirat(x->fd, path, 0755) < 0)
                                return fail(w, errno, "mkdir %s/%s", x->rel, path);
                        if (x->controllers & (1u << CTL_CPUSET)) {
                                char f[300];
                                (void) snprintf(f, sizeof f, "%s/cpuset.cpus", path);
                                r = write_at(x->fd, f, h->cpus);
                                if (r >= 0) {
                                        (void) snprintf(f, sizeof f, "%s/cpuset.mems", path);
                                        r = write_at(x->fd, f, h->mems);
                                }
                                if (r < 0)
                                        return fail(w, -r, "write %s/%s", x->rel, f);
                        }
                }
                for (Node n = NODE_VCPU; n <= NODE_OVERHEAD; n++) {
                        r = floor_write_node(w, i, id, n);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int floor_attach(Worker *w, const char *id, const Standin *s)
{
        const Host *h = &w->b->host;
        char path[256], pid[16], tid[16];
        int r;

        (void) snprintf(pid, sizeof pid, "%d", (int) s->pid);
        (void) snprintf(tid, sizeof tid, "%d", (int) s->tid);
        /* The whole process into S everywhere, into pod_overhead where the
         * children are (last), then the vCPU thread alone into vcpu. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < h->n_hier; i++) {
                        const Hier *x = &h->hier[i];
                        if (x->children != (pass == 1))
                                continue;
                        (void) snprintf(path, sizeof path, "%s/%s%s/cgroup.procs", h->parent, id,
                                        x->children ? "/pod_overhead" : "");
                        r = write_at(x->fd, path, pid);
                        if (r < 0)
                                return fail(w, -r, "write %s to %s/%s", pid, x->rel, path);
                }
        const Hier *c = &h->hier[h->ctl_hier[CTL_CPU]];
        (void) snprintf(path, sizeof path, "%s/%s/vcpu/tasks", h->parent, id);
        r = write_at(c->fd, path, tid);
        if (r < 0)
                return fail(w, -r, "write %s to %s/%s", tid, c->rel, path);
        return 0;
}

static bool events_populated(int fd, int *ret_error)
{
        char buf[256];
        ssize_t k = pread(fd, buf, sizeof buf - 1, 0);

        if (k < 0) {
                *ret_error = errno;
                return false;
        }
        buf[k] = '\0';
        *ret_error = 0;
        return strstr(buf, "populated 1") != NULL;
}

static int floor_delete(Worker *w, const char *id)
{
        const Host *h = &w->b->host;
        const Hier *u = &h->hier[h->unified];
        char path[256];
        int error = 0;

        /* Kill what is left with cgroup.kill on S in the cgroup2 tree (every
         * task is there too), and wait on cgroup.events until it is empty. */
        (void) snprintf(path, sizeof path, "%s/%s/cgroup.events", h->parent, id);
        int fd = openat(u->fd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return fail(w, errno, "open %s/%s", u->rel, path);
        if (events_populated(fd, &error)) {
                char kill_path[256];
                (void) snprintf(kill_path, sizeof kill_path, "%s/%s/cgroup.kill", h->parent, id);
                int r = write_at(u->fd, kill_path, "1");
                if (r < 0) {
                        close(fd);
                        return fail(w, -r, "write 1 to %s/%s", u->rel, kill_path);
                }
                uint64_t deadline = now_ns() + KILL_TIMEOUT_MS * UINT64_C(1000000);
                while (events_populated(fd, &error)) {
                        struct pollfd p = { .fd = fd, .events = POLLPRI };
                        if (now_ns() > deadline) {
                                close(fd);
                                return fail(w, ETIMEDOUT, "%s/%s still populated", u->rel, path);
                        }
                        (void) poll(&p, 1, 100);
                }
        }
        close(fd);
        if (error)
                return fail(w, error, "read %s/%s", u->rel, path);

        /* Leaves first. */
        for (size_t i = 0; i < h->n_hier; i++) {
                const Hier *x = &h->hier[i];
                for (int n = x->children ? NODE_OVERHEAD : NODE_S; n >= NODE_S; n--) {
                        (void) snprintf(path, sizeof path, "%s/%s%s", h->parent, id, node_suffix((Node) n));
                        for (int try = 0;; try++) {
                                if (unlinkat(x->fd, path, AT_REMOVEDIR) >= 0)
                                        break;
                                if (errno != EBUSY || try >= 1000)
                                        return fail(w, errno, "rmdir %s/%s", x->rel, path);
                                sched_yield();
                        }
                }
        }
        return 0;
}

const Life life_floor = {
        .name = "floor",
        .create = floor_create,
        .attach = floor_attach,
        .delete = floor_delete,
};

/* ---- libcgroup: the same life through its C API --------------------------- */

static int cg_fail(Worker *w, int r, const char *what, const char *path)
{
        int e = r == ECGOTHER ? cgroup_get_last_errno() : 0;
        return fail(w, 0, "libcgroup %s %s: %s%s%s", what, path, cgroup_strerror(r), e ? ": " : "",
                    e ? strerror(e) : "");
}

static int lcg_create_node(Worker *w, const char *id, Node node)
{
        const Host *h = &w->b->host;
        char path[256];
        struct cgroup *cg;
        int r;

        (void) snprintf(path, sizeof path, "%s/%s%s", h->parent, id, node_suffix(node));
        cg = cgroup_new_cgroup(path);
        if (!cg)
                return fail(w, ENOMEM, "cgroup_new_cgroup");
        for (int c = 0; c < _CTL_MAX; c++) {
                int hier = h->ctl_hier[c];
                if (hier < 0 || (node != NODE_S && !h->hier[hier].children))
                        continue;
                struct cgroup_controller *ctl = cgroup_add_controller(cg, ctl_name((Ctl) c));
                if (!ctl) {
                        cgroup_free(&cg);
                        return fail(w, 0, "libcgroup has no controller %s", ctl_name((Ctl) c));
                }
                if (node != NODE_S && c == CTL_CPUSET) {
                        (void) cgroup_add_value_string(ctl, "cpuset.cpus", h->cpus);
                        (void) cgroup_add_value_string(ctl, "cpuset.mems", h->mems);
                }
                for (size_t i = 0; i < h->n_plan; i++) {
                        const PlanWrite *p = &h->plan[i];
                        if (p->ctl != (Ctl) c || p->node != node)
                                continue;
                        r = cgroup_add_value_string(ctl, p->file, p->value);
                        if (r != 0) {
                                cgroup_free(&cg);
                                return cg_fail(w, r, "add value", p->file);
                        }
                }
        }
        r = cgroup_create_cgroup(cg, 0);
        cgroup_free(&cg);
        if (r != 0)
                return cg_fail(w, r, "create", path);
        return 0;
}

static int lcg_create(Worker *w, const char *id)
{
        for (Node n = NODE_S; n <= NODE_OVERHEAD; n++) {
                int r = lcg_create_node(w, id, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The controllers of the hierarchies with (or without) the children. */
static void controllers_of(const Host *h, bool children, const char **ret, size_t max)
{
        size_t n = 0;

        for (int c = 0; c < _CTL_MAX && n + 1 < max; c++)
                if (h->ctl_hier[c] >= 0 && h->hier[h->ctl_hier[c]].children == children)
                        ret[n++] = ctl_name((Ctl) c);
        ret[n] = NULL;
}

static int lcg_attach(Worker *w, const char *id, const Standin *s)
{
        const Host *h = &w->b->host;
        const char *ctls[_CTL_MAX + 1];
        char path[256];
        struct cgroup *cg;
        int r;

        /* cgroup_change_cgroup_path() moves every thread of the process, as
         * cgclassify does. */
        controllers_of(h, false, ctls, ELEMENTSOF(ctls));
        (void) snprintf(path, sizeof path, "%s/%s", h->parent, id);
        r = cgroup_change_cgroup_path(path, s->pid, ctls);
        if (r != 0)
                return cg_fail(w, r, "change_cgroup_path", path);
        controllers_of(h, true, ctls, ELEMENTSOF(ctls));
        (void) snprintf(path, sizeof path, "%s/%s/pod_overhead", h->parent, id);
        r = cgroup_change_cgroup_path(path, s->pid, ctls);
        if (r != 0)
                return cg_fail(w, r, "change_cgroup_path", path);

        (void) snprintf(path, sizeof path, "%s/%s/vcpu", h->parent, id);
        cg = cgroup_new_cgroup(path);
        if (!cg || !cgroup_add_controller(cg, "cpu")) {
                cgroup_free(&cg);
                return fail(w, ENOMEM, "cgroup_new_cgroup");
        }
        r = cgroup_attach_task_pid(cg, s->tid);
        cgroup_free(&cg);
        if (r != 0)
                return cg_fail(w, r, "attach_task_pid", path);
        return 0;
}

/* SIGKILL every task libcgroup lists in S; how many there were. */
static int lcg_kill_tasks(Worker *w, const char *path, const char *ctl)
{
        void *handle = NULL;
        pid_t pid;
        int n = 0, r;

        r = cgroup_get_task_begin(path, ctl, &handle, &pid);
        while (r == 0) {
                (void) kill(pid, SIGKILL);
                n++;
                r = cgroup_get_task_next(&handle, &pid);
        }
        (void) cgroup_get_task_end(&handle);
        if (r != ECGEOF)
                return cg_fail(w, r, "get_task", path);
        return n;
}

static int lcg_delete(Worker *w, const char *id)
{
        const Host *h = &w->b->host;
        char path[256];
        struct cgroup *cg;
        int r;

        /* libcgroup cannot kill a cgroup: list its tasks and SIGKILL them
         * until none is listed (every thread is in S in the hierarchies
         * without children). */
        const char *list_ctl = NULL;
        for (int c = 0; c < _CTL_MAX && !list_ctl; c++)
                if (h->ctl_hier[c] >= 0 && h->hier[h->ctl_hier[c]].version == 1 && !h->hier[h->ctl_hier[c]].children)
                        list_ctl = ctl_name((Ctl) c);
        (void) snprintf(path, sizeof path, "%s/%s", h->parent, id);
        uint64_t deadline = now_ns() + KILL_TIMEOUT_MS * UINT64_C(1000000);
        for (unsigned spins = 0;; spins++) {
                r = lcg_kill_tasks(w, path, list_ctl);
                if (r <= 0)
                        break;
                if (now_ns() > deadline)
                        return fail(w, ETIMEDOUT, "tasks left in %s/%s", list_ctl, path);
                if (spins > 100)
                        (void) usleep(100);
                else
                        sched_yield();
        }
        if (r < 0)
                return r;

        cg = cgroup_new_cgroup(path);
        if (!cg)
                return fail(w, ENOMEM, "cgroup_new_cgroup");
        for (int c = 0; c < _CTL_MAX; c++)
                if (h->ctl_hier[c] >= 0 && !cgroup_add_controller(cg, ctl_name((Ctl) c))) {
                        cgroup_free(&cg);
                        return fail(w, 0, "libcgroup has no controller %s", ctl_name((Ctl) c));
                }
        r = cgroup_delete_cgroup_ext(cg, CGFLAG_DELETE_RECURSIVE);
        cgroup_free(&cg);
        if (r != 0)
                return cg_fail(w, r, "delete", path);
        return 0;
}

const Life life_libcgroup = {
        .name = "libcgroup",
        .create = lcg_create,
        .attach = lcg_attach,
        .delete = lcg_delete,
};
