/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* NULL-terminated arrays of malloc'd strings ("strv", as systemd says). A
 * NULL strv is the empty one. */

#include <stdbool.h>
#include <stddef.h>

#include "common/macro.h"

char **strv_free(char **l);
static inline void strv_freep(char ***l)
{
        *l = strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);
/* Is s one of the strings of l? */
bool strv_contains(char *const *l, const char *s);
/* A deep copy (NULL for NULL). -ENOMEM leaves *ret untouched. */
int strv_copy(char *const *l, char ***ret);
/* Appends s, which the strv owns from then on (also on failure: freed). */
int strv_consume(char ***l, char *s);
/* Appends a copy of s. */
int strv_extend(char ***l, const char *s);
