/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * net_vhu against DPDK's virtio-user in this process (driver suite): link
 * and queue-state events, traffic both ways with content checked, stats
 * and xstats against the frames sent, stop/start/reconfigure, rx
 * interrupts waking a sleeping lcore, reconnects, hot-plug cycles and many
 * ports. Offloads, jumbo frames and tx steering: test_pmd_peer_offload.c.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_interrupts.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "pmd_peer.h"
#include "rte_pmd_vhu.h"
#include "test_pmd.h"
#include "vhu.h"
#include "vhu_dev_table.h"
#include "vhu_test.h"

/* ---- events ---- */

static unsigned int lsc_events, qs_events;

static int
count_events(uint16_t port_id __rte_unused, enum rte_eth_event_type type, void *arg __rte_unused,
		void *ret __rte_unused)
{
	if (type == RTE_ETH_EVENT_INTR_LSC)
		__atomic_fetch_add(&lsc_events, 1, __ATOMIC_RELAXED);
	else if (type == RTE_ETH_EVENT_QUEUE_STATE)
		__atomic_fetch_add(&qs_events, 1, __ATOMIC_RELAXED);
	return 0;
}

static int
wait_count(unsigned int *counter, unsigned int at_least)
{
	uint64_t end = now_ms() + PEER_WAIT_MS;

	while (__atomic_load_n(counter, __ATOMIC_RELAXED) < at_least) {
		if (now_ms() > end)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

VHU_TEST_F(driver, pmd_peer_events, pmd_env, e)
{
	char sock[128], ifname[128];
	struct vhu_eth_queue_event ev;
	unsigned int enabled_rx = 0, enabled_tx = 0;
	uint16_t vhu, peer;
	uint64_t end;
	int vid;

	snprintf(sock, sizeof(sock), "%s/ev.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_e0", sock, NULL, 2, NULL, &vhu), 0, "vhu port");
	lsc_events = qs_events = 0;
	TEST_ASSERT_EQ(rte_eth_dev_callback_register(
				       vhu, RTE_ETH_EVENT_INTR_LSC, count_events, NULL),
			0, "cb");
	TEST_ASSERT_EQ(rte_eth_dev_callback_register(
				       vhu, RTE_ETH_EVENT_QUEUE_STATE, count_events, NULL),
			0, "cb");

	TEST_ASSERT_EQ(peer_port("net_virtio_user_e0", sock, NULL, 2, &peer), 0, "virtio-user");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up");
	TEST_ASSERT_EQ(wait_count(&lsc_events, 1), 0, "LSC event");
	TEST_ASSERT_EQ(wait_count(&qs_events, 1), 0, "queue-state event");
	vid = vhu_eth_get_vid(vhu);
	TEST_ASSERT(vid >= 0, "vid %d", vid);
	TEST_ASSERT_EQ(vhu_get_ifname(vid, ifname, sizeof(ifname)), 0, "ifname");
	TEST_ASSERT(strcmp(ifname, sock) == 0, "ifname %s", ifname);
	/* Every ring of the two pairs gets enabled (the front-end may enable them one by one). */
	end = now_ms() + PEER_WAIT_MS;
	while ((enabled_rx < 2 || enabled_tx < 2) && now_ms() < end) {
		if (vhu_eth_get_queue_event(vhu, &ev) != 0) {
			TEST_ASSERT_EQ(rte_errno, EAGAIN, "no event");
			usleep(1000);
			continue;
		}
		TEST_ASSERT(ev.queue_id < 2, "queue %u", ev.queue_id);
		TEST_ASSERT(ev.enable, "queue %u reported disabled", ev.queue_id);
		*(ev.rx ? &enabled_rx : &enabled_tx) += 1;
	}
	TEST_ASSERT_EQ(enabled_rx, 2, "rx queues enabled");
	TEST_ASSERT_EQ(enabled_tx, 2, "tx queues enabled");
	/* Each reported once. */
	TEST_ASSERT_EQ(vhu_eth_get_queue_event(vhu, &ev), -1, "nothing more");

	/* The front-end goes away: link down, LSC, rings reported disabled. */
	TEST_ASSERT_EQ(pmd_close("net_virtio_user_e0"), 0, "close virtio-user");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_DOWN), 0, "link down");
	TEST_ASSERT_EQ(wait_count(&lsc_events, 2), 0, "second LSC event");
	TEST_ASSERT_EQ(vhu_eth_get_vid(vhu), -1, "no vid");
	enabled_rx = 0;
	while (vhu_eth_get_queue_event(vhu, &ev) == 0)
		enabled_rx += !ev.enable;
	TEST_ASSERT_EQ(enabled_rx, 4, "four rings disabled");

	TEST_ASSERT_EQ(pmd_close("net_vhu_e0"), 0, "close vhu");
	TEST_ASSERT(!pmd_file_exists(sock), "socket file removed");
	return TEST_SUCCESS;
}

/* ---- traffic, stats, xstats ---- */

VHU_TEST_F(driver, pmd_peer_traffic_stats, pmd_env, e)
{
	static const struct rte_ether_addr *const dsts[] = { &dst_uc, &dst_mc, &dst_bc, &dst_bc };
	static const uint16_t cast_len[] = { 64, 64, 64, 64 };
	char sock[128];
	struct rte_eth_stats st;
	uint64_t bytes = 0;
	uint16_t vhu, peer;
	unsigned int i;

	for (i = 0; i < RTE_DIM(peer_sizes); i++)
		bytes += peer_sizes[i];
	snprintf(sock, sizeof(sock), "%s/tr.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_t0", sock, NULL, 2, NULL, &vhu), 0, "vhu port");
	TEST_ASSERT_EQ(peer_port("net_virtio_user_t0", sock, NULL, 2, &peer), 0, "virtio-user");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up");
	TEST_ASSERT_EQ(rte_eth_stats_reset(vhu), 0, "reset");

	TEST_RUN(traffic_both_ways(vhu, peer, 0, 2));
	TEST_RUN(traffic_both_ways(vhu, peer, 1, 1));
	/* polled queues (no rx interrupts): the guest was told not to kick its TX rings */
	{
		struct vhu_dev *d = vhu_dev_table_get(vhu_eth_get_vid(vhu));
		uint16_t q;

		TEST_ASSERT(d != NULL, "device");
		for (q = 1; q < 4; q += 2)
			TEST_ASSERT(d->vq[q] != NULL && d->vq[q]->used != NULL &&
							(d->vq[q]->used->flags &
									VHU_USED_F_NO_NOTIFY),
					"vring %u: guest still asked to kick", q);
	}

	TEST_ASSERT_EQ(rte_eth_stats_get(vhu, &st), 0, "stats");
	TEST_ASSERT_EQ(st.ipackets, 3 * RTE_DIM(peer_sizes), "ipackets");
	TEST_ASSERT_EQ(st.opackets, 3 * RTE_DIM(peer_sizes), "opackets");
	TEST_ASSERT_EQ(st.ibytes, 3 * bytes, "ibytes");
	TEST_ASSERT_EQ(st.obytes, 3 * bytes, "obytes");
	TEST_ASSERT_EQ(st.ierrors, 0, "ierrors");
	TEST_ASSERT_EQ(st.oerrors, 0, "oerrors");
	TEST_ASSERT_EQ(st.q_ipackets[0], 2 * RTE_DIM(peer_sizes), "q0 in");
	TEST_ASSERT_EQ(st.q_ipackets[1], RTE_DIM(peer_sizes), "q1 in");
	TEST_ASSERT_EQ(st.q_opackets[1], RTE_DIM(peer_sizes), "q1 out");
	TEST_ASSERT_EQ(st.q_obytes[0], 2 * bytes, "q0 out bytes");

	XSTAT_EQ(vhu, "rx_q0_packets", 2 * RTE_DIM(peer_sizes));
	XSTAT_EQ(vhu, "rx_q0_bytes", 2 * bytes);
	XSTAT_EQ(vhu, "rx_q0_guest_errors", 0);
	XSTAT_EQ(vhu, "rx_q0_dropped", 0);
	/* One frame per size bucket per round. */
	XSTAT_EQ(vhu, "rx_q0_size_undersize_packets", 2);
	XSTAT_EQ(vhu, "rx_q0_size_64_packets", 2);
	XSTAT_EQ(vhu, "rx_q0_size_65_to_127_packets", 2);
	XSTAT_EQ(vhu, "rx_q0_size_128_to_255_packets", 2);
	XSTAT_EQ(vhu, "rx_q0_size_256_to_511_packets", 2);
	XSTAT_EQ(vhu, "rx_q0_size_512_to_1023_packets", 2);
	XSTAT_EQ(vhu, "rx_q0_size_1024_to_1518_packets", 4);
	XSTAT_EQ(vhu, "rx_q0_size_1519_to_max_packets", 2);
	XSTAT_EQ(vhu, "tx_q1_size_1519_to_max_packets", 1);
	XSTAT_EQ(vhu, "tx_q1_bytes", bytes);
	XSTAT_EQ(vhu, "rx_q1_unicast_packets", RTE_DIM(peer_sizes));
	XSTAT_EQ(vhu, "tx_q0_unicast_packets", 2 * RTE_DIM(peer_sizes));

	/* Multicast and broadcast, both ways, on queue 1. */
	TEST_ASSERT_EQ(send_frames(peer, 1, cast_len, 4, dsts), 0, "peer tx");
	TEST_ASSERT_EQ(recv_frames(vhu, 1, cast_len, 4), 0, "vhu rx");
	TEST_ASSERT_EQ(send_frames(vhu, 1, cast_len, 4, dsts), 0, "vhu tx");
	TEST_ASSERT_EQ(recv_frames(peer, 1, cast_len, 4), 0, "peer rx");
	XSTAT_EQ(vhu, "rx_q1_unicast_packets", RTE_DIM(peer_sizes) + 1);
	XSTAT_EQ(vhu, "rx_q1_multicast_packets", 1);
	XSTAT_EQ(vhu, "rx_q1_broadcast_packets", 2);
	XSTAT_EQ(vhu, "tx_q1_multicast_packets", 1);
	XSTAT_EQ(vhu, "tx_q1_broadcast_packets", 2);

	/* Reset clears everything, stats and xstats. */
	TEST_ASSERT_EQ(rte_eth_stats_reset(vhu), 0, "reset");
	TEST_ASSERT_EQ(rte_eth_stats_get(vhu, &st), 0, "stats");
	TEST_ASSERT(st.ipackets == 0 && st.opackets == 0 && st.ibytes == 0 && st.obytes == 0,
			"zero after reset");
	XSTAT_EQ(vhu, "rx_q0_size_1519_to_max_packets", 0);
	TEST_ASSERT_EQ(rte_eth_xstats_reset(vhu), 0, "xstats reset");
	TEST_RUN(traffic_both_ways(vhu, peer, 0, 1));
	TEST_ASSERT_EQ(rte_eth_stats_get(vhu, &st), 0, "stats");
	TEST_ASSERT_EQ(st.ipackets, RTE_DIM(peer_sizes), "counting again after reset");

	TEST_ASSERT_EQ(pmd_close("net_virtio_user_t0"), 0, "close virtio-user");
	TEST_ASSERT_EQ(pmd_close("net_vhu_t0"), 0, "close vhu");
	return TEST_SUCCESS;
}

/* ---- stop, start, reconfigure ---- */

VHU_TEST_F(driver, pmd_peer_stop_start, pmd_env, e)
{
	char sock[128];
	struct rte_eth_stats st;
	uint16_t vhu, peer, q;

	snprintf(sock, sizeof(sock), "%s/ss.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_s0", sock, NULL, 4, NULL, &vhu), 0, "vhu port");
	TEST_ASSERT_EQ(peer_port("net_virtio_user_s0", sock, NULL, 4, &peer), 0, "virtio-user");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up");
	TEST_RUN(traffic_both_ways(vhu, peer, 0, 1));

	/* Stopped, we take nothing from the guest; started again, we get what it queued. */
	TEST_ASSERT_EQ(rte_eth_dev_stop(vhu), 0, "stop");
	TEST_ASSERT_EQ(send_frames(peer, 0, peer_sizes, 4, NULL), 0, "peer tx while stopped");
	usleep(20 * 1000);
	TEST_ASSERT_EQ(rte_eth_dev_start(vhu), 0, "start");
	TEST_ASSERT_EQ(recv_frames(vhu, 0, peer_sizes, 4), 0, "frames queued while stopped");
	TEST_RUN(traffic_both_ways(vhu, peer, 0, 1));

	/* A stopped queue does not move packets; the others do. */
	TEST_ASSERT_EQ(rte_eth_dev_rx_queue_stop(vhu, 1), 0, "queue stop");
	TEST_ASSERT_EQ(send_frames(peer, 1, peer_sizes, 2, NULL), 0, "peer tx q1");
	TEST_RUN(traffic_both_ways(vhu, peer, 2, 1));
	TEST_ASSERT_EQ(rte_eth_dev_rx_queue_start(vhu, 1), 0, "queue start");
	TEST_ASSERT_EQ(recv_frames(vhu, 1, peer_sizes, 2), 0, "q1 after queue start");

	/* Reconfigure: fewer queues, then all four again, with traffic each time. */
	TEST_ASSERT_EQ(rte_eth_dev_stop(vhu), 0, "stop");
	TEST_ASSERT_EQ(pmd_port_setup(vhu, 1, peer_pool(), NULL), 0, "1 queue");
	TEST_ASSERT_EQ(rte_eth_dev_start(vhu), 0, "start");
	TEST_RUN(traffic_both_ways(vhu, peer, 0, 1));
	TEST_ASSERT_EQ(rte_eth_dev_stop(vhu), 0, "stop");
	TEST_ASSERT_EQ(pmd_port_setup(vhu, 4, peer_pool(), NULL), 0, "4 queues");
	TEST_ASSERT_EQ(rte_eth_dev_start(vhu), 0, "start");
	for (q = 0; q < 4; q++)
		TEST_RUN(traffic_both_ways(vhu, peer, q, 1));
	TEST_ASSERT_EQ(rte_eth_stats_get(vhu, &st), 0, "stats");
	TEST_ASSERT(st.ipackets >= 8 * RTE_DIM(peer_sizes), "ipackets %" PRIu64, st.ipackets);

	TEST_ASSERT_EQ(pmd_close("net_virtio_user_s0"), 0, "close virtio-user");
	TEST_ASSERT_EQ(pmd_close("net_vhu_s0"), 0, "close vhu");
	return TEST_SUCCESS;
}

/* ---- rx interrupts ---- */

struct intr_waiter {
	uint16_t port_id;
	uint16_t q;
	volatile int sleeping;
	int woke; /* rte_epoll_wait result */
	void *data;
	unsigned int got; /* frames received after waking */
};

static int
intr_waiter_main(void *arg)
{
	struct intr_waiter *w = arg;
	struct rte_epoll_event ev;
	struct rte_mbuf *pkts[32];
	uint64_t end;
	uint16_t nb;

	if (rte_eth_dev_rx_intr_ctl_q(w->port_id, w->q, RTE_EPOLL_PER_THREAD, RTE_INTR_EVENT_ADD,
			    (void *)(uintptr_t)0x5eed) != 0)
		return -1;
	if (rte_eth_dev_rx_intr_enable(w->port_id, w->q) != 0)
		return -1;
	/* Whatever arrived before notifications were on is polled first. */
	nb = rte_eth_rx_burst(w->port_id, w->q, pkts, RTE_DIM(pkts));
	rte_pktmbuf_free_bulk(pkts, nb);
	__atomic_store_n(&w->sleeping, 1, __ATOMIC_RELEASE);
	w->woke = rte_epoll_wait(RTE_EPOLL_PER_THREAD, &ev, 1, PEER_WAIT_MS);
	if (w->woke == 1)
		w->data = ev.epdata.data;
	rte_eth_dev_rx_intr_disable(w->port_id, w->q);
	end = now_ms() + PEER_WAIT_MS;
	while (w->got == 0 && now_ms() < end) {
		nb = rte_eth_rx_burst(w->port_id, w->q, pkts, RTE_DIM(pkts));
		w->got += nb;
		rte_pktmbuf_free_bulk(pkts, nb);
	}
	rte_eth_dev_rx_intr_ctl_q(w->port_id, w->q, RTE_EPOLL_PER_THREAD, RTE_INTR_EVENT_DEL, NULL);
	return 0;
}

static int
intr_round(uint16_t vhu, uint16_t peer, uint16_t q, unsigned int lcore)
{
	struct intr_waiter w = { .port_id = vhu, .q = q };
	uint64_t end = now_ms() + PEER_WAIT_MS;
	static const uint16_t len[] = { 128 };

	TEST_ASSERT_EQ(rte_eal_remote_launch(intr_waiter_main, &w, lcore), 0, "launch");
	while (!__atomic_load_n(&w.sleeping, __ATOMIC_ACQUIRE) && now_ms() < end)
		usleep(1000);
	TEST_ASSERT(w.sleeping, "waiter never went to sleep");
	usleep(50 * 1000); /* let it block in epoll_wait */
	TEST_ASSERT_EQ(send_frames(peer, q, len, 1, NULL), 0, "peer tx");
	TEST_ASSERT_EQ(rte_eal_wait_lcore(lcore), 0, "waiter failed to register");
	TEST_ASSERT_EQ(w.woke, 1, "the guest's frame woke the sleeping lcore");
	TEST_ASSERT(w.data == (void *)(uintptr_t)0x5eed, "event data");
	TEST_ASSERT_EQ(w.got, 1, "frame received after the wake-up");
	return TEST_SUCCESS;
}

VHU_TEST_F(driver, pmd_peer_rx_interrupt, pmd_env, e)
{
	struct rte_eth_conf conf = { .intr_conf = { .rxq = 1 } };
	char sock[128], name[64];
	unsigned int lcore = rte_get_next_lcore(-1, 1, 0);
	uint64_t kicks = 0;
	uint16_t vhu, peer;

	if (lcore >= RTE_MAX_LCORE)
		return TEST_SKIPPED;
	snprintf(sock, sizeof(sock), "%s/intr.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_i0", sock, NULL, 2, &conf, &vhu), 0, "vhu port");
	TEST_ASSERT_EQ(peer_port("net_virtio_user_i0", sock, NULL, 2, &peer), 0, "virtio-user");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up");

	TEST_RUN(intr_round(vhu, peer, 1, lcore));
	TEST_RUN(intr_round(vhu, peer, 0, lcore));
	TEST_ASSERT_EQ(xstat(vhu, "rx_q1_guest_kicks", &kicks), 0, "kicks");
	TEST_ASSERT(kicks >= 1, "the wake-up kick was counted");

	/* A new front-end: the same registration keeps working (the proxy fd is stable). */
	TEST_ASSERT_EQ(pmd_close("net_virtio_user_i0"), 0, "close virtio-user");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_DOWN), 0, "link down");
	snprintf(name, sizeof(name), "net_virtio_user_i1");
	TEST_ASSERT_EQ(peer_port(name, sock, NULL, 2, &peer), 0, "virtio-user again");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up again");
	TEST_RUN(intr_round(vhu, peer, 1, lcore));

	TEST_ASSERT_EQ(pmd_close(name), 0, "close virtio-user");
	TEST_ASSERT_EQ(pmd_close("net_vhu_i0"), 0, "close vhu");
	return TEST_SUCCESS;
}

/* ---- the front-end goes away and comes back ---- */

VHU_TEST_F(driver, pmd_peer_reconnect, pmd_env, e)
{
	char sock[128], name[64];
	struct rte_eth_stats st;
	uint16_t vhu, peer;
	int i, vid;

	snprintf(sock, sizeof(sock), "%s/rc.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_r0", sock, NULL, 1, NULL, &vhu), 0, "vhu port");
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "net_virtio_user_r%d", i);
		TEST_ASSERT_EQ(peer_port(name, sock, NULL, 1, &peer), 0, "virtio-user %d", i);
		TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up %d", i);
		vid = vhu_eth_get_vid(vhu);
		TEST_ASSERT(vid >= 0, "vid");
		TEST_RUN(traffic_both_ways(vhu, peer, 0, 1));
		TEST_ASSERT_EQ(pmd_close(name), 0, "front-end %d goes away", i);
		TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_DOWN), 0, "link down %d", i);
		/* The port's counters survive the device. */
		TEST_ASSERT_EQ(rte_eth_stats_get(vhu, &st), 0, "stats");
		TEST_ASSERT_EQ(st.ipackets, (uint64_t)(i + 1) * RTE_DIM(peer_sizes),
				"ipackets after %d", i);
		TEST_ASSERT_EQ(st.opackets, (uint64_t)(i + 1) * RTE_DIM(peer_sizes),
				"opackets after %d", i);
	}
	TEST_ASSERT_EQ(pmd_close("net_vhu_r0"), 0, "close vhu");
	return TEST_SUCCESS;
}

/* Client mode: virtio-user listens (server=1), net_vhu connects and reconnects. */
VHU_TEST_F(driver, pmd_peer_client_mode, pmd_env, e)
{
	char sock[128], name[64];
	uint16_t vhu, peer;
	int i;

	snprintf(sock, sizeof(sock), "%s/cl.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_cl0", sock, "client=1,reconnect=20", 1, NULL, &vhu), 0,
			"vhu client port before the server exists");
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "net_virtio_user_cl%d", i);
		/* virtio-user in server mode waits for us in its probe. */
		TEST_ASSERT_EQ(peer_port(name, sock, "server=1", 1, &peer), 0,
				"virtio-user server");
		TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up %d", i);
		TEST_RUN(traffic_both_ways(vhu, peer, 0, 1));
		TEST_ASSERT_EQ(pmd_close(name), 0, "server goes away");
		TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_DOWN), 0, "link down %d", i);
		unlink(sock);
	}
	TEST_ASSERT_EQ(pmd_close("net_vhu_cl0"), 0, "close vhu");
	return TEST_SUCCESS;
}

/* ---- hot-plug with a front-end, many times ---- */

VHU_TEST_F(driver, pmd_peer_hotplug_cycles, pmd_env, e)
{
	char sock[128], devargs[256];
	struct rte_eth_dev_info info;
	uint16_t vhu, peer;
	int i, fds = -1;
	size_t heap = 0;

	snprintf(sock, sizeof(sock), "%s/hp.sock", e->dir);
	snprintf(devargs, sizeof(devargs), "net_vhu_hpp0,iface=%s,queues=2", sock);
	for (i = 0; i < 100; i++) {
		TEST_ASSERT_EQ(rte_dev_probe(devargs), 0, "attach %d", i);
		TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name("net_vhu_hpp0", &vhu), 0, "port");
		TEST_ASSERT_EQ(pmd_port_setup(vhu, 2, peer_pool(), NULL), 0, "setup");
		TEST_ASSERT_EQ(rte_eth_dev_start(vhu), 0, "start");
		TEST_ASSERT_EQ(peer_port("net_virtio_user_hp", sock, NULL, 2, &peer), 0, "peer %d",
				i);
		TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up %d", i);
		{
			static const uint16_t len[] = { 64 };

			TEST_ASSERT_EQ(send_frames(peer, 1, len, 1, NULL), 0, "peer tx");
			TEST_ASSERT_EQ(recv_frames(vhu, 1, len, 1), 0, "vhu rx %d", i);
		}
		/* Half the time the port goes first, with the front-end still connected. */
		if (i % 2 == 0) {
			TEST_ASSERT_EQ(rte_eth_dev_info_get(vhu, &info), 0, "info");
			TEST_ASSERT_EQ(rte_dev_remove(info.device), 0, "detach %d", i);
			TEST_ASSERT_EQ(pmd_close("net_virtio_user_hp"), 0, "close peer");
		} else {
			TEST_ASSERT_EQ(pmd_close("net_virtio_user_hp"), 0, "close peer");
			TEST_ASSERT_EQ(rte_eth_dev_info_get(vhu, &info), 0, "info");
			TEST_ASSERT_EQ(rte_dev_remove(info.device), 0, "detach %d", i);
		}
		TEST_ASSERT(!pmd_file_exists(sock), "socket file removed %d", i);
		if (i == 1) {
			fds = pmd_fds_settled(-1);
			heap = pmd_heap_used();
		}
	}
	TEST_ASSERT_EQ(pmd_fds_settled(fds), fds, "fds stable over 100 cycles");
	TEST_ASSERT_EQ(pmd_heap_used(), heap, "DPDK memory stable over 100 cycles");
	return TEST_SUCCESS;
}

/* ---- many ports with traffic ---- */

VHU_TEST_F(driver, pmd_peer_many_ports, pmd_env, e)
{
	char sock[128], name[64];
	uint16_t vhu[RTE_MAX_ETHPORTS / 2], peer[RTE_MAX_ETHPORTS / 2];
	static const uint16_t len[] = { 100 };
	int i, n;

	/* Each pair takes two ethdev ports (RTE_MAX_ETHPORTS is a DPDK build constant). */
	n = (RTE_MAX_ETHPORTS - rte_eth_dev_count_total()) / 2;
	TEST_LOG("%d vhu ports with a virtio-user each", n);
	TEST_ASSERT(n >= 8, "room for %d pairs only", n);
	for (i = 0; i < n; i++) {
		snprintf(sock, sizeof(sock), "%s/mp%d.sock", e->dir, i);
		snprintf(name, sizeof(name), "net_vhu_mp%d", i);
		TEST_ASSERT_EQ(vhu_port(name, sock, NULL, 1, NULL, &vhu[i]), 0, "vhu %d", i);
		snprintf(name, sizeof(name), "net_virtio_user_mp%d", i);
		TEST_ASSERT_EQ(peer_port(name, sock, NULL, 1, &peer[i]), 0, "peer %d", i);
	}
	for (i = 0; i < n; i++) {
		TEST_ASSERT_EQ(wait_link(vhu[i], RTE_ETH_LINK_UP), 0, "link %d", i);
		TEST_ASSERT_EQ(send_frames(peer[i], 0, len, 1, NULL), 0, "peer tx %d", i);
		TEST_ASSERT_EQ(send_frames(vhu[i], 0, len, 1, NULL), 0, "vhu tx %d", i);
	}
	for (i = 0; i < n; i++) {
		TEST_ASSERT_EQ(recv_frames(vhu[i], 0, len, 1), 0, "vhu rx %d", i);
		TEST_ASSERT_EQ(recv_frames(peer[i], 0, len, 1), 0, "peer rx %d", i);
	}
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "net_virtio_user_mp%d", i);
		TEST_ASSERT_EQ(pmd_close(name), 0, "close peer %d", i);
		snprintf(name, sizeof(name), "net_vhu_mp%d", i);
		TEST_ASSERT_EQ(pmd_close(name), 0, "close vhu %d", i);
	}
	return TEST_SUCCESS;
}
