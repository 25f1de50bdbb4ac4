/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Human (table) and machine (JSON) output of sandboxcgctl. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

#include "common/macro.h"

typedef enum OutputFormat {
        OUTPUT_TABLE,
        OUTPUT_JSON,
        _OUTPUT_FORMAT_MAX,
        _OUTPUT_FORMAT_INVALID = -EINVAL,
} OutputFormat;

const char *output_format_to_string(OutputFormat f);
OutputFormat output_format_from_string(const char *s);

/* A table of strings printed in aligned columns, separated by two spaces.
 * Cells are copied; control characters in them are shown as '?', a NULL cell
 * as "-". */
typedef struct Table Table;

Table *table_new(size_t n_columns);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free)
#define _cleanup_table_ _cleanup_(table_freep)

/* Right-align a column (default: left). */
int table_set_align_right(Table *t, size_t column, bool b);
/* Adds a row of exactly n_columns cells. */
int table_add_row(Table *t, ...);
int table_print(const Table *t, FILE *f);

/* A two-column table of "Key: value" lines, keys right-aligned so that the
 * colons line up, as in systemd's status output. */
Table *table_new_fields(void);
int table_add_field(Table *t, const char *key, const char *value);
int table_add_fieldf(Table *t, const char *key, const char *format, ...) _printf_(3, 4);

/* The value name of an enum without the prefix its values share, in lower
 * case: CGROUP_MODE_HYBRID → "hybrid". Values not in the descriptor (from a
 * newer daemon) are returned as their number. Returns a new string or NULL
 * on ENOMEM. */
char *enum_value_to_short_name(const ProtobufCEnumDescriptor *desc, int value);

/* Prints msg as indented JSON (see pbjson.h) followed by a newline. */
int output_message_json(const ProtobufCMessage *msg, FILE *f);

/* Prints a JSON value in the same format. */
struct json_object;
int output_json(struct json_object *j, FILE *f);
