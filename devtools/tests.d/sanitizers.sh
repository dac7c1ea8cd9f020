#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# AddressSanitizer + UndefinedBehaviorSanitizer build of the library, the PMD
# and the test runner (gcc, -Db_sanitize=address,undefined, in its own build
# directory), then the fast and driver suites and the fault tests of the
# stress suite under it, with leak detection on. Any sanitizer report fails
# the run, even when every test passed: reports go to files (log_path), so
# one from a thread, an atexit handler or LeakSanitizer at exit is seen too.
#
# Counts: the build is one test; each run contributes the runner's counts and
# one more test, "no sanitizer report". Ends with "N passed, N failed, N
# skipped"; exit status non-zero on failure.
#
# Environment:
#   VHU_ASAN_BUILD_DIR   build directory (default build-asan)
#   VHU_ASAN_RUNS        runs, ';'-separated runner arguments (default: the
#                        fast suite; the driver suite; stress --filter fault_)
#   VHU_ASAN_TIMEOUT     seconds per run (default 420)
#   VHU_TEST_TIMEOUT_SCALE  the runner's per-case time limits are multiplied by
#                        this (default 3: the sanitizer build runs slower)
set -uo pipefail

cd "$(dirname "$0")/../.."
builddir=${VHU_ASAN_BUILD_DIR:-build-asan}
runs=${VHU_ASAN_RUNS:-"--suite fast;--suite driver;--suite stress --filter fault_"}
run_timeout=${VHU_ASAN_TIMEOUT:-420}
supp="$PWD/devtools/tests.d/lsan.supp"
summary_re='^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass=0 fail=0 skip=0
lines=()
t_start=$(date +%s)

note() {
	lines+=("$(printf '%-40s %s' "$1" "$2")")
}

# ---- build ----
t0=$(date +%s)
ok=1
if [ ! -f "$builddir/build.ninja" ]; then
	[ -d "$builddir/meson-private" ] && wipe=--wipe || wipe=
	# -O1: ASan builds of the inlined datapath at -O3 take minutes per file
	# shellcheck disable=SC2086
	CC=gcc meson setup "$builddir" $wipe -Db_sanitize=address,undefined -Db_lundef=false \
		-Doptimization=1 -Dwerror=true -Dwarning_level=2 </dev/null >"$tmp/setup.log" 2>&1 ||
		{ cat "$tmp/setup.log"; ok=0; }
fi
if [ $ok -eq 1 ]; then
	nice ninja -C "$builddir" </dev/null >"$tmp/build.log" 2>&1 || { tail -n 50 "$tmp/build.log"; ok=0; }
fi
if [ $ok -eq 1 ]; then
	pass=$((pass + 1))
	note "build ($builddir)" "ok, $(($(date +%s) - t0))s"
else
	fail=$((fail + 1))
	note "build ($builddir)" "FAILED"
	echo "sanitizer build failed"
	printf '%s\n' "${lines[@]}"
	echo "$pass passed, $fail failed, $skip skipped"
	exit 1
fi

# ---- runs ----
IFS=';' read -r -a run_list <<<"$runs"
for args in "${run_list[@]}"; do
	name=$(echo "$args" | tr -s ' ' | sed 's/^ //; s/--suite //g; s/--filter /filter=/g')
	rm -f "$tmp"/san.*
	echo "== vhu-test $args (ASan + UBSan, leaks checked)"
	t0=$(date +%s)
	# shellcheck disable=SC2086
	VHU_TEST_TIMEOUT_SCALE=${VHU_TEST_TIMEOUT_SCALE:-3} \
	ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0:log_path=$tmp/san" \
	LSAN_OPTIONS="suppressions=$supp:print_suppressions=0" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$tmp/san" \
		timeout -k 10 "$run_timeout" "$builddir/app/test/vhu-test" $args </dev/null \
		>"$tmp/out" 2>&1
	rc=$?
	dt=$(($(date +%s) - t0))
	grep -E '^(PASS|FAIL|SKIP) |assert failed|: (killed by signal|timed out after|its process exited|EAL did not start)' "$tmp/out"
	p="" f="" s=""
	while IFS= read -r line; do
		if [[ "$line" =~ $summary_re ]]; then
			p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[4]:-0}
		fi
	done <"$tmp/out"
	if [ -z "$p" ]; then
		echo "vhu-test $args: no summary line (exit status $rc); last lines:"
		tail -n 30 "$tmp/out"
		p=0 f=1 s=0
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "vhu-test $args: exit status $rc with no failure counted: counted as one"
		f=1
	fi
	[ "$rc" -eq 124 ] && echo "vhu-test $args: timed out after ${run_timeout}s"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	reports=$(find "$tmp" -maxdepth 1 -name 'san.*' -size +0 | sort)
	if [ -n "$reports" ]; then
		echo "vhu-test $args: sanitizer reports:"
		for r in $reports; do
			echo "---- $r"
			head -n 60 "$r"
		done
		fail=$((fail + 1))
		note "$name" "$p passed, $f failed, $s skipped, SANITIZER REPORTS, ${dt}s"
	else
		pass=$((pass + 1))
		note "$name" "$p passed, $f failed, $s skipped, no sanitizer report, ${dt}s"
	fi
done

echo
echo "sanitizers ($(($(date +%s) - t_start))s):"
printf '%s\n' "${lines[@]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
