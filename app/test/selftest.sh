#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# selftest.sh VHU_TEST: proves the runner of app/test (meson test "selftest").
# Runs the hidden suite selftest (app/test/test_selftest.c), whose cases
# crash, hang and fail an assertion on purpose, and checks that exactly
# those are reported as failures, each with its reason, that the case after
# each one runs and passes, that the hanging case's process group is killed,
# that a fixture's teardown runs after a failed assertion (in a child and
# with --no-fork), that the suite stays out of runs that do not name it,
# and that no EAL runtime directory is left behind.
# Ends with "N passed, N failed, N skipped"; exit status non-zero on failure.
set -uo pipefail

bin=${1:?usage: selftest.sh path/to/vhu-test}
unset VHU_TEST_TIMEOUT_SCALE VHU_TEST_NO_FORK
export LC_ALL=C
pass=0 fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

check() { # check WHAT COMMAND...
	local what=$1
	shift
	if "$@"; then
		echo "ok - $what"
		pass=$((pass + 1))
	else
		echo "not ok - $what"
		fail=$((fail + 1))
	fi
}
has() { grep -Eq -- "$1" "$out"; }
last_is() { [ "$(tail -n 1 "$out")" = "$1" ]; }
# the RUN lines of the listed cases appear in this order
ran_in_order() {
	local got want
	got=$(sed -n 's/^RUN  selftest\///p' "$out" | tr '\n' ' ')
	want="$* "
	[ "$got" = "$want" ]
}

echo "== vhu-test --suite selftest (one child per case)"
"$bin" --suite selftest >"$out" 2>&1 </dev/null &
runner=$!
wait "$runner"
rc=$?
cat "$out"
check "exit status 1 (got $rc)" [ "$rc" -eq 1 ]
check "summary: 3 passed, 3 failed" last_is "3 passed, 3 failed, 0 skipped"
check "every case ran, in order" ran_in_order selftest_crash selftest_after_crash \
	selftest_hang selftest_group_killed selftest_fixture_assert selftest_fixture_teardown_ran
check "crash: failed, signal 11 reported" \
	eval 'has "^FAIL selftest/selftest_crash " && has "selftest_crash: killed by signal 11 "'
check "the case after the crash passed" has "^PASS selftest/selftest_after_crash "
check "hang: failed, timeout reported" \
	eval 'has "^FAIL selftest/selftest_hang " && has "selftest_hang: timed out after 2 s"'
check "the hanging case's process group was killed" has "^PASS selftest/selftest_group_killed "
check "fixture assertion: failed at the assertion" \
	eval 'has "^FAIL selftest/selftest_fixture_assert " && has "assert failed: 1 \+ 1 == 3"'
check "the fixture's teardown ran after the failed assertion" \
	has "^PASS selftest/selftest_fixture_teardown_ran "
check "no EAL runtime directory left" \
	eval '! compgen -G "/var/run/dpdk/vhu-test-$runner-*" >/dev/null &&
		! compgen -G "${XDG_RUNTIME_DIR:-/tmp}/dpdk/vhu-test-$runner-*" >/dev/null'

echo "== vhu-test --no-fork --suite selftest --filter selftest_fixture (in-process)"
"$bin" --no-fork --suite selftest --filter selftest_fixture >"$out" 2>&1 </dev/null
rc=$?
cat "$out"
check "in-process: exit status 1 (got $rc)" [ "$rc" -eq 1 ]
check "in-process: summary 1 passed, 1 failed" last_is "1 passed, 1 failed, 0 skipped"
check "in-process: teardown ran after the failed assertion" \
	eval 'has "^FAIL selftest/selftest_fixture_assert " &&
		has "^PASS selftest/selftest_fixture_teardown_ran "'

echo "== the suite is hidden"
"$bin" --list >"$out" 2>&1 </dev/null
check "not in an unnamed run" eval '! has "^selftest "'
"$bin" --list --suite selftest >"$out" 2>&1 </dev/null
check "listed when named" [ "$(grep -c '^selftest ' "$out")" -eq 6 ]

echo "$pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
