/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The device IOTLB: its entries, the translation tables built from them,
 * ring areas translated through it, and miss requests on the back-end
 * channel (vhu_iotlb.h).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_spinlock.h>

#include "vhu_iotlb.h"
#include "vhu_log.h"

const char vhu_iotlb_miss_why[] = "IOTLB miss";

/* ---- entries ---- */

struct vhu_iotlb *
vhu_iotlb_new(uint32_t cap)
{
	struct vhu_iotlb *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cap = cap != 0 ? cap : VHU_IOTLB_MAX_ENTRIES;
	t->e = calloc(t->cap, sizeof(t->e[0]));
	if (t->e == NULL) {
		free(t);
		return NULL;
	}
	t->evict_seed = 0x9e3779b9u;
	return t;
}

void
vhu_iotlb_free(struct vhu_iotlb *t)
{
	if (t == NULL)
		return;
	vhu_mem_free(t->rd);
	vhu_mem_free(t->wr);
	vhu_mem_free(t->all);
	free(t->e);
	free(t);
}

/*
 * Cut [lo, hi) out of the entries (hi == 0: to the top). One entry
 * strictly containing the range becomes two, so the list may grow by one:
 * the caller leaves room.
 */
static void
cut(struct vhu_iotlb *t, uint64_t lo, uint64_t hi)
{
	uint32_t i, j = 0, n = t->n;
	struct vhu_iotlb_entry split = { 0 };
	bool have_split = false;

	for (i = 0; i < n; i++) {
		struct vhu_iotlb_entry e = t->e[i];
		bool below = e.end <= lo;
		bool above = hi != 0 && e.iova >= hi;

		if (below || above) {
			t->e[j++] = e;
			continue;
		}
		/* e overlaps the range: keep what lies outside it */
		if (e.iova < lo && (hi != 0 && e.end > hi)) {
			split = e;
			split.uaddr = e.uaddr + (hi - e.iova);
			split.iova = hi;
			have_split = true;
			e.end = lo;
			t->e[j++] = e;
		} else if (e.iova < lo) {
			e.end = lo;
			t->e[j++] = e;
		} else if (hi != 0 && e.end > hi) {
			e.uaddr += hi - e.iova;
			e.iova = hi;
			t->e[j++] = e;
		}
	}
	t->n = j;
	if (have_split) {
		/* it goes right after its left half, which sorts before it */
		for (i = 0; i < t->n && t->e[i].iova < split.iova; i++)
			;
		memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof(t->e[0]));
		t->e[i] = split;
		t->n++;
	}
}

int
vhu_iotlb_update(struct vhu_iotlb *t, uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm)
{
	struct vhu_iotlb_entry e = {
		.iova = iova, .end = iova + size, .uaddr = uaddr, .perm = perm
	};
	uint32_t i;

	/* room for a split in cut() and for the new entry */
	while (t->n + 2 > t->cap) {
		uint32_t victim;

		t->evict_seed = t->evict_seed * 1103515245u + 12345u;
		victim = (t->evict_seed >> 8) % t->n;
		memmove(&t->e[victim], &t->e[victim + 1], (t->n - victim - 1) * sizeof(t->e[0]));
		t->n--;
		t->evictions++;
	}
	cut(t, e.iova, e.end);
	for (i = 0; i < t->n && t->e[i].iova < e.iova; i++)
		;
	memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof(t->e[0]));
	t->e[i] = e;
	t->n++;
	t->updates++;
	return 0;
}

int
vhu_iotlb_invalidate(struct vhu_iotlb *t, uint64_t iova, uint64_t size)
{
	uint64_t hi = iova + size;

	/* size 0 or a range past the top: everything from iova up */
	if (size == 0 || hi < iova)
		hi = 0;
	if (t->n + 1 > t->cap) {
		/* no room for a split: forget the entries the range touches whole */
		uint32_t i;

		for (i = 0; i < t->n; i++) {
			if (t->e[i].end > iova && (hi == 0 || t->e[i].iova < hi)) {
				if (t->e[i].iova < iova)
					iova = t->e[i].iova;
				if (hi != 0 && t->e[i].end > hi)
					hi = t->e[i].end;
			}
		}
	}
	cut(t, iova, hi);
	t->invalidations++;
	return 0;
}

void
vhu_iotlb_flush(struct vhu_iotlb *t)
{
	t->n = 0;
}

/* ---- tables ---- */

struct builder {
	struct vhu_mem *m;
	struct vhu_mem_region *last;
};

/* Append [iova, iova + len) at host (front-end address uva), merging with the last piece. */
static int
add_piece(struct builder *b, uint64_t iova, uint64_t len, uint64_t host, uint64_t uva)
{
	struct vhu_mem_region *r = b->last;

	if (r != NULL && r->gpa_end == iova && r->host + r->size == host &&
			r->uva + r->size == uva) {
		r->size += len;
		r->gpa_end += len;
		return 0;
	}
	if (b->m->nregions == b->m->capacity)
		return -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->gpa = iova;
	r->size = len;
	r->gpa_end = iova + len;
	r->uva = uva;
	r->host = host;
	r->fd = -1;
	r->refs = 1;
	b->m->regions[b->m->nregions++] = r;
	b->last = r;
	return 0;
}

/* The memory region holding front-end address uva, or NULL. */
static const struct vhu_mem_region *
region_of_uva(const struct vhu_mem *mem, uint64_t uva)
{
	uint32_t i;

	if (mem == NULL)
		return NULL;
	for (i = 0; i < mem->nregions; i++) {
		const struct vhu_mem_region *r = mem->regions[i];

		if (uva >= r->uva && uva - r->uva < r->size)
			return r;
	}
	return NULL;
}

/* The parts of e that lie in guest memory, into b. */
static int
add_translated(struct builder *b, const struct vhu_iotlb_entry *e, const struct vhu_mem *mem)
{
	uint64_t iova = e->iova, uva = e->uaddr, rem = e->end - e->iova;

	while (rem != 0) {
		const struct vhu_mem_region *r = region_of_uva(mem, uva);
		uint64_t len;
		int rc;

		/* the rest is not guest memory: an access there is a fault */
		if (r == NULL)
			return 0;
		len = RTE_MIN(rem, r->size - (uva - r->uva));
		rc = add_piece(b, iova, len, r->host + (uva - r->uva), uva);
		if (rc != 0)
			return rc;
		iova += len;
		uva += len;
		rem -= len;
	}
	return 0;
}

/* How many pieces the entries with access bit make over mem (before merging), + 1. */
static uint32_t
pieces_cap(const struct vhu_iotlb *t, const struct vhu_mem *mem, uint8_t bit)
{
	uint64_t n = 1;
	uint32_t i;

	for (i = 0; i < t->n; i++) {
		const struct vhu_iotlb_entry *e = &t->e[i];
		uint64_t uva = e->uaddr, rem = e->end - e->iova;

		if (!(e->perm & bit))
			continue;
		while (rem != 0) {
			const struct vhu_mem_region *r = region_of_uva(mem, uva);
			uint64_t len;

			if (r == NULL)
				break;
			len = RTE_MIN(rem, r->size - (uva - r->uva));
			n++;
			uva += len;
			rem -= len;
		}
	}
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int
vhu_iotlb_build(const struct vhu_iotlb *t, const struct vhu_mem *mem, struct vhu_mem **rd,
		struct vhu_mem **wr, struct vhu_mem **all)
{
	struct builder br, bw, ba;
	uint32_t i;
	int rc = 0;

	/* sized exactly: an entry may cross many of up to 509 regions */
	br.m = vhu_mem_new(pieces_cap(t, mem, VHU_ACCESS_RO));
	bw.m = vhu_mem_new(pieces_cap(t, mem, VHU_ACCESS_WO));
	ba.m = vhu_mem_new(t->n + 1);
	br.last = bw.last = ba.last = NULL;
	if (br.m == NULL || bw.m == NULL || ba.m == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < t->n && rc == 0; i++) {
		const struct vhu_iotlb_entry *e = &t->e[i];

		if (e->perm & VHU_ACCESS_RO)
			rc = add_translated(&br, e, mem);
		if (rc == 0 && (e->perm & VHU_ACCESS_WO))
			rc = add_translated(&bw, e, mem);
		/* not merged: each entry keeps its own front-end address */
		ba.last = NULL;
		if (rc == 0)
			rc = add_piece(&ba, e->iova, e->end - e->iova, 0, e->uaddr);
	}
	if (rc != 0)
		goto fail;
	*rd = br.m;
	*wr = bw.m;
	*all = ba.m;
	return 0;
fail:
	vhu_mem_free(br.m);
	vhu_mem_free(bw.m);
	vhu_mem_free(ba.m);
	return rc;
}

void
vhu_iotlb_adopt(struct vhu_iotlb *t, struct vhu_mem **rd, struct vhu_mem **wr, struct vhu_mem **all)
{
	struct vhu_mem *o;

	o = t->rd;
	t->rd = *rd;
	*rd = o;
	o = t->wr;
	t->wr = *wr;
	*wr = o;
	o = t->all;
	t->all = *all;
	*all = o;
}

struct vhu_mem *
vhu_iotlb_table_copy(const struct vhu_mem *m)
{
	struct vhu_mem *c;
	uint32_t i;

	if (m == NULL)
		return NULL;
	c = vhu_mem_new(m->nregions > 0 ? m->nregions : 1);
	if (c == NULL)
		return NULL;
	for (i = 0; i < m->nregions; i++) {
		c->regions[i] = m->regions[i];
		c->regions[i]->refs++;
	}
	c->nregions = m->nregions;
	return c;
}

/* The entry holding iova, or NULL. */
static const struct vhu_iotlb_entry *
find_entry(const struct vhu_iotlb *t, uint64_t iova)
{
	uint32_t lo = 0, hi = t->n;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		const struct vhu_iotlb_entry *e = &t->e[mid];

		if (iova < e->iova)
			hi = mid;
		else if (iova >= e->end)
			lo = mid + 1;
		else
			return e;
	}
	return NULL;
}

void
vhu_iotlb_alias_free(struct vhu_ring_alias *alias)
{
	if (alias->base != NULL)
		munmap(alias->base, alias->len);
	alias->base = NULL;
	alias->len = 0;
}

/* Our address of iova through entry e, or NULL when not guest memory for len bytes. */
static uint8_t *
entry_host(const struct vhu_iotlb_entry *e, const struct vhu_mem *mem, uint64_t iova, uint64_t len)
{
	return vhu_mem_uva_to_host(mem, e->uaddr + (iova - e->iova), len);
}

/* Map the pages of [iova, iova + len) again, in IOVA order, into one private area. */
static int
make_alias(const struct vhu_iotlb *t, const struct vhu_mem *mem, uint64_t iova, uint64_t len,
		void **host, struct vhu_ring_alias *alias)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), off = iova % pg, first = iova - off;
	size_t total = RTE_ALIGN_CEIL(off + len, pg), k;
	uint8_t *base;

	base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return -ENOMEM;
	for (k = 0; k < total; k += pg) {
		const struct vhu_iotlb_entry *e = find_entry(t, first + k);
		uint8_t *h = NULL;
		void *p;

		/* the whole page must be in one entry and in one guest region */
		if (e != NULL && e->end - (first + k) >= pg)
			h = entry_host(e, mem, first + k, pg);
		if (h == NULL || (uintptr_t)h % pg != 0) {
			munmap(base, total);
			return -EFAULT;
		}
		p = mremap(h, 0, pg, MREMAP_MAYMOVE | MREMAP_FIXED, base + k);
		if (p == MAP_FAILED) {
			munmap(base, total);
			return -EFAULT;
		}
	}
	alias->base = base;
	alias->len = total;
	*host = base + off;
	return 0;
}

int
vhu_iotlb_ring(const struct vhu_iotlb *t, const struct vhu_mem *mem, uint64_t iova, uint64_t len,
		uint8_t perm, void **host, uint64_t *miss, struct vhu_ring_alias *alias)
{
	uint64_t cur = iova, rem = len;
	uint8_t *start = NULL;
	bool contiguous = true;

	if (len == 0 || iova + len < iova)
		return -EFAULT;
	while (rem != 0) {
		const struct vhu_iotlb_entry *e = find_entry(t, cur);
		uint64_t piece;
		uint8_t *h;

		if (e == NULL) {
			*miss = cur;
			return -EAGAIN;
		}
		if ((e->perm & perm) != perm)
			return -EACCES;
		piece = RTE_MIN(rem, e->end - cur);
		h = entry_host(e, mem, cur, piece);
		if (h == NULL)
			return -EFAULT;
		if (start == NULL)
			start = h;
		else if (h != start + (cur - iova))
			contiguous = false;
		cur += piece;
		rem -= piece;
	}
	if (contiguous) {
		*host = start;
		return 0;
	}
	return make_alias(t, mem, iova, len, host, alias);
}

/* ---- misses ---- */

/* One IOTLB miss request on the back-end channel, never blocking. Caller holds backend_lock. */
static int
send_miss(struct vhu_dev *dev, uint64_t iova, uint8_t perm)
{
	struct {
		struct vhu_msg_hdr hdr;
		uint8_t payload[VHU_IOTLB_MSG_SIZE_PAD];
	} __attribute__((packed)) msg;
	struct vhu_iotlb_msg im = { .iova = iova, .size = 1, .perm = perm, .type = VHU_IOTLB_MISS };
	ssize_t n;

	if (dev->backend_fd < 0)
		return -ENOTCONN;
	memset(&msg, 0, sizeof(msg));
	msg.hdr.request = VHU_BREQ_IOTLB_MSG;
	msg.hdr.flags = VHU_FLAG_VERSION;
	/* the padded size, as the C struct QEMU and DPDK read */
	msg.hdr.size = VHU_IOTLB_MSG_SIZE_PAD;
	memcpy(msg.payload, &im, sizeof(im));
	n = send(dev->backend_fd, &msg, sizeof(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == (ssize_t)sizeof(msg))
		return 0;
	return n < 0 ? -errno : -EIO;
}

/* The pending miss for the page of iova that covers perm and is recent, or NULL. */
static struct vhu_iotlb_pending *
pending_find(struct vhu_iotlb *t, uint64_t iova, uint8_t perm, uint64_t now, uint64_t retry)
{
	uint64_t page = iova & ~(VHU_IOTLB_PAGE - 1);
	unsigned int i;

	for (i = 0; i < VHU_IOTLB_PENDING; i++) {
		struct vhu_iotlb_pending *p = &t->pending[i];

		if (p->tsc != 0 && (p->iova & ~(VHU_IOTLB_PAGE - 1)) == page &&
				(p->perm & perm) == perm && now - p->tsc < retry)
			return p;
	}
	return NULL;
}

/* A free slot, or the oldest one. */
static struct vhu_iotlb_pending *
pending_slot(struct vhu_iotlb *t)
{
	struct vhu_iotlb_pending *o = &t->pending[0];
	unsigned int i;

	for (i = 0; i < VHU_IOTLB_PENDING; i++) {
		if (t->pending[i].tsc == 0)
			return &t->pending[i];
		if (t->pending[i].tsc < o->tsc)
			o = &t->pending[i];
	}
	return o;
}

void
vhu_iotlb_miss(struct vhu_dev *dev, struct vhu_vq *vq, uint64_t iova, uint8_t perm)
{
	uint64_t now = rte_rdtsc() | 1;
	uint64_t retry = rte_get_tsc_hz() / 1000 * VHU_IOTLB_MISS_RETRY_MS;
	struct vhu_iotlb *t = dev->iotlb;
	struct vhu_iotlb_pending *p;
	int rc;

	rte_spinlock_lock(&dev->backend_lock);
	if (pending_find(t, iova, perm, now, retry) != NULL) {
		rte_spinlock_unlock(&dev->backend_lock);
		return;
	}
	rc = send_miss(dev, iova, perm);
	if (rc == 0) {
		p = pending_slot(t);
		p->iova = iova;
		p->perm = perm;
		p->tsc = now;
	}
	rte_spinlock_unlock(&dev->backend_lock);
	if (rc == 0) {
		vq->stats.iotlb_misses++;
		VHU_LOG_DATA(DEBUG, dev->ifname, "vring %u: IOTLB miss for IOVA 0x%" PRIx64 " (%s)",
				vq->index, iova, perm == VHU_ACCESS_RO ? "read" : "write");
		return;
	}
	/* a full channel: asked again on the next burst; no channel: say so */
	if (rc != -EAGAIN && rc != -EWOULDBLOCK && rte_rdtsc() - vq->err_miss_tsc > retry) {
		vq->err_miss_tsc = rte_rdtsc();
		VHU_LOG_DATA(ERR, dev->ifname, "vring %u: cannot ask for IOVA 0x%" PRIx64 ": %s",
				vq->index, iova,
				rc == -ENOTCONN ? "no back-end channel (SET_BACKEND_REQ_FD)" :
						  strerror(-rc));
	}
}

void
vhu_iotlb_ask_range(
		struct vhu_dev *dev, struct vhu_vq *vq, uint64_t iova, uint64_t len, uint8_t perm)
{
	uint64_t cur = iova, end = iova + len;
	unsigned int n;

	if (end < iova)
		end = UINT64_MAX;
	for (n = 0; cur < end && n < 256; n++) {
		const struct vhu_iotlb_entry *e = find_entry(dev->iotlb, cur);

		if (e != NULL) {
			if (e->end <= cur)
				break;
			cur = e->end;
			continue;
		}
		vhu_iotlb_miss(dev, vq, cur, perm);
		cur = (cur & ~(VHU_IOTLB_PAGE - 1)) + VHU_IOTLB_PAGE;
		if (cur == 0)
			break;
	}
}

void
vhu_iotlb_answered(struct vhu_dev *dev, uint64_t iova, uint64_t size)
{
	struct vhu_iotlb *t = dev->iotlb;
	unsigned int i;

	rte_spinlock_lock(&dev->backend_lock);
	for (i = 0; i < VHU_IOTLB_PENDING; i++) {
		struct vhu_iotlb_pending *p = &t->pending[i];

		if (p->tsc != 0 && p->iova >= iova && p->iova - iova < size)
			p->tsc = 0;
	}
	rte_spinlock_unlock(&dev->backend_lock);
}

const char *
vhu_iotlb_why_slow(struct vhu_dev *dev, struct vhu_vq *vq, uint64_t iova, uint64_t len, bool write,
		const char *fallback)
{
	const struct vhu_mem *all = dev->iova_all;
	uint64_t cur = iova, rem = len;

	while (rem != 0) {
		const struct vhu_mem_region *r = vhu_mem_find_gpa(all, cur);
		uint64_t piece;

		if (r == NULL) {
			vhu_iotlb_miss(dev, vq, cur, write ? VHU_ACCESS_WO : VHU_ACCESS_RO);
			return vhu_iotlb_miss_why;
		}
		piece = RTE_MIN(rem, r->gpa_end - cur);
		cur += piece;
		rem -= piece;
	}
	/* every byte has an entry: did one not allow the access? */
	cur = iova;
	rem = len;
	while (rem != 0) {
		const struct vhu_mem_region *r = vhu_mem_find_gpa(write ? vq->xwr : vq->xrd, cur);
		uint64_t piece;

		if (r == NULL) {
			const struct vhu_mem_region *a = vhu_mem_find_gpa(all, cur);

			/* an entry that allows the access but is not guest memory */
			if (a != NULL && region_of_uva(dev->mem, a->uva + (cur - a->gpa)) == NULL)
				return "IOVA mapped outside guest memory";
			return write ? "write through a read-only IOVA mapping" :
				       "read through a write-only IOVA mapping";
		}
		piece = RTE_MIN(rem, r->gpa_end - cur);
		cur += piece;
		rem -= piece;
	}
	return fallback;
}
