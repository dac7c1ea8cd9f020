/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/**
 * @file
 * vhu: a vhost-user back-end library for virtio-net devices.
 *
 * An application registers one or more unix socket paths. A single control
 * thread serves the vhost-user protocol on all of them; each connection is
 * one device, identified by a small integer (vid). Once the device is ready
 * (the new_device callback), the application moves packets with
 * vhu_dequeue_burst() (guest TX -> mbufs) and vhu_enqueue_burst()
 * (mbufs -> guest RX) from its own lcores.
 *
 * Queue ids are vring indexes: virtio-net RX queue q of the guest is vring
 * 2q (we enqueue into it), TX queue q is vring 2q+1 (we dequeue from it).
 *
 * Public functions return 0 (or a count) on success and -1 with rte_errno
 * set on failure, as DPDK does.
 */

#ifndef VHU_H
#define VHU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a function exported from the plugin. */
#define VHU_API __attribute__((visibility("default")))

/** Largest number of devices (connections) in one process. */
#define VHU_MAX_DEVICES 1024
/** Largest number of queue pairs one device may have. */
#define VHU_MAX_QUEUE_PAIRS 128
/** Largest number of vrings one device may have. */
#define VHU_MAX_VRINGS (2 * VHU_MAX_QUEUE_PAIRS)
/** Largest ring size. */
#define VHU_MAX_RING_SIZE 32768u
/** Memory slots announced through GET_MAX_MEM_SLOTS. */
#define VHU_MAX_MEM_SLOTS 509u
/** Largest socket path, including the terminating NUL. */
#define VHU_PATH_MAX 108

/* ---- socket flags (vhu_socket_conf.flags) ---- */
/** Connect to the front-end's socket instead of listening. */
#define VHU_SOCK_CLIENT          (1ull << 0)
/** Client mode: do not reconnect when the socket is absent or the peer goes away. */
#define VHU_SOCK_NO_RECONNECT    (1ull << 1)
/** Server mode: accept several concurrent connections, one device each. */
#define VHU_SOCK_MULTI_CONN      (1ull << 2)
/** Dequeue: never build multi-segment mbufs; drop what does not fit one mbuf. */
#define VHU_SOCK_LINEAR_BUF      (1ull << 3)
/** Dequeue: large packets in one mbuf with an external buffer. */
#define VHU_SOCK_EXT_BUF         (1ull << 4)
/** Offload flags in DPDK's legacy (pre-21.11) semantics instead of the compliant ones. */
#define VHU_SOCK_LEGACY_OL_FLAGS (1ull << 5)
/** Offer VIRTIO_F_RING_PACKED (default off until asked). */
#define VHU_SOCK_PACKED          (1ull << 6)
/**
 * Offer VIRTIO_F_ACCESS_PLATFORM: a front-end behind a virtual IOMMU gives
 * IOVAs that the library translates through a device IOTLB (IOTLB_MSG,
 * misses on the back-end channel, which needs protocol features
 * BACKEND_REQ and REPLY_ACK).
 */
#define VHU_SOCK_IOMMU           (1ull << 7)
/**
 * Offer postcopy live migration (protocol feature PAGEFAULT). Registration
 * fails with ENOTSUP, the reason logged, where userfaultfd cannot catch
 * missing pages of shared memory.
 */
#define VHU_SOCK_POSTCOPY        (1ull << 8)

/**
 * Application callbacks. Every one is optional. They run on the control
 * thread, outside every library lock, and may call the vhu_get_*()
 * functions; they must not call vhu_socket_register() or
 * vhu_socket_unregister().
 */
struct vhu_ops {
	/**
	 * Device ready: memory mapped, rings 0 and 1 started and enabled.
	 * @param vid the device
	 * @return 0 to accept it; non-zero refuses it (the connection closes)
	 */
	int (*new_device)(int vid);
	/**
	 * Device going away. After return, the vid must not be used by any lcore.
	 * @param vid the device
	 */
	void (*destroy_device)(int vid);
	/**
	 * After new_device: a ring became active (enable = 1) or stopped
	 * being active (0).
	 * @param vid the device
	 * @param queue_id the vring index
	 * @param enable 1 active, 0 inactive
	 * @return ignored
	 */
	int (*vring_state_changed)(int vid, uint16_t queue_id, int enable);
	/**
	 * After new_device: the negotiated features changed (for example
	 * LOG_ALL toggled).
	 * @param vid the device
	 * @param features the new virtio feature bits
	 * @return ignored
	 */
	int (*features_changed)(int vid, uint64_t features);
	/**
	 * A front-end connected; the device exists but is not ready.
	 * @param vid the device
	 * @return 0 to keep the connection; non-zero closes it
	 */
	int (*new_connection)(int vid);
	/**
	 * The connection closed; after destroy_device when the device was
	 * ready. The vid is free for reuse once this returns.
	 * @param vid the device
	 */
	void (*destroy_connection)(int vid);
	/**
	 * Migration source: write the application's state of this device
	 * (counters, settings) into buf.
	 * @param vid the device
	 * @param buf where to write
	 * @param len at most this many bytes (64 KiB)
	 * @return the number of bytes written, or a negative errno
	 */
	int (*save_state)(int vid, void *buf, size_t len);
	/**
	 * Migration destination: restore what save_state wrote.
	 * @param vid the device
	 * @param buf what the source's save_state wrote
	 * @param len its length
	 * @return 0, or a negative errno (the transfer fails)
	 */
	int (*load_state)(int vid, const void *buf, size_t len);
};

/** How a socket path is served. */
struct vhu_socket_conf {
	const char *path;            /**< unix socket path (< VHU_PATH_MAX bytes) */
	uint64_t flags;              /**< VHU_SOCK_* */
	uint64_t features_enable;    /**< virtio features to offer beyond the default set */
	uint64_t features_disable;   /**< virtio features to withdraw from the offer */
	uint64_t protocol_features_disable; /**< protocol features to withdraw */
	uint16_t max_queue_pairs;    /**< 1..VHU_MAX_QUEUE_PAIRS; 0 means 1 */
	uint16_t mtu;                /**< offered MTU (VIRTIO_NET_F_MTU); 0: not offered */
	bool mac_set;                /**< mac below is offered (VIRTIO_NET_F_MAC) */
	struct rte_ether_addr mac;
	uint32_t reconnect_ms;       /**< client: first retry delay; 0 means 100 ms */
	const struct vhu_ops *ops;
	void *ctx;                   /**< returned by vhu_get_ctx() */
};

/**
 * Register a socket path and start serving it (the control thread starts
 * with the first registration). Not from a vhu callback.
 * @param conf how to serve it; copied (conf->path too)
 * @return 0, or -1 with rte_errno: EINVAL (bad conf), EEXIST (path already
 * registered here), EADDRINUSE (a live process serves the path), ENOTSOCK
 * (a file that is not a socket is at the path), ENOTSUP (IOMMU or
 * postcopy asked), EDEADLK (called from a vhu callback), ENOMEM, or the
 * error of socket(), bind() or listen() (server mode) or of connect()
 * (client mode with VHU_SOCK_NO_RECONNECT).
 */
VHU_API int vhu_socket_register(const struct vhu_socket_conf *conf);

/**
 * Stop serving a path: every device on it is destroyed (callbacks
 * delivered), every fd closed, guest memory unmapped and, in server mode,
 * the socket file removed. The control thread is joined with the last
 * registration gone. Not from a vhu callback.
 * @param path the path given to vhu_socket_register()
 * @return 0, or -1 with rte_errno: EINVAL (path NULL), EDEADLK (called
 * from a vhu callback), ENOENT (not registered)
 */
VHU_API int vhu_socket_unregister(const char *path);

/**
 * The virtio features vhu offers by default (before a registration's
 * features_enable and features_disable).
 * @return the feature bits
 */
VHU_API uint64_t vhu_default_features(void);

/**
 * The vhost-user protocol features vhu offers by default (before a
 * registration's protocol_features_disable).
 * @return the protocol feature bits
 */
VHU_API uint64_t vhu_default_protocol_features(void);

/* ---- device identity and negotiated state ---- */

/**
 * Copy the socket path the device was connected on.
 * @param vid the device
 * @param buf where to copy it
 * @param len size of buf
 * @return 0, or -1 with rte_errno: ENODEV (no such device), EINVAL (buf
 * NULL or len 0), ERANGE (len too small for the path and its NUL)
 */
VHU_API int vhu_get_ifname(int vid, char *buf, size_t len);

/**
 * Peer credentials from SO_PEERCRED (pid 0 when unknown).
 * @param vid the device
 * @param pid the peer's process id, or NULL
 * @param uid its user id, or NULL
 * @param gid its group id, or NULL
 * @return 0, or -1 with rte_errno ENODEV (no such device)
 */
VHU_API int vhu_get_peer(int vid, pid_t *pid, uid_t *uid, gid_t *gid);

/**
 * The virtio features negotiated (SET_FEATURES; 0 before it).
 * @param vid the device
 * @param features where to store them
 * @return 0, or -1 with rte_errno ENODEV (no such device) or EINVAL
 * (features NULL)
 */
VHU_API int vhu_get_features(int vid, uint64_t *features);

/**
 * The vhost-user protocol features negotiated (SET_PROTOCOL_FEATURES).
 * @param vid the device
 * @param features where to store them
 * @return 0, or -1 with rte_errno ENODEV (no such device) or EINVAL
 * (features NULL)
 */
VHU_API int vhu_get_protocol_features(int vid, uint64_t *features);

/**
 * The device's MTU: the registration's, or what NET_SET_MTU or a state
 * transfer set.
 * @param vid the device
 * @param mtu where to store it
 * @return 0, or -1 with rte_errno ENODEV (no such device), EINVAL (mtu
 * NULL) or ENODATA (no MTU configured)
 */
VHU_API int vhu_get_mtu(int vid, uint16_t *mtu);

/**
 * The device's MAC address: the registration's, or what the driver wrote
 * into the config space or a state transfer set.
 * @param vid the device
 * @param mac where to store it
 * @return 0, or -1 with rte_errno ENODEV (no such device), EINVAL (mac
 * NULL) or ENODATA (no MAC configured)
 */
VHU_API int vhu_get_mac(int vid, struct rte_ether_addr *mac);

/**
 * Number of vrings the front-end set up (2 x queue pairs): the highest
 * vring index seen, plus one.
 * @param vid the device
 * @return the count, or -1 with rte_errno ENODEV (no such device)
 */
VHU_API int vhu_get_vring_count(int vid);

/**
 * The registration's ctx pointer (vhu_socket_conf.ctx).
 * @param vid the device
 * @return ctx, or NULL with rte_errno ENODEV (no such device)
 */
VHU_API void *vhu_get_ctx(int vid);

/**
 * Is the ring started, enabled and translated (so bursts move packets)?
 * A snapshot, from any thread.
 * @param vid the device
 * @param queue_id the vring index
 * @return 1 yes, 0 no (or never set up), -1 with rte_errno ENODEV (no such
 * device) or EINVAL (queue_id >= VHU_MAX_VRINGS)
 */
VHU_API int vhu_vring_is_active(int vid, uint16_t queue_id);

/**
 * Has the guest made a buffer available on the ring (for a guest RX ring:
 * does the guest receive)? A packed ring: one is available now. A split
 * ring: one is available now, or its avail index moved from 0 (the guest
 * filled it before and is only slow to read). For a control thread: it
 * waits for a burst in progress on the ring to end. The caller keeps vid
 * alive (the PMD: under the lock its destroy_device takes).
 * @param vid the device
 * @param queue_id the vring index
 * @return 1 yes, 0 no (or the ring is not active, or never set up), -1
 * with rte_errno ENODEV (no such device) or EINVAL (queue_id >=
 * VHU_MAX_VRINGS)
 */
VHU_API int vhu_vring_has_buffers(int vid, uint16_t queue_id);

/* ---- notifications (rx interrupts) ---- */

/**
 * The ring's kick eventfd, for rx-interrupt mode (the guest writes it when
 * it adds buffers, if asked to: vhu_enable_guest_notification()).
 * @param vid the device
 * @param queue_id the vring index
 * @return the fd (owned by vhu), or -1: the ring has no kick fd (a polling
 * front-end), or rte_errno ENODEV (no such device), EINVAL (queue_id >=
 * VHU_MAX_VRINGS) or ENOENT (ring never set up)
 */
VHU_API int vhu_get_kickfd(int vid, uint16_t queue_id);

/**
 * Ask the guest to kick (enable = 1) or not (0) when it adds buffers to
 * the ring. A ring not running yet gets the setting when it starts. Waits
 * for a burst in progress on the ring to end.
 * @param vid the device
 * @param queue_id the vring index
 * @param enable non-zero: kick; 0: do not
 * @return 0, or -1 with rte_errno EINVAL (no such device or ring)
 */
VHU_API int vhu_enable_guest_notification(int vid, uint16_t queue_id, int enable);

/**
 * Account a kick read from the kick eventfd (the ring's kicks counter).
 * Nothing happens for a device or ring that does not exist.
 * @param vid the device
 * @param queue_id the vring index
 */
VHU_API void vhu_count_kick(int vid, uint16_t queue_id);

/* ---- datapath ---- */

/**
 * Guest TX -> host: take up to count packets from the guest's transmit
 * ring queue_id. One lcore at a time per ring. A pending RARP (SEND_RARP)
 * comes first.
 * @param vid the device
 * @param queue_id the vring index (odd: 2q + 1 for the guest's TX queue q)
 * @param mp where the mbufs come from
 * @param pkts where to store them; the caller owns the returned mbufs
 * @param count at most this many
 * @return the number of packets stored in pkts (0 also for a bad vid,
 * queue, argument, or a ring that is not active)
 */
VHU_API uint16_t vhu_dequeue_burst(int vid, uint16_t queue_id,
		struct rte_mempool *mp, struct rte_mbuf **pkts, uint16_t count);

/**
 * Host -> guest RX: copy up to count packets into the guest's receive ring
 * queue_id. One lcore at a time per ring. The caller still owns every
 * mbuf, sent or not, and frees the consumed ones.
 * @param vid the device
 * @param queue_id the vring index (even: 2q for the guest's RX queue q)
 * @param pkts the packets, in order
 * @param count how many
 * @return how many were consumed, from the first on: copied, or dropped
 * and counted because they can never fit the guest's buffers (0 also for
 * a bad vid, queue, argument, or a ring that is not active)
 */
VHU_API uint16_t vhu_enqueue_burst(int vid, uint16_t queue_id,
		struct rte_mbuf **pkts, uint16_t count);

/** Per-vring counters, kept by the library. Plain (not atomic) counters. */
struct vhu_vq_stats {
	uint64_t packets;        /**< packets moved */
	uint64_t bytes;          /**< their bytes (without virtio-net header) */
	uint64_t dropped;        /**< enqueue: no room / too big; dequeue: mbuf allocation failed */
	uint64_t errors;         /**< bad chains, bad headers (guest faults) */
	uint64_t size_bins[8];   /**< <64, 64, 65-127, 128-255, 256-511, 512-1023, 1024-1518, >1518 */
	uint64_t unicast;
	uint64_t multicast;
	uint64_t broadcast;
	uint64_t kicks;          /**< notifications received from the guest */
	uint64_t calls;          /**< notifications sent to the guest */
	uint64_t calls_suppressed; /**< notifications skipped because the guest asked */
	uint64_t iotlb_misses;     /**< IOTLB miss requests sent for this ring (ACCESS_PLATFORM) */
	uint64_t iotlb_invalidations; /**< IOTLB invalidations this ring was quiesced for */
};

/**
 * Copy a ring's counters. Plain counters: a reader racing the datapath may
 * see one burst late.
 * @param vid the device
 * @param queue_id the vring index
 * @param stats where to copy them
 * @return 0, or -1 with rte_errno EINVAL (no such device or ring, or
 * stats NULL)
 */
VHU_API int vhu_vq_stats_get(int vid, uint16_t queue_id, struct vhu_vq_stats *stats);

/**
 * Zero a ring's counters (while no burst runs on it, or counts of a burst
 * in progress may survive).
 * @param vid the device
 * @param queue_id the vring index
 * @return 0, or -1 with rte_errno EINVAL (no such device or ring)
 */
VHU_API int vhu_vq_stats_reset(int vid, uint16_t queue_id);

#ifdef __cplusplus
}
#endif

#endif /* VHU_H */
