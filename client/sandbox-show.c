/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/output.h"
#include "client/resources-opts.h"
#include "client/sandbox-show.h"

#define NSEC_PER_SEC UINT64_C(1000000000)

char *format_timestamp_ns(uint64_t ns)
{
        time_t t = (time_t) (ns / NSEC_PER_SEC);
        char buf[64];
        struct tm tm;
        char *s;

        if (!localtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0) {
                /* Out of the range of struct tm: the number is all there is. */
                if (asprintf(&s, "@%" PRIu64, ns / NSEC_PER_SEC) < 0)
                        return NULL;
                return s;
        }
        return strdup(buf);
}

int format_tids(const int32_t *tids, size_t n, char **ret)
{
        _cleanup_free_ char *s = NULL;
        size_t l = 0;
        FILE *f;

        if (n == 0) {
                *ret = NULL;
                return 0;
        }
        f = open_memstream(&s, &l);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%" PRIi32, i > 0 ? " " : "", tids[i]);
        if (fclose(f) != 0)
                return -ENOMEM;

        *ret = TAKE_PTR(s);
        return 0;
}

int format_sandbox_state(const Sandboxcg__V1__Sandbox *s, char **ret)
{
        char *state = NULL;

        if (s->has_state) {
                state = enum_value_to_short_name(&sandboxcg__v1__sandbox_state__descriptor, s->state);
                if (!state)
                        return -ENOMEM;
        }
        *ret = state;
        return 0;
}

/* NULL for an unset time. */
static int format_time_field(protobuf_c_boolean has, uint64_t ns, char **ret)
{
        if (!has) {
                *ret = NULL;
                return 0;
        }
        *ret = format_timestamp_ns(ns);
        return *ret ? 0 : -ENOMEM;
}

static int print_fields(const Sandboxcg__V1__Sandbox *s, FILE *f)
{
        _cleanup_free_ char *state = NULL, *vmm = NULL, *tids = NULL, *created = NULL, *updated = NULL,
                            *exited = NULL, *resources = NULL, *overhead = NULL;
        _cleanup_table_ Table *t = NULL;
        int r;

        r = format_sandbox_state(s, &state);
        if (r < 0)
                return r;
        if (s->has_vmm_pid) {
                r = s->has_vmm_start_time ? asprintf(&vmm, "%" PRIi32 " (start time %" PRIu64 ")",
                                                     s->vmm_pid, s->vmm_start_time)
                                          : asprintf(&vmm, "%" PRIi32, s->vmm_pid);
                if (r < 0)
                        return -ENOMEM;
        }
        r = format_tids(s->vcpu_tids, s->n_vcpu_tids, &tids);
        if (r < 0)
                return r;
        r = format_time_field(s->has_created_at, s->created_at, &created);
        if (r < 0)
                return r;
        r = format_time_field(s->has_updated_at, s->updated_at, &updated);
        if (r < 0)
                return r;
        r = format_time_field(s->has_vmm_exited_at, s->vmm_exited_at, &exited);
        if (r < 0)
                return r;
        r = format_resources(s->resources, &resources);
        if (r < 0)
                return r;
        r = format_resources(s->overhead, &overhead);
        if (r < 0)
                return r;

        t = table_new_fields();
        if (!t)
                return -ENOMEM;
        const struct {
                const char *key;
                const char *value;
        } fields[] = {
                {"ID", s->id},
                {"Cgroup parent", s->cgroup_parent},
                {"State", state},
                {"VMM", vmm},
                {"vCPU threads", tids},
                {"Created", created},
                {"Updated", updated},
                {"VMM exited", exited},
                {"Resources", resources},
                {"Overhead", overhead},
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                /* Only a VMM that exited has an exit time. */
                if (!fields[i].value && streq(fields[i].key, "VMM exited"))
                        continue;
                r = table_add_field(t, fields[i].key, fields[i].value);
                if (r < 0)
                        return r;
        }
        return table_print(t, f);
}

static int print_cgroups(const Sandboxcg__V1__Sandbox *s, FILE *f)
{
        _cleanup_table_ Table *t = NULL;
        int r;

        t = table_new(2);
        if (!t)
                return -ENOMEM;
        r = table_add_row(t, "HIERARCHY", "PATH");
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_cgroups; i++) {
                r = table_add_row(t, s->cgroups[i]->hierarchy, s->cgroups[i]->path);
                if (r < 0)
                        return r;
        }
        return table_print(t, f);
}

static int print_applied(const Sandboxcg__V1__Sandbox *s, FILE *f)
{
        _cleanup_table_ Table *t = NULL;
        int r;

        t = table_new(2);
        if (!t)
                return -ENOMEM;
        r = table_add_row(t, "FILE", "VALUE");
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_applied; i++) {
                r = table_add_row(t, s->applied[i]->file, s->applied[i]->value);
                if (r < 0)
                        return r;
        }
        return table_print(t, f);
}

int sandbox_print(const Sandboxcg__V1__Sandbox *s, FILE *f)
{
        int r;

        r = print_fields(s, f);
        if (r < 0)
                return r;
        if (s->n_cgroups > 0) {
                fputc('\n', f);
                r = print_cgroups(s, f);
                if (r < 0)
                        return r;
        }
        if (s->n_applied > 0) {
                fputc('\n', f);
                r = print_applied(s, f);
        }
        return r;
}
