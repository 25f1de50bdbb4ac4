# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
#
# Helpers for the shell integration tests, sourced by tests/integration/test-*.sh.
# make check sets $top_srcdir and $top_builddir; the tests run the built
# binaries from $top_builddir.
#
#   test_setup               temporary directory in $tmpdir, removed (and the
#                            daemon stopped) on exit
#   start_daemon [ARGS...]   start sandboxcgd on $socket with state in
#                            $tmpdir/state and no configuration file; wait
#                            until it listens
#   stop_daemon              SIGTERM it and wait; fails unless it exits with 0
#   kill_on_exit PID         SIGTERM another helper process on exit
#   ctl ARGS...              run sandboxcgctl
#   check DESC WANT CMD...   run CMD with stdout in $out and stderr in $err,
#                            count a pass if it exits with WANT
#   check_grep DESC FILE RE  count a pass if FILE has a line matching RE
#   pass DESC / fail DESC    count a result
#   finish                   print "N passed, M failed"; exit status 1 if any
#                            failed
#   skip REASON              exit 77 (skipped), with the counts so far

: "${top_builddir:?top_builddir must be set (make check sets it)}"
: "${top_srcdir:?top_srcdir must be set (make check sets it)}"

# $SANDBOXCGD and $SANDBOXCGCTL from the environment replace them (make
# check-valgrind: wrappers that run them under valgrind).
SANDBOXCGD=${SANDBOXCGD:-$top_builddir/daemon/sandboxcgd}
SANDBOXCGCTL=${SANDBOXCGCTL:-$top_builddir/client/sandboxcgctl}

n_passed=0
n_failed=0
daemon_pid=
helper_pids=
tmpdir=

pass() {
        n_passed=$((n_passed + 1))
        echo "PASS: $*"
}

fail() {
        n_failed=$((n_failed + 1))
        echo "FAIL: $*"
}

finish() {
        echo "$n_passed passed, $n_failed failed"
        [ "$n_failed" -eq 0 ] || exit 1
        exit 0
}

skip() {
        echo "SKIP: $*"
        echo "$n_passed passed, $n_failed failed"
        [ "$n_failed" -eq 0 ] || exit 1
        exit 77
}

is_root() {
        [ "$(id -u)" -eq 0 ]
}

have() {
        command -v "$1" >/dev/null 2>&1
}

kill_on_exit() {
        helper_pids="$helper_pids $1"
}

_cleanup() {
        rc=$?
        for pid in $daemon_pid $helper_pids; do
                kill "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
        done
        [ -z "$tmpdir" ] || rm -rf "$tmpdir"
        exit "$rc"
}

test_setup() {
        tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/sandboxcg-test.XXXXXX") || exit 99
        socket=$tmpdir/s.sock
        out=$tmpdir/stdout
        err=$tmpdir/stderr
        trap _cleanup EXIT
        trap 'exit 129' HUP
        trap 'exit 130' INT
        trap 'exit 143' TERM
}

# The daemon's log, indented, for a failure report.
_show_daemon_log() {
        [ -s "$tmpdir/daemon.log" ] && sed 's/^/    daemon: /' "$tmpdir/daemon.log"
        return 0
}

start_daemon() {
        "$SANDBOXCGD" --socket "$socket" --state-dir "$tmpdir/state" --config /dev/null "$@" \
                >"$tmpdir/daemon.log" 2>&1 &
        daemon_pid=$!

        # Sanitizer builds start slowly: allow 20 s.
        i=0
        while [ ! -S "$socket" ]; do
                if ! kill -0 "$daemon_pid" 2>/dev/null; then
                        wait "$daemon_pid"
                        echo "sandboxcgd exited with $? before listening"
                        daemon_pid=
                        _show_daemon_log
                        return 1
                fi
                i=$((i + 1))
                if [ "$i" -gt 200 ]; then
                        echo "sandboxcgd did not create $socket within 20 s"
                        _show_daemon_log
                        return 1
                fi
                sleep 0.1
        done
}

stop_daemon() {
        [ -n "$daemon_pid" ] || return 0
        kill "$daemon_pid"
        wait "$daemon_pid"
        rc=$?
        daemon_pid=
        if [ "$rc" -ne 0 ]; then
                echo "sandboxcgd exited with $rc on SIGTERM"
                _show_daemon_log
        fi
        return "$rc"
}

ctl() {
        "$SANDBOXCGCTL" "$@"
}

check() {
        desc=$1
        want=$2
        shift 2
        "$@" >"$out" 2>"$err"
        rc=$?
        if [ "$rc" -eq "$want" ]; then
                pass "$desc"
                return 0
        fi
        fail "$desc: exit code $rc, expected $want"
        echo "    command: $*"
        sed 's/^/    stdout: /' "$out"
        sed 's/^/    stderr: /' "$err"
        return 1
}

check_grep() {
        desc=$1
        file=$2
        re=$3
        if grep -q -e "$re" "$file"; then
                pass "$desc"
                return 0
        fi
        fail "$desc: no line matches '$re'"
        sed 's/^/    | /' "$file"
        return 1
}
