/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The object model every layer shares: the device and virtqueue objects,
 * feature tests on them, and (vhu_log.h) the log types. Nothing here does
 * anything, so there is no vhu_obj.c; each layer above owns its part of
 * these objects and the functions that change it.
 *
 * Ownership rules:
 *  - the control thread creates, changes and frees devices and rings;
 *  - a datapath lcore touches a ring only inside vq->guard
 *    (vhu_guard_enter: a closed guard makes the burst return 0), and
 *    only when vq->active (or vq->discard) is set;
 *  - the control plane closes vq->guard (waiting for a burst inside to
 *    leave) before changing anything the datapath reads (ring pointers,
 *    indexes, dev->mem, dev->log_*, dev->features, vq->active) and opens
 *    it when done. See vhu_guard.h.
 */

#ifndef VHU_OBJ_H
#define VHU_OBJ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_ether.h>
#include "vhu.h"
#include "vhu_guard.h"
#include "vhu_log.h"
#include "vhu_proto.h"

struct vhu_dev;
struct vhu_vq;
struct vhu_mem;
struct vhu_postcopy;
struct vhu_iotlb;

/* A ring's burst functions, chosen once when it starts (vhu_net_select_burst()). */
typedef uint16_t (*vhu_dequeue_fn)(struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf **pkts, uint16_t count);
typedef uint16_t (*vhu_enqueue_fn)(
		struct vhu_dev *dev, struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count);

/* clang-format off */
struct vhu_vq {
	/* ---- datapath: read under guard ---- */
	struct vhu_guard guard;
	bool active;          /* started && enabled && rings translated */
	bool discard;         /* started && !enabled && rings translated (spec:
	                              * started but disabled). The bursts leave such a
	                              * ring alone; the control thread consumes and drops
	                              * its guest TX (vhu_dev_sweep()). Set by the
	                              * control plane with active, under the guard. */
	bool broken;          /* datapath: a guest fault stopped the ring; cleared
	                              * by vhu_net_select_burst() when the ring restarts */
	uint8_t guest_notify; /* datapath: VHU_GUEST_NOTIFY_* asked through
	                              * vhu_enable_guest_notification(), re-applied
	                              * by vhu_net_select_burst() when the ring starts */
	bool packed;
	uint16_t size;           /* ring size (entries) */
	uint16_t last_avail_idx; /* split: free-running; packed: slot in [0, size),
	                              * its wrap counter in avail_wrap */
	uint16_t last_used_idx;  /* packed: slot in [0, size), wrap in used_wrap */
	uint16_t used_pub;       /* split: the used index the guest sees; a loaded
	                              * dequeue holds its last burst back from it
	                              * (vhu_split_publish_held()) */
	uint64_t held_tsc;       /* split: when that burst was held */
	union {
		struct vhu_vring_desc *desc;
		struct vhu_vring_packed_desc *desc_packed;
	};
	union {
		struct vhu_vring_avail *avail;
		struct vhu_vring_packed_event *driver_event;
	};
	union {
		struct vhu_vring_used *used;
		struct vhu_vring_packed_event *device_event;
	};
	/*
	 * Translation of the addresses in descriptors: xrd for what the
	 * device reads, xwr for what it writes. Without ACCESS_PLATFORM both
	 * are dev->mem (guest-physical); with it, this ring's own copies of
	 * the IOTLB's readable and writable mappings (IOVA), whose region
	 * hints make a per-ring translation cache. Set under the guard.
	 */
	const struct vhu_mem *xrd;
	const struct vhu_mem *xwr;
	bool avail_wrap; /* packed ring wrap counters */
	bool used_wrap;
	uint16_t signalled_used; /* EVENT_IDX: used idx at the last call (packed:
	                              * slot + size when the wrap counter is 0) */
	bool signalled_used_valid;
	int callfd;             /* -1: none */
	vhu_dequeue_fn dequeue; /* chosen once when the ring becomes active */
	vhu_enqueue_fn enqueue;
	uint64_t log_used_gpa; /* GPA of the used ring for the dirty log (if log_used) */
	bool log_used;
	struct vhu_vq_stats stats;
	uint64_t err_miss_tsc; /* rate limit of "cannot ask for an IOVA" logs */

	/* ---- control plane only ---- */
	struct vhu_mem *iotlb_rd; /* owned copies behind xrd / xwr (IOMMU), NULL otherwise */
	struct vhu_mem *iotlb_wr;
	struct vhu_ring_alias {   /* IOMMU: a ring area contiguous in IOVA but not in
				   * guest memory, mapped again contiguous here */
		void *base;
		size_t len;
	} alias[3];               /* descriptor ring, driver area, device area */
	uint16_t index;   /* vring index in the device */
	bool started;     /* a kick fd arrived (or in-band kick); GET_VRING_BASE stops */
	bool enabled;     /* SET_VRING_ENABLE, or all on without PROTOCOL_FEATURES */
	bool addr_set;    /* SET_VRING_ADDR received */
	bool num_set;
	uint32_t num;               /* SET_VRING_NUM */
	struct vhu_vring_addr addr; /* as the front-end sent it (UVAs) */
	int kickfd;                 /* -1: none */
	int errfd;                  /* -1: none */
	uint64_t err_rl_tsc;        /* rate limit for guest-fault logs */
} __rte_cache_aligned;

/* vq->guest_notify */
#define VHU_GUEST_NOTIFY_DEFAULT 0 /* never asked: leave the ring as the guest set it up */
#define VHU_GUEST_NOTIFY_ON      1
#define VHU_GUEST_NOTIFY_OFF     2

/* dev->flags */
#define VHU_DEV_READY        (1u << 0) /* new_device delivered */
#define VHU_DEV_OWNER        (1u << 1) /* SET_OWNER seen */
#define VHU_DEV_FEATURES_SET (1u << 2)
#define VHU_DEV_CLOSING      (1u << 3)

struct vhu_dev {
	/* ---- datapath: read under a ring's guard ---- */
	struct vhu_mem *mem;            /* current generation; never NULL once set */
	uint64_t features;              /* negotiated virtio features */
	uint64_t sock_flags;            /* VHU_SOCK_* of the registration */
	uint16_t hdr_len;               /* virtio-net header size: 12 or 10 */
	bool log_all;                   /* LOG_ALL negotiated and a log is mapped */
	uint8_t *log_base;              /* dirty bitmap */
	uint64_t log_size;              /* bytes of bitmap */
	uint8_t test_fault;             /* VHU_TEST_FAULT_* armed at creation (vhu_testfault.h) */
	uint64_t test_fault_hits;       /* times an armed fault struck (relaxed atomic) */
	struct vhu_postcopy *postcopy;  /* control thread: POSTCOPY_ADVISE to _END (vhu_postcopy.c) */
	volatile uint32_t rarp_pending; /* SEND_RARP: inject a RARP on the next dequeue */
	struct rte_ether_addr rarp_mac;
	int vid;
	char ifname[VHU_PATH_MAX]; /* socket path, for log lines */
	/* ACCESS_PLATFORM negotiated: every IOTLB entry (IOVA -> front-end
	 * address, whatever its permission), to tell a miss from a refused
	 * access and for the dirty log; NULL otherwise */
	const struct vhu_mem *iova_all;
	int backend_fd;                 /* SET_BACKEND_REQ_FD, -1: none; IOTLB misses */
	rte_spinlock_t backend_lock;    /* senders on backend_fd (lcores, control thread) */

	/* ---- control plane ---- */
	uint32_t flags; /* VHU_DEV_* */
	uint64_t protocol_features;
	uint64_t offered_features;
	uint64_t offered_protocol_features;
	uint8_t status; /* virtio device status (SET_STATUS) */
	uint16_t mtu;
	struct rte_ether_addr mac;
	uint16_t max_queue_pairs; /* what GET_QUEUE_NUM answers */
	uint32_t nr_vring;        /* highest vring index seen + 1 */
	bool enable_new_rings;    /* SET_FEATURES without PROTOCOL_FEATURES: rings
	                              * set up from now on start enabled */
	struct vhu_vq *vq[VHU_MAX_VRINGS];
	int connfd;
	struct vhu_iotlb *iotlb; /* IOTLB entries and the tables built from them */
	pid_t peer_pid;
	uid_t peer_uid;
	gid_t peer_gid;
	void *log_map; /* what mmap returned for the log */
	size_t log_map_len;
	void *inflight_map; /* GET/SET_INFLIGHT_FD area */
	size_t inflight_len;
	int inflight_fd;
	uint16_t inflight_queues;
	uint16_t inflight_qsize;
	int state_fd;     /* SET_DEVICE_STATE_FD transfer in progress */
	int state_result; /* for CHECK_DEVICE_STATE */
	const struct vhu_ops *ops;
	void *ctx;
};
/* clang-format on */

/*
 * dev->vq[index] (index < VHU_MAX_VRINGS) from any thread, NULL when the
 * ring was never set up. The control thread publishes a new ring once
 * (vhu_dev_vq()) and frees it only with the device.
 */
static inline struct vhu_vq *
vhu_obj_vq(const struct vhu_dev *dev, uint16_t index)
{
	/* VQ: acquire, the ring's initialisation is seen with its pointer;
	 * pairs with VQ in vhu_dev_vq() */
	return __atomic_load_n(&dev->vq[index], __ATOMIC_ACQUIRE);
}

/* Feature tests on dev->features. */
static inline bool
vhu_has(const struct vhu_dev *dev, unsigned int bit)
{
	return (dev->features & VHU_BIT(bit)) != 0;
}

#endif /* VHU_OBJ_H */
