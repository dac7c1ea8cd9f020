/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Codec: header and payload validators, incremental receive with fds over
 * a socketpair (partial messages, fd overflow, EOF), send/receive round trip.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mock_fe.h"
#include "vhu_codec.h"
#include "vhu_test.h"

static int
check(enum vhu_payload_kind k, const void *p, size_t plen, uint32_t size)
{
	static struct vhu_msg m;
	const char *why = NULL;

	memset(&m, 0, sizeof(m));
	m.hdr.flags = VHU_FLAG_VERSION;
	m.hdr.size = size;
	if (p != NULL)
		memcpy(m.payload.raw, p, plen < size ? plen : size);
	return vhu_check_payload(k, &m, &why);
}

VHU_TEST(fast, codec_header)
{
	struct vhu_msg_hdr h = { VHU_REQ_GET_FEATURES, VHU_FLAG_VERSION, 0 };
	const char *why = NULL;

	TEST_ASSERT_EQ(vhu_check_hdr(&h, &why), 0, "valid");
	h.flags = VHU_FLAG_VERSION | VHU_FLAG_NEED_REPLY;
	TEST_ASSERT_EQ(vhu_check_hdr(&h, &why), 0, "need_reply");
	h.flags = 0;
	TEST_ASSERT_EQ(vhu_check_hdr(&h, &why), -EINVAL, "version 0");
	h.flags = 2;
	TEST_ASSERT_EQ(vhu_check_hdr(&h, &why), -EINVAL, "version 2");
	h.flags = VHU_FLAG_VERSION | (1u << 4);
	TEST_ASSERT_EQ(vhu_check_hdr(&h, &why), -EINVAL, "unknown flag");
	TEST_ASSERT(why != NULL && strstr(why, "flags") != NULL, "reason: %s", why);
	h.flags = VHU_FLAG_VERSION;
	h.size = VHU_MAX_PAYLOAD;
	TEST_ASSERT_EQ(vhu_check_hdr(&h, &why), 0, "4096 bytes");
	h.size = VHU_MAX_PAYLOAD + 1;
	TEST_ASSERT_EQ(vhu_check_hdr(&h, &why), -EINVAL, "4097 bytes");
	h.size = 0xffffffffu;
	TEST_ASSERT_EQ(vhu_check_hdr(&h, &why), -EINVAL, "huge");
	TEST_ASSERT(strcmp(vhu_req_name(VHU_REQ_SET_MEM_TABLE), "SET_MEM_TABLE") == 0, "name");
	TEST_ASSERT(strcmp(vhu_req_name(1000), "UNKNOWN") == 0, "unknown name");
	return TEST_SUCCESS;
}

VHU_TEST(fast, codec_payload_sizes)
{
	uint64_t u = 0;
	struct vhu_vring_state st = { 0, 0 };
	struct vhu_vring_addr a;
	struct vhu_log_desc l = { .mmap_size = 4096, .mmap_offset = 0 };
	struct vhu_inflight_desc inf;
	struct vhu_config cfg;

	memset(&a, 0, sizeof(a));
	memset(&inf, 0, sizeof(inf));
	TEST_ASSERT_EQ(check(VHU_PL_NONE, NULL, 0, 0), 0, "none");
	TEST_ASSERT_EQ(check(VHU_PL_NONE, &u, sizeof(u), 8), -EINVAL, "none with payload");
	TEST_ASSERT_EQ(check(VHU_PL_U64, &u, sizeof(u), 8), 0, "u64");
	TEST_ASSERT_EQ(check(VHU_PL_U64, &u, sizeof(u), 4), -EINVAL, "short u64");
	TEST_ASSERT_EQ(check(VHU_PL_STATE, &st, sizeof(st), 8), 0, "state");
	TEST_ASSERT_EQ(check(VHU_PL_STATE, &st, sizeof(st), 16), -EINVAL, "long state");
	TEST_ASSERT_EQ(check(VHU_PL_ADDR, &a, sizeof(a), 40), 0, "addr");
	TEST_ASSERT_EQ(check(VHU_PL_ADDR, &a, sizeof(a), 32), -EINVAL, "short addr");
	u = 5 | VHU_VRING_NOFD_MASK;
	TEST_ASSERT_EQ(check(VHU_PL_FILE, &u, sizeof(u), 8), 0, "file");
	u = 5 | (1ull << 12);
	TEST_ASSERT_EQ(check(VHU_PL_FILE, &u, sizeof(u), 8), -EINVAL, "file reserved bits");
	TEST_ASSERT_EQ(check(VHU_PL_LOG, &l, sizeof(l), 16), 0, "log");
	l.mmap_size = 0;
	TEST_ASSERT_EQ(check(VHU_PL_LOG, &l, sizeof(l), 16), -EINVAL, "empty log");
	l.mmap_size = 4096;
	l.mmap_offset = ~0ull - 100;
	TEST_ASSERT_EQ(check(VHU_PL_LOG, &l, sizeof(l), 16), -EINVAL, "log wraps");
	TEST_ASSERT_EQ(check(VHU_PL_INFLIGHT, &inf, sizeof(inf), 20), 0, "inflight");
	TEST_ASSERT_EQ(check(VHU_PL_INFLIGHT, &inf, sizeof(inf), 24), -EINVAL, "inflight size");
	TEST_ASSERT_EQ(check(VHU_PL_XFER, &u, sizeof(u), 8), 0, "xfer");
	TEST_ASSERT_EQ(check(VHU_PL_XFER, &u, sizeof(u), 4), -EINVAL, "xfer size");
	memset(&cfg, 0, sizeof(cfg));
	cfg.size = 6;
	TEST_ASSERT_EQ(check(VHU_PL_CONFIG, &cfg, sizeof(cfg), 12 + 6), 0, "config");
	TEST_ASSERT_EQ(check(VHU_PL_CONFIG, &cfg, sizeof(cfg), 12 + 7), -EINVAL, "config size mismatch");
	cfg.size = 257;
	TEST_ASSERT_EQ(check(VHU_PL_CONFIG, &cfg, sizeof(cfg), 12 + 257), -EINVAL, "config too big");
	cfg.size = 16;
	cfg.offset = 250;
	TEST_ASSERT_EQ(check(VHU_PL_CONFIG, &cfg, sizeof(cfg), 12 + 16), -EINVAL, "config beyond");
	cfg.offset = 0xfffffff0u;
	TEST_ASSERT_EQ(check(VHU_PL_CONFIG, &cfg, sizeof(cfg), 12 + 16), -EINVAL, "config offset wraps");
	cfg.offset = 0;
	cfg.flags = 2;
	TEST_ASSERT_EQ(check(VHU_PL_CONFIG, &cfg, sizeof(cfg), 12 + 16), -EINVAL, "config type");
	return TEST_SUCCESS;
}

VHU_TEST(fast, codec_mem_table)
{
	struct vhu_mem_table t;
	const char *why = NULL;

	memset(&t, 0, sizeof(t));
	t.nregions = 2;
	t.regions[0] = (struct vhu_mem_region_desc){ 0, 0x100000, 0x7f0000000000ull, 0 };
	t.regions[1] = (struct vhu_mem_region_desc){ 0x100000, 0x100000, 0x7f0000100000ull, 0 };
	TEST_ASSERT_EQ(vhu_check_mem_table(&t, &why), 0, "adjacent regions");
	TEST_ASSERT_EQ(check(VHU_PL_MEM_TABLE, &t, sizeof(t), 8 + 64), 0, "payload");
	TEST_ASSERT_EQ(check(VHU_PL_MEM_TABLE, &t, sizeof(t), 8 + 32), -EINVAL, "size for 1 region");
	t.regions[1].guest_phys_addr = 0xfffff;
	TEST_ASSERT_EQ(vhu_check_mem_table(&t, &why), -EINVAL, "gpa overlap by one byte");
	t.regions[1].guest_phys_addr = 0x100000;
	t.regions[1].userspace_addr = 0x7f00000fffffull;
	TEST_ASSERT_EQ(vhu_check_mem_table(&t, &why), -EINVAL, "uva overlap");
	t.regions[1].userspace_addr = 0x7f0000100000ull;
	t.regions[1].memory_size = 0;
	TEST_ASSERT_EQ(vhu_check_mem_table(&t, &why), -EINVAL, "empty region");
	t.regions[1].memory_size = 0x100000;
	t.regions[1].guest_phys_addr = ~0ull - 0xfffff;     /* ends exactly at 2^64 */
	TEST_ASSERT_EQ(vhu_check_mem_table(&t, &why), -EINVAL, "gpa reaches 2^64");
	t.regions[1].guest_phys_addr = 0x100000;
	t.regions[1].mmap_offset = ~0ull - 10;
	TEST_ASSERT_EQ(vhu_check_mem_table(&t, &why), -EINVAL, "offset wraps");
	t.regions[1].mmap_offset = 0;
	t.nregions = 0;
	TEST_ASSERT_EQ(vhu_check_mem_table(&t, &why), -EINVAL, "no region");
	t.nregions = 9;
	TEST_ASSERT_EQ(vhu_check_mem_table(&t, &why), -EINVAL, "9 regions");
	return TEST_SUCCESS;
}

VHU_TEST(fast, codec_vring_addr)
{
	struct vhu_vring_addr a;
	const char *why = NULL;

	memset(&a, 0, sizeof(a));
	a.desc_user_addr = 0x10000;
	a.avail_user_addr = 0x20002;     /* 2-aligned is enough */
	a.used_user_addr = 0x30004;      /* 4-aligned is enough */
	TEST_ASSERT_EQ(vhu_check_vring_addr(&a, 256, 0, &why), 0, "split");
	a.desc_user_addr = 0x10008;
	TEST_ASSERT_EQ(vhu_check_vring_addr(&a, 256, 0, &why), -EINVAL, "desc align");
	a.desc_user_addr = 0x10000;
	a.avail_user_addr = 0x20001;
	TEST_ASSERT_EQ(vhu_check_vring_addr(&a, 256, 0, &why), -EINVAL, "avail align");
	a.avail_user_addr = 0x20002;
	a.used_user_addr = 0x30002;
	TEST_ASSERT_EQ(vhu_check_vring_addr(&a, 256, 0, &why), -EINVAL, "used align");
	TEST_ASSERT_EQ(vhu_check_vring_addr(&a, 256, 1, &why), -EINVAL, "packed event align");
	a.used_user_addr = 0x30004;
	a.avail_user_addr = 0x20004;
	TEST_ASSERT_EQ(vhu_check_vring_addr(&a, 256, 1, &why), 0, "packed");
	a.flags = 4;
	TEST_ASSERT_EQ(vhu_check_vring_addr(&a, 256, 0, &why), -EINVAL, "flags");
	a.flags = 1;
	a.log_guest_addr = ~0ull - 100;
	TEST_ASSERT_EQ(vhu_check_vring_addr(&a, 256, 0, &why), -EINVAL, "log wraps");
	a.log_guest_addr = 0;
	a.desc_user_addr = ~0ull - 4095;
	TEST_ASSERT_EQ(vhu_check_vring_addr(&a, 256, 0, &why), -EINVAL, "desc wraps");
	TEST_ASSERT_EQ(vhu_check_ring_size(256, 0, &why), 0, "256");
	TEST_ASSERT_EQ(vhu_check_ring_size(32768, 0, &why), 0, "32768");
	TEST_ASSERT_EQ(vhu_check_ring_size(0, 0, &why), -EINVAL, "0");
	TEST_ASSERT_EQ(vhu_check_ring_size(300, 0, &why), -EINVAL, "300 split");
	TEST_ASSERT_EQ(vhu_check_ring_size(300, 1, &why), 0, "300 packed");
	TEST_ASSERT_EQ(vhu_check_ring_size(32769, 1, &why), -EINVAL, "32769");
	TEST_ASSERT_EQ(vhu_split_used_size(256), 4 + 8 * 256 + 2, "used size");
	TEST_ASSERT_EQ(vhu_split_avail_size(256), 4 + 2 * 256 + 2, "avail size");
	TEST_ASSERT_EQ(vhu_inflight_queue_size(256), 4160, "inflight region");
	return TEST_SUCCESS;
}

/* Receive until complete or an error, with a bound on the number of steps. */
static int
rx_all(int s, struct vhu_rx *rx, const char **why)
{
	int i, rc = 0;

	for (i = 0; i < 100; i++) {
		rc = vhu_rx_step(s, rx, why);
		if (rc != 0)
			return rc;
		vhu_test_sleep_ms(1);
	}
	return rc;
}

VHU_TEST(fast, codec_rx_stream)
{
	static struct vhu_rx rx;
	struct vhu_msg_hdr h = { VHU_REQ_SET_VRING_CALL, VHU_FLAG_VERSION, 8 };
	uint8_t raw[20];
	uint64_t v = 3;
	const char *why = NULL;
	int sp[2], efd, i, fds[10];

	TEST_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0, "socketpair");
	efd = eventfd(0, EFD_CLOEXEC);
	/* one message with one fd */
	vhu_rx_reset(&rx);
	TEST_ASSERT_EQ(vhu_msg_send(sp[0], &h, &v, &efd, 1), 0, "send");
	TEST_ASSERT_EQ(rx_all(sp[1], &rx, &why), 1, "complete");
	TEST_ASSERT_EQ(rx.msg.hdr.request, VHU_REQ_SET_VRING_CALL, "request");
	TEST_ASSERT_EQ(rx.msg.payload.u64, 3, "payload");
	TEST_ASSERT_EQ(rx.msg.nfds, 1, "fd");
	TEST_ASSERT(rx.msg.fds[0] != efd && fcntl(rx.msg.fds[0], F_GETFD) & FD_CLOEXEC,
		    "a new close-on-exec fd");
	vhu_msg_close_fds(&rx.msg);
	TEST_ASSERT_EQ(rx.msg.nfds, 0, "closed");
	/* in pieces: 5 + 9 + 6 bytes */
	vhu_rx_reset(&rx);
	memcpy(raw, &h, 12);
	memcpy(raw + 12, &v, 8);
	TEST_ASSERT_EQ(write(sp[0], raw, 5), 5, "part 1");
	TEST_ASSERT_EQ(vhu_rx_step(sp[1], &rx, &why), 0, "incomplete header");
	TEST_ASSERT_EQ(write(sp[0], raw + 5, 9), 9, "part 2");
	TEST_ASSERT_EQ(vhu_rx_step(sp[1], &rx, &why), 0, "incomplete payload");
	TEST_ASSERT_EQ(write(sp[0], raw + 14, 6), 6, "part 3");
	TEST_ASSERT_EQ(vhu_rx_step(sp[1], &rx, &why), 1, "complete");
	TEST_ASSERT_EQ(rx.msg.payload.u64, 3, "payload");
	/* two messages back to back are not merged */
	vhu_rx_reset(&rx);
	TEST_ASSERT_EQ(vhu_msg_send(sp[0], &h, &v, NULL, 0), 0, "send");
	v = 4;
	TEST_ASSERT_EQ(vhu_msg_send(sp[0], &h, &v, NULL, 0), 0, "send");
	TEST_ASSERT_EQ(rx_all(sp[1], &rx, &why), 1, "first");
	TEST_ASSERT_EQ(rx.msg.payload.u64, 3, "first payload");
	vhu_rx_reset(&rx);
	TEST_ASSERT_EQ(rx_all(sp[1], &rx, &why), 1, "second");
	TEST_ASSERT_EQ(rx.msg.payload.u64, 4, "second payload");
	/* 8 fds accepted, 10 refused (and closed) */
	for (i = 0; i < 10; i++)
		fds[i] = efd;
	vhu_rx_reset(&rx);
	TEST_ASSERT_EQ(vhu_msg_send(sp[0], &h, &v, fds, 8), 0, "send 8");
	TEST_ASSERT_EQ(rx_all(sp[1], &rx, &why), 1, "8 fds");
	TEST_ASSERT_EQ(rx.msg.nfds, 8, "8 fds kept");
	vhu_msg_close_fds(&rx.msg);
	TEST_ASSERT_EQ(vhu_msg_send(sp[0], &h, &v, fds, 9), -EINVAL, "sender refuses 9");
	{
		union {
			char buf[CMSG_SPACE(sizeof(int) * 10)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = raw, .iov_len = 20 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		int before = vhu_test_count_fds();

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * 10);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * 10);
		TEST_ASSERT_EQ(sendmsg(sp[0], &mh, 0), 20, "sendmsg 10 fds");
		vhu_rx_reset(&rx);
		TEST_ASSERT_EQ(rx_all(sp[1], &rx, &why), -EPROTO, "10 fds refused");
		vhu_msg_close_fds(&rx.msg);
		TEST_ASSERT_EQ(vhu_test_count_fds(), before, "every received fd closed");
	}
	/* a bad header is reported as soon as the header is in */
	vhu_rx_reset(&rx);
	h.flags = 3;
	memcpy(raw, &h, 12);
	TEST_ASSERT_EQ(write(sp[0], raw, 12), 12, "bad header");
	TEST_ASSERT_EQ(rx_all(sp[1], &rx, &why), -EPROTO, "bad version");
	/* EOF */
	vhu_rx_reset(&rx);
	close(sp[0]);
	TEST_ASSERT_EQ(rx_all(sp[1], &rx, &why), -ECONNRESET, "peer closed");
	close(sp[1]);
	close(efd);
	return TEST_SUCCESS;
}

VHU_TEST(fast, codec_recv_wait)
{
	struct vhu_msg_hdr h = { VHU_REQ_GET_FEATURES, VHU_FLAG_VERSION | VHU_FLAG_REPLY, 8 };
	struct vhu_msg m;
	uint64_t v = 0x1234;
	int sp[2];

	TEST_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0, "socketpair");
	TEST_ASSERT_EQ(vhu_msg_recv_wait(sp[1], &m, 20), -ETIMEDOUT, "nothing to read");
	TEST_ASSERT_EQ(vhu_msg_send(sp[0], &h, &v, NULL, 0), 0, "send");
	TEST_ASSERT_EQ(vhu_msg_recv_wait(sp[1], &m, 1000), 0, "receive");
	TEST_ASSERT_EQ(m.payload.u64, 0x1234, "payload");
	TEST_ASSERT_EQ(m.hdr.flags, VHU_FLAG_VERSION | VHU_FLAG_REPLY, "flags");
	close(sp[0]);
	close(sp[1]);
	return TEST_SUCCESS;
}

/* Random payloads through every validator: they must only ever say yes or no. */
VHU_TEST(fast, codec_random_payloads)
{
	static struct vhu_msg m;
	const char *why;
	unsigned int i, k, seed = 12345, yes = 0;
	size_t j;

	for (i = 0; i < 20000; i++) {
		for (j = 0; j < 64; j++)
			m.payload.raw[j] = (uint8_t)rand_r(&seed);
		/* small counts and sizes, to reach the deeper checks too */
		m.payload.mem.nregions = (uint32_t)(rand_r(&seed) % 10);
		m.hdr.size = (uint32_t)(rand_r(&seed) % 300);
		for (k = VHU_PL_NONE; k <= VHU_PL_ANY; k++) {
			why = NULL;
			if (vhu_check_payload((enum vhu_payload_kind)k, &m, &why) == 0)
				yes++;
			else if (why == NULL)
				return TEST_FAILED;   /* a refusal always says why */
		}
	}
	TEST_ASSERT(yes > 0, "some payloads pass");
	return TEST_SUCCESS;
}
