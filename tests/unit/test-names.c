/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* What a sandbox id and a cgroup parent may look like: both end up as path
 * components under the cgroup mounts and as file names in the state
 * directory. */

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "daemon/names.h"

/* A malloc'd string of n copies of c. */
static char *repeat(char c, size_t n)
{
        char *s = malloc(n + 1);

        ck_assert_ptr_nonnull(s);
        memset(s, c, n);
        s[n] = '\0';
        return s;
}

/* n components "a" joined by '/': "a/a/.../a". */
static char *levels(size_t n)
{
        char *s = repeat('a', 2 * n - 1);

        for (size_t i = 1; i < 2 * n - 1; i += 2)
                s[i] = '/';
        return s;
}

static const char *const valid_ids[] = {
        "a", "Z", "0", "sb-1_x.y", "a..b", "a-", "a.", "0123456789abcdefABCDEF",
};

static const char *const invalid_ids[] = {
        "",     ".",  "..",   ".x",   "-x",   "_x",         "a/b", "a b", "a\n", "\na",
        "a\tb", "a:b", "a@b", "a%b", "a\\b", "caf\xc3\xa9", "\xff", "a\x7f",
};

START_TEST(test_id_valid)
{
        _cleanup_free_ char *max = repeat('x', SANDBOX_ID_MAX);

        for (size_t i = 0; i < ELEMENTSOF(valid_ids); i++)
                ck_assert_msg(sandbox_id_is_valid(valid_ids[i]), "\"%s\" refused", valid_ids[i]);
        ck_assert_uint_eq(strlen(max), 128);
        ck_assert(sandbox_id_is_valid(max));
}
END_TEST

START_TEST(test_id_invalid)
{
        _cleanup_free_ char *long_id = repeat('x', SANDBOX_ID_MAX + 1);

        for (size_t i = 0; i < ELEMENTSOF(invalid_ids); i++)
                ck_assert_msg(!sandbox_id_is_valid(invalid_ids[i]), "\"%s\" accepted", invalid_ids[i]);
        ck_assert_uint_eq(strlen(long_id), 129);
        ck_assert(!sandbox_id_is_valid(long_id));
        ck_assert(!sandbox_id_is_valid(NULL));
}
END_TEST

/* parent must normalize to expected, with no error set. */
static void assert_parent(const char *parent, const char *expected)
{
        _cleanup_free_ char *normalized = NULL;
        Error e = {};
        int r;

        r = cgroup_parent_normalize(parent, "cgroup_parent", &normalized, &e);
        ck_assert_msg(r == 0, "\"%s\" refused (%d): %s", parent, r, e.message);
        ck_assert(!error_is_set(&e));
        ck_assert_str_eq(normalized, expected);
}

/* parent must be refused with INVALID_ARGUMENT naming the field, and *ret
 * left alone. */
static void assert_parent_refused(const char *parent, const char *field)
{
        char *normalized = NULL;
        Error e = {};
        int r;

        r = cgroup_parent_normalize(parent, field, &normalized, &e);
        ck_assert_msg(r == -EINVAL, "\"%s\" accepted or wrong error (%d)", parent, r);
        ck_assert_ptr_null(normalized);
        ck_assert_int_eq(e.code, GRPC_INVALID_ARGUMENT);
        ck_assert_int_eq(e.errnum, EINVAL);
        ck_assert_msg(strncmp(e.message, field, strlen(field)) == 0 && e.message[strlen(field)] == ':',
                      "\"%s\": message does not start with the field \"%s\": %s", parent, field, e.message);

        /* A NULL Error is fine too. */
        ck_assert_int_eq(cgroup_parent_normalize(parent, field, &normalized, NULL), -EINVAL);
        ck_assert_ptr_null(normalized);
}

START_TEST(test_parent_valid)
{
        _cleanup_free_ char *deepest = levels(CGROUP_PARENT_DEPTH_MAX), *longest = NULL, *slash = NULL;

        assert_parent("kubepods", "kubepods");
        assert_parent("/kubepods/pod1", "kubepods/pod1");
        assert_parent("kubepods/pod1", "kubepods/pod1");
        assert_parent("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice",
                      "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice");
        assert_parent("/kubepods.slice", "kubepods.slice");
        assert_parent("a:b@c", "a:b@c");
        assert_parent("...", "...");
        assert_parent(".a/a..b/_c/-d", ".a/a..b/_c/-d");

        /* Exactly 32 levels. */
        assert_parent(deepest, deepest);

        /* Exactly 1024 characters, with and without the leading '/'
         * (which is not part of the canonical form). */
        longest = repeat('p', CGROUP_PARENT_MAX);
        for (size_t i = 100; i < CGROUP_PARENT_MAX; i += 100)
                longest[i] = '/';
        assert_parent(longest, longest);
        ck_assert_int_ge(asprintf(&slash, "/%s", longest), 0);
        assert_parent(slash, longest);
}
END_TEST

static const char *const invalid_parents[] = {
        "",      "/",     "//",    "//a",  "a//b", "a/",    "/a/",  "../x", "a/../b", "a/./b", ".",
        "..",    "./a",   "a/..",  "a/.",  "a b",  "a\\b",  "a\tb", "a\nb", "a%b",    "a*",    "a,b",
        "a=b",   "a~",    "\xc3\xa9", "a/\xff",
};

START_TEST(test_parent_invalid)
{
        _cleanup_free_ char *too_deep = levels(CGROUP_PARENT_DEPTH_MAX + 1), *too_long = NULL;

        for (size_t i = 0; i < ELEMENTSOF(invalid_parents); i++)
                assert_parent_refused(invalid_parents[i], "cgroup_parent");
        assert_parent_refused(NULL, "cgroup_parent");

        /* The message names whatever field the caller passes. */
        assert_parent_refused("a//b", "spec.cgroup_parent");
        assert_parent_refused("", "DefaultCgroupParent");
        assert_parent_refused("a b", "x");

        assert_parent_refused(too_deep, "cgroup_parent");

        too_long = repeat('p', CGROUP_PARENT_MAX + 1);
        assert_parent_refused(too_long, "cgroup_parent");
        for (size_t i = 100; i < CGROUP_PARENT_MAX; i += 100)
                too_long[i] = '/';
        assert_parent_refused(too_long, "cgroup_parent");
}
END_TEST

/* The messages say what is wrong. */
START_TEST(test_parent_messages)
{
        static const struct {
                const char *parent;
                const char *needle;
        } cases[] = {
                { "", "empty" },
                { "a//b", "empty path component" },
                { "a/../b", "\"..\"" },
                { "a/./b", "\".\"" },
                { "a b", "[A-Za-z0-9._:@-]" },
                { "a/b c", "\"a/b c\"" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *normalized = NULL;
                Error e = {};

                ck_assert_int_eq(cgroup_parent_normalize(cases[i].parent, "p", &normalized, &e), -EINVAL);
                ck_assert_msg(strstr(e.message, cases[i].needle), "\"%s\" not in \"%s\"", cases[i].needle,
                              e.message);
        }
}
END_TEST

static Suite *names_suite(void)
{
        Suite *s = suite_create("names");
        TCase *tc;

        tc = tcase_create("id");
        tcase_add_test(tc, test_id_valid);
        tcase_add_test(tc, test_id_invalid);
        suite_add_tcase(s, tc);

        tc = tcase_create("parent");
        tcase_add_test(tc, test_parent_valid);
        tcase_add_test(tc, test_parent_invalid);
        tcase_add_test(tc, test_parent_messages);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(names_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
