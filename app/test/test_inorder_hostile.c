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

/* A TX buffer in the last region (not by the rings): header and frame (seeded). */
static uint64_t
tx_buf(struct gmem *gm, uint32_t len, uint32_t seed)
{
	uint64_t gpa = gmem_alloc(gm, gm->n - 1, 12 + len, 64);

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
				b->id = (uint16_t)(PR_SIZE +
						(uint32_t)rand() % 100); /* out of the ring */
				b->good = false;
			} else if (kind == 6) {
				b->id = (uint16_t)((uint32_t)rand() %
						PR_SIZE); /* any id in range */
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
				TEST_ASSERT_EQ(mbuf_cmp(pkts[t], frame, b->len), 0,
						"round %u: frame", r);
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
	TEST_LOG("%u rounds: %u frames taken, %u hostile buffers dropped", PR_ROUND, taken,
			dropped);
	TEST_ASSERT(taken > PR_ROUND && dropped > PR_ROUND / 10, "a mix");
	TEST_ASSERT(POOL_OK(e.mp), "mbuf leak");
	penv_fini(&e);
	return TEST_SUCCESS;
}

/* ======================================================================== */
/* Split ring.                                                               */

#define SQ            16
/* used entries, the avail_event after them and 62 more bytes */
#define SUSED_AREA(g) (8u * (g)->size + 64u)

static void
sdesc(struct tenv *e, int q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vhu_vring_desc *d = &e->g[q].desc[i];

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void
savail(struct tenv *e, int q, uint16_t head)
{
	struct gring *g = &e->g[q];

	g->avail->ring[g->avail_idx & (g->size - 1)] = head;
	g->avail_idx++;
	gring_publish(g);
}

/*
 * The used entries [from, from + n) of ring q hold (ids[k], lens[k]) and
 * the index says from + n; every other entry and the bytes after the
 * ring still hold the canary (then put back).
 */
static int
sused_check(struct tenv *e, int q, uint16_t from, uint16_t n, const uint16_t *ids,
		const uint32_t *lens)
{
	struct gring *g = &e->g[q];
	uint8_t *raw = (uint8_t *)g->used->ring;
	uint32_t k, b;

	TEST_ASSERT_EQ(g->used->idx, (uint16_t)(from + n), "ring %d: used index", q);
	for (k = 0; k < n; k++) {
		const struct vhu_vring_used_elem *u = &g->used->ring[(from + k) & (g->size - 1)];

		TEST_ASSERT_EQ(u->id, ids[k], "ring %d: used entry %u id", q, from + k);
		TEST_ASSERT_EQ(u->len, lens[k], "ring %d: used entry %u len", q, from + k);
	}
	for (b = 0; b < SUSED_AREA(g); b++) {
		uint32_t ent = b / 8;

		if (ent < g->size && ((ent - from) & (g->size - 1u)) < n)
			continue;
		TEST_ASSERT_EQ(raw[b], CANARY, "ring %d: byte %u of the used area (entries %u+%u)",
				q, b, from, n);
	}
	memset(raw, CANARY, SUSED_AREA(g));
	g->used_idx = g->used->idx;
	return TEST_SUCCESS;
}

/* A receive buffer of len bytes followed by 64 canary bytes, in region 1. */
static uint64_t
rx_buf(struct gmem *gm, uint32_t len)
{
	uint64_t gpa = gmem_alloc(gm, 1, len + 64, 64);

	memset(gmem_host(gm, gpa), 0xa5, len);
	memset(gmem_host(gm, gpa + len), CANARY, 64);
	return gpa;
}

static int
canary_ok(struct gmem *gm, uint64_t gpa, uint32_t len)
{
	const uint8_t *p = gmem_host(gm, gpa);
	uint32_t i;

	for (i = 0; i < len; i++)
		TEST_ASSERT_EQ(p[i], CANARY, "byte %u after a buffer at %#" PRIx64, i, gpa);
	return TEST_SUCCESS;
}

/*
 * Heads made available out of order, twice, not at all, and out of the
 * ring, taken in bursts cut at every count, both ways: every head goes
 * back in the order it came, once per time it was offered, with what was
 * done with it, and nothing else is written into the used ring.
 */
VHU_TEST(fast, split_inorder_hostile_heads)
{
	static const uint16_t heads[SQ] = { 5, 2, 7, 0, 3, 3, 15, 16, 0xffff, 9, 9, 1, 4, 6, 8,
		10 };
	static const uint16_t cuts[] = { 3, 1, 5, 2, 4, 32 };
	uint64_t txg[SQ], rxg[SQ], errors = 0;
	uint32_t lens[SQ], plen[SQ], last[SQ];
	uint16_t ids[SQ], from;
	struct rte_mbuf *pkts[32];
	uint32_t round, c, at, k, s;
	struct tenv e;
	uint8_t got[2048];

	TEST_ASSERT_EQ(tenv_init(&e, INORD, 0, SQ, 2), 0, "env");
	for (s = 0; s < SQ; s++) {
		txg[s] = gmem_alloc(&e.gm, 1, 12 + 60 + s, 64);
		memset(gmem_host(&e.gm, txg[s]), 0, 12);
		make_frame(frame, 60 + s, 100 + s);
		gmem_write(&e.gm, txg[s] + 12, frame, 60 + s);
		sdesc(&e, 1, (uint16_t)s, txg[s], 12 + 60 + s, 0, 0);
		rxg[s] = rx_buf(&e.gm, 1024);
		sdesc(&e, 0, (uint16_t)s, rxg[s], 1024, VHU_DESC_F_WRITE, 0);
	}
	memset(e.g[0].used->ring, CANARY, SUSED_AREA(&e.g[0]));
	memset(e.g[1].used->ring, CANARY, SUSED_AREA(&e.g[1]));

	/* TX: two rounds of the ring, so the second one wraps the used ring */
	for (round = 0; round < 2; round++) {
		for (k = 0; k < SQ; k++)
			savail(&e, 1, heads[k]);
		for (c = 0, at = 0; at < SQ; c++) {
			uint16_t n = vhu_dequeue_burst(e.dev->vid, 1, e.mp, pkts, cuts[c]);
			uint32_t want = RTE_MIN((uint32_t)cuts[c], SQ - at), t = 0;

			from = e.g[1].used_idx;
			for (k = 0; k < want; k++) {
				uint16_t h = heads[at + k];

				ids[k] = h;
				lens[k] = 0;
				if (h >= SQ) {
					errors++;
					continue;
				}
				make_frame(frame, 60 + h, 100 + h);
				TEST_ASSERT(t < n, "head %u taken", h);
				TEST_ASSERT_EQ(mbuf_cmp(pkts[t], frame, 60 + h), 0, "head %u whole",
						h);
				t++;
			}
			TEST_ASSERT_EQ(n, t, "TX burst of %u", cuts[c]);
			TEST_ASSERT_EQ(e.vq[1]->stats.errors, errors, "bad heads counted");
			rte_pktmbuf_free_bulk(pkts, n);
			TEST_RUN(sused_check(&e, 1, from, (uint16_t)want, ids, lens));
			at += want;
		}
	}

	/* RX: a bad head is handed back empty and the packet goes to the next one */
	for (round = 0; round < 2; round++) {
		for (k = 0; k < SQ; k++)
			savail(&e, 0, heads[k]);
		for (k = 0; k < SQ; k++)
			last[k] = 0;
		for (c = 0, at = 0; at < SQ; c++) {
			uint32_t want = 0, bad = 0, n;

			from = e.g[0].used_idx;
			/* packets for the good heads among the next cuts[c] entries */
			for (k = 0; at + k < SQ && want < cuts[c]; k++) {
				uint16_t h = heads[at + k];

				ids[k] = h;
				if (h >= SQ) {
					lens[k] = 0;
					bad++;
					continue;
				}
				plen[want] = 60 + 10 * (at + k);
				make_frame(frame, plen[want], 700 + at + k);
				pkts[want] = mbuf_make(e.mp, frame, plen[want], 0);
				TEST_ASSERT(pkts[want] != NULL, "mbuf");
				lens[k] = 12 + plen[want];
				last[h] = at + k + 1;
				want++;
			}
			n = vhu_enqueue_burst(e.dev->vid, 0, pkts, (uint16_t)want);
			TEST_ASSERT_EQ(n, want, "RX burst of %u", want);
			rte_pktmbuf_free_bulk(pkts, want);
			errors += bad;
			TEST_ASSERT_EQ(e.vq[0]->stats.errors + e.vq[1]->stats.errors, errors,
					"bad heads counted");
			TEST_RUN(sused_check(&e, 0, from, (uint16_t)k, ids, lens));
			at += k;
		}
		/* each buffer holds the last packet put in it, and nothing past it */
		for (s = 0; s < SQ; s++) {
			TEST_RUN(canary_ok(&e.gm, rxg[s] + 1024, 64));
			if (last[s] == 0)
				continue;
			k = last[s] - 1;
			make_frame(frame, 60 + 10 * k, 700 + k);
			gmem_read(&e.gm, rxg[s] + 12, got, 60 + 10 * k);
			TEST_ASSERT(memcmp(got, frame, 60 + 10 * k) == 0, "buffer %u content", s);
		}
	}
	TEST_ASSERT(POOL_OK(e.mp), "mbuf leak");
	tenv_fini(&e);
	return TEST_SUCCESS;
}

/*
 * Short and overlong chains among good ones on an in-order split ring:
 * a header without a frame, loops (in the ring and in an indirect table),
 * a next index out of the ring, more pieces than a packet may have, more
 * bytes than a frame may have, a write-only piece in a transmit chain; on
 * the receive side buffers shorter than the header, loops and read-only
 * pieces. Each bad one is returned once, empty, and counted; the good ones
 * around it pass whole; nothing is written past a buffer.
 */
VHU_TEST(fast, split_inorder_hostile_chains)
{
	static const uint16_t txh[] = { 0, 1, 2, 3, 4, 5, 6, 8, 11, 12, 14 };
	static const uint16_t rxh[] = { 0, 1, 2, 3, 4, 6, 7 };
	static const uint32_t rxl[] = { 212, 0, 0, 0, 212, 212, 212 };
	uint64_t g[4], t, big, r[8];
	struct vhu_vring_desc *tab;
	struct rte_mbuf *pkts[32];
	uint32_t lens[RTE_DIM(txh)], k;
	uint16_t n, n2, from;
	struct tenv e;

	TEST_ASSERT_EQ(tenv_init(&e, INORD, 0, SQ, 2), 0, "env");
	memset(e.g[0].used->ring, CANARY, SUSED_AREA(&e.g[0]));
	memset(e.g[1].used->ring, CANARY, SUSED_AREA(&e.g[1]));
	for (k = 0; k < 4; k++)
		g[k] = tx_buf(&e.gm, 300, k + 1);
	sdesc(&e, 1, 0, g[0], 312, 0, 0);
	sdesc(&e, 1, 1, g[1], 12, 0, 0);                /* header alone */
	sdesc(&e, 1, 2, g[1], 312, VHU_DESC_F_NEXT, 2); /* loops on itself */
	t = gmem_alloc(&e.gm, 1, 16 * 200, 16);
	tab = gmem_host(&e.gm, t);
	for (k = 0; k < 16; k++) /* an indirect table whose last entry goes back to 0 */
		tab[k] = (struct vhu_vring_desc){ g[1], 20, VHU_DESC_F_NEXT,
			(uint16_t)((k + 1) % 16) };
	sdesc(&e, 1, 3, t, 16 * 16, VHU_DESC_F_INDIRECT, 0);
	sdesc(&e, 1, 4, g[1], 100, VHU_DESC_F_NEXT, SQ); /* next out of the ring */
	t = gmem_alloc(&e.gm, 1, 16 * 200, 16);
	tab = gmem_host(&e.gm, t);
	for (k = 0; k < 200; k++) /* 200 pieces of 10 bytes */
		tab[k] = (struct vhu_vring_desc){ g[1] + 10 * (k % 30), 10,
			(uint16_t)(k < 199 ? VHU_DESC_F_NEXT : 0), (uint16_t)(k + 1) };
	sdesc(&e, 1, 5, t, 16 * 200, VHU_DESC_F_INDIRECT, 0);
	/* a good chain on descriptors out of order: 6 -> 9 -> 7 */
	sdesc(&e, 1, 6, g[2], 100, VHU_DESC_F_NEXT, 9);
	sdesc(&e, 1, 9, g[2] + 100, 100, VHU_DESC_F_NEXT, 7);
	sdesc(&e, 1, 7, g[2] + 200, 112, 0, 0);
	big = gmem_alloc(&e.gm, 1, 40000, 64); /* 80000 bytes: no frame */
	sdesc(&e, 1, 8, big, 40000, VHU_DESC_F_NEXT, 10);
	sdesc(&e, 1, 10, big, 40000, 0, 0);
	sdesc(&e, 1, 11, g[3], 312, 0, 0);
	sdesc(&e, 1, 12, g[0], 100, VHU_DESC_F_NEXT, 13); /* then a write-only piece */
	sdesc(&e, 1, 13, g[0] + 100, 212, VHU_DESC_F_WRITE, 0);
	sdesc(&e, 1, 14, g[0], 312, 0, 0);
	for (k = 0; k < RTE_DIM(txh); k++) {
		savail(&e, 1, txh[k]);
		lens[k] = 0;
	}
	from = e.g[1].used_idx;
	n = vhu_dequeue_burst(e.dev->vid, 1, e.mp, pkts, 4);
	n2 = vhu_dequeue_burst(e.dev->vid, 1, e.mp, pkts + n, 32);
	TEST_ASSERT_EQ(n, 1, "first burst: head 0 and three bad chains");
	TEST_ASSERT_EQ(n2, 3, "second burst: the chain 6-9-7, heads 11 and 14");
	make_frame(frame, 300, 1);
	TEST_ASSERT_EQ(mbuf_cmp(pkts[0], frame, 300), 0, "head 0");
	make_frame(frame, 300, 3);
	TEST_ASSERT_EQ(mbuf_cmp(pkts[1], frame, 300), 0, "chain 6-9-7");
	make_frame(frame, 300, 4);
	TEST_ASSERT_EQ(mbuf_cmp(pkts[2], frame, 300), 0, "head 11");
	make_frame(frame, 300, 1);
	TEST_ASSERT_EQ(mbuf_cmp(pkts[3], frame, 300), 0, "head 14");
	rte_pktmbuf_free_bulk(pkts, 4);
	TEST_ASSERT_EQ(e.vq[1]->stats.errors, 7, "seven bad chains counted");
	TEST_ASSERT(tenv_errs(&e, 1) > 0, "and signalled");
	TEST_RUN(sused_check(&e, 1, from, RTE_DIM(txh), txh, lens));
	/* the ring goes on */
	savail(&e, 1, 0);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e.dev->vid, 1, e.mp, pkts, 32), 1, "still works");
	rte_pktmbuf_free(pkts[0]);
	TEST_RUN(sused_check(&e, 1, (uint16_t)(from + RTE_DIM(txh)), 1, txh, lens));

	/* RX */
	for (k = 0; k < 8; k++)
		r[k] = rx_buf(&e.gm, k == 6 ? 212 : 2048);
	sdesc(&e, 0, 0, r[0], 2048, VHU_DESC_F_WRITE, 0);
	sdesc(&e, 0, 1, r[1], 8, VHU_DESC_F_WRITE, 0); /* < header */
	/* a loop (walked only while the packet needs more room) */
	sdesc(&e, 0, 2, r[2], 10, VHU_DESC_F_WRITE | VHU_DESC_F_NEXT, 2);
	sdesc(&e, 0, 3, r[3], 2048, 0, 0); /* read-only */
	sdesc(&e, 0, 4, r[4], 100, VHU_DESC_F_WRITE | VHU_DESC_F_NEXT, 5);
	sdesc(&e, 0, 5, r[5], 200, VHU_DESC_F_WRITE, 0);
	sdesc(&e, 0, 6, r[6], 212, VHU_DESC_F_WRITE, 0); /* exactly */
	sdesc(&e, 0, 7, r[7], 2048, VHU_DESC_F_WRITE, 0);
	for (k = 0; k < RTE_DIM(rxh); k++)
		savail(&e, 0, rxh[k]);
	for (k = 0; k < 4; k++) {
		make_frame(frame, 200, 900 + k);
		pkts[k] = mbuf_make(e.mp, frame, 200, 0);
		TEST_ASSERT(pkts[k] != NULL, "mbuf");
	}
	from = e.g[0].used_idx;
	TEST_ASSERT_EQ(vhu_enqueue_burst(e.dev->vid, 0, pkts, 4), 4, "four packets placed");
	rte_pktmbuf_free_bulk(pkts, 4);
	TEST_ASSERT_EQ(e.vq[0]->stats.errors, 3, "three bad buffers counted");
	TEST_RUN(sused_check(&e, 0, from, RTE_DIM(rxh), rxh, rxl));
	for (k = 0; k < 8; k++)
		TEST_RUN(canary_ok(&e.gm, r[k] + (k == 6 ? 212 : 2048), 64));
	TEST_ASSERT(POOL_OK(e.mp), "mbuf leak");
	tenv_fini(&e);
	return TEST_SUCCESS;
}

/*
 * In-order packed: a chain with no end within the ring stops the ring with
 * nothing written; ended at the ring's length it is taken in one piece and
 * its one used descriptor covers the whole ring.
 */
VHU_TEST(fast, packed_inorder_hostile_chains)
{
	struct vhu_vring_packed_desc snap[8];
	struct rte_mbuf *m;
	uint64_t gpa;
	struct penv e;
	uint16_t s;

	TEST_ASSERT_EQ(penv_init(&e, INORD, 0, 8, 1), 0, "env");
	ptail_fill(&e, 1);
	gpa = tx_buf(&e.gm, 8 * 100 - 12, 55);
	for (s = 8; s-- > 0;)
		pdesc(&e, 1, s, gpa + 100 * s, 100, 3, (uint16_t)(lap(true) | VHU_DESC_F_NEXT));
	memcpy(snap, e.g[1].desc, sizeof(snap));
	TEST_ASSERT_EQ(vhu_dequeue_burst(e.dev->vid, 1, e.mp, &m, 1), 0, "no end: nothing taken");
	TEST_ASSERT(e.vq[1]->broken, "the ring stopped");
	TEST_ASSERT(memcmp(snap, e.g[1].desc, sizeof(snap)) == 0, "nothing written");
	TEST_RUN(ptail_check(&e, 1));
	e.g[1].desc[7].flags = lap(true);
	penv_restart(&e, 1);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e.dev->vid, 1, e.mp, &m, 1), 1,
			"the whole ring: one frame");
	make_frame(frame, 8 * 100 - 12, 55);
	TEST_ASSERT_EQ(mbuf_cmp(m, frame, 8 * 100 - 12), 0, "whole");
	rte_pktmbuf_free(m);
	TEST_ASSERT_EQ(e.g[1].desc[0].id, 3, "one used descriptor with the chain's id");
	TEST_ASSERT_EQ(e.g[1].desc[0].flags & (VHU_DESC_F_AVAIL | VHU_DESC_F_USED),
			VHU_DESC_F_AVAIL | VHU_DESC_F_USED, "used on lap 1");
	TEST_ASSERT(memcmp(&snap[1], &e.g[1].desc[1], 6 * sizeof(snap[0])) == 0 &&
					e.g[1].desc[7].flags == lap(true),
			"the other seven slots untouched");
	TEST_ASSERT(e.vq[1]->last_used_idx == 0 && !e.vq[1]->used_wrap, "a lap on");
	TEST_RUN(ptail_check(&e, 1));
	TEST_RUN(pstill_works(&e));
	TEST_ASSERT(POOL_OK(e.mp), "mbuf leak");
	penv_fini(&e);
	return TEST_SUCCESS;
}
