/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * A small DPDK-style test framework. A test returns TEST_SUCCESS,
 * TEST_FAILED or TEST_SKIPPED and is registered into a suite:
 *
 *   VHU_TEST(fast, codec_header)             plain: the body owns everything
 *   { ... }
 *
 *   VHU_TEST_F(fast, split_enq_frames, tenv, e)
 *   { ... }                                  a fixture: the body gets a
 *                                            struct tenv *e, zeroed, set up
 *                                            by the fixture's setup, and the
 *                                            fixture's teardown runs after
 *                                            the body however it returned
 *
 * Either form takes optional case attributes after its arguments, as
 * designated initialisers of struct vhu_test_case:
 *
 *   VHU_TEST(driver, pmd_peer_jumbo, .timeout_s = 240)
 *
 * The runner (test_main.c) runs each case in a child process of its own,
 * which initialises EAL itself, under a time limit (the case's timeout_s,
 * or its suite's default); a crash or a hang is that case's failure and
 * the next case runs. It ends with the line "N passed, N failed, N
 * skipped". --no-fork (or VHU_TEST_NO_FORK=1) runs every case in the
 * runner's own process instead, with no time limit, for gdb.
 *
 * Suites: fast (unit, no peer process), driver (real peers: DPDK
 * virtio-user, dpdk-testpmd), perf (smoke only, never timed), stress, and
 * selftest (the runner's own tests; they fail on purpose, run only when
 * named, see app/test/selftest.sh).
 */

#ifndef VHU_TEST_H
#define VHU_TEST_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define TEST_SUCCESS 0
#define TEST_FAILED  (-1)
#define TEST_SKIPPED 77

/*
 * A fixture: an object of size bytes the runner allocates zeroed for one
 * case. setup (may be NULL) prepares it; teardown (may be NULL) runs after
 * setup, whatever setup or the body returned (status: TEST_SUCCESS,
 * TEST_FAILED or TEST_SKIPPED), so it must take a partly set-up object,
 * one that starts zeroed. Each returns a test status: a teardown that
 * fails fails a case that had passed.
 */
struct vhu_test_fixture {
	const char *name;
	size_t size;
	int (*setup)(void *obj);
	int (*teardown)(void *obj, int status);
};

/* A file-local fixture of struct tag_: VHU_FIXTURE(env, env_setup, env_teardown); */
#define VHU_FIXTURE(tag_, setup_, teardown_) \
	static const struct vhu_test_fixture vhu_fixture_##tag_ = \
			VHU_FIXTURE_INIT(tag_, setup_, teardown_)
/* The initialiser, for a fixture shared through a header
 * (extern const struct vhu_test_fixture vhu_fixture_tag;). */
#define VHU_FIXTURE_INIT(tag_, setup_, teardown_) \
	{ \
		.name = #tag_, .size = sizeof(struct tag_), .setup = (setup_), \
		.teardown = (teardown_), \
	}

struct vhu_test_case {
	const char *suite;
	const char *name;
	int (*fn)(void);                        /* VHU_TEST */
	const struct vhu_test_fixture *fixture; /* VHU_TEST_F */
	int (*body)(void *obj);                 /* VHU_TEST_F, called with the fixture */
	unsigned int timeout_s;                 /* 0: the suite's default */
	struct vhu_test_case *next;
};

void vhu_test_register(struct vhu_test_case *tc);

#define VHU_TEST(suite_, name_, ...) \
	static int test_##name_(void); \
	static struct vhu_test_case tc_##name_ = { \
		.suite = #suite_, .name = #name_, .fn = test_##name_, __VA_ARGS__ \
	}; \
	__attribute__((constructor)) static void reg_##name_(void) \
	{ \
		vhu_test_register(&tc_##name_); \
	} \
	static int test_##name_(void)

#define VHU_TEST_F(suite_, name_, tag_, var_, ...) \
	static int test_##name_(struct tag_ *var_); \
	static int body_##name_(void *obj) \
	{ \
		return test_##name_(obj); \
	} \
	static struct vhu_test_case tc_##name_ = { .suite = #suite_, \
		.name = #name_, \
		.fixture = &vhu_fixture_##tag_, \
		.body = body_##name_, \
		__VA_ARGS__ }; \
	__attribute__((constructor)) static void reg_##name_(void) \
	{ \
		vhu_test_register(&tc_##name_); \
	} \
	static int test_##name_(struct tag_ *var_)

#define TEST_LOG(fmt, ...) \
	fprintf(stderr, "    %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__)

#define TEST_ASSERT(cond, fmt, ...) do { \
	if (!(cond)) { \
		TEST_LOG("assert failed: %s: " fmt, #cond, ##__VA_ARGS__); \
		return TEST_FAILED; \
	} \
} while (0)

#define TEST_ASSERT_EQ(a, b, fmt, ...) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { \
		TEST_LOG("assert failed: %s == %s (%lld != %lld): " fmt, \
			 #a, #b, a_, b_, ##__VA_ARGS__); \
		return TEST_FAILED; \
	} \
} while (0)

/* Run a sub-step that returns a test status; propagate anything but success. */
#define TEST_RUN(expr) do { \
	int r_ = (expr); \
	if (r_ != TEST_SUCCESS) \
		return r_; \
} while (0)

/* Directory of DPDK's own PMD plugins (virtio-user, net_vhost), from meson. */
extern const char *vhu_test_dpdk_pmd_dir;
/* Build directory (for tools such as the testpmd wrapper). */
extern const char *vhu_test_build_dir;
/* Were hugepages given to EAL (--huge)? */
extern int vhu_test_huge;
/* Pid of the runner (the parent of every case's process; getpid() with --no-fork). */
extern int vhu_test_runner_pid;
/* Remove what a DPDK process with this --file-prefix left (its runtime
 * directory; with --huge, its hugepage files): once it has ended. */
void vhu_test_eal_remove(const char *prefix);

#endif /* VHU_TEST_H */
