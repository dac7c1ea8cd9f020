/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * One test per attack class that DPDK's vhost library has had a CVE for,
 * plus the 2026 classes, each played by a hostile front-end (real messages
 * through the mock) or a hostile guest (rings and buffers in the mock's
 * memory). Each asserts a clean refusal (error reply, closed connection or
 * dropped packet), the log line the design promises, no leak (fds,
 * mappings, rte_malloc blocks, devices, mbufs), and that a well-behaved
 * second device kept forwarding. Out-of-bounds accesses are the
 * sanitizer build's job (devtools/tests.d/sanitizers.sh runs this file
 * under ASan and UBSan). The file ends with the replay of the fuzz corpus.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "fuzz_harness.h"
#include "hostile.h"
#include "vhu.h"
#include "vhu_dev_table.h"
#include "vhu_mem.h"
#include "vhu_test.h"

#define F(b) VHU_BIT(VHU_F_ ## b)
#define QSIZE 256
/* slots the tests write raw descriptors into (the guest driver uses the low ones) */
#define RAW 128

/* A hostile device A next to a well-behaved bystander B. */
struct pair {
	struct hmark mark;
	struct hdev a, b;
};

static int
pair_up(struct pair *p, uint64_t fmask)
{
	memset(p, 0, sizeof(*p));
	vhu_rec_reset();
	TEST_ASSERT(hpool() != NULL, "mbuf pool");
	hmark_take(&p->mark);
	TEST_RUN(hdev_up(&p->b, 0));
	TEST_RUN(hdev_ready(&p->b, 0, QSIZE));
	TEST_RUN(hdev_up(&p->a, 0));
	TEST_RUN(hdev_ready(&p->a, fmask, QSIZE));
	TEST_RUN(hdev_forwards(&p->b, 8));
	return TEST_SUCCESS;
}

/* B still forwards, everything is torn down, nothing leaked. */
static int
pair_down(struct pair *p)
{
	TEST_RUN(hdev_forwards(&p->b, 16));
	hdev_down(&p->a);
	hdev_down(&p->b);
	TEST_ASSERT(hpool_full(), "mbufs lost");
	return hmark_check(&p->mark);
}

/* Send a request that must close A's connection, then reconnect A. */
static int
fatal(struct pair *p, uint32_t req, const void *pl, uint32_t size, const int *fds,
      unsigned int nfds, const char *logged)
{
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, req, 0, pl, size, fds, nfds), 0, "send %s",
		       vhu_req_name(req));
	TEST_ASSERT(hdev_closed(&p->a), "%s (%u bytes, %u fds) did not close the connection",
		    vhu_req_name(req), size, nfds);
	if (logged != NULL)
		TEST_ASSERT(hlog_has(logged), "no log line \"%s\"", logged);
	return hdev_reconnect(&p->a);
}

/* Negotiated, owner set, no memory yet. */
static int
a_negotiated(struct pair *p)
{
	TEST_ASSERT_EQ(mock_fe_negotiate(&p->a.fe, 0, 0), 0, "negotiate");
	return TEST_SUCCESS;
}

static uint16_t
ring_errors(int vid, uint16_t q)
{
	struct vhu_vq_stats st;

	if (vhu_vq_stats_get(vid, q, &st) != 0)
		return 0xffff;
	return (uint16_t)st.errors;
}

static int
memfd_of(uint64_t size)
{
	int fd = memfd_create("cve-test", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
set_desc(struct vhu_vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* How many faults the back-end signalled on vring q's error eventfd (read and reset). */
static uint64_t
err_signals(struct hdev *d, int q)
{
	eventfd_t v = 0;

	if (eventfd_read(d->fe.vr[q].errfd, &v) != 0)
		return 0;
	return v;
}

/* Dequeue what A's TX ring holds: packets returned (freed), *err: new errors. */
static unsigned int
a_dequeue(struct pair *p, struct rte_mbuf **keep, unsigned int nkeep)
{
	struct rte_mbuf *pkts[64];
	unsigned int total = 0, i;
	uint16_t n;

	do {
		n = vhu_dequeue_burst(p->a.vid, 1, hpool(), pkts, RTE_DIM(pkts));
		for (i = 0; i < n; i++) {
			if (total + i < nkeep)
				keep[total + i] = pkts[i];
			else
				rte_pktmbuf_free(pkts[i]);
		}
		total += n;
	} while (n != 0);
	return total;
}

/* ------------------------------------------------------------------------ */
/* CVE-2018-1059: a guest address translated across a region boundary.      */

#define R1_SIZE (1ull << 20)

static int
body_2018_1059(void)
{
	struct vhu_mem_table t;
	struct pair p;
	uint8_t frame[256], *r1, *r0end;
	uint64_t gpa_r1, n;
	struct rte_mbuf *m[4] = { NULL };
	struct vhu_vring_desc *d;
	int fd1;
	uint16_t e0;

	/* A: two regions adjacent in guest-physical space, apart in ours */
	memset(&p, 0, sizeof(p));
	vhu_rec_reset();
	TEST_ASSERT(hpool() != NULL, "mbuf pool");
	hmark_take(&p.mark);
	TEST_RUN(hdev_up(&p.b, 0));
	TEST_RUN(hdev_ready(&p.b, 0, QSIZE));
	TEST_RUN(hdev_up(&p.a, 0));
	TEST_RUN(a_negotiated(&p));
	fd1 = memfd_of(R1_SIZE);
	TEST_ASSERT(fd1 >= 0, "memfd");
	r1 = mmap(NULL, R1_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd1, 0);
	TEST_ASSERT(r1 != MAP_FAILED, "mmap");
	gpa_r1 = MOCK_FE_GPA_BASE + p.a.fe.mem_size;
	memset(&t, 0, sizeof(t));
	t.nregions = 2;
	t.regions[0] = mock_fe_region(&p.a.fe);
	t.regions[1].guest_phys_addr = gpa_r1;
	t.regions[1].memory_size = R1_SIZE;
	t.regions[1].userspace_addr = (uint64_t)(uintptr_t)r1;
	{
		int fds[2] = { p.a.fe.memfd, fd1 };
		uint64_t ack = 1;

		TEST_ASSERT_EQ(mock_fe_ack(&p.a.fe, VHU_REQ_SET_MEM_TABLE, &t, 8 + 2 * 32, fds, 2,
					   &ack), 0, "SET_MEM_TABLE");
		TEST_ASSERT_EQ(ack, 0, "two adjacent regions accepted");
	}
	TEST_ASSERT_EQ(mock_fe_setup_vring(&p.a.fe, 0, QSIZE), 0, "vring 0");
	TEST_ASSERT_EQ(mock_fe_setup_vring(&p.a.fe, 1, QSIZE), 0, "vring 1");
	TEST_ASSERT_EQ(mock_fe_vring_enable(&p.a.fe, 0, 1), 0, "enable 0");
	TEST_ASSERT_EQ(mock_fe_vring_enable(&p.a.fe, 1, 1), 0, "enable 1");
	TEST_ASSERT_EQ(mock_fe_set_status(&p.a.fe, 0xf), 0, "DRIVER_OK");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 2, 2000), "A ready");
	TEST_RUN(hdev_attach_rings(&p.a));

	/* a frame whose buffer starts 100 bytes before region 0 ends and goes on in region 1 */
	make_frame(frame, 200, 7);
	r0end = p.a.fe.mem + p.a.fe.mem_size;
	memset(r0end - 100, 0, 12);
	memcpy(r0end - 88, frame, 88);
	memcpy(r1, frame + 88, 112);
	d = hdev_desc(&p.a, 1, RAW);
	set_desc(d, gpa_r1 - 100, 212, 0, 0);
	hdev_avail(&p.a, 1, RAW);
	TEST_ASSERT_EQ(a_dequeue(&p, m, 1), 1, "the frame across the boundary");
	TEST_ASSERT_EQ(mbuf_cmp(m[0], frame, 200), 0, "its bytes, from both mappings");
	rte_pktmbuf_free(m[0]);

	/* a buffer running past the end of region 1 into unmapped guest memory */
	e0 = ring_errors(p.a.vid, 1);
	set_desc(d, gpa_r1 + R1_SIZE - 100, 4096, 0, 0);
	hdev_avail(&p.a, 1, RAW);
	TEST_ASSERT_EQ(a_dequeue(&p, m, 0), 0, "dropped");
	TEST_ASSERT_EQ(ring_errors(p.a.vid, 1), e0 + 1, "counted as a guest fault");
	TEST_ASSERT(hlog_has("buffer outside guest memory"), "logged");
	/* a length that wraps the guest-physical address space */
	set_desc(d, UINT64_MAX - 64, 4096, 0, 0);
	hdev_avail(&p.a, 1, RAW);
	TEST_ASSERT_EQ(a_dequeue(&p, m, 0), 0, "wrapping buffer dropped");
	TEST_ASSERT_EQ(ring_errors(p.a.vid, 1), e0 + 2, "counted");
	/* an indirect table that straddles the boundary */
	set_desc(d, gpa_r1 - 16, 32, VHU_DESC_F_INDIRECT, 0);
	hdev_avail(&p.a, 1, RAW);
	TEST_ASSERT_EQ(a_dequeue(&p, m, 0), 0, "indirect table across regions dropped");
	TEST_ASSERT_EQ(ring_errors(p.a.vid, 1), e0 + 3, "counted");
	/* the heads came back to the guest */
	n = hdev_used(&p.a, 1, NULL, NULL, 64);
	TEST_ASSERT_EQ(n, 4, "every head returned");

	/* A still works after the faults */
	TEST_RUN(hdev_forwards(&p.a, 4));

	/* ring addresses that straddle the boundary: the connection goes */
	{
		struct vhu_vring_addr a;

		memset(&a, 0, sizeof(a));
		a.index = 1;
		/* 256 descriptors are 4 KiB: the second half lies in region 1 */
		a.desc_user_addr = (uint64_t)(uintptr_t)(r0end - 2048);
		a.avail_user_addr = (uint64_t)(uintptr_t)(r0end - 8192);
		a.used_user_addr = (uint64_t)(uintptr_t)(r0end - 12288);
		TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0,
			       "ring addresses are not in guest memory"));
	}
	munmap(r1, R1_SIZE);
	close(fd1);
	return pair_down(&p);
}

VHU_TEST(fast, cve_2018_1059_gpa_region_boundary)
{
	return hlog_run(body_2018_1059);
}

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
	case 0:   /* memory mapped, then a bad request */
		TEST_ASSERT_EQ(mock_fe_negotiate(fe, 0, 0), 0, "negotiate");
		TEST_ASSERT_EQ(mock_fe_send(fe, VHU_REQ_SET_MEM_TABLE, 0, &t, 40, &fe->memfd, 1),
			       0, "table");
		v = ~0ull;
		mock_fe_send(fe, VHU_REQ_SET_FEATURES, 0, &v, 8, NULL, 0);
		break;
	case 1:   /* fds smuggled in a request that takes none */
		mock_fe_send(fe, VHU_REQ_GET_FEATURES, 0, NULL, 0, efd, 3);
		break;
	case 2:   /* ring fds handed over, then the front-end just goes */
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
		int lfd = memfd_of(4096);

		TEST_ASSERT_EQ(mock_fe_negotiate(fe, 0, 0), 0, "negotiate");
		mock_fe_send(fe, VHU_REQ_SET_LOG_BASE, 0, &l, sizeof(l), &lfd, 1);
		close(lfd);
		TEST_ASSERT_EQ(mock_fe_recv(fe, &r), 0, "SET_LOG_BASE reply");
		mock_fe_send(fe, VHU_REQ_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0);
		TEST_ASSERT_EQ(mock_fe_recv(fe, &r), 0, "GET_INFLIGHT_FD reply");
		vhu_msg_close_fds(&r);
		mock_fe_send(fe, VHU_REQ_GET_FEATURES, 0x7, NULL, 0, NULL, 0);   /* version 3 */
		break;
	}
	default:  /* a ready device, then a request for a vring that does not exist */
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
body_2019_14818(void)
{
	struct hmark warm;
	struct pair p;
	unsigned int k;
	int before;

	TEST_RUN(pair_up(&p, 0));
	/* one round first, so that caches (thread stacks, pools) are warm */
	TEST_RUN(hdev_reconnect(&p.a));
	before = vhu_rec.disconn;
	TEST_RUN(evil_session(&p, 5));
	TEST_RUN(hdev_reconnect(&p.a));
	TEST_ASSERT(vhu_test_wait(&vhu_rec.disconn, before + 1, 2000), "warm-up disconnect");
	hmark_take(&warm);
	for (k = 0; k < EVIL_CONNS; k++) {
		before = vhu_rec.disconn;
		TEST_RUN(evil_session(&p, k));
		TEST_RUN(hdev_reconnect(&p.a));
		TEST_ASSERT(vhu_test_wait(&vhu_rec.disconn, before + 1, 2000),
			    "session %u: connection not torn down", k);
		if (k % 50 == 49)
			TEST_RUN(hdev_forwards(&p.b, 4));
	}
	/* the same resources as before the 200 sessions (one connection open) */
	TEST_RUN(hmark_check(&warm));
	TEST_ASSERT(hlog_has("carries 3 fds, 0 expected"), "smuggled fds logged");
	TEST_ASSERT(hlog_has("unsupported protocol version"), "bad header logged");
	return pair_down(&p);
}

VHU_TEST(fast, cve_2019_14818_connection_leak)
{
	return hlog_run(body_2019_14818);
}

/* ------------------------------------------------------------------------ */
/* CVE-2020-10722: integer overflow in the dirty log base and size.        */

static int
log_base(struct pair *p, uint64_t size, uint64_t off, int fd, uint64_t *reply)
{
	struct vhu_log_desc l = { size, off };
	struct vhu_msg r;

	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_SET_LOG_BASE, 0, &l, sizeof(l), &fd, 1), 0,
		       "SET_LOG_BASE");
	TEST_ASSERT_EQ(mock_fe_recv(&p->a.fe, &r), 0, "SET_LOG_BASE reply");
	vhu_msg_close_fds(&r);
	TEST_ASSERT_EQ(r.hdr.size, 8, "u64 reply");
	*reply = r.payload.u64;
	return TEST_SUCCESS;
}

static int
body_2020_10722(void)
{
	/* 1 GiB + 4 MiB of guest memory: 34 KiB of bitmap from the mock's base */
	const uint64_t log_size = (MOCK_FE_GPA_BASE + HDEV_MEM) / VHU_LOG_PAGE / 8;
	const uint64_t canary_off = 8192 + log_size;
	struct vhu_log_desc l;
	struct pair p;
	uint64_t reply, f, i;
	uint8_t *map;
	int fd, small;

	TEST_RUN(pair_up(&p, 0));
	fd = memfd_of(canary_off + 4096);
	small = memfd_of(4096);
	TEST_ASSERT(fd >= 0 && small >= 0, "memfds");

	/* offset + size wraps: refused by the payload check */
	l.mmap_size = 8192;
	l.mmap_offset = UINT64_MAX - 4095;
	TEST_RUN(fatal(&p, VHU_REQ_SET_LOG_BASE, &l, sizeof(l), &fd, 1,
		       "bad dirty log size or offset"));
	/* offset + size beyond INT64_MAX (a negative off_t) */
	TEST_RUN(a_negotiated(&p));
	l.mmap_size = 4096;
	l.mmap_offset = (uint64_t)INT64_MAX;
	TEST_RUN(fatal(&p, VHU_REQ_SET_LOG_BASE, &l, sizeof(l), &fd, 1,
		       "bad dirty log size or offset"));
	/* a bitmap for far more memory than any guest: refused before mapping */
	TEST_RUN(a_negotiated(&p));
	l.mmap_size = 1ull << 40;
	l.mmap_offset = 0;
	TEST_RUN(fatal(&p, VHU_REQ_SET_LOG_BASE, &l, sizeof(l), &fd, 1, "is too large"));
	/* a size the fd does not have */
	TEST_RUN(a_negotiated(&p));
	l.mmap_size = 1 << 20;
	TEST_RUN(fatal(&p, VHU_REQ_SET_LOG_BASE, &l, sizeof(l), &small, 1,
		       "memory fd smaller than offset + size"));
	/* a used-ring log address that wraps */
	TEST_RUN(a_negotiated(&p));
	{
		struct vhu_vring_addr a;

		memset(&a, 0, sizeof(a));
		a.index = 0;
		a.flags = 1u << VHU_VRING_F_LOG;
		a.desc_user_addr = 0x10000;
		a.avail_user_addr = 0x20000;
		a.used_user_addr = 0x30000;
		a.log_guest_addr = UINT64_MAX - 4;   /* + a 14-byte used ring wraps */
		TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0,
			       "used ring log address wraps"));
	}

	/*
	 * A good log at offset 8 KiB of a memfd, canary after it. A first log
	 * only half as large as the guest needs: no dirty bit may land past it.
	 */
	TEST_RUN(hdev_ready(&p.a, 0, QSIZE));
	map = mmap(NULL, canary_off + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(map != MAP_FAILED, "mmap log");
	memset(map, 0xa5, canary_off + 4096);
	memset(map + 8192, 0, log_size);
	TEST_RUN(log_base(&p, log_size / 2, 8192, fd, &reply));
	TEST_ASSERT_EQ(reply, 0, "half-size log accepted");
	f = p.a.fe.features | F(LOG_ALL);
	TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_SET_FEATURES, 0, &f, 8, NULL, 0), 0, "LOG_ALL");
	TEST_RUN(hdev_forwards(&p.a, 8));
	for (i = 8192 + log_size / 2; i < canary_off + 4096; i++)
		TEST_ASSERT_EQ(map[i], i < 8192 + log_size ? 0 : 0xa5,
			       "byte %" PRIu64 " past a half-size log", i);
	/* the full-size log: bits land, the canary after it stays */
	TEST_RUN(log_base(&p, log_size, 8192, fd, &reply));
	TEST_ASSERT_EQ(reply, 0, "log accepted");
	TEST_RUN(hdev_forwards(&p.a, 8));
	{
		uint64_t set = 0;

		for (i = 0; i < log_size; i++)
			set += map[8192 + i] != 0;
		TEST_ASSERT(set > 0, "dirty pages logged");
	}
	for (i = 0; i < 8192; i++)
		TEST_ASSERT_EQ(map[i], 0xa5, "byte %" PRIu64 " before the log", i);
	for (i = canary_off; i < canary_off + 4096; i++)
		TEST_ASSERT_EQ(map[i], 0xa5, "byte %" PRIu64 " after the log", i);
	munmap(map, canary_off + 4096);
	close(fd);
	close(small);
	return pair_down(&p);
}

VHU_TEST(fast, cve_2020_10722_log_base_overflow)
{
	return hlog_run(body_2020_10722);
}

/* ------------------------------------------------------------------------ */
/* CVE-2020-10723: a queue index truncated to fewer bits.                   */

static int
body_2020_10723(void)
{
	static const uint32_t bad[] = { 2, 255, 256, 0x10000, 0x10001, 0x80000000u, UINT32_MAX };
	struct vhu_vring_state st;
	struct rte_mbuf *m[4] = { NULL };
	struct vhu_vq_stats vs;
	struct pair p;
	unsigned int i;
	uint64_t v;

	TEST_RUN(pair_up(&p, 0));
	/* every request naming a vring: 2 and up do not exist (one queue pair) */
	for (i = 0; i < RTE_DIM(bad); i++) {
		char line[64];

		TEST_RUN(a_negotiated(&p));
		st.index = bad[i];
		st.num = 64;
		snprintf(line, sizeof(line), "vring index %u out of range", bad[i]);
		TEST_RUN(fatal(&p, i & 1 ? VHU_REQ_SET_VRING_NUM : VHU_REQ_SET_VRING_BASE, &st,
			       sizeof(st), NULL, 0, line));
		TEST_RUN(a_negotiated(&p));
		TEST_RUN(fatal(&p, VHU_REQ_GET_VRING_BASE, &st, sizeof(st), NULL, 0, line));
		TEST_RUN(a_negotiated(&p));
		TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, line));
	}
	/* the fd requests carry the index in the low byte: other bits are refused */
	TEST_RUN(a_negotiated(&p));
	v = 0x100ull | 0x200ull;
	TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_CALL, &v, 8, NULL, 0, "reserved bits"));
	TEST_RUN(a_negotiated(&p));
	v = (1ull << 32) | VHU_VRING_NOFD_MASK;
	TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_KICK, &v, 8, NULL, 0, "reserved bits"));
	TEST_RUN(a_negotiated(&p));
	v = 200 | VHU_VRING_NOFD_MASK;
	TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_ERR, &v, 8, NULL, 0, "vring index 200 out of range"));

	/* the application side: queue ids and vids out of range are refused */
	TEST_RUN(hdev_ready(&p.a, 0, QSIZE));
	TEST_ASSERT_EQ(vhu_dequeue_burst(p.a.vid, VHU_MAX_VRINGS + 1, hpool(), m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(p.a.vid, 0xffff, hpool(), m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(p.a.vid, 3, hpool(), m, 4), 0, "vring 3 not set up");
	TEST_ASSERT_EQ(vhu_enqueue_burst(p.a.vid, VHU_MAX_VRINGS, m, 0), 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(p.a.vid, 0xfffe, m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(-1, 1, hpool(), m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_dequeue_burst(VHU_MAX_DEVICES, 1, hpool(), m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_enqueue_burst(INT32_MAX, 0, m, 4), 0, "");
	TEST_ASSERT_EQ(vhu_vq_stats_get(p.a.vid, 0xffff, &vs), -1, "");
	TEST_ASSERT_EQ(vhu_vq_stats_reset(p.a.vid, VHU_MAX_VRINGS), -1, "");
	TEST_ASSERT_EQ(vhu_enable_guest_notification(p.a.vid, 0xffff, 1), -1, "");
	TEST_ASSERT_EQ(vhu_get_kickfd(p.a.vid, VHU_MAX_VRINGS), -1, "");
	TEST_ASSERT_EQ(vhu_vring_is_active(p.a.vid, 0xffff), -1, "");
	TEST_ASSERT_EQ(vhu_vring_is_active(-5, 0), -1, "");
	vhu_count_kick(p.a.vid, 0xffff);
	vhu_count_kick(-1, 0);
	TEST_RUN(hdev_forwards(&p.a, 4));
	return pair_down(&p);
}

VHU_TEST(fast, cve_2020_10723_queue_index_truncation)
{
	return hlog_run(body_2020_10723);
}

/* ------------------------------------------------------------------------ */
/* CVE-2020-10725 / 10726: bad sizes in vring addresses and inflight areas. */

static int
body_2020_10725_10726(void)
{
	struct vhu_inflight_desc in;
	struct vhu_vring_addr a;
	struct vhu_vring_state st;
	struct vhu_msg r;
	struct pair p;
	uint8_t *end;
	uint64_t qsz;
	int fd;

	TEST_RUN(pair_up(&p, 0));

	/* 10725: a ring whose last bytes (avail's used_event) pass the region end */
	TEST_RUN(a_negotiated(&p));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&p.a.fe), 0, "table");
	end = p.a.fe.mem + p.a.fe.mem_size;
	st.index = 0;
	st.num = QSIZE;
	TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_SET_VRING_NUM, 0, &st, 8, NULL, 0), 0, "");
	memset(&a, 0, sizeof(a));
	a.index = 0;
	a.desc_user_addr = (uint64_t)(uintptr_t)p.a.fe.mem;
	a.used_user_addr = (uint64_t)(uintptr_t)p.a.fe.mem + 8192;
	/* flags, idx, 256 entries fit; the 2-byte used_event would be past the end */
	a.avail_user_addr = (uint64_t)(uintptr_t)(end - (4 + 2 * QSIZE));
	TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0,
		       "ring addresses are not in guest memory"));
	/* the used ring's avail_event likewise */
	TEST_RUN(a_negotiated(&p));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&p.a.fe), 0, "table");
	end = p.a.fe.mem + p.a.fe.mem_size;
	TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_SET_VRING_NUM, 0, &st, 8, NULL, 0), 0, "");
	a.desc_user_addr = (uint64_t)(uintptr_t)p.a.fe.mem;
	a.avail_user_addr = (uint64_t)(uintptr_t)p.a.fe.mem + 8192;
	a.used_user_addr = (uint64_t)(uintptr_t)(end - (4 + 8 * QSIZE));
	TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0,
		       "ring addresses are not in guest memory"));
	/* addresses that fit 64 entries, then a size of 256 that does not */
	TEST_RUN(a_negotiated(&p));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&p.a.fe), 0, "table");
	end = p.a.fe.mem + p.a.fe.mem_size;
	st.num = 64;
	TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_SET_VRING_NUM, 0, &st, 8, NULL, 0), 0, "");
	a.desc_user_addr = (uint64_t)(uintptr_t)(end - 16 * 64);
	a.avail_user_addr = (uint64_t)(uintptr_t)p.a.fe.mem;
	a.used_user_addr = (uint64_t)(uintptr_t)p.a.fe.mem + 4096;
	TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0), 0,
		       "");
	TEST_ASSERT(mock_fe_alive(&p.a.fe), "64 entries fit");
	st.num = QSIZE;
	TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0, "does not fit guest memory"));
	/* a ring size that is no power of two, or too large */
	TEST_RUN(a_negotiated(&p));
	st.num = 100;
	TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0, "power of two"));
	TEST_RUN(a_negotiated(&p));
	st.num = 65536;
	TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0, "ring size must be"));

	/* 10726: inflight geometry */
	TEST_RUN(a_negotiated(&p));
	{
		static const uint16_t geo[][2] = { { 0, 256 }, { 3, 256 }, { 2, 0 }, { 2, 100 },
						   { 0xffff, 0xffff } };
		unsigned int i;

		for (i = 0; i < RTE_DIM(geo); i++) {
			memset(&in, 0, sizeof(in));
			in.num_queues = geo[i][0];
			in.queue_size = geo[i][1];
			TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_GET_INFLIGHT_FD, 0, &in,
						    sizeof(in), NULL, 0), 0, "");
			TEST_ASSERT_EQ(mock_fe_recv(&p.a.fe, &r), 0, "GET_INFLIGHT_FD reply");
			TEST_ASSERT_EQ(r.nfds, 0, "no area for %u x %u", geo[i][0], geo[i][1]);
			TEST_ASSERT_EQ(r.payload.inflight.mmap_size, 0, "size 0 means refused");
		}
		TEST_ASSERT(hlog_has("GET_INFLIGHT_FD refused"), "logged");
	}
	/* a good one: an fd of exactly the size announced */
	in.num_queues = 2;
	in.queue_size = 256;
	qsz = vhu_inflight_queue_size(256);
	TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0),
		       0, "");
	TEST_ASSERT_EQ(mock_fe_recv(&p.a.fe, &r), 0, "reply");
	TEST_ASSERT_EQ(r.nfds, 1, "an area");
	TEST_ASSERT_EQ(r.payload.inflight.mmap_size, 2 * qsz, "its size");
	{
		struct stat sb;

		TEST_ASSERT(fstat(r.fds[0], &sb) == 0 && (uint64_t)sb.st_size == 2 * qsz, "fd size");
	}
	vhu_msg_close_fds(&r);
	/* SET_INFLIGHT_FD: too small for its geometry; larger than its fd; wrapping */
	fd = memfd_of(2 * qsz);
	in.mmap_offset = 0;
	in.mmap_size = 2 * qsz - 1;
	TEST_RUN(fatal(&p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1, "needed"));
	TEST_RUN(a_negotiated(&p));
	in.mmap_size = 4 * qsz;
	TEST_RUN(fatal(&p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1,
		       "memory fd smaller than offset + size"));
	TEST_RUN(a_negotiated(&p));
	in.mmap_size = 2 * qsz;
	in.mmap_offset = UINT64_MAX - qsz;
	TEST_RUN(fatal(&p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1, "SET_INFLIGHT_FD"));
	close(fd);
	TEST_RUN(hdev_ready(&p.a, 0, QSIZE));
	TEST_RUN(hdev_forwards(&p.a, 4));
	return pair_down(&p);
}

VHU_TEST(fast, cve_2020_10725_10726_vring_and_inflight_sizes)
{
	return hlog_run(body_2020_10725_10726);
}

/* ------------------------------------------------------------------------ */
/* CVE-2021-3839: out-of-bounds access through the inflight fd message.     */

static int
body_2021_3839(void)
{
	struct vhu_inflight_desc in;
	uint64_t qsz = vhu_inflight_queue_size(64);
	struct pair p;
	uint8_t *map;
	int fd, two[2];

	TEST_RUN(pair_up(&p, 0));
	fd = memfd_of(8 * qsz);
	TEST_ASSERT(fd >= 0, "memfd");
	memset(&in, 0, sizeof(in));
	in.mmap_size = 2 * qsz;
	in.queue_size = 64;
	/* more queues than the device has: an index beyond every table */
	TEST_RUN(a_negotiated(&p));
	in.num_queues = 0xffff;
	TEST_RUN(fatal(&p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1,
		       "queue count out of range"));
	TEST_RUN(a_negotiated(&p));
	in.num_queues = 3;
	TEST_RUN(fatal(&p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1,
		       "queue count out of range"));
	/* no fd, two fds */
	TEST_RUN(a_negotiated(&p));
	in.num_queues = 2;
	TEST_RUN(fatal(&p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), NULL, 0, "carries 0 fds"));
	TEST_RUN(a_negotiated(&p));
	two[0] = fd;
	two[1] = fd;
	TEST_RUN(fatal(&p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), two, 2, "carries 2 fds"));
	/* a queue region whose header says another ring size */
	map = mmap(NULL, 8 * qsz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(map != MAP_FAILED, "mmap");
	memset(map, 0, 8 * qsz);
	*(uint16_t *)(map + qsz + 8) = 1;        /* version */
	*(uint16_t *)(map + qsz + 10) = 32768;   /* desc_num */
	TEST_RUN(a_negotiated(&p));
	TEST_RUN(fatal(&p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1,
		       "is not a version-1 area"));
	/* a good one is accepted and the device still works */
	*(uint16_t *)(map + qsz + 10) = 64;
	TEST_RUN(a_negotiated(&p));
	{
		uint64_t ack = 1;

		TEST_ASSERT_EQ(mock_fe_ack(&p.a.fe, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1,
					   &ack), 0, "SET_INFLIGHT_FD");
		TEST_ASSERT_EQ(ack, 0, "a consistent area accepted");
	}
	munmap(map, 8 * qsz);
	close(fd);
	TEST_RUN(hdev_ready(&p.a, 0, 64));
	TEST_RUN(hdev_forwards(&p.a, 4));
	return pair_down(&p);
}

VHU_TEST(fast, cve_2021_3839_inflight_fd_out_of_bounds)
{
	return hlog_run(body_2021_3839);
}

/* ------------------------------------------------------------------------ */
/* CVE-2022-0669: fds smuggled in messages that take none.                  */

static int
body_2022_0669(void)
{
	static const uint32_t reqs[] = {
		VHU_REQ_GET_FEATURES, VHU_REQ_SET_FEATURES, VHU_REQ_SET_OWNER,
		VHU_REQ_SET_VRING_NUM, VHU_REQ_SET_VRING_ADDR, VHU_REQ_SET_VRING_BASE,
		VHU_REQ_GET_VRING_BASE, VHU_REQ_GET_PROTOCOL_FEATURES,
		VHU_REQ_SET_PROTOCOL_FEATURES, VHU_REQ_SET_VRING_ENABLE, VHU_REQ_SET_STATUS,
		VHU_REQ_GET_CONFIG, VHU_REQ_GET_INFLIGHT_FD, VHU_REQ_NET_SET_MTU,
	};
	static const uint32_t sizes[] = { 0, 8, 0, 8, 40, 8, 8, 0, 8, 8, 8, 24, 20, 8 };
	uint8_t payload[64];
	int fds[12], i, before;
	struct pair p;
	uint64_t v;

	TEST_RUN(pair_up(&p, 0));
	for (i = 0; i < 12; i++) {
		fds[i] = i % 2 ? eventfd(0, EFD_CLOEXEC) : memfd_of(4096);
		TEST_ASSERT(fds[i] >= 0, "fd %d", i);
	}
	memset(payload, 0, sizeof(payload));
	((uint32_t *)payload)[1] = 12;   /* GET_CONFIG: offset 0, size 12 */
	for (i = 0; i < (int)RTE_DIM(reqs); i++) {
		char line[96];

		TEST_RUN(a_negotiated(&p));
		snprintf(line, sizeof(line), "%s carries %d fds, 0 expected", vhu_req_name(reqs[i]),
			 1 + i % 3);
		TEST_RUN(fatal(&p, reqs[i], payload, sizes[i], fds, 1 + i % 3, line));
	}
	/* the no-fd bit set, an fd given anyway */
	TEST_RUN(a_negotiated(&p));
	v = 0 | VHU_VRING_NOFD_MASK;
	TEST_RUN(fatal(&p, VHU_REQ_SET_VRING_CALL, &v, 8, fds, 1, "carries 1 fds, 0 expected"));
	/* one region, two fds */
	TEST_RUN(a_negotiated(&p));
	{
		struct vhu_mem_table t;

		memset(&t, 0, sizeof(t));
		t.nregions = 1;
		t.regions[0] = mock_fe_region(&p.a.fe);
		TEST_RUN(fatal(&p, VHU_REQ_SET_MEM_TABLE, &t, 40, fds, 2, "carries 2 fds, 1 expected"));
	}
	/* more fds than any message may carry */
	TEST_RUN(a_negotiated(&p));
	TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_SET_OWNER, 0, NULL, 0, fds, 8), 0, "8 fds");
	TEST_ASSERT(hdev_closed(&p.a), "8 fds on SET_OWNER");
	TEST_RUN(hdev_reconnect(&p.a));
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
		TEST_ASSERT_EQ(sendmsg(p.a.fe.sock, &mh, MSG_NOSIGNAL), (ssize_t)sizeof(h), "12 fds");
		TEST_ASSERT(hdev_closed(&p.a), "12 fds");
		TEST_ASSERT(hlog_has("more than 8 file descriptors"), "logged");
	}
	/* a request vhu does not know, with fds: ignored, its fds closed */
	TEST_RUN(hdev_reconnect(&p.a));
	before = vhu_test_count_fds();
	TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, 99, 0, NULL, 0, fds, 3), 0, "request 99");
	TEST_ASSERT(mock_fe_alive(&p.a.fe), "an unknown request is not fatal");
	TEST_ASSERT_EQ(vhu_test_count_fds(), before, "its fds closed");
	TEST_ASSERT(hlog_has("unsupported request UNKNOWN (99) ignored"), "logged");
	for (i = 0; i < 12; i++)
		close(fds[i]);
	TEST_RUN(hdev_ready(&p.a, 0, QSIZE));
	TEST_RUN(hdev_forwards(&p.a, 4));
	return pair_down(&p);
}

VHU_TEST(fast, cve_2022_0669_fds_smuggled)
{
	return hlog_run(body_2022_0669);
}

/* ------------------------------------------------------------------------ */
/* CVE-2022-2132: a virtio-net header spread over more than two descriptors. */

/* A TX chain at raw slots: header in hpieces descriptors, then the frame. */
static int
tx_scattered(struct pair *p, const uint8_t *frame, uint32_t len, const struct vhu_net_hdr *hdr,
	     unsigned int hpieces)
{
	uint64_t gpa = gmem_alloc(&p->a.gm, 0, 12 + len, 64);
	uint16_t slot = RAW;
	uint32_t at = 0, l, i;

	TEST_ASSERT(gpa != 0, "guest memory");
	gmem_write(&p->a.gm, gpa, hdr, 12);
	gmem_write(&p->a.gm, gpa + 12, frame, len);
	for (i = 0; i < hpieces; i++) {
		l = i + 1 < hpieces ? 12 / hpieces : 12 - at;
		set_desc(hdev_desc(&p->a, 1, slot), gpa + at, l, VHU_DESC_F_NEXT,
			 (uint16_t)(slot + 1));
		at += l;
		slot++;
	}
	set_desc(hdev_desc(&p->a, 1, slot), gpa + 12, len, 0, 0);
	hdev_avail(&p->a, 1, RAW);
	return TEST_SUCCESS;
}

static int
body_2022_2132(void)
{
	uint8_t frame[1514], *pkt;
	struct vhu_net_hdr hdr;
	struct rte_mbuf *m[2] = { NULL };
	struct pair p;
	uint16_t e0, i;
	uint64_t gpa;

	TEST_RUN(pair_up(&p, F(VERSION_1) | F(NET_CSUM) | F(RING_INDIRECT_DESC) |
			 F(NET_MRG_RXBUF) | F(PROTOCOL_FEATURES)));
	make_frame(frame, sizeof(frame), 3);
	/* 12 one-byte pieces of header: legal, taken whole */
	memset(&hdr, 0, sizeof(hdr));
	TEST_RUN(tx_scattered(&p, frame, 200, &hdr, 12));
	TEST_ASSERT_EQ(a_dequeue(&p, m, 1), 1, "header in 12 descriptors");
	TEST_ASSERT_EQ(mbuf_cmp(m[0], frame, 200), 0, "frame intact");
	rte_pktmbuf_free(m[0]);
	/* three pieces holding a partial-checksum request for a UDP frame: applied */
	{
		static const uint8_t udp[] = {
			2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00,
			0x45, 0, 0, 36, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
			0x04, 0xd2, 0x00, 0x35, 0, 16, 0, 0, 'h', 'o', 's', 't', 'i', 'l', 'e', '!',
		};

		hdr.flags = VHU_NET_HDR_F_NEEDS_CSUM;
		hdr.csum_start = 34;
		hdr.csum_offset = 6;
		TEST_RUN(tx_scattered(&p, udp, sizeof(udp), &hdr, 3));
		TEST_ASSERT_EQ(a_dequeue(&p, m, 1), 1, "partial checksum over 3 descriptors");
		TEST_ASSERT_EQ(m[0]->pkt_len, sizeof(udp), "length");
		rte_pktmbuf_free(m[0]);
	}
	/* more pieces than a packet may have: dropped */
	e0 = ring_errors(p.a.vid, 1);
	gpa = gmem_alloc(&p.a.gm, 0, 200, 64);
	gmem_write(&p.a.gm, gpa, frame, 200);
	for (i = 0; i < 130; i++)
		set_desc(hdev_desc(&p.a, 1, (uint16_t)(RAW - 2 + i)), gpa + i, 1,
			 i + 1 < 130 ? VHU_DESC_F_NEXT : 0, (uint16_t)((RAW - 1 + i) & (QSIZE - 1)));
	hdev_avail(&p.a, 1, RAW - 2);
	TEST_ASSERT_EQ(a_dequeue(&p, m, 0), 0, "130 pieces dropped");
	TEST_ASSERT_EQ(ring_errors(p.a.vid, 1), e0 + 1, "a guest fault");
	TEST_ASSERT(hlog_has("buffer in too many pieces"), "logged");
	/* less than a header and an Ethernet header in all: dropped */
	set_desc(hdev_desc(&p.a, 1, RAW), gpa, 8, VHU_DESC_F_NEXT, RAW + 1);
	set_desc(hdev_desc(&p.a, 1, RAW + 1), gpa + 8, 10, 0, 0);
	hdev_avail(&p.a, 1, RAW);
	TEST_ASSERT_EQ(a_dequeue(&p, m, 0), 0, "runt frame dropped");
	TEST_ASSERT_EQ(ring_errors(p.a.vid, 1), e0 + 2, "a guest fault");

	/* receive side: the guest's buffer is 13 one-byte pieces and a large one */
	gpa = gmem_alloc(&p.a.gm, 0, 4096, 64);
	pkt = gmem_host(&p.a.gm, gpa);
	memset(pkt, 0xa5, 4096);
	for (i = 0; i < 13; i++)
		set_desc(hdev_desc(&p.a, 0, (uint16_t)(RAW + i)), gpa + i, 1,
			 VHU_DESC_F_WRITE | VHU_DESC_F_NEXT, (uint16_t)(RAW + i + 1));
	set_desc(hdev_desc(&p.a, 0, RAW + 13), gpa + 13, 2048, VHU_DESC_F_WRITE, 0);
	hdev_avail(&p.a, 0, RAW);
	m[0] = mbuf_make(hpool(), frame, 1000, 0);
	TEST_ASSERT(m[0] != NULL, "mbuf");
	TEST_ASSERT_EQ(vhu_enqueue_burst(p.a.vid, 0, m, 1), 1, "enqueued");
	rte_pktmbuf_free(m[0]);
	{
		uint32_t id, len;

		TEST_ASSERT_EQ(hdev_used(&p.a, 0, &id, &len, 1), 1, "used");
		TEST_ASSERT_EQ(id, RAW, "head");
		TEST_ASSERT_EQ(len, 1012, "header + frame");
		memcpy(&hdr, pkt, 12);
		TEST_ASSERT_EQ(hdr.num_buffers, 1, "num_buffers across pieces");
		TEST_ASSERT(memcmp(pkt + 12, frame, 1000) == 0, "frame after a scattered header");
		TEST_ASSERT_EQ(pkt[1012], 0xa5, "nothing written past the frame");
	}
	TEST_RUN(hdev_forwards(&p.a, 4));
	return pair_down(&p);
}

VHU_TEST(fast, cve_2022_2132_header_over_many_descriptors)
{
	return hlog_run(body_2022_2132);
}

/* ------------------------------------------------------------------------ */
/* CVE-2024-11614: csum_start beyond the packet; the header fetched twice.  */

/* A guest thread that keeps flipping a header field between two values. */
struct flipper {
	volatile uint16_t *field;
	uint16_t a, b;
	volatile uint32_t *field32;
	uint32_t a32, b32;
	volatile int stop;
	volatile uint64_t flips;
};

static void *flipper_main(void *arg);

/* Start the guest thread and wait (at most 2 s) until it is flipping. */
static int
flipper_start(pthread_t *t, struct flipper *f)
{
	int waited = 0;

	f->stop = 0;
	f->flips = 0;
	TEST_ASSERT_EQ(pthread_create(t, NULL, flipper_main, f), 0, "guest thread");
	while (f->flips < 1000 && waited < 2000) {
		vhu_test_sleep_ms(1);
		waited++;
	}
	return TEST_SUCCESS;
}

static void *
flipper_main(void *arg)
{
	struct flipper *f = arg;

	while (!f->stop) {
		if (f->field != NULL)
			*f->field = (f->flips & 1) ? f->a : f->b;
		if (f->field32 != NULL)
			*f->field32 = (f->flips & 1) ? f->a32 : f->b32;
		f->flips++;
	}
	return NULL;
}

#define RACE_ROUNDS 3000

static int
body_2024_11614(void)
{
	static const uint8_t udp[] = {
		2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00,
		0x45, 0, 0, 36, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x04, 0xd2, 0x00, 0x35, 0, 16, 0, 0, 'h', 'o', 's', 't', 'i', 'l', 'e', '!',
	};
	static const struct { uint16_t start, off; uint8_t gso; uint16_t gso_size; } bad[] = {
		{ 1000, 6, 0, 0 },          /* csum_start beyond the packet */
		{ 44, 6, 0, 0 },            /* start inside, field past the end */
		{ 34, 0xffff, 0, 0 },       /* offset overflowing */
		{ 0xffff, 0xffff, 0, 0 },
		{ 34, 6, VHU_NET_HDR_GSO_UDP_L4, 0 },    /* segmentation of size 0 */
		{ 34, 6, 0x7f, 100 },       /* unknown GSO type */
	};
	struct vhu_net_hdr hdr, *gh;
	struct rte_mbuf *m[64] = { NULL };
	struct flipper fl;
	struct pair p;
	pthread_t t;
	uint64_t gpa, accepted = 0, dropped = 0;
	unsigned int i, k, n;
	uint16_t e0;

	TEST_RUN(pair_up(&p, F(VERSION_1) | F(NET_CSUM) | F(NET_HOST_TSO4) | F(NET_HOST_USO) |
			 F(PROTOCOL_FEATURES)));
	e0 = ring_errors(p.a.vid, 1);
	for (i = 0; i < RTE_DIM(bad); i++) {
		memset(&hdr, 0, sizeof(hdr));
		hdr.flags = VHU_NET_HDR_F_NEEDS_CSUM;
		hdr.csum_start = bad[i].start;
		hdr.csum_offset = bad[i].off;
		hdr.gso_type = bad[i].gso;
		hdr.gso_size = bad[i].gso_size;
		TEST_ASSERT(hdev_tx(&p.a, udp, sizeof(udp), &hdr) >= 0, "post");
		TEST_ASSERT_EQ(a_dequeue(&p, m, 0), 0, "bad header %u dropped", i);
		TEST_ASSERT_EQ(ring_errors(p.a.vid, 1), e0 + i + 1, "bad header %u counted", i);
	}
	TEST_ASSERT(hlog_has("bad virtio-net header"), "logged");
	TEST_ASSERT(hpool_full(), "dropped packets' mbufs returned");

	/*
	 * The double fetch: the guest flips csum_start between a good value
	 * and one far beyond the packet while the back-end reads the header.
	 * Whatever it reads must be read once: every packet is either dropped
	 * or taken with a checksum written where the good header says.
	 */
	memset(&hdr, 0, sizeof(hdr));
	hdr.flags = VHU_NET_HDR_F_NEEDS_CSUM;
	hdr.csum_start = 34;
	hdr.csum_offset = 6;
	gpa = gmem_alloc(&p.a.gm, 0, 12 + sizeof(udp), 64);
	gmem_write(&p.a.gm, gpa, &hdr, 12);
	gmem_write(&p.a.gm, gpa + 12, udp, sizeof(udp));
	gh = gmem_host(&p.a.gm, gpa);
	memset(&fl, 0, sizeof(fl));
	fl.field = (volatile uint16_t *)(void *)((uint8_t *)gh +
						 offsetof(struct vhu_net_hdr, csum_start));
	fl.a = 34;
	fl.b = 60000;
	fl.field32 = NULL;
	TEST_RUN(flipper_start(&t, &fl));
	e0 = ring_errors(p.a.vid, 1);
	for (k = 0; k < RACE_ROUNDS; k++) {
		sched_yield();
		set_desc(hdev_desc(&p.a, 1, RAW), gpa, 12 + sizeof(udp), 0, 0);
		hdev_avail(&p.a, 1, RAW);
		n = a_dequeue(&p, m, 1);
		if (n == 1) {
			uint16_t sum;

			accepted++;
			/* the checksum field holds a real value, at the good place */
			TEST_ASSERT_EQ(m[0]->pkt_len, sizeof(udp), "length");
			sum = *rte_pktmbuf_mtod_offset(m[0], uint16_t *, 40);
			TEST_ASSERT(sum == 0 || (m[0]->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != 0,
				    "a packet taken with neither a checksum nor its flag");
			rte_pktmbuf_free(m[0]);
		} else {
			dropped++;
		}
		hdev_used(&p.a, 1, NULL, NULL, 4);
	}
	fl.stop = 1;
	pthread_join(t, NULL);
	TEST_ASSERT_EQ(accepted + dropped, RACE_ROUNDS, "every packet decided");
	TEST_ASSERT_EQ(ring_errors(p.a.vid, 1) - e0, dropped, "every drop a counted fault");
	TEST_LOG("double fetch race: %" PRIu64 " taken, %" PRIu64 " dropped, %" PRIu64 " flips",
		 accepted, dropped, fl.flips);
	TEST_ASSERT(hpool_full(), "no mbuf lost in the race");
	TEST_RUN(hdev_forwards(&p.a, 4));
	return pair_down(&p);
}

VHU_TEST(fast, cve_2024_11614_csum_start_and_double_fetch)
{
	return hlog_run(body_2024_11614);
}

/* ------------------------------------------------------------------------ */
/* 2026: a region's size not checked against its fd before mmap.           */

static int
body_2026_region_size(void)
{
	struct vhu_mem_table t;
	struct vhu_mem_single ms;
	struct hmark before;
	struct pair p;
	int small, efd;

	TEST_RUN(pair_up(&p, 0));
	small = memfd_of(1 << 20);
	efd = eventfd(0, EFD_CLOEXEC);
	TEST_ASSERT(small >= 0 && efd >= 0, "fds");
	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0].guest_phys_addr = 0;
	t.regions[0].userspace_addr = 0x7f0000000000ull;
	/* 16 MiB announced on a 1 MiB memfd */
	TEST_RUN(a_negotiated(&p));
	t.regions[0].memory_size = 16 << 20;
	TEST_RUN(fatal(&p, VHU_REQ_SET_MEM_TABLE, &t, 40, &small, 1,
		       "memory fd smaller than offset + size"));
	/* from here on, each refusal must leave a fresh connection like this one */
	hmark_take(&before);
	/* an offset past the end of the file */
	TEST_RUN(a_negotiated(&p));
	t.regions[0].memory_size = 4096;
	t.regions[0].mmap_offset = 2 << 20;
	TEST_RUN(fatal(&p, VHU_REQ_SET_MEM_TABLE, &t, 40, &small, 1,
		       "memory fd smaller than offset + size"));
	/* offset + size past any file size */
	TEST_RUN(a_negotiated(&p));
	t.regions[0].mmap_offset = (uint64_t)INT64_MAX - 100;
	TEST_RUN(fatal(&p, VHU_REQ_SET_MEM_TABLE, &t, 40, &small, 1,
		       "memory region offset beyond any file"));
	/* an fd that is no memory at all */
	TEST_RUN(a_negotiated(&p));
	t.regions[0].mmap_offset = 0;
	TEST_RUN(fatal(&p, VHU_REQ_SET_MEM_TABLE, &t, 40, &efd, 1,
		       "memory fd is not a regular file"));
	/* a device, whose size nobody can check: /dev/zero mapped from far past
	 * its (empty) end maps fine and faults with SIGBUS on the first access */
	TEST_RUN(a_negotiated(&p));
	{
		int zfd = open("/dev/zero", O_RDWR | O_CLOEXEC);

		TEST_ASSERT(zfd >= 0, "/dev/zero");
		t.regions[0].mmap_offset = 0x4d4d4d0000000000ull;
		t.regions[0].memory_size = 1 << 20;
		TEST_RUN(fatal(&p, VHU_REQ_SET_MEM_TABLE, &t, 40, &zfd, 1,
			       "memory fd is not a regular file"));
		close(zfd);
		t.regions[0].mmap_offset = 0;
		t.regions[0].memory_size = 4096;
	}
	/* the same through ADD_MEM_REG, after a good table */
	TEST_RUN(a_negotiated(&p));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&p.a.fe), 0, "good table");
	memset(&ms, 0, sizeof(ms));
	ms.region.guest_phys_addr = 1ull << 40;
	ms.region.userspace_addr = 0x7e0000000000ull;
	ms.region.memory_size = 2 << 20;
	TEST_RUN(fatal(&p, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &small, 1,
		       "ADD_MEM_REG: memory fd smaller than offset + size"));
	/* nothing stayed mapped */
	TEST_RUN(hmark_check(&before));
	close(small);
	close(efd);
	TEST_RUN(hdev_ready(&p.a, 0, QSIZE));
	TEST_RUN(hdev_forwards(&p.a, 4));
	return pair_down(&p);
}

VHU_TEST(fast, cve_2026_region_size_before_mmap)
{
	return hlog_run(body_2026_region_size);
}

/* ------------------------------------------------------------------------ */
/* 2026: a queue size out of step with the inflight table.                  */

static int
body_2026_inflight_qsize(void)
{
	struct vhu_inflight_desc in;
	uint64_t qsz = vhu_inflight_queue_size(64), area = 2 * qsz, ack = 1, i;
	struct mock_fe_opts o = { .ring_size = QSIZE, .nvrings = 2 };
	uint8_t *map;
	struct pair p;
	int fd, before;

	TEST_RUN(pair_up(&p, 0));
	/* an area for two queues of 64 entries, then a canary page */
	fd = memfd_of(area + 4096);
	TEST_ASSERT(fd >= 0, "memfd");
	map = mmap(NULL, area + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(map != MAP_FAILED, "mmap");
	memset(map, 0, area);
	memset(map + area, 0x5c, 4096);
	TEST_RUN(hdev_reconnect(&p.a));
	TEST_RUN(a_negotiated(&p));
	memset(&in, 0, sizeof(in));
	in.mmap_size = area;
	in.num_queues = 2;
	in.queue_size = 64;
	TEST_ASSERT_EQ(mock_fe_ack(&p.a.fe, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1, &ack),
		       0, "SET_INFLIGHT_FD");
	TEST_ASSERT_EQ(ack, 0, "accepted");
	/* rings of 256 entries: four times what the inflight table describes */
	before = vhu_rec.new_dev;
	if (mock_fe_setup(&p.a.fe, &o) == 0 && vhu_test_wait(&vhu_rec.new_dev, before + 1, 2000)) {
		/* accepted: traffic over the whole ring must leave the area alone */
		TEST_RUN(hdev_attach_rings(&p.a));
		for (i = 0; i < 6; i++)
			TEST_RUN(hdev_forwards(&p.a, 60));
	} else {
		/* refused: cleanly, with the reason logged */
		TEST_ASSERT(hdev_closed(&p.a), "refused but not closed");
		TEST_ASSERT(hlog_has("inflight"), "refusal logged");
	}
	for (i = 0; i < 4096; i++)
		TEST_ASSERT_EQ(map[area + i], 0x5c, "byte %" PRIu64 " past the inflight area", i);
	munmap(map, area + 4096);
	close(fd);
	return pair_down(&p);
}

VHU_TEST(fast, cve_2026_queue_size_vs_inflight)
{
	return hlog_run(body_2026_inflight_qsize);
}

/* ------------------------------------------------------------------------ */
/* 2026: receive descriptors too small for the virtio-net header.           */

static int
runt_rx(struct pair *p, bool mrg)
{
	uint8_t frame[1200], *buf;
	struct rte_mbuf *m;
	uint32_t ids[8], lens[8];
	uint64_t gpa;
	uint16_t e0;
	unsigned int n;

	make_frame(frame, sizeof(frame), 9);
	err_signals(&p->a, 0);
	/* 4 KiB of guest memory, poisoned: buffers at 0 (4 bytes), 64 (0 bytes),
	 * 128 (2 KiB, good) */
	gpa = gmem_alloc(&p->a.gm, 0, 4096, 64);
	buf = gmem_host(&p->a.gm, gpa);
	memset(buf, 0xa5, 4096);
	e0 = ring_errors(p->a.vid, 0);
	set_desc(hdev_desc(&p->a, 0, RAW), gpa, 4, VHU_DESC_F_WRITE, 0);
	set_desc(hdev_desc(&p->a, 0, RAW + 1), gpa + 64, 0, VHU_DESC_F_WRITE, 0);
	set_desc(hdev_desc(&p->a, 0, RAW + 2), gpa + 128, 2048, VHU_DESC_F_WRITE, 0);
	hdev_avail(&p->a, 0, RAW);
	hdev_avail(&p->a, 0, RAW + 1);
	hdev_avail(&p->a, 0, RAW + 2);
	m = mbuf_make(hpool(), frame, sizeof(frame), 0);
	TEST_ASSERT(m != NULL, "mbuf");
	TEST_ASSERT_EQ(vhu_enqueue_burst(p->a.vid, 0, &m, 1), 1, "taken");
	n = hdev_used(&p->a, 0, ids, lens, 8);
	TEST_ASSERT_EQ(n, 3, "three heads back");
	TEST_ASSERT(ids[0] == RAW && lens[0] == 0, "runt head returned empty");
	TEST_ASSERT(ids[1] == RAW + 1 && lens[1] == 0, "zero-length head returned empty");
	TEST_ASSERT(ids[2] == RAW + 2 && lens[2] == 12 + sizeof(frame), "frame in the good one");
	TEST_ASSERT_EQ(ring_errors(p->a.vid, 0), e0 + 2, "two guest faults");
	TEST_ASSERT(buf[0] == 0xa5 && buf[4] == 0xa5 && buf[63] == 0xa5 && buf[64] == 0xa5,
		    "nothing written into or past the runts");
	TEST_ASSERT(memcmp(buf + 128 + 12, frame, sizeof(frame)) == 0, "frame delivered");
	TEST_ASSERT_EQ(buf[128 + 12 + sizeof(frame)], 0xa5, "nothing past the frame");

	/*
	 * A zero-length buffer after a good one. Mergeable: the packet was
	 * half placed in the first buffer: both come back empty, the packet is
	 * dropped. Otherwise the chain is refused and the packet waits.
	 */
	memset(buf, 0xa5, 4096);
	set_desc(hdev_desc(&p->a, 0, RAW), gpa, 600,
		 VHU_DESC_F_WRITE | (mrg ? 0 : VHU_DESC_F_NEXT), RAW + 1);
	set_desc(hdev_desc(&p->a, 0, RAW + 1), gpa + 1024, 0, VHU_DESC_F_WRITE, 0);
	hdev_avail(&p->a, 0, RAW);
	if (mrg)
		hdev_avail(&p->a, 0, RAW + 1);
	e0 = ring_errors(p->a.vid, 0);
	TEST_ASSERT_EQ(vhu_enqueue_burst(p->a.vid, 0, &m, 1), mrg ? 1 : 0,
		       "mergeable: dropped half placed; otherwise kept for later");
	rte_pktmbuf_free(m);
	n = hdev_used(&p->a, 0, ids, lens, 8);
	TEST_ASSERT_EQ(n, mrg ? 2 : 1, "heads returned");
	TEST_ASSERT(ids[0] == RAW && lens[0] == 0, "the first returned empty");
	TEST_ASSERT(!mrg || (ids[1] == RAW + 1 && lens[1] == 0), "the second returned empty");
	TEST_ASSERT_EQ(ring_errors(p->a.vid, 0), e0 + 1, "one guest fault");
	/* logged at most once a second per ring; signalled every time */
	TEST_ASSERT_EQ(err_signals(&p->a, 0), 3, "three faults on the error eventfd");
	TEST_ASSERT(buf[1024] == 0xa5 && buf[600] == 0xa5, "nothing past the 600 bytes");
	for (n = 0; n < 12; n++)
		TEST_ASSERT(!mrg || buf[n] == 0xa5, "no header for a dropped packet");
	/* ring and device fine afterwards */
	TEST_RUN(hdev_forwards(&p->a, 8));
	return TEST_SUCCESS;
}

static int
body_2026_runt_rx(void)
{
	struct pair p;

	TEST_RUN(pair_up(&p, F(VERSION_1) | F(PROTOCOL_FEATURES)));
	TEST_RUN(runt_rx(&p, false));
	TEST_ASSERT(hlog_has("receive buffer smaller than the virtio-net header"), "logged");
	hdev_down(&p.a);
	TEST_RUN(hdev_up(&p.a, 0));
	TEST_RUN(hdev_ready(&p.a, F(VERSION_1) | F(NET_MRG_RXBUF) | F(PROTOCOL_FEATURES), QSIZE));
	TEST_RUN(runt_rx(&p, true));
	return pair_down(&p);
}

VHU_TEST(fast, cve_2026_runt_enq_descriptors)
{
	return hlog_run(body_2026_runt_rx);
}

/* ------------------------------------------------------------------------ */
/* 2026: an indirect table whose length changes between check and use.     */

static int
body_2026_indirect_toctou(void)
{
	uint8_t frame[300], *rxbuf;
	struct vhu_vring_desc *table, *d;
	struct rte_mbuf *m[2] = { NULL };
	struct flipper fl;
	struct pair p;
	pthread_t t;
	uint64_t tgpa, fgpa, rgpa, taken = 0, dropped = 0;
	unsigned int k, i;
	uint16_t e0;

	TEST_RUN(pair_up(&p, F(VERSION_1) | F(RING_INDIRECT_DESC) | F(PROTOCOL_FEATURES)));
	make_frame(frame, sizeof(frame), 11);
	/* TX: an indirect table of two entries (header, frame) */
	tgpa = gmem_alloc(&p.a.gm, 0, 4096, 4096);
	fgpa = gmem_alloc(&p.a.gm, 0, 12 + sizeof(frame), 64);
	table = gmem_host(&p.a.gm, tgpa);
	memset(gmem_host(&p.a.gm, fgpa), 0, 12);
	gmem_write(&p.a.gm, fgpa + 12, frame, sizeof(frame));
	set_desc(&table[0], fgpa, 12, VHU_DESC_F_NEXT, 1);
	set_desc(&table[1], fgpa + 12, sizeof(frame), 0, 0);
	d = hdev_desc(&p.a, 1, RAW);
	set_desc(d, tgpa, 32, VHU_DESC_F_INDIRECT, 0);
	/* the guest flips the table length (32 / larger than guest memory) and
	 * the frame length (good / past the region end) */
	memset(&fl, 0, sizeof(fl));
	fl.field32 = &d->len;
	fl.a32 = 32;
	fl.b32 = 0x7ffffff0;
	TEST_RUN(flipper_start(&t, &fl));
	e0 = ring_errors(p.a.vid, 1);
	for (k = 0; k < RACE_ROUNDS; k++) {
		sched_yield();
		if (k == RACE_ROUNDS / 2) {
			/* second half: the table's own entries change length */
			fl.stop = 1;
			pthread_join(t, NULL);
			d->len = 32;
			fl.field32 = &table[1].len;
			fl.a32 = sizeof(frame);
			fl.b32 = 0xfffffff0;
			TEST_RUN(flipper_start(&t, &fl));
		}
		hdev_avail(&p.a, 1, RAW);
		if (a_dequeue(&p, m, 1) == 1) {
			taken++;
			TEST_ASSERT_EQ(mbuf_cmp(m[0], frame, sizeof(frame)), 0, "a taken frame is whole");
			rte_pktmbuf_free(m[0]);
		} else {
			dropped++;
		}
		hdev_used(&p.a, 1, NULL, NULL, 4);
	}
	fl.stop = 1;
	pthread_join(t, NULL);
	TEST_ASSERT_EQ(taken + dropped, RACE_ROUNDS, "every chain decided");
	TEST_ASSERT_EQ(ring_errors(p.a.vid, 1) - e0, dropped, "every drop counted");
	TEST_LOG("indirect race (TX): %" PRIu64 " taken, %" PRIu64 " dropped", taken, dropped);

	/* RX: an indirect receive table whose entry length flips; a canary after */
	rgpa = gmem_alloc(&p.a.gm, 0, 8192, 4096);
	rxbuf = gmem_host(&p.a.gm, rgpa);
	set_desc(&table[0], rgpa, 2048, VHU_DESC_F_WRITE, 0);
	d = hdev_desc(&p.a, 0, RAW);
	set_desc(d, tgpa, 16, VHU_DESC_F_INDIRECT, 0);
	memset(&fl, 0, sizeof(fl));
	fl.field32 = &table[0].len;
	fl.a32 = 2048;
	fl.b32 = 0x7ffffff0;
	memset(rxbuf, 0xa5, 8192);
	TEST_RUN(flipper_start(&t, &fl));
	m[0] = mbuf_make(hpool(), frame, sizeof(frame), 0);
	TEST_ASSERT(m[0] != NULL, "mbuf");
	taken = dropped = 0;
	for (k = 0; k < RACE_ROUNDS; k++) {
		sched_yield();
		hdev_avail(&p.a, 0, RAW);
		if (vhu_enqueue_burst(p.a.vid, 0, m, 1) == 1)
			taken++;
		else
			dropped++;
		TEST_ASSERT_EQ(hdev_used(&p.a, 0, NULL, NULL, 4), 1, "the buffer came back");
	}
	fl.stop = 1;
	pthread_join(t, NULL);
	TEST_LOG("indirect race (RX): %" PRIu64 " filled, %" PRIu64 " refused", taken, dropped);
	rte_pktmbuf_free(m[0]);
	for (i = 2048; i < 8192; i++)
		TEST_ASSERT_EQ(rxbuf[i], 0xa5, "byte %u past the receive buffer", i);
	TEST_ASSERT(hpool_full(), "no mbuf lost");
	TEST_RUN(hdev_forwards(&p.a, 4));
	return pair_down(&p);
}

VHU_TEST(fast, cve_2026_indirect_length_toctou)
{
	return hlog_run(body_2026_indirect_toctou);
}

/* ------------------------------------------------------------------------ */
/* Found here: fds of the wrong kind. A ring's call, kick and error fds are  */
/* written by lcores: a pipe or a socket whose reader is gone raises SIGPIPE */
/* (the process dies), a blocking eventfd at its maximum blocks the lcore.   */
/* The state-transfer pipe is written by the control thread.                */

static int
body_fd_kinds(void)
{
	struct vhu_device_state_xfer x = { VHU_TRANSFER_SAVE, VHU_TRANSFER_PHASE_STOPPED };
	static const uint32_t reqs[] = {
		VHU_REQ_SET_VRING_CALL, VHU_REQ_SET_VRING_ERR, VHU_REQ_SET_VRING_KICK,
	};
	struct pair p;
	struct vhu_msg r;
	uint64_t v, ack;
	unsigned int i, kind;
	int pp[2], fd;

	TEST_RUN(pair_up(&p, 0));
	for (i = 0; i < RTE_DIM(reqs); i++) {
		for (kind = 0; kind < 3; kind++) {
			if (kind == 0) {
				/* a pipe's write end, nobody reading */
				TEST_ASSERT_EQ(pipe2(pp, O_CLOEXEC), 0, "pipe");
				close(pp[0]);
				fd = pp[1];
			} else if (kind == 1) {
				/* a socket whose peer is gone */
				TEST_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pp), 0,
					       "socketpair");
				close(pp[1]);
				fd = pp[0];
			} else {
				/* guest memory as a notification fd */
				fd = memfd_of(4096);
			}
			v = i & 1;   /* vring 0 or 1 */
			TEST_RUN(fatal(&p, reqs[i], &v, 8, &fd, 1, "not an eventfd"));
			close(fd);
			TEST_RUN(hdev_ready(&p.a, 0, QSIZE));
		}
	}
	/* a blocking eventfd one short of its maximum: the lcore must not block on it */
	fd = eventfd(0, EFD_CLOEXEC);
	TEST_ASSERT(fd >= 0 && eventfd_write(fd, 0xfffffffffffffffeull) == 0, "eventfd");
	v = 0;
	TEST_ASSERT_EQ(mock_fe_ack(&p.a.fe, VHU_REQ_SET_VRING_CALL, &v, 8, &fd, 1, &ack), 0, "call");
	TEST_ASSERT_EQ(ack, 0, "an eventfd is accepted");
	v = 1;
	TEST_ASSERT_EQ(mock_fe_ack(&p.a.fe, VHU_REQ_SET_VRING_ERR, &v, 8, &fd, 1, &ack), 0, "err");
	TEST_ASSERT_EQ(ack, 0, "an eventfd is accepted");
	TEST_RUN(hdev_forwards(&p.a, 8));
	/* a fault on vring 1 signals the full error eventfd: no block either */
	set_desc(hdev_desc(&p.a, 1, RAW), 0, 64, 0, 0);
	hdev_avail(&p.a, 1, RAW);
	TEST_ASSERT_EQ(a_dequeue(&p, NULL, 0), 0, "bad chain dropped");
	close(fd);

	/* the device's saved state written into a pipe nobody reads */
	TEST_RUN(hdev_reconnect(&p.a));
	TEST_RUN(a_negotiated(&p));
	TEST_ASSERT_EQ(pipe2(pp, O_CLOEXEC), 0, "pipe");
	close(pp[0]);
	TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_SET_DEVICE_STATE_FD, 0, &x, sizeof(x), &pp[1],
				    1), 0, "SET_DEVICE_STATE_FD");
	close(pp[1]);
	TEST_ASSERT_EQ(mock_fe_recv(&p.a.fe, &r), 0, "reply");
	vhu_msg_close_fds(&r);
	TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_CHECK_DEVICE_STATE, 0, NULL, 0, NULL, 0), 0,
		       "CHECK_DEVICE_STATE");
	TEST_ASSERT_EQ(mock_fe_recv(&p.a.fe, &r), 0, "reply");
	TEST_ASSERT(r.hdr.size == 8 && r.payload.u64 != 0, "the save is reported failed");
	TEST_ASSERT(hlog_has("device state save failed"), "logged");
	TEST_RUN(hdev_ready(&p.a, 0, QSIZE));
	TEST_RUN(hdev_forwards(&p.a, 4));
	return pair_down(&p);
}

VHU_TEST(fast, hostile_fd_kinds)
{
	return hlog_run(body_fd_kinds);
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
body_state_blob(void)
{
	static uint8_t blob[8192], mut[16384];
	size_t len = 0, mlen;
	unsigned int k, loaded = 0, refused = 0;
	struct pair p;
	uint64_t v;
	ssize_t n;
	int pp[2];

	TEST_RUN(pair_up(&p, 0));
	/* a real blob: saved from A with its rings stopped */
	memcpy(vhu_rec.save_blob, "app state", 9);
	vhu_rec.save_len = 9;
	TEST_RUN(hdev_reconnect(&p.a));
	TEST_RUN(a_negotiated(&p));
	TEST_ASSERT_EQ(pipe2(pp, O_CLOEXEC), 0, "pipe");
	TEST_RUN(state_fd(&p.a, VHU_TRANSFER_SAVE, pp[1], &v));
	close(pp[1]);
	while ((n = read(pp[0], blob + len, sizeof(blob) - len)) > 0)
		len += (size_t)n;
	close(pp[0]);
	TEST_ASSERT_EQ(mock_fe_get_u64(&p.a.fe, VHU_REQ_CHECK_DEVICE_STATE, &v), 0, "check");
	TEST_ASSERT(v == 0 && len > 48, "a state of %zu bytes saved", len);

	srand(20261114);
	for (k = 0; k < STATE_ROUNDS; k++) {
		unsigned int flips = 1 + (unsigned int)rand() % 4, f;

		memcpy(mut, blob, len);
		mlen = len;
		switch (k % 4) {
		case 0:   /* a length anywhere from nothing to twice as long */
			mlen = (size_t)rand() % (2 * len + 1);
			break;
		case 1:   /* header fields: counts, lengths, versions */
			for (f = 0; f < flips; f++)
				mut[(size_t)rand() % 48] = (uint8_t)rand();
			break;
		default:  /* anywhere */
			for (f = 0; f < flips; f++)
				mut[(size_t)rand() % mlen] = (uint8_t)rand();
			break;
		}
		if (mlen > 8 && k % 8 != 7) {
			uint64_t sum = fnv1a64(mut, mlen - 8);

			memcpy(mut + mlen - 8, &sum, 8);
		}
		TEST_ASSERT_EQ(pipe2(pp, O_CLOEXEC | O_NONBLOCK), 0, "pipe");
		TEST_RUN(state_fd(&p.a, VHU_TRANSFER_LOAD, pp[0], &v));
		close(pp[0]);
		TEST_ASSERT_EQ(write(pp[1], mut, mlen), (ssize_t)mlen, "blob %u", k);
		close(pp[1]);
		TEST_ASSERT_EQ(mock_fe_get_u64(&p.a.fe, VHU_REQ_CHECK_DEVICE_STATE, &v), 0,
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
	TEST_RUN(hdev_ready(&p.a, 0, QSIZE));
	TEST_RUN(hdev_forwards(&p.a, 4));
	return pair_down(&p);
}

VHU_TEST(fast, hostile_state_blob_mutations)
{
	return hlog_run(body_state_blob);
}

/* ------------------------------------------------------------------------ */
/* Found here: a packed ring's SET_VRING_BASE with the used half (QEMU sends */
/* avail | avail_wrap << 15 | used << 16 | used_wrap << 31) must not take the */
/* used wrap counter for part of the used index.                             */

static int
body_packed_base(void)
{
	static const uint32_t bases[] = { 0x80008000u, 0x80058005u, 0x00070007u, 0x8000u };
	struct mock_fe_opts o = { .ring_size = 64, .nvrings = 2 };
	struct vhu_vring_state st;
	struct pair p;
	struct vhu_vq *vq;
	unsigned int i;
	uint32_t got;

	memset(&p, 0, sizeof(p));
	vhu_rec_reset();
	TEST_ASSERT(hpool() != NULL, "mbuf pool");
	hmark_take(&p.mark);
	TEST_RUN(hdev_up(&p.b, 0));
	TEST_RUN(hdev_ready(&p.b, 0, QSIZE));
	TEST_RUN(hdev_up(&p.a, VHU_SOCK_PACKED));
	o.features_mask = F(VERSION_1) | F(RING_PACKED) | F(PROTOCOL_FEATURES);
	TEST_ASSERT_EQ(mock_fe_setup(&p.a.fe, &o), 0, "packed set-up");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 2, 2000), "packed device ready");
	for (i = 0; i < RTE_DIM(bases); i++) {
		/* stop, restart at the base a migrated QEMU would send */
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&p.a.fe, 0, &got), 0, "GET_VRING_BASE");
		st.index = 0;
		st.num = bases[i];
		TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_SET_VRING_BASE, 0, &st, 8, NULL, 0), 0,
			       "SET_VRING_BASE");
		{
			uint64_t v = 0;
			int kfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

			TEST_ASSERT_EQ(mock_fe_ack(&p.a.fe, VHU_REQ_SET_VRING_KICK, &v, 8, &kfd, 1, &v),
				       0, "SET_VRING_KICK");
			close(kfd);
			TEST_ASSERT_EQ(v, 0, "restarted");
		}
		vq = vhu_dev_table_get(p.a.vid)->vq[0];
		TEST_ASSERT_EQ(vq->last_avail_idx, bases[i] & 0x7fff, "avail index of %#x", bases[i]);
		TEST_ASSERT_EQ(vq->avail_wrap, (bases[i] >> 15) & 1, "avail wrap of %#x", bases[i]);
		TEST_ASSERT(vq->last_used_idx < vq->size, "used index %u of %#x inside a ring of %u",
			    vq->last_used_idx, bases[i], vq->size);
		TEST_ASSERT(!vq->broken, "ring running after base %#x", bases[i]);
		TEST_ASSERT_EQ(mock_fe_get_vring_base(&p.a.fe, 0, &got), 0, "GET_VRING_BASE");
		TEST_ASSERT_EQ(got, (bases[i] >> 16) ? bases[i] : bases[i] | (bases[i] << 16),
			       "the base read back");
		/* leave it running for the next round */
		TEST_ASSERT_EQ(mock_fe_send(&p.a.fe, VHU_REQ_SET_VRING_BASE, 0, &st, 8, NULL, 0), 0,
			       "");
		{
			uint64_t v = 0;
			int kfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

			TEST_ASSERT_EQ(mock_fe_ack(&p.a.fe, VHU_REQ_SET_VRING_KICK, &v, 8, &kfd, 1, &v),
				       0, "SET_VRING_KICK");
			close(kfd);
		}
	}
	return pair_down(&p);
}

VHU_TEST(fast, packed_vring_base_used_wrap)
{
	return hlog_run(body_packed_base);
}

/* ------------------------------------------------------------------------ */
/* Every input the fuzzers keep (seeds and crashes) as a regression test.   */

#ifndef VHU_TEST_SOURCE_DIR
#define VHU_TEST_SOURCE_DIR "."
#endif

static int
replay_dir(const char *target, int (*run)(const uint8_t *, size_t, const char **),
	   unsigned int *count)
{
	char dir[512], path[1024];
	struct dirent *e;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/app/fuzz/corpus/%s", VHU_TEST_SOURCE_DIR, target);
	dp = opendir(dir);
	TEST_ASSERT(dp != NULL, "no corpus in %s", dir);
	while ((e = readdir(dp)) != NULL) {
		static uint8_t buf[1 << 20];
		const char *why = NULL;
		ssize_t n;
		int fd, rc;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n < 0)
			continue;
		rc = run(buf, (size_t)n, &why);
		if (rc != 0) {
			closedir(dp);
			TEST_LOG("%s: %s", path, why != NULL ? why : "failed");
			return TEST_FAILED;
		}
		(*count)++;
	}
	closedir(dp);
	return TEST_SUCCESS;
}

VHU_TEST(fast, fuzz_corpus_replay)
{
	unsigned int n_msg = 0, n_split = 0, n_packed = 0;
	int rc;

	/* each run checks its own leaks; the ring harnesses keep their guest
	 * memory and pools from one run to the next */
	vhu_fuzz_quiet(1);
	rc = replay_dir("msg", vhu_fuzz_msg_run, &n_msg);
	if (rc == TEST_SUCCESS)
		rc = replay_dir("split", vhu_fuzz_split_run, &n_split);
	if (rc == TEST_SUCCESS)
		rc = replay_dir("packed", vhu_fuzz_packed_run, &n_packed);
	vhu_fuzz_quiet(0);
	TEST_RUN(rc);
	TEST_ASSERT(n_msg > 0 && n_split > 0 && n_packed > 0,
		    "inputs replayed: %u msg, %u split, %u packed", n_msg, n_split, n_packed);
	TEST_LOG("replayed %u msg, %u split and %u packed inputs", n_msg, n_split, n_packed);
	return TEST_SUCCESS;
}
