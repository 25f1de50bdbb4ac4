/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/methods.h"
#include "daemon/pbconv.h"
#include "sandboxcg/v1/sandboxcg.pb-c.h"
#include "ttrpc.pb-c.h"

typedef struct Method {
        const char *name;
        const ProtobufCMessageDescriptor *input;
        MethodHandler handler;
        bool mutating; /* changes state: only for root and AdminGroup=, never on the read-only socket */
} Method;

static int handle_version(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                          ProtobufCMessage **ret_response, Error *e)
{
        _cleanup_pb_ Sandboxcg__V1__VersionResponse *resp = pb_new(&sandboxcg__v1__version_response__descriptor);
        if (!resp)
                return -ENOMEM;
        if (pb_strdup(&resp->daemon_version, PACKAGE_VERSION) < 0 ||
            pb_strdup(&resp->api_version, SANDBOXCG_API_VERSION) < 0)
                return -ENOMEM;
        *ret_response = &TAKE_PTR(resp)->base;
        return 0;
}

static Sandboxcg__V1__CgroupMode mode_to_pb(CgroupMode mode)
{
        switch (mode) {
        case CGROUP_MODE_V1:
                return SANDBOXCG__V1__CGROUP_MODE__CGROUP_MODE_V1;
        case CGROUP_MODE_V2:
                return SANDBOXCG__V1__CGROUP_MODE__CGROUP_MODE_V2;
        case CGROUP_MODE_HYBRID:
                return SANDBOXCG__V1__CGROUP_MODE__CGROUP_MODE_HYBRID;
        default:
                return SANDBOXCG__V1__CGROUP_MODE__CGROUP_MODE_UNKNOWN;
        }
}

static Sandboxcg__V1__CgroupDriver driver_to_pb(CgroupDriverKind d)
{
        switch (d) {
        case CGROUP_DRIVER_CGROUPFS:
                return SANDBOXCG__V1__CGROUP_DRIVER__CGROUP_DRIVER_CGROUPFS;
        case CGROUP_DRIVER_SYSTEMD:
                return SANDBOXCG__V1__CGROUP_DRIVER__CGROUP_DRIVER_SYSTEMD;
        default:
                return SANDBOXCG__V1__CGROUP_DRIVER__CGROUP_DRIVER_UNKNOWN;
        }
}

static int handle_host_info(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                            ProtobufCMessage **ret_response, Error *e)
{
        const HostProbe *h = &m->host;

        _cleanup_pb_ Sandboxcg__V1__HostInfoResponse *resp = pb_new(&sandboxcg__v1__host_info_response__descriptor);
        if (!resp)
                return -ENOMEM;

        PB_SET(resp, mode, mode_to_pb(h->mode));
        PB_SET(resp, driver, driver_to_pb(m->config.driver));
        if (pb_strdup(&resp->cgroup_root, h->cgroup_root) < 0 ||
            pb_strdup(&resp->unified_mount, h->unified_mount) < 0 ||
            pb_strdup(&resp->kernel_release, h->kernel_release) < 0)
                return -ENOMEM;

        resp->features = pb_new(&sandboxcg__v1__kernel_features__descriptor);
        if (!resp->features)
                return -ENOMEM;
        PB_SET(resp->features, cgroup_kill, h->features.cgroup_kill);
        PB_SET(resp->features, clone_into_cgroup, h->features.clone_into_cgroup);
        PB_SET(resp->features, openat2, h->features.openat2);
        PB_SET(resp->features, pidfd, h->features.pidfd);
        PB_SET(resp->features, cgroup_freeze, h->features.cgroup_freeze);
        PB_SET(resp->features, memory_swap, h->features.memory_swap);

        resp->controllers = calloc(_CONTROLLER_MAX, sizeof *resp->controllers);
        if (!resp->controllers)
                return -ENOMEM;
        for (Controller c = 0; c < _CONTROLLER_MAX; c++) {
                const ControllerMount *cm = &h->controllers[c];
                if (cm->version == 0)
                        continue;
                Sandboxcg__V1__ControllerInfo *ci = pb_new(&sandboxcg__v1__controller_info__descriptor);
                if (!ci)
                        return -ENOMEM;
                resp->controllers[resp->n_controllers++] = ci;
                PB_SET(ci, version, (uint32_t) cm->version);
                PB_SET(ci, enabled, cm->enabled);
                if (pb_strdup(&ci->name, controller_to_string(c)) < 0 ||
                    pb_strdup(&ci->mount_point, cm->mount_point) < 0 ||
                    pb_strdup(&ci->mount_root, cm->mount_root) < 0)
                        return -ENOMEM;
        }

        size_t n = 0;
        for (char **s = h->hugepage_sizes; s && *s; s++)
                n++;
        if (n > 0) {
                resp->hugepage_sizes = calloc(n, sizeof(char *));
                if (!resp->hugepage_sizes)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        if (pb_strdup(&resp->hugepage_sizes[i], h->hugepage_sizes[i]) < 0)
                                return -ENOMEM;
                        resp->n_hugepage_sizes++;
                }
        }

        *ret_response = &TAKE_PTR(resp)->base;
        return 0;
}

static const Method methods[] = {
        { "Version", &sandboxcg__v1__version_request__descriptor, handle_version, false },
        { "HostInfo", &sandboxcg__v1__host_info_request__descriptor, handle_host_info, false },
        { "CreateSandbox", &sandboxcg__v1__create_sandbox_request__descriptor, method_create_sandbox, true },
        { "UpdateSandbox", &sandboxcg__v1__update_sandbox_request__descriptor, method_update_sandbox, true },
        { "AttachVmm", &sandboxcg__v1__attach_vmm_request__descriptor, method_attach_vmm, true },
        { "AttachVcpus", &sandboxcg__v1__attach_vcpus_request__descriptor, method_attach_vcpus, true },
        { "DeleteSandbox", &sandboxcg__v1__delete_sandbox_request__descriptor, method_delete_sandbox, true },
        { "GetSandbox", &sandboxcg__v1__get_sandbox_request__descriptor, method_get_sandbox, false },
        { "ListSandboxes", &sandboxcg__v1__list_sandboxes_request__descriptor, method_list_sandboxes, false },
        { "Reconcile", &sandboxcg__v1__reconcile_request__descriptor, method_reconcile, true },
};

static const Method *method_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (streq(methods[i].name, name))
                        return &methods[i];
        return NULL;
}

int dispatch_method_is_mutating(const char *name)
{
        const Method *method = method_find(name);
        if (!method)
                return -ENOENT;
        return method->mutating;
}

static bool peer_in_group(const Peer *peer, gid_t gid)
{
        if (gid == GID_INVALID)
                return false;
        if (peer->gid == gid)
                return true;
        for (size_t i = 0; i < peer->n_groups; i++)
                if (peer->groups[i] == gid)
                        return true;
        return false;
}

const char *dispatch_check_access(const Config *c, const Peer *peer, bool mutating)
{
        if (peer->read_only)
                return mutating ? "changes state, and this is the read-only socket" : NULL;
        if (peer->uid == 0 || peer_in_group(peer, c->admin_group))
                return NULL;
        if (!mutating && peer_in_group(peer, c->read_only_group))
                return NULL;
        return mutating ? "changes state: only root and members of the admin group may call it"
                        : "only root and members of the admin or read-only group may call it";
}

static int pack_response(const Ttrpc__Response *resp, uint8_t **ret, size_t *ret_size)
{
        size_t size = protobuf_c_message_get_packed_size(&resp->base);
        /* Zero-length responses are valid (an empty message): still return a
         * freeable pointer. */
        uint8_t *buf = malloc(MAX(size, (size_t) 1));
        if (!buf)
                return -ENOMEM;
        protobuf_c_message_pack(&resp->base, buf);
        *ret = buf;
        *ret_size = size;
        return 0;
}

int dispatch_status_response(GrpcCode code, const char *message, uint8_t **ret, size_t *ret_size)
{
        Ttrpc__Status status = TTRPC__STATUS__INIT;
        Ttrpc__Response resp = TTRPC__RESPONSE__INIT;

        status.code = code;
        status.message = (char *) strempty(message);
        resp.status = &status;
        return pack_response(&resp, ret, ret_size);
}

static int dispatch_error(const Error *e, int r, uint8_t **ret, size_t *ret_size)
{
        if (error_is_set(e))
                return dispatch_status_response(e->code, e->message, ret, ret_size);

        /* A handler that did not say more: name the errno at least. */
        char msg[128];
        (void) snprintf(msg, sizeof msg, "%s", strerror(-r));
        return dispatch_status_response(grpc_code_from_errno(r), msg, ret, ret_size);
}

int dispatch_request(Manager *m, const Peer *peer, const uint8_t *payload, size_t size, uint8_t **ret,
                     size_t *ret_size)
{
        _cleanup_pb_ Ttrpc__Request *req = NULL;
        _cleanup_pb_ ProtobufCMessage *input = NULL;
        _cleanup_pb_ ProtobufCMessage *output = NULL;
        Error e = {};
        char msg[300], field[128];
        int r;

        req = ttrpc__request__unpack(NULL, size, payload);
        if (!req)
                return dispatch_status_response(GRPC_INVALID_ARGUMENT, "unmarshal request error", ret,
                                                ret_size);
        /* A name cut short at a NUL byte is no name. */
        if (pb_find_nul_string(&ttrpc__request__descriptor, payload, size, field, sizeof field)) {
                (void) snprintf(msg, sizeof msg, "unmarshal request error: %s holds a NUL byte", field);
                return dispatch_status_response(GRPC_INVALID_ARGUMENT, msg, ret, ret_size);
        }

        if (!streq(req->service, SANDBOXCG_SERVICE)) {
                (void) snprintf(msg, sizeof msg, "service %.200s", req->service);
                return dispatch_status_response(GRPC_UNIMPLEMENTED, msg, ret, ret_size);
        }
        const Method *method = method_find(req->method);
        if (!method) {
                (void) snprintf(msg, sizeof msg, "method %.200s", req->method);
                return dispatch_status_response(GRPC_UNIMPLEMENTED, msg, ret, ret_size);
        }

        /* Who may call it, before anything of the request is looked at. */
        const char *denied = dispatch_check_access(&m->config, peer, method->mutating);
        if (denied) {
                log_warning("Denied %s to pid %d uid %u gid %u%s: %s", method->name, (int) peer->pid,
                            (unsigned) peer->uid, (unsigned) peer->gid,
                            peer->read_only ? " on the read-only socket" : "", denied);
                (void) snprintf(msg, sizeof msg, "permission denied: %s %s", method->name, denied);
                return dispatch_status_response(GRPC_PERMISSION_DENIED, msg, ret, ret_size);
        }

        /* A missing payload is an empty message (protobuf omits empty fields). */
        input = protobuf_c_message_unpack(method->input, NULL, req->payload.len,
                                          req->payload.len > 0 ? req->payload.data : (const uint8_t *) "");
        if (!input) {
                (void) snprintf(msg, sizeof msg, "%s: cannot decode %s", method->name, method->input->name);
                return dispatch_status_response(GRPC_INVALID_ARGUMENT, msg, ret, ret_size);
        }
        /* protobuf-c would hand the method "base-a" for "base-a\0junk". */
        if (pb_find_nul_string(method->input, req->payload.data, req->payload.len, field, sizeof field)) {
                (void) snprintf(msg, sizeof msg, "%s: %s holds a NUL byte", method->name, field);
                return dispatch_status_response(GRPC_INVALID_ARGUMENT, msg, ret, ret_size);
        }

        r = method->handler(m, peer, input, &output, &e);
        if (r < 0) {
                /* Refusals the caller can fix are debug-level; failures of
                 * ours are warnings. */
                if (error_is_set(&e))
                        log_full_errno(e.code == GRPC_INTERNAL ? LOG_WARNING : LOG_DEBUG, r,
                                       "%s from pid %d uid %u failed: %s", method->name, (int) peer->pid,
                                       (unsigned) peer->uid, e.message);
                else
                        log_warning_errno(r, "%s from pid %d uid %u failed: %m", method->name,
                                          (int) peer->pid, (unsigned) peer->uid);
                return dispatch_error(&e, r, ret, ret_size);
        }

        size_t out_size = protobuf_c_message_get_packed_size(output);
        _cleanup_free_ uint8_t *out = malloc(MAX(out_size, (size_t) 1));
        if (!out)
                return -ENOMEM;
        protobuf_c_message_pack(output, out);

        Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
        resp.payload.data = out;
        resp.payload.len = out_size;
        return pack_response(&resp, ret, ret_size);
}
