/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * net_vhu against DPDK's virtio-user in this process (driver suite): link
 * and queue-state events, traffic both ways with content checked, stats
 * and xstats against the frames sent, stop/start/reconfigure, rx
 * interrupts waking a sleeping lcore, reconnects, hot-plug cycles and many
 * ports.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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
#include <rte_udp.h>
#include <rte_tcp.h>
#include <rte_ip.h>

#include "rte_pmd_vhu.h"
#include "test_pmd.h"
#include "vhu.h"
#include "vhu_dev.h"
#include "vhu_test.h"

#define PEER_WAIT_MS 5000

static struct rte_mempool *
peer_pool(void)
{
	static struct rte_mempool *mp;

	if (mp == NULL)
		mp = rte_pktmbuf_pool_create("pmd_peer_pool", 8192, 128, 0,
				RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	return mp;
}

static uint64_t
now_ms(void)
{
	return rte_get_timer_cycles() * 1000 / rte_get_timer_hz();
}

/* Are the rings behind every configured queue of a vhu port running? */
static bool
rings_active(uint16_t port_id)
{
	struct rte_eth_dev_info info;
	int vid = vhu_eth_get_vid(port_id);
	uint16_t v;

	if (vid < 0 || rte_eth_dev_info_get(port_id, &info) != 0)
		return false;
	for (v = 0; v < 2 * info.nb_rx_queues; v++)
		if (vhu_vring_is_active(vid, v) != 1)
			return false;
	return true;
}

/*
 * Wait (bounded) until the port's link is in state up. For a vhu port
 * going up, also until every configured queue's rings run: the front-end
 * enables queue pairs one by one, and a ring that is started but not yet
 * enabled discards what the guest sends (as the vhost-user spec says).
 */
static int
wait_link(uint16_t port_id, int up)
{
	struct rte_eth_link link;
	uint64_t end = now_ms() + PEER_WAIT_MS;
	bool is_vhu = vhu_eth_get_vid(port_id) >= 0 || rte_errno != ENODEV;

	do {
		if (rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status == up &&
				(!up || !is_vhu || rings_active(port_id)))
			return 0;
		usleep(5000);
	} while (now_ms() < end);
	return -ETIMEDOUT;
}

/* A vhu port on sock with nq queue pairs, configured and started. */
static int
vhu_port(const char *name, const char *sock, const char *extra, uint16_t nq,
		const struct rte_eth_conf *conf, uint16_t *port_id)
{
	char args[512];
	int rc;

	snprintf(args, sizeof(args), "iface=%s,queues=%u%s%s", sock, nq, extra != NULL ? "," : "",
			extra != NULL ? extra : "");
	rc = rte_vdev_init(name, args);
	if (rc != 0)
		return rc;
	rc = rte_eth_dev_get_port_by_name(name, port_id);
	if (rc == 0)
		rc = pmd_port_setup(*port_id, nq, peer_pool(), conf);
	if (rc == 0)
		rc = rte_eth_dev_start(*port_id);
	return rc;
}

/* A virtio-user front-end on sock, configured and started (the device gets ready). */
static int
peer_port_conf(const char *name, const char *sock, const char *extra, uint16_t nq,
		const struct rte_eth_conf *conf, uint16_t *port_id)
{
	char args[512];
	int rc;

	/*
	 * virtio-user writes to its socket without MSG_NOSIGNAL: when our end
	 * is gone first (port removed under a live front-end), the write would
	 * raise SIGPIPE and end the whole runner.
	 */
	signal(SIGPIPE, SIG_IGN);
	snprintf(args, sizeof(args), "path=%s,queues=%u,queue_size=256%s%s", sock, nq,
			extra != NULL ? "," : "", extra != NULL ? extra : "");
	rc = rte_vdev_init(name, args);
	if (rc != 0)
		return rc;
	rc = rte_eth_dev_get_port_by_name(name, port_id);
	if (rc == 0)
		rc = pmd_port_setup(*port_id, nq, peer_pool(), conf);
	if (rc == 0)
		rc = rte_eth_dev_start(*port_id);
	return rc;
}

static int
peer_port(const char *name, const char *sock, const char *extra, uint16_t nq, uint16_t *port_id)
{
	return peer_port_conf(name, sock, extra, nq, NULL, port_id);
}

static const struct rte_ether_addr src_mac = { { 0x02, 0, 0, 0, 0, 0x01 } };
static const struct rte_ether_addr dst_uc = { { 0x02, 0, 0, 0, 0, 0x02 } };
static const struct rte_ether_addr dst_mc = { { 0x01, 0, 0x5e, 0, 0, 0x01 } };
static const struct rte_ether_addr dst_bc = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

/* A frame of len bytes: Ethernet header, then bytes seq, seq+1, ... */
static struct rte_mbuf *
frame_make(uint16_t len, uint8_t seq, const struct rte_ether_addr *dst)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(peer_pool());
	struct rte_ether_hdr *eh;
	uint8_t *p;
	uint16_t i;

	if (m == NULL)
		return NULL;
	p = (uint8_t *)rte_pktmbuf_append(m, len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	eh = (struct rte_ether_hdr *)p;
	eh->dst_addr = *dst;
	eh->src_addr = src_mac;
	eh->ether_type = rte_cpu_to_be_16(0x88b5);
	for (i = sizeof(*eh); i < len; i++)
		p[i] = (uint8_t)(seq + i);
	return m;
}

/* frame_make() for any length: a chain of mbufs of at most 2048 bytes each. */
static struct rte_mbuf *
frame_make_chain(uint32_t len, uint8_t seq)
{
	struct rte_mbuf *head = NULL, *m;
	uint32_t off = 0, n, i;
	uint8_t *p;

	while (off < len) {
		n = RTE_MIN(len - off, 2048u);
		m = rte_pktmbuf_alloc(peer_pool());
		p = m != NULL ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n) : NULL;
		if (p == NULL) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(head);
			return NULL;
		}
		for (i = 0; i < n; i++)
			p[i] = (uint8_t)(seq + off + i);
		if (off == 0) {
			struct rte_ether_hdr *eh = (struct rte_ether_hdr *)p;

			eh->dst_addr = dst_uc;
			eh->src_addr = src_mac;
			eh->ether_type = rte_cpu_to_be_16(0x88b5);
			head = m;
		} else if (rte_pktmbuf_chain(head, m) != 0) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(head);
			return NULL;
		}
		off += n;
	}
	return head;
}

/* Is m the frame frame_make(len, seq, ...) built? */
static int
frame_check(struct rte_mbuf *m, uint16_t len, uint8_t seq)
{
	uint8_t buf[RTE_MBUF_DEFAULT_BUF_SIZE * 8];
	const uint8_t *p;
	const struct rte_ether_hdr *eh;
	uint16_t i;

	if (rte_pktmbuf_pkt_len(m) != len) {
		TEST_LOG("length %u, expected %u", rte_pktmbuf_pkt_len(m), len);
		return -1;
	}
	p = rte_pktmbuf_read(m, 0, len, buf);
	if (p == NULL)
		return -1;
	eh = (const struct rte_ether_hdr *)p;
	if (!rte_is_same_ether_addr(&eh->src_addr, &src_mac) ||
			eh->ether_type != rte_cpu_to_be_16(0x88b5)) {
		TEST_LOG("bad header");
		return -1;
	}
	for (i = sizeof(*eh); i < len; i++)
		if (p[i] != (uint8_t)(seq + i)) {
			TEST_LOG("byte %u is 0x%02x, expected 0x%02x", i, p[i], (uint8_t)(seq + i));
			return -1;
		}
	return 0;
}

/* Send n frames (len[i], seq i) on (port, q), retrying within the time bound. */
static int
send_frames(uint16_t port_id, uint16_t q, const uint16_t *len, unsigned int n,
		const struct rte_ether_addr *const *dst)
{
	uint64_t end = now_ms() + PEER_WAIT_MS;
	struct rte_mbuf *m;
	unsigned int i;

	for (i = 0; i < n; i++) {
		m = frame_make(len[i], (uint8_t)i, dst != NULL ? dst[i] : &dst_uc);
		if (m == NULL)
			return -ENOMEM;
		while (rte_eth_tx_burst(port_id, q, &m, 1) != 1) {
			if (now_ms() > end) {
				rte_pktmbuf_free(m);
				return -ETIMEDOUT;
			}
			usleep(100);
		}
	}
	return 0;
}

/* Receive exactly n frames on (port, q) and check each against len[i]/seq i. */
static int
recv_frames(uint16_t port_id, uint16_t q, const uint16_t *len, unsigned int n)
{
	uint64_t end = now_ms() + PEER_WAIT_MS;
	struct rte_mbuf *pkts[32];
	unsigned int got = 0, i, nb;
	int rc = 0;

	while (got < n && now_ms() < end) {
		nb = rte_eth_rx_burst(port_id, q, pkts, RTE_DIM(pkts));
		for (i = 0; i < nb; i++) {
			if (got < n && rc == 0) {
				if (frame_check(pkts[i], len[got], (uint8_t)got) != 0) {
					TEST_LOG("frame %u on port %u queue %u is wrong", got,
							port_id, q);
					rc = -EIO;
				}
				if (pkts[i]->port != port_id) {
					TEST_LOG("mbuf port %u, expected %u", pkts[i]->port,
							port_id);
					rc = -EIO;
				}
			}
			got++;
			rte_pktmbuf_free(pkts[i]);
		}
		if (nb == 0)
			usleep(100);
	}
	if (got != n) {
		TEST_LOG("port %u queue %u: %u frames, expected %u", port_id, q, got, n);
		return -ETIMEDOUT;
	}
	/* Nothing more than sent. */
	usleep(2000);
	nb = rte_eth_rx_burst(port_id, q, pkts, RTE_DIM(pkts));
	rte_pktmbuf_free_bulk(pkts, nb);
	if (nb != 0) {
		TEST_LOG("port %u queue %u: %u frames more than sent", port_id, q, nb);
		return -EIO;
	}
	return rc;
}

static int
xstat(uint16_t port_id, const char *name, uint64_t *value)
{
	uint64_t id;

	if (rte_eth_xstats_get_id_by_name(port_id, name, &id) != 0)
		return -ENOENT;
	return rte_eth_xstats_get_by_id(port_id, &id, value, 1) == 1 ? 0 : -EIO;
}

#define XSTAT_EQ(port, name, expect) \
	do { \
		uint64_t v_ = 0; \
		TEST_ASSERT_EQ(xstat(port, name, &v_), 0, "xstat %s", name); \
		TEST_ASSERT_EQ(v_, expect, "xstat %s", name); \
	} while (0)

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

static const uint16_t sizes[] = { 60, 64, 100, 200, 300, 600, 1200, 1518, 2000 };

static int
traffic_both_ways(uint16_t vhu, uint16_t peer, uint16_t q, unsigned int rounds)
{
	unsigned int r;

	for (r = 0; r < rounds; r++) {
		/* guest TX -> our rx queue q */
		TEST_ASSERT_EQ(send_frames(peer, q, sizes, RTE_DIM(sizes), NULL), 0, "peer tx");
		TEST_ASSERT_EQ(recv_frames(vhu, q, sizes, RTE_DIM(sizes)), 0, "vhu rx q%u", q);
		/* our tx queue q -> guest RX */
		TEST_ASSERT_EQ(send_frames(vhu, q, sizes, RTE_DIM(sizes), NULL), 0, "vhu tx");
		TEST_ASSERT_EQ(recv_frames(peer, q, sizes, RTE_DIM(sizes)), 0, "peer rx q%u", q);
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(driver, pmd_peer_traffic_stats, pmd_env, e)
{
	static const struct rte_ether_addr *const dsts[] = { &dst_uc, &dst_mc, &dst_bc, &dst_bc };
	static const uint16_t cast_len[] = { 64, 64, 64, 64 };
	char sock[128];
	struct rte_eth_stats st;
	uint64_t bytes = 0;
	uint16_t vhu, peer;
	unsigned int i;

	for (i = 0; i < RTE_DIM(sizes); i++)
		bytes += sizes[i];
	snprintf(sock, sizeof(sock), "%s/tr.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_t0", sock, NULL, 2, NULL, &vhu), 0, "vhu port");
	TEST_ASSERT_EQ(peer_port("net_virtio_user_t0", sock, NULL, 2, &peer), 0, "virtio-user");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up");
	TEST_ASSERT_EQ(rte_eth_stats_reset(vhu), 0, "reset");

	TEST_RUN(traffic_both_ways(vhu, peer, 0, 2));
	TEST_RUN(traffic_both_ways(vhu, peer, 1, 1));
	/* polled queues (no rx interrupts): the guest was told not to kick its TX rings */
	{
		struct vhu_dev *d = vhu_dev_get(vhu_eth_get_vid(vhu));
		uint16_t q;

		TEST_ASSERT(d != NULL, "device");
		for (q = 1; q < 4; q += 2)
			TEST_ASSERT(d->vq[q] != NULL && d->vq[q]->used != NULL &&
							(d->vq[q]->used->flags &
									VHU_USED_F_NO_NOTIFY),
					"vring %u: guest still asked to kick", q);
	}

	TEST_ASSERT_EQ(rte_eth_stats_get(vhu, &st), 0, "stats");
	TEST_ASSERT_EQ(st.ipackets, 3 * RTE_DIM(sizes), "ipackets");
	TEST_ASSERT_EQ(st.opackets, 3 * RTE_DIM(sizes), "opackets");
	TEST_ASSERT_EQ(st.ibytes, 3 * bytes, "ibytes");
	TEST_ASSERT_EQ(st.obytes, 3 * bytes, "obytes");
	TEST_ASSERT_EQ(st.ierrors, 0, "ierrors");
	TEST_ASSERT_EQ(st.oerrors, 0, "oerrors");
	TEST_ASSERT_EQ(st.q_ipackets[0], 2 * RTE_DIM(sizes), "q0 in");
	TEST_ASSERT_EQ(st.q_ipackets[1], RTE_DIM(sizes), "q1 in");
	TEST_ASSERT_EQ(st.q_opackets[1], RTE_DIM(sizes), "q1 out");
	TEST_ASSERT_EQ(st.q_obytes[0], 2 * bytes, "q0 out bytes");

	XSTAT_EQ(vhu, "rx_q0_packets", 2 * RTE_DIM(sizes));
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
	XSTAT_EQ(vhu, "rx_q1_unicast_packets", RTE_DIM(sizes));
	XSTAT_EQ(vhu, "tx_q0_unicast_packets", 2 * RTE_DIM(sizes));

	/* Multicast and broadcast, both ways, on queue 1. */
	TEST_ASSERT_EQ(send_frames(peer, 1, cast_len, 4, dsts), 0, "peer tx");
	TEST_ASSERT_EQ(recv_frames(vhu, 1, cast_len, 4), 0, "vhu rx");
	TEST_ASSERT_EQ(send_frames(vhu, 1, cast_len, 4, dsts), 0, "vhu tx");
	TEST_ASSERT_EQ(recv_frames(peer, 1, cast_len, 4), 0, "peer rx");
	XSTAT_EQ(vhu, "rx_q1_unicast_packets", RTE_DIM(sizes) + 1);
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
	TEST_ASSERT_EQ(st.ipackets, RTE_DIM(sizes), "counting again after reset");

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
	TEST_ASSERT_EQ(send_frames(peer, 0, sizes, 4, NULL), 0, "peer tx while stopped");
	usleep(20 * 1000);
	TEST_ASSERT_EQ(rte_eth_dev_start(vhu), 0, "start");
	TEST_ASSERT_EQ(recv_frames(vhu, 0, sizes, 4), 0, "frames queued while stopped");
	TEST_RUN(traffic_both_ways(vhu, peer, 0, 1));

	/* A stopped queue does not move packets; the others do. */
	TEST_ASSERT_EQ(rte_eth_dev_rx_queue_stop(vhu, 1), 0, "queue stop");
	TEST_ASSERT_EQ(send_frames(peer, 1, sizes, 2, NULL), 0, "peer tx q1");
	TEST_RUN(traffic_both_ways(vhu, peer, 2, 1));
	TEST_ASSERT_EQ(rte_eth_dev_rx_queue_start(vhu, 1), 0, "queue start");
	TEST_ASSERT_EQ(recv_frames(vhu, 1, sizes, 2), 0, "q1 after queue start");

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
	TEST_ASSERT(st.ipackets >= 8 * RTE_DIM(sizes), "ipackets %" PRIu64, st.ipackets);

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
		TEST_ASSERT_EQ(st.ipackets, (uint64_t)(i + 1) * RTE_DIM(sizes), "ipackets after %d",
				i);
		TEST_ASSERT_EQ(st.opackets, (uint64_t)(i + 1) * RTE_DIM(sizes), "opackets after %d",
				i);
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

/* ---- offload capabilities: offered before a front-end, negotiated after ---- */

#define RX_CSUM (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM)
#define TX_CSUM (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM)

VHU_TEST_F(driver, pmd_peer_offload_capa, pmd_env, e)
{
	struct rte_eth_conf csum_conf = {
		.rxmode = { .offloads = RX_CSUM },
		.txmode = { .offloads = TX_CSUM },
	};
	struct rte_eth_dev_info info;
	char sock[128];
	uint16_t vhu, peer;

	snprintf(sock, sizeof(sock), "%s/ol.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_o0", sock, "csum=1,tso=1", 1, NULL, &vhu), 0, "vhu port");
	TEST_ASSERT_EQ(rte_eth_dev_info_get(vhu, &info), 0, "info");
	TEST_ASSERT_EQ(info.rx_offload_capa & RX_CSUM, RX_CSUM, "offered: rx csum");
	TEST_ASSERT(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_LRO, "offered: tso=1");
	TEST_ASSERT_EQ(info.tx_offload_capa & TX_CSUM, TX_CSUM, "offered: tx csum");

	/*
	 * A front-end that wants no offload: segmentation is gone, checksums
	 * stay (the library computes them for such a guest).
	 */
	TEST_ASSERT_EQ(peer_port("net_virtio_user_o0", sock, NULL, 1, &peer), 0, "plain peer");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up");
	TEST_ASSERT_EQ(rte_eth_dev_info_get(vhu, &info), 0, "info");
	TEST_ASSERT_EQ(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_LRO, 0, "negotiated: no LRO");
	TEST_ASSERT_EQ(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO, 0, "negotiated: no TSO");
	TEST_ASSERT_EQ(info.tx_offload_capa & TX_CSUM, TX_CSUM, "tx csum in software");
	TEST_ASSERT(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS, "multi-seg always");
	TEST_ASSERT_EQ(pmd_close("net_virtio_user_o0"), 0, "close peer");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_DOWN), 0, "link down");
	TEST_ASSERT_EQ(rte_eth_dev_info_get(vhu, &info), 0, "info");
	TEST_ASSERT(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_LRO, "offered again");
	/* What is announced can be configured. */
	{
		struct rte_eth_conf all = {
			.rxmode = { .offloads = RX_CSUM | RTE_ETH_RX_OFFLOAD_TCP_LRO |
							RTE_ETH_RX_OFFLOAD_SCATTER },
			.txmode = { .offloads = TX_CSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO |
							RTE_ETH_TX_OFFLOAD_MULTI_SEGS },
		};

		TEST_ASSERT_EQ(rte_eth_dev_stop(vhu), 0, "stop");
		TEST_ASSERT_EQ(pmd_port_setup(vhu, 1, peer_pool(), &all), 0, "every offload");
		TEST_ASSERT_EQ(rte_eth_dev_start(vhu), 0, "start");
	}

	/* A front-end asking for checksum offload both ways. */
	TEST_ASSERT_EQ(peer_port_conf("net_virtio_user_o1", sock, NULL, 1, &csum_conf, &peer), 0,
			"csum peer");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up");
	TEST_ASSERT_EQ(rte_eth_dev_info_get(vhu, &info), 0, "info");
	TEST_ASSERT_EQ(info.rx_offload_capa & RX_CSUM, RX_CSUM, "guest sends partial csums");
	TEST_ASSERT_EQ(info.tx_offload_capa & TX_CSUM, TX_CSUM, "guest takes partial csums");
	TEST_RUN(traffic_both_ways(vhu, peer, 0, 1));
	TEST_ASSERT_EQ(pmd_close("net_virtio_user_o1"), 0, "close peer");
	TEST_ASSERT_EQ(pmd_close("net_vhu_o0"), 0, "close vhu");
	/* csum=0: no checksum capability at all. */
	TEST_ASSERT_EQ(vhu_port("net_vhu_o1", sock, "csum=0", 1, NULL, &vhu), 0, "vhu csum=0");
	TEST_ASSERT_EQ(rte_eth_dev_info_get(vhu, &info), 0, "info");
	TEST_ASSERT_EQ(info.rx_offload_capa & (RX_CSUM | RTE_ETH_RX_OFFLOAD_TCP_LRO), 0,
			"csum=0 rx");
	TEST_ASSERT_EQ(info.tx_offload_capa & (TX_CSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO), 0,
			"csum=0 tx");
	TEST_ASSERT_EQ(pmd_close("net_vhu_o1"), 0, "close vhu");
	return TEST_SUCCESS;
}

/* ---- partial checksums from the guest ---- */

/* An IPv4 TCP (or UDP) frame asking the front-end's offload for its L4 checksum. */
static struct rte_mbuf *
l4_frame(bool tcp, uint16_t payload)
{
	uint16_t l4_len = tcp ? sizeof(struct rte_tcp_hdr) : sizeof(struct rte_udp_hdr);
	uint16_t len = sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + l4_len +
			payload;
	struct rte_mbuf *m = rte_pktmbuf_alloc(peer_pool());
	struct rte_ether_hdr *eh;
	struct rte_ipv4_hdr *ip;
	uint8_t *p;
	uint16_t i;

	if (m == NULL)
		return NULL;
	p = (uint8_t *)rte_pktmbuf_append(m, len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(p, 0, len);
	eh = (struct rte_ether_hdr *)p;
	eh->dst_addr = dst_uc;
	eh->src_addr = src_mac;
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eh + 1);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(len - sizeof(*eh));
	ip->time_to_live = 64;
	ip->next_proto_id = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(0x0a000001);
	ip->dst_addr = rte_cpu_to_be_32(0x0a000002);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	for (i = 0; i < payload; i++)
		p[len - payload + i] = (uint8_t)(i * 7);
	m->l2_len = sizeof(*eh);
	m->l3_len = sizeof(*ip);
	m->ol_flags = RTE_MBUF_F_TX_IPV4 |
			(tcp ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM);
	if (tcp) {
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);

		th->src_port = rte_cpu_to_be_16(1234);
		th->dst_port = rte_cpu_to_be_16(80);
		th->data_off = 5 << 4;
		th->cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
	} else {
		struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(ip + 1);

		uh->src_port = rte_cpu_to_be_16(1234);
		uh->dst_port = rte_cpu_to_be_16(53);
		uh->dgram_len = rte_cpu_to_be_16(l4_len + payload);
		uh->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
	}
	return m;
}

/* Receive one frame on vhu queue 0; is its L4 checksum right, and what does the flag say? */
static int
recv_l4(uint16_t vhu, bool *valid, uint64_t *flag)
{
	uint64_t end = now_ms() + PEER_WAIT_MS;
	struct rte_mbuf *m;
	struct rte_ipv4_hdr *ip;

	while (rte_eth_rx_burst(vhu, 0, &m, 1) == 0) {
		if (now_ms() > end)
			return -ETIMEDOUT;
		usleep(100);
	}
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	*valid = rte_ipv4_udptcp_cksum_mbuf_verify(
				 m, ip, sizeof(struct rte_ether_hdr) + sizeof(*ip)) == 0;
	*flag = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	rte_pktmbuf_free(m);
	return 0;
}

/* The IPv4 checksum flag of the next frame the port receives. */
static int
recv_ip_flag(uint16_t vhu, uint64_t *flag)
{
	uint64_t end = now_ms() + PEER_WAIT_MS;
	struct rte_mbuf *m;

	while (rte_eth_rx_burst(vhu, 0, &m, 1) == 0) {
		if (now_ms() > end)
			return -ETIMEDOUT;
		usleep(100);
	}
	*flag = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	rte_pktmbuf_free(m);
	return 0;
}

VHU_TEST_F(driver, pmd_peer_rx_csum, pmd_env, e)
{
	struct rte_eth_conf peer_conf = { .txmode = { .offloads = TX_CSUM } };
	struct rte_eth_conf app_csum = { .rxmode = { .offloads = RX_CSUM } };
	char sock[128];
	uint16_t vhu, peer;
	struct rte_mbuf *m;
	uint64_t flag;
	bool valid;
	int tcp;

	snprintf(sock, sizeof(sock), "%s/cs.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_cs0", sock, "csum=1", 1, NULL, &vhu), 0, "vhu port");
	TEST_ASSERT_EQ(peer_port_conf("net_virtio_user_cs0", sock, NULL, 1, &peer_conf, &peer), 0,
			"peer with tx checksum offload");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up");

	/* The application did not enable rx checksum offload: it gets final checksums. */
	for (tcp = 0; tcp < 2; tcp++) {
		m = l4_frame(tcp, 333);
		TEST_ASSERT(m != NULL, "frame");
		TEST_ASSERT_EQ(rte_eth_tx_burst(peer, 0, &m, 1), 1, "peer tx");
		TEST_ASSERT_EQ(recv_l4(vhu, &valid, &flag), 0, "vhu rx");
		TEST_ASSERT(valid, "%s checksum completed by the port", tcp ? "TCP" : "UDP");
		TEST_ASSERT_EQ(flag, RTE_MBUF_F_RX_L4_CKSUM_GOOD, "flag GOOD");
	}
	/* With rx checksum offload on, the application gets the NIC-like flag and decides. */
	TEST_ASSERT_EQ(rte_eth_dev_stop(vhu), 0, "stop");
	TEST_ASSERT_EQ(pmd_port_setup(vhu, 1, peer_pool(), &app_csum), 0, "rx csum offload");
	TEST_ASSERT_EQ(rte_eth_dev_start(vhu), 0, "start");
	m = l4_frame(true, 333);
	TEST_ASSERT(m != NULL, "frame");
	TEST_ASSERT_EQ(rte_eth_tx_burst(peer, 0, &m, 1), 1, "peer tx");
	TEST_ASSERT_EQ(recv_l4(vhu, &valid, &flag), 0, "vhu rx");
	TEST_ASSERT_EQ(flag, RTE_MBUF_F_RX_L4_CKSUM_NONE, "flag NONE: checksum left partial");
	TEST_ASSERT(!valid, "partial checksum untouched");
	m = l4_frame(false, 100);
	TEST_ASSERT(m != NULL, "frame");
	TEST_ASSERT_EQ(rte_eth_tx_burst(peer, 0, &m, 1), 1, "peer tx");
	TEST_ASSERT_EQ(recv_ip_flag(vhu, &flag), 0, "vhu rx");
	TEST_ASSERT_EQ(flag, RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN, "IPv4 checksum offload off: unknown");

	/* IPv4 header checksums, as OVS asks (IPV4 + TCP + UDP): checked by the port. */
	{
		struct rte_eth_conf ovs_like = {
			.rxmode = { .offloads = RX_CSUM | RTE_ETH_RX_OFFLOAD_IPV4_CKSUM }
		};
		struct rte_eth_dev_info info;
		struct rte_ipv4_hdr *ip;
		int bad;

		TEST_ASSERT_EQ(rte_eth_dev_info_get(vhu, &info), 0, "info");
		TEST_ASSERT(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM, "IPv4 offered");
		TEST_ASSERT_EQ(rte_eth_dev_stop(vhu), 0, "stop");
		TEST_ASSERT_EQ(pmd_port_setup(vhu, 1, peer_pool(), &ovs_like), 0, "ipv4 offload");
		TEST_ASSERT_EQ(rte_eth_dev_start(vhu), 0, "start");
		for (bad = 0; bad < 2; bad++) {
			m = l4_frame(bad == 1, 200);
			TEST_ASSERT(m != NULL, "frame");
			ip = rte_pktmbuf_mtod_offset(
					m, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
			if (bad)
				ip->hdr_checksum ^= rte_cpu_to_be_16(0x0101);
			TEST_ASSERT_EQ(rte_eth_tx_burst(peer, 0, &m, 1), 1, "peer tx");
			TEST_ASSERT_EQ(recv_ip_flag(vhu, &flag), 0, "vhu rx");
			TEST_ASSERT_EQ(flag,
					bad ? RTE_MBUF_F_RX_IP_CKSUM_BAD :
					      RTE_MBUF_F_RX_IP_CKSUM_GOOD,
					"IPv4 header checksum %s", bad ? "broken" : "right");
		}
	}

	TEST_ASSERT_EQ(pmd_close("net_virtio_user_cs0"), 0, "close peer");
	TEST_ASSERT_EQ(pmd_close("net_vhu_cs0"), 0, "close vhu");
	return TEST_SUCCESS;
}

/* ---- jumbo frames, with and without mergeable rx buffers ---- */

VHU_TEST_F(driver, pmd_peer_jumbo, pmd_env, e)
{
	static const uint16_t jumbo[] = { 9000, 4000, 2049, 1519, 9014 };
	struct rte_eth_conf conf = {
		.rxmode = { .mtu = 9000, .offloads = RTE_ETH_RX_OFFLOAD_SCATTER },
		.txmode = { .offloads = RTE_ETH_TX_OFFLOAD_MULTI_SEGS },
	};
	struct rte_eth_stats st;
	struct rte_mbuf *m;
	char sock[128];
	uint16_t vhu, peer;
	unsigned int i;

	snprintf(sock, sizeof(sock), "%s/j.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_j0", sock, "mtu=9000", 1, &conf, &vhu), 0, "vhu port");
	TEST_ASSERT_EQ(peer_port_conf("net_virtio_user_j0", sock, NULL, 1, &conf, &peer), 0,
			"peer");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up");
	for (i = 0; i < RTE_DIM(jumbo); i++) {
		m = frame_make_chain(jumbo[i], (uint8_t)i);
		TEST_ASSERT(m != NULL, "frame");
		TEST_ASSERT_EQ(rte_eth_tx_burst(peer, 0, &m, 1), 1, "peer tx %u", jumbo[i]);
	}
	TEST_ASSERT_EQ(recv_frames(vhu, 0, jumbo, RTE_DIM(jumbo)), 0, "guest -> host jumbo frames");
	for (i = 0; i < RTE_DIM(jumbo); i++) {
		m = frame_make_chain(jumbo[i], (uint8_t)i);
		TEST_ASSERT(m != NULL, "frame");
		TEST_ASSERT_EQ(rte_eth_tx_burst(vhu, 0, &m, 1), 1, "vhu tx %u", jumbo[i]);
	}
	TEST_ASSERT_EQ(recv_frames(peer, 0, jumbo, RTE_DIM(jumbo)), 0,
			"host -> guest jumbo frames");
	XSTAT_EQ(vhu, "rx_q0_size_1519_to_max_packets", RTE_DIM(jumbo));
	XSTAT_EQ(vhu, "tx_q0_size_1519_to_max_packets", RTE_DIM(jumbo));
	TEST_ASSERT_EQ(pmd_close("net_virtio_user_j0"), 0, "close peer");
	TEST_ASSERT_EQ(pmd_close("net_vhu_j0"), 0, "close vhu");

	/*
	 * Without mergeable buffers a guest rx buffer holds one frame of at most
	 * its size: a bigger frame can never fit, so it is consumed, dropped and
	 * counted, and the next frames still go through.
	 */
	TEST_ASSERT_EQ(vhu_port("net_vhu_j1", sock, "mrg-rxbuf=0", 1, NULL, &vhu), 0, "vhu port");
	TEST_ASSERT_EQ(peer_port("net_virtio_user_j1", sock, NULL, 1, &peer), 0, "peer");
	TEST_ASSERT_EQ(wait_link(vhu, RTE_ETH_LINK_UP), 0, "link up");
	m = frame_make_chain(9000, 0);
	TEST_ASSERT(m != NULL, "frame");
	TEST_ASSERT_EQ(rte_eth_tx_burst(vhu, 0, &m, 1), 1, "too big: consumed");
	TEST_RUN(traffic_both_ways(vhu, peer, 0, 1));
	TEST_ASSERT_EQ(rte_eth_stats_get(vhu, &st), 0, "stats");
	TEST_ASSERT_EQ(st.oerrors, 1, "the frame that cannot fit is counted");
	/* What reached the guest was checked frame by frame above (recv_frames). */
	TEST_ASSERT_EQ(st.opackets, RTE_DIM(sizes), "the dropped frame is not counted as sent");
	XSTAT_EQ(vhu, "tx_q0_dropped", 1);
	TEST_ASSERT_EQ(pmd_close("net_virtio_user_j1"), 0, "close peer");
	TEST_ASSERT_EQ(pmd_close("net_vhu_j1"), 0, "close vhu");
	return TEST_SUCCESS;
}

/*
 * Tx steering: the port has 4 queue pairs, the guest enables 1 (a
 * virtio-user with one queue pair). Three threads transmit at once, on tx
 * queues 0, 1 and 3: queues 1 and 3 are steered to the guest's only
 * receive ring, which the three then share under its lock. Every frame
 * arrives exactly once and intact. With tx-steer=0 the frames of queue 1
 * are refused (the old black hole, now a choice).
 */
#define STEER_FRAMES 20000

struct steer_tx {
	uint16_t port_id, qid;
	unsigned int sent;
};

static void *
steer_tx_main(void *arg)
{
	struct steer_tx *t = arg;
	uint64_t end = now_ms() + 4 * PEER_WAIT_MS;
	struct rte_mbuf *m;
	uint8_t *p;

	struct rte_mbuf *burst[16];
	uint16_t n, i, k;

	/* bursts of up to 16: lcores meeting on one ring collide often */
	while (t->sent < STEER_FRAMES && now_ms() < end) {
		n = (uint16_t)RTE_MIN(RTE_DIM(burst), STEER_FRAMES - t->sent);
		for (i = 0; i < n; i++) {
			m = frame_make(64, 0, &dst_bc);
			if (m == NULL)
				break;
			p = rte_pktmbuf_mtod(m, uint8_t *);
			p[14] = (uint8_t)t->qid; /* queue, then a 16-bit sequence */
			p[15] = (uint8_t)((t->sent + i) >> 8);
			p[16] = (uint8_t)(t->sent + i);
			burst[i] = m;
		}
		k = rte_eth_tx_burst(t->port_id, t->qid, burst, i);
		t->sent += k;
		if (k < i)
			rte_pktmbuf_free_bulk(&burst[k], i - k);
	}
	return NULL;
}

static int
steer_receive(uint16_t peer, uint8_t *seen, unsigned int want, unsigned int *got, unsigned int *bad)
{
	uint64_t end = now_ms() + 4 * PEER_WAIT_MS;
	struct rte_mbuf *pkts[32];
	const uint8_t *p;
	unsigned int i, nb, q, seq;

	while (*got < want && now_ms() < end) {
		nb = rte_eth_rx_burst(peer, 0, pkts, RTE_DIM(pkts));
		for (i = 0; i < nb; i++) {
			p = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
			q = p[14];
			seq = (unsigned int)p[15] << 8 | p[16];
			if (rte_pktmbuf_pkt_len(pkts[i]) != 64 || q > 3 || seq >= STEER_FRAMES ||
					seen[q * STEER_FRAMES + seq]++ != 0)
				(*bad)++;
			else
				(*got)++;
			rte_pktmbuf_free(pkts[i]);
		}
		if (nb == 0)
			usleep(20);
	}
	return *got == want ? 0 : -ETIMEDOUT;
}

/* Link up, with only the first queue pair enabled (wait_link waits for every ring). */
static int
steer_wait_up(uint16_t port_id)
{
	uint64_t end = now_ms() + PEER_WAIT_MS;
	struct rte_eth_link link;
	int vid;

	do {
		vid = vhu_eth_get_vid(port_id);
		if (rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status == 1 &&
				vid >= 0 && vhu_vring_is_active(vid, 0) == 1 &&
				vhu_vring_is_active(vid, 1) == 1)
			return 0;
		usleep(5000);
	} while (now_ms() < end);
	return -ETIMEDOUT;
}

VHU_TEST_F(driver, pmd_peer_tx_steer, pmd_env, e)
{
	static const uint16_t qids[] = { 0, 1, 3 };
	struct steer_tx tx[RTE_DIM(qids)];
	pthread_t th[RTE_DIM(qids)];
	char sock[128];
	unsigned int i, got = 0, bad = 0;
	uint16_t vhu, peer;
	uint8_t *seen;
	struct rte_mbuf *m;

	seen = calloc(4 * STEER_FRAMES, 1);
	TEST_ASSERT(seen != NULL, "memory");
	snprintf(sock, sizeof(sock), "%s/steer.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_st0", sock, NULL, 4, NULL, &vhu), 0, "vhu port");
	TEST_ASSERT_EQ(peer_port("net_virtio_user_st0", sock, NULL, 1, &peer), 0, "virtio-user");
	TEST_ASSERT_EQ(steer_wait_up(vhu), 0, "link up");
	for (i = 0; i < RTE_DIM(qids); i++) {
		tx[i] = (struct steer_tx){ .port_id = vhu, .qid = qids[i] };
		TEST_ASSERT_EQ(pthread_create(&th[i], NULL, steer_tx_main, &tx[i]), 0, "thread");
	}
	steer_receive(peer, seen, RTE_DIM(qids) * STEER_FRAMES, &got, &bad);
	for (i = 0; i < RTE_DIM(qids); i++)
		pthread_join(th[i], NULL);
	TEST_LOG("%u frames from tx queues 0, 1, 3 on one guest ring: %u received, %u bad",
			(unsigned int)RTE_DIM(qids) * STEER_FRAMES, got, bad);
	for (i = 0; i < RTE_DIM(qids); i++)
		TEST_ASSERT_EQ(tx[i].sent, STEER_FRAMES, "tx queue %u sent", qids[i]);
	TEST_ASSERT_EQ(bad, 0, "frames altered, unknown or twice");
	TEST_ASSERT_EQ(got, (unsigned int)RTE_DIM(qids) * STEER_FRAMES, "every frame arrived");
	TEST_ASSERT_EQ(pmd_close("net_virtio_user_st0"), 0, "close peer");
	TEST_ASSERT_EQ(pmd_close("net_vhu_st0"), 0, "close");

	/* tx-steer=0: a queue whose guest ring is disabled refuses its frames */
	snprintf(sock, sizeof(sock), "%s/nosteer.sock", e->dir);
	TEST_ASSERT_EQ(vhu_port("net_vhu_st1", sock, "tx-steer=0", 4, NULL, &vhu), 0, "vhu port");
	TEST_ASSERT_EQ(peer_port("net_virtio_user_st1", sock, NULL, 1, &peer), 0, "virtio-user");
	TEST_ASSERT_EQ(steer_wait_up(vhu), 0, "link up");
	m = frame_make(64, 0, &dst_bc);
	TEST_ASSERT(m != NULL, "mbuf");
	TEST_ASSERT_EQ(rte_eth_tx_burst(vhu, 1, &m, 1), 0, "refused without steering");
	rte_pktmbuf_free(m);
	TEST_ASSERT_EQ(pmd_close("net_virtio_user_st1"), 0, "close peer");
	TEST_ASSERT_EQ(pmd_close("net_vhu_st1"), 0, "close");
	free(seen);
	return TEST_SUCCESS;
}
