/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The dequeue's batch look-ahead, split and packed rings: a dequeue takes
 * the next four simple buffers before it copies the current four. These
 * tests post a pseudo-random mix of buffers the batch takes (one
 * descriptor, header and frame together) and buffers it leaves to the
 * single path (header apart, indirect table, a frame larger than one
 * mbuf, an offload header when one is negotiated), in bursts of 1 to 64
 * over several laps of rings whose size is or is not a multiple of four,
 * so every pairing of a batch with the one after it (taken, refused, at
 * the ring's end, past the burst's end) comes up. Every frame is checked
 * byte for byte and in order; nothing is counted as an error or dropped.
 */

#include <stdio.h>
#include <string.h>

#include <rte_mbuf.h>

#include "guest_packed.h"
#include "guest_split.h"
#include "vhu.h"
#include "vhu_test.h"

#define F(b) VHU_BIT(VHU_F_##b)

static uint8_t frame[16384];

enum kind {
	K_SIMPLE,
	K_HDR_SEP,
	K_INDIRECT,
	K_BIG,
	K_OFFLOAD_HDR
};

struct pick {
	enum kind kind;
	uint32_t len;
};

/* A small deterministic generator: the same mix on every run. */
static uint32_t
next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static struct pick
pick_one(uint32_t *s)
{
	uint32_t r = next_rand(s) % 100;
	struct pick p = { K_SIMPLE, 60 + next_rand(s) % 1459 };

	if (r >= 70 && r < 78)
		p.kind = K_HDR_SEP;
	else if (r >= 78 && r < 84)
		p.kind = K_INDIRECT;
	else if (r >= 84 && r < 90) {
		p.kind = K_BIG;
		p.len = 2500 + next_rand(s) % 3000;
	} else if (r >= 90)
		p.kind = K_OFFLOAD_HDR;
	return p;
}

/* DATA_VALID: a header the single path accepts, the batch leaves to it (when read). */
static const struct vhu_net_hdr hdr_valid = { .flags = 2 };

/* The guest side of one ring layout: send a frame (tx_send or ptx_send). */
typedef int (*send_fn)(void *env, const void *frame, uint32_t len, const struct vhu_net_hdr *hdr,
		enum tx_layout layout, bool indirect);

static int
send_split(void *env, const void *frame, uint32_t len, const struct vhu_net_hdr *hdr,
		enum tx_layout layout, bool indirect)
{
	return tx_send(env, frame, len, hdr, layout, indirect);
}

static int
send_packed(void *env, const void *frame, uint32_t len, const struct vhu_net_hdr *hdr,
		enum tx_layout layout, bool indirect)
{
	return ptx_send(env, frame, len, hdr, layout, indirect);
}

/*
 * One burst of the mix: the guest sends burst picked frames, one dequeue
 * takes them all, each is checked in order; the mbufs are freed.
 */
static int
mix_burst(struct vhu_dev *dev, struct rte_mempool *mp, send_fn send, void *env, uint32_t *s,
		uint32_t seq, uint32_t burst)
{
	struct rte_mbuf *pkts[64];
	struct pick picks[64];
	uint32_t i;
	uint16_t n;

	for (i = 0; i < burst; i++) {
		struct pick p = pick_one(s);

		picks[i] = p;
		make_frame(frame, p.len, seq + i);
		TEST_ASSERT(send(env, frame, p.len, p.kind == K_OFFLOAD_HDR ? &hdr_valid : NULL,
					    p.kind == K_HDR_SEP ? TXL_HDR_SEP : TXL_ONE,
					    p.kind == K_INDIRECT) >= 0,
				"post %u", seq + i);
	}
	n = vhu_dequeue_burst(dev->vid, 1, mp, pkts, (uint16_t)burst);
	TEST_ASSERT_EQ(n, burst, "burst at %u", seq);
	for (i = 0; i < n; i++) {
		make_frame(frame, picks[i].len, seq + i);
		TEST_ASSERT(mbuf_cmp(pkts[i], frame, picks[i].len) == 0,
				"packet %u (kind %d, %u bytes)", seq + i, picks[i].kind,
				picks[i].len);
	}
	rte_pktmbuf_free_bulk(pkts, n);
	return TEST_SUCCESS;
}

static int
split_case(struct tenv *e, uint64_t features, uint16_t qsize, uint32_t laps, uint32_t seed)
{
	uint32_t total = laps * qsize, seq = 0, s = seed, id, len;

	TEST_ASSERT_EQ(tenv_init(e, features, 0, qsize, 2), 0, "env");
	while (seq < total) {
		uint32_t burst = RTE_MIN(1 + next_rand(&s) % 64, total - seq), i;

		TEST_RUN(mix_burst(e->dev, e->mp, send_split, e, &s, seq, burst));
		for (i = 0; i < burst; i++)
			TEST_ASSERT_EQ(gring_pop(&e->g[1], &id, &len), 1, "used %u", seq + i);
		TEST_ASSERT_EQ(gring_pop(&e->g[1], &id, &len), 0, "no more used");
		seq += burst;
	}
	TEST_ASSERT_EQ(e->vq[1]->stats.packets, total, "");
	TEST_ASSERT_EQ(e->vq[1]->stats.errors + e->vq[1]->stats.dropped, 0, "");
	TEST_ASSERT_EQ(rte_mempool_avail_count(e->mp), e->mp->size, "mbuf leak");
	tenv_fini(e);
	return TEST_SUCCESS;
}

static int
packed_case(struct penv *e, uint64_t features, uint16_t qsize, uint32_t laps, uint32_t seed)
{
	uint32_t total = laps * qsize, seq = 0, s = seed;

	TEST_ASSERT_EQ(penv_init(e, features, 0, qsize, 2), 0, "env");
	while (seq < total) {
		uint32_t burst = RTE_MIN(1 + next_rand(&s) % 64, total - seq);

		/* room for the largest burst, three slots per buffer at most */
		burst = RTE_MIN(burst, (uint32_t)qsize / 3u);
		TEST_RUN(mix_burst(e->dev, e->mp, send_packed, e, &s, seq, burst));
		TEST_ASSERT_EQ(ptx_reclaim(e), burst, "used at %u", seq);
		seq += burst;
	}
	TEST_ASSERT_EQ(e->vq[1]->stats.packets, total, "");
	TEST_ASSERT_EQ(e->vq[1]->stats.errors + e->vq[1]->stats.dropped, 0, "");
	/* both sides agree on where they are, wrap counters included */
	TEST_ASSERT_EQ(e->vq[1]->last_avail_idx, e->g[1].avail_idx, "");
	TEST_ASSERT_EQ(e->vq[1]->avail_wrap, e->g[1].avail_wrap, "");
	TEST_ASSERT_EQ(e->vq[1]->last_used_idx, e->g[1].used_idx, "");
	TEST_ASSERT_EQ(e->vq[1]->used_wrap, e->g[1].used_wrap, "");
	TEST_ASSERT_EQ(rte_mempool_avail_count(e->mp), e->mp->size, "mbuf leak");
	penv_fini(e);
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_deq_lookahead_mix, tenv, e)
{
	static const uint64_t feats[] = { F(RING_INDIRECT_DESC),
		F(RING_INDIRECT_DESC) | F(NET_CSUM), F(RING_INDIRECT_DESC) | F(IN_ORDER) };
	uint32_t f;

	for (f = 0; f < RTE_DIM(feats); f++) {
		TEST_RUN(split_case(e, feats[f] | F(VERSION_1), 256, 8, 1 + f));
		TEST_RUN(split_case(e, feats[f] | F(VERSION_1), 1024, 3, 11 + f));
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_deq_lookahead_mix, penv, e)
{
	static const uint64_t feats[] = { F(RING_INDIRECT_DESC),
		F(RING_INDIRECT_DESC) | F(NET_CSUM), F(RING_INDIRECT_DESC) | F(IN_ORDER) };
	static const uint16_t qsizes[] = { 256, 1000, 1002 };
	uint32_t f, q;

	for (f = 0; f < RTE_DIM(feats); f++)
		for (q = 0; q < RTE_DIM(qsizes); q++)
			TEST_RUN(packed_case(e, feats[f], qsizes[q], 6, 21 + 3 * f + q));
	return TEST_SUCCESS;
}
