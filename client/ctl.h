/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sandboxcgctl: what the verbs (cmd-*.c) share with the main program. */

#include <errno.h>
#include <getopt.h>
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

/* A verb gets the command line from the verb on (argv[0] is the verb),
 * parses it with ctl_parse_args() and returns one of the exit codes above.
 * It prints its result on stdout and errors on stderr. */
typedef int (*VerbFunction)(int argc, char **argv, CtlContext *ctx);

/* Values of the options of verbs (struct option.val) start here, above the
 * global ones; client/resources-opts.h uses CTL_ARG_RESOURCES and up. */
enum {
        CTL_ARG_VERB = 0x200,
        CTL_ARG_RESOURCES = 0x300,
};

/* Called for each of a verb's own options; prints what is wrong and returns
 * < 0 for a bad value. */
typedef int (*CtlOptionFunction)(int c, const char *arg, void *userdata);

/* Parses what follows the command (argv[0] is the verb): the verb's own
 * options (options: {}-terminated, NULL for none; each handed to
 * parse_option()), the global options, which may also follow the verb
 * ("sandboxcgctl get sb1 -o json"), and the positional arguments in any
 * order with the options ("--" ends the options). Checks the number of
 * positional arguments against the verb table. Returns 1 with the positional
 * arguments in *ret_args (pointers into argv, which is reordered) and their
 * number in *ret_n; 0 when the program should exit successfully (--help,
 * --version); or -EINVAL on a usage error (-ENOMEM), already printed. Turn 0
 * and < 0 into an exit code with ctl_parse_exit(). */
int ctl_parse_args(CtlContext *ctx, int argc, char **argv, const struct option *options,
                   CtlOptionFunction parse_option, void *userdata, char ***ret_args, unsigned *ret_n);

static inline int ctl_parse_exit(int r)
{
        return r == -ENOMEM ? CTL_EXIT_FAILURE : r < 0 ? CTL_EXIT_USAGE : CTL_EXIT_SUCCESS;
}

/* Connects ctx->client unless connected. Returns 0, or prints why it failed
 * and returns the exit code. */
int ctl_connect(CtlContext *ctx);

/* Prints why a call of method failed (r < 0 from libsandboxcg) and returns
 * the exit code: "Error: NOT_FOUND: <message>" for a server error. */
int ctl_call_failed(CtlContext *ctx, const char *method, int r);

/* Prints an error about output and returns the exit code. */
int ctl_output_failed(int r);

/* Connects (ctl_connect()) and calls method with req (NULL: an empty
 * request). Returns CTL_EXIT_SUCCESS with the response, of type resp_desc,
 * in *ret (free it with message_freep() or
 * protobuf_c_message_free_unpacked()); or prints the error
 * (ctl_call_failed()) and returns the exit code. */
int ctl_call(CtlContext *ctx, const char *method, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **ret);

/* Prints a response as a table (or as anything meant for people). */
typedef int (*CtlPrintFunction)(const ProtobufCMessage *resp, CtlContext *ctx);

/* Prints resp as JSON with -o json, else with print_table(). Returns the
 * exit code. */
int ctl_print(CtlContext *ctx, const ProtobufCMessage *resp, CtlPrintFunction print_table);

/* The common verb: ctl_call(), then ctl_print() of the whole response. */
int ctl_run(CtlContext *ctx, const char *method, const ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *resp_desc, CtlPrintFunction print_table);

int verb_version(int argc, char **argv, CtlContext *ctx);
int verb_host_info(int argc, char **argv, CtlContext *ctx);
int verb_create(int argc, char **argv, CtlContext *ctx);
int verb_update(int argc, char **argv, CtlContext *ctx);
int verb_attach_vmm(int argc, char **argv, CtlContext *ctx);
int verb_attach_vcpus(int argc, char **argv, CtlContext *ctx);
int verb_delete(int argc, char **argv, CtlContext *ctx);
int verb_get(int argc, char **argv, CtlContext *ctx);
int verb_list(int argc, char **argv, CtlContext *ctx);
int verb_gc(int argc, char **argv, CtlContext *ctx);
