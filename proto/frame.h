/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* ttrpc framing, shared by the daemon and libsandboxcg.
 *
 * A frame is a 10-byte header (big-endian u32 payload length, big-endian u32
 * stream id, u8 type, u8 flags) followed by the payload: a ttrpc.Request or a
 * ttrpc.Response (proto/ttrpc.proto). See proto/PROTOCOL.md. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TTRPC_HEADER_SIZE 10u
#define TTRPC_MESSAGE_LENGTH_MAX (4u << 20) /* ttrpc's default: 4 MiB */

enum {
        TTRPC_TYPE_REQUEST = 1,
        TTRPC_TYPE_RESPONSE = 2,
        TTRPC_TYPE_DATA = 3,
};

/* gRPC status codes, as carried in ttrpc.Status.code. */
typedef enum GrpcCode {
        GRPC_OK = 0,
        GRPC_CANCELLED = 1,
        GRPC_UNKNOWN = 2,
        GRPC_INVALID_ARGUMENT = 3,
        GRPC_DEADLINE_EXCEEDED = 4,
        GRPC_NOT_FOUND = 5,
        GRPC_ALREADY_EXISTS = 6,
        GRPC_PERMISSION_DENIED = 7,
        GRPC_RESOURCE_EXHAUSTED = 8,
        GRPC_FAILED_PRECONDITION = 9,
        GRPC_ABORTED = 10,
        GRPC_OUT_OF_RANGE = 11,
        GRPC_UNIMPLEMENTED = 12,
        GRPC_INTERNAL = 13,
        GRPC_UNAVAILABLE = 14,
        GRPC_DATA_LOSS = 15,
        GRPC_UNAUTHENTICATED = 16,
        _GRPC_CODE_MAX,
} GrpcCode;

const char *grpc_code_to_string(int code);

typedef struct TtrpcHeader {
        uint32_t length;
        uint32_t stream_id;
        uint8_t type;
        uint8_t flags;
} TtrpcHeader;

void ttrpc_header_encode(const TtrpcHeader *h, uint8_t out[TTRPC_HEADER_SIZE]);
void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_SIZE], TtrpcHeader *ret);

/* Incremental frame reader for a non-blocking stream: bytes go in with
 * frame_reader_fill() (from an fd) or frame_reader_feed() (from memory), and
 * frame_reader_next() returns complete frames one at a time.
 *
 * A frame whose header announces more than max_length bytes is not buffered:
 * frame_reader_next() returns -EMSGSIZE once with the header, and the reader
 * then silently drops that many payload bytes, so the stream stays in sync
 * (ttrpc answers such a request with RESOURCE_EXHAUSTED and keeps the
 * connection). */
typedef struct FrameReader {
        uint8_t *buf;
        size_t start;     /* bytes of buf already handed out */
        size_t len;       /* bytes held in buf */
        size_t cap;
        size_t skip;      /* payload bytes of an oversized frame still to drop */
        uint32_t max_length;
} FrameReader;

void frame_reader_init(FrameReader *r, uint32_t max_length);
void frame_reader_done(FrameReader *r);

/* Reads what is available from fd. Returns bytes read (> 0), 0 on EOF,
 * -EAGAIN when nothing is available, or another -errno. */
int frame_reader_fill(FrameReader *r, int fd);
int frame_reader_feed(FrameReader *r, const void *data, size_t size);

/* Returns 1 and a frame (the payload points into the reader and is valid until
 * the next call), 0 when no complete frame is buffered, -EMSGSIZE for an
 * oversized frame (header only; its payload is being dropped). */
int frame_reader_next(FrameReader *r, TtrpcHeader *ret_header, const uint8_t **ret_payload);

/* True when a partial frame (or an oversized frame being dropped) is pending. */
bool frame_reader_partial(const FrameReader *r);

/* Growable output buffer of encoded frames. */
typedef struct FrameWriter {
        uint8_t *buf;
        size_t len;
        size_t off;       /* bytes of buf already written */
        size_t cap;
} FrameWriter;

void frame_writer_done(FrameWriter *w);
int frame_writer_append(FrameWriter *w, const TtrpcHeader *h, const void *payload);
/* Writes what the fd accepts. Returns 1 when everything was written, 0 when
 * bytes remain (EAGAIN), or -errno. */
int frame_writer_flush(FrameWriter *w, int fd);
static inline size_t frame_writer_pending(const FrameWriter *w)
{
        return w->len - w->off;
}
