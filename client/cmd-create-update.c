/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ctl.h"
#include "client/pbjson.h"
#include "client/resources-opts.h"
#include "client/sandbox-show.h"

/* create and update: a request from --spec (or empty), the resource options
 * merged into it, the positional ID over the spec's id. */

enum {
        ARG_PARENT = CTL_ARG_VERB,
};

typedef struct SandboxArgs {
        ResourcesOpts resources;
        const char *parent; /* create --parent */
} SandboxArgs;

static int parse_option(int c, const char *arg, void *userdata)
{
        SandboxArgs *a = userdata;

        if (c == ARG_PARENT) {
                a->parent = arg;
                return 0;
        }
        return resources_opts_parse(&a->resources, c, arg);
}

static int set_string(char **field, const char *value)
{
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

static void sandbox_args_done(SandboxArgs *a)
{
        resources_opts_done(&a->resources);
}

static int print_create(const ProtobufCMessage *m, CtlContext *ctx)
{
        const Sandboxcg__V1__CreateSandboxResponse *resp = (const Sandboxcg__V1__CreateSandboxResponse *) m;

        if (!resp->sandbox)
                return -EBADMSG;
        if (resp->has_created && !resp->created)
                printf("Sandbox %s exists with the same spec: nothing to do.\n\n", strna(resp->sandbox->id));
        else
                printf("Created sandbox %s.\n\n", strna(resp->sandbox->id));
        return sandbox_print(resp->sandbox, stdout);
}

static int print_update(const ProtobufCMessage *m, CtlContext *ctx)
{
        const Sandboxcg__V1__UpdateSandboxResponse *resp = (const Sandboxcg__V1__UpdateSandboxResponse *) m;

        if (!resp->sandbox)
                return -EBADMSG;
        printf("Updated sandbox %s.\n\n", strna(resp->sandbox->id));
        return sandbox_print(resp->sandbox, stdout);
}

int verb_create(int argc, char **argv, CtlContext *ctx)
{
        static const struct option options[] = {
                RESOURCES_OPTIONS,
                {"parent", required_argument, NULL, ARG_PARENT},
                {},
        };
        _cleanup_(sandbox_args_done) SandboxArgs a = {};
        _cleanup_message_ Sandboxcg__V1__CreateSandboxRequest *req = NULL;
        char **args;
        unsigned n_args;
        int r;

        resources_opts_init(&a.resources);
        r = ctl_parse_args(ctx, argc, argv, options, parse_option, &a, &args, &n_args);
        if (r <= 0)
                return ctl_parse_exit(r);

        r = resources_opts_load_spec(&a.resources, &sandboxcg__v1__create_sandbox_request__descriptor,
                                     (ProtobufCMessage **) &req);
        if (r < 0)
                return ctl_parse_exit(r);

        r = set_string(&req->id, args[0]);
        if (r >= 0 && a.parent)
                r = set_string(&req->cgroup_parent, a.parent);
        if (r >= 0)
                r = resources_opts_apply(&a.resources, &req->resources, &req->overhead);
        if (r < 0) {
                fprintf(stderr, "Out of memory.\n");
                return CTL_EXIT_FAILURE;
        }

        return ctl_run(ctx, "CreateSandbox", &req->base, &sandboxcg__v1__create_sandbox_response__descriptor,
                       print_create);
}

int verb_update(int argc, char **argv, CtlContext *ctx)
{
        static const struct option options[] = {
                RESOURCES_OPTIONS,
                {},
        };
        _cleanup_(sandbox_args_done) SandboxArgs a = {};
        _cleanup_message_ Sandboxcg__V1__UpdateSandboxRequest *req = NULL;
        char **args;
        unsigned n_args;
        int r;

        resources_opts_init(&a.resources);
        r = ctl_parse_args(ctx, argc, argv, options, parse_option, &a, &args, &n_args);
        if (r <= 0)
                return ctl_parse_exit(r);

        r = resources_opts_load_spec(&a.resources, &sandboxcg__v1__update_sandbox_request__descriptor,
                                     (ProtobufCMessage **) &req);
        if (r < 0)
                return ctl_parse_exit(r);

        r = set_string(&req->id, args[0]);
        if (r >= 0)
                r = resources_opts_apply(&a.resources, &req->resources, &req->overhead);
        if (r < 0) {
                fprintf(stderr, "Out of memory.\n");
                return CTL_EXIT_FAILURE;
        }

        return ctl_run(ctx, "UpdateSandbox", &req->base, &sandboxcg__v1__update_sandbox_response__descriptor,
                       print_update);
}
