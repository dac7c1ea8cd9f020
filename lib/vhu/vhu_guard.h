/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The ring guard: how a datapath lcore and the control plane keep out of
 * each other's way without a locked instruction on the fast path.
 *
 * Datapath (one lcore per ring at a time, the ethdev contract):
 *     in_burst = 1; light fence; if closed: in_burst = 0, give up;
 *     ... burst ...; in_burst = 0 (release).
 * Control (any thread; closers serialize on ctl):
 *     lock ctl; closed = 1; heavy fence; wait while in_burst;
 *     ... change the ring ...; closed = 0 (release); unlock ctl.
 *
 * The two sides are a Dekker pair: each stores its flag, then loads the
 * other's, and at least one must see the other's store. That needs a
 * store-load barrier on both sides. A locked instruction per burst on
 * the lcore is what DPDK pays; we pay it on the rare side instead: the
 * heavy fence is membarrier(2) MEMBARRIER_CMD_PRIVATE_EXPEDITED, which
 * runs a full barrier on every CPU currently running a thread of this
 * process before it returns, and the light fence is only a compiler
 * barrier. If the kernel lacks that command (vhu_fence_asym false) both
 * sides use a full fence.
 *
 * The same two fences serve the PMD's per-queue vid guard.
 *
 * Barrier pairs, each side labelled where it stands:
 *   GF  store-load: vhu_fence_light() in vhu_guard_enter() /
 *       vhu_fence_heavy() in vhu_guard_close_n();
 *   GL  in_burst: release store to 0 in vhu_guard_leave() (and in
 *       vhu_guard_enter() when it gives up) / acquire load in
 *       vhu_guard_close_n();
 *   GO  closed: release store to 0 in vhu_guard_open() / acquire load in
 *       vhu_guard_enter().
 */

#ifndef VHU_GUARD_H
#define VHU_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_atomic.h>
#include <rte_branch_prediction.h>
#include <rte_pause.h>
#include <rte_spinlock.h>

/* Set once at load time, before any ring can run; read by every burst. */
extern bool vhu_fence_asym;

/* The datapath's side of a store-load pair. */
static __rte_always_inline void
vhu_fence_light(void)
{
	if (likely(vhu_fence_asym))
		rte_compiler_barrier();
	else
		rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* The control side's: a full barrier here and on every thread of the process. */
void vhu_fence_heavy(void);

struct vhu_guard {
	uint32_t in_burst;  /* datapath: 1 while a burst uses the ring */
	uint32_t closed;    /* control: 1 while a closer holds the ring */
	rte_spinlock_t ctl; /* closers among themselves */
};

static inline void
vhu_guard_init(struct vhu_guard *g)
{
	g->in_burst = 0;
	g->closed = 0;
	rte_spinlock_init(&g->ctl);
}

/* Datapath: true when the burst may use the ring; then vhu_guard_leave(). */
static __rte_always_inline bool
vhu_guard_enter(struct vhu_guard *g)
{
	__atomic_store_n(&g->in_burst, 1, __ATOMIC_RELAXED);
	/* GF: store in_burst, then load closed; pairs with GF in
	 * vhu_guard_close_n() (its store of closed, then load of in_burst) */
	vhu_fence_light();
	/* GO: acquire, what the closer wrote before reopening is seen by the
	 * burst; pairs with GO in vhu_guard_open() */
	if (likely(__atomic_load_n(&g->closed, __ATOMIC_ACQUIRE) == 0))
		return true;
	/* GL: release (nothing was touched); pairs with GL in vhu_guard_close_n() */
	__atomic_store_n(&g->in_burst, 0, __ATOMIC_RELEASE);
	return false;
}

static __rte_always_inline void
vhu_guard_leave(struct vhu_guard *g)
{
	/* GL: release, every ring access of the burst happens before a closer
	 * that sees 0 goes on; pairs with GL in vhu_guard_close_n() */
	__atomic_store_n(&g->in_burst, 0, __ATOMIC_RELEASE);
}

/* Control: close n guards (one heavy fence for all), waiting for their bursts to leave. */
void vhu_guard_close_n(struct vhu_guard *const *g, unsigned int n);
void vhu_guard_open(struct vhu_guard *g);

static inline void
vhu_guard_close(struct vhu_guard *g)
{
	vhu_guard_close_n(&g, 1);
}

#endif /* VHU_GUARD_H */
