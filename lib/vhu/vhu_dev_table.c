/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* The device table (vid -> device). */

#include <errno.h>

#include <rte_spinlock.h>

#include "vhu_dev_table.h"

struct vhu_dev *vhu_dev_table[VHU_MAX_DEVICES];
static rte_spinlock_t vhu_dev_table_lock = RTE_SPINLOCK_INITIALIZER;

int
vhu_dev_table_add(struct vhu_dev *dev)
{
	int vid;

	rte_spinlock_lock(&vhu_dev_table_lock);
	for (vid = 0; vid < VHU_MAX_DEVICES; vid++) {
		if (vhu_dev_table[vid] == NULL) {
			dev->vid = vid;
			/* DT: release, whoever looks the vid up sees the device
			 * set up; pairs with DT in vhu_dev_table_get() */
			__atomic_store_n(&vhu_dev_table[vid], dev, __ATOMIC_RELEASE);
			rte_spinlock_unlock(&vhu_dev_table_lock);
			return 0;
		}
	}
	rte_spinlock_unlock(&vhu_dev_table_lock);
	return -ENOSPC;
}

void
vhu_dev_table_del(struct vhu_dev *dev)
{
	rte_spinlock_lock(&vhu_dev_table_lock);
	if (dev->vid >= 0 && dev->vid < VHU_MAX_DEVICES && vhu_dev_table[dev->vid] == dev)
		/* relaxed: NULL publishes nothing; no thread uses the vid any
		 * more (the application was told: destroy_connection) */
		__atomic_store_n(&vhu_dev_table[dev->vid], NULL, __ATOMIC_RELAXED);
	rte_spinlock_unlock(&vhu_dev_table_lock);
}
