/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The protobuf forms of the plain resource model and sandbox state, shared
 * by the two places that speak protobuf: dispatch (the wire) and store (the
 * records). Conversion only; validation is resources_validate()'s. */

#include "daemon/cgroup/resources.h"
#include "daemon/sandbox.h"
#include "sandboxcg/v1/sandboxcg.pb-c.h"

/* NULL pb: nothing set. -ENOMEM only; *ret is filled (not freed first). */
int resources_from_pb(const Sandboxcg__V1__Resources *pb, Resources *ret);
/* A new message (free with protobuf_c_message_free_unpacked()). */
int resources_to_pb(const Resources *r, Sandboxcg__V1__Resources **ret);

Sandboxcg__V1__SandboxState sandbox_state_to_pb(SandboxState s);
/* _SANDBOX_STATE_INVALID for UNKNOWN and values this daemon does not know. */
SandboxState sandbox_state_from_pb(Sandboxcg__V1__SandboxState s);

/* protobuf strings may hold NUL bytes, which protobuf-c's unpacked C strings
 * silently end at ("base-a\0junk" would name base-a). Does the packed
 * message (of type desc, embedded messages included) have a string field
 * with a NUL byte? true with the field's path ("id",
 * "resources.hugepage_limits[0].page_size", "patterns[1]") in path. Meant for
 * payloads that unpacked. */
bool pb_find_nul_string(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size, char *path,
                        size_t path_size);

/* malloc + protobuf_c_message_init, so that protobuf_c_message_free_unpacked()
 * can free every part of a message built with these helpers. */
void *pb_new(const ProtobufCMessageDescriptor *d);
void pb_freep(void *p);
#define _cleanup_pb_ _cleanup_(pb_freep)
/* *field = strdup(s); NULL s leaves the field unset. */
int pb_strdup(char **field, const char *s);

#define PB_SET(msg, field, value)                  \
        do {                                       \
                (msg)->has_##field = true;         \
                (msg)->field = (value);            \
        } while (0)
