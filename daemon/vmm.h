/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The VMM process: identity (pidfd + start time), sanity checks before an
 * attach, and its vCPU threads found by name in /proc/<pid>/task. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/error.h"

/* Default thread name patterns: Cloud Hypervisor, Firecracker, QEMU (KVM
 * and TCG; QEMU names threads only with -name ...,debug-threads=on). */
#define VCPU_PATTERNS_DEFAULT { "vcpu%u", "fc_vcpu %u", "CPU %u/KVM", "CPU %u/TCG", NULL }

/* Field 22 of /proc/<pid>/stat (clock ticks after boot), parsed after the
 * last ')' since comm may hold spaces and parentheses. */
int vmm_read_start_time(pid_t pid, uint64_t *ret, Error *e);

/* A pidfd for pid, pinned to the process whose start time is expected
 * (expected 0: any). -ESRCH when the process is gone or the PID was reused. */
int vmm_pidfd_open(pid_t pid, uint64_t expected_start_time, int *ret_fd, Error *e);

/* Is the process behind the pidfd still alive? (1/0, or -errno) "Alive"
 * ends when the pidfd becomes readable, i.e. when every thread has exited
 * (a zombie counts as dead): the moment an sd-event IO source on the pidfd
 * fires. Needs no permission to signal the process. */
int vmm_pidfd_alive(int pidfd);

/* Field 22 of /proc/<pid>/stat, read through the number pid and vouched for
 * by pidfd (opened for pid): the process is confirmed alive after the read,
 * so the number cannot have been reused in between. -ESRCH when it exited. */
int vmm_pidfd_read_start_time(int pidfd, pid_t pid, uint64_t *ret, Error *e);

/* Refuse what must never be attached: PID 1, kernel threads, the daemon
 * itself (and its threads). -EPERM/-EINVAL with *e naming why. Also -EINVAL
 * for a TID that is not a thread-group leader (writing it to cgroup.procs
 * would move its whole process) and -ESRCH for a PID that does not exist. */
int vmm_check_attachable(pid_t pid, Error *e);

/* Is pid ancestor or one of its descendants (followed through the parent
 * PIDs of /proc/<pid>/stat)? 0 if so; -EPERM (PERMISSION_DENIED) if not,
 * -ESRCH if a process on the way does not exist. A process whose parent
 * exited was re-parented to a subreaper or PID 1: it no longer descends. */
int vmm_check_descendant(pid_t pid, pid_t ancestor, Error *e);

/* Is tid a thread of process pid? (1/0, or -errno: -ESRCH when pid does not
 * exist.) Looked up in /proc/<pid>/task, which holds only pid's own threads. */
int vmm_is_thread_of(pid_t pid, pid_t tid);

/* Does comm match pattern? A pattern is literal text with at most one "%u",
 * which matches one or more decimal digits; the whole name must match.
 * Returns true and the number in *ret_index (0 when there is no %u).
 * "%%" is a literal '%'; a number above UINT_MAX does not match; an invalid
 * pattern matches nothing. ret_index may be NULL. */
bool vcpu_pattern_match(const char *pattern, const char *comm, unsigned *ret_index);

/* Is pattern non-empty, with at most one "%u" and no '%' other than "%u"
 * and "%%"? (For validating configured patterns.) */
bool vcpu_pattern_is_valid(const char *pattern);

typedef struct VcpuThread {
        pid_t tid;
        unsigned index;         /* the N of the name */
} VcpuThread;

/* The threads of pid whose comm matches one of patterns (NULL-terminated),
 * sorted by index. The task directory is scanned until two consecutive
 * passes agree (threads come and go while it is read). patterns NULL means
 * VCPU_PATTERNS_DEFAULT; the first pattern that matches a thread wins.
 * *ret (NULL when none matched) is freed with free(). -ESRCH when the
 * process is gone, -EINVAL for an invalid pattern, -EBADMSG when two threads
 * claim the same index. */
int vmm_discover_vcpus(pid_t pid, const char *const *patterns, VcpuThread **ret, size_t *ret_n, Error *e);
