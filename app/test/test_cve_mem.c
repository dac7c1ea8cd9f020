/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Attack classes on guest memory, the dirty log and inflight areas, one
 * test per class DPDK's vhost library had a CVE for, plus the 2026 ones:
 * translation across region boundaries, log base overflows, region sizes
 * not checked before mmap, inflight areas out of bounds or out of step
 * with the queue size.
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
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "hostile.h"
#include "vhu.h"
#include "vhu_dev.h"
#include "vhu_test.h"

#define F(b)  VHU_BIT(VHU_F_##b)
#define QSIZE PAIR_QSIZE
/* slots the tests write raw descriptors into (the guest driver uses the low ones) */
#define RAW   128

/* ------------------------------------------------------------------------ */
/* CVE-2018-1059: a guest address translated across a region boundary.      */

#define R1_SIZE (1ull << 20)

static int
body_2018_1059(struct pair *p)
{
	struct vhu_mem_table t;
	uint8_t frame[256], *r1, *r0end;
	uint64_t gpa_r1, n;
	struct rte_mbuf *m[4] = { NULL };
	struct vhu_vring_desc *d;
	int fd1;
	uint16_t e0;

	/* A: two regions adjacent in guest-physical space, apart in ours */
	vhu_rec_reset();
	TEST_ASSERT(hpool() != NULL, "mbuf pool");
	hmark_take(&p->mark);
	TEST_RUN(hdev_up(&p->b, 0));
	TEST_RUN(hdev_ready(&p->b, 0, QSIZE));
	TEST_RUN(hdev_up(&p->a, 0));
	TEST_RUN(pair_negotiated(p));
	fd1 = hmemfd(R1_SIZE);
	TEST_ASSERT(fd1 >= 0, "memfd");
	r1 = mmap(NULL, R1_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd1, 0);
	TEST_ASSERT(r1 != MAP_FAILED, "mmap");
	gpa_r1 = MOCK_FE_GPA_BASE + p->a.fe.mem_size;
	memset(&t, 0, sizeof(t));
	t.nregions = 2;
	t.regions[0] = mock_fe_region(&p->a.fe);
	t.regions[1].guest_phys_addr = gpa_r1;
	t.regions[1].memory_size = R1_SIZE;
	t.regions[1].userspace_addr = (uint64_t)(uintptr_t)r1;
	{
		int fds[2] = { p->a.fe.memfd, fd1 };
		uint64_t ack = 1;

		TEST_ASSERT_EQ(mock_fe_ack(&p->a.fe, VHU_REQ_SET_MEM_TABLE, &t, 8 + 2 * 32, fds, 2,
					       &ack),
				0, "SET_MEM_TABLE");
		TEST_ASSERT_EQ(ack, 0, "two adjacent regions accepted");
	}
	TEST_ASSERT_EQ(mock_fe_setup_vring(&p->a.fe, 0, QSIZE), 0, "vring 0");
	TEST_ASSERT_EQ(mock_fe_setup_vring(&p->a.fe, 1, QSIZE), 0, "vring 1");
	TEST_ASSERT_EQ(mock_fe_vring_enable(&p->a.fe, 0, 1), 0, "enable 0");
	TEST_ASSERT_EQ(mock_fe_vring_enable(&p->a.fe, 1, 1), 0, "enable 1");
	TEST_ASSERT_EQ(mock_fe_set_status(&p->a.fe, 0xf), 0, "DRIVER_OK");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 2, 2000), "A ready");
	TEST_RUN(hdev_attach_rings(&p->a));

	/* a frame whose buffer starts 100 bytes before region 0 ends and goes on in region 1 */
	make_frame(frame, 200, 7);
	r0end = p->a.fe.mem + p->a.fe.mem_size;
	memset(r0end - 100, 0, 12);
	memcpy(r0end - 88, frame, 88);
	memcpy(r1, frame + 88, 112);
	d = hdev_desc(&p->a, 1, RAW);
	hdesc(d, gpa_r1 - 100, 212, 0, 0);
	hdev_avail(&p->a, 1, RAW);
	TEST_ASSERT_EQ(pair_dequeue(p, m, 1), 1, "the frame across the boundary");
	TEST_ASSERT_EQ(mbuf_cmp(m[0], frame, 200), 0, "its bytes, from both mappings");
	rte_pktmbuf_free(m[0]);

	/* a buffer running past the end of region 1 into unmapped guest memory */
	e0 = hring_errors(p->a.vid, 1);
	hdesc(d, gpa_r1 + R1_SIZE - 100, 4096, 0, 0);
	hdev_avail(&p->a, 1, RAW);
	TEST_ASSERT_EQ(pair_dequeue(p, m, 0), 0, "dropped");
	TEST_ASSERT_EQ(hring_errors(p->a.vid, 1), e0 + 1, "counted as a guest fault");
	TEST_ASSERT(hlog_has("buffer outside guest memory"), "logged");
	/* a length that wraps the guest-physical address space */
	hdesc(d, UINT64_MAX - 64, 4096, 0, 0);
	hdev_avail(&p->a, 1, RAW);
	TEST_ASSERT_EQ(pair_dequeue(p, m, 0), 0, "wrapping buffer dropped");
	TEST_ASSERT_EQ(hring_errors(p->a.vid, 1), e0 + 2, "counted");
	/* an indirect table that straddles the boundary */
	hdesc(d, gpa_r1 - 16, 32, VHU_DESC_F_INDIRECT, 0);
	hdev_avail(&p->a, 1, RAW);
	TEST_ASSERT_EQ(pair_dequeue(p, m, 0), 0, "indirect table across regions dropped");
	TEST_ASSERT_EQ(hring_errors(p->a.vid, 1), e0 + 3, "counted");
	/* the heads came back to the guest */
	n = hdev_used(&p->a, 1, NULL, NULL, 64);
	TEST_ASSERT_EQ(n, 4, "every head returned");

	/* A still works after the faults */
	TEST_RUN(hdev_forwards(&p->a, 4));

	/* ring addresses that straddle the boundary: the connection goes */
	{
		struct vhu_vring_addr a;

		memset(&a, 0, sizeof(a));
		a.index = 1;
		/* 256 descriptors are 4 KiB: the second half lies in region 1 */
		a.desc_user_addr = (uint64_t)(uintptr_t)(r0end - 2048);
		a.avail_user_addr = (uint64_t)(uintptr_t)(r0end - 8192);
		a.used_user_addr = (uint64_t)(uintptr_t)(r0end - 12288);
		TEST_RUN(pair_fatal(p, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0,
				"ring addresses are not in guest memory"));
	}
	munmap(r1, R1_SIZE);
	close(fd1);
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2018_1059_gpa_region_boundary, pair, p)
{
	return body_2018_1059(p);
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
body_2020_10722(struct pair *p)
{
	/* 1 GiB + 4 MiB of guest memory: 34 KiB of bitmap from the mock's base */
	const uint64_t log_size = (MOCK_FE_GPA_BASE + HDEV_MEM) / VHU_LOG_PAGE / 8;
	const uint64_t canary_off = 8192 + log_size;
	struct vhu_log_desc l;
	uint64_t reply, f, i;
	uint8_t *map;
	int fd, small;

	TEST_RUN(pair_up(p, 0));
	fd = hmemfd(canary_off + 4096);
	small = hmemfd(4096);
	TEST_ASSERT(fd >= 0 && small >= 0, "memfds");

	/* offset + size wraps: refused by the payload check */
	l.mmap_size = 8192;
	l.mmap_offset = UINT64_MAX - 4095;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_LOG_BASE, &l, sizeof(l), &fd, 1,
			"bad dirty log size or offset"));
	/* offset + size beyond INT64_MAX (a negative off_t) */
	TEST_RUN(pair_negotiated(p));
	l.mmap_size = 4096;
	l.mmap_offset = (uint64_t)INT64_MAX;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_LOG_BASE, &l, sizeof(l), &fd, 1,
			"bad dirty log size or offset"));
	/* a bitmap for far more memory than any guest: refused before mapping */
	TEST_RUN(pair_negotiated(p));
	l.mmap_size = 1ull << 40;
	l.mmap_offset = 0;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_LOG_BASE, &l, sizeof(l), &fd, 1, "is too large"));
	/* a size the fd does not have */
	TEST_RUN(pair_negotiated(p));
	l.mmap_size = 1 << 20;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_LOG_BASE, &l, sizeof(l), &small, 1,
			"memory fd smaller than offset + size"));
	/* a used-ring log address that wraps */
	TEST_RUN(pair_negotiated(p));
	{
		struct vhu_vring_addr a;

		memset(&a, 0, sizeof(a));
		a.index = 0;
		a.flags = 1u << VHU_VRING_F_LOG;
		a.desc_user_addr = 0x10000;
		a.avail_user_addr = 0x20000;
		a.used_user_addr = 0x30000;
		a.log_guest_addr = UINT64_MAX - 4; /* + a 14-byte used ring wraps */
		TEST_RUN(pair_fatal(p, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0,
				"used ring log address wraps"));
	}

	/*
	 * A good log at offset 8 KiB of a memfd, canary after it. A first log
	 * only half as large as the guest needs: no dirty bit may land past it.
	 */
	TEST_RUN(hdev_ready(&p->a, 0, QSIZE));
	map = mmap(NULL, canary_off + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(map != MAP_FAILED, "mmap log");
	memset(map, 0xa5, canary_off + 4096);
	memset(map + 8192, 0, log_size);
	TEST_RUN(log_base(p, log_size / 2, 8192, fd, &reply));
	TEST_ASSERT_EQ(reply, 0, "half-size log accepted");
	f = p->a.fe.features | F(LOG_ALL);
	TEST_ASSERT_EQ(mock_fe_send(&p->a.fe, VHU_REQ_SET_FEATURES, 0, &f, 8, NULL, 0), 0,
			"LOG_ALL");
	TEST_RUN(hdev_forwards(&p->a, 8));
	for (i = 8192 + log_size / 2; i < canary_off + 4096; i++)
		TEST_ASSERT_EQ(map[i], i < 8192 + log_size ? 0 : 0xa5,
				"byte %" PRIu64 " past a half-size log", i);
	/* the full-size log: bits land, the canary after it stays */
	TEST_RUN(log_base(p, log_size, 8192, fd, &reply));
	TEST_ASSERT_EQ(reply, 0, "log accepted");
	TEST_RUN(hdev_forwards(&p->a, 8));
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
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2020_10722_log_base_overflow, pair, p)
{
	return body_2020_10722(p);
}

/* ------------------------------------------------------------------------ */
/* 2026: a region's size not checked against its fd before mmap.           */

static int
body_2026_region_size(struct pair *p)
{
	struct vhu_mem_table t;
	struct vhu_mem_single ms;
	struct hmark before;
	int small, efd;

	TEST_RUN(pair_up(p, 0));
	small = hmemfd(1 << 20);
	efd = eventfd(0, EFD_CLOEXEC);
	TEST_ASSERT(small >= 0 && efd >= 0, "fds");
	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0].guest_phys_addr = 0;
	t.regions[0].userspace_addr = 0x7f0000000000ull;
	/* 16 MiB announced on a 1 MiB memfd */
	TEST_RUN(pair_negotiated(p));
	t.regions[0].memory_size = 16 << 20;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_MEM_TABLE, &t, 40, &small, 1,
			"memory fd smaller than offset + size"));
	/* from here on, each refusal must leave a fresh connection like this one */
	hmark_take(&before);
	/* an offset past the end of the file */
	TEST_RUN(pair_negotiated(p));
	t.regions[0].memory_size = 4096;
	t.regions[0].mmap_offset = 2 << 20;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_MEM_TABLE, &t, 40, &small, 1,
			"memory fd smaller than offset + size"));
	/* offset + size past any file size */
	TEST_RUN(pair_negotiated(p));
	t.regions[0].mmap_offset = (uint64_t)INT64_MAX - 100;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_MEM_TABLE, &t, 40, &small, 1,
			"memory region offset beyond any file"));
	/* an fd that is no memory at all */
	TEST_RUN(pair_negotiated(p));
	t.regions[0].mmap_offset = 0;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_MEM_TABLE, &t, 40, &efd, 1,
			"memory fd is not a regular file"));
	/* a device, whose size nobody can check: /dev/zero mapped from far past
	 * its (empty) end maps fine and faults with SIGBUS on the first access */
	TEST_RUN(pair_negotiated(p));
	{
		int zfd = open("/dev/zero", O_RDWR | O_CLOEXEC);

		TEST_ASSERT(zfd >= 0, "/dev/zero");
		t.regions[0].mmap_offset = 0x4d4d4d0000000000ull;
		t.regions[0].memory_size = 1 << 20;
		TEST_RUN(pair_fatal(p, VHU_REQ_SET_MEM_TABLE, &t, 40, &zfd, 1,
				"memory fd is not a regular file"));
		close(zfd);
		t.regions[0].mmap_offset = 0;
		t.regions[0].memory_size = 4096;
	}
	/* the same through ADD_MEM_REG, after a good table */
	TEST_RUN(pair_negotiated(p));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&p->a.fe), 0, "good table");
	memset(&ms, 0, sizeof(ms));
	ms.region.guest_phys_addr = 1ull << 40;
	ms.region.userspace_addr = 0x7e0000000000ull;
	ms.region.memory_size = 2 << 20;
	TEST_RUN(pair_fatal(p, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &small, 1,
			"ADD_MEM_REG: memory fd smaller than offset + size"));
	/* nothing stayed mapped */
	TEST_RUN(hmark_check(&before));
	close(small);
	close(efd);
	TEST_RUN(hdev_ready(&p->a, 0, QSIZE));
	TEST_RUN(hdev_forwards(&p->a, 4));
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2026_region_size_before_mmap, pair, p)
{
	return body_2026_region_size(p);
}

/* ------------------------------------------------------------------------ */
/* CVE-2021-3839: out-of-bounds access through the inflight fd message.     */

static int
body_2021_3839(struct pair *p)
{
	struct vhu_inflight_desc in;
	uint64_t qsz = vhu_inflight_queue_size(64);
	uint8_t *map;
	int fd, two[2];

	TEST_RUN(pair_up(p, 0));
	fd = hmemfd(8 * qsz);
	TEST_ASSERT(fd >= 0, "memfd");
	memset(&in, 0, sizeof(in));
	in.mmap_size = 2 * qsz;
	in.queue_size = 64;
	/* more queues than the device has: an index beyond every table */
	TEST_RUN(pair_negotiated(p));
	in.num_queues = 0xffff;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1,
			"queue count out of range"));
	TEST_RUN(pair_negotiated(p));
	in.num_queues = 3;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1,
			"queue count out of range"));
	/* no fd, two fds */
	TEST_RUN(pair_negotiated(p));
	in.num_queues = 2;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), NULL, 0, "carries 0 fds"));
	TEST_RUN(pair_negotiated(p));
	two[0] = fd;
	two[1] = fd;
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), two, 2, "carries 2 fds"));
	/* a queue region whose header says another ring size */
	map = mmap(NULL, 8 * qsz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(map != MAP_FAILED, "mmap");
	memset(map, 0, 8 * qsz);
	*(uint16_t *)(map + qsz + 8) = 1;      /* version */
	*(uint16_t *)(map + qsz + 10) = 32768; /* desc_num */
	TEST_RUN(pair_negotiated(p));
	TEST_RUN(pair_fatal(p, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1,
			"is not a version-1 area"));
	/* a good one is accepted and the device still works */
	*(uint16_t *)(map + qsz + 10) = 64;
	TEST_RUN(pair_negotiated(p));
	{
		uint64_t ack = 1;

		TEST_ASSERT_EQ(mock_fe_ack(&p->a.fe, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd,
					       1, &ack),
				0, "SET_INFLIGHT_FD");
		TEST_ASSERT_EQ(ack, 0, "a consistent area accepted");
	}
	munmap(map, 8 * qsz);
	close(fd);
	TEST_RUN(hdev_ready(&p->a, 0, 64));
	TEST_RUN(hdev_forwards(&p->a, 4));
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2021_3839_inflight_fd_out_of_bounds, pair, p)
{
	return body_2021_3839(p);
}

/* ------------------------------------------------------------------------ */
/* 2026: a queue size out of step with the inflight table.                  */

static int
body_2026_inflight_qsize(struct pair *p)
{
	struct vhu_inflight_desc in;
	uint64_t qsz = vhu_inflight_queue_size(64), area = 2 * qsz, ack = 1, i;
	struct mock_fe_opts o = { .ring_size = QSIZE, .nvrings = 2 };
	uint8_t *map;
	int fd, before;

	TEST_RUN(pair_up(p, 0));
	/* an area for two queues of 64 entries, then a canary page */
	fd = hmemfd(area + 4096);
	TEST_ASSERT(fd >= 0, "memfd");
	map = mmap(NULL, area + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(map != MAP_FAILED, "mmap");
	memset(map, 0, area);
	memset(map + area, 0x5c, 4096);
	TEST_RUN(hdev_reconnect(&p->a));
	TEST_RUN(pair_negotiated(p));
	memset(&in, 0, sizeof(in));
	in.mmap_size = area;
	in.num_queues = 2;
	in.queue_size = 64;
	TEST_ASSERT_EQ(mock_fe_ack(&p->a.fe, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1,
				       &ack),
			0, "SET_INFLIGHT_FD");
	TEST_ASSERT_EQ(ack, 0, "accepted");
	/* rings of 256 entries: four times what the inflight table describes */
	before = vhu_rec.new_dev;
	if (mock_fe_setup(&p->a.fe, &o) == 0 && vhu_test_wait(&vhu_rec.new_dev, before + 1, 2000)) {
		/* accepted: traffic over the whole ring must leave the area alone */
		TEST_RUN(hdev_attach_rings(&p->a));
		for (i = 0; i < 6; i++)
			TEST_RUN(hdev_forwards(&p->a, 60));
	} else {
		/* refused: cleanly, with the reason logged */
		TEST_ASSERT(hdev_closed(&p->a), "refused but not closed");
		TEST_ASSERT(hlog_has("inflight"), "refusal logged");
	}
	for (i = 0; i < 4096; i++)
		TEST_ASSERT_EQ(map[area + i], 0x5c, "byte %" PRIu64 " past the inflight area", i);
	munmap(map, area + 4096);
	close(fd);
	return pair_down(p);
}

VHU_TEST_F(fast, cve_2026_queue_size_vs_inflight, pair, p)
{
	return body_2026_inflight_qsize(p);
}
