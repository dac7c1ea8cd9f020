/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Packed virtqueue helpers (virtio 1.2, 2.8) shared by the packed dequeue
 * and enqueue bursts.
 *
 * The ring is one array of descriptors that both sides write. The driver
 * makes a descriptor available by setting AVAIL to its wrap counter and
 * USED to the inverse; the device marks it used by setting both bits to
 * its own wrap counter. We keep positions as an index in [0, size) plus a
 * wrap bit (vq->last_avail_idx/avail_wrap for the next descriptor to read,
 * vq->last_used_idx/used_wrap for the next used descriptor to write), so
 * any ring size up to 32768 works, power of two or not.
 *
 * Guest-written fields are copied into locals once and checked there. The
 * used descriptors of one burst are written in place as packets complete,
 * except the flags of the burst's first one, which are stored last with
 * release semantics (vhu_packed_flush): the driver polls only the next
 * descriptor it expects, so it sees the whole burst at once or nothing.
 */

#ifndef VHU_PACKED_PVT_H
#define VHU_PACKED_PVT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>

#include <rte_atomic.h>
#include <rte_branch_prediction.h>
#include <rte_common.h>

#include "vhu_fault.h"
#include "vhu_iotlb.h"
#include "vhu_mem.h"
#include "vhu_obj.h"

#define VHU_PACKED_WRAP_BIT (1u << 15)

/* Both AVAIL and USED equal to the wrap counter: a used descriptor. */
static __rte_always_inline uint16_t
vhu_packed_used_flags(bool wrap)
{
	return wrap ? (uint16_t)(VHU_DESC_F_AVAIL | VHU_DESC_F_USED) : 0;
}

/* The driver's flags for an available descriptor on lap `wrap`. */
static __rte_always_inline uint16_t
vhu_packed_avail_flags(bool wrap)
{
	return wrap ? (uint16_t)VHU_DESC_F_AVAIL : (uint16_t)VHU_DESC_F_USED;
}

static __rte_always_inline bool
vhu_packed_is_avail(uint16_t flags, bool wrap)
{
	return (flags & (VHU_DESC_F_AVAIL | VHU_DESC_F_USED)) == vhu_packed_avail_flags(wrap);
}

/*
 * Flags of the descriptor at slot pos. Acquire: the rest of the descriptor
 * (and what it points to) is read only after; pairs with the driver's
 * write barrier before it stores the flags that make it available.
 */
static __rte_always_inline uint16_t
vhu_packed_load_flags(const struct vhu_vq *vq, uint16_t pos)
{
	return __atomic_load_n(&vq->desc_packed[pos].flags, __ATOMIC_ACQUIRE);
}

/* Advance a position by n slots (n <= size), flipping the wrap bit on the way round. */
static __rte_always_inline void
vhu_packed_adv(uint16_t size, uint16_t *idx, bool *wrap, uint32_t n)
{
	uint32_t v = (uint32_t)*idx + n;

	if (v >= size) {
		v -= size;
		*wrap = !*wrap;
	}
	*idx = (uint16_t)v;
}

/*
 * A position as a number in [0, 2 * size): laps alternate, so two
 * positions less than one lap apart compare by their difference mod 2 * size.
 */
static __rte_always_inline uint32_t
vhu_packed_lin(uint16_t size, uint16_t idx, bool wrap)
{
	return wrap ? idx : (uint32_t)idx + size;
}

/* What a chain walk found. */
struct vhu_packed_chain {
	uint16_t id;     /* buffer id, from the chain's last ring descriptor */
	uint16_t ndesc;  /* ring slots the chain occupies */
	uint32_t nbufs;  /* pieces appended to bufs */
	uint64_t total;  /* bytes those pieces hold */
	const char *why; /* non-NULL: the chain is unusable (drop and return it) */
};

/*
 * Check one buffer element (a ring descriptor or an indirect entry) and
 * append its pieces while fewer than want bytes are held. NULL, or why not.
 */
static __rte_always_inline const char *
vhu_packed_elem(const struct vhu_mem *mem, uint64_t addr, uint32_t len, uint16_t flags, bool write,
		uint64_t want, struct vhu_buf *bufs, uint32_t max, struct vhu_packed_chain *c)
{
	if (unlikely(((flags & VHU_DESC_F_WRITE) != 0) != write))
		return write ? "read-only descriptor in a receive buffer" :
			       "write-only descriptor in a transmit buffer";
	if (unlikely(len == 0))
		return "zero-length descriptor";
	if (c->total >= want)
		return NULL;
	c->total += len;
	return vhu_gpa_to_bufs(mem, addr, len, bufs, &c->nbufs, max);
}

/* vhu_packed_elem() through the ring's table for the access; a failure explained. */
static __rte_always_inline const char *
vhu_packed_elem_vq(struct vhu_dev *dev, struct vhu_vq *vq, uint64_t addr, uint32_t len,
		uint16_t flags, bool write, uint64_t want, struct vhu_buf *bufs, uint32_t max,
		struct vhu_packed_chain *c)
{
	const char *why = vhu_packed_elem(
			write ? vq->xwr : vq->xrd, addr, len, flags, write, want, bufs, max, c);

	if (unlikely(why != NULL) && len != 0 && ((flags & VHU_DESC_F_WRITE) != 0) == write)
		return vhu_iotlb_why(dev, vq, addr, len, write, why);
	return why;
}

/* An indirect table: checked, its entries appended. NULL, or why not. */
static inline const char *
vhu_packed_indirect(struct vhu_dev *dev, struct vhu_vq *vq, const struct vhu_vring_packed_desc *d,
		bool write, uint64_t want, struct vhu_buf *bufs, uint32_t max,
		struct vhu_packed_chain *c)
{
	const uint8_t *t;
	uint32_t n, i;
	const char *why;

	if (unlikely(!vhu_has(dev, VHU_F_RING_INDIRECT_DESC)))
		return "indirect descriptor not negotiated";
	if (unlikely(d->len == 0 || (d->len & 15) != 0 || d->len / 16 > VHU_MAX_RING_SIZE))
		return "indirect table length not a multiple of 16 or too large";
	t = vhu_gpa_to_host(vq->xrd, d->addr, d->len);
	if (unlikely(t == NULL))
		return vhu_iotlb_why(dev, vq, d->addr, d->len, false,
				"indirect table outside one guest region");
	n = d->len / 16;
	for (i = 0; i < n; i++) {
		struct vhu_vring_packed_desc e;

		/* e is our only copy of the entry (a table needs no alignment) */
		memcpy(&e, t + 16 * i, sizeof(e));
		rte_compiler_barrier();
		/* only WRITE means something in an entry; INDIRECT is misuse */
		if (unlikely(e.flags & VHU_DESC_F_INDIRECT))
			return "nested indirect table";
		/*
		 * A transmit table is only read: its WRITE bits are not
		 * trusted but not enforced either, because DPDK's virtio
		 * driver leaves WRITE set on the header entry of its transmit
		 * tables. A receive table must be writable throughout.
		 */
		if (!write)
			e.flags &= (uint16_t)~VHU_DESC_F_WRITE;
		why = vhu_packed_elem_vq(
				dev, vq, e.addr, e.len, e.flags, write, want, bufs, max, c);
		if (unlikely(why != NULL))
			return why;
	}
	return NULL;
}

/*
 * Walk the chain whose first descriptor sits at slot pos and was seen
 * available with head_flags. Pieces are appended to bufs while fewer than
 * want bytes are held (UINT64_MAX: all); the rest of the chain is only
 * followed to learn its length and buffer id. Problems with the buffer
 * land in c->why (the caller drops it and returns it used); -1 means the
 * chain has no end within one lap of the ring, so its extent is unknown
 * and the ring has to stop.
 */
static __rte_always_inline int
vhu_packed_walk(struct vhu_dev *dev, struct vhu_vq *vq, uint16_t pos, uint16_t head_flags,
		bool write, uint64_t want, struct vhu_buf *bufs, uint32_t max,
		struct vhu_packed_chain *c)
{
	uint16_t size = vq->size, n = 0;
	const char *why = NULL;

	c->nbufs = 0;
	c->total = 0;
	for (;;) {
		struct vhu_vring_packed_desc d = vq->desc_packed[pos];

		/* d is our only copy of the descriptor; the head keeps the
		 * flags its availability was judged on */
		rte_compiler_barrier();
		if (n == 0)
			d.flags = head_flags;
		n++;
		if (likely(why == NULL)) {
			if (unlikely(d.flags & VHU_DESC_F_INDIRECT)) {
				if (unlikely(n > 1 || (d.flags & VHU_DESC_F_NEXT)))
					why = "indirect descriptor in a chain";
				else
					why = vhu_packed_indirect(
							dev, vq, &d, write, want, bufs, max, c);
			} else {
				why = vhu_packed_elem_vq(dev, vq, d.addr, d.len, d.flags, write,
						want, bufs, max, c);
			}
		}
		if (!(d.flags & VHU_DESC_F_NEXT)) {
			c->id = d.id;
			break;
		}
		if (unlikely(n >= size))
			return -1;
		if (++pos == size)
			pos = 0;
	}
	if (unlikely(why == NULL && c->id >= size))
		why = "buffer id out of range";
	c->ndesc = n;
	c->why = why;
	return 0;
}

/* The used descriptors of one burst, flushed by vhu_packed_flush(). */
struct vhu_packed_used {
	uint16_t n;     /* used descriptors written */
	uint16_t first; /* slot of the first one: its flags are stored last */
	uint16_t first_flags;
	bool start_wrap; /* used position at the start of the burst */
	uint16_t start;
	uint32_t slots;       /* ring slots covered since the start */
	uint16_t batch_id;    /* in-order: id of the last buffer not yet reported */
	uint16_t batch_slots; /* in-order: slots those unreported buffers cover */
};

static __rte_always_inline void
vhu_packed_used_init(const struct vhu_vq *vq, struct vhu_packed_used *u)
{
	u->n = 0;
	u->start = vq->last_used_idx;
	u->start_wrap = vq->used_wrap;
	u->slots = 0;
	u->batch_id = 0;
	u->batch_slots = 0;
}

/*
 * Write a used descriptor for buffer id (len bytes written into it, 0 for
 * a transmit buffer) covering ndesc ring slots, at the used position.
 */
static __rte_always_inline void
vhu_packed_used_put(struct vhu_vq *vq, struct vhu_packed_used *u, uint16_t id, uint32_t len,
		uint16_t ndesc)
{
	uint16_t p = vq->last_used_idx;
	struct vhu_vring_packed_desc *d = &vq->desc_packed[p];
	uint16_t fl = vhu_packed_used_flags(vq->used_wrap) | (len != 0 ? VHU_DESC_F_WRITE : 0);

	d->id = id;
	d->len = len;
	if (u->n++ == 0) {
		u->first = p;
		u->first_flags = fl;
	} else {
		/* the driver does not look here before the first one turns used */
		__atomic_store_n(&d->flags, fl, __ATOMIC_RELAXED);
	}
	vhu_packed_adv(vq->size, &vq->last_used_idx, &vq->used_wrap, ndesc);
	u->slots += ndesc;
}

/*
 * In-order transmit: buffers are reported in batches by one used
 * descriptor carrying the last buffer's id (virtio 1.2, 2.8.9). A batch
 * covers one lap at most: a driver cannot have more slots outstanding,
 * but chains whose later descriptors carry the next lap's marks can take
 * one burst round the ring twice, and a used descriptor covering more
 * slots than the ring has would move the used position past its end.
 * Such a batch is reported in pieces.
 */
static __rte_always_inline void
vhu_packed_used_batch(struct vhu_vq *vq, struct vhu_packed_used *u, uint16_t id, uint16_t ndesc)
{
	if (unlikely((uint32_t)u->batch_slots + ndesc > vq->size)) {
		vhu_packed_used_put(vq, u, u->batch_id, 0, u->batch_slots);
		u->batch_slots = 0;
	}
	u->batch_id = id;
	u->batch_slots = (uint16_t)(u->batch_slots + ndesc);
}

/* Dirty-log the descriptor slots [u->start, u->start + u->slots). */
static inline void
vhu_packed_log_used(struct vhu_dev *dev, const struct vhu_vq *vq, const struct vhu_packed_used *u)
{
	uint64_t esz = sizeof(struct vhu_vring_packed_desc), gpa;
	uint32_t n = RTE_MIN(u->slots, (uint32_t)vq->size);
	uint32_t first = RTE_MIN(n, (uint32_t)(vq->size - u->start));

	/* the ring's guest-physical address: the front-end gave its own virtual one */
	if (vhu_ring_log_addr(dev, vq->addr.desc_user_addr, esz * vq->size, &gpa) != 0)
		return;
	vhu_log_write(dev, gpa + u->start * esz, first * esz);
	if (n > first)
		vhu_log_write(dev, gpa, (n - first) * esz);
}

/*
 * Should the driver hear about the used descriptors written since the
 * last call? Reads the driver event suppression structure.
 */
static inline bool
vhu_packed_need_call(struct vhu_dev *dev, struct vhu_vq *vq)
{
	uint16_t size = vq->size, flags, off_wrap, ev;
	uint32_t two = 2u * size, now, old, evl;
	bool valid = vq->signalled_used_valid;

	now = vhu_packed_lin(size, vq->last_used_idx, vq->used_wrap);
	old = vq->signalled_used;
	vq->signalled_used = (uint16_t)now;
	vq->signalled_used_valid = true;
	flags = __atomic_load_n(&vq->driver_event->flags, __ATOMIC_RELAXED) & 3u;
	if (flags == VHU_EVENT_F_DISABLE)
		return false;
	if (flags != VHU_EVENT_F_DESC || !vhu_has(dev, VHU_F_RING_EVENT_IDX) || !valid)
		return true;
	off_wrap = __atomic_load_n(&vq->driver_event->off_wrap, __ATOMIC_RELAXED);
	ev = off_wrap & (uint16_t)~VHU_PACKED_WRAP_BIT;
	if (unlikely(ev >= size))
		return false; /* no such descriptor: the event never comes */
	evl = vhu_packed_lin(size, ev, (off_wrap & VHU_PACKED_WRAP_BIT) != 0);
	/* call when the event descriptor lies in [old, now) */
	return (evl + two - old) % two < (now + two - old) % two;
}

/*
 * End of a burst: write the pending in-order descriptor, store the first
 * used descriptor's flags, log, and notify the driver at most once.
 * empty: the guest has nothing more available (NOTIFY_ON_EMPTY).
 */
static __rte_always_inline void
vhu_packed_flush(struct vhu_dev *dev, struct vhu_vq *vq, struct vhu_packed_used *u, bool empty)
{
	bool call;

	if (u->batch_slots != 0) {
		vhu_packed_used_put(vq, u, u->batch_id, 0, u->batch_slots);
		u->batch_slots = 0;
	}
	if (u->n == 0)
		return;
	/*
	 * release: every used descriptor's id and len, the other used
	 * descriptors' flags and the data written into receive buffers are
	 * visible before the first descriptor of the burst turns used; pairs
	 * with the driver's read barrier after it sees the USED bit flip at
	 * the slot it polls.
	 */
	__atomic_store_n(&vq->desc_packed[u->first].flags, u->first_flags, __ATOMIC_RELEASE);
	if (unlikely(dev->log_all) && vq->log_used)
		vhu_packed_log_used(dev, vq, u);
	/*
	 * full fence: the used flags must be visible before we read the
	 * driver's event suppression; pairs with the driver's full barrier
	 * between writing its event structure and re-checking the used flags
	 */
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
	call = vhu_packed_need_call(dev, vq) || (empty && vhu_has(dev, VHU_F_NOTIFY_ON_EMPTY));
	if (call) {
		if (vq->callfd >= 0 && eventfd_write(vq->callfd, 1) == 0)
			vq->stats.calls++;
	} else {
		vq->stats.calls_suppressed++;
	}
}

#endif /* VHU_PACKED_PVT_H */
