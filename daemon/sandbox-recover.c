/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/manager.h"
#include "daemon/sandbox-internal.h"
#include "daemon/sandbox.h"
#include "daemon/vmm.h"

/* After a crash of the daemon, a record may carry the intent of an operation
 * whose kernel writes were cut short. Each is finished or undone so that the
 * kernel matches the record again, the way a client retrying the call would
 * expect:
 *
 *   create (CREATING)   undone: the tree and the parent levels it made are
 *                       removed with the record; nothing ran in it yet, and
 *                       the client never heard of success
 *   delete (DELETING)   finished: the client asked for the VMM to die
 *   update              undone: the recorded (old) limits are written again
 *   attach VMM          finished while the pinned process lives (moving it
 *                       back is impossible: where it came from is not known)
 *   attach vCPUs        the list is taken from the kernel's vcpu cgroup
 *
 * A recovery never kills or moves a VMM except for a delete. */

static const char *const recovery_table[_SANDBOX_RECOVERY_MAX] = {
        [SANDBOX_RECOVERY_NONE] = "none",
        [SANDBOX_RECOVERY_CREATE_UNDONE] = "interrupted create undone",
        [SANDBOX_RECOVERY_DELETE_DONE] = "interrupted delete finished",
        [SANDBOX_RECOVERY_UPDATE_UNDONE] = "interrupted update undone",
        [SANDBOX_RECOVERY_ATTACH_DONE] = "interrupted VMM attach finished",
        [SANDBOX_RECOVERY_ATTACH_UNDONE] = "interrupted VMM attach dropped: the process is gone",
        [SANDBOX_RECOVERY_VCPUS_DONE] = "interrupted vCPU attach: list taken from the kernel",
        [SANDBOX_RECOVERY_VMM_EXITED] = "VMM exited while sandboxcgd was away",
};

const char *sandbox_recovery_to_string(SandboxRecovery r)
{
        if (r < 0 || r >= _SANDBOX_RECOVERY_MAX)
                return NULL;
        return recovery_table[r];
}

/* Write the recorded limits again (the engine orders and rolls back). */
static int reapply_spec(Manager *m, Sandbox *s, Error *e)
{
        _cleanup_free_ CgroupWrite *writes = NULL;
        size_t n = 0;
        int r;

        r = sandbox_plan_writes(m, NULL, &s->spec.resources, &s->spec.overhead, &writes, &n, e);
        if (r < 0)
                return r;
        return cgroup_update(&m->engine, s->spec.parent, s->spec.id, writes, n, e);
}

static int finish_attach_vmm(Manager *m, Sandbox *s, SandboxRecovery *ret, Error *e)
{
        int pidfd = -EBADF, r;

        r = vmm_pidfd_open(s->pending_vmm_pid, s->pending_vmm_start_time, &pidfd, NULL);
        if (r < 0) {
                /* Gone (or its PID reused): nothing of it is left to move. */
                *ret = SANDBOX_RECOVERY_ATTACH_UNDONE;
                return 0;
        }
        r = cgroup_attach_vmm(&m->engine, s->spec.parent, s->spec.id, s->pending_vmm_pid, e);
        if (r < 0) {
                safe_close(pidfd);
                return r;
        }
        s->vmm_pid = s->pending_vmm_pid;
        s->vmm_start_time = s->pending_vmm_start_time;
        s->vmm_pidfd = pidfd;
        s->state = SANDBOX_RUNNING;
        *ret = SANDBOX_RECOVERY_ATTACH_DONE;
        return 0;
}

static int vcpus_from_kernel(Manager *m, Sandbox *s, Error *e)
{
        pid_t *tids = NULL;
        size_t n = 0;
        int r;

        r = cgroup_vcpu_threads(&m->engine, s->spec.parent, s->spec.id, &tids, &n, e);
        if (r < 0)
                return r;
        free(s->vcpu_tids);
        s->vcpu_tids = tids;
        s->n_vcpu_tids = n;
        return 0;
}

int sandbox_recover(Manager *m, Sandbox *s, SandboxRecovery *ret, Error *e)
{
        SandboxRecovery what = SANDBOX_RECOVERY_NONE;
        int r;

        if (s->state == SANDBOX_CREATING) {
                /* The tree, if any, is empty: no attach can have happened. */
                s->state = SANDBOX_DELETING;
                *ret = SANDBOX_RECOVERY_CREATE_UNDONE;
                return sandbox_finish_delete(m, s, e);
        }
        if (s->state == SANDBOX_DELETING) {
                *ret = SANDBOX_RECOVERY_DELETE_DONE;
                return sandbox_finish_delete(m, s, e);
        }

        switch (s->pending) {
        case SANDBOX_OP_UPDATE:
                r = reapply_spec(m, s, e);
                if (r < 0)
                        return r;
                what = SANDBOX_RECOVERY_UPDATE_UNDONE;
                break;
        case SANDBOX_OP_ATTACH_VMM:
                r = finish_attach_vmm(m, s, &what, e);
                if (r < 0)
                        return r;
                break;
        case SANDBOX_OP_ATTACH_VCPUS:
                what = SANDBOX_RECOVERY_VCPUS_DONE;
                break;
        default:
                break;
        }

        /* Re-pin the VMM by PID and start time (unless the attach above just
         * did), so that a reused PID is never taken for it. */
        if (s->state == SANDBOX_RUNNING && s->vmm_pidfd < 0) {
                r = sandbox_rewatch_vmm(s, e);
                if (r < 0)
                        return r;
                if (r > 0 && what == SANDBOX_RECOVERY_NONE)
                        what = SANDBOX_RECOVERY_VMM_EXITED;
        } else if (s->state == SANDBOX_RUNNING) {
                r = sandbox_watch_vmm(s);
                if (r < 0)
                        return error_set(e, GRPC_INTERNAL, -r, "cannot watch VMM %d: %s", (int) s->vmm_pid,
                                         strerror(-r));
        }

        /* The kernel knows which threads are in vcpu. */
        if (s->state == SANDBOX_RUNNING || what == SANDBOX_RECOVERY_VCPUS_DONE) {
                r = vcpus_from_kernel(m, s, e);
                if (r < 0)
                        return r;
        }

        if (s->pending != SANDBOX_OP_NONE || what != SANDBOX_RECOVERY_NONE) {
                sandbox_clear_pending(s);
                s->updated_at = now_realtime_ns();
                r = sandbox_save(m, s, e);
                if (r < 0)
                        return r;
        }
        *ret = what;
        return 0;
}

/* ---- reconciliation: orphans and lost trees ---------------------------- */

static const char *const gc_kind_table[_GC_KIND_MAX] = {
        [GC_ORPHAN] = "orphan",
        [GC_RECORD_WITHOUT_CGROUPS] = "record-without-cgroups",
        [GC_PARTIAL_CGROUPS] = "partial-cgroups",
};

const char *gc_kind_to_string(GcKind k)
{
        if (k < 0 || k >= _GC_KIND_MAX)
                return NULL;
        return gc_kind_table[k];
}

void gc_findings_free(GcFinding *f, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(f[i].id);
                free(f[i].parent);
        }
        free(f);
}

typedef struct GcList {
        GcFinding *items;
        size_t n, allocated;
} GcList;

static int gc_add(GcList *l, GcKind kind, const char *id, const char *parent)
{
        GcFinding *f;

        if (l->n == l->allocated) {
                size_t k = MAX(l->allocated * 2, (size_t) 8);
                GcFinding *p = reallocarray(l->items, k, sizeof *p);
                if (!p)
                        return -ENOMEM;
                l->items = p;
                l->allocated = k;
        }
        f = &l->items[l->n];
        *f = (GcFinding){ .kind = kind, .id = strdup(id), .parent = strdup(parent) };
        if (!f->id || !f->parent) {
                free(f->id);
                free(f->parent);
                return -ENOMEM;
        }
        l->n++;
        return 0;
}

typedef struct OrphanScan {
        Manager *m;
        GcList *list;
} OrphanScan;

static int orphan_found(void *userdata, const char *parent, const char *id)
{
        OrphanScan *scan = userdata;
        const Sandbox *s = sandbox_find(scan->m, id);

        if (s && streq(s->spec.parent, parent))
                return 0; /* recorded: not an orphan */
        return gc_add(scan->list, GC_ORPHAN, id, parent);
}

int sandbox_gc(Manager *m, bool dry_run, GcFinding **ret, size_t *ret_n, bool *ret_markers, Error *e)
{
        GcList list = {};
        OrphanScan scan = { .m = m, .list = &list };
        int r;

        /* Trees with the daemon's marker but no record. */
        *ret_markers = m->engine.marker != NULL;
        if (m->engine.marker) {
                r = cgroup_find_marked(&m->engine, orphan_found, &scan, e);
                if (r == -ENOMEM)
                        r = error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
                if (r < 0)
                        goto fail;
        }

        /* Records whose trees are gone, wholly or in part. */
        for (size_t i = 0; i < m->n_sandboxes; i++) {
                const Sandbox *s = m->sandboxes[i];

                if (s->state == SANDBOX_CREATING || s->state == SANDBOX_DELETING)
                        continue; /* recovery's business */
                r = cgroup_exists(&m->engine, s->spec.parent, s->spec.id);
                if (r == 1)
                        continue;
                if (r < 0 && r != -EUCLEAN) {
                        r = error_set(e, GRPC_INTERNAL, -r, "Sandbox %s: cannot look at its cgroups: %s",
                                      s->spec.id, strerror(-r));
                        goto fail;
                }
                r = gc_add(&list, r == 0 ? GC_RECORD_WITHOUT_CGROUPS : GC_PARTIAL_CGROUPS, s->spec.id,
                           s->spec.parent);
                if (r < 0) {
                        r = error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
                        goto fail;
                }
        }

        if (!dry_run)
                for (size_t i = 0; i < list.n; i++) {
                        GcFinding *f = &list.items[i];
                        Sandbox *s;

                        switch (f->kind) {
                        case GC_ORPHAN:
                                /* Nobody manages it: whatever runs there goes. */
                                r = cgroup_destroy(&m->engine, f->parent, f->id, e);
                                if (r >= 0)
                                        r = cgroup_remove_marked_levels(&m->engine, f->parent, e);
                                break;
                        case GC_RECORD_WITHOUT_CGROUPS:
                                /* Someone removed the tree, and the VM with it: the
                                 * record describes nothing any more. */
                                s = sandbox_find(m, f->id);
                                s->state = SANDBOX_DELETING;
                                r = sandbox_finish_delete(m, s, e);
                                break;
                        default:
                                /* Half a tree: not knowing how it came to be,
                                 * leave it to DeleteSandbox (which copes). */
                                r = 0;
                                continue;
                        }
                        if (r < 0)
                                goto fail;
                        f->fixed = true;
                }

        *ret = list.items;
        *ret_n = list.n;
        return 0;
fail:
        gc_findings_free(list.items, list.n);
        return r;
}
