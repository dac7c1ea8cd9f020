/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Device lifecycle: creation per connection, readiness and the callbacks
 * that follow ring state changes, reset, teardown, the public getters, and
 * the transfer of the back-end's own state during migration.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_string_fns.h>

#include "vhu_ctrl.h"

/* ---- rings of a device ---- */

struct vhu_vq *
vhu_dev_vq(struct vhu_conn *c, uint32_t index)
{
	struct vhu_dev *dev = &c->dev;
	struct vhu_vq *vq;

	if (index >= 2u * dev->max_queue_pairs)
		return NULL;
	vq = dev->vq[index];
	if (vq != NULL)
		return vq;
	vq = vhu_vq_alloc((uint16_t)index);
	if (vq == NULL)
		return NULL;
	vq->enabled = c->enable_new_rings;
	/* pairs with the datapath's acquire load of dev->vq[] */
	__atomic_store_n(&dev->vq[index], vq, __ATOMIC_RELEASE);
	if (index + 1 > dev->nr_vring)
		dev->nr_vring = index + 1;
	return vq;
}

void
vhu_dev_lock_all(struct vhu_dev *dev)
{
	struct vhu_guard *g[VHU_MAX_VRINGS];
	unsigned int i, n = 0;

	for (i = 0; i < 2u * dev->max_queue_pairs; i++)
		if (dev->vq[i] != NULL)
			g[n++] = &dev->vq[i]->guard;
	/* one heavy fence for every ring */
	vhu_guard_close_n(g, n);
}

void
vhu_dev_unlock_all(struct vhu_dev *dev)
{
	unsigned int i;

	for (i = 0; i < 2u * dev->max_queue_pairs; i++)
		if (dev->vq[i] != NULL)
			vhu_guard_open(&dev->vq[i]->guard);
}

int
vhu_dev_refresh_all(struct vhu_dev *dev, const char **why)
{
	unsigned int i;
	int rc = 0;

	for (i = 0; i < 2u * dev->max_queue_pairs; i++) {
		struct vhu_vq *vq = dev->vq[i];

		if (vq == NULL)
			continue;
		/* a started ring whose memory went away is a fatal fault */
		if (vhu_vq_refresh(dev, vq) != 0 && vq->started && rc == 0) {
			*why = "a started ring is no longer in guest memory";
			rc = -EFAULT;
		}
	}
	return rc;
}

bool
vhu_dev_any_started(const struct vhu_dev *dev)
{
	unsigned int i;

	for (i = 0; i < 2u * dev->max_queue_pairs; i++)
		if (dev->vq[i] != NULL && dev->vq[i]->started)
			return true;
	return false;
}

/* Every ring inactive: no lcore is inside one when this returns. */
static void
deactivate_all(struct vhu_dev *dev)
{
	unsigned int i;

	vhu_dev_lock_all(dev);
	for (i = 0; i < 2u * dev->max_queue_pairs; i++) {
		struct vhu_vq *vq = dev->vq[i];

		if (vq == NULL)
			continue;
		vq->active = false;
		vq->discard = false;
	}
	vhu_dev_unlock_all(dev);
}

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

static bool
ready(const struct vhu_dev *dev)
{
	if (dev->mem == NULL || !(dev->flags & VHU_DEV_FEATURES_SET))
		return false;
	if (dev->vq[0] == NULL || dev->vq[1] == NULL ||
	    !dev->vq[0]->active || !dev->vq[1]->active)
		return false;
	/* a front-end speaking STATUS says when the driver is done */
	if ((dev->protocol_features & VHU_BIT(VHU_PF_STATUS)) &&
	    !(dev->status & VHU_STATUS_DRIVER_OK))
		return false;
	return true;
}

int
vhu_dev_update(struct vhu_conn *c)
{
	struct vhu_dev *dev = &c->dev;
	const struct vhu_ops *ops = dev->ops;
	unsigned int i;

	if (!(dev->flags & VHU_DEV_READY)) {
		if (!ready(dev))
			return 0;
		dev->flags |= VHU_DEV_READY;
		/* a session that got this far resets the client's reconnect back-off */
		dev->sock->backoff_ms = dev->sock->conf.reconnect_ms;
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

/* Leave the ready state: rings inactive first, then destroy_device. */
static void
unready(struct vhu_conn *c)
{
	struct vhu_dev *dev = &c->dev;

	deactivate_all(dev);
	if (dev->flags & VHU_DEV_READY) {
		dev->flags &= ~VHU_DEV_READY;
		if (dev->ops->destroy_device != NULL)
			dev->ops->destroy_device(dev->vid);
	}
	memset(c->reported, 0, sizeof(c->reported));
}

/* Back to the state of a new ring; its fds are closed. Caller has closed the guard. */
static void
reset_ring(struct vhu_vq *vq)
{
	int kick, call, err;

	kick = vq->kickfd;
	call = vq->callfd;
	err = vq->errfd;
	vq->kickfd = -1;
	vq->callfd = -1;
	vq->errfd = -1;
	vq->active = false;
	vq->discard = false;
	vq->started = false;
	vq->enabled = false;
	vq->was_enabled = false;
	vq->addr_set = false;
	vq->num_set = false;
	vq->num = 0;
	vq->size = 0;
	vq->last_avail_idx = 0;
	vq->last_used_idx = 0;
	vq->avail_wrap = false;
	vq->used_wrap = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->log_used = false;
	vq->signalled_used_valid = false;
	memset(&vq->addr, 0, sizeof(vq->addr));
	/* no burst is inside: the fds can go now */
	if (kick >= 0)
		close(kick);
	if (call >= 0)
		close(call);
	if (err >= 0)
		close(err);
}

static void
drop_memory(struct vhu_dev *dev)
{
	struct vhu_mem *mem;
	void *log_map;
	size_t log_len;

	vhu_dev_lock_all(dev);
	mem = dev->mem;
	log_map = dev->log_map;
	log_len = dev->log_map_len;
	dev->mem = NULL;
	dev->log_map = NULL;
	dev->log_map_len = 0;
	dev->log_base = NULL;
	dev->log_size = 0;
	dev->log_all = false;
	vhu_dev_unlock_all(dev);
	vhu_mem_free(mem);
	if (log_map != NULL)
		munmap(log_map, log_len);
	if (dev->inflight_map != NULL)
		munmap(dev->inflight_map, dev->inflight_len);
	if (dev->inflight_fd >= 0)
		close(dev->inflight_fd);
	dev->inflight_map = NULL;
	dev->inflight_len = 0;
	dev->inflight_fd = -1;
}

void
vhu_dev_reset(struct vhu_conn *c)
{
	struct vhu_dev *dev = &c->dev;
	unsigned int i;

	unready(c);
	vhu_xfer_abort(c);
	vhu_dev_lock_all(dev);
	for (i = 0; i < 2u * dev->max_queue_pairs; i++)
		if (dev->vq[i] != NULL)
			reset_ring(dev->vq[i]);
	dev->features = 0;
	dev->hdr_len = sizeof(struct vhu_net_hdr) - 2;
	vhu_dev_unlock_all(dev);
	drop_memory(dev);
	dev->flags &= ~(VHU_DEV_FEATURES_SET | VHU_DEV_READY);
	dev->status = 0;
	dev->nr_vring = 0;
	c->enable_new_rings = false;
}

struct vhu_conn *
vhu_conn_new(struct vhu_socket *s, int fd)
{
	struct vhu_conn *c;
	struct vhu_dev *dev;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	c = rte_zmalloc("vhu_conn", sizeof(*c), RTE_CACHE_LINE_SIZE);
	if (c == NULL) {
		VHU_LOG_CONFIG(ERR, s->path, "out of memory for a new device");
		close(fd);
		return NULL;
	}
	dev = &c->dev;
	dev->connfd = fd;
	dev->backend_fd = -1;
	dev->inflight_fd = -1;
	dev->state_fd = -1;
	dev->sock = s;
	dev->ops = s->conf.ops;
	dev->ctx = s->conf.ctx;
	dev->sock_flags = s->conf.flags;
	rte_strlcpy(dev->ifname, s->path, sizeof(dev->ifname));
	dev->offered_features = s->features;
	dev->offered_protocol_features = s->protocol_features;
	dev->max_queue_pairs = s->conf.max_queue_pairs;
	dev->mtu = s->conf.mtu;
	if (s->conf.mac_set)
		dev->mac = s->conf.mac;
	dev->hdr_len = sizeof(struct vhu_net_hdr) - 2;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		dev->peer_pid = cred.pid;
		dev->peer_uid = cred.uid;
		dev->peer_gid = cred.gid;
	}
	vhu_rx_reset(&c->rx);
	c->xfer.dir = -1;
	c->xfer.fd = -1;
	c->ev_xfer.type = VHU_EV_XFER;
	c->ev_xfer.obj = c;
	if (vhu_dev_table_add(dev) != 0) {
		VHU_LOG_CONFIG(ERR, s->path, "too many devices (%d): connection refused",
			       VHU_MAX_DEVICES);
		close(fd);
		rte_free(c);
		return NULL;
	}
	VHU_LOG_CONFIG(INFO, s->path, "new device %d (peer pid %d)", dev->vid,
		       (int)dev->peer_pid);
	return c;
}

void
vhu_conn_free(struct vhu_conn *c)
{
	struct vhu_dev *dev = &c->dev;
	unsigned int i;

	dev->flags |= VHU_DEV_CLOSING;
	unready(c);
	vhu_xfer_abort(c);
	drop_memory(dev);
	for (i = 0; i < VHU_MAX_VRINGS; i++) {
		vhu_vq_free(dev->vq[i]);
		dev->vq[i] = NULL;
	}
	if (dev->backend_fd >= 0)
		close(dev->backend_fd);
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

/* ---- public getters (any thread; the vid must be live) ---- */

static struct vhu_dev *
get_dev(int vid)
{
	struct vhu_dev *dev = vhu_dev_get(vid);

	if (dev == NULL)
		rte_errno = ENODEV;
	return dev;
}

VHU_API int
vhu_get_ifname(int vid, char *buf, size_t len)
{
	struct vhu_dev *dev = get_dev(vid);

	if (dev == NULL)
		return -1;
	if (buf == NULL || len == 0) {
		rte_errno = EINVAL;
		return -1;
	}
	if (rte_strlcpy(buf, dev->ifname, len) >= len) {
		rte_errno = ERANGE;
		return -1;
	}
	return 0;
}

VHU_API int
vhu_get_peer(int vid, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct vhu_dev *dev = get_dev(vid);

	if (dev == NULL)
		return -1;
	if (pid != NULL)
		*pid = dev->peer_pid;
	if (uid != NULL)
		*uid = dev->peer_uid;
	if (gid != NULL)
		*gid = dev->peer_gid;
	return 0;
}

VHU_API int
vhu_get_features(int vid, uint64_t *features)
{
	struct vhu_dev *dev = get_dev(vid);

	if (dev == NULL)
		return -1;
	if (features == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	*features = dev->features;
	return 0;
}

VHU_API int
vhu_get_protocol_features(int vid, uint64_t *features)
{
	struct vhu_dev *dev = get_dev(vid);

	if (dev == NULL)
		return -1;
	if (features == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	*features = dev->protocol_features;
	return 0;
}

VHU_API int
vhu_get_mtu(int vid, uint16_t *mtu)
{
	struct vhu_dev *dev = get_dev(vid);

	if (dev == NULL)
		return -1;
	if (mtu == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	if (dev->mtu == 0) {
		rte_errno = ENODATA;
		return -1;
	}
	*mtu = dev->mtu;
	return 0;
}

VHU_API int
vhu_get_mac(int vid, struct rte_ether_addr *mac)
{
	struct vhu_dev *dev = get_dev(vid);

	if (dev == NULL)
		return -1;
	if (mac == NULL) {
		rte_errno = EINVAL;
		return -1;
	}
	if (rte_is_zero_ether_addr(&dev->mac)) {
		rte_errno = ENODATA;
		return -1;
	}
	*mac = dev->mac;
	return 0;
}

VHU_API int
vhu_get_vring_count(int vid)
{
	struct vhu_dev *dev = get_dev(vid);

	if (dev == NULL)
		return -1;
	return (int)dev->nr_vring;
}

VHU_API void *
vhu_get_ctx(int vid)
{
	struct vhu_dev *dev = get_dev(vid);

	return dev != NULL ? dev->ctx : NULL;
}

static struct vhu_vq *
get_vq(int vid, uint16_t queue_id)
{
	struct vhu_dev *dev = get_dev(vid);
	struct vhu_vq *vq;

	if (dev == NULL)
		return NULL;
	if (queue_id >= VHU_MAX_VRINGS) {
		rte_errno = EINVAL;
		return NULL;
	}
	vq = __atomic_load_n(&dev->vq[queue_id], __ATOMIC_ACQUIRE);
	if (vq == NULL)
		rte_errno = ENOENT;
	return vq;
}

VHU_API int
vhu_vring_is_active(int vid, uint16_t queue_id)
{
	struct vhu_dev *dev = get_dev(vid);
	struct vhu_vq *vq;

	if (dev == NULL)
		return -1;
	if (queue_id >= VHU_MAX_VRINGS) {
		rte_errno = EINVAL;
		return -1;
	}
	vq = __atomic_load_n(&dev->vq[queue_id], __ATOMIC_ACQUIRE);
	return vq != NULL && __atomic_load_n(&vq->active, __ATOMIC_ACQUIRE);
}

VHU_API int
vhu_vring_has_buffers(int vid, uint16_t queue_id)
{
	struct vhu_vq *vq = get_vq(vid, queue_id);
	int has;

	if (vq == NULL)
		return rte_errno == ENOENT ? 0 : -1;
	/* closed: the ring's memory stays mapped and no burst moves its indexes */
	vhu_guard_close(&vq->guard);
	has = vhu_vq_has_buffers(vq);
	vhu_guard_open(&vq->guard);
	return has;
}

VHU_API int
vhu_get_kickfd(int vid, uint16_t queue_id)
{
	struct vhu_vq *vq = get_vq(vid, queue_id);

	if (vq == NULL)
		return -1;
	return __atomic_load_n(&vq->kickfd, __ATOMIC_RELAXED);
}

/* ---- device state transfer ---- */

/*
 * Blob format, version 1 (native little-endian):
 *   struct state_hdr
 *   nrings x struct state_ring
 *   app_len bytes from the application's save_state
 *   u64 FNV-1a checksum of everything before it
 */
#define VHU_STATE_MAGIC   0x53554856u   /* "VHUS" */
#define VHU_STATE_VERSION 1u
#define VHU_STATE_APP_MAX (64u * 1024u)

struct state_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t nrings;
	uint32_t hdr_len;
	uint32_t app_len;
	uint64_t features;
	uint8_t mac[6];
	uint16_t mtu;
	uint16_t max_queue_pairs;
	uint16_t reserved[3];
};

struct state_ring {
	uint16_t index;
	uint16_t reserved[3];
	struct vhu_vq_stats stats;
};

#define VHU_STATE_MAX (sizeof(struct state_hdr) + \
		VHU_MAX_VRINGS * sizeof(struct state_ring) + VHU_STATE_APP_MAX + 8)

static uint64_t
fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n-- > 0) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static int
state_build(struct vhu_conn *c, uint8_t **out, size_t *out_len)
{
	struct vhu_dev *dev = &c->dev;
	struct state_hdr h;
	unsigned int i, n = 0;
	uint8_t *buf, *p;
	int app = 0;
	uint64_t sum;

	buf = malloc(VHU_STATE_MAX);
	if (buf == NULL)
		return -ENOMEM;
	memset(&h, 0, sizeof(h));
	p = buf + sizeof(h);
	for (i = 0; i < 2u * dev->max_queue_pairs; i++) {
		struct state_ring rs;

		if (dev->vq[i] == NULL)
			continue;
		memset(&rs, 0, sizeof(rs));
		rs.index = (uint16_t)i;
		rs.stats = dev->vq[i]->stats;
		memcpy(p, &rs, sizeof(rs));
		p += sizeof(rs);
		n++;
	}
	if (dev->ops->save_state != NULL) {
		app = dev->ops->save_state(dev->vid, p, VHU_STATE_APP_MAX);
		if (app < 0 || (unsigned int)app > VHU_STATE_APP_MAX) {
			free(buf);
			return app < 0 ? app : -EOVERFLOW;
		}
		p += app;
	}
	h.magic = VHU_STATE_MAGIC;
	h.version = VHU_STATE_VERSION;
	h.nrings = (uint16_t)n;
	h.hdr_len = sizeof(h);
	h.app_len = (uint32_t)app;
	h.features = dev->features;
	memcpy(h.mac, dev->mac.addr_bytes, sizeof(h.mac));
	h.mtu = dev->mtu;
	h.max_queue_pairs = dev->max_queue_pairs;
	memcpy(buf, &h, sizeof(h));
	sum = fnv1a(buf, (size_t)(p - buf));
	memcpy(p, &sum, sizeof(sum));
	p += sizeof(sum);
	*out = buf;
	*out_len = (size_t)(p - buf);
	return 0;
}

/* Validate all of a received blob, then apply it (application part first). */
static int
state_apply(struct vhu_conn *c, const uint8_t *buf, size_t len)
{
	struct vhu_dev *dev = &c->dev;
	uint64_t seen[VHU_MAX_VRINGS / 64] = { 0 };
	const uint8_t *rings, *app;
	struct state_hdr h;
	uint64_t sum;
	unsigned int i;
	size_t need;
	int rc;

	if (len < sizeof(h) + sizeof(sum))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != VHU_STATE_MAGIC || h.version != VHU_STATE_VERSION ||
	    h.hdr_len != sizeof(h))
		return -EPROTO;
	if (h.nrings > 2u * dev->max_queue_pairs || h.app_len > VHU_STATE_APP_MAX)
		return -EBADMSG;
	need = sizeof(h) + (size_t)h.nrings * sizeof(struct state_ring) + h.app_len + sizeof(sum);
	if (len != need)
		return -EBADMSG;
	memcpy(&sum, buf + len - sizeof(sum), sizeof(sum));
	if (sum != fnv1a(buf, len - sizeof(sum)))
		return -EBADMSG;
	if (h.features & ~dev->offered_features)
		return -ENOTSUP;   /* the source negotiated what we cannot offer */
	if (h.max_queue_pairs > dev->max_queue_pairs)
		return -ERANGE;
	rings = buf + sizeof(h);
	for (i = 0; i < h.nrings; i++) {
		struct state_ring rs;

		memcpy(&rs, rings + i * sizeof(rs), sizeof(rs));
		if (rs.index >= 2u * dev->max_queue_pairs ||
		    (seen[rs.index / 64] >> (rs.index % 64)) & 1)
			return -EBADMSG;
		seen[rs.index / 64] |= 1ull << (rs.index % 64);
	}
	app = rings + (size_t)h.nrings * sizeof(struct state_ring);
	if (h.app_len > 0) {
		if (dev->ops->load_state == NULL)
			return -ENOTSUP;   /* nobody to hand the application's part to */
		rc = dev->ops->load_state(dev->vid, app, h.app_len);
		if (rc != 0)
			return rc < 0 ? rc : -EIO;
	}
	for (i = 0; i < h.nrings; i++) {
		struct state_ring rs;
		struct vhu_vq *vq;

		memcpy(&rs, rings + i * sizeof(rs), sizeof(rs));
		vq = vhu_dev_vq(c, rs.index);
		if (vq == NULL)
			return -ENOMEM;
		vhu_guard_close(&vq->guard);
		vq->stats = rs.stats;
		vhu_guard_open(&vq->guard);
	}
	if (!rte_is_zero_ether_addr((const struct rte_ether_addr *)h.mac))
		memcpy(dev->mac.addr_bytes, h.mac, sizeof(h.mac));
	if (h.mtu != 0)
		dev->mtu = h.mtu;
	return 0;
}

static void
xfer_finish(struct vhu_conn *c, int result)
{
	struct vhu_xfer *x = &c->xfer;

	if (x->fd >= 0) {
		vhu_evloop_del(x->fd);
		close(x->fd);
	}
	x->fd = -1;
	c->dev.state_fd = -1;
	free(x->buf);
	x->buf = NULL;
	x->done = true;
	x->result = result;
	c->dev.state_result = result;
	if (result == 0)
		VHU_LOG_CONFIG(INFO, c->dev.ifname, "device state %s",
			       x->dir == VHU_TRANSFER_SAVE ? "saved" : "loaded");
	else
		VHU_LOG_CONFIG(ERR, c->dev.ifname, "device state %s failed: %s",
			       x->dir == VHU_TRANSFER_SAVE ? "save" : "load",
			       strerror(-result));
}

/* Move what can move now; finish on completion, EOF or error. */
static void
xfer_pump(struct vhu_conn *c)
{
	struct vhu_xfer *x = &c->xfer;
	ssize_t n;

	if (x->dir < 0 || x->done)
		return;
	if (x->dir == VHU_TRANSFER_SAVE) {
		while (x->off < x->len) {
			n = write(x->fd, x->buf + x->off, x->len - x->off);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					return;
				xfer_finish(c, -errno);
				return;
			}
			x->off += (size_t)n;
		}
		xfer_finish(c, 0);   /* closing our end is the end of data */
		return;
	}
	for (;;) {
		if (x->len == VHU_STATE_MAX) {
			xfer_finish(c, -EFBIG);
			return;
		}
		n = read(x->fd, x->buf + x->len, VHU_STATE_MAX - x->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			xfer_finish(c, -errno);
			return;
		}
		if (n == 0) {
			xfer_finish(c, state_apply(c, x->buf, x->len));
			return;
		}
		x->len += (size_t)n;
	}
}

void
vhu_xfer_abort(struct vhu_conn *c)
{
	struct vhu_xfer *x = &c->xfer;

	if (x->fd >= 0) {
		vhu_evloop_del(x->fd);
		close(x->fd);
	}
	free(x->buf);
	memset(x, 0, sizeof(*x));
	x->dir = -1;
	x->fd = -1;
	c->dev.state_fd = -1;
}

int
vhu_xfer_start(struct vhu_conn *c, uint32_t dir, int fd)
{
	struct vhu_xfer *x = &c->xfer;
	int rc, fl;

	vhu_xfer_abort(c);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		close(fd);
		return -EBADF;
	}
	if ((dir == VHU_TRANSFER_SAVE && (fl & O_ACCMODE) == O_RDONLY) ||
	    (dir == VHU_TRANSFER_LOAD && (fl & O_ACCMODE) == O_WRONLY)) {
		close(fd);
		return -EBADF;   /* a write end to save into, a read end to load from */
	}
	if (dir == VHU_TRANSFER_SAVE) {
		rc = state_build(c, &x->buf, &x->len);
	} else {
		x->buf = malloc(VHU_STATE_MAX);
		rc = x->buf == NULL ? -ENOMEM : 0;
	}
	if (rc != 0) {
		close(fd);
		return rc;
	}
	x->dir = (int)dir;
	x->fd = fd;
	c->dev.state_fd = fd;
	rc = vhu_evloop_add(fd, dir == VHU_TRANSFER_SAVE ? EPOLLOUT : EPOLLIN, &c->ev_xfer);
	if (rc != 0) {
		vhu_xfer_abort(c);
		return rc;
	}
	xfer_pump(c);
	return 0;
}

void
vhu_xfer_event(struct vhu_conn *c, uint32_t events)
{
	RTE_SET_USED(events);
	xfer_pump(c);
}

int
vhu_xfer_check(struct vhu_conn *c)
{
	struct vhu_xfer *x = &c->xfer;
	int rc;

	if (x->dir < 0)
		return -ENOENT;   /* nothing was transferred */
	xfer_pump(c);         /* the front-end closed its end before asking */
	rc = x->done ? x->result : -EINPROGRESS;
	vhu_xfer_abort(c);
	return rc;
}
