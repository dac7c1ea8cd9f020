#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# DPDK's own unit-test application (dpdk-test, Debian's dpdk package) on a
# net_vhu port, as a user of ours runs it:
#   pmd_perf_autotest with the net_vhu port in client mode created before its
#   peer (a dpdk-testpmd with a virtio-user port in server mode, io
#   forwarding) is up. The test primes the port with five back-to-back tx
#   bursts as soon as the link reads up, then forwards until a packet count
#   is reached: a link that is up before the port can transmit leaves it
#   polling forever (this script's time bound then fails it).
# Ends with "N passed, N failed, N skipped"; exit status non-zero on failure.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=../lib/proc.sh
. devtools/lib/proc.sh
builddir=${VHU_BUILD_DIR:-build}
plugin_dir=$PWD/$builddir/drivers/net/vhu
pass=0 fail=0 skip=0
tmp=$(mktemp -d)
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }

if ! command -v dpdk-test >/dev/null || ! command -v dpdk-testpmd >/dev/null; then
	echo "SKIP dpdk-test or dpdk-testpmd not installed"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
if [ ! -f "$plugin_dir/librte_net_vhu.so" ]; then
	echo "FAIL $plugin_dir/librte_net_vhu.so not built"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

# perf_case NAME PEER_DELAY: dpdk-test first, its peer PEER_DELAY seconds later
# (the test waits 3 s for the link, then primes the port at once). The peer
# runs with --no-flush-rx: testpmd otherwise empties its rx queues when its
# forwarding starts, dropping frames primed between its port start and then.
perf_case() {
	local name=$1 delay=$2 sock="$tmp/$1.sock" dlog="$tmp/$1-test.log" plog="$tmp/$1-peer.log"
	local fifo="$tmp/$1.in" dt peer
	mkfifo "$fifo"
	# dpdk-test reads its commands from the fifo; the writer end stays open in
	# fd 9. No timeout(1) wrappers: the PIDs kept are the applications' own.
	LD_LIBRARY_PATH=$plugin_dir stdbuf -oL dpdk-test --lcores 0@0,1@0 --no-huge -m 512 \
		--no-pci --file-prefix "vhu-dt-$$-$name" -d librte_net_vhu.so \
		--vdev "net_vhu0,iface=$sock,client=1" --log-level=lib.eal:error <"$fifo" >"$dlog" 2>&1 &
	dt=$!
	pids+=("$dt")
	exec 9>"$fifo"
	echo pmd_perf_autotest >&9
	sleep "$delay"
	dpdk-testpmd --lcores 0@1,1@1 --no-huge -m 256 --no-pci \
		--file-prefix "vhu-dtp-$$-$name" --log-level=lib.eal:error \
		--vdev "net_virtio_user0,path=$sock,server=1,queues=1" -- \
		--forward-mode=io --no-flush-rx --total-num-mbufs=8192 --stats-period=5 </dev/null >"$plog" 2>&1 &
	peer=$!
	pids+=("$peer")
	if proc_wait_for "$dlog" '^Test (OK|Failed)' 180 "$dt"; then
		grep -E 'Link|inject|packets received|cycles per packet' "$dlog" | sed 's/^/    | /'
		if grep -q '^Test OK' "$dlog"; then
			ok "pmd_perf_autotest ($name): $(grep -m1 'inject to prime' "$dlog")"
		else
			ko "pmd_perf_autotest ($name): dpdk-test printed Test Failed"
		fi
	else
		tail -n 20 "$dlog" | sed 's/^/    | /'
		grep -E 'RX-packets|TX-packets' "$plog" | tail -n 4 | sed 's/^/    peer | /'
		ko "pmd_perf_autotest ($name): no verdict in 180 s"
	fi
	echo quit >&9
	exec 9>&-
	proc_wait_exit "$dt" 10 || kill -KILL "$dt" 2>/dev/null
	kill -INT "$peer" 2>/dev/null
	proc_wait_exit "$peer" 20 || kill -KILL "$peer" 2>/dev/null
	wait "$dt" "$peer" 2>/dev/null
}

perf_case peer-at-once 0
perf_case peer-late 1

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
