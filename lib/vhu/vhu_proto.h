/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * vhost-user wire format: request numbers, flags, payload layouts and the
 * virtio feature bits we negotiate. Shared by the library and the test
 * front-end. Everything here is little-endian on the wire and x86_64 only
 * for now, so the structs are used as-is; static_asserts pin their sizes.
 */

#ifndef VHU_PROTO_H
#define VHU_PROTO_H

#include <assert.h>
#include <stdint.h>

/* ---- front-end -> back-end requests ---- */
#define VHU_REQ_NONE                   0
#define VHU_REQ_GET_FEATURES           1
#define VHU_REQ_SET_FEATURES           2
#define VHU_REQ_SET_OWNER              3
#define VHU_REQ_RESET_OWNER            4
#define VHU_REQ_SET_MEM_TABLE          5
#define VHU_REQ_SET_LOG_BASE           6
#define VHU_REQ_SET_LOG_FD             7
#define VHU_REQ_SET_VRING_NUM          8
#define VHU_REQ_SET_VRING_ADDR         9
#define VHU_REQ_SET_VRING_BASE         10
#define VHU_REQ_GET_VRING_BASE         11
#define VHU_REQ_SET_VRING_KICK         12
#define VHU_REQ_SET_VRING_CALL         13
#define VHU_REQ_SET_VRING_ERR          14
#define VHU_REQ_GET_PROTOCOL_FEATURES  15
#define VHU_REQ_SET_PROTOCOL_FEATURES  16
#define VHU_REQ_GET_QUEUE_NUM          17
#define VHU_REQ_SET_VRING_ENABLE       18
#define VHU_REQ_SEND_RARP              19
#define VHU_REQ_NET_SET_MTU            20
#define VHU_REQ_SET_BACKEND_REQ_FD     21
#define VHU_REQ_IOTLB_MSG              22
#define VHU_REQ_SET_VRING_ENDIAN       23
#define VHU_REQ_GET_CONFIG             24
#define VHU_REQ_SET_CONFIG             25
#define VHU_REQ_CREATE_CRYPTO_SESSION  26
#define VHU_REQ_CLOSE_CRYPTO_SESSION   27
#define VHU_REQ_POSTCOPY_ADVISE        28
#define VHU_REQ_POSTCOPY_LISTEN        29
#define VHU_REQ_POSTCOPY_END           30
#define VHU_REQ_GET_INFLIGHT_FD        31
#define VHU_REQ_SET_INFLIGHT_FD        32
#define VHU_REQ_GPU_SET_SOCKET         33
#define VHU_REQ_RESET_DEVICE           34
#define VHU_REQ_VRING_KICK             35
#define VHU_REQ_GET_MAX_MEM_SLOTS      36
#define VHU_REQ_ADD_MEM_REG            37
#define VHU_REQ_REM_MEM_REG            38
#define VHU_REQ_SET_STATUS             39
#define VHU_REQ_GET_STATUS             40
#define VHU_REQ_GET_SHARED_OBJECT      41
#define VHU_REQ_SET_DEVICE_STATE_FD    42
#define VHU_REQ_CHECK_DEVICE_STATE     43
#define VHU_REQ_GET_SHMEM_CONFIG       44
#define VHU_REQ_MAX                    45

/* ---- back-end -> front-end requests (on the BACKEND_REQ fd) ---- */
#define VHU_BREQ_IOTLB_MSG             1
#define VHU_BREQ_CONFIG_CHANGE_MSG     2
#define VHU_BREQ_VRING_HOST_NOTIFIER   3
#define VHU_BREQ_VRING_CALL            4
#define VHU_BREQ_VRING_ERR             5

/* ---- header flags ---- */
#define VHU_FLAG_VERSION_MASK  0x3u
#define VHU_FLAG_VERSION       0x1u
#define VHU_FLAG_REPLY         (1u << 2)
#define VHU_FLAG_NEED_REPLY    (1u << 3)
#define VHU_FLAG_KNOWN         (VHU_FLAG_VERSION_MASK | VHU_FLAG_REPLY | VHU_FLAG_NEED_REPLY)

/* ---- protocol feature bits ---- */
#define VHU_PF_MQ                    0
#define VHU_PF_LOG_SHMFD             1
#define VHU_PF_RARP                  2
#define VHU_PF_REPLY_ACK             3
#define VHU_PF_NET_MTU               4
#define VHU_PF_BACKEND_REQ           5
#define VHU_PF_CROSS_ENDIAN          6
#define VHU_PF_CRYPTO_SESSION        7
#define VHU_PF_PAGEFAULT             8
#define VHU_PF_CONFIG                9
#define VHU_PF_BACKEND_SEND_FD       10
#define VHU_PF_HOST_NOTIFIER         11
#define VHU_PF_INFLIGHT_SHMFD        12
#define VHU_PF_RESET_DEVICE          13
#define VHU_PF_INBAND_NOTIFICATIONS  14
#define VHU_PF_CONFIGURE_MEM_SLOTS   15
#define VHU_PF_STATUS                16
#define VHU_PF_XEN_MMAP              17
#define VHU_PF_SHARED_OBJECT         18
#define VHU_PF_DEVICE_STATE          19
#define VHU_PF_GET_VRING_BASE_INFLIGHT 20
#define VHU_PF_GPA_ADDRESSES         21
#define VHU_PF_SHMEM                 22

/* ---- virtio feature bits (virtio 1.2, net device + transport) ---- */
#define VHU_F_NET_CSUM               0
#define VHU_F_NET_GUEST_CSUM         1
#define VHU_F_NET_CTRL_GUEST_OFFLOADS 2
#define VHU_F_NET_MTU                3
#define VHU_F_NET_MAC                5
#define VHU_F_NET_GUEST_TSO4         7
#define VHU_F_NET_GUEST_TSO6         8
#define VHU_F_NET_GUEST_ECN          9
#define VHU_F_NET_GUEST_UFO          10
#define VHU_F_NET_HOST_TSO4          11
#define VHU_F_NET_HOST_TSO6          12
#define VHU_F_NET_HOST_ECN           13
#define VHU_F_NET_HOST_UFO           14
#define VHU_F_NET_MRG_RXBUF          15
#define VHU_F_NET_STATUS             16
#define VHU_F_NET_CTRL_VQ            17
#define VHU_F_NET_CTRL_RX            18
#define VHU_F_NET_CTRL_VLAN          19
#define VHU_F_NET_GUEST_ANNOUNCE     21
#define VHU_F_NET_MQ                 22
#define VHU_F_NET_CTRL_MAC_ADDR      23
#define VHU_F_NOTIFY_ON_EMPTY        24
#define VHU_F_LOG_ALL                26
#define VHU_F_ANY_LAYOUT             27
#define VHU_F_RING_INDIRECT_DESC     28
#define VHU_F_RING_EVENT_IDX         29
#define VHU_F_PROTOCOL_FEATURES      30
#define VHU_F_VERSION_1              32
#define VHU_F_ACCESS_PLATFORM        33
#define VHU_F_RING_PACKED            34
#define VHU_F_IN_ORDER               35
#define VHU_F_ORDER_PLATFORM         36
#define VHU_F_SR_IOV                 37
#define VHU_F_NOTIFICATION_DATA      38
#define VHU_F_NET_GUEST_USO4         54
#define VHU_F_NET_GUEST_USO6         55
#define VHU_F_NET_HOST_USO           56

#define VHU_BIT(b) (1ULL << (b))

/* ---- virtio device status bits ---- */
#define VHU_STATUS_ACKNOWLEDGE  1u
#define VHU_STATUS_DRIVER       2u
#define VHU_STATUS_DRIVER_OK    4u
#define VHU_STATUS_FEATURES_OK  8u
#define VHU_STATUS_NEEDS_RESET  64u
#define VHU_STATUS_FAILED       128u

/* ---- message header and payloads ---- */
struct vhu_msg_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;          /* payload bytes that follow */
} __attribute__((packed));
static_assert(sizeof(struct vhu_msg_hdr) == 12, "vhost-user header is 12 bytes");

struct vhu_vring_state {
	uint32_t index;
	uint32_t num;
};
static_assert(sizeof(struct vhu_vring_state) == 8, "vring state");

/* SET_VRING_KICK/CALL/ERR u64 payload: low byte = index, bit 8 = no fd */
#define VHU_VRING_IDX_MASK   0xffull
#define VHU_VRING_NOFD_MASK  (1ull << 8)

#define VHU_VRING_F_LOG      0   /* vring_addr.flags: log the used ring */

struct vhu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};
static_assert(sizeof(struct vhu_vring_addr) == 40, "vring addr");

struct vhu_mem_region_desc {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};
static_assert(sizeof(struct vhu_mem_region_desc) == 32, "memory region");

#define VHU_MEM_TABLE_MAX_REGIONS 8     /* SET_MEM_TABLE carries at most 8 */

struct vhu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhu_mem_region_desc regions[VHU_MEM_TABLE_MAX_REGIONS];
};
static_assert(sizeof(struct vhu_mem_table) == 8 + 8 * 32, "memory table");

/* ADD_MEM_REG / REM_MEM_REG */
struct vhu_mem_single {
	uint64_t padding;
	struct vhu_mem_region_desc region;
};
static_assert(sizeof(struct vhu_mem_single) == 40, "single region");

struct vhu_log_desc {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};
static_assert(sizeof(struct vhu_log_desc) == 16, "log");

#define VHU_CONFIG_MAX 256
/* vhu_config.flags is a type, not a bit mask (QEMU: VHOST_SET_CONFIG_TYPE_*) */
#define VHU_CONFIG_F_WRITABLE   0x0u   /* the driver writes a writable field */
#define VHU_CONFIG_F_MIGRATION  0x1u   /* live migration restores the whole space */
struct vhu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t payload[VHU_CONFIG_MAX];
};
static_assert(sizeof(struct vhu_config) == 12 + 256, "config");
#define VHU_CONFIG_HDR_SIZE 12u

struct vhu_inflight_desc {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
} __attribute__((packed, aligned(4)));
static_assert(sizeof(struct vhu_inflight_desc) == 20, "inflight");

struct vhu_iotlb_msg {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
	uint8_t type;
} __attribute__((packed));
/* The fields' bytes; QEMU and DPDK send and expect the padded C struct. */
#define VHU_IOTLB_MSG_SIZE     26u
#define VHU_IOTLB_MSG_SIZE_PAD 32u
static_assert(sizeof(struct vhu_iotlb_msg) == VHU_IOTLB_MSG_SIZE, "iotlb message");
/* vhu_iotlb_msg.perm: access the mapping allows (a miss: the access wanted) */
#define VHU_ACCESS_NONE       0u
#define VHU_ACCESS_RO         1u
#define VHU_ACCESS_WO         2u
#define VHU_ACCESS_RW         3u
/* vhu_iotlb_msg.type */
#define VHU_IOTLB_MISS        1u /* back-end -> front-end: translate iova */
#define VHU_IOTLB_UPDATE      2u /* front-end: [iova, iova + size) maps uaddr */
#define VHU_IOTLB_INVALIDATE  3u /* front-end: forget [iova, iova + size) */
#define VHU_IOTLB_ACCESS_FAIL 4u /* back-end -> front-end: an access was refused */

/* SET_DEVICE_STATE_FD */
#define VHU_TRANSFER_SAVE   0u   /* back-end writes its state to the fd */
#define VHU_TRANSFER_LOAD   1u   /* back-end reads its state from the fd */
#define VHU_TRANSFER_PHASE_STOPPED 0u
struct vhu_device_state_xfer {
	uint32_t direction;
	uint32_t phase;
};
static_assert(sizeof(struct vhu_device_state_xfer) == 8, "device state transfer");
/* reply u64: bits 0..7 error (0 = ok), bit 8 = no fd (back-end uses the one given) */
#define VHU_STATE_REPLY_NOFD (1ull << 8)

/*
 * GET_SHMEM_CONFIG reply: how many VIRTIO shared memory regions the device
 * has and the size of each (the region id is the index).
 */
#define VHU_SHMEM_MAX_REGIONS 8
struct vhu_shmem_config {
	uint32_t nregions;
	uint32_t padding;
	uint64_t memory_sizes[VHU_SHMEM_MAX_REGIONS];
};
static_assert(sizeof(struct vhu_shmem_config) == 72, "shmem config");

/* The largest payload any request may carry. */
#define VHU_MAX_PAYLOAD 4096u

/* virtio-net config space (what GET_CONFIG serves) */
struct vhu_net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));
static_assert(sizeof(struct vhu_net_config) == 12, "net config");
#define VHU_NET_S_LINK_UP   1u
#define VHU_NET_S_ANNOUNCE  2u

/* ---- split ring layout (virtio 1.2, 2.7) ---- */
#define VHU_DESC_F_NEXT      1u
#define VHU_DESC_F_WRITE     2u
#define VHU_DESC_F_INDIRECT  4u
/* packed ring */
#define VHU_DESC_F_AVAIL     (1u << 7)
#define VHU_DESC_F_USED      (1u << 15)

struct vhu_vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
static_assert(sizeof(struct vhu_vring_desc) == 16, "split desc");

#define VHU_AVAIL_F_NO_INTERRUPT 1u
#define VHU_USED_F_NO_NOTIFY     1u

struct vhu_vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];        /* then uint16_t used_event */
};

struct vhu_vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vhu_vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vhu_vring_used_elem ring[];   /* then uint16_t avail_event */
};

/* packed ring descriptor and event suppression */
struct vhu_vring_packed_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};
static_assert(sizeof(struct vhu_vring_packed_desc) == 16, "packed desc");

#define VHU_EVENT_F_ENABLE   0u
#define VHU_EVENT_F_DISABLE  1u
#define VHU_EVENT_F_DESC     2u
struct vhu_vring_packed_event {
	uint16_t off_wrap;
	uint16_t flags;
};

/* ---- virtio-net header ---- */
#define VHU_NET_HDR_F_NEEDS_CSUM  1u
#define VHU_NET_HDR_F_DATA_VALID  2u
#define VHU_NET_HDR_GSO_NONE      0u
#define VHU_NET_HDR_GSO_TCPV4     1u
#define VHU_NET_HDR_GSO_UDP       3u
#define VHU_NET_HDR_GSO_TCPV6     4u
#define VHU_NET_HDR_GSO_UDP_L4    5u
#define VHU_NET_HDR_GSO_ECN       0x80u

struct vhu_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;   /* only with MRG_RXBUF or VERSION_1 */
} __attribute__((packed));
static_assert(sizeof(struct vhu_net_hdr) == 12, "virtio-net header");

#endif /* VHU_PROTO_H */
