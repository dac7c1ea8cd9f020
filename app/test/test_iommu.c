/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The device IOTLB (VIRTIO_F_ACCESS_PLATFORM), split and packed rings:
 * entries that overlap, wrap or are huge (against a page model); traffic
 * through IOVAs that are not guest addresses; a miss answered late or
 * never (the burst stops, one request on the back-end channel, the packet
 * taken after the update); a read-only mapping never written; the ring's
 * own pages invalidated while an lcore runs bursts (nothing used through
 * them once the invalidation returned); and the whole protocol through the
 * mock front-end: ACCESS_PLATFORM offered only with VHU_SOCK_IOMMU, ring
 * misses asked and answered over BACKEND_REQ, hostile IOTLB messages.
 *
 * The environments are the datapath tests' (tenv, penv: a device without a
 * connection) put in IOMMU mode as the control plane would: an IOTLB on
 * the device, ACCESS_PLATFORM in its features, IOVAs in the ring
 * addresses, a socketpair as the back-end channel, and IOTLB messages
 * applied with vhu_dev_iotlb_msg() (what IOTLB_MSG's handler calls).
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "guest_packed.h"
#include "guest_split.h"
#include "hostile.h"
#include "mock_fe.h"
#include "vhu.h"
#include "vhu_codec.h"
#include "vhu_dev.h"
#include "vhu_iotlb.h"
#include "vhu_test.h"

#define F(b)  VHU_BIT(VHU_F_##b)
#define PAGE  4096ull
#define QSIZE 256

static uint8_t frame[2048];
static uint8_t got[2048];

/* ---- an environment of either layout in IOMMU mode ---- */

struct ienv {
	bool packed;
	struct tenv t;
	struct penv p;
	struct vhu_dev *dev;
	struct gmem *gm;
	struct gring *sg; /* split: guest rings */
	struct pring *pg; /* packed */
	struct rte_mempool *mp;
	int be; /* our end of the back-end channel */
};

static int read_misses(struct ienv *x, uint64_t *iova, uint8_t *perm);

static int
imsg(struct ienv *x, uint8_t type, uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm)
{
	struct vhu_iotlb_msg m = {
		.iova = iova, .size = size, .uaddr = uaddr, .perm = perm, .type = type
	};
	const char *why = NULL;

	TEST_ASSERT_EQ(vhu_check_iotlb_msg(&m, &why), 0, "valid message: %s", why);
	TEST_ASSERT_EQ(vhu_dev_iotlb_msg(x->dev, &m, &why), 0, "applied: %s", why);
	return TEST_SUCCESS;
}

/* Map [gpa, gpa + len) at IOVA gpa: the guest's own page, identity. */
static int
map_ident(struct ienv *x, uint64_t gpa, uint64_t len, uint8_t perm)
{
	return imsg(x, VHU_IOTLB_UPDATE, gpa, len, GMEM_UVA_BASE + gpa, perm);
}

static int
ienv_teardown(void *obj, int status)
{
	struct ienv *x = obj;

	RTE_SET_USED(status);
	if (x->dev != NULL) {
		x->dev->iova_all = NULL;
		vhu_iotlb_free(x->dev->iotlb);
		x->dev->iotlb = NULL;
		if (x->dev->backend_fd >= 0)
			close(x->dev->backend_fd);
		x->dev->backend_fd = -1;
	}
	if (x->be >= 0)
		close(x->be);
	x->be = -1;
	if (x->packed)
		penv_fini(&x->p);
	else
		tenv_fini(&x->t);
	x->dev = NULL;
	return TEST_SUCCESS;
}

VHU_FIXTURE(ienv, NULL, ienv_teardown);

/* The ring environment of x (split or packed), before any IOTLB. */
static int
ienv_rings(struct ienv *x, bool packed, uint64_t features)
{
	x->packed = packed;
	x->be = -1;
	if (packed) {
		TEST_ASSERT_EQ(penv_init(&x->p, features, 0, QSIZE, 2), 0, "packed env");
		x->dev = x->p.dev;
		x->gm = &x->p.gm;
		x->pg = x->p.g;
		x->mp = x->p.mp;
	} else {
		TEST_ASSERT_EQ(tenv_init(&x->t, features, 0, QSIZE, 2), 0, "split env");
		x->dev = x->t.dev;
		x->gm = &x->t.gm;
		x->sg = x->t.g;
		x->mp = x->t.mp;
	}
	return TEST_SUCCESS;
}

/*
 * Up with rings of QSIZE in 2 regions, then IOMMU mode: ring addresses are
 * IOVAs equal to their GPAs, and all of guest memory is mapped (identity,
 * RW) unless bare (then only the ring areas are).
 */
static int
ienv_up(struct ienv *x, bool packed, uint64_t features, bool bare)
{
	int sv[2], q;
	uint32_t r;

	TEST_RUN(ienv_rings(x, packed, features));
	TEST_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair");
	TEST_ASSERT_EQ(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0, "nonblocking");
	x->dev->backend_fd = sv[0];
	x->be = sv[1];
	x->dev->max_queue_pairs = 1;
	x->dev->iotlb = vhu_iotlb_new(0);
	TEST_ASSERT(x->dev->iotlb != NULL, "iotlb");
	x->dev->iotlb->rd = vhu_mem_new(1);
	x->dev->iotlb->wr = vhu_mem_new(1);
	x->dev->iotlb->all = vhu_mem_new(1);
	x->dev->features |= F(ACCESS_PLATFORM);
	for (q = 0; q < 2; q++) {
		struct vhu_vring_addr *a = &x->dev->vq[q]->addr;

		a->desc_user_addr -= GMEM_UVA_BASE;
		a->avail_user_addr -= GMEM_UVA_BASE;
		a->used_user_addr -= GMEM_UVA_BASE;
	}
	if (bare) {
		for (q = 0; q < 2; q++) {
			const struct vhu_vring_addr *a = &x->dev->vq[q]->addr;
			uint64_t d = packed ? 16ull * QSIZE : vhu_split_desc_size(QSIZE);
			uint64_t av = packed ? 4 : vhu_split_avail_size(QSIZE);
			uint64_t u = packed ? 4 : vhu_split_used_size(QSIZE);

			TEST_RUN(map_ident(x, a->desc_user_addr, d, VHU_ACCESS_RW));
			TEST_RUN(map_ident(x, a->avail_user_addr, av, VHU_ACCESS_RO));
			TEST_RUN(map_ident(x, a->used_user_addr, u, VHU_ACCESS_RW));
		}
	} else {
		for (r = 0; r < x->gm->n; r++)
			TEST_RUN(map_ident(x, x->gm->r[r].gpa, x->gm->r[r].size, VHU_ACCESS_RW));
	}
	/* bare: the ring areas mapped one by one were asked for meanwhile */
	read_misses(x, NULL, NULL);
	TEST_ASSERT(x->dev->iova_all != NULL, "IOMMU mode");
	TEST_ASSERT(x->dev->vq[0]->active && x->dev->vq[1]->active, "rings run through the IOTLB");
	TEST_ASSERT(x->dev->vq[1]->xrd != x->dev->mem, "a ring's own table");
	return TEST_SUCCESS;
}

/* Guest TX of frame[0..len): its (first) buffer IOVA in *iova; id/head or -1. */
static int
gtx(struct ienv *x, uint32_t len, uint64_t *iova)
{
	int id;

	if (x->packed) {
		id = ptx_send(&x->p, frame, len, NULL, TXL_ONE, false);
		if (id >= 0 && iova != NULL)
			*iova = x->pg[1].bufs[id].seg[0].gpa;
	} else {
		id = tx_send(&x->t, frame, len, NULL, TXL_ONE, false);
		if (id >= 0 && iova != NULL)
			*iova = x->sg[1].bufs[id].seg[0].gpa;
	}
	return id;
}

/* Has the guest's TX ring a free descriptor? */
static bool
gtx_room(const struct ienv *x)
{
	return (x->packed ? x->pg[1].nfree : x->sg[1].nfree) > 0;
}

static int
grx_post(struct ienv *x, uint32_t len, uint64_t *iova)
{
	int id;

	if (x->packed) {
		id = prx_post(&x->p, len, 1, false);
		if (id >= 0 && iova != NULL)
			*iova = x->pg[0].bufs[id].seg[0].gpa;
	} else {
		id = rx_post(&x->t, len, 1, false);
		if (id >= 0 && iova != NULL)
			*iova = x->sg[0].bufs[id].seg[0].gpa;
	}
	return id;
}

static int
grx_recv(struct ienv *x)
{
	struct vhu_net_hdr h;

	return x->packed ? prx_recv(&x->p, got, sizeof(got), &h) :
			   rx_recv(&x->t, got, sizeof(got), &h);
}

/* Used entries the guest has on ring q (popped). */
static unsigned int
gused(struct ienv *x, int q, uint32_t *len)
{
	uint32_t id, l;
	unsigned int n = 0;

	while (x->packed ? pring_pop(&x->pg[q], &id, &l) : gring_pop(&x->sg[q], &id, &l)) {
		if (len != NULL)
			*len = l;
		n++;
	}
	return n;
}

/* Drain the miss requests on the back-end channel: how many; the last in *iova, *perm. */
static int
read_misses(struct ienv *x, uint64_t *iova, uint8_t *perm)
{
	struct {
		struct vhu_msg_hdr hdr;
		uint8_t pl[VHU_IOTLB_MSG_SIZE_PAD];
	} __attribute__((packed)) m;
	struct vhu_iotlb_msg im;
	int n = 0;

	while (recv(x->be, &m, sizeof(m), MSG_DONTWAIT) == (ssize_t)sizeof(m)) {
		if (m.hdr.request != VHU_BREQ_IOTLB_MSG || m.hdr.size != VHU_IOTLB_MSG_SIZE_PAD)
			return -1;
		memcpy(&im, m.pl, sizeof(im));
		if (im.type != VHU_IOTLB_MISS)
			return -1;
		if (iova != NULL)
			*iova = im.iova;
		if (perm != NULL)
			*perm = im.perm;
		n++;
	}
	return n;
}

static uint16_t
deq(struct ienv *x, struct rte_mbuf **pkts, uint16_t n)
{
	return vhu_dequeue_burst(x->dev->vid, 1, x->mp, pkts, n);
}

/* ---- entries against a page model ---- */

#define MODEL_PAGES 64

struct mpage {
	bool on;
	uint64_t uaddr;
	uint8_t perm;
};

/* The entries hold exactly what the model says, page by page; sorted, no overlap. */
static int
model_check(const struct vhu_iotlb *t, const struct mpage *pg)
{
	uint32_t i, p;

	for (i = 0; i < t->n; i++) {
		TEST_ASSERT(t->e[i].end > t->e[i].iova, "entry %u not empty", i);
		if (i > 0)
			TEST_ASSERT(t->e[i].iova >= t->e[i - 1].end, "entry %u sorted, apart", i);
	}
	for (p = 0; p < MODEL_PAGES; p++) {
		uint64_t iova = p * PAGE + 0x800;
		const struct vhu_iotlb_entry *e = NULL;

		for (i = 0; i < t->n; i++)
			if (iova >= t->e[i].iova && iova < t->e[i].end)
				e = &t->e[i];
		TEST_ASSERT_EQ(e != NULL, pg[p].on, "page %u mapped", p);
		if (e != NULL) {
			TEST_ASSERT_EQ(e->uaddr + (iova - e->iova), pg[p].uaddr + 0x800, "page %u",
					p);
			TEST_ASSERT_EQ(e->perm, pg[p].perm, "page %u perm", p);
		}
	}
	return TEST_SUCCESS;
}

VHU_TEST(fast, iommu_entries_overlap_split_model)
{
	struct vhu_iotlb *t = vhu_iotlb_new(0);
	struct mpage pg[MODEL_PAGES];
	uint32_t k, p, seed = 12345;
	int rc = TEST_SUCCESS;

	TEST_ASSERT(t != NULL, "iotlb");
	memset(pg, 0, sizeof(pg));
	for (k = 0; k < 4000 && rc == TEST_SUCCESS; k++) {
		uint32_t a, n;

		seed = seed * 1103515245u + 12345u;
		a = (seed >> 8) % MODEL_PAGES;
		n = 1 + (seed >> 20) % 8;
		if (a + n > MODEL_PAGES)
			n = MODEL_PAGES - a;
		if ((seed >> 4) % 3 != 0) {
			uint64_t u = 0x100000000ull + ((seed >> 12) % 97) * PAGE * 16;
			uint8_t perm = (uint8_t)(1 + (seed >> 16) % 3);

			vhu_iotlb_update(t, a * PAGE, n * PAGE, u, perm);
			for (p = a; p < a + n; p++)
				pg[p] = (struct mpage){ true, u + (p - a) * PAGE, perm };
		} else {
			/* size 0 now and then: to the end */
			bool to_end = (seed >> 24) % 7 == 0;

			vhu_iotlb_invalidate(t, a * PAGE, to_end ? 0 : n * PAGE);
			for (p = a; p < (to_end ? MODEL_PAGES : a + n); p++)
				pg[p].on = false;
		}
		rc = model_check(t, pg);
		if (rc != TEST_SUCCESS)
			TEST_LOG("after operation %u", k);
	}
	/* a huge update replaces everything; an invalidation past the top clears */
	if (rc == TEST_SUCCESS) {
		vhu_iotlb_update(t, 0, UINT64_MAX - PAGE, 0, VHU_ACCESS_RO);
		if (t->n != 1 || t->e[0].iova != 0 || t->e[0].end != UINT64_MAX - PAGE)
			rc = TEST_FAILED;
		vhu_iotlb_invalidate(t, PAGE, UINT64_MAX);
		if (t->n != 1 || t->e[0].end != PAGE)
			rc = TEST_FAILED;
	}
	vhu_iotlb_free(t);
	return rc;
}

VHU_TEST(fast, iommu_entries_bounded_and_checked)
{
	struct vhu_iotlb *t = vhu_iotlb_new(8);
	struct vhu_iotlb_msg m;
	const char *why;
	uint32_t k, i;

	TEST_ASSERT(t != NULL, "iotlb");
	for (k = 0; k < 100; k++)
		vhu_iotlb_update(t, k * 2 * PAGE, PAGE, k * PAGE, VHU_ACCESS_RW);
	TEST_ASSERT(t->n <= 8, "%u entries kept", t->n);
	TEST_ASSERT(t->evictions >= 92, "older entries evicted (%" PRIu64 ")", t->evictions);
	for (i = 1; i < t->n; i++)
		TEST_ASSERT(t->e[i].iova >= t->e[i - 1].end, "sorted, apart");
	/* a split with the table full still leaves a consistent list */
	vhu_iotlb_invalidate(t, t->e[0].iova + 16, 16);
	TEST_ASSERT(t->n <= 8, "bounded after an invalidation");
	for (i = 1; i < t->n; i++)
		TEST_ASSERT(t->e[i].iova >= t->e[i - 1].end, "sorted, apart");
	vhu_iotlb_free(t);

	/* what a front-end may send, and what it may not */
	m = (struct vhu_iotlb_msg){ .iova = 0x1000,
		.size = 0x1000,
		.uaddr = 0x7f0000000000ull,
		.perm = VHU_ACCESS_RW,
		.type = VHU_IOTLB_UPDATE };
	TEST_ASSERT_EQ(vhu_check_iotlb_msg(&m, &why), 0, "update");
	m.iova = UINT64_MAX - 0xfff;
	TEST_ASSERT(vhu_check_iotlb_msg(&m, &why) != 0, "iova wraps");
	m.iova = UINT64_MAX - 0x1fff;
	TEST_ASSERT_EQ(vhu_check_iotlb_msg(&m, &why), 0, "ends at the top");
	m.iova = 0x1000;
	m.uaddr = UINT64_MAX - 0x10;
	TEST_ASSERT(vhu_check_iotlb_msg(&m, &why) != 0, "uaddr wraps");
	m.uaddr = 0x7f0000000000ull;
	m.size = 0;
	TEST_ASSERT(vhu_check_iotlb_msg(&m, &why) != 0, "size 0");
	m.size = 0x1000;
	m.perm = VHU_ACCESS_NONE;
	TEST_ASSERT(vhu_check_iotlb_msg(&m, &why) != 0, "no permission");
	m.perm = 7;
	TEST_ASSERT(vhu_check_iotlb_msg(&m, &why) != 0, "unknown permission");
	m.perm = VHU_ACCESS_RO;
	m.type = VHU_IOTLB_MISS;
	TEST_ASSERT(vhu_check_iotlb_msg(&m, &why) != 0, "a miss from the front-end");
	m.type = VHU_IOTLB_ACCESS_FAIL;
	TEST_ASSERT(vhu_check_iotlb_msg(&m, &why) != 0, "access-fail from the front-end");
	m.type = VHU_IOTLB_INVALIDATE;
	m.iova = UINT64_MAX - 0xfff;
	m.size = 0x10000;
	TEST_ASSERT_EQ(vhu_check_iotlb_msg(&m, &why), 0, "any invalidation");
	return TEST_SUCCESS;
}

/*
 * A ring area contiguous in IOVA only (what Linux's coherent DMA allocations
 * behind an IOMMU give): its pages are mapped again contiguous, writes
 * through the alias land in the guest's pages; misses and refused
 * permissions are told apart.
 */
VHU_TEST_F(fast, iommu_ring_pages_apart, ienv, x)
{
	struct vhu_ring_alias al = { 0 };
	struct vhu_iotlb *t;
	uint64_t a, c, miss = 0, iova = 0x7000000;
	uint8_t *ha, *hc, *p = NULL;
	void *host = NULL;

	TEST_RUN(ienv_up(x, false, F(VERSION_1), false));
	t = vhu_iotlb_new(0);
	TEST_ASSERT(t != NULL, "iotlb");
	a = gmem_alloc(x->gm, 0, PAGE, PAGE);
	gmem_alloc(x->gm, 0, PAGE, PAGE);
	c = gmem_alloc(x->gm, 0, PAGE, PAGE);
	TEST_ASSERT(a != 0 && c != 0 && c != a + PAGE, "two pages apart");
	ha = gmem_host(x->gm, a);
	hc = gmem_host(x->gm, c);
	memset(ha, 0, PAGE);
	memset(hc, 0, PAGE);
	vhu_iotlb_update(t, iova, PAGE, GMEM_UVA_BASE + a, VHU_ACCESS_RW);
	TEST_ASSERT_EQ(vhu_iotlb_ring(t, x->gm->mem, iova + 0x800, 0x1000, VHU_ACCESS_RW, &host,
				       &miss, &al),
			-EAGAIN, "second page missing");
	TEST_ASSERT_EQ(miss, iova + PAGE, "the missing page asked");
	vhu_iotlb_update(t, iova + PAGE, PAGE, GMEM_UVA_BASE + c, VHU_ACCESS_RO);
	TEST_ASSERT_EQ(vhu_iotlb_ring(t, x->gm->mem, iova + 0x800, 0x1000, VHU_ACCESS_RW, &host,
				       &miss, &al),
			-EACCES, "read-only second page");
	vhu_iotlb_update(t, iova + PAGE, PAGE, GMEM_UVA_BASE + c, VHU_ACCESS_RW);
	TEST_ASSERT_EQ(vhu_iotlb_ring(t, x->gm->mem, iova + 0x800, 0x1000, VHU_ACCESS_RW, &host,
				       &miss, &al),
			0, "translated");
	TEST_ASSERT(al.base != NULL, "through an alias");
	p = host;
	p[0] = 0x11;
	p[0x7ff] = 0x22;
	p[0x800] = 0x33;
	p[0xfff] = 0x44;
	TEST_ASSERT(ha[0x800] == 0x11 && ha[0xfff] == 0x22, "first page written through");
	TEST_ASSERT(hc[0] == 0x33 && hc[0x7ff] == 0x44, "second page written through");
	hc[1] = 0x55;
	TEST_ASSERT_EQ(p[0x801], 0x55, "and read");
	vhu_iotlb_alias_free(&al);
	TEST_ASSERT(al.base == NULL, "alias gone");
	/* contiguous pages need no alias */
	vhu_iotlb_update(t, iova + PAGE, PAGE, GMEM_UVA_BASE + a + PAGE, VHU_ACCESS_RW);
	TEST_ASSERT_EQ(vhu_iotlb_ring(t, x->gm->mem, iova + 0x800, 0x1000, VHU_ACCESS_RW, &host,
				       &miss, &al),
			0, "translated");
	TEST_ASSERT(al.base == NULL && host == ha + 0x800, "straight");
	vhu_iotlb_free(t);
	return TEST_SUCCESS;
}

/* ---- traffic ---- */

static int
traffic(struct ienv *x)
{
	struct rte_mbuf *pkts[8];
	unsigned int i;
	uint32_t len;

	for (i = 0; i < 64; i++) {
		len = 60 + (i * 37) % 1400;
		make_frame(frame, len, i);
		TEST_ASSERT(gtx(x, len, NULL) >= 0, "guest tx %u", i);
		TEST_ASSERT_EQ(deq(x, pkts, 8), 1, "dequeued %u", i);
		TEST_ASSERT_EQ(mbuf_cmp(pkts[0], frame, len), 0, "frame %u", i);
		gused(x, 1, NULL);
		TEST_ASSERT(grx_post(x, 2048, NULL) >= 0, "rx post");
		TEST_ASSERT_EQ(vhu_enqueue_burst(x->dev->vid, 0, pkts, 1), 1, "enqueued %u", i);
		rte_pktmbuf_free(pkts[0]);
		TEST_ASSERT_EQ(grx_recv(x), (int)len, "received %u", i);
		TEST_ASSERT(memcmp(got, frame, len) == 0, "received frame %u", i);
	}
	TEST_ASSERT_EQ(x->dev->vq[0]->stats.errors + x->dev->vq[1]->stats.errors, 0, "no fault");
	TEST_ASSERT_EQ(read_misses(x, NULL, NULL), 0, "no miss with everything mapped");
	return TEST_SUCCESS;
}

/*
 * IOVAs that are not the guest addresses of the data: four TX buffers at
 * pages [lo, hi) are mapped to a copy of those pages elsewhere, whose
 * frames differ. What arrives is the copy's (four at once: the batch path).
 */
static int
remapped(struct ienv *x)
{
	struct rte_mbuf *pkts[8];
	uint64_t a[4], lo, hi, b;
	uint32_t hlen = x->dev->hdr_len, k;
	uint8_t *hb;

	for (k = 0; k < 4; k++) {
		make_frame(frame, 200, 77 + k);
		TEST_ASSERT(gtx(x, 200, &a[k]) >= 0, "guest tx");
	}
	lo = a[0] - a[0] % PAGE;
	hi = RTE_ALIGN_CEIL(a[3] + hlen + 200, PAGE);
	b = gmem_alloc(x->gm, 0, hi - lo, PAGE);
	TEST_ASSERT(b != 0, "the copy");
	hb = gmem_host(x->gm, b);
	memcpy(hb, gmem_host(x->gm, lo), hi - lo);
	for (k = 0; k < 4; k++)
		make_frame(hb + (a[k] - lo) + hlen, 200, 177 + k);
	TEST_RUN(imsg(x, VHU_IOTLB_UPDATE, lo, hi - lo, GMEM_UVA_BASE + b, VHU_ACCESS_RO));
	TEST_ASSERT_EQ(deq(x, pkts, 8), 4, "dequeued");
	for (k = 0; k < 4; k++) {
		make_frame(frame, 200, 177 + k);
		TEST_ASSERT_EQ(mbuf_cmp(pkts[k], frame, 200), 0, "frame %u: the copy's", k);
	}
	rte_pktmbuf_free_bulk(pkts, 4);
	gused(x, 1, NULL);
	return TEST_SUCCESS;
}

static int
traffic_case(struct ienv *x, bool packed, uint64_t features)
{
	TEST_RUN(ienv_up(x, packed, features, false));
	TEST_RUN(traffic(x));
	TEST_RUN(remapped(x));
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, iommu_split_traffic, ienv, x)
{
	return traffic_case(x, false, F(VERSION_1) | F(RING_INDIRECT_DESC));
}

VHU_TEST_F(fast, iommu_split_mrg_traffic, ienv, x)
{
	return traffic_case(x, false, F(VERSION_1) | F(NET_MRG_RXBUF) | F(IN_ORDER));
}

VHU_TEST_F(fast, iommu_packed_traffic, ienv, x)
{
	return traffic_case(x, true, F(RING_INDIRECT_DESC));
}

VHU_TEST_F(fast, iommu_packed_mrg_traffic, ienv, x)
{
	return traffic_case(x, true, F(NET_MRG_RXBUF) | F(IN_ORDER));
}

/* ---- misses ---- */

/*
 * The guest's TX buffer has no entry: bursts take nothing and ask once;
 * asked again never within the retry period however often they run; the
 * update lets the next burst take it. Then the same for an RX buffer.
 */
static int
miss_case(struct ienv *x, bool packed, uint64_t features)
{
	struct rte_mbuf *pkts[4], *m;
	uint64_t a, r, mi = 0, t0;
	uint8_t mp = 0;
	unsigned int k;
	uint32_t len;

	TEST_RUN(ienv_up(x, packed, features, true));
	/* the ring areas were asked for while they were mapped one by one */
	x->dev->vq[0]->stats.iotlb_misses = 0;
	x->dev->vq[1]->stats.iotlb_misses = 0;
	make_frame(frame, 300, 5);
	TEST_ASSERT(gtx(x, 300, &a) >= 0, "guest tx");
	t0 = rte_get_timer_cycles();
	for (k = 0; k < 1000; k++)
		TEST_ASSERT_EQ(deq(x, pkts, 4), 0, "nothing taken without a translation (%u)", k);
	/* 1000 bursts that each stop at once: well under the retry period */
	TEST_ASSERT((rte_get_timer_cycles() - t0) * 1000 / rte_get_timer_hz() <
					VHU_IOTLB_MISS_RETRY_MS,
			"the bursts return");
	TEST_ASSERT_EQ(read_misses(x, &mi, &mp), 1, "one miss request");
	TEST_ASSERT(mi >= a - a % PAGE && mi < a + 300 + 12,
			"asked for the buffer (0x%" PRIx64 " for 0x%" PRIx64 ")", mi, a);
	TEST_ASSERT_EQ(mp, VHU_ACCESS_RO, "a read");
	TEST_ASSERT_EQ(gused(x, 1, NULL), 0, "the buffer stays the guest's");
	TEST_ASSERT_EQ(x->dev->vq[1]->stats.iotlb_misses, 1, "counted");
	TEST_ASSERT_EQ(x->dev->vq[1]->stats.errors, 0, "a miss is no fault");
	/* answered late */
	TEST_RUN(map_ident(x, a, x->dev->hdr_len + 300, VHU_ACCESS_RO));
	TEST_ASSERT_EQ(deq(x, pkts, 4), 1, "taken after the update");
	TEST_ASSERT_EQ(mbuf_cmp(pkts[0], frame, 300), 0, "the frame");
	TEST_ASSERT_EQ(gused(x, 1, NULL), 1, "returned");

	/* RX: the packet is kept by the caller until the buffer translates */
	TEST_ASSERT(grx_post(x, 2048, &r) >= 0, "rx post");
	m = pkts[0];
	for (k = 0; k < 100; k++)
		TEST_ASSERT_EQ(vhu_enqueue_burst(x->dev->vid, 0, &m, 1), 0, "not placed (%u)", k);
	TEST_ASSERT_EQ(read_misses(x, &mi, &mp), 1, "one miss request");
	TEST_ASSERT(mi >= r && mi < r + 2048, "asked for the RX buffer");
	TEST_ASSERT_EQ(mp, VHU_ACCESS_WO, "a write");
	TEST_ASSERT_EQ(gused(x, 0, NULL), 0, "nothing used");
	/* an update that does not answer it: not asked again (no storm of
	 * duplicates while the front-end is slow) ... */
	TEST_RUN(map_ident(x, a, 16, VHU_ACCESS_RO));
	TEST_ASSERT_EQ(vhu_enqueue_burst(x->dev->vid, 0, &m, 1), 0, "still not placed");
	TEST_ASSERT_EQ(read_misses(x, NULL, NULL), 0, "not asked again for another update");
	/* ... until the retry period has passed: a lost request is not fatal */
	vhu_test_sleep_ms(VHU_IOTLB_MISS_RETRY_MS + 100);
	TEST_ASSERT_EQ(vhu_enqueue_burst(x->dev->vid, 0, &m, 1), 0, "still not placed");
	TEST_ASSERT_EQ(read_misses(x, NULL, NULL), 1, "asked again after the retry period");
	TEST_RUN(map_ident(x, r, 2048, VHU_ACCESS_RW));
	TEST_ASSERT_EQ(vhu_enqueue_burst(x->dev->vid, 0, &m, 1), 1, "placed after the update");
	len = (uint32_t)grx_recv(x);
	TEST_ASSERT_EQ(len, 300, "received");
	TEST_ASSERT(memcmp(got, frame, 300) == 0, "the frame");
	rte_pktmbuf_free(m);
	TEST_ASSERT_EQ(x->dev->vq[0]->stats.iotlb_misses, 2, "counted");

	return TEST_SUCCESS;
}

VHU_TEST_F(fast, iommu_split_miss_late_and_never, ienv, x)
{
	return miss_case(x, false, F(VERSION_1));
}

VHU_TEST_F(fast, iommu_split_mrg_miss_late_and_never, ienv, x)
{
	return miss_case(x, false, F(VERSION_1) | F(NET_MRG_RXBUF));
}

VHU_TEST_F(fast, iommu_packed_miss_late_and_never, ienv, x)
{
	return miss_case(x, true, 0);
}

VHU_TEST_F(fast, iommu_packed_mrg_miss_late_and_never, ienv, x)
{
	return miss_case(x, true, F(NET_MRG_RXBUF));
}

/* ---- permissions ---- */

/*
 * An RX buffer mapped read-only is never written: returned empty as a
 * guest fault, its bytes untouched, no miss asked. A TX buffer mapped
 * write-only is not read: dropped as a fault.
 */
static int
perm_case(struct ienv *x, bool packed, uint64_t features)
{
	struct rte_mbuf *pkts[4], *m;
	uint64_t r, a;
	uint32_t len = 99, k;
	const uint8_t *h;

	TEST_RUN(ienv_up(x, packed, features, false));
	TEST_ASSERT(grx_post(x, 2048, &r) >= 0, "rx post");
	TEST_RUN(map_ident(x, r, 2048, VHU_ACCESS_RO));
	make_frame(frame, 500, 9);
	m = mbuf_make(x->mp, frame, 500, 0);
	TEST_ASSERT(m != NULL, "mbuf");
	TEST_ASSERT_EQ(vhu_enqueue_burst(x->dev->vid, 0, &m, 1), 0, "not placed");
	TEST_ASSERT_EQ(gused(x, 0, &len), 1, "the buffer came back");
	TEST_ASSERT_EQ(len, 0, "empty");
	h = gmem_host(x->gm, r);
	for (k = 0; k < 2048; k++)
		TEST_ASSERT_EQ(h[k], 0xa5, "byte %u of the read-only buffer untouched", k);
	TEST_ASSERT_EQ(x->dev->vq[0]->stats.errors, 1, "a guest fault");
	TEST_ASSERT_EQ(read_misses(x, NULL, NULL), 0, "no miss for a refused access");
	rte_pktmbuf_free(m);

	TEST_ASSERT(gtx(x, 500, &a) >= 0, "guest tx");
	TEST_RUN(map_ident(x, a, x->dev->hdr_len + 500, VHU_ACCESS_WO));
	TEST_ASSERT_EQ(deq(x, pkts, 4), 0, "not read");
	TEST_ASSERT_EQ(gused(x, 1, NULL), 1, "dropped and returned");
	TEST_ASSERT_EQ(x->dev->vq[1]->stats.errors, 1, "a guest fault");
	TEST_ASSERT_EQ(read_misses(x, NULL, NULL), 0, "no miss for a refused access");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, iommu_split_readonly_never_written, ienv, x)
{
	return perm_case(x, false, F(VERSION_1));
}

VHU_TEST_F(fast, iommu_packed_readonly_never_written, ienv, x)
{
	return perm_case(x, true, 0);
}

/* ---- the ring's own pages invalidated under traffic ---- */

struct burster {
	struct ienv *x;
	volatile int stop;
	volatile uint32_t taken;
	volatile int bad;
	pthread_t th;
};

static void *
burst_main(void *arg)
{
	struct burster *b = arg;
	struct rte_mbuf *pkts[32];
	uint8_t f[2048];

	while (!b->stop) {
		uint16_t n = deq(b->x, pkts, 32), i;

		for (i = 0; i < n; i++) {
			uint32_t seq = b->taken + i, len = 64 + seq % 512;

			make_frame(f, len, seq);
			if (mbuf_cmp(pkts[i], f, len) != 0) {
				if (b->bad == 0)
					TEST_LOG("frame %u of %u bytes differs", seq, len);
				b->bad++;
			}
		}
		rte_pktmbuf_free_bulk(pkts, n);
		__atomic_store_n(&b->taken, b->taken + n, __ATOMIC_RELEASE);
	}
	return NULL;
}

/*
 * An lcore runs bursts on the TX ring while the guest sends; the ring's
 * used area (split) or descriptor ring (packed) is invalidated. Once the
 * invalidation returned nothing is used through it: the guest sees no used
 * entry and the lcore takes no packet, however long it keeps bursting. The
 * ring's miss was asked; the update brings it back, and every frame
 * arrives once, in order.
 */
static int
inval_case(struct ienv *x, bool packed, uint64_t features)
{
	struct burster b = { .x = x };
	const struct vhu_vring_addr *ad;
	uint64_t area, mi = 0;
	uint32_t sent = 0, taken_then, k, total = 2000;
	unsigned int used_then, used_now = 0;
	uint8_t mp = 0;
	int rc = TEST_SUCCESS;

	TEST_RUN(ienv_up(x, packed, features, false));
	ad = &x->dev->vq[1]->addr;
	area = packed ? ad->desc_user_addr : ad->used_user_addr;
	TEST_ASSERT_EQ(pthread_create(&b.th, NULL, burst_main, &b), 0, "lcore thread");
	while (sent < total && rc == TEST_SUCCESS) {
		uint32_t len = 64 + sent % 512;

		/* a buffer is allocated only with a descriptor free: the
		 * guest's bump allocator must not lap buffers in flight */
		if (!gtx_room(x)) {
			used_now += gused(x, 1, NULL);
			continue;
		}
		make_frame(frame, len, sent);
		TEST_ASSERT(gtx(x, len, NULL) >= 0, "guest tx %u", sent);
		sent++;
		if (sent == total / 2) {
			rc = imsg(x, VHU_IOTLB_INVALIDATE, area, PAGE, 0, 0);
			if (rc != TEST_SUCCESS)
				break;
			/* acknowledged: from here on nothing goes through that area */
			used_now += gused(x, 1, NULL);
			used_then = used_now;
			taken_then = __atomic_load_n(&b.taken, __ATOMIC_ACQUIRE);
			for (k = 0; k < 8 && gtx_room(x); k++) {
				make_frame(frame, 64 + sent % 512, sent);
				if (gtx(x, 64 + sent % 512, NULL) >= 0)
					sent++;
			}
			vhu_test_sleep_ms(50);
			used_now += gused(x, 1, NULL);
			if (used_now != used_then || b.taken != taken_then) {
				TEST_LOG("used %u -> %u, taken %u -> %u after the invalidation",
						used_then, used_now, taken_then, b.taken);
				rc = TEST_FAILED;
				break;
			}
			if (read_misses(x, &mi, &mp) < 1 || mi < area || mi >= area + PAGE ||
					mp != VHU_ACCESS_RW) {
				TEST_LOG("no miss for the ring area (0x%" PRIx64 ")", mi);
				rc = TEST_FAILED;
				break;
			}
			rc = map_ident(x, area, PAGE, VHU_ACCESS_RW);
		}
	}
	for (k = 0; k < 400 && rc == TEST_SUCCESS &&
			__atomic_load_n(&b.taken, __ATOMIC_ACQUIRE) < sent;
			k++)
		vhu_test_sleep_ms(5);
	b.stop = 1;
	pthread_join(b.th, NULL);
	TEST_ASSERT_EQ(rc, TEST_SUCCESS, "traffic");
	TEST_ASSERT_EQ(b.taken, sent, "every frame taken once");
	TEST_ASSERT_EQ(b.bad, 0, "in order, whole");
	TEST_ASSERT_EQ(x->dev->vq[1]->stats.errors, 0, "no fault");
	TEST_ASSERT(x->dev->vq[1]->stats.iotlb_invalidations >= 1, "counted");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, iommu_split_ring_invalidated_under_traffic, ienv, x)
{
	return inval_case(x, false, F(VERSION_1));
}

VHU_TEST_F(fast, iommu_packed_ring_invalidated_under_traffic, ienv, x)
{
	return inval_case(x, true, 0);
}

/* ---- the protocol, through the mock front-end ---- */

static int
fe_iotlb(struct hdev *d, uint8_t type, uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm,
		uint32_t plsize, uint64_t *ack)
{
	uint8_t pl[VHU_IOTLB_MSG_SIZE_PAD] = { 0 };
	struct vhu_iotlb_msg m = {
		.iova = iova, .size = size, .uaddr = uaddr, .perm = perm, .type = type
	};

	memcpy(pl, &m, sizeof(m));
	return mock_fe_ack(&d->fe, VHU_REQ_IOTLB_MSG, pl, plsize, NULL, 0, ack);
}

static int
body_protocol(void)
{
	struct hdev d, plain;
	uint64_t f, ack = 1, pf = 0;
	int sv[2], before = vhu_rec.new_dev, n = 0, k;
	struct vhu_vq_stats st0, st1;

	vhu_rec_reset();
	before = vhu_rec.new_dev;
	/* offered only with VHU_SOCK_IOMMU */
	TEST_RUN(hdev_up(&plain, 0));
	TEST_ASSERT_EQ(mock_fe_get_u64(&plain.fe, VHU_REQ_GET_FEATURES, &f), 0, "features");
	TEST_ASSERT(!(f & F(ACCESS_PLATFORM)), "not offered without iommu support");
	hdev_down(&plain);
	TEST_RUN(hdev_up(&d, VHU_SOCK_IOMMU));
	TEST_ASSERT_EQ(mock_fe_get_u64(&d.fe, VHU_REQ_GET_FEATURES, &f), 0, "features");
	TEST_ASSERT(f & F(ACCESS_PLATFORM), "offered with iommu support");

	/* QEMU's order: features, the back-end channel, memory, rings (IOVAs) */
	d.fe.iova_rings = true;
	TEST_ASSERT_EQ(mock_fe_negotiate(&d.fe, 0, 0), 0, "negotiate");
	TEST_ASSERT(d.fe.features & F(ACCESS_PLATFORM), "negotiated");
	TEST_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair");
	TEST_ASSERT_EQ(mock_fe_ack(&d.fe, VHU_REQ_SET_BACKEND_REQ_FD, NULL, 0, &sv[1], 1, &ack), 0,
			"back-end channel");
	close(sv[1]);
	TEST_ASSERT_EQ(ack, 0, "back-end channel taken");
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&d.fe), 0, "memory");
	for (k = 0; k < 2; k++)
		TEST_ASSERT_EQ(mock_fe_setup_vring(&d.fe, (uint16_t)k, QSIZE), 0, "vring %d", k);
	for (k = 0; k < 2; k++)
		TEST_ASSERT_EQ(mock_fe_vring_enable(&d.fe, (uint16_t)k, 1), 0, "enable %d", k);
	TEST_ASSERT_EQ(mock_fe_set_status(&d.fe,
				       VHU_STATUS_ACKNOWLEDGE | VHU_STATUS_DRIVER |
						       VHU_STATUS_FEATURES_OK |
						       VHU_STATUS_DRIVER_OK),
			0, "DRIVER_OK");
	TEST_ASSERT_EQ(vhu_rec.new_dev, before, "not ready: the rings do not translate yet");
	/* the ring misses wait on the back-end channel; one update answers them */
	for (k = 0; k < 100 && n == 0; k++) {
		struct {
			struct vhu_msg_hdr hdr;
			uint8_t pl[VHU_IOTLB_MSG_SIZE_PAD];
		} __attribute__((packed)) m;

		while (recv(sv[0], &m, sizeof(m), MSG_DONTWAIT) == (ssize_t)sizeof(m)) {
			struct vhu_iotlb_msg im;

			memcpy(&im, m.pl, sizeof(im));
			TEST_ASSERT(m.hdr.request == VHU_BREQ_IOTLB_MSG &&
							im.type == VHU_IOTLB_MISS,
					"a miss request");
			TEST_ASSERT(im.iova >= MOCK_FE_GPA_BASE &&
							im.iova < MOCK_FE_GPA_BASE + d.fe.mem_size,
					"for an IOVA of the rings");
			TEST_ASSERT(!(m.hdr.flags & VHU_FLAG_NEED_REPLY), "no reply awaited");
			n++;
		}
		if (n == 0)
			vhu_test_sleep_ms(5);
	}
	TEST_ASSERT(n >= 1, "ring misses asked");
	TEST_ASSERT_EQ(fe_iotlb(&d, VHU_IOTLB_UPDATE, MOCK_FE_GPA_BASE, d.fe.mem_size,
				       (uint64_t)(uintptr_t)d.fe.mem, VHU_ACCESS_RW,
				       VHU_IOTLB_MSG_SIZE_PAD, &ack),
			0, "update");
	TEST_ASSERT_EQ(ack, 0, "update acked");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, before + 1, 2000), "ready after the update");
	TEST_RUN(hdev_attach_rings(&d));
	TEST_RUN(hdev_forwards(&d, 32));
	/* a 26-byte payload (the fields alone) is accepted too */
	TEST_ASSERT_EQ(fe_iotlb(&d, VHU_IOTLB_INVALIDATE, 0x1000, 0x1000, 0, 0, VHU_IOTLB_MSG_SIZE,
				       &ack),
			0, "invalidate");
	TEST_ASSERT_EQ(ack, 0, "invalidation acked");
	TEST_RUN(hdev_forwards(&d, 8));
	TEST_ASSERT_EQ(vhu_vq_stats_get(d.vid, 0, &st0), 0, "stats");
	TEST_ASSERT_EQ(vhu_vq_stats_get(d.vid, 1, &st1), 0, "stats");
	TEST_ASSERT(st0.iotlb_misses + st1.iotlb_misses >= 1, "ring misses counted");
	TEST_ASSERT_EQ(st1.iotlb_invalidations, 1, "invalidation counted");
	/* hostile: an update that wraps closes the connection */
	fe_iotlb(&d, VHU_IOTLB_UPDATE, UINT64_MAX - 0xfff, 0x2000, 0x1000, VHU_ACCESS_RW,
			VHU_IOTLB_MSG_SIZE_PAD, &ack);
	TEST_ASSERT(hdev_closed(&d), "closed on a wrapping update");
	TEST_ASSERT(hlog_has("wraps the I/O address space"), "logged why");
	close(sv[0]);
	RTE_SET_USED(pf);
	hdev_down(&d);
	return TEST_SUCCESS;
}

VHU_TEST(fast, iommu_protocol_mock_frontend)
{
	return hlog_run(body_protocol);
}

static int
body_hostile_msgs(void)
{
	static const struct {
		uint8_t type, perm;
		uint64_t iova, size, uaddr;
		uint32_t plsize;
		const char *logged;
	} bad[] = {
		{ VHU_IOTLB_UPDATE, VHU_ACCESS_RW, 0x1000, 0, 0x1000, 32, "size 0" },
		{ VHU_IOTLB_UPDATE, 0, 0x1000, 0x1000, 0x1000, 32, "valid permission" },
		{ VHU_IOTLB_UPDATE, VHU_ACCESS_RW, 0x1000, 0x1000, UINT64_MAX, 32,
				"front-end address" },
		{ VHU_IOTLB_MISS, VHU_ACCESS_RW, 0x1000, 0x1000, 0x1000, 32, "does not send" },
		{ VHU_IOTLB_UPDATE, VHU_ACCESS_RW, 0x1000, 0x1000, 0x1000, 30, "payload size" },
	};
	struct hdev d;
	uint64_t ack;
	unsigned int i;

	for (i = 0; i < RTE_DIM(bad); i++) {
		TEST_RUN(hdev_up(&d, VHU_SOCK_IOMMU));
		TEST_ASSERT_EQ(mock_fe_negotiate(&d.fe, 0, 0), 0, "negotiate");
		fe_iotlb(&d, bad[i].type, bad[i].iova, bad[i].size, bad[i].uaddr, bad[i].perm,
				bad[i].plsize, &ack);
		TEST_ASSERT(hdev_closed(&d), "case %u: closed", i);
		TEST_ASSERT(hlog_has(bad[i].logged), "case %u: logged '%s'", i, bad[i].logged);
		hdev_down(&d);
	}
	return TEST_SUCCESS;
}

VHU_TEST(fast, iommu_hostile_messages_close)
{
	return hlog_run(body_hostile_msgs);
}

/* ---- cycles per packet with the IOTLB on and off (perf suite) ---- */

#define IPERF_ROUNDS 2000
#define IPERF_BURST  32

static uint64_t iperf_deq[IPERF_ROUNDS], iperf_enq[IPERF_ROUNDS];

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t p = *(const uint64_t *)a, q = *(const uint64_t *)b;

	return p < q ? -1 : p > q;
}

static double
median_per_pkt(uint64_t *v)
{
	qsort(v, IPERF_ROUNDS, sizeof(*v), cmp_u64);
	return (double)v[IPERF_ROUNDS / 2] / IPERF_BURST;
}

/*
 * Warm bursts of 64-byte frames both ways on x, as test_perf.c measures
 * them: median cycles per packet of the dequeue and of the enqueue.
 */
static int
iperf_run(struct ienv *x, double *dq, double *eq)
{
	struct rte_mbuf *pkts[IPERF_BURST];
	uint32_t r, i;
	uint64_t t;

	for (i = 0; i < x->gm->n; i++)
		x->gm->r[i].data_start = RTE_ALIGN_CEIL(x->gm->r[i].brk, PAGE);
	make_frame(frame, 64, 1);
	for (r = 0; r < IPERF_ROUNDS; r++) {
		for (i = 0; i < IPERF_BURST; i++) {
			TEST_ASSERT(gtx(x, 64, NULL) >= 0, "tx");
			TEST_ASSERT(grx_post(x, 2048, NULL) >= 0, "rx post");
		}
		t = rte_rdtsc_precise();
		TEST_ASSERT_EQ(deq(x, pkts, IPERF_BURST), IPERF_BURST, "dequeue");
		iperf_deq[r] = rte_rdtsc_precise() - t;
		t = rte_rdtsc_precise();
		TEST_ASSERT_EQ(vhu_enqueue_burst(x->dev->vid, 0, pkts, IPERF_BURST), IPERF_BURST,
				"enqueue, round %u, IOTLB %s", r,
				x->dev->iotlb != NULL ? "on" : "off");
		iperf_enq[r] = rte_rdtsc_precise() - t;
		rte_pktmbuf_free_bulk(pkts, IPERF_BURST);
		gused(x, 1, NULL);
		for (i = 0; i < IPERF_BURST; i++)
			TEST_ASSERT_EQ(grx_recv(x), 64, "received");
	}
	*dq = median_per_pkt(iperf_deq);
	*eq = median_per_pkt(iperf_enq);
	return TEST_SUCCESS;
}

/* The same device without the IOTLB: a plain environment, as before ienv_up() converts it. */
static int
iperf_off(struct ienv *x, bool packed, uint64_t features, double *deq, double *enq)
{
	int rc;

	memset(x, 0, sizeof(*x));
	TEST_RUN(ienv_rings(x, packed, features));
	rc = iperf_run(x, deq, enq);
	ienv_teardown(x, rc);
	return rc;
}

/*
 * On: every guest page its own 4 KiB IOTLB entry (what QEMU's intel-iommu
 * gives), warm (no miss while measuring).
 */
static int
iperf_on(struct ienv *x, bool packed, uint64_t features, double *deq, double *enq)
{
	uint64_t a;
	uint32_t r;
	int rc;

	memset(x, 0, sizeof(*x));
	TEST_RUN(ienv_up(x, packed, features, true));
	for (r = 0; r < x->gm->n; r++)
		for (a = 0; a < x->gm->r[r].size; a += PAGE) {
			/* straight into the entries; the tables are built once below */
			vhu_iotlb_update(x->dev->iotlb, x->gm->r[r].gpa + a, PAGE,
					GMEM_UVA_BASE + x->gm->r[r].gpa + a, VHU_ACCESS_RW);
		}
	TEST_RUN(imsg(x, VHU_IOTLB_UPDATE, x->gm->r[0].gpa, PAGE, GMEM_UVA_BASE + x->gm->r[0].gpa,
			VHU_ACCESS_RW));
	rc = iperf_run(x, deq, enq);
	/* warm: nothing was missing while measuring (the bare setup's ring misses aside) */
	if (rc == TEST_SUCCESS && read_misses(x, NULL, NULL) != 0)
		rc = TEST_FAILED;
	ienv_teardown(x, rc);
	return rc;
}

VHU_TEST(perf, iommu_burst_cycles)
{
	static const struct {
		const char *name;
		bool packed;
		uint64_t f;
	} cases[] = {
		{ "split", false, F(VERSION_1) | F(RING_INDIRECT_DESC) },
		{ "split mrg", false, F(VERSION_1) | F(NET_MRG_RXBUF) },
		{ "packed", true, F(RING_INDIRECT_DESC) },
		{ "packed mrg", true, F(NET_MRG_RXBUF) },
	};
	static struct ienv x;
	uint32_t c;

	for (c = 0; c < RTE_DIM(cases); c++) {
		double d0, e0, d1, e1;

		TEST_RUN(iperf_off(&x, cases[c].packed, cases[c].f, &d0, &e0));
		TEST_RUN(iperf_on(&x, cases[c].packed, cases[c].f, &d1, &e1));
		printf("    %-10s 64 B, bursts of %u, median cyc/pkt: dequeue IOTLB off %6.1f on %6.1f "
		       "(x%.2f); enqueue off %6.1f on %6.1f (x%.2f)\n",
				cases[c].name, IPERF_BURST, d0, d1, d1 / d0, e0, e1, e1 / e0);
	}
	return TEST_SUCCESS;
}
