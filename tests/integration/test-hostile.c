/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* The hostile-input suite (issue 6, "Proof"): the built daemon on this
 * host's real cgroups, fed every kind of malformed, out-of-range, oversized
 * and ill-meant request, typed through libsandboxcg where the client can
 * express it and as raw ttrpc frames and hand-encoded protobuf where it
 * cannot (NUL bytes inside strings, duplicated and unknown fields, the wrong
 * message type, broken frames). Each case expects a clear error: the right
 * gRPC code and, where there is one, a message naming the field.
 *
 * One daemon serves the whole run (--frame-timeout 1 --max-connections 8),
 * with three sandboxes made at the start: base-a (the full spec), base-b (a
 * running stand-in VMM with two vCPU threads attached) and base-c (no
 * limits, under a deeper parent). After every group of cases (one test
 * each) the checked teardown proves that
 *   - the daemon still answers Version on a fresh connection;
 *   - nothing outside its sandboxes changed: the directories of every
 *     hierarchy to depth 2 and the limit files of the host's own cgroups
 *     (read, never written) are as they were after the start, and so is
 *     every directory below the run's parent;
 *   - no record was lost or changed: each base sandbox answers GetSandbox
 *     exactly as at the start (spec, state, VMM, vCPUs, timestamps, and the
 *     kernel values it reads back), its record file is byte for byte the
 *     same, its limit files hold the same values, the VMM's threads are
 *     where they were, and the state directory holds no other record.
 * Directories that come and go beside the test are left out of the host
 * snapshot: the parents of this project's other test runs and benchmarks
 * ("scg-*" at the top of a hierarchy) and the siblings of the test's own
 * cgroup (other processes of the machine that runs it).
 *
 * The symlink group runs a second daemon in a private mount namespace, where
 * a tmpfs with symlinks is mounted inside the run's parent (cgroupfs itself
 * refuses symlink(2), which the group shows too).
 *
 * Needs root (77 otherwise). Everything lives under a parent unique to the
 * run, removed at the end also on failure; the only processes killed are
 * the test's own stand-ins. */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/integration/sandbox-check.h"

#define PF_KTHREAD 0x00200000
#define MAX_CONNECTIONS 8
#define N_BASE 3

static const char *const base_ids[N_BASE] = { "base-a", "base-b", "base-c" };
static const char *const vmm_threads[] = { "vcpu0", "vcpu1", "io-worker" };

static char rundir[256];        /* the daemons' directories, the symlink targets */
static char deep_parent[200];   /* base-c's: {parent}/deep/er */
static pid_t base_vmm = -1;     /* base-b's VMM, a child of the runner (not track()ed) */
static pid_t base_tids[3];
static int daemon_status = 0;   /* how the daemon ended: nonzero fails the run */
static unsigned idle_sockets;   /* the daemon's sockets without connections */

/* What the run started with, taken after the base sandboxes were made. */
static char *host_before, *tree_before, *state_dir_before;
static struct {
        uint8_t *sandbox, *record;      /* GetSandbox's Sandbox packed; the record file */
        size_t n_sandbox, n_record;
        char *limits;                   /* snapshot(): the limit files (under parent only) */
} base[N_BASE];

static unsigned n_cases;        /* hostile inputs sent by the running group */
static int rawfd = -1;          /* the group's connection for raw frames */
static uint32_t raw_stream = 1;

/* ---------------------------------------------------------------------------
 * Protobuf by hand: what a well-behaved encoder will not produce. */

typedef struct Wire {
        uint8_t *p;
        size_t n, cap;
} Wire;

static void w_done(Wire *w)
{
        free(w->p);
        *w = (Wire){};
}

static void w_put(Wire *w, const void *data, size_t n)
{
        if (w->n + n > w->cap) {
                size_t cap = MAX(2 * w->cap, w->n + n + 64);
                uint8_t *p = realloc(w->p, cap);
                ck_assert_ptr_nonnull(p);
                w->p = p;
                w->cap = cap;
        }
        if (n > 0)
                memcpy(w->p + w->n, data, n);
        w->n += n;
}

static void w_varint(Wire *w, uint64_t v)
{
        uint8_t b[10];
        size_t n = 0;
        do {
                b[n] = (uint8_t) (v & 0x7f);
                v >>= 7;
                if (v)
                        b[n] |= 0x80;
                n++;
        } while (v);
        w_put(w, b, n);
}

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_GROUP = 3, WT_FIXED32 = 5 };

static void w_tag(Wire *w, unsigned field, unsigned type)
{
        w_varint(w, (uint64_t) field << 3 | type);
}

/* int32 and int64 alike: negative numbers are ten bytes, as protobuf says. */
static void w_int(Wire *w, unsigned field, int64_t v)
{
        w_tag(w, field, WT_VARINT);
        w_varint(w, (uint64_t) v);
}

static void w_bytes(Wire *w, unsigned field, const void *data, size_t n)
{
        w_tag(w, field, WT_LEN);
        w_varint(w, n);
        w_put(w, data, n);
}

static void w_str(Wire *w, unsigned field, const char *s)
{
        w_bytes(w, field, s, strlen(s));
}

/* An embedded message (consumed). */
static void w_msg(Wire *w, unsigned field, Wire *m)
{
        w_bytes(w, field, m->p, m->n);
        w_done(m);
}

/* Field numbers of sandboxcg.proto. */
enum { F_ID = 1, F_PARENT = 2, F_CREATE_RES = 3, F_CREATE_OVH = 4, F_UPDATE_RES = 2, F_UPDATE_OVH = 3 };
enum {
        R_PERIOD = 1, R_QUOTA, R_SHARES, R_CPUS, R_MEMS, R_MEMORY, R_SWAP, R_HUGEPAGES, R_PIDS,
};
enum { VMM_PID = 2, VCPU_TIDS = 2, VCPU_DISCOVER = 3, VCPU_EXPECT = 4, VCPU_PATTERNS = 5 };

/* ---------------------------------------------------------------------------
 * Calls and their checks. */

static const char *status_message(const Ttrpc__Response *resp)
{
        return resp->status ? strempty(resp->status->message) : "";
}

/* One hostile input's outcome: code (0 for OK) and a message naming field
 * (NULL: not checked). */
static void expect(const Ttrpc__Response *resp, int code, const char *field, const char *what)
{
        int got = resp->status ? resp->status->code : 0;

        n_cases++;
        ck_assert_msg(got == code, "%s: expected %s, got %s: %s", what, sandboxcg_code_to_string(code),
                      sandboxcg_code_to_string(got), status_message(resp));
        if (field)
                ck_assert_msg(names_field(status_message(resp), field), "%s: message \"%s\" does not name \"%s\"",
                              what, status_message(resp), field);
}

/* The same for a typed call of libsandboxcg. */
static void hostile(int r, int code, const char *field, const char *what)
{
        n_cases++;
        check_code(r, code, field, what);
}

/* A packed ttrpc.Request (or any bytes) on the group's raw connection. */
static Ttrpc__Response *call_packed(const uint8_t *req, size_t n)
{
        Ttrpc__Response *resp = NULL;
        uint32_t id = raw_stream;

        raw_stream += 2;
        int r = test_call_packed(rawfd, id, req, n, &resp);
        ck_assert_msg(r == 0, "stream %u: no response: %s", id, strerror(-r));
        return keep(resp);
}

/* method of the service with a hand-made payload (NULL: none). */
static Ttrpc__Response *call_raw(const char *method, const Wire *payload)
{
        _cleanup_free_ uint8_t *req = NULL;
        size_t n;

        ck_assert_int_eq(test_pack_request_raw(SANDBOXCG_SERVICE, method, payload ? payload->p : NULL,
                                               payload ? payload->n : 0, &req, &n),
                         0);
        return call_packed(req, n);
}

/* call_raw, checked, and the payload consumed. */
static Ttrpc__Response *raw_case(const char *method, Wire *payload, int code, const char *field, const char *what)
{
        Ttrpc__Response *resp = call_raw(method, payload);
        if (payload)
                w_done(payload);
        expect(resp, code, field, what);
        return resp;
}

static Wire id_only(const char *id)
{
        Wire w = {};
        w_str(&w, F_ID, id);
        return w;
}

/* CreateSandbox{id, parent, resources|overhead: {field: v}} for an int64 field. */
static Wire create_with(const char *id, unsigned side, unsigned field, int64_t v)
{
        Wire w = {}, r = {};
        w_str(&w, F_ID, id);
        w_str(&w, F_PARENT, parent);
        w_int(&r, field, v);
        w_msg(&w, side, &r);
        return w;
}

static bool is_kthread(pid_t pid, char comm[static 64])
{
        const char *s = kread(fmt("/proc/%d/stat", (int) pid));
        unsigned long flags = 0;
        const char *open = s ? strchr(s, '(') : NULL, *close = s ? strrchr(s, ')') : NULL;

        if (!open || !close || sscanf(close + 1, " %*s %*s %*s %*s %*s %*s %lu", &flags) != 1)
                return false;
        (void) snprintf(comm, 64, "%.*s", (int) (close - open - 1), open + 1);
        return flags & PF_KTHREAD;
}

/* A kernel worker thread from /proc (0 when none is visible, e.g. in a PID
 * namespace). */
static pid_t find_kworker(void)
{
        DIR *dir = opendir("/proc");
        pid_t found = 0;
        char comm[64];

        for (struct dirent *de; dir && !found && (de = readdir(dir));) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (*end == '\0' && pid > 2 && is_kthread((pid_t) pid, comm) && strncmp(comm, "kworker", 7) == 0)
                        found = (pid_t) pid;
        }
        if (dir)
                closedir(dir);
        return found;
}

/* ---------------------------------------------------------------------------
 * What must not change. */

static int cmp_lines(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

typedef struct Lines {
        char **v;
        size_t n, cap;
} Lines;

static void lines_add(Lines *l, const char *s)
{
        if (l->n == l->cap) {
                l->cap = MAX(2 * l->cap, (size_t) 64);
                l->v = realloc(l->v, l->cap * sizeof *l->v);
                ck_assert_ptr_nonnull(l->v);
        }
        l->v[l->n] = strdup(s);
        ck_assert_ptr_nonnull(l->v[l->n]);
        l->n++;
}

/* Sorted, joined with newlines, freed. */
static char *lines_join(Lines *l)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ck_assert_ptr_nonnull(f);
        if (l->n > 0)
                qsort(l->v, l->n, sizeof *l->v, cmp_lines);
        for (size_t i = 0; i < l->n; i++) {
                fprintf(f, "%s\n", l->v[i]);
                free(l->v[i]);
        }
        free(l->v);
        *l = (Lines){};
        fclose(f);
        return buf;
}

static bool is_dir_entry(const char *dir, const struct dirent *de)
{
        struct stat st;
        if (de->d_name[0] == '.')
                return false;
        if (de->d_type != DT_UNKNOWN)
                return de->d_type == DT_DIR;
        return fstatat(AT_FDCWD, fmt("%s/%s", dir, de->d_name), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISDIR(st.st_mode);
}

/* The test's own cgroup in the hierarchy mounted at /sys/fs/cgroup/<name>. */
static char *own_cgroup(const char *name)
{
        char *path = NULL;
        const char *h = streq(name, "unified") ? "" : streq(name, "systemd") ? "name=systemd" : name;

        if (test_task_cgroup(getpid(), getpid(), h, &path) < 0)
                return NULL;
        return path;
}

/* Where the children come and go with the processes beside the test: the
 * parent of its own cgroup, when that is not the root ("" otherwise). */
static const char *churning_dir(const char *own)
{
        const char *slash = own ? strrchr(own, '/') : NULL;
        if (!slash || slash == own)
                return "";
        return fmt("%.*s", (int) (slash - own - 1), own + 1);
}

static void add_limit_files(Lines *l, const char *dir)
{
        static const char *const files[] = {
                "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.max", "cpu.weight",
                "cpuset.cpus", "cpuset.mems", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                "memory.max", "memory.swap.max", "pids.max", "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max",
                "hugetlb.1GB.limit_in_bytes", "hugetlb.1GB.max", "cgroup.subtree_control", "cgroup.max.depth",
                "cgroup.max.descendants", "cgroup.type", "notify_on_release", "release_agent",
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                const char *v = kread(fmt("%s/%s", dir, files[i]));
                if (v)
                        lines_add(l, fmt("file %s/%s=%s", dir, files[i], v));
        }
}

/* The host outside the run's parent: the entries of the cgroup root; in
 * every hierarchy the directories to depth 2; the limit files of every
 * hierarchy's root and of the test's own cgroups. Read only. */
static char *host_snapshot(void)
{
        Lines l = {};
        DIR *root = opendir("/sys/fs/cgroup");

        ck_assert_ptr_nonnull(root);
        for (struct dirent *de; (de = readdir(root));) {
                if (de->d_name[0] == '.' || strncmp(de->d_name, "scg-", 4) == 0)
                        continue;
                lines_add(&l, fmt("root %s type %d", de->d_name, de->d_type));
                const char *mount = fmt("/sys/fs/cgroup/%s", de->d_name);
                if (!is_dir_entry("/sys/fs/cgroup", de))
                        continue;
                char *own = own_cgroup(de->d_name);
                char skip[512];
                (void) snprintf(skip, sizeof skip, "%s", churning_dir(own));
                add_limit_files(&l, mount);
                if (own && !streq(own, "/"))
                        add_limit_files(&l, fmt("%s%s", mount, own));
                free(own);

                DIR *d1 = opendir(mount);
                for (struct dirent *e1; d1 && (e1 = readdir(d1));) {
                        if (!is_dir_entry(mount, e1) || strncmp(e1->d_name, "scg-", 4) == 0)
                                continue;
                        char dir1[600];
                        (void) snprintf(dir1, sizeof dir1, "%s/%s", mount, e1->d_name);
                        lines_add(&l, fmt("dir %s", dir1));
                        if (streq(e1->d_name, skip))
                                continue;
                        DIR *d2 = opendir(dir1);
                        for (struct dirent *e2; d2 && (e2 = readdir(d2));)
                                if (is_dir_entry(dir1, e2))
                                        lines_add(&l, fmt("dir %s/%s", dir1, e2->d_name));
                        if (d2)
                                closedir(d2);
                }
                if (d1)
                        closedir(d1);
        }
        closedir(root);
        return lines_join(&l);
}

static void tree_below(Lines *l, const char *dir)
{
        DIR *dd = opendir(dir);
        char sub[PATH_MAX];

        for (struct dirent *de; dd && (de = readdir(dd));) {
                if (de->d_name[0] == '.')
                        continue;
                (void) snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
                struct stat st;
                if (lstat(sub, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        lines_add(l, sub);
                        tree_below(l, sub);
                } else if (!S_ISREG(st.st_mode))
                        lines_add(l, fmt("%s (type 0%o)", sub, (unsigned) (st.st_mode & S_IFMT)));
        }
        if (dd)
                closedir(dd);
}

/* Every directory below the run's parent, in every hierarchy. */
static char *parent_tree(void)
{
        Lines l = {};
        DIR *root = opendir("/sys/fs/cgroup");

        ck_assert_ptr_nonnull(root);
        for (struct dirent *de; (de = readdir(root));)
                if (is_dir_entry("/sys/fs/cgroup", de))
                        tree_below(&l, fmt("/sys/fs/cgroup/%s/%s", de->d_name, parent));
        closedir(root);
        tree_below(&l, fmt("/sys/fs/cgroup/%s", parent));
        return lines_join(&l);
}

static char *state_dir_listing(void)
{
        Lines l = {};
        DIR *dir = opendir(d.state_dir);

        ck_assert_ptr_nonnull(dir);
        for (struct dirent *de; (de = readdir(dir));)
                if (de->d_name[0] != '.')
                        lines_add(&l, de->d_name);
        closedir(dir);
        return lines_join(&l);
}

static uint8_t *slurp(const char *path, size_t *ret_n)
{
        FILE *f = fopen(path, "re");
        uint8_t *buf = NULL;
        size_t n = 0, cap = 0;

        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        for (;;) {
                if (n == cap) {
                        cap = MAX(2 * cap, (size_t) 4096);
                        buf = realloc(buf, cap);
                        ck_assert_ptr_nonnull(buf);
                }
                size_t k = fread(buf + n, 1, cap - n, f);
                n += k;
                if (k == 0)
                        break;
        }
        fclose(f);
        *ret_n = n;
        return buf;
}

static uint8_t *packed_sandbox(const char *id, size_t *ret_n)
{
        Sandbox *sb = get_ok(id);
        size_t n = sandboxcg__v1__sandbox__get_packed_size(sb);
        uint8_t *buf = malloc(MAX(n, (size_t) 1));

        ck_assert_ptr_nonnull(buf);
        sandboxcg__v1__sandbox__pack(sb, buf);
        *ret_n = n;
        return buf;
}

static void take_baseline(void)
{
        host_before = host_snapshot();
        tree_before = parent_tree();
        state_dir_before = state_dir_listing();
        for (size_t i = 0; i < N_BASE; i++) {
                base[i].sandbox = packed_sandbox(base_ids[i], &base[i].n_sandbox);
                base[i].record = slurp(record_of(base_ids[i]), &base[i].n_record);
                if (i < 2)
                        base[i].limits = snapshot(base_ids[i]);
        }
        release_responses();
}

static unsigned daemon_sockets(void);

static bool daemon_running(void)
{
        const char *s = kread(fmt("/proc/%d/stat", (int) d.pid));
        const char *p = s ? strrchr(s, ')') : NULL;
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void assert_serving(void)
{
        Sandboxcg__V1__VersionResponse *v = NULL;
        SandboxcgClient *fresh = NULL;

        ck_assert_msg(daemon_running(), "the daemon (pid %d) is not running", (int) d.pid);
        int r = sandboxcg_client_new(&fresh, d.socket);
        ck_assert_msg(r == 0, "connect %s: %s", d.socket, strerror(-r));
        r = sandboxcg_client_version(fresh, &v);
        ck_assert_msg(r == 0, "Version on a fresh connection: %s", strerror(-r));
        ck_assert_str_eq(v->api_version, "sandboxcg.v1");
        sandboxcg__v1__version_response__free_unpacked(v, NULL);
        sandboxcg_client_free(fresh);
}

static void assert_same_text(const char *before, char *now, const char *what)
{
        if (!streq(before, now)) {
                /* The first line that differs, for the report. */
                size_t i = 0, line = 1;
                for (; before[i] && before[i] == now[i]; i++)
                        if (before[i] == '\n')
                                line++;
                const char *b = before + i, *a = now + i;
                while (b > before && b[-1] != '\n')
                        b--, a--;
                ck_abort_msg("%s changed at line %zu: was \"%.*s\", is \"%.*s\"", what, line,
                             (int) strcspn(b, "\n"), b, (int) strcspn(a, "\n"), a);
        }
        free(now);
}

/* The proof after each group: serving, nothing outside changed, no record
 * lost. */
static void assert_unharmed(void)
{
        assert_serving();
        assert_same_text(host_before, host_snapshot(), "the host's cgroups");
        assert_same_text(tree_before, parent_tree(), "the directories below the run's parent");
        assert_same_text(state_dir_before, state_dir_listing(), "the state directory");
        for (size_t i = 0; i < N_BASE; i++) {
                const Sandbox *sb = get_ok(base_ids[i]);
                ck_assert_int_eq(sb->state, i == 1 ? STATE(RUNNING) : STATE(CREATED));
                size_t n;
                _cleanup_free_ uint8_t *now = packed_sandbox(base_ids[i], &n);
                ck_assert_msg(n == base[i].n_sandbox && memcmp(now, base[i].sandbox, n) == 0,
                              "GetSandbox %s answers differently than at the start", base_ids[i]);
                _cleanup_free_ uint8_t *rec = slurp(record_of(base_ids[i]), &n);
                ck_assert_msg(n == base[i].n_record && memcmp(rec, base[i].record, n) == 0,
                              "the record of %s changed", base_ids[i]);
                if (base[i].limits)
                        assert_same_text(base[i].limits, snapshot(base_ids[i]), base_ids[i]);
        }
        const Sandbox *b = get_ok("base-b");
        ck_assert_int_eq(kill(base_vmm, 0), 0);
        assert_thread_in(base_vmm, base_vmm, b, "pod_overhead");
        assert_thread_in(base_vmm, base_tids[0], b, "vcpu");
        assert_thread_in(base_vmm, base_tids[1], b, "vcpu");
        assert_thread_in(base_vmm, base_tids[2], b, "pod_overhead");
        ck_assert_uint_eq(count_sandboxes(), N_BASE);
        release_responses();
}

/* ---------------------------------------------------------------------------
 * Fixtures. The unchecked ones run once in the runner: the daemon, the base
 * sandboxes and the baseline are made before the first group and shared by
 * all (each group is a forked child); the end removes everything, also after
 * a failure. */

static void connect_client(void)
{
        int r = sandboxcg_client_new(&c, d.socket);
        ck_assert_msg(r == 0, "connect %s: %s", d.socket, strerror(-r));
}

static void unchecked_setup(void)
{
        static const char *const args[] = { "--frame-timeout", "1", "--max-connections", "8", NULL };
        Spec s;

        test_unique_parent(parent, sizeof parent);
        (void) snprintf(deep_parent, sizeof deep_parent, "%s/deep/er", parent);
        (void) snprintf(rundir, sizeof rundir, "%s/scg-test-hostile-XXXXXX", getenv("TMPDIR") ?: "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(rundir));
        (void) setenv("TMPDIR", rundir, 1);

        int r = test_daemon_start(&d, args);
        ck_assert_msg(r == 0, "daemon did not start: %s", strerror(-r));
        /* Before any connection: a fork would keep it open. */
        r = test_spawn_fake_vmm(vmm_threads, ELEMENTSOF(vmm_threads), &base_vmm, base_tids);
        ck_assert_msg(r == 0, "stand-in VMM: %s", strerror(-r));
        connect_client();
        check_ok(sandboxcg_client_host_info(c, &host), "HostInfo");

        spec_init(&s);
        create_ok("base-a", &s);
        create_ok("base-b", &s);
        check_ok(create("base-c", deep_parent, NULL, NULL), "CreateSandbox base-c");
        assert_ok(attach_vmm("base-b", base_vmm, NULL));
        assert_ok(attach_vcpus("base-b", NULL, 0, true, 2, NULL));
        take_baseline();
        c = sandboxcg_client_free(c);
        for (int i = 0; i < 500 && (idle_sockets = daemon_sockets()) > 1; i++)
                (void) usleep(10000);
        ck_assert_uint_eq(idle_sockets, 1);
}

static void unchecked_teardown(void)
{
        c = sandboxcg_client_free(c);
        test_kill_and_reap(base_vmm);
        if (d.pid > 0) {
                daemon_status = test_daemon_stop(&d);
                if (daemon_status != 0)
                        fprintf(stderr, "test-hostile: the daemon exited with status %d\n", daemon_status);
        }
        test_remove_parent_everywhere(parent);
        if (strstr(rundir, "/scg-test-hostile-") && !strchr(rundir, '\'')) {
                char cmd[400];
                (void) snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", rundir);
                (void) system(cmd);
        }
}

static void setup(void)
{
        n_cases = 0;
        connect_client();
        rawfd = test_connect(d.socket);
        ck_assert_int_ge(rawfd, 0);
        /* What a group that failed before left behind. */
        Sandboxcg__V1__ListSandboxesResponse *list;
        assert_ok(CALL(list_sandboxes, NULL, &list));
        for (size_t i = 0; i < list->n_sandboxes; i++) {
                const char *id = list->sandboxes[i]->id;
                bool existed;
                if (!streq(id, "base-a") && !streq(id, "base-b") && !streq(id, "base-c"))
                        (void) delete_sb(id, &existed);
        }
        release_responses();
}

static void teardown(void)
{
        if (rawfd >= 0)
                close(rawfd);
        rawfd = -1;
        release_all();
        assert_unharmed();
        c = sandboxcg_client_free(c);
        fprintf(stderr, "test-hostile: %u hostile cases, then the daemon serves, nothing outside changed, no record lost\n",
                n_cases);
}

/* ---------------------------------------------------------------------------
 * 1. Sandbox ids: traversal, empty, overlong, outside the charset; for every
 * method that takes one. Never NOT_FOUND or "existed=false": the id itself
 * is refused. */

START_TEST(test_ids)
{
        Spec s;
        char id129[130], id128[129];
        _cleanup_free_ char *id100k = malloc(100001);

        spec_init(&s);
        memset(id129, 'i', 129);
        id129[129] = '\0';
        memset(id128, 'i', 128);
        id128[128] = '\0';
        ck_assert_ptr_nonnull(id100k);
        memset(id100k, 'i', 100000);
        id100k[100000] = '\0';

        const char *bad[] = { "../x", "..", ".", "a/b", "/abs", "x/../../y", "", id129, id100k, "-x",
                              ".x", "_x", "x y", "x\n", "x\t", "caf\xc3\xa9", "x;rm", "x%n", "*", "base-a/" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *q = fmt("\"%.40s\"%s", bad[i], strlen(bad[i]) > 40 ? "..." : "");
                Sandboxcg__V1__UpdateSandboxRequest u = SANDBOXCG__V1__UPDATE_SANDBOX_REQUEST__INIT;
                Sandboxcg__V1__AttachVcpusResponse *vr;
                bool existed;

                hostile(create(bad[i], parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "id",
                        fmt("CreateSandbox id %s", q));
                hostile(get(bad[i], NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "id", fmt("GetSandbox id %s", q));
                hostile(delete_sb(bad[i], &existed), SANDBOXCG_CODE_INVALID_ARGUMENT, "id",
                        fmt("DeleteSandbox id %s", q));
                u.id = (char *) bad[i];
                hostile(CALL(update_sandbox, &u, &(Sandboxcg__V1__UpdateSandboxResponse *){ NULL }),
                        SANDBOXCG_CODE_INVALID_ARGUMENT, "id", fmt("UpdateSandbox id %s", q));
                hostile(attach_vmm(bad[i], base_vmm, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "id",
                        fmt("AttachVmm id %s", q));
                hostile(attach_vcpus(bad[i], NULL, 0, true, 0, &vr), SANDBOXCG_CODE_INVALID_ARGUMENT, "id",
                        fmt("AttachVcpus id %s", q));
        }

        /* No id at all. */
        Sandboxcg__V1__UpdateSandboxRequest u = SANDBOXCG__V1__UPDATE_SANDBOX_REQUEST__INIT;
        bool existed;
        hostile(create(NULL, parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "id", "CreateSandbox without id");
        hostile(get(NULL, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "id", "GetSandbox without id");
        hostile(delete_sb(NULL, &existed), SANDBOXCG_CODE_INVALID_ARGUMENT, "id", "DeleteSandbox without id");
        hostile(CALL(update_sandbox, &u, &(Sandboxcg__V1__UpdateSandboxResponse *){ NULL }),
                SANDBOXCG_CODE_INVALID_ARGUMENT, "id", "UpdateSandbox without id");
        hostile(attach_vmm(NULL, base_vmm, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "id", "AttachVmm without id");

        /* The longest id is fine (and removed again). */
        Sandboxcg__V1__CreateSandboxResponse *resp;
        assert_ok(create(id128, parent, &s, &resp));
        ck_assert(resp->created);
        delete_ok(id128);
}
END_TEST

/* 2. Cgroup parents: traversal, absolute escapes, non-canonical spellings,
 * overlong, too deep, inside another sandbox. */

START_TEST(test_parents)
{
        Spec s;
        char deep[2048], p1025[1100];
        _cleanup_free_ char *p100k = malloc(100001);

        spec_init(&s);
        size_t n = (size_t) snprintf(deep, sizeof deep, "%s", parent);
        for (int i = 1; i < 33; i++)
                n += (size_t) snprintf(deep + n, sizeof deep - n, "/l");
        ck_assert_ptr_nonnull(p100k);
        n = (size_t) snprintf(p1025, sizeof p1025, "%s/", parent);
        memset(p1025 + n, 'p', 1025 - n);
        p1025[1025] = '\0';
        n = (size_t) snprintf(p100k, 100001, "%s/", parent);
        memset(p100k + n, 'p', 100000 - n);
        p100k[100000] = '\0';

        const char *bad[] = {
                "../../etc",
                fmt("%s/a/../../..", parent),
                "/..",
                "..",
                ".",
                "/",
                "//",
                fmt("%s//b", parent),
                fmt("%s/./b", parent),
                fmt("%s/..", parent),
                fmt("%s/../%s", parent, parent),
                fmt("%s/b/", parent),
                fmt("//%s", parent),
                fmt("%s/a b", parent),
                fmt("%s/a\\b", parent),
                fmt("%s/a\nb", parent),
                fmt("%s/a*", parent),
                fmt("./%s", parent),
                fmt("%s/\xc3\xa9", parent),
                deep,   /* 33 levels */
                p1025,  /* 1025 characters */
                p100k,
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                hostile(create("p-new", bad[i], &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "cgroup_parent",
                        fmt("CreateSandbox parent \"%.60s\"%s (%zu characters)", bad[i],
                            strlen(bad[i]) > 60 ? "..." : "", strlen(bad[i])));

        /* Inside a sandbox's own tree. */
        const char *inside[] = {
                fmt("%s/base-a", parent),
                fmt("%s/base-a/vcpu", parent),
                fmt("%s/base-b/pod_overhead/x", parent),
                fmt("%s/base-c", deep_parent),
        };
        for (size_t i = 0; i < ELEMENTSOF(inside); i++)
                hostile(create("p-new", inside[i], &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "cgroup_parent",
                        fmt("CreateSandbox parent \"%s\" inside a sandbox", inside[i]));

        /* A known id under another parent: the spec differs. */
        hostile(create("base-a", fmt("%s/elsewhere", parent), &s, NULL), SANDBOXCG_CODE_ALREADY_EXISTS, NULL,
                "CreateSandbox base-a under another parent");
}
END_TEST

/* 3. NUL bytes inside strings: protobuf strings carry them, a C string ends
 * there. "base-a\0junk" must not be taken for base-a, nor a parent cut
 * short at the NUL. */

START_TEST(test_nul_strings)
{
        Wire w = {}, r = {}, h = {};

        w_bytes(&w, F_ID, "nul\0../x", 8);
        w_str(&w, F_PARENT, parent);
        raw_case("CreateSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "id", "CreateSandbox id \"nul\\0../x\"");

        w_str(&w, F_ID, "nul-p");
        w_bytes(&w, F_PARENT, fmt("%s%c/../../etc", parent, '\0'), strlen(parent) + 1 + 12);
        raw_case("CreateSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "cgroup_parent",
                 "CreateSandbox parent \"{parent}\\0/../../etc\"");

        /* An existing id before the NUL: refused, not served, not deleted. */
        w_bytes(&w, F_ID, "base-a\0x", 8);
        raw_case("GetSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "id", "GetSandbox id \"base-a\\0x\"");
        w_bytes(&w, F_ID, "base-a\0", 7);
        raw_case("DeleteSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "id", "DeleteSandbox id \"base-a\\0\"");
        w_bytes(&w, F_ID, "base-a\0../../etc", 16);
        raw_case("DeleteSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "id",
                 "DeleteSandbox id \"base-a\\0../../etc\"");
        w_bytes(&w, F_ID, "base-a\0", 7);
        w_int(&r, R_PIDS, 5);
        w_msg(&w, F_UPDATE_RES, &r);
        raw_case("UpdateSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "id", "UpdateSandbox id \"base-a\\0\"");
        w_bytes(&w, F_ID, "base-a\0", 7);
        w_int(&w, VMM_PID, base_vmm);
        raw_case("AttachVmm", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "id", "AttachVmm id \"base-a\\0\"");

        /* Inside the resources. */
        w_str(&w, F_ID, "nul-r");
        w_str(&w, F_PARENT, parent);
        w_bytes(&r, R_CPUS, "0\0-1", 4);
        w_msg(&w, F_CREATE_RES, &r);
        raw_case("CreateSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "resources.cpuset_cpus",
                 "CreateSandbox cpuset_cpus \"0\\0-1\"");
        w_str(&w, F_ID, "nul-r");
        w_str(&w, F_PARENT, parent);
        w_bytes(&h, 1, "2MB\0junk", 8);
        w_int(&h, 2, 2 * MiB);
        w_msg(&r, R_HUGEPAGES, &h);
        w_msg(&w, F_CREATE_OVH, &r);
        raw_case("CreateSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "overhead.hugepage_limits[0].page_size",
                 "CreateSandbox overhead hugepage page_size \"2MB\\0junk\"");

        /* A vCPU name pattern. */
        w_str(&w, F_ID, "base-b");
        w_int(&w, VCPU_DISCOVER, 1);
        w_str(&w, VCPU_PATTERNS, "vcpu%u");
        w_bytes(&w, VCPU_PATTERNS, "io\0%n", 5);
        raw_case("AttachVcpus", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "patterns[1]",
                 "AttachVcpus pattern \"io\\0%n\"");

        /* The envelope: a service or method name cut at a NUL is no name. */
        Wire env = {};
        w_bytes(&env, 1, SANDBOXCG_SERVICE "\0x", strlen(SANDBOXCG_SERVICE) + 2);
        w_str(&env, 2, "Version");
        expect(call_packed(env.p, env.n), SANDBOXCG_CODE_INVALID_ARGUMENT, "service",
               "service \"" SANDBOXCG_SERVICE "\\0x\"");
        w_done(&env);
        w_str(&env, 1, SANDBOXCG_SERVICE);
        w_bytes(&env, 2, "DeleteSandbox\0", 14);
        w = id_only("base-a");
        w_bytes(&env, 3, w.p, w.n);
        w_done(&w);
        expect(call_packed(env.p, env.n), SANDBOXCG_CODE_INVALID_ARGUMENT, "method", "method \"DeleteSandbox\\0\"");
        w_done(&env);
}
END_TEST

/* 4. Resource values out of range, negative, and the "no limit" spellings
 * of other APIs; on each side (resources, overhead) of a create, and of an
 * update of base-a (which must keep its spec). */

static const struct {
        unsigned field;
        const char *name;
        int64_t v;
} bad_values[] = {
        { R_PERIOD, "cpu_period", 999 },          { R_PERIOD, "cpu_period", 1000001 },
        { R_PERIOD, "cpu_period", -1 },           { R_PERIOD, "cpu_period", 0 },
        { R_QUOTA, "cpu_quota", 999 },            { R_QUOTA, "cpu_quota", 0 },
        { R_QUOTA, "cpu_quota", -1 },             { R_QUOTA, "cpu_quota", INT64_MAX },
        { R_QUOTA, "cpu_quota", INT64_MIN },      { R_SHARES, "cpu_shares", 1 },
        { R_SHARES, "cpu_shares", 262145 },       { R_SHARES, "cpu_shares", -5 },
        { R_SHARES, "cpu_shares", 0 },            { R_MEMORY, "memory_limit_in_bytes", 0 },
        { R_MEMORY, "memory_limit_in_bytes", -1 }, { R_MEMORY, "memory_limit_in_bytes", INT64_MIN },
        { R_PIDS, "pids_limit", 0 },              { R_PIDS, "pids_limit", -1 },
        { R_PIDS, "pids_limit", 4194305 },        { R_PIDS, "pids_limit", INT64_MAX },
};

START_TEST(test_values)
{
        static const struct {
                unsigned create, update;
                const char *name;
        } sides[] = { { F_CREATE_RES, F_UPDATE_RES, "resources" }, { F_CREATE_OVH, F_UPDATE_OVH, "overhead" } };

        for (size_t k = 0; k < ELEMENTSOF(sides); k++)
                for (size_t i = 0; i < ELEMENTSOF(bad_values); i++) {
                        const char *field = fmt("%s.%s", sides[k].name, bad_values[i].name);
                        Wire w = create_with("v-new", sides[k].create, bad_values[i].field, bad_values[i].v);
                        raw_case("CreateSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, field,
                                 fmt("CreateSandbox %s = %" PRIi64, field, bad_values[i].v));

                        Wire r = {};
                        w = id_only("base-a");
                        w_int(&r, bad_values[i].field, bad_values[i].v);
                        w_msg(&w, sides[k].update, &r);
                        raw_case("UpdateSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, field,
                                 fmt("UpdateSandbox base-a %s = %" PRIi64, field, bad_values[i].v));
                }
        release_responses();
}
END_TEST

/* 5. Limits that contradict each other or overflow when summed. */

START_TEST(test_contradictory)
{
        Spec s;

        /* Swap (memory + swap) below memory, and without memory. */
        spec_init(&s);
        SET(s.res, memory_limit_in_bytes, 256 * MiB);
        SET(s.res, memory_swap_limit_in_bytes, 128 * MiB);
        hostile(create("c-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT,
                "resources.memory_swap_limit_in_bytes", "swap < memory");
        spec_init(&s);
        SET(s.ovh, memory_limit_in_bytes, 64 * MiB);
        SET(s.ovh, memory_swap_limit_in_bytes, 64 * MiB - 1);
        hostile(create("c-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT,
                "overhead.memory_swap_limit_in_bytes", "overhead swap < memory");
        spec_init(&s);
        s.res.has_memory_limit_in_bytes = false;
        SET(s.res, memory_swap_limit_in_bytes, 128 * MiB);
        hostile(create("c-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT,
                "resources.memory_swap_limit_in_bytes", "swap without memory");
        hostile(update("base-a", &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "resources.memory_swap_limit_in_bytes",
                "UpdateSandbox base-a swap without memory");

        /* Sums that do not fit: the sandbox cgroup gets resources + overhead. */
        spec_init(&s);
        SET(s.res, memory_limit_in_bytes, INT64_MAX);
        s.res.has_memory_swap_limit_in_bytes = s.ovh.has_memory_swap_limit_in_bytes = false;
        hostile(create("c-new", parent, &s, NULL), SANDBOXCG_CODE_OUT_OF_RANGE, "memory_limit_in_bytes",
                "memory INT64_MAX + overhead");
        hostile(update("base-a", &s, NULL), SANDBOXCG_CODE_OUT_OF_RANGE, "memory_limit_in_bytes",
                "UpdateSandbox base-a memory INT64_MAX + overhead");
        spec_init(&s);
        SET(s.res, cpu_quota, (INT64_C(1) << 44) - 1);
        hostile(create("c-new", parent, &s, NULL), SANDBOXCG_CODE_OUT_OF_RANGE, "cpu_quota",
                "the largest quota + overhead quota");
        spec_init(&s);
        SET(s.res, cpu_period, 1000);
        SET(s.res, cpu_quota, (INT64_C(1) << 44) - 1000000);
        SET(s.ovh, cpu_period, 1000);
        SET(s.ovh, cpu_quota, 1000000);
        hostile(create("c-new", parent, &s, NULL), SANDBOXCG_CODE_OUT_OF_RANGE, "cpu_quota",
                "a total quota beyond the kernel's maximum");
        spec_init(&s);
        s.res.has_memory_swap_limit_in_bytes = s.ovh.has_memory_swap_limit_in_bytes = false;
        SET(s.res, memory_limit_in_bytes, INT64_MAX - 4096);
        SET(s.ovh, memory_limit_in_bytes, 8192);
        hostile(create("c-new", parent, &s, NULL), SANDBOXCG_CODE_OUT_OF_RANGE, "memory_limit_in_bytes",
                "memory sum one page beyond INT64_MAX");
        if (have_hugepages()) {
                spec_init(&s);
                s.hp_res.limit = UINT64_MAX - (UINT64_MAX % (2 * MiB));
                hostile(create("c-new", parent, &s, NULL), SANDBOXCG_CODE_OUT_OF_RANGE, "hugepage_limits",
                        "hugepage limits whose sum overflows");
        }
}
END_TEST

/* 6. Hugepage sizes and limits, and cpusets: unparsable, reversed, beyond
 * the bitmap, beyond what the parent allows. */

START_TEST(test_hugepages_cpusets)
{
        Spec s;
        _cleanup_free_ char *size100k = malloc(100001);

        ck_assert_ptr_nonnull(size100k);
        memset(size100k, '9', 100000);
        size100k[100000] = '\0';
        const char *bad_sizes[] = { "3MB", "", "2MB ", " 2MB", "2mb", "2MB\n", "2", "MB", "-2MB", "0MB",
                                    "99999999999999999999MB", "2MB2MB", size100k };
        for (size_t i = 0; i < ELEMENTSOF(bad_sizes); i++) {
                spec_init(&s);
                s.hp_res.page_size = (char *) bad_sizes[i];
                SET(s.hp_res, limit, 2 * MiB);
                s.hp_res_v[0] = &s.hp_res;
                s.res.hugepage_limits = s.hp_res_v;
                s.res.n_hugepage_limits = 1;
                hostile(create("h-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT,
                        "resources.hugepage_limits[0].page_size",
                        fmt("hugepage page_size \"%.20s\"", bad_sizes[i]));
        }
        spec_init(&s);
        s.hp_res.page_size = NULL;
        s.hp_res_v[0] = &s.hp_res;
        s.res.hugepage_limits = s.hp_res_v;
        s.res.n_hugepage_limits = 1;
        hostile(create("h-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT,
                "resources.hugepage_limits[0].page_size", "hugepage limit without page_size");

        if (have_hugepages()) {
                Sandboxcg__V1__HugepageLimit twice[2] = { SANDBOXCG__V1__HUGEPAGE_LIMIT__INIT,
                                                          SANDBOXCG__V1__HUGEPAGE_LIMIT__INIT };
                Sandboxcg__V1__HugepageLimit *tv[2] = { &twice[0], &twice[1] };
                spec_init(&s);
                s.hp_res.limit = 3 * MiB;
                hostile(create("h-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT,
                        "resources.hugepage_limits[0].limit", "2MB pages, limit 3 MiB");
                spec_init(&s);
                s.hp_ovh.limit = 1;
                hostile(create("h-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT,
                        "overhead.hugepage_limits[0].limit", "2MB pages, limit 1 byte");
                spec_init(&s);
                for (size_t i = 0; i < 2; i++) {
                        twice[i].page_size = (char *) "2MB";
                        SET(twice[i], limit, 2 * MiB);
                }
                s.res.hugepage_limits = tv;
                s.res.n_hugepage_limits = 2;
                hostile(create("h-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT,
                        "resources.hugepage_limits[1].page_size", "2MB twice");
                hostile(update("base-a", &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT,
                        "resources.hugepage_limits[1].page_size", "UpdateSandbox base-a 2MB twice");
        }

        const char *bad_cpus[] = { "0-", "5-3", "999999", "a", "", "-1", "0-1,", ",0", "0--1", "0-1-2", "1 ",
                                   "0x1", "18446744073709551617" };
        for (size_t i = 0; i < ELEMENTSOF(bad_cpus); i++) {
                spec_init(&s);
                s.res.cpuset_cpus = (char *) bad_cpus[i];
                hostile(create("h-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "resources.cpuset_cpus",
                        fmt("cpuset_cpus \"%s\"", bad_cpus[i]));
                spec_init(&s);
                s.ovh.cpuset_mems = (char *) bad_cpus[i];
                hostile(create("h-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "overhead.cpuset_mems",
                        fmt("cpuset_mems \"%s\"", bad_cpus[i]));
        }
        if (version_of("cpuset")) {
                /* Parses, but beyond what the parent (here the root) has. */
                spec_init(&s);
                s.res.cpuset_cpus = (char *) "8191";
                hostile(create("h-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "resources.cpuset_cpus",
                        "cpuset_cpus 8191, beyond the parent's");
                hostile(update("base-a", &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "resources.cpuset_cpus",
                        "UpdateSandbox base-a cpuset_cpus 8191");
                spec_init(&s);
                s.ovh.cpuset_mems = (char *) "0-4095";
                hostile(create("h-new", parent, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "overhead.cpuset_mems",
                        "cpuset_mems 0-4095, beyond the parent's");
        }
}
END_TEST

/* ---------------------------------------------------------------------------
 * 7. The encoding: enums, unknown fields, the wrong wire type, duplicated
 * fields, a truncated payload, the wrong message type, missing fields, an
 * empty payload for every method. */

/* Does a request message hold an enum anywhere? */
static bool has_enum(const ProtobufCMessageDescriptor *desc, unsigned depth)
{
        for (unsigned i = 0; depth < 8 && i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &desc->fields[i];
                if (f->type == PROTOBUF_C_TYPE_ENUM)
                        return true;
                if (f->type == PROTOBUF_C_TYPE_MESSAGE && has_enum(f->descriptor, depth + 1))
                        return true;
        }
        return false;
}

START_TEST(test_encoding)
{
        const ProtobufCServiceDescriptor *svc = &sandboxcg__v1__sandbox_cgroup__descriptor;
        Wire w = {}, r = {};

        /* No request carries an enum (SandboxState, CgroupMode, ... are only
         * in responses): there is no unknown enum value to send. Should one
         * be added, this fails until a case for it is. */
        for (unsigned i = 0; i < svc->n_methods; i++)
                ck_assert_msg(!has_enum(svc->methods[i].input, 0),
                              "%s carries an enum: add an unknown-value case", svc->methods[i].input->name);

        /* Unknown fields, of every wire type and some with "enum-like"
         * values, at the top and inside Resources: ignored, as protobuf says
         * (this API grows by adding fields); the sandbox is made exactly as
         * without them. */
        w_str(&w, F_ID, "unknown-fields");
        w_int(&w, 99, 7);
        w_str(&w, F_PARENT, parent);
        w_tag(&w, 100, WT_FIXED64);
        w_put(&w, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
        w_tag(&w, 101, WT_FIXED32);
        w_put(&w, "\x01\x02\x03\x04", 4);
        w_bytes(&w, 536870911, "the largest field number", 24);
        w_int(&r, R_QUOTA, 30000);
        w_int(&r, 50, -1);
        w_str(&r, 51, "../../etc");
        w_msg(&w, F_CREATE_RES, &r);
        Ttrpc__Response *resp = raw_case("CreateSandbox", &w, 0, NULL, "CreateSandbox with unknown fields");
        Sandboxcg__V1__CreateSandboxResponse *cr =
                keep(sandboxcg__v1__create_sandbox_response__unpack(NULL, resp->payload.len, resp->payload.data));
        ck_assert_ptr_nonnull(cr);
        ck_assert(cr->created);
        ck_assert_msg(cr->sandbox->resources->has_cpu_quota && cr->sandbox->resources->cpu_quota == 30000 &&
                              !cr->sandbox->resources->has_pids_limit && !cr->sandbox->overhead->has_cpu_quota,
                      "the unknown fields changed the spec");
        check_kfile(node_file("cpu", "unknown-fields", "vcpu", version_of("cpu") == 1 ? "cpu.cfs_quota_us" : "cpu.max"),
                    version_of("cpu") == 1 ? "30000" : "30000 100000");
        delete_ok("unknown-fields");

        /* Groups (wire types 3 and 4) are not part of proto2 messages
         * protobuf-c decodes: the request does not decode. */
        w = id_only("base-a");
        w_tag(&w, 60, WT_GROUP);
        w_int(&w, 1, 1);
        w_tag(&w, 60, 4);
        raw_case("GetSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "GetSandbox", "GetSandbox with a group field");

        /* A known field with the wrong wire type. */
        w_int(&w, F_ID, 12345);
        raw_case("GetSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "GetSandbox", "GetSandbox id as a varint");
        w = id_only("base-a");
        w_str(&w, VMM_PID, "123");
        raw_case("AttachVmm", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "AttachVmm", "AttachVmm pid as a string");
        /* Truncated: a length beyond the payload, a varint that never ends. */
        w_tag(&w, F_ID, WT_LEN);
        w_varint(&w, 100);
        w_put(&w, "base-a", 6);
        raw_case("GetSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "GetSandbox", "GetSandbox id longer than the payload");
        w_tag(&w, VMM_PID, WT_VARINT);
        w_put(&w, "\xff\xff\xff", 3);
        raw_case("AttachVmm", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "AttachVmm", "AttachVmm pid varint cut short");
        w_tag(&w, F_ID, WT_LEN);
        w_varint(&w, UINT64_MAX);
        raw_case("GetSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "GetSandbox", "GetSandbox length 2^64-1");

        /* Duplicated fields: the last wins for a scalar, embedded messages
         * merge, as protobuf says. */
        w = id_only("nope");
        w_str(&w, F_ID, "base-a");
        resp = raw_case("GetSandbox", &w, 0, NULL, "GetSandbox id \"nope\" then \"base-a\"");
        Sandboxcg__V1__GetSandboxResponse *gr =
                keep(sandboxcg__v1__get_sandbox_response__unpack(NULL, resp->payload.len, resp->payload.data));
        ck_assert_str_eq(gr->sandbox->id, "base-a");
        w = id_only("base-a");
        w_str(&w, F_ID, "nope");
        raw_case("GetSandbox", &w, SANDBOXCG_CODE_NOT_FOUND, NULL, "GetSandbox id \"base-a\" then \"nope\"");
        w = id_only("base-a");
        w_int(&w, VMM_PID, base_vmm);
        w_int(&w, VMM_PID, 1);
        raw_case("AttachVmm", &w, SANDBOXCG_CODE_PERMISSION_DENIED, NULL, "AttachVmm pid {vmm} then 1");

        w = id_only("dup-fields");
        w_str(&w, F_PARENT, "../../etc");
        w_str(&w, F_PARENT, parent);
        w_int(&r, R_PIDS, 0);
        w_int(&r, R_PIDS, 50);
        w_msg(&w, F_CREATE_RES, &r);
        w_int(&r, R_QUOTA, 30000);
        w_msg(&w, F_CREATE_RES, &r);
        resp = raw_case("CreateSandbox", &w, 0, NULL, "CreateSandbox with parent, pids and resources twice");
        cr = keep(sandboxcg__v1__create_sandbox_response__unpack(NULL, resp->payload.len, resp->payload.data));
        ck_assert_str_eq(cr->sandbox->cgroup_parent, parent);
        ck_assert_msg(cr->sandbox->resources->pids_limit == 50 && cr->sandbox->resources->cpu_quota == 30000,
                      "duplicated fields: pids %" PRIi64 " quota %" PRIi64 ", expected 50 and 30000 (last wins, "
                      "messages merge)",
                      cr->sandbox->resources->pids_limit, cr->sandbox->resources->cpu_quota);
        check_kfile(node_file("pids", "dup-fields", "", "pids.max"), "50");
        delete_ok("dup-fields");
        w = id_only("dup-fields");
        w_str(&w, F_PARENT, parent);
        w_int(&r, R_PIDS, 50);
        w_int(&r, R_PIDS, 0);
        w_msg(&w, F_CREATE_RES, &r);
        raw_case("CreateSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "resources.pids_limit",
                 "CreateSandbox pids 50 then 0");

        /* The wrong message type. A GetSandboxRequest as CreateSandbox is a
         * create of base-a without parent (the default one): not the spec
         * base-a has. */
        w = id_only("base-a");
        raw_case("CreateSandbox", &w, SANDBOXCG_CODE_ALREADY_EXISTS, NULL, "GetSandboxRequest{base-a} as CreateSandbox");
        /* AttachVmmRequest as CreateSandbox: field 2 is a varint, not the parent string. */
        w = id_only("wrong-type");
        w_int(&w, VMM_PID, 5);
        raw_case("CreateSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "CreateSandbox",
                 "AttachVmmRequest as CreateSandbox");
        /* UpdateSandboxRequest as CreateSandbox: its resources become the parent. */
        w = id_only("wrong-type");
        w_int(&r, R_PERIOD, 1);
        w_msg(&w, F_UPDATE_RES, &r);
        raw_case("CreateSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "cgroup_parent",
                 "UpdateSandboxRequest as CreateSandbox");
        /* CreateSandboxRequest{base-b, parent "\x01"} as AttachVcpus: the
         * parent's bytes become tids = [1]. */
        w = id_only("base-b");
        w_str(&w, F_PARENT, "\x01");
        raw_case("AttachVcpus", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "tids[0]",
                 "CreateSandboxRequest{base-b, \"\\x01\"} as AttachVcpus");

        /* Missing fields. */
        w = id_only("base-a");
        raw_case("AttachVmm", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "pid", "AttachVmm without pid");
        w_int(&w, VMM_PID, base_vmm);
        raw_case("AttachVmm", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "id", "AttachVmm without id");
        w = id_only("base-b");
        raw_case("AttachVcpus", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "tids", "AttachVcpus with neither tids nor discover");
        w = id_only("base-b");
        w_int(&w, VCPU_DISCOVER, 0);
        w_int(&w, VCPU_EXPECT, 2);
        raw_case("AttachVcpus", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, NULL, "AttachVcpus discover=false expect=2");

        /* An empty payload for every method, present but empty or absent. */
        static const struct {
                const char *method;
                int code;
                const char *field;
        } empty[] = {
                { "Version", 0, NULL },
                { "HostInfo", 0, NULL },
                { "CreateSandbox", SANDBOXCG_CODE_INVALID_ARGUMENT, "id" },
                { "UpdateSandbox", SANDBOXCG_CODE_INVALID_ARGUMENT, "id" },
                { "AttachVmm", SANDBOXCG_CODE_INVALID_ARGUMENT, "pid" },
                { "AttachVcpus", SANDBOXCG_CODE_INVALID_ARGUMENT, "id" },
                { "DeleteSandbox", SANDBOXCG_CODE_INVALID_ARGUMENT, "id" },
                { "GetSandbox", SANDBOXCG_CODE_INVALID_ARGUMENT, "id" },
                { "ListSandboxes", 0, NULL },
                /* Not a dry run: reconciles for real, and must find nothing
                 * to fix (the invariants after the group check that). */
                { "Reconcile", 0, NULL },
        };
        ck_assert_uint_eq(ELEMENTSOF(empty), svc->n_methods);
        for (size_t i = 0; i < ELEMENTSOF(empty); i++) {
                expect(call_raw(empty[i].method, NULL), empty[i].code, empty[i].field,
                       fmt("%s without payload", empty[i].method));
                Wire env = {};
                w_str(&env, 1, SANDBOXCG_SERVICE);
                w_str(&env, 2, empty[i].method);
                w_bytes(&env, 3, "", 0);
                resp = call_packed(env.p, env.n);
                w_done(&env);
                expect(resp, empty[i].code, empty[i].field, fmt("%s with an empty payload", empty[i].method));
                if (streq(empty[i].method, "Reconcile")) {
                        Sandboxcg__V1__ReconcileResponse *rr = keep(
                                sandboxcg__v1__reconcile_response__unpack(NULL, resp->payload.len, resp->payload.data));
                        ck_assert_ptr_nonnull(rr);
                        ck_assert_uint_eq(rr->n_findings, 0);
                }
                if (streq(empty[i].method, "ListSandboxes")) {
                        Sandboxcg__V1__ListSandboxesResponse *lr = keep(sandboxcg__v1__list_sandboxes_response__unpack(
                                NULL, resp->payload.len, resp->payload.data));
                        ck_assert_ptr_nonnull(lr);
                        ck_assert_uint_eq(lr->n_sandboxes, N_BASE);
                }
        }
}
END_TEST

/* ---------------------------------------------------------------------------
 * 8. Processes that are never a VMM. */

START_TEST(test_vmm_pids)
{
        Spec s;
        pid_t tids[3];
        char comm[64];

        spec_init(&s);
        create_ok("pids-t", &s);
        pid_t other = spawn_vmm(tids);
        pid_t zombie = fork();
        if (zombie == 0)
                _exit(0);
        ck_assert_int_gt(zombie, 0);
        track(zombie);
        /* Exited, not reaped: /proc still has it. */
        for (int i = 0; i < 500 && !strstr(kread(fmt("/proc/%d/stat", (int) zombie)) ?: ") Z", ") Z"); i++)
                (void) usleep(10000);

        struct {
                pid_t pid;
                int code;
                const char *field;
                const char *what;
        } cases[16];
        size_t n = 0;
        cases[n++] = (__typeof__(cases[0])){ 1, SANDBOXCG_CODE_PERMISSION_DENIED, "1", "PID 1" };
        cases[n++] = (__typeof__(cases[0])){ 0, SANDBOXCG_CODE_INVALID_ARGUMENT, "pid", "PID 0" };
        cases[n++] = (__typeof__(cases[0])){ -1, SANDBOXCG_CODE_INVALID_ARGUMENT, "pid", "PID -1" };
        cases[n++] = (__typeof__(cases[0])){ INT32_MIN, SANDBOXCG_CODE_INVALID_ARGUMENT, "pid", "PID INT32_MIN" };
        cases[n++] = (__typeof__(cases[0])){ d.pid, SANDBOXCG_CODE_PERMISSION_DENIED, fmt("%d", (int) d.pid),
                                             "the daemon's own pid" };
        cases[n++] = (__typeof__(cases[0])){ tids[0], SANDBOXCG_CODE_INVALID_ARGUMENT, fmt("%d", (int) tids[0]),
                                             "a thread id, not a process" };
        cases[n++] = (__typeof__(cases[0])){ test_dead_pid(), SANDBOXCG_CODE_NOT_FOUND, NULL, "a pid that exited" };
        cases[n++] = (__typeof__(cases[0])){ INT32_MAX, SANDBOXCG_CODE_NOT_FOUND, NULL, "PID INT32_MAX" };
        cases[n++] = (__typeof__(cases[0])){ base_vmm, SANDBOXCG_CODE_FAILED_PRECONDITION, NULL,
                                             "the VMM of base-b" };
        cases[n++] = (__typeof__(cases[0])){ zombie, SANDBOXCG_CODE_NOT_FOUND, NULL, "a zombie" };
        if (is_kthread(2, comm))
                cases[n++] = (__typeof__(cases[0])){ 2, SANDBOXCG_CODE_PERMISSION_DENIED, "2", "PID 2 (kthreadd)" };
        else
                fprintf(stderr, "test-hostile: PID 2 is no kernel thread here (a PID namespace?)\n");
        pid_t kworker = find_kworker();
        if (kworker > 0)
                cases[n++] = (__typeof__(cases[0])){ kworker, SANDBOXCG_CODE_PERMISSION_DENIED,
                                                     fmt("%d", (int) kworker), "a kworker" };
        else
                fprintf(stderr, "test-hostile: no kworker visible in /proc\n");
        /* Threads of the daemon other than its main thread, if it has any. */
        DIR *task = opendir(fmt("/proc/%d/task", (int) d.pid));
        for (struct dirent *de; task && n < ELEMENTSOF(cases) && (de = readdir(task));) {
                pid_t t = (pid_t) atoi(de->d_name);
                if (t > 0 && t != d.pid) {
                        cases[n++] = (__typeof__(cases[0])){ t, SANDBOXCG_CODE_PERMISSION_DENIED, NULL,
                                                             "a thread of the daemon" };
                        break;
                }
        }
        if (task)
                closedir(task);

        char *before = NULL, *after = NULL;
        ck_assert_int_eq(test_task_cgroup(other, other, version_of("cpu") == 1 ? "cpu" : "", &before), 0);
        for (size_t i = 0; i < n; i++)
                hostile(attach_vmm("pids-t", cases[i].pid, NULL), cases[i].code, cases[i].field,
                        fmt("AttachVmm %s (%d)", cases[i].what, (int) cases[i].pid));
        /* An unknown sandbox: NOT_FOUND before the pid is looked at. */
        hostile(attach_vmm("pids-none", other, NULL), SANDBOXCG_CODE_NOT_FOUND, NULL, "AttachVmm to an unknown sandbox");

        Sandbox *sb = get_ok("pids-t");
        ck_assert_int_eq(sb->state, STATE(CREATED));
        ck_assert_msg(!sb->has_vmm_pid || sb->vmm_pid == 0, "pids-t has vmm_pid %d", sb->vmm_pid);
        for (size_t i = 0; i < sb->n_cgroups; i++)
                check_kfile(fmt("%s/cgroup.procs", sb->cgroups[i]->path), "");
        ck_assert_int_eq(test_task_cgroup(other, other, version_of("cpu") == 1 ? "cpu" : "", &after), 0);
        ck_assert_str_eq(after, before);
        free(before);
        free(after);
        delete_ok("pids-t");
}
END_TEST

/* 9. vCPU threads that are not the VMM's, too many, and name patterns that
 * are format strings. Nothing moves. */

START_TEST(test_vcpus)
{
        Spec s;
        pid_t tids[3], otids[3];
        Sandboxcg__V1__AttachVcpusResponse *vr;

        spec_init(&s);
        create_ok("vc-t", &s);
        pid_t vmm = spawn_vmm(tids), other = spawn_vmm(otids);
        assert_ok(attach_vmm("vc-t", vmm, NULL));

        const struct {
                pid_t t[2];
                size_t n;
                const char *field, *what;
        } bad[] = {
                { { otids[0] }, 1, "tids[0]", "a thread of another process" },
                { { other }, 1, "tids[0]", "another process" },
                { { vmm }, 1, "tids[0]", "the VMM's main thread" },
                { { 1 }, 1, "tids[0]", "PID 1" },
                { { 2 }, 1, "tids[0]", "PID 2" },
                { { d.pid }, 1, "tids[0]", "the daemon" },
                { { base_tids[0] }, 1, "tids[0]", "a vCPU of base-b" },
                { { 0 }, 1, "tids[0]", "tid 0" },
                { { -1 }, 1, "tids[0]", "tid -1" },
                { { INT32_MIN }, 1, "tids[0]", "tid INT32_MIN" },
                { { tids[0], otids[1] }, 2, "tids[1]", "a good tid, then a foreign one" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                hostile(attach_vcpus("vc-t", bad[i].t, bad[i].n, false, 0, &vr), SANDBOXCG_CODE_INVALID_ARGUMENT,
                        bad[i].field, fmt("AttachVcpus %s", bad[i].what));

        Sandboxcg__V1__AttachVcpusRequest req = SANDBOXCG__V1__ATTACH_VCPUS_REQUEST__INIT;
        _cleanup_free_ int32_t *many = calloc(4097, sizeof *many);
        ck_assert_ptr_nonnull(many);
        for (size_t i = 0; i < 4097; i++)
                many[i] = tids[i % 2];
        req.id = (char *) "vc-t";
        req.tids = many;
        req.n_tids = 4097;
        hostile(CALL(attach_vcpus, &req, &vr), SANDBOXCG_CODE_INVALID_ARGUMENT, "tids", "AttachVcpus 4097 tids");

        char *patterns[65];
        req = (Sandboxcg__V1__AttachVcpusRequest) SANDBOXCG__V1__ATTACH_VCPUS_REQUEST__INIT;
        req.id = (char *) "vc-t";
        SET(req, discover, true);
        for (size_t i = 0; i < 65; i++)
                patterns[i] = (char *) "vcpu%u";
        req.patterns = patterns;
        req.n_patterns = 65;
        hostile(CALL(attach_vcpus, &req, &vr), SANDBOXCG_CODE_INVALID_ARGUMENT, "patterns", "AttachVcpus 65 patterns");

        _cleanup_free_ char *long_pattern = malloc(100001);
        ck_assert_ptr_nonnull(long_pattern);
        memset(long_pattern, '%', 100000);
        long_pattern[99999] = 'n';
        long_pattern[100000] = '\0';
        const char *formats[] = { "%d", "%s", "%n", "vcpu%n", "%u%u", "%x", "%", "vcpu%", "%99999u", "%*u", "%lu",
                                  "%1$u", "%%%n", "%p%p%p%p", long_pattern };
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                patterns[0] = (char *) formats[i];
                req.n_patterns = 1;
                hostile(CALL(attach_vcpus, &req, &vr), SANDBOXCG_CODE_INVALID_ARGUMENT, "patterns[0]",
                        fmt("AttachVcpus pattern \"%.20s\"", formats[i]));
        }
        patterns[0] = (char *) "vcpu%u";
        patterns[1] = (char *) "CPU %u/KVM%s";
        req.n_patterns = 2;
        hostile(CALL(attach_vcpus, &req, &vr), SANDBOXCG_CODE_INVALID_ARGUMENT, "patterns[1]",
                "AttachVcpus a good pattern, then \"CPU %u/KVM%s\"");

        /* Contradictions. */
        req.n_patterns = 0;
        req.tids = many;
        req.n_tids = 1;
        hostile(CALL(attach_vcpus, &req, &vr), SANDBOXCG_CODE_INVALID_ARGUMENT, "discover",
                "AttachVcpus tids and discover");
        req.tids = NULL;
        req.n_tids = 0;
        SET(req, expect, 5);
        hostile(CALL(attach_vcpus, &req, &vr), SANDBOXCG_CODE_FAILED_PRECONDITION, NULL,
                "AttachVcpus discover expecting 5 of 2");
        SET(req, expect, UINT32_MAX);
        hostile(CALL(attach_vcpus, &req, &vr), SANDBOXCG_CODE_FAILED_PRECONDITION, NULL,
                "AttachVcpus discover expecting 2^32-1");
        hostile(attach_vcpus("vc-t", tids, 1, false, 2, &vr), SANDBOXCG_CODE_INVALID_ARGUMENT, "expect",
                "AttachVcpus tids with expect");
        hostile(attach_vcpus("base-a", tids, 1, false, 0, &vr), SANDBOXCG_CODE_FAILED_PRECONDITION, NULL,
                "AttachVcpus to a sandbox without VMM");

        /* Nothing moved, nothing recorded. */
        Sandbox *sb = get_ok("vc-t");
        ck_assert_uint_eq(sb->n_vcpu_tids, 0);
        assert_thread_in(vmm, vmm, sb, "pod_overhead");
        for (size_t i = 0; i < ELEMENTSOF(tids); i++)
                assert_thread_in(vmm, tids[i], sb, "pod_overhead");
        delete_ok("vc-t");
        assert_killed_by_daemon(vmm);
}
END_TEST

/* ---------------------------------------------------------------------------
 * 10. Frames: garbage, truncated, oversized, a huge length header, unknown
 * services and methods, odd types and stream ids. */

static int connect_ok(void)
{
        int fd = test_connect(d.socket);
        ck_assert_msg(fd >= 0, "connect: %s", strerror(-fd));
        return fd;
}

/* Version on fd works (the connection is in sync). */
static void assert_in_sync(int fd, uint32_t stream)
{
        Ttrpc__Response *resp = NULL;
        int r = test_call(fd, stream, "Version", NULL, &resp);
        ck_assert_msg(r == 0, "Version on the same connection: %s", strerror(-r));
        ck_assert_ptr_null(resp->status);
        ttrpc__response__free_unpacked(resp, NULL);
}

START_TEST(test_frames)
{
        Ttrpc__Response *resp;
        _cleanup_free_ uint8_t *req = NULL;
        size_t n;

        /* A payload that is not a ttrpc.Request. */
        const uint8_t garbage[] = { 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        expect(call_packed(garbage, sizeof garbage), SANDBOXCG_CODE_INVALID_ARGUMENT, NULL, "garbage payload");
        ck_assert(strstr(status_message(call_packed(garbage, sizeof garbage)), "unmarshal request error"));
        /* A ttrpc.Request whose payload field claims 4 GiB. */
        const uint8_t claims[] = { 0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x' };
        expect(call_packed(claims, sizeof claims), SANDBOXCG_CODE_INVALID_ARGUMENT, NULL,
               "a request whose payload claims 4 GiB");
        /* A valid envelope around garbage. */
        Wire w = {};
        w_put(&w, garbage, sizeof garbage);
        raw_case("CreateSandbox", &w, SANDBOXCG_CODE_INVALID_ARGUMENT, "CreateSandbox", "CreateSandbox of garbage");

        /* A zero-length request: an empty ttrpc.Request, service "". */
        expect(call_packed(NULL, 0), SANDBOXCG_CODE_UNIMPLEMENTED, "service", "an empty frame");

        /* Unknown services and methods, empty and overlong names. */
        _cleanup_free_ char *long_name = malloc(100001);
        ck_assert_ptr_nonnull(long_name);
        memset(long_name, 'M', 100000);
        long_name[100000] = '\0';
        const struct {
                const char *service, *method, *field;
        } unknown[] = {
                { SANDBOXCG_SERVICE, "Nope", "method" },
                { SANDBOXCG_SERVICE, "", "method" },
                { SANDBOXCG_SERVICE, "version", "method" },
                { SANDBOXCG_SERVICE, "/sandboxcg.v1.SandboxCgroup/Version", "method" },
                { SANDBOXCG_SERVICE, "Version%n%n%n%s", "method" },
                { SANDBOXCG_SERVICE, long_name, "method" },
                { "other.v1.Service", "Version", "service" },
                { "", "Version", "service" },
                { "sandboxcg.v1.SandboxCgroup ", "Version", "service" },
                { long_name, "Version", "service" },
        };
        for (size_t i = 0; i < ELEMENTSOF(unknown); i++) {
                free(req);
                req = NULL;
                ck_assert_int_eq(test_pack_request_raw(unknown[i].service, unknown[i].method, NULL, 0, &req, &n), 0);
                resp = call_packed(req, n);
                expect(resp, SANDBOXCG_CODE_UNIMPLEMENTED, unknown[i].field,
                       fmt("service \"%.30s\" method \"%.30s\"", unknown[i].service, unknown[i].method));
                ck_assert_uint_lt(strlen(status_message(resp)), 1024);
        }

        /* Even stream ids (0 included) and frame types that are not requests. */
        free(req);
        req = NULL;
        ck_assert_int_eq(test_pack_request(SANDBOXCG_SERVICE, "Version", NULL, &req, &n), 0);
        for (uint32_t id = 0; id <= 2; id += 2) {
                ck_assert_int_eq(test_send_frame(rawfd, TTRPC_TYPE_REQUEST, id, req, n), 0);
                ck_assert_int_eq(test_recv_response(rawfd, id, 10000, &resp), 0);
                expect(keep(resp), SANDBOXCG_CODE_INVALID_ARGUMENT, NULL, fmt("stream id %u", id));
                ck_assert(strstr(status_message(resp), "odd"));
        }
        ck_assert_int_eq(test_send_frame(rawfd, TTRPC_TYPE_RESPONSE, 1001, req, n), 0);
        ck_assert_int_eq(test_send_frame(rawfd, 0x42, 1003, garbage, sizeof garbage), 0);
        ck_assert_int_eq(test_send_frame(rawfd, 0xff, 1005, NULL, 0), 0);
        n_cases += 3;
        assert_in_sync(rawfd, 1007);

        /* Larger than MaxMessageSize= (4 MiB), sent whole: refused on its
         * stream, skipped, the connection stays in sync. */
        const size_t big = (4u << 20) + 1;
        _cleanup_free_ uint8_t *junk = calloc(1, big);
        ck_assert_ptr_nonnull(junk);
        int fd = connect_ok();
        ck_assert_int_eq(test_send_frame(fd, TTRPC_TYPE_REQUEST, 1, junk, big), 0);
        ck_assert_int_eq(test_recv_response(fd, 1, 10000, &resp), 0);
        expect(keep(resp), SANDBOXCG_CODE_RESOURCE_EXHAUSTED, NULL, "a frame of 4 MiB + 1");
        ck_assert(strstr(status_message(resp), "maximum message size"));
        assert_in_sync(fd, 3);

        /* A length header of 4 GiB - 1: refused at once, without waiting for
         * (or buffering) the payload. */
        uint8_t hdr[TTRPC_HEADER_SIZE];
        ttrpc_header_encode(&(TtrpcHeader){ .length = UINT32_MAX, .stream_id = 5, .type = TTRPC_TYPE_REQUEST }, hdr);
        ck_assert_int_eq(test_send_raw(fd, hdr, sizeof hdr), 0);
        ck_assert_int_eq(test_send_raw(fd, junk, 65536), 0);
        ck_assert_int_eq(test_recv_response(fd, 5, 10000, &resp), 0);
        expect(keep(resp), SANDBOXCG_CODE_RESOURCE_EXHAUSTED, NULL, "a length header of 4 GiB - 1");
        close(fd);

        /* Truncated frames, cut at every byte of the header and inside the
         * payload, then the connection closed. */
        for (size_t cut = 1; cut < TTRPC_HEADER_SIZE + n; cut++) {
                uint8_t frame[TTRPC_HEADER_SIZE + 256];
                ck_assert_uint_le(n, 256);
                ttrpc_header_encode(&(TtrpcHeader){ .length = (uint32_t) n, .stream_id = 1, .type = TTRPC_TYPE_REQUEST },
                                    frame);
                memcpy(frame + TTRPC_HEADER_SIZE, req, n);
                fd = connect_ok();
                ck_assert_int_eq(test_send_raw(fd, frame, cut), 0);
                /* Half-closed, the daemon sees the frame end early and
                 * closes; waiting for that keeps the loop from running
                 * into MaxConnections= with connections the daemon has not
                 * noticed closing yet. */
                ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
                ck_assert_msg(test_wait_closed(fd, 10000), "connection with a frame cut at %zu bytes not closed", cut);
                close(fd);
                n_cases++;
        }

        /* 256 KiB of noise in one go: whatever the daemon makes of it, it
         * answers with frames or closes, and keeps serving others. */
        uint32_t x = 2463534242u;
        for (size_t i = 0; i < 256 * 1024; i++) {
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                junk[i] = (uint8_t) x;
        }
        fd = connect_ok();
        (void) test_send_raw(fd, junk, 256 * 1024);
        n_cases++;
        close(fd);
        assert_in_sync(rawfd, 1009);
}
END_TEST

/* 11. Half-open and stalled connections. */

static uint64_t now_ms(void)
{
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

START_TEST(test_half_open_and_stalled)
{
        _cleanup_free_ uint8_t *req = NULL;
        size_t n;
        uint8_t frame[TTRPC_HEADER_SIZE + 256];
        Ttrpc__Response *resp;

        ck_assert_int_eq(test_pack_request(SANDBOXCG_SERVICE, "Version", NULL, &req, &n), 0);
        ck_assert_uint_le(n, 256);
        ttrpc_header_encode(&(TtrpcHeader){ .length = (uint32_t) n, .stream_id = 1, .type = TTRPC_TYPE_REQUEST }, frame);
        memcpy(frame + TTRPC_HEADER_SIZE, req, n);
        size_t whole = TTRPC_HEADER_SIZE + n, half = whole / 2;

        /* Half a frame, then shutdown(SHUT_WR): the daemon sees the end and
         * closes without an answer. */
        int fd = connect_ok();
        ck_assert_int_eq(test_send_raw(fd, frame, half), 0);
        ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
        uint64_t t0 = now_ms();
        ck_assert_msg(test_wait_closed(fd, 10000), "half-open connection (half a frame, then SHUT_WR) not closed");
        fprintf(stderr, "test-hostile: half-open connection closed after %" PRIu64 " ms\n", now_ms() - t0);
        close(fd);
        n_cases++;

        /* A whole request and half of the next, then SHUT_WR: the whole one
         * is still answered, then the connection ends. */
        fd = connect_ok();
        uint8_t two[2 * sizeof frame];
        memcpy(two, frame, whole);
        memcpy(two + whole, frame, whole);
        ttrpc_header_encode(&(TtrpcHeader){ .length = (uint32_t) n, .stream_id = 3, .type = TTRPC_TYPE_REQUEST },
                            two + whole);
        ck_assert_int_eq(test_send_raw(fd, two, whole + half), 0);
        ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
        ck_assert_int_eq(test_recv_response(fd, 1, 10000, &resp), 0);
        expect(keep(resp), 0, NULL, "a request before a half-open end");
        ck_assert_msg(test_wait_closed(fd, 10000), "half-open connection not closed after its answer");
        close(fd);

        /* Stalled: part of a header, or a header and part of the payload,
         * then nothing. Dropped after FrameTimeoutSec= (1 s); others are
         * served meanwhile. */
        const size_t stalls[] = { 5, TTRPC_HEADER_SIZE, TTRPC_HEADER_SIZE + 1, whole - 1 };
        int fds[ELEMENTSOF(stalls)];
        t0 = now_ms();
        for (size_t i = 0; i < ELEMENTSOF(stalls); i++) {
                fds[i] = connect_ok();
                ck_assert_int_eq(test_send_raw(fds[i], frame, stalls[i]), 0);
        }
        assert_serving();
        for (size_t i = 0; i < ELEMENTSOF(stalls); i++) {
                ck_assert_msg(test_wait_closed(fds[i], 10000), "connection stalled after %zu bytes not closed",
                              stalls[i]);
                uint64_t dt = now_ms() - t0;
                ck_assert_msg(dt >= 900, "stalled connection closed after %" PRIu64 " ms, before FrameTimeoutSec=1",
                              dt);
                close(fds[i]);
                n_cases++;
        }
        fprintf(stderr, "test-hostile: stalled connections closed after %" PRIu64 " ms\n", now_ms() - t0);

        /* A slow drip (one byte every 300 ms) keeps the frame partial: the
         * timeout counts from its first byte, not the last. */
        fd = connect_ok();
        t0 = now_ms();
        bool closed = false;
        for (size_t i = 0; i < whole && !closed; i++) {
                if (test_send_raw(fd, frame + i, 1) < 0)
                        break;
                closed = test_wait_closed(fd, 300);
        }
        closed = closed || test_wait_closed(fd, 5000);
        uint64_t dt = now_ms() - t0;
        ck_assert_msg(closed && dt < 0.3 * 1000 * whole, "drip-fed frame: closed=%d after %" PRIu64 " ms", closed, dt);
        fprintf(stderr, "test-hostile: drip-fed connection closed after %" PRIu64 " ms\n", dt);
        close(fd);
        n_cases++;
}
END_TEST

/* 12. A flood of connections beyond MaxConnections=8. */

/* The daemon's open sockets: its listening socket and the connections. */
static unsigned daemon_sockets(void)
{
        DIR *dir = opendir(fmt("/proc/%d/fd", (int) d.pid));
        unsigned n = 0;
        char target[64];

        ck_assert_ptr_nonnull(dir);
        for (struct dirent *de; (de = readdir(dir));) {
                ssize_t k = readlinkat(dirfd(dir), de->d_name, target, sizeof target - 1);
                if (k > 0) {
                        target[k] = '\0';
                        n += strncmp(target, "socket:", 7) == 0;
                }
        }
        closedir(dir);
        return n;
}

START_TEST(test_connection_flood)
{
        int fds[64];
        size_t served = 0, refused = 0;

        /* This group's own two (the client and the raw connection) count;
         * those of earlier groups must be gone first. */
        for (int i = 0; i < 500 && daemon_sockets() != idle_sockets + 2; i++)
                (void) usleep(10000);
        ck_assert_uint_eq(daemon_sockets(), idle_sockets + 2);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = connect_ok();
                Ttrpc__Response *resp = NULL;
                if (test_call(fds[i], 1, "Version", NULL, &resp) == 0) {
                        ttrpc__response__free_unpacked(resp, NULL);
                        ck_assert_msg(refused == 0, "connection %zu served after one was refused", i);
                        served++;
                } else {
                        ck_assert_msg(test_wait_closed(fds[i], 10000), "connection %zu neither served nor closed", i);
                        refused++;
                }
                n_cases++;
        }
        fprintf(stderr, "test-hostile: %zu connections served, %zu refused\n", served, refused);
        ck_assert_uint_eq(served, MAX_CONNECTIONS - 2);
        ck_assert_uint_eq(refused, ELEMENTSOF(fds) - served);

        /* Those inside the limit are still served. */
        assert_in_sync(rawfd, 1);
        assert_in_sync(fds[0], 3);
        Sandbox *sb;
        check_ok(get("base-a", &sb), "GetSandbox with the limit reached");
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                close(fds[i]);

        /* And room comes back when they go. */
        bool ok = false;
        for (int i = 0; i < 200 && !ok; i++) {
                int fd = connect_ok();
                Ttrpc__Response *resp = NULL;
                ok = test_call(fd, 1, "Version", NULL, &resp) == 0;
                if (ok)
                        ttrpc__response__free_unpacked(resp, NULL);
                close(fd);
                if (!ok)
                        (void) usleep(10000);
        }
        ck_assert_msg(ok, "no connection served after the flood");
}
END_TEST

/* 13. A flood of requests on one connection: each is answered (in order),
 * past RequestRate= (1000/s, burst 1000) with RESOURCE_EXHAUSTED; other
 * connections are served meanwhile. */

#define FLOOD 5000

typedef struct Flood {
        int fd;
        int error;
} Flood;

static void *flood_writer(void *arg)
{
        Flood *f = arg;
        _cleanup_free_ uint8_t *req = NULL;
        size_t n;

        f->error = test_pack_request(SANDBOXCG_SERVICE, "Version", NULL, &req, &n);
        for (uint32_t i = 0; f->error == 0 && i < FLOOD; i++)
                f->error = test_send_frame(f->fd, TTRPC_TYPE_REQUEST, 2 * i + 1, req, n);
        return NULL;
}

START_TEST(test_request_flood)
{
        Flood f = { .fd = connect_ok() };
        pthread_t t;
        unsigned ok = 0, limited = 0;

        ck_assert_int_eq(pthread_create(&t, NULL, flood_writer, &f), 0);
        for (uint32_t i = 0; i < FLOOD; i++) {
                Ttrpc__Response *resp = NULL;
                int r = test_recv_response(f.fd, 2 * i + 1, 10000, &resp);
                ck_assert_msg(r == 0, "flood: no response %u on stream %u: %s", i, 2 * i + 1, strerror(-r));
                if (!resp->status)
                        ok++;
                else {
                        ck_assert_msg(resp->status->code == SANDBOXCG_CODE_RESOURCE_EXHAUSTED &&
                                              strstr(resp->status->message, "rate limit"),
                                      "flood: stream %u: %s: %s", 2 * i + 1,
                                      sandboxcg_code_to_string(resp->status->code), resp->status->message);
                        limited++;
                }
                ttrpc__response__free_unpacked(resp, NULL);
                if (i == FLOOD / 2)
                        assert_serving();
        }
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        ck_assert_int_eq(f.error, 0);
        n_cases += FLOOD;
        fprintf(stderr, "test-hostile: flood of %d requests: %u answered, %u refused by the rate limit\n", FLOOD, ok,
                limited);
        ck_assert_uint_ge(ok, 1000);
        ck_assert_uint_gt(limited, 0);
        close(f.fd);
}
END_TEST

/* ---------------------------------------------------------------------------
 * 14. Symlinks. cgroupfs refuses symlink(2), so no path component inside a
 * hierarchy can be one; a tmpfs mounted inside the run's parent (in a
 * private mount namespace, seen only by this group and its own daemon) can
 * hold them. The daemon must not follow them (openat2 with
 * RESOLVE_NO_SYMLINKS), nor create anything outside cgroupfs. */

static char *listing(const char *dir)
{
        Lines l = {};
        tree_below(&l, dir);
        return lines_join(&l);
}

START_TEST(test_symlinks)
{
        const char *cpu_parent = node_dir("cpu", "", "");
        char trap[512], victim[300];
        Spec s;

        /* cgroupfs itself has no symlinks. */
        (void) snprintf(trap, sizeof trap, "%s/trap", cpu_parent);
        ck_assert_int_eq(mkdir(trap, 0755), 0);
        ck_assert_int_eq(symlink("/tmp", fmt("%s/link", trap)), -1);
        ck_assert_msg(errno == EPERM, "symlink in cgroupfs: %s", strerror(errno));
        n_cases++;

        /* A private mount namespace: nothing here reaches the host's. */
        ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        ck_assert_int_eq(mount("scg-test-trap", trap, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755"), 0);
        (void) snprintf(victim, sizeof victim, "%s/victim-XXXXXX", rundir);
        ck_assert_ptr_nonnull(mkdtemp(victim));
        ck_assert_int_eq(symlink(victim, fmt("%s/esc", trap)), 0);
        ck_assert_int_eq(symlink("../../..", fmt("%s/up", trap)), 0);
        ck_assert_int_eq(symlink(".", fmt("%s/self", trap)), 0);
        ck_assert_int_eq(mkdir(fmt("%s/plain", trap), 0755), 0);
        char *trap_before = listing(trap), *victim_before = listing(victim);

        /* A daemon of the group's own, in the namespace. */
        TestDaemon main_d = d;
        SandboxcgClient *main_c = c;
        int r = test_daemon_start(&d, NULL);
        ck_assert_msg(r == 0, "second daemon: %s", strerror(-r));
        connect_client();

        spec_init(&s);
        const struct {
                const char *id, *below, *what;
                int code;
        } cases[] = {
                { "sl", "trap/esc", "a parent through a symlink to a directory outside", SANDBOXCG_CODE_FAILED_PRECONDITION },
                { "sl", "trap/esc/x", "a parent below that symlink", SANDBOXCG_CODE_FAILED_PRECONDITION },
                { "sl", "trap/up", "a parent through a symlink to ../../..", SANDBOXCG_CODE_FAILED_PRECONDITION },
                { "sl", "trap/up/x", "a parent below ../../..", SANDBOXCG_CODE_FAILED_PRECONDITION },
                { "sl", "trap/self/self/esc", "a parent through symlinks to .", SANDBOXCG_CODE_FAILED_PRECONDITION },
                { "esc", "trap", "a sandbox whose directory is a symlink", SANDBOXCG_CODE_FAILED_PRECONDITION },
                { "sl", "trap/plain", "a parent on a file system that is not cgroupfs", SANDBOXCG_CODE_FAILED_PRECONDITION },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char par[300];
                (void) snprintf(par, sizeof par, "%s/%s", parent, cases[i].below);
                int k = create(cases[i].id, par, &s, NULL);
                fprintf(stderr, "test-hostile: %s: %s\n", cases[i].what, describe(k));
                hostile(k, cases[i].code, NULL, fmt("%s (%s)", cases[i].what, par));
                assert_same_text(trap_before, listing(trap), fmt("the tmpfs after: %s", cases[i].what));
                assert_same_text(victim_before, listing(victim), fmt("the symlink's target after: %s", cases[i].what));
        }
        ck_assert_uint_eq(count_sandboxes(), 0);

        c = sandboxcg_client_free(c);
        int status = test_daemon_stop(&d);
        d = main_d;
        c = main_c;
        ck_assert_msg(status == 0, "second daemon exited with status %d", status);
        ck_assert_int_eq(umount2(trap, MNT_DETACH), 0);
        /* What the daemon may have left in the other hierarchies goes with
         * the check of the run's parent; the trap itself is ours. */
        ck_assert_int_eq(rmdir(trap), 0);
        free(trap_before);
        free(victim_before);
}
END_TEST

static Suite *hostile_suite(void)
{
        Suite *s = suite_create("hostile");
        TCase *tc = tcase_create("hostile");
        tcase_add_unchecked_fixture(tc, unchecked_setup, unchecked_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_ids);
        tcase_add_test(tc, test_parents);
        tcase_add_test(tc, test_nul_strings);
        tcase_add_test(tc, test_values);
        tcase_add_test(tc, test_contradictory);
        tcase_add_test(tc, test_hugepages_cpusets);
        tcase_add_test(tc, test_encoding);
        tcase_add_test(tc, test_vmm_pids);
        tcase_add_test(tc, test_vcpus);
        tcase_add_test(tc, test_frames);
        tcase_add_test(tc, test_half_open_and_stalled);
        tcase_add_test(tc, test_connection_flood);
        tcase_add_test(tc, test_request_flood);
        tcase_add_test(tc, test_symlinks);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        if (geteuid() != 0) {
                fprintf(stderr, "test-hostile: needs root to create cgroups, skipping\n");
                return 77;
        }
        if (access("/sys/fs/cgroup", F_OK) < 0) {
                fprintf(stderr, "test-hostile: no /sys/fs/cgroup, skipping\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        SRunner *sr = srunner_create(hostile_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 && daemon_status == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
