/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Packed ring with the guest on another thread (stress suite): the guest
 * thread posts numbered frames on its TX ring and receive buffers on its
 * RX ring, reclaims and reads back; this thread dequeues and forwards
 * every frame back with vhu_enqueue_burst. Both sides run at once, so the
 * ring's memory ordering (flags stored last with release, read with
 * acquire) is what keeps every frame whole and in order. Bounded in time:
 * a run fails when no frame comes back for STALL_SECONDS, never for being
 * slow.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "guest_packed.h"
#include "vhu.h"
#include "vhu_test.h"

#define F(b)          VHU_BIT(VHU_F_##b)
#define STRESS_FRAMES 100000u
#define STALL_SECONDS 10  /* no frame back for this long: the rings are stuck */
#define LIMIT_SECONDS 600 /* upper bound for a very slow (sanitized) build */

struct stress {
	struct penv e;
	volatile int stop;
	uint32_t sent, received;
	int bad; /* guest-side failure */
	char why[128];
};

static uint32_t
frame_len(uint32_t seq)
{
	return 60 + (seq * 389) % 1455;
}

/* A frame whose bytes all derive from seq (the first four hold it). */
static void
fill_frame(uint8_t *p, uint32_t seq, uint32_t len)
{
	uint32_t i;

	memcpy(p, &seq, sizeof(seq));
	for (i = sizeof(seq); i < len; i++)
		p[i] = (uint8_t)(seq * 7 + i);
}

static void *
guest_thread(void *arg)
{
	struct stress *s = arg;
	struct penv *e = &s->e;
	static uint8_t buf[16384], rx[16384];
	uint32_t rx_posted = 0;
	struct vhu_net_hdr hdr;

	while (!s->stop && s->received < STRESS_FRAMES) {
		uint32_t k;
		int r;

		/* transmit while the ring has room */
		for (k = 0; k < 16 && s->sent < STRESS_FRAMES; k++) {
			uint32_t len = frame_len(s->sent);

			if (e->g[1].nfree < 2)
				break;
			fill_frame(buf, s->sent, len);
			if (ptx_send(e, buf, len, NULL, s->sent % 5 == 1 ? TXL_HDR_SEP : TXL_ONE,
					    s->sent % 9 == 4) < 0)
				break;
			s->sent++;
		}
		ptx_reclaim(e);
		/* keep receive buffers posted */
		while (e->g[0].nfree > 1 && rx_posted - s->received < e->g[0].size - 1u) {
			if (prx_post(e, 2048, rx_posted % 3 == 2 ? 2 : 1, rx_posted % 7 == 0) < 0)
				break;
			rx_posted++;
		}
		while ((r = prx_recv(e, rx, sizeof(rx), &hdr)) != 0) {
			uint32_t seq, len = frame_len(s->received);

			if (r < 0) {
				snprintf(s->why, sizeof(s->why), "receive error at %u",
						s->received);
				s->bad = 1;
				return NULL;
			}
			memcpy(&seq, rx, sizeof(seq));
			fill_frame(buf, s->received, len);
			if ((uint32_t)r != len || seq != s->received || memcmp(rx, buf, len) != 0) {
				snprintf(s->why, sizeof(s->why),
						"frame %u: %d bytes, seq %u, content differs",
						s->received, r, seq);
				s->bad = 1;
				return NULL;
			}
			__atomic_store_n(&s->received, s->received + 1, __ATOMIC_RELAXED);
			if (s->received > rx_posted)
				rx_posted = s->received; /* mergeable never spans more here */
		}
	}
	return NULL;
}

static int
stress_teardown(void *obj, int status)
{
	struct stress *s = obj;

	RTE_SET_USED(status);
	penv_fini(&s->e);
	return TEST_SUCCESS;
}

VHU_FIXTURE(stress, NULL, stress_teardown);

static int
stress_case(struct stress *s, uint64_t features, uint16_t qsize)
{
	struct rte_mbuf *pkts[64];
	uint64_t hz = rte_get_timer_hz(), now, progress_at, end;
	uint32_t held = 0, forwarded = 0, last = 0, r;
	bool stalled = false;
	pthread_t th;

	memset(s, 0, sizeof(*s));
	TEST_ASSERT_EQ(penv_init(&s->e, features | F(RING_INDIRECT_DESC), 0, qsize, 2), 0, "env");
	TEST_ASSERT_EQ(pthread_create(&th, NULL, guest_thread, s), 0, "guest thread");
	progress_at = rte_get_timer_cycles();
	end = progress_at + LIMIT_SECONDS * hz;
	while (!s->bad && (r = __atomic_load_n(&s->received, __ATOMIC_RELAXED)) < STRESS_FRAMES) {
		uint16_t n;

		now = rte_get_timer_cycles();
		if (r != last) {
			last = r;
			progress_at = now;
		} else if (now - progress_at > STALL_SECONDS * hz || now > end) {
			stalled = true;
			break;
		}

		if (held == 0)
			held = vhu_dequeue_burst(s->e.dev->vid, 1, s->e.mp, pkts, RTE_DIM(pkts));
		if (held == 0)
			continue;
		n = vhu_enqueue_burst(s->e.dev->vid, 0, pkts, (uint16_t)held);
		rte_pktmbuf_free_bulk(pkts, n);
		forwarded += n;
		/* what the guest had no room for yet stays at the front */
		memmove(pkts, pkts + n, (held - n) * sizeof(pkts[0]));
		held -= n;
	}
	s->stop = 1;
	pthread_join(th, NULL);
	rte_pktmbuf_free_bulk(pkts, held);
	TEST_ASSERT(!s->bad, "guest: %s", s->why);
	TEST_ASSERT(!stalled, "stuck at frame %u of %u (ring %u)", s->received, STRESS_FRAMES,
			qsize);
	TEST_ASSERT_EQ(s->received, STRESS_FRAMES, "every frame back (ring %u)", qsize);
	TEST_ASSERT_EQ(forwarded, STRESS_FRAMES, "");
	TEST_ASSERT_EQ(s->e.vq[0]->stats.errors + s->e.vq[1]->stats.errors, 0, "");
	TEST_ASSERT_EQ(s->e.vq[0]->stats.dropped + s->e.vq[1]->stats.dropped, 0, "");
	TEST_ASSERT(rte_mempool_avail_count(s->e.mp) == s->e.mp->size, "mbuf leak");
	penv_fini(&s->e);
	return TEST_SUCCESS;
}

VHU_TEST_F(stress, packed_two_threads, stress, s)
{
	TEST_RUN(stress_case(s, 0, 256));
	TEST_RUN(stress_case(s, F(IN_ORDER), 1000));
	TEST_RUN(stress_case(s, F(NET_MRG_RXBUF) | F(RING_EVENT_IDX), 61));
	return TEST_SUCCESS;
}
