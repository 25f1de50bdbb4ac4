/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sandboxcg-bench: the same sandbox life (create the tree with all limits,
 * attach a VMM process and a vCPU thread, delete) done three ways on this
 * host's real cgroups: directly on cgroupfs (the floor), through libcgroup
 * (the peer), and through sandboxcgd via libsandboxcg. See
 * tests/bench/README section in README.md ("Speed"). */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/sandboxcg.h"

/* The sandbox every life creates: the pod's resources and its overhead. */
#define SPEC_RES_PERIOD 100000
#define SPEC_RES_QUOTA 200000
#define SPEC_RES_SHARES 2048
#define SPEC_RES_MEMORY (INT64_C(2) << 30)
#define SPEC_RES_SWAP (INT64_C(3) << 30) /* memory + swap, as CRI has it */
#define SPEC_RES_HUGEPAGES (UINT64_C(1) << 30) /* per page size the host has */
#define SPEC_RES_PIDS 1024
#define SPEC_OVH_PERIOD 100000
#define SPEC_OVH_QUOTA 25000
#define SPEC_OVH_SHARES 256
#define SPEC_OVH_MEMORY (INT64_C(256) << 20)

#define MAX_HIER 16
#define MAX_PLAN 64
#define MAX_HUGEPAGE_SIZES 4
#define MAX_ROUNDS 32
#define ID_MAX 48

typedef enum Ctl {
        CTL_CPU,
        CTL_CPUACCT,
        CTL_CPUSET,
        CTL_MEMORY,
        CTL_HUGETLB,
        CTL_PIDS,
        CTL_FREEZER,
        _CTL_MAX,
} Ctl;

typedef enum Node {
        NODE_S,
        NODE_VCPU,
        NODE_OVERHEAD,
} Node;

/* One cgroup hierarchy a sandbox lives in, as the daemon lists them. */
typedef struct Hier {
        char name[64];          /* "cpu", "cpu,cpuacct", ... or "unified" */
        char rel[64];           /* mount relative to /sys/fs/cgroup */
        int version;            /* 1 or 2 */
        int fd;                 /* O_PATH|O_DIRECTORY of the mount */
        unsigned controllers;   /* 1u << Ctl */
        bool children;          /* holds cpu: vcpu and pod_overhead are here */
} Hier;

/* One limit file written at create, and the value it must hold. */
typedef struct PlanWrite {
        int hier;
        Ctl ctl;
        Node node;
        char file[64];
        char value[64];
} PlanWrite;

typedef struct Host {
        Hier hier[MAX_HIER];
        size_t n_hier;
        int unified;                    /* index of the cgroup2 hierarchy */
        int ctl_hier[_CTL_MAX];         /* hierarchy of each controller, -1 */
        char hugepage_sizes[MAX_HUGEPAGE_SIZES][32];
        size_t n_hugepage_sizes;
        bool memsw;                     /* swap accounting: memory.memsw.* */
        char cpus[64], mems[64];        /* what the run's parent allows */
        PlanWrite plan[MAX_PLAN];
        size_t n_plan;
        char parent[64];                /* scg-bench-<pid>: everything goes below */
        bool parent_made;
        char description[1024];         /* the machine, for the table */
        char layout[512];               /* the cgroup layout, for the table */
} Host;

typedef struct Standin {
        pid_t pid;      /* the stand-in VMM process */
        pid_t tid;      /* its extra thread, the "vCPU" */
        int fd;
} Standin;

typedef enum Variant {
        V_FLOOR,
        V_LIBCGROUP,
        V_DAEMON,
        _V_MAX,
} Variant;

typedef enum Phase {
        P_CREATE,
        P_ATTACH,
        P_DELETE,
        _P_MAX,
} Phase;

typedef struct Bench Bench;

/* One client of a life: a thread of the benchmark (or the main thread). */
typedef struct Worker {
        Bench *b;
        Variant variant;
        SandboxcgClient *client;        /* the daemon's life */
        size_t first, step;             /* sandboxes first, first+step, ... */
        char err[1024];
        int error;
} Worker;

typedef struct Life {
        const char *name;
        int (*worker_init)(Worker *w);
        void (*worker_done)(Worker *w);
        int (*create)(Worker *w, const char *id);
        int (*attach)(Worker *w, const char *id, const Standin *s);
        int (*delete)(Worker *w, const char *id);
} Life;

extern const Life life_floor, life_libcgroup, life_daemon;

typedef struct Options {
        size_t n;               /* sandboxes per life and round */
        unsigned rounds;
        unsigned clients;       /* concurrent clients */
        size_t scale;           /* sandboxes live for the Get/List/READY/RSS numbers */
        size_t get_calls, list_calls;
        unsigned restarts;
        bool quick;
        const char *daemon;     /* the sandboxcgd binary */
        const char *only;       /* "floor", "libcgroup", "daemon", "scale": one part only */
} Options;

struct Bench {
        Options opt;
        Host host;
        char run_dir[256];
        bool tmpfs;
        char socket[320], state_dir[320], config[320], notify[320], log[320];
        pid_t daemon_pid;
        int notify_fd;
        bool no_rate_limit;     /* --request-rate 0: no per-connection limit */
};

extern volatile sig_atomic_t bench_interrupted;

/* host.c */
int host_discover(Host *h);
int host_make_parent(Host *h);
void host_remove_parent(Host *h);
const char *ctl_name(Ctl c);
const char *node_suffix(Node n);        /* "", "/vcpu", "/pod_overhead" */
/* The file a write goes to, relative to the cgroup root, as in Sandbox.applied. */
void plan_path(const Host *h, const PlanWrite *w, const char *id, char *buf, size_t size);
/* Check the kernel's files after create, after attach, after delete. */
int verify_created(const Host *h, const char *id, char *err, size_t size);
int verify_attached(const Host *h, const char *id, const Standin *s, char *err, size_t size);
int verify_gone(const Host *h, const char *id, char *err, size_t size);
/* Whole small file relative to a directory fd, trailing newline dropped. */
int read_at(int dir_fd, const char *path, char *buf, size_t size);
int write_at(int dir_fd, const char *path, const char *value);

/* standin.c */
int standins_spawn(Standin *s, size_t n);
/* Wait up to timeout_ms for each to exit (and reap it); returns how many
 * were still alive (those are killed and reaped too). */
size_t standins_reap(Standin *s, size_t n, int timeout_ms);
void standins_kill(Standin *s, size_t n);
uint64_t now_ns(void);
double median(const double *v, size_t n);
double percentile(double *v, size_t n, double p);       /* sorts v */

/* daemon.c */
int daemon_start(Bench *b, double *ret_ready_s);
int daemon_stop(Bench *b);
bool daemon_alive(Bench *b);
bool daemon_has_option(Bench *b, const char *option);
long daemon_rss_kib(Bench *b);
int daemon_fd_count(Bench *b);
uint64_t daemon_cpu_ns(Bench *b);
int daemon_connect(Bench *b, SandboxcgClient **ret);
int daemon_probe(Bench *b);
int daemon_wait_exited(Bench *b, size_t n);
int daemon_list(SandboxcgClient *c, size_t expect, double *ret_ms, size_t *ret_bytes);
int daemon_get(SandboxcgClient *c, const char *id);
const char *daemon_binary_problem(const char *path);
void daemon_log_tail(Bench *b);
