/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Method handlers of the dispatch table. Each turns its request message into
 * plain structs, calls the layer below, and builds its response with malloc'd
 * parts only (protobuf_c_message_free_unpacked() frees it). On failure *e
 * says what the client gets. */

#include <protobuf-c/protobuf-c.h>

#include "daemon/error.h"
#include "daemon/server.h"

typedef int (*MethodHandler)(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                             ProtobufCMessage **ret_response, Error *e);

int method_create_sandbox(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                          ProtobufCMessage **ret_response, Error *e);
int method_update_sandbox(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                          ProtobufCMessage **ret_response, Error *e);
int method_attach_vmm(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                      ProtobufCMessage **ret_response, Error *e);
int method_attach_vcpus(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                        ProtobufCMessage **ret_response, Error *e);
int method_delete_sandbox(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                          ProtobufCMessage **ret_response, Error *e);
int method_get_sandbox(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                       ProtobufCMessage **ret_response, Error *e);
int method_reconcile(Manager *m, const Peer *peer, const ProtobufCMessage *request, ProtobufCMessage **ret_response,
                     Error *e);
int method_list_sandboxes(Manager *m, const Peer *peer, const ProtobufCMessage *request,
                          ProtobufCMessage **ret_response, Error *e);
