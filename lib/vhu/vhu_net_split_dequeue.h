/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Split-ring dequeue: the guest's TX ring -> mbufs; the discarding of a disabled TX ring. */

#ifndef VHU_NET_SPLIT_DEQUEUE_H
#define VHU_NET_SPLIT_DEQUEUE_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "vhu_obj.h"

/* vhu_dequeue_fn bursts (any order, and VIRTIO_F_IN_ORDER). */
uint16_t vhu_net_split_dequeue(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_net_split_dequeue_inorder(struct vhu_dev *dev, struct vhu_vq *vq,
		struct rte_mempool *mp, struct rte_mbuf **pkts, uint16_t count);
/* Started but disabled ring: consume the guest's TX and drop it. */
/*
 * A started, disabled TX ring: return at most budget buffers to the guest
 * unread (used, length 0) and count them dropped. Control thread only.
 */
void vhu_net_split_discard(struct vhu_dev *dev, struct vhu_vq *vq, uint32_t budget);

#endif /* VHU_NET_SPLIT_DEQUEUE_H */
