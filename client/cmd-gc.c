/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "client/ctl.h"
#include "client/output.h"

/* gc [--dry-run]: the daemon's Reconcile, which it also runs at every start:
 * trees it made without a record are removed, records without trees
 * dropped. */

enum {
        ARG_DRY_RUN = CTL_ARG_VERB,
};

static int parse_gc_option(int c, const char *arg, void *userdata)
{
        bool *dry_run = userdata;

        if (c != ARG_DRY_RUN)
                return -EINVAL;
        *dry_run = true;
        return 0;
}

static int print_gc(const ProtobufCMessage *m, CtlContext *ctx)
{
        const Sandboxcg__V1__ReconcileResponse *resp = (const Sandboxcg__V1__ReconcileResponse *) m;
        _cleanup_table_ Table *t = NULL;
        int r;

        if (resp->has_markers_supported && !resp->markers_supported)
                printf("This host cannot mark cgroups (no extended attributes): trees without a record were not "
                       "looked for.\n");
        if (resp->n_findings == 0) {
                printf("Nothing to reconcile.\n");
                return 0;
        }

        t = table_new(4);
        if (!t)
                return -ENOMEM;
        r = table_add_row(t, "KIND", "ID", "PARENT", "DONE");
        if (r < 0)
                return r;
        for (size_t i = 0; i < resp->n_findings; i++) {
                const Sandboxcg__V1__Finding *f = resp->findings[i];
                _cleanup_free_ char *kind =
                        enum_value_to_short_name(&sandboxcg__v1__finding_kind__descriptor, f->kind);

                r = table_add_row(t, kind ?: "?", f->id ?: "-", f->cgroup_parent ?: "-",
                                  f->fixed ? "yes" : "no");
                if (r < 0)
                        return r;
        }
        return table_print(t, stdout);
}

int verb_gc(int argc, char **argv, CtlContext *ctx)
{
        static const struct option options[] = {
                {"dry-run", no_argument, NULL, ARG_DRY_RUN},
                {},
        };
        Sandboxcg__V1__ReconcileRequest req = SANDBOXCG__V1__RECONCILE_REQUEST__INIT;
        bool dry_run = false;
        char **args;
        unsigned n_args;
        int r;

        r = ctl_parse_args(ctx, argc, argv, options, parse_gc_option, &dry_run, &args, &n_args);
        if (r <= 0)
                return ctl_parse_exit(r);

        req.has_dry_run = true;
        req.dry_run = dry_run;
        return ctl_run(ctx, "Reconcile", &req.base, &sandboxcg__v1__reconcile_response__descriptor, print_gc);
}
