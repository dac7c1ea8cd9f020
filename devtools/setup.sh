#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# Prepares a Debian 12 machine to build, run and test vhu, then builds it.
# Idempotent: a second run changes nothing and prints nothing.
#
#   1. installs the packages listed in devtools/packages.d/*.txt
#   2. fetches DPDK's driver-SDK headers (ethdev_driver.h, ethdev_vdev.h,
#      bus_vdev_driver.h, dev_driver.h) from Debian's source package of exactly
#      the installed DPDK, unless the installed DPDK ships them
#   3. reserves 1024 x 2 MB hugepages and mounts hugetlbfs when the machine allows
#   4. meson setup + ninja in build/
#
# Environment:
#   VHU_SDK_CACHE  where the SDK headers go (default /var/cache/vhu-sdk);
#                  one folder per DPDK version: <cache>/<version>/include + VERSION
#   VHU_BUILD_DIR  build directory (default build)
#   VHU_NO_BUILD=1 stop before meson/ninja
#   VHU_NO_HUGE=1  leave hugepages alone
set -euo pipefail

cd "$(dirname "$0")/.."

sdk_cache=${VHU_SDK_CACHE:-/var/cache/vhu-sdk}
builddir=${VHU_BUILD_DIR:-build}
sdk_headers="ethdev_driver.h ethdev_vdev.h bus_vdev_driver.h dev_driver.h"
# where each header lives in DPDK's source tree
sdk_paths="lib/ethdev/ethdev_driver.h lib/ethdev/ethdev_vdev.h
drivers/bus/vdev/bus_vdev_driver.h lib/eal/include/dev_driver.h"

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

say() { echo "setup: $*"; }
warn() { echo "setup: warning: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vhu-setup.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Run a command with its output in a log; show the log's tail when it fails.
quiet() {
	local log="$work/cmd.log"
	if ! "$@" >"$log" 2>&1 </dev/null; then
		echo "setup: command failed: $*" >&2
		tail -n 40 "$log" >&2
		return 1
	fi
}

as_root=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		as_root=(sudo)
	fi
fi
is_root() { [ "$(id -u)" -eq 0 ] || [ ${#as_root[@]} -gt 0 ]; }

# ---------------------------------------------------------------- apt
apt_updated=0
apt_update() {
	[ "$apt_updated" -eq 1 ] && return 0
	quiet "${as_root[@]}" apt-get update -q || die "apt-get update failed"
	apt_updated=1
}

pkg_installed() {
	[ "$(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

pkg_has_candidate() {
	local c
	c=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')
	[ -n "$c" ] && [ "$c" != "(none)" ]
}

# Without systemd as PID 1 (containers), a package's maintainer scripts start
# its services through invoke-rc.d and fail the installation when that fails
# (openvswitch-switch's init script, with no kernel module and no systemd).
# Nothing here needs a service running: for the installation, a policy-rc.d
# that denies every start (exit 101, as Debian's docker images ship) unless the
# machine has its own.
policy_rc=/usr/sbin/policy-rc.d
policy_rc_ours=0
no_service_starts() {
	[ -d /run/systemd/system ] && return 0
	[ -e "$policy_rc" ] && return 0
	printf '#!/bin/sh\n# devtools/setup.sh: no service starts while it installs packages\nexit 101\n' \
		>"$work/policy-rc.d"
	"${as_root[@]}" install -m 0755 "$work/policy-rc.d" "$policy_rc" && policy_rc_ours=1
	trap 'allow_service_starts; rm -rf "$work"' EXIT
}
allow_service_starts() {
	[ "$policy_rc_ours" -eq 1 ] || return 0
	"${as_root[@]}" rm -f "$policy_rc"
	policy_rc_ours=0
}

install_packages() {
	local pkgs missing=() p
	pkgs=$(cat devtools/packages.d/*.txt | sed 's/#.*//' | tr -s ' \t' '\n\n' | sed '/^$/d' |
	       sort -u)
	for p in $pkgs; do
		pkg_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	is_root || die "packages missing (${missing[*]}) and not root: run as root"
	for p in "${missing[@]}"; do
		pkg_has_candidate "$p" || { apt_update; break; }
	done
	no_service_starts
	if ! quiet "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
		# stale package lists (a moved mirror, a new point release): refresh once
		[ "$apt_updated" -eq 0 ] || die "cannot install: ${missing[*]}"
		apt_update
		quiet "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" ||
			die "cannot install: ${missing[*]}"
	fi
	allow_service_starts
	say "installed ${missing[*]}"
}

# ---------------------------------------------------------------- deb-src
# Print deb822 deb-src stanzas mirroring every enabled Debian 'deb' source.
debian_src_stanzas() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		[ "$(basename "$f")" = vhu-src.sources ] && continue
		awk '
		function flush() {
			if (n && types ~ /(^|[ \t])deb([ \t]|$)/ && uris ~ /debian/ && enabled !~ /no/) {
				print "Types: deb-src"
				for (i = 1; i <= n; i++)
					if (lines[i] !~ /^(Types|Enabled):/)
						print lines[i]
				print ""
			}
			n = 0; types = ""; uris = ""; enabled = ""
		}
		/^#/ { next }
		/^[ \t]*$/ { flush(); next }
		{
			lines[++n] = $0
			if ($1 == "Types:") types = $0
			if ($1 == "URIs:") uris = $0
			if ($1 == "Enabled:") enabled = $2
		}
		END { flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '
		$1 == "deb" {
			opts = ""; i = 2
			if ($2 ~ /^\[/) {
				while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } i++ }
			}
			uri = $i; suite = $(i + 1); comps = ""
			for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
			if (uri !~ /debian/) next
			print "Types: deb-src"
			print "URIs: " uri
			print "Suites: " suite
			print "Components: " comps
			if (opts ~ /signed-by=/) {
				sub(/.*signed-by=/, "", opts); sub(/[ \]].*/, "", opts)
				print "Signed-By: " opts
			}
			print ""
		}' "$f"
	done
}

src_version_known() { # <source package> <version>
	local out
	out=$(apt-cache showsrc --only-source "$1" 2>/dev/null) || return 1
	grep -qx "Version: $2" <<<"$out"
}

ensure_deb_src() { # <source package> <version>
	local want="$work/vhu-src.sources" dst=/etc/apt/sources.list.d/vhu-src.sources
	src_version_known "$1" "$2" && return 0
	is_root || die "need root to add a deb-src entry for Debian's $1 source package"
	{
		echo "# Written by vhu devtools/setup.sh: Debian source packages, for DPDK's driver-SDK headers."
		echo
		debian_src_stanzas
	} >"$want"
	grep -q '^URIs:' "$want" || die "no Debian 'deb' source found in /etc/apt to derive a deb-src entry from"
	if ! cmp -s "$want" "$dst"; then
		"${as_root[@]}" install -m 0644 "$want" "$dst"
		say "added deb-src entries in $dst"
	fi
	apt_updated=0
	apt_update
	src_version_known "$1" "$2" ||
		die "Debian's archive has no source package $1=$2 (the installed DPDK); upgrade dpdk/libdpdk-dev to the archive's version (apt-get install --only-upgrade dpdk dpdk-dev libdpdk-dev) and rerun"
}

# ---------------------------------------------------------------- SDK headers
fetch_sdk_headers() {
	local ver incdir dest pc pcpkg srcpkg srcver up dl src h p found series patches

	ver=$(pkg-config --modversion libdpdk) || die "pkg-config cannot find libdpdk"
	incdir=$(pkg-config --variable=includedir libdpdk)

	found=1
	for h in $sdk_headers; do
		[ -f "$incdir/$h" ] || found=0
	done
	[ "$found" -eq 1 ] && return 0 # DPDK built with enable_driver_sdk: nothing to do

	dest="$sdk_cache/$ver"
	if [ -f "$dest/VERSION" ] && [ "$(cat "$dest/VERSION")" = "$ver" ]; then
		found=1
		for h in $sdk_headers; do
			[ -f "$dest/include/$h" ] || found=0
		done
		[ "$found" -eq 1 ] && return 0
	fi

	# Which Debian source package, at which version, built the installed DPDK?
	pc="$(pkg-config --variable=pcfiledir libdpdk)/libdpdk.pc"
	pcpkg=$(dpkg-query -S "$(readlink -f "$pc")" 2>/dev/null | head -n 1 | cut -d: -f1) ||
		true
	[ -n "$pcpkg" ] || pcpkg=$(dpkg-query -S "$pc" 2>/dev/null | head -n 1 | cut -d: -f1) || true
	[ -n "$pcpkg" ] || die "$pc does not belong to a Debian package; install libdpdk-dev from Debian, or a DPDK built with -Denable_driver_sdk=true"
	srcpkg=$(dpkg-query -W -f '${source:Package}' "$pcpkg")
	srcver=$(dpkg-query -W -f '${source:Version}' "$pcpkg")
	up=${srcver#*:}
	up=${up%-*}
	case "$up" in
	"$ver" | "$ver"+* | "$ver"~*) ;;
	*) die "libdpdk.pc says DPDK $ver but package $pcpkg is version $srcver: reinstall libdpdk-dev" ;;
	esac

	ensure_deb_src "$srcpkg" "$srcver"
	is_root || die "need root to write $sdk_cache"

	dl="$work/download"
	mkdir -p "$dl"
	# apt drops privileges to _apt for downloads: let it write there.
	if id _apt >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
		chown _apt "$dl"
		chmod 755 "$work"
	fi
	(cd "$dl" && quiet "${as_root[@]}" apt-get source --download-only -q "$srcpkg=$srcver") ||
		die "cannot download Debian source package $srcpkg=$srcver"

	local orig deb
	orig=$(ls "$dl"/"${srcpkg}_${up}".orig.tar.* 2>/dev/null | head -n 1)
	deb=$(ls "$dl"/"${srcpkg}_${srcver#*:}".debian.tar.* 2>/dev/null | head -n 1)
	[ -n "$orig" ] || die "no orig tarball in the downloaded $srcpkg source package"

	# Debian patches that touch the headers are applied, so the headers match
	# the binaries exactly; the files they touch are extracted with the headers.
	src="$work/src"
	mkdir -p "$src"
	patches=""
	local want_paths="$sdk_paths"
	if [ -n "$deb" ]; then
		tar -xf "$deb" -C "$work" debian/patches 2>/dev/null || true
		series="$work/debian/patches/series"
		if [ -f "$series" ]; then
			for p in $(sed 's/#.*//' "$series"); do
				[ -f "$work/debian/patches/$p" ] || continue
				for h in $sdk_paths; do
					if grep -q "^+++ b/$h\([[:space:]]\|$\)" "$work/debian/patches/$p"; then
						patches="$patches $p"
						want_paths="$want_paths $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' \
							"$work/debian/patches/$p")"
						break
					fi
				done
			done
		fi
	fi

	local top members=()
	top=$({ tar -tf "$orig" 2>/dev/null || true; } | head -n 1 | cut -d/ -f1)
	for p in $(echo "$want_paths" | tr ' ' '\n' | sort -u); do
		members+=("$top/$p")
	done
	# members that do not exist upstream (files a patch creates) are not an error
	tar -xf "$orig" -C "$src" --strip-components=1 "${members[@]}" 2>/dev/null || true
	for h in $sdk_paths; do
		[ -f "$src/$h" ] || die "$h not found in $(basename "$orig")"
	done
	for p in $patches; do
		patch -s -p1 -F0 -d "$src" --no-backup-if-mismatch <"$work/debian/patches/$p" ||
			die "Debian patch $p does not apply to the SDK headers"
	done

	local new="$sdk_cache/.$ver.new.$$"
	"${as_root[@]}" rm -rf "$new"
	"${as_root[@]}" mkdir -p "$new/include"
	for h in $sdk_paths; do
		"${as_root[@]}" install -m 0644 "$src/$h" "$new/include/"
	done
	echo "$ver" | "${as_root[@]}" tee "$new/VERSION" >/dev/null
	printf 'Debian source package %s %s, Debian patches applied:%s\n' \
		"$srcpkg" "$srcver" "${patches:- none}" | "${as_root[@]}" tee "$new/SOURCE" >/dev/null
	"${as_root[@]}" rm -rf "$dest"
	"${as_root[@]}" mv "$new" "$dest"
	say "DPDK $ver driver-SDK headers extracted from $srcpkg $srcver into $dest/include"
}

# ---------------------------------------------------------------- hugepages
setup_hugepages() {
	local want=1024 nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages cur
	[ "${VHU_NO_HUGE:-0}" = 1 ] && return 0
	if [ ! -e "$nr" ]; then
		warn "no 2 MB hugepage support here; tests run with --no-huge"
		return 0
	fi
	cur=$(cat "$nr")
	if [ "$cur" -lt "$want" ]; then
		if is_root && echo "$want" | "${as_root[@]}" tee "$nr" >/dev/null 2>&1; then
			cur=$(cat "$nr")
		fi
		if [ "$cur" -ge "$want" ]; then
			say "reserved $want x 2 MB hugepages"
		else
			warn "could not reserve $want x 2 MB hugepages (have $cur); tests that need them are skipped, the rest run with --no-huge"
		fi
	fi
	if ! awk '$2 == "/dev/hugepages" && $3 == "hugetlbfs" { ok = 1 } END { exit !ok }' /proc/mounts; then
		if is_root && "${as_root[@]}" mkdir -p /dev/hugepages 2>/dev/null &&
			"${as_root[@]}" mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages 2>/dev/null; then
			say "mounted hugetlbfs at /dev/hugepages"
		else
			warn "could not mount hugetlbfs at /dev/hugepages; tests run with --no-huge"
		fi
	fi
}

# ---------------------------------------------------------------- build
build() {
	local opts=() log="$work/ninja.log"
	[ "${VHU_NO_BUILD:-0}" = 1 ] && return 0
	[ -n "${VHU_SDK_CACHE:-}" ] && opts+=("-Dsdk_cache=$sdk_cache")
	if [ ! -f "$builddir/build.ninja" ]; then
		if [ -d "$builddir/meson-private" ]; then
			quiet meson setup --wipe "$builddir" "${opts[@]}" || die "meson setup failed"
		else
			quiet meson setup "$builddir" "${opts[@]}" || die "meson setup failed"
		fi
		say "configured $builddir/"
	elif [ ${#opts[@]} -gt 0 ]; then
		quiet meson configure "$builddir" "${opts[@]}" || die "meson configure failed"
	fi
	if ! ninja -C "$builddir" >"$log" 2>&1 </dev/null; then
		cat "$log" >&2
		die "build failed"
	fi
	grep -q 'no work to do' "$log" || say "built $builddir/"
}

install_packages
fetch_sdk_headers
setup_hugepages
build
