/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "client/ctl.h"
#include "client/pbjson.h"

/* "2MB 1GB"; NULL when there are none. */
static int format_words(char *const *words, size_t n, char **ret)
{
        _cleanup_free_ char *s = NULL;
        size_t l = 0;
        FILE *f;

        f = open_memstream(&s, &l);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", words[i]);
        if (fclose(f) != 0)
                return -ENOMEM;

        *ret = l > 0 ? TAKE_PTR(s) : NULL;
        return 0;
}

/* "+cgroup_kill +pidfd -memory_swap": each feature the daemon reported,
 * found through the descriptor, so that features added to the API later show
 * up without a change here. NULL when the daemon reported none. */
static int format_features(const Sandboxcg__V1__KernelFeatures *features, char **ret)
{
        const ProtobufCMessageDescriptor *desc = &sandboxcg__v1__kernel_features__descriptor;
        const char *m = (const char *)features;
        _cleanup_free_ char *s = NULL;
        size_t l = 0;
        FILE *f;

        if (!features) {
                *ret = NULL;
                return 0;
        }

        f = open_memstream(&s, &l);
        if (!f)
                return -ENOMEM;
        for (unsigned i = 0; i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *fd = desc->fields + i;

                if (fd->type != PROTOBUF_C_TYPE_BOOL || fd->label != PROTOBUF_C_LABEL_OPTIONAL ||
                    !*(const protobuf_c_boolean *)(m + fd->quantifier_offset))
                        continue;
                fprintf(f, "%s%c%s", ftell(f) > 0 ? " " : "",
                        *(const protobuf_c_boolean *)(m + fd->offset) ? '+' : '-', fd->name);
        }
        if (fclose(f) != 0)
                return -ENOMEM;

        *ret = l > 0 ? TAKE_PTR(s) : NULL;
        return 0;
}

static int print_fields(const Sandboxcg__V1__HostInfoResponse *h)
{
        _cleanup_free_ char *mode = NULL, *driver = NULL, *features = NULL, *hugepages = NULL;
        _cleanup_table_ Table *t = NULL;
        int r;

        if (h->has_mode) {
                mode = enum_value_to_short_name(&sandboxcg__v1__cgroup_mode__descriptor, h->mode);
                if (!mode)
                        return -ENOMEM;
        }
        if (h->has_driver) {
                driver = enum_value_to_short_name(&sandboxcg__v1__cgroup_driver__descriptor, h->driver);
                if (!driver)
                        return -ENOMEM;
        }
        r = format_features(h->features, &features);
        if (r < 0)
                return r;
        r = format_words(h->hugepage_sizes, h->n_hugepage_sizes, &hugepages);
        if (r < 0)
                return r;

        t = table_new_fields();
        if (!t)
                return -ENOMEM;
        const struct {
                const char *key;
                const char *value;
        } fields[] = {
                {"Mode", mode},
                {"Cgroup root", h->cgroup_root},
                {"Unified mount", h->unified_mount},
                {"Driver", driver},
                {"Kernel release", h->kernel_release},
                {"Features", features},
                {"Hugepage sizes", hugepages},
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                r = table_add_field(t, fields[i].key, fields[i].value);
                if (r < 0)
                        return r;
        }
        return table_print(t, stdout);
}

static int print_controllers(const Sandboxcg__V1__HostInfoResponse *h)
{
        _cleanup_table_ Table *t = NULL;
        int r;

        t = table_new(5);
        if (!t)
                return -ENOMEM;
        r = table_add_row(t, "NAME", "VERSION", "MOUNT", "ROOT", "ENABLED");
        if (r < 0)
                return r;

        for (size_t i = 0; i < h->n_controllers; i++) {
                const Sandboxcg__V1__ControllerInfo *c = h->controllers[i];
                char version[12] = "-";

                /* Version 0: the kernel does not offer the controller. */
                if (c->has_version && c->version > 0)
                        (void)snprintf(version, sizeof version, "%u", c->version);

                r = table_add_row(t, c->name, version, c->mount_point, c->mount_root,
                                  c->has_enabled ? (c->enabled ? "yes" : "no") : NULL);
                if (r < 0)
                        return r;
        }
        return table_print(t, stdout);
}

int verb_host_info(int argc, char **argv, CtlContext *ctx)
{
        _cleanup_message_ Sandboxcg__V1__HostInfoResponse *h = NULL;
        char **args;
        unsigned n_args;
        int r;

        r = ctl_parse_args(ctx, argc, argv, NULL, NULL, NULL, &args, &n_args);
        if (r <= 0)
                return ctl_parse_exit(r);

        r = ctl_connect(ctx);
        if (r != CTL_EXIT_SUCCESS)
                return r;

        r = sandboxcg_client_host_info(ctx->client, &h);
        if (r < 0)
                return ctl_call_failed(ctx, "HostInfo", r);

        if (ctx->output == OUTPUT_JSON)
                r = output_message_json(&h->base, stdout);
        else {
                r = print_fields(h);
                if (r >= 0 && h->n_controllers > 0) {
                        fputc('\n', stdout);
                        r = print_controllers(h);
                }
        }
        if (r < 0)
                return ctl_output_failed(r);
        return CTL_EXIT_SUCCESS;
}
