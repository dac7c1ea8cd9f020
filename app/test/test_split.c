/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Split-ring datapath, fast suite: a device built by hand (guest_split.h)
 * with the test acting as the guest. Frames are checked byte for byte in
 * both directions; every test ends with the mbuf pool full again.
 */

#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "guest_split.h"
#include "vhu.h"
#include "vhu_dev.h"
#include "vhu_test.h"

#define F(b)          VHU_BIT(VHU_F_##b)
#define BASE_FEATURES (F(VERSION_1) | F(RING_INDIRECT_DESC))

static const uint32_t sizes[] = { 60, 64, 1518, 4096, 9000 };

static uint8_t frame[16384];
static uint8_t got[16384];

#define POOL_FULL(e) \
	(rte_mempool_avail_count((e)->mp) == (e)->mp->size && \
			rte_mempool_avail_count((e)->mp_big) == (e)->mp_big->size)

/* Guest sends one frame per size in the given layout; we dequeue and compare. */
static int
tx_round(struct tenv *e, enum tx_layout layout, bool indirect, uint32_t seed)
{
	struct rte_mbuf *pkts[8];
	uint32_t i, id, len;
	uint16_t n;

	for (i = 0; i < RTE_DIM(sizes); i++) {
		make_frame(frame, sizes[i], seed + i);
		TEST_ASSERT(tx_send(e, frame, sizes[i], NULL, layout, indirect) >= 0, "post %u",
				sizes[i]);
		n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, RTE_DIM(pkts));
		TEST_ASSERT_EQ(n, 1, "dequeue size %u layout %d indirect %d", sizes[i], layout,
				indirect);
		TEST_ASSERT(mbuf_cmp(pkts[0], frame, sizes[i]) == 0,
				"frame of %u bytes differs (layout %d)", sizes[i], layout);
		TEST_ASSERT_EQ(pkts[0]->ol_flags &
						(RTE_MBUF_F_RX_L4_CKSUM_MASK |
								RTE_MBUF_F_TX_OFFLOAD_MASK),
				0, "no offload");
		rte_pktmbuf_free(pkts[0]);
		TEST_ASSERT_EQ(gring_pop(&e->g[1], &id, &len), 1, "used entry back");
		TEST_ASSERT_EQ(gring_pop(&e->g[1], &id, &len), 0, "one used entry");
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_deq_frames, tenv, e)
{
	static const uint64_t feats[] = {
		BASE_FEATURES,
		BASE_FEATURES | F(NET_MRG_RXBUF),
		F(RING_INDIRECT_DESC) /* legacy 10-byte header */,
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
		TEST_ASSERT_EQ(tenv_init(e, feats[f], 0, 256, 2), 0, "env");
		for (l = 0; l < RTE_DIM(layouts); l++)
			for (ind = 0; ind < 2; ind++)
				TEST_RUN(tx_round(e, layouts[l], ind, f * 100 + l * 10 + ind));
		TEST_ASSERT_EQ(e->vq[1]->stats.packets, RTE_DIM(layouts) * 2 * RTE_DIM(sizes), "");
		TEST_ASSERT_EQ(e->vq[1]->stats.errors, 0, "no errors");
		TEST_ASSERT(POOL_FULL(e), "mbuf leak");
		tenv_fini(e);
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_deq_linear_and_extbuf, tenv, e)
{
	struct rte_mbuf *pkts[4];
	uint16_t n;
	uint32_t id, len;

	/* linear only: a 9000-byte frame does not fit one mbuf and is dropped */
	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, VHU_SOCK_LINEAR_BUF, 256, 1), 0, "env");
	make_frame(frame, 9000, 1);
	TEST_ASSERT(tx_send(e, frame, 9000, NULL, TXL_ONE, false) >= 0, "");
	make_frame(frame, 1518, 2);
	TEST_ASSERT(tx_send(e, frame, 1518, NULL, TXL_ONE, false) >= 0, "");
	n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4);
	TEST_ASSERT_EQ(n, 1, "the 1518-byte frame only");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, 1518) == 0, "");
	TEST_ASSERT_EQ(pkts[0]->nb_segs, 1, "");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT_EQ(e->vq[1]->stats.dropped, 1, "drop counted");
	TEST_ASSERT_EQ(gring_pop(&e->g[1], &id, &len), 1, "dropped chain still returned");
	TEST_ASSERT_EQ(gring_pop(&e->g[1], &id, &len), 1, "");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	tenv_fini(e);

	/* external buffers: one linear mbuf */
	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, VHU_SOCK_EXT_BUF | VHU_SOCK_LINEAR_BUF, 256, 1),
			0, "env");
	make_frame(frame, 9000, 3);
	TEST_ASSERT(tx_send(e, frame, 9000, NULL, TXL_CHUNKS, true) >= 0, "");
	n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4);
	TEST_ASSERT_EQ(n, 1, "");
	TEST_ASSERT_EQ(pkts[0]->nb_segs, 1, "linear");
	TEST_ASSERT(RTE_MBUF_HAS_EXTBUF(pkts[0]), "external buffer");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, 9000) == 0, "");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* Enqueue one frame per size into buffers posted by post(); receive and compare. */
static int
rx_round(struct tenv *e, uint32_t buf_len, uint32_t nseg, bool indirect, uint32_t mseg,
		uint32_t seed)
{
	bool mrg = (e->dev->features & F(NET_MRG_RXBUF)) != 0;
	struct vhu_net_hdr hdr;
	uint32_t i, k;

	for (i = 0; i < RTE_DIM(sizes); i++) {
		struct rte_mbuf *m;
		uint32_t nbufs = mrg ? (sizes[i] + e->dev->hdr_len + buf_len - 1) / buf_len : 1;
		int r;

		for (k = 0; k < nbufs; k++)
			TEST_ASSERT(rx_post(e, buf_len, nseg, indirect) >= 0, "post");
		make_frame(frame, sizes[i], seed + i);
		/* mseg 0: one segment, from the jumbo pool */
		m = mbuf_make(mseg ? e->mp : e->mp_big, frame, sizes[i], mseg);
		TEST_ASSERT(m != NULL, "mbuf");
		TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "enqueue %u", sizes[i]);
		rte_pktmbuf_free(m);
		memset(got, 0, sizeof(got));
		r = rx_recv(e, got, sizeof(got), &hdr);
		TEST_ASSERT_EQ(r, sizes[i], "received length (buf %u x %u)", buf_len, nseg);
		TEST_ASSERT(memcmp(got, frame, sizes[i]) == 0, "frame of %u differs", sizes[i]);
		TEST_ASSERT_EQ(hdr.flags, 0, "");
		TEST_ASSERT_EQ(hdr.gso_type, 0, "");
		if (e->dev->hdr_len == 12)
			TEST_ASSERT_EQ(hdr.num_buffers, nbufs, "num_buffers");
		TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 0, "nothing more");
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_enq_frames, tenv, e)
{
	uint32_t ind, mseg;

	/* non-mergeable: one large buffer per packet, chained or indirect */
	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, 0, 256, 2), 0, "env");
	for (ind = 0; ind < 2; ind++)
		for (mseg = 0; mseg < 2; mseg++) {
			TEST_RUN(rx_round(e, 9100, 1, ind, mseg ? 1000 : 0, 10 + ind));
			TEST_RUN(rx_round(e, 9100, 3, ind, mseg ? 700 : 0, 20 + ind));
			TEST_RUN(rx_round(e, 9100, 16, ind, mseg ? 333 : 0, 30 + ind));
		}
	TEST_ASSERT_EQ(e->vq[0]->stats.errors, 0, "");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 0, "");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	tenv_fini(e);

	/* legacy 10-byte header */
	TEST_ASSERT_EQ(tenv_init(e, F(RING_INDIRECT_DESC), 0, 256, 2), 0, "env");
	TEST_RUN(rx_round(e, 9100, 2, false, 0, 40));
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	tenv_fini(e);

	/* mergeable: packets spread over 1536- and 2048-byte buffers */
	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES | F(NET_MRG_RXBUF), 0, 256, 2), 0, "env");
	for (ind = 0; ind < 2; ind++)
		for (mseg = 0; mseg < 2; mseg++) {
			TEST_RUN(rx_round(e, 2048, 1, ind, mseg ? 512 : 0, 50 + ind));
			TEST_RUN(rx_round(e, 1536, 2, ind, mseg ? 1000 : 0, 60 + ind));
		}
	TEST_ASSERT_EQ(e->vq[0]->stats.errors, 0, "");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* Both ways in bursts larger than 32, batches and singles mixed. */
static int
bulk_both_ways(struct tenv *e, uint64_t features, uint16_t qsize, uint32_t npkt)
{
	struct rte_mbuf **pkts = calloc(npkt, sizeof(*pkts));
	struct vhu_net_hdr hdr;
	uint32_t i, id, len;
	uint16_t n;

	TEST_ASSERT(pkts != NULL, "");
	TEST_ASSERT_EQ(tenv_init(e, features, 0, qsize, 2), 0, "env");
	for (i = 0; i < npkt; i++) {
		uint32_t sz = 60 + (i * 37) % 1459;

		make_frame(frame, sz, i);
		TEST_ASSERT(tx_send(e, frame, sz, NULL, i % 7 == 3 ? TXL_HDR_SEP : TXL_ONE,
					    i % 7 == 3) >= 0,
				"post %u", i);
	}
	n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, (uint16_t)npkt);
	TEST_ASSERT_EQ(n, npkt, "all %u in one call (no hidden cap)", npkt);
	for (i = 0; i < npkt; i++) {
		uint32_t sz = 60 + (i * 37) % 1459;

		make_frame(frame, sz, i);
		TEST_ASSERT(mbuf_cmp(pkts[i], frame, sz) == 0, "packet %u", i);
	}
	for (i = 0; i < npkt; i++)
		TEST_ASSERT_EQ(gring_pop(&e->g[1], &id, &len), 1, "used %u", i);
	TEST_ASSERT_EQ(tenv_calls(e, 1), 1, "one call per burst");

	/* now send them all back */
	for (i = 0; i < npkt; i++)
		TEST_ASSERT(rx_post(e, 1600, 1, false) >= 0, "rx post");
	n = vhu_enqueue_burst(e->dev->vid, 0, pkts, (uint16_t)npkt);
	TEST_ASSERT_EQ(n, npkt, "");
	TEST_ASSERT_EQ(tenv_calls(e, 0), 1, "one call per burst");
	for (i = 0; i < npkt; i++) {
		uint32_t sz = 60 + (i * 37) % 1459;
		int r = rx_recv(e, got, sizeof(got), &hdr);

		make_frame(frame, sz, i);
		TEST_ASSERT_EQ(r, sz, "rx %u", i);
		TEST_ASSERT(memcmp(got, frame, sz) == 0, "rx %u content", i);
	}
	rte_pktmbuf_free_bulk(pkts, npkt);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	TEST_ASSERT_EQ(e->vq[0]->stats.packets, npkt, "");
	TEST_ASSERT_EQ(e->vq[1]->stats.packets, npkt, "");
	tenv_fini(e);
	free(pkts);
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_bulk_no_cap, tenv, e)
{
	TEST_RUN(bulk_both_ways(e, BASE_FEATURES, 1024, 1000));
	TEST_RUN(bulk_both_ways(e, BASE_FEATURES | F(NET_MRG_RXBUF), 512, 509));
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_inorder, tenv, e)
{
	TEST_RUN(bulk_both_ways(e, BASE_FEATURES | F(IN_ORDER), 256, 256));
	TEST_RUN(bulk_both_ways(e, BASE_FEATURES | F(IN_ORDER) | F(NET_MRG_RXBUF), 256, 200));
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_enq_full_ring_partial, tenv, e)
{
	struct rte_mbuf *pkts[20];
	struct vhu_net_hdr hdr;
	uint32_t i;
	uint16_t n;

	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES | F(NET_MRG_RXBUF), 0, 64, 1), 0, "env");
	for (i = 0; i < 20; i++) {
		make_frame(frame, 1000, i);
		pkts[i] = mbuf_make(e->mp, frame, 1000, 0);
		TEST_ASSERT(pkts[i] != NULL, "");
	}
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 20), 0, "no buffers: nothing");
	for (i = 0; i < 8; i++)
		TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	n = vhu_enqueue_burst(e->dev->vid, 0, pkts, 20);
	TEST_ASSERT_EQ(n, 8, "partial");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 0, "a full ring drops nothing");
	/* the caller still owns 8..19: send them when buffers come */
	for (i = 0; i < 12; i++)
		TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &pkts[8], 12), 12, "rest");
	for (i = 0; i < 20; i++) {
		make_frame(frame, 1000, i);
		TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 1000, "");
		TEST_ASSERT(memcmp(got, frame, 1000) == 0, "order kept, %u", i);
	}
	/* mergeable: a packet half placed when buffers run out is not sent */
	make_frame(frame, 5000, 99);
	rte_pktmbuf_free_bulk(pkts, 20);
	pkts[0] = mbuf_make(e->mp, frame, 5000, 0);
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 0, "needs three buffers");
	TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 0, "nothing used");
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 1, "");
	TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 5000, "");
	TEST_ASSERT_EQ(hdr.num_buffers, 3, "");
	TEST_ASSERT(memcmp(got, frame, 5000) == 0, "");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_enq_too_big_dropped, tenv, e)
{
	struct rte_mbuf *pkts[2];
	struct vhu_net_hdr hdr;

	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	TEST_ASSERT(rx_post(e, 1600, 2, false) >= 0, "");
	make_frame(frame, 4096, 1);
	pkts[0] = mbuf_make(e->mp, frame, 4096, 0);
	make_frame(frame, 1518, 2);
	pkts[1] = mbuf_make(e->mp, frame, 1518, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 2), 2, "both consumed");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 1, "the big one dropped, not truncated");
	TEST_ASSERT_EQ(e->vq[0]->stats.packets, 1, "only the one delivered counts as a packet");
	TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 1518, "the buffer went to the next");
	TEST_ASSERT(memcmp(got, frame, 1518) == 0, "");
	TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 0, "");
	rte_pktmbuf_free_bulk(pkts, 2);

	/* mergeable: larger than the whole ring can hold */
	tenv_fini(e);
	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES | F(NET_MRG_RXBUF), 0, 4, 1), 0, "env");
	while (rx_post(e, 1024, 1, false) >= 0)
		;
	make_frame(frame, 9000, 3);
	pkts[0] = mbuf_make(e->mp, frame, 9000, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 1, "consumed");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 1, "dropped");
	TEST_ASSERT_EQ(e->vq[0]->stats.packets, 0, "a dropped frame is no packet");
	TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), 0, "nothing written");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_notify_suppression, tenv, e)
{
	struct rte_mbuf *pkts[4];
	struct vhu_net_hdr hdr;
	uint16_t *used_event;

	/* without EVENT_IDX: NO_INTERRUPT suppresses */
	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	make_frame(frame, 64, 1);
	TEST_ASSERT(tx_send(e, frame, 64, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "");
	TEST_ASSERT_EQ(tenv_calls(e, 1), 1, "called");
	e->g[1].avail->flags = VHU_AVAIL_F_NO_INTERRUPT;
	TEST_ASSERT(tx_send(e, frame, 64, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, &pkts[1], 3), 1, "");
	TEST_ASSERT_EQ(tenv_calls(e, 1), 0, "suppressed");
	TEST_ASSERT_EQ(e->vq[1]->stats.calls, 1, "");
	TEST_ASSERT_EQ(e->vq[1]->stats.calls_suppressed, 1, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, &pkts[2], 2), 0, "empty");
	TEST_ASSERT_EQ(e->vq[1]->stats.calls_suppressed, 1, "no used entries, no decision");
	rte_pktmbuf_free_bulk(pkts, 2);
	tenv_fini(e);

	/* NOTIFY_ON_EMPTY overrides NO_INTERRUPT when the ring runs dry */
	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES | F(NOTIFY_ON_EMPTY), 0, 64, 1), 0, "env");
	e->g[1].avail->flags = VHU_AVAIL_F_NO_INTERRUPT;
	TEST_ASSERT(tx_send(e, frame, 64, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT(tx_send(e, frame, 64, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 1), 1, "");
	TEST_ASSERT_EQ(tenv_calls(e, 1), 0, "not empty yet: suppressed");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, &pkts[1], 1), 1, "");
	TEST_ASSERT_EQ(tenv_calls(e, 1), 1, "empty: notified");
	rte_pktmbuf_free_bulk(pkts, 2);
	tenv_fini(e);

	/* EVENT_IDX: call only when used_event is crossed */
	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES | F(RING_EVENT_IDX), 0, 64, 1), 0, "env");
	used_event = &e->g[0].avail->ring[64];
	*used_event = 5; /* the guest wants a call when entry 5 is used */
	make_frame(frame, 100, 7);
	pkts[0] = mbuf_make(e->mp, frame, 100, 0);
	for (int i = 0; i < 8; i++)
		TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 1, "");
	TEST_ASSERT_EQ(tenv_calls(e, 0), 1, "first call always goes");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 1, "used 1 -> 2");
	TEST_ASSERT_EQ(tenv_calls(e, 0), 0, "used_event 5 not crossed");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 1, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 1, "");
	TEST_ASSERT_EQ(tenv_calls(e, 0), 0, "used idx 4: not yet");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 1, "");
	TEST_ASSERT_EQ(tenv_calls(e, 0), 0, "used idx 5: entry 5 not used yet");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 1, "");
	TEST_ASSERT_EQ(tenv_calls(e, 0), 1, "entry 5 used: call");
	TEST_ASSERT_EQ(e->vq[0]->stats.calls_suppressed, 4, "");
	while (rx_recv(e, got, sizeof(got), &hdr) > 0)
		;
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_guest_notification_control, tenv, e)
{
	uint16_t *avail_event;

	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	TEST_ASSERT_EQ(e->g[0].used->flags, VHU_USED_F_NO_NOTIFY, "RX ring: no kicks by default");
	TEST_ASSERT_EQ(e->g[1].used->flags, 0, "TX ring: as the guest set it");
	TEST_ASSERT_EQ(vhu_enable_guest_notification(e->dev->vid, 1, 0), 0, "");
	TEST_ASSERT_EQ(e->g[1].used->flags, VHU_USED_F_NO_NOTIFY, "guest told not to kick");
	TEST_ASSERT_EQ(vhu_enable_guest_notification(e->dev->vid, 1, 1), 0, "");
	TEST_ASSERT_EQ(e->g[1].used->flags, 0, "kicks wanted");
	TEST_ASSERT_EQ(vhu_enable_guest_notification(e->dev->vid, 300, 1), -1, "bad queue");
	/* a ring restarted keeps the setting */
	TEST_ASSERT_EQ(vhu_enable_guest_notification(e->dev->vid, 0, 0), 0, "");
	e->g[0].used->flags = 0;
	TEST_ASSERT_EQ(tvq_restart(e->dev, 0), 0, "restart");
	TEST_ASSERT_EQ(e->g[0].used->flags, VHU_USED_F_NO_NOTIFY, "re-applied at start");
	tenv_fini(e);

	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES | F(RING_EVENT_IDX), 0, 64, 1), 0, "env");
	avail_event = (uint16_t *)(void *)&e->g[1].used->ring[64];
	TEST_ASSERT_EQ(tvq_base(e->dev, 1, 17), 0, "SET_VRING_BASE 17");
	TEST_ASSERT_EQ(vhu_enable_guest_notification(e->dev->vid, 1, 1), 0, "");
	TEST_ASSERT_EQ(*avail_event, 17, "kick at the next entry");
	TEST_ASSERT_EQ(vhu_enable_guest_notification(e->dev->vid, 1, 0), 0, "");
	TEST_ASSERT_EQ(*avail_event, 16, "not before a wrap");
	return TEST_SUCCESS;
}

/* ---- offloads ---- */

/* Eth + IPv4 + TCP (or UDP) with payload; L4 checksum field holds the pseudo-header sum. */
static uint32_t
make_l4(uint8_t *buf, uint32_t payload, bool udp, bool full_csum)
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
		u->dgram_cksum = full_csum ? rte_ipv4_udptcp_cksum(ip, u) :
					     rte_ipv4_phdr_cksum(ip, 0);
	} else {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)(ip + 1);

		t->src_port = rte_cpu_to_be_16(1000);
		t->dst_port = rte_cpu_to_be_16(2000);
		t->data_off = 5 << 4;
		t->tcp_flags = RTE_TCP_ACK_FLAG;
		t->rx_win = rte_cpu_to_be_16(1000);
		t->cksum = full_csum ? rte_ipv4_udptcp_cksum(ip, t) : rte_ipv4_phdr_cksum(ip, 0);
	}
	return len;
}

static int
l4_csum_ok(const uint8_t *buf)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(buf + 14);

	return rte_ipv4_udptcp_cksum_verify(ip, ip + 1) == 0 && rte_ipv4_cksum(ip) == 0;
}

static int
tx_offload_case(struct tenv *e, uint64_t sock_flags)
{
	bool legacy = sock_flags & VHU_SOCK_LEGACY_OL_FLAGS;
	struct rte_mbuf *pkts[4];
	struct vhu_net_hdr hdr;
	uint32_t len, id, ulen;
	uint8_t *p;

	TEST_ASSERT_EQ(tenv_init(e,
				       BASE_FEATURES | F(NET_CSUM) | F(NET_HOST_TSO4) |
						       F(NET_HOST_UFO),
				       sock_flags, 64, 2),
			0, "env");
	/* partial TCP checksum */
	len = make_l4(frame, 1000, false, false);
	memset(&hdr, 0, sizeof(hdr));
	hdr.flags = VHU_NET_HDR_F_NEEDS_CSUM;
	hdr.csum_start = 34;
	hdr.csum_offset = 16;
	TEST_ASSERT(tx_send(e, frame, len, &hdr, TXL_HDR_SPLIT, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, len) == 0, "data untouched");
	if (legacy) {
		TEST_ASSERT_EQ(pkts[0]->ol_flags & RTE_MBUF_F_TX_L4_MASK, RTE_MBUF_F_TX_TCP_CKSUM,
				"");
		TEST_ASSERT(pkts[0]->ol_flags & RTE_MBUF_F_TX_IPV4, "");
		TEST_ASSERT_EQ(pkts[0]->l2_len, 14, "");
		TEST_ASSERT_EQ(pkts[0]->l3_len, 20, "");
	} else {
		TEST_ASSERT_EQ(pkts[0]->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK,
				RTE_MBUF_F_RX_L4_CKSUM_NONE, "");
		TEST_ASSERT_EQ(pkts[0]->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK, 0, "");
	}
	TEST_ASSERT((pkts[0]->packet_type & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_TCP, "ptype");
	rte_pktmbuf_free(pkts[0]);

	/* partial checksum at an offset we cannot describe: done in software */
	len = make_l4(frame, 300, true, false);
	frame[40] = frame[41] = 0;
	hdr.csum_start = 34 + 4; /* unusual start: covers from dgram_len */
	hdr.csum_offset = 2;     /* the checksum lands on dgram_cksum */
	TEST_ASSERT(tx_send(e, frame, len, &hdr, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "");
	p = rte_pktmbuf_mtod(pkts[0], uint8_t *);
	TEST_ASSERT_EQ(rte_raw_cksum(p + 38, len - 38), 0xffff, "software checksum valid");
	rte_pktmbuf_free(pkts[0]);

	/* TSO */
	len = make_l4(frame, 8000, false, false);
	memset(&hdr, 0, sizeof(hdr));
	hdr.flags = VHU_NET_HDR_F_NEEDS_CSUM;
	hdr.csum_start = 34;
	hdr.csum_offset = 16;
	hdr.gso_type = VHU_NET_HDR_GSO_TCPV4;
	hdr.gso_size = 1448;
	hdr.hdr_len = 54;
	TEST_ASSERT(tx_send(e, frame, len, &hdr, TXL_CHUNKS, true) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, len) == 0, "");
	TEST_ASSERT_EQ(pkts[0]->tso_segsz, 1448, "");
	if (legacy) {
		TEST_ASSERT(pkts[0]->ol_flags & RTE_MBUF_F_TX_TCP_SEG, "");
		TEST_ASSERT_EQ(pkts[0]->l4_len, 20, "");
	} else {
		TEST_ASSERT(pkts[0]->ol_flags & RTE_MBUF_F_RX_LRO, "");
	}
	rte_pktmbuf_free(pkts[0]);

	/* DATA_VALID */
	len = make_l4(frame, 100, true, true);
	memset(&hdr, 0, sizeof(hdr));
	hdr.flags = VHU_NET_HDR_F_DATA_VALID;
	TEST_ASSERT(tx_send(e, frame, len, &hdr, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 1, "");
	TEST_ASSERT_EQ(pkts[0]->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD,
			"");
	rte_pktmbuf_free(pkts[0]);

	/* invalid headers: dropped, counted, chain returned */
	memset(&hdr, 0, sizeof(hdr));
	hdr.flags = VHU_NET_HDR_F_NEEDS_CSUM;
	hdr.csum_start = (uint16_t)(len - 1); /* beyond the packet */
	hdr.csum_offset = 6;
	TEST_ASSERT(tx_send(e, frame, len, &hdr, TXL_ONE, false) >= 0, "");
	memset(&hdr, 0, sizeof(hdr));
	hdr.gso_type = VHU_NET_HDR_GSO_TCPV6; /* not negotiated, and not IPv6 */
	hdr.gso_size = 1000;
	TEST_ASSERT(tx_send(e, frame, len, &hdr, TXL_ONE, false) >= 0, "");
	memset(&hdr, 0, sizeof(hdr));
	hdr.gso_type = VHU_NET_HDR_GSO_TCPV4; /* gso_size 0 */
	TEST_ASSERT(tx_send(e, frame, len, &hdr, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "all dropped");
	TEST_ASSERT_EQ(e->vq[1]->stats.errors, 3, "");
	TEST_ASSERT_EQ(tenv_errs(e, 1) > 0, 1, "error fd signalled");
	while (gring_pop(&e->g[1], &id, &ulen))
		;
	TEST_ASSERT_EQ(e->g[1].nfree, 64, "every descriptor back with the guest");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	tenv_fini(e);
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_offload_deq_compliant, tenv, e)
{
	return tx_offload_case(e, 0);
}

VHU_TEST_F(fast, split_offload_deq_legacy, tenv, e)
{
	return tx_offload_case(e, VHU_SOCK_LEGACY_OL_FLAGS);
}

VHU_TEST_F(fast, split_offload_enq, tenv, e)
{
	struct rte_mbuf *m;
	struct vhu_net_hdr hdr;
	uint32_t len;
	int r;

	/* guest takes partial checksums and TSO */
	TEST_ASSERT_EQ(tenv_init(e,
				       BASE_FEATURES | F(NET_MRG_RXBUF) | F(NET_GUEST_CSUM) |
						       F(NET_GUEST_TSO4),
				       0, 64, 1),
			0, "env");
	len = make_l4(frame, 500, false, false);
	m = mbuf_make(e->mp, frame, len, 0);
	m->ol_flags = RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4;
	m->l2_len = 14;
	m->l3_len = 20;
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "");
	r = rx_recv(e, got, sizeof(got), &hdr);
	TEST_ASSERT_EQ(r, len, "");
	TEST_ASSERT(memcmp(got, frame, len) == 0, "data as given");
	TEST_ASSERT_EQ(hdr.flags, VHU_NET_HDR_F_NEEDS_CSUM, "");
	TEST_ASSERT_EQ(hdr.csum_start, 34, "");
	TEST_ASSERT_EQ(hdr.csum_offset, 16, "");
	TEST_ASSERT_EQ(hdr.gso_type, 0, "");
	rte_pktmbuf_free(m);

	/* TSO (DPDK pseudo-header without length) */
	len = make_l4(frame, 6000, false, false);
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
	for (int i = 0; i < 4; i++)
		TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "");
	r = rx_recv(e, got, sizeof(got), &hdr);
	TEST_ASSERT_EQ(r, len, "");
	TEST_ASSERT_EQ(hdr.gso_type, VHU_NET_HDR_GSO_TCPV4, "");
	TEST_ASSERT_EQ(hdr.gso_size, 1400, "");
	TEST_ASSERT_EQ(hdr.hdr_len, 54, "");
	TEST_ASSERT_EQ(hdr.flags, VHU_NET_HDR_F_NEEDS_CSUM, "");
	{
		/* the guest sees the full pseudo-header (with the length) */
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(got + 14);
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)(ip + 1);

		TEST_ASSERT_EQ(t->cksum, rte_ipv4_phdr_cksum(ip, 0), "pseudo-header with length");
		TEST_ASSERT_EQ(rte_ipv4_cksum(ip), 0, "IP checksum completed");
	}
	rte_pktmbuf_free(m);
	/* CWR set: a guest without GUEST_ECN must not get it as one GSO frame */
	((struct rte_tcp_hdr *)(frame + 34))->tcp_flags |= RTE_TCP_CWR_FLAG;
	m = mbuf_make(e->mp, frame, len, 0);
	m->ol_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4;
	m->l2_len = 14;
	m->l3_len = 20;
	m->l4_len = 20;
	m->tso_segsz = 1400;
	for (int i = 0; i < 4; i++)
		TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 1, "ECN frame dropped");
	e->dev->features |= F(NET_GUEST_ECN);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "");
	r = rx_recv(e, got, sizeof(got), &hdr);
	TEST_ASSERT_EQ(r, len, "");
	TEST_ASSERT_EQ(hdr.gso_type, VHU_NET_HDR_GSO_TCPV4 | VHU_NET_HDR_GSO_ECN, "");
	rte_pktmbuf_free(m);
	tenv_fini(e);

	/* guest without offloads: checksums completed here, TSO refused */
	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES | F(NET_MRG_RXBUF), 0, 64, 1), 0, "env");
	len = make_l4(frame, 700, true, false);
	m = mbuf_make(e->mp, frame, len, 100);
	m->ol_flags = RTE_MBUF_F_TX_UDP_CKSUM | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	m->l2_len = 14;
	m->l3_len = 20;
	((struct rte_ipv4_hdr *)(frame + 14))->hdr_checksum = 0;
	rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14)->hdr_checksum = 0;
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "");
	r = rx_recv(e, got, sizeof(got), &hdr);
	TEST_ASSERT_EQ(r, len, "");
	TEST_ASSERT_EQ(hdr.flags, 0, "no partial checksum for this guest");
	TEST_ASSERT(l4_csum_ok(got), "UDP and IP checksums valid");
	TEST_ASSERT_EQ(rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14)->hdr_checksum, 0,
			"the mbuf is never modified");
	rte_pktmbuf_free(m);

	len = make_l4(frame, 6000, false, false);
	m = mbuf_make(e->mp, frame, len, 0 + 1500);
	m->ol_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4;
	m->l2_len = 14;
	m->l3_len = 20;
	m->l4_len = 20;
	m->tso_segsz = 1400;
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "consumed");
	TEST_ASSERT_EQ(e->vq[0]->stats.dropped, 1, "a TSO frame this guest cannot take");
	rte_pktmbuf_free(m);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* ---- dirty log ---- */
VHU_TEST_F(fast, split_dirty_log, tenv, e)
{
	struct rte_mbuf *pkts[8];
	struct vhu_net_hdr hdr;
	uint32_t i, k, n = 0;
	int heads[8];

	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES | F(NET_MRG_RXBUF), 0, 64, 2), 0, "env");
	TEST_ASSERT_EQ(tenv_log_start(e), 0, "");
	for (i = 0; i < 8; i++) {
		heads[i] = rx_post(e, 2048 + (i & 1) * 6000, (i % 3) + 1, i & 2);
		TEST_ASSERT(heads[i] >= 0, "");
	}
	for (i = 0; i < 4; i++) {
		make_frame(frame, sizes[i + 1], i);
		pkts[n++] = mbuf_make(e->mp, frame, sizes[i + 1], 0);
	}
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, (uint16_t)n), n, "");
	/* every page the device wrote: each used buffer's bytes, used ring, used idx */
	for (i = 0; i < e->g[0].size && i < 8; i++) {
		struct vhu_vring_used_elem *ue = &e->g[0].used->ring[i];
		struct gbuf *b;
		uint32_t left;

		if ((uint16_t)i >= e->g[0].used->idx)
			break;
		b = &e->g[0].bufs[ue->id];
		left = ue->len;
		for (k = 0; k < b->nseg && left; k++) {
			uint32_t l = RTE_MIN(left, b->seg[k].len);
			uint64_t g;

			for (g = b->seg[k].gpa; g < b->seg[k].gpa + l; g += 64)
				TEST_ASSERT(tenv_log_test(e, g), "data page of gpa %#lx",
						(unsigned long)g);
			TEST_ASSERT(tenv_log_test(e, b->seg[k].gpa + l - 1), "");
			left -= l;
		}
		TEST_ASSERT(tenv_log_test(e, e->g[0].used_gpa + 4 + 8 * i), "used entry %u", i);
	}
	TEST_ASSERT(tenv_log_test(e, e->g[0].used_gpa + 2), "used idx");
	while (rx_recv(e, got, sizeof(got), &hdr) > 0)
		;
	rte_pktmbuf_free_bulk(pkts, n);

	/* dequeue writes only the used ring */
	tenv_log_clear(e);
	make_frame(frame, 1518, 5);
	TEST_ASSERT(tx_send(e, frame, 1518, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 8), 1, "");
	TEST_ASSERT(tenv_log_test(e, e->g[1].used_gpa + 4), "used entry");
	TEST_ASSERT(tenv_log_test(e, e->g[1].used_gpa + 2), "used idx");
	for (k = 0; k < e->log_size; k++)
		if (k != (e->g[1].used_gpa / VHU_LOG_PAGE) / 8)
			TEST_ASSERT_EQ(e->log[k], 0, "nothing else written (byte %u)", k);
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* ---- ring states, RARP, stats ---- */
VHU_TEST_F(fast, split_disabled_ring, tenv, e)
{
	uint32_t marks[VHU_MAX_VRINGS];
	struct rte_mbuf *pkts[4];
	uint32_t id, len;

	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	/* started but disabled */
	TEST_ASSERT_EQ(tvq_state(e->dev, 0, true, false), 0, "disable ring 0");
	TEST_ASSERT_EQ(tvq_state(e->dev, 1, true, false), 0, "disable ring 1");
	TEST_ASSERT(!e->vq[1]->active && e->vq[1]->discard, "started and disabled");
	make_frame(frame, 100, 1);
	TEST_ASSERT(tx_send(e, frame, 100, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT(tx_send(e, frame, 100, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "TX not delivered");
	TEST_ASSERT_EQ(gring_pop(&e->g[1], &id, &len), 0, "the burst leaves a disabled ring alone");
	/* the control thread's sweep drops it: returned to the guest unread */
	e->dev->max_queue_pairs = 1;
	TEST_ASSERT_EQ(vhu_dev_sweep_observe(e->dev, marks), 1, "the sweep sees one ring");
	TEST_ASSERT_EQ(marks[1], 2, "two buffers available");
	vhu_dev_sweep(e->dev, marks);
	TEST_ASSERT_EQ(gring_pop(&e->g[1], &id, &len), 1, "returned to the guest");
	TEST_ASSERT_EQ(len, 0, "unread");
	TEST_ASSERT_EQ(gring_pop(&e->g[1], &id, &len), 1, "");
	TEST_ASSERT_EQ(e->vq[1]->stats.dropped, 2, "counted");
	TEST_ASSERT(rx_post(e, 2048, 1, false) >= 0, "");
	pkts[0] = mbuf_make(e->mp, frame, 100, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, pkts, 1), 0, "no RX supplied");
	TEST_ASSERT_EQ(e->g[0].used->idx, 0, "");
	/* stopped: untouched */
	TEST_ASSERT_EQ(tvq_state(e->dev, 1, false, false), 0, "stop ring 1");
	TEST_ASSERT(!e->vq[1]->active && !e->vq[1]->discard, "stopped");
	TEST_ASSERT(tx_send(e, frame, 100, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts + 1, 3), 0, "");
	TEST_ASSERT_EQ(e->g[1].used->idx, 2, "stopped ring untouched");
	/* closed guard: the burst backs off */
	TEST_ASSERT_EQ(tvq_state(e->dev, 1, true, true), 0, "start ring 1");
	vhu_guard_close(&e->vq[1]->guard);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts + 1, 3), 0, "");
	vhu_guard_open(&e->vq[1]->guard);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts + 1, 3), 1, "");
	rte_pktmbuf_free(pkts[1]);
	/* wrong direction and bad ids */
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 0, e->mp, pkts + 1, 3), 0, "even = RX");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 1, pkts, 1), 0, "odd = TX");
	TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 2, pkts, 1), 0, "absent ring");
	TEST_ASSERT_EQ(vhu_enqueue_burst(-1, 0, pkts, 1), 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(VHU_MAX_DEVICES, 1, e->mp, pkts, 1), 0, "");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_rarp, tenv, e)
{
	static const struct rte_ether_addr mac = { { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };
	struct rte_mbuf *pkts[4];
	const uint8_t *p;

	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	e->dev->rarp_mac = mac;
	__atomic_store_n(&e->dev->rarp_pending, 1, __ATOMIC_RELEASE);
	make_frame(frame, 200, 1);
	TEST_ASSERT(tx_send(e, frame, 200, NULL, TXL_ONE, false) >= 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 2, "RARP + frame");
	TEST_ASSERT_EQ(e->dev->rarp_pending, 0, "flag cleared");
	p = rte_pktmbuf_mtod(pkts[0], const uint8_t *);
	TEST_ASSERT_EQ(pkts[0]->pkt_len, 60, "");
	TEST_ASSERT(p[0] == 0xff && p[5] == 0xff, "broadcast");
	TEST_ASSERT(memcmp(p + 6, &mac, 6) == 0, "source MAC");
	TEST_ASSERT(p[12] == 0x80 && p[13] == 0x35, "RARP ethertype");
	TEST_ASSERT(p[20] == 0 && p[21] == 3, "reverse request");
	TEST_ASSERT(memcmp(p + 22, &mac, 6) == 0 && memcmp(p + 32, &mac, 6) == 0, "sha/tha");
	TEST_ASSERT(mbuf_cmp(pkts[1], frame, 200) == 0, "");
	rte_pktmbuf_free_bulk(pkts, 2);
	/* with nothing from the guest, the RARP still goes out */
	__atomic_store_n(&e->dev->rarp_pending, 1, __ATOMIC_RELEASE);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 1), 1, "");
	TEST_ASSERT_EQ(rte_pktmbuf_mtod(pkts[0], const uint8_t *)[13], 0x35, "");
	rte_pktmbuf_free(pkts[0]);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 1), 0, "only once");
	TEST_ASSERT_EQ(e->vq[1]->stats.packets, 1, "RARP is not guest traffic");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_stats, tenv, e)
{
	static const uint32_t lens[] = { 60, 64, 100, 200, 300, 600, 1200, 4000 };
	struct rte_mbuf *pkts[16];
	struct vhu_vq_stats st;
	uint32_t i;

	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	for (i = 0; i < RTE_DIM(lens); i++) {
		make_frame(frame, lens[i], i);
		if (i == 2)
			memset(frame, 0xff, 6); /* broadcast */
		if (i == 3)
			frame[0] = 0x01; /* multicast */
		TEST_ASSERT(tx_send(e, frame, lens[i], NULL, TXL_ONE, false) >= 0, "");
	}
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 16), RTE_DIM(lens), "");
	TEST_ASSERT_EQ(vhu_vq_stats_get(e->dev->vid, 1, &st), 0, "");
	TEST_ASSERT_EQ(st.packets, 8, "");
	TEST_ASSERT_EQ(st.bytes, 60 + 64 + 100 + 200 + 300 + 600 + 1200 + 4000, "");
	for (i = 0; i < 8; i++)
		TEST_ASSERT_EQ(st.size_bins[i], 1, "bin %u", i);
	TEST_ASSERT_EQ(st.broadcast, 1, "");
	TEST_ASSERT_EQ(st.multicast, 1, "");
	TEST_ASSERT_EQ(st.unicast, 6, "");
	TEST_ASSERT_EQ(st.calls, 1, "");
	vhu_count_kick(e->dev->vid, 1);
	TEST_ASSERT_EQ(vhu_vq_stats_get(e->dev->vid, 1, &st), 0, "");
	TEST_ASSERT_EQ(st.kicks, 1, "");
	TEST_ASSERT_EQ(vhu_vq_stats_reset(e->dev->vid, 1), 0, "");
	TEST_ASSERT_EQ(vhu_vq_stats_get(e->dev->vid, 1, &st), 0, "");
	TEST_ASSERT_EQ(st.packets + st.bytes + st.kicks, 0, "");
	TEST_ASSERT_EQ(vhu_vq_stats_get(e->dev->vid, 9, &st), -1, "absent ring");
	rte_pktmbuf_free_bulk(pkts, RTE_DIM(lens));
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_deq_pool_low, tenv, e)
{
	struct rte_mbuf *pkts[64], *hold[4095];
	unsigned int held = 0, i, total = 0;
	uint32_t id, len;

	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	while (rte_mempool_avail_count(e->mp) > 10)
		hold[held++] = rte_pktmbuf_alloc(e->mp);
	for (i = 0; i < 64; i++) {
		make_frame(frame, 100, i);
		TEST_ASSERT(tx_send(e, frame, 100, NULL, TXL_ONE, false) >= 0, "");
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
	while (gring_pop(&e->g[1], &id, &len))
		;
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

/* The header split over several receive descriptors, frames over many small pieces. */
VHU_TEST_F(fast, split_enq_header_split, tenv, e)
{
	static const uint32_t pieces[] = { 5, 3, 1, 700, 2000, 7000 };
	struct vhu_net_hdr hdr;
	struct rte_mbuf *m;
	uint32_t f, i, ind;

	for (f = 0; f < 2; f++) {
		TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES | (f ? F(NET_MRG_RXBUF) : 0), 0, 64, 2),
				0, "env");
		for (ind = 0; ind < 2; ind++) {
			for (i = 0; i < RTE_DIM(sizes); i++) {
				TEST_ASSERT(rx_post_pieces(e, pieces, RTE_DIM(pieces), ind) >= 0,
						"");
				make_frame(frame, sizes[i], 300 + i);
				m = mbuf_make(e->mp, frame, sizes[i], 1000);
				m->ol_flags = 0;
				TEST_ASSERT_EQ(vhu_enqueue_burst(e->dev->vid, 0, &m, 1), 1, "");
				rte_pktmbuf_free(m);
				TEST_ASSERT_EQ(rx_recv(e, got, sizeof(got), &hdr), sizes[i],
						"frame %u, mergeable %u", sizes[i], f);
				TEST_ASSERT(memcmp(got, frame, sizes[i]) == 0, "");
				TEST_ASSERT_EQ(hdr.flags + hdr.gso_type, 0, "");
				if (f)
					TEST_ASSERT_EQ(hdr.num_buffers, 1, "");
			}
		}
		TEST_ASSERT_EQ(e->vq[0]->stats.errors, 0, "");
		TEST_ASSERT(POOL_FULL(e), "mbuf leak");
		tenv_fini(e);
	}
	return TEST_SUCCESS;
}
