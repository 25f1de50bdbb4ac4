/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/integration/sandbox-check.h"

/* ---------------------------------------------------------------------------
 * The test's world, and what teardown frees and kills. */

char parent[128];
TestDaemon d;
SandboxcgClient *c;
Sandboxcg__V1__HostInfoResponse *host;

static const char *const thread_names[] = {"vcpu0", "vcpu1", "io-worker"};
static ProtobufCMessage *kept[512];
static size_t n_kept;
static pid_t children[16];

void *keep(void *m)
{
        ck_assert_uint_lt(n_kept, ELEMENTSOF(kept));
        kept[n_kept++] = m;
        return m;
}

void track(pid_t pid)
{
        for (size_t i = 0; i < ELEMENTSOF(children); i++)
                if (children[i] <= 0) {
                        children[i] = pid;
                        return;
                }
        ck_abort_msg("too many children");
}

bool reap(pid_t pid, bool kill_it, int timeout_ms, int *ret_status)
{
        int status = 0;
        if (kill_it)
                (void) kill(pid, SIGKILL);
        int r = test_wait_exit(pid, timeout_ms, &status);
        ck_assert_int_ge(r, 0);
        for (size_t i = 0; r > 0 && i < ELEMENTSOF(children); i++)
                if (children[i] == pid)
                        children[i] = 0;
        if (ret_status)
                *ret_status = status;
        return r > 0;
}

void release_responses(void)
{
        while (n_kept > 0)
                protobuf_c_message_free_unpacked(kept[--n_kept], NULL);
}

void release_all(void)
{
        for (size_t i = 0; i < ELEMENTSOF(children); i++)
                if (children[i] > 0)
                        (void) reap(children[i], true, 5000, NULL);
        release_responses();
}

pid_t spawn_vmm(pid_t tids[3])
{
        pid_t pid;
        int r = test_spawn_fake_vmm(thread_names, ELEMENTSOF(thread_names), &pid, tids);
        ck_assert_msg(r == 0, "fake VMM: %s", strerror(-r));
        track(pid);
        return pid;
}

/* ---------------------------------------------------------------------------
 * Strings, files and status checks. */

static char ring[24][4096];
static unsigned ring_i;

const char *fmt(const char *format, ...)
{
        char *buf = ring[ring_i++ % ELEMENTSOF(ring)];
        va_list ap;
        va_start(ap, format);
        (void) vsnprintf(buf, sizeof ring[0], format, ap);
        va_end(ap);
        return buf;
}

const char *kread(const char *path)
{
        char *buf = ring[ring_i++ % ELEMENTSOF(ring)];
        int r = test_read_file(path, buf, sizeof ring[0]);
        errno = -r;
        return r < 0 ? NULL : buf;
}

void check_kfile(const char *path, const char *expected)
{
        const char *v = kread(path);
        ck_assert_msg(v && streq(v, expected), "%s: kernel has \"%s\", expected \"%s\"", path,
                      v ?: strerror(errno), expected);
}

bool exists(const char *path)
{
        return access(path, F_OK) == 0;
}

const char *describe(int r)
{
        if (r == -EREMOTEIO)
                return fmt("%s: %s", sandboxcg_code_to_string(sandboxcg_client_error_code(c)) ?: "?",
                           sandboxcg_client_error_message(c) ?: "");
        return r < 0 ? fmt("client error %s", strerror(-r)) : "OK";
}

/* Does the message name field as a word ("id" in "sandbox id: ...", not in
 * "invalid")? */
bool names_field(const char *msg, const char *field)
{
        size_t n = strlen(field);
        for (const char *p = msg; p && (p = strstr(p, field)); p++) {
                char before = p == msg ? ' ' : p[-1], after = p[n];
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.", before) &&
                    (after == '\0' ||
                     !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", after)))
                        return true;
        }
        return false;
}

void check_ok(int r, const char *what)
{
        ck_assert_msg(r >= 0, "%s: expected OK, got %s", what, describe(r));
}

void check_code(int r, int code, const char *field, const char *what)
{
        ck_assert_msg(r == -EREMOTEIO && sandboxcg_client_error_code(c) == code, "%s: expected %s, got %s",
                      what, sandboxcg_code_to_string(code), describe(r));
        if (field)
                ck_assert_msg(names_field(sandboxcg_client_error_message(c), field),
                              "%s: message \"%s\" does not name \"%s\"", what,
                              sandboxcg_client_error_message(c), field);
}

/* ---------------------------------------------------------------------------
 * The host, from the daemon's HostInfo (verified on disk where used). */

const Sandboxcg__V1__ControllerInfo *controller(const char *name)
{
        for (size_t i = 0; i < host->n_controllers; i++) {
                const Sandboxcg__V1__ControllerInfo *ci = host->controllers[i];
                if (streq(ci->name, name) && ci->version > 0 && (!ci->has_enabled || ci->enabled))
                        return ci;
        }
        return NULL;
}

int version_of(const char *name)
{
        const Sandboxcg__V1__ControllerInfo *ci = controller(name);
        return ci ? (int) ci->version : 0;
}

/* A node ("", "vcpu", "pod_overhead") of a sandbox in the hierarchy of a
 * controller; "unified" for the cgroup2 mount. */
const char *node_dir(const char *ctrl, const char *id, const char *node)
{
        const char *mount = streq(ctrl, "unified") ? host->unified_mount : controller(ctrl)->mount_point;
        return fmt("%s/%s/%s%s%s", mount, parent, id, node[0] ? "/" : "", node);
}

const char *node_file(const char *ctrl, const char *id, const char *node, const char *file)
{
        return fmt("%s/%s", node_dir(ctrl, id, node), file);
}

/* Every place a sandbox directory could be: each controller's mount and the
 * cgroup2 mount. */
void assert_no_dir(const char *relative)
{
        char rel[1024];
        (void) snprintf(rel, sizeof rel, "%s", relative);
        for (size_t i = 0; i < host->n_controllers; i++) {
                const char *p = fmt("%s/%s", host->controllers[i]->mount_point, rel);
                ck_assert_msg(!exists(p), "%s exists", p);
        }
        if (host->unified_mount)
                ck_assert_msg(!exists(fmt("%s/%s", host->unified_mount, rel)), "%s/%s exists",
                              host->unified_mount, rel);
}

bool have_hugepages(void)
{
        for (size_t i = 0; i < host->n_hugepage_sizes; i++)
                if (streq(host->hugepage_sizes[i], "2MB"))
                        return version_of("hugetlb") > 0;
        return false;
}

bool have_swap(void)
{
        return host->features && host->features->memory_swap;
}

const char *v1_unlimited(void)
{
        long page = sysconf(_SC_PAGESIZE);
        return fmt("%" PRIi64, INT64_MAX / page * page);
}

/* ---------------------------------------------------------------------------
 * Requests. */

/* The spec of case 1. The overhead carries pids, swap and a hugepage limit
 * too, so that S's totals are real sums of both parts (resources_combine). */
void spec_init(Spec *s)
{
        *s = (Spec){.res = SANDBOXCG__V1__RESOURCES__INIT,
                    .ovh = SANDBOXCG__V1__RESOURCES__INIT,
                    .hp_res = SANDBOXCG__V1__HUGEPAGE_LIMIT__INIT,
                    .hp_ovh = SANDBOXCG__V1__HUGEPAGE_LIMIT__INIT};
        SET(s->res, cpu_period, 100000);
        SET(s->res, cpu_quota, 200000);
        SET(s->res, cpu_shares, 1024);
        SET(s->res, memory_limit_in_bytes, 512 * MiB);
        SET(s->res, pids_limit, 100);
        SET(s->ovh, cpu_period, 100000);
        SET(s->ovh, cpu_quota, 50000);
        SET(s->ovh, cpu_shares, 128);
        SET(s->ovh, memory_limit_in_bytes, 64 * MiB);
        SET(s->ovh, pids_limit, 28);
        if (have_swap()) {
                SET(s->res, memory_swap_limit_in_bytes, 1024 * MiB);
                SET(s->ovh, memory_swap_limit_in_bytes, 64 * MiB);
        }
        if (have_hugepages()) {
                s->hp_res.page_size = s->hp_ovh.page_size = (char *) "2MB";
                SET(s->hp_res, limit, 4 * MiB);
                SET(s->hp_ovh, limit, 2 * MiB);
                s->hp_res_v[0] = &s->hp_res;
                s->hp_ovh_v[0] = &s->hp_ovh;
                s->res.hugepage_limits = s->hp_res_v;
                s->ovh.hugepage_limits = s->hp_ovh_v;
                s->res.n_hugepage_limits = s->ovh.n_hugepage_limits = 1;
        }
}

int create(const char *id, const char *par, const Spec *s, Sandboxcg__V1__CreateSandboxResponse **ret)
{
        Sandboxcg__V1__CreateSandboxRequest req = SANDBOXCG__V1__CREATE_SANDBOX_REQUEST__INIT;
        Sandboxcg__V1__CreateSandboxResponse *resp;
        req.id = (char *) id;
        req.cgroup_parent = (char *) par;
        req.resources = s ? (Resources *) &s->res : NULL;
        req.overhead = s ? (Resources *) &s->ovh : NULL;
        int r = CALL(create_sandbox, &req, &resp);
        ck_assert(r < 0 || resp->sandbox);
        if (ret)
                *ret = resp;
        return r;
}

Sandbox *create_ok(const char *id, const Spec *s)
{
        Sandboxcg__V1__CreateSandboxResponse *resp;
        check_ok(create(id, parent, s, &resp), fmt("CreateSandbox %s", id));
        return resp->sandbox;
}

int get(const char *id, Sandbox **ret)
{
        Sandboxcg__V1__GetSandboxRequest req = SANDBOXCG__V1__GET_SANDBOX_REQUEST__INIT;
        Sandboxcg__V1__GetSandboxResponse *resp;
        req.id = (char *) id;
        int r = CALL(get_sandbox, &req, &resp);
        ck_assert(r < 0 || resp->sandbox);
        if (ret)
                *ret = r >= 0 ? resp->sandbox : NULL;
        return r;
}

Sandbox *get_ok(const char *id)
{
        Sandbox *sb;
        check_ok(get(id, &sb), fmt("GetSandbox %s", id));
        return sb;
}

int update(const char *id, const Spec *s, Sandbox **ret)
{
        Sandboxcg__V1__UpdateSandboxRequest req = SANDBOXCG__V1__UPDATE_SANDBOX_REQUEST__INIT;
        Sandboxcg__V1__UpdateSandboxResponse *resp;
        req.id = (char *) id;
        req.resources = (Resources *) &s->res;
        req.overhead = (Resources *) &s->ovh;
        int r = CALL(update_sandbox, &req, &resp);
        if (ret)
                *ret = r >= 0 ? resp->sandbox : NULL;
        return r;
}

int attach_vmm(const char *id, pid_t pid, Sandbox **ret)
{
        Sandboxcg__V1__AttachVmmRequest req = SANDBOXCG__V1__ATTACH_VMM_REQUEST__INIT;
        Sandboxcg__V1__AttachVmmResponse *resp;
        req.id = (char *) id;
        SET(req, pid, pid);
        int r = CALL(attach_vmm, &req, &resp);
        if (ret)
                *ret = r >= 0 ? resp->sandbox : NULL;
        return r;
}

/* Explicit tids (n > 0) and/or discover (expect: 0 for any count). */
int attach_vcpus(const char *id, const pid_t *tids, size_t n, bool discover, unsigned expect,
                 Sandboxcg__V1__AttachVcpusResponse **ret)
{
        Sandboxcg__V1__AttachVcpusRequest req = SANDBOXCG__V1__ATTACH_VCPUS_REQUEST__INIT;
        Sandboxcg__V1__AttachVcpusResponse *resp;
        int32_t t[8];
        ck_assert_uint_le(n, ELEMENTSOF(t));
        for (size_t i = 0; i < n; i++)
                t[i] = tids[i];
        req.id = (char *) id;
        req.tids = t;
        req.n_tids = n;
        if (discover)
                SET(req, discover, true);
        if (expect)
                SET(req, expect, expect);
        int r = CALL(attach_vcpus, &req, &resp);
        if (ret)
                *ret = resp;
        return r;
}

int delete_sb(const char *id, bool *ret_existed)
{
        Sandboxcg__V1__DeleteSandboxRequest req = SANDBOXCG__V1__DELETE_SANDBOX_REQUEST__INIT;
        Sandboxcg__V1__DeleteSandboxResponse *resp;
        req.id = (char *) id;
        int r = CALL(delete_sandbox, &req, &resp);
        if (r >= 0)
                *ret_existed = resp->has_existed && resp->existed;
        return r;
}

size_t count_sandboxes(void)
{
        Sandboxcg__V1__ListSandboxesResponse *list;
        assert_ok(CALL(list_sandboxes, NULL, &list));
        return list->n_sandboxes;
}

/* ---------------------------------------------------------------------------
 * Checks against the kernel. */

bool has_tid(const int32_t *v, size_t n, pid_t tid)
{
        for (size_t i = 0; i < n; i++)
                if (v[i] == tid)
                        return true;
        return false;
}

/* The sandbox's `cgroups`: each an existing directory S under its mount;
 * one per hierarchy; covering the hierarchies of the controllers it limits
 * (and the cgroup2 mount); and every S directory on disk is listed. */
void assert_cgroups_list(const Sandbox *sb)
{
        char tail[512];
        (void) snprintf(tail, sizeof tail, "/%s/%s", parent, sb->id);
        ck_assert_uint_gt(sb->n_cgroups, 0);
        for (size_t i = 0; i < sb->n_cgroups; i++) {
                const Sandboxcg__V1__CgroupPath *p = sb->cgroups[i];
                struct stat st;
                ck_assert_msg(p->hierarchy && p->path, "cgroups[%zu] incomplete", i);
                ck_assert_msg(stat(p->path, &st) == 0 && S_ISDIR(st.st_mode), "cgroups[%zu] %s: %s", i,
                              p->path, strerror(errno));
                size_t n = strlen(p->path), t = strlen(tail);
                ck_assert_msg(n > t && streq(p->path + n - t, tail), "cgroups[%zu] %s is not .../%s", i,
                              p->path, tail + 1);
                for (size_t j = 0; j < i; j++)
                        ck_assert_msg(!streq(sb->cgroups[j]->hierarchy, p->hierarchy) &&
                                              !streq(sb->cgroups[j]->path, p->path),
                                      "cgroups[%zu] and [%zu] are the same hierarchy", j, i);
        }
        const char *need[] = {"cpu", "cpuset", "memory", "pids", "hugetlb", "unified"};
        for (size_t k = 0; k < ELEMENTSOF(need); k++) {
                if (streq(need[k], "unified") ? !host->unified_mount : !version_of(need[k]))
                        continue;
                const char *dir = node_dir(need[k], sb->id, "");
                bool listed = false;
                for (size_t i = 0; i < sb->n_cgroups; i++)
                        listed = listed || streq(sb->cgroups[i]->path, dir);
                ck_assert_msg(listed, "%s (hierarchy of %s) is not in cgroups", dir, need[k]);
        }
        for (size_t k = 0; k < host->n_controllers; k++) {
                const char *dir = fmt("%s%s", host->controllers[k]->mount_point, tail);
                bool listed = false;
                for (size_t i = 0; i < sb->n_cgroups; i++)
                        listed = listed || streq(sb->cgroups[i]->path, dir);
                ck_assert_msg(listed || !exists(dir), "%s exists but is not in cgroups", dir);
        }
}

/* Is this entry of `cgroups` the hierarchy with vcpu and pod_overhead? */
bool holds_cpu(const Sandboxcg__V1__CgroupPath *p, const char *id)
{
        return streq(p->path, node_dir("cpu", id, ""));
}

/* A thread of a VMM is in `node` in the cpu hierarchy and in S in every
 * other hierarchy of the sandbox, per /proc/<pid>/task/<tid>/cgroup. */
void assert_thread_in(pid_t pid, pid_t tid, const Sandbox *sb, const char *node)
{
        for (size_t i = 0; i < sb->n_cgroups; i++) {
                const Sandboxcg__V1__CgroupPath *p = sb->cgroups[i];
                char line[128] = ""; /* "" selects the cgroup2 line */
                if (!streq(p->hierarchy, "unified"))
                        (void) snprintf(line, sizeof line, "%.*s", (int) strcspn(p->hierarchy, ","),
                                        p->hierarchy);
                const char *want = fmt("/%s/%s%s%s", parent, sb->id, holds_cpu(p, sb->id) ? "/" : "",
                                       holds_cpu(p, sb->id) ? node : "");
                char *got = NULL;
                int r = test_task_cgroup(pid, tid, line, &got);
                ck_assert_msg(r == 0, "thread %d: no \"%s\" line: %s", (int) tid, line, strerror(-r));
                ck_assert_msg(streq(got, want), "thread %d of %d (%s): in %s, expected %s", (int) tid,
                              (int) pid, p->hierarchy, got, want);
                free(got);
        }
}

/* Field 22 of /proc/<pid>/stat. */
uint64_t start_time_of(pid_t pid)
{
        const char *s = kread(fmt("/proc/%d/stat", (int) pid));
        ck_assert_ptr_nonnull(s);
        const char *p = strrchr(s, ')');
        ck_assert_ptr_nonnull(p);
        unsigned long long v = 0;
        /* After ")": state is field 3, so skip 19 fields to reach 22. */
        ck_assert_int_eq(sscanf(p + 1,
                                " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                                "%*s %*s %llu",
                                &v),
                         1);
        return v;
}

static const char *num_or(int64_t v, const char *none)
{
        return v < 0 ? none : fmt("%" PRIi64, v);
}

void assert_limits(const char *id, const Limits *l)
{
        const char *nodes[] = {"", "vcpu", "pod_overhead"};
        const int64_t quota[] = {l->quota_s, l->quota_vcpu, l->quota_ovh};
        const int64_t shares[] = {l->shares_s, l->shares_vcpu, l->shares_ovh};
        const char *weight[] = {l->weight_s, l->weight_vcpu, l->weight_ovh};

        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                if (version_of("cpu") == 1) {
                        check_kfile(node_file("cpu", id, nodes[i], "cpu.cfs_period_us"), "100000");
                        check_kfile(node_file("cpu", id, nodes[i], "cpu.cfs_quota_us"),
                                    fmt("%" PRIi64, quota[i]));
                        check_kfile(node_file("cpu", id, nodes[i], "cpu.shares"),
                                    fmt("%" PRIi64, shares[i]));
                } else {
                        check_kfile(node_file("cpu", id, nodes[i], "cpu.max"),
                                    fmt("%" PRIi64 " 100000", quota[i]));
                        check_kfile(node_file("cpu", id, nodes[i], "cpu.weight"), weight[i]);
                        check_kfile(node_file("cpu", id, nodes[i], "cgroup.type"),
                                    i == 0 ? "domain threaded" : "threaded");
                }
        }
        if (version_of("memory") == 1) {
                check_kfile(node_file("memory", id, "", "memory.limit_in_bytes"),
                            num_or(l->memory, v1_unlimited()));
                if (have_swap())
                        check_kfile(node_file("memory", id, "", "memory.memsw.limit_in_bytes"),
                                    num_or(l->memsw, v1_unlimited()));
        } else {
                check_kfile(node_file("memory", id, "", "memory.max"), num_or(l->memory, "max"));
                if (have_swap())
                        check_kfile(node_file("memory", id, "", "memory.swap.max"),
                                    l->memsw < 0 ? "max" : fmt("%" PRIi64, l->memsw - l->memory));
        }
        check_kfile(node_file("pids", id, "", "pids.max"), num_or(l->pids, "max"));
        if (have_hugepages() && l->hugetlb_2mb >= 0)
                check_kfile(node_file("hugetlb", id, "",
                                      version_of("hugetlb") == 1 ? "hugetlb.2MB.limit_in_bytes"
                                                                 : "hugetlb.2MB.max"),
                            fmt("%" PRIi64, l->hugetlb_2mb));
}

/* The limit files of a sandbox, as "path=value" lines, to prove that
 * nothing changed. */
char *snapshot(const char *id)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        ck_assert_ptr_nonnull(f);
        const char *nodes[] = {"", "vcpu", "pod_overhead"};
        const char *cpu_files[] = {"cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares", "cpu.max",
                                   "cpu.weight"};
        const char *s_files[][2] = {
                {"memory", "memory.limit_in_bytes"},
                {"memory", "memory.memsw.limit_in_bytes"},
                {"memory", "memory.max"},
                {"memory", "memory.swap.max"},
                {"pids", "pids.max"},
                {"hugetlb", "hugetlb.2MB.limit_in_bytes"},
                {"hugetlb", "hugetlb.2MB.max"},
                {"cpuset", "cpuset.cpus"},
        };
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++)
                for (size_t j = 0; j < ELEMENTSOF(cpu_files); j++) {
                        const char *p = node_file("cpu", id, nodes[i], cpu_files[j]);
                        fprintf(f, "%s=%s\n", p, kread(p) ?: "-");
                }
        for (size_t j = 0; j < ELEMENTSOF(s_files); j++)
                if (version_of(s_files[j][0])) {
                        const char *p = node_file(s_files[j][0], id, "", s_files[j][1]);
                        fprintf(f, "%s=%s\n", p, kread(p) ?: "-");
                }
        fclose(f);
        return buf;
}

const char *record_of(const char *id)
{
        return fmt("%s/%s.sandbox", d.state_dir, id);
}

void assert_same_resources(const Resources *got, const Resources *want, const char *what)
{
        ck_assert_msg(got, "%s missing", what);
#define SAME(f)                                                                                      \
        ck_assert_msg(got->has_##f == want->has_##f && (!want->has_##f || got->f == want->f),        \
                      "%s." #f ": got %s%" PRIi64 ", expected %s%" PRIi64, what,                     \
                      got->has_##f ? "" : "unset ", (int64_t) got->f, want->has_##f ? "" : "unset ", \
                      (int64_t) want->f)
        SAME(cpu_period);
        SAME(cpu_quota);
        SAME(cpu_shares);
        SAME(memory_limit_in_bytes);
        SAME(memory_swap_limit_in_bytes);
        SAME(pids_limit);
#undef SAME
        ck_assert_msg(!got->cpuset_cpus == !want->cpuset_cpus, "%s.cpuset_cpus", what);
        ck_assert_uint_eq(got->n_hugepage_limits, want->n_hugepage_limits);
        for (size_t i = 0; i < want->n_hugepage_limits; i++) {
                ck_assert_str_eq(got->hugepage_limits[i]->page_size, want->hugepage_limits[i]->page_size);
                ck_assert_uint_eq(got->hugepage_limits[i]->limit, want->hugepage_limits[i]->limit);
        }
}

void assert_killed_by_daemon(pid_t pid)
{
        int status = 0;
        ck_assert_msg(reap(pid, false, 10000, &status), "VMM %d still runs after delete", (int) pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "VMM %d: status 0x%x, expected SIGKILL", (int) pid, (unsigned) status);
}

/* Gone in every hierarchy (every entry of `cgroups` is one of these), and
 * the record too. */
void assert_gone(const char *id)
{
        assert_no_dir(fmt("%s/%s", parent, id));
        ck_assert_msg(!exists(record_of(id)), "record %s is left after delete", record_of(id));
}

void delete_ok(const char *id)
{
        bool existed = false;
        check_ok(delete_sb(id, &existed), fmt("DeleteSandbox %s", id));
        ck_assert_msg(existed, "DeleteSandbox %s: existed=false", id);
        assert_gone(id);
}

uint64_t now_ns(void)
{
        struct timespec ts;
        ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Where a mount is, relative to the cgroup root ("cpu", or "" on v2). */
const char *mount_rel(const char *ctrl)
{
        const char *m = controller(ctrl)->mount_point;
        size_t n = strlen(host->cgroup_root);
        ck_assert_msg(strncmp(m, host->cgroup_root, n) == 0, "%s is not below %s", m, host->cgroup_root);
        return m[n] == '/' ? m + n + 1 : m + n;
}

void assert_applied(const Sandbox *sb)
{
        ck_assert_msg(sb->n_applied > 0, "sandbox %s: no applied values", sb->id);
        for (size_t i = 0; i < sb->n_applied; i++) {
                const Sandboxcg__V1__AppliedValue *a = sb->applied[i];
                ck_assert_msg(a->file && a->value && a->file[0] != '/', "applied[%zu] malformed", i);
                check_kfile(fmt("%s/%s", host->cgroup_root, a->file), a->value);
        }
}

const char *applied_value(const Sandbox *sb, const char *file)
{
        for (size_t i = 0; i < sb->n_applied; i++)
                if (streq(sb->applied[i]->file, file))
                        return sb->applied[i]->value;
        ck_abort_msg("applied lacks %s", file);
        return NULL;
}
