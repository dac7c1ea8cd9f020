/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Virtqueue control: allocation and reset of a ring, translation of the
 * ring addresses the front-end gave, the state the datapath obeys
 * (active = started && enabled && translated; discard = started,
 * disabled and translated) and the guest's notification setting. The
 * split and packed layouts' inline helpers are in vhu_split_pvt.h and
 * vhu_packed_pvt.h, guest faults in vhu_fault.h.
 */

#ifndef VHU_VQ_H
#define VHU_VQ_H

#include <stdbool.h>
#include <stdint.h>

#include "vhu_obj.h"

/* A new ring (stopped, disabled, no fds); NULL when out of memory. */
struct vhu_vq *vhu_vq_alloc(uint16_t index);
/* Close the ring's fds and free it; the ring must be inactive. NULL ok. */
void vhu_vq_free(struct vhu_vq *vq);
/* Back to the state of a new ring, its fds closed. Caller has closed the guard. */
void vhu_vq_reset(struct vhu_vq *vq);

/*
 * (Re)translate the ring's addresses with dev->mem and recompute
 * vq->active and vq->discard. *start is set when the ring starts running
 * (active or discarding, and it was neither): its burst functions must
 * then be chosen (the device layer does, vhu_dev_vq_refresh()). Caller
 * holds the guard. 0, or -EFAULT when the addresses do not translate.
 */
int vhu_vq_update(struct vhu_dev *dev, struct vhu_vq *vq, bool *start);

/*
 * Has the guest made a buffer available on the active ring (see
 * vhu_vring_has_buffers)? Caller holds the ring's guard closed.
 */
bool vhu_vq_has_buffers(const struct vhu_vq *vq);

/*
 * How much the guest has made available on a started, disabled ring (0 for
 * any other): split rings count avail entries past last_avail_idx (possibly
 * more than the ring holds: a guest fault the discard reports), packed
 * rings count the available slots from last_avail_idx, one lap at most.
 * Control thread only.
 */
uint32_t vhu_vq_avail_mark(const struct vhu_vq *vq);

/*
 * Write vq->guest_notify into a running ring (used->flags or avail_event
 * for split rings, the device event structure for packed ones). Caller
 * holds the guard, or is the burst selection.
 */
void vhu_vq_apply_notify(struct vhu_dev *dev, struct vhu_vq *vq);

#endif /* VHU_VQ_H */
