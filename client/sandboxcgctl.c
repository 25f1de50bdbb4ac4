/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ctl.h"

typedef struct Verb {
        const char *name;
        const char *args;  /* for help(): positional arguments */
        unsigned min_args; /* positional arguments after the verb */
        unsigned max_args;
        VerbFunction function;
        const char *description;
} Verb;

/* The sandbox verbs (create, update, attach-vmm, attach-vcpus, delete, get,
 * list) come with the daemon's sandbox methods. */
static const Verb verbs[] = {
        {"version", "", 0, 0, verb_version, "Show the daemon, API and client versions"},
        {"host-info", "", 0, 0, verb_host_info, "Show the host's cgroup setup as the daemon sees it"},
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
                printf("%*s%s\n", MAX(24 - l, 1), "", verbs[i].description);
        }
        printf("\n"
               "Options:\n"
               "  -h --help             Show this help\n"
               "     --version          Show package version\n"
               "     --socket=PATH      Connect to the daemon at PATH\n"
               "                        (default: %s)\n"
               "  -o --output=FORMAT    Output format: table (default) or json\n"
               "     --timeout=SEC      Give up on a call after SEC seconds\n"
               "                        (default: %llu; 0: wait forever)\n"
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

/* Returns 1 to go on, 0 to exit successfully (--help, --version), or < 0 for
 * a usage error (already printed). */
static int parse_argv(int argc, char *argv[], CtlContext *ctx)
{
        enum {
                ARG_VERSION = 0x100,
                ARG_SOCKET,
                ARG_TIMEOUT,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"socket", required_argument, NULL, ARG_SOCKET},
                {"output", required_argument, NULL, 'o'},
                {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "ho:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;

                case ARG_VERSION:
                        printf("sandboxcgctl %s (%s)\n", PACKAGE_VERSION, SANDBOXCG_API_VERSION);
                        return 0;

                case ARG_SOCKET:
                        if (optarg[0] == '\0') {
                                fprintf(stderr, "Socket path must not be empty.\n");
                                return -EINVAL;
                        }
                        ctx->socket_path = optarg;
                        break;

                case 'o': {
                        OutputFormat f = output_format_from_string(optarg);
                        if (f < 0) {
                                fprintf(stderr, "Unknown output format '%s': use table or json.\n", optarg);
                                return -EINVAL;
                        }
                        ctx->output = f;
                        break;
                }

                case ARG_TIMEOUT:
                        r = parse_timeout(optarg, &ctx->timeout_usec);
                        if (r < 0) {
                                fprintf(stderr, "Invalid timeout '%s': expected seconds, 0 for none.\n",
                                        optarg);
                                return r;
                        }
                        break;

                case '?':
                        /* getopt_long() said what is wrong. */
                        return -EINVAL;

                default:
                        abort();
                }

        return 1;
}

static int dispatch_verb(int argc, char *argv[], CtlContext *ctx)
{
        const Verb *v = NULL;
        unsigned n;

        if (argc <= 0) {
                fprintf(stderr, "No command given; see %s --help.\n", program_invocation_short_name);
                return CTL_EXIT_USAGE;
        }

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[0], verbs[i].name)) {
                        v = verbs + i;
                        break;
                }
        if (!v) {
                fprintf(stderr, "Unknown command '%s'; see %s --help.\n", argv[0],
                        program_invocation_short_name);
                return CTL_EXIT_USAGE;
        }

        n = (unsigned)argc - 1;
        if (n < v->min_args || n > v->max_args) {
                fprintf(stderr, "%s arguments for '%s'; see %s --help.\n",
                        n < v->min_args ? "Too few" : "Too many", v->name, program_invocation_short_name);
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
