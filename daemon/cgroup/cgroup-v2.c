/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/cgroup/cgroup.h"

/* cgroup v2: one tree. Controller files of a cgroup exist only when its
 * parent enables the controller in cgroup.subtree_control, all the way from
 * the root. The only way to put a process in one cgroup and some of its
 * threads in another is threaded mode: vcpu and pod_overhead become
 * "threaded" before S enables +cpu, which makes S the "domain threaded" root
 * that carries memory, hugetlb and pids for the whole VM. */

/* Controllers of this hierarchy that go into subtree_control, by v2 name. */
static const Controller v2_controllers[] = {
        CONTROLLER_CPU, CONTROLLER_CPUSET, CONTROLLER_MEMORY, CONTROLLER_HUGETLB, CONTROLLER_PIDS,
};

static bool word_in(const char *list, const char *word)
{
        size_t l = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += l)
                if ((p == list || p[-1] == ' ') && (p[l] == ' ' || p[l] == '\0'))
                        return true;
        return false;
}

/* Enable in dir's subtree_control whatever of `want` is not enabled yet;
 * never touch a file that already says what we need. */
static int enable_controllers(CgroupEngine *eng, const char *dir, unsigned want, Error *e)
{
        _cleanup_free_ char *enabled = NULL, *available = NULL;
        char buf[128] = "";
        int r;

        r = cg_read(&eng->fs, dir, "cgroup.subtree_control", &enabled, e);
        if (r < 0)
                return r;
        r = cg_read(&eng->fs, dir, "cgroup.controllers", &available, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(v2_controllers); i++) {
                Controller c = v2_controllers[i];
                const char *name = controller_to_string(c);
                if (!(want & (1u << c)) || word_in(enabled, name))
                        continue;
                if (!word_in(available, name))
                        return error_set(e, GRPC_FAILED_PRECONDITION, ENOENT,
                                         "controller %s is not available in %s/%s (cgroup.controllers: \"%s\")",
                                         name, eng->fs.root_path, dir, available);
                strncat(buf, buf[0] ? " +" : "+", sizeof buf - strlen(buf) - 1);
                strncat(buf, name, sizeof buf - strlen(buf) - 1);
        }
        if (buf[0] == '\0')
                return 0;
        return cg_write(&eng->fs, dir, "cgroup.subtree_control", buf, e);
}

/* Every level from the mount root down to the parent enables what the level
 * below needs. */
static int v2_level(CgroupEngine *eng, const Hierarchy *h, const char *dir, const char *up, bool created, Error *e)
{
        return enable_controllers(eng, dir, h->controllers, e);
}

static int v2_prepare_parent(CgroupEngine *eng, const Hierarchy *h, const char *parent_dir, char ***made,
                             Error *e)
{
        return cgroup_walk_parent(eng, h, parent_dir, v2_level, made, e);
}

static int v2_make_children(CgroupEngine *eng, const Hierarchy *h, const char *s_dir, Error *e)
{
        static const SandboxNode children[] = { NODE_VCPU, NODE_POD_OVERHEAD };
        int r;

        /* Both children threaded before S enables any controller: S must
         * have no domain controller enabled when they convert. */
        for (size_t i = 0; i < ELEMENTSOF(children); i++) {
                _cleanup_free_ char *dir = NULL;
                if (asprintf(&dir, "%s/%s", s_dir, sandbox_node_to_string(children[i])) < 0)
                        return -ENOMEM;
                r = cg_mkdir(&eng->fs, dir, e);
                if (r < 0)
                        return r;
                r = cg_write(&eng->fs, dir, "cgroup.type", "threaded", e);
                if (r < 0)
                        return r;
        }
        /* Only threaded controllers inside the threaded subtree. */
        return enable_controllers(eng, s_dir, 1u << CONTROLLER_CPU, e);
}

static int v2_count_processes(CgroupEngine *eng, const Hierarchy *h, const char *s_dir, Error *e)
{
        _cleanup_free_ char *populated = NULL;
        int r = cg_read_key(&eng->fs, s_dir, "cgroup.events", "populated", &populated, e);
        if (r < 0)
                return r;
        return streq(populated, "1") ? 1 : 0;
}

const HierarchyOps cgroup_v2_ops = {
        .prepare_parent = v2_prepare_parent,
        .make_children = v2_make_children,
        /* Same threaded domain as pod_overhead: the kernel moves just the
         * thread (EOPNOTSUPP for a thread of a process outside S). */
        .thread_file = "cgroup.threads",
        .count_processes = v2_count_processes,
};
