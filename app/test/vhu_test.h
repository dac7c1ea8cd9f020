/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * A small DPDK-style test framework. A test is a function returning
 * TEST_SUCCESS, TEST_FAILED or TEST_SKIPPED, registered into a suite with
 * VHU_TEST(suite, name). The runner (test_main.c) initialises EAL once
 * (no hugepages unless asked), runs the selected suites and ends with the
 * line "N passed, N failed, N skipped".
 *
 * Suites: fast (unit, no peer process), driver (real peers: DPDK
 * virtio-user, dpdk-testpmd), perf (smoke only, never timed), stress.
 */

#ifndef VHU_TEST_H
#define VHU_TEST_H

#include <stdio.h>
#include <string.h>

#define TEST_SUCCESS 0
#define TEST_FAILED  (-1)
#define TEST_SKIPPED 77

typedef int (*vhu_test_fn)(void);

struct vhu_test_case {
	const char *suite;
	const char *name;
	vhu_test_fn fn;
	struct vhu_test_case *next;
};

void vhu_test_register(struct vhu_test_case *tc);

#define VHU_TEST(suite_, name_) \
	static int test_ ## name_(void); \
	static struct vhu_test_case tc_ ## name_ = { \
		.suite = #suite_, .name = #name_, .fn = test_ ## name_, \
	}; \
	__attribute__((constructor)) static void reg_ ## name_(void) \
	{ vhu_test_register(&tc_ ## name_); } \
	static int test_ ## name_(void)

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

#endif /* VHU_TEST_H */
