/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Packed-ring enqueue: mbufs -> the guest's RX ring. */

#ifndef VHU_NET_PACKED_ENQUEUE_H
#define VHU_NET_PACKED_ENQUEUE_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "vhu_obj.h"

/* vhu_enqueue_fn bursts: without or with mergeable buffers. */
uint16_t vhu_net_packed_enqueue(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_net_packed_enqueue_mrg(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);

#endif /* VHU_NET_PACKED_ENQUEUE_H */
