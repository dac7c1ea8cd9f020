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

/*
 * A random in-order session on an odd-sized packed ring, played by a raw
 * guest: single buffers, chains of two or three descriptors, runts (a
 * header and no frame), buffers whose id is out of the ring or repeats,
 * and bursts cut at random counts (the batch of four taken or not). After
 * each burst the device has written exactly one used descriptor, at the
 * burst's first slot, with the id of the burst's last buffer; the other
 * slots it consumed, and those it did not reach, hold what the guest wrote.
 */
#define PR_SIZE  10
#define PR_ROUND 400

struct pr_buf {
	uint16_t slots;
	uint16_t id;
	bool good;
	uint32_t len;
	uint32_t seed;
};

VHU_TEST(fast, packed_inorder_hostile_random)
{
	struct pr_buf outst[PR_SIZE];
	struct vhu_vring_packed_desc snap[PR_SIZE];
	struct rte_mbuf *pkts[16];
	uint32_t nout = 0, head = 0, taken = 0, dropped = 0, r, k;
	uint16_t gp = 0, up = 0, free_slots = PR_SIZE;
	bool gw = true, uw = true;
	struct penv e;
	uint64_t errors = 0;

	TEST_ASSERT_EQ(penv_init(&e, INORD, 0, PR_SIZE, 1), 0, "env");
	srand(19);
	ptail_fill(&e, 1);
	for (r = 0; r < PR_ROUND; r++) {
		uint32_t cut = 1 + (uint32_t)rand() % 12, before, m, i, t = 0;
		uint16_t n;

		/* the guest fills the ring */
		while (free_slots > 0 && nout < PR_SIZE) {
			struct pr_buf *b = &outst[(head + nout) % PR_SIZE];
			uint32_t kind = (uint32_t)rand() % 10, s;
			uint64_t gpa;

			b->slots = (uint16_t)(kind == 8 ? 3 : kind == 9 ? 2 : 1);
			if (b->slots > free_slots)
				b->slots = 1;
			b->len = 60 + (uint32_t)rand() % 200;
			b->seed = r * 16 + nout;
			b->good = true;
			b->id = gp; /* what an in-order driver uses */
			if (kind == 5) {
				b->id = (uint16_t)(PR_SIZE + (uint32_t)rand() % 100); /* out of the ring */
				b->good = false;
			} else if (kind == 6) {
				b->id = (uint16_t)((uint32_t)rand() % PR_SIZE); /* any id in range */
			}
			gpa = tx_buf(&e.gm, b->len, b->seed);
			if (kind == 7) {
				b->len = 0; /* a runt: the header alone */
				b->good = false;
			}
			/* later slots first, the first one's flags last */
			for (s = b->slots; s-- > 0;) {
				uint16_t slot = (uint16_t)((gp + s) % PR_SIZE);
				bool w = gw ^ (gp + s >= PR_SIZE);
				uint32_t part = (12 + b->len) / b->slots;
				uint32_t off = part * s;
				uint32_t len = s + 1 < b->slots ? part : 12 + b->len - off;

				pdesc(&e, 1, slot, gpa + off, len,
						s + 1 < b->slots ? 0xffff : b->id,
						(uint16_t)(lap(w) |
								(s + 1 < b->slots ? VHU_DESC_F_NEXT :
										    0)));
			}
			for (s = 0; s < b->slots; s++)
				if (++gp == PR_SIZE) {
					gp = 0;
					gw = !gw;
				}
			free_slots = (uint16_t)(free_slots - b->slots);
			nout++;
		}
		memcpy(snap, e.g[1].desc, sizeof(snap));
		before = e.vq[1]->last_avail_idx;
		n = vhu_dequeue_burst(e.dev->vid, 1, e.mp, pkts, (uint16_t)cut);
		/* the first cut buffers went, whole */
		for (m = 0, i = 0; i < nout && i < cut; i++) {
			const struct pr_buf *b = &outst[(head + i) % PR_SIZE];

			m += b->slots;
			if (b->good) {
				make_frame(frame, b->len, b->seed);
				TEST_ASSERT(t < n, "round %u: buffer %u dropped", r, i);
				TEST_ASSERT_EQ(mbuf_cmp(pkts[t], frame, b->len), 0, "round %u: frame", r);
				t++;
			} else {
				errors++;
			}
		}
		TEST_ASSERT_EQ(t, n, "round %u: frames taken", r);
		TEST_ASSERT_EQ(e.vq[1]->last_avail_idx, (before + m) % PR_SIZE,
				"round %u: %u slots consumed", r, m);
		TEST_ASSERT_EQ(e.vq[1]->stats.errors, errors, "round %u: drops counted", r);
		rte_pktmbuf_free_bulk(pkts, n);
		taken += n;
		dropped += i - n;
		/* one used descriptor at the burst's first slot, nothing else written */
		for (k = 0; k < PR_SIZE; k++) {
			const struct vhu_vring_packed_desc *d = &e.g[1].desc[k];

			if (i > 0 && k == up) {
				TEST_ASSERT_EQ(d->flags & (VHU_DESC_F_AVAIL | VHU_DESC_F_USED),
						uw ? VHU_DESC_F_AVAIL | VHU_DESC_F_USED : 0,
						"round %u: used at slot %u", r, k);
				TEST_ASSERT_EQ(d->id, outst[(head + i - 1) % PR_SIZE].id,
						"round %u: the last buffer's id", r);
				continue;
			}
			TEST_ASSERT(memcmp(d, &snap[k], sizeof(*d)) == 0,
					"round %u: slot %u written (used at %u)", r, k, up);
		}
		TEST_RUN(ptail_check(&e, 1));
		/* the guest takes them back */
		for (k = 0; k < i; k++) {
			struct pr_buf *b = &outst[head];
			uint16_t s;

			for (s = 0; s < b->slots; s++)
				if (++up == PR_SIZE) {
					up = 0;
					uw = !uw;
				}
			free_slots = (uint16_t)(free_slots + b->slots);
			head = (head + 1) % PR_SIZE;
			nout--;
		}
		TEST_ASSERT_EQ(e.vq[1]->last_used_idx, up, "round %u: used position", r);
	}
	TEST_LOG("%u rounds: %u frames taken, %u hostile buffers dropped", PR_ROUND, taken, dropped);
	TEST_ASSERT(taken > PR_ROUND && dropped > PR_ROUND / 10, "a mix");
	TEST_ASSERT(POOL_OK(e.mp), "mbuf leak");
	penv_fini(&e);
	return TEST_SUCCESS;
}
