/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Fail points, for the crash tests: in a build configured with
 * --enable-failpoints, SANDBOXCGD_FAILPOINT=NAME:N in the daemon's
 * environment makes it _exit(FAILPOINT_EXIT_STATUS) right after the N-th
 * time (counted from start) execution passes FAILPOINT(NAME); NAME "*"
 * counts every fail point. Without --enable-failpoints, FAILPOINT() is
 * nothing.
 *
 * The points sit right after each change of persistent state: "kernel"
 * after every cgroupfs mkdir, rmdir and write (fileio), "record" after
 * every record replaced or removed (store). Every gap between two writes of
 * any operation is thereby a place where the daemon can die. */

#define FAILPOINT_EXIT_STATUS 86

#if ENABLE_FAILPOINTS
void failpoint_pass(const char *name);
#define FAILPOINT(name) failpoint_pass(name)
#else
#define FAILPOINT(name) \
        do {            \
        } while (0)
#endif
