/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The device as the control thread changes it: its rings, readiness,
 * reset, the memory it holds; and the public getters.
 */

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_string_fns.h>

#include "vhu_dev.h"
#include "vhu_dev_table.h"
#include "vhu_guard.h"
#include "vhu_iotlb.h"
#include "vhu_mem.h"
#include "vhu_net_burst.h"
#include "vhu_net_packed_dequeue.h"
#include "vhu_net_split_dequeue.h"
#include "vhu_vq.h"

/* ---- rings of a device ---- */

struct vhu_vq *
vhu_dev_vq(struct vhu_dev *dev, uint32_t index)
{
	struct vhu_vq *vq;

	if (index >= 2u * dev->max_queue_pairs)
		return NULL;
	vq = dev->vq[index];
	if (vq != NULL)
		return vq;
	vq = vhu_vq_alloc((uint16_t)index);
	if (vq == NULL)
		return NULL;
	vq->enabled = dev->enable_new_rings;
	/* VQ: release, a burst or getter that loads the pointer sees the ring
	 * initialised (guard, fds); pairs with VQ in vhu_obj_vq() */
	__atomic_store_n(&dev->vq[index], vq, __ATOMIC_RELEASE);
	if (index + 1 > dev->nr_vring)
		dev->nr_vring = index + 1;
	return vq;
}

int
vhu_dev_vq_refresh(struct vhu_dev *dev, struct vhu_vq *vq)
{
	bool start;
	int rc;

	rc = vhu_vq_update(dev, vq, &start);
	if (start)
		vhu_net_select_burst(dev, vq);
	return rc;
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

/*
 * The IOTLB's tables built again from its entries and dev->mem, and
 * dev->iova_all published (NULL without ACCESS_PLATFORM). The old tables
 * are handed back in old[] to be freed once every ring has taken its
 * copies of the new ones. Caller holds every guard.
 */
static int
iotlb_rebuild(struct vhu_dev *dev, struct vhu_mem **old, const char **why)
{
	old[0] = old[1] = old[2] = NULL;
	if (dev->iotlb == NULL)
		return 0;
	if (vhu_iotlb_build(dev->iotlb, dev->mem, &old[0], &old[1], &old[2]) != 0) {
		*why = "out of memory for the IOTLB tables";
		return -ENOMEM;
	}
	vhu_iotlb_adopt(dev->iotlb, &old[0], &old[1], &old[2]);
	dev->iova_all = vhu_has(dev, VHU_F_ACCESS_PLATFORM) ? dev->iotlb->all : NULL;
	return 0;
}

int
vhu_dev_refresh_all(struct vhu_dev *dev, const char **why)
{
	struct vhu_mem *old[3];
	unsigned int i;
	int rc;

	rc = iotlb_rebuild(dev, old, why);
	if (rc != 0)
		return rc;
	for (i = 0; i < 2u * dev->max_queue_pairs; i++) {
		struct vhu_vq *vq = dev->vq[i];

		if (vq == NULL)
			continue;
		/* a started ring whose memory went away is a fatal fault */
		if (vhu_dev_vq_refresh(dev, vq) != 0 && vq->started && rc == 0) {
			*why = "a started ring is no longer in guest memory";
			rc = -EFAULT;
		}
	}
	for (i = 0; i < RTE_DIM(old); i++)
		vhu_mem_free(old[i]);
	return rc;
}

int
vhu_dev_iotlb_msg(struct vhu_dev *dev, const struct vhu_iotlb_msg *m, const char **why)
{
	unsigned int i;
	int rc;

	vhu_dev_lock_all(dev);
	if (m->type == VHU_IOTLB_UPDATE) {
		rc = vhu_iotlb_update(dev->iotlb, m->iova, m->size, m->uaddr, m->perm);
		/* what it answers may be asked again (after a later invalidation) */
		vhu_iotlb_answered(dev, m->iova, m->size);
	} else
		rc = vhu_iotlb_invalidate(dev->iotlb, m->iova, m->size);
	for (i = 0; i < 2u * dev->max_queue_pairs; i++) {
		struct vhu_vq *vq = dev->vq[i];

		if (vq == NULL)
			continue;
		if (m->type == VHU_IOTLB_INVALIDATE)
			vq->stats.iotlb_invalidations++;
	}
	if (rc != 0)
		*why = "out of memory for an IOTLB entry";
	else
		rc = vhu_dev_refresh_all(dev, why);
	/* GO: reopened, a burst sees the new tables and ring addresses; no
	 * burst has used a mapping of the old tables since they closed */
	vhu_dev_unlock_all(dev);
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

void
vhu_dev_deactivate_all(struct vhu_dev *dev)
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

/* A ring the sweep serves: the guest's TX ring, started and disabled. */
static bool
sweepable(const struct vhu_vq *vq)
{
	return vq != NULL && (vq->index & 1) && vq->discard && !vq->broken;
}

bool
vhu_dev_sweep_wanted(const struct vhu_dev *dev)
{
	unsigned int i;

	for (i = 1; i < 2u * dev->max_queue_pairs; i += 2)
		if (sweepable(dev->vq[i]))
			return true;
	return false;
}

unsigned int
vhu_dev_sweep_observe(const struct vhu_dev *dev, uint32_t *marks)
{
	unsigned int i, n = 0;

	for (i = 0; i < 2u * dev->max_queue_pairs; i++) {
		marks[i] = sweepable(dev->vq[i]) ? vhu_vq_avail_mark(dev->vq[i]) : 0;
		n += marks[i] != 0;
	}
	return n;
}

void
vhu_dev_sweep(struct vhu_dev *dev, const uint32_t *marks)
{
	unsigned int i;

	for (i = 1; i < 2u * dev->max_queue_pairs; i += 2) {
		struct vhu_vq *vq = dev->vq[i];
		uint64_t before;

		if (marks[i] == 0 || !sweepable(vq))
			continue;
		/*
		 * No guard: a ring that is not active is left alone by the
		 * bursts (they test vq->active under the guard, and the ring
		 * stopped being active with its guard closed), and only this
		 * thread makes it active again.
		 */
		before = vq->stats.dropped;
		if (vq->packed)
			vhu_net_packed_discard(dev, vq, marks[i]);
		else
			vhu_net_split_discard(dev, vq, marks[i]);
		VHU_LOG_CONFIG(DEBUG, dev->ifname,
				"vring %u started but disabled: %" PRIu64 " TX buffers dropped", i,
				vq->stats.dropped - before);
	}
}

bool
vhu_dev_ready(const struct vhu_dev *dev)
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

void
vhu_dev_drop_inflight(struct vhu_dev *dev)
{
	if (dev->inflight_map != NULL)
		munmap(dev->inflight_map, dev->inflight_len);
	if (dev->inflight_fd >= 0)
		close(dev->inflight_fd);
	dev->inflight_map = NULL;
	dev->inflight_len = 0;
	dev->inflight_fd = -1;
}

void
vhu_dev_drop_memory(struct vhu_dev *dev)
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
	if (dev->iotlb != NULL) {
		/* their pieces pointed into the memory just unmapped */
		vhu_mem_free(dev->iotlb->rd);
		vhu_mem_free(dev->iotlb->wr);
		dev->iotlb->rd = vhu_mem_new(1);
		dev->iotlb->wr = vhu_mem_new(1);
	}
	if (log_map != NULL)
		munmap(log_map, log_len);
	vhu_dev_drop_inflight(dev);
}

void
vhu_dev_reset(struct vhu_dev *dev)
{
	unsigned int i;

	vhu_dev_lock_all(dev);
	for (i = 0; i < 2u * dev->max_queue_pairs; i++)
		if (dev->vq[i] != NULL)
			vhu_vq_reset(dev->vq[i]);
	dev->features = 0;
	/* a reset device starts with an empty IOTLB; no ring holds a copy now */
	dev->iova_all = NULL;
	if (dev->iotlb != NULL)
		vhu_iotlb_flush(dev->iotlb);
	dev->hdr_len = sizeof(struct vhu_net_hdr) - 2;
	vhu_dev_unlock_all(dev);
	vhu_dev_drop_memory(dev);
	dev->flags &= ~(VHU_DEV_FEATURES_SET | VHU_DEV_READY);
	dev->status = 0;
	dev->nr_vring = 0;
	dev->enable_new_rings = false;
}

/* ---- public getters (any thread; the vid must be live) ---- */

static struct vhu_dev *
get_dev(int vid)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);

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
	vq = vhu_obj_vq(dev, queue_id);
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
	vq = vhu_obj_vq(dev, queue_id);
	/* relaxed: a snapshot of a flag the control thread stores plainly
	 * under the guard; nothing read after it depends on it */
	return vq != NULL && __atomic_load_n(&vq->active, __ATOMIC_RELAXED);
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

