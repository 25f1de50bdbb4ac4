/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Daemon configuration: built-in defaults, then the configuration file
 * (/etc/sandboxcg/sandboxcgd.conf, systemd-style "[Section]" and "Key=value",
 * parsed with inih), then the command line, which wins. SIGHUP re-reads the
 * file and re-applies the command line. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/error.h"

#define CONFIG_FILE_DEFAULT SYSCONFDIR "/sandboxcg/sandboxcgd.conf"
#define SOCKET_PATH_DEFAULT "/run/sandboxcg/sandboxcg.sock"
#define STATE_DIR_DEFAULT "/run/sandboxcg/sandboxes"
#define CGROUP_ROOT_DEFAULT "/sys/fs/cgroup"

typedef enum CgroupDriverKind {
        CGROUP_DRIVER_CGROUPFS,
        CGROUP_DRIVER_SYSTEMD,
        _CGROUP_DRIVER_MAX,
        _CGROUP_DRIVER_INVALID = -EINVAL,
} CgroupDriverKind;

const char *cgroup_driver_to_string(CgroupDriverKind d);
CgroupDriverKind cgroup_driver_from_string(const char *s);

/* What becomes of a sandbox's cgroups when its VMM exits (OnVmmExit=). */
typedef enum VmmExitPolicy {
        VMM_EXIT_KEEP,          /* until DeleteSandbox: the sandboxer decides */
        VMM_EXIT_DELETE,        /* deleted at once, as DeleteSandbox would */
        _VMM_EXIT_MAX,
        _VMM_EXIT_INVALID = -EINVAL,
} VmmExitPolicy;

const char *vmm_exit_policy_to_string(VmmExitPolicy p);
VmmExitPolicy vmm_exit_policy_from_string(const char *s);

/* A group that is not set (AdminGroup= and friends left empty). */
#define GID_INVALID ((gid_t) -1)

typedef struct Config {
        /* [Daemon] */
        char *socket_path;              /* Socket= */
        unsigned socket_mode;           /* SocketMode= (octal), default 0660 */
        gid_t socket_group;             /* SocketGroup=, GID_INVALID: AdminGroup=, else the daemon's */
        char *read_only_socket;         /* ReadOnlySocket=, NULL: none */
        unsigned read_only_socket_mode; /* ReadOnlySocketMode= (octal), default 0660; its group is
                                         * ReadOnlyGroup= (else the daemon's) */
        char *state_dir;                /* StateDirectory= */
        char *cgroup_root;              /* CgroupRoot= */
        CgroupDriverKind driver;        /* CgroupDriver= cgroupfs|systemd */
        int log_level;                  /* LogLevel= (syslog level) */

        /* [Sandbox] */
        char *default_parent;           /* DefaultCgroupParent=, default "sandboxcg" */
        char **vcpu_patterns;           /* VcpuThreadPattern= (repeatable), NULL: built-in defaults */
        VmmExitPolicy on_vmm_exit;      /* OnVmmExit= keep|delete, default keep */
        char **allowed_parents;         /* AllowedCgroupParents= (repeatable), NULL: any parent */

        /* [Access]: who may call what (names are resolved to gids when parsed) */
        gid_t admin_group;              /* AdminGroup=: every method; GID_INVALID: root only */
        gid_t read_only_group;          /* ReadOnlyGroup=: the read-only methods */
        bool attach_descendants_only;   /* AttachDescendantsOnly=, default yes: a caller other than
                                         * root may attach only its own descendants as VMM */

        /* [Limits] */
        uint32_t max_message_size;      /* MaxMessageSize= bytes, K/M suffixes, <= 4M, default 4M */
        unsigned max_connections;       /* MaxConnections=, default 256 */
        unsigned max_connections_per_user; /* MaxConnectionsPerUser=, default 16; not for uid 0 */
        unsigned max_requests_per_connection; /* MaxRequestsPerConnection= answered, unsent; default 64 */
        unsigned request_rate;          /* RequestRate= per second and connection, 0: unlimited; 1000 */
        unsigned request_burst;         /* RequestBurst=, default 1000 */
        uint64_t idle_timeout_usec;     /* IdleTimeoutSec=, default 300 s; 0 disables */
        uint64_t frame_timeout_usec;    /* FrameTimeoutSec= (partial frame), default 10 s */
        unsigned max_sandboxes;         /* MaxSandboxes=, default 4096 */
} Config;

/* Fill with the built-in defaults. */
int config_init(Config *c);
void config_done(Config *c);

/* Parse a configuration file into c. A missing file is not an error when
 * missing_ok is true. Unknown sections or keys and bad values fail with
 * -EINVAL and *e naming file, line and key. On failure c is unchanged. */
int config_parse_file(Config *c, const char *path, bool missing_ok, Error *e);

/* Parse a configuration from memory (used by the file parser and tests). */
int config_parse_string(Config *c, const char *text, const char *name, Error *e);
