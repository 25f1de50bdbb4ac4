#!/usr/bin/env bash
# Set up sandboxcg on a fresh Debian 12 machine, as root.
#
#   contrib/quickstart.sh          install build dependencies, build, and run
#                                  sandboxcgd in the foreground on its default
#                                  socket (/run/sandboxcg/sandboxcg.sock)
#   contrib/quickstart.sh test     install build and test dependencies, build
#                                  with ASan/UBSan and run every test suite;
#                                  exits non-zero on any failure
#   contrib/quickstart.sh bench    install build and benchmark dependencies
#                                  (libcgroup, the peer it is compared with),
#                                  build with -O2 and without sanitizers and
#                                  run `make bench` (tests/bench: prints the
#                                  table of README.md "Speed"; a few minutes)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-run}
build=${BUILD_DIR:-$top/_build}

build_deps=(
        build-essential autoconf automake libtool pkg-config
        libsystemd-dev libprotobuf-c-dev protobuf-c-compiler libmount-dev libinih-dev libjson-c-dev
)
# The tests also boot Debian's kernel in QEMU (tests/vm), use QEMU as a real
# VMM, and call the daemon from Go's ttrpc library (tests/interop); the fuzz
# smoke run needs clang and libFuzzer (libclang-rt-dev: libclang-rt-14-dev on
# Debian 12), make check-valgrind valgrind.
test_deps=(
        check python3 procps
        qemu-system-x86 busybox-static cpio
        golang-go golang-github-containerd-ttrpc-dev protobuf-compiler golang-goprotobuf-dev
        clang libclang-rt-dev valgrind
)

# The benchmark (tests/bench) compares the daemon with libcgroup's C API;
# only `bench` installs it.
bench_deps=(
        libcgroup-dev
)

install_deps() {
        local missing=()
        for p in "$@"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
        done
        if [ ${#missing[@]} -gt 0 ]; then
                echo "quickstart: installing ${missing[*]}"
                if [ "$(id -u)" -ne 0 ]; then
                        echo "quickstart: run as root to install packages" >&2
                        exit 1
                fi
                export DEBIAN_FRONTEND=noninteractive
                apt-get update -qq
                apt-get install -y -qq --no-install-recommends "${missing[@]}"
        fi
}

configure() {
        (cd "$top" && ./autogen.sh)
        mkdir -p "$build"
        (cd "$build" && "$top/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var "$@")
}

case "$mode" in
run)
        install_deps "${build_deps[@]}"
        configure --enable-werror
        make -C "$build" -j"$(nproc)"
        echo "quickstart: starting sandboxcgd on /run/sandboxcg/sandboxcg.sock (Ctrl-C stops it)"
        echo "quickstart: try: $build/client/sandboxcgctl host-info"
        exec "$build/daemon/sandboxcgd" --log-level debug
        ;;
test)
        install_deps "${build_deps[@]}" "${test_deps[@]}"
        configure --enable-sanitizers --enable-werror --enable-failpoints
        make -C "$build" -j"$(nproc)"
        status=0
        make -C "$build" -j"$(nproc)" check || status=$?
        # Unit tests, and the daemon and CLI of the integration tests, under
        # valgrind, in a build without sanitizers (tests/valgrind/build).
        if [ $status -eq 0 ]; then
                make -C "$build" -j"$(nproc)" check-valgrind || status=$?
        fi
        if [ $status -ne 0 ]; then
                echo "quickstart: make check failed; logs of the failing suites follow" >&2
                for log in $(grep -l -E '^:test-result: (FAIL|ERROR)' $(find "$build/tests" -name '*.trs') 2>/dev/null | sed 's/\.trs$/.log/'); do
                        echo "===== $log" >&2
                        tail -n 200 "$log" >&2
                done
        fi
        exit $status
        ;;
bench)
        install_deps "${build_deps[@]}" "${bench_deps[@]}"
        configure CFLAGS="-g -O2"
        make -C "$build" -j"$(nproc)"
        exec make -C "$build" bench
        ;;
*)
        echo "usage: $0 [run|test|bench]" >&2
        exit 2
        ;;
esac
