/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The plain resource model (no protobuf below dispatch), its validation, the
 * sandbox totals, and the one translation table from resources to the files
 * of each cgroup v1 / v2 controller. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/cgroup/probe.h"
#include "daemon/error.h"

typedef struct OptInt {
        bool set;
        int64_t value;
} OptInt;

typedef struct HugepageLimit {
        char *page_size;        /* as the kernel names it: "2MB", "1GB" */
        uint64_t limit;         /* bytes */
} HugepageLimit;

/* Mirrors CRI LinuxContainerResources plus pids. Unset means "no limit". */
typedef struct Resources {
        OptInt cpu_period;      /* µs */
        OptInt cpu_quota;       /* µs per period */
        OptInt cpu_shares;
        char *cpuset_cpus;      /* NULL: unset */
        char *cpuset_mems;
        OptInt memory_limit;    /* bytes */
        OptInt memory_swap;     /* memory + swap, bytes (CRI/v1 meaning) */
        HugepageLimit *hugepages;
        size_t n_hugepages;
        OptInt pids_limit;
} Resources;

/* Frees what r owns and leaves it zeroed; accepts NULL and a zeroed struct. */
void resources_done(Resources *r);
/* Deep copy into *ret (not freed first); -ENOMEM leaves *ret untouched. */
int resources_copy(const Resources *src, Resources *ret);
/* Same limits: unset fields compare equal whatever their value, hugepage
 * limits in any order. */
bool resources_equal(const Resources *a, const Resources *b);

/* Check values against the kernel's ranges before anything is touched:
 * period 1000..1000000, quota 1000..2^44-1 µs (and quota needs no period:
 * 100000 is the default), shares 2..262144, cpusets parse and are not empty,
 * memory >= 1 and swap >= memory (swap needs memory), hugepage sizes exist on
 * this host (host->hugepage_sizes) and are not repeated, hugepage limits are
 * multiples of their page size (the kernel would round them down), pids
 * 1..4194304. Unset is how this API says "no limit": the CRI spellings of it
 * (0 or -1 for quota, shares, memory, pids) are rejected with a message that
 * says so. Errors are INVALID_ARGUMENT naming the wire field as
 * "<what>.<field>" (what is "resources" or "overhead") and the offending
 * value. A NULL host skips the checks that need one (hugepage sizes). */
int resources_validate(const Resources *r, const char *what, const HostProbe *host, Error *e);

/* The sandbox cgroup's totals (DESIGN.md §1): quota = q_res + q_ovh * p_res /
 * p_ovh (rounded up) at period p_res; shares, memory, memory+swap, hugepages,
 * pids summed; cpusets merged. A limit the pod (resources) leaves unset is
 * unset in the total: no limit on the pod is no limit on the sandbox. One the
 * overhead leaves unset adds nothing, as Kubernetes counts pod overhead (0
 * where not given; overhead memory without swap adds its memory to
 * memory+swap); it still limits nothing in pod_overhead itself. Shares and
 * pids saturate at the kernel's maximum (a relative weight or a count cannot
 * usefully exceed it); a sum that overflows, or a quota beyond the kernel's
 * maximum, is OUT_OF_RANGE (-ERANGE). Expects validated inputs; *ret is set
 * only on success. */
int resources_combine(const Resources *pod, const Resources *overhead, Resources *ret, Error *e);

/* cpuset lists ("0-3,6"), as a bitmap of up to CPUSET_MAX entries. */
#define CPUSET_MAX 8192
typedef struct CpuSet {
        uint64_t bits[CPUSET_MAX / 64];
} CpuSet;
int cpuset_parse(const char *s, CpuSet *ret);          /* -EINVAL, -ERANGE */
int cpuset_format(const CpuSet *set, char **ret);      /* canonical "0-3,6", "" when empty */
bool cpuset_is_subset(const CpuSet *a, const CpuSet *b);
bool cpuset_is_empty(const CpuSet *set);
void cpuset_union(CpuSet *a, const CpuSet *b);

/* runc/crun's current cpu.shares -> cpu.weight (notes §1.2): 0 -> 0,
 * <= 2 -> 1, >= 262144 -> 10000, else ceil(10^((l^2 + 125 l) / 612 - 7/34)),
 * l = log2(shares). */
uint64_t cpu_shares_to_weight(uint64_t shares);

/* v2 memory.swap.max from the CRI memory+swap value (runc's
 * ConvertMemorySwapToCgroupV2Value, notes §1.3): swap unset -> -1 ("max"; in
 * this API unset means no limit, so an update lifts an earlier swap limit the
 * way v1's memsw -1 does, where runc would leave the file alone); swap ==
 * memory -> 0 (no swap); else swap - memory. A swap limit without a memory
 * limit, a negative memory limit or swap < memory is -EINVAL with *e set
 * (INVALID_ARGUMENT). Otherwise returns 0 and sets *ret_swap. */
int memory_swap_to_v2(const OptInt *memory, const OptInt *swap, int64_t *ret_swap, Error *e);

/* The three cgroups of a sandbox. */
typedef enum SandboxNode {
        NODE_SANDBOX,           /* {parent}/{id}: the totals */
        NODE_VCPU,              /* {parent}/{id}/vcpu: the pod's CPU limits */
        NODE_POD_OVERHEAD,      /* {parent}/{id}/pod_overhead: the overhead's CPU limits */
        _NODE_MAX,
} SandboxNode;
const char *sandbox_node_to_string(SandboxNode n);     /* "", "vcpu", "pod_overhead" */

/* Room for one value: a page, the most the kernel takes in one write(2) to
 * most cgroup files. Long cpuset lists ("0,2,4,...,254") need more than the
 * numbers do. */
#define CGROUP_WRITE_VALUE_MAX 4096

/* One file to write: the value that expresses the resources, including the
 * "no limit" value when a field is unset (so an update can lift a limit). */
typedef struct CgroupWrite {
        SandboxNode node;
        Controller controller;
        int version;            /* hierarchy version of the controller: 1 or 2 */
        char file[64];          /* e.g. "cpu.cfs_quota_us", "hugetlb.2MB.max" */
        char value[CGROUP_WRITE_VALUE_MAX]; /* e.g. "50000", "max 100000", "-1" */
        bool optional;          /* the file may be absent on this kernel (e.g. .rsvd): skip on ENOENT */
        bool inherit;           /* v1 cpuset unset: copy the parent's value at apply time */
} CgroupWrite;

/* The full set of writes for a sandbox: S gets `total`, vcpu the CPU limits
 * of `pod`, pod_overhead the CPU limits of `overhead`. Each controller's
 * files follow the version of the hierarchy that holds it on this host
 * (host->controllers[c].version), which is what makes hybrid hosts work.
 * Controllers the host lacks are skipped when nothing asks for them and an
 * error when a limit needs them. Order within the result: per node, per
 * controller, in a fixed order that the kernel accepts on creation (cpuset
 * before anything else, cpu.cfs_period_us before cpu.cfs_quota_us, memory
 * limit before memsw). The engine reorders for updates.
 *
 * NULL stands for resources with nothing set. An unset v1 cpuset file is
 * written with inherit = true and an empty value. On a host without swap
 * accounting (host->features.memory_swap false) the swap file is optional
 * when it says "no limit" or "no swap", and an error when it would allow some
 * swap. A limit that needs a controller or a hugepage size the host lacks is
 * FAILED_PRECONDITION (-EOPNOTSUPP). On success *ret (release with free())
 * holds *ret_n writes; on failure *ret and *ret_n are untouched. */
int resources_translate(const Resources *pod, const Resources *overhead, const Resources *total,
                        const HostProbe *host, CgroupWrite **ret, size_t *ret_n, Error *e);
