#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Build (or reuse) the throw-away Linux guest used by devtools/tests.d/qemu-guest.sh:
# a Debian kernel taken with `apt-get download` (never installed on the host) and a
# tiny busybox initramfs holding the virtio-net modules, ethtool, our /init, the
# extra cases (case-*.sh) and vhu-ping (vhu-ping.c, built static with cc).
#
# Everything lands in a cache directory outside the source tree:
#   $VHU_QEMU_CACHE (default /var/cache/vhu-qemu)/
#       linux-image-*.deb                the downloaded kernel package
#       <kernel-version>/vmlinuz         the kernel
#       <kernel-version>/modules/        the virtio modules we need (+ order file)
#       <kernel-version>/initrd-<hash>.img   the initramfs, keyed by its inputs
#
# On success prints two lines, KERNEL=<path> and INITRD=<path>, and exits 0.
# On failure prints one line, SKIP: <reason>, and exits 2 (the caller counts its
# cases as skipped). Exits 1 only on a bug in this script.
#
# Variables:
#   VHU_QEMU_CACHE   cache directory (default /var/cache/vhu-qemu)
#   VHU_QEMU_KERNEL  kernel package to use (default: what linux-image-cloud-amd64
#                    depends on; falls back to the newest .deb already in the cache)

set -u
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${VHU_QEMU_CACHE:-/var/cache/vhu-qemu}

skip() {
	echo "SKIP: $*"
	exit 2
}

for tool in dpkg-deb cpio gzip sha256sum cc; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed (devtools/packages.d/qemu.txt)"
done
busybox=$(command -v busybox 2>/dev/null)
[ -n "$busybox" ] || skip "busybox not installed (package busybox-static)"
# The guest has no shared libraries of its own: busybox must be the static build.
if ldd "$busybox" >/dev/null 2>&1; then
	skip "$busybox is dynamically linked: install busybox-static"
fi

mkdir -p "$cache" || skip "cannot create cache directory $cache"
# One builder at a time per cache (two test runs may start together).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$cache/.lock"
	flock -w 600 9 || skip "$cache is locked by another build for 10 minutes"
fi

# Which kernel package: the one the cloud meta-package points at today, so the
# archive still has it; else whatever the cache already holds (offline runs).
cloud_kernel() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1
}
pkg=${VHU_QEMU_KERNEL:-}
if [ -z "$pkg" ]; then
	pkg=$(cloud_kernel)
	# Empty package lists (a fresh machine): refresh them once, as root, unless
	# the cache already holds a kernel.
	if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ] && ! ls "$cache"/linux-image-*.deb >/dev/null 2>&1; then
		timeout 300 apt-get update -q >"$cache/update.log" 2>&1
		pkg=$(cloud_kernel)
	fi
fi
deb=
if [ -n "$pkg" ]; then
	deb=$(ls -1 "$cache/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1)
	if [ -z "$deb" ]; then
		# apt-get download writes into the current directory. As root, apt
		# warns that its sandbox user cannot write there: harmless.
		(cd "$cache" && timeout 300 apt-get download -q "$pkg") >"$cache/download.log" 2>&1
		deb=$(ls -1 "$cache/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1)
	fi
fi
if [ -z "$deb" ]; then
	deb=$(ls -1 "$cache"/linux-image-*.deb 2>/dev/null | sort -V | tail -n1)
fi
[ -n "$deb" ] || skip "no kernel package: 'apt-get download ${pkg:-linux-image-<ver>-cloud-amd64}' failed (see $cache/download.log; run apt-get update?)"

kver=$(dpkg-deb -f "$deb" Package | sed 's/^linux-image-//')
[ -n "$kver" ] || skip "cannot read the package name of $deb"
kdir=$cache/$kver

# Extract the kernel and the modules once per kernel version.
if [ ! -s "$kdir/vmlinuz" ] || [ ! -s "$kdir/modules/order" ]; then
	tmp=$(mktemp -d "$cache/extract.XXXXXX") || skip "mktemp failed in $cache"
	trap 'rm -rf "$tmp"' EXIT
	dpkg-deb -x "$deb" "$tmp/root" || skip "dpkg-deb -x $deb failed"
	vmlinuz=$(ls -1 "$tmp"/root/boot/vmlinuz-* 2>/dev/null | head -n1)
	[ -n "$vmlinuz" ] || skip "$deb has no /boot/vmlinuz-*"
	moddir=$(ls -d "$tmp"/root/lib/modules/* 2>/dev/null | head -n1)
	[ -n "$moddir" ] || skip "$deb has no /lib/modules"
	config=$(ls -1 "$tmp"/root/boot/config-* 2>/dev/null | head -n1)
	rm -rf "$kdir"
	mkdir -p "$kdir/modules"

	# Resolve each wanted module: built into the kernel (CONFIG_...=y, nothing
	# to load), a .ko (load it after its own dependencies, read from the
	# module's .modinfo section), or absent (then virtio-net cannot work).
	declare -A seen=()
	order=()
	add_module() {
		local name=$1 file dep deps
		[ -n "${seen[$name]:-}" ] && return 0
		seen[$name]=1
		file=$(find "$moddir" -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" |
			head -n1)
		if [ -z "$file" ]; then
			echo "$name: built in (or not needed by this kernel)" >>"$kdir/modules/README"
			return 0
		fi
		case "$file" in
		*.ko) ;;
		*) skip "$file is compressed: busybox insmod wants plain .ko files" ;;
		esac
		deps=$(tr '\0' '\n' <"$file" | grep -a '^depends=' | head -n1 | sed 's/^depends=//')
		for dep in ${deps//,/ }; do
			add_module "$dep"
		done
		cp "$file" "$kdir/modules/$name.ko"
		order+=("$name")
	}
	for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
		failover net_failover virtio_net; do
		add_module "$m"
	done
	if [ -n "$config" ]; then
		grep -E '^CONFIG_(VIRTIO|VIRTIO_PCI|VIRTIO_NET|NET_FAILOVER|FAILOVER)=' "$config" \
			>"$kdir/modules/config" || true
		grep -q '^CONFIG_VIRTIO_NET=[ym]' "$config" || skip "kernel $kver has no virtio_net"
	fi
	printf '%s\n' "${order[@]}" >"$kdir/modules/order"
	cp "$vmlinuz" "$kdir/vmlinuz"
	rm -rf "$tmp"
	trap - EXIT
fi

# The initramfs depends on the init script, busybox, ethtool and the modules:
# key it by their hash so an edit to guest-init.sh rebuilds it. Extra guest
# cases, devtools/qemu/case-NAME.sh, go in as /lib/vhu-cases/NAME.sh (the
# /init sources the one vhu.case= names).
ethtool=$(command -v ethtool 2>/dev/null || true)
[ -x /usr/sbin/ethtool ] && ethtool=/usr/sbin/ethtool
key=$(cat "$here/guest-init.sh" "$here"/case-*.sh "$here/vhu-ping.c" "$busybox" ${ethtool:+"$ethtool"} "$kdir"/modules/*.ko \
	"$kdir/modules/order" | sha256sum | cut -c1-16)
initrd=$kdir/initrd-$key.img
if [ ! -s "$initrd" ]; then
	tmp=$(mktemp -d "$cache/initrd.XXXXXX") || skip "mktemp failed in $cache"
	trap 'rm -rf "$tmp"' EXIT
	r=$tmp/root
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,lib/vhu-modules}
	cp "$busybox" "$r/bin/busybox"
	ln -s busybox "$r/bin/sh"
	cp "$here/guest-init.sh" "$r/init"
	chmod 755 "$r/init"
	cp "$kdir"/modules/*.ko "$kdir/modules/order" "$r/lib/vhu-modules/"
	# The guest's echo stream checker, static like busybox.
	cc -std=c11 -O2 -static -o "$r/bin/vhu-ping" "$here/vhu-ping.c" 2>"$tmp/cc.log" ||
		skip "cc -static of vhu-ping.c failed (static libc: libc6-dev): $(head -n1 "$tmp/cc.log")"
	mkdir -p "$r/lib/vhu-cases"
	for c in "$here"/case-*.sh; do
		[ -f "$c" ] || continue
		cp "$c" "$r/lib/vhu-cases/${c##*/case-}"
	done
	# ethtool (optional): copied with the shared libraries it needs. It tells
	# the offloads and channels the guest driver enabled, and lets the guest
	# switch them; without it the test reads /sys only.
	if [ -n "$ethtool" ] && [ -x "$ethtool" ]; then
		cp "$ethtool" "$r/usr/sbin/ethtool"
		ldd "$ethtool" | awk '/=> \//{print $3} /^\t\/[^ ]* \(/{print $1}' |
			while read -r lib; do
				mkdir -p "$r$(dirname "$lib")"
				cp -L "$lib" "$r$lib"
			done
		# The dynamic loader's canonical path must exist too.
		if [ -e /lib64/ld-linux-x86-64.so.2 ] && [ ! -e "$r/lib64/ld-linux-x86-64.so.2" ]; then
			mkdir -p "$r/lib64"
			cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
		fi
	fi
	(cd "$r" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$tmp/initrd.img" ||
		skip "cpio/gzip of the initramfs failed"
	mv "$tmp/initrd.img" "$initrd"
	rm -rf "$tmp"
	trap - EXIT
fi
# Keep the cache small, but never pull an image from under a test that is
# booting it (two checkouts of different guest scripts may run at once): an
# image goes once no run has used it for a day.
touch "$initrd"
find "$kdir" -maxdepth 1 -name 'initrd-*.img' ! -name "${initrd##*/}" -mtime +0 -delete 2>/dev/null

echo "KERNEL=$kdir/vmlinuz"
echo "INITRD=$initrd"
echo "KVER=$kver"
exit 0
