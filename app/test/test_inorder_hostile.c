/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Hostile chains with VIRTIO_F_IN_ORDER negotiated (fast suite), split and
 * packed rings: a guest that breaks the in-order promise (heads and ids
 * out of order, repeated, out of range), short and overlong chains, bad
 * buffers at every place of a batch of four and bursts cut at every
 * count, chains that take a packed ring round more than one lap in a
 * single burst (the class of libvhost-user's 2026 in-order flush
 * overflow: one used descriptor covering more slots than the ring has),
 * and rings made smaller between two sessions with their old position
 * left behind. Oracle: the used ring is never written outside its size
 * nor beyond what was taken (canaries in the used entries not yet due and
 * in the guest memory after the ring), every buffer taken goes back once,
 * every drop is counted, no mbuf leaks, and the ring keeps working.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "guest_packed.h"
#include "guest_split.h"
#include "vhu.h"
#include "vhu_test.h"

#define F(b)        VHU_BIT(VHU_F_##b)
#define INORD       (F(IN_ORDER) | F(VERSION_1) | F(RING_INDIRECT_DESC))
#define CANARY      0x5a
#define POOL_OK(mp) (rte_mempool_avail_count(mp) == (mp)->size)

static uint8_t frame[4096];

/* ======================================================================== */
/* Packed ring.                                                              */

/* The driver's marking of an available descriptor on lap wrap. */
static uint16_t
lap(bool wrap)
{
	return wrap ? VHU_DESC_F_AVAIL : VHU_DESC_F_USED;
}

static void
pdesc(struct penv *e, int q, uint16_t slot, uint64_t addr, uint32_t len, uint16_t id,
		uint16_t flags)
{
	struct vhu_vring_packed_desc *d = &e->g[q].desc[slot];

	d->addr = addr;
	d->len = len;
	d->id = id;
	__atomic_store_n(&d->flags, flags, __ATOMIC_RELEASE);
}

/* Bytes of guest memory between the end of ring q's descriptors and its event areas. */
static uint8_t *
ptail(struct penv *e, int q, uint32_t *len)
{
	struct pring *g = &e->g[q];
	uint64_t end = g->desc_gpa + 16ull * g->size;

	/* the driver event area follows the ring (4 bytes, 64-aligned): skip it */
	if (g->drv_gpa == RTE_ALIGN_CEIL(end, 64))
		end = g->drv_gpa + 4;
	*len = (uint32_t)(g->dev_gpa > end ? g->dev_gpa - end : 0);
	return gmem_host(&e->gm, end);
}

static void
ptail_fill(struct penv *e, int q)
{
	uint32_t len;
	uint8_t *t = ptail(e, q, &len);

	memset(t, CANARY, len);
}

static int
ptail_check(struct penv *e, int q)
{
	uint32_t len, i;
	uint8_t *t = ptail(e, q, &len);

	TEST_ASSERT(len >= 16, "room for a canary after ring %d (%u bytes)", q, len);
	for (i = 0; i < len; i++)
		TEST_ASSERT_EQ(t[i], CANARY, "byte %u after the descriptors of ring %d", i, q);
	TEST_ASSERT(e->vq[q]->last_used_idx < e->vq[q]->size &&
			e->vq[q]->last_avail_idx < e->vq[q]->size,
			"ring %d positions avail %u used %u inside its %u slots", q,
			e->vq[q]->last_avail_idx, e->vq[q]->last_used_idx, e->vq[q]->size);
	return TEST_SUCCESS;
}

/* A TX buffer in guest memory: header and frame (seeded), gpa returned. */
static uint64_t
tx_buf(struct gmem *gm, uint32_t len, uint32_t seed)
{
	uint64_t gpa = gmem_alloc(gm, 0, 12 + len, 64);

	memset(gmem_host(gm, gpa), 0, 12);
	make_frame(frame, len, seed);
	gmem_write(gm, gpa + 12, frame, len);
	return gpa;
}

/*
 * One good frame at the device's position, then the used descriptor the
 * in-order device writes for it at its used position: the ring still works.
 */
static int
pstill_works(struct penv *e)
{
	struct vhu_vq *vq = e->vq[1];
	uint16_t at = vq->last_avail_idx, uat = vq->last_used_idx;
	bool wrap = vq->avail_wrap, uwrap = vq->used_wrap;
	struct vhu_vring_packed_desc *u;
	struct rte_mbuf *m;
	uint64_t gpa = tx_buf(&e->gm, 100, 4242);

	pdesc(e, 1, at, gpa, 112, at, lap(wrap));
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, &m, 1), 1, "the ring still works");
	make_frame(frame, 100, 4242);
	TEST_ASSERT_EQ(mbuf_cmp(m, frame, 100), 0, "and carries the frame whole");
	rte_pktmbuf_free(m);
	u = &e->g[1].desc[uat];
	TEST_ASSERT_EQ(u->flags & (VHU_DESC_F_AVAIL | VHU_DESC_F_USED),
			uwrap ? VHU_DESC_F_AVAIL | VHU_DESC_F_USED : 0, "used at slot %u", uat);
	TEST_ASSERT_EQ(u->id, at, "with its id");
	return TEST_SUCCESS;
}

/*
 * Chains whose non-first descriptors carry the other lap's marks take one
 * burst round the ring more than once: 4 slots on lap 1, then a chain of
 * all 8 slots starting on lap 0. An in-order device that reports them with
 * one used descriptor covering 12 slots of an 8-slot ring moves its used
 * position to slot 8 and writes the next used descriptor past the ring.
 */
static int
packed_laps(bool inorder)
{
	struct rte_mbuf *pkts[32];
	struct penv e;
	uint64_t piece[8];
	uint16_t s, n;
	uint32_t k;

	TEST_ASSERT_EQ(penv_init(&e, inorder ? INORD : F(VERSION_1), 0, 8, 1), 0, "env");
	ptail_fill(&e, 1);
	/* the device at slot 4 of lap 1: four buffers taken and returned */
	for (k = 0; k < 4; k++) {
		make_frame(frame, 64, k);
		TEST_ASSERT(ptx_send(&e, frame, 64, NULL, TXL_ONE, false) >= 0, "post %u", k);
	}
	TEST_ASSERT_EQ(vhu_dequeue_burst(e.dev->vid, 1, e.mp, pkts, 4), 4, "first four");
	rte_pktmbuf_free_bulk(pkts, 4);
	TEST_ASSERT_EQ(ptx_reclaim(&e), 4, "first four back");
	TEST_ASSERT_EQ(e.vq[1]->last_avail_idx, 4, "");

	/* 100-byte pieces: slot 0 starts with the virtio-net header */
	for (k = 0; k < 8; k++)
		piece[k] = tx_buf(&e.gm, 88, 500 + k);
	/* slots 4..7: a chain of lap 1, ending at 7 */
	for (s = 4; s < 8; s++)
		pdesc(&e, 1, s, piece[s], 100, 7,
				(uint16_t)(lap(true) | (s < 7 ? VHU_DESC_F_NEXT : 0)));
	/* slots 0..3: lap 0, chained into 4..7 */
	for (s = 0; s < 4; s++)
		pdesc(&e, 1, s, piece[s], 100, 0xffff, (uint16_t)(lap(false) | VHU_DESC_F_NEXT));
	n = vhu_dequeue_burst(e.dev->vid, 1, e.mp, pkts, 32);
	TEST_ASSERT(n >= 1, "the 4-slot chain");
	TEST_ASSERT_EQ(pkts[0]->pkt_len, 4 * 100 - 12, "");
	if (inorder) {
		/* nothing is written back before the burst ends: the 8-slot chain is whole */
		TEST_ASSERT_EQ(n, 2, "and the 8-slot chain");
		TEST_ASSERT_EQ(pkts[1]->pkt_len, 8 * 100 - 12, "");
	} else {
		/* slot 4 already holds the first chain's used descriptor (length 0) */
		TEST_ASSERT_EQ(n, 1, "the 8-slot chain meets a used descriptor");
		TEST_ASSERT_EQ(e.vq[1]->stats.errors, 1, "and is dropped as a fault");
		e.vq[1]->stats.errors = 0;
	}
	rte_pktmbuf_free_bulk(pkts, n);
	TEST_RUN(ptail_check(&e, 1));
	TEST_ASSERT_EQ(e.vq[1]->last_avail_idx, 0, "12 slots on from slot 4");
	TEST_ASSERT(e.vq[1]->avail_wrap, "the lap counter flipped twice");
	/* one more buffer, and the next used descriptor lands inside the ring */
	TEST_RUN(pstill_works(&e));
	TEST_RUN(ptail_check(&e, 1));
	TEST_ASSERT_EQ(e.vq[1]->stats.errors, 0, "nothing was broken");
	TEST_ASSERT(POOL_OK(e.mp), "mbuf leak");
	penv_fini(&e);
	return TEST_SUCCESS;
}

VHU_TEST(fast, packed_inorder_hostile_laps)
{
	TEST_RUN(packed_laps(false));
	return packed_laps(true);
}
