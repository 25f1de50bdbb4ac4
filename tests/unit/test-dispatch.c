/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* dispatch_request() without a server: packed ttrpc.Requests in, packed
 * ttrpc.Responses out, against a manager whose host probe comes from the
 * hybrid mountinfo fixture. */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dispatch.h"
#include "daemon/manager.h"
#include "sandboxcg/v1/sandboxcg.pb-c.h"
#include "ttrpc.pb-c.h"

static Manager manager;
static const Peer root_peer = { .pid = 1234, .uid = 0, .gid = 0 };

static void setup(void)
{
        Error e = {};
        ck_assert_int_eq(config_init(&manager.config), 0);
        int r = host_probe(FIXTURE_DIR "/hybrid", "/sys/fs/cgroup", &manager.host, &e);
        ck_assert_msg(r == 0, "probe of the hybrid fixture failed: %s", e.message);
}

static void teardown(void)
{
        host_probe_done(&manager.host);
        config_done(&manager.config);
}

static Ttrpc__Response *call(const char *service, const char *method, const void *payload, size_t size,
                             bool with_payload)
{
        Ttrpc__Request req = TTRPC__REQUEST__INIT;
        uint8_t buf[4096];
        uint8_t *out = NULL;
        size_t out_size = 0;

        req.service = (char *) service;
        req.method = (char *) method;
        if (with_payload) {
                req.payload.data = (uint8_t *) payload;
                req.payload.len = size;
        }
        ck_assert_uint_le(ttrpc__request__get_packed_size(&req), sizeof buf);
        size_t n = ttrpc__request__pack(&req, buf);
        ck_assert_int_eq(dispatch_request(&manager, &root_peer, buf, n, &out, &out_size), 0);
        Ttrpc__Response *resp = ttrpc__response__unpack(NULL, out_size, out);
        free(out);
        ck_assert_ptr_nonnull(resp);
        return resp;
}

START_TEST(test_version)
{
        /* proto3 omits an empty payload entirely: that is an empty request. */
        Ttrpc__Response *resp = call(SANDBOXCG_SERVICE, "Version", NULL, 0, false);
        ck_assert_ptr_null(resp->status);
        Sandboxcg__V1__VersionResponse *v =
                sandboxcg__v1__version_response__unpack(NULL, resp->payload.len, resp->payload.data);
        ck_assert_ptr_nonnull(v);
        ck_assert_str_eq(v->daemon_version, PACKAGE_VERSION);
        ck_assert_str_eq(v->api_version, "sandboxcg.v1");
        sandboxcg__v1__version_response__free_unpacked(v, NULL);
        ttrpc__response__free_unpacked(resp, NULL);
}
END_TEST

static const Sandboxcg__V1__ControllerInfo *find_controller(const Sandboxcg__V1__HostInfoResponse *h,
                                                           const char *name)
{
        for (size_t i = 0; i < h->n_controllers; i++)
                if (strcmp(h->controllers[i]->name, name) == 0)
                        return h->controllers[i];
        return NULL;
}

START_TEST(test_host_info_hybrid)
{
        Ttrpc__Response *resp = call(SANDBOXCG_SERVICE, "HostInfo", "", 0, true);
        ck_assert_ptr_null(resp->status);
        Sandboxcg__V1__HostInfoResponse *h =
                sandboxcg__v1__host_info_response__unpack(NULL, resp->payload.len, resp->payload.data);
        ck_assert_ptr_nonnull(h);
        ck_assert(h->has_mode);
        ck_assert_int_eq(h->mode, SANDBOXCG__V1__CGROUP_MODE__CGROUP_MODE_HYBRID);
        ck_assert_int_eq(h->driver, SANDBOXCG__V1__CGROUP_DRIVER__CGROUP_DRIVER_CGROUPFS);
        ck_assert_str_eq(h->unified_mount, "/sys/fs/cgroup/unified");

        const Sandboxcg__V1__ControllerInfo *cpu = find_controller(h, "cpu");
        ck_assert_ptr_nonnull(cpu);
        ck_assert_uint_eq(cpu->version, 1);
        ck_assert_str_eq(cpu->mount_point, "/sys/fs/cgroup/cpu");
        const Sandboxcg__V1__ControllerInfo *hugetlb = find_controller(h, "hugetlb");
        ck_assert_ptr_nonnull(hugetlb);
        ck_assert_uint_eq(hugetlb->version, 2);
        ck_assert_str_eq(hugetlb->mount_point, "/sys/fs/cgroup/unified");
        ck_assert(h->features != NULL && h->features->has_pidfd);

        sandboxcg__v1__host_info_response__free_unpacked(h, NULL);
        ttrpc__response__free_unpacked(resp, NULL);
}
END_TEST

START_TEST(test_unknown_method)
{
        Ttrpc__Response *resp = call(SANDBOXCG_SERVICE, "DropAllTables", NULL, 0, false);
        ck_assert_ptr_nonnull(resp->status);
        ck_assert_int_eq(resp->status->code, GRPC_UNIMPLEMENTED);
        ck_assert_str_eq(resp->status->message, "method DropAllTables");
        ck_assert_uint_eq(resp->payload.len, 0);
        ttrpc__response__free_unpacked(resp, NULL);
}
END_TEST

START_TEST(test_unknown_service)
{
        Ttrpc__Response *resp = call("containerd.task.v2.Task", "Version", NULL, 0, false);
        ck_assert_ptr_nonnull(resp->status);
        ck_assert_int_eq(resp->status->code, GRPC_UNIMPLEMENTED);
        ck_assert_str_eq(resp->status->message, "service containerd.task.v2.Task");
        ttrpc__response__free_unpacked(resp, NULL);
}
END_TEST

START_TEST(test_undecodable_envelope)
{
        const uint8_t garbage[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f }; /* length runs past the end */
        uint8_t *out = NULL;
        size_t out_size = 0;

        ck_assert_int_eq(dispatch_request(&manager, &root_peer, garbage, sizeof garbage, &out, &out_size), 0);
        Ttrpc__Response *resp = ttrpc__response__unpack(NULL, out_size, out);
        free(out);
        ck_assert_ptr_nonnull(resp);
        ck_assert_int_eq(resp->status->code, GRPC_INVALID_ARGUMENT);
        ttrpc__response__free_unpacked(resp, NULL);
}
END_TEST

START_TEST(test_undecodable_method_payload)
{
        const uint8_t bad[] = { 0x08 }; /* a varint key with no value */
        Ttrpc__Response *resp = call(SANDBOXCG_SERVICE, "Version", bad, sizeof bad, true);
        ck_assert_int_eq(resp->status->code, GRPC_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(strstr(resp->status->message, "sandboxcg.v1.VersionRequest"));
        ttrpc__response__free_unpacked(resp, NULL);
}
END_TEST

/* Unknown fields are skipped, as protobuf requires (the API only grows). */
START_TEST(test_unknown_fields_ignored)
{
        const uint8_t future[] = { 0xa0, 0x06, 0x01 }; /* field 100, varint 1 */
        Ttrpc__Response *resp = call(SANDBOXCG_SERVICE, "Version", future, sizeof future, true);
        ck_assert_ptr_null(resp->status);
        ttrpc__response__free_unpacked(resp, NULL);
}
END_TEST

START_TEST(test_status_response)
{
        uint8_t *out = NULL;
        size_t size = 0;
        ck_assert_int_eq(dispatch_status_response(GRPC_RESOURCE_EXHAUSTED, "too big", &out, &size), 0);
        /* As ttrpc encodes it: field 1 (status) holding code 8 and the message. */
        const uint8_t expected[] = { 0x0a, 0x0b, 0x08, 0x08, 0x12, 0x07, 't', 'o', 'o', ' ', 'b', 'i', 'g' };
        ck_assert_uint_eq(size, sizeof expected);
        ck_assert_mem_eq(out, expected, size);
        free(out);
}
END_TEST

static Suite *dispatch_suite(void)
{
        Suite *s = suite_create("dispatch");
        TCase *tc = tcase_create("methods");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_version);
        tcase_add_test(tc, test_host_info_hybrid);
        tcase_add_test(tc, test_unknown_method);
        tcase_add_test(tc, test_unknown_service);
        tcase_add_test(tc, test_undecodable_envelope);
        tcase_add_test(tc, test_undecodable_method_payload);
        tcase_add_test(tc, test_unknown_fields_ignored);
        tcase_add_test(tc, test_status_response);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(dispatch_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
