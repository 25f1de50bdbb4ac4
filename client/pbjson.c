/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/pbjson.h"

static void *member_ptr(const ProtobufCMessage *m, unsigned offset)
{
        return (char *)m + offset;
}

/* Strings and messages are pointers, present when not NULL; other optional
 * fields have a has_ flag. */
static bool field_is_pointer(const ProtobufCFieldDescriptor *f)
{
        return f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE;
}

/* The size of the C member of a singular field, i.e. of one element of a
 * repeated one. */
static size_t field_element_size(const ProtobufCFieldDescriptor *f)
{
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                return sizeof(int32_t);
        case PROTOBUF_C_TYPE_ENUM:
                return sizeof(int); /* protobuf-c forces enums to int size */
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                return sizeof(int64_t);
        case PROTOBUF_C_TYPE_FLOAT:
                return sizeof(float);
        case PROTOBUF_C_TYPE_DOUBLE:
                return sizeof(double);
        case PROTOBUF_C_TYPE_BOOL:
                return sizeof(protobuf_c_boolean);
        case PROTOBUF_C_TYPE_STRING:
                return sizeof(char *);
        case PROTOBUF_C_TYPE_BYTES:
                return sizeof(ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE:
                return sizeof(ProtobufCMessage *);
        }
        return 0;
}

/* proto3 fields without presence are sent (and printed) unless zero. */
static bool value_is_zero(const ProtobufCFieldDescriptor *f, const void *v)
{
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                return *(const uint32_t *)v == 0;
        case PROTOBUF_C_TYPE_ENUM:
                return *(const int *)v == 0;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                return *(const uint64_t *)v == 0;
        case PROTOBUF_C_TYPE_FLOAT:
                return *(const float *)v == 0;
        case PROTOBUF_C_TYPE_DOUBLE:
                return *(const double *)v == 0;
        case PROTOBUF_C_TYPE_BOOL:
                return !*(const protobuf_c_boolean *)v;
        case PROTOBUF_C_TYPE_STRING:
                return !*(char *const *)v || **(char *const *)v == '\0';
        case PROTOBUF_C_TYPE_BYTES:
                return ((const ProtobufCBinaryData *)v)->len == 0;
        case PROTOBUF_C_TYPE_MESSAGE:
                return !*(ProtobufCMessage *const *)v;
        }
        return true;
}

static bool field_is_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
        const void *v = member_ptr(m, f->offset);
        const void *q = member_ptr(m, f->quantifier_offset);

        if (f->label == PROTOBUF_C_LABEL_REPEATED)
                return *(const size_t *)q > 0;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                return *(const uint32_t *)q == f->id;

        if (field_is_pointer(f)) {
                /* An optional string left at its default points to it. */
                const void *p = *(const void *const *)v;
                if (!p)
                        return false;
                if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
                        return p != f->default_value;
                if (f->label == PROTOBUF_C_LABEL_NONE)
                        return !value_is_zero(f, v);
                return true;
        }

        switch (f->label) {
        case PROTOBUF_C_LABEL_REQUIRED:
                return true;
        case PROTOBUF_C_LABEL_OPTIONAL:
                return *(const protobuf_c_boolean *)q;
        default:
                return !value_is_zero(f, v);
        }
}

static const char base64_table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const uint8_t *p, size_t n)
{
        char *s, *o;
        size_t i;

        s = o = malloc((n + 2) / 3 * 4 + 1);
        if (!s)
                return NULL;

        for (i = 0; i + 2 < n; i += 3) {
                *o++ = base64_table[p[i] >> 2];
                *o++ = base64_table[(p[i] & 0x03) << 4 | p[i + 1] >> 4];
                *o++ = base64_table[(p[i + 1] & 0x0f) << 2 | p[i + 2] >> 6];
                *o++ = base64_table[p[i + 2] & 0x3f];
        }
        if (i < n) {
                *o++ = base64_table[p[i] >> 2];
                if (i + 1 < n) {
                        *o++ = base64_table[(p[i] & 0x03) << 4 | p[i + 1] >> 4];
                        *o++ = base64_table[(p[i + 1] & 0x0f) << 2];
                } else {
                        *o++ = base64_table[(p[i] & 0x03) << 4];
                        *o++ = '=';
                }
                *o++ = '=';
        }
        *o = '\0';
        return s;
}

static int base64_value(char c)
{
        const char *p;

        /* The URL-safe alphabet too, as protobuf's JSON parsers accept it. */
        if (c == '-')
                return 62;
        if (c == '_')
                return 63;
        p = c != '\0' ? strchr(base64_table, c) : NULL;
        return p ? (int)(p - base64_table) : -EINVAL;
}

static int base64_decode(const char *s, size_t l, ProtobufCBinaryData *ret)
{
        _cleanup_free_ uint8_t *buf = NULL;
        uint32_t bits = 0;
        size_t n = 0;
        int k = 0;

        /* Padding is optional, but only at the end. */
        if (l % 4 == 0 && l > 0 && s[l - 1] == '=')
                l -= s[l - 2] == '=' ? 2 : 1;
        if (l % 4 == 1)
                return -EINVAL;

        buf = malloc(MAX(l / 4 * 3 + 2, (size_t)1));
        if (!buf)
                return -ENOMEM;

        for (size_t i = 0; i < l; i++) {
                int v = base64_value(s[i]);
                if (v < 0)
                        return v;
                bits = bits << 6 | (uint32_t)v;
                k += 6;
                if (k >= 8) {
                        k -= 8;
                        buf[n++] = (uint8_t)(bits >> k);
                }
        }

        *ret = (ProtobufCBinaryData){.len = n, .data = n > 0 ? TAKE_PTR(buf) : NULL};
        return 0;
}

static json_object *double_to_json(double d)
{
        /* JSON has no NaN and infinities; protobuf's mapping spells them. */
        if (isnan(d))
                return json_object_new_string("NaN");
        if (isinf(d))
                return json_object_new_string(d > 0 ? "Infinity" : "-Infinity");
        return json_object_new_double(d);
}

static int value_to_json(const ProtobufCFieldDescriptor *f, const void *v, json_object **ret)
{
        json_object *o = NULL;

        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                o = json_object_new_int(*(const int32_t *)v);
                break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                o = json_object_new_int64(*(const int64_t *)v);
                break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                o = json_object_new_int64(*(const uint32_t *)v);
                break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                o = json_object_new_uint64(*(const uint64_t *)v);
                break;
        case PROTOBUF_C_TYPE_FLOAT:
                o = double_to_json(*(const float *)v);
                break;
        case PROTOBUF_C_TYPE_DOUBLE:
                o = double_to_json(*(const double *)v);
                break;
        case PROTOBUF_C_TYPE_BOOL:
                o = json_object_new_boolean(*(const protobuf_c_boolean *)v);
                break;
        case PROTOBUF_C_TYPE_ENUM: {
                int e = *(const int *)v;
                const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, e);
                o = ev ? json_object_new_string(ev->name) : json_object_new_int(e);
                break;
        }
        case PROTOBUF_C_TYPE_STRING:
                o = json_object_new_string(strempty(*(char *const *)v));
                break;
        case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *b = v;
                _cleanup_free_ char *s = base64_encode(b->data, b->len);
                if (!s)
                        return -ENOMEM;
                o = json_object_new_string(s);
                break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessage *sub = *(ProtobufCMessage *const *)v;
                if (!sub) {
                        /* Only a malformed repeated field holds NULL. */
                        *ret = NULL; /* JSON null */
                        return 0;
                }
                return pbjson_message_to_json(sub, ret);
        }
        }
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

static int field_to_json(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, json_object **ret)
{
        const void *v = member_ptr(m, f->offset);
        _cleanup_json_ json_object *a = NULL;
        size_t n, size;
        int r;

        if (f->label != PROTOBUF_C_LABEL_REPEATED)
                return value_to_json(f, v, ret);

        n = *(const size_t *)member_ptr(m, f->quantifier_offset);
        size = field_element_size(f);
        a = json_object_new_array_ext((int)MIN(n, (size_t)INT32_MAX));
        if (!a)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                json_object *e;

                r = value_to_json(f, *(const char *const *)v + i * size, &e);
                if (r < 0)
                        return r;
                if (json_object_array_add(a, e) < 0) {
                        json_object_put(e);
                        return -ENOMEM;
                }
        }

        *ret = TAKE_PTR(a);
        return 0;
}

int pbjson_message_to_json(const ProtobufCMessage *m, json_object **ret)
{
        _cleanup_json_ json_object *o = NULL;
        const ProtobufCMessageDescriptor *desc;
        int r;

        if (!m || !ret)
                return -EINVAL;
        desc = m->descriptor;

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;

        for (unsigned i = 0; i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = desc->fields + i;
                json_object *v;

                if (!field_is_present(m, f))
                        continue;

                r = field_to_json(m, f, &v);
                if (r < 0)
                        return r;
                /* Field names are unique and live in the static descriptor. */
                if (json_object_object_add_ex(o, f->name, v,
                                              JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT) <
                    0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }

        *ret = TAKE_PTR(o);
        return 0;
}

/* Where in the document a value is, as a chain on the stack: built while
 * descending, formatted only when something is wrong. */
typedef struct JsonPath {
        const struct JsonPath *parent;
        const char *key; /* NULL: element index of an array */
        size_t index;
} JsonPath;

static void json_path_print(FILE *f, const JsonPath *p)
{
        if (!p)
                return;
        json_path_print(f, p->parent);
        if (!p->key)
                fprintf(f, "[%zu]", p->index);
        else if (p->parent)
                fprintf(f, ".%s", p->key);
        else
                fputs(p->key, f);
}

static int json_path_error(char **reterr, const JsonPath *p, const char *format, ...) _printf_(3, 4);
static int json_path_error(char **reterr, const JsonPath *p, const char *format, ...)
{
        char *s = NULL;
        size_t l = 0;
        va_list ap;
        FILE *f;

        if (!reterr)
                return -EINVAL;

        f = open_memstream(&s, &l);
        if (!f)
                return -ENOMEM;
        if (p) {
                json_path_print(f, p);
                fputs(": ", f);
        }
        va_start(ap, format);
        vfprintf(f, format, ap);
        va_end(ap);
        if (fclose(f) != 0 || !s) {
                free(s);
                return -ENOMEM;
        }

        *reterr = s;
        return -EINVAL;
}

static const char *json_type_description(json_object *j)
{
        switch (json_object_get_type(j)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "a boolean";
        case json_type_double:
                return "a number with a fraction or exponent";
        case json_type_int:
                return "an integer";
        case json_type_object:
                return "an object";
        case json_type_array:
                return "an array";
        case json_type_string:
                return "a string";
        }
        return "an unknown JSON type";
}

/* The string of a JSON string, refusing embedded NULs (protobuf-c strings
 * are C strings). */
static const char *json_get_c_string(json_object *j)
{
        const char *s;

        if (!json_object_is_type(j, json_type_string))
                return NULL;
        s = json_object_get_string(j);
        if (strlen(s) != (size_t)json_object_get_string_len(j))
                return NULL;
        return s;
}

/* An integer as sign and magnitude, from a JSON integer or a decimal string.
 * json-c saturates literals beyond 64 bits. */
static int json_get_integer(json_object *j, bool *ret_negative, uint64_t *ret_magnitude)
{
        const char *s, *digits;
        uint64_t u;
        char *end;

        if (json_object_is_type(j, json_type_int)) {
                int64_t i = json_object_get_int64(j);

                *ret_negative = i < 0;
                *ret_magnitude = i < 0 ? -(uint64_t)i : json_object_get_uint64(j);
                return 0;
        }

        s = json_get_c_string(j);
        if (!s)
                return -EINVAL;
        digits = s[0] == '-' ? s + 1 : s;
        if (digits[0] < '0' || digits[0] > '9')
                return -EINVAL;
        errno = 0;
        u = strtoull(digits, &end, 10);
        if (*end != '\0')
                return -EINVAL;
        if (errno == ERANGE)
                return -ERANGE;

        *ret_negative = s[0] == '-' && u > 0;
        *ret_magnitude = u;
        return 0;
}

static int json_get_signed(json_object *j, const JsonPath *p, int64_t min, int64_t max, int64_t *ret,
                           char **reterr)
{
        bool negative;
        uint64_t u;
        int r;

        r = json_get_integer(j, &negative, &u);
        if (r == -EINVAL)
                return json_path_error(reterr, p, "expected an integer, got %s", json_type_description(j));
        if (r < 0 || (negative ? u - 1 > (uint64_t) - (min + 1) : u > (uint64_t)max))
                return json_path_error(reterr, p, "%s out of range %" PRIi64 "..%" PRIi64,
                                       json_object_get_string(j), min, max);

        *ret = negative ? -(int64_t)(u - 1) - 1 : (int64_t)u;
        return 0;
}

static int json_get_unsigned(json_object *j, const JsonPath *p, uint64_t max, uint64_t *ret, char **reterr)
{
        bool negative;
        uint64_t u;
        int r;

        r = json_get_integer(j, &negative, &u);
        if (r == -EINVAL)
                return json_path_error(reterr, p, "expected an integer, got %s", json_type_description(j));
        if (r < 0 || negative || u > max)
                return json_path_error(reterr, p, "%s out of range 0..%" PRIu64, json_object_get_string(j),
                                       max);

        *ret = u;
        return 0;
}

static int json_get_floating(json_object *j, const JsonPath *p, double max, double *ret, char **reterr)
{
        double d;

        if (json_object_is_type(j, json_type_double) || json_object_is_type(j, json_type_int))
                d = json_object_get_double(j);
        else {
                const char *s = json_get_c_string(j);
                char *end;

                if (!s)
                        return json_path_error(reterr, p, "expected a number, got %s",
                                               json_type_description(j));
                if (streq(s, "NaN"))
                        d = NAN;
                else if (streq(s, "Infinity"))
                        d = INFINITY;
                else if (streq(s, "-Infinity"))
                        d = -INFINITY;
                else {
                        errno = 0;
                        d = strtod(s, &end);
                        if (s[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(d))
                                return json_path_error(reterr, p, "\"%s\" is not a number", s);
                }
        }

        if (isfinite(d) && (d > max || d < -max))
                return json_path_error(reterr, p, "%s out of range", json_object_get_string(j));

        *ret = d;
        return 0;
}

static int message_from_json(const ProtobufCMessageDescriptor *desc, json_object *j, const JsonPath *path,
                             ProtobufCMessage **ret, char **reterr);

/* Parses j into v, the C member of field f (or one element of it). Writes v
 * only on success. */
static int value_from_json(const ProtobufCFieldDescriptor *f, json_object *j, const JsonPath *p, void *v,
                           char **reterr)
{
        int64_t i;
        uint64_t u;
        double d;
        int r;

        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                r = json_get_signed(j, p, INT32_MIN, INT32_MAX, &i, reterr);
                if (r < 0)
                        return r;
                *(int32_t *)v = (int32_t)i;
                return 0;

        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                return json_get_signed(j, p, INT64_MIN, INT64_MAX, v, reterr);

        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                r = json_get_unsigned(j, p, UINT32_MAX, &u, reterr);
                if (r < 0)
                        return r;
                *(uint32_t *)v = (uint32_t)u;
                return 0;

        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                return json_get_unsigned(j, p, UINT64_MAX, v, reterr);

        case PROTOBUF_C_TYPE_FLOAT:
                r = json_get_floating(j, p, FLT_MAX, &d, reterr);
                if (r < 0)
                        return r;
                *(float *)v = (float)d;
                return 0;

        case PROTOBUF_C_TYPE_DOUBLE:
                return json_get_floating(j, p, DBL_MAX, v, reterr);

        case PROTOBUF_C_TYPE_BOOL:
                if (!json_object_is_type(j, json_type_boolean))
                        return json_path_error(reterr, p, "expected a boolean, got %s",
                                               json_type_description(j));
                *(protobuf_c_boolean *)v = json_object_get_boolean(j);
                return 0;

        case PROTOBUF_C_TYPE_ENUM: {
                const ProtobufCEnumDescriptor *ed = f->descriptor;
                const ProtobufCEnumValue *ev = NULL;

                if (json_object_is_type(j, json_type_string))
                        ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_object_get_string(j));
                else if (json_object_is_type(j, json_type_int)) {
                        int64_t e = json_object_get_int64(j);
                        if (e >= INT32_MIN && e <= INT32_MAX)
                                ev = protobuf_c_enum_descriptor_get_value(ed, (int)e);
                } else
                        return json_path_error(reterr, p, "expected a %s name, got %s", ed->name,
                                               json_type_description(j));
                if (!ev)
                        return json_path_error(reterr, p, "%s is not a %s value", json_object_get_string(j),
                                               ed->name);
                *(int *)v = ev->value;
                return 0;
        }

        case PROTOBUF_C_TYPE_STRING: {
                const char *s = json_get_c_string(j);
                char *c;

                if (!s)
                        return json_path_error(reterr, p, "expected a string without NUL bytes, got %s",
                                               json_type_description(j));
                c = strdup(s);
                if (!c)
                        return -ENOMEM;
                *(char **)v = c;
                return 0;
        }

        case PROTOBUF_C_TYPE_BYTES:
                if (!json_object_is_type(j, json_type_string))
                        return json_path_error(reterr, p, "expected a base64 string, got %s",
                                               json_type_description(j));
                r = base64_decode(json_object_get_string(j), (size_t)json_object_get_string_len(j), v);
                if (r == -EINVAL)
                        return json_path_error(reterr, p, "invalid base64");
                return r;

        case PROTOBUF_C_TYPE_MESSAGE:
                return message_from_json(f->descriptor, j, p, v, reterr);
        }

        return json_path_error(reterr, p, "field type %d not supported", (int)f->type);
}

static int repeated_from_json(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, json_object *j,
                              const JsonPath *p, char **reterr)
{
        size_t *n = member_ptr(m, f->quantifier_offset);
        void **array = member_ptr(m, f->offset);
        size_t size = field_element_size(f), l;
        int r;

        if (!json_object_is_type(j, json_type_array))
                return json_path_error(reterr, p, "expected an array, got %s", json_type_description(j));

        l = json_object_array_length(j);
        if (l == 0)
                return 0;
        *array = calloc(l, size);
        if (!*array)
                return -ENOMEM;

        /* Count elements as they are filled, so that freeing the message
         * frees exactly those. */
        for (size_t i = 0; i < l; i++) {
                json_object *e = json_object_array_get_idx(j, i);
                JsonPath ep = {.parent = p, .index = i};

                if (json_object_is_type(e, json_type_null))
                        return json_path_error(reterr, &ep, "null is not allowed in an array");
                r = value_from_json(f, e, &ep, (char *)*array + i * size, reterr);
                if (r < 0)
                        return r;
                (*n)++;
        }
        return 0;
}

static int field_from_json(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, json_object *j,
                           const JsonPath *p, char **reterr)
{
        const ProtobufCMessageDescriptor *desc = m->descriptor;
        void *q = member_ptr(m, f->quantifier_offset);
        int r;

        if (f->label == PROTOBUF_C_LABEL_REPEATED)
                return repeated_from_json(m, f, j, p, reterr);

        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(uint32_t *)q != 0) {
                const ProtobufCFieldDescriptor *other =
                        protobuf_c_message_descriptor_get_field(desc, *(uint32_t *)q);
                return json_path_error(reterr, p, "conflicts with %s: only one of them may be set",
                                       other ? other->name : "another field");
        }

        r = value_from_json(f, j, p, member_ptr(m, f->offset), reterr);
        if (r < 0)
                return r;

        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                *(uint32_t *)q = f->id;
        else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !field_is_pointer(f))
                *(protobuf_c_boolean *)q = true;
        return 0;
}

static int message_from_json(const ProtobufCMessageDescriptor *desc, json_object *j, const JsonPath *path,
                             ProtobufCMessage **ret, char **reterr)
{
        _cleanup_message_ ProtobufCMessage *m = NULL;
        int r;

        if (!json_object_is_type(j, json_type_object))
                return json_path_error(reterr, path, "expected an object (%s), got %s", desc->name,
                                       json_type_description(j));

        m = malloc(desc->sizeof_message);
        if (!m)
                return -ENOMEM;
        protobuf_c_message_init(desc, m);

        json_object_object_foreach(j, key, value)
        {
                JsonPath p = {.parent = path, .key = key};
                const ProtobufCFieldDescriptor *f;

                f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
                if (!f)
                        return json_path_error(reterr, &p, "unknown field of %s", desc->name);
                if (json_object_is_type(value, json_type_null))
                        continue; /* not set */

                r = field_from_json(m, f, value, &p, reterr);
                if (r < 0)
                        return r;
        }

        for (unsigned i = 0; i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = desc->fields + i;
                json_object *v;

                if (f->label == PROTOBUF_C_LABEL_REQUIRED &&
                    (!json_object_object_get_ex(j, f->name, &v) || json_object_is_type(v, json_type_null)))
                        return json_path_error(reterr, &(const JsonPath){.parent = path, .key = f->name},
                                               "required field of %s missing", desc->name);
        }

        *ret = TAKE_PTR(m);
        return 0;
}

int pbjson_message_from_json(const ProtobufCMessageDescriptor *desc, json_object *j, ProtobufCMessage **ret,
                             char **reterr_msg)
{
        if (!desc || !ret)
                return -EINVAL;
        return message_from_json(desc, j, NULL, ret, reterr_msg);
}
