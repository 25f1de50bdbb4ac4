/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
        host_probe_done(&m->host);
        config_done(&m->config);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

static int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *slash = p + 1;; slash++) {
                slash = strchr(slash, '/');
                if (slash)
                        *slash = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                if (!slash)
                        return 0;
                *slash = '/';
        }
}

int manager_start(Manager *m)
{
        Error e = {};
        int r;

        r = host_probe("/", m->config.cgroup_root, &m->host, &e);
        if (r < 0)
                return log_error_errno(r, "Cannot use the cgroups of this host: %s", e.message);
        log_info("cgroup mode %s under %s%s%s", cgroup_mode_to_string(m->host.mode), m->host.cgroup_root,
                 m->host.unified_mount ? ", cgroup2 at " : "", strempty(m->host.unified_mount));

        /* Records live here (filled by the sandbox lifecycle); only root may
         * read them. */
        r = mkdir_p(m->config.state_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create state directory %s: %m", m->config.state_dir);

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
        if (m->config.socket_mode != config->socket_mode)
                log_warning("SocketMode= changed: takes effect after a restart");

        /* Keep what needs a restart, take the rest: the old values of those
         * fields move into *config, which is then the one freed. */
        SWAP(config->socket_path, m->config.socket_path);
        SWAP(config->state_dir, m->config.state_dir);
        SWAP(config->cgroup_root, m->config.cgroup_root);
        config->driver = m->config.driver;
        config->socket_mode = m->config.socket_mode;
        config_done(&m->config);
        m->config = *config;
        *config = (Config){};

        log_set_max_level(m->config.log_level);
        log_info("Configuration reloaded");
        return 0;
}
