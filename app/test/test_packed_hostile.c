/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Packed-ring datapath against a hostile guest (fast suite): every broken
 * buffer is dropped and counted, still goes back used with its id, the
 * error eventfd fires, no mbuf leaks, and the ring keeps working. Chains
 * without an end within the ring, and a ring base outside the ring, stop
 * the ring until it is started again. Descriptors marked for the wrong lap
 * are never taken. A bounded random run ends the file.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_random.h>

#include "guest_packed.h"
#include "vhu.h"
#include "vhu_test.h"

#define F(b)         VHU_BIT(VHU_F_##b)
#define FEATS        F(RING_INDIRECT_DESC)
#define QSIZE        64
#define POOL_FULL(e) (rte_mempool_avail_count((e)->mp) == (e)->mp->size)

static uint8_t frame[16384];
static uint8_t got[16384];

/*
 * Write descriptors d[0..n) at the guest's next slots of ring q, each with
 * its own flags plus this lap's AVAIL/USED bits (unless raw), the first
 * one's flags last. Returns the first slot.
 */
static uint16_t
raw_post(struct penv *e, int q, const struct vhu_vring_packed_desc *d, uint32_t n, bool raw)
{
	struct pring *g = &e->g[q];
	uint16_t first = g->avail_idx, first_flags = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint16_t s = g->avail_idx;
		uint16_t f = d[i].flags;

		if (!raw)
			f |= g->avail_wrap ? VHU_DESC_F_AVAIL : VHU_DESC_F_USED;
		g->desc[s].addr = d[i].addr;
		g->desc[s].len = d[i].len;
		g->desc[s].id = d[i].id;
		if (i == 0)
			first_flags = f;
		else
			g->desc[s].flags = f;
		if (++g->avail_idx == g->size) {
			g->avail_idx = 0;
			g->avail_wrap = !g->avail_wrap;
		}
	}
	g->nfree = (uint16_t)(g->nfree - n);
	__atomic_store_n(&g->desc[first].flags, first_flags, __ATOMIC_RELEASE);
	return first;
}

/* The used descriptor at the guest's used position: id, for a buffer of ndesc slots. */
static int
expect_used(struct penv *e, int q, uint16_t id, uint16_t ndesc, uint32_t *len)
{
	struct pring *g = &e->g[q];
	uint16_t k;

	TEST_ASSERT(pring_is_used(g, g->used_idx, g->used_wrap), "used descriptor at %u",
			g->used_idx);
	TEST_ASSERT_EQ(g->desc[g->used_idx].id, id, "returned with its id");
	if (len != NULL)
		*len = g->desc[g->used_idx].len;
	for (k = 0; k < ndesc; k++)
		if (++g->used_idx == g->size) {
			g->used_idx = 0;
			g->used_wrap = !g->used_wrap;
		}
	g->nfree = (uint16_t)(g->nfree + ndesc);
	return TEST_SUCCESS;
}

static void
set_desc(struct vhu_vring_packed_desc *d, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	d->addr = addr;
	d->len = len;
	d->id = id;
	d->flags = flags;
}

/* A good frame still goes through (ring not wedged, positions in step). */
static int
still_works(struct penv *e)
{
	struct rte_mbuf *m;
	uint8_t ok[128];

	make_frame(ok, 128, 77);
	TEST_ASSERT(ptx_send(e, ok, 128, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, &m, 1), 1, "ring still works");
	TEST_ASSERT(mbuf_cmp(m, ok, 128) == 0, "");
	rte_pktmbuf_free(m);
	TEST_ASSERT_EQ(ptx_reclaim(e), 1, "");
	return TEST_SUCCESS;
}

/* Dequeue after a bad buffer of n descriptors (id: its id): dropped, counted, returned. */
static int
expect_tx_drop(struct penv *e, const struct vhu_vring_packed_desc *d, uint32_t n, uint16_t id,
		const char *what)
{
	struct rte_mbuf *pkts[4];
	uint64_t errors = e->vq[1]->stats.errors;

	raw_post(e, 1, d, n, false);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "%s: dropped", what);
	TEST_ASSERT_EQ(e->vq[1]->stats.errors, errors + 1, "%s: counted", what);
	TEST_RUN(expect_used(e, 1, id, (uint16_t)n, NULL));
	TEST_ASSERT(penv_errs(e, 1) > 0, "%s: error fd", what);
	TEST_ASSERT(POOL_FULL(e), "%s: mbuf leak", what);
	TEST_ASSERT(!e->vq[1]->broken, "%s: ring still running", what);
	return still_works(e);
}

VHU_TEST_F(fast, packed_hostile_deq_buffers, penv, e)
{
	struct vhu_vring_packed_desc d[4];
	uint64_t buf, top, tbl;

	TEST_ASSERT_EQ(penv_init(e, FEATS, 0, QSIZE, 2), 0, "env");
	buf = gmem_alloc(&e->gm, 0, 4096, 64);
	make_frame(frame, 2000, 1);
	gmem_write(&e->gm, buf, frame, 2000);
	top = e->gm.r[1].gpa + e->gm.r[1].size;

	/* addresses and lengths */
	set_desc(&d[0], 0xdead00000000ull, 100, 3, 0);
	TEST_RUN(expect_tx_drop(e, d, 1, 3, "outside memory"));
	set_desc(&d[0], 0x1000, 100, 4, 0);
	TEST_RUN(expect_tx_drop(e, d, 1, 4, "below memory"));
	set_desc(&d[0], top - 64, 200, 5, 0);
	TEST_RUN(expect_tx_drop(e, d, 1, 5, "past the top"));
	set_desc(&d[0], top - 16, 0xffffffffu, 6, 0);
	TEST_RUN(expect_tx_drop(e, d, 1, 6, "huge length"));
	set_desc(&d[0], 0xfffffffffffffff0ull, 0x100, 7, 0);
	TEST_RUN(expect_tx_drop(e, d, 1, 7, "address wraps"));
	set_desc(&d[0], buf, 0, 8, 0);
	TEST_RUN(expect_tx_drop(e, d, 1, 8, "zero length"));
	set_desc(&d[0], buf, 20, 9, 0);
	TEST_RUN(expect_tx_drop(e, d, 1, 9, "no frame"));
	/* a chain: a bad piece in the middle, the id on the last */
	set_desc(&d[0], buf, 100, 0xffff, VHU_DESC_F_NEXT);
	set_desc(&d[1], 0xdead00000000ull, 100, 0xffff, VHU_DESC_F_NEXT);
	set_desc(&d[2], buf + 200, 100, 10, 0);
	TEST_RUN(expect_tx_drop(e, d, 3, 10, "bad middle piece"));
	/* direction */
	set_desc(&d[0], buf, 100, 11, VHU_DESC_F_NEXT);
	set_desc(&d[1], buf + 100, 100, 11, VHU_DESC_F_WRITE);
	TEST_RUN(expect_tx_drop(e, d, 2, 11, "write-only descriptor"));
	/* ids */
	set_desc(&d[0], buf, 100, QSIZE, 0);
	TEST_RUN(expect_tx_drop(e, d, 1, QSIZE, "id = ring size"));
	set_desc(&d[0], buf, 100, 0xffff, 0);
	TEST_RUN(expect_tx_drop(e, d, 1, 0xffff, "id 0xffff"));

	/* indirect misuse */
	tbl = gmem_alloc(&e->gm, 0, 4096, 16);
	{
		struct vhu_vring_packed_desc *t = gmem_host(&e->gm, tbl);

		set_desc(&t[0], buf, 100, 0, 0);
		set_desc(&t[1], buf + 100, 100, 0, 0);
		set_desc(&t[2], tbl, 32, 0, VHU_DESC_F_INDIRECT);
	}
	set_desc(&d[0], tbl, 48, 12, VHU_DESC_F_INDIRECT);
	TEST_RUN(expect_tx_drop(e, d, 1, 12, "nested indirect"));
	set_desc(&d[0], tbl, 33, 13, VHU_DESC_F_INDIRECT);
	TEST_RUN(expect_tx_drop(e, d, 1, 13, "table length not a multiple of 16"));
	set_desc(&d[0], tbl, 0, 14, VHU_DESC_F_INDIRECT);
	TEST_RUN(expect_tx_drop(e, d, 1, 14, "empty table"));
	set_desc(&d[0], 0xdead00000000ull, 32, 15, VHU_DESC_F_INDIRECT);
	TEST_RUN(expect_tx_drop(e, d, 1, 15, "table outside memory"));
	set_desc(&d[0], e->gm.r[0].gpa + e->gm.r[0].size - 16, 32, 16, VHU_DESC_F_INDIRECT);
	TEST_RUN(expect_tx_drop(e, d, 1, 16, "table across two regions"));
	set_desc(&d[0], tbl, 32, 17, VHU_DESC_F_INDIRECT | VHU_DESC_F_NEXT);
	set_desc(&d[1], buf, 100, 17, 0);
	TEST_RUN(expect_tx_drop(e, d, 2, 17, "indirect with NEXT"));
	set_desc(&d[0], buf, 100, 0xffff, VHU_DESC_F_NEXT);
	set_desc(&d[1], tbl, 32, 18, VHU_DESC_F_INDIRECT);
	TEST_RUN(expect_tx_drop(e, d, 2, 18, "indirect inside a chain"));
	/* too many pieces for one packet: 200 entries of 10 bytes */
	{
		struct vhu_vring_packed_desc *t;
		uint64_t big = gmem_alloc(&e->gm, 0, 200 * 16, 16);
		uint32_t i;

		t = gmem_host(&e->gm, big);
		for (i = 0; i < 200; i++)
			set_desc(&t[i], buf + 10 * i, 10, 0, 0);
		set_desc(&d[0], big, 200 * 16, 19, VHU_DESC_F_INDIRECT);
		TEST_RUN(expect_tx_drop(e, d, 1, 19, "too many pieces"));
	}
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	penv_fini(e);

	/* indirect not negotiated */
	TEST_ASSERT_EQ(penv_init(e, 0, 0, QSIZE, 1), 0, "env");
	buf = gmem_alloc(&e->gm, 0, 4096, 64);
	tbl = gmem_alloc(&e->gm, 0, 64, 16);
	set_desc(gmem_host(&e->gm, tbl), buf, 100, 0, 0);
	set_desc(&d[0], tbl, 16, 20, VHU_DESC_F_INDIRECT);
	TEST_RUN(expect_tx_drop(e, d, 1, 20, "indirect not negotiated"));
	return TEST_SUCCESS;
}

/* Descriptors not marked for the current lap are never taken. */
VHU_TEST_F(fast, packed_hostile_wrap_counters, penv, e)
{
	struct vhu_vring_packed_desc d[2];
	struct rte_mbuf *pkts[8];
	uint64_t buf;
	uint32_t i;

	TEST_ASSERT_EQ(penv_init(e, FEATS, 0, 8, 1), 0, "env");
	buf = gmem_alloc(&e->gm, 0, 4096, 64);
	memset(gmem_host(&e->gm, buf), 0, 12);
	make_frame(frame, 200, 1);
	gmem_write(&e->gm, buf + 12, frame, 200);

	/* the previous lap's marking (AVAIL 0, USED 1) while the device expects lap 1 */
	set_desc(&d[0], buf, 212, 0, VHU_DESC_F_USED);
	raw_post(e, 1, d, 1, true);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 8), 0,
			"wrong lap: not taken");
	/* both bits equal: a used descriptor, not an available one */
	e->g[1].desc[0].flags = VHU_DESC_F_AVAIL | VHU_DESC_F_USED;
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 8), 0,
			"looks used: not taken");
	e->g[1].desc[0].flags = 0;
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 8), 0, "zeroed: not taken");
	TEST_ASSERT_EQ(e->vq[1]->stats.errors, 0, "nothing was taken, nothing to blame");
	TEST_ASSERT_EQ(e->vq[1]->last_avail_idx, 0, "");
	/* marked right: taken once */
	__atomic_store_n(&e->g[1].desc[0].flags, VHU_DESC_F_AVAIL, __ATOMIC_RELEASE);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 8), 1, "");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, 200) == 0, "");
	rte_pktmbuf_free(pkts[0]);
	TEST_RUN(expect_used(e, 1, 0, 1, NULL));
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 8), 0, "never twice");

	/* a lap later, the slots' old avail marks (lap 1) mean nothing on lap 0 */
	for (i = 0; i < 7; i++) {
		set_desc(&d[0], buf, 212, (uint16_t)i, 0);
		raw_post(e, 1, d, 1, false);
	}
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 8), 7, "slots 1..7");
	rte_pktmbuf_free_bulk(pkts, 7);
	for (i = 0; i < 7; i++)
		TEST_RUN(expect_used(e, 1, (uint16_t)i, 1, NULL));
	TEST_ASSERT(!e->vq[1]->avail_wrap, "the device's lap counter flipped");
	/* slot 0 of lap 0 marked as lap 1 again: stale, not taken */
	set_desc(&d[0], buf, 212, 0, VHU_DESC_F_AVAIL);
	raw_post(e, 1, d, 1, true);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 8), 0, "stale lap");
	__atomic_store_n(&e->g[1].desc[0].flags, VHU_DESC_F_USED, __ATOMIC_RELEASE);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 8), 1, "lap 0 marking");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(e->g[1].desc[0].flags == 0, "used on lap 0: both bits clear");
	TEST_ASSERT_EQ(e->vq[1]->stats.errors, 0, "");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* Chains with no end within the ring, and a ring base outside it, stop the ring. */
VHU_TEST_F(fast, packed_hostile_ring_stops, penv, e)
{
	struct vhu_vring_packed_desc d[QSIZE];
	struct rte_mbuf *pkts[4];
	uint64_t buf;
	uint32_t i;

	TEST_ASSERT_EQ(penv_init(e, FEATS, 0, QSIZE, 1), 0, "env");
	buf = gmem_alloc(&e->gm, 0, 4096, 64);
	memset(gmem_host(&e->gm, buf), 0, 4096);
	/* every slot says NEXT: the chain never ends */
	for (i = 0; i < QSIZE; i++)
		set_desc(&d[i], buf, 64, 1, VHU_DESC_F_NEXT);
	raw_post(e, 1, d, QSIZE, false);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "");
	TEST_ASSERT(e->vq[1]->broken, "ring stopped");
	TEST_ASSERT_EQ(e->vq[1]->stats.errors, 1, "");
	TEST_ASSERT(penv_errs(e, 1) > 0, "error fd");
	TEST_ASSERT(!pring_is_used(&e->g[1], 0, true), "nothing returned");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "stays stopped");
	TEST_ASSERT_EQ(e->vq[1]->stats.errors, 1, "no log storm");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	/* the guest ends its chain at the ring's length; a restart takes it whole */
	e->g[1].desc[QSIZE - 1].flags &= (uint16_t)~VHU_DESC_F_NEXT;
	penv_restart(e, 1);
	TEST_ASSERT(!e->vq[1]->broken, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "one 64-slot buffer");
	rte_pktmbuf_free(pkts[0]);
	TEST_RUN(expect_used(e, 1, 1, QSIZE, NULL));
	TEST_RUN(still_works(e));

	/* the same on the receive ring */
	for (i = 0; i < QSIZE; i++)
		set_desc(&d[i], buf, 64, 1, VHU_DESC_F_NEXT | VHU_DESC_F_WRITE);
	raw_post(e, 0, d, QSIZE, false);
	make_frame(frame, 100, 1);
	pkts[0] = mbuf_make(e->mp, frame, 100, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 0, "");
	TEST_ASSERT(e->vq[0]->broken, "receive ring stopped");
	rte_pktmbuf_free(pkts[0]);

	/* a ring base beyond the ring (SET_VRING_BASE from a broken front-end) */
	TEST_ASSERT_EQ(tvq_base(e->dev, 1, (QSIZE + 3) | 1u << 15), 0, "SET_VRING_BASE");
	TEST_ASSERT(e->vq[1]->broken, "bad base: not started");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* Receive side: bad buffers come back empty, the packet goes to the next good one. */
VHU_TEST_F(fast, packed_hostile_enq_buffers, penv, e)
{
	struct vhu_vring_packed_desc d[2];
	struct vhu_net_hdr hdr;
	struct rte_mbuf *m;
	uint64_t buf;
	uint32_t len;

	TEST_ASSERT_EQ(penv_init(e, FEATS | F(NET_MRG_RXBUF), 0, QSIZE, 1), 0, "env");
	buf = gmem_alloc(&e->gm, 0, 8192, 64);
	make_frame(frame, 1000, 5);
	m = mbuf_make(e->mp, frame, 1000, 0);
	TEST_ASSERT(m != NULL, "");

	set_desc(&d[0], buf, 2048, 1, 0); /* read-only */
	raw_post(e, 0, d, 1, false);
	set_desc(&d[0], buf, 5, 2, VHU_DESC_F_WRITE); /* smaller than the header */
	raw_post(e, 0, d, 1, false);
	set_desc(&d[0], 0xdead00000000ull, 2048, 3, VHU_DESC_F_WRITE);
	raw_post(e, 0, d, 1, false);
	set_desc(&d[0], buf, 2048, QSIZE + 1, VHU_DESC_F_WRITE); /* id out of range */
	raw_post(e, 0, d, 1, false);
	set_desc(&d[0], buf, 2048, 4, VHU_DESC_F_WRITE); /* good */
	raw_post(e, 0, d, 1, false);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "");
	TEST_ASSERT_EQ(e->vq[0]->stats.errors, 4, "");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 0, "the packet went to the good buffer");
	TEST_RUN(expect_used(e, 0, 1, 1, &len));
	TEST_ASSERT_EQ(len, 0, "returned empty");
	TEST_RUN(expect_used(e, 0, 2, 1, &len));
	TEST_ASSERT_EQ(len, 0, "");
	TEST_RUN(expect_used(e, 0, 3, 1, &len));
	TEST_ASSERT_EQ(len, 0, "");
	TEST_RUN(expect_used(e, 0, QSIZE + 1, 1, &len));
	TEST_ASSERT_EQ(len, 0, "");
	TEST_RUN(expect_used(e, 0, 4, 1, &len));
	TEST_ASSERT_EQ(len, 1012, "");
	gmem_read(&e->gm, buf, got, 1012);
	memcpy(&hdr, got, 12);
	TEST_ASSERT_EQ(hdr.num_buffers, 1, "");
	TEST_ASSERT(memcmp(got + 12, frame, 1000) == 0, "");
	TEST_ASSERT(penv_errs(e, 0) > 0, "error fd");

	/* mergeable, the second buffer bad: both back empty, the packet dropped */
	rte_pktmbuf_free(m);
	make_frame(frame, 3000, 6);
	m = mbuf_make(e->mp, frame, 3000, 0);
	set_desc(&d[0], buf, 2048, 5, VHU_DESC_F_WRITE);
	raw_post(e, 0, d, 1, false);
	set_desc(&d[0], buf + 4096, 2048, 6, 0);
	raw_post(e, 0, d, 1, false);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "consumed");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 1, "dropped");
	TEST_RUN(expect_used(e, 0, 5, 1, &len));
	TEST_ASSERT_EQ(len, 0, "half-placed buffer returned empty");
	TEST_RUN(expect_used(e, 0, 6, 1, &len));
	TEST_ASSERT_EQ(len, 0, "");
	rte_pktmbuf_free(m);

	/* and the ring still delivers */
	make_frame(frame, 300, 7);
	m = mbuf_make(e->mp, frame, 300, 0);
	TEST_ASSERT(prx_post(e, 2048, 2, true) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "");
	TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 300, "");
	TEST_ASSERT(memcmp(got, frame, 300) == 0, "");
	rte_pktmbuf_free(m);
	TEST_ASSERT(!e->vq[0]->broken, "");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/*
 * Random descriptors (random flags, lengths, ids, addresses in and out of
 * guest memory, chains, indirect tables) on both rings, a bounded number
 * of rounds: the bursts always return, never leak an mbuf, never write
 * outside the buffers the guest offered (the rest of guest memory keeps a
 * pattern), and the positions stay inside the ring.
 */
VHU_TEST_F(fast, packed_hostile_random, penv, e)
{
	struct rte_mbuf *pkts[32], *out[8];
	uint64_t pool_gpa, canary_gpa;
	uint32_t round, i;
	uint16_t qsize = 61;
	uint8_t *canary;

	TEST_ASSERT_EQ(penv_init(e, FEATS | F(NET_MRG_RXBUF) | F(RING_EVENT_IDX), 0, qsize, 2), 0,
			"env");
	pool_gpa = gmem_alloc(&e->gm, 0, 65536, 4096);
	canary_gpa = gmem_alloc(&e->gm, 0, 65536, 4096);
	canary = gmem_host(&e->gm, canary_gpa);
	memset(canary, 0x5a, 65536);
	for (i = 0; i < 8; i++) {
		make_frame(frame, 60 + i * 300, i);
		out[i] = mbuf_make(e->mp, frame, 60 + i * 300, i & 1 ? 500 : 0);
	}
	for (round = 0; round < 3000; round++) {
		int q = (int)(round & 1);
		struct pring *g = &e->g[q];
		uint32_t n = 1 + (uint32_t)(rte_rand() % 6), k;
		uint16_t n_pkts;

		for (k = 0; k < n; k++) {
			struct vhu_vring_packed_desc *d = &g->desc[g->avail_idx];
			uint64_t r = rte_rand();

			switch (r % 5) {
			case 0:
				d->addr = rte_rand();
				break;
			case 1:
				d->addr = canary_gpa + (r >> 8) % 70000;
				break;
			default:
				d->addr = pool_gpa + (r >> 8) % 60000;
				break;
			}
			d->len = (r >> 24) % 4 == 0 ? (uint32_t)rte_rand() :
						      (uint32_t)((r >> 32) % 5000);
			d->id = (r >> 40) % 8 == 0 ? (uint16_t)rte_rand() :
						     (uint16_t)((r >> 44) % qsize);
			/* random flag bits, often a plausible marking for this lap */
			d->flags = (uint16_t)(r >> 48);
			if ((r >> 20) % 4 != 0) {
				d->flags &= (uint16_t) ~(VHU_DESC_F_AVAIL | VHU_DESC_F_USED);
				d->flags |= g->avail_wrap ? VHU_DESC_F_AVAIL : VHU_DESC_F_USED;
			}
			if ((d->flags & VHU_DESC_F_INDIRECT) && (r >> 12) % 2 == 0) {
				d->addr = pool_gpa + 32768 + 16 * ((r >> 8) % 64);
				d->len = 16u * (uint32_t)((r >> 16) % 40);
			}
			if (q == 0) {
				/* the canary is never offered for writing; receive
				 * tables (which could point anywhere) are not made */
				if (d->addr - canary_gpa < 70000)
					d->addr = pool_gpa;
				d->flags &= (uint16_t)~VHU_DESC_F_INDIRECT;
			}
			if (++g->avail_idx == qsize) {
				g->avail_idx = 0;
				g->avail_wrap = !g->avail_wrap;
			}
		}
		if (q == 1) {
			n_pkts = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, RTE_DIM(pkts));
			TEST_ASSERT(n_pkts <= RTE_DIM(pkts), "");
			rte_pktmbuf_free_bulk(pkts, n_pkts);
		} else {
			n_pkts = vhu_enqueue_burst(e->dev->vid, 0, out, RTE_DIM(out));
			TEST_ASSERT(n_pkts <= RTE_DIM(out), "");
		}
		TEST_ASSERT(e->vq[q]->last_avail_idx < qsize && e->vq[q]->last_used_idx < qsize,
				"positions in the ring");
		if (e->vq[q]->broken || round % 97 == 0) {
			/* the guest resets its ring: start again */
			memset(g->desc, 0, 16u * qsize);
			g->avail_idx = 0;
			g->avail_wrap = true;
			TEST_ASSERT_EQ(tvq_base(e->dev, q, 1u << 15), 0,
					"SET_VRING_BASE 0, wrap 1");
		}
	}
	for (i = 0; i < 65536; i++)
		if (canary[i] != 0x5a)
			break;
	TEST_ASSERT_EQ(i, 65536, "memory never offered for writing is untouched");
	rte_pktmbuf_free_bulk(out, 8);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	TEST_ASSERT(e->vq[0]->stats.errors > 0 && e->vq[1]->stats.errors > 0, "faults were seen");
	TEST_ASSERT(e->vq[0]->stats.packets > 0 && e->vq[1]->stats.packets > 0,
			"and plausible buffers went through (%" PRIu64 " rx, %" PRIu64 " tx)",
			e->vq[0]->stats.packets, e->vq[1]->stats.packets);
	return TEST_SUCCESS;
}
