/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * net_vhu in DPDK secondary processes (dpdk-dumpcap, dpdk-pdump,
 * dpdk-proc-info, or any application started with --proc-type=secondary).
 *
 * A vhost-user device lives in the primary: its socket, the control thread,
 * the guest's memory and the library's device objects (with the per-vring
 * counters) are the primary's, in its private heap. A secondary attaches
 * the primary's ports (same port ids, same rte_eth_dev_data in shared
 * memory) with its own eth_dev_ops:
 *  - link status and the MAC are read from rte_eth_dev_data, which the
 *    primary keeps up to date;
 *  - device info, stats, xstats names and values and stats reset are asked
 *    of the primary over EAL's multi-process channel (below);
 *  - the bursts refuse: the datapath stays in the primary (a capture tool
 *    asks the primary to copy packets through lib/pdump instead). They
 *    return 0 and log one error line, then at most one every
 *    VHU_MP_LOG_PERIOD_S seconds;
 *  - remove and close release only the secondary's view of the port.
 *
 * Why a shared-memory block and not the message itself: an IPC message
 * carries at most RTE_MP_MAX_PARAM_LEN (256) bytes, less than one struct
 * rte_eth_stats, and a port has up to 2 * 128 * 18 xstats of 64-byte
 * names. Paging through them would take hundreds of round trips per call.
 * Instead the secondary reserves a memzone sized for the answer, names it
 * in the request, and the primary fills it before it replies: one round
 * trip per ethdev call, of any size. Each request gets a zone of its own
 * (named after the secondary's pid and a sequence number), freed once the
 * reply is in, so a tool that exits without cleaning up leaves nothing
 * behind and two secondaries never share a zone. After a timeout the
 * primary may still be writing the zone: it is then left allocated, never
 * reused.
 *
 * The primary side: the action is registered while at least one net_vhu
 * port exists. It runs on EAL's IPC thread and serves one request at a time
 * under mp_lock, which port close takes (vhu_mp_port_del) before it frees
 * anything: a request either completes before the port closes or finds no
 * port. The counters are read by the port's own ops, under port->lock like
 * any stats call, so the IPC thread holds that lock only as long as an
 * application's stats call does.
 *
 * Nothing the primary answers is trusted as is: the secondary checks the
 * reply's size, magic, sequence number, operation and port name, the zone's
 * header (same sequence number and port, entry count within what it
 * asked for) and terminates every name.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_memzone.h>
#include <rte_string_fns.h>

#include <bus_vdev_driver.h>
#include <ethdev_driver.h>

#include "vhu_ethdev.h"

#define VHU_MP_ACTION       "net_vhu_mp"
#define VHU_MP_MAGIC        0x76687531u /* "vhu1" */
#define VHU_MP_ZONE_PREFIX  "vhu_mp_"
#define VHU_MP_TIMEOUT_S    2
#define VHU_MP_LOG_PERIOD_S 10

enum vhu_mp_op {
	VHU_MP_OP_INFO = 1,     /* struct rte_eth_dev_info, as ethdev prepared it */
	VHU_MP_OP_STATS,        /* struct rte_eth_stats, as ethdev prepared it */
	VHU_MP_OP_XSTATS_NAMES, /* struct rte_eth_xstat_name[count] */
	VHU_MP_OP_XSTATS,       /* struct rte_eth_xstat[count] */
	VHU_MP_OP_RESET,        /* stats and xstats reset, no zone */
};

/* Secondary -> primary. zone is empty when no data comes back (a count, a reset). */
struct vhu_mp_req {
	uint32_t magic;
	uint32_t op;
	uint64_t seq;
	uint16_t port_id;
	char port_name[RTE_ETH_NAME_MAX_LEN];
	char zone[RTE_MEMZONE_NAMESIZE];
};

/* Primary -> secondary. */
struct vhu_mp_resp {
	uint32_t magic;
	uint32_t op;
	uint64_t seq;
	int32_t status; /* 0 or -errno */
	uint32_t count; /* xstats: entries the port has (written when they fit) */
	char port_name[RTE_ETH_NAME_MAX_LEN];
};

static_assert(sizeof(struct vhu_mp_req) <= RTE_MP_MAX_PARAM_LEN, "request too big for IPC");
static_assert(sizeof(struct vhu_mp_resp) <= RTE_MP_MAX_PARAM_LEN, "reply too big for IPC");

/* The head of a zone; the payload follows. Written by the primary before it replies. */
struct vhu_mp_zone {
	uint64_t seq;
	uint32_t op;
	uint32_t written; /* entries (or 1 for INFO/STATS) in the payload */
	char port_name[RTE_ETH_NAME_MAX_LEN];
	uint8_t payload[] __rte_aligned(RTE_CACHE_LINE_SIZE);
};

/* ---- primary: the ports served and the IPC action ---- */

static pthread_mutex_t mp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vhu_eth_port *mp_ports[RTE_MAX_ETHPORTS]; /* under mp_lock */
static unsigned int mp_nb_ports;                        /* under mp_lock */
static bool mp_action_on;                               /* under mp_lock */

/* Size of one entry of an operation's payload. */
static size_t
op_entry_size(uint32_t op)
{
	switch (op) {
	case VHU_MP_OP_INFO:
		return sizeof(struct rte_eth_dev_info);
	case VHU_MP_OP_STATS:
		return sizeof(struct rte_eth_stats);
	case VHU_MP_OP_XSTATS_NAMES:
		return sizeof(struct rte_eth_xstat_name);
	case VHU_MP_OP_XSTATS:
		return sizeof(struct rte_eth_xstat);
	default:
		return 0;
	}
}

/* The zone a request names: one of ours, big enough for at least one entry. */
static struct vhu_mp_zone *
serve_zone(const struct vhu_mp_req *req, size_t *cap)
{
	const struct rte_memzone *mz;
	size_t esz = op_entry_size(req->op);

	if (strncmp(req->zone, VHU_MP_ZONE_PREFIX, strlen(VHU_MP_ZONE_PREFIX)) != 0)
		return NULL;
	mz = rte_memzone_lookup(req->zone);
	if (mz == NULL || esz == 0 || mz->len < sizeof(struct vhu_mp_zone) + esz)
		return NULL;
	*cap = (mz->len - sizeof(struct vhu_mp_zone)) / esz;
	return mz->addr;
}

/* Answer one request for a port we serve. Caller holds mp_lock. */
static int
serve(struct rte_eth_dev *dev, const struct vhu_mp_req *req, struct vhu_mp_resp *resp)
{
	const struct eth_dev_ops *ops = dev->dev_ops;
	struct vhu_mp_zone *z = NULL;
	size_t cap = 0;
	int n, rc = 0;

	if (req->op == VHU_MP_OP_RESET)
		return ops->stats_reset != NULL ? ops->stats_reset(dev) : -ENOTSUP;
	if (req->zone[0] != '\0') {
		z = serve_zone(req, &cap);
		if (z == NULL)
			return -EINVAL;
	}
	switch (req->op) {
	case VHU_MP_OP_INFO:
		if (z == NULL)
			return -EINVAL;
		rc = ops->dev_infos_get(dev, (struct rte_eth_dev_info *)z->payload);
		resp->count = 1;
		break;
	case VHU_MP_OP_STATS:
		if (z == NULL)
			return -EINVAL;
		rc = ops->stats_get(dev, (struct rte_eth_stats *)z->payload);
		resp->count = 1;
		break;
	case VHU_MP_OP_XSTATS_NAMES:
		n = ops->xstats_get_names(dev, NULL, 0);
		if (n < 0)
			return n;
		resp->count = (uint32_t)n;
		if (z == NULL || (size_t)n > cap)
			return 0; /* the caller learns the count only */
		n = ops->xstats_get_names(
				dev, (struct rte_eth_xstat_name *)z->payload, (unsigned int)n);
		if (n < 0)
			return n;
		resp->count = (uint32_t)n;
		break;
	case VHU_MP_OP_XSTATS:
		n = ops->xstats_get(dev, NULL, 0);
		if (n < 0)
			return n;
		resp->count = (uint32_t)n;
		if (z == NULL || (size_t)n > cap)
			return 0;
		n = ops->xstats_get(dev, (struct rte_eth_xstat *)z->payload, (unsigned int)n);
		if (n < 0)
			return n;
		resp->count = (uint32_t)n;
		break;
	default:
		return -EINVAL;
	}
	if (rc != 0)
		return rc;
	/* The count grew between the two calls: nothing written, the secondary learns the count. */
	if (resp->count > cap)
		return 0;
	z->written = resp->count;
	z->op = req->op;
	memcpy(z->port_name, dev->data->name, sizeof(z->port_name));
	/* Pairs with the secondary's load of seq once our reply is in: the payload before it. */
	__atomic_store_n(&z->seq, req->seq, __ATOMIC_RELEASE);
	return 0;
}

/* EAL's IPC thread: one request from a secondary. */
static int
mp_action(const struct rte_mp_msg *msg, const void *peer)
{
	struct rte_mp_msg reply;
	struct vhu_mp_resp resp;
	struct vhu_mp_req req;
	struct vhu_eth_port *port;

	memset(&reply, 0, sizeof(reply));
	memset(&resp, 0, sizeof(resp));
	memset(&req, 0, sizeof(req));
	resp.magic = VHU_MP_MAGIC;
	resp.status = -EINVAL;
	if (msg->len_param == sizeof(req)) {
		memcpy(&req, msg->param, sizeof(req));
		req.port_name[sizeof(req.port_name) - 1] = '\0';
		req.zone[sizeof(req.zone) - 1] = '\0';
	}
	resp.op = req.op;
	resp.seq = req.seq;
	memcpy(resp.port_name, req.port_name, sizeof(resp.port_name));
	if (req.magic == VHU_MP_MAGIC) {
		pthread_mutex_lock(&mp_lock);
		port = req.port_id < RTE_MAX_ETHPORTS ? mp_ports[req.port_id] : NULL;
		if (port == NULL || strcmp(port->eth_dev->data->name, req.port_name) != 0)
			resp.status = -ENODEV;
		else
			resp.status = serve(port->eth_dev, &req, &resp);
		if (resp.status != 0)
			VHU_ETH_LOG(DEBUG, port != NULL ? port->iface : req.port_name,
					"secondary's request %u on port %u: %s", req.op,
					req.port_id, rte_strerror(-resp.status));
		pthread_mutex_unlock(&mp_lock);
	}
	rte_strlcpy(reply.name, VHU_MP_ACTION, sizeof(reply.name));
	reply.len_param = sizeof(resp);
	memcpy(reply.param, &resp, sizeof(resp));
	return rte_mp_reply(&reply, peer);
}

void
vhu_mp_port_add(struct vhu_eth_port *port)
{
	pthread_mutex_lock(&mp_lock);
	if (!mp_action_on) {
		if (rte_mp_action_register(VHU_MP_ACTION, mp_action) == 0 || rte_errno == EEXIST)
			mp_action_on = true;
		else if (rte_errno == ENOTSUP)
			/* no shared config (--in-memory, --no-shconf): no secondary can exist */
			VHU_ETH_LOG(DEBUG, port->iface,
					"no multi-process channel: secondaries not served");
		else
			VHU_ETH_LOG(WARNING, port->iface, "cannot serve secondary processes: %s",
					rte_strerror(rte_errno));
	}
	if (port->port_id < RTE_MAX_ETHPORTS && mp_ports[port->port_id] == NULL) {
		mp_ports[port->port_id] = port;
		mp_nb_ports++;
	}
	pthread_mutex_unlock(&mp_lock);
}

void
vhu_mp_port_del(struct vhu_eth_port *port)
{
	/* Waits for a request being served on this port: after this none will find it. */
	pthread_mutex_lock(&mp_lock);
	if (port->port_id < RTE_MAX_ETHPORTS && mp_ports[port->port_id] == port) {
		mp_ports[port->port_id] = NULL;
		mp_nb_ports--;
	}
	if (mp_nb_ports == 0 && mp_action_on) {
		rte_mp_action_unregister(VHU_MP_ACTION);
		mp_action_on = false;
	}
	pthread_mutex_unlock(&mp_lock);
}

/* ---- secondary: asking the primary ---- */

static uint64_t mp_seq; /* sequence of this process's requests */

static const char *
sec_iface(const struct rte_eth_dev *dev)
{
	const struct vhu_eth_port *port = dev->data->dev_private;

	/* the primary's port, in shared memory: iface is written once, at probe */
	return port != NULL ? port->iface : dev->data->name;
}

/*
 * One request: ask the primary to run op on dev's port and, when out is
 * given, to write up to cap entries into a zone we then copy into out
 * (which holds what ethdev prepared; INFO and STATS are updated in place).
 * Returns the primary's entry count (>= 0) or -errno.
 */
static int
mp_call(struct rte_eth_dev *dev, uint32_t op, void *out, size_t cap)
{
	const struct rte_memzone *mz = NULL;
	const struct vhu_mp_resp *resp;
	struct timespec ts = { .tv_sec = VHU_MP_TIMEOUT_S, .tv_nsec = 0 };
	struct rte_mp_reply reply;
	struct vhu_mp_zone *z = NULL;
	struct rte_mp_msg msg;
	struct vhu_mp_req req;
	size_t esz = op_entry_size(op);
	bool keep_zone = false;
	int rc;

	memset(&req, 0, sizeof(req));
	memset(&msg, 0, sizeof(msg));
	memset(&reply, 0, sizeof(reply));
	req.magic = VHU_MP_MAGIC;
	req.op = op;
	req.seq = __atomic_add_fetch(&mp_seq, 1, __ATOMIC_RELAXED);
	req.port_id = dev->data->port_id;
	rte_strlcpy(req.port_name, dev->data->name, sizeof(req.port_name));
	if (out != NULL && cap > 0 && esz > 0) {
		snprintf(req.zone, sizeof(req.zone), VHU_MP_ZONE_PREFIX "%d_%" PRIx64,
				(int)getpid(), req.seq);
		mz = rte_memzone_reserve(req.zone, sizeof(*z) + cap * esz, SOCKET_ID_ANY, 0);
		if (mz == NULL) {
			VHU_ETH_LOG(ERR, sec_iface(dev),
					"port %u: no memory for the primary's answer: %s",
					req.port_id, rte_strerror(rte_errno));
			return -ENOMEM;
		}
		z = mz->addr;
		memset(z, 0, sizeof(*z));
		if (op == VHU_MP_OP_INFO || op == VHU_MP_OP_STATS)
			memcpy(z->payload, out, esz);
	}
	rte_strlcpy(msg.name, VHU_MP_ACTION, sizeof(msg.name));
	msg.len_param = sizeof(req);
	memcpy(msg.param, &req, sizeof(req));

	rc = rte_mp_request_sync(&msg, &reply, &ts);
	if (rc != 0 || reply.nb_received != 1) {
		/* Timed out: the primary may still write the zone later; leave it to it. */
		keep_zone = rc != 0 && rte_errno == ETIMEDOUT;
		VHU_ETH_LOG(ERR, sec_iface(dev), "port %u: the primary process did not answer (%s)",
				req.port_id, rc != 0 ? rte_strerror(rte_errno) : "no reply");
		rc = -EIO;
		goto out;
	}
	resp = (const struct vhu_mp_resp *)reply.msgs[0].param;
	if (reply.msgs[0].len_param != sizeof(*resp) || resp->magic != VHU_MP_MAGIC ||
			resp->seq != req.seq || resp->op != op ||
			strncmp(resp->port_name, req.port_name, sizeof(req.port_name)) != 0) {
		VHU_ETH_LOG(ERR, sec_iface(dev),
				"port %u: malformed answer from the primary process", req.port_id);
		rc = -EIO;
		goto out;
	}
	if (resp->status != 0) {
		rc = resp->status < 0 ? resp->status : -EIO;
		VHU_ETH_LOG(ERR, sec_iface(dev), "port %u: the primary process refused: %s",
				req.port_id, rte_strerror(-rc));
		goto out;
	}
	rc = resp->count > INT32_MAX ? -EIO : (int)resp->count;
	if (rc < 0 || z == NULL || resp->count > cap)
		goto out; /* a count, or data that did not fit (the caller says how much is needed) */
	if (__atomic_load_n(&z->seq, __ATOMIC_ACQUIRE) != req.seq || z->op != op ||
			z->written != resp->count ||
			strncmp(z->port_name, req.port_name, sizeof(req.port_name)) != 0) {
		VHU_ETH_LOG(ERR, sec_iface(dev), "port %u: the primary's answer is inconsistent",
				req.port_id);
		rc = -EIO;
		goto out;
	}
	memcpy(out, z->payload, (size_t)z->written * esz);
out:
	free(reply.msgs);
	if (mz != NULL && !keep_zone)
		rte_memzone_free(mz);
	return rc;
}

static int
sec_infos_get(struct rte_eth_dev *dev, struct rte_eth_dev_info *info)
{
	struct rte_eth_dev_info mine = *info;
	int rc;

	rc = mp_call(dev, VHU_MP_OP_INFO, &mine, 1);
	if (rc < 0)
		return rc;
	/* Pointers are this process's: keep ours (ethdev sets driver_name and dev_flags after). */
	mine.device = info->device;
	mine.switch_info.name = info->switch_info.name;
	mine.driver_name = info->driver_name;
	mine.dev_flags = info->dev_flags;
	*info = mine;
	return 0;
}

static int
sec_stats_get(struct rte_eth_dev *dev, struct rte_eth_stats *stats)
{
	struct rte_eth_stats mine = *stats;
	int rc;

	rc = mp_call(dev, VHU_MP_OP_STATS, &mine, 1);
	if (rc < 0)
		return rc;
	*stats = mine;
	return 0;
}

static int
sec_stats_reset(struct rte_eth_dev *dev)
{
	int rc = mp_call(dev, VHU_MP_OP_RESET, NULL, 0);

	return rc < 0 ? rc : 0;
}

static int
sec_xstats_get_names(struct rte_eth_dev *dev, struct rte_eth_xstat_name *names, unsigned int size)
{
	int n, i;

	n = mp_call(dev, VHU_MP_OP_XSTATS_NAMES, names, names != NULL ? size : 0);
	if (n <= 0 || names == NULL || (unsigned int)n > size)
		return n;
	for (i = 0; i < n; i++)
		names[i].name[sizeof(names[i].name) - 1] = '\0';
	return n;
}

static int
sec_xstats_get(struct rte_eth_dev *dev, struct rte_eth_xstat *xstats, unsigned int n)
{
	int count, i;

	count = mp_call(dev, VHU_MP_OP_XSTATS, xstats, xstats != NULL ? n : 0);
	if (count <= 0 || xstats == NULL || (unsigned int)count > n)
		return count;
	/* ids index the names: anything else would make ethdev's offsets lie */
	for (i = 0; i < count; i++)
		if (xstats[i].id != (uint64_t)i) {
			VHU_ETH_LOG(ERR, sec_iface(dev), "port %u: xstat %d has id %" PRIu64,
					dev->data->port_id, i, xstats[i].id);
			return -EIO;
		}
	return count;
}

/* The link is in rte_eth_dev_data, which the primary keeps current. */
static int
sec_link_update(struct rte_eth_dev *dev __rte_unused, int wait_to_complete __rte_unused)
{
	return 0;
}

/* As in the primary: a vhost-user port sees every frame, these are no-ops. */
static int
sec_accept(struct rte_eth_dev *dev __rte_unused)
{
	return 0;
}

/* Close in a secondary: nothing of ours to free; ethdev then releases our view. */
static int
sec_close(struct rte_eth_dev *dev __rte_unused)
{
	return 0;
}

static const struct eth_dev_ops vhu_mp_sec_ops = {
	.dev_close = sec_close,
	.dev_infos_get = sec_infos_get,
	.link_update = sec_link_update,
	.promiscuous_enable = sec_accept,
	.promiscuous_disable = sec_accept,
	.allmulticast_enable = sec_accept,
	.allmulticast_disable = sec_accept,
	.stats_get = sec_stats_get,
	.stats_reset = sec_stats_reset,
	.xstats_get = sec_xstats_get,
	.xstats_get_names = sec_xstats_get_names,
	.xstats_reset = sec_stats_reset,
	/* read the queue's setup from shared memory, as in the primary */
	.rxq_info_get = vhu_eth_rxq_info_get,
	.txq_info_get = vhu_eth_txq_info_get,
};

/* ---- secondary: bursts ---- */

/* Per port and direction (0 rx, 1 tx): refused calls and when we may log again. */
static struct {
	uint64_t refused;
	uint64_t next_tsc;
} sec_refusals[RTE_MAX_ETHPORTS][2];

static uint16_t
sec_refuse(void *queue, bool tx)
{
	const struct vhu_eth_queue *q = queue;
	uint16_t port_id = q != NULL ? q->port_id : 0;
	uint64_t now, next, refused;

	if (port_id >= RTE_MAX_ETHPORTS)
		return 0;
	refused = __atomic_add_fetch(&sec_refusals[port_id][tx].refused, 1, __ATOMIC_RELAXED);
	now = rte_get_timer_cycles();
	next = __atomic_load_n(&sec_refusals[port_id][tx].next_tsc, __ATOMIC_RELAXED);
	/* One lcore wins the right to log this period. */
	if (now < next ||
			!__atomic_compare_exchange_n(&sec_refusals[port_id][tx].next_tsc, &next,
					now + VHU_MP_LOG_PERIOD_S * rte_get_timer_hz(), false,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return 0;
	VHU_ETH_LOG(ERR, sec_iface(&rte_eth_devices[port_id]),
			"port %u: %s burst in a secondary process refused (%" PRIu64
			" so far): net_vhu moves packets in the primary process only",
			port_id, tx ? "tx" : "rx", refused);
	return 0;
}

static uint16_t
sec_rx_burst(void *rxq, struct rte_mbuf **pkts __rte_unused, uint16_t n __rte_unused)
{
	return sec_refuse(rxq, false);
}

static uint16_t
sec_tx_burst(void *txq, struct rte_mbuf **pkts __rte_unused, uint16_t n __rte_unused)
{
	return sec_refuse(txq, true);
}

/* ---- secondary: probe and remove ---- */

int
vhu_mp_probe_secondary(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct rte_eth_dev *eth_dev;

	eth_dev = rte_eth_dev_attach_secondary(name);
	if (eth_dev == NULL) {
		VHU_ETH_LOG(ERR, name, "secondary process: the primary has no port %s", name);
		return -ENODEV;
	}
	eth_dev->device = &vdev->device;
	eth_dev->dev_ops = &vhu_mp_sec_ops;
	eth_dev->rx_pkt_burst = sec_rx_burst;
	eth_dev->tx_pkt_burst = sec_tx_burst;
	rte_eth_dev_probing_finish(eth_dev);
	VHU_ETH_LOG(INFO, sec_iface(eth_dev), "port %u (%s) attached in a secondary process",
			eth_dev->data->port_id, name);
	return 0;
}

int
vhu_mp_remove_secondary(struct rte_vdev_device *vdev)
{
	struct rte_eth_dev *eth_dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));

	if (eth_dev == NULL)
		return 0;
	/* In a secondary this forgets our view only: the primary's port and data stay. */
	return rte_eth_dev_release_port(eth_dev);
}
