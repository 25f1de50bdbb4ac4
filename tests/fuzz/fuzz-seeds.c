/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

/* Seeds for tests/fuzz/fuzz-dispatch: valid sessions of every method (and
 * some refused ones) encoded with protobuf-c, in the input format of
 * tests/fuzz/fuzz.h, on each host layout, whole and cut into pieces.
 *
 *   fuzz-seeds DIR      writes the seeds into DIR (which must exist)
 */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "proto/frame.h"
#include "sandboxcg/v1/sandboxcg.pb-c.h"
#include "tests/fuzz/fuzz.h"
#include "ttrpc.pb-c.h"

#define SERVICE "sandboxcg.v1.SandboxCgroup"

typedef struct Buf {
        uint8_t data[16384];
        size_t len;
        uint32_t stream_id;
} Buf;

static void die(const char *what)
{
        fprintf(stderr, "fuzz-seeds: %s: %s\n", what, strerror(errno ?: EIO));
        exit(EXIT_FAILURE);
}

static void put(Buf *b, const void *p, size_t n)
{
        if (n == 0)
                return;
        if (n > sizeof b->data - b->len) {
                errno = ENOBUFS;
                die("seed too long");
        }
        memcpy(b->data + b->len, p, n);
        b->len += n;
}

static void frame(Buf *b, uint32_t stream_id, uint8_t type, const uint8_t *payload, size_t n)
{
        TtrpcHeader h = { .length = (uint32_t) n, .stream_id = stream_id, .type = type };
        uint8_t hdr[TTRPC_HEADER_SIZE];

        ttrpc_header_encode(&h, hdr);
        put(b, hdr, sizeof hdr);
        put(b, payload, n);
}

static void call_service(Buf *b, const char *service, const char *method, const ProtobufCMessage *msg)
{
        Ttrpc__Request req = TTRPC__REQUEST__INIT;
        uint8_t payload[8192], out[8192];

        req.service = (char *) service;
        req.method = (char *) method;
        if (msg) {
                size_t n = protobuf_c_message_get_packed_size(msg);
                if (n > sizeof payload)
                        die("message too long");
                req.payload.data = payload;
                req.payload.len = protobuf_c_message_pack(msg, payload);
        }
        if (ttrpc__request__get_packed_size(&req) > sizeof out)
                die("request too long");
        b->stream_id += 2;
        frame(b, b->stream_id, TTRPC_TYPE_REQUEST, out, ttrpc__request__pack(&req, out));
}

static void call(Buf *b, const char *method, const ProtobufCMessage *msg)
{
        call_service(b, SERVICE, method, msg);
}

static void call_id(Buf *b, const char *method, const char *id)
{
        /* Get, Delete: the same shape. */
        Sandboxcg__V1__GetSandboxRequest r = SANDBOXCG__V1__GET_SANDBOX_REQUEST__INIT;
        r.id = (char *) id;
        call(b, method, &r.base);
}

#define SET(m, field, v)                 \
        do {                             \
                (m)->has_##field = true; \
                (m)->field = (v);        \
        } while (0)

static void create(Buf *b, const char *id, const char *parent, Sandboxcg__V1__Resources *res,
                   Sandboxcg__V1__Resources *ovh)
{
        Sandboxcg__V1__CreateSandboxRequest r = SANDBOXCG__V1__CREATE_SANDBOX_REQUEST__INIT;
        r.id = (char *) id;
        r.cgroup_parent = (char *) parent;
        r.resources = res;
        r.overhead = ovh;
        call(b, "CreateSandbox", &r.base);
}

static void update(Buf *b, const char *id, Sandboxcg__V1__Resources *res, Sandboxcg__V1__Resources *ovh)
{
        Sandboxcg__V1__UpdateSandboxRequest r = SANDBOXCG__V1__UPDATE_SANDBOX_REQUEST__INIT;
        r.id = (char *) id;
        r.resources = res;
        r.overhead = ovh;
        call(b, "UpdateSandbox", &r.base);
}

static void attach_vmm(Buf *b, const char *id, int32_t pid)
{
        Sandboxcg__V1__AttachVmmRequest r = SANDBOXCG__V1__ATTACH_VMM_REQUEST__INIT;
        r.id = (char *) id;
        SET(&r, pid, pid);
        call(b, "AttachVmm", &r.base);
}

static void attach_vcpus(Buf *b, const char *id, int32_t *tids, size_t n_tids, bool discover, uint32_t expect,
                         char **patterns, size_t n_patterns)
{
        Sandboxcg__V1__AttachVcpusRequest r = SANDBOXCG__V1__ATTACH_VCPUS_REQUEST__INIT;
        r.id = (char *) id;
        r.tids = tids;
        r.n_tids = n_tids;
        if (discover)
                SET(&r, discover, true);
        if (expect)
                SET(&r, expect, expect);
        r.patterns = patterns;
        r.n_patterns = n_patterns;
        call(b, "AttachVcpus", &r.base);
}

static void reconcile(Buf *b, bool dry_run)
{
        Sandboxcg__V1__ReconcileRequest r = SANDBOXCG__V1__RECONCILE_REQUEST__INIT;
        if (dry_run)
                SET(&r, dry_run, true);
        call(b, "Reconcile", &r.base);
}

/* ---- sessions ----------------------------------------------------------- */

static void session_info(Buf *b)
{
        Sandboxcg__V1__VersionRequest v = SANDBOXCG__V1__VERSION_REQUEST__INIT;
        Sandboxcg__V1__HostInfoRequest h = SANDBOXCG__V1__HOST_INFO_REQUEST__INIT;
        Sandboxcg__V1__ListSandboxesRequest l = SANDBOXCG__V1__LIST_SANDBOXES_REQUEST__INIT;

        call(b, "Version", &v.base);
        call(b, "Version", NULL); /* no payload at all: an empty request */
        call(b, "HostInfo", &h.base);
        call(b, "ListSandboxes", &l.base);
        call_id(b, "GetSandbox", "nosuch");
        reconcile(b, true);
        reconcile(b, false);
}

static void session_lifecycle(Buf *b)
{
        Sandboxcg__V1__Resources res = SANDBOXCG__V1__RESOURCES__INIT, ovh = SANDBOXCG__V1__RESOURCES__INIT;
        Sandboxcg__V1__ListSandboxesRequest l = SANDBOXCG__V1__LIST_SANDBOXES_REQUEST__INIT;

        SET(&res, cpu_period, 100000);
        SET(&res, cpu_quota, 200000);
        SET(&res, cpu_shares, 2048);
        SET(&res, memory_limit_in_bytes, INT64_C(1) << 30);
        SET(&res, memory_swap_limit_in_bytes, INT64_C(2) << 30);
        SET(&res, pids_limit, 1024);
        SET(&ovh, cpu_period, 100000);
        SET(&ovh, cpu_quota, 50000);
        SET(&ovh, cpu_shares, 256);
        SET(&ovh, memory_limit_in_bytes, INT64_C(256) << 20);
        create(b, "sb1", "kubepods/burstable/pod1", &res, &ovh);
        create(b, "sb1", "kubepods/burstable/pod1", &res, &ovh); /* the same: created false */
        call_id(b, "GetSandbox", "sb1");
        call(b, "ListSandboxes", &l.base);

        SET(&res, cpu_quota, 100000);
        SET(&res, memory_limit_in_bytes, INT64_C(512) << 20);
        SET(&res, memory_swap_limit_in_bytes, INT64_C(512) << 20);
        SET(&ovh, cpu_quota, 25000);
        update(b, "sb1", &res, &ovh);
        update(b, "sb1", NULL, NULL); /* no limits at all */
        call_id(b, "DeleteSandbox", "sb1");
        call_id(b, "DeleteSandbox", "sb1"); /* existed false */
}

static void session_vmm(Buf *b)
{
        Sandboxcg__V1__Resources res = SANDBOXCG__V1__RESOURCES__INIT, ovh = SANDBOXCG__V1__RESOURCES__INIT;
        Sandboxcg__V1__HugepageLimit hp = SANDBOXCG__V1__HUGEPAGE_LIMIT__INIT, *hps[] = { &hp };
        int32_t tids[] = { (int32_t) FUZZ_MAGIC_VCPU0, (int32_t) FUZZ_MAGIC_VCPU1 };
        char *patterns[] = { (char *) "vcpu%u" };

        SET(&res, cpu_period, 100000);
        SET(&res, cpu_quota, 100000);
        res.cpuset_cpus = (char *) "0-1";
        res.cpuset_mems = (char *) "0";
        hp.page_size = (char *) "2MB";
        SET(&hp, limit, UINT64_C(512) << 21);
        res.hugepage_limits = hps;
        res.n_hugepage_limits = 1;
        SET(&ovh, cpu_period, 100000);
        SET(&ovh, cpu_quota, 20000);
        create(b, "vm-1", NULL, &res, &ovh); /* the default parent */
        attach_vmm(b, "vm-1", (int32_t) FUZZ_MAGIC_VMM);
        attach_vmm(b, "vm-1", (int32_t) FUZZ_MAGIC_VMM); /* again: completes, no change */
        attach_vcpus(b, "vm-1", NULL, 0, true, 2, NULL, 0);
        attach_vcpus(b, "vm-1", tids, ELEMENTSOF(tids), false, 0, NULL, 0);
        attach_vcpus(b, "vm-1", NULL, 0, true, 0, patterns, ELEMENTSOF(patterns));
        call_id(b, "GetSandbox", "vm-1");
        call_id(b, "DeleteSandbox", "vm-1");
}

static void session_siblings(Buf *b)
{
        Sandboxcg__V1__Resources res = SANDBOXCG__V1__RESOURCES__INIT, other = SANDBOXCG__V1__RESOURCES__INIT;

        SET(&res, cpu_shares, 512);
        SET(&res, memory_limit_in_bytes, INT64_C(128) << 20);
        SET(&other, cpu_shares, 1024);
        create(b, "a", "pods/p1", &res, NULL);
        create(b, "b", "pods/p1", &res, NULL);
        create(b, "a", "pods/p1", &other, NULL);   /* ALREADY_EXISTS */
        create(b, "c", "pods/p1/a", &res, NULL);   /* inside a's tree */
        attach_vmm(b, "a", (int32_t) FUZZ_MAGIC_VMM);
        attach_vmm(b, "b", (int32_t) FUZZ_MAGIC_VMM); /* already a's VMM */
        call_id(b, "DeleteSandbox", "a");
        reconcile(b, false);
        call_id(b, "DeleteSandbox", "b");
}

static void session_refused(Buf *b)
{
        Sandboxcg__V1__Resources res = SANDBOXCG__V1__RESOURCES__INIT;
        int32_t tids[] = { 1, -3, 0 };
        char *patterns[] = { (char *) "%n%s" };
        static const uint8_t garbage[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x01 };
        uint8_t hdr[TTRPC_HEADER_SIZE];
        TtrpcHeader h;

        call_service(b, "other.Service", "Version", NULL);
        call(b, "NoSuchMethod", NULL);
        call(b, "", NULL);
        frame(b, 7, TTRPC_TYPE_RESPONSE, garbage, sizeof garbage);  /* not a request: ignored */
        frame(b, 8, TTRPC_TYPE_REQUEST, NULL, 0);                   /* even stream id */
        frame(b, 9, TTRPC_TYPE_REQUEST, garbage, sizeof garbage);   /* not a ttrpc.Request */
        frame(b, 11, TTRPC_TYPE_REQUEST, NULL, 0);                  /* an empty ttrpc.Request */
        b->stream_id = 11;

        SET(&res, cpu_period, -1);
        SET(&res, cpu_quota, INT64_MAX);
        SET(&res, memory_limit_in_bytes, -5);
        res.cpuset_cpus = (char *) "7-3,,";
        create(b, "../etc", NULL, NULL, NULL);
        create(b, "ok", "/../../etc", NULL, NULL);
        create(b, "ok", "a//b/./c", NULL, NULL);
        create(b, "", NULL, NULL, NULL);
        create(b, NULL, NULL, NULL, NULL);
        create(b, "ok", "kubepods", &res, NULL);
        attach_vmm(b, "nosuch", 1);
        create(b, "ok2", "kubepods", NULL, NULL);
        attach_vmm(b, "ok2", 1);
        attach_vmm(b, "ok2", -7);
        attach_vmm(b, "ok2", 2);
        attach_vcpus(b, "ok2", tids, ELEMENTSOF(tids), true, 0, NULL, 0);
        attach_vcpus(b, "ok2", NULL, 0, true, 0, patterns, ELEMENTSOF(patterns));
        call_id(b, "DeleteSandbox", "ok2");

        /* An oversized frame, then a good one: the stream stays in sync. */
        h = (TtrpcHeader){ .length = FUZZ_SMALL_FRAME + 1, .stream_id = 13, .type = TTRPC_TYPE_REQUEST };
        ttrpc_header_encode(&h, hdr);
        put(b, hdr, sizeof hdr);
        for (size_t i = 0; i <= FUZZ_SMALL_FRAME; i++)
                put(b, "x", 1);
        b->stream_id = 13;
        call(b, "Version", NULL);
        /* A truncated frame at the end. */
        h = (TtrpcHeader){ .length = 100, .stream_id = 17, .type = TTRPC_TYPE_REQUEST };
        ttrpc_header_encode(&h, hdr);
        put(b, hdr, sizeof hdr);
        put(b, garbage, sizeof garbage);
}

/* ---- output --------------------------------------------------------------- */

static void emit(const char *dir, const char *name, uint8_t flags, uint8_t cut, void (*session)(Buf *))
{
        static const char *const layouts[] = { "hybrid", "v2", "v1" };
        static Buf b;
        char path[4096];
        int fd;

        b = (Buf){ .stream_id = (uint32_t) -1 }; /* the first call gets stream id 1 */
        put(&b, &flags, 1);
        put(&b, &cut, 1);
        session(&b);

        (void) snprintf(path, sizeof path, "%s/%s-%s-%02x%02x", dir, name, layouts[(flags & FUZZ_LAYOUT_MASK) % 3],
                        flags, cut);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, b.data, b.len) != (ssize_t) b.len || close(fd) < 0)
                die(path);
}

int main(int argc, char *argv[])
{
        static const struct {
                const char *name;
                void (*session)(Buf *);
        } sessions[] = {
                { "info", session_info },
                { "lifecycle", session_lifecycle },
                { "vmm", session_vmm },
                { "siblings", session_siblings },
                { "refused", session_refused },
        };

        if (argc != 2) {
                fprintf(stderr, "usage: %s DIR\n", argv[0]);
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < ELEMENTSOF(sessions); i++)
                for (uint8_t layout = 0; layout < 3; layout++) {
                        emit(argv[1], sessions[i].name, layout, 0, sessions[i].session);
                        emit(argv[1], sessions[i].name, layout | FUZZ_FLAG_SMALL_FRAMES, 7, sessions[i].session);
                        emit(argv[1], sessions[i].name, layout | FUZZ_FLAG_FILL, 0x85, sessions[i].session);
                }
        /* Who may call what. */
        emit(argv[1], "lifecycle", FUZZ_FLAG_READ_ONLY, 0, session_lifecycle);
        emit(argv[1], "lifecycle", FUZZ_FLAG_NOT_ROOT, 3, session_lifecycle);
        emit(argv[1], "info", FUZZ_FLAG_NOT_ROOT | FUZZ_FLAG_READ_ONLY, 0, session_info);
        return EXIT_SUCCESS;
}
