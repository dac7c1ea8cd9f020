#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# The README's "run" job, after devtools/setup.sh built build/: one net_vhu
# port in dpdk-testpmd (io forwarding) with DPDK's virtio-user in a second
# dpdk-testpmd as the guest (io, tx_first), traffic looping through both for
# a few seconds; prints packets and Mpps for each direction and exits non-zero
# when no packet flowed. The launching logic is devtools/bench.py's (--run).
#
# Environment:
#   VHU_BUILD_DIR     build directory holding the plugin (default build)
#   VHU_RUN_SECONDS   measured seconds (default 5)
# Extra arguments go to bench.py, e.g. --backends vhost to run DPDK's net_vhost
# the same way, or --cpus 2,3.
set -uo pipefail

cd "$(dirname "$0")/.."
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec "$py" devtools/bench.py --run --build-dir "${VHU_BUILD_DIR:-build}" \
	--seconds "${VHU_RUN_SECONDS:-5}" "$@"
