/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/* Creates each missing directory above path (not path itself) with mode;
 * directories that exist are left as they are. 0 or -errno. */
int mkdir_parents(const char *path, mode_t mode);
