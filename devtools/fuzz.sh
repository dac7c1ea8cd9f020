#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# Build the libFuzzer targets (app/fuzz, clang, ASan + UBSan) and run each one
# for a given time, one after the other (never two at once: they are CPU
# bound). Prints, per target, the executions, the time, the corpus size and the
# findings, then "N passed, N failed, N skipped" (one test per target).
#
#   devtools/fuzz.sh [-t SECONDS] [-B BUILDDIR] [-j JOBS] [TARGET...]
#
#   -t SECONDS   time per target (default 60)
#   -B BUILDDIR  fuzz build directory (default build-fuzz); configured here
#                with CC=clang -Dfuzz=true -Db_sanitize=address,undefined
#   TARGET       msg, split, packed (default: every target built)
#
# The working corpus grows in fuzz-out/<target>/ (not in git), seeded from
# app/fuzz/corpus/<target>/ (in git). A crash, leak or broken invariant is
# copied to app/fuzz/corpus/<target>/crash-<sha1>: once the bug is fixed,
# commit it; vhu-test (fuzz_corpus_replay) replays every file there.
#
# Environment: VHU_FUZZ_ARGS adds libFuzzer options (e.g. -jobs=2).
set -uo pipefail

cd "$(dirname "$0")/.."
secs=60
builddir=build-fuzz
while getopts "t:B:" o; do
	case $o in
	t) secs=$OPTARG ;;
	B) builddir=$OPTARG ;;
	*) sed -n '2,25p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

if [ ! -f "$builddir/build.ninja" ]; then
	# -O1: fast enough to fuzz, and ASan builds of the inlined datapath at -O3
	# take minutes per file
	CC=clang meson setup "$builddir" -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Doptimization=1 </dev/null || exit 1
fi
# only the fuzz targets (the rest of the tree is the sanitizer script's job)
mapfile -t fuzz_exes < <(ninja -C "$builddir" -t targets all 2>/dev/null |
	sed -n 's|^\(app/fuzz/vhu-fuzz-[a-z0-9_]*\): .*|\1|p' | sort -u)
ninja -C "$builddir" "${fuzz_exes[@]}" </dev/null >"$builddir/fuzz-build.log" 2>&1 || {
	cat "$builddir/fuzz-build.log"
	echo "fuzz build failed"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in "$builddir"/app/fuzz/vhu-fuzz-*; do
		[ -f "$f" ] && [ -x "$f" ] && targets+=("${f##*/vhu-fuzz-}")
	done
fi

pass=0 fail=0 skip=0
summary=()
for t in "${targets[@]}"; do
	exe="$builddir/app/fuzz/vhu-fuzz-$t"
	if [ ! -x "$exe" ]; then
		echo "$t: no such target ($exe)"
		skip=$((skip + 1))
		continue
	fi
	work="fuzz-out/$t"
	art="fuzz-out/artifacts/$t"
	log="fuzz-out/$t.log"
	mkdir -p "$work" "$art" "app/fuzz/corpus/$t"
	case $t in
	msg) maxlen=4096 ;;
	*) maxlen=20000 ;;   # rings, buffers and frames in guest memory
	esac
	echo "== $t: ${secs}s"
	t0=$(date +%s)
	# shellcheck disable=SC2086
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$exe" -max_total_time="$secs" -max_len=$maxlen -timeout=20 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix="$art/" ${VHU_FUZZ_ARGS:-} \
		"$work" "app/fuzz/corpus/$t" </dev/null >"$log" 2>&1
	rc=$?
	dt=$(($(date +%s) - t0))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	[ -n "$execs" ] || execs=$(grep -Eo '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
	corpus=$(find "$work" -type f | wc -l)
	found=0
	slow=0
	for a in "$art"/*; do
		[ -f "$a" ] || continue
		case ${a##*/} in
		slow-unit-*)
			# an input that took over 10 s once (a loaded machine stalls
			# the process): not a finding unless it is slow again alone
			if timeout 60 "$exe" "$a" </dev/null >/dev/null 2>&1; then
				slow=$((slow + 1))
				continue
			fi ;;
		esac
		sum=$(sha1sum "$a" | cut -c1-16)
		if [ ! -f "app/fuzz/corpus/$t/crash-$sum" ]; then
			cp "$a" "app/fuzz/corpus/$t/crash-$sum"
			echo "$t: finding kept as app/fuzz/corpus/$t/crash-$sum"
		fi
		found=$((found + 1))
	done
	rm -f "$art"/*
	line=$(printf '%-8s %12s execs %6ss corpus %6s findings %s (exit %s)%s' "$t" "${execs:-0}" \
		"$dt" "$corpus" "$found" "$rc" \
		"$([ "$slow" -gt 0 ] && echo ", $slow slow unit(s) that replay in time")")
	summary+=("$line")
	echo "$line"
	if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
		grep -E 'ERROR|SUMMARY|invariant|runtime error' "$log" | head -n 20
		echo "$t: see $log"
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
done
echo
printf '%s\n' "${summary[@]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
