#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# OVS-DPDK forwarding rate through one PMD core, with the bridge's two ports
# served by each back-end in turn, in one run:
#   vhu      two net_vhu ports, type=dpdk (plugin loaded with -d in dpdk-extra)
#   ovs      two OVS dpdkvhostuserclient ports (OVS's own, DPDK's lib/vhost)
#   vhost    two DPDK net_vhost ports, type=dpdk
# Both ports connect (client mode) to the two virtio-user ports of one peer,
# a dpdk-testpmd in io forwarding that listens on both sockets (server=1) and
# starts with tx_first: packets loop peer port 0 -> OVS port 1 -> OVS port 2
# -> peer port 1 -> peer port 0 ... (flows in_port=1 -> 2 and 2 -> 1), so
# every packet the peer receives was forwarded once by the OVS PMD. The figure
# is the peer's received packets per second; the same peer (same settings,
# same CPU) serves every back-end. One peer process, not a sender and a
# receiver: two busy peers sharing one CPU would be paced by the scheduler's
# time slice, not by OVS. Back-ends alternate within each repetition (the first one
# rotates from repetition to repetition); the summary gives each back-end's
# median Mpps and spread, the ratios of medians, and the median of the ratios
# paired within a repetition. See doc/guides/testing/benchmark.rst.
#
#   devtools/bench-ovs.sh [-r REPS] [-s SECONDS] [-l BYTES] [-b "vhu ovs vhost"]
#
# CPUs: OVS's PMD thread alone on CPU 1 (VHU_OVS_PMD_CPU); OVS's main lcore
# and the peer (main and forwarding lcores) on CPU 0 (VHU_OVS_MAIN_CPU).
# Environment: VHU_BUILD_DIR (default build), VHU_OVS_KEEP=1 keeps the logs.
set -u -o pipefail

cd "$(dirname "$0")/.." || exit 1
export LC_ALL=C
builddir=${VHU_BUILD_DIR:-build}
reps=3 seconds=5 len=64 backends="vhu ovs vhost"
while getopts r:s:l:b:h opt; do
	case $opt in
	r) reps=$OPTARG ;;
	s) seconds=$OPTARG ;;
	l) len=$OPTARG ;;
	b) backends=$OPTARG ;;
	*) sed -n '3,22p' "$0"; exit 2 ;;
	esac
done

# settings of devtools/ovs/lib.sh
# shellcheck disable=SC2034
ovs_plugin=$(cd "$builddir/drivers/net/vhu" 2>/dev/null && pwd)/librte_net_vhu.so
# shellcheck disable=SC2034
ovs_tag=bench-ovs
ovs_pmd_cpu=${VHU_OVS_PMD_CPU:-1}
ovs_main_cpu=${VHU_OVS_MAIN_CPU:-0}
# shellcheck disable=SC2034
peer_cpu=$ovs_main_cpu
# shellcheck disable=SC2034
peer_mem=128
peer_sock2=
# shellcheck source=ovs/lib.sh
. devtools/ovs/lib.sh

die() { ovs_say "error: $*" >&2; exit 1; }

if why=$(ovs_missing); then
	die "$why"
fi
[ -f "$ovs_plugin" ] || die "$builddir/drivers/net/vhu/librte_net_vhu.so not built"
# the peers' memory on hugepages, as bench.py does, when there are enough free
free_mb=$(awk '/HugePages_Free/ { f = $2 } /Hugepagesize/ { s = $2 } END { print int(f * s / 1024) }' /proc/meminfo)
# shellcheck disable=SC2034
[ "$free_mb" -ge $((ovs_socket_mem + peer_mem + 64)) ] && peer_huge=1

now() { date +%s.%N; }

# run BACKEND REP: one measurement; sets mpps= (empty when it failed).
mpps=
run() {
	local be=$1 rep=$2 i sock args t0 t1 p0 p1
	mpps=
	peer_sock2=$ovs_dir/$be$rep.2.sock
	peer_start p "$ovs_dir/$be$rep.1.sock" 1 1 - --txpkts="$len" || return 1
	for i in 1 2; do
		sock=$ovs_dir/$be$rep.$i.sock
		case $be in
		vhu) args=(type=dpdk "options:dpdk-devargs=net_vhu$i,iface=$sock,client=1") ;;
		vhost) args=(type=dpdk "options:dpdk-devargs=net_vhost$i,iface=$sock,client=1") ;;
		ovs) args=(type=dpdkvhostuserclient "options:vhost-server-path=$sock") ;;
		esac
		ovs_vsctl add-port br0 "$be$i" -- set Interface "$be$i" ofport_request="$i" \
			"${args[@]}" || return 1
	done
	peer_ready p - || return 1
	ovs_until 30 ovs_port_open "${be}1" 1 && ovs_until 30 ovs_port_open "${be}2" 2 || return 1
	ovs_until 30 links_up || return 1
	peer_cmd p "set fwd io" >/dev/null && peer_cmd p "start tx_first 4" >/dev/null || return 1
	sleep 1
	t0=$(now) p0=$(peer_rx)
	sleep "$seconds"
	t1=$(now) p1=$(peer_rx)
	peer_stop p
	ovs_vsctl del-port br0 "${be}1" -- del-port br0 "${be}2"
	[ -n "$p0" ] && [ -n "$p1" ] && [ "$p1" -gt "$p0" ] || return 1
	mpps=$(awk -v p="$((p1 - p0))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", p / (b - a) / 1e6 }')
}
# peer_rx: packets the peer received on both ports
peer_rx() {
	peer_cmd p "show port stats all" | awk '/RX-packets:/ { n += $2 } END { print n + 0 }'
}
# links_up: both peer ports report link up
# shellcheck disable=SC2317 # called through ovs_until
links_up() {
	[ "$(peer_cmd p "show port info all" | grep -c 'Link status: up')" -eq 2 ]
}

ovs_init || die "cannot create the OVS database"
ovs_start_db || die "ovsdb-server did not start"
ovs_start_switch || die "ovs-vswitchd did not start"
ovs_add_bridge br0 || die "cannot add a bridge"
for f in "in_port=1,actions=output:2" "in_port=2,actions=output:1"; do
	ovs_ofctl add-flow br0 "$f" || die "cannot add the flow $f"
done
ovs_say "$("$ovs_vswitchd" --version | head -n 1); PMD on CPU $ovs_pmd_cpu, peers on CPU $ovs_main_cpu;" \
	"$len-byte frames, $reps x ${seconds}s per back-end, peers on $([ "${peer_huge:-0}" = 1 ] && echo hugepages || echo --no-huge)"

read -r -a order <<<"$backends"
results=$ovs_dir/results
: >"$results"
for rep in $(seq 1 "$reps"); do
	line=""
	for k in $(seq 0 $((${#order[@]} - 1))); do
		be=${order[$(((k + rep - 1) % ${#order[@]}))]}
		run "$be" "$rep" >>"$ovs_dir/bench.out" 2>&1
		if [ -z "$mpps" ]; then
			ovs_say "rep $rep $be: no figure (logs: VHU_OVS_KEEP=1)"
			peer_stop_all
			ovs_vsctl --if-exists del-port br0 "${be}1" -- --if-exists del-port br0 "${be}2"
			continue
		fi
		echo "$rep $be $mpps" >>"$results"
		line="$line $be $mpps"
	done
	ovs_say "rep $rep:$line Mpps"
done

# Summary: medians, spread, ratios of medians and median paired ratios.
awk -v list="$backends" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ v[$2, ++n[$2]] = $3; r[$1, $2] = $3; rep[$1] = 1 }
END {
	nb = split(list, be, " ")
	for (b = 1; b <= nb; b++) {
		k = be[b]; m = n[k] + 0
		if (!m) { printf "%-6s no figure\n", k; continue }
		lo = hi = v[k, 1]
		for (i = 1; i <= m; i++) { x[i] = v[k, i]; if (x[i] < lo) lo = x[i]; if (x[i] > hi) hi = x[i] }
		med[k] = median(x, m)
		printf "%-6s %7.3f Mpps median of %d (%.3f - %.3f)\n", k, med[k], m, lo, hi
	}
	for (b = 1; b <= nb; b++) {
		k = be[b]
		if (k == "vhu" || !med["vhu"] || !med[k]) continue
		np = 0
		for (p in rep) if (r[p, "vhu"] && r[p, k]) y[++np] = r[p, "vhu"] / r[p, k]
		printf "vhu/%-5s %.2fx (ratio of medians), %.2fx (median of %d paired ratios)\n",
			k, med["vhu"] / med[k], np ? median(y, np) : 0, np
	}
}' "$results"
