/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The layout-free datapath: the public burst entry points (vhu.h), the
 * choice of each ring's burst functions when it starts, and per-queue
 * notification and counters of the public API.
 */

#ifndef VHU_NET_BURST_H
#define VHU_NET_BURST_H

#include "vhu_obj.h"

/*
 * Choose vq->dequeue / vq->enqueue for the ring's layout and the
 * negotiated features, reset the datapath's per-start state (broken,
 * signalled_used_valid) and apply the guest notification setting. Called
 * by vhu_dev_vq_refresh() under the guard whenever the ring becomes active
 * or discarding; a split ring needs vq->size a power of two, a packed ring
 * any size up to VHU_MAX_RING_SIZE. A ring that cannot run is marked broken.
 */
void vhu_net_select_burst(struct vhu_dev *dev, struct vhu_vq *vq);

#endif /* VHU_NET_BURST_H */
