/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers of test-sandbox: calls through libsandboxcg whose responses live
 * until teardown, status checks, and checks of a sandbox against the
 * kernel's own files. Paths come from the daemon's HostInfo (`host`). */

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/sandboxcg.h"
#include "tests/integration/harness.h"

typedef Sandboxcg__V1__Sandbox Sandbox;
typedef Sandboxcg__V1__Resources Resources;

#define STATE(s) SANDBOXCG__V1__SANDBOX_STATE__SANDBOX_STATE_##s
#define MiB (INT64_C(1) << 20)
#define SET(m, f, v) ((m).has_##f = 1, (m).f = (v))

/* The running test's world, set up by test-sandbox's fixtures. */
extern char parent[128]; /* unique to the run: every cgroup of the test is below it */
extern TestDaemon d;
extern SandboxcgClient *c;
extern Sandboxcg__V1__HostInfoResponse *host;

/* Bookkeeping: responses are freed and children killed by release_all(). */
void *keep(void *m);
void track(pid_t pid);
void release_all(void);
/* Free the responses kept so far (a long test's children stay). */
void release_responses(void);
/* Wait for a child of the test (after a SIGKILL if kill_it) up to
 * timeout_ms; true with its wait status. */
bool reap(pid_t pid, bool kill_it, int timeout_ms, int *ret_status);
/* A stand-in VMM with threads "vcpu0", "vcpu1", "io-worker" (tids[0..2]). */
pid_t spawn_vmm(pid_t tids[3]);

/* Strings from a ring of buffers: valid for the next 24 calls of fmt,
 * kread and their users. */
const char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* A kernel file without its trailing newline, or NULL (errno set). */
const char *kread(const char *path);
void check_kfile(const char *path, const char *expected);
bool exists(const char *path);

/* Status checks: OK, or the daemon's code and a message naming field (as a
 * word: "id" is not in "invalid"). */
const char *describe(int r);
bool names_field(const char *msg, const char *field);
void check_ok(int r, const char *what);
void check_code(int r, int code, const char *field, const char *what);
#define assert_ok(call) check_ok((call), #call)
#define assert_code(call, code, field) check_code((call), SANDBOXCG_CODE_##code, (field), #call)

/* The host. */
const Sandboxcg__V1__ControllerInfo *controller(const char *name);
int version_of(const char *name);
/* A node ("", "vcpu", "pod_overhead") of a sandbox in the hierarchy of a
 * controller, or "unified" for the cgroup2 mount. */
const char *node_dir(const char *ctrl, const char *id, const char *node);
const char *node_file(const char *ctrl, const char *id, const char *node, const char *file);
/* Where a mount is, relative to the cgroup root ("cpu", or "" on v2). */
const char *mount_rel(const char *ctrl);
/* No directory rel (relative to a mount) in any hierarchy. */
void assert_no_dir(const char *rel);
bool have_hugepages(void);
bool have_swap(void);
const char *v1_unlimited(void);
uint64_t now_ns(void);

/* Requests. */
typedef struct Spec {
        Resources res, ovh;
        Sandboxcg__V1__HugepageLimit hp_res, hp_ovh;
        Sandboxcg__V1__HugepageLimit *hp_res_v[1], *hp_ovh_v[1];
} Spec;
void spec_init(Spec *s);

/* A typed call of the library; the response is freed in teardown. */
#define CALL(method, req, resp)                                       \
        ({                                                            \
                *(resp) = NULL;                                       \
                int _r = sandboxcg_client_##method(c, (req), (resp)); \
                if (_r >= 0)                                          \
                        keep(*(resp));                                \
                _r;                                                   \
        })

int create(const char *id, const char *par, const Spec *s, Sandboxcg__V1__CreateSandboxResponse **ret);
Sandbox *create_ok(const char *id, const Spec *s);
int get(const char *id, Sandbox **ret);
Sandbox *get_ok(const char *id);
int update(const char *id, const Spec *s, Sandbox **ret);
int attach_vmm(const char *id, pid_t pid, Sandbox **ret);
/* Explicit tids (n > 0) and/or discover (expect: 0 for any count). */
int attach_vcpus(const char *id, const pid_t *tids, size_t n, bool discover, unsigned expect,
                 Sandboxcg__V1__AttachVcpusResponse **ret);
int delete_sb(const char *id, bool *ret_existed);
/* Deleted (existed=true), gone from every hierarchy and the state dir. */
void delete_ok(const char *id);
size_t count_sandboxes(void);

/* Checks against the kernel. */
typedef struct Limits {
        int64_t quota_s, quota_vcpu, quota_ovh; /* period 100000 everywhere */
        int64_t shares_s, shares_vcpu, shares_ovh;
        const char *weight_s, *weight_vcpu, *weight_ovh; /* v2: runc's cpu.weight of those shares */
        int64_t memory, memsw;                           /* -1: no limit */
        int64_t pids;                                    /* -1: "max" */
        int64_t hugetlb_2mb;                             /* -1: not checked */
} Limits;
void assert_limits(const char *id, const Limits *l);
/* The limit files of a sandbox as "path=value" lines (free()). */
char *snapshot(const char *id);

bool has_tid(const int32_t *v, size_t n, pid_t tid);
void assert_cgroups_list(const Sandbox *sb);
bool holds_cpu(const Sandboxcg__V1__CgroupPath *p, const char *id);
/* Thread tid of pid is in node ("pod_overhead", "vcpu") in the cpu
 * hierarchy and in S in every other, per /proc/<pid>/task/<tid>/cgroup. */
void assert_thread_in(pid_t pid, pid_t tid, const Sandbox *sb, const char *node);
uint64_t start_time_of(pid_t pid);
const char *record_of(const char *id);
void assert_same_resources(const Resources *got, const Resources *want, const char *what);
void assert_gone(const char *id);
void assert_killed_by_daemon(pid_t pid);
/* Each applied value is what the kernel's file holds. */
void assert_applied(const Sandbox *sb);
const char *applied_value(const Sandbox *sb, const char *file);
