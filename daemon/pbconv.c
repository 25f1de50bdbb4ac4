/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "daemon/pbconv.h"

void *pb_new(const ProtobufCMessageDescriptor *d)
{
        ProtobufCMessage *msg = malloc(d->sizeof_message);
        if (msg)
                protobuf_c_message_init(d, msg);
        return msg;
}

void pb_freep(void *p)
{
        ProtobufCMessage **m = p;
        if (*m)
                protobuf_c_message_free_unpacked(*m, NULL);
}

int pb_strdup(char **field, const char *s)
{
        if (!s)
                return 0;
        *field = strdup(s);
        return *field ? 0 : -ENOMEM;
}

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
        uint64_t v = 0;

        for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
                uint8_t b = *(*p)++;

                v |= (uint64_t) (b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *ret = v;
                        return true;
                }
        }
        return false;
}

static bool find_nul(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t size, char *path,
                     size_t path_size, size_t len, unsigned depth)
{
        const uint8_t *end = p + size;
        unsigned seen[32] = {}; /* occurrences of each field, for the index of repeated ones */

        while (p < end) {
                const ProtobufCFieldDescriptor *f;
                uint64_t tag, n;

                if (!read_varint(&p, end, &tag))
                        return false;
                switch (tag & 7) {
                case PROTOBUF_C_WIRE_TYPE_VARINT:
                        if (!read_varint(&p, end, &n))
                                return false;
                        continue;
                case PROTOBUF_C_WIRE_TYPE_64BIT:
                        if (end - p < 8)
                                return false;
                        p += 8;
                        continue;
                case PROTOBUF_C_WIRE_TYPE_32BIT:
                        if (end - p < 4)
                                return false;
                        p += 4;
                        continue;
                case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
                        break;
                default:
                        return false; /* groups: protobuf-c does not unpack them */
                }
                if (!read_varint(&p, end, &n) || n > (uint64_t) (end - p))
                        return false;

                f = tag >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned) (tag >> 3))
                                           : NULL;
                if (f && (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)) {
                        size_t i = (size_t) (f - desc->fields), k = len;
                        int w;

                        if (f->label == PROTOBUF_C_LABEL_REPEATED)
                                w = snprintf(path + len, path_size - len, "%s%s[%u]", len > 0 ? "." : "", f->name,
                                             i < ELEMENTSOF(seen) ? seen[i] : 0);
                        else
                                w = snprintf(path + len, path_size - len, "%s%s", len > 0 ? "." : "", f->name);
                        if (i < ELEMENTSOF(seen))
                                seen[i]++;
                        if (w > 0)
                                k = MIN(len + (size_t) w, path_size - 1);
                        if (f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, (size_t) n))
                                return true;
                        if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth < 32 &&
                            find_nul(f->descriptor, p, (size_t) n, path, path_size, k, depth + 1))
                                return true;
                        path[len] = '\0';
                }
                p += n;
        }
        return false;
}

bool pb_find_nul_string(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size, char *path,
                        size_t path_size)
{
        if (!data || path_size == 0)
                return false;
        path[0] = '\0';
        return find_nul(desc, data, size, path, path_size, 0, 0);
}

static void opt_from_pb(bool has, int64_t v, OptInt *ret)
{
        *ret = (OptInt){ .set = has, .value = has ? v : 0 };
}

int resources_from_pb(const Sandboxcg__V1__Resources *pb, Resources *ret)
{
        _cleanup_(resources_done) Resources r = {};

        if (!pb) {
                *ret = r;
                return 0;
        }
        opt_from_pb(pb->has_cpu_period, pb->cpu_period, &r.cpu_period);
        opt_from_pb(pb->has_cpu_quota, pb->cpu_quota, &r.cpu_quota);
        opt_from_pb(pb->has_cpu_shares, pb->cpu_shares, &r.cpu_shares);
        opt_from_pb(pb->has_memory_limit_in_bytes, pb->memory_limit_in_bytes, &r.memory_limit);
        opt_from_pb(pb->has_memory_swap_limit_in_bytes, pb->memory_swap_limit_in_bytes, &r.memory_swap);
        opt_from_pb(pb->has_pids_limit, pb->pids_limit, &r.pids_limit);
        if (pb_strdup(&r.cpuset_cpus, pb->cpuset_cpus) < 0 || pb_strdup(&r.cpuset_mems, pb->cpuset_mems) < 0)
                return -ENOMEM;

        if (pb->n_hugepage_limits > 0) {
                r.hugepages = calloc(pb->n_hugepage_limits, sizeof *r.hugepages);
                if (!r.hugepages)
                        return -ENOMEM;
                for (size_t i = 0; i < pb->n_hugepage_limits; i++) {
                        const Sandboxcg__V1__HugepageLimit *h = pb->hugepage_limits[i];

                        /* proto3 CRI: an absent limit is 0 (no hugepages). */
                        r.hugepages[i].limit = h->has_limit ? h->limit : 0;
                        if (pb_strdup(&r.hugepages[i].page_size, h->page_size) < 0)
                                return -ENOMEM;
                        r.n_hugepages++;
                }
        }

        *ret = r;
        r = (Resources){};
        return 0;
}

#define OPT_TO_PB(pb, field, opt)                       \
        do {                                            \
                if ((opt).set)                          \
                        PB_SET(pb, field, (opt).value); \
        } while (0)

int resources_to_pb(const Resources *r, Sandboxcg__V1__Resources **ret)
{
        _cleanup_pb_ Sandboxcg__V1__Resources *pb = pb_new(&sandboxcg__v1__resources__descriptor);

        if (!pb)
                return -ENOMEM;
        OPT_TO_PB(pb, cpu_period, r->cpu_period);
        OPT_TO_PB(pb, cpu_quota, r->cpu_quota);
        OPT_TO_PB(pb, cpu_shares, r->cpu_shares);
        OPT_TO_PB(pb, memory_limit_in_bytes, r->memory_limit);
        OPT_TO_PB(pb, memory_swap_limit_in_bytes, r->memory_swap);
        OPT_TO_PB(pb, pids_limit, r->pids_limit);
        if (pb_strdup(&pb->cpuset_cpus, r->cpuset_cpus) < 0 || pb_strdup(&pb->cpuset_mems, r->cpuset_mems) < 0)
                return -ENOMEM;

        if (r->n_hugepages > 0) {
                pb->hugepage_limits = calloc(r->n_hugepages, sizeof *pb->hugepage_limits);
                if (!pb->hugepage_limits)
                        return -ENOMEM;
                for (size_t i = 0; i < r->n_hugepages; i++) {
                        Sandboxcg__V1__HugepageLimit *h = pb_new(&sandboxcg__v1__hugepage_limit__descriptor);

                        if (!h)
                                return -ENOMEM;
                        pb->hugepage_limits[pb->n_hugepage_limits++] = h;
                        PB_SET(h, limit, r->hugepages[i].limit);
                        if (pb_strdup(&h->page_size, r->hugepages[i].page_size) < 0)
                                return -ENOMEM;
                }
        }

        *ret = TAKE_PTR(pb);
        return 0;
}

static const Sandboxcg__V1__SandboxState state_map[_SANDBOX_STATE_MAX] = {
        [SANDBOX_CREATING] = SANDBOXCG__V1__SANDBOX_STATE__SANDBOX_STATE_CREATING,
        [SANDBOX_CREATED] = SANDBOXCG__V1__SANDBOX_STATE__SANDBOX_STATE_CREATED,
        [SANDBOX_RUNNING] = SANDBOXCG__V1__SANDBOX_STATE__SANDBOX_STATE_RUNNING,
        [SANDBOX_VMM_EXITED] = SANDBOXCG__V1__SANDBOX_STATE__SANDBOX_STATE_VMM_EXITED,
        [SANDBOX_DELETING] = SANDBOXCG__V1__SANDBOX_STATE__SANDBOX_STATE_DELETING,
};

Sandboxcg__V1__SandboxState sandbox_state_to_pb(SandboxState s)
{
        if (s < 0 || s >= _SANDBOX_STATE_MAX)
                return SANDBOXCG__V1__SANDBOX_STATE__SANDBOX_STATE_UNKNOWN;
        return state_map[s];
}

SandboxState sandbox_state_from_pb(Sandboxcg__V1__SandboxState s)
{
        for (SandboxState i = 0; i < _SANDBOX_STATE_MAX; i++)
                if (state_map[i] == s)
                        return i;
        return _SANDBOX_STATE_INVALID;
}
