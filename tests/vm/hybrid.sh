#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The integration suite on Debian's kernel in QEMU, hybrid (v1 controllers, hugetlb on cgroup2 at /sys/fs/cgroup/unified).
exec bash "$(dirname "$0")/run.sh" hybrid
