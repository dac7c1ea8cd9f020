/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * net_vhu against DPDK's virtio-user in this process (driver suite), what
 * a port offers beyond plain frames: offload capabilities before and after
 * negotiation, partial checksums from the guest, jumbo frames with and
 * without mergeable buffers, tx queues steered onto the guest's enabled
 * rings.
 */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_udp.h>
#include <rte_tcp.h>
#include <rte_ip.h>

#include "pmd_peer.h"
#include "rte_pmd_vhu.h"
#include "test_pmd.h"
#include "vhu.h"
#include "vhu_dev.h"
#include "vhu_test.h"

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
	TEST_ASSERT_EQ(st.opackets, RTE_DIM(peer_sizes),
			"the dropped frame is not counted as sent");
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
	/* which (queue, sequence) arrived: static, so that a failed assertion leaks nothing */
	static uint8_t seen[4 * STEER_FRAMES];
	struct rte_mbuf *m;

	memset(seen, 0, sizeof(seen));
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
	return TEST_SUCCESS;
}
