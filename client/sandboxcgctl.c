/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ctl.h"
#include "client/pbjson.h"

typedef struct Verb {
        const char *name;
        const char *args;  /* for help(): positional arguments */
        unsigned min_args; /* positional arguments after the verb */
        unsigned max_args;
        VerbFunction function;
        const char *description;
} Verb;

static const Verb verbs[] = {
        {"version", "", 0, 0, verb_version, "Show the daemon, API and client versions"},
        {"host-info", "", 0, 0, verb_host_info, "Show the host's cgroup setup as the daemon sees it"},
        {"create", "ID", 1, 1, verb_create, "Create a sandbox's cgroups with its limits"},
        {"update", "ID", 1, 1, verb_update, "Replace a sandbox's limits (unset: no limit)"},
        {"attach-vmm", "ID PID", 2, 2, verb_attach_vmm, "Move the VMM process into the sandbox"},
        {"attach-vcpus", "ID [TID...]", 1, UINT_MAX, verb_attach_vcpus, "Move vCPU threads into vcpu"},
        {"delete", "ID...", 1, UINT_MAX, verb_delete, "Kill what is left in sandboxes, remove them"},
        {"get", "ID", 1, 1, verb_get, "Show a sandbox"},
        {"list", "", 0, 0, verb_list, "List the sandboxes"},
        {"gc", "", 0, 0, verb_gc, "Remove cgroups the daemon made but lost track of"},
};

int ctl_connect(CtlContext *ctx)
{
        const char *path = ctx->socket_path ?: SANDBOXCG_SOCKET_PATH_DEFAULT;
        int r;

        if (ctx->client)
                return CTL_EXIT_SUCCESS;

        r = sandboxcg_client_new(&ctx->client, path);
        if (r < 0) {
                fprintf(stderr, "Failed to connect to sandboxcgd at %s: %s\n", path, strerror(-r));
                return r == -ENOMEM || r == -EINVAL ? CTL_EXIT_FAILURE : CTL_EXIT_UNREACHABLE;
        }

        r = sandboxcg_client_set_timeout(ctx->client, ctx->timeout_usec);
        if (r < 0) {
                fprintf(stderr, "Failed to set the timeout: %s\n", strerror(-r));
                return CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_SUCCESS;
}

int ctl_call_failed(CtlContext *ctx, const char *method, int r)
{
        if (r == -EREMOTEIO) {
                int code = sandboxcg_client_error_code(ctx->client);
                const char *name = sandboxcg_code_to_string(code);
                const char *message = sandboxcg_client_error_message(ctx->client);

                fputs("Error: ", stderr);
                if (name)
                        fputs(name, stderr);
                else
                        fprintf(stderr, "CODE_%d", code);
                if (message)
                        fprintf(stderr, ": %s", message);
                fputc('\n', stderr);
                return CTL_EXIT_FAILURE;
        }

        if (r == -ETIMEDOUT) {
                fprintf(stderr, "Timed out waiting for sandboxcgd to answer %s.\n", method);
                return CTL_EXIT_FAILURE;
        }

        fprintf(stderr, "Failed to call %s: %s\n", method, strerror(-r));
        /* The daemon went away (or never got going under socket activation). */
        return r == -ECONNRESET ? CTL_EXIT_UNREACHABLE : CTL_EXIT_FAILURE;
}

int ctl_output_failed(int r)
{
        fprintf(stderr, "Failed to format output: %s\n", strerror(-r));
        return CTL_EXIT_FAILURE;
}

int ctl_call(CtlContext *ctx, const char *method, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **ret)
{
        int r;

        r = ctl_connect(ctx);
        if (r != CTL_EXIT_SUCCESS)
                return r;

        r = sandboxcg_client_call(ctx->client, method, req, resp_desc, ret);
        if (r < 0)
                return ctl_call_failed(ctx, method, r);
        return CTL_EXIT_SUCCESS;
}

int ctl_print(CtlContext *ctx, const ProtobufCMessage *resp, CtlPrintFunction print_table)
{
        int r;

        if (ctx->output == OUTPUT_JSON)
                r = output_message_json(resp, stdout);
        else
                r = print_table(resp, ctx);
        if (r < 0)
                return ctl_output_failed(r);
        return CTL_EXIT_SUCCESS;
}

int ctl_run(CtlContext *ctx, const char *method, const ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *resp_desc, CtlPrintFunction print_table)
{
        _cleanup_message_ ProtobufCMessage *resp = NULL;
        int r;

        r = ctl_call(ctx, method, req, resp_desc, &resp);
        if (r != CTL_EXIT_SUCCESS)
                return r;
        return ctl_print(ctx, resp, print_table);
}

static void help(void)
{
        printf("%s [OPTIONS...] COMMAND [ARGS...]\n"
               "\n"
               "Query and control sandboxcgd, the cgroup manager of VM sandboxes.\n"
               "\n"
               "Commands:\n",
               program_invocation_short_name);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                int l = printf("  %s%s%s", verbs[i].name, verbs[i].args[0] ? " " : "", verbs[i].args);
                printf("%*s%s\n", MAX(28 - l, 1), "", verbs[i].description);
        }
        printf("\n"
               "Options:\n"
               "  -h --help               Show this help\n"
               "     --version            Show package version\n"
               "     --socket=PATH        Connect to the daemon at PATH\n"
               "                          (default: %s)\n"
               "  -o --output=FORMAT      Output format: table (default) or json\n"
               "     --timeout=SEC        Give up on a call after SEC seconds\n"
               "                          (default: %llu; 0: wait forever)\n"
               "\n"
               "Options of create and update:\n"
               "     --spec=FILE          Read the request as JSON from FILE ('-': stdin);\n"
               "                          ID and the options below override it\n"
               "     --parent=PATH        (create only) Cgroup parent, relative to the\n"
               "                          cgroup root (default: the daemon's)\n"
               "     --cpu-period=US      CFS period in microseconds\n"
               "     --cpu-quota=US       CFS quota in microseconds per period\n"
               "     --cpu-shares=N       CPU shares (a weight on cgroup v2)\n"
               "     --cpuset-cpus=LIST   CPUs, e.g. 0-3,6\n"
               "     --cpuset-mems=LIST   Memory nodes, e.g. 0\n"
               "     --memory=SIZE        Memory limit\n"
               "     --memory-swap=SIZE   Memory plus swap limit\n"
               "     --hugepages=PAGESIZE=SIZE\n"
               "                          Huge page limit, e.g. 2MB=1G (repeatable;\n"
               "                          --hugetlb is the same)\n"
               "     --pids=N             Maximum number of tasks\n"
               "     --overhead-cpu-quota=US ...\n"
               "                          Each of the above for the pod overhead\n"
               "  SIZE is bytes, or a number with a K, M, G or T suffix (powers of 1024).\n"
               "  The options set the pod's resources (the vCPUs'); a limit not given is\n"
               "  no limit. update replaces the whole spec: it lifts every limit that it\n"
               "  does not give.\n"
               "\n"
               "Options of attach-vcpus:\n"
               "     --discover           Find the VMM's vCPU threads by their names\n"
               "     --expect=N           With --discover: fail unless N are found\n"
               "     --pattern=PATTERN    With --discover: a thread name pattern such as\n"
               "                          'vcpu%%u' (repeatable; default: the daemon's)\n"
               "\n"
               "Options of gc:\n"
               "     --dry-run            Report what would be removed, change nothing\n"
               "\n"
               "See the sandboxcgctl(1) man page for details.\n",
               SANDBOXCG_SOCKET_PATH_DEFAULT, SANDBOXCG_TIMEOUT_DEFAULT_USEC / 1000000ULL);
}

/* Seconds, possibly fractional, into microseconds. 0 stays 0: no timeout. */
static int parse_timeout(const char *s, uint64_t *ret)
{
        double d;
        char *end;

        errno = 0;
        d = strtod(s, &end);
        if (end == s || *end != '\0' || errno != 0 || !isfinite(d) || d < 0)
                return -EINVAL;
        /* What the wire's int64 nanoseconds hold. */
        if (d > (double)(INT64_MAX / 1000) / 1e6)
                return -ERANGE;

        *ret = d > 0 ? MAX((uint64_t)(d * 1e6 + 0.5), (uint64_t)1) : 0;
        return 0;
}

enum {
        ARG_VERSION = 0x100,
        ARG_SOCKET,
        ARG_TIMEOUT,
};

static const struct option global_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, ARG_VERSION},
        {"socket", required_argument, NULL, ARG_SOCKET},
        {"output", required_argument, NULL, 'o'},
        {"timeout", required_argument, NULL, ARG_TIMEOUT},
        {},
};

/* Returns 1 to go on, 0 to exit successfully (--help, --version), or < 0 for
 * a usage error (already printed). */
static int parse_global_option(int c, const char *arg, CtlContext *ctx)
{
        int r;

        switch (c) {
        case 'h':
                help();
                return 0;

        case ARG_VERSION:
                printf("sandboxcgctl %s (%s)\n", PACKAGE_VERSION, SANDBOXCG_API_VERSION);
                return 0;

        case ARG_SOCKET:
                if (arg[0] == '\0') {
                        fprintf(stderr, "Socket path must not be empty.\n");
                        return -EINVAL;
                }
                ctx->socket_path = arg;
                return 1;

        case 'o': {
                OutputFormat f = output_format_from_string(arg);
                if (f < 0) {
                        fprintf(stderr, "Unknown output format '%s': use table or json.\n", arg);
                        return -EINVAL;
                }
                ctx->output = f;
                return 1;
        }

        case ARG_TIMEOUT:
                r = parse_timeout(arg, &ctx->timeout_usec);
                if (r < 0) {
                        fprintf(stderr, "Invalid timeout '%s': expected seconds, 0 for none.\n", arg);
                        return r;
                }
                return 1;

        case '?':
                /* getopt_long() said what is wrong. */
                return -EINVAL;

        default:
                abort();
        }
}

/* The options before the command: stop at the first non-option, which is
 * the verb; ctl_parse_args() does the rest. */
static int parse_argv(int argc, char *argv[], CtlContext *ctx)
{
        int c, r;

        while ((c = getopt_long(argc, argv, "+ho:", global_options, NULL)) >= 0) {
                r = parse_global_option(c, optarg, ctx);
                if (r <= 0)
                        return r;
        }
        return 1;
}

static const Verb *verb_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(name, verbs[i].name))
                        return verbs + i;
        return NULL;
}

int ctl_parse_args(CtlContext *ctx, int argc, char **argv, const struct option *options,
                   CtlOptionFunction parse_option, void *userdata, char ***ret_args, unsigned *ret_n)
{
        _cleanup_free_ struct option *all = NULL;
        _cleanup_free_ char *name = NULL;
        const Verb *v = verb_find(argv[0]);
        char *verb;
        size_t n_global = ELEMENTSOF(global_options) - 1, n_verb = 0;
        unsigned n;
        int c, r;

        assert(v);

        while (options && options[n_verb].name)
                n_verb++;
        all = calloc(n_global + n_verb + 1, sizeof(struct option));
        if (!all) {
                fprintf(stderr, "Out of memory.\n");
                return -ENOMEM;
        }
        memcpy(all, global_options, n_global * sizeof(struct option));
        if (n_verb > 0)
                memcpy(all + n_global, options, n_verb * sizeof(struct option));

        /* argv[0], the verb, plays the program name: getopt_long() skips it
         * and names it in its messages, "sandboxcgctl create: unrecognized
         * option". */
        if (asprintf(&name, "%s %s", program_invocation_short_name, argv[0]) < 0) {
                fprintf(stderr, "Out of memory.\n");
                return -ENOMEM;
        }
        verb = argv[0];
        argv[0] = name;
        optind = 0;
        r = 1;
        while (r > 0 && (c = getopt_long(argc, argv, "ho:", all, NULL)) >= 0) {
                if (c >= CTL_ARG_VERB) {
                        assert(parse_option);
                        r = parse_option(c, optarg, userdata);
                        if (r < 0 && r != -ENOMEM)
                                r = -EINVAL;
                        else if (r >= 0)
                                r = 1;
                } else
                        r = parse_global_option(c, optarg, ctx);
        }
        argv[0] = verb;
        if (r <= 0)
                return r;

        n = (unsigned) (argc - optind);
        if (n < v->min_args || n > v->max_args) {
                fprintf(stderr, "%s arguments for '%s'; see %s --help.\n",
                        n < v->min_args ? "Too few" : "Too many", v->name, program_invocation_short_name);
                return -EINVAL;
        }

        *ret_args = argv + optind;
        *ret_n = n;
        return 1;
}

static int dispatch_verb(int argc, char *argv[], CtlContext *ctx)
{
        const Verb *v;

        if (argc <= 0) {
                fprintf(stderr, "No command given; see %s --help.\n", program_invocation_short_name);
                return CTL_EXIT_USAGE;
        }

        v = verb_find(argv[0]);
        if (!v) {
                fprintf(stderr, "Unknown command '%s'; see %s --help.\n", argv[0],
                        program_invocation_short_name);
                return CTL_EXIT_USAGE;
        }

        return v->function(argc, argv, ctx);
}

int main(int argc, char *argv[])
{
        CtlContext ctx = {
                .output = OUTPUT_TABLE,
                .timeout_usec = SANDBOXCG_TIMEOUT_DEFAULT_USEC,
        };
        int r;

        r = parse_argv(argc, argv, &ctx);
        if (r <= 0)
                r = r < 0 ? CTL_EXIT_USAGE : CTL_EXIT_SUCCESS;
        else
                r = dispatch_verb(argc - optind, argv + optind, &ctx);

        ctx.client = sandboxcg_client_free(ctx.client);

        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "Failed to write output: %m\n");
                if (r == CTL_EXIT_SUCCESS)
                        r = CTL_EXIT_FAILURE;
        }
        return r;
}
