/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "client/ctl.h"
#include "client/pbjson.h"

static int print_version_table(const Sandboxcg__V1__VersionResponse *v)
{
        const struct {
                const char *key;
                const char *value;
        } fields[] = {
                {"Daemon version", v->daemon_version},
                {"API version", v->api_version},
                {"Client version", PACKAGE_VERSION},
                {"Client API version", SANDBOXCG_API_VERSION},
        };
        _cleanup_table_ Table *t = NULL;
        int r;

        t = table_new_fields();
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                r = table_add_field(t, fields[i].key, fields[i].value);
                if (r < 0)
                        return r;
        }
        return table_print(t, stdout);
}

int verb_version(int argc, char **argv, CtlContext *ctx)
{
        _cleanup_message_ Sandboxcg__V1__VersionResponse *v = NULL;
        char **args;
        unsigned n_args;
        int r;

        r = ctl_parse_args(ctx, argc, argv, NULL, NULL, NULL, &args, &n_args);
        if (r <= 0)
                return ctl_parse_exit(r);

        r = ctl_connect(ctx);
        if (r != CTL_EXIT_SUCCESS)
                return r;

        r = sandboxcg_client_version(ctx->client, &v);
        if (r < 0)
                return ctl_call_failed(ctx, "Version", r);

        if (ctx->output == OUTPUT_JSON)
                r = output_message_json(&v->base, stdout);
        else
                r = print_version_table(v);
        if (r < 0)
                return ctl_output_failed(r);
        return CTL_EXIT_SUCCESS;
}
