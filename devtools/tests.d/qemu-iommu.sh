#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A Linux guest behind QEMU's virtual IOMMU: q35 with intel-iommu (interrupt
# remapping, device IOTLB, caching mode), the virtio-net-pci device with
# iommu_platform=on,ats=on on a vhost-user netdev served by dpdk-testpmd with
# net_vhu iommu-support=1 (or DPDK's net_vhost iommu-support=1, to compare).
# Every ring and buffer address is then an IOVA the back-end translates through
# the IOTLB that QEMU fills (IOTLB_MSG updates, answers to the back-end's
# misses) and invalidates (each unmap in the guest's strict mode).
# Guide: doc/guides/testing/qemu.rst, section "The vIOMMU group".
#
# Groups (VHU_QEMU_IOMMU_CASES, default "strict pt"): the guest boots with
# intel_iommu=on and iommu=strict (an IOTLB invalidation per unmap) or iommu=pt
# (the device in passthrough). Checks of each:
#   ping      testpmd icmpecho answers ARP and ICMP; every ping answered
#   bulk      testpmd csum forwards a TCP stream back to the guest: 8 MiB, md5
#             of what came back equal to what went out
#   iotlb     net_vhu only: the IOTLB miss and invalidation counts the
#             back-end's xstats show (misses > 0: the rings and buffers were
#             asked for; strict: invalidations > 0)
#
# Network rule: QEMU has -nic none besides the vhost-user NIC; the guest uses
# 169.254.0.0/16 only; nothing reaches a real network.
#
# Environment: as devtools/tests.d/qemu-guest.sh (VHU_QEMU_BACKEND vhu|vhost,
# VHU_BUILD_DIR, VHU_QEMU_ACCEL, VHU_QEMU_CACHE, VHU_QEMU_KEEP), plus
#   VHU_QEMU_IOMMU_CASES  groups to run (default "strict pt")
# and, for diagnosis: VHU_QI_COUNT pings per step (default 10), VHU_QI_RETRY
# testpmd's transmit retries of 1 ms (default 2000; 0 shows what a back-end
# application that drops instead of retrying sees), VHU_QI_INTREMAP=off,
# VHU_QI_MSIX=1 (MSI-X under TCG: QEMU 7.2 exits).
#
# A receive buffer on a page the IOTLB has no entry for yet ends the
# back-end's burst there and asks for the page (a miss); QEMU answers within a
# fraction of a millisecond, and the frame goes out on a later burst. So
# testpmd forwards "with retry" (tp_retry): without it, testpmd drops every
# frame that meets a miss, and under strict mode (a fresh IOVA per buffer)
# half the pings are lost.
# Output ends with "N passed, N failed, N skipped"; exit status 1 on failure.
set -u -o pipefail

cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=../qemu/lib.sh
. devtools/qemu/lib.sh
export LC_ALL=C
vq_name=qemu-iommu

t_start=$(date +%s)
passed=0 failed=0 skipped=0

vq_backend=${VHU_QEMU_BACKEND:-vhu}
builddir=${VHU_BUILD_DIR:-build}
vq_cache=${VHU_QEMU_CACHE:-/var/cache/vhu-qemu}
groups=${VHU_QEMU_IOMMU_CASES:-strict pt}
vq_ip=169.254.78.1
vq_peer=169.254.78.2
vq_mac=52:54:00:78:00:01
boot_timeout=240

declare -A group_checks=([strict]="ping bulk iotlb" [pt]="ping bulk iotlb")

pass() { echo "PASS $1${2:+: $2}"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }
skip() { echo "SKIP $1${2:+: $2}"; skipped=$((skipped + 1)); }

# qi_start NAME SOCK CASE MODE [APPEND]: QEMU (client of SOCK) on q35 with
# intel-iommu, the NIC behind it, the guest booted with intel_iommu=on iommu=MODE.
qi_start() {
	local name=$1 sock=$2 case_=$3 mode=$4 append=${5:-} i
	local dev="virtio-net-pci,netdev=net0,mac=$vq_mac,romfile=,disable-legacy=on,iommu_platform=on,ats=on"
	dev="$dev,rx_queue_size=1024,tx_queue_size=1024"
	q_serial=$vq_dir/$name.serial
	q_log=$vq_dir/$name.qemu.log
	# QEMU 7.2 under TCG crashes in vhost_net_start with MSI-X on pc: legacy INTx there.
	[ "$vq_accel" = tcg ] && [ "${VHU_QI_MSIX:-0}" != 1 ] && dev="$dev,vectors=0"
	q_common "$vq_accel" memfd 1
	# q35 instead of pc: the IOMMU is a q35 device; interrupt remapping needs the
	# split irqchip (the IOAPIC in QEMU)
	for i in "${!q_argv[@]}"; do
		[ "${q_argv[i]}" = "pc,accel=$vq_accel" ] && q_argv[i]="q35,accel=$vq_accel,kernel-irqchip=split"
	done
	q_argv+=(-device "intel-iommu,intremap=${VHU_QI_INTREMAP:-on},device-iotlb=on,caching-mode=on"
		-serial "file:$q_serial"
		-chardev "socket,id=chr0,path=$sock" -netdev "vhost-user,id=net0,chardev=chr0,queues=1"
		-device "$dev"
		-append "$q_kargs ipv6.disable=1 intel_iommu=on iommu=$mode vhu.case=$case_ vhu.ip=$vq_ip vhu.peer=$vq_peer $append")
	: >"$q_serial"
	"${q_argv[@]}" </dev/null >"$q_log" 2>&1 &
	q_pid=$!
	vq_pids+=("$q_pid")
}

# guest_ok WHAT...: every "VHU-TEST: WHAT ok" line is there and no FAIL line.
guest_ok() {
	local w
	if grep -aq '^VHU-TEST: FAIL' "$q_serial"; then
		grep -a '^VHU-TEST: FAIL' "$q_serial" | head -n1 | tr -d '\r'
		return 1
	fi
	for w in "$@"; do
		grep -aq "^VHU-TEST: $w ok" "$q_serial" || { echo "no '$w ok' from the guest"; return 1; }
	done
}

# iotlb_counts: "misses=N invalidations=N" summed over the port's queues
# (net_vhu's xstats rx_qN_iotlb_* and tx_qN_iotlb_*).
iotlb_counts() {
	tp_cmd "show port xstats 0" | awk '
		/_iotlb_misses:/ { m += $2 } /_iotlb_invalidations:/ { i += $2 }
		END { printf "misses=%d invalidations=%d", m, i }'
}

# dmar_seen: the guest kernel put the device behind the IOMMU (DMAR on, and
# in strict mode, no lazy flush).
dmar_line() {
	grep -aE 'DMAR: (IOMMU enabled|Intel\(R\) Virtualization)|iommu: Default domain type|DMA domain TLB invalidation policy' \
		"$q_serial" | tr -d '\r' | sed 's/^\[[ 0-9.]*\] //' | paste -sd';' -
}

# one_boot GROUP MODE CASE FWD: a back-end with forwarding engine FWD, one guest
# running CASE; leaves the back-end running (tp_*) and the guest ended.
one_boot() {
	local g=$1 mode=$2 case_=$3 fwd=$4 sock=$vq_dir/$1-$3.sock
	shift 4
	tp_start "$g-$case_" server "$sock" 1 "$fwd" nohuge "$@" || { boot_why="testpmd did not start"; return 1; }
	# A receive buffer the IOTLB has no entry for yet ends the back-end's
	# burst there (the miss is asked): testpmd offers the rest again.
	if ! boot_why=$(tp_retry 1000 "${VHU_QI_RETRY:-2000}"); then
		return 1
	fi
	if ! wait_socket "$sock" 10; then
		boot_why="the back-end did not create $sock"
		return 1
	fi
	qi_start "$g-$case_" "$sock" "$case_" "$mode" "vhu.mb=8 vhu.count=${VHU_QI_COUNT:-10}"
	if ! q_wait $boot_timeout; then
		q_show_tail
		boot_why=$q_why
		return 1
	fi
	vq_say "back-end port: $(tp_port_stats)$(tp_fwd_stats)"
	vq_say "guest:        $(grep -a '^VHU-TEST: stats ' "$q_serial" | tail -n1 | cut -d' ' -f3- | tr -d '\r')"
	return 0
}

# add_iotlb_counts BOOT: net_vhu only; the running back-end's IOTLB misses,
# invalidations and guest faults added to grp's misses, inval and faults.
add_iotlb_counts() {
	local c gf
	[ "$vq_backend" = vhu ] || return 0
	c=$(iotlb_counts)
	gf=$(tp_cmd "show port xstats 0" | awk '/guest_errors:/ { e += $2 } END { print e + 0 }')
	misses=$((misses + $(kv misses "$c"))) inval=$((inval + $(kv invalidations "$c")))
	faults=$((faults + gf))
	vq_say "back-end IOTLB ($1): $c; guest faults: $gf"
}

grp() {
	local g=$1 mode=$2 why misses=0 inval=0 faults=0 feats
	echo
	vq_say "=== $g (intel_iommu=on iommu=$mode, $vq_backend, $vq_accel, at $(($(date +%s) - t_start)) s)"
	# pings answered by the back-end
	if one_boot "$g" "$mode" ping icmpecho; then
		feats=$(q_features)
		vq_say "negotiated: $feats"
		vq_say "guest: $(dmar_line)"
		if ! q_has_feature 33; then
			fail "$g/ping" "VIRTIO_F_ACCESS_PLATFORM not negotiated: the device is not behind the IOMMU"
		elif why=$(guest_ok "ping small" "ping large"); then
			pass "$g/ping" "$(grep -a '^VHU-TEST: ping' "$q_serial" | cut -d' ' -f3- | tr -d '\r' | paste -sd, -)"
		else
			q_show_tail
			fail "$g/ping" "$why"
		fi
		add_iotlb_counts ping
	else
		fail "$g/ping" "$boot_why"
	fi
	tp_stop
	# a TCP stream out and back, with its digest
	if one_boot "$g" "$mode" bulk csum --eth-peer="0,$vq_mac"; then
		if ! q_has_feature 33; then
			fail "$g/bulk" "VIRTIO_F_ACCESS_PLATFORM not negotiated"
		elif why=$(guest_ok "ping loop" bulk); then
			pass "$g/bulk" "$(grep -a '^VHU-TEST: bulk ok' "$q_serial" | cut -d' ' -f4- | tr -d '\r')"
		else
			q_show_tail
			fail "$g/bulk" "$why"
		fi
		add_iotlb_counts bulk
	else
		fail "$g/bulk" "$boot_why"
	fi
	tp_stop
	if [ "$vq_backend" != vhu ]; then
		skip "$g/iotlb" "net_vhost has no IOTLB counters in its xstats"
	elif [ "$misses" -eq 0 ]; then
		fail "$g/iotlb" "no IOTLB miss counted: the rings cannot have been translated through the IOTLB"
	elif [ "$mode" = strict ] && [ "$inval" -eq 0 ]; then
		fail "$g/iotlb" "strict mode but no invalidation counted ($misses misses)"
	elif [ "$faults" -ne 0 ]; then
		fail "$g/iotlb" "$faults guest faults counted on the port ($misses misses, $inval invalidations)"
	else
		pass "$g/iotlb" "$misses misses, $inval invalidations, no guest fault (both boots, all queues)"
	fi
}

vq_accel=none
vq_init || { echo "mktemp failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
vq_say "back-end: $vq_backend (VHU_QEMU_BACKEND), groups: $groups"
for g in $groups; do
	case $g in
	strict | pt) ;;
	*) echo "unknown group '$g' in VHU_QEMU_IOMMU_CASES"; echo "0 passed, 1 failed, 0 skipped"; exit 1 ;;
	esac
done
# both back-ends: the IOTLB on (net_vhost: iommu-support=1 as well)
vq_devargs="iommu-support=1${VHU_QEMU_DEVARGS:+,$VHU_QEMU_DEVARGS}"
vq_prepare

for g in $groups; do
	grp "$g" "$g"
	[ -n "$q_pid" ] && proc_end "$q_pid" 2
	tp_stop
done
finish
