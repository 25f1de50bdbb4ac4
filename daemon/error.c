/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/error.h"

int error_set(Error *e, GrpcCode code, int errnum, const char *format, ...)
{
        errnum = abs(errnum);
        if (e && e->code == GRPC_OK) {
                va_list ap;

                e->code = code == GRPC_OK ? GRPC_UNKNOWN : code;
                e->errnum = errnum;
                va_start(ap, format);
                (void) vsnprintf(e->message, sizeof e->message, format, ap);
                va_end(ap);
        }
        return errnum > 0 ? -errnum : -EINVAL;
}

GrpcCode grpc_code_from_errno(int errnum)
{
        switch (abs(errnum)) {
        case 0:
                return GRPC_OK;
        case EINVAL:
        case ERANGE:
        case E2BIG:
                return GRPC_INVALID_ARGUMENT;
        case ENOENT:
        case ESRCH:
                return GRPC_NOT_FOUND;
        case EEXIST:
                return GRPC_ALREADY_EXISTS;
        case EPERM:
        case EACCES:
                return GRPC_PERMISSION_DENIED;
        case ENOMEM:
        case ENOSPC:
        case EMFILE:
        case ENFILE:
        case EMSGSIZE:
        case EAGAIN:
                return GRPC_RESOURCE_EXHAUSTED;
        case EBUSY:
                return GRPC_FAILED_PRECONDITION;
        case EOPNOTSUPP:
        case ENOSYS:
                return GRPC_UNIMPLEMENTED;
        case ETIMEDOUT:
                return GRPC_DEADLINE_EXCEEDED;
        default:
                return GRPC_INTERNAL;
        }
}
