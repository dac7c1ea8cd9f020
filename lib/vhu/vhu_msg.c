/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Front-end requests: one table (an X-macro) says for each request which
 * handler runs, which payload layout it must have, how many fds it may
 * carry, how it is answered, which state the device must be in and which
 * protocol feature it needs. The dispatcher checks all of that before the
 * handler runs; handlers then check the values (indexes, sizes, addresses)
 * and never touch the socket: the dispatcher sends replies, closes unused
 * fds and closes the connection after a fatal error.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhu_ctrl.h"

/* handler results */
#define H_OK      0
#define H_REFUSE  1   /* not applied; error reply or NACK; connection stays */
#define H_FATAL   2   /* c->fatal says why; the connection is closed */

/* fds accepted */
enum fd_rule {
	FD_NONE,     /* no fd */
	FD_ONE,      /* exactly one */
	FD_VRING,    /* one, unless the no-fd bit of the u64 payload is set */
	FD_MEM,      /* one per region of the memory table */
	FD_DROP,     /* none or one (closed unused), for lenient legacy senders */
};

/* how a request is answered */
enum reply_kind {
	RP_ACK,      /* only with NEED_REPLY: u64 0 = ok, non-zero = refused */
	RP_DATA,     /* always a reply payload; cannot express refusal (fatal) */
	RP_U64ERR,   /* always a u64: 0 = ok, non-zero = error */
	RP_CFG,      /* always a config reply; refusal = empty payload */
};

/* minimum device state */
enum min_state {
	ST_ANY,
	ST_OWNER,    /* owned: SET_OWNER seen, or taken implicitly (see dispatch) */
	ST_FEATURES, /* SET_FEATURES seen */
};

/* protocol feature requirement */
#define PF_NONE   (-1)

typedef int (*handler_fn)(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r);

struct req_row {
	handler_fn fn;
	enum vhu_payload_kind payload;
	enum fd_rule fds;
	enum reply_kind reply;
	enum min_state state;
	int pf;            /* protocol feature bit, or PF_NONE */
	bool pf_offered;   /* enough that the feature is offered (queries) */
};

/* ---- helpers ---- */

static int
fail(struct vhu_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
fail(struct vhu_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->fatal_buf, sizeof(c->fatal_buf), fmt, ap);
	va_end(ap);
	c->fatal = c->fatal_buf;
	return H_FATAL;
}

static int
refuse(struct vhu_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
refuse(struct vhu_conn *c, const char *fmt, ...)
{
	char buf[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	VHU_LOG_CONFIG(WARNING, c->dev.ifname, "request refused: %s", buf);
	return H_REFUSE;
}

static void
reply_u64(struct vhu_msg *r, uint64_t v)
{
	r->hdr.size = sizeof(uint64_t);
	r->payload.u64 = v;
}

/* Take ownership of fd i of the message. */
static int
take_fd(struct vhu_msg *m, unsigned int i)
{
	int fd = m->fds[i];

	m->fds[i] = -1;
	return fd;
}

static struct vhu_vq *
ring(struct vhu_conn *c, uint32_t index)
{
	struct vhu_vq *vq = vhu_dev_vq(c, index);

	if (vq == NULL) {
		if (index < 2u * c->dev.max_queue_pairs)
			fail(c, "out of memory for vring %u", index);
		else
			fail(c, "vring index %u out of range (%u vrings)", index,
			     2u * c->dev.max_queue_pairs);
	}
	return vq;
}

static bool
negotiated(const struct vhu_dev *dev, int bit)
{
	return (dev->features & VHU_BIT(bit)) != 0;
}

/* ---- features and ownership ---- */

static int
h_get_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(m);
	reply_u64(r, c->dev.offered_features);
	return H_OK;
}

static int
h_set_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	struct vhu_dev *dev = &c->dev;
	uint64_t f = m->payload.u64, old = dev->features;
	bool had = (dev->flags & VHU_DEV_FEATURES_SET) != 0;
	const char *why = NULL;
	unsigned int i;
	int rc;

	RTE_SET_USED(r);
	if (f & ~dev->offered_features)
		return fail(c, "features 0x%" PRIx64 " were not offered",
			    f & ~dev->offered_features);
	if ((f & VHU_BIT(VHU_F_RING_PACKED)) != (old & VHU_BIT(VHU_F_RING_PACKED)) &&
	    vhu_dev_any_started(dev))
		return refuse(c, "ring layout change while rings are started");
	vhu_dev_lock_all(dev);
	dev->features = f;
	dev->hdr_len = (f & (VHU_BIT(VHU_F_VERSION_1) | VHU_BIT(VHU_F_NET_MRG_RXBUF))) ?
		sizeof(struct vhu_net_hdr) : sizeof(struct vhu_net_hdr) - 2;
	dev->log_all = (f & VHU_BIT(VHU_F_LOG_ALL)) && dev->log_base != NULL;
	if (!(f & VHU_BIT(VHU_F_PROTOCOL_FEATURES))) {
		/* without PROTOCOL_FEATURES every ring is enabled; never the reverse */
		c->enable_new_rings = true;
		for (i = 0; i < VHU_MAX_VRINGS; i++)
			if (dev->vq[i] != NULL)
				dev->vq[i]->enabled = true;
	}
	rc = vhu_dev_refresh_all(dev, &why);
	vhu_dev_unlock_all(dev);
	dev->flags |= VHU_DEV_FEATURES_SET;
	if (rc != 0)
		return fail(c, "%s", why);
	VHU_LOG_CONFIG(INFO, dev->ifname, "features 0x%" PRIx64, f);
	if ((dev->flags & VHU_DEV_READY) && had && old != f &&
	    dev->ops->features_changed != NULL)
		dev->ops->features_changed(dev->vid, f);
	return H_OK;
}

static int
h_get_protocol_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(m);
	reply_u64(r, c->dev.offered_protocol_features);
	return H_OK;
}

static int
h_set_protocol_features(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	uint64_t f = m->payload.u64;

	RTE_SET_USED(r);
	if (f & ~c->dev.offered_protocol_features)
		return fail(c, "protocol features 0x%" PRIx64 " were not offered",
			    f & ~c->dev.offered_protocol_features);
	c->dev.protocol_features = f;
	VHU_LOG_CONFIG(INFO, c->dev.ifname, "protocol features 0x%" PRIx64, f);
	return H_OK;
}

static int
h_set_owner(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(m);
	RTE_SET_USED(r);
	c->dev.flags |= VHU_DEV_OWNER;
	return H_OK;
}

static int
h_reset(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	VHU_LOG_CONFIG(INFO, c->dev.ifname, "%s: device reset", vhu_req_name(m->hdr.request));
	vhu_dev_reset(c);
	return H_OK;
}

static int
h_get_queue_num(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(m);
	reply_u64(r, c->dev.max_queue_pairs);
	return H_OK;
}

/* ---- memory ---- */

/* Publish a new table: rings quiesced, re-translated, old table dropped. */
static int
swap_mem(struct vhu_conn *c, struct vhu_mem *m)
{
	struct vhu_dev *dev = &c->dev;
	const char *why = NULL;
	struct vhu_mem *old;
	int rc;

	vhu_dev_lock_all(dev);
	old = dev->mem;
	dev->mem = m;
	rc = vhu_dev_refresh_all(dev, &why);
	vhu_dev_unlock_all(dev);
	vhu_mem_free(old);
	if (rc != 0)
		return fail(c, "after memory change: %s", why);
	return H_OK;
}

static int
h_set_mem_table(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_mem_table *t = &m->payload.mem;
	struct vhu_mem *tab = NULL, *next;
	const char *why = NULL;
	uint32_t i;
	int rc;

	RTE_SET_USED(r);
	for (i = 0; i < t->nregions; i++) {
		struct vhu_mem_region *reg;

		rc = vhu_mem_region_map(&t->regions[i], m->fds[i], &reg, &why);
		if (rc != 0) {
			vhu_mem_free(tab);
			return fail(c, "memory region %u: %s", i, why);
		}
		rc = vhu_mem_with(tab, reg, VHU_MAX_MEM_SLOTS, &next, &why);
		if (rc != 0) {
			vhu_mem_region_unmap(reg);
			vhu_mem_free(tab);
			return fail(c, "memory region %u: %s", i, why);
		}
		vhu_mem_free(tab);
		tab = next;
	}
	VHU_LOG_CONFIG(INFO, c->dev.ifname, "memory table: %u regions", t->nregions);
	return swap_mem(c, tab);
}

static int
h_add_mem_reg(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_mem_region_desc *d = &m->payload.memreg.region;
	struct vhu_mem_region *reg;
	struct vhu_mem *next;
	const char *why = NULL;
	int rc;

	RTE_SET_USED(r);
	/*
	 * QEMU 7.2 adds every region once per queue pair. The same region
	 * again is no overlap: count it (the message's fd is closed by the
	 * dispatcher) so that REM_MEM_REG unmaps only with the last removal.
	 */
	reg = vhu_mem_find_exact(c->dev.mem, d->guest_phys_addr, d->userspace_addr,
				 d->memory_size);
	if (reg != NULL) {
		if (reg->adds == UINT32_MAX)
			return fail(c, "ADD_MEM_REG: region at gpa 0x%" PRIx64 " added too often",
				    d->guest_phys_addr);
		reg->adds++;
		VHU_LOG_CONFIG(DEBUG, c->dev.ifname, "ADD_MEM_REG: gpa 0x%" PRIx64
			       " already mapped, now added %u times", d->guest_phys_addr, reg->adds);
		return H_OK;
	}
	rc = vhu_mem_region_map(d, m->fds[0], &reg, &why);
	if (rc != 0)
		return fail(c, "ADD_MEM_REG: %s", why);
	rc = vhu_mem_with(c->dev.mem, reg, VHU_MAX_MEM_SLOTS, &next, &why);
	if (rc != 0) {
		vhu_mem_region_unmap(reg);
		return fail(c, "ADD_MEM_REG: %s", why);
	}
	return swap_mem(c, next);
}

static int
h_rem_mem_reg(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_mem_region_desc *d = &m->payload.memreg.region;
	struct vhu_mem_region *reg;
	struct vhu_mem *next;
	int rc;

	RTE_SET_USED(r);
	reg = vhu_mem_find_exact(c->dev.mem, d->guest_phys_addr, d->userspace_addr,
				 d->memory_size);
	if (reg != NULL && reg->adds > 1) {
		reg->adds--;   /* still added for another queue pair: keep it mapped */
		return H_OK;
	}
	rc = vhu_mem_without(c->dev.mem, d->guest_phys_addr, d->userspace_addr,
			     d->memory_size, &next);
	if (rc == -ENOENT)
		return refuse(c, "REM_MEM_REG: no region at gpa 0x%" PRIx64 " size 0x%" PRIx64,
			      d->guest_phys_addr, d->memory_size);
	if (rc != 0)
		return fail(c, "REM_MEM_REG: out of memory");
	return swap_mem(c, next);
}

static int
h_get_max_mem_slots(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(c);
	RTE_SET_USED(m);
	reply_u64(r, VHU_MAX_MEM_SLOTS);
	return H_OK;
}

#define VHU_LOG_MAX_SIZE (1ull << 34)   /* a bitmap for 512 TiB of guest memory */

static int
h_set_log_base(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	struct vhu_dev *dev = &c->dev;
	const struct vhu_log_desc *l = &m->payload.log;
	void *map, *start, *old_map;
	size_t len, old_len;
	const char *why = NULL;
	int rc;

	if (l->mmap_size > VHU_LOG_MAX_SIZE)
		return fail(c, "dirty log of %" PRIu64 " bytes is too large", l->mmap_size);
	rc = vhu_map_fd_range(m->fds[0], l->mmap_offset, l->mmap_size, &map, &len, &start, &why);
	if (rc != 0)
		return fail(c, "dirty log: %s", why);
	vhu_dev_lock_all(dev);
	old_map = dev->log_map;
	old_len = dev->log_map_len;
	dev->log_map = map;
	dev->log_map_len = len;
	dev->log_base = start;
	dev->log_size = l->mmap_size;
	dev->log_all = negotiated(dev, VHU_F_LOG_ALL);
	vhu_dev_unlock_all(dev);
	if (old_map != NULL)
		munmap(old_map, old_len);
	VHU_LOG_CONFIG(INFO, dev->ifname, "dirty log: %" PRIu64 " bytes", l->mmap_size);
	reply_u64(r, 0);
	return H_OK;
}

static int
h_set_log_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	/* optional "log changed" eventfd: vhu never needs to signal it */
	close(take_fd(m, 0));
	VHU_LOG_CONFIG(DEBUG, c->dev.ifname, "SET_LOG_FD: not used");
	return H_OK;
}

/* ---- rings ---- */

static int
h_set_vring_num(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_state *s = &m->payload.state;
	const char *why = NULL;
	struct vhu_vq *vq;
	int rc;

	RTE_SET_USED(r);
	vq = ring(c, s->index);
	if (vq == NULL)
		return H_FATAL;
	if (vhu_check_ring_size(s->num, negotiated(&c->dev, VHU_F_RING_PACKED), &why) != 0)
		return fail(c, "vring %u: %s (%u)", s->index, why, s->num);
	if (vq->started)
		return refuse(c, "SET_VRING_NUM on started vring %u", s->index);
	vhu_guard_close(&vq->guard);
	vq->num = s->num;
	vq->size = (uint16_t)s->num;
	vq->num_set = true;
	rc = vhu_vq_refresh(&c->dev, vq);
	vhu_guard_open(&vq->guard);
	if (rc != 0)
		return fail(c, "vring %u of %u entries does not fit guest memory", s->index, s->num);
	return H_OK;
}

static int
h_set_vring_addr(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_addr *a = &m->payload.addr;
	const char *why = NULL;
	struct vhu_vq *vq;
	int rc;

	RTE_SET_USED(r);
	vq = ring(c, a->index);
	if (vq == NULL)
		return H_FATAL;
	if (vhu_check_vring_addr(a, vq->num_set ? vq->num : 1,
				 negotiated(&c->dev, VHU_F_RING_PACKED), &why) != 0)
		return fail(c, "vring %u: %s", a->index, why);
	vhu_guard_close(&vq->guard);
	vq->addr = *a;
	vq->addr_set = true;
	rc = vhu_vq_refresh(&c->dev, vq);
	vhu_guard_open(&vq->guard);
	if (rc != 0)
		return fail(c, "vring %u: ring addresses are not in guest memory", a->index);
	return H_OK;
}

static int
h_set_vring_base(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_state *s = &m->payload.state;
	bool packed = negotiated(&c->dev, VHU_F_RING_PACKED);
	struct vhu_vq *vq;

	RTE_SET_USED(r);
	vq = ring(c, s->index);
	if (vq == NULL)
		return H_FATAL;
	if (!packed && s->num > 0xffff)
		return fail(c, "vring %u: base %u is not a 16-bit index", s->index, s->num);
	if (vq->started)
		return refuse(c, "SET_VRING_BASE on started vring %u", s->index);
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
	}
	vhu_guard_open(&vq->guard);
	return H_OK;
}

static int
h_get_vring_base(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_state *s = &m->payload.state;
	struct vhu_vq *vq;
	uint32_t num;

	vq = ring(c, s->index);
	if (vq == NULL)
		return H_FATAL;
	/* stop: the lcore using the ring leaves it before we read the index */
	vhu_guard_close(&vq->guard);
	vq->started = false;
	vhu_vq_refresh(&c->dev, vq);
	if (vq->packed)
		num = (uint32_t)((vq->last_avail_idx & 0x7fff) | (vq->avail_wrap << 15)) |
			((uint32_t)((vq->last_used_idx & 0x7fff) | (vq->used_wrap << 15)) << 16);
	else
		num = vq->last_avail_idx;
	vhu_guard_open(&vq->guard);
	r->hdr.size = sizeof(struct vhu_vring_state);
	r->payload.state.index = s->index;
	r->payload.state.num = num;
	VHU_LOG_CONFIG(DEBUG, c->dev.ifname, "vring %u stopped at %u", s->index, num);
	return H_OK;
}

/* SET_VRING_KICK / CALL / ERR: which fd of the ring to replace. */
enum vring_fd { VFD_KICK, VFD_CALL, VFD_ERR };

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

	vq = ring(c, index);
	if (vq == NULL)
		return H_FATAL;
	if (!(m->payload.u64 & VHU_VRING_NOFD_MASK)) {
		if (ring_fd_ok(m->fds[0]) != 0)
			return fail(c, "vring %u: the fd given is not an eventfd", index);
		fd = take_fd(m, 0);
	}
	vhu_guard_close(&vq->guard);
	switch (which) {
	case VFD_KICK:
		old = vq->kickfd;
		vq->kickfd = fd;
		/* a ring starts when its kick fd arrives (or polling is asked) */
		vq->started = true;
		rc = vhu_vq_refresh(&c->dev, vq);
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
		return fail(c, "vring %u: ring addresses are not in guest memory", index);
	return H_OK;
}

static int
h_set_vring_kick(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	return set_vring_fd(c, m, VFD_KICK);
}

static int
h_set_vring_call(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	return set_vring_fd(c, m, VFD_CALL);
}

static int
h_set_vring_err(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	return set_vring_fd(c, m, VFD_ERR);
}

static int
h_set_vring_enable(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_state *s = &m->payload.state;
	struct vhu_vq *vq;

	RTE_SET_USED(r);
	vq = ring(c, s->index);
	if (vq == NULL)
		return H_FATAL;
	if (s->num > 1)
		return fail(c, "vring %u: enable value %u is not 0 or 1", s->index, s->num);
	/*
	 * QEMU may disable (or enable) queue pairs before SET_FEATURES when
	 * PROTOCOL_FEATURES was offered: the state is kept for later. Once
	 * features are set without PROTOCOL_FEATURES, every ring is enabled.
	 */
	if ((c->dev.flags & VHU_DEV_FEATURES_SET) && !negotiated(&c->dev, VHU_F_PROTOCOL_FEATURES))
		return refuse(c, "SET_VRING_ENABLE without PROTOCOL_FEATURES negotiated");
	vhu_guard_close(&vq->guard);
	vq->enabled = s->num == 1;
	vhu_vq_refresh(&c->dev, vq);
	vhu_guard_open(&vq->guard);
	VHU_LOG_CONFIG(DEBUG, c->dev.ifname, "vring %u %s", s->index,
		       s->num ? "enabled" : "disabled");
	return H_OK;
}

static int
h_vring_kick(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_vring_state *s = &m->payload.state;
	struct vhu_vq *vq;
	int rc;

	RTE_SET_USED(r);
	vq = ring(c, s->index);
	if (vq == NULL)
		return H_FATAL;
	if (s->num != 0)
		return fail(c, "VRING_KICK: reserved field is %u", s->num);
	vhu_guard_close(&vq->guard);
	vq->started = true;
	vq->stats.kicks++;
	rc = vhu_vq_refresh(&c->dev, vq);
	vhu_guard_open(&vq->guard);
	if (rc != 0)
		return fail(c, "vring %u: ring addresses are not in guest memory", s->index);
	return H_OK;
}

/* ---- net device ---- */

static int
h_send_rarp(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	struct rte_ether_addr mac;

	RTE_SET_USED(r);
	memcpy(mac.addr_bytes, &m->payload.u64, RTE_ETHER_ADDR_LEN);
	if (!rte_is_unicast_ether_addr(&mac) || rte_is_zero_ether_addr(&mac))
		return refuse(c, "SEND_RARP with a non-unicast MAC");
	c->dev.rarp_mac = mac;
	/* pairs with the datapath's acquire load of rarp_pending */
	__atomic_store_n(&c->dev.rarp_pending, 1, __ATOMIC_RELEASE);
	return H_OK;
}

static int
h_net_set_mtu(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	uint64_t mtu = m->payload.u64;

	RTE_SET_USED(r);
	if (!negotiated(&c->dev, VHU_F_NET_MTU))
		return refuse(c, "NET_SET_MTU without VIRTIO_NET_F_MTU negotiated");
	if (mtu < RTE_ETHER_MIN_MTU || mtu > UINT16_MAX)
		return refuse(c, "NET_SET_MTU %" PRIu64 " out of range", mtu);
	c->dev.mtu = (uint16_t)mtu;
	VHU_LOG_CONFIG(INFO, c->dev.ifname, "MTU %u", c->dev.mtu);
	return H_OK;
}

static int
h_set_backend_req_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	if (c->dev.backend_fd >= 0)
		close(c->dev.backend_fd);
	c->dev.backend_fd = take_fd(m, 0);
	return H_OK;
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

static int
h_get_config(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_config *q = &m->payload.config;
	struct vhu_net_config cfg;

	if (q->offset + q->size > sizeof(cfg))
		return refuse(c, "GET_CONFIG beyond the %zu-byte net config", sizeof(cfg));
	net_config(&c->dev, &cfg);
	r->payload.config.offset = q->offset;
	r->payload.config.size = q->size;
	r->payload.config.flags = q->flags;
	memcpy(r->payload.config.payload, (uint8_t *)&cfg + q->offset, q->size);
	r->hdr.size = VHU_CONFIG_HDR_SIZE + q->size;
	return H_OK;
}

static int
h_set_config(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_config *q = &m->payload.config;
	struct vhu_net_config cur, cfg;

	RTE_SET_USED(r);
	if (q->offset + q->size > sizeof(cfg))
		return refuse(c, "SET_CONFIG beyond the %zu-byte net config", sizeof(cfg));
	net_config(&c->dev, &cur);
	cfg = cur;
	memcpy((uint8_t *)&cfg + q->offset, q->payload, q->size);
	if (q->flags == VHU_CONFIG_F_WRITABLE) {
		/* only the MAC is writable by the driver */
		if (q->offset + q->size > RTE_ETHER_ADDR_LEN)
			return refuse(c, "SET_CONFIG writes a read-only field");
	} else if (cfg.max_virtqueue_pairs != cur.max_virtqueue_pairs || cfg.mtu != cur.mtu) {
		return refuse(c, "SET_CONFIG (migration) changes queue pairs or MTU");
	}
	memcpy(c->dev.mac.addr_bytes, cfg.mac, RTE_ETHER_ADDR_LEN);
	return H_OK;
}

/* ---- status ---- */

static int
h_set_status(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	if (m->payload.u64 > 0xff)
		return fail(c, "status 0x%" PRIx64 " is not 8 bits", m->payload.u64);
	c->dev.status = (uint8_t)m->payload.u64;
	VHU_LOG_CONFIG(DEBUG, c->dev.ifname, "status 0x%x", c->dev.status);
	return H_OK;
}

static int
h_get_status(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(m);
	reply_u64(r, c->dev.status);
	return H_OK;
}

/* ---- inflight tracking area ---- */

static void
drop_inflight(struct vhu_dev *dev)
{
	if (dev->inflight_map != NULL)
		munmap(dev->inflight_map, dev->inflight_len);
	if (dev->inflight_fd >= 0)
		close(dev->inflight_fd);
	dev->inflight_map = NULL;
	dev->inflight_len = 0;
	dev->inflight_fd = -1;
}

/* split-ring queue region header, as the spec lays it out */
struct inflight_split_hdr {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
};

/* packed-ring queue region header and descriptor state, as the spec lays them out */
struct inflight_packed_hdr {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t free_head;
	uint16_t old_free_head;
	uint16_t used_idx;
	uint16_t old_used_idx;
	uint8_t used_wrap_counter;
	uint8_t old_used_wrap_counter;
	uint8_t padding[10];
};
static_assert(sizeof(struct inflight_packed_hdr) == 32, "packed inflight header");

struct inflight_packed_desc {
	uint8_t inflight;
	uint8_t padding;
	uint16_t next;
	uint16_t last;
	uint16_t num;
	uint64_t counter;
	uint16_t id;
	uint16_t flags;
	uint32_t len;
	uint64_t addr;
};
static_assert(sizeof(struct inflight_packed_desc) == 32, "packed inflight descriptor");

/* Bytes of one queue's region in the layout of the negotiated ring type. */
static uint64_t
inflight_qsize(const struct vhu_dev *dev, uint16_t queue_size)
{
	if (negotiated(dev, VHU_F_RING_PACKED))
		return vhu_inflight_queue_size_packed(queue_size);
	return vhu_inflight_queue_size(queue_size);
}

static int
inflight_geometry(struct vhu_conn *c, const struct vhu_inflight_desc *d, const char **why)
{
	if (d->num_queues == 0 || d->num_queues > 2u * c->dev.max_queue_pairs) {
		*why = "queue count out of range";
		return -EINVAL;
	}
	return vhu_check_ring_size(d->queue_size, negotiated(&c->dev, VHU_F_RING_PACKED), why);
}

/* A fresh queue region: version 1, every descriptor free. */
static void
inflight_init(const struct vhu_dev *dev, uint8_t *q, uint16_t queue_size)
{
	uint16_t j;

	if (negotiated(dev, VHU_F_RING_PACKED)) {
		struct inflight_packed_hdr *h = (void *)q;
		struct inflight_packed_desc *d = (void *)(q + sizeof(*h));

		h->version = 1;
		h->desc_num = queue_size;
		h->used_wrap_counter = 1;
		h->old_used_wrap_counter = 1;
		for (j = 0; j < queue_size; j++)
			d[j].next = (uint16_t)(j + 1);
	} else {
		struct inflight_split_hdr *h = (void *)q;

		h->version = 1;
		h->desc_num = queue_size;
	}
}

static int
h_get_inflight_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_inflight_desc *d = &m->payload.inflight;
	struct vhu_dev *dev = &c->dev;
	uint64_t qsz, size;
	const char *why = NULL;
	void *map;
	uint16_t q;
	int fd;

	r->hdr.size = sizeof(struct vhu_inflight_desc);
	memset(&r->payload.inflight, 0, sizeof(r->payload.inflight));
	if (inflight_geometry(c, d, &why) != 0) {
		/* mmap_size 0 tells the front-end there is no area */
		VHU_LOG_CONFIG(WARNING, dev->ifname, "GET_INFLIGHT_FD refused: %s", why);
		return H_OK;
	}
	qsz = inflight_qsize(dev, d->queue_size);
	size = qsz * d->num_queues;
	fd = memfd_create("vhu-inflight", MFD_CLOEXEC);
	if (fd < 0)
		return fail(c, "GET_INFLIGHT_FD: memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return fail(c, "GET_INFLIGHT_FD: ftruncate: %s", strerror(errno));
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return fail(c, "GET_INFLIGHT_FD: mmap: %s", strerror(errno));
	}
	for (q = 0; q < d->num_queues; q++)
		inflight_init(dev, (uint8_t *)map + qsz * q, d->queue_size);
	drop_inflight(dev);
	dev->inflight_map = map;
	dev->inflight_len = size;
	dev->inflight_fd = fd;
	dev->inflight_queues = d->num_queues;
	dev->inflight_qsize = d->queue_size;
	r->payload.inflight.mmap_size = size;
	r->payload.inflight.mmap_offset = 0;
	r->payload.inflight.num_queues = d->num_queues;
	r->payload.inflight.queue_size = d->queue_size;
	r->fds[0] = fd;    /* sent, not closed: we keep our own reference */
	r->nfds = 1;
	return H_OK;
}

static int
h_set_inflight_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_inflight_desc *d = &m->payload.inflight;
	struct vhu_dev *dev = &c->dev;
	void *map, *start;
	const char *why = NULL;
	uint64_t qsz;
	size_t len;
	uint16_t q;
	int rc;

	RTE_SET_USED(r);
	if (inflight_geometry(c, d, &why) != 0)
		return fail(c, "SET_INFLIGHT_FD: %s", why);
	qsz = inflight_qsize(dev, d->queue_size);
	if (d->mmap_size < qsz * d->num_queues)
		return fail(c, "SET_INFLIGHT_FD: area of %" PRIu64 " bytes, %" PRIu64 " needed",
			    d->mmap_size, qsz * d->num_queues);
	if (d->mmap_offset + d->mmap_size < d->mmap_offset)
		return fail(c, "SET_INFLIGHT_FD: offset + size wraps");
	if (d->mmap_offset & 63)   /* queue regions are read as structs */
		return fail(c, "SET_INFLIGHT_FD: offset %" PRIu64 " not 64-byte aligned",
			    d->mmap_offset);
	rc = vhu_map_fd_range(m->fds[0], d->mmap_offset, d->mmap_size, &map, &len, &start, &why);
	if (rc != 0)
		return fail(c, "SET_INFLIGHT_FD: %s", why);
	for (q = 0; q < d->num_queues; q++) {
		/* version and desc_num sit at the same offsets in both layouts */
		const struct inflight_split_hdr *h = (const void *)((uint8_t *)start + qsz * q);
		uint16_t version = h->version, num = h->desc_num;

		if (version > 1 || (version == 1 && num != d->queue_size)) {
			munmap(map, len);
			return fail(c, "SET_INFLIGHT_FD: queue %u region is not a version-1 "
				    "area of %u descriptors", q, d->queue_size);
		}
	}
	drop_inflight(dev);
	dev->inflight_map = map;
	dev->inflight_len = len;
	dev->inflight_queues = d->num_queues;
	dev->inflight_qsize = d->queue_size;
	return H_OK;
}

/* ---- device state transfer ---- */

static int
h_set_device_state_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_device_state_xfer *x = &m->payload.xfer;
	int rc;

	reply_u64(r, VHU_STATE_REPLY_NOFD | 1);
	if (x->direction != VHU_TRANSFER_SAVE && x->direction != VHU_TRANSFER_LOAD)
		return refuse(c, "SET_DEVICE_STATE_FD: unknown direction %u", x->direction);
	if (x->phase != VHU_TRANSFER_PHASE_STOPPED)
		return refuse(c, "SET_DEVICE_STATE_FD: unknown phase %u", x->phase);
	if (vhu_dev_any_started(&c->dev))
		return refuse(c, "SET_DEVICE_STATE_FD while a ring is started");
	rc = vhu_xfer_start(c, x->direction, take_fd(m, 0));
	if (rc != 0)
		return refuse(c, "SET_DEVICE_STATE_FD: %s", strerror(-rc));
	/* no fd of ours: the front-end keeps using its channel */
	reply_u64(r, VHU_STATE_REPLY_NOFD);
	return H_OK;
}

static int
h_check_device_state(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	int rc;

	RTE_SET_USED(m);
	rc = vhu_xfer_check(c);
	reply_u64(r, rc == 0 ? 0 : 1);
	if (rc != 0)
		VHU_LOG_CONFIG(WARNING, c->dev.ifname, "device state transfer failed: %s",
			       strerror(-rc));
	return H_OK;
}

/* ---- refused: not implemented ---- */

static int
h_not_supported(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	return refuse(c, "%s is not supported (no IOMMU/postcopy support)",
		      vhu_req_name(m->hdr.request));
}

/*
 * The request table:
 *  X(request, handler, payload, fds, reply, minimum state, protocol feature,
 *    feature merely offered is enough)
 */
#define VHU_REQUESTS(X) \
	X(GET_FEATURES,          h_get_features,          VHU_PL_NONE,       FD_NONE,  RP_DATA,   ST_ANY,      PF_NONE,                    false) \
	X(SET_FEATURES,          h_set_features,          VHU_PL_U64,        FD_NONE,  RP_ACK,    ST_OWNER,    PF_NONE,                    false) \
	X(SET_OWNER,             h_set_owner,             VHU_PL_NONE,       FD_NONE,  RP_ACK,    ST_ANY,      PF_NONE,                    false) \
	X(RESET_OWNER,           h_reset,                 VHU_PL_NONE,       FD_NONE,  RP_ACK,    ST_OWNER,    PF_NONE,                    false) \
	X(SET_MEM_TABLE,         h_set_mem_table,         VHU_PL_MEM_TABLE,  FD_MEM,   RP_ACK,    ST_OWNER,    PF_NONE,                    false) \
	X(SET_LOG_BASE,          h_set_log_base,          VHU_PL_LOG,        FD_ONE,   RP_U64ERR, ST_OWNER,    VHU_PF_LOG_SHMFD,           false) \
	X(SET_LOG_FD,            h_set_log_fd,            VHU_PL_NONE,       FD_ONE,   RP_ACK,    ST_OWNER,    PF_NONE,                    false) \
	X(SET_VRING_NUM,         h_set_vring_num,         VHU_PL_STATE,      FD_NONE,  RP_ACK,    ST_FEATURES, PF_NONE,                    false) \
	X(SET_VRING_ADDR,        h_set_vring_addr,        VHU_PL_ADDR,       FD_NONE,  RP_ACK,    ST_FEATURES, PF_NONE,                    false) \
	X(SET_VRING_BASE,        h_set_vring_base,        VHU_PL_STATE,      FD_NONE,  RP_ACK,    ST_FEATURES, PF_NONE,                    false) \
	X(GET_VRING_BASE,        h_get_vring_base,        VHU_PL_STATE,      FD_NONE,  RP_DATA,   ST_OWNER,    PF_NONE,                    false) \
	X(SET_VRING_KICK,        h_set_vring_kick,        VHU_PL_FILE,       FD_VRING, RP_ACK,    ST_FEATURES, PF_NONE,                    false) \
	X(SET_VRING_CALL,        h_set_vring_call,        VHU_PL_FILE,       FD_VRING, RP_ACK,    ST_OWNER,    PF_NONE,                    false) \
	X(SET_VRING_ERR,         h_set_vring_err,         VHU_PL_FILE,       FD_VRING, RP_ACK,    ST_OWNER,    PF_NONE,                    false) \
	X(GET_PROTOCOL_FEATURES, h_get_protocol_features, VHU_PL_NONE,       FD_NONE,  RP_DATA,   ST_ANY,      PF_NONE,                    false) \
	X(SET_PROTOCOL_FEATURES, h_set_protocol_features, VHU_PL_U64,        FD_NONE,  RP_ACK,    ST_ANY,      PF_NONE,                    false) \
	X(GET_QUEUE_NUM,         h_get_queue_num,         VHU_PL_NONE,       FD_NONE,  RP_DATA,   ST_ANY,      VHU_PF_MQ,                  true)  \
	X(SET_VRING_ENABLE,      h_set_vring_enable,      VHU_PL_STATE,      FD_NONE,  RP_ACK,    ST_OWNER,    PF_NONE,                    false) \
	X(SEND_RARP,             h_send_rarp,             VHU_PL_U64,        FD_NONE,  RP_ACK,    ST_OWNER,    VHU_PF_RARP,                false) \
	X(NET_SET_MTU,           h_net_set_mtu,           VHU_PL_U64,        FD_NONE,  RP_ACK,    ST_FEATURES, VHU_PF_NET_MTU,             false) \
	X(SET_BACKEND_REQ_FD,    h_set_backend_req_fd,    VHU_PL_NONE,       FD_ONE,   RP_ACK,    ST_ANY,      VHU_PF_BACKEND_REQ,         false) \
	X(IOTLB_MSG,             h_not_supported,         VHU_PL_ANY,        FD_NONE,  RP_ACK,    ST_ANY,      PF_NONE,                    false) \
	X(GET_CONFIG,            h_get_config,            VHU_PL_CONFIG,     FD_NONE,  RP_CFG,    ST_ANY,      VHU_PF_CONFIG,              false) \
	X(SET_CONFIG,            h_set_config,            VHU_PL_CONFIG,     FD_NONE,  RP_ACK,    ST_ANY,      VHU_PF_CONFIG,              false) \
	X(POSTCOPY_ADVISE,       h_not_supported,         VHU_PL_NONE,       FD_NONE,  RP_U64ERR, ST_ANY,      PF_NONE,                    false) \
	X(POSTCOPY_LISTEN,       h_not_supported,         VHU_PL_NONE,       FD_NONE,  RP_ACK,    ST_ANY,      PF_NONE,                    false) \
	X(POSTCOPY_END,          h_not_supported,         VHU_PL_NONE,       FD_NONE,  RP_U64ERR, ST_ANY,      PF_NONE,                    false) \
	X(GET_INFLIGHT_FD,       h_get_inflight_fd,       VHU_PL_INFLIGHT,   FD_NONE,  RP_DATA,   ST_OWNER,    VHU_PF_INFLIGHT_SHMFD,      false) \
	X(SET_INFLIGHT_FD,       h_set_inflight_fd,       VHU_PL_INFLIGHT,   FD_ONE,   RP_ACK,    ST_OWNER,    VHU_PF_INFLIGHT_SHMFD,      false) \
	X(RESET_DEVICE,          h_reset,                 VHU_PL_NONE,       FD_NONE,  RP_ACK,    ST_OWNER,    VHU_PF_RESET_DEVICE,        false) \
	X(VRING_KICK,            h_vring_kick,            VHU_PL_STATE,      FD_NONE,  RP_ACK,    ST_FEATURES, VHU_PF_INBAND_NOTIFICATIONS, false) \
	X(GET_MAX_MEM_SLOTS,     h_get_max_mem_slots,     VHU_PL_NONE,       FD_NONE,  RP_DATA,   ST_ANY,      VHU_PF_CONFIGURE_MEM_SLOTS, true)  \
	X(ADD_MEM_REG,           h_add_mem_reg,           VHU_PL_MEM_SINGLE, FD_ONE,   RP_ACK,    ST_OWNER,    VHU_PF_CONFIGURE_MEM_SLOTS, false) \
	X(REM_MEM_REG,           h_rem_mem_reg,           VHU_PL_MEM_SINGLE, FD_DROP,  RP_ACK,    ST_OWNER,    VHU_PF_CONFIGURE_MEM_SLOTS, false) \
	X(SET_STATUS,            h_set_status,            VHU_PL_U64,        FD_NONE,  RP_ACK,    ST_ANY,      VHU_PF_STATUS,              false) \
	X(GET_STATUS,            h_get_status,            VHU_PL_NONE,       FD_NONE,  RP_DATA,   ST_ANY,      VHU_PF_STATUS,              true)  \
	X(SET_DEVICE_STATE_FD,   h_set_device_state_fd,   VHU_PL_XFER,       FD_ONE,   RP_U64ERR, ST_OWNER,    VHU_PF_DEVICE_STATE,        false) \
	X(CHECK_DEVICE_STATE,    h_check_device_state,    VHU_PL_NONE,       FD_NONE,  RP_U64ERR, ST_OWNER,    VHU_PF_DEVICE_STATE,        false)

#define VHU_ROW(req, fn_, pl, fd, rp, st, pf_, off) \
	[VHU_REQ_ ## req] = { .fn = fn_, .payload = pl, .fds = fd, .reply = rp, \
			      .state = st, .pf = pf_, .pf_offered = off },

static const struct req_row req_table[VHU_REQ_MAX] = {
	VHU_REQUESTS(VHU_ROW)
};

static unsigned int
expected_fds(const struct req_row *row, const struct vhu_msg *m, unsigned int *max)
{
	*max = 0;
	switch (row->fds) {
	case FD_ONE:
		*max = 1;
		return 1;
	case FD_VRING:
		*max = (m->payload.u64 & VHU_VRING_NOFD_MASK) ? 0 : 1;
		return *max;
	case FD_MEM:
		*max = m->payload.mem.nregions;
		return *max;
	case FD_DROP:
		*max = 1;
		return 0;
	default:
		return 0;
	}
}

/* Why the device cannot take this request now; NULL when it can. */
static const char *
precondition(const struct vhu_conn *c, const struct req_row *row)
{
	const struct vhu_dev *dev = &c->dev;

	if (row->state >= ST_FEATURES && !(dev->flags & VHU_DEV_FEATURES_SET))
		return "SET_FEATURES has not been received";
	if (row->pf != PF_NONE) {
		uint64_t have = row->pf_offered ? dev->offered_protocol_features :
			dev->protocol_features;

		if (!(have & VHU_BIT(row->pf)))
			return "its protocol feature was not negotiated";
	}
	return NULL;
}

static int
send_reply(struct vhu_conn *c, const struct vhu_msg *req, struct vhu_msg *r)
{
	int rc;

	r->hdr.request = req->hdr.request;
	r->hdr.flags = VHU_FLAG_VERSION | VHU_FLAG_REPLY;
	rc = vhu_msg_send(c->dev.connfd, &r->hdr, &r->payload, r->fds, r->nfds);
	if (rc != 0) {
		snprintf(c->fatal_buf, sizeof(c->fatal_buf), "cannot send %s reply: %s",
			 vhu_req_name(req->hdr.request), strerror(-rc));
		c->fatal = c->fatal_buf;
		return -1;
	}
	return 0;
}

static int dispatch(struct vhu_conn *c, struct vhu_msg *m);

static void
close_deferred(struct vhu_conn *c)
{
	while (c->ndefer > 0)
		close(c->defer_close[--c->ndefer]);
}

int
vhu_msg_dispatch(struct vhu_conn *c, struct vhu_msg *m)
{
	int rc = dispatch(c, m);

	close_deferred(c);
	return rc;
}

static int
dispatch(struct vhu_conn *c, struct vhu_msg *m)
{
	struct vhu_dev *dev = &c->dev;
	struct vhu_msg *r = &c->reply;
	uint32_t req = m->hdr.request;
	bool need_reply = (m->hdr.flags & VHU_FLAG_NEED_REPLY) != 0;
	const char *name = vhu_req_name(req), *why = NULL;
	const struct req_row *row = NULL;
	unsigned int want, max;
	int rc;

	r->hdr.size = 0;
	r->payload.u64 = 0;
	r->nfds = 0;
	c->fatal = NULL;
	VHU_LOG_CONFIG(DEBUG, dev->ifname, "request %s (%u), %u bytes, %u fds", name, req,
		       m->hdr.size, m->nfds);

	if (m->hdr.flags & VHU_FLAG_REPLY) {
		why = "reply flag set on a request";
		goto fatal;
	}
	if (req < VHU_REQ_MAX)
		row = &req_table[req];
	if (row == NULL || row->fn == NULL) {
		VHU_LOG_CONFIG(WARNING, dev->ifname, "unsupported request %s (%u) ignored",
			       name, req);
		vhu_msg_close_fds(m);
		if (need_reply) {
			reply_u64(r, 1);
			if (send_reply(c, m, r) != 0)
				goto fatal_set;
		}
		return 0;
	}
	if (vhu_check_payload(row->payload, m, &why) != 0)
		goto fatal;
	want = expected_fds(row, m, &max);
	if (m->nfds < want || m->nfds > max) {
		snprintf(c->fatal_buf, sizeof(c->fatal_buf), "%s carries %u fds, %u expected",
			 name, m->nfds, want);
		c->fatal = c->fatal_buf;
		goto fatal_set;
	}

	why = precondition(c, row);
	if (why == NULL && row->state >= ST_OWNER && !(dev->flags & VHU_DEV_OWNER)) {
		/*
		 * No SET_OWNER on this connection. DPDK's virtio-user (server
		 * mode) never sends one on a reconnected session: it stops the
		 * rings (SET_VRING_ENABLE 0, GET_VRING_BASE) and negotiates
		 * again. The specification attaches no other meaning to the
		 * request, so the first front-end to configure the device
		 * owns it.
		 */
		VHU_LOG_CONFIG(NOTICE, dev->ifname,
				"%s before SET_OWNER: the front-end is taken as the owner", name);
		dev->flags |= VHU_DEV_OWNER;
	}
	if (why != NULL) {
		VHU_LOG_CONFIG(WARNING, dev->ifname, "%s refused: %s", name, why);
		rc = H_REFUSE;
		if (row->reply == RP_DATA) {
			c->fatal = "a request that must be answered came in the wrong state";
			goto fatal_set;
		}
		if (row->reply == RP_U64ERR)
			reply_u64(r, req == VHU_REQ_SET_DEVICE_STATE_FD ?
				  (VHU_STATE_REPLY_NOFD | 1) : 1);
	} else {
		rc = row->fn(c, m, r);
	}

	/* fds the handler did not take are closed before anything is answered */
	vhu_msg_close_fds(m);
	if (rc == H_FATAL)
		goto fatal_set;
	/* callbacks first: an acked front-end sees their effects done */
	if (vhu_dev_update(c) != 0)
		goto fatal_set;
	switch (row->reply) {
	case RP_ACK:
		if (need_reply) {
			reply_u64(r, rc == H_OK ? 0 : 1);
			if (send_reply(c, m, r) != 0)
				goto fatal_set;
		}
		break;
	case RP_DATA:
		if (rc != H_OK) {
			c->fatal = "a request that must be answered was refused";
			goto fatal_set;
		}
		if (send_reply(c, m, r) != 0)
			goto fatal_set;
		break;
	case RP_U64ERR:
		if (rc != H_OK && (r->hdr.size == 0 || r->payload.u64 == 0))
			reply_u64(r, 1);
		if (send_reply(c, m, r) != 0)
			goto fatal_set;
		break;
	case RP_CFG:
		if (rc != H_OK)
			r->hdr.size = 0;   /* an empty config reply is the error */
		if (send_reply(c, m, r) != 0)
			goto fatal_set;
		break;
	}
	return 0;

fatal:
	c->fatal = why;
fatal_set:
	VHU_LOG_CONFIG(ERR, dev->ifname, "closing connection (vid %d) on %s: %s", dev->vid,
		       name, c->fatal != NULL ? c->fatal : "error");
	return -1;
}
