/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SANDBOXCG_H
#define SANDBOXCG_H

/* libsandboxcg: client library for sandboxcgd, the VM sandbox cgroup daemon.
 *
 * The daemon speaks ttrpc (containerd's protocol) on a Unix stream socket,
 * service "sandboxcg.v1.SandboxCgroup". Requests and responses are the
 * protobuf-c messages of <sandboxcg/v1/sandboxcg.pb-c.h>, generated from
 * sandboxcg/v1/sandboxcg.proto (installed under
 * $datadir/sandboxcg/proto/), which is the contract.
 *
 * Usage:
 *
 *     SandboxcgClient *c;
 *     Sandboxcg__V1__VersionResponse *v;
 *     int r;
 *
 *     r = sandboxcg_client_new(&c, NULL);
 *     if (r < 0)
 *             return r;
 *     r = sandboxcg_client_version(c, &v);
 *     if (r == -EREMOTEIO)
 *             fprintf(stderr, "%s: %s\n",
 *                     sandboxcg_code_to_string(sandboxcg_client_error_code(c)),
 *                     sandboxcg_client_error_message(c));
 *     else if (r >= 0) {
 *             printf("%s\n", v->daemon_version);
 *             sandboxcg__v1__version_response__free_unpacked(v, NULL);
 *     }
 *     sandboxcg_client_free(c);
 *
 * Requests are built on the stack with the generated *__INIT macros; the
 * library only reads them. Responses are allocated with malloc() and belong to
 * the caller, who frees them with the generated *__free_unpacked(resp, NULL).
 * Response fields follow proto2 presence: an unset string or message is NULL,
 * an unset scalar has its has_<field> flag cleared. Fields added to the API
 * by newer daemons are skipped.
 *
 * A handle is one connection; calls on it are sequential and block until
 * the answer arrives or the timeout expires. A handle must not be used by two
 * threads at once; separate handles are independent. The library never
 * prints, never raises signals (SIGPIPE is suppressed) and never aborts on
 * allocation failure.
 *
 * Return values: every function returning int returns >= 0 on success and a
 * negative errno-style code on failure:
 *
 *   -EINVAL        a NULL handle, method or output pointer, or a request
 *                  message of the wrong type
 *   -ENOMEM        out of memory
 *   -ENOENT        sandboxcg_client_new(): no socket at the path, i.e. the
 *                  daemon is not running
 *   -ECONNREFUSED  sandboxcg_client_new(): the socket exists but nobody
 *                  listens on it (stale socket of a dead daemon)
 *   -EACCES        sandboxcg_client_new(): not allowed to connect (the socket
 *                  is 0660 root:<admin group> by default)
 *   -ENAMETOOLONG  sandboxcg_client_new(): the path does not fit a sockaddr_un
 *   -ETIMEDOUT     no (complete) answer within the timeout
 *   -ECONNRESET    the daemon closed the connection (or died) before it
 *                  answered
 *   -ENOTCONN      the handle's connection was lost or left out of sync by an
 *                  earlier call that failed with -ECONNRESET, -EPROTO or
 *                  -ETIMEDOUT while sending: free the handle and create a new
 *                  one
 *   -EMSGSIZE      the request or the response exceeds the ttrpc frame limit
 *                  (4 MiB); the connection stays usable
 *   -EPROTO        the daemon broke the ttrpc protocol (a frame of another
 *                  type or an unexpected stream id); the connection is closed
 *   -EBADMSG       the response envelope or the response message could not
 *                  be decoded; the connection stays usable
 *   -EREMOTEIO     the daemon answered with an error status:
 *                  sandboxcg_client_error_code() and
 *                  sandboxcg_client_error_message() tell which
 *   -EOVERFLOW     the handle has used up its 2^31 stream ids: create a new
 *                  one
 *   other          any other errno of socket(2), connect(2), poll(2), read(2)
 *                  or send(2), passed through
 *
 * After -EREMOTEIO the connection stays usable. Server errors a caller may
 * want to act on (see the comments of the .proto for each method):
 *   SANDBOXCG_CODE_INVALID_ARGUMENT     the request was rejected as malformed
 *   SANDBOXCG_CODE_NOT_FOUND            no sandbox with that id (or no process)
 *   SANDBOXCG_CODE_ALREADY_EXISTS       the id is taken by a different sandbox
 *   SANDBOXCG_CODE_PERMISSION_DENIED    the caller may not call this method
 *   SANDBOXCG_CODE_RESOURCE_EXHAUSTED   a daemon limit (sandboxes, frame size)
 *   SANDBOXCG_CODE_FAILED_PRECONDITION  not possible in the sandbox's state
 *   SANDBOXCG_CODE_UNIMPLEMENTED        the daemon is older than this library
 *   SANDBOXCG_CODE_INTERNAL             the kernel refused a cgroup write; the
 *                                       message names the file and the errno
 */

#include <stdint.h>

#include <sandboxcg/v1/sandboxcg.pb-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SANDBOXCG_SOCKET_PATH_DEFAULT "/run/sandboxcg/sandboxcg.sock"
#define SANDBOXCG_SERVICE "sandboxcg.v1.SandboxCgroup"

/* Per-call timeout of a new handle: 25 s, as sd-bus. */
#define SANDBOXCG_TIMEOUT_DEFAULT_USEC (25ULL * 1000000ULL)

/* gRPC status codes, as the daemon returns them. */
typedef enum SandboxcgCode {
        SANDBOXCG_CODE_OK = 0,
        SANDBOXCG_CODE_CANCELLED = 1,
        SANDBOXCG_CODE_UNKNOWN = 2,
        SANDBOXCG_CODE_INVALID_ARGUMENT = 3,
        SANDBOXCG_CODE_DEADLINE_EXCEEDED = 4,
        SANDBOXCG_CODE_NOT_FOUND = 5,
        SANDBOXCG_CODE_ALREADY_EXISTS = 6,
        SANDBOXCG_CODE_PERMISSION_DENIED = 7,
        SANDBOXCG_CODE_RESOURCE_EXHAUSTED = 8,
        SANDBOXCG_CODE_FAILED_PRECONDITION = 9,
        SANDBOXCG_CODE_ABORTED = 10,
        SANDBOXCG_CODE_OUT_OF_RANGE = 11,
        SANDBOXCG_CODE_UNIMPLEMENTED = 12,
        SANDBOXCG_CODE_INTERNAL = 13,
        SANDBOXCG_CODE_UNAVAILABLE = 14,
        SANDBOXCG_CODE_DATA_LOSS = 15,
        SANDBOXCG_CODE_UNAUTHENTICATED = 16,
} SandboxcgCode;

/* "NOT_FOUND" etc., or NULL for a code outside the table. */
const char *sandboxcg_code_to_string(int code);

typedef struct SandboxcgClient SandboxcgClient;

/* Connects to the daemon at socket_path (NULL: SANDBOXCG_SOCKET_PATH_DEFAULT).
 * The descriptor is close-on-exec. */
int sandboxcg_client_new(SandboxcgClient **ret, const char *socket_path);

/* Closes the connection and frees the handle. Accepts NULL; returns NULL. */
SandboxcgClient *sandboxcg_client_free(SandboxcgClient *c);

/* Sets the timeout of each following call, in microseconds; 0 waits forever.
 * It is sent to the daemon as the ttrpc deadline and enforced locally.
 * Returns -ERANGE when usec does not fit the wire's int64 nanoseconds. */
int sandboxcg_client_set_timeout(SandboxcgClient *c, uint64_t usec);

/* The gRPC code and the message of the last call that failed with
 * -EREMOTEIO; SANDBOXCG_CODE_OK and NULL after any other outcome. The message
 * is valid until the next call on the handle. */
int sandboxcg_client_error_code(const SandboxcgClient *c);
const char *sandboxcg_client_error_message(const SandboxcgClient *c);

/* Calls method of SANDBOXCG_SERVICE with req (NULL: an empty request) and
 * decodes the answer as resp_desc. On success *ret_resp is a new message of
 * that type; it is not touched on failure. */
int sandboxcg_client_call(SandboxcgClient *c, const char *method, const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **ret_resp);

/* Typed calls, one per method of the service. A NULL req is an empty
 * request (ListSandboxes: all sandboxes). */
int sandboxcg_client_version(SandboxcgClient *c, Sandboxcg__V1__VersionResponse **ret);
int sandboxcg_client_host_info(SandboxcgClient *c, Sandboxcg__V1__HostInfoResponse **ret);
int sandboxcg_client_create_sandbox(SandboxcgClient *c, const Sandboxcg__V1__CreateSandboxRequest *req,
                                    Sandboxcg__V1__CreateSandboxResponse **ret);
int sandboxcg_client_update_sandbox(SandboxcgClient *c, const Sandboxcg__V1__UpdateSandboxRequest *req,
                                    Sandboxcg__V1__UpdateSandboxResponse **ret);
int sandboxcg_client_attach_vmm(SandboxcgClient *c, const Sandboxcg__V1__AttachVmmRequest *req,
                                Sandboxcg__V1__AttachVmmResponse **ret);
int sandboxcg_client_attach_vcpus(SandboxcgClient *c, const Sandboxcg__V1__AttachVcpusRequest *req,
                                  Sandboxcg__V1__AttachVcpusResponse **ret);
int sandboxcg_client_delete_sandbox(SandboxcgClient *c, const Sandboxcg__V1__DeleteSandboxRequest *req,
                                    Sandboxcg__V1__DeleteSandboxResponse **ret);
int sandboxcg_client_get_sandbox(SandboxcgClient *c, const Sandboxcg__V1__GetSandboxRequest *req,
                                 Sandboxcg__V1__GetSandboxResponse **ret);
int sandboxcg_client_list_sandboxes(SandboxcgClient *c, const Sandboxcg__V1__ListSandboxesRequest *req,
                                    Sandboxcg__V1__ListSandboxesResponse **ret);
/* Every sandbox: ListSandboxes page after page (each page is one call and
 * one message of at most 4 MiB), merged into one response whose
 * next_page_token is unset. Sandboxes created or deleted meanwhile may or may
 * not be in it; none is listed twice. */
int sandboxcg_client_list_all_sandboxes(SandboxcgClient *c, Sandboxcg__V1__ListSandboxesResponse **ret);
int sandboxcg_client_reconcile(SandboxcgClient *c, const Sandboxcg__V1__ReconcileRequest *req,
                               Sandboxcg__V1__ReconcileResponse **ret);

#ifdef __cplusplus
}
#endif

#endif
