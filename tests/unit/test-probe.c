/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "daemon/cgroup/probe.h"

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must name tests/unit/fixtures"
#endif

#define CGROUP_ROOT "/sys/fs/cgroup"

static int probe_fixture(const char *name, const char *cgroup_root, HostProbe *ret, Error *e)
{
        char prefix[PATH_MAX];

        ck_assert_int_lt(snprintf(prefix, sizeof prefix, "%s/%s", FIXTURE_DIR, name), (int) sizeof prefix);
        return host_probe(prefix, cgroup_root, ret, e);
}

static void probe_fixture_ok(const char *name, HostProbe *ret)
{
        Error e = {};
        int r;

        r = probe_fixture(name, CGROUP_ROOT, ret, &e);
        ck_assert_msg(r == 0, "probing fixture %s: %s (%s)", name, e.message, strerror(-r));
        ck_assert(!error_is_set(&e));
}

static void assert_controller(const char *fixture, const HostProbe *p, Controller c, int version,
                              const char *mount_point, const char *mount_root, bool enabled)
{
        const ControllerMount *cm = &p->controllers[c];
        const char *name = controller_to_string(c);

        ck_assert_msg(cm->version == version, "%s: %s: version %d, expected %d", fixture, name, cm->version,
                      version);
        ck_assert_msg(streq_ptr(cm->mount_point, mount_point), "%s: %s: mount point %s, expected %s",
                      fixture, name, strna(cm->mount_point), strna(mount_point));
        ck_assert_msg(streq_ptr(cm->mount_root, mount_root), "%s: %s: mount root %s, expected %s", fixture,
                      name, strna(cm->mount_root), strna(mount_root));
        ck_assert_msg(cm->enabled == enabled, "%s: %s: enabled %d, expected %d", fixture, name, cm->enabled,
                      enabled);
}

#define assert_unavailable(fixture, p, c) assert_controller(fixture, p, c, 0, NULL, NULL, false)

/* Compares the NULL-terminated list with the expected one, in order. */
static void assert_hugepages(const char *fixture, const HostProbe *p, const char *const *expected)
{
        size_t i = 0;

        ck_assert_msg(p->hugepage_sizes, "%s: hugepage_sizes is NULL", fixture);
        for (; expected[i]; i++) {
                ck_assert_msg(p->hugepage_sizes[i], "%s: only %zu hugepage sizes, expected %s next", fixture,
                              i, expected[i]);
                ck_assert_msg(streq(p->hugepage_sizes[i], expected[i]),
                              "%s: hugepage size %zu is %s, expected %s", fixture, i, p->hugepage_sizes[i],
                              expected[i]);
        }
        ck_assert_msg(!p->hugepage_sizes[i], "%s: unexpected extra hugepage size %s", fixture,
                      strna(p->hugepage_sizes[i]));
}

/* "2MB" → bytes, to check the ordering of whatever the host has. */
static uint64_t hugepage_size_bytes(const char *s)
{
        char *end;
        uint64_t n = strtoull(s, &end, 10);

        if (streq(end, "KB"))
                return n << 10;
        if (streq(end, "MB"))
                return n << 20;
        if (streq(end, "GB"))
                return n << 30;
        ck_abort_msg("unexpected hugepage size name %s", s);
        return 0;
}

/* ------------------------------------------------------------------------ */

START_TEST(test_mode_strings)
{
        for (CgroupMode m = 0; m < _CGROUP_MODE_MAX; m++) {
                ck_assert_ptr_nonnull(cgroup_mode_to_string(m));
                ck_assert_int_eq(cgroup_mode_from_string(cgroup_mode_to_string(m)), m);
        }
        ck_assert_str_eq(cgroup_mode_to_string(CGROUP_MODE_UNKNOWN), "unknown");
        ck_assert_str_eq(cgroup_mode_to_string(CGROUP_MODE_V1), "v1");
        ck_assert_str_eq(cgroup_mode_to_string(CGROUP_MODE_V2), "v2");
        ck_assert_str_eq(cgroup_mode_to_string(CGROUP_MODE_HYBRID), "hybrid");
        ck_assert_ptr_null(cgroup_mode_to_string(_CGROUP_MODE_MAX));
        ck_assert_ptr_null(cgroup_mode_to_string(_CGROUP_MODE_INVALID));
        ck_assert_int_eq(cgroup_mode_from_string("V2"), _CGROUP_MODE_INVALID);
        ck_assert_int_eq(cgroup_mode_from_string(""), _CGROUP_MODE_INVALID);
        ck_assert_int_eq(cgroup_mode_from_string(NULL), _CGROUP_MODE_INVALID);
}
END_TEST

START_TEST(test_controller_strings)
{
        static const char *const names[_CONTROLLER_MAX] = {
                "cpu", "cpuacct", "cpuset", "memory", "hugetlb", "pids", "freezer", "io", "devices",
        };

        FOREACH_CONTROLLER(c) {
                ck_assert_str_eq(controller_to_string(c), names[c]);
                ck_assert_int_eq(controller_from_string(names[c]), c);
                ck_assert_int_eq(controller_from_string(controller_to_v1_string(c)), c);
        }
        ck_assert_str_eq(controller_to_v1_string(CONTROLLER_IO), "blkio");
        ck_assert_str_eq(controller_to_v1_string(CONTROLLER_CPU), "cpu");
        ck_assert_int_eq(controller_from_string("blkio"), CONTROLLER_IO);
        ck_assert_ptr_null(controller_to_string(_CONTROLLER_MAX));
        ck_assert_ptr_null(controller_to_string(_CONTROLLER_INVALID));
        ck_assert_ptr_null(controller_to_v1_string(_CONTROLLER_MAX));
        ck_assert_int_eq(controller_from_string("name=systemd"), _CONTROLLER_INVALID);
        ck_assert_int_eq(controller_from_string("net_cls"), _CONTROLLER_INVALID);
        ck_assert_int_eq(controller_from_string("cpu,cpuacct"), _CONTROLLER_INVALID);
        ck_assert_int_eq(controller_from_string("cp"), _CONTROLLER_INVALID);
        ck_assert_int_eq(controller_from_string(""), _CONTROLLER_INVALID);
        ck_assert_int_eq(controller_from_string(NULL), _CONTROLLER_INVALID);
}
END_TEST

START_TEST(test_kernel_release_parse)
{
        static const struct {
                const char *release;
                int r;
                unsigned major, minor;
        } vectors[] = {
                { "6.18.44-fc-v595", 0, 6, 18 },
                { "6.1.0-18-amd64", 0, 6, 1 },
                { "5.4.0-150-generic", 0, 5, 4 },
                { "5.14.0-362.8.1.el9_3.x86_64", 0, 5, 14 },
                { "4.19.0-25-amd64", 0, 4, 19 },
                { "3.10.0-1160.el7.x86_64", 0, 3, 10 },
                { "6.8", 0, 6, 8 },
                { "6.10-rc1", 0, 6, 10 },
                { "6", 0, 6, 0 },
                { "6-custom", 0, 6, 0 },
                { "6.", 0, 6, 0 },
                { "", -EINVAL, 0, 0 },
                { "v6.1", -EINVAL, 0, 0 },
                { "-6.1", -EINVAL, 0, 0 },
                { " 6.1", -EINVAL, 0, 0 },
                { "4294967296.1", -ERANGE, 0, 0 },
                { "6.99999999999", -ERANGE, 0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(vectors); i++) {
                unsigned major = 77, minor = 77;
                int r = kernel_release_parse(vectors[i].release, &major, &minor);

                ck_assert_msg(r == vectors[i].r, "\"%s\": returned %d, expected %d", vectors[i].release, r,
                              vectors[i].r);
                if (r < 0)
                        continue;
                ck_assert_msg(major == vectors[i].major && minor == vectors[i].minor,
                              "\"%s\": %u.%u, expected %u.%u", vectors[i].release, major, minor,
                              vectors[i].major, vectors[i].minor);
        }
        ck_assert_int_eq(kernel_release_parse(NULL, NULL, NULL), -EINVAL);
        ck_assert_int_eq(kernel_release_parse("5.10.0", NULL, NULL), 0);
}
END_TEST

/* The dev machine: tmpfs at /sys/fs/cgroup, one v1 hierarchy per controller
 * (cpu and cpuacct apart), name=systemd, and a cgroup2 mount on "unified"
 * that holds hugetlb, the one controller no v1 hierarchy mounts. */
START_TEST(test_hybrid)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        const char *f = "hybrid";

        probe_fixture_ok(f, &p);
        ck_assert_int_eq(p.mode, CGROUP_MODE_HYBRID);
        ck_assert_str_eq(p.cgroup_root, "/sys/fs/cgroup");
        ck_assert_pstr_eq(p.unified_mount, "/sys/fs/cgroup/unified");
        ck_assert_pstr_eq(p.unified_root, "/");

        assert_controller(f, &p, CONTROLLER_CPU, 1, "/sys/fs/cgroup/cpu", "/", true);
        assert_controller(f, &p, CONTROLLER_CPUACCT, 1, "/sys/fs/cgroup/cpuacct", "/", true);
        assert_controller(f, &p, CONTROLLER_CPUSET, 1, "/sys/fs/cgroup/cpuset", "/", true);
        assert_controller(f, &p, CONTROLLER_MEMORY, 1, "/sys/fs/cgroup/memory", "/", true);
        assert_controller(f, &p, CONTROLLER_HUGETLB, 2, "/sys/fs/cgroup/unified", "/", true);
        assert_controller(f, &p, CONTROLLER_PIDS, 1, "/sys/fs/cgroup/pids", "/", true);
        assert_controller(f, &p, CONTROLLER_FREEZER, 1, "/sys/fs/cgroup/freezer", "/", true);
        assert_controller(f, &p, CONTROLLER_IO, 1, "/sys/fs/cgroup/blkio", "/", true);
        assert_controller(f, &p, CONTROLLER_DEVICES, 1, "/sys/fs/cgroup/devices", "/", true);

        ck_assert_pstr_eq(p.kernel_release, "6.18.44-fc-v595");
        /* No child cgroup in the unified tree: the kernel version decides. */
        ck_assert(p.features.cgroup_kill);
        ck_assert(p.features.cgroup_freeze);
        ck_assert(p.features.clone_into_cgroup);
        ck_assert(p.features.memory_swap);
        assert_hugepages(f, &p, (const char *const[]) { "2MB", "1GB", NULL });
}
END_TEST

START_TEST(test_v2)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        const char *f = "v2";

        probe_fixture_ok(f, &p);
        ck_assert_int_eq(p.mode, CGROUP_MODE_V2);
        ck_assert_str_eq(p.cgroup_root, "/sys/fs/cgroup");
        ck_assert_pstr_eq(p.unified_mount, "/sys/fs/cgroup");
        ck_assert_pstr_eq(p.unified_root, "/");

        assert_controller(f, &p, CONTROLLER_CPU, 2, "/sys/fs/cgroup", "/", true);
        assert_controller(f, &p, CONTROLLER_CPUSET, 2, "/sys/fs/cgroup", "/", true);
        assert_controller(f, &p, CONTROLLER_MEMORY, 2, "/sys/fs/cgroup", "/", true);
        assert_controller(f, &p, CONTROLLER_HUGETLB, 2, "/sys/fs/cgroup", "/", true);
        assert_controller(f, &p, CONTROLLER_PIDS, 2, "/sys/fs/cgroup", "/", true);
        assert_controller(f, &p, CONTROLLER_IO, 2, "/sys/fs/cgroup", "/", true);
        /* Never listed in cgroup.controllers. */
        assert_unavailable(f, &p, CONTROLLER_CPUACCT);
        assert_unavailable(f, &p, CONTROLLER_FREEZER);
        assert_unavailable(f, &p, CONTROLLER_DEVICES);

        ck_assert_pstr_eq(p.kernel_release, "6.1.0-18-amd64");
        ck_assert(p.features.cgroup_kill);
        ck_assert(p.features.cgroup_freeze);
        ck_assert(p.features.clone_into_cgroup);
        ck_assert(p.features.memory_swap);
        assert_hugepages(f, &p, (const char *const[]) { "2MB", "1GB", NULL });
}
END_TEST

/* Ubuntu 20.04 booted on v2: 5.4 has cgroup.freeze but neither cgroup.kill
 * nor CLONE_INTO_CGROUP, and swap accounting is off. */
START_TEST(test_v2_old)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        const char *f = "v2-old";

        probe_fixture_ok(f, &p);
        ck_assert_int_eq(p.mode, CGROUP_MODE_V2);
        ck_assert_pstr_eq(p.unified_mount, "/sys/fs/cgroup");
        assert_controller(f, &p, CONTROLLER_MEMORY, 2, "/sys/fs/cgroup", "/", true);
        assert_controller(f, &p, CONTROLLER_IO, 2, "/sys/fs/cgroup", "/", true);
        assert_unavailable(f, &p, CONTROLLER_CPUACCT);

        ck_assert_pstr_eq(p.kernel_release, "5.4.0-150-generic");
        ck_assert(!p.features.cgroup_kill);
        ck_assert(p.features.cgroup_freeze);
        ck_assert(!p.features.clone_into_cgroup);
        ck_assert(!p.features.memory_swap);
        assert_hugepages(f, &p, (const char *const[]) { "2MB", NULL });
}
END_TEST

/* A bare v2 root (no systemd, no child cgroup yet: the test VM): no file
 * shows swap accounting, so the release and the boot parameters decide. */
START_TEST(test_v2_bare)
{
        _cleanup_(host_probe_done) HostProbe p = {};

        probe_fixture_ok("v2-bare", &p);
        ck_assert_int_eq(p.mode, CGROUP_MODE_V2);
        assert_controller("v2-bare", &p, CONTROLLER_MEMORY, 2, "/sys/fs/cgroup", "/", true);
        ck_assert_pstr_eq(p.kernel_release, "6.1.0-28-amd64");
        ck_assert(p.features.cgroup_kill);
        ck_assert(p.features.memory_swap);
        host_probe_done(&p);

        /* The same booted with swapaccount=0. */
        probe_fixture_ok("v2-bare-noswap", &p);
        ck_assert(p.features.cgroup_kill);
        ck_assert(!p.features.memory_swap);
}
END_TEST

/* A vendor kernel whose release predates what it carries: the files in the
 * child cgroups decide cgroup.kill and cgroup.freeze; clone3's
 * CLONE_INTO_CGROUP has no file and goes by the release. No huge pages. */
START_TEST(test_v2_backport)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        const char *f = "v2-backport";

        probe_fixture_ok(f, &p);
        ck_assert_int_eq(p.mode, CGROUP_MODE_V2);
        assert_controller(f, &p, CONTROLLER_MEMORY, 2, "/sys/fs/cgroup", "/", true);

        ck_assert_pstr_eq(p.kernel_release, "4.18.0-513.5.1.el8_9.x86_64");
        ck_assert(p.features.cgroup_kill);
        ck_assert(p.features.cgroup_freeze);
        ck_assert(!p.features.clone_into_cgroup);
        ck_assert(p.features.memory_swap);
        assert_hugepages(f, &p, (const char *const[]) { NULL });
}
END_TEST

/* Synthetic: the same hierarchies mounted more than once at different
 * places. A mount of the hierarchy's top is preferred, else the first. */
START_TEST(test_duplicates)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        const char *f = "duplicates";

        probe_fixture_ok(f, &p);
        ck_assert_int_eq(p.mode, CGROUP_MODE_HYBRID);
        ck_assert_pstr_eq(p.unified_mount, "/sys/fs/cgroup/unified");
        ck_assert_pstr_eq(p.unified_root, "/");

        assert_controller(f, &p, CONTROLLER_MEMORY, 1, "/sys/fs/cgroup/memory", "/", true);
        assert_controller(f, &p, CONTROLLER_CPU, 1, "/sys/fs/cgroup/cpu,cpuacct", "/", true);
        assert_controller(f, &p, CONTROLLER_CPUACCT, 1, "/sys/fs/cgroup/cpu,cpuacct", "/", true);
        assert_controller(f, &p, CONTROLLER_PIDS, 1, "/sys/fs/cgroup/pids", "/sandbox", true);
        assert_controller(f, &p, CONTROLLER_HUGETLB, 2, "/sys/fs/cgroup/unified", "/", true);
        assert_unavailable(f, &p, CONTROLLER_CPUSET);
        assert_unavailable(f, &p, CONTROLLER_IO);

        ck_assert(!p.features.memory_swap);
        assert_hugepages(f, &p, (const char *const[]) { NULL });
}
END_TEST

/* CentOS 7: cpu,cpuacct and net_cls,net_prio co-mounted (options in either
 * order), name=systemd with a release_agent, no cgroup2 at all. */
START_TEST(test_v1)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        const char *f = "v1";

        probe_fixture_ok(f, &p);
        ck_assert_int_eq(p.mode, CGROUP_MODE_V1);
        ck_assert_str_eq(p.cgroup_root, "/sys/fs/cgroup");
        ck_assert_ptr_null(p.unified_mount);
        ck_assert_ptr_null(p.unified_root);

        assert_controller(f, &p, CONTROLLER_CPU, 1, "/sys/fs/cgroup/cpu,cpuacct", "/", true);
        assert_controller(f, &p, CONTROLLER_CPUACCT, 1, "/sys/fs/cgroup/cpu,cpuacct", "/", true);
        assert_controller(f, &p, CONTROLLER_CPUSET, 1, "/sys/fs/cgroup/cpuset", "/", true);
        assert_controller(f, &p, CONTROLLER_MEMORY, 1, "/sys/fs/cgroup/memory", "/", true);
        assert_controller(f, &p, CONTROLLER_HUGETLB, 1, "/sys/fs/cgroup/hugetlb", "/", true);
        assert_controller(f, &p, CONTROLLER_PIDS, 1, "/sys/fs/cgroup/pids", "/", true);
        assert_controller(f, &p, CONTROLLER_FREEZER, 1, "/sys/fs/cgroup/freezer", "/", true);
        assert_controller(f, &p, CONTROLLER_IO, 1, "/sys/fs/cgroup/blkio", "/", true);
        assert_controller(f, &p, CONTROLLER_DEVICES, 1, "/sys/fs/cgroup/devices", "/", true);

        ck_assert_pstr_eq(p.kernel_release, "3.10.0-1160.el7.x86_64");
        /* Without a cgroup2 mount, whatever the kernel. */
        ck_assert(!p.features.cgroup_kill);
        ck_assert(!p.features.cgroup_freeze);
        ck_assert(!p.features.clone_into_cgroup);
        ck_assert(p.features.memory_swap);
        assert_hugepages(f, &p, (const char *const[]) { "2MB", NULL });
}
END_TEST

/* Inside a docker container on a v1 host: every hierarchy is mounted from
 * the container's cgroup; no osrelease in the fixture, so uname() answers.
 * The host is arm64 with 4K pages: four hugepage sizes. */
START_TEST(test_v1_container)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        const char *f = "v1-container";
        const char *root = "/docker/5f0c3b1e9a2d47c8b6e1f0a9d3c2b7e4f8a1c6d5e9b0a3f7c2d8e1b4a6f9c0d3";
        struct utsname u;

        probe_fixture_ok(f, &p);
        ck_assert_int_eq(p.mode, CGROUP_MODE_V1);
        ck_assert_ptr_null(p.unified_mount);

        assert_controller(f, &p, CONTROLLER_CPU, 1, "/sys/fs/cgroup/cpu,cpuacct", root, true);
        assert_controller(f, &p, CONTROLLER_CPUACCT, 1, "/sys/fs/cgroup/cpu,cpuacct", root, true);
        assert_controller(f, &p, CONTROLLER_CPUSET, 1, "/sys/fs/cgroup/cpuset", root, true);
        assert_controller(f, &p, CONTROLLER_MEMORY, 1, "/sys/fs/cgroup/memory", root, true);
        assert_controller(f, &p, CONTROLLER_HUGETLB, 1, "/sys/fs/cgroup/hugetlb", root, true);
        assert_controller(f, &p, CONTROLLER_PIDS, 1, "/sys/fs/cgroup/pids", root, true);
        assert_controller(f, &p, CONTROLLER_FREEZER, 1, "/sys/fs/cgroup/freezer", root, true);
        assert_controller(f, &p, CONTROLLER_IO, 1, "/sys/fs/cgroup/blkio", root, true);
        assert_controller(f, &p, CONTROLLER_DEVICES, 1, "/sys/fs/cgroup/devices", root, true);

        ck_assert_int_eq(uname(&u), 0);
        ck_assert_pstr_eq(p.kernel_release, u.release);
        ck_assert(!p.features.cgroup_kill);
        ck_assert(!p.features.cgroup_freeze);
        ck_assert(!p.features.clone_into_cgroup);
        ck_assert(!p.features.memory_swap);
        assert_hugepages(f, &p, (const char *const[]) { "64KB", "2MB", "32MB", "1GB", NULL });
}
END_TEST

/* A hybrid Debian 10 host where the memory mount was covered by a bind mount
 * of its /sandboxes cgroup and the pids mount by an empty tmpfs. */
START_TEST(test_overmount)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        const char *f = "overmount";

        probe_fixture_ok(f, &p);
        ck_assert_int_eq(p.mode, CGROUP_MODE_HYBRID);
        ck_assert_pstr_eq(p.unified_mount, "/sys/fs/cgroup/unified");

        assert_controller(f, &p, CONTROLLER_MEMORY, 1, "/sys/fs/cgroup/memory", "/sandboxes", true);
        assert_unavailable(f, &p, CONTROLLER_PIDS);
        assert_controller(f, &p, CONTROLLER_CPU, 1, "/sys/fs/cgroup/cpu,cpuacct", "/", true);
        assert_controller(f, &p, CONTROLLER_CPUACCT, 1, "/sys/fs/cgroup/cpu,cpuacct", "/", true);
        /* All controllers are bound to v1: the unified tree lists none. */
        assert_controller(f, &p, CONTROLLER_HUGETLB, 1, "/sys/fs/cgroup/hugetlb", "/", true);
        assert_controller(f, &p, CONTROLLER_IO, 1, "/sys/fs/cgroup/blkio", "/", true);

        ck_assert_pstr_eq(p.kernel_release, "4.19.0-25-amd64");
        ck_assert(!p.features.cgroup_kill);
        ck_assert(!p.features.cgroup_freeze);
        ck_assert(!p.features.clone_into_cgroup);
        ck_assert(!p.features.memory_swap);
}
END_TEST

/* cgroup2 mounted over /sys/fs/cgroup after the v1 hierarchies: the host is
 * v2, and the controllers still bound to the hidden v1 hierarchies are not
 * available. */
START_TEST(test_overmount_root)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        const char *f = "overmount-root";

        probe_fixture_ok(f, &p);
        ck_assert_int_eq(p.mode, CGROUP_MODE_V2);
        ck_assert_pstr_eq(p.unified_mount, "/sys/fs/cgroup");
        ck_assert_pstr_eq(p.unified_root, "/");

        assert_unavailable(f, &p, CONTROLLER_CPU);
        assert_unavailable(f, &p, CONTROLLER_CPUACCT);
        assert_unavailable(f, &p, CONTROLLER_MEMORY);
        assert_controller(f, &p, CONTROLLER_CPUSET, 2, "/sys/fs/cgroup", "/", true);
        assert_controller(f, &p, CONTROLLER_IO, 2, "/sys/fs/cgroup", "/", true);
        assert_controller(f, &p, CONTROLLER_HUGETLB, 2, "/sys/fs/cgroup", "/", true);
        assert_controller(f, &p, CONTROLLER_PIDS, 2, "/sys/fs/cgroup", "/", true);

        ck_assert(p.features.cgroup_kill);
        ck_assert(p.features.clone_into_cgroup);
        ck_assert(!p.features.memory_swap);
}
END_TEST

/* Only a tmpfs at the root; cgroup mounts elsewhere, including a path that
 * merely starts with the same characters, do not count. */
START_TEST(test_none)
{
        HostProbe p = {};
        Error e = {};
        int r;

        r = probe_fixture("none", CGROUP_ROOT, &p, &e);
        ck_assert_int_eq(r, -ENOMEDIUM);
        ck_assert_int_eq(e.code, GRPC_FAILED_PRECONDITION);
        ck_assert_int_eq(e.errnum, ENOMEDIUM);
        ck_assert_msg(strstr(e.message, "/sys/fs/cgroup"), "message does not name the root: %s", e.message);
        /* Untouched on failure. */
        ck_assert_int_eq(p.mode, CGROUP_MODE_UNKNOWN);
        ck_assert_ptr_null(p.cgroup_root);
        ck_assert_ptr_null(p.hugepage_sizes);
        host_probe_done(&p);

        /* The same tree probed at the mount outside the default root. */
        memset(&e, 0, sizeof e);
        r = probe_fixture("none", "/mnt/cgroup2", &p, &e);
        ck_assert_msg(r == 0, "%s", e.message);
        ck_assert_int_eq(p.mode, CGROUP_MODE_V2);
        ck_assert_pstr_eq(p.unified_mount, "/mnt/cgroup2");
        assert_controller("none", &p, CONTROLLER_MEMORY, 2, "/mnt/cgroup2", "/", true);
        host_probe_done(&p);
}
END_TEST

START_TEST(test_cgroup_root_argument)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        Error e = {};
        int r;

        /* Trailing slashes are dropped. */
        r = probe_fixture("hybrid", "/sys/fs/cgroup//", &p, &e);
        ck_assert_msg(r == 0, "%s", e.message);
        ck_assert_str_eq(p.cgroup_root, "/sys/fs/cgroup");
        ck_assert_int_eq(p.mode, CGROUP_MODE_HYBRID);
        host_probe_done(&p);

        /* The hybrid unified mount, taken as the root, is a v2 host. */
        r = probe_fixture("hybrid", "/sys/fs/cgroup/unified", &p, &e);
        ck_assert_msg(r == 0, "%s", e.message);
        ck_assert_int_eq(p.mode, CGROUP_MODE_V2);
        assert_controller("hybrid", &p, CONTROLLER_HUGETLB, 2, "/sys/fs/cgroup/unified", "/", true);
        assert_unavailable("hybrid", &p, CONTROLLER_CPU);
        host_probe_done(&p);

        r = probe_fixture("hybrid", "sys/fs/cgroup", &p, &e);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_int_eq(e.code, GRPC_INVALID_ARGUMENT);
        ck_assert_int_eq(p.mode, CGROUP_MODE_UNKNOWN);

        memset(&e, 0, sizeof e);
        r = probe_fixture("hybrid", NULL, &p, &e);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert(error_is_set(&e));
}
END_TEST

START_TEST(test_missing_mountinfo)
{
        HostProbe p = {};
        Error e = {};
        int r;

        r = probe_fixture("does-not-exist", CGROUP_ROOT, &p, &e);
        ck_assert_int_eq(r, -ENOENT);
        ck_assert(error_is_set(&e));
        ck_assert_int_eq(e.errnum, ENOENT);
        ck_assert_msg(strstr(e.message, "does-not-exist/proc/self/mountinfo"), "%s", e.message);
        ck_assert_ptr_null(p.cgroup_root);
}
END_TEST

static int write_file(const char *dir, const char *name, const char *contents)
{
        char path[PATH_MAX];
        FILE *f;
        int r;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "we");
        if (!f)
                return -errno;
        r = fputs(contents, f) < 0 ? -EIO : 0;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        return r;
}

/* A line libmount cannot parse is an error naming the line, not a mount
 * silently skipped. */
START_TEST(test_malformed_mountinfo)
{
        char dir[] = "/tmp/test-probe-XXXXXX";
        HostProbe p = {};
        Error e = {};
        int dfd, r;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dfd, 0);
        ck_assert_int_eq(mkdirat(dfd, "proc", 0755), 0);
        ck_assert_int_eq(mkdirat(dfd, "proc/self", 0755), 0);
        r = write_file(dir, "proc/self/mountinfo",
                       "28 18 0:23 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
                       "this is not a mountinfo line\n"
                       "29 28 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
        if (r == 0)
                r = host_probe(dir, CGROUP_ROOT, &p, &e);

        (void) unlinkat(dfd, "proc/self/mountinfo", 0);
        (void) unlinkat(dfd, "proc/self", AT_REMOVEDIR);
        (void) unlinkat(dfd, "proc", AT_REMOVEDIR);
        (void) close(dfd);
        (void) rmdir(dir);

        ck_assert_int_eq(r, -EBADMSG);
        ck_assert_msg(strstr(e.message, "line 2"), "%s", e.message);
}
END_TEST

START_TEST(test_done)
{
        HostProbe p = {};

        host_probe_done(&p);
        host_probe_done(&p);
        host_probe_done(NULL);

        probe_fixture_ok("v1", &p);
        host_probe_done(&p);
        ck_assert_ptr_null(p.cgroup_root);
        ck_assert_ptr_null(p.controllers[CONTROLLER_CPU].mount_point);
        ck_assert_ptr_null(p.hugepage_sizes);
        ck_assert_int_eq(p.mode, CGROUP_MODE_UNKNOWN);
        host_probe_done(&p);
}
END_TEST

/* The real host: only internal consistency, whatever the mode. */
START_TEST(test_host)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        struct statfs sfs;
        struct utsname u;
        Error e = {};
        int r;

        r = host_probe("/", CGROUP_ROOT, &p, &e);
        if (r == -ENOMEDIUM) {
                fprintf(stderr, "test_host: skipped: %s\n", e.message);
                return;
        }
        ck_assert_msg(r == 0, "probing the host: %s (%s)", e.message, strerror(-r));

        ck_assert_int_ne(p.mode, CGROUP_MODE_UNKNOWN);
        ck_assert_str_eq(p.cgroup_root, CGROUP_ROOT);
        ck_assert_int_eq(p.unified_mount != NULL, p.mode != CGROUP_MODE_V1);
        if (p.mode == CGROUP_MODE_V2)
                ck_assert_str_eq(p.unified_mount, CGROUP_ROOT);
        if (p.unified_mount) {
                ck_assert_int_eq(statfs(p.unified_mount, &sfs), 0);
                ck_assert(sfs.f_type == (__typeof__(sfs.f_type)) CGROUP2_SUPER_MAGIC);
        }

        FOREACH_CONTROLLER(c) {
                const ControllerMount *cm = &p.controllers[c];
                struct stat st;

                if (cm->version == 0) {
                        ck_assert_ptr_null(cm->mount_point);
                        continue;
                }
                ck_assert_msg(cm->version == 1 || cm->version == 2, "%s: version %d",
                              controller_to_string(c), cm->version);
                ck_assert_msg(cm->version == 1 || p.mode != CGROUP_MODE_V1, "%s on cgroup2 in v1 mode",
                              controller_to_string(c));
                ck_assert_msg(cm->version == 2 || p.mode != CGROUP_MODE_V2, "%s on v1 in v2 mode",
                              controller_to_string(c));
                ck_assert_ptr_nonnull(cm->mount_root);
                ck_assert_msg(stat(cm->mount_point, &st) == 0 && S_ISDIR(st.st_mode),
                              "%s: %s is not a directory", controller_to_string(c), cm->mount_point);
                ck_assert_int_eq(statfs(cm->mount_point, &sfs), 0);
                ck_assert(sfs.f_type == (__typeof__(sfs.f_type))(cm->version == 1 ? CGROUP_SUPER_MAGIC
                                                                                    : CGROUP2_SUPER_MAGIC));
        }

        ck_assert_int_eq(uname(&u), 0);
        ck_assert_pstr_eq(p.kernel_release, u.release);
        if (!p.unified_mount)
                ck_assert(!p.features.cgroup_kill && !p.features.cgroup_freeze &&
                          !p.features.clone_into_cgroup);

        ck_assert_ptr_nonnull(p.hugepage_sizes);
        for (size_t i = 0; p.hugepage_sizes[i] && p.hugepage_sizes[i + 1]; i++) {
                const char *a = p.hugepage_sizes[i], *b = p.hugepage_sizes[i + 1];

                ck_assert_msg(hugepage_size_bytes(a) < hugepage_size_bytes(b),
                              "hugepage sizes out of order: %s before %s", a, b);
        }
}
END_TEST

static Suite *probe_suite(void)
{
        Suite *s = suite_create("probe");
        TCase *tc;

        tc = tcase_create("strings");
        tcase_add_test(tc, test_mode_strings);
        tcase_add_test(tc, test_controller_strings);
        tcase_add_test(tc, test_kernel_release_parse);
        suite_add_tcase(s, tc);

        tc = tcase_create("fixtures");
        tcase_add_test(tc, test_hybrid);
        tcase_add_test(tc, test_v2);
        tcase_add_test(tc, test_v2_old);
        tcase_add_test(tc, test_v2_bare);
        tcase_add_test(tc, test_v2_backport);
        tcase_add_test(tc, test_v1);
        tcase_add_test(tc, test_v1_container);
        tcase_add_test(tc, test_overmount);
        tcase_add_test(tc, test_overmount_root);
        tcase_add_test(tc, test_duplicates);
        tcase_add_test(tc, test_none);
        tcase_add_test(tc, test_cgroup_root_argument);
        tcase_add_test(tc, test_missing_mountinfo);
        tcase_add_test(tc, test_malformed_mountinfo);
        tcase_add_test(tc, test_done);
        suite_add_tcase(s, tc);

        tc = tcase_create("host");
        tcase_add_test(tc, test_host);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(probe_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
