/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a sandbox id and a cgroup parent may look like. Both become path
 * components under the cgroup mounts and file names in the state directory,
 * so they are checked before anything touches a disk. */

#include <stdbool.h>

#include "daemon/error.h"

#define SANDBOX_ID_MAX 128
#define CGROUP_PARENT_MAX 1024
#define CGROUP_PARENT_DEPTH_MAX 32
#define CGROUP_PARENT_DEFAULT "sandboxcg"

/* 1..SANDBOX_ID_MAX characters of [A-Za-z0-9._-], the first alphanumeric
 * (so never ".", "..", a hidden file or an option). */
bool sandbox_id_is_valid(const char *id);

/* A cgroup parent relative to the cgroup root: components of
 * [A-Za-z0-9._:@-] (what Kubernetes and systemd slice names use) separated
 * by '/', none "." or "..", none empty; at most CGROUP_PARENT_DEPTH_MAX
 * levels and CGROUP_PARENT_MAX characters. One leading '/' is accepted, as
 * CRI writes parents, and dropped: *ret is the canonical form ("kubepods/x").
 * Errors are INVALID_ARGUMENT naming field. */
int cgroup_parent_normalize(const char *parent, const char *field, char **ret, Error *e);

/* Is parent (canonical) prefix itself or beneath it, component-wise
 * ("kubepods/x" is beneath "kubepods", "kubepods-x" is not)? */
bool cgroup_parent_is_beneath(const char *parent, const char *prefix);
