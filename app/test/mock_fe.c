/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Test helpers and the in-process mock front-end.
 */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock_fe.h"

int
vhu_test_tmpdir(char *buf, size_t len)
{
	if (snprintf(buf, len, "/tmp/vhu-test-XXXXXX") >= (int)len)
		return -1;
	return mkdtemp(buf) != NULL ? 0 : -1;
}

static int
count_dir(const char *path)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;   /* the directory stream's own fd */
}

int
vhu_test_count_fds(void)
{
	return count_dir("/proc/self/fd");
}

int
vhu_test_count_threads(void)
{
	return count_dir("/proc/self/task") + 1;
}

void
vhu_test_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int
vhu_test_wait(volatile int *v, int target, int timeout_ms)
{
	int waited = 0;

	while (__atomic_load_n(v, __ATOMIC_SEQ_CST) < target) {
		if (waited >= timeout_ms)
			return 0;
		vhu_test_sleep_ms(2);
		waited += 2;
	}
	return 1;
}
