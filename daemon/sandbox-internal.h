/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Steps shared by sandbox.c (the operations) and sandbox-recover.c (finishing
 * or undoing them after a crash). Not for other layers. */

#include "daemon/sandbox.h"

void sandbox_unwatch_vmm(Sandbox *s);
void sandbox_clear_pending(Sandbox *s);
int sandbox_save(Manager *m, Sandbox *s, Error *e);

/* Validate resources and overhead (against the parent's cpuset too, when
 * parent is not NULL), compute the totals and the files to write. */
int sandbox_plan_writes(Manager *m, const char *parent, const Resources *resources, const Resources *overhead,
                        CgroupWrite **ret, size_t *ret_n, Error *e);

/* Remove the parent levels s made, or hand them to a sandbox beneath. */
void sandbox_release_parents(Manager *m, Sandbox *s);

/* The rest of a delete whose intent (state DELETING) is recorded: kill and
 * remove the tree, drop the record, release the parents, free s. */
int sandbox_finish_delete(Manager *m, Sandbox *s, Error *e);
