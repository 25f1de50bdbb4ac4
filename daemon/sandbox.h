/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The sandbox: its spec, its state machine and the order of every operation
 * (validate, record the intent, touch the kernel, record the result). No
 * protobuf here: dispatch converts requests into these structs.
 *
 *   CREATING --create done--> CREATED --AttachVmm--> RUNNING --VMM exits--> VMM_EXITED
 *       any state --DeleteSandbox--> DELETING --> (record gone)
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "daemon/cgroup/resources.h"
#include "daemon/error.h"

typedef struct Manager Manager;

typedef enum SandboxState {
        SANDBOX_CREATING,
        SANDBOX_CREATED,
        SANDBOX_RUNNING,
        SANDBOX_VMM_EXITED,
        SANDBOX_DELETING,
        _SANDBOX_STATE_MAX,
        _SANDBOX_STATE_INVALID = -EINVAL,
} SandboxState;

const char *sandbox_state_to_string(SandboxState s);

/* An operation in flight, recorded before the kernel is touched. */
typedef enum SandboxOp {
        SANDBOX_OP_NONE,
        SANDBOX_OP_CREATE,
        SANDBOX_OP_UPDATE,
        SANDBOX_OP_ATTACH_VMM,
        SANDBOX_OP_ATTACH_VCPUS,
        SANDBOX_OP_DELETE,
        _SANDBOX_OP_MAX,
} SandboxOp;

typedef struct SandboxSpec {
        char *id;
        char *parent;           /* canonical: relative, no leading '/' */
        Resources resources;    /* the pod's: to vcpu */
        Resources overhead;     /* the pod overhead: to pod_overhead */
} SandboxSpec;

void sandbox_spec_done(SandboxSpec *spec);

typedef struct Sandbox {
        Manager *manager;
        SandboxSpec spec;
        SandboxState state;

        pid_t vmm_pid;                  /* 0: none attached */
        uint64_t vmm_start_time;        /* /proc/<pid>/stat field 22 */
        int vmm_pidfd;                  /* pins the VMM while it is watched */
        sd_event_source *vmm_exit_source;

        pid_t *vcpu_tids;
        size_t n_vcpu_tids;

        uint64_t created_at, updated_at, vmm_exited_at; /* CLOCK_REALTIME, ns */

        /* Parent levels the daemon made for this sandbox (or inherited from
         * a deleted sibling): removed with the last sandbox beneath them. */
        char **made_parents;

        /* The intent of the operation in flight (SANDBOX_OP_NONE otherwise). */
        SandboxOp pending;
        Resources pending_resources, pending_overhead;
        pid_t pending_vmm_pid;
        uint64_t pending_vmm_start_time;

        /* What ListSandboxes sends for this sandbox, packed once by the
         * method layer and dropped by sandbox_save(), which every change is
         * followed by. Opaque bytes here. */
        uint8_t *listed;
        size_t listed_size;
} Sandbox;

/* A sandbox with nothing set (state CREATING), owning nothing yet. */
int sandbox_new(Manager *m, Sandbox **ret);
Sandbox *sandbox_free(Sandbox *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Sandbox *, sandbox_free);

/* The live sandboxes of a manager, sorted by id. */
Sandbox *sandbox_find(Manager *m, const char *id);
/* The index in m->sandboxes of the first sandbox whose id sorts after id. */
size_t sandbox_index_after(Manager *m, const char *id);
/* INVALID_ARGUMENT naming "id" unless id is a sandbox id (names.h). */
int sandbox_check_id(const char *id, Error *e);
/* Takes s into the manager's set (-EEXIST if its id is there). */
int sandbox_register(Manager *m, Sandbox *s);
/* Drops s from the set and frees it. */
void sandbox_unregister(Manager *m, Sandbox *s);

/* CreateSandbox. spec->parent may be NULL (the configured default) and is
 * normalized here. On success *ret is the sandbox (owned by the manager) and
 * *ret_created false when an identical one already existed. */
int sandbox_create(Manager *m, const SandboxSpec *spec, Sandbox **ret, bool *ret_created, Error *e);

/* UpdateSandbox: the whole resource spec is replaced (unset: no limit). */
int sandbox_update(Manager *m, const char *id, const Resources *resources, const Resources *overhead,
                   Sandbox **ret, Error *e);

/* AttachVmm: pins pid with a pidfd and its start time, moves it in, and
 * watches it for exit. */
int sandbox_attach_vmm(Manager *m, const char *id, pid_t pid, Sandbox **ret, Error *e);

typedef struct VcpuRequest {
        const pid_t *tids;              /* explicit thread ids, or */
        size_t n_tids;
        bool discover;                  /* find them by name */
        unsigned expect;                /* with discover: 0, or the count that must be found */
        const char *const *patterns;    /* with discover: NULL for the configured ones */
} VcpuRequest;

/* AttachVcpus. *ret_attached / *ret_gone (malloc'd, may be NULL when empty)
 * list the threads moved and those that exited first. */
int sandbox_attach_vcpus(Manager *m, const char *id, const VcpuRequest *req, Sandbox **ret, pid_t **ret_attached,
                         size_t *ret_n_attached, pid_t **ret_gone, size_t *ret_n_gone, Error *e);

/* DeleteSandbox. *ret_existed false when there was nothing to delete. */
int sandbox_delete(Manager *m, const char *id, bool *ret_existed, Error *e);

/* With OnVmmExit=delete, delete s if its VMM has exited (s is freed then);
 * otherwise nothing. Logs what it did. */
void sandbox_apply_vmm_exit_policy(Manager *m, Sandbox *s);

/* Arm the exit watch of a sandbox whose VMM is pinned (vmm_pidfd open).
 * Used by attach and by the store when it loads records. */
int sandbox_watch_vmm(Sandbox *s);

/* For a sandbox loaded from its record: pin its VMM again (by PID and start
 * time, so a reused PID is never taken for it) and watch it. Returns 1 when
 * the VMM is gone (the state says so now), 0 otherwise. */
int sandbox_rewatch_vmm(Sandbox *s, Error *e);

typedef enum SandboxRecovery {
        SANDBOX_RECOVERY_NONE,
        SANDBOX_RECOVERY_CREATE_UNDONE,         /* removed: sandbox freed */
        SANDBOX_RECOVERY_DELETE_DONE,           /* removed: sandbox freed */
        SANDBOX_RECOVERY_UPDATE_UNDONE,
        SANDBOX_RECOVERY_ATTACH_DONE,
        SANDBOX_RECOVERY_ATTACH_UNDONE,
        SANDBOX_RECOVERY_VCPUS_DONE,
        SANDBOX_RECOVERY_VMM_EXITED,
        _SANDBOX_RECOVERY_MAX,
} SandboxRecovery;

const char *sandbox_recovery_to_string(SandboxRecovery r);

/* For a sandbox loaded from its record (and registered): finish or undo the
 * operation a crash interrupted, so that the kernel matches the record, pin
 * and watch its VMM again, and take its vCPU list from the kernel (see
 * sandbox-recover.c for what is done to each). After *_CREATE_UNDONE and
 * *_DELETE_DONE, s is gone. */
int sandbox_recover(Manager *m, Sandbox *s, SandboxRecovery *ret, Error *e);

typedef enum GcKind {
        GC_ORPHAN,                      /* a tree with the daemon's marker and no record */
        GC_RECORD_WITHOUT_CGROUPS,      /* a record whose tree is gone */
        GC_PARTIAL_CGROUPS,             /* a record whose tree is gone in some hierarchies */
        _GC_KIND_MAX,
} GcKind;

const char *gc_kind_to_string(GcKind k);

typedef struct GcFinding {
        GcKind kind;
        char *id;
        char *parent;
        bool fixed;                     /* removed (orphan) or dropped (record) */
} GcFinding;

void gc_findings_free(GcFinding *f, size_t n);

/* Compare the records with the kernel: orphans (found by the marker the
 * engine leaves on what it makes; *ret_markers false when this host cannot
 * hold markers, and orphans are then not looked for) are removed with their
 * marked parent levels, records whose tree is gone are dropped; partial trees
 * are only reported (DeleteSandbox removes them). With dry_run nothing is
 * changed. *ret (free with gc_findings_free()) lists what was found. */
int sandbox_gc(Manager *m, bool dry_run, GcFinding **ret, size_t *ret_n, bool *ret_markers, Error *e);

/* Read back what the kernel holds for every file the spec writes. */
int sandbox_read_applied(Manager *m, const Sandbox *s, char ***ret_files, char ***ret_values, size_t *ret_n,
                         Error *e);

/* CLOCK_REALTIME in nanoseconds. */
uint64_t now_realtime_ns(void);
