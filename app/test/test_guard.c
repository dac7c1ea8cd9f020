/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The ring guard (vhu_guard.h) on its own: a closer waits for a burst
 * inside, a burst backs off a closed guard, and under contention a burst
 * never sees a half-made change, with the membarrier fences and with the
 * symmetric ones.
 */

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "mock_fe.h"
#include "vhu_guard.h"
#include "vhu_test.h"

VHU_TEST(fast, guard_fence_mode)
{
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	const char *env = getenv("VHU_FENCE");
	bool expect = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
			!(env != NULL && strcmp(env, "full") == 0);

	TEST_LOG("fences: %s",
			vhu_fence_asym ? "membarrier (datapath: compiler barrier only)" :
					 "full on both sides");
	TEST_ASSERT_EQ(vhu_fence_asym, expect, "membarrier used exactly when the kernel has it");
	return TEST_SUCCESS;
}

struct holder {
	struct vhu_guard *g;
	volatile int inside, left, entered;
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;

	h->entered = vhu_guard_enter(h->g);
	h->inside = 1;
	vhu_test_sleep_ms(100);
	h->left = 1;
	if (h->entered)
		vhu_guard_leave(h->g);
	return NULL;
}

VHU_TEST(fast, guard_close_waits_for_burst)
{
	struct vhu_guard g;
	struct holder h = { .g = &g };
	pthread_t t;
	int waited = 0;

	vhu_guard_init(&g);
	TEST_ASSERT_EQ(pthread_create(&t, NULL, holder_main, &h), 0, "thread");
	while (!h.inside && waited++ < 2000)
		vhu_test_sleep_ms(1);
	TEST_ASSERT(h.inside && h.entered, "the burst got in");
	vhu_guard_close(&g);
	TEST_ASSERT(h.left, "close returned while a burst was inside");
	/* closed: a burst backs off */
	TEST_ASSERT(!vhu_guard_enter(&g), "entered a closed guard");
	TEST_ASSERT_EQ(g.in_burst, 0, "backing off leaves nothing behind");
	vhu_guard_open(&g);
	TEST_ASSERT(vhu_guard_enter(&g), "open again");
	vhu_guard_leave(&g);
	pthread_join(t, NULL);
	return TEST_SUCCESS;
}

/* ---- contention: the closer keeps two fields equal except while closed ---- */

struct pair {
	struct vhu_guard g;
	volatile uint64_t a, b;
	volatile int stop;
	volatile int running; /* the reader has started */
	uint64_t bursts, torn, backoffs;
};

static void *
reader_main(void *arg)
{
	struct pair *p = arg;

	__atomic_store_n(&p->running, 1, __ATOMIC_RELEASE);
	while (!p->stop) {
		uint64_t x, y;

		if (!vhu_guard_enter(&p->g)) {
			p->backoffs++;
			continue;
		}
		x = p->a;
		y = p->b;
		vhu_guard_leave(&p->g);
		if (x != y)
			p->torn++;
		p->bursts++;
	}
	return NULL;
}

/* The reader on another CPU than this thread (EAL pinned it, and a new thread inherits that). */
static int
contend(unsigned int changes, int cpu)
{
	pthread_attr_t attr;
	cpu_set_t set;
	struct pair p;
	pthread_t t;
	unsigned int i;
	int rc;

	memset(&p, 0, sizeof(p));
	vhu_guard_init(&p.g);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	rc = pthread_create(&t, &attr, reader_main, &p);
	pthread_attr_destroy(&attr);
	TEST_ASSERT_EQ(rc, 0, "thread");
	/* on a loaded machine the reader may take a while to be scheduled */
	for (i = 0; i < 2000 && !__atomic_load_n(&p.running, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	for (i = 1; i <= changes; i++) {
		vhu_guard_close(&p.g);
		p.a = i;
		/* a burst inside would see a != b now */
		rte_delay_us_block(1);
		p.b = i;
		vhu_guard_open(&p.g);
		if ((i & 63) == 0)
			usleep(10);
	}
	p.stop = 1;
	pthread_join(t, NULL);
	TEST_LOG("%u changes, %" PRIu64 " bursts, %" PRIu64 " backed off, %" PRIu64 " torn",
			changes, p.bursts, p.backoffs, p.torn);
	TEST_ASSERT(p.bursts > 0, "the reader ran");
	TEST_ASSERT_EQ(p.torn, 0, "a burst saw a half-made change");
	return TEST_SUCCESS;
}

VHU_TEST(fast, guard_contention)
{
	bool asym = vhu_fence_asym;
	int me = sched_getcpu(), cpu, rc;

	/* another online CPU */
	if (me < 0)
		return TEST_SKIPPED;
	for (cpu = 0; cpu < (int)sysconf(_SC_NPROCESSORS_ONLN) && cpu < CPU_SETSIZE; cpu++)
		if (cpu != me)
			break;
	if (cpu >= (int)sysconf(_SC_NPROCESSORS_ONLN))
		return TEST_SKIPPED; /* one CPU: nothing runs concurrently */
	TEST_RUN(contend(3000, cpu));
	/* the symmetric fences, as on a kernel without membarrier (no burst runs now) */
	vhu_fence_asym = false;
	rc = contend(3000, cpu);
	vhu_fence_asym = asym;
	return rc;
}
