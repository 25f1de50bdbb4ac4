/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* The cgroup engine against the real kernel of this host (v1, v2 or hybrid):
 * every limit read back from the kernel's own files, every thread found
 * where the layout says in /proc/<pid>/task/<tid>/cgroup, nothing left after
 * destroy. Needs root; skipped (77) otherwise. Everything lives under a
 * parent unique to the run, removed in teardown also on failure. */

#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/cgroup/cgroup.h"
#include "tests/integration/harness.h"

static HostProbe host;
static CgroupEngine eng;
static char parent[128];
static pid_t vmm = -1;
static pid_t tids[3];
static const char *const thread_names[] = { "vcpu0", "vcpu1", "io-worker" };

/* In the runner process, around every test: a failed assertion ends the
 * forked test without its checked teardown, so the parent is cleaned here. */
static void unchecked_setup(void)
{
        test_unique_parent(parent, sizeof parent);
}

static void unchecked_teardown(void)
{
        test_remove_parent_everywhere(parent);
}

static void setup(void)
{
        Error e = {};
        ck_assert_msg(host_probe("/", "/sys/fs/cgroup", &host, &e) == 0, "%s", e.message);
        ck_assert_msg(cgroup_engine_init(&eng, &host, &e) == 0, "%s", e.message);
}

static void teardown(void)
{
        test_kill_and_reap(vmm);
        vmm = -1;
        test_remove_parent_everywhere(parent);
        cgroup_engine_done(&eng);
        host_probe_done(&host);
}

static OptInt opt(int64_t v)
{
        return (OptInt){ .set = true, .value = v };
}

/* The kernel's value of a file of a sandbox node, for a controller. */
static char *kernel_value(const char *id, SandboxNode node, Controller c, const char *file)
{
        const Hierarchy *h = cgroup_engine_hierarchy_of(&eng, c);
        ck_assert_ptr_nonnull(h);
        char path[1024], *dir = NULL;
        ck_assert_int_eq(cgroup_node_dir(h, parent, id, node, &dir), 0);
        (void) snprintf(path, sizeof path, "/sys/fs/cgroup/%s/%s", dir, file);
        free(dir);
        FILE *f = fopen(path, "re");
        ck_assert_msg(f, "%s: %m", path);
        char buf[256] = "";
        ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
        return strdup(buf);
}

#define assert_kernel(id, node, c, file, expected)                                                        \
        do {                                                                                               \
                char *_v = kernel_value((id), (node), (c), (file));                                        \
                ck_assert_msg(streq(_v, (expected)), "%s (%s): kernel has \"%s\", expected \"%s\"", (file), \
                              sandbox_node_to_string(node), _v, (expected));                               \
                free(_v);                                                                                  \
        } while (0)

static bool cpu_is_v1(void)
{
        return host.controllers[CONTROLLER_CPU].version == 1;
}

static void assert_task_in(pid_t tid, Controller c, const char *id, SandboxNode node)
{
        const Hierarchy *h = cgroup_engine_hierarchy_of(&eng, c);
        const char *hier = h->version == 2 ? "" : controller_to_v1_string(c);
        char *path = NULL, expected[512];
        ck_assert_int_eq(test_task_cgroup(vmm, tid, hier, &path), 0);
        (void) snprintf(expected, sizeof expected, "/%s/%s%s%s", parent, id, node == NODE_SANDBOX ? "" : "/",
                        sandbox_node_to_string(node));
        /* On v2 a task has one cgroup, the one the cpu controller put it in
         * (vcpu or pod_overhead): memory, pids and hugetlb apply there from
         * the threaded domain S (whose cgroup.type is checked). */
        if (h->version == 2 && node == NODE_SANDBOX && h == cgroup_engine_hierarchy_of(&eng, CONTROLLER_CPU)) {
                size_t l = strlen(expected);
                ck_assert_msg(strncmp(path, expected, l) == 0 &&
                                      (streq(path + l, "/vcpu") || streq(path + l, "/pod_overhead")),
                              "task %d in %s: %s, expected %s/vcpu or %s/pod_overhead", (int) tid,
                              controller_to_string(c), path, expected, expected);
                free(path);
                return;
        }
        ck_assert_msg(streq(path, expected), "task %d in %s: %s, expected %s", (int) tid,
                      controller_to_string(c), path, expected);
        free(path);
}

static void make_resources(Resources *pod, Resources *ovh, Resources *total)
{
        *pod = (Resources){
                .cpu_period = opt(100000), .cpu_quota = opt(50000), .cpu_shares = opt(512),
                .memory_limit = opt(256 << 20), .pids_limit = opt(100),
        };
        *ovh = (Resources){
                .cpu_period = opt(100000), .cpu_quota = opt(20000), .cpu_shares = opt(128),
                .memory_limit = opt(64 << 20), .pids_limit = opt(28),
        };
        pod->cpuset_cpus = strdup("0");
        ovh->cpuset_cpus = strdup(sysconf(_SC_NPROCESSORS_ONLN) > 1 ? "1" : "0");
        Error e = {};
        ck_assert_msg(resources_combine(pod, ovh, total, &e) == 0, "%s", e.message);
}

static void translate(const Resources *pod, const Resources *ovh, const Resources *total, CgroupWrite **w,
                      size_t *n)
{
        Error e = {};
        ck_assert_msg(resources_translate(pod, ovh, total, &host, w, n, &e) == 0, "%s", e.message);
}

START_TEST(test_full_life)
{
        _cleanup_strv_free_ char **made = NULL;
        Resources pod, ovh, total;
        CgroupWrite *w = NULL;
        size_t n = 0;
        Error e = {};

        make_resources(&pod, &ovh, &total);
        translate(&pod, &ovh, &total, &w, &n);
        ck_assert_msg(cgroup_create(&eng, parent, "sb1", w, n, &made, &e) == 0, "%s", e.message);
        ck_assert_int_eq(cgroup_exists(&eng, parent, "sb1"), 1);
        /* The parent levels it made are listed, for their owner to remove. */
        for (char **d = made; d && *d; d++) {
                char path[PATH_MAX];
                struct stat st;

                (void) snprintf(path, sizeof path, "/sys/fs/cgroup/%s", *d);
                ck_assert_msg(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "%s", path);
                ck_assert_msg(strstr(*d, parent), "%s is not a level of %s", *d, parent);
        }

        /* Limits, from the kernel's files. */
        if (cpu_is_v1()) {
                assert_kernel("sb1", NODE_SANDBOX, CONTROLLER_CPU, "cpu.cfs_quota_us", "70000");
                assert_kernel("sb1", NODE_VCPU, CONTROLLER_CPU, "cpu.cfs_quota_us", "50000");
                assert_kernel("sb1", NODE_POD_OVERHEAD, CONTROLLER_CPU, "cpu.cfs_quota_us", "20000");
                assert_kernel("sb1", NODE_SANDBOX, CONTROLLER_CPU, "cpu.shares", "640");
                assert_kernel("sb1", NODE_VCPU, CONTROLLER_CPU, "cpu.shares", "512");
        } else {
                assert_kernel("sb1", NODE_SANDBOX, CONTROLLER_CPU, "cpu.max", "70000 100000");
                assert_kernel("sb1", NODE_VCPU, CONTROLLER_CPU, "cpu.max", "50000 100000");
                assert_kernel("sb1", NODE_POD_OVERHEAD, CONTROLLER_CPU, "cpu.max", "20000 100000");
                assert_kernel("sb1", NODE_VCPU, CONTROLLER_CPU, "cgroup.type", "threaded");
                assert_kernel("sb1", NODE_SANDBOX, CONTROLLER_CPU, "cgroup.type", "domain threaded");
        }
        const char *mem_file = host.controllers[CONTROLLER_MEMORY].version == 1 ? "memory.limit_in_bytes"
                                                                                 : "memory.max";
        assert_kernel("sb1", NODE_SANDBOX, CONTROLLER_MEMORY, mem_file, "335544320");
        assert_kernel("sb1", NODE_SANDBOX, CONTROLLER_PIDS, "pids.max", "128");
        assert_kernel("sb1", NODE_SANDBOX, CONTROLLER_CPUSET, "cpuset.cpus",
                      sysconf(_SC_NPROCESSORS_ONLN) > 1 ? "0-1" : "0");

        /* A stand-in VMM: attach the process, then its vCPU threads. */
        ck_assert_int_eq(test_spawn_fake_vmm(thread_names, ELEMENTSOF(thread_names), &vmm, tids), 0);
        ck_assert_msg(cgroup_attach_vmm(&eng, parent, "sb1", vmm, &e) == 0, "%s", e.message);
        for (size_t i = 0; i < 2; i++)
                ck_assert_msg(cgroup_attach_vcpu(&eng, parent, "sb1", tids[i], &e) == 0, "%s", e.message);

        assert_task_in(vmm, CONTROLLER_CPU, "sb1", NODE_POD_OVERHEAD);
        assert_task_in(tids[2], CONTROLLER_CPU, "sb1", NODE_POD_OVERHEAD);
        assert_task_in(tids[0], CONTROLLER_CPU, "sb1", NODE_VCPU);
        assert_task_in(tids[1], CONTROLLER_CPU, "sb1", NODE_VCPU);
        assert_task_in(vmm, CONTROLLER_MEMORY, "sb1", NODE_SANDBOX);
        assert_task_in(tids[0], CONTROLLER_MEMORY, "sb1", NODE_SANDBOX);
        assert_task_in(vmm, CONTROLLER_PIDS, "sb1", NODE_SANDBOX);
        assert_task_in(vmm, CONTROLLER_CPUSET, "sb1", NODE_SANDBOX);
        if (host.controllers[CONTROLLER_HUGETLB].version)
                assert_task_in(vmm, CONTROLLER_HUGETLB, "sb1", NODE_SANDBOX);

        /* Attaching again is harmless. */
        ck_assert_msg(cgroup_attach_vcpu(&eng, parent, "sb1", tids[0], &e) == 0, "%s", e.message);

        /* Delete with the VMM running: it is killed, the tree is gone. */
        ck_assert_msg(cgroup_destroy(&eng, parent, "sb1", &e) == 0, "%s", e.message);
        int status;
        ck_assert_int_eq(waitpid(vmm, &status, 0), vmm);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        vmm = -1;
        ck_assert_int_eq(cgroup_exists(&eng, parent, "sb1"), 0);
        for (size_t i = 0; i < eng.n_hierarchies; i++) {
                char *dir = NULL, path[1024];
                ck_assert_int_eq(cgroup_node_dir(&eng.hierarchies[i], parent, "sb1", NODE_SANDBOX, &dir), 0);
                (void) snprintf(path, sizeof path, "/sys/fs/cgroup/%s", dir);
                ck_assert_msg(access(path, F_OK) < 0 && errno == ENOENT, "%s is left", path);
                free(dir);
        }
        /* And again: nothing to do is success. */
        ck_assert_msg(cgroup_destroy(&eng, parent, "sb1", &e) == 0, "%s", e.message);

        free(w);
        resources_done(&pod);
        resources_done(&ovh);
        resources_done(&total);
}
END_TEST

START_TEST(test_update_and_rollback)
{
        _cleanup_strv_free_ char **made = NULL;
        Resources pod, ovh, total;
        CgroupWrite *w = NULL;
        size_t n = 0;
        Error e = {};

        make_resources(&pod, &ovh, &total);
        translate(&pod, &ovh, &total, &w, &n);
        ck_assert_msg(cgroup_create(&eng, parent, "sb2", w, n, &made, &e) == 0, "%s", e.message);
        free(w);

        /* Down: the vCPU quota shrinks (child first), memory grows, pids lift. */
        pod.cpu_quota = opt(30000);
        pod.memory_limit = opt(512 << 20);
        pod.pids_limit = (OptInt){};
        resources_done(&total);
        ck_assert_int_eq(resources_combine(&pod, &ovh, &total, &e), 0);
        translate(&pod, &ovh, &total, &w, &n);
        ck_assert_msg(cgroup_update(&eng, parent, "sb2", w, n, &e) == 0, "%s", e.message);
        free(w);
        if (cpu_is_v1()) {
                assert_kernel("sb2", NODE_VCPU, CONTROLLER_CPU, "cpu.cfs_quota_us", "30000");
                assert_kernel("sb2", NODE_SANDBOX, CONTROLLER_CPU, "cpu.cfs_quota_us", "50000");
        } else
                assert_kernel("sb2", NODE_VCPU, CONTROLLER_CPU, "cpu.max", "30000 100000");
        assert_kernel("sb2", NODE_SANDBOX, CONTROLLER_PIDS, "pids.max", "max");

        /* Up again: S grows before the child. */
        pod.cpu_quota = opt(200000);
        resources_done(&total);
        ck_assert_int_eq(resources_combine(&pod, &ovh, &total, &e), 0);
        translate(&pod, &ovh, &total, &w, &n);
        ck_assert_msg(cgroup_update(&eng, parent, "sb2", w, n, &e) == 0, "%s", e.message);
        free(w);
        if (cpu_is_v1())
                assert_kernel("sb2", NODE_VCPU, CONTROLLER_CPU, "cpu.cfs_quota_us", "200000");

        /* A failing update (a cpuset the host does not have) after a child
         * write that succeeded: everything goes back. */
        char *before_quota = kernel_value("sb2", NODE_VCPU, CONTROLLER_CPU,
                                          cpu_is_v1() ? "cpu.cfs_quota_us" : "cpu.max");
        char *before_cpus = kernel_value("sb2", NODE_SANDBOX, CONTROLLER_CPUSET, "cpuset.cpus");
        pod.cpu_quota = opt(10000);
        free(pod.cpuset_cpus);
        pod.cpuset_cpus = strdup("4000-4001");
        /* Translate without combine-time validation: the kernel says no. */
        free(total.cpuset_cpus);
        total.cpuset_cpus = strdup("4000-4001");
        total.cpu_quota = opt(30000);
        translate(&pod, &ovh, &total, &w, &n);
        e = (Error){};
        ck_assert_int_lt(cgroup_update(&eng, parent, "sb2", w, n, &e), 0);
        ck_assert_msg(strstr(e.message, "cpuset.cpus"), "error does not name the file: %s", e.message);
        free(w);
        assert_kernel("sb2", NODE_VCPU, CONTROLLER_CPU, cpu_is_v1() ? "cpu.cfs_quota_us" : "cpu.max",
                      before_quota);
        assert_kernel("sb2", NODE_SANDBOX, CONTROLLER_CPUSET, "cpuset.cpus", before_cpus);
        free(before_quota);
        free(before_cpus);

        ck_assert_msg(cgroup_destroy(&eng, parent, "sb2", &e) == 0, "%s", e.message);
        ck_assert_int_eq(cgroup_exists(&eng, parent, "sb2"), 0);
        resources_done(&pod);
        resources_done(&ovh);
        resources_done(&total);
}
END_TEST

START_TEST(test_refuses_foreign_directory)
{
        _cleanup_strv_free_ char **made = NULL;
        Resources none = {};
        CgroupWrite *w = NULL;
        size_t n = 0;
        Error e = {};
        char path[512];

        /* A directory someone else made where the sandbox would go. */
        const Hierarchy *h = cgroup_engine_hierarchy_of(&eng, CONTROLLER_MEMORY);
        (void) snprintf(path, sizeof path, "/sys/fs/cgroup/%s/%s", h->mount_dir, parent);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        (void) snprintf(path, sizeof path, "/sys/fs/cgroup/%s/%s/sb3", h->mount_dir, parent);
        ck_assert_int_eq(mkdir(path, 0755), 0);

        translate(&none, &none, &none, &w, &n);
        ck_assert_int_eq(cgroup_create(&eng, parent, "sb3", w, n, &made, &e), -EEXIST);
        ck_assert_int_eq(e.code, GRPC_ALREADY_EXISTS);
        /* And it is left alone. */
        ck_assert_int_eq(access(path, F_OK), 0);
        free(w);
}
END_TEST

static Suite *engine_suite(void)
{
        Suite *s = suite_create("engine");
        TCase *tc = tcase_create("host");
        tcase_add_unchecked_fixture(tc, unchecked_setup, unchecked_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_full_life);
        tcase_add_test(tc, test_update_and_rollback);
        tcase_add_test(tc, test_refuses_foreign_directory);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        if (geteuid() != 0) {
                fprintf(stderr, "test-engine: needs root to create cgroups, skipping\n");
                return 77;
        }
        if (access("/sys/fs/cgroup", F_OK) < 0) {
                fprintf(stderr, "test-engine: no /sys/fs/cgroup, skipping\n");
                return 77;
        }
        SRunner *sr = srunner_create(engine_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
