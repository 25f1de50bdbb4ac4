#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/vm/run.sh LAYOUT     (LAYOUT: v2, v1 or hybrid)
#
# Boots Debian's own kernel (the package linux-image-amd64 depends on,
# fetched with apt-get download and cached) in qemu-system-x86_64 without
# KVM, with an initramfs built here around tests/vm/init: busybox-static, the
# built daemon, CLI and integration tests with the shared libraries they
# need. Inside, the cgroup layout LAYOUT is mounted and the integration suite
# runs; this script exits 0 only when every test there passed (or skipped
# itself), 1 otherwise, 77 when not run as root.
#
# make check sets top_srcdir and top_builddir. Environment:
#   SANDBOXCG_VM_CACHE     kernel cache (default $top_builddir/tests/vm/cache)
#   SANDBOXCG_VM_TIMEOUT   seconds for the whole VM run (default 480)
#   SANDBOXCG_VM_MEMORY    guest memory in MiB (default 2048)
#   SANDBOXCG_VM_KERNEL    use this bzImage instead of Debian's package
set -u

me=vm-${1:-?}
say() { echo "$me: $*"; }
die() {
        echo "$me: FAIL: $*" >&2
        exit 1
}

layout=${1:-}
case "$layout" in
v2 | v1 | hybrid) ;;
*)
        echo "usage: $0 v2|v1|hybrid" >&2
        exit 99
        ;;
esac

if [ "$(id -u)" -ne 0 ]; then
        say "SKIP: needs root (apt-get download into the cache, ldconfig -r)"
        exit 77
fi

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
top_srcdir=$(cd "${top_srcdir:-$srcdir}" && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
[ -x "$top_builddir/daemon/sandboxcgd" ] || die "no daemon/sandboxcgd in $top_builddir (set top_builddir)"

for tool in qemu-system-x86_64 cpio apt-get apt-cache dpkg-deb ldd ldconfig flock timeout; do
        command -v "$tool" >/dev/null || die "$tool is not installed (see contrib/quickstart.sh test)"
done
busybox=$(command -v busybox) || die "busybox is not installed (package busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
        die "$busybox is not a static binary (install busybox-static)"
fi

started=$(date +%s)
cache=${SANDBOXCG_VM_CACHE:-$top_builddir/tests/vm/cache}
work=$top_builddir/tests/vm/$layout.d
mkdir -p "$cache" || die "cannot create the cache $cache"

# --- The kernel --------------------------------------------------------------
# The image package linux-image-amd64 depends on, resolved from the local
# package lists; cached by package name and version. A failed download is a
# failure: the point of this test is that the VM runs.
fetch_kernel() {
        local pkg ver dir tmp deb
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
                sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
        if [ -z "$pkg" ]; then
                say "linux-image-amd64 unknown to apt-cache; running apt-get update" >&2
                apt-get update -qq >&2 || die "apt-get update failed"
                pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
                        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
        fi
        [ -n "$pkg" ] || die "cannot resolve the kernel package that linux-image-amd64 depends on"
        ver=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
        [ -n "$ver" ] && [ "$ver" != "(none)" ] || die "no candidate version of $pkg"
        dir=$cache/${pkg}_${ver//:/%3a}
        if [ ! -s "$dir/vmlinuz" ]; then
                say "downloading $pkg $ver" >&2
                tmp=$(mktemp -d "$cache/download.XXXXXX") || die "mktemp in $cache"
                # apt drops privileges to _apt for the download.
                chmod 777 "$tmp"
                if ! (cd "$tmp" && apt-get download -q "$pkg=$ver") >&2; then
                        rm -rf "$tmp"
                        die "apt-get download $pkg=$ver failed: the Debian archive must be reachable (or set SANDBOXCG_VM_CACHE to a cache holding $(basename "$dir"))"
                fi
                deb=$(ls "$tmp"/*.deb)
                dpkg-deb -x "$deb" "$tmp/x" || { rm -rf "$tmp"; die "dpkg-deb -x $deb failed"; }
                mkdir -p "$dir.new" &&
                        cp "$tmp"/x/boot/vmlinuz-* "$dir.new/vmlinuz" &&
                        cp "$tmp"/x/boot/config-* "$dir.new/config" &&
                        rm -rf "$dir" && mv "$dir.new" "$dir" ||
                        { rm -rf "$tmp" "$dir.new"; die "cannot unpack the kernel into $dir"; }
                rm -rf "$tmp"
        fi
        echo "$dir"
}

if [ -n "${SANDBOXCG_VM_KERNEL:-}" ]; then
        kernel=$SANDBOXCG_VM_KERNEL
        say "kernel: $kernel (SANDBOXCG_VM_KERNEL)"
else
        # Three layouts start at once under make -j: one downloads.
        exec 9>"$cache/.lock"
        flock 9 || die "cannot lock $cache/.lock"
        kdir=$(fetch_kernel) || exit 1
        exec 9>&-
        kernel=$kdir/vmlinuz
        say "kernel: $kernel"
        # Everything the tests need is built in: no modules.
        for opt in CGROUPS MEMCG CGROUP_SCHED CFS_BANDWIDTH CGROUP_PIDS CGROUP_HUGETLB CPUSETS \
                CGROUP_FREEZER HUGETLBFS DEVTMPFS TMPFS BLK_DEV_INITRD SERIAL_8250_CONSOLE UNIX; do
                grep -q "^CONFIG_$opt=y$" "$kdir/config" || die "the kernel lacks CONFIG_$opt=y"
        done
fi
[ -s "$kernel" ] || die "no kernel image at $kernel"

# --- The initramfs -----------------------------------------------------------
root=$work/root
rm -rf "$work"
mkdir -p "$root" || die "cannot create $root"
# Debian's merged /usr, so that the paths ldd prints are valid inside.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64,local/lib} "$root"/{etc/vmtest,proc,sys,dev,tmp,run,root}
for d in bin sbin lib lib64; do
        ln -s "usr/$d" "$root/$d"
done

# Libraries built in this tree (libtool's .libs directories) come first.
buildlibs=$(find "$top_builddir" -path "$top_builddir/tests/vm" -prune -o -type d -name .libs -print | tr '\n' ':')

# The executable behind a libtool wrapper script, or the file itself.
real_elf() {
        local f=$1 d b
        if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then
                echo "$f"
                return 0
        fi
        d=$(dirname "$f")
        b=$(basename "$f")
        for c in "$d/.libs/$b" "$d/.libs/lt-$b"; do
                if [ -f "$c" ] && [ "$(head -c 4 "$c" | od -An -c | tr -d ' ')" = '177ELF' ]; then
                        echo "$c"
                        return 0
                fi
        done
        return 1
}

# copy_elf SRC [DEST]: an ELF file (at DEST inside, default its own path) and
# every shared library it needs, as ldd finds them. Libraries of the build
# tree go to /usr/local/lib, the others to their own paths.
copy_elf() {
        local src dest=${2:-$1} lib
        src=$(real_elf "$1") || die "$1 is neither an ELF file nor a libtool wrapper of one"
        mkdir -p "$root$(dirname "$dest")"
        cp -L "$src" "$root$dest" || die "cannot copy $src"
        ldd_out=$(LD_LIBRARY_PATH=$buildlibs ldd "$src" 2>&1) || {
                # A static binary has no dependencies.
                case "$ldd_out" in *"not a dynamic executable"*) return 0 ;; esac
                die "ldd $src: $ldd_out"
        }
        if echo "$ldd_out" | grep -q "not found"; then
                die "ldd $src: $(echo "$ldd_out" | grep "not found" | tr '\n' ' ')"
        fi
        for lib in $(echo "$ldd_out" | sed -n 's/.*=> \(\/[^ ]*\) (0x.*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p'); do
                case "$lib" in
                "$top_builddir"/*) d=/usr/local/lib/$(basename "$lib") ;;
                *) d=$lib ;;
                esac
                [ -e "$root$d" ] && continue
                mkdir -p "$root$(dirname "$d")"
                cp -L "$lib" "$root$d" || die "cannot copy $lib"
        done
}

# busybox for the tools the scripts use, but Debian's /bin/sh (dash) as the
# shell: Debian's static busybox runs its own applets before anything in
# PATH, and GNU stat is needed (busybox's names no cgroup file system type;
# the scripts test `stat -f -c %T` for cgroup2fs/cgroupfs).
cp "$busybox" "$root/usr/bin/busybox" || die "cannot copy $busybox"
copy_elf "$(readlink -f /bin/sh)" /usr/bin/dash
ln -s dash "$root/usr/bin/sh"
copy_elf /usr/bin/stat /usr/bin/stat
for applet in $("$busybox" --list-full); do
        [ -e "$root/usr/${applet#usr/}" ] || [ -L "$root/usr/${applet#usr/}" ] ||
                ln -s /usr/bin/busybox "$root/usr/${applet#usr/}"
done

# python3 (the shell tests use it for JSON and for a threaded stand-in VMM
# when it is there, as on the host): Debian's interpreter, the pure-Python
# standard library without what no test uses, and the extension modules.
if [ -x /usr/bin/python3 ]; then
        py=$(readlink -f /usr/bin/python3)
        pyver=$(basename "$py")
        copy_elf "$py" "/usr/bin/$pyver"
        ln -s "$pyver" "$root/usr/bin/python3"
        pylib=/usr/lib/$pyver
        mkdir -p "$root$pylib"
        (cd "$pylib" && find . \( -name test -o -name tests -o -name idlelib -o -name tkinter -o \
                -name turtledemo -o -name ensurepip -o -name lib2to3 -o -name pydoc_data -o \
                -name 'config-*' -o -name distutils -o -name site-packages -o -name dist-packages -o \
                -name venv -o -name lib-dynload \) -prune -o -print | cpio -pdm --quiet "$root$pylib") ||
                die "cannot copy $pylib"
        for so in "$pylib"/lib-dynload/*.so; do
                copy_elf "$so"
        done
fi

# The build: the daemon and CLI where lib.sh and harness.c look for them
# ($top_builddir/daemon/sandboxcgd, $top_builddir/client/sandboxcgctl), the
# integration tests, and lib.sh and the scripts under $top_srcdir.
vm_builddir=/build
vm_srcdir=/src
copy_elf "$top_builddir/daemon/sandboxcgd" "$vm_builddir/daemon/sandboxcgd"
copy_elf "$top_builddir/client/sandboxcgctl" "$vm_builddir/client/sandboxcgctl"

tests_file=$root/etc/vmtest/tests
: >"$tests_file"
for f in "$top_builddir"/tests/integration/test-*; do
        b=$(basename "$f")
        case "$b" in *.*) continue ;; esac
        [ -f "$f" ] && [ -x "$f" ] || continue
        copy_elf "$f" "$vm_builddir/tests/integration/$b"
        echo "$b $vm_builddir/tests/integration/$b" >>"$tests_file"
done
mkdir -p "$root$vm_srcdir/tests/integration"
cp "$top_srcdir"/tests/integration/*.sh "$root$vm_srcdir/tests/integration/" || die "cannot copy the test scripts"
for f in "$top_srcdir"/tests/integration/test-*.sh; do
        [ -f "$f" ] || continue
        b=$(basename "$f")
        echo "$b /bin/sh $vm_srcdir/tests/integration/$b" >>"$tests_file"
done
grep -q . "$tests_file" || die "no integration tests in $top_builddir/tests/integration"

# QEMU as a real VMM for test-qemu: the binary, its TCG accelerator module
# and its data files.
if [ -e "$top_builddir/tests/integration/test-qemu" ]; then
        copy_elf "$(command -v qemu-system-x86_64)" /usr/bin/qemu-system-x86_64
        for m in /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-*.so; do
                [ -e "$m" ] && copy_elf "$m"
        done
        if [ -d /usr/share/qemu ]; then
                mkdir -p "$root/usr/share"
                cp -rL /usr/share/qemu "$root/usr/share/" 2>/dev/null
        fi
fi

# The loader finds every library through a cache made for this root.
printf '/usr/local/lib\n/usr/lib/x86_64-linux-gnu\n/usr/lib\n' >"$root/etc/ld.so.conf"
ldconfig -r "$root" || die "ldconfig -r $root failed"

# The environment of make check (Makefile.am TEST_ENV), pointed at the
# copies inside. Check's timeouts are stretched: TCG is slow.
{
        echo "top_srcdir=$vm_srcdir"
        echo "top_builddir=$vm_builddir"
        echo "CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}"
        echo "CK_TIMEOUT_MULTIPLIER=${SANDBOXCG_VM_CK_TIMEOUT_MULTIPLIER:-4}"
        echo "ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
        echo "UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
        [ -z "${LSAN_OPTIONS:-}" ] || echo "LSAN_OPTIONS=$LSAN_OPTIONS"
        echo "VMTEST_TEST_TIMEOUT=${SANDBOXCG_VM_TEST_TIMEOUT:-300}"
        # test-crash kills the daemon with 100 sandboxes here, not 1,000.
        echo "SANDBOXCG_CRASH_MANY=${SANDBOXCG_CRASH_MANY:-100}"
} >"$root/etc/vmtest/env"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
install -m 755 "$top_srcdir/tests/vm/init" "$root/init" || die "cannot install /init"

initrd=$work/initramfs.cpio.gz
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$initrd" ||
        die "cannot build $initrd"
say "initramfs: $initrd ($(du -h "$initrd" | cut -f1)), tests: $(cut -d' ' -f1 "$tests_file" | tr '\n' ' ')"
cp "$tests_file" "$work/tests"
rm -rf "$root"

# --- Boot ----------------------------------------------------------------------
append="console=ttyS0 panic=-1 oops=panic quiet rdinit=/init scg.layout=$layout"
[ "$layout" != v2 ] || append="$append cgroup_no_v1=all"
console=$work/console.log
vm_timeout=${SANDBOXCG_VM_TIMEOUT:-480}
say "booting ($layout), timeout ${vm_timeout}s; console follows"
boot_started=$(date +%s)
timeout -k 10 "$vm_timeout" qemu-system-x86_64 \
        -accel tcg,thread=multi -cpu max -smp 2 -m "${SANDBOXCG_VM_MEMORY:-2048}" \
        -machine pc -nodefaults -no-user-config -display none -serial stdio -no-reboot \
        -kernel "$kernel" -initrd "$initrd" -append "$append" </dev/null 2>&1 |
        tr -d '\r' | tee "$console"
qemu_rc=${PIPESTATUS[0]}
ended=$(date +%s)

echo
say "QEMU exited with $qemu_rc after $((ended - boot_started)) s (whole run $((ended - started)) s)"
[ "$qemu_rc" -ne 124 ] && [ "$qemu_rc" -ne 137 ] || say "the VM did not finish within ${vm_timeout}s"
grep '^VMTEST-ERROR ' "$console" && die "the VM could not set up the $layout layout"

rc=0
say "results ($layout):"
grep -E '^VMTEST [^ ]+ (PASS|FAIL|SKIP) ' "$console" | sed "s/^VMTEST /$me:   /"
for t in $(cut -d' ' -f1 "$work/tests") leftovers; do
        if ! grep -qE "^VMTEST $t (PASS|SKIP) " "$console"; then
                grep -qE "^VMTEST $t FAIL " "$console" || say "  $t: no result"
                rc=1
        fi
done
if grep -qE '^VMTEST [^ ]+ FAIL ' "$console"; then
        rc=1
fi
if ! grep -q '^VMTEST-DONE ' "$console"; then
        say "no VMTEST-DONE line: the VM did not finish the suite"
        rc=1
fi
[ "$qemu_rc" -eq 0 ] || rc=1
if [ "$rc" -eq 0 ]; then
        rm -f "$initrd"
        say "PASS: every test passed or skipped itself on $layout ($((ended - started)) s)"
else
        say "FAIL on $layout; each test's output is between its VMTEST-BEGIN and VMTEST lines above"
        say "to boot it again: qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2048 -nographic -no-reboot -kernel $kernel -initrd $initrd -append '$append'"
fi
exit "$rc"
