#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# /init of the test guest (busybox). It loads the virtio-net modules, brings eth0 up
# with a link-local address, runs one case chosen on the kernel command line, prints
# what it saw as "VHU-TEST: ..." lines on the serial console and powers off.
# The host side (devtools/tests.d/qemu-guest.sh) reads those lines.
#
# Kernel command line parameters:
#   vhu.case=probe|ping|reload|bulk|mq|traffic   what to do (default ping), or
#                                   NAME for /lib/vhu-cases/NAME.sh (from
#                                   devtools/qemu/case-NAME.sh: agent)
#   vhu.ip=169.254.A.B              our address       vhu.peer=169.254.C.D  the peer's
#   vhu.count=N                     pings per step    vhu.mb=N              bulk size, MiB
# Only 169.254.0.0/16 addresses are accepted: nothing may leave this test.

/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp

say() {
	echo "VHU-TEST: $*"
}

finish() {
	say "done"
	sync
	poweroff -f
	# poweroff -f does not return; if it ever does, stop here.
	sleep 3600
}

fail() {
	say "FAIL $*"
	finish
}

case_=ping ip=169.254.10.1 peer=169.254.10.2 count=5 mb=8
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	vhu.case=*) case_=${arg#vhu.case=} ;;
	vhu.ip=*) ip=${arg#vhu.ip=} ;;
	vhu.peer=*) peer=${arg#vhu.peer=} ;;
	vhu.count=*) count=${arg#vhu.count=} ;;
	vhu.mb=*) mb=${arg#vhu.mb=} ;;
	esac
done
for a in "$ip" "$peer"; do
	case "$a" in
	169.254.*) ;;
	*) fail "address $a is not link-local" ;;
	esac
done
say "boot case=$case_ kernel=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
# The accelerator probe only needs to know that the guest boots.
[ "$case_" = probe ] && finish

while read -r m; do
	[ -n "$m" ] || continue
	insmod "/lib/vhu-modules/$m.ko" || fail "insmod $m"
done </lib/vhu-modules/order

# Wait (bounded) for the virtio-net device to show up as eth0.
i=0
while [ ! -e /sys/class/net/eth0 ]; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "no eth0 after 10 s"
	sleep 0.1
done

# Negotiated feature bits of every virtio-net device: the sysfs file is a string of
# '0'/'1', bit 0 first.
for d in /sys/bus/virtio/devices/*; do
	[ "$(cat "$d/device" 2>/dev/null)" = "0x0001" ] || continue
	say "features $(cat "$d/features")"
done

have_ethtool=0
ethtool -i eth0 >/dev/null 2>&1 && have_ethtool=1

offloads() {
	[ $have_ethtool = 1 ] || return 0
	say "offloads $(ethtool -k eth0 | awk -F': ' '
		/^(rx-checksumming|tx-checksumming|scatter-gather|tcp-segmentation-offload|generic-receive-offload|generic-segmentation-offload|rx-gro-hw):/ {
			split($2, v, " "); printf "%s=%s ", $1, v[1] }')"
}

stats() {
	s=/sys/class/net/eth0/statistics
	# Let the last frames land (a TCP teardown may still be on the wire):
	# wait, bounded, until the counters stop moving.
	prev='' i=0
	while [ $i -lt 25 ]; do
		cur="$(cat $s/tx_packets) $(cat $s/rx_packets)"
		[ "$cur" = "$prev" ] && break
		prev=$cur
		i=$((i + 1))
		sleep 0.2
	done
	say "stats tx_packets=$(cat $s/tx_packets) tx_bytes=$(cat $s/tx_bytes)" \
		"rx_packets=$(cat $s/rx_packets) rx_bytes=$(cat $s/rx_bytes)" \
		"tx_dropped=$(cat $s/tx_dropped) rx_dropped=$(cat $s/rx_dropped)" \
		"tx_errors=$(cat $s/tx_errors) rx_errors=$(cat $s/rx_errors)"
	if [ $have_ethtool = 1 ]; then
		say "qstats $(ethtool -S eth0 | awk -F': ' '
			/(rx|tx)_queue_[0-9]+_(packets|bytes|drops|xdp_drops|kicks):/ {
				gsub(/ /, "", $1); printf "%s=%s ", $1, $2 }')"
	fi
}

up() {
	ip link set lo up
	ip link set eth0 up || fail "ip link set eth0 up"
	ip addr add "$ip/16" dev eth0 || fail "ip addr add $ip"
	i=0
	while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ]; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "no carrier on eth0 after 10 s"
		sleep 0.1
	done
	say "link up mac=$(cat /sys/class/net/eth0/address) mtu=$(cat /sys/class/net/eth0/mtu)"
}

# ping_check NAME ARGS...: run a bounded ping, require every reply.
ping_check() {
	name=$1
	shift
	out=$(timeout 60 ping "$@" "$peer" 2>&1)
	sent=$(echo "$out" | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p')
	got=$(echo "$out" | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
	if [ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$sent" = "$got" ]; then
		say "ping $name ok $got/$sent"
	else
		echo "$out" | tail -n 3
		say "FAIL ping $name ${got:-0}/${sent:-0}"
	fi
}

# cpu_pings TAG: one ping per CPU at the same time. The driver maps each CPU to
# its own transmit queue, so both queue pairs carry traffic.
cpu_pings() {
	taskset 1 ping -c "$count" -i 0.2 -W 5 -q "$peer" >/tmp/$1-p0 2>&1 &
	p0=$!
	taskset 2 ping -c "$count" -i 0.2 -W 5 -q "$peer" >/tmp/$1-p1 2>&1 &
	p1=$!
	wait $p0
	wait $p1
	for f in /tmp/$1-p0 /tmp/$1-p1; do
		sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' $f)
		got=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' $f)
		if [ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$sent" = "$got" ]; then
			say "ping ${f#/tmp/} ok $got/$sent"
		else
			cat $f
			say "FAIL ping ${f#/tmp/} ${got:-0}/${sent:-0}"
		fi
	done
}

# vhu.case=NAME also names a case shipped in an extra initramfs archive as
# /lib/vhu-cases/NAME.sh (devtools/tests.d/qemu-migrate.sh ships "migrate"):
# it runs here, with the helpers above, and the guest powers off after it.
if [ -f "/lib/vhu-cases/$case_.sh" ]; then
	. "/lib/vhu-cases/$case_.sh"
	finish
fi

case "$case_" in
reload)
	# Pings, then the driver goes away and comes back: the guest resets the
	# device and QEMU stops and restarts every ring on the same connection.
	up
	ping_check small -c "$count" -i 0.2 -W 5
	ping_check large -c "$count" -i 0.2 -W 5 -s 1400
	ip link set eth0 down
	rmmod virtio_net || fail "rmmod virtio_net"
	i=0
	while [ -e /sys/class/net/eth0 ]; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "eth0 still there 10 s after rmmod"
		sleep 0.1
	done
	insmod /lib/vhu-modules/virtio_net.ko || fail "insmod virtio_net"
	i=0
	while [ ! -e /sys/class/net/eth0 ]; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "no eth0 10 s after insmod"
		sleep 0.1
	done
	up
	ping_check reload -c "$count" -i 0.2 -W 5
	stats
	;;
ping)
	up
	offloads
	ping_check small -c "$count" -i 0.2 -W 5
	ping_check large -c "$count" -i 0.2 -W 5 -s 1400
	stats
	;;
mq)
	up
	if [ $have_ethtool = 1 ]; then
		ethtool -L eth0 combined 2 2>&1 | head -n 2
		say "channels $(ethtool -l eth0 | awk -F':' '/^Combined/ { gsub(/[ \t]/, "", $2); printf "%s ", $2 }')"
	fi
	say "queues rx=$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l) tx=$(ls -d /sys/class/net/eth0/queues/tx-* | wc -l)"
	cpu_pings a
	if [ $have_ethtool = 1 ]; then
		# Fewer queue pairs and back: QEMU disables, then enables the second
		# pair's rings on the back-end while the device runs.
		ethtool -L eth0 combined 1 2>&1 | head -n 2
		ping_check one-pair -c "$count" -i 0.2 -W 5
		ethtool -L eth0 combined 2 2>&1 | head -n 2
		cpu_pings b
		say "channels-after $(ethtool -l eth0 | awk -F':' '/^Combined/ { gsub(/[ \t]/, "", $2); printf "%s ", $2 }')"
	fi
	stats
	;;
bulk)
	# The back-end forwards every frame back to us (testpmd "csum" engine: it
	# rewrites the destination MAC to ours and recomputes the checksums the guest
	# left to the device). To make a TCP stream leave through eth0 and come back,
	# the peer address is ours too and policy routing sends locally generated
	# packets out of eth0 instead of through lo.
	up
	ip addr add "$peer/32" dev eth0 || fail "ip addr add $peer"
	for f in all eth0 lo; do
		echo 1 >/proc/sys/net/ipv4/conf/$f/accept_local
		echo 0 >/proc/sys/net/ipv4/conf/$f/rp_filter
	done
	ip route add "$peer/32" dev eth0 src "$ip" table 100 || fail "route to $peer"
	ip route add "$ip/32" dev eth0 src "$peer" table 100 || fail "route to $ip"
	ip rule add pref 10 iif lo table 100 || fail "ip rule iif lo"
	ip rule add pref 20 table local || fail "ip rule local"
	ip rule del pref 0 table local || fail "ip rule del local"
	arp -i eth0 -s "$peer" 02:00:00:00:00:02 || fail "arp -s $peer"
	arp -i eth0 -s "$ip" 02:00:00:00:00:01 || fail "arp -s $ip"
	if [ $have_ethtool = 1 ]; then
		ethtool -K eth0 tx on tso on sg on >/dev/null 2>&1
	fi
	offloads
	ping_check loop -c "$count" -i 0.2 -W 5
	dd if=/dev/urandom of=/tmp/data bs=1M count="$mb" 2>/dev/null || fail "dd"
	want=$(md5sum </tmp/data | cut -d' ' -f1)
	# busybox nc ends as soon as its peer's stream ends: keep the receiver's
	# stdin open (it would half-close at once and end the sender early).
	sleep 300 | nc -l -p 5001 >/tmp/recv &
	srv=$!
	sleep 0.2
	start=$(cut -d' ' -f1 /proc/uptime)
	timeout 120 nc "$peer" 5001 </tmp/data >/dev/null
	rc=$?
	# The receiver ends when the sender's FIN arrives; bound the wait.
	i=0
	while kill -0 $srv 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 300 ] || { kill $srv; break; }
		sleep 0.1
	done
	end=$(cut -d' ' -f1 /proc/uptime)
	got=$(md5sum </tmp/recv | cut -d' ' -f1)
	size=$(wc -c </tmp/recv)
	if [ $rc = 0 ] && [ "$got" = "$want" ]; then
		say "bulk ok bytes=$size md5=$got seconds=$start..$end"
	else
		say "FAIL bulk rc=$rc bytes=$size want=$want got=$got"
	fi
	offloads
	stats
	;;
traffic)
	# Endless pings: the host kills QEMU while they run.
	up
	ping_check first -c 2 -i 0.2 -W 5
	say "traffic running"
	timeout 120 ping -i 0.01 -q "$peer" >/dev/null 2>&1
	stats
	;;
*)
	# Cases kept in their own files (devtools/qemu/case-NAME.sh).
	if [ -r "/lib/vhu-cases/$case_.sh" ]; then
		. "/lib/vhu-cases/$case_.sh"
	else
		fail "unknown case $case_"
	fi
	;;
esac
finish
