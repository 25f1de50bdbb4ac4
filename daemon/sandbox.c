/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "common/strv.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/names.h"
#include "daemon/sandbox-internal.h"
#include "daemon/sandbox.h"
#include "daemon/store.h"
#include "daemon/vmm.h"

static const char *const sandbox_state_table[_SANDBOX_STATE_MAX] = {
        [SANDBOX_CREATING] = "creating",
        [SANDBOX_CREATED] = "created",
        [SANDBOX_RUNNING] = "running",
        [SANDBOX_VMM_EXITED] = "vmm-exited",
        [SANDBOX_DELETING] = "deleting",
};

const char *sandbox_state_to_string(SandboxState s)
{
        if (s < 0 || s >= _SANDBOX_STATE_MAX)
                return NULL;
        return sandbox_state_table[s];
}

uint64_t now_realtime_ns(void)
{
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

void sandbox_spec_done(SandboxSpec *spec)
{
        if (!spec)
                return;
        free(spec->id);
        free(spec->parent);
        resources_done(&spec->resources);
        resources_done(&spec->overhead);
        *spec = (SandboxSpec){};
}

int sandbox_new(Manager *m, Sandbox **ret)
{
        Sandbox *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        s->manager = m;
        s->state = SANDBOX_CREATING;
        s->vmm_pidfd = -EBADF;
        *ret = s;
        return 0;
}

void sandbox_unwatch_vmm(Sandbox *s)
{
        s->vmm_exit_source = sd_event_source_disable_unref(s->vmm_exit_source);
        s->vmm_pidfd = safe_close(s->vmm_pidfd);
}

void sandbox_clear_pending(Sandbox *s)
{
        s->pending = SANDBOX_OP_NONE;
        resources_done(&s->pending_resources);
        resources_done(&s->pending_overhead);
        s->pending_vmm_pid = 0;
        s->pending_vmm_start_time = 0;
}

Sandbox *sandbox_free(Sandbox *s)
{
        if (!s)
                return NULL;
        sandbox_unwatch_vmm(s);
        sandbox_spec_done(&s->spec);
        sandbox_clear_pending(s);
        free(s->vcpu_tids);
        strv_free(s->made_parents);
        free(s->listed);
        free(s);
        return NULL;
}

/* ---- the set of live sandboxes ------------------------------------------ */

/* Index of id in the sorted set, or where it would go. */
static size_t sandbox_search(Manager *m, const char *id, bool *ret_found)
{
        size_t lo = 0, hi = m->n_sandboxes;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(m->sandboxes[mid]->spec.id, id);

                if (c == 0) {
                        *ret_found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_found = false;
        return lo;
}

size_t sandbox_index_after(Manager *m, const char *id)
{
        bool found;
        size_t i = sandbox_search(m, id, &found);

        return found ? i + 1 : i;
}

Sandbox *sandbox_find(Manager *m, const char *id)
{
        bool found;
        size_t i;

        if (!id)
                return NULL;
        i = sandbox_search(m, id, &found);
        return found ? m->sandboxes[i] : NULL;
}

int sandbox_register(Manager *m, Sandbox *s)
{
        bool found;
        size_t i = sandbox_search(m, s->spec.id, &found);

        if (found)
                return -EEXIST;
        if (m->n_sandboxes == m->allocated_sandboxes) {
                size_t k = MAX(m->allocated_sandboxes * 2, (size_t) 64);
                Sandbox **l = reallocarray(m->sandboxes, k, sizeof *l);

                if (!l)
                        return -ENOMEM;
                m->sandboxes = l;
                m->allocated_sandboxes = k;
        }
        memmove(m->sandboxes + i + 1, m->sandboxes + i, (m->n_sandboxes - i) * sizeof *m->sandboxes);
        m->sandboxes[i] = s;
        m->n_sandboxes++;
        return 0;
}

void sandbox_unregister(Manager *m, Sandbox *s)
{
        bool found;
        size_t i = sandbox_search(m, s->spec.id, &found);

        if (found && m->sandboxes[i] == s) {
                memmove(m->sandboxes + i, m->sandboxes + i + 1, (m->n_sandboxes - i - 1) * sizeof *m->sandboxes);
                m->n_sandboxes--;
        }
        sandbox_free(s);
}

/* ---- shared steps ------------------------------------------------------- */

/* A quoted copy of untrusted text for an error message: printable ASCII
 * only, cut at 64 characters. */
static const char *quote(const char *s, char buf[static 72])
{
        size_t k = 0;

        for (; s && *s && k < 64; s++)
                buf[k++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
        if (s && *s) {
                memcpy(buf + k, "...", 3);
                k += 3;
        }
        buf[k] = '\0';
        return buf;
}

int sandbox_check_id(const char *id, Error *e)
{
        char q[72];

        if (!id || !id[0])
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "id: missing");
        if (!sandbox_id_is_valid(id))
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "id: \"%s\" is not a sandbox id (1 to %d characters of [A-Za-z0-9._-], "
                                 "starting with a letter or digit)",
                                 quote(id, q), SANDBOX_ID_MAX);
        return 0;
}

/* AllowedCgroupParents=, when set: the parent must be one of them or
 * beneath one. */
static int check_parent_allowed(Manager *m, const char *parent, Error *e)
{
        char **l = m->config.allowed_parents;

        if (!l)
                return 0;
        for (char **p = l; *p; p++)
                if (cgroup_parent_is_beneath(parent, *p))
                        return 0;
        return error_set(e, GRPC_PERMISSION_DENIED, EPERM,
                         "cgroup_parent: %s is not beneath any of the parents AllowedCgroupParents= allows (%s%s)",
                         parent, l[0], l[1] ? ", ..." : "");
}

static Sandbox *find_or_fail(Manager *m, const char *id, Error *e)
{
        Sandbox *s;

        if (sandbox_check_id(id, e) < 0)
                return NULL;
        s = sandbox_find(m, id);
        if (!s)
                (void) error_set(e, GRPC_NOT_FOUND, ENOENT, "Sandbox %s not found", id);
        return s;
}

/* Sandboxes being made or removed take no other operation. */
static int check_settled(const Sandbox *s, const char *what, Error *e)
{
        if (s->state == SANDBOX_CREATING || s->state == SANDBOX_DELETING)
                return error_set(e, GRPC_FAILED_PRECONDITION, EBUSY,
                                 "Sandbox %s is %s (an interrupted operation): %s needs it created; delete "
                                 "it and create it again",
                                 s->spec.id, sandbox_state_to_string(s->state), what);
        return 0;
}

/* The live sandbox id that takes operation what (NOT_FOUND, or
 * FAILED_PRECONDITION while it is being created or deleted). */
static int find_settled(Manager *m, const char *id, const char *what, Sandbox **ret, Error *e)
{
        Sandbox *s = find_or_fail(m, id, e);
        int r;

        if (!s)
                return -ENOENT;
        r = check_settled(s, what, e);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

/* A cpuset list of a request must lie within what the parent allows (the
 * kernel would refuse the write half way through, or on v2 silently use
 * less). */
static int check_cpuset(Manager *m, const char *parent, const char *list, bool mems, const char *field, Error *e)
{
        _cleanup_free_ char *allowed = NULL;
        CpuSet want, have;
        int r;

        if (!list)
                return 0;
        r = cgroup_parent_cpuset(&m->engine, parent, mems, &allowed, e);
        if (r < 0)
                return r;
        if (!allowed)
                return 0; /* no cpuset controller: resources_translate() says so */
        if (cpuset_parse(list, &want) < 0)
                return 0; /* resources_validate() said so already */
        if (cpuset_parse(allowed, &have) < 0)
                return error_set(e, GRPC_INTERNAL, EBADMSG, "cannot parse the parent's cpuset \"%s\"", allowed);
        if (!cpuset_is_subset(&want, &have))
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "%s: \"%s\" is not within the %s that cgroup parent %s allows (%s)", field, list,
                                 mems ? "memory nodes" : "CPUs", parent, allowed);
        return 0;
}

/* Validate both parts (against the parent's cpuset too, when parent is not
 * NULL), compute the totals and the files to write: all before anything is
 * touched. */
int sandbox_plan_writes(Manager *m, const char *parent, const Resources *resources, const Resources *overhead,
                        CgroupWrite **ret, size_t *ret_n, Error *e)
{
        _cleanup_(resources_done) Resources total = {};
        int r;

        r = resources_validate(resources, "resources", &m->host, e);
        if (r < 0)
                return r;
        r = resources_validate(overhead, "overhead", &m->host, e);
        if (r < 0)
                return r;
        if (parent &&
            ((r = check_cpuset(m, parent, resources->cpuset_cpus, false, "resources.cpuset_cpus", e)) < 0 ||
             (r = check_cpuset(m, parent, resources->cpuset_mems, true, "resources.cpuset_mems", e)) < 0 ||
             (r = check_cpuset(m, parent, overhead->cpuset_cpus, false, "overhead.cpuset_cpus", e)) < 0 ||
             (r = check_cpuset(m, parent, overhead->cpuset_mems, true, "overhead.cpuset_mems", e)) < 0))
                return r;
        r = resources_combine(resources, overhead, &total, e);
        if (r < 0)
                return r;
        return resources_translate(resources, overhead, &total, &m->host, ret, ret_n, e);
}

int sandbox_save(Manager *m, Sandbox *s, Error *e)
{
        /* s changed: what ListSandboxes had of it is stale. */
        free(s->listed);
        s->listed = NULL;
        s->listed_size = 0;
        return store_save(&m->store, s, e);
}

/* ---- create ------------------------------------------------------------- */

/* Is dir (a cgroup path) inside the tree of a live sandbox? */
static const Sandbox *sandbox_owning(Manager *m, const char *dir)
{
        for (size_t i = 0; i < m->n_sandboxes; i++) {
                const Sandbox *t = m->sandboxes[i];
                size_t np = strlen(t->spec.parent), ni = strlen(t->spec.id);

                if (strncmp(dir, t->spec.parent, np) == 0 && dir[np] == '/' &&
                    strncmp(dir + np + 1, t->spec.id, ni) == 0 && (dir[np + 1 + ni] == '\0' || dir[np + 1 + ni] == '/'))
                        return t;
        }
        return NULL;
}

static bool spec_equal(const Sandbox *s, const char *parent, const SandboxSpec *spec)
{
        return streq(s->spec.parent, parent) && resources_equal(&s->spec.resources, &spec->resources) &&
               resources_equal(&s->spec.overhead, &spec->overhead);
}

int sandbox_create(Manager *m, const SandboxSpec *spec, Sandbox **ret, bool *ret_created, Error *e)
{
        _cleanup_(sandbox_freep) Sandbox *s = NULL;
        _cleanup_free_ CgroupWrite *writes = NULL;
        _cleanup_free_ char *parent = NULL;
        _cleanup_strv_free_ char **made = NULL;
        const Sandbox *owner;
        Sandbox *existing;
        size_t n_writes = 0;
        uint64_t now;
        int r;

        r = sandbox_check_id(spec->id, e);
        if (r < 0)
                return r;
        r = cgroup_parent_normalize(spec->parent && spec->parent[0] ? spec->parent : m->config.default_parent,
                                    "cgroup_parent", &parent, e);
        if (r < 0)
                return r;
        r = check_parent_allowed(m, parent, e);
        if (r < 0)
                return r;
        r = sandbox_plan_writes(m, parent, &spec->resources, &spec->overhead, &writes, &n_writes, e);
        if (r < 0)
                return r;

        existing = sandbox_find(m, spec->id);
        if (existing) {
                if (!spec_equal(existing, parent, spec))
                        return error_set(e, GRPC_ALREADY_EXISTS, EEXIST,
                                         "Sandbox %s already exists with a different spec (cgroup parent %s)",
                                         spec->id, existing->spec.parent);
                r = check_settled(existing, "CreateSandbox", e);
                if (r < 0)
                        return r;
                *ret = existing;
                *ret_created = false;
                return 0;
        }

        owner = sandbox_owning(m, parent);
        if (owner)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "cgroup_parent: %s is inside the tree of sandbox %s", parent, owner->spec.id);
        if (m->n_sandboxes >= m->config.max_sandboxes)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, EUSERS,
                                 "Sandbox %s: %zu sandboxes exist, the most MaxSandboxes= allows", spec->id,
                                 m->n_sandboxes);

        r = sandbox_new(m, &s);
        if (r < 0)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
        s->spec.id = strdup(spec->id);
        if (!s->spec.id || resources_copy(&spec->resources, &s->spec.resources) < 0 ||
            resources_copy(&spec->overhead, &s->spec.overhead) < 0)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
        s->spec.parent = TAKE_PTR(parent);
        now = now_realtime_ns();
        s->created_at = s->updated_at = now;
        s->state = SANDBOX_CREATING;
        s->pending = SANDBOX_OP_CREATE;
        /* The parent levels about to be made go into the intent too: a crash
         * half way must not leave them behind unrecorded. */
        r = cgroup_missing_levels(&m->engine, s->spec.parent, &s->made_parents, e);
        if (r < 0)
                return r;

        /* Intent first: a crash from here on leaves a record that says a
         * tree may exist. */
        r = sandbox_save(m, s, e);
        if (r < 0)
                return r;

        r = cgroup_create(&m->engine, s->spec.parent, s->spec.id, writes, n_writes, &made, e);
        if (r < 0)
                goto undo_record;
        /* What was really made (someone may have made a level meanwhile). */
        strv_free(s->made_parents);
        s->made_parents = TAKE_PTR(made);

        s->state = SANDBOX_CREATED;
        s->pending = SANDBOX_OP_NONE;
        r = sandbox_save(m, s, e);
        if (r < 0)
                goto undo_tree;
        r = sandbox_register(m, s);
        if (r < 0) {
                r = error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
                goto undo_tree;
        }

        *ret = TAKE_PTR(s);
        *ret_created = true;
        return 0;

undo_tree:
        /* Nothing runs in the new tree yet: removing it cannot hurt anyone. */
        (void) cgroup_destroy(&m->engine, s->spec.parent, s->spec.id, NULL);
        for (size_t i = strv_length(s->made_parents); i > 0; i--)
                (void) cgroup_remove_level(&m->engine, s->made_parents[i - 1], NULL);
undo_record:
        (void) store_remove(&m->store, s->spec.id, NULL);
        return r;
}

/* ---- update ------------------------------------------------------------- */

int sandbox_update(Manager *m, const char *id, const Resources *resources, const Resources *overhead,
                   Sandbox **ret, Error *e)
{
        _cleanup_free_ CgroupWrite *writes = NULL;
        size_t n_writes = 0;
        Sandbox *s;
        int r;

        r = find_settled(m, id, "UpdateSandbox", &s, e);
        if (r < 0)
                return r;
        r = sandbox_plan_writes(m, s->spec.parent, resources, overhead, &writes, &n_writes, e);
        if (r < 0)
                return r;

        sandbox_clear_pending(s);
        if (resources_copy(resources, &s->pending_resources) < 0 ||
            resources_copy(overhead, &s->pending_overhead) < 0) {
                sandbox_clear_pending(s);
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
        }
        s->pending = SANDBOX_OP_UPDATE;
        r = sandbox_save(m, s, e);
        if (r < 0)
                goto fail;

        r = cgroup_update(&m->engine, s->spec.parent, s->spec.id, writes, n_writes, e);
        if (r < 0) {
                /* The engine restored the old values: so says the record. */
                sandbox_clear_pending(s);
                (void) sandbox_save(m, s, NULL);
                return r;
        }

        SWAP(s->spec.resources, s->pending_resources);
        SWAP(s->spec.overhead, s->pending_overhead);
        sandbox_clear_pending(s);
        s->updated_at = now_realtime_ns();
        r = sandbox_save(m, s, e);
        if (r < 0)
                return r;
        *ret = s;
        return 0;

fail:
        sandbox_clear_pending(s);
        return r;
}

/* ---- attach the VMM ----------------------------------------------------- */

void sandbox_apply_vmm_exit_policy(Manager *m, Sandbox *s)
{
        _cleanup_free_ char *id = NULL;
        bool existed;
        Error e = {};

        if (m->config.on_vmm_exit != VMM_EXIT_DELETE || s->state != SANDBOX_VMM_EXITED)
                return;
        id = strdup(s->spec.id); /* s is gone after a delete */
        if (!id) {
                log_sandbox_full_errno(LOG_WARNING, -ENOMEM, s->spec.id, "Cannot delete it (OnVmmExit=delete)");
                return;
        }
        if (sandbox_delete(m, id, &existed, &e) < 0)
                /* Left DELETING: DeleteSandbox or the next start go on. */
                log_sandbox_full_errno(LOG_WARNING, -e.errnum, id, "Cannot delete it (OnVmmExit=delete): %s",
                                       e.message);
        else
                log_sandbox_full_errno(LOG_NOTICE, 0, id, "Deleted, its VMM having exited (OnVmmExit=delete)");
}

static int on_vmm_exit(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        Sandbox *s = userdata;
        Manager *m = s->manager;
        Error e = {};

        /* The event loop is the top of this call chain: this is where it is
         * reported. */
        sandbox_unwatch_vmm(s);
        if (s->state != SANDBOX_RUNNING)
                return 0;
        s->state = SANDBOX_VMM_EXITED;
        s->vmm_exited_at = now_realtime_ns();
        s->updated_at = s->vmm_exited_at;
        log_sandbox_full_errno(LOG_NOTICE, 0, s->spec.id, "VMM (pid %d) exited; %s", (int) s->vmm_pid,
                               m->config.on_vmm_exit == VMM_EXIT_DELETE ? "deleting the sandbox"
                                                                        : "its cgroups stay until DeleteSandbox");
        if (sandbox_save(m, s, &e) < 0)
                log_sandbox_full_errno(LOG_WARNING, -e.errnum, s->spec.id, "Cannot record the VMM exit: %s",
                                       e.message);
        sandbox_apply_vmm_exit_policy(m, s);
        return 0;
}

int sandbox_watch_vmm(Sandbox *s)
{
        int r;

        if (s->vmm_pidfd < 0)
                return -EBADF;
        s->vmm_exit_source = sd_event_source_disable_unref(s->vmm_exit_source);
        r = sd_event_add_io(s->manager->event, &s->vmm_exit_source, s->vmm_pidfd, EPOLLIN, on_vmm_exit, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(s->vmm_exit_source, "vmm-exit");
        return 0;
}

/* The sandbox whose VMM is pid (with this start time), if any. */
static const Sandbox *sandbox_of_vmm(Manager *m, pid_t pid, uint64_t start_time)
{
        for (size_t i = 0; i < m->n_sandboxes; i++) {
                const Sandbox *t = m->sandboxes[i];
                if (t->state == SANDBOX_RUNNING && t->vmm_pid == pid && t->vmm_start_time == start_time)
                        return t;
        }
        return NULL;
}

int sandbox_attach_vmm(Manager *m, const char *id, pid_t pid, Sandbox **ret, Error *e)
{
        _cleanup_close_ int pidfd = -EBADF;
        const Sandbox *other;
        uint64_t start_time;
        Sandbox *s;
        int r;

        r = find_settled(m, id, "AttachVmm", &s, e);
        if (r < 0)
                return r;
        if (pid <= 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "pid: %d is not a process id", (int) pid);
        if (s->state == SANDBOX_VMM_EXITED)
                return error_set(e, GRPC_FAILED_PRECONDITION, ESRCH,
                                 "Sandbox %s: its VMM (pid %d) has exited; delete the sandbox", id,
                                 (int) s->vmm_pid);

        r = vmm_check_attachable(pid, e);
        if (r < 0)
                return r;
        r = vmm_pidfd_open(pid, 0, &pidfd, e);
        if (r < 0)
                return r;
        r = vmm_pidfd_read_start_time(pidfd, pid, &start_time, e);
        if (r < 0)
                return r;

        if (s->state == SANDBOX_RUNNING) {
                if (s->vmm_pid != pid || s->vmm_start_time != start_time)
                        return error_set(e, GRPC_FAILED_PRECONDITION, EBUSY,
                                         "Sandbox %s already has a VMM (pid %d)", id, (int) s->vmm_pid);
                /* The same VMM again: complete whatever an earlier call left
                 * half done; moving a process where it is is a no-op. */
                r = cgroup_attach_vmm(&m->engine, s->spec.parent, s->spec.id, pid, e);
                if (r < 0)
                        return r;
                *ret = s;
                return 0;
        }

        other = sandbox_of_vmm(m, pid, start_time);
        if (other)
                return error_set(e, GRPC_FAILED_PRECONDITION, EBUSY, "Process %d is the VMM of sandbox %s",
                                 (int) pid, other->spec.id);

        s->pending = SANDBOX_OP_ATTACH_VMM;
        s->pending_vmm_pid = pid;
        s->pending_vmm_start_time = start_time;
        r = sandbox_save(m, s, e);
        if (r < 0)
                goto fail;

        /* A failure half way leaves the process in some of the hierarchies:
         * a retry completes the move, DeleteSandbox kills it. */
        r = cgroup_attach_vmm(&m->engine, s->spec.parent, s->spec.id, pid, e);
        if (r < 0)
                goto fail;
        /* Still the process the pidfd pinned? If it died meanwhile, its PID
         * may name another process now. */
        if (vmm_pidfd_alive(pidfd) <= 0) {
                r = error_set(e, GRPC_NOT_FOUND, ESRCH, "Sandbox %s: process %d exited while being attached",
                              id, (int) pid);
                goto fail;
        }

        s->vmm_pid = pid;
        s->vmm_start_time = start_time;
        s->vmm_pidfd = TAKE_FD(pidfd);
        s->state = SANDBOX_RUNNING;
        sandbox_clear_pending(s);
        s->updated_at = now_realtime_ns();
        r = sandbox_watch_vmm(s);
        if (r < 0)
                return error_set(e, GRPC_INTERNAL, -r, "Sandbox %s: cannot watch VMM %d: %s", id, (int) pid,
                                 strerror(-r));
        r = sandbox_save(m, s, e);
        if (r < 0)
                return r;
        *ret = s;
        return 0;

fail:
        sandbox_clear_pending(s);
        (void) sandbox_save(m, s, NULL);
        return r;
}

int sandbox_rewatch_vmm(Sandbox *s, Error *e)
{
        int pidfd = -EBADF, r;

        if (s->state != SANDBOX_RUNNING || s->vmm_pid <= 0)
                return 0;
        /* The start time tells the VMM from a process that got its PID. */
        r = vmm_pidfd_open(s->vmm_pid, s->vmm_start_time, &pidfd, e);
        if (r == -ESRCH) {
                s->state = SANDBOX_VMM_EXITED;
                s->vmm_exited_at = s->updated_at = now_realtime_ns();
                r = sandbox_save(s->manager, s, e);
                return r < 0 ? r : 1;
        }
        if (r < 0)
                return r;
        s->vmm_pidfd = pidfd;
        r = sandbox_watch_vmm(s);
        if (r < 0)
                return error_set(e, GRPC_INTERNAL, -r, "Cannot watch VMM %d: %s", (int) s->vmm_pid,
                                 strerror(-r));
        return 0;
}

/* ---- attach vCPUs ------------------------------------------------------- */

typedef struct PidList {
        pid_t *pids;
        size_t n, allocated;
} PidList;

static void pid_list_done(PidList *l)
{
        free(l->pids);
        *l = (PidList){};
}

static bool pid_list_contains(const PidList *l, pid_t pid)
{
        for (size_t i = 0; i < l->n; i++)
                if (l->pids[i] == pid)
                        return true;
        return false;
}

static int pid_list_add(PidList *l, pid_t pid)
{
        if (pid_list_contains(l, pid))
                return 0;
        if (l->n == l->allocated) {
                size_t k = MAX(l->allocated * 2, (size_t) 8);
                pid_t *p = reallocarray(l->pids, k, sizeof *p);
                if (!p)
                        return -ENOMEM;
                l->pids = p;
                l->allocated = k;
        }
        l->pids[l->n++] = pid;
        return 0;
}

static int pid_compare(const void *a, const void *b)
{
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return (x > y) - (x < y);
}

static bool task_exists(pid_t tid)
{
        char path[32];

        /* /proc/<tid> resolves any thread, not only leaders. */
        (void) snprintf(path, sizeof path, "/proc/%d", (int) tid);
        return access(path, F_OK) >= 0;
}

/* The threads to move: explicit ones checked to belong to the VMM, or those
 * found by name. */
static int vcpu_candidates(Manager *m, const Sandbox *s, const VcpuRequest *req, PidList *ret, PidList *gone,
                           Error *e)
{
        if (req->discover) {
                const char *const *patterns = req->patterns ?: (const char *const *) m->config.vcpu_patterns;
                _cleanup_free_ VcpuThread *threads = NULL;
                size_t n = 0;
                int r;

                r = vmm_discover_vcpus(s->vmm_pid, patterns, &threads, &n, e);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        /* The main thread stays with the overhead even when
                         * it is named like a vCPU: moving it is refused for
                         * explicit TIDs too. */
                        if (threads[i].tid == s->vmm_pid)
                                continue;
                        if (pid_list_add(ret, threads[i].tid) < 0)
                                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
                }
                if (req->expect > 0 && ret->n != req->expect)
                        return error_set(e, GRPC_FAILED_PRECONDITION, ENOENT,
                                         "Sandbox %s: found %zu vCPU threads in VMM %d, expected %u", s->spec.id,
                                         ret->n, (int) s->vmm_pid, req->expect);
                if (ret->n == 0)
                        return error_set(e, GRPC_FAILED_PRECONDITION, ENOENT,
                                         "Sandbox %s: no thread of VMM %d but its main thread is named like a "
                                         "vCPU",
                                         s->spec.id, (int) s->vmm_pid);
                return 0;
        }

        for (size_t i = 0; i < req->n_tids; i++) {
                pid_t tid = req->tids[i];
                int r;

                if (tid <= 0)
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "tids[%zu]: %d is not a thread id", i,
                                         (int) tid);
                if (tid == s->vmm_pid)
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         "tids[%zu]: %d is the VMM's main thread, not a vCPU", i, (int) tid);
                r = vmm_is_thread_of(s->vmm_pid, tid);
                if (r == -ESRCH)
                        return error_set(e, GRPC_FAILED_PRECONDITION, ESRCH, "Sandbox %s: VMM %d has exited",
                                         s->spec.id, (int) s->vmm_pid);
                if (r < 0)
                        return error_set(e, GRPC_INTERNAL, -r, "Cannot look up thread %d of process %d: %s",
                                         (int) tid, (int) s->vmm_pid, strerror(-r));
                if (r == 0) {
                        if (task_exists(tid))
                                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                                 "tids[%zu]: %d is not a thread of the VMM of sandbox %s "
                                                 "(pid %d)",
                                                 i, (int) tid, s->spec.id, (int) s->vmm_pid);
                        r = pid_list_add(gone, tid);
                } else
                        r = pid_list_add(ret, tid);
                if (r < 0)
                        return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
        }
        return 0;
}

int sandbox_attach_vcpus(Manager *m, const char *id, const VcpuRequest *req, Sandbox **ret, pid_t **ret_attached,
                         size_t *ret_n_attached, pid_t **ret_gone, size_t *ret_n_gone, Error *e)
{
        _cleanup_(pid_list_done) PidList candidates = {}, attached = {}, gone = {}, all = {};
        Sandbox *s;
        int r;

        r = find_settled(m, id, "AttachVcpus", &s, e);
        if (r < 0)
                return r;
        if (req->discover == (req->n_tids > 0))
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 req->discover ? "tids and discover: give one or the other"
                                               : "tids: give the vCPU thread ids, or discover");
        if (!req->discover && req->expect > 0)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "expect: only with discover");
        for (size_t i = 0; req->patterns && req->patterns[i]; i++)
                if (!vcpu_pattern_is_valid(req->patterns[i]))
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         "patterns[%zu]: a pattern is thread name text with at most one %%u "
                                         "and no other %% than %%%%",
                                         i);
        if (s->state != SANDBOX_RUNNING || vmm_pidfd_alive(s->vmm_pidfd) <= 0)
                return error_set(e, GRPC_FAILED_PRECONDITION, ESRCH, "Sandbox %s has no running VMM",
                                 s->spec.id);

        r = vcpu_candidates(m, s, req, &candidates, &gone, e);
        if (r < 0)
                return r;

        s->pending = SANDBOX_OP_ATTACH_VCPUS;
        r = sandbox_save(m, s, e);
        if (r < 0) {
                sandbox_clear_pending(s);
                return r;
        }
        for (size_t i = 0; i < candidates.n; i++) {
                r = cgroup_attach_vcpu(&m->engine, s->spec.parent, s->spec.id, candidates.pids[i], e);
                if (r == -ESRCH)
                        r = pid_list_add(&gone, candidates.pids[i]);
                else if (r >= 0)
                        r = pid_list_add(&attached, candidates.pids[i]);
                if (r < 0)
                        break;
        }

        /* The vCPUs of the sandbox: earlier ones still alive, and the new. */
        for (size_t i = 0; r >= 0 && i < s->n_vcpu_tids; i++)
                if (vmm_is_thread_of(s->vmm_pid, s->vcpu_tids[i]) == 1)
                        r = pid_list_add(&all, s->vcpu_tids[i]);
        for (size_t i = 0; r >= 0 && i < attached.n; i++)
                r = pid_list_add(&all, attached.pids[i]);
        if (r >= 0 && all.n > 0)
                qsort(all.pids, all.n, sizeof *all.pids, pid_compare);

        sandbox_clear_pending(s);
        if (r < 0) {
                (void) sandbox_save(m, s, NULL);
                if (r == -ENOMEM)
                        return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
                return r;
        }
        free(s->vcpu_tids);
        s->vcpu_tids = TAKE_PTR(all.pids);
        s->n_vcpu_tids = all.n;
        all = (PidList){};
        s->updated_at = now_realtime_ns();
        r = sandbox_save(m, s, e);
        if (r < 0)
                return r;

        *ret = s;
        *ret_attached = TAKE_PTR(attached.pids);
        *ret_n_attached = attached.n;
        *ret_gone = TAKE_PTR(gone.pids);
        *ret_n_gone = gone.n;
        attached = gone = (PidList){};
        return 0;
}

/* A live sandbox other than s whose tree lies beneath the parent level dir
 * (relative to the cgroup root, in any hierarchy). */
static Sandbox *sandbox_beneath(Manager *m, const Sandbox *s, const char *dir)
{
        size_t n = strlen(dir);

        for (size_t i = 0; i < m->n_sandboxes; i++) {
                Sandbox *t = m->sandboxes[i];

                if (t == s)
                        continue;
                for (size_t k = 0; k < m->engine.n_hierarchies; k++) {
                        _cleanup_free_ char *tdir = NULL;

                        if (cgroup_node_dir(&m->engine.hierarchies[k], t->spec.parent, t->spec.id, NODE_SANDBOX,
                                            &tdir) < 0)
                                continue;
                        if (strncmp(tdir, dir, n) == 0 && tdir[n] == '/')
                                return t;
                }
        }
        return NULL;
}

/* Another live sandbox under the same parent? */
static bool sandbox_beneath_parent(Manager *m, const Sandbox *s)
{
        size_t n = strlen(s->spec.parent);

        for (size_t i = 0; i < m->n_sandboxes; i++) {
                const Sandbox *t = m->sandboxes[i];

                if (t != s && strncmp(t->spec.parent, s->spec.parent, n) == 0 &&
                    (t->spec.parent[n] == '\0' || t->spec.parent[n] == '/'))
                        return true;
        }
        return false;
}

static size_t path_depth(const char *p)
{
        size_t n = 0;

        for (; *p; p++)
                n += *p == '/';
        return n;
}

/* The parent levels s made: removed deepest first when nobody lives there,
 * or handed to a sandbox that still lives beneath (which removes them in
 * turn). A level someone else put something into stays. */
void sandbox_release_parents(Manager *m, Sandbox *s)
{
        size_t n = strv_length(s->made_parents), deepest = 0;

        /* Deepest first, whatever the order of the list (levels handed over
         * by a sibling are appended): depth by depth, each backwards. */
        for (size_t i = 0; i < n; i++)
                deepest = MAX(deepest, path_depth(s->made_parents[i]));
        for (size_t depth = deepest + 1; depth-- > 0;)
                for (size_t i = n; i-- > 0;) {
                        const char *dir = s->made_parents[i];
                        Sandbox *heir;
                        Error e = {};

                        if (path_depth(dir) != depth)
                                continue;
                        heir = sandbox_beneath(m, s, dir);

                        if (heir) {
                                /* Already there when an interrupted delete
                                 * runs again. */
                                if (strv_contains(heir->made_parents, dir))
                                        continue;
                                if (strv_extend(&heir->made_parents, dir) < 0 || sandbox_save(m, heir, &e) < 0)
                                        log_sandbox_full_errno(LOG_WARNING, -ENOMEM, heir->spec.id,
                                                               "Cannot take over parent cgroup %s: it may stay "
                                                               "behind", dir);
                                continue;
                        }
                        if (cgroup_remove_level(&m->engine, dir, &e) < 0 && error_is_set(&e))
                                log_sandbox_full_errno(LOG_WARNING, -e.errnum, s->spec.id, "%s", e.message);
                }

        /* Levels the daemon made for a sandbox whose record was lost carry
         * its marker: the last sandbox beneath takes them along. */
        if (!sandbox_beneath_parent(m, s)) {
                Error e = {};

                if (cgroup_remove_marked_levels(&m->engine, s->spec.parent, &e) < 0)
                        log_sandbox_full_errno(LOG_WARNING, -e.errnum, s->spec.id, "%s", e.message);
        }
}

/* ---- delete ------------------------------------------------------------- */

int sandbox_delete(Manager *m, const char *id, bool *ret_existed, Error *e)
{
        Sandbox *s;
        int r;

        r = sandbox_check_id(id, e);
        if (r < 0)
                return r;
        s = sandbox_find(m, id);
        if (!s) {
                *ret_existed = false;
                return 0;
        }

        s->state = SANDBOX_DELETING;
        sandbox_clear_pending(s);
        s->pending = SANDBOX_OP_DELETE;
        s->updated_at = now_realtime_ns();
        r = sandbox_save(m, s, e);
        if (r < 0)
                return r;
        r = sandbox_finish_delete(m, s, e);
        if (r < 0)
                return r;
        *ret_existed = true;
        return 0;
}

int sandbox_finish_delete(Manager *m, Sandbox *s, Error *e)
{
        int r;

        /* The VMM dies with the tree: not an exit to report. */
        sandbox_unwatch_vmm(s);
        r = cgroup_destroy(&m->engine, s->spec.parent, s->spec.id, e);
        if (r < 0)
                return r; /* the record still says DELETING: a retry goes on from here */
        /* The parent levels before the record: once the record is gone,
         * nothing would know of them any more (v1 levels carry no marker). */
        sandbox_release_parents(m, s);
        r = store_remove(&m->store, s->spec.id, e);
        if (r < 0)
                return r;
        sandbox_unregister(m, s);
        return 0;
}

/* ---- read back ---------------------------------------------------------- */

int sandbox_read_applied(Manager *m, const Sandbox *s, char ***ret_files, char ***ret_values, size_t *ret_n,
                         Error *e)
{
        _cleanup_free_ CgroupWrite *writes = NULL;
        char **files = NULL, **values = NULL;
        size_t n_writes = 0, n = 0;
        int r;

        r = sandbox_plan_writes(m, NULL, &s->spec.resources, &s->spec.overhead, &writes, &n_writes, e);
        if (r < 0)
                return r;
        r = cgroup_read_applied(&m->engine, s->spec.parent, s->spec.id, writes, n_writes, &files, &values, e);
        if (r < 0)
                return r;
        while (files[n])
                n++;
        *ret_files = files;
        *ret_values = values;
        *ret_n = n;
        return 0;
}
