/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* The device table, log types and guest-fault reporting shared by every layer. */

#include <errno.h>
#include <linux/membarrier.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_log.h>

#include "vhu_dev.h"

struct vhu_dev *vhu_devices[VHU_MAX_DEVICES];
static rte_spinlock_t vhu_dev_table_lock = RTE_SPINLOCK_INITIALIZER;

RTE_LOG_REGISTER_SUFFIX(vhu_logtype_config, config, INFO);
RTE_LOG_REGISTER_SUFFIX(vhu_logtype_data, data, WARNING);

/* ---- fences for the ring guards (vhu_guard.h) ---- */

bool vhu_fence_asym;

static long
vhu_membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

/*
 * At load time, before any ring exists: register for expedited private
 * membarriers. VHU_FENCE=full in the environment keeps the symmetric
 * fences (a test of that path, or a kernel that misbehaves).
 */
RTE_INIT(vhu_fence_setup)
{
	const char *env = getenv("VHU_FENCE");
	long cmds;

	if (env != NULL && strcmp(env, "full") == 0)
		return;
	cmds = vhu_membarrier(MEMBARRIER_CMD_QUERY);
	if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
			vhu_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0)
		vhu_fence_asym = true;
}

void
vhu_fence_heavy(void)
{
	/* our own store (closed, vid) is globally visible before the others' barriers */
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vhu_fence_asym && vhu_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
		/*
		 * Cannot happen once registered (the kernel documents no
		 * failure); if it did, a burst could miss our store, so say so.
		 */
		VHU_LOG_CONFIG(ERR, "vhu", "membarrier failed: %s", strerror(errno));
	}
	/* and our following loads (in_burst, busy) come after it */
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void
vhu_guard_close_n(struct vhu_guard *const *g, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		rte_spinlock_lock(&g[i]->ctl);
		__atomic_store_n(&g[i]->closed, 1, __ATOMIC_RELAXED);
	}
	/* store closed, then load in_burst: pairs with vhu_fence_light() in vhu_guard_enter() */
	vhu_fence_heavy();
	for (i = 0; i < n; i++)
		/* acquire: pairs with the release store in vhu_guard_leave() */
		while (__atomic_load_n(&g[i]->in_burst, __ATOMIC_ACQUIRE) != 0)
			rte_pause();
}

void
vhu_guard_open(struct vhu_guard *g)
{
	/* release: the ring's new state is seen by the next burst's acquire of closed */
	__atomic_store_n(&g->closed, 0, __ATOMIC_RELEASE);
	rte_spinlock_unlock(&g->ctl);
}

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
