/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The device table: vid -> device, for the public functions that take a
 * vid. The control thread adds a device when its connection is accepted
 * and deletes it when the connection is freed; any thread looks a vid up.
 */

#ifndef VHU_DEV_TABLE_H
#define VHU_DEV_TABLE_H

#include <rte_branch_prediction.h>

#include "vhu_obj.h"

extern struct vhu_dev *vhu_dev_table[VHU_MAX_DEVICES];

/* The device of vid, or NULL. */
static inline struct vhu_dev *
vhu_dev_table_get(int vid)
{
	if (unlikely((unsigned int)vid >= VHU_MAX_DEVICES))
		return NULL;
	/* DT: acquire, the device's fields are seen with its pointer; pairs
	 * with DT in vhu_dev_table_add() */
	return __atomic_load_n(&vhu_dev_table[vid], __ATOMIC_ACQUIRE);
}

/* Allocate a vid slot for dev (sets dev->vid); -ENOSPC when full. */
int vhu_dev_table_add(struct vhu_dev *dev);
/* Free dev's slot (when it still holds dev). */
void vhu_dev_table_del(struct vhu_dev *dev);

#endif /* VHU_DEV_TABLE_H */
