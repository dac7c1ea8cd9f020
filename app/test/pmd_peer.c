/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Helpers of the net_vhu tests with a virtio-user peer (see pmd_peer.h). */

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "pmd_peer.h"
#include "rte_pmd_vhu.h"
#include "test_pmd.h"
#include "vhu.h"
#include "vhu_test.h"

struct rte_mempool *
peer_pool(void)
{
	static struct rte_mempool *mp;

	if (mp == NULL)
		mp = rte_pktmbuf_pool_create("pmd_peer_pool", 8192, 128, 0,
				RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	return mp;
}

uint64_t
now_ms(void)
{
	return rte_get_timer_cycles() * 1000 / rte_get_timer_hz();
}

/* Are the rings behind every configured queue of a vhu port running? */
bool
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
int
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
int
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
int
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

int
peer_port(const char *name, const char *sock, const char *extra, uint16_t nq, uint16_t *port_id)
{
	return peer_port_conf(name, sock, extra, nq, NULL, port_id);
}

const struct rte_ether_addr src_mac = { { 0x02, 0, 0, 0, 0, 0x01 } };
const struct rte_ether_addr dst_uc = { { 0x02, 0, 0, 0, 0, 0x02 } };
const struct rte_ether_addr dst_mc = { { 0x01, 0, 0x5e, 0, 0, 0x01 } };
const struct rte_ether_addr dst_bc = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

/* A frame of len bytes: Ethernet header, then bytes seq, seq+1, ... */
struct rte_mbuf *
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
struct rte_mbuf *
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
int
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
int
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
int
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

int
xstat(uint16_t port_id, const char *name, uint64_t *value)
{
	uint64_t id;

	if (rte_eth_xstats_get_id_by_name(port_id, name, &id) != 0)
		return -ENOENT;
	return rte_eth_xstats_get_by_id(port_id, &id, value, 1) == 1 ? 0 : -EIO;
}

int
traffic_both_ways(uint16_t vhu, uint16_t peer, uint16_t q, unsigned int rounds)
{
	unsigned int r;

	for (r = 0; r < rounds; r++) {
		/* guest TX -> our rx queue q */
		TEST_ASSERT_EQ(send_frames(peer, q, peer_sizes, RTE_DIM(peer_sizes), NULL), 0,
				"peer tx");
		TEST_ASSERT_EQ(recv_frames(vhu, q, peer_sizes, RTE_DIM(peer_sizes)), 0,
				"vhu rx q%u", q);
		/* our tx queue q -> guest RX */
		TEST_ASSERT_EQ(send_frames(vhu, q, peer_sizes, RTE_DIM(peer_sizes), NULL), 0,
				"vhu tx");
		TEST_ASSERT_EQ(recv_frames(peer, q, peer_sizes, RTE_DIM(peer_sizes)), 0,
				"peer rx q%u", q);
	}
	return TEST_SUCCESS;
}
