/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/cgroup/cgroup.h"

/* cgroup v1: every hierarchy is independent. S exists in each; vcpu and
 * pod_overhead only in the one holding cpu. A cpuset cgroup takes no task
 * until its cpus and mems are populated (ENOSPC), and new ones start empty. */

static int copy_cpuset(CgroupEngine *eng, const char *from, const char *to, Error *e)
{
        static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *v = NULL;
                int r = cg_read(&eng->fs, from, files[i], &v, e);
                if (r < 0)
                        return r;
                r = cg_write(&eng->fs, to, files[i], v, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int require_populated_cpuset(CgroupEngine *eng, const char *dir, Error *e)
{
        static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *v = NULL;
                int r = cg_read(&eng->fs, dir, files[i], &v, e);
                if (r < 0)
                        return r;
                if (v[0] == '\0')
                        return error_set(e, GRPC_FAILED_PRECONDITION, ENOSPC,
                                         "%s/%s/%s is empty: a cpuset parent must have cpus and mems (sandboxcgd "
                                         "does not write cgroups it did not create)",
                                         eng->fs.root_path, dir, files[i]);
        }
        return 0;
}

/* Levels sandboxcgd creates get their parent's cpus and mems; levels that
 * exist must already have them. */
static int v1_level(CgroupEngine *eng, const Hierarchy *h, const char *dir, const char *up, bool created, Error *e)
{
        if (!up || !(h->controllers & (1u << CONTROLLER_CPUSET)))
                return 0;
        return created ? copy_cpuset(eng, up, dir, e) : require_populated_cpuset(eng, dir, e);
}

static int v1_prepare_parent(CgroupEngine *eng, const Hierarchy *h, const char *parent_dir, char ***made,
                             Error *e)
{
        return cgroup_walk_parent(eng, h, parent_dir, v1_level, made, e);
}

static int v1_make_children(CgroupEngine *eng, const Hierarchy *h, const char *s_dir, Error *e)
{
        static const SandboxNode children[] = { NODE_VCPU, NODE_POD_OVERHEAD };

        for (size_t i = 0; i < ELEMENTSOF(children); i++) {
                _cleanup_free_ char *dir = NULL;
                if (asprintf(&dir, "%s/%s", s_dir, sandbox_node_to_string(children[i])) < 0)
                        return -ENOMEM;
                int r = cg_mkdir(&eng->fs, dir, e);
                if (r < 0)
                        return r;
                /* cpu co-mounted with cpuset: the children need cpus too. */
                if (h->controllers & (1u << CONTROLLER_CPUSET)) {
                        r = copy_cpuset(eng, s_dir, dir, e);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int v1_count_processes(CgroupEngine *eng, const Hierarchy *h, const char *s_dir, Error *e)
{
        static const char *const subdirs[] = { "", "/vcpu", "/pod_overhead" };
        int total = 0;

        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                _cleanup_free_ char *dir = NULL;
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;
                Error local = {};
                if (asprintf(&dir, "%s%s", s_dir, subdirs[i]) < 0)
                        return -ENOMEM;
                /* A missing directory (no children here) holds no task: one
                 * open instead of a look first. */
                int r = cg_read_pids(&eng->fs, dir, "tasks", &pids, &n, &local);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        if (e && !error_is_set(e))
                                *e = local;
                        return r;
                }
                total += (int) MIN(n, (size_t) INT32_MAX / 4);
        }
        return total;
}

const HierarchyOps cgroup_v1_ops = {
        .prepare_parent = v1_prepare_parent,
        .make_children = v1_make_children,
        .thread_file = "tasks",
        .count_processes = v1_count_processes,
};
