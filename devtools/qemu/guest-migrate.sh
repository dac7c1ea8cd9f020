# shellcheck shell=sh
# SPDX-License-Identifier: BSD-3-Clause
#
# vhu.case=migrate, sourced by the test guest's /init (guest-init.sh) from
# /lib/vhu-cases/migrate.sh: devtools/tests.d/qemu-migrate.sh ships it, with
# /bin/vhu-traffic (guest-traffic.c), in an extra initramfs archive. It uses
# the helpers of guest-init.sh (say, fail, up, offloads, ping_check, stats).
#
# The guest sends to itself through the back-end (which loops each frame back
# with the MACs swapped) for vhu.secs seconds, both ways at once on the same
# rings: a UDP stream of sequence-numbered datagrams whose every byte is
# checked on receipt, and a TCP stream checked byte by byte and by md5. The
# host migrates the guest while this runs. Parameters:
#   vhu.secs=N   seconds of traffic (default 30)
#   vhu.pps=N    UDP datagrams per second (default 500), vhu.size=N bytes (200)
#   vhu.tcp=N    TCP bytes per second (default 1000000)
#   vhu.rxdefer=NS  read the receive ring only about every NS nanoseconds
#                (NAPI with deferred interrupts) instead of at each
#                interrupt: received frames wait there unread for a while,
#                so some always do when the guest is paused (default 0).
#                virtio_net is reloaded with napi_tx=0 first: with the one
#                shared INTx line of a TCG guest, every transmit interrupt
#                would poll the receive ring too.

secs=30 pps=500 size=200 tcp=1000000 rxdefer=0
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	vhu.secs=*) secs=${arg#vhu.secs=} ;;
	vhu.pps=*) pps=${arg#vhu.pps=} ;;
	vhu.size=*) size=${arg#vhu.size=} ;;
	vhu.tcp=*) tcp=${arg#vhu.tcp=} ;;
	vhu.rxdefer=*) rxdefer=${arg#vhu.rxdefer=} ;;
	esac
done
command -v vhu-traffic >/dev/null 2>&1 || fail "no vhu-traffic in this initramfs"
if [ "$rxdefer" -gt 0 ]; then
	rmmod virtio_net || fail "rmmod virtio_net"
	insmod /lib/vhu-modules/virtio_net.ko napi_tx=0 || fail "insmod virtio_net napi_tx=0"
	i=0
	while [ ! -e /sys/class/net/eth0 ]; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "no eth0 10 s after insmod"
		sleep 0.1
	done
fi

# The checksum and error counters of the guest's stack, as "Proto.Field=N".
snmp() {
	awk '$1 == "Ip:" || $1 == "Icmp:" || $1 == "Tcp:" || $1 == "Udp:" {
		if (!(($1) in head)) { head[$1] = $0; next }
		n = split(head[$1], k); split($0, v)
		for (i = 2; i <= n; i++)
			if (k[i] ~ /Err|Csum|Discard|Retrans|Trunc/)
				printf "%s%s=%s ", substr($1, 1, length($1) - 1) ".", k[i], v[i]
	}' /proc/net/snmp
	awk '$1 == "IpExt:" {
		if (!(($1) in head)) { head[$1] = $0; next }
		n = split(head[$1], k); split($0, v)
		for (i = 2; i <= n; i++)
			if (k[i] ~ /Trunc|Csum/)
				printf "IpExt.%s=%s ", k[i], v[i]
	}' /proc/net/netstat
	for f in rx_length_errors rx_frame_errors rx_crc_errors; do
		printf "Dev.%s=%s " $f "$(cat /sys/class/net/eth0/statistics/$f 2>/dev/null)"
	done
}

# wait_pid PID SECONDS: wait (bounded) for a background job to end.
wait_pid() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le $(($2 * 10)) ] || { kill "$1" 2>/dev/null; return 1; }
		sleep 0.1
	done
	wait "$1" 2>/dev/null
	return 0
}

up
# Our own frames come back to us (as in the bulk case): the peer address is
# ours too, and policy routing sends locally generated packets out of eth0.
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
offloads
ping_check loop -c 3 -i 0.2 -W 5
if [ "$rxdefer" -gt 0 ]; then
	echo "$rxdefer" >/sys/class/net/eth0/gro_flush_timeout || fail "gro_flush_timeout"
	echo 1000000 >/sys/class/net/eth0/napi_defer_hard_irqs || fail "napi_defer_hard_irqs"
	say "rx deferred by $rxdefer ns: $(ping -c 3 -i 0.2 -W 9 "$peer" 2>&1 | tail -n1)"
fi
say "snmp-before $(snmp)"

vhu-traffic udp-recv "$peer" 5002 3 >/tmp/udp-recv 2>&1 &
urecv=$!
vhu-traffic tcp-recv "$peer" 5001 2>/tmp/tcp-recv | md5sum >/tmp/tcp-md5 &
trecv=$!
sleep 0.3
vhu-traffic tcp-send "$ip" "$peer" 5001 "$secs" "$tcp" >/tmp/tcp-send 2>&1 &
tsend=$!
vhu-traffic udp-send "$ip" "$peer" 5002 "$secs" "$pps" "$size" >/tmp/udp-send 2>&1 &
usend=$!
say "migrate running secs=$secs pps=$pps size=$size tcp=$tcp"
wait_pid $usend $((secs * 3 + 60)) || say "FAIL udp-send did not end"
wait_pid $tsend 60 || say "FAIL tcp-send did not end"
wait_pid $urecv 30 || say "FAIL udp-recv did not end"
wait_pid $trecv 30 || say "FAIL tcp-recv did not end"
say "$(cat /tmp/udp-send)"
say "$(sed -n 1p /tmp/udp-recv)"
say "$(sed -n 2p /tmp/udp-recv)"
say "$(cat /tmp/tcp-send)"
n=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' /tmp/tcp-recv)
got=$(cut -d' ' -f1 /tmp/tcp-md5)
want=$(vhu-traffic gen "${n:-0}" | md5sum | cut -d' ' -f1)
say "$(cat /tmp/tcp-recv) md5=$got want=$want"
say "snmp-after $(snmp)"
say "tcpext $(awk '$1 == "TcpExt:" {
	if (!(($1) in head)) { head[$1] = $0; next }
	n = split(head[$1], k); split($0, v)
	for (i = 2; i <= n; i++)
		if (v[i] != 0 && k[i] ~ /Abort|Reset|Challenge|PAWS|Drop|Timeout|OFO|Prune|Rcv|Backlog/)
			printf "%s=%s ", k[i], v[i]
}' /proc/net/netstat)"
stats
