/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs-util.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/server.h"

int manager_new(Config *config, Manager **ret)
{
        Manager *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;

        m->config = *config;
        *config = (Config){};
        m->engine = (CgroupEngine){ .fs.root_fd = -EBADF };
        m->store = STORE_NULL;

        int r = sd_event_default(&m->event);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        server_free(m->server);
        /* Forget the sandboxes, never touch them: a stopping daemon leaves
         * every VM running and limited. */
        for (size_t i = 0; i < m->n_sandboxes; i++)
                sandbox_free(m->sandboxes[i]);
        free(m->sandboxes);
        store_close(&m->store);
        cgroup_engine_done(&m->engine);
        host_probe_done(&m->host);
        config_done(&m->config);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

static void log_store_problem(void *userdata, StoreProblem problem, const char *file, const char *reason)
{
        const Manager *m = userdata;

        switch (problem) {
        case STORE_OTHER_BOOT:
                log_info("Dropped %s/%s: written during boot %s", m->config.state_dir, file, reason);
                break;
        case STORE_CORRUPT:
                log_error("Quarantined %s/%s as %s.corrupt: %s", m->config.state_dir, file, file, reason);
                break;
        case STORE_STRAY:
                log_info("Removed %s/%s: %s", m->config.state_dir, file, reason);
                break;
        }
}

/* Take over the sandboxes recorded by an earlier run of the daemon during
 * this boot, before READY=1: load every record, then finish or undo what a
 * crash interrupted and pin each VMM again (sandbox-recover.c). */
/* Trees the daemon made but has no record of (it crashed between the two,
 * or the state directory was lost) and records whose trees are gone. */
static int manager_reconcile(Manager *m)
{
        GcFinding *found = NULL;
        bool markers;
        size_t n = 0;
        Error e = {};
        int r;

        r = sandbox_gc(m, false, &found, &n, &markers, &e);
        if (r < 0)
                return log_error_errno(r, "Cannot reconcile the sandboxes with the kernel: %s", e.message);
        if (!markers)
                log_warning("No cgroup hierarchy here can hold extended attributes: cgroups left without a record "
                            "cannot be told apart from others' and are not looked for");
        for (size_t i = 0; i < n; i++)
                log_sandbox_full_errno(LOG_NOTICE, 0, found[i].id, "%s under %s%s", gc_kind_to_string(found[i].kind),
                                       found[i].parent, found[i].fixed ? ": removed" : ": left for DeleteSandbox");
        gc_findings_free(found, n);
        return 0;
}

static int manager_load_sandboxes(Manager *m)
{
        _cleanup_free_ Sandbox **list = NULL;
        size_t n = 0;
        Error e = {};
        int r;

        r = store_load(&m->store, m, log_store_problem, m, &list, &n, &e);
        if (r < 0)
                return log_error_errno(r, "Cannot load the sandbox records: %s", e.message);

        for (size_t i = 0; i < n; i++) {
                Sandbox *s = list[i];

                r = sandbox_register(m, s);
                if (r < 0) {
                        for (size_t j = i; j < n; j++)
                                sandbox_free(list[j]);
                        return log_error_errno(r, "Cannot load the sandbox records: %m");
                }
        }

        /* Every record in the set first: recovering one may hand parent
         * levels to another. */
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *id = strdup(list[i]->spec.id);
                SandboxRecovery what = SANDBOX_RECOVERY_NONE;

                if (!id)
                        return log_error_errno(-ENOMEM, "Out of memory");
                e = (Error){};
                r = sandbox_recover(m, list[i], &what, &e);
                if (r < 0)
                        /* Left as recorded: a DeleteSandbox (or the next
                         * start) tries again. */
                        log_sandbox_full_errno(LOG_ERR, r, id, "Cannot recover (%s): %s",
                                               sandbox_recovery_to_string(what), e.message);
                else if (what != SANDBOX_RECOVERY_NONE)
                        log_sandbox_full_errno(LOG_NOTICE, 0, id, "Recovered: %s", sandbox_recovery_to_string(what));
        }
        if (n > 0)
                log_info("Loaded %zu sandbox records from %s", n, m->config.state_dir);

        /* VMMs that exited while the daemon was away, or before, under
         * OnVmmExit=keep: their sandboxes go now. Backwards: a delete takes
         * its sandbox out of the sorted set. */
        for (size_t i = m->n_sandboxes; i > 0; i--)
                sandbox_apply_vmm_exit_policy(m, m->sandboxes[i - 1]);
        return manager_reconcile(m);
}

int manager_start(Manager *m)
{
        Error e = {};
        int r;

        if (m->config.driver != CGROUP_DRIVER_CGROUPFS)
                return log_error_errno(-EOPNOTSUPP,
                                       "CgroupDriver=%s is not implemented yet; use cgroupfs",
                                       cgroup_driver_to_string(m->config.driver));

        r = host_probe("/", m->config.cgroup_root, &m->host, &e);
        if (r < 0)
                return log_error_errno(r, "Cannot use the cgroups of this host: %s", e.message);
        log_info("cgroup mode %s under %s%s%s", cgroup_mode_to_string(m->host.mode), m->host.cgroup_root,
                 m->host.unified_mount ? ", cgroup2 at " : "", strempty(m->host.unified_mount));
        r = cgroup_engine_init(&m->engine, &m->host, &e);
        if (r < 0)
                return log_error_errno(r, "Cannot use the cgroups of this host: %s", e.message);
        /* The state directory names this daemon in the marks it leaves. */
        m->engine.owner = m->config.state_dir;

        /* The sandbox records; only root may read them. */
        /* Its missing parents searchable by all: the socket may live in one
         * (/run/sandboxcg, when no systemd made it), and members of the
         * admin group must reach it. */
        r = mkdir_parents(m->config.state_dir, 0755);
        if (r >= 0 && mkdir(m->config.state_dir, 0700) < 0 && errno != EEXIST)
                r = -errno;
        if (r < 0)
                return log_error_errno(r, "Failed to create state directory %s: %m", m->config.state_dir);
        r = store_open(&m->store, m->config.state_dir, &e);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        r = manager_load_sandboxes(m);
        if (r < 0)
                return r;

        r = server_new(m, &m->server);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate server: %m");
        r = server_listen(m->server);
        if (r < 0)
                return r;
        log_info("Listening on %s%s", server_socket_activated(m->server) ? "a socket passed by systemd, " : "",
                 m->config.socket_path);
        return 0;
}

#define WARN_IF_CHANGED(field, key)                                                                    \
        do {                                                                                           \
                if (!streq_ptr(m->config.field, config->field))                                        \
                        log_warning("%s= changed from %s to %s: takes effect after a restart", key,  \
                                    strna(m->config.field), strna(config->field));                   \
        } while (0)

int manager_reload(Manager *m, Config *config)
{
        WARN_IF_CHANGED(socket_path, "Socket");
        WARN_IF_CHANGED(state_dir, "StateDirectory");
        WARN_IF_CHANGED(cgroup_root, "CgroupRoot");
        if (m->config.driver != config->driver)
                log_warning("CgroupDriver= changed: takes effect after a restart");
        WARN_IF_CHANGED(read_only_socket, "ReadOnlySocket");
        if (m->config.socket_mode != config->socket_mode)
                log_warning("SocketMode= changed: takes effect after a restart");
        if (m->config.read_only_socket_mode != config->read_only_socket_mode)
                log_warning("ReadOnlySocketMode= changed: takes effect after a restart");
        if (m->config.socket_group != config->socket_group)
                log_warning("SocketGroup= changed: takes effect after a restart");

        /* Keep what needs a restart, take the rest: the old values of those
         * fields move into *config, which is then the one freed. */
        SWAP(config->socket_path, m->config.socket_path);
        SWAP(config->state_dir, m->config.state_dir);
        SWAP(config->cgroup_root, m->config.cgroup_root);
        SWAP(config->read_only_socket, m->config.read_only_socket);
        config->driver = m->config.driver;
        config->socket_mode = m->config.socket_mode;
        config->read_only_socket_mode = m->config.read_only_socket_mode;
        config->socket_group = m->config.socket_group;
        config_done(&m->config);
        m->config = *config;
        *config = (Config){};

        log_set_max_level(m->config.log_level);
        log_info("Configuration reloaded");
        return 0;
}
