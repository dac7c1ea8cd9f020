#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# Source and binary checks, run one by one by devtools/test.sh.
#
#   devtools/checks.sh [-B BUILDDIR] CHECK...     (default BUILDDIR: build)
#
#   forbidden  lib/ and drivers/ call no printf, fprintf, puts, exit, abort,
#              assert, rte_panic, rte_exit, RTE_VERIFY (static_assert is fine)
#   symbols    librte_net_vhu.so exports only vhu_* and needs no DPDK library
#              beyond eal, mempool, mbuf, ethdev, net, kvargs, bus_vdev (and what
#              those need themselves); never librte_vhost or librte_net_vhost
#   format     clang-format (.clang-format) agrees with the C lines changed in
#              the last commit and in the working tree; --fix rewrites them
#   pmdinfo    dpdk-pmdinfo.py lists net_vhu with exactly the parameter string
#              the driver registers (RTE_PMD_REGISTER_PARAM_STRING)
#   testpmd    Debian's dpdk-testpmd loads the plugin with -d, creates a net_vhu
#              port and the port's vhost-user socket appears
#   install    after `meson install` (to a DESTDIR, laid over DPDK's plugin
#              directory in a private mount namespace) testpmd creates the
#              port with no -d at all; vhu.h and rte_pmd_vhu.h are installed
#              and compile alone
#   layers     devtools/check_layers.py: every C file under lib/ and
#              drivers/ has a layer in devtools/layers.txt (the layer order,
#              bottom up); no include runs up that order, no include circle
#              joins modules (a .c and its .h); no C file there has more
#              than 1000 lines; vhu_lib.rst's file map agrees with the table
#   all        every check above
#
# Exit status: 0 when every requested check passed.
set -uo pipefail

cd "$(dirname "$0")/.."

builddir=build
fix=0
while [ $# -gt 0 ]; do
	case "$1" in
	-B) builddir=$2; shift 2 ;;
	--fix) fix=1; shift ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || set -- all

plugin="$builddir/drivers/net/vhu/librte_net_vhu.so"
# The Python with pyelftools (Debian's python3-pyelftools), not whatever is first in PATH.
pyelf=/usr/bin/python3

fail() { echo "  $*"; return 1; }

# ------------------------------------------------------------------ forbidden
check_forbidden() {
	local files hits
	files=$(find lib drivers -name '*.[ch]' -type f | sort)
	[ -n "$files" ] || { echo "  no C files under lib/ and drivers/"; return 1; }
	# Comments and string literals are blanked first (line numbers kept), so
	# "exit" in a comment or a log message is not a call. Member calls such
	# as ops->exit() are not the libc function.
	# shellcheck disable=SC2086
	hits=$(perl -0777 -ne '
		my $src = $_;
		$src =~ s{(/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27)}{
			my $m = $1; my $n = ($m =~ tr/\n//);
			($m =~ /^["\x27]/ ? "\"\"" : " ") . ("\n" x $n)
		}gse;
		my $ln = 0;
		for my $line (split /\n/, $src, -1) {
			$ln++;
			while ($line =~ /(?<![\w.>])(printf|fprintf|puts|exit|abort|assert|rte_panic|rte_exit|RTE_VERIFY)\s*\(/g) {
				print "$ARGV:$ln: $1()\n";
			}
		}' $files)
	if [ -n "$hits" ]; then
		echo "$hits" | sed 's/^/  forbidden call: /'
		echo "  lib/ and drivers/ must log (vhu_log.h macros, the PMD log type) and return -errno"
		return 1
	fi
	echo "  $(echo "$files" | wc -l) files clean"
}

# ------------------------------------------------------------------ symbols
dpdk_libdir() { pkg-config --variable=libdir libdpdk; }

# DT_NEEDED entries of an ELF file, one per line
needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

check_symbols() {
	local rc=0 bad libdir allowed=() todo=() seen=" " l f n
	[ -f "$plugin" ] || { echo "  $plugin not built"; return 1; }

	bad=$(nm -D --defined-only "$plugin" | awk '
		# the version node (VHU_0) is an absolute symbol of the version script
		$2 == "A" && $3 ~ /^VHU_[0-9]+$/ { next }
		$3 !~ /^vhu_/ { print $3 }')
	if [ -n "$bad" ]; then
		echo "$bad" | sed 's/^/  exported symbol outside vhu_*: /'
		rc=1
	else
		echo "  exports: $(nm -D --defined-only "$plugin" | awk '$3 ~ /^vhu_/' | wc -l) vhu_* symbols, nothing else"
	fi

	# The DPDK libraries we may link and, transitively, what they need.
	libdir=$(dpdk_libdir)
	for l in eal mempool mbuf ethdev net kvargs bus_vdev; do
		f=$(ls "$libdir"/librte_"$l".so.* 2>/dev/null | head -n 1)
		[ -n "$f" ] || { echo "  $libdir/librte_$l.so.* not found"; return 1; }
		todo+=("$(basename "$f" | sed 's/\(\.so\.[0-9]*\).*/\1/')")
	done
	while [ ${#todo[@]} -gt 0 ]; do
		l=${todo[0]}
		todo=("${todo[@]:1}")
		case "$seen" in *" $l "*) continue ;; esac
		seen="$seen$l "
		allowed+=("$l")
		[ -f "$libdir/$l" ] || continue
		for n in $(needed "$libdir/$l"); do
			case "$n" in librte_*) todo+=("$n") ;; esac
		done
	done

	for n in $(needed "$plugin"); do
		case "$n" in
		librte_vhost.so* | librte_net_vhost.so*)
			echo "  depends on DPDK's vhost: $n (forbidden)"
			rc=1
			;;
		librte_*)
			case "$seen" in
			*" $n "*) ;;
			*) echo "  depends on $n, outside eal/mempool/mbuf/ethdev/net/kvargs/bus_vdev"; rc=1 ;;
			esac
			;;
		esac
	done
	echo "  DT_NEEDED: $(needed "$plugin" | tr '\n' ' ')"
	return $rc
}

# ------------------------------------------------------------------ format
# Print "file<TAB>start:end" for every changed line range of C files between
# the base (HEAD~1 when HEAD has a parent) and the working tree; for a merge
# commit, the lines the merge itself changed plus the working tree; untracked
# files count whole.
changed_ranges() {
	local base
	if git rev-parse -q --verify HEAD^2 >/dev/null 2>&1; then
		# A merge: its own lines are those that differ from every parent
		# (conflict resolutions); what each branch brought was checked
		# when it was committed there. Then the working tree against HEAD.
		git show --cc -U0 --no-color --format= HEAD -- '*.c' '*.h' |
			awk '
			/^\+\+\+ b\// { file = substr($0, 7); next }
			/^@@@/ {
				split($4, a, ",")
				start = substr(a[1], 2) + 0
				count = (2 in a) ? a[2] + 0 : 1
				if (count > 0)
					print file "\t" start ":" (start + count - 1)
			}'
		base=HEAD
	elif git rev-parse -q --verify HEAD~1 >/dev/null 2>&1; then
		base=HEAD~1
	elif git rev-parse -q --verify HEAD >/dev/null 2>&1; then
		base=$(git hash-object -t tree /dev/null)
	else
		base=""
	fi
	if [ -n "$base" ]; then
		git diff -U0 --no-color --no-ext-diff --diff-filter=ACMR "$base" -- '*.c' '*.h' |
			awk '
			/^\+\+\+ b\// { file = substr($0, 7); next }
			/^@@/ {
				split($3, a, ",")
				start = substr(a[1], 2) + 0
				count = (2 in a) ? a[2] + 0 : 1
				if (count > 0)
					print file "\t" start ":" (start + count - 1)
			}'
	fi
	git ls-files --others --exclude-standard -- '*.c' '*.h' | while read -r f; do
		printf '%s\t1:%s\n' "$f" "$(wc -l <"$f")"
	done
}

check_format() {
	local ranges files f args rc=0 nbad=0 tmp
	command -v clang-format >/dev/null || { echo "  clang-format not installed"; return 1; }
	ranges=$(changed_ranges)
	if [ -z "$ranges" ]; then
		echo "  no C lines changed"
		return 0
	fi
	files=$(echo "$ranges" | cut -f1 | sort -u)
	tmp=$(mktemp)
	for f in $files; do
		[ -f "$f" ] || continue
		args=()
		while IFS=$'\t' read -r _ r; do
			args+=("--lines=$r")
		done < <(echo "$ranges" | awk -F'\t' -v f="$f" '$1 == f')
		if [ "$fix" -eq 1 ]; then
			clang-format -i "${args[@]}" "$f"
			continue
		fi
		if ! clang-format "${args[@]}" "$f" | diff -u --label "$f" --label "$f (clang-format)" "$f" - \
			>"$tmp" 2>&1; then
			nbad=$((nbad + 1))
			rc=1
			echo "  $f: changed lines differ from clang-format:"
			head -n 40 "$tmp" | sed 's/^/    /'
		fi
	done
	rm -f "$tmp"
	if [ $rc -ne 0 ]; then
		echo "  $nbad file(s) need formatting: bash devtools/checks.sh --fix format"
	else
		echo "  $(echo "$files" | wc -l) changed C file(s) formatted"
	fi
	return $rc
}

# ------------------------------------------------------------------ pmdinfo
check_pmdinfo() {
	[ -f "$plugin" ] || { echo "  $plugin not built"; return 1; }
	command -v dpdk-pmdinfo.py >/dev/null || { echo "  dpdk-pmdinfo.py not installed"; return 1; }
	dpdk-pmdinfo.py "$plugin" >"/tmp/vhu-pmdinfo.$$" 2>&1 || {
		sed 's/^/  /' "/tmp/vhu-pmdinfo.$$"; rm -f "/tmp/vhu-pmdinfo.$$"; return 1; }
	"$pyelf" - "$plugin" "/tmp/vhu-pmdinfo.$$" <<'EOF'
import json, sys
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

plugin, out = sys.argv[1], sys.argv[2]
# What the compiler emitted for RTE_PMD_REGISTER_PARAM_STRING(net_vhu, ...)
want = None
with open(plugin, "rb") as f:
    elf = ELFFile(f)
    for sec in elf.iter_sections():
        if not isinstance(sec, SymbolTableSection):
            continue
        for sym in sec.iter_symbols():
            if sym.name != "__net_vhu_param_string_export":
                continue
            target = elf.get_section(sym["st_shndx"])
            off = sym["st_value"] - target["sh_addr"]
            want = target.data()[off:off + sym["st_size"]].split(b"\0")[0].decode()
try:
    info = json.load(open(out))
except ValueError:
    print("  dpdk-pmdinfo.py printed no JSON:\n" + open(out).read())
    sys.exit(1)
names = [d.get("name") for d in info]
print("  dpdk-pmdinfo.py: drivers %s" % names)
drv = [d for d in info if d.get("name") == "net_vhu"]
if not drv:
    print("  net_vhu is not listed")
    sys.exit(1)
params = drv[0].get("params", "")
print("  params: %s" % params)
if want is None:
    print("  the plugin has no __net_vhu_param_string_export (RTE_PMD_REGISTER_PARAM_STRING missing?)")
    sys.exit(1)
if params != want:
    print("  but the driver registers: %s" % want)
    sys.exit(1)
if "iface=" not in params:
    print("  the iface parameter is missing")
    sys.exit(1)
EOF
	local rc=$?
	rm -f "/tmp/vhu-pmdinfo.$$"
	return $rc
}

# ------------------------------------------------------------------ testpmd
eal_extra=()

# port_check LAUNCHER...: run Debian's dpdk-testpmd with one net_vhu port through
# LAUNCHER (a command prefix that arranges for the plugin to be found) and
# check that port 0 is created, its socket appears, forwarding starts and
# SIGINT ends it all with the socket removed.
# VHU_CHK_VDEV=net_vhost checks the check itself against DPDK's own back-end.
port_check() {
	local dir pid rc=0 i sock_seen=0 prefix="vhu-chk-$$-$RANDOM" log
	command -v dpdk-testpmd >/dev/null || { echo "  dpdk-testpmd not installed"; return 1; }
	dir=$(mktemp -d "${TMPDIR:-/tmp}/vhu-chk.XXXXXX")
	log="$dir/testpmd.log"
	"$@" timeout -k 5 60 dpdk-testpmd "${eal_extra[@]}" --no-huge -m 256 --no-pci \
		--file-prefix "$prefix" --vdev "${VHU_CHK_VDEV:-net_vhu}0,iface=$dir/s.sock" \
		--log-level=pmd.net.vhu:debug -- --stats-period 1 --nb-cores 1 --total-num-mbufs 2048 \
		</dev/null >"$log" 2>&1 &
	pid=$!
	for i in $(seq 1 150); do
		[ -S "$dir/s.sock" ] && { sock_seen=1; break; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	# let the port start and print one stats period
	for i in $(seq 1 30); do
		grep -q 'Port statistics' "$log" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		# timeout(1) relays SIGINT to testpmd
		kill -INT "$pid" 2>/dev/null
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid" 2>/dev/null; echo "  testpmd ignored SIGINT"; rc=1; }
		wait "$pid" 2>/dev/null
	else
		wait "$pid"
		echo "  testpmd exited early (status $?)"
		rc=1
	fi
	if ! grep -Eq 'Port 0: ([0-9A-F]{2}:){5}[0-9A-F]{2}' "$log"; then
		echo "  no port 0 was created"
		rc=1
	fi
	grep -q 'Port statistics' "$log" || { echo "  testpmd did not start forwarding"; rc=1; }
	[ "$sock_seen" -eq 1 ] || { echo "  the vhost-user socket $dir/s.sock did not appear"; rc=1; }
	[ -e "$dir/s.sock" ] && { echo "  the socket file was not removed when the port closed"; rc=1; }
	if [ $rc -ne 0 ]; then
		sed 's/^/    | /' "$log" | grep -v '^    | *$' | head -n 60
	else
		echo "  port 0 created, socket appeared, forwarding started, clean exit"
	fi
	rm -rf "$dir" "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk/$prefix" 2>/dev/null
	return $rc
}

check_testpmd() {
	[ -f "$plugin" ] || { echo "  $plugin not built"; return 1; }
	# EAL refuses a -d path below a world-writable directory (/tmp): load the
	# plugin by its bare name through LD_LIBRARY_PATH.
	eal_extra=(-d librte_net_vhu.so)
	port_check env LD_LIBRARY_PATH="$(cd "$(dirname "$plugin")" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# ------------------------------------------------------------------ install
# check_installed_headers STAGE: the public headers (vhu.h, rte_pmd_vhu.h)
# were installed side by side, and a C file including them alone, in
# either order, compiles warning-free against the installed DPDK.
check_installed_headers() {
	local stage=$1 inc h order src
	inc=$(find "$stage" -name vhu.h -type f | head -n 1)
	[ -n "$inc" ] || { echo "  meson install did not install vhu.h"; return 1; }
	inc=$(dirname "$inc")
	[ -f "$inc/rte_pmd_vhu.h" ] || { echo "  rte_pmd_vhu.h is not installed next to vhu.h ($inc)"; return 1; }
	for order in "vhu.h rte_pmd_vhu.h" "rte_pmd_vhu.h vhu.h"; do
		src=""
		for h in $order; do
			src="$src#include <$h>"$'\n'
		done
		src="${src}int f(void);"$'\n'"int f(void) { return vhu_eth_get_vid(0) + vhu_get_vring_count(0); }"
		# shellcheck disable=SC2046
		if ! echo "$src" | ${CC:-cc} -fsyntax-only -Wall -Wextra -Werror $(pkg-config --cflags libdpdk) \
			-I"$inc" -x c - 2>&1 | sed 's/^/    /'; then
			echo "  the installed headers do not compile alone ($order)"
			return 1
		fi
	done
	echo "  headers: ${inc#"$stage"}/vhu.h, rte_pmd_vhu.h (compile alone)"
}

# `meson install` puts the plugin where EAL loads plugins from by itself, so
# testpmd needs no -d. Checked without touching the system: install into a
# DESTDIR, then, in a private mount namespace, lay that directory (with
# DPDK's own plugins copied in) over DPDK's plugin directory.
check_install() {
	local stage eal pmds rc
	[ -f "$plugin" ] || { echo "  $plugin not built"; return 1; }
	[ "$(id -u)" -eq 0 ] || { echo "  needs root (mount namespace)"; return 1; }
	command -v unshare >/dev/null || { echo "  unshare (util-linux) missing"; return 1; }
	eal=$(ls "$(dpdk_libdir)"/librte_eal.so.* | head -n 1)
	# EAL's built-in plugin directory (RTE_EAL_PMD_PATH)
	pmds=$(strings "$eal" | sed -n 's/^DPDK_PLUGIN_PATH=//p' | head -n 1)
	[ -n "$pmds" ] && [ -d "$pmds" ] || { echo "  cannot find EAL's plugin directory"; return 1; }
	stage=$(mktemp -d "${TMPDIR:-/tmp}/vhu-install.XXXXXX")
	if ! DESTDIR="$stage" meson install -C "$builddir" --no-rebuild --quiet >"$stage.log" 2>&1; then
		sed 's/^/  | /' "$stage.log"
		rm -rf "$stage" "$stage.log"
		return 1
	fi
	rm -f "$stage.log"
	if [ ! -f "$stage$pmds/librte_net_vhu.so" ]; then
		echo "  meson install did not put librte_net_vhu.so in $pmds:"
		(cd "$stage" && find . -type f | sed 's/^/    /')
		rm -rf "$stage"
		return 1
	fi
	echo "  meson install: $pmds/librte_net_vhu.so"
	check_installed_headers "$stage" || { rm -rf "$stage"; return 1; }
	cp -an "$pmds/." "$stage$pmds/"
	eal_extra=()
	port_check unshare --mount --propagation private \
		sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$stage$pmds" "$pmds"
	rc=$?
	rm -rf "$stage"
	return $rc
}

# ------------------------------------------------------------------ layers
check_layers() {
	"$pyelf" devtools/check_layers.py devtools/layers.txt doc/guides/prog_guide/vhu_lib.rst
}

status=0
for c in "$@"; do
	case "$c" in
	all) set -- forbidden symbols format pmdinfo testpmd install layers ;;
	esac
done
for c in "$@"; do
	case "$c" in
	forbidden | symbols | format | pmdinfo | testpmd | install | layers)
		echo "check $c:"
		if "check_$c"; then
			echo "check $c: ok"
		else
			echo "check $c: FAILED"
			status=1
		fi
		;;
	*) echo "unknown check: $c" >&2; exit 2 ;;
	esac
done
exit $status
