#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The integration suite on Debian's kernel in QEMU, pure cgroup v1 (cpu and cpuacct co-mounted, no cgroup2).
exec bash "$(dirname "$0")/run.sh" v1
