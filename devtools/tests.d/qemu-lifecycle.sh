#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# What a cloud does to a running VM, with a real Linux guest under QEMU whose
# NIC is virtio-net-pci on a vhost-user netdev served by dpdk-testpmd with
# net_vhu (or DPDK's net_vhost, to compare). Guide: doc/guides/testing/qemu.rst.
# The guest runs an agent (devtools/qemu/case-agent.sh) that the script drives
# through a second serial port; QEMU is driven through QMP
# (devtools/qemu/qmp.py --session).
#
# Groups (VHU_QEMU_CASES, default all, in this order):
#   hotplug  memory DIMMs plugged at run time until QEMU refuses one, onlined
#            by the guest, traffic with the guest's buffers in them, DIMMs
#            unplugged while traffic runs
#   restart  the back-end SIGKILLed and started again under a pinging guest:
#            net_vhu serving (QEMU reconnect=1), then net_vhu as the client
#            (QEMU server=on)
#   reboot   the guest reset by QMP and rebooted from inside (sysrq b) under
#            traffic; its virtio_net driver removed and loaded again under
#            traffic
#
# Network rule: QEMU has -nic none besides the vhost-user NIC; the guest uses
# 169.254.0.0/16 only; nothing reaches a real network.
#
# Environment: as devtools/tests.d/qemu-guest.sh (VHU_QEMU_BACKEND,
# VHU_BUILD_DIR, VHU_QEMU_CASES, VHU_QEMU_ACCEL, VHU_QEMU_CACHE,
# VHU_QEMU_DEVARGS, VHU_QEMU_KEEP) and
#   VHU_QEMU_DIMMS    most DIMMs to try to plug (default 256, QEMU's maximum
#                     of memory slots on the pc machine)
#   VHU_QEMU_UNPLUG   how many of them to unplug again (default 32)
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
groups=${VHU_QEMU_CASES:-hotplug restart reboot}
dimms_max=${VHU_QEMU_DIMMS:-256}
dimms_unplug=${VHU_QEMU_UNPLUG:-32}
vq_ip=169.254.78.1
vq_peer=169.254.78.2
vq_mac=52:54:00:78:00:01
boot_timeout=120
# Seconds from the new back-end's start to the first frame it forwards: the
# bound this test holds a restart to (QEMU retries once a second; testpmd
# itself takes 1 to 3 s to start on a loaded 2-core machine under TCG).
restart_bound=15
dimm_mb=128    # the guest's memory block size: a DIMM is one block
# testpmd's own options: without --no-mlockall testpmd locks, and so fills,
# every guest region its back-end maps (the DIMMs: 128 MB each).
tp_opts=--no-mlockall
ping_every=20   # ms between two echo requests of the guest

declare -A group_checks=(
	[hotplug]="plug online buffers unplug in-use traffic leaks"
	[restart]="server-traffic server-frames server-link client-traffic client-frames client-link"
	[reboot]="reset reboot reload frames leaks"
)

# ------------------------------------------------------------------ bookkeeping
# (check groups: devtools/qemu/lib.sh)
vq_name=qemu-lifecycle

# g_end: QEMU and the back-end stopped; a check not reported by then failed.
g_end() {
	ql_stop
	tl_tp_stop
	g_abort "not reached: an earlier step of the group failed"
}

# guest_up NAME SOCK ROLE CASE [ql_start options]: boot the agent guest; 1
# (with the reason in q_why) when its agent does not come up.
guest_up() {
	ql_start "$@" || { q_why="QEMU did not start"; return 1; }
	ag_ready $boot_timeout || return 1
	ql_qmp_open || { q_why="no QMP socket"; return 1; }
}

# stream_until N SECONDS: wait until the guest's stream has N replies.
stream_until() {
	local n=$(($2 * 2)) r
	while :; do
		ag "stream_peek" 10 || return 1
		r=$(kv replies "$(ag_line peek)")
		[ "${r:-0}" -ge "$1" ] && return 0
		[ $n -gt 0 ] || return 1
		n=$((n - 1))
		sleep 0.5
	done
}

# stream_end: stop the guest's stream; its summary line in st.
stream_end() {
	st=
	ag "stream_stop" 20 || return 1
	st=$(ag_line stream)
	[ -n "$st" ]
}

# stream_begin / stream_finish: a guest stream with the back-end's counters
# cleared at its start; its summary in st gets the frames the back-end could
# not give the guest (backend_tx_dropped: no free buffer in the guest's
# receive ring, testpmd drops them) and could not take from it
# (backend_rx_missed).
stream_begin() {
	tp_clear_stats
	ag "stream_start $ping_every"
}
stream_finish() {
	local fw tp
	stream_end || return 1
	fw=$(tp_fwd_stats) tp=$(tp_port_stats)
	st="$st backend_tx_dropped=$(kv tx_dropped "$fw") backend_rx_missed=$(($(kv rx_missed "$tp") + $(kv rx_nombuf "$tp")))"
}

# frames_why STREAM OUTAGE: what is wrong with a stream summary (empty when
# nothing): no reply; a reply twice; a reply from an earlier stream (stale);
# a reply whose checksum, length or payload is wrong; an echo reply the
# guest's kernel counted that vhu-ping did not read and judge; requests the
# kernel did not send as counted; a request unanswered that neither side's
# drop counters explain (a frame the back-end gave no room to, or one the
# guest's driver dropped), beyond the one longest run of unanswered
# requests when OUTAGE is 1 (a back-end restart, a driver reload).
frames_why() {
	local st=$1 outage=$2 why=() k explained drops
	[ -n "$st" ] || { echo "no stream summary"; return; }
	[ "$(kv replies "$st")" -gt 0 ] || why+=("no reply")
	for k in dups stale corrupt; do
		[ "$(kv $k "$st")" = 0 ] || why+=("$(kv $k "$st") $k")
	done
	[ "$(kv echo_read "$st")" = "$(kv icmp_in_echo_reps "$st")" ] ||
		why+=("the guest's kernel counted $(kv icmp_in_echo_reps "$st") echo replies, vhu-ping judged $(kv echo_read "$st")")
	[ "$(kv sent "$st")" = "$(kv icmp_out_echos "$st")" ] ||
		why+=("vhu-ping sent $(kv sent "$st") requests, the kernel $(kv icmp_out_echos "$st")")
	drops=$(kv guest_rx_dropped "$st")
	[ "${drops:-0}" -ge 0 ] || drops=0
	explained=$((${drops:-0} + $(kv backend_tx_dropped "$st") + $(kv backend_rx_missed "$st")))
	[ "$outage" = 0 ] || explained=$((explained + $(kv gap "$st")))
	[ "$(kv lost "$st")" -le "$explained" ] ||
		why+=("$(kv lost "$st") requests unanswered, $explained explained (back-end drops, guest drops$([ "$outage" = 0 ] || echo ', the outage'))")
	[ ${#why[@]} -eq 0 ] || (IFS=';'; echo "${why[*]}")
}

# frames_note STREAM: what a good stream saw, in a few words.
frames_note() {
	local st=$1 n
	n="$(kv sent "$st") requests, $(kv replies "$st") answered, none twice, none stale or damaged, every echo reply the guest's kernel took judged ($(kv echo_read "$st"))"
	[ "$(kv lost "$st")" = 0 ] ||
		n="$n; $(kv lost "$st") unanswered (the back-end found no guest buffer for $(kv backend_tx_dropped "$st"), the guest's driver dropped $(kv guest_rx_dropped "$st"))"
	echo "$n"
}

# ------------------------------------------------------------------ hotplug
#
# QEMU gets 256 MB of boot RAM and room for $dimms_max DIMMs of one guest
# memory block each. DIMMs go in one by one (object-add memory-backend-memfd
# share=on + device_add pc-dimm) until QEMU refuses one or the slots run out;
# QEMU asks the back-end how many regions it can take (GET_MAX_MEM_SLOTS, 509
# for net_vhu; net_vhost does not offer CONFIGURE_MEM_SLOTS: 8). The guest
# onlines the first $kernel_dimms as kernel memory: the guest's zone Normal
# then lives in them alone, and the kernel takes its network buffers from it
# before the boot RAM (zone DMA32). The others go movable: the guest can
# empty and give back those, and they are unplugged while traffic runs.
kernel_dimms=2

grp_hotplug() {
	local sock=$vq_dir/hotplug.sock i t0 t1 n=0 refused='' maps0 maps1 maps2 adds rems
	local kern=() mov=() addr blocks why desc base rx_used rx_avail in_dimm total
	local dimm_lo dimm_hi deleted=0 ost st k mig0 mig sets
	g_begin hotplug
	tp_start hotplug server "$sock" 1 icmpecho nohuge $tp_opts || { g_abort "testpmd did not start"; return; }
	wait_socket "$sock" 10 || { g_abort "the back-end did not create $sock"; return; }
	# maxmem leaves room for one DIMM more than the slots: the refusal, if
	# any, is the slots' or the back-end's, not the address space's.
	if ! guest_up hp1 "$sock" client agent "slots=$dimms_max" \
		"maxmem=$((256 + (dimms_max + 1) * dimm_mb))M" \
		"append=memory_hotplug.memmap_on_memory=1"; then
		q_show_tail
		g_abort "guest: $q_why"
		return
	fi
	stream_begin || { g_abort "agent: $ag_why"; return; }
	maps0=$(tl_maps)

	# ---- plug until refused
	t0=$(tl_now_ms)
	for ((i = 0; i <= dimms_max; i++)); do
		if ! ql_qmp "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"memory-backend-memfd\",\"id\":\"m$i\",\"size\":$((dimm_mb << 20)),\"share\":true}}" >/dev/null; then
			refused="object-add m$i: $(ql_qmp_error)"
			break
		fi
		if ! ql_qmp "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"pc-dimm\",\"id\":\"d$i\",\"memdev\":\"m$i\"}}" >/dev/null; then
			refused="device_add d$i: $(ql_qmp_error)"
			ql_qmp "{\"execute\":\"object-del\",\"arguments\":{\"id\":\"m$i\"}}" >/dev/null
			break
		fi
		n=$((n + 1))
	done
	t1=$(tl_now_ms)
	maps1=$(tl_maps)
	adds=$(tl_requests ADD_MEM_REG)
	vq_say "$n DIMMs of $dimm_mb MB plugged in $(((t1 - t0) / 1000)) s; then ${refused:-no refusal}"
	vq_say "back-end: guest memory mappings $maps0 -> $maps1, ADD_MEM_REG requests $adds, SET_MEM_TABLE $(tl_requests SET_MEM_TABLE)"
	if ! proc_alive "$tp_pid"; then
		g_abort "testpmd died while DIMMs were plugged"
		return
	fi
	why=
	[ "$n" -ge 32 ] || why="only $n DIMMs before QEMU refused one (${refused:-?})"
	[ "$maps1" -eq $((maps0 + n)) ] || why="${why:+$why; }the back-end maps $maps1 guest regions, $maps0 + $n expected"
	if [ -z "$why" ]; then
		g_pass plug "$n DIMMs hot-plugged ($((n * dimm_mb / 1024)) GiB), the back-end maps every one ($maps0 -> $maps1 regions); then QEMU: ${refused:-none refused}"
	else
		g_fail plug "$why"
	fi
	[ "$n" -gt 0 ] || { g_abort "no DIMM plugged"; return; }

	# ---- online: the guest's block numbers from QEMU's addresses
	ql_qmp '{"execute":"query-memory-devices"}' >/dev/null
	dimm_lo=$(echo "$ql_reply" | jq '[.return[].data.addr] | min')
	dimm_hi=$(echo "$ql_reply" | jq '[.return[].data | .addr + .size] | max')
	blocks=$(echo "$ql_reply" | jq -r ".return[].data.addr / $((dimm_mb << 20)) | floor" | sort -n)
	for i in $blocks; do
		if [ ${#kern[@]} -lt $kernel_dimms ]; then kern+=("$i"); else mov+=("$i"); fi
	done
	t0=$(tl_now_ms)
	ag "mem_online online_kernel ${kern[*]}; mem_online online_movable ${mov[*]}; mem_zones" 240 ||
		{ g_abort "agent: $ag_why"; return; }
	t1=$(tl_now_ms)
	vq_say "guest: $(echo "$ag_out" | sed -n 's/^VHU-TEST: //p' | paste -sd';' -)"
	why=$(echo "$ag_out" | grep -E 'failed=[0-9]' | head -n1)
	if [ -z "$why" ] && echo "$ag_out" | grep -q "online=$((n + 2)) "; then
		g_pass online "the guest onlined $n blocks in $(((t1 - t0) / 1000)) s (${#kern[@]} kernel, ${#mov[@]} movable): $(ag_line zones)"
	else
		g_fail online "${why:-not every block online: $(ag_line blocks)}"
	fi

	# ---- buffers: the guest's posted receive buffers and its last transmit
	# buffers, read from its rings through QEMU, lie in the DIMMs; then the
	# back-end fills every receive buffer posted at that moment.
	stream_until 400 60 >/dev/null
	base=$(ql_qmp '{"execute":"x-query-virtio"}' | jq -r '.return[0].path')
	desc=$(ql_qmp "{\"execute\":\"x-query-virtio-queue-element\",\"arguments\":{\"path\":\"$base\",\"queue\":0}}")
	rx_avail=$(echo "$desc" | jq '.return.avail.idx')
	rx_used=$(echo "$desc" | jq '.return.used.idx')
	in_dimm=0 total=0
	if [ -n "$rx_avail" ] && [ "$rx_avail" != null ]; then
		for ((i = rx_used; i != rx_avail; i = (i + 1) & 0xffff)); do
			addr=$(ql_qmp "{\"execute\":\"x-query-virtio-queue-element\",\"arguments\":{\"path\":\"$base\",\"queue\":0,\"index\":$i}}" |
				jq '.return.descs[0].addr')
			total=$((total + 1))
			[ "$addr" -ge "$dimm_lo" ] && [ "$addr" -lt "$dimm_hi" ] && in_dimm=$((in_dimm + 1))
		done
	fi
	local tx_in=0 tx_total=0
	for ((i = 0; i < 64; i++)); do
		addr=$(ql_qmp "{\"execute\":\"x-query-virtio-queue-element\",\"arguments\":{\"path\":\"$base\",\"queue\":1,\"index\":$i}}" |
			jq '.return.descs[0].addr // empty')
		[ -n "$addr" ] || continue
		tx_total=$((tx_total + 1))
		[ "$addr" -ge "$dimm_lo" ] && [ "$addr" -lt "$dimm_hi" ] && tx_in=$((tx_in + 1))
	done
	# Every buffer posted at the snapshot is used once the ring's used index
	# has passed the avail index read then.
	local used_now=$rx_used k=0
	while [ "$k" -lt 60 ]; do
		used_now=$(ql_qmp "{\"execute\":\"x-query-virtio-queue-element\",\"arguments\":{\"path\":\"$base\",\"queue\":0}}" |
			jq '.return.used.idx')
		[ $(((used_now - rx_avail) & 0xffff)) -lt 32768 ] && break
		k=$((k + 1))
		sleep 0.5
	done
	vq_say "guest memory: DIMMs at GPA $(printf 0x%x "$dimm_lo")..$(printf 0x%x "$dimm_hi"), boot RAM below 0x10000000"
	vq_say "receive ring: $in_dimm of the $total buffers posted (ring indexes $rx_used..$rx_avail) in DIMMs; used index since: $used_now"
	vq_say "transmit ring: $tx_in of $tx_total descriptors (64 ring slots) point into DIMMs"
	if [ "$total" -gt 0 ] && [ "$in_dimm" -eq "$total" ] && [ $(((used_now - rx_avail) & 0xffff)) -lt 32768 ]; then
		g_pass buffers "all $total receive buffers the guest had posted lay in hot-plugged DIMMs, and the back-end then filled every one (used index $rx_used -> $used_now); $tx_in of $tx_total transmit descriptors point into DIMMs too"
	else
		g_fail buffers "$in_dimm of $total posted receive buffers in DIMMs; used index $rx_used -> ${used_now:-?} (needed $rx_avail); transmit $tx_in of $tx_total"
	fi

	# ---- unplug movable DIMMs under traffic: the first $dimms_unplug of
	# them (each eject takes the guest a few tenths of a second under TCG).
	# The guest first writes page-cache data, which lands in the lowest
	# movable blocks (freshly onlined pages go to the end of the free
	# lists): offlining those must migrate it.
	ag "mount -o remount,size=90% /tmp; dd if=/dev/zero of=/tmp/fill bs=1M count=192 2>&1 | tail -n1; mem_zones" 120 || true
	mig0=$(kv migrated "$(ag_line zones)")
	rems=$(tl_requests REM_MEM_REG) sets=$(tl_requests SET_MEM_TABLE)
	t0=$(tl_now_ms)
	local ids=() id
	ql_qmp '{"execute":"query-memory-devices"}' >/dev/null
	for i in "${mov[@]}"; do
		[ ${#ids[@]} -lt "$dimms_unplug" ] || break
		id=$(echo "$ql_reply" | jq -r ".return[].data | select(.addr / $((dimm_mb << 20)) | floor == $i) | .id")
		ids+=("$id")
	done
	# All requests first (the guest works through the ejects in the
	# background), then every DEVICE_DELETED event, bounded.
	for id in "${ids[@]}"; do
		ql_qmp "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"$id\"}}" >/dev/null ||
			vq_say "device_del $id: $(ql_qmp_error)"
	done
	for id in "${ids[@]}"; do
		if ql_qmp "{\"wait-event\":\"DEVICE_DELETED\",\"data\":{\"device\":\"$id\"},\"timeout\":60}" 70 >/dev/null; then
			deleted=$((deleted + 1))
			ql_qmp "{\"execute\":\"object-del\",\"arguments\":{\"id\":\"m${id#d}\"}}" >/dev/null
		else
			vq_say "no DEVICE_DELETED for $id: $(ql_qmp_error)"
			break
		fi
	done
	t1=$(tl_now_ms)
	# QEMU updates the back-end as the DIMM leaves the address space, just
	# before the event: give the back-end a moment (bounded).
	k=30
	while [ "$(tl_maps)" -gt $((maps1 - deleted)) ] && [ $k -gt 0 ]; do
		k=$((k - 1))
		sleep 0.1
	done
	maps2=$(tl_maps)
	rems=$(($(tl_requests REM_MEM_REG) - rems)) sets=$(($(tl_requests SET_MEM_TABLE) - sets))
	ag "mem_zones" 30
	mig=$(($(kv migrated "$(ag_line zones)") - ${mig0:-0}))
	vq_say "unplugged $deleted of ${#ids[@]} DIMMs in $(((t1 - t0) / 1000)) s, the guest migrating $mig pages out of them; back-end mappings $maps1 -> $maps2, REM_MEM_REG $rems, SET_MEM_TABLE $sets"
	vq_say "guest: $(echo "$ag_out" | sed -n 's/^VHU-TEST: //p' | paste -sd';' -)"
	why=
	[ "$deleted" -eq "${#ids[@]}" ] || why="$deleted of ${#ids[@]} DIMMs unplugged"
	proc_alive "$tp_pid" || why="${why:+$why; }testpmd died"
	[ "${maps2:-0}" -eq $((maps1 - deleted)) ] || why="${why:+$why; }the back-end still maps $maps2 regions, $((maps1 - deleted)) expected"
	[ "$vq_backend" != vhu ] || [ "$rems" -eq "$deleted" ] || why="${why:+$why; }$rems REM_MEM_REG for $deleted DIMMs"
	if [ -z "$why" ]; then
		g_pass unplug "$deleted DIMMs unplugged while the guest pinged (the guest migrated $mig pages out of them first); the back-end unmapped each ($maps1 -> $maps2 regions; $([ "$rems" -gt 0 ] && echo "$rems REM_MEM_REG" || echo "$sets SET_MEM_TABLE")) and lives"
	else
		g_fail unplug "$why"
	fi

	# ---- a DIMM holding the guest's buffers: the guest cannot empty it and
	# keeps it (it answers the eject with a failure status); the back-end's
	# table does not change.
	id=$(ql_qmp '{"execute":"query-memory-devices"}' | jq -r ".return[].data | select(.addr / $((dimm_mb << 20)) | floor == ${kern[0]}) | .id")
	ql_qmp '{"events":1}' >/dev/null
	rems=$(tl_requests REM_MEM_REG) sets=$(tl_requests SET_MEM_TABLE)
	ost=
	if ql_qmp "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"$id\"}}" >/dev/null; then
		for ((k = 0; k < 30; k++)); do
			ql_qmp '{"events":1}' >/dev/null
			ost=$(echo "$ql_reply" | jq -r --arg d "$id" '[.events[] | select(.event == "ACPI_DEVICE_OST" and .data.info.device == $d and .data.info.status != 0) | .data.info.status] | first // empty')
			[ -n "$ost" ] && break
			echo "$ql_reply" | grep -q '"DEVICE_DELETED"' && break
			sleep 0.5
		done
	fi
	sleep 1
	maps1=$(tl_maps)
	if echo "$ql_reply" | grep -q '"DEVICE_DELETED"' || [ "$(tl_maps)" != "$maps2" ]; then
		g_fail in-use "$id, holding the guest's buffers, went: the back-end maps $(tl_maps) regions ($maps2 before)"
	elif [ -n "$ost" ] && proc_alive "$tp_pid" && [ "$(tl_requests REM_MEM_REG)" = "$rems" ] &&
		[ "$(tl_requests SET_MEM_TABLE)" = "$sets" ]; then
		g_pass in-use "device_del of $id (zone Normal, holds the guest's receive buffers): the guest refused the eject (ACPI status $(printf 0x%x "$ost")); no table change reached the back-end, which still maps it"
	else
		g_fail in-use "device_del of $id: ACPI status '${ost:-none in 15 s}', back-end $(proc_alive "$tp_pid" && echo alive || echo dead)"
	fi

	# ---- traffic went on through all of it
	stream_finish || { g_abort "agent: $ag_why"; return; }
	vq_say "guest stream: $st"
	why=$(frames_why "$st" 0)
	if [ -z "$why" ]; then
		g_pass traffic "through plug, online, unplug: $(frames_note "$st"); longest silence $(kv silence_ms "$st") ms, longest round trip $(kv max_rtt_ms "$st") ms"
	else
		g_fail traffic "$why"
	fi

	# ---- the guest goes: every mapping goes with it
	ql_stop
	n=50
	while [ "$(tl_maps)" != 0 ] && [ $n -gt 0 ]; do
		n=$((n - 1))
		sleep 0.1
	done
	if [ "$(tl_maps)" = 0 ] && proc_alive "$tp_pid"; then
		g_pass leaks "QEMU gone: the back-end unmapped all $maps1 regions"
	else
		g_fail leaks "QEMU gone: the back-end still maps $(tl_maps) guest regions"
	fi
}

# ------------------------------------------------------------------ restart
#
# lsc_events: link state change events testpmd has printed so far.
lsc_events() {
	grep -ac 'link state change event' "$tp_log"
}

# link_status: "up" or "down", testpmd's view of port 0.
link_status() {
	tp_cmd "show port info 0" | sed -n 's/^Link status: *//p' | head -n1
}

# restart_case MODE: MODE server (net_vhu listens, QEMU reconnect=1) or
# client (client=1; QEMU server=on). The guest pings every $ping_every s; the
# back-end is SIGKILLed and started again at once.
restart_case() {
	local mode=$1 sock=$vq_dir/restart-$mode.sock t_kill t_start t_up t_traffic t_lsc
	local old_link new_link0 stats rx tx why inflight lsc0 lsc1 lsc2 down_link recov r0 resumed
	rm -f "$sock"
	if [ "$mode" = server ]; then
		tp_start "rs-$mode" server "$sock" 1 icmpecho nohuge $tp_opts || return 1
		wait_socket "$sock" 10 || { q_why="the back-end did not create $sock"; return 1; }
		guest_up "rs-$mode" "$sock" client agent || return 1
	else
		ql_start "rs-$mode" "$sock" server agent || { q_why="QEMU did not start"; return 1; }
		wait_socket "$sock" 30 || { q_why="QEMU did not create $sock"; return 1; }
		tp_start "rs-$mode" client "$sock" 1 icmpecho nohuge $tp_opts || return 1
		ag_ready $boot_timeout || return 1
		ql_qmp_open || { q_why="no QMP socket"; return 1; }
	fi
	ag "stream_start $ping_every" || { q_why="agent: $ag_why"; return 1; }
	stream_until 50 60 || { q_why="the guest's pings were not answered before the restart"; return 1; }
	old_link=$(link_status)
	r0=$(kv replies "$(ag_line peek)")

	# ---- the back-end dies and a new one starts at once
	t_kill=$(tl_now_ms)
	tp_sigkill
	# net_vhost does not replace the socket file a dead server left ("failed
	# to bind: Address already in use"): removed here, as an operator must.
	# net_vhu replaces it itself.
	if [ "$mode" = server ] && [ "$vq_backend" = vhost ] && [ -S "$sock" ]; then
		rm -f "$sock"
		vq_say "net_vhost: stale socket file removed by the test before the restart"
	fi
	t_start=$(tl_now_ms)
	if ! tp_start "rs-$mode-2" "$mode" "$sock" 1 icmpecho nohuge $tp_opts; then
		q_why="the new testpmd did not start"
		return 1
	fi
	t_up=$(tl_now_ms)
	new_link0=$(link_status)
	lsc0=$(lsc_events)
	# first frames forwarded by the new back-end, bounded at twice the bound
	t_traffic=
	while [ $(($(tl_now_ms) - t_start)) -lt $((restart_bound * 2000)) ]; do
		stats=$(tp_port_stats)
		rx=$(kv rx_packets "$stats") tx=$(kv tx_packets "$stats")
		if [ "${rx:-0}" -gt 0 ] && [ "${tx:-0}" -gt 0 ]; then
			t_traffic=$(tl_now_ms)
			break
		fi
		sleep 0.1
	done
	# a hundred more replies through the new back-end
	resumed=0
	stream_until $((r0 + 100)) 60 && resumed=1
	stream_finish || { q_why="agent: $ag_why"; return 1; }
	lsc1=$(lsc_events)
	inflight=$(tl_requests GET_INFLIGHT_FD)
	vq_say "guest stream: $st"
	recov=$([ -n "$t_traffic" ] && echo $((t_traffic - t_start)))
	vq_say "killed at 0 ms; new testpmd started $((t_start - t_kill)) ms, prompt at $((t_up - t_kill)) ms, first frame forwarded at $([ -n "$t_traffic" ] && echo "$((t_traffic - t_kill)) ms" || echo never); guest's longest silence $(kv silence_ms "$st") ms ($(kv gap "$st") requests unanswered in a row)"
	vq_say "link (testpmd): before the kill $old_link; new testpmd at its prompt: $new_link0, then $((lsc1)) LSC events; guest carrier down $(kv carrier_down "$st") / up $(kv carrier_up "$st"); GET_INFLIGHT_FD requests from QEMU: $inflight"

	# ---- traffic within the bound
	if [ -n "$recov" ] && [ "$recov" -le $((restart_bound * 1000)) ] && [ "$resumed" = 1 ]; then
		g_pass "$mode-traffic" "SIGKILL under traffic: the new back-end forwarded its first frame $recov ms after it was started (bound ${restart_bound} s; prompt at $((t_up - t_start)) ms), the guest's requests were answered again after $(kv silence_ms "$st") ms of silence; guest not rebooted"
	else
		g_fail "$mode-traffic" "first frame $([ -n "$recov" ] && echo "after $recov ms" || echo never) (bound ${restart_bound} s); $(($(kv replies "$st") - r0)) replies after the restart (100 wanted)"
	fi
	# ---- frames: every loss inside the one outage, nothing twice, nothing stray
	why=$(frames_why "$st" 1)
	if [ -z "$why" ]; then
		g_pass "$mode-frames" "$(frames_note "$st")$([ "$(kv lost "$st")" = 0 ] || echo ", all in the outage ($(kv gap "$st") in a row)"); $(kv late "$st") answered later than 1 s (queued in the guest's ring while no back-end ran, served by the new one)"
	else
		g_fail "$mode-frames" "$why"
	fi
	# ---- link: the guest saw down and up; the new application up, then
	# down once the front-end goes
	lsc2=$lsc1 down_link=
	ql_stop
	local n=50
	while [ $n -gt 0 ]; do
		lsc2=$(lsc_events)
		[ "$lsc2" -gt "$lsc1" ] && break
		n=$((n - 1))
		sleep 0.1
	done
	down_link=$(link_status)
	why=
	[ "$old_link" = up ] || why="link was '$old_link' before the kill"
	[ "$(kv carrier_down "$st")" -ge 1 ] && [ "$(kv carrier_up "$st")" -ge 1 ] ||
		why="${why:+$why; }guest carrier down $(kv carrier_down "$st") / up $(kv carrier_up "$st")"
	[ "$lsc1" -ge 1 ] || why="${why:+$why; }no LSC event in the new testpmd while the guest reconnected"
	[ "$lsc2" -gt "$lsc1" ] && [ "$down_link" = down ] ||
		why="${why:+$why; }QEMU gone: $((lsc2 - lsc1)) more LSC events, link '$down_link'"
	if [ -z "$why" ]; then
		g_pass "$mode-link" "guest carrier went down and up; the new testpmd got an LSC event as the guest came back (link up) and another when QEMU went (link down)"
	else
		g_fail "$mode-link" "$why"
	fi
	tl_tp_stop
	return 0
}

grp_restart() {
	local mode c
	g_begin restart
	for mode in server client; do
		if ! restart_case $mode; then
			q_show_tail
			for c in traffic frames link; do
				g_fail "$mode-$c" "$q_why"
			done
		fi
		ql_stop
		tl_tp_stop
	done
}

# ------------------------------------------------------------------ reboot
#
# pings_ok N: the Nth boot's first pings were all answered.
pings_ok() {
	local base rx g
	[ "$(grep -ac '^VHU-TEST: ping first ok' "$q_serial")" -ge "$1" ] && return 0
	# Where the missing reply went: the receive ring's indexes in guest
	# memory against what the guest's driver counted.
	base=$(ql_qmp '{"execute":"x-query-virtio"}' | jq -r '.return[0].path')
	rx=$(ql_qmp "{\"execute\":\"x-query-virtio-queue-element\",\"arguments\":{\"path\":\"$base\",\"queue\":0}}" |
		jq -c '{avail: .return.avail.idx, used: .return.used.idx}')
	ag "cat /sys/class/net/eth0/statistics/rx_packets" 10 && g=$(echo "$ag_out" | tail -n1)
	q_why="the guest's first pings after boot $1 were not all answered ($(grep -a 'packets transmitted' "$q_serial" | tail -n1 | tr -d '\r'); receive ring $rx, guest rx_packets ${g:-?}; back-end $(tp_port_stats))"
	return 1
}
#
# The guest resets under traffic: QMP system_reset, sysrq b from inside (QEMU
# without -no-reboot restarts it), and its driver removed and loaded again.
# The back-end keeps serving; nothing leaks.
grp_reboot() {
	local sock=$vq_dir/reboot.sock fds0 fds1 fds2 maps1 maps2 t0 t1 st_all=() st why bad='' r0 resumed
	g_begin reboot
	tp_start reboot server "$sock" 1 icmpecho nohuge $tp_opts || { g_abort "testpmd did not start"; return; }
	wait_socket "$sock" 10 || { g_abort "the back-end did not create $sock"; return; }
	fds0=$(tl_fds)
	if ! guest_up rb "$sock" client agent reboot=1; then
		q_show_tail
		g_abort "guest: $q_why"
		return
	fi
	maps1=$(tl_maps) fds1=$(tl_fds)

	# ---- QMP system_reset while the guest pings
	ag "stream_start $ping_every" && stream_until 30 60 >/dev/null
	t0=$(tl_now_ms)
	ql_qmp '{"execute":"system_reset"}' >/dev/null
	if ag_ready $boot_timeout 2 && pings_ok 2; then
		t1=$(tl_now_ms)
		g_pass reset "system_reset under traffic: the guest booted again, its driver set the device up and pings were answered $(((t1 - t0) / 1000)) s later; testpmd alive"
	else
		q_show_tail
		g_fail reset "after system_reset: $q_why"
		g_abort "not reached: the guest did not come back from system_reset"
		return
	fi

	# ---- reboot from inside while the guest pings: sysrq b restarts the
	# machine at once (no device shutdown; QEMU resets the NIC with its rings
	# running). Not "reboot -f": with Debian's 6.1 kernel a sender inside
	# virtio_net's start_xmit spins forever once the shutdown has broken the
	# device (seen with net_vhost and net_vhu alike; see
	# doc/guides/testing/qemu.rst).
	stream_begin && stream_until 30 60 >/dev/null
	stream_finish && st_all+=("$st|0") && vq_say "guest stream: $st"
	ag "stream_start $ping_every" && stream_until 10 60 >/dev/null
	t0=$(tl_now_ms)
	echo "boot echo b >/proc/sysrq-trigger" >&"$ag_fd"
	if ag_ready $boot_timeout 3 && pings_ok 3; then
		t1=$(tl_now_ms)
		g_pass reboot "sysrq b in the guest under traffic: back and its pings answered $(((t1 - t0) / 1000)) s later; testpmd alive"
	else
		q_show_tail
		g_fail reboot "after sysrq b: $q_why"
		g_abort "not reached: the guest did not come back from its reboot"
		return
	fi

	# ---- virtio_net removed and loaded again while the guest pings: the
	# stream goes on (its requests fail while eth0 is gone) and must be
	# answered again by the new driver
	stream_begin && stream_until 30 60 >/dev/null
	ag "stream_peek" 10
	r0=$(kv replies "$(ag_line peek)")
	t0=$(tl_now_ms)
	if ag "reload" 60 && [ "$ag_rc" = 0 ]; then
		t1=$(tl_now_ms)
		resumed=0
		stream_until $((r0 + 100)) 60 && resumed=1
		if stream_finish; then
			st_all+=("$st|1")
			vq_say "guest stream: $st"
		fi
		if [ "$resumed" = 1 ]; then
			g_pass reload "rmmod virtio_net under traffic, insmod, eth0 up again in $((t1 - t0)) ms; $(($(kv replies "$st") - r0)) more requests answered by the new driver ($(kv send_errors "$st") could not be sent while eth0 was gone)"
		else
			g_fail reload "fewer than 100 replies after the driver came back: $st"
		fi
	else
		q_show_tail
		g_fail reload "reload: ${ag_why:-rc $ag_rc}: $(echo "$ag_out" | tail -n 2 | paste -sd' ' -)"
	fi

	# ---- every stream that ran to its end: nothing duplicated or stray
	for st in "${st_all[@]}"; do
		why=$(frames_why "${st%|*}" "${st##*|}")
		[ -z "$why" ] || bad="${bad:+$bad; }$why"
	done
	if [ ${#st_all[@]} -eq 0 ]; then
		g_fail frames "no stream ran to its end"
	elif [ -z "$bad" ]; then
		g_pass frames "${#st_all[@]} streams (between the resets; across the reload): nothing twice, nothing stale or damaged, every echo reply judged; no loss but the reload's"
	else
		g_fail frames "$bad"
	fi

	# ---- leaks: after three resets the back-end holds what it held after
	# the first boot; once QEMU goes, what it held before
	maps2=$(tl_maps) fds2=$(tl_fds)
	ql_stop
	local n=50
	while [ "$(tl_maps)" != 0 ] && [ $n -gt 0 ]; do
		n=$((n - 1))
		sleep 0.1
	done
	sleep 0.5
	why=
	[ "$maps2" = "$maps1" ] || why="guest memory mappings $maps1 after boot, $maps2 after the resets"
	[ "$fds2" = "$fds1" ] || why="${why:+$why; }back-end fds $fds1 after boot, $fds2 after the resets"
	[ "$(tl_maps)" = 0 ] || why="${why:+$why; }$(tl_maps) mappings left once QEMU went"
	[ "$(tl_fds)" = "$fds0" ] || why="${why:+$why; }back-end fds $fds0 before the guest, $(tl_fds) after"
	proc_alive "$tp_pid" || why="${why:+$why; }testpmd died"
	if [ -z "$why" ]; then
		g_pass leaks "after reset, reboot and reload the back-end held $maps2 mapping(s) and $fds2 fds as after the first boot; once QEMU went, 0 mappings and $fds0 fds as before"
	else
		g_fail leaks "$why"
	fi
}

# ------------------------------------------------------------------ main
vq_accel=none
vq_init || { echo "mktemp failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
vq_say "back-end: $vq_backend (VHU_QEMU_BACKEND), groups: $groups"

for g in $groups; do
	[ -n "${group_checks[$g]:-}" ] || { echo "unknown group '$g' in VHU_QEMU_CASES"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
done
vq_devargs=${VHU_QEMU_DEVARGS:-}
vq_prepare jq
tl_wrap_testpmd || skip_all "dpdk-testpmd not found"

for g in $groups; do
	"grp_$g"
	g_end
done
finish
