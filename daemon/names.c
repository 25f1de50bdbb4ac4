/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/names.h"

static bool is_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool sandbox_id_is_valid(const char *id)
{
        size_t n;

        if (!id || !is_alnum(id[0]))
                return false;
        n = strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
        return id[n] == '\0' && n <= SANDBOX_ID_MAX;
}

#define PARENT_CHARSET "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@-"

int cgroup_parent_normalize(const char *parent, const char *field, char **ret, Error *e)
{
        const char *p;
        unsigned depth = 0;
        char *copy;

        if (!parent || !parent[0])
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "%s: must not be empty", field);
        p = parent[0] == '/' ? parent + 1 : parent;
        if (strlen(p) > CGROUP_PARENT_MAX)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "%s: longer than %d characters", field,
                                 CGROUP_PARENT_MAX);

        for (const char *s = p;;) {
                size_t n = strspn(s, PARENT_CHARSET);

                if (n == 0)
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         *s == '\0' || *s == '/' ? "%s: \"%s\" has an empty path component"
                                                                 : "%s: \"%s\" has a character outside "
                                                                   "[A-Za-z0-9._:@-] in a path component",
                                         field, parent);
                if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         "%s: \"%s\" has a \".\" or \"..\" component", field, parent);
                if (++depth > CGROUP_PARENT_DEPTH_MAX)
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "%s: more than %d levels", field,
                                         CGROUP_PARENT_DEPTH_MAX);
                s += n;
                if (*s == '\0')
                        break;
                if (*s != '/')
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         "%s: \"%s\" has a character outside [A-Za-z0-9._:@-] in a path "
                                         "component",
                                         field, parent);
                s++;
        }

        copy = strdup(p);
        if (!copy)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
        *ret = copy;
        return 0;
}

bool cgroup_parent_is_beneath(const char *parent, const char *prefix)
{
        size_t n = strlen(prefix);

        return strncmp(parent, prefix, n) == 0 && (parent[n] == '\0' || parent[n] == '/');
}
