/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Guest faults on a ring: what the datapath and the ring code do with a guest they cannot trust. */

#ifndef VHU_FAULT_H
#define VHU_FAULT_H

#include "vhu_obj.h"

/*
 * A guest fault on a ring: counted (errors), logged at most once a second
 * per ring, and signalled on the ring's error eventfd when the front-end
 * gave one.
 */
void vhu_fault(struct vhu_dev *dev, struct vhu_vq *vq, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

/*
 * A guest fault that makes the ring unusable: as vhu_fault(), and the
 * datapath stops touching the ring until it is started again.
 */
#define vhu_fault_break(dev, vq, ...) \
	do { \
		(vq)->broken = true; \
		vhu_fault((dev), (vq), __VA_ARGS__); \
	} while (0)

#endif /* VHU_FAULT_H */
