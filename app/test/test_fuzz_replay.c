/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Every input the fuzzers keep (seeds and crashes, app/fuzz/corpus) replayed
 * through the same harnesses as a regression test.
 */

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz_harness.h"
#include "vhu_test.h"

#ifndef VHU_TEST_SOURCE_DIR
#define VHU_TEST_SOURCE_DIR "."
#endif

static int
replay_dir(const char *target, int (*run)(const uint8_t *, size_t, const char **),
		unsigned int *count)
{
	char dir[512], path[1024];
	struct dirent *e;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/app/fuzz/corpus/%s", VHU_TEST_SOURCE_DIR, target);
	dp = opendir(dir);
	TEST_ASSERT(dp != NULL, "no corpus in %s", dir);
	while ((e = readdir(dp)) != NULL) {
		static uint8_t buf[1 << 20];
		const char *why = NULL;
		ssize_t n;
		int fd, rc;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n < 0)
			continue;
		rc = run(buf, (size_t)n, &why);
		if (rc != 0) {
			closedir(dp);
			TEST_LOG("%s: %s", path, why != NULL ? why : "failed");
			return TEST_FAILED;
		}
		(*count)++;
	}
	closedir(dp);
	return TEST_SUCCESS;
}

VHU_TEST(fast, fuzz_corpus_replay)
{
	unsigned int n_msg = 0, n_split = 0, n_packed = 0;
	int rc;

	/* each run checks its own leaks; the ring harnesses keep their guest
	 * memory and pools from one run to the next */
	vhu_fuzz_quiet(1);
	rc = replay_dir("msg", vhu_fuzz_msg_run, &n_msg);
	if (rc == TEST_SUCCESS)
		rc = replay_dir("split", vhu_fuzz_split_run, &n_split);
	if (rc == TEST_SUCCESS)
		rc = replay_dir("packed", vhu_fuzz_packed_run, &n_packed);
	vhu_fuzz_quiet(0);
	TEST_RUN(rc);
	TEST_ASSERT(n_msg > 0 && n_split > 0 && n_packed > 0,
			"inputs replayed: %u msg, %u split, %u packed", n_msg, n_split, n_packed);
	TEST_LOG("replayed %u msg, %u split and %u packed inputs", n_msg, n_split, n_packed);
	return TEST_SUCCESS;
}
