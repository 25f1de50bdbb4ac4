/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "client/sandboxcg.h"
#include "common/macro.h"
#include "proto/frame.h"
#include "proto/ttrpc.pb-c.h"

/* The public codes are the wire's. */
static_assert(SANDBOXCG_CODE_OK == (int)GRPC_OK, "gRPC code mismatch");
static_assert(SANDBOXCG_CODE_NOT_FOUND == (int)GRPC_NOT_FOUND, "gRPC code mismatch");
static_assert(SANDBOXCG_CODE_UNIMPLEMENTED == (int)GRPC_UNIMPLEMENTED, "gRPC code mismatch");
static_assert(SANDBOXCG_CODE_UNAUTHENTICATED + 1 == (int)_GRPC_CODE_MAX, "gRPC code mismatch");

#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC 1000000ULL
#define NSEC_PER_USEC 1000ULL
#define USEC_INFINITY UINT64_MAX

struct SandboxcgClient {
        int fd;                  /* -EBADF once the connection is unusable */
        uint64_t next_stream_id; /* odd; past UINT32_MAX the ids are used up */
        uint64_t timeout_usec;   /* 0: none */
        FrameReader reader;

        int error_code; /* of the last call that failed with -EREMOTEIO */
        char *error_message;
};

const char *sandboxcg_code_to_string(int code)
{
        return grpc_code_to_string(code);
}

int sandboxcg_client_new(SandboxcgClient **ret, const char *socket_path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -EBADF;
        SandboxcgClient *c;
        size_t l;

        if (!ret)
                return -EINVAL;
        if (!socket_path)
                socket_path = SANDBOXCG_SOCKET_PATH_DEFAULT;

        l = strlen(socket_path);
        if (l == 0)
                return -EINVAL;
        if (l >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, l);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();

        /* Connect blocking: on a Unix socket this returns at once unless the
         * daemon's backlog is full. Calls then wait with poll(). */
        while (connect(fd, (const struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + l + 1) < 0) {
                if (errno == EISCONN) /* an interrupted attempt went through */
                        break;
                if (errno != EINTR)
                        return negative_errno();
        }

        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return negative_errno();

        c = malloc(sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (SandboxcgClient){
                .fd = TAKE_FD(fd),
                .next_stream_id = 1,
                .timeout_usec = SANDBOXCG_TIMEOUT_DEFAULT_USEC,
        };
        frame_reader_init(&c->reader, TTRPC_MESSAGE_LENGTH_MAX);

        *ret = c;
        return 0;
}

SandboxcgClient *sandboxcg_client_free(SandboxcgClient *c)
{
        if (!c)
                return NULL;
        safe_close(c->fd);
        frame_reader_done(&c->reader);
        free(c->error_message);
        free(c);
        return NULL;
}

int sandboxcg_client_set_timeout(SandboxcgClient *c, uint64_t usec)
{
        if (!c)
                return -EINVAL;
        if (usec > (uint64_t)INT64_MAX / NSEC_PER_USEC)
                return -ERANGE;
        c->timeout_usec = usec;
        return 0;
}

int sandboxcg_client_error_code(const SandboxcgClient *c)
{
        return c ? c->error_code : SANDBOXCG_CODE_OK;
}

const char *sandboxcg_client_error_message(const SandboxcgClient *c)
{
        return c ? c->error_message : NULL;
}

static void client_reset_error(SandboxcgClient *c)
{
        c->error_code = SANDBOXCG_CODE_OK;
        free(c->error_message);
        c->error_message = NULL;
}

/* The connection can no longer carry calls: the stream is out of sync or gone. */
static int client_disconnect(SandboxcgClient *c, int r)
{
        c->fd = safe_close(c->fd);
        frame_reader_done(&c->reader);
        return r;
}

static uint64_t now_usec(void)
{
        struct timespec ts;

        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

/* Waits until fd is ready for events or the deadline passes. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
        for (;;) {
                struct pollfd p = {.fd = fd, .events = events};
                int timeout_ms = -1;

                if (deadline != USEC_INFINITY) {
                        uint64_t n = now_usec();
                        if (n >= deadline)
                                return -ETIMEDOUT;
                        /* Round up, so that we never wake up early and spin. */
                        timeout_ms = (int)MIN((deadline - n + USEC_PER_MSEC - 1) / USEC_PER_MSEC,
                                              (uint64_t)INT32_MAX);
                }

                int r = poll(&p, 1, timeout_ms);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (r > 0)
                        return 0; /* ready, or POLLHUP/POLLERR: the next I/O tells */
        }
}

/* However the peer closed the connection, it means the same to a caller. */
static int io_error(int r)
{
        return r == -EPIPE || r == -ECONNABORTED ? -ECONNRESET : r;
}

static int send_request(SandboxcgClient *c, uint32_t stream_id, const char *method,
                        const ProtobufCMessage *req, uint64_t deadline)
{
        _cleanup_free_ uint8_t *payload = NULL, *frame = NULL;
        _cleanup_(frame_writer_done) FrameWriter w = {};
        Ttrpc__Request envelope = TTRPC__REQUEST__INIT;
        size_t n;
        int r;

        if (req) {
                n = protobuf_c_message_get_packed_size(req);
                if (n > TTRPC_MESSAGE_LENGTH_MAX)
                        return -EMSGSIZE;
                if (n > 0) {
                        payload = malloc(n);
                        if (!payload)
                                return -ENOMEM;
                        (void)protobuf_c_message_pack(req, payload);
                        envelope.payload = (ProtobufCBinaryData){.len = n, .data = payload};
                }
        }

        /* protobuf-c only reads these on pack. */
        envelope.service = (char *)SANDBOXCG_SERVICE;
        envelope.method = (char *)method;
        if (c->timeout_usec > 0)
                envelope.timeout_nano = (int64_t)(c->timeout_usec * NSEC_PER_USEC);

        n = ttrpc__request__get_packed_size(&envelope);
        if (n > TTRPC_MESSAGE_LENGTH_MAX)
                return -EMSGSIZE;
        frame = malloc(MAX(n, (size_t)1));
        if (!frame)
                return -ENOMEM;
        (void)ttrpc__request__pack(&envelope, frame);

        r = frame_writer_append(&w,
                                &(const TtrpcHeader){
                                        .length = (uint32_t)n,
                                        .stream_id = stream_id,
                                        .type = TTRPC_TYPE_REQUEST,
                                },
                                frame);
        if (r < 0)
                return r;

        for (;;) {
                r = frame_writer_flush(&w, c->fd);
                if (r < 0)
                        return client_disconnect(c, io_error(r));
                if (r > 0)
                        return 0;

                r = wait_fd(c->fd, POLLOUT, deadline);
                if (r < 0)
                        /* Once part of the frame is out, the stream is out of sync. */
                        return w.off == 0 ? r : client_disconnect(c, r);
        }
}

/* Reads frames until the response to stream_id arrives. On success the
 * returned payload points into the reader and is valid until its next use. */
static int receive_response(SandboxcgClient *c, uint32_t stream_id, uint64_t deadline,
                            const uint8_t **ret_payload, size_t *ret_size)
{
        for (;;) {
                const uint8_t *payload;
                TtrpcHeader h;
                int r;

                r = frame_reader_next(&c->reader, &h, &payload);
                if (r == -EMSGSIZE) {
                        /* The reader drops the payload and stays in sync. */
                        if (h.stream_id == stream_id)
                                return -EMSGSIZE;
                        continue;
                }
                if (r < 0)
                        return client_disconnect(c, r);
                if (r > 0) {
                        if (h.type != TTRPC_TYPE_RESPONSE)
                                return client_disconnect(c, -EPROTO);
                        if (h.stream_id == stream_id) {
                                *ret_payload = payload;
                                *ret_size = h.length;
                                return 0;
                        }
                        /* A late answer to an earlier call that timed out. */
                        if (h.stream_id % 2 == 1 && h.stream_id < stream_id)
                                continue;
                        return client_disconnect(c, -EPROTO);
                }

                r = frame_reader_fill(&c->reader, c->fd);
                if (r == 0)
                        return client_disconnect(c, -ECONNRESET);
                if (r == -ENOMEM)
                        return r; /* nothing was consumed: still in sync */
                if (r == -EAGAIN) {
                        /* A partial frame stays buffered: the stream stays in sync. */
                        r = wait_fd(c->fd, POLLIN, deadline);
                        if (r < 0)
                                return r == -ETIMEDOUT ? r : client_disconnect(c, r);
                } else if (r < 0)
                        return client_disconnect(c, io_error(r));
        }
}

/* protobuf-c reports a failed allocation and a malformed message alike, as
 * NULL: this allocator tells them apart. Its blocks are malloc()'s, so the
 * caller frees the result with the default allocator. */
static void *tracking_alloc(void *data, size_t size)
{
        void *p = malloc(MAX(size, (size_t)1));
        if (!p)
                *(bool *)data = true;
        return p;
}

static void tracking_free(void *data, void *p)
{
        free(p);
}

static int unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
                  ProtobufCMessage **ret)
{
        bool oom = false;
        ProtobufCAllocator allocator = {
                .alloc = tracking_alloc,
                .free = tracking_free,
                .allocator_data = &oom,
        };
        ProtobufCMessage *m;

        m = protobuf_c_message_unpack(desc, &allocator, size, data ?: (const uint8_t *)"");
        if (!m)
                return oom ? -ENOMEM : -EBADMSG;
        *ret = m;
        return 0;
}

static void ttrpc_response_freep(Ttrpc__Response **p)
{
        if (*p)
                ttrpc__response__free_unpacked(*p, NULL);
}

/* req_desc: the type req must have, or NULL for any. */
static int client_call(SandboxcgClient *c, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *req_desc,
                       const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **ret_resp)
{
        _cleanup_(ttrpc_response_freep) Ttrpc__Response *envelope = NULL;
        ProtobufCMessage *m = NULL;
        const uint8_t *payload;
        uint64_t deadline;
        uint32_t stream_id;
        size_t size;
        int r;

        if (!c)
                return -EINVAL;
        client_reset_error(c);

        if (!method || !resp_desc || !ret_resp || resp_desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
                return -EINVAL;
        if (req && (!req->descriptor || req->descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC ||
                    (req_desc && req->descriptor != req_desc)))
                return -EINVAL;

        if (c->fd < 0)
                return -ENOTCONN;
        /* Client stream ids are odd and increase: a uint32 holds 2^31 of them. */
        if (c->next_stream_id > UINT32_MAX)
                return -EOVERFLOW;
        stream_id = (uint32_t)c->next_stream_id;
        c->next_stream_id += 2;

        deadline = c->timeout_usec > 0 ? now_usec() + c->timeout_usec : USEC_INFINITY;

        r = send_request(c, stream_id, method, req, deadline);
        if (r < 0)
                return r;

        r = receive_response(c, stream_id, deadline, &payload, &size);
        if (r < 0)
                return r;

        r = unpack(&ttrpc__response__descriptor, payload, size, (ProtobufCMessage **)&envelope);
        if (r < 0)
                return r;

        if (envelope->status && envelope->status->code != SANDBOXCG_CODE_OK) {
                c->error_code = envelope->status->code;
                if (envelope->status->message && envelope->status->message[0] != '\0')
                        c->error_message = TAKE_PTR(envelope->status->message);
                return -EREMOTEIO;
        }

        /* An empty response message has no payload field at all. */
        r = unpack(resp_desc, envelope->payload.data, envelope->payload.len, &m);
        if (r < 0)
                return r;

        *ret_resp = m;
        return 0;
}

int sandboxcg_client_call(SandboxcgClient *c, const char *method, const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **ret_resp)
{
        return client_call(c, method, req, NULL, resp_desc, ret_resp);
}

/* The typed calls also check the request's type, which the generic call
 * cannot. A NULL request is an empty one, as for the generic call. */
static int call_typed(SandboxcgClient *c, const char *method, const void *req,
                      const ProtobufCMessageDescriptor *req_desc,
                      const ProtobufCMessageDescriptor *resp_desc, void *ret_resp)
{
        return client_call(c, method, req, req_desc, resp_desc, ret_resp);
}

int sandboxcg_client_version(SandboxcgClient *c, Sandboxcg__V1__VersionResponse **ret)
{
        return call_typed(c, "Version", NULL, &sandboxcg__v1__version_request__descriptor,
                          &sandboxcg__v1__version_response__descriptor, ret);
}

int sandboxcg_client_host_info(SandboxcgClient *c, Sandboxcg__V1__HostInfoResponse **ret)
{
        return call_typed(c, "HostInfo", NULL, &sandboxcg__v1__host_info_request__descriptor,
                          &sandboxcg__v1__host_info_response__descriptor, ret);
}

int sandboxcg_client_create_sandbox(SandboxcgClient *c, const Sandboxcg__V1__CreateSandboxRequest *req,
                                    Sandboxcg__V1__CreateSandboxResponse **ret)
{
        return call_typed(c, "CreateSandbox", req, &sandboxcg__v1__create_sandbox_request__descriptor,
                          &sandboxcg__v1__create_sandbox_response__descriptor, ret);
}

int sandboxcg_client_update_sandbox(SandboxcgClient *c, const Sandboxcg__V1__UpdateSandboxRequest *req,
                                    Sandboxcg__V1__UpdateSandboxResponse **ret)
{
        return call_typed(c, "UpdateSandbox", req, &sandboxcg__v1__update_sandbox_request__descriptor,
                          &sandboxcg__v1__update_sandbox_response__descriptor, ret);
}

int sandboxcg_client_attach_vmm(SandboxcgClient *c, const Sandboxcg__V1__AttachVmmRequest *req,
                                Sandboxcg__V1__AttachVmmResponse **ret)
{
        return call_typed(c, "AttachVmm", req, &sandboxcg__v1__attach_vmm_request__descriptor,
                          &sandboxcg__v1__attach_vmm_response__descriptor, ret);
}

int sandboxcg_client_attach_vcpus(SandboxcgClient *c, const Sandboxcg__V1__AttachVcpusRequest *req,
                                  Sandboxcg__V1__AttachVcpusResponse **ret)
{
        return call_typed(c, "AttachVcpus", req, &sandboxcg__v1__attach_vcpus_request__descriptor,
                          &sandboxcg__v1__attach_vcpus_response__descriptor, ret);
}

int sandboxcg_client_delete_sandbox(SandboxcgClient *c, const Sandboxcg__V1__DeleteSandboxRequest *req,
                                    Sandboxcg__V1__DeleteSandboxResponse **ret)
{
        return call_typed(c, "DeleteSandbox", req, &sandboxcg__v1__delete_sandbox_request__descriptor,
                          &sandboxcg__v1__delete_sandbox_response__descriptor, ret);
}

int sandboxcg_client_get_sandbox(SandboxcgClient *c, const Sandboxcg__V1__GetSandboxRequest *req,
                                 Sandboxcg__V1__GetSandboxResponse **ret)
{
        return call_typed(c, "GetSandbox", req, &sandboxcg__v1__get_sandbox_request__descriptor,
                          &sandboxcg__v1__get_sandbox_response__descriptor, ret);
}

int sandboxcg_client_list_sandboxes(SandboxcgClient *c, const Sandboxcg__V1__ListSandboxesRequest *req,
                                    Sandboxcg__V1__ListSandboxesResponse **ret)
{
        return call_typed(c, "ListSandboxes", req, &sandboxcg__v1__list_sandboxes_request__descriptor,
                          &sandboxcg__v1__list_sandboxes_response__descriptor, ret);
}

/* The pages' sandboxes are malloc'd one by one (protobuf-c's default
 * allocator): they move into the first page's array as they are. */
int sandboxcg_client_list_all_sandboxes(SandboxcgClient *c, Sandboxcg__V1__ListSandboxesResponse **ret)
{
        Sandboxcg__V1__ListSandboxesResponse *all = NULL;
        char *token = NULL;
        int r;

        for (;;) {
                Sandboxcg__V1__ListSandboxesRequest req = SANDBOXCG__V1__LIST_SANDBOXES_REQUEST__INIT;
                Sandboxcg__V1__ListSandboxesResponse *page = NULL;
                bool more;
                size_t got;

                req.page_token = token;
                r = sandboxcg_client_list_sandboxes(c, &req, &page);
                free(token);
                token = NULL;
                if (r < 0)
                        break;
                more = page->next_page_token && page->next_page_token[0];
                got = page->n_sandboxes;
                if (more && !(token = strdup(page->next_page_token)))
                        r = -ENOMEM;
                if (!all)
                        all = page;
                else {
                        Sandboxcg__V1__Sandbox **v =
                                got > 0 ? realloc(all->sandboxes, (all->n_sandboxes + got) * sizeof *v) : NULL;
                        if (v) {
                                memcpy(v + all->n_sandboxes, page->sandboxes, got * sizeof *v);
                                all->sandboxes = v;
                                all->n_sandboxes += got;
                                page->n_sandboxes = 0;
                        } else if (got > 0)
                                r = -ENOMEM;
                        sandboxcg__v1__list_sandboxes_response__free_unpacked(page, NULL);
                }
                if (r < 0 || !more)
                        break;
                /* An empty page that names a next one would go on forever. */
                if (got == 0) {
                        r = -EBADMSG;
                        break;
                }
        }
        free(token);
        if (r < 0) {
                if (all)
                        sandboxcg__v1__list_sandboxes_response__free_unpacked(all, NULL);
                return r;
        }
        free(all->next_page_token);
        all->next_page_token = NULL;
        *ret = all;
        return 0;
}

int sandboxcg_client_reconcile(SandboxcgClient *c, const Sandboxcg__V1__ReconcileRequest *req,
                               Sandboxcg__V1__ReconcileResponse **ret)
{
        return call_typed(c, "Reconcile", req, &sandboxcg__v1__reconcile_request__descriptor,
                          &sandboxcg__v1__reconcile_response__descriptor, ret);
}
