/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sandboxcgctl: what the verbs (cmd-*.c) share with the main program. */

#include <stdint.h>

#include "client/output.h"
#include "client/sandboxcg.h"

/* Exit codes (see sandboxcgctl(1)). */
enum {
        CTL_EXIT_SUCCESS = 0,
        CTL_EXIT_FAILURE = 1,     /* the daemon returned an error, or a local failure */
        CTL_EXIT_USAGE = 2,       /* bad command line */
        CTL_EXIT_UNREACHABLE = 3, /* could not connect to the daemon */
};

typedef struct CtlContext {
        const char *socket_path; /* NULL: SANDBOXCG_SOCKET_PATH_DEFAULT */
        OutputFormat output;
        uint64_t timeout_usec;   /* 0: wait forever */
        SandboxcgClient *client; /* set by ctl_connect() */
} CtlContext;

/* A verb gets its positional arguments (argv[0] is the verb) and returns
 * one of the exit codes above. It prints its result on stdout and errors on
 * stderr. */
typedef int (*VerbFunction)(int argc, char **argv, CtlContext *ctx);

/* Connects ctx->client unless connected. Returns 0, or prints why it failed
 * and returns the exit code. */
int ctl_connect(CtlContext *ctx);

/* Prints why a call of method failed (r < 0 from libsandboxcg) and returns
 * the exit code: "Error: NOT_FOUND: <message>" for a server error. */
int ctl_call_failed(CtlContext *ctx, const char *method, int r);

/* Prints an error about output and returns the exit code. */
int ctl_output_failed(int r);

int verb_version(int argc, char **argv, CtlContext *ctx);
int verb_host_info(int argc, char **argv, CtlContext *ctx);
