/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* The configuration parser: defaults, every key, every way a value can be
 * wrong (the Config must then be left exactly as it was), the file format,
 * and reading files from a temporary directory. */

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/strv.h"
#include "daemon/conf.h"
#include "daemon/names.h"
#include "daemon/vmm.h"

#define USEC_PER_SEC UINT64_C(1000000)

static char tmpdir[PATH_MAX];

static void tmpdir_setup(void)
{
        const char *base = getenv("TMPDIR") ?: "/tmp";

        ck_assert_int_lt(snprintf(tmpdir, sizeof tmpdir, "%s/test-config-XXXXXX", base),
                         (int) sizeof tmpdir);
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Runs in the parent process (an unchecked fixture), so it also runs when a
 * test failed. The tests create plain files and directories, one level deep. */
static void tmpdir_teardown(void)
{
        _cleanup_closedir_ DIR *d = opendir(tmpdir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno == EISDIR)
                                (void) unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
        (void) rmdir(tmpdir);
}

/* Writes size bytes of data to tmpdir/name; returns the path (static). */
static const char *write_file(const char *name, const char *data, size_t size)
{
        static char path[PATH_MAX];
        _cleanup_close_ int fd = -EBADF;

        ck_assert_int_lt(snprintf(path, sizeof path, "%s/%s", tmpdir, name), (int) sizeof path);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, size), (ssize_t) size);
        return path;
}

/* NULL-terminated expected strings; a NULL list compares equal to NULL only. */
static void assert_strv_eq(char *const *l, const char *const *expected)
{
        size_t n = 0;

        if (!expected) {
                ck_assert_ptr_null(l);
                return;
        }
        ck_assert_ptr_nonnull(l);
        for (; expected[n]; n++) {
                ck_assert_ptr_nonnull(l[n]);
                ck_assert_str_eq(l[n], expected[n]);
        }
        ck_assert_ptr_null(l[n]);
}

static void assert_config_eq(const Config *a, const Config *b)
{
        ck_assert_str_eq(a->socket_path, b->socket_path);
        ck_assert_uint_eq(a->socket_mode, b->socket_mode);
        ck_assert_uint_eq(a->socket_group, b->socket_group);
        ck_assert(streq_ptr(a->read_only_socket, b->read_only_socket));
        ck_assert_uint_eq(a->read_only_socket_mode, b->read_only_socket_mode);
        ck_assert_uint_eq(a->admin_group, b->admin_group);
        ck_assert_uint_eq(a->read_only_group, b->read_only_group);
        ck_assert_str_eq(a->state_dir, b->state_dir);
        ck_assert_str_eq(a->cgroup_root, b->cgroup_root);
        ck_assert_int_eq(a->driver, b->driver);
        ck_assert_int_eq(a->log_level, b->log_level);
        ck_assert_str_eq(a->default_parent, b->default_parent);
        assert_strv_eq(a->vcpu_patterns, (const char *const *) b->vcpu_patterns);
        assert_strv_eq(a->allowed_parents, (const char *const *) b->allowed_parents);
        ck_assert_int_eq(a->on_vmm_exit, b->on_vmm_exit);
        ck_assert_int_eq(a->attach_descendants_only, b->attach_descendants_only);
        ck_assert_uint_eq(a->max_message_size, b->max_message_size);
        ck_assert_uint_eq(a->max_connections, b->max_connections);
        ck_assert_uint_eq(a->max_connections_per_user, b->max_connections_per_user);
        ck_assert_uint_eq(a->max_requests_per_connection, b->max_requests_per_connection);
        ck_assert_uint_eq(a->request_rate, b->request_rate);
        ck_assert_uint_eq(a->request_burst, b->request_burst);
        ck_assert_uint_eq(a->idle_timeout_usec, b->idle_timeout_usec);
        ck_assert_uint_eq(a->frame_timeout_usec, b->frame_timeout_usec);
        ck_assert_uint_eq(a->max_sandboxes, b->max_sandboxes);
}

static void assert_is_default(const Config *c)
{
        _cleanup_(config_done) Config defaults = {};

        ck_assert_int_eq(config_init(&defaults), 0);
        assert_config_eq(c, &defaults);
}

/* Parses "[section]\nkey=value\n" into a default Config, which must succeed. */
static void parse_one(Config *c, const char *section, const char *key, const char *value)
{
        char text[512];
        Error e = {};
        int r;

        ck_assert_int_lt(snprintf(text, sizeof text, "[%s]\n%s=%s\n", section, key, value),
                         (int) sizeof text);
        config_done(c);
        ck_assert_int_eq(config_init(c), 0);
        r = config_parse_string(c, text, "test.conf", &e);
        ck_assert_msg(r == 0, "%s=%s: %d: %s", key, value, r, e.message);
        ck_assert(!error_is_set(&e));
}

/* text must fail with -EINVAL, leave a default Config exactly as it was, and
 * say every one of the NULL-terminated strings that follow. */
static void assert_rejected(const char *text, ...) __attribute__((sentinel));
static void assert_rejected(const char *text, ...)
{
        _cleanup_(config_done) Config c = {};
        const char *needle;
        Error e = {};
        va_list ap;
        int r;

        ck_assert_int_eq(config_init(&c), 0);
        r = config_parse_string(&c, text, "test.conf", &e);
        ck_assert_msg(r == -EINVAL, "accepted or wrong error (%d): %s", r, text);
        ck_assert_int_eq(e.code, GRPC_INVALID_ARGUMENT);
        ck_assert_int_eq(e.errnum, EINVAL);
        va_start(ap, text);
        while ((needle = va_arg(ap, const char *)))
                ck_assert_msg(strstr(e.message, needle), "\"%s\" not in \"%s\"", needle, e.message);
        va_end(ap);
        assert_is_default(&c);
}

START_TEST(test_defaults)
{
        Config c;

        ck_assert_int_eq(config_init(&c), 0);
        ck_assert_str_eq(c.socket_path, "/run/sandboxcg/sandboxcg.sock");
        ck_assert_uint_eq(c.socket_mode, 0660);
        ck_assert_str_eq(c.state_dir, "/run/sandboxcg/sandboxes");
        ck_assert_str_eq(c.cgroup_root, "/sys/fs/cgroup");
        ck_assert_int_eq(c.driver, CGROUP_DRIVER_CGROUPFS);
        ck_assert_int_eq(c.log_level, LOG_INFO);
        ck_assert_uint_eq(c.max_message_size, 4 * 1024 * 1024);
        ck_assert_uint_eq(c.max_connections, 256);
        ck_assert_uint_eq(c.max_connections_per_user, 16);
        ck_assert_uint_eq(c.max_requests_per_connection, 64);
        ck_assert_uint_eq(c.request_rate, 1000);
        ck_assert_uint_eq(c.request_burst, 1000);
        ck_assert_uint_eq(c.socket_group, GID_INVALID);
        ck_assert_ptr_null(c.read_only_socket);
        ck_assert_uint_eq(c.read_only_socket_mode, 0660);
        ck_assert_uint_eq(c.admin_group, GID_INVALID);
        ck_assert_uint_eq(c.read_only_group, GID_INVALID);
        ck_assert_uint_eq(c.idle_timeout_usec, 300 * USEC_PER_SEC);
        ck_assert_uint_eq(c.frame_timeout_usec, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(c.max_sandboxes, 4096);
        ck_assert_str_eq(c.default_parent, "sandboxcg");
        ck_assert_ptr_null(c.vcpu_patterns); /* the built-in patterns of daemon/vmm.h */

        /* config_done() leaves a zeroed Config, which it accepts again. */
        config_done(&c);
        ck_assert_ptr_null(c.socket_path);
        config_done(&c);
        config_done(NULL);
}
END_TEST

START_TEST(test_driver_names)
{
        ck_assert_str_eq(cgroup_driver_to_string(CGROUP_DRIVER_CGROUPFS), "cgroupfs");
        ck_assert_str_eq(cgroup_driver_to_string(CGROUP_DRIVER_SYSTEMD), "systemd");
        ck_assert_ptr_null(cgroup_driver_to_string(_CGROUP_DRIVER_MAX));
        ck_assert_ptr_null(cgroup_driver_to_string(_CGROUP_DRIVER_INVALID));
        for (CgroupDriverKind d = 0; d < _CGROUP_DRIVER_MAX; d++)
                ck_assert_int_eq(cgroup_driver_from_string(cgroup_driver_to_string(d)), d);
        ck_assert_int_eq(cgroup_driver_from_string("Systemd"), -EINVAL);
        ck_assert_int_eq(cgroup_driver_from_string(""), -EINVAL);
        ck_assert_int_eq(cgroup_driver_from_string(NULL), -EINVAL);

        ck_assert_str_eq(vmm_exit_policy_to_string(VMM_EXIT_KEEP), "keep");
        ck_assert_str_eq(vmm_exit_policy_to_string(VMM_EXIT_DELETE), "delete");
        ck_assert_ptr_null(vmm_exit_policy_to_string(_VMM_EXIT_MAX));
        for (VmmExitPolicy p = 0; p < _VMM_EXIT_MAX; p++)
                ck_assert_int_eq(vmm_exit_policy_from_string(vmm_exit_policy_to_string(p)), p);
        ck_assert_int_eq(vmm_exit_policy_from_string("Delete"), -EINVAL);
        ck_assert_int_eq(vmm_exit_policy_from_string(NULL), -EINVAL);
}
END_TEST

START_TEST(test_every_key)
{
        _cleanup_(config_done) Config c = {};
        Error e = {};

        ck_assert_int_eq(config_init(&c), 0);
        ck_assert_int_eq(config_parse_string(&c,
                                             "[Daemon]\n"
                                             "Socket=/run/test/test.sock\n"
                                             "SocketMode=0600\n"
                                             "SocketGroup=12345\n"
                                             "ReadOnlySocket=/run/test/ro.sock\n"
                                             "ReadOnlySocketMode=0666\n"
                                             "StateDirectory=/var/lib/test\n"
                                             "CgroupRoot=/tmp/cgroup\n"
                                             "CgroupDriver=systemd\n"
                                             "LogLevel=debug\n"
                                             "[Sandbox]\n"
                                             "DefaultCgroupParent=/kubepods.slice/sandboxes.slice\n"
                                             "VcpuThreadPattern=my-vcpu-%u\n"
                                             "[Access]\n"
                                             "AdminGroup=root\n"
                                             "ReadOnlyGroup=4294967294\n"
                                             "[Limits]\n"
                                             "MaxMessageSize=512K\n"
                                             "MaxConnections=17\n"
                                             "MaxConnectionsPerUser=3\n"
                                             "MaxRequestsPerConnection=65536\n"
                                             "RequestRate=0\n"
                                             "RequestBurst=1000000\n"
                                             "IdleTimeoutSec=0\n"
                                             "FrameTimeoutSec=2.5\n"
                                             "MaxSandboxes=100000\n",
                                             "test.conf", &e),
                         0);
        ck_assert(!error_is_set(&e));
        ck_assert_str_eq(c.socket_path, "/run/test/test.sock");
        ck_assert_uint_eq(c.socket_mode, 0600);
        ck_assert_uint_eq(c.socket_group, 12345);
        ck_assert_str_eq(c.read_only_socket, "/run/test/ro.sock");
        ck_assert_uint_eq(c.read_only_socket_mode, 0666);
        ck_assert_uint_eq(c.admin_group, 0);
        ck_assert_uint_eq(c.read_only_group, 4294967294u);
        ck_assert_uint_eq(c.max_connections_per_user, 3);
        ck_assert_uint_eq(c.max_requests_per_connection, 65536);
        ck_assert_uint_eq(c.request_rate, 0);
        ck_assert_uint_eq(c.request_burst, 1000000);
        ck_assert_str_eq(c.state_dir, "/var/lib/test");
        ck_assert_str_eq(c.cgroup_root, "/tmp/cgroup");
        ck_assert_int_eq(c.driver, CGROUP_DRIVER_SYSTEMD);
        ck_assert_int_eq(c.log_level, LOG_DEBUG);
        ck_assert_str_eq(c.default_parent, "kubepods.slice/sandboxes.slice");
        assert_strv_eq(c.vcpu_patterns, (const char *const[]){ "my-vcpu-%u", NULL });
        ck_assert_uint_eq(c.max_message_size, 512 * 1024);
        ck_assert_uint_eq(c.max_connections, 17);
        ck_assert_uint_eq(c.idle_timeout_usec, 0);
        ck_assert_uint_eq(c.frame_timeout_usec, 2500000);
        ck_assert_uint_eq(c.max_sandboxes, 100000);
}
END_TEST

/* A second parse only changes what it names. */
START_TEST(test_layering)
{
        _cleanup_(config_done) Config c = {};
        Error e = {};

        ck_assert_int_eq(config_init(&c), 0);
        ck_assert_int_eq(config_parse_string(&c, "[Daemon]\nLogLevel=err\nSocket=/run/a\n", "one", &e), 0);
        ck_assert_int_eq(config_parse_string(&c, "[Limits]\nMaxConnections=5\n[Daemon]\nSocket=/run/b\n",
                                             "two", &e),
                         0);
        ck_assert_int_eq(c.log_level, LOG_ERR);
        ck_assert_uint_eq(c.max_connections, 5);
        ck_assert_str_eq(c.socket_path, "/run/b");
        ck_assert_str_eq(c.state_dir, STATE_DIR_DEFAULT);
}
END_TEST

START_TEST(test_paths)
{
        _cleanup_(config_done) Config c = {};

        parse_one(&c, "Daemon", "Socket", "//run//sandboxcg/./x.sock/");
        ck_assert_str_eq(c.socket_path, "/run/sandboxcg/x.sock");
        parse_one(&c, "Daemon", "StateDirectory", "/var/lib/.../a..b/.c");
        ck_assert_str_eq(c.state_dir, "/var/lib/.../a..b/.c");
        parse_one(&c, "Daemon", "CgroupRoot", "/sys/fs/cgroup/");
        ck_assert_str_eq(c.cgroup_root, "/sys/fs/cgroup");
        /* The longest path a sockaddr_un holds: 107 bytes. */
        parse_one(&c, "Daemon", "Socket",
                  "/run/0123456789012345678901234567890123456789012345678901234"
                  "56789012345678901234567890123456789012345678901");
        ck_assert_uint_eq(strlen(c.socket_path), 107);
}
END_TEST

START_TEST(test_modes_drivers_levels)
{
        static const struct {
                const char *value;
                int level;
        } levels[] = {
                { "emerg", LOG_EMERG },   { "alert", LOG_ALERT },   { "crit", LOG_CRIT },
                { "err", LOG_ERR },       { "error", LOG_ERR },     { "warning", LOG_WARNING },
                { "notice", LOG_NOTICE }, { "info", LOG_INFO },     { "debug", LOG_DEBUG },
                { "0", LOG_EMERG },       { "3", LOG_ERR },         { "7", LOG_DEBUG },
        };
        _cleanup_(config_done) Config c = {};

        parse_one(&c, "Daemon", "SocketMode", "0600");
        ck_assert_uint_eq(c.socket_mode, 0600);
        parse_one(&c, "Daemon", "SocketMode", "666");
        ck_assert_uint_eq(c.socket_mode, 0666);
        parse_one(&c, "Daemon", "SocketMode", "0777");
        ck_assert_uint_eq(c.socket_mode, 0777);
        parse_one(&c, "Daemon", "SocketMode", "0");
        ck_assert_uint_eq(c.socket_mode, 0);

        parse_one(&c, "Daemon", "CgroupDriver", "systemd");
        ck_assert_int_eq(c.driver, CGROUP_DRIVER_SYSTEMD);
        parse_one(&c, "Daemon", "CgroupDriver", "cgroupfs");
        ck_assert_int_eq(c.driver, CGROUP_DRIVER_CGROUPFS);
        ck_assert_int_eq(c.on_vmm_exit, VMM_EXIT_KEEP);
        parse_one(&c, "Sandbox", "OnVmmExit", "delete");
        ck_assert_int_eq(c.on_vmm_exit, VMM_EXIT_DELETE);
        parse_one(&c, "Sandbox", "OnVmmExit", "keep");
        ck_assert_int_eq(c.on_vmm_exit, VMM_EXIT_KEEP);

        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                parse_one(&c, "Daemon", "LogLevel", levels[i].value);
                ck_assert_int_eq(c.log_level, levels[i].level);
        }
}
END_TEST

START_TEST(test_numbers)
{
        static const struct {
                const char *value;
                uint32_t bytes;
        } sizes[] = {
                { "4194304", 4194304 }, { "4M", 4194304 }, { "512K", 524288 }, { "1", 1 },
                { "1B", 1 },            { "0001K", 1024 }, { "4096K", 4194304 },
        };
        static const struct {
                const char *value;
                uint64_t usec;
        } spans[] = {
                { "0", 0 },
                { "10", 10 * USEC_PER_SEC },
                { "1.5", 1500000 },
                { "1.5s", 1500000 },
                { "0.000001", 1 },
                { "0.0000019", 1 }, /* below 1 µs: dropped */
                { "250ms", 250000 },
                { "1.25ms", 1250 },
                { "100us", 100 },
                { "2min", 120 * USEC_PER_SEC },
                { "1.5min", 90 * USEC_PER_SEC },
                { "1h", 3600 * USEC_PER_SEC },
                { "18446744073709", UINT64_C(18446744073709) * USEC_PER_SEC },
        };
        _cleanup_(config_done) Config c = {};

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                parse_one(&c, "Limits", "MaxMessageSize", sizes[i].value);
                ck_assert_uint_eq(c.max_message_size, sizes[i].bytes);
        }
        for (size_t i = 0; i < ELEMENTSOF(spans); i++) {
                parse_one(&c, "Limits", "IdleTimeoutSec", spans[i].value);
                ck_assert_uint_eq(c.idle_timeout_usec, spans[i].usec);
                parse_one(&c, "Limits", "FrameTimeoutSec", spans[i].value);
                ck_assert_uint_eq(c.frame_timeout_usec, spans[i].usec);
        }

        parse_one(&c, "Limits", "MaxConnections", "1");
        ck_assert_uint_eq(c.max_connections, 1);
        parse_one(&c, "Limits", "MaxConnections", "4294967295");
        ck_assert_uint_eq(c.max_connections, 4294967295u);
        parse_one(&c, "Limits", "MaxSandboxes", "010");
        ck_assert_uint_eq(c.max_sandboxes, 10);
}
END_TEST

static const struct {
        const char *section;
        const char *key;
        const char *value;
} bad_values[] = {
        { "Daemon", "Socket", "run/sandboxcg.sock" },
        { "Daemon", "Socket", "/run/../etc/x.sock" },
        { "Daemon", "Socket", "/run/sandboxcg/.." },
        { "Daemon", "Socket", "/" },
        { "Daemon", "Socket", "//./" },
        { "Daemon", "Socket",
          "/run/0123456789012345678901234567890123456789012345678901234"
          "567890123456789012345678901234567890123456789012" }, /* 108 bytes */
        { "Daemon", "SocketMode", "0778" },
        { "Daemon", "SocketMode", "1000" },
        { "Daemon", "SocketMode", "8" },
        { "Daemon", "SocketMode", "rw-rw----" },
        { "Daemon", "SocketMode", "-660" },
        { "Daemon", "SocketMode", "+660" },
        { "Daemon", "SocketMode", "0x1ff" },
        { "Daemon", "StateDirectory", "sandboxes" },
        { "Daemon", "StateDirectory", "/var/lib/../../run" },
        { "Daemon", "CgroupRoot", "~/cgroup" },
        { "Daemon", "CgroupDriver", "cgroupv2" },
        { "Sandbox", "OnVmmExit", "remove" },
        { "Sandbox", "OnVmmExit", "" },
        { "Daemon", "CgroupDriver", "systemd,cgroupfs" },
        { "Daemon", "LogLevel", "verbose" },
        { "Daemon", "LogLevel", "8" },
        { "Daemon", "LogLevel", "-1" },
        { "Daemon", "LogLevel", "07" },
        { "Sandbox", "DefaultCgroupParent", "../x" },
        { "Sandbox", "DefaultCgroupParent", "/" },
        { "Sandbox", "DefaultCgroupParent", "a//b" },
        { "Sandbox", "DefaultCgroupParent", "a/./b" },
        { "Sandbox", "DefaultCgroupParent", "a\\b" },
        { "Sandbox", "DefaultCgroupParent", "kube pods" },
        { "Sandbox", "VcpuThreadPattern", "vcpu%d" },
        { "Sandbox", "VcpuThreadPattern", "%u%u" },
        { "Sandbox", "VcpuThreadPattern", "vcpu%u-%u" },
        { "Sandbox", "VcpuThreadPattern", "100%" },
        { "Sandbox", "VcpuThreadPattern", "%s" },
        { "Limits", "MaxMessageSize", "0" },
        { "Limits", "MaxMessageSize", "0K" },
        { "Limits", "MaxMessageSize", "4194305" },
        { "Limits", "MaxMessageSize", "5M" },
        { "Limits", "MaxMessageSize", "1G" },
        { "Limits", "MaxMessageSize", "4X" },
        { "Limits", "MaxMessageSize", "4MiB" },
        { "Limits", "MaxMessageSize", "1.5M" },
        { "Limits", "MaxMessageSize", "-1" },
        { "Limits", "MaxMessageSize", "99999999999999999999" },
        { "Limits", "MaxConnections", "0" },
        { "Limits", "MaxConnections", "-1" },
        { "Limits", "MaxConnections", "+5" },
        { "Limits", "MaxConnections", "5x" },
        { "Limits", "MaxConnections", "0x10" },
        { "Limits", "MaxConnections", "1e3" },
        { "Limits", "MaxConnections", "4294967296" },
        { "Limits", "MaxConnections", "99999999999999999999" },
        { "Limits", "MaxSandboxes", "many" },
        { "Limits", "MaxConnectionsPerUser", "0" },
        { "Limits", "MaxRequestsPerConnection", "0" },
        { "Limits", "MaxRequestsPerConnection", "65537" },
        { "Limits", "RequestRate", "1000001" },
        { "Limits", "RequestRate", "-1" },
        { "Limits", "RequestBurst", "0" },
        { "Daemon", "SocketGroup", "4294967295" },
        { "Daemon", "SocketGroup", "99999999999999999999" },
        { "Daemon", "SocketGroup", "no-such-group-sandboxcg-test" },
        { "Daemon", "ReadOnlySocket", "relative.sock" },
        { "Daemon", "ReadOnlySocketMode", "0778" },
        { "Access", "AdminGroup", "-1" },
        { "Access", "AdminGroup", "no-such-group-sandboxcg-test" },
        { "Access", "ReadOnlyGroup", "+5" },
        { "Limits", "IdleTimeoutSec", "abc" },
        { "Limits", "IdleTimeoutSec", "-1" },
        { "Limits", "IdleTimeoutSec", "1." },
        { "Limits", "IdleTimeoutSec", ".5" },
        { "Limits", "IdleTimeoutSec", "1.5.3" },
        { "Limits", "IdleTimeoutSec", "5days" },
        { "Limits", "IdleTimeoutSec", "99999999999999999999" },
        { "Limits", "IdleTimeoutSec", "18446744073710" }, /* µs overflow */
        { "Limits", "FrameTimeoutSec", "1e3" },
        { "Limits", "FrameTimeoutSec", "10 s" },
};

START_TEST(test_bad_value)
{
        char text[512], assignment[256];
        const char *section = bad_values[_i].section, *key = bad_values[_i].key;
        const char *value = bad_values[_i].value;

        /* On line 4, after a valid assignment: that one must not stick either. */
        ck_assert_int_lt(snprintf(text, sizeof text, "[Limits]\nMaxSandboxes=1\n[%s]\n%s=%s\n", section, key,
                                  value),
                         (int) sizeof text);
        ck_assert_int_lt(snprintf(assignment, sizeof assignment, "[%s] %s=%s", section, key, value),
                         (int) sizeof assignment);
        assert_rejected(text, "test.conf:4: ", assignment, NULL);
}
END_TEST

START_TEST(test_sandbox_section)
{
        _cleanup_(config_done) Config c = {};
        Error e = {};

        parse_one(&c, "Sandbox", "DefaultCgroupParent", "/kubepods");
        ck_assert_str_eq(c.default_parent, "kubepods");
        parse_one(&c, "Sandbox", "DefaultCgroupParent", "kubepods");
        ck_assert_str_eq(c.default_parent, "kubepods");
        parse_one(&c, "Sandbox", "DefaultCgroupParent",
                  "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice");
        ck_assert_str_eq(c.default_parent,
                         "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice");
        ck_assert_ptr_null(c.vcpu_patterns);

        parse_one(&c, "Sandbox", "VcpuThreadPattern", "CPU %u/KVM");
        assert_strv_eq(c.vcpu_patterns, (const char *const[]){ "CPU %u/KVM", NULL });
        ck_assert_str_eq(c.default_parent, "sandboxcg");

        /* Twice: exactly those two, in order (the defaults are replaced, not
         * added to). */
        config_done(&c);
        ck_assert_int_eq(config_init(&c), 0);
        ck_assert_int_eq(config_parse_string(&c,
                                             "[Sandbox]\n"
                                             "VcpuThreadPattern=vm-vcpu-%u\n"
                                             "DefaultCgroupParent=/pods\n"
                                             "VcpuThreadPattern=100%% busy %u\n",
                                             "test.conf", &e),
                         0);
        ck_assert(!error_is_set(&e));
        assert_strv_eq(c.vcpu_patterns, (const char *const[]){ "vm-vcpu-%u", "100%% busy %u", NULL });
        ck_assert_str_eq(c.default_parent, "pods");

        /* A later parse that does not name them keeps them; one that does
         * replaces them (its first pattern starts the list over). */
        ck_assert_int_eq(config_parse_string(&c, "[Limits]\nMaxSandboxes=3\n", "two", &e), 0);
        assert_strv_eq(c.vcpu_patterns, (const char *const[]){ "vm-vcpu-%u", "100%% busy %u", NULL });
        ck_assert_int_eq(config_parse_string(&c, "[Sandbox]\nVcpuThreadPattern=only\n", "three", &e), 0);
        assert_strv_eq(c.vcpu_patterns, (const char *const[]){ "only", NULL });
        ck_assert(!error_is_set(&e));
}
END_TEST

/* AllowedCgroupParents=: repeatable, canonical, the first of a text replaces
 * the list, an empty one empties it (any parent again). */
START_TEST(test_allowed_parents)
{
        _cleanup_(config_done) Config c = {};
        Error e = {};

        ck_assert_int_eq(config_init(&c), 0);
        ck_assert_ptr_null(c.allowed_parents);
        ck_assert_int_eq(config_parse_string(&c,
                                             "[Sandbox]\n"
                                             "AllowedCgroupParents=/kubepods\n"
                                             "AllowedCgroupParents=sandboxcg/vms\n",
                                             "one", &e),
                         0);
        assert_strv_eq(c.allowed_parents, (const char *const[]){ "kubepods", "sandboxcg/vms", NULL });
        ck_assert_int_eq(config_parse_string(&c, "[Sandbox]\nAllowedCgroupParents=pods\n", "two", &e), 0);
        assert_strv_eq(c.allowed_parents, (const char *const[]){ "pods", NULL });
        ck_assert_int_eq(config_parse_string(&c, "[Sandbox]\nAllowedCgroupParents=\n", "three", &e), 0);
        ck_assert_ptr_null(c.allowed_parents);
        ck_assert(!error_is_set(&e));

        assert_rejected("[Sandbox]\nAllowedCgroupParents=../x\n", "AllowedCgroupParents", NULL);
        assert_rejected("[Sandbox]\nAllowedCgroupParents=a//b\n", "AllowedCgroupParents", NULL);

        ck_assert(cgroup_parent_is_beneath("kubepods", "kubepods"));
        ck_assert(cgroup_parent_is_beneath("kubepods/burstable", "kubepods"));
        ck_assert(!cgroup_parent_is_beneath("kubepods-x", "kubepods"));
        ck_assert(!cgroup_parent_is_beneath("kube", "kubepods"));
        ck_assert(!cgroup_parent_is_beneath("sandboxcg", "sandboxcg/vms"));
}
END_TEST

START_TEST(test_attach_descendants_only)
{
        _cleanup_(config_done) Config c = {};

        ck_assert_int_eq(config_init(&c), 0);
        ck_assert(c.attach_descendants_only);
        const char *const no[] = { "no", "false", "0", "off" }, *const yes[] = { "yes", "true", "1", "on" };
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                parse_one(&c, "Access", "AttachDescendantsOnly", no[i]);
                ck_assert(!c.attach_descendants_only);
                parse_one(&c, "Access", "AttachDescendantsOnly", yes[i]);
                ck_assert(c.attach_descendants_only);
        }
        assert_rejected("[Access]\nAttachDescendantsOnly=maybe\n", "AttachDescendantsOnly", NULL);
}
END_TEST

/* At most 64 patterns. */
START_TEST(test_vcpu_pattern_limit)
{
        _cleanup_(config_done) Config c = {};
        char text[64 * 32 + 64], *q = text;
        Error e = {};

        ck_assert_int_eq(config_init(&c), 0);
        q += sprintf(q, "[Sandbox]\n");
        for (unsigned i = 0; i < 64; i++)
                q += sprintf(q, "VcpuThreadPattern=t%u-%%u\n", i);
        ck_assert_int_eq(config_parse_string(&c, text, "test.conf", &e), 0);
        ck_assert_uint_eq(strv_length(c.vcpu_patterns), 64);
        ck_assert_str_eq(c.vcpu_patterns[0], "t0-%u");
        ck_assert_str_eq(c.vcpu_patterns[63], "t63-%u");

        (void) sprintf(q, "VcpuThreadPattern=t64-%%u\n");
        assert_rejected(text, "test.conf:66: ", "[Sandbox] VcpuThreadPattern=t64-%u", "at most 64", NULL);
}
END_TEST

/* What the messages of the [Sandbox] keys say. */
START_TEST(test_sandbox_section_errors)
{
        assert_rejected("[Sandbox]\nDefaultCgroupParent=../x\n", "test.conf:2: ",
                        "[Sandbox] DefaultCgroupParent=../x: ", "\"..\"", NULL);
        assert_rejected("# parent\n[Sandbox]\n\nDefaultCgroupParent=a//b\n", "test.conf:4: ",
                        "empty path component", NULL);
        assert_rejected("[Sandbox]\nVcpuThreadPattern=vcpu%d\n", "test.conf:2: ",
                        "[Sandbox] VcpuThreadPattern=vcpu%d: ", "at most one %u", NULL);
        /* A bad pattern after good ones: none of them stick. */
        assert_rejected("[Sandbox]\nVcpuThreadPattern=a%u\nVcpuThreadPattern=%u%u\n", "test.conf:3: ", NULL);
        assert_rejected("[Sandbox]\nVcpuThreadPattern=\n", "test.conf:2: ", "empty value", NULL);
        assert_rejected("[Sandbox]\nDefaultCgroupParent=\n", "test.conf:2: ", "empty value", NULL);
        assert_rejected("[Sandbox]\nCgroupParent=x\n", "unknown key", NULL);
}
END_TEST

START_TEST(test_empty_value)
{
        assert_rejected("[Daemon]\nSocket=\n", "test.conf:2: ", "[Daemon] Socket=", "empty value", NULL);
        assert_rejected("[Limits]\nMaxConnections=   \n", "test.conf:2: ", "MaxConnections", "empty value",
                        NULL);
}
END_TEST

/* Groups: a name resolved when parsed, or a gid that needs no name; an
 * empty value resets to none, as it does for ReadOnlySocket=. */
START_TEST(test_groups_and_optional_values)
{
        _cleanup_(config_done) Config c = {};
        Error e = {};

        parse_one(&c, "Access", "AdminGroup", "root");
        ck_assert_uint_eq(c.admin_group, 0);
        parse_one(&c, "Access", "ReadOnlyGroup", "nogroup");
        ck_assert_uint_eq(c.read_only_group, 65534);
        parse_one(&c, "Daemon", "SocketGroup", "0");
        ck_assert_uint_eq(c.socket_group, 0);
        parse_one(&c, "Daemon", "SocketGroup", "987654");
        ck_assert_uint_eq(c.socket_group, 987654);

        config_done(&c);
        ck_assert_int_eq(config_init(&c), 0);
        ck_assert_int_eq(config_parse_string(&c,
                                             "[Access]\nAdminGroup=root\nReadOnlyGroup=5\n"
                                             "[Daemon]\nReadOnlySocket=/run/x/ro.sock\nSocketGroup=7\n",
                                             "one", &e),
                         0);
        ck_assert_uint_eq(c.admin_group, 0);
        ck_assert_str_eq(c.read_only_socket, "/run/x/ro.sock");
        ck_assert_int_eq(config_parse_string(&c,
                                             "[Access]\nAdminGroup=\nReadOnlyGroup=  \n"
                                             "[Daemon]\nReadOnlySocket=\nSocketGroup=\n",
                                             "two", &e),
                         0);
        ck_assert(!error_is_set(&e));
        assert_is_default(&c);

        assert_rejected("[Access]\nAdminGroup=no-such-group-sandboxcg-test\n", "test.conf:2: ",
                        "[Access] AdminGroup=no-such-group-sandboxcg-test", "no such group", NULL);
        assert_rejected("[Access]\nReadOnlyGroup=4294967295\n", "gid must be between 0 and 4294967294", NULL);
        /* Empty is a reset only where none is a value. */
        assert_rejected("[Daemon]\nReadOnlySocketMode=\n", "empty value", NULL);
        assert_rejected("[Limits]\nRequestRate=\n", "empty value", NULL);
}
END_TEST

/* The strings of a Config survive a failed parse that had replaced them in
 * the copy: same pointers, same contents. */
START_TEST(test_failure_keeps_config)
{
        _cleanup_(config_done) Config c = {};
        char *socket_path, *state_dir, *default_parent, **vcpu_patterns;
        Error e = {};

        ck_assert_int_eq(config_init(&c), 0);
        ck_assert_int_eq(config_parse_string(&c, "[Daemon]\nStateDirectory=/run/x\n", "one", &e), 0);
        ck_assert_int_eq(config_parse_string(&c, "[Sandbox]\nVcpuThreadPattern=v%u\nDefaultCgroupParent=p\n",
                                             "one", &e),
                         0);
        socket_path = c.socket_path;
        state_dir = c.state_dir;
        default_parent = c.default_parent;
        vcpu_patterns = c.vcpu_patterns;

        ck_assert_int_eq(config_parse_string(&c,
                                             "[Daemon]\nSocket=/run/y.sock\nStateDirectory=/run/z\n"
                                             "CgroupDriver=systemd\n[Sandbox]\nVcpuThreadPattern=w%u\n"
                                             "DefaultCgroupParent=q\n[Limits]\nMaxConnections=nope\n",
                                             "two", &e),
                         -EINVAL);
        ck_assert_str_eq(e.message, "two:9: [Limits] MaxConnections=nope: not an unsigned integer");
        ck_assert_ptr_eq(c.socket_path, socket_path);
        ck_assert_ptr_eq(c.state_dir, state_dir);
        ck_assert_str_eq(c.socket_path, SOCKET_PATH_DEFAULT);
        ck_assert_str_eq(c.state_dir, "/run/x");
        ck_assert_int_eq(c.driver, CGROUP_DRIVER_CGROUPFS);
        ck_assert_ptr_eq(c.default_parent, default_parent);
        ck_assert_str_eq(c.default_parent, "p");
        ck_assert_ptr_eq(c.vcpu_patterns, vcpu_patterns);
        assert_strv_eq(c.vcpu_patterns, (const char *const[]){ "v%u", NULL });
}
END_TEST

/* The first error wins, and a caller's Error that is already set is kept. */
START_TEST(test_error_reporting)
{
        _cleanup_(config_done) Config c = {};
        Error e = {};

        ck_assert_int_eq(config_init(&c), 0);
        ck_assert_int_eq(config_parse_string(&c, "[Limits]\nMaxConnections=x\nMaxSandboxes=y\n", NULL, &e),
                         -EINVAL);
        ck_assert_str_eq(e.message, "(string):2: [Limits] MaxConnections=x: not an unsigned integer");

        ck_assert_int_eq(config_parse_string(&c, "[Limits]\nMaxSandboxes=y\n", "again", &e), -EINVAL);
        ck_assert_str_eq(e.message, "(string):2: [Limits] MaxConnections=x: not an unsigned integer");

        /* A NULL Error is allowed. */
        ck_assert_int_eq(config_parse_string(&c, "[Limits]\nMaxSandboxes=y\n", "again", NULL), -EINVAL);
        assert_is_default(&c);
}
END_TEST

START_TEST(test_unknown)
{
        assert_rejected("[Daemon]\nSockets=/run/x\n", "test.conf:2: ", "[Daemon] Sockets=/run/x",
                        "unknown key", NULL);
        assert_rejected("# comment\n[Deamon]\nSocket=/run/x\n", "test.conf:3: ", "[Deamon] Socket=/run/x",
                        "unknown section", NULL);
        /* Keys belong to their section; names are case-sensitive. */
        assert_rejected("[Limits]\nSocket=/run/x\n", "test.conf:2: ", "unknown key", NULL);
        assert_rejected("[daemon]\nSocket=/run/x\n", "unknown section", NULL);
        assert_rejected("[Daemon]\nsocket=/run/x\n", "unknown key", NULL);
        assert_rejected("Socket=/run/x\n", "test.conf:1: ", "Socket=/run/x", "outside of a section", NULL);
}
END_TEST

START_TEST(test_syntax)
{
        assert_rejected("[Daemon]\nSocket\n", "test.conf:2: syntax error", NULL);
        assert_rejected("[Daemon\nSocket=/run/x\n", "test.conf:1: syntax error", NULL);
        /* Whichever comes first is reported. */
        assert_rejected("[Daemon]\nbogus\n[Limits]\nMaxConnections=x\n", "test.conf:2: syntax error", NULL);
        assert_rejected("[Limits]\nMaxConnections=x\nbogus\n", "test.conf:2: [Limits] MaxConnections=x",
                        NULL);
}
END_TEST

START_TEST(test_long_line)
{
        char text[512], value[301];

        memset(value, 'a', sizeof value - 1);
        value[sizeof value - 1] = '\0';
        ck_assert_int_lt(snprintf(text, sizeof text, "[Daemon]\nLogLevel=debug\n# %s\n", value),
                         (int) sizeof text);
        assert_rejected(text, "test.conf:3: line too long", NULL);
}
END_TEST

START_TEST(test_comments_and_layout)
{
        _cleanup_(config_done) Config c = {};
        Error e = {};

        ck_assert_int_eq(config_init(&c), 0);
        ck_assert_int_eq(config_parse_string(&c,
                                             "# hash comment\n"
                                             "; semicolon comment\n"
                                             "\n"
                                             "   # indented comment\n"
                                             "[Daemon]\r\n"
                                             "#Socket=/run/commented.sock\n"
                                             ";LogLevel=emerg\n"
                                             "Socket = /run/spaced.sock  \n"
                                             "\tLogLevel=notice\n" /* indented: a key, not a continuation */
                                             "CgroupRoot=/run/a#b\n"
                                             "\n"
                                             "[Limits]\n"
                                             "MaxConnections=5\n"
                                             "MaxConnections=6\n" /* the last one wins */
                                             "[Daemon]\n"
                                             "CgroupDriver=systemd\r\n"
                                             "[Limits]\n"
                                             "MaxSandboxes=7", /* no final newline */
                                             "test.conf", &e),
                         0);
        ck_assert_str_eq(c.socket_path, "/run/spaced.sock");
        ck_assert_int_eq(c.log_level, LOG_NOTICE);
        ck_assert_str_eq(c.cgroup_root, "/run/a#b");
        ck_assert_uint_eq(c.max_connections, 6);
        ck_assert_int_eq(c.driver, CGROUP_DRIVER_SYSTEMD);
        ck_assert_uint_eq(c.max_sandboxes, 7);

        /* Nothing at all, or only comments, changes nothing. */
        config_done(&c);
        ck_assert_int_eq(config_init(&c), 0);
        ck_assert_int_eq(config_parse_string(&c, "", "empty", &e), 0);
        ck_assert_int_eq(config_parse_string(&c, "# nothing\n\n[Daemon]\n[Limits]\n", "comments", &e), 0);
        ck_assert(!error_is_set(&e));
        assert_is_default(&c);
}
END_TEST

START_TEST(test_file)
{
        static const char text[] = "[Daemon]\nSocket=/run/file.sock\n[Limits]\nMaxConnections=3\n";
        _cleanup_(config_done) Config c = {};
        const char *path;
        Error e = {};

        ck_assert_int_eq(config_init(&c), 0);
        path = write_file("good.conf", text, sizeof text - 1);
        ck_assert_int_eq(config_parse_file(&c, path, false, &e), 0);
        ck_assert(!error_is_set(&e));
        ck_assert_str_eq(c.socket_path, "/run/file.sock");
        ck_assert_uint_eq(c.max_connections, 3);
}
END_TEST

START_TEST(test_file_bad_value)
{
        static const char text[] = "[Daemon]\n\nLogLevel=loud\n";
        _cleanup_(config_done) Config c = {};
        char expected[PATH_MAX + 64];
        const char *path;
        Error e = {};

        ck_assert_int_eq(config_init(&c), 0);
        path = write_file("bad.conf", text, sizeof text - 1);
        ck_assert_int_eq(config_parse_file(&c, path, true, &e), -EINVAL);
        (void) snprintf(expected, sizeof expected, "%s:3: [Daemon] LogLevel=loud: ", path);
        ck_assert_msg(strncmp(e.message, expected, strlen(expected)) == 0, "%s", e.message);
        assert_is_default(&c);
}
END_TEST

START_TEST(test_file_missing)
{
        _cleanup_(config_done) Config c = {};
        char path[PATH_MAX + 32];
        Error e = {};

        ck_assert_int_eq(config_init(&c), 0);
        (void) snprintf(path, sizeof path, "%s/missing.conf", tmpdir);

        ck_assert_int_eq(config_parse_file(&c, path, true, &e), 0);
        ck_assert(!error_is_set(&e));
        assert_is_default(&c);

        ck_assert_int_eq(config_parse_file(&c, path, false, &e), -ENOENT);
        ck_assert_int_eq(e.code, GRPC_NOT_FOUND);
        ck_assert_int_eq(e.errnum, ENOENT);
        ck_assert_msg(strstr(e.message, path), "%s", e.message);
        assert_is_default(&c);
}
END_TEST

/* missing_ok covers a missing file only: other errors are errors. */
START_TEST(test_file_errors)
{
        static const char nul[] = "[Daemon]\nLogLevel=debug\0\n[Limits]\n";
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *big = NULL;
        char path[PATH_MAX + 32];
        const char *file;
        Error e = {};

        ck_assert_int_eq(config_init(&c), 0);

        (void) snprintf(path, sizeof path, "%s/dir.conf", tmpdir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        ck_assert_int_eq(config_parse_file(&c, path, true, &e), -EISDIR);
        ck_assert_int_eq(e.errnum, EISDIR);
        ck_assert_msg(strstr(e.message, path), "%s", e.message);

        file = write_file("plain", "", 0);
        (void) snprintf(path, sizeof path, "%s/below.conf", file);
        e = (Error){};
        ck_assert_int_eq(config_parse_file(&c, path, true, &e), -ENOTDIR);

        file = write_file("nul.conf", nul, sizeof nul - 1);
        e = (Error){};
        ck_assert_int_eq(config_parse_file(&c, file, false, &e), -EINVAL);
        ck_assert_msg(strstr(e.message, "NUL"), "%s", e.message);

        /* Larger than any configuration file has a reason to be: 1 MiB. */
        big = malloc(2 * 1024 * 1024);
        ck_assert_ptr_nonnull(big);
        memset(big, '#', 2 * 1024 * 1024);
        file = write_file("big.conf", big, 2 * 1024 * 1024);
        e = (Error){};
        ck_assert_int_eq(config_parse_file(&c, file, false, &e), -EFBIG);

        assert_is_default(&c);
}
END_TEST

/* contrib/sandboxcgd.conf lists every key, commented out, at its default:
 * as shipped it changes nothing, and with every "#Key=" uncommented it still
 * changes nothing. */
START_TEST(test_example_file)
{
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *text = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        const char *srcdir = getenv("top_srcdir");
        char path[PATH_MAX];
        unsigned keys = 0;
        Error e = {};
        long size;

        if (!srcdir) {
                fprintf(stderr, "test_example_file: $top_srcdir not set, skipping\n");
                return;
        }
        ck_assert_int_lt(snprintf(path, sizeof path, "%s/contrib/sandboxcgd.conf", srcdir),
                         (int) sizeof path);

        ck_assert_int_eq(config_init(&c), 0);
        ck_assert_msg(config_parse_file(&c, path, false, &e) == 0, "%s", e.message);
        assert_is_default(&c);

        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
        size = ftell(f);
        ck_assert_int_gt(size, 0);
        rewind(f);
        text = calloc(1, (size_t) size + 1);
        ck_assert_ptr_nonnull(text);
        ck_assert_uint_eq(fread(text, 1, (size_t) size, f), (size_t) size);

        for (char *line = text, *eol; line; line = (eol = strchr(line, '\n')) ? eol + 1 : NULL)
                if (line[0] == '#' && line[1] >= 'A' && line[1] <= 'Z') {
                        line[0] = ' ';
                        keys++;
                }
        ck_assert_uint_eq(keys, 28);
        ck_assert_msg(config_parse_string(&c, text, path, &e) == 0, "%s", e.message);
        /* The patterns it lists are the built-in ones (NULL in a Config that
         * names none). */
        assert_strv_eq(c.vcpu_patterns, (const char *const[]) VCPU_PATTERNS_DEFAULT);
        c.vcpu_patterns = strv_free(c.vcpu_patterns);
        assert_is_default(&c);
}
END_TEST

static Suite *config_suite(void)
{
        Suite *s = suite_create("config");
        TCase *tc;

        tc = tcase_create("parse");
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_driver_names);
        tcase_add_test(tc, test_every_key);
        tcase_add_test(tc, test_layering);
        tcase_add_test(tc, test_paths);
        tcase_add_test(tc, test_modes_drivers_levels);
        tcase_add_test(tc, test_numbers);
        tcase_add_loop_test(tc, test_bad_value, 0, (int) ELEMENTSOF(bad_values));
        tcase_add_test(tc, test_sandbox_section);
        tcase_add_test(tc, test_vcpu_pattern_limit);
        tcase_add_test(tc, test_allowed_parents);
        tcase_add_test(tc, test_attach_descendants_only);
        tcase_add_test(tc, test_sandbox_section_errors);
        tcase_add_test(tc, test_empty_value);
        tcase_add_test(tc, test_groups_and_optional_values);
        tcase_add_test(tc, test_failure_keeps_config);
        tcase_add_test(tc, test_error_reporting);
        tcase_add_test(tc, test_unknown);
        tcase_add_test(tc, test_syntax);
        tcase_add_test(tc, test_long_line);
        tcase_add_test(tc, test_comments_and_layout);
        suite_add_tcase(s, tc);

        tc = tcase_create("file");
        tcase_add_unchecked_fixture(tc, tmpdir_setup, tmpdir_teardown);
        tcase_add_test(tc, test_file);
        tcase_add_test(tc, test_file_bad_value);
        tcase_add_test(tc, test_file_missing);
        tcase_add_test(tc, test_file_errors);
        tcase_add_test(tc, test_example_file);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(config_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
