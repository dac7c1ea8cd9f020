/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * vhu_copy_frame(): the batches' whole-frame copy, whole 64-byte
 * lines on a CPU with AVX-512 and rte_memcpy otherwise. Every length from
 * below the threshold to a jumbo frame, aligned and unaligned destinations:
 * the frame arrives exactly, and not one byte around it is written. And
 * the CPU-specific paths the library chose when it loaded match the CPU.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhu_net_copy.h"
#include "vhu_test.h"

#define CANARY 0xa5
#define MAXLEN 9100u

VHU_TEST(fast, copy_frame_exact)
{
	static uint8_t src[MAXLEN + 64], area[MAXLEN + 256] __rte_aligned(64);
	static const uint32_t lens[] = {
		1,
		63,
		64,
		65,
		VHU_WIDE_COPY_MIN - 1,
		VHU_WIDE_COPY_MIN,
		VHU_WIDE_COPY_MIN + 1,
		511,
		512,
		513,
		1514,
		1518,
		2048,
		4095,
		9000,
		MAXLEN,
	};
	uint32_t i, k, off, n = 0;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	for (k = 0; k < RTE_DIM(lens); k++) {
		/* 64: a line-aligned destination (the wide path when the CPU has
		 * it); 12 and 1: unaligned, rte_memcpy */
		for (off = 64; off != 0; off = off == 64 ? 12 : off == 12 ? 1 : 0) {
			uint32_t len = lens[k], soff = (k * 5) % 64;

			memset(area, CANARY, sizeof(area));
			vhu_copy_frame(area + off, src + soff, len);
			TEST_ASSERT(memcmp(area + off, src + soff, len) == 0, "len %u at %u: frame",
					len, off);
			for (i = 0; i < off; i++)
				TEST_ASSERT_EQ(area[i], CANARY, "len %u at %u: byte %u before", len,
						off, i);
			for (i = off + len; i < sizeof(area); i++)
				TEST_ASSERT_EQ(area[i], CANARY, "len %u at %u: byte %u after", len,
						off, i);
			n++;
		}
	}
	printf("    %u copies checked; whole-line stores %s\n", n,
			vhu_copy_wide ? "on (AVX-512F)" : "off (no AVX-512F)");
	return TEST_SUCCESS;
}

/* Is flag among the "flags" of /proc/cpuinfo's first CPU? -1 when unreadable. */
static int
cpuinfo_has(const char *flag)
{
	char line[8192];
	int found = -1;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *save = NULL, *tok;

		if (strncmp(line, "flags", 5) != 0)
			continue;
		found = 0;
		for (tok = strtok_r(strchr(line, ':'), " :\n", &save); tok != NULL;
				tok = strtok_r(NULL, " \n", &save))
			if (strcmp(tok, flag) == 0)
				found = 1;
		break;
	}
	fclose(f);
	return found;
}

/*
 * The CPU-specific paths the library picks when it loads agree with what
 * the kernel says this CPU has: whole-line copies with AVX-512F, write
 * prefetches with PREFETCHW ("3dnowprefetch"). A write prefetch lands on
 * any address without fault.
 */
VHU_TEST(fast, cpu_paths_match_cpuinfo)
{
	static uint8_t line[64] __rte_aligned(64);
	int avx = cpuinfo_has("avx512f"), pw = cpuinfo_has("3dnowprefetch");

	if (avx < 0 || pw < 0)
		return TEST_SKIPPED;
#ifdef RTE_ARCH_X86_64
	TEST_ASSERT_EQ((int)vhu_copy_wide, avx, "whole-line copies %d, cpuinfo avx512f %d",
			vhu_copy_wide, avx);
	TEST_ASSERT_EQ((int)vhu_has_prefetchw, pw, "prefetchw %d, cpuinfo 3dnowprefetch %d",
			vhu_has_prefetchw, pw);
#endif
	vhu_prefetch_w(line);
	vhu_prefetch_w(NULL);
	line[0] = 1;
	TEST_ASSERT_EQ(line[0], 1, "line");
	return TEST_SUCCESS;
}
