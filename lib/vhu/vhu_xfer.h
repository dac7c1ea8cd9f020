/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Device-state transfer (SET_DEVICE_STATE_FD / CHECK_DEVICE_STATE): the
 * back-end's own state of a device, as a versioned blob written to or read
 * from the front-end's pipe without blocking, driven by the control
 * thread's event loop.
 */

#ifndef VHU_XFER_H
#define VHU_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhu_evloop.h"
#include "vhu_obj.h"

/* One device's transfer; none in progress when dir < 0. */
struct vhu_xfer {
	struct vhu_dev *dev;     /* whose state moves */
	struct vhu_evloop_cb ev; /* the pipe's watch */
	int dir;                 /* -1 none, VHU_TRANSFER_SAVE or _LOAD */
	int fd;
	uint8_t *buf;
	size_t len; /* save: bytes to write; load: bytes read */
	size_t off; /* save: bytes written */
	int result; /* 0 ok, -errno; what CHECK_DEVICE_STATE tells */
	bool done;
};

/* No transfer yet, for dev. */
void vhu_xfer_init(struct vhu_xfer *x, struct vhu_dev *dev);
/*
 * Start saving (the blob is built now) or loading through fd (taken: a
 * write end to save into, a read end to load from; made non-blocking).
 * An earlier transfer is abandoned. 0 or -errno (fd closed then).
 */
int vhu_xfer_start(struct vhu_xfer *x, uint32_t dir, int fd);
/*
 * CHECK_DEVICE_STATE: the transfer's result (0 only when it completed and
 * applied), -ENOENT when none was started, -EINPROGRESS when the pipe is
 * still open; the transfer is over either way.
 */
int vhu_xfer_check(struct vhu_xfer *x);
/* Abandon a transfer in progress: pipe closed, buffer freed. */
void vhu_xfer_abort(struct vhu_xfer *x);

#endif /* VHU_XFER_H */
