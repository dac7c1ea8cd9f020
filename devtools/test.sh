#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# THE test command (run after devtools/setup.sh):
#   1. builds with gcc (build/) and clang (build-clang/), warning-free with -Werror
#   2. runs the checks of devtools/checks.sh, one test each
#   3. runs the vhu-test suites through meson: selftest (the runner's own
#      tests, app/test/selftest.sh), fast, driver, perf, stress
#   4. runs every executable devtools/tests.d/*.sh; each ends its output with
#      "N passed, N failed, N skipped" and exits non-zero on failure
#   5. ends with the grand total: "N passed, N failed, N skipped"
# Exit status: 0 when nothing failed.
#
# Environment:
#   VHU_BUILD_DIR         gcc build directory (default build)
#   VHU_CLANG_BUILD_DIR   clang build directory (default build-clang)
#   VHU_SUITES            meson suites to run (default "selftest fast driver perf stress")
#   VHU_TESTD_TIMEOUT     seconds allowed to each tests.d script (default 1200)
#   VHU_TEST_BUDGET       seconds for the whole run (default 3000): a tests.d
#                         script gets at most what is left, and fails unrun
#                         when less than a minute is left
#   VHU_SDK_CACHE         as for devtools/setup.sh
set -uo pipefail

cd "$(dirname "$0")/.."
export LC_ALL=C

builddir=${VHU_BUILD_DIR:-build}
clangdir=${VHU_CLANG_BUILD_DIR:-build-clang}
suites=${VHU_SUITES-selftest fast driver perf stress}
testd_timeout=${VHU_TESTD_TIMEOUT:-1200}
budget=${VHU_TEST_BUDGET:-3000}
summary_re='^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$'

total_pass=0
total_fail=0
total_skip=0
report=()
t_start=$(date +%s)

banner() { printf '\n======== %s\n' "$*"; }

# record NAME PASSED FAILED SKIPPED SECONDS
record() {
	total_pass=$((total_pass + $2))
	total_fail=$((total_fail + $3))
	total_skip=$((total_skip + $4))
	report+=("$(printf '%-22s %5d passed %4d failed %4d skipped %6ss' "$1" "$2" "$3" "$4" "$5")")
}

# Reads a command's output on stdin; prints "P F S" from its last summary line,
# or nothing when there is none.
last_summary() {
	local line p="" f="" s=""
	while IFS= read -r line; do
		line=${line%$'\r'}
		if [[ "$line" =~ $summary_re ]]; then
			p=${BASH_REMATCH[1]}
			f=${BASH_REMATCH[2]}
			s=${BASH_REMATCH[4]:-0}
		fi
	done
	[ -n "$p" ] && echo "$p $f $s"
}

# ---------------------------------------------------------------- builds
# meson_opt DIR NAME: the configured value of a build option
meson_opt() {
	meson introspect --buildoptions "$1" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
for o in json.load(sys.stdin):
    if o["name"] == sys.argv[1]:
        print(o["value"])' "$2"
}

# build NAME DIR CC
build() {
	local name=$1 dir=$2 cc=$3 t0 rc=0 log opts=()
	t0=$(date +%s)
	banner "build $name ($dir)"
	log=$(mktemp)
	[ -n "${VHU_SDK_CACHE:-}" ] && opts+=("-Dsdk_cache=$VHU_SDK_CACHE")
	if [ ! -f "$dir/build.ninja" ]; then
		[ -d "$dir/meson-private" ] && opts+=(--wipe)
		CC=$cc meson setup "$dir" -Dwerror=true -Dwarning_level=2 "${opts[@]}" </dev/null >"$log" 2>&1 ||
			rc=1
		[ $rc -eq 0 ] || cat "$log"
	else
		# an existing directory: make sure nobody turned the warnings off
		if [ "$(meson_opt "$dir" werror)" != True ] || [ "$(meson_opt "$dir" warning_level)" -lt 2 ] ||
			{ [ -n "${VHU_SDK_CACHE:-}" ] && [ "$(meson_opt "$dir" sdk_cache)" != "$VHU_SDK_CACHE" ]; }; then
			meson configure "$dir" -Dwerror=true -Dwarning_level=2 "${opts[@]}" </dev/null >"$log" 2>&1 ||
				{ rc=1; cat "$log"; }
		fi
	fi
	if [ $rc -eq 0 ] && ! grep -q "C compiler for the host machine: .*($cc " "$dir/meson-logs/meson-log.txt" 2>/dev/null; then
		echo "$dir is not configured with $cc; remove it and rerun"
		rc=1
	fi
	if [ $rc -eq 0 ]; then
		ninja -C "$dir" </dev/null 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		# -Werror covers the compilers; this also catches linker and tool warnings
		if grep -Eqi '(^|[^a-z_])warning:' "$log"; then
			echo "the $name build printed warnings"
			rc=1
		fi
	fi
	rm -f "$log"
	if [ $rc -eq 0 ]; then
		echo "build $name: ok"
		record "build-$name" 1 0 0 $(($(date +%s) - t0))
	else
		echo "build $name: FAILED"
		record "build-$name" 0 1 0 $(($(date +%s) - t0))
	fi
	return $rc
}

build gcc "$builddir" gcc
gcc_ok=$?
build clang "$clangdir" clang

# ---------------------------------------------------------------- checks
for c in forbidden symbols format pmdinfo testpmd install layers; do
	t0=$(date +%s)
	banner "check $c"
	if bash devtools/checks.sh -B "$builddir" "$c" </dev/null; then
		record "check-$c" 1 0 0 $(($(date +%s) - t0))
	else
		record "check-$c" 0 1 0 $(($(date +%s) - t0))
	fi
done

# ---------------------------------------------------------------- suites
if [ -z "${suites// /}" ]; then
	banner "meson test: no suite asked for (VHU_SUITES is empty)"
elif [ "$gcc_ok" -eq 0 ]; then
	t0=$(date +%s)
	args=()
	for s in $suites; do
		args+=(--suite "$s")
	done
	banner "meson test ${args[*]}"
	# One runner process per suite, in sequence (they start DPDK processes
	# and pin lcores). The per-suite timeouts are in app/test/meson.build.
	rm -f "$builddir/meson-logs/vhu-suites.json"
	meson test -C "$builddir" --no-rebuild --num-processes 1 --verbose \
		--logbase vhu-suites "${args[@]}" </dev/null
	meson_rc=$?
	# Per suite: counts from the runner's last line; a failed or crashed
	# run with no failure counted counts as one failure.
	while read -r name p f s secs; do
		record "suite-$name" "$p" "$f" "$s" "$secs"
	done < <(/usr/bin/python3 - "$builddir/meson-logs/vhu-suites.json" "$suites" "$meson_rc" <<'EOF'
import json, re, sys
path, wanted, meson_rc = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
summary = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")
runs = {}
try:
    with open(path) as f:
        for line in f:
            if line.strip():
                t = json.loads(line)
                runs[t["name"].split(" / ")[-1]] = t
except OSError:
    pass
for name in wanted:
    t = runs.get(name)
    if t is None:
        # the suite did not run (meson test failed before it, or no such test)
        print(name, 0, 1, 0, 0)
        continue
    p = f = s = None
    for line in (t.get("stdout") or "").splitlines():
        m = summary.match(line.strip())
        if m:
            p, f, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    ok = t.get("result") in ("OK", "EXPECTEDFAIL")
    if p is None:
        p, f, s = 0, 1, 0
    elif not ok and f == 0:
        f = 1
    print(name, p, f, s, int(round(t.get("duration") or 0)))
EOF
)
else
	banner "meson test: skipped, the gcc build failed"
	for s in $suites; do
		record "suite-$s" 0 1 0 0
	done
fi

# ---------------------------------------------------------------- tests.d
for t in devtools/tests.d/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	if [ ! -x "$t" ]; then
		banner "tests.d/$name: not executable, ignored (chmod +x to run it)"
		continue
	fi
	banner "tests.d/$name"
	t0=$(date +%s)
	limit=$((budget - (t0 - t_start)))
	if [ "$limit" -lt 60 ]; then
		echo "tests.d/$name: not run, the ${budget}s budget of the whole run is spent"
		record "tests.d/$name" 0 1 0 0
		continue
	fi
	[ "$limit" -gt "$testd_timeout" ] && limit=$testd_timeout
	out=$(mktemp)
	VHU_BUILD_DIR=$builddir timeout -k 30 "$limit" "$t" </dev/null 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	read -r p f s < <(last_summary <"$out") || true
	rm -f "$out"
	[ "$rc" -eq 124 ] && echo "tests.d/$name: timed out after ${limit}s"
	if [ -z "${p:-}" ]; then
		echo "tests.d/$name: no final 'N passed, N failed, N skipped' line (exit status $rc)"
		p=0 f=1 s=0
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "tests.d/$name: exit status $rc with no failure counted: counted as one"
		f=1
	fi
	record "tests.d/$name" "$p" "$f" "$s" $(($(date +%s) - t0))
	unset p f s
done

# ---------------------------------------------------------------- total
banner "summary ($(($(date +%s) - t_start))s)"
printf '%s\n' "${report[@]}"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
