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
