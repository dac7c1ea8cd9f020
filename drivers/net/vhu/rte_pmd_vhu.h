/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/**
 * @file
 * net_vhu: what an application can ask a vhu ethdev port beyond rte_ethdev.
 *
 * Each net_vhu port serves one vhost-user socket. These calls map a port id
 * to that socket and to the vhu device (vid) currently connected on it, and
 * tell which queue changed state after an RTE_ETH_EVENT_QUEUE_STATE event.
 * All return -1 with rte_errno set on failure (ENODEV: not a net_vhu port).
 */

#ifndef RTE_PMD_VHU_H
#define RTE_PMD_VHU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef VHU_API
/* As in vhu.h (same definition, so including both in any order is fine). */
#define VHU_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** One queue state change, as read by vhu_eth_get_queue_event(). */
struct vhu_eth_queue_event {
	uint16_t queue_id; /**< ethdev queue id */
	bool rx;           /**< true: rx queue (the guest's TX ring), false: tx queue */
	bool enable;       /**< the queue's new state */
};

/**
 * The vid of the device connected on a port's socket.
 * @param port_id the ethdev port
 * @return the vid (>= 0), or -1 with rte_errno ENODEV (not a net_vhu port)
 * or ENOTCONN (no front-end ready on the socket).
 */
VHU_API int vhu_eth_get_vid(uint16_t port_id);

/**
 * Copy the port's socket path (the iface devarg) into buf.
 * @param port_id the ethdev port
 * @param buf where to copy it
 * @param len size of buf
 * @return 0, or -1 with rte_errno ENODEV, EINVAL (buf NULL) or ERANGE
 * (len too small for the path and its terminating NUL).
 */
VHU_API int vhu_eth_get_iface(uint16_t port_id, char *buf, size_t len);

/**
 * Take one queue state change not read yet. Call it after an
 * RTE_ETH_EVENT_QUEUE_STATE event, until it fails with EAGAIN: one event
 * may stand for several changes. A queue that changed twice between two
 * reads is reported once, with its current state; a queue back in the
 * state last read is not reported.
 * @param port_id the ethdev port
 * @param ev where to store the change
 * @return 0 with *ev filled, or -1 with rte_errno ENODEV, EINVAL (ev NULL)
 * or EAGAIN (nothing changed).
 */
VHU_API int vhu_eth_get_queue_event(uint16_t port_id, struct vhu_eth_queue_event *ev);

#ifdef __cplusplus
}
#endif

#endif /* RTE_PMD_VHU_H */
