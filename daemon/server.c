/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "common/fs-util.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/server.h"

/* Reads per wake-up of one connection, so a busy client cannot starve the
 * others. */
#define READS_PER_EVENT 16

/* Refused connections are logged, but a flood of them is not: at most this
 * many lines per interval, then one line saying how many were not logged. */
#define REFUSAL_LOG_BURST 10
#define REFUSAL_LOG_INTERVAL_USEC (10 * UINT64_C(1000000))

#define NSEC_PER_SEC UINT64_C(1000000000)

typedef struct Connection Connection;

enum {
        LISTENER_MAIN,
        LISTENER_READ_ONLY,
        _LISTENER_MAX,
};

typedef struct Listener {
        Server *server;
        int fd;                         /* -EBADF: not listening */
        bool read_only;                 /* serves the read-only methods only, to anyone who connects */
        bool activated;                 /* passed by systemd */
        char *path;                     /* the socket file we created (removed at exit); NULL if activated */
        sd_event_source *source;
} Listener;

struct Server {
        Manager *manager;
        Listener listeners[_LISTENER_MAX];
        Connection *connections;        /* doubly linked list */
        unsigned n_connections;

        /* Log rate limit of refused connections. */
        uint64_t refusal_window_start;
        unsigned refusals_logged, refusals_suppressed;
};

struct Connection {
        Server *server;
        Connection *prev, *next;
        int fd;
        Peer peer;
        gid_t *groups;                  /* peer.groups */
        sd_event_source *io_source;
        sd_event_source *timer_source;
        FrameReader reader;
        FrameWriter writer;
        uint64_t last_activity;         /* CLOCK_MONOTONIC µs of the last complete frame or accept */
        uint64_t partial_since;         /* when the pending partial frame started, 0 if none */
        bool reading_paused;            /* too many responses wait for the peer to read them */
        bool backlog;                   /* complete requests wait in the reader (in-flight limit) */
        bool eof;                       /* the peer sent everything it will send */
        bool rate_limited_logged;

        /* Requests in flight: answered, but their responses not yet (fully)
         * written to the socket. For each one, the total of response bytes
         * queued up to its end, oldest first (a FIFO in ends[start..n)). */
        uint64_t bytes_queued;
        uint64_t *ends;
        size_t ends_start, n_ends, ends_allocated;

        /* RequestRate=: the theoretical arrival time of the next request
         * (GCRA, the token bucket as a single timestamp), ns. */
        uint64_t rate_tat;
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
        free(c->groups);
        free(c->ends);
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

/* Responses whose bytes have not all been written to the socket yet. */
static size_t connection_in_flight(Connection *c)
{
        uint64_t written = c->bytes_queued - frame_writer_pending(&c->writer);

        while (c->ends_start < c->n_ends && c->ends[c->ends_start] <= written)
                c->ends_start++;
        if (c->ends_start == c->n_ends)
                c->ends_start = c->n_ends = 0;
        return c->n_ends - c->ends_start;
}

static int connection_queue(Connection *c, uint32_t stream_id, const uint8_t *payload, size_t size)
{
        TtrpcHeader h = {
                .length = (uint32_t) size,
                .stream_id = stream_id,
                .type = TTRPC_TYPE_RESPONSE,
        };
        int r;

        (void) connection_in_flight(c);
        if (c->n_ends == c->ends_allocated) {
                if (c->ends_start > 0) {
                        memmove(c->ends, c->ends + c->ends_start, (c->n_ends - c->ends_start) * sizeof *c->ends);
                        c->n_ends -= c->ends_start;
                        c->ends_start = 0;
                } else {
                        size_t n = MAX(c->ends_allocated * 2, (size_t) 8);
                        uint64_t *e = realloc(c->ends, n * sizeof *e);
                        if (!e)
                                return -ENOMEM;
                        c->ends = e;
                        c->ends_allocated = n;
                }
        }

        r = frame_writer_append(&c->writer, &h, payload);
        if (r < 0)
                return r;
        c->bytes_queued += TTRPC_HEADER_SIZE + size;
        c->ends[c->n_ends++] = c->bytes_queued;
        return 0;
}

/* RequestRate= and RequestBurst=, as a generic cell rate algorithm: one
 * request per 1/rate s, up to burst of them at once. */
static bool connection_rate_ok(Connection *c)
{
        const Config *cfg = &c->server->manager->config;

        if (cfg->request_rate == 0)
                return true;

        uint64_t now = now_usec(c->server) * 1000;
        uint64_t interval = NSEC_PER_SEC / cfg->request_rate;
        uint64_t tolerance = (uint64_t) (MAX(cfg->request_burst, 1u) - 1) * interval;
        uint64_t tat = MAX(c->rate_tat, now);

        if (tat - now > tolerance)
                return false;
        c->rate_tat = tat + interval;
        return true;
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
static int connection_flush(Connection *c);

static int connection_process(Connection *c)
{
        Manager *m = c->server->manager;
        TtrpcHeader h;
        const uint8_t *payload;
        int r;

        c->backlog = false;
        for (;;) {
                /* MaxRequestsPerConnection=: answered requests whose
                 * responses the peer has not taken yet. Past it, requests
                 * stay unread until it does. */
                if (connection_in_flight(c) >= m->config.max_requests_per_connection) {
                        r = connection_flush(c);
                        if (r < 0)
                                return r;
                        if (connection_in_flight(c) >= m->config.max_requests_per_connection) {
                                c->backlog = frame_reader_partial(&c->reader);
                                break;
                        }
                }

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
                if (!connection_rate_ok(c)) {
                        char msg[128];
                        (void) snprintf(msg, sizeof msg, "rate limit: at most %u requests per second",
                                        m->config.request_rate);
                        if (!c->rate_limited_logged)
                                log_notice("Peer pid %d uid %u exceeds RequestRate=%u (RequestBurst=%u); its "
                                           "requests are refused until it slows down",
                                           (int) c->peer.pid, (unsigned) c->peer.uid, m->config.request_rate,
                                           m->config.request_burst);
                        c->rate_limited_logged = true;
                        r = connection_queue_status(c, h.stream_id, GRPC_RESOURCE_EXHAUSTED, msg);
                        if (r < 0)
                                return r;
                        continue;
                }
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

        /* Track how long a partial frame has been pending. Complete
         * requests held back by the in-flight limit are not one: the peer
         * is not reading, which the idle timeout covers. */
        if (frame_reader_partial(&c->reader) && !c->backlog) {
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
         * read until it does, so its queue stays bounded, in bytes and in
         * requests. */
        const Config *cfg = &c->server->manager->config;
        c->reading_paused = frame_writer_pending(&c->writer) > 2 * (size_t) cfg->max_message_size ||
                            connection_in_flight(c) >= cfg->max_requests_per_connection;
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

        if ((revents & EPOLLIN) && !c->eof && !c->backlog) {
                for (int i = 0; i < READS_PER_EVENT && !c->reading_paused; i++) {
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
                        if (c->backlog ||
                            frame_writer_pending(&c->writer) > 2 * (size_t) c->server->manager->config.max_message_size)
                                break;
                }
        } else if (revents & EPOLLERR)
                c->eof = true;

        r = connection_flush(c);
        /* Requests held back by the in-flight limit, now that responses
         * went out; each round answers at most the limit. */
        while (r >= 0 && c->backlog && !c->reading_paused) {
                r = connection_process(c);
                if (r >= 0)
                        r = connection_flush(c);
        }
        if (r < 0) {
                connection_close(c, r, "write failed");
                return 0;
        }
        if (c->eof && !c->backlog && frame_writer_pending(&c->writer) == 0) {
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

/* The supplementary groups the peer had when it connected. Kernels before
 * 4.13 lack SO_PEERGROUPS: then only the primary group counts. */
static int peer_groups(int fd, gid_t **ret, size_t *ret_n)
{
        socklen_t len = 32 * sizeof(gid_t);

        for (int tries = 0; tries < 4; tries++) {
                _cleanup_free_ gid_t *groups = malloc(MAX(len, (socklen_t) sizeof(gid_t)));
                if (!groups)
                        return -ENOMEM;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
                        *ret_n = len / sizeof(gid_t);
                        *ret = TAKE_PTR(groups);
                        return 0;
                }
                if (errno == ENOPROTOOPT) {
                        *ret = NULL;
                        *ret_n = 0;
                        return 0;
                }
                /* ERANGE: len now says how much it takes. */
                if (errno != ERANGE)
                        return negative_errno();
        }
        return -ERANGE; /* the groups changed under us, repeatedly */
}

/* Log a refused connection, at most REFUSAL_LOG_BURST lines per interval. */
static void log_refusal(Server *s, const char *format, ...) _printf_(2, 3);
static void log_refusal(Server *s, const char *format, ...)
{
        uint64_t now = now_usec(s);
        char msg[256];
        va_list ap;

        if (s->refusal_window_start == 0 || now - s->refusal_window_start >= REFUSAL_LOG_INTERVAL_USEC) {
                if (s->refusals_suppressed > 0)
                        log_warning("%u more connections were refused and not logged", s->refusals_suppressed);
                s->refusal_window_start = now;
                s->refusals_logged = s->refusals_suppressed = 0;
        }
        if (s->refusals_logged >= REFUSAL_LOG_BURST) {
                s->refusals_suppressed++;
                return;
        }
        s->refusals_logged++;
        va_start(ap, format);
        (void) vsnprintf(msg, sizeof msg, format, ap);
        va_end(ap);
        log_warning("%s", msg);
}

static unsigned server_connections_of(const Server *s, uid_t uid)
{
        unsigned n = 0;
        for (const Connection *c = s->connections; c; c = c->next)
                n += c->peer.uid == uid;
        return n;
}

static int connection_new(Listener *l, int fd)
{
        Server *s = l->server;
        const Config *cfg = &s->manager->config;
        _cleanup_close_ int cfd = fd;
        _cleanup_free_ gid_t *groups = NULL;
        size_t n_groups = 0;
        struct ucred cred;
        socklen_t len = sizeof cred;
        int r;

        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return negative_errno();

        /* MaxConnectionsPerUser=: one uid cannot take every slot. Root
         * (the runtime, one shim per sandbox) is bounded by MaxConnections=
         * only. */
        unsigned open_of_uid = cred.uid != 0 ? server_connections_of(s, cred.uid) : 0;
        if (cred.uid != 0 && open_of_uid >= cfg->max_connections_per_user) {
                log_refusal(s, "Refusing connection of pid %d uid %u: it has %u open (MaxConnectionsPerUser=%u)",
                            (int) cred.pid, (unsigned) cred.uid, open_of_uid, cfg->max_connections_per_user);
                return 0;
        }

        r = peer_groups(cfd, &groups, &n_groups);
        if (r < 0)
                return r;

        Connection *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->server = s;
        c->fd = TAKE_FD(cfd);
        c->groups = TAKE_PTR(groups);
        c->peer = (Peer){
                .pid = cred.pid,
                .uid = cred.uid,
                .gid = cred.gid,
                .groups = c->groups,
                .n_groups = n_groups,
                .read_only = l->read_only,
        };
        c->last_activity = now_usec(s);
        frame_reader_init(&c->reader, cfg->max_message_size);
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

        log_debug("New connection%s from pid %d uid %u gid %u (%zu supplementary groups)",
                  l->read_only ? " on the read-only socket" : "", (int) c->peer.pid, (unsigned) c->peer.uid,
                  (unsigned) c->peer.gid, n_groups);
        return 0;
fail:
        connection_free(c);
        return r;
}

static int on_listen_io(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        Listener *l = userdata;
        Server *s = l->server;

        for (;;) {
                int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
                        log_refusal(s, "Refusing connection: %u connections open (MaxConnections=%u)",
                                    s->n_connections, s->manager->config.max_connections);
                        safe_close(cfd);
                        continue;
                }

                int r = connection_new(l, cfd);
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
        for (size_t i = 0; i < _LISTENER_MAX; i++)
                s->listeners[i] = (Listener){
                        .server = s,
                        .fd = -EBADF,
                        .read_only = i == LISTENER_READ_ONLY,
                };
        *ret = s;
        return 0;
}

Server *server_free(Server *s)
{
        if (!s)
                return NULL;
        while (s->connections)
                connection_free(s->connections);
        for (size_t i = 0; i < _LISTENER_MAX; i++) {
                Listener *l = &s->listeners[i];
                sd_event_source_disable_unref(l->source);
                safe_close(l->fd);
                /* A bound socket is removed; an activated one belongs to
                 * systemd. */
                if (l->path)
                        (void) unlink(l->path);
                free(l->path);
        }
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

/* The directory of a socket must not let anyone else replace the socket
 * file: owned by root (or by us), and not writable by group or others
 * unless sticky (as /tmp is). */
static int check_socket_directory(const char *path)
{
        _cleanup_free_ char *dir = strdup(path);
        struct stat st;

        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash)
                return -EINVAL;
        if (slash == dir)
                slash[1] = '\0';
        else
                *slash = '\0';

        if (stat(dir, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return -EPERM;
        if ((st.st_mode & 0022) && !(st.st_mode & S_ISVTX))
                return -EPERM;
        return 0;
}

/* Create the socket file at path with its final mode and group before
 * anyone can connect: it is bound with the owner's bits of the mode only
 * (bind() takes 0777 minus the umask), then given its group, then its whole
 * mode; listen() comes later (server_listen). At no point is it looser
 * than configured, in any bit. */
static int listener_bind(Listener *l, const char *what, const char *path, mode_t mode, gid_t gid)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        if (strlen(path) >= sizeof sa.sun_path)
                return log_error_errno(ENAMETOOLONG, "%s %s is too long", what, path);
        strcpy(sa.sun_path, path);
        socklen_t salen = offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path) + 1;

        r = mkdir_parents(path, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create the directory of %s: %m", path);
        r = check_socket_directory(path);
        if (r == -EPERM)
                return log_error_errno(r, "The directory of %s is not owned by root or is writable by others "
                                          "(and not sticky): refusing to put a socket there",
                                       path);
        if (r < 0)
                return log_error_errno(r, "Cannot check the directory of %s: %m", path);
        r = remove_stale_socket(path, &sa, salen);
        if (r == -EADDRINUSE)
                return log_error_errno(r, "Another daemon is listening on %s", path);
        if (r < 0)
                return log_error_errno(r, "Cannot replace %s: %m", path);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create socket: %m");

        mode_t old = umask(0777 & ~(mode & 0700));
        r = bind(fd, (const struct sockaddr *) &sa, salen);
        umask(old);
        if (r < 0)
                return log_error_errno(errno, "Failed to bind %s: %m", path);
        l->path = strdup(path);
        if (!l->path) {
                (void) unlink(path);
                return log_error_errno(ENOMEM, "Out of memory");
        }

        /* The directory is ours and not writable by others (checked
         * above): the file at path is the socket just bound. */
        if (gid != GID_INVALID && fchownat(AT_FDCWD, path, (uid_t) -1, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return log_error_errno(errno, "Failed to give %s to group %u: %m", path, (unsigned) gid);
        if (fchmodat(AT_FDCWD, path, mode, 0) < 0)
                return log_error_errno(errno, "Failed to set the mode of %s to %04o: %m", path, (unsigned) mode);

        l->fd = TAKE_FD(fd);
        log_debug("%s %s: mode %04o, group %s%u", what, path, (unsigned) mode,
                  gid == GID_INVALID ? "of the daemon " : "", gid == GID_INVALID ? (unsigned) getegid() : (unsigned) gid);
        return 0;
}

static int listener_adopt(Listener *l, int fd)
{
        int r = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to check the socket passed by systemd: %m");
        if (r == 0)
                return log_error_errno(EINVAL, "The socket passed by systemd is not a listening "
                                               "SOCK_STREAM Unix socket");
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return log_error_errno(errno, "Failed to make the passed socket non-blocking: %m");
        l->fd = fd;
        l->activated = true;
        return 0;
}

/* Sockets passed by systemd: one is the main socket, and one named
 * "readonly" (FileDescriptorName=readonly) may be the read-only socket. */
static int server_adopt_sockets(Server *s)
{
        char **names = NULL;
        int n, r = 0;

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to read sockets passed by systemd: %m");

        for (int i = 0; i < n && r >= 0; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                bool read_only = names && names[i] && streq(names[i], "readonly");
                Listener *l = &s->listeners[read_only ? LISTENER_READ_ONLY : LISTENER_MAIN];

                if (l->fd >= 0)
                        r = log_error_errno(EINVAL, "systemd passed more than one %s socket",
                                            read_only ? "read-only" : "main");
                else
                        r = listener_adopt(l, fd);
        }
        if (r >= 0 && n > 0 && s->listeners[LISTENER_MAIN].fd < 0)
                r = log_error_errno(EINVAL, "systemd passed only a read-only socket");

        for (int i = 0; names && i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

int server_listen(Server *s)
{
        const Config *cfg = &s->manager->config;
        int r;

        r = server_adopt_sockets(s);
        if (r < 0)
                return r;

        /* The main socket's group: SocketGroup=, else the admin group, so
         * that the members it authorizes can connect. */
        if (s->listeners[LISTENER_MAIN].fd < 0) {
                r = listener_bind(&s->listeners[LISTENER_MAIN], "Socket", cfg->socket_path, cfg->socket_mode,
                                  cfg->socket_group != GID_INVALID ? cfg->socket_group : cfg->admin_group);
                if (r < 0)
                        return r;
        }
        /* The read-only socket's group is the read-only group. */
        if (s->listeners[LISTENER_READ_ONLY].fd < 0 && cfg->read_only_socket) {
                r = listener_bind(&s->listeners[LISTENER_READ_ONLY], "Read-only socket", cfg->read_only_socket,
                                  cfg->read_only_socket_mode, cfg->read_only_group);
                if (r < 0)
                        return r;
        }

        /* Every socket is complete before any accepts a connection: a
         * client that got through one finds the other as configured. The
         * main socket listens last, so that one who reached it (a test, a
         * supervisor waiting for the daemon) finds the read-only one
         * listening too. */
        for (size_t i = _LISTENER_MAX; i-- > 0;) {
                Listener *l = &s->listeners[i];
                if (l->fd < 0)
                        continue;
                if (!l->activated && listen(l->fd, SOMAXCONN) < 0)
                        return log_error_errno(errno, "Failed to listen on %s: %m", l->path);
                r = sd_event_add_io(s->manager->event, &l->source, l->fd, EPOLLIN, on_listen_io, l);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch the listening socket: %m");
        }
        if (s->listeners[LISTENER_READ_ONLY].fd >= 0)
                log_info("Serving the read-only methods on %s%s",
                         s->listeners[LISTENER_READ_ONLY].activated ? "a socket passed by systemd" : "",
                         strempty(s->listeners[LISTENER_READ_ONLY].path));
        return 0;
}

bool server_socket_activated(const Server *s)
{
        return s->listeners[LISTENER_MAIN].activated;
}

unsigned server_connection_count(const Server *s)
{
        return s->n_connections;
}
