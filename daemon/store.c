/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/strv.h"
#include "daemon/failpoint.h"
#include "daemon/manager.h"
#include "daemon/names.h"
#include "daemon/pbconv.h"
#include "daemon/store.h"
#include "sandboxcgd/record.pb-c.h"

#define RECORD_FORMAT 1
/* A record is a few hundred bytes; a hostile or damaged file is not read whole. */
#define RECORD_SIZE_MAX (1024 * 1024)
#define TEMP_PREFIX ".tmp-"
#define CORRUPT_SUFFIX ".corrupt"

static int read_boot_id(char ret[static BOOT_ID_MAX + 1])
{
        _cleanup_close_ int fd = -EBADF;
        char buf[BOOT_ID_MAX + 2];
        ssize_t n;

        fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (strlen(buf) != BOOT_ID_MAX)
                return -EBADMSG;
        memcpy(ret, buf, BOOT_ID_MAX + 1);
        return 0;
}

int store_open(Store *st, const char *dir, Error *e)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *copy = NULL;
        int r;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_set(e, GRPC_INTERNAL, errno, "Cannot open state directory %s: %s", dir,
                                 strerror(errno));
        r = read_boot_id(st->boot_id);
        if (r < 0)
                return error_set(e, GRPC_INTERNAL, -r, "Cannot read the boot id: %s", strerror(-r));
        copy = strdup(dir);
        if (!copy)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
        st->dir = TAKE_PTR(copy);
        st->dir_fd = TAKE_FD(fd);
        return 0;
}

void store_close(Store *st)
{
        st->dir_fd = safe_close(st->dir_fd);
        free(st->dir);
        st->dir = NULL;
}

static int record_from_sandbox(const Store *st, const Sandbox *s, Sandboxcgd__Record__SandboxRecord **ret)
{
        _cleanup_pb_ Sandboxcgd__Record__SandboxRecord *rec =
                pb_new(&sandboxcgd__record__sandbox_record__descriptor);

        if (!rec)
                return -ENOMEM;
        PB_SET(rec, format, RECORD_FORMAT);
        if (pb_strdup(&rec->boot_id, st->boot_id) < 0 || pb_strdup(&rec->id, s->spec.id) < 0 ||
            pb_strdup(&rec->cgroup_parent, s->spec.parent) < 0)
                return -ENOMEM;
        PB_SET(rec, state, sandbox_state_to_pb(s->state));
        if (resources_to_pb(&s->spec.resources, &rec->resources) < 0 ||
            resources_to_pb(&s->spec.overhead, &rec->overhead) < 0)
                return -ENOMEM;
        if (s->vmm_pid > 0) {
                PB_SET(rec, vmm_pid, s->vmm_pid);
                PB_SET(rec, vmm_start_time, s->vmm_start_time);
        }
        if (s->n_vcpu_tids > 0) {
                rec->vcpu_tids = calloc(s->n_vcpu_tids, sizeof *rec->vcpu_tids);
                if (!rec->vcpu_tids)
                        return -ENOMEM;
                for (size_t i = 0; i < s->n_vcpu_tids; i++)
                        rec->vcpu_tids[i] = s->vcpu_tids[i];
                rec->n_vcpu_tids = s->n_vcpu_tids;
        }
        PB_SET(rec, created_at, s->created_at);
        PB_SET(rec, updated_at, s->updated_at);
        if (s->vmm_exited_at > 0)
                PB_SET(rec, vmm_exited_at, s->vmm_exited_at);

        if (s->pending != SANDBOX_OP_NONE) {
                /* The enum values are the record's (static_assert below). */
                PB_SET(rec, pending, (Sandboxcgd__Record__Operation) s->pending);
                if (s->pending == SANDBOX_OP_UPDATE &&
                    (resources_to_pb(&s->pending_resources, &rec->pending_resources) < 0 ||
                     resources_to_pb(&s->pending_overhead, &rec->pending_overhead) < 0))
                        return -ENOMEM;
                if (s->pending == SANDBOX_OP_ATTACH_VMM) {
                        PB_SET(rec, pending_vmm_pid, s->pending_vmm_pid);
                        PB_SET(rec, pending_vmm_start_time, s->pending_vmm_start_time);
                }
        }

        if (s->made_parents) {
                size_t n = strv_length(s->made_parents);

                rec->made_parents = calloc(n, sizeof *rec->made_parents);
                if (!rec->made_parents)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        if (pb_strdup(&rec->made_parents[i], s->made_parents[i]) < 0)
                                return -ENOMEM;
                        rec->n_made_parents++;
                }
        }

        *ret = TAKE_PTR(rec);
        return 0;
}

_Static_assert((int) SANDBOX_OP_CREATE == SANDBOXCGD__RECORD__OPERATION__OPERATION_CREATE &&
                       (int) SANDBOX_OP_UPDATE == SANDBOXCGD__RECORD__OPERATION__OPERATION_UPDATE &&
                       (int) SANDBOX_OP_ATTACH_VMM == SANDBOXCGD__RECORD__OPERATION__OPERATION_ATTACH_VMM &&
                       (int) SANDBOX_OP_ATTACH_VCPUS == SANDBOXCGD__RECORD__OPERATION__OPERATION_ATTACH_VCPUS &&
                       (int) SANDBOX_OP_DELETE == SANDBOXCGD__RECORD__OPERATION__OPERATION_DELETE,
               "SandboxOp mirrors sandboxcgd.record.Operation");

static int write_all(int fd, const uint8_t *buf, size_t size)
{
        while (size > 0) {
                ssize_t k = write(fd, buf, size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += k;
                size -= (size_t) k;
        }
        return 0;
}

int store_save(Store *st, const Sandbox *s, Error *e)
{
        _cleanup_pb_ Sandboxcgd__Record__SandboxRecord *rec = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        char name[SANDBOX_ID_MAX + sizeof STORE_SUFFIX], temp[sizeof TEMP_PREFIX + sizeof name];
        size_t size;
        int r;

        if (record_from_sandbox(st, s, &rec) < 0)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
        size = protobuf_c_message_get_packed_size(&rec->base);
        buf = malloc(MAX(size, (size_t) 1));
        if (!buf)
                return error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
        protobuf_c_message_pack(&rec->base, buf);

        (void) snprintf(name, sizeof name, "%s" STORE_SUFFIX, s->spec.id);
        (void) snprintf(temp, sizeof temp, TEMP_PREFIX "%s", name);

        fd = openat(st->dir_fd, temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return error_set(e, GRPC_INTERNAL, errno, "Sandbox %s: cannot create %s/%s: %s", s->spec.id,
                                 st->dir, temp, strerror(errno));
        r = write_all(fd, buf, size);
        if (r >= 0 && st->sync && fsync(fd) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(st->dir_fd, temp, 0);
                return error_set(e, GRPC_INTERNAL, -r, "Sandbox %s: cannot write %s/%s: %s", s->spec.id,
                                 st->dir, temp, strerror(-r));
        }
        fd = safe_close(fd);

        if (renameat(st->dir_fd, temp, st->dir_fd, name) < 0) {
                r = -errno;
                (void) unlinkat(st->dir_fd, temp, 0);
                return error_set(e, GRPC_INTERNAL, -r, "Sandbox %s: cannot rename %s/%s: %s", s->spec.id,
                                 st->dir, temp, strerror(-r));
        }
        if (st->sync && fsync(st->dir_fd) < 0)
                return error_set(e, GRPC_INTERNAL, errno, "Sandbox %s: cannot sync %s: %s", s->spec.id,
                                 st->dir, strerror(errno));
        FAILPOINT("record");
        return 0;
}

int store_remove(Store *st, const char *id, Error *e)
{
        char name[SANDBOX_ID_MAX + sizeof STORE_SUFFIX];

        (void) snprintf(name, sizeof name, "%s" STORE_SUFFIX, id);
        if (unlinkat(st->dir_fd, name, 0) < 0) {
                if (errno == ENOENT)
                        return 0;
                return error_set(e, GRPC_INTERNAL, errno, "Sandbox %s: cannot remove %s/%s: %s", id, st->dir,
                                 name, strerror(errno));
        }
        if (st->sync && fsync(st->dir_fd) < 0)
                return error_set(e, GRPC_INTERNAL, errno, "Sandbox %s: cannot sync %s: %s", id, st->dir,
                                 strerror(errno));
        FAILPOINT("record");
        return 0;
}

static int read_record(int dir_fd, const char *name, uint8_t **ret, size_t *ret_size)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        struct stat stbuf;
        size_t n = 0;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &stbuf) < 0)
                return -errno;
        if (!S_ISREG(stbuf.st_mode))
                return -EBADFD;
        if (stbuf.st_size > RECORD_SIZE_MAX)
                return -EFBIG;
        buf = malloc((size_t) stbuf.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (n < (size_t) stbuf.st_size) {
                ssize_t k = read(fd, buf + n, (size_t) stbuf.st_size - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

/* Is dir (relative to the cgroup root) parent, or one of its ancestors below
 * a hierarchy's mount? */
static bool is_parent_level(Manager *m, const char *parent, const char *dir)
{
        for (size_t i = 0; i < m->engine.n_hierarchies; i++) {
                const Hierarchy *h = &m->engine.hierarchies[i];
                const char *mount = h->mount_dir;
                size_t k = strlen(mount);
                const char *rest = dir;

                if (k > 0) {
                        if (strncmp(dir, mount, k) != 0 || dir[k] != '/')
                                continue;
                        rest = dir + k + 1;
                }
                size_t n = strlen(rest);
                if (n > 0 && strncmp(parent, rest, n) == 0 && (parent[n] == '\0' || parent[n] == '/'))
                        return true;
        }
        return false;
}

/* The sandbox a record describes; -EBADMSG with *reason for a record that
 * does not make sense. */
static int sandbox_from_record(Manager *m, const Sandboxcgd__Record__SandboxRecord *rec, const char *name,
                               Sandbox **ret, const char **reason)
{
        _cleanup_(sandbox_freep) Sandbox *s = NULL;
        char expected[SANDBOX_ID_MAX + sizeof STORE_SUFFIX];
        _cleanup_free_ char *parent = NULL;
        SandboxState state;

        if (!rec->id || !sandbox_id_is_valid(rec->id)) {
                *reason = "no valid sandbox id";
                return -EBADMSG;
        }
        (void) snprintf(expected, sizeof expected, "%s" STORE_SUFFIX, rec->id);
        if (!streq(expected, name)) {
                *reason = "the file name does not match the sandbox id";
                return -EBADMSG;
        }
        if (cgroup_parent_normalize(rec->cgroup_parent, "cgroup_parent", &parent, NULL) < 0) {
                *reason = "no valid cgroup parent";
                return -EBADMSG;
        }
        state = rec->has_state ? sandbox_state_from_pb(rec->state) : _SANDBOX_STATE_INVALID;
        if (state < 0) {
                *reason = "no known state";
                return -EBADMSG;
        }
        if (rec->has_pending && (rec->pending < 0 || rec->pending >= (int) _SANDBOX_OP_MAX)) {
                *reason = "an unknown pending operation";
                return -EBADMSG;
        }

        if (sandbox_new(m, &s) < 0)
                return -ENOMEM;
        s->spec.id = strdup(rec->id);
        if (!s->spec.id)
                return -ENOMEM;
        s->spec.parent = TAKE_PTR(parent);
        s->state = state;
        if (resources_from_pb(rec->resources, &s->spec.resources) < 0 ||
            resources_from_pb(rec->overhead, &s->spec.overhead) < 0)
                return -ENOMEM;
        if (rec->has_vmm_pid && rec->vmm_pid > 0) {
                s->vmm_pid = rec->vmm_pid;
                s->vmm_start_time = rec->vmm_start_time;
        }
        if (rec->n_vcpu_tids > 0) {
                s->vcpu_tids = calloc(rec->n_vcpu_tids, sizeof *s->vcpu_tids);
                if (!s->vcpu_tids)
                        return -ENOMEM;
                for (size_t i = 0; i < rec->n_vcpu_tids; i++)
                        s->vcpu_tids[i] = rec->vcpu_tids[i];
                s->n_vcpu_tids = rec->n_vcpu_tids;
        }
        s->created_at = rec->created_at;
        s->updated_at = rec->updated_at;
        s->vmm_exited_at = rec->vmm_exited_at;

        s->pending = rec->has_pending ? (SandboxOp) rec->pending : SANDBOX_OP_NONE;
        if (resources_from_pb(rec->pending_resources, &s->pending_resources) < 0 ||
            resources_from_pb(rec->pending_overhead, &s->pending_overhead) < 0)
                return -ENOMEM;
        s->pending_vmm_pid = rec->pending_vmm_pid;
        for (size_t i = 0; i < rec->n_made_parents; i++) {
                /* Only ever a level of this sandbox's own parent. */
                if (!is_parent_level(m, s->spec.parent, rec->made_parents[i])) {
                        *reason = "a made parent level outside the sandbox's parent";
                        return -EBADMSG;
                }
                if (strv_extend(&s->made_parents, rec->made_parents[i]) < 0)
                        return -ENOMEM;
        }
        s->pending_vmm_start_time = rec->pending_vmm_start_time;

        *ret = TAKE_PTR(s);
        return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
        size_t n = strlen(s), k = strlen(suffix);
        return n > k && streq(s + n - k, suffix);
}

static void quarantine(Store *st, const char *name, StoreProblemFn problem, void *userdata, const char *reason)
{
        char dest[NAME_MAX + 1];

        if (snprintf(dest, sizeof dest, "%s" CORRUPT_SUFFIX, name) >= (int) sizeof dest ||
            renameat(st->dir_fd, name, st->dir_fd, dest) < 0)
                (void) unlinkat(st->dir_fd, name, 0);
        problem(userdata, STORE_CORRUPT, name, reason);
}

static void sandboxes_free(Sandbox **l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                sandbox_free(l[i]);
        free(l);
}

int store_load(Store *st, Manager *m, StoreProblemFn problem, void *userdata, Sandbox ***ret, size_t *ret_n,
               Error *e)
{
        _cleanup_closedir_ DIR *d = NULL;
        Sandbox **list = NULL;
        size_t n = 0, allocated = 0;
        int fd, r;

        fd = openat(st->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_set(e, GRPC_INTERNAL, errno, "Cannot open %s: %s", st->dir, strerror(errno));
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                safe_close(fd);
                return error_set(e, GRPC_INTERNAL, -r, "Cannot open %s: %s", st->dir, strerror(-r));
        }

        for (;;) {
                _cleanup_pb_ Sandboxcgd__Record__SandboxRecord *rec = NULL;
                _cleanup_free_ uint8_t *buf = NULL;
                const char *reason = NULL;
                struct dirent *de;
                Sandbox *s = NULL;
                size_t size = 0;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno == 0)
                                break;
                        r = error_set(e, GRPC_INTERNAL, errno, "Cannot read %s: %s", st->dir, strerror(errno));
                        goto fail;
                }
                if (strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0) {
                        (void) unlinkat(st->dir_fd, de->d_name, 0);
                        problem(userdata, STORE_STRAY, de->d_name, "left by an interrupted write");
                        continue;
                }
                if (!has_suffix(de->d_name, STORE_SUFFIX))
                        continue; /* ".", "..", quarantined files, anything else */

                r = read_record(st->dir_fd, de->d_name, &buf, &size);
                if (r == -ENOMEM) {
                        r = error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
                        goto fail;
                }
                if (r < 0) {
                        quarantine(st, de->d_name, problem, userdata, strerror(-r));
                        continue;
                }
                rec = sandboxcgd__record__sandbox_record__unpack(NULL, size, buf);
                if (!rec) {
                        quarantine(st, de->d_name, problem, userdata, "not a sandbox record");
                        continue;
                }
                if (!rec->boot_id) {
                        /* Every record has one: this (e.g. an empty file,
                         * which unpacks as a message with nothing set) is
                         * not a record. */
                        quarantine(st, de->d_name, problem, userdata, "no boot id");
                        continue;
                }
                if (!streq(rec->boot_id, st->boot_id)) {
                        (void) unlinkat(st->dir_fd, de->d_name, 0);
                        problem(userdata, STORE_OTHER_BOOT, de->d_name, rec->boot_id);
                        continue;
                }
                r = sandbox_from_record(m, rec, de->d_name, &s, &reason);
                if (r == -EBADMSG) {
                        quarantine(st, de->d_name, problem, userdata, reason);
                        continue;
                }
                if (r < 0) {
                        r = error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
                        goto fail;
                }

                if (n == allocated) {
                        size_t k = MAX(allocated * 2, (size_t) 16);
                        Sandbox **l = reallocarray(list, k, sizeof *list);
                        if (!l) {
                                sandbox_free(s);
                                r = error_set(e, GRPC_RESOURCE_EXHAUSTED, ENOMEM, "Out of memory");
                                goto fail;
                        }
                        list = l;
                        allocated = k;
                }
                list[n++] = s;
        }

        *ret = list;
        *ret_n = n;
        return 0;
fail:
        sandboxes_free(list, n);
        return r;
}
