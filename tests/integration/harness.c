/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/integration/harness.h"

static void sleep_ms(int ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        (void) nanosleep(&ts, NULL);
}

int test_connect(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* Run the daemon of d (whose paths are set) with env added to its
 * environment, its stderr to d->log when set, and wait until it serves. */
static int daemon_spawn(TestDaemon *d, const char *const *extra_args, const char *const *env)
{
        const char *builddir = getenv("top_builddir");
        char bin[512];
        const char *argv[64];
        size_t n = 0;

        /* $SANDBOXCGD replaces the built daemon (make check-valgrind: a
         * wrapper that runs it under valgrind). */
        if (getenv("SANDBOXCGD") && *getenv("SANDBOXCGD"))
                (void) snprintf(bin, sizeof bin, "%s", getenv("SANDBOXCGD"));
        else
                (void) snprintf(bin, sizeof bin, "%s/daemon/sandboxcgd", builddir ?: ".");
        argv[n++] = bin;
        argv[n++] = "--config";
        argv[n++] = d->config;
        argv[n++] = "--socket";
        argv[n++] = d->socket;
        argv[n++] = "--state-dir";
        argv[n++] = d->state_dir;
        for (; extra_args && *extra_args && n < ELEMENTSOF(argv) - 1; extra_args++)
                argv[n++] = *extra_args;
        argv[n] = NULL;

        int log_fd = -1;
        if (d->log[0]) {
                log_fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (log_fd < 0)
                        return -errno;
        }

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                if (log_fd >= 0)
                        close(log_fd);
                return r;
        }
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(EXIT_FAILURE);
                if (log_fd >= 0 && dup2(log_fd, STDERR_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                for (; env && *env; env++)
                        if (putenv((char *) *env) < 0)
                                _exit(EXIT_FAILURE);
                execv(bin, (char *const *) argv);
                fprintf(stderr, "exec %s: %m\n", bin);
                _exit(127);
        }
        d->pid = pid;
        if (log_fd >= 0)
                close(log_fd);

        /* Ready when the socket accepts: wait up to 20 s (sanitizer builds
         * start slowly on a loaded machine). */
        for (int i = 0; i < 2000; i++) {
                int fd = test_connect(d->socket);
                if (fd >= 0) {
                        close(fd);
                        return 0;
                }
                if (!test_daemon_alive(d))
                        return -ECHILD;
                sleep_ms(10);
        }
        return -ETIMEDOUT;
}

int test_daemon_start(TestDaemon *d, const char *const *extra_args)
{
        return test_daemon_start_env(d, extra_args, NULL, false);
}

int test_daemon_start_env(TestDaemon *d, const char *const *extra_args, const char *const *env, bool capture)
{
        *d = (TestDaemon){ .pid = -1 };
        (void) snprintf(d->dir, sizeof d->dir, "%s/scg-test-XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(d->dir))
                return -errno;
        (void) snprintf(d->socket, sizeof d->socket, "%s/sandboxcg.sock", d->dir);
        (void) snprintf(d->state_dir, sizeof d->state_dir, "%s/state", d->dir);
        (void) snprintf(d->config, sizeof d->config, "%s/sandboxcgd.conf", d->dir);

        /* An empty configuration file: never the host's. */
        int cfd = open(d->config, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (cfd < 0)
                return -errno;
        close(cfd);
        if (capture)
                (void) snprintf(d->log, sizeof d->log, "%s/daemon.log", d->dir);

        return daemon_spawn(d, extra_args, env);
}

bool test_daemon_alive(const TestDaemon *d)
{
        int status;
        return d->pid > 0 && waitpid(d->pid, &status, WNOHANG) == 0;
}

static void remove_tree(const char *path)
{
        char cmd[600];
        /* Only ever our own mkdtemp() directory. */
        if (strstr(path, "/scg-test-")) {
                (void) snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", path);
                (void) system(cmd);
        }
}

static int daemon_terminate(TestDaemon *d)
{
        int status = 0, ret = -1;

        if (d->pid > 0) {
                (void) kill(d->pid, SIGTERM);
                if (waitpid(d->pid, &status, 0) == d->pid && WIFEXITED(status))
                        ret = WEXITSTATUS(status);
                d->pid = -1;
        }
        return ret;
}

int test_daemon_stop(TestDaemon *d)
{
        int ret = daemon_terminate(d);
        if (d->dir[0])
                remove_tree(d->dir);
        d->dir[0] = '\0';
        return ret;
}

int test_daemon_restart(TestDaemon *d, const char *const *extra_args, int *ret_status)
{
        return test_daemon_restart_env(d, extra_args, NULL, ret_status);
}

int test_daemon_restart_env(TestDaemon *d, const char *const *extra_args, const char *const *env,
                            int *ret_status)
{
        int status = daemon_terminate(d);
        if (ret_status)
                *ret_status = status;
        if (!d->dir[0])
                return -EINVAL;
        return daemon_spawn(d, extra_args, env);
}

int test_daemon_wait(TestDaemon *d, int timeout_ms, int *ret_status)
{
        if (d->pid <= 0)
                return -ECHILD;
        int r = test_wait_exit(d->pid, timeout_ms, ret_status);
        if (r > 0)
                d->pid = -1;
        return r;
}

int test_daemon_stop_keep(TestDaemon *d, int *ret_status)
{
        int status = daemon_terminate(d);

        if (ret_status)
                *ret_status = status;
        return d->dir[0] ? 0 : -EINVAL;
}

int test_daemon_start_again(TestDaemon *d, const char *const *extra_args)
{
        if (!d->dir[0])
                return -EINVAL;
        return daemon_spawn(d, extra_args, NULL);
}

int test_send_raw(int fd, const void *data, size_t size)
{
        const uint8_t *p = data;
        while (size > 0) {
                ssize_t n = send(fd, p, size, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

int test_send_frame(int fd, uint8_t type, uint32_t stream_id, const void *payload, size_t size)
{
        uint8_t hdr[TTRPC_HEADER_SIZE];
        ttrpc_header_encode(&(TtrpcHeader){ .length = (uint32_t) size, .stream_id = stream_id, .type = type },
                            hdr);
        int r = test_send_raw(fd, hdr, sizeof hdr);
        if (r < 0 || size == 0)
                return r;
        return test_send_raw(fd, payload, size);
}

static int recv_exact(int fd, void *buf, size_t size, int timeout_ms)
{
        uint8_t *p = buf;
        while (size > 0) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                int k = poll(&pfd, 1, timeout_ms);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -ETIMEDOUT;
                ssize_t n = recv(fd, p, size, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                p += n;
                size -= (size_t) n;
        }
        return 1;
}

int test_recv_frame(int fd, int timeout_ms, TtrpcHeader *ret_header, uint8_t **ret_payload)
{
        uint8_t hdr[TTRPC_HEADER_SIZE];
        int r = recv_exact(fd, hdr, sizeof hdr, timeout_ms);
        if (r <= 0)
                return r;
        ttrpc_header_decode(hdr, ret_header);
        uint8_t *payload = malloc(ret_header->length + 1);
        if (!payload)
                return -ENOMEM;
        r = ret_header->length > 0 ? recv_exact(fd, payload, ret_header->length, timeout_ms) : 1;
        if (r <= 0) {
                free(payload);
                return r;
        }
        *ret_payload = payload;
        return 1;
}

int test_pack_request_raw(const char *service, const char *method, const void *data, size_t size, uint8_t **ret,
                          size_t *ret_size)
{
        Ttrpc__Request req = TTRPC__REQUEST__INIT;

        req.service = (char *) service;
        req.method = (char *) method;
        req.payload.data = (uint8_t *) data;
        req.payload.len = data ? size : 0;
        size_t n = protobuf_c_message_get_packed_size(&req.base);
        uint8_t *buf = malloc(MAX(n, (size_t) 1));
        if (!buf)
                return -ENOMEM;
        protobuf_c_message_pack(&req.base, buf);
        *ret = buf;
        *ret_size = n;
        return 0;
}

int test_pack_request(const char *service, const char *method, const ProtobufCMessage *msg, uint8_t **ret,
                      size_t *ret_size)
{
        _cleanup_free_ uint8_t *inner = NULL;
        size_t n = 0;

        if (msg) {
                n = protobuf_c_message_get_packed_size(msg);
                inner = malloc(MAX(n, (size_t) 1));
                if (!inner)
                        return -ENOMEM;
                protobuf_c_message_pack(msg, inner);
        }
        return test_pack_request_raw(service, method, inner, n, ret, ret_size);
}

int test_recv_response(int fd, uint32_t stream_id, int timeout_ms, Ttrpc__Response **ret)
{
        _cleanup_free_ uint8_t *payload = NULL;
        TtrpcHeader h;

        int r = test_recv_frame(fd, timeout_ms, &h, &payload);
        if (r <= 0)
                return r == 0 ? -ECONNRESET : r;
        if (h.stream_id != stream_id || h.type != TTRPC_TYPE_RESPONSE)
                return -EPROTO;
        *ret = ttrpc__response__unpack(NULL, h.length, payload);
        return *ret ? 0 : -EBADMSG;
}

int test_call_packed(int fd, uint32_t stream_id, const uint8_t *req, size_t size, Ttrpc__Response **ret)
{
        int r = test_send_frame(fd, TTRPC_TYPE_REQUEST, stream_id, req, size);
        if (r < 0)
                return r;
        return test_recv_response(fd, stream_id, 30000, ret);
}

int test_call(int fd, uint32_t stream_id, const char *method, const ProtobufCMessage *msg,
              Ttrpc__Response **ret)
{
        _cleanup_free_ uint8_t *req = NULL;
        size_t size;

        int r = test_pack_request("sandboxcg.v1.SandboxCgroup", method, msg, &req, &size);
        if (r < 0)
                return r;
        return test_call_packed(fd, stream_id, req, size, ret);
}

bool test_wait_closed(int fd, int timeout_ms)
{
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        char c;

        for (;;) {
                int k = poll(&pfd, 1, timeout_ms);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                /* A reset counts as closed too. */
                return n == 0 || (n < 0 && errno == ECONNRESET);
        }
}

#include <pthread.h>
#include <sys/syscall.h>

typedef struct FakeThread {
        const char *name;
        int fd;
        int32_t index;
} FakeThread;

/* Names itself, then reports (index, tid): the name is in /proc before the
 * parent hears of the thread. */
static void *fake_thread(void *arg)
{
        FakeThread *t = arg;
        int32_t msg[2] = { t->index, (int32_t) syscall(SYS_gettid) };
        (void) pthread_setname_np(pthread_self(), t->name);
        (void) write(t->fd, msg, sizeof msg);
        for (;;)
                pause();
        return NULL;
}

int test_spawn_fake_vmm(const char *const *names, size_t n, pid_t *ret_pid, pid_t *ret_tids)
{
        int p[2];
        /* One message per thread report. */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0)
                return -errno;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(EXIT_FAILURE);
                close(p[0]);
                static FakeThread threads[64];
                for (size_t i = 0; i < n && i < ELEMENTSOF(threads); i++) {
                        pthread_t t;
                        threads[i] = (FakeThread){ names[i], p[1], (int32_t) i };
                        if (pthread_create(&t, NULL, fake_thread, &threads[i]) != 0)
                                _exit(EXIT_FAILURE);
                }
                for (;;)
                        pause();
        }
        close(p[1]);
        for (size_t i = 0; i < n; i++) {
                int32_t msg[2];
                if (recv_exact(p[0], msg, sizeof msg, 10000) != 1 || msg[0] < 0 || (size_t) msg[0] >= n) {
                        close(p[0]);
                        test_kill_and_reap(pid);
                        return -EIO;
                }
                ret_tids[msg[0]] = msg[1];
        }
        close(p[0]);
        *ret_pid = pid;
        return 0;
}

void test_kill_and_reap(pid_t pid)
{
        if (pid <= 0)
                return;
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}

int test_spawn_memory_user(size_t bytes, pid_t *ret_pid, int *ret_fd)
{
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                char b;
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent || read(sv[1], &b, 1) != 1)
                        _exit(EXIT_FAILURE);
                char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        _exit(EXIT_FAILURE);
                memset(p, 1, bytes);
                (void) write(sv[1], "t", 1);
                for (;;)
                        pause();
        }
        close(sv[1]);
        *ret_pid = pid;
        *ret_fd = sv[0];
        return 0;
}

int test_memory_user_touch(int fd, int timeout_ms)
{
        char b;
        if (write(fd, "t", 1) != 1)
                return -errno;
        int r = recv_exact(fd, &b, 1, timeout_ms);
        return r == 1 ? 0 : r == 0 ? -ECONNRESET : r;
}

pid_t test_dead_pid(void)
{
        pid_t pid = fork();
        if (pid == 0)
                _exit(0);
        if (pid < 0 || waitpid(pid, NULL, 0) != pid)
                return -1;
        return pid;
}

int test_wait_exit(pid_t pid, int timeout_ms, int *ret_status)
{
        for (int i = 0;; i++) {
                pid_t r = waitpid(pid, ret_status, WNOHANG);
                if (r < 0)
                        return -errno;
                if (r == pid)
                        return 1;
                if (i >= timeout_ms / 10)
                        return 0;
                sleep_ms(10);
        }
}

int test_read_file(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t n = 0;
        while (n < size - 1) {
                ssize_t k = read(fd, buf + n, size - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        close(fd);
        while (n > 0 && buf[n - 1] == '\n')
                n--;
        buf[n] = '\0';
        return 0;
}

int test_task_cgroup(pid_t pid, pid_t tid, const char *hierarchy, char **ret)
{
        char path[96], line[4096];
        (void) snprintf(path, sizeof path, "/proc/%d/task/%d/cgroup", (int) pid, (int) tid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        int r = -ENOENT;
        while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\n")] = '\0';
                char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
                if (!b)
                        continue;
                *b = '\0';
                /* The controller list of the line, e.g. "cpu" or "cpu,cpuacct". */
                const char *ctrls = a + 1;
                bool match = hierarchy[0] == '\0' ? ctrls[0] == '\0' : false;
                if (!match && hierarchy[0]) {
                        char copy[256];
                        (void) snprintf(copy, sizeof copy, "%s", ctrls);
                        for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
                             tok = strtok_r(NULL, ",", &save))
                                if (streq(tok, hierarchy))
                                        match = true;
                }
                if (match) {
                        *ret = strdup(b + 1);
                        r = *ret ? 0 : -ENOMEM;
                        break;
                }
        }
        fclose(f);
        return r;
}

void test_unique_parent(char *buf, size_t size)
{
        (void) snprintf(buf, size, "scg-test-%d-%ld", (int) getpid(), (long) time(NULL));
}

void test_remove_parent_everywhere(const char *parent)
{
        char cmd[1024];
        /* Only a parent this run made: its name says so. Whatever is still
         * inside (a stand-in VMM whose test failed) is ours: kill it, then
         * remove the directories depth first, retrying while tasks exit. */
        if (!strstr(parent, "scg-test-") || strchr(parent, '\'') || strstr(parent, ".."))
                return;
        (void) snprintf(cmd, sizeof cmd,
                        "for i in 1 2 3 4 5 6 7 8 9 10; do left=0; "
                        "for d in /sys/fs/cgroup/*/'%s' /sys/fs/cgroup/'%s'; do [ -d \"$d\" ] || continue; left=1; "
                        "cat $(find \"$d\" -name cgroup.procs) 2>/dev/null | xargs -r kill -9 2>/dev/null; "
                        "find \"$d\" -depth -type d -exec rmdir {} + 2>/dev/null; done; "
                        "[ $left = 0 ] && break; sleep 0.1; done; true",
                        parent, parent);
        (void) system(cmd);
}
