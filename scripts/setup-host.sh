#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything vmpolice needs to build and test on a Debian 12 host.
# Idempotent: every step checks before it acts, and says what it does.
#
#   - bookworm-backports (6.12 cloud kernel headers/image) and bookworm
#     deb-src (iproute2 6.1 source) are added to apt when missing;
#   - trixie-backports is used through a PRIVATE apt list under the cache
#     directory, only to download linux-source-7.3, never to install;
#   - guest kernels are unpacked into the cache, not installed on the host.
set -euo pipefail

CACHE=${VMPOLICE_CACHE:-$HOME/.cache/vmpolice}
export DEBIAN_FRONTEND=noninteractive

say() { printf 'setup: %s\n' "$*"; }

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "setup: must run as root (apt-get)" >&2
		exit 1
	fi
}

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return 0
	say "apt-get update"
	apt-get update -qq
	apt_updated=1
}

add_sources() {
	local f=/etc/apt/sources.list.d/vmpolice-bookworm.sources

	if [ -f "$f" ]; then
		return 0
	fi
	say "adding bookworm-backports and bookworm deb-src to $f"
	cat > "$f" <<'EOT'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
	apt_updated=
}

# Kernel and module builds, the tc side, the guest initramfs (busybox,
# real userland copied from the host, zstd-compressed cpio), QEMU,
# checkpatch (perl), and the Debian packages with their chroot check
# (debhelper, dh-dkms, lintian, debootstrap; scripts/build-deb.sh,
# scripts/deb-check.sh).
HOST_PKGS="build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils
zstd kmod rsync busybox-static iperf3 ethtool jq iproute2
strace procps iputils-ping libmnl-dev libbpf-dev libcap-dev pkg-config dpkg-dev
gnuplot-nox python3 perl file debhelper dh-dkms lintian debootstrap"

install_host_pkgs() {
	local missing=() p

	for p in $HOST_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	apt_update
	say "installing: ${missing[*]}"
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# QEMU from bookworm-backports: bookworm's QEMU 7.2 TCG crashes the
# Debian 6.12 kernel at random (double faults, wild instruction fetches,
# with any CPU model and with single-threaded TCG); 10.0 runs it.
QEMU_MIN=1:10
install_qemu() {
	local have

	have=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
	if [ -n "$have" ] && dpkg --compare-versions "$have" ge "$QEMU_MIN"; then
		return 0
	fi
	apt_update
	say "installing qemu-system-x86 from bookworm-backports (have: ${have:-none})"
	apt-get install -y -qq --no-install-recommends -t bookworm-backports \
		qemu-system-x86
}

# Resolve the versioned package behind a meta package in a given suite.
resolve_meta() {
	local meta=$1 suite=$2

	apt-cache depends ${suite:+-t "$suite"} "$meta" 2>/dev/null |
		awk '/Depends:/ { print $2; exit }'
}

# Guest kernel: headers installed on the host (for make -C), image and
# modules unpacked into $CACHE/kernels/<release>.
stock_kernel() {
	local name=$1 suite=$2 img hdr rel dir

	img=$(resolve_meta linux-image-cloud-amd64 "$suite")
	hdr=$(resolve_meta linux-headers-cloud-amd64 "$suite")
	if [ -z "$img" ] || [ -z "$hdr" ]; then
		apt_update
		img=$(resolve_meta linux-image-cloud-amd64 "$suite")
		hdr=$(resolve_meta linux-headers-cloud-amd64 "$suite")
	fi
	[ -n "$img" ] || { echo "setup: no $name image" >&2; exit 1; }
	# linux-image-6.1.0-41-cloud-amd64 (or -unsigned) -> release
	rel=${img#linux-image-}
	rel=${rel%-unsigned}
	dir=$CACHE/kernels/$rel

	if ! dpkg-query -W -f='${Status}' "$hdr" 2>/dev/null |
	     grep -q "install ok installed"; then
		apt_update
		say "installing $hdr ($name headers)"
		apt-get install -y -qq --no-install-recommends \
			${suite:+-t "$suite"} "$hdr"
	fi
	if [ ! -f "$dir/vmlinuz" ]; then
		local tmp
		tmp=$(mktemp -d)
		say "unpacking $img into $dir"
		(cd "$tmp" && apt-get download -qq ${suite:+-t "$suite"} "$img")
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp"
		dpkg-deb -x "$tmp"/*.deb "$dir.tmp"
		cp "$dir.tmp/boot/vmlinuz-$rel" "$dir.tmp/vmlinuz"
		depmod -b "$dir.tmp" "$rel"
		rm -rf "$tmp" "$dir"
		mv "$dir.tmp" "$dir"
	fi
	ln -sfn "$rel" "$CACHE/kernels/$name"
}

# A private apt configuration that sees only trixie-backports; used for
# 'apt-get download' of linux-source-7.3 and nothing else.
private_apt() {
	local d=$CACHE/apt-trixie

	mkdir -p "$d/lists/partial" "$d/archives/partial"
	if [ ! -f "$d/sources.list" ]; then
		cat > "$d/sources.list" <<'EOT'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
EOT
	fi
	apt-get -o Dir::Etc::SourceList="$d/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$d/lists" \
		-o Dir::Cache::Archives="$d/archives" \
		-o APT::Get::List-Cleanup=0 \
		-o Debug::NoLocking=1 "$@"
}

linux_source_73() {
	local dst=$CACHE/src/linux-source-7.3.tar.xz tmp

	[ -f "$dst" ] && return 0
	mkdir -p "$CACHE/src"
	say "fetching linux-source-7.3 through a private trixie-backports list"
	private_apt update -qq
	tmp=$(mktemp -d)
	(cd "$tmp" && private_apt download -qq linux-source-7.3)
	dpkg-deb -x "$tmp"/linux-source-7.3_*.deb "$tmp/x"
	mv "$tmp"/x/usr/src/linux-source-7.3.tar.xz "$dst.tmp"
	mv "$dst.tmp" "$dst"
	rm -rf "$tmp"
}

iproute2_source() {
	local dir=$CACHE/src/iproute2 tmp

	[ -f "$dir/tc/tc.c" ] && return 0
	apt_update
	mkdir -p "$CACHE/src"
	say "fetching iproute2 6.1 source (apt-get source)"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get source -qq iproute2/bookworm >/dev/null)
	rm -rf "$dir"
	mv "$tmp"/iproute2-*/ "$dir"
	rm -rf "$tmp"
}

need_root
mkdir -p "$CACHE/kernels"
add_sources
install_host_pkgs
install_qemu
stock_kernel 6.1 ""
stock_kernel 6.12 bookworm-backports
linux_source_73
iproute2_source
say "done"
