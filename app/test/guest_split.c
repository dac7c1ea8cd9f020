/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Guest-side split-ring driver and hand-built device for datapath tests. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "guest_split.h"
#include "vhu_dev.h"
#include "vhu_dev_table.h"
#include "vhu_guard.h"
#include "vhu_mem.h"
#include "vhu_vq.h"
#include "vhu_test.h"

#define CROSS_WINDOW (64u * 1024u) /* kept free on each side of a region boundary */
#define GPA_BASE     0x100000ull

/* One region of size bytes at gpa: a memfd the library maps itself. */
static int
gmem_add_region(struct gmem *gm, uint64_t gpa, uint64_t size)
{
	struct vhu_mem_region_desc d = {
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = GMEM_UVA_BASE + gpa,
		.mmap_offset = 0,
	};
	struct vhu_mem_region *r = NULL;
	struct vhu_mem *m = NULL;
	const char *why = NULL;
	int fd, rc;

	fd = memfd_create("vhu-test-guest", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
	if (rc == 0)
		rc = vhu_mem_region_map(&d, fd, &r, &why);
	close(fd);
	if (rc == 0) {
		rc = vhu_mem_with(gm->mem, r, GMEM_MAX_REGIONS, &m, &why);
		if (rc != 0)
			vhu_mem_region_unmap(r);
	}
	if (rc != 0) {
		fprintf(stderr, "    guest memory region at %#" PRIx64 ": %s\n", gpa,
				why != NULL ? why : strerror(-rc));
		return rc;
	}
	vhu_mem_free(gm->mem);
	gm->mem = m;
	gm->r[gm->n].host = (uint8_t *)(uintptr_t)r->host;
	gm->r[gm->n].gpa = gpa;
	gm->r[gm->n].size = size;
	gm->r[gm->n].data_start = gm->n == 0 ? 0 : CROSS_WINDOW;
	gm->r[gm->n].brk = gm->r[gm->n].data_start;
	gm->n++;
	return 0;
}

int
gmem_init(struct gmem *gm, uint32_t nregions, uint64_t size, bool adjacent)
{
	uint64_t gpa = GPA_BASE;
	uint32_t i;
	int rc;

	memset(gm, 0, sizeof(*gm));
	if (nregions == 0 || nregions > GMEM_MAX_REGIONS)
		return -EINVAL;
	for (i = 0; i < nregions; i++) {
		rc = gmem_add_region(gm, gpa, size);
		if (rc != 0) {
			gmem_fini(gm);
			return rc;
		}
		gpa += size + (adjacent ? 0 : 0x100000ull);
	}
	return 0;
}

void
gmem_fini(struct gmem *gm)
{
	/* the table's references are the only ones: this unmaps every region */
	vhu_mem_free(gm->mem);
	memset(gm, 0, sizeof(*gm));
}

uint64_t
gmem_alloc(struct gmem *gm, uint32_t r, uint64_t len, uint64_t align)
{
	uint64_t end, at;

	if (r >= gm->n || align == 0)
		return 0;
	end = gm->r[r].size - (r + 1 < gm->n ? CROSS_WINDOW : 0);
	at = RTE_ALIGN_CEIL(gm->r[r].brk, align);
	if (at + len > end) {
		/* wrap: tests keep far less than a region in flight */
		at = RTE_ALIGN_CEIL(gm->r[r].data_start, align);
		if (at + len > end)
			return 0;
	}
	gm->r[r].brk = at + len;
	return gm->r[r].gpa + at;
}

void *
gmem_host(const struct gmem *gm, uint64_t gpa)
{
	uint32_t i;

	for (i = 0; i < gm->n; i++)
		if (gpa >= gm->r[i].gpa && gpa < gm->r[i].gpa + gm->r[i].size)
			return gm->r[i].host + (gpa - gm->r[i].gpa);
	return NULL;
}

static int
gmem_copy(const struct gmem *gm, uint64_t gpa, void *buf, uint64_t len, bool to_guest)
{
	uint8_t *b = buf;

	while (len != 0) {
		uint32_t i;
		uint64_t l = 0;
		uint8_t *h = NULL;

		for (i = 0; i < gm->n; i++) {
			if (gpa >= gm->r[i].gpa && gpa < gm->r[i].gpa + gm->r[i].size) {
				h = gm->r[i].host + (gpa - gm->r[i].gpa);
				l = RTE_MIN(len, gm->r[i].gpa + gm->r[i].size - gpa);
				break;
			}
		}
		if (h == NULL)
			return -EFAULT;
		if (to_guest)
			memcpy(h, b, l);
		else
			memcpy(b, h, l);
		b += l;
		gpa += l;
		len -= l;
	}
	return 0;
}

int
gmem_write(const struct gmem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	return gmem_copy(gm, gpa, (void *)(uintptr_t)src, len, true);
}

int
gmem_read(const struct gmem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	return gmem_copy(gm, gpa, dst, len, false);
}

int
gring_init(struct gring *g, struct gmem *gm, uint16_t size, bool inorder)
{
	uint16_t i;

	memset(g, 0, sizeof(*g));
	g->gm = gm;
	g->size = size;
	g->inorder = inorder;
	g->desc_gpa = gmem_alloc(gm, 0, 16ull * size, 4096);
	g->avail_gpa = gmem_alloc(gm, 0, 6ull + 2ull * size, 4096);
	g->used_gpa = gmem_alloc(gm, 0, 6ull + 8ull * size, 4096);
	if (g->desc_gpa == 0 || g->avail_gpa == 0 || g->used_gpa == 0)
		return -ENOMEM;
	g->desc = gmem_host(gm, g->desc_gpa);
	g->avail = gmem_host(gm, g->avail_gpa);
	g->used = gmem_host(gm, g->used_gpa);
	memset(g->desc, 0, 16ull * size);
	memset(g->avail, 0, 6ull + 2ull * size);
	memset(g->used, 0, 6ull + 8ull * size);
	g->free = calloc(size, sizeof(*g->free));
	g->bufs = calloc(size, sizeof(*g->bufs));
	if (g->free == NULL || g->bufs == NULL)
		return -ENOMEM;
	for (i = 0; i < size; i++)
		g->free[i] = (uint16_t)(size - 1 - i);
	g->nfree = size;
	return 0;
}

void
gring_fini(struct gring *g)
{
	free(g->free);
	free(g->bufs);
	memset(g, 0, sizeof(*g));
}

static int
take_desc(struct gring *g)
{
	if (g->inorder) {
		uint16_t d = g->next_desc;

		if (g->nfree == 0)
			return -1;
		g->next_desc = (uint16_t)((d + 1) & (g->size - 1));
		g->nfree--;
		return d;
	}
	if (g->nfree == 0)
		return -1;
	return g->free[--g->nfree];
}

void
gring_publish(struct gring *g)
{
	__atomic_store_n(&g->avail->idx, g->avail_idx, __ATOMIC_RELEASE);
}

int
gring_post(struct gring *g, const struct gseg *seg, uint32_t nseg, bool write, bool indirect)
{
	uint16_t flag = write ? VHU_DESC_F_WRITE : 0;
	struct gbuf *b;
	int head, d, prev = -1;
	uint32_t i;

	if (nseg == 0 || nseg > GBUF_MAX_SEG || g->nfree < (indirect ? 1 : nseg))
		return -1;
	if (indirect) {
		uint64_t tgpa = gmem_alloc(g->gm, 0, 16ull * nseg, 16);
		struct vhu_vring_desc *t = gmem_host(g->gm, tgpa);

		if (tgpa == 0)
			return -1;
		for (i = 0; i < nseg; i++) {
			t[i].addr = seg[i].gpa;
			t[i].len = seg[i].len;
			t[i].flags = (uint16_t)(flag | (i + 1 < nseg ? VHU_DESC_F_NEXT : 0));
			t[i].next = (uint16_t)(i + 1 < nseg ? i + 1 : 0);
		}
		head = take_desc(g);
		g->desc[head].addr = tgpa;
		g->desc[head].len = 16 * nseg;
		g->desc[head].flags = VHU_DESC_F_INDIRECT;
		g->desc[head].next = 0;
		b = &g->bufs[head];
		b->ndesc = 1;
		b->desc[0] = (uint16_t)head;
	} else {
		head = -1;
		b = NULL;
		for (i = 0; i < nseg; i++) {
			d = take_desc(g);
			if (head < 0) {
				head = d;
				b = &g->bufs[head];
				b->ndesc = 0;
			}
			g->desc[d].addr = seg[i].gpa;
			g->desc[d].len = seg[i].len;
			g->desc[d].flags = flag;
			g->desc[d].next = 0;
			if (prev >= 0) {
				g->desc[prev].flags |= VHU_DESC_F_NEXT;
				g->desc[prev].next = (uint16_t)d;
			}
			b->desc[b->ndesc++] = (uint16_t)d;
			prev = d;
		}
	}
	b->inuse = true;
	b->nseg = nseg;
	memcpy(b->seg, seg, nseg * sizeof(*seg));
	g->avail->ring[g->avail_idx & (g->size - 1)] = (uint16_t)head;
	g->avail_idx++;
	gring_publish(g);
	return head;
}

int
gring_pop(struct gring *g, uint32_t *id, uint32_t *len)
{
	uint16_t idx = __atomic_load_n(&g->used->idx, __ATOMIC_ACQUIRE);
	struct vhu_vring_used_elem *e;
	struct gbuf *b;
	uint16_t k;

	if (idx == g->used_idx)
		return 0;
	e = &g->used->ring[g->used_idx & (g->size - 1)];
	g->used_idx++;
	*id = e->id;
	*len = e->len;
	if (e->id >= g->size)
		return 1;
	b = &g->bufs[e->id];
	if (b->inuse) {
		b->inuse = false;
		if (!g->inorder)
			for (k = 0; k < b->ndesc; k++)
				g->free[g->nfree++] = b->desc[k];
		else
			g->nfree = (uint16_t)(g->nfree + b->ndesc);
	}
	return 1;
}

/* ---- rings of a hand-built device, set up through the library ---- */

static int
tvq_refresh(struct vhu_dev *dev, struct vhu_vq *vq)
{
	int rc;

	vhu_guard_close(&vq->guard);
	rc = vhu_dev_vq_refresh(dev, vq);
	vhu_guard_open(&vq->guard);
	return rc;
}

int
tvq_add(struct vhu_dev *dev, uint16_t index, uint16_t size, uint64_t desc_gpa, uint64_t avail_gpa,
		uint64_t used_gpa)
{
	struct vhu_vq *vq;
	int rc;

	if (index >= VHU_MAX_VRINGS || dev->vq[index] != NULL)
		return -EINVAL;
	vq = vhu_vq_alloc(index);
	if (vq == NULL)
		return -ENOMEM;
	dev->vq[index] = vq;
	if (dev->nr_vring <= index)
		dev->nr_vring = index + 1u;
	/* SET_VRING_NUM */
	vq->num = size;
	vq->size = size;
	vq->num_set = true;
	/* SET_VRING_BASE 0 (packed: both wrap counters 1) */
	vq->avail_wrap = true;
	vq->used_wrap = true;
	/* SET_VRING_ADDR: the front-end's addresses, used ring logged */
	vq->addr.index = index;
	vq->addr.flags = 1u << VHU_VRING_F_LOG;
	vq->addr.desc_user_addr = GMEM_UVA_BASE + desc_gpa;
	vq->addr.avail_user_addr = GMEM_UVA_BASE + avail_gpa;
	vq->addr.used_user_addr = GMEM_UVA_BASE + used_gpa;
	vq->addr.log_guest_addr = used_gpa;
	vq->addr_set = true;
	/* SET_VRING_CALL, SET_VRING_ERR: eventfds the ring owns */
	vq->callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->errfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->callfd < 0 || vq->errfd < 0)
		return -errno;
	/* a kick starts it, SET_VRING_ENABLE enables it */
	vq->started = true;
	vq->enabled = true;
	rc = tvq_refresh(dev, vq);
	if (rc == 0 && !vq->active)
		rc = -EINVAL;
	return rc;
}

int
tvq_state(struct vhu_dev *dev, uint16_t index, bool started, bool enabled)
{
	struct vhu_vq *vq = dev->vq[index];

	vq->started = started;
	vq->enabled = enabled;
	return tvq_refresh(dev, vq);
}

int
tvq_base(struct vhu_dev *dev, uint16_t index, uint32_t num)
{
	struct vhu_vq *vq = dev->vq[index];
	bool enabled = vq->enabled;
	int rc;

	rc = tvq_state(dev, index, false, enabled);
	if (rc != 0)
		return rc;
	if (vq->packed) {
		vq->last_avail_idx = (uint16_t)(num & 0x7fff);
		vq->avail_wrap = (num >> 15) & 1;
		vq->last_used_idx = vq->last_avail_idx;
		vq->used_wrap = vq->avail_wrap;
	} else {
		vq->last_avail_idx = (uint16_t)num;
		vq->last_used_idx = (uint16_t)num;
	}
	return tvq_state(dev, index, true, enabled);
}

int
tvq_restart(struct vhu_dev *dev, uint16_t index)
{
	struct vhu_vq *vq = dev->vq[index];
	bool enabled = vq->enabled;
	int rc;

	rc = tvq_state(dev, index, false, enabled);
	return rc != 0 ? rc : tvq_state(dev, index, true, enabled);
}

void
tvq_del_all(struct vhu_dev *dev)
{
	uint32_t q;

	for (q = 0; q < VHU_MAX_VRINGS; q++) {
		if (dev->vq[q] == NULL)
			continue;
		tvq_state(dev, (uint16_t)q, false, false);
		vhu_vq_free(dev->vq[q]);
		dev->vq[q] = NULL;
	}
	dev->nr_vring = 0;
}

/* A device with no rings yet, in the device table. */
struct vhu_dev *
tdev_new(struct gmem *gm, uint64_t features, uint64_t sock_flags, const char *name)
{
	struct vhu_dev *dev = calloc(1, sizeof(*dev));

	if (dev == NULL)
		return NULL;
	dev->vid = -1;
	dev->mem = gm->mem;
	dev->features = features;
	dev->sock_flags = sock_flags;
	/* what SET_FEATURES makes of them */
	dev->hdr_len = (features & (VHU_BIT(VHU_F_VERSION_1) | VHU_BIT(VHU_F_NET_MRG_RXBUF))) ? 12 :
												10;
	dev->connfd = -1;
	dev->backend_fd = -1;
	dev->inflight_fd = -1;
	dev->state_fd = -1;
	snprintf(dev->ifname, sizeof(dev->ifname), "%s", name);
	if (vhu_dev_table_add(dev) != 0) {
		free(dev);
		return NULL;
	}
	return dev;
}

void
tdev_free(struct vhu_dev *dev)
{
	if (dev == NULL)
		return;
	vhu_dev_table_del(dev);
	tvq_del_all(dev);
	free(dev);
}

/* ---- the split-ring environment ---- */

static unsigned int tenv_seq;

int
tenv_init(struct tenv *e, uint64_t features, uint64_t sock_flags, uint16_t qsize, uint32_t nregions)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	int q, rc;

	memset(e, 0, sizeof(*e));
	e->live = true;
	e->callfd[0] = e->callfd[1] = e->errfd[0] = e->errfd[1] = -1;
	rc = gmem_init(&e->gm, nregions, 8u << 20, true);
	if (rc != 0)
		return rc;
	snprintf(name, sizeof(name), "test-split-%u", tenv_seq);
	e->dev = tdev_new(&e->gm, features, sock_flags, name);
	if (e->dev == NULL)
		return -ENOMEM;
	for (q = 0; q < 2; q++) {
		struct gring *g = &e->g[q];

		rc = gring_init(g, &e->gm, qsize, (features & VHU_BIT(VHU_F_IN_ORDER)) != 0);
		if (rc != 0)
			return rc;
		rc = tvq_add(e->dev, (uint16_t)q, qsize, g->desc_gpa, g->avail_gpa, g->used_gpa);
		if (rc != 0)
			return rc;
		e->vq[q] = e->dev->vq[q];
		e->callfd[q] = e->vq[q]->callfd;
		e->errfd[q] = e->vq[q]->errfd;
	}
	snprintf(name, sizeof(name), "tsplit%u", tenv_seq++);
	e->mp = rte_pktmbuf_pool_create(name, 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	snprintf(name, sizeof(name), "tsplitbig%u", tenv_seq);
	e->mp_big = rte_pktmbuf_pool_create(
			name, 63, 0, 0, 16384 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
	if (e->mp == NULL || e->mp_big == NULL)
		return -ENOMEM;
	return 0;
}

void
tenv_fini(struct tenv *e)
{
	int q;

	if (!e->live)
		return;
	tdev_free(e->dev);
	for (q = 0; q < 2; q++)
		gring_fini(&e->g[q]);
	free(e->log);
	gmem_fini(&e->gm);
	rte_mempool_free(e->mp);
	rte_mempool_free(e->mp_big);
	memset(e, 0, sizeof(*e));
}

static int
tenv_teardown(void *obj, int status)
{
	RTE_SET_USED(status);
	tenv_fini(obj);
	return TEST_SUCCESS;
}

const struct vhu_test_fixture vhu_fixture_tenv = VHU_FIXTURE_INIT(tenv, NULL, tenv_teardown);

static uint64_t
read_counter(int fd)
{
	eventfd_t v = 0;

	if (fd < 0 || eventfd_read(fd, &v) != 0)
		return 0;
	return v;
}

uint64_t
tenv_calls(struct tenv *e, int q)
{
	return read_counter(e->callfd[q]);
}

uint64_t
tenv_errs(struct tenv *e, int q)
{
	return read_counter(e->errfd[q]);
}

int
tenv_log_start(struct tenv *e)
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
tenv_log_test(const struct tenv *e, uint64_t gpa)
{
	uint64_t page = gpa / VHU_LOG_PAGE;

	return page / 8 < e->log_size && (e->log[page / 8] & (1u << (page % 8))) != 0;
}

void
tenv_log_clear(struct tenv *e)
{
	memset(e->log, 0, e->log_size);
}

static uint64_t cross_off;

int
tx_send(struct tenv *e, const void *frame, uint32_t len, const struct vhu_net_hdr *hdr,
		enum tx_layout layout, bool indirect)
{
	uint32_t hlen = e->dev->hdr_len, total = hlen + len, nseg = 0, i;
	struct vhu_net_hdr zero;
	struct gseg seg[GBUF_MAX_SEG];
	uint64_t gpa;

	if (hdr == NULL) {
		memset(&zero, 0, sizeof(zero));
		hdr = &zero;
	}
	if (layout == TXL_CROSS) {
		/* straddle the end of region 0, at a moving offset */
		if (e->gm.n < 2 || total / 2 + 64 > CROSS_WINDOW)
			return -1;
		cross_off = (cross_off + 64) % 1024;
		gpa = e->gm.r[0].gpa + e->gm.r[0].size - total / 2 - cross_off;
		if (gpa + total > e->gm.r[1].gpa + CROSS_WINDOW)
			return -1;
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
	return gring_post(&e->g[1], seg, nseg, false, indirect);
}

static uint32_t rx_rr;

int
rx_post(struct tenv *e, uint32_t len, uint32_t nseg, bool indirect)
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
	{
		uint8_t *h = gmem_host(&e->gm, gpa);

		memset(h, 0xa5, len);
	}
	piece = len / nseg;
	for (i = 0; i < nseg; i++) {
		uint32_t l = i + 1 < nseg ? piece : len - at;

		seg[i] = (struct gseg){ gpa + at, l };
		at += l;
	}
	return gring_post(&e->g[0], seg, nseg, true, indirect);
}

int
rx_post_pieces(struct tenv *e, const uint32_t *lens, uint32_t n, bool indirect)
{
	struct gseg seg[GBUF_MAX_SEG];
	uint32_t i;

	if (n == 0 || n > GBUF_MAX_SEG)
		return -1;
	for (i = 0; i < n; i++) {
		/* each piece on its own, so pieces are not contiguous */
		seg[i].gpa = gmem_alloc(&e->gm, (rx_rr++) % e->gm.n, lens[i] + 64, 64) + 64;
		seg[i].len = lens[i];
		if (seg[i].gpa == 64)
			return -1;
		memset(gmem_host(&e->gm, seg[i].gpa), 0xa5, lens[i]);
	}
	return gring_post(&e->g[0], seg, n, true, indirect);
}

/* Gather the first len bytes written into the buffer at head. */
static int
gather(struct tenv *e, uint32_t head, uint8_t *out, uint32_t len)
{
	struct gbuf *b;
	uint32_t i, at = 0;

	if (head >= e->g[0].size)
		return -1;
	b = &e->g[0].bufs[head];
	for (i = 0; i < b->nseg && at < len; i++) {
		uint32_t l = RTE_MIN(len - at, b->seg[i].len);

		if (gmem_read(&e->gm, b->seg[i].gpa, out + at, l) != 0)
			return -1;
		at += l;
	}
	return at == len ? 0 : -1;
}

int
rx_recv(struct tenv *e, void *out, uint32_t cap, struct vhu_net_hdr *hdr)
{
	uint32_t hlen = e->dev->hdr_len, id, len, nbuf, k, flen;
	static uint8_t tmp[128 * 1024];
	bool mrg = (e->dev->features & VHU_BIT(VHU_F_NET_MRG_RXBUF)) != 0;

	if (gring_pop(&e->g[0], &id, &len) == 0)
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
		if (gring_pop(&e->g[0], &id, &len) == 0)
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

void
make_frame(uint8_t *buf, uint32_t len, uint32_t seed)
{
	static const uint8_t hdr[14] = {
		0x02,
		0,
		0,
		0,
		0,
		0x01,
		0x02,
		0,
		0,
		0,
		0,
		0x02,
		0x88,
		0xb5,
	};
	uint32_t i;

	for (i = 0; i < len; i++)
		buf[i] = i < sizeof(hdr) ? hdr[i] : (uint8_t)(seed * 31 + i * 7);
}

int
mbuf_cmp(const struct rte_mbuf *m, const uint8_t *exp, uint32_t len)
{
	static uint8_t tmp[128 * 1024];
	const uint8_t *p;

	if (m->pkt_len != len || len > sizeof(tmp))
		return -1;
	p = rte_pktmbuf_read(m, 0, len, tmp);
	if (p == NULL)
		return -1;
	return memcmp(p, exp, len) == 0 ? 0 : -1;
}

struct rte_mbuf *
mbuf_make(struct rte_mempool *mp, const uint8_t *data, uint32_t len, uint32_t seg)
{
	struct rte_mbuf *head = NULL, *last = NULL;
	uint32_t at = 0;

	do {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		uint32_t l;
		char *p;

		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		/* seg 0: as few segments as the pool's buffers allow */
		l = RTE_MIN(seg != 0 ? seg : rte_pktmbuf_tailroom(m), len - at);
		if (l > rte_pktmbuf_tailroom(m)) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(head);
			return NULL;
		}
		p = rte_pktmbuf_append(m, (uint16_t)l);
		memcpy(p, data + at, l);
		at += l;
		if (head == NULL) {
			head = m;
		} else {
			last->next = m;
			head->nb_segs++;
			head->pkt_len += l;
		}
		last = m;
	} while (at < len);
	return head;
}
