/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The perf suite's empty-poll figures: what one rte_eth_rx_burst() or
 * rte_eth_tx_burst() call costs when there is nothing to do, for net_vhu
 * and for DPDK's net_vhost side by side in this process, each with its own
 * virtio-user front-end. A vSwitch polls many queues of which most are
 * idle, so this cost decides how many guests one core can serve.
 *
 * Measured states, for a split and a packed ring:
 *   no front-end   the port is started, nobody connected yet;
 *   connected      front-end attached, rings live (checked by a frame each
 *                  way first), the guest sends nothing: rx finds its TX
 *                  ring empty; tx offers one frame to a guest whose RX
 *                  ring we filled first, so the frame cannot go in.
 * The two drivers' batches alternate (who goes first changes every batch),
 * and each figure is the median over the batches of cycles per call,
 * ethdev's inline wrapper included (the same for both). Printed, never
 * asserted: what fails the case is breakage (a port that does not come
 * up, a poll that returns a frame nobody sent, a frame accepted into a
 * full ring). devtools/bench.py --idle runs this case and puts the lines
 * in its table and JSON. Without net_vhost (its plugin is in Debian's dpdk
 * package), net_vhu's figures are printed and the case reports a skip.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "pmd_peer.h"
#include "test_pmd.h"
#include "vhu_test.h"

#define IDLE_CALLS   2000 /* calls per timed batch */
#define IDLE_BATCHES 31   /* batches per driver and figure */
#define IDLE_QSIZE   256  /* the front-end's ring size (peer_port_conf) */

enum {
	DRV_VHU,
	DRV_VHOST,
	DRV_N
};
enum {
	OP_RX,
	OP_TX,
	OP_N
};

static const char *const drv_name[DRV_N] = { "vhu", "vhost" };

struct idle_port {
	char be[32], fe[32], sock[128];
	uint16_t be_id, fe_id;
	bool be_up, fe_up;
};

static uint64_t idle_samples[DRV_N][IDLE_BATCHES];

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Cycles of IDLE_CALLS empty rx bursts; *got counts frames that came anyway. */
static uint64_t
time_rx(uint16_t port, uint32_t *got)
{
	struct rte_mbuf *pkts[32];
	uint64_t t;
	uint16_t nb;
	uint32_t i;

	t = rte_rdtsc_precise();
	for (i = 0; i < IDLE_CALLS; i++) {
		nb = rte_eth_rx_burst(port, 0, pkts, RTE_DIM(pkts));
		if (unlikely(nb != 0)) {
			rte_pktmbuf_free_bulk(pkts, nb);
			*got += nb;
		}
	}
	return rte_rdtsc_precise() - t;
}

/* Cycles of IDLE_CALLS tx bursts of one frame that has nowhere to go; *sent counts the others. */
static uint64_t
time_tx(uint16_t port, struct rte_mbuf **m, uint32_t *sent)
{
	uint64_t t;
	uint32_t i;

	t = rte_rdtsc_precise();
	for (i = 0; i < IDLE_CALLS; i++) {
		if (unlikely(rte_eth_tx_burst(port, 0, m, 1) != 0)) {
			/* taken: the driver owns it now; carry on with a new one */
			*sent += 1;
			*m = frame_make(64, 0, &dst_uc);
			if (*m == NULL)
				break;
		}
	}
	return rte_rdtsc_precise() - t;
}

/*
 * One figure: the op on queue 0 of ports[d].be_id for both drivers, batches
 * alternating, into med[d] (cycles per call). Fails on a frame received or
 * accepted, which nothing in this case sends or has room for.
 */
static int
measure(struct idle_port *ports, unsigned int ndrv, int op, double *med)
{
	struct rte_mbuf *m[DRV_N] = { NULL };
	uint32_t odd[DRV_N] = { 0 };
	unsigned int b, k, d;
	int rc = TEST_SUCCESS;

	for (d = 0; d < ndrv; d++) {
		m[d] = frame_make(64, 0, &dst_uc);
		TEST_ASSERT(m[d] != NULL, "mbuf");
	}
	for (b = 0; b < IDLE_BATCHES; b++)
		for (k = 0; k < ndrv; k++) {
			d = (b + k) % ndrv;
			idle_samples[d][b] = op == OP_RX ? time_rx(ports[d].be_id, &odd[d]) :
							   time_tx(ports[d].be_id, &m[d], &odd[d]);
		}
	for (d = 0; d < ndrv; d++) {
		rte_pktmbuf_free(m[d]);
		qsort(idle_samples[d], IDLE_BATCHES, sizeof(uint64_t), cmp_u64);
		med[d] = (double)idle_samples[d][IDLE_BATCHES / 2] / IDLE_CALLS;
		if (odd[d] != 0) {
			TEST_LOG("net_%s: %u frames %s where there was none", drv_name[d], odd[d],
					op == OP_RX ? "received" : "accepted into a full ring");
			rc = TEST_FAILED;
		}
	}
	return rc;
}

static void
report(const char *layout, const char *state, int op, const double *med, unsigned int ndrv)
{
	const char *what = op == OP_RX ? "rx" : "tx1";

	if (ndrv == DRV_N)
		printf("    idle-poll %-6s %-12s %-3s: vhu %7.1f  vhost %7.1f cycles/call  "
		       "(vhu/vhost %.2f)\n",
				layout, state, what, med[DRV_VHU], med[DRV_VHOST],
				med[DRV_VHOST] > 0 ? med[DRV_VHU] / med[DRV_VHOST] : 0.0);
	else
		printf("    idle-poll %-6s %-12s %-3s: vhu %7.1f  vhost      -  cycles/call\n",
				layout, state, what, med[DRV_VHU]);
	fflush(stdout);
}

/* Send single frames into the guest's RX ring until it takes no more (bounded). */
static int
fill_guest(uint16_t port, const char *drv)
{
	uint64_t end = now_ms() + PEER_WAIT_MS;
	uint32_t filled = 0, refused = 0;
	struct rte_mbuf *m = NULL;

	/* a refusal may be a passing lock (net_vhost's trylock): three in a row, 1 ms apart */
	while (refused < 3 && now_ms() < end) {
		if (m == NULL)
			m = frame_make(64, (uint8_t)filled, &dst_uc);
		TEST_ASSERT(m != NULL, "mbuf");
		if (rte_eth_tx_burst(port, 0, &m, 1) == 1) {
			m = NULL;
			filled++;
			refused = 0;
			TEST_ASSERT(filled <= IDLE_QSIZE, "net_%s: %u frames into a ring of %u",
					drv, filled, IDLE_QSIZE);
		} else {
			refused++;
			usleep(1000);
		}
	}
	rte_pktmbuf_free(m);
	TEST_ASSERT(refused == 3 && filled > 0, "net_%s: guest ring not filled (%u frames)", drv,
			filled);
	return TEST_SUCCESS;
}

/* Back-end ports of both drivers (ndrv: 1 without net_vhost), started, no front-end. */
static int
idle_backends(struct pmd_env *e, struct idle_port *p, unsigned int *ndrv, const char *layout,
		char *why, size_t whylen)
{
	char args[256];
	unsigned int d;
	int rc;

	for (d = 0; d < DRV_N; d++) {
		snprintf(p[d].sock, sizeof(p[d].sock), "%s/%s-%s.sock", e->dir, drv_name[d],
				layout);
		snprintf(p[d].be, sizeof(p[d].be), "net_%s_idle_%s", drv_name[d], layout);
		snprintf(p[d].fe, sizeof(p[d].fe), "net_virtio_user_idle_%s%u", layout, d);
	}
	TEST_ASSERT_EQ(vhu_port(p[DRV_VHU].be, p[DRV_VHU].sock, NULL, 1, NULL, &p[DRV_VHU].be_id),
			0, "net_vhu port");
	p[DRV_VHU].be_up = true;
	*ndrv = DRV_N;
	snprintf(args, sizeof(args), "iface=%s,queues=1", p[DRV_VHOST].sock);
	rc = rte_vdev_init(p[DRV_VHOST].be, args);
	if (rc != 0) {
		/* DPDK's plugin directory holds librte_net_vhost.so when Debian's dpdk is whole */
		snprintf(why, whylen,
				"net_vhost not loadable (rte_vdev_init: %s); it is "
				"librte_net_vhost.so in %s, Debian's dpdk package",
				rc == -1 ? "no driver by that name" : rte_strerror(-rc),
				vhu_test_dpdk_pmd_dir);
		*ndrv = 1;
		return TEST_SUCCESS;
	}
	p[DRV_VHOST].be_up = true;
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name(p[DRV_VHOST].be, &p[DRV_VHOST].be_id), 0, "");
	TEST_ASSERT_EQ(pmd_port_setup(p[DRV_VHOST].be_id, 1, peer_pool(), NULL), 0, "vhost setup");
	TEST_ASSERT_EQ(rte_eth_dev_start(p[DRV_VHOST].be_id), 0, "vhost start");
	return TEST_SUCCESS;
}

static int
idle_layout(struct pmd_env *e, const char *layout, const char *peer_args, char *why, size_t whylen)
{
	struct idle_port p[DRV_N];
	double med[DRV_N];
	unsigned int ndrv, d;
	int rc = TEST_SUCCESS;

	memset(p, 0, sizeof(p));
	TEST_RUN(idle_backends(e, p, &ndrv, layout, why, whylen));
	for (d = 0; d < ndrv; d++)
		TEST_ASSERT_EQ(wait_link(p[d].be_id, RTE_ETH_LINK_DOWN), 0, "net_%s link down",
				drv_name[d]);
	/* no front-end: the port's first check says so */
	TEST_RUN(measure(p, ndrv, OP_RX, med));
	report(layout, "no-frontend", OP_RX, med, ndrv);
	TEST_RUN(measure(p, ndrv, OP_TX, med));
	report(layout, "no-frontend", OP_TX, med, ndrv);

	for (d = 0; d < ndrv; d++) {
		TEST_ASSERT_EQ(peer_port(p[d].fe, p[d].sock, peer_args, 1, &p[d].fe_id), 0,
				"virtio-user for net_%s", drv_name[d]);
		p[d].fe_up = true;
	}
	for (d = 0; d < ndrv; d++) {
		TEST_ASSERT_EQ(wait_link(p[d].be_id, RTE_ETH_LINK_UP), 0, "net_%s link up",
				drv_name[d]);
		/* the rings are live: a frame each way, content checked */
		TEST_RUN(traffic_both_ways(p[d].be_id, p[d].fe_id, 0, 1));
	}
	TEST_RUN(measure(p, ndrv, OP_RX, med));
	report(layout, "connected", OP_RX, med, ndrv);
	for (d = 0; d < ndrv; d++)
		TEST_RUN(fill_guest(p[d].be_id, drv_name[d]));
	TEST_RUN(measure(p, ndrv, OP_TX, med));
	report(layout, "connected", OP_TX, med, ndrv);

	for (d = 0; d < ndrv; d++) {
		if (p[d].fe_up && pmd_close(p[d].fe) != 0)
			rc = TEST_FAILED;
		if (p[d].be_up && pmd_close(p[d].be) != 0)
			rc = TEST_FAILED;
	}
	return rc;
}

VHU_TEST_F(perf, perf_idle_poll, pmd_env, e)
{
	char why[512] = "";

	printf("    idle-poll: cycles per call, median of %u batches of %u calls, the two drivers' "
	       "batches alternating;\n"
	       "    rx: an empty ring; tx1: one 64-byte frame that cannot go (guest ring full, "
	       "or no front-end)\n",
			IDLE_BATCHES, IDLE_CALLS);
	TEST_RUN(idle_layout(e, "split", "mrg_rxbuf=0,in_order=0,packed_vq=0", why, sizeof(why)));
	TEST_RUN(idle_layout(e, "packed", "mrg_rxbuf=0,in_order=0,packed_vq=1", why, sizeof(why)));
	if (why[0] != '\0') {
		printf("    idle-poll: net_vhost skipped: %s\n", why);
		return TEST_SKIPPED;
	}
	return TEST_SUCCESS;
}
