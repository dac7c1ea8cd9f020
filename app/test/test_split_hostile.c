/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Split-ring datapath against a hostile guest (fast suite): every broken
 * chain is dropped and counted, its head still goes back on the used ring,
 * the error eventfd fires, no mbuf leaks, and the ring keeps working. A
 * guest that moves avail->idx beyond the ring stops the ring until it is
 * started again. A bounded random run ends the file.
 */

#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_random.h>

#include "guest_split.h"
#include "vhu.h"
#include "vhu_test.h"

#define F(b)         VHU_BIT(VHU_F_##b)
#define FEATS        (F(VERSION_1) | F(RING_INDIRECT_DESC))
#define QSIZE        64
#define POOL_FULL(e) (rte_mempool_avail_count((e)->mp) == (e)->mp->size)

static uint8_t frame[16384];
static uint8_t got[16384];

/* Make head available in ring q as-is (descriptors written by the test). */
static void
raw_avail(struct tenv *e, int q, uint16_t head)
{
	struct gring *g = &e->g[q];

	g->avail->ring[g->avail_idx & (g->size - 1)] = head;
	g->avail_idx++;
	gring_publish(g);
}

static void
set_desc(struct vhu_vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* A good frame still goes through after the bad one (ring not wedged). */
static int
still_works(struct tenv *e)
{
	struct rte_mbuf *m;
	uint32_t id, len;
	uint8_t ok[128];

	make_frame(ok, 128, 77);
	TEST_ASSERT(tx_send(e, ok, 128, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, &m, 1), 1, "ring still works");
	TEST_ASSERT(mbuf_cmp(m, ok, 128) == 0, "");
	rte_pktmbuf_free(m);
	while (gring_pop(&e->g[1], &id, &len))
		;
	return TEST_SUCCESS;
}

/* Dequeue after a bad chain at head: dropped, counted, returned, signalled. */
static int
expect_tx_drop(struct tenv *e, uint16_t head, const char *what)
{
	struct rte_mbuf *pkts[4];
	uint64_t errors = e->vq[1]->stats.errors;
	uint16_t used = e->g[1].used->idx;
	uint32_t id, len;

	raw_avail(e, 1, head);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "%s: dropped", what);
	TEST_ASSERT_EQ(e->vq[1]->stats.errors, errors + 1, "%s: counted", what);
	TEST_ASSERT_EQ((uint16_t)(e->g[1].used->idx - used), 1, "%s: head returned", what);
	TEST_ASSERT_EQ(gring_pop(&e->g[1], &id, &len), 1, "");
	TEST_ASSERT_EQ(id, head, "%s: the same head", what);
	TEST_ASSERT(tenv_errs(e, 1) > 0, "%s: error fd", what);
	TEST_ASSERT(POOL_FULL(e), "%s: mbuf leak", what);
	TEST_ASSERT(!e->vq[1]->broken, "%s: ring still running", what);
	return still_works(e);
}

VHU_TEST_F(fast, split_hostile_deq_chains, tenv, e)
{
	struct vhu_vring_desc *d, *t;
	uint64_t buf, top, tbl;

	TEST_ASSERT_EQ(tenv_init(e, FEATS, 0, QSIZE, 2), 0, "env");
	d = e->g[1].desc;
	buf = gmem_alloc(&e->gm, 0, 4096, 64);
	make_frame(frame, 2000, 1);
	gmem_write(&e->gm, buf, frame, 2000);
	top = e->gm.r[1].gpa + e->gm.r[1].size;

	/* a loop */
	set_desc(&d[60], buf, 100, VHU_DESC_F_NEXT, 61);
	set_desc(&d[61], buf + 100, 100, VHU_DESC_F_NEXT, 60);
	TEST_RUN(expect_tx_drop(e, 60, "loop"));
	/* a self loop */
	set_desc(&d[62], buf, 100, VHU_DESC_F_NEXT, 62);
	TEST_RUN(expect_tx_drop(e, 62, "self loop"));
	/* outside guest memory */
	set_desc(&d[60], 0xdead00000000ull, 100, 0, 0);
	TEST_RUN(expect_tx_drop(e, 60, "outside memory"));
	set_desc(&d[60], 0x1000, 100, 0, 0);
	TEST_RUN(expect_tx_drop(e, 60, "below memory"));
	/* running off the end of the last region, and wrapping u64 */
	set_desc(&d[60], top - 64, 200, 0, 0);
	TEST_RUN(expect_tx_drop(e, 60, "past the top"));
	set_desc(&d[60], top - 16, 0xffffffffu, 0, 0);
	TEST_RUN(expect_tx_drop(e, 60, "huge length"));
	set_desc(&d[60], 0xfffffffffffffff0ull, 0x100, 0, 0);
	TEST_RUN(expect_tx_drop(e, 60, "u64 wrap"));
	/* zero-length descriptor in a chain */
	set_desc(&d[60], buf, 100, VHU_DESC_F_NEXT, 61);
	set_desc(&d[61], buf + 100, 0, 0, 0);
	TEST_RUN(expect_tx_drop(e, 60, "zero length"));
	/* next out of range */
	set_desc(&d[60], buf, 100, VHU_DESC_F_NEXT, 200);
	TEST_RUN(expect_tx_drop(e, 60, "next out of range"));
	/* device-writable descriptor in a TX chain */
	set_desc(&d[60], buf, 100, VHU_DESC_F_WRITE, 0);
	TEST_RUN(expect_tx_drop(e, 60, "write flag on TX"));
	/* too short for a header and an Ethernet header */
	set_desc(&d[60], buf, 20, 0, 0);
	TEST_RUN(expect_tx_drop(e, 60, "runt"));
	/* longer than any frame */
	set_desc(&d[60], buf, 100, VHU_DESC_F_NEXT, 61);
	set_desc(&d[61], e->gm.r[0].gpa, 0x200000, 0, 0);
	TEST_RUN(expect_tx_drop(e, 60, "2 MiB frame"));

	/* indirect tables */
	tbl = gmem_alloc(&e->gm, 0, 16 * 8, 16);
	t = gmem_host(&e->gm, tbl);
	set_desc(&t[0], buf, 12, VHU_DESC_F_NEXT, 1);
	set_desc(&t[1], buf + 12, 200, 0, 0);
	set_desc(&d[60], tbl, 24, VHU_DESC_F_INDIRECT, 0);
	TEST_RUN(expect_tx_drop(e, 60, "indirect length not a multiple of 16"));
	set_desc(&d[60], tbl, 0, VHU_DESC_F_INDIRECT, 0);
	TEST_RUN(expect_tx_drop(e, 60, "empty indirect table"));
	set_desc(&d[60], tbl, 32, VHU_DESC_F_INDIRECT | VHU_DESC_F_NEXT, 61);
	TEST_RUN(expect_tx_drop(e, 60, "indirect with next"));
	set_desc(&d[60], 0xdead0000ull, 32, VHU_DESC_F_INDIRECT, 0);
	TEST_RUN(expect_tx_drop(e, 60, "indirect table outside memory"));
	set_desc(&t[1], tbl, 32, VHU_DESC_F_INDIRECT, 0);
	set_desc(&d[60], tbl, 32, VHU_DESC_F_INDIRECT, 0);
	TEST_RUN(expect_tx_drop(e, 60, "nested indirect"));
	set_desc(&t[1], buf + 12, 200, VHU_DESC_F_NEXT, 0);
	TEST_RUN(expect_tx_drop(e, 60, "indirect loop"));
	set_desc(&t[1], buf + 12, 200, VHU_DESC_F_NEXT, 2);
	TEST_RUN(expect_tx_drop(e, 60, "indirect next beyond table"));
	/* a good indirect chain for contrast */
	set_desc(&t[1], buf + 12, 200, 0, 0);
	{
		struct rte_mbuf *m;
		uint32_t id, len;

		raw_avail(e, 1, 60);
		TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, &m, 1), 1, "good indirect");
		TEST_ASSERT(mbuf_cmp(m, frame + 12, 200) == 0, "");
		rte_pktmbuf_free(m);
		gring_pop(&e->g[1], &id, &len);
	}
	/* indirect without the feature */
	e->dev->features &= ~F(RING_INDIRECT_DESC);
	TEST_RUN(expect_tx_drop(e, 60, "indirect not negotiated"));
	e->dev->features |= F(RING_INDIRECT_DESC);
	/* head out of range */
	TEST_RUN(expect_tx_drop(e, 1000, "head out of range"));
	/* bad header in a good chain: csum beyond the frame */
	{
		struct vhu_net_hdr h = {
			.flags = VHU_NET_HDR_F_NEEDS_CSUM, .csum_start = 190, .csum_offset = 6
		};

		e->dev->features |= F(NET_CSUM);
		gmem_write(&e->gm, buf, &h, sizeof(h));
		set_desc(&d[60], buf, 200, 0, 0);
		TEST_RUN(expect_tx_drop(e, 60, "csum beyond the frame"));
		h.csum_start = 0xfff0;
		gmem_write(&e->gm, buf, &h, sizeof(h));
		TEST_RUN(expect_tx_drop(e, 60, "csum start huge"));
		h.flags = 0x80;
		h.csum_start = 0;
		gmem_write(&e->gm, buf, &h, sizeof(h));
		TEST_RUN(expect_tx_drop(e, 60, "unknown header flag"));
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_hostile_avail_jump, tenv, e)
{
	struct rte_mbuf *pkts[4];
	uint16_t idx;

	TEST_ASSERT_EQ(tenv_init(e, FEATS, 0, QSIZE, 1), 0, "env");
	make_frame(frame, 100, 1);
	TEST_ASSERT(tx_send(e, frame, 100, NULL, TXL_ONE, false) >= 0, "");
	idx = e->g[1].avail->idx;
	e->g[1].avail->idx = (uint16_t)(idx + 1000);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "");
	TEST_ASSERT(e->vq[1]->broken, "ring stopped");
	TEST_ASSERT_EQ(e->vq[1]->stats.errors, 1, "");
	TEST_ASSERT(tenv_errs(e, 1) > 0, "error fd");
	e->g[1].avail->idx = idx;
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "stays stopped");
	TEST_ASSERT_EQ(e->vq[1]->stats.errors, 1, "no storm of errors");
	TEST_ASSERT_EQ(e->g[1].used->idx, 0, "ring untouched");
	/* the front-end restarts the ring */
	TEST_ASSERT_EQ(tvq_restart(e->dev, 1), 0, "restart");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, 100) == 0, "");
	rte_pktmbuf_free(pkts[0]);

	/* same on the RX side */
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	e->g[0].avail->idx = (uint16_t)(e->g[0].avail->idx + 65);
	pkts[0] = rte_pktmbuf_alloc(e->mp);
	rte_pktmbuf_append(pkts[0], 64);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 0, "");
	TEST_ASSERT(e->vq[0]->broken, "");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_hostile_enq_buffers, tenv, e)
{
	struct vhu_vring_desc *d;
	struct vhu_net_hdr hdr;
	struct rte_mbuf *m[2];
	uint64_t buf;
	uint32_t id, len;
	uint8_t *h;

	TEST_ASSERT_EQ(tenv_init(e, FEATS, 0, QSIZE, 1), 0, "env");
	d = e->g[0].desc;
	buf = gmem_alloc(&e->gm, 0, 4096, 64);
	h = gmem_host(&e->gm, buf);
	memset(h, 0x5a, 4096);
	/* a read-only RX buffer: never written, returned empty */
	set_desc(&d[60], buf, 2048, 0, 0);
	raw_avail(e, 0, 60);
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	make_frame(frame, 500, 3);
	m[0] = mbuf_make(e->mp, frame, 500, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, m, 1), 1, "");
	TEST_ASSERT_EQ(gring_pop(&e->g[0], &id, &len), 1, "");
	TEST_ASSERT_EQ(id, 60, "bad buffer returned first");
	TEST_ASSERT_EQ(len, 0, "with nothing written");
	TEST_ASSERT(h[0] == 0x5a && h[2047] == 0x5a, "read-only buffer untouched");
	TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 500, "packet in the next buffer");
	TEST_ASSERT(memcmp(got, frame, 500) == 0, "");
	TEST_ASSERT_EQ(e->vq[0]->stats.errors, 1, "");
	/* write flag on the first descriptor only */
	set_desc(&d[60], buf, 100, VHU_DESC_F_WRITE | VHU_DESC_F_NEXT, 61);
	set_desc(&d[61], buf + 100, 1948, 0, 0);
	raw_avail(e, 0, 60);
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, m, 1), 1, "");
	TEST_ASSERT_EQ(gring_pop(&e->g[0], &id, &len), 1, "");
	TEST_ASSERT(id == 60 && len == 0, "mixed chain returned empty");
	TEST_ASSERT(h[100] == 0x5a, "read-only part untouched");
	TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 500, "");
	/* buffer outside guest memory */
	set_desc(&d[60], 0xbad000000ull, 2048, VHU_DESC_F_WRITE, 0);
	raw_avail(e, 0, 60);
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, m, 1), 1, "");
	TEST_ASSERT(gring_pop(&e->g[0], &id, &len) == 1 && id == 60 && len == 0, "");
	TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 500, "");
	TEST_ASSERT_EQ(e->vq[0]->stats.errors, 3, "");
	rte_pktmbuf_free(m[0]);
	tenv_fini(e);

	/* mergeable: a bad buffer in the middle of a packet drops that packet */
	TEST_ASSERT_EQ(tenv_init(e, FEATS | F(NET_MRG_RXBUF), 0, QSIZE, 1), 0, "env");
	d = e->g[0].desc;
	buf = gmem_alloc(&e->gm, 0, 4096, 64);
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	set_desc(&d[60], buf, 2048, VHU_DESC_F_WRITE | VHU_DESC_F_INDIRECT, 0);
	raw_avail(e, 0, 60);
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	make_frame(frame, 3000, 4);
	m[0] = mbuf_make(e->mp, frame, 3000, 0);
	make_frame(frame, 1000, 5);
	m[1] = mbuf_make(e->mp, frame, 1000, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, m, 2), 2, "");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 1, "the 3000-byte one");
	TEST_ASSERT(gring_pop(&e->g[0], &id, &len) == 1 && len == 0, "its first buffer, empty");
	TEST_ASSERT(gring_pop(&e->g[0], &id, &len) == 1 && id == 60 && len == 0, "the bad one");
	TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 1000, "the next packet");
	TEST_ASSERT(memcmp(got, frame, 1000) == 0, "");
	TEST_ASSERT_EQ(hdr.num_buffers, 1, "");
	rte_pktmbuf_free_bulk(m, 2);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* Random descriptors and heads: no crash, no leak, every taken chain returned. */
VHU_TEST_F(fast, split_hostile_random, tenv, e)
{
	struct rte_mbuf *pkts[32];
	uint32_t round, i, restarts = 0;
	uint64_t lo, hi;

	TEST_ASSERT_EQ(tenv_init(e, FEATS | F(NET_MRG_RXBUF) | F(NET_CSUM), 0, QSIZE, 2), 0, "env");
	lo = e->gm.r[0].gpa;
	hi = e->gm.r[1].gpa + e->gm.r[1].size;
	rte_srand(12345);
	for (round = 0; round < 3000; round++) {
		int q = round & 1;
		struct gring *g = &e->g[q];
		uint32_t nav = 1 + rte_rand() % 8;

		for (i = 0; i < QSIZE; i++) {
			uint64_t r = rte_rand();
			uint64_t addr = r & 1 ? lo + rte_rand() % (hi - lo) : rte_rand();
			uint32_t len = (r >> 1) & 1 ? (uint32_t)(rte_rand() % 3000) :
						      (uint32_t)rte_rand();

			set_desc(&g->desc[i], addr, len, (uint16_t)((r >> 8) & 7),
					(uint16_t)(rte_rand() % (QSIZE + 4)));
		}
		/* sometimes a plausible indirect table */
		if (round % 5 == 0) {
			uint64_t tbl = gmem_alloc(&e->gm, 0, 16 * 4, 16);
			struct vhu_vring_desc *t = gmem_host(&e->gm, tbl);

			for (i = 0; i < 4; i++)
				set_desc(&t[i], lo + rte_rand() % (hi - lo), rte_rand() % 2000,
						(uint16_t)(rte_rand() & 7),
						(uint16_t)(rte_rand() % 6));
			set_desc(&g->desc[0], tbl, 16 * (1 + rte_rand() % 5), VHU_DESC_F_INDIRECT,
					0);
		}
		for (i = 0; i < nav; i++)
			raw_avail(e, q, (uint16_t)(rte_rand() % (QSIZE + 2)));
		if (q == 1) {
			uint16_t a0 = e->vq[1]->last_avail_idx, u0 = e->vq[1]->last_used_idx;
			uint16_t n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 32);

			rte_pktmbuf_free_bulk(pkts, n);
			TEST_ASSERT_EQ((uint16_t)(e->vq[1]->last_avail_idx - a0),
					(uint16_t)(e->vq[1]->last_used_idx - u0),
					"every chain taken is returned");
		} else {
			for (i = 0; i < 8; i++) {
				uint32_t l = 60 + (uint32_t)(rte_rand() % 3000);

				make_frame(frame, l, round);
				pkts[i] = mbuf_make(e->mp, frame, l, 700);
			}
			vhu_enqueue_burst(e->dev->vid, 0, pkts, 8);
			rte_pktmbuf_free_bulk(pkts, 8);
		}
		TEST_ASSERT(POOL_FULL(e), "mbuf leak in round %u", round);
		/* catch the guest up (the device skips what is left: a shortcut
		 * no message offers); restart a ring it broke */
		e->vq[q]->last_avail_idx = g->avail_idx;
		g->used_idx = g->used->idx;
		if (e->vq[q]->broken) {
			TEST_ASSERT_EQ(tvq_restart(e->dev, q), 0, "restart");
			restarts++;
		}
	}
	TEST_ASSERT(e->vq[0]->stats.errors + e->vq[1]->stats.errors > 1000, "faults seen");
	TEST_LOG("random: %" PRIu64 " rx / %" PRIu64 " tx faults, %" PRIu64 " rx delivered, "
		 "%u restarts",
			e->vq[0]->stats.errors, e->vq[1]->stats.errors, e->vq[0]->stats.packets,
			restarts);
	return TEST_SUCCESS;
}
