/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's state: event loop, configuration, host probe and server. */

#include <systemd/sd-event.h>

#include "daemon/cgroup/probe.h"
#include "daemon/conf.h"

typedef struct Server Server;

typedef struct Manager {
        sd_event *event;
        Config config;
        HostProbe host;
        Server *server;
} Manager;

/* Takes over *config (leaving it empty). */
int manager_new(Config *config, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Probe the host and start listening (socket activation or bind). Logs. */
int manager_start(Manager *m);

/* Apply a reloaded configuration: limits, log level and timeouts take effect
 * at once; settings that need a restart (socket, state directory, cgroup root,
 * driver) are kept and a warning says so. Takes over *config. Logs. */
int manager_reload(Manager *m, Config *config);
