/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Packed-ring datapath, fast suite: a device built by hand (guest_packed.h)
 * with the test acting as the guest. Frames are checked byte for byte in
 * both directions at 64, 1518 and 9000 bytes, mergeable on and off, in
 * order on and off, ring sizes 256, 1024 and 1000 (and odd ones), over
 * many laps of the ring; every test ends with the mbuf pools full again.
 */

#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "guest_packed.h"
#include "vhu.h"
#include "vhu_dev.h"
#include "vhu_test.h"

#define F(b)          VHU_BIT(VHU_F_##b)
#define BASE_FEATURES F(RING_INDIRECT_DESC)

static const uint32_t sizes[] = { 60, 64, 1518, 4096, 9000 };

static uint8_t frame[16384];
static uint8_t got[16384];

#define POOL_FULL(e) \
	(rte_mempool_avail_count((e)->mp) == (e)->mp->size && \
			rte_mempool_avail_count((e)->mp_big) == (e)->mp_big->size)

/* Guest sends one frame per size in the given layout; we dequeue and compare. */
static int
tx_round(struct penv *e, enum tx_layout layout, bool indirect, uint32_t seed)
{
	struct rte_mbuf *pkts[8];
	uint32_t i, id, len;
	int posted;

	for (i = 0; i < RTE_DIM(sizes); i++) {
		make_frame(frame, sizes[i], seed + i);
		posted = ptx_send(e, frame, sizes[i], NULL, layout, indirect);
		TEST_ASSERT(posted >= 0, "post %u", sizes[i]);
		TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, RTE_DIM(pkts)), 1,
				"dequeue size %u layout %d indirect %d", sizes[i], layout,
				indirect);
		TEST_ASSERT(mbuf_cmp(pkts[0], frame, sizes[i]) == 0,
				"frame of %u bytes differs (layout %d)", sizes[i], layout);
		TEST_ASSERT_EQ(pkts[0]->ol_flags &
						(RTE_MBUF_F_RX_L4_CKSUM_MASK |
								RTE_MBUF_F_TX_OFFLOAD_MASK),
				0, "no offload");
		rte_pktmbuf_free(pkts[0]);
		TEST_ASSERT_EQ(pring_pop(&e->g[1], &id, &len), 1, "used descriptor back");
		TEST_ASSERT_EQ(id, (uint32_t)posted, "same buffer id");
		TEST_ASSERT_EQ(pring_pop(&e->g[1], &id, &len), 0, "one used descriptor");
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_deq_frames, penv, e)
{
	static const uint64_t feats[] = {
		BASE_FEATURES,
		BASE_FEATURES | F(NET_MRG_RXBUF),
		BASE_FEATURES | F(IN_ORDER),
	};
	static const enum tx_layout layouts[] = {
		TXL_ONE,
		TXL_HDR_SEP,
		TXL_HDR_SPLIT,
		TXL_CHUNKS,
		TXL_CROSS,
	};
	uint32_t f, l, ind;

	for (f = 0; f < RTE_DIM(feats); f++) {
		TEST_ASSERT_EQ(penv_init(e, feats[f], 0, 256, 2), 0, "env");
		for (l = 0; l < RTE_DIM(layouts); l++)
			for (ind = 0; ind < 2; ind++)
				TEST_RUN(tx_round(e, layouts[l], ind, f * 100 + l * 10 + ind));
		TEST_ASSERT_EQ(e->vq[1]->stats.packets, RTE_DIM(layouts) * 2 * RTE_DIM(sizes), "");
		TEST_ASSERT_EQ(e->vq[1]->stats.errors, 0, "no errors");
		TEST_ASSERT(POOL_FULL(e), "mbuf leak");
		penv_fini(e);
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_deq_linear_and_extbuf, penv, e)
{
	struct rte_mbuf *pkts[4];

	/* linear only: a 9000-byte frame does not fit one mbuf and is dropped */
	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES, VHU_SOCK_LINEAR_BUF, 256, 1), 0, "env");
	make_frame(frame, 9000, 1);
	TEST_ASSERT(ptx_send(e, frame, 9000, NULL, TXL_ONE, false) >= 0, "");
	make_frame(frame, 1518, 2);
	TEST_ASSERT(ptx_send(e, frame, 1518, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "the 1518 only");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, 1518) == 0, "");
	TEST_ASSERT_EQ(pkts[0]->nb_segs, 1, "");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT_EQ(e->vq[1]->stats.dropped, 1, "drop counted");
	TEST_ASSERT_EQ(ptx_reclaim(e), 2, "dropped buffer still returned");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	penv_fini(e);

	/* multi-segment mbufs by default */
	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES, 0, 256, 1), 0, "env");
	make_frame(frame, 9000, 3);
	TEST_ASSERT(ptx_send(e, frame, 9000, NULL, TXL_CHUNKS, true) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "");
	TEST_ASSERT(pkts[0]->nb_segs > 1, "chained mbufs");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, 9000) == 0, "");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	penv_fini(e);

	/* external buffers: one linear mbuf */
	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES, VHU_SOCK_EXT_BUF | VHU_SOCK_LINEAR_BUF, 256, 1),
			0, "env");
	make_frame(frame, 9000, 3);
	TEST_ASSERT(ptx_send(e, frame, 9000, NULL, TXL_CHUNKS, true) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "");
	TEST_ASSERT_EQ(pkts[0]->nb_segs, 1, "linear");
	TEST_ASSERT(RTE_MBUF_HAS_EXTBUF(pkts[0]), "external buffer");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, 9000) == 0, "");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* Enqueue one frame per size into buffers posted here; receive and compare. */
static int
rx_round(struct penv *e, uint32_t buf_len, uint32_t nseg, bool indirect, uint32_t mseg,
		uint32_t seed)
{
	bool mrg = (e->dev->features & F(NET_MRG_RXBUF)) != 0;
	struct vhu_net_hdr hdr;
	uint32_t i, k;

	for (i = 0; i < RTE_DIM(sizes); i++) {
		uint32_t nbufs = mrg ? (sizes[i] + e->dev->hdr_len + buf_len - 1) / buf_len : 1;
		struct rte_mbuf *m;

		for (k = 0; k < nbufs; k++)
			TEST_ASSERT(prx_post(e, buf_len, nseg, indirect) >= 0, "post");
		make_frame(frame, sizes[i], seed + i);
		/* mseg 0: one segment, from the jumbo pool */
		m = mbuf_make(mseg ? e->mp : e->mp_big, frame, sizes[i], mseg);
		TEST_ASSERT(m != NULL, "mbuf");
		TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "enqueue %u", sizes[i]);
		rte_pktmbuf_free(m);
		memset(got, 0, sizeof(got));
		TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), sizes[i],
				"received length (buf %u x %u)", buf_len, nseg);
		TEST_ASSERT(memcmp(got, frame, sizes[i]) == 0, "frame of %u differs", sizes[i]);
		TEST_ASSERT_EQ(hdr.flags, 0, "");
		TEST_ASSERT_EQ(hdr.gso_type, 0, "");
		TEST_ASSERT_EQ(hdr.num_buffers, nbufs, "num_buffers");
		TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 0, "nothing more");
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_enq_frames, penv, e)
{
	uint32_t ind, mseg;

	/* non-mergeable: one large buffer per packet, chained or indirect */
	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES, 0, 256, 2), 0, "env");
	for (ind = 0; ind < 2; ind++)
		for (mseg = 0; mseg < 2; mseg++) {
			TEST_RUN(rx_round(e, 9100, 1, ind, mseg ? 1000 : 0, 10 + ind));
			TEST_RUN(rx_round(e, 9100, 3, ind, mseg ? 700 : 0, 20 + ind));
			TEST_RUN(rx_round(e, 9100, 16, ind, mseg ? 333 : 0, 30 + ind));
		}
	TEST_ASSERT_EQ(e->vq[0]->stats.errors, 0, "");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 0, "");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	penv_fini(e);

	/* mergeable: packets spread over 1536- and 2048-byte buffers */
	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES | F(NET_MRG_RXBUF), 0, 256, 2), 0, "env");
	for (ind = 0; ind < 2; ind++)
		for (mseg = 0; mseg < 2; mseg++) {
			TEST_RUN(rx_round(e, 2048, 1, ind, mseg ? 512 : 0, 50 + ind));
			TEST_RUN(rx_round(e, 1536, 2, ind, mseg ? 1000 : 0, 60 + ind));
		}
	TEST_ASSERT_EQ(e->vq[0]->stats.errors, 0, "");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/*
 * The matrix: frames of 64, 1518 and 9000 bytes both ways in bursts of
 * varying size (so batches start anywhere and chains cross the ring end),
 * over laps x the ring, content checked, at most one call per burst.
 */
static const uint32_t mx_sizes[] = { 64, 1518, 9000 };

static int
matrix_case(struct penv *e, uint64_t features, uint16_t qsize, uint32_t laps)
{
	bool mrg = (features & F(NET_MRG_RXBUF)) != 0;
	uint32_t total = laps * qsize + 37, sent = 0, seq = 0, burst_no = 0;
	struct rte_mbuf *pkts[64];
	struct vhu_net_hdr hdr;

	TEST_ASSERT_EQ(penv_init(e, features, 0, qsize, 2), 0, "env");
	while (sent < total) {
		uint32_t burst = RTE_MIN(1 + (burst_no * 7) % 40, total - sent), i, k;
		uint64_t calls;
		uint16_t n;

		burst = RTE_MIN(burst, (uint32_t)qsize / 5);
		if (burst == 0)
			burst = 1;
		burst_no++;
		/* guest -> host */
		for (i = 0; i < burst; i++) {
			uint32_t sz = mx_sizes[(seq + i) % 3];
			enum tx_layout l = (seq + i) % 5 == 4 ? TXL_HDR_SEP : TXL_ONE;

			make_frame(frame, sz, seq + i);
			TEST_ASSERT(ptx_send(e, frame, sz, NULL, l, (seq + i) % 7 == 3) >= 0,
					"tx post %u (ring %u)", seq + i, qsize);
		}
		n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, (uint16_t)burst);
		TEST_ASSERT_EQ(n, burst, "dequeue burst %u (ring %u)", burst_no, qsize);
		calls = penv_calls(e, 1);
		TEST_ASSERT_EQ(calls, 1, "one call per burst");
		for (i = 0; i < burst; i++) {
			uint32_t sz = mx_sizes[(seq + i) % 3];

			make_frame(frame, sz, seq + i);
			TEST_ASSERT(mbuf_cmp(pkts[i], frame, sz) == 0, "tx packet %u", seq + i);
		}
		TEST_ASSERT_EQ(ptx_reclaim(e), burst, "tx buffers back");
		/* host -> guest: the same mbufs */
		for (i = 0; i < burst; i++) {
			uint32_t sz = pkts[i]->pkt_len;
			uint32_t blen = mrg ? 2048 : 9100;
			uint32_t nb = mrg ? (sz + 12 + blen - 1) / blen : 1;

			for (k = 0; k < nb; k++)
				TEST_ASSERT(prx_post(e, blen, (seq + i) % 4 == 1 ? 2 : 1,
							    (seq + i) % 6 == 5) >= 0,
						"rx post");
		}
		n = vhu_enqueue_burst(e->dev->vid, 0, pkts, (uint16_t)burst);
		TEST_ASSERT_EQ(n, burst, "enqueue burst %u (ring %u)", burst_no, qsize);
		TEST_ASSERT_EQ(penv_calls(e, 0), 1, "one call per burst");
		for (i = 0; i < burst; i++) {
			uint32_t sz = mx_sizes[(seq + i) % 3];
			int r = prx_recv(e, got, sizeof(got), &hdr);

			make_frame(frame, sz, seq + i);
			TEST_ASSERT_EQ(r, sz, "rx %u (ring %u)", seq + i, qsize);
			TEST_ASSERT(memcmp(got, frame, sz) == 0, "rx %u content", seq + i);
		}
		TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 0, "nothing more");
		rte_pktmbuf_free_bulk(pkts, burst);
		seq += burst;
		sent += burst;
	}
	TEST_ASSERT_EQ(e->vq[0]->stats.packets, total, "");
	TEST_ASSERT_EQ(e->vq[1]->stats.packets, total, "");
	TEST_ASSERT_EQ(e->vq[0]->stats.errors + e->vq[1]->stats.errors, 0, "");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped + e->vq[1]->stats.dropped, 0, "");
	/* both sides agree on where they are, wrap counters included */
	TEST_ASSERT_EQ(e->vq[1]->last_avail_idx, e->g[1].avail_idx, "");
	TEST_ASSERT_EQ(e->vq[1]->avail_wrap, e->g[1].avail_wrap, "");
	TEST_ASSERT_EQ(e->vq[1]->last_used_idx, e->g[1].used_idx, "");
	TEST_ASSERT_EQ(e->vq[1]->used_wrap, e->g[1].used_wrap, "");
	TEST_ASSERT_EQ(e->vq[0]->last_used_idx, e->g[0].used_idx, "");
	TEST_ASSERT_EQ(e->vq[0]->used_wrap, e->g[0].used_wrap, "");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	penv_fini(e);
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_traffic_matrix, penv, e)
{
	static const uint16_t qsizes[] = { 256, 1024, 1000 };
	uint32_t q, mrg, ino;

	for (q = 0; q < RTE_DIM(qsizes); q++)
		for (mrg = 0; mrg < 2; mrg++)
			for (ino = 0; ino < 2; ino++) {
				uint64_t f = BASE_FEATURES | (mrg ? F(NET_MRG_RXBUF) : 0) |
						(ino ? F(IN_ORDER) : 0);

				TEST_RUN(matrix_case(e, f, qsizes[q], qsizes[q] > 256 ? 3 : 6));
			}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_odd_ring_sizes, penv, e)
{
	static const uint16_t qsizes[] = { 5, 13, 127, 32768 };
	uint32_t q;

	for (q = 0; q < RTE_DIM(qsizes); q++) {
		uint32_t laps = qsizes[q] > 1000 ? 1 : 20;

		TEST_RUN(matrix_case(e, BASE_FEATURES | F(NET_MRG_RXBUF), qsizes[q], laps));
		TEST_RUN(matrix_case(e, BASE_FEATURES | F(IN_ORDER), qsizes[q], laps));
	}
	return TEST_SUCCESS;
}

/* Everything the guest posted goes out in one call, however many that is. */
VHU_TEST_F(fast, packed_bulk_no_cap, penv, e)
{
	struct rte_mbuf **pkts = calloc(1000, sizeof(*pkts));
	struct vhu_net_hdr hdr;
	uint32_t i;

	TEST_ASSERT(pkts != NULL, "");
	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES, 0, 1000, 2), 0, "env");
	for (i = 0; i < 1000; i++) {
		uint32_t sz = 60 + (i * 37) % 1459;

		make_frame(frame, sz, i);
		TEST_ASSERT(ptx_send(e, frame, sz, NULL, TXL_ONE, false) >= 0, "post %u", i);
	}
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 1000), 1000,
			"the whole ring");
	TEST_ASSERT_EQ(penv_calls(e, 1), 1, "");
	for (i = 0; i < 1000; i++) {
		make_frame(frame, 60 + (i * 37) % 1459, i);
		TEST_ASSERT(mbuf_cmp(pkts[i], frame, 60 + (i * 37) % 1459) == 0, "packet %u", i);
	}
	TEST_ASSERT_EQ(ptx_reclaim(e), 1000, "");
	for (i = 0; i < 1000; i++)
		TEST_ASSERT(prx_post(e, 1600, 1, false) >= 0, "rx post");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1000), 1000, "");
	TEST_ASSERT_EQ(penv_calls(e, 0), 1, "");
	for (i = 0; i < 1000; i++) {
		make_frame(frame, 60 + (i * 37) % 1459, i);
		TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 60 + (i * 37) % 1459, "");
		TEST_ASSERT(memcmp(got, frame, 60 + (i * 37) % 1459) == 0, "rx %u", i);
	}
	rte_pktmbuf_free_bulk(pkts, 1000);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	penv_fini(e);
	free(pkts);
	return TEST_SUCCESS;
}

/* In order: one used descriptor per dequeue burst, carrying the last id. */
VHU_TEST_F(fast, packed_inorder_one_used, penv, e)
{
	struct rte_mbuf *pkts[16];
	uint16_t start;
	int last = -1, first = -1;
	uint32_t i, id, len;

	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES | F(IN_ORDER), 0, 64, 1), 0, "env");
	for (i = 0; i < 10; i++) {
		make_frame(frame, 100 + i, i);
		last = ptx_send(e, frame, 100 + i, NULL, i == 3 ? TXL_CHUNKS : TXL_ONE, false);
		TEST_ASSERT(last >= 0, "");
		if (first < 0)
			first = last;
	}
	start = e->g[1].used_idx;
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 16), 10, "");
	TEST_ASSERT(pring_is_used(&e->g[1], start, true), "used descriptor at the first slot");
	TEST_ASSERT_EQ(e->g[1].desc[start].id, last, "the last buffer's id");
	for (i = 1; i < 14; i++)
		TEST_ASSERT(!pring_is_used(&e->g[1], (uint16_t)(start + i), true),
				"slot %u not written", start + i);
	for (i = 0; i < 10; i++) {
		TEST_ASSERT_EQ(pring_pop(&e->g[1], &id, &len), 1, "buffer %u reclaimed", i);
		make_frame(frame, 100 + i, i);
		TEST_ASSERT(mbuf_cmp(pkts[i], frame, 100 + i) == 0, "");
	}
	TEST_ASSERT_EQ(id, last, "");
	TEST_ASSERT_EQ(e->g[1].used_idx, e->vq[1]->last_used_idx, "driver skipped to the device");
	TEST_ASSERT_EQ(pring_pop(&e->g[1], &id, &len), 0, "");
	rte_pktmbuf_free_bulk(pkts, 10);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_enq_full_ring_partial, penv, e)
{
	struct rte_mbuf *pkts[20];
	struct vhu_net_hdr hdr;
	uint32_t i;

	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES | F(NET_MRG_RXBUF), 0, 64, 1), 0, "env");
	for (i = 0; i < 20; i++) {
		make_frame(frame, 1000, i);
		pkts[i] = mbuf_make(e->mp, frame, 1000, 0);
		TEST_ASSERT(pkts[i] != NULL, "");
	}
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 20), 0, "no buffers: nothing");
	TEST_ASSERT_EQ(penv_calls(e, 0), 0, "no call for nothing");
	for (i = 0; i < 8; i++)
		TEST_ASSERT(prx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 20), 8, "partial");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 0, "a full ring drops nothing");
	for (i = 0; i < 12; i++)
		TEST_ASSERT(prx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &pkts[8], 12), 12, "rest");
	for (i = 0; i < 20; i++) {
		make_frame(frame, 1000, i);
		TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 1000, "");
		TEST_ASSERT(memcmp(got, frame, 1000) == 0, "order kept, %u", i);
	}
	/* mergeable: a packet that does not fit what is there now leaves it untouched */
	rte_pktmbuf_free_bulk(pkts, 20);
	make_frame(frame, 5000, 99);
	pkts[0] = mbuf_make(e->mp, frame, 5000, 0);
	TEST_ASSERT(prx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT(prx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 0, "needs three buffers");
	TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 0, "nothing used");
	TEST_ASSERT(prx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 1, "");
	TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 5000, "");
	TEST_ASSERT_EQ(hdr.num_buffers, 3, "");
	TEST_ASSERT(memcmp(got, frame, 5000) == 0, "");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_enq_too_big_dropped, penv, e)
{
	struct rte_mbuf *pkts[2];
	struct vhu_net_hdr hdr;

	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	TEST_ASSERT(prx_post(e, 1600, 2, false) >= 0, "");
	make_frame(frame, 4096, 1);
	pkts[0] = mbuf_make(e->mp, frame, 4096, 0);
	make_frame(frame, 1518, 2);
	pkts[1] = mbuf_make(e->mp, frame, 1518, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 2), 2, "both consumed");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 1, "the big one dropped, not truncated");
	TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 1518, "the buffer went to the next");
	TEST_ASSERT(memcmp(got, frame, 1518) == 0, "");
	TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 0, "");
	rte_pktmbuf_free_bulk(pkts, 2);
	penv_fini(e);

	/* mergeable: larger than the whole ring (5 slots, not a power of two) */
	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES | F(NET_MRG_RXBUF), 0, 5, 1), 0, "env");
	while (prx_post(e, 1024, 1, false) >= 0)
		;
	make_frame(frame, 9000, 3);
	pkts[0] = mbuf_make(e->mp, frame, 9000, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 1, "consumed");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 1, "dropped");
	TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 0, "nothing written");
	/* the buffers are still there for a packet that fits */
	make_frame(frame, 3000, 4);
	pkts[1] = mbuf_make(e->mp, frame, 3000, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &pkts[1], 1), 1, "");
	TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 3000, "");
	TEST_ASSERT(memcmp(got, frame, 3000) == 0, "");
	rte_pktmbuf_free_bulk(pkts, 2);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* ---- notifications ---- */

/* One 100-byte frame into the guest; returns the calls it caused. */
static int
rx_one(struct penv *e, uint64_t *calls)
{
	struct vhu_net_hdr hdr;
	struct rte_mbuf *m;

	make_frame(frame, 100, 7);
	m = mbuf_make(e->mp, frame, 100, 0);
	TEST_ASSERT(m != NULL, "");
	TEST_ASSERT(prx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "");
	rte_pktmbuf_free(m);
	TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), 100, "");
	*calls = penv_calls(e, 0);
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_notify_suppression, penv, e)
{
	uint64_t c;
	uint32_t i;

	/* ENABLE / DISABLE */
	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES, 0, 8, 1), 0, "env");
	TEST_RUN(rx_one(e, &c));
	TEST_ASSERT_EQ(c, 1, "enabled: called");
	e->g[0].drv->flags = VHU_EVENT_F_DISABLE;
	TEST_RUN(rx_one(e, &c));
	TEST_ASSERT_EQ(c, 0, "disabled: not called");
	TEST_ASSERT_EQ(e->vq[0]->stats.calls_suppressed, 1, "");
	/* DESC without EVENT_IDX means nothing: treated as enabled */
	e->g[0].drv->flags = VHU_EVENT_F_DESC;
	TEST_RUN(rx_one(e, &c));
	TEST_ASSERT_EQ(c, 1, "");
	penv_fini(e);

	/* EVENT_IDX: a call when the descriptor at off/wrap is used, across the wrap */
	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES | F(RING_EVENT_IDX), 0, 8, 1), 0, "env");
	TEST_RUN(rx_one(e, &c));
	TEST_ASSERT_EQ(c, 1, "first call always goes"); /* used now at 1, wrap 1 */
	e->g[0].drv->flags = VHU_EVENT_F_DESC;
	e->g[0].drv->off_wrap = 2 | 0; /* slot 2 of the next lap */
	for (i = 1; i < 10; i++) {    /* uses slots 1..7, 0, 1 */
		TEST_RUN(rx_one(e, &c));
		TEST_ASSERT_EQ(c, 0, "slot %u: no call", i);
	}
	TEST_RUN(rx_one(e, &c)); /* slot 2, wrap 0 */
	TEST_ASSERT_EQ(c, 1, "the asked-for descriptor: call");
	TEST_RUN(rx_one(e, &c));
	TEST_ASSERT_EQ(c, 0, "past it: quiet");
	/* an event offset beyond the ring never fires */
	e->g[0].drv->off_wrap = 100 | (1u << 15);
	TEST_RUN(rx_one(e, &c));
	TEST_ASSERT_EQ(c, 0, "");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	penv_fini(e);

	/* NOTIFY_ON_EMPTY overrides DISABLE when the ring runs dry */
	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES | F(NOTIFY_ON_EMPTY), 0, 8, 1), 0, "env");
	e->g[1].drv->flags = VHU_EVENT_F_DISABLE;
	{
		struct rte_mbuf *pkts[2];

		make_frame(frame, 64, 1);
		TEST_ASSERT(ptx_send(e, frame, 64, NULL, TXL_ONE, false) >= 0, "");
		TEST_ASSERT(ptx_send(e, frame, 64, NULL, TXL_ONE, false) >= 0, "");
		TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 1), 1, "");
		TEST_ASSERT_EQ(penv_calls(e, 1), 0, "not empty yet");
		TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, &pkts[1], 1), 1, "");
		TEST_ASSERT_EQ(penv_calls(e, 1), 1, "empty: notified");
		rte_pktmbuf_free_bulk(pkts, 2);
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_guest_notification_control, penv, e)
{
	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	TEST_ASSERT_EQ(e->g[0].dev->flags, VHU_EVENT_F_DISABLE, "RX ring: no kicks by default");
	TEST_ASSERT_EQ(e->g[1].dev->flags, VHU_EVENT_F_ENABLE, "TX ring: as the guest set it");
	TEST_ASSERT_EQ(vhu_enable_guest_notification(e->dev->vid, 1, 0), 0, "");
	TEST_ASSERT_EQ(e->g[1].dev->flags, VHU_EVENT_F_DISABLE, "guest told not to kick");
	TEST_ASSERT_EQ(vhu_enable_guest_notification(e->dev->vid, 1, 1), 0, "");
	TEST_ASSERT_EQ(e->g[1].dev->flags, VHU_EVENT_F_ENABLE, "kicks wanted");
	TEST_ASSERT_EQ(vhu_enable_guest_notification(e->dev->vid, 0, 0), 0, "");
	e->g[0].dev->flags = VHU_EVENT_F_ENABLE;
	penv_restart(e, 0);
	TEST_ASSERT_EQ(e->g[0].dev->flags, VHU_EVENT_F_DISABLE, "re-applied at start");
	return TEST_SUCCESS;
}

/* ---- offloads ---- */

/* Eth + IPv4 + TCP (or UDP) with payload; L4 checksum field holds the pseudo-header sum. */
static uint32_t
make_l4(uint8_t *buf, uint32_t payload, bool udp)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint32_t l4len = udp ? 8 : 20, len = 14 + 20 + l4len + payload, i;

	memset(buf, 0, len);
	memset(&eth->dst_addr, 0x02, 6);
	memset(&eth->src_addr, 0x04, 6);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + l4len + payload));
	ip->time_to_live = 64;
	ip->next_proto_id = udp ? IPPROTO_UDP : IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(0x0a000001);
	ip->dst_addr = rte_cpu_to_be_32(0x0a000002);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	for (i = 0; i < payload; i++)
		buf[14 + 20 + l4len + i] = (uint8_t)(i * 13 + 1);
	if (udp) {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);

		u->src_port = rte_cpu_to_be_16(1000);
		u->dst_port = rte_cpu_to_be_16(2000);
		u->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + payload));
		u->dgram_cksum = rte_ipv4_phdr_cksum(ip, 0);
	} else {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)(ip + 1);

		t->src_port = rte_cpu_to_be_16(1000);
		t->dst_port = rte_cpu_to_be_16(2000);
		t->data_off = 5 << 4;
		t->tcp_flags = RTE_TCP_ACK_FLAG;
		t->rx_win = rte_cpu_to_be_16(1000);
		t->cksum = rte_ipv4_phdr_cksum(ip, 0);
	}
	return len;
}

VHU_TEST_F(fast, packed_offload_deq, penv, e)
{
	struct rte_mbuf *pkts[4];
	struct vhu_net_hdr hdr;
	uint32_t len;

	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES | F(NET_CSUM) | F(NET_HOST_TSO4), 0, 64, 2), 0,
			"env");
	/* partial TCP checksum, header split across descriptors */
	len = make_l4(frame, 1000, false);
	memset(&hdr, 0, sizeof(hdr));
	hdr.flags = VHU_NET_HDR_F_NEEDS_CSUM;
	hdr.csum_start = 34;
	hdr.csum_offset = 16;
	TEST_ASSERT(ptx_send(e, frame, len, &hdr, TXL_HDR_SPLIT, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, len) == 0, "data untouched");
	TEST_ASSERT_EQ(pkts[0]->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_NONE,
			"");
	TEST_ASSERT((pkts[0]->packet_type & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_TCP, "ptype");
	rte_pktmbuf_free(pkts[0]);

	/* TSO through an indirect table */
	len = make_l4(frame, 8000, false);
	memset(&hdr, 0, sizeof(hdr));
	hdr.flags = VHU_NET_HDR_F_NEEDS_CSUM;
	hdr.csum_start = 34;
	hdr.csum_offset = 16;
	hdr.gso_type = VHU_NET_HDR_GSO_TCPV4;
	hdr.gso_size = 1448;
	hdr.hdr_len = 54;
	TEST_ASSERT(ptx_send(e, frame, len, &hdr, TXL_CHUNKS, true) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, len) == 0, "");
	TEST_ASSERT_EQ(pkts[0]->tso_segsz, 1448, "");
	TEST_ASSERT(pkts[0]->ol_flags & RTE_MBUF_F_RX_LRO, "");
	rte_pktmbuf_free(pkts[0]);

	/* an invalid header: dropped, counted, buffer returned */
	memset(&hdr, 0, sizeof(hdr));
	hdr.gso_type = VHU_NET_HDR_GSO_TCPV4; /* gso_size 0 */
	TEST_ASSERT(ptx_send(e, frame, 200, &hdr, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "dropped");
	TEST_ASSERT_EQ(e->vq[1]->stats.errors, 1, "");
	TEST_ASSERT(penv_errs(e, 1) > 0, "error fd signalled");
	TEST_ASSERT_EQ(ptx_reclaim(e), 3, "every buffer back with the guest");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_offload_enq, penv, e)
{
	struct vhu_net_hdr hdr;
	struct rte_mbuf *m;
	uint32_t len;
	int i;

	TEST_ASSERT_EQ(penv_init(e,
				       BASE_FEATURES | F(NET_MRG_RXBUF) | F(NET_GUEST_CSUM) |
						       F(NET_GUEST_TSO4),
				       0, 64, 1),
			0, "env");
	len = make_l4(frame, 500, false);
	m = mbuf_make(e->mp, frame, len, 0);
	m->ol_flags = RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4;
	m->l2_len = 14;
	m->l3_len = 20;
	TEST_ASSERT(prx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "");
	TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), len, "");
	TEST_ASSERT(memcmp(got, frame, len) == 0, "data as given");
	TEST_ASSERT_EQ(hdr.flags, VHU_NET_HDR_F_NEEDS_CSUM, "");
	TEST_ASSERT_EQ(hdr.csum_start, 34, "");
	TEST_ASSERT_EQ(hdr.csum_offset, 16, "");
	rte_pktmbuf_free(m);

	/* TSO over mergeable buffers, from a multi-segment mbuf */
	len = make_l4(frame, 6000, false);
	{
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(frame + 14);
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)(ip + 1);

		t->cksum = rte_ipv4_phdr_cksum(ip, RTE_MBUF_F_TX_TCP_SEG);
	}
	m = mbuf_make(e->mp, frame, len, 1500);
	m->ol_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	m->l2_len = 14;
	m->l3_len = 20;
	m->l4_len = 20;
	m->tso_segsz = 1400;
	for (i = 0; i < 4; i++)
		TEST_ASSERT(prx_post(e, 2048, 1, i & 1) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "");
	TEST_ASSERT_EQ(prx_recv(e, got, sizeof(got), &hdr), len, "");
	TEST_ASSERT_EQ(hdr.gso_type, VHU_NET_HDR_GSO_TCPV4, "");
	TEST_ASSERT_EQ(hdr.gso_size, 1400, "");
	TEST_ASSERT_EQ(hdr.num_buffers, 3, "6066 bytes in 2048-byte buffers");
	{
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(got + 14);
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)(ip + 1);

		TEST_ASSERT_EQ(t->cksum, rte_ipv4_phdr_cksum(ip, 0), "pseudo-header with length");
		TEST_ASSERT_EQ(rte_ipv4_cksum(ip), 0, "IP checksum completed");
	}
	rte_pktmbuf_free(m);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* ---- dirty log ---- */
VHU_TEST_F(fast, packed_dirty_log, penv, e)
{
	struct rte_mbuf *pkts[8];
	struct vhu_net_hdr hdr;
	uint32_t i, k, n = 0;
	uint16_t slot = 0;

	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES | F(NET_MRG_RXBUF), 0, 64, 2), 0, "env");
	TEST_ASSERT_EQ(penv_log_start(e), 0, "");
	for (i = 0; i < 8; i++)
		TEST_ASSERT(prx_post(e, 2048 + (i & 1) * 6000, (i % 3) + 1, i & 2) >= 0, "");
	for (i = 0; i < 4; i++) {
		make_frame(frame, sizes[i + 1], i);
		pkts[n++] = mbuf_make(e->mp, frame, sizes[i + 1], 0);
	}
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, (uint16_t)n), n, "");
	/* every used descriptor's slot, and every byte it says was written */
	while (slot < e->vq[0]->last_used_idx) {
		const struct vhu_vring_packed_desc *d = &e->g[0].desc[slot];
		const struct pbuf *b = &e->g[0].bufs[d->id];
		uint32_t left = d->len;

		TEST_ASSERT(pring_is_used(&e->g[0], slot, true), "slot %u used", slot);
		TEST_ASSERT(penv_log_test(e, e->g[0].desc_gpa + 16u * slot), "used slot %u", slot);
		for (k = 0; k < b->nseg && left != 0; k++) {
			uint32_t l = RTE_MIN(left, b->seg[k].len), off;

			for (off = 0; off < l; off += 512)
				TEST_ASSERT(penv_log_test(e, b->seg[k].gpa + off), "data of id %u",
						d->id);
			TEST_ASSERT(penv_log_test(e, b->seg[k].gpa + l - 1), "");
			left -= l;
		}
		slot = (uint16_t)(slot + b->ndesc);
	}
	TEST_ASSERT(slot > 4, "several buffers used");
	while (prx_recv(e, got, sizeof(got), &hdr) > 0)
		;
	rte_pktmbuf_free_bulk(pkts, n);

	/* dequeue writes only used descriptors */
	penv_log_clear(e);
	make_frame(frame, 1518, 5);
	TEST_ASSERT(ptx_send(e, frame, 1518, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 8), 1, "");
	TEST_ASSERT(penv_log_test(e, e->g[1].desc_gpa), "used descriptor");
	for (k = 0; k < e->log_size; k++)
		if (k != (e->g[1].desc_gpa / VHU_LOG_PAGE) / 8)
			TEST_ASSERT_EQ(e->log[k], 0, "nothing else written (byte %u)", k);
	/* the device event area, when the guest is told about kicks */
	penv_log_clear(e);
	TEST_ASSERT_EQ(vhu_enable_guest_notification(e->dev->vid, 1, 0), 0, "");
	TEST_ASSERT(penv_log_test(e, e->g[1].dev_gpa), "device event area");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* ---- ring states, RARP, stats ---- */
VHU_TEST_F(fast, packed_disabled_ring, penv, e)
{
	uint32_t marks[VHU_MAX_VRINGS];
	struct rte_mbuf *pkts[4];

	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	TEST_ASSERT_EQ(tvq_state(e->dev, 0, true, false), 0, "disable ring 0");
	TEST_ASSERT_EQ(tvq_state(e->dev, 1, true, false), 0, "disable ring 1");
	TEST_ASSERT(!e->vq[1]->active && e->vq[1]->discard, "started and disabled");
	make_frame(frame, 100, 1);
	TEST_ASSERT(ptx_send(e, frame, 100, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT(ptx_send(e, frame, 100, NULL, TXL_HDR_SEP, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "TX not delivered");
	TEST_ASSERT_EQ(ptx_reclaim(e), 0, "the burst leaves a disabled ring alone");
	/* the control thread's sweep drops it: returned to the guest unread */
	e->dev->max_queue_pairs = 1;
	TEST_ASSERT_EQ(vhu_dev_sweep_observe(e->dev, marks), 1, "the sweep sees one ring");
	TEST_ASSERT_EQ(marks[1], 3, "three slots available");
	vhu_dev_sweep(e->dev, marks);
	TEST_ASSERT_EQ(ptx_reclaim(e), 2, "returned to the guest");
	TEST_ASSERT_EQ(e->vq[1]->stats.dropped, 2, "");
	TEST_ASSERT(prx_post(e, 2048, 1, false) >= 0, "");
	pkts[0] = mbuf_make(e->mp, frame, 100, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 0, "no RX supplied");
	TEST_ASSERT(!pring_is_used(&e->g[0], 0, true), "");
	/* stopped: untouched */
	TEST_ASSERT_EQ(tvq_state(e->dev, 1, false, false), 0, "stop ring 1");
	TEST_ASSERT(!e->vq[1]->active && !e->vq[1]->discard, "stopped");
	TEST_ASSERT(ptx_send(e, frame, 100, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts + 1, 3), 0, "");
	TEST_ASSERT_EQ(ptx_reclaim(e), 0, "stopped ring untouched");
	/* busy guard: the burst backs off */
	TEST_ASSERT_EQ(tvq_state(e->dev, 1, true, true), 0, "start ring 1");
	vhu_guard_close(&e->vq[1]->guard);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts + 1, 3), 0, "");
	vhu_guard_open(&e->vq[1]->guard);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts + 1, 3), 1, "");
	rte_pktmbuf_free(pkts[1]);
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_rarp_and_stats, penv, e)
{
	static const struct rte_ether_addr mac = { { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };
	static const uint32_t lens[] = { 60, 64, 100, 200, 300, 600, 1200, 4000 };
	struct rte_mbuf *pkts[16];
	struct vhu_vq_stats st;
	uint32_t i;

	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	e->dev->rarp_mac = mac;
	__atomic_store_n(&e->dev->rarp_pending, 1, __ATOMIC_RELEASE);
	for (i = 0; i < RTE_DIM(lens); i++) {
		make_frame(frame, lens[i], i);
		if (i == 2)
			memset(frame, 0xff, 6);
		if (i == 3)
			frame[0] = 0x01;
		TEST_ASSERT(ptx_send(e, frame, lens[i], NULL, TXL_ONE, false) >= 0, "");
	}
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 16), RTE_DIM(lens) + 1, "");
	TEST_ASSERT_EQ(rte_pktmbuf_mtod(pkts[0], const uint8_t *)[13], 0x35, "RARP first");
	TEST_ASSERT(memcmp(rte_pktmbuf_mtod(pkts[0], const uint8_t *) + 6, &mac, 6) == 0, "");
	TEST_ASSERT_EQ(vhu_vq_stats_get(e->dev->vid, 1, &st), 0, "");
	TEST_ASSERT_EQ(st.packets, 8, "RARP is not guest traffic");
	TEST_ASSERT_EQ(st.bytes, 60 + 64 + 100 + 200 + 300 + 600 + 1200 + 4000, "");
	for (i = 0; i < 8; i++)
		TEST_ASSERT_EQ(st.size_bins[i], 1, "bin %u", i);
	TEST_ASSERT_EQ(st.broadcast, 1, "");
	TEST_ASSERT_EQ(st.multicast, 1, "");
	TEST_ASSERT_EQ(st.unicast, 6, "");
	TEST_ASSERT_EQ(st.calls, 1, "");
	rte_pktmbuf_free_bulk(pkts, RTE_DIM(lens) + 1);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_deq_pool_low, penv, e)
{
	struct rte_mbuf *pkts[64], *hold[4095];
	unsigned int held = 0, i, total = 0;

	TEST_ASSERT_EQ(penv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	while (rte_mempool_avail_count(e->mp) > 10)
		hold[held++] = rte_pktmbuf_alloc(e->mp);
	for (i = 0; i < 64; i++) {
		make_frame(frame, 100, i);
		TEST_ASSERT(ptx_send(e, frame, 100, NULL, TXL_ONE, false) >= 0, "");
	}
	i = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 64);
	TEST_ASSERT(i > 0 && i <= 10, "what the pool can give: %u", i);
	total += i;
	rte_pktmbuf_free_bulk(pkts, i);
	rte_pktmbuf_free_bulk(hold, held);
	while ((i = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 64)) > 0) {
		unsigned int k;

		for (k = 0; k < i; k++) {
			make_frame(frame, 100, total + k);
			TEST_ASSERT(mbuf_cmp(pkts[k], frame, 100) == 0, "in order, none lost");
		}
		total += i;
		rte_pktmbuf_free_bulk(pkts, i);
	}
	TEST_ASSERT_EQ(total, 64, "");
	TEST_ASSERT_EQ(ptx_reclaim(e), 64, "");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}
