/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's state: event loop, configuration, host probe and server. */

#include <systemd/sd-event.h>

#include "daemon/cgroup/cgroup.h"
#include "daemon/cgroup/probe.h"
#include "daemon/conf.h"
#include "daemon/sandbox.h"
#include "daemon/store.h"

typedef struct Server Server;

struct Manager {
        sd_event *event;
        Config config;
        HostProbe host;
        CgroupEngine engine;
        bool engine_ready;
        Store store;
        Server *server;

        /* The live sandboxes, sorted by id (sandbox.c). */
        Sandbox **sandboxes;
        size_t n_sandboxes, allocated_sandboxes;
};

/* Takes over *config (leaving it empty). */
int manager_new(Config *config, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Probe the host, load the sandbox records and start listening (socket
 * activation or bind). Logs. */
int manager_start(Manager *m);

/* Apply a reloaded configuration: limits, log level and timeouts take effect
 * at once; settings that need a restart (socket, state directory, cgroup root,
 * driver) are kept and a warning says so. Takes over *config. Logs. */
int manager_reload(Manager *m, Config *config);
