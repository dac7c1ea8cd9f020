/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The perf suite: cycles per packet of the dequeue and enqueue bursts
 * alone, packed and split rings side by side, on the hand-built devices of
 * guest_packed.h and guest_split.h. Printed, never asserted: the machine
 * may be busy, and devtools/ has the benchmark that compares.
 */

#include <stdio.h>
#include <stdlib.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "guest_packed.h"
#include "vhu.h"
#include "vhu_test.h"

#define F(b)          VHU_BIT(VHU_F_##b)
#define BASE_FEATURES F(RING_INDIRECT_DESC)

static uint8_t frame[16384];
static uint8_t got[16384];

#define PERF_ROUNDS 2000
#define PERF_BURST  32

static uint64_t perf_deq[PERF_ROUNDS], perf_enq[PERF_ROUNDS];

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median cycles per packet over the rounds (a busy machine preempts some bursts). */
static double
perf_median(uint64_t *v)
{
	qsort(v, PERF_ROUNDS, sizeof(*v), cmp_u64);
	return (double)v[PERF_ROUNDS / 2] / PERF_BURST;
}

static struct rte_mempool *
perf_pool(void)
{
	static struct rte_mempool *mp;

	if (mp == NULL)
		mp = rte_pktmbuf_pool_create(
				"pkperf", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	return mp;
}

/* One environment of each layout. */
struct perf_envs {
	struct penv p;
	struct tenv t;
};

static int
perf_envs_teardown(void *obj, int status)
{
	struct perf_envs *e = obj;

	RTE_SET_USED(status);
	penv_fini(&e->p);
	tenv_fini(&e->t);
	return TEST_SUCCESS;
}

VHU_FIXTURE(perf_envs, NULL, perf_envs_teardown);

/* Cycles per packet of dequeue and enqueue bursts of 64-byte frames (packed ring). */
static int
perf_packed(struct penv *e, uint64_t features, double *deq, double *enq)
{
	struct rte_mbuf *pkts[PERF_BURST];
	struct rte_mempool *mp = perf_pool();
	struct vhu_net_hdr hdr;
	uint64_t t;
	uint32_t r, i;

	TEST_ASSERT_EQ(penv_init(e, features, 0, 256, 1), 0, "env");
	make_frame(frame, 64, 1);
	for (r = 0; r < PERF_ROUNDS; r++) {
		for (i = 0; i < PERF_BURST; i++) {
			TEST_ASSERT(ptx_send(e, frame, 64, NULL, TXL_ONE, false) >= 0, "");
			TEST_ASSERT(prx_post(e, 2048, 1, false) >= 0, "");
		}
		t = rte_rdtsc_precise();
		TEST_ASSERT(mp != NULL, "");
		TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, mp, pkts, PERF_BURST), PERF_BURST,
				"");
		perf_deq[r] = rte_rdtsc_precise() - t;
		t = rte_rdtsc_precise();
		TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, PERF_BURST), PERF_BURST, "");
		perf_enq[r] = rte_rdtsc_precise() - t;
		rte_pktmbuf_free_bulk(pkts, PERF_BURST);
		TEST_ASSERT_EQ(ptx_reclaim(e), PERF_BURST, "");
		for (i = 0; i < PERF_BURST; i++)
			TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 64, "");
	}
	penv_fini(e);
	*deq = perf_median(perf_deq);
	*enq = perf_median(perf_enq);
	return TEST_SUCCESS;
}

/* The same with the split ring, for comparison. */
static int
perf_split(struct tenv *e, uint64_t features, double *deq, double *enq)
{
	struct rte_mbuf *pkts[PERF_BURST];
	struct rte_mempool *mp = perf_pool();
	struct vhu_net_hdr hdr;
	uint64_t t;
	uint32_t r, i, id, len;

	TEST_ASSERT_EQ(tenv_init(e, features | F(VERSION_1), 0, 256, 1), 0, "env");
	/* buffer allocations that wrap round the region must not land on the rings */
	e->gm.r[0].data_start = RTE_ALIGN_CEIL(e->gm.r[0].brk, 4096);
	make_frame(frame, 64, 1);
	for (r = 0; r < PERF_ROUNDS; r++) {
		for (i = 0; i < PERF_BURST; i++) {
			TEST_ASSERT(tx_send(e, frame, 64, NULL, TXL_ONE, false) >= 0, "");
			TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
		}
		t = rte_rdtsc_precise();
		TEST_ASSERT(mp != NULL, "");
		TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, mp, pkts, PERF_BURST), PERF_BURST,
				"");
		perf_deq[r] = rte_rdtsc_precise() - t;
		t = rte_rdtsc_precise();
		TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, PERF_BURST), PERF_BURST, "");
		perf_enq[r] = rte_rdtsc_precise() - t;
		rte_pktmbuf_free_bulk(pkts, PERF_BURST);
		while (gring_pop(&e->g[1], &id, &len))
			;
		for (i = 0; i < PERF_BURST; i++)
			TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 64, "");
	}
	tenv_fini(e);
	*deq = perf_median(perf_deq);
	*enq = perf_median(perf_enq);
	return TEST_SUCCESS;
}

VHU_TEST_F(perf, packed_burst_cycles, perf_envs, e)
{
	static const struct {
		const char *name;
		uint64_t f;
	} cases[] = {
		{ "plain", BASE_FEATURES },
		{ "mrg", BASE_FEATURES | F(NET_MRG_RXBUF) },
		{ "in-order", BASE_FEATURES | F(IN_ORDER) },
	};
	uint32_t c;

	for (c = 0; c < RTE_DIM(cases); c++) {
		double pd, pe, sd, se;

		TEST_RUN(perf_packed(&e->p, cases[c].f, &pd, &pe));
		TEST_RUN(perf_split(&e->t, cases[c].f, &sd, &se));
		printf("    %-9s 64 B, bursts of %u, median: dequeue packed %6.1f split %6.1f "
		       "cyc/pkt; enqueue packed %6.1f split %6.1f cyc/pkt\n",
				cases[c].name, PERF_BURST, pd, sd, pe, se);
	}
	return TEST_SUCCESS;
}
