#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The sandbox verbs of sandboxcgctl (create, update, attach-vmm, attach-vcpus,
# delete, get, list) against the built sandboxcgd on this host's real cgroup
# hierarchies. The usage checks need no daemon and run for everybody; the
# rest need root and are skipped (exit 77) without it.
#
# Every cgroup is made under a parent unique to the run; on exit (also on
# failure) the sandboxes are deleted, the helper processes this script
# started are killed and the parent is removed, leaves first, from every
# hierarchy under /sys/fs/cgroup.

# shellcheck source=tests/integration/lib.sh
. "${top_srcdir:?top_srcdir must be set (make check sets it)}/tests/integration/lib.sh"

test_setup

CG=/sys/fs/cgroup
parent=scg-test-cli-$$-$(date +%s)
missing=$tmpdir/missing.sock

# --- Usage errors, without a daemon ----------------------------------------
# The socket does not exist: exit 2 also shows that the command line is
# refused before anything is sent.

check "--help exits 0" 0 ctl --help && {
        check_grep "--help lists create" "$out" "^  create ID "
        check_grep "--help lists attach-vcpus" "$out" "^  attach-vcpus ID \[TID\.\.\.\] "
        check_grep "--help says update replaces the spec" "$out" "update replaces the whole spec"
}

check "create without ID: exit 2" 2 ctl --socket "$missing" create --memory 1G
check "get without ID: exit 2" 2 ctl --socket "$missing" get
check "delete without ID: exit 2" 2 ctl --socket "$missing" delete
check "list with an argument: exit 2" 2 ctl --socket "$missing" list sb1
check "create, unknown option: exit 2" 2 ctl --socket "$missing" create sb1 --frobnicate &&
        check_grep "create, unknown option: named" "$err" "frobnicate"
check "get with a resource option: exit 2" 2 ctl --socket "$missing" get sb1 --memory 1G

for size in 12X 1.5G -1 "" " 1G" 1G5 0x10 99999999999T 9223372036854775808; do
        check "create --memory '$size': exit 2" 2 ctl --socket "$missing" create sb1 --memory="$size" &&
                check_grep "create --memory '$size': says why" "$err" "Invalid value .* for --memory"
done
check "create --overhead-memory-swap garbage: exit 2" 2 \
        ctl --socket "$missing" create sb1 --overhead-memory-swap 1Q &&
        check_grep "create --overhead-memory-swap garbage: named" "$err" "--overhead-memory-swap"
check "create --cpu-quota with a suffix: exit 2" 2 ctl --socket "$missing" create sb1 --cpu-quota 50K
check "create --pids negative: exit 2" 2 ctl --socket "$missing" create sb1 --pids -5
check "create --hugepages without '=': exit 2" 2 ctl --socket "$missing" create sb1 --hugepages 2MB
check "create --hugepages bad page size: exit 2" 2 ctl --socket "$missing" create sb1 --hugepages 3=1G
check "update bad SIZE: exit 2" 2 ctl --socket "$missing" update sb1 --memory 1GiBB
check "update --parent: exit 2" 2 ctl --socket "$missing" update sb1 --parent x
check "attach-vmm bad PID: exit 2" 2 ctl --socket "$missing" attach-vmm sb1 12abc
check "attach-vmm PID 0: exit 2" 2 ctl --socket "$missing" attach-vmm sb1 0
check "attach-vmm without PID: exit 2" 2 ctl --socket "$missing" attach-vmm sb1
check "attach-vcpus without TIDs or --discover: exit 2" 2 ctl --socket "$missing" attach-vcpus sb1
check "attach-vcpus TIDs and --discover: exit 2" 2 ctl --socket "$missing" attach-vcpus sb1 12 --discover
check "attach-vcpus --expect without --discover: exit 2" 2 ctl --socket "$missing" attach-vcpus sb1 12 --expect 1
check "attach-vcpus bad TID: exit 2" 2 ctl --socket "$missing" attach-vcpus sb1 12 x

echo '{"resources": {"memory_limit_in_bytes": 1' >"$tmpdir/truncated.json"
check "create --spec truncated JSON: exit 2" 2 ctl --socket "$missing" create sb1 --spec "$tmpdir/truncated.json" &&
        check_grep "create --spec truncated JSON: says so" "$err" "not valid JSON"
echo '{"resources": {"memory_limit": 1}}' >"$tmpdir/unknown.json"
check "create --spec unknown field: exit 2" 2 ctl --socket "$missing" create sb1 --spec "$tmpdir/unknown.json" &&
        check_grep "create --spec unknown field: names its path" "$err" "resources\.memory_limit"
echo '{"resources": {"cpu_quota": "lots"}}' >"$tmpdir/badtype.json"
check "create --spec wrong type: exit 2" 2 ctl --socket "$missing" create sb1 --spec "$tmpdir/badtype.json" &&
        check_grep "create --spec wrong type: names its path" "$err" "resources\.cpu_quota"
check "create --spec missing file: exit 2" 2 ctl --socket "$missing" create sb1 --spec "$tmpdir/nope.json"
check "well-formed create, no daemon: exit 3" 3 \
        ctl --socket "$missing" create sb1 --memory 512M --hugepages 2MB=1G

# --- Against the daemon ----------------------------------------------------

is_root || skip "the daemon checks need root"
[ -x "$SANDBOXCGD" ] || skip "$SANDBOXCGD is not built"
[ "$(stat -f -c %T "$CG" 2>/dev/null)" = tmpfs ] || [ "$(stat -f -c %T "$CG" 2>/dev/null)" = cgroup2fs ] ||
        skip "no cgroup file system at $CG"
if [ "$(stat -f -c %T "$CG")" != tmpfs ] || [ ! -d "$CG/cpu" ] || [ ! -d "$CG/memory" ] ||
        ! grep -q '^[0-9]*:cpu:' /proc/self/cgroup; then
        # The kernel-file checks below name v1 files, with cpu on its own
        # hierarchy (test-sandbox covers the other layouts).
        skip "the checks of kernel files are written for v1/hybrid hosts with cpu and memory each at $CG/<controller>"
fi

# Every directory of our parent, in every hierarchy: $CG/<name> for each v1
# hierarchy, and the cgroup2 mount (the root on v2, unified on hybrid).
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

vmm_pid=
other_pid=
exiting_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup_sandboxes() {
        rc=$?
        if [ -n "$daemon_pid" ]; then
                ctl --socket "$socket" --timeout 30 delete sb1 sb2 sb3 >/dev/null 2>&1
        fi
        # What we started, by pid: a stand-in that the daemon did not kill
        # keeps its cgroup busy.
        for pid in $vmm_pid $other_pid $exiting_pid; do
                kill -KILL "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
        done
        for h in $(hierarchies); do
                [ -d "$h/$parent" ] || continue
                find "$h/$parent" -depth -type d -exec rmdir {} \; 2>/dev/null
                if [ -d "$h/$parent" ]; then
                        echo "cleanup: could not remove $h/$parent"
                        rc=1
                fi
        done
        (exit "$rc")
        _cleanup
}
trap cleanup_sandboxes EXIT

# check_file DESC FILE WANT: the kernel's file holds exactly WANT.
check_file() {
        if [ ! -e "$2" ]; then
                fail "$1: $2 does not exist"
                return 1
        fi
        got=$(cat "$2")
        if [ "$got" = "$3" ]; then
                pass "$1"
                return 0
        fi
        fail "$1: $2 holds '$got', expected '$3'"
        return 1
}

# check_gone DESC PATH
check_gone() {
        if [ -e "$2" ]; then
                fail "$1: $2 still exists"
                return 1
        fi
        pass "$1"
}

# check_json DESC FILE PYTHON-EXPR: the expression on the parsed JSON `j` is
# true.
check_json() {
        if ! have python3; then
                echo "SKIP: $1 (no python3)"
                return 0
        fi
        if python3 -c "import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if ($3) else 1)" "$2" \
                2>"$tmpdir/py.err"; then
                pass "$1"
                return 0
        fi
        fail "$1: $3"
        sed 's/^/    | /' "$2" "$tmpdir/py.err"
        return 1
}

# Dead or a zombie: the daemon killed it.
wait_dead() {
        i=0
        while [ "$i" -lt 100 ]; do
                state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
                [ -z "$state" ] || [ "$state" = Z ] && return 0
                i=$((i + 1))
                sleep 0.1
        done
        return 1
}

echo "cgroup parent of this run: $parent"

# shellcheck disable=SC2119 # no extra daemon options here
if ! start_daemon; then
        fail "start sandboxcgd"
        finish
fi
pass "start sandboxcgd"

# shellcheck disable=SC2317 # called through check
sctl() {
        ctl --socket "$socket" "$@"
}

# Hugepages where the hugetlb controller and 2 MB pages are there.
hugetlb_dir=
hugepage_opts=
if [ -d /sys/kernel/mm/hugepages/hugepages-2048kB ]; then
        if [ -e "$CG/hugetlb/hugetlb.2MB.limit_in_bytes" ]; then
                hugetlb_dir=$CG/hugetlb hugetlb_file=hugetlb.2MB.limit_in_bytes
        elif [ -e "$CG/unified/cgroup.controllers" ] && grep -qw hugetlb "$CG/unified/cgroup.controllers"; then
                hugetlb_dir=$CG/unified hugetlb_file=hugetlb.2MB.max
        fi
        [ -z "$hugetlb_dir" ] || hugepage_opts="--hugepages 2MB=4M --overhead-hugepages 2M=2M"
fi

# --- create ------------------------------------------------------------------
# The sandbox cgroup gets the totals (pod + overhead), vcpu the pod's CPU
# limits, pod_overhead the overhead's.
create_sb1() {
        # shellcheck disable=SC2086 # hugepage_opts is a list of words
        check "$1" "$2" sctl create sb1 --parent "$parent" \
                --cpu-period 100000 --cpu-quota 50000 --cpu-shares 512 --cpuset-cpus 0 \
                --memory "$3" --memory-swap 1G --pids 100 \
                --overhead-cpu-period 100000 --overhead-cpu-quota 20000 --overhead-cpu-shares 128 \
                --overhead-cpuset-cpus 0 --overhead-memory 64M --overhead-memory-swap 64M --overhead-pids 20 \
                $hugepage_opts
}

if create_sb1 "create sb1: exit 0" 0 512M; then
        check_grep "create sb1: says created" "$out" "^Created sandbox sb1\.$"
        check_grep "create sb1: shows the state" "$out" "^ *State: created$"
        check_grep "create sb1: shows the limits" "$out" "^ *Resources: .*cpu-quota=50000 .*memory=512M"
fi

sb=$parent/sb1
check_file "create: vcpu cpu.cfs_quota_us" "$CG/cpu/$sb/vcpu/cpu.cfs_quota_us" 50000
check_file "create: vcpu cpu.cfs_period_us" "$CG/cpu/$sb/vcpu/cpu.cfs_period_us" 100000
check_file "create: vcpu cpu.shares" "$CG/cpu/$sb/vcpu/cpu.shares" 512
check_file "create: pod_overhead cpu.cfs_quota_us" "$CG/cpu/$sb/pod_overhead/cpu.cfs_quota_us" 20000
check_file "create: pod_overhead cpu.shares" "$CG/cpu/$sb/pod_overhead/cpu.shares" 128
check_file "create: sandbox cpu.cfs_quota_us is the sum" "$CG/cpu/$sb/cpu.cfs_quota_us" 70000
check_file "create: sandbox cpu.shares is the sum" "$CG/cpu/$sb/cpu.shares" 640
check_file "create: sandbox memory.limit_in_bytes is the sum" "$CG/memory/$sb/memory.limit_in_bytes" \
        $(((512 + 64) * 1024 * 1024))
[ ! -e "$CG/memory/$sb/memory.memsw.limit_in_bytes" ] ||
        check_file "create: sandbox memory.memsw.limit_in_bytes is the sum" \
                "$CG/memory/$sb/memory.memsw.limit_in_bytes" $(((1024 + 64) * 1024 * 1024))
[ ! -d "$CG/pids" ] || check_file "create: sandbox pids.max is the sum" "$CG/pids/$sb/pids.max" 120
[ ! -d "$CG/cpuset" ] || check_file "create: sandbox cpuset.cpus" "$CG/cpuset/$sb/cpuset.cpus" 0
if [ -n "$hugetlb_dir" ]; then
        check_file "create: sandbox $hugetlb_file is the sum" "$hugetlb_dir/$sb/$hugetlb_file" $((6 * 1024 * 1024))
else
        echo "SKIP: hugetlb checks (no hugetlb controller or no 2 MB pages)"
fi
if [ -d "$CG/unified" ] && [ "$(stat -f -c %T "$CG/unified")" = cgroup2fs ]; then
        if [ -d "$CG/unified/$sb" ]; then
                pass "create: the sandbox is in the unified hierarchy too"
        else
                fail "create: $CG/unified/$sb does not exist"
        fi
fi
for h in $(hierarchies); do
        case "$h" in "$CG/cpu") continue ;; esac
        if [ -d "$h/$sb/vcpu" ]; then
                fail "create: $h/$sb has a vcpu cgroup (only the cpu hierarchy should)"
        fi
done

# --- idempotency -----------------------------------------------------------
if create_sb1 "create sb1 again, same spec: exit 0" 0 512M; then
        check_grep "create sb1 again: nothing to do" "$out" "nothing to do"
fi
if create_sb1 "create sb1 again, other memory: exit 1" 1 768M; then
        check_grep "create sb1 again, other spec: ALREADY_EXISTS" "$err" "^Error: ALREADY_EXISTS"
fi
check_file "create sb1 again, other spec: limit unchanged" "$CG/memory/$sb/memory.limit_in_bytes" \
        $(((512 + 64) * 1024 * 1024))

# --- get / list --------------------------------------------------------------
check "get sb1: exit 0" 0 sctl get sb1 && {
        check_grep "get sb1: id" "$out" "^ *ID: sb1$"
        check_grep "get sb1: parent" "$out" "^ *Cgroup parent: $parent$"
        check_grep "get sb1: state" "$out" "^ *State: created$"
        check_grep "get sb1: created time" "$out" "^ *Created: [0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9:]\{8\}"
        check_grep "get sb1: overhead" "$out" "^ *Overhead: .*cpu-quota=20000 .*memory=64M"
        check_grep "get sb1: cgroup table" "$out" "^HIERARCHY  *PATH$"
        check_grep "get sb1: cpu cgroup path" "$out" "^cpu  *$CG/cpu/$sb$"
        check_grep "get sb1: applied vcpu quota" "$out" "^cpu/$sb/vcpu/cpu.cfs_quota_us  *50000$"
}
check "get sb1 -o json: exit 0" 0 sctl get sb1 -o json && {
        check_grep "get sb1 -o json: state" "$out" '"state": "SANDBOX_STATE_CREATED"'
        check_json "get sb1 -o json: parent" "$out" "j['sandbox']['cgroup_parent'] == '$parent'"
        check_json "get sb1 -o json: cpu path" "$out" \
                "'$CG/cpu/$sb' in [c['path'] for c in j['sandbox']['cgroups']]"
        check_json "get sb1 -o json: memory path" "$out" \
                "'$CG/memory/$sb' in [c['path'] for c in j['sandbox']['cgroups']]"
        check_json "get sb1 -o json: resources as given" "$out" \
                "j['sandbox']['resources']['memory_limit_in_bytes'] == 512 * 1024 * 1024"
        check_json "get sb1 -o json: applied values" "$out" \
                "{'file': 'cpu/$sb/vcpu/cpu.cfs_quota_us', 'value': '50000'} in j['sandbox']['applied']"
}
check "get unknown: exit 1" 1 sctl get sb-nope &&
        check_grep "get unknown: NOT_FOUND" "$err" "^Error: NOT_FOUND"

check "list: exit 0" 0 sctl list && {
        check_grep "list: header" "$out" "^ID  *STATE  *PARENT  *VMM  *VCPUS  *CREATED$"
        check_grep "list: sb1" "$out" "^sb1  *created  *$parent  *-  *0  *[0-9]\{4\}-"
}
check "list -o json: exit 0" 0 sctl -o json list &&
        check_json "list -o json: sb1" "$out" "[s['id'] for s in j['sandboxes']] == ['sb1']"

# --- invalid id: nothing created ------------------------------------------
existed_before=no
[ ! -e "$CG/cpu/x" ] || existed_before=yes
if check "create '../x': exit 1" 1 sctl create ../x --parent "$parent"; then
        check_grep "create '../x': INVALID_ARGUMENT" "$err" "^Error: INVALID_ARGUMENT"
fi
[ "$existed_before" = yes ] || check_gone "create '../x': $CG/cpu/x not made" "$CG/cpu/x"
check_gone "create '../x': nothing under the parent" "$CG/cpu/$parent/x"
if [ -z "$(find "$CG/cpu/$parent" -mindepth 1 -maxdepth 1 -type d ! -name sb1)" ]; then
        pass "create '../x': the parent holds sb1 only"
else
        fail "create '../x': the parent holds more than sb1"
        find "$CG/cpu/$parent" -mindepth 1 -maxdepth 1 -type d | sed 's/^/    | /'
fi

# --- attach-vmm --------------------------------------------------------------
# A stand-in VMM that we start: the daemon should kill it on delete. With
# python3 it has two threads named like Cloud Hypervisor's vCPUs ("vcpu0",
# "vcpu1"); without, it is a sleep and the vCPU checks that need threads are
# skipped.
vcpu_tids=
if have python3; then
        python3 -c '
import ctypes, threading, time
libc = ctypes.CDLL(None)
def vcpu(n):
        libc.prctl(15, b"vcpu%d" % n, 0, 0, 0)  # PR_SET_NAME
        time.sleep(1000)
for n in range(2):
        threading.Thread(target=vcpu, args=(n,), daemon=True).start()
time.sleep(1000)
' &
        vmm_pid=$!
        i=0
        while [ "$i" -lt 100 ]; do
                vcpu_tids=$(grep -l '^vcpu[0-9]*$' /proc/$vmm_pid/task/*/comm 2>/dev/null |
                        sed 's|^/proc/[0-9]*/task/\([0-9]*\)/comm$|\1|' | sort -n | tr '\n' ' ')
                vcpu_tids=${vcpu_tids% }
                [ "$(echo "$vcpu_tids" | wc -w)" -eq 2 ] && break
                vcpu_tids=
                i=$((i + 1))
                sleep 0.1
        done
        [ -n "$vcpu_tids" ] || fail "python3 stand-in VMM: no threads named vcpu0 and vcpu1"
else
        sleep 1000 &
        vmm_pid=$!
fi
sleep 1000 &
other_pid=$!

if check "attach-vmm sb1: exit 0" 0 sctl attach-vmm sb1 "$vmm_pid"; then
        check_grep "attach-vmm: says attached" "$out" "^Attached VMM $vmm_pid to sandbox sb1\.$"
        check_grep "attach-vmm: state running" "$out" "^ *State: running$"
fi
check_grep "attach-vmm: cpu cgroup is pod_overhead" "/proc/$vmm_pid/cgroup" "^[0-9]*:cpu:/$sb/pod_overhead$"
check_grep "attach-vmm: memory cgroup is the sandbox" "/proc/$vmm_pid/cgroup" "^[0-9]*:memory:/$sb$"
if [ -d "$CG/unified/$sb" ]; then
        check_grep "attach-vmm: unified cgroup is the sandbox" "/proc/$vmm_pid/cgroup" "^0::/$sb$"
fi
check "attach-vmm same pid again: exit 0" 0 sctl attach-vmm sb1 "$vmm_pid"
if check "attach-vmm another pid: exit 1" 1 sctl attach-vmm sb1 "$other_pid"; then
        check_grep "attach-vmm another pid: FAILED_PRECONDITION" "$err" "^Error: FAILED_PRECONDITION"
fi
check "attach-vmm unknown sandbox: exit 1" 1 sctl attach-vmm sb-nope "$other_pid"
check "get sb1 -o json after attach: exit 0" 0 sctl get sb1 -o json && {
        check_grep "get after attach: running" "$out" '"state": "SANDBOX_STATE_RUNNING"'
        check_json "get after attach: vmm_pid" "$out" "j['sandbox']['vmm_pid'] == $vmm_pid"
}
check "list after attach: exit 0" 0 sctl list &&
        check_grep "list after attach: VMM pid" "$out" "^sb1  *running  *$parent  *$vmm_pid  *0 "

# --- attach-vcpus ------------------------------------------------------------
if check "attach-vcpus, a tid of another process: exit 1" 1 sctl attach-vcpus sb1 "$other_pid"; then
        check_grep "attach-vcpus, foreign tid: INVALID_ARGUMENT" "$err" "^Error: INVALID_ARGUMENT"
fi
if cmp -s "/proc/$other_pid/cgroup" /proc/$$/cgroup; then
        pass "attach-vcpus, foreign tid: not moved"
else
        fail "attach-vcpus, foreign tid: moved"
        sed 's/^/    | /' "/proc/$other_pid/cgroup"
fi
if check "attach-vcpus --discover --expect 3: exit 1" 1 sctl attach-vcpus sb1 --discover --expect 3; then
        check_grep "attach-vcpus --expect 3: FAILED_PRECONDITION" "$err" "^Error: FAILED_PRECONDITION"
fi
if [ -n "$vcpu_tids" ]; then
        tid0=${vcpu_tids%% *}
        tid1=${vcpu_tids##* }
        if check "attach-vcpus an explicit tid: exit 0" 0 sctl attach-vcpus sb1 "$tid0"; then
                check_grep "attach-vcpus $tid0: attached" "$out" "^ *Attached: $tid0$"
                check_grep "attach-vcpus $tid0: nothing gone" "$out" "^ *Gone: -$"
                check_grep "attach-vcpus $tid0: vCPU threads" "$out" "^ *vCPU threads: $tid0$"
        fi
        check_grep "attach-vcpus $tid0: in vcpu" "/proc/$vmm_pid/task/$tid0/cgroup" "^[0-9]*:cpu:/$sb/vcpu$"
        check_grep "attach-vcpus $tid0: the other thread is not" "/proc/$vmm_pid/task/$tid1/cgroup" \
                "^[0-9]*:cpu:/$sb/pod_overhead$"
        if check "attach-vcpus --discover --pattern nomatch --expect 1: exit 1" 1 \
                sctl attach-vcpus sb1 --discover --pattern 'nomatch%u' --expect 1; then
                check_grep "attach-vcpus --pattern nomatch: FAILED_PRECONDITION" "$err" \
                        "^Error: FAILED_PRECONDITION"
        fi
        if check "attach-vcpus --discover --expect 2 -o json: exit 0" 0 \
                sctl -o json attach-vcpus sb1 --discover --expect 2 --pattern 'vcpu%u'; then
                check_json "attach-vcpus --discover: vcpu_tids" "$out" \
                        "sorted(j['sandbox']['vcpu_tids']) == [$tid0, $tid1]"
                check_json "attach-vcpus --discover: attached $tid1" "$out" "$tid1 in j['attached']"
        fi
        check_grep "attach-vcpus --discover: $tid1 in vcpu" "/proc/$vmm_pid/task/$tid1/cgroup" \
                "^[0-9]*:cpu:/$sb/vcpu$"
        check_grep "attach-vcpus --discover: main thread stays" "/proc/$vmm_pid/task/$vmm_pid/cgroup" \
                "^[0-9]*:cpu:/$sb/pod_overhead$"
        check "list after attach-vcpus: exit 0" 0 sctl list &&
                check_grep "list after attach-vcpus: 2 vCPUs" "$out" "^sb1  *running  *$parent  *$vmm_pid  *2 "
else
        echo "SKIP: attach-vcpus with threads (no python3 stand-in)"
fi

# --- update ------------------------------------------------------------------
# Lower the memory and leave out the pod's CPU quota: update replaces the
# whole spec, so the quota is lifted.
# shellcheck disable=SC2086
if check "update sb1: exit 0" 0 sctl update sb1 \
        --memory 256M --memory-swap 1G --cpu-shares 512 --cpuset-cpus 0 --pids 100 \
        --overhead-cpu-quota 20000 --overhead-memory 64M --overhead-memory-swap 64M --overhead-cpu-shares 128 \
        --overhead-cpuset-cpus 0 --overhead-pids 20 $hugepage_opts; then
        check_grep "update sb1: says updated" "$out" "^Updated sandbox sb1\.$"
fi
check_file "update: memory.limit_in_bytes lowered" "$CG/memory/$sb/memory.limit_in_bytes" \
        $(((256 + 64) * 1024 * 1024))
check_file "update: vcpu quota lifted" "$CG/cpu/$sb/vcpu/cpu.cfs_quota_us" -1
check_file "update: pod_overhead quota kept" "$CG/cpu/$sb/pod_overhead/cpu.cfs_quota_us" 20000
check "update unknown sandbox: exit 1" 1 sctl update sb-nope --memory 1G &&
        check_grep "update unknown: NOT_FOUND" "$err" "^Error: NOT_FOUND"
# --- --spec ------------------------------------------------------------------
# The file's id loses to the positional ID, a flag to the file's value.
cat >"$tmpdir/sb2.json" <<EOF
{
  "id": "not-this-one",
  "cgroup_parent": "/$parent",
  "resources": {"cpu_quota": 30000, "memory_limit_in_bytes": 268435456, "pids_limit": 50},
  "overhead": {"memory_limit_in_bytes": 33554432, "pids_limit": 10}
}
EOF
if check "create sb2 --spec: exit 0" 0 sctl create sb2 --spec "$tmpdir/sb2.json" --memory 128M; then
        check_grep "create sb2 --spec: the positional id" "$out" "^Created sandbox sb2\.$"
fi
check_file "create sb2 --spec: quota from the file" "$CG/cpu/$parent/sb2/vcpu/cpu.cfs_quota_us" 30000
check_file "create sb2 --spec: memory from the flag" "$CG/memory/$parent/sb2/memory.limit_in_bytes" \
        $(((128 + 32) * 1024 * 1024))
[ ! -d "$CG/pids" ] || check_file "create sb2 --spec: pids from the file" "$CG/pids/$parent/sb2/pids.max" 60
check_gone "create sb2 --spec: not under the file's id" "$CG/cpu/$parent/not-this-one"
check "get sb2 -o json: exit 0" 0 sctl get sb2 -o json &&
        check_json "get sb2: leading '/' of the parent dropped" "$out" "j['sandbox']['cgroup_parent'] == '$parent'"
if check "update sb2 --spec - (stdin): exit 0" 0 sh -c \
        'echo "{\"resources\": {\"cpu_quota\": 40000}}" | "$@"' sh \
        "$SANDBOXCGCTL" --socket "$socket" update sb2 --spec -; then
        check_file "update sb2 --spec -: quota from stdin" "$CG/cpu/$parent/sb2/vcpu/cpu.cfs_quota_us" 40000
        check_file "update sb2 --spec -: memory limit lifted" "$CG/memory/$parent/sb2/memory.limit_in_bytes" \
                "$(cat "$CG/memory/$parent/memory.limit_in_bytes")"
fi
# get -o json, reshaped into an update request, is how to change one value.
if have python3 && check "get sb2 -o json for a round trip: exit 0" 0 sctl get sb2 -o json; then
        python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["sandbox"]
s["resources"]["memory_limit_in_bytes"] = 64 << 20
s.setdefault("overhead", {})["memory_limit_in_bytes"] = 16 << 20
json.dump({k: s[k] for k in ("resources", "overhead") if k in s}, open(sys.argv[2], "w"))
' "$out" "$tmpdir/sb2-update.json"
        check "update sb2 --spec from get: exit 0" 0 sctl update sb2 --spec "$tmpdir/sb2-update.json" &&
                check_file "update sb2 --spec from get: memory" "$CG/memory/$parent/sb2/memory.limit_in_bytes" \
                        $(((64 + 16) * 1024 * 1024))
        check_file "update sb2 --spec from get: quota kept" "$CG/cpu/$parent/sb2/vcpu/cpu.cfs_quota_us" 40000
fi

# --- a VMM that exits -------------------------------------------------------
# Our own stand-in, killed by us: the daemon notices, the cgroups stay.
sleep 1000 &
exiting_pid=$!
if check "attach-vmm sb2: exit 0" 0 sctl attach-vmm sb2 "$exiting_pid"; then
        kill -KILL "$exiting_pid"
        wait "$exiting_pid" 2>/dev/null
        i=0
        while [ "$i" -lt 50 ]; do
                sctl get sb2 >"$out" 2>"$err"
                grep -q "^ *State: vmm-exited$" "$out" && break
                i=$((i + 1))
                sleep 0.1
        done
        check_grep "VMM exited: state vmm-exited" "$out" "^ *State: vmm-exited$"
        check_grep "VMM exited: exit time shown" "$out" "^ *VMM exited: [0-9]\{4\}-"
        if [ -d "$CG/cpu/$parent/sb2/vcpu" ]; then
                pass "VMM exited: the cgroups stay"
        else
                fail "VMM exited: $CG/cpu/$parent/sb2/vcpu is gone"
        fi
else
        kill -KILL "$exiting_pid"
        wait "$exiting_pid" 2>/dev/null
fi
exiting_pid=

check "list two sandboxes: exit 0" 0 sctl -o json list &&
        check_json "list: sorted by id" "$out" "[s['id'] for s in j['sandboxes']] == ['sb1', 'sb2']"

# --- delete ------------------------------------------------------------------
if check "delete sb1: exit 0" 0 sctl delete sb1; then
        check_grep "delete sb1: says deleted" "$out" "^sb1: deleted$"
fi
for h in $(hierarchies); do
        check_gone "delete sb1: gone from $h" "$h/$sb"
done
if wait_dead "$vmm_pid"; then
        pass "delete sb1: the VMM stand-in was killed"
        wait "$vmm_pid" 2>/dev/null
        vmm_pid=
else
        fail "delete sb1: the VMM stand-in $vmm_pid is still alive"
fi
if kill -0 "$other_pid" 2>/dev/null; then
        pass "delete sb1: the other process lives"
else
        fail "delete sb1: the other process $other_pid died"
fi
if check "delete sb1 again: exit 0" 0 sctl delete sb1; then
        check_grep "delete sb1 again: nothing to do" "$out" "^sb1: not found (nothing to do)$"
fi
check "get sb1 after delete: exit 1" 1 sctl get sb1

if check "delete sb2 and an unknown id -o json: exit 0" 0 sctl delete -o json sb2 sb-nope; then
        check_json "delete -o json: sb2 existed" "$out" "j['sb2'] == {'existed': True}"
        check_json "delete -o json: sb-nope did not" "$out" "j['sb-nope'].get('existed', False) is False"
fi
check_gone "delete sb2: gone" "$CG/cpu/$parent/sb2"
if check "delete a bad id and a good one: exit 1" 1 sctl delete ../x sb2; then
        check_grep "delete bad id: INVALID_ARGUMENT" "$err" "^Error: INVALID_ARGUMENT"
        check_grep "delete bad id: the next id still done" "$out" "^sb2: not found (nothing to do)$"
fi

check "list after delete: exit 0" 0 sctl list &&
        check_grep "list after delete: empty" "$out" "^No sandboxes\.$"

if stop_daemon; then
        pass "sandboxcgd exits cleanly on SIGTERM"
else
        fail "sandboxcgd exits cleanly on SIGTERM"
fi

finish
