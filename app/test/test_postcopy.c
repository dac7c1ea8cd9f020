/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Postcopy live migration through the mock front-end (fast suite), playing
 * QEMU's part: POSTCOPY_ADVISE hands over a userfaultfd, POSTCOPY_LISTEN,
 * memory mapped while listening is registered and answered with our
 * addresses, the front-end acknowledges, and a page the destination has
 * not received stalls the lcore that touches it until the front-end wakes
 * it, while another lcore keeps moving frames. Then every hostile order and
 * payload. Also the test-only fault switch VHU_TEST_FAULT=drop-dirty-bit.
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "hostile.h"
#include "vhu.h"
#include "vhu_dev_table.h"
#include "vhu_mem.h"
#include "vhu_obj.h"
#include "vhu_postcopy.h"
#include "vhu_test.h"

#define PAGE     4096ull
#define STALL_MS 25 /* how long the "source" takes to deliver the missing page */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The host cannot serve postcopy: the test is skipped with the library's reason. */
static bool
no_postcopy(void)
{
	const char *why = NULL;

	if (vhu_postcopy_probe(&why) == 0)
		return false;
	TEST_LOG("skipped: %s", why);
	return true;
}

static bool
is_uffd(int fd)
{
	char link[64], target[128];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return strstr(target, "userfaultfd") != NULL;
}

/* A device on a postcopy socket, the mock connected and negotiated (pmask as mock_fe_negotiate). */
static int
pc_up(struct hdev *d, uint64_t pmask)
{
	TEST_RUN(hdev_up(d, VHU_SOCK_POSTCOPY));
	TEST_ASSERT_EQ(mock_fe_negotiate(&d->fe, 0, pmask), 0, "negotiate");
	return TEST_SUCCESS;
}

/* A fresh connection after the back-end closed the last one. */
static int
pc_again(struct hdev *d, uint64_t pmask)
{
	TEST_RUN(hdev_reconnect(d));
	TEST_ASSERT_EQ(mock_fe_negotiate(&d->fe, 0, pmask), 0, "negotiate");
	return TEST_SUCCESS;
}

/* POSTCOPY_ADVISE answered with a userfaultfd and nothing else. */
static int
advise(struct hdev *d, int *ufd)
{
	struct vhu_msg r;

	TEST_ASSERT_EQ(mock_fe_send(&d->fe, VHU_REQ_POSTCOPY_ADVISE, 0, NULL, 0, NULL, 0), 0,
			"send");
	TEST_ASSERT_EQ(mock_fe_recv(&d->fe, &r), 0, "ADVISE reply");
	TEST_ASSERT_EQ(r.hdr.request, VHU_REQ_POSTCOPY_ADVISE, "reply request");
	TEST_ASSERT_EQ(r.hdr.flags, VHU_FLAG_VERSION | VHU_FLAG_REPLY, "reply flags");
	TEST_ASSERT_EQ(r.hdr.size, 0, "the reply has no payload");
	TEST_ASSERT_EQ(r.nfds, 1, "the reply carries one fd");
	if (!is_uffd(r.fds[0])) {
		vhu_msg_close_fds(&r);
		TEST_LOG("the fd of the ADVISE reply is not a userfaultfd");
		return TEST_FAILED;
	}
	*ufd = r.fds[0];
	return TEST_SUCCESS;
}

/* POSTCOPY_ADVISE refused: a u64 error and no fd; the connection stays. */
static int
advise_refused(struct hdev *d)
{
	struct vhu_msg r;

	TEST_ASSERT_EQ(mock_fe_send(&d->fe, VHU_REQ_POSTCOPY_ADVISE, 0, NULL, 0, NULL, 0), 0,
			"send");
	TEST_ASSERT_EQ(mock_fe_recv(&d->fe, &r), 0, "ADVISE reply");
	TEST_ASSERT_EQ(r.nfds, 0, "no userfaultfd when refused");
	vhu_msg_close_fds(&r);
	TEST_ASSERT_EQ(r.hdr.size, sizeof(uint64_t), "an error value");
	TEST_ASSERT(r.payload.u64 != 0, "ADVISE refused");
	TEST_ASSERT(mock_fe_alive(&d->fe), "connection kept");
	return TEST_SUCCESS;
}

static int
ack_is(struct hdev *d, uint32_t req, uint64_t expect)
{
	uint64_t ack = 99;

	TEST_ASSERT_EQ(mock_fe_ack(&d->fe, req, NULL, 0, NULL, 0, &ack), 0, "%s: no ack",
			vhu_req_name(req));
	TEST_ASSERT_EQ(ack, expect, "%s ack", vhu_req_name(req));
	return TEST_SUCCESS;
}

static int
end_is(struct hdev *d, bool ok)
{
	uint64_t v = 99;

	TEST_ASSERT_EQ(mock_fe_get_u64(&d->fe, VHU_REQ_POSTCOPY_END, &v), 0, "END reply");
	TEST_ASSERT(ok ? v == 0 : v != 0, "POSTCOPY_END answered %" PRIu64, v);
	return TEST_SUCCESS;
}

/* The request (size bytes of zeros, nfds copies of an eventfd) closes the connection. */
static int
fatal_is(struct hdev *d, uint32_t req, uint32_t size, unsigned int nfds)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	TEST_ASSERT(fd >= 0, "eventfd");
	TEST_ASSERT_EQ(mock_fe_send(&d->fe, req, 0, NULL, size, &fd, nfds), 0, "send");
	close(fd);
	TEST_ASSERT(hdev_closed(d), "%s with %u bytes and %u fds was not fatal", vhu_req_name(req),
			size, nfds);
	return TEST_SUCCESS;
}

/*
 * SET_MEM_TABLE while listening, as QEMU sends it (no NEED_REPLY): the reply
 * has the request's size and gives our address of the region.
 */
static int
pc_mem_table(struct hdev *d, uint64_t *base)
{
	struct vhu_mem_table t;
	struct vhu_dev *dev;
	struct vhu_msg r;
	uint32_t size = 8 + sizeof(t.regions[0]);

	memset(&t, 0, sizeof(t));
	t.nregions = 1;
	t.regions[0] = mock_fe_region(&d->fe);
	TEST_ASSERT_EQ(mock_fe_send(&d->fe, VHU_REQ_SET_MEM_TABLE, 0, &t, size, &d->fe.memfd, 1), 0,
			"send");
	TEST_ASSERT_EQ(mock_fe_recv(&d->fe, &r), 0, "SET_MEM_TABLE reply while listening");
	vhu_msg_close_fds(&r);
	TEST_ASSERT_EQ(r.hdr.request, VHU_REQ_SET_MEM_TABLE, "reply request");
	TEST_ASSERT_EQ(r.hdr.size, size, "the reply has the request's size");
	TEST_ASSERT_EQ(r.payload.mem.nregions, 1, "one region");
	TEST_ASSERT_EQ(r.payload.mem.regions[0].guest_phys_addr, t.regions[0].guest_phys_addr,
			"gpa");
	TEST_ASSERT_EQ(r.payload.mem.regions[0].memory_size, t.regions[0].memory_size, "size");
	dev = vhu_dev_table_get(d->vid);
	TEST_ASSERT(dev != NULL && dev->mem != NULL && dev->mem->nregions == 1, "table mapped");
	TEST_ASSERT_EQ(r.payload.mem.regions[0].userspace_addr, dev->mem->regions[0]->host,
			"the reply gives our address of the region");
	*base = r.payload.mem.regions[0].userspace_addr;
	return TEST_SUCCESS;
}

/* The front-end's acknowledgement of a mapping reply: a u64 in a message of request req. */
static int
pc_ack(struct hdev *d, uint32_t req, uint64_t v)
{
	TEST_ASSERT_EQ(mock_fe_send(&d->fe, req, 0, &v, sizeof(v), NULL, 0), 0, "send ack");
	TEST_ASSERT(mock_fe_alive(&d->fe), "the acknowledgement was taken");
	return TEST_SUCCESS;
}

/* Rings 0 and 1 laid out, started and enabled, the device ready. */
static int
pc_rings(struct hdev *d)
{
	int before = vhu_rec.new_dev;
	uint16_t q;

	for (q = 0; q < 2; q++)
		TEST_ASSERT_EQ(mock_fe_setup_vring(&d->fe, q, 256), 0, "vring %u", q);
	for (q = 0; q < 2; q++)
		TEST_ASSERT_EQ(mock_fe_vring_enable(&d->fe, q, 1), 0, "enable %u", q);
	TEST_ASSERT_EQ(mock_fe_set_status(&d->fe,
				       VHU_STATUS_ACKNOWLEDGE | VHU_STATUS_DRIVER |
						       VHU_STATUS_FEATURES_OK |
						       VHU_STATUS_DRIVER_OK),
			0, "status");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.new_dev, before + 1, 2000), "no new_device");
	return hdev_attach_rings(d);
}

/* ---- offer ---- */

VHU_TEST(fast, postcopy_offer)
{
	struct hdev d;
	uint64_t pf;

	if (no_postcopy())
		return TEST_SKIPPED;
	TEST_RUN(hdev_up(&d, 0));
	TEST_ASSERT_EQ(mock_fe_get_u64(&d.fe, VHU_REQ_GET_PROTOCOL_FEATURES, &pf), 0, "get");
	TEST_ASSERT(!(pf & VHU_BIT(VHU_PF_PAGEFAULT)), "PAGEFAULT offered without postcopy");
	hdev_down(&d);
	TEST_RUN(hdev_up(&d, VHU_SOCK_POSTCOPY));
	TEST_ASSERT_EQ(mock_fe_get_u64(&d.fe, VHU_REQ_GET_PROTOCOL_FEATURES, &pf), 0, "get");
	TEST_ASSERT(pf & VHU_BIT(VHU_PF_PAGEFAULT), "PAGEFAULT offered with postcopy");
	hdev_down(&d);
	return TEST_SUCCESS;
}

/* ---- the whole exchange, and a page that has not arrived ---- */

struct stall_lcore {
	pthread_t t;
	int vid;
	struct rte_mbuf *m;
	uint16_t sent;
	uint64_t ns;
	volatile int done;
};

static void *
stall_main(void *arg)
{
	struct stall_lcore *l = arg;
	uint64_t t0 = now_ns();

	l->sent = vhu_enqueue_burst(l->vid, 0, &l->m, 1);
	l->ns = now_ns() - t0;
	__atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int
stall_body(struct hdev *d, int ufd, uint64_t base)
{
	static uint8_t frames[3][300], got[2048];
	struct rte_mempool *mp = hpool();
	struct rte_mbuf *pkts[8];
	struct stall_lcore a;
	struct uffd_msg fm;
	struct uffdio_range wake;
	struct pollfd pfd = { .fd = ufd, .events = POLLIN };
	struct vhu_net_hdr hdr;
	struct gseg seg;
	uint64_t gpa, page, t_fault, t0, worst = 0;
	unsigned int i, taken = 0, tries;
	uint8_t frame[200];
	int len;

	/* three frames from the guest, in pages that are here */
	for (i = 0; i < 3; i++) {
		make_frame(frames[i], sizeof(frames[i]), 77 + i);
		TEST_ASSERT(hdev_tx(d, frames[i], sizeof(frames[i]), NULL) >= 0, "guest TX %u", i);
	}
	/* a receive buffer alone in a page that has not arrived yet */
	gpa = gmem_alloc(&d->gm, 0, PAGE, PAGE);
	TEST_ASSERT(gpa != 0, "buffer page");
	seg.gpa = gpa;
	seg.len = 2048;
	TEST_ASSERT(gring_post(&d->g[0], &seg, 1, true, false) >= 0, "post RX buffer");
	TEST_ASSERT_EQ(fallocate(d->fe.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				       (off_t)(gpa - MOCK_FE_GPA_BASE), PAGE),
			0, "punch the page out");
	page = base + (gpa - MOCK_FE_GPA_BASE);

	make_frame(frame, sizeof(frame), 4242);
	memset(&a, 0, sizeof(a));
	a.vid = d->vid;
	a.m = mbuf_make(mp, frame, sizeof(frame), 0);
	TEST_ASSERT(a.m != NULL, "mbuf");
	TEST_ASSERT_EQ(pthread_create(&a.t, NULL, stall_main, &a), 0, "lcore thread");

	/* the front-end's fault thread: our address of the missing page */
	TEST_ASSERT_EQ(poll(&pfd, 1, 5000), 1, "no fault reported on the userfaultfd");
	t_fault = now_ns();
	TEST_ASSERT_EQ(read(ufd, &fm, sizeof(fm)), (ssize_t)sizeof(fm), "read the fault");
	TEST_ASSERT_EQ(fm.event, UFFD_EVENT_PAGEFAULT, "a page fault");
	TEST_ASSERT_EQ(fm.arg.pagefault.address & ~(PAGE - 1), page,
			"the fault is at our address of the missing page");
	TEST_ASSERT(!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE), "the lcore did not wait");

	/* meanwhile another lcore takes the guest's frames off the TX ring */
	for (tries = 0; taken < 3 && tries < 100; tries++) {
		t0 = now_ns();
		taken += vhu_dequeue_burst(d->vid, 1, mp, &pkts[taken], (uint16_t)(8 - taken));
		worst = RTE_MAX(worst, now_ns() - t0);
	}
	TEST_ASSERT_EQ(taken, 3, "the other queue moved while the page was missing");
	for (i = 0; i < 3; i++)
		TEST_ASSERT_EQ(mbuf_cmp(pkts[i], frames[i], sizeof(frames[i])), 0, "frame %u", i);
	rte_pktmbuf_free_bulk(pkts, taken);

	/* the page "arrives" STALL_MS after the fault, then the front-end wakes us */
	while (now_ns() - t_fault < STALL_MS * 1000000ull)
		vhu_test_sleep_ms(1);
	TEST_ASSERT(!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE),
			"the lcore went on without its page");
	memset(d->fe.mem + (gpa - MOCK_FE_GPA_BASE), 0x3c, PAGE);
	wake.start = page;
	wake.len = PAGE;
	TEST_ASSERT_EQ(ioctl(ufd, UFFDIO_WAKE, &wake), 0, "UFFDIO_WAKE");
	for (tries = 0; !__atomic_load_n(&a.done, __ATOMIC_ACQUIRE) && tries < 2000; tries++)
		vhu_test_sleep_ms(1);
	TEST_ASSERT(__atomic_load_n(&a.done, __ATOMIC_ACQUIRE), "the lcore was not woken");
	pthread_join(a.t, NULL);
	rte_pktmbuf_free(a.m);
	TEST_ASSERT_EQ(a.sent, 1, "the frame went in once its page arrived");
	TEST_ASSERT(a.ns >= STALL_MS * 1000000ull, "the burst took only %" PRIu64 " ns", a.ns);
	len = hdev_rx_recv(d, got, sizeof(got), &hdr);
	TEST_ASSERT_EQ(len, (int)sizeof(frame), "the guest receives the frame");
	TEST_ASSERT(memcmp(got, frame, sizeof(frame)) == 0, "the frame's bytes");
	TEST_LOG("postcopy stall: the lcore touching the missing page waited %.1f ms (page "
		 "served %d ms after the fault); the other queue's lcore moved 3 frames "
		 "meanwhile, its slowest burst %.1f us",
			a.ns / 1e6, STALL_MS, worst / 1e3);
	return TEST_SUCCESS;
}

VHU_TEST(fast, postcopy_mock_stall)
{
	struct hmark mark;
	struct hdev d;
	uint64_t base;
	int ufd = -1, ufd2 = -1, rc;

	if (no_postcopy())
		return TEST_SKIPPED;
	TEST_ASSERT(hpool() != NULL, "pool");
	(void)hpool(); /* made once per process: not counted as a leak */
	hmark_take(&mark);
	TEST_RUN(pc_up(&d, 0));
	TEST_ASSERT(d.fe.protocol_features & VHU_BIT(VHU_PF_PAGEFAULT), "PAGEFAULT negotiated");
	TEST_RUN(advise(&d, &ufd));
	TEST_RUN(ack_is(&d, VHU_REQ_POSTCOPY_LISTEN, 0));
	TEST_RUN(pc_mem_table(&d, &base));
	TEST_RUN(pc_ack(&d, VHU_REQ_SET_MEM_TABLE, 0));
	TEST_RUN(pc_rings(&d));
	rc = stall_body(&d, ufd, base);
	close(ufd);
	TEST_RUN(rc);
	TEST_RUN(end_is(&d, true));
	TEST_ASSERT(hdev_forwards(&d, 4) == TEST_SUCCESS, "traffic after postcopy");
	/* a later migration of the same device advises again */
	TEST_RUN(advise(&d, &ufd2));
	close(ufd2);
	hdev_down(&d);
	return hmark_check(&mark);
}

/* ---- ADD_MEM_REG (CONFIGURE_MEM_SLOTS) while listening ---- */

static int
pc_add_reg(struct hdev *d, uint64_t *host)
{
	struct vhu_mem_single s = { .region = mock_fe_region(&d->fe) };
	struct vhu_msg r;

	TEST_ASSERT_EQ(mock_fe_send(&d->fe, VHU_REQ_ADD_MEM_REG, 0, &s, sizeof(s), &d->fe.memfd, 1),
			0, "send");
	TEST_ASSERT_EQ(mock_fe_recv(&d->fe, &r), 0, "ADD_MEM_REG reply while listening");
	vhu_msg_close_fds(&r);
	TEST_ASSERT_EQ(r.hdr.request, VHU_REQ_ADD_MEM_REG, "reply request");
	TEST_ASSERT_EQ(r.hdr.size, sizeof(s), "the reply has the request's size");
	TEST_ASSERT_EQ(r.payload.memreg.region.guest_phys_addr, s.region.guest_phys_addr, "gpa");
	*host = r.payload.memreg.region.userspace_addr;
	return TEST_SUCCESS;
}

VHU_TEST(fast, postcopy_mock_add_mem_reg)
{
	struct vhu_mem_single s;
	struct hmark mark;
	struct vhu_dev *dev;
	struct hdev d;
	uint64_t h1, h2, ack = 9;
	int ufd;

	if (no_postcopy())
		return TEST_SKIPPED;
	(void)hpool(); /* made once per process: not counted as a leak */
	hmark_take(&mark);
	TEST_RUN(pc_up(&d, 0));
	TEST_ASSERT(d.fe.protocol_features & VHU_BIT(VHU_PF_CONFIGURE_MEM_SLOTS), "mem slots");
	TEST_RUN(advise(&d, &ufd));
	TEST_RUN(ack_is(&d, VHU_REQ_POSTCOPY_LISTEN, 0));
	TEST_RUN(pc_add_reg(&d, &h1));
	dev = vhu_dev_table_get(d.vid);
	TEST_ASSERT(dev != NULL && dev->mem != NULL && dev->mem->nregions == 1, "mapped");
	TEST_ASSERT_EQ(h1, dev->mem->regions[0]->host, "our address of the region");
	/* QEMU 7.2 adds the region again for each queue pair: the same answer */
	TEST_RUN(pc_add_reg(&d, &h2));
	TEST_ASSERT_EQ(h2, h1, "the same region, the same address");
	TEST_RUN(pc_ack(&d, VHU_REQ_ADD_MEM_REG, 0));
	/* removal is answered as usual (only with NEED_REPLY) */
	s.padding = 0;
	s.region = mock_fe_region(&d.fe);
	TEST_ASSERT_EQ(mock_fe_ack(&d.fe, VHU_REQ_REM_MEM_REG, &s, sizeof(s), NULL, 0, &ack), 0,
			"REM_MEM_REG");
	TEST_ASSERT_EQ(ack, 0, "removed once");
	TEST_RUN(end_is(&d, true));
	close(ufd);
	hdev_down(&d);
	return hmark_check(&mark);
}

/* ---- hostile orders and payloads ---- */

VHU_TEST(fast, postcopy_mock_hostile)
{
	const uint64_t no_pf = ~VHU_BIT(VHU_PF_PAGEFAULT);
	struct hmark mark;
	struct hdev d;
	uint64_t base;
	int ufd, ufd2;

	if (no_postcopy())
		return TEST_SKIPPED;
	(void)hpool(); /* made once per process: not counted as a leak */
	hmark_take(&mark);
	TEST_RUN(pc_up(&d, 0));
	/* out of order: refused, the connection stays */
	TEST_RUN(ack_is(&d, VHU_REQ_POSTCOPY_LISTEN, 1)); /* LISTEN without ADVISE */
	TEST_RUN(end_is(&d, false));                      /* END without LISTEN */
	TEST_RUN(advise(&d, &ufd));
	TEST_RUN(advise_refused(&d)); /* ADVISE twice */
	TEST_RUN(end_is(&d, false));  /* END, advised only */
	TEST_RUN(ack_is(&d, VHU_REQ_POSTCOPY_LISTEN, 0));
	TEST_RUN(ack_is(&d, VHU_REQ_POSTCOPY_LISTEN, 1)); /* LISTEN twice */
	TEST_RUN(advise_refused(&d));                     /* ADVISE while listening */
	/* a wrong value in the acknowledgement is logged, and taken */
	TEST_RUN(pc_mem_table(&d, &base));
	TEST_RUN(pc_ack(&d, VHU_REQ_SET_MEM_TABLE, 5));
	/* after it, a 4-byte SET_MEM_TABLE is no acknowledgement: a bad payload */
	TEST_RUN(pc_mem_table(&d, &base));
	TEST_RUN(fatal_is(&d, VHU_REQ_SET_MEM_TABLE, 4, 0));
	close(ufd);

	/* bad payloads and fds: the connection goes */
	TEST_RUN(pc_again(&d, 0));
	TEST_RUN(fatal_is(&d, VHU_REQ_POSTCOPY_ADVISE, 8, 0));
	TEST_RUN(pc_again(&d, 0));
	TEST_RUN(fatal_is(&d, VHU_REQ_POSTCOPY_ADVISE, 0, 1));
	TEST_RUN(pc_again(&d, 0));
	TEST_RUN(advise(&d, &ufd));
	TEST_RUN(fatal_is(&d, VHU_REQ_POSTCOPY_LISTEN, 8, 0));
	close(ufd);
	TEST_RUN(pc_again(&d, 0));
	TEST_RUN(advise(&d, &ufd));
	TEST_RUN(ack_is(&d, VHU_REQ_POSTCOPY_LISTEN, 0));
	TEST_RUN(fatal_is(&d, VHU_REQ_POSTCOPY_END, 0, 1));
	close(ufd);

	/* PAGEFAULT not negotiated: nothing of postcopy is served */
	TEST_RUN(pc_again(&d, no_pf));
	TEST_RUN(advise_refused(&d));
	TEST_RUN(ack_is(&d, VHU_REQ_POSTCOPY_LISTEN, 1));
	TEST_RUN(end_is(&d, false));

	/* rings running on memory mapped before: LISTEN cannot be honoured */
	TEST_RUN(pc_again(&d, 0));
	TEST_ASSERT_EQ(mock_fe_set_mem_table(&d.fe), 0, "memory");
	TEST_RUN(pc_rings(&d));
	TEST_RUN(advise(&d, &ufd2));
	TEST_RUN(ack_is(&d, VHU_REQ_POSTCOPY_LISTEN, 1));
	TEST_ASSERT(hdev_forwards(&d, 2) == TEST_SUCCESS, "the device still works");
	close(ufd2);
	/* the connection goes while advised: the userfaultfd goes with it */
	hdev_down(&d);
	return hmark_check(&mark);
}

/*
 * An application that called mlockall(MCL_FUTURE), as dpdk-testpmd does,
 * must not have guest memory read in when we map it: on a postcopy
 * destination every page not received yet would be created, zeroed, under
 * the guest (QEMU then fails to place the real page: EEXIST).
 */
VHU_TEST(fast, postcopy_map_not_populated)
{
	const uint64_t size = 4ull << 20;
	struct vhu_mem_region_desc d = {
		.guest_phys_addr = 0,
		.memory_size = size,
		.userspace_addr = 0x10000000,
	};
	struct vhu_mem_region *r = NULL;
	const char *why = NULL;
	struct stat st;
	int fd, rc;

	fd = memfd_create("holes", MFD_CLOEXEC);
	TEST_ASSERT(fd >= 0 && ftruncate(fd, (off_t)size) == 0, "memfd");
	if (mlockall(MCL_FUTURE) != 0) {
		close(fd);
		TEST_LOG("skipped: mlockall: %s", strerror(errno));
		return TEST_SKIPPED;
	}
	rc = vhu_mem_region_map(&d, fd, &r, &why);
	munlockall();
	TEST_ASSERT_EQ(rc, 0, "map: %s", why != NULL ? why : "");
	TEST_ASSERT_EQ(fstat(fd, &st), 0, "fstat");
	vhu_mem_region_unmap(r);
	close(fd);
	TEST_ASSERT_EQ(st.st_blocks, 0, "mapping the region allocated %lld blocks of guest memory",
			(long long)st.st_blocks);
	return TEST_SUCCESS;
}

/* ---- the test-only fault switch ---- */

static bool
log_bit(const uint8_t *log, uint64_t gpa)
{
	uint64_t page = gpa / PAGE;

	return (log[page / 8] >> (page % 8)) & 1;
}

static int
drop_dirty_case(bool fault)
{
	const uint64_t log_size =
			((MOCK_FE_GPA_BASE + HDEV_MEM) / PAGE / 8 + PAGE - 1) & ~(PAGE - 1);
	struct vhu_log_desc ld = { .mmap_size = log_size, .mmap_offset = 0 };
	struct mock_vring *vr;
	struct vhu_vring_addr a;
	struct vhu_net_hdr hdr;
	struct vhu_msg r;
	struct vhu_dev *dev;
	struct rte_mbuf *m;
	struct hdev d;
	uint8_t frame[100], got[2048], *log;
	uint64_t f, ack = 9, gpa;
	int logfd, len, head, rc;

	if (fault)
		setenv("VHU_TEST_FAULT", "drop-dirty-bit", 1);
	rc = hdev_up(&d, 0); /* the device is created, and reads the switch, here */
	unsetenv("VHU_TEST_FAULT");
	TEST_RUN(rc);
	TEST_RUN(hdev_ready(&d, 0, 256));
	dev = vhu_dev_table_get(d.vid);
	TEST_ASSERT(dev != NULL, "device");
	TEST_ASSERT_EQ(dev->test_fault, fault ? VHU_TEST_FAULT_DROP_DIRTY : 0, "switch");

	logfd = memfd_create("log", MFD_CLOEXEC);
	TEST_ASSERT(logfd >= 0 && ftruncate(logfd, (off_t)log_size) == 0, "log memfd");
	log = mmap(NULL, log_size, PROT_READ | PROT_WRITE, MAP_SHARED, logfd, 0);
	TEST_ASSERT(log != MAP_FAILED, "mmap log");
	TEST_ASSERT_EQ(mock_fe_send(&d.fe, VHU_REQ_SET_LOG_BASE, 0, &ld, sizeof(ld), &logfd, 1), 0,
			"send");
	close(logfd);
	TEST_ASSERT_EQ(mock_fe_recv(&d.fe, &r), 0, "SET_LOG_BASE reply");
	TEST_ASSERT_EQ(r.payload.u64, 0, "log accepted");
	f = d.fe.features | VHU_BIT(VHU_F_LOG_ALL);
	TEST_ASSERT_EQ(mock_fe_ack(&d.fe, VHU_REQ_SET_FEATURES, &f, sizeof(f), NULL, 0, &ack), 0,
			"LOG_ALL");
	TEST_ASSERT_EQ(ack, 0, "LOG_ALL taken");
	vr = &d.fe.vr[0];
	memset(&a, 0, sizeof(a));
	a.index = 0;
	a.flags = 1u << VHU_VRING_F_LOG;
	a.desc_user_addr = (uintptr_t)vr->desc;
	a.avail_user_addr = (uintptr_t)vr->avail;
	a.used_user_addr = (uintptr_t)vr->used;
	a.log_guest_addr = vr->used_gpa;
	TEST_ASSERT_EQ(mock_fe_ack(&d.fe, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, &ack), 0,
			"log the used ring");
	TEST_ASSERT_EQ(ack, 0, "used ring logged");

	head = hdev_rx_post(&d, 2048);
	TEST_ASSERT(head >= 0, "RX buffer");
	gpa = d.g[0].bufs[head].seg[0].gpa;
	make_frame(frame, sizeof(frame), 9);
	m = mbuf_make(hpool(), frame, sizeof(frame), 0);
	TEST_ASSERT(m != NULL, "mbuf");
	TEST_ASSERT_EQ(vhu_enqueue_burst(d.vid, 0, &m, 1), 1, "enqueue");
	rte_pktmbuf_free(m);
	len = hdev_rx_recv(&d, got, sizeof(got), &hdr);
	TEST_ASSERT(len == (int)sizeof(frame) && memcmp(got, frame, sizeof(frame)) == 0,
			"the frame is written either way");
	TEST_ASSERT(log_bit(log, vr->used_gpa), "the used ring is logged either way");
	TEST_ASSERT_EQ(log_bit(log, gpa), !fault, "the buffer's page %s",
			fault ? "must be left out" : "must be logged");
	TEST_ASSERT(fault ? dev->test_fault_hits > 0 : dev->test_fault_hits == 0, "hits");
	munmap(log, log_size);
	hdev_down(&d);
	return TEST_SUCCESS;
}

VHU_TEST(fast, testfault_drop_dirty_bit)
{
	struct hmark mark;

	TEST_ASSERT(hpool() != NULL, "pool");
	(void)hpool(); /* made once per process: not counted as a leak */
	hmark_take(&mark);
	TEST_RUN(drop_dirty_case(false));
	TEST_RUN(drop_dirty_case(true));
	return hmark_check(&mark);
}
