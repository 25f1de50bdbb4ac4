/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/server.h"

/* Reads per wake-up of one connection, so a busy client cannot starve the
 * others. */
#define READS_PER_EVENT 16

typedef struct Connection Connection;

struct Server {
        Manager *manager;
        int listen_fd;
        bool activated;
        bool bound;                     /* we created the socket file */
        sd_event_source *listen_source;
        Connection *connections;        /* doubly linked list */
        unsigned n_connections;
};

struct Connection {
        Server *server;
        Connection *prev, *next;
        int fd;
        Peer peer;
        sd_event_source *io_source;
        sd_event_source *timer_source;
        FrameReader reader;
        FrameWriter writer;
        uint64_t last_activity;         /* CLOCK_MONOTONIC µs of the last complete frame or accept */
        uint64_t partial_since;         /* when the pending partial frame started, 0 if none */
        bool reading_paused;
        bool eof;                       /* the peer sent everything it will send */
};

static void connection_free(Connection *c)
{
        if (!c)
                return;
        Server *s = c->server;
        if (c->prev)
                c->prev->next = c->next;
        else if (s->connections == c)
                s->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_connections--;

        sd_event_source_disable_unref(c->io_source);
        sd_event_source_disable_unref(c->timer_source);
        frame_reader_done(&c->reader);
        frame_writer_done(&c->writer);
        safe_close(c->fd);
        free(c);
}

static uint64_t now_usec(Server *s)
{
        uint64_t t = 0;
        (void) sd_event_now(s->manager->event, CLOCK_MONOTONIC, &t);
        return t;
}

/* Arm the timer for whichever deadline applies: a partial frame must complete
 * within FrameTimeoutSec=, an idle connection goes after IdleTimeoutSec=. */
static int connection_rearm_timer(Connection *c)
{
        const Config *cfg = &c->server->manager->config;
        uint64_t deadline;

        if (c->partial_since > 0 && cfg->frame_timeout_usec > 0)
                deadline = c->partial_since + cfg->frame_timeout_usec;
        else if (cfg->idle_timeout_usec > 0)
                deadline = c->last_activity + cfg->idle_timeout_usec;
        else
                return sd_event_source_set_enabled(c->timer_source, SD_EVENT_OFF);

        int r = sd_event_source_set_time(c->timer_source, deadline);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->timer_source, SD_EVENT_ONESHOT);
}

static int connection_update_events(Connection *c)
{
        uint32_t events = 0;

        if (!c->reading_paused && !c->eof)
                events |= EPOLLIN;
        if (frame_writer_pending(&c->writer) > 0)
                events |= EPOLLOUT;
        return sd_event_source_set_io_events(c->io_source, events);
}

static int connection_queue(Connection *c, uint32_t stream_id, const uint8_t *payload, size_t size)
{
        TtrpcHeader h = {
                .length = (uint32_t) size,
                .stream_id = stream_id,
                .type = TTRPC_TYPE_RESPONSE,
        };
        return frame_writer_append(&c->writer, &h, payload);
}

static int connection_queue_status(Connection *c, uint32_t stream_id, GrpcCode code, const char *message)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0;
        int r = dispatch_status_response(code, message, &buf, &size);
        if (r < 0)
                return r;
        return connection_queue(c, stream_id, buf, size);
}

/* Handle every complete frame in the reader. Returns < 0 when the connection
 * must be closed. */
static int connection_process(Connection *c)
{
        Manager *m = c->server->manager;
        TtrpcHeader h;
        const uint8_t *payload;
        int r;

        for (;;) {
                r = frame_reader_next(&c->reader, &h, &payload);
                if (r == 0)
                        break;
                if (r == -EMSGSIZE) {
                        /* As ttrpc does: answer, drop the payload, keep the connection. */
                        char msg[128];
                        (void) snprintf(msg, sizeof msg, "message length %u exceed maximum message size of %u",
                                        h.length, c->reader.max_length);
                        log_debug("Peer pid %d uid %u: %s", (int) c->peer.pid, (unsigned) c->peer.uid, msg);
                        r = connection_queue_status(c, h.stream_id, GRPC_RESOURCE_EXHAUSTED, msg);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (r < 0)
                        return r;

                c->last_activity = now_usec(c->server);

                if (h.type != TTRPC_TYPE_REQUEST)
                        /* ttrpc ignores other message types for forward compatibility. */
                        continue;
                if (h.stream_id % 2 != 1) {
                        r = connection_queue_status(c, h.stream_id, GRPC_INVALID_ARGUMENT,
                                                    "StreamID must be odd for client initiated streams");
                        if (r < 0)
                                return r;
                        continue;
                }

                _cleanup_free_ uint8_t *out = NULL;
                size_t out_size = 0;
                r = dispatch_request(m, &c->peer, payload, h.length, &out, &out_size);
                if (r < 0)
                        return r;
                r = connection_queue(c, h.stream_id, out, out_size);
                if (r < 0)
                        return r;
        }

        /* Track how long a partial frame has been pending. */
        if (frame_reader_partial(&c->reader)) {
                if (c->partial_since == 0)
                        c->partial_since = now_usec(c->server);
        } else
                c->partial_since = 0;
        return 0;
}

static int connection_flush(Connection *c)
{
        int r = frame_writer_flush(&c->writer, c->fd);
        if (r < 0)
                return r;

        /* Backpressure: a client that does not read its responses stops being
         * read until it does, so its queue stays bounded. */
        size_t high = 2 * (size_t) c->server->manager->config.max_message_size;
        c->reading_paused = frame_writer_pending(&c->writer) > high;
        return 0;
}

static void connection_close(Connection *c, int error, const char *why)
{
        if (error < 0 && error != -ECONNRESET && error != -EPIPE)
                log_warning_errno(error, "Closing connection of pid %d uid %u: %s: %m", (int) c->peer.pid,
                                  (unsigned) c->peer.uid, why);
        else
                log_debug("Closing connection of pid %d uid %u: %s", (int) c->peer.pid, (unsigned) c->peer.uid,
                          why);
        connection_free(c);
}

static int on_connection_io(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        Connection *c = userdata;
        int r;

        if ((revents & EPOLLIN) && !c->eof) {
                for (int i = 0; i < READS_PER_EVENT; i++) {
                        r = frame_reader_fill(&c->reader, c->fd);
                        if (r == -EAGAIN)
                                break;
                        if (r < 0) {
                                connection_close(c, r, "read failed");
                                return 0;
                        }
                        if (r == 0) {
                                c->eof = true;
                                break;
                        }
                        r = connection_process(c);
                        if (r < 0) {
                                connection_close(c, r, "cannot process request");
                                return 0;
                        }
                        if (frame_writer_pending(&c->writer) > 2 * (size_t) c->server->manager->config.max_message_size)
                                break;
                }
        } else if (revents & EPOLLERR)
                c->eof = true;

        r = connection_flush(c);
        if (r < 0) {
                connection_close(c, r, "write failed");
                return 0;
        }
        if (c->eof && frame_writer_pending(&c->writer) == 0) {
                /* The peer is gone or half-closed, and every request it sent
                 * has been answered. */
                connection_close(c, 0, "end of stream");
                return 0;
        }

        r = connection_update_events(c);
        if (r >= 0)
                r = connection_rearm_timer(c);
        if (r < 0)
                connection_close(c, r, "cannot update event sources");
        return 0;
}

static int on_connection_timer(sd_event_source *source, uint64_t usec, void *userdata)
{
        Connection *c = userdata;

        connection_close(c, 0, c->partial_since > 0 ? "partial frame timed out" : "idle timeout");
        return 0;
}

static int connection_new(Server *s, int fd)
{
        _cleanup_close_ int cfd = fd;
        struct ucred cred;
        socklen_t len = sizeof cred;
        int r;

        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return negative_errno();

        Connection *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->server = s;
        c->fd = TAKE_FD(cfd);
        c->peer = (Peer){ .pid = cred.pid, .uid = cred.uid, .gid = cred.gid };
        c->last_activity = now_usec(s);
        frame_reader_init(&c->reader, s->manager->config.max_message_size);
        c->next = s->connections;
        if (c->next)
                c->next->prev = c;
        s->connections = c;
        s->n_connections++;

        r = sd_event_add_io(s->manager->event, &c->io_source, c->fd, EPOLLIN, on_connection_io, c);
        if (r < 0)
                goto fail;
        r = sd_event_add_time(s->manager->event, &c->timer_source, CLOCK_MONOTONIC, UINT64_MAX, 0,
                              on_connection_timer, c);
        if (r < 0)
                goto fail;
        r = connection_rearm_timer(c);
        if (r < 0)
                goto fail;

        log_debug("New connection from pid %d uid %u gid %u", (int) c->peer.pid, (unsigned) c->peer.uid,
                  (unsigned) c->peer.gid);
        return 0;
fail:
        connection_free(c);
        return r;
}

static int on_listen_io(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        Server *s = userdata;

        for (;;) {
                int cfd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        if (errno == ECONNABORTED)
                                continue;
                        /* EMFILE and friends: keep the daemon alive; the
                         * pending connection waits in the backlog. */
                        log_warning_errno(errno, "Failed to accept connection: %m");
                        return 0;
                }

                if (s->n_connections >= s->manager->config.max_connections) {
                        log_warning("Refusing connection: %u connections open (MaxConnections=%u)",
                                    s->n_connections, s->manager->config.max_connections);
                        safe_close(cfd);
                        continue;
                }

                int r = connection_new(s, cfd);
                if (r < 0)
                        log_warning_errno(r, "Failed to set up connection: %m");
        }
}

int server_new(Manager *m, Server **ret)
{
        Server *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->manager = m;
        s->listen_fd = -EBADF;
        *ret = s;
        return 0;
}

Server *server_free(Server *s)
{
        if (!s)
                return NULL;
        while (s->connections)
                connection_free(s->connections);
        sd_event_source_disable_unref(s->listen_source);
        safe_close(s->listen_fd);
        /* A bound socket is removed; an activated one belongs to systemd. */
        if (s->bound)
                (void) unlink(s->manager->config.socket_path);
        free(s);
        return NULL;
}

/* A socket file left by a daemon that died is removed; one that answers
 * belongs to a running daemon and is not stolen. */
static int remove_stale_socket(const char *path, const struct sockaddr_un *sa, socklen_t salen)
{
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (const struct sockaddr *) sa, salen) == 0)
                return -EADDRINUSE;
        if (errno != ECONNREFUSED)
                return negative_errno();
        if (unlink(path) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

static int mkdir_parents(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *slash = '/';
        }
        return 0;
}

static int server_bind(Server *s)
{
        const Config *cfg = &s->manager->config;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        if (strlen(cfg->socket_path) >= sizeof sa.sun_path)
                return log_error_errno(ENAMETOOLONG, "Socket path %s is too long", cfg->socket_path);
        strcpy(sa.sun_path, cfg->socket_path);
        socklen_t salen = offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path) + 1;

        r = mkdir_parents(cfg->socket_path, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create the directory of %s: %m", cfg->socket_path);
        r = remove_stale_socket(cfg->socket_path, &sa, salen);
        if (r == -EADDRINUSE)
                return log_error_errno(r, "Another daemon is listening on %s", cfg->socket_path);
        if (r < 0)
                return log_error_errno(r, "Cannot replace %s: %m", cfg->socket_path);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create socket: %m");

        /* The socket is born with its final mode: no window where it is
         * looser than configured. */
        mode_t old = umask(~cfg->socket_mode & 0777);
        r = bind(fd, (const struct sockaddr *) &sa, salen);
        umask(old);
        if (r < 0)
                return log_error_errno(errno, "Failed to bind %s: %m", cfg->socket_path);
        s->bound = true;

        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "Failed to listen on %s: %m", cfg->socket_path);

        s->listen_fd = TAKE_FD(fd);
        return 0;
}

int server_listen(Server *s)
{
        int n, r;

        n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "Failed to read sockets passed by systemd: %m");
        if (n > 1)
                return log_error_errno(EINVAL, "Expected at most one socket from systemd, got %d", n);
        if (n == 1) {
                r = sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0);
                if (r < 0)
                        return log_error_errno(r, "Failed to check the socket passed by systemd: %m");
                if (r == 0)
                        return log_error_errno(EINVAL, "The socket passed by systemd is not a listening "
                                                       "SOCK_STREAM Unix socket");
                int flags = fcntl(SD_LISTEN_FDS_START, F_GETFL);
                if (flags < 0 || fcntl(SD_LISTEN_FDS_START, F_SETFL, flags | O_NONBLOCK) < 0)
                        return log_error_errno(errno, "Failed to make the passed socket non-blocking: %m");
                s->listen_fd = SD_LISTEN_FDS_START;
                s->activated = true;
        } else {
                r = server_bind(s);
                if (r < 0)
                        return r;
        }

        r = sd_event_add_io(s->manager->event, &s->listen_source, s->listen_fd, EPOLLIN, on_listen_io, s);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the listening socket: %m");
        return 0;
}

bool server_socket_activated(const Server *s)
{
        return s->activated;
}

unsigned server_connection_count(const Server *s)
{
        return s->n_connections;
}
