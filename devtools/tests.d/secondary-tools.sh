#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# DPDK's secondary-process tools on a net_vhu port under traffic.
#
# A primary dpdk-testpmd (io forwarding, port topology loop) serves
# net_vhu0; a peer dpdk-testpmd with DPDK's virtio-user, started with
# tx_first, sends it 128 txonly frames of FRAME_LEN bytes that then loop
# between the two, unchanged. The peer forwards them in testpmd's noisy mode,
# which holds what it receives up to 10 ms: tens of thousands of frames a
# second each way rather than millions, so that captures stay small. While they loop:
#   dumpcap    dpdk-dumpcap -i net_vhu0 -c N writes a pcapng; pcap_check.py
#              finds N frames, both directions, each exactly as the peer sent it
#   pdump      dpdk-pdump --pdump 'port=0,queue=*,rx-dev=..,tx-dev=..' writes
#              two pcap files; each holds frames as sent
# Then, with the primary's forwarding stopped (counters still):
#   proc-info  dpdk-proc-info --stats and --xstats show non-zero counters equal
#              to what the primary's "show port stats" says
#   bursts     build/app/test/vhu-secondary calls rx and tx bursts in a
#              secondary: every call returns 0 and each direction logs one
#              error line, not one per call; it then closes the port (its
#              own view of it)
#   primary    the primary's port outlived the secondaries: link up, socket
#              there, frames received again once it forwards again
# dumpcap takes no EAL options (so no -d): the plugin is preloaded into it.
#
# A capture tool allocates the mbufs that the primary's pdump callbacks fill:
# both processes must number mempool drivers alike, and a mempool driver's
# number is its place in the order of registration. Debian's dpdk-testpmd
# links some mempool drivers (librte_mempool_dpaa) that the tools only load
# later, from the plugin directory; so every tool here gets the ones testpmd
# links preloaded, which puts them first in both. (Without it the primary
# takes dumpcap's ring pool for a dpaa pool and every copy fails.)
# VHU_SEC_KEEP=1 keeps the private directory with every log.
# Ends with "N passed, N failed, N skipped"; exit status non-zero on failure.
set -uo pipefail

cd "$(dirname "$0")/../.."
builddir=${VHU_BUILD_DIR:-build}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
here=devtools/tests.d
plugin_dir=$(cd "$builddir/drivers/net/vhu" 2>/dev/null && pwd)
secbin=$builddir/app/test/vhu-secondary

FRAME_LEN=128
PEER_MAC=02:76:68:75:00:01 # the peer's virtio-user port: source of every frame
DST_MAC=02:76:68:75:00:02  # the peer's --eth-peer: destination of every frame
CAP_FRAMES=200

pass=0 fail=0 skip=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
sk() { echo "SKIP $*"; skip=$((skip + 1)); }
finish() {
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
	exit
}

checks="dumpcap pdump proc-info-stats proc-info-xstats secondary-bursts primary-after"
skip_all() {
	local c
	for c in $checks; do sk "$c: $*"; done
	finish
}

for t in dpdk-testpmd dpdk-dumpcap dpdk-pdump dpdk-proc-info stdbuf; do
	command -v "$t" >/dev/null || skip_all "$t not installed"
done
[ -n "$plugin_dir" ] && [ -f "$plugin_dir/librte_net_vhu.so" ] || skip_all "plugin not built in $builddir"
[ -x "$secbin" ] || skip_all "$secbin not built"
# secondaries share the primary's hugepage memory: the primary cannot use --no-huge
free_mb=$(awk '/HugePages_Free/ {f = $2} /Hugepagesize/ {s = $2} END {print int(f * s / 1024)}' \
	/proc/meminfo)
[ "${free_mb:-0}" -ge 600 ] || skip_all "needs 600 MB of free hugepages (${free_mb:-0} MB free)"

# the mempool drivers dpdk-testpmd links, for LD_PRELOAD (see above)
preload=$(readelf -d "$(command -v dpdk-testpmd)" |
	sed -n 's/.*(NEEDED).*\[\(librte_mempool_[a-z0-9_]*\.so[.0-9]*\)\]/\1/p' | tr '\n' ' ')
tool_env=(env "LD_LIBRARY_PATH=$plugin_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	"LD_PRELOAD=${preload% }")

dir=$(mktemp -d "${TMPDIR:-/tmp}/vhu-sec.XXXXXX")
chmod 700 "$dir"
pfx_b="vhu-sec-b-$$-$RANDOM"
pfx_p="vhu-sec-p-$$-$RANDOM"
pids=()

cleanup() {
	local p i
	exec 7>&- 8>&- 2>/dev/null
	for p in "${pids[@]}"; do
		kill -INT "$p" 2>/dev/null
	done
	for i in $(seq 1 50); do
		local alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive -eq 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for p in "$pfx_b" "$pfx_p"; do
		rm -rf "/var/run/dpdk/$p" "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk/$p"
		rm -f /dev/hugepages/"$p"map_* 2>/dev/null
	done
	if [ "${VHU_SEC_KEEP:-0}" = 1 ]; then
		echo "logs kept in $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT

# wait_log FILE REGEX SECONDS: true once a line of FILE matches
wait_log() {
	timeout "$3" bash -c 'until grep -Eq "$2" "$1" 2>/dev/null; do sleep 0.1; done' _ "$1" "$2"
}

# cmd FD LOG COMMAND: send a testpmd command, return once its prompt is back
# (the log ends with "testpmd> " again); prints what the command printed
cmd() {
	local fd=$1 log=$2 before
	before=$(wc -c <"$log")
	echo "$3" >&"$fd"
	timeout 20 bash -c 'until tail -c +$(($2 + 1)) "$1" | grep -q "testpmd> $"; do sleep 0.1; done' \
		_ "$log" "$before" || echo "(no prompt after '$3')" >&2
	tail -c +$((before + 1)) "$log"
}

show_log() {
	echo "  --- $1 (last lines)"
	tail -n "${2:-25}" "$1" | sed 's/^/  | /'
}

# ---------------------------------------------------------------- primary and peer
mkfifo "$dir/b.in" "$dir/p.in"
LD_LIBRARY_PATH="$plugin_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout -k 5 600 \
	stdbuf -oL -eL dpdk-testpmd -l 0,1 -m 256 --no-pci --file-prefix "$pfx_b" \
	-d librte_net_vhu.so --vdev "net_vhu0,iface=$dir/s0.sock" -- -i --nb-cores=1 \
	--forward-mode=io --port-topology=loop --total-num-mbufs=4096 \
	<"$dir/b.in" >"$dir/b.log" 2>&1 &
pids+=($!)
exec 7>"$dir/b.in"
if ! wait_log "$dir/b.log" 'testpmd> $' 60 || [ ! -S "$dir/s0.sock" ]; then
	show_log "$dir/b.log"
	skip_all "the primary testpmd did not start"
fi

timeout -k 5 600 stdbuf -oL -eL dpdk-testpmd --lcores 0@0,1@0 --single-file-segments -m 256 \
	--no-pci --file-prefix "$pfx_p" \
	--vdev "net_virtio_user0,path=$dir/s0.sock,queues=1,mac=$PEER_MAC" -- -i --nb-cores=1 \
	--forward-mode=noisy --noisy-tx-sw-buffer-size=512 --noisy-tx-sw-buffer-flushtime=10 \
	--port-topology=loop --eth-peer=0,$DST_MAC --txpkts=$FRAME_LEN --total-num-mbufs=4096 <"$dir/p.in" >"$dir/p.log" 2>&1 &
pids+=($!)
exec 8>"$dir/p.in"
if ! wait_log "$dir/p.log" 'testpmd> $' 60; then
	show_log "$dir/p.log"
	skip_all "the peer testpmd did not start"
fi

cmd 7 "$dir/b.log" "start" >/dev/null
cmd 8 "$dir/p.log" "start tx_first 4" >/dev/null

# port_stat FILE FIELD: the first value of FIELD in FILE (a "show port stats"
# or proc-info --stats output: port totals come before the per-queue lines)
port_stat() {
	grep -Eo "(^| )$2: +[0-9]+" "$1" | head -n 1 | grep -Eo '[0-9]+$'
}

# traffic both ways through the primary (bounded)
flowing=0
for i in $(seq 1 30); do
	cmd 7 "$dir/b.log" "show port stats 0" >"$dir/stats.txt"
	rx=$(port_stat "$dir/stats.txt" RX-packets)
	tx=$(port_stat "$dir/stats.txt" TX-packets)
	if [ "${rx:-0}" -gt 1000 ] && [ "${tx:-0}" -gt 1000 ]; then
		flowing=1
		break
	fi
	sleep 0.5
done
echo "primary: RX-packets ${rx:-?} TX-packets ${tx:-?} before the captures"
if [ $flowing -eq 0 ]; then
	show_log "$dir/b.log"
	show_log "$dir/p.log"
	skip_all "no traffic between the peer and the primary"
fi

# ---------------------------------------------------------------- dumpcap
rm -f "$dir/cap.pcapng"
"${tool_env[@]}" LD_PRELOAD="$preload$plugin_dir/librte_net_vhu.so" \
	timeout -k 5 60 dpdk-dumpcap --file-prefix "$pfx_b" -i net_vhu0 -c $CAP_FRAMES -w "$dir/cap.pcapng" -q \
	</dev/null >"$dir/dumpcap.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && "$py" "$here/pcap_check.py" "$dir/cap.pcapng" --len $FRAME_LEN \
	--src $PEER_MAC --dst $DST_MAC --min $CAP_FRAMES --both >"$dir/check.txt" 2>&1; then
	ok "dumpcap: $(head -n 1 "$dir/check.txt" | sed 's/.*: //')"
else
	cat "$dir/check.txt" 2>/dev/null
	show_log "$dir/dumpcap.log"
	ko "dumpcap (exit status $rc)"
fi

# ---------------------------------------------------------------- pdump
"${tool_env[@]}" timeout -k 5 60 dpdk-pdump -d librte_net_vhu.so --no-pci --file-prefix "$pfx_b" \
	-- \
	--pdump "port=0,queue=*,rx-dev=$dir/rx.pcap,tx-dev=$dir/tx.pcap,ring-size=4096,total-num-mbufs=8191" \
	</dev/null >"$dir/pdump.log" 2>&1 &
pdump_pid=$!
pids+=($pdump_pid)
# capturing once it reports its ports started; then a few seconds of traffic
wait_log "$dir/pdump.log" 'Port [0-9]+ MAC' 30
sleep 1
kill -INT $pdump_pid 2>/dev/null
timeout 30 tail --pid=$pdump_pid -f /dev/null
wait $pdump_pid
rc=$?
res=()
good=1
for d in rx tx; do
	if "$py" "$here/pcap_check.py" "$dir/$d.pcap" --len $FRAME_LEN --src $PEER_MAC \
		--dst $DST_MAC --min 100 >"$dir/check.txt" 2>&1; then
		res+=("$d $(head -n 1 "$dir/check.txt" | sed 's/.*: //')")
	else
		cat "$dir/check.txt"
		good=0
	fi
done
if [ $good -eq 1 ] && [ $rc -eq 0 ]; then
	ok "pdump: ${res[0]}; ${res[1]}"
else
	show_log "$dir/pdump.log"
	ko "pdump (exit status $rc)"
fi

# ---------------------------------------------------------------- proc-info
# counters still: stop the primary's forwarding (the peer keeps its frames)
cmd 7 "$dir/b.log" "stop" >/dev/null
sleep 0.5
cmd 7 "$dir/b.log" "show port stats 0" >"$dir/stats.txt"
b_rx=$(port_stat "$dir/stats.txt" RX-packets)
b_tx=$(port_stat "$dir/stats.txt" TX-packets)
b_rxb=$(port_stat "$dir/stats.txt" RX-bytes)
b_txb=$(port_stat "$dir/stats.txt" TX-bytes)
echo "primary (stopped): RX-packets $b_rx RX-bytes $b_rxb TX-packets $b_tx TX-bytes $b_txb"

pinfo() {
	"${tool_env[@]}" timeout -k 5 60 dpdk-proc-info -d librte_net_vhu.so --no-pci \
		--file-prefix "$pfx_b" --log-level=pmd.net.vhu:info -- "$@" </dev/null 2>&1
}
pinfo --stats >"$dir/pi-stats.txt"
rc=$?
s_rx=$(port_stat "$dir/pi-stats.txt" RX-packets)
s_tx=$(port_stat "$dir/pi-stats.txt" TX-packets)
s_rxb=$(port_stat "$dir/pi-stats.txt" RX-bytes)
s_txb=$(port_stat "$dir/pi-stats.txt" TX-bytes)
if [ $rc -eq 0 ] && [ "${s_rx:-0}" -gt 0 ] && [ "${s_tx:-0}" -gt 0 ] &&
	[ "$s_rx" = "$b_rx" ] && [ "$s_tx" = "$b_tx" ] && [ "$s_rxb" = "$b_rxb" ] &&
	[ "$s_txb" = "$b_txb" ]; then
	ok "proc-info --stats: RX-packets $s_rx RX-bytes $s_rxb TX-packets $s_tx TX-bytes $s_txb, as the primary"
else
	show_log "$dir/pi-stats.txt" 30
	ko "proc-info --stats (exit status $rc): RX-packets ${s_rx:-none} TX-packets ${s_tx:-none}" \
		"RX-bytes ${s_rxb:-none} TX-bytes ${s_txb:-none}, primary $b_rx/$b_tx/$b_rxb/$b_txb"
fi

pinfo --xstats >"$dir/pi-xstats.txt"
rc=$?
xval() { grep -E "^$1: [0-9]+$" "$dir/pi-xstats.txt" | head -n 1 | sed 's/.*: //'; }
x_rx=$(xval rx_good_packets)
x_tx=$(xval tx_good_packets)
q_rx=$(xval rx_q0_packets)
q_tx=$(xval tx_q0_packets)
q_rxb=$(xval rx_q0_bytes)
q_bin=$(xval "rx_q0_size_128_to_255_packets")
nx=$(grep -cE '^[a-z0-9_]+: [0-9]+$' "$dir/pi-xstats.txt")
if [ $rc -eq 0 ] && [ "${x_rx:-0}" -gt 0 ] && [ "$x_rx" = "$b_rx" ] && [ "$x_tx" = "$b_tx" ] &&
	[ "$q_rx" = "$b_rx" ] && [ "$q_tx" = "$b_tx" ] && [ "$q_rxb" = "$b_rxb" ] &&
	[ "$q_bin" = "$b_rx" ]; then
	ok "proc-info --xstats: $nx xstats; rx_q0_packets $q_rx tx_q0_packets $q_tx" \
		"rx_q0_size_128_to_255_packets $q_bin, as the primary"
else
	show_log "$dir/pi-xstats.txt" 50
	ko "proc-info --xstats (exit status $rc): rx_good_packets ${x_rx:-none}" \
		"rx_q0_packets ${q_rx:-none} tx_q0_packets ${q_tx:-none}" \
		"rx_q0_bytes ${q_rxb:-none} size_128_to_255 ${q_bin:-none}, primary $b_rx/$b_tx/$b_rxb"
fi

# ---------------------------------------------------------------- bursts in a secondary
calls=1000
"${tool_env[@]}" timeout -k 5 60 "$secbin" -d librte_net_vhu.so --no-pci --proc-type=secondary \
	--file-prefix "$pfx_b" -l 0 \
	--log-level=pmd.net.vhu:info -- net_vhu0 $calls </dev/null >"$dir/sec.txt" 2>&1
rc=$?
rx_line=$(grep -c 'rx burst in a secondary process refused' "$dir/sec.txt")
tx_line=$(grep -c 'tx burst in a secondary process refused' "$dir/sec.txt")
if [ $rc -eq 0 ] && grep -q "^rx_burst: $calls calls, 0 packets, 0 non-zero returns" "$dir/sec.txt" &&
	grep -q "^tx_burst: $calls calls, 0 packets, 0 non-zero returns" "$dir/sec.txt" &&
	[ "$rx_line" -eq 1 ] && [ "$tx_line" -eq 1 ]; then
	ok "secondary bursts: $calls rx and $calls tx calls returned 0, one error line each"
else
	show_log "$dir/sec.txt" 30
	ko "secondary bursts (exit status $rc, $rx_line rx and $tx_line tx error lines)"
fi

# ---------------------------------------------------------------- the primary after all this
# vhu-secondary closed the port in its process: the primary's port, socket
# and front-end must not notice. Forwarding again, frames arrive again.
cmd 7 "$dir/b.log" "show port info 0" >"$dir/info.txt"
cmd 7 "$dir/b.log" "start" >/dev/null
again=0
for i in $(seq 1 20); do
	sleep 0.5
	cmd 7 "$dir/b.log" "show port stats 0" >"$dir/stats.txt"
	a_rx=$(port_stat "$dir/stats.txt" RX-packets)
	a_tx=$(port_stat "$dir/stats.txt" TX-packets)
	# rx only: after testpmd's stop/start the port's tx stalls in this set-up
	# even with no secondary ever started (a net_vhu issue of its own)
	[ "${a_rx:-0}" -gt "${b_rx:-0}" ] && { again=1; break; }
done
if grep -q 'Link status: up' "$dir/info.txt" && [ -S "$dir/s0.sock" ] && [ $again -eq 1 ] &&
	grep -q '^close: 0, port gone' "$dir/sec.txt"; then
	ok "primary after the secondaries: link up, socket there, RX-packets $b_rx -> $a_rx," \
		"TX-packets $b_tx -> $a_tx"
else
	show_log "$dir/info.txt"
	show_log "$dir/b.log"
	echo
	grep '^close:' "$dir/sec.txt"
	ko "primary after the secondaries (RX-packets ${b_rx:-?} -> ${a_rx:-?}," \
		"TX-packets ${b_tx:-?} -> ${a_tx:-?})"
fi
echo quit >&8
echo quit >&7
for p in "${pids[@]}"; do
	timeout 20 tail --pid="$p" -f /dev/null
done
finish
