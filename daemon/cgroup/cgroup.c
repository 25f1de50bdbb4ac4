/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <inttypes.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/cgroup/cgroup.h"

/* Controllers a sandbox uses; freezer only to kill on v1. */
static const Controller used_controllers[] = {
        CONTROLLER_CPU,     CONTROLLER_CPUACCT, CONTROLLER_CPUSET, CONTROLLER_MEMORY,
        CONTROLLER_HUGETLB, CONTROLLER_PIDS,    CONTROLLER_FREEZER,
};

#define RMDIR_TRIES 12          /* 1 ms doubling: about 4 s in all */
#define DEFAULT_KILL_TIMEOUT_MS 5000

static uint64_t now_ms(void)
{
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Join path components, skipping empty ones and slashes at the edges. */
static int path_join(char **ret, const char *const *parts, size_t n)
{
        size_t len = 1;
        for (size_t i = 0; i < n; i++)
                len += strlen(strempty(parts[i])) + 1;
        char *p = malloc(len), *q = p;
        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *s = strempty(parts[i]);
                while (*s == '/')
                        s++;
                size_t l = strlen(s);
                while (l > 0 && s[l - 1] == '/')
                        l--;
                if (l == 0)
                        continue;
                if (q != p)
                        *q++ = '/';
                memcpy(q, s, l);
                q += l;
        }
        *q = '\0';
        *ret = p;
        return 0;
}

int cgroup_walk_parent(CgroupEngine *eng, const Hierarchy *h, const char *parent_dir, CgroupLevelFn level,
                       char ***made, Error *e)
{
        size_t base = strlen(h->mount_dir);
        _cleanup_free_ char *p = strdup(parent_dir);
        int r;

        if (!p)
                return -ENOMEM;
        r = level(eng, h, h->mount_dir, NULL, false, e);
        if (r < 0)
                return r;
        for (char *s = p + base; *s;) {
                while (*s == '/')
                        s++;
                if (!*s)
                        break;
                char *slash = strchr(s, '/');
                if (slash)
                        *slash = '\0';
                r = cg_mkdir(&eng->fs, p, e);
                if (r < 0)
                        return r;
                if (r > 0 && made && strv_extend(made, p) < 0) {
                        /* Not listed, so nobody would remove it. */
                        (void) cg_rmdir(&eng->fs, p, NULL);
                        return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "out of memory");
                }
                if (r > 0 && h == eng->marker) {
                        r = cg_set_xattr(&eng->fs, p, eng->xattr_level, strempty(eng->owner), e);
                        if (r < 0)
                                return r;
                        r = 1;
                }
                _cleanup_free_ char *up = strndup(p, (size_t) (s - p) - (s > p ? 1 : 0));
                if (!up)
                        return -ENOMEM;
                r = level(eng, h, p, up, r > 0, e);
                if (r < 0)
                        return r;
                if (!slash)
                        break;
                *slash = '/';
                s = slash + 1;
        }
        return 0;
}

int cgroup_node_dir(const Hierarchy *h, const char *parent, const char *id, SandboxNode node, char **ret)
{
        const char *parts[] = { h->mount_dir, parent, id, sandbox_node_to_string(node) };
        return path_join(ret, parts, ELEMENTSOF(parts));
}

static void hierarchy_done(Hierarchy *h)
{
        free(h->name);
        free(h->mount_dir);
}

void cgroup_engine_done(CgroupEngine *eng)
{
        for (size_t i = 0; i < eng->n_hierarchies; i++)
                hierarchy_done(&eng->hierarchies[i]);
        free(eng->hierarchies);
        cgroupfs_close(&eng->fs);
        *eng = (CgroupEngine){ .fs.root_fd = -EBADF };
}

/* trusted.* attributes take CAP_SYS_ADMIN to set, and reading one without
 * it says ENODATA, not EPERM: the probe below cannot tell. */
static bool have_cap_sys_admin(void)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

        if (syscall(SYS_capget, &h, d) < 0)
                return false;
        return d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN);
}

/* Can the mount of h hold the markers? */
static bool supports_xattr(CgroupEngine *eng, const Hierarchy *h)
{
        char name[48], buf[2];
        int r;

        /* On v1, trusted.*: without CAP_SYS_ADMIN (the hardened unit has
         * none) every create would fail to set its marker. No marker then:
         * orphans are not looked for, sandboxes work. */
        if (h->version == 1 && !have_cap_sys_admin())
                return false;
        (void) snprintf(name, sizeof name, "%s.%s", h->version == 2 ? "user" : "trusted", CGROUP_XATTR_LEVEL);
        r = cg_get_xattr(&eng->fs, h->mount_dir, name, buf, sizeof buf);
        return r >= 0 || r == -ENODATA || r == -ERANGE;
}

static void engine_pick_marker(CgroupEngine *eng)
{
        const Hierarchy *u = cgroup_engine_unified(eng);

        eng->marker = NULL;
        if (u && supports_xattr(eng, u))
                eng->marker = u;
        for (size_t i = 0; !eng->marker && i < eng->n_hierarchies; i++)
                if (supports_xattr(eng, &eng->hierarchies[i]))
                        eng->marker = &eng->hierarchies[i];
        if (eng->marker) {
                const char *ns = eng->marker->version == 2 ? "user" : "trusted";

                (void) snprintf(eng->xattr_sandbox, sizeof eng->xattr_sandbox, "%s.%s", ns, CGROUP_XATTR_SANDBOX);
                (void) snprintf(eng->xattr_level, sizeof eng->xattr_level, "%s.%s", ns, CGROUP_XATTR_LEVEL);
        }
}

static int mount_dir_of(const HostProbe *host, const char *mount_point, char **ret)
{
        size_t l = strlen(host->cgroup_root);
        if (strncmp(mount_point, host->cgroup_root, l) != 0 || (mount_point[l] != '/' && mount_point[l] != '\0'))
                return -EINVAL;
        const char *rel = mount_point + l;
        while (*rel == '/')
                rel++;
        *ret = strdup(rel);
        return *ret ? 0 : -ENOMEM;
}

static Hierarchy *engine_find_mount(CgroupEngine *eng, int version, const char *mount_dir)
{
        for (size_t i = 0; i < eng->n_hierarchies; i++)
                if (eng->hierarchies[i].version == version && streq(eng->hierarchies[i].mount_dir, mount_dir))
                        return &eng->hierarchies[i];
        return NULL;
}

static int engine_add(CgroupEngine *eng, int version, char *mount_dir, Hierarchy **ret)
{
        Hierarchy *n = realloc(eng->hierarchies, (eng->n_hierarchies + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        eng->hierarchies = n;
        Hierarchy *h = &n[eng->n_hierarchies++];
        *h = (Hierarchy){
                .version = version,
                .mount_dir = mount_dir,
                .ops = version == 2 ? &cgroup_v2_ops : &cgroup_v1_ops,
        };
        *ret = h;
        return 0;
}

static int hierarchy_add_name(Hierarchy *h, const char *name)
{
        char *s = NULL;
        if (asprintf(&s, "%s%s%s", strempty(h->name), h->name ? "," : "", name) < 0)
                return -ENOMEM;
        free(h->name);
        h->name = s;
        return 0;
}

int cgroup_engine_init(CgroupEngine *eng, const HostProbe *host, Error *e)
{
        int r;

        *eng = (CgroupEngine){ .fs.root_fd = -EBADF, .host = host, .kill_timeout_ms = DEFAULT_KILL_TIMEOUT_MS };

        r = cgroupfs_open(&eng->fs, host->cgroup_root, e);
        if (r < 0)
                return r;

        /* The cgroup2 mount comes first: on hybrid hosts it is where the
         * tree is killed and watched. */
        if (host->unified_mount) {
                char *dir = NULL;
                Hierarchy *h;
                r = mount_dir_of(host, host->unified_mount, &dir);
                if (r < 0)
                        goto fail;
                r = engine_add(eng, 2, dir, &h);
                if (r < 0) {
                        free(dir);
                        goto fail;
                }
                h->name = strdup("unified");
                if (!h->name) {
                        r = -ENOMEM;
                        goto fail;
                }
        }

        for (size_t i = 0; i < ELEMENTSOF(used_controllers); i++) {
                Controller c = used_controllers[i];
                const ControllerMount *cm = &host->controllers[c];
                _cleanup_free_ char *dir = NULL;
                Hierarchy *h;

                if (cm->version == 0 || !cm->enabled)
                        continue;
                r = mount_dir_of(host, cm->mount_point, &dir);
                if (r < 0)
                        goto fail;
                h = engine_find_mount(eng, cm->version, dir);
                if (!h) {
                        r = engine_add(eng, cm->version, dir, &h);
                        if (r < 0)
                                goto fail;
                        TAKE_PTR(dir);
                }
                h->controllers |= 1u << c;
                if (c == CONTROLLER_CPU)
                        h->children = true;
                if (cm->version == 1) {
                        r = hierarchy_add_name(h, controller_to_string(c));
                        if (r < 0)
                                goto fail;
                }
        }
        /* Each create checks its parent levels against these
         * (cgroup_missing_levels()); a mount not there yet is looked at
         * then. */
        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                Hierarchy *h = &eng->hierarchies[i];
                h->mount_dev_known = cg_dir_device(&eng->fs, h->mount_dir, &h->mount_dev) > 0;
        }
        engine_pick_marker(eng);
        return 0;
fail:
        cgroup_engine_done(eng);
        return r == -ENOMEM ? r : error_set(e, GRPC_INTERNAL, -r, "cgroup mount outside %s", host->cgroup_root);
}

const Hierarchy *cgroup_engine_hierarchy_of(const CgroupEngine *eng, Controller c)
{
        for (size_t i = 0; i < eng->n_hierarchies; i++)
                if (eng->hierarchies[i].controllers & (1u << c))
                        return &eng->hierarchies[i];
        return NULL;
}

const Hierarchy *cgroup_engine_unified(const CgroupEngine *eng)
{
        for (size_t i = 0; i < eng->n_hierarchies; i++)
                if (eng->hierarchies[i].version == 2)
                        return &eng->hierarchies[i];
        return NULL;
}

/* The hierarchy and directory a write goes to. */
static int write_target(CgroupEngine *eng, const char *parent, const char *id, const CgroupWrite *w,
                        const Hierarchy **ret_h, char **ret_dir, Error *e)
{
        const Hierarchy *h = cgroup_engine_hierarchy_of(eng, w->controller);
        if (!h)
                return error_set(e, GRPC_FAILED_PRECONDITION, ENODEV, "sandbox %s: no hierarchy holds the %s controller",
                                 id, controller_to_string(w->controller));
        *ret_h = h;
        int r = cgroup_node_dir(h, parent, id, w->node, ret_dir);
        return r < 0 ? error_set(e, GRPC_RESOURCE_EXHAUSTED, -r, "out of memory") : 0;
}

/* The parent's value of a v1 cpuset file, for a cpuset left unset. */
static int inherited_value(CgroupEngine *eng, const char *dir, const char *file, char **ret, Error *e)
{
        _cleanup_free_ char *parent_dir = strdup(dir);
        if (!parent_dir)
                return -ENOMEM;
        char *slash = strrchr(parent_dir, '/');
        if (slash)
                *slash = '\0';
        else
                parent_dir[0] = '\0';
        return cg_read(&eng->fs, parent_dir, file, ret, e);
}

static int apply_write(CgroupEngine *eng, const char *parent, const char *id, const CgroupWrite *w, Error *e)
{
        _cleanup_free_ char *dir = NULL, *inherited = NULL;
        const Hierarchy *h;
        const char *value = w->value;
        int r;

        r = write_target(eng, parent, id, w, &h, &dir, e);
        if (r < 0)
                return r;
        if (w->inherit) {
                r = inherited_value(eng, dir, w->file, &inherited, e);
                if (r < 0)
                        return r;
                value = inherited;
        }
        if (w->optional) {
                r = cg_file_exists(&eng->fs, dir, w->file);
                if (r == 0)
                        return 0;
        }
        return cg_write(&eng->fs, dir, w->file, value, e);
}

/* Remove the three directories of a sandbox in one hierarchy, leaves first,
 * retrying while the kernel still says EBUSY (tasks on their way out). */
static int remove_tree(CgroupEngine *eng, const Hierarchy *h, const char *parent, const char *id, Error *e)
{
        static const SandboxNode order[] = { NODE_VCPU, NODE_POD_OVERHEAD, NODE_SANDBOX };

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                _cleanup_free_ char *dir = NULL;
                int r = cgroup_node_dir(h, parent, id, order[i], &dir);
                if (r < 0)
                        return error_set(e, GRPC_RESOURCE_EXHAUSTED, -r, "out of memory");
                for (unsigned try = 0, wait = 1;; try++, wait *= 2) {
                        Error busy = {};
                        r = cg_rmdir(&eng->fs, dir, &busy);
                        if (r != -EBUSY || try + 1 >= RMDIR_TRIES) {
                                if (r < 0 && e && !error_is_set(e))
                                        *e = busy;
                                break;
                        }
                        sleep_ms(wait);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int cgroup_exists(CgroupEngine *eng, const char *parent, const char *id)
{
        size_t found = 0;
        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                _cleanup_free_ char *dir = NULL;
                if (cgroup_node_dir(&eng->hierarchies[i], parent, id, NODE_SANDBOX, &dir) < 0)
                        return -ENOMEM;
                int r = cg_dir_exists(&eng->fs, dir);
                if (r < 0)
                        return r;
                found += r;
        }
        if (found == 0)
                return 0;
        return found == eng->n_hierarchies ? 1 : -EUCLEAN;
}

int cgroup_parent_cpuset(CgroupEngine *eng, const char *parent, bool mems, char **ret, Error *e)
{
        const Hierarchy *h = cgroup_engine_hierarchy_of(eng, CONTROLLER_CPUSET);
        _cleanup_free_ char *dir = NULL;
        const char *file;
        size_t base;
        int r;

        *ret = NULL;
        if (!h)
                return 0;
        if (h->version == 1)
                file = mems ? "cpuset.effective_mems" : "cpuset.effective_cpus";
        else
                file = mems ? "cpuset.mems.effective" : "cpuset.cpus.effective";

        const char *parts[] = { h->mount_dir, parent };
        r = path_join(&dir, parts, ELEMENTSOF(parts));
        if (r < 0)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "out of memory");
        base = strlen(h->mount_dir);

        /* Up from parent to the first level that exists and has the file (on
         * v2 a level without cpuset in its parent's subtree_control has none;
         * the root always has it). */
        for (;;) {
                r = cg_read(&eng->fs, dir, file, ret, NULL);
                if (r >= 0)
                        return 0;
                if (r != -ENOENT)
                        return error_set(e, grpc_code_from_errno(r), -r, "cannot read %s/%s/%s: %s",
                                         eng->fs.root_path, dir, file, strerror(-r));
                if (strlen(dir) <= base)
                        return error_set(e, GRPC_FAILED_PRECONDITION, ENOENT, "cannot find %s above %s/%s",
                                         file, eng->fs.root_path, parent);
                char *slash = strrchr(dir + base, '/');
                if (slash)
                        *slash = '\0';
                else
                        dir[base] = '\0';
        }
}

int cgroup_vcpu_threads(CgroupEngine *eng, const char *parent, const char *id, pid_t **ret, size_t *ret_n,
                        Error *e)
{
        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                const Hierarchy *h = &eng->hierarchies[i];
                _cleanup_free_ char *dir = NULL;

                if (!h->children)
                        continue;
                if (cgroup_node_dir(h, parent, id, NODE_VCPU, &dir) < 0)
                        return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "out of memory");
                return cg_read_pids(&eng->fs, dir, h->ops->thread_file, ret, ret_n, e);
        }
        *ret = NULL;
        *ret_n = 0;
        return 0;
}

int cgroup_missing_levels(CgroupEngine *eng, const char *parent, char ***ret, Error *e)
{
        _cleanup_strv_free_ char **missing = NULL;

        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                const Hierarchy *h = &eng->hierarchies[i];
                _cleanup_free_ char *dir = NULL;
                bool absent = false;
                size_t base = strlen(h->mount_dir);
                dev_t mount_dev, dev;
                int r;

                /* Every existing level must be a directory of the
                 * hierarchy's own file system: not a symlink (fileio refuses
                 * those), and not a mount of something else on top of a
                 * cgroup, where the tree would be made in a file system that
                 * is no cgroup at all. */
                mount_dev = h->mount_dev;
                r = h->mount_dev_known ? 1 : cg_dir_device(&eng->fs, h->mount_dir, &mount_dev);
                if (r <= 0)
                        return error_set(e, r < 0 ? cg_error_code(r) : GRPC_FAILED_PRECONDITION, r < 0 ? -r : ENOENT,
                                         "cannot look at %s/%s: %s", eng->fs.root_path, h->mount_dir,
                                         strerror(r < 0 ? -r : ENOENT));

                const char *parts[] = { h->mount_dir, parent };
                if (path_join(&dir, parts, ELEMENTSOF(parts)) < 0)
                        return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "out of memory");

                /* Each level below the mount, top down: once one is absent,
                 * so is everything below it. */
                for (char *s = dir + base + (base > 0);;) {
                        char *slash = strchr(s, '/');

                        if (slash)
                                *slash = '\0';
                        if (!absent) {
                                r = cg_dir_device(&eng->fs, dir, &dev);
                                if (r < 0)
                                        return error_set(e, cg_error_code(r), -r, "cannot look at %s/%s: %s",
                                                         eng->fs.root_path, dir, strerror(-r));
                                if (r > 0 && dev != mount_dev)
                                        return error_set(e, GRPC_FAILED_PRECONDITION, EXDEV,
                                                         "%s/%s is not in the cgroup hierarchy mounted at %s/%s: "
                                                         "another file system is mounted there",
                                                         eng->fs.root_path, dir, eng->fs.root_path, h->mount_dir);
                                absent = r == 0;
                        }
                        if (absent && strv_extend(&missing, dir) < 0)
                                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "out of memory");
                        if (!slash)
                                break;
                        *slash = '/';
                        s = slash + 1;
                }
        }
        *ret = TAKE_PTR(missing);
        return 0;
}

#define FIND_DEPTH_MAX 64

static int find_marked_below(CgroupEngine *eng, const char *dir, size_t base, unsigned depth, CgroupFoundFn found,
                             void *userdata, Error *e)
{
        _cleanup_strv_free_ char **children = NULL;
        int r;

        if (depth > FIND_DEPTH_MAX)
                return 0;
        r = cg_list_children(&eng->fs, dir, &children, NULL);
        if (r == -ENOENT)
                return 0; /* removed meanwhile */
        if (r < 0)
                return error_set(e, grpc_code_from_errno(r), -r, "cannot list %s/%s: %s", eng->fs.root_path, dir,
                                 strerror(-r));

        for (char **c = children; c && *c; c++) {
                _cleanup_free_ char *sub = NULL;
                char mark[PATH_MAX + 256];

                if (asprintf(&sub, "%s%s%s", dir, dir[0] ? "/" : "", *c) < 0) {
                        sub = NULL;
                        return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "out of memory");
                }
                r = cg_get_xattr(&eng->fs, sub, eng->xattr_sandbox, mark, sizeof mark);
                if (r >= 0) {
                        /* Ours, if the marker names this very directory and
                         * this daemon. */
                        char *at = strchr(mark, '@');
                        if (!at || !streq(at + 1, strempty(eng->owner)))
                                continue;
                        *at = '\0';
                        if (!streq(mark, *c) || strlen(sub) <= base + strlen(*c) + 1)
                                continue;
                        const char *id = mark;
                        _cleanup_free_ char *parent = strndup(sub + base, strlen(sub) - base - strlen(*c) - 1);
                        if (!parent)
                                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "out of memory");
                        r = found(userdata, parent, id);
                        if (r < 0)
                                return r;
                        continue; /* its insides are the sandbox's */
                }
                r = find_marked_below(eng, sub, base, depth + 1, found, userdata, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cgroup_find_marked(CgroupEngine *eng, CgroupFoundFn found, void *userdata, Error *e)
{
        const Hierarchy *h = eng->marker;
        size_t base;

        if (!h)
                return error_set(e, GRPC_FAILED_PRECONDITION, EOPNOTSUPP,
                                 "no cgroup hierarchy of this host can hold the daemon's markers (extended "
                                 "attributes): cgroups without a record cannot be told apart from others'");
        /* Paths below the mount, as "parent/id": skip "<mount>/". */
        base = strlen(h->mount_dir) + (h->mount_dir[0] ? 1 : 0);
        return find_marked_below(eng, h->mount_dir, base, 0, found, userdata, e);
}

int cgroup_remove_marked_levels(CgroupEngine *eng, const char *parent, Error *e)
{
        _cleanup_free_ char *p = strdup(parent);

        if (!p)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "out of memory");
        if (!eng->marker)
                return 0;

        for (;;) {
                _cleanup_free_ char *mdir = NULL;
                char buf[PATH_MAX + 1];
                int r;

                const char *mparts[] = { eng->marker->mount_dir, p };
                if (path_join(&mdir, mparts, ELEMENTSOF(mparts)) < 0)
                        return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "out of memory");
                if (cg_get_xattr(&eng->fs, mdir, eng->xattr_level, buf, sizeof buf) < 0 ||
                    !streq(buf, strempty(eng->owner)))
                        return 0; /* not made by this daemon (or gone): stop here */

                /* Only where the marker proves it ours: the same level in
                 * other hierarchies may be someone else's (kubelet makes pod
                 * cgroups in the v1 hierarchies, not in the unified one). */
                r = cgroup_remove_level(eng, mdir, e);
                if (r == -EBUSY)
                        return 0; /* in use: it and what is above stay */
                if (r < 0)
                        return r;

                char *slash = strrchr(p, '/');
                if (!slash)
                        return 0;
                *slash = '\0';
        }
}

int cgroup_remove_level(CgroupEngine *eng, const char *dir, Error *e)
{
        int r = cg_rmdir(&eng->fs, dir, NULL);

        if (r == -ENOTEMPTY || r == -EBUSY)
                return -EBUSY; /* not an error: someone still lives there */
        if (r < 0)
                return error_set(e, grpc_code_from_errno(r), -r, "cannot remove cgroup %s/%s: %s", eng->fs.root_path,
                                 dir, strerror(-r));
        return 0;
}

int cgroup_create(CgroupEngine *eng, const char *parent, const char *id, const CgroupWrite *writes, size_t n,
                  char ***ret_made, Error *e)
{
        _cleanup_strv_free_ char **made = NULL;
        int r;

        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                const Hierarchy *h = &eng->hierarchies[i];
                _cleanup_free_ char *parent_dir = NULL, *s_dir = NULL;

                const char *pparts[] = { h->mount_dir, parent };
                r = path_join(&parent_dir, pparts, ELEMENTSOF(pparts));
                if (r >= 0)
                        r = cgroup_node_dir(h, parent, id, NODE_SANDBOX, &s_dir);
                if (r < 0) {
                        r = error_set(e, GRPC_RESOURCE_EXHAUSTED, -r, "out of memory");
                        goto fail;
                }
                r = h->ops->prepare_parent(eng, h, parent_dir, &made, e);
                if (r < 0)
                        goto fail;
                r = cg_mkdir(&eng->fs, s_dir, e);
                if (r < 0)
                        goto fail;
                if (r == 0) {
                        /* Not ours: the caller checks its records before it
                         * creates, so an existing directory is a stranger's. */
                        r = error_set(e, GRPC_ALREADY_EXISTS, EEXIST,
                                      "sandbox %s: cgroup %s/%s exists already and was not made by sandboxcgd", id,
                                      eng->fs.root_path, s_dir);
                        goto fail_keep;
                }
                if (h == eng->marker) {
                        _cleanup_free_ char *mark = NULL;

                        if (asprintf(&mark, "%s@%s", id, strempty(eng->owner)) < 0) {
                                mark = NULL;
                                r = error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "out of memory");
                                goto fail;
                        }
                        r = cg_set_xattr(&eng->fs, s_dir, eng->xattr_sandbox, mark, e);
                        if (r < 0)
                                goto fail;
                }

                /* S's own limits first (v1 cpuset before any task can come),
                 * then the children, then theirs. */
                for (size_t k = 0; k < n; k++) {
                        if (writes[k].node != NODE_SANDBOX || cgroup_engine_hierarchy_of(eng, writes[k].controller) != h)
                                continue;
                        r = apply_write(eng, parent, id, &writes[k], e);
                        if (r < 0)
                                goto fail;
                }
                if (h->children) {
                        r = h->ops->make_children(eng, h, s_dir, e);
                        if (r < 0)
                                goto fail;
                }
                for (size_t k = 0; k < n; k++) {
                        if (writes[k].node == NODE_SANDBOX || cgroup_engine_hierarchy_of(eng, writes[k].controller) != h)
                                continue;
                        r = apply_write(eng, parent, id, &writes[k], e);
                        if (r < 0)
                                goto fail;
                }
        }
        *ret_made = TAKE_PTR(made);
        return 0;

fail:
        /* Undo: nothing has been attached yet, so the tree is empty. */
        for (size_t i = 0; i < eng->n_hierarchies; i++)
                (void) remove_tree(eng, &eng->hierarchies[i], parent, id, NULL);
fail_keep:
        for (size_t i = strv_length(made); i > 0; i--)
                (void) cgroup_remove_level(eng, made[i - 1], NULL);
        return r;
}

/* ---- update ------------------------------------------------------------ */

/* How tight a limit value is, for ordering: "max", "-1" and "max P" are
 * unlimited; "Q P" compares as Q/P. */
static bool limit_value(const char *s, long double *ret)
{
        char *end;
        if (streq(s, "max") || strncmp(s, "max ", 4) == 0 || streq(s, "-1")) {
                *ret = 1e30L;
                return true;
        }
        errno = 0;
        long double q = strtold(s, &end);
        if (errno != 0 || end == s)
                return false;
        if (*end == ' ') {
                long double p = strtold(end + 1, &end);
                if (p <= 0)
                        return false;
                q /= p;
        }
        if (*end != '\0')
                return false;
        *ret = q;
        return true;
}

/* Is the new value no looser than the old one? */
static bool is_lowering(const char *old, const char *new)
{
        long double a, b;
        if (!limit_value(old, &a) || !limit_value(new, &b))
                return false;
        return b <= a;
}

typedef struct PlannedWrite {
        const CgroupWrite *w;
        char *dir;
        char *old;              /* NULL: the file does not exist (optional write) */
        const char *value;      /* what to write */
        char *inherited;
        bool lowering;          /* a child's limit: written before S (see cgroup_update()) */
        bool paired;            /* v1 period or quota that plan_v1_bandwidth() placed */
        bool quota_first;       /* v1 cpu.cfs_period_us: written after its node's cpu.cfs_quota_us */
        bool done;
} PlannedWrite;

static void planned_done(PlannedWrite *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(p[i].dir);
                free(p[i].old);
                free(p[i].inherited);
        }
        free(p);
}

/* v1 memory: memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every
 * moment. When memsw grows past the current memory limit it goes first. */
static void order_v1_memory(PlannedWrite **seq, size_t n)
{
        ssize_t mem = -1, memsw = -1;
        for (size_t i = 0; i < n; i++) {
                if (streq(seq[i]->w->file, "memory.limit_in_bytes"))
                        mem = (ssize_t) i;
                else if (streq(seq[i]->w->file, "memory.memsw.limit_in_bytes"))
                        memsw = (ssize_t) i;
        }
        if (mem < 0 || memsw < 0 || !seq[mem]->old)
                return;
        long double cur_mem, new_memsw;
        if (!limit_value(seq[mem]->old, &cur_mem) || !limit_value(seq[memsw]->value, &new_memsw))
                return;
        bool memsw_first = new_memsw > cur_mem;
        if (memsw_first != (memsw < mem))
                SWAP(seq[mem], seq[memsw]);
}

/* v1 CFS bandwidth. The kernel compares quota/period of a child with its
 * parent's and refuses (EINVAL) a write that leaves a child looser than its
 * parent (tg_cfs_schedulable_down(); v2 clamps instead). A quota of -1 has no
 * limit of its own, the parent's applies: a child may always be there. Period
 * and quota of a node are two files but one limit, each write checked alone:
 * going from (q0, p0) to (q1, p1) passes through (q1, p0) when the quota goes
 * first, through (q0, p1) when the period does. */
static bool is_v1_cpu_file(const PlannedWrite *p, const char *file)
{
        return p->old && p->w->version == 1 && p->w->controller == CONTROLLER_CPU && streq(p->w->file, file);
}

static PlannedWrite *find_v1_cpu_file(PlannedWrite *plan, size_t n, SandboxNode node, const char *file)
{
        for (size_t i = 0; i < n; i++)
                if (plan[i].w->node == node && is_v1_cpu_file(&plan[i], file))
                        return &plan[i];
        return NULL;
}

#define NO_LIMIT 1e30L

/* quota/period, NO_LIMIT for a quota of -1. */
static bool bandwidth_ratio(const char *quota, const char *period, long double *ret)
{
        long double q, p;
        if (!limit_value(quota, &q) || !limit_value(period, &p) || p <= 0 || p >= NO_LIMIT)
                return false;
        *ret = q >= NO_LIMIT ? NO_LIMIT : q / p;
        return true;
}

typedef struct Bandwidth {
        PlannedWrite *period, *quota;
        long double old, new;                   /* before and after */
        long double via_quota, via_period;      /* in between, when that file goes first */
} Bandwidth;

static bool node_bandwidth(PlannedWrite *plan, size_t n, SandboxNode node, Bandwidth *ret)
{
        Bandwidth b = {
                .period = find_v1_cpu_file(plan, n, node, "cpu.cfs_period_us"),
                .quota = find_v1_cpu_file(plan, n, node, "cpu.cfs_quota_us"),
        };
        if (!b.period || !b.quota || !bandwidth_ratio(b.quota->old, b.period->old, &b.old) ||
            !bandwidth_ratio(b.quota->value, b.period->value, &b.new) ||
            !bandwidth_ratio(b.quota->value, b.period->old, &b.via_quota) ||
            !bandwidth_ratio(b.quota->old, b.period->value, &b.via_period))
                return false;
        *ret = b;
        return true;
}

/* How much a state of a child asks of its parent: nothing without a limit. */
static long double child_demand(long double ratio)
{
        return ratio >= NO_LIMIT ? 0 : ratio;
}

/* Which of a node's two files goes first, and whether a child goes before
 * S. A child takes the tighter state in between: the two in-between ratios
 * multiply to old * new, so the tighter is at most the looser of old and new,
 * which S allows at the time the child is written (below). It goes before S
 * when no step asks more than it has now (its own limit, or S's when it has
 * none), else after S. Then, when S is written, every child asks at most the
 * tighter of S's old and new limit, and S takes the looser state in between,
 * which is at least that. (If S's own parent is limited that state can
 * exceed it: no order of two writes avoids both limits in every case.) */
static void plan_v1_bandwidth(PlannedWrite *plan, size_t n)
{
        Bandwidth s;
        bool have_s = node_bandwidth(plan, n, NODE_SANDBOX, &s);

        if (have_s) {
                s.period->quota_first = s.via_quota >= s.via_period;
                s.period->paired = s.quota->paired = true;
        }
        for (SandboxNode node = NODE_VCPU; node < _NODE_MAX; node++) {
                Bandwidth c;
                if (!node_bandwidth(plan, n, node, &c))
                        continue;
                long double via_quota = child_demand(c.via_quota), via_period = child_demand(c.via_period);
                long double highest = MAX(MIN(via_quota, via_period), child_demand(c.new));
                long double has = c.old < NO_LIMIT ? c.old : have_s ? s.old : NO_LIMIT;
                c.period->quota_first = via_quota <= via_period;
                c.period->paired = c.quota->paired = true;
                c.period->lowering = c.quota->lowering = highest <= has;
        }
}

/* Put each v1 period after or before its node's quota, as planned (both are
 * in the same phase). */
static void order_v1_bandwidth(PlannedWrite **seq, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (!seq[i]->paired || !is_v1_cpu_file(seq[i], "cpu.cfs_period_us"))
                        continue;
                for (size_t j = 0; j < n; j++)
                        if (seq[j]->paired && seq[j]->w->node == seq[i]->w->node &&
                            is_v1_cpu_file(seq[j], "cpu.cfs_quota_us")) {
                                if (seq[i]->quota_first != (j < i))
                                        SWAP(seq[i], seq[j]);
                                break;
                        }
        }
}

/* Refuse a memory limit below what the sandbox uses now: on v2 the kernel
 * would OOM-kill the VM, on v1 it fails with EBUSY after reclaiming. */
static int check_memory_usage(CgroupEngine *eng, const char *id, PlannedWrite *p, size_t n, Error *e)
{
        for (size_t i = 0; i < n; i++) {
                const CgroupWrite *w = p[i].w;
                if (w->node != NODE_SANDBOX || w->controller != CONTROLLER_MEMORY)
                        continue;
                const char *usage_file = w->version == 2 ? "memory.current" : "memory.usage_in_bytes";
                if (!streq(w->file, w->version == 2 ? "memory.max" : "memory.limit_in_bytes"))
                        continue;
                long double limit, usage;
                _cleanup_free_ char *cur = NULL;
                if (!limit_value(p[i].value, &limit))
                        continue;
                int r = cg_read(&eng->fs, p[i].dir, usage_file, &cur, e);
                if (r < 0)
                        return r;
                if (limit_value(cur, &usage) && limit < usage)
                        return error_set(e, GRPC_FAILED_PRECONDITION, EBUSY,
                                         "sandbox %s: memory limit %s is below current usage %s (%s/%s/%s): "
                                         "refusing rather than letting the kernel reclaim or OOM-kill the VM",
                                         id, p[i].value, cur, eng->fs.root_path, p[i].dir, usage_file);
        }
        return 0;
}

int cgroup_update(CgroupEngine *eng, const char *parent, const char *id, const CgroupWrite *writes, size_t n,
                  Error *e)
{
        PlannedWrite *plan = calloc(MAX(n, (size_t) 1), sizeof *plan);
        _cleanup_free_ PlannedWrite **seq = calloc(MAX(n, (size_t) 1), sizeof *seq);
        size_t n_seq = 0;
        int r = 0;

        if (!plan || !seq) {
                free(plan);
                return -ENOMEM;
        }

        /* Read what is there now: for ordering, and to restore on failure. */
        for (size_t i = 0; i < n; i++) {
                PlannedWrite *p = &plan[i];
                const Hierarchy *h;
                p->w = &writes[i];
                r = write_target(eng, parent, id, p->w, &h, &p->dir, e);
                if (r < 0)
                        goto out;
                if (p->w->optional && cg_file_exists(&eng->fs, p->dir, p->w->file) == 0)
                        continue;
                r = cg_read(&eng->fs, p->dir, p->w->file, &p->old, e);
                if (r < 0)
                        goto out;
                p->value = p->w->value;
                if (p->w->inherit) {
                        r = inherited_value(eng, p->dir, p->w->file, &p->inherited, e);
                        if (r < 0)
                                goto out;
                        p->value = p->inherited;
                }
        }

        r = check_memory_usage(eng, id, plan, n, e);
        if (r < 0)
                goto out;

        /* Children that get tighter, then S, then children that get looser:
         * a child is never looser than its parent at any moment (v1 cpu quota
         * fails with EINVAL otherwise). */
        for (size_t i = 0; i < n; i++)
                if (plan[i].old)
                        plan[i].lowering = is_lowering(plan[i].old, plan[i].value);
        plan_v1_bandwidth(plan, n);
        for (int phase = 0; phase < 3; phase++)
                for (size_t i = 0; i < n; i++) {
                        PlannedWrite *p = &plan[i];
                        if (!p->old)
                                continue;
                        bool child = p->w->node != NODE_SANDBOX;
                        if ((phase == 0 && child && p->lowering) || (phase == 1 && !child) ||
                            (phase == 2 && child && !p->lowering))
                                seq[n_seq++] = p;
                }
        order_v1_memory(seq, n_seq);
        order_v1_bandwidth(seq, n_seq);

        for (size_t i = 0; i < n_seq; i++) {
                PlannedWrite *p = seq[i];
                if (streq(p->old, p->value))
                        continue;
                r = cg_write(&eng->fs, p->dir, p->w->file, p->value, e);
                if (r < 0) {
                        /* Restore in reverse: each earlier state was one the
                         * kernel accepted. */
                        for (size_t k = i; k-- > 0;)
                                if (seq[k]->done)
                                        (void) cg_write(&eng->fs, seq[k]->dir, seq[k]->w->file, seq[k]->old, NULL);
                        goto out;
                }
                p->done = true;
        }
out:
        planned_done(plan, n);
        return r;
}

int cgroup_read_applied(CgroupEngine *eng, const char *parent, const char *id, const CgroupWrite *writes,
                        size_t n, char ***ret_files, char ***ret_values, Error *e)
{
        char **files = calloc(n + 1, sizeof(char *)), **values = calloc(n + 1, sizeof(char *));
        size_t k = 0;
        int r = 0;

        if (!files || !values) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = NULL;
                const Hierarchy *h;
                r = write_target(eng, parent, id, &writes[i], &h, &dir, e);
                if (r < 0)
                        goto fail;
                if (writes[i].optional && cg_file_exists(&eng->fs, dir, writes[i].file) == 0)
                        continue;
                r = cg_read(&eng->fs, dir, writes[i].file, &values[k], e);
                if (r < 0)
                        goto fail;
                if (asprintf(&files[k], "%s/%s", dir, writes[i].file) < 0) {
                        files[k] = NULL;
                        r = -ENOMEM;
                        goto fail;
                }
                k++;
        }
        *ret_files = files;
        *ret_values = values;
        return 0;
fail:
        strv_free(files);
        strv_free(values);
        return r;
}

/* ---- attach ------------------------------------------------------------ */

int cgroup_attach_vmm(CgroupEngine *eng, const char *parent, const char *id, pid_t pid, Error *e)
{
        /* The hierarchy with the children last: in v2 the process must be in
         * the threaded domain before its threads can be split. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < eng->n_hierarchies; i++) {
                        const Hierarchy *h = &eng->hierarchies[i];
                        _cleanup_free_ char *s_dir = NULL;
                        int r;
                        if (h->children != (pass == 1))
                                continue;
                        /* cgroup.procs moves every thread of the process;
                         * where the children are, it goes to pod_overhead. */
                        r = cgroup_node_dir(h, parent, id, h->children ? NODE_POD_OVERHEAD : NODE_SANDBOX, &s_dir);
                        if (r < 0)
                                return -ENOMEM;
                        r = cg_write_pid(&eng->fs, s_dir, "cgroup.procs", pid, e);
                        if (r < 0)
                                return r;
                }
        return 0;
}

int cgroup_attach_vcpu(CgroupEngine *eng, const char *parent, const char *id, pid_t tid, Error *e)
{
        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                const Hierarchy *h = &eng->hierarchies[i];
                _cleanup_free_ char *dir = NULL;
                if (!h->children)
                        continue;
                if (cgroup_node_dir(h, parent, id, NODE_VCPU, &dir) < 0)
                        return -ENOMEM;
                return cg_write_pid(&eng->fs, dir, h->ops->thread_file, tid, e);
        }
        return error_set(e, GRPC_FAILED_PRECONDITION, ENODEV, "sandbox %s: no hierarchy holds the cpu controller",
                         id);
}

/* ---- destroy ----------------------------------------------------------- */

static int count_all(CgroupEngine *eng, const char *parent, const char *id, Error *e)
{
        int total = 0;
        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                const Hierarchy *h = &eng->hierarchies[i];
                _cleanup_free_ char *s_dir = NULL;
                if (cgroup_node_dir(h, parent, id, NODE_SANDBOX, &s_dir) < 0)
                        return -ENOMEM;
                int r = cg_dir_exists(&eng->fs, s_dir);
                if (r <= 0)
                        continue;
                r = h->ops->count_processes(eng, h, s_dir, e);
                if (r < 0)
                        return r;
                total += r;
        }
        return total;
}

/* SIGKILL every process found in S in any hierarchy (v1 without freezer, or
 * a leftover after cgroup.kill/freezer). */
static int kill_listed(CgroupEngine *eng, const char *parent, const char *id, Error *e)
{
        static const SandboxNode nodes[] = { NODE_SANDBOX, NODE_VCPU, NODE_POD_OVERHEAD };

        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                const Hierarchy *h = &eng->hierarchies[i];
                for (size_t k = 0; k < ELEMENTSOF(nodes); k++) {
                        _cleanup_free_ char *dir = NULL;
                        _cleanup_free_ pid_t *pids = NULL;
                        size_t n = 0;
                        if (cgroup_node_dir(h, parent, id, nodes[k], &dir) < 0)
                                return -ENOMEM;
                        if (cg_dir_exists(&eng->fs, dir) <= 0)
                                continue;
                        /* v2 threaded children cannot list processes; their
                         * processes are listed in S. */
                        if (h->version == 2 && nodes[k] != NODE_SANDBOX)
                                continue;
                        int r = cg_read_pids(&eng->fs, dir, "cgroup.procs", &pids, &n, e);
                        if (r < 0)
                                return r;
                        for (size_t j = 0; j < n; j++)
                                if (pids[j] > 1)
                                        (void) kill(pids[j], SIGKILL);
                }
        }
        return 0;
}

static int v1_freeze(CgroupEngine *eng, const char *dir, const char *state, Error *e)
{
        return cg_write(&eng->fs, dir, "freezer.state", state, e);
}

int cgroup_destroy(CgroupEngine *eng, const char *parent, const char *id, Error *e)
{
        const Hierarchy *unified = cgroup_engine_unified(eng);
        const Hierarchy *freezer = cgroup_engine_hierarchy_of(eng, CONTROLLER_FREEZER);
        int r;

        r = count_all(eng, parent, id, e);
        if (r < 0)
                return r;
        if (r > 0) {
                _cleanup_free_ char *u_dir = NULL, *f_dir = NULL;
                bool killed = false;
                unsigned waited = 0, step = 1;

                if (unified && cgroup_node_dir(unified, parent, id, NODE_SANDBOX, &u_dir) >= 0 &&
                    cg_file_exists(&eng->fs, u_dir, "cgroup.kill") > 0) {
                        /* Kills the whole subtree, racing forks included. */
                        r = cg_write(&eng->fs, u_dir, "cgroup.kill", "1", e);
                        if (r < 0)
                                return r;
                        killed = true;
                        /* Woken by the kernel when the last task has passed
                         * its exit, not by the sleeps below (a 1 ms sleep
                         * alone is more than most kills take); the count
                         * below then checks every hierarchy. */
                        uint64_t t0 = now_ms();
                        r = cg_wait_unpopulated(&eng->fs, u_dir, eng->kill_timeout_ms, e);
                        if (r < 0)
                                return r;
                        waited = (unsigned) MIN(now_ms() - t0, (uint64_t) eng->kill_timeout_ms);
                } else if (freezer && freezer->version == 1 &&
                           cgroup_node_dir(freezer, parent, id, NODE_SANDBOX, &f_dir) >= 0 &&
                           cg_dir_exists(&eng->fs, f_dir) > 0) {
                        /* Frozen tasks cannot fork away from the kill. */
                        r = v1_freeze(eng, f_dir, "FROZEN", e);
                        if (r >= 0)
                                r = kill_listed(eng, parent, id, e);
                        (void) v1_freeze(eng, f_dir, "THAWED", NULL);
                        if (r < 0)
                                return r;
                        killed = true;
                }
                if (!killed) {
                        r = kill_listed(eng, parent, id, e);
                        if (r < 0)
                                return r;
                }

                /* Wait for the tasks to pass their exit path. */
                for (;;) {
                        r = count_all(eng, parent, id, e);
                        if (r <= 0)
                                break;
                        if (waited >= eng->kill_timeout_ms)
                                return error_set(e, GRPC_DEADLINE_EXCEEDED, ETIMEDOUT,
                                                 "sandbox %s: %d processes still in its cgroups after %u ms", id, r,
                                                 waited);
                        /* Stragglers (e.g. a v1 task that escaped the
                         * freezer's listing) get another SIGKILL. */
                        if (waited > 100)
                                (void) kill_listed(eng, parent, id, NULL);
                        sleep_ms(step);
                        waited += step;
                        step = MIN(step * 2, 50u);
                }
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < eng->n_hierarchies; i++) {
                r = remove_tree(eng, &eng->hierarchies[i], parent, id, e);
                if (r < 0)
                        return r;
        }
        return 0;
}
