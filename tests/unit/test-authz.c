/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* Who may call what: dispatch_check_access() over peers and groups, which
 * methods count as changing state, and the PERMISSION_DENIED responses of
 * dispatch_request() (the handler is never reached, so a manager without a
 * host will do). */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dispatch.h"
#include "daemon/manager.h"
#include "sandboxcg/v1/sandboxcg.pb-c.h"
#include "ttrpc.pb-c.h"

#define ADMIN 1000
#define READER 1001

static Config config;

static void setup(void)
{
        ck_assert_int_eq(config_init(&config), 0);
        config.admin_group = ADMIN;
        config.read_only_group = READER;
}

static void teardown(void)
{
        config_done(&config);
}

static bool may(const Peer *p, bool mutating)
{
        return dispatch_check_access(&config, p, mutating) == NULL;
}

START_TEST(test_root)
{
        const Peer root = { .pid = 1, .uid = 0, .gid = 0 };
        const Peer root_other_gid = { .pid = 1, .uid = 0, .gid = 4321 };
        const Peer root_read_only = { .pid = 1, .uid = 0, .gid = 0, .read_only = true };

        ck_assert(may(&root, true) && may(&root, false));
        ck_assert(may(&root_other_gid, true));
        /* The read-only socket serves reads to anyone, writes to nobody. */
        ck_assert(may(&root_read_only, false));
        ck_assert(!may(&root_read_only, true));
        ck_assert_ptr_nonnull(strstr(dispatch_check_access(&config, &root_read_only, true), "read-only socket"));

        /* Without any group configured: still root, nobody else. */
        config.admin_group = config.read_only_group = GID_INVALID;
        ck_assert(may(&root, true));
        const Peer someone = { .pid = 2, .uid = 1000, .gid = 1000 };
        ck_assert(!may(&someone, true) && !may(&someone, false));
}
END_TEST

START_TEST(test_groups)
{
        const gid_t admin_supp[] = { 5, ADMIN, 7 };
        const gid_t reader_supp[] = { READER };
        const gid_t both[] = { READER, ADMIN };
        const gid_t unrelated[] = { 1, 2, 3, 4, 5 };
        const Peer admin_primary = { .uid = 10, .gid = ADMIN };
        const Peer admin_secondary = { .uid = 10, .gid = 10, .groups = admin_supp, .n_groups = 3 };
        const Peer reader_primary = { .uid = 11, .gid = READER };
        const Peer reader_secondary = { .uid = 11, .gid = 11, .groups = reader_supp, .n_groups = 1 };
        const Peer reader_and_admin = { .uid = 12, .gid = 12, .groups = both, .n_groups = 2 };
        const Peer other = { .uid = 13, .gid = 13, .groups = unrelated, .n_groups = 5 };
        /* A uid equal to a group's gid means nothing. */
        const Peer uid_like_gid = { .uid = ADMIN, .gid = 13 };
        const Peer admin_read_only = { .uid = 10, .gid = ADMIN, .read_only = true };
        const Peer other_read_only = { .uid = 13, .gid = 13, .read_only = true };

        ck_assert(may(&admin_primary, true) && may(&admin_primary, false));
        ck_assert(may(&admin_secondary, true) && may(&admin_secondary, false));
        ck_assert(!may(&reader_primary, true) && may(&reader_primary, false));
        ck_assert(!may(&reader_secondary, true) && may(&reader_secondary, false));
        ck_assert(may(&reader_and_admin, true));
        ck_assert(!may(&other, true) && !may(&other, false));
        ck_assert(!may(&uid_like_gid, true) && !may(&uid_like_gid, false));
        ck_assert(!may(&admin_read_only, true) && may(&admin_read_only, false));
        ck_assert(!may(&other_read_only, true) && may(&other_read_only, false));

        /* Only the read-only group configured: admins are nobody special. */
        config.admin_group = GID_INVALID;
        ck_assert(!may(&admin_primary, true) && !may(&admin_primary, false));
        ck_assert(may(&reader_secondary, false));
        /* A peer whose gid happens to be GID_INVALID is in no unset group. */
        const Peer odd = { .uid = 14, .gid = GID_INVALID };
        ck_assert(!may(&odd, false));
}
END_TEST

/* The table's flags: a method that changes anything is mutating. A new
 * method must be added here, deliberately. */
START_TEST(test_method_flags)
{
        static const struct {
                const char *name;
                int mutating;
        } expected[] = {
                { "Version", 0 },         { "HostInfo", 0 },     { "GetSandbox", 0 },
                { "ListSandboxes", 0 },   { "CreateSandbox", 1 }, { "UpdateSandbox", 1 },
                { "AttachVmm", 1 },       { "AttachVcpus", 1 },  { "DeleteSandbox", 1 },
                { "Reconcile", 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                ck_assert_msg(dispatch_method_is_mutating(expected[i].name) == expected[i].mutating, "%s",
                              expected[i].name);
        ck_assert_int_eq(dispatch_method_is_mutating("Nope"), -ENOENT);
        ck_assert_int_eq(dispatch_method_is_mutating(""), -ENOENT);
}
END_TEST

static Ttrpc__Response *call_as(Manager *m, const Peer *peer, const char *method)
{
        Ttrpc__Request req = TTRPC__REQUEST__INIT;
        uint8_t buf[512];
        uint8_t *out = NULL;
        size_t out_size = 0;

        req.service = (char *) SANDBOXCG_SERVICE;
        req.method = (char *) method;
        size_t n = ttrpc__request__pack(&req, buf);
        ck_assert_int_eq(dispatch_request(m, peer, buf, n, &out, &out_size), 0);
        Ttrpc__Response *resp = ttrpc__response__unpack(NULL, out_size, out);
        free(out);
        ck_assert_ptr_nonnull(resp);
        return resp;
}

/* The denial as the client sees it: PERMISSION_DENIED naming the method,
 * before the request is decoded or a handler runs. */
START_TEST(test_dispatch_denies)
{
        static const char *const mutating[] = { "CreateSandbox", "UpdateSandbox", "AttachVmm", "AttachVcpus",
                                                "DeleteSandbox" };
        Manager m = {};
        const gid_t reader_supp[] = { READER };
        const Peer other = { .pid = 77, .uid = 1234, .gid = 1234 };
        const Peer reader = { .pid = 78, .uid = 1235, .gid = 1235, .groups = reader_supp, .n_groups = 1 };
        const Peer root_read_only = { .pid = 79, .uid = 0, .gid = 0, .read_only = true };
        Ttrpc__Response *resp;

        m.config = config;
        for (size_t i = 0; i < ELEMENTSOF(mutating); i++) {
                const Peer *peers[] = { &other, &reader, &root_read_only };
                for (size_t j = 0; j < ELEMENTSOF(peers); j++) {
                        resp = call_as(&m, peers[j], mutating[i]);
                        ck_assert_ptr_nonnull(resp->status);
                        ck_assert_int_eq(resp->status->code, GRPC_PERMISSION_DENIED);
                        ck_assert_msg(strstr(resp->status->message, mutating[i]), "%s", resp->status->message);
                        ck_assert_uint_eq(resp->payload.len, 0);
                        ttrpc__response__free_unpacked(resp, NULL);
                }
        }

        /* Reads: the reader and the read-only socket may, the other may not. */
        resp = call_as(&m, &other, "Version");
        ck_assert_int_eq(resp->status->code, GRPC_PERMISSION_DENIED);
        ck_assert_ptr_nonnull(strstr(resp->status->message, "permission denied: Version"));
        ttrpc__response__free_unpacked(resp, NULL);
        resp = call_as(&m, &reader, "Version");
        ck_assert_ptr_null(resp->status);
        ttrpc__response__free_unpacked(resp, NULL);
        resp = call_as(&m, &root_read_only, "Version");
        ck_assert_ptr_null(resp->status);
        ttrpc__response__free_unpacked(resp, NULL);

        /* An unknown method is unknown whoever asks. */
        resp = call_as(&m, &other, "Nope");
        ck_assert_int_eq(resp->status->code, GRPC_UNIMPLEMENTED);
        ttrpc__response__free_unpacked(resp, NULL);
}
END_TEST

static Suite *access_suite(void)
{
        Suite *s = suite_create("authz");
        TCase *tc = tcase_create("check");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_root);
        tcase_add_test(tc, test_groups);
        tcase_add_test(tc, test_method_flags);
        tcase_add_test(tc, test_dispatch_denies);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(access_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
