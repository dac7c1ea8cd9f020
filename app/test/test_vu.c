/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The datapath against DPDK's virtio-user in this process (driver suite),
 * split and packed rings through the same code: real vhost-user messages
 * set the device up (packed: the socket offers RING_PACKED and
 * virtio-user asks packed_vq=1), then frames go both ways through
 * vhu_enqueue_burst/vhu_dequeue_burst and the virtio-user ethdev, checked
 * byte for byte, with mergeable buffers and in-order on and off, and ring
 * sizes of 256, 1024 and (packed only: a split ring's size is a power of
 * two) 1000. Then net_vhu itself, split and packed, forwards what a
 * virtio-user port sends back to it.
 *
 * Case names carry the layout: split_vu_*, packed_vu_*, *_pmd_forward.
 */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "guest_split.h"
#include "mock_fe.h"
#include "rte_pmd_vhu.h"
#include "vhu.h"
#include "vhu_test.h"

struct vu_layout {
	const char *name;
	bool packed;
	unsigned int port_base; /* virtio-user port numbers of this layout's cases */
};

static const struct vu_layout vu_split = { "split", false, 20 };
static const struct vu_layout vu_packed = { "packed", true, 40 };

static volatile int vu_new, vu_vid = -1;

static int
vu_on_new(int vid)
{
	vu_vid = vid;
	__atomic_add_fetch(&vu_new, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static const struct vhu_ops vu_ops = {
	.new_device = vu_on_new,
};

static uint8_t vframe[16384];

/* ---- vhu's API with virtio-user as the guest ---- */

struct vu_env {
	char dir[64];
	char path[VHU_PATH_MAX];
	char name[32];
	uint16_t port;
	bool port_made;
	bool registered;
	struct rte_mempool *mp; /* virtio-user's and ours */
	int vid;
};

/* Tear down whatever vu_env_up made; true when every mbuf came back to
 * the pool (no leak on either side). */
static bool
vu_env_down(struct vu_env *v)
{
	bool full;

	if (v->port_made) {
		rte_eth_dev_stop(v->port);
		rte_eth_dev_close(v->port);
		rte_vdev_uninit(v->name);
	}
	v->port_made = false;
	if (v->registered)
		vhu_socket_unregister(v->path);
	v->registered = false;
	full = v->mp != NULL && rte_mempool_avail_count(v->mp) == v->mp->size;
	rte_mempool_free(v->mp);
	v->mp = NULL;
	if (v->dir[0] != '\0')
		vhu_test_rmdir(v->dir);
	v->dir[0] = '\0';
	return full;
}

static int
vu_env_teardown(void *obj, int status)
{
	RTE_SET_USED(status);
	vu_env_down(obj);
	return TEST_SUCCESS;
}

VHU_FIXTURE(vu_env, NULL, vu_env_teardown);

static int
vu_env_up(struct vu_env *v, const struct vu_layout *l, int mrg, int inorder, uint16_t qsize,
		unsigned int seq)
{
	struct vhu_socket_conf conf;
	struct rte_eth_conf ec;
	struct rte_eth_dev_info info;
	char args[256], pool[64];
	uint64_t features;

	memset(v, 0, sizeof(*v));
	vu_new = 0;
	vu_vid = -1;
	TEST_ASSERT(vhu_test_tmpdir(v->dir, sizeof(v->dir)) == 0, "tmpdir");
	snprintf(v->path, sizeof(v->path), "%s/%s.sock", v->dir, l->name);
	memset(&conf, 0, sizeof(conf));
	conf.path = v->path;
	conf.ops = &vu_ops;
	conf.flags = l->packed ? VHU_SOCK_PACKED : 0;
	TEST_ASSERT_EQ(vhu_socket_register(&conf), 0, "register");
	v->registered = true;
	snprintf(pool, sizeof(pool), "vu%s%u_%d", l->name, seq, (int)getpid());
	v->mp = rte_pktmbuf_pool_create(pool, 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	TEST_ASSERT(v->mp != NULL, "mempool");
	snprintf(v->name, sizeof(v->name), "net_virtio_user%u", l->port_base + seq);
	snprintf(args, sizeof(args), "path=%s,queues=1,queue_size=%u,mrg_rxbuf=%d,in_order=%d%s",
			v->path, qsize, mrg, inorder, l->packed ? ",packed_vq=1" : "");
	TEST_ASSERT_EQ(rte_vdev_init(v->name, args), 0, "virtio-user %s", args);
	v->port_made = true;
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name(v->name, &v->port), 0, "port");
	TEST_ASSERT_EQ(rte_eth_dev_info_get(v->port, &info), 0, "");
	memset(&ec, 0, sizeof(ec));
	if (mrg) {
		ec.rxmode.mtu = 9000;
		ec.rxmode.offloads = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER;
	}
	ec.txmode.offloads = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	TEST_ASSERT_EQ(rte_eth_dev_configure(v->port, 1, 1, &ec), 0, "configure");
	TEST_ASSERT_EQ(rte_eth_rx_queue_setup(v->port, 0, qsize, SOCKET_ID_ANY, NULL, v->mp), 0,
			"");
	TEST_ASSERT_EQ(rte_eth_tx_queue_setup(v->port, 0, qsize, SOCKET_ID_ANY, NULL), 0, "");
	TEST_ASSERT_EQ(rte_eth_dev_start(v->port), 0, "start");
	TEST_ASSERT(vhu_test_wait(&vu_new, 1, 5000), "no new_device");
	v->vid = vu_vid;
	TEST_ASSERT(vhu_vring_is_active(v->vid, 0) == 1 && vhu_vring_is_active(v->vid, 1) == 1,
			"rings active");
	TEST_ASSERT_EQ(vhu_get_features(v->vid, &features), 0, "");
	TEST_ASSERT_EQ(!!(features & VHU_BIT(VHU_F_RING_PACKED)), l->packed, "%s ring negotiated",
			l->name);
	TEST_ASSERT_EQ(!!(features & VHU_BIT(VHU_F_IN_ORDER)), inorder, "in order as asked");
	TEST_ASSERT_EQ(!!(features & VHU_BIT(VHU_F_NET_MRG_RXBUF)), mrg, "mergeable as asked");
	return TEST_SUCCESS;
}

/* Poll until n packets came (from the guest's port, or vhu's TX ring) or a second passed. */
static uint16_t
poll_rx(struct vu_env *v, bool guest, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz();
	uint16_t got = 0;

	while (got < n && rte_get_timer_cycles() < end) {
		if (guest)
			got += rte_eth_rx_burst(v->port, 0, pkts + got, n - got);
		else
			got += vhu_dequeue_burst(v->vid, 1, v->mp, pkts + got, n - got);
	}
	return got;
}

/* n frames of len bytes each way; frames too large for the guest are dropped and counted. */
static int
vu_both_ways(struct vu_env *v, uint32_t len, uint16_t n, bool guest_takes)
{
	struct rte_mbuf *out[64], *in[64];
	struct vhu_vq_stats st;
	uint64_t dropped0;
	uint16_t i, sent, got;

	TEST_ASSERT(n <= 64, "");
	/* host -> guest */
	TEST_ASSERT_EQ(vhu_vq_stats_get(v->vid, 0, &st), 0, "");
	dropped0 = st.dropped;
	for (i = 0; i < n; i++) {
		make_frame(vframe, len, len + i);
		out[i] = mbuf_make(v->mp, vframe, len, 0);
		TEST_ASSERT(out[i] != NULL, "");
	}
	sent = 0;
	for (int tries = 0; sent < n && tries < 1000; tries++) {
		sent += vhu_enqueue_burst(v->vid, 0, out + sent, n - sent);
		if (sent < n)
			rte_delay_us_sleep(100);
	}
	TEST_ASSERT_EQ(sent, n, "enqueue %u x %u", n, len);
	rte_pktmbuf_free_bulk(out, n);
	if (guest_takes) {
		got = poll_rx(v, true, in, n);
		TEST_ASSERT_EQ(got, n, "guest received %u-byte frames", len);
		for (i = 0; i < n; i++) {
			make_frame(vframe, len, len + i);
			TEST_ASSERT(mbuf_cmp(in[i], vframe, len) == 0, "guest frame %u of %u bytes",
					i, len);
		}
		rte_pktmbuf_free_bulk(in, got);
	} else {
		TEST_ASSERT_EQ(vhu_vq_stats_get(v->vid, 0, &st), 0, "");
		TEST_ASSERT_EQ(st.dropped - dropped0, n, "too big for the guest: dropped");
		TEST_ASSERT_EQ(poll_rx(v, true, in, 1), 0, "nothing truncated arrives");
	}

	/* guest -> host */
	for (i = 0; i < n; i++) {
		make_frame(vframe, len, 7 * len + i);
		out[i] = mbuf_make(v->mp, vframe, len, 0);
		TEST_ASSERT(out[i] != NULL, "");
	}
	sent = 0;
	for (int tries = 0; sent < n && tries < 1000; tries++) {
		sent += rte_eth_tx_burst(v->port, 0, out + sent, n - sent);
		if (sent < n) {
			/* the host must drain for the guest to reclaim */
			got = vhu_dequeue_burst(v->vid, 1, v->mp, in, 64);
			TEST_ASSERT_EQ(got, 0, "nothing expected yet");
		}
	}
	TEST_ASSERT_EQ(sent, n, "guest sent");
	got = poll_rx(v, false, in, n);
	TEST_ASSERT_EQ(got, n, "host received %u-byte frames", len);
	for (i = 0; i < n; i++) {
		make_frame(vframe, len, 7 * len + i);
		TEST_ASSERT(mbuf_cmp(in[i], vframe, len) == 0, "host frame %u of %u bytes", i, len);
	}
	rte_pktmbuf_free_bulk(in, got);
	return TEST_SUCCESS;
}

static int
vu_case(struct vu_env *v, const struct vu_layout *l, int mrg, int inorder, uint16_t qsize,
		unsigned int seq)
{
	static const uint32_t lens[] = { 60, 64, 1518, 4096, 9000 };
	struct rte_eth_stats es;
	struct vhu_vq_stats st;
	unsigned int i;

	TEST_RUN(vu_env_up(v, l, mrg, inorder, qsize, seq));
	for (i = 0; i < RTE_DIM(lens); i++)
		TEST_RUN(vu_both_ways(v, lens[i], lens[i] > 2000 ? 4 : 64, mrg || lens[i] <= 1518));
	/* a long run through the rings, wrapping them many times */
	for (i = 0; i < 64u + qsize / 8u; i++)
		TEST_RUN(vu_both_ways(v, 64 + (i * 97) % 1455, 32, true));
	TEST_ASSERT_EQ(vhu_vq_stats_get(v->vid, 1, &st), 0, "");
	TEST_ASSERT_EQ(st.errors, 0, "tx ring errors");
	TEST_ASSERT_EQ(vhu_vq_stats_get(v->vid, 0, &st), 0, "");
	TEST_ASSERT_EQ(st.errors, 0, "rx ring errors");
	TEST_ASSERT_EQ(rte_eth_stats_get(v->port, &es), 0, "");
	TEST_ASSERT_EQ(es.ierrors + es.oerrors, 0, "virtio-user errors");
	TEST_ASSERT(vu_env_down(v), "mbufs missing from the pool after close");
	return TEST_SUCCESS;
}

VHU_TEST_F(driver, split_vu_traffic, vu_env, v)
{
	TEST_RUN(vu_case(v, &vu_split, 1, 0, 1024, 0));
	TEST_RUN(vu_case(v, &vu_split, 0, 0, 1024, 1));
	return TEST_SUCCESS;
}

VHU_TEST_F(driver, split_vu_inorder, vu_env, v)
{
	TEST_RUN(vu_case(v, &vu_split, 1, 1, 1024, 2));
	TEST_RUN(vu_case(v, &vu_split, 0, 1, 1024, 3));
	return TEST_SUCCESS;
}

VHU_TEST_F(driver, packed_vu_traffic, vu_env, v)
{
	TEST_RUN(vu_case(v, &vu_packed, 1, 0, 256, 0));
	TEST_RUN(vu_case(v, &vu_packed, 0, 0, 256, 1));
	return TEST_SUCCESS;
}

VHU_TEST_F(driver, packed_vu_inorder, vu_env, v)
{
	TEST_RUN(vu_case(v, &vu_packed, 1, 1, 256, 2));
	TEST_RUN(vu_case(v, &vu_packed, 0, 1, 256, 3));
	return TEST_SUCCESS;
}

VHU_TEST_F(driver, packed_vu_odd_ring, vu_env, v)
{
	TEST_RUN(vu_case(v, &vu_packed, 1, 0, 1000, 4));
	TEST_RUN(vu_case(v, &vu_packed, 0, 1, 1000, 5));
	return TEST_SUCCESS;
}

/* ---- end to end: net_vhu (packed=0/1) <-> virtio-user (packed_vq=0/1) ---- */

struct vu_pmd {
	char dir[64];
	char vname[32]; /* the net_vhu port */
	char gname[32]; /* the virtio-user port */
	bool vmade, gmade;
	uint16_t host, guest;
	struct rte_mempool *mp;
};

static void
vu_pmd_down(struct vu_pmd *p)
{
	if (p->gmade) {
		rte_eth_dev_stop(p->guest);
		rte_eth_dev_close(p->guest);
		rte_vdev_uninit(p->gname);
	}
	p->gmade = false;
	if (p->vmade) {
		rte_eth_dev_stop(p->host);
		rte_eth_dev_close(p->host);
		rte_vdev_uninit(p->vname);
	}
	p->vmade = false;
	rte_mempool_free(p->mp);
	p->mp = NULL;
	if (p->dir[0] != '\0')
		vhu_test_rmdir(p->dir);
	p->dir[0] = '\0';
}

static int
vu_pmd_teardown(void *obj, int status)
{
	RTE_SET_USED(status);
	vu_pmd_down(obj);
	return TEST_SUCCESS;
}

VHU_FIXTURE(vu_pmd, NULL, vu_pmd_teardown);

/* Configure and start a port with one queue pair of qsize entries. */
static int
port_up(uint16_t port, uint16_t qsize, struct rte_mempool *mp, bool jumbo)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf ec;

	memset(&ec, 0, sizeof(ec));
	if (rte_eth_dev_info_get(port, &info) != 0)
		return -1;
	if (jumbo) {
		ec.rxmode.mtu = 9000;
		ec.rxmode.offloads = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER;
	}
	ec.txmode.offloads = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if (rte_eth_dev_configure(port, 1, 1, &ec) != 0 ||
			rte_eth_rx_queue_setup(port, 0, qsize, SOCKET_ID_ANY, NULL, mp) != 0 ||
			rte_eth_tx_queue_setup(port, 0, qsize, SOCKET_ID_ANY, NULL) != 0)
		return -1;
	return rte_eth_dev_start(port);
}

/* Receive n packets on port within a second. */
static uint16_t
port_rx(uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz();
	uint16_t got = 0;

	while (got < n && rte_get_timer_cycles() < end)
		got += rte_eth_rx_burst(port, 0, pkts + got, n - got);
	return got;
}

/* Send n packets on port within a second, the other side draining as needed. */
static uint16_t
port_tx(uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz();
	uint16_t sent = 0;

	while (sent < n && rte_get_timer_cycles() < end)
		sent += rte_eth_tx_burst(port, 0, pkts + sent, n - sent);
	return sent;
}

/* Guest sends n frames of len; the vhu port forwards them back; both sides check. */
static int
pmd_round(uint16_t guest, uint16_t host, struct rte_mempool *mp, uint32_t len, uint16_t n,
		uint32_t seed)
{
	struct rte_mbuf *out[32], *mid[32], *back[32];
	uint16_t i, k;

	TEST_ASSERT(n <= 32, "");
	for (i = 0; i < n; i++) {
		make_frame(vframe, len, seed + i);
		out[i] = mbuf_make(mp, vframe, len, 0);
		TEST_ASSERT(out[i] != NULL, "");
	}
	k = port_tx(guest, out, n);
	TEST_ASSERT_EQ(k, n, "guest sent %u-byte frames", len);
	TEST_ASSERT_EQ(port_rx(host, mid, n), n, "net_vhu received %u-byte frames", len);
	for (i = 0; i < n; i++) {
		make_frame(vframe, len, seed + i);
		TEST_ASSERT(mbuf_cmp(mid[i], vframe, len) == 0, "net_vhu frame %u of %u", i, len);
	}
	k = port_tx(host, mid, n);
	TEST_ASSERT_EQ(k, n, "net_vhu forwarded");
	TEST_ASSERT_EQ(port_rx(guest, back, n), n, "guest got %u-byte frames back", len);
	for (i = 0; i < n; i++) {
		make_frame(vframe, len, seed + i);
		TEST_ASSERT(mbuf_cmp(back[i], vframe, len) == 0, "guest frame %u of %u", i, len);
	}
	rte_pktmbuf_free_bulk(back, n);
	return TEST_SUCCESS;
}

static int
pmd_case(struct vu_pmd *p, const struct vu_layout *l, int mrg, int inorder, uint16_t qsize,
		unsigned int seq)
{
	char sock[VHU_PATH_MAX], args[256], pool[64];
	struct rte_eth_stats hs, gs;
	uint64_t features = 0, end;
	int vid = -1;
	uint32_t r;

	memset(p, 0, sizeof(*p));
	TEST_ASSERT(vhu_test_tmpdir(p->dir, sizeof(p->dir)) == 0, "tmpdir");
	snprintf(sock, sizeof(sock), "%s/pmd.sock", p->dir);
	snprintf(pool, sizeof(pool), "vu%spmd%u_%d", l->name, seq, (int)getpid());
	p->mp = rte_pktmbuf_pool_create(pool, 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	TEST_ASSERT(p->mp != NULL, "mempool");
	snprintf(p->vname, sizeof(p->vname), "net_vhu_%.2s%u", l->name, seq);
	snprintf(p->gname, sizeof(p->gname), "net_virtio_user%u", l->port_base + 40 + seq);
	snprintf(args, sizeof(args), "iface=%s,queues=1,packed=%d", sock, l->packed);
	TEST_ASSERT_EQ(rte_vdev_init(p->vname, args), 0, "net_vhu %s", args);
	p->vmade = true;
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name(p->vname, &p->host), 0, "");
	TEST_ASSERT_EQ(port_up(p->host, qsize, p->mp, true), 0, "net_vhu port up");
	snprintf(args, sizeof(args), "path=%s,queues=1,queue_size=%u,mrg_rxbuf=%d,in_order=%d%s",
			sock, qsize, mrg, inorder, l->packed ? ",packed_vq=1" : "");
	TEST_ASSERT_EQ(rte_vdev_init(p->gname, args), 0, "virtio-user %s", args);
	p->gmade = true;
	TEST_ASSERT_EQ(rte_eth_dev_get_port_by_name(p->gname, &p->guest), 0, "");
	TEST_ASSERT_EQ(port_up(p->guest, qsize, p->mp, mrg), 0, "virtio-user port up");
	/* the device is ready once both rings run */
	end = rte_get_timer_cycles() + 5 * rte_get_timer_hz();
	while (rte_get_timer_cycles() < end) {
		vid = vhu_eth_get_vid(p->host);
		if (vid >= 0 && vhu_vring_is_active(vid, 0) == 1 &&
				vhu_vring_is_active(vid, 1) == 1)
			break;
		rte_delay_us_sleep(2000);
	}
	TEST_ASSERT(vid >= 0 && vhu_vring_is_active(vid, 1) == 1, "rings running");
	TEST_ASSERT_EQ(vhu_get_features(vid, &features), 0, "");
	TEST_ASSERT_EQ(!!(features & VHU_BIT(VHU_F_RING_PACKED)), l->packed,
			"packed=%d negotiated the %s ring", l->packed, l->name);

	for (r = 0; r < 3u * qsize / 16u + 8u; r++) {
		static const uint32_t lens[] = { 64, 1518, 9000 };
		uint32_t len = lens[r % (mrg ? 3 : 2)];

		TEST_RUN(pmd_round(p->guest, p->host, p->mp, len, len > 2000 ? 4 : 16, r * 33));
	}
	TEST_ASSERT_EQ(rte_eth_stats_get(p->host, &hs), 0, "");
	TEST_ASSERT_EQ(rte_eth_stats_get(p->guest, &gs), 0, "");
	TEST_ASSERT_EQ(hs.ierrors + hs.oerrors + hs.imissed + hs.rx_nombuf, 0,
			"net_vhu error counters");
	TEST_ASSERT_EQ(gs.ierrors + gs.oerrors + gs.rx_nombuf, 0, "virtio-user errors");
	TEST_ASSERT_EQ(hs.ipackets, hs.opackets, "everything forwarded");
	TEST_ASSERT_EQ(gs.ipackets, gs.opackets, "everything came back");
	/* both ports closed, then every mbuf must be back */
	{
		struct rte_mempool *mp = p->mp;
		unsigned int missing;

		p->mp = NULL;
		vu_pmd_down(p);
		missing = mp->size - rte_mempool_avail_count(mp);
		rte_mempool_free(mp);
		TEST_ASSERT_EQ(missing, 0, "mbufs missing after both ports closed");
	}
	return TEST_SUCCESS;
}

VHU_TEST_F(driver, packed_pmd_forward, vu_pmd, p)
{
	TEST_RUN(pmd_case(p, &vu_packed, 1, 0, 256, 0));
	TEST_RUN(pmd_case(p, &vu_packed, 0, 0, 256, 1));
	TEST_RUN(pmd_case(p, &vu_packed, 1, 1, 256, 2));
	TEST_RUN(pmd_case(p, &vu_packed, 0, 1, 1000, 3));
	return TEST_SUCCESS;
}

VHU_TEST_F(driver, split_pmd_forward, vu_pmd, p)
{
	TEST_RUN(pmd_case(p, &vu_split, 1, 0, 256, 0));
	TEST_RUN(pmd_case(p, &vu_split, 0, 0, 256, 1));
	TEST_RUN(pmd_case(p, &vu_split, 1, 1, 256, 2));
	TEST_RUN(pmd_case(p, &vu_split, 0, 1, 1024, 3));
	return TEST_SUCCESS;
}
