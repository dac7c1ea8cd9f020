/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Request handlers for the shared memory a front-end hands over: the guest
 * memory table (whole, or a region at a time), the dirty log, and the
 * inflight tracking area.
 */

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhu_mem.h"
#include "vhu_msg_mem.h"
#include "vhu_msg_pvt.h"
#include "vhu_postcopy.h"

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
		return vhu_msg_fail(c, "after memory change: %s", why);
	return VHU_MSG_OK;
}

int
vhu_msg_set_mem_table(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_mem_table *t = &m->payload.mem;
	struct vhu_mem *tab = NULL, *next;
	const char *why = NULL;
	uint32_t i;
	int rc;

	for (i = 0; i < t->nregions; i++) {
		struct vhu_mem_region *reg;

		rc = vhu_mem_region_map(&t->regions[i], m->fds[i], &reg, &why);
		if (rc != 0) {
			vhu_mem_free(tab);
			return vhu_msg_fail(c, "memory region %u: %s", i, why);
		}
		rc = vhu_mem_with(tab, reg, VHU_MAX_MEM_SLOTS, &next, &why);
		if (rc != 0) {
			vhu_mem_region_unmap(reg);
			vhu_mem_free(tab);
			return vhu_msg_fail(c, "memory region %u: %s", i, why);
		}
		vhu_mem_free(tab);
		tab = next;
	}
	VHU_LOG_CONFIG(INFO, c->dev.ifname, "memory table: %u regions", t->nregions);
	/* postcopy: registered with the userfaultfd, our addresses in the reply */
	if (vhu_postcopy_listening(&c->dev) &&
			vhu_postcopy_reply_table(&c->dev, tab, m, r, &why) != 0) {
		vhu_mem_free(tab);
		return vhu_msg_fail(c, "postcopy memory table: %s", why);
	}
	return swap_mem(c, tab);
}

int
vhu_msg_add_mem_reg(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_mem_region_desc *d = &m->payload.memreg.region;
	struct vhu_mem_region *reg;
	struct vhu_mem *next;
	const char *why = NULL;
	int rc;

	/*
	 * QEMU 7.2 adds every region once per queue pair. The same region
	 * again is no overlap: count it (the message's fd is closed by the
	 * dispatcher) so that REM_MEM_REG unmaps only with the last removal.
	 */
	reg = vhu_mem_find_exact(c->dev.mem, d->guest_phys_addr, d->userspace_addr, d->memory_size);
	if (reg != NULL) {
		if (reg->adds == UINT32_MAX)
			return vhu_msg_fail(c,
					"ADD_MEM_REG: region at gpa 0x%" PRIx64 " added too often",
					d->guest_phys_addr);
		reg->adds++;
		VHU_LOG_CONFIG(DEBUG, c->dev.ifname,
				"ADD_MEM_REG: gpa 0x%" PRIx64 " already mapped, now added %u times",
				d->guest_phys_addr, reg->adds);
		if (vhu_postcopy_listening(&c->dev) &&
				vhu_postcopy_reply_region(&c->dev, reg, m, r, &why) != 0)
			return vhu_msg_fail(c, "ADD_MEM_REG (postcopy): %s", why);
		return VHU_MSG_OK;
	}
	rc = vhu_mem_region_map(d, m->fds[0], &reg, &why);
	if (rc != 0)
		return vhu_msg_fail(c, "ADD_MEM_REG: %s", why);
	rc = vhu_mem_with(c->dev.mem, reg, VHU_MAX_MEM_SLOTS, &next, &why);
	if (rc != 0) {
		vhu_mem_region_unmap(reg);
		return vhu_msg_fail(c, "ADD_MEM_REG: %s", why);
	}
	if (vhu_postcopy_listening(&c->dev) &&
			vhu_postcopy_reply_region(&c->dev, reg, m, r, &why) != 0) {
		vhu_mem_free(next);
		return vhu_msg_fail(c, "ADD_MEM_REG (postcopy): %s", why);
	}
	return swap_mem(c, next);
}

int
vhu_msg_rem_mem_reg(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_mem_region_desc *d = &m->payload.memreg.region;
	struct vhu_mem_region *reg;
	struct vhu_mem *next;
	int rc;

	RTE_SET_USED(r);
	reg = vhu_mem_find_exact(c->dev.mem, d->guest_phys_addr, d->userspace_addr, d->memory_size);
	if (reg != NULL && reg->adds > 1) {
		reg->adds--; /* still added for another queue pair: keep it mapped */
		return VHU_MSG_OK;
	}
	rc = vhu_mem_without(
			c->dev.mem, d->guest_phys_addr, d->userspace_addr, d->memory_size, &next);
	if (rc == -ENOENT)
		return vhu_msg_refuse(c,
				"REM_MEM_REG: no region at gpa 0x%" PRIx64 " size 0x%" PRIx64,
				d->guest_phys_addr, d->memory_size);
	if (rc != 0)
		return vhu_msg_fail(c, "REM_MEM_REG: out of memory");
	return swap_mem(c, next);
}

int
vhu_msg_get_max_mem_slots(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(c);
	RTE_SET_USED(m);
	vhu_msg_reply_u64(r, VHU_MAX_MEM_SLOTS);
	return VHU_MSG_OK;
}

#define VHU_LOG_MAX_SIZE (1ull << 34) /* a bitmap for 512 TiB of guest memory */

int
vhu_msg_set_log_base(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	struct vhu_dev *dev = &c->dev;
	const struct vhu_log_desc *l = &m->payload.log;
	void *map, *start, *old_map;
	size_t len, old_len;
	const char *why = NULL;
	int rc;

	if (l->mmap_size > VHU_LOG_MAX_SIZE)
		return vhu_msg_fail(c, "dirty log of %" PRIu64 " bytes is too large", l->mmap_size);
	rc = vhu_map_fd_range(m->fds[0], l->mmap_offset, l->mmap_size, &map, &len, &start, &why);
	if (rc != 0)
		return vhu_msg_fail(c, "dirty log: %s", why);
	vhu_dev_lock_all(dev);
	old_map = dev->log_map;
	old_len = dev->log_map_len;
	dev->log_map = map;
	dev->log_map_len = len;
	dev->log_base = start;
	dev->log_size = l->mmap_size;
	dev->log_all = vhu_has(dev, VHU_F_LOG_ALL);
	vhu_dev_unlock_all(dev);
	if (old_map != NULL)
		munmap(old_map, old_len);
	VHU_LOG_CONFIG(INFO, dev->ifname, "dirty log: %" PRIu64 " bytes", l->mmap_size);
	vhu_msg_reply_u64(r, 0);
	return VHU_MSG_OK;
}

int
vhu_msg_set_log_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	RTE_SET_USED(r);
	/* optional "log changed" eventfd: vhu never needs to signal it */
	close(vhu_msg_take_fd(m, 0));
	VHU_LOG_CONFIG(DEBUG, c->dev.ifname, "SET_LOG_FD: not used");
	return VHU_MSG_OK;
}

/* ---- inflight tracking area ---- */

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
	if (vhu_has(dev, VHU_F_RING_PACKED))
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
	return vhu_check_ring_size(d->queue_size, vhu_has(&c->dev, VHU_F_RING_PACKED), why);
}

/* A fresh queue region: version 1, every descriptor free. */
static void
inflight_init(const struct vhu_dev *dev, uint8_t *q, uint16_t queue_size)
{
	uint16_t j;

	if (vhu_has(dev, VHU_F_RING_PACKED)) {
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

int
vhu_msg_get_inflight_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
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
		return VHU_MSG_OK;
	}
	qsz = inflight_qsize(dev, d->queue_size);
	size = qsz * d->num_queues;
	fd = memfd_create("vhu-inflight", MFD_CLOEXEC);
	if (fd < 0)
		return vhu_msg_fail(c, "GET_INFLIGHT_FD: memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return vhu_msg_fail(c, "GET_INFLIGHT_FD: ftruncate: %s", strerror(errno));
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return vhu_msg_fail(c, "GET_INFLIGHT_FD: mmap: %s", strerror(errno));
	}
	for (q = 0; q < d->num_queues; q++)
		inflight_init(dev, (uint8_t *)map + qsz * q, d->queue_size);
	vhu_dev_drop_inflight(dev);
	dev->inflight_map = map;
	dev->inflight_len = size;
	dev->inflight_fd = fd;
	dev->inflight_queues = d->num_queues;
	dev->inflight_qsize = d->queue_size;
	r->payload.inflight.mmap_size = size;
	r->payload.inflight.mmap_offset = 0;
	r->payload.inflight.num_queues = d->num_queues;
	r->payload.inflight.queue_size = d->queue_size;
	r->fds[0] = fd; /* sent, not closed: we keep our own reference */
	r->nfds = 1;
	return VHU_MSG_OK;
}

int
vhu_msg_set_inflight_fd(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
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
		return vhu_msg_fail(c, "SET_INFLIGHT_FD: %s", why);
	qsz = inflight_qsize(dev, d->queue_size);
	if (d->mmap_size < qsz * d->num_queues)
		return vhu_msg_fail(c,
				"SET_INFLIGHT_FD: area of %" PRIu64 " bytes, %" PRIu64 " needed",
				d->mmap_size, qsz * d->num_queues);
	if (d->mmap_offset + d->mmap_size < d->mmap_offset)
		return vhu_msg_fail(c, "SET_INFLIGHT_FD: offset + size wraps");
	if (d->mmap_offset & 63) /* queue regions are read as structs */
		return vhu_msg_fail(c, "SET_INFLIGHT_FD: offset %" PRIu64 " not 64-byte aligned",
				d->mmap_offset);
	rc = vhu_map_fd_range(m->fds[0], d->mmap_offset, d->mmap_size, &map, &len, &start, &why);
	if (rc != 0)
		return vhu_msg_fail(c, "SET_INFLIGHT_FD: %s", why);
	for (q = 0; q < d->num_queues; q++) {
		/* version and desc_num sit at the same offsets in both layouts */
		const struct inflight_split_hdr *h = (const void *)((uint8_t *)start + qsz * q);
		uint16_t version = h->version, num = h->desc_num;

		if (version > 1 || (version == 1 && num != d->queue_size)) {
			munmap(map, len);
			return vhu_msg_fail(c,
					"SET_INFLIGHT_FD: queue %u region is not a version-1 "
					"area of %u descriptors",
					q, d->queue_size);
		}
	}
	vhu_dev_drop_inflight(dev);
	dev->inflight_map = map;
	dev->inflight_len = len;
	dev->inflight_queues = d->num_queues;
	dev->inflight_qsize = d->queue_size;
	return VHU_MSG_OK;
}

/* ---- postcopy migration (vhu_postcopy.c) ---- */

int
vhu_msg_postcopy_advise(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const char *why = NULL;
	int fd;

	RTE_SET_USED(m);
	if (vhu_postcopy_advise(&c->dev, &fd, &why) != 0)
		return vhu_msg_refuse(c, "POSTCOPY_ADVISE: %s", why);
	r->hdr.size = 0; /* the reply is the userfaultfd alone */
	r->fds[0] = fd;  /* sent, not closed: we keep our own reference */
	r->nfds = 1;
	return VHU_MSG_OK;
}

int
vhu_msg_postcopy_listen(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const char *why = NULL;

	RTE_SET_USED(m);
	RTE_SET_USED(r);
	if (vhu_postcopy_listen(&c->dev, &why) != 0)
		return vhu_msg_refuse(c, "POSTCOPY_LISTEN: %s", why);
	return VHU_MSG_OK;
}

int
vhu_msg_postcopy_end(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const char *why = NULL;

	RTE_SET_USED(m);
	if (vhu_postcopy_end(&c->dev, &why) != 0)
		return vhu_msg_refuse(c, "POSTCOPY_END: %s", why);
	vhu_msg_reply_u64(r, 0);
	return VHU_MSG_OK;
}

/* ---- IOTLB (ACCESS_PLATFORM) ---- */

int
vhu_msg_iotlb(struct vhu_conn *c, struct vhu_msg *m, struct vhu_msg *r)
{
	const struct vhu_iotlb_msg *im = &m->payload.iotlb;
	struct vhu_dev *dev = &c->dev;
	const char *why = NULL;

	RTE_SET_USED(r);
	if (dev->iotlb == NULL)
		return vhu_msg_refuse(
				c, "IOTLB_MSG: ACCESS_PLATFORM is not offered (iommu support off)");
	VHU_LOG_CONFIG(DEBUG, dev->ifname,
			"IOTLB %s iova 0x%" PRIx64 " size 0x%" PRIx64 " uaddr 0x%" PRIx64
			" perm %u",
			im->type == VHU_IOTLB_UPDATE ? "update" : "invalidate", im->iova, im->size,
			im->uaddr, im->perm);
	if (vhu_dev_iotlb_msg(dev, im, &why) != 0)
		return vhu_msg_fail(c, "IOTLB_MSG: %s", why);
	return VHU_MSG_OK;
}
