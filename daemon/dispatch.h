/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* ttrpc requests to method handlers. The envelope (ttrpc.Request/Response)
 * and the method's protobuf messages end here: handlers turn them into plain
 * structs for the layers below and back. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/conf.h"
#include "daemon/server.h"
#include "proto/frame.h"

#define SANDBOXCG_SERVICE "sandboxcg.v1.SandboxCgroup"

/* Handle the payload of one request frame (a packed ttrpc.Request) and return
 * the payload of the response frame (a packed ttrpc.Response, malloc'd; may
 * be empty). Failures of the method are in the Response's status; the return
 * value is negative only when no response could be built (ENOMEM). */
int dispatch_request(Manager *m, const Peer *peer, const uint8_t *payload, size_t size, uint8_t **ret,
                     size_t *ret_size);

/* May peer call a method that changes state (mutating) or one that only
 * reads? NULL when it may, else why not (for the log). Root and members of
 * AdminGroup= may call every method, members of ReadOnlyGroup= the read-only
 * ones; on the read-only socket, anyone who could connect may call the
 * read-only methods and nobody, root included, the others. */
const char *dispatch_check_access(const Config *c, const Peer *peer, bool mutating);

/* 1 if the method changes state, 0 if it only reads, -ENOENT if there is no
 * such method. */
int dispatch_method_is_mutating(const char *name);

/* A ttrpc.Response carrying only a status, for errors the server finds
 * before a method is known (oversized frame, even stream id). */
int dispatch_status_response(GrpcCode code, const char *message, uint8_t **ret, size_t *ret_size);
