/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Host probe: which cgroup mode the host runs in and, per controller, which
 * hierarchy holds it. Mounts come from mountinfo through libmount; on the
 * real host (prefix "/") statfs() confirms the file system types.
 *
 * Everything is read below a prefix directory ("/" on a host), so that unit
 * tests can point the probe at a fixture tree holding proc/self/mountinfo,
 * proc/cgroups, <unified mount>/cgroup.controllers and
 * sys/kernel/mm/hugepages/. */

#include <stdbool.h>

#include "daemon/error.h"

typedef enum CgroupMode {
        CGROUP_MODE_UNKNOWN,
        CGROUP_MODE_V1,
        CGROUP_MODE_V2,
        CGROUP_MODE_HYBRID,
        _CGROUP_MODE_MAX,
        _CGROUP_MODE_INVALID = -EINVAL,
} CgroupMode;

/* The controllers the daemon uses (or must know about to find the others).
 * The order is the order of HostInfo's list. */
typedef enum Controller {
        CONTROLLER_CPU,
        CONTROLLER_CPUACCT,
        CONTROLLER_CPUSET,
        CONTROLLER_MEMORY,
        CONTROLLER_HUGETLB,
        CONTROLLER_PIDS,
        CONTROLLER_FREEZER,
        CONTROLLER_IO,          /* "blkio" on v1, "io" on v2 */
        CONTROLLER_DEVICES,
        _CONTROLLER_MAX,
        _CONTROLLER_INVALID = -EINVAL,
} Controller;

#define FOREACH_CONTROLLER(c) for (Controller c = 0; c < _CONTROLLER_MAX; c++)

const char *cgroup_mode_to_string(CgroupMode m);          /* "v1", "v2", "hybrid", "unknown" */
CgroupMode cgroup_mode_from_string(const char *s);
const char *controller_to_string(Controller c);           /* the v2 name: "cpu", ..., "io" */
const char *controller_to_v1_string(Controller c);        /* the v1 subsystem name: ..., "blkio" */
Controller controller_from_string(const char *s);         /* accepts "blkio" for CONTROLLER_IO */

/* A controller is on a v1 hierarchy that mounts it, else on the cgroup2 mount
 * when that mount's cgroup.controllers lists it, else unavailable. On the
 * cgroup2 mount, cpuacct, freezer and devices are never listed (cpu.stat,
 * cgroup.freeze and BPF device programs replace them): see HostFeatures. */
typedef struct ControllerMount {
        int version;            /* 0: not available, 1: a v1 hierarchy, 2: the cgroup2 mount */
        char *mount_point;      /* e.g. "/sys/fs/cgroup/cpu" (without the prefix) */
        char *mount_root;       /* root of the mounted hierarchy, usually "/" */
        bool enabled;           /* v1: /proc/cgroups "enabled" column; v2: listed in cgroup.controllers */
} ControllerMount;

/* pidfd and openat2 describe the running kernel, whatever the prefix; the
 * others describe the probed tree. cgroup_kill, cgroup_freeze and
 * clone_into_cgroup need a cgroup2 mount. */
typedef struct HostFeatures {
        bool cgroup_kill;
        bool clone_into_cgroup;
        bool openat2;
        bool pidfd;
        bool cgroup_freeze;
        bool memory_swap;
} HostFeatures;

typedef struct HostProbe {
        CgroupMode mode;
        char *cgroup_root;          /* "/sys/fs/cgroup" */
        char *unified_mount;        /* the cgroup2 mount point, NULL if none */
        char *unified_root;         /* root of the cgroup2 mount, usually "/" */
        ControllerMount controllers[_CONTROLLER_MAX];
        HostFeatures features;
        char *kernel_release;
        char **hugepage_sizes;      /* NULL-terminated, e.g. {"2MB", "1GB", NULL}, ascending;
                                     * the names of hugetlb.<size>.* files; never NULL after
                                     * a successful probe */
} HostProbe;

/* Probe the host below prefix ("/" for the real host) for the cgroup root
 * (normally "/sys/fs/cgroup"). Fails with -ENOMEDIUM (and *e set) when no
 * cgroup file system is mounted at or below the cgroup root. */
int host_probe(const char *prefix, const char *cgroup_root, HostProbe *ret, Error *e);

/* Frees everything and leaves *p zeroed; accepts a zeroed struct. */
void host_probe_done(HostProbe *p);

/* Major and minor version from a kernel release such as "6.1.0-18-amd64" or
 * "3.10.0-1160.el7.x86_64"; a missing minor is 0. -EINVAL if the release does
 * not start with a number, -ERANGE if a number is out of range. */
int kernel_release_parse(const char *release, unsigned *ret_major, unsigned *ret_minor);
