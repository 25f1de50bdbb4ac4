/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/bench/bench.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

static const char *const ctl_names[_CTL_MAX] = {
        [CTL_CPU] = "cpu",         [CTL_CPUACCT] = "cpuacct", [CTL_CPUSET] = "cpuset", [CTL_MEMORY] = "memory",
        [CTL_HUGETLB] = "hugetlb", [CTL_PIDS] = "pids",       [CTL_FREEZER] = "freezer",
};

const char *ctl_name(Ctl c)
{
        return ctl_names[c];
}

const char *node_suffix(Node n)
{
        return n == NODE_VCPU ? "/vcpu" : n == NODE_OVERHEAD ? "/pod_overhead" : "";
}

int read_at(int dir_fd, const char *path, char *buf, size_t size)
{
        int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC);
        ssize_t k;

        if (fd < 0)
                return -errno;
        k = read(fd, buf, size - 1);
        if (k < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        close(fd);
        buf[k] = '\0';
        while (k > 0 && buf[k - 1] == '\n')
                buf[--k] = '\0';
        return 0;
}

int write_at(int dir_fd, const char *path, const char *value)
{
        int fd = openat(dir_fd, path, O_WRONLY | O_CLOEXEC);
        size_t l = strlen(value);
        ssize_t k;

        if (fd < 0)
                return -errno;
        k = write(fd, value, l);
        if (k < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        close(fd);
        return (size_t) k == l ? 0 : -EIO;
}

static void append(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static void append(char *buf, size_t size, const char *fmt, ...)
{
        size_t l = strlen(buf);
        va_list ap;

        if (l + 1 >= size)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(buf + l, size - l, fmt, ap);
        va_end(ap);
}

/* ---- discovery ----------------------------------------------------------- */

typedef struct Mount {
        char point[256];
        int version;
        unsigned controllers;
} Mount;

static int parse_mountinfo(Mount *mounts, size_t max, size_t *ret_n)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        _cleanup_free_ char *line = NULL;
        size_t sz = 0, n = 0;

        if (!f)
                return -errno;
        while (getline(&line, &sz, f) > 0) {
                char point[256], fstype[64], source[256], opts[512];
                const char *sep = strstr(line, " - ");
                Mount *m;

                if (!sep || sscanf(line, "%*s %*s %*s %*s %255s", point) != 1 ||
                    sscanf(sep + 3, "%63s %255s %511s", fstype, source, opts) != 3)
                        continue;
                if (!streq(fstype, "cgroup") && !streq(fstype, "cgroup2"))
                        continue;
                if (strncmp(point, CGROUP_ROOT, strlen(CGROUP_ROOT)) != 0 ||
                    (point[strlen(CGROUP_ROOT)] != '/' && point[strlen(CGROUP_ROOT)] != '\0'))
                        continue;
                if (n >= max)
                        return -E2BIG;
                m = &mounts[n++];
                *m = (Mount){ .version = streq(fstype, "cgroup2") ? 2 : 1 };
                (void) snprintf(m->point, sizeof m->point, "%s", point);
                if (m->version == 1)
                        for (char *save = NULL, *t = strtok_r(opts, ",", &save); t; t = strtok_r(NULL, ",", &save))
                                for (int c = 0; c < _CTL_MAX; c++)
                                        if (streq(t, ctl_names[c]))
                                                m->controllers |= 1u << c;
        }
        *ret_n = n;
        return 0;
}

static bool word_in(const char *list, const char *word)
{
        size_t l = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += l)
                if ((p == list || p[-1] == ' ') && (p[l] == ' ' || p[l] == '\0'))
                        return true;
        return false;
}

static int add_hier(Host *h, const Mount *m, const char *name)
{
        Hier *x;

        if (h->n_hier >= MAX_HIER)
                return -E2BIG;
        x = &h->hier[h->n_hier];
        *x = (Hier){ .version = m->version, .fd = -1 };
        (void) snprintf(x->name, sizeof x->name, "%s", name);
        (void) snprintf(x->rel, sizeof x->rel, "%s", m->point + strlen(CGROUP_ROOT) + 1);
        x->fd = open(m->point, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (x->fd < 0)
                return -errno;
        return (int) h->n_hier++;
}

static void hugepage_sizes(Host *h)
{
        _cleanup_closedir_ DIR *d = opendir("/sys/kernel/mm/hugepages");
        char sizes[MAX_HUGEPAGE_SIZES][32];
        unsigned long long kb[MAX_HUGEPAGE_SIZES];
        size_t n = 0;

        for (struct dirent *de; d && (de = readdir(d)) && n < MAX_HUGEPAGE_SIZES;) {
                unsigned long long k;
                if (sscanf(de->d_name, "hugepages-%llukB", &k) != 1)
                        continue;
                kb[n] = k;
                if (k >= 1024 * 1024 && k % (1024 * 1024) == 0)
                        (void) snprintf(sizes[n], sizeof sizes[n], "%lluGB", k / (1024 * 1024));
                else if (k >= 1024 && k % 1024 == 0)
                        (void) snprintf(sizes[n], sizeof sizes[n], "%lluMB", k / 1024);
                else
                        (void) snprintf(sizes[n], sizeof sizes[n], "%lluKB", k);
                n++;
        }
        /* Smallest first, as the daemon lists them. */
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        if (kb[j] < kb[i]) {
                                SWAP(kb[i], kb[j]);
                                char t[32];
                                memcpy(t, sizes[i], sizeof t);
                                memcpy(sizes[i], sizes[j], sizeof t);
                                memcpy(sizes[j], t, sizeof t);
                        }
        memcpy(h->hugepage_sizes, sizes, sizeof sizes);
        h->n_hugepage_sizes = n;
}

static void describe_machine(Host *h)
{
        char model[256] = "?", os[256] = "?", line[512];
        unsigned cpus = 0;
        unsigned long long mem_kb = 0;
        struct utsname u;
        FILE *f;

        if ((f = fopen("/proc/cpuinfo", "re"))) {
                while (fgets(line, sizeof line, f)) {
                        char *colon = strchr(line, ':');
                        if (strncmp(line, "processor", 9) == 0)
                                cpus++;
                        else if (strncmp(line, "model name", 10) == 0 && colon && streq(model, "?")) {
                                (void) snprintf(model, sizeof model, "%s", colon + 2);
                                model[strcspn(model, "\n")] = '\0';
                        }
                }
                fclose(f);
        }
        if ((f = fopen("/proc/meminfo", "re"))) {
                while (fgets(line, sizeof line, f))
                        if (sscanf(line, "MemTotal: %llu kB", &mem_kb) == 1)
                                break;
                fclose(f);
        }
        if ((f = fopen("/etc/os-release", "re"))) {
                while (fgets(line, sizeof line, f))
                        if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
                                char *v = line + 12;
                                v += *v == '"';
                                (void) snprintf(os, sizeof os, "%s", v);
                                os[strcspn(os, "\"\n")] = '\0';
                        }
                fclose(f);
        }
        if (uname(&u) < 0)
                (void) snprintf(u.release, sizeof u.release, "?");
        (void) snprintf(h->description, sizeof h->description, "%u CPUs (%s), %.1f GiB RAM; %s; kernel %s", cpus,
                        model, (double) mem_kb / (1024.0 * 1024.0), os, u.release);
}

int host_discover(Host *h)
{
        Mount mounts[32];
        size_t n = 0;
        int unified = -1, r;
        char controllers[256] = "";

        *h = (Host){ .unified = -1 };
        for (int c = 0; c < _CTL_MAX; c++)
                h->ctl_hier[c] = -1;
        describe_machine(h);

        r = parse_mountinfo(mounts, ELEMENTSOF(mounts), &n);
        if (r < 0) {
                fprintf(stderr, "bench: cannot read /proc/self/mountinfo: %s\n", strerror(-r));
                return r;
        }
        for (size_t i = 0; i < n; i++)
                if (mounts[i].version == 2)
                        unified = (int) i;
        if (unified >= 0 && streq(mounts[unified].point, CGROUP_ROOT)) {
                fprintf(stderr, "bench: this is a pure cgroup v2 host; the floor and libcgroup lives are written "
                                "for the v1 and hybrid layouts (DESIGN.md section 1) only\n");
                return -EOPNOTSUPP;
        }
        if (unified < 0) {
                fprintf(stderr, "bench: no cgroup2 mount below %s: the floor kills with cgroup.kill, which needs a "
                                "hybrid host\n", CGROUP_ROOT);
                return -EOPNOTSUPP;
        }

        /* The cgroup2 mount first, as the daemon lists it. */
        r = add_hier(h, &mounts[unified], "unified");
        if (r < 0)
                return r;
        h->unified = r;
        (void) read_at(h->hier[r].fd, "cgroup.controllers", controllers, sizeof controllers);

        for (int c = 0; c < _CTL_MAX; c++) {
                const Mount *m = NULL;
                for (size_t i = 0; i < n; i++)
                        if (mounts[i].version == 1 && (mounts[i].controllers & (1u << c)))
                                m = &mounts[i];
                if (!m) {
                        if (!word_in(controllers, ctl_names[c]))
                                continue;
                        h->ctl_hier[c] = h->unified;
                        h->hier[h->unified].controllers |= 1u << c;
                        continue;
                }
                int k = -1;
                for (size_t i = 0; i < h->n_hier; i++)
                        if (h->hier[i].version == 1 && streq(h->hier[i].rel, m->point + strlen(CGROUP_ROOT) + 1))
                                k = (int) i;
                if (k < 0) {
                        k = add_hier(h, m, ctl_names[c]);
                        if (k < 0)
                                return k;
                } else
                        append(h->hier[k].name, sizeof h->hier[k].name, ",%s", ctl_names[c]);
                h->ctl_hier[c] = k;
                h->hier[k].controllers |= 1u << c;
                if (c == CTL_CPU)
                        h->hier[k].children = true;
        }
        if (h->ctl_hier[CTL_CPU] < 0 || h->hier[h->ctl_hier[CTL_CPU]].version != 1) {
                fprintf(stderr, "bench: no cgroup v1 cpu hierarchy\n");
                return -EOPNOTSUPP;
        }
        hugepage_sizes(h);
        if (h->ctl_hier[CTL_MEMORY] >= 0)
                h->memsw = faccessat(h->hier[h->ctl_hier[CTL_MEMORY]].fd, "memory.memsw.limit_in_bytes", F_OK, 0) == 0;

        (void) snprintf(h->layout, sizeof h->layout, "hybrid: v1");
        for (size_t i = 0; i < h->n_hier; i++)
                if (h->hier[i].version == 1)
                        append(h->layout, sizeof h->layout, " %s", h->hier[i].name);
        append(h->layout, sizeof h->layout, "; cgroup2 at %s/%s (%s)", CGROUP_ROOT, h->hier[h->unified].rel,
               controllers[0] ? controllers : "no controllers");
        (void) snprintf(h->parent, sizeof h->parent, "scg-bench-%d", (int) getpid());
        return 0;
}

/* ---- the plan: every limit file, as the daemon writes them ---------------- */

static void plan_add(Host *h, Ctl c, Node node, const char *file, const char *fmt, ...) _printf_(5, 6);
static void plan_add(Host *h, Ctl c, Node node, const char *file, const char *fmt, ...)
{
        PlanWrite *w;
        va_list ap;

        if (h->ctl_hier[c] < 0 || h->n_plan >= MAX_PLAN)
                return;
        w = &h->plan[h->n_plan++];
        *w = (PlanWrite){ .hier = h->ctl_hier[c], .ctl = c, .node = node };
        (void) snprintf(w->file, sizeof w->file, "%s", file);
        va_start(ap, fmt);
        (void) vsnprintf(w->value, sizeof w->value, fmt, ap);
        va_end(ap);
}

static void make_plan(Host *h)
{
        /* S carries the totals: the quota combined at the pod's period,
         * shares and memory summed (DESIGN.md section 1). */
        int64_t quota = SPEC_RES_QUOTA + (int64_t) SPEC_OVH_QUOTA * SPEC_RES_PERIOD / SPEC_OVH_PERIOD;
        const Hier *hh = h->ctl_hier[CTL_HUGETLB] >= 0 ? &h->hier[h->ctl_hier[CTL_HUGETLB]] : NULL;

        h->n_plan = 0;
        plan_add(h, CTL_CPUSET, NODE_S, "cpuset.cpus", "%s", h->cpus);
        plan_add(h, CTL_CPUSET, NODE_S, "cpuset.mems", "%s", h->mems);
        plan_add(h, CTL_CPU, NODE_S, "cpu.cfs_period_us", "%d", SPEC_RES_PERIOD);
        plan_add(h, CTL_CPU, NODE_S, "cpu.cfs_quota_us", "%" PRIi64, quota);
        plan_add(h, CTL_CPU, NODE_S, "cpu.shares", "%d", SPEC_RES_SHARES + SPEC_OVH_SHARES);
        plan_add(h, CTL_MEMORY, NODE_S, "memory.limit_in_bytes", "%" PRIi64, SPEC_RES_MEMORY + SPEC_OVH_MEMORY);
        if (h->memsw)
                plan_add(h, CTL_MEMORY, NODE_S, "memory.memsw.limit_in_bytes", "%" PRIi64,
                         SPEC_RES_SWAP + SPEC_OVH_MEMORY);
        for (size_t i = 0; hh && i < h->n_hugepage_sizes; i++) {
                const char *sz = h->hugepage_sizes[i];
                char max[64], rsvd[64], probe[128];
                if (hh->version == 2) {
                        (void) snprintf(max, sizeof max, "hugetlb.%s.max", sz);
                        (void) snprintf(rsvd, sizeof rsvd, "hugetlb.%s.rsvd.max", sz);
                } else {
                        (void) snprintf(max, sizeof max, "hugetlb.%s.limit_in_bytes", sz);
                        (void) snprintf(rsvd, sizeof rsvd, "hugetlb.%s.rsvd.limit_in_bytes", sz);
                }
                plan_add(h, CTL_HUGETLB, NODE_S, max, "%" PRIu64, SPEC_RES_HUGEPAGES);
                (void) snprintf(probe, sizeof probe, "%s/%s", h->parent, rsvd);
                if (faccessat(hh->fd, probe, F_OK, 0) == 0)
                        plan_add(h, CTL_HUGETLB, NODE_S, rsvd, "%" PRIu64, SPEC_RES_HUGEPAGES);
        }
        plan_add(h, CTL_PIDS, NODE_S, "pids.max", "%d", SPEC_RES_PIDS);
        plan_add(h, CTL_CPU, NODE_VCPU, "cpu.cfs_period_us", "%d", SPEC_RES_PERIOD);
        plan_add(h, CTL_CPU, NODE_VCPU, "cpu.cfs_quota_us", "%d", SPEC_RES_QUOTA);
        plan_add(h, CTL_CPU, NODE_VCPU, "cpu.shares", "%d", SPEC_RES_SHARES);
        plan_add(h, CTL_CPU, NODE_OVERHEAD, "cpu.cfs_period_us", "%d", SPEC_OVH_PERIOD);
        plan_add(h, CTL_CPU, NODE_OVERHEAD, "cpu.cfs_quota_us", "%d", SPEC_OVH_QUOTA);
        plan_add(h, CTL_CPU, NODE_OVERHEAD, "cpu.shares", "%d", SPEC_OVH_SHARES);
}

void plan_path(const Host *h, const PlanWrite *w, const char *id, char *buf, size_t size)
{
        (void) snprintf(buf, size, "%s/%s/%s%s/%s", h->hier[w->hier].rel, h->parent, id, node_suffix(w->node),
                        w->file);
}

/* ---- the run's parent ------------------------------------------------------ */

int host_make_parent(Host *h)
{
        const Hier *u = &h->hier[h->unified];
        char path[256];
        int r;

        for (size_t i = 0; i < h->n_hier; i++) {
                Hier *x = &h->hier[i];
                if (mkdirat(x->fd, h->parent, 0755) < 0) {
                        r = -errno;
                        fprintf(stderr, "bench: cannot create %s/%s/%s: %s\n", CGROUP_ROOT, x->rel, h->parent,
                                strerror(-r));
                        return r;
                }
                h->parent_made = true;
                if (x->controllers & (1u << CTL_CPUSET)) {
                        /* A new v1 cpuset level takes no task until it has
                         * cpus and mems: the root's. */
                        static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
                        for (size_t k = 0; k < ELEMENTSOF(files); k++) {
                                char v[256];
                                r = read_at(x->fd, files[k], v, sizeof v);
                                if (r >= 0) {
                                        (void) snprintf(path, sizeof path, "%s/%s", h->parent, files[k]);
                                        r = write_at(x->fd, path, v);
                                }
                                if (r < 0) {
                                        fprintf(stderr, "bench: cannot populate %s/%s/%s/%s: %s\n", CGROUP_ROOT,
                                                x->rel, h->parent, files[k], strerror(-r));
                                        return r;
                                }
                        }
                }
        }
        /* Controllers of the cgroup2 tree that the sandboxes use: enabled
         * in our own level (the root's are the machine's). */
        for (int c = 0; c < _CTL_MAX; c++) {
                char enabled[256] = "", want[32];
                if (h->ctl_hier[c] != h->unified)
                        continue;
                (void) read_at(u->fd, "cgroup.subtree_control", enabled, sizeof enabled);
                if (!word_in(enabled, ctl_names[c])) {
                        fprintf(stderr, "bench: %s is not enabled in %s/%s/cgroup.subtree_control; not changing "
                                        "the machine's root\n", ctl_names[c], CGROUP_ROOT, u->rel);
                        return -EOPNOTSUPP;
                }
                (void) snprintf(path, sizeof path, "%s/cgroup.subtree_control", h->parent);
                (void) snprintf(want, sizeof want, "+%s", ctl_names[c]);
                r = write_at(u->fd, path, want);
                if (r < 0) {
                        fprintf(stderr, "bench: cannot write %s to %s/%s/%s: %s\n", want, CGROUP_ROOT, u->rel, path,
                                strerror(-r));
                        return r;
                }
        }
        (void) snprintf(path, sizeof path, "%s/cgroup.kill", h->parent);
        if (faccessat(u->fd, path, F_OK, 0) < 0) {
                fprintf(stderr, "bench: the kernel has no cgroup.kill (Linux >= 5.14 needed)\n");
                return -EOPNOTSUPP;
        }
        if (h->ctl_hier[CTL_CPUSET] >= 0) {
                (void) snprintf(path, sizeof path, "%s/cpuset.effective_cpus", h->parent);
                r = read_at(h->hier[h->ctl_hier[CTL_CPUSET]].fd, path, h->cpus, sizeof h->cpus);
                if (r >= 0) {
                        (void) snprintf(path, sizeof path, "%s/cpuset.effective_mems", h->parent);
                        r = read_at(h->hier[h->ctl_hier[CTL_CPUSET]].fd, path, h->mems, sizeof h->mems);
                }
                if (r < 0)
                        return r;
        }
        make_plan(h);
        return 0;
}

static void sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        (void) nanosleep(&ts, NULL);
}

/* Depth first, everything below dirfd/name (name included). */
static int remove_tree(int parent_fd, const char *name)
{
        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        int r = 0;

        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                int k = remove_tree(dirfd(d), de->d_name);
                if (k < 0 && r == 0)
                        r = k;
        }
        closedir(d);
        for (int try = 0; try < 50; try++) {
                if (unlinkat(parent_fd, name, AT_REMOVEDIR) >= 0 || errno == ENOENT)
                        return r;
                if (errno != EBUSY)
                        break;
                sleep_ms(20);
        }
        return r ? r : -errno;
}

void host_remove_parent(Host *h)
{
        char path[256], ev[256];

        if (!h->parent_made)
                return;
        /* Anything still running below (after a failure): only ours. */
        const Hier *u = &h->hier[h->unified];
        (void) snprintf(path, sizeof path, "%s/cgroup.events", h->parent);
        if (read_at(u->fd, path, ev, sizeof ev) >= 0 && strstr(ev, "populated 1")) {
                (void) snprintf(path, sizeof path, "%s/cgroup.kill", h->parent);
                (void) write_at(u->fd, path, "1");
                for (int i = 0; i < 250; i++) {
                        (void) snprintf(path, sizeof path, "%s/cgroup.events", h->parent);
                        if (read_at(u->fd, path, ev, sizeof ev) < 0 || !strstr(ev, "populated 1"))
                                break;
                        sleep_ms(20);
                }
        }
        for (size_t i = 0; i < h->n_hier; i++) {
                int r = remove_tree(h->hier[i].fd, h->parent);
                if (r < 0)
                        fprintf(stderr, "bench: cannot remove %s/%s/%s: %s\n", CGROUP_ROOT, h->hier[i].rel,
                                h->parent, strerror(-r));
        }
        h->parent_made = false;
}

/* ---- checks on the kernel's files ----------------------------------------- */

int verify_created(const Host *h, const char *id, char *err, size_t size)
{
        for (size_t i = 0; i < h->n_plan; i++) {
                const PlanWrite *w = &h->plan[i];
                char path[256], v[256];
                (void) snprintf(path, sizeof path, "%s/%s%s/%s", h->parent, id, node_suffix(w->node), w->file);
                int r = read_at(h->hier[w->hier].fd, path, v, sizeof v);
                if (r < 0 || !streq(v, w->value)) {
                        (void) snprintf(err, size, "%s/%s/%s holds \"%s\" (%s), not \"%s\"", CGROUP_ROOT,
                                        h->hier[w->hier].rel, path, r < 0 ? "" : v, r < 0 ? strerror(-r) : "read",
                                        w->value);
                        return -EBADMSG;
                }
        }
        for (size_t i = 0; i < h->n_hier; i++) {
                char path[256];
                (void) snprintf(path, sizeof path, "%s/%s", h->parent, id);
                if (faccessat(h->hier[i].fd, path, F_OK, 0) < 0) {
                        (void) snprintf(err, size, "%s/%s/%s does not exist", CGROUP_ROOT, h->hier[i].rel, path);
                        return -ENOENT;
                }
        }
        return 0;
}

/* Where /proc/<pid>/task/<tid>/cgroup puts a task in hierarchy x. */
static int task_cgroup(const Hier *x, pid_t pid, pid_t tid, char *buf, size_t size)
{
        char path[64], line[512];
        FILE *f;

        (void) snprintf(path, sizeof path, "/proc/%d/task/%d/cgroup", (int) pid, (int) tid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f)) {
                char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
                if (!b)
                        continue;
                *b = '\0';
                line[strcspn(line, "\n")] = '\0';
                b[1 + strcspn(b + 1, "\n")] = '\0';
                bool match;
                if (x->version == 2)
                        match = a[1] == '\0';
                else {
                        char first[32];
                        (void) snprintf(first, sizeof first, "%s", x->name);
                        first[strcspn(first, ",")] = '\0';
                        char *list = a + 1;
                        match = false;
                        for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
                                match = match || streq(t, first);
                }
                if (match) {
                        (void) snprintf(buf, size, "%s", b + 1);
                        fclose(f);
                        return 0;
                }
        }
        fclose(f);
        return -ENOENT;
}

int verify_attached(const Host *h, const char *id, const Standin *s, char *err, size_t size)
{
        for (size_t i = 0; i < h->n_hier; i++) {
                const Hier *x = &h->hier[i];
                for (int k = 0; k < 2; k++) {
                        pid_t tid = k == 0 ? s->pid : s->tid;
                        char want[256], have[256];
                        (void) snprintf(want, sizeof want, "/%s/%s%s", h->parent, id,
                                        !x->children ? "" : k == 0 ? "/pod_overhead" : "/vcpu");
                        int r = task_cgroup(x, s->pid, tid, have, sizeof have);
                        if (r < 0 || !streq(have, want)) {
                                (void) snprintf(err, size, "task %d of %d is in %s:%s, not in %s", (int) tid,
                                                (int) s->pid, x->name, r < 0 ? strerror(-r) : have, want);
                                return -EBADMSG;
                        }
                }
        }
        return 0;
}

int verify_gone(const Host *h, const char *id, char *err, size_t size)
{
        for (size_t i = 0; i < h->n_hier; i++) {
                char path[256];
                (void) snprintf(path, sizeof path, "%s/%s", h->parent, id);
                if (faccessat(h->hier[i].fd, path, F_OK, 0) == 0 || errno != ENOENT) {
                        (void) snprintf(err, size, "%s/%s/%s still exists", CGROUP_ROOT, h->hier[i].rel, path);
                        return -EEXIST;
                }
        }
        return 0;
}
