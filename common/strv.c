/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/strv.h"

char **strv_free(char **l)
{
        if (!l)
                return NULL;
        for (char **k = l; *k; k++)
                free(*k);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l)
{
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

bool strv_contains(char *const *l, const char *s)
{
        for (; l && *l; l++)
                if (strcmp(*l, s) == 0)
                        return true;
        return false;
}

int strv_copy(char *const *l, char ***ret)
{
        size_t n = strv_length(l);
        char **c;

        if (!l) {
                *ret = NULL;
                return 0;
        }
        c = calloc(n + 1, sizeof *c);
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = strdup(l[i]))) {
                        strv_free(c);
                        return -ENOMEM;
                }
        *ret = c;
        return 0;
}

int strv_consume(char ***l, char *s)
{
        size_t n = strv_length(*l);
        char **c;

        if (!s)
                return -ENOMEM;
        c = reallocarray(*l, n + 2, sizeof *c);
        if (!c) {
                free(s);
                return -ENOMEM;
        }
        c[n] = s;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *s)
{
        return strv_consume(l, strdup(s));
}
