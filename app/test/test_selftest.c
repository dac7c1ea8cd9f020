/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The runner's own tests (suite selftest, run only when named). Some fail
 * on purpose: app/test/selftest.sh runs the suite and checks that exactly
 * these fail, each for its reason, and that the case after each failure
 * runs and passes:
 *   selftest_crash                  dies of SIGSEGV          -> FAIL (signal 11)
 *   selftest_after_crash            runs in a fresh process  -> PASS
 *   selftest_hang                   leaves a process behind
 *                                   and never returns        -> FAIL (timed out)
 *   selftest_group_killed           that process is gone     -> PASS
 *   selftest_fixture_assert         a failed assertion in a
 *                                   fixture's body           -> FAIL
 *   selftest_fixture_teardown_ran   the fixture's teardown ran
 *                                   after it, and the body
 *                                   stopped at the assertion -> PASS
 * The two fixture cases also run with --no-fork (same outcome: teardown
 * runs in the runner's own process).
 * Files pass facts from one case's process to the next, in a directory
 * named after the runner's pid, which the last case removes.
 */

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "mock_fe.h"
#include "vhu_test.h"

static void
note_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/vhu-selftest-%d/%s", vhu_test_runner_pid, name);
}

/* Write text into the note called name (creating the directory). */
static int
note_write(const char *name, const char *text)
{
	char dir[64], path[128];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/vhu-selftest-%d", vhu_test_runner_pid);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	note_path(name, path, sizeof(path));
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

/* The note's text into buf ("" when there is none). */
static void
note_read(const char *name, char *buf, size_t len)
{
	char path[128];
	size_t n = 0;
	FILE *f;

	note_path(name, path, sizeof(path));
	f = fopen(path, "r");
	if (f != NULL) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* ---- a crash, then the next case ---- */

VHU_TEST(selftest, selftest_crash)
{
	/* leave state behind in the shared callback recorder, then crash */
	vhu_rec.new_dev = 42;
	TEST_ASSERT_EQ(note_write("crash", "about to crash\n"), 0, "note");
	raise(SIGSEGV);
	return TEST_SUCCESS;
}

VHU_TEST(selftest, selftest_after_crash)
{
	char text[64];

	note_read("crash", text, sizeof(text));
	TEST_ASSERT(strcmp(text, "about to crash\n") == 0, "the crashing case did not run first");
	TEST_ASSERT_EQ(vhu_rec.new_dev, 0, "this process saw the crashed case's recorder");
	return TEST_SUCCESS;
}

/* ---- a hang with a process of its own, then the next case ---- */

VHU_TEST(selftest, selftest_hang, .timeout_s = 2)
{
	char pid_text[32];
	pid_t pid;

	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (pid == 0) {
		for (;;)
			pause();
	}
	snprintf(pid_text, sizeof(pid_text), "%d\n", (int)pid);
	TEST_ASSERT_EQ(note_write("hang", pid_text), 0, "note");
	for (;;)
		pause();
	return TEST_SUCCESS;
}

/* Is pid running (alive and not a zombie)? */
static bool
running(pid_t pid)
{
	char path[64], stat[256], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	p = strrchr(stat, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

VHU_TEST(selftest, selftest_group_killed)
{
	char text[32];
	pid_t pid;
	int i;

	note_read("hang", text, sizeof(text));
	pid = (pid_t)atoi(text);
	TEST_ASSERT(pid > 0, "the hanging case left no pid");
	/* the runner killed the group before reaping the case; the
	 * grandchild's zombie is its new parent's to reap */
	for (i = 0; i < 100 && running(pid); i++)
		vhu_test_sleep_ms(10);
	TEST_ASSERT(!running(pid), "process %d of the hanging case still runs", (int)pid);
	return TEST_SUCCESS;
}

/* ---- a failed assertion inside a fixture ---- */

struct selftest_fx {
	int setup_ran;
	int body_reached_end;
};

static int
selftest_fx_setup(void *obj)
{
	struct selftest_fx *f = obj;

	f->setup_ran = 1;
	return TEST_SUCCESS;
}

static int
selftest_fx_teardown(void *obj, int status)
{
	struct selftest_fx *f = obj;
	char text[64];

	snprintf(text, sizeof(text), "teardown setup=%d end=%d status=%d\n", f->setup_ran,
			f->body_reached_end, status);
	return note_write("teardown", text) == 0 ? TEST_SUCCESS : TEST_FAILED;
}

VHU_FIXTURE(selftest_fx, selftest_fx_setup, selftest_fx_teardown);

VHU_TEST_F(selftest, selftest_fixture_assert, selftest_fx, f)
{
	TEST_ASSERT(f->setup_ran, "setup did not run before the body");
	TEST_ASSERT(1 + 1 == 3, "fails on purpose");
	f->body_reached_end = 1;
	return TEST_SUCCESS;
}

VHU_TEST(selftest, selftest_fixture_teardown_ran)
{
	char text[64], dir[64];

	note_read("teardown", text, sizeof(text));
	TEST_ASSERT(strcmp(text, "teardown setup=1 end=0 status=-1\n") == 0,
			"the fixture's teardown left '%s'", text);
	/* the last case: clean up the notes */
	note_path("crash", text, sizeof(text));
	unlink(text);
	note_path("hang", text, sizeof(text));
	unlink(text);
	note_path("teardown", text, sizeof(text));
	unlink(text);
	snprintf(dir, sizeof(dir), "/tmp/vhu-selftest-%d", vhu_test_runner_pid);
	TEST_ASSERT_EQ(rmdir(dir), 0, "notes directory: %s", strerror(errno));
	return TEST_SUCCESS;
}
