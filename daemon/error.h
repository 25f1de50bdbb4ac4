/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Error context for callers. Lower layers do not log: they return -errno and,
 * when the caller passed an Error, say what failed (the sandbox, the cgroup
 * file, the errno) and which gRPC status the client should get. The dispatch
 * layer turns it into the ttrpc Status. */

#include "common/macro.h"
#include "proto/frame.h"

#define ERROR_MESSAGE_MAX 512

typedef struct Error {
        GrpcCode code;          /* GRPC_OK: not set */
        int errnum;             /* positive errno behind it, 0 if none */
        char message[ERROR_MESSAGE_MAX];
} Error;

/* Sets *e (if e is not NULL and not already set: the first, innermost error
 * wins) and returns -abs(errnum), or -EINVAL when errnum is 0. */
int error_set(Error *e, GrpcCode code, int errnum, const char *format, ...) _printf_(4, 5);

/* The gRPC code that fits an errno when nothing more specific was said. */
GrpcCode grpc_code_from_errno(int errnum);

static inline int error_is_set(const Error *e)
{
        return e && e->code != GRPC_OK;
}
