/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "client/ctl.h"
#include "client/pbjson.h"
#include "client/sandbox-show.h"

/* get ID and list: the read-only verbs. */

static int print_get(const ProtobufCMessage *m, CtlContext *ctx)
{
        const Sandboxcg__V1__GetSandboxResponse *resp = (const Sandboxcg__V1__GetSandboxResponse *) m;

        if (!resp->sandbox)
                return -EBADMSG;
        return sandbox_print(resp->sandbox, stdout);
}

int verb_get(int argc, char **argv, CtlContext *ctx)
{
        Sandboxcg__V1__GetSandboxRequest req = SANDBOXCG__V1__GET_SANDBOX_REQUEST__INIT;
        char **args;
        unsigned n_args;
        int r;

        r = ctl_parse_args(ctx, argc, argv, NULL, NULL, NULL, &args, &n_args);
        if (r <= 0)
                return ctl_parse_exit(r);

        req.id = args[0];
        return ctl_run(ctx, "GetSandbox", &req.base, &sandboxcg__v1__get_sandbox_response__descriptor,
                       print_get);
}

static int add_sandbox_row(Table *t, const Sandboxcg__V1__Sandbox *s)
{
        _cleanup_free_ char *state = NULL, *created = NULL;
        char vmm[12] = "-", vcpus[24];
        int r;

        r = format_sandbox_state(s, &state);
        if (r < 0)
                return r;
        if (s->has_created_at) {
                created = format_timestamp_ns(s->created_at);
                if (!created)
                        return -ENOMEM;
        }
        if (s->has_vmm_pid)
                (void) snprintf(vmm, sizeof vmm, "%" PRIi32, s->vmm_pid);
        (void) snprintf(vcpus, sizeof vcpus, "%zu", s->n_vcpu_tids);

        return table_add_row(t, s->id, state, s->cgroup_parent, vmm, vcpus, created);
}

static int print_list(const ProtobufCMessage *m, CtlContext *ctx)
{
        const Sandboxcg__V1__ListSandboxesResponse *resp = (const Sandboxcg__V1__ListSandboxesResponse *) m;
        _cleanup_table_ Table *t = NULL;
        int r;

        if (resp->n_sandboxes == 0) {
                printf("No sandboxes.\n");
                return 0;
        }

        t = table_new(6);
        if (!t)
                return -ENOMEM;
        r = table_add_row(t, "ID", "STATE", "PARENT", "VMM", "VCPUS", "CREATED");
        if (r < 0)
                return r;
        (void) table_set_align_right(t, 3, true);
        (void) table_set_align_right(t, 4, true);
        for (size_t i = 0; i < resp->n_sandboxes; i++) {
                r = add_sandbox_row(t, resp->sandboxes[i]);
                if (r < 0)
                        return r;
        }
        return table_print(t, stdout);
}

int verb_list(int argc, char **argv, CtlContext *ctx)
{
        char **args;
        unsigned n_args;
        int r;

        r = ctl_parse_args(ctx, argc, argv, NULL, NULL, NULL, &args, &n_args);
        if (r <= 0)
                return ctl_parse_exit(r);

        _cleanup_message_ Sandboxcg__V1__ListSandboxesResponse *resp = NULL;

        /* Every page. */
        r = ctl_connect(ctx);
        if (r != CTL_EXIT_SUCCESS)
                return r;
        r = sandboxcg_client_list_all_sandboxes(ctx->client, &resp);
        if (r < 0)
                return ctl_call_failed(ctx, "ListSandboxes", r);
        return ctl_print(ctx, &resp->base, print_list);
}
