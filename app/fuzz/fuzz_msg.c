/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Fuzz target "msg": a byte stream becomes a sequence of vhost-user
 * messages, with file descriptors of the kinds the input picks (memfds
 * that serve as guest memory, eventfds, pipes, sockets, /dev/null,
 * /dev/zero, runt memfds), written into one end of a socketpair. The other
 * end is a device made with vhu_conn_new(); each message goes through
 * vhu_rx_step() and vhu_msg_dispatch() exactly as the control thread does,
 * the replies are drained (fds they carry closed), and every ring that is
 * active afterwards gets a dequeue and an enqueue burst, so a table that
 * still points into unmapped memory faults at once. The device is freed
 * at the end of the input; no fd, mbuf or rte_malloc block may survive.
 *
 * Input: one configuration byte (bits 0-1 queue pairs - 1, 2 packed, 3 MTU
 * and MAC, 4 in-band notifications, 5 IOTLB mode: VHU_SOCK_IOMMU), then
 * records until the input ends:
 *   op (u8): 0xfe = raw bytes (u8 length, bytes), 0xff = request id is the
 *            next u32, otherwise request = op % (VHU_REQ_MAX + 4)
 *   flags (u8): bit 0 NEED_REPLY; bit 7: the header flags are the next u32
 *   fds (u8): count = value % 11 (more than 8 is a protocol error), then one
 *             kind byte per fd (see make_fd)
 *   size (u16 little-endian), then size payload bytes (zeros once the
 *   input is exhausted); a size above the protocol limit sends the header
 *   alone.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "fuzz_harness.h"
#include "fuzz_util.h"
#include "vhu_conn.h"
#include "vhu_msg.h"

#define MSG_MAX_RECORDS 48
#define MSG_SLOTS 4
#define MSG_POOL_SIZE 255

struct msg_run {
	struct vhu_socket_conf conf; /* what the transport would pass */
	uint64_t features;
	uint64_t protocol_features;
	struct vhu_conn *c;
	int fe;                          /* front-end end of the socketpair */
	int memfd[MSG_SLOTS];
	bool closed;
};

static struct rte_mempool *msg_pool;

static int
cb_new_device(int vid)
{
	RTE_SET_USED(vid);
	return 0;
}

static int
cb_save_state(int vid, void *buf, size_t len)
{
	RTE_SET_USED(vid);
	if (len < 16)
		return -ENOSPC;
	memset(buf, 0x5a, 16);
	return 16;
}

static int
cb_load_state(int vid, const void *buf, size_t len)
{
	RTE_SET_USED(vid);
	RTE_SET_USED(buf);
	return len <= 16 ? 0 : -EINVAL;
}

static const struct vhu_ops msg_ops = {
	.new_device = cb_new_device,
	.save_state = cb_save_state,
	.load_state = cb_load_state,
};

/*
 * One fd of the kind k picks; *keep = true when it must stay open after
 * sending (memfd slots, closed at the end of the run).
 */
static int
make_fd(struct msg_run *r, struct fz_in *in, uint8_t k, bool *keep)
{
	int p[2], fd;

	*keep = false;
	switch (k % 8) {
	case 0: {
		unsigned int slot = (k >> 3) % MSG_SLOTS;

		if (r->memfd[slot] < 0) {
			/* 64 KiB .. 4 MiB, sparse */
			uint64_t size = ((uint64_t)(fz_u8(in) % 64) + 1) << 16;

			fd = memfd_create("fuzz-guest", MFD_CLOEXEC);
			if (fd < 0)
				return -1;
			if (ftruncate(fd, (off_t)size) != 0) {
				close(fd);
				return -1;
			}
			r->memfd[slot] = fd;
		}
		*keep = true;
		return r->memfd[slot];
	}
	case 1:
		return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	case 2:
	case 3:
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
			return -1;
		/* the other end closed: reads see EOF, writes EPIPE */
		close(p[(k % 8) == 2 ? 1 : 0]);
		return p[(k % 8) == 2 ? 0 : 1];
	case 4:
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	case 5:
		return open("/dev/zero", O_RDWR | O_CLOEXEC);
	case 6:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0)
			return -1;
		close(p[1]);
		return p[0];
	default:
		/* a runt memfd: 0..255 bytes */
		fd = memfd_create("fuzz-runt", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, fz_u8(in)) != 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
}

static int
send_raw(int sock, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
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
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/* Read and forget every reply, closing the fds they carry. */
static void
drain(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} ctl;
	uint8_t buf[8192];

	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh;
		struct cmsghdr *c;
		ssize_t n;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n <= 0)
			return;
		for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			size_t i, nfd;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < nfd; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
		}
	}
}

/* What the control thread does when the connection is readable. */
static void
pump(struct msg_run *r)
{
	struct vhu_conn *c = r->c;
	const char *why = "";

	while (!r->closed) {
		int rc = vhu_rx_step(c->dev.connfd, &c->rx, &why);

		if (rc == 0)
			return;
		if (rc < 0) {
			vhu_msg_close_fds(&c->rx.msg);
			r->closed = true;
			return;
		}
		rc = vhu_msg_dispatch(c, &c->rx.msg);
		vhu_msg_close_fds(&c->rx.msg);
		vhu_rx_reset(&c->rx);
		if (rc != 0)
			r->closed = true;
	}
}

/* An lcore's turn on every active ring: faults if a ring outlived its memory. */
static int
bursts(struct msg_run *r, const char **why)
{
	struct vhu_dev *dev = &r->c->dev;
	struct rte_mbuf *pkts[8];
	uint32_t q;

	for (q = 0; q < dev->nr_vring && q < 8; q++) {
		struct vhu_vq *vq = dev->vq[q];
		uint16_t n, i;

		if (vq == NULL || !vq->active)
			continue;
		if (q & 1) {
			n = vhu_dequeue_burst(dev->vid, (uint16_t)q, msg_pool, pkts, RTE_DIM(pkts));
			for (i = 0; i < n; i++) {
				if (fz_mbuf_bad(pkts[i], why))
					return -1;
				rte_pktmbuf_free(pkts[i]);
			}
		} else {
			struct rte_mbuf *m = rte_pktmbuf_alloc(msg_pool);

			if (m == NULL) {
				*why = "mbuf pool empty before an enqueue";
				return -1;
			}
			fz_frame(rte_pktmbuf_mtod(m, uint8_t *), 64, q);
			m->data_len = 64;
			m->pkt_len = 64;
			vhu_enqueue_burst(dev->vid, (uint16_t)q, &m, 1);
			rte_pktmbuf_free(m);
		}
	}
	return 0;
}

static int
record(struct msg_run *r, struct fz_in *in, const char **why)
{
	static uint8_t buf[sizeof(struct vhu_msg_hdr) + VHU_MAX_PAYLOAD];
	int fds[16], tmp[16];
	unsigned int nfds, ntmp = 0, i;
	struct vhu_msg_hdr h;
	uint8_t op, fl;
	size_t len;
	int rc;

	op = fz_u8(in);
	if (op == 0xfe) {
		len = fz_u8(in);
		fz_bytes(in, buf, len);
		nfds = 0;
	} else {
		h.request = op == 0xff ? fz_u32(in) : op % (VHU_REQ_MAX + 4u);
		fl = fz_u8(in);
		h.flags = VHU_FLAG_VERSION | ((fl & 1) ? VHU_FLAG_NEED_REPLY : 0);
		if (fl & 0x80)
			h.flags = fz_u32(in);
		nfds = fz_u8(in) % 11u;
		h.size = fz_u16(in);
		memcpy(buf, &h, sizeof(h));
		len = sizeof(h);
		if (h.size <= VHU_MAX_PAYLOAD) {
			fz_bytes(in, buf + sizeof(h), h.size);
			len += h.size;
		}
	}
	for (i = 0; i < nfds; i++) {
		bool keep;
		int fd = make_fd(r, in, fz_u8(in), &keep);

		if (fd < 0) {
			nfds = i;
			break;
		}
		fds[i] = fd;
		if (!keep)
			tmp[ntmp++] = fd;
	}
	rc = send_raw(r->fe, buf, len, fds, nfds);
	for (i = 0; i < ntmp; i++)
		close(tmp[i]);
	if (rc != 0)
		return 1;   /* socket full or closed: end of the run */
	pump(r);
	drain(r->fe);
	if (r->closed)
		return 1;
	return bursts(r, why);
}

int
vhu_fuzz_msg_run(const uint8_t *data, size_t len, const char **why)
{
	struct fz_in in = { .p = data, .n = len };
	struct fz_leaks before;
	struct msg_run r;
	int sp[2], i, rc = 0;
	uint8_t cfg;

	*why = NULL;
	if (msg_pool == NULL) {
		msg_pool = rte_pktmbuf_pool_create("fuzz_msg", MSG_POOL_SIZE, 0, 0,
						   RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
		if (msg_pool == NULL) {
			*why = "cannot create the mbuf pool";
			return -1;
		}
	}
	fz_leaks_mark(&before);
	memset(&r, 0, sizeof(r));
	for (i = 0; i < MSG_SLOTS; i++)
		r.memfd[i] = -1;

	cfg = fz_u8(&in);
	r.conf.path = "fuzz-msg";
	r.conf.ops = &msg_ops;
	r.conf.max_queue_pairs = (uint16_t)(1 + (cfg & 3));
	r.conf.flags = (cfg & 4) ? VHU_SOCK_PACKED : 0;
	r.features = vhu_default_features() | VHU_BIT(VHU_F_PROTOCOL_FEATURES);
	if (cfg & 4)
		r.features |= VHU_BIT(VHU_F_RING_PACKED);
	if (cfg & 8)
		r.features |= VHU_BIT(VHU_F_NET_MTU) | VHU_BIT(VHU_F_NET_MAC);
	r.protocol_features = vhu_default_protocol_features();
	if (cfg & 16)
		r.protocol_features |= VHU_BIT(VHU_PF_INBAND_NOTIFICATIONS);
	r.conf.mtu = (cfg & 8) ? 1500 : 0;
	/* IOTLB mode: ACCESS_PLATFORM offered, IOTLB_MSG served, ring addresses IOVAs */
	if (cfg & 32) {
		r.conf.flags |= VHU_SOCK_IOMMU;
		r.features |= VHU_BIT(VHU_F_ACCESS_PLATFORM);
	}

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
		*why = "socketpair";
		return -1;
	}
	if (fcntl(sp[1], F_SETFL, O_NONBLOCK) != 0) {
		close(sp[0]);
		close(sp[1]);
		*why = "fcntl";
		return -1;
	}
	r.fe = sp[0];
	r.c = vhu_conn_new(&r.conf, r.features, r.protocol_features, sp[1]);
	if (r.c == NULL) {
		close(sp[0]);
		*why = "vhu_conn_new failed";
		return -1;
	}
	for (i = 0; i < MSG_MAX_RECORDS && in.n > 0; i++) {
		rc = record(&r, &in, why);
		if (rc != 0)
			break;
	}
	if (rc > 0)
		rc = 0;
	vhu_conn_free(r.c);
	close(r.fe);
	for (i = 0; i < MSG_SLOTS; i++)
		if (r.memfd[i] >= 0)
			close(r.memfd[i]);
	if (rc == 0 && rte_mempool_avail_count(msg_pool) != MSG_POOL_SIZE) {
		*why = "mbufs lost";
		rc = -1;
	}
	if (rc == 0)
		rc = fz_leaks_check(&before, why);
	return rc;
}
