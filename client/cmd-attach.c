/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ctl.h"
#include "client/pbjson.h"
#include "client/sandbox-show.h"

/* A process or thread id: 1..INT32_MAX, decimal. */
static int parse_pid(const char *s, int32_t *ret)
{
        int32_t v = 0;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (v > (INT32_MAX - (*s - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (*s - '0');
        }
        if (*s != '\0' || v == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int print_attach_vmm(const ProtobufCMessage *m, CtlContext *ctx)
{
        const Sandboxcg__V1__AttachVmmResponse *resp = (const Sandboxcg__V1__AttachVmmResponse *) m;

        if (!resp->sandbox)
                return -EBADMSG;
        printf("Attached VMM %" PRIi32 " to sandbox %s.\n\n", resp->sandbox->vmm_pid,
               strna(resp->sandbox->id));
        return sandbox_print(resp->sandbox, stdout);
}

int verb_attach_vmm(int argc, char **argv, CtlContext *ctx)
{
        Sandboxcg__V1__AttachVmmRequest req = SANDBOXCG__V1__ATTACH_VMM_REQUEST__INIT;
        char **args;
        unsigned n_args;
        int r;

        r = ctl_parse_args(ctx, argc, argv, NULL, NULL, NULL, &args, &n_args);
        if (r <= 0)
                return ctl_parse_exit(r);

        req.id = args[0];
        if (parse_pid(args[1], &req.pid) < 0) {
                fprintf(stderr, "Invalid PID '%s': expected a process id (a positive number).\n", args[1]);
                return CTL_EXIT_USAGE;
        }
        req.has_pid = true;

        return ctl_run(ctx, "AttachVmm", &req.base, &sandboxcg__v1__attach_vmm_response__descriptor,
                       print_attach_vmm);
}

enum {
        ARG_DISCOVER = CTL_ARG_VERB,
        ARG_EXPECT,
        ARG_PATTERN,
};

typedef struct VcpusArgs {
        bool discover;
        bool has_expect;
        uint32_t expect;
        char **patterns; /* into argv */
        size_t n_patterns;
} VcpusArgs;

static void vcpus_args_done(VcpusArgs *a)
{
        free(a->patterns);
}

static int parse_vcpus_option(int c, const char *arg, void *userdata)
{
        VcpusArgs *a = userdata;

        switch (c) {
        case ARG_DISCOVER:
                a->discover = true;
                return 0;

        case ARG_EXPECT: {
                int32_t n;

                /* --expect=0 would ask for a VM without vCPUs. */
                if (parse_pid(arg, &n) < 0) {
                        fprintf(stderr, "Invalid value '%s' for --expect: expected a positive number.\n",
                                arg);
                        return -EINVAL;
                }
                a->has_expect = true;
                a->expect = (uint32_t) n;
                return 0;
        }

        case ARG_PATTERN: {
                char **p;

                if (arg[0] == '\0') {
                        fprintf(stderr, "--pattern must not be empty.\n");
                        return -EINVAL;
                }
                p = realloc(a->patterns, (a->n_patterns + 1) * sizeof(char *));
                if (!p) {
                        fprintf(stderr, "Out of memory.\n");
                        return -ENOMEM;
                }
                a->patterns = p;
                p[a->n_patterns++] = (char *) arg;
                return 0;
        }

        default:
                abort();
        }
}

static int print_attach_vcpus(const ProtobufCMessage *m, CtlContext *ctx)
{
        const Sandboxcg__V1__AttachVcpusResponse *resp = (const Sandboxcg__V1__AttachVcpusResponse *) m;
        _cleanup_free_ char *attached = NULL, *gone = NULL;
        _cleanup_table_ Table *t = NULL;
        int r;

        if (!resp->sandbox)
                return -EBADMSG;
        r = format_tids(resp->attached, resp->n_attached, &attached);
        if (r < 0)
                return r;
        r = format_tids(resp->gone, resp->n_gone, &gone);
        if (r < 0)
                return r;

        t = table_new_fields();
        if (!t)
                return -ENOMEM;
        r = table_add_field(t, "Attached", attached);
        if (r < 0)
                return r;
        r = table_add_field(t, "Gone", gone);
        if (r < 0)
                return r;
        r = table_print(t, stdout);
        if (r < 0)
                return r;

        fputc('\n', stdout);
        return sandbox_print(resp->sandbox, stdout);
}

int verb_attach_vcpus(int argc, char **argv, CtlContext *ctx)
{
        static const struct option options[] = {
                {"discover", no_argument, NULL, ARG_DISCOVER},
                {"expect", required_argument, NULL, ARG_EXPECT},
                {"pattern", required_argument, NULL, ARG_PATTERN},
                {},
        };
        Sandboxcg__V1__AttachVcpusRequest req = SANDBOXCG__V1__ATTACH_VCPUS_REQUEST__INIT;
        _cleanup_(vcpus_args_done) VcpusArgs a = {};
        _cleanup_free_ int32_t *tids = NULL;
        char **args;
        unsigned n_args;
        int r;

        r = ctl_parse_args(ctx, argc, argv, options, parse_vcpus_option, &a, &args, &n_args);
        if (r <= 0)
                return ctl_parse_exit(r);

        if (n_args > 1 && a.discover) {
                fprintf(stderr, "Give either thread ids or --discover, not both.\n");
                return CTL_EXIT_USAGE;
        }
        if (!a.discover && (a.has_expect || a.n_patterns > 0)) {
                fprintf(stderr, "--expect and --pattern go with --discover.\n");
                return CTL_EXIT_USAGE;
        }
        if (n_args == 1 && !a.discover) {
                fprintf(stderr, "Give the vCPU thread ids, or --discover to find them by name.\n");
                return CTL_EXIT_USAGE;
        }

        req.id = args[0];
        if (n_args > 1) {
                tids = calloc(n_args - 1, sizeof(int32_t));
                if (!tids) {
                        fprintf(stderr, "Out of memory.\n");
                        return CTL_EXIT_FAILURE;
                }
                for (unsigned i = 1; i < n_args; i++)
                        if (parse_pid(args[i], &tids[i - 1]) < 0) {
                                fprintf(stderr, "Invalid thread id '%s': expected a positive number.\n",
                                        args[i]);
                                return CTL_EXIT_USAGE;
                        }
                req.tids = tids;
                req.n_tids = n_args - 1;
        } else {
                req.has_discover = true;
                req.discover = true;
                req.has_expect = a.has_expect;
                req.expect = a.expect;
                req.patterns = a.patterns;
                req.n_patterns = a.n_patterns;
        }

        return ctl_run(ctx, "AttachVcpus", &req.base, &sandboxcg__v1__attach_vcpus_response__descriptor,
                       print_attach_vcpus);
}
