/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The listeners and their connections: ttrpc frames over SOCK_STREAM, read
 * and written without blocking, with the peer's credentials taken at accept.
 * The server enforces the connection limits (total, per uid), the in-flight
 * and rate limits of each connection and its timeouts; frames go to
 * dispatch, which decides what the peer may call. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct Manager Manager;
typedef struct Server Server;

/* Who is on the other end of a connection, as the kernel saw it when the
 * peer connected (SO_PEERCRED, SO_PEERGROUPS). */
typedef struct Peer {
        pid_t pid;
        uid_t uid;
        gid_t gid;
        const gid_t *groups;    /* supplementary groups (owned by the connection) */
        size_t n_groups;
        bool read_only;         /* came in through the read-only socket */
} Peer;

int server_new(Manager *m, Server **ret);
Server *server_free(Server *s);

/* Use the sockets passed by systemd (sd_listen_fds; one named "readonly" by
 * FileDescriptorName= is the read-only socket), else bind Socket= and, if
 * configured, ReadOnlySocket=, each created with its final mode and group. */
int server_listen(Server *s);

/* True when the listening socket came from socket activation. */
bool server_socket_activated(const Server *s);

unsigned server_connection_count(const Server *s);
