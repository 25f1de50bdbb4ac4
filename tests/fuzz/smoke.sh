#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The fuzz smoke run (`make fuzz-smoke`, and a test of `make check`):
#
#  1. builds tests/fuzz/fuzz-dispatch with clang -fsanitize=fuzzer,address,
#     undefined in a build of its own, $top_builddir/tests/fuzz/build
#     (configured once with CC=clang and the daemon's code instrumented for
#     coverage), and the seed generator tests/fuzz/fuzz-seeds;
#  2. writes the seeds (valid sessions of every method on each host layout)
#     into $top_builddir/tests/fuzz/seeds;
#  3. runs each input kept in tests/fuzz/corpus (earlier finds: the
#     regression tests) on its own;
#  4. runs the fuzzer for $FUZZ_TIME seconds (default 45) on the seeds and the
#     kept inputs, new inputs into $top_builddir/tests/fuzz/work.
#
# Any crash, leak, sanitizer report or failed check of the harness fails, and
# the input is left in $top_builddir/tests/fuzz/crash-* (reproduce with
# tests/fuzz/build/tests/fuzz/fuzz-dispatch FILE). clang or libFuzzer missing
# is a failure naming the Debian packages, not a skip. The fake cgroup trees
# go to /dev/shm when it is writable (tmpfs: faster), else $TMPDIR.
set -eu

: "${top_srcdir:?top_srcdir must be set (make check sets it)}"
: "${top_builddir:?top_builddir must be set (make check sets it)}"
fuzz_time=${FUZZ_TIME:-45}
fuzzdir=$top_builddir/tests/fuzz
build=$fuzzdir/build

die() {
        echo "fuzz-smoke: $*" >&2
        exit 1
}

show_tail() {
        [ -f "$1" ] && tail -n 40 "$1" >&2
        return 0
}

mkdir -p "$fuzzdir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sandboxcg-fuzz-smoke.XXXXXX")
work_tmp=
cleanup() {
        rm -rf "$tmp"
        [ -z "$work_tmp" ] || rm -rf "$work_tmp"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. The toolchain: clang, and libFuzzer with the sanitizer runtimes.
command -v clang >/dev/null 2>&1 ||
        die "clang is not installed: apt-get install clang libclang-rt-dev (contrib/quickstart.sh test does)"
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return d && n > 1000000; }\n' >"$tmp/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" 2>"$tmp/probe.err"; then
        cat "$tmp/probe.err" >&2
        die "clang cannot link a libFuzzer target: apt-get install libclang-rt-dev (on Debian 12 it brings libclang-rt-14-dev, which holds libclang_rt.fuzzer)"
fi

# A configured source tree cannot hold a second build below it.
if [ -f "$top_srcdir/config.status" ]; then
        die "the source tree is configured in place; fuzzing needs an out-of-tree build (mkdir _build && cd _build && ../configure), as contrib/quickstart.sh makes"
fi

# The parent make's job server is not ours.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES || true
jobs=$(nproc 2>/dev/null || echo 2)

start=$(date +%s)
mkdir -p "$build"
if [ ! -f "$build/config.status" ]; then
        echo "fuzz-smoke: configuring $build (CC=clang)"
        if ! (cd "$build" && "$top_srcdir/configure" --quiet CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link" \
                --enable-sanitizers) >"$fuzzdir/configure.log" 2>&1; then
                show_tail "$fuzzdir/configure.log"
                rm -f "$build/config.status"
                die "configure failed (log: $fuzzdir/configure.log)"
        fi
fi
echo "fuzz-smoke: building tests/fuzz/fuzz-dispatch in $build"
if ! { make -C "$build" -j"$jobs" proto/.gen-stamp &&
       make -C "$build" -j"$jobs" tests/fuzz/fuzz-dispatch tests/fuzz/fuzz-seeds; } >"$fuzzdir/build.log" 2>&1; then
        show_tail "$fuzzdir/build.log"
        die "the fuzzer does not build (log: $fuzzdir/build.log)"
fi
built=$(date +%s)
echo "fuzz-smoke: built in $((built - start)) s"

# 2. Seeds.
rm -rf "$fuzzdir/seeds" "$fuzzdir/work"
mkdir -p "$fuzzdir/seeds" "$fuzzdir/work"
"$build/tests/fuzz/fuzz-seeds" "$fuzzdir/seeds" || die "fuzz-seeds failed"
echo "fuzz-smoke: $(find "$fuzzdir/seeds" -type f | wc -l) seeds, $(find "$top_srcdir/tests/fuzz/corpus" -type f ! -name ".*" | wc -l) kept inputs"

if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        work_tmp=$(mktemp -d /dev/shm/sandboxcg-fuzz.XXXXXX)
else
        work_tmp=$(mktemp -d "${TMPDIR:-/tmp}/sandboxcg-fuzz.XXXXXX")
fi

# 3. The regression inputs: each input of tests/fuzz/corpus (an earlier find)
# on its own, whatever the fuzzing below does with it.
kept=$(find "$top_srcdir/tests/fuzz/corpus" -maxdepth 1 -type f ! -name '.*' | sort)
if [ -n "$kept" ]; then
        # shellcheck disable=SC2086 # one argument per file; the names have no blanks
        if ! TMPDIR=$work_tmp ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                "$build/tests/fuzz/fuzz-dispatch" -error_exitcode=1 -close_fd_mask=2 $kept \
                >"$fuzzdir/regression.log" 2>&1; then
                show_tail "$fuzzdir/regression.log"
                die "a kept input of tests/fuzz/corpus fails again (log: $fuzzdir/regression.log)"
        fi
        echo "fuzz-smoke: $(echo "$kept" | wc -l) kept inputs of tests/fuzz/corpus pass"
fi

# 4. The run. libFuzzer's own exit status for a crash is 77, which make check
# would take for a skip: 1 instead.
echo "fuzz-smoke: fuzzing for $fuzz_time s"
rc=0
TMPDIR=$work_tmp \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$build/tests/fuzz/fuzz-dispatch" \
        -max_total_time="$fuzz_time" -max_len=16384 -timeout=30 -rss_limit_mb=2048 \
        -error_exitcode=1 -timeout_exitcode=1 -close_fd_mask=2 -print_final_stats=1 \
        -artifact_prefix="$fuzzdir/" \
        "$fuzzdir/work" "$fuzzdir/seeds" "$top_srcdir/tests/fuzz/corpus" || rc=$?
if [ "$rc" -ne 0 ]; then
        for f in "$fuzzdir"/crash-* "$fuzzdir"/leak-* "$fuzzdir"/timeout-* "$fuzzdir"/oom-*; do
                [ -f "$f" ] && echo "fuzz-smoke: input left in $f (od -c it; reproduce: $build/tests/fuzz/fuzz-dispatch $f)" >&2
        done
        die "the fuzzer failed (exit status $rc)"
fi
echo "fuzz-smoke: no crash in $fuzz_time s; $(find "$fuzzdir/work" -type f | wc -l) new inputs in $fuzzdir/work"
