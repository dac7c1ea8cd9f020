/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The layout-free datapath: the public bursts (vhu_dequeue_burst(),
 * vhu_enqueue_burst()) enter the ring's guard and call the burst functions
 * chosen for its layout and features when it started (vhu_net_select_burst());
 * a pending RARP goes out ahead of the dequeued packets; per-queue guest
 * notification and counters of the public API.
 */

#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_mbuf.h>

#include "vhu_dev_table.h"
#include "vhu_fault.h"
#include "vhu_guard.h"
#include "vhu_net.h"
#include "vhu_net_burst.h"
#include "vhu_net_hdr.h"
#include "vhu_net_packed_dequeue.h"
#include "vhu_net_packed_enqueue.h"
#include "vhu_net_split_dequeue.h"
#include "vhu_net_split_enqueue.h"
#include "vhu_packed_pvt.h"
#include "vhu_split_pvt.h"
#include "vhu_vq.h"

/* ---- burst selection ---- */

/* A split ring's bursts. */
static void
select_split(struct vhu_dev *dev, struct vhu_vq *vq)
{
	bool mrg = vhu_has(dev, VHU_F_NET_MRG_RXBUF);
	bool inorder = vhu_has(dev, VHU_F_IN_ORDER);

	if (vq->size == 0 || (vq->size & (vq->size - 1)) != 0 || vq->size > VHU_MAX_RING_SIZE ||
			(dev->hdr_len != 10 && dev->hdr_len != 12) || dev->mem == NULL ||
			vq->desc == NULL || vq->avail == NULL || vq->used == NULL) {
		VHU_LOG_DATA(ERR, dev->ifname, "vring %u: cannot run (size %u, header %u bytes)",
				vq->index, vq->size, dev->hdr_len);
		vq->broken = true;
		return;
	}
	vq->dequeue = inorder ? vhu_net_split_dequeue_inorder : vhu_net_split_dequeue;
	if (mrg)
		vq->enqueue = inorder ? vhu_net_split_enqueue_mrg_inorder :
					vhu_net_split_enqueue_mrg;
	else
		vq->enqueue = inorder ? vhu_net_split_enqueue_inorder : vhu_net_split_enqueue;
	vhu_vq_apply_notify(dev, vq);
}

/* A packed ring's bursts. */
static void
select_packed(struct vhu_dev *dev, struct vhu_vq *vq)
{
	/* positions are index + wrap bit; the control plane may hand us the
	 * wire form with the wrap counter still in bit 15 */
	vq->last_avail_idx &= (uint16_t)~VHU_PACKED_WRAP_BIT;
	vq->last_used_idx &= (uint16_t)~VHU_PACKED_WRAP_BIT;
	if (vq->size == 0 || vq->size > VHU_MAX_RING_SIZE ||
			(dev->hdr_len != 10 && dev->hdr_len != 12) || dev->mem == NULL ||
			vq->desc_packed == NULL || vq->driver_event == NULL ||
			vq->device_event == NULL) {
		VHU_LOG_DATA(ERR, dev->ifname, "vring %u: cannot run (size %u, header %u bytes)",
				vq->index, vq->size, dev->hdr_len);
		vq->broken = true;
		return;
	}
	if (vq->last_avail_idx >= vq->size || vq->last_used_idx >= vq->size) {
		vhu_fault_break(dev, vq, "ring base avail %u / used %u outside a ring of %u",
				vq->last_avail_idx, vq->last_used_idx, vq->size);
		return;
	}
	vq->dequeue = vhu_has(dev, VHU_F_IN_ORDER) ? vhu_net_packed_dequeue_inorder :
						     vhu_net_packed_dequeue;
	vq->enqueue = vhu_has(dev, VHU_F_NET_MRG_RXBUF) ? vhu_net_packed_enqueue_mrg :
							  vhu_net_packed_enqueue;
	vhu_vq_apply_notify(dev, vq);
}

void
vhu_net_select_burst(struct vhu_dev *dev, struct vhu_vq *vq)
{
	vq->broken = false;
	vq->signalled_used_valid = false;
	vq->dequeue = NULL;
	vq->enqueue = NULL;
	if (vq->packed)
		select_packed(dev, vq);
	else
		select_split(dev, vq);
}

/* ---- bursts ---- */

/*
 * Has the guest made no buffer available since the last burst? An idle
 * queue's poll ends here, without the call into the ring's burst function
 * and its set-up. Called inside the guard with the ring active, so the
 * ring's memory is mapped. A relaxed look, only to skip the call: the
 * burst functions load the same field again with acquire before they read
 * what it guards. A split index moved further than the ring holds is not
 * empty here; the burst then finds the fault.
 */
static __rte_always_inline bool
ring_empty(const struct vhu_vq *vq)
{
	if (vq->packed)
		return !vhu_packed_is_avail(
				__atomic_load_n(&vq->desc_packed[vq->last_avail_idx].flags,
						__ATOMIC_RELAXED),
				vq->avail_wrap);
	return __atomic_load_n(&vq->avail->idx, __ATOMIC_RELAXED) == vq->last_avail_idx;
}

/* SEND_RARP: the next dequeue on any queue announces the guest's MAC. */
static uint16_t
dequeue_rarp(struct vhu_dev *dev, struct rte_mempool *mp, struct rte_mbuf **pkts)
{
	struct rte_mbuf *m;

	/* RA: acquire, rarp_mac is read after the flag; pairs with RA in
	 * vhu_msg_send_rarp() */
	if (__atomic_exchange_n(&dev->rarp_pending, 0, __ATOMIC_ACQUIRE) == 0)
		return 0;
	m = rte_pktmbuf_alloc(mp);
	if (m == NULL || vhu_net_build_rarp(m, &dev->rarp_mac) != 0) {
		rte_pktmbuf_free(m);
		/* try again on the next burst */
		__atomic_store_n(&dev->rarp_pending, 1, __ATOMIC_RELAXED);
		return 0;
	}
	pkts[0] = m;
	return 1;
}

VHU_API uint16_t
vhu_dequeue_burst(int vid, uint16_t queue_id, struct rte_mempool *mp, struct rte_mbuf **pkts,
		uint16_t count)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);
	struct vhu_vq *vq;
	uint16_t n = 0;

	if (unlikely(dev == NULL || queue_id >= VHU_MAX_VRINGS || !(queue_id & 1) || count == 0 ||
			    mp == NULL || pkts == NULL))
		return 0;
	vq = vhu_obj_vq(dev, queue_id);
	if (unlikely(vq == NULL) || unlikely(!vhu_guard_enter(&vq->guard)))
		return 0;
	if (likely(vq->active && !vq->broken)) {
		if (likely(vq->dequeue != NULL)) {
			if (unlikely(__atomic_load_n(&dev->rarp_pending, __ATOMIC_RELAXED) != 0))
				n = dequeue_rarp(dev, mp, pkts);
			/* a RARP that filled the burst leaves count - n = 0:
			 * the ring's burst then moves nothing */
			if (n != 0 || !ring_empty(vq))
				n += vq->dequeue(dev, vq, mp, pkts + n, count - n);
			else if (!vq->packed)
				vhu_split_publish_held(dev, vq);
		}
	}
	/* a disabled ring's TX is the control thread's to drop (vhu_dev_sweep()) */
	vhu_guard_leave(&vq->guard);
	return n;
}

VHU_API uint16_t
vhu_enqueue_burst(int vid, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t count)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);
	struct vhu_vq *vq;
	uint16_t n = 0;

	if (unlikely(dev == NULL || queue_id >= VHU_MAX_VRINGS || (queue_id & 1) || count == 0 ||
			    pkts == NULL))
		return 0;
	vq = vhu_obj_vq(dev, queue_id);
	if (unlikely(vq == NULL) || unlikely(!vhu_guard_enter(&vq->guard)))
		return 0;
	/* a disabled (discarding) ring supplies no RX: nothing goes in */
	if (likely(vq->active && !vq->broken && vq->enqueue != NULL) && !ring_empty(vq))
		n = vq->enqueue(dev, vq, pkts, count);
	vhu_guard_leave(&vq->guard);
	return n;
}

/* ---- notification and counters ---- */

VHU_API int
vhu_enable_guest_notification(int vid, uint16_t queue_id, int enable)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);
	struct vhu_vq *vq = NULL;

	if (dev != NULL && queue_id < VHU_MAX_VRINGS)
		vq = vhu_obj_vq(dev, queue_id);
	if (vq == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	vhu_guard_close(&vq->guard);
	vq->guest_notify = enable ? VHU_GUEST_NOTIFY_ON : VHU_GUEST_NOTIFY_OFF;
	/* a ring not running yet gets the setting when it starts (used and
	 * device_event share their place: either ring layout's third area) */
	if ((vq->active || vq->discard) && vq->used != NULL)
		vhu_vq_apply_notify(dev, vq);
	vhu_guard_open(&vq->guard);
	return 0;
}

VHU_API void
vhu_count_kick(int vid, uint16_t queue_id)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);
	struct vhu_vq *vq;

	if (dev == NULL || queue_id >= VHU_MAX_VRINGS)
		return;
	vq = vhu_obj_vq(dev, queue_id);
	if (vq != NULL)
		vq->stats.kicks++;
}

VHU_API int
vhu_vq_stats_get(int vid, uint16_t queue_id, struct vhu_vq_stats *stats)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);
	struct vhu_vq *vq = NULL;

	if (dev != NULL && queue_id < VHU_MAX_VRINGS)
		vq = vhu_obj_vq(dev, queue_id);
	if (vq == NULL || stats == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	/* plain counters: a reader racing the datapath may see one burst late */
	*stats = vq->stats;
	return 0;
}

VHU_API int
vhu_vq_stats_reset(int vid, uint16_t queue_id)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);
	struct vhu_vq *vq = NULL;

	if (dev != NULL && queue_id < VHU_MAX_VRINGS)
		vq = vhu_obj_vq(dev, queue_id);
	if (vq == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	memset(&vq->stats, 0, sizeof(vq->stats));
	return 0;
}
