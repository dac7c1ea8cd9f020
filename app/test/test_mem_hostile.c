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
#include "vhu_dev_table.h"
#include "vhu_test.h"

#define F(b) VHU_BIT(VHU_F_##b)
#define PAGE UINT64_C(4096)
#define MIB  (UINT64_C(1) << 20)

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
				       &logfd, 1),
			0, "SET_LOG_BASE");
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
				"page %#" PRIx64 ": bit %u of byte %#" PRIx64
				" of the log (file offset %#" PRIx64 ")",
				want[i], (unsigned int)(want[i] % 8), byte, LOG_OFF + byte);
		TEST_ASSERT_EQ(file[2 * LOG_OFF + byte], 0,
				"page %#" PRIx64 ": nothing where the offset applied twice puts it",
				want[i]);
		TEST_ASSERT_EQ(file[byte], 0, "page %#" PRIx64 ": nothing where no offset puts it",
				want[i]);
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

/* ======================================================================== */
/* REM_MEM_REG under a live ring.                                            */

/*
 * Guest memory of 4 MiB in four regions: A holds vring 0 (RX), B vring 1
 * (TX), C the guest's buffers, D nothing the rings use.
 */
#define REG(i) ((uint64_t)(i)*MIB)

/* The lcore: forwards vring 1 to vring 0 until the device goes. */
static struct {
	int vid;
	int busy;
	int stop;
	uint64_t packets, bursts;
	pthread_t t;
} lc;

static volatile int m_destroyed;

static void *
lcore_main(void *arg)
{
	struct rte_mbuf *pkts[32], *probe;
	uint8_t fr[256];

	RTE_SET_USED(arg);
	/* with nothing to forward, a frame like the guest's keeps vring 0 in use */
	make_frame(fr, sizeof(fr), 5);
	probe = mbuf_make(hpool(), fr, sizeof(fr), 0);
	while (!__atomic_load_n(&lc.stop, __ATOMIC_ACQUIRE)) {
		uint16_t n;
		int vid;

		__atomic_store_n(&lc.busy, 1, __ATOMIC_SEQ_CST);
		vid = __atomic_load_n(&lc.vid, __ATOMIC_SEQ_CST);
		if (vid < 0) {
			__atomic_store_n(&lc.busy, 0, __ATOMIC_SEQ_CST);
			sched_yield();
			continue;
		}
		n = vhu_dequeue_burst(vid, 1, hpool(), pkts, RTE_DIM(pkts));
		if (n > 0)
			vhu_enqueue_burst(vid, 0, pkts, n);
		else if (probe != NULL)
			vhu_enqueue_burst(vid, 0, &probe, 1);
		__atomic_store_n(&lc.busy, 0, __ATOMIC_SEQ_CST);
		rte_pktmbuf_free_bulk(pkts, n);
		lc.packets += n;
		lc.bursts++;
		if (n == 0)
			sched_yield();
	}
	rte_pktmbuf_free(probe);
	return NULL;
}

static int
m_new_device(int vid)
{
	int rc = vhu_rec_ops.new_device(vid);

	__atomic_store_n(&lc.vid, vid, __ATOMIC_SEQ_CST);
	return rc;
}

/* The application's part: the lcore is out of the device when this returns. */
static void
m_destroy_device(int vid)
{
	uint64_t spins = 0;

	__atomic_store_n(&lc.vid, -1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&lc.busy, __ATOMIC_SEQ_CST) && spins++ < 100000000)
		sched_yield();
	__atomic_add_fetch(&m_destroyed, 1, __ATOMIC_SEQ_CST);
	vhu_rec_ops.destroy_device(vid);
}

static struct vhu_ops m_ops;

/* The guest: keeps frames going out on vring 1 and buffers posted on vring 0. */
static struct {
	struct hdev *d;
	int stop;
	uint64_t tx, rx, bad;
	pthread_t t;
} gu;

static void *
guest_main(void *arg)
{
	static uint8_t fr[256], got[2048];
	struct hdev *d = gu.d;
	struct vhu_net_hdr h;

	RTE_SET_USED(arg);
	make_frame(fr, sizeof(fr), 5);
	while (!__atomic_load_n(&gu.stop, __ATOMIC_ACQUIRE)) {
		int len;

		hdev_used(d, 1, NULL, NULL, UINT32_MAX);
		while (d->g[1].nfree > 0 && d->g[0].nfree > 0 &&
				d->g[1].avail_idx - d->g[1].used_idx < 64) {
			if (hdev_rx_post(d, 2048) < 0 || hdev_tx(d, fr, sizeof(fr), NULL) < 0)
				break;
			gu.tx++;
		}
		while ((len = hdev_rx_recv(d, got, sizeof(got), &h)) != 0) {
			if (len != (int)sizeof(fr) || memcmp(got, fr, sizeof(fr)) != 0)
				gu.bad++;
			gu.rx++;
		}
		usleep(50);
	}
	return NULL;
}

static int
wait_rx(uint64_t more, int ms)
{
	uint64_t target = __atomic_load_n(&gu.rx, __ATOMIC_RELAXED) + more;
	int waited;

	for (waited = 0; waited < ms && __atomic_load_n(&gu.rx, __ATOMIC_RELAXED) < target;
			waited++)
		vhu_test_sleep_ms(1);
	TEST_ASSERT(__atomic_load_n(&gu.rx, __ATOMIC_RELAXED) >= target,
			"%" PRIu64 " more frames through the device", more);
	return TEST_SUCCESS;
}

/* The back-end's mapping of the region at gpa: its address and length. */
static int
region_map(int vid, uint64_t gpa, void **addr, size_t *len)
{
	struct vhu_dev *dev = vhu_dev_table_get(vid);
	uint32_t i;

	TEST_ASSERT(dev != NULL && dev->mem != NULL, "device memory");
	for (i = 0; i < dev->mem->nregions; i++) {
		const struct vhu_mem_region *r = dev->mem->regions[i];

		if (r->gpa == gpa) {
			*addr = r->map_addr;
			*len = r->map_len;
			return TEST_SUCCESS;
		}
	}
	TEST_ASSERT(false, "no region at %#" PRIx64, gpa);
	return TEST_FAILED;
}

/* Is any part of [addr, addr + len) still mapped from the file with inode ino? */
static bool
still_mapped(const void *addr, size_t len, ino_t ino)
{
	uintptr_t a = (uintptr_t)addr, e = a + len;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;

	if (f == NULL)
		return true;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi, off, inode;
		char perm[8], dev[16];

		if (sscanf(line, "%lx-%lx %7s %lx %15s %lu", &lo, &hi, perm, &off, dev, &inode) !=
				6)
			continue;
		if ((ino_t)inode == ino && lo < e && hi > a)
			found = true;
	}
	fclose(f);
	return found;
}

static int
body_rem_live(void)
{
	uint64_t mask = F(VERSION_1) | F(PROTOCOL_FEATURES) | F(RING_INDIRECT_DESC);
	struct vhu_mem_single ms;
	struct hmark mark;
	struct hdev d, b;
	struct stat st;
	size_t len;
	void *map;
	int i;

	vhu_rec_reset();
	m_destroyed = 0;
	memset(&lc, 0, sizeof(lc));
	memset(&gu, 0, sizeof(gu));
	lc.vid = -1;
	TEST_ASSERT(hpool() != NULL, "pool");
	hmark_take(&mark);
	/* a bystander on its own socket */
	TEST_RUN(hdev_up(&b, 0));
	TEST_RUN(hdev_ready(&b, 0, 256));

	m_ops = vhu_rec_ops;
	m_ops.new_device = m_new_device;
	m_ops.destroy_device = m_destroy_device;
	TEST_RUN(hdev_register(&d, 0, &m_ops));
	TEST_RUN(hdev_reconnect(&d));
	TEST_ASSERT_EQ(mock_fe_negotiate(&d.fe, mask, 0), 0, "negotiate");
	TEST_ASSERT(d.fe.protocol_features & VHU_BIT(VHU_PF_CONFIGURE_MEM_SLOTS), "memory slots");
	memset(&ms, 0, sizeof(ms));
	for (i = 0; i < 4; i++) {
		ms.region.guest_phys_addr = MOCK_FE_GPA_BASE + REG(i);
		ms.region.memory_size = MIB;
		ms.region.userspace_addr = (uint64_t)(uintptr_t)d.fe.mem + REG(i);
		ms.region.mmap_offset = REG(i);
		TEST_RUN(ack(&d.fe, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &d.fe.memfd, 1));
	}
	for (i = 0; i < 2; i++) {
		d.fe.alloc = REG(i); /* vring i in region i */
		TEST_ASSERT_EQ(mock_fe_setup_vring(&d.fe, (uint16_t)i, 256), 0, "vring %d", i);
		TEST_ASSERT_EQ(mock_fe_vring_enable(&d.fe, (uint16_t)i, 1), 0, "enable %d", i);
	}
	if (d.fe.protocol_features & VHU_BIT(VHU_PF_STATUS))
		TEST_ASSERT_EQ(mock_fe_set_status(&d.fe,
					       VHU_STATUS_ACKNOWLEDGE | VHU_STATUS_DRIVER |
							       VHU_STATUS_FEATURES_OK |
							       VHU_STATUS_DRIVER_OK),
				0, "status");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, 2, 2000), "device ready");
	TEST_RUN(hdev_attach_rings(&d));
	/* the guest's buffers in C only: the data view starts at 1 MiB */
	d.gm.r[0].size = 2 * MIB;
	d.gm.r[0].data_start = d.gm.r[0].brk = MIB;
	TEST_ASSERT(fstat(d.fe.memfd, &st) == 0, "fstat");

	gu.d = &d;
	TEST_ASSERT_EQ(pthread_create(&lc.t, NULL, lcore_main, NULL), 0, "lcore thread");
	TEST_ASSERT_EQ(pthread_create(&gu.t, NULL, guest_main, NULL), 0, "guest thread");
	TEST_RUN(wait_rx(200, 10000));

	/* D: no ring in it; it goes, the traffic does not stop */
	TEST_RUN(region_map(d.vid, MOCK_FE_GPA_BASE + REG(3), &map, &len));
	TEST_ASSERT(still_mapped(map, len, st.st_ino), "D mapped before");
	ms.region.guest_phys_addr = MOCK_FE_GPA_BASE + REG(3);
	ms.region.userspace_addr = (uint64_t)(uintptr_t)d.fe.mem + REG(3);
	ms.region.mmap_offset = REG(3);
	TEST_RUN(ack(&d.fe, VHU_REQ_REM_MEM_REG, &ms, sizeof(ms), NULL, 0));
	TEST_ASSERT(!still_mapped(map, len, st.st_ino), "D unmapped");
	TEST_RUN(wait_rx(200, 10000));
	TEST_ASSERT(mock_fe_alive(&d.fe), "connection kept");
	TEST_ASSERT_EQ(m_destroyed, 0, "device kept");

	/* A: vring 0 lives there; the lcore is inside it while it goes */
	TEST_RUN(region_map(d.vid, MOCK_FE_GPA_BASE + REG(0), &map, &len));
	ms.region.guest_phys_addr = MOCK_FE_GPA_BASE + REG(0);
	ms.region.userspace_addr = (uint64_t)(uintptr_t)d.fe.mem + REG(0);
	ms.region.mmap_offset = REG(0);
	TEST_ASSERT_EQ(mock_fe_send(&d.fe, VHU_REQ_REM_MEM_REG, 0, &ms, sizeof(ms), NULL, 0), 0,
			"REM_MEM_REG of A");
	TEST_ASSERT(hdev_closed(&d), "a started ring without memory ends the connection");
	TEST_ASSERT(hlog_has("a started ring is no longer in guest memory"), "and says why");
	TEST_ASSERT(vhu_test_wait(&m_destroyed, 1, 2000), "destroy_device");
	TEST_ASSERT(!still_mapped(map, len, st.st_ino), "A unmapped");
	TEST_ASSERT(lc.bursts > 0 && lc.packets > 0, "the lcore was bursting");
	__atomic_store_n(&gu.stop, 1, __ATOMIC_RELEASE);
	pthread_join(gu.t, NULL);
	__atomic_store_n(&lc.stop, 1, __ATOMIC_RELEASE);
	pthread_join(lc.t, NULL);
	TEST_ASSERT_EQ(gu.bad, 0, "frames intact");
	TEST_LOG("lcore: %" PRIu64 " bursts, %" PRIu64 " frames; guest: %" PRIu64 " sent, %" PRIu64
		 " received",
			lc.bursts, lc.packets, gu.tx, gu.rx);
	TEST_RUN(hdev_forwards(&b, 16));
	hdev_down(&d);
	hdev_down(&b);
	TEST_ASSERT(hpool_full(), "mbufs lost");
	return hmark_check(&mark);
}

VHU_TEST(fast, rem_mem_reg_live_ring)
{
	return hlog_run(body_rem_live);
}
