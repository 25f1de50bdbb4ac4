/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macro.h"
#include "proto/frame.h"

static const char *const grpc_code_table[_GRPC_CODE_MAX] = {
        [GRPC_OK] = "OK",
        [GRPC_CANCELLED] = "CANCELLED",
        [GRPC_UNKNOWN] = "UNKNOWN",
        [GRPC_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
        [GRPC_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
        [GRPC_NOT_FOUND] = "NOT_FOUND",
        [GRPC_ALREADY_EXISTS] = "ALREADY_EXISTS",
        [GRPC_PERMISSION_DENIED] = "PERMISSION_DENIED",
        [GRPC_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
        [GRPC_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
        [GRPC_ABORTED] = "ABORTED",
        [GRPC_OUT_OF_RANGE] = "OUT_OF_RANGE",
        [GRPC_UNIMPLEMENTED] = "UNIMPLEMENTED",
        [GRPC_INTERNAL] = "INTERNAL",
        [GRPC_UNAVAILABLE] = "UNAVAILABLE",
        [GRPC_DATA_LOSS] = "DATA_LOSS",
        [GRPC_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *grpc_code_to_string(int code)
{
        if (code < 0 || code >= _GRPC_CODE_MAX)
                return NULL;
        return grpc_code_table[code];
}

static void put_be32(uint8_t *p, uint32_t v)
{
        p[0] = v >> 24;
        p[1] = v >> 16;
        p[2] = v >> 8;
        p[3] = v;
}

static uint32_t get_be32(const uint8_t *p)
{
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

void ttrpc_header_encode(const TtrpcHeader *h, uint8_t out[TTRPC_HEADER_SIZE])
{
        put_be32(out, h->length);
        put_be32(out + 4, h->stream_id);
        out[8] = h->type;
        out[9] = h->flags;
}

void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_SIZE], TtrpcHeader *ret)
{
        ret->length = get_be32(in);
        ret->stream_id = get_be32(in + 4);
        ret->type = in[8];
        ret->flags = in[9];
}

void frame_reader_init(FrameReader *r, uint32_t max_length)
{
        *r = (FrameReader){ .max_length = max_length };
}

void frame_reader_done(FrameReader *r)
{
        free(r->buf);
        *r = (FrameReader){ .max_length = r->max_length };
}

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
        if (need <= *cap)
                return 0;
        size_t n = MAX(*cap * 2, MAX(need, (size_t) 4096));
        uint8_t *p = realloc(*buf, n);
        if (!p)
                return -ENOMEM;
        *buf = p;
        *cap = n;
        return 0;
}

/* Forget the frame handed out last and drop buffered bytes of an oversized
 * frame; afterwards the unread bytes start at buf[0]. */
static void reader_compact(FrameReader *r)
{
        size_t n = MIN(r->skip, r->len - r->start);
        r->skip -= n;
        r->start += n;
        if (r->start == 0)
                return;
        memmove(r->buf, r->buf + r->start, r->len - r->start);
        r->len -= r->start;
        r->start = 0;
}

int frame_reader_feed(FrameReader *r, const void *data, size_t size)
{
        reader_compact(r);
        /* While dropping an oversized payload, never buffer it. */
        size_t n = r->len == 0 ? MIN(r->skip, size) : 0;
        r->skip -= n;
        data = (const uint8_t *) data + n;
        size -= n;
        if (size == 0)
                return 0;
        int k = reserve(&r->buf, &r->cap, r->len + size);
        if (k < 0)
                return k;
        memcpy(r->buf + r->len, data, size);
        r->len += size;
        return 0;
}

int frame_reader_fill(FrameReader *r, int fd)
{
        uint8_t scratch[16384];
        uint8_t *dst;
        size_t want;

        reader_compact(r);
        if (r->skip > 0) {
                /* Read the dropped payload into scratch space. */
                dst = scratch;
                want = MIN(r->skip, sizeof scratch);
        } else {
                /* Read what completes the current frame, with some look-ahead
                 * but never more than one maximum frame: a client cannot make
                 * us hold more than that. */
                size_t need = TTRPC_HEADER_SIZE;
                if (r->len >= TTRPC_HEADER_SIZE)
                        need += MIN(get_be32(r->buf), r->max_length);
                want = need > r->len ? need - r->len : 0;
                want = MAX(want, (size_t) 4096);
                int k = reserve(&r->buf, &r->cap, r->len + want);
                if (k < 0)
                        return k;
                dst = r->buf + r->len;
        }

        ssize_t n = read(fd, dst, want);
        if (n < 0)
                return errno == EINTR ? -EAGAIN : negative_errno();
        if (n == 0)
                return 0;
        if (dst == scratch)
                r->skip -= (size_t) n;
        else
                r->len += (size_t) n;
        return (int) n;
}

int frame_reader_next(FrameReader *r, TtrpcHeader *ret_header, const uint8_t **ret_payload)
{
        reader_compact(r);
        if (r->skip > 0 || r->len < TTRPC_HEADER_SIZE)
                return 0;

        TtrpcHeader h;
        ttrpc_header_decode(r->buf, &h);

        if (h.length > r->max_length) {
                /* Consume the header; the payload is dropped as it arrives. */
                r->start = TTRPC_HEADER_SIZE;
                r->skip = h.length;
                *ret_header = h;
                *ret_payload = NULL;
                return -EMSGSIZE;
        }

        if (r->len < TTRPC_HEADER_SIZE + (size_t) h.length)
                return 0;

        /* The frame stays in place until the next call. */
        r->start = TTRPC_HEADER_SIZE + (size_t) h.length;
        *ret_header = h;
        *ret_payload = r->buf + TTRPC_HEADER_SIZE;
        return 1;
}

bool frame_reader_partial(const FrameReader *r)
{
        return r->len > r->start || r->skip > 0;
}

void frame_writer_done(FrameWriter *w)
{
        free(w->buf);
        *w = (FrameWriter){};
}

int frame_writer_append(FrameWriter *w, const TtrpcHeader *h, const void *payload)
{
        /* Compact what was already written before growing. */
        if (w->off > 0) {
                memmove(w->buf, w->buf + w->off, w->len - w->off);
                w->len -= w->off;
                w->off = 0;
        }
        int k = reserve(&w->buf, &w->cap, w->len + TTRPC_HEADER_SIZE + h->length);
        if (k < 0)
                return k;
        ttrpc_header_encode(h, w->buf + w->len);
        if (h->length > 0)
                memcpy(w->buf + w->len + TTRPC_HEADER_SIZE, payload, h->length);
        w->len += TTRPC_HEADER_SIZE + h->length;
        return 0;
}

int frame_writer_flush(FrameWriter *w, int fd)
{
        while (w->off < w->len) {
                ssize_t n = send(fd, w->buf + w->off, w->len - w->off, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return negative_errno();
                }
                w->off += (size_t) n;
        }
        w->off = w->len = 0;
        return 1;
}
