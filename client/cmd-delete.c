/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "client/ctl.h"
#include "client/pbjson.h"

/* delete ID...: one DeleteSandbox call per id, in order. The table output
 * says per id what happened; -o json prints one object that maps each id
 * deleted (or found absent) to its response message. A server error for one
 * id does not stop the others; any other failure (the connection) does. */
int verb_delete(int argc, char **argv, CtlContext *ctx)
{
        _cleanup_json_ json_object *results = NULL;
        char **args;
        unsigned n_args, i;
        int r, ret = CTL_EXIT_SUCCESS;

        r = ctl_parse_args(ctx, argc, argv, NULL, NULL, NULL, &args, &n_args);
        if (r <= 0)
                return ctl_parse_exit(r);

        if (ctx->output == OUTPUT_JSON) {
                results = json_object_new_object();
                if (!results)
                        return ctl_output_failed(-ENOMEM);
        }

        for (i = 0; i < n_args; i++) {
                Sandboxcg__V1__DeleteSandboxRequest req = SANDBOXCG__V1__DELETE_SANDBOX_REQUEST__INIT;
                _cleanup_message_ Sandboxcg__V1__DeleteSandboxResponse *resp = NULL;

                req.id = args[i];
                /* Each id's line before the next call's errors. */
                fflush(stdout);
                r = ctl_call(ctx, "DeleteSandbox", &req.base,
                             &sandboxcg__v1__delete_sandbox_response__descriptor,
                             (ProtobufCMessage **) &resp);
                if (r != CTL_EXIT_SUCCESS) {
                        ret = MAX(ret, r);
                        fprintf(stderr, "Failed to delete sandbox %s.\n", args[i]);
                        /* Only an error answer leaves the connection in a known state. */
                        if (!ctx->client || sandboxcg_client_error_code(ctx->client) == SANDBOXCG_CODE_OK)
                                break;
                        continue;
                }

                if (results) {
                        json_object *j;

                        r = pbjson_message_to_json(&resp->base, &j);
                        if (r < 0)
                                return ctl_output_failed(r);
                        r = json_object_object_add(results, args[i], j);
                        if (r < 0) {
                                json_object_put(j);
                                return ctl_output_failed(-ENOMEM);
                        }
                } else if (resp->has_existed && !resp->existed)
                        printf("%s: not found (nothing to do)\n", args[i]);
                else
                        printf("%s: deleted\n", args[i]);
        }

        for (i++; i < n_args; i++)
                fprintf(stderr, "Not attempted: %s\n", args[i]);

        /* What was done, unless nothing was. */
        if (results && (ret == CTL_EXIT_SUCCESS || json_object_object_length(results) > 0)) {
                r = output_json(results, stdout);
                if (r < 0)
                        return ctl_output_failed(r);
        }
        return ret;
}
