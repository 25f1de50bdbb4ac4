/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libmount.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

#include "common/strv.h"
#include "daemon/cgroup/probe.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct libmnt_table *, mnt_unref_table);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct libmnt_iter *, mnt_free_iter);

#define HUGEPAGES_DIR "/sys/kernel/mm/hugepages"

static const char *const cgroup_mode_table[_CGROUP_MODE_MAX] = {
        [CGROUP_MODE_UNKNOWN] = "unknown",
        [CGROUP_MODE_V1] = "v1",
        [CGROUP_MODE_V2] = "v2",
        [CGROUP_MODE_HYBRID] = "hybrid",
};

static const char *const controller_table[_CONTROLLER_MAX] = {
        [CONTROLLER_CPU] = "cpu",
        [CONTROLLER_CPUACCT] = "cpuacct",
        [CONTROLLER_CPUSET] = "cpuset",
        [CONTROLLER_MEMORY] = "memory",
        [CONTROLLER_HUGETLB] = "hugetlb",
        [CONTROLLER_PIDS] = "pids",
        [CONTROLLER_FREEZER] = "freezer",
        [CONTROLLER_IO] = "io",
        [CONTROLLER_DEVICES] = "devices",
};

/* The subsystem names of v1: mount options and /proc/cgroups rows. */
static const char *const controller_v1_table[_CONTROLLER_MAX] = {
        [CONTROLLER_CPU] = "cpu",
        [CONTROLLER_CPUACCT] = "cpuacct",
        [CONTROLLER_CPUSET] = "cpuset",
        [CONTROLLER_MEMORY] = "memory",
        [CONTROLLER_HUGETLB] = "hugetlb",
        [CONTROLLER_PIDS] = "pids",
        [CONTROLLER_FREEZER] = "freezer",
        [CONTROLLER_IO] = "blkio",
        [CONTROLLER_DEVICES] = "devices",
};

const char *cgroup_mode_to_string(CgroupMode m)
{
        if (m < 0 || m >= _CGROUP_MODE_MAX)
                return NULL;
        return cgroup_mode_table[m];
}

CgroupMode cgroup_mode_from_string(const char *s)
{
        if (!s)
                return _CGROUP_MODE_INVALID;
        for (CgroupMode m = 0; m < _CGROUP_MODE_MAX; m++)
                if (streq(cgroup_mode_table[m], s))
                        return m;
        return _CGROUP_MODE_INVALID;
}

const char *controller_to_string(Controller c)
{
        if (c < 0 || c >= _CONTROLLER_MAX)
                return NULL;
        return controller_table[c];
}

const char *controller_to_v1_string(Controller c)
{
        if (c < 0 || c >= _CONTROLLER_MAX)
                return NULL;
        return controller_v1_table[c];
}

/* Looks name up in table, matching exactly n bytes: libmount hands out
 * option names that are not NUL-terminated. */
static Controller controller_from_table(const char *const table[static _CONTROLLER_MAX], const char *name,
                                        size_t n)
{
        FOREACH_CONTROLLER(c)
                if (strlen(table[c]) == n && memcmp(table[c], name, n) == 0)
                        return c;
        return _CONTROLLER_INVALID;
}

Controller controller_from_string(const char *s)
{
        Controller c;

        if (!s)
                return _CONTROLLER_INVALID;
        c = controller_from_table(controller_table, s, strlen(s));
        if (c >= 0)
                return c;
        return controller_from_table(controller_v1_table, s, strlen(s));
}

int kernel_release_parse(const char *release, unsigned *ret_major, unsigned *ret_minor)
{
        unsigned v[2] = {};
        const char *p = release;

        if (!release)
                return -EINVAL;

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                if (*p < '0' || *p > '9') {
                        if (i == 0)
                                return -EINVAL;
                        break;
                }
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (v[i] > (UINT_MAX - (unsigned) (*p - '0')) / 10)
                                return -ERANGE;
                        v[i] = v[i] * 10 + (unsigned) (*p - '0');
                }
                if (*p != '.')
                        break;
                p++;
        }

        if (ret_major)
                *ret_major = v[0];
        if (ret_minor)
                *ret_minor = v[1];
        return 0;
}

static void controller_mount_done(ControllerMount *cm)
{
        free(cm->mount_point);
        free(cm->mount_root);
        *cm = (ControllerMount) {};
}

void host_probe_done(HostProbe *p)
{
        if (!p)
                return;

        free(p->cgroup_root);
        free(p->unified_mount);
        free(p->unified_root);
        FOREACH_CONTROLLER(c)
                controller_mount_done(&p->controllers[c]);
        free(p->kernel_release);
        strv_free(p->hugepage_sizes);
        *p = (HostProbe) {};
}

/* ---------------------------------------------------------------------------
 * Paths */

/* Copy of an absolute path without trailing slashes ("/" stays "/"). */
static int path_normalize_dir(const char *path, char **ret)
{
        size_t n = strlen(path);
        char *s;

        while (n > 1 && path[n - 1] == '/')
                n--;
        s = strndup(path, n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* Whether path is dir or lies below it. Both absolute, without trailing
 * slashes, as the kernel prints mount points. */
static bool path_at_or_below(const char *path, const char *dir)
{
        size_t n = strlen(dir);

        if (streq(dir, "/"))
                return path[0] == '/';
        return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* <prefix><dir>[/<file>]: prefix carries no trailing slash ("" for the
 * host), dir is absolute. NULL on ENOMEM. */
static char *prefixed(const char *prefix, const char *dir, const char *file)
{
        size_t n = strlen(dir);
        bool slash = file && (n == 0 || dir[n - 1] != '/');
        char *s;

        if (asprintf(&s, "%s%s%s%s", prefix, dir, slash ? "/" : "", strempty(file)) < 0)
                return NULL;
        return s;
}

/* The first line of a file without its newline ("" for an empty file). */
static int read_one_line(const char *path, char **ret)
{
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        ssize_t n;

        f = fopen(path, "re");
        if (!f)
                return negative_errno();

        errno = 0;
        n = getline(&line, &size, f);
        if (n < 0) {
                if (errno != 0)
                        return -errno;
                if (ferror(f))
                        return -EIO;
                free(line);
                line = strdup("");
                if (!line)
                        return -ENOMEM;
        } else if (n > 0 && line[n - 1] == '\n')
                line[n - 1] = '\0';

        *ret = TAKE_PTR(line);
        return 0;
}

static int open_dir(const char *path, DIR **ret)
{
        _cleanup_close_ int fd = -EBADF;
        DIR *d;

        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        TAKE_FD(fd);
        *ret = d;
        return 0;
}

static bool dirent_is_dir(DIR *d, const struct dirent *de)
{
        struct stat st;

        if (de->d_type != DT_UNKNOWN)
                return de->d_type == DT_DIR;
        return fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* ---------------------------------------------------------------------------
 * Mounts */

typedef struct CgroupMount {
        char *target;
        char *root;
        bool unified;           /* cgroup2 */
        unsigned controllers;   /* v1: mask of 1 << Controller */
} CgroupMount;

typedef struct MountList {
        CgroupMount *items;
        size_t n;
        size_t allocated;
} MountList;

static void cgroup_mount_done(CgroupMount *m)
{
        free(m->target);
        free(m->root);
        *m = (CgroupMount) {};
}

static void mount_list_done(MountList *l)
{
        for (size_t i = 0; i < l->n; i++)
                cgroup_mount_done(&l->items[i]);
        free(l->items);
        *l = (MountList) {};
}

/* A mount on target hides what was mounted earlier on target or below it. */
static void mount_list_shadow(MountList *l, const char *target)
{
        size_t j = 0;

        for (size_t i = 0; i < l->n; i++) {
                if (path_at_or_below(l->items[i].target, target))
                        cgroup_mount_done(&l->items[i]);
                else
                        l->items[j++] = l->items[i];
        }
        l->n = j;
}

static int mount_list_add(MountList *l, CgroupMount *m)
{
        if (l->n == l->allocated) {
                size_t a = l->allocated ? l->allocated * 2 : 16;
                CgroupMount *items = reallocarray(l->items, a, sizeof *items);

                if (!items)
                        return -ENOMEM;
                l->items = items;
                l->allocated = a;
        }
        l->items[l->n++] = *m;
        *m = (CgroupMount) {};
        return 0;
}

/* The v1 controllers named in the super options, e.g. "rw,cpu,cpuacct";
 * options with a value ("name=systemd", "release_agent=...") are not
 * controllers. */
static int v1_controllers_from_options(const char *options, unsigned *ret)
{
        /* mnt_optstr_next_option() only advances the cursor, it does not
         * write to the string. */
        char *cursor = (char *) strempty(options);
        unsigned mask = 0;

        for (;;) {
                char *name, *value;
                size_t namesz, valuesz;
                Controller c;
                int r;

                r = mnt_optstr_next_option(&cursor, &name, &namesz, &value, &valuesz);
                if (r == 1)
                        break;
                if (r < 0)
                        return r;
                if (value)
                        continue;
                c = controller_from_table(controller_v1_table, name, namesz);
                if (c >= 0)
                        mask |= 1u << c;
        }

        *ret = mask;
        return 0;
}

static int mountinfo_parse_error(struct libmnt_table *tb, _unused_ const char *filename, int line)
{
        int *bad_line = mnt_table_get_userdata(tb);

        if (bad_line)
                *bad_line = line;
        return -EBADMSG;
}

/* The cgroup mounts at or below cgroup_root that are visible: mountinfo
 * lists mounts in the order they were made, so a later mount on a target
 * hides the earlier ones there and below. Mounts on "/" are ignored for this:
 * stacking on the root does not change what a process under it resolves. */
static int collect_mounts(const char *prefix, const char *cgroup_root, MountList *ret, Error *e)
{
        _cleanup_(mnt_unref_tablep) struct libmnt_table *tb = NULL;
        _cleanup_(mnt_free_iterp) struct libmnt_iter *it = NULL;
        _cleanup_(mount_list_done) MountList mounts = {};
        _cleanup_free_ char *path = NULL;
        int bad_line = 0, r;

        path = prefixed(prefix, "/proc/self/mountinfo", NULL);
        if (!path)
                return -ENOMEM;

        tb = mnt_new_table();
        it = mnt_new_iter(MNT_ITER_FORWARD);
        if (!tb || !it)
                return -ENOMEM;
        r = mnt_table_set_userdata(tb, &bad_line);
        if (r < 0)
                return r;
        r = mnt_table_set_parser_errcb(tb, mountinfo_parse_error);
        if (r < 0)
                return r;

        r = mnt_table_parse_file(tb, path);
        if (r < 0) {
                if (bad_line > 0)
                        return error_set(e, GRPC_INTERNAL, r, "Cannot parse line %d of %s", bad_line, path);
                return error_set(e, grpc_code_from_errno(r), r, "Cannot read %s: %s", path, strerror(-r));
        }

        for (;;) {
                _cleanup_(cgroup_mount_done) CgroupMount m = {};
                struct libmnt_fs *fs;
                const char *target, *fstype, *root;

                r = mnt_table_next_fs(tb, it, &fs);
                if (r == 1)
                        break;
                if (r < 0)
                        return error_set(e, GRPC_INTERNAL, r, "Cannot iterate over %s", path);

                target = mnt_fs_get_target(fs);
                if (!target || streq(target, "/") || !path_at_or_below(target, cgroup_root))
                        continue;
                mount_list_shadow(&mounts, target);

                fstype = strempty(mnt_fs_get_fstype(fs));
                if (streq(fstype, "cgroup2"))
                        m.unified = true;
                else if (streq(fstype, "cgroup")) {
                        r = v1_controllers_from_options(mnt_fs_get_fs_options(fs), &m.controllers);
                        if (r < 0)
                                return error_set(e, GRPC_INTERNAL, r,
                                                 "Cannot parse the options \"%s\" of %s in %s",
                                                 strempty(mnt_fs_get_fs_options(fs)), target, path);
                } else
                        continue;

                root = mnt_fs_get_root(fs);
                m.target = strdup(target);
                m.root = strdup(root ? root : "/");
                if (!m.target || !m.root)
                        return -ENOMEM;
                r = mount_list_add(&mounts, &m);
                if (r < 0)
                        return r;
        }

        *ret = mounts;
        mounts = (MountList) {};
        return 0;
}

static int controller_mount_set(ControllerMount *cm, int version, const char *mount_point, const char *root,
                                bool enabled)
{
        _cleanup_free_ char *mp = NULL, *rt = NULL;

        mp = strdup(mount_point);
        rt = strdup(root);
        if (!mp || !rt)
                return -ENOMEM;

        controller_mount_done(cm);
        cm->version = version;
        cm->mount_point = TAKE_PTR(mp);
        cm->mount_root = TAKE_PTR(rt);
        cm->enabled = enabled;
        return 0;
}

/* /proc/cgroups: "subsys_name hierarchy num_cgroups enabled". enabled[c]
 * stays -1 for a controller the kernel does not list (or if the file is
 * missing: it may be configured out in the future). */
static int read_proc_cgroups(const char *prefix, int enabled[static _CONTROLLER_MAX], Error *e)
{
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        unsigned n = 0;

        path = prefixed(prefix, "/proc/cgroups", NULL);
        if (!path)
                return -ENOMEM;

        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT)
                        return 0;
                return error_set(e, grpc_code_from_errno(errno), errno, "Cannot open %s: %s", path,
                                 strerror(errno));
        }

        for (;;) {
                char name[64];
                unsigned hierarchy, num_cgroups, on;
                Controller c;

                errno = 0;
                if (getline(&line, &size, f) < 0) {
                        if (errno != 0 || ferror(f))
                                return error_set(e, GRPC_INTERNAL, errno ?: EIO, "Cannot read %s", path);
                        break;
                }
                n++;
                if (line[0] == '#')
                        continue;
                if (sscanf(line, "%63s %u %u %u", name, &hierarchy, &num_cgroups, &on) != 4)
                        return error_set(e, GRPC_INTERNAL, EBADMSG, "Cannot parse line %u of %s", n, path);

                c = controller_from_table(controller_v1_table, name, strlen(name));
                if (c >= 0)
                        enabled[c] = on != 0;
        }

        return 0;
}

/* The controllers the cgroup2 mount offers, from its cgroup.controllers. */
static int read_unified_controllers(const char *prefix, const char *unified_mount, unsigned *ret, Error *e)
{
        _cleanup_free_ char *path = NULL, *line = NULL;
        unsigned mask = 0;
        char *saveptr = NULL;
        int r;

        path = prefixed(prefix, unified_mount, "cgroup.controllers");
        if (!path)
                return -ENOMEM;

        r = read_one_line(path, &line);
        if (r < 0)
                return error_set(e, grpc_code_from_errno(r), r, "Cannot read %s: %s", path, strerror(-r));

        for (char *w = strtok_r(line, " \t", &saveptr); w; w = strtok_r(NULL, " \t", &saveptr)) {
                Controller c = controller_from_table(controller_table, w, strlen(w));

                if (c >= 0)
                        mask |= 1u << c;
        }

        *ret = mask;
        return 0;
}

/* Decides the mode and, per controller, where it lives. On a v2 host, v1
 * hierarchies mounted below the root (a name=systemd one for a container,
 * say) are not used. */
static int assign_mounts(const char *prefix, const MountList *mounts, HostProbe *p, Error *e)
{
        const CgroupMount *unified = NULL;
        int enabled[_CONTROLLER_MAX];
        bool have_v1 = false;
        unsigned mask = 0;
        int r;

        for (size_t i = 0; i < mounts->n; i++) {
                const CgroupMount *m = &mounts->items[i];

                if (!m->unified) {
                        have_v1 = true;
                        continue;
                }
                if (streq(m->target, p->cgroup_root)) {
                        unified = m;
                        p->mode = CGROUP_MODE_V2;
                        break;
                }
                /* Several cgroup2 mounts below the root are the same
                 * hierarchy: prefer a mount of its top. */
                if (!unified || (!streq(unified->root, "/") && streq(m->root, "/")))
                        unified = m;
        }

        if (p->mode != CGROUP_MODE_V2) {
                if (!have_v1 && !unified)
                        return error_set(e, GRPC_FAILED_PRECONDITION, ENOMEDIUM,
                                         "No cgroup file system is mounted at or below %s%s", prefix,
                                         p->cgroup_root);
                p->mode = unified ? CGROUP_MODE_HYBRID : CGROUP_MODE_V1;
        }

        if (unified) {
                p->unified_mount = strdup(unified->target);
                p->unified_root = strdup(unified->root);
                if (!p->unified_mount || !p->unified_root)
                        return -ENOMEM;
        }

        if (p->mode != CGROUP_MODE_V2) {
                FOREACH_CONTROLLER(c)
                        enabled[c] = -1;
                r = read_proc_cgroups(prefix, enabled, e);
                if (r < 0)
                        return r;

                for (size_t i = 0; i < mounts->n; i++) {
                        const CgroupMount *m = &mounts->items[i];

                        FOREACH_CONTROLLER(c) {
                                ControllerMount *cm = &p->controllers[c];

                                if (!(m->controllers & (1u << c)))
                                        continue;
                                /* The same hierarchy mounted twice: keep the
                                 * first, unless only a later one mounts its
                                 * top. */
                                if (cm->version != 0 && (streq(cm->mount_root, "/") || !streq(m->root, "/")))
                                        continue;
                                r = controller_mount_set(cm, 1, m->target, m->root, enabled[c] != 0);
                                if (r < 0)
                                        return r;
                        }
                }
        }

        if (unified) {
                r = read_unified_controllers(prefix, unified->target, &mask, e);
                if (r < 0)
                        return r;

                FOREACH_CONTROLLER(c) {
                        if (p->controllers[c].version != 0 || !(mask & (1u << c)))
                                continue;
                        r = controller_mount_set(&p->controllers[c], 2, unified->target, unified->root,
                                                 true);
                        if (r < 0)
                                return r;
                }
        }

        return 0;
}

/* ---------------------------------------------------------------------------
 * Verification on the real host */

static int verify_fs_type(const char *path, unsigned long long magic, const char *expected, const char *why,
                          Error *e)
{
        struct statfs sfs;

        if (statfs(path, &sfs) < 0) {
                int err = errno;

                return error_set(e, GRPC_FAILED_PRECONDITION, err, "Cannot statfs %s: %s", path,
                                 strerror(err));
        }

        if (sfs.f_type != (__typeof__(sfs.f_type)) magic)
                return error_set(e, GRPC_FAILED_PRECONDITION, EMEDIUMTYPE,
                                 "%s is not %s (statfs f_type 0x%llx, expected 0x%llx) although %s", path,
                                 expected, (unsigned long long) sfs.f_type, magic, why);
        return 0;
}

static int verify_host(const HostProbe *p, Error *e)
{
        int r;

        if (p->mode == CGROUP_MODE_V2)
                return verify_fs_type(p->cgroup_root, CGROUP2_SUPER_MAGIC, "a cgroup2 file system",
                                      "/proc/self/mountinfo lists cgroup2 there", e);

        r = verify_fs_type(p->cgroup_root, TMPFS_MAGIC, "a tmpfs",
                           "/proc/self/mountinfo lists cgroup v1 hierarchies at or below it", e);
        if (r < 0)
                return r;

        if (p->unified_mount) {
                r = verify_fs_type(p->unified_mount, CGROUP2_SUPER_MAGIC, "a cgroup2 file system",
                                   "/proc/self/mountinfo lists cgroup2 there", e);
                if (r < 0)
                        return r;
        }

        FOREACH_CONTROLLER(c) {
                const ControllerMount *cm = &p->controllers[c];

                if (cm->version != 1)
                        continue;
                r = verify_fs_type(cm->mount_point, CGROUP_SUPER_MAGIC, "a cgroup v1 file system",
                                   "/proc/self/mountinfo lists a cgroup hierarchy there", e);
                if (r < 0)
                        return r;
        }

        return 0;
}

/* ---------------------------------------------------------------------------
 * Features */

static bool have_pidfd(void)
{
#ifdef SYS_pidfd_open
        int fd = (int) syscall(SYS_pidfd_open, getpid(), 0);

        if (fd < 0)
                return false;
        safe_close(fd);
        return true;
#else
        return false;
#endif
}

static bool have_openat2(void)
{
#if defined(HAVE_LINUX_OPENAT2_H) && defined(SYS_openat2)
        struct open_how how = {
                .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH,
        };
        _cleanup_close_ int dfd = -EBADF;
        int fd;

        dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return false;
        /* ENOSYS on old kernels, EPERM or ENOSYS under some seccomp
         * filters: either way, not usable. */
        fd = (int) syscall(SYS_openat2, dfd, ".", &how, sizeof how);
        if (fd < 0)
                return false;
        safe_close(fd);
        return true;
#else
        return false;
#endif
}

static int read_kernel_release(const char *prefix, char **ret)
{
        struct utsname u;
        char *s;

        if (prefix[0] != '\0') {
                _cleanup_free_ char *path = prefixed(prefix, "/proc/sys/kernel/osrelease", NULL);
                int r;

                if (!path)
                        return -ENOMEM;
                r = read_one_line(path, ret);
                if (r != -ENOENT)
                        return r;
        }

        if (uname(&u) < 0)
                return negative_errno();
        s = strdup(u.release);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

typedef struct UnifiedChildren {
        bool any;               /* a first-level child cgroup exists */
        bool kill;              /* one of them has cgroup.kill */
        bool freeze;            /* ... cgroup.freeze */
        bool swap_max;          /* ... memory.swap.max */
        bool memory;            /* ... memory.max: memory is enabled below the root */
} UnifiedChildren;

/* The files that exist only in non-root cgroups, looked up in the
 * first-level children of the cgroup2 mount. */
static int scan_unified_children(const char *path, UnifiedChildren *ret)
{
        _cleanup_closedir_ DIR *d = NULL;
        UnifiedChildren u = {};
        struct dirent *de;
        int r;

        r = open_dir(path, &d);
        if (r == -ENOENT || r == -ENOTDIR) {
                *ret = u;
                return 0;
        }
        if (r < 0)
                return r;

        for (;;) {
                _cleanup_close_ int fd = -EBADF;
                struct stat st;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        break;
                }
                if (de->d_name[0] == '.' || !dirent_is_dir(d, de))
                        continue;

                fd = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        continue; /* removed meanwhile */
                u.any = true;
                u.kill = u.kill || fstatat(fd, "cgroup.kill", &st, AT_SYMLINK_NOFOLLOW) == 0;
                u.freeze = u.freeze || fstatat(fd, "cgroup.freeze", &st, AT_SYMLINK_NOFOLLOW) == 0;
                u.swap_max = u.swap_max || fstatat(fd, "memory.swap.max", &st, AT_SYMLINK_NOFOLLOW) == 0;
                u.memory = u.memory || fstatat(fd, "memory.max", &st, AT_SYMLINK_NOFOLLOW) == 0;
                if (u.kill && u.freeze && u.swap_max)
                        break;
        }

        *ret = u;
        return 0;
}

static bool kernel_at_least(unsigned major, unsigned minor, unsigned want_major, unsigned want_minor)
{
        return major > want_major || (major == want_major && minor >= want_minor);
}

/* Is word (e.g. "swapaccount=0") one of the kernel's boot parameters?
 * false when /proc/cmdline cannot be read. */
static bool cmdline_has(const char *prefix, const char *word)
{
        _cleanup_free_ char *path = prefixed(prefix, "/proc/cmdline", NULL), *line = NULL;
        size_t n = strlen(word);

        if (!path || read_one_line(path, &line) < 0)
                return false;
        for (const char *q = line; (q = strstr(q, word)); q += n)
                if ((q == line || q[-1] == ' ') && (q[n] == '\0' || q[n] == ' '))
                        return true;
        return false;
}

static int probe_features(const char *prefix, HostProbe *p, Error *e)
{
        HostFeatures *f = &p->features;
        const ControllerMount *memory = &p->controllers[CONTROLLER_MEMORY];
        UnifiedChildren children = {};
        unsigned major = 0, minor = 0;
        int r;

        f->pidfd = have_pidfd();
        f->openat2 = have_openat2();

        /* An unparsable release leaves 0.0: only the file checks count. */
        (void) kernel_release_parse(p->kernel_release, &major, &minor);

        if (p->unified_mount) {
                _cleanup_free_ char *path = prefixed(prefix, p->unified_mount, NULL);

                if (!path)
                        return -ENOMEM;
                r = scan_unified_children(path, &children);
                if (r < 0)
                        return error_set(e, grpc_code_from_errno(r), r, "Cannot read the directory %s: %s",
                                         path, strerror(-r));

                /* A child cgroup shows what the kernel offers; without
                 * one, the version decides. */
                f->cgroup_kill = children.any ? children.kill : kernel_at_least(major, minor, 5, 14);
                f->cgroup_freeze = children.any ? children.freeze : kernel_at_least(major, minor, 5, 2);
                f->clone_into_cgroup = kernel_at_least(major, minor, 5, 7);
        }

        if (memory->version == 1) {
                _cleanup_free_ char *path = prefixed(prefix, memory->mount_point,
                                                     "memory.memsw.limit_in_bytes");

                if (!path)
                        return -ENOMEM;
                f->memory_swap = access(path, F_OK) == 0;
        } else if (memory->version == 2) {
                /* memory.swap.max shows only where memory is enabled, never
                 * in the root. A child with memory.max but no swap file: no
                 * swap accounting. No child with memory at all (a bare root,
                 * e.g. without systemd): swap accounting is on since 5.8
                 * unless the kernel was booted with swapaccount=0. */
                if (children.swap_max || children.memory)
                        f->memory_swap = children.swap_max;
                else
                        f->memory_swap = kernel_at_least(major, minor, 5, 8) && !cmdline_has(prefix, "swapaccount=0");
        }

        return 0;
}

/* ---------------------------------------------------------------------------
 * Huge page sizes */

static int cmp_uint64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* "hugepages-2048kB" → 2048. */
static bool parse_hugepages_name(const char *name, uint64_t *ret_kb)
{
        static const char prefix[] = "hugepages-";
        const char *p;
        uint64_t kb = 0;

        if (strncmp(name, prefix, sizeof prefix - 1) != 0)
                return false;
        p = name + sizeof prefix - 1;
        if (*p < '1' || *p > '9')
                return false;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (kb > (UINT64_MAX / 1024 - (uint64_t) (*p - '0')) / 10)
                        return false;
                kb = kb * 10 + (uint64_t) (*p - '0');
        }
        if (!streq(p, "kB"))
                return false;

        *ret_kb = kb;
        return true;
}

/* The kernel's names for the hugetlb cgroup files (mm/hugetlb_cgroup.c). */
static char *hugepage_size_name(uint64_t kb)
{
        uint64_t bytes = kb * 1024;
        char *s;
        int n;

        if (bytes >= UINT64_C(1) << 30)
                n = asprintf(&s, "%" PRIu64 "GB", bytes >> 30);
        else if (bytes >= UINT64_C(1) << 20)
                n = asprintf(&s, "%" PRIu64 "MB", bytes >> 20);
        else
                n = asprintf(&s, "%" PRIu64 "KB", kb);
        return n < 0 ? NULL : s;
}

static int read_hugepage_sizes(const char *prefix, char ***ret, Error *e)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ uint64_t *sizes = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        size_t n = 0, allocated = 0;
        char **l;
        int r;

        path = prefixed(prefix, HUGEPAGES_DIR, NULL);
        if (!path)
                return -ENOMEM;

        r = open_dir(path, &d);
        if (r < 0 && r != -ENOENT)
                return error_set(e, grpc_code_from_errno(r), r, "Cannot open %s: %s", path, strerror(-r));

        while (d) {
                struct dirent *de;
                uint64_t kb;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return error_set(e, GRPC_INTERNAL, errno, "Cannot read %s: %s", path,
                                                 strerror(errno));
                        break;
                }
                if (!parse_hugepages_name(de->d_name, &kb) || !dirent_is_dir(d, de))
                        continue;

                if (n == allocated) {
                        size_t a = allocated ? allocated * 2 : 4;
                        uint64_t *s = reallocarray(sizes, a, sizeof *s);

                        if (!s)
                                return -ENOMEM;
                        sizes = s;
                        allocated = a;
                }
                sizes[n++] = kb;
        }

        if (n > 0)
                qsort(sizes, n, sizeof *sizes, cmp_uint64);

        l = calloc(n + 1, sizeof *l);
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                l[i] = hugepage_size_name(sizes[i]);
                if (!l[i]) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }

        *ret = l;
        return 0;
}

/* ---------------------------------------------------------------------------
 * Entry point */

static int probe(const char *prefix, const char *cgroup_root, HostProbe *ret, Error *e)
{
        _cleanup_(host_probe_done) HostProbe p = {};
        _cleanup_(mount_list_done) MountList mounts = {};
        _cleanup_free_ char *pfx = NULL;
        bool host;
        int r;

        if (!prefix)
                prefix = "/";
        if (prefix[0] == '\0')
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL, "The probe prefix is empty");
        if (!cgroup_root || cgroup_root[0] != '/')
                return error_set(e, GRPC_INVALID_ARGUMENT, EINVAL,
                                 "The cgroup root \"%s\" is not an absolute path", strna(cgroup_root));

        /* Without trailing slashes: "" for the host, so that paths join
         * as "<prefix>/proc/...". */
        r = path_normalize_dir(prefix, &pfx);
        if (r < 0)
                return r;
        host = streq(pfx, "/");
        if (host)
                pfx[0] = '\0';

        r = path_normalize_dir(cgroup_root, &p.cgroup_root);
        if (r < 0)
                return r;

        r = collect_mounts(pfx, p.cgroup_root, &mounts, e);
        if (r < 0)
                return r;

        r = assign_mounts(pfx, &mounts, &p, e);
        if (r < 0)
                return r;

        if (host) {
                r = verify_host(&p, e);
                if (r < 0)
                        return r;
        }

        r = read_kernel_release(pfx, &p.kernel_release);
        if (r < 0)
                return error_set(e, grpc_code_from_errno(r), r, "Cannot determine the kernel release: %s",
                                 strerror(-r));

        r = probe_features(pfx, &p, e);
        if (r < 0)
                return r;

        r = read_hugepage_sizes(pfx, &p.hugepage_sizes, e);
        if (r < 0)
                return r;

        *ret = p;
        p = (HostProbe) {};
        return 0;
}

int host_probe(const char *prefix, const char *cgroup_root, HostProbe *ret, Error *e)
{
        int r;

        if (!ret)
                return error_set(e, GRPC_INTERNAL, EINVAL, "host_probe() called without a result");

        r = probe(prefix, cgroup_root, ret, e);
        if (r < 0)
                /* Helpers that had nothing to add (ENOMEM) leave e unset. */
                (void) error_set(e, grpc_code_from_errno(r), r, "Cannot probe the cgroups of this host: %s",
                                 strerror(-r));
        return r;
}
