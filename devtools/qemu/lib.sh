# SPDX-License-Identifier: BSD-3-Clause
#
# Helpers for devtools/tests.d/qemu-guest.sh (sourced, not run): start and drive
# dpdk-testpmd as the vhost-user back-end, boot the test guest under QEMU, read
# what the guest printed on its serial console, and clean up after both.
#
# Every process started here is recorded and ended by its PID; every wait is
# bounded. All files (sockets, logs, FIFOs) live under one private mktemp -d.

# shellcheck source=../lib/proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/proc.sh"

vq_pids=()
vq_dir=
vq_keep=${VHU_QEMU_KEEP:-0}
vq_prefixes=()

vq_say() { echo "${vq_name:-qemu-guest}: $*"; }

# ------------------------------------------------------------------ check groups
#
# The PASS/FAIL bookkeeping of the tests.d/qemu-*.sh scripts. The script sets
# group_checks (group -> its checks, in order), groups (those to run),
# t_start, and counters passed, failed and skipped at 0, and defines g_end.
# A check is reported exactly once: g_abort fails those a group still owes.

g_name='' g_left=()

g_begin() {
	g_name=$1
	read -r -a g_left <<<"${group_checks[$1]}"
	echo
	vq_say "=== $g_name ($vq_backend, $vq_accel, at $(($(date +%s) - t_start)) s)"
}

# g_mark CHECK: forget CHECK from the group's list of checks still owed.
g_mark() {
	local c keep=()
	for c in "${g_left[@]}"; do
		[ "$c" = "$1" ] || keep+=("$c")
	done
	g_left=("${keep[@]}")
}
g_pass() { g_mark "$1"; echo "PASS $g_name/$1${2:+: $2}"; passed=$((passed + 1)); }
g_fail() { g_mark "$1"; echo "FAIL $g_name/$1${2:+: $2}"; failed=$((failed + 1)); }
g_skip() { g_mark "$1"; echo "SKIP $g_name/$1${2:+: $2}"; skipped=$((skipped + 1)); }
# g_owed CHECK: CHECK is not reported yet.
g_owed() { local c; for c in "${g_left[@]}"; do [ "$c" = "$1" ] && return 0; done; return 1; }

# g_abort REASON: every check of the group not reported yet fails for REASON.
g_abort() {
	local c
	for c in "${g_left[@]}"; do
		g_fail "$c" "$1"
	done
}

# finish: the summary line, and the exit status (0: nothing failed).
finish() {
	echo
	vq_say "wall time $(($(date +%s) - t_start)) s"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

# skip_all REASON: QEMU cannot run here; every check is skipped, never passed.
skip_all() {
	local g c
	vq_say "cannot run: $1"
	for g in $groups; do
		for c in ${group_checks[$g]:-}; do
			echo "SKIP $g/$c: $1"
			skipped=$((skipped + 1))
		done
	done
	finish
}

# vq_prepare TOOL...: what every QEMU test script needs before its first
# guest: each TOOL (and qemu-system-x86_64, dpdk-testpmd) installed, the
# back-end ($vq_backend: vhu needs $builddir's plugin, registering net_vhu;
# vhost is DPDK's), the guest image (vq_kernel, vq_initrd) and an
# accelerator that boots it (vq_accel). What is missing skips every check
# (skip_all, the script's or the one above); a wrong VHU_QEMU_BACKEND fails.
vq_prepare() {
	local tool guest
	for tool in qemu-system-x86_64 dpdk-testpmd "$@"; do
		command -v "$tool" >/dev/null 2>&1 ||
			skip_all "$tool not installed (devtools/setup.sh installs devtools/packages.d/qemu.txt)"
	done
	case "$vq_backend" in
	vhost) ;;
	vhu)
		vq_vhu_dir=$(cd "$builddir/drivers/net/vhu" 2>/dev/null && pwd)
		[ -n "$vq_vhu_dir" ] && [ -f "$vq_vhu_dir/librte_net_vhu.so" ] ||
			skip_all "$builddir/drivers/net/vhu/librte_net_vhu.so not built"
		# A plugin that does not register the driver is not a QEMU
		# failure: devtools/checks.sh reports it. (grep -c, not -q: an
		# early exit of grep would fail the pipeline.)
		[ "$(readelf -Ws "$vq_vhu_dir/librte_net_vhu.so" 2>/dev/null | grep -c '__net_vhu_param_string_export')" -gt 0 ] ||
			skip_all "librte_net_vhu.so does not register the net_vhu driver (VHU_QEMU_BACKEND=vhost runs the same test on DPDK's net_vhost)"
		;;
	*)
		echo "VHU_QEMU_BACKEND must be vhu or vhost"
		echo "0 passed, 1 failed, 0 skipped"
		exit 1
		;;
	esac
	guest=$(VHU_QEMU_CACHE=$vq_cache devtools/qemu/mkguest.sh) ||
		skip_all "guest image: $(echo "$guest" | sed -n 's/^SKIP: //p' | head -n1)"
	vq_kernel=$(echo "$guest" | sed -n 's/^KERNEL=//p')
	vq_initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')
	vq_say "guest kernel $(echo "$guest" | sed -n 's/^KVER=//p')"
	vq_pick_accel || skip_all "QEMU cannot boot the guest: $vq_why"
}

# vq_init: private directory and an exit trap that ends what we started.
vq_init() {
	vq_dir=$(mktemp -d "${TMPDIR:-/tmp}/vhu-qemu.XXXXXX") || return 1
	chmod 700 "$vq_dir"
	trap vq_cleanup EXIT
	trap 'exit 130' INT TERM
}

vq_cleanup() {
	local pid
	for pid in "${vq_pids[@]}"; do
		proc_end "$pid" 3
	done
	vq_pids=()
	eal_prefix_clean "${vq_prefixes[@]}"
	if [ -n "$vq_dir" ] && [ -d "$vq_dir" ]; then
		if [ "$vq_keep" = 1 ]; then
			vq_say "logs kept in $vq_dir"
		else
			rm -rf "$vq_dir"
		fi
	fi
}

# ------------------------------------------------------------------ testpmd
#
# One back-end at a time: tp_* variables describe it.
tp_pid='' tp_log='' tp_fd='' tp_prefix='' tp_fwd=

# tp_start NAME ROLE SOCK QUEUES FWD MEM [TESTPMD-ARGS...]
#   ROLE server|client (the back-end's side of the socket), MEM nohuge|huge.
#   Uses $vq_backend (vhost|vhu), $vq_vhu_dir (where librte_net_vhu.so is) and
#   $vq_devargs (extra devargs appended to the vdev).
tp_start() {
	local name=$1 role=$2 sock=$3 queues=$4 fwd=$5 mem=$6
	shift 6
	local vdev eal=() env=() in
	tp_prefix=vhuq$$$name
	tp_fwd=$fwd
	vq_prefixes+=("$tp_prefix")
	tp_log=$vq_dir/$name.testpmd.log
	in=$vq_dir/$name.testpmd.in
	mkfifo "$in" || return 1
	case "$vq_backend" in
	vhost) vdev="net_vhost0,iface=$sock,queues=$queues" ;;
	vhu)
		vdev="net_vhu0,iface=$sock,queues=$queues"
		eal+=(-d librte_net_vhu.so)
		env+=("LD_LIBRARY_PATH=$vq_vhu_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
		;;
	esac
	[ "$role" = client ] && vdev="$vdev,client=1"
	[ -n "${vq_devargs:-}" ] && vdev="$vdev,$vq_devargs"
	if [ "$mem" = huge ]; then
		eal+=(-m 256 --huge-unlink)
	else
		eal+=(--no-huge -m 256)
	fi
	# The forwarding lcore (1) and the main lcore (0) on their own CPUs when
	# there are two; QEMU's vCPU threads float.
	env "${env[@]}" stdbuf -oL dpdk-testpmd -l 0,1 --no-pci --file-prefix "$tp_prefix" \
		--log-level=lib.vhost.config:info "${eal[@]}" --vdev "$vdev" -- \
		-i --disable-link-check --nb-cores=1 --rxq="$queues" --txq="$queues" \
		--total-num-mbufs=16384 --forward-mode="$fwd" "$@" <"$in" >"$tp_log" 2>&1 &
	tp_pid=$!
	vq_pids+=("$tp_pid")
	# Read-write open: never blocks, and the FIFO never reports EOF to testpmd
	# while we hold it.
	exec {tp_fd}<>"$in"
	if ! proc_wait_for "$tp_log" '^testpmd> ' 60 "$tp_pid"; then
		vq_say "testpmd did not start; its log ends with:"
		tail -n 20 "$tp_log" | sed 's/^/    /'
		return 1
	fi
	tp_cmd "start" >/dev/null || return 1
	return 0
}

# wait_socket PATH SECONDS: 0 once PATH is a socket, 1 after SECONDS.
wait_socket() {
	local n=$(($2 * 10))
	while [ ! -S "$1" ]; do
		[ $n -gt 0 ] || return 1
		n=$((n - 1))
		sleep 0.1
	done
}

# tp_retry DELAY_US TIMES: a packet the port does not take at once is offered
# again, up to TIMES times DELAY_US apart, instead of being dropped (a guest
# that has not refilled yet, a receive buffer whose IOTLB entry is still being
# asked for). testpmd's burst settings alone do not do it: only a forwarding
# mode set "with retry" retries, and a running stream takes that setting when
# forwarding starts again.
# Prints what went wrong and returns 1 when testpmd did not take it.
tp_retry() {
	local c out
	for c in stop "set burst tx delay $1 retry $2" "set fwd $tp_fwd retry" start; do
		if ! out=$(tp_cmd "$c"); then
			echo "testpmd did not answer '$c'"
			return 1
		fi
		case "$c" in
		set\ fwd*)
			case "$out" in
			*"with retry"*) ;;
			*) echo "testpmd answered '$c' with: $(echo "$out" | tr -d '\r' | paste -sd' ' -)"; return 1 ;;
			esac
			;;
		esac
	done
}

# tp_cmd COMMAND: send one command, print what testpmd answered (bounded).
tp_cmd() {
	testpmd_ask "$tp_pid" "$tp_log" "$tp_fd" "$1"
}

# tp_port_stats: one line "rx_packets=N rx_missed=N ... tx_bytes=N" for port 0.
tp_port_stats() {
	tp_cmd "show port stats 0" | awk '
		{ for (i = 1; i < NF; i++) if ($i ~ /^(RX|TX)-[a-z]+:$/) {
			k = tolower($i); sub(":", "", k); sub("-", "_", k); printf "%s=%s ", k, $(i + 1) } }'
}

# tp_fwd_stats: per-stream "q0_rx=N q0_tx=N q1_rx=N ..." plus totals
# "rx=N tx=N tx_dropped=N" of testpmd's forwarding engine.
tp_fwd_stats() {
	tp_cmd "show fwd stats all" | awk '
		/Forward Stats for RX Port=/ { match($0, /Queue= *[0-9]+/); q = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", q); stream = 1; next }
		/Forward statistics for port/ { stream = 0; port = 1; next }
		/RX-packets:/ {
			for (i = 1; i < NF; i++) {
				if ($i == "RX-packets:") v["rx"] = $(i + 1)
				if ($i == "TX-packets:") v["tx"] = $(i + 1)
				if ($i == "TX-dropped:") v["txd"] = $(i + 1)
				if ($i == "RX-dropped:") v["rxd"] = $(i + 1)
			}
			if (stream) printf "q%s_rx=%s q%s_tx=%s q%s_tx_dropped=%s ", q, v["rx"], q, v["tx"], q, v["txd"]
			else if (port) printf "rx=%s rx_dropped=%s ", v["rx"], v["rxd"]
			stream = 0; next }
		/TX-packets:/ && port {
			for (i = 1; i < NF; i++) {
				if ($i == "TX-packets:") printf "tx=%s ", $(i + 1)
				if ($i == "TX-dropped:") printf "tx_dropped=%s ", $(i + 1)
			}
			port = 0 }'
}

tp_clear_stats() {
	tp_cmd "clear port stats 0" >/dev/null && tp_cmd "clear fwd stats all" >/dev/null
}

# tp_stop: quit politely, then by PID.
tp_stop() {
	[ -n "$tp_pid" ] || return 0
	if proc_alive "$tp_pid"; then
		{ echo "quit" >&"$tp_fd"; } 2>/dev/null
		proc_wait_exit "$tp_pid" 15 || proc_end "$tp_pid" 5
	fi
	wait "$tp_pid" 2>/dev/null
	exec {tp_fd}>&-
	rm -f /dev/hugepages/"${tp_prefix}"map_* 2>/dev/null
	rm -rf "/var/run/dpdk/$tp_prefix" 2>/dev/null
	tp_pid=
}

# ------------------------------------------------------------------ QEMU
q_pid='' q_serial='' q_log=''
# Kernel command line: serial console, power off on panic, no CPU-bug
# mitigations and no TSC calibration (both only slow a TCG guest down).
q_kargs="console=ttyS0 panic=-1 loglevel=4 mitigations=off tsc=reliable no_timer_check"

# q_args_common ACCEL MEM SMP: machine, memory and firmware-free boot arguments.
# MEM memfd|huge: guest RAM shared with the back-end either way.
q_common() {
	local accel=$1 mem=$2 smp=$3
	q_argv=(qemu-system-x86_64 -machine pc,accel="$accel" -m 256M -smp "$smp"
		-nodefaults -no-user-config -display none -monitor none -no-reboot
		-nic none)
	if [ "$mem" = huge ]; then
		q_argv+=(-object memory-backend-file,id=mem,size=256M,mem-path=/dev/hugepages,share=on,prealloc=on)
	else
		q_argv+=(-object memory-backend-memfd,id=mem,size=256M,share=on)
	fi
	q_argv+=(-numa node,memdev=mem -kernel "$vq_kernel" -initrd "$vq_initrd")
}

# q_start NAME SOCK ROLE MEM QUEUES CASE [DEVICE-OPTS [APPEND]]
#   ROLE client|server: QEMU's side of the socket. With server QEMU waits for the
#   back-end before it runs the guest.
q_start() {
	local name=$1 sock=$2 role=$3 mem=$4 queues=$5 case_=$6 devopts=${7:-} append=${8:-}
	local chr="socket,id=chr0,path=$sock" dev smp=1
	q_serial=$vq_dir/$name.serial
	q_log=$vq_dir/$name.qemu.log
	[ "$role" = server ] && chr="$chr,server=on,wait=on"
	[ "$queues" -gt 1 ] && smp=$queues
	dev="virtio-net-pci,netdev=net0,mac=$vq_mac,romfile="
	# QEMU 7.2 under TCG crashes in vhost_net_start with MSI-X: legacy INTx there.
	[ "$vq_accel" = tcg ] && dev="$dev,vectors=0"
	[ "$queues" -gt 1 ] && dev="$dev,mq=on"
	[ -n "$devopts" ] && dev="$dev,$devopts"
	q_common "$vq_accel" "$mem" "$smp"
	q_argv+=(-serial "file:$q_serial"
		-chardev "$chr" -netdev "vhost-user,id=net0,chardev=chr0,queues=$queues"
		-device "$dev"
		-append "$q_kargs ipv6.disable=1 vhu.case=$case_ vhu.ip=$vq_ip vhu.peer=$vq_peer $append")
	: >"$q_serial"
	"${q_argv[@]}" </dev/null >"$q_log" 2>&1 &
	q_pid=$!
	vq_pids+=("$q_pid")
}

# q_until REGEX SECONDS: wait until the guest console has a line matching REGEX.
# Gives up early, with the reason in q_why, when QEMU ends, when QEMU reports
# that the vhost-user back-end failed (it would retry forever), or when the
# guest has not even started its /init after 60 s. 0 when the line came.
q_until() {
	local re=$1 n=$(($2 * 10)) boot=600
	q_why=
	while :; do
		grep -aEq -- "$re" "$q_serial" 2>/dev/null && return 0
		if grep -aEq 'vhost_backend_init failed|failed to init vhost_net|unable to start vhost net|vhost_net_start|vhost-user.*(fail|error)' \
			"$q_log" 2>/dev/null; then
			q_why="QEMU: $(grep -aE 'fail|error' "$q_log" | grep -v warning | head -n1 | sed 's/^qemu-system-x86_64: //')"
			return 1
		fi
		if ! proc_alive "$q_pid"; then
			grep -aEq -- "$re" "$q_serial" 2>/dev/null && return 0
			q_why="QEMU exited"
			return 1
		fi
		if [ $boot -le 0 ] && ! grep -aq '^VHU-TEST: boot' "$q_serial"; then
			q_why="the guest did not start within 60 s"
			return 1
		fi
		if [ $n -le 0 ]; then
			q_why="no '$re' from the guest within $2 s"
			return 1
		fi
		n=$((n - 1)) boot=$((boot - 1))
		sleep 0.1
	done
}

# q_wait SECONDS: wait for the guest to finish ("VHU-TEST: done") and QEMU to
# exit by itself. 0 on a clean end; 1 otherwise (QEMU is then ended, q_why
# says why).
q_wait() {
	if ! q_until '^VHU-TEST: done' "$1"; then
		proc_end "$q_pid" 2
		return 1
	fi
	if ! proc_wait_exit "$q_pid" 20; then
		q_why="QEMU did not exit 20 s after the guest powered off"
		proc_end "$q_pid" 2
		return 1
	fi
	return 0
}

# q_kill: SIGKILL, the way a crashing QEMU goes.
q_kill() {
	kill -KILL "$q_pid" 2>/dev/null
	proc_wait_exit "$q_pid" 10
}

# q_stat KEY: value of "KEY=value" on the guest's last "VHU-TEST: stats" line.
q_stat() {
	grep -a '^VHU-TEST: stats ' "$q_serial" | tail -n1 | tr -d '\r' | tr ' ' '\n' | sed -n "s/^$1=//p"
}

q_qstat() {
	grep -a '^VHU-TEST: qstats ' "$q_serial" | tail -n1 | tr -d '\r' | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# kv KEY LINE: value of KEY=value in a "k=v k=v" line.
kv() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1
}

# q_features: the guest's negotiated virtio-net feature bitmap as "NAME NAME ...".
q_features() {
	local bits i names=() n
	bits=$(grep -a '^VHU-TEST: features ' "$q_serial" | head -n1 | tr -d '\r' | awk '{print $3}')
	[ -n "$bits" ] || return 1
	for ((i = 0; i < ${#bits}; i++)); do
		[ "${bits:i:1}" = 1 ] || continue
		case $i in
		0) n=CSUM ;; 1) n=GUEST_CSUM ;; 2) n=CTRL_GUEST_OFFLOADS ;; 3) n=MTU ;;
		5) n=MAC ;; 7) n=GUEST_TSO4 ;; 8) n=GUEST_TSO6 ;; 9) n=GUEST_ECN ;;
		10) n=GUEST_UFO ;; 11) n=HOST_TSO4 ;; 12) n=HOST_TSO6 ;; 13) n=HOST_ECN ;;
		14) n=HOST_UFO ;; 15) n=MRG_RXBUF ;; 16) n=STATUS ;; 17) n=CTRL_VQ ;;
		18) n=CTRL_RX ;; 19) n=CTRL_VLAN ;; 20) n=CTRL_RX_EXTRA ;;
		21) n=GUEST_ANNOUNCE ;; 22) n=MQ ;; 23) n=CTRL_MAC_ADDR ;;
		24) n=NOTIFY_ON_EMPTY ;; 27) n=ANY_LAYOUT ;; 28) n=RING_INDIRECT_DESC ;;
		29) n=RING_EVENT_IDX ;; 32) n=VERSION_1 ;; 33) n=ACCESS_PLATFORM ;;
		34) n=RING_PACKED ;; 35) n=IN_ORDER ;; 36) n=ORDER_PLATFORM ;;
		37) n=SR_IOV ;; 38) n=NOTIFICATION_DATA ;; 40) n=RING_RESET ;;
		*) n=bit$i ;;
		esac
		names+=("$n")
	done
	echo "${names[*]}"
}

# q_has_feature BIT
q_has_feature() {
	local bits
	bits=$(grep -a '^VHU-TEST: features ' "$q_serial" | head -n1 | tr -d '\r' | awk '{print $3}')
	[ "${bits:$1:1}" = 1 ]
}

# q_show_tail: the end of the guest console and of QEMU's own log, for a failure.
q_show_tail() {
	vq_say "guest console ($q_serial) ends with:"
	tail -n 15 "$q_serial" | tr -d '\r' | sed 's/^/    /'
	if [ -s "$q_log" ]; then
		vq_say "QEMU said:"
		grep -av 'but QEMU does not' "$q_log" | tail -n 10 | sed 's/^/    /'
	fi
	if [ -n "$tp_log" ] && grep -aqiE 'clos|refus|error|fail|invalid' "$tp_log"; then
		vq_say "the back-end said:"
		grep -aiE 'clos|refus|error|fail|invalid' "$tp_log" | grep -avE 'Closing ports|Port .* is closed' |
			tail -n 5 | sed 's/^/    /'
	fi
}

# ------------------------------------------------------------------ accelerator
#
# vq_pick_accel: sets vq_accel to kvm or tcg, or returns 1 (with vq_why) when
# QEMU cannot boot the guest at all. /dev/kvm may exist yet fail to run a stock
# kernel (QEMU aborts or spins): a bounded probe boot decides; the answer is
# cached per host kernel, QEMU and guest kernel.
vq_pick_accel() {
	local key cache_file probe_log pid t
	vq_why=
	if [ -n "${VHU_QEMU_ACCEL:-}" ]; then
		vq_accel=$VHU_QEMU_ACCEL
		return 0
	fi
	key=$( (uname -r; qemu-system-x86_64 --version | head -n1; sha256sum <"$vq_kernel") | sha256sum | cut -c1-16)
	cache_file=$vq_cache/accel-$key
	if [ -s "$cache_file" ]; then
		vq_accel=$(head -n1 "$cache_file")
		vq_say "accelerator: $vq_accel (cached probe: $(tail -n1 "$cache_file"))"
		return 0
	fi
	probe_log=$vq_dir/probe.serial
	for vq_accel in kvm tcg; do
		if [ $vq_accel = kvm ] && ! { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }; then
			vq_why="no usable /dev/kvm"
			continue
		fi
		: >"$probe_log"
		q_common $vq_accel memfd 1
		"${q_argv[@]}" -serial "file:$probe_log" \
			-append "$q_kargs vhu.case=probe" \
			</dev/null >"$vq_dir/probe.qemu.log" 2>&1 &
		pid=$!
		vq_pids+=("$pid")
		# A working KVM boots in about a second, TCG in a few.
		t=60
		[ $vq_accel = kvm ] && t=15
		if proc_wait_for "$probe_log" '^VHU-TEST: done' $t "$pid"; then
			proc_wait_exit "$pid" 10 || proc_end "$pid" 2
			echo "$vq_accel" >"$cache_file"
			echo "${vq_why:+$vq_why; }$vq_accel boots the guest" >>"$cache_file"
			vq_say "accelerator: $vq_accel${vq_why:+ ($vq_why)}"
			return 0
		fi
		proc_end "$pid" 2
		vq_why="${vq_why:+$vq_why; }$vq_accel probe: no boot in $t s$(grep -avE 'warning|terminating on signal' \
			"$vq_dir/probe.qemu.log" | head -n1 | cut -c1-160 | sed 's/^./: &/')"
	done
	return 1
}

# ================================================================== lifecycle
#
# Helpers of devtools/tests.d/qemu-lifecycle.sh: a QEMU with a QMP socket and
# a command port to the guest's agent (devtools/qemu/case-agent.sh), memory
# slots for DIMMs, and QEMU's own reboot. They set q_pid, q_serial and q_log
# like q_start, so q_until, q_kill, q_show_tail... apply.

ql_qmp_sock='' ql_ctl='' ag_fd='' ag_seq=0

# tl_forget PID: drop a process this script has reaped from vq_pids, so that
# the exit trap does not signal its number again (pid_max may be 32768: a
# busy host hands a reaped number to someone else within minutes).
tl_forget() {
	local p keep=()
	for p in "${vq_pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	vq_pids=("${keep[@]}")
}

# ql_start NAME SOCK ROLE CASE [KEY=VALUE...]
#   ROLE client|server as for q_start (client: QEMU reconnects every second
#   when the back-end goes). Keys: slots=N and maxmem=SIZE (memory hot-plug),
#   reboot=1 (a guest reset reboots instead of ending QEMU), append=ARGS
#   (more kernel command line), queues=N (queue pairs, as many vCPUs).
ql_start() {
	local name=$1 sock=$2 role=$3 case_=$4 kv slots=0 maxmem='' reboot=0 append='' a queues=1
	local chr="socket,id=chr0,path=$sock" dev argv=()
	shift 4
	for kv in "$@"; do
		case "$kv" in
		slots=*) slots=${kv#slots=} ;;
		maxmem=*) maxmem=${kv#maxmem=} ;;
		reboot=*) reboot=${kv#reboot=} ;;
		append=*) append=${kv#append=} ;;
		queues=*) queues=${kv#queues=} ;;
		*) vq_say "ql_start: unknown option $kv"; return 1 ;;
		esac
	done
	q_serial=$vq_dir/$name.serial
	q_log=$vq_dir/$name.qemu.log
	ql_qmp_sock=$vq_dir/$name.qmp
	ql_ctl=$vq_dir/$name.ctl
	rm -f "$ql_ctl.in" "$ql_ctl.out"
	mkfifo "$ql_ctl.in" "$ql_ctl.out" || return 1
	if [ "$role" = server ]; then
		chr="$chr,server=on,wait=on"
	else
		chr="$chr,reconnect=1"
	fi
	dev="virtio-net-pci,netdev=net0,mac=$vq_mac,romfile="
	[ "$vq_accel" = tcg ] && dev="$dev,vectors=0"
	[ "$queues" -gt 1 ] && dev="$dev,mq=on"
	q_common "$vq_accel" memfd "$queues"
	for a in "${q_argv[@]}"; do
		case "$a" in
		256M) [ "$slots" -gt 0 ] && a="256M,slots=$slots,maxmem=$maxmem" ;;
		-no-reboot) [ "$reboot" = 1 ] && continue ;;
		esac
		argv+=("$a")
	done
	argv+=(-serial "file:$q_serial" -chardev "pipe,id=ctl,path=$ql_ctl" -serial chardev:ctl
		-qmp "unix:$ql_qmp_sock,server=on,wait=off"
		-chardev "$chr" -netdev "vhost-user,id=net0,chardev=chr0,queues=$queues"
		-device "$dev"
		-append "$q_kargs ipv6.disable=1 vhu.case=$case_ vhu.ip=$vq_ip vhu.peer=$vq_peer $append")
	: >"$q_serial"
	"${argv[@]}" </dev/null >"$q_log" 2>&1 &
	q_pid=$!
	vq_pids+=("$q_pid")
	[ -n "$ag_fd" ] && exec {ag_fd}>&-
	# Read-write: never blocks, whether QEMU has opened its end yet or not.
	exec {ag_fd}<>"$ql_ctl.in"
	ag_seq=0
}

# ql_stop: QMP quit, then by PID; closes the command port. q_pid is
# forgotten: a second call signals nobody.
ql_stop() {
	if [ -n "$q_pid" ] && proc_alive "$q_pid"; then
		ql_qmp '{"execute":"quit"}' >/dev/null
		proc_wait_exit "$q_pid" 10 || proc_end "$q_pid" 2
	fi
	ql_qmp_close
	[ -n "$ag_fd" ] && exec {ag_fd}>&-
	ag_fd=
	if [ -n "$q_pid" ]; then
		wait "$q_pid" 2>/dev/null
		tl_forget "$q_pid"
		q_pid=
	fi
}

# ------------------------------------------------------------------ QMP
#
# One QMP session per QEMU, held by devtools/qemu/qmp.py --session as a coprocess.
ql_qmp_pid='' ql_qmp_in='' ql_qmp_out='' ql_reply=''

ql_qmp_open() {
	local n=100 py=/usr/bin/python3
	[ -x $py ] || py=python3
	ql_qmp_close
	while [ ! -S "$ql_qmp_sock" ]; do
		[ $n -gt 0 ] && proc_alive "$q_pid" || return 1
		n=$((n - 1))
		sleep 0.1
	done
	coproc QLQMP { QMP_EVENT_LOG=$vq_dir/qmp-events.log exec "$py" devtools/qemu/qmp.py "$ql_qmp_sock" --session 30; }
	ql_qmp_pid=$QLQMP_PID
	vq_pids+=("$ql_qmp_pid")
	# Copies: bash forgets QLQMP once the coprocess ends.
	exec {ql_qmp_in}>&"${QLQMP[1]}" {ql_qmp_out}<&"${QLQMP[0]}"
}

ql_qmp_close() {
	[ -n "$ql_qmp_pid" ] || return 0
	exec {ql_qmp_in}>&- {ql_qmp_out}<&-
	proc_end "$ql_qmp_pid" 2
	tl_forget "$ql_qmp_pid"
	ql_qmp_pid=''
}

# ql_qmp JSON [SECONDS]: send one request (see qmp.py --session), the answer in
# ql_reply (and printed). 1 on an error answer, a timeout or a closed session.
ql_qmp() {
	ql_reply=
	[ -n "$ql_qmp_pid" ] || ql_qmp_open || { ql_reply='{"closed": 1}'; echo "$ql_reply"; return 1; }
	echo "$1" >&"$ql_qmp_in" 2>/dev/null || { ql_reply='{"closed": 1}'; echo "$ql_reply"; return 1; }
	if ! read -r -t "${2:-40}" ql_reply <&"$ql_qmp_out"; then
		ql_reply='{"closed": 1, "why": "no answer from qmp.py --session"}'
		echo "$ql_reply"
		return 1
	fi
	echo "$ql_reply"
	case "$ql_reply" in
	'{"return"'* | *'"event": '*) return 0 ;;
	esac
	return 1
}

# ql_qmp_error: the "desc" of the last error answer.
ql_qmp_error() {
	echo "$ql_reply" | jq -r '.error.desc // .why // .timeout // "closed"' 2>/dev/null
}

# ------------------------------------------------------------------ agent
#
# ag COMMAND [SECONDS]: run COMMAND in the guest's agent (bounded, default
# 30 s). Its output lines in ag_out, its exit status in ag_rc; 1 when no
# answer came (then ag_why says why).
ag_out='' ag_rc='' ag_why=''
ag() {
	local id re
	ag_seq=$((ag_seq + 1))
	id=c$ag_seq
	ag_out='' ag_rc='' ag_why=''
	echo "$id $1" >&"$ag_fd" || { ag_why="cannot write the command port"; return 1; }
	re="^VHU-TEST: ret $id rc="
	if ! ql_until "$re" "${2:-30}"; then
		ag_why="'$1': $q_why"
		return 1
	fi
	ag_out=$(tr -d '\r' <"$q_serial" | sed -n "s/^VHU-OUT $id: //p")
	ag_rc=$(tr -d '\r' <"$q_serial" | sed -n "s/^VHU-TEST: ret $id rc=//p" | tail -n1)
	return 0
}

# ag_line TAG: the "VHU-TEST: TAG ..." line of the last command's output
# (without the prefix).
ag_line() {
	echo "$ag_out" | sed -n "s/^VHU-TEST: $1 //p" | tail -n1
}

# ql_until REGEX SECONDS [N]: wait for the Nth (default first) console line
# matching REGEX. Unlike q_until it reads nothing into QEMU's log (a back-end
# restart makes QEMU log vhost errors on purpose); gives up when QEMU ends.
# q_why says why on 1.
ql_until() {
	local n=$(($2 * 10)) want=${3:-1}
	q_why=
	while [ "$(grep -acE -- "$1" "$q_serial" 2>/dev/null)" -lt "$want" ]; do
		if ! proc_alive "$q_pid"; then
			[ "$(grep -acE -- "$1" "$q_serial" 2>/dev/null)" -ge "$want" ] && return 0
			q_why="QEMU exited"
			return 1
		fi
		if [ $n -le 0 ]; then
			q_why="no '$1' (number $want) from the guest within $2 s"
			return 1
		fi
		n=$((n - 1))
		sleep 0.1
	done
}

# ag_ready SECONDS [N]: wait for the agent of the Nth boot to be ready.
ag_ready() {
	ql_until '^VHU-TEST: agent ready' "$1" "${2:-1}"
}

# ------------------------------------------------------------------ back-end
#
# tl_wrap_testpmd: testpmd with the back-end's control log at debug level
# (one line per vhost-user request: the test counts ADD/REM_MEM_REG and sees
# whether QEMU asked for an inflight area). A wrapper first on PATH adds the
# EAL option, since tp_start takes testpmd's own options only.
tl_wrap_testpmd() {
	local real
	real=$(command -v dpdk-testpmd) || return 1
	mkdir -p "$vq_dir/bin"
	printf '#!/bin/sh\nexec %s --log-level=lib.vhu.config:debug --log-level=lib.vhost.config:debug "$@"\n' \
		"$real" >"$vq_dir/bin/dpdk-testpmd"
	chmod 755 "$vq_dir/bin/dpdk-testpmd"
	PATH=$vq_dir/bin:$PATH
}

# tp_sigkill: the back-end dies the way a crashing vSwitch does; what EAL
# leaves behind for its prefix goes.
tp_sigkill() {
	[ -n "$tp_pid" ] || return 0
	# (no "Killed" job notice from bash: the death is on purpose)
	disown "$tp_pid" 2>/dev/null
	kill -KILL "$tp_pid" 2>/dev/null
	proc_wait_exit "$tp_pid" 10
	exec {tp_fd}>&-
	eal_prefix_clean "$tp_prefix"
	tl_forget "$tp_pid"
	tp_pid=
}

# tl_tp_stop: tp_stop, and the back-end's number forgotten.
tl_tp_stop() {
	local p=$tp_pid
	tp_stop
	[ -n "$p" ] && tl_forget "$p"
	return 0
}

# tl_maps: the back-end's mappings of guest memory (QEMU's memfd files: the
# boot RAM and one per DIMM).
tl_maps() {
	grep -c 'memory-backend-memfd' "/proc/$tp_pid/maps" 2>/dev/null
}

# tl_fds: the back-end's open fds other than sockets.
tl_fds() {
	ls -l "/proc/$tp_pid/fd" 2>/dev/null | awk '/-> / && $NF !~ /^socket:/ { n++ } END { print n + 0 }'
}

# tl_requests NAME: how many NAME requests (ADD_MEM_REG...) the back-end's
# log shows so far (net_vhu's debug line; net_vhost's "read message").
tl_requests() {
	grep -acE "request $1 \(|read message (VHOST_USER_)?$1\b" "$tp_log"
}

# tl_now_ms: milliseconds since the epoch.
tl_now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# ------------------------------------------------------------------ migration
#
# Helpers of devtools/tests.d/qemu-migrate.sh: a testpmd with several ports,
# a QEMU with a QMP socket and extra arguments (-incoming), the guest image
# plus the migration case, QMP commands, per-port counters.

# qm_initrd OUT: write to OUT the test initramfs ($vq_initrd) followed by a
# second archive holding /bin/vhu-traffic (guest-traffic.c, built static) and
# /lib/vhu-cases/migrate.sh (guest-migrate.sh); the kernel unpacks both.
# 1 with qm_why set when a static build is not possible here.
qm_initrd() {
	local out=$1 here r cc
	here=$(dirname "${BASH_SOURCE[0]}")
	r=$vq_dir/initrd-extra
	rm -rf "$r"
	mkdir -p "$r/bin" "$r/lib/vhu-cases"
	cc=$(command -v gcc || command -v cc || true)
	if [ -z "$cc" ]; then
		qm_why="no C compiler to build the guest's traffic tool"
		return 1
	fi
	if ! "$cc" -static -O2 -o "$r/bin/vhu-traffic" "$here/guest-traffic.c" >"$vq_dir/vhu-traffic.log" 2>&1; then
		qm_why="cannot build a static binary (libc.a missing? package libc6-dev): $(head -n1 "$vq_dir/vhu-traffic.log")"
		return 1
	fi
	cp "$here/guest-migrate.sh" "$r/lib/vhu-cases/migrate.sh"
	{
		cat "$vq_initrd"
		(cd "$r" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1)
	} >"$out" || { qm_why="cpio/gzip of the extra archive failed"; return 1; }
}

# tp_start_ports NAME FWD MEM DEVARGS... [-- TESTPMD-ARGS...]: like tp_start,
# with one port per DEVARGS ("iface=...,queues=1,...": the vdev name, net_vhuN
# or net_vhostN after $vq_backend, is put in front). Port i is the i-th.
# VHU_TP_ENV (a word list, e.g. VHU_TEST_FAULT=drop-dirty-bit) goes into
# testpmd's environment, VHU_TP_EAL (a word list) among its EAL arguments.
tp_start_ports() {
	local name=$1 fwd=$2 mem=$3 i=0 a in
	shift 3
	tp_fwd=$fwd
	local vdevs=() eal=() env=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case "$vq_backend" in
		vhost) vdevs+=(--vdev "net_vhost$i,$1") ;;
		vhu) vdevs+=(--vdev "net_vhu$i,$1") ;;
		esac
		i=$((i + 1))
		shift
	done
	[ "${1:-}" = -- ] && shift
	tp_prefix=vhuq$$$name
	vq_prefixes+=("$tp_prefix")
	tp_log=$vq_dir/$name.testpmd.log
	in=$vq_dir/$name.testpmd.in
	mkfifo "$in" || return 1
	if [ "$vq_backend" = vhu ]; then
		eal+=(-d librte_net_vhu.so)
		env+=("LD_LIBRARY_PATH=$vq_vhu_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
	fi
	for a in ${VHU_TP_ENV:-}; do
		env+=("$a")
	done
	# shellcheck disable=SC2206 # a word list of extra EAL arguments
	eal+=(${VHU_TP_EAL:-})
	if [ "$mem" = huge ]; then
		eal+=(-m 256 --huge-unlink)
	else
		eal+=(--no-huge -m 256)
	fi
	env "${env[@]}" stdbuf -oL dpdk-testpmd -l 0,1 --no-pci --file-prefix "$tp_prefix" \
		--log-level=lib.vhost.config:info "${eal[@]}" "${vdevs[@]}" -- \
		-i --disable-link-check --nb-cores=1 --total-num-mbufs=16384 \
		--forward-mode="$fwd" "$@" <"$in" >"$tp_log" 2>&1 &
	tp_pid=$!
	vq_pids+=("$tp_pid")
	exec {tp_fd}<>"$in"
	if ! proc_wait_for "$tp_log" '^testpmd> ' 60 "$tp_pid"; then
		vq_say "testpmd did not start; its log ends with:"
		tail -n 20 "$tp_log" | sed 's/^/    /'
		return 1
	fi
	tp_cmd "start" >/dev/null || return 1
	return 0
}

# tp_port_stats_of PORT: "rx_packets=N ... tx_bytes=N" of one port.
tp_port_stats_of() {
	tp_cmd "show port stats $1" | awk '
		{ for (i = 1; i < NF; i++) if ($i ~ /^(RX|TX)-[a-z]+:$/) {
			k = tolower($i); sub(":", "", k); sub("-", "_", k); printf "%s=%s ", k, $(i + 1) } }'
}

# tp_fwd_port PORT: "rx=N rx_dropped=N tx=N tx_dropped=N" of testpmd's
# forwarding engine for one port (tx_dropped: frames it could not send).
tp_fwd_port() {
	tp_cmd "show fwd stats all" | awk -v p="$1" '
		/Forward statistics for port/ { cur = $0; gsub(/[^0-9]/, "", cur); on = (cur == p); next }
		on && /RX-packets:/ { printf "rx=%s rx_dropped=%s ", $2, $4 }
		on && /TX-packets:/ { printf "tx=%s tx_dropped=%s ", $2, $4; on = 0 }'
}

# tp_xstat PORT NAME: one extended counter of a port (empty when absent).
tp_xstat() {
	tp_cmd "show port xstats $1" | awk -v n="$2" '$1 == n ":" { print $2; exit }'
}

# qm_start NAME SOCK MEM CASE DEVOPTS APPEND [QEMU-ARGS...]: a guest as
# q_start starts it (QEMU connects to the back-end's SOCK, one queue pair),
# with a QMP socket at $q_qmp and QEMU-ARGS appended (-incoming defer).
qm_start() {
	local name=$1 sock=$2 mem=$3 case_=$4 devopts=$5 append=$6 dev
	shift 6
	q_serial=$vq_dir/$name.serial
	q_log=$vq_dir/$name.qemu.log
	q_qmp=$vq_dir/$name.qmp
	dev="virtio-net-pci,netdev=net0,mac=$vq_mac,romfile="
	# QEMU 7.2 under TCG crashes in vhost_net_start with MSI-X: legacy INTx there.
	[ "$vq_accel" = tcg ] && dev="$dev,vectors=0"
	[ -n "$devopts" ] && dev="$dev,$devopts"
	q_common "$vq_accel" "$mem" 1
	q_argv+=(-serial "file:$q_serial" -qmp "unix:$q_qmp,server=on,wait=off"
		-chardev "socket,id=chr0,path=$sock" -netdev "vhost-user,id=net0,chardev=chr0,queues=1"
		-device "$dev"
		-append "$q_kargs ipv6.disable=1 vhu.case=$case_ vhu.ip=$vq_ip vhu.peer=$vq_peer $append"
		"$@")
	: >"$q_serial"
	"${q_argv[@]}" </dev/null >"$q_log" 2>&1 &
	q_pid=$!
	vq_pids+=("$q_pid")
}

# qmp QMP-SOCKET COMMAND [ARGUMENTS-JSON]: run a QMP command (bounded);
# prints its answer; 1 with "error: ..." when it failed.
qmp() {
	timeout 20 /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/qmp.py" "$@"
}

# qmp_ready QMP-SOCKET SECONDS: wait until QEMU answers on its QMP socket.
qmp_ready() {
	local n=$(($2 * 10))
	while :; do
		[ -S "$1" ] && qmp "$1" query-status >/dev/null 2>&1 && return 0
		[ $n -gt 0 ] || return 1
		n=$((n - 1))
		sleep 0.1
	done
}
