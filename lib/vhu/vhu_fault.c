/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Guest faults on a ring (vhu_fault.h). */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "vhu_fault.h"

void
vhu_fault(struct vhu_dev *dev, struct vhu_vq *vq, const char *fmt, ...)
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
