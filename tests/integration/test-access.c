/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* Who may do what, and the limits of a connection, against the built
 * daemon: clients run as other uids and groups (forked children that drop
 * to them; SO_PEERCRED needs no /etc entry, so only numeric ids are used and
 * nothing is added to this machine), and each limit is reached while the
 * daemon is shown to still serve others. Claims about sandboxes are checked
 * in the kernel's directories; claims about sockets with stat(). Needs root
 * (skipped with 77 otherwise); sandboxes live under a parent unique to the
 * run, removed at the end also on failure. */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "sandboxcg/v1/sandboxcg.pb-c.h"
#include "tests/integration/harness.h"

#define SERVICE "sandboxcg.v1.SandboxCgroup"

/* Groups of the configuration, numeric: they need no name. */
#define GID_ADMIN 43210
#define GID_READER 43211
#define GID_SOCKET 43212

typedef struct Identity {
        uid_t uid;
        gid_t gid;
        size_t n_groups;
        gid_t groups[4];
} Identity;

static const Identity nobody = { 65534, 65534, 0, {} };
/* Admin by a supplementary group, admin by the primary group, reader. */
static const Identity admin_supp = { 65533, 65533, 1, { GID_ADMIN } };
static const Identity admin_primary = { 65531, GID_ADMIN, 0, {} };
static const Identity reader = { 65532, 65532, 2, { 4242, GID_READER } };
static const Identity socket_member = { 65530, 65530, 1, { GID_SOCKET } };

static TestDaemon daemon_;
static char parent[128];
static char rundir[256]; /* private, searchable by everyone (0711) */
static char logpath[300];
static char info_socket[400]; /* where dirs_of() asks for HostInfo */

/* ---------------------------------------------------------------------------
 * Fixtures: in the runner process, so that they also run after a failure. */

static void unchecked_setup(void)
{
        test_unique_parent(parent, sizeof parent);
        (void) snprintf(rundir, sizeof rundir, "/tmp/scg-test-access-XXXXXX");
        if (!mkdtemp(rundir) || chmod(rundir, 0711) < 0)
                rundir[0] = '\0';
}

static void unchecked_teardown(void)
{
        test_remove_parent_everywhere(parent);
        if (rundir[0] && strstr(rundir, "/scg-test-access-") && !strchr(rundir, '\'')) {
                char cmd[400];
                (void) snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", rundir);
                (void) system(cmd);
        }
}

static void checked_setup(void)
{
        ck_assert_msg(rundir[0], "no run directory");
        /* The harness makes its directories here: reachable by the other
         * uids, unlike a private $TMPDIR. */
        ck_assert_int_eq(setenv("TMPDIR", rundir, 1), 0);
        (void) unsetenv("JOURNAL_STREAM");
}

static void checked_teardown(void)
{
        if (daemon_.pid > 0 || daemon_.dir[0])
                test_daemon_stop(&daemon_);
}

/* ---------------------------------------------------------------------------
 * The daemon. */

/* Start it with args, its log in logpath, its directory searchable by all. */
static void start_with(const char *const *args)
{
        (void) snprintf(logpath, sizeof logpath, "%s/daemon-%d.log", rundir, (int) getpid());
        int log = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        ck_assert_int_ge(log, 0);
        int saved = dup(STDERR_FILENO);
        ck_assert_int_ge(saved, 0);
        ck_assert_int_eq(dup2(log, STDERR_FILENO), STDERR_FILENO);
        int r = test_daemon_start(&daemon_, args);
        (void) dup2(saved, STDERR_FILENO);
        close(saved);
        close(log);
        ck_assert_msg(r == 0, "daemon did not start: %s (log %s)", strerror(-r), logpath);
        ck_assert_int_eq(chmod(daemon_.dir, 0711), 0);
        (void) snprintf(info_socket, sizeof info_socket, "%s", daemon_.socket);
}

static void stop_and_check(void)
{
        ck_assert_msg(test_daemon_alive(&daemon_), "daemon died during the test");
        int status = test_daemon_stop(&daemon_);
        ck_assert_msg(status == 0, "daemon exited with status %d (sanitizer report or unclean stop?)", status);
}

static bool log_contains(const char *needle)
{
        char buf[1 << 16];
        int fd = open(logpath, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n < 0)
                return false;
        buf[n] = '\0';
        return strstr(buf, needle) != NULL;
}

/* ---------------------------------------------------------------------------
 * Calls, as root or as another identity. */

typedef struct Outcome {
        int r;                  /* < 0: connect or the call failed (-errno) */
        int code;               /* gRPC code of the response, 0 = OK */
        char message[256];
        size_t payload_len;
        uint8_t payload[16384];
} Outcome;

static void *shared_new(size_t size)
{
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(p, MAP_FAILED);
        memset(p, 0, size);
        return p;
}

static int become(const Identity *id)
{
        if (setgroups(id->n_groups, id->n_groups > 0 ? id->groups : NULL) < 0 ||
            setresgid(id->gid, id->gid, id->gid) < 0 || setresuid(id->uid, id->uid, id->uid) < 0)
                return -errno;
        return 0;
}

static void call_on(int fd, uint32_t stream, const char *method, const ProtobufCMessage *msg, Outcome *o)
{
        Ttrpc__Response *resp = NULL;

        *o = (Outcome){};
        o->r = test_call(fd, stream, method, msg, &resp);
        if (o->r < 0)
                return;
        if (resp->status) {
                o->code = resp->status->code;
                (void) snprintf(o->message, sizeof o->message, "%s", strempty(resp->status->message));
        }
        o->payload_len = MIN(resp->payload.len, sizeof o->payload);
        if (o->payload_len > 0)
                memcpy(o->payload, resp->payload.data, o->payload_len);
        ttrpc__response__free_unpacked(resp, NULL);
}

static void call_path(const char *socket, const char *method, const ProtobufCMessage *msg, Outcome *o)
{
        int fd = test_connect(socket);
        if (fd < 0) {
                *o = (Outcome){ .r = fd };
                return;
        }
        call_on(fd, 1, method, msg, o);
        close(fd);
}

/* One call on a new connection in a child that is id; returns the child's
 * pid (the peer the daemon saw). */
static pid_t call_as(const Identity *id, const char *socket, const char *method, const ProtobufCMessage *msg,
                     Outcome *ret)
{
        Outcome *o = shared_new(sizeof *o);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (become(id) < 0)
                        _exit(2);
                call_path(socket, method, msg, o);
                _exit(0);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child as uid %u failed (%d)",
                      (unsigned) id->uid, status);
        *ret = *o;
        munmap(o, sizeof *o);
        return pid;
}

static void assert_ok(const Outcome *o, const char *what)
{
        ck_assert_msg(o->r == 0, "%s: call failed: %s", what, strerror(-o->r));
        ck_assert_msg(o->code == 0, "%s: %s: %s", what, grpc_code_to_string(o->code), o->message);
}

static void assert_code(const Outcome *o, GrpcCode code, const char *substring, const char *what)
{
        ck_assert_msg(o->r == 0, "%s: call failed: %s", what, strerror(-o->r));
        ck_assert_msg(o->code == (int) code, "%s: expected %s, got %s (%s)", what, grpc_code_to_string(code),
                      grpc_code_to_string(o->code), o->message);
        if (substring)
                ck_assert_msg(strstr(o->message, substring), "%s: message '%s' lacks '%s'", what, o->message,
                              substring);
}

static void assert_denied(const Outcome *o, const char *method)
{
        char what[128];
        (void) snprintf(what, sizeof what, "%s (expected a denial)", method);
        assert_code(o, GRPC_PERMISSION_DENIED, method, what);
        ck_assert_msg(strstr(o->message, "permission denied"), "%s", o->message);
}

/* Version on a fresh connection as root: the daemon serves. */
static void assert_serving(const char *socket)
{
        Outcome o;
        call_path(socket, "Version", NULL, &o);
        assert_ok(&o, "Version as root");
}

/* Requests of each method: the ids name a sandbox of the test. */
typedef struct Requests {
        Sandboxcg__V1__Resources res;
        Sandboxcg__V1__CreateSandboxRequest create;
        Sandboxcg__V1__UpdateSandboxRequest update;
        Sandboxcg__V1__AttachVmmRequest attach_vmm;
        Sandboxcg__V1__AttachVcpusRequest attach_vcpus;
        Sandboxcg__V1__DeleteSandboxRequest delete_;
        Sandboxcg__V1__GetSandboxRequest get;
        Sandboxcg__V1__ListSandboxesRequest list;
} Requests;

static void requests_init(Requests *q, const char *id)
{
        *q = (Requests){
                .res = SANDBOXCG__V1__RESOURCES__INIT,
                .create = SANDBOXCG__V1__CREATE_SANDBOX_REQUEST__INIT,
                .update = SANDBOXCG__V1__UPDATE_SANDBOX_REQUEST__INIT,
                .attach_vmm = SANDBOXCG__V1__ATTACH_VMM_REQUEST__INIT,
                .attach_vcpus = SANDBOXCG__V1__ATTACH_VCPUS_REQUEST__INIT,
                .delete_ = SANDBOXCG__V1__DELETE_SANDBOX_REQUEST__INIT,
                .get = SANDBOXCG__V1__GET_SANDBOX_REQUEST__INIT,
                .list = SANDBOXCG__V1__LIST_SANDBOXES_REQUEST__INIT,
        };
        q->res.has_memory_limit_in_bytes = 1;
        q->res.memory_limit_in_bytes = 256 << 20;
        q->create.id = (char *) id;
        q->create.cgroup_parent = parent;
        q->create.resources = &q->res;
        q->update.id = (char *) id;
        q->update.resources = &q->res;
        q->attach_vmm.id = (char *) id;
        q->attach_vmm.has_pid = 1;
        q->attach_vmm.pid = getpid();
        q->attach_vcpus.id = (char *) id;
        q->delete_.id = (char *) id;
        q->get.id = (char *) id;
}

static const struct {
        const char *name;
        size_t offset;
        bool mutating;
} methods[] = {
        { "Version", SIZE_MAX, false },
        { "HostInfo", SIZE_MAX, false },
        { "GetSandbox", offsetof(Requests, get), false },
        { "ListSandboxes", offsetof(Requests, list), false },
        { "CreateSandbox", offsetof(Requests, create), true },
        { "UpdateSandbox", offsetof(Requests, update), true },
        { "AttachVmm", offsetof(Requests, attach_vmm), true },
        { "AttachVcpus", offsetof(Requests, attach_vcpus), true },
        { "DeleteSandbox", offsetof(Requests, delete_), true },
        { "Reconcile", SIZE_MAX, true },
};

static const ProtobufCMessage *request_of(const Requests *q, size_t i)
{
        return methods[i].offset == SIZE_MAX ? NULL : (const ProtobufCMessage *) ((const uint8_t *) q + methods[i].offset);
}

/* ---------------------------------------------------------------------------
 * The kernel's view of a sandbox. */

/* Every mount point the daemon reports, from HostInfo as root. */
static size_t mount_points(char mounts[][256], size_t max)
{
        Outcome o;
        size_t n = 0;

        call_path(info_socket, "HostInfo", NULL, &o);
        assert_ok(&o, "HostInfo");
        Sandboxcg__V1__HostInfoResponse *h =
                sandboxcg__v1__host_info_response__unpack(NULL, o.payload_len, o.payload);
        ck_assert_ptr_nonnull(h);
        for (size_t i = 0; i < h->n_controllers && n < max; i++) {
                bool dup = false;
                for (size_t j = 0; j < n; j++)
                        dup = dup || streq(mounts[j], h->controllers[i]->mount_point);
                if (!dup)
                        (void) snprintf(mounts[n++], 256, "%s", h->controllers[i]->mount_point);
        }
        if (h->unified_mount && h->unified_mount[0] && n < max)
                (void) snprintf(mounts[n++], 256, "%s", h->unified_mount);
        sandboxcg__v1__host_info_response__free_unpacked(h, NULL);
        ck_assert_uint_gt(n, 0);
        return n;
}

/* How many hierarchies hold a directory parent/id. */
static size_t dirs_of(const char *id)
{
        char mounts[32][256], path[600];
        size_t n = mount_points(mounts, ELEMENTSOF(mounts)), found = 0;
        struct stat st;

        for (size_t i = 0; i < n; i++) {
                (void) snprintf(path, sizeof path, "%s/%s/%s", mounts[i], parent, id);
                found += stat(path, &st) == 0 && S_ISDIR(st.st_mode);
        }
        return found;
}

/* A created sandbox: each directory of its `cgroups` is there. */
static void assert_created(const Outcome *o, const char *id)
{
        assert_ok(o, "CreateSandbox");
        Sandboxcg__V1__CreateSandboxResponse *resp =
                sandboxcg__v1__create_sandbox_response__unpack(NULL, o->payload_len, o->payload);
        ck_assert_ptr_nonnull(resp);
        ck_assert_ptr_nonnull(resp->sandbox);
        ck_assert_str_eq(resp->sandbox->id, id);
        ck_assert_uint_gt(resp->sandbox->n_cgroups, 0);
        for (size_t i = 0; i < resp->sandbox->n_cgroups; i++) {
                struct stat st;
                const char *p = resp->sandbox->cgroups[i]->path;
                ck_assert_msg(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "%s: not a directory", p);
        }
        sandboxcg__v1__create_sandbox_response__free_unpacked(resp, NULL);
        ck_assert_uint_gt(dirs_of(id), 0);
}

static bool list_has(const Outcome *o, const char *id)
{
        bool found = false;
        Sandboxcg__V1__ListSandboxesResponse *l =
                sandboxcg__v1__list_sandboxes_response__unpack(NULL, o->payload_len, o->payload);
        ck_assert_ptr_nonnull(l);
        for (size_t i = 0; i < l->n_sandboxes; i++)
                found = found || streq(l->sandboxes[i]->id, id);
        sandboxcg__v1__list_sandboxes_response__free_unpacked(l, NULL);
        return found;
}

/* ---------------------------------------------------------------------------
 * Who may do what. */

/* Without AdminGroup= and ReadOnlyGroup=, root only: another uid that can
 * reach the socket is refused every method, each denial is logged with its
 * uid and pid, and nothing is created. */
START_TEST(test_root_only_by_default)
{
        const char *const args[] = { "--socket-mode", "0666", NULL };
        Requests q;
        Outcome o;

        start_with(args);
        requests_init(&q, "denied");
        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                pid_t pid = call_as(&nobody, daemon_.socket, methods[i].name, request_of(&q, i), &o);
                assert_denied(&o, methods[i].name);
                char line[160];
                (void) snprintf(line, sizeof line, "Denied %s to pid %d uid 65534 gid 65534", methods[i].name,
                                (int) pid);
                ck_assert_msg(log_contains(line), "no log line '%s' in %s", line, logpath);
        }
        ck_assert_uint_eq(dirs_of("denied"), 0);

        /* Root is served throughout: the attempts changed nothing. */
        call_path(daemon_.socket, "ListSandboxes", &q.list.base, &o);
        assert_ok(&o, "ListSandboxes as root");
        ck_assert(!list_has(&o, "denied"));
        stop_and_check();
}
END_TEST

/* AdminGroup= members (by a supplementary or the primary group) may do
 * everything; ReadOnlyGroup= members may read, not change; others nothing. */
START_TEST(test_admin_and_read_only_groups)
{
        const char *const args[] = { "--socket-mode", "0666", "--admin-group", "43210", "--read-only-group",
                                     "43211", NULL };
        Requests a, b, c;
        Outcome o;

        start_with(args);
        requests_init(&a, "by-supplementary");
        requests_init(&b, "by-primary");
        requests_init(&c, "by-reader");

        call_as(&admin_supp, daemon_.socket, "CreateSandbox", &a.create.base, &o);
        assert_created(&o, "by-supplementary");
        call_as(&admin_primary, daemon_.socket, "CreateSandbox", &b.create.base, &o);
        assert_created(&o, "by-primary");
        call_as(&admin_primary, daemon_.socket, "UpdateSandbox", &a.update.base, &o);
        assert_ok(&o, "UpdateSandbox by an admin");

        /* The reader reads... */
        call_as(&reader, daemon_.socket, "GetSandbox", &a.get.base, &o);
        assert_ok(&o, "GetSandbox by a reader");
        Sandboxcg__V1__GetSandboxResponse *g =
                sandboxcg__v1__get_sandbox_response__unpack(NULL, o.payload_len, o.payload);
        ck_assert_ptr_nonnull(g);
        ck_assert_str_eq(g->sandbox->id, "by-supplementary");
        sandboxcg__v1__get_sandbox_response__free_unpacked(g, NULL);
        call_as(&reader, daemon_.socket, "ListSandboxes", &a.list.base, &o);
        assert_ok(&o, "ListSandboxes by a reader");
        ck_assert(list_has(&o, "by-supplementary") && list_has(&o, "by-primary"));
        call_as(&reader, daemon_.socket, "Version", NULL, &o);
        assert_ok(&o, "Version by a reader");
        call_as(&reader, daemon_.socket, "HostInfo", NULL, &o);
        assert_ok(&o, "HostInfo by a reader");

        /* ...and changes nothing. */
        call_as(&reader, daemon_.socket, "CreateSandbox", &c.create.base, &o);
        assert_denied(&o, "CreateSandbox");
        ck_assert_uint_eq(dirs_of("by-reader"), 0);
        call_as(&reader, daemon_.socket, "DeleteSandbox", &a.delete_.base, &o);
        assert_denied(&o, "DeleteSandbox");
        ck_assert_uint_gt(dirs_of("by-supplementary"), 0);
        call_as(&reader, daemon_.socket, "UpdateSandbox", &a.update.base, &o);
        assert_denied(&o, "UpdateSandbox");

        /* Neither group: nothing at all. */
        call_as(&nobody, daemon_.socket, "GetSandbox", &a.get.base, &o);
        assert_denied(&o, "GetSandbox");
        call_as(&nobody, daemon_.socket, "ListSandboxes", &a.list.base, &o);
        assert_denied(&o, "ListSandboxes");
        call_as(&nobody, daemon_.socket, "CreateSandbox", &c.create.base, &o);
        assert_denied(&o, "CreateSandbox");
        ck_assert_uint_eq(dirs_of("by-reader"), 0);

        /* The admins delete what they made; the kernel's directories go. */
        call_as(&admin_supp, daemon_.socket, "DeleteSandbox", &b.delete_.base, &o);
        assert_ok(&o, "DeleteSandbox by an admin");
        call_as(&admin_primary, daemon_.socket, "DeleteSandbox", &a.delete_.base, &o);
        assert_ok(&o, "DeleteSandbox by an admin");
        ck_assert_uint_eq(dirs_of("by-supplementary"), 0);
        ck_assert_uint_eq(dirs_of("by-primary"), 0);
        stop_and_check();
}
END_TEST

/* The cgroup line of /proc/<pid>/cgroup, whole, for the check that a
 * process is (or is not) in a sandbox's tree. */
static bool in_sandbox(pid_t pid, const char *id)
{
        char path[64], needle[300], buf[8192];
        (void) snprintf(path, sizeof path, "/proc/%d/cgroup", (int) pid);
        (void) snprintf(needle, sizeof needle, "/%s/%s", parent, id);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        ck_assert_int_gt(n, 0);
        buf[n] = '\0';
        return strstr(buf, needle) != NULL;
}

/* Has pid (not our child: its parent exited) exited within timeout_ms? A
 * zombie has: whoever adopted it reaps it when it likes. */
static bool dead_within(pid_t pid, int timeout_ms)
{
        char path[64], buf[512];

        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        for (int waited = 0;; waited += 10) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return true;
                ssize_t n = read(fd, buf, sizeof buf - 1);
                close(fd);
                if (n <= 0)
                        return true;
                buf[n] = '\0';
                const char *p = strrchr(buf, ')');
                if (p && (p[2] == 'Z' || p[2] == 'X'))
                        return true;
                if (waited >= timeout_ms)
                        return false;
                (void) usleep(10000);
        }
}

/* A process of uid id that sleeps until killed. */
static pid_t spawn_sleeper(const Identity *id)
{
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (become(id) < 0)
                        _exit(2);
                for (;;)
                        pause();
        }
        return pid;
}

typedef struct AttachOwn {
        pid_t child;            /* the VMM the caller forked */
        Outcome own, foreign;   /* attaching it, and attaching another process */
} AttachOwn;

/* As id: fork a child (the caller's own VMM) and attach it to sandbox own,
 * then attach foreign (not a descendant) to sandbox other. The child stays
 * for the checks and goes with its sandbox. */
static void attach_as(const Identity *id, const char *own, const char *other, pid_t foreign, AttachOwn *ret)
{
        AttachOwn *a = shared_new(sizeof *a);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                Sandboxcg__V1__AttachVmmRequest req = SANDBOXCG__V1__ATTACH_VMM_REQUEST__INIT;
                if (become(id) < 0)
                        _exit(2);
                pid_t child = fork(); /* not into *a: the child shares it */
                if (child < 0)
                        _exit(3);
                if (child == 0) {
                        for (;;)
                                pause();
                }
                a->child = child;
                req.id = (char *) own;
                req.has_pid = 1;
                req.pid = child;
                call_path(daemon_.socket, "AttachVmm", &req.base, &a->own);
                req.id = (char *) other;
                req.pid = foreign;
                call_path(daemon_.socket, "AttachVmm", &req.base, &a->foreign);
                _exit(0);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child as uid %u failed (%d)",
                      (unsigned) id->uid, status);
        *ret = *a;
        munmap(a, sizeof *a);
}

/* AttachDescendantsOnly= (default yes): an admin other than root attaches
 * only processes it started (a descendant of the peer), whatever their uid;
 * root attaches anything; with "no", admins do too. Checked in
 * /proc/<pid>/cgroup. */
START_TEST(test_attach_descendants_only)
{
        const char *const args[] = { "--socket-mode", "0666", "--admin-group", "43210", NULL };
        const char *const args_no[] = { "--socket-mode", "0666", "--admin-group", "43210",
                                        "--attach-descendants-only", "no", NULL };
        Requests q1, q2, q3;
        AttachOwn a;
        Outcome o;

        start_with(args);
        requests_init(&q1, "own");
        requests_init(&q2, "foreign");
        call_path(daemon_.socket, "CreateSandbox", &q1.create.base, &o);
        assert_created(&o, "own");
        call_path(daemon_.socket, "CreateSandbox", &q2.create.base, &o);
        assert_created(&o, "foreign");

        /* The same uid as the admin, but not its descendant. */
        pid_t stranger = spawn_sleeper(&admin_supp);
        attach_as(&admin_supp, "own", "foreign", stranger, &a);
        assert_ok(&a.own, "AttachVmm of the admin's own child");
        ck_assert_msg(in_sandbox(a.child, "own"), "the admin's child is not in sandbox own");
        assert_code(&a.foreign, GRPC_PERMISSION_DENIED, "not a descendant", "AttachVmm of another process");
        ck_assert_msg(!in_sandbox(stranger, "foreign"), "a refused process was moved");

        /* Root may. */
        q2.attach_vmm.pid = stranger;
        call_path(daemon_.socket, "AttachVmm", &q2.attach_vmm.base, &o);
        assert_ok(&o, "AttachVmm of any process by root");
        ck_assert(in_sandbox(stranger, "foreign"));

        /* Deleting kills both VMMs. */
        call_path(daemon_.socket, "DeleteSandbox", &q1.delete_.base, &o);
        assert_ok(&o, "DeleteSandbox");
        call_path(daemon_.socket, "DeleteSandbox", &q2.delete_.base, &o);
        assert_ok(&o, "DeleteSandbox");
        int status;
        ck_assert_int_eq(waitpid(stranger, &status, 0), stranger);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        ck_assert_msg(dead_within(a.child, 5000), "the admin's VMM %d survived the delete", (int) a.child);
        stop_and_check();

        /* Switched off: the admin attaches the stranger too. */
        start_with(args_no);
        requests_init(&q3, "off");
        call_path(daemon_.socket, "CreateSandbox", &q3.create.base, &o);
        assert_created(&o, "off");
        call_path(daemon_.socket, "CreateSandbox", &q1.create.base, &o);
        assert_created(&o, "own");
        stranger = spawn_sleeper(&admin_supp);
        attach_as(&admin_supp, "own", "off", stranger, &a);
        assert_ok(&a.own, "AttachVmm of the admin's own child (AttachDescendantsOnly=no)");
        assert_ok(&a.foreign, "AttachVmm of another process (AttachDescendantsOnly=no)");
        ck_assert(in_sandbox(stranger, "off"));
        call_path(daemon_.socket, "DeleteSandbox", &q3.delete_.base, &o);
        assert_ok(&o, "DeleteSandbox");
        call_path(daemon_.socket, "DeleteSandbox", &q1.delete_.base, &o);
        assert_ok(&o, "DeleteSandbox");
        ck_assert_int_eq(waitpid(stranger, &status, 0), stranger);
        stop_and_check();
}
END_TEST

/* AllowedCgroupParents=: sandboxes only beneath the parents it names
 * (component-wise), for root too; nothing is made elsewhere. */
START_TEST(test_allowed_parents)
{
        char allowed[200], beneath[260], sibling[220], args_parent[220];
        Requests q;
        Outcome o;

        (void) snprintf(allowed, sizeof allowed, "%s/pods", parent);
        (void) snprintf(beneath, sizeof beneath, "%s/burstable", allowed);
        (void) snprintf(sibling, sizeof sibling, "%s/pods-x", parent);
        (void) snprintf(args_parent, sizeof args_parent, "%s", allowed);
        const char *const args[] = { "--allowed-cgroup-parent", "elsewhere", "--allowed-cgroup-parent",
                                     args_parent, NULL };

        start_with(args);
        requests_init(&q, "ap");
        q.create.cgroup_parent = beneath;
        call_path(daemon_.socket, "CreateSandbox", &q.create.base, &o);
        assert_ok(&o, "CreateSandbox beneath an allowed parent");
        call_path(daemon_.socket, "DeleteSandbox", &q.delete_.base, &o);
        assert_ok(&o, "DeleteSandbox");

        q.create.cgroup_parent = allowed;
        call_path(daemon_.socket, "CreateSandbox", &q.create.base, &o);
        assert_ok(&o, "CreateSandbox in an allowed parent");
        call_path(daemon_.socket, "DeleteSandbox", &q.delete_.base, &o);
        assert_ok(&o, "DeleteSandbox");

        /* (Only parents of the run's own: a failure must not make
         * anything elsewhere.) */
        const char *refused[] = { sibling, parent };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                q.create.cgroup_parent = (char *) refused[i];
                call_path(daemon_.socket, "CreateSandbox", &q.create.base, &o);
                assert_code(&o, GRPC_PERMISSION_DENIED, "AllowedCgroupParents", refused[i]);
        }
        ck_assert_uint_eq(dirs_of("pods-x"), 0);
        ck_assert_uint_eq(dirs_of("ap"), 0);
        ck_assert_uint_eq(dirs_of("pods"), 0);
        stop_and_check();
}
END_TEST

/* [Access] takes effect on SIGHUP: a group added to the configuration file
 * authorizes its members from the next request on, and what it authorizes
 * works (the daemon after a reload still creates and deletes). */
START_TEST(test_groups_reload)
{
        const char *const args[] = { "--socket-mode", "0666", NULL };
        Requests q;
        Outcome o;

        start_with(args);
        requests_init(&q, "after-reload");
        call_as(&admin_supp, daemon_.socket, "Version", NULL, &o);
        assert_denied(&o, "Version");

        FILE *f = fopen(daemon_.config, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "[Access]\nAdminGroup=%d\n", GID_ADMIN);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(kill(daemon_.pid, SIGHUP), 0);
        for (int i = 0; i < 1000 && !log_contains("Configuration reloaded"); i++)
                usleep(10000);
        ck_assert(log_contains("Configuration reloaded"));

        call_as(&admin_supp, daemon_.socket, "Version", NULL, &o);
        assert_ok(&o, "Version by an admin after the reload");
        call_as(&admin_supp, daemon_.socket, "CreateSandbox", &q.create.base, &o);
        assert_created(&o, "after-reload");
        call_as(&admin_supp, daemon_.socket, "DeleteSandbox", &q.delete_.base, &o);
        assert_ok(&o, "DeleteSandbox by an admin after the reload");
        ck_assert_uint_eq(dirs_of("after-reload"), 0);
        call_as(&nobody, daemon_.socket, "Version", NULL, &o);
        assert_denied(&o, "Version");
        stop_and_check();
}
END_TEST

/* The read-only socket serves the read-only methods to anyone who can
 * connect, and the others to nobody, root included. */
START_TEST(test_read_only_socket)
{
        char ro[400];
        (void) snprintf(ro, sizeof ro, "%s/ro-%d.sock", rundir, (int) getpid());
        const char *const args[] = { "--read-only-socket", ro, "--read-only-socket-mode", "0666", NULL };
        Requests q;
        Outcome o;

        start_with(args);
        requests_init(&q, "on-main");
        call_path(daemon_.socket, "CreateSandbox", &q.create.base, &o);
        assert_created(&o, "on-main");

        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                call_path(ro, methods[i].name, request_of(&q, i), &o);
                if (methods[i].mutating) {
                        assert_denied(&o, methods[i].name);
                        ck_assert_msg(strstr(o.message, "read-only socket"), "%s", o.message);
                } else
                        assert_ok(&o, methods[i].name);
        }
        ck_assert(log_contains("Denied CreateSandbox to pid"));
        ck_assert(log_contains("on the read-only socket"));
        /* The refused DeleteSandbox left it in place. */
        ck_assert_uint_gt(dirs_of("on-main"), 0);

        /* Anyone: nobody reads through it, and changes nothing. */
        call_as(&nobody, ro, "ListSandboxes", &q.list.base, &o);
        assert_ok(&o, "ListSandboxes by nobody on the read-only socket");
        ck_assert(list_has(&o, "on-main"));
        call_as(&nobody, ro, "GetSandbox", &q.get.base, &o);
        assert_ok(&o, "GetSandbox by nobody on the read-only socket");
        call_as(&nobody, ro, "DeleteSandbox", &q.delete_.base, &o);
        assert_denied(&o, "DeleteSandbox");
        ck_assert_uint_gt(dirs_of("on-main"), 0);

        /* The main socket is unchanged: root deletes. */
        call_path(daemon_.socket, "DeleteSandbox", &q.delete_.base, &o);
        assert_ok(&o, "DeleteSandbox as root");
        ck_assert_uint_eq(dirs_of("on-main"), 0);
        stop_and_check();
        /* A bound read-only socket is removed at exit, as the main one. */
        ck_assert_int_eq(access(ro, F_OK), -1);
}
END_TEST

/* What a sampler saw of the socket files while the daemon started. */
typedef struct Samples {
        volatile int stop;
        unsigned samples, seen_main, seen_ro;
        unsigned looser_main, looser_ro;        /* mode bits or a group beyond the final ones */
        unsigned mode_main, gid_main, mode_ro, gid_ro; /* the first looser one, else the last seen */
        unsigned connects, connected, refused_by_mode; /* the racing non-member */
} Samples;

static void sample(const char *path, mode_t final_mode, gid_t final_gid, unsigned *seen, unsigned *looser,
                   unsigned *mode, unsigned *gid)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return;
        (*seen)++;
        if (*looser > 0)
                return;
        *mode = st.st_mode & 0177777;
        *gid = st.st_gid;
        if (!S_ISSOCK(st.st_mode) || (st.st_mode & 07777 & ~final_mode) || st.st_uid != 0 ||
            (st.st_gid != 0 && st.st_gid != final_gid))
                (*looser)++;
}

/* The sockets are born with their final mode and group: a sampler that
 * watches them from before the daemon starts never sees them looser, a
 * non-member racing to connect never gets in, and afterwards stat() says
 * what the configuration says. */
START_TEST(test_socket_mode_and_group)
{
        char ro[400], base[300];
        (void) snprintf(base, sizeof base, "%s/start-%d", rundir, (int) getpid());
        ck_assert_int_eq(mkdir(base, 0711), 0);
        (void) snprintf(ro, sizeof ro, "%s/ro.sock", base);
        const char *const args[] = { "--socket-mode", "0660", "--socket-group", "43212", "--read-only-socket", ro,
                                     "--read-only-socket-mode", "0640", "--read-only-group", "43211",
                                     "--admin-group", "43210", NULL };
        Samples *s = shared_new(sizeof *s);

        /* The harness's directory will be the only one in base. */
        ck_assert_int_eq(setenv("TMPDIR", base, 1), 0);

        pid_t sampler = fork();
        ck_assert_int_ge(sampler, 0);
        if (sampler == 0) {
                char dir[700] = "", main_sock[800];
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                while (!s->stop) {
                        if (!dir[0]) {
                                DIR *d = opendir(base);
                                struct dirent *de;
                                while (d && (de = readdir(d)))
                                        if (strncmp(de->d_name, "scg-test-", 9) == 0) {
                                                (void) snprintf(dir, sizeof dir, "%s/%s", base, de->d_name);
                                                /* Reachable by the racing client. */
                                                (void) chmod(dir, 0711);
                                                (void) snprintf(main_sock, sizeof main_sock, "%s/sandboxcg.sock",
                                                                dir);
                                        }
                                if (d)
                                        closedir(d);
                        }
                        if (dir[0])
                                sample(main_sock, 0660, GID_SOCKET, &s->seen_main, &s->looser_main, &s->mode_main,
                                       &s->gid_main);
                        sample(ro, 0640, GID_READER, &s->seen_ro, &s->looser_ro, &s->mode_ro, &s->gid_ro);
                        s->samples++;
                }
                _exit(0);
        }

        /* Someone in neither group, connecting to both as fast as it can. */
        pid_t racer = fork();
        ck_assert_int_ge(racer, 0);
        if (racer == 0) {
                char main_sock[800] = "";
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (become(&nobody) < 0)
                        _exit(2);
                while (!s->stop) {
                        if (!main_sock[0]) {
                                DIR *d = opendir(base);
                                struct dirent *de;
                                while (d && (de = readdir(d)))
                                        if (strncmp(de->d_name, "scg-test-", 9) == 0)
                                                (void) snprintf(main_sock, sizeof main_sock,
                                                                "%s/%s/sandboxcg.sock", base, de->d_name);
                                if (d)
                                        closedir(d);
                        }
                        for (int i = 0; i < 2; i++) {
                                const char *p = i == 0 ? main_sock : ro;
                                if (!p[0])
                                        continue;
                                int fd = test_connect(p);
                                s->connects++;
                                if (fd >= 0) {
                                        s->connected++;
                                        close(fd);
                                } else if (fd == -EACCES)
                                        s->refused_by_mode++;
                        }
                        /* Leave the CPUs to the daemon and the sampler. */
                        usleep(200);
                }
                _exit(0);
        }

        start_with(args);
        /* Some more samples of the final state. */
        unsigned until = s->samples + 1000;
        for (int i = 0; i < 5000 && s->samples < until; i++)
                usleep(1000);
        s->stop = 1;
        int status;
        ck_assert_int_eq(waitpid(sampler, &status, 0), sampler);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ck_assert_int_eq(waitpid(racer, &status, 0), racer);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        fprintf(stderr, "test_socket_mode_and_group: %u samples (main socket seen %u times, read-only %u), %u "
                        "connects by a non-member, %u refused by the mode\n",
                s->samples, s->seen_main, s->seen_ro, s->connects, s->refused_by_mode);
        ck_assert_uint_gt(s->seen_main, 0);
        ck_assert_uint_gt(s->seen_ro, 0);
        ck_assert_msg(s->looser_main == 0 && s->looser_ro == 0,
                      "a socket was looser than configured in %u + %u samples (first: %06o gid %u, %06o gid %u)",
                      s->looser_main, s->looser_ro, s->mode_main, s->gid_main, s->mode_ro, s->gid_ro);
        ck_assert_uint_eq(s->connected, 0);
        ck_assert_uint_gt(s->refused_by_mode, 0);

        /* The final state. */
        struct stat st;
        ck_assert_int_eq(lstat(daemon_.socket, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0660);
        ck_assert_uint_eq(st.st_uid, 0);
        ck_assert_uint_eq(st.st_gid, GID_SOCKET);
        ck_assert_int_eq(lstat(ro, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0640);
        ck_assert_uint_eq(st.st_gid, GID_READER);

        /* The mode is what keeps a non-member out; the socket's group lets a
         * member in, which is not authorization: it is in neither the admin
         * nor the read-only group. */
        Outcome o;
        call_as(&nobody, daemon_.socket, "Version", NULL, &o);
        ck_assert_int_eq(o.r, -EACCES);
        call_as(&socket_member, daemon_.socket, "Version", NULL, &o);
        assert_denied(&o, "Version");
        call_as(&admin_supp, daemon_.socket, "Version", NULL, &o);
        ck_assert_int_eq(o.r, -EACCES); /* not in the socket's group */
        call_as(&reader, ro, "Version", NULL, &o);
        ck_assert_int_eq(o.r, -EACCES); /* 0640: members read only */
        assert_serving(daemon_.socket);
        munmap(s, sizeof *s);
        stop_and_check();
}
END_TEST

/* Without SocketGroup=, the socket belongs to the admin group, so that its
 * members can connect; the read-only socket to the read-only group. */
START_TEST(test_socket_group_defaults)
{
        char ro[400];
        (void) snprintf(ro, sizeof ro, "%s/ro-%d.sock", rundir, (int) getpid());
        const char *const args[] = { "--admin-group", "43210", "--read-only-group", "43211", "--read-only-socket",
                                     ro, NULL };
        struct stat st;
        Outcome o;

        start_with(args);
        ck_assert_int_eq(lstat(daemon_.socket, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0660);
        ck_assert_uint_eq(st.st_gid, GID_ADMIN);
        ck_assert_int_eq(lstat(ro, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0660);
        ck_assert_uint_eq(st.st_gid, GID_READER);

        call_as(&admin_supp, daemon_.socket, "Version", NULL, &o);
        assert_ok(&o, "Version by an admin");
        call_as(&reader, daemon_.socket, "Version", NULL, &o);
        ck_assert_int_eq(o.r, -EACCES);
        call_as(&reader, ro, "ListSandboxes", NULL, &o);
        assert_ok(&o, "ListSandboxes by a reader on the read-only socket");
        call_as(&nobody, ro, "Version", NULL, &o);
        ck_assert_int_eq(o.r, -EACCES);
        stop_and_check();

        /* Neither group: root's. */
        start_with(NULL);
        ck_assert_int_eq(lstat(daemon_.socket, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0660);
        ck_assert_uint_eq(st.st_gid, 0);
        stop_and_check();
}
END_TEST

/* A socket is not put where others could replace it. */
START_TEST(test_socket_directory_checked)
{
        char dir[400], sock[500];
        TestDaemon second;

        start_with(NULL);
        for (int i = 0; i < 2; i++) {
                (void) snprintf(dir, sizeof dir, "%s/open-%d-%d", rundir, (int) getpid(), i);
                ck_assert_int_eq(mkdir(dir, 0755), 0);
                if (i == 0)
                        ck_assert_int_eq(chmod(dir, 0777), 0); /* writable by all, not sticky */
                else
                        ck_assert_int_eq(chown(dir, 65534, 65534), 0); /* someone else's */
                (void) snprintf(sock, sizeof sock, "%s/s.sock", dir);
                const char *const args[] = { "--socket", sock, NULL };
                ck_assert_int_ne(test_daemon_start(&second, args), 0);
                ck_assert_int_ne(test_daemon_stop(&second), 0);
                ck_assert_int_eq(access(sock, F_OK), -1);
        }

        /* Sticky, as /tmp is: fine. */
        (void) snprintf(dir, sizeof dir, "%s/sticky-%d", rundir, (int) getpid());
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        ck_assert_int_eq(chmod(dir, 01777), 0);
        (void) snprintf(sock, sizeof sock, "%s/s.sock", dir);
        const char *const args[] = { "--read-only-socket", sock, NULL };
        TestDaemon third;
        ck_assert_int_eq(test_daemon_start(&third, args), 0);
        Outcome o;
        call_path(sock, "Version", NULL, &o);
        assert_ok(&o, "Version on a socket in a sticky directory");
        ck_assert_int_eq(test_daemon_stop(&third), 0);
        assert_serving(daemon_.socket);
        stop_and_check();
}
END_TEST

/* Directories the daemon makes for its state and sockets (as /run/sandboxcg
 * without systemd): the state directory is root's alone, but the parents
 * it shares with a socket stay searchable, or the groups could not reach
 * the socket. */
START_TEST(test_made_directories)
{
        char top[400], state[450], ro[450];
        struct stat st;
        Outcome o;

        (void) snprintf(top, sizeof top, "%s/made-%d", rundir, (int) getpid());
        (void) snprintf(state, sizeof state, "%s/state", top);
        (void) snprintf(ro, sizeof ro, "%s/ro.sock", top);
        const char *const args[] = { "--state-dir", state, "--read-only-socket", ro, "--read-only-group", "43211",
                                     NULL };
        start_with(args);
        ck_assert_int_eq(stat(top, &st), 0);
        ck_assert_msg((st.st_mode & 07777) == 0755, "%s: mode %04o", top, (unsigned) (st.st_mode & 07777));
        ck_assert_int_eq(stat(state, &st), 0);
        ck_assert_msg((st.st_mode & 07777) == 0700, "%s: mode %04o", state, (unsigned) (st.st_mode & 07777));
        call_as(&reader, ro, "Version", NULL, &o);
        assert_ok(&o, "Version by a reader on a socket in a directory the daemon made");
        stop_and_check();
}
END_TEST

/* Sockets from systemd: the one named "readonly" serves the read-only
 * methods only. */
START_TEST(test_socket_activation)
{
        const char *activate = "/usr/bin/systemd-socket-activate";
        const char *builddir = getenv("top_builddir");
        char bin[512], main_sock[400], ro[400], state[400], fdnames[64];

        if (access(activate, X_OK) < 0) {
                fprintf(stderr, "test_socket_activation: no %s, skipped\n", activate);
                return;
        }
        /* The built daemon itself, not $SANDBOXCGD: systemd-socket-activate
         * gives it only the environment named below, which the valgrind
         * wrapper of make check-valgrind cannot run in. */
        (void) snprintf(bin, sizeof bin, "%s/daemon/sandboxcgd", builddir ?: ".");
        (void) snprintf(main_sock, sizeof main_sock, "%s/act-%d.sock", rundir, (int) getpid());
        (void) snprintf(ro, sizeof ro, "%s/act-ro-%d.sock", rundir, (int) getpid());
        (void) snprintf(state, sizeof state, "%s/act-state-%d", rundir, (int) getpid());
        (void) snprintf(fdnames, sizeof fdnames, "--fdname=sandboxcg:readonly");

        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0)
                        (void) dup2(null, STDOUT_FILENO);
                execl(activate, activate, "-l", main_sock, "-l", ro, fdnames, bin, "--config", "/dev/null",
                      "--state-dir", state, "--socket", "/nonexistent/unused.sock", (char *) NULL);
                _exit(127);
        }

        /* The sockets exist at once; the daemon starts on the first connection
         * (or at once): wait until it answers. */
        Outcome o = { .r = -1 };
        for (int i = 0; i < 2000 && (o.r != 0 || o.code != 0); i++) {
                call_path(main_sock, "Version", NULL, &o);
                if (o.r != 0 || o.code != 0)
                        usleep(10000);
        }
        assert_ok(&o, "Version on the activated main socket");
        (void) snprintf(info_socket, sizeof info_socket, "%s", main_sock);

        Requests q;
        requests_init(&q, "activated");
        call_path(ro, "CreateSandbox", &q.create.base, &o);
        assert_denied(&o, "CreateSandbox");
        ck_assert_uint_eq(dirs_of("activated"), 0);
        call_path(ro, "ListSandboxes", &q.list.base, &o);
        assert_ok(&o, "ListSandboxes on the activated read-only socket");
        call_path(main_sock, "ListSandboxes", &q.list.base, &o);
        assert_ok(&o, "ListSandboxes on the activated main socket");

        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
        /* Activated sockets belong to systemd: not removed. */
        ck_assert_int_eq(access(main_sock, F_OK), 0);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Limits. */

static bool wait_closed(int fd, int timeout_ms)
{
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        char c;
        if (poll(&pfd, 1, timeout_ms) <= 0)
                return false;
        return recv(fd, &c, 1, 0) == 0;
}

typedef struct PerUser {
        volatile int go;
        int held_ok;            /* connections within the limit that were served */
        int extra_closed;       /* the one past the limit was closed */
        int reopened;           /* after closing one, a new one was served */
} PerUser;

/* MaxConnectionsPerUser=: a uid past it has further connections closed at
 * once, while other uids and root are served; closing one makes room. Root
 * is not bound by it. */
START_TEST(test_connections_per_user)
{
        const char *const args[] = { "--max-connections-per-user", "3", "--socket-mode", "0666",
                                     "--read-only-group", "43211", NULL };
        const Identity hog = { 65534, 65534, 1, { GID_READER } };
        const Identity other = { 65533, 65533, 1, { GID_READER } };
        PerUser *p = shared_new(sizeof *p);
        Outcome o;

        start_with(args);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int fds[3];
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (become(&hog) < 0)
                        _exit(2);
                for (int i = 0; i < 3; i++) {
                        fds[i] = test_connect(daemon_.socket);
                        call_on(fds[i], 1, "Version", NULL, &o);
                        p->held_ok += o.r == 0 && o.code == 0;
                }
                int extra = test_connect(daemon_.socket);
                p->extra_closed = extra >= 0 && wait_closed(extra, 10000);
                p->go = 1;
                while (p->go == 1)
                        usleep(1000);
                close(fds[0]);
                for (int i = 0; i < 200 && !p->reopened; i++) {
                        int fd = test_connect(daemon_.socket);
                        call_on(fd, 1, "Version", NULL, &o);
                        p->reopened = o.r == 0 && o.code == 0;
                        close(fd);
                        if (!p->reopened)
                                usleep(10000);
                }
                p->go = 3;
                while (p->go == 3)
                        usleep(1000);
                _exit(0);
        }
        for (int i = 0; i < 20000 && p->go != 1; i++)
                usleep(1000);
        ck_assert_int_eq(p->go, 1);
        ck_assert_int_eq(p->held_ok, 3);
        ck_assert_msg(p->extra_closed, "the connection past MaxConnectionsPerUser= was kept");
        ck_assert(log_contains("uid 65534: it has 3 open (MaxConnectionsPerUser=3)"));

        /* While it holds its three: another uid, and root, many times over. */
        call_as(&other, daemon_.socket, "Version", NULL, &o);
        assert_ok(&o, "Version by another uid");
        int root_fds[5];
        for (int i = 0; i < 5; i++) {
                root_fds[i] = test_connect(daemon_.socket);
                ck_assert_int_ge(root_fds[i], 0);
                call_on(root_fds[i], 1, "Version", NULL, &o);
                assert_ok(&o, "Version by root past the per-user limit");
        }
        for (int i = 0; i < 5; i++)
                close(root_fds[i]);

        p->go = 2;
        for (int i = 0; i < 20000 && p->go != 3; i++)
                usleep(1000);
        ck_assert_int_eq(p->go, 3);
        ck_assert_msg(p->reopened, "no room after closing a connection");
        p->go = 4;
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        munmap(p, sizeof *p);
        stop_and_check();
}
END_TEST

/* A client that pipelines requests and does not read: sends as many
 * Version requests as the daemon takes, until it stops taking them. Returns
 * how many were sent; *ret_delivered is how many complete responses wait in
 * the client's receive queue (exact: FIONREAD counts bytes). */
static unsigned flood_until_stalled(int fd, size_t response_size, unsigned *ret_delivered)
{
        _cleanup_free_ uint8_t *req = NULL;
        size_t n;
        unsigned sent = 0;
        uint8_t frame[TTRPC_HEADER_SIZE + 256];

        ck_assert_int_eq(test_pack_request(SERVICE, "Version", NULL, &req, &n), 0);
        ck_assert_uint_le(n, 256);
        ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        for (;;) {
                ttrpc_header_encode(&(TtrpcHeader){ .length = n, .stream_id = 2 * sent + 3, .type = 1 }, frame);
                memcpy(frame + TTRPC_HEADER_SIZE, req, n);
                ssize_t k = send(fd, frame, TTRPC_HEADER_SIZE + n, MSG_NOSIGNAL);
                if (k < 0) {
                        ck_assert_int_eq(errno, EAGAIN);
                        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                        if (poll(&pfd, 1, 1000) == 0)
                                break; /* the daemon stopped reading */
                        continue;
                }
                /* A frame is one send: the daemon's side has whole frames
                 * or none (the send buffer is far larger than one). */
                ck_assert_uint_eq((size_t) k, TTRPC_HEADER_SIZE + n);
                sent++;
                ck_assert_uint_lt(sent, 2000000);
        }
        int queued = 0;
        ck_assert_int_eq(ioctl(fd, FIONREAD, &queued), 0);
        *ret_delivered = (unsigned) queued / response_size;
        ck_assert_int_eq(fcntl(fd, F_SETFL, 0), 0);
        return sent;
}

/* Read every response of the flood: all there, in order, all OK. */
static void drain_flood(int fd, unsigned sent)
{
        for (unsigned i = 0; i < sent; i++) {
                TtrpcHeader h;
                _cleanup_free_ uint8_t *payload = NULL;
                ck_assert_int_eq(test_recv_frame(fd, 10000, &h, &payload), 1);
                ck_assert_uint_eq(h.stream_id, 2 * i + 3);
                Ttrpc__Response *resp = ttrpc__response__unpack(NULL, h.length, payload);
                ck_assert_ptr_nonnull(resp);
                ck_assert_ptr_null(resp->status);
                ttrpc__response__free_unpacked(resp, NULL);
        }
}

/* MaxRequestsPerConnection=: requests answered but not yet read by the
 * client. A client that pipelines without reading gets that many answered
 * beyond what the kernel buffers, then the daemon stops reading it (the
 * connection stays, others are served), and it all arrives once the client
 * reads. Run with a small and a large limit: what the daemon took and did
 * not deliver is bounded by the limit from both sides. */
START_TEST(test_requests_in_flight)
{
        static const unsigned limits[] = { 4, 1000 };
        /* What the daemon may hold besides: its reader's look-ahead (4 KiB)
         * and its socket's receive queue, bounded by the client's (minimal)
         * send buffer; in requests of ~50 bytes. */
        const unsigned slack = 400;

        for (size_t l = 0; l < ELEMENTSOF(limits); l++) {
                char limit[16];
                (void) snprintf(limit, sizeof limit, "%u", limits[l]);
                const char *const args[] = { "--max-requests-per-connection", limit, "--request-rate", "0", NULL };
                start_with(args);

                int fd = test_connect(daemon_.socket);
                ck_assert_int_ge(fd, 0);
                int one = 1;
                ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof one), 0);
                /* The size of one response frame to Version. */
                Ttrpc__Response *resp = NULL;
                ck_assert_int_eq(test_call(fd, 1, "Version", NULL, &resp), 0);
                size_t response_size = TTRPC_HEADER_SIZE + ttrpc__response__get_packed_size(resp);
                ttrpc__response__free_unpacked(resp, NULL);

                unsigned delivered = 0;
                unsigned sent = flood_until_stalled(fd, response_size, &delivered);
                unsigned held = sent - delivered;
                fprintf(stderr, "test_requests_in_flight: limit %u: %u requests sent, %u answered into the "
                                "socket, %u held by the daemon\n",
                        limits[l], sent, delivered, held);
                ck_assert_uint_ge(held, limits[l]);
                ck_assert_uint_le(held, limits[l] + slack);

                /* Stalled, not stuck: others are served, and so is it once
                 * it reads. */
                assert_serving(daemon_.socket);
                drain_flood(fd, sent);
                ck_assert_int_eq(test_call(fd, 2 * sent + 3, "Version", NULL, &resp), 0);
                ck_assert_ptr_null(resp->status);
                ttrpc__response__free_unpacked(resp, NULL);
                close(fd);
                stop_and_check();
        }
}
END_TEST

/* Send count pipelined Version requests in one write and read the answers:
 * how many were OK; the others must be the rate limit's. */
static unsigned pipeline_versions(int fd, uint32_t first_stream, unsigned count)
{
        _cleanup_free_ uint8_t *req = NULL, *buf = NULL;
        size_t n, off = 0;
        unsigned ok = 0;

        ck_assert_int_eq(test_pack_request(SERVICE, "Version", NULL, &req, &n), 0);
        buf = malloc(count * (TTRPC_HEADER_SIZE + n));
        ck_assert_ptr_nonnull(buf);
        for (unsigned i = 0; i < count; i++) {
                ttrpc_header_encode(&(TtrpcHeader){ .length = n, .stream_id = first_stream + 2 * i, .type = 1 },
                                    buf + off);
                memcpy(buf + off + TTRPC_HEADER_SIZE, req, n);
                off += TTRPC_HEADER_SIZE + n;
        }
        ck_assert_int_eq(test_send_raw(fd, buf, off), 0);
        for (unsigned i = 0; i < count; i++) {
                TtrpcHeader h;
                _cleanup_free_ uint8_t *payload = NULL;
                ck_assert_int_eq(test_recv_frame(fd, 10000, &h, &payload), 1);
                ck_assert_uint_eq(h.stream_id, first_stream + 2 * i);
                Ttrpc__Response *resp = ttrpc__response__unpack(NULL, h.length, payload);
                ck_assert_ptr_nonnull(resp);
                if (!resp->status)
                        ok++;
                else {
                        ck_assert_int_eq(resp->status->code, GRPC_RESOURCE_EXHAUSTED);
                        ck_assert_msg(strstr(resp->status->message, "rate limit"), "%s", resp->status->message);
                }
                ttrpc__response__free_unpacked(resp, NULL);
        }
        return ok;
}

/* RequestRate= and RequestBurst=: past the burst, requests on a connection
 * are answered RESOURCE_EXHAUSTED; the connection stays and is served again
 * once it slows down, and other connections have their own budget. */
START_TEST(test_request_rate)
{
        const char *const args[] = { "--request-rate", "10", "--request-burst", "5", NULL };
        start_with(args);
        int fd = test_connect(daemon_.socket);
        ck_assert_int_ge(fd, 0);

        unsigned ok = pipeline_versions(fd, 1, 20);
        ck_assert_msg(ok >= 5 && ok <= 6, "%u of 20 served at 10/s with a burst of 5", ok);
        ck_assert(log_contains("exceeds RequestRate=10"));

        /* Others are not affected. */
        assert_serving(daemon_.socket);
        /* It is served again after a pause (10/s: one per 100 ms). */
        usleep(350000);
        ok = pipeline_versions(fd, 101, 2);
        ck_assert_uint_eq(ok, 2);
        close(fd);
        stop_and_check();

        /* The defaults (1000/s, a burst of 1000) let a client pipeline. */
        start_with(NULL);
        fd = test_connect(daemon_.socket);
        ck_assert_uint_eq(pipeline_versions(fd, 1, 500), 500);
        close(fd);
        stop_and_check();
}
END_TEST

/* MaxSandboxes=: creating past it fails with RESOURCE_EXHAUSTED and leaves
 * nothing in the kernel; what exists is still served, and deleting one
 * makes room. */
START_TEST(test_max_sandboxes)
{
        const char *const args[] = { "--max-sandboxes", "2", NULL };
        const char *ids[] = { "max-a", "max-b", "max-c" };
        Requests q[3];
        Outcome o;

        start_with(args);
        for (size_t i = 0; i < 3; i++)
                requests_init(&q[i], ids[i]);
        for (size_t i = 0; i < 2; i++) {
                call_path(daemon_.socket, "CreateSandbox", &q[i].create.base, &o);
                assert_created(&o, ids[i]);
        }
        call_path(daemon_.socket, "CreateSandbox", &q[2].create.base, &o);
        assert_code(&o, GRPC_RESOURCE_EXHAUSTED, "MaxSandboxes", "CreateSandbox past MaxSandboxes=");
        ck_assert_uint_eq(dirs_of("max-c"), 0);

        call_path(daemon_.socket, "GetSandbox", &q[0].get.base, &o);
        assert_ok(&o, "GetSandbox");
        call_path(daemon_.socket, "ListSandboxes", &q[0].list.base, &o);
        assert_ok(&o, "ListSandboxes");
        ck_assert(list_has(&o, "max-a") && list_has(&o, "max-b") && !list_has(&o, "max-c"));

        call_path(daemon_.socket, "DeleteSandbox", &q[0].delete_.base, &o);
        assert_ok(&o, "DeleteSandbox");
        ck_assert_uint_eq(dirs_of("max-a"), 0);
        call_path(daemon_.socket, "CreateSandbox", &q[2].create.base, &o);
        assert_created(&o, "max-c");
        for (size_t i = 1; i < 3; i++) {
                call_path(daemon_.socket, "DeleteSandbox", &q[i].delete_.base, &o);
                assert_ok(&o, "DeleteSandbox");
                ck_assert_uint_eq(dirs_of(ids[i]), 0);
        }
        stop_and_check();
}
END_TEST

static Suite *access_suite(void)
{
        Suite *s = suite_create("access");
        TCase *tc = tcase_create("who");
        tcase_add_unchecked_fixture(tc, unchecked_setup, unchecked_teardown);
        tcase_add_checked_fixture(tc, checked_setup, checked_teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_root_only_by_default);
        tcase_add_test(tc, test_admin_and_read_only_groups);
        tcase_add_test(tc, test_attach_descendants_only);
        tcase_add_test(tc, test_allowed_parents);
        tcase_add_test(tc, test_groups_reload);
        tcase_add_test(tc, test_read_only_socket);
        tcase_add_test(tc, test_socket_mode_and_group);
        tcase_add_test(tc, test_socket_group_defaults);
        tcase_add_test(tc, test_socket_directory_checked);
        tcase_add_test(tc, test_made_directories);
        tcase_add_test(tc, test_socket_activation);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_add_unchecked_fixture(tc, unchecked_setup, unchecked_teardown);
        tcase_add_checked_fixture(tc, checked_setup, checked_teardown);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_connections_per_user);
        tcase_add_test(tc, test_requests_in_flight);
        tcase_add_test(tc, test_request_rate);
        tcase_add_test(tc, test_max_sandboxes);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        if (geteuid() != 0) {
                fprintf(stderr, "test-access: needs root (other uids, cgroups), skipped\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        SRunner *sr = srunner_create(access_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
