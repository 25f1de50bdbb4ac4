/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "daemon/cgroup/resources.h"

/* Kernel ranges (kernel/sched/core.c, kernel/cgroup/pids.c): the CFS period
 * is 1 ms..1 s, the quota at least 1 ms and at most max_cfs_runtime, i.e.
 * MAX_BW = 2^(64 - BW_SHIFT) - 1 µs with BW_SHIFT 20 (about 203 days); v1
 * clamps shares to [MIN_SHARES, MAX_SHARES]; pids.max takes 0..PID_MAX_LIMIT
 * (4 Mi on 64-bit). */
#define CPU_PERIOD_MIN INT64_C(1000)
#define CPU_PERIOD_MAX INT64_C(1000000)
#define CPU_PERIOD_DEFAULT INT64_C(100000)
#define CPU_QUOTA_MIN INT64_C(1000)
#define CPU_QUOTA_MAX ((INT64_C(1) << 44) - 1)
#define CPU_SHARES_MIN INT64_C(2)
#define CPU_SHARES_MAX INT64_C(262144)
#define CPU_SHARES_DEFAULT INT64_C(1024)
#define CPU_WEIGHT_DEFAULT UINT64_C(100)
#define CPU_WEIGHT_MAX UINT64_C(10000)
#define PIDS_LIMIT_MAX INT64_C(4194304)

/* ---------------------------------------------------------------------------
 * The model */

void resources_done(Resources *r)
{
        if (!r)
                return;

        free(r->cpuset_cpus);
        free(r->cpuset_mems);
        for (size_t i = 0; i < r->n_hugepages; i++)
                free(r->hugepages[i].page_size);
        free(r->hugepages);
        *r = (Resources) {};
}

static int strdup_or_null(const char *s, char **ret)
{
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int resources_copy(const Resources *src, Resources *ret)
{
        _cleanup_(resources_done) Resources c = {
                .cpu_period = src->cpu_period,
                .cpu_quota = src->cpu_quota,
                .cpu_shares = src->cpu_shares,
                .memory_limit = src->memory_limit,
                .memory_swap = src->memory_swap,
                .pids_limit = src->pids_limit,
        };

        if (strdup_or_null(src->cpuset_cpus, &c.cpuset_cpus) < 0 ||
            strdup_or_null(src->cpuset_mems, &c.cpuset_mems) < 0)
                return -ENOMEM;

        if (src->n_hugepages > 0) {
                c.hugepages = calloc(src->n_hugepages, sizeof *c.hugepages);
                if (!c.hugepages)
                        return -ENOMEM;
                c.n_hugepages = src->n_hugepages;
                for (size_t i = 0; i < src->n_hugepages; i++) {
                        c.hugepages[i].limit = src->hugepages[i].limit;
                        if (strdup_or_null(src->hugepages[i].page_size, &c.hugepages[i].page_size) < 0)
                                return -ENOMEM;
                }
        }

        *ret = c;
        c = (Resources) {};
        return 0;
}

static bool opt_int_equal(const OptInt *a, const OptInt *b)
{
        return a->set == b->set && (!a->set || a->value == b->value);
}

static const HugepageLimit *hugepage_find(const Resources *r, const char *page_size)
{
        for (size_t i = 0; i < r->n_hugepages; i++)
                if (streq_ptr(r->hugepages[i].page_size, page_size))
                        return &r->hugepages[i];
        return NULL;
}

bool resources_equal(const Resources *a, const Resources *b)
{
        if (!opt_int_equal(&a->cpu_period, &b->cpu_period) || !opt_int_equal(&a->cpu_quota, &b->cpu_quota) ||
            !opt_int_equal(&a->cpu_shares, &b->cpu_shares) ||
            !opt_int_equal(&a->memory_limit, &b->memory_limit) ||
            !opt_int_equal(&a->memory_swap, &b->memory_swap) ||
            !opt_int_equal(&a->pids_limit, &b->pids_limit))
                return false;
        if (!streq_ptr(a->cpuset_cpus, b->cpuset_cpus) || !streq_ptr(a->cpuset_mems, b->cpuset_mems))
                return false;

        /* Page sizes are unique in validated resources, so equal counts and
         * every limit of a found in b make the two sets equal. */
        if (a->n_hugepages != b->n_hugepages)
                return false;
        for (size_t i = 0; i < a->n_hugepages; i++) {
                const HugepageLimit *h = hugepage_find(b, a->hugepages[i].page_size);

                if (!h || h->limit != a->hugepages[i].limit)
                        return false;
        }
        return true;
}

/* ---------------------------------------------------------------------------
 * cpuset lists */

static bool cpuset_test(const CpuSet *set, unsigned i)
{
        return set->bits[i / 64] & (UINT64_C(1) << (i % 64));
}

static void cpuset_set(CpuSet *set, unsigned i)
{
        set->bits[i / 64] |= UINT64_C(1) << (i % 64);
}

/* One decimal number below CPUSET_MAX; advances *p past it. */
static int cpuset_parse_number(const char **p, unsigned *ret)
{
        const char *s = *p;
        unsigned v = 0;
        bool too_big = false;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                v = v * 10 + (unsigned) (*s - '0');
                if (v >= CPUSET_MAX) {
                        too_big = true;
                        v = CPUSET_MAX; /* keeps the next step from overflowing */
                }
        }
        if (too_big)
                return -ERANGE;

        *p = s;
        *ret = v;
        return 0;
}

int cpuset_parse(const char *s, CpuSet *ret)
{
        CpuSet set = {};
        const char *p = s;
        int r;

        if (!s)
                return -EINVAL;

        while (*p != '\0') {
                unsigned first, last;

                r = cpuset_parse_number(&p, &first);
                if (r < 0)
                        return r;
                last = first;
                if (*p == '-') {
                        p++;
                        r = cpuset_parse_number(&p, &last);
                        if (r < 0)
                                return r;
                        if (last < first)
                                return -EINVAL;
                }
                for (unsigned i = first; i <= last; i++)
                        cpuset_set(&set, i);

                if (*p == ',') {
                        p++;
                        if (*p == '\0') /* "1," */
                                return -EINVAL;
                } else if (*p != '\0')
                        return -EINVAL;
        }

        *ret = set;
        return 0;
}

/* Like snprintf: writes what fits into buf (NULL with size 0 to measure) and
 * returns the length of the whole list. */
static size_t cpuset_format_into(const CpuSet *set, char *buf, size_t size)
{
        size_t n = 0;

        for (unsigned i = 0; i < CPUSET_MAX; i++) {
                unsigned first = i;
                int k;

                /* 64 absent CPUs at a time: the set has 8192 bits, a host
                 * a few of them. */
                if (i % 64 == 0 && set->bits[i / 64] == 0) {
                        i += 63;
                        continue;
                }
                if (!cpuset_test(set, i))
                        continue;
                while (i + 1 < CPUSET_MAX && cpuset_test(set, i + 1))
                        i++;

                if (first == i)
                        k = snprintf(buf ? buf + n : NULL, n < size ? size - n : 0, "%s%u", n > 0 ? "," : "",
                                     first);
                else
                        k = snprintf(buf ? buf + n : NULL, n < size ? size - n : 0, "%s%u-%u",
                                     n > 0 ? "," : "", first, i);
                n += (size_t) k; /* a few digits: cannot fail */
        }
        return n;
}

int cpuset_format(const CpuSet *set, char **ret)
{
        size_t n = cpuset_format_into(set, NULL, 0);
        char *s;

        s = malloc(n + 1);
        if (!s)
                return -ENOMEM;
        s[0] = '\0';
        (void) cpuset_format_into(set, s, n + 1);

        *ret = s;
        return 0;
}

bool cpuset_is_subset(const CpuSet *a, const CpuSet *b)
{
        for (size_t i = 0; i < ELEMENTSOF(a->bits); i++)
                if (a->bits[i] & ~b->bits[i])
                        return false;
        return true;
}

bool cpuset_is_empty(const CpuSet *set)
{
        for (size_t i = 0; i < ELEMENTSOF(set->bits); i++)
                if (set->bits[i] != 0)
                        return false;
        return true;
}

void cpuset_union(CpuSet *a, const CpuSet *b)
{
        for (size_t i = 0; i < ELEMENTSOF(a->bits); i++)
                a->bits[i] |= b->bits[i];
}

/* ---------------------------------------------------------------------------
 * Conversions */

uint64_t cpu_shares_to_weight(uint64_t shares)
{
        double l, exponent;

        if (shares == 0)
                return 0;
        if (shares <= (uint64_t) CPU_SHARES_MIN)
                return 1;
        if (shares >= (uint64_t) CPU_SHARES_MAX)
                return CPU_WEIGHT_MAX;

        /* The quadratic in log space through (2, 1), (1024, 100) and
         * (262144, 10000) of opencontainers/cgroups and crun, in the same
         * order of operations so that results match near integers. */
        l = log2((double) shares);
        exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
        return (uint64_t) ceil(pow(10, exponent));
}

int memory_swap_to_v2(const OptInt *memory, const OptInt *swap, int64_t *ret_swap, Error *e)
{
        if (!swap->set) {
                *ret_swap = -1;
                return 0;
        }
        if (!memory->set)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "memory_swap_limit_in_bytes: unable to set a swap limit (%" PRIi64
                                 ") without a memory limit",
                                 swap->value);
        if (memory->value < 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "memory_limit_in_bytes: invalid memory limit %" PRIi64, memory->value);
        if (swap->value < memory->value)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "memory_swap_limit_in_bytes: memory+swap limit %" PRIi64
                                 " is below the memory limit %" PRIi64,
                                 swap->value, memory->value);

        *ret_swap = swap->value - memory->value;
        return 0;
}

/* The kernel's hugetlb size names (mm/hugetlb_cgroup.c): "64KB", "2MB", "1GB". */
static int hugepage_size_parse(const char *s, uint64_t *ret)
{
        static const struct {
                const char *suffix;
                unsigned shift;
        } units[] = {
                { "KB", 10 },
                { "MB", 20 },
                { "GB", 30 },
        };
        uint64_t v = 0;
        const char *p = s;

        if (*p < '1' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX >> 30) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(p, units[i].suffix)) {
                        *ret = v << units[i].shift;
                        return 0;
                }
        return -EINVAL;
}

static bool host_has_hugepage_size(const HostProbe *host, const char *page_size)
{
        for (char **s = host->hugepage_sizes; s && *s; s++)
                if (streq(*s, page_size))
                        return true;
        return false;
}

/* ---------------------------------------------------------------------------
 * Validation */

static int validate_range(const OptInt *v, int64_t min, int64_t max, const char *what, const char *field,
                          const char *unit, Error *e)
{
        if (!v->set || (v->value >= min && v->value <= max))
                return 0;

        if (v->value <= 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "%s.%s: %" PRIi64 " is not a limit; leave the field unset for no limit",
                                 what, field, v->value);
        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                         "%s.%s: %" PRIi64 " is out of range, must be %" PRIi64 "..%" PRIi64 "%s", what,
                         field, v->value, min, max, unit);
}

static int validate_cpuset(const char *s, const char *what, const char *field, Error *e)
{
        CpuSet set;
        int r;

        if (!s)
                return 0;

        r = cpuset_parse(s, &set);
        if (r == -ERANGE)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "%s.%s: \"%s\" names an index of %d or more", what, field, s, CPUSET_MAX);
        if (r < 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "%s.%s: \"%s\" is not a list such as \"0-3,6\"", what, field, s);
        if (cpuset_is_empty(&set))
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "%s.%s: the list is empty; leave the field unset to use the parent's", what,
                                 field);
        return 0;
}

static int validate_hugepages(const Resources *r, const char *what, const HostProbe *host, Error *e)
{
        for (size_t i = 0; i < r->n_hugepages; i++) {
                const HugepageLimit *h = &r->hugepages[i];
                uint64_t size;

                if (!h->page_size || hugepage_size_parse(h->page_size, &size) < 0)
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         "%s.hugepage_limits[%zu].page_size: \"%s\" is not a page size such "
                                         "as \"2MB\"",
                                         what, i, strempty(h->page_size));
                if (host && !host_has_hugepage_size(host, h->page_size))
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         "%s.hugepage_limits[%zu].page_size: this host has no %s hugepages",
                                         what, i, h->page_size);
                for (size_t j = 0; j < i; j++)
                        if (streq_ptr(r->hugepages[j].page_size, h->page_size))
                                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                                 "%s.hugepage_limits[%zu].page_size: %s is already limited "
                                                 "by hugepage_limits[%zu]",
                                                 what, i, h->page_size, j);
                if (h->limit % size != 0)
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         "%s.hugepage_limits[%zu].limit: %" PRIu64
                                         " is not a multiple of the page size %s (%" PRIu64
                                         " bytes); the kernel would round it down",
                                         what, i, h->limit, h->page_size, size);
        }
        return 0;
}

int resources_validate(const Resources *r, const char *what, const HostProbe *host, Error *e)
{
        int k;

        k = validate_range(&r->cpu_period, CPU_PERIOD_MIN, CPU_PERIOD_MAX, what, "cpu_period", " µs", e);
        if (k < 0)
                return k;
        k = validate_range(&r->cpu_quota, CPU_QUOTA_MIN, CPU_QUOTA_MAX, what, "cpu_quota", " µs", e);
        if (k < 0)
                return k;
        k = validate_range(&r->cpu_shares, CPU_SHARES_MIN, CPU_SHARES_MAX, what, "cpu_shares", "", e);
        if (k < 0)
                return k;

        k = validate_cpuset(r->cpuset_cpus, what, "cpuset_cpus", e);
        if (k < 0)
                return k;
        k = validate_cpuset(r->cpuset_mems, what, "cpuset_mems", e);
        if (k < 0)
                return k;

        k = validate_range(&r->memory_limit, 1, INT64_MAX, what, "memory_limit_in_bytes", " bytes", e);
        if (k < 0)
                return k;
        if (r->memory_swap.set) {
                if (!r->memory_limit.set)
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         "%s.memory_swap_limit_in_bytes: unable to set a swap limit "
                                         "(%" PRIi64 ") without a memory limit",
                                         what, r->memory_swap.value);
                if (r->memory_swap.value < r->memory_limit.value)
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         "%s.memory_swap_limit_in_bytes: %" PRIi64
                                         " is below memory_limit_in_bytes %" PRIi64
                                         " (it is memory + swap: equal means no swap)",
                                         what, r->memory_swap.value, r->memory_limit.value);
        }

        k = validate_hugepages(r, what, host, e);
        if (k < 0)
                return k;

        return validate_range(&r->pids_limit, 1, PIDS_LIMIT_MAX, what, "pids_limit", "", e);
}

/* ---------------------------------------------------------------------------
 * Totals */

static int sum_error(const char *field, Error *e)
{
        return error_set(e, GRPC_OUT_OF_RANGE, ERANGE,
                         "%s: the sum of resources and overhead does not fit in 64 bits", field);
}

/* The pod's limit plus the overhead's: no limit when the pod has none; an
 * overhead that says nothing adds nothing (Kubernetes' pod overhead is 0
 * where unset). */
static int combine_add(const OptInt *pod, const OptInt *ovh, const char *field, OptInt *ret, Error *e)
{
        int64_t v;

        if (!pod->set) {
                *ret = (OptInt) {};
                return 0;
        }
        if (__builtin_add_overflow(pod->value, ovh->set ? ovh->value : 0, &v))
                return sum_error(field, e);
        *ret = (OptInt) { .set = true, .value = v };
        return 0;
}

static int combine_add_saturating(const OptInt *a, const OptInt *b, int64_t max, const char *field,
                                  OptInt *ret, Error *e)
{
        int r;

        r = combine_add(a, b, field, ret, e);
        if (r < 0)
                return r;
        if (ret->set && ret->value > max)
                ret->value = max;
        return 0;
}

/* q_res + ceil(q_ovh * p_res / p_ovh), the quota of both parts at the pod's period. */
static int combine_quota(const Resources *pod, const Resources *overhead, OptInt *ret, Error *e)
{
        int64_t p_res, p_ovh, scaled, total;

        if (!pod->cpu_quota.set) {
                *ret = (OptInt) {};
                return 0;
        }
        if (!overhead->cpu_quota.set) {
                *ret = pod->cpu_quota;
                return 0;
        }

        p_res = pod->cpu_period.set ? pod->cpu_period.value : CPU_PERIOD_DEFAULT;
        p_ovh = overhead->cpu_period.set ? overhead->cpu_period.value : CPU_PERIOD_DEFAULT;
        if (p_res <= 0 || p_ovh <= 0 || pod->cpu_quota.value < 0 || overhead->cpu_quota.value < 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "cpu_quota: cannot combine quota %" PRIi64 "/%" PRIi64 " with %" PRIi64
                                 "/%" PRIi64,
                                 pod->cpu_quota.value, p_res, overhead->cpu_quota.value, p_ovh);

        if (__builtin_mul_overflow(overhead->cpu_quota.value, p_res, &scaled))
                return sum_error("cpu_quota", e);
        scaled = scaled / p_ovh + (scaled % p_ovh != 0);
        if (__builtin_add_overflow(pod->cpu_quota.value, scaled, &total))
                return sum_error("cpu_quota", e);
        if (total > CPU_QUOTA_MAX)
                return error_set(e, GRPC_OUT_OF_RANGE, ERANGE,
                                 "cpu_quota: the sandbox total %" PRIi64 " µs per %" PRIi64
                                 " µs exceeds the kernel's maximum of %" PRIi64 " µs",
                                 total, p_res, CPU_QUOTA_MAX);

        *ret = (OptInt) { .set = true, .value = total };
        return 0;
}

static int combine_cpuset(const char *a, const char *b, const char *field, char **ret, Error *e)
{
        CpuSet x, y;

        if (!a) {
                *ret = NULL;
                return 0;
        }
        if (!b)
                b = "";
        if (cpuset_parse(a, &x) < 0 || cpuset_parse(b, &y) < 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "%s: cannot merge \"%s\" and \"%s\"",
                                 field, a, b);
        cpuset_union(&x, &y);
        return cpuset_format(&x, ret);
}

static int combine_hugepages(const Resources *pod, const Resources *overhead, Resources *t, Error *e)
{
        if (pod->n_hugepages == 0)
                return 0;

        t->hugepages = calloc(pod->n_hugepages, sizeof *t->hugepages);
        if (!t->hugepages)
                return -ENOMEM;

        for (size_t i = 0; i < pod->n_hugepages; i++) {
                const HugepageLimit *p = &pod->hugepages[i], *o = hugepage_find(overhead, p->page_size);
                HugepageLimit *h = &t->hugepages[t->n_hugepages];

                if (!p->page_size)
                        continue;
                /* A size the overhead does not name: it uses none. */
                if (__builtin_add_overflow(p->limit, o ? o->limit : 0, &h->limit))
                        return error_set(e, GRPC_OUT_OF_RANGE, ERANGE,
                                         "hugepage_limits: the sum of the %s limits does not fit in 64 bits",
                                         p->page_size);
                h->page_size = strdup(p->page_size);
                if (!h->page_size)
                        return -ENOMEM;
                t->n_hugepages++;
        }
        return 0;
}

int resources_combine(const Resources *pod, const Resources *overhead, Resources *ret, Error *e)
{
        _cleanup_(resources_done) Resources t = {};
        int r;

        /* The total's quota is expressed at the pod's period. */
        t.cpu_period = pod->cpu_period;
        r = combine_quota(pod, overhead, &t.cpu_quota, e);
        if (r < 0)
                return r;
        r = combine_add_saturating(&pod->cpu_shares, &overhead->cpu_shares, CPU_SHARES_MAX, "cpu_shares",
                                   &t.cpu_shares, e);
        if (r < 0)
                return r;

        r = combine_cpuset(pod->cpuset_cpus, overhead->cpuset_cpus, "cpuset_cpus", &t.cpuset_cpus, e);
        if (r < 0)
                return r;
        r = combine_cpuset(pod->cpuset_mems, overhead->cpuset_mems, "cpuset_mems", &t.cpuset_mems, e);
        if (r < 0)
                return r;

        r = combine_add(&pod->memory_limit, &overhead->memory_limit, "memory_limit_in_bytes",
                        &t.memory_limit, e);
        if (r < 0)
                return r;
        /* The overhead's memory + swap is its memory when it allows no swap
         * (says nothing about swap). */
        r = combine_add(&pod->memory_swap, overhead->memory_swap.set ? &overhead->memory_swap : &overhead->memory_limit,
                        "memory_swap_limit_in_bytes", &t.memory_swap, e);
        if (r < 0)
                return r;
        /* memory + swap means nothing without memory. */
        if (!t.memory_limit.set)
                t.memory_swap = (OptInt) {};

        r = combine_hugepages(pod, overhead, &t, e);
        if (r < 0)
                return r;

        r = combine_add_saturating(&pod->pids_limit, &overhead->pids_limit, PIDS_LIMIT_MAX, "pids_limit",
                                   &t.pids_limit, e);
        if (r < 0)
                return r;

        *ret = t;
        t = (Resources) {};
        return 0;
}

/* ---------------------------------------------------------------------------
 * Translation */

static const char *const sandbox_node_table[_NODE_MAX] = {
        [NODE_SANDBOX] = "",
        [NODE_VCPU] = "vcpu",
        [NODE_POD_OVERHEAD] = "pod_overhead",
};

const char *sandbox_node_to_string(SandboxNode n)
{
        if (n < 0 || n >= _NODE_MAX)
                return NULL;
        return sandbox_node_table[n];
}

#define FIELD(f) offsetof(Resources, f)

typedef struct TranslateContext {
        const Resources *r;
        const HostProbe *host;
        const char *what;               /* "resources" or "overhead", for messages */
        int version;                    /* of the controller's hierarchy: 1 or 2 */
        const char *page_size;          /* hugetlb rules: the size at hand */
} TranslateContext;

typedef struct FileRule FileRule;
struct FileRule {
        Controller controller;
        /* The file on v1 and on v2 (NULL: nothing to write there). For
         * hugetlb, what follows "hugetlb.<size>". */
        const char *file[2];
        /* format_int: the field and the value that says "no limit". */
        size_t field;
        const char *unset[2];
        bool optional;
        /* Fills w->value (and may mark w optional or inherit); 0 or -errno. */
        int (*format)(const FileRule *rule, const TranslateContext *c, CgroupWrite *w, Error *e);
};

static int set_value(CgroupWrite *w, Error *e, const char *format, ...) _printf_(3, 4);
static int set_value(CgroupWrite *w, Error *e, const char *format, ...)
{
        va_list ap;
        int n;

        va_start(ap, format);
        n = vsnprintf(w->value, sizeof w->value, format, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof w->value)
                return error_set(e, GRPC_INVALID_ARGUMENT, E2BIG,
                                 "The value for %s does not fit in one write of %zu bytes", w->file,
                                 sizeof w->value - 1);
        return 0;
}

static const OptInt *rule_opt_int(const FileRule *rule, const Resources *r)
{
        return (const OptInt *) ((const uint8_t *) r + rule->field);
}

/* An integer field as is, or the rule's "no limit" value. */
static int format_int(const FileRule *rule, const TranslateContext *c, CgroupWrite *w, Error *e)
{
        const OptInt *v = rule_opt_int(rule, c->r);

        if (v->set)
                return set_value(w, e, "%" PRIi64, v->value);
        return set_value(w, e, "%s", rule->unset[c->version - 1]);
}

/* v1: cpu.cfs_quota_us (after cpu.cfs_period_us). v2: cpu.max holds both and
 * is always written whole: a single number would change only the quota. */
static int format_cpu_quota(const FileRule *rule _unused_, const TranslateContext *c, CgroupWrite *w,
                            Error *e)
{
        const Resources *r = c->r;
        int64_t period = r->cpu_period.set ? r->cpu_period.value : CPU_PERIOD_DEFAULT;

        if (c->version == 1)
                return set_value(w, e, "%" PRIi64, r->cpu_quota.set ? r->cpu_quota.value : -1);
        if (r->cpu_quota.set)
                return set_value(w, e, "%" PRIi64 " %" PRIi64, r->cpu_quota.value, period);
        return set_value(w, e, "max %" PRIi64, period);
}

static int format_cpu_shares(const FileRule *rule _unused_, const TranslateContext *c, CgroupWrite *w,
                             Error *e)
{
        const OptInt *shares = &c->r->cpu_shares;

        if (c->version == 1)
                return set_value(w, e, "%" PRIi64, shares->set ? shares->value : CPU_SHARES_DEFAULT);
        if (shares->set && shares->value > 0)
                return set_value(w, e, "%" PRIu64, cpu_shares_to_weight((uint64_t) shares->value));
        return set_value(w, e, "%" PRIu64, CPU_WEIGHT_DEFAULT);
}

/* Canonical lists, so that the kernel's read-back matches. Unset: v2 writes
 * the empty list (inherit the parent's effective set); v1 has no such thing
 * and an empty v1 cpuset cannot take tasks, so the engine copies the
 * parent's. */
static int format_cpuset(const FileRule *rule, const TranslateContext *c, CgroupWrite *w, Error *e)
{
        const char *s = *(char *const *) ((const uint8_t *) c->r + rule->field);
        _cleanup_free_ char *canonical = NULL;
        CpuSet set;
        int r;

        if (!s) {
                w->inherit = c->version == 1;
                return set_value(w, e, "%s", "");
        }

        r = cpuset_parse(s, &set);
        if (r < 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, -r,
                                 "%s.%s: \"%s\" is not a list such as \"0-3,6\"", c->what,
                                 rule->field == FIELD(cpuset_cpus) ? "cpuset_cpus" : "cpuset_mems", s);
        r = cpuset_format(&set, &canonical);
        if (r < 0)
                return r;
        return set_value(w, e, "%s", canonical);
}

/* v1 memory.memsw.limit_in_bytes takes memory + swap as given; v2
 * memory.swap.max takes swap alone. Without swap accounting the file is
 * missing: runc then skips "max" and "0", which limit nothing beyond what the
 * host does, and so do we; a swap allowance there cannot be enforced. */
static int format_memory_swap(const FileRule *rule _unused_, const TranslateContext *c, CgroupWrite *w,
                              Error *e)
{
        const Resources *r = c->r;
        int64_t swap = -1;
        int k;

        k = memory_swap_to_v2(&r->memory_limit, &r->memory_swap, &swap, e);
        if (k < 0)
                return k;

        if (!c->host->features.memory_swap) {
                if (swap > 0)
                        return error_set(e, GRPC_FAILED_PRECONDITION, EOPNOTSUPP,
                                         "%s.memory_swap_limit_in_bytes: %" PRIi64
                                         " allows swap, but swap accounting is not enabled on this host",
                                         c->what, r->memory_swap.value);
                w->optional = true;
        }

        if (c->version == 1)
                return set_value(w, e, "%" PRIi64, r->memory_swap.set ? r->memory_swap.value : -1);
        if (swap < 0)
                return set_value(w, e, "max");
        return set_value(w, e, "%" PRIi64, swap);
}

static int format_hugetlb(const FileRule *rule, const TranslateContext *c, CgroupWrite *w, Error *e)
{
        const HugepageLimit *h = hugepage_find(c->r, c->page_size);

        if (h)
                return set_value(w, e, "%" PRIu64, h->limit);
        return set_value(w, e, "%s", rule->unset[c->version - 1]);
}

/* Every file the daemon writes, in the order each controller's files are
 * written on creation. Controllers come in controller_order. */
static const FileRule file_rules[] = {
        { CONTROLLER_CPUSET, { "cpuset.cpus", "cpuset.cpus" }, FIELD(cpuset_cpus), {}, false,
          format_cpuset },
        { CONTROLLER_CPUSET, { "cpuset.mems", "cpuset.mems" }, FIELD(cpuset_mems), {}, false,
          format_cpuset },

        /* unset: CPU_PERIOD_DEFAULT */
        { CONTROLLER_CPU, { "cpu.cfs_period_us", NULL }, FIELD(cpu_period), { "100000", NULL }, false,
          format_int },
        { CONTROLLER_CPU, { "cpu.cfs_quota_us", "cpu.max" }, 0, {}, false, format_cpu_quota },
        { CONTROLLER_CPU, { "cpu.shares", "cpu.weight" }, 0, {}, false, format_cpu_shares },

        { CONTROLLER_MEMORY, { "memory.limit_in_bytes", "memory.max" }, FIELD(memory_limit), { "-1", "max" },
          false, format_int },
        { CONTROLLER_MEMORY, { "memory.memsw.limit_in_bytes", "memory.swap.max" }, 0, {}, false,
          format_memory_swap },

        /* The fault limit and the reservation limit (5.7+; runc writes both,
         * skipping the second where the kernel lacks it). */
        { CONTROLLER_HUGETLB, { "limit_in_bytes", "max" }, 0, { "-1", "max" }, false, format_hugetlb },
        { CONTROLLER_HUGETLB, { "rsvd.limit_in_bytes", "rsvd.max" }, 0, { "-1", "max" }, true,
          format_hugetlb },

        { CONTROLLER_PIDS, { "pids.max", "pids.max" }, FIELD(pids_limit), { "max", "max" }, false,
          format_int },
};

/* cpuset first: a v1 cpuset must be populated before anything else happens
 * in it. */
static const Controller controller_order[] = {
        CONTROLLER_CPUSET, CONTROLLER_CPU, CONTROLLER_MEMORY, CONTROLLER_HUGETLB, CONTROLLER_PIDS,
};

/* The children hold threads of one process: only the cpu controller is
 * theirs (DESIGN.md §1; on v2 they are threaded and domain controllers are
 * never enabled there). */
static bool node_uses_controller(SandboxNode node, Controller c)
{
        return node == NODE_SANDBOX || c == CONTROLLER_CPU;
}

/* The first field of r that needs controller c, NULL if none is set. */
static const char *limit_needing(const Resources *r, Controller c)
{
        switch (c) {
        case CONTROLLER_CPU:
                return r->cpu_quota.set    ? "cpu_quota"
                       : r->cpu_period.set ? "cpu_period"
                       : r->cpu_shares.set ? "cpu_shares"
                                           : NULL;
        case CONTROLLER_CPUSET:
                return r->cpuset_cpus ? "cpuset_cpus" : r->cpuset_mems ? "cpuset_mems" : NULL;
        case CONTROLLER_MEMORY:
                return r->memory_limit.set  ? "memory_limit_in_bytes"
                       : r->memory_swap.set ? "memory_swap_limit_in_bytes"
                                            : NULL;
        case CONTROLLER_HUGETLB:
                return r->n_hugepages > 0 ? "hugepage_limits" : NULL;
        case CONTROLLER_PIDS:
                return r->pids_limit.set ? "pids_limit" : NULL;
        default:
                return NULL;
        }
}

typedef struct WriteList {
        CgroupWrite *items;
        size_t n, allocated;
} WriteList;

static void write_list_done(WriteList *l)
{
        free(l->items);
        *l = (WriteList) {};
}

static CgroupWrite *write_list_push(WriteList *l)
{
        if (l->n == l->allocated) {
                size_t a = l->allocated ? l->allocated * 2 : 16;
                CgroupWrite *items = reallocarray(l->items, a, sizeof *items);

                if (!items)
                        return NULL;
                l->items = items;
                l->allocated = a;
        }
        l->items[l->n] = (CgroupWrite) {};
        return &l->items[l->n++];
}

static int emit_rule(WriteList *l, SandboxNode node, const FileRule *rule, const TranslateContext *c,
                     Error *e)
{
        const char *file = rule->file[c->version - 1];
        CgroupWrite *w;
        int n, r;

        if (!file)
                return 0;

        w = write_list_push(l);
        if (!w)
                return -ENOMEM;
        w->node = node;
        w->controller = rule->controller;
        w->version = c->version;
        w->optional = rule->optional;

        if (rule->controller == CONTROLLER_HUGETLB)
                n = snprintf(w->file, sizeof w->file, "hugetlb.%s.%s", c->page_size, file);
        else
                n = snprintf(w->file, sizeof w->file, "%s", file);
        if (n < 0 || (size_t) n >= sizeof w->file)
                return error_set(e, GRPC_INTERNAL, ENAMETOOLONG, "The file name hugetlb.%s.%s is too long",
                                 strna(c->page_size), file);

        r = rule->format(rule, c, w, e);
        if (r < 0) {
                l->n--;
                return r;
        }
        return 0;
}

static int emit_controller(WriteList *l, SandboxNode node, Controller controller, const TranslateContext *c,
                           Error *e)
{
        int r;

        for (const FileRule *rule = file_rules; rule < file_rules + ELEMENTSOF(file_rules); rule++) {
                if (rule->controller != controller)
                        continue;
                r = emit_rule(l, node, rule, c, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int translate_node(WriteList *l, SandboxNode node, const Resources *r, const char *what,
                          const HostProbe *host, Error *e)
{
        for (size_t i = 0; i < ELEMENTSOF(controller_order); i++) {
                Controller controller = controller_order[i];
                TranslateContext c = {
                        .r = r,
                        .host = host,
                        .what = what,
                        .version = host->controllers[controller].version,
                };
                const char *field;
                int k;

                if (!node_uses_controller(node, controller))
                        continue;

                if (c.version != 1 && c.version != 2) {
                        field = limit_needing(r, controller);
                        if (field)
                                return error_set(e, GRPC_FAILED_PRECONDITION, EOPNOTSUPP,
                                                 "%s.%s is set, but this host has no %s controller", what,
                                                 field, controller_to_string(controller));
                        continue;
                }

                if (controller != CONTROLLER_HUGETLB) {
                        k = emit_controller(l, node, controller, &c, e);
                        if (k < 0)
                                return k;
                        continue;
                }

                /* Every size the host has, so that sizes left unset are
                 * unlimited (and an update can lift a limit). */
                for (size_t j = 0; j < r->n_hugepages; j++)
                        if (!r->hugepages[j].page_size ||
                            !host_has_hugepage_size(host, r->hugepages[j].page_size))
                                return error_set(e, GRPC_FAILED_PRECONDITION, EOPNOTSUPP,
                                                 "%s.hugepage_limits[%zu].page_size: this host has no %s "
                                                 "hugepages",
                                                 what, j, strna(r->hugepages[j].page_size));
                for (char **size = host->hugepage_sizes; size && *size; size++) {
                        c.page_size = *size;
                        k = emit_controller(l, node, controller, &c, e);
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

int resources_translate(const Resources *pod, const Resources *overhead, const Resources *total,
                        const HostProbe *host, CgroupWrite **ret, size_t *ret_n, Error *e)
{
        static const Resources none = {};
        _cleanup_(write_list_done) WriteList l = {};
        const struct {
                SandboxNode node;
                const Resources *r;
                const char *what;
        } nodes[] = {
                { NODE_SANDBOX, total ?: &none, "resources" },
                { NODE_VCPU, pod ?: &none, "resources" },
                { NODE_POD_OVERHEAD, overhead ?: &none, "overhead" },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                r = translate_node(&l, nodes[i].node, nodes[i].r, nodes[i].what, host, e);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(l.items);
        *ret_n = l.n;
        return 0;
}
