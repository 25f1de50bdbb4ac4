/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cgroup/fileio.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/methods.h"
#include "daemon/names.h"
#include "daemon/pbconv.h"
#include "daemon/sandbox.h"
#include "daemon/vmm.h"
#include "proto/frame.h"

/* The protobuf side of the sandbox methods: requests into plain structs for
 * sandbox.c, sandboxes back into messages. */

static int oom(Error *e)
{
        return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
}

/* One CgroupPath per hierarchy: where S lives. */
static int cgroups_to_pb(Manager *m, const Sandbox *s, Sandboxcg__V1__Sandbox *pb)
{
        const CgroupEngine *eng = &m->engine;

        if (eng->n_hierarchies == 0)
                return 0;
        pb->cgroups = calloc(eng->n_hierarchies, sizeof *pb->cgroups);
        if (!pb->cgroups)
                return -ENOMEM;
        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                const Hierarchy *h = &eng->hierarchies[i];
                _cleanup_free_ char *dir = NULL;
                Sandboxcg__V1__CgroupPath *cp = pb_new(&sandboxcg__v1__cgroup_path__descriptor);

                if (!cp)
                        return -ENOMEM;
                pb->cgroups[pb->n_cgroups++] = cp;
                if (cgroup_node_dir(h, s->spec.parent, s->spec.id, NODE_SANDBOX, &dir) < 0 ||
                    pb_strdup(&cp->hierarchy, h->name) < 0 ||
                    asprintf(&cp->path, "%s/%s", m->host.cgroup_root, dir) < 0) {
                        cp->path = NULL;
                        return -ENOMEM;
                }
        }
        return 0;
}

static int applied_to_pb(Manager *m, const Sandbox *s, Sandboxcg__V1__Sandbox *pb)
{
        _cleanup_strv_free_ char **files = NULL, **values = NULL;
        Error e = {};
        size_t n = 0;
        int r;

        r = sandbox_read_applied(m, s, &files, &values, &n, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* Someone removed a file under us: the rest of the answer is
                 * still worth having. */
                log_sandbox_full_errno(LOG_WARNING, r, s->spec.id, "Cannot read back the limits: %s", e.message);
                return 0;
        }
        if (n == 0)
                return 0;
        pb->applied = calloc(n, sizeof *pb->applied);
        if (!pb->applied)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                Sandboxcg__V1__AppliedValue *a = pb_new(&sandboxcg__v1__applied_value__descriptor);

                if (!a)
                        return -ENOMEM;
                pb->applied[pb->n_applied++] = a;
                a->file = TAKE_PTR(files[i]);
                a->value = TAKE_PTR(values[i]);
        }
        return 0;
}

/* with_applied: read every limit back from the kernel (GetSandbox and the
 * mutating methods; ListSandboxes leaves it out to stay cheap). */
static int sandbox_to_pb(Manager *m, const Sandbox *s, bool with_applied, Sandboxcg__V1__Sandbox **ret)
{
        _cleanup_pb_ Sandboxcg__V1__Sandbox *pb = pb_new(&sandboxcg__v1__sandbox__descriptor);

        if (!pb)
                return -ENOMEM;
        if (pb_strdup(&pb->id, s->spec.id) < 0 || pb_strdup(&pb->cgroup_parent, s->spec.parent) < 0)
                return -ENOMEM;
        PB_SET(pb, state, sandbox_state_to_pb(s->state));
        if (resources_to_pb(&s->spec.resources, &pb->resources) < 0 ||
            resources_to_pb(&s->spec.overhead, &pb->overhead) < 0)
                return -ENOMEM;
        if (cgroups_to_pb(m, s, pb) < 0)
                return -ENOMEM;
        if (s->vmm_pid > 0) {
                PB_SET(pb, vmm_pid, s->vmm_pid);
                PB_SET(pb, vmm_start_time, s->vmm_start_time);
        }
        if (s->n_vcpu_tids > 0) {
                pb->vcpu_tids = calloc(s->n_vcpu_tids, sizeof *pb->vcpu_tids);
                if (!pb->vcpu_tids)
                        return -ENOMEM;
                for (size_t i = 0; i < s->n_vcpu_tids; i++)
                        pb->vcpu_tids[i] = s->vcpu_tids[i];
                pb->n_vcpu_tids = s->n_vcpu_tids;
        }
        PB_SET(pb, created_at, s->created_at);
        PB_SET(pb, updated_at, s->updated_at);
        if (s->vmm_exited_at > 0)
                PB_SET(pb, vmm_exited_at, s->vmm_exited_at);
        if (with_applied && applied_to_pb(m, s, pb) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(pb);
        return 0;
}

static int pids_to_pb(const pid_t *pids, size_t n, int32_t **ret, size_t *ret_n)
{
        if (n == 0)
                return 0;
        *ret = calloc(n, sizeof **ret);
        if (!*ret)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                (*ret)[i] = pids[i];
        *ret_n = n;
        return 0;
}

int method_create_sandbox(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                          ProtobufCMessage **ret_response, Error *e)
{
        const Sandboxcg__V1__CreateSandboxRequest *req = (const void *) request;
        _cleanup_pb_ Sandboxcg__V1__CreateSandboxResponse *resp = NULL;
        _cleanup_(resources_done) Resources resources = {}, overhead = {};
        Sandbox *s;
        bool created;
        int r;

        if (resources_from_pb(req->resources, &resources) < 0 || resources_from_pb(req->overhead, &overhead) < 0)
                return oom(e);
        /* Borrowed: sandbox_create() copies what it keeps. */
        SandboxSpec spec = {
                .id = req->id,
                .parent = req->cgroup_parent,
                .resources = resources,
                .overhead = overhead,
        };
        r = sandbox_create(m, &spec, &s, &created, e);
        if (r < 0)
                return r;
        if (created)
                log_sandbox_full_errno(LOG_INFO, 0, s->spec.id, "Created under %s for pid %d uid %u", s->spec.parent,
                                       (int) peer->pid, (unsigned) peer->uid);

        resp = pb_new(&sandboxcg__v1__create_sandbox_response__descriptor);
        if (!resp || sandbox_to_pb(m, s, true, &resp->sandbox) < 0)
                return oom(e);
        PB_SET(resp, created, created);
        *ret_response = &TAKE_PTR(resp)->base;
        return 0;
}

int method_update_sandbox(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                          ProtobufCMessage **ret_response, Error *e)
{
        const Sandboxcg__V1__UpdateSandboxRequest *req = (const void *) request;
        _cleanup_pb_ Sandboxcg__V1__UpdateSandboxResponse *resp = NULL;
        _cleanup_(resources_done) Resources resources = {}, overhead = {};
        Sandbox *s;
        int r;

        if (resources_from_pb(req->resources, &resources) < 0 || resources_from_pb(req->overhead, &overhead) < 0)
                return oom(e);
        r = sandbox_update(m, req->id, &resources, &overhead, &s, e);
        if (r < 0)
                return r;
        log_sandbox_full_errno(LOG_INFO, 0, s->spec.id, "Resources updated for pid %d uid %u", (int) peer->pid,
                               (unsigned) peer->uid);

        resp = pb_new(&sandboxcg__v1__update_sandbox_response__descriptor);
        if (!resp || sandbox_to_pb(m, s, true, &resp->sandbox) < 0)
                return oom(e);
        *ret_response = &TAKE_PTR(resp)->base;
        return 0;
}

int method_attach_vmm(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                      ProtobufCMessage **ret_response, Error *e)
{
        const Sandboxcg__V1__AttachVmmRequest *req = (const void *) request;
        _cleanup_pb_ Sandboxcg__V1__AttachVmmResponse *resp = NULL;
        Sandbox *s;
        int r;

        if (!req->has_pid)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "pid: missing");
        /* Members of AdminGroup= move only their own processes around. */
        if (m->config.attach_descendants_only && peer->uid != 0) {
                r = vmm_check_descendant(req->pid, peer->pid, e);
                if (r < 0)
                        return r;
        }
        r = sandbox_attach_vmm(m, req->id, req->pid, &s, e);
        if (r < 0)
                return r;
        log_sandbox_full_errno(LOG_INFO, 0, s->spec.id, "VMM pid %d attached for pid %d uid %u", (int) req->pid,
                               (int) peer->pid, (unsigned) peer->uid);

        resp = pb_new(&sandboxcg__v1__attach_vmm_response__descriptor);
        if (!resp || sandbox_to_pb(m, s, false, &resp->sandbox) < 0)
                return oom(e);
        *ret_response = &TAKE_PTR(resp)->base;
        return 0;
}

#define VCPU_TIDS_MAX 4096
#define VCPU_PATTERNS_MAX 64

int method_attach_vcpus(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                        ProtobufCMessage **ret_response, Error *e)
{
        const Sandboxcg__V1__AttachVcpusRequest *req = (const void *) request;
        _cleanup_pb_ Sandboxcg__V1__AttachVcpusResponse *resp = NULL;
        _cleanup_free_ const char **patterns = NULL;
        _cleanup_free_ pid_t *tids = NULL, *attached = NULL, *gone = NULL;
        size_t n_attached = 0, n_gone = 0;
        Sandbox *s;
        int r;

        if (req->n_tids > VCPU_TIDS_MAX)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "tids: more than %d", VCPU_TIDS_MAX);
        if (req->n_patterns > VCPU_PATTERNS_MAX)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "patterns: more than %d", VCPU_PATTERNS_MAX);
        if (req->n_tids > 0) {
                tids = calloc(req->n_tids, sizeof *tids);
                if (!tids)
                        return oom(e);
                for (size_t i = 0; i < req->n_tids; i++)
                        tids[i] = req->tids[i];
        }
        if (req->n_patterns > 0) {
                patterns = calloc(req->n_patterns + 1, sizeof *patterns);
                if (!patterns)
                        return oom(e);
                for (size_t i = 0; i < req->n_patterns; i++)
                        patterns[i] = req->patterns[i];
        }

        VcpuRequest vr = {
                .tids = tids,
                .n_tids = req->n_tids,
                .discover = req->has_discover && req->discover,
                .expect = req->has_expect ? req->expect : 0,
                .patterns = patterns,
        };
        r = sandbox_attach_vcpus(m, req->id, &vr, &s, &attached, &n_attached, &gone, &n_gone, e);
        if (r < 0)
                return r;
        log_sandbox_full_errno(LOG_INFO, 0, s->spec.id, "%zu vCPU threads attached (%zu gone) for pid %d uid %u",
                               n_attached, n_gone, (int) peer->pid, (unsigned) peer->uid);

        resp = pb_new(&sandboxcg__v1__attach_vcpus_response__descriptor);
        if (!resp || sandbox_to_pb(m, s, false, &resp->sandbox) < 0 ||
            pids_to_pb(attached, n_attached, &resp->attached, &resp->n_attached) < 0 ||
            pids_to_pb(gone, n_gone, &resp->gone, &resp->n_gone) < 0)
                return oom(e);
        *ret_response = &TAKE_PTR(resp)->base;
        return 0;
}

int method_delete_sandbox(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                          ProtobufCMessage **ret_response, Error *e)
{
        const Sandboxcg__V1__DeleteSandboxRequest *req = (const void *) request;
        _cleanup_pb_ Sandboxcg__V1__DeleteSandboxResponse *resp = NULL;
        bool existed;
        int r;

        r = sandbox_delete(m, req->id, &existed, e);
        if (r < 0)
                return r;
        if (existed)
                log_sandbox_full_errno(LOG_INFO, 0, req->id, "Deleted for pid %d uid %u", (int) peer->pid,
                                       (unsigned) peer->uid);

        resp = pb_new(&sandboxcg__v1__delete_sandbox_response__descriptor);
        if (!resp)
                return oom(e);
        PB_SET(resp, existed, existed);
        *ret_response = &TAKE_PTR(resp)->base;
        return 0;
}

int method_get_sandbox(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                       ProtobufCMessage **ret_response, Error *e)
{
        const Sandboxcg__V1__GetSandboxRequest *req = (const void *) request;
        _cleanup_pb_ Sandboxcg__V1__GetSandboxResponse *resp = NULL;
        const Sandbox *s;
        int r;

        r = sandbox_check_id(req->id, e);
        if (r < 0)
                return r;
        s = sandbox_find(m, req->id);
        if (!s)
                return error_set(e, GRPC_NOT_FOUND, ENOENT, "Sandbox %.*s not found", 128, req->id);

        resp = pb_new(&sandboxcg__v1__get_sandbox_response__descriptor);
        if (!resp || sandbox_to_pb(m, s, true, &resp->sandbox) < 0)
                return oom(e);
        *ret_response = &TAKE_PTR(resp)->base;
        return 0;
}

/* What a ttrpc.Response adds around its payload, with room to spare: the
 * payload's tag and length, a stream id, an empty status. */
#define RESPONSE_ENVELOPE_MAX 64

/* The bytes a repeated message field adds for a message of size n: tag and
 * length prefix. */
static size_t repeated_field_size(size_t n)
{
        size_t varint = 1;

        for (size_t v = n; v >= 0x80; v >>= 7)
                varint++;
        return 1 + varint + n;
}

/* The packed Sandbox message of s as ListSandboxes shows it, kept with s
 * until it changes (sandbox_save() drops it): a list of thousands then
 * costs a copy each instead of building and packing every message again. */
static int sandbox_listed(Manager *m, Sandbox *s)
{
        _cleanup_pb_ Sandboxcg__V1__Sandbox *pb = NULL;
        uint8_t *buf;
        size_t size;

        if (s->listed)
                return 0;
        if (sandbox_to_pb(m, s, false, &pb) < 0)
                return -ENOMEM;
        size = protobuf_c_message_get_packed_size(&pb->base);
        buf = malloc(MAX(size, (size_t) 1));
        if (!buf)
                return -ENOMEM;
        s->listed_size = protobuf_c_message_pack(&pb->base, buf);
        s->listed = buf;
        return 0;
}

int method_list_sandboxes(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                          ProtobufCMessage **ret_response, Error *e)
{
        const Sandboxcg__V1__ListSandboxesRequest *req = (const void *) request;
        _cleanup_pb_ Sandboxcg__V1__ListSandboxesResponse *resp = NULL;
        size_t first = 0, n, budget, size = 0;
        ProtobufCMessageUnknownField *fields = NULL;

        if (req->page_token) {
                if (!sandbox_id_is_valid(req->page_token))
                        return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                         "page_token: not the next_page_token of a page");
                /* The sandbox it names may be gone: the page starts after
                 * where it was. */
                first = sandbox_index_after(m, req->page_token);
        }
        n = m->n_sandboxes - first;
        if (req->has_page_size && req->page_size > 0)
                n = MIN(n, (size_t) req->page_size);
        /* The response must fit in one message of the size this daemon
         * accepts (MaxMessageSize=, at most ttrpc's 4 MiB), next_page_token
         * included (an id is at most SANDBOX_ID_MAX bytes). */
        budget = MIN((size_t) m->config.max_message_size, (size_t) TTRPC_MESSAGE_LENGTH_MAX);
        budget -= MIN(budget, RESPONSE_ENVELOPE_MAX + repeated_field_size(SANDBOX_ID_MAX));

        resp = pb_new(&sandboxcg__v1__list_sandboxes_response__descriptor);
        if (!resp)
                return oom(e);
        if (n > 0) {
                fields = calloc(n, sizeof *fields);
                if (!fields)
                        return oom(e);
                resp->base.unknown_fields = fields;
        }
        /* Each sandbox goes out as the bytes of field 1 (sandboxes), packed
         * already: protobuf-c writes a message's unknown fields as they are,
         * after its known ones, and a parser takes them for the repeated
         * field they encode, in their order. */
        for (size_t i = 0; i < n; i++) {
                Sandbox *s = m->sandboxes[first + i];

                if (sandbox_listed(m, s) < 0)
                        return oom(e);
                size += repeated_field_size(s->listed_size);
                if (size > budget) {
                        if (i == 0)
                                return error_set(e, GRPC_RESOURCE_EXHAUSTED, EMSGSIZE,
                                                 "Sandbox %s does not fit in a message", s->spec.id);
                        break;
                }
                /* The data of an unknown field is what follows its tag:
                 * here the length, then the message. */
                size_t prefix = repeated_field_size(s->listed_size) - 1 - s->listed_size;
                uint8_t *data = malloc(prefix + s->listed_size);
                if (!data)
                        return oom(e);
                for (size_t k = 0, v = s->listed_size; k < prefix; k++, v >>= 7)
                        data[k] = (uint8_t) ((v & 0x7f) | (k + 1 < prefix ? 0x80 : 0));
                memcpy(data + prefix, s->listed, s->listed_size);
                fields[i] = (ProtobufCMessageUnknownField){
                        .tag = 1, /* sandboxes */
                        .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
                        .len = prefix + s->listed_size,
                        .data = data,
                };
                resp->base.n_unknown_fields++;
        }
        if (first + resp->base.n_unknown_fields < m->n_sandboxes && resp->base.n_unknown_fields > 0 &&
            pb_strdup(&resp->next_page_token, m->sandboxes[first + resp->base.n_unknown_fields - 1]->spec.id) < 0)
                return oom(e);
        *ret_response = &TAKE_PTR(resp)->base;
        return 0;
}

static const Sandboxcg__V1__FindingKind finding_kind_map[_GC_KIND_MAX] = {
        [GC_ORPHAN] = SANDBOXCG__V1__FINDING_KIND__FINDING_KIND_ORPHAN,
        [GC_RECORD_WITHOUT_CGROUPS] = SANDBOXCG__V1__FINDING_KIND__FINDING_KIND_RECORD_WITHOUT_CGROUPS,
        [GC_PARTIAL_CGROUPS] = SANDBOXCG__V1__FINDING_KIND__FINDING_KIND_PARTIAL_CGROUPS,
};

int method_reconcile(Manager *m, const Peer *peer, const ProtobufCMessage *request, ProtobufCMessage **ret_response,
                     Error *e)
{
        const Sandboxcg__V1__ReconcileRequest *req = (const void *) request;
        _cleanup_pb_ Sandboxcg__V1__ReconcileResponse *resp = NULL;
        bool dry_run = req->has_dry_run && req->dry_run, markers;
        GcFinding *found = NULL;
        size_t n = 0;
        int r;

        r = sandbox_gc(m, dry_run, &found, &n, &markers, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                log_sandbox_full_errno(LOG_NOTICE, 0, found[i].id, "%s under %s%s (Reconcile for pid %d uid %u)",
                                       gc_kind_to_string(found[i].kind), found[i].parent,
                                       found[i].fixed ? ": removed" : dry_run ? ": dry run" : ": left",
                                       (int) peer->pid, (unsigned) peer->uid);

        resp = pb_new(&sandboxcg__v1__reconcile_response__descriptor);
        if (!resp || (n > 0 && !(resp->findings = calloc(n, sizeof *resp->findings))))
                goto oom;
        PB_SET(resp, markers_supported, markers);
        for (size_t i = 0; i < n; i++) {
                Sandboxcg__V1__Finding *f = pb_new(&sandboxcg__v1__finding__descriptor);

                if (!f)
                        goto oom;
                resp->findings[resp->n_findings++] = f;
                PB_SET(f, kind, finding_kind_map[found[i].kind]);
                PB_SET(f, fixed, found[i].fixed);
                if (pb_strdup(&f->id, found[i].id) < 0 || pb_strdup(&f->cgroup_parent, found[i].parent) < 0)
                        goto oom;
        }
        gc_findings_free(found, n);
        *ret_response = &TAKE_PTR(resp)->base;
        return 0;
oom:
        gc_findings_free(found, n);
        return oom(e);
}
