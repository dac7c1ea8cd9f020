/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * virtio-net header <-> mbuf offload metadata, and the RARP frame.
 *
 * Dequeue (guest TX): a header asking for a partial checksum (NEEDS_CSUM)
 * or segmentation (gso_type) becomes, per port:
 *  - compliant semantics (default): Rx metadata, as a NIC would report a
 *    received frame: RTE_MBUF_F_RX_L4_CKSUM_NONE for a partial checksum the
 *    application may complete or leave to the next hop, RTE_MBUF_F_RX_LRO +
 *    tso_segsz for a coalesced (GSO) frame, RX_L4_CKSUM_GOOD for DATA_VALID;
 *  - legacy semantics (VHU_SOCK_LEGACY_OL_FLAGS): Tx requests the
 *    application can hand straight to a NIC: RTE_MBUF_F_TX_{TCP,UDP}_CKSUM,
 *    RTE_MBUF_F_TX_TCP_SEG / UDP_SEG with l2/l3/l4_len and tso_segsz.
 * A partial checksum we cannot describe that way (unknown protocol, offset
 * not the L4 checksum field) is completed in software.
 *
 * Enqueue (guest RX): Tx requests on the mbuf become NEEDS_CSUM and gso_*
 * when the guest negotiated them; what the guest cannot take is computed
 * here (checksums) or refused (a GSO frame the guest cannot receive).
 */

#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_net.h>
#include <rte_sctp.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "vhu_net_hdr.h"

#define CSUM_OFF_TCP  offsetof(struct rte_tcp_hdr, cksum)
#define CSUM_OFF_UDP  offsetof(struct rte_udp_hdr, dgram_cksum)
#define CSUM_OFF_SCTP offsetof(struct rte_sctp_hdr, cksum)

/* Write len bytes at packet offset off of a (possibly segmented) mbuf we own. */
static int
mbuf_write(struct rte_mbuf *m, uint32_t off, const void *src, uint32_t len)
{
	const uint8_t *s = src;
	struct rte_mbuf *seg;

	if ((uint64_t)off + len > m->pkt_len)
		return -EINVAL;
	for (seg = m; seg != NULL && len != 0; seg = seg->next) {
		uint32_t l;

		if (off >= seg->data_len) {
			off -= seg->data_len;
			continue;
		}
		l = RTE_MIN(len, (uint32_t)seg->data_len - off);
		memcpy(rte_pktmbuf_mtod_offset(seg, uint8_t *, off), s, l);
		s += l;
		len -= l;
		off = 0;
	}
	return len == 0 ? 0 : -EINVAL;
}

/*
 * Internet checksum of [start, pkt_len), the checksum field at start +
 * field (which holds the pseudo-header sum) included, as virtio's partial
 * checksum convention defines. Returns the value to store, in memory order.
 */
static int
finish_csum(const struct rte_mbuf *m, uint32_t start, bool udp, uint32_t extra, uint16_t *val)
{
	uint16_t raw;
	uint32_t sum;

	if (rte_raw_cksum_mbuf(m, start, m->pkt_len - start, &raw) != 0)
		return -EINVAL;
	sum = (uint32_t)raw + extra;
	sum = (sum & 0xffff) + (sum >> 16);
	raw = (uint16_t)~sum;
	if (udp && raw == 0)
		raw = 0xffff;
	*val = raw;
	return 0;
}

int
vhu_net_hdr_to_mbuf(const struct vhu_dev *dev, const struct vhu_net_hdr *hdr, struct rte_mbuf *m)
{
	bool legacy = (dev->sock_flags & VHU_SOCK_LEGACY_OL_FLAGS) != 0;
	uint8_t flags = hdr->flags, gso = hdr->gso_type;
	struct rte_net_hdr_lens hl;
	uint64_t ol = 0;
	uint32_t ptype, l4;
	bool ipv4, ipv6;

	if (likely(flags == 0 && gso == VHU_NET_HDR_GSO_NONE))
		return 0;
	if (unlikely(flags & ~(VHU_NET_HDR_F_NEEDS_CSUM | VHU_NET_HDR_F_DATA_VALID)))
		return -EINVAL;

	memset(&hl, 0, sizeof(hl));
	ptype = rte_net_get_ptype(m, &hl, RTE_PTYPE_ALL_MASK);
	m->packet_type = ptype;
	l4 = ptype & RTE_PTYPE_L4_MASK;
	ipv4 = RTE_ETH_IS_IPV4_HDR(ptype) != 0;
	ipv6 = RTE_ETH_IS_IPV6_HDR(ptype) != 0;

	if (flags & VHU_NET_HDR_F_NEEDS_CSUM) {
		uint32_t start = hdr->csum_start, off = hdr->csum_offset;
		bool known;

		if (unlikely(!vhu_has(dev, VHU_F_NET_CSUM)))
			return -EINVAL;
		if (unlikely(start + off + 2 > m->pkt_len))
			return -EINVAL;
		known = start == (uint32_t)hl.l2_len + hl.l3_len && (ipv4 || ipv6) &&
				((l4 == RTE_PTYPE_L4_TCP && off == CSUM_OFF_TCP) ||
						(l4 == RTE_PTYPE_L4_UDP && off == CSUM_OFF_UDP));
		if (known) {
			if (legacy) {
				m->l2_len = hl.l2_len;
				m->l3_len = hl.l3_len;
				m->l4_len = hl.l4_len;
				ol |= l4 == RTE_PTYPE_L4_TCP ? RTE_MBUF_F_TX_TCP_CKSUM :
							       RTE_MBUF_F_TX_UDP_CKSUM;
				ol |= ipv4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6;
			} else {
				ol |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
			}
		} else {
			uint16_t val;

			if (finish_csum(m, start,
					    l4 == RTE_PTYPE_L4_UDP &&
							    start == (uint32_t)hl.l2_len + hl.l3_len,
					    0, &val) != 0 ||
					mbuf_write(m, start + off, &val, sizeof(val)) != 0)
				return -EINVAL;
			if (!legacy)
				ol |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		}
	} else if (flags & VHU_NET_HDR_F_DATA_VALID) {
		ol |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	}

	if (gso != VHU_NET_HDR_GSO_NONE) {
		uint8_t base = gso & (uint8_t)~VHU_NET_HDR_GSO_ECN;
		bool tcp = false, ok;

		if (unlikely((gso & VHU_NET_HDR_GSO_ECN) && !vhu_has(dev, VHU_F_NET_HOST_ECN)))
			return -EINVAL;
		if (unlikely(hdr->gso_size == 0))
			return -EINVAL;
		switch (base) {
		case VHU_NET_HDR_GSO_TCPV4:
			ok = vhu_has(dev, VHU_F_NET_HOST_TSO4) && ipv4 && l4 == RTE_PTYPE_L4_TCP;
			tcp = true;
			break;
		case VHU_NET_HDR_GSO_TCPV6:
			ok = vhu_has(dev, VHU_F_NET_HOST_TSO6) && ipv6 && l4 == RTE_PTYPE_L4_TCP;
			tcp = true;
			break;
		case VHU_NET_HDR_GSO_UDP:
			ok = vhu_has(dev, VHU_F_NET_HOST_UFO) && (ipv4 || ipv6) &&
					l4 == RTE_PTYPE_L4_UDP;
			break;
		case VHU_NET_HDR_GSO_UDP_L4:
			ok = vhu_has(dev, VHU_F_NET_HOST_USO) && (ipv4 || ipv6) &&
					l4 == RTE_PTYPE_L4_UDP;
			break;
		default:
			ok = false;
			break;
		}
		if (unlikely(!ok))
			return -EINVAL;
		m->tso_segsz = hdr->gso_size;
		if (legacy) {
			m->l2_len = hl.l2_len;
			m->l3_len = hl.l3_len;
			m->l4_len = hl.l4_len;
			ol |= tcp ? RTE_MBUF_F_TX_TCP_SEG : RTE_MBUF_F_TX_UDP_SEG;
			ol |= ipv4 ? (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM) :
				     RTE_MBUF_F_TX_IPV6;
		} else {
			ol |= RTE_MBUF_F_RX_LRO;
			if (!(ol & RTE_MBUF_F_RX_L4_CKSUM_MASK))
				ol |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
		}
	}
	m->ol_flags |= ol;
	return 0;
}

/* CRC32c (Castagnoli), reflected, for SCTP; bitwise (SCTP offload is rare). */
static uint32_t
crc32c_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint32_t zero_at)
{
	uint32_t crc = 0xffffffffu;
	const struct rte_mbuf *seg;
	uint32_t pos = 0;

	for (seg = m; seg != NULL && len != 0; seg = seg->next) {
		const uint8_t *p = rte_pktmbuf_mtod(seg, const uint8_t *);
		uint32_t i;

		for (i = 0; i < seg->data_len && len != 0; i++, pos++) {
			uint8_t b = p[i];
			int k;

			if (pos < off)
				continue;
			if (pos - zero_at < 4)
				b = 0;
			crc ^= b;
			for (k = 0; k < 8; k++)
				crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
			len--;
		}
	}
	return ~crc;
}

/* Queue the IPv4 header checksum of the header at l3 as a patch. */
static int
ipv4_patch(const struct rte_mbuf *m, uint32_t l3, struct vhu_tx_offload *ol)
{
	uint8_t raw[60];
	const uint8_t *src;
	uint32_t ihl;

	if (ol->npatch >= RTE_DIM(ol->patch))
		return -EINVAL;
	src = rte_pktmbuf_read(m, l3, 1, raw);
	if (src == NULL)
		return -EINVAL;
	ihl = (uint32_t)(src[0] & 0xf) * 4;
	if ((src[0] >> 4) != 4 || ihl < sizeof(struct rte_ipv4_hdr))
		return -EINVAL;
	src = rte_pktmbuf_read(m, l3, ihl, raw);
	if (src == NULL)
		return -EINVAL;
	if (src != raw)
		memcpy(raw, src, ihl);
	raw[offsetof(struct rte_ipv4_hdr, hdr_checksum)] = 0;
	raw[offsetof(struct rte_ipv4_hdr, hdr_checksum) + 1] = 0;
	ol->patch[ol->npatch].off = l3 + offsetof(struct rte_ipv4_hdr, hdr_checksum);
	ol->patch[ol->npatch].val = (uint16_t)~rte_raw_cksum(raw, ihl);
	ol->npatch++;
	return 0;
}

int
vhu_net_hdr_from_mbuf(const struct vhu_dev *dev, const struct rte_mbuf *m, struct vhu_net_hdr *hdr,
		struct vhu_tx_offload *ol)
{
	const uint64_t want = RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG |
			RTE_MBUF_F_TX_UDP_SEG | RTE_MBUF_F_TX_IP_CKSUM |
			RTE_MBUF_F_TX_OUTER_IP_CKSUM;
	uint64_t f = m->ol_flags;
	uint32_t outer = 0, l3_start, l4_start, l4_len;
	uint64_t l4req;
	bool ipv4, ipv6, seg;

	hdr->flags = 0;
	hdr->gso_type = VHU_NET_HDR_GSO_NONE;
	hdr->hdr_len = 0;
	hdr->gso_size = 0;
	hdr->csum_start = 0;
	hdr->csum_offset = 0;
	ol->npatch = 0;
	if (likely(!(f & want)))
		return 0;

	if (f & RTE_MBUF_F_TX_TUNNEL_MASK)
		outer = (uint32_t)m->outer_l2_len + m->outer_l3_len;
	l3_start = outer + m->l2_len;
	l4_start = l3_start + m->l3_len;
	l4_len = m->l4_len;
	ipv4 = (f & RTE_MBUF_F_TX_IPV4) != 0;
	ipv6 = (f & RTE_MBUF_F_TX_IPV6) != 0;
	if (m->l2_len == 0 || m->l3_len == 0 || (!ipv4 && !ipv6)) {
		/* the application left the lengths out: find them ourselves */
		struct rte_net_hdr_lens hl;
		uint32_t pt;

		memset(&hl, 0, sizeof(hl));
		pt = rte_net_get_ptype(
				m, &hl, RTE_PTYPE_L2_MASK | RTE_PTYPE_L3_MASK | RTE_PTYPE_L4_MASK);
		ipv4 = RTE_ETH_IS_IPV4_HDR(pt) != 0;
		ipv6 = RTE_ETH_IS_IPV6_HDR(pt) != 0;
		outer = 0;
		l3_start = hl.l2_len;
		l4_start = (uint32_t)hl.l2_len + hl.l3_len;
		l4_len = hl.l4_len;
		if (!ipv4 && !ipv6)
			return -EINVAL;
	}
	if (l4_start > m->pkt_len)
		return -EINVAL;

	/* IPv4 header checksums: virtio has no offload for them */
	if ((f & RTE_MBUF_F_TX_IP_CKSUM) && ipv4 && ipv4_patch(m, l3_start, ol) != 0)
		return -EINVAL;
	if ((f & RTE_MBUF_F_TX_OUTER_IP_CKSUM) && outer != 0 &&
			ipv4_patch(m, m->outer_l2_len, ol) != 0)
		return -EINVAL;

	seg = (f & (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG)) != 0;
	l4req = f & RTE_MBUF_F_TX_L4_MASK;
	if (f & RTE_MBUF_F_TX_TCP_SEG)
		l4req = RTE_MBUF_F_TX_TCP_CKSUM;
	else if (f & RTE_MBUF_F_TX_UDP_SEG)
		l4req = RTE_MBUF_F_TX_UDP_CKSUM;

	if (l4req == RTE_MBUF_F_TX_SCTP_CKSUM) {
		/* CRC32c, not the Internet checksum: always done here */
		uint32_t at = l4_start + CSUM_OFF_SCTP;
		uint32_t crc;
		uint8_t b[4];
		int k;

		if (at + 4 > m->pkt_len || ol->npatch + 2u > RTE_DIM(ol->patch))
			return -EINVAL;
		crc = crc32c_mbuf(m, l4_start, m->pkt_len - l4_start, at);
		/* stored least significant byte first */
		for (k = 0; k < 4; k++)
			b[k] = (uint8_t)(crc >> (8 * k));
		memcpy(&ol->patch[ol->npatch].val, &b[0], 2);
		ol->patch[ol->npatch++].off = at;
		memcpy(&ol->patch[ol->npatch].val, &b[2], 2);
		ol->patch[ol->npatch++].off = at + 2;
	} else if (l4req == RTE_MBUF_F_TX_TCP_CKSUM || l4req == RTE_MBUF_F_TX_UDP_CKSUM) {
		bool tcp = l4req == RTE_MBUF_F_TX_TCP_CKSUM;
		uint32_t field = tcp ? CSUM_OFF_TCP : CSUM_OFF_UDP;

		uint32_t extra = 0; /* pseudo-header length DPDK leaves out for TSO */

		if (l4_start + field + 2 > m->pkt_len)
			return -EINVAL;
		if (f & RTE_MBUF_F_TX_TCP_SEG)
			extra = rte_cpu_to_be_16((uint16_t)(m->pkt_len - l4_start));
		if (vhu_has(dev, VHU_F_NET_GUEST_CSUM)) {
			hdr->flags = VHU_NET_HDR_F_NEEDS_CSUM;
			hdr->csum_start = (uint16_t)l4_start;
			hdr->csum_offset = (uint16_t)field;
			if (extra != 0) {
				/* the guest (Linux) expects the full pseudo-header */
				uint16_t cur, buf;
				const uint16_t *p = rte_pktmbuf_read(
						m, l4_start + field, sizeof(buf), &buf);
				uint32_t sum;

				if (p == NULL || ol->npatch >= RTE_DIM(ol->patch))
					return -EINVAL;
				memcpy(&cur, p, sizeof(cur));
				sum = (uint32_t)cur + extra;
				sum = (sum & 0xffff) + (sum >> 16);
				ol->patch[ol->npatch].off = l4_start + field;
				ol->patch[ol->npatch].val = (uint16_t)sum;
				ol->npatch++;
			}
		} else {
			uint16_t val;

			if (ol->npatch >= RTE_DIM(ol->patch) ||
					finish_csum(m, l4_start, !tcp, extra, &val) != 0)
				return -EINVAL;
			ol->patch[ol->npatch].off = l4_start + field;
			ol->patch[ol->npatch].val = val;
			ol->npatch++;
		}
		if (seg) {
			uint32_t hlen = l4_start + (l4_len ? l4_len : (tcp ? 20u : 8u));
			bool gso_ok;
			uint8_t type;

			if (m->tso_segsz == 0 || m->pkt_len <= hlen ||
					m->pkt_len - hlen <= m->tso_segsz)
				return 0; /* one segment: a checksum is all it needs */
			if (tcp) {
				type = ipv4 ? VHU_NET_HDR_GSO_TCPV4 : VHU_NET_HDR_GSO_TCPV6;
				gso_ok = vhu_has(dev,
						ipv4 ? VHU_F_NET_GUEST_TSO4 : VHU_F_NET_GUEST_TSO6);
			} else if (vhu_has(dev,
						   ipv4 ? VHU_F_NET_GUEST_USO4 :
							  VHU_F_NET_GUEST_USO6)) {
				type = VHU_NET_HDR_GSO_UDP_L4;
				gso_ok = true;
			} else {
				type = VHU_NET_HDR_GSO_UDP;
				gso_ok = vhu_has(dev, VHU_F_NET_GUEST_UFO);
			}
			if (!gso_ok || hdr->flags == 0)
				return -EINVAL; /* the guest cannot take it in one piece */
			if (tcp) {
				/* congestion window reduced: the guest must know (GSO_ECN) */
				uint8_t fl, tmp;
				const uint8_t *p = rte_pktmbuf_read(m, l4_start + 13, 1, &tmp);

				fl = p != NULL ? *p : 0;
				if (fl & RTE_TCP_CWR_FLAG) {
					if (!vhu_has(dev, VHU_F_NET_GUEST_ECN))
						return -EINVAL;
					type |= VHU_NET_HDR_GSO_ECN;
				}
			}
			hdr->gso_type = type;
			hdr->gso_size = m->tso_segsz;
			hdr->hdr_len = (uint16_t)RTE_MIN(hlen, 0xffffu);
		}
	}
	return 0;
}

int
vhu_net_build_rarp(struct rte_mbuf *m, const struct rte_ether_addr *mac)
{
	const uint16_t frame = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN; /* 60 */
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;
	uint8_t *p;

	p = (uint8_t *)rte_pktmbuf_append(m, frame);
	if (p == NULL)
		return -ENOSPC;
	memset(p, 0, frame);
	eth = (struct rte_ether_hdr *)p;
	memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_RARP);
	arp = (struct rte_arp_hdr *)(eth + 1);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REVREQUEST);
	rte_ether_addr_copy(mac, &arp->arp_data.arp_sha);
	rte_ether_addr_copy(mac, &arp->arp_data.arp_tha);
	return 0;
}
