/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A sandbox as people read it: the key/value view of get (and of the verbs
 * that answer with a sandbox), and the cells that list shares with it. */

#include <stdint.h>
#include <stdio.h>

#include "client/sandboxcg.h"

/* "2026-11-25 10:40:00 UTC" (local time) from Unix nanoseconds. Returns a
 * new string, or NULL on ENOMEM. */
char *format_timestamp_ns(uint64_t ns);

/* "1201 1202 1203"; NULL when n is 0. Returns 0 or -ENOMEM. */
int format_tids(const int32_t *tids, size_t n, char **ret);

/* "running", "vmm-exited"; NULL when the state is unset. Returns 0 or
 * -ENOMEM. */
int format_sandbox_state(const Sandboxcg__V1__Sandbox *s, char **ret);

/* The key/value view, then the sandbox's cgroups and the values applied to
 * them as tables. */
int sandbox_print(const Sandboxcg__V1__Sandbox *s, FILE *f);
