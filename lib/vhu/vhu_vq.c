/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Virtqueue control: allocation and reset, translation of the ring
 * addresses the front-end gave (its virtual addresses) into ours, the
 * active state the datapath obeys (active = started && enabled &&
 * translated) and the guest's notification setting.
 */

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <rte_malloc.h>

#include "vhu_codec.h"
#include "vhu_iotlb.h"
#include "vhu_mem.h"
#include "vhu_packed_pvt.h"
#include "vhu_split_pvt.h"
#include "vhu_vq.h"

/* The ring areas mapped again for the IOMMU (vhu_iotlb_ring()); no burst inside. */
static void
free_aliases(struct vhu_vq *vq)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(vq->alias); i++)
		vhu_iotlb_alias_free(&vq->alias[i]);
}

struct vhu_vq *
vhu_vq_alloc(uint16_t index)
{
	struct vhu_vq *vq;

	vq = rte_zmalloc("vhu_vq", sizeof(*vq), RTE_CACHE_LINE_SIZE);
	if (vq == NULL)
		return NULL;
	vhu_guard_init(&vq->guard);
	vq->index = index;
	vq->callfd = -1;
	vq->kickfd = -1;
	vq->errfd = -1;
	return vq;
}

void
vhu_vq_free(struct vhu_vq *vq)
{
	if (vq == NULL)
		return;
	if (vq->callfd >= 0)
		close(vq->callfd);
	if (vq->kickfd >= 0)
		close(vq->kickfd);
	if (vq->errfd >= 0)
		close(vq->errfd);
	vhu_mem_free(vq->iotlb_rd);
	vhu_mem_free(vq->iotlb_wr);
	free_aliases(vq);
	rte_free(vq);
}

void
vhu_vq_reset(struct vhu_vq *vq)
{
	int kick, call, err;

	kick = vq->kickfd;
	call = vq->callfd;
	err = vq->errfd;
	vq->kickfd = -1;
	vq->callfd = -1;
	vq->errfd = -1;
	vq->active = false;
	vq->discard = false;
	vq->started = false;
	vq->enabled = false;
	vq->addr_set = false;
	vq->num_set = false;
	vq->num = 0;
	vq->size = 0;
	vq->last_avail_idx = 0;
	vq->last_used_idx = 0;
	vq->used_pub = 0;
	vq->avail_wrap = false;
	vq->used_wrap = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->log_used = false;
	vq->signalled_used_valid = false;
	vq->xrd = NULL;
	vq->xwr = NULL;
	vhu_mem_free(vq->iotlb_rd);
	vhu_mem_free(vq->iotlb_wr);
	vq->iotlb_rd = NULL;
	vq->iotlb_wr = NULL;
	free_aliases(vq);
	memset(&vq->addr, 0, sizeof(vq->addr));
	/* no burst is inside: the fds can go now */
	if (kick >= 0)
		close(kick);
	if (call >= 0)
		close(call);
	if (err >= 0)
		close(err);
}

/*
 * One ring area through the IOTLB (ACCESS_PLATFORM): NULL when it does
 * not translate; a missing entry is asked for and *rc left alone (the
 * ring waits for the update), anything else sets *rc = -EFAULT.
 */
static void *
iotlb_area(struct vhu_dev *dev, struct vhu_vq *vq, unsigned int area, uint64_t iova, uint64_t len,
		uint8_t perm, const char *what, int *rc)
{
	void *host = NULL;
	uint64_t miss = 0;
	int r = vhu_iotlb_ring(
			dev->iotlb, dev->mem, iova, len, perm, &host, &miss, &vq->alias[area]);

	if (r == 0)
		return host;
	if (r == -EAGAIN) {
		/* asked for once the ring is started: before, QEMU has no
		 * device to translate for (and the addresses may be stale) */
		if (vq->started)
			vhu_iotlb_ask_range(dev, vq, miss, len - (miss - iova), perm);
		if (*rc == 0)
			*rc = -EAGAIN;
		return NULL;
	}
	VHU_LOG_CONFIG(ERR, dev->ifname, "vring %u: %s at IOVA 0x%" PRIx64 " %s", vq->index, what,
			iova,
			r == -EACCES ? "is mapped without the access it needs" :
				       "is not contiguous guest memory");
	*rc = -EFAULT;
	return NULL;
}

/* This ring's copies of the IOTLB's tables (ACCESS_PLATFORM), or dev->mem. */
static int
take_tables(struct vhu_dev *dev, struct vhu_vq *vq, bool iommu)
{
	struct vhu_mem *rd = NULL, *wr = NULL;

	if (iommu) {
		rd = vhu_iotlb_table_copy(dev->iotlb->rd);
		wr = vhu_iotlb_table_copy(dev->iotlb->wr);
		if (rd == NULL || wr == NULL) {
			vhu_mem_free(rd);
			vhu_mem_free(wr);
			rd = wr = NULL;
		}
	}
	vhu_mem_free(vq->iotlb_rd);
	vhu_mem_free(vq->iotlb_wr);
	vq->iotlb_rd = rd;
	vq->iotlb_wr = wr;
	/* the ring is translated again: no burst is inside, old aliases go */
	free_aliases(vq);
	vq->xrd = iommu ? rd : dev->mem;
	vq->xwr = iommu ? wr : dev->mem;
	return iommu && rd == NULL ? -ENOMEM : 0;
}

/*
 * Translate the three ring areas; -EFAULT when one is not wholly mapped.
 * With ACCESS_PLATFORM the addresses are IOVAs: -EAGAIN when an entry is
 * missing (asked for; not a fault).
 */
static int
translate(struct vhu_dev *dev, struct vhu_vq *vq, bool iommu)
{
	const struct vhu_vring_addr *a = &vq->addr;
	uint64_t dsz, asz, usz;
	void *d, *av, *u;

	if (vq->packed) {
		dsz = (uint64_t)sizeof(struct vhu_vring_packed_desc) * vq->num;
		asz = sizeof(struct vhu_vring_packed_event);
		usz = sizeof(struct vhu_vring_packed_event);
	} else {
		dsz = vhu_split_desc_size(vq->num);
		asz = vhu_split_avail_size(vq->num);
		usz = vhu_split_used_size(vq->num);
	}
	if (iommu) {
		int rc = 0;

		/* packed rings take used descriptors back in the descriptor ring */
		d = iotlb_area(dev, vq, 0, a->desc_user_addr, dsz,
				vq->packed ? VHU_ACCESS_RW : VHU_ACCESS_RO, "descriptor ring", &rc);
		av = iotlb_area(dev, vq, 1, a->avail_user_addr, asz, VHU_ACCESS_RO,
				vq->packed ? "driver event area" : "avail ring", &rc);
		u = iotlb_area(dev, vq, 2, a->used_user_addr, usz, VHU_ACCESS_RW,
				vq->packed ? "device event area" : "used ring", &rc);
		if (rc != 0)
			return rc;
	} else {
		d = vhu_mem_uva_to_host(dev->mem, a->desc_user_addr, dsz);
		av = vhu_mem_uva_to_host(dev->mem, a->avail_user_addr, asz);
		u = vhu_mem_uva_to_host(dev->mem, a->used_user_addr, usz);
	}
	if (d == NULL || av == NULL || u == NULL)
		return -EFAULT;
	/* the front-end's addresses are aligned (vhu_check_vring_addr); ours
	 * too unless a region's offset and address disagree in their low bits */
	if (((uintptr_t)d & 15) || ((uintptr_t)av & (vq->packed ? 3 : 1)) || ((uintptr_t)u & 3))
		return -EFAULT;
	vq->desc = d;
	vq->avail = av;
	vq->used = u;
	return 0;
}

/*
 * A split ring's base (last_avail_idx) can be ahead of the used index by
 * at most a ring's worth of descriptors in flight. A base further away
 * than that is impossible: DPDK 22.11's virtio-user, reconnecting in
 * server mode, sends 0 while its rings go on from where they were. Such a
 * ring resumes at the used index in guest memory (everything before it was
 * consumed); a base the ring allows is kept as given.
 */
static void
resume_split_base(const struct vhu_dev *dev, struct vhu_vq *vq)
{
	uint16_t in_flight = (uint16_t)(vq->last_avail_idx - vq->last_used_idx);

	if (in_flight <= vq->num)
		return;
	VHU_LOG_CONFIG(NOTICE, dev->ifname,
			"vring %u: base %u is %u entries past used index %u (ring of %u): "
			"resuming at the used index",
			vq->index, vq->last_avail_idx, in_flight, vq->last_used_idx, vq->num);
	vq->last_avail_idx = vq->last_used_idx;
}

int
vhu_vq_update(struct vhu_dev *dev, struct vhu_vq *vq, bool *start)
{
	bool was_running = vq->active || vq->discard;
	bool iommu = dev->iotlb != NULL && vhu_has(dev, VHU_F_ACCESS_PLATFORM);
	bool ok = false;
	int rc = 0;

	*start = false;
	vq->packed = (dev->features & VHU_BIT(VHU_F_RING_PACKED)) != 0;
	rc = take_tables(dev, vq, iommu);
	if (rc == 0 && vq->addr_set && vq->num_set && dev->mem != NULL) {
		rc = translate(dev, vq, iommu);
		ok = rc == 0;
		/* a missing IOTLB entry was asked for: the ring waits, no fault */
		if (rc == -EAGAIN)
			rc = 0;
	}
	if (!ok) {
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
	}
	vq->log_used = (vq->addr.flags & (1u << VHU_VRING_F_LOG)) != 0;
	vq->log_used_gpa = vq->addr.log_guest_addr;
	/*
	 * Transmit completions a loaded dequeue held back are published now,
	 * through the ring's current translation, whether the ring goes on or
	 * stops (GET_VRING_BASE then reports a base the guest's used index
	 * agrees with). A ring without a translation keeps them until it has
	 * one again: nothing is written through a mapping that was taken away.
	 */
	if (ok && !vq->packed && vq->used_pub != vq->last_used_idx)
		vhu_split_publish(dev, vq, false);
	/*
	 * Spec ring states: stopped (nothing), started and disabled (TX
	 * consumed and dropped, no RX), started and enabled. A disabled ring
	 * is never touched by the bursts: the control thread drops its TX,
	 * and only what it saw made available while no message that could
	 * enable the ring was waiting (vhu_dev_sweep()).
	 */
	vq->active = vq->started && vq->enabled && ok;
	vq->discard = vq->started && !vq->enabled && ok;
	if ((vq->active || vq->discard) && !was_running) {
		/*
		 * A split ring resumes at the used index the guest sees in
		 * memory (the spec's rule: only last_avail_idx travels in
		 * SET_VRING_BASE).
		 */
		if (!vq->packed) {
			/* relaxed: only a device writes this index (our bursts,
			 * which the closed guard has made visible, or the
			 * back-end before a migration); nothing is read through it */
			vq->last_used_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_RELAXED);
			vq->used_pub = vq->last_used_idx;
			resume_split_base(dev, vq);
		}
		vq->signalled_used_valid = false;
		*start = true;
	}
	return rc;
}

bool
vhu_vq_has_buffers(const struct vhu_vq *vq)
{
	uint16_t flags, avail;

	if (!vq->active)
		return false;
	if (vq->packed) {
		/* acquire: pairs with the driver's barrier before it publishes the flags */
		flags = __atomic_load_n(
				&vq->desc_packed[vq->last_avail_idx].flags, __ATOMIC_ACQUIRE);
		return vhu_packed_is_avail(flags, vq->avail_wrap);
	}
	/*
	 * Available now, or made available before: either index moved from 0.
	 * A ring the driver filled and then stopped reading (its buffers all
	 * used) is a guest that receives, only slowly. Acquire: pairs with the
	 * driver's barrier before it stores avail->idx.
	 */
	avail = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	return avail != 0 || vq->last_avail_idx != 0;
}

uint32_t
vhu_vq_avail_mark(const struct vhu_vq *vq)
{
	uint16_t pos, idx;
	uint32_t n;
	bool wrap;

	if (!vq->discard || vq->broken)
		return 0;
	if (!vq->packed) {
		/* acquire: pairs with the driver's barrier before it stores
		 * avail->idx; a count past the ring is the discard's to judge */
		idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
		return (uint16_t)(idx - vq->last_avail_idx);
	}
	pos = vq->last_avail_idx;
	wrap = vq->avail_wrap;
	for (n = 0; n < vq->size; n++) {
		/* acquire: pairs with the driver's barrier before it publishes the flags */
		uint16_t flags = __atomic_load_n(&vq->desc_packed[pos].flags, __ATOMIC_ACQUIRE);

		if (!vhu_packed_is_avail(flags, wrap))
			break;
		if (++pos == vq->size) {
			pos = 0;
			wrap = !wrap;
		}
	}
	return n;
}

/* vq->guest_notify into a split ring. */
static void
split_apply_notify(struct vhu_dev *dev, struct vhu_vq *vq)
{
	bool on = vq->guest_notify == VHU_GUEST_NOTIFY_ON;

	if (vhu_has(dev, VHU_F_RING_EVENT_IDX)) {
		/* on: kick at the next entry; off: not before the index wraps */
		uint16_t ev = on ? vq->last_avail_idx : (uint16_t)(vq->last_avail_idx - 1);

		__atomic_store_n(vhu_split_avail_event(vq), ev, __ATOMIC_RELAXED);
		if (unlikely(dev->log_all) && vq->log_used)
			vhu_log_write(dev,
					vq->log_used_gpa + offsetof(struct vhu_vring_used, ring) +
							(uint64_t)vq->size *
									sizeof(struct vhu_vring_used_elem),
					sizeof(uint16_t));
	} else {
		__atomic_store_n(&vq->used->flags, on ? 0 : VHU_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
		if (unlikely(dev->log_all) && vq->log_used)
			vhu_log_write(dev,
					vq->log_used_gpa + offsetof(struct vhu_vring_used, flags),
					sizeof(uint16_t));
	}
	/* full fence: the guest must see the new setting before we look at
	 * the ring again; pairs with the driver's full barrier between its
	 * avail->idx store and reading used->flags / avail_event */
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* vq->guest_notify into a packed ring. */
static void
packed_apply_notify(struct vhu_dev *dev, struct vhu_vq *vq)
{
	uint16_t flags = vq->guest_notify == VHU_GUEST_NOTIFY_ON ? VHU_EVENT_F_ENABLE :
								   VHU_EVENT_F_DISABLE;
	uint64_t gpa;

	__atomic_store_n(&vq->device_event->flags, flags, __ATOMIC_RELAXED);
	if (unlikely(dev->log_all) && vq->log_used &&
			vhu_ring_log_addr(dev, vq->addr.used_user_addr,
					sizeof(struct vhu_vring_packed_event), &gpa) == 0)
		vhu_log_write(dev, gpa + offsetof(struct vhu_vring_packed_event, flags),
				sizeof(uint16_t));
	/* full fence: the guest must see the new setting before we look at
	 * the ring again; pairs with the driver's full barrier between making
	 * descriptors available and reading the device event structure */
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void
vhu_vq_apply_notify(struct vhu_dev *dev, struct vhu_vq *vq)
{
	/*
	 * Unasked, a TX ring (odd) keeps what the guest set up; an RX ring
	 * (even) needs no kicks from a polling back-end, so the guest is
	 * spared one per refill.
	 */
	if (vq->guest_notify == VHU_GUEST_NOTIFY_DEFAULT && (vq->index & 1))
		return;
	if (vq->packed)
		packed_apply_notify(dev, vq);
	else
		split_apply_notify(dev, vq);
}
