/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * net_vhu: each vhost-user socket is one ethdev port.
 *
 * Life of a port:
 *  - probe parses the devargs, allocates the port and registers the socket
 *    with the library, so a front-end may connect as soon as the port
 *    exists (before configure/start, as with net_vhost). A device that
 *    becomes ready sets the link up and raises RTE_ETH_EVENT_INTR_LSC;
 *    ring enable/disable raise RTE_ETH_EVENT_QUEUE_STATE.
 *  - dev_start lets the queues move packets for the ready device (each
 *    queue's vid); dev_stop and destroy_device take it back, waiting for
 *    bursts in flight.
 *  - close unregisters the socket (the library destroys the device, closes
 *    every fd and removes the socket file) and frees everything, so the
 *    same iface can be probed again at once.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_alarm.h>
#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_kvargs.h>
#include <rte_malloc.h>

#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>

#include "rte_pmd_vhu.h"
#include "vhu_ethdev.h"
#include "vhu_proto.h"

RTE_LOG_REGISTER_DEFAULT(vhu_eth_logtype, NOTICE);

static const struct eth_dev_ops vhu_eth_ops;
static const struct vhu_ops vhu_eth_lib_ops;

#define BIT(f) (1ull << (f))

static struct vhu_eth_port *
port_of(struct rte_eth_dev *dev)
{
	return dev->data->dev_private;
}

/* ---- link and events ---- */

static void
link_set(struct vhu_eth_port *port, bool up)
{
	struct rte_eth_link link = {
		.link_speed = up ? RTE_ETH_SPEED_NUM_10G : RTE_ETH_SPEED_NUM_NONE,
		.link_duplex = RTE_ETH_LINK_FULL_DUPLEX,
		.link_autoneg = RTE_ETH_LINK_FIXED,
		.link_status = up ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN,
	};

	rte_eth_linkstatus_set(port->eth_dev, &link);
}

/* Raise an ethdev event; never with port->lock held (handlers may call us back). */
static void
event_raise(struct vhu_eth_port *port, bool probed, enum rte_eth_event_type type)
{
	if (probed)
		rte_eth_dev_callback_process(port->eth_dev, type, NULL);
}

/*
 * Carrier. A ready device whose guest has not yet posted a receive buffer on
 * queue 0 (DPDK's virtio driver fills its rings at its dev_start, after
 * DRIVER_OK; Linux at ifup) cannot take a transmitted frame: reporting the
 * link up then makes applications that prime the port once and wait (DPDK's
 * pmd_perf_autotest) wait forever. The link goes up when the buffers are
 * there: seen by link_update when the application polls, or by an EAL alarm
 * (1 ms, then 10 ms, then 100 ms apart); the alarm raises the LSC event.
 * Caller holds port->lock; returns whether the link is up.
 */
static bool
carrier_check(struct vhu_eth_port *port)
{
	if (port->vid >= 0 && !port->carrier && vhu_vring_has_buffers(port->vid, 0) == 1)
		port->carrier = true;
	return port->vid >= 0 && port->carrier;
}

static void carrier_poll(void *arg);

/* Caller holds port->lock. */
static void
carrier_arm(struct vhu_eth_port *port)
{
	uint64_t us = port->carrier_polls < 50 ? 1000 : port->carrier_polls < 150 ? 10000 : 100000;

	if (port->carrier_armed)
		return;
	if (port->closing || rte_eal_alarm_set(us, carrier_poll, port) != 0)
		return;
	port->carrier_armed = true;
	port->carrier_polls++;
}

static void
carrier_poll(void *arg)
{
	struct vhu_eth_port *port = arg;
	bool up, probed;

	/* never wait here: close cancels this alarm and waits for it to end */
	if (pthread_mutex_trylock(&port->lock) != 0) {
		/* carrier_armed stays set: this is the pending alarm, 1 ms later */
		(void)rte_eal_alarm_set(1000, carrier_poll, port);
		return;
	}
	port->carrier_armed = false;
	if (port->vid < 0 || port->carrier_raised) {
		pthread_mutex_unlock(&port->lock);
		return;
	}
	up = carrier_check(port);
	if (up) {
		link_set(port, true);
		port->carrier_raised = true;
	} else {
		carrier_arm(port);
	}
	probed = port->probed;
	pthread_mutex_unlock(&port->lock);
	if (up) {
		VHU_ETH_LOG(INFO, port->iface, "port %u: link up (guest receive buffers posted)",
				port->port_id);
		event_raise(port, probed, RTE_ETH_EVENT_INTR_LSC);
	}
}

/* Record a ring's state; true when it differs from what the library said before. */
static bool
vring_state_record(struct vhu_eth_port *port, uint16_t vring, bool enable)
{
	bool changed;

	rte_spinlock_lock(&port->ev_lock);
	changed = port->vring_cur[vring] != (uint8_t)enable;
	port->vring_cur[vring] = enable;
	rte_spinlock_unlock(&port->ev_lock);
	return changed;
}

/* ---- library callbacks (control thread) ---- */

/*
 * Ask the guest for kicks on an rx queue's ring only while the application
 * waits for them (rx interrupts). A polled queue tells the guest not to
 * kick: each kick costs the guest a write to an eventfd (a system call
 * per transmit burst for a DPDK virtio-user peer) that nobody reads.
 */
static void
intr_apply_wanted(struct vhu_eth_port *port, int vid, uint16_t qid)
{
	bool wanted = false;

	if (qid < port->intr_count) {
		rte_spinlock_lock(&port->intr[qid].lock);
		wanted = port->intr[qid].wanted;
		rte_spinlock_unlock(&port->intr[qid].lock);
	}
	/* Fails (harmlessly) for a ring the front-end has not set up yet; applied again when it starts. */
	vhu_enable_guest_notification(vid, (uint16_t)(2 * qid + 1), wanted ? 1 : 0);
}

static struct vhu_eth_port *
port_of_vid(int vid)
{
	return vhu_get_ctx(vid);
}

static int
cb_new_device(int vid)
{
	struct vhu_eth_port *port = port_of_vid(vid);
	uint16_t qid;
	uint64_t features = 0;
	bool probed, up;

	if (port == NULL)
		return -1;
	pthread_mutex_lock(&port->lock);
	if (port->vid >= 0 && port->vid != vid) {
		VHU_ETH_LOG(ERR, port->iface, "device %d refused: port %u already serves device %d",
				vid, port->port_id, port->vid);
		pthread_mutex_unlock(&port->lock);
		return -1;
	}
	if (vhu_get_features(vid, &features) != 0)
		features = 0;
	port->vid = vid;
	port->features = features;
	/* A new device's library counters start at zero. */
	memset(port->offset, 0, sizeof(*port->offset) * 2 * port->max_queues);
	vhu_eth_queues_sync(port);
	vhu_eth_intr_refresh(port);
	/* Apply the interrupt wishes the application made while no device was there. */
	for (qid = 0; qid < port->intr_count; qid++)
		intr_apply_wanted(port, vid, qid);
	port->carrier = false;
	port->carrier_polls = 0;
	up = carrier_check(port);
	port->carrier_raised = up;
	if (up)
		link_set(port, true);
	else
		carrier_arm(port);
	probed = port->probed;
	pthread_mutex_unlock(&port->lock);

	VHU_ETH_LOG(INFO, port->iface,
			"port %u: device %d ready, %d vrings, features 0x%" PRIx64 "%s",
			port->port_id, vid, vhu_get_vring_count(vid), features,
			up ? "" : "; link up once the guest posts receive buffers");
	if (up)
		event_raise(port, probed, RTE_ETH_EVENT_INTR_LSC);
	return 0;
}

static void
cb_destroy_device(int vid)
{
	struct vhu_eth_port *port = port_of_vid(vid);
	bool probed, changed = false;
	uint32_t v;

	if (port == NULL)
		return;
	pthread_mutex_lock(&port->lock);
	if (port->vid != vid) {
		pthread_mutex_unlock(&port->lock);
		return;
	}
	port->vid = -1;
	port->carrier = false;
	/* Every queue drops the vid and waits for bursts in flight: after this
	 * no lcore uses vid, as the library requires on return. */
	vhu_eth_queues_sync(port);
	vhu_eth_intr_refresh(port);
	/* Keep what this device counted: the port's counters survive reconnects. */
	vhu_eth_stats_fold(port, vid);
	port->features = 0;
	for (v = 0; v < 2u * port->max_queues; v++)
		changed |= vring_state_record(port, (uint16_t)v, false);
	link_set(port, false);
	probed = port->probed;
	pthread_mutex_unlock(&port->lock);

	VHU_ETH_LOG(INFO, port->iface, "port %u: device %d gone", port->port_id, vid);
	if (changed)
		event_raise(port, probed, RTE_ETH_EVENT_QUEUE_STATE);
	event_raise(port, probed, RTE_ETH_EVENT_INTR_LSC);
}

static int
cb_vring_state_changed(int vid, uint16_t vring, int enable)
{
	struct vhu_eth_port *port = port_of_vid(vid);
	bool probed, changed;

	if (port == NULL)
		return -1;
	if (vring >= 2u * port->max_queues) {
		VHU_ETH_LOG(DEBUG, port->iface, "vring %u beyond the port's %u queues: ignored",
				vring, port->max_queues);
		return 0;
	}
	pthread_mutex_lock(&port->lock);
	changed = vring_state_record(port, vring, enable != 0);
	/* a guest receive ring came or went: tx queues may be steered anew */
	if (changed && !(vring & 1) && port->vid == vid) {
		vhu_eth_queues_sync(port);
		if (!enable && port->txq[vring / 2] != NULL && !vhu_eth_tx_steer_on(port))
			VHU_ETH_LOG(WARNING, port->iface,
					"tx queue %u: the guest disabled queue pair %u: its frames are refused (tx-steer=1 sends them to an enabled pair)",
					vring / 2, vring / 2);
	}
	/* A ring that (re)starts may come with a new kick fd, and starts with the library's
	 * default notification setting. */
	if ((vring & 1) && port->vid == vid) {
		vhu_eth_intr_refresh_queue(port, vring / 2);
		if (enable)
			intr_apply_wanted(port, vid, vring / 2);
	}
	probed = port->probed;
	pthread_mutex_unlock(&port->lock);

	VHU_ETH_LOG(DEBUG, port->iface, "vring %u %s", vring, enable ? "enabled" : "disabled");
	if (changed)
		event_raise(port, probed, RTE_ETH_EVENT_QUEUE_STATE);
	return 0;
}

static int
cb_features_changed(int vid, uint64_t features)
{
	struct vhu_eth_port *port = port_of_vid(vid);

	if (port == NULL)
		return -1;
	pthread_mutex_lock(&port->lock);
	if (port->vid == vid) {
		port->features = features;
		vhu_eth_queues_sync(port); /* rx checksum completion follows VIRTIO_NET_F_CSUM */
	}
	pthread_mutex_unlock(&port->lock);
	return 0;
}

static int
cb_new_connection(int vid)
{
	struct vhu_eth_port *port = port_of_vid(vid);

	if (port == NULL)
		return -1;
	VHU_ETH_LOG(INFO, port->iface, "port %u: front-end connected (device %d)", port->port_id,
			vid);
	return 0;
}

static void
cb_destroy_connection(int vid)
{
	struct vhu_eth_port *port = port_of_vid(vid);

	if (port != NULL)
		VHU_ETH_LOG(INFO, port->iface, "port %u: front-end disconnected (device %d)",
				port->port_id, vid);
}

static const struct vhu_ops vhu_eth_lib_ops = {
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
	.vring_state_changed = cb_vring_state_changed,
	.features_changed = cb_features_changed,
	.new_connection = cb_new_connection,
	.destroy_connection = cb_destroy_connection,
};

/* ---- socket registration ---- */

static int
port_register(struct vhu_eth_port *port)
{
	int rc;

	rc = vhu_socket_register(&port->conf);
	if (rc != 0) {
		rc = rte_errno ? -rte_errno : -EIO;
		VHU_ETH_LOG(ERR, port->iface, "cannot serve the socket: %s%s", rte_strerror(-rc),
				rc == -EEXIST ? " (another port of this process serves this iface)" :
						rc == -EADDRINUSE ?
						" (a live process serves this path)" :
						"");
		return rc;
	}
	port->registered = true;
	return 0;
}

static void
port_unregister(struct vhu_eth_port *port)
{
	/* Without port->lock: the library delivers destroy_device, which takes it. */
	if (!port->registered)
		return;
	if (vhu_socket_unregister(port->iface) != 0)
		VHU_ETH_LOG(ERR, port->iface, "unregister failed: %s", rte_strerror(rte_errno));
	port->registered = false;
}

/* ---- eth_dev_ops ---- */

/* What the socket offers (as the library computes it from the registration). */
static uint64_t
port_offered(const struct vhu_eth_port *port)
{
	return (vhu_default_features() | port->conf.features_enable) & ~port->conf.features_disable;
}

/* Negotiated once a device is ready, otherwise what we offer. */
static uint64_t
port_features(struct vhu_eth_port *port)
{
	return port->vid >= 0 ? port->features : port_offered(port);
}

static int
vhu_eth_dev_infos_get(struct rte_eth_dev *dev, struct rte_eth_dev_info *info)
{
	struct vhu_eth_port *port = port_of(dev);
	uint64_t f, offered;

	pthread_mutex_lock(&port->lock);
	f = port_features(port);
	pthread_mutex_unlock(&port->lock);
	offered = port_offered(port);

	info->max_mac_addrs = 1;
	info->max_rx_pktlen = VHU_ETH_FRAME_MAX;
	info->min_mtu = VHU_ETH_MTU_MIN;
	info->max_mtu = VHU_ETH_MTU_MAX;
	info->max_rx_queues = port->max_queues;
	info->max_tx_queues = port->max_queues;
	info->min_rx_bufsize = 0;
	info->speed_capa = RTE_ETH_LINK_SPEED_10G | RTE_ETH_LINK_SPEED_FIXED;

	info->rx_offload_capa = 0;
	info->tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if (!(port->conf.flags & VHU_SOCK_LINEAR_BUF))
		info->rx_offload_capa |= RTE_ETH_RX_OFFLOAD_SCATTER;
	/*
	 * Checksums follow what we offer (the csum devarg): the library
	 * computes in software what a given guest cannot take (tx) and the port
	 * completes partial checksums for an application that did not enable
	 * rx checksum offload, so these hold whatever the guest negotiates.
	 */
	if (!(port->conf.flags & VHU_SOCK_LEGACY_OL_FLAGS) && (offered & BIT(VHU_F_NET_CSUM)))
		info->rx_offload_capa |=
				RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	/* checked in software (see rx_ip_csum): a guest fills the field itself */
	info->rx_offload_capa |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	if (offered & BIT(VHU_F_NET_GUEST_CSUM))
		info->tx_offload_capa |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
				RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
				RTE_ETH_TX_OFFLOAD_SCTP_CKSUM;
	/* Segmentation needs the guest: negotiated once connected, offered before. */
	if (f & (BIT(VHU_F_NET_HOST_TSO4) | BIT(VHU_F_NET_HOST_TSO6))) {
		info->rx_offload_capa |= RTE_ETH_RX_OFFLOAD_TCP_LRO;
		/* a 64 KB IP packet and its Ethernet header */
		info->max_lro_pkt_size = UINT16_MAX + VHU_ETH_L2_OVERHEAD;
	}
	if ((f & BIT(VHU_F_NET_GUEST_CSUM)) &&
			(f & (BIT(VHU_F_NET_GUEST_TSO4) | BIT(VHU_F_NET_GUEST_TSO6))))
		info->tx_offload_capa |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
	info->rx_queue_offload_capa = 0;
	info->tx_queue_offload_capa = 0;
	info->flow_type_rss_offloads = 0;

	info->rx_desc_lim.nb_max = UINT16_MAX;
	info->rx_desc_lim.nb_min = 0;
	info->rx_desc_lim.nb_align = 1;
	info->tx_desc_lim = info->rx_desc_lim;
	info->default_rxportconf.ring_size = 1024;
	info->default_txportconf.ring_size = 1024;
	info->default_rxportconf.nb_queues = 1;
	info->default_txportconf.nb_queues = 1;
	return 0;
}

static int
vhu_eth_dev_configure(struct rte_eth_dev *dev)
{
	struct vhu_eth_port *port = port_of(dev);
	const struct rte_eth_conf *c = &dev->data->dev_conf;

	if (c->rxmode.mq_mode & RTE_ETH_MQ_RX_RSS_FLAG && c->rx_adv_conf.rss_conf.rss_hf != 0) {
		VHU_ETH_LOG(ERR, port->iface, "port %u: RSS is not supported", port->port_id);
		return -ENOTSUP;
	}
	return 0;
}

static int
vhu_eth_dev_start(struct rte_eth_dev *dev)
{
	struct vhu_eth_port *port = port_of(dev);
	uint16_t i;
	int rc = 0;

	pthread_mutex_lock(&port->lock);
	if (dev->data->dev_conf.intr_conf.rxq) {
		rc = vhu_eth_intr_install(port);
		if (rc != 0) {
			pthread_mutex_unlock(&port->lock);
			return rc;
		}
	} else {
		vhu_eth_intr_uninstall(port);
	}
	port->started = true;
	for (i = 0; i < dev->data->nb_rx_queues; i++)
		if (port->rxq[i] != NULL && !port->rxq[i]->stopped)
			dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
	for (i = 0; i < dev->data->nb_tx_queues; i++)
		if (port->txq[i] != NULL && !port->txq[i]->stopped)
			dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
	vhu_eth_queues_sync(port);
	vhu_eth_intr_refresh(port);
	pthread_mutex_unlock(&port->lock);
	return 0;
}

static int
vhu_eth_dev_stop(struct rte_eth_dev *dev)
{
	struct vhu_eth_port *port = port_of(dev);
	uint16_t i;

	pthread_mutex_lock(&port->lock);
	port->started = false;
	/* Waits for bursts in flight: after this no lcore touches the device. */
	vhu_eth_queues_sync(port);
	vhu_eth_intr_refresh(port);
	for (i = 0; i < dev->data->nb_rx_queues; i++)
		dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
	for (i = 0; i < dev->data->nb_tx_queues; i++)
		dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
	pthread_mutex_unlock(&port->lock);
	dev->data->dev_started = 0;
	return 0;
}

static void
port_free_queues(struct rte_eth_dev *dev)
{
	uint16_t i;

	for (i = 0; i < dev->data->nb_rx_queues; i++) {
		vhu_eth_rx_queue_release(dev, i);
		dev->data->rx_queues[i] = NULL;
	}
	for (i = 0; i < dev->data->nb_tx_queues; i++) {
		vhu_eth_tx_queue_release(dev, i);
		dev->data->tx_queues[i] = NULL;
	}
}

static void
port_free(struct vhu_eth_port *port)
{
	rte_free(port->rxq);
	rte_free(port->txq);
	rte_free(port->base);
	rte_free(port->offset);
	rte_free(port->vring_cur);
	rte_free(port->vring_seen);
	rte_free(port->tx_locks);
	port->tx_locks = NULL;
	port->rxq = port->txq = NULL;
	port->base = port->offset = NULL;
	port->vring_cur = port->vring_seen = NULL;
}

static int
vhu_eth_dev_close(struct rte_eth_dev *dev)
{
	struct vhu_eth_port *port = port_of(dev);

	if (rte_eal_process_type() != RTE_PROC_PRIMARY || port == NULL)
		return 0;
	/* Secondaries' requests first: one in progress ends, none starts. */
	vhu_mp_port_del(port);
	if (port->started)
		vhu_eth_dev_stop(dev);
	/* No more callbacks once this returns; the library removed the socket file. */
	port_unregister(port);
	pthread_mutex_lock(&port->lock);
	port->closing = true;
	pthread_mutex_unlock(&port->lock);
	/* outside the lock: waits for a running carrier_poll, which only trylocks */
	rte_eal_alarm_cancel(carrier_poll, port);
	pthread_mutex_lock(&port->lock);
	vhu_eth_intr_uninstall(port);
	pthread_mutex_unlock(&port->lock);
	port_free_queues(dev);
	port_free(port);
	VHU_ETH_LOG(INFO, port->iface, "port %u closed", port->port_id);
	/*
	 * mac_addrs and dev_private (with port->lock, which event handlers of
	 * RTE_ETH_EVENT_DESTROY may still take through vhu_eth_get_vid) are
	 * freed by rte_eth_dev_release_port().
	 */
	return 0;
}

static int
vhu_eth_dev_reset(struct rte_eth_dev *dev)
{
	struct vhu_eth_port *port = port_of(dev);
	uint32_t v;

	/* Drop the front-end, forget the counters and states, serve the socket again. */
	if (port->started)
		vhu_eth_dev_stop(dev);
	port_unregister(port);
	pthread_mutex_lock(&port->lock);
	vhu_eth_stats_clear(port);
	rte_spinlock_lock(&port->ev_lock);
	for (v = 0; v < 2u * port->max_queues; v++)
		port->vring_cur[v] = port->vring_seen[v] = 0;
	rte_spinlock_unlock(&port->ev_lock);
	pthread_mutex_unlock(&port->lock);
	link_set(port, false);
	return port_register(port);
}

static int
vhu_eth_link_update(struct rte_eth_dev *dev, int wait_to_complete __rte_unused)
{
	struct vhu_eth_port *port = port_of(dev);
	bool up;

	pthread_mutex_lock(&port->lock);
	/* the carrier alarm, still pending, raises the LSC event */
	up = carrier_check(port);
	link_set(port, up);
	pthread_mutex_unlock(&port->lock);
	return 0;
}

/* A vhost-user port sees every frame the guest sends: these modes are accepted as no-ops. */
static int
vhu_eth_accept(struct rte_eth_dev *dev __rte_unused)
{
	return 0;
}

static int
vhu_eth_mac_addr_set(struct rte_eth_dev *dev, struct rte_ether_addr *addr)
{
	struct vhu_eth_port *port = port_of(dev);

	if (!rte_is_valid_assigned_ether_addr(addr))
		return -EINVAL;
	/* ethdev stores it; the MAC offered to front-ends stays the mac devarg. */
	VHU_ETH_LOG(DEBUG, port->iface, "port %u MAC set " RTE_ETHER_ADDR_PRT_FMT, port->port_id,
			RTE_ETHER_ADDR_BYTES(addr));
	return 0;
}

static int
vhu_eth_mtu_set(struct rte_eth_dev *dev, uint16_t mtu)
{
	struct vhu_eth_port *port = port_of(dev);

	if (mtu < VHU_ETH_MTU_MIN || mtu > VHU_ETH_MTU_MAX)
		return -EINVAL;
	/* ethdev stores it; the MTU offered to front-ends stays the mtu devarg. */
	VHU_ETH_LOG(DEBUG, port->iface, "port %u MTU set %u", port->port_id, mtu);
	return 0;
}

static const struct eth_dev_ops vhu_eth_ops = {
	.dev_configure = vhu_eth_dev_configure,
	.dev_start = vhu_eth_dev_start,
	.dev_stop = vhu_eth_dev_stop,
	.dev_close = vhu_eth_dev_close,
	.dev_reset = vhu_eth_dev_reset,
	.dev_infos_get = vhu_eth_dev_infos_get,
	.link_update = vhu_eth_link_update,
	.promiscuous_enable = vhu_eth_accept,
	.promiscuous_disable = vhu_eth_accept,
	.allmulticast_enable = vhu_eth_accept,
	.allmulticast_disable = vhu_eth_accept,
	.mac_addr_set = vhu_eth_mac_addr_set,
	.mtu_set = vhu_eth_mtu_set,
	.stats_get = vhu_eth_stats_get,
	.stats_reset = vhu_eth_stats_reset,
	.xstats_get = vhu_eth_xstats_get,
	.xstats_get_names = vhu_eth_xstats_get_names,
	.xstats_reset = vhu_eth_stats_reset,
	.rx_queue_setup = vhu_eth_rx_queue_setup,
	.tx_queue_setup = vhu_eth_tx_queue_setup,
	.rx_queue_release = vhu_eth_rx_queue_release,
	.tx_queue_release = vhu_eth_tx_queue_release,
	.rx_queue_start = vhu_eth_rx_queue_start,
	.rx_queue_stop = vhu_eth_rx_queue_stop,
	.tx_queue_start = vhu_eth_tx_queue_start,
	.tx_queue_stop = vhu_eth_tx_queue_stop,
	.rxq_info_get = vhu_eth_rxq_info_get,
	.txq_info_get = vhu_eth_txq_info_get,
	.rx_queue_intr_enable = vhu_eth_rx_intr_enable,
	.rx_queue_intr_disable = vhu_eth_rx_intr_disable,
};

/* ---- probe and remove ---- */

static int
port_alloc_arrays(struct vhu_eth_port *port, int socket)
{
	size_t nv = 2u * port->max_queues;

	port->rxq = rte_zmalloc_socket("vhu_rxq", sizeof(*port->rxq) * port->max_queues, 0, socket);
	port->txq = rte_zmalloc_socket("vhu_txq", sizeof(*port->txq) * port->max_queues, 0, socket);
	port->base = rte_zmalloc_socket("vhu_stats", sizeof(*port->base) * nv, 0, socket);
	port->offset = rte_zmalloc_socket("vhu_stats", sizeof(*port->offset) * nv, 0, socket);
	port->vring_cur = rte_zmalloc_socket("vhu_state", nv, 0, socket);
	port->vring_seen = rte_zmalloc_socket("vhu_state", nv, 0, socket);
	port->tx_locks = rte_zmalloc_socket(
			"vhu_txlock", sizeof(*port->tx_locks) * port->max_queues, 0, socket);
	if (port->rxq == NULL || port->txq == NULL || port->base == NULL || port->offset == NULL ||
			port->vring_cur == NULL || port->vring_seen == NULL ||
			port->tx_locks == NULL) {
		port_free(port);
		return -ENOMEM;
	}
	for (nv = 0; nv < port->max_queues; nv++)
		rte_spinlock_init(&port->tx_locks[nv]);
	return 0;
}

/*
 * The MAC of a port without a mac devarg: the same for the same socket path
 * at every probe (a vSwitch restarted, a port deleted and added again keeps
 * its address, as with net_vhost) and different for different paths (unlike
 * net_vhost's, which follows the port id). A locally administered unicast
 * address, 02 followed by 40 bits of the path's FNV-1a hash.
 */
void
vhu_eth_default_mac(const char *iface, struct rte_ether_addr *mac)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *p;
	unsigned int i;

	for (p = (const unsigned char *)iface; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	mac->addr_bytes[0] = 0x02;
	for (i = 1; i < RTE_ETHER_ADDR_LEN; i++)
		mac->addr_bytes[i] = (uint8_t)(h >> (8 * (i - 1)));
}

static int
vhu_eth_probe(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct vhu_eth_devargs *args;
	struct vhu_eth_port *port;
	struct rte_eth_dev *eth_dev;
	struct rte_ether_addr *mac;
	char err[512];
	int socket, rc;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return vhu_mp_probe_secondary(vdev);
	args = malloc(sizeof(*args));
	if (args == NULL)
		return -ENOMEM;
	rc = vhu_eth_devargs_parse(rte_vdev_device_args(vdev), args, err, sizeof(err));
	if (rc != 0) {
		VHU_ETH_LOG(ERR, name, "%s", err);
		free(args);
		return rc;
	}
	if (vdev->device.numa_node == SOCKET_ID_ANY)
		vdev->device.numa_node = rte_socket_id();
	socket = vdev->device.numa_node;

	eth_dev = rte_eth_vdev_allocate(vdev, sizeof(*port));
	if (eth_dev == NULL) {
		VHU_ETH_LOG(ERR, name, "cannot allocate the ethdev port");
		free(args);
		return -ENOMEM;
	}
	port = eth_dev->data->dev_private;
	port->args = *args;
	free(args);
	rc = vhu_eth_devargs_to_conf(&port->args, &port->conf, err, sizeof(err));
	if (rc != 0) {
		VHU_ETH_LOG(ERR, name, "%s", err);
		rte_eth_dev_release_port(eth_dev);
		return rc;
	}
	strcpy(port->iface, port->args.iface);
	port->conf.path = port->iface;
	port->conf.ops = &vhu_eth_lib_ops;
	port->conf.ctx = port;
	port->eth_dev = eth_dev;
	port->port_id = eth_dev->data->port_id;
	port->vid = -1;
	port->max_queues = vhu_eth_devargs_queues(&port->args);
	pthread_mutex_init(&port->lock, NULL);
	rte_spinlock_init(&port->ev_lock);

	mac = rte_zmalloc_socket(name, sizeof(*mac), 0, socket);
	if (mac == NULL || port_alloc_arrays(port, socket) != 0) {
		VHU_ETH_LOG(ERR, name, "out of memory");
		rte_free(mac);
		pthread_mutex_destroy(&port->lock);
		rte_eth_dev_release_port(eth_dev);
		return -ENOMEM;
	}
	if (port->args.given[VHU_ETH_ARG_MAC])
		*mac = port->args.mac;
	else
		vhu_eth_default_mac(port->iface, mac);
	eth_dev->data->mac_addrs = mac;
	eth_dev->data->mtu = port->args.given[VHU_ETH_ARG_MTU] ?
			(uint16_t)port->args.val[VHU_ETH_ARG_MTU] :
			VHU_ETH_MTU_DEFAULT;
	eth_dev->data->dev_flags |= RTE_ETH_DEV_INTR_LSC;
	eth_dev->dev_ops = &vhu_eth_ops;
	eth_dev->rx_pkt_burst = vhu_eth_rx_burst;
	eth_dev->tx_pkt_burst = vhu_eth_tx_burst;
	link_set(port, false);

	rc = port_register(port);
	if (rc != 0) {
		port_free(port);
		pthread_mutex_destroy(&port->lock);
		rte_eth_dev_release_port(eth_dev);
		return rc;
	}
	rte_eth_dev_probing_finish(eth_dev);
	/* Events from now on; a device that got ready meanwhile already set the link. */
	pthread_mutex_lock(&port->lock);
	port->probed = true;
	pthread_mutex_unlock(&port->lock);
	vhu_mp_port_add(port);
	VHU_ETH_LOG(INFO, port->iface, "port %u (%s): %s, %u queue pair(s)", port->port_id, name,
			(port->conf.flags & VHU_SOCK_CLIENT) ? "client" : "server",
			port->max_queues);
	return 0;
}

static int
vhu_eth_remove(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct rte_eth_dev *eth_dev;
	uint16_t port_id;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return vhu_mp_remove_secondary(vdev);
	eth_dev = rte_eth_dev_allocated(name);
	if (eth_dev == NULL)
		return 0; /* already closed: rte_eth_dev_close released it */
	port_id = eth_dev->data->port_id;
	if (eth_dev->data->dev_started)
		rte_eth_dev_stop(port_id);
	return rte_eth_dev_close(port_id);
}

static struct rte_vdev_driver vhu_eth_driver = {
	.probe = vhu_eth_probe,
	.remove = vhu_eth_remove,
};

RTE_PMD_REGISTER_VDEV(net_vhu, vhu_eth_driver);
/* eth_vhu<N>: the eth_<driver> spelling OVS's documentation uses for vdevs */
RTE_PMD_REGISTER_ALIAS(net_vhu, eth_vhu);
RTE_PMD_REGISTER_PARAM_STRING(net_vhu, VHU_ETH_PARAM_STRING);

/* ---- public API (rte_pmd_vhu.h) ---- */

static struct vhu_eth_port *
api_port(uint16_t port_id)
{
	struct rte_eth_dev *dev;

	if (!rte_eth_dev_is_valid_port(port_id)) {
		rte_errno = ENODEV;
		return NULL;
	}
	dev = &rte_eth_devices[port_id];
	if (dev->dev_ops != &vhu_eth_ops || dev->data->dev_private == NULL) {
		rte_errno = ENODEV;
		return NULL;
	}
	return dev->data->dev_private;
}

VHU_API int
vhu_eth_get_vid(uint16_t port_id)
{
	struct vhu_eth_port *port = api_port(port_id);
	int vid;

	if (port == NULL)
		return -1;
	pthread_mutex_lock(&port->lock);
	vid = port->vid;
	pthread_mutex_unlock(&port->lock);
	if (vid < 0) {
		rte_errno = ENOTCONN;
		return -1;
	}
	return vid;
}

VHU_API int
vhu_eth_get_iface(uint16_t port_id, char *buf, size_t len)
{
	struct vhu_eth_port *port = api_port(port_id);

	if (port == NULL)
		return -1;
	if (buf == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	if (strlen(port->iface) >= len) {
		rte_errno = ERANGE;
		return -1;
	}
	strcpy(buf, port->iface);
	return 0;
}

VHU_API int
vhu_eth_get_queue_event(uint16_t port_id, struct vhu_eth_queue_event *ev)
{
	struct vhu_eth_port *port = api_port(port_id);
	uint32_t nv, i, v;
	int rc = -1;

	if (port == NULL)
		return -1;
	if (ev == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	nv = 2u * port->max_queues;
	rte_spinlock_lock(&port->ev_lock);
	/* Start where the last scan stopped so that busy low rings do not hide high ones. */
	for (i = 0; i < nv; i++) {
		v = (port->ev_next + i) % nv;
		if (port->vring_cur[v] == port->vring_seen[v])
			continue;
		port->vring_seen[v] = port->vring_cur[v];
		ev->queue_id = (uint16_t)(v / 2);
		ev->rx = (v & 1) != 0; /* the guest's TX ring feeds our rx queue */
		ev->enable = port->vring_cur[v] != 0;
		port->ev_next = (v + 1) % nv;
		rc = 0;
		break;
	}
	rte_spinlock_unlock(&port->ev_lock);
	if (rc != 0)
		rte_errno = EAGAIN;
	return rc;
}
