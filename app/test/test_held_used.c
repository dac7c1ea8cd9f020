/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Transmit completions held back under load (vhu_split_may_hold()): a full
 * dequeue burst from a polling guest publishes the used entries of the
 * bursts before it only; this burst's follow with the next burst, after
 * VHU_HOLD_MAX_US of empty polls, or when the ring stops. A guest that
 * wants interrupts, or NOTIFY_ON_EMPTY on a drained ring, gets them at once.
 */

#include <stdlib.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "guest_split.h"
#include "vhu_test.h"

#include "vhu_split_pvt.h"

#define F(b)          VHU_BIT(VHU_F_##b)
#define BASE_FEATURES (F(VERSION_1) | F(RING_INDIRECT_DESC))
#define POOL_FULL(e)  (rte_mempool_avail_count((e)->mp) == (e)->mp->size)

static uint8_t frame[128];

/* The guest sends n frames of 64 bytes. */
static int
send_n(struct tenv *e, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		make_frame(frame, 64, i);
		if (tx_send(e, frame, 64, NULL, TXL_ONE, false) < 0)
			return -1;
	}
	return 0;
}

/* The used index the guest sees on its transmit ring. */
static uint16_t
guest_used(const struct tenv *e)
{
	return __atomic_load_n(&e->g[1].used->idx, __ATOMIC_ACQUIRE);
}

VHU_TEST_F(fast, split_held_used_polling_guest, tenv, e)
{
	struct rte_mbuf *pkts[8];
	uint16_t n;

	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	e->g[1].avail->flags = VHU_AVAIL_F_NO_INTERRUPT;

	/* a full burst: its completions wait */
	TEST_ASSERT_EQ(send_n(e, 8), 0, "send");
	n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4);
	TEST_ASSERT_EQ(n, 4, "first burst");
	rte_pktmbuf_free_bulk(pkts, n);
	TEST_ASSERT_EQ(guest_used(e), 0, "a full burst's completions are held");
	TEST_ASSERT_EQ(e->vq[1]->last_used_idx, 4, "but written");

	/* the next burst publishes the one before it */
	n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4);
	TEST_ASSERT_EQ(n, 4, "second burst");
	rte_pktmbuf_free_bulk(pkts, n);
	TEST_ASSERT_EQ(guest_used(e), 4, "the burst before is published");

	/* an empty poll right away keeps it; one after the hold time does not */
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "empty");
	TEST_ASSERT_EQ(guest_used(e), 4, "an empty poll at once keeps the held burst");
	usleep(VHU_HOLD_MAX_US * 5);
	TEST_ASSERT_EQ(vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4), 0, "empty");
	TEST_ASSERT_EQ(guest_used(e), 8, "an idle ring publishes what it held");

	/* a burst that is not full publishes everything */
	TEST_ASSERT_EQ(send_n(e, 3), 0, "send");
	n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4);
	TEST_ASSERT_EQ(n, 3, "short burst");
	rte_pktmbuf_free_bulk(pkts, n);
	TEST_ASSERT_EQ(guest_used(e), 11, "a short burst holds nothing");

	/* GET_VRING_BASE: the guest's used index agrees with the base */
	TEST_ASSERT_EQ(send_n(e, 4), 0, "send");
	n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4);
	TEST_ASSERT_EQ(n, 4, "full burst");
	rte_pktmbuf_free_bulk(pkts, n);
	TEST_ASSERT_EQ(guest_used(e), 11, "held");
	TEST_ASSERT_EQ(tvq_state(e->dev, 1, false, true), 0, "stop");
	TEST_ASSERT_EQ(guest_used(e), 15, "a stopped ring publishes what it held");
	TEST_ASSERT_EQ(e->vq[1]->last_avail_idx, 15, "base");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_held_used_not_for_interrupts, tenv, e)
{
	/* guests whose full burst is published at once, and whether they are called */
	static const struct {
		const char *what;
		uint64_t features;
		uint16_t avail_flags;
		uint64_t calls;
	} c[] = {
		{ "interrupts on", 0, 0, 1 },
		{ "EVENT_IDX (used_event decides)", F(RING_EVENT_IDX), VHU_AVAIL_F_NO_INTERRUPT,
				0 },
		{ "NOTIFY_ON_EMPTY, ring drained", F(NOTIFY_ON_EMPTY), VHU_AVAIL_F_NO_INTERRUPT,
				1 },
	};
	struct rte_mbuf *pkts[4];
	unsigned int i;
	uint16_t n;

	for (i = 0; i < RTE_DIM(c); i++) {
		TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES | c[i].features, 0, 64, 1), 0, "env");
		e->g[1].avail->flags = c[i].avail_flags;
		TEST_ASSERT_EQ(send_n(e, 4), 0, "%s: send", c[i].what);
		n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4);
		TEST_ASSERT_EQ(n, 4, "%s: burst", c[i].what);
		rte_pktmbuf_free_bulk(pkts, n);
		TEST_ASSERT_EQ(guest_used(e), 4, "%s: published", c[i].what);
		if (c[i].calls != 0)
			TEST_ASSERT_EQ(tenv_calls(e, 1), c[i].calls, "%s: called", c[i].what);
		TEST_ASSERT(POOL_FULL(e), "%s: mbuf leak", c[i].what);
		tenv_fini(e);
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, split_held_used_logged, tenv, e)
{
	struct rte_mbuf *pkts[4];
	uint64_t used_gpa;
	uint16_t n;

	/* during a migration the held entries are logged when published */
	TEST_ASSERT_EQ(tenv_init(e, BASE_FEATURES, 0, 64, 1), 0, "env");
	used_gpa = e->g[1].used_gpa;
	e->g[1].avail->flags = VHU_AVAIL_F_NO_INTERRUPT;
	TEST_ASSERT_EQ(tenv_log_start(e), 0, "log");
	TEST_ASSERT_EQ(send_n(e, 8), 0, "send");
	n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4);
	TEST_ASSERT_EQ(n, 4, "burst");
	rte_pktmbuf_free_bulk(pkts, n);
	tenv_log_clear(e);
	n = vhu_dequeue_burst(e->dev->vid, 1, e->mp, pkts, 4);
	TEST_ASSERT_EQ(n, 4, "burst");
	rte_pktmbuf_free_bulk(pkts, n);
	TEST_ASSERT_EQ(guest_used(e), 4, "the first burst published");
	TEST_ASSERT(tenv_log_test(e, used_gpa), "used index page logged");
	TEST_ASSERT(tenv_log_test(e, used_gpa + 4 + 3 * 8), "the published entries logged");
	TEST_ASSERT(POOL_FULL(e), "mbuf leak");
	return TEST_SUCCESS;
}
