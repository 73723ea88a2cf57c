#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb: build the Debian packages from debian/ with dpkg-buildpackage
# (dh, dh-dkms), in a copy of the tree under build/deb/, and run lintian.
#
#   build/deb/vmpolice-dkms_VERSION_all.deb   module source for DKMS
#   build/deb/vmpolice-tc_VERSION_ARCH.deb    plugins for Debian's tc
#
# VERSION is dkms.conf's PACKAGE_VERSION; debian/changelog and the
# module's MODULE_VERSION must say the same (checked here, and again by
# debian/rules).  The plugins are built against IPROUTE2_SRC (default
# ~/.cache/vmpolice/src/iproute2, from scripts/setup-host.sh), which must
# be the installed iproute2's version.  Lintian errors fail the build;
# its warnings are printed.
set -euo pipefail

ME=${0##*/}
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/build/deb
export IPROUTE2_SRC=${IPROUTE2_SRC:-${VMPOLICE_CACHE:-$HOME/.cache/vmpolice}/src/iproute2}

say() { printf '%s: %s\n' "$ME" "$*"; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

cd "$TOP"
version=$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' dkms.conf)
[ -n "$version" ] || die "no PACKAGE_VERSION in dkms.conf"
chlog=$(dpkg-parsechangelog -SVersion)
[ "$chlog" = "$version" ] ||
	die "debian/changelog is at $chlog, dkms.conf at $version (add a changelog entry: dch -v $version)"
modver=$(sed -n 's/^MODULE_VERSION("\(.*\)");/\1/p' kmod/*.c)
[ "$modver" = "$version" ] ||
	die "kmod's MODULE_VERSION is '$modver', dkms.conf's PACKAGE_VERSION $version"

# The tree as git sees it (tracked and new files, with their working-tree
# contents; nothing gitignored, so no build products).
src=$OUT/vmpolice-$version
rm -rf "$OUT"
mkdir -p "$src"
git ls-files -z -co --exclude-standard |
	rsync -a --from0 --files-from=- ./ "$src/"

say "dpkg-buildpackage in ${src#"$TOP"/}"
(cd "$src" && dpkg-buildpackage -b -us -uc) > "$OUT/build.log" 2>&1 ||
	{ tail -n 40 "$OUT/build.log" >&2; die "dpkg-buildpackage failed (log: ${OUT#"$TOP"/}/build.log)"; }
rm -rf "$src"

changes=$(ls "$OUT"/vmpolice_"$version"_*.changes)
say "lintian $(lintian --version | cut -d' ' -f2)"
lrc=0
lintian --fail-on error --info "$changes" > "$OUT/lintian.log" 2>&1 || lrc=$?
sed 's/^/  /' "$OUT/lintian.log"
[ "$lrc" = 0 ] || die "lintian reports errors (exit $lrc)"
for deb in "$OUT"/*.deb; do
	say "built ${deb#"$TOP"/}"
	dpkg-deb -f "$deb" Package Version Architecture Depends | sed 's/^/    /'
done
