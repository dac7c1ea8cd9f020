/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * vhu_copy_frame(): the enqueue batches' whole-frame copy, whole 64-byte
 * lines on a CPU with AVX-512 and rte_memcpy otherwise. Every length from
 * below the threshold to a jumbo frame, aligned and unaligned destinations:
 * the frame arrives exactly, and not one byte around it is written.
 */

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
