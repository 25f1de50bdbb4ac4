/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "common/strv.h"
#include "daemon/conf.h"
#include "daemon/log.h" /* log_level_from_string() only: this module does not log */
#include "daemon/names.h"
#include "daemon/vmm.h"

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MINUTE (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (60 * USEC_PER_MINUTE)

/* A configuration file is a handful of lines; refuse to slurp anything big. */
#define CONFIG_FILE_SIZE_MAX (1024 * 1024)

#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1)

static const char *const cgroup_driver_table[_CGROUP_DRIVER_MAX] = {
        [CGROUP_DRIVER_CGROUPFS] = "cgroupfs",
        [CGROUP_DRIVER_SYSTEMD] = "systemd",
};

const char *cgroup_driver_to_string(CgroupDriverKind d)
{
        if (d < 0 || d >= _CGROUP_DRIVER_MAX)
                return NULL;
        return cgroup_driver_table[d];
}

/* The index of s in a table of n names, -EINVAL if it is not there. */
static int table_lookup(const char *const *table, size_t n, const char *s)
{
        for (size_t i = 0; s && i < n; i++)
                if (streq(s, table[i]))
                        return (int) i;
        return -EINVAL;
}

CgroupDriverKind cgroup_driver_from_string(const char *s)
{
        return (CgroupDriverKind) table_lookup(cgroup_driver_table, ELEMENTSOF(cgroup_driver_table), s);
}

static const char *const vmm_exit_policy_table[_VMM_EXIT_MAX] = {
        [VMM_EXIT_KEEP] = "keep",
        [VMM_EXIT_DELETE] = "delete",
};

const char *vmm_exit_policy_to_string(VmmExitPolicy p)
{
        if (p < 0 || p >= _VMM_EXIT_MAX)
                return NULL;
        return vmm_exit_policy_table[p];
}

VmmExitPolicy vmm_exit_policy_from_string(const char *s)
{
        return (VmmExitPolicy) table_lookup(vmm_exit_policy_table, ELEMENTSOF(vmm_exit_policy_table), s);
}

int config_init(Config *c)
{
        *c = (Config){
                .socket_path = strdup(SOCKET_PATH_DEFAULT),
                .socket_mode = 0660,
                .socket_group = GID_INVALID,
                .read_only_socket_mode = 0660,
                .admin_group = GID_INVALID,
                .read_only_group = GID_INVALID,
                .state_dir = strdup(STATE_DIR_DEFAULT),
                .cgroup_root = strdup(CGROUP_ROOT_DEFAULT),
                .default_parent = strdup(CGROUP_PARENT_DEFAULT),
                .driver = CGROUP_DRIVER_CGROUPFS,
                .attach_descendants_only = true,
                .log_level = LOG_INFO,
                .max_message_size = TTRPC_MESSAGE_LENGTH_MAX,
                .max_connections = 256,
                .max_connections_per_user = 16,
                .max_requests_per_connection = 64,
                .request_rate = 1000,
                .request_burst = 1000,
                .idle_timeout_usec = 300 * USEC_PER_SEC,
                .frame_timeout_usec = 10 * USEC_PER_SEC,
                .max_sandboxes = 4096,
        };
        if (!c->socket_path || !c->state_dir || !c->cgroup_root || !c->default_parent) {
                config_done(c);
                return -ENOMEM;
        }
        return 0;
}

void config_done(Config *c)
{
        if (!c)
                return;
        free(c->socket_path);
        free(c->read_only_socket);
        free(c->state_dir);
        free(c->cgroup_root);
        free(c->default_parent);
        strv_free(c->vcpu_patterns);
        strv_free(c->allowed_parents);
        *c = (Config){};
}

/* A deep copy: the parser fills it, so that the original stays as it was
 * when parsing fails. */
static int config_copy(Config *dst, const Config *src)
{
        Config t = *src;

        /* Owned by src until copied: config_done(&t) must not free them. */
        t.socket_path = t.read_only_socket = t.state_dir = t.cgroup_root = t.default_parent = NULL;
        t.vcpu_patterns = t.allowed_parents = NULL;
        if ((src->socket_path && !(t.socket_path = strdup(src->socket_path))) ||
            (src->read_only_socket && !(t.read_only_socket = strdup(src->read_only_socket))) ||
            (src->state_dir && !(t.state_dir = strdup(src->state_dir))) ||
            (src->cgroup_root && !(t.cgroup_root = strdup(src->cgroup_root))) ||
            (src->default_parent && !(t.default_parent = strdup(src->default_parent))) ||
            strv_copy(src->vcpu_patterns, &t.vcpu_patterns) < 0 ||
            strv_copy(src->allowed_parents, &t.allowed_parents) < 0) {
                config_done(&t);
                return -ENOMEM;
        }
        *dst = t;
        return 0;
}

typedef struct ConfigParser ConfigParser;
typedef struct ConfigItem ConfigItem;

/* Parses value into the field at data. Returns 0, or the result of
 * config_reject() or config_oom(). */
typedef int (*ConfigParseFunc)(ConfigParser *p, const ConfigItem *item, const char *value, void *data);

struct ConfigItem {
        const char *section;
        const char *key;
        ConfigParseFunc parse;
        size_t offset;
        /* Range of the numeric parsers (in bytes, µs, ...); the longest
         * path for config_parse_path(). */
        uint64_t min, max;
        /* An empty value is allowed and resets the setting to "none" (the
         * parser gets ""); for the others it is an error. */
        bool empty_resets;
};

struct ConfigParser {
        Config *config; /* the copy being filled */
        const char *name;
        const char *next; /* text not yet handed to inih */
        unsigned line;    /* line last handed to inih: inih's own count */

        /* VcpuThreadPattern= seen in this text: the first one replaces the
         * defaults, the others add to it. */
        bool vcpu_patterns_seen;
        /* The same for AllowedCgroupParents=. */
        bool allowed_parents_seen;

        /* The assignment being parsed, valid during one handler call. */
        const char *section, *key, *value;

        /* The first failure. */
        int r;
        unsigned error_line;
        Error error;
};

static int config_fail(ConfigParser *p, GrpcCode code, int errnum, const char *reason)
{
        p->r = error_set(&p->error, code, errnum, "%s:%u: [%s] %s=%s: %s", p->name, p->line, p->section,
                         p->key, p->value, reason);
        p->error_line = p->line;
        return p->r;
}

static int config_reject(ConfigParser *p, const char *format, ...) _printf_(2, 3);
static int config_reject(ConfigParser *p, const char *format, ...)
{
        char reason[ERROR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(reason, sizeof reason, format, ap);
        va_end(ap);
        return config_fail(p, GRPC_INVALID_ARGUMENT, EINVAL, reason);
}

static int config_oom(ConfigParser *p)
{
        return config_fail(p, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "out of memory");
}

static bool ascii_isdigit(char c)
{
        return c >= '0' && c <= '9';
}

/* Leading digits of s in base 8 or 10: no sign, no blanks, no "0x". The rest
 * of s, if any, is returned in *ret_end, or refused if ret_end is NULL. */
static int parse_u64(const char *s, int base, uint64_t *ret, const char **ret_end)
{
        unsigned long long v;
        char *end;

        if (!ascii_isdigit(s[0]) || (base == 8 && s[0] > '7'))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, base);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno > 0)
                return -errno;
        if (*end && !ret_end)
                return -EINVAL;
        if (ret_end)
                *ret_end = end;
        *ret = v;
        return 0;
}

/* An absolute path, stored simplified: "//run/./x/" becomes "/run/x". ".."
 * is refused (it would make the path mean something else behind a symlink),
 * and so is "/" itself, which is never a sensible socket or directory here. */
static int config_parse_path(ConfigParser *p, const ConfigItem *item, const char *value, void *data)
{
        _cleanup_free_ char *path = NULL;
        char **field = data, *q;

        if (!value[0]) {
                /* Only for an optional path (empty_resets): none. */
                free(*field);
                *field = NULL;
                return 0;
        }
        if (value[0] != '/')
                return config_reject(p, "not an absolute path");

        path = malloc(strlen(value) + 1); /* simplifying never makes it longer */
        if (!path)
                return config_oom(p);
        q = path;
        for (const char *s = value;;) {
                size_t n;

                s += strspn(s, "/");
                n = strcspn(s, "/");
                if (n == 0)
                        break;
                if (n == 2 && s[0] == '.' && s[1] == '.')
                        return config_reject(p, "path must not contain \"..\"");
                if (!(n == 1 && s[0] == '.')) {
                        *q++ = '/';
                        memcpy(q, s, n);
                        q += n;
                }
                s += n;
        }
        *q = '\0';

        if (q == path)
                return config_reject(p, "path must not be the root directory");
        if ((uint64_t) (q - path) > item->max)
                return config_reject(p, "path is longer than %" PRIu64 " bytes", item->max);

        free(*field);
        *field = TAKE_PTR(path);
        return 0;
}

static int config_parse_mode(ConfigParser *p, _unused_ const ConfigItem *item, const char *value,
                             void *data)
{
        unsigned *field = data;
        uint64_t v;

        if (parse_u64(value, 8, &v, NULL) < 0)
                return config_reject(p, "not an octal access mode");
        if (v > 0777)
                return config_reject(p, "access mode must be at most 0777");
        *field = (unsigned) v;
        return 0;
}

/* A group name, resolved now (an unknown group is an error here, not a
 * surprise at the first request), or a numeric gid, which need not have a
 * name. Empty: none. */
static int config_parse_group(ConfigParser *p, _unused_ const ConfigItem *item, const char *value,
                              void *data)
{
        _cleanup_free_ char *buf = NULL;
        gid_t *field = data;
        struct group grp, *found = NULL;
        uint64_t v;
        size_t size;
        int r;

        if (!value[0]) {
                *field = GID_INVALID;
                return 0;
        }
        if (value[strspn(value, "0123456789")] == '\0') {
                r = parse_u64(value, 10, &v, NULL);
                if (r < 0 || v >= (uint64_t) GID_INVALID)
                        return config_reject(p, "gid must be between 0 and %" PRIu64,
                                             (uint64_t) GID_INVALID - 1);
                *field = (gid_t) v;
                return 0;
        }

        long hint = sysconf(_SC_GETGR_R_SIZE_MAX);
        size = hint > 0 ? (size_t) hint : 4096;
        for (;;) {
                free(buf);
                buf = malloc(size);
                if (!buf)
                        return config_oom(p);
                r = getgrnam_r(value, &grp, buf, size, &found);
                if (r != ERANGE)
                        break;
                if (size > 1024 * 1024)
                        return config_reject(p, "the group entry is too large");
                size *= 2;
        }
        if (r == ENOMEM)
                return config_oom(p);
        if (r != 0)
                return config_reject(p, "cannot look up the group: %s", strerror(r));
        if (!found)
                return config_reject(p, "no such group");
        *field = found->gr_gid;
        return 0;
}

static int config_parse_driver(ConfigParser *p, _unused_ const ConfigItem *item, const char *value,
                               void *data)
{
        CgroupDriverKind *field = data;
        CgroupDriverKind d = cgroup_driver_from_string(value);

        if (d < 0)
                return config_reject(p, "cgroup driver must be \"cgroupfs\" or \"systemd\"");
        *field = d;
        return 0;
}

static int config_parse_vmm_exit(ConfigParser *p, _unused_ const ConfigItem *item, const char *value,
                                 void *data)
{
        VmmExitPolicy *field = data;
        VmmExitPolicy v = vmm_exit_policy_from_string(value);

        if (v < 0)
                return config_reject(p, "what happens when a VMM exits must be \"keep\" or \"delete\"");
        *field = v;
        return 0;
}

static int config_parse_bool(ConfigParser *p, _unused_ const ConfigItem *item, const char *value, void *data)
{
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };
        bool *field = data;

        if (table_lookup(yes, ELEMENTSOF(yes), value) >= 0)
                *field = true;
        else if (table_lookup(no, ELEMENTSOF(no), value) >= 0)
                *field = false;
        else
                return config_reject(p, "a boolean is yes, no, true, false, on, off, 1 or 0");
        return 0;
}

static int config_parse_log_level(ConfigParser *p, _unused_ const ConfigItem *item, const char *value,
                                  void *data)
{
        int *field = data;
        int level = log_level_from_string(value);

        if (level < 0)
                return config_reject(p, "log level must be one of emerg, alert, crit, err, warning, notice, "
                                        "info, debug, or a number from 0 to 7");
        *field = level;
        return 0;
}

/* Unsigned, in [item->min, item->max]: stored as unsigned. */
static int config_parse_unsigned(ConfigParser *p, const ConfigItem *item, const char *value, void *data)
{
        unsigned *field = data;
        uint64_t v;
        int r;

        r = parse_u64(value, 10, &v, NULL);
        if (r == -EINVAL)
                return config_reject(p, "not an unsigned integer");
        if (r < 0 || v < item->min || v > item->max)
                return config_reject(p, "must be between %" PRIu64 " and %" PRIu64, item->min, item->max);
        *field = (unsigned) v;
        return 0;
}

/* Bytes, with an optional binary suffix: "4194304", "512K", "4M". In
 * [item->min, item->max]: stored as uint32_t. */
static int config_parse_size(ConfigParser *p, const ConfigItem *item, const char *value, void *data)
{
        static const struct {
                const char *suffix;
                uint64_t factor;
        } table[] = {
                { "", 1 },
                { "B", 1 },
                { "K", UINT64_C(1) << 10 },
                { "M", UINT64_C(1) << 20 },
                { "G", UINT64_C(1) << 30 },
        };
        uint32_t *field = data;
        const char *suffix;
        uint64_t v;
        int r;

        r = parse_u64(value, 10, &v, &suffix);
        if (r == -EINVAL)
                return config_reject(p, "not a size in bytes (with an optional K, M or G suffix)");
        if (r < 0)
                return config_reject(p, "must be between %" PRIu64 " and %" PRIu64 " bytes", item->min,
                                     item->max);

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (!streq(suffix, table[i].suffix))
                        continue;
                if (v > item->max / table[i].factor || v * table[i].factor < item->min)
                        return config_reject(p, "must be between %" PRIu64 " and %" PRIu64 " bytes",
                                             item->min, item->max);
                *field = (uint32_t) (v * table[i].factor);
                return 0;
        }
        return config_reject(p, "unknown size suffix \"%s\" (expected K, M or G)", suffix);
}

/* A time span in seconds, with an optional fraction and unit: "10", "1.5",
 * "250ms", "5min". Stored in µs as uint64_t; 0 means disabled. */
static int config_parse_sec(ConfigParser *p, const ConfigItem *item, const char *value, void *data)
{
        static const struct {
                const char *suffix;
                uint64_t usec;
        } table[] = {
                { "", USEC_PER_SEC },         { "s", USEC_PER_SEC },     { "ms", USEC_PER_MSEC },
                { "us", 1 },                  { "min", USEC_PER_MINUTE }, { "h", USEC_PER_HOUR },
        };
        const char *fraction = "", *suffix;
        uint64_t *field = data, whole, usec;
        size_t n;
        int r;

        r = parse_u64(value, 10, &whole, &suffix);
        if (r == -ERANGE)
                goto out_of_range;
        if (r < 0)
                return config_reject(p, "not a time span in seconds (e.g. 10, 1.5, 250ms, 5min)");
        if (*suffix == '.') {
                fraction = suffix + 1;
                n = strspn(fraction, "0123456789");
                if (n == 0)
                        return config_reject(p, "not a time span in seconds (e.g. 10, 1.5, 250ms, 5min)");
                suffix = fraction + n;
        }

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (!streq(suffix, table[i].suffix))
                        continue;
                if (whole > UINT64_MAX / table[i].usec)
                        goto out_of_range;
                usec = whole * table[i].usec;
                /* Digits below 1 µs are dropped. */
                for (uint64_t m = table[i].usec / 10; m > 0 && ascii_isdigit(*fraction);
                     m /= 10, fraction++) {
                        uint64_t add = (uint64_t) (*fraction - '0') * m;
                        if (usec > UINT64_MAX - add)
                                goto out_of_range;
                        usec += add;
                }
                if (usec < item->min || usec > item->max)
                        goto out_of_range;
                *field = usec;
                return 0;
        }
        return config_reject(p, "unknown time unit \"%s\" (expected us, ms, s, min or h)", suffix);

out_of_range:
        return config_reject(p, "time span out of range");
}

static int config_parse_cgroup_parent(ConfigParser *p, _unused_ const ConfigItem *item, const char *value,
                                      void *data)
{
        char **field = data, *parent = NULL;
        Error e = {};

        if (cgroup_parent_normalize(value, "cgroup parent", &parent, &e) == -ENOMEM)
                return config_oom(p);
        if (!parent)
                return config_reject(p, "%s", e.message);
        free(*field);
        *field = parent;
        return 0;
}

static int config_parse_vcpu_pattern(ConfigParser *p, _unused_ const ConfigItem *item, const char *value,
                                     void *data)
{
        char ***field = data;

        if (!vcpu_pattern_is_valid(value))
                return config_reject(p, "a pattern is thread name text with at most one %%u (a number) and "
                                        "no other %% than %%%%");
        if (!p->vcpu_patterns_seen) {
                *field = strv_free(*field);
                p->vcpu_patterns_seen = true;
        }
        if (strv_length(*field) >= 64)
                return config_reject(p, "at most 64 patterns");
        if (strv_extend(field, value) < 0)
                return config_oom(p);
        return 0;
}

#define ALLOWED_PARENTS_MAX 64

static int config_parse_allowed_parent(ConfigParser *p, _unused_ const ConfigItem *item, const char *value,
                                       void *data)
{
        char ***field = data, *parent = NULL;
        Error e = {};

        if (!p->allowed_parents_seen || !value[0]) {
                *field = strv_free(*field);
                p->allowed_parents_seen = true;
        }
        if (!value[0])
                return 0;
        if (cgroup_parent_normalize(value, "cgroup parent", &parent, &e) == -ENOMEM)
                return config_oom(p);
        if (!parent)
                return config_reject(p, "%s", e.message);
        if (strv_length(*field) >= ALLOWED_PARENTS_MAX) {
                free(parent);
                return config_reject(p, "at most %d parents", ALLOWED_PARENTS_MAX);
        }
        if (strv_consume(field, parent) < 0)
                return config_oom(p);
        return 0;
}

static const ConfigItem config_items[] = {
        { "Daemon", "Socket", config_parse_path, offsetof(Config, socket_path), 0, SOCKET_PATH_MAX },
        { "Daemon", "SocketMode", config_parse_mode, offsetof(Config, socket_mode), 0, 0 },
        { "Daemon", "SocketGroup", config_parse_group, offsetof(Config, socket_group), 0, 0, true },
        { "Daemon", "ReadOnlySocket", config_parse_path, offsetof(Config, read_only_socket), 0, SOCKET_PATH_MAX,
          true },
        { "Daemon", "ReadOnlySocketMode", config_parse_mode, offsetof(Config, read_only_socket_mode), 0, 0 },
        { "Daemon", "StateDirectory", config_parse_path, offsetof(Config, state_dir), 0, PATH_MAX - 1 },
        { "Daemon", "CgroupRoot", config_parse_path, offsetof(Config, cgroup_root), 0, PATH_MAX - 1 },
        { "Daemon", "CgroupDriver", config_parse_driver, offsetof(Config, driver), 0, 0 },
        { "Daemon", "LogLevel", config_parse_log_level, offsetof(Config, log_level), 0, 0 },
        { "Sandbox", "DefaultCgroupParent", config_parse_cgroup_parent, offsetof(Config, default_parent), 0,
          0 },
        { "Sandbox", "VcpuThreadPattern", config_parse_vcpu_pattern, offsetof(Config, vcpu_patterns), 0, 0 },
        { "Sandbox", "OnVmmExit", config_parse_vmm_exit, offsetof(Config, on_vmm_exit), 0, 0 },
        { "Sandbox", "AllowedCgroupParents", config_parse_allowed_parent, offsetof(Config, allowed_parents), 0, 0,
          true },
        { "Access", "AdminGroup", config_parse_group, offsetof(Config, admin_group), 0, 0, true },
        { "Access", "ReadOnlyGroup", config_parse_group, offsetof(Config, read_only_group), 0, 0, true },
        { "Access", "AttachDescendantsOnly", config_parse_bool, offsetof(Config, attach_descendants_only), 0,
          0 },
        { "Limits", "MaxMessageSize", config_parse_size, offsetof(Config, max_message_size), 1,
          TTRPC_MESSAGE_LENGTH_MAX },
        { "Limits", "MaxConnections", config_parse_unsigned, offsetof(Config, max_connections), 1,
          UINT_MAX },
        { "Limits", "MaxConnectionsPerUser", config_parse_unsigned, offsetof(Config, max_connections_per_user),
          1, UINT_MAX },
        { "Limits", "MaxRequestsPerConnection", config_parse_unsigned,
          offsetof(Config, max_requests_per_connection), 1, 65536 },
        { "Limits", "RequestRate", config_parse_unsigned, offsetof(Config, request_rate), 0, 1000000 },
        { "Limits", "RequestBurst", config_parse_unsigned, offsetof(Config, request_burst), 1, 1000000 },
        { "Limits", "IdleTimeoutSec", config_parse_sec, offsetof(Config, idle_timeout_usec), 0,
          UINT64_MAX },
        { "Limits", "FrameTimeoutSec", config_parse_sec, offsetof(Config, frame_timeout_usec), 0,
          UINT64_MAX },
        { "Limits", "MaxSandboxes", config_parse_unsigned, offsetof(Config, max_sandboxes), 1,
          UINT_MAX },
};

static int config_handler(void *userdata, const char *section, const char *key, const char *value)
{
        ConfigParser *p = userdata;
        bool section_known = false;

        if (p->r < 0)
                return 0;

        p->section = section;
        p->key = key;
        p->value = strempty(value);

        for (size_t i = 0; i < ELEMENTSOF(config_items); i++) {
                const ConfigItem *item = &config_items[i];

                if (!streq(section, item->section))
                        continue;
                section_known = true;
                if (!streq(key, item->key))
                        continue;

                if (!value || !value[0]) {
                        if (!item->empty_resets) {
                                (void) config_reject(p, "empty value");
                                return 0;
                        }
                        value = "";
                }
                return item->parse(p, item, value, (uint8_t *) p->config + item->offset) >= 0;
        }

        if (!section[0])
                (void) config_reject(p, "assignment outside of a section");
        else if (!section_known)
                (void) config_reject(p, "unknown section");
        else
                (void) config_reject(p, "unknown key");
        return 0;
}

/* The ini_reader: hands inih one line at a time, so that p->line is the
 * line inih is on (inih's handler is built without the line number).
 *
 * Leading blanks are dropped here: systemd ignores them, while inih would
 * take an indented line as the continuation of the previous value. A line
 * too long for inih's buffer is refused rather than split in two. Once an
 * assignment failed, reading stops. */
static char *config_reader(char *buf, int size, void *userdata)
{
        ConfigParser *p = userdata;
        const char *s;
        size_t n;

        if (p->r < 0 || !*p->next)
                return NULL;

        p->line++;
        s = p->next + strspn(p->next, " \t");
        n = strcspn(s, "\n");
        p->next = s[n] ? s + n + 1 : s + n;

        if (size <= 0 || n >= (size_t) size) {
                p->r = error_set(&p->error, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "%s:%u: line too long (at most %d characters)", p->name, p->line,
                                 MAX(size - 1, 0));
                p->error_line = p->line;
                return NULL;
        }
        memcpy(buf, s, n);
        buf[n] = '\0';
        return buf;
}

int config_parse_string(Config *c, const char *text, const char *name, Error *e)
{
        _cleanup_(config_done) Config copy = {};
        ConfigParser p = {
                .config = &copy,
                .name = name ?: "(string)",
                .next = text,
        };
        int r;

        r = config_copy(&copy, c);
        if (r < 0)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "%s: out of memory", p.name);

        /* 0, the first line that failed (a syntax error, or the handler
         * returned 0), or < 0 when inih could not allocate its buffer. */
        r = ini_parse_stream(config_reader, &p, config_handler, &p);
        if (r < 0)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "%s: out of memory", p.name);
        if (r > 0 && (p.r >= 0 || (unsigned) r < p.error_line))
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "%s:%d: syntax error: expected \"[Section]\", \"Key=value\" or a comment",
                                 p.name, r);
        if (p.r < 0)
                return error_set(e, p.error.code, p.error.errnum, "%s", p.error.message);

        SWAP(*c, copy);
        return 0;
}

static int read_file(const char *path, char **ret, size_t *ret_size)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();

        for (;;) {
                ssize_t k;

                if (size > CONFIG_FILE_SIZE_MAX)
                        return -EFBIG;
                if (allocated - size < 2) {
                        size_t n = allocated > 0 ? 2 * allocated : 4096;
                        char *t = realloc(buf, n);

                        if (!t)
                                return -ENOMEM;
                        buf = t;
                        allocated = n;
                }

                k = read(fd, buf + size, allocated - size - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                size += (size_t) k;
        }

        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

int config_parse_file(Config *c, const char *path, bool missing_ok, Error *e)
{
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_file(path, &text, &size);
        if (r == -ENOENT && missing_ok)
                return 0;
        if (r < 0)
                return error_set(e, grpc_code_from_errno(r), r, "Failed to read %s: %s", path, strerror(-r));

        /* inih stops at a NUL: the rest of the file would be ignored. */
        if (strlen(text) != size)
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "%s: file contains a NUL byte", path);

        return config_parse_string(c, text, path, e);
}
