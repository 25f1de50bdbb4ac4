/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* The sandbox records in a temporary directory: a sandbox saved and loaded
 * back is the same sandbox; replace and remove; and what store_load() does
 * with everything that is not a good record of this boot (records of another
 * boot, unreadable or inconsistent records, temp files of an interrupted
 * write, unrelated files). No cgroups and no daemon: the Manager is built by
 * hand with two hierarchies, "cpu" (v1) and "unified" (the cgroup2 mount of
 * a hybrid host), which is all the store asks of it. */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/strv.h"
#include "daemon/manager.h"
#include "daemon/pbconv.h"
#include "daemon/store.h"
#include "sandboxcgd/record.pb-c.h"

#define OTHER_BOOT_ID "00000000-0000-4000-8000-000000000000"

/* ---- fixtures ------------------------------------------------------------ */

/* The parent process holds a base directory (an unchecked fixture, so that
 * it is removed even when a test failed); each test gets a fresh directory
 * below it. */
static char basedir[PATH_MAX];

static void rm_rf_at(int dir_fd, const char *name)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd;

        if (unlinkat(dir_fd, name, 0) >= 0 || (errno != EISDIR && errno != EPERM))
                return;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return;
        }
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        rm_rf_at(dirfd(d), de->d_name);
        (void) unlinkat(dir_fd, name, AT_REMOVEDIR);
}

static void basedir_setup(void)
{
        const char *base = getenv("TMPDIR") ?: "/tmp";

        ck_assert_int_lt(snprintf(basedir, sizeof basedir, "%s/test-store-XXXXXX", base),
                         (int) sizeof basedir);
        ck_assert_ptr_nonnull(mkdtemp(basedir));
}

static void basedir_teardown(void)
{
        rm_rf_at(AT_FDCWD, basedir);
}

static char hier_cpu_name[] = "cpu", hier_cpu_dir[] = "cpu";
static char hier_unified_name[] = "unified", hier_unified_dir[] = "unified";
static Hierarchy hierarchies[] = {
        { .version = 1, .name = hier_cpu_name, .mount_dir = hier_cpu_dir, .children = true },
        { .version = 2, .name = hier_unified_name, .mount_dir = hier_unified_dir },
};

/* Per test, in the forked child. */
static char dir[PATH_MAX];
static Manager *m;
static Store st = STORE_NULL;

static void store_setup(void)
{
        Error e = {};
        int r;

        ck_assert_int_lt(snprintf(dir, sizeof dir, "%s/state-XXXXXX", basedir), (int) sizeof dir);
        ck_assert_ptr_nonnull(mkdtemp(dir));

        m = calloc(1, sizeof *m);
        ck_assert_ptr_nonnull(m);
        m->engine.hierarchies = hierarchies;
        m->engine.n_hierarchies = ELEMENTSOF(hierarchies);

        r = store_open(&st, dir, &e);
        ck_assert_msg(r == 0, "store_open: %d: %s", r, e.message);
        ck_assert_int_ge(st.dir_fd, 0);
        ck_assert_str_eq(st.dir, dir);
        ck_assert_uint_eq(strlen(st.boot_id), BOOT_ID_MAX);
        ck_assert_str_ne(st.boot_id, OTHER_BOOT_ID);
}

static void store_teardown(void)
{
        store_close(&st);
        ck_assert_int_lt(st.dir_fd, 0);
        ck_assert_ptr_null(st.dir);
        free(m);
        m = NULL;
}

/* ---- helpers ------------------------------------------------------------- */

static char *xstrdup(const char *s)
{
        char *t = strdup(s);

        ck_assert_ptr_nonnull(t);
        return t;
}

static void fill_resources(Resources *r, int64_t base)
{
        *r = (Resources){
                .cpu_period = { true, 100000 },
                .cpu_quota = { true, 50000 + base },
                .cpu_shares = { true, 1024 + base },
                .cpuset_cpus = xstrdup("0-3,6"),
                .cpuset_mems = xstrdup("0"),
                .memory_limit = { true, (INT64_C(1) << 30) + base },
                .memory_swap = { true, (INT64_C(2) << 30) + base },
                .pids_limit = { true, 4096 + base },
        };
        r->hugepages = calloc(2, sizeof *r->hugepages);
        ck_assert_ptr_nonnull(r->hugepages);
        r->hugepages[0] = (HugepageLimit){ .page_size = xstrdup("2MB"), .limit = UINT64_C(4) << 21 };
        r->hugepages[1] = (HugepageLimit){ .page_size = xstrdup("1GB"), .limit = UINT64_C(2) << 30 };
        r->n_hugepages = 2;
}

/* A sandbox with every field of a record set: running, with its VMM and
 * vCPUs attached, parent levels made in both hierarchies, and an update in
 * flight. */
static Sandbox *sandbox_full(const char *id)
{
        Sandbox *s = NULL;

        ck_assert_int_eq(sandbox_new(m, &s), 0);
        ck_assert_int_eq(s->vmm_pidfd, -EBADF);
        s->spec.id = xstrdup(id);
        s->spec.parent = xstrdup("a/b");
        fill_resources(&s->spec.resources, 0);
        fill_resources(&s->spec.overhead, 7);
        s->spec.overhead.cpu_period.value = 200000;
        s->state = SANDBOX_RUNNING;
        s->vmm_pid = 4242;
        s->vmm_start_time = UINT64_C(123456789012);
        s->vcpu_tids = calloc(3, sizeof *s->vcpu_tids);
        ck_assert_ptr_nonnull(s->vcpu_tids);
        s->vcpu_tids[0] = 4243;
        s->vcpu_tids[1] = 4245;
        s->vcpu_tids[2] = 4244;
        s->n_vcpu_tids = 3;
        s->created_at = UINT64_C(1700000000000000001);
        s->updated_at = UINT64_C(1700000000000000002);
        s->vmm_exited_at = UINT64_C(1700000000000000003);
        ck_assert_int_eq(strv_extend(&s->made_parents, "cpu/a"), 0);
        ck_assert_int_eq(strv_extend(&s->made_parents, "cpu/a/b"), 0);
        ck_assert_int_eq(strv_extend(&s->made_parents, "unified/a/b"), 0);
        s->pending = SANDBOX_OP_UPDATE;
        fill_resources(&s->pending_resources, 100);
        fill_resources(&s->pending_overhead, 200);
        free(s->pending_overhead.cpuset_cpus);
        s->pending_overhead.cpuset_cpus = NULL; /* one unset field among them */
        return s;
}

/* Nothing but what a freshly created sandbox has. */
static Sandbox *sandbox_minimal(const char *id, const char *parent)
{
        Sandbox *s = NULL;

        ck_assert_int_eq(sandbox_new(m, &s), 0);
        s->spec.id = xstrdup(id);
        s->spec.parent = xstrdup(parent);
        s->state = SANDBOX_CREATING;
        s->pending = SANDBOX_OP_CREATE;
        s->created_at = s->updated_at = 17;
        return s;
}

static void save(const Sandbox *s)
{
        Error e = {};
        int r;

        r = store_save(&st, s, &e);
        ck_assert_msg(r == 0, "store_save(%s): %d: %s", s->spec.id, r, e.message);
        ck_assert(!error_is_set(&e));
}

static void assert_strv_eq(char *const *a, char *const *b)
{
        ck_assert_uint_eq(strv_length(a), strv_length(b));
        for (size_t i = 0; a && a[i]; i++)
                ck_assert_str_eq(a[i], b[i]);
}

static void assert_sandbox_eq(const Sandbox *a, const Sandbox *b)
{
        ck_assert_ptr_eq(a->manager, b->manager);
        ck_assert_str_eq(a->spec.id, b->spec.id);
        ck_assert_str_eq(a->spec.parent, b->spec.parent);
        ck_assert(resources_equal(&a->spec.resources, &b->spec.resources));
        ck_assert(resources_equal(&a->spec.overhead, &b->spec.overhead));
        ck_assert_uint_eq(a->spec.resources.n_hugepages, b->spec.resources.n_hugepages);
        ck_assert_uint_eq(a->spec.overhead.n_hugepages, b->spec.overhead.n_hugepages);
        ck_assert_int_eq(a->state, b->state);
        ck_assert_int_eq(a->vmm_pid, b->vmm_pid);
        ck_assert_uint_eq(a->vmm_start_time, b->vmm_start_time);
        ck_assert_uint_eq(a->n_vcpu_tids, b->n_vcpu_tids);
        for (size_t i = 0; i < a->n_vcpu_tids; i++)
                ck_assert_int_eq(a->vcpu_tids[i], b->vcpu_tids[i]);
        ck_assert_uint_eq(a->created_at, b->created_at);
        ck_assert_uint_eq(a->updated_at, b->updated_at);
        ck_assert_uint_eq(a->vmm_exited_at, b->vmm_exited_at);
        assert_strv_eq(a->made_parents, b->made_parents);
        ck_assert_int_eq(a->pending, b->pending);
        ck_assert(resources_equal(&a->pending_resources, &b->pending_resources));
        ck_assert(resources_equal(&a->pending_overhead, &b->pending_overhead));
        ck_assert_int_eq(a->pending_vmm_pid, b->pending_vmm_pid);
        ck_assert_uint_eq(a->pending_vmm_start_time, b->pending_vmm_start_time);
}

typedef struct Problems {
        size_t n;
        struct {
                StoreProblem problem;
                char file[NAME_MAX + 1];
                char reason[256];
        } items[16];
} Problems;

static void on_problem(void *userdata, StoreProblem problem, const char *file, const char *reason)
{
        Problems *p = userdata;

        ck_assert_ptr_nonnull(file);
        ck_assert_ptr_nonnull(reason);
        ck_assert_uint_lt(p->n, ELEMENTSOF(p->items));
        p->items[p->n].problem = problem;
        (void) snprintf(p->items[p->n].file, sizeof p->items[p->n].file, "%s", file);
        (void) snprintf(p->items[p->n].reason, sizeof p->items[p->n].reason, "%s", reason);
        p->n++;
}

typedef struct Loaded {
        Sandbox **list;
        size_t n;
        Problems problems;
} Loaded;

static void loaded_done(Loaded *l)
{
        for (size_t i = 0; i < l->n; i++)
                sandbox_free(l->list[i]);
        free(l->list);
        *l = (Loaded){};
}

static void load(Loaded *l)
{
        Error e = {};
        int r;

        loaded_done(l);
        r = store_load(&st, m, on_problem, &l->problems, &l->list, &l->n, &e);
        ck_assert_msg(r == 0, "store_load: %d: %s", r, e.message);
        ck_assert(!error_is_set(&e));
        ck_assert(l->n == 0 || l->list);
        for (size_t i = 0; i < l->n; i++) {
                ck_assert_ptr_eq(l->list[i]->manager, m);
                ck_assert_int_eq(l->list[i]->vmm_pidfd, -EBADF);
                ck_assert_ptr_null(l->list[i]->vmm_exit_source);
        }
}

static Sandbox *loaded_find(const Loaded *l, const char *id)
{
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->list[i]->spec.id, id))
                        return l->list[i];
        return NULL;
}

/* The one problem reported: what, and about which file. */
static void assert_one_problem(const Loaded *l, StoreProblem problem, const char *file)
{
        ck_assert_msg(l->problems.n == 1, "%zu problems reported", l->problems.n);
        ck_assert_int_eq(l->problems.items[0].problem, problem);
        ck_assert_str_eq(l->problems.items[0].file, file);
        ck_assert_msg(l->problems.items[0].reason[0], "no reason given");
}

static bool exists(const char *name)
{
        struct stat stbuf;

        if (fstatat(st.dir_fd, name, &stbuf, AT_SYMLINK_NOFOLLOW) >= 0)
                return true;
        ck_assert_int_eq(errno, ENOENT);
        return false;
}

/* The names in the directory, sorted, joined by ' '. */
static void assert_dir_is(const char *expected)
{
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        char buf[4096] = "";
        struct dirent *de;
        size_t n;

        d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        ck_assert_int_eq(strv_extend(&names, de->d_name), 0);
        n = strv_length(names);
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        if (strcmp(names[i], names[j]) > 0)
                                SWAP(names[i], names[j]);
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strcat(buf, " ");
                ck_assert_uint_lt(strlen(buf) + strlen(names[i]), sizeof buf - 2);
                strcat(buf, names[i]);
        }
        ck_assert_str_eq(buf, expected);
}

static void write_bytes(const char *name, const void *data, size_t size)
{
        _cleanup_close_ int fd = -EBADF;

        fd = openat(st.dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, size), (ssize_t) size);
}

/* A record built by hand: a valid, minimal one unless the caller changes
 * it (rec_write() packs it). */
static void rec_init(Sandboxcgd__Record__SandboxRecord *rec, const char *boot_id, const char *id,
                     const char *parent)
{
        *rec = (Sandboxcgd__Record__SandboxRecord) SANDBOXCGD__RECORD__SANDBOX_RECORD__INIT;
        PB_SET(rec, format, 1);
        rec->boot_id = (char *) boot_id;
        rec->id = (char *) id;
        rec->cgroup_parent = (char *) parent;
        PB_SET(rec, state, SANDBOXCG__V1__SANDBOX_STATE__SANDBOX_STATE_CREATED);
        PB_SET(rec, created_at, 1);
        PB_SET(rec, updated_at, 2);
}

static void rec_write(const Sandboxcgd__Record__SandboxRecord *rec, const char *name)
{
        size_t size = sandboxcgd__record__sandbox_record__get_packed_size(rec);
        _cleanup_free_ uint8_t *buf = malloc(MAX(size, (size_t) 1));

        ck_assert_ptr_nonnull(buf);
        ck_assert_uint_eq(sandboxcgd__record__sandbox_record__pack(rec, buf), size);
        write_bytes(name, buf, size);
}

/* ---- saving and loading -------------------------------------------------- */

START_TEST(test_open_missing)
{
        Store other = STORE_NULL;
        char path[PATH_MAX + 16];
        Error e = {};

        (void) snprintf(path, sizeof path, "%s/missing", dir);
        ck_assert_int_eq(store_open(&other, path, &e), -ENOENT);
        ck_assert_int_eq(e.code, GRPC_INTERNAL);
        ck_assert_msg(strstr(e.message, path), "%s", e.message);
        ck_assert_int_lt(other.dir_fd, 0);
        ck_assert_ptr_null(other.dir);
        store_close(&other);
}
END_TEST

START_TEST(test_empty)
{
        Loaded l = {};

        load(&l);
        ck_assert_uint_eq(l.n, 0);
        ck_assert_ptr_null(l.list);
        ck_assert_uint_eq(l.problems.n, 0);
        loaded_done(&l);
}
END_TEST

START_TEST(test_roundtrip)
{
        _cleanup_(sandbox_freep) Sandbox *s = sandbox_full("sb-1_x.y");
        Loaded l = {};
        struct stat stbuf;

        save(s);
        assert_dir_is("sb-1_x.y.sandbox");
        ck_assert_int_eq(fstatat(st.dir_fd, "sb-1_x.y.sandbox", &stbuf, 0), 0);
        ck_assert(S_ISREG(stbuf.st_mode));
        ck_assert_uint_eq(stbuf.st_mode & 07777, 0600);

        load(&l);
        ck_assert_uint_eq(l.problems.n, 0);
        ck_assert_uint_eq(l.n, 1);
        assert_sandbox_eq(l.list[0], s);
        /* Spot checks that do not rely on resources_equal(). */
        ck_assert_str_eq(l.list[0]->spec.resources.cpuset_cpus, "0-3,6");
        ck_assert_int_eq(l.list[0]->spec.overhead.cpu_period.value, 200000);
        ck_assert(l.list[0]->spec.resources.memory_swap.set);
        ck_assert_ptr_null(l.list[0]->pending_overhead.cpuset_cpus);
        ck_assert(!resources_equal(&l.list[0]->spec.resources, &l.list[0]->pending_resources));

        /* Loading does not change the records. */
        load(&l);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_uint_eq(l.problems.n, 0);
        assert_sandbox_eq(l.list[0], s);
        assert_dir_is("sb-1_x.y.sandbox");
        loaded_done(&l);
}
END_TEST

/* Unset fields come back unset. */
START_TEST(test_roundtrip_minimal)
{
        _cleanup_(sandbox_freep) Sandbox *s = sandbox_minimal("a", "sandboxcg");
        Loaded l = {};
        Sandbox *t;

        save(s);
        load(&l);
        ck_assert_uint_eq(l.problems.n, 0);
        ck_assert_uint_eq(l.n, 1);
        t = l.list[0];
        assert_sandbox_eq(t, s);
        ck_assert_int_eq(t->state, SANDBOX_CREATING);
        ck_assert_int_eq(t->pending, SANDBOX_OP_CREATE);
        ck_assert(!t->spec.resources.cpu_quota.set);
        ck_assert(!t->spec.resources.memory_limit.set);
        ck_assert_ptr_null(t->spec.resources.cpuset_cpus);
        ck_assert_uint_eq(t->spec.resources.n_hugepages, 0);
        ck_assert_int_eq(t->vmm_pid, 0);
        ck_assert_uint_eq(t->vmm_start_time, 0);
        ck_assert_ptr_null(t->vcpu_tids);
        ck_assert_uint_eq(t->n_vcpu_tids, 0);
        ck_assert_uint_eq(t->vmm_exited_at, 0);
        ck_assert_ptr_null(t->made_parents);
        loaded_done(&l);
}
END_TEST

/* Several sandboxes at once, one in each state, with an AttachVmm in flight
 * (a delete for the one being deleted). */
START_TEST(test_roundtrip_several)
{
        static const char *const ids[_SANDBOX_STATE_MAX] = { "s0", "s1", "s2", "s3", "s4" };
        Sandbox *s[_SANDBOX_STATE_MAX] = {};
        Loaded l = {};

        for (SandboxState i = 0; i < _SANDBOX_STATE_MAX; i++) {
                s[i] = sandbox_minimal(ids[i], "kubepods");
                s[i]->state = i;
                if (i == SANDBOX_DELETING)
                        s[i]->pending = SANDBOX_OP_DELETE;
                else {
                        s[i]->pending = SANDBOX_OP_ATTACH_VMM;
                        s[i]->pending_vmm_pid = 1000 + (pid_t) i;
                        s[i]->pending_vmm_start_time = 2000 + (uint64_t) i;
                }
                save(s[i]);
        }
        load(&l);
        ck_assert_uint_eq(l.problems.n, 0);
        ck_assert_uint_eq(l.n, _SANDBOX_STATE_MAX);
        for (SandboxState i = 0; i < _SANDBOX_STATE_MAX; i++) {
                Sandbox *t = loaded_find(&l, ids[i]);

                ck_assert_ptr_nonnull(t);
                assert_sandbox_eq(t, s[i]);
                sandbox_free(s[i]);
        }
        loaded_done(&l);
}
END_TEST

START_TEST(test_replace)
{
        _cleanup_(sandbox_freep) Sandbox *s = sandbox_full("x");
        Loaded l = {};

        save(s);
        s->state = SANDBOX_VMM_EXITED;
        s->spec.resources.cpu_quota.value = 75000;
        s->pending = SANDBOX_OP_NONE;
        resources_done(&s->pending_resources);
        resources_done(&s->pending_overhead);
        s->made_parents = strv_free(s->made_parents);
        s->n_vcpu_tids = 1;
        save(s);
        /* No temp file left behind, one record. */
        assert_dir_is("x.sandbox");

        load(&l);
        ck_assert_uint_eq(l.problems.n, 0);
        ck_assert_uint_eq(l.n, 1);
        assert_sandbox_eq(l.list[0], s);
        ck_assert_int_eq(l.list[0]->spec.resources.cpu_quota.value, 75000);
        ck_assert_int_eq(l.list[0]->pending, SANDBOX_OP_NONE);
        ck_assert_ptr_null(l.list[0]->made_parents);
        loaded_done(&l);
}
END_TEST

START_TEST(test_remove)
{
        _cleanup_(sandbox_freep) Sandbox *a = sandbox_full("a"), *b = sandbox_minimal("b", "x");
        Loaded l = {};
        Error e = {};

        save(a);
        save(b);
        ck_assert_int_eq(store_remove(&st, "a", &e), 0);
        ck_assert(!error_is_set(&e));
        assert_dir_is("b.sandbox");

        load(&l);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.list[0]->spec.id, "b");

        ck_assert_int_eq(store_remove(&st, "b", &e), 0);
        load(&l);
        ck_assert_uint_eq(l.n, 0);
        ck_assert_uint_eq(l.problems.n, 0);

        /* Removing what is not there is fine. */
        ck_assert_int_eq(store_remove(&st, "b", &e), 0);
        ck_assert_int_eq(store_remove(&st, "never", &e), 0);
        ck_assert(!error_is_set(&e));
        assert_dir_is("");
        loaded_done(&l);
}
END_TEST

/* With sync on, the same (fsync must not fail on a plain directory). */
START_TEST(test_sync)
{
        _cleanup_(sandbox_freep) Sandbox *s = sandbox_full("synced");
        Loaded l = {};
        Error e = {};

        st.sync = true;
        save(s);
        load(&l);
        ck_assert_uint_eq(l.n, 1);
        assert_sandbox_eq(l.list[0], s);
        ck_assert_int_eq(store_remove(&st, "synced", &e), 0);
        assert_dir_is("");
        loaded_done(&l);
}
END_TEST

/* A record written by hand with this boot's id loads: the helpers below
 * build good records unless they change something. */
START_TEST(test_hand_made)
{
        Sandboxcgd__Record__SandboxRecord rec;
        char *made[] = { (char *) "unified/a", (char *) "cpu/a/b" };
        Loaded l = {};

        rec_init(&rec, st.boot_id, "h", "/a/b");
        rec.made_parents = made;
        rec.n_made_parents = ELEMENTSOF(made);
        rec_write(&rec, "h.sandbox");
        load(&l);
        ck_assert_uint_eq(l.problems.n, 0);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.list[0]->spec.id, "h");
        ck_assert_str_eq(l.list[0]->spec.parent, "a/b"); /* normalized */
        ck_assert_int_eq(l.list[0]->state, SANDBOX_CREATED);
        ck_assert_int_eq(l.list[0]->pending, SANDBOX_OP_NONE);
        ck_assert_uint_eq(strv_length(l.list[0]->made_parents), 2);
        loaded_done(&l);
}
END_TEST

/* ---- problems ------------------------------------------------------------ */

START_TEST(test_other_boot)
{
        _cleanup_(sandbox_freep) Sandbox *good = sandbox_full("good");
        Sandboxcgd__Record__SandboxRecord rec;
        Loaded l = {};

        save(good);
        rec_init(&rec, OTHER_BOOT_ID, "old", "kubepods");
        rec_write(&rec, "old.sandbox");

        load(&l);
        assert_one_problem(&l, STORE_OTHER_BOOT, "old.sandbox");
        ck_assert_msg(strstr(l.problems.items[0].reason, OTHER_BOOT_ID), "%s", l.problems.items[0].reason);
        ck_assert_uint_eq(l.n, 1);
        assert_sandbox_eq(l.list[0], good);
        ck_assert(!exists("old.sandbox"));
        assert_dir_is("good.sandbox");

        /* Gone: not reported again. */
        load(&l);
        ck_assert_uint_eq(l.problems.n, 0);
        ck_assert_uint_eq(l.n, 1);
        loaded_done(&l);
}
END_TEST

/* Another boot wins over anything else wrong with the record: it is
 * dropped, not quarantined. */
START_TEST(test_other_boot_inconsistent)
{
        Sandboxcgd__Record__SandboxRecord rec;
        Loaded l = {};

        rec_init(&rec, OTHER_BOOT_ID, "other-name", "a//b");
        rec_write(&rec, "old.sandbox");
        load(&l);
        assert_one_problem(&l, STORE_OTHER_BOOT, "old.sandbox");
        ck_assert_uint_eq(l.n, 0);
        assert_dir_is("");
        loaded_done(&l);
}
END_TEST

START_TEST(test_garbage)
{
        /* A tag that never ends (an 11-byte varint). */
        static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                           0xff, 0xff, 0xff, 0xff, 0xff };
        _cleanup_(sandbox_freep) Sandbox *good = sandbox_minimal("good", "p");
        Loaded l = {};

        save(good);
        write_bytes("x.sandbox", garbage, sizeof garbage);

        load(&l);
        assert_one_problem(&l, STORE_CORRUPT, "x.sandbox");
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.list[0]->spec.id, "good");
        ck_assert(!exists("x.sandbox"));
        ck_assert(exists("x.sandbox.corrupt"));
        assert_dir_is("good.sandbox x.sandbox.corrupt");

        /* Quarantined: not reported again, and left alone. */
        load(&l);
        ck_assert_uint_eq(l.problems.n, 0);
        ck_assert_uint_eq(l.n, 1);
        assert_dir_is("good.sandbox x.sandbox.corrupt");
        loaded_done(&l);
}
END_TEST

/* An empty protobuf is a valid message with nothing set: no id, no boot
 * id. It is not a record. */
START_TEST(test_empty_file)
{
        Loaded l = {};

        write_bytes("e.sandbox", "", 0);
        load(&l);
        assert_one_problem(&l, STORE_CORRUPT, "e.sandbox");
        ck_assert_uint_eq(l.n, 0);
        assert_dir_is("e.sandbox.corrupt");
        loaded_done(&l);
}
END_TEST

/* A good record of this boot under another sandbox's file name. */
START_TEST(test_id_mismatch)
{
        _cleanup_(sandbox_freep) Sandbox *s = sandbox_full("a");
        Loaded l = {};

        save(s);
        ck_assert_int_eq(renameat(st.dir_fd, "a.sandbox", st.dir_fd, "b.sandbox"), 0);
        load(&l);
        assert_one_problem(&l, STORE_CORRUPT, "b.sandbox");
        ck_assert_uint_eq(l.n, 0);
        assert_dir_is("b.sandbox.corrupt");
        loaded_done(&l);
}
END_TEST

/* Records that unpack but do not make sense: each is quarantined. */
enum {
        BAD_NO_BOOT_ID,
        BAD_NO_ID,
        BAD_INVALID_ID,
        BAD_NO_PARENT,
        BAD_INVALID_PARENT,
        BAD_NO_STATE,
        BAD_UNKNOWN_STATE,
        BAD_UNKNOWN_PENDING,
        BAD_NEGATIVE_PENDING,
        BAD_MADE_OTHER,
        BAD_MADE_SIBLING,
        BAD_MADE_BELOW,
        BAD_MADE_NO_HIERARCHY,
        BAD_MADE_MOUNT,
        BAD_MADE_ABSOLUTE,
        BAD_MADE_DOTDOT,
        _BAD_MAX,
};

START_TEST(test_inconsistent)
{
        Sandboxcgd__Record__SandboxRecord rec;
        char *made[2] = { (char *) "cpu/a" };
        Loaded l = {};

        rec_init(&rec, st.boot_id, "r", "a/b");
        rec.made_parents = made;
        rec.n_made_parents = 2;
        switch (_i) {
        case BAD_NO_BOOT_ID:
                rec.boot_id = NULL;
                break;
        case BAD_NO_ID:
                rec.id = NULL;
                break;
        case BAD_INVALID_ID:
                rec.id = (char *) ".r";
                break;
        case BAD_NO_PARENT:
                rec.cgroup_parent = NULL;
                break;
        case BAD_INVALID_PARENT:
                rec.cgroup_parent = (char *) "a/../b";
                break;
        case BAD_NO_STATE:
                rec.has_state = false;
                break;
        case BAD_UNKNOWN_STATE:
                rec.state = SANDBOXCG__V1__SANDBOX_STATE__SANDBOX_STATE_UNKNOWN;
                break;
        case BAD_UNKNOWN_PENDING:
                PB_SET(&rec, pending, (Sandboxcgd__Record__Operation) 6);
                break;
        case BAD_NEGATIVE_PENDING:
                PB_SET(&rec, pending, (Sandboxcgd__Record__Operation) -1);
                break;
        case BAD_MADE_OTHER:
                made[1] = (char *) "cpu/other";
                break;
        case BAD_MADE_SIBLING:
                made[1] = (char *) "unified/a/bb";
                break;
        case BAD_MADE_BELOW:
                made[1] = (char *) "unified/a/b/c";
                break;
        case BAD_MADE_NO_HIERARCHY:
                made[1] = (char *) "memory/a";
                break;
        case BAD_MADE_MOUNT:
                made[1] = (char *) "cpu";
                break;
        case BAD_MADE_ABSOLUTE:
                made[1] = (char *) "/cpu/a";
                break;
        case BAD_MADE_DOTDOT:
                made[1] = (char *) "cpu/../a";
                break;
        default:
                ck_abort();
        }
        if (!made[1])
                rec.n_made_parents = 1;
        rec_write(&rec, "r.sandbox");

        load(&l);
        assert_one_problem(&l, STORE_CORRUPT, "r.sandbox");
        ck_assert_uint_eq(l.n, 0);
        assert_dir_is("r.sandbox.corrupt");
        loaded_done(&l);
}
END_TEST

START_TEST(test_stray)
{
        _cleanup_(sandbox_freep) Sandbox *good = sandbox_minimal("y", "p");
        Loaded l = {};

        save(good);
        write_bytes(".tmp-y.sandbox", "partial", 7);
        load(&l);
        assert_one_problem(&l, STORE_STRAY, ".tmp-y.sandbox");
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.list[0]->spec.id, "y");
        assert_dir_is("y.sandbox");

        load(&l);
        ck_assert_uint_eq(l.problems.n, 0);
        loaded_done(&l);
}
END_TEST

START_TEST(test_unrelated)
{
        static const char *const names[] = { "README", "notes.txt", "x.sandbox.corrupt", "x.sandboxes",
                                             "sandbox", ".sandbox", ".hidden" };
        _cleanup_(sandbox_freep) Sandbox *good = sandbox_full("good");
        Loaded l = {};

        save(good);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                write_bytes(names[i], "\xff\xff", 2);
        ck_assert_int_eq(mkdirat(st.dir_fd, "subdir", 0700), 0);

        load(&l);
        ck_assert_uint_eq(l.problems.n, 0);
        ck_assert_uint_eq(l.n, 1);
        assert_sandbox_eq(l.list[0], good);
        assert_dir_is(".hidden .sandbox README good.sandbox notes.txt sandbox subdir x.sandbox.corrupt "
                      "x.sandboxes");
        loaded_done(&l);
}
END_TEST

/* Something named like a record that is not a regular file. */
START_TEST(test_not_a_file)
{
        _cleanup_(sandbox_freep) Sandbox *good = sandbox_minimal("good", "p");
        Loaded l = {};

        save(good);
        ck_assert_int_eq(mkdirat(st.dir_fd, "d.sandbox", 0700), 0);
        load(&l);
        assert_one_problem(&l, STORE_CORRUPT, "d.sandbox");
        ck_assert_uint_eq(l.n, 1);
        assert_dir_is("d.sandbox.corrupt good.sandbox");
        loaded_done(&l);

        /* A symbolic link is not followed, even to a good record. */
        ck_assert_int_eq(symlinkat("good.sandbox", st.dir_fd, "l.sandbox"), 0);
        load(&l);
        assert_one_problem(&l, STORE_CORRUPT, "l.sandbox");
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.list[0]->spec.id, "good");
        assert_dir_is("d.sandbox.corrupt good.sandbox l.sandbox.corrupt");
        loaded_done(&l);
}
END_TEST

/* Every kind of problem in one directory, each reported once. */
START_TEST(test_all_problems)
{
        static const uint8_t garbage[] = { 0x0a, 0x80 };
        _cleanup_(sandbox_freep) Sandbox *a = sandbox_full("a"), *b = sandbox_minimal("b", "q");
        Sandboxcgd__Record__SandboxRecord rec;
        bool seen[3] = {};
        Loaded l = {};

        save(a);
        save(b);
        rec_init(&rec, OTHER_BOOT_ID, "old", "kubepods");
        rec_write(&rec, "old.sandbox");
        write_bytes("bad.sandbox", garbage, sizeof garbage);
        write_bytes(".tmp-a.sandbox", "", 0);

        load(&l);
        ck_assert_uint_eq(l.n, 2);
        assert_sandbox_eq(loaded_find(&l, "a"), a);
        assert_sandbox_eq(loaded_find(&l, "b"), b);
        ck_assert_uint_eq(l.problems.n, 3);
        for (size_t i = 0; i < l.problems.n; i++) {
                StoreProblem p = l.problems.items[i].problem;

                ck_assert_int_ge(p, 0);
                ck_assert_int_lt(p, 3);
                ck_assert(!seen[p]);
                seen[p] = true;
                ck_assert_str_eq(l.problems.items[i].file, p == STORE_OTHER_BOOT ? "old.sandbox"
                                                           : p == STORE_CORRUPT  ? "bad.sandbox"
                                                                                 : ".tmp-a.sandbox");
        }
        assert_dir_is("a.sandbox b.sandbox bad.sandbox.corrupt");
        loaded_done(&l);
}
END_TEST

static Suite *store_suite(void)
{
        Suite *s = suite_create("store");
        TCase *tc;

        tc = tcase_create("records");
        tcase_add_unchecked_fixture(tc, basedir_setup, basedir_teardown);
        tcase_add_checked_fixture(tc, store_setup, store_teardown);
        tcase_add_test(tc, test_open_missing);
        tcase_add_test(tc, test_empty);
        tcase_add_test(tc, test_roundtrip);
        tcase_add_test(tc, test_roundtrip_minimal);
        tcase_add_test(tc, test_roundtrip_several);
        tcase_add_test(tc, test_replace);
        tcase_add_test(tc, test_remove);
        tcase_add_test(tc, test_sync);
        tcase_add_test(tc, test_hand_made);
        suite_add_tcase(s, tc);

        tc = tcase_create("problems");
        tcase_add_unchecked_fixture(tc, basedir_setup, basedir_teardown);
        tcase_add_checked_fixture(tc, store_setup, store_teardown);
        tcase_add_test(tc, test_other_boot);
        tcase_add_test(tc, test_other_boot_inconsistent);
        tcase_add_test(tc, test_garbage);
        tcase_add_test(tc, test_empty_file);
        tcase_add_test(tc, test_id_mismatch);
        tcase_add_loop_test(tc, test_inconsistent, 0, _BAD_MAX);
        tcase_add_test(tc, test_stray);
        tcase_add_test(tc, test_unrelated);
        tcase_add_test(tc, test_not_a_file);
        tcase_add_test(tc, test_all_problems);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(store_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
