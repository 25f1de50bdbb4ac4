/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "client/output.h"
#include "client/pbjson.h"

static const char *const output_format_table[_OUTPUT_FORMAT_MAX] = {
        [OUTPUT_TABLE] = "table",
        [OUTPUT_JSON] = "json",
};

const char *output_format_to_string(OutputFormat f)
{
        if (f < 0 || f >= _OUTPUT_FORMAT_MAX)
                return NULL;
        return output_format_table[f];
}

OutputFormat output_format_from_string(const char *s)
{
        if (!s)
                return _OUTPUT_FORMAT_INVALID;
        for (OutputFormat f = 0; f < _OUTPUT_FORMAT_MAX; f++)
                if (streq(s, output_format_table[f]))
                        return f;
        return _OUTPUT_FORMAT_INVALID;
}

struct Table {
        size_t n_columns;
        const char *separator; /* between columns */
        bool *align_right;     /* per column */
        char **cells;          /* row after row */
        size_t n_cells;
};

Table *table_new(size_t n_columns)
{
        Table *t;

        if (n_columns == 0)
                return NULL;
        t = malloc(sizeof *t);
        if (!t)
                return NULL;
        *t = (Table){
                .n_columns = n_columns,
                .separator = "  ",
                .align_right = calloc(n_columns, sizeof(bool)),
        };
        if (!t->align_right)
                return table_free(t);
        return t;
}

Table *table_free(Table *t)
{
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->align_right);
        free(t);
        return NULL;
}

int table_set_align_right(Table *t, size_t column, bool b)
{
        if (column >= t->n_columns)
                return -EINVAL;
        t->align_right[column] = b;
        return 0;
}

/* Strings come from the daemon: don't let them move the cursor or set
 * terminal modes. */
static char *cell_dup(const char *s)
{
        char *c = strdup(s ?: "-");

        if (!c)
                return NULL;
        for (char *p = c; *p; p++)
                if ((unsigned char)*p < ' ' || *p == '\x7f')
                        *p = '?';
        return c;
}

int table_add_row(Table *t, ...)
{
        char **cells;
        va_list ap;
        size_t i;

        cells = realloc(t->cells, (t->n_cells + t->n_columns) * sizeof(char *));
        if (!cells)
                return -ENOMEM;
        t->cells = cells;

        va_start(ap, t);
        for (i = 0; i < t->n_columns; i++) {
                cells[t->n_cells + i] = cell_dup(va_arg(ap, const char *));
                if (!cells[t->n_cells + i])
                        break;
        }
        va_end(ap);

        if (i < t->n_columns) {
                while (i > 0)
                        free(cells[t->n_cells + --i]);
                return -ENOMEM;
        }
        t->n_cells += t->n_columns;
        return 0;
}

int table_print(const Table *t, FILE *f)
{
        _cleanup_free_ size_t *width = NULL;

        width = calloc(t->n_columns, sizeof(size_t));
        if (!width)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_cells; i++)
                width[i % t->n_columns] = MAX(width[i % t->n_columns], strlen(t->cells[i]));

        for (size_t i = 0; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                bool last = col == t->n_columns - 1;

                if (t->align_right[col])
                        fprintf(f, "%*s", (int)width[col], t->cells[i]);
                else if (last)
                        fputs(t->cells[i], f); /* no trailing blanks */
                else
                        fprintf(f, "%-*s", (int)width[col], t->cells[i]);
                fputs(last ? "\n" : t->separator, f);
        }
        return 0;
}

Table *table_new_fields(void)
{
        Table *t = table_new(2);

        if (!t)
                return NULL;
        t->separator = " ";
        t->align_right[0] = true;
        return t;
}

int table_add_field(Table *t, const char *key, const char *value)
{
        _cleanup_free_ char *k = NULL;

        if (asprintf(&k, "%s:", key) < 0)
                return -ENOMEM;
        return table_add_row(t, k, value);
}

int table_add_fieldf(Table *t, const char *key, const char *format, ...)
{
        _cleanup_free_ char *v = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&v, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return table_add_field(t, key, v);
}

char *enum_value_to_short_name(const ProtobufCEnumDescriptor *desc, int value)
{
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(desc, value);
        size_t prefix = SIZE_MAX;
        char *s;

        if (!ev) {
                if (asprintf(&s, "%d", value) < 0)
                        return NULL;
                return s;
        }

        /* The longest prefix of all value names that ends in '_'. */
        for (unsigned i = 0; i < desc->n_values; i++) {
                const char *n = desc->values[i].name;
                size_t l = 0;

                while (l < prefix && n[l] != '\0' && n[l] == ev->name[l])
                        l++;
                prefix = l;
        }
        while (prefix > 0 && ev->name[prefix - 1] != '_')
                prefix--;
        if (ev->name[prefix] == '\0')
                prefix = 0;

        s = strdup(ev->name + prefix);
        if (!s)
                return NULL;
        for (char *p = s; *p; p++)
                *p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
        return s;
}

int output_message_json(const ProtobufCMessage *msg, FILE *f)
{
        _cleanup_json_ json_object *j = NULL;
        int r;

        r = pbjson_message_to_json(msg, &j);
        if (r < 0)
                return r;
        return output_json(j, f);
}

int output_json(json_object *j, FILE *f)
{
        const char *s;

        s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        fputs(s, f);
        fputc('\n', f);
        return 0;
}
