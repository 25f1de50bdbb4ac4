#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# sandboxcgctl against the built sandboxcgd: the version and host-info verbs
# in both output formats, and the exit codes (0 ok, 1 failure, 2 usage,
# 3 daemon unreachable). The checks that need no daemon run for everybody;
# the rest need root and are skipped (exit 77) without it.

# shellcheck source=tests/integration/lib.sh
. "${top_srcdir:?top_srcdir must be set (make check sets it)}/tests/integration/lib.sh"

test_setup

# --- Without a daemon ------------------------------------------------------

check "--help exits 0" 0 ctl --help &&
        check_grep "--help lists host-info" "$out" "^  host-info "
check "--version exits 0" 0 ctl --version &&
        check_grep "--version names the program" "$out" "^sandboxcgctl [0-9]"

check "no command: exit 2" 2 ctl
check "unknown command: exit 2" 2 ctl frobnicate &&
        check_grep "unknown command is named" "$err" "frobnicate"
check "unknown option: exit 2" 2 ctl --frobnicate version
check "unknown output format: exit 2" 2 ctl -o xml version
check "bad timeout: exit 2" 2 ctl --timeout=soon version
check "extra argument: exit 2" 2 ctl version extra

check "missing socket: exit 3" 3 ctl --socket "$tmpdir/missing.sock" version &&
        check_grep "missing socket: says so" "$err" "Failed to connect to sandboxcgd at $tmpdir/missing.sock"

# A socket that accepts connections but never answers: the timeout fires.
if have python3; then
        python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(4)
time.sleep(60)
' "$tmpdir/silent.sock" &
        silent_pid=$!
        kill_on_exit "$silent_pid"
        i=0
        while [ ! -S "$tmpdir/silent.sock" ] && [ "$i" -lt 100 ]; do
                i=$((i + 1))
                sleep 0.1
        done
        check "silent daemon: exit 1 after --timeout" 1 ctl --socket "$tmpdir/silent.sock" --timeout 0.3 version &&
                check_grep "silent daemon: timed out" "$err" "Timed out waiting for sandboxcgd"
else
        echo "SKIP: timeout check (no python3)"
fi

# --- Against the daemon ----------------------------------------------------

is_root || skip "the daemon checks need root"
[ -x "$SANDBOXCGD" ] || skip "$SANDBOXCGD is not built"

# shellcheck disable=SC2119 # no extra daemon options here
if ! start_daemon; then
        fail "start sandboxcgd"
        finish
fi
pass "start sandboxcgd"

check "version: exit 0" 0 ctl --socket "$socket" version && {
        check_grep "version: daemon version" "$out" "^ *Daemon version: [0-9]"
        check_grep "version: API version" "$out" "^ *API version: sandboxcg\.v1$"
        check_grep "version: client version" "$out" "^ *Client version: [0-9]"
}

check "version -o json: exit 0" 0 ctl --socket "$socket" version -o json &&
        check_grep "version -o json: api_version" "$out" '"api_version": "sandboxcg.v1"'

# What the daemon should find on this host.
case "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" in
cgroup2fs)
        mode=v2 ;;
tmpfs)
        if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
                mode=hybrid
        else
                mode=v1
        fi ;;
*)
        mode= ;;
esac
MODE=$(echo "$mode" | tr '[:lower:]' '[:upper:]')

check "host-info -o table: exit 0" 0 ctl --socket "$socket" host-info -o table && {
        check_grep "host-info: mode line" "$out" "^ *Mode: \(v1\|v2\|hybrid\)$"
        [ -z "$mode" ] || check_grep "host-info: mode is $mode" "$out" "^ *Mode: $mode$"
        check_grep "host-info: cgroup root" "$out" "^ *Cgroup root: /"
        check_grep "host-info: controller table header" "$out" "^NAME  *VERSION  *MOUNT  *ROOT  *ENABLED$"
        check_grep "host-info: cpu controller" "$out" "^cpu  *[12]  */"
}
n_table_rows=$(sed -n '/^NAME /,$p' "$out" | sed 1d | grep -c .)

check "host-info -o json: exit 0" 0 ctl --output=json --socket "$socket" host-info && {
        check_grep "host-info -o json: mode" "$out" '"mode": "CGROUP_MODE_\(V1\|V2\|HYBRID\)"'
        [ -z "$mode" ] || check_grep "host-info -o json: mode is $mode" "$out" "\"mode\": \"CGROUP_MODE_$MODE\""
        if have python3; then
                if python3 -m json.tool "$out" >/dev/null 2>"$err"; then
                        pass "host-info -o json: python3 parses it"
                else
                        fail "host-info -o json: python3 parses it"
                        sed 's/^/    /' "$err"
                fi
                n_json=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1])).get("controllers", [])))' "$out")
                if [ "$n_json" = "$n_table_rows" ]; then
                        pass "host-info: table and JSON list the same $n_json controllers"
                else
                        fail "host-info: table lists $n_table_rows controllers, JSON $n_json"
                fi
        fi
        if have jq; then
                if jq -e '.controllers | length > 0' "$out" >/dev/null; then
                        pass "host-info -o json: jq parses it"
                else
                        fail "host-info -o json: jq parses it"
                fi
        fi
}

if stop_daemon; then
        pass "sandboxcgd exits cleanly on SIGTERM"
else
        fail "sandboxcgd exits cleanly on SIGTERM"
fi

check "daemon gone: exit 3" 3 ctl --socket "$socket" version

finish
