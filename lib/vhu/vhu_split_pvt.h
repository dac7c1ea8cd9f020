/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Split virtqueue helpers shared by the dequeue and enqueue bursts. Every
 * field the guest can change is copied into a local once and checked
 * there; a compiler barrier after each copy stops the compiler from
 * fetching it again. Ring size is a power of two (checked when the ring is
 * selected), so positions wrap with a mask.
 */

#ifndef VHU_SPLIT_PVT_H
#define VHU_SPLIT_PVT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>

#include <rte_atomic.h>
#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_prefetch.h>

#include "vhu_fault.h"
#include "vhu_iotlb.h"
#include "vhu_mem.h"
#include "vhu_obj.h"

static __rte_always_inline uint16_t
vhu_split_mask(const struct vhu_vq *vq)
{
	return (uint16_t)(vq->size - 1);
}

/* used_event lives after the avail ring, avail_event after the used ring. */
static __rte_always_inline uint16_t *
vhu_split_used_event(const struct vhu_vq *vq)
{
	return &vq->avail->ring[vq->size];
}

static __rte_always_inline uint16_t *
vhu_split_avail_event(const struct vhu_vq *vq)
{
	return (uint16_t *)(void *)&vq->used->ring[vq->size];
}

/*
 * Entries the guest made available since last_avail_idx, with *avail_idx
 * set to the guest's index. -1 (ring stopped) when the guest moved its
 * index further than the ring holds.
 */
static __rte_always_inline int
vhu_split_avail_count(struct vhu_dev *dev, struct vhu_vq *vq, uint16_t *avail_idx)
{
	/* acquire: avail ring entries and descriptors are read only after
	 * this load; pairs with the driver's write barrier before it stores
	 * avail->idx */
	uint16_t idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t n = (uint16_t)(idx - vq->last_avail_idx);

	if (unlikely(n > vq->size)) {
		vhu_fault_break(dev, vq, "avail idx %u is %u entries ahead of %u, ring holds %u",
				idx, n, vq->last_avail_idx, vq->size);
		return -1;
	}
	*avail_idx = idx;
	return n;
}

/* The head at free-running avail position pos; the caller checks it against the ring size. */
static __rte_always_inline uint16_t
vhu_split_avail_head(const struct vhu_vq *vq, uint16_t pos)
{
	return __atomic_load_n(&vq->avail->ring[pos & vhu_split_mask(vq)], __ATOMIC_RELAXED);
}

/*
 * The descriptors of the four heads after the batch at pos (avail entries
 * pos + 4 .. pos + 7): in order they follow each other and share a line,
 * otherwise they are wherever the heads say. A head out of range is
 * masked, as a prefetch may be.
 */
static __rte_always_inline void
vhu_split_prefetch_next4(const struct vhu_vq *vq, uint16_t pos, bool inorder)
{
	uint16_t k;

	for (k = 4; k < (inorder ? 5 : 8); k++)
		rte_prefetch0(&vq->desc[vhu_split_avail_head(vq, (uint16_t)(pos + k)) &
				vhu_split_mask(vq)]);
}

/* Copy one descriptor into a local, once. */
static __rte_always_inline void
vhu_desc_read(struct vhu_vring_desc *d, const struct vhu_vring_desc *src)
{
	/* memcpy: an indirect table need not be aligned */
	memcpy(d, src, sizeof(*d));
	/* d is the only copy we use from here on: no second fetch from guest memory */
	rte_compiler_barrier();
}

/*
 * Walk the chain at head (already checked < size). Descriptors must all be
 * device-writable (write = true) or all device-readable. Pieces are
 * gathered into bufs until at least want bytes are held (UINT64_MAX: the
 * whole chain). Chains are bounded by the ring size, indirect tables by
 * their own length; indirect tables may not nest and must be a multiple
 * of 16 bytes inside one guest region. Returns NULL, or why the chain is
 * unusable: vhu_iotlb_miss_why when an IOVA has no IOTLB entry yet (the
 * miss was asked for; the caller leaves the chain for a later burst).
 */
static __rte_always_inline const char *
vhu_split_walk(struct vhu_dev *dev, struct vhu_vq *vq, uint16_t head, bool write, uint64_t want,
		struct vhu_buf *bufs, uint32_t max, uint32_t *nbufs, uint64_t *total)
{
	const struct vhu_mem *mem = write ? vq->xwr : vq->xrd;
	const struct vhu_vring_desc *table = vq->desc;
	uint32_t table_size = vq->size;
	uint32_t idx = head, steps = 0, nb = 0;
	uint16_t dir = write ? VHU_DESC_F_WRITE : 0;
	bool indirect = false;
	uint64_t len = 0;
	const char *why;

	for (;;) {
		struct vhu_vring_desc d;

		vhu_desc_read(&d, &table[idx]);
		if (unlikely(++steps > table_size))
			return "descriptor chain loops or exceeds its table";
		if (unlikely(d.flags & VHU_DESC_F_INDIRECT)) {
			if (unlikely(indirect))
				return "nested indirect table";
			if (unlikely(!vhu_has(dev, VHU_F_RING_INDIRECT_DESC)))
				return "indirect descriptor not negotiated";
			if (unlikely(d.flags & VHU_DESC_F_NEXT))
				return "indirect descriptor with NEXT";
			if (unlikely(d.len == 0 || (d.len & 15) != 0 ||
					    d.len / 16 > VHU_MAX_RING_SIZE))
				return "indirect table length not a multiple of 16 or too large";
			table = vhu_gpa_to_host(vq->xrd, d.addr, d.len);
			if (unlikely(table == NULL))
				return vhu_iotlb_why(dev, vq, d.addr, d.len, false,
						"indirect table outside one guest region");
			table_size = d.len / 16;
			idx = 0;
			steps = 0;
			indirect = true;
			continue;
		}
		if (unlikely((d.flags & VHU_DESC_F_WRITE) != dir))
			return write ? "read-only descriptor in a receive buffer" :
				       "write-only descriptor in a transmit buffer";
		if (unlikely(d.len == 0))
			return "zero-length descriptor";
		why = vhu_gpa_to_bufs(mem, d.addr, d.len, bufs, &nb, max);
		if (unlikely(why != NULL))
			return vhu_iotlb_why(dev, vq, d.addr, d.len, write, why);
		len += d.len;
		if (len >= want || !(d.flags & VHU_DESC_F_NEXT))
			break;
		if (unlikely(d.next >= table_size))
			return "next descriptor index out of range";
		idx = d.next;
	}
	*nbufs = nb;
	*total = len;
	return NULL;
}

/* Record a used element at free-running used position pos. */
static __rte_always_inline void
vhu_split_used_put(struct vhu_vq *vq, uint16_t pos, uint32_t id, uint32_t len)
{
	struct vhu_vring_used_elem *e = &vq->used->ring[pos & vhu_split_mask(vq)];

	e->id = id;
	e->len = len;
}

/* Dirty-log the used elements [from, to) and the index. */
static inline void
vhu_split_log_used(struct vhu_dev *dev, struct vhu_vq *vq, uint16_t from, uint16_t to)
{
	uint16_t n = (uint16_t)(to - from);
	uint16_t start = from & vhu_split_mask(vq);
	uint64_t base = vq->log_used_gpa + offsetof(struct vhu_vring_used, ring);
	uint64_t esz = sizeof(struct vhu_vring_used_elem);

	if (n == 0)
		return;
	if ((uint32_t)start + n > vq->size) {
		uint16_t first = (uint16_t)(vq->size - start);

		vhu_log_write(dev, base + start * esz, first * esz);
		vhu_log_write(dev, base, (uint64_t)(n - first) * esz);
	} else {
		vhu_log_write(dev, base + start * esz, (uint64_t)n * esz);
	}
	vhu_log_write(dev, vq->log_used_gpa + offsetof(struct vhu_vring_used, idx),
			sizeof(uint16_t));
}

/*
 * Tell the guest about used entries up to new_idx, unless it asked not to
 * be told (NO_INTERRUPT, or used_event with EVENT_IDX). force:
 * NOTIFY_ON_EMPTY. At most one eventfd write.
 */
static inline void
vhu_split_notify(struct vhu_dev *dev, struct vhu_vq *vq, uint16_t new_idx, bool force)
{
	bool call;

	/* full fence: the used->idx store must be visible before we read the
	 * guest's suppression fields; pairs with the driver's full barrier
	 * between writing used_event / avail->flags and re-reading used->idx */
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vhu_has(dev, VHU_F_RING_EVENT_IDX)) {
		uint16_t ev = __atomic_load_n(vhu_split_used_event(vq), __ATOMIC_RELAXED);
		uint16_t old = vq->signalled_used;
		bool valid = vq->signalled_used_valid;

		vq->signalled_used = new_idx;
		vq->signalled_used_valid = true;
		/* call when used_event lies in [old, new_idx) */
		call = !valid || (uint16_t)(new_idx - ev - 1) < (uint16_t)(new_idx - old);
	} else {
		call = !(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) &
				VHU_AVAIL_F_NO_INTERRUPT);
	}
	if (call || force) {
		if (vq->callfd >= 0 && eventfd_write(vq->callfd, 1) == 0)
			vq->stats.calls++;
	} else {
		vq->stats.calls_suppressed++;
	}
}

/*
 * Publish the used entries written before new_idx (from vq->used_pub on)
 * with one index store, log them, and notify. empty: the guest has no
 * more available entries (for NOTIFY_ON_EMPTY).
 */
static __rte_always_inline void
vhu_split_publish_to(struct vhu_dev *dev, struct vhu_vq *vq, uint16_t new_idx, bool empty)
{
	uint16_t old = vq->used_pub;

	if (new_idx == old)
		return;
	/* release: used elements and buffer contents written before this
	 * store are visible first; pairs with the driver's read barrier
	 * after it loads used->idx */
	__atomic_store_n(&vq->used->idx, new_idx, __ATOMIC_RELEASE);
	vq->used_pub = new_idx;
	if (unlikely(dev->log_all) && vq->log_used)
		vhu_split_log_used(dev, vq, old, new_idx);
	vhu_split_notify(dev, vq, new_idx, empty && vhu_has(dev, VHU_F_NOTIFY_ON_EMPTY));
}

/* Publish every used entry written so far (vhu_split_publish_to()). */
static __rte_always_inline void
vhu_split_publish(struct vhu_dev *dev, struct vhu_vq *vq, bool empty)
{
	vhu_split_publish_to(dev, vq, vq->last_used_idx, empty);
}

/*
 * Transmit completions held back under load. A dequeue burst that came
 * back full publishes only the entries of the bursts before it: the guest
 * sees its transmit buffers completed one burst later, as with a device
 * that writes completions back in batches. DPDK's virtio driver then frees
 * them a burst at a time, when it needs descriptors, into its mempool
 * cache and back out of it while they are still in its cache; a device
 * that is never behind lets nearly the whole ring complete at once instead
 * (the driver frees a ring's worth of mbufs together, overflowing its
 * cache, and refills from cold ones). The held burst goes out with the
 * next burst, or once the ring has stayed empty for VHU_HOLD_MAX_US
 * (vhu_split_publish_held()), or when the ring stops.
 */
#define VHU_HOLD_MAX_US 20u

/*
 * May a full dequeue burst hold its completions back? Only when the guest
 * polls this ring (it wants no interrupt: NO_INTERRUPT without EVENT_IDX,
 * as DPDK's virtio driver sets it; a guest waiting for an interrupt gets
 * them at once) and did not ask to be told when the ring runs dry
 * (NOTIFY_ON_EMPTY, with empty: nothing left available).
 */
static __rte_always_inline bool
vhu_split_may_hold(const struct vhu_dev *dev, const struct vhu_vq *vq, bool empty)
{
	return !vhu_has(dev, VHU_F_RING_EVENT_IDX) &&
			(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) &
					VHU_AVAIL_F_NO_INTERRUPT) &&
			!(empty && vhu_has(dev, VHU_F_NOTIFY_ON_EMPTY));
}

/* The ring was found empty: publish a held burst once it is old enough. */
static __rte_always_inline void
vhu_split_publish_held(struct vhu_dev *dev, struct vhu_vq *vq)
{
	if (likely(vq->used_pub == vq->last_used_idx))
		return;
	if (rte_rdtsc() - vq->held_tsc < rte_get_tsc_hz() / 1000000 * VHU_HOLD_MAX_US)
		return;
	vhu_split_publish(dev, vq, true);
}

#endif /* VHU_SPLIT_PVT_H */
