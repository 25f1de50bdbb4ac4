/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The cgroup engine: a sandbox's three cgroups in every hierarchy the host
 * uses, built, changed, populated and removed in the order the kernel
 * accepts.
 *
 * A sandbox lives in several hierarchies: one per v1 mount holding a
 * controller it uses, and the cgroup2 mount (all controllers on v2; on a
 * hybrid host the controllers no v1 hierarchy holds, and cgroup.events /
 * cgroup.kill). Each hierarchy gets the operations of its version from a
 * backend table (cgroup-v1.c, cgroup-v2.c), so a hybrid host is not a third
 * backend but the composition of the two. All file access goes through
 * fileio. */

#include <stdbool.h>
#include <sys/types.h>

#include "daemon/cgroup/fileio.h"
#include "daemon/cgroup/probe.h"
#include "daemon/cgroup/resources.h"

typedef struct CgroupEngine CgroupEngine;
typedef struct Hierarchy Hierarchy;

typedef struct HierarchyOps {
        /* Make sure the parent exists and can hold the sandbox: create
         * missing levels (v1 cpuset: populated from their parent), enable the
         * controllers in the ancestors' cgroup.subtree_control (v2). Levels
         * it creates are appended to *made (see cgroup_walk_parent()). */
        int (*prepare_parent)(CgroupEngine *eng, const Hierarchy *h, const char *parent_dir, char ***made,
                              Error *e);
        /* After S exists and its limits are written: create vcpu and
         * pod_overhead where the hierarchy holds them (v2: threaded, then
         * +cpu in S). */
        int (*make_children)(CgroupEngine *eng, const Hierarchy *h, const char *s_dir, Error *e);
        /* The file that moves a single thread: "tasks" on v1,
         * "cgroup.threads" on v2 (cgroup.procs moves a whole process on
         * both). */
        const char *thread_file;
        /* Number of live processes in the subtree of S (0 when empty). */
        int (*count_processes)(CgroupEngine *eng, const Hierarchy *h, const char *s_dir, Error *e);
} HierarchyOps;

extern const HierarchyOps cgroup_v1_ops;
extern const HierarchyOps cgroup_v2_ops;

struct Hierarchy {
        int version;                    /* 1 or 2 */
        char *name;                     /* "cpu", "cpu,cpuacct", "memory", ... or "unified" */
        char *mount_dir;                /* relative to the cgroup root: "cpu", "unified", "" for v2 */
        unsigned controllers;           /* bit (1u << Controller) for each controller held */
        bool children;                  /* vcpu and pod_overhead live here (it holds cpu) */
        dev_t mount_dev;                /* the device of its file system, when mount_dev_known */
        bool mount_dev_known;
        const HierarchyOps *ops;
};

/* Extended attributes by which the daemon recognizes what it made, in the
 * marker hierarchy: on S "<id>@<owner>", on parent levels it created
 * "<owner>", where owner (the state directory) tells apart two daemons on
 * one host (tests run several): each only ever reclaims its own. On cgroup2
 * they are user.* attributes (5.7+; the directory's owner, root, sets them
 * without CAP_SYS_ADMIN, so the unit can drop it); v1 mounted with -o xattr
 * knows only trusted.*. */
#define CGROUP_XATTR_SANDBOX "sandboxcg.sandbox"
#define CGROUP_XATTR_LEVEL "sandboxcg.level"

struct CgroupEngine {
        CgroupFs fs;
        const HostProbe *host;
        Hierarchy *hierarchies;
        size_t n_hierarchies;
        /* Where the markers go: the cgroup2 hierarchy when there is one
         * (xattrs always work there), else the first v1 hierarchy mounted
         * with -o xattr; NULL when none can hold them (orphans then cannot
         * be told apart from other people's cgroups). */
        const Hierarchy *marker;
        char xattr_sandbox[48], xattr_level[48]; /* the names, with the marker hierarchy's namespace */
        const char *owner;              /* for the markers; set by the caller, must outlive the engine */
        unsigned kill_timeout_ms;       /* how long delete waits for the tree to empty */
};

int cgroup_engine_init(CgroupEngine *eng, const HostProbe *host, Error *e);
void cgroup_engine_done(CgroupEngine *eng);

/* The hierarchy holding controller c, or NULL. */
const Hierarchy *cgroup_engine_hierarchy_of(const CgroupEngine *eng, Controller c);
/* The cgroup2 hierarchy (v2 or hybrid), or NULL. */
const Hierarchy *cgroup_engine_unified(const CgroupEngine *eng);

/* Walk the levels of parent_dir below the hierarchy's mount, top down:
 * create what is missing and call level(eng, h, dir, parent_of_dir,
 * created) for each, including the mount itself (parent_of_dir NULL). Each
 * directory created is appended to *made (a strv, paths relative to the
 * cgroup root), when made is not NULL. */
typedef int (*CgroupLevelFn)(CgroupEngine *eng, const Hierarchy *h, const char *dir, const char *up, bool created,
                             Error *e);
int cgroup_walk_parent(CgroupEngine *eng, const Hierarchy *h, const char *parent_dir, CgroupLevelFn level,
                       char ***made, Error *e);

/* Directory of a sandbox node in a hierarchy, relative to the cgroup root. */
int cgroup_node_dir(const Hierarchy *h, const char *parent, const char *id, SandboxNode node, char **ret);

/* Build the tree and write every limit. The levels of parent that did not
 * exist are created too and listed in *ret_made (strv, top down per
 * hierarchy, relative to the cgroup root; NULL when none): the caller owns
 * them and removes them with cgroup_remove_level() when no sandbox needs
 * them any more. On failure everything created is removed again. */
int cgroup_create(CgroupEngine *eng, const char *parent, const char *id, const CgroupWrite *writes, size_t n,
                  char ***ret_made, Error *e);

/* The CPUs (mems false) or memory nodes (mems true) that the cgroup parent
 * lets its children use: the effective set of parent, or of its nearest
 * existing ancestor when parent is not made yet. *ret is NULL when the host
 * has no cpuset controller. */
int cgroup_parent_cpuset(CgroupEngine *eng, const char *parent, bool mems, char **ret, Error *e);

/* The levels of parent that do not exist yet, in every hierarchy (strv,
 * relative to the cgroup root, top down; NULL when none): what
 * cgroup_create() would make, for the intent record written before it. */
int cgroup_missing_levels(CgroupEngine *eng, const char *parent, char ***ret, Error *e);

/* Every sandbox tree the daemon made that still exists, found by its marker:
 * found(userdata, parent, id) for each (parent relative to the cgroup root,
 * as in the API). -EOPNOTSUPP when the host has no marker hierarchy. */
typedef int (*CgroupFoundFn)(void *userdata, const char *parent, const char *id);
int cgroup_find_marked(CgroupEngine *eng, CgroupFoundFn found, void *userdata, Error *e);

/* After an orphan's tree is gone: remove the levels of parent, deepest
 * first, that carry the daemon's level marker and are empty, in the marker
 * hierarchy (the only one where they are provably the daemon's). Stops at
 * the first level in use. */
int cgroup_remove_marked_levels(CgroupEngine *eng, const char *parent, Error *e);

/* Remove dir (relative to the cgroup root), a parent level that
 * cgroup_create() made, if it is empty. Returns 0 when it is gone (or was
 * already), -EBUSY when something lives in it. */
int cgroup_remove_level(CgroupEngine *eng, const char *dir, Error *e);

/* Change limits in place: writes in the order the kernel accepts (lower
 * children first, then S, then raise children; v1 memory and memsw in the
 * order their invariant needs; v1 cpu period and quota of a node as one
 * limit, quota/period, in the order that never leaves a child looser than
 * S); a memory limit below current usage is refused; if any write fails,
 * those already done are restored. */
int cgroup_update(CgroupEngine *eng, const char *parent, const char *id, const CgroupWrite *writes, size_t n,
                  Error *e);

/* Read back the value of each write (for GetSandbox's "applied"). */
int cgroup_read_applied(CgroupEngine *eng, const char *parent, const char *id, const CgroupWrite *writes,
                        size_t n, char ***ret_files, char ***ret_values, Error *e);

int cgroup_attach_vmm(CgroupEngine *eng, const char *parent, const char *id, pid_t pid, Error *e);
/* Returns -ESRCH when the thread is gone. */
int cgroup_attach_vcpu(CgroupEngine *eng, const char *parent, const char *id, pid_t tid, Error *e);

/* The threads in a sandbox's vcpu cgroup, as the kernel lists them (in the
 * hierarchy that holds the children). *ret is malloc'd (NULL when none). */
int cgroup_vcpu_threads(CgroupEngine *eng, const char *parent, const char *id, pid_t **ret, size_t *ret_n,
                        Error *e);

/* Kill what is left (cgroup.kill, else freezer + SIGKILL, else SIGKILL),
 * wait until empty, remove leaves first with bounded retries on EBUSY.
 * Absent directories are fine: deleting twice succeeds. */
int cgroup_destroy(CgroupEngine *eng, const char *parent, const char *id, Error *e);

/* Does S exist in every hierarchy? (1 all, 0 none, -EUCLEAN partly) */
int cgroup_exists(CgroupEngine *eng, const char *parent, const char *id);
