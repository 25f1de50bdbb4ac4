/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* cgroup_update() without real cgroups: the engine runs over a temporary
 * tree laid out like the v1, v2 and hybrid hosts of the probe fixtures
 * (tests/unit/fixtures), with a regular file for every limit file, pre-filled
 * with the old values.
 *
 * The order of the writes is observed from outside the engine with inotify:
 * every write is an open(O_TRUNC), write(2), close(2) and ends in one
 * IN_CLOSE_WRITE event, queued in the order the files were closed (IN_MODIFY
 * is watched too, only so that two writes of one file in a row are never
 * merged into one event). Each test asserts the exact sequence of files, and
 * replays it, state by state, against the kernel's rules that make order
 * matter: on v1 a child's cpu quota/period never above S's
 * (kernel/sched/core.c tg_cfs_schedulable_down(); v2 clamps instead) and
 * memory.limit_in_bytes never above memory.memsw.limit_in_bytes
 * (mm/memcontrol-v1.c mem_cgroup_resize_max()); either is EINVAL.
 *
 * A write is made to fail by taking the write permission off its file: as
 * root the test first drops CAP_DAC_OVERRIDE from its effective set (the
 * tests run in forked children). Reads still work, so the update gets past
 * reading the old values and fails at exactly that write. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/strv.h"
#include "daemon/cgroup/cgroup.h"

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must name tests/unit/fixtures"
#endif

#define MiB INT64_C(1048576)
#define GiB INT64_C(1073741824)
#define SET(v) ((OptInt){ .set = true, .value = (v) })

#define PARENT "kubepods/burstable/pod1"
#define ID "sb1"

/* The layouts with v1 cpu and memory first: tests of v1 rules loop over 0..2. */
static const char *const layouts[] = { "v1", "hybrid", "v2" };

static char basedir[PATH_MAX];  /* per test case, removed by the runner */
static char root[PATH_MAX];     /* per test: the cgroup root of the fake host */
static HostProbe host;
static CgroupEngine eng;
static int inotify_fd = -EBADF;

/* Watched directories, by watch descriptor. */
static struct {
        int wd;
        char *dir;
} watches[16];
static size_t n_watches;

/* The files of the tree: path relative to root, and the value it had before
 * the update (what a rollback must restore). */
typedef struct FakeFile {
        char *path;
        char *old;
} FakeFile;
static FakeFile files[64];
static size_t n_files;

/* ---- the fake host --------------------------------------------------------- */

static void basedir_setup(void)
{
        const char *tmp = getenv("TMPDIR") ?: "/tmp";

        ck_assert_int_lt(snprintf(basedir, sizeof basedir, "%s/test-update-XXXXXX", tmp),
                         (int) sizeof basedir);
        ck_assert_ptr_nonnull(mkdtemp(basedir));
}

static int remove_one(const char *path, _unused_ const struct stat *st, _unused_ int type,
                      _unused_ struct FTW *ftw)
{
        (void) remove(path);
        return 0;
}

static void basedir_teardown(void)
{
        if (basedir[0])
                (void) nftw(basedir, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        basedir[0] = '\0';
}

static char *at_root(const char *rel)
{
        char *p = NULL;
        ck_assert_int_ge(asprintf(&p, "%s/%s", root, rel), 0);
        return p;
}

static void mkdir_p(const char *rel)
{
        while (*rel == '/')
                rel++;
        if (!*rel)
                return;
        _cleanup_free_ char *p = at_root(rel);
        for (char *s = p + strlen(root) + 1;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char c = *s;
                *s = '\0';
                ck_assert_msg(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s: %m", p);
                *s = c;
                if (!c)
                        break;
        }
}

static void put(const char *rel, const char *value)
{
        _cleanup_free_ char *p = at_root(rel);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        size_t n = strlen(value);

        ck_assert_msg(fd >= 0, "%s: %m", p);
        ck_assert_int_eq(write(fd, value, n), (ssize_t) n);
}

static char *get(const char *rel)
{
        _cleanup_free_ char *p = at_root(rel);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
        char buf[CGROUP_WRITE_VALUE_MAX + 1];
        ssize_t n;

        ck_assert_msg(fd >= 0, "%s: %m", p);
        n = read(fd, buf, sizeof buf - 1);
        ck_assert_int_ge(n, 0);
        buf[n] = '\0';
        return strdup(buf);
}

/* "/sys/fs/cgroup/..." of the fixture -> root/... */
static void rebase(char **path)
{
        static const char prefix[] = "/sys/fs/cgroup";
        char *p = NULL;

        if (!*path)
                return;
        ck_assert_msg(strncmp(*path, prefix, strlen(prefix)) == 0, "fixture mount %s", *path);
        ck_assert_int_ge(asprintf(&p, "%s%s", root, *path + strlen(prefix)), 0);
        free(*path);
        *path = p;
}

/* The hierarchies of a probe fixture, mounted at root. */
static void host_setup(const char *layout)
{
        char prefix[PATH_MAX];
        Error e = {};

        ck_assert_int_lt(snprintf(root, sizeof root, "%s/%s-XXXXXX", basedir, layout), (int) sizeof root);
        ck_assert_ptr_nonnull(mkdtemp(root));

        ck_assert_int_lt(snprintf(prefix, sizeof prefix, "%s/%s", FIXTURE_DIR, layout), (int) sizeof prefix);
        ck_assert_msg(host_probe(prefix, "/sys/fs/cgroup", &host, &e) == 0, "%s: %s", layout, e.message);
        free(host.cgroup_root);
        host.cgroup_root = strdup(root);
        ck_assert_ptr_nonnull(host.cgroup_root);
        rebase(&host.unified_mount);
        FOREACH_CONTROLLER(c)
                if (host.controllers[c].version != 0) {
                        rebase(&host.controllers[c].mount_point);
                        mkdir_p(host.controllers[c].mount_point + strlen(root));
                }
        if (host.unified_mount)
                mkdir_p(host.unified_mount + strlen(root));
        /* So that memory+swap is a file to write on every layout. */
        host.features.memory_swap = true;

        ck_assert_msg(cgroup_engine_init(&eng, &host, &e) == 0, "%s", e.message);

        inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        ck_assert_msg(inotify_fd >= 0, "inotify_init1: %m");
}

static void host_teardown(void)
{
        for (size_t i = 0; i < n_watches; i++)
                free(watches[i].dir);
        n_watches = 0;
        for (size_t i = 0; i < n_files; i++) {
                free(files[i].path);
                free(files[i].old);
                files[i] = (FakeFile){};
        }
        n_files = 0;
        if (inotify_fd >= 0)
                (void) close(inotify_fd);
        inotify_fd = -EBADF;
        cgroup_engine_done(&eng);
        host_probe_done(&host);
}

static bool v1(Controller c)
{
        return host.controllers[c].version == 1;
}

static char *node_dir(Controller c, SandboxNode node)
{
        const Hierarchy *h = cgroup_engine_hierarchy_of(&eng, c);
        char *dir = NULL;

        ck_assert_msg(h, "no hierarchy holds %s", controller_to_string(c));
        ck_assert_int_eq(cgroup_node_dir(h, PARENT, ID, node, &dir), 0);
        return dir;
}

/* "dir/file" of a node's file, relative to root. */
static char *node_file(Controller c, SandboxNode node, const char *file)
{
        _cleanup_free_ char *dir = node_dir(c, node);
        char *p = NULL;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, file), 0);
        return p;
}

static FakeFile *find_file(const char *path)
{
        for (size_t i = 0; i < n_files; i++)
                if (streq(files[i].path, path))
                        return &files[i];
        return NULL;
}

static void add_file(const char *path, const char *old)
{
        FakeFile *f = find_file(path);

        if (!f) {
                ck_assert_int_lt(n_files, ELEMENTSOF(files));
                f = &files[n_files++];
                f->path = strdup(path);
                ck_assert_ptr_nonnull(f->path);
        }
        free(f->old);
        f->old = strdup(old);
        ck_assert_ptr_nonnull(f->old);
        put(path, old);
}

static void watch(const char *dir)
{
        _cleanup_free_ char *p = at_root(dir);
        int wd = inotify_add_watch(inotify_fd, p, IN_CLOSE_WRITE | IN_MODIFY);

        ck_assert_msg(wd >= 0, "inotify_add_watch %s: %m", p);
        for (size_t i = 0; i < n_watches; i++)
                if (watches[i].wd == wd)
                        return;
        ck_assert_int_lt(n_watches, ELEMENTSOF(watches));
        watches[n_watches].wd = wd;
        watches[n_watches].dir = strdup(dir);
        ck_assert_ptr_nonnull(watches[n_watches++].dir);
}

/* The writes for pod and overhead (total: their combination), as translated
 * for this host. */
static void translate(const Resources *pod, const Resources *ovh, CgroupWrite **ret, size_t *ret_n)
{
        Resources total = {};
        Error e = {};

        ck_assert_msg(resources_combine(pod, ovh, &total, &e) == 0, "%s", e.message);
        ck_assert_msg(resources_translate(pod, ovh, &total, &host, ret, ret_n, &e) == 0, "%s", e.message);
        resources_done(&total);
}

/* The sandbox as cgroup_create() would have left it with pod and ovh: a file
 * with its value for every write, the parent's cpusets (for the v1 files
 * that inherit them), the memory usage file, and a watch on every node. */
static void tree_make(const Resources *pod, const Resources *ovh, int64_t usage)
{
        _cleanup_free_ CgroupWrite *w = NULL;
        size_t n = 0;

        translate(pod, ovh, &w, &n);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = node_dir(w[i].controller, w[i].node);
                _cleanup_free_ char *path = node_file(w[i].controller, w[i].node, w[i].file);
                mkdir_p(dir);
                watch(dir);
                if (w[i].inherit) {
                        _cleanup_free_ char *up = strdup(dir), *parent_file = NULL;
                        ck_assert_ptr_nonnull(up);
                        *strrchr(up, '/') = '\0';
                        ck_assert_int_ge(asprintf(&parent_file, "%s/%s", up, w[i].file), 0);
                        const char *v = strstr(w[i].file, "mems") ? "0" : "0-1";
                        put(parent_file, v);
                        add_file(path, v);
                } else
                        add_file(path, w[i].value);
        }

        char value[32];
        _cleanup_free_ char *usage_file = node_file(CONTROLLER_MEMORY, NODE_SANDBOX,
                                                    v1(CONTROLLER_MEMORY) ? "memory.usage_in_bytes"
                                                                          : "memory.current");
        (void) snprintf(value, sizeof value, "%" PRIi64, usage);
        put(usage_file, value);
}

static void drain(void)
{
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (read(inotify_fd, buf, sizeof buf) > 0)
                ;
}

/* Back to the old values, everything writable, no event pending. */
static void tree_reset(void)
{
        for (size_t i = 0; i < n_files; i++) {
                _cleanup_free_ char *p = at_root(files[i].path);
                ck_assert_int_eq(chmod(p, 0644), 0);
                put(files[i].path, files[i].old);
        }
        drain();
}

/* The files written since the last call, in order (strv, NULL when none). */
static char **events(void)
{
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        char **l = NULL;
        ssize_t n;

        while ((n = read(inotify_fd, buf, sizeof buf)) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *) p;
                        ck_assert_msg(!(ev->mask & IN_Q_OVERFLOW), "inotify queue overflow");
                        if (ev->mask & IN_CLOSE_WRITE) {
                                const char *dir = NULL;
                                char *path = NULL;
                                for (size_t i = 0; i < n_watches; i++)
                                        if (watches[i].wd == ev->wd)
                                                dir = watches[i].dir;
                                ck_assert_ptr_nonnull(dir);
                                ck_assert_int_ge(asprintf(&path, "%s/%s", dir, ev->name), 0);
                                ck_assert_int_ge(strv_consume(&l, path), 0);
                        }
                        p += sizeof *ev + ev->len;
                }
        ck_assert_msg(n < 0 && errno == EAGAIN, "reading inotify events: %m");
        return l;
}

static void dump(const char *what, char *const *l)
{
        fprintf(stderr, "%s:\n", what);
        for (size_t i = 0; l && l[i]; i++)
                fprintf(stderr, "  [%2zu] %s\n", i, l[i]);
}

static void assert_sequence(char *const *got, char *const *expected)
{
        bool same = strv_length(got) == strv_length(expected);

        for (size_t i = 0; same && got && got[i]; i++)
                same = streq(got[i], expected[i]);
        if (!same) {
                dump("written", got);
                dump("expected", expected);
                ck_abort_msg("the update wrote %zu files, not in the expected order (see above)",
                             strv_length(got));
        }
}

/* ---- the kernel's rules, replayed -------------------------------------------- */

/* The value of each file after each write of the sequence: a file's first
 * write puts the new value (from the write list), its second one the old
 * value back (a rollback). */
typedef struct Replay {
        const CgroupWrite *w;
        size_t n;
        char *value[ELEMENTSOF(files)];
        unsigned writes[ELEMENTSOF(files)];
} Replay;

static const char *replay_value(const Replay *r, const char *path)
{
        FakeFile *f = find_file(path);
        ck_assert_msg(f, "%s is not a file of the tree", path);
        return r->value[f - files];
}

/* The value the update means to write to path ("" when none does). */
static const char *new_value(const Replay *r, const char *path)
{
        for (size_t i = 0; i < r->n; i++) {
                _cleanup_free_ char *p = node_file(r->w[i].controller, r->w[i].node, r->w[i].file);
                if (streq(p, path))
                        return r->w[i].inherit ? find_file(path)->old : r->w[i].value;
        }
        ck_abort_msg("%s is written, but no write names it", path);
        return NULL;
}

/* "-1" (v1's no limit) as INT64_MAX. */
static int64_t number(const char *s)
{
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        ck_assert_msg(errno == 0 && end != s && *end == '\0', "\"%s\" is not a number", s);
        return v == -1 ? INT64_MAX : (int64_t) v;
}

/* v1: quota/period of a child is at most S's (kernel/sched/core.c
 * tg_cfs_schedulable_down(); a quota of -1 is no limit of its own). */
static const char *check_v1_cpu(const Replay *r)
{
        _cleanup_free_ char *sp = node_file(CONTROLLER_CPU, NODE_SANDBOX, "cpu.cfs_period_us");
        _cleanup_free_ char *sq = node_file(CONTROLLER_CPU, NODE_SANDBOX, "cpu.cfs_quota_us");
        int64_t s_period = number(replay_value(r, sp)), s_quota = number(replay_value(r, sq));

        if (s_quota == INT64_MAX)
                return NULL;
        for (SandboxNode node = NODE_VCPU; node < _NODE_MAX; node++) {
                _cleanup_free_ char *cp = node_file(CONTROLLER_CPU, node, "cpu.cfs_period_us");
                _cleanup_free_ char *cq = node_file(CONTROLLER_CPU, node, "cpu.cfs_quota_us");
                int64_t period = number(replay_value(r, cp)), quota = number(replay_value(r, cq));
                /* quota / period > s_quota / s_period, in integers. */
                if (quota != INT64_MAX && (__int128) quota * s_period > (__int128) s_quota * period)
                        return node == NODE_VCPU ? "vcpu's cpu quota/period above S's: EINVAL"
                                                 : "pod_overhead's cpu quota/period above S's: EINVAL";
        }
        return NULL;
}

/* v1: memory.limit_in_bytes <= memory.memsw.limit_in_bytes (mm/memcontrol-v1.c
 * mem_cgroup_resize_max()). */
static const char *check_v1_memory(const Replay *r)
{
        _cleanup_free_ char *mem = node_file(CONTROLLER_MEMORY, NODE_SANDBOX, "memory.limit_in_bytes");
        _cleanup_free_ char *memsw =
                node_file(CONTROLLER_MEMORY, NODE_SANDBOX, "memory.memsw.limit_in_bytes");

        if (number(replay_value(r, mem)) > number(replay_value(r, memsw)))
                return "memory.limit_in_bytes above memory.memsw.limit_in_bytes: EINVAL";
        return NULL;
}

/* Replay seq (from events()) from the old values, checking the rules after
 * every write; the updates of the tests keep S's own values within what they
 * had or get (S's parent has no limit in the fake tree). Returns the number
 * of files written twice (restored). */
static size_t replay(const CgroupWrite *w, size_t n, char *const *seq)
{
        Replay r = { .w = w, .n = n };
        size_t restored = 0;

        for (size_t i = 0; i < n_files; i++)
                r.value[i] = files[i].old;
        for (size_t i = 0; seq && seq[i]; i++) {
                FakeFile *f = find_file(seq[i]);
                ck_assert_msg(f, "%s was written, but is not a file of the tree", seq[i]);
                size_t k = (size_t) (f - files);
                r.writes[k]++;
                ck_assert_msg(r.writes[k] <= 2, "%s written %u times", seq[i], r.writes[k]);
                r.value[k] = (char *) (r.writes[k] == 1 ? new_value(&r, seq[i]) : files[k].old);
                restored += r.writes[k] == 2;

                const char *broken = NULL;
                if (v1(CONTROLLER_CPU))
                        broken = check_v1_cpu(&r);
                if (!broken && v1(CONTROLLER_MEMORY))
                        broken = check_v1_memory(&r);
                if (broken) {
                        dump("written", seq);
                        ck_abort_msg("after write %zu (%s = \"%s\"): %s", i, seq[i], r.value[k], broken);
                }
        }
        return restored;
}

/* Every file of the tree holds what the update asked for, or its old value
 * where the update leaves it. */
static void assert_applied(const CgroupWrite *w, size_t n)
{
        for (size_t i = 0; i < n_files; i++) {
                _cleanup_free_ char *v = get(files[i].path);
                const char *expected = files[i].old;
                for (size_t k = 0; k < n; k++) {
                        _cleanup_free_ char *p = node_file(w[k].controller, w[k].node, w[k].file);
                        if (streq(p, files[i].path) && !w[k].inherit)
                                expected = w[k].value;
                }
                ck_assert_msg(streq(v, expected), "%s holds \"%s\", expected \"%s\"", files[i].path, v,
                              expected);
        }
}

static void assert_unchanged(void)
{
        for (size_t i = 0; i < n_files; i++) {
                _cleanup_free_ char *v = get(files[i].path);
                ck_assert_msg(streq(v, files[i].old), "%s holds \"%s\", expected the old \"%s\"",
                              files[i].path, v, files[i].old);
        }
}

/* Update to pod/ovh; it must succeed. Returns the files written, in order,
 * after checking each state against the kernel's rules and the result. */
static char **update_ok(const Resources *pod, const Resources *ovh)
{
        _cleanup_free_ CgroupWrite *w = NULL;
        size_t n = 0;
        Error e = {};
        char **seq;

        translate(pod, ovh, &w, &n);
        drain();
        ck_assert_msg(cgroup_update(&eng, PARENT, ID, w, n, &e) == 0, "update: %s", e.message);
        ck_assert(!error_is_set(&e));
        seq = events();
        ck_assert_int_eq(replay(w, n, seq), 0);
        assert_applied(w, n);
        return seq;
}

/* The expected sequence, from (controller, node, file) triples. */
typedef struct Step {
        Controller c;
        SandboxNode node;
        const char *file;
} Step;

static char **steps(const Step *s, size_t n)
{
        char **l = NULL;
        for (size_t i = 0; i < n; i++)
                ck_assert_int_ge(strv_consume(&l, node_file(s[i].c, s[i].node, s[i].file)), 0);
        return l;
}

#define ASSERT_SEQUENCE(got, ...)                                                          \
        do {                                                                               \
                const Step _s[] = { __VA_ARGS__ };                                         \
                _cleanup_strv_free_ char **_x = steps(_s, ELEMENTSOF(_s));                 \
                assert_sequence((got), _x);                                                \
        } while (0)

/* ---- resources ---------------------------------------------------------------- */

static HugepageLimit *hugepages(int64_t limit)
{
        static char size_2mb[] = "2MB";
        HugepageLimit *h = calloc(1, sizeof *h);
        ck_assert_ptr_nonnull(h);
        h->page_size = strdup(size_2mb);
        ck_assert_ptr_nonnull(h->page_size);
        h->limit = (uint64_t) limit;
        return h;
}

/* A pod with every field the daemon writes, and its overhead. */
static void base(Resources *pod, Resources *ovh)
{
        *pod = (Resources){
                .cpu_period = SET(100000),
                .cpu_quota = SET(200000),
                .cpu_shares = SET(1024),
                .memory_limit = SET(1 * GiB),
                .memory_swap = SET(2 * GiB),
                .hugepages = hugepages(8 * MiB),
                .n_hugepages = 1,
                .pids_limit = SET(1000),
        };
        *ovh = (Resources){
                .cpu_period = SET(100000),
                .cpu_quota = SET(50000),
                .cpu_shares = SET(256),
                .memory_limit = SET(128 * MiB),
                .pids_limit = SET(100),
        };
}

static const char *quota_file(void)
{
        return v1(CONTROLLER_CPU) ? "cpu.cfs_quota_us" : "cpu.max";
}

#define CPU CONTROLLER_CPU
#define MEM CONTROLLER_MEMORY
#define S NODE_SANDBOX
#define VCPU NODE_VCPU
#define OVH NODE_POD_OVERHEAD

/* ---- tests ------------------------------------------------------------------------ */

START_TEST(test_unchanged)
{
        Resources pod, ovh;

        host_setup(layouts[_i]);
        base(&pod, &ovh);
        tree_make(&pod, &ovh, 100 * MiB);

        _cleanup_strv_free_ char **seq = update_ok(&pod, &ovh);
        if (seq) {
                dump("written", seq);
                ck_abort_msg("an update to the same limits wrote %zu files", strv_length(seq));
        }
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

/* S goes down: the children first. */
START_TEST(test_cpu_down)
{
        Resources pod, ovh;

        host_setup(layouts[_i]);
        base(&pod, &ovh);
        tree_make(&pod, &ovh, 100 * MiB);

        pod.cpu_quota = SET(100000);
        ovh.cpu_quota = SET(25000);
        _cleanup_strv_free_ char **seq = update_ok(&pod, &ovh);
        ASSERT_SEQUENCE(seq, { CPU, VCPU, quota_file() }, { CPU, OVH, quota_file() },
                        { CPU, S, quota_file() });
        if (!v1(CPU)) {
                /* cpu.max whole: quota and period in one write. */
                _cleanup_free_ char *p = node_file(CPU, S, "cpu.max");
                _cleanup_free_ char *v = get(p);
                ck_assert_str_eq(v, "125000 100000");
        }
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

/* S goes up: S first, then the children. */
START_TEST(test_cpu_up)
{
        Resources pod, ovh;

        host_setup(layouts[_i]);
        base(&pod, &ovh);
        tree_make(&pod, &ovh, 100 * MiB);

        pod.cpu_quota = SET(300000);
        ovh.cpu_quota = SET(100000);
        _cleanup_strv_free_ char **seq = update_ok(&pod, &ovh);
        ASSERT_SEQUENCE(seq, { CPU, S, quota_file() }, { CPU, VCPU, quota_file() },
                        { CPU, OVH, quota_file() });
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

/* One child down, the other up, S down: the child that shrinks, S, the
 * child that grows. */
START_TEST(test_cpu_mixed)
{
        Resources pod, ovh;

        host_setup(layouts[_i]);
        base(&pod, &ovh);
        tree_make(&pod, &ovh, 100 * MiB);

        pod.cpu_quota = SET(100000);
        ovh.cpu_quota = SET(100000);
        _cleanup_strv_free_ char **seq = update_ok(&pod, &ovh);
        ASSERT_SEQUENCE(seq, { CPU, VCPU, quota_file() }, { CPU, S, quota_file() },
                        { CPU, OVH, quota_file() });
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

/* v2 cpu.max is one file holding "quota period": a period change, lifting a
 * limit and setting one are each one write of the whole value. */
START_TEST(test_cpu_max_whole)
{
        Resources pod, ovh;

        host_setup("v2");
        base(&pod, &ovh);
        pod.cpu_quota = (OptInt){};
        tree_make(&pod, &ovh, 100 * MiB);
        {
                _cleanup_free_ char *p = node_file(CPU, VCPU, "cpu.max");
                _cleanup_free_ char *v = get(p);
                ck_assert_str_eq(v, "max 100000");
        }

        /* No limit -> a limit at another period. */
        pod.cpu_quota = SET(100000);
        pod.cpu_period = SET(50000);
        ovh.cpu_period = SET(50000);
        ovh.cpu_quota = SET(25000);
        _cleanup_strv_free_ char **seq = update_ok(&pod, &ovh);
        /* Both children get tighter (no limit -> 2 CPUs, 0.5 -> 0.5 CPU at
         * another period), S goes from none to 2.5 CPUs. */
        ASSERT_SEQUENCE(seq, { CPU, VCPU, "cpu.max" }, { CPU, OVH, "cpu.max" }, { CPU, S, "cpu.max" });
        static const struct {
                SandboxNode node;
                const char *value;
        } x[] = { { S, "125000 50000" }, { VCPU, "100000 50000" }, { OVH, "25000 50000" } };
        for (size_t i = 0; i < ELEMENTSOF(x); i++) {
                _cleanup_free_ char *p = node_file(CPU, x[i].node, "cpu.max");
                _cleanup_free_ char *v = get(p);
                ck_assert_str_eq(v, x[i].value);
        }

        /* And lifted again: "max" with the period, never a bare "max". */
        pod.cpu_quota = (OptInt){};
        _cleanup_strv_free_ char **seq2 = update_ok(&pod, &ovh);
        ASSERT_SEQUENCE(seq2, { CPU, S, "cpu.max" }, { CPU, VCPU, "cpu.max" });
        {
                _cleanup_free_ char *p = node_file(CPU, VCPU, "cpu.max");
                _cleanup_free_ char *v = get(p);
                ck_assert_str_eq(v, "max 50000");
        }
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

/* v1: period and quota are two files of one limit (quota/period), checked
 * write by write. The same CPUs at half the period: a child's period first
 * would double its CPUs for a moment (2 > S's 1.5: EINVAL on a real kernel),
 * so each child's quota goes first; S's period goes first (it is allowed
 * more for a moment, never less than its children). */
START_TEST(test_v1_cpu_period_down)
{
        Resources pod, ovh;

        host_setup(layouts[_i]);
        base(&pod, &ovh);
        pod.cpu_quota = SET(100000);
        ovh.cpu_quota = SET(50000);
        tree_make(&pod, &ovh, 100 * MiB);

        pod.cpu_period = SET(50000);
        pod.cpu_quota = SET(50000);
        ovh.cpu_period = SET(50000);
        ovh.cpu_quota = SET(25000);
        _cleanup_strv_free_ char **seq = update_ok(&pod, &ovh);
        if (v1(CPU))
                ASSERT_SEQUENCE(seq, { CPU, VCPU, "cpu.cfs_quota_us" }, { CPU, VCPU, "cpu.cfs_period_us" },
                                { CPU, OVH, "cpu.cfs_quota_us" }, { CPU, OVH, "cpu.cfs_period_us" },
                                { CPU, S, "cpu.cfs_period_us" }, { CPU, S, "cpu.cfs_quota_us" });
        else
                ASSERT_SEQUENCE(seq, { CPU, VCPU, "cpu.max" }, { CPU, OVH, "cpu.max" },
                                { CPU, S, "cpu.max" });
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

/* v1: twice the period and more CPUs. The child grows past what S has now:
 * after S; its period first (quota first would ask for 4 CPUs for a moment).
 * S's quota first (5 CPUs for a moment rather than 0.75, below its
 * children). */
START_TEST(test_v1_cpu_period_up)
{
        Resources pod, ovh;

        host_setup(layouts[_i]);
        base(&pod, &ovh);
        pod.cpu_quota = SET(100000);
        ovh.cpu_quota = SET(50000);
        tree_make(&pod, &ovh, 100 * MiB);

        pod.cpu_period = SET(200000);
        pod.cpu_quota = SET(400000);
        _cleanup_strv_free_ char **seq = update_ok(&pod, &ovh);
        if (v1(CPU))
                ASSERT_SEQUENCE(seq, { CPU, S, "cpu.cfs_quota_us" }, { CPU, S, "cpu.cfs_period_us" },
                                { CPU, VCPU, "cpu.cfs_period_us" }, { CPU, VCPU, "cpu.cfs_quota_us" });
        else
                ASSERT_SEQUENCE(seq, { CPU, S, "cpu.max" }, { CPU, VCPU, "cpu.max" });
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

/* A child without a quota of its own has S's: an overhead that gets a quota
 * larger than S has now goes after S, though "-1 -> 400000" reads as
 * tightening. */
START_TEST(test_v1_cpu_from_no_limit)
{
        Resources pod, ovh;

        host_setup(layouts[_i]);
        base(&pod, &ovh);
        pod.cpu_quota = SET(300000);
        ovh.cpu_quota = (OptInt){};
        tree_make(&pod, &ovh, 100 * MiB);

        ovh.cpu_quota = SET(400000);
        _cleanup_strv_free_ char **seq = update_ok(&pod, &ovh);
        if (v1(CPU))
                ASSERT_SEQUENCE(seq, { CPU, S, quota_file() }, { CPU, OVH, quota_file() });
        else    /* No rule on v2 (the kernel clamps): "max" -> a limit counts as lowering. */
                ASSERT_SEQUENCE(seq, { CPU, OVH, quota_file() }, { CPU, S, quota_file() });

        /* And back to none (which is always allowed on v1) before S shrinks. */
        ovh.cpu_quota = (OptInt){};
        _cleanup_strv_free_ char **seq2 = update_ok(&pod, &ovh);
        if (v1(CPU))
                ASSERT_SEQUENCE(seq2, { CPU, OVH, quota_file() }, { CPU, S, quota_file() });
        else
                ASSERT_SEQUENCE(seq2, { CPU, S, quota_file() }, { CPU, OVH, quota_file() });
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

/* v1 memory <= memory+swap at every moment: memsw first when it grows past
 * the current memory limit, else memory first (as runc's fs/memory.go). */
START_TEST(test_memory_order)
{
        Resources pod, ovh;

        host_setup(layouts[_i]);
        bool memsw = v1(MEM);
        const char *mem_file = memsw ? "memory.limit_in_bytes" : "memory.max";
        const char *swap_file = memsw ? "memory.memsw.limit_in_bytes" : "memory.swap.max";
        base(&pod, &ovh);
        ovh.memory_limit = (OptInt){};
        tree_make(&pod, &ovh, 100 * MiB);

        /* Down: 1G/2G -> 512M/768M. memsw first would put it (768M) below
         * memory (1G). */
        pod.memory_limit = SET(512 * MiB);
        pod.memory_swap = SET(768 * MiB);
        _cleanup_strv_free_ char **down = update_ok(&pod, &ovh);
        ASSERT_SEQUENCE(down, { MEM, S, mem_file }, { MEM, S, swap_file });

        /* Up: 512M/768M -> 1G/2G. Memory first would put it above memsw. */
        pod.memory_limit = SET(1 * GiB);
        pod.memory_swap = SET(2 * GiB);
        _cleanup_strv_free_ char **up = update_ok(&pod, &ovh);
        if (memsw)
                ASSERT_SEQUENCE(up, { MEM, S, swap_file }, { MEM, S, mem_file });
        else
                ASSERT_SEQUENCE(up, { MEM, S, mem_file }, { MEM, S, swap_file });

        /* Memory down, memsw up past the current memory limit: memsw first
         * (either order is valid: the replay checks the states). */
        pod.memory_limit = SET(512 * MiB);
        pod.memory_swap = SET(3 * GiB);
        _cleanup_strv_free_ char **mixed = update_ok(&pod, &ovh);
        if (memsw)
                ASSERT_SEQUENCE(mixed, { MEM, S, swap_file }, { MEM, S, mem_file });
        else
                ASSERT_SEQUENCE(mixed, { MEM, S, mem_file }, { MEM, S, swap_file });

        /* Lifting both limits: memsw first (-1 is no limit). */
        pod.memory_limit = (OptInt){};
        pod.memory_swap = (OptInt){};
        _cleanup_strv_free_ char **lift = update_ok(&pod, &ovh);
        if (memsw)
                ASSERT_SEQUENCE(lift, { MEM, S, swap_file }, { MEM, S, mem_file });
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

/* What a v1 kernel shows for no limit is not "-1" but the largest page
 * multiple: from there down to 1G/2G, memory first. */
START_TEST(test_v1_memory_from_kernel_max)
{
        Resources pod, ovh;
        static const char kernel_max[] = "9223372036854771712";

        host_setup(layouts[_i]);
        ck_assert(v1(MEM));
        base(&pod, &ovh);
        ovh.memory_limit = (OptInt){};
        tree_make(&pod, &ovh, 100 * MiB);
        _cleanup_free_ char *mem = node_file(MEM, S, "memory.limit_in_bytes");
        _cleanup_free_ char *memsw = node_file(MEM, S, "memory.memsw.limit_in_bytes");
        add_file(mem, kernel_max);
        add_file(memsw, kernel_max);

        _cleanup_strv_free_ char **seq = update_ok(&pod, &ovh);
        ASSERT_SEQUENCE(seq, { MEM, S, "memory.limit_in_bytes" }, { MEM, S, "memory.memsw.limit_in_bytes" });
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

/* Drop CAP_DAC_OVERRIDE (root) from the effective set, so that a file
 * without write permission cannot be opened for writing; check that it
 * worked. (The test runs in a child of its own; the capability stays
 * permitted and is raised again at the end.) */
static void dac_override(bool on)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

        ck_assert_int_eq(syscall(SYS_capget, &h, d), 0);
        if (!(d[CAP_TO_INDEX(CAP_DAC_OVERRIDE)].permitted & CAP_TO_MASK(CAP_DAC_OVERRIDE)))
                return;
        if (on)
                d[CAP_TO_INDEX(CAP_DAC_OVERRIDE)].effective |= CAP_TO_MASK(CAP_DAC_OVERRIDE);
        else
                d[CAP_TO_INDEX(CAP_DAC_OVERRIDE)].effective &= ~CAP_TO_MASK(CAP_DAC_OVERRIDE);
        ck_assert_msg(syscall(SYS_capset, &h, d) == 0, "capset: %m");
}

/* Markers on v1 are trusted.* attributes, which only CAP_SYS_ADMIN sets; a
 * daemon without it (the hardened unit) must not pick them, or every create
 * fails on its marker. */
static void sys_admin(bool on)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

        ck_assert_int_eq(syscall(SYS_capget, &h, d), 0);
        if (on)
                d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective |= CAP_TO_MASK(CAP_SYS_ADMIN);
        else
                d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
        ck_assert_msg(syscall(SYS_capset, &h, d) == 0, "capset: %m");
}

START_TEST(test_v1_marker_needs_cap_sys_admin)
{
        Error e = {};

        if (geteuid() != 0) {
                fprintf(stderr, "test_v1_marker_needs_cap_sys_admin: not root, skipped\n");
                return;
        }
        host_setup("v1");
        if (!eng.marker)
                fprintf(stderr, "test_v1_marker_needs_cap_sys_admin: %s holds no trusted.* attributes\n", root);
        else
                ck_assert_int_eq(eng.marker->version, 1);

        cgroup_engine_done(&eng);
        sys_admin(false);
        int r = cgroup_engine_init(&eng, &host, &e);
        sys_admin(true);
        ck_assert_msg(r == 0, "%s", e.message);
        ck_assert_msg(!eng.marker, "a v1 marker hierarchy without CAP_SYS_ADMIN");
        host_teardown();
}
END_TEST


static void make_unwritable(const char *rel)
{
        _cleanup_free_ char *p = at_root(rel);
        ck_assert_int_eq(chmod(p, 0444), 0);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        ck_assert_msg(fd < 0 && errno == EACCES, "%s: still writable without write permission", p);
}

/* The update changes every kind of file; write k fails, for every k: the
 * update fails with an error naming the file and the errno, the k writes
 * before it are undone in reverse order, and every file holds its old value.
 * Every state on the way, forward and back, obeys the kernel's rules. */
START_TEST(test_rollback_every_write)
{
        Resources pod, ovh;

        host_setup(layouts[_i]);
        base(&pod, &ovh);
        tree_make(&pod, &ovh, 100 * MiB);

        Resources new_pod = {
                .cpu_period = SET(50000),
                .cpu_quota = SET(50000),
                .cpu_shares = SET(512),
                .cpuset_cpus = strdup("0"),
                .cpuset_mems = strdup("0"),
                .memory_limit = SET(768 * MiB),
                .memory_swap = SET(1 * GiB),
                .hugepages = hugepages(4 * MiB),
                .n_hugepages = 1,
                .pids_limit = SET(500),
        };
        Resources new_ovh = {
                .cpu_period = SET(100000),
                .cpu_quota = SET(100000),
                .cpu_shares = SET(512),
                .memory_limit = SET(64 * MiB),
                .pids_limit = SET(50),
        };
        _cleanup_free_ CgroupWrite *w = NULL;
        size_t n = 0;
        translate(&new_pod, &new_ovh, &w, &n);

        /* The writes of a clean run. */
        _cleanup_strv_free_ char **all = update_ok(&new_pod, &new_ovh);
        size_t n_all = strv_length(all);
        ck_assert_msg(n_all >= 12, "only %zu writes", n_all);

        dac_override(false);
        for (size_t k = 0; k < n_all; k++) {
                Error e = {};
                int r;

                tree_reset();
                make_unwritable(all[k]);
                r = cgroup_update(&eng, PARENT, ID, w, n, &e);
                _cleanup_strv_free_ char **seq = events();

                ck_assert_msg(r == -EACCES, "write %zu (%s) failing: update returned %d (%s)", k, all[k], r,
                              e.message);
                ck_assert_int_eq(e.errnum, EACCES);
                _cleanup_free_ char *abs_path = at_root(all[k]);
                ck_assert_msg(strstr(e.message, abs_path) && strstr(e.message, strerror(EACCES)),
                              "the error does not name %s and its errno: %s", abs_path, e.message);

                /* all[0..k-1] forward, then the same backwards. */
                char **x = NULL;
                for (size_t i = 0; i < k; i++)
                        ck_assert_int_ge(strv_extend(&x, all[i]), 0);
                for (size_t i = k; i > 0; i--)
                        ck_assert_int_ge(strv_extend(&x, all[i - 1]), 0);
                assert_sequence(seq, x);
                strv_free(x);
                ck_assert_int_eq(replay(w, n, seq), k);
                assert_unchanged();
        }
        dac_override(true);

        resources_done(&new_pod);
        resources_done(&new_ovh);
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

/* A memory limit below what the sandbox uses: FAILED_PRECONDITION, and not
 * one file written (the cpu change that comes with it neither). At the usage
 * exactly it is allowed. */
START_TEST(test_memory_below_usage)
{
        Resources pod, ovh;
        _cleanup_free_ CgroupWrite *w = NULL;
        size_t n = 0;
        Error e = {};

        host_setup(layouts[_i]);
        base(&pod, &ovh);
        ovh.memory_limit = (OptInt){};
        tree_make(&pod, &ovh, 600 * MiB);

        pod.memory_limit = SET(512 * MiB);
        pod.memory_swap = SET(512 * MiB);
        pod.cpu_quota = SET(100000);
        translate(&pod, &ovh, &w, &n);
        drain();
        int r = cgroup_update(&eng, PARENT, ID, w, n, &e);
        ck_assert_msg(r == -EBUSY, "update below usage returned %d (%s)", r, e.message);
        ck_assert_int_eq(e.code, GRPC_FAILED_PRECONDITION);
        const char *usage = v1(MEM) ? "memory.usage_in_bytes" : "memory.current";
        ck_assert_msg(strstr(e.message, usage) && strstr(e.message, "629145600") &&
                              strstr(e.message, "536870912"),
                      "the error does not say limit, usage and file: %s", e.message);
        _cleanup_strv_free_ char **seq = events();
        if (seq) {
                dump("written", seq);
                ck_abort_msg("a refused update wrote %zu files", strv_length(seq));
        }
        assert_unchanged();

        /* At the usage: allowed. */
        free(w);
        w = NULL;
        pod.memory_limit = SET(600 * MiB);
        pod.memory_swap = SET(600 * MiB);
        _cleanup_strv_free_ char **ok = update_ok(&pod, &ovh);
        ck_assert_ptr_nonnull(ok);
        resources_done(&pod);
        resources_done(&ovh);
        host_teardown();
}
END_TEST

static Suite *update_suite(void)
{
        Suite *s = suite_create("update");
        TCase *tc = tcase_create("update");
        int n = (int) ELEMENTSOF(layouts);

        tcase_add_unchecked_fixture(tc, basedir_setup, basedir_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_unchanged, 0, n);
        tcase_add_loop_test(tc, test_cpu_down, 0, n);
        tcase_add_loop_test(tc, test_cpu_up, 0, n);
        tcase_add_loop_test(tc, test_cpu_mixed, 0, n);
        tcase_add_test(tc, test_cpu_max_whole);
        tcase_add_test(tc, test_v1_marker_needs_cap_sys_admin);
        tcase_add_loop_test(tc, test_v1_cpu_period_down, 0, n);
        tcase_add_loop_test(tc, test_v1_cpu_period_up, 0, n);
        tcase_add_loop_test(tc, test_v1_cpu_from_no_limit, 0, n);
        tcase_add_loop_test(tc, test_memory_order, 0, n);
        tcase_add_loop_test(tc, test_v1_memory_from_kernel_max, 0, 2);
        tcase_add_loop_test(tc, test_rollback_every_write, 0, n);
        tcase_add_loop_test(tc, test_memory_below_usage, 0, n);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(update_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
