/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Test helpers and an in-process mock vhost-user front-end.
 */

#ifndef VHU_MOCK_FE_H
#define VHU_MOCK_FE_H

#include <stddef.h>
#include <stdint.h>

/* A private directory for socket files (mkdtemp under /tmp). 0 or -1. */
int vhu_test_tmpdir(char *buf, size_t len);
/* Open fds of this process (entries of /proc/self/fd). */
int vhu_test_count_fds(void);
/* Threads of this process (entries of /proc/self/task). */
int vhu_test_count_threads(void);
/* Wait until *v >= target, polling every ms, at most timeout_ms. 1 if reached. */
int vhu_test_wait(volatile int *v, int target, int timeout_ms);
/* Sleep ms milliseconds. */
void vhu_test_sleep_ms(int ms);

#endif /* VHU_MOCK_FE_H */
