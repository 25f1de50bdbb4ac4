/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What create and update share: the resource options (--memory=512M,
 * --overhead-cpu-quota=50000, ...), --spec FILE.json, SIZE parsing, and the
 * resources formatted in the options' own words for output. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/ctl.h"

enum {
        ARG_CPU_PERIOD = CTL_ARG_RESOURCES,
        ARG_CPU_QUOTA,
        ARG_CPU_SHARES,
        ARG_CPUSET_CPUS,
        ARG_CPUSET_MEMS,
        ARG_MEMORY,
        ARG_MEMORY_SWAP,
        ARG_HUGEPAGES,
        ARG_PIDS,
        _ARG_RESOURCE_END,
        ARG_OVERHEAD = 0x40, /* added to the above: the same for the overhead */
        ARG_SPEC = CTL_ARG_RESOURCES + 0x80,
};

/* clang-format off */
#define RESOURCE_OPTIONS_FOR(prefix, offset)                                            \
        {prefix "cpu-period", required_argument, NULL, ARG_CPU_PERIOD + (offset)},      \
        {prefix "cpu-quota", required_argument, NULL, ARG_CPU_QUOTA + (offset)},        \
        {prefix "cpu-shares", required_argument, NULL, ARG_CPU_SHARES + (offset)},      \
        {prefix "cpuset-cpus", required_argument, NULL, ARG_CPUSET_CPUS + (offset)},    \
        {prefix "cpuset-mems", required_argument, NULL, ARG_CPUSET_MEMS + (offset)},    \
        {prefix "memory", required_argument, NULL, ARG_MEMORY + (offset)},              \
        {prefix "memory-swap", required_argument, NULL, ARG_MEMORY_SWAP + (offset)},    \
        {prefix "hugepages", required_argument, NULL, ARG_HUGEPAGES + (offset)},        \
        {prefix "hugetlb", required_argument, NULL, ARG_HUGEPAGES + (offset)},          \
        {prefix "pids", required_argument, NULL, ARG_PIDS + (offset)}

/* Entries of a struct option table: every resource option, its --overhead-
 * twin, and --spec. resources_opts_parse() handles them all. */
#define RESOURCES_OPTIONS                                                               \
        RESOURCE_OPTIONS_FOR("", 0), RESOURCE_OPTIONS_FOR("overhead-", ARG_OVERHEAD),   \
        {"spec", required_argument, NULL, ARG_SPEC}
/* clang-format on */

typedef struct HugepageOpt {
        char page_size[24]; /* as the kernel names it: "2MB" */
        uint64_t limit;
} HugepageOpt;

/* The values given on the command line, [0] for the pod's resources, [1] for
 * the overhead. Strings point into argv. */
typedef struct ResourcesOpts {
        Sandboxcg__V1__Resources values[2]; /* has_ flags say what was given */
        HugepageOpt *hugepages[2];
        size_t n_hugepages[2];
        bool given[2];
        const char *spec_path; /* --spec, "-" for stdin */
} ResourcesOpts;

void resources_opts_init(ResourcesOpts *o);
void resources_opts_done(ResourcesOpts *o);

/* Handles option c (one of RESOURCES_OPTIONS) with its argument. Returns 0,
 * or prints what is wrong and returns -EINVAL (-ENOMEM). */
int resources_opts_parse(ResourcesOpts *o, int c, const char *arg);

/* A new request of type desc: read from --spec if given (JSON, see
 * pbjson.h), else empty. Returns 0, or prints why the spec is unusable and
 * returns -EINVAL (-ENOMEM). */
int resources_opts_load_spec(const ResourcesOpts *o, const ProtobufCMessageDescriptor *desc,
                             ProtobufCMessage **ret);

/* Merges the command line's values into *resources and *overhead, which
 * belong to a request built by resources_opts_load_spec() (allocated with
 * malloc(), created when NULL and needed): a value given replaces the
 * spec's, a hugepage limit replaces the spec's for the same page size. */
int resources_opts_apply(const ResourcesOpts *o, Sandboxcg__V1__Resources **resources,
                         Sandboxcg__V1__Resources **overhead);

/* SIZE: a whole number of bytes, or with a K, M, G or T suffix (powers of
 * 1024; "KB", "KiB" and lower case "k" are accepted too), at most max.
 * -EINVAL for anything else (signs, blanks, fractions), -ERANGE above max. */
int parse_size(const char *s, uint64_t max, uint64_t *ret);

/* The shortest exact spelling: "512M", "1G", "1000". buf must hold
 * FORMAT_SIZE_MAX bytes. */
#define FORMAT_SIZE_MAX 24
const char *format_size(uint64_t v, char buf[static FORMAT_SIZE_MAX]);

/* The set fields of r in the words of the options, "cpu-quota=50000
 * memory=512M hugepages=2MB=1G", or "no limits". Returns 0 and a new string
 * in *ret, or -ENOMEM. */
int format_resources(const Sandboxcg__V1__Resources *r, char **ret);
