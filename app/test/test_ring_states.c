/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Ring states as the vhost-user specification gives them, through the mock
 * front-end: a ring that is started and disabled has its TX consumed and
 * dropped, with no other effect; a front-end that enables a ring and
 * transmits at once, without waiting for the back-end to read the enable,
 * loses nothing. The back-end reconciles the two by dropping only buffers
 * it saw made available while no message was waiting on the socket
 * (lib/vhu/vhu_dev.h, vhu_dev_sweep()).
 */

#include <pthread.h>
#include <string.h>

#include <rte_mbuf.h>

#include "guest_split.h"
#include "hostile.h"
#include "mock_fe.h"
#include "vhu.h"
#include "vhu_evloop.h"
#include "vhu_test.h"

#define QSIZE 64

static uint8_t frame[256];

/* Negotiated and started, no ring enabled; the guest's view of both rings. */
static int
rings_started_disabled(struct hdev *d)
{
	struct mock_fe_opts o = { .ring_size = QSIZE, .nvrings = 2, .no_enable = true };

	TEST_RUN(hdev_up(d, 0));
	TEST_ASSERT_EQ(mock_fe_setup(&d->fe, &o), 0, "front-end setup");
	TEST_ASSERT(d->fe.features & VHU_BIT(VHU_F_PROTOCOL_FEATURES), "rings start disabled");
	TEST_RUN(hdev_attach_rings(d));
	TEST_ASSERT_EQ(vhu_vring_is_active(d->vid, 1), 0, "ring 1 started, not enabled");
	return TEST_SUCCESS;
}

/* The app's burst on ring 1: frames taken (freed, each checked against frame[0..len)). */
static int
app_take(struct hdev *d, uint32_t len, unsigned int *taken)
{
	struct rte_mbuf *m[8];
	uint16_t i, n;

	n = vhu_dequeue_burst(d->vid, 1, hpool(), m, 8);
	for (i = 0; i < n; i++) {
		int bad = mbuf_cmp(m[i], frame, len);

		rte_pktmbuf_free(m[i]);
		TEST_ASSERT_EQ(bad, 0, "a delivered frame is whole");
	}
	*taken += n;
	return TEST_SUCCESS;
}

static uint64_t
dropped(int vid)
{
	struct vhu_vq_stats st;

	if (vhu_vq_stats_get(vid, 1, &st) != 0)
		return UINT64_MAX;
	return st.dropped;
}

static int
body_never_enabled(void)
{
	struct hdev d;
	unsigned int taken = 0, k;
	uint32_t ids[16], lens[16], got = 0;

	TEST_RUN(rings_started_disabled(&d));
	make_frame(frame, 100, 5);
	for (k = 0; k < 8; k++)
		TEST_ASSERT(hdev_tx(&d, frame, 100, NULL) >= 0, "guest tx %u", k);
	/* consumed without the application polling, and never delivered */
	for (k = 0; k < 200 && got < 8; k++) {
		TEST_RUN(app_take(&d, 100, &taken));
		got += hdev_used(&d, 1, ids + got, lens + got, 16 - got);
		vhu_test_sleep_ms(10);
	}
	TEST_ASSERT_EQ(got, 8, "every TX buffer of the disabled ring came back");
	for (k = 0; k < 8; k++)
		TEST_ASSERT_EQ(lens[k], 0, "returned unread (buffer %u)", k);
	TEST_ASSERT_EQ(taken, 0, "nothing delivered from a disabled ring");
	TEST_ASSERT_EQ(dropped(d.vid), 8, "counted dropped");
	/* enabled afterwards: what was dropped stays dropped, new frames flow */
	TEST_ASSERT_EQ(mock_fe_vring_enable(&d.fe, 0, 1), 0, "enable 0");
	TEST_ASSERT_EQ(mock_fe_vring_enable(&d.fe, 1, 1), 0, "enable 1");
	TEST_ASSERT_EQ(vhu_vring_is_active(d.vid, 1), 1, "ring 1 active");
	TEST_RUN(app_take(&d, 100, &taken));
	TEST_ASSERT_EQ(taken, 0, "the dropped frames are gone");
	for (k = 0; k < 4; k++)
		TEST_ASSERT(hdev_tx(&d, frame, 100, NULL) >= 0, "guest tx");
	TEST_RUN(app_take(&d, 100, &taken));
	TEST_ASSERT_EQ(taken, 4, "an enabled ring delivers");
	TEST_ASSERT(hpool_full(), "no mbuf lost");
	hdev_down(&d);
	return TEST_SUCCESS;
}

VHU_TEST(fast, ring_started_disabled_drops_tx)
{
	return hlog_run(body_never_enabled);
}

/* ---- enable and transmit at once ---- */

struct stall {
	int ms;
	volatile int inside;
	int rc;
};

static int
stall_fn(void *arg)
{
	struct stall *s = arg;

	__atomic_store_n(&s->inside, 1, __ATOMIC_RELEASE);
	vhu_test_sleep_ms(s->ms);
	return 0;
}

static void *
stall_main(void *arg)
{
	struct stall *s = arg;

	s->rc = vhu_evloop_call(stall_fn, s);
	return NULL;
}

#define ROUNDS 20
#define PER_ROUND 4

static int
body_enable_at_once(void)
{
	struct hdev d;
	struct stall st;
	struct vhu_vring_state on = { .index = 1, .num = 1 };
	unsigned int taken = 0, want = 0, r, k;
	pthread_t t;

	TEST_RUN(rings_started_disabled(&d));
	TEST_ASSERT_EQ(mock_fe_vring_enable(&d.fe, 0, 1), 0, "enable 0");
	make_frame(frame, 200, 9);
	for (r = 0; r < ROUNDS; r++) {
		/*
		 * The control thread is held busy past a sweep tick, and the
		 * front-end enables ring 1 and transmits meanwhile: when the
		 * thread is back, the tick and the unread enable are both
		 * waiting, the tick first.
		 */
		memset(&st, 0, sizeof(st));
		st.ms = 60;
		TEST_ASSERT_EQ(pthread_create(&t, NULL, stall_main, &st), 0, "thread");
		for (k = 0; k < 200 && !__atomic_load_n(&st.inside, __ATOMIC_ACQUIRE); k++)
			vhu_test_sleep_ms(1);
		vhu_test_sleep_ms(25);
		TEST_ASSERT_EQ(mock_fe_send(&d.fe, VHU_REQ_SET_VRING_ENABLE, 0, &on, sizeof(on),
					    NULL, 0), 0, "SET_VRING_ENABLE without waiting");
		for (k = 0; k < PER_ROUND; k++)
			TEST_ASSERT(hdev_tx(&d, frame, 200, NULL) >= 0, "guest tx");
		want += PER_ROUND;
		pthread_join(t, NULL);
		TEST_ASSERT_EQ(st.rc, 0, "control thread call");
		for (k = 0; k < 200 && taken < want; k++) {
			TEST_RUN(app_take(&d, 200, &taken));
			if (taken < want)
				vhu_test_sleep_ms(5);
		}
		TEST_ASSERT_EQ(taken, want, "round %u: every frame sent after the enable delivered",
			       r);
		hdev_used(&d, 1, NULL, NULL, QSIZE);
		/* disabled again (acked): the next round enables a started, disabled ring */
		TEST_ASSERT_EQ(mock_fe_vring_enable(&d.fe, 1, 0), 0, "disable 1");
	}
	TEST_ASSERT_EQ(dropped(d.vid), 0, "nothing dropped");
	TEST_ASSERT(hpool_full(), "no mbuf lost");
	hdev_down(&d);
	return TEST_SUCCESS;
}

VHU_TEST(fast, ring_enable_then_transmit_at_once)
{
	return hlog_run(body_enable_at_once);
}
