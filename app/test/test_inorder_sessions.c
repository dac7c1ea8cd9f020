/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * In-order rings made smaller between two sessions (fast suite), through
 * real vhost-user messages from the mock front-end: a ring of 256 entries
 * carries traffic, GET_VRING_BASE stops it, and it starts again with
 * SET_VRING_NUM of 64 (then 32) over the same memory, with its base kept,
 * stale, or left out. The old, larger ring's memory past the new size is
 * a canary the back-end must never write: no used entry (split) or used
 * descriptor (packed) lands outside the ring's current size, a packed
 * base that no longer fits stops the ring untouched, and good traffic
 * passes across several laps of the smaller ring. The class of
 * libvhost-user's 2026 in-order flush overflow, where in-order state of
 * the larger ring outlived its resize.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "guest_packed.h"
#include "hostile.h"
#include "vhu.h"
#include "vhu_dev.h"
#include "vhu_test.h"

#define F(b)   VHU_BIT(VHU_F_##b)
#define CANARY 0x5a

static int
ack(struct mock_fe *fe, uint32_t req, const void *p, uint32_t size, const int *fds,
		unsigned int nfds)
{
	uint64_t a = 1;

	TEST_ASSERT_EQ(mock_fe_ack(fe, req, p, size, fds, nfds, &a), 0, "%s", vhu_req_name(req));
	TEST_ASSERT_EQ(a, 0, "%s refused", vhu_req_name(req));
	return TEST_SUCCESS;
}

static int
set_state(struct mock_fe *fe, uint32_t req, uint16_t idx, uint32_t num)
{
	struct vhu_vring_state st = { .index = idx, .num = num };

	return ack(fe, req, &st, sizeof(st), NULL, 0);
}

static int
kick(struct mock_fe *fe, uint16_t idx)
{
	uint64_t v = idx;

	return ack(fe, VHU_REQ_SET_VRING_KICK, &v, sizeof(v), &fe->vr[idx].kickfd, 1);
}

static int
set_addr(struct mock_fe *fe, uint16_t idx, const void *desc, const void *avail, const void *used)
{
	struct vhu_vring_addr a;

	memset(&a, 0, sizeof(a));
	a.index = idx;
	a.desc_user_addr = (uint64_t)(uintptr_t)desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)avail;
	a.used_user_addr = (uint64_t)(uintptr_t)used;
	return ack(fe, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

static int
wait_active(int vid, uint16_t q, int want)
{
	int waited;

	for (waited = 0; waited < 2000 && vhu_vring_is_active(vid, q) != want; waited++)
		vhu_test_sleep_ms(1);
	TEST_ASSERT_EQ(vhu_vring_is_active(vid, q), want, "vring %u active", q);
	return TEST_SUCCESS;
}

/* ======================================================================== */
/* Split.                                                                    */

/* Bytes of split ring q's used area from entry `from` to the end of a 256-entry ring. */
static uint8_t *
old_used(struct hdev *d, int q, uint16_t from, uint32_t *len)
{
	*len = 8u * (256u - from) + 2u; /* with the old ring's avail_event */
	return (uint8_t *)&d->fe.vr[q].used->ring[from];
}

/* Stop both rings, then start them again with num entries and base (the same memory). */
static int
split_resize(struct hdev *d, uint16_t num, uint32_t base, uint16_t *expect)
{
	uint16_t q;

	for (q = 0; q < 2; q++) {
		uint32_t got;
		struct mock_vring *vr = &d->fe.vr[q];

		TEST_ASSERT_EQ(mock_fe_get_vring_base(&d->fe, q, &got), 0, "GET_VRING_BASE %u", q);
		TEST_ASSERT_EQ(got, expect[q], "vring %u stopped where the guest is", q);
		TEST_RUN(wait_active(d->vid, q, 0));
		TEST_RUN(set_state(&d->fe, VHU_REQ_SET_VRING_NUM, q, num));
		TEST_RUN(set_state(&d->fe, VHU_REQ_SET_VRING_BASE, q, base));
		TEST_RUN(set_addr(&d->fe, q, vr->desc, vr->avail, vr->used));
		vr->num = num;
	}
	/* the old used entries past the new size become the canary */
	for (q = 0; q < 2; q++) {
		uint32_t len;
		uint8_t *p = old_used(d, q, num, &len);

		memset(p, CANARY, len);
	}
	for (q = 0; q < 2; q++) {
		TEST_RUN(kick(&d->fe, q));
		TEST_RUN(wait_active(d->vid, q, 1));
	}
	/* the guest's view of the smaller rings, at the indexes in memory */
	TEST_RUN(hdev_attach_rings(d));
	for (q = 0; q < 2; q++) {
		d->g[q].avail_idx = d->g[q].avail->idx;
		d->g[q].used_idx = d->g[q].used->idx;
	}
	return TEST_SUCCESS;
}

static int
old_used_intact(struct hdev *d, uint16_t from)
{
	int q;

	for (q = 0; q < 2; q++) {
		uint32_t len, i;
		const uint8_t *p = old_used(d, q, from, &len);

		for (i = 0; i < len; i++)
			TEST_ASSERT_EQ(p[i], CANARY, "vring %d: byte %u past used entry %u", q, i, from);
	}
	return TEST_SUCCESS;
}

static int
body_split_shrink(void)
{
	uint64_t mask = F(VERSION_1) | F(IN_ORDER) | F(PROTOCOL_FEATURES) | F(RING_INDIRECT_DESC);
	uint16_t expect[2];
	struct hmark mark;
	struct hdev d;
	int i;

	vhu_rec_reset();
	TEST_ASSERT(hpool() != NULL, "pool");
	hmark_take(&mark);
	TEST_RUN(hdev_up(&d, 0));
	TEST_RUN(hdev_ready(&d, mask, 256));
	TEST_ASSERT(d.fe.features & F(IN_ORDER), "IN_ORDER negotiated");
	for (i = 0; i < 4; i++)
		TEST_RUN(hdev_forwards(&d, 50));

	/* 64 entries, the base where the rings stopped: 200 is a position of any ring */
	expect[0] = expect[1] = 200;
	TEST_RUN(split_resize(&d, 64, 200, expect));
	for (i = 0; i < 3; i++)
		TEST_RUN(hdev_forwards(&d, 50));
	TEST_RUN(old_used_intact(&d, 64));

	/*
	 * 32 entries and a stale base (7) that the used index in memory (350)
	 * contradicts: the ring resumes at the used index, writes stay inside
	 */
	expect[0] = expect[1] = 350;
	TEST_RUN(split_resize(&d, 32, 7, expect));
	TEST_ASSERT(hlog_has("resuming at the used index"), "the stale base logged");
	for (i = 0; i < 3; i++)
		TEST_RUN(hdev_forwards(&d, 30));
	TEST_RUN(old_used_intact(&d, 32));
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 0, "the device lived through both resizes");
	hdev_down(&d);
	TEST_ASSERT(hpool_full(), "mbufs lost");
	return hmark_check(&mark);
}

VHU_TEST(fast, split_inorder_ring_shrink)
{
	return hlog_run(body_split_shrink);
}
