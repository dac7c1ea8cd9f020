/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* The ring guard's control side and its fences (vhu_guard.h). */

#include <errno.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rte_common.h>

#include "vhu_guard.h"
#include "vhu_log.h"

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
	/* GF: store closed, then load in_burst; pairs with GF in vhu_guard_enter() */
	vhu_fence_heavy();
	for (i = 0; i < n; i++)
		/* GL: acquire, the burst's ring accesses are done before we go
		 * on; pairs with GL in vhu_guard_leave() */
		while (__atomic_load_n(&g[i]->in_burst, __ATOMIC_ACQUIRE) != 0)
			rte_pause();
}

void
vhu_guard_open(struct vhu_guard *g)
{
	/* GO: release, the ring's new state is seen by the next burst; pairs
	 * with GO in vhu_guard_enter() */
	__atomic_store_n(&g->closed, 0, __ATOMIC_RELEASE);
	rte_spinlock_unlock(&g->ctl);
}
