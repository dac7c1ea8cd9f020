/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Device-state transfer: the back-end's own state of a device (ring
 * counters, MAC, MTU, the application's part) written to or read from the
 * front-end's pipe by the control thread's event loop, without blocking.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <rte_common.h>

#include "vhu_dev.h"
#include "vhu_guard.h"
#include "vhu_xfer.h"

/*
 * Blob format, version 1 (native little-endian):
 *   struct state_hdr
 *   nrings x struct state_ring
 *   app_len bytes from the application's save_state
 *   u64 FNV-1a checksum of everything before it
 */
#define VHU_STATE_MAGIC   0x53554856u /* "VHUS" */
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

#define VHU_STATE_MAX \
	(sizeof(struct state_hdr) + VHU_MAX_VRINGS * sizeof(struct state_ring) + \
			VHU_STATE_APP_MAX + 8)

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
state_build(struct vhu_dev *dev, uint8_t **out, size_t *out_len)
{
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
state_apply(struct vhu_dev *dev, const uint8_t *buf, size_t len)
{
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
	if (h.magic != VHU_STATE_MAGIC || h.version != VHU_STATE_VERSION || h.hdr_len != sizeof(h))
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
		return -ENOTSUP; /* the source negotiated what we cannot offer */
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
			return -ENOTSUP; /* nobody to hand the application's part to */
		rc = dev->ops->load_state(dev->vid, app, h.app_len);
		if (rc != 0)
			return rc < 0 ? rc : -EIO;
	}
	for (i = 0; i < h.nrings; i++) {
		struct state_ring rs;
		struct vhu_vq *vq;

		memcpy(&rs, rings + i * sizeof(rs), sizeof(rs));
		vq = vhu_dev_vq(dev, rs.index);
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
xfer_finish(struct vhu_xfer *x, int result)
{
	if (x->fd >= 0) {
		vhu_evloop_del(x->fd);
		close(x->fd);
	}
	x->fd = -1;
	x->dev->state_fd = -1;
	free(x->buf);
	x->buf = NULL;
	x->done = true;
	x->result = result;
	x->dev->state_result = result;
	if (result == 0)
		VHU_LOG_CONFIG(INFO, x->dev->ifname, "device state %s",
				x->dir == VHU_TRANSFER_SAVE ? "saved" : "loaded");
	else
		VHU_LOG_CONFIG(ERR, x->dev->ifname, "device state %s failed: %s",
				x->dir == VHU_TRANSFER_SAVE ? "save" : "load", strerror(-result));
}

/* Move what can move now; finish on completion, EOF or error. */
static void
xfer_pump(struct vhu_xfer *x)
{
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
				xfer_finish(x, -errno);
				return;
			}
			x->off += (size_t)n;
		}
		xfer_finish(x, 0); /* closing our end is the end of data */
		return;
	}
	for (;;) {
		if (x->len == VHU_STATE_MAX) {
			xfer_finish(x, -EFBIG);
			return;
		}
		n = read(x->fd, x->buf + x->len, VHU_STATE_MAX - x->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			xfer_finish(x, -errno);
			return;
		}
		if (n == 0) {
			xfer_finish(x, state_apply(x->dev, x->buf, x->len));
			return;
		}
		x->len += (size_t)n;
	}
}

void
vhu_xfer_abort(struct vhu_xfer *x)
{
	if (x->fd >= 0) {
		vhu_evloop_del(x->fd);
		close(x->fd);
	}
	free(x->buf);
	x->buf = NULL;
	x->len = 0;
	x->off = 0;
	x->result = 0;
	x->done = false;
	x->dir = -1;
	x->fd = -1;
	x->dev->state_fd = -1;
}

/* The pipe is ready: move what can move. */
static void
xfer_event(void *arg, uint32_t events)
{
	RTE_SET_USED(events);
	xfer_pump(arg);
}

void
vhu_xfer_init(struct vhu_xfer *x, struct vhu_dev *dev)
{
	memset(x, 0, sizeof(*x));
	x->dev = dev;
	x->ev.fn = xfer_event;
	x->ev.arg = x;
	x->dir = -1;
	x->fd = -1;
}

int
vhu_xfer_start(struct vhu_xfer *x, uint32_t dir, int fd)
{
	int rc, fl;

	vhu_xfer_abort(x);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		close(fd);
		return -EBADF;
	}
	if ((dir == VHU_TRANSFER_SAVE && (fl & O_ACCMODE) == O_RDONLY) ||
			(dir == VHU_TRANSFER_LOAD && (fl & O_ACCMODE) == O_WRONLY)) {
		close(fd);
		return -EBADF; /* a write end to save into, a read end to load from */
	}
	if (dir == VHU_TRANSFER_SAVE) {
		rc = state_build(x->dev, &x->buf, &x->len);
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
	x->dev->state_fd = fd;
	rc = vhu_evloop_add(fd, dir == VHU_TRANSFER_SAVE ? EPOLLOUT : EPOLLIN, &x->ev);
	if (rc != 0) {
		vhu_xfer_abort(x);
		return rc;
	}
	xfer_pump(x);
	return 0;
}

int
vhu_xfer_check(struct vhu_xfer *x)
{
	int rc;

	if (x->dir < 0)
		return -ENOENT; /* nothing was transferred */
	xfer_pump(x);           /* the front-end closed its end before asking */
	rc = x->done ? x->result : -EINPROGRESS;
	vhu_xfer_abort(x);
	return rc;
}
