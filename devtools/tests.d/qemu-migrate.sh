#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Live migration of a real guest between two vhost-user ports of one
# dpdk-testpmd (net_vhu, or DPDK's net_vhost to compare): the source QEMU on
# port 0, the destination QEMU (-incoming) on port 1, migrated over a unix
# socket through QMP while the guest sends to itself through the back-end
# (testpmd macswap, each port looped onto itself) both ways at once. Guide:
# doc/guides/testing/qemu.rst.
#
# Groups of checks (VHU_MIGRATE_CASES, default "precopy postcopy"):
#   precopy   migrate   the migration completes; downtime from QMP; the
#                       back-end forwarded on port 0 during it, port 1 after
#             content   what the guest received after the switch-over is
#                       right: UDP datagrams and a TCP stream checked byte by
#                       byte (and the TCP stream's md5), no checksum error in
#                       the guest's /proc/net/snmp
#             rings     sequence-numbered datagrams: none twice, and every
#                       one missing accounted for by a counted drop (frames
#                       in flight at the switch-over); ring indexes logged
#             announce  the guest's announcement (gratuitous ARP after
#                       GUEST_ANNOUNCE, or the back-end's RARP after
#                       SEND_RARP) reached port 1 of the DPDK application
#             fault     again with VHU_TEST_FAULT=drop-dirty-bit (receive
#                       buffers left out of the dirty log): passes only when
#                       the content check sees the corruption
#   postcopy  migrate, content, rings, announce as above, the switch to
#             postcopy (migrate-start-postcopy) made early, while most of
#             guest memory has not been sent
#             stall     how long the destination's forwarding lcore slept in
#                       userfaultfd waits, measured from /proc (schedstat)
#
# The guest: devtools/qemu/mkguest.sh's image plus an archive with the
# migrate case (guest-migrate.sh) and its traffic tool (guest-traffic.c,
# built static here). Network rule: QEMU has no other NIC; 169.254.0.0/16
# only; the migration stream is a unix socket.
#
# Environment:
#   VHU_QEMU_BACKEND     vhu (default) or vhost (DPDK's net_vhost)
#   VHU_BUILD_DIR        build directory holding librte_net_vhu.so
#   VHU_MIGRATE_CASES    groups to run (default "precopy postcopy")
#   VHU_MIGRATE_SECS     seconds of guest traffic per migration (default 20)
#   VHU_MIGRATE_FAULT=none  the fault case's run without the fault (a control:
#                        its check must then fail, the content being right)
#   VHU_MIGRATE_MLOCK=0  testpmd with --no-mlockall (it locks all memory by
#                        default, which pre-faults every new mapping)
#   VHU_QEMU_ACCEL, VHU_QEMU_CACHE, VHU_QEMU_KEEP as for qemu-guest.sh
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
groups=${VHU_MIGRATE_CASES:-precopy postcopy}
secs=${VHU_MIGRATE_SECS:-20}
fault_name=${VHU_MIGRATE_FAULT:-drop-dirty-bit}
[ "$fault_name" = none ] && fault_name=''
vq_ip=169.254.79.1
vq_peer=169.254.79.2
vq_mac=52:54:00:79:00:01
boot_timeout=150
qmp_py=devtools/qemu/qmp.py
# Guest checksums in software, so that /proc/net/snmp counts what arrives
# damaged: no checksum or segmentation offload on the device.
devopts="csum=off,guest_csum=off,gso=off,host_tso4=off,host_tso6=off,host_ecn=off,host_ufo=off"
devopts="$devopts,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off"

declare -A group_checks=(
	[precopy]="migrate content rings announce fault"
	[postcopy]="migrate content rings announce stall"
)

vq_name=qemu-migrate
say() { vq_say "$@"; }
# (the PASS/FAIL bookkeeping: check groups in devtools/qemu/lib.sh)

# ------------------------------------------------------------------ one migration
#
# mig_run NAME MODE [FAULT]: boot a guest on port 0, migrate it (MODE precopy
# or postcopy) to a QEMU on port 1 while it runs its traffic, let it finish
# there. Sets r_why (empty on success: the guest reported its results on the
# destination), r_mig (QMP's final query-migrate), r_dst_mig (the
# destination's), the r_* counters and leaves testpmd running for the
# judges. FAULT is a VHU_TEST_FAULT value for the back-end.
mig_run() {
	local name=$1 mode=$2 fault=${3:-} extra='' caps left t0 tpargs=(--port-topology=loop) pc_arg=()
	local src_pid src_qmp src_serial dst_qmp append
	r_why='' r_mig='' r_dst_mig='' r_stall='' r_pc_started='' r_fwd0_mid='' r_bcast=''
	[ "$mode" = postcopy ] && extra=",postcopy-support=1" pc_arg=(8)
	[ "${VHU_MIGRATE_MLOCK:-1}" = 0 ] && tpargs+=(--no-mlockall)
	VHU_TP_ENV=${fault:+VHU_TEST_FAULT=$fault} \
		VHU_TP_EAL="--log-level=lib.vhu.config:debug --log-level=lib.vhost.config:debug" \
		tp_start_ports "$name" macswap nohuge \
		"iface=$vq_dir/$name-src.sock,queues=1$extra" "iface=$vq_dir/$name-dst.sock,queues=1$extra" \
		-- "${tpargs[@]}" || { r_why="testpmd did not start"; return 1; }
	if grep -aqE 'postcopy.*(refused|not supported|unsupported|failed)' "$tp_log"; then
		r_why="the back-end refuses postcopy-support=1: $(grep -aE 'postcopy.*(refused|not supported|unsupported|failed)' "$tp_log" | head -n1)"
		return 1
	fi
	# No retry (tp_retry): a frame the guest's full receive ring does not
	# take is dropped, as the stream's loss accounting expects, and a stopped
	# source never holds up the destination's port.

	# 500 datagrams/s and 1 MB/s of TCP, which the guest keeps up with.
	append="vhu.secs=$secs vhu.size=${size:-200} vhu.pps=${pps:-500} vhu.tcp=${tcp:-1000000} vhu.rxdefer=${rxdefer:-0}"
	qm_start "$name-src" "$vq_dir/$name-src.sock" memfd migrate "$devopts${qdev:+,$qdev}" "$append"
	src_pid=$q_pid src_qmp=$q_qmp src_serial=$q_serial
	qm_start "$name-dst" "$vq_dir/$name-dst.sock" memfd migrate "$devopts${qdev:+,$qdev}" "$append" -incoming defer
	dst_pid=$q_pid dst_qmp=$q_qmp dst_serial=$q_serial dst_log=$q_log
	if ! proc_wait_for "$src_serial" '^VHU-TEST: (migrate running|FAIL|done)' $boot_timeout "$src_pid" ||
		! grep -aq '^VHU-TEST: migrate running' "$src_serial"; then
		r_why="the guest's traffic did not start on the source: $(grep -a '^VHU-TEST: FAIL' "$src_serial" | head -n1 | tr -d '\r')"
		q_serial=$src_serial q_log=$vq_dir/$name-src.qemu.log q_show_tail
		return 1
	fi
	if ! qmp_ready "$dst_qmp" 20 || ! qmp_ready "$src_qmp" 20; then
		r_why="QEMU does not answer on its QMP socket"
		return 1
	fi
	# A few seconds of traffic on the source first.
	sleep 3
	r_fwd0_before=$(tp_fwd_port 0)

	if [ "$mode" = postcopy ]; then
		caps='{"capabilities":[{"capability":"postcopy-ram","state":true}]}'
		if ! left=$(qmp "$src_qmp" migrate-set-capabilities "$caps") ||
			! left=$(qmp "$dst_qmp" migrate-set-capabilities \
				'{"capabilities":[{"capability":"postcopy-ram","state":true},{"capability":"postcopy-blocktime","state":true}]}'); then
			r_why="QEMU refuses postcopy-ram: ${left#error: }"
			r_skip=1
			return 1
		fi
		# Slow enough that most of memory is still at the source when the
		# guest starts on the destination, and remains so for a few seconds.
		qmp "$src_qmp" migrate-set-parameters '{"max-bandwidth": 33554432, "max-postcopy-bandwidth": 33554432}' >/dev/null
	fi
	# The forwarding lcore's sleeps while the migration runs (in pre-copy:
	# the baseline, it should not sleep at all).
	rm -f "$vq_dir/$name.stall-stop"
	/usr/bin/python3 devtools/qemu/stallmon.py "$tp_pid" rte-worker "$vq_dir/$name.stall-stop" 200 "$vq_dir" \
		>"$vq_dir/$name.stall" 2>&1 &
	stall_pid=$!
	vq_pids+=("$stall_pid")
	t0=$(date +%s.%N)
	if ! left=$(qmp "$dst_qmp" migrate-incoming "{\"uri\":\"unix:$vq_dir/$name.mig\"}") ||
		! left=$(qmp "$src_qmp" migrate "{\"uri\":\"unix:$vq_dir/$name.mig\"}"); then
		r_why="QMP migrate: ${left#error: }"
		return 1
	fi
	# postcopy: the switch once 8 MB have gone (of 256)
	r_mig=$(timeout 200 /usr/bin/python3 "$qmp_py" "$src_qmp" --wait-migration 180 "${pc_arg[@]}" 2>&1)
	r_pc_started=$(echo "$r_mig" | sed -n 's/^postcopy-active //p')
	r_mig=$(echo "$r_mig" | tail -n1)
	touch "$vq_dir/$name.stall-stop"
	proc_wait_exit "$stall_pid" 30 || proc_end "$stall_pid" 2
	r_stall=$(grep '^stall ' "$vq_dir/$name.stall")
	r_secs=$(echo "$(date +%s.%N) - $t0" | bc)
	r_fwd0_mid=$(tp_fwd_port 0)
	r_dst_mig=$(qmp "$dst_qmp" query-migrate 2>/dev/null)
	qmp "$src_qmp" quit >/dev/null 2>&1
	proc_wait_exit "$src_pid" 20 || proc_end "$src_pid" 2
	if [ "$(jget "$r_mig" status)" != completed ]; then
		r_why="the migration did not complete: $(echo "$r_mig" | cut -c1-300)"
		proc_alive "$dst_pid" || r_why="$r_why; the destination QEMU exited"
		return 1
	fi
	# The guest's announcement comes in rounds for about a second after the
	# switch-over; counted while the destination's device is there (net_vhost
	# has no counters once the front-end has gone).
	sleep 2
	r_bcast=$(tp_xstat 1 rx_q0_broadcast_packets)
	q_serial=$dst_serial q_log=$dst_log q_pid=$dst_pid
	if ! dst_wait $((secs * 3 + 60)); then
		r_why="the guest did not finish on the destination$(proc_alive "$dst_pid" || echo " (QEMU exited)")$r_hung"
		q_show_tail
		proc_end "$dst_pid" 2
		return 1
	fi
	proc_wait_exit "$dst_pid" 20 || proc_end "$dst_pid" 2
	return 0
}

# dst_wait SECONDS: wait for the guest on the destination to finish; give
# up early (r_hung says so) when for 20 s neither port 1 of the back-end
# moved a frame nor the guest printed a line.
dst_wait() {
	local end=$(($(date +%s) + $1)) last='' cur quiet=0
	r_hung=''
	while [ "$(date +%s)" -lt "$end" ]; do
		proc_wait_for "$dst_serial" '^VHU-TEST: done' 5 "$dst_pid" && return 0
		proc_alive "$dst_pid" || return 1
		cur="$(kv rx "$(tp_fwd_port 1)") $(stat -c %s "$dst_serial")"
		if [ "$cur" = "$last" ]; then
			quiet=$((quiet + 5))
			if [ $quiet -ge 20 ]; then
				r_hung=" (hung: no frame and no console line for 20 s)"
				return 1
			fi
		else
			quiet=0
		fi
		last=$cur
	done
	return 1
}

# guest_death NAME: the first kernel error the destination guest of run
# NAME printed on its console (empty: none).
guest_death() {
	grep -aE 'BUG|Oops|double fault|general protection|not a head|panic|Segmentation' \
		"$vq_dir/$1-dst.serial" 2>/dev/null | head -n1 | tr -d '\r'
}

# mig_try NAME MODE: mig_run, and once more (run NAME-2) when the
# destination guest died or hung after the switch-over: QEMU 7.2 under TCG
# loses a migrated guest now and then, with DPDK's net_vhost as with
# net_vhu (doc/guides/testing/qemu.rst). Sets r_name (the run judged) and
# r_retry (what happened to the first attempt, empty when it went well).
mig_try() {
	local death
	r_retry='' r_name=$1
	mig_run "$1" "$2" && return 0
	case "$r_why" in
	*"did not finish on the destination"*) ;;
	*) return 1 ;;
	esac
	death=$(guest_death "$1")
	r_retry="attempt 1 lost the destination guest (${death:-it hung})"
	say "$1: $r_retry; once more"
	tp_stop
	r_name=$1-2
	mig_run "$r_name" "$2"
}

# jget JSON KEY[.KEY]: one value of a JSON object (empty when absent).
jget() {
	/usr/bin/python3 -c '
import json, sys
try:
    v = json.loads(sys.argv[1])
    for k in sys.argv[2].split("."):
        v = v[k]
    print(v)
except Exception:
    pass' "$1" "$2"
}

# gl PREFIX: the guest's last "VHU-TEST: PREFIX ..." line on the destination, without the tag.
gl() {
	grep -a "^VHU-TEST: $1" "$dst_serial" | tail -n1 | tr -d '\r' | sed 's/^VHU-TEST: //'
}
# gk PREFIX KEY: KEY=value of that line.
gk() {
	kv "$2" "$(gl "$1")"
}

# What the guest and the back-end counted, for the judges below.
collect() {
	r_sent=$(gk udp-send sent) r_recv=$(gk udp-recv unique) r_dup=$(gk udp-recv dup)
	r_bad=$(gk udp-recv bad) r_gaps=$(gl udp-gaps)
	r_tcp_sent=$(gk tcp-send bytes) r_tcp_got=$(gk tcp-recv bytes) r_tcp_bad=$(gk tcp-recv bad_at)
	r_md5=$(gk tcp-recv md5) r_md5_want=$(gk tcp-recv want)
	r_snmp=$(gl snmp-after)
	r_fwd0=$(tp_fwd_port 0) r_fwd1=$(tp_fwd_port 1)
	r_gdrop=$(q_stat rx_dropped)
}

snmp_errors() {
	local k v out=()
	for k in Ip.InHdrErrors IpExt.InTruncatedPkts IpExt.InCsumErrors Icmp.InCsumErrors \
		Tcp.InCsumErrors Tcp.InErrs Udp.InCsumErrors Dev.rx_length_errors Dev.rx_frame_errors; do
		v=$(kv "$k" "$r_snmp")
		[ "${v:-0}" = 0 ] || out+=("$k=$v")
	done
	echo "${out[*]}"
}

# ------------------------------------------------------------------ judges
judge_migrate() {
	local mode=$1 st dt tt rx0a rx0b rx1 why=()
	st=$(jget "$r_mig" status) dt=$(jget "$r_mig" downtime) tt=$(jget "$r_mig" total-time)
	rx0a=$(kv rx "$r_fwd0_before") rx0b=$(kv rx "$r_fwd0_mid") rx1=$(kv rx "$r_fwd1")
	[ "$st" = completed ] || why+=("status $st")
	[ "${rx0b:-0}" -gt "${rx0a:-0}" ] || why+=("port 0 forwarded nothing while migrating (rx $rx0a -> $rx0b)")
	[ "${rx1:-0}" -gt 0 ] || why+=("port 1 forwarded nothing after the switch-over")
	if [ "$mode" = postcopy ]; then
		[ -n "$r_pc_started" ] || why+=("the migration never entered postcopy-active")
		[ "$(jget "$r_mig" ram.postcopy-bytes)" -gt 0 ] 2>/dev/null || why+=("no page was sent in postcopy")
	fi
	r_downtime=$dt
	if [ ${#why[@]} -eq 0 ]; then
		g_pass migrate "$mode in ${tt} ms, downtime ${dt} ms (QMP)$( [ "$mode" = postcopy ] &&
			echo ", $(jget "$r_mig" ram.postcopy-bytes) bytes and $(jget "$r_mig" ram.postcopy-requests) page requests after the switch, vCPU blocked $(jget "$r_dst_mig" postcopy-blocktime) ms"); back-end port 0 rx $rx0a -> $rx0b while it ran, port 1 rx $rx1 after"
	else
		g_fail migrate "$(IFS=';'; echo "${why[*]}")"
	fi
}

# content_errors: what the content checks saw wrong (empty: nothing).
content_errors() {
	local e out=()
	[ "${r_bad:-x}" = 0 ] || out+=("$r_bad datagrams with wrong bytes")
	[ "${r_dup:-x}" = 0 ] || out+=("$r_dup datagrams delivered twice")
	[ "${r_tcp_bad:-x}" = -1 ] || out+=("TCP stream wrong from byte $r_tcp_bad")
	[ -n "$r_md5" ] && [ "$r_md5" = "$r_md5_want" ] || out+=("TCP md5 $r_md5, expected $r_md5_want")
	[ -n "$r_tcp_sent" ] && [ "$r_tcp_sent" = "$r_tcp_got" ] || out+=("TCP: $r_tcp_got of $r_tcp_sent bytes")
	e=$(snmp_errors)
	[ -z "$e" ] || out+=("guest snmp $e")
	[ -z "$r_sent" ] && out+=("no results from the guest")
	(IFS=';'; echo "${out[*]}")
}

judge_content() {
	local why
	why=$(content_errors)
	if [ -z "$why" ]; then
		g_pass content "UDP $r_recv datagrams and TCP $r_tcp_got bytes (md5 $r_md5) as sent, every byte checked; no checksum error in the guest's /proc/net/snmp"
	else
		g_fail content "$why"
	fi
}

# ring_bases NAME: the indexes net_vhu logged (debug) for the source's
# GET_VRING_BASE and the destination's SET_VRING_BASE of vrings 0 and 1, as
# rb_s0 rb_s1 rb_d0 rb_d1 (empty when not logged).
ring_bases() {
	rb_s0=$(grep -a "$1-src.sock) vring 0 stopped at" "$tp_log" | tail -n1 | awk '{print $NF}')
	rb_s1=$(grep -a "$1-src.sock) vring 1 stopped at" "$tp_log" | tail -n1 | awk '{print $NF}')
	rb_d0=$(grep -a "$1-dst.sock) vring 0 base" "$tp_log" | tail -n1 | awk '{print $NF}')
	rb_d1=$(grep -a "$1-dst.sock) vring 1 base" "$tp_log" | tail -n1 | awk '{print $NF}')
}

judge_rings() {
	local name=$1 lost acc d0 d1 ue bases why=()
	if [ -z "$r_sent" ] || [ -z "$r_recv" ]; then
		g_fail rings "no sequence counts from the guest"
		return
	fi
	lost=$((r_sent - r_recv))
	d0=$(kv tx_dropped "$r_fwd0") d1=$(kv tx_dropped "$r_fwd1")
	ue=$(kv Udp.InErrors "$r_snmp")
	acc=$((${d0:-0} + ${d1:-0} + ${ue:-0} + ${r_gdrop:-0}))
	r_lost=$lost
	ring_bases "$name"
	bases=''
	if [ -n "$rb_s0$rb_d0" ]; then
		bases="source stopped vrings 0/1 at $rb_s0/$rb_s1, destination resumed them at $rb_d0/$rb_d1"
		[ "$rb_s0/$rb_s1" = "$rb_d0/$rb_d1" ] || why+=("$bases")
	fi
	[ "$r_dup" = 0 ] || why+=("$r_dup datagrams delivered twice")
	[ "$lost" -le "$acc" ] || why+=("$lost datagrams lost, only $acc drops counted (back-end port 0: ${d0:-0}, port 1: ${d1:-0}; guest: udp ${ue:-0}, rx ${r_gdrop:-0}): a ring resumed past frames never delivered")
	if [ ${#why[@]} -eq 0 ]; then
		g_pass rings "$r_recv of $r_sent datagrams, none twice; $lost lost, within the $acc drops counted (back-end could not deliver: port 0 ${d0:-0}, port 1 ${d1:-0}; guest: udp ${ue:-0}, rx ${r_gdrop:-0})${bases:+; $bases}; gaps: ${r_gaps#udp-gaps}"
	else
		g_fail rings "$(IFS=';'; echo "${why[*]}")"
	fi
}

judge_announce() {
	local b=$r_bcast
	if [ -z "$b" ]; then
		g_skip announce "the back-end has no rx_q0_broadcast_packets counter"
	elif [ "$b" -gt 0 ]; then
		g_pass announce "$b broadcast frames from the guest on port 1 within 2 s of the switch-over (its announcement; it sends nothing else broadcast)"
	else
		g_fail announce "no broadcast frame reached port 1: the guest's announcement did not reach the application"
	fi
}

judge_stall() {
	local line sl n lg uf as w src
	line=$(echo "$r_stall" | head -n1)
	if [ -z "$line" ] || echo "$line" | grep -q 'no thread'; then
		g_fail stall "no measurement of the forwarding lcore (${line:-stallmon printed nothing})"
		return
	fi
	sl=$(kv sleep_ms "$line") n=$(kv waits "$line") lg=$(kv longest_ms "$line")
	uf=$(kv uffd_samples "$line") as=$(kv asleep_samples "$line") w=$(kv window_ms "$line")
	src=$(kv source "$line")
	r_stall_fig="$sl ms in $n waits, longest $lg ms"
	g_pass stall "the destination's forwarding lcore slept $sl ms in $n waits, the longest $lg ms ($src; of the 1 ms samples that found it asleep, $uf of $as were in handle_userfault) during the ${w} ms migration${r_stall_pre:+ (in pre-copy: $(kv sleep_ms "$r_stall_pre") ms in $(kv waits "$r_stall_pre") waits)}, and forwarded again afterwards (port 1 rx $(kv rx "$r_fwd1"))"
}

# ------------------------------------------------------------------ groups
grp_precopy() {
	local n
	g_begin precopy
	r_skip=
	if ! mig_try pre precopy; then
		g_abort "$r_why${r_retry:+ ($r_retry)}"
		tp_stop
	else
		[ -n "$r_retry" ] && say "precopy: $r_retry; judging the second"
		collect
		judge_migrate precopy
		judge_content
		judge_rings "$r_name"
		judge_announce
		fig_pre="downtime ${r_downtime} ms, ${r_lost} datagrams lost"
		r_stall_pre=$(echo "$r_stall" | head -n1)
		tp_stop
	fi
	g_owed fault || return
	if [ "$vq_backend" != vhu ]; then
		g_skip fault "the fault switch (VHU_TEST_FAULT) is net_vhu's"
		return
	fi
	# Up to two attempts; the check passes on the first in which the
	# content check sees the damage.
	for n in 1 2; do
		fault_run "prefault$n" && return
		say "fault run $n: $fault_msg"
	done
	g_fail fault "$fault_msg"
}

# fault_run NAME: the pre-copy migration again with the receive buffers
# left out of the dirty log, arranged so that frames the back-end wrote
# are certain to be read by the guest only on the destination, from pages
# nothing but the log could have had sent again:
#  - the guest reads its receive ring only about every 300 ms (NAPI with
#    deferred interrupts), so frames wait there unread when it is paused
#    for the switch-over;
#  - its frames are small (102-byte datagrams, 20 kB/s of TCP): the guest
#    copies them out and never writes to a receive buffer itself;
#  - a 1024-entry receive ring at 250 frames a second: buffers are posted
#    (their pages last written by the guest) seconds before the back-end
#    fills them, long before the last dirty sync.
# 0 (after g_pass) when the content check caught the damage; 1 with
# fault_msg saying what happened (also for a control run).
fault_run() {
	local name=$1 why hits lost acc death
	fault_msg=''
	if ! rxdefer=300000000 size=60 pps=200 tcp=20000 qdev=rx_queue_size=1024 \
		mig_run "$name" precopy "$fault_name"; then
		death=$(guest_death "$name")
		tp_stop
		fault_msg="$r_why${death:+: $death} (a guest that dies proves nothing: QEMU loses one now and then without the fault)"
		return 1
	fi
	collect
	hits=$(grep -a 'TEST FAULT drop-dirty-bit:' "$tp_log" | grep -a "$name-src" |
		sed 's/.*drop-dirty-bit: \([0-9]*\).*/\1/' | tail -n1)
	tp_stop
	why=$(content_errors)
	lost=$((${r_sent:-0} - ${r_recv:-0}))
	acc=$(($(kv tx_dropped "$r_fwd0") + $(kv tx_dropped "$r_fwd1") + $(kv Udp.InErrors "$r_snmp") + ${r_gdrop:-0}))
	[ "$lost" -le "$acc" ] || why="${why:+$why;}$lost datagrams lost with only $acc drops counted"
	if [ -z "$fault_name" ]; then
		fault_msg="control run, no fault armed: the content check ${why:+saw: }${why:-saw nothing wrong} ($r_recv of $r_sent datagrams)"
	elif [ -z "$hits" ] || [ "$hits" = 0 ]; then
		fault_msg="the fault never struck (no buffer write left out of the dirty log)"
	elif [ -n "$why" ]; then
		g_pass fault "$hits buffer writes left out of the dirty log; the content check caught it: $why"
		return 0
	else
		fault_msg="$hits buffer writes left out of the dirty log, yet the content check saw nothing wrong ($r_recv of $r_sent datagrams, $lost lost)"
	fi
	return 1
}

grp_postcopy() {
	g_begin postcopy
	r_skip=
	if [ -n "$uffd_why" ]; then
		for c in ${group_checks[postcopy]}; do g_skip "$c" "$uffd_why"; done
		return
	fi
	if ! mig_try post postcopy; then
		if [ -n "$r_skip" ]; then
			for c in "${g_left[@]}"; do g_skip "$c" "$r_why"; done
		else
			[ -n "$r_stall" ] && say "lcore while it lasted: $r_stall"
			g_abort "$r_why${r_retry:+ ($r_retry)}"
		fi
		tp_stop
		return
	fi
	[ -n "$r_retry" ] && say "postcopy: $r_retry; judging the second"
	collect
	judge_migrate postcopy
	judge_content
	judge_rings "$r_name"
	judge_announce
	judge_stall
	fig_post="downtime ${r_downtime} ms, ${r_lost} datagrams lost, lcore stall ${r_stall_fig:-?}"
	tp_stop
}

# ------------------------------------------------------------------ main
vq_accel=none
vq_init || { echo "mktemp failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
say "back-end: $vq_backend (VHU_QEMU_BACKEND), groups: $groups"
for g in $groups; do
	[ -n "${group_checks[$g]:-}" ] || { echo "unknown group '$g' in VHU_MIGRATE_CASES"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
done
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 not installed (the QMP client)"
vq_prepare bc cpio gzip
qm_initrd "$vq_dir/initrd-migrate.img" || skip_all "guest traffic tool: $qm_why"
vq_initrd=$vq_dir/initrd-migrate.img

# Postcopy needs userfaultfd here (QEMU and the back-end both use it).
uffd_why=$(/usr/bin/python3 -c '
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.syscall(323, os.O_CLOEXEC | os.O_NONBLOCK)
if fd < 0:
    e = ctypes.get_errno()
    fd = libc.syscall(323, os.O_CLOEXEC | os.O_NONBLOCK | 1)   # UFFD_USER_MODE_ONLY
    if fd < 0:
        print("userfaultfd unavailable: %s" % os.strerror(e))
if fd >= 0:
    os.close(fd)' 2>&1)

fig_pre='' fig_post=''
for g in $groups; do
	"grp_$g"
done
[ -n "$fig_pre$fig_post" ] && say "figures ($vq_backend): precopy: ${fig_pre:-not run}; postcopy: ${fig_post:-not run}"
finish
