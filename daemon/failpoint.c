/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "daemon/failpoint.h"

#if ENABLE_FAILPOINTS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"

void failpoint_pass(const char *name)
{
        static char armed[64];
        static unsigned long at, count;
        static int parsed;

        if (!parsed) {
                const char *v = getenv("SANDBOXCGD_FAILPOINT"), *colon;
                char *end;

                parsed = 1;
                if (!v || !(colon = strrchr(v, ':')) || (size_t) (colon - v) >= sizeof armed)
                        return;
                at = strtoul(colon + 1, &end, 10);
                if (*end || at == 0)
                        return;
                memcpy(armed, v, (size_t) (colon - v));
        }
        if (!armed[0] || (!streq(armed, "*") && !streq(armed, name)))
                return;
        if (++count < at)
                return;

        /* Straight to stderr, unbuffered: the test reads it to know where
         * the daemon died. */
        fprintf(stderr, "sandboxcgd: failpoint %s:%lu reached, exiting\n", name, count);
        _exit(FAILPOINT_EXIT_STATUS);
}
#endif
