/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macro.h"
#include "proto/frame.h"

/* The request frame containerd's Go client sends for probe.v1.Echo/Echo with
 * EchoRequest{text:"hi"} (shared/notes/ttrpc-wire.md). */
static const uint8_t echo_frame[] = {
        0x00, 0x00, 0x00, 0x1b, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x0a, 0x0d, 'p', 'r', 'o', 'b', 'e',
        '.', 'v', '1', '.', 'E', 'c', 'h', 'o', 0x12, 0x04, 'E', 'c', 'h', 'o', 0x1a, 0x04, 0x0a, 0x02, 'h', 'i',
};

START_TEST(test_header_roundtrip)
{
        TtrpcHeader h = { .length = 0x01020304, .stream_id = 0xfffffffd, .type = 2, .flags = 0x80 }, g;
        uint8_t buf[TTRPC_HEADER_SIZE];

        ttrpc_header_encode(&h, buf);
        ck_assert_mem_eq(buf, ((uint8_t[]){ 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xfd, 2, 0x80 }), TTRPC_HEADER_SIZE);
        ttrpc_header_decode(buf, &g);
        ck_assert_uint_eq(g.length, h.length);
        ck_assert_uint_eq(g.stream_id, h.stream_id);
        ck_assert_uint_eq(g.type, h.type);
        ck_assert_uint_eq(g.flags, h.flags);
}
END_TEST

START_TEST(test_reader_go_frame)
{
        FrameReader r;
        TtrpcHeader h;
        const uint8_t *p;

        frame_reader_init(&r, TTRPC_MESSAGE_LENGTH_MAX);
        ck_assert_int_eq(frame_reader_feed(&r, echo_frame, sizeof echo_frame), 0);
        ck_assert_int_eq(frame_reader_next(&r, &h, &p), 1);
        ck_assert_uint_eq(h.length, 27);
        ck_assert_uint_eq(h.stream_id, 1);
        ck_assert_uint_eq(h.type, TTRPC_TYPE_REQUEST);
        ck_assert_mem_eq(p, echo_frame + TTRPC_HEADER_SIZE, 27);
        ck_assert_int_eq(frame_reader_next(&r, &h, &p), 0);
        ck_assert(!frame_reader_partial(&r));
        frame_reader_done(&r);
}
END_TEST

/* Every split of two back-to-back frames yields the same two frames. */
START_TEST(test_reader_split_everywhere)
{
        uint8_t two[2 * sizeof echo_frame];
        memcpy(two, echo_frame, sizeof echo_frame);
        memcpy(two + sizeof echo_frame, echo_frame, sizeof echo_frame);
        two[sizeof echo_frame + 7] = 3; /* second frame: stream 3 */

        for (size_t cut = 0; cut <= sizeof two; cut++) {
                FrameReader r;
                TtrpcHeader h;
                const uint8_t *p;
                unsigned got = 0;

                frame_reader_init(&r, TTRPC_MESSAGE_LENGTH_MAX);
                ck_assert_int_eq(frame_reader_feed(&r, two, cut), 0);
                while (frame_reader_next(&r, &h, &p) == 1) {
                        ck_assert_uint_eq(h.stream_id, 2 * got + 1);
                        ck_assert_mem_eq(p, echo_frame + TTRPC_HEADER_SIZE, 27);
                        got++;
                }
                ck_assert_int_eq(frame_reader_feed(&r, two + cut, sizeof two - cut), 0);
                while (frame_reader_next(&r, &h, &p) == 1) {
                        ck_assert_uint_eq(h.stream_id, 2 * got + 1);
                        ck_assert_mem_eq(p, echo_frame + TTRPC_HEADER_SIZE, 27);
                        got++;
                }
                ck_assert_uint_eq(got, 2);
                ck_assert(!frame_reader_partial(&r));
                frame_reader_done(&r);
        }
}
END_TEST

START_TEST(test_reader_byte_at_a_time)
{
        FrameReader r;
        TtrpcHeader h;
        const uint8_t *p;

        frame_reader_init(&r, TTRPC_MESSAGE_LENGTH_MAX);
        for (size_t i = 0; i < sizeof echo_frame - 1; i++) {
                ck_assert_int_eq(frame_reader_feed(&r, echo_frame + i, 1), 0);
                ck_assert_int_eq(frame_reader_next(&r, &h, &p), 0);
                ck_assert(frame_reader_partial(&r));
        }
        ck_assert_int_eq(frame_reader_feed(&r, echo_frame + sizeof echo_frame - 1, 1), 0);
        ck_assert_int_eq(frame_reader_next(&r, &h, &p), 1);
        ck_assert_uint_eq(h.length, 27);
        frame_reader_done(&r);
}
END_TEST

START_TEST(test_reader_zero_length)
{
        FrameReader r;
        TtrpcHeader h;
        const uint8_t *p;
        const uint8_t empty[] = { 0, 0, 0, 0, 0, 0, 0, 5, 1, 0 };

        frame_reader_init(&r, 16);
        ck_assert_int_eq(frame_reader_feed(&r, empty, sizeof empty), 0);
        ck_assert_int_eq(frame_reader_next(&r, &h, &p), 1);
        ck_assert_uint_eq(h.length, 0);
        ck_assert_uint_eq(h.stream_id, 5);
        frame_reader_done(&r);
}
END_TEST

/* An oversized frame is reported once, its payload dropped without being
 * buffered, and the frame after it is read normally. */
START_TEST(test_reader_oversize_resyncs)
{
        const uint32_t max = 64, big = 100000;
        FrameReader r;
        TtrpcHeader h;
        const uint8_t *p;
        uint8_t hdr[TTRPC_HEADER_SIZE];

        frame_reader_init(&r, max);
        ttrpc_header_encode(&(TtrpcHeader){ .length = big, .stream_id = 7, .type = 1 }, hdr);
        ck_assert_int_eq(frame_reader_feed(&r, hdr, sizeof hdr), 0);
        ck_assert_int_eq(frame_reader_next(&r, &h, &p), -EMSGSIZE);
        ck_assert_uint_eq(h.stream_id, 7);
        ck_assert_uint_eq(h.length, big);
        ck_assert(frame_reader_partial(&r));

        _cleanup_free_ uint8_t *junk = calloc(1, big);
        ck_assert_ptr_nonnull(junk);
        /* In pieces, with the next frame glued to the last piece. */
        ck_assert_int_eq(frame_reader_feed(&r, junk, 4000), 0);
        ck_assert_int_eq(frame_reader_next(&r, &h, &p), 0);
        ck_assert_uint_le(r.cap, 8192); /* never grown for the dropped payload */
        uint8_t *tail = malloc(big - 4000 + sizeof echo_frame);
        ck_assert_ptr_nonnull(tail);
        memset(tail, 0xaa, big - 4000);
        memcpy(tail + big - 4000, echo_frame, sizeof echo_frame);
        ck_assert_int_eq(frame_reader_feed(&r, tail, big - 4000 + sizeof echo_frame), 0);
        free(tail);
        ck_assert_int_eq(frame_reader_next(&r, &h, &p), 1);
        ck_assert_uint_eq(h.stream_id, 1);
        ck_assert_mem_eq(p, echo_frame + TTRPC_HEADER_SIZE, 27);
        ck_assert(!frame_reader_partial(&r));
        frame_reader_done(&r);
}
END_TEST

/* frame_reader_fill() over a socket: drops an oversized payload read from
 * the fd and then returns the next frame. */
START_TEST(test_reader_fill_socket)
{
        int sv[2];
        FrameReader r;
        TtrpcHeader h;
        const uint8_t *p;
        uint8_t hdr[TTRPC_HEADER_SIZE];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        frame_reader_init(&r, 32);
        ttrpc_header_encode(&(TtrpcHeader){ .length = 40000, .stream_id = 9, .type = 1 }, hdr);
        ck_assert_int_eq(write(sv[0], hdr, sizeof hdr), (ssize_t) sizeof hdr);
        _cleanup_free_ uint8_t *junk = calloc(1, 40000);
        ck_assert_int_eq(write(sv[0], junk, 40000), 40000);
        ck_assert_int_eq(write(sv[0], echo_frame, 10), 10);

        bool oversize = false;
        int rounds = 0;
        for (;;) {
                int k = frame_reader_fill(&r, sv[1]);
                ck_assert_int_ne(k, 0);
                if (k == -EAGAIN)
                        break;
                ck_assert_int_gt(k, 0);
                k = frame_reader_next(&r, &h, &p);
                if (k == -EMSGSIZE) {
                        ck_assert_uint_eq(h.stream_id, 9);
                        oversize = true;
                } else
                        ck_assert_int_eq(k, 0);
                ck_assert_int_lt(++rounds, 100);
        }
        ck_assert(oversize);
        ck_assert_uint_le(r.cap, 16384);
        ck_assert_int_eq(write(sv[0], echo_frame + 10, sizeof echo_frame - 10), (ssize_t) sizeof echo_frame - 10);
        ck_assert_int_gt(frame_reader_fill(&r, sv[1]), 0);
        ck_assert_int_eq(frame_reader_next(&r, &h, &p), 1);
        ck_assert_uint_eq(h.stream_id, 1);

        close(sv[0]);
        ck_assert_int_eq(frame_reader_fill(&r, sv[1]), 0); /* EOF */
        close(sv[1]);
        frame_reader_done(&r);
}
END_TEST

START_TEST(test_writer_partial_flush)
{
        int sv[2];
        FrameWriter w = {};
        const size_t size = 1 << 20;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        _cleanup_free_ uint8_t *payload = malloc(size);
        ck_assert_ptr_nonnull(payload);
        for (size_t i = 0; i < size; i++)
                payload[i] = (uint8_t) (i * 7);
        ck_assert_int_eq(frame_writer_append(&w, &(TtrpcHeader){ .length = size, .stream_id = 1, .type = 2 },
                                             payload),
                         0);
        /* A 1 MiB frame does not fit a socket buffer at once. */
        ck_assert_int_eq(frame_writer_flush(&w, sv[0]), 0);
        ck_assert_uint_gt(frame_writer_pending(&w), 0);

        FrameReader r;
        TtrpcHeader h;
        const uint8_t *p;
        int got = 0;
        frame_reader_init(&r, TTRPC_MESSAGE_LENGTH_MAX);
        while (got == 0) {
                (void) frame_writer_flush(&w, sv[0]);
                int k = frame_reader_fill(&r, sv[1]);
                ck_assert(k > 0 || k == -EAGAIN);
                got = frame_reader_next(&r, &h, &p);
                ck_assert_int_ge(got, 0);
        }
        ck_assert_uint_eq(h.length, size);
        ck_assert_mem_eq(p, payload, size);
        ck_assert_uint_eq(frame_writer_pending(&w), 0);
        frame_reader_done(&r);
        frame_writer_done(&w);
        close(sv[0]);
        close(sv[1]);
}
END_TEST

START_TEST(test_grpc_code_names)
{
        ck_assert_str_eq(grpc_code_to_string(GRPC_UNIMPLEMENTED), "UNIMPLEMENTED");
        ck_assert_str_eq(grpc_code_to_string(GRPC_OK), "OK");
        ck_assert_ptr_null(grpc_code_to_string(-1));
        ck_assert_ptr_null(grpc_code_to_string(_GRPC_CODE_MAX));
}
END_TEST

static Suite *frame_suite(void)
{
        Suite *s = suite_create("frame");
        TCase *tc = tcase_create("codec");
        tcase_add_test(tc, test_header_roundtrip);
        tcase_add_test(tc, test_reader_go_frame);
        tcase_add_test(tc, test_reader_split_everywhere);
        tcase_add_test(tc, test_reader_byte_at_a_time);
        tcase_add_test(tc, test_reader_zero_length);
        tcase_add_test(tc, test_reader_oversize_resyncs);
        tcase_add_test(tc, test_reader_fill_socket);
        tcase_add_test(tc, test_writer_partial_flush);
        tcase_add_test(tc, test_grpc_code_names);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(frame_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
