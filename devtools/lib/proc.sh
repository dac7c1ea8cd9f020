# shellcheck shell=bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# Process helpers shared by the test scripts (sourced, not run): every wait
# bounded, every process ended by the PID its starter recorded.

# proc_alive PID: 0 while the process exists and is not a zombie.
proc_alive() {
	local st
	[ -n "$1" ] || return 1
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

# proc_wait_exit PID SECONDS: 0 once the process has ended, 1 if still there.
proc_wait_exit() {
	local n=$(($2 * 10))
	while proc_alive "$1"; do
		[ $n -gt 0 ] || return 1
		n=$((n - 1))
		sleep 0.1
	done
	wait "$1" 2>/dev/null
	return 0
}

# proc_end PID [GRACE]: SIGTERM, then SIGKILL after GRACE seconds (default 5).
proc_end() {
	local pid=$1 grace=${2:-5}
	[ -n "$pid" ] || return 0
	if proc_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		if ! proc_wait_exit "$pid" "$grace"; then
			kill -KILL "$pid" 2>/dev/null
			proc_wait_exit "$pid" 5
		fi
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# proc_wait_for FILE REGEX SECONDS [PID]: 0 once FILE has a line matching
# REGEX; gives up early when PID (if given) has ended.
proc_wait_for() {
	local file=$1 re=$2 n=$(($3 * 10)) pid=${4:-}
	while :; do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		[ $n -gt 0 ] || return 1
		if [ -n "$pid" ] && ! proc_alive "$pid"; then
			grep -Eq -- "$re" "$file" 2>/dev/null
			return
		fi
		n=$((n - 1))
		sleep 0.1
	done
}

# testpmd_ask PID LOG FD COMMAND: send one command to an interactive testpmd
# (stdin on fd FD, output appended to LOG) and print what it answered: the
# answer is complete when the next prompt follows the command's output.
# Bounded to 10 s; 1 when testpmd is gone or did not answer.
testpmd_ask() {
	local pid=$1 log=$2 fd=$3 off n=100 out
	proc_alive "$pid" || return 1
	off=$(stat -c %s "$log")
	echo "$4" >&"$fd"
	while :; do
		out=$(tail -c +$((off + 1)) "$log")
		case "$out" in
		*$'\n'*'testpmd> '*) break ;;
		esac
		[ $n -gt 0 ] || { echo "testpmd $pid did not answer '$4'" >&2; return 1; }
		proc_alive "$pid" || return 1
		n=$((n - 1))
		sleep 0.1
	done
	echo "$out"
}

# eal_prefix_clean PREFIX...: remove the files EAL left behind for these
# --file-prefix values (hugepage files, runtime directory); no others.
eal_prefix_clean() {
	local p
	for p in "$@"; do
		[ -n "$p" ] || continue
		rm -f /dev/hugepages/"${p}"map_* /dev/hugepages/"${p}"seg_* 2>/dev/null
		rm -rf "/var/run/dpdk/$p" 2>/dev/null
	done
}
