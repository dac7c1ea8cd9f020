#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Real guests: a Linux guest under QEMU whose only NIC is virtio-net-pci on a
# vhost-user netdev served by dpdk-testpmd with net_vhu (or DPDK's net_vhost, to
# compare). Guide: doc/guides/testing/qemu.rst.
#
# Groups of checks (VHU_QEMU_CASES, default all, in this order):
#   server  back-end listens, QEMU connects; memfd guest memory; icmpecho:
#           ping (ARP + ICMP answered), counters on both sides, clean guest
#           shutdown, QEMU SIGKILLed mid-traffic, a new QEMU on the same socket
#   client  back-end connects (client=1), QEMU listens (server=on); hugepage
#           guest memory: the same, ending with the back-end reconnecting
#   bulk    csum forwarding: a TCP stream with the guest's checksum and TSO
#           offloads on goes out and back through the back-end; contents
#           (md5), counters and frame sizes checked
#   mq      2 queue pairs, 2 vCPUs: both queue pairs carry traffic
#   packed  packed=on: the packed ring when the back-end offers it
#
# Network rule: QEMU has -nic none besides the vhost-user NIC; the guest uses
# 169.254.0.0/16 only; nothing reaches a real network.
#
# Environment:
#   VHU_QEMU_BACKEND  vhu (default) or vhost (DPDK's net_vhost, for comparison)
#   VHU_BUILD_DIR     build directory holding drivers/net/vhu/librte_net_vhu.so
#   VHU_QEMU_CASES    groups to run (default "server client bulk mq packed")
#   VHU_QEMU_ACCEL    kvm or tcg: skip the accelerator probe
#   VHU_QEMU_CACHE    kernel/initramfs cache (default /var/cache/vhu-qemu)
#   VHU_QEMU_DEVARGS  extra devargs for the back-end's vdev (all groups)
#   VHU_QEMU_KEEP=1   keep sockets and logs (the directory is printed)
# Output ends with "N passed, N failed, N skipped"; exit status 1 on failure.
set -u -o pipefail

cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=../qemu/lib.sh
. devtools/qemu/lib.sh
export LC_ALL=C

t_start=$(date +%s)
passed=0 failed=0 skipped=0

vq_backend=${VHU_QEMU_BACKEND:-vhu}
builddir=${VHU_BUILD_DIR:-build}
vq_cache=${VHU_QEMU_CACHE:-/var/cache/vhu-qemu}
groups=${VHU_QEMU_CASES:-server client bulk mq packed}
vq_ip=169.254.77.1
vq_peer=169.254.77.2
vq_mac=52:54:00:77:00:01
boot_timeout=120

declare -A group_checks=(
	[server]="ping counters shutdown kill reconnect reset leaks"
	[client]="ping counters hugepages kill reconnect leaks"
	[bulk]="transfer counters tso"
	[mq]="ping counters queues channels"
	[packed]="ping counters"
)

# ------------------------------------------------------------------ bookkeeping
# (check groups: devtools/qemu/lib.sh)

# g_end: stop the back-end; a check not reported by then failed to be reached.
g_end() {
	tp_stop
	g_abort "not reached: an earlier step of the group failed"
}

# ------------------------------------------------------------------ checks
# guest_ok WHAT...: every "VHU-TEST: WHAT ok" line is there and no FAIL line.
guest_ok() {
	local w
	if grep -aq '^VHU-TEST: FAIL' "$q_serial"; then
		echo "$(grep -a '^VHU-TEST: FAIL' "$q_serial" | head -n1 | tr -d '\r')"
		return 1
	fi
	for w in "$@"; do
		grep -aq "^VHU-TEST: $w ok" "$q_serial" || { echo "no '$w ok' from the guest"; return 1; }
	done
}

# counters CHECK: the back-end's port counters match the guest's, with no
# errors or drops on either side. Call after the guest has stopped sending.
counters() {
	local check=$1 tp fw why=() g_tx g_rx g_txb g_rxb k v
	tp=$(tp_port_stats)
	fw=$(tp_fwd_stats)
	g_tx=$(q_stat tx_packets) g_rx=$(q_stat rx_packets)
	g_txb=$(q_stat tx_bytes) g_rxb=$(q_stat rx_bytes)
	if [ -z "$g_tx" ] || [ -z "$tp" ]; then
		g_fail "$check" "no counters (guest: '${g_tx:-none}', back-end: '${tp:-none}')"
		return
	fi
	if [ "$g_tx" = 0 ] || [ "$g_rx" = 0 ]; then
		g_fail "$check" "no traffic to compare (guest sent $g_tx, received $g_rx packets)"
		return
	fi
	[ "$(kv rx_packets "$tp")" = "$g_tx" ] || why+=("back-end rx_packets $(kv rx_packets "$tp") != guest tx_packets $g_tx")
	[ "$(kv tx_packets "$tp")" = "$g_rx" ] || why+=("back-end tx_packets $(kv tx_packets "$tp") != guest rx_packets $g_rx")
	[ "$(kv rx_bytes "$tp")" = "$g_txb" ] || why+=("back-end rx_bytes $(kv rx_bytes "$tp") != guest tx_bytes $g_txb")
	[ "$(kv tx_bytes "$tp")" = "$g_rxb" ] || why+=("back-end tx_bytes $(kv tx_bytes "$tp") != guest rx_bytes $g_rxb")
	for k in rx_errors tx_errors rx_missed rx_nombuf; do
		v=$(kv $k "$tp")
		[ "${v:-0}" = 0 ] || why+=("back-end $k=$v")
	done
	v=$(kv tx_dropped "$fw")
	[ "${v:-0}" = 0 ] || why+=("back-end could not send $v packets to the guest")
	for k in tx_dropped rx_dropped tx_errors rx_errors; do
		v=$(q_stat $k)
		[ "${v:-0}" = 0 ] || why+=("guest $k=$v")
	done
	vq_say "back-end: $tp"
	vq_say "guest:    $(grep -a '^VHU-TEST: stats ' "$q_serial" | tail -n1 | cut -d' ' -f3- | tr -d '\r')"
	if [ ${#why[@]} -eq 0 ]; then
		g_pass "$check" "rx $g_tx / tx $g_rx packets, $g_txb / $g_rxb bytes, both sides agree"
	else
		g_fail "$check" "$(IFS=';'; echo "${why[*]}")"
	fi
}

# report_features: what the guest negotiated, and what the back-end logged.
report_features() {
	local f
	f=$(q_features) || { vq_say "guest printed no feature bits"; return; }
	vq_say "negotiated (guest sysfs): $f"
	grep -a '^VHU-TEST: offloads ' "$q_serial" | head -n1 | tr -d '\r' |
		sed 's/^VHU-TEST: /qemu-guest: guest /'
	grep -aiE 'negotiated .*features|protocol features|ready \(features' "$tp_log" | sort -u | head -n 4 |
		sed 's/^/qemu-guest: back-end: /'
	protocol_features
}

# protocol_features: the vhost-user protocol features the back-end logged as
# negotiated, by name.
protocol_features() {
	local hex v i names=()
	local all=(MQ LOG_SHMFD RARP REPLY_ACK NET_MTU BACKEND_REQ CROSS_ENDIAN CRYPTO_SESSION
		PAGEFAULT CONFIG BACKEND_SEND_FD HOST_NOTIFIER INFLIGHT_SHMFD RESET_DEVICE
		INBAND_NOTIFICATIONS CONFIGURE_MEM_SLOTS STATUS XEN_MMAP SHARED_OBJECT DEVICE_STATE)
	# net_vhost: "negotiated Vhost-user protocol features: 0x...";
	# net_vhu: "protocol features 0x..." once SET_PROTOCOL_FEATURES is done.
	hex=$(grep -aioE 'protocol features[^0-9]*0x[0-9a-f]+' "$tp_log" | tail -n1 |
		grep -oiE '0x[0-9a-f]+$')
	[ -n "$hex" ] || return 0
	v=$((hex))
	for ((i = 0; i < ${#all[@]}; i++)); do
		[ $(((v >> i) & 1)) = 1 ] && names+=("${all[i]}")
	done
	vq_say "vhost-user protocol features (back-end log, $hex): ${names[*]}"
}

# guest_maps: how many of the back-end's mappings are guest memory (QEMU's
# memfd or hugepage file). They must all go when the front-end goes.
guest_maps() {
	grep -cE 'memory-backend-memfd|qemu_back_mem' "/proc/$tp_pid/maps" 2>/dev/null
}

# settle_backend WHAT LABEL: once QEMU is gone, wait (bounded) for the back-end to unmap
# the guest's memory. Sets leak_why when it does not; prints the fd count.
settle_backend() {
	local n=100
	while [ "$(guest_maps)" != 0 ]; do
		if [ $n -le 0 ]; then
			leak_why+=("$(guest_maps) guest memory mappings left after $1")
			break
		fi
		n=$((n - 1))
		sleep 0.1
	done
	# The back-end may close the device's fds a little after it unmaps the
	# memory: wait (bounded) for the count to hold still for a second.
	local cur prev='' same=0
	n=50
	while [ $n -gt 0 ] && [ $same -lt 5 ]; do
		cur=$(fd_counts)
		if [ "$cur" = "$prev" ]; then
			same=$((same + 1))
		else
			same=0
		fi
		prev=$cur
		n=$((n - 1))
		sleep 0.2
	done
	# What each fd is goes to a file, for the diff printed on a failure.
	ls -l "/proc/$tp_pid/fd" 2>/dev/null | awk '/-> / { print $NF }' | sed 's/\[[0-9]*\]$//' |
		sort | uniq -c >"$vq_dir/fds.$2"
	fd_counts
}

# fd_counts: "OTHER SOCKETS", the back-end's open fds. A client back-end may
# hold a reconnecting socket or not at any instant; every other fd (eventfds,
# memfds, files) must be stable.
fd_counts() {
	ls -l "/proc/$tp_pid/fd" 2>/dev/null | awk '/-> / { if ($NF ~ /^socket:/) s++; else o++ }
		END { printf "%d %d", o, s }'
}

# judge_leaks "OTHER SOCKETS" "OTHER SOCKETS": fds after the first and the last guest.
judge_leaks() {
	local o1 s1 o3 s3
	read -r o1 s1 <<<"$1"
	read -r o3 s3 <<<"$2"
	if [ -z "$maps_seen" ]; then
		g_fail leaks "not reached: no guest ran long enough to look at the back-end's mappings"
		return
	fi
	[ "$maps_seen" -gt 0 ] ||
		leak_why+=("no guest memory mapping seen in the back-end while a guest ran: the check cannot see leaks")
	[ "$o1" = "$o3" ] || leak_why+=("back-end non-socket fds: $o1 after the first guest, $o3 after the last")
	[ "${s3:-0}" -le $((${s1:-0} + 1)) ] || leak_why+=("back-end sockets: $s1 after the first guest, $s3 after the last")
	if [ ${#leak_why[@]} -eq 0 ]; then
		g_pass leaks "guest memory ($maps_seen mappings while a guest ran) unmapped each time a QEMU went (3 times); fds after the last guest as after the first ($o3 + $s3 sockets)"
	else
		vq_say "back-end fds by kind, after the first guest (<) and after the last (>):"
		diff "$vq_dir/fds.first" "$vq_dir/fds.last" | grep '^[<>]' | sed 's/^/    /'
		g_fail leaks "$(IFS=';'; echo "${leak_why[*]}")"
	fi
}

hugepages_free_mb() {
	awk '/^HugePages_Free:/ { f = $2 } /^Hugepagesize:/ { s = $2 } END { print int(f * s / 1024) }' /proc/meminfo
}

# after_ping CHECK: wait for the guest (case ping) to end and judge its pings.
after_ping() {
	local check=$1 why
	if ! q_wait $boot_timeout; then
		q_show_tail
		g_fail "$check" "$q_why"
		return 1
	fi
	if why=$(guest_ok "ping small" "ping large"); then
		g_pass "$check" "$(grep -a '^VHU-TEST: ping' "$q_serial" | cut -d' ' -f3- | tr -d '\r' | paste -sd, -)"
		return 0
	fi
	q_show_tail
	g_fail "$check" "$why"
	return 1
}

# judge_kill CHECK: the guest started with case "traffic" pings as fast as it
# can; QEMU is SIGKILLed in the middle and the back-end must survive it.
judge_kill() {
	local check=$1 before after
	if ! q_until '^VHU-TEST: traffic running' $boot_timeout; then
		q_show_tail
		proc_end "$q_pid" 2
		g_fail "$check" "the guest's traffic never started: $q_why"
		return 1
	fi
	before=$(kv rx_packets "$(tp_port_stats)")
	# While the guest runs, the back-end maps its memory: this is what the
	# leak check expects to see go.
	maps_seen=$(guest_maps)
	sleep 2
	q_kill
	sleep 1
	after=$(kv rx_packets "$(tp_port_stats)")
	if ! proc_alive "$tp_pid"; then
		g_fail "$check" "testpmd died when QEMU was killed"
		tail -n 20 "$tp_log" | sed 's/^/    /'
		return 1
	fi
	if [ -z "$after" ] || [ -z "$before" ] || [ "$after" -le "$before" ]; then
		g_fail "$check" "no traffic seen while the guest ran (rx $before -> $after)"
		return 1
	fi
	g_pass "$check" "QEMU SIGKILLed while traffic flowed (back-end rx $before -> $after), testpmd alive"
}

# ------------------------------------------------------------------ groups
grp_server() {
	local sock=$vq_dir/server.sock fds1 fds3
	leak_why=() maps_seen=
	g_begin server
	tp_start server server "$sock" 1 icmpecho nohuge || { g_abort "testpmd did not start"; return; }
	wait_socket "$sock" 10 || { g_abort "the back-end did not create $sock"; return; }

	q_start server1 "$sock" client memfd 1 ping
	if after_ping ping; then
		report_features
		counters counters
		if proc_alive "$tp_pid"; then
			g_pass shutdown "the guest powered off, QEMU exited by itself, testpmd alive"
		else
			g_fail shutdown "testpmd died when the guest shut down"
		fi
	fi
	fds1=$(settle_backend "the guest shut down" first)
	tp_clear_stats

	q_start server2 "$sock" client memfd 1 traffic
	judge_kill kill
	proc_alive "$tp_pid" || { g_abort "testpmd is gone"; return; }
	settle_backend "QEMU was killed" killed >/dev/null

	q_start server3 "$sock" client memfd 1 reload
	if after_ping reconnect; then
		if grep -aq '^VHU-TEST: ping reload ok' "$q_serial"; then
			g_pass reset "virtio_net removed and loaded again (device reset, rings stopped and restarted): pings answered"
		else
			q_show_tail
			g_fail reset "no answer after the guest reset the device"
		fi
	fi
	proc_alive "$q_pid" && proc_end "$q_pid" 2
	fds3=$(settle_backend "the last guest shut down" last)
	judge_leaks "$fds1" "$fds3"
}

grp_client() {
	local sock=$vq_dir/client.sock mem=huge fds1 fds3
	leak_why=() maps_seen=
	g_begin client
	# Guest RAM (256 MB) and the back-end's (256 MB) on 2 MB pages.
	if [ -d /dev/hugepages ] && [ "$(hugepages_free_mb)" -ge 600 ]; then
		:
	else
		mem=nohuge
		g_skip hugepages "fewer than 600 MB of free 2 MB hugepages at /dev/hugepages: memfd instead"
	fi
	# QEMU listens; the back-end connects once the socket is there.
	q_start client1 "$sock" server "${mem/nohuge/memfd}" 1 ping
	if ! wait_socket "$sock" 30; then
		q_show_tail
		g_abort "QEMU did not create $sock"
		return
	fi
	tp_start client client "$sock" 1 icmpecho "$mem" || { proc_end "$q_pid"; g_abort "testpmd did not start"; return; }
	if after_ping ping; then
		report_features
		counters counters
		[ "$mem" = huge ] && g_pass hugepages "guest and back-end memory on hugepages"
	fi
	fds1=$(settle_backend "the guest shut down" first)
	tp_clear_stats

	q_start client2 "$sock" server "${mem/nohuge/memfd}" 1 traffic
	judge_kill kill
	proc_alive "$tp_pid" || { g_abort "testpmd is gone"; return; }
	settle_backend "QEMU was killed" killed >/dev/null

	# A new QEMU on the same path: the back-end, a client, must reconnect by itself.
	q_start client3 "$sock" server "${mem/nohuge/memfd}" 1 ping
	after_ping reconnect
	proc_alive "$q_pid" && proc_end "$q_pid" 2
	fds3=$(settle_backend "the last guest shut down" last)
	judge_leaks "$fds1" "$fds3"
}

grp_bulk() {
	local sock=$vq_dir/bulk.sock why big rc
	local save_devargs=${vq_devargs:-}
	g_begin bulk
	# net_vhost, and net_vhu like it, offer host TSO only with tso=1.
	vq_devargs="${vq_devargs:+$vq_devargs,}tso=1"
	tp_start bulk server "$sock" 1 csum nohuge --eth-peer="0,$vq_mac"
	rc=$?
	vq_devargs=$save_devargs
	[ $rc -eq 0 ] || { g_abort "testpmd did not start"; return; }
	# Wait for the guest rather than drop: up to 64 x 1 ms per burst.
	if ! why=$(tp_retry 1000 64); then
		g_abort "$why"
		return
	fi
	# Per-packet lines (pkt_len, nb_segs, offload flags) tell the frame sizes.
	tp_cmd "set verbose 1" >/dev/null
	wait_socket "$sock" 10 || { g_abort "the back-end did not create $sock"; return; }
	q_start bulk1 "$sock" client memfd 1 bulk "rx_queue_size=1024,tx_queue_size=1024" "vhu.mb=8"
	if ! q_wait $boot_timeout; then
		q_show_tail
		g_abort "$q_why"
		return
	fi
	report_features
	if why=$(guest_ok "ping loop" bulk); then
		g_pass transfer "$(grep -a '^VHU-TEST: bulk ok' "$q_serial" | cut -d' ' -f4- | tr -d '\r')"
	else
		q_show_tail
		g_fail transfer "$why"
	fi
	counters counters
	# testpmd's verbose csum engine prints "pkt_len=N, nb_segs=M" for each
	# frame it receives: frames longer than an Ethernet frame are TSO frames.
	big=$(grep -ao 'pkt_len=[0-9]*, nb_segs=[0-9]*' "$tp_log" |
		awk -F'[=,]' '$2 > 1514 { n++; if ($2 > max) max = $2; if ($4 > segs) segs = $4 }
			END { if (n) printf "%d frames > 1514 bytes, the largest %d bytes in %d mbufs", n, max, segs }')
	if ! q_has_feature 11; then
		g_skip tso "HOST_TSO4 not negotiated${big:+ ($big)}"
	elif [ -n "$big" ]; then
		g_pass tso "HOST_TSO4 negotiated, guest TSO on: $big"
	else
		g_fail tso "HOST_TSO4 negotiated but no frame from the guest was longer than 1514 bytes"
	fi
}

grp_mq() {
	local sock=$vq_dir/mq.sock why fw q0 q1 g0 g1
	g_begin mq
	tp_start mq server "$sock" 2 icmpecho nohuge || { g_abort "testpmd did not start"; return; }
	wait_socket "$sock" 10 || { g_abort "the back-end did not create $sock"; return; }
	q_start mq1 "$sock" client memfd 2 mq
	if ! q_wait $boot_timeout; then
		q_show_tail
		g_abort "$q_why"
		return
	fi
	report_features
	grep -aE '^VHU-TEST: (channels|queues)' "$q_serial" | tr -d '\r' | sed 's/^VHU-TEST: /qemu-guest: guest /'
	if why=$(guest_ok "ping a-p0" "ping a-p1"); then
		g_pass ping "pings from both vCPUs answered"
	else
		q_show_tail
		g_fail ping "$why"
	fi
	counters counters
	if ! q_has_feature 22; then
		g_skip queues "VIRTIO_NET_F_MQ not negotiated"
		g_skip channels "VIRTIO_NET_F_MQ not negotiated"
		return
	fi
	if ! grep -aq '^VHU-TEST: queues' "$q_serial"; then
		g_fail channels "not reached: the guest stopped before"
	elif ! grep -aq '^VHU-TEST: channels ' "$q_serial"; then
		g_skip channels "no ethtool in the guest"
	elif why=$(guest_ok "ping one-pair" "ping b-p0" "ping b-p1"); then
		g_pass channels "ethtool -L combined 1 then 2 (second pair disabled, enabled): pings answered each time"
	else
		q_show_tail
		g_fail channels "$why"
	fi
	fw=$(tp_fwd_stats)
	q0=$(kv q0_rx "$fw") q1=$(kv q1_rx "$fw")
	g0=$(q_qstat tx_queue_0_packets) g1=$(q_qstat tx_queue_1_packets)
	vq_say "back-end streams: $fw"
	if [ "${q0:-0}" -gt 0 ] && [ "${q1:-0}" -gt 0 ] && { [ -z "$g1" ] || [ "$g1" -gt 0 ]; }; then
		g_pass queues "back-end rx per queue: $q0 + $q1; guest tx per queue: ${g0:-?} + ${g1:-?}"
	else
		g_fail queues "a queue pair carried nothing: back-end rx per queue '$q0' '$q1', guest tx per queue '${g0:-?}' '${g1:-?}'"
	fi
}

grp_packed() {
	local sock=$vq_dir/packed.sock why
	local save_devargs=${vq_devargs:-} rc
	g_begin packed
	# net_vhu offers the packed ring only when asked (net_vhost always does).
	[ "$vq_backend" = vhu ] && vq_devargs="${vq_devargs:+$vq_devargs,}packed=1"
	tp_start packed server "$sock" 1 icmpecho nohuge
	rc=$?
	vq_devargs=$save_devargs
	[ $rc -eq 0 ] || { g_abort "testpmd did not start"; return; }
	wait_socket "$sock" 10 || { g_abort "the back-end did not create $sock"; return; }
	q_start packed1 "$sock" client memfd 1 ping packed=on
	if ! q_wait $boot_timeout; then
		q_show_tail
		g_abort "$q_why"
		return
	fi
	report_features
	if ! q_has_feature 34; then
		g_skip ping "the back-end does not offer VIRTIO_F_RING_PACKED: QEMU fell back to the split ring"
		g_skip counters "no packed ring"
		return
	fi
	# A back-end that negotiates the packed ring but says in its log that it
	# cannot move packets on it yet: skipped with its own words, until it can.
	why=$(grep -aiE 'packed.*(no datapath|not supported|unsupported)' "$tp_log" | head -n1)
	if [ -n "$why" ]; then
		g_skip ping "the back-end says: ${why#*) }"
		g_skip counters "no packed datapath in the back-end yet"
		return
	fi
	if why=$(guest_ok "ping small" "ping large"); then
		g_pass ping "packed ring: $(grep -a '^VHU-TEST: ping' "$q_serial" | cut -d' ' -f3- | tr -d '\r' | paste -sd, -)"
	else
		q_show_tail
		g_fail ping "$why"
	fi
	counters counters
}

# ------------------------------------------------------------------ main
vq_accel=none
vq_init || { echo "mktemp failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
vq_say "back-end: $vq_backend (VHU_QEMU_BACKEND), groups: $groups"

for g in $groups; do
	[ -n "${group_checks[$g]:-}" ] || { echo "unknown group '$g' in VHU_QEMU_CASES"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
done
vq_devargs=${VHU_QEMU_DEVARGS:-}
vq_prepare

for g in $groups; do
	"grp_$g"
	# Whatever the group left running goes before the next one starts.
	[ -n "$q_pid" ] && proc_end "$q_pid" 2
	g_end
done
finish
