/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Request handlers for the device as a whole: features and ownership,
 * reset, queue count, the net device's requests (RARP, MTU, back-end
 * channel, config space), status and the device-state transfer, and the
 * requests refused as not implemented.
 */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <rte_ether.h>

#include "vhu_msg_dev.h"
#include "vhu_msg_pvt.h"
#include "vhu_xfer.h"

/* ---- features and ownership ---- */

int
vhu_msg_get_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(m);
	vhu_msg_reply_u64(r, c->dev.offered_features);
	return VHU_MSG_OK;
}

int
vhu_msg_set_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	struct vhu_dev *dev = &c->dev;
	uint64_t f = m->payload.u64, old = dev->features;
	bool had = (dev->flags & VHU_DEV_FEATURES_SET) != 0;
	const char *why = NULL;
	unsigned int i;
	int rc;

	RTE_SET_USED(r);
	if (f & ~dev->offered_features)
		return vhu_msg_fail(c, "features 0x%" PRIx64 " were not offered",
				f & ~dev->offered_features);
	if ((f & VHU_BIT(VHU_F_RING_PACKED)) != (old & VHU_BIT(VHU_F_RING_PACKED)) &&
			vhu_dev_any_started(dev))
		return vhu_msg_refuse(c, "ring layout change while rings are started");
	vhu_dev_lock_all(dev);
	dev->features = f;
	dev->hdr_len = (f & (VHU_BIT(VHU_F_VERSION_1) | VHU_BIT(VHU_F_NET_MRG_RXBUF))) ?
			sizeof(struct vhu_net_hdr) :
			sizeof(struct vhu_net_hdr) - 2;
	dev->log_all = (f & VHU_BIT(VHU_F_LOG_ALL)) && dev->log_base != NULL;
	if (!(f & VHU_BIT(VHU_F_PROTOCOL_FEATURES))) {
		/* without PROTOCOL_FEATURES every ring is enabled; never the reverse */
		c->dev.enable_new_rings = true;
		for (i = 0; i < VHU_MAX_VRINGS; i++)
			if (dev->vq[i] != NULL)
				dev->vq[i]->enabled = true;
	}
	rc = vhu_dev_refresh_all(dev, &why);
	vhu_dev_unlock_all(dev);
	dev->flags |= VHU_DEV_FEATURES_SET;
	if (rc != 0)
		return vhu_msg_fail(c, "%s", why);
	VHU_LOG_CONFIG(INFO, dev->ifname, "features 0x%" PRIx64, f);
	if ((dev->flags & VHU_DEV_READY) && had && old != f && dev->ops->features_changed != NULL)
		dev->ops->features_changed(dev->vid, f);
	return VHU_MSG_OK;
}

int
vhu_msg_get_protocol_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(m);
	vhu_msg_reply_u64(r, c->dev.offered_protocol_features);
	return VHU_MSG_OK;
}

int
vhu_msg_set_protocol_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	uint64_t f = m->payload.u64;

	RTE_SET_USED(r);
	if (f & ~c->dev.offered_protocol_features)
		return vhu_msg_fail(c, "protocol features 0x%" PRIx64 " were not offered",
				f & ~c->dev.offered_protocol_features);
	c->dev.protocol_features = f;
	VHU_LOG_CONFIG(INFO, c->dev.ifname, "protocol features 0x%" PRIx64, f);
	return VHU_MSG_OK;
}

int
vhu_msg_set_owner(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(m);
	RTE_SET_USED(r);
	c->dev.flags |= VHU_DEV_OWNER;
	return VHU_MSG_OK;
}

int
vhu_msg_reset(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	VHU_LOG_CONFIG(INFO, c->dev.ifname, "%s: device reset", vhu_req_name(m->hdr.request));
	vhu_conn_reset(c);
	return VHU_MSG_OK;
}

int
vhu_msg_get_queue_num(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(m);
	vhu_msg_reply_u64(r, c->dev.max_queue_pairs);
	return VHU_MSG_OK;
}

/* ---- net device ---- */

int
vhu_msg_send_rarp(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	struct rte_ether_addr mac;

	RTE_SET_USED(r);
	memcpy(mac.addr_bytes, &m->payload.u64, RTE_ETHER_ADDR_LEN);
	if (!rte_is_unicast_ether_addr(&mac) || rte_is_zero_ether_addr(&mac))
		return vhu_msg_refuse(c, "SEND_RARP with a non-unicast MAC");
	c->dev.rarp_mac = mac;
	/* RA: release, rarp_mac is written before the flag is seen; pairs
	 * with RA in vhu_net_burst.c's dequeue_rarp() */
	__atomic_store_n(&c->dev.rarp_pending, 1, __ATOMIC_RELEASE);
	return VHU_MSG_OK;
}

int
vhu_msg_net_set_mtu(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	uint64_t mtu = m->payload.u64;

	RTE_SET_USED(r);
	if (!vhu_has(&c->dev, VHU_F_NET_MTU))
		return vhu_msg_refuse(c, "NET_SET_MTU without VIRTIO_NET_F_MTU negotiated");
	if (mtu < RTE_ETHER_MIN_MTU || mtu > UINT16_MAX)
		return vhu_msg_refuse(c, "NET_SET_MTU %" PRIu64 " out of range", mtu);
	c->dev.mtu = (uint16_t)mtu;
	VHU_LOG_CONFIG(INFO, c->dev.ifname, "MTU %u", c->dev.mtu);
	return VHU_MSG_OK;
}

int
vhu_msg_set_backend_req_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	int old;

	RTE_SET_USED(r);
	/* an lcore may be sending an IOTLB miss on the old channel */
	rte_spinlock_lock(&c->dev.backend_lock);
	old = c->dev.backend_fd;
	c->dev.backend_fd = vhu_msg_take_fd(m, 0);
	rte_spinlock_unlock(&c->dev.backend_lock);
	if (old >= 0)
		close(old);
	return VHU_MSG_OK;
}

static void
net_config(const struct vhu_dev *dev, struct vhu_net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->mac, dev->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	cfg->status = VHU_NET_S_LINK_UP;
	cfg->max_virtqueue_pairs = dev->max_queue_pairs;
	cfg->mtu = dev->mtu;
}

int
vhu_msg_get_config(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_config *q = &m->payload.config;
	struct vhu_net_config cfg;

	if (q->offset + q->size > sizeof(cfg))
		return vhu_msg_refuse(c, "GET_CONFIG beyond the %zu-byte net config", sizeof(cfg));
	net_config(&c->dev, &cfg);
	r->payload.config.offset = q->offset;
	r->payload.config.size = q->size;
	r->payload.config.flags = q->flags;
	memcpy(r->payload.config.payload, (uint8_t *)&cfg + q->offset, q->size);
	r->hdr.size = VHU_CONFIG_HDR_SIZE + q->size;
	return VHU_MSG_OK;
}

int
vhu_msg_set_config(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_config *q = &m->payload.config;
	struct vhu_net_config cur, cfg;

	RTE_SET_USED(r);
	if (q->offset + q->size > sizeof(cfg))
		return vhu_msg_refuse(c, "SET_CONFIG beyond the %zu-byte net config", sizeof(cfg));
	net_config(&c->dev, &cur);
	cfg = cur;
	memcpy((uint8_t *)&cfg + q->offset, q->payload, q->size);
	if (q->flags == VHU_CONFIG_F_WRITABLE) {
		/* only the MAC is writable by the driver */
		if (q->offset + q->size > RTE_ETHER_ADDR_LEN)
			return vhu_msg_refuse(c, "SET_CONFIG writes a read-only field");
	} else if (cfg.max_virtqueue_pairs != cur.max_virtqueue_pairs || cfg.mtu != cur.mtu) {
		return vhu_msg_refuse(c, "SET_CONFIG (migration) changes queue pairs or MTU");
	}
	memcpy(c->dev.mac.addr_bytes, cfg.mac, RTE_ETHER_ADDR_LEN);
	return VHU_MSG_OK;
}

/* ---- status ---- */

int
vhu_msg_set_status(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	if (m->payload.u64 > 0xff)
		return vhu_msg_fail(c, "status 0x%" PRIx64 " is not 8 bits", m->payload.u64);
	c->dev.status = (uint8_t)m->payload.u64;
	VHU_LOG_CONFIG(DEBUG, c->dev.ifname, "status 0x%x", c->dev.status);
	return VHU_MSG_OK;
}

int
vhu_msg_get_status(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(m);
	vhu_msg_reply_u64(r, c->dev.status);
	return VHU_MSG_OK;
}

/*
 * GET_SHMEM_CONFIG (request 44): a net device has no VIRTIO shared memory
 * region, and SHMEM (protocol feature 22) is never offered, so a
 * front-end should not ask. One that does anyway gets the one true
 * answer, no region, rather than a closed connection or no reply at all
 * (it would wait for one).
 */
int
vhu_msg_get_shmem_config(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(m);
	if (!(c->dev.protocol_features & VHU_BIT(VHU_PF_SHMEM)))
		VHU_LOG_CONFIG(NOTICE, c->dev.ifname,
				"GET_SHMEM_CONFIG without SHMEM negotiated: answered, no region");
	memset(&r->payload.shmem, 0, sizeof(r->payload.shmem));
	r->hdr.size = sizeof(r->payload.shmem);
	return VHU_MSG_OK;
}

/* ---- device state transfer ---- */

int
vhu_msg_set_device_state_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_device_state_xfer *x = &m->payload.xfer;
	int rc;

	vhu_msg_reply_u64(r, VHU_STATE_REPLY_NOFD | 1);
	if (x->direction != VHU_TRANSFER_SAVE && x->direction != VHU_TRANSFER_LOAD)
		return vhu_msg_refuse(c, "SET_DEVICE_STATE_FD: unknown direction %u", x->direction);
	if (x->phase != VHU_TRANSFER_PHASE_STOPPED)
		return vhu_msg_refuse(c, "SET_DEVICE_STATE_FD: unknown phase %u", x->phase);
	if (vhu_dev_any_started(&c->dev))
		return vhu_msg_refuse(c, "SET_DEVICE_STATE_FD while a ring is started");
	rc = vhu_xfer_start(&c->xfer, x->direction, vhu_msg_take_fd(m, 0));
	if (rc != 0)
		return vhu_msg_refuse(c, "SET_DEVICE_STATE_FD: %s", strerror(-rc));
	/* no fd of ours: the front-end keeps using its channel */
	vhu_msg_reply_u64(r, VHU_STATE_REPLY_NOFD);
	return VHU_MSG_OK;
}

int
vhu_msg_check_device_state(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	int rc;

	RTE_SET_USED(m);
	rc = vhu_xfer_check(&c->xfer);
	vhu_msg_reply_u64(r, rc == 0 ? 0 : 1);
	if (rc != 0)
		VHU_LOG_CONFIG(WARNING, c->dev.ifname, "device state transfer failed: %s",
				strerror(-rc));
	return VHU_MSG_OK;
}

/* ---- refused: not implemented ---- */

int
vhu_msg_not_supported(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	return vhu_msg_refuse(
			c, "%s is not supported (no IOMMU support)", vhu_req_name(m->hdr.request));
}
