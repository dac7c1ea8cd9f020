/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Attack classes played by the guest on its rings: a header over many
 * descriptors, a checksum start beyond the packet and fetched twice,
 * receive descriptors too small for the header, an indirect table whose
 * length changes between check and use.
 *
 * Each case plays a hostile party through the mock front-end (real
 * messages) or in the mock's guest memory (rings and buffers), next to a
 * well-behaved second device (the pair fixture of hostile.h), and asserts
 * a clean refusal (error reply, closed connection or dropped packet), the
 * log line the design promises, no leak (fds, mappings, rte_malloc blocks,
 * devices, mbufs), and that the bystander kept forwarding. Out-of-bounds
 * accesses are the sanitizer build's job (devtools/tests.d/sanitizers.sh
 * runs the fast suite under ASan and UBSan).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "hostile.h"
#include "vhu.h"
#include "vhu_dev.h"
#include "vhu_test.h"

#define F(b)  VHU_BIT(VHU_F_##b)
#define QSIZE PAIR_QSIZE
/* slots the tests write raw descriptors into (the guest driver uses the low ones) */
#define RAW   128

/* ------------------------------------------------------------------------ */
/* CVE-2022-2132: a virtio-net header spread over more than two descriptors. */

/* A TX chain at raw slots: header in hpieces descriptors, then the frame. */
static int
tx_scattered(struct pair *p, const uint8_t *frame, uint32_t len, const struct vhu_net_hdr *hdr,
		unsigned int hpieces)
{
	uint64_t gpa = gmem_alloc(&p->a.gm, 0, 12 + len, 64);
	uint16_t slot = RAW;
	uint32_t at = 0, l, i;

	TEST_ASSERT(gpa != 0, "guest memory");
	gmem_write(&p->a.gm, gpa, hdr, 12);
	gmem_write(&p->a.gm, gpa + 12, frame, len);
	for (i = 0; i < hpieces; i++) {
		l = i + 1 < hpieces ? 12 / hpieces : 12 - at;
		hdesc(hdev_desc(&p->a, 1, slot), gpa + at, l, VHU_DESC_F_NEXT,
				(uint16_t)(slot + 1));
		at += l;
		slot++;
	}
	hdesc(hdev_desc(&p->a, 1, slot), gpa + 12, len, 0, 0);
	hdev_avail(&p->a, 1, RAW);
	return TEST_SUCCESS;
}

static int
body_2022_2132(struct pair *p)
{
	uint8_t frame[1514], *pkt;
	struct vhu_net_hdr hdr;
	struct rte_mbuf *m[2] = { NULL };
	uint16_t e0, i;
	uint64_t gpa;

	TEST_RUN(pair_up(p,
			F(VERSION_1) | F(NET_CSUM) | F(RING_INDIRECT_DESC) | F(NET_MRG_RXBUF) |
					F(PROTOCOL_FEATURES)));
	make_frame(frame, sizeof(frame), 3);
	/* 12 one-byte pieces of header: legal, taken whole */
	memset(&hdr, 0, sizeof(hdr));
	TEST_RUN(tx_scattered(p, frame, 200, &hdr, 12));
	TEST_ASSERT_EQ(pair_dequeue(p, m, 1), 1, "header in 12 descriptors");
	TEST_ASSERT_EQ(mbuf_cmp(m[0], frame, 200), 0, "frame intact");
	rte_pktmbuf_free(m[0]);
	/* three pieces holding a partial-checksum request for a UDP frame: applied */
	{
		hdr.flags = VHU_NET_HDR_F_NEEDS_CSUM;
		hdr.csum_start = 34;
		hdr.csum_offset = 6;
		TEST_RUN(tx_scattered(p, hostile_udp, sizeof(hostile_udp), &hdr, 3));
		TEST_ASSERT_EQ(pair_dequeue(p, m, 1), 1, "partial checksum over 3 descriptors");
		TEST_ASSERT_EQ(m[0]->pkt_len, sizeof(hostile_udp), "length");
		rte_pktmbuf_free(m[0]);
	}
	/* more pieces than a packet may have: dropped */
	e0 = hring_errors(p->a.vid, 1);
	gpa = gmem_alloc(&p->a.gm, 0, 200, 64);
	gmem_write(&p->a.gm, gpa, frame, 200);
	for (i = 0; i < 130; i++)
		hdesc(hdev_desc(&p->a, 1, (uint16_t)(RAW - 2 + i)), gpa + i, 1,
				i + 1 < 130 ? VHU_DESC_F_NEXT : 0,
				(uint16_t)((RAW - 1 + i) & (QSIZE - 1)));
	hdev_avail(&p->a, 1, RAW - 2);
	TEST_ASSERT_EQ(pair_dequeue(p, m, 0), 0, "130 pieces dropped");
	TEST_ASSERT_EQ(hring_errors(p->a.vid, 1), e0 + 1, "a guest fault");
	TEST_ASSERT(hlog_has("buffer in too many pieces"), "logged");
	/* less than a header and an Ethernet header in all: dropped */
	hdesc(hdev_desc(&p->a, 1, RAW), gpa, 8, VHU_DESC_F_NEXT, RAW + 1);
	hdesc(hdev_desc(&p->a, 1, RAW + 1), gpa + 8, 10, 0, 0);
	hdev_avail(&p->a, 1, RAW);
	TEST_ASSERT_EQ(pair_dequeue(p, m, 0), 0, "runt frame dropped");
	TEST_ASSERT_EQ(hring_errors(p->a.vid, 1), e0 + 2, "a guest fault");

	/* receive side: the guest's buffer is 13 one-byte pieces and a large one */
	gpa = gmem_alloc(&p->a.gm, 0, 4096, 64);
	pkt = gmem_host(&p->a.gm, gpa);
	memset(pkt, 0xa5, 4096);
	for (i = 0; i < 13; i++)
		hdesc(hdev_desc(&p->a, 0, (uint16_t)(RAW + i)), gpa + i, 1,
				VHU_DESC_F_WRITE | VHU_DESC_F_NEXT, (uint16_t)(RAW + i + 1));
	hdesc(hdev_desc(&p->a, 0, RAW + 13), gpa + 13, 2048, VHU_DESC_F_WRITE, 0);
	hdev_avail(&p->a, 0, RAW);
	m[0] = mbuf_make(hpool(), frame, 1000, 0);
	TEST_ASSERT(m[0] != NULL, "mbuf");
	TEST_ASSERT_EQ(vhu_enqueue_burst(p->a.vid, 0, m, 1), 1, "enqueued");
	rte_pktmbuf_free(m[0]);
	{
		uint32_t id, len;

		TEST_ASSERT_EQ(hdev_used(&p->a, 0, &id, &len, 1), 1, "used");
		TEST_ASSERT_EQ(id, RAW, "head");
		TEST_ASSERT_EQ(len, 1012, "header + frame");
		memcpy(&hdr, pkt, 12);
		TEST_ASSERT_EQ(hdr.num_buffers, 1, "num_buffers across pieces");
		TEST_ASSERT(memcmp(pkt + 12, frame, 1000) == 0, "frame after a scattered header");
		TEST_ASSERT_EQ(pkt[1012], 0xa5, "nothing written past the frame");
	}
	TEST_RUN(hdev_forwards(&p->a, 4));
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2022_2132_header_over_many_descriptors, pair, p)
{
	return body_2022_2132(p);
}

/* ------------------------------------------------------------------------ */
/* CVE-2024-11614: csum_start beyond the packet; the header fetched twice.  */

#define RACE_ROUNDS 3000

static int
body_2024_11614(struct pair *p)
{
	static const struct {
		uint16_t start, off;
		uint8_t gso;
		uint16_t gso_size;
	} bad[] = {
		{ 1000, 6, 0, 0 },    /* csum_start beyond the packet */
		{ 44, 6, 0, 0 },      /* start inside, field past the end */
		{ 34, 0xffff, 0, 0 }, /* offset overflowing */
		{ 0xffff, 0xffff, 0, 0 },
		{ 34, 6, VHU_NET_HDR_GSO_UDP_L4, 0 }, /* segmentation of size 0 */
		{ 34, 6, 0x7f, 100 },                 /* unknown GSO type */
	};
	struct vhu_net_hdr hdr, *gh;
	struct rte_mbuf *m[64] = { NULL };
	uint64_t gpa, accepted = 0, dropped = 0;
	unsigned int i, k, n;
	uint16_t e0;

	TEST_RUN(pair_up(p,
			F(VERSION_1) | F(NET_CSUM) | F(NET_HOST_TSO4) | F(NET_HOST_USO) |
					F(PROTOCOL_FEATURES)));
	e0 = hring_errors(p->a.vid, 1);
	for (i = 0; i < RTE_DIM(bad); i++) {
		memset(&hdr, 0, sizeof(hdr));
		hdr.flags = VHU_NET_HDR_F_NEEDS_CSUM;
		hdr.csum_start = bad[i].start;
		hdr.csum_offset = bad[i].off;
		hdr.gso_type = bad[i].gso;
		hdr.gso_size = bad[i].gso_size;
		TEST_ASSERT(hdev_tx(&p->a, hostile_udp, sizeof(hostile_udp), &hdr) >= 0, "post");
		TEST_ASSERT_EQ(pair_dequeue(p, m, 0), 0, "bad header %u dropped", i);
		TEST_ASSERT_EQ(hring_errors(p->a.vid, 1), e0 + i + 1, "bad header %u counted", i);
	}
	TEST_ASSERT(hlog_has("bad virtio-net header"), "logged");
	TEST_ASSERT(hpool_full(), "dropped packets' mbufs returned");

	/*
	 * The double fetch: the guest flips csum_start between a good value
	 * and one far beyond the packet while the back-end reads the header.
	 * Whatever it reads must be read once: every packet is either dropped
	 * or taken with a checksum written where the good header says.
	 */
	memset(&hdr, 0, sizeof(hdr));
	hdr.flags = VHU_NET_HDR_F_NEEDS_CSUM;
	hdr.csum_start = 34;
	hdr.csum_offset = 6;
	gpa = gmem_alloc(&p->a.gm, 0, 12 + sizeof(hostile_udp), 64);
	gmem_write(&p->a.gm, gpa, &hdr, 12);
	gmem_write(&p->a.gm, gpa + 12, hostile_udp, sizeof(hostile_udp));
	gh = gmem_host(&p->a.gm, gpa);
	memset(&p->fl, 0, sizeof(p->fl));
	p->fl.field = (volatile uint16_t *)(void *)((uint8_t *)gh +
			offsetof(struct vhu_net_hdr, csum_start));
	p->fl.a = 34;
	p->fl.b = 60000;
	p->fl.field32 = NULL;
	TEST_RUN(flipper_start(p));
	e0 = hring_errors(p->a.vid, 1);
	for (k = 0; k < RACE_ROUNDS; k++) {
		sched_yield();
		hdesc(hdev_desc(&p->a, 1, RAW), gpa, 12 + sizeof(hostile_udp), 0, 0);
		hdev_avail(&p->a, 1, RAW);
		n = pair_dequeue(p, m, 1);
		if (n == 1) {
			uint16_t sum;

			accepted++;
			/* the checksum field holds a real value, at the good place */
			TEST_ASSERT_EQ(m[0]->pkt_len, sizeof(hostile_udp), "length");
			sum = *rte_pktmbuf_mtod_offset(m[0], uint16_t *, 40);
			TEST_ASSERT(sum == 0 || (m[0]->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != 0,
					"a packet taken with neither a checksum nor its flag");
			rte_pktmbuf_free(m[0]);
		} else {
			dropped++;
		}
		hdev_used(&p->a, 1, NULL, NULL, 4);
	}
	flipper_stop(p);
	TEST_ASSERT_EQ(accepted + dropped, RACE_ROUNDS, "every packet decided");
	TEST_ASSERT_EQ(hring_errors(p->a.vid, 1) - e0, dropped, "every drop a counted fault");
	TEST_LOG("double fetch race: %" PRIu64 " taken, %" PRIu64 " dropped, %" PRIu64 " flips",
			accepted, dropped, p->fl.flips);
	TEST_ASSERT(hpool_full(), "no mbuf lost in the race");
	TEST_RUN(hdev_forwards(&p->a, 4));
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2024_11614_csum_start_and_double_fetch, pair, p)
{
	return body_2024_11614(p);
}

/* ------------------------------------------------------------------------ */
/* 2026: receive descriptors too small for the virtio-net header.           */

static int
runt_rx(struct pair *p, bool mrg)
{
	uint8_t frame[1200], *buf;
	struct rte_mbuf *m;
	uint32_t ids[8], lens[8];
	uint64_t gpa;
	uint16_t e0;
	unsigned int n;

	make_frame(frame, sizeof(frame), 9);
	hdev_err_signals(&p->a, 0);
	/* 4 KiB of guest memory, poisoned: buffers at 0 (4 bytes), 64 (0 bytes),
	 * 128 (2 KiB, good) */
	gpa = gmem_alloc(&p->a.gm, 0, 4096, 64);
	buf = gmem_host(&p->a.gm, gpa);
	memset(buf, 0xa5, 4096);
	e0 = hring_errors(p->a.vid, 0);
	hdesc(hdev_desc(&p->a, 0, RAW), gpa, 4, VHU_DESC_F_WRITE, 0);
	hdesc(hdev_desc(&p->a, 0, RAW + 1), gpa + 64, 0, VHU_DESC_F_WRITE, 0);
	hdesc(hdev_desc(&p->a, 0, RAW + 2), gpa + 128, 2048, VHU_DESC_F_WRITE, 0);
	hdev_avail(&p->a, 0, RAW);
	hdev_avail(&p->a, 0, RAW + 1);
	hdev_avail(&p->a, 0, RAW + 2);
	m = mbuf_make(hpool(), frame, sizeof(frame), 0);
	TEST_ASSERT(m != NULL, "mbuf");
	TEST_ASSERT_EQ(vhu_enqueue_burst(p->a.vid, 0, &m, 1), 1, "taken");
	n = hdev_used(&p->a, 0, ids, lens, 8);
	TEST_ASSERT_EQ(n, 3, "three heads back");
	TEST_ASSERT(ids[0] == RAW && lens[0] == 0, "runt head returned empty");
	TEST_ASSERT(ids[1] == RAW + 1 && lens[1] == 0, "zero-length head returned empty");
	TEST_ASSERT(ids[2] == RAW + 2 && lens[2] == 12 + sizeof(frame), "frame in the good one");
	TEST_ASSERT_EQ(hring_errors(p->a.vid, 0), e0 + 2, "two guest faults");
	TEST_ASSERT(buf[0] == 0xa5 && buf[4] == 0xa5 && buf[63] == 0xa5 && buf[64] == 0xa5,
			"nothing written into or past the runts");
	TEST_ASSERT(memcmp(buf + 128 + 12, frame, sizeof(frame)) == 0, "frame delivered");
	TEST_ASSERT_EQ(buf[128 + 12 + sizeof(frame)], 0xa5, "nothing past the frame");

	/*
	 * A zero-length buffer after a good one. Mergeable: the packet was
	 * half placed in the first buffer: both come back empty, the packet is
	 * dropped. Otherwise the chain is refused and the packet waits.
	 */
	memset(buf, 0xa5, 4096);
	hdesc(hdev_desc(&p->a, 0, RAW), gpa, 600, VHU_DESC_F_WRITE | (mrg ? 0 : VHU_DESC_F_NEXT),
			RAW + 1);
	hdesc(hdev_desc(&p->a, 0, RAW + 1), gpa + 1024, 0, VHU_DESC_F_WRITE, 0);
	hdev_avail(&p->a, 0, RAW);
	if (mrg)
		hdev_avail(&p->a, 0, RAW + 1);
	e0 = hring_errors(p->a.vid, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(p->a.vid, 0, &m, 1), mrg ? 1 : 0,
			"mergeable: dropped half placed; otherwise kept for later");
	rte_pktmbuf_free(m);
	n = hdev_used(&p->a, 0, ids, lens, 8);
	TEST_ASSERT_EQ(n, mrg ? 2 : 1, "heads returned");
	TEST_ASSERT(ids[0] == RAW && lens[0] == 0, "the first returned empty");
	TEST_ASSERT(!mrg || (ids[1] == RAW + 1 && lens[1] == 0), "the second returned empty");
	TEST_ASSERT_EQ(hring_errors(p->a.vid, 0), e0 + 1, "one guest fault");
	/* logged at most once a second per ring; signalled every time */
	TEST_ASSERT_EQ(hdev_err_signals(&p->a, 0), 3, "three faults on the error eventfd");
	TEST_ASSERT(buf[1024] == 0xa5 && buf[600] == 0xa5, "nothing past the 600 bytes");
	for (n = 0; n < 12; n++)
		TEST_ASSERT(!mrg || buf[n] == 0xa5, "no header for a dropped packet");
	/* ring and device fine afterwards */
	TEST_RUN(hdev_forwards(&p->a, 8));
	return TEST_SUCCESS;
}

static int
body_2026_runt_rx(struct pair *p)
{
	TEST_RUN(pair_up(p, F(VERSION_1) | F(PROTOCOL_FEATURES)));
	TEST_RUN(runt_rx(p, false));
	TEST_ASSERT(hlog_has("receive buffer smaller than the virtio-net header"), "logged");
	hdev_down(&p->a);
	TEST_RUN(hdev_up(&p->a, 0));
	TEST_RUN(hdev_ready(&p->a, F(VERSION_1) | F(NET_MRG_RXBUF) | F(PROTOCOL_FEATURES), QSIZE));
	TEST_RUN(runt_rx(p, true));
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2026_runt_enq_descriptors, pair, p)
{
	return body_2026_runt_rx(p);
}

/* ------------------------------------------------------------------------ */
/* 2026: an indirect table whose length changes between check and use.     */

static int
body_2026_indirect_toctou(struct pair *p)
{
	uint8_t frame[300], *rxbuf;
	struct vhu_vring_desc *table, *d;
	struct rte_mbuf *m[2] = { NULL };
	uint64_t tgpa, fgpa, rgpa, taken = 0, dropped = 0;
	unsigned int k, i;
	uint16_t e0;

	TEST_RUN(pair_up(p, F(VERSION_1) | F(RING_INDIRECT_DESC) | F(PROTOCOL_FEATURES)));
	make_frame(frame, sizeof(frame), 11);
	/* TX: an indirect table of two entries (header, frame) */
	tgpa = gmem_alloc(&p->a.gm, 0, 4096, 4096);
	fgpa = gmem_alloc(&p->a.gm, 0, 12 + sizeof(frame), 64);
	table = gmem_host(&p->a.gm, tgpa);
	memset(gmem_host(&p->a.gm, fgpa), 0, 12);
	gmem_write(&p->a.gm, fgpa + 12, frame, sizeof(frame));
	hdesc(&table[0], fgpa, 12, VHU_DESC_F_NEXT, 1);
	hdesc(&table[1], fgpa + 12, sizeof(frame), 0, 0);
	d = hdev_desc(&p->a, 1, RAW);
	hdesc(d, tgpa, 32, VHU_DESC_F_INDIRECT, 0);
	/* the guest flips the table length (32 / larger than guest memory) and
	 * the frame length (good / past the region end) */
	memset(&p->fl, 0, sizeof(p->fl));
	p->fl.field32 = &d->len;
	p->fl.a32 = 32;
	p->fl.b32 = 0x7ffffff0;
	TEST_RUN(flipper_start(p));
	e0 = hring_errors(p->a.vid, 1);
	for (k = 0; k < RACE_ROUNDS; k++) {
		sched_yield();
		if (k == RACE_ROUNDS / 2) {
			/* second half: the table's own entries change length */
			flipper_stop(p);
			d->len = 32;
			p->fl.field32 = &table[1].len;
			p->fl.a32 = sizeof(frame);
			p->fl.b32 = 0xfffffff0;
			TEST_RUN(flipper_start(p));
		}
		hdev_avail(&p->a, 1, RAW);
		if (pair_dequeue(p, m, 1) == 1) {
			taken++;
			TEST_ASSERT_EQ(mbuf_cmp(m[0], frame, sizeof(frame)), 0,
					"a taken frame is whole");
			rte_pktmbuf_free(m[0]);
		} else {
			dropped++;
		}
		hdev_used(&p->a, 1, NULL, NULL, 4);
	}
	flipper_stop(p);
	TEST_ASSERT_EQ(taken + dropped, RACE_ROUNDS, "every chain decided");
	TEST_ASSERT_EQ(hring_errors(p->a.vid, 1) - e0, dropped, "every drop counted");
	TEST_LOG("indirect race (TX): %" PRIu64 " taken, %" PRIu64 " dropped", taken, dropped);

	/* RX: an indirect receive table whose entry length flips; a canary after */
	rgpa = gmem_alloc(&p->a.gm, 0, 8192, 4096);
	rxbuf = gmem_host(&p->a.gm, rgpa);
	hdesc(&table[0], rgpa, 2048, VHU_DESC_F_WRITE, 0);
	d = hdev_desc(&p->a, 0, RAW);
	hdesc(d, tgpa, 16, VHU_DESC_F_INDIRECT, 0);
	memset(&p->fl, 0, sizeof(p->fl));
	p->fl.field32 = &table[0].len;
	p->fl.a32 = 2048;
	p->fl.b32 = 0x7ffffff0;
	memset(rxbuf, 0xa5, 8192);
	TEST_RUN(flipper_start(p));
	m[0] = mbuf_make(hpool(), frame, sizeof(frame), 0);
	TEST_ASSERT(m[0] != NULL, "mbuf");
	taken = dropped = 0;
	for (k = 0; k < RACE_ROUNDS; k++) {
		sched_yield();
		hdev_avail(&p->a, 0, RAW);
		if (vhu_enqueue_burst(p->a.vid, 0, m, 1) == 1)
			taken++;
		else
			dropped++;
		TEST_ASSERT_EQ(hdev_used(&p->a, 0, NULL, NULL, 4), 1, "the buffer came back");
	}
	flipper_stop(p);
	TEST_LOG("indirect race (RX): %" PRIu64 " filled, %" PRIu64 " refused", taken, dropped);
	rte_pktmbuf_free(m[0]);
	for (i = 2048; i < 8192; i++)
		TEST_ASSERT_EQ(rxbuf[i], 0xa5, "byte %u past the receive buffer", i);
	TEST_ASSERT(hpool_full(), "no mbuf lost");
	TEST_RUN(hdev_forwards(&p->a, 4));
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2026_indirect_length_toctou, pair, p)
{
	return body_2026_indirect_toctou(p);
}
