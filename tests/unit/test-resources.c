/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* The resource model: validation of every field, the sandbox totals, the
 * cpuset lists, the v1/v2 conversions, and the exact list of files and values
 * that resources_translate() produces on the v1, v2, hybrid and old-v2 probe
 * fixtures and on hand-made hosts that lack controllers. */

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "daemon/cgroup/resources.h"

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must name tests/unit/fixtures"
#endif

#define GiB INT64_C(1073741824)
#define MiB INT64_C(1048576)
#define CPU_QUOTA_MAX ((INT64_C(1) << 44) - 1)

#define SET(v) { .set = true, .value = (v) }

/* Page size names as writable strings (HugepageLimit.page_size is char *). */
static char size_2mb[] = "2MB";
static char size_1gb[] = "1GB";
static char size_4mb[] = "4MB";
static char size_bad[] = "2M";

/* ---------------------------------------------------------------------------
 * Helpers */

static void probe_fixture(const char *name, HostProbe *ret)
{
        char prefix[PATH_MAX];
        Error e = {};
        int r;

        ck_assert_int_lt(snprintf(prefix, sizeof prefix, "%s/%s", FIXTURE_DIR, name), (int) sizeof prefix);
        r = host_probe(prefix, "/sys/fs/cgroup", ret, &e);
        ck_assert_msg(r == 0, "probing fixture %s: %s (%s)", name, e.message, strerror(-r));
}

/* The pod of a Kubernetes sandbox with every field set, and its overhead. */
static HugepageLimit pod_hugepages[] = { { size_2mb, 4 * MiB } };
static HugepageLimit overhead_hugepages[] = { { size_2mb, 2 * MiB } };
static char pod_cpus[] = "0-3", overhead_cpus[] = "4", mems[] = "0";

static const Resources pod_all = {
        .cpu_period = SET(100000),
        .cpu_quota = SET(200000),
        .cpu_shares = SET(2048),
        .cpuset_cpus = pod_cpus,
        .cpuset_mems = mems,
        .memory_limit = SET(2 * GiB),
        .memory_swap = SET(3 * GiB),
        .hugepages = pod_hugepages,
        .n_hugepages = ELEMENTSOF(pod_hugepages),
        .pids_limit = SET(1000),
};

static const Resources overhead_all = {
        .cpu_period = SET(50000),
        .cpu_quota = SET(25000),
        .cpu_shares = SET(512),
        .cpuset_cpus = overhead_cpus,
        .cpuset_mems = mems,
        .memory_limit = SET(256 * MiB),
        .memory_swap = SET(256 * MiB),
        .hugepages = overhead_hugepages,
        .n_hugepages = ELEMENTSOF(overhead_hugepages),
        .pids_limit = SET(100),
};

typedef struct Expect {
        SandboxNode node;
        int version;
        const char *file;
        const char *value;
        bool optional;
        bool inherit;
} Expect;

#define S NODE_SANDBOX
#define VCPU NODE_VCPU
#define OVH NODE_POD_OVERHEAD

static const char *node_name(SandboxNode n)
{
        return n == NODE_SANDBOX ? "S" : sandbox_node_to_string(n);
}

static void dump_writes(const CgroupWrite *w, size_t n)
{
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, "  [%2zu] %-12s v%d %-32s \"%s\"%s%s\n", i, node_name(w[i].node),
                        w[i].version, w[i].file, w[i].value, w[i].optional ? " optional" : "",
                        w[i].inherit ? " inherit" : "");
}

static void assert_writes(const char *name, const CgroupWrite *w, size_t n, const Expect *x, size_t nx)
{
        if (n != nx) {
                dump_writes(w, n);
                ck_abort_msg("%s: %zu writes, expected %zu", name, n, nx);
        }
        for (size_t i = 0; i < n; i++) {
                const char *controller = controller_to_string(w[i].controller);
                size_t len = strlen(controller);

                if (w[i].node != x[i].node || w[i].version != x[i].version || !streq(w[i].file, x[i].file) ||
                    !streq(w[i].value, x[i].value) || w[i].optional != x[i].optional ||
                    w[i].inherit != x[i].inherit) {
                        dump_writes(w, n);
                        ck_abort_msg("%s: write %zu is %s v%d %s=\"%s\" optional=%d inherit=%d, "
                                     "expected %s v%d %s=\"%s\" optional=%d inherit=%d",
                                     name, i, node_name(w[i].node), w[i].version, w[i].file, w[i].value,
                                     w[i].optional, w[i].inherit, node_name(x[i].node),
                                     x[i].version, x[i].file, x[i].value, x[i].optional, x[i].inherit);
                }
                /* The controller is the one the file belongs to. */
                ck_assert_msg(strncmp(w[i].file, controller, len) == 0 && w[i].file[len] == '.',
                              "%s: %s is filed under controller %s", name, w[i].file, controller);
        }
}

static void translate_ok(const char *fixture, const Resources *pod, const Resources *overhead,
                         const Resources *total, const Expect *x, size_t nx)
{
        _cleanup_free_ CgroupWrite *w = NULL;
        HostProbe host = {};
        Error e = {};
        size_t n = 0;
        int r;

        probe_fixture(fixture, &host);
        r = resources_translate(pod, overhead, total, &host, &w, &n, &e);
        ck_assert_msg(r == 0, "%s: %s", fixture, e.message);
        ck_assert(!error_is_set(&e));
        assert_writes(fixture, w, n, x, nx);
        host_probe_done(&host);
}

static const CgroupWrite *find_write(const CgroupWrite *w, size_t n, SandboxNode node, const char *file)
{
        for (size_t i = 0; i < n; i++)
                if (w[i].node == node && streq(w[i].file, file))
                        return &w[i];
        return NULL;
}

static void combine_ok(const Resources *pod, const Resources *overhead, Resources *ret)
{
        Error e = {};
        int r;

        r = resources_combine(pod, overhead, ret, &e);
        ck_assert_msg(r == 0, "combine: %s", e.message);
        ck_assert(!error_is_set(&e));
}

/* ---------------------------------------------------------------------------
 * Translation */

START_TEST(test_translate_v1_nothing_set)
{
        static const Expect x[] = {
                { S, 1, "cpuset.cpus", "", .inherit = true },
                { S, 1, "cpuset.mems", "", .inherit = true },
                { S, 1, "cpu.cfs_period_us", "100000" },
                { S, 1, "cpu.cfs_quota_us", "-1" },
                { S, 1, "cpu.shares", "1024" },
                { S, 1, "memory.limit_in_bytes", "-1" },
                { S, 1, "memory.memsw.limit_in_bytes", "-1" },
                { S, 1, "hugetlb.2MB.limit_in_bytes", "-1" },
                { S, 1, "hugetlb.2MB.rsvd.limit_in_bytes", "-1", .optional = true },
                { S, 1, "pids.max", "max" },
                { VCPU, 1, "cpu.cfs_period_us", "100000" },
                { VCPU, 1, "cpu.cfs_quota_us", "-1" },
                { VCPU, 1, "cpu.shares", "1024" },
                { OVH, 1, "cpu.cfs_period_us", "100000" },
                { OVH, 1, "cpu.cfs_quota_us", "-1" },
                { OVH, 1, "cpu.shares", "1024" },
        };
        static const Resources none = {};

        /* NULL and an empty Resources say the same. */
        translate_ok("v1", NULL, NULL, NULL, x, ELEMENTSOF(x));
        translate_ok("v1", &none, &none, &none, x, ELEMENTSOF(x));
}
END_TEST

START_TEST(test_translate_v1_all_set)
{
        static const Expect x[] = {
                { S, 1, "cpuset.cpus", "0-4" },
                { S, 1, "cpuset.mems", "0" },
                { S, 1, "cpu.cfs_period_us", "100000" },
                { S, 1, "cpu.cfs_quota_us", "250000" }, /* 200000 + 25000 * 100000 / 50000 */
                { S, 1, "cpu.shares", "2560" },
                { S, 1, "memory.limit_in_bytes", "2415919104" },       /* 2 GiB + 256 MiB */
                { S, 1, "memory.memsw.limit_in_bytes", "3489660928" }, /* 3 GiB + 256 MiB, as given */
                { S, 1, "hugetlb.2MB.limit_in_bytes", "6291456" },
                { S, 1, "hugetlb.2MB.rsvd.limit_in_bytes", "6291456", .optional = true },
                { S, 1, "pids.max", "1100" },
                { VCPU, 1, "cpu.cfs_period_us", "100000" },
                { VCPU, 1, "cpu.cfs_quota_us", "200000" },
                { VCPU, 1, "cpu.shares", "2048" },
                { OVH, 1, "cpu.cfs_period_us", "50000" },
                { OVH, 1, "cpu.cfs_quota_us", "25000" },
                { OVH, 1, "cpu.shares", "512" },
        };
        _cleanup_(resources_done) Resources total = {};
        HostProbe host = {};
        Error e = {};

        combine_ok(&pod_all, &overhead_all, &total);
        probe_fixture("v1", &host);
        ck_assert_int_eq(resources_validate(&pod_all, "resources", &host, &e), 0);
        ck_assert_int_eq(resources_validate(&overhead_all, "overhead", &host, &e), 0);
        ck_assert_int_eq(resources_validate(&total, "total", &host, &e), 0);
        host_probe_done(&host);

        translate_ok("v1", &pod_all, &overhead_all, &total, x, ELEMENTSOF(x));
}
END_TEST

START_TEST(test_translate_v2_nothing_set)
{
        static const Expect x[] = {
                { S, 2, "cpuset.cpus", "" },
                { S, 2, "cpuset.mems", "" },
                { S, 2, "cpu.max", "max 100000" },
                { S, 2, "cpu.weight", "100" },
                { S, 2, "memory.max", "max" },
                { S, 2, "memory.swap.max", "max" },
                { S, 2, "hugetlb.2MB.max", "max" },
                { S, 2, "hugetlb.2MB.rsvd.max", "max", .optional = true },
                { S, 2, "hugetlb.1GB.max", "max" },
                { S, 2, "hugetlb.1GB.rsvd.max", "max", .optional = true },
                { S, 2, "pids.max", "max" },
                { VCPU, 2, "cpu.max", "max 100000" },
                { VCPU, 2, "cpu.weight", "100" },
                { OVH, 2, "cpu.max", "max 100000" },
                { OVH, 2, "cpu.weight", "100" },
        };

        translate_ok("v2", NULL, NULL, NULL, x, ELEMENTSOF(x));
}
END_TEST

START_TEST(test_translate_v2_all_set)
{
        static const Expect x[] = {
                { S, 2, "cpuset.cpus", "0-4" },
                { S, 2, "cpuset.mems", "0" },
                { S, 2, "cpu.max", "250000 100000" },
                { S, 2, "cpu.weight", "208" }, /* 2560 shares */
                { S, 2, "memory.max", "2415919104" },
                { S, 2, "memory.swap.max", "1073741824" }, /* memory+swap - memory */
                { S, 2, "hugetlb.2MB.max", "6291456" },
                { S, 2, "hugetlb.2MB.rsvd.max", "6291456", .optional = true },
                { S, 2, "hugetlb.1GB.max", "max" },
                { S, 2, "hugetlb.1GB.rsvd.max", "max", .optional = true },
                { S, 2, "pids.max", "1100" },
                { VCPU, 2, "cpu.max", "200000 100000" },
                { VCPU, 2, "cpu.weight", "174" },
                { OVH, 2, "cpu.max", "25000 50000" },
                { OVH, 2, "cpu.weight", "59" },
        };
        _cleanup_(resources_done) Resources total = {};

        combine_ok(&pod_all, &overhead_all, &total);
        translate_ok("v2", &pod_all, &overhead_all, &total, x, ELEMENTSOF(x));
}
END_TEST

/* hugetlb lives on the cgroup2 mount, everything else on v1 hierarchies. */
START_TEST(test_translate_hybrid)
{
        static const Expect all[] = {
                { S, 1, "cpuset.cpus", "0-4" },
                { S, 1, "cpuset.mems", "0" },
                { S, 1, "cpu.cfs_period_us", "100000" },
                { S, 1, "cpu.cfs_quota_us", "250000" },
                { S, 1, "cpu.shares", "2560" },
                { S, 1, "memory.limit_in_bytes", "2415919104" },
                { S, 1, "memory.memsw.limit_in_bytes", "3489660928" },
                { S, 2, "hugetlb.2MB.max", "6291456" },
                { S, 2, "hugetlb.2MB.rsvd.max", "6291456", .optional = true },
                { S, 2, "hugetlb.1GB.max", "max" },
                { S, 2, "hugetlb.1GB.rsvd.max", "max", .optional = true },
                { S, 1, "pids.max", "1100" },
                { VCPU, 1, "cpu.cfs_period_us", "100000" },
                { VCPU, 1, "cpu.cfs_quota_us", "200000" },
                { VCPU, 1, "cpu.shares", "2048" },
                { OVH, 1, "cpu.cfs_period_us", "50000" },
                { OVH, 1, "cpu.cfs_quota_us", "25000" },
                { OVH, 1, "cpu.shares", "512" },
        };
        static const Expect none[] = {
                { S, 1, "cpuset.cpus", "", .inherit = true },
                { S, 1, "cpuset.mems", "", .inherit = true },
                { S, 1, "cpu.cfs_period_us", "100000" },
                { S, 1, "cpu.cfs_quota_us", "-1" },
                { S, 1, "cpu.shares", "1024" },
                { S, 1, "memory.limit_in_bytes", "-1" },
                { S, 1, "memory.memsw.limit_in_bytes", "-1" },
                { S, 2, "hugetlb.2MB.max", "max" },
                { S, 2, "hugetlb.2MB.rsvd.max", "max", .optional = true },
                { S, 2, "hugetlb.1GB.max", "max" },
                { S, 2, "hugetlb.1GB.rsvd.max", "max", .optional = true },
                { S, 1, "pids.max", "max" },
                { VCPU, 1, "cpu.cfs_period_us", "100000" },
                { VCPU, 1, "cpu.cfs_quota_us", "-1" },
                { VCPU, 1, "cpu.shares", "1024" },
                { OVH, 1, "cpu.cfs_period_us", "100000" },
                { OVH, 1, "cpu.cfs_quota_us", "-1" },
                { OVH, 1, "cpu.shares", "1024" },
        };
        _cleanup_(resources_done) Resources total = {};

        combine_ok(&pod_all, &overhead_all, &total);
        translate_ok("hybrid", &pod_all, &overhead_all, &total, all, ELEMENTSOF(all));
        translate_ok("hybrid", NULL, NULL, NULL, none, ELEMENTSOF(none));
}
END_TEST

/* Quota without period, period without quota, and a cpuset given in a
 * non-canonical order. */
START_TEST(test_translate_partial_cpu)
{
        static char cpus[] = "3,0-2,7";
        static const Resources pod = { .cpu_quota = SET(150000) };
        static const Resources overhead = { .cpu_period = SET(20000) };
        static const Resources total = { .cpu_quota = SET(150000), .cpuset_cpus = cpus };
        static const Expect v1[] = {
                { S, 1, "cpuset.cpus", "0-3,7" },
                { S, 1, "cpuset.mems", "", .inherit = true },
                { S, 1, "cpu.cfs_period_us", "100000" },
                { S, 1, "cpu.cfs_quota_us", "150000" },
                { S, 1, "cpu.shares", "1024" },
                { S, 1, "memory.limit_in_bytes", "-1" },
                { S, 1, "memory.memsw.limit_in_bytes", "-1" },
                { S, 1, "hugetlb.2MB.limit_in_bytes", "-1" },
                { S, 1, "hugetlb.2MB.rsvd.limit_in_bytes", "-1", .optional = true },
                { S, 1, "pids.max", "max" },
                { VCPU, 1, "cpu.cfs_period_us", "100000" },
                { VCPU, 1, "cpu.cfs_quota_us", "150000" },
                { VCPU, 1, "cpu.shares", "1024" },
                { OVH, 1, "cpu.cfs_period_us", "20000" },
                { OVH, 1, "cpu.cfs_quota_us", "-1" },
                { OVH, 1, "cpu.shares", "1024" },
        };
        static const Expect v2[] = {
                { S, 2, "cpuset.cpus", "0-3,7" },
                { S, 2, "cpuset.mems", "" },
                { S, 2, "cpu.max", "150000 100000" },
                { S, 2, "cpu.weight", "100" },
                { S, 2, "memory.max", "max" },
                { S, 2, "memory.swap.max", "max" },
                { S, 2, "hugetlb.2MB.max", "max" },
                { S, 2, "hugetlb.2MB.rsvd.max", "max", .optional = true },
                { S, 2, "hugetlb.1GB.max", "max" },
                { S, 2, "hugetlb.1GB.rsvd.max", "max", .optional = true },
                { S, 2, "pids.max", "max" },
                { VCPU, 2, "cpu.max", "150000 100000" },
                { VCPU, 2, "cpu.weight", "100" },
                { OVH, 2, "cpu.max", "max 20000" },
                { OVH, 2, "cpu.weight", "100" },
        };

        translate_ok("v1", &pod, &overhead, &total, v1, ELEMENTSOF(v1));
        translate_ok("v2", &pod, &overhead, &total, v2, ELEMENTSOF(v2));
}
END_TEST

/* memory.swap.max on v2 and memsw on v1, with and without swap accounting. */
START_TEST(test_translate_swap)
{
        static const struct {
                const char *fixture;
                OptInt memory, swap;
                const char *file, *value;
                bool optional;
        } cases[] = {
                /* Swap accounting on (v2 fixture has memory.swap.max). */
                { "v2", {}, {}, "memory.swap.max", "max", false },
                { "v2", SET(GiB), {}, "memory.swap.max", "max", false },
                { "v2", SET(GiB), SET(GiB), "memory.swap.max", "0", false },
                { "v2", SET(GiB), SET(3 * GiB), "memory.swap.max", "2147483648", false },
                { "v1", SET(GiB), {}, "memory.memsw.limit_in_bytes", "-1", false },
                { "v1", SET(GiB), SET(GiB), "memory.memsw.limit_in_bytes", "1073741824", false },
                { "v1", SET(GiB), SET(3 * GiB), "memory.memsw.limit_in_bytes", "3221225472", false },
                /* Swap accounting off (v2-old lacks memory.swap.max): "no
                 * limit" and "no swap" become optional. */
                { "v2-old", {}, {}, "memory.swap.max", "max", true },
                { "v2-old", SET(GiB), {}, "memory.swap.max", "max", true },
                { "v2-old", SET(GiB), SET(GiB), "memory.swap.max", "0", true },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Resources total = { .memory_limit = cases[i].memory, .memory_swap = cases[i].swap };
                _cleanup_free_ CgroupWrite *w = NULL;
                const CgroupWrite *sw, *mem;
                HostProbe host = {};
                Error e = {};
                size_t n = 0;

                probe_fixture(cases[i].fixture, &host);
                ck_assert_msg(resources_translate(NULL, NULL, &total, &host, &w, &n, &e) == 0,
                              "case %zu: %s", i, e.message);
                sw = find_write(w, n, NODE_SANDBOX, cases[i].file);
                ck_assert_msg(sw, "case %zu: no %s", i, cases[i].file);
                ck_assert_msg(streq(sw->value, cases[i].value), "case %zu: %s=\"%s\", expected \"%s\"", i,
                              cases[i].file, sw->value, cases[i].value);
                ck_assert_msg(sw->optional == cases[i].optional, "case %zu: optional=%d", i, sw->optional);

                /* The memory limit comes first (v1: memory <= memsw on creation). */
                mem = find_write(w, n, NODE_SANDBOX,
                                 sw->version == 1 ? "memory.limit_in_bytes" : "memory.max");
                ck_assert_ptr_nonnull(mem);
                ck_assert_ptr_eq(mem + 1, sw);
                host_probe_done(&host);
        }
}
END_TEST

START_TEST(test_translate_swap_errors)
{
        static const struct {
                const char *fixture;
                OptInt memory, swap;
                GrpcCode code;
                const char *message;
        } cases[] = {
                /* A swap allowance cannot be enforced without accounting. */
                { "v2-old", SET(GiB), SET(2 * GiB), GRPC_FAILED_PRECONDITION, "swap accounting" },
                /* Unvalidated input is still refused. */
                { "v2", {}, SET(GiB), GRPC_INVALID_ARGUMENT, "without a memory limit" },
                { "v1", {}, SET(GiB), GRPC_INVALID_ARGUMENT, "without a memory limit" },
                { "v2", SET(2 * GiB), SET(GiB), GRPC_INVALID_ARGUMENT, "below the memory limit" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Resources total = { .memory_limit = cases[i].memory, .memory_swap = cases[i].swap };
                CgroupWrite *w = (CgroupWrite *) &total; /* must stay untouched */
                HostProbe host = {};
                Error e = {};
                size_t n = 42;
                int r;

                probe_fixture(cases[i].fixture, &host);
                r = resources_translate(NULL, NULL, &total, &host, &w, &n, &e);
                ck_assert_msg(r < 0, "case %zu: succeeded", i);
                ck_assert_msg(e.code == cases[i].code, "case %zu: code %d: %s", i, e.code, e.message);
                ck_assert_msg(strstr(e.message, cases[i].message), "case %zu: %s", i, e.message);
                ck_assert_ptr_eq(w, (CgroupWrite *) &total);
                ck_assert_uint_eq(n, 42);
                host_probe_done(&host);
        }
}
END_TEST

/* A host with cpu, memory and pids on cgroup2 and nothing else. */
static void host_minimal(HostProbe *p, char **sizes)
{
        *p = (HostProbe) {
                .mode = CGROUP_MODE_V2,
                .hugepage_sizes = sizes,
                .features.memory_swap = true,
        };
        p->controllers[CONTROLLER_CPU].version = 2;
        p->controllers[CONTROLLER_MEMORY].version = 2;
        p->controllers[CONTROLLER_PIDS].version = 2;
}

START_TEST(test_translate_missing_controllers)
{
        static const Expect x[] = {
                { S, 2, "cpu.max", "max 100000" },
                { S, 2, "cpu.weight", "100" },
                { S, 2, "memory.max", "max" },
                { S, 2, "memory.swap.max", "max" },
                { S, 2, "pids.max", "max" },
                { VCPU, 2, "cpu.max", "max 100000" },
                { VCPU, 2, "cpu.weight", "100" },
                { OVH, 2, "cpu.max", "max 100000" },
                { OVH, 2, "cpu.weight", "100" },
        };
        static HugepageLimit huge[] = { { size_2mb, 0 } };
        static const struct {
                Resources total;
                const char *message;
        } cases[] = {
                { { .cpuset_cpus = pod_cpus }, "resources.cpuset_cpus is set, but this host has no cpuset" },
                { { .cpuset_mems = mems }, "resources.cpuset_mems is set, but this host has no cpuset" },
                { { .hugepages = huge, .n_hugepages = 1 }, "resources.hugepage_limits is set, but this host "
                                                           "has no hugetlb" },
        };
        char *sizes[] = { size_2mb, NULL };
        _cleanup_free_ CgroupWrite *w = NULL;
        HostProbe host;
        Error e = {};
        size_t n = 0;

        /* Nothing asks for cpuset or hugetlb: they are skipped (even with
         * hugepage sizes on the host). */
        host_minimal(&host, sizes);
        ck_assert_int_eq(resources_translate(NULL, NULL, NULL, &host, &w, &n, &e), 0);
        assert_writes("minimal", w, n, x, ELEMENTSOF(x));

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ CgroupWrite *w2 = NULL;
                size_t n2 = 0;

                e = (Error) {};
                ck_assert_int_eq(resources_translate(NULL, NULL, &cases[i].total, &host, &w2, &n2, &e),
                                 -EOPNOTSUPP);
                ck_assert_int_eq(e.code, GRPC_FAILED_PRECONDITION);
                ck_assert_msg(strstr(e.message, cases[i].message), "case %zu: %s", i, e.message);
                ck_assert_ptr_null(w2);
        }

        /* No cpu controller: fine for empty resources, an error for a quota
         * of the overhead (named as such). */
        host.controllers[CONTROLLER_CPU].version = 0;
        {
                _cleanup_free_ CgroupWrite *w3 = NULL;
                static const Resources quota = { .cpu_quota = SET(50000) };
                size_t n3 = 0;

                e = (Error) {};
                ck_assert_int_eq(resources_translate(NULL, NULL, NULL, &host, &w3, &n3, &e), 0);
                ck_assert_uint_eq(n3, 3);
                ck_assert_str_eq(w3[0].file, "memory.max");
                free(w3);
                w3 = NULL;

                ck_assert_int_eq(resources_translate(NULL, &quota, NULL, &host, &w3, &n3, &e), -EOPNOTSUPP);
                ck_assert_str_eq(e.message,
                                 "overhead.cpu_quota is set, but this host has no cpu controller");
        }
}
END_TEST

/* A limit for a size the host does not have (validation would have said so). */
START_TEST(test_translate_unknown_hugepage_size)
{
        static HugepageLimit huge[] = { { size_1gb, GiB } };
        static const Resources total = { .hugepages = huge, .n_hugepages = 1 };
        _cleanup_free_ CgroupWrite *w = NULL;
        HostProbe host = {};
        Error e = {};
        size_t n = 0;

        probe_fixture("v1", &host); /* 2MB only */
        ck_assert_int_eq(resources_translate(NULL, NULL, &total, &host, &w, &n, &e), -EOPNOTSUPP);
        ck_assert_int_eq(e.code, GRPC_FAILED_PRECONDITION);
        ck_assert_str_eq(e.message,
                         "resources.hugepage_limits[0].page_size: this host has no 1GB hugepages");
        host_probe_done(&host);
}
END_TEST

/* Every other CPU of 8192 is a valid list far longer than one write. */
START_TEST(test_translate_long_cpuset)
{
        _cleanup_free_ char *list = NULL;
        _cleanup_free_ CgroupWrite *w = NULL;
        Resources total = {};
        CpuSet set = {};
        HostProbe host = {};
        Error e = {};
        size_t n = 0;

        for (unsigned i = 0; i < CPUSET_MAX; i += 2)
                set.bits[i / 64] |= UINT64_C(1) << (i % 64);
        ck_assert_int_eq(cpuset_format(&set, &list), 0);
        ck_assert_uint_gt(strlen(list), CGROUP_WRITE_VALUE_MAX);
        total.cpuset_cpus = list;

        probe_fixture("v2", &host);
        ck_assert_int_eq(resources_validate(&total, "resources", &host, &e), 0);
        ck_assert_int_eq(resources_translate(NULL, NULL, &total, &host, &w, &n, &e), -E2BIG);
        ck_assert_int_eq(e.code, GRPC_INVALID_ARGUMENT);
        ck_assert_msg(strstr(e.message, "cpuset.cpus"), "%s", e.message);
        host_probe_done(&host);
}
END_TEST

START_TEST(test_sandbox_node_names)
{
        ck_assert_str_eq(sandbox_node_to_string(NODE_SANDBOX), "");
        ck_assert_str_eq(sandbox_node_to_string(NODE_VCPU), "vcpu");
        ck_assert_str_eq(sandbox_node_to_string(NODE_POD_OVERHEAD), "pod_overhead");
        ck_assert_ptr_null(sandbox_node_to_string(_NODE_MAX));
        ck_assert_ptr_null(sandbox_node_to_string((SandboxNode) -1));
}
END_TEST

/* ---------------------------------------------------------------------------
 * Conversions */

static const struct {
        uint64_t shares, weight;
} weight_vectors[] = {
        /* notes §1.2 */
        { 2, 1 },
        { 10, 4 },
        { 100, 17 },
        { 256, 35 },
        { 512, 59 },
        { 1024, 100 },
        { 2048, 174 },
        { 4096, 303 },
        { 8192, 532 },
        { 262144, 10000 },
        /* the edges */
        { 0, 0 },
        { 1, 1 },
        { 3, 2 },
        { 2560, 208 },
        { 262143, 10000 },
        { 1000000, 10000 },
        { UINT64_MAX, 10000 },
};

START_TEST(test_shares_to_weight)
{
        ck_assert_msg(cpu_shares_to_weight(weight_vectors[_i].shares) == weight_vectors[_i].weight,
                      "%" PRIu64 " shares: weight %" PRIu64 ", expected %" PRIu64, weight_vectors[_i].shares,
                      cpu_shares_to_weight(weight_vectors[_i].shares), weight_vectors[_i].weight);
}
END_TEST

/* Every valid share count maps into cpu.weight's range, monotonically. */
START_TEST(test_shares_to_weight_range)
{
        uint64_t last = 1;

        for (uint64_t s = 2; s <= 262144; s++) {
                uint64_t w = cpu_shares_to_weight(s);

                ck_assert_msg(w >= last && w <= 10000, "%" PRIu64 " shares: weight %" PRIu64, s, w);
                last = w;
        }
}
END_TEST

START_TEST(test_memory_swap_to_v2)
{
        static const struct {
                OptInt memory, swap;
                int ret;
                int64_t swap_v2;
        } cases[] = {
                { {}, {}, 0, -1 },                        /* both unlimited */
                { SET(GiB), {}, 0, -1 },                  /* unset swap: no limit */
                { SET(GiB), SET(GiB), 0, 0 },             /* equal: no swap */
                { SET(GiB), SET(GiB + 4096), 0, 4096 },   /* the difference */
                { SET(1), SET(INT64_MAX), 0, INT64_MAX - 1 },
                { {}, SET(GiB), -EINVAL, 0 },             /* swap without memory */
                { SET(2 * GiB), SET(GiB), -EINVAL, 0 },   /* swap < memory */
                { SET(-1), SET(GiB), -EINVAL, 0 },        /* negative memory */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int64_t swap = 12345;
                Error e = {};
                int r;

                r = memory_swap_to_v2(&cases[i].memory, &cases[i].swap, &swap, &e);
                ck_assert_msg(r == cases[i].ret, "case %zu: %d", i, r);
                if (r == 0) {
                        ck_assert_msg(swap == cases[i].swap_v2, "case %zu: %" PRIi64, i, swap);
                        ck_assert(!error_is_set(&e));
                } else {
                        ck_assert_int_eq(e.code, GRPC_INVALID_ARGUMENT);
                        ck_assert_msg(strstr(e.message, "memory"), "case %zu: %s", i, e.message);
                }
        }
}
END_TEST

/* ---------------------------------------------------------------------------
 * cpuset lists */

START_TEST(test_cpuset_parse_format)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "", "" },
                { "0", "0" },
                { "0-3,6", "0-3,6" },
                { "0,1,2,3", "0-3" },
                { "0-1", "0-1" },
                { "6,0-3", "0-3,6" },
                { "2-5,0-3", "0-5" },
                { "007", "7" },
                { "8191", "8191" },
                { "0-8191", "0-8191" },
                { "1,3,5-7,63-64,127", "1,3,5-7,63-64,127" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL;
                CpuSet set;

                ck_assert_msg(cpuset_parse(cases[i].in, &set) == 0, "\"%s\"", cases[i].in);
                ck_assert_int_eq(cpuset_format(&set, &s), 0);
                ck_assert_msg(streq(s, cases[i].out), "\"%s\" -> \"%s\", expected \"%s\"", cases[i].in, s,
                              cases[i].out);
                ck_assert(cpuset_is_empty(&set) == (cases[i].out[0] == '\0'));
        }
}
END_TEST

START_TEST(test_cpuset_parse_bad)
{
        static const struct {
                const char *in;
                int ret;
        } cases[] = {
                { ",", -EINVAL },    { "1,", -EINVAL },      { ",1", -EINVAL },   { "1,,2", -EINVAL },
                { "3-1", -EINVAL },  { "1-", -EINVAL },      { "-1", -EINVAL },   { "1-2-3", -EINVAL },
                { "a", -EINVAL },    { "1 ", -EINVAL },      { " 1", -EINVAL },   { "0x1", -EINVAL },
                { "1\n", -EINVAL },  { "0-3:2/4", -EINVAL }, { "8192", -ERANGE }, { "0-8192", -ERANGE },
                { "99999999999999999999999", -ERANGE },
        };
        CpuSet set = {};

        ck_assert_int_eq(cpuset_parse(NULL, &set), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ck_assert_msg(cpuset_parse(cases[i].in, &set) == cases[i].ret, "\"%s\"", cases[i].in);
}
END_TEST

START_TEST(test_cpuset_sets)
{
        CpuSet a, b, empty = {};

        ck_assert_int_eq(cpuset_parse("0-3,8", &a), 0);
        ck_assert_int_eq(cpuset_parse("0-15", &b), 0);
        ck_assert(cpuset_is_subset(&a, &b));
        ck_assert(!cpuset_is_subset(&b, &a));
        ck_assert(cpuset_is_subset(&a, &a));
        ck_assert(cpuset_is_subset(&empty, &a));
        ck_assert(!cpuset_is_subset(&a, &empty));
        ck_assert(cpuset_is_empty(&empty));
        ck_assert(!cpuset_is_empty(&a));

        ck_assert_int_eq(cpuset_parse("100,8191", &b), 0);
        ck_assert(!cpuset_is_subset(&a, &b));
        cpuset_union(&a, &b);
        {
                _cleanup_free_ char *s = NULL;

                ck_assert_int_eq(cpuset_format(&a, &s), 0);
                ck_assert_str_eq(s, "0-3,8,100,8191");
        }
        ck_assert(cpuset_is_subset(&b, &a));
}
END_TEST

/* ---------------------------------------------------------------------------
 * Validation */

static HugepageLimit huge_ok[] = { { size_2mb, 0 }, { size_1gb, 2 * GiB } };
static HugepageLimit huge_unknown[] = { { size_4mb, 4 * MiB } };
static HugepageLimit huge_bad_name[] = { { size_bad, 2 * MiB } };
static HugepageLimit huge_null_name[] = { { NULL, 2 * MiB } };
static HugepageLimit huge_repeated[] = { { size_2mb, 2 * MiB }, { size_1gb, GiB }, { size_2mb, 4 * MiB } };
static HugepageLimit huge_not_multiple[] = { { size_2mb, 3 * MiB } };
static char list_empty[] = "", list_reversed[] = "3-1", list_letter[] = "a", list_trailing[] = "1,",
            list_too_big[] = "8192";

static const struct {
        Resources r;
        const char *message;
} bad_resources[] = {
        { { .cpu_period = SET(999) },
          "resources.cpu_period: 999 is out of range, must be 1000..1000000 µs" },
        { { .cpu_period = SET(1000001) }, "resources.cpu_period: 1000001 is out of range" },
        { { .cpu_period = SET(0) }, "resources.cpu_period: 0 is not a limit; leave the field unset" },
        { { .cpu_quota = SET(0) },
          "resources.cpu_quota: 0 is not a limit; leave the field unset for no limit" },
        { { .cpu_quota = SET(-1) }, "resources.cpu_quota: -1 is not a limit; leave the field unset" },
        { { .cpu_quota = SET(999) },
          "resources.cpu_quota: 999 is out of range, must be 1000..17592186044415 µs" },
        { { .cpu_quota = SET(CPU_QUOTA_MAX + 1) }, "resources.cpu_quota: 17592186044416 is out of range" },
        { { .cpu_quota = SET(INT64_MAX) }, "resources.cpu_quota: 9223372036854775807 is out of range" },
        { { .cpu_shares = SET(0) }, "resources.cpu_shares: 0 is not a limit; leave the field unset" },
        { { .cpu_shares = SET(1) }, "resources.cpu_shares: 1 is out of range, must be 2..262144" },
        { { .cpu_shares = SET(262145) }, "resources.cpu_shares: 262145 is out of range" },
        { { .cpuset_cpus = list_empty }, "resources.cpuset_cpus: the list is empty; leave the field unset" },
        { { .cpuset_cpus = list_reversed }, "resources.cpuset_cpus: \"3-1\" is not a list" },
        { { .cpuset_cpus = list_letter }, "resources.cpuset_cpus: \"a\" is not a list such as \"0-3,6\"" },
        { { .cpuset_cpus = list_trailing }, "resources.cpuset_cpus: \"1,\" is not a list" },
        { { .cpuset_cpus = list_too_big },
          "resources.cpuset_cpus: \"8192\" names an index of 8192 or more" },
        { { .cpuset_mems = list_letter }, "resources.cpuset_mems: \"a\" is not a list" },
        { { .memory_limit = SET(0) },
          "resources.memory_limit_in_bytes: 0 is not a limit; leave the field unset" },
        { { .memory_limit = SET(-1) }, "resources.memory_limit_in_bytes: -1 is not a limit" },
        { { .memory_swap = SET(GiB) },
          "resources.memory_swap_limit_in_bytes: unable to set a swap limit (1073741824) "
          "without a memory limit" },
        { { .memory_limit = SET(2 * GiB), .memory_swap = SET(GiB) },
          "resources.memory_swap_limit_in_bytes: 1073741824 is below memory_limit_in_bytes 2147483648" },
        { { .memory_limit = SET(GiB), .memory_swap = SET(-1) },
          "resources.memory_swap_limit_in_bytes: -1 is below memory_limit_in_bytes" },
        { { .hugepages = huge_unknown, .n_hugepages = 1 },
          "resources.hugepage_limits[0].page_size: this host has no 4MB hugepages" },
        { { .hugepages = huge_bad_name, .n_hugepages = 1 },
          "resources.hugepage_limits[0].page_size: \"2M\" is not a page size such as \"2MB\"" },
        { { .hugepages = huge_null_name, .n_hugepages = 1 },
          "resources.hugepage_limits[0].page_size: \"\" is not a page size" },
        { { .hugepages = huge_repeated, .n_hugepages = ELEMENTSOF(huge_repeated) },
          "resources.hugepage_limits[2].page_size: 2MB is already limited by hugepage_limits[0]" },
        { { .hugepages = huge_not_multiple, .n_hugepages = 1 },
          "resources.hugepage_limits[0].limit: 3145728 is not a multiple of the page size 2MB "
          "(2097152 bytes); the kernel would round it down" },
        { { .pids_limit = SET(0) }, "resources.pids_limit: 0 is not a limit; leave the field unset" },
        { { .pids_limit = SET(-1) }, "resources.pids_limit: -1 is not a limit" },
        { { .pids_limit = SET(4194305) },
          "resources.pids_limit: 4194305 is out of range, must be 1..4194304" },
};

START_TEST(test_validate_bad)
{
        HostProbe host = {};
        Error e = {};

        probe_fixture("v2", &host); /* 2MB and 1GB */
        ck_assert_int_eq(resources_validate(&bad_resources[_i].r, "resources", &host, &e), -EINVAL);
        ck_assert_int_eq(e.code, GRPC_INVALID_ARGUMENT);
        ck_assert_int_eq(e.errnum, EINVAL);
        ck_assert_msg(strncmp(e.message, bad_resources[_i].message, strlen(bad_resources[_i].message)) == 0,
                      "message \"%s\", expected \"%s...\"", e.message, bad_resources[_i].message);
        host_probe_done(&host);
}
END_TEST

START_TEST(test_validate_good)
{
        static char cpus[] = "0-3,6", mems0[] = "0";
        static const Resources good[] = {
                {},
                { .cpu_period = SET(1000), .cpu_quota = SET(1000), .cpu_shares = SET(2) },
                { .cpu_period = SET(1000000), .cpu_quota = SET(CPU_QUOTA_MAX), .cpu_shares = SET(262144) },
                { .cpu_quota = SET(50000) }, /* no period: 100000 */
                { .cpuset_cpus = cpus, .cpuset_mems = mems0 },
                { .memory_limit = SET(1) },
                { .memory_limit = SET(GiB), .memory_swap = SET(GiB) },
                { .memory_limit = SET(GiB), .memory_swap = SET(INT64_MAX) },
                { .hugepages = huge_ok, .n_hugepages = ELEMENTSOF(huge_ok) },
                { .pids_limit = SET(1) },
                { .pids_limit = SET(4194304) },
        };
        HostProbe host = {};

        probe_fixture("v2", &host);
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                Error e = {};

                ck_assert_msg(resources_validate(&good[i], "resources", &host, &e) == 0, "case %zu: %s", i,
                              e.message);
        }
        host_probe_done(&host);
}
END_TEST

START_TEST(test_validate_names)
{
        static const Resources quota = { .cpu_quota = SET(-1) };
        static const Resources gb = { .hugepages = huge_ok, .n_hugepages = ELEMENTSOF(huge_ok) };
        HostProbe host = {};
        Error e = {};

        /* The part is named. */
        ck_assert_int_eq(resources_validate(&quota, "overhead", NULL, &e), -EINVAL);
        ck_assert_str_eq(e.message,
                         "overhead.cpu_quota: -1 is not a limit; leave the field unset for no limit");

        /* v1 fixture: 2MB only. Without a host the sizes are not checked. */
        probe_fixture("v1", &host);
        e = (Error) {};
        ck_assert_int_eq(resources_validate(&gb, "resources", &host, &e), -EINVAL);
        ck_assert_str_eq(e.message,
                         "resources.hugepage_limits[1].page_size: this host has no 1GB hugepages");
        e = (Error) {};
        ck_assert_int_eq(resources_validate(&gb, "resources", NULL, &e), 0);
        host_probe_done(&host);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Totals */

START_TEST(test_combine_all)
{
        _cleanup_(resources_done) Resources t = {};

        combine_ok(&pod_all, &overhead_all, &t);
        ck_assert(t.cpu_period.set && t.cpu_period.value == 100000);
        ck_assert(t.cpu_quota.set && t.cpu_quota.value == 250000);
        ck_assert(t.cpu_shares.set && t.cpu_shares.value == 2560);
        ck_assert_str_eq(t.cpuset_cpus, "0-4");
        ck_assert_str_eq(t.cpuset_mems, "0");
        ck_assert(t.memory_limit.set && t.memory_limit.value == 2 * GiB + 256 * MiB);
        ck_assert(t.memory_swap.set && t.memory_swap.value == 3 * GiB + 256 * MiB);
        ck_assert_uint_eq(t.n_hugepages, 1);
        ck_assert_str_eq(t.hugepages[0].page_size, "2MB");
        ck_assert_uint_eq(t.hugepages[0].limit, 6 * MiB);
        ck_assert(t.pids_limit.set && t.pids_limit.value == 1100);
}
END_TEST

START_TEST(test_combine_quota_periods)
{
        static const struct {
                OptInt p_res, q_res, p_ovh, q_ovh;
                bool set;
                int64_t quota;
        } cases[] = {
                /* same period: plain sum */
                { SET(100000), SET(200000), SET(100000), SET(50000), true, 250000 },
                /* 10000 / 30000 at 100000 = 33333.3, rounded up */
                { SET(100000), SET(50000), SET(30000), SET(10000), true, 83334 },
                /* exact: no rounding */
                { SET(100000), SET(50000), SET(50000), SET(10000), true, 70000 },
                /* unset periods are 100000 */
                { {}, SET(1000), SET(1000000), SET(1000), true, 1100 },
                { SET(1000000), SET(1000), {}, SET(1000), true, 11000 },
                { {}, SET(1000), {}, SET(1000), true, 2000 },
                /* a short pod period: 1000 / 7000 at 1000 = 142.86 */
                { SET(1000), SET(1000), SET(7000), SET(1000), true, 1143 },
                /* unset in the pod: no limit; in the overhead: adds nothing */
                { SET(100000), {}, SET(100000), SET(50000), false, 0 },
                { SET(100000), SET(50000), SET(100000), {}, true, 50000 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Resources pod = { .cpu_period = cases[i].p_res, .cpu_quota = cases[i].q_res };
                Resources ovh = { .cpu_period = cases[i].p_ovh, .cpu_quota = cases[i].q_ovh };
                _cleanup_(resources_done) Resources t = {};

                combine_ok(&pod, &ovh, &t);
                ck_assert_msg(t.cpu_quota.set == cases[i].set, "case %zu: set=%d", i, t.cpu_quota.set);
                if (cases[i].set)
                        ck_assert_msg(t.cpu_quota.value == cases[i].quota, "case %zu: quota %" PRIi64, i,
                                      t.cpu_quota.value);
                /* The total is at the pod's period. */
                ck_assert(t.cpu_period.set == pod.cpu_period.set);
                ck_assert(!t.cpu_period.set || t.cpu_period.value == pod.cpu_period.value);
        }
}
END_TEST

START_TEST(test_combine_unset_one_side)
{
        static char cpus[] = "0-1";
        static HugepageLimit pod_huge[] = { { size_2mb, 2 * MiB }, { size_1gb, GiB } };
        static HugepageLimit ovh_huge[] = { { size_1gb, GiB } };
        static const Resources pod = {
                .cpu_shares = SET(1024),
                .cpuset_cpus = cpus,
                .memory_limit = SET(GiB),
                .memory_swap = SET(2 * GiB),
                .hugepages = pod_huge,
                .n_hugepages = ELEMENTSOF(pod_huge),
                .pids_limit = SET(10),
        };
        static const Resources ovh = {
                .cpuset_mems = cpus,
                .memory_limit = SET(GiB),
                .hugepages = ovh_huge,
                .n_hugepages = ELEMENTSOF(ovh_huge),
        };
        _cleanup_(resources_done) Resources t = {}, t2 = {};

        /* Unset in the overhead: it adds nothing. */
        combine_ok(&pod, &ovh, &t);
        ck_assert(t.cpu_shares.set && t.cpu_shares.value == 1024);
        ck_assert_str_eq(t.cpuset_cpus, "0-1");
        ck_assert(t.memory_limit.set && t.memory_limit.value == 2 * GiB);
        /* The overhead's memory counts as memory + swap (no swap). */
        ck_assert(t.memory_swap.set && t.memory_swap.value == 3 * GiB);
        ck_assert_uint_eq(t.n_hugepages, 2);
        ck_assert_str_eq(t.hugepages[0].page_size, "2MB");
        ck_assert_uint_eq(t.hugepages[0].limit, 2 * MiB);
        ck_assert_str_eq(t.hugepages[1].page_size, "1GB");
        ck_assert_uint_eq(t.hugepages[1].limit, 2 * GiB);
        ck_assert(t.pids_limit.set && t.pids_limit.value == 10);
        /* Unset in the pod: no limit on the sandbox, whatever the overhead. */
        ck_assert_ptr_null(t.cpuset_mems);

        /* The other way round: nothing the pod leaves open is limited. */
        {
                _cleanup_(resources_done) Resources t3 = {};

                combine_ok(&ovh, &pod, &t3);
                ck_assert(!t3.cpu_shares.set);
                ck_assert_ptr_null(t3.cpuset_cpus);
                ck_assert_str_eq(t3.cpuset_mems, "0-1");
                ck_assert(t3.memory_limit.set && t3.memory_limit.value == 2 * GiB);
                ck_assert(!t3.memory_swap.set);
                ck_assert_uint_eq(t3.n_hugepages, 1);
                ck_assert_str_eq(t3.hugepages[0].page_size, "1GB");
                ck_assert(!t3.pids_limit.set);
        }

        /* Nothing set anywhere: nothing set in the total. */
        {
                static const Resources none = {};

                combine_ok(&none, &none, &t2);
                ck_assert(resources_equal(&t2, &none));
        }
}
END_TEST

START_TEST(test_combine_cpuset_union)
{
        static char a[] = "0-3,8", b[] = "2-5,10", m0[] = "0", m1[] = "1";
        static const Resources pod = { .cpuset_cpus = a, .cpuset_mems = m0 };
        static const Resources ovh = { .cpuset_cpus = b, .cpuset_mems = m1 };
        _cleanup_(resources_done) Resources t = {};

        combine_ok(&pod, &ovh, &t);
        ck_assert_str_eq(t.cpuset_cpus, "0-5,8,10");
        ck_assert_str_eq(t.cpuset_mems, "0-1");
}
END_TEST

/* Shares and pids saturate at the kernel's maximum. */
START_TEST(test_combine_saturate)
{
        static const Resources pod = { .cpu_shares = SET(262144), .pids_limit = SET(4194304) };
        static const Resources ovh = { .cpu_shares = SET(1024), .pids_limit = SET(100) };
        _cleanup_(resources_done) Resources t = {};

        combine_ok(&pod, &ovh, &t);
        ck_assert(t.cpu_shares.set && t.cpu_shares.value == 262144);
        ck_assert(t.pids_limit.set && t.pids_limit.value == 4194304);
}
END_TEST

START_TEST(test_combine_overflow)
{
        static HugepageLimit big[] = { { size_2mb, UINT64_MAX - 2 * MiB + 1 } };
        static HugepageLimit two[] = { { size_2mb, 2 * MiB } };
        static const struct {
                Resources pod, ovh;
                const char *message;
        } cases[] = {
                { { .memory_limit = SET(INT64_MAX) }, { .memory_limit = SET(1) }, "memory_limit_in_bytes" },
                { { .memory_limit = SET(1), .memory_swap = SET(INT64_MAX) },
                  { .memory_limit = SET(1), .memory_swap = SET(1) },
                  "memory_swap_limit_in_bytes" },
                { { .hugepages = big, .n_hugepages = 1 }, { .hugepages = two, .n_hugepages = 1 }, "2MB" },
                /* q_ovh * p_res overflows 64 bits */
                { { .cpu_period = SET(1000000), .cpu_quota = SET(1000) },
                  { .cpu_period = SET(1000), .cpu_quota = SET(CPU_QUOTA_MAX) },
                  "cpu_quota" },
                /* no overflow, but beyond the kernel's maximum */
                { { .cpu_quota = SET(CPU_QUOTA_MAX) }, { .cpu_quota = SET(1000) }, "kernel's maximum" },
                { { .pids_limit = SET(INT64_MAX) }, { .pids_limit = SET(1) }, "pids_limit" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Resources t = { .pids_limit = SET(7) }; /* must stay untouched */
                Error e = {};

                ck_assert_int_eq(resources_combine(&cases[i].pod, &cases[i].ovh, &t, &e), -ERANGE);
                ck_assert_int_eq(e.code, GRPC_OUT_OF_RANGE);
                ck_assert_msg(strstr(e.message, cases[i].message), "case %zu: %s", i, e.message);
                ck_assert(t.pids_limit.set && t.pids_limit.value == 7 && !t.cpu_quota.set);
        }
}
END_TEST

/* ---------------------------------------------------------------------------
 * The model */

START_TEST(test_copy_equal_done)
{
        _cleanup_(resources_done) Resources c = {}, d = {};
        static HugepageLimit swapped[] = { { size_1gb, GiB }, { size_2mb, 2 * MiB } };
        static HugepageLimit ordered[] = { { size_2mb, 2 * MiB }, { size_1gb, GiB } };
        Resources a = { .hugepages = ordered, .n_hugepages = 2 };
        Resources b = { .hugepages = swapped, .n_hugepages = 2 };

        ck_assert_int_eq(resources_copy(&pod_all, &c), 0);
        ck_assert(resources_equal(&c, &pod_all));
        ck_assert_ptr_ne(c.cpuset_cpus, pod_all.cpuset_cpus);
        ck_assert_ptr_ne(c.hugepages, pod_all.hugepages);
        ck_assert_ptr_ne(c.hugepages[0].page_size, pod_all.hugepages[0].page_size);

        c.memory_swap.value++;
        ck_assert(!resources_equal(&c, &pod_all));
        c.memory_swap.value--;
        c.hugepages[0].limit += 2 * MiB;
        ck_assert(!resources_equal(&c, &pod_all));
        c.hugepages[0].limit -= 2 * MiB;
        free(c.cpuset_mems);
        c.cpuset_mems = NULL;
        ck_assert(!resources_equal(&c, &pod_all));

        /* The value of an unset field does not matter; hugepage order neither. */
        {
                Resources x = { .cpu_quota = { false, 5 } }, y = { .cpu_quota = { false, 7 } };

                ck_assert(resources_equal(&x, &y));
                ck_assert(resources_equal(&a, &b));
                b.n_hugepages = 1;
                ck_assert(!resources_equal(&a, &b));
        }

        ck_assert_int_eq(resources_copy(&overhead_all, &d), 0);
        resources_done(&d);
        ck_assert(resources_equal(&d, &(Resources) {}));
        resources_done(&d); /* zeroed: fine again */
        resources_done(NULL);
}
END_TEST

static Suite *resources_suite(void)
{
        Suite *s = suite_create("resources");
        TCase *tc;

        tc = tcase_create("translate");
        tcase_add_test(tc, test_translate_v1_nothing_set);
        tcase_add_test(tc, test_translate_v1_all_set);
        tcase_add_test(tc, test_translate_v2_nothing_set);
        tcase_add_test(tc, test_translate_v2_all_set);
        tcase_add_test(tc, test_translate_hybrid);
        tcase_add_test(tc, test_translate_partial_cpu);
        tcase_add_test(tc, test_translate_swap);
        tcase_add_test(tc, test_translate_swap_errors);
        tcase_add_test(tc, test_translate_missing_controllers);
        tcase_add_test(tc, test_translate_unknown_hugepage_size);
        tcase_add_test(tc, test_translate_long_cpuset);
        tcase_add_test(tc, test_sandbox_node_names);
        suite_add_tcase(s, tc);

        tc = tcase_create("convert");
        tcase_add_loop_test(tc, test_shares_to_weight, 0, (int) ELEMENTSOF(weight_vectors));
        tcase_add_test(tc, test_shares_to_weight_range);
        tcase_add_test(tc, test_memory_swap_to_v2);
        suite_add_tcase(s, tc);

        tc = tcase_create("cpuset");
        tcase_add_test(tc, test_cpuset_parse_format);
        tcase_add_test(tc, test_cpuset_parse_bad);
        tcase_add_test(tc, test_cpuset_sets);
        suite_add_tcase(s, tc);

        tc = tcase_create("validate");
        tcase_add_loop_test(tc, test_validate_bad, 0, (int) ELEMENTSOF(bad_resources));
        tcase_add_test(tc, test_validate_good);
        tcase_add_test(tc, test_validate_names);
        suite_add_tcase(s, tc);

        tc = tcase_create("combine");
        tcase_add_test(tc, test_combine_all);
        tcase_add_test(tc, test_combine_quota_periods);
        tcase_add_test(tc, test_combine_unset_one_side);
        tcase_add_test(tc, test_combine_cpuset_union);
        tcase_add_test(tc, test_combine_saturate);
        tcase_add_test(tc, test_combine_overflow);
        suite_add_tcase(s, tc);

        tc = tcase_create("model");
        tcase_add_test(tc, test_copy_equal_done);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(resources_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
