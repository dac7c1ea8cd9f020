/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * vhost-user codec: recvmsg/sendmsg with SCM_RIGHTS and the payload
 * validators. Pure functions of their inputs (plus the socket): no device
 * state, no logging, so the same code serves the library, the mock
 * front-end of the tests and a fuzzer.
 */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vhu_codec.h"

#define HDR_SIZE sizeof(struct vhu_msg_hdr)

static const char *const req_names[VHU_REQ_MAX] = {
	[VHU_REQ_NONE] = "NONE",
	[VHU_REQ_GET_FEATURES] = "GET_FEATURES",
	[VHU_REQ_SET_FEATURES] = "SET_FEATURES",
	[VHU_REQ_SET_OWNER] = "SET_OWNER",
	[VHU_REQ_RESET_OWNER] = "RESET_OWNER",
	[VHU_REQ_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VHU_REQ_SET_LOG_BASE] = "SET_LOG_BASE",
	[VHU_REQ_SET_LOG_FD] = "SET_LOG_FD",
	[VHU_REQ_SET_VRING_NUM] = "SET_VRING_NUM",
	[VHU_REQ_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VHU_REQ_SET_VRING_BASE] = "SET_VRING_BASE",
	[VHU_REQ_GET_VRING_BASE] = "GET_VRING_BASE",
	[VHU_REQ_SET_VRING_KICK] = "SET_VRING_KICK",
	[VHU_REQ_SET_VRING_CALL] = "SET_VRING_CALL",
	[VHU_REQ_SET_VRING_ERR] = "SET_VRING_ERR",
	[VHU_REQ_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VHU_REQ_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VHU_REQ_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VHU_REQ_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VHU_REQ_SEND_RARP] = "SEND_RARP",
	[VHU_REQ_NET_SET_MTU] = "NET_SET_MTU",
	[VHU_REQ_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
	[VHU_REQ_IOTLB_MSG] = "IOTLB_MSG",
	[VHU_REQ_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
	[VHU_REQ_GET_CONFIG] = "GET_CONFIG",
	[VHU_REQ_SET_CONFIG] = "SET_CONFIG",
	[VHU_REQ_CREATE_CRYPTO_SESSION] = "CREATE_CRYPTO_SESSION",
	[VHU_REQ_CLOSE_CRYPTO_SESSION] = "CLOSE_CRYPTO_SESSION",
	[VHU_REQ_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
	[VHU_REQ_POSTCOPY_LISTEN] = "POSTCOPY_LISTEN",
	[VHU_REQ_POSTCOPY_END] = "POSTCOPY_END",
	[VHU_REQ_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[VHU_REQ_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	[VHU_REQ_GPU_SET_SOCKET] = "GPU_SET_SOCKET",
	[VHU_REQ_RESET_DEVICE] = "RESET_DEVICE",
	[VHU_REQ_VRING_KICK] = "VRING_KICK",
	[VHU_REQ_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	[VHU_REQ_ADD_MEM_REG] = "ADD_MEM_REG",
	[VHU_REQ_REM_MEM_REG] = "REM_MEM_REG",
	[VHU_REQ_SET_STATUS] = "SET_STATUS",
	[VHU_REQ_GET_STATUS] = "GET_STATUS",
	[VHU_REQ_GET_SHARED_OBJECT] = "GET_SHARED_OBJECT",
	[VHU_REQ_SET_DEVICE_STATE_FD] = "SET_DEVICE_STATE_FD",
	[VHU_REQ_CHECK_DEVICE_STATE] = "CHECK_DEVICE_STATE",
	[VHU_REQ_GET_SHMEM_CONFIG] = "GET_SHMEM_CONFIG",
};

const char *
vhu_req_name(uint32_t req)
{
	if (req < VHU_REQ_MAX && req_names[req] != NULL)
		return req_names[req];
	return "UNKNOWN";
}

void
vhu_rx_reset(struct vhu_rx *rx)
{
	unsigned int i;

	rx->got = 0;
	rx->fd_overflow = 0;
	rx->msg.nfds = 0;
	for (i = 0; i < VHU_MAX_FDS; i++)
		rx->msg.fds[i] = -1;
	memset(&rx->msg.hdr, 0, sizeof(rx->msg.hdr));
}

void
vhu_msg_close_fds(struct vhu_msg *msg)
{
	unsigned int i;

	for (i = 0; i < VHU_MAX_FDS; i++) {
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
		msg->fds[i] = -1;
	}
	msg->nfds = 0;
}

/* Take the fds of every SCM_RIGHTS block; keep at most VHU_MAX_FDS. */
static void
collect_fds(struct vhu_rx *rx, struct msghdr *mh)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		size_t n, i;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (rx->msg.nfds < VHU_MAX_FDS) {
				rx->msg.fds[rx->msg.nfds++] = fd;
			} else {
				close(fd);
				rx->fd_overflow = 1;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		rx->fd_overflow = 1;   /* the kernel closed what did not fit */
}

int
vhu_rx_step(int sock, struct vhu_rx *rx, const char **why)
{
	/* room for a few fds beyond the limit, so overflow is seen, not lost */
	union {
		char buf[CMSG_SPACE(sizeof(int) * (VHU_MAX_FDS + 4))];
		struct cmsghdr align;
	} ctl;

	for (;;) {
		struct msghdr mh;
		struct iovec iov;
		size_t want;
		uint8_t *dst;
		ssize_t n;

		if (rx->got < HDR_SIZE) {
			dst = (uint8_t *)&rx->msg.hdr + rx->got;
			want = HDR_SIZE - rx->got;
		} else {
			size_t total = HDR_SIZE + rx->msg.hdr.size;

			if (rx->got == total)
				return 1;
			dst = rx->msg.payload.raw + (rx->got - HDR_SIZE);
			want = total - rx->got;
		}

		memset(&mh, 0, sizeof(mh));
		iov.iov_base = dst;
		iov.iov_len = want;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		collect_fds(rx, &mh);
		if (n == 0)
			return -ECONNRESET;
		rx->got += (size_t)n;
		if (rx->fd_overflow) {
			*why = "more than 8 file descriptors";
			return -EPROTO;
		}
		if (rx->got == HDR_SIZE && vhu_check_hdr(&rx->msg.hdr, why) != 0)
			return -EPROTO;
		if (rx->got == HDR_SIZE + rx->msg.hdr.size)
			return 1;
	}
}

int
vhu_msg_send(int sock, const struct vhu_msg_hdr *hdr, const void *payload,
	     const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2];
	struct msghdr mh;
	size_t total = HDR_SIZE + hdr->size;
	ssize_t n;

	if (nfds > VHU_MAX_FDS || hdr->size > VHU_MAX_PAYLOAD)
		return -EINVAL;
	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = (void *)(uintptr_t)hdr;
	iov[0].iov_len = HDR_SIZE;
	iov[1].iov_base = (void *)(uintptr_t)payload;
	iov[1].iov_len = hdr->size;
	mh.msg_iov = iov;
	mh.msg_iovlen = hdr->size ? 2 : 1;
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != total)
		return -EAGAIN;   /* a torn message: the caller drops the connection */
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
vhu_msg_recv_wait(int sock, struct vhu_msg *msg, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct vhu_rx *rx;
	const char *why = NULL;
	int rc;

	rx = malloc(sizeof(*rx));
	if (rx == NULL)
		return -ENOMEM;
	vhu_rx_reset(rx);
	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		int64_t left;

		rc = vhu_rx_step(sock, rx, &why);
		if (rc != 0)
			break;
		left = deadline - now_ms();
		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
	}
	if (rc == 1) {
		memcpy(msg, &rx->msg, sizeof(*msg));
		rc = 0;
	} else {
		vhu_msg_close_fds(&rx->msg);
	}
	free(rx);
	return rc;
}

/* ---- validators ---- */

int
vhu_check_hdr(const struct vhu_msg_hdr *hdr, const char **why)
{
	if ((hdr->flags & VHU_FLAG_VERSION_MASK) != VHU_FLAG_VERSION) {
		*why = "unsupported protocol version";
		return -EINVAL;
	}
	if (hdr->flags & ~VHU_FLAG_KNOWN) {
		*why = "unknown header flags";
		return -EINVAL;
	}
	if (hdr->size > VHU_MAX_PAYLOAD) {
		*why = "payload larger than 4096 bytes";
		return -EINVAL;
	}
	return 0;
}

static int
no_wrap(uint64_t start, uint64_t len)
{
	/* strict: a range may not end at 2^64 either (gpa_end must fit) */
	return start + len >= start;
}

int
vhu_check_region(const struct vhu_mem_region_desc *r, const char **why)
{
	if (r->memory_size == 0) {
		*why = "empty memory region";
		return -EINVAL;
	}
	if (!no_wrap(r->guest_phys_addr, r->memory_size) ||
	    !no_wrap(r->userspace_addr, r->memory_size) ||
	    !no_wrap(r->mmap_offset, r->memory_size)) {
		*why = "memory region wraps the address space";
		return -EINVAL;
	}
	if ((r->mmap_offset + r->memory_size) > (uint64_t)INT64_MAX) {
		*why = "memory region offset beyond any file";
		return -EINVAL;
	}
	return 0;
}

static int
overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* both lengths > 0 and non-wrapping (checked before) */
	return a <= b + (blen - 1) && b <= a + (alen - 1);
}

int
vhu_check_mem_table(const struct vhu_mem_table *t, const char **why)
{
	uint32_t i, j;

	if (t->nregions == 0 || t->nregions > VHU_MEM_TABLE_MAX_REGIONS) {
		*why = "memory table must have 1 to 8 regions";
		return -EINVAL;
	}
	for (i = 0; i < t->nregions; i++)
		if (vhu_check_region(&t->regions[i], why) != 0)
			return -EINVAL;
	for (i = 0; i < t->nregions; i++) {
		const struct vhu_mem_region_desc *a = &t->regions[i];

		for (j = i + 1; j < t->nregions; j++) {
			const struct vhu_mem_region_desc *b = &t->regions[j];

			if (overlap(a->guest_phys_addr, a->memory_size,
				    b->guest_phys_addr, b->memory_size)) {
				*why = "memory regions overlap in guest physical space";
				return -EINVAL;
			}
			if (overlap(a->userspace_addr, a->memory_size,
				    b->userspace_addr, b->memory_size)) {
				*why = "memory regions overlap in front-end address space";
				return -EINVAL;
			}
		}
	}
	return 0;
}

uint64_t
vhu_split_desc_size(uint32_t num)
{
	return (uint64_t)sizeof(struct vhu_vring_desc) * num;
}

uint64_t
vhu_split_avail_size(uint32_t num)
{
	/* flags, idx, ring[num], used_event */
	return 4 + 2ull * num + 2;
}

uint64_t
vhu_split_used_size(uint32_t num)
{
	/* flags, idx, ring[num], avail_event */
	return 4 + (uint64_t)sizeof(struct vhu_vring_used_elem) * num + 2;
}

int
vhu_check_ring_size(uint32_t num, int packed, const char **why)
{
	if (num == 0 || num > VHU_RING_SIZE_MAX) {
		*why = "ring size must be 1 to 32768";
		return -EINVAL;
	}
	if (!packed && (num & (num - 1)) != 0) {
		*why = "split ring size must be a power of two";
		return -EINVAL;
	}
	return 0;
}

int
vhu_check_vring_addr(const struct vhu_vring_addr *a, uint32_t num, int packed,
		     const char **why)
{
	uint64_t dsz, asz, usz;

	if (a->flags & ~(1u << VHU_VRING_F_LOG)) {
		*why = "unknown vring address flags";
		return -EINVAL;
	}
	if (packed) {
		dsz = (uint64_t)sizeof(struct vhu_vring_packed_desc) * num;
		asz = sizeof(struct vhu_vring_packed_event);
		usz = sizeof(struct vhu_vring_packed_event);
		if ((a->desc_user_addr & 15) || (a->avail_user_addr & 3) ||
		    (a->used_user_addr & 3)) {
			*why = "misaligned packed ring address";
			return -EINVAL;
		}
	} else {
		dsz = vhu_split_desc_size(num);
		asz = vhu_split_avail_size(num);
		usz = vhu_split_used_size(num);
		if ((a->desc_user_addr & 15) || (a->avail_user_addr & 1) ||
		    (a->used_user_addr & 3)) {
			*why = "misaligned split ring address";
			return -EINVAL;
		}
	}
	if (!no_wrap(a->desc_user_addr, dsz) || !no_wrap(a->avail_user_addr, asz) ||
	    !no_wrap(a->used_user_addr, usz)) {
		*why = "ring wraps the address space";
		return -EINVAL;
	}
	if ((a->flags & (1u << VHU_VRING_F_LOG)) && !no_wrap(a->log_guest_addr, usz)) {
		*why = "used ring log address wraps";
		return -EINVAL;
	}
	return 0;
}

uint64_t
vhu_inflight_queue_size(uint16_t queue_size)
{
	/* header (features u64, version, desc_num, last_batch_head, used_idx)
	 * then one 16-byte state per descriptor, rounded up to 64 bytes */
	uint64_t sz = 16 + 16ull * queue_size;

	return (sz + 63) & ~63ull;
}

uint64_t
vhu_inflight_queue_size_packed(uint16_t queue_size)
{
	/* 32-byte header (features, version, desc_num, free heads, used
	 * indexes, wrap counters, padding), 32 bytes per descriptor */
	uint64_t sz = 32 + 32ull * queue_size;

	return (sz + 63) & ~63ull;
}

int
vhu_check_iotlb_msg(const struct vhu_iotlb_msg *m, const char **why)
{
	switch (m->type) {
	case VHU_IOTLB_UPDATE:
		if (m->size == 0) {
			*why = "IOTLB update of size 0";
			return -EINVAL;
		}
		if (m->iova + m->size < m->iova || m->iova + m->size == 0) {
			*why = "IOTLB update wraps the I/O address space";
			return -EINVAL;
		}
		if (m->uaddr + m->size < m->uaddr || m->uaddr + m->size == 0) {
			*why = "IOTLB update wraps the front-end address space";
			return -EINVAL;
		}
		if (m->perm != VHU_ACCESS_RO && m->perm != VHU_ACCESS_WO &&
				m->perm != VHU_ACCESS_RW) {
			*why = "IOTLB update without a valid permission";
			return -EINVAL;
		}
		return 0;
	case VHU_IOTLB_INVALIDATE:
		/* any range: forgetting more than asked is always safe */
		return 0;
	default:
		*why = "IOTLB message type a front-end does not send";
		return -EINVAL;
	}
}

int
vhu_check_payload(enum vhu_payload_kind kind, const struct vhu_msg *msg,
		  const char **why)
{
	uint32_t size = msg->hdr.size;
	const union vhu_payload *p = &msg->payload;

	switch (kind) {
	case VHU_PL_NONE:
		if (size != 0)
			goto bad_size;
		return 0;
	case VHU_PL_U64:
		if (size != sizeof(uint64_t))
			goto bad_size;
		return 0;
	case VHU_PL_FILE:
		if (size != sizeof(uint64_t))
			goto bad_size;
		if (p->u64 & ~(VHU_VRING_IDX_MASK | VHU_VRING_NOFD_MASK)) {
			*why = "reserved bits set in vring file payload";
			return -EINVAL;
		}
		return 0;
	case VHU_PL_STATE:
		if (size != sizeof(struct vhu_vring_state))
			goto bad_size;
		return 0;
	case VHU_PL_ADDR:
		if (size != sizeof(struct vhu_vring_addr))
			goto bad_size;
		return 0;
	case VHU_PL_MEM_TABLE:
		if (size < 8 || p->mem.nregions > VHU_MEM_TABLE_MAX_REGIONS ||
		    size != 8 + p->mem.nregions * sizeof(struct vhu_mem_region_desc))
			goto bad_size;
		return vhu_check_mem_table(&p->mem, why);
	case VHU_PL_MEM_SINGLE:
		if (size != sizeof(struct vhu_mem_single))
			goto bad_size;
		return vhu_check_region(&p->memreg.region, why);
	case VHU_PL_LOG:
		if (size != sizeof(struct vhu_log_desc))
			goto bad_size;
		if (p->log.mmap_size == 0 ||
		    p->log.mmap_offset + p->log.mmap_size < p->log.mmap_offset ||
		    p->log.mmap_offset + p->log.mmap_size > (uint64_t)INT64_MAX) {
			*why = "bad dirty log size or offset";
			return -EINVAL;
		}
		return 0;
	case VHU_PL_CONFIG:
		if (size < VHU_CONFIG_HDR_SIZE || p->config.size > VHU_CONFIG_MAX ||
		    size != VHU_CONFIG_HDR_SIZE + p->config.size)
			goto bad_size;
		if (p->config.offset > VHU_CONFIG_MAX ||
		    p->config.offset + p->config.size > VHU_CONFIG_MAX) {
			*why = "config access beyond the config space";
			return -EINVAL;
		}
		if (p->config.flags != VHU_CONFIG_F_WRITABLE &&
		    p->config.flags != VHU_CONFIG_F_MIGRATION) {
			*why = "unknown config flags";
			return -EINVAL;
		}
		return 0;
	case VHU_PL_INFLIGHT:
		if (size != sizeof(struct vhu_inflight_desc))
			goto bad_size;
		return 0;
	case VHU_PL_XFER:
		if (size != sizeof(struct vhu_device_state_xfer))
			goto bad_size;
		return 0;
	case VHU_PL_IOTLB:
		/* the fields, or the C struct with its padding (QEMU, DPDK) */
		if (size != VHU_IOTLB_MSG_SIZE && size != VHU_IOTLB_MSG_SIZE_PAD)
			goto bad_size;
		return vhu_check_iotlb_msg(&p->iotlb, why);
	case VHU_PL_ANY:
		return 0;
	}
	*why = "unknown payload kind";
	return -EINVAL;
bad_size:
	*why = "wrong payload size";
	return -EINVAL;
}
