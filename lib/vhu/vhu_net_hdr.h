/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The virtio-net header <-> mbuf offload metadata, both ways, and the RARP
 * frame SEND_RARP asks for (vhu_net_hdr.c); the plain header an enqueue
 * batch stores (inline).
 */

#ifndef VHU_NET_HDR_H
#define VHU_NET_HDR_H

#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "vhu_obj.h"

/* Guest offload bits that make the enqueue side fill the header. */
#define VHU_GUEST_OFFLOADS \
	(VHU_BIT(VHU_F_NET_GUEST_CSUM) | VHU_BIT(VHU_F_NET_GUEST_TSO4) | \
			VHU_BIT(VHU_F_NET_GUEST_TSO6) | VHU_BIT(VHU_F_NET_GUEST_UFO) | \
			VHU_BIT(VHU_F_NET_GUEST_USO4) | VHU_BIT(VHU_F_NET_GUEST_USO6))

/*
 * Dequeue: apply a guest's virtio-net header (already copied into a local)
 * to the mbuf holding the packet that followed it. Sets ol_flags,
 * packet_type, l2/l3/l4_len and tso_segsz, in DPDK's compliant (Rx flags)
 * or legacy (Tx flags) semantics; may complete a checksum in software.
 * Returns 0, or -EINVAL when the header is invalid for this packet or for
 * the negotiated features (the caller drops the packet).
 */
int vhu_net_hdr_to_mbuf(
		const struct vhu_dev *dev, const struct vhu_net_hdr *hdr, struct rte_mbuf *m);

/* Patches the enqueue side applies to the guest's copy of a packet. */
struct vhu_csum_patch {
	uint32_t off; /* byte offset in the packet (without virtio-net header) */
	uint16_t val; /* value to store, network order already */
};

struct vhu_tx_offload {
	uint8_t npatch;
	struct vhu_csum_patch patch[4];
};

/*
 * Enqueue: fill hdr (all but num_buffers) from the mbuf's Tx offload
 * requests and the guest's negotiated offloads. Checksums the guest cannot
 * take partially are computed here and returned as patches to apply to the
 * guest's copy (the mbuf is never modified). Returns 0, or -EINVAL when the
 * packet cannot be delivered correctly (GSO frame the guest cannot take).
 */
int vhu_net_hdr_from_mbuf(const struct vhu_dev *dev, const struct rte_mbuf *m,
		struct vhu_net_hdr *hdr, struct vhu_tx_offload *ol);

/* Build the gratuitous RARP frame (RFC 903) announcing mac into m. */
int vhu_net_build_rarp(struct rte_mbuf *m, const struct rte_ether_addr *mac);

/*
 * The header of a frame with no offload: all zero, num_buffers 1 when the
 * header has the field (hlen 12; else 10). Stored only where the guest's
 * buffer does not hold it already: a recycled buffer usually does, and
 * leaving its cache line unwritten spares the guest a miss when it next
 * reads or clears that header (its line stays shared instead of moving to
 * our core and back). Fixed-size accesses, no library call.
 */
static __rte_always_inline void
vhu_net_hdr_put_plain(uint8_t *dst, uint32_t hlen)
{
	static const uint8_t zero[sizeof(struct vhu_net_hdr) - 2];
	const uint16_t one = rte_cpu_to_le_16(1);
	uint64_t lo;
	uint16_t mid, nb;

	RTE_BUILD_BUG_ON(sizeof(zero) != sizeof(lo) + sizeof(mid));
	memcpy(&lo, dst, sizeof(lo));
	memcpy(&mid, dst + sizeof(lo), sizeof(mid));
	if (unlikely((lo | mid) != 0))
		memcpy(dst, zero, sizeof(zero));
	if (hlen == sizeof(struct vhu_net_hdr)) {
		memcpy(&nb, dst + sizeof(zero), sizeof(nb));
		if (unlikely(nb != one))
			memcpy(dst + sizeof(zero), &one, sizeof(one));
	}
}

#endif /* VHU_NET_HDR_H */
