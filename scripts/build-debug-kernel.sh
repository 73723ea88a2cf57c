#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the 7.3 debug guest kernel (KASAN, lockdep, UBSAN, kmemleak,
# KUnit) from Debian's linux-source-7.3 and selftests/vm/debug.config.
#
# The result is cached outside the work tree, keyed by the source tarball
# (name and size), the config fragment and the compiler:
#
#   ~/.cache/vmpolice/debug-<key>/src     unpacked kernel source
#   ~/.cache/vmpolice/debug-<key>/build   O= tree: bzImage, Module.symvers
#   ~/.cache/vmpolice/kernels/debug  ->   debug-<key>/build
#
# A rerun with the same key does nothing.  The O= tree is what external
# modules build against: make -C <dir>/build M=$PWD modules.
#
# Usage: build-debug-kernel.sh [--print-dir]
#   --print-dir  print the build dir (KDIR) on stdout, build if needed;
#                progress goes to stderr.
set -euo pipefail

ME=${0##*/}
TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VMPOLICE_CACHE:-$HOME/.cache/vmpolice}
TARBALL=${VMPOLICE_KSRC:-$CACHE/src/linux-source-7.3.tar.xz}
FRAGMENT=$TOP/selftests/vm/debug.config
JOBS=${JOBS:-$(nproc)}

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

print_dir=
case "${1:-}" in
--print-dir) print_dir=1 ;;
"") ;;
*) die "usage: $ME [--print-dir]" ;;
esac

[ -f "$TARBALL" ] || die "$TARBALL missing (run scripts/setup-host.sh)"
[ -f "$FRAGMENT" ] || die "$FRAGMENT missing"

key=$( {
	printf '%s %s\n' "$(basename "$TARBALL")" "$(stat -c %s "$TARBALL")"
	cat "$FRAGMENT"
	gcc --version | head -n1
} | sha256sum | cut -c1-16)
dir=$CACHE/debug-$key

finish() {
	ln -sfn "../debug-$key/build" "$CACHE/kernels/debug"
	[ -n "$print_dir" ] && echo "$dir/build"
	exit 0
}

mkdir -p "$CACHE/kernels"
if [ -f "$dir/.done" ]; then
	say "cached: $dir ($(cat "$dir/build/include/config/kernel.release"))"
	finish
fi

# One builder at a time; a second caller waits and then finds .done.
exec 9>"$dir.lock"
if ! flock -n 9; then
	say "another build of $dir is running, waiting"
	flock 9
fi
if [ -f "$dir/.done" ]; then
	say "cached: $dir"
	finish
fi

start=$(date +%s)
rm -rf "$dir"
mkdir -p "$dir/src" "$dir/build"
say "unpacking $(basename "$TARBALL") into $dir/src"
tar -xJf "$TARBALL" -C "$dir/src" --strip-components=1

kmake() {
	make -s -C "$dir/src" O="$dir/build" ARCH=x86_64 "$@"
}

say "configuring: tinyconfig + $(basename "$FRAGMENT")"
kmake tinyconfig >/dev/null
"$dir/src/scripts/kconfig/merge_config.sh" -m -O "$dir/build" \
	"$dir/build/.config" "$FRAGMENT" >/dev/null
kmake olddefconfig >/dev/null
cp "$FRAGMENT" "$dir/build/debug.config"

# Every requested option must have survived olddefconfig.
bad=0
while read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF "$line" "$dir/build/.config" || {
			say "config: wanted $line, got: $(grep -E "^(# )?${line%%=*}[= ]" \
				"$dir/build/.config" || echo 'not present')"
			bad=1
		}
		;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		if grep -q "^$opt=" "$dir/build/.config"; then
			say "config: wanted $opt unset, got: $(grep "^$opt=" \
				"$dir/build/.config")"
			bad=1
		fi
		;;
	esac
done < "$FRAGMENT"
[ "$bad" = 0 ] || die "config fragment not honoured (see above)"

say "building bzImage and modules with -j$JOBS (about 6 minutes on 2 cores)"
log=$dir/build.log
if ! kmake -j"$JOBS" bzImage modules > "$log" 2>&1; then
	tail -n 40 "$log" >&2
	die "kernel build failed, full log in $log"
fi
[ -f "$dir/build/Module.symvers" ] || die "no Module.symvers after make modules"
cp "$dir/build/arch/x86/boot/bzImage" "$dir/build/vmlinuz"
touch "$dir/.done"
say "built $(cat "$dir/build/include/config/kernel.release") in $(( $(date +%s) - start ))s"

# Drop stale trees from older keys (kept: the current one).
for old in "$CACHE"/debug-*; do
	[ -d "$old" ] && [ "$old" != "$dir" ] || continue
	say "removing stale $old"
	rm -rf "$old" "$old.lock"
done
finish
