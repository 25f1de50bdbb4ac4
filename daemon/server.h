/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The listener and its connections: ttrpc frames over SOCK_STREAM, read and
 * written without blocking, with the peer's credentials taken at accept.
 * Frames go to dispatch; everything about methods is there. */

#include <stdbool.h>
#include <sys/types.h>

typedef struct Manager Manager;
typedef struct Server Server;

typedef struct Peer {
        pid_t pid;
        uid_t uid;
        gid_t gid;
} Peer;

int server_new(Manager *m, Server **ret);
Server *server_free(Server *s);

/* Use a socket passed by systemd (sd_listen_fds), else bind the configured
 * path with the configured mode. */
int server_listen(Server *s);

/* True when the listening socket came from socket activation. */
bool server_socket_activated(const Server *s);

unsigned server_connection_count(const Server *s);
