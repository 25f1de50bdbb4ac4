/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* The sandbox lifecycle end to end: the built daemon on a private socket,
 * driven through libsandboxcg, on this host's real cgroups (v1, v2 or
 * hybrid). Every claim is checked in the kernel's own files: the limit files,
 * /proc/<pid>/task/<tid>/cgroup, the directories; what the daemon answers is
 * only compared with them. Needs root; skipped (77) otherwise. Everything
 * lives under a parent unique to the run, removed at the end also on failure.
 *
 * Where things go follows DESIGN.md §1: S in every hierarchy (v1: each mount
 * used; hybrid: plus the cgroup2 mount; v2: the one mount), vcpu and
 * pod_overhead where the cpu controller is; the VMM's threads in
 * pod_overhead there and in S elsewhere, vCPU threads in vcpu. Paths come
 * from the daemon's HostInfo and the sandbox's `cgroups`, verified on disk,
 * so the same assertions hold on each kind of host. */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/integration/sandbox-check.h"

static char rundir[256]; /* the daemons' private directories */

/* Case 1's spec (spec_init) in the kernel's terms: S has the totals. */
static const Limits limits_case1 = {
        .quota_s = 250000,
        .quota_vcpu = 200000,
        .quota_ovh = 50000,
        .shares_s = 1152,
        .shares_vcpu = 1024,
        .shares_ovh = 128,
        .weight_s = "110",
        .weight_vcpu = "100",
        .weight_ovh = "21",
        .memory = 576 * MiB,
        .memsw = 1088 * MiB,
        .pids = 128,
        .hugetlb_2mb = 6 * MiB,
};

/* ---------------------------------------------------------------------------
 * Fixtures. In the runner process, around the test case: a failed assertion
 * ends the forked test without its checked teardown, so the cgroups (with
 * any stand-in VMM left in them) and the daemons' directories go here. */

static void unchecked_setup(void)
{
        test_unique_parent(parent, sizeof parent);
        (void) snprintf(rundir, sizeof rundir, "%s/scg-test-run-XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (mkdtemp(rundir))
                (void) setenv("TMPDIR", rundir, 1);
        else
                rundir[0] = '\0';
}

static void unchecked_teardown(void)
{
        test_remove_parent_everywhere(parent);
        if (rundir[0] && strstr(rundir, "/scg-test-run-") && !strchr(rundir, '\'')) {
                char cmd[400];
                (void) snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", rundir);
                (void) system(cmd);
        }
}

static void connect_client(void)
{
        int r = sandboxcg_client_new(&c, d.socket);
        ck_assert_msg(r == 0, "connect %s: %s", d.socket, strerror(-r));
}

static void setup(void)
{
        int r = test_daemon_start(&d, NULL);
        ck_assert_msg(r == 0, "daemon did not start: %s", strerror(-r));
        connect_client();
        check_ok(sandboxcg_client_host_info(c, &host), "HostInfo"); /* freed in teardown */
        ck_assert_ptr_nonnull(controller("cpu"));
        ck_assert_ptr_nonnull(controller("memory"));
}

static void teardown(void)
{
        release_all();
        c = sandboxcg_client_free(c);
        if (host)
                sandboxcg__v1__host_info_response__free_unpacked(host, NULL);
        host = NULL;
        ck_assert_msg(test_daemon_alive(&d), "the daemon died during the test");
        int status = test_daemon_stop(&d);
        ck_assert_msg(status == 0, "daemon exited with status %d (sanitizer report or unclean stop?)",
                      status);
}

/* 1. Create: the tree per hierarchy, S with the totals, the children with
 * their parts, and the record. */
START_TEST(test_create)
{
        Spec s;
        Sandboxcg__V1__CreateSandboxResponse *resp;
        spec_init(&s);
        assert_ok(create("create", parent, &s, &resp));
        ck_assert_msg(resp->has_created && resp->created, "created is not true");
        const Sandbox *sb = resp->sandbox;
        ck_assert_str_eq(sb->id, "create");
        ck_assert_str_eq(sb->cgroup_parent, parent);
        ck_assert_int_eq(sb->state, STATE(CREATED));
        fprintf(stderr, "test-sandbox: swap accounting %s, 2MB hugepages %s, sandbox in:",
                have_swap() ? "yes" : "no", have_hugepages() ? "yes" : "no");
        for (size_t i = 0; i < sb->n_cgroups; i++)
                fprintf(stderr, " %s=%s", sb->cgroups[i]->hierarchy, sb->cgroups[i]->path);
        fputc('\n', stderr);
        assert_cgroups_list(sb);
        bool seen_cpu = false;
        for (size_t i = 0; i < sb->n_cgroups; i++) {
                const char *dir = sb->cgroups[i]->path;
                bool cpu = holds_cpu(sb->cgroups[i], "create");
                seen_cpu = seen_cpu || cpu;
                ck_assert_msg(exists(fmt("%s/vcpu", dir)) == cpu, "%s/vcpu: %s", dir,
                              cpu ? "missing" : "exists");
                ck_assert_msg(exists(fmt("%s/pod_overhead", dir)) == cpu, "%s/pod_overhead: %s", dir,
                              cpu ? "missing" : "exists");
        }
        ck_assert_msg(seen_cpu, "no entry of cgroups is the cpu hierarchy");
        assert_limits("create", &limits_case1);
        assert_applied(sb);
        ck_assert_msg(exists(record_of("create")), "no record %s", record_of("create"));
}
END_TEST

/* 2. The same create again is a no-op; a different spec is refused. */
START_TEST(test_idempotent_create)
{
        Spec s;
        Sandboxcg__V1__CreateSandboxResponse *first, *again;
        spec_init(&s);
        assert_ok(create("idem", parent, &s, &first));
        ck_assert(first->created);
        char *before = snapshot("idem");

        assert_ok(create("idem", parent, &s, &again));
        ck_assert_msg(again->has_created && !again->created, "second create: created is not false");
        ck_assert_str_eq(again->sandbox->id, "idem");
        ck_assert_uint_eq(again->sandbox->created_at, first->sandbox->created_at);
        /* A leading '/' names the same parent. */
        assert_ok(create("idem", fmt("/%s", parent), &s, &again));
        ck_assert(!again->created);

        SET(s.res, cpu_quota, 100000);
        assert_code(create("idem", parent, &s, NULL), ALREADY_EXISTS, NULL);
        spec_init(&s);
        SET(s.ovh, cpu_quota, 60000);
        assert_code(create("idem", parent, &s, NULL), ALREADY_EXISTS, NULL);
        spec_init(&s);
        assert_code(create("idem", fmt("%s/other", parent), &s, NULL), ALREADY_EXISTS, NULL);
        assert_no_dir(fmt("%s/other", parent));

        char *after = snapshot("idem");
        ck_assert_str_eq(after, before);
        free(before);
        free(after);
        assert_limits("idem", &limits_case1);
}
END_TEST

/* Resource values out of range, each as "res" or "ovh" "." field, the
 * offsets of has_<field> and <field> in Resources, and the value. */
/* clang-format off */
#define OFF(f) offsetof(Resources, f)
#define BAD(side, f, v) { #side "." #f, offsetof(Spec, side), OFF(has_##f), OFF(f), v }
static const struct {
        const char *field;
        size_t side, has, value;
        int64_t v;
} bad_values[] = {
        BAD(res, cpu_period, 999),              BAD(res, cpu_quota, 0),
        BAD(res, cpu_quota, -1),                BAD(res, cpu_shares, 1),
        BAD(res, pids_limit, 0),                BAD(res, memory_swap_limit_in_bytes, 256 * MiB),
        BAD(ovh, memory_limit_in_bytes, 0),     BAD(ovh, cpu_period, 2000000),
};
/* clang-format on */
#undef BAD
#undef OFF

/* 3. Malformed requests: INVALID_ARGUMENT naming the field, and nothing
 * touched, neither a directory nor a record. */
START_TEST(test_validation)
{
        Spec s;
        char val[256], long_id[130], deep[1024], long_parent[1200];
        spec_init(&s);
        (void) snprintf(val, sizeof val, "%s/val", parent);
        memset(long_id, 'a', 129);
        long_id[129] = '\0';

        const char *bad_ids[] = {"", "../x", "a/b", ".hidden", long_id, "x y", "-x", "x\n", ".."};
        for (size_t i = 0; i < ELEMENTSOF(bad_ids); i++)
                check_code(create(bad_ids[i], val, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, "id",
                           fmt("CreateSandbox id \"%s\"", bad_ids[i]));
        assert_code(create(NULL, val, &s, NULL), INVALID_ARGUMENT, "id");

        /* Parents that would escape or are not canonical. Each is built so
         * that whatever a wrong acceptance created lies where the run's
         * cleanup looks (below the parent in each mount, or the parent
         * beside the mounts). */
        size_t n = (size_t) snprintf(deep, sizeof deep, "%s", val);
        for (int i = 0; i < 33; i++)
                n += (size_t) snprintf(deep + n, sizeof deep - n, "/l");
        n = (size_t) snprintf(long_parent, sizeof long_parent, "%s/", val);
        memset(long_parent + n, 'p', sizeof long_parent - n - 1);
        long_parent[sizeof long_parent - 1] = '\0';
        char bad_parents[9][1200];
        (void) snprintf(bad_parents[0], sizeof bad_parents[0], "../%s", parent);
        (void) snprintf(bad_parents[1], sizeof bad_parents[0], "%s/a/../../%s", val, parent);
        (void) snprintf(bad_parents[2], sizeof bad_parents[0], "%s//b", val);
        (void) snprintf(bad_parents[3], sizeof bad_parents[0], "%s/./b", val);
        (void) snprintf(bad_parents[4], sizeof bad_parents[0], "%s/b/", val);
        (void) snprintf(bad_parents[5], sizeof bad_parents[0], "//%s", val);
        (void) snprintf(bad_parents[6], sizeof bad_parents[0], "%s/a b", val);
        (void) snprintf(bad_parents[7], sizeof bad_parents[0], "%s", deep);
        (void) snprintf(bad_parents[8], sizeof bad_parents[0], "%s", long_parent);
        for (size_t i = 0; i < ELEMENTSOF(bad_parents); i++)
                check_code(create("ok-parent", bad_parents[i], &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT,
                           "cgroup_parent", fmt("CreateSandbox parent \"%.80s\"", bad_parents[i]));

        /* Resource values, one wrong field at a time. */
        for (size_t i = 0; i < ELEMENTSOF(bad_values); i++) {
                __typeof__(bad_values[0]) *bad = &bad_values[i];
                spec_init(&s);
                char *r = (char *) &s + bad->side;
                *(protobuf_c_boolean *) (r + bad->has) = true;
                *(int64_t *) (r + bad->value) = bad->v;
                /* The wire names the overhead "overhead". */
                const char *field =
                        fmt("%s%s", strncmp(bad->field, "ovh", 3) == 0 ? "overhead" : "resources",
                            strchr(bad->field, '.'));
                check_code(create("ok-res", val, &s, NULL), SANDBOXCG_CODE_INVALID_ARGUMENT, field,
                           fmt("CreateSandbox with %s = %" PRIi64, field, bad->v));
        }
        Sandboxcg__V1__HugepageLimit h = SANDBOXCG__V1__HUGEPAGE_LIMIT__INIT, *hv[1] = {&h};
        h.page_size = (char *) "3MB";
        SET(h, limit, 6 * MiB);
        spec_init(&s);
        s.res.hugepage_limits = hv;
        s.res.n_hugepage_limits = 1;
        assert_code(create("ok-res", val, &s, NULL), INVALID_ARGUMENT, "resources.hugepage_limits");

        assert_no_dir(val);
        assert_no_dir(fmt("%s/x", parent));
        assert_no_dir(fmt("%s/ok-parent", parent));
        if (host->mode != SANDBOXCG__V1__CGROUP_MODE__CGROUP_MODE_V2)
                ck_assert_msg(!exists(fmt("%s/%s", host->cgroup_root, parent)), "%s/%s exists",
                              host->cgroup_root, parent);
        DIR *dir = opendir(d.state_dir);
        for (struct dirent *de; dir && (de = readdir(dir));) {
                size_t len = strlen(de->d_name);
                ck_assert_msg(len < 8 || !streq(de->d_name + len - 8, ".sandbox"), "record %s/%s written",
                              d.state_dir, de->d_name);
        }
        if (dir)
                closedir(dir);
        ck_assert_uint_eq(count_sandboxes(), 0);
}
END_TEST

/* 4. AttachVmm: every thread where the layout says, and each refusal. */
START_TEST(test_attach_vmm)
{
        Spec s;
        pid_t tids[3], otids[3];
        Sandbox *sb;
        char *before = NULL, *after = NULL;
        spec_init(&s);
        create_ok("vmm-a", &s);
        create_ok("vmm-b", &s);
        pid_t vmm = spawn_vmm(tids), other = spawn_vmm(otids);

        assert_ok(attach_vmm("vmm-a", vmm, &sb));
        ck_assert_int_eq(sb->state, STATE(RUNNING));
        ck_assert_msg(sb->has_vmm_pid && sb->vmm_pid == vmm, "vmm_pid %d, expected %d", sb->vmm_pid,
                      (int) vmm);
        ck_assert_msg(sb->has_vmm_start_time, "no vmm_start_time");
        ck_assert_uint_eq(sb->vmm_start_time, start_time_of(vmm));
        assert_thread_in(vmm, vmm, sb, "pod_overhead");
        for (size_t i = 0; i < ELEMENTSOF(tids); i++)
                assert_thread_in(vmm, tids[i], sb, "pod_overhead");

        /* The same again: fine, and nothing moves. */
        assert_ok(attach_vmm("vmm-a", vmm, &sb));
        ck_assert_int_eq(sb->state, STATE(RUNNING));
        ck_assert_int_eq(sb->vmm_pid, vmm);
        assert_thread_in(vmm, vmm, sb, "pod_overhead");

        ck_assert_int_eq(test_task_cgroup(other, other, version_of("cpu") == 1 ? "cpu" : "", &before), 0);
        assert_code(attach_vmm("vmm-a", other, NULL), FAILED_PRECONDITION, NULL);
        assert_code(attach_vmm("vmm-b", vmm, NULL), FAILED_PRECONDITION, NULL);
        assert_code(attach_vmm("vmm-b", 1, NULL), PERMISSION_DENIED, NULL);
        assert_code(attach_vmm("vmm-b", d.pid, NULL), PERMISSION_DENIED, NULL);
        const char *kstat = kread("/proc/2/stat");
        unsigned long flags = 0;
        if (kstat && strrchr(kstat, ')') &&
            sscanf(strrchr(kstat, ')') + 1, " %*s %*s %*s %*s %*s %*s %lu", &flags) == 1 &&
            (flags & 0x00200000))
                assert_code(attach_vmm("vmm-b", 2, NULL), PERMISSION_DENIED, NULL); /* kthreadd */
        assert_code(attach_vmm("vmm-b", otids[0], NULL), INVALID_ARGUMENT, NULL);
        assert_code(attach_vmm("vmm-b", test_dead_pid(), NULL), NOT_FOUND, NULL);
        assert_code(attach_vmm("vmm-none", other, NULL), NOT_FOUND, NULL);

        /* None of that touched vmm-b, vmm-a or the other process. */
        sb = get_ok("vmm-b");
        ck_assert_int_eq(sb->state, STATE(CREATED));
        ck_assert_msg(!sb->has_vmm_pid || sb->vmm_pid == 0, "vmm-b has vmm_pid %d", sb->vmm_pid);
        for (size_t i = 0; i < sb->n_cgroups; i++)
                check_kfile(fmt("%s/cgroup.procs", sb->cgroups[i]->path), "");
        ck_assert_int_eq(test_task_cgroup(other, other, version_of("cpu") == 1 ? "cpu" : "", &after), 0);
        ck_assert_str_eq(after, before);
        free(before);
        free(after);
        sb = get_ok("vmm-a");
        ck_assert_int_eq(sb->vmm_pid, vmm);
        for (size_t i = 0; i < ELEMENTSOF(tids); i++)
                assert_thread_in(vmm, tids[i], sb, "pod_overhead");
}
END_TEST

/* 5. AttachVcpus: discovered and explicit, and what is refused moves
 * nothing. */
START_TEST(test_attach_vcpus)
{
        Spec s;
        pid_t tids[3], otids[3], tids3[3];
        Sandboxcg__V1__AttachVcpusResponse *resp;
        Sandbox *sb;
        char *before = NULL, *after = NULL;
        spec_init(&s);
        create_ok("vcpus", &s);
        pid_t vmm = spawn_vmm(tids), other = spawn_vmm(otids);
        assert_ok(attach_vmm("vcpus", vmm, NULL));

        assert_ok(attach_vcpus("vcpus", NULL, 0, true, 2, &resp));
        ck_assert_uint_eq(resp->n_attached, 2);
        ck_assert(has_tid(resp->attached, 2, tids[0]) && has_tid(resp->attached, 2, tids[1]));
        sb = resp->sandbox;
        ck_assert_ptr_nonnull(sb);
        ck_assert_uint_eq(sb->n_vcpu_tids, 2);
        ck_assert(has_tid(sb->vcpu_tids, 2, tids[0]) && has_tid(sb->vcpu_tids, 2, tids[1]));
        assert_thread_in(vmm, tids[0], sb, "vcpu");
        assert_thread_in(vmm, tids[1], sb, "vcpu");
        assert_thread_in(vmm, tids[2], sb, "pod_overhead");
        assert_thread_in(vmm, vmm, sb, "pod_overhead");

        /* A thread of another process, alone or with one of the VMM's. */
        ck_assert_int_eq(test_task_cgroup(other, otids[0], version_of("cpu") == 1 ? "cpu" : "", &before), 0);
        assert_code(attach_vcpus("vcpus", &otids[0], 1, false, 0, NULL), INVALID_ARGUMENT,
                    fmt("%d", otids[0]));
        pid_t mixed[2] = {tids[2], otids[0]};
        assert_code(attach_vcpus("vcpus", mixed, 2, false, 0, NULL), INVALID_ARGUMENT, fmt("%d", otids[0]));
        ck_assert_int_eq(test_task_cgroup(other, otids[0], version_of("cpu") == 1 ? "cpu" : "", &after), 0);
        ck_assert_str_eq(after, before);
        free(before);
        free(after);
        assert_thread_in(vmm, tids[2], sb, "pod_overhead");

        /* Both ways at once, or neither. */
        assert_code(attach_vcpus("vcpus", &tids[2], 1, true, 0, NULL), INVALID_ARGUMENT, NULL);
        assert_code(attach_vcpus("vcpus", NULL, 0, false, 0, NULL), INVALID_ARGUMENT, NULL);
        assert_code(attach_vcpus("vcpus-none", NULL, 0, true, 0, NULL), NOT_FOUND, NULL);

        /* An explicit thread of the VMM. */
        assert_ok(attach_vcpus("vcpus", &tids[2], 1, false, 0, &resp));
        ck_assert_uint_eq(resp->n_attached, 1);
        ck_assert_int_eq(resp->attached[0], tids[2]);
        assert_thread_in(vmm, tids[2], resp->sandbox, "vcpu");
        assert_thread_in(vmm, vmm, resp->sandbox, "pod_overhead");
        sb = get_ok("vcpus");
        ck_assert_uint_eq(sb->n_vcpu_tids, 3);
        for (size_t i = 0; i < 3; i++)
                ck_assert_msg(has_tid(sb->vcpu_tids, 3, tids[i]), "vcpu_tids lacks %d", (int) tids[i]);

        /* A fresh sandbox: no VMM yet; then a count that does not match. */
        create_ok("vcpus-3", &s);
        assert_code(attach_vcpus("vcpus-3", NULL, 0, true, 2, NULL), FAILED_PRECONDITION, NULL);
        pid_t vmm3 = spawn_vmm(tids3);
        assert_ok(attach_vmm("vcpus-3", vmm3, &sb));
        assert_code(attach_vcpus("vcpus-3", NULL, 0, true, 3, NULL), FAILED_PRECONDITION, NULL);
        sb = get_ok("vcpus-3");
        ck_assert_uint_eq(sb->n_vcpu_tids, 0);
        assert_thread_in(vmm3, vmm3, sb, "pod_overhead");
        for (size_t i = 0; i < 3; i++)
                assert_thread_in(vmm3, tids3[i], sb, "pod_overhead");
}
END_TEST

/* 6. Update: down, up, a lifted limit, and a refused one that changes
 * nothing. */
START_TEST(test_update)
{
        Spec s;
        Sandbox *sb;
        Limits l = limits_case1;
        spec_init(&s);
        create_ok("upd", &s);

        SET(s.res, cpu_quota, 100000);
        SET(s.res, memory_limit_in_bytes, 256 * MiB);
        assert_ok(update("upd", &s, &sb));
        ck_assert_ptr_nonnull(sb);
        assert_same_resources(sb->resources, &s.res, "resources");
        l.quota_vcpu = 100000;
        l.quota_s = 150000;
        l.memory = 320 * MiB;
        assert_limits("upd", &l);
        assert_applied(sb);

        spec_init(&s);
        assert_ok(update("upd", &s, &sb));
        assert_limits("upd", &limits_case1);

        /* New periods, each way: on v1 a period and its quota are checked
         * one write at a time against the parent's and children's ratios,
         * so their order matters (the kernel said EINVAL to most of these
         * before it was planned as one limit). */
        static const struct {
                int64_t vcpu_period, vcpu_quota, ovh_period, ovh_quota;
        } periods[] = {
                { 50000, 150000, 200000, 20000 },
                { 1000000, 100000, 10000, 5000 },
                { 20000, 60000, 1000000, 900000 },
                { 100000, 200000, 100000, 50000 }, /* back to spec_init()'s */
        };
        for (size_t i = 0; i < ELEMENTSOF(periods); i++) {
                SET(s.res, cpu_period, periods[i].vcpu_period);
                SET(s.res, cpu_quota, periods[i].vcpu_quota);
                SET(s.ovh, cpu_period, periods[i].ovh_period);
                SET(s.ovh, cpu_quota, periods[i].ovh_quota);
                check_ok(update("upd", &s, &sb), fmt("UpdateSandbox to periods #%zu", i));
                if (version_of("cpu") == 1) {
                        check_kfile(node_file("cpu", "upd", "vcpu", "cpu.cfs_period_us"),
                                    fmt("%" PRId64, periods[i].vcpu_period));
                        check_kfile(node_file("cpu", "upd", "vcpu", "cpu.cfs_quota_us"),
                                    fmt("%" PRId64, periods[i].vcpu_quota));
                        check_kfile(node_file("cpu", "upd", "pod_overhead", "cpu.cfs_period_us"),
                                    fmt("%" PRId64, periods[i].ovh_period));
                        check_kfile(node_file("cpu", "upd", "pod_overhead", "cpu.cfs_quota_us"),
                                    fmt("%" PRId64, periods[i].ovh_quota));
                } else {
                        check_kfile(node_file("cpu", "upd", "vcpu", "cpu.max"),
                                    fmt("%" PRId64 " %" PRId64, periods[i].vcpu_quota, periods[i].vcpu_period));
                        check_kfile(node_file("cpu", "upd", "pod_overhead", "cpu.max"),
                                    fmt("%" PRId64 " %" PRId64, periods[i].ovh_quota, periods[i].ovh_period));
                }
                assert_applied(sb);
        }
        assert_limits("upd", &limits_case1);

        /* The update is the whole spec: a limit it leaves out is lifted.
         * Left out of the overhead, it adds nothing to S; left out of the
         * pod's resources, S has no limit. */
        s.ovh.has_pids_limit = 0;
        assert_ok(update("upd", &s, &sb));
        l = limits_case1;
        l.pids = 100;
        assert_limits("upd", &l);
        s.res.has_pids_limit = 0;
        s.ovh.has_pids_limit = 1;
        assert_ok(update("upd", &s, &sb));
        l.pids = -1;
        assert_limits("upd", &l);
        spec_init(&s);
        assert_ok(update("upd", &s, &sb));
        assert_limits("upd", &limits_case1);

        /* Below the memory in use: refused, nothing written. */
        int fd;
        pid_t toucher;
        ck_assert_int_eq(test_spawn_memory_user((size_t) (32 * MiB), &toucher, &fd), 0);
        track(toucher);
        assert_ok(attach_vmm("upd", toucher, NULL));
        ck_assert_int_eq(test_memory_user_touch(fd, 10000), 0);
        close(fd);
        const char *usage =
                kread(node_file("memory", "upd", "",
                                version_of("memory") == 1 ? "memory.usage_in_bytes" : "memory.current"));
        ck_assert_ptr_nonnull(usage);
        ck_assert_msg(strtoll(usage, NULL, 10) >= 32 * MiB,
                      "usage %s: the stand-in's memory is not charged to S", usage);
        char *before = snapshot("upd");
        Spec small;
        spec_init(&small);
        SET(small.res, cpu_quota, 100000);
        SET(small.res, memory_limit_in_bytes, 4 * MiB);
        SET(small.ovh, memory_limit_in_bytes, 4 * MiB);
        if (have_swap()) {
                SET(small.res, memory_swap_limit_in_bytes, 4 * MiB);
                SET(small.ovh, memory_swap_limit_in_bytes, 4 * MiB);
        }
        assert_code(update("upd", &small, NULL), FAILED_PRECONDITION, NULL);
        char *after = snapshot("upd");
        ck_assert_str_eq(after, before);
        free(before);
        free(after);
        ck_assert_msg(kill(toucher, 0) == 0, "the stand-in was killed (OOM?)");
        sb = get_ok("upd");
        assert_same_resources(sb->resources, &s.res, "resources after the refused update");
        assert_same_resources(sb->overhead, &s.ovh, "overhead after the refused update");

        assert_code(update("upd-none", &s, NULL), NOT_FOUND, NULL);
}
END_TEST

/* 7. Get and List: the fields, and `applied` equal to the kernel's files. */
START_TEST(test_get_list)
{
        Spec s;
        spec_init(&s);
        uint64_t t0 = now_ns();
        assert_ok(create("get-b", fmt("/%s", parent), &s, NULL));
        assert_ok(create("get-a", fmt("/%s", parent), &s, NULL));
        uint64_t t1 = now_ns();

        Sandbox *sb = get_ok("get-a");
        ck_assert_str_eq(sb->id, "get-a");
        ck_assert_str_eq(sb->cgroup_parent, parent);
        ck_assert_int_eq(sb->state, STATE(CREATED));
        assert_same_resources(sb->resources, &s.res, "resources");
        assert_same_resources(sb->overhead, &s.ovh, "overhead");
        ck_assert_msg(sb->created_at >= t0 && sb->created_at <= t1,
                      "created_at %" PRIu64 " not in [%" PRIu64 ", %" PRIu64 "]", sb->created_at, t0, t1);
        ck_assert_uint_ge(sb->updated_at, sb->created_at);
        ck_assert_msg(!sb->has_vmm_pid || sb->vmm_pid == 0, "vmm_pid %d", sb->vmm_pid);
        ck_assert_uint_eq(sb->n_vcpu_tids, 0);
        ck_assert_msg(!sb->has_vmm_exited_at || sb->vmm_exited_at == 0, "vmm_exited_at set");
        assert_cgroups_list(sb);

        assert_applied(sb);
        const char *rel = fmt("%s%s%s/get-a", mount_rel("cpu"), mount_rel("cpu")[0] ? "/" : "", parent);
        if (version_of("cpu") == 1) {
                ck_assert_str_eq(applied_value(sb, fmt("%s/vcpu/cpu.cfs_quota_us", rel)), "200000");
                ck_assert_str_eq(applied_value(sb, fmt("%s/pod_overhead/cpu.cfs_quota_us", rel)), "50000");
                ck_assert_str_eq(applied_value(sb, fmt("%s/cpu.cfs_quota_us", rel)), "250000");
        } else {
                ck_assert_str_eq(applied_value(sb, fmt("%s/vcpu/cpu.max", rel)), "200000 100000");
                ck_assert_str_eq(applied_value(sb, fmt("%s/cpu.max", rel)), "250000 100000");
        }
        rel = fmt("%s%s%s/get-a", mount_rel("pids"), mount_rel("pids")[0] ? "/" : "", parent);
        ck_assert_str_eq(applied_value(sb, fmt("%s/pids.max", rel)), "128");

        Sandboxcg__V1__ListSandboxesResponse *list;
        assert_ok(CALL(list_sandboxes, NULL, &list));
        ck_assert_uint_eq(list->n_sandboxes, 2);
        ck_assert_str_eq(list->sandboxes[0]->id, "get-a");
        ck_assert_str_eq(list->sandboxes[1]->id, "get-b");
        for (size_t i = 0; i < 2; i++) {
                ck_assert_str_eq(list->sandboxes[i]->cgroup_parent, parent);
                ck_assert_int_eq(list->sandboxes[i]->state, STATE(CREATED));
                assert_same_resources(list->sandboxes[i]->resources, &s.res, "listed resources");
                assert_cgroups_list(list->sandboxes[i]);
        }
        assert_code(get("get-none", NULL), NOT_FOUND, NULL);
}
END_TEST

/* ListSandboxes a page at a time: by count, by size (a daemon that takes
 * messages of 4 KiB at most answers in pages that fit), continued after a
 * sandbox deleted meanwhile, and merged whole by the library. */
#define N_PAGED 60

static void list_page(uint32_t page_size, const char *token, Sandboxcg__V1__ListSandboxesResponse **ret)
{
        Sandboxcg__V1__ListSandboxesRequest req = SANDBOXCG__V1__LIST_SANDBOXES_REQUEST__INIT;

        if (page_size > 0) {
                req.has_page_size = 1;
                req.page_size = page_size;
        }
        req.page_token = (char *) token;
        check_ok(sandboxcg_client_list_sandboxes(c, &req, ret), "ListSandboxes (a page)");
        keep(*ret);
}

START_TEST(test_list_pages)
{
        static const char *const args[] = { "--max-message-size", "4K", NULL };
        Sandboxcg__V1__ListSandboxesResponse *page, *all;
        char id[16];
        int status = -1;
        Spec s;

        spec_init(&s);
        for (int i = 0; i < N_PAGED; i++) {
                (void) snprintf(id, sizeof id, "pg-%03d", i);
                create_ok(id, &s);
        }

        /* By count: 25, 25, 10, in order, the last without a token. */
        size_t seen = 0;
        const char *token = NULL;
        for (unsigned k = 0;; k++) {
                list_page(25, token, &page);
                ck_assert_uint_eq(page->n_sandboxes, k < 2 ? 25 : 10);
                for (size_t i = 0; i < page->n_sandboxes; i++, seen++)
                        ck_assert_str_eq(page->sandboxes[i]->id, fmt("pg-%03zu", seen));
                token = page->next_page_token;
                if (k == 2) {
                        ck_assert_msg(!token || !token[0], "the last page names a next one: %s", token);
                        break;
                }
                ck_assert_str_eq(token, fmt("pg-%03zu", seen - 1));
        }

        /* The same sandboxes from a daemon that takes 4 KiB messages. */
        c = sandboxcg_client_free(c);
        int r = test_daemon_restart(&d, args, &status);
        ck_assert_msg(r == 0 && status == 0, "restart with --max-message-size 4K: %s, status %d", strerror(-r),
                      status);
        connect_client();

        /* By size: without a count, pages of at most 4 KiB (60 sandboxes
         * take 15 KiB with one hierarchy, 32 KiB with seven), every sandbox
         * once. */
        seen = 0;
        token = NULL;
        unsigned pages = 0;
        do {
                list_page(0, token, &page);
                ck_assert_uint_gt(page->n_sandboxes, 0);
                ck_assert_uint_le(sandboxcg__v1__list_sandboxes_response__get_packed_size(page), 4 * 1024);
                for (size_t i = 0; i < page->n_sandboxes; i++, seen++)
                        ck_assert_str_eq(page->sandboxes[i]->id, fmt("pg-%03zu", seen));
                token = page->next_page_token;
                pages++;
        } while (token && token[0]);
        ck_assert_uint_eq(seen, N_PAGED);
        ck_assert_uint_ge(pages, 3);

        /* The token's sandbox deleted: the next page starts after it. */
        delete_ok("pg-009");
        delete_ok("pg-010");
        list_page(1, "pg-009", &page);
        ck_assert_str_eq(page->sandboxes[0]->id, "pg-011");

        /* A token that is no id. */
        Sandboxcg__V1__ListSandboxesRequest bad = SANDBOXCG__V1__LIST_SANDBOXES_REQUEST__INIT;
        bad.page_token = (char *) "../etc";
        check_code(sandboxcg_client_list_sandboxes(c, &bad, &page), SANDBOXCG_CODE_INVALID_ARGUMENT, "page_token",
                   "ListSandboxes with page_token ../etc");

        /* All of them through the library. */
        check_ok(sandboxcg_client_list_all_sandboxes(c, &all), "list all");
        keep(all);
        ck_assert_uint_eq(all->n_sandboxes, N_PAGED - 2);
        ck_assert_msg(!all->next_page_token, "merged list names a next page");
        for (size_t i = 1; i < all->n_sandboxes; i++)
                ck_assert_msg(strcmp(all->sandboxes[i - 1]->id, all->sandboxes[i]->id) < 0, "out of order at %zu",
                              i);
        /* What a list shows follows every change (the daemon keeps each
         * sandbox's listing until it changes). */
        pid_t tids[3], vmm = spawn_vmm(tids);
        assert_ok(attach_vmm("pg-000", vmm, NULL));
        list_page(1, NULL, &page);
        ck_assert_int_eq(page->sandboxes[0]->state, STATE(RUNNING));
        ck_assert_int_eq(page->sandboxes[0]->vmm_pid, vmm);
        SET(s.res, pids_limit, 77);
        assert_ok(update("pg-000", &s, NULL));
        list_page(1, NULL, &page);
        ck_assert_int_eq(page->sandboxes[0]->resources->pids_limit, 77);
        ck_assert(reap(vmm, true, 5000, NULL));
        for (int waited = 0; waited < 5000; waited += 20) {
                list_page(1, NULL, &page);
                if (page->sandboxes[0]->state == STATE(VMM_EXITED))
                        break;
                (void) usleep(20000);
        }
        ck_assert_int_eq(page->sandboxes[0]->state, STATE(VMM_EXITED));

        for (int i = 0; i < N_PAGED; i++)
                if (i != 9 && i != 10)
                        delete_ok(fmt("pg-%03d", i));
}
END_TEST

/* 8. Delete with the VMM running: killed, every directory and the record
 * gone; again is fine. */
START_TEST(test_delete)
{
        Spec s;
        pid_t tids[3];
        bool existed = true;
        spec_init(&s);
        create_ok("del", &s);
        pid_t vmm = spawn_vmm(tids);
        assert_ok(attach_vmm("del", vmm, NULL));
        assert_ok(attach_vcpus("del", NULL, 0, true, 2, NULL));
        ck_assert_msg(exists(record_of("del")), "no record %s", record_of("del"));

        /* Where the kernel has cgroup.kill (5.14+, cgroup2), delete uses it:
         * a write to the file is an IN_MODIFY event. */
        int ino = -1;
        const char *kill_file = host->unified_mount ? node_file("unified", "del", "", "cgroup.kill") : NULL;
        if (kill_file && exists(kill_file)) {
                ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                ck_assert_int_ge(ino, 0);
                ck_assert_int_ge(inotify_add_watch(ino, kill_file, IN_MODIFY), 0);
        }

        delete_ok("del");
        assert_killed_by_daemon(vmm);
        if (ino >= 0) {
                char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
                ssize_t n = read(ino, buf, sizeof buf);
                ck_assert_msg(n > 0 && (((const struct inotify_event *) buf)->mask & IN_MODIFY),
                              "delete did not write %s", kill_file);
                close(ino);
        }

        assert_ok(delete_sb("del", &existed));
        ck_assert_msg(!existed, "second delete: existed=true");
        assert_code(get("del", NULL), NOT_FOUND, NULL);
        ck_assert_uint_eq(count_sandboxes(), 0);

        /* The id is free again. */
        Sandboxcg__V1__CreateSandboxResponse *resp;
        assert_ok(create("del", parent, &s, &resp));
        ck_assert(resp->created);
        assert_limits("del", &limits_case1);
        delete_ok("del");
}
END_TEST

/* 9. The VMM exits: noticed, the cgroups stay until delete. */
START_TEST(test_vmm_exit)
{
        Spec s;
        pid_t tids[3];
        Sandbox *sb = NULL;
        spec_init(&s);
        create_ok("exit", &s);
        pid_t vmm = spawn_vmm(tids);
        assert_ok(attach_vmm("exit", vmm, NULL));
        ck_assert(reap(vmm, true, 5000, NULL));

        for (int i = 0; i < 100; i++) {
                sb = get_ok("exit");
                if (sb->state == STATE(VMM_EXITED) && sb->vmm_exited_at != 0)
                        break;
                (void) usleep(50000);
        }
        ck_assert_msg(sb->state == STATE(VMM_EXITED), "state %d 5 s after the VMM died, expected VMM_EXITED",
                      sb->state);
        ck_assert_msg(sb->has_vmm_exited_at && sb->vmm_exited_at >= sb->created_at, "vmm_exited_at %" PRIu64,
                      sb->vmm_exited_at);
        assert_cgroups_list(sb);
        ck_assert(exists(node_dir("cpu", "exit", "vcpu")) &&
                  exists(node_dir("cpu", "exit", "pod_overhead")));
        assert_limits("exit", &limits_case1);
        delete_ok("exit");
}
END_TEST

/* 10. A restarted daemon knows the sandboxes it had. */
START_TEST(test_restart)
{
        Spec s;
        pid_t tids[3];
        spec_init(&s);
        const Sandbox *a0 = create_ok("rs-a", &s);
        create_ok("rs-b", &s);
        pid_t vmm = spawn_vmm(tids);
        assert_ok(attach_vmm("rs-b", vmm, NULL));
        assert_ok(attach_vcpus("rs-b", NULL, 0, true, 2, NULL));
        const Sandbox *b0 = get_ok("rs-b");

        c = sandboxcg_client_free(c);
        int status = -1, r = test_daemon_restart(&d, NULL, &status);
        ck_assert_msg(status == 0, "first daemon exited with status %d", status);
        ck_assert_msg(r == 0, "daemon did not start again: %s", strerror(-r));
        connect_client();

        Sandbox *a1 = get_ok("rs-a");
        ck_assert_str_eq(a1->cgroup_parent, parent);
        ck_assert_int_eq(a1->state, STATE(CREATED));
        ck_assert_uint_eq(a1->created_at, a0->created_at);
        assert_same_resources(a1->resources, &s.res, "resources after restart");
        assert_same_resources(a1->overhead, &s.ovh, "overhead after restart");
        assert_cgroups_list(a1);
        assert_limits("rs-a", &limits_case1);

        Sandbox *b1 = get_ok("rs-b");
        ck_assert_int_eq(b1->state, STATE(RUNNING));
        ck_assert_int_eq(b1->vmm_pid, vmm);
        ck_assert_uint_eq(b1->vmm_start_time, b0->vmm_start_time);
        ck_assert_uint_eq(b1->n_vcpu_tids, 2);
        ck_assert(has_tid(b1->vcpu_tids, 2, tids[0]) && has_tid(b1->vcpu_tids, 2, tids[1]));
        assert_thread_in(vmm, tids[0], b1, "vcpu");
        assert_thread_in(vmm, tids[2], b1, "pod_overhead");

        Sandboxcg__V1__CreateSandboxResponse *again;
        assert_ok(create("rs-a", parent, &s, &again));
        ck_assert_msg(!again->created, "create after restart: created=true");
        ck_assert_uint_eq(count_sandboxes(), 2);
        delete_ok("rs-b");
        assert_killed_by_daemon(vmm);
        delete_ok("rs-a");
}
END_TEST

/* A tree the daemon made but has no record of is removed (at start and by
 * Reconcile), with what runs in it; a look-alike tree it did not make stays;
 * a record whose tree is gone is dropped. */
START_TEST(test_orphans)
{
        Spec s;
        pid_t tids[3];
        spec_init(&s);
        create_ok("or-lost", &s);
        create_ok("or-kept", &s);
        pid_t vmm = spawn_vmm(tids);
        assert_ok(attach_vmm("or-lost", vmm, NULL));

        /* A stranger's tree of the same shape, without the daemon's marker. */
        const char *stranger[] = { "", "/vcpu", "/pod_overhead" };
        for (size_t i = 0; i < 3; i++)
                ck_assert_int_eq(mkdir(fmt("%s/or-stranger%s", node_dir("cpu", "", ""), stranger[i]), 0755), 0);
        /* On a hybrid host also in the unified tree, where the markers are
         * (on v2 that is where the cpu hierarchy is anyway). */
        if (host->unified_mount && !exists(fmt("%s/or-stranger", node_dir("unified", "", ""))))
                ck_assert_int_eq(mkdir(fmt("%s/or-stranger", node_dir("unified", "", "")), 0755), 0);

        /* Can this host hold the daemon's markers? (Pure v1 without -o xattr
         * cannot: then nothing without a record may be touched.) */
        Sandboxcg__V1__ReconcileRequest rq = SANDBOXCG__V1__RECONCILE_REQUEST__INIT;
        Sandboxcg__V1__ReconcileResponse *rr;
        SET(rq, dry_run, 1);
        assert_ok(CALL(reconcile, &rq, &rr));
        ck_assert(rr->has_markers_supported);
        bool markers = rr->markers_supported;
        ck_assert_uint_eq(rr->n_findings, 0);

        /* The record of or-lost is lost while the daemon is down. */
        c = sandboxcg_client_free(c);
        int status = -1;
        ck_assert_int_eq(test_daemon_stop_keep(&d, &status), 0);
        ck_assert_int_eq(unlink(fmt("%s/or-lost.sandbox", d.state_dir)), 0);
        ck_assert_int_eq(test_daemon_start_again(&d, NULL), 0);
        connect_client();

        /* Reconciled before the daemon answered: the tree and its VMM are gone. */
        assert_code(get("or-lost", NULL), NOT_FOUND, NULL);
        if (markers) {
                assert_killed_by_daemon(vmm);
                assert_no_dir(fmt("%s/or-lost", parent));
        } else {
                /* Not provably the daemon's: left alone, VMM and all. */
                ck_assert_int_eq(kill(vmm, 0), 0);
                ck_assert(exists(node_dir("memory", "or-lost", "")));
        }
        assert_limits("or-kept", &limits_case1);
        ck_assert(exists(fmt("%s/or-stranger", node_dir("cpu", "", ""))));

        /* A record whose tree someone removed: Reconcile drops it, and a dry
         * run only reports it. */
        const char *nodes[] = { "/vcpu", "/pod_overhead", "" };
        for (size_t i = 0; i < host->n_controllers; i++) {
                const char *name = host->controllers[i]->name;
                for (size_t k = 0; k < 3; k++)
                        (void) rmdir(fmt("%s%s", node_dir(name, "or-kept", ""), nodes[k]));
        }
        (void) rmdir(node_dir("unified", "or-kept", ""));

        assert_ok(CALL(reconcile, &rq, &rr));
        ck_assert(rr->markers_supported == markers);
        ck_assert_uint_eq(rr->n_findings, 1);
        ck_assert_int_eq(rr->findings[0]->kind, SANDBOXCG__V1__FINDING_KIND__FINDING_KIND_RECORD_WITHOUT_CGROUPS);
        ck_assert_str_eq(rr->findings[0]->id, "or-kept");
        ck_assert(!rr->findings[0]->fixed);
        get_ok("or-kept");

        rq.dry_run = 0;
        assert_ok(CALL(reconcile, &rq, &rr));
        ck_assert_uint_eq(rr->n_findings, 1);
        ck_assert(rr->findings[0]->fixed);
        assert_code(get("or-kept", NULL), NOT_FOUND, NULL);
        ck_assert(!exists(fmt("%s/or-kept.sandbox", d.state_dir)));

        /* The stranger's tree was never touched. */
        for (size_t i = 0; i < 3; i++)
                ck_assert(exists(fmt("%s/or-stranger%s", node_dir("cpu", "", ""), stranger[i])));
        assert_ok(CALL(reconcile, &rq, &rr));
        ck_assert_uint_eq(rr->n_findings, 0);
}
END_TEST

static Suite *sandbox_suite(void)
{
        Suite *s = suite_create("sandbox");
        TCase *tc = tcase_create("lifecycle");
        tcase_add_unchecked_fixture(tc, unchecked_setup, unchecked_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_create);
        tcase_add_test(tc, test_idempotent_create);
        tcase_add_test(tc, test_validation);
        tcase_add_test(tc, test_attach_vmm);
        tcase_add_test(tc, test_attach_vcpus);
        tcase_add_test(tc, test_update);
        tcase_add_test(tc, test_list_pages);
        tcase_add_test(tc, test_get_list);
        tcase_add_test(tc, test_delete);
        tcase_add_test(tc, test_orphans);
        tcase_add_test(tc, test_vmm_exit);
        tcase_add_test(tc, test_restart);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        if (geteuid() != 0) {
                fprintf(stderr, "test-sandbox: needs root to create cgroups, skipping\n");
                return 77;
        }
        if (access("/sys/fs/cgroup", F_OK) < 0) {
                fprintf(stderr, "test-sandbox: no /sys/fs/cgroup, skipping\n");
                return 77;
        }
        SRunner *sr = srunner_create(sandbox_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
