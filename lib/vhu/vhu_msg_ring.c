/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Request handlers for one vring: its size, addresses and base, its kick,
 * call and error eventfds (a kick fd starts it), its enabled state,
 * GET_VRING_BASE (which stops it) and the in-band kick.
 */

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhu_guard.h"
#include "vhu_msg_pvt.h"
#include "vhu_msg_ring.h"

/* ---- rings ---- */

int
vhu_msg_set_vring_num(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_state *s = &m->payload.state;
	const char *why = NULL;
	struct vhu_vq *vq;
	int rc;

	RTE_SET_USED(r);
	vq = vhu_msg_vq(c, s->index);
	if (vq == NULL)
		return VHU_MSG_FATAL;
	if (vhu_check_ring_size(s->num, vhu_has(&c->dev, VHU_F_RING_PACKED), &why) != 0)
		return vhu_msg_fail(c, "vring %u: %s (%u)", s->index, why, s->num);
	if (vq->started)
		return vhu_msg_refuse(c, "SET_VRING_NUM on started vring %u", s->index);
	vhu_guard_close(&vq->guard);
	vq->num = s->num;
	vq->size = (uint16_t)s->num;
	vq->num_set = true;
	rc = vhu_dev_vq_refresh(&c->dev, vq);
	vhu_guard_open(&vq->guard);
	if (rc != 0)
		return vhu_msg_fail(c, "vring %u of %u entries does not fit guest memory", s->index,
				s->num);
	return VHU_MSG_OK;
}

int
vhu_msg_set_vring_addr(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_addr *a = &m->payload.addr;
	const char *why = NULL;
	struct vhu_vq *vq;
	int rc;

	RTE_SET_USED(r);
	vq = vhu_msg_vq(c, a->index);
	if (vq == NULL)
		return VHU_MSG_FATAL;
	if (vhu_check_vring_addr(a, vq->num_set ? vq->num : 1, vhu_has(&c->dev, VHU_F_RING_PACKED),
			    &why) != 0)
		return vhu_msg_fail(c, "vring %u: %s", a->index, why);
	vhu_guard_close(&vq->guard);
	vq->addr = *a;
	vq->addr_set = true;
	rc = vhu_dev_vq_refresh(&c->dev, vq);
	vhu_guard_open(&vq->guard);
	if (rc != 0)
		return vhu_msg_fail(
				c, "vring %u: ring addresses are not in guest memory", a->index);
	return VHU_MSG_OK;
}

int
vhu_msg_set_vring_base(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_state *s = &m->payload.state;
	bool packed = vhu_has(&c->dev, VHU_F_RING_PACKED);
	struct vhu_vq *vq;

	RTE_SET_USED(r);
	vq = vhu_msg_vq(c, s->index);
	if (vq == NULL)
		return VHU_MSG_FATAL;
	if (!packed && s->num > 0xffff)
		return vhu_msg_fail(c, "vring %u: base %u is not a 16-bit index", s->index, s->num);
	if (vq->started)
		return vhu_msg_refuse(c, "SET_VRING_BASE on started vring %u", s->index);
	vhu_guard_close(&vq->guard);
	if (packed) {
		/* bits 0-14 avail index, 15 its wrap counter; 16-30 used index, 31 its wrap */
		vq->last_avail_idx = (uint16_t)(s->num & 0x7fff);
		vq->avail_wrap = (s->num >> 15) & 1;
		if ((s->num >> 16) != 0) {
			vq->last_used_idx = (uint16_t)(s->num >> 16);
			vq->used_wrap = (s->num >> 31) & 1;
		} else {
			/* DPDK virtio-user sends the avail half only: a stopped
			 * ring has nothing in flight, used == avail */
			vq->last_used_idx = vq->last_avail_idx;
			vq->used_wrap = vq->avail_wrap;
		}
	} else {
		vq->last_avail_idx = (uint16_t)s->num;
		vq->last_used_idx = (uint16_t)s->num;
		vq->used_pub = vq->last_used_idx;
	}
	vhu_guard_open(&vq->guard);
	/* the migration test compares this with where the source stopped */
	VHU_LOG_CONFIG(DEBUG, c->dev.ifname, "vring %u base %u", s->index, s->num);
	return VHU_MSG_OK;
}

int
vhu_msg_get_vring_base(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_state *s = &m->payload.state;
	struct vhu_vq *vq;
	uint32_t num;

	vq = vhu_msg_vq(c, s->index);
	if (vq == NULL)
		return VHU_MSG_FATAL;
	/* stop: the lcore using the ring leaves it before we read the index */
	vhu_guard_close(&vq->guard);
	vq->started = false;
	vhu_dev_vq_refresh(&c->dev, vq);
	if (vq->packed)
		num = (uint32_t)((vq->last_avail_idx & 0x7fff) | (vq->avail_wrap << 15)) |
				((uint32_t)((vq->last_used_idx & 0x7fff) | (vq->used_wrap << 15))
						<< 16);
	else
		num = vq->last_avail_idx;
	vhu_guard_open(&vq->guard);
	r->hdr.size = sizeof(struct vhu_vring_state);
	r->payload.state.index = s->index;
	r->payload.state.num = num;
	VHU_LOG_CONFIG(DEBUG, c->dev.ifname, "vring %u stopped at %u", s->index, num);
	return VHU_MSG_OK;
}

/* SET_VRING_KICK / CALL / ERR: which fd of the ring to replace. */
enum vring_fd {
	VFD_KICK,
	VFD_CALL,
	VFD_ERR
};

/*
 * Lcores write call and error fds and read kick fds: only eventfds (anonymous
 * inodes), made non-blocking. A pipe or socket whose reader is gone would
 * raise SIGPIPE in the application; a blocking eventfd the front-end filled
 * to its maximum would stall an lcore.
 */
static int
ring_fd_ok(int fd)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) != 0 || (st.st_mode & S_IFMT) != 0)
		return -EBADF;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return -EBADF;
	return 0;
}

static int
set_vring_fd(struct vhu_conn *c, struct vhu_msg *m, enum vring_fd which)
{
	uint32_t index = (uint32_t)(m->payload.u64 & VHU_VRING_IDX_MASK);
	int fd = -1, old;
	struct vhu_vq *vq;
	int rc = 0;

	vq = vhu_msg_vq(c, index);
	if (vq == NULL)
		return VHU_MSG_FATAL;
	if (!(m->payload.u64 & VHU_VRING_NOFD_MASK)) {
		if (ring_fd_ok(m->fds[0]) != 0)
			return vhu_msg_fail(c, "vring %u: the fd given is not an eventfd", index);
		fd = vhu_msg_take_fd(m, 0);
	}
	vhu_guard_close(&vq->guard);
	switch (which) {
	case VFD_KICK:
		old = vq->kickfd;
		vq->kickfd = fd;
		/* a ring starts when its kick fd arrives (or polling is asked) */
		vq->started = true;
		rc = vhu_dev_vq_refresh(&c->dev, vq);
		break;
	case VFD_CALL:
		old = vq->callfd;
		vq->callfd = fd;
		break;
	default:
		old = vq->errfd;
		vq->errfd = fd;
		break;
	}
	vhu_guard_open(&vq->guard);
	/* closed after the callbacks: the application may still watch it */
	if (old >= 0)
		c->defer_close[c->ndefer++] = old;
	if (rc != 0)
		return vhu_msg_fail(c, "vring %u: ring addresses are not in guest memory", index);
	return VHU_MSG_OK;
}

int
vhu_msg_set_vring_kick(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	return set_vring_fd(c, m, VFD_KICK);
}

int
vhu_msg_set_vring_call(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	return set_vring_fd(c, m, VFD_CALL);
}

int
vhu_msg_set_vring_err(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	return set_vring_fd(c, m, VFD_ERR);
}

int
vhu_msg_set_vring_enable(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_state *s = &m->payload.state;
	struct vhu_vq *vq;

	RTE_SET_USED(r);
	vq = vhu_msg_vq(c, s->index);
	if (vq == NULL)
		return VHU_MSG_FATAL;
	if (s->num > 1)
		return vhu_msg_fail(c, "vring %u: enable value %u is not 0 or 1", s->index, s->num);
	/*
	 * QEMU may disable (or enable) queue pairs before SET_FEATURES when
	 * PROTOCOL_FEATURES was offered: the state is kept for later. Once
	 * features are set without PROTOCOL_FEATURES, every ring is enabled.
	 */
	if ((c->dev.flags & VHU_DEV_FEATURES_SET) && !vhu_has(&c->dev, VHU_F_PROTOCOL_FEATURES))
		return vhu_msg_refuse(c, "SET_VRING_ENABLE without PROTOCOL_FEATURES negotiated");
	vhu_guard_close(&vq->guard);
	vq->enabled = s->num == 1;
	vhu_dev_vq_refresh(&c->dev, vq);
	vhu_guard_open(&vq->guard);
	VHU_LOG_CONFIG(DEBUG, c->dev.ifname, "vring %u %s", s->index,
			s->num ? "enabled" : "disabled");
	return VHU_MSG_OK;
}

int
vhu_msg_vring_kick(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_state *s = &m->payload.state;
	struct vhu_vq *vq;
	int rc;

	RTE_SET_USED(r);
	vq = vhu_msg_vq(c, s->index);
	if (vq == NULL)
		return VHU_MSG_FATAL;
	if (s->num != 0)
		return vhu_msg_fail(c, "VRING_KICK: reserved field is %u", s->num);
	vhu_guard_close(&vq->guard);
	vq->started = true;
	vq->stats.kicks++;
	rc = vhu_dev_vq_refresh(&c->dev, vq);
	vhu_guard_open(&vq->guard);
	if (rc != 0)
		return vhu_msg_fail(
				c, "vring %u: ring addresses are not in guest memory", s->index);
	return VHU_MSG_OK;
}
