/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Connections: a device per front-end connection, created and freed here,
 * and the application callbacks that follow its readiness and ring states.
 */

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_malloc.h>
#include <rte_string_fns.h>

#include "vhu_conn.h"
#include "vhu_dev.h"
#include "vhu_dev_table.h"
#include "vhu_iotlb.h"
#include "vhu_postcopy.h"
#include "vhu_testfault.h"
#include "vhu_vq.h"

static bool
reported(const struct vhu_conn *c, unsigned int i)
{
	return (c->reported[i / 64] >> (i % 64)) & 1;
}

static void
set_reported(struct vhu_conn *c, unsigned int i, bool on)
{
	if (on)
		c->reported[i / 64] |= 1ull << (i % 64);
	else
		c->reported[i / 64] &= ~(1ull << (i % 64));
}

int
vhu_conn_update(struct vhu_conn *c)
{
	struct vhu_dev *dev = &c->dev;
	const struct vhu_ops *ops = dev->ops;
	unsigned int i;

	if (!(dev->flags & VHU_DEV_READY)) {
		if (!vhu_dev_ready(dev))
			return 0;
		dev->flags |= VHU_DEV_READY;
		/* the transport's (a client's reconnect back-off starts again) */
		if (c->on_ready != NULL)
			c->on_ready(c->owner);
		VHU_LOG_CONFIG(INFO, dev->ifname, "device %d ready (features 0x%" PRIx64 ")",
				dev->vid, dev->features);
		if (ops->new_device != NULL && ops->new_device(dev->vid) != 0) {
			dev->flags &= ~VHU_DEV_READY;
			c->fatal = "the application refused the device";
			return -1;
		}
	}
	for (i = 0; i < dev->nr_vring; i++) {
		bool act = dev->vq[i] != NULL && dev->vq[i]->active;

		if (act == reported(c, i))
			continue;
		set_reported(c, i, act);
		VHU_LOG_CONFIG(DEBUG, dev->ifname, "vring %u %s", i, act ? "active" : "inactive");
		if (ops->vring_state_changed != NULL)
			ops->vring_state_changed(dev->vid, (uint16_t)i, act);
	}
	return 0;
}

bool
vhu_conn_sweep_wanted(const struct vhu_conn *c)
{
	return vhu_dev_sweep_wanted(&c->dev);
}

bool
vhu_conn_sweep(struct vhu_conn *c)
{
	uint32_t marks[VHU_MAX_VRINGS];
	int unread = 0;

	/* first what the guest has made available ... */
	if (vhu_dev_sweep_observe(&c->dev, marks) == 0)
		return false;
	/*
	 * ... then the socket: the front-end sends SET_VRING_ENABLE before
	 * it makes buffers available on the ring, so a buffer seen above was
	 * made available with the enable either handled already (the ring
	 * would not be disabled) or still unread here. Nothing unread: every
	 * buffer marked is the disabled ring's to drop. Something unread:
	 * handle it first, sweep another time.
	 */
	if (c->rx.got != 0 || ioctl(c->dev.connfd, FIONREAD, &unread) != 0 || unread != 0)
		return true;
	vhu_dev_sweep(&c->dev, marks);
	return true;
}

/* Leave the ready state: rings inactive first, then destroy_device. */
static void
unready(struct vhu_conn *c)
{
	struct vhu_dev *dev = &c->dev;

	vhu_dev_deactivate_all(dev);
	if (dev->flags & VHU_DEV_READY) {
		dev->flags &= ~VHU_DEV_READY;
		if (dev->ops->destroy_device != NULL)
			dev->ops->destroy_device(dev->vid);
	}
	memset(c->reported, 0, sizeof(c->reported));
}

void
vhu_conn_reset(struct vhu_conn *c)
{
	unready(c);
	vhu_xfer_abort(&c->xfer);
	vhu_dev_reset(&c->dev);
}

struct vhu_conn *
vhu_conn_new(const struct vhu_socket_conf *conf, uint64_t features, uint64_t protocol_features,
		int fd)
{
	struct vhu_conn *c;
	struct vhu_dev *dev;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	c = rte_zmalloc("vhu_conn", sizeof(*c), RTE_CACHE_LINE_SIZE);
	if (c == NULL) {
		VHU_LOG_CONFIG(ERR, conf->path, "out of memory for a new device");
		close(fd);
		return NULL;
	}
	dev = &c->dev;
	dev->connfd = fd;
	dev->backend_fd = -1;
	rte_spinlock_init(&dev->backend_lock);
	dev->inflight_fd = -1;
	dev->state_fd = -1;
	dev->ops = conf->ops;
	dev->ctx = conf->ctx;
	dev->sock_flags = conf->flags;
	rte_strlcpy(dev->ifname, conf->path, sizeof(dev->ifname));
	dev->offered_features = features;
	dev->offered_protocol_features = protocol_features;
	dev->max_queue_pairs = conf->max_queue_pairs;
	dev->mtu = conf->mtu;
	if (conf->mac_set)
		dev->mac = conf->mac;
	dev->hdr_len = sizeof(struct vhu_net_hdr) - 2;
	dev->test_fault = vhu_test_fault_get(conf->path);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		dev->peer_pid = cred.pid;
		dev->peer_uid = cred.uid;
		dev->peer_gid = cred.gid;
	}
	if (conf->flags & VHU_SOCK_IOMMU) {
		/* empty tables until the first update: every IOVA a miss */
		dev->iotlb = vhu_iotlb_new(0);
		if (dev->iotlb != NULL) {
			dev->iotlb->rd = vhu_mem_new(1);
			dev->iotlb->wr = vhu_mem_new(1);
			dev->iotlb->all = vhu_mem_new(1);
		}
		if (dev->iotlb == NULL || dev->iotlb->rd == NULL || dev->iotlb->wr == NULL ||
				dev->iotlb->all == NULL) {
			VHU_LOG_CONFIG(ERR, conf->path, "out of memory for a new device's IOTLB");
			vhu_iotlb_free(dev->iotlb);
			close(fd);
			rte_free(c);
			return NULL;
		}
	}
	c->sweep_fd = -1;
	vhu_rx_reset(&c->rx);
	vhu_xfer_init(&c->xfer, dev);
	if (vhu_dev_table_add(dev) != 0) {
		VHU_LOG_CONFIG(ERR, conf->path, "too many devices (%d): connection refused",
				VHU_MAX_DEVICES);
		vhu_iotlb_free(dev->iotlb);
		close(fd);
		rte_free(c);
		return NULL;
	}
	VHU_LOG_CONFIG(INFO, conf->path, "new device %d (peer pid %d)", dev->vid,
			(int)dev->peer_pid);
	return c;
}

void
vhu_conn_free(struct vhu_conn *c)
{
	struct vhu_dev *dev = &c->dev;
	unsigned int i;

	dev->flags |= VHU_DEV_CLOSING;
	vhu_test_fault_report(dev);
	vhu_postcopy_free(&c->dev);
	unready(c);
	vhu_xfer_abort(&c->xfer);
	vhu_dev_drop_memory(dev);
	for (i = 0; i < VHU_MAX_VRINGS; i++) {
		vhu_vq_free(dev->vq[i]);
		dev->vq[i] = NULL;
	}
	if (dev->backend_fd >= 0)
		close(dev->backend_fd);
	dev->iova_all = NULL;
	vhu_iotlb_free(dev->iotlb);
	dev->iotlb = NULL;
	close(dev->connfd);
	/*
	 * Told last, with the vid still valid for getters such as
	 * vhu_get_ifname(): by then every fd and mapping of the connection
	 * is gone, so the application sees a clean slate.
	 */
	if (c->conn_cb && dev->ops->destroy_connection != NULL)
		dev->ops->destroy_connection(dev->vid);
	vhu_dev_table_del(dev);
	VHU_LOG_CONFIG(INFO, dev->ifname, "device %d freed", dev->vid);
	rte_free(c);
}
