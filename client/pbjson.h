/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Any protobuf-c message to and from a json-c object, driven by the message's
 * descriptor.
 *
 * The mapping is protobuf's JSON mapping, with the .proto field names
 * (snake_case) as keys:
 *   - a field is written when it is present: proto2 `required`, `optional`
 *     with its has_ flag set or a non-NULL string/message, the selected
 *     member of a oneof, a proto3 field with a non-zero value, a repeated
 *     field with at least one element (as an array);
 *   - integers of every width (64-bit ones too) are JSON numbers; bools are
 *     JSON booleans; enums are their value names ("CGROUP_MODE_V2"), or the
 *     number when the value is not in the descriptor (a newer peer);
 *     float/double are numbers, or "NaN", "Infinity", "-Infinity"; bytes are
 *     base64 strings; messages are objects.
 *
 * The reverse accepts the same, plus integers in decimal strings (what
 * protobuf's own JSON printers emit for 64-bit fields), enum numbers, and
 * null for "not set". Unknown keys, values of the wrong type or out of range,
 * and enum names or numbers the descriptor does not know are errors, reported
 * with the path of the offending key ("resources.hugepage_limits[1].limit"). */

#include <json-c/json.h>
#include <protobuf-c/protobuf-c.h>

#include "common/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Frees any protobuf-c message allocated with the default allocator (what
 * libsandboxcg returns and what pbjson_message_from_json() builds). Takes a
 * pointer to a pointer to any message type. */
static inline void message_freep(void *p)
{
        ProtobufCMessage **m = p;

        if (*m)
                protobuf_c_message_free_unpacked(*m, NULL);
}
#define _cleanup_message_ _cleanup_(message_freep)

/* Returns 0 and a new JSON object in *ret, or -ENOMEM. */
int pbjson_message_to_json(const ProtobufCMessage *m, json_object **ret);

/* Builds a new message of type desc from the JSON object j. Returns 0 and the
 * message in *ret (free it with protobuf_c_message_free_unpacked(m, NULL)),
 * -ENOMEM, or -EINVAL with, if reterr_msg is not NULL, a new string in
 * *reterr_msg naming the key and what is wrong with its value. */
int pbjson_message_from_json(const ProtobufCMessageDescriptor *desc, json_object *j, ProtobufCMessage **ret,
                             char **reterr_msg);
