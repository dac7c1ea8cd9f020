/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Split-ring enqueue: mbufs -> the guest's RX ring. */

#ifndef VHU_NET_SPLIT_ENQUEUE_H
#define VHU_NET_SPLIT_ENQUEUE_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "vhu_obj.h"

/* vhu_enqueue_fn bursts: with or without mergeable buffers, any order or in order. */
uint16_t vhu_net_split_enqueue(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_net_split_enqueue_mrg(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_net_split_enqueue_inorder(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_net_split_enqueue_mrg_inorder(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);

#endif /* VHU_NET_SPLIT_ENQUEUE_H */
