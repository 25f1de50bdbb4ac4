/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Sandbox records: one protobuf file per sandbox (<dir>/<id>.sandbox,
 * proto/sandboxcgd/record.proto), replaced atomically (temp file + rename),
 * each stamped with the boot id. The sandbox layer saves the intent of an
 * operation before it touches the kernel and the result after. */

#include <stdbool.h>

#include "daemon/error.h"
#include "daemon/sandbox.h"

#define STORE_SUFFIX ".sandbox"
#define BOOT_ID_MAX 36

typedef struct Store {
        int dir_fd;
        char *dir;
        char boot_id[BOOT_ID_MAX + 1];
        bool sync;              /* fsync file and directory (persistent state directories) */
} Store;

#define STORE_NULL ((Store){ .dir_fd = -EBADF })

/* dir must exist. */
int store_open(Store *st, const char *dir, Error *e);
void store_close(Store *st);

int store_save(Store *st, const Sandbox *s, Error *e);
/* An absent record is fine. */
int store_remove(Store *st, const char *id, Error *e);

/* What store_load() found besides good records. */
typedef enum StoreProblem {
        STORE_OTHER_BOOT,       /* written during another boot: removed */
        STORE_CORRUPT,          /* unreadable: renamed to <name>.corrupt */
        STORE_STRAY,            /* temp file left by a crash: removed */
} StoreProblem;

typedef void (*StoreProblemFn)(void *userdata, StoreProblem problem, const char *file, const char *reason);

/* Every record of this boot, as sandboxes of m (not registered: the caller
 * does that). *ret is malloc'd (NULL when empty). */
int store_load(Store *st, Manager *m, StoreProblemFn problem, void *userdata, Sandbox ***ret, size_t *ret_n,
               Error *e);
