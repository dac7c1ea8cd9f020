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
			TEST_ASSERT_EQ(p[i], CANARY, "vring %d: byte %u past used entry %u", q, i,
					from);
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

/* ======================================================================== */
/* Packed.                                                                   */

struct pk {
	struct hdev d;     /* socket, mock front-end, data view d.gm */
	struct pring g[2]; /* guest side of vring 0 (RX) and 1 (TX) */
};

static int
pk_start_ring(struct pk *p, uint16_t q, uint16_t num, uint32_t base)
{
	struct mock_vring *vr = &p->d.fe.vr[q];
	uint64_t v = q;

	TEST_RUN(set_state(&p->d.fe, VHU_REQ_SET_VRING_NUM, q, num));
	TEST_RUN(set_state(&p->d.fe, VHU_REQ_SET_VRING_BASE, q, base));
	TEST_RUN(set_addr(&p->d.fe, q, p->g[q].desc, p->g[q].drv, p->g[q].dev));
	vr->callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vr->errfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vr->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	TEST_ASSERT(vr->callfd >= 0 && vr->errfd >= 0 && vr->kickfd >= 0, "eventfds");
	TEST_RUN(ack(&p->d.fe, VHU_REQ_SET_VRING_CALL, &v, sizeof(v), &vr->callfd, 1));
	TEST_RUN(ack(&p->d.fe, VHU_REQ_SET_VRING_ERR, &v, sizeof(v), &vr->errfd, 1));
	TEST_RUN(kick(&p->d.fe, q));
	return set_state(&p->d.fe, VHU_REQ_SET_VRING_ENABLE, q, 1);
}

static int
pk_up(struct pk *p)
{
	uint64_t mask = F(VERSION_1) | F(IN_ORDER) | F(PROTOCOL_FEATURES) | F(RING_PACKED);
	uint16_t q;

	memset(p, 0, sizeof(*p));
	vhu_rec_reset();
	TEST_RUN(hdev_register(&p->d, VHU_SOCK_PACKED, &vhu_rec_ops));
	TEST_RUN(hdev_reconnect(&p->d));
	TEST_ASSERT_EQ(mock_fe_negotiate(&p->d.fe, mask, 0), 0, "negotiate");
	TEST_ASSERT_EQ(p->d.fe.features & mask, mask, "packed and in order");
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&p->d.fe), 0, "memory");
	p->d.gm.n = 1;
	p->d.gm.r[0].host = p->d.fe.mem + HDEV_DATA_OFF;
	p->d.gm.r[0].gpa = MOCK_FE_GPA_BASE + HDEV_DATA_OFF;
	p->d.gm.r[0].size = p->d.fe.mem_size - HDEV_DATA_OFF;
	for (q = 0; q < 2; q++) {
		TEST_ASSERT_EQ(pring_init(&p->g[q], &p->d.gm, 256, true), 0, "ring %u", q);
		/* the rings at the start of the data area, the buffers after them */
		p->d.gm.r[0].data_start = p->d.gm.r[0].brk;
	}
	for (q = 0; q < 2; q++)
		TEST_RUN(pk_start_ring(p, q, 256, 0x8000));
	if (p->d.fe.protocol_features & VHU_BIT(VHU_PF_STATUS))
		TEST_ASSERT_EQ(mock_fe_set_status(&p->d.fe,
					       VHU_STATUS_DRIVER_OK | VHU_STATUS_FEATURES_OK |
							       VHU_STATUS_DRIVER |
							       VHU_STATUS_ACKNOWLEDGE),
				0, "status");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 1, 2000), "device ready");
	p->d.vid = vhu_rec.vid;
	return TEST_SUCCESS;
}

static void
pk_down(struct pk *p)
{
	hdev_down(&p->d);
	pring_fini(&p->g[0]);
	pring_fini(&p->g[1]);
}

/* n frames guest -> back-end -> guest, bytes compared on both sides. */
static int
pk_forward(struct pk *p, unsigned int n)
{
	static uint8_t frames[64][400], got[2048];
	struct rte_mbuf *pkts[64];
	unsigned int i, taken = 0, sent = 0, tries;
	uint32_t id, len;

	TEST_ASSERT(n <= 64, "");
	for (i = 0; i < n; i++) {
		uint32_t fl = 60 + 5 * i;
		struct gseg s;

		make_frame(frames[i], fl, 300 + i);
		s.gpa = gmem_alloc(&p->d.gm, 0, 12 + fl, 64);
		s.len = 12 + fl;
		memset(gmem_host(&p->d.gm, s.gpa), 0, 12);
		gmem_write(&p->d.gm, s.gpa + 12, frames[i], fl);
		TEST_ASSERT(pring_post(&p->g[1], &s, 1, false, false) >= 0, "TX post %u", i);
		s.gpa = gmem_alloc(&p->d.gm, 0, 2048, 64);
		s.len = 2048;
		TEST_ASSERT(pring_post(&p->g[0], &s, 1, true, false) >= 0, "RX post %u", i);
	}
	for (tries = 0; taken < n && tries < 100; tries++)
		taken += vhu_dequeue_burst(
				p->d.vid, 1, hpool(), &pkts[taken], (uint16_t)(n - taken));
	TEST_ASSERT_EQ(taken, n, "dequeued");
	for (i = 0; i < n; i++)
		TEST_ASSERT_EQ(mbuf_cmp(pkts[i], frames[i], 60 + 5 * i), 0, "frame %u whole", i);
	for (tries = 0; sent < n && tries < 100; tries++)
		sent += vhu_enqueue_burst(p->d.vid, 0, &pkts[sent], (uint16_t)(n - sent));
	rte_pktmbuf_free_bulk(pkts, n);
	TEST_ASSERT_EQ(sent, n, "enqueued");
	for (i = 0; i < n; i++) {
		TEST_ASSERT_EQ(pring_pop(&p->g[0], &id, &len), 1, "RX used %u", i);
		TEST_ASSERT_EQ(len, 12 + 60 + 5 * i, "RX length %u", i);
		gmem_read(&p->d.gm, p->g[0].bufs[id].seg[0].gpa + 12, got, 60 + 5 * i);
		TEST_ASSERT(memcmp(got, frames[i], 60 + 5 * i) == 0, "RX frame %u", i);
	}
	for (i = 0; i < n; i++)
		TEST_ASSERT_EQ(pring_pop(&p->g[1], &id, &len), 1, "TX used %u", i);
	return TEST_SUCCESS;
}

/* Stop ring q (GET_VRING_BASE says where it was), start it with num entries (base < 0: none sent). */
static int
pk_restart(struct pk *p, uint16_t q, uint32_t expect, uint16_t num, int64_t base)
{
	uint32_t got;

	TEST_ASSERT_EQ(mock_fe_get_vring_base(&p->d.fe, q, &got), 0, "GET_VRING_BASE %u", q);
	TEST_ASSERT_EQ(got, expect, "vring %u stopped where the guest is", q);
	TEST_RUN(set_state(&p->d.fe, VHU_REQ_SET_VRING_NUM, q, num));
	if (base >= 0)
		TEST_RUN(set_state(&p->d.fe, VHU_REQ_SET_VRING_BASE, q, (uint32_t)base));
	return kick(&p->d.fe, q);
}

static int
body_packed_shrink(void)
{
	static struct vhu_vring_packed_desc snap[2][256];
	const uint32_t at200 = (200u | 0x8000u) | (200u | 0x8000u) << 16;
	struct rte_mbuf *m[1];
	struct hmark mark;
	eventfd_t ev;
	struct pk p;
	uint16_t q;
	int i;

	TEST_ASSERT(hpool() != NULL, "pool");
	hmark_take(&mark);
	TEST_RUN(pk_up(&p));
	for (i = 0; i < 4; i++)
		TEST_RUN(pk_forward(&p, 50));
	/* a frame at slot 200 of the old ring: a device that went on from there takes it */
	{
		struct gseg s = { gmem_alloc(&p.d.gm, 0, 112, 64), 112 };

		memset(gmem_host(&p.d.gm, s.gpa), 0, 112);
		TEST_ASSERT(pring_post(&p.g[1], &s, 1, false, false) == 200, "slot 200");
	}
	for (q = 0; q < 2; q++)
		memcpy(snap[q], p.g[q].desc, sizeof(snap[q]));

	/* 64 entries, no SET_VRING_BASE: slot 200 is not in the ring, which stops */
	for (q = 0; q < 2; q++) {
		TEST_RUN(pk_restart(&p, q, at200, 64, -1));
		eventfd_read(p.d.fe.vr[q].errfd, &ev);
	}
	TEST_ASSERT_EQ(vhu_dequeue_burst(p.d.vid, 1, hpool(), m, 1), 0, "TX stopped");
	TEST_ASSERT(memcmp(snap[1], p.g[1].desc, sizeof(snap[1])) == 0, "nothing written");
	TEST_ASSERT(hlog_has("outside a ring of 64"), "logged");
	/* a stale base, sent: the same */
	for (q = 0; q < 2; q++)
		TEST_RUN(pk_restart(&p, q, at200, 64, at200 & 0xffff));
	TEST_ASSERT_EQ(vhu_dequeue_burst(p.d.vid, 1, hpool(), m, 1), 0, "TX stopped");
	for (q = 0; q < 2; q++) {
		TEST_ASSERT(eventfd_read(p.d.fe.vr[q].errfd, &ev) == 0 && ev > 0,
				"vring %u: the fault signalled", q);
		TEST_ASSERT(memcmp(snap[q], p.g[q].desc, sizeof(snap[q])) == 0,
				"vring %u: nothing written while stopped", q);
	}

	/* a base inside the smaller ring: traffic over three of its laps */
	for (q = 0; q < 2; q++) {
		struct pring ng;

		TEST_RUN(pk_restart(&p, q, at200, 64, 10 | 0x8000));
		TEST_ASSERT_EQ(pring_init(&ng, &p.d.gm, 64, true), 0, "ring view");
		ng.desc = p.g[q].desc;
		ng.desc_gpa = p.g[q].desc_gpa;
		ng.drv = p.g[q].drv;
		ng.dev = p.g[q].dev;
		ng.avail_idx = ng.used_idx = 10;
		pring_fini(&p.g[q]);
		p.g[q] = ng;
		TEST_RUN(wait_active(p.d.vid, q, 1));
	}
	for (i = 0; i < 4; i++)
		TEST_RUN(pk_forward(&p, 50));
	for (q = 0; q < 2; q++)
		TEST_ASSERT(memcmp(&snap[q][64], &p.g[q].desc[64], 192 * sizeof(snap[q][0])) == 0,
				"vring %u: slots 64..255 of the old ring untouched", q);
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 0, "the device lived through it");
	pk_down(&p);
	TEST_ASSERT(hpool_full(), "mbufs lost");
	return hmark_check(&mark);
}

VHU_TEST(fast, packed_inorder_ring_shrink)
{
	return hlog_run(body_packed_shrink);
}
