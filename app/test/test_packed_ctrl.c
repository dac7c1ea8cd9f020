/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Packed rings through real vhost-user messages (fast suite): the mock
 * front-end negotiates RING_PACKED on a socket registered with
 * VHU_SOCK_PACKED, lays out rings of 1000 entries (not a power of two) in
 * its memory and drives them with the guest_packed.h driver. The ring base
 * travels as the spec says: SET_VRING_BASE in virtio-user's short form
 * (0x8000: avail half only), GET_VRING_BASE stopping the ring and
 * answering both indexes and wrap counters, SET_VRING_BASE in the full
 * form resuming mid-lap with the wrap counters kept.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "guest_packed.h"
#include "mock_fe.h"
#include "vhu.h"
#include "vhu_test.h"

#define MEM_SIZE (16ull << 20)
#define QN       1000

struct cenv {
	bool live; /* cenv_up started: cenv_down has work */
	char dir[64];
	char path[VHU_PATH_MAX];
	struct mock_fe fe;
	struct gmem gm; /* a view of the mock's memory for the ring driver */
	struct pring g[2];
	struct rte_mempool *mp;
	int vid;
};

static uint8_t frame[16384];
static uint8_t got[16384];

static int
ack(struct cenv *c, uint32_t req, const void *p, uint32_t size, const int *fds, unsigned int n)
{
	uint64_t a = 1;

	TEST_ASSERT_EQ(mock_fe_ack(&c->fe, req, p, size, fds, n, &a), 0, "request %u", req);
	TEST_ASSERT_EQ(a, 0, "request %u refused", req);
	return TEST_SUCCESS;
}

static int
vring_fd(struct cenv *c, uint32_t req, uint16_t idx, int fd)
{
	uint64_t v = idx;

	return ack(c, req, &v, sizeof(v), &fd, 1);
}

static int
set_base(struct cenv *c, uint16_t idx, uint32_t num)
{
	struct vhu_vring_state st = { .index = idx, .num = num };

	return ack(c, VHU_REQ_SET_VRING_BASE, &st, sizeof(st), NULL, 0);
}

/* Start ring idx: NUM, BASE, ADDR, CALL, ERR, KICK, ENABLE. */
static int
ring_start(struct cenv *c, uint16_t idx, uint32_t base)
{
	struct mock_vring *vr = &c->fe.vr[idx];
	struct vhu_vring_state st = { .index = idx, .num = QN };
	struct vhu_vring_addr a;

	TEST_RUN(ack(c, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0));
	TEST_RUN(set_base(c, idx, base));
	memset(&a, 0, sizeof(a));
	a.index = idx;
	a.desc_user_addr = (uint64_t)(uintptr_t)c->g[idx].desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)c->g[idx].drv;
	a.used_user_addr = (uint64_t)(uintptr_t)c->g[idx].dev;
	TEST_RUN(ack(c, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0));
	if (vr->callfd < 0)
		vr->callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vr->errfd < 0)
		vr->errfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vr->kickfd < 0)
		vr->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	TEST_RUN(vring_fd(c, VHU_REQ_SET_VRING_CALL, idx, vr->callfd));
	TEST_RUN(vring_fd(c, VHU_REQ_SET_VRING_ERR, idx, vr->errfd));
	TEST_RUN(vring_fd(c, VHU_REQ_SET_VRING_KICK, idx, vr->kickfd));
	st.num = 1;
	return ack(c, VHU_REQ_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
}

static int
cenv_up(struct cenv *c)
{
	struct vhu_socket_conf conf;
	struct vhu_mem_table t;
	uint64_t start;
	int q;

	memset(c, 0, sizeof(*c));
	c->live = true;
	mock_fe_reset(&c->fe);
	vhu_rec_reset();
	TEST_ASSERT(vhu_test_tmpdir(c->dir, sizeof(c->dir)) == 0, "tmpdir");
	snprintf(c->path, sizeof(c->path), "%s/pk", c->dir);
	memset(&conf, 0, sizeof(conf));
	conf.path = c->path;
	conf.ops = &vhu_rec_ops;
	conf.flags = VHU_SOCK_PACKED;
	TEST_ASSERT_EQ(vhu_socket_register(&conf), 0, "register");
	TEST_ASSERT_EQ(mock_fe_connect(&c->fe, c->path, MEM_SIZE), 0, "connect");
	TEST_ASSERT_EQ(mock_fe_negotiate(&c->fe, ~VHU_BIT(VHU_F_IN_ORDER), 0), 0, "negotiate");
	TEST_ASSERT(c->fe.features & VHU_BIT(VHU_F_RING_PACKED), "packed ring offered and taken");
	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0] = mock_fe_region(&c->fe);
	TEST_RUN(ack(c, VHU_REQ_SET_MEM_TABLE, &t, 8 + sizeof(t.regions[0]), &c->fe.memfd, 1));

	/* the ring driver allocates from the mock's memory, past what the mock took */
	start = RTE_ALIGN_CEIL(c->fe.alloc, 4096);
	c->gm.n = 1;
	c->gm.r[0].host = c->fe.mem;
	c->gm.r[0].gpa = MOCK_FE_GPA_BASE;
	c->gm.r[0].size = c->fe.mem_size;
	c->gm.r[0].data_start = start;
	c->gm.r[0].brk = start;
	for (q = 0; q < 2; q++)
		TEST_ASSERT_EQ(pring_init(&c->g[q], &c->gm, QN, false), 0, "ring");
	c->gm.r[0].data_start = RTE_ALIGN_CEIL(c->gm.r[0].brk, 4096);
	/* virtio-user's form: avail index 0, wrap 1, nothing about used */
	for (q = 0; q < 2; q++)
		TEST_RUN(ring_start(c, (uint16_t)q, 0x8000));
	if (c->fe.protocol_features & VHU_BIT(VHU_PF_STATUS))
		TEST_ASSERT_EQ(mock_fe_set_status(&c->fe,
					       VHU_STATUS_ACKNOWLEDGE | VHU_STATUS_DRIVER |
							       VHU_STATUS_FEATURES_OK |
							       VHU_STATUS_DRIVER_OK),
				0, "status");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 1, 3000), "no new_device");
	c->vid = vhu_rec.vid;
	TEST_ASSERT(vhu_vring_is_active(c->vid, 0) == 1 && vhu_vring_is_active(c->vid, 1) == 1,
			"rings active");
	c->mp = rte_pktmbuf_pool_create(
			"pkctrl", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	TEST_ASSERT(c->mp != NULL, "mempool");
	return TEST_SUCCESS;
}

/* Undo cenv_up, also a partial one; nothing when it did not start. */
static void
cenv_down(struct cenv *c)
{
	int q;

	if (!c->live)
		return;
	c->live = false;
	mock_fe_close(&c->fe);
	if (c->dir[0] != '\0') {
		vhu_socket_unregister(c->path);
		vhu_test_rmdir(c->dir);
	}
	for (q = 0; q < 2; q++)
		pring_fini(&c->g[q]);
	rte_mempool_free(c->mp);
	c->mp = NULL;
}

static int
cenv_teardown(void *obj, int status)
{
	RTE_SET_USED(status);
	cenv_down(obj);
	return TEST_SUCCESS;
}

VHU_FIXTURE(cenv, NULL, cenv_teardown);

/* n frames guest -> host and back, content checked both ways. */
static int
traffic(struct cenv *c, uint32_t n, uint32_t seed)
{
	struct rte_mbuf *pkts[32];
	uint32_t i, id, len;

	TEST_ASSERT(n <= RTE_DIM(pkts), "");
	for (i = 0; i < n; i++) {
		uint32_t sz = 64 + ((seed + i) * 131) % 1400;
		uint64_t gpa = gmem_alloc(&c->gm, 0, sz + 12, 64);
		struct gseg seg = { gpa, sz + 12 };

		make_frame(frame, sz, seed + i);
		memset(gmem_host(&c->gm, gpa), 0, 12);
		gmem_write(&c->gm, gpa + 12, frame, sz);
		TEST_ASSERT(pring_post(&c->g[1], &seg, 1, false, false) >= 0, "tx post");
	}
	TEST_ASSERT_EQ(vhu_dequeue_burst(c->vid, 1, c->mp, pkts, (uint16_t)n), n, "dequeue");
	for (i = 0; i < n; i++) {
		uint32_t sz = 64 + ((seed + i) * 131) % 1400;
		struct gseg seg = { gmem_alloc(&c->gm, 0, 2048, 64), 2048 };

		make_frame(frame, sz, seed + i);
		TEST_ASSERT(mbuf_cmp(pkts[i], frame, sz) == 0, "tx frame %u", seed + i);
		TEST_ASSERT_EQ(pring_pop(&c->g[1], &id, &len), 1, "tx buffer back");
		TEST_ASSERT(pring_post(&c->g[0], &seg, 1, true, false) >= 0, "rx post");
	}
	TEST_ASSERT_EQ(vhu_enqueue_burst(c->vid, 0, pkts, (uint16_t)n), n, "enqueue");
	for (i = 0; i < n; i++) {
		uint32_t sz = 64 + ((seed + i) * 131) % 1400;
		const struct pbuf *b;

		TEST_ASSERT_EQ(pring_pop(&c->g[0], &id, &len), 1, "rx buffer back");
		TEST_ASSERT_EQ(len, sz + 12, "");
		b = &c->g[0].bufs[id];
		gmem_read(&c->gm, b->seg[0].gpa, got, len);
		make_frame(frame, sz, seed + i);
		TEST_ASSERT(memcmp(got + 12, frame, sz) == 0, "rx frame %u", seed + i);
	}
	rte_pktmbuf_free_bulk(pkts, n);
	return TEST_SUCCESS;
}

/* What GET_VRING_BASE must say about ring q: the driver's view. */
static uint32_t
expected_base(const struct pring *g)
{
	uint32_t avail = g->avail_idx | (g->avail_wrap ? 0x8000u : 0);
	uint32_t used = g->used_idx | (g->used_wrap ? 0x8000u : 0);

	return avail | used << 16;
}

static int
ctrl_case(struct cenv *c)
{
	struct rte_mbuf *pkts[4];
	uint32_t base, bases[2], i;
	int q;

	TEST_RUN(cenv_up(c));
	/* one and a half laps of a 1000-entry ring */
	for (i = 0; i < 1500 / 25; i++)
		TEST_RUN(traffic(c, 25, i * 25));
	TEST_ASSERT(!c->g[1].avail_wrap, "the guest is on an odd lap");
	for (q = 0; q < 2; q++) {
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&c->fe, (uint16_t)q, &bases[q]), 0, "");
		TEST_ASSERT_EQ(bases[q], expected_base(&c->g[q]),
				"ring %d stopped at the driver's place", q);
		TEST_ASSERT_EQ(vhu_vring_is_active(c->vid, (uint16_t)q), 0, "stopped");
	}
	/* stopped rings move nothing */
	make_frame(frame, 100, 1);
	{
		struct gseg seg = { gmem_alloc(&c->gm, 0, 112, 64), 112 };

		memset(gmem_host(&c->gm, seg.gpa), 0, 12);
		gmem_write(&c->gm, seg.gpa + 12, frame, 100);
		TEST_ASSERT(pring_post(&c->g[1], &seg, 1, false, false) >= 0, "");
	}
	TEST_ASSERT_EQ(vhu_dequeue_burst(c->vid, 1, c->mp, pkts, 4), 0, "stopped ring");
	/* resume where it stopped, in the full form (both halves, wrap counters
	 * on an odd lap): the buffer posted meanwhile is taken first */
	TEST_RUN(set_base(c, 1, bases[1]));
	TEST_RUN(vring_fd(c, VHU_REQ_SET_VRING_KICK, 1, c->fe.vr[1].kickfd));
	TEST_RUN(set_base(c, 0, bases[0]));
	TEST_RUN(vring_fd(c, VHU_REQ_SET_VRING_KICK, 0, c->fe.vr[0].kickfd));
	TEST_ASSERT(vhu_vring_is_active(c->vid, 0) == 1 && vhu_vring_is_active(c->vid, 1) == 1,
			"running again");
	TEST_ASSERT_EQ(vhu_dequeue_burst(c->vid, 1, c->mp, pkts, 4), 1, "the waiting buffer");
	TEST_ASSERT(mbuf_cmp(pkts[0], frame, 100) == 0, "");
	rte_pktmbuf_free(pkts[0]);
	{
		uint32_t id, len;

		TEST_ASSERT_EQ(pring_pop(&c->g[1], &id, &len), 1, "used where the driver looks");
	}
	for (i = 0; i < 1200 / 25; i++)
		TEST_RUN(traffic(c, 25, 5000 + i * 25));
	for (q = 0; q < 2; q++) {
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&c->fe, (uint16_t)q, &base), 0, "");
		TEST_ASSERT_EQ(base, expected_base(&c->g[q]), "ring %d after the resume", q);
	}
	TEST_ASSERT(rte_mempool_avail_count(c->mp) == c->mp->size, "mbuf leak");
	cenv_down(c);
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, packed_ctrl_ring_base, cenv, c)
{
	return ctrl_case(c);
}
