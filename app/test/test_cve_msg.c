/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Attack classes on the message stream: connections that leak, queue
 * indexes truncated, bad vring and inflight sizes, fds smuggled in messages
 * that take none or of the wrong kind, device-state blobs mutated, a packed
 * ring's base with its used half.
 *
 * Each case plays a hostile party through the mock front-end (real
 * messages) or in the mock's guest memory (rings and buffers), next to a
 * well-behaved second device (the pair fixture of hostile.h), and asserts
 * a clean refusal (error reply, closed connection or dropped packet), the
 * log line the design promises, no leak (fds, mappings, rte_malloc blocks,
 * devices, mbufs), and that the bystander kept forwarding. Out-of-bounds
 * accesses are the sanitizer build's job (devtools/tests.d/sanitizers.sh
 * runs the fast suite under ASan and UBSan).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "hostile.h"
#include "vhu.h"
#include "vhu_dev.h"
#include "vhu_dev_table.h"
#include "vhu_test.h"

#define F(b)  VHU_BIT(VHU_F_##b)
#define QSIZE PAIR_QSIZE
/* slots the tests write raw descriptors into (the guest driver uses the low ones) */
#define RAW   128

/* ------------------------------------------------------------------------ */
/* CVE-2019-14818: resources leaked per malicious connection.               */

#define EVIL_CONNS 200

/* One malicious session of kind k on A's current connection; ends closed. */
static int
evil_session(struct pair *p, unsigned int k)
{
	struct mock_fe *fe = &p->a.fe;
	struct vhu_mem_table t;
	uint64_t v;
	int efd[3], i;

	for (i = 0; i < 3; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC);
	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0] = mock_fe_region(fe);
	switch (k % 6) {
	case 0: /* memory mapped, then a bad request */
		TEST_ASSERT_EQ(mock_fe_negotiate(fe, 0, 0), 0, "negotiate");
		TEST_ASSERT_EQ(mock_fe_send(fe, VHU_REQ_SET_MEM_TABLE, 0, &t, 40, &fe->memfd, 1), 0,
				"table");
		v = ~0ull;
		mock_fe_send(fe, VHU_REQ_SET_FEATURES, 0, &v, 8, NULL, 0);
		break;
	case 1: /* fds smuggled in a request that takes none */
		mock_fe_send(fe, VHU_REQ_GET_FEATURES, 0, NULL, 0, efd, 3);
		break;
	case 2: /* ring fds handed over, then the front-end just goes */
		TEST_ASSERT_EQ(mock_fe_negotiate(fe, 0, 0), 0, "negotiate");
		v = 0;
		mock_fe_send(fe, VHU_REQ_SET_VRING_CALL, 0, &v, 8, &efd[0], 1);
		mock_fe_send(fe, VHU_REQ_SET_VRING_ERR, 0, &v, 8, &efd[1], 1);
		mock_fe_send(fe, VHU_REQ_SET_VRING_KICK, 0, &v, 8, &efd[2], 1);
		mock_fe_alive(fe);
		break;
	case 3: { /* half a message with fds, then gone */
		struct vhu_msg_hdr h = { VHU_REQ_SET_MEM_TABLE, VHU_FLAG_VERSION, 40 };
		uint8_t raw[12 + 20];

		memcpy(raw, &h, 12);
		memcpy(raw + 12, &t, 20);
		TEST_ASSERT_EQ(mock_fe_send(fe, VHU_REQ_SET_OWNER, 0, NULL, 0, NULL, 0), 0, "");
		{
			struct msghdr mh;
			struct iovec iov = { raw, sizeof(raw) };
			union {
				char b[CMSG_SPACE(sizeof(int))];
				struct cmsghdr a;
			} ctl;
			struct cmsghdr *c;

			memset(&mh, 0, sizeof(mh));
			memset(&ctl, 0, sizeof(ctl));
			mh.msg_iov = &iov;
			mh.msg_iovlen = 1;
			mh.msg_control = ctl.b;
			mh.msg_controllen = sizeof(ctl.b);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fe->memfd, sizeof(int));
			TEST_ASSERT_EQ(sendmsg(fe->sock, &mh, MSG_NOSIGNAL), (ssize_t)sizeof(raw),
					"half a message");
		}
		break;
	}
	case 4: { /* a dirty log and an inflight area mapped, then a bad header */
		struct vhu_log_desc l = { 4096, 0 };
		struct vhu_inflight_desc in = { 0, 0, 2, 256 };
		struct vhu_msg r;
		int lfd = hmemfd(4096);

		TEST_ASSERT_EQ(mock_fe_negotiate(fe, 0, 0), 0, "negotiate");
		mock_fe_send(fe, VHU_REQ_SET_LOG_BASE, 0, &l, sizeof(l), &lfd, 1);
		close(lfd);
		TEST_ASSERT_EQ(mock_fe_recv(fe, &r), 0, "SET_LOG_BASE reply");
		mock_fe_send(fe, VHU_REQ_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0);
		TEST_ASSERT_EQ(mock_fe_recv(fe, &r), 0, "GET_INFLIGHT_FD reply");
		vhu_msg_close_fds(&r);
		mock_fe_send(fe, VHU_REQ_GET_FEATURES, 0x7, NULL, 0, NULL, 0); /* version 3 */
		break;
	}
	default: /* a ready device, then a request for a vring that does not exist */
		TEST_RUN(hdev_ready(&p->a, 0, 64));
		v = 77;
		mock_fe_send(fe, VHU_REQ_SET_VRING_CALL, 0, &v, 8, &efd[0], 1);
		break;
	}
	for (i = 0; i < 3; i++)
		close(efd[i]);
	/* whatever happened, the front-end goes away now */
	return TEST_SUCCESS;
}

static int
body_2019_14818(struct pair *p)
{
	struct hmark warm;
	unsigned int k;
	int before;

	TEST_RUN(pair_up(p, 0));
	/* one round first, so that caches (thread stacks, pools) are warm */
	TEST_RUN(hdev_reconnect(&p->a));
	before = vhu_rec.disconn;
	TEST_RUN(evil_session(p, 5));
	TEST_RUN(hdev_reconnect(&p->a));
	TEST_ASSERT(vhu_test_wait(&vhu_rec.disconn, before + 1, 2000), "warm-up disconnect");
	hmark_take(&warm);
	for (k = 0; k < EVIL_CONNS; k++) {
		before = vhu_rec.disconn;
		TEST_RUN(evil_session(p, k));
		TEST_RUN(hdev_reconnect(&p->a));
		TEST_ASSERT(vhu_test_wait(&vhu_rec.disconn, before + 1, 2000),
				"session %u: connection not torn down", k);
		if (k % 50 == 49)
			TEST_RUN(hdev_forwards(&p->b, 4));
	}
	/* the same resources as before the 200 sessions (one connection open) */
	TEST_RUN(hmark_check(&warm));
	TEST_ASSERT(hlog_has("carries 3 fds, 0 expected"), "smuggled fds logged");
	TEST_ASSERT(hlog_has("unsupported protocol version"), "bad header logged");
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2019_14818_connection_leak, pair, p)
{
	return body_2019_14818(p);
}

/* ------------------------------------------------------------------------ */
/* CVE-2020-10723: a queue index truncated to fewer bits.                   */

static int
body_2020_10723(struct pair *p)
{
	static const uint32_t bad[] = { 2, 255, 256, 0x10000, 0x10001, 0x80000000u, UINT32_MAX };
	struct vhu_vring_state st;
	struct rte_mbuf *m[4] = { NULL };
	struct vhu_vq_stats vs;
	unsigned int i;
	uint64_t v;

	TEST_RUN(pair_up(p, 0));
	/* every request naming a vring: 2 and up do not exist (one queue pair) */
	for (i = 0; i < RTE_DIM(bad); i++) {
		char line[64];

		TEST_RUN(pair_negotiated(p));
		st.index = bad[i];
		st.num = 64;
		snprintf(line, sizeof(line), "vring index %u out of range", bad[i]);
		TEST_RUN(pair_fatal(p, i & 1 ? VHU_REQ_SET_VRING_NUM : VHU_REQ_SET_VRING_BASE, &st,
				sizeof(st), NULL, 0, line));
		TEST_RUN(pair_negotiated(p));
		TEST_RUN(pair_fatal(p, VHU_REQ_GET_VRING_BASE, &st, sizeof(st), NULL, 0, line));
		TEST_RUN(pair_negotiated(p));
		TEST_RUN(pair_fatal(p, VHU_REQ_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, line));
	}
	/* the fd requests carry the index in the low byte: other bits are refused */
	TEST_RUN(pair_negotiated(p));
	v = 0x100ull | 0x200ull;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_VRING_CALL, &v, 8, NULL, 0, "reserved bits"));
	TEST_RUN(pair_negotiated(p));
	v = (1ull << 32) | VHU_VRING_NOFD_MASK;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_VRING_KICK, &v, 8, NULL, 0, "reserved bits"));
	TEST_RUN(pair_negotiated(p));
	v = 200 | VHU_VRING_NOFD_MASK;
	TEST_RUN(pair_fatal(
			p, VHU_REQ_SET_VRING_ERR, &v, 8, NULL, 0, "vring index 200 out of range"));

	/* the application side: queue ids and vids out of range are refused */
	TEST_RUN(hdev_ready(&p->a, 0, QSIZE));
	TEST_ASSERT_EQ(vhu_dequeue_burst(p->a.vid, VHU_MAX_VRINGS + 1, hpool(), m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(p->a.vid, 0xffff, hpool(), m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(p->a.vid, 3, hpool(), m, 4), 0, "vring 3 not set up");
	TEST_ASSERT_EQ(vhu_enqueue_burst(p->a.vid, VHU_MAX_VRINGS, m, 0), 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(p->a.vid, 0xfffe, m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(-1, 1, hpool(), m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(VHU_MAX_DEVICES, 1, hpool(), m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(INT32_MAX, 0, m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_vq_stats_get(p->a.vid, 0xffff, &vs), -1, "");
	TEST_ASSERT_EQ(vhu_vq_stats_reset(p->a.vid, VHU_MAX_VRINGS), -1, "");
	TEST_ASSERT_EQ(vhu_enable_guest_notification(p->a.vid, 0xffff, 1), -1, "");
	TEST_ASSERT_EQ(vhu_get_kickfd(p->a.vid, VHU_MAX_VRINGS), -1, "");
	TEST_ASSERT_EQ(vhu_vring_is_active(p->a.vid, 0xffff), -1, "");
	TEST_ASSERT_EQ(vhu_vring_is_active(-5, 0), -1, "");
	vhu_count_kick(p->a.vid, 0xffff);
	vhu_count_kick(-1, 0);
	TEST_RUN(hdev_forwards(&p->a, 4));
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2020_10723_queue_index_truncation, pair, p)
{
	return body_2020_10723(p);
}

/* ------------------------------------------------------------------------ */
/* CVE-2020-10725 / 10726: bad sizes in vring addresses and inflight areas. */

static int
body_2020_10725_10726(struct pair *p)
{
	struct vhu_inflight_desc in;
	struct vhu_vring_addr a;
	struct vhu_vring_state st;
	struct vhu_msg r;
	uint8_t *end;
	uint64_t qsz;
	int fd;

	TEST_RUN(pair_up(p, 0));

	/* 10725: a ring whose last bytes (avail's used_event) pass the region end */
	TEST_RUN(pair_negotiated(p));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&p->a.fe), 0, "table");
	end = p->a.fe.mem + p->a.fe.mem_size;
	st.index = 0;
	st.num = QSIZE;
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_SET_VRING_NUM, 0, &st, 8, NULL, 0), 0, "");
	memset(&a, 0, sizeof(a));
	a.index = 0;
	a.desc_user_addr = (uint64_t)(uintptr_t)p->a.fe.mem;
	a.used_user_addr = (uint64_t)(uintptr_t)p->a.fe.mem + 8192;
	/* flags, idx, 256 entries fit; the 2-byte used_event would be past the end */
	a.avail_user_addr = (uint64_t)(uintptr_t)(end - (4 + 2 * QSIZE));
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0,
			"ring addresses are not in guest memory"));
	/* the used ring's avail_event likewise */
	TEST_RUN(pair_negotiated(p));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&p->a.fe), 0, "table");
	end = p->a.fe.mem + p->a.fe.mem_size;
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_SET_VRING_NUM, 0, &st, 8, NULL, 0), 0, "");
	a.desc_user_addr = (uint64_t)(uintptr_t)p->a.fe.mem;
	a.avail_user_addr = (uint64_t)(uintptr_t)p->a.fe.mem + 8192;
	a.used_user_addr = (uint64_t)(uintptr_t)(end - (4 + 8 * QSIZE));
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0,
			"ring addresses are not in guest memory"));
	/* addresses that fit 64 entries, then a size of 256 that does not */
	TEST_RUN(pair_negotiated(p));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&p->a.fe), 0, "table");
	end = p->a.fe.mem + p->a.fe.mem_size;
	st.num = 64;
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_SET_VRING_NUM, 0, &st, 8, NULL, 0), 0, "");
	a.desc_user_addr = (uint64_t)(uintptr_t)(end - 16 * 64);
	a.avail_user_addr = (uint64_t)(uintptr_t)p->a.fe.mem;
	a.used_user_addr = (uint64_t)(uintptr_t)p->a.fe.mem + 4096;
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0), 0,
			"");
	TEST_ASSERT(mock_fe_alive(&p->a.fe), "64 entries fit");
	st.num = QSIZE;
	TEST_RUN(pair_fatal(
			p, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0, "does not fit guest memory"));
	/* a ring size that is no power of two, or too large */
	TEST_RUN(pair_negotiated(p));
	st.num = 100;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0, "power of two"));
	TEST_RUN(pair_negotiated(p));
	st.num = 65536;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0, "ring size must be"));

	/* 10726: inflight geometry */
	TEST_RUN(pair_negotiated(p));
	{
		static const uint16_t geo[][2] = { { 0, 256 }, { 3, 256 }, { 2, 0 }, { 2, 100 },
			{ 0xffff, 0xffff } };
		unsigned int i;

		for (i = 0; i < RTE_DIM(geo); i++) {
			memset(&in, 0, sizeof(in));
			in.num_queues = geo[i][0];
			in.queue_size = geo[i][1];
			TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_GET_INFLIGHT_FD, 0, &in,
						       sizeof(in), NULL, 0),
					0, "");
			TEST_ASSERT_EQ(mock_fe_recv(&p->a.fe, &r), 0, "GET_INFLIGHT_FD reply");
			TEST_ASSERT_EQ(r.nfds, 0, "no area for %u x %u", geo[i][0], geo[i][1]);
			TEST_ASSERT_EQ(r.payload.inflight.mmap_size, 0, "size 0 means refused");
		}
		TEST_ASSERT(hlog_has("GET_INFLIGHT_FD refused"), "logged");
	}
	/* a good one: an fd of exactly the size announced */
	in.num_queues = 2;
	in.queue_size = 256;
	qsz = vhu_inflight_queue_size(256);
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0),
			0, "");
	TEST_ASSERT_EQ(mock_fe_recv(&p->a.fe, &r), 0, "reply");
	TEST_ASSERT_EQ(r.nfds, 1, "an area");
	TEST_ASSERT_EQ(r.payload.inflight.mmap_size, 2 * qsz, "its size");
	{
		struct stat sb;

		TEST_ASSERT(fstat(r.fds[0], &sb) == 0 && (uint64_t)sb.st_size == 2 * qsz,
				"fd size");
	}
	vhu_msg_close_fds(&r);
	/* SET_INFLIGHT_FD: too small for its geometry; larger than its fd; wrapping */
	fd = hmemfd(2 * qsz);
	in.mmap_offset = 0;
	in.mmap_size = 2 * qsz - 1;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1, "needed"));
	TEST_RUN(pair_negotiated(p));
	in.mmap_size = 4 * qsz;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1,
			"memory fd smaller than offset + size"));
	TEST_RUN(pair_negotiated(p));
	in.mmap_size = 2 * qsz;
	in.mmap_offset = UINT64_MAX - qsz;
	TEST_RUN(pair_fatal(
			p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1, "SET_INFLIGHT_FD"));
	close(fd);
	TEST_RUN(hdev_ready(&p->a, 0, QSIZE));
	TEST_RUN(hdev_forwards(&p->a, 4));
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2020_10725_10726_vring_and_inflight_sizes, pair, p)
{
	return body_2020_10725_10726(p);
}

/* ------------------------------------------------------------------------ */
/* CVE-2022-0669: fds smuggled in messages that take none.                  */

static int
body_2022_0669(struct pair *p)
{
	static const uint32_t reqs[] = {
		VHU_REQ_GET_FEATURES,
		VHU_REQ_SET_FEATURES,
		VHU_REQ_SET_OWNER,
		VHU_REQ_SET_VRING_NUM,
		VHU_REQ_SET_VRING_ADDR,
		VHU_REQ_SET_VRING_BASE,
		VHU_REQ_GET_VRING_BASE,
		VHU_REQ_GET_PROTOCOL_FEATURES,
		VHU_REQ_SET_PROTOCOL_FEATURES,
		VHU_REQ_SET_VRING_ENABLE,
		VHU_REQ_SET_STATUS,
		VHU_REQ_GET_CONFIG,
		VHU_REQ_GET_INFLIGHT_FD,
		VHU_REQ_NET_SET_MTU,
	};
	static const uint32_t sizes[] = { 0, 8, 0, 8, 40, 8, 8, 0, 8, 8, 8, 24, 20, 8 };
	uint8_t payload[64];
	int fds[12], i, before;
	uint64_t v;

	TEST_RUN(pair_up(p, 0));
	for (i = 0; i < 12; i++) {
		fds[i] = i % 2 ? eventfd(0, EFD_CLOEXEC) : hmemfd(4096);
		TEST_ASSERT(fds[i] >= 0, "fd %d", i);
	}
	memset(payload, 0, sizeof(payload));
	((uint32_t *)payload)[1] = 12; /* GET_CONFIG: offset 0, size 12 */
	for (i = 0; i < (int)RTE_DIM(reqs); i++) {
		char line[96];

		TEST_RUN(pair_negotiated(p));
		snprintf(line, sizeof(line), "%s carries %d fds, 0 expected", vhu_req_name(reqs[i]),
				1 + i % 3);
		TEST_RUN(pair_fatal(p, reqs[i], payload, sizes[i], fds, 1 + i % 3, line));
	}
	/* the no-fd bit set, an fd given anyway */
	TEST_RUN(pair_negotiated(p));
	v = 0 | VHU_VRING_NOFD_MASK;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_VRING_CALL, &v, 8, fds, 1, "carries 1 fds, 0 expected"));
	/* one region, two fds */
	TEST_RUN(pair_negotiated(p));
	{
		struct vhu_mem_table t;

		memset(&t, 0, sizeof(t));
		t.nregions = 1;
		t.regions[0] = mock_fe_region(&p->a.fe);
		TEST_RUN(pair_fatal(p, VHU_REQ_SET_MEM_TABLE, &t, 40, fds, 2,
				"carries 2 fds, 1 expected"));
	}
	/* more fds than any message may carry */
	TEST_RUN(pair_negotiated(p));
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_SET_OWNER, 0, NULL, 0, fds, 8), 0, "8 fds");
	TEST_ASSERT(hdev_closed(&p->a), "8 fds on SET_OWNER");
	TEST_RUN(hdev_reconnect(&p->a));
	{
		struct msghdr mh;
		struct vhu_msg_hdr h = { VHU_REQ_GET_FEATURES, VHU_FLAG_VERSION, 0 };
		struct iovec iov = { &h, sizeof(h) };
		union {
			char b[CMSG_SPACE(sizeof(fds))];
			struct cmsghdr a;
		} ctl;
		struct cmsghdr *c;

		memset(&mh, 0, sizeof(mh));
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(c), fds, sizeof(fds));
		TEST_ASSERT_EQ(sendmsg(p->a.fe.sock, &mh, MSG_NOSIGNAL), (ssize_t)sizeof(h),
				"12 fds");
		TEST_ASSERT(hdev_closed(&p->a), "12 fds");
		TEST_ASSERT(hlog_has("more than 8 file descriptors"), "logged");
	}
	/* a request vhu does not know, with fds: ignored, its fds closed */
	TEST_RUN(hdev_reconnect(&p->a));
	before = vhu_test_count_fds();
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, 99, 0, NULL, 0, fds, 3), 0, "request 99");
	TEST_ASSERT(mock_fe_alive(&p->a.fe), "an unknown request is not fatal");
	TEST_ASSERT_EQ(vhu_test_count_fds(), before, "its fds closed");
	TEST_ASSERT(hlog_has("unsupported request UNKNOWN (99) ignored"), "logged");
	for (i = 0; i < 12; i++)
		close(fds[i]);
	TEST_RUN(hdev_ready(&p->a, 0, QSIZE));
	TEST_RUN(hdev_forwards(&p->a, 4));
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2022_0669_fds_smuggled, pair, p)
{
	return body_2022_0669(p);
}

/* ------------------------------------------------------------------------ */
/* Found here: fds of the wrong kind. A ring's call, kick and error fds are  */
/* written by lcores: a pipe or a socket whose reader is gone raises SIGPIPE */
/* (the process dies), a blocking eventfd at its maximum blocks the lcore.   */
/* The state-transfer pipe is written by the control thread.                */

static int
body_fd_kinds(struct pair *p)
{
	struct vhu_device_state_xfer x = { VHU_TRANSFER_SAVE, VHU_TRANSFER_PHASE_STOPPED };
	static const uint32_t reqs[] = {
		VHU_REQ_SET_VRING_CALL,
		VHU_REQ_SET_VRING_ERR,
		VHU_REQ_SET_VRING_KICK,
	};
	struct vhu_msg r;
	uint64_t v, ack;
	unsigned int i, kind;
	int pp[2], fd;

	TEST_RUN(pair_up(p, 0));
	for (i = 0; i < RTE_DIM(reqs); i++) {
		for (kind = 0; kind < 3; kind++) {
			if (kind == 0) {
				/* a pipe's write end, nobody reading */
				TEST_ASSERT_EQ(pipe2(pp, O_CLOEXEC), 0, "pipe");
				close(pp[0]);
				fd = pp[1];
			} else if (kind == 1) {
				/* a socket whose peer is gone */
				TEST_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
							       pp),
						0, "socketpair");
				close(pp[1]);
				fd = pp[0];
			} else {
				/* guest memory as a notification fd */
				fd = hmemfd(4096);
			}
			v = i & 1; /* vring 0 or 1 */
			TEST_RUN(pair_fatal(p, reqs[i], &v, 8, &fd, 1, "not an eventfd"));
			close(fd);
			TEST_RUN(hdev_ready(&p->a, 0, QSIZE));
		}
	}
	/* a blocking eventfd one short of its maximum: the lcore must not block on it */
	fd = eventfd(0, EFD_CLOEXEC);
	TEST_ASSERT(fd >= 0 && eventfd_write(fd, 0xfffffffffffffffeull) == 0, "eventfd");
	v = 0;
	TEST_ASSERT_EQ(mock_fe_ack(&p->a.fe, VHU_REQ_SET_VRING_CALL, &v, 8, &fd, 1, &ack), 0,
			"call");
	TEST_ASSERT_EQ(ack, 0, "an eventfd is accepted");
	v = 1;
	TEST_ASSERT_EQ(mock_fe_ack(&p->a.fe, VHU_REQ_SET_VRING_ERR, &v, 8, &fd, 1, &ack), 0, "err");
	TEST_ASSERT_EQ(ack, 0, "an eventfd is accepted");
	TEST_RUN(hdev_forwards(&p->a, 8));
	/* a fault on vring 1 signals the full error eventfd: no block either */
	hdesc(hdev_desc(&p->a, 1, RAW), 0, 64, 0, 0);
	hdev_avail(&p->a, 1, RAW);
	TEST_ASSERT_EQ(pair_dequeue(p, NULL, 0), 0, "bad chain dropped");
	close(fd);

	/* the device's saved state written into a pipe nobody reads */
	TEST_RUN(hdev_reconnect(&p->a));
	TEST_RUN(pair_negotiated(p));
	TEST_ASSERT_EQ(pipe2(pp, O_CLOEXEC), 0, "pipe");
	close(pp[0]);
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_SET_DEVICE_STATE_FD, 0, &x, sizeof(x), &pp[1],
				       1),
			0, "SET_DEVICE_STATE_FD");
	close(pp[1]);
	TEST_ASSERT_EQ(mock_fe_recv(&p->a.fe, &r), 0, "reply");
	vhu_msg_close_fds(&r);
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_CHECK_DEVICE_STATE, 0, NULL, 0, NULL, 0), 0,
			"CHECK_DEVICE_STATE");
	TEST_ASSERT_EQ(mock_fe_recv(&p->a.fe, &r), 0, "reply");
	TEST_ASSERT(r.hdr.size == 8 && r.payload.u64 != 0, "the save is reported failed");
	TEST_ASSERT(hlog_has("device state save failed"), "logged");
	TEST_RUN(hdev_ready(&p->a, 0, QSIZE));
	TEST_RUN(hdev_forwards(&p->a, 4));
	return pair_down(p);
}

VHU_TEST_F(fast, hostile_fd_kinds, pair, p)
{
	return body_fd_kinds(p);
}

/* ------------------------------------------------------------------------ */
/* The device-state blob a migration source sends is front-end data too:    */
/* mutated blobs (with a recomputed checksum, so they reach the parser) are  */
/* each loaded or refused, never more.                                       */

#define STATE_ROUNDS 300

static uint64_t
fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n-- > 0) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* SET_DEVICE_STATE_FD in direction dir with fd; the u64 reply. */
static int
state_fd(struct hdev *d, uint32_t dir, int fd, uint64_t *reply)
{
	struct vhu_device_state_xfer x = { dir, VHU_TRANSFER_PHASE_STOPPED };
	struct vhu_msg r;

	TEST_ASSERT_EQ(mock_fe_send(&d->fe, VHU_REQ_SET_DEVICE_STATE_FD, 0, &x, sizeof(x), &fd, 1),
			0, "SET_DEVICE_STATE_FD");
	TEST_ASSERT_EQ(mock_fe_recv(&d->fe, &r), 0, "reply");
	vhu_msg_close_fds(&r);
	*reply = r.payload.u64;
	return TEST_SUCCESS;
}

static int
body_state_blob(struct pair *p)
{
	static uint8_t blob[8192], mut[16384];
	size_t len = 0, mlen;
	unsigned int k, loaded = 0, refused = 0;
	uint64_t v;
	ssize_t n;
	int pp[2];

	TEST_RUN(pair_up(p, 0));
	/* a real blob: saved from A with its rings stopped */
	memcpy(vhu_rec.save_blob, "app state", 9);
	vhu_rec.save_len = 9;
	TEST_RUN(hdev_reconnect(&p->a));
	TEST_RUN(pair_negotiated(p));
	TEST_ASSERT_EQ(pipe2(pp, O_CLOEXEC), 0, "pipe");
	TEST_RUN(state_fd(&p->a, VHU_TRANSFER_SAVE, pp[1], &v));
	close(pp[1]);
	while ((n = read(pp[0], blob + len, sizeof(blob) - len)) > 0)
		len += (size_t)n;
	close(pp[0]);
	TEST_ASSERT_EQ(mock_fe_get_u64(&p->a.fe, VHU_REQ_CHECK_DEVICE_STATE, &v), 0, "check");
	TEST_ASSERT(v == 0 && len > 48, "a state of %zu bytes saved", len);

	srand(20261114);
	for (k = 0; k < STATE_ROUNDS; k++) {
		unsigned int flips = 1 + (unsigned int)rand() % 4, f;

		memcpy(mut, blob, len);
		mlen = len;
		switch (k % 4) {
		case 0: /* a length anywhere from nothing to twice as long */
			mlen = (size_t)rand() % (2 * len + 1);
			break;
		case 1: /* header fields: counts, lengths, versions */
			for (f = 0; f < flips; f++)
				mut[(size_t)rand() % 48] = (uint8_t)rand();
			break;
		default: /* anywhere */
			for (f = 0; f < flips; f++)
				mut[(size_t)rand() % mlen] = (uint8_t)rand();
			break;
		}
		if (mlen > 8 && k % 8 != 7) {
			uint64_t sum = fnv1a64(mut, mlen - 8);

			memcpy(mut + mlen - 8, &sum, 8);
		}
		TEST_ASSERT_EQ(pipe2(pp, O_CLOEXEC | O_NONBLOCK), 0, "pipe");
		TEST_RUN(state_fd(&p->a, VHU_TRANSFER_LOAD, pp[0], &v));
		close(pp[0]);
		TEST_ASSERT_EQ(write(pp[1], mut, mlen), (ssize_t)mlen, "blob %u", k);
		close(pp[1]);
		TEST_ASSERT_EQ(mock_fe_get_u64(&p->a.fe, VHU_REQ_CHECK_DEVICE_STATE, &v), 0,
				"CHECK_DEVICE_STATE %u", k);
		if (v == 0)
			loaded++;
		else
			refused++;
	}
	TEST_LOG("%u mutated state blobs: %u loaded, %u refused", STATE_ROUNDS, loaded, refused);
	TEST_ASSERT(refused > 0, "some of them refused");
	TEST_ASSERT(hlog_has("device state load failed"), "refusals logged");
	vhu_rec.save_len = 0;
	TEST_RUN(hdev_ready(&p->a, 0, QSIZE));
	TEST_RUN(hdev_forwards(&p->a, 4));
	return pair_down(p);
}

VHU_TEST_F(fast, hostile_state_blob_mutations, pair, p)
{
	return body_state_blob(p);
}

/* ------------------------------------------------------------------------ */
/* Found here: a packed ring's SET_VRING_BASE with the used half (QEMU sends */
/* avail | avail_wrap << 15 | used << 16 | used_wrap << 31) must not take the */
/* used wrap counter for part of the used index.                             */

static int
body_packed_base(struct pair *p)
{
	static const uint32_t bases[] = { 0x80008000u, 0x80058005u, 0x00070007u, 0x8000u };
	struct mock_fe_opts o = { .ring_size = 64, .nvrings = 2 };
	struct vhu_vring_state st;
	struct vhu_vq *vq;
	unsigned int i;
	uint32_t got;

	vhu_rec_reset();
	TEST_ASSERT(hpool() != NULL, "mbuf pool");
	hmark_take(&p->mark);
	TEST_RUN(hdev_up(&p->b, 0));
	TEST_RUN(hdev_ready(&p->b, 0, QSIZE));
	TEST_RUN(hdev_up(&p->a, VHU_SOCK_PACKED));
	o.features_mask = F(VERSION_1) | F(RING_PACKED) | F(PROTOCOL_FEATURES);
	TEST_ASSERT_EQ(mock_fe_setup(&p->a.fe, &o), 0, "packed set-up");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 2, 2000), "packed device ready");
	for (i = 0; i < RTE_DIM(bases); i++) {
		/* stop, restart at the base a migrated QEMU would send */
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&p->a.fe, 0, &got), 0, "GET_VRING_BASE");
		st.index = 0;
		st.num = bases[i];
		TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_SET_VRING_BASE, 0, &st, 8, NULL, 0),
				0, "SET_VRING_BASE");
		{
			uint64_t v = 0;
			int kfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

			TEST_ASSERT_EQ(mock_fe_ack(&p->a.fe, VHU_REQ_SET_VRING_KICK, &v, 8, &kfd, 1,
						       &v),
					0, "SET_VRING_KICK");
			close(kfd);
			TEST_ASSERT_EQ(v, 0, "restarted");
		}
		vq = vhu_dev_table_get(p->a.vid)->vq[0];
		TEST_ASSERT_EQ(vq->last_avail_idx, bases[i] & 0x7fff, "avail index of %#x",
				bases[i]);
		TEST_ASSERT_EQ(vq->avail_wrap, (bases[i] >> 15) & 1, "avail wrap of %#x", bases[i]);
		TEST_ASSERT(vq->last_used_idx < vq->size,
				"used index %u of %#x inside a ring of %u", vq->last_used_idx,
				bases[i], vq->size);
		TEST_ASSERT(!vq->broken, "ring running after base %#x", bases[i]);
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&p->a.fe, 0, &got), 0, "GET_VRING_BASE");
		TEST_ASSERT_EQ(got, (bases[i] >> 16) ? bases[i] : bases[i] | (bases[i] << 16),
				"the base read back");
		/* leave it running for the next round */
		TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_SET_VRING_BASE, 0, &st, 8, NULL, 0),
				0, "");
		{
			uint64_t v = 0;
			int kfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

			TEST_ASSERT_EQ(mock_fe_ack(&p->a.fe, VHU_REQ_SET_VRING_KICK, &v, 8, &kfd, 1,
						       &v),
					0, "SET_VRING_KICK");
			close(kfd);
		}
	}
	return pair_down(p);
}

VHU_TEST_F(fast, packed_vring_base_used_wrap, pair, p)
{
	return body_packed_base(p);
}
