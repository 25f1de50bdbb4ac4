/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Integration test harness: runs the built sandboxcgd on a socket in a
 * private temporary directory, and speaks raw ttrpc frames to it. */

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/frame.h"
#include "ttrpc.pb-c.h"

typedef struct TestDaemon {
        pid_t pid;
        char dir[256];          /* private temporary directory */
        char socket[300];
        char state_dir[300];
        char config[300];
        char log[300];          /* "": the daemon's stderr is the test's */
} TestDaemon;

/* Start the daemon with extra command-line arguments (NULL-terminated, may
 * be NULL) and wait until its socket accepts connections. The daemon gets
 * SIGTERM if the test process dies. */
int test_daemon_start(TestDaemon *d, const char *const *extra_args);

/* SIGTERM, wait, remove the directory. Returns the exit status (0 when the
 * daemon stopped cleanly, which under ASan includes "no leaks"), or -1 when
 * it was killed by a signal. */
int test_daemon_stop(TestDaemon *d);

/* Stop the daemon as test_daemon_stop() does (its exit status, in the same
 * terms, goes to *ret_status) but keep its directory, and start it again
 * with the same socket, state directory and configuration. Returns what
 * test_daemon_start() returns. */
int test_daemon_restart(TestDaemon *d, const char *const *extra_args, int *ret_status);
/* test_daemon_restart() in two steps, to change the state directory while the
 * daemon is down. */
int test_daemon_stop_keep(TestDaemon *d, int *ret_status);
int test_daemon_start_again(TestDaemon *d, const char *const *extra_args);

/* As test_daemon_start(), with entries ("NAME=value", NULL-terminated, may
 * be NULL) added to the daemon's environment for this start only. With
 * capture, the daemon's stderr is appended to d->log (<dir>/daemon.log) for
 * this and every later (re)start of d instead of going to the test's. */
int test_daemon_start_env(TestDaemon *d, const char *const *extra_args, const char *const *env, bool capture);

/* As test_daemon_restart(), with environment entries for this start only.
 * A daemon that has exited already (test_daemon_wait()) is just started
 * again; *ret_status is then -1. */
int test_daemon_restart_env(TestDaemon *d, const char *const *extra_args, const char *const *env,
                            int *ret_status);

/* Wait up to timeout_ms for the daemon to exit on its own (nothing is sent
 * to it): 1 with its wait status (d->pid is -1 then), 0 while it runs,
 * -errno. */
int test_daemon_wait(TestDaemon *d, int timeout_ms, int *ret_status);

/* Is the daemon process still running? */
bool test_daemon_alive(const TestDaemon *d);

int test_connect(const char *path);

int test_send_frame(int fd, uint8_t type, uint32_t stream_id, const void *payload, size_t size);
int test_send_raw(int fd, const void *data, size_t size);

/* Wait up to timeout_ms for one frame. Returns 1 with the frame (payload
 * malloc'd), 0 on EOF, -ETIMEDOUT, or -errno. */
int test_recv_frame(int fd, int timeout_ms, TtrpcHeader *ret_header, uint8_t **ret_payload);

/* Pack a ttrpc.Request for the sandboxcg service (or another service). */
int test_pack_request(const char *service, const char *method, const ProtobufCMessage *msg, uint8_t **ret,
                      size_t *ret_size);

/* The same with the method's payload given as bytes (data NULL: none),
 * which need not be a valid message. */
int test_pack_request_raw(const char *service, const char *method, const void *data, size_t size, uint8_t **ret,
                          size_t *ret_size);

/* Send one request and wait for the response on the same stream. */
int test_call(int fd, uint32_t stream_id, const char *method, const ProtobufCMessage *msg,
              Ttrpc__Response **ret);
/* The same for a request packed already (a ttrpc.Request, or any bytes). */
int test_call_packed(int fd, uint32_t stream_id, const uint8_t *req, size_t size, Ttrpc__Response **ret);
/* Wait up to timeout_ms for the next frame, which must be the response on
 * stream_id: 0 with it, -ECONNRESET on EOF, -ETIMEDOUT, -EPROTO (another
 * frame), -EBADMSG, -errno. */
int test_recv_response(int fd, uint32_t stream_id, int timeout_ms, Ttrpc__Response **ret);

/* Wait up to timeout_ms until the daemon closes fd (EOF or reset): false
 * when it did not, or sent data instead. */
bool test_wait_closed(int fd, int timeout_ms);

/* A stand-in VMM: a child process whose threads are named names[0..n-1]
 * (e.g. "vcpu0") besides its main thread, which waits to be killed. The
 * child dies with the test process. Returns the pid and the thread ids (in
 * the order of names). */
int test_spawn_fake_vmm(const char *const *names, size_t n, pid_t *ret_pid, pid_t *ret_tids);
/* SIGKILL and reap a process started by the test (no-op for pid <= 0). */
void test_kill_and_reap(pid_t pid);

/* A stand-in process that maps and touches `bytes` of anonymous memory when
 * test_memory_user_touch() tells it to (after it was moved into a cgroup),
 * then waits to be killed; it dies with the test process. *ret_fd is the
 * caller's end of the control socket. */
int test_spawn_memory_user(size_t bytes, pid_t *ret_pid, int *ret_fd);
/* Touch now and wait up to timeout_ms until it is done. */
int test_memory_user_touch(int fd, int timeout_ms);

/* A pid no process has: a child that exited and was reaped. */
pid_t test_dead_pid(void);

/* Reap a child within timeout_ms: 1 with its wait status, 0 when it still
 * runs, -errno. */
int test_wait_exit(pid_t pid, int timeout_ms, int *ret_status);

/* A whole (small) file without its trailing newlines into buf. */
int test_read_file(const char *path, char *buf, size_t size);

/* The cgroup path of a task in one hierarchy, from /proc/<pid>/task/<tid>/cgroup:
 * hierarchy is a v1 controller name ("cpu") or "" for the cgroup2 line. */
int test_task_cgroup(pid_t pid, pid_t tid, const char *hierarchy, char **ret);

/* A unique cgroup parent name for this run, and removal of everything under
 * it in every hierarchy below /sys/fs/cgroup (depth first). */
void test_unique_parent(char *buf, size_t size);
void test_remove_parent_everywhere(const char *parent);
