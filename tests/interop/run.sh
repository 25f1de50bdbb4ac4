#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Interop: containerd's Go ttrpc library, as Debian packages it, calls every
# method of the built sandboxcgd. Offline: the Go program (client.go) is built
# in GOPATH mode against /usr/share/gocode (golang-github-containerd-ttrpc-dev,
# golang-goprotobuf-dev, ...), with the messages generated here by
# protoc-gen-go from proto/sandboxcg/v1/sandboxcg.proto into
# $top_builddir/tests/interop/gopath (never checked in).
#
# Needs root (the daemon writes cgroups): skipped (exit 77) without it. A
# missing Go toolchain or package is a failure, not a skip: CI installs them
# (contrib/quickstart.sh test).
#
# The daemon runs on a private socket and state directory; the client makes
# its cgroups under a parent unique to the run. On exit (also on failure) the
# daemon is stopped, what is left in that parent is killed (only processes
# this test started can be there) and the parent is removed, leaves first,
# from every hierarchy under /sys/fs/cgroup.

# shellcheck source=tests/integration/lib.sh
. "${top_srcdir:?top_srcdir must be set (make check sets it)}/tests/integration/lib.sh"

test_setup

CG=/sys/fs/cgroup
GOCODE=/usr/share/gocode
parent=scg-interop-$$-$(date +%s)
gobuild=$top_builddir/tests/interop
client=$gobuild/interop-client

is_root || skip "needs root: the daemon creates cgroups"

hierarchies() {
        for h in "$CG"/* "$CG"; do
                if [ ! -d "$h" ] || [ -L "$h" ]; then
                        continue
                fi
                case "$(stat -f -c %T "$h" 2>/dev/null)" in
                cgroup2fs | cgroupfs) echo "$h" ;;
                esac
        done
}

# Kill what is left under the parent, then remove it leaves first; retry
# while the killed processes leave their cgroups. Fails if anything stays.
remove_parent() {
        tries=0
        while :; do
                left=
                for h in $(hierarchies); do
                        [ -d "$h/$parent" ] || continue
                        # shellcheck disable=SC2044 # the output is pids, not file names
                        for pid in $(find "$h/$parent" -name cgroup.procs -exec cat {} + 2>/dev/null); do
                                kill -KILL "$pid" 2>/dev/null
                        done
                        find "$h/$parent" -depth -type d -exec rmdir {} \; 2>/dev/null
                        [ ! -d "$h/$parent" ] || left="$left $h/$parent"
                done
                [ -n "$left" ] || return 0
                tries=$((tries + 1))
                if [ "$tries" -ge 50 ]; then
                        echo "cleanup: could not remove$left"
                        return 1
                fi
                sleep 0.1
        done
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup_interop() {
        rc=$?
        if [ -n "$daemon_pid" ]; then
                kill "$daemon_pid" 2>/dev/null
                wait "$daemon_pid" 2>/dev/null
                daemon_pid=
        fi
        remove_parent || rc=1
        (exit "$rc")
        _cleanup
}
trap cleanup_interop EXIT

# --- Build ------------------------------------------------------------------
# What CI installs; a missing piece fails the test.
missing=
for tool in go protoc protoc-gen-go; do
        have "$tool" || missing="$missing $tool"
done
for pkg in github.com/containerd/ttrpc github.com/gogo/protobuf/proto github.com/golang/protobuf/proto \
        google.golang.org/grpc/status; do
        [ -d "$GOCODE/src/$pkg" ] || missing="$missing $GOCODE/src/$pkg"
done
if [ -n "$missing" ]; then
        fail "missing:$missing (apt-get install golang-go golang-github-containerd-ttrpc-dev protobuf-compiler golang-goprotobuf-dev)"
        finish
fi

# The messages, generated fresh: package sandboxcg_v1, import path
# "sandboxcg/v1" in the first GOPATH entry.
rm -rf "$gobuild/gopath/src/sandboxcg"
mkdir -p "$gobuild/gopath/src" || exit 99
if protoc --proto_path="$top_srcdir/proto" --go_out="$gobuild/gopath/src" \
        "$top_srcdir/proto/sandboxcg/v1/sandboxcg.proto" >"$out" 2>"$err" &&
        [ -f "$gobuild/gopath/src/sandboxcg/v1/sandboxcg.pb.go" ]; then
        pass "protoc --go_out ($(protoc --version), protoc-gen-go from $(command -v protoc-gen-go))"
else
        fail "protoc --go_out"
        sed 's/^/    /' "$err"
        finish
fi

# GOPATH mode, offline, with the build cache in the build tree (not in
# root's home); no cgo, so the build ignores the sanitizer environment.
if (cd "$gobuild" && env GO111MODULE=off GOFLAGS= GOENV=off GOPROXY=off CGO_ENABLED=0 \
        GOPATH="$gobuild/gopath:$GOCODE" GOCACHE="$gobuild/gocache" \
        go build -o "$client" "$top_srcdir/tests/interop/client.go") >"$out" 2>"$err"; then
        pass "go build ($(go version | cut -d' ' -f3), ttrpc from $GOCODE)"
else
        fail "go build"
        sed 's/^/    /' "$err"
        finish
fi

# --- Run --------------------------------------------------------------------
# shellcheck disable=SC2119 # no extra daemon options here
if ! start_daemon; then
        fail "start sandboxcgd"
        finish
fi
pass "sandboxcgd listens on $socket"

"$client" -socket "$socket" -parent "$parent" -state-dir "$tmpdir/state" >"$out" 2>"$err"
rc=$?
sed 's/^/    /' "$out" "$err"
if [ "$rc" -eq 0 ]; then
        pass "Go ttrpc client: $(tail -n 1 "$out")"
else
        fail "Go ttrpc client exited with $rc"
        _show_daemon_log
fi

if stop_daemon; then
        pass "sandboxcgd exited 0 on SIGTERM"
else
        fail "sandboxcgd did not exit 0 on SIGTERM"
fi

if remove_parent; then
        pass "cgroup parent $parent removed from every hierarchy"
else
        fail "cgroup parent $parent left behind"
fi

finish
