#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The integration suite on Debian's kernel in QEMU, pure cgroup v2 (every controller on /sys/fs/cgroup).
exec bash "$(dirname "$0")/run.sh" v2
