/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * net_vhu datapath glue: the rx/tx bursts (straight into the library),
 * queue setup/start/stop, the per-queue vid guard, counters (port stats and
 * per-queue xstats from the library's per-vring counters) and rx interrupts.
 *
 * Rx interrupts: EAL waits on one fd per rx queue (the interrupt handle's
 * efds). A ring's kick eventfd changes with every front-end (and the
 * library owns it), so each queue's efd is a private epoll fd, stable for
 * the port's life, into which we put our own dup() of the current kick fd.
 * The application registers the proxy once; a guest kick makes it readable
 * and wakes the application; we swap the kick fd inside when the device
 * changes.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_interrupts.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_net.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "vhu_ethdev.h"
#include "vhu_proto.h"

/* ---- bursts ---- */

/*
 * A guest that negotiated VIRTIO_NET_F_CSUM may send TCP/UDP frames whose
 * checksum it left to us (virtio NEEDS_CSUM). The library reports them
 * with RTE_MBUF_F_RX_L4_CKSUM_NONE, as a NIC would: correct data, checksum
 * field not final. An application that enabled rx checksum offload reads
 * the flag and decides; one that did not would forward a wrong checksum,
 * so for it the port completes those checksums here (as net_vhost does).
 * Only frames carrying that flag are touched.
 */
static __rte_noinline void
rx_sw_csum(struct rte_mbuf **pkts, uint16_t nb)
{
	struct rte_net_hdr_lens hl;
	struct rte_mbuf *m;
	uint32_t ptype, l4_off, field;
	uint16_t i, *cksum;
	void *l3;

	for (i = 0; i < nb; i++) {
		m = pkts[i];
		if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_NONE)
			continue;
		memset(&hl, 0, sizeof(hl));
		ptype = rte_net_get_ptype(
				m, &hl, RTE_PTYPE_L2_MASK | RTE_PTYPE_L3_MASK | RTE_PTYPE_L4_MASK);
		l4_off = (uint32_t)hl.l2_len + hl.l3_len;
		if ((ptype & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_TCP)
			field = l4_off + offsetof(struct rte_tcp_hdr, cksum);
		else if ((ptype & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_UDP)
			field = l4_off + offsetof(struct rte_udp_hdr, dgram_cksum);
		else
			continue;
		/* headers in the first segment (the library builds them so) */
		if (field + sizeof(*cksum) > m->data_len)
			continue;
		l3 = rte_pktmbuf_mtod_offset(m, void *, hl.l2_len);
		cksum = rte_pktmbuf_mtod_offset(m, uint16_t *, field);
		*cksum = 0;
		if (RTE_ETH_IS_IPV4_HDR(ptype))
			*cksum = rte_ipv4_udptcp_cksum_mbuf(m, l3, (uint16_t)l4_off);
		else if (RTE_ETH_IS_IPV6_HDR(ptype))
			*cksum = rte_ipv6_udptcp_cksum_mbuf(m, l3, (uint16_t)l4_off);
		else
			continue;
		m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_RX_L4_CKSUM_MASK) |
				RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	}
}

/* Does an IPv4 header of ihl bytes sum to all ones? The usual 20 bytes in five loads. */
static __rte_always_inline bool
ipv4_hdr_sums_ok(const void *h, uint32_t ihl)
{
	uint32_t w[5];
	uint64_t sum;

	if (unlikely(ihl != sizeof(w)))
		return rte_raw_cksum(h, ihl) == 0xffff;
	memcpy(w, h, sizeof(w));
	/* one's complement sum of 32-bit words, folded to 16 bits (RFC 1071) */
	sum = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return sum == 0xffff;
}

/*
 * IPv4 header checksum, for an application that enabled
 * RTE_ETH_RX_OFFLOAD_IPV4_CKSUM (OVS asks for it with TCP and UDP). virtio
 * has no IPv4 header offload: a guest always fills the field itself, so
 * the port checks it as a NIC would (up to two VLAN tags; the header in the
 * first segment, as the library builds mbufs) and reports GOOD or BAD. The
 * walk is written out rather than rte_net_get_ptype(): this runs for every
 * received frame, and the general parser cost OVS's forwarding rate
 * (paired vhu/OVS ratio 1.20 and 1.03 against 1.30 and 1.35).
 */
static __rte_noinline void
rx_ip_csum(struct rte_mbuf **pkts, uint16_t nb)
{
	const struct rte_ipv4_hdr *ip;
	const struct rte_vlan_hdr *vh;
	struct rte_mbuf *m;
	uint32_t off, ihl;
	uint16_t i, type;

	for (i = 0; i < nb; i++) {
		m = pkts[i];
		if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) != RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN ||
				m->data_len < RTE_ETHER_HDR_LEN)
			continue;
		type = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *)->ether_type;
		off = RTE_ETHER_HDR_LEN;
		while ((type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN) ||
				       type == rte_cpu_to_be_16(RTE_ETHER_TYPE_QINQ)) &&
				off + sizeof(*vh) <= m->data_len && off < RTE_ETHER_HDR_LEN + 8) {
			vh = rte_pktmbuf_mtod_offset(m, const struct rte_vlan_hdr *, off);
			type = vh->eth_proto;
			off += sizeof(*vh);
		}
		if (type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
				off + sizeof(*ip) > m->data_len)
			continue;
		ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, off);
		ihl = (uint32_t)(ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * 4;
		if (ihl < sizeof(*ip) || off + ihl > m->data_len)
			m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
		else
			m->ol_flags |= ipv4_hdr_sums_ok(ip, ihl) ? RTE_MBUF_F_RX_IP_CKSUM_GOOD :
								   RTE_MBUF_F_RX_IP_CKSUM_BAD;
	}
}

uint16_t
vhu_eth_rx_burst(void *rxq, struct rte_mbuf **pkts, uint16_t n)
{
	struct vhu_eth_queue *q = rxq;
	uint16_t nb, i;
	int vid;

	if (vhu_eth_queue_idle(q))
		return 0;
	vid = vhu_eth_queue_enter(q);
	if (unlikely(vid < 0)) {
		vhu_eth_queue_leave(q);
		return 0;
	}
	nb = vhu_dequeue_burst(vid, q->vring, q->mp, pkts, n);
	vhu_eth_queue_leave(q);
	if (nb == 0)
		return 0;
	/* The library does not know ethdev port ids: the one field we set. */
	for (i = 0; i < nb; i++)
		pkts[i]->port = q->port_id;
	if (unlikely(__atomic_load_n(&q->sw_csum, __ATOMIC_RELAXED)))
		rx_sw_csum(pkts, nb);
	if (unlikely(__atomic_load_n(&q->ip_csum, __ATOMIC_RELAXED)))
		rx_ip_csum(pkts, nb);
	return nb;
}

uint16_t
vhu_eth_tx_burst(void *txq, struct rte_mbuf **pkts, uint16_t n)
{
	struct vhu_eth_queue *q = txq;
	uint16_t nb;
	int vid;

	if (vhu_eth_queue_idle(q))
		return 0;
	vid = vhu_eth_queue_enter(q);
	if (unlikely(vid < 0)) {
		vhu_eth_queue_leave(q);
		return 0;
	}
	if (likely(q->tx_lock == NULL)) {
		nb = vhu_enqueue_burst(vid, q->vring, pkts, n);
	} else {
		/* steered: another tx queue may be on this ring (see tx_steer) */
		rte_spinlock_lock(q->tx_lock);
		nb = vhu_enqueue_burst(vid, q->vring, pkts, n);
		rte_spinlock_unlock(q->tx_lock);
	}
	vhu_eth_queue_leave(q);
	/* The library copied (or dropped and counted) the first nb; they are ours to free. */
	if (nb != 0)
		rte_pktmbuf_free_bulk(pkts, nb);
	return nb;
}

/* ---- the queue guard, control side ---- */

void
vhu_eth_queue_set_vid(struct vhu_eth_queue *q, int vid)
{
	uint64_t warn_tsc;

	/* Pairs with vhu_eth_queue_ctl_enter(): store vid, then load busy (both SC). */
	__atomic_store_n(&q->vid, vid, __ATOMIC_SEQ_CST);
	if (vid >= 0)
		return;
	/* store vid, then load dp_busy: pairs with the light fence in vhu_eth_queue_enter() */
	vhu_fence_heavy();
	warn_tsc = rte_get_timer_cycles() + rte_get_timer_hz();
	/* Acquire pairs with the release in vhu_eth_queue_leave() / _ctl_leave(). */
	while (__atomic_load_n(&q->dp_busy, __ATOMIC_ACQUIRE) != 0 ||
			__atomic_load_n(&q->busy, __ATOMIC_SEQ_CST) != 0) {
		rte_pause();
		if (rte_get_timer_cycles() > warn_tsc) {
			VHU_ETH_LOG(WARNING, q->port->iface,
					"%s queue %u: still waiting for an lcore to leave its burst",
					q->rx ? "rx" : "tx", q->qid);
			warn_tsc = rte_get_timer_cycles() + rte_get_timer_hz();
		}
	}
}

static int
queue_wanted_vid(const struct vhu_eth_port *port, const struct vhu_eth_queue *q)
{
	if (!port->started || q->stopped)
		return -1;
	return port->vid;
}

/* Must rx complete partial checksums for the application? (see rx_sw_csum) */
static bool
port_rx_sw_csum(const struct vhu_eth_port *port)
{
	const uint64_t app = port->eth_dev->data->dev_conf.rxmode.offloads;

	return !(port->conf.flags & VHU_SOCK_LEGACY_OL_FLAGS) &&
			(port->features & (1ull << VHU_F_NET_CSUM)) &&
			!(app & (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM));
}

static void
queue_sync(struct vhu_eth_port *port, struct vhu_eth_queue *q)
{
	int want = queue_wanted_vid(port, q);
	int cur = __atomic_load_n(&q->vid, __ATOMIC_RELAXED);

	/* A plain flag the burst reads relaxed: a change takes effect at its next burst. */
	__atomic_store_n(&q->sw_csum, q->rx && port_rx_sw_csum(port), __ATOMIC_RELAXED);
	__atomic_store_n(&q->ip_csum,
			q->rx &&
					(port->eth_dev->data->dev_conf.rxmode.offloads &
							RTE_ETH_RX_OFFLOAD_IPV4_CKSUM),
			__ATOMIC_RELAXED);

	if (want == cur)
		return;
	if (cur >= 0)
		vhu_eth_queue_set_vid(q, -1); /* never switch devices without draining */
	if (want >= 0)
		vhu_eth_queue_set_vid(q, want);
}

/*
 * Tx steering. A guest may enable fewer queue pairs than the port has (a
 * Linux guest with fewer vCPUs, a virtio-user with fewer queues), while the
 * application transmits on every tx queue it configured (OVS's PMD threads
 * each take one): the frames of a tx queue whose guest receive ring is
 * disabled would all be refused. With tx-steer (the default) such a queue
 * sends to an enabled ring instead: queue q to the (q mod n)-th of the n
 * enabled ones. Two lcores may then meet on one ring: every tx queue of a
 * ring that more than one queue uses takes that ring's spinlock around its
 * enqueue; a ring used by one queue takes none. A queue's ring and lock
 * change only while the queue is drained (vid -1).
 * Caller holds port->lock.
 */
static void
tx_steer(struct vhu_eth_port *port)
{
	uint16_t enabled[VHU_MAX_QUEUE_PAIRS], users[VHU_MAX_QUEUE_PAIRS];
	uint16_t vring[VHU_MAX_QUEUE_PAIRS];
	bool steer = vhu_eth_tx_steer_on(port);
	uint16_t i, n = 0, pair;
	struct vhu_eth_queue *q;
	rte_spinlock_t *lock;

	rte_spinlock_lock(&port->ev_lock);
	for (i = 0; i < port->max_queues; i++)
		if (port->vid >= 0 && port->vring_cur[2 * i])
			enabled[n++] = i;
	rte_spinlock_unlock(&port->ev_lock);
	memset(users, 0, sizeof(users));
	for (i = 0; i < port->max_queues; i++) {
		/* its own ring when enabled, else the (i mod n)-th enabled one */
		pair = i;
		if (steer && n > 0 && !port->vring_cur[2 * i])
			pair = enabled[i % n];
		vring[i] = (uint16_t)(2 * pair);
		if (port->txq[i] != NULL)
			users[pair]++;
	}
	for (i = 0; i < port->max_queues; i++) {
		q = port->txq[i];
		if (q == NULL)
			continue;
		lock = users[vring[i] / 2] > 1 ? &port->tx_locks[vring[i] / 2] : NULL;
		if (q->vring == vring[i] && q->tx_lock == lock)
			continue;
		vhu_eth_queue_set_vid(q, -1); /* drained: no burst sees the change half done */
		if (q->vring != vring[i]) {
			if (vring[i] / 2 != i)
				VHU_ETH_LOG(INFO, port->iface,
						"tx queue %u: the guest's queue pair %u is disabled: sending to pair %u (%u of %u pairs enabled)",
						i, i, vring[i] / 2, n, port->max_queues);
			else
				VHU_ETH_LOG(INFO, port->iface,
						"tx queue %u: back on its own queue pair", i);
		}
		q->vring = vring[i];
		q->tx_lock = lock;
	}
}

void
vhu_eth_queues_sync(struct vhu_eth_port *port)
{
	uint16_t i;

	tx_steer(port);
	for (i = 0; i < port->max_queues; i++) {
		if (port->rxq[i] != NULL)
			queue_sync(port, port->rxq[i]);
		if (port->txq[i] != NULL)
			queue_sync(port, port->txq[i]);
	}
}

/* ---- queue setup, release, start, stop ---- */

static struct vhu_eth_queue *
queue_alloc(struct rte_eth_dev *dev, uint16_t qid, bool rx, uint16_t nb_desc,
		unsigned int socket_id)
{
	struct vhu_eth_port *port = dev->data->dev_private;
	struct vhu_eth_queue *q;

	q = rte_zmalloc_socket(rx ? "vhu_rxq" : "vhu_txq", sizeof(*q), RTE_CACHE_LINE_SIZE,
			(int)socket_id);
	if (q == NULL)
		return NULL;
	q->vid = -1;
	q->vring = (uint16_t)(2 * qid + (rx ? 1 : 0));
	q->port_id = port->port_id;
	q->port = port;
	q->qid = qid;
	q->rx = rx;
	q->nb_desc = nb_desc;
	return q;
}

int
vhu_eth_rx_queue_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc,
		unsigned int socket_id, const struct rte_eth_rxconf *conf, struct rte_mempool *mp)
{
	struct vhu_eth_port *port = dev->data->dev_private;
	struct vhu_eth_queue *q;

	if (qid >= port->max_queues || mp == NULL)
		return -EINVAL;
	q = queue_alloc(dev, qid, true, nb_desc, socket_id);
	if (q == NULL)
		return -ENOMEM;
	q->mp = mp;
	q->rxconf = *conf;
	q->stopped = conf->rx_deferred_start != 0;
	pthread_mutex_lock(&port->lock);
	port->rxq[qid] = q;
	pthread_mutex_unlock(&port->lock);
	dev->data->rx_queues[qid] = q;
	return 0;
}

int
vhu_eth_tx_queue_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc,
		unsigned int socket_id, const struct rte_eth_txconf *conf)
{
	struct vhu_eth_port *port = dev->data->dev_private;
	struct vhu_eth_queue *q;

	if (qid >= port->max_queues)
		return -EINVAL;
	q = queue_alloc(dev, qid, false, nb_desc, socket_id);
	if (q == NULL)
		return -ENOMEM;
	q->txconf = *conf;
	q->stopped = conf->tx_deferred_start != 0;
	pthread_mutex_lock(&port->lock);
	port->txq[qid] = q;
	pthread_mutex_unlock(&port->lock);
	dev->data->tx_queues[qid] = q;
	return 0;
}

static void
queue_release(struct rte_eth_dev *dev, struct vhu_eth_queue **slot, void *q_data)
{
	struct vhu_eth_port *port = dev->data->dev_private;
	struct vhu_eth_queue *q;

	pthread_mutex_lock(&port->lock);
	q = *slot;
	*slot = NULL;
	if (q != NULL)
		vhu_eth_queue_set_vid(q, -1);
	pthread_mutex_unlock(&port->lock);
	if (q != NULL && q != q_data)
		VHU_ETH_LOG(ERR, port->iface, "queue release: ethdev and PMD disagree on a queue");
	rte_free(q);
}

void
vhu_eth_rx_queue_release(struct rte_eth_dev *dev, uint16_t qid)
{
	struct vhu_eth_port *port = dev->data->dev_private;

	if (qid < port->max_queues && port->rxq != NULL)
		queue_release(dev, &port->rxq[qid], dev->data->rx_queues[qid]);
}

void
vhu_eth_tx_queue_release(struct rte_eth_dev *dev, uint16_t qid)
{
	struct vhu_eth_port *port = dev->data->dev_private;

	if (qid < port->max_queues && port->txq != NULL)
		queue_release(dev, &port->txq[qid], dev->data->tx_queues[qid]);
}

static int
queue_set_stopped(struct rte_eth_dev *dev, struct vhu_eth_queue *q, bool stopped)
{
	struct vhu_eth_port *port = dev->data->dev_private;

	if (q == NULL)
		return -EINVAL;
	pthread_mutex_lock(&port->lock);
	q->stopped = stopped;
	queue_sync(port, q);
	if (q->rx)
		vhu_eth_intr_refresh_queue(port, q->qid);
	pthread_mutex_unlock(&port->lock);
	if (q->rx)
		dev->data->rx_queue_state[q->qid] =
				stopped ? RTE_ETH_QUEUE_STATE_STOPPED : RTE_ETH_QUEUE_STATE_STARTED;
	else
		dev->data->tx_queue_state[q->qid] =
				stopped ? RTE_ETH_QUEUE_STATE_STOPPED : RTE_ETH_QUEUE_STATE_STARTED;
	return 0;
}

int
vhu_eth_rx_queue_start(struct rte_eth_dev *dev, uint16_t qid)
{
	return queue_set_stopped(dev, dev->data->rx_queues[qid], false);
}

int
vhu_eth_rx_queue_stop(struct rte_eth_dev *dev, uint16_t qid)
{
	return queue_set_stopped(dev, dev->data->rx_queues[qid], true);
}

int
vhu_eth_tx_queue_start(struct rte_eth_dev *dev, uint16_t qid)
{
	return queue_set_stopped(dev, dev->data->tx_queues[qid], false);
}

int
vhu_eth_tx_queue_stop(struct rte_eth_dev *dev, uint16_t qid)
{
	return queue_set_stopped(dev, dev->data->tx_queues[qid], true);
}

void
vhu_eth_rxq_info_get(struct rte_eth_dev *dev, uint16_t qid, struct rte_eth_rxq_info *qinfo)
{
	struct vhu_eth_port *port = dev->data->dev_private;
	struct vhu_eth_queue *q = dev->data->rx_queues[qid];

	qinfo->mp = q->mp;
	qinfo->conf = q->rxconf;
	qinfo->nb_desc = q->nb_desc;
	qinfo->scattered_rx = !(port->conf.flags & VHU_SOCK_LINEAR_BUF);
	qinfo->queue_state = dev->data->rx_queue_state[qid];
}

void
vhu_eth_txq_info_get(struct rte_eth_dev *dev, uint16_t qid, struct rte_eth_txq_info *qinfo)
{
	struct vhu_eth_queue *q = dev->data->tx_queues[qid];

	qinfo->conf = q->txconf;
	qinfo->nb_desc = q->nb_desc;
	qinfo->queue_state = dev->data->tx_queue_state[qid];
}

/* ---- counters ---- */

/* Every member of struct vhu_vq_stats is a uint64_t counter: we add them as an array. */
#define VHU_ETH_NB_COUNTERS (sizeof(struct vhu_vq_stats) / sizeof(uint64_t))
static_assert(sizeof(struct vhu_vq_stats) % sizeof(uint64_t) == 0,
		"struct vhu_vq_stats must hold uint64_t counters only");

static void
vring_live(int vid, uint16_t vring, struct vhu_vq_stats *s)
{
	if (vid < 0 || vhu_vq_stats_get(vid, vring, s) != 0)
		memset(s, 0, sizeof(*s));
}

/* base + live - offset. Caller holds port->lock (so port->vid stays valid). */
static void
vring_total(struct vhu_eth_port *port, uint16_t vring, struct vhu_vq_stats *out)
{
	const uint64_t *b = (const uint64_t *)&port->base[vring];
	const uint64_t *o = (const uint64_t *)&port->offset[vring];
	struct vhu_vq_stats live;
	const uint64_t *l = (const uint64_t *)&live;
	uint64_t *t = (uint64_t *)out;
	size_t i;

	vring_live(port->vid, vring, &live);
	for (i = 0; i < VHU_ETH_NB_COUNTERS; i++)
		t[i] = b[i] + (port->vid >= 0 ? l[i] - o[i] : 0);
}

void
vhu_eth_stats_fold(struct vhu_eth_port *port, int vid)
{
	struct vhu_vq_stats live;
	const uint64_t *l = (const uint64_t *)&live;
	uint64_t *b, *o;
	uint16_t v;
	size_t i;

	for (v = 0; v < 2u * port->max_queues; v++) {
		vring_live(vid, v, &live);
		b = (uint64_t *)&port->base[v];
		o = (uint64_t *)&port->offset[v];
		for (i = 0; i < VHU_ETH_NB_COUNTERS; i++) {
			b[i] += l[i] - o[i];
			o[i] = 0;
		}
	}
}

void
vhu_eth_stats_clear(struct vhu_eth_port *port)
{
	uint16_t v;

	/* Never write the library's counters (an lcore may be adding to them): remember them instead. */
	memset(port->base, 0, sizeof(*port->base) * 2 * port->max_queues);
	for (v = 0; v < 2u * port->max_queues; v++)
		vring_live(port->vid, v, &port->offset[v]);
}

int
vhu_eth_stats_get(struct rte_eth_dev *dev, struct rte_eth_stats *stats)
{
	struct vhu_eth_port *port = dev->data->dev_private;
	struct vhu_vq_stats s;
	uint16_t q;

	pthread_mutex_lock(&port->lock);
	for (q = 0; q < dev->data->nb_rx_queues && q < port->max_queues; q++) {
		vring_total(port, (uint16_t)(2 * q + 1), &s);
		stats->ipackets += s.packets;
		stats->ibytes += s.bytes;
		stats->ierrors += s.errors;
		/* frames not delivered: too big (linear-buffer), discarded on a
		 * disabled ring, or a burst that found the pool empty */
		stats->imissed += s.dropped;
		if (q < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_ipackets[q] = s.packets;
			stats->q_ibytes[q] = s.bytes;
			stats->q_errors[q] = s.errors;
		}
	}
	for (q = 0; q < dev->data->nb_tx_queues && q < port->max_queues; q++) {
		vring_total(port, (uint16_t)(2 * q), &s);
		stats->opackets += s.packets;
		stats->obytes += s.bytes;
		stats->oerrors += s.errors + s.dropped;
		if (q < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_opackets[q] = s.packets;
			stats->q_obytes[q] = s.bytes;
		}
	}
	pthread_mutex_unlock(&port->lock);
	return 0;
}

int
vhu_eth_stats_reset(struct rte_eth_dev *dev)
{
	struct vhu_eth_port *port = dev->data->dev_private;

	pthread_mutex_lock(&port->lock);
	vhu_eth_stats_clear(port);
	pthread_mutex_unlock(&port->lock);
	return 0;
}

/*
 * Per-queue xstats: name suffix and the library counter behind it. The
 * names are those OVS shows in an Interface's statistics (it keeps
 * rx_q<N>_packets and _bytes and what ends in _errors or _dropped).
 */
/* clang-format off */
#define VHU_ETH_XSTATS(X) \
	X("packets",                   packets) \
	X("bytes",                     bytes) \
	X("guest_errors",              errors) \
	X("dropped",                   dropped) \
	X("size_undersize_packets",    size_bins[0]) \
	X("size_64_packets",           size_bins[1]) \
	X("size_65_to_127_packets",    size_bins[2]) \
	X("size_128_to_255_packets",   size_bins[3]) \
	X("size_256_to_511_packets",   size_bins[4]) \
	X("size_512_to_1023_packets",  size_bins[5]) \
	X("size_1024_to_1518_packets", size_bins[6]) \
	X("size_1519_to_max_packets",  size_bins[7]) \
	X("unicast_packets",           unicast) \
	X("multicast_packets",         multicast) \
	X("broadcast_packets",         broadcast) \
	X("guest_kicks",               kicks) \
	X("guest_notifications",       calls) \
	X("guest_notifications_suppressed", calls_suppressed) \
	X("iotlb_misses",              iotlb_misses) \
	X("iotlb_invalidations",       iotlb_invalidations)
/* clang-format on */

struct vhu_eth_xstat_desc {
	const char *name;
	size_t offset;
};

static const struct vhu_eth_xstat_desc vhu_eth_xstats[] = {
#define VHU_ETH_XSTAT_DESC(name_, field) \
	{ .name = name_, .offset = offsetof(struct vhu_vq_stats, field) },
	VHU_ETH_XSTATS(VHU_ETH_XSTAT_DESC)
#undef VHU_ETH_XSTAT_DESC
};

#define VHU_ETH_NB_XSTATS RTE_DIM(vhu_eth_xstats)

static unsigned int
xstats_count(struct rte_eth_dev *dev)
{
	struct vhu_eth_port *port = dev->data->dev_private;
	unsigned int nrx = RTE_MIN(dev->data->nb_rx_queues, port->max_queues);
	unsigned int ntx = RTE_MIN(dev->data->nb_tx_queues, port->max_queues);

	return (nrx + ntx) * VHU_ETH_NB_XSTATS;
}

int
vhu_eth_xstats_get_names(
		struct rte_eth_dev *dev, struct rte_eth_xstat_name *names, unsigned int size)
{
	unsigned int count = xstats_count(dev), idx = 0, q, k, nq;
	int pass;

	if (names == NULL || size < count)
		return (int)count;
	for (pass = 0; pass < 2; pass++) {
		nq = (pass == 0 ? dev->data->nb_rx_queues : dev->data->nb_tx_queues);
		for (q = 0; q < nq && idx < count; q++)
			for (k = 0; k < VHU_ETH_NB_XSTATS; k++)
				snprintf(names[idx++].name, sizeof(names[0].name), "%s_q%u_%s",
						pass == 0 ? "rx" : "tx", q, vhu_eth_xstats[k].name);
	}
	return (int)count;
}

int
vhu_eth_xstats_get(struct rte_eth_dev *dev, struct rte_eth_xstat *xstats, unsigned int n)
{
	struct vhu_eth_port *port = dev->data->dev_private;
	unsigned int count = xstats_count(dev), idx = 0, q, k, nq;
	struct vhu_vq_stats s;
	int pass;

	if (xstats == NULL || n < count)
		return (int)count;
	pthread_mutex_lock(&port->lock);
	for (pass = 0; pass < 2; pass++) {
		nq = (pass == 0 ? dev->data->nb_rx_queues : dev->data->nb_tx_queues);
		for (q = 0; q < nq && idx < count; q++) {
			vring_total(port, (uint16_t)(2 * q + (pass == 0 ? 1 : 0)), &s);
			for (k = 0; k < VHU_ETH_NB_XSTATS; k++) {
				xstats[idx].id = idx;
				xstats[idx].value = *(const uint64_t *)((const char *)&s +
						vhu_eth_xstats[k].offset);
				idx++;
			}
		}
	}
	pthread_mutex_unlock(&port->lock);
	return (int)count;
}

/* ---- rx interrupts ---- */

/* Take the current kick fd out of queue i's proxy. Caller holds intr->lock. */
static void
intr_drop_kick(struct vhu_eth_rxintr *intr)
{
	if (intr->kick_fd < 0)
		return;
	epoll_ctl(intr->proxy_fd, EPOLL_CTL_DEL, intr->kick_fd, NULL);
	close(intr->kick_fd);
	intr->kick_fd = -1;
}

void
vhu_eth_intr_refresh_queue(struct vhu_eth_port *port, uint16_t qid)
{
	struct vhu_eth_rxintr *intr;
	struct vhu_eth_queue *q;
	struct epoll_event ev;
	int vid, fd, dup_fd;

	if (qid >= port->intr_count)
		return;
	intr = &port->intr[qid];
	q = port->rxq[qid];
	vid = q != NULL ? __atomic_load_n(&q->vid, __ATOMIC_RELAXED) : -1;

	rte_spinlock_lock(&intr->lock);
	/* Always swap: the library may have replaced the ring's kick fd under the same number. */
	intr_drop_kick(intr);
	fd = vid >= 0 ? vhu_get_kickfd(vid, (uint16_t)(2 * qid + 1)) : -1;
	if (fd >= 0) {
		/* Our own reference: the library may close its fd whenever the front-end replaces it. */
		dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u32 = qid;
		if (dup_fd < 0 || epoll_ctl(intr->proxy_fd, EPOLL_CTL_ADD, dup_fd, &ev) != 0) {
			VHU_ETH_LOG(ERR, port->iface, "rx queue %u: cannot watch kick fd %d: %s",
					qid, fd, strerror(errno));
			if (dup_fd >= 0)
				close(dup_fd);
		} else {
			intr->kick_fd = dup_fd;
		}
	}
	rte_spinlock_unlock(&intr->lock);
}

void
vhu_eth_intr_refresh(struct vhu_eth_port *port)
{
	uint16_t i;

	for (i = 0; i < port->intr_count; i++)
		vhu_eth_intr_refresh_queue(port, i);
}

void
vhu_eth_intr_uninstall(struct vhu_eth_port *port)
{
	struct rte_eth_dev *dev = port->eth_dev;
	uint16_t i;

	for (i = 0; i < port->intr_count; i++) {
		rte_spinlock_lock(&port->intr[i].lock);
		intr_drop_kick(&port->intr[i]);
		rte_spinlock_unlock(&port->intr[i].lock);
		/* Closing the proxy also takes it out of any application epoll set. */
		if (port->intr[i].proxy_fd >= 0)
			close(port->intr[i].proxy_fd);
	}
	if (dev->intr_handle != NULL) {
		rte_intr_vec_list_free(dev->intr_handle);
		rte_intr_instance_free(dev->intr_handle);
		dev->intr_handle = NULL;
	}
	rte_free(port->intr);
	port->intr = NULL;
	port->intr_count = 0;
}

int
vhu_eth_intr_install(struct vhu_eth_port *port)
{
	struct rte_eth_dev *dev = port->eth_dev;
	uint16_t nb = dev->data->nb_rx_queues, i;
	struct rte_intr_handle *h;

	if (dev->intr_handle != NULL && port->intr_count == nb)
		return 0; /* keep the proxies the application may have registered */
	vhu_eth_intr_uninstall(port);
	if (nb == 0)
		return 0;
	port->intr = rte_zmalloc("vhu_intr", sizeof(*port->intr) * nb, 0);
	if (port->intr == NULL)
		return -ENOMEM;
	for (i = 0; i < nb; i++) {
		rte_spinlock_init(&port->intr[i].lock);
		port->intr[i].kick_fd = -1;
		port->intr[i].proxy_fd = -1;
	}
	port->intr_count = nb;

	h = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_PRIVATE);
	if (h == NULL)
		goto fail;
	dev->intr_handle = h;
	/* EAL must not read our proxies: they are epoll fds, not counters. */
	if (rte_intr_efd_counter_size_set(h, 0) != 0 || rte_intr_vec_list_alloc(h, NULL, nb) != 0)
		goto fail;
	for (i = 0; i < nb; i++) {
		port->intr[i].proxy_fd = epoll_create1(EPOLL_CLOEXEC);
		if (port->intr[i].proxy_fd < 0 ||
				rte_intr_vec_list_index_set(h, i, RTE_INTR_VEC_RXTX_OFFSET + i) !=
						0 ||
				rte_intr_efds_index_set(h, i, port->intr[i].proxy_fd) != 0)
			goto fail;
	}
	if (rte_intr_nb_efd_set(h, nb) != 0 || rte_intr_max_intr_set(h, nb + 1) != 0 ||
			rte_intr_type_set(h, RTE_INTR_HANDLE_VDEV) != 0)
		goto fail;
	return 0;
fail:
	VHU_ETH_LOG(ERR, port->iface, "cannot set up rx interrupts: %s", strerror(errno));
	vhu_eth_intr_uninstall(port);
	return -ENOMEM;
}

int
vhu_eth_rx_intr_enable(struct rte_eth_dev *dev, uint16_t qid)
{
	struct vhu_eth_port *port = dev->data->dev_private;
	struct vhu_eth_queue *q = dev->data->rx_queues[qid];
	int vid;

	if (qid >= port->intr_count || q == NULL)
		return -ENOTSUP; /* intr_conf.rxq was not set at dev_start */
	rte_spinlock_lock(&port->intr[qid].lock);
	port->intr[qid].wanted = true;
	rte_spinlock_unlock(&port->intr[qid].lock);
	vid = vhu_eth_queue_ctl_enter(q);
	if (vid >= 0)
		vhu_enable_guest_notification(vid, q->vring, 1);
	vhu_eth_queue_ctl_leave(q);
	return 0;
}

/* Read what the guest kicked since the last read (0 when nothing). Caller holds intr->lock. */
static uint64_t
intr_drain(struct vhu_eth_rxintr *intr)
{
	struct pollfd pfd = { .fd = intr->kick_fd, .events = POLLIN };
	uint64_t v = 0;

	if (intr->kick_fd < 0 || poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
		return 0;
	if (read(intr->kick_fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

int
vhu_eth_rx_intr_disable(struct rte_eth_dev *dev, uint16_t qid)
{
	struct vhu_eth_port *port = dev->data->dev_private;
	struct vhu_eth_queue *q = dev->data->rx_queues[qid];
	uint64_t kicks;
	int vid;

	if (qid >= port->intr_count || q == NULL)
		return -ENOTSUP;
	rte_spinlock_lock(&port->intr[qid].lock);
	port->intr[qid].wanted = false;
	kicks = intr_drain(&port->intr[qid]);
	rte_spinlock_unlock(&port->intr[qid].lock);
	vid = vhu_eth_queue_ctl_enter(q);
	if (vid >= 0) {
		vhu_enable_guest_notification(vid, q->vring, 0);
		/* An eventfd sums the guest's writes; count at most 64K per read. */
		for (kicks = RTE_MIN(kicks, (uint64_t)UINT16_MAX); kicks > 0; kicks--)
			vhu_count_kick(vid, q->vring);
	}
	vhu_eth_queue_ctl_leave(q);
	return 0;
}
