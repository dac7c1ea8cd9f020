# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# Guest case "agent" (sourced by /init for vhu.case=agent; mkguest.sh installs
# it as /lib/vhu-cases/agent.sh). It brings eth0 up, checks two pings, then
# serves commands the host writes on the second serial port (/dev/ttyS1, a
# QEMU pipe chardev): one line "ID COMMAND...", run by this shell, its output
# printed on the console as "VHU-OUT ID: ..." lines and ended by
# "VHU-TEST: ret ID rc=N". devtools/tests.d/qemu-lifecycle.sh drives it
# (helpers ag_* in devtools/qemu/lib.sh) to hot-plug memory, restart the
# back-end, reset the guest and reload its driver while traffic runs.
#
# The functions below are the commands the host calls besides plain shell.
# Nothing here sends a frame anywhere but to the link-local peer on eth0.

# ---- a sequence-numbered echo stream -------------------------------------
#
# vhu-ping (devtools/qemu/vhu-ping.c) sends tagged, sequence-numbered echo
# requests and judges every reply; these functions add the kernel's view.
#
# icmp NAME...: the kernel's ICMP counters NAME... (/proc/net/snmp).
icmp() {
	awk -v want="$*" '/^Icmp:/ { if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1; next }
		n = split(want, w, " "); for (i = 1; i <= n; i++) printf "%s%s", $col[w[i]], (i < n ? " " : "\n") }' /proc/net/snmp
}

# stream_start [INTERVAL-MS]: a new stream (default every 20 ms) in the
# background; the counters stream_stop compares are taken now.
stream_start() {
	stream_kill
	s=/sys/class/net/eth0
	echo "$(icmp OutEchos InEchoReps) $(cat $s/carrier_down_count) $(cat $s/carrier_up_count) $(cat $s/statistics/rx_dropped)" \
		>/tmp/stream.base
	rm -f /tmp/stream.now
	vhu-ping -i "${1:-20}" -o /tmp/stream.now "$peer" </dev/null >/tmp/stream.out 2>&1 &
	echo $! >/tmp/stream.pid
}

stream_kill() {
	[ -s /tmp/stream.pid ] || return 0
	kill -KILL "$(cat /tmp/stream.pid)" 2>/dev/null
	rm -f /tmp/stream.pid
}

# stream_peek: the running stream's counters.
stream_peek() {
	cat /tmp/stream.now 2>/dev/null || say "peek sent=0 replies=0"
}

# stream_stop: end the stream (vhu-ping listens one more second for replies
# in flight) and print its summary with the kernel's view added: requests
# the kernel sent (icmp_out_echos, = sent), echo replies it received
# (icmp_in_echo_reps, = echo_read: every one was read and judged), carrier
# down/up changes and frames the driver dropped (guest_rx_dropped) meanwhile
# (eth0's counters: across a driver reload they start again, so only the
# ICMP counters compare there).
stream_stop() {
	[ -s /tmp/stream.pid ] || { say "FAIL no stream running"; return 1; }
	p=$(cat /tmp/stream.pid)
	kill -TERM "$p"
	i=0
	while kill -0 "$p" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 50 ] || { kill -KILL "$p"; say "FAIL vhu-ping did not end"; break; }
		sleep 0.1
	done
	rm -f /tmp/stream.pid
	read -r out0 reps0 down0 up0 drop0 </tmp/stream.base
	set -- $(icmp OutEchos InEchoReps)
	s=/sys/class/net/eth0
	echo "$(grep '^VHU-TEST: stream ' /tmp/stream.out | tail -n1) icmp_out_echos=$(($1 - out0))" \
		"icmp_in_echo_reps=$(($2 - reps0)) carrier_down=$(($(cat $s/carrier_down_count) - down0))" \
		"carrier_up=$(($(cat $s/carrier_up_count) - up0)) guest_rx_dropped=$(($(cat $s/statistics/rx_dropped) - drop0))"
}

# ---- memory blocks -------------------------------------------------------
#
# mem_blocks STATE: the memory block numbers in STATE (online|offline).
mem_blocks() {
	for b in /sys/devices/system/memory/memory[0-9]*; do
		[ "$(cat "$b/state")" = "$1" ] && echo "${b##*memory}"
	done | sort -n | tr '\n' ' '
}

# mem_online HOW BLOCK...: online each block (HOW online_kernel|online_movable)
# once it exists (ACPI may add it a moment after the DIMM was plugged).
mem_online() {
	how=$1 ok=0 bad=''
	shift
	for n in "$@"; do
		f=/sys/devices/system/memory/memory$n/state
		i=0
		while [ ! -e "$f" ] && [ $i -lt 100 ]; do
			i=$((i + 1))
			sleep 0.1
		done
		if [ "$(cat $f 2>/dev/null)" = online ] || echo "$how" >$f 2>/dev/null; then
			ok=$((ok + 1))
		else
			bad="$bad $n"
		fi
	done
	say "online how=$how ok=$ok failed=${bad:-none}"
}

# mem_zones: pages present, managed and free in the Normal and Movable zones
# (on this guest both hold only hot-plugged memory: boot RAM is below 4 GiB).
mem_zones() {
	awk '/^Node .* zone/ { z = $4 } /^ +pages free/ { f[z] = $3 } /^ +present/ { p[z] = $2 }
		/^ +managed/ { m[z] = $2 }
		END { printf "VHU-TEST: zones normal_present=%d normal_managed=%d normal_free=%d movable_present=%d movable_managed=%d movable_free=%d",
			p["Normal"], m["Normal"], f["Normal"], p["Movable"], m["Movable"], f["Movable"] }' /proc/zoneinfo
	# pages moved by migration so far (offlining a block migrates what it holds)
	echo " migrated=$(awk '$1 == "pgmigrate_success" { print $2 }' /proc/vmstat)"
	say "blocks online=$(mem_blocks online | wc -w) offline=$(mem_blocks offline | wc -w)"
}

# ---- the driver ----------------------------------------------------------
#
# reload: virtio_net removed and loaded again (the guest resets the device;
# QEMU stops and restarts its rings on the back-end), eth0 configured again.
reload() {
	ip link set eth0 down
	rmmod virtio_net || { say "FAIL rmmod virtio_net"; return 1; }
	i=0
	while [ -e /sys/class/net/eth0 ]; do
		i=$((i + 1))
		[ $i -le 100 ] || { say "FAIL eth0 still there 10 s after rmmod"; return 1; }
		sleep 0.1
	done
	insmod /lib/vhu-modules/virtio_net.ko || { say "FAIL insmod virtio_net"; return 1; }
	i=0
	while [ ! -e /sys/class/net/eth0 ]; do
		i=$((i + 1))
		[ $i -le 100 ] || { say "FAIL no eth0 10 s after insmod"; return 1; }
		sleep 0.1
	done
	up
}

# ---- the command loop ----------------------------------------------------
up
ping_check first -c 2 -i 0.2 -W 5
[ -e /dev/ttyS1 ] || fail "no /dev/ttyS1: the host gave no command port"
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3</dev/ttyS1
say "agent ready"
while :; do
	if ! read -r id cmd <&3; then
		sleep 0.1
		continue
	fi
	[ -n "$id" ] || continue
	[ "$cmd" = quit ] && break
	# Output goes out as it comes (a FAIL that powers the guest off is seen);
	# whatever a command starts in the background must redirect its output.
	{
		eval "$cmd"
		echo $? >/tmp/agent.rc
	} 2>&1 | sed "s/^/VHU-OUT $id: /"
	say "ret $id rc=$(cat /tmp/agent.rc)"
done
exec 3<&-
stats
