/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The device as the control thread changes it: its rings (allocation,
 * refresh with burst selection, quiescing all of them at once), readiness,
 * reset, the memory and areas it holds. The public getters (vhu.h) are
 * defined here too. Everything but the getters runs on the control thread.
 */

#ifndef VHU_DEV_H
#define VHU_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "vhu_obj.h"

/* Ring index -> ring, allocating it; NULL when index >= 2 * max queue pairs or out of memory. */
struct vhu_vq *vhu_dev_vq(struct vhu_dev *dev, uint32_t index);

/*
 * (Re)translate the ring with dev->mem and recompute its state
 * (vhu_vq_update()); when it starts running, choose its burst functions
 * for the negotiated features. Caller holds the ring's guard. 0, or
 * -EFAULT when the ring's addresses do not translate.
 */
int vhu_dev_vq_refresh(struct vhu_dev *dev, struct vhu_vq *vq);

/* Take / release every ring's guard (datapath quiesced while held). */
void vhu_dev_lock_all(struct vhu_dev *dev);
void vhu_dev_unlock_all(struct vhu_dev *dev);
/* Refresh every ring under its guard (after a memory/feature change). */
int vhu_dev_refresh_all(struct vhu_dev *dev, const char **why);
/*
 * Apply a checked IOTLB update or invalidation: every ring quiesced, the
 * tables built again, every ring translated again (a ring whose area lost
 * its entry waits, its miss asked for), then reopened. When this returns
 * no burst reads or writes through an invalidated mapping. 0, or -errno
 * with *why (fatal: memory, or a started ring now mapped wrongly).
 */
int vhu_dev_iotlb_msg(struct vhu_dev *dev, const struct vhu_iotlb_msg *m, const char **why);
/* Is any ring started? */
bool vhu_dev_any_started(const struct vhu_dev *dev);
/* Every ring inactive: no lcore is inside one when this returns. */
void vhu_dev_deactivate_all(struct vhu_dev *dev);

/*
 * Started but disabled rings (vhost-user spec, "Ring states"): the
 * back-end processes them without side effects, dropping the guest's TX.
 * Front-ends send SET_VRING_ENABLE without waiting for an answer and
 * transmit at once, so a buffer is dropped only when it was seen made
 * available while no message that could enable its ring was waiting:
 * the connection observes (vhu_dev_sweep_observe()), checks that nothing
 * is unread on its socket, then sweeps up to the marks. Control thread only.
 */
/* Is a TX ring started and disabled (so the connection should sweep now and then)? */
bool vhu_dev_sweep_wanted(const struct vhu_dev *dev);
/* Read how much each such ring has available into marks[2 * max queue pairs]; how many have some. */
unsigned int vhu_dev_sweep_observe(const struct vhu_dev *dev, uint32_t *marks);
/* Drop what the marks cover on rings still started and disabled. */
void vhu_dev_sweep(struct vhu_dev *dev, const uint32_t *marks);

/*
 * Can the device be handed to the application: memory mapped, features
 * set, rings 0 and 1 active, and DRIVER_OK when the front-end speaks STATUS?
 */
bool vhu_dev_ready(const struct vhu_dev *dev);

/*
 * RESET_OWNER / RESET_DEVICE, after the application was told: every ring
 * reset (fds closed), features, status and memory dropped.
 */
void vhu_dev_reset(struct vhu_dev *dev);

/* Unmap guest memory, the dirty log and the inflight area (rings quiesced meanwhile). */
void vhu_dev_drop_memory(struct vhu_dev *dev);
/* Unmap and close the inflight area, if any. */
void vhu_dev_drop_inflight(struct vhu_dev *dev);

#endif /* VHU_DEV_H */
