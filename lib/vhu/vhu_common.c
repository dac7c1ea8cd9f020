/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* The device table, log types and guest-fault reporting shared by every layer. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_log.h>

#include "vhu_dev.h"

struct vhu_dev *vhu_devices[VHU_MAX_DEVICES];
static rte_spinlock_t vhu_dev_table_lock = RTE_SPINLOCK_INITIALIZER;

RTE_LOG_REGISTER_SUFFIX(vhu_logtype_config, config, INFO);
RTE_LOG_REGISTER_SUFFIX(vhu_logtype_data, data, WARNING);

int
vhu_dev_table_add(struct vhu_dev *dev)
{
	int vid;

	rte_spinlock_lock(&vhu_dev_table_lock);
	for (vid = 0; vid < VHU_MAX_DEVICES; vid++) {
		if (vhu_devices[vid] == NULL) {
			dev->vid = vid;
			/* pairs with the acquire load in bursts via vhu_dev_get() users */
			__atomic_store_n(&vhu_devices[vid], dev, __ATOMIC_RELEASE);
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
	if (dev->vid >= 0 && dev->vid < VHU_MAX_DEVICES && vhu_devices[dev->vid] == dev)
		__atomic_store_n(&vhu_devices[dev->vid], NULL, __ATOMIC_RELEASE);
	rte_spinlock_unlock(&vhu_dev_table_lock);
}

void
vhu_vq_fault(struct vhu_dev *dev, struct vhu_vq *vq, const char *fmt, ...)
{
	uint64_t now = rte_get_timer_cycles();
	uint64_t one = 1;
	char msg[256];
	va_list ap;

	vq->stats.errors++;
	if (vq->errfd >= 0 && write(vq->errfd, &one, sizeof(one)) < 0) {
		/* the front-end's eventfd is full or gone: nothing more to tell it */
	}
	if (vq->err_rl_tsc != 0 && now - vq->err_rl_tsc < rte_get_timer_hz())
		return;
	vq->err_rl_tsc = now;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	VHU_LOG_DATA(ERR, dev->ifname, "vring %u: guest fault: %s", vq->index, msg);
}
