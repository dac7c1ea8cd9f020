/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Guest-side packed-ring driver and hand-built device for datapath tests. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "guest_packed.h"

#define CROSS_WINDOW (64u * 1024u)     /* as guest_split.c keeps free at region ends */

static uint16_t
avail_bits(bool wrap)
{
	return wrap ? VHU_DESC_F_AVAIL : VHU_DESC_F_USED;
}

int
pring_init(struct pring *g, struct gmem *gm, uint16_t size, bool inorder)
{
	uint16_t i;

	memset(g, 0, sizeof(*g));
	if (size == 0 || size > VHU_MAX_RING_SIZE)
		return -EINVAL;
	g->gm = gm;
	g->size = size;
	g->inorder = inorder;
	g->desc_gpa = gmem_alloc(gm, 0, 16ull * size, 4096);
	g->drv_gpa = gmem_alloc(gm, 0, 4, 64);
	g->dev_gpa = gmem_alloc(gm, 0, 4, 64);
	if (g->desc_gpa == 0 || g->drv_gpa == 0 || g->dev_gpa == 0)
		return -ENOMEM;
	g->desc = gmem_host(gm, g->desc_gpa);
	g->drv = gmem_host(gm, g->drv_gpa);
	g->dev = gmem_host(gm, g->dev_gpa);
	memset(g->desc, 0, 16ull * size);
	memset(g->drv, 0, 4);
	memset(g->dev, 0, 4);
	g->ids = calloc(size, sizeof(*g->ids));
	g->fifo = calloc(size, sizeof(*g->fifo));
	g->bufs = calloc(size, sizeof(*g->bufs));
	if (g->ids == NULL || g->fifo == NULL || g->bufs == NULL)
		return -ENOMEM;
	for (i = 0; i < size; i++)
		g->ids[i] = (uint16_t)(size - 1 - i);
	g->nids = size;
	g->nfree = size;
	g->avail_wrap = true; /* both wrap counters start at 1 */
	g->used_wrap = true;
	return 0;
}

void
pring_fini(struct pring *g)
{
	free(g->ids);
	free(g->fifo);
	free(g->bufs);
	memset(g, 0, sizeof(*g));
}

static void
next_slot(const struct pring *g, uint16_t *idx, bool *wrap)
{
	if (++*idx == g->size) {
		*idx = 0;
		*wrap = !*wrap;
	}
}

int
pring_post(struct pring *g, const struct gseg *seg, uint32_t nseg, bool write, bool indirect)
{
	uint16_t flag = write ? VHU_DESC_F_WRITE : 0, first = g->avail_idx, last = first;
	uint16_t ndesc = (uint16_t)(indirect ? 1 : nseg), first_flags = 0, id;
	struct pbuf *b;
	uint32_t i;

	if (nseg == 0 || nseg > GBUF_MAX_SEG || g->nfree < ndesc || g->nids == 0)
		return -1;
	id = g->inorder ? first : g->ids[g->nids - 1];
	if (g->bufs[id].inuse)
		return -1;
	if (!g->inorder)
		g->nids--;
	if (indirect) {
		uint64_t tgpa = gmem_alloc(g->gm, 0, 16ull * nseg, 16);
		struct vhu_vring_packed_desc *t = gmem_host(g->gm, tgpa);

		if (tgpa == 0)
			return -1;
		for (i = 0; i < nseg; i++) {
			t[i].addr = seg[i].gpa;
			t[i].len = seg[i].len;
			/* like DPDK's driver: NEXT and lap bits in entries, which the
			 * device ignores; and an id it ignores too */
			t[i].flags = (uint16_t)(flag | (i + 1 < nseg ? VHU_DESC_F_NEXT : 0) |
					avail_bits(g->avail_wrap));
			t[i].id = 0xbeef;
		}
		g->desc[first].addr = tgpa;
		g->desc[first].len = 16 * nseg;
		g->desc[first].id = id;
		first_flags = (uint16_t)(VHU_DESC_F_INDIRECT | avail_bits(g->avail_wrap));
		next_slot(g, &g->avail_idx, &g->avail_wrap);
	} else {
		for (i = 0; i < nseg; i++) {
			uint16_t s = g->avail_idx;
			uint16_t f = (uint16_t)(flag | (i + 1 < nseg ? VHU_DESC_F_NEXT : 0) |
					avail_bits(g->avail_wrap));

			g->desc[s].addr = seg[i].gpa;
			g->desc[s].len = seg[i].len;
			g->desc[s].id = 0xffff; /* only the last one's id counts */
			if (i == 0)
				first_flags = f;
			else
				g->desc[s].flags = f;
			last = s;
			next_slot(g, &g->avail_idx, &g->avail_wrap);
		}
		g->desc[last].id = id;
	}
	b = &g->bufs[id];
	b->inuse = true;
	b->head = first;
	b->ndesc = ndesc;
	b->nseg = nseg;
	memcpy(b->seg, seg, nseg * sizeof(*seg));
	g->nfree = (uint16_t)(g->nfree - ndesc);
	g->fifo[(g->fifo_head + g->fifo_n) % g->size] = id;
	g->fifo_n++;
	/* the first descriptor last: the whole list appears at once */
	__atomic_store_n(&g->desc[first].flags, first_flags, __ATOMIC_RELEASE);
	return id;
}

bool
pring_is_used(const struct pring *g, uint16_t pos, bool wrap)
{
	uint16_t f = __atomic_load_n(&g->desc[pos].flags, __ATOMIC_ACQUIRE);
	uint16_t want = wrap ? (VHU_DESC_F_AVAIL | VHU_DESC_F_USED) : 0;

	return (f & (VHU_DESC_F_AVAIL | VHU_DESC_F_USED)) == want;
}

/* Give buffer id back to the driver and move the used position past it. */
static void
release(struct pring *g, uint16_t id)
{
	struct pbuf *b = &g->bufs[id];
	uint16_t k;

	for (k = 0; k < b->ndesc; k++)
		next_slot(g, &g->used_idx, &g->used_wrap);
	g->nfree = (uint16_t)(g->nfree + b->ndesc);
	b->inuse = false;
	if (!g->inorder)
		g->ids[g->nids++] = id;
}

int
pring_pop(struct pring *g, uint32_t *id, uint32_t *len)
{
	uint16_t uid = 0;
	uint32_t ulen = 0;

	if (!g->in_batch) {
		if (!pring_is_used(g, g->used_idx, g->used_wrap))
			return 0;
		uid = g->desc[g->used_idx].id;
		ulen = g->desc[g->used_idx].len;
		if (uid >= g->size || !g->bufs[uid].inuse || g->fifo_n == 0)
			return -1;
		if (g->inorder && uid != g->fifo[g->fifo_head]) {
			/* one used descriptor for a batch ending at uid */
			g->in_batch = true;
			g->batch_id = uid;
			g->batch_len = ulen;
		}
	}
	if (g->inorder) {
		uint16_t head;

		if (g->fifo_n == 0) {
			g->in_batch = false;
			return -1;
		}
		head = g->fifo[g->fifo_head];
		if (g->in_batch) {
			uid = head;
			ulen = 0;
			if (head == g->batch_id) {
				ulen = g->batch_len;
				g->in_batch = false;
			}
		}
		g->fifo_head = (g->fifo_head + 1) % g->size;
		g->fifo_n--;
	} else {
		uint32_t k;

		/* drop uid from the outstanding list (kept for in-order checks only) */
		for (k = 0; k < g->fifo_n; k++) {
			uint32_t at = (g->fifo_head + k) % g->size;

			if (g->fifo[at] == uid) {
				g->fifo[at] = g->fifo[g->fifo_head];
				g->fifo_head = (g->fifo_head + 1) % g->size;
				g->fifo_n--;
				break;
			}
		}
	}
	release(g, uid);
	*id = uid;
	*len = ulen;
	return 1;
}

static unsigned int penv_seq;

int
penv_init(struct penv *e, uint64_t features, uint64_t sock_flags, uint16_t qsize, uint32_t nregions)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	int q, rc;

	memset(e, 0, sizeof(*e));
	e->live = true;
	e->callfd[0] = e->callfd[1] = e->errfd[0] = e->errfd[1] = -1;
	features |= VHU_BIT(VHU_F_VERSION_1) | VHU_BIT(VHU_F_RING_PACKED);
	rc = gmem_init(&e->gm, nregions, 8u << 20, true);
	if (rc != 0)
		return rc;
	snprintf(name, sizeof(name), "test-packed-%u", penv_seq);
	e->dev = tdev_new(&e->gm, features, sock_flags, name);
	if (e->dev == NULL)
		return -ENOMEM;
	for (q = 0; q < 2; q++) {
		struct pring *g = &e->g[q];

		rc = pring_init(g, &e->gm, qsize, (features & VHU_BIT(VHU_F_IN_ORDER)) != 0);
		if (rc != 0)
			return rc;
		rc = tvq_add(e->dev, (uint16_t)q, qsize, g->desc_gpa, g->drv_gpa, g->dev_gpa);
		if (rc != 0)
			return rc;
		e->vq[q] = e->dev->vq[q];
		e->callfd[q] = e->vq[q]->callfd;
		e->errfd[q] = e->vq[q]->errfd;
	}
	/* data allocations that wrap round region 0 must not land on the rings */
	e->gm.r[0].data_start = RTE_ALIGN_CEIL(e->gm.r[0].brk, 4096);
	snprintf(name, sizeof(name), "tpacked%u", penv_seq++);
	e->mp = rte_pktmbuf_pool_create(name, 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	snprintf(name, sizeof(name), "tpackedbig%u", penv_seq);
	e->mp_big = rte_pktmbuf_pool_create(
			name, 63, 0, 0, 16384 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
	if (e->mp == NULL || e->mp_big == NULL)
		return -ENOMEM;
	return 0;
}

void
penv_fini(struct penv *e)
{
	int q;

	if (!e->live)
		return;
	tdev_free(e->dev);
	for (q = 0; q < 2; q++)
		pring_fini(&e->g[q]);
	free(e->log);
	gmem_fini(&e->gm);
	rte_mempool_free(e->mp);
	rte_mempool_free(e->mp_big);
	memset(e, 0, sizeof(*e));
}

static int
penv_teardown(void *obj, int status)
{
	RTE_SET_USED(status);
	penv_fini(obj);
	return TEST_SUCCESS;
}

const struct vhu_test_fixture vhu_fixture_penv = VHU_FIXTURE_INIT(penv, NULL, penv_teardown);

void
penv_restart(struct penv *e, int q)
{
	tvq_restart(e->dev, (uint16_t)q);
}

static uint64_t
read_counter(int fd)
{
	eventfd_t v = 0;

	if (fd < 0 || eventfd_read(fd, &v) != 0)
		return 0;
	return v;
}

uint64_t
penv_calls(struct penv *e, int q)
{
	return read_counter(e->callfd[q]);
}

uint64_t
penv_errs(struct penv *e, int q)
{
	return read_counter(e->errfd[q]);
}

int
penv_log_start(struct penv *e)
{
	uint64_t top = e->gm.r[e->gm.n - 1].gpa + e->gm.r[e->gm.n - 1].size;

	e->log_size = top / VHU_LOG_PAGE / 8 + 1;
	e->log = calloc(1, e->log_size);
	if (e->log == NULL)
		return -ENOMEM;
	e->dev->log_base = e->log;
	e->dev->log_size = e->log_size;
	e->dev->features |= VHU_BIT(VHU_F_LOG_ALL);
	e->dev->log_all = true;
	return 0;
}

bool
penv_log_test(const struct penv *e, uint64_t gpa)
{
	uint64_t page = gpa / VHU_LOG_PAGE;

	return page / 8 < e->log_size && (e->log[page / 8] & (1u << (page % 8))) != 0;
}

void
penv_log_clear(struct penv *e)
{
	memset(e->log, 0, e->log_size);
}

static uint64_t cross_off;

int
ptx_send(struct penv *e, const void *frame, uint32_t len, const struct vhu_net_hdr *hdr,
		enum tx_layout layout, bool indirect)
{
	uint32_t hlen = e->dev->hdr_len, total = hlen + len, nseg = 0, i;
	struct gseg seg[GBUF_MAX_SEG];
	struct vhu_net_hdr zero;
	uint64_t gpa;

	if (hdr == NULL) {
		memset(&zero, 0, sizeof(zero));
		hdr = &zero;
	}
	if (layout == TXL_CROSS) {
		/* straddle the end of region 0, at a moving offset */
		if (e->gm.n < 2 || total / 2 + 1088 > CROSS_WINDOW)
			return -1;
		cross_off = (cross_off + 64) % 1024;
		gpa = e->gm.r[0].gpa + e->gm.r[0].size - total / 2 - cross_off;
	} else {
		gpa = gmem_alloc(&e->gm, e->gm.n > 1 ? 1 : 0, total, 64);
		if (gpa == 0)
			return -1;
	}
	if (gmem_write(&e->gm, gpa, hdr, hlen) != 0 ||
			gmem_write(&e->gm, gpa + hlen, frame, len) != 0)
		return -1;
	switch (layout) {
	case TXL_ONE:
	case TXL_CROSS:
		seg[nseg++] = (struct gseg){ gpa, total };
		break;
	case TXL_HDR_SEP:
		seg[nseg++] = (struct gseg){ gpa, hlen };
		seg[nseg++] = (struct gseg){ gpa + hlen, len };
		break;
	case TXL_HDR_SPLIT:
		seg[nseg++] = (struct gseg){ gpa, 5 };
		seg[nseg++] = (struct gseg){ gpa + 5, hlen - 5 + 7 };
		seg[nseg++] = (struct gseg){ gpa + hlen + 7, (len - 7) / 2 };
		seg[nseg++] = (struct gseg){ gpa + hlen + 7 + (len - 7) / 2,
			len - 7 - (len - 7) / 2 };
		break;
	case TXL_CHUNKS: {
		uint32_t piece = total / 5, at = 0;

		for (i = 0; i < 5; i++) {
			uint32_t l = i < 4 ? piece : total - at;

			seg[nseg++] = (struct gseg){ gpa + at, l };
			at += l;
		}
		break;
	}
	}
	return pring_post(&e->g[1], seg, nseg, false, indirect);
}

static uint32_t rx_rr;

int
prx_post(struct penv *e, uint32_t len, uint32_t nseg, bool indirect)
{
	struct gseg seg[GBUF_MAX_SEG];
	uint32_t piece, at = 0, i;
	uint64_t gpa;

	if (nseg == 0 || nseg > GBUF_MAX_SEG || len < nseg)
		return -1;
	gpa = gmem_alloc(&e->gm, (rx_rr++) % e->gm.n, len, 64);
	if (gpa == 0)
		return -1;
	/* poison so a test sees what the device did not write */
	memset(gmem_host(&e->gm, gpa), 0xa5, len);
	piece = len / nseg;
	for (i = 0; i < nseg; i++) {
		uint32_t l = i + 1 < nseg ? piece : len - at;

		seg[i] = (struct gseg){ gpa + at, l };
		at += l;
	}
	return pring_post(&e->g[0], seg, nseg, true, indirect);
}

/* Gather the first len bytes written into buffer id (already popped: segments kept). */
static int
gather(struct penv *e, uint32_t id, uint8_t *out, uint32_t len)
{
	struct pbuf *b;
	uint32_t i, at = 0;

	if (id >= e->g[0].size)
		return -1;
	b = &e->g[0].bufs[id];
	for (i = 0; i < b->nseg && at < len; i++) {
		uint32_t l = RTE_MIN(len - at, b->seg[i].len);

		if (gmem_read(&e->gm, b->seg[i].gpa, out + at, l) != 0)
			return -1;
		at += l;
	}
	return at == len ? 0 : -1;
}

int
prx_recv(struct penv *e, void *out, uint32_t cap, struct vhu_net_hdr *hdr)
{
	uint32_t hlen = e->dev->hdr_len, id, len, nbuf, k, flen;
	static uint8_t tmp[128 * 1024];
	bool mrg = (e->dev->features & VHU_BIT(VHU_F_NET_MRG_RXBUF)) != 0;

	if (pring_pop(&e->g[0], &id, &len) != 1)
		return 0;
	if (len < hlen || len > sizeof(tmp) || gather(e, id, tmp, len) != 0)
		return -1;
	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr, tmp, hlen);
	flen = len - hlen;
	nbuf = mrg ? hdr->num_buffers : 1;
	if (nbuf == 0)
		return -1;
	for (k = 1; k < nbuf; k++) {
		if (pring_pop(&e->g[0], &id, &len) != 1)
			return -1;
		if (hlen + flen + len > sizeof(tmp) || gather(e, id, tmp + hlen + flen, len) != 0)
			return -1;
		flen += len;
	}
	if (flen > cap)
		return -1;
	memcpy(out, tmp + hlen, flen);
	return (int)flen;
}

uint32_t
ptx_reclaim(struct penv *e)
{
	uint32_t id, len, n = 0;

	while (pring_pop(&e->g[1], &id, &len) == 1)
		n++;
	return n;
}
