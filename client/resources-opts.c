/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/pbjson.h"
#include "client/resources-opts.h"

/* The most a --spec file may hold: a request larger than ttrpc's frame limit
 * could not be sent anyway. */
#define SPEC_SIZE_MAX (4U * 1024U * 1024U)

typedef enum ValueKind {
        VALUE_COUNT,     /* a whole number */
        VALUE_SIZE,      /* SIZE */
        VALUE_LIST,      /* a cpuset list, passed on as it is */
        VALUE_HUGEPAGES, /* PAGESIZE=SIZE */
} ValueKind;

/* Each resource option and the field of Resources that it sets. */
static const struct {
        const char *name; /* without "overhead-" */
        const char *field;
        ValueKind kind;
} resource_options[_ARG_RESOURCE_END - ARG_CPU_PERIOD] = {
        [ARG_CPU_PERIOD - ARG_CPU_PERIOD] = {"cpu-period", "cpu_period", VALUE_COUNT},
        [ARG_CPU_QUOTA - ARG_CPU_PERIOD] = {"cpu-quota", "cpu_quota", VALUE_COUNT},
        [ARG_CPU_SHARES - ARG_CPU_PERIOD] = {"cpu-shares", "cpu_shares", VALUE_COUNT},
        [ARG_CPUSET_CPUS - ARG_CPU_PERIOD] = {"cpuset-cpus", "cpuset_cpus", VALUE_LIST},
        [ARG_CPUSET_MEMS - ARG_CPU_PERIOD] = {"cpuset-mems", "cpuset_mems", VALUE_LIST},
        [ARG_MEMORY - ARG_CPU_PERIOD] = {"memory", "memory_limit_in_bytes", VALUE_SIZE},
        [ARG_MEMORY_SWAP - ARG_CPU_PERIOD] = {"memory-swap", "memory_swap_limit_in_bytes", VALUE_SIZE},
        [ARG_HUGEPAGES - ARG_CPU_PERIOD] = {"hugepages", "hugepage_limits", VALUE_HUGEPAGES},
        [ARG_PIDS - ARG_CPU_PERIOD] = {"pids", "pids_limit", VALUE_COUNT},
};

static void *member(const void *m, unsigned offset)
{
        return (char *) m + offset;
}

void resources_opts_init(ResourcesOpts *o)
{
        *o = (ResourcesOpts){};
        for (size_t i = 0; i < 2; i++)
                sandboxcg__v1__resources__init(&o->values[i]);
}

void resources_opts_done(ResourcesOpts *o)
{
        for (size_t i = 0; i < 2; i++) {
                free(o->hugepages[i]);
                o->hugepages[i] = NULL;
                o->n_hugepages[i] = 0;
        }
}

int parse_size(const char *s, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0, unit = 1;
        const char *p = s;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }

        switch (*p) {
        case '\0':
                break;
        case 'k':
        case 'K':
                unit = 1ULL << 10;
                break;
        case 'M':
                unit = 1ULL << 20;
                break;
        case 'G':
                unit = 1ULL << 30;
                break;
        case 'T':
                unit = 1ULL << 40;
                break;
        default:
                return -EINVAL;
        }
        if (unit > 1) {
                p++;
                if (streq(p, "B") || streq(p, "iB"))
                        p += strlen(p);
                if (*p != '\0')
                        return -EINVAL;
        }

        if (v > max / unit)
                return -ERANGE;
        *ret = v * unit;
        return 0;
}

const char *format_size(uint64_t v, char buf[static FORMAT_SIZE_MAX])
{
        static const char suffixes[] = "KMGT";
        int i;

        for (i = 3; i >= 0; i--) {
                uint64_t unit = 1ULL << (10 * (i + 1));

                if (v >= unit && v % unit == 0)
                        break;
        }
        if (i >= 0)
                (void) snprintf(buf, FORMAT_SIZE_MAX, "%" PRIu64 "%c", v >> (10 * (i + 1)), suffixes[i]);
        else
                (void) snprintf(buf, FORMAT_SIZE_MAX, "%" PRIu64, v);
        return buf;
}

/* What the daemon should never send, shown as it is. */
static const char *format_size_signed(int64_t v, char buf[static FORMAT_SIZE_MAX])
{
        if (v >= 0)
                return format_size((uint64_t) v, buf);
        (void) snprintf(buf, FORMAT_SIZE_MAX, "%" PRIi64, v);
        return buf;
}

/* A whole number, no sign, at most max. */
static int parse_count(const char *s, uint64_t max, uint64_t *ret)
{
        uint64_t v;
        int r;

        r = parse_size(s, max, &v);
        if (r < 0)
                return r;
        /* No suffixes on counts and microseconds. */
        if (s[strspn(s, "0123456789")] != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "2MB=1G": the page size as the kernel names it in hugetlb.<size>.* ("2MB",
 * "1GB", "64KB") and the limit in bytes. */
static int parse_hugepages(const char *arg, HugepageOpt *ret, const char **ret_what)
{
        _cleanup_free_ char *size = NULL;
        const char *eq = strchr(arg, '=');
        uint64_t page_size, limit;
        int r;

        *ret_what = "expected PAGESIZE=SIZE, e.g. 2MB=1G";
        if (!eq)
                return -EINVAL;
        size = strndup(arg, (size_t) (eq - arg));
        if (!size)
                return -ENOMEM;

        r = parse_size(size, UINT64_MAX, &page_size);
        if (r < 0 || page_size == 0 || page_size % 1024 != 0) {
                *ret_what = "the page size is not a size in KB, MB or GB, such as 2MB or 1GB";
                return -EINVAL;
        }
        r = parse_size(eq + 1, INT64_MAX, &limit);
        if (r < 0) {
                *ret_what = r == -ERANGE ? "the limit is too large"
                                         : "the limit is not a SIZE (bytes, or a number with a K, M, G or T "
                                           "suffix)";
                return r;
        }

        if (page_size % (1ULL << 30) == 0)
                (void) snprintf(ret->page_size, sizeof ret->page_size, "%" PRIu64 "GB", page_size >> 30);
        else if (page_size % (1ULL << 20) == 0)
                (void) snprintf(ret->page_size, sizeof ret->page_size, "%" PRIu64 "MB", page_size >> 20);
        else
                (void) snprintf(ret->page_size, sizeof ret->page_size, "%" PRIu64 "KB", page_size >> 10);
        ret->limit = limit;
        return 0;
}

static int add_hugepages(ResourcesOpts *o, size_t part, const HugepageOpt *h)
{
        HugepageOpt *a;

        /* Given twice: the last one counts, as for every other option. */
        for (size_t i = 0; i < o->n_hugepages[part]; i++)
                if (streq(o->hugepages[part][i].page_size, h->page_size)) {
                        o->hugepages[part][i].limit = h->limit;
                        return 0;
                }

        a = realloc(o->hugepages[part], (o->n_hugepages[part] + 1) * sizeof(HugepageOpt));
        if (!a)
                return -ENOMEM;
        o->hugepages[part] = a;
        a[o->n_hugepages[part]++] = *h;
        return 0;
}

int resources_opts_parse(ResourcesOpts *o, int c, const char *arg)
{
        size_t part = c >= ARG_CPU_PERIOD + ARG_OVERHEAD && c < _ARG_RESOURCE_END + ARG_OVERHEAD;
        int opt = part ? c - ARG_OVERHEAD : c;
        const ProtobufCFieldDescriptor *fd;
        Sandboxcg__V1__Resources *v = &o->values[part];
        const char *what = NULL;
        HugepageOpt h = {};
        uint64_t u;
        int r;

        if (c == ARG_SPEC) {
                if (arg[0] == '\0') {
                        fprintf(stderr, "--spec needs a file name, or '-' for standard input.\n");
                        return -EINVAL;
                }
                o->spec_path = arg;
                return 0;
        }
        assert(opt >= ARG_CPU_PERIOD && opt < _ARG_RESOURCE_END);
        fd = protobuf_c_message_descriptor_get_field_by_name(&sandboxcg__v1__resources__descriptor,
                                                             resource_options[opt - ARG_CPU_PERIOD].field);
        assert(fd);

        switch (resource_options[opt - ARG_CPU_PERIOD].kind) {
        case VALUE_COUNT:
        case VALUE_SIZE:
                if (resource_options[opt - ARG_CPU_PERIOD].kind == VALUE_SIZE) {
                        r = parse_size(arg, INT64_MAX, &u);
                        if (r == -EINVAL)
                                what = "expected a SIZE: bytes, or a number with a K, M, G or T suffix, "
                                       "such as 512M";
                } else {
                        r = parse_count(arg, INT64_MAX, &u);
                        if (r == -EINVAL)
                                what = "expected a whole number";
                }
                if (r == -ERANGE)
                        what = "too large (at most 2^63-1)";
                if (r < 0)
                        break;
                assert(fd->type == PROTOBUF_C_TYPE_INT64);
                *(protobuf_c_boolean *) member(v, fd->quantifier_offset) = true;
                *(int64_t *) member(v, fd->offset) = (int64_t) u;
                break;

        case VALUE_LIST:
                /* The daemon parses the list; here it only must not be empty. */
                if (arg[0] == '\0') {
                        what = "expected a list such as 0-3,6";
                        break;
                }
                assert(fd->type == PROTOBUF_C_TYPE_STRING);
                *(const char **) member(v, fd->offset) = arg;
                break;

        case VALUE_HUGEPAGES:
                r = parse_hugepages(arg, &h, &what);
                if (r >= 0) {
                        what = NULL;
                        r = add_hugepages(o, part, &h);
                }
                if (r == -ENOMEM) {
                        fprintf(stderr, "Out of memory.\n");
                        return r;
                }
                break;
        }

        if (what) {
                fprintf(stderr, "Invalid value '%s' for --%s%s: %s.%s\n", arg, part ? "overhead-" : "",
                        resource_options[opt - ARG_CPU_PERIOD].name, what,
                        arg[0] == '-' ? " Leave the option out for no limit." : "");
                return -EINVAL;
        }
        o->given[part] = true;
        return 0;
}

/* All of f, at most max bytes. */
static int read_all(FILE *f, size_t max, char **ret, size_t *ret_size)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                size_t n;

                if (allocated - size < 4096) {
                        char *b;

                        allocated = MAX(allocated * 2, (size_t) 16384);
                        b = realloc(buf, allocated + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                n = fread(buf + size, 1, allocated - size, f);
                size += n;
                if (size > max)
                        return -EFBIG;
                if (n == 0) {
                        if (ferror(f))
                                return -EIO;
                        break;
                }
        }

        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static void json_tokener_freep(json_tokener **t)
{
        if (*t)
                json_tokener_free(*t);
}

int resources_opts_load_spec(const ResourcesOpts *o, const ProtobufCMessageDescriptor *desc,
                             ProtobufCMessage **ret)
{
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        _cleanup_json_ json_object *j = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        const char *name;
        size_t size;
        int r;

        if (!o->spec_path) {
                ProtobufCMessage *m = malloc(desc->sizeof_message);

                if (!m) {
                        fprintf(stderr, "Out of memory.\n");
                        return -ENOMEM;
                }
                protobuf_c_message_init(desc, m);
                *ret = m;
                return 0;
        }

        if (streq(o->spec_path, "-"))
                name = "standard input";
        else {
                f = fopen(o->spec_path, "re");
                if (!f) {
                        fprintf(stderr, "Failed to open spec file %s: %m\n", o->spec_path);
                        return -EINVAL;
                }
                name = o->spec_path;
        }

        r = read_all(f ?: stdin, SPEC_SIZE_MAX, &text, &size);
        if (r == -ENOMEM) {
                fprintf(stderr, "Out of memory.\n");
                return r;
        }
        if (r < 0) {
                if (r == -EFBIG)
                        fprintf(stderr, "Spec in %s is larger than %u bytes.\n", name, SPEC_SIZE_MAX);
                else
                        fprintf(stderr, "Failed to read spec from %s: %s\n", name, strerror(-r));
                return -EINVAL;
        }

        tok = json_tokener_new();
        if (!tok) {
                fprintf(stderr, "Out of memory.\n");
                return -ENOMEM;
        }
        j = json_tokener_parse_ex(tok, text, (int) size);
        if (json_tokener_get_error(tok) != json_tokener_success || !j) {
                enum json_tokener_error e = json_tokener_get_error(tok);

                fprintf(stderr, "Spec in %s is not valid JSON: %s (at byte %zu).\n", name,
                        e == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(e),
                        json_tokener_get_parse_end(tok));
                return -EINVAL;
        }
        if (text[json_tokener_get_parse_end(tok) +
                 strspn(text + json_tokener_get_parse_end(tok), " \t\r\n")] != '\0') {
                fprintf(stderr, "Spec in %s has more than one JSON value (at byte %zu).\n", name,
                        json_tokener_get_parse_end(tok));
                return -EINVAL;
        }

        r = pbjson_message_from_json(desc, j, ret, &error);
        if (r == -ENOMEM) {
                fprintf(stderr, "Out of memory.\n");
                return r;
        }
        if (r < 0) {
                fprintf(stderr, "Invalid spec in %s: %s\n", name, error ?: strerror(-r));
                return -EINVAL;
        }
        return 0;
}

static int set_string(char **field, const char *value)
{
        char *s;

        if (!value)
                return 0;
        s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

static int merge_hugepages(Sandboxcg__V1__Resources *t, const HugepageOpt *h)
{
        Sandboxcg__V1__HugepageLimit *l, **a;

        for (size_t i = 0; i < t->n_hugepage_limits; i++) {
                l = t->hugepage_limits[i];
                if (l && streq_ptr(l->page_size, h->page_size)) {
                        l->has_limit = true;
                        l->limit = h->limit;
                        return 0;
                }
        }

        a = realloc(t->hugepage_limits, (t->n_hugepage_limits + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        t->hugepage_limits = a;

        l = malloc(sizeof *l);
        if (!l)
                return -ENOMEM;
        sandboxcg__v1__hugepage_limit__init(l);
        l->page_size = strdup(h->page_size);
        if (!l->page_size) {
                free(l);
                return -ENOMEM;
        }
        l->has_limit = true;
        l->limit = h->limit;
        a[t->n_hugepage_limits++] = l;
        return 0;
}

static int merge_resources(const ResourcesOpts *o, size_t part, Sandboxcg__V1__Resources **target)
{
        const ProtobufCMessageDescriptor *desc = &sandboxcg__v1__resources__descriptor;
        const Sandboxcg__V1__Resources *v = &o->values[part];
        Sandboxcg__V1__Resources *t = *target;
        int r;

        if (!o->given[part])
                return 0;
        if (!t) {
                t = malloc(sizeof *t);
                if (!t)
                        return -ENOMEM;
                sandboxcg__v1__resources__init(t);
                *target = t;
        }

        /* The scalars and strings that were given; hugepages below. */
        for (unsigned i = 0; i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *fd = desc->fields + i;

                if (fd->label != PROTOBUF_C_LABEL_OPTIONAL)
                        continue;
                if (fd->type == PROTOBUF_C_TYPE_INT64 &&
                    *(protobuf_c_boolean *) member(v, fd->quantifier_offset)) {
                        *(protobuf_c_boolean *) member(t, fd->quantifier_offset) = true;
                        *(int64_t *) member(t, fd->offset) = *(int64_t *) member(v, fd->offset);
                } else if (fd->type == PROTOBUF_C_TYPE_STRING && *(char **) member(v, fd->offset)) {
                        r = set_string(member(t, fd->offset), *(char **) member(v, fd->offset));
                        if (r < 0)
                                return r;
                }
        }

        for (size_t i = 0; i < o->n_hugepages[part]; i++) {
                r = merge_hugepages(t, &o->hugepages[part][i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int resources_opts_apply(const ResourcesOpts *o, Sandboxcg__V1__Resources **resources,
                         Sandboxcg__V1__Resources **overhead)
{
        int r;

        r = merge_resources(o, 0, resources);
        if (r < 0)
                return r;
        return merge_resources(o, 1, overhead);
}

int format_resources(const Sandboxcg__V1__Resources *r, char **ret)
{
        _cleanup_free_ char *s = NULL;
        char buf[FORMAT_SIZE_MAX];
        size_t l = 0;
        FILE *f;

        f = open_memstream(&s, &l);
        if (!f)
                return -ENOMEM;
        if (r) {
#define WORD(fmt, ...) fprintf(f, "%s" fmt, ftell(f) > 0 ? " " : "", __VA_ARGS__)
                if (r->has_cpu_period)
                        WORD("cpu-period=%" PRIi64, r->cpu_period);
                if (r->has_cpu_quota)
                        WORD("cpu-quota=%" PRIi64, r->cpu_quota);
                if (r->has_cpu_shares)
                        WORD("cpu-shares=%" PRIi64, r->cpu_shares);
                if (r->cpuset_cpus)
                        WORD("cpuset-cpus=%s", r->cpuset_cpus);
                if (r->cpuset_mems)
                        WORD("cpuset-mems=%s", r->cpuset_mems);
                if (r->has_memory_limit_in_bytes)
                        WORD("memory=%s", format_size_signed(r->memory_limit_in_bytes, buf));
                if (r->has_memory_swap_limit_in_bytes)
                        WORD("memory-swap=%s", format_size_signed(r->memory_swap_limit_in_bytes, buf));
                for (size_t i = 0; i < r->n_hugepage_limits; i++) {
                        const Sandboxcg__V1__HugepageLimit *h = r->hugepage_limits[i];

                        if (!h)
                                continue;
                        if (h->has_limit)
                                WORD("hugepages=%s=%s", strna(h->page_size), format_size(h->limit, buf));
                        else
                                WORD("hugepages=%s=unset", strna(h->page_size));
                }
                if (r->has_pids_limit)
                        WORD("pids=%" PRIi64, r->pids_limit);
#undef WORD
        }
        if (ftell(f) == 0)
                fputs("no limits", f);
        if (fclose(f) != 0)
                return -ENOMEM;

        *ret = TAKE_PTR(s);
        return 0;
}
