# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
# shellcheck shell=bash
#
# A private OVS-DPDK, and DPDK virtio-user peers for its ports (sourced, not
# run). Used by devtools/tests.d/ovs-dpdk.sh and devtools/bench-ovs.sh.
#
# Nothing here touches the machine's own Open vSwitch: ovsdb-server and the
# DPDK build of ovs-vswitchd run in the foreground of this shell (no --detach,
# so their PIDs are ours), with database, sockets, pid and log files in one
# private mktemp -d directory (OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR). Bridges are
# userspace (datapath_type=netdev); its ports are vhost-user sockets in that
# directory and the peers are dpdk-testpmd processes with virtio-user ports:
# no packet reaches a network interface.
#
# Every process started here is recorded and ended by its PID; every wait is
# bounded.
#
# Settings (set them before ovs_init):
#   ovs_plugin      absolute path of librte_net_vhu.so (-d in dpdk-extra)
#   ovs_pmd_cpu     CPU of OVS's single PMD thread (default 1)
#   ovs_main_cpu    CPU of OVS's main DPDK lcore and of the peers (default 0)
#   ovs_socket_mem  hugepage MB for OVS (default 512)
#   ovs_extra_cfg   extra other_config settings, "key=value ..."

# shellcheck source=../lib/proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/proc.sh"

ovs_dir=
ovs_tag=${ovs_tag:-ovs}
ovs_plugin=${ovs_plugin:-}
ovs_plugin_dir=
ovs_pmd_cpu=${ovs_pmd_cpu:-1}
ovs_main_cpu=${ovs_main_cpu:-0}
ovs_socket_mem=${ovs_socket_mem:-512}
ovs_extra_cfg=${ovs_extra_cfg:-}
ovs_keep=${VHU_OVS_KEEP:-0}
ovs_db_pid=
ovs_sw_pid=
ovs_sw_log=
ovs_sw_starts=0
ovs_prefix=
ovs_prefixes=()
ovs_pids=()
ovs_vswitchd=

ovs_say() { echo "$ovs_tag: $*"; }

# ovs_until SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds.
ovs_until() {
	local n=$(($1 * 5))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ $n -gt 0 ] || return 1
		n=$((n - 1))
		sleep 0.2
	done
}

# ovs_find_vswitchd: the DPDK build of ovs-vswitchd, or nothing. Debian ships
# it beside the plain one and selects between them with update-alternatives
# (ovs-vswitchd); we call it by path and leave the system's choice alone.
ovs_find_vswitchd() {
	local c
	for c in /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk "$(command -v ovs-vswitchd)"; do
		[ -x "$c" ] || continue
		if "$c" --version 2>/dev/null | grep -q '^DPDK'; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

# ovs_missing: why OVS-DPDK cannot run here (printed), or nothing (status 1).
ovs_missing() {
	local t
	for t in ovsdb-server ovsdb-tool ovs-vsctl ovs-ofctl ovs-appctl dpdk-testpmd stdbuf; do
		command -v "$t" >/dev/null || { echo "$t not installed"; return 0; }
	done
	ovs_find_vswitchd >/dev/null || {
		echo "no DPDK build of ovs-vswitchd (install openvswitch-switch-dpdk)"; return 0; }
	[ -f /usr/share/openvswitch/vswitch.ovsschema ] || { echo "no vswitch.ovsschema"; return 0; }
	[ "$(id -u)" -eq 0 ] || { echo "needs root (hugepages, vhost-user memory)"; return 0; }
	grep -qs hugetlbfs /proc/mounts || { echo "no hugetlbfs mounted"; return 0; }
	return 1
}

# ovs_init: private directory, environment, database and the exit trap.
ovs_init() {
	ovs_dir=$(mktemp -d "${TMPDIR:-/tmp}/vhu-ovs.XXXXXX") || return 1
	chmod 700 "$ovs_dir"
	trap ovs_cleanup EXIT
	trap 'exit 130' INT TERM
	ovs_vswitchd=$(ovs_find_vswitchd) || return 1
	# EAL refuses a plugin below a world-writable directory (a clone under
	# /tmp): OVS loads a copy from a private directory under /run.
	if [ -n "$ovs_plugin" ] && ovs_plugin_dir=$(mktemp -d /run/vhu-ovs-plugin.XXXXXX 2>/dev/null); then
		cp "$ovs_plugin" "$ovs_plugin_dir/" || return 1
		ovs_plugin=$ovs_plugin_dir/$(basename "$ovs_plugin")
	fi
	export OVS_RUNDIR=$ovs_dir OVS_DBDIR=$ovs_dir OVS_LOGDIR=$ovs_dir
	export OVS_SYSCONFDIR=$ovs_dir OVS_PKGDATADIR=/usr/share/openvswitch
	ovs_prefix=vhuovs$$
	ovs_prefixes+=("$ovs_prefix")
	ovsdb-tool create "$ovs_dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema ||
		return 1
}

# ovs_vsctl ARGS...: ovs-vsctl on our database, bounded.
ovs_vsctl() { ovs-vsctl --timeout=20 --db="unix:$ovs_dir/db.sock" "$@"; }
# ovs_ofctl ARGS...: ovs-ofctl on our switch, bounded (OVS_RUNDIR finds it).
ovs_ofctl() { ovs-ofctl --timeout=20 "$@"; }
# ovs_appctl ARGS...: ovs-appctl to our ovs-vswitchd, bounded.
ovs_appctl() { ovs-appctl --timeout=20 -t "$ovs_dir/ovs-vswitchd.ctl" "$@"; }

# ovs_start_db: ovsdb-server on $ovs_dir/db.sock, and the DPDK settings.
ovs_start_db() {
	local mask_main mask_pmd kv
	ovsdb-server "$ovs_dir/conf.db" --remote="punix:$ovs_dir/db.sock" \
		--unixctl="$ovs_dir/ovsdb-server.ctl" --pidfile="$ovs_dir/ovsdb-server.pid" \
		--log-file="$ovs_dir/ovsdb-server.log" -vconsole:off </dev/null \
		>>"$ovs_dir/ovsdb-server.out" 2>&1 &
	ovs_db_pid=$!
	ovs_pids+=("$ovs_db_pid")
	ovs_until 10 test -S "$ovs_dir/db.sock" || { ovs_say "ovsdb-server did not start"; return 1; }
	ovs_vsctl --no-wait init || return 1
	mask_main=$(printf '0x%x' $((1 << ovs_main_cpu)))
	mask_pmd=$(printf '0x%x' $((1 << ovs_pmd_cpu)))
	# --no-pci: never touch a real NIC; our own file prefix; the plugin.
	ovs_vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
		other_config:dpdk-lcore-mask="$mask_main" other_config:pmd-cpu-mask="$mask_pmd" \
		other_config:dpdk-socket-mem="$ovs_socket_mem" \
		other_config:dpdk-socket-limit="$ovs_socket_mem" \
		other_config:dpdk-extra="--no-pci --file-prefix=$ovs_prefix${ovs_plugin:+ -d $ovs_plugin} --log-level=pmd.net.vhu:info" \
		other_config:vhost-sock-dir=. || return 1
	for kv in $ovs_extra_cfg; do
		ovs_vsctl --no-wait set Open_vSwitch . "other_config:$kv" || return 1
	done
}

# ovs_start_switch: start ovs-vswitchd and wait until DPDK is initialized.
ovs_start_switch() {
	ovs_sw_starts=$((ovs_sw_starts + 1))
	ovs_sw_log=$ovs_dir/ovs-vswitchd.$ovs_sw_starts.log
	rm -f "$ovs_dir/ovs-vswitchd.ctl"
	"$ovs_vswitchd" "unix:$ovs_dir/db.sock" --unixctl="$ovs_dir/ovs-vswitchd.ctl" \
		--pidfile="$ovs_dir/ovs-vswitchd.pid" --log-file="$ovs_sw_log" -vconsole:off \
		-vfile:info </dev/null >>"$ovs_dir/ovs-vswitchd.out" 2>&1 &
	ovs_sw_pid=$!
	ovs_pids+=("$ovs_sw_pid")
	if ! ovs_until 60 ovs_initialized; then
		ovs_say "ovs-vswitchd did not initialize DPDK; its log ends with:"
		tail -n 20 "$ovs_sw_log" "$ovs_dir/ovs-vswitchd.out" 2>/dev/null | sed 's/^/    /'
		return 1
	fi
	ovs_until 20 test -S "$ovs_dir/ovs-vswitchd.ctl"
}

ovs_initialized() {
	proc_alive "$ovs_sw_pid" || return 1
	[ "$(ovs_vsctl get Open_vSwitch . dpdk_initialized 2>/dev/null)" = true ]
}

# ovs_stop_switch term|kill: end ovs-vswitchd (SIGTERM, or SIGKILL).
ovs_stop_switch() {
	[ -n "$ovs_sw_pid" ] || return 0
	if [ "$1" = kill ]; then
		kill -KILL "$ovs_sw_pid" 2>/dev/null
		proc_wait_exit "$ovs_sw_pid" 10
	else
		proc_end "$ovs_sw_pid" 10
	fi
	ovs_sw_pid=
}

# ovs_add_bridge BR: a userspace bridge.
ovs_add_bridge() {
	ovs_vsctl add-br "$1" -- set Bridge "$1" datapath_type=netdev fail_mode=secure
}

# ovs_add_port BR NAME OFPORT TYPE [COLUMN=VALUE...]: add an interface with a
# fixed OpenFlow port number, and wait until OVS has opened it (ofport set,
# no error).
ovs_add_port() {
	local br=$1 name=$2 ofport=$3 type=$4
	shift 4
	ovs_vsctl add-port "$br" "$name" -- set Interface "$name" type="$type" \
		ofport_request="$ofport" "$@" || return 1
	if ! ovs_until 30 ovs_port_open "$name" "$ofport"; then
		ovs_say "port $name not opened: $(ovs_vsctl get Interface "$name" error 2>&1)"
		return 1
	fi
}

# ovs_wait_added NAME: the running ovs-vswitchd has added interface NAME
# (after a restart the database still shows the old ofport: the log is what
# tells the new process has the port).
ovs_wait_added() {
	proc_wait_for "$ovs_sw_log" "added interface $1 on port" 30 "$ovs_sw_pid"
}

ovs_port_open() {
	[ "$(ovs_vsctl get Interface "$1" ofport 2>/dev/null)" = "$2" ] || return 1
	! ovs_vsctl get Interface "$1" error >/dev/null 2>&1 ||
		[ "$(ovs_vsctl get Interface "$1" error 2>/dev/null)" = '[]' ]
}

# ovs_iface_stat NAME KEY: one counter of the Interface's statistics column.
ovs_iface_stat() {
	ovs_vsctl get Interface "$1" "statistics:$2" 2>/dev/null | tr -d '"'
}

# ovs_flow_packets BR MATCH: n_packets of the flow whose dump line has MATCH.
ovs_flow_packets() {
	ovs_ofctl dump-flows "$1" | grep -F -- "$2" | head -n 1 |
		sed -n 's/.*n_packets=\([0-9]*\).*/\1/p'
}

ovs_cleanup() {
	local pid
	peer_stop_all
	ovs_stop_switch term
	for pid in "${ovs_pids[@]}"; do
		proc_end "$pid" 5
	done
	ovs_pids=()
	eal_prefix_clean "${ovs_prefixes[@]}"
	[ -n "$ovs_plugin_dir" ] && rm -rf "$ovs_plugin_dir"
	if [ -n "$ovs_dir" ] && [ -d "$ovs_dir" ]; then
		if [ "$ovs_keep" = 1 ]; then
			ovs_say "files kept in $ovs_dir"
		else
			rm -rf "$ovs_dir"
		fi
	fi
}

# ------------------------------------------------------------------ peers
#
# A peer is one dpdk-testpmd with one virtio-user port (port 0), driven through
# a FIFO on its interactive prompt. peer_* functions take the peer's NAME.
declare -A peer_pid=() peer_log=() peer_fd=() peer_runs=()
peer_cpu=${peer_cpu:-$ovs_main_cpu}
peer_mem=${peer_mem:-256}
# 1: the peers' memory on hugepages (one file each), 0: --no-huge (a memfd)
peer_huge=${peer_huge:-0}

# peer_start NAME SOCK QUEUES SERVER FWD [TESTPMD-ARGS...]
#   SERVER 1: the peer listens on SOCK (the OVS port is the client);
#   FWD the forwarding mode started at once ("-" for none).
#   Extra vdev arguments come from $peer_vdev_extra (e.g. mrg_rxbuf=1);
#   $peer_sock2, when set, is the socket of a second port (port 1) alike.
# A server=1 virtio-user waits in its probe for the connection: with
# SERVER 1, peer_start returns once launched and peer_ready NAME FWD waits.
peer_start() {
	local name=$1 sock=$2 queues=$3 server=$4 fwd=$5 in prefix fd mem=(--no-huge)
	shift 5
	[ "$peer_huge" = 1 ] && mem=(--single-file-segments)
	peer_runs[$name]=$((${peer_runs[$name]:-0} + 1))
	prefix=vhuovs$$$name${peer_runs[$name]}
	ovs_prefixes+=("$prefix")
	peer_log[$name]=$ovs_dir/peer-$name.${peer_runs[$name]}.log
	in=$ovs_dir/peer-$name.${peer_runs[$name]}.in
	mkfifo "$in" || return 1
	# The peer's memory is shared with OVS over the socket: one file.
	stdbuf -oL dpdk-testpmd --lcores "0@$peer_cpu,1@$peer_cpu" --no-pci -m "$peer_mem" \
		"${mem[@]}" --file-prefix "$prefix" \
		--vdev "net_virtio_user0,path=$sock,queues=$queues,server=$server${peer_vdev_extra:+,$peer_vdev_extra}" \
		${peer_sock2:+--vdev "net_virtio_user1,path=$peer_sock2,queues=$queues,server=$server${peer_vdev_extra:+,$peer_vdev_extra}"} \
		-- -i --nb-cores=1 --rxq="$queues" --txq="$queues" --total-num-mbufs=8192 \
		--disable-link-check "$@" <"$in" >"${peer_log[$name]}" 2>&1 &
	peer_pid[$name]=$!
	ovs_pids+=("${peer_pid[$name]}")
	# read-write: never blocks, and testpmd sees no EOF while we hold it
	exec {fd}<>"$in"
	peer_fd[$name]=$fd
	[ "$server" = 1 ] && return 0
	peer_ready "$name" "$fwd"
}

# peer_ready NAME FWD: wait for the peer's prompt, check its port started,
# start forwarding mode FWD ("-": none).
peer_ready() {
	local name=$1 fwd=$2
	if ! proc_wait_for "${peer_log[$name]}" '^testpmd> ' 60 "${peer_pid[$name]}"; then
		ovs_say "peer $name did not start; its log ends with:"
		tail -n 15 "${peer_log[$name]}" | sed 's/^/    /'
		return 1
	fi
	if grep -q 'Start ports failed' "${peer_log[$name]}"; then
		ovs_say "peer $name: its port did not start:"
		grep -B3 'Start ports failed' "${peer_log[$name]}" | sed 's/^/    /'
		return 1
	fi
	if [ "$fwd" != - ]; then
		peer_cmd "$name" "set fwd $fwd" >/dev/null || return 1
		peer_cmd "$name" start >/dev/null || return 1
	fi
}

# peer_cmd NAME COMMAND: send one command, print testpmd's answer (bounded).
peer_cmd() {
	testpmd_ask "${peer_pid[$1]:-}" "${peer_log[$1]}" "${peer_fd[$1]}" "$2"
}

# peer_stat NAME KEY: one counter of port 0 (rx_packets rx_bytes rx_errors
# rx_missed tx_packets tx_bytes tx_errors), from "show port stats 0".
peer_stat() {
	peer_cmd "$1" "show port stats 0" | awk -v want="$2" '
		{ for (i = 1; i < NF; i++) if ($i ~ /^(RX|TX)-[a-z]+:$/) {
			k = tolower($i); sub(":", "", k); sub("-", "_", k)
			if (k == want) { print $(i + 1); exit } } }'
}

# peer_link NAME: "up" or "down", the virtio-user port's link status.
peer_link() {
	peer_cmd "$1" "show port info 0" | awk '/Link status:/ { print $3; exit }'
}

peer_alive() { proc_alive "${peer_pid[$1]:-}"; }

# peer_stop NAME [kill]: quit testpmd (or SIGKILL it), and forget it.
peer_stop() {
	local name=$1 pid=${peer_pid[$1]:-} fd=${peer_fd[$1]:-}
	[ -n "$pid" ] || return 0
	if [ "${2:-}" = kill ]; then
		kill -KILL "$pid" 2>/dev/null
		proc_wait_exit "$pid" 10
	else
		if proc_alive "$pid"; then
			{ echo quit >&"$fd"; } 2>/dev/null
			proc_wait_exit "$pid" 10 || proc_end "$pid" 3
		fi
	fi
	wait "$pid" 2>/dev/null
	[ -n "$fd" ] && exec {fd}>&-
	unset "peer_pid[$name]" "peer_fd[$name]"
	return 0
}

peer_stop_all() {
	local n
	for n in "${!peer_pid[@]}"; do
		peer_stop "$n"
	done
}
