/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Helpers of the net_vhu tests with DPDK's virtio-user as the peer in the
 * same process (test_pmd_peer.c, test_pmd_peer_offload.c): ports on both
 * sides, waits bounded by PEER_WAIT_MS, frames built and checked byte for
 * byte, xstats by name.
 */

#ifndef VHU_TEST_PMD_PEER_H
#define VHU_TEST_PMD_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "vhu_test.h"

#define PEER_WAIT_MS 5000

/* The mbuf pool of both sides, made once per process. */
struct rte_mempool *peer_pool(void);
uint64_t now_ms(void);
/* Are the rings behind every configured queue of a vhu port running? */
bool rings_active(uint16_t port_id);
/*
 * Wait (bounded) until the port's link is in state up. For a vhu port
 * going up, also until every configured queue's rings run: the front-end
 * enables queue pairs one by one, and a ring that is started but not yet
 * enabled discards what the guest sends (as the vhost-user spec says).
 */
int wait_link(uint16_t port_id, int up);
/* A vhu port on sock with nq queue pairs (extra: more devargs or NULL), configured, started. */
int vhu_port(const char *name, const char *sock, const char *extra, uint16_t nq,
		const struct rte_eth_conf *conf, uint16_t *port_id);
/* A virtio-user front-end on sock, configured and started (the device gets ready). */
int peer_port_conf(const char *name, const char *sock, const char *extra, uint16_t nq,
		const struct rte_eth_conf *conf, uint16_t *port_id);
int peer_port(const char *name, const char *sock, const char *extra, uint16_t nq,
		uint16_t *port_id);

extern const struct rte_ether_addr src_mac, dst_uc, dst_mc, dst_bc;

/* A frame of len bytes: Ethernet header, then bytes seq, seq+1, ... */
struct rte_mbuf *frame_make(uint16_t len, uint8_t seq, const struct rte_ether_addr *dst);
/* frame_make() for any length: a chain of mbufs of at most 2048 bytes each. */
struct rte_mbuf *frame_make_chain(uint32_t len, uint8_t seq);
/* Is m the frame frame_make(len, seq, ...) built? 0 or -1 (logged). */
int frame_check(struct rte_mbuf *m, uint16_t len, uint8_t seq);
/* Send n frames (len[i], seq i, dst[i] or unicast) on (port, q), retrying within the bound. */
int send_frames(uint16_t port_id, uint16_t q, const uint16_t *len, unsigned int n,
		const struct rte_ether_addr *const *dst);
/* Receive exactly n frames on (port, q), each checked against len[i]/seq i, and no more. */
int recv_frames(uint16_t port_id, uint16_t q, const uint16_t *len, unsigned int n);
int xstat(uint16_t port_id, const char *name, uint64_t *value);

/* The frame lengths of a round of traffic. */
static const uint16_t peer_sizes[] = { 60, 64, 100, 200, 300, 600, 1200, 1518, 2000 };
/* rounds x peer_sizes each way on queue q, content checked. */
int traffic_both_ways(uint16_t vhu, uint16_t peer, uint16_t q, unsigned int rounds);

#define XSTAT_EQ(port, name, expect) \
	do { \
		uint64_t v_ = 0; \
		TEST_ASSERT_EQ(xstat(port, name, &v_), 0, "xstat %s", name); \
		TEST_ASSERT_EQ(v_, expect, "xstat %s", name); \
	} while (0)

#endif /* VHU_TEST_PMD_PEER_H */
