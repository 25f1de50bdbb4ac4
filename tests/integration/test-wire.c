/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* The built daemon against raw ttrpc frames: well-formed calls, pipelining,
 * and every kind of malformed input, each followed by proof that the daemon
 * still serves other clients. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "sandboxcg/v1/sandboxcg.pb-c.h"
#include "tests/integration/harness.h"

static TestDaemon daemon_;

static void start_with(const char *const *args)
{
        int r = test_daemon_start(&daemon_, args);
        ck_assert_msg(r == 0, "daemon did not start: %s", strerror(-r));
}

static void stop_and_check(void)
{
        ck_assert_msg(test_daemon_alive(&daemon_), "daemon died during the test");
        int status = test_daemon_stop(&daemon_);
        ck_assert_msg(status == 0, "daemon exited with status %d (sanitizer report or unclean stop?)", status);
}

/* Version on a fresh connection works: the daemon is serving. */
static void assert_serving(void)
{
        int fd = test_connect(daemon_.socket);
        ck_assert_int_ge(fd, 0);
        Ttrpc__Response *resp = NULL;
        ck_assert_int_eq(test_call(fd, 1, "Version", NULL, &resp), 0);
        ck_assert_ptr_null(resp->status);
        Sandboxcg__V1__VersionResponse *v =
                sandboxcg__v1__version_response__unpack(NULL, resp->payload.len, resp->payload.data);
        ck_assert_ptr_nonnull(v);
        ck_assert_str_eq(v->api_version, "sandboxcg.v1");
        ck_assert_str_eq(v->daemon_version, PACKAGE_VERSION);
        sandboxcg__v1__version_response__free_unpacked(v, NULL);
        ttrpc__response__free_unpacked(resp, NULL);
        close(fd);
}

static void assert_status(Ttrpc__Response *resp, GrpcCode code, const char *substring)
{
        ck_assert_ptr_nonnull(resp);
        ck_assert_ptr_nonnull(resp->status);
        ck_assert_msg(resp->status->code == (int) code, "expected %s, got %s (%s)", grpc_code_to_string(code),
                      grpc_code_to_string(resp->status->code), resp->status->message);
        if (substring)
                ck_assert_msg(strstr(resp->status->message, substring), "message '%s' lacks '%s'",
                              resp->status->message, substring);
}

static Ttrpc__Response *recv_response(int fd, uint32_t stream_id)
{
        Ttrpc__Response *resp = NULL;
        int r = test_recv_response(fd, stream_id, 10000, &resp);
        ck_assert_msg(r == 0, "no response on stream %u: %s", stream_id, strerror(-r));
        return resp;
}

START_TEST(test_version_and_host_info)
{
        start_with(NULL);
        assert_serving();

        int fd = test_connect(daemon_.socket);
        Ttrpc__Response *resp = NULL;
        ck_assert_int_eq(test_call(fd, 1, "HostInfo", NULL, &resp), 0);
        ck_assert_ptr_null(resp->status);
        Sandboxcg__V1__HostInfoResponse *h =
                sandboxcg__v1__host_info_response__unpack(NULL, resp->payload.len, resp->payload.data);
        ck_assert_ptr_nonnull(h);
        ck_assert(h->has_mode && h->mode != SANDBOXCG__V1__CGROUP_MODE__CGROUP_MODE_UNKNOWN);
        ck_assert_str_eq(h->cgroup_root, "/sys/fs/cgroup");
        ck_assert_uint_gt(h->n_controllers, 0);
        /* Every reported mount point is a real directory. */
        for (size_t i = 0; i < h->n_controllers; i++) {
                struct stat st;
                ck_assert_msg(stat(h->controllers[i]->mount_point, &st) == 0 && S_ISDIR(st.st_mode), "%s",
                              h->controllers[i]->mount_point);
        }
        sandboxcg__v1__host_info_response__free_unpacked(h, NULL);
        ttrpc__response__free_unpacked(resp, NULL);
        close(fd);
        stop_and_check();
}
END_TEST

START_TEST(test_pipelined_requests)
{
        start_with(NULL);
        int fd = test_connect(daemon_.socket);
        _cleanup_free_ uint8_t *a = NULL, *b = NULL;
        size_t na, nb;
        ck_assert_int_eq(test_pack_request("sandboxcg.v1.SandboxCgroup", "Version", NULL, &a, &na), 0);
        ck_assert_int_eq(test_pack_request("sandboxcg.v1.SandboxCgroup", "HostInfo", NULL, &b, &nb), 0);

        /* Three requests in one write, answered on their own streams. */
        uint8_t buf[3 * TTRPC_HEADER_SIZE + 256];
        size_t off = 0;
        const struct {
                uint32_t id;
                const uint8_t *p;
                size_t n;
        } reqs[] = { { 1, a, na }, { 3, b, nb }, { 5, a, na } };
        for (size_t i = 0; i < ELEMENTSOF(reqs); i++) {
                ttrpc_header_encode(&(TtrpcHeader){ .length = reqs[i].n, .stream_id = reqs[i].id, .type = 1 },
                                    buf + off);
                memcpy(buf + off + TTRPC_HEADER_SIZE, reqs[i].p, reqs[i].n);
                off += TTRPC_HEADER_SIZE + reqs[i].n;
        }
        ck_assert_int_eq(test_send_raw(fd, buf, off), 0);
        for (size_t i = 0; i < ELEMENTSOF(reqs); i++) {
                Ttrpc__Response *resp = recv_response(fd, reqs[i].id);
                ck_assert_ptr_null(resp->status);
                ck_assert_uint_gt(resp->payload.len, 0);
                ttrpc__response__free_unpacked(resp, NULL);
        }
        close(fd);
        stop_and_check();
}
END_TEST

START_TEST(test_unknown_method_and_service)
{
        start_with(NULL);
        int fd = test_connect(daemon_.socket);
        Ttrpc__Response *resp = NULL;

        ck_assert_int_eq(test_call(fd, 1, "Nope", NULL, &resp), 0);
        assert_status(resp, GRPC_UNIMPLEMENTED, "method Nope");
        ttrpc__response__free_unpacked(resp, NULL);

        _cleanup_free_ uint8_t *req = NULL;
        size_t n;
        ck_assert_int_eq(test_pack_request("other.v1.Service", "Version", NULL, &req, &n), 0);
        ck_assert_int_eq(test_send_frame(fd, TTRPC_TYPE_REQUEST, 3, req, n), 0);
        resp = recv_response(fd, 3);
        assert_status(resp, GRPC_UNIMPLEMENTED, "service other.v1.Service");
        ttrpc__response__free_unpacked(resp, NULL);

        /* The same connection still works. */
        ck_assert_int_eq(test_call(fd, 5, "Version", NULL, &resp), 0);
        ck_assert_ptr_null(resp->status);
        ttrpc__response__free_unpacked(resp, NULL);
        close(fd);
        stop_and_check();
}
END_TEST

START_TEST(test_garbage_payload)
{
        start_with(NULL);
        int fd = test_connect(daemon_.socket);

        /* Not a protobuf message: field 15 with a wire type that does not exist. */
        const uint8_t garbage[] = { 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        ck_assert_int_eq(test_send_frame(fd, TTRPC_TYPE_REQUEST, 1, garbage, sizeof garbage), 0);
        Ttrpc__Response *resp = recv_response(fd, 1);
        assert_status(resp, GRPC_INVALID_ARGUMENT, "unmarshal request error");
        ttrpc__response__free_unpacked(resp, NULL);

        /* A valid envelope whose method payload is not a VersionRequest. */
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n;
        ck_assert_int_eq(test_pack_request_raw("sandboxcg.v1.SandboxCgroup", "Version", garbage, sizeof garbage,
                                               &buf, &n),
                         0);
        ck_assert_int_eq(test_send_frame(fd, TTRPC_TYPE_REQUEST, 3, buf, n), 0);
        resp = recv_response(fd, 3);
        assert_status(resp, GRPC_INVALID_ARGUMENT, "cannot decode");
        ttrpc__response__free_unpacked(resp, NULL);

        close(fd);
        assert_serving();
        stop_and_check();
}
END_TEST

START_TEST(test_even_stream_and_other_types)
{
        start_with(NULL);
        int fd = test_connect(daemon_.socket);
        _cleanup_free_ uint8_t *req = NULL;
        size_t n;
        ck_assert_int_eq(test_pack_request("sandboxcg.v1.SandboxCgroup", "Version", NULL, &req, &n), 0);

        ck_assert_int_eq(test_send_frame(fd, TTRPC_TYPE_REQUEST, 2, req, n), 0);
        Ttrpc__Response *resp = recv_response(fd, 2);
        assert_status(resp, GRPC_INVALID_ARGUMENT, "odd");
        ttrpc__response__free_unpacked(resp, NULL);

        /* Response- and data-typed frames from a client are ignored (as
         * ttrpc does); the next request is answered. */
        ck_assert_int_eq(test_send_frame(fd, TTRPC_TYPE_RESPONSE, 3, req, n), 0);
        ck_assert_int_eq(test_send_frame(fd, 0x42, 5, "xyz", 3), 0);
        ck_assert_int_eq(test_send_frame(fd, TTRPC_TYPE_REQUEST, 7, req, n), 0);
        resp = recv_response(fd, 7);
        ck_assert_ptr_null(resp->status);
        ttrpc__response__free_unpacked(resp, NULL);
        close(fd);
        stop_and_check();
}
END_TEST

START_TEST(test_oversized_frame)
{
        const char *const args[] = { "--max-message-size", "64K", NULL };
        start_with(args);
        int fd = test_connect(daemon_.socket);

        /* 5 MiB announced and sent: refused with RESOURCE_EXHAUSTED on its
         * stream, the payload skipped, and the connection stays in sync. */
        const size_t big = 5u << 20;
        _cleanup_free_ uint8_t *junk = calloc(1, big);
        ck_assert_ptr_nonnull(junk);
        ck_assert_int_eq(test_send_frame(fd, TTRPC_TYPE_REQUEST, 1, junk, big), 0);
        Ttrpc__Response *resp = recv_response(fd, 1);
        assert_status(resp, GRPC_RESOURCE_EXHAUSTED, "exceed maximum message size");
        ttrpc__response__free_unpacked(resp, NULL);

        ck_assert_int_eq(test_call(fd, 3, "Version", NULL, &resp), 0);
        ck_assert_ptr_null(resp->status);
        ttrpc__response__free_unpacked(resp, NULL);
        close(fd);
        stop_and_check();
}
END_TEST

START_TEST(test_truncated_then_closed)
{
        start_with(NULL);
        for (int i = 0; i < 20; i++) {
                int fd = test_connect(daemon_.socket);
                /* A header promising 1000 bytes, 3 of them, then hang up. */
                uint8_t hdr[TTRPC_HEADER_SIZE];
                ttrpc_header_encode(&(TtrpcHeader){ .length = 1000, .stream_id = 1, .type = 1 }, hdr);
                ck_assert_int_eq(test_send_raw(fd, hdr, (size_t) (i % TTRPC_HEADER_SIZE) + 1), 0);
                if (i >= (int) TTRPC_HEADER_SIZE)
                        ck_assert_int_eq(test_send_raw(fd, "abc", 3), 0);
                close(fd);
        }
        assert_serving();
        stop_and_check();
}
END_TEST

START_TEST(test_stalled_partial_frame)
{
        const char *const args[] = { "--frame-timeout", "1", NULL };
        start_with(args);
        int stalled = test_connect(daemon_.socket);
        uint8_t hdr[TTRPC_HEADER_SIZE];
        ttrpc_header_encode(&(TtrpcHeader){ .length = 100, .stream_id = 1, .type = 1 }, hdr);
        ck_assert_int_eq(test_send_raw(stalled, hdr, sizeof hdr), 0);
        ck_assert_int_eq(test_send_raw(stalled, "half", 4), 0);

        /* Others are served while it stalls... */
        assert_serving();
        /* ...and the daemon drops it after FrameTimeoutSec=. */
        ck_assert_msg(test_wait_closed(stalled, 10000), "stalled connection was not closed");
        close(stalled);
        assert_serving();
        stop_and_check();
}
END_TEST

START_TEST(test_idle_timeout)
{
        const char *const args[] = { "--idle-timeout", "1", NULL };
        start_with(args);
        int fd = test_connect(daemon_.socket);
        Ttrpc__Response *resp = NULL;
        ck_assert_int_eq(test_call(fd, 1, "Version", NULL, &resp), 0);
        ttrpc__response__free_unpacked(resp, NULL);
        ck_assert_msg(test_wait_closed(fd, 10000), "idle connection was not closed");
        close(fd);
        stop_and_check();
}
END_TEST

START_TEST(test_connection_limit)
{
        const char *const args[] = { "--max-connections", "4", NULL };
        int fds[4];
        start_with(args);

        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = test_connect(daemon_.socket);
                ck_assert_int_ge(fds[i], 0);
                Ttrpc__Response *resp = NULL;
                ck_assert_int_eq(test_call(fds[i], 1, "Version", NULL, &resp), 0);
                ttrpc__response__free_unpacked(resp, NULL);
        }
        /* The fifth is accepted and closed at once. */
        int extra = test_connect(daemon_.socket);
        ck_assert_int_ge(extra, 0);
        ck_assert_msg(test_wait_closed(extra, 10000), "connection over the limit was kept");
        close(extra);

        /* Those inside the limit are still served; closing one makes room. */
        Ttrpc__Response *resp = NULL;
        ck_assert_int_eq(test_call(fds[2], 3, "Version", NULL, &resp), 0);
        ttrpc__response__free_unpacked(resp, NULL);
        close(fds[0]);
        bool served = false;
        for (int i = 0; i < 100 && !served; i++) {
                int fd = test_connect(daemon_.socket);
                served = test_call(fd, 1, "Version", NULL, &resp) == 0;
                if (served)
                        ttrpc__response__free_unpacked(resp, NULL);
                close(fd);
                if (!served)
                        usleep(20000);
        }
        ck_assert(served);
        for (size_t i = 1; i < ELEMENTSOF(fds); i++)
                close(fds[i]);
        stop_and_check();
}
END_TEST

/* A client that sends requests but never reads the answers does not make
 * the daemon buffer without bound or stop serving others. */
START_TEST(test_client_that_does_not_read)
{
        const char *const args[] = { "--max-message-size", "4K", NULL };
        start_with(args);
        int fd = test_connect(daemon_.socket);
        _cleanup_free_ uint8_t *req = NULL;
        size_t n;
        ck_assert_int_eq(test_pack_request("sandboxcg.v1.SandboxCgroup", "HostInfo", NULL, &req, &n), 0);

        /* Keep writing until the socket pushes back. */
        ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        uint8_t frame[TTRPC_HEADER_SIZE + 512];
        ck_assert_uint_le(n, 512);
        size_t sent_total = 0;
        for (uint32_t id = 1; id < 2000001; id += 2) {
                ttrpc_header_encode(&(TtrpcHeader){ .length = n, .stream_id = id, .type = 1 }, frame);
                memcpy(frame + TTRPC_HEADER_SIZE, req, n);
                ssize_t k = send(fd, frame, TTRPC_HEADER_SIZE + n, MSG_NOSIGNAL);
                if (k < 0) {
                        ck_assert_int_eq(errno, EAGAIN);
                        break;
                }
                sent_total += (size_t) k;
                ck_assert_uint_eq((size_t) k, TTRPC_HEADER_SIZE + n);
        }
        ck_assert_uint_gt(sent_total, 0);
        assert_serving();
        close(fd);
        stop_and_check();
}
END_TEST

START_TEST(test_sigterm_removes_socket)
{
        start_with(NULL);
        char sock[sizeof daemon_.socket];
        strcpy(sock, daemon_.socket);
        ck_assert_int_eq(kill(daemon_.pid, SIGTERM), 0);
        int status;
        ck_assert_int_eq(waitpid(daemon_.pid, &status, 0), daemon_.pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        daemon_.pid = -1;
        ck_assert_int_eq(access(sock, F_OK), -1);
        ck_assert_int_eq(errno, ENOENT);
        test_daemon_stop(&daemon_);
}
END_TEST

START_TEST(test_second_daemon_refuses_live_socket)
{
        start_with(NULL);
        TestDaemon second;
        /* Same socket path, other directory: must refuse, not steal it. */
        const char *const args[] = { "--socket", daemon_.socket, NULL };
        int r = test_daemon_start(&second, args);
        ck_assert_int_ne(r, 0);
        ck_assert_int_ne(test_daemon_stop(&second), 0);
        assert_serving();
        stop_and_check();
}
END_TEST

static void teardown(void)
{
        if (daemon_.pid > 0 || daemon_.dir[0])
                test_daemon_stop(&daemon_);
}

static Suite *wire_suite(void)
{
        Suite *s = suite_create("wire");
        TCase *tc = tcase_create("daemon");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_version_and_host_info);
        tcase_add_test(tc, test_pipelined_requests);
        tcase_add_test(tc, test_unknown_method_and_service);
        tcase_add_test(tc, test_garbage_payload);
        tcase_add_test(tc, test_even_stream_and_other_types);
        tcase_add_test(tc, test_oversized_frame);
        tcase_add_test(tc, test_truncated_then_closed);
        tcase_add_test(tc, test_stalled_partial_frame);
        tcase_add_test(tc, test_idle_timeout);
        tcase_add_test(tc, test_connection_limit);
        tcase_add_test(tc, test_client_that_does_not_read);
        tcase_add_test(tc, test_sigterm_removes_socket);
        tcase_add_test(tc, test_second_daemon_refuses_live_socket);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        /* The daemon's own sanitizer exit codes must reach us, not kill us. */
        signal(SIGPIPE, SIG_IGN);
        SRunner *sr = srunner_create(wire_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
