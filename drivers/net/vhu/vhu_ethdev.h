/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * net_vhu private definitions shared by vhu_devargs.c (device arguments),
 * vhu_ethdev.c (probe, eth_dev_ops, library callbacks), vhu_rxtx.c
 * (bursts, queues, stats, rx interrupts) and vhu_mp.c (secondary processes).
 *
 * Threads and what they touch:
 *  - application threads call eth_dev_ops; they take port->lock;
 *  - the library's control thread runs the vhu_ops callbacks; they take
 *    port->lock too, and raise ethdev events after dropping it;
 *  - datapath lcores run the bursts; they take no lock, only the per-queue
 *    guard (vhu_eth_queue_enter/leave) that the other two wait on before a
 *    vid stops being valid for that queue.
 */

#ifndef VHU_ETHDEV_H
#define VHU_ETHDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_log.h>
#include <rte_pause.h>
#include <rte_spinlock.h>

#include <ethdev_driver.h>

#include "vhu.h"
#include "vhu_guard.h"

extern int vhu_eth_logtype;

#define VHU_ETH_LOG(level, iface, fmt, ...) \
	rte_log(RTE_LOG_##level, vhu_eth_logtype, "net_vhu: (%s) " fmt "\n", (iface), ##__VA_ARGS__)

/* Limits of the device arguments (documented in doc/guides/nics/vhu.rst). */
#define VHU_ETH_MTU_MIN       RTE_ETHER_MIN_MTU /* 68 */
#define VHU_ETH_FRAME_MAX     65535u            /* largest frame we take */
#define VHU_ETH_L2_OVERHEAD   (RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN)
#define VHU_ETH_MTU_MAX       (VHU_ETH_FRAME_MAX - VHU_ETH_L2_OVERHEAD) /* 65517 */
#define VHU_ETH_MTU_DEFAULT   RTE_ETHER_MTU                             /* 1500 */
#define VHU_ETH_RECONNECT_MAX 60000u                                    /* ms */

/*
 * The device arguments, one table. Columns: enum suffix, key, what is
 * accepted (shown in RTE_PMD_REGISTER_PARAM_STRING and in error messages),
 * kind, minimum, maximum. The parser, the key list and the parameter
 * string are all generated from it.
 */
/* clang-format off */
#define VHU_ETH_DEVARGS(X) \
	X(IFACE,      "iface",            "<path>",    PATH, 0, 0) \
	X(QUEUES,     "queues",           "<1-" RTE_STR(VHU_MAX_QUEUE_PAIRS) ">", \
					       UINT, 1, VHU_MAX_QUEUE_PAIRS) \
	X(CLIENT,     "client",           "<0|1>",     BOOL, 0, 1) \
	X(RECONNECT,  "reconnect",        "<0-60000>", UINT, 0, VHU_ETH_RECONNECT_MAX) \
	X(IOMMU,      "iommu-support",    "<0|1>",     BOOL, 0, 1) \
	X(POSTCOPY,   "postcopy-support", "<0|1>",     BOOL, 0, 1) \
	X(TSO,        "tso",              "<0|1>",     BOOL, 0, 1) \
	X(LINEAR_BUF, "linear-buffer",    "<0|1>",     BOOL, 0, 1) \
	X(EXT_BUF,    "ext-buffer",       "<0|1>",     BOOL, 0, 1) \
	X(LEGACY_OL,  "legacy-ol-flags",  "<0|1>",     BOOL, 0, 1) \
	X(MAC,        "mac",              "<xx:xx:xx:xx:xx:xx>", MAC, 0, 0) \
	X(MTU,        "mtu",              "<68-65517>", UINT, VHU_ETH_MTU_MIN, VHU_ETH_MTU_MAX) \
	X(PACKED,     "packed",           "<0|1>",     BOOL, 0, 1) \
	X(IN_ORDER,   "in-order",         "<0|1>",     BOOL, 0, 1) \
	X(MRG_RXBUF,  "mrg-rxbuf",        "<0|1>",     BOOL, 0, 1) \
	X(CSUM,       "csum",             "<0|1>",     BOOL, 0, 1) \
	X(UFO,        "ufo",              "<0|1>",     BOOL, 0, 1) \
	X(TX_STEER,   "tx-steer",         "<0|1>",     BOOL, 0, 1)
/* clang-format on */

enum vhu_eth_arg_id {
#define VHU_ETH_ARG_ENUM(id, key, help, kind, min, max) VHU_ETH_ARG_##id,
	VHU_ETH_DEVARGS(VHU_ETH_ARG_ENUM)
#undef VHU_ETH_ARG_ENUM
	VHU_ETH_ARG_COUNT
};

/* "iface=<path> queues=<1-128> ...": the string dpdk-pmdinfo shows. */
#define VHU_ETH_ARG_PARAM(id, key, help, kind, min, max) key "=" help " "
/* clang-format off */
#define VHU_ETH_PARAM_STRING VHU_ETH_DEVARGS(VHU_ETH_ARG_PARAM)
/* clang-format on */

/* What the parser produced. */
struct vhu_eth_devargs {
	bool given[VHU_ETH_ARG_COUNT];
	uint32_t val[VHU_ETH_ARG_COUNT]; /* BOOL and UINT keys */
	char iface[VHU_PATH_MAX];
	struct rte_ether_addr mac;
};

/*
 * Parse a devargs string. On error returns -EINVAL with a message naming
 * the key, the value and what is accepted in err.
 */
int vhu_eth_devargs_parse(const char *args, struct vhu_eth_devargs *out, char *err, size_t errlen);

/*
 * Fill a socket registration from parsed devargs (path points into args).
 * Returns 0 (err says "no error"): every combination maps, and what this
 * host cannot serve (postcopy-support=1 without userfaultfd) is the
 * library's to refuse when the socket registers.
 */
int vhu_eth_devargs_to_conf(const struct vhu_eth_devargs *args, struct vhu_socket_conf *conf,
		char *err, size_t errlen);

/* Number of queue pairs the arguments ask for (1 when not given). */
static inline uint16_t
vhu_eth_devargs_queues(const struct vhu_eth_devargs *args)
{
	return args->given[VHU_ETH_ARG_QUEUES] ? (uint16_t)args->val[VHU_ETH_ARG_QUEUES] : 1;
}

/*
 * One rx or tx queue. The first cache line is what a burst reads.
 * vid is the device this queue moves packets for, or -1 while the port is
 * stopped, the queue is stopped, or no device is ready.
 */
struct vhu_eth_queue {
	int vid;        /* written by control paths, read by bursts */
	uint32_t dp_busy; /* the lcore is inside a burst with vid */
	uint32_t busy;    /* control calls (rx intr) inside with vid */
	uint16_t vring;   /* rx queue q: 2q+1; tx queue q: 2q, or the ring it is steered to */
	uint16_t port_id;
	rte_spinlock_t *tx_lock; /* tx: the ring's lock while queues share it, else NULL */
	bool sw_csum;           /* rx: complete partial checksums (see rx_sw_csum) */
	bool ip_csum;           /* rx: verify IPv4 header checksums (see rx_ip_csum) */
	struct rte_mempool *mp; /* rx: mbuf pool */

	/* ---- control (under port->lock) ---- */
	struct vhu_eth_port *port __rte_cache_aligned;
	uint16_t qid;
	bool rx;
	bool stopped; /* rx/tx_queue_stop, or deferred start */
	uint16_t nb_desc;
	union {
		struct rte_eth_rxconf rxconf;
		struct rte_eth_txconf txconf;
	};
};

/* Rx interrupt state of one rx queue index (see vhu_rxtx.c). */
struct vhu_eth_rxintr {
	rte_spinlock_t lock;
	int proxy_fd; /* epoll fd handed to EAL as this queue's efd */
	int kick_fd;  /* our dup of the ring's kick eventfd, -1: none */
	bool wanted;  /* the application enabled the interrupt */
};

struct vhu_eth_port {
	pthread_mutex_t lock; /* control state below; never held across callbacks */
	struct rte_eth_dev *eth_dev;
	uint16_t port_id;
	bool probed;         /* probing finished: ethdev events may be raised */
	bool registered;     /* socket registered with the library */
	bool started;        /* dev_start ... dev_stop */
	int vid;             /* ready device, -1: none */
	bool carrier;        /* vid's guest posted receive buffers on queue 0: link up */
	bool carrier_raised; /* the LSC event of the carrier was raised */
	bool carrier_armed;  /* the carrier alarm is pending (see carrier_poll) */
	bool closing;        /* close started: no alarm is armed again */
	uint32_t carrier_polls;
	uint64_t features;   /* negotiated features of vid */
	uint16_t max_queues; /* queues devarg */
	char iface[VHU_PATH_MAX];
	struct vhu_eth_devargs args;
	struct vhu_socket_conf conf;

	struct vhu_eth_queue **rxq; /* [max_queues] */
	struct vhu_eth_queue **txq; /* [max_queues] */

	/*
	 * Counters per vring ([2 * max_queues]): what the port reports is
	 * base + (library counters of the live device - offset). base keeps
	 * what earlier devices counted (folded in destroy_device); offset is
	 * the live counters at the last reset.
	 */
	struct vhu_vq_stats *base;
	struct vhu_vq_stats *offset;

	/* Queue-state events ([2 * max_queues]), under ev_lock. */
	rte_spinlock_t ev_lock;
	uint8_t *vring_cur;  /* enabled as last reported by the library */
	rte_spinlock_t *tx_locks; /* [max_queues]: one per guest receive ring (tx steering) */
	uint8_t *vring_seen; /* as last read by vhu_eth_get_queue_event() */
	uint32_t ev_next;    /* where the next scan starts (fairness) */

	/* Rx interrupts: [intr_count] entries, present while intr_handle is. */
	struct vhu_eth_rxintr *intr;
	uint16_t intr_count;
};

/* ---- queue guard: see the comments in the functions ---- */

/*
 * Datapath, before vhu_eth_queue_enter(): is there no device behind the
 * queue (port or queue stopped, no front-end)? A burst that reads -1 here
 * returns without touching anything, so it needs neither dp_busy nor the
 * fence: the common poll of an unconnected port is one load. A vid being
 * published just now is taken by the next burst; a vid being withdrawn
 * just now is read as still valid and the burst goes through
 * vhu_eth_queue_enter(), which settles it.
 */
static __rte_always_inline bool
vhu_eth_queue_idle(const struct vhu_eth_queue *q)
{
	return __atomic_load_n(&q->vid, __ATOMIC_RELAXED) < 0;
}

/*
 * Datapath entry (rx/tx burst; one lcore per queue): announce that this
 * thread is about to use q->vid, then read it. Of "lcore stores dp_busy
 * then loads vid" and "control stores vid=-1 then loads dp_busy", at least
 * one side must see the other's store: the lcore's light fence and the
 * heavy fence in vhu_eth_queue_set_vid() make that so (vhu_guard.h), with
 * no locked instruction per burst. Either the lcore sees -1, or the
 * control side sees dp_busy and waits for vhu_eth_queue_leave().
 */
static __rte_always_inline int
vhu_eth_queue_enter(struct vhu_eth_queue *q)
{
	__atomic_store_n(&q->dp_busy, 1, __ATOMIC_RELAXED);
	vhu_fence_light();
	return __atomic_load_n(&q->vid, __ATOMIC_ACQUIRE);
}

/*
 * Datapath exit. Release: every access to the device inside the burst is
 * ordered before the store that lets the control side (its load of
 * dp_busy in vhu_eth_queue_set_vid) go on and let the device be freed.
 */
static __rte_always_inline void
vhu_eth_queue_leave(struct vhu_eth_queue *q)
{
	__atomic_store_n(&q->dp_busy, 0, __ATOMIC_RELEASE);
}

/*
 * The same for a control call on a queue (rx interrupt enable/disable),
 * which may overlap a burst: a counter, with sequentially consistent
 * operations (the slow path pays its own fence).
 */
static inline int
vhu_eth_queue_ctl_enter(struct vhu_eth_queue *q)
{
	__atomic_fetch_add(&q->busy, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&q->vid, __ATOMIC_SEQ_CST);
}

static inline void
vhu_eth_queue_ctl_leave(struct vhu_eth_queue *q)
{
	__atomic_fetch_sub(&q->busy, 1, __ATOMIC_RELEASE);
}

/* tx-steer: on unless tx-steer=0 (see tx_steer in vhu_rxtx.c). */
static inline bool
vhu_eth_tx_steer_on(const struct vhu_eth_port *port)
{
	return !port->args.given[VHU_ETH_ARG_TX_STEER] || port->args.val[VHU_ETH_ARG_TX_STEER] != 0;
}

/* The MAC of a port given no mac devarg: stable per socket path (vhu_ethdev.c). */
void vhu_eth_default_mac(const char *iface, struct rte_ether_addr *mac);

/* ---- vhu_rxtx.c ---- */
uint16_t vhu_eth_rx_burst(void *rxq, struct rte_mbuf **pkts, uint16_t n);
uint16_t vhu_eth_tx_burst(void *txq, struct rte_mbuf **pkts, uint16_t n);

/* Publish vid to a queue; with vid < 0 returns only once no burst uses the old one. */
void vhu_eth_queue_set_vid(struct vhu_eth_queue *q, int vid);
/*
 * Recompute every queue's vid, and every tx queue's ring (tx steering), from
 * the port state. Caller holds port->lock.
 */
void vhu_eth_queues_sync(struct vhu_eth_port *port);

int vhu_eth_rx_queue_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc,
		unsigned int socket_id, const struct rte_eth_rxconf *conf, struct rte_mempool *mp);
int vhu_eth_tx_queue_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc,
		unsigned int socket_id, const struct rte_eth_txconf *conf);
void vhu_eth_rx_queue_release(struct rte_eth_dev *dev, uint16_t qid);
void vhu_eth_tx_queue_release(struct rte_eth_dev *dev, uint16_t qid);
int vhu_eth_rx_queue_start(struct rte_eth_dev *dev, uint16_t qid);
int vhu_eth_rx_queue_stop(struct rte_eth_dev *dev, uint16_t qid);
int vhu_eth_tx_queue_start(struct rte_eth_dev *dev, uint16_t qid);
int vhu_eth_tx_queue_stop(struct rte_eth_dev *dev, uint16_t qid);
void vhu_eth_rxq_info_get(struct rte_eth_dev *dev, uint16_t qid, struct rte_eth_rxq_info *qinfo);
void vhu_eth_txq_info_get(struct rte_eth_dev *dev, uint16_t qid, struct rte_eth_txq_info *qinfo);

/* Counters (caller holds port->lock for the fold/clear helpers). */
/* Add what device vid counted since the last reset to the port's base. */
void vhu_eth_stats_fold(struct vhu_eth_port *port, int vid);
void vhu_eth_stats_clear(struct vhu_eth_port *port);
int vhu_eth_stats_get(struct rte_eth_dev *dev, struct rte_eth_stats *stats);
int vhu_eth_stats_reset(struct rte_eth_dev *dev);
int vhu_eth_xstats_get(struct rte_eth_dev *dev, struct rte_eth_xstat *xstats, unsigned int n);
int vhu_eth_xstats_get_names(
		struct rte_eth_dev *dev, struct rte_eth_xstat_name *names, unsigned int size);

/* Rx interrupts. */
int vhu_eth_intr_install(struct vhu_eth_port *port);
void vhu_eth_intr_uninstall(struct vhu_eth_port *port);
/* Point each rx queue's proxy at the current kick fd (or none). Caller holds port->lock. */
void vhu_eth_intr_refresh(struct vhu_eth_port *port);
void vhu_eth_intr_refresh_queue(struct vhu_eth_port *port, uint16_t qid);
int vhu_eth_rx_intr_enable(struct rte_eth_dev *dev, uint16_t qid);
int vhu_eth_rx_intr_disable(struct rte_eth_dev *dev, uint16_t qid);

/* ---- vhu_mp.c: secondary processes ---- */
struct rte_vdev_device;
/* Secondary: attach the primary's port of that name, with ops that ask the primary. */
int vhu_mp_probe_secondary(struct rte_vdev_device *vdev);
/* Secondary: release this process's view of the port; the primary's is untouched. */
int vhu_mp_remove_secondary(struct rte_vdev_device *vdev);
/* Primary: answer secondaries' requests on this port (from probe's end). */
void vhu_mp_port_add(struct vhu_eth_port *port);
/* Primary: stop answering them; returns once no request uses the port (close). */
void vhu_mp_port_del(struct vhu_eth_port *port);

#endif /* VHU_ETHDEV_H */
