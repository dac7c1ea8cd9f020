/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Control plane through the mock front-end (fast suite), what a front-end
 * hands over or takes back: memory tables (SET_MEM_TABLE, ADD/REM_MEM_REG,
 * 509 slots), the dirty log, the back-end channel and inflight areas, the
 * device state transfer. The happy path and hostile variants, asserting
 * replies and device state. The rest of the requests: test_ctrl.c.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctrl_env.h"
#include "vhu_mem.h"

#define MEM_SIZE CTRL_MEM_SIZE

/* ---- memory ---- */

static int
mem_table_fatal(struct env *e, const struct vhu_mem_table *t, const int *fds)
{
	TEST_RUN(negotiate(e, 0, 0));
	return expect_fatal(e, VHU_REQ_SET_MEM_TABLE, 0, t, 8 + 32 * t->nregions, fds, t->nregions);
}

VHU_TEST_F(fast, ctrl_mock_mem_table, env, e)
{
	struct vhu_mem_table t;
	int fds[VHU_MEM_TABLE_MAX_REGIONS + 1], i, efd, small;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	for (i = 0; i < 9; i++)
		fds[i] = e->fe.memfd;
	memset(&t, 0, sizeof(t));
	/* two halves of the memfd as two regions: fine */
	t.nregions = 2;
	t.regions[0] = mock_fe_region(&e->fe);
	t.regions[0].memory_size = MEM_SIZE / 2;
	t.regions[1] = t.regions[0];
	t.regions[1].guest_phys_addr += MEM_SIZE / 2 + 0x100000;
	t.regions[1].userspace_addr += MEM_SIZE / 2;
	t.regions[1].mmap_offset = MEM_SIZE / 2;
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(ack_of(e, VHU_REQ_SET_MEM_TABLE, &t, 8 + 64, fds, 2, 0));
	TEST_ASSERT_EQ(cur_dev()->mem->nregions, 2, "two regions");
	TEST_ASSERT(vhu_gpa_to_host(cur_dev()->mem, t.regions[1].guest_phys_addr, 64) != NULL,
			"second region translates");
	TEST_ASSERT(vhu_gpa_to_host(cur_dev()->mem, MOCK_FE_GPA_BASE + MEM_SIZE / 2, 1) == NULL,
			"the gap does not");
	/* overlap in guest physical space */
	t.regions[1].guest_phys_addr = t.regions[0].guest_phys_addr + 4096;
	TEST_RUN(mem_table_fatal(e, &t, fds));
	/* overlap in front-end space */
	t.regions[1].guest_phys_addr = MOCK_FE_GPA_BASE + MEM_SIZE;
	t.regions[1].userspace_addr = t.regions[0].userspace_addr;
	TEST_RUN(mem_table_fatal(e, &t, fds));
	/* gpa + size wraps */
	t.nregions = 1;
	t.regions[0].guest_phys_addr = ~0ull - 4095;
	TEST_RUN(mem_table_fatal(e, &t, fds));
	/* file smaller than offset + size */
	t.regions[0] = mock_fe_region(&e->fe);
	t.regions[0].mmap_offset = 4096;
	TEST_RUN(mem_table_fatal(e, &t, fds));
	small = memfd_create("small", MFD_CLOEXEC);
	TEST_ASSERT(ftruncate(small, 4096) == 0, "ftruncate");
	t.regions[0] = mock_fe_region(&e->fe);
	TEST_RUN(mem_table_fatal(e, &t, &small));
	close(small);
	/* an eventfd is not memory */
	efd = eventfd(0, EFD_CLOEXEC);
	TEST_RUN(mem_table_fatal(e, &t, &efd));
	close(efd);
	/* zero regions, nine regions, empty region */
	t.nregions = 0;
	TEST_RUN(negotiate(e, 0, 0));
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_MEM_TABLE, 0, &t, 8, NULL, 0));
	TEST_RUN(negotiate(e, 0, 0));
	{
		uint8_t big[8 + 9 * 32];

		memset(big, 0, sizeof(big));
		big[0] = 9;
		TEST_RUN(expect_fatal(e, VHU_REQ_SET_MEM_TABLE, 0, big, sizeof(big), fds, 8));
	}
	t.nregions = 1;
	t.regions[0].memory_size = 0;
	TEST_RUN(mem_table_fatal(e, &t, fds));
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* A datapath stand-in: keeps entering ring 0 while the table changes. */
struct hammer {
	struct vhu_dev *dev;
	volatile int stop;
	volatile int entered;
	volatile uint64_t sum;
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;

	while (!h->stop) {
		struct vhu_vq *vq = h->dev->vq[0];

		if (!vhu_guard_enter(&vq->guard))
			continue;
		if (vq->active) {
			/* touch guest memory through the current mapping */
			h->sum += vq->desc[0].len + vq->avail->idx + vq->used->idx;
			h->sum += *(volatile uint8_t *)vhu_gpa_to_host(
					h->dev->mem, MOCK_FE_GPA_BASE, 1);
			h->entered++;
		}
		vhu_guard_leave(&vq->guard);
	}
	return NULL;
}

VHU_TEST_F(fast, ctrl_mock_mem_table_live, env, e)
{
	struct hammer h = { 0 };
	pthread_t t;
	int i;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(setup_ready(e, 2));
	h.dev = cur_dev();
	TEST_ASSERT_EQ(pthread_create(&t, NULL, hammer_main, &h), 0, "thread");
	for (i = 0; i < 50; i++) {
		if (mock_fe_set_mem_table(&e->fe) != 0)
			break;
	}
	while (h.entered < 10 && i == 50)
		vhu_test_sleep_ms(1);
	h.stop = 1;
	pthread_join(t, NULL);
	TEST_ASSERT_EQ(i, 50, "50 table changes acked");
	/* the current table maps what the front-end writes */
	e->fe.mem[4096] = 0x5a;
	TEST_ASSERT_EQ(*(uint8_t *)vhu_gpa_to_host(h.dev->mem, MOCK_FE_GPA_BASE + 4096, 1), 0x5a,
			"current mapping");
	TEST_ASSERT_EQ(vhu_vring_is_active(h.dev->vid, 0), 1, "ring 0 active throughout");
	TEST_ASSERT_EQ(vhu_rec.destroy_dev, 0, "device kept");
	TEST_ASSERT(h.entered > 0, "the stand-in entered the ring");
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_mock_mem_slots, env, e)
{
	const uint64_t slot = 4096, n = VHU_MAX_MEM_SLOTS;
	struct vhu_mem_single ms;
	struct mock_fe big;
	struct vhu_dev *dev;
	uint64_t pm, v, i;
	uint8_t *host;
	int efd;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	mock_fe_close(&e->fe);
	/* guest memory of 510 pages: one region per page */
	TEST_ASSERT_EQ(mock_fe_connect(&big, e->path, slot * (n + 1)), 0, "connect");
	TEST_ASSERT(vhu_test_wait(&vhu_rec.conn, 2, 2000), "connection");
	e->fe = big;
	pm = VHU_BIT(VHU_PF_CONFIGURE_MEM_SLOTS) | VHU_BIT(VHU_PF_REPLY_ACK);
	TEST_RUN(negotiate(e, 0, pm));
	TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_GET_MAX_MEM_SLOTS, &v), 0, "slots");
	TEST_ASSERT_EQ(v, 509, "509 slots");
	memset(&ms, 0, sizeof(ms));
	for (i = 0; i < n; i++) {
		/* every other page leaves a hole in guest physical space */
		ms.region.guest_phys_addr = MOCK_FE_GPA_BASE + i * 2 * slot;
		ms.region.memory_size = slot;
		ms.region.userspace_addr = (uint64_t)(uintptr_t)e->fe.mem + i * slot;
		ms.region.mmap_offset = i * slot;
		e->fe.mem[i * slot] = (uint8_t)i;
		TEST_RUN(ack_of(e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e->fe.memfd, 1, 0));
	}
	dev = cur_dev();
	TEST_ASSERT_EQ(dev->mem->nregions, n, "509 regions");
	for (i = 0; i < n; i += 37) {
		host = vhu_gpa_to_host(dev->mem, MOCK_FE_GPA_BASE + i * 2 * slot, slot);
		TEST_ASSERT(host != NULL && *host == (uint8_t)i, "region %u translates",
				(unsigned int)i);
		TEST_ASSERT(vhu_gpa_to_host(dev->mem, MOCK_FE_GPA_BASE + i * 2 * slot + slot, 1) ==
						NULL,
				"hole %u", (unsigned int)i);
	}
	/* remove one (an fd sent along is tolerated and closed) */
	efd = eventfd(0, EFD_CLOEXEC);
	ms.region.guest_phys_addr = MOCK_FE_GPA_BASE + 100 * 2 * slot;
	ms.region.userspace_addr = (uint64_t)(uintptr_t)e->fe.mem + 100 * slot;
	ms.region.mmap_offset = 0;
	TEST_RUN(ack_of(e, VHU_REQ_REM_MEM_REG, &ms, sizeof(ms), &efd, 1, 0));
	close(efd);
	TEST_ASSERT_EQ(dev->mem->nregions, n - 1, "508 regions");
	TEST_ASSERT(vhu_gpa_to_host(dev->mem, ms.region.guest_phys_addr, 1) == NULL, "removed");
	TEST_RUN(ack_of(e, VHU_REQ_REM_MEM_REG, &ms, sizeof(ms), NULL, 0, 1)); /* gone */
	/* add it back, then one more: no free slot */
	ms.region.mmap_offset = 100 * slot;
	TEST_RUN(ack_of(e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e->fe.memfd, 1, 0));
	ms.region.guest_phys_addr = MOCK_FE_GPA_BASE + n * 2 * slot;
	ms.region.userspace_addr = (uint64_t)(uintptr_t)e->fe.mem + n * slot;
	ms.region.mmap_offset = n * slot;
	TEST_RUN(expect_fatal(e, VHU_REQ_ADD_MEM_REG, VHU_FLAG_VERSION | VHU_FLAG_NEED_REPLY, &ms,
			sizeof(ms), &e->fe.memfd, 1));
	/* overlap with an existing region */
	TEST_RUN(negotiate(e, 0, pm));
	ms.region.guest_phys_addr = MOCK_FE_GPA_BASE;
	ms.region.userspace_addr = (uint64_t)(uintptr_t)e->fe.mem;
	ms.region.mmap_offset = 0;
	TEST_RUN(ack_of(e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e->fe.memfd, 1, 0));
	ms.region.guest_phys_addr += 2048;
	ms.region.userspace_addr += MEM_SIZE;
	TEST_RUN(expect_fatal(e, VHU_REQ_ADD_MEM_REG, 0, &ms, sizeof(ms), &e->fe.memfd, 1));
	/* no fd */
	TEST_RUN(negotiate(e, 0, pm));
	TEST_RUN(expect_fatal(e, VHU_REQ_ADD_MEM_REG, 0, &ms, sizeof(ms), NULL, 0));
	/* not negotiated: refused, not fatal */
	TEST_RUN(negotiate(e, 0, VHU_BIT(VHU_PF_REPLY_ACK)));
	TEST_RUN(ack_of(e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e->fe.memfd, 1, 1));
	TEST_ASSERT(cur_dev()->mem == NULL, "nothing mapped");
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* A vring inside memory that came through ADD_MEM_REG goes active. */
/*
 * QEMU 7.2's order: SET_BACKEND_REQ_FD comes before SET_OWNER, and every
 * region is added once per queue pair (and removed as often). The back-end
 * must accept both, keep one mapping, and unmap with the last removal only.
 */
VHU_TEST_F(fast, ctrl_mock_qemu_order, env, e)
{
	uint64_t pf = VHU_BIT(VHU_PF_BACKEND_REQ) | VHU_BIT(VHU_PF_REPLY_ACK) |
			VHU_BIT(VHU_PF_CONFIGURE_MEM_SLOTS);
	struct vhu_mem_single ms;
	struct vhu_dev *dev;
	int sp[2], fds_before, i;
	uint64_t f, got;

	TEST_RUN(env_init(e, 2));
	TEST_RUN(env_up(e));
	TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_GET_FEATURES, &f), 0, "features");
	TEST_ASSERT(f & VHU_BIT(VHU_F_PROTOCOL_FEATURES), "protocol features offered");
	TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_GET_PROTOCOL_FEATURES, &got), 0, "pf");
	TEST_ASSERT_EQ(got & pf, pf, "backend req, reply ack and mem slots offered");
	TEST_ASSERT_EQ(mock_fe_send(&e->fe, VHU_REQ_SET_PROTOCOL_FEATURES, 0, &pf, sizeof(pf), NULL,
				       0),
			0, "set pf");
	TEST_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0, "socketpair");
	/* before SET_OWNER, as QEMU does */
	TEST_RUN(ack_of(e, VHU_REQ_SET_BACKEND_REQ_FD, NULL, 0, &sp[1], 1, 0));
	close(sp[1]);
	TEST_ASSERT(cur_dev()->backend_fd >= 0, "backend channel kept");
	TEST_RUN(negotiate(e, 0, pf));

	memset(&ms, 0, sizeof(ms));
	ms.region = mock_fe_region(&e->fe);
	TEST_RUN(ack_of(e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e->fe.memfd, 1, 0));
	dev = cur_dev();
	fds_before = vhu_test_count_fds();
	/* the same region for the second queue pair: accepted, not remapped, fd closed */
	TEST_RUN(ack_of(e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e->fe.memfd, 1, 0));
	TEST_ASSERT_EQ(dev->mem->nregions, 1, "one mapping");
	TEST_ASSERT_EQ(vhu_test_count_fds(), fds_before, "duplicate's fd closed");
	/* a region overlapping it but not identical is still fatal (tested in mem_slots) */
	for (i = 0; i < 2; i++) {
		TEST_ASSERT(vhu_gpa_to_host(dev->mem, ms.region.guest_phys_addr, 1) != NULL,
				"still mapped before removal %d", i);
		TEST_RUN(ack_of(e, VHU_REQ_REM_MEM_REG, &ms, sizeof(ms), NULL, 0, 0));
	}
	TEST_ASSERT(dev->mem == NULL || dev->mem->nregions == 0, "unmapped with the last removal");
	TEST_RUN(ack_of(e, VHU_REQ_REM_MEM_REG, &ms, sizeof(ms), NULL, 0, 1));
	close(sp[0]);
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_mock_mem_slots_rings, env, e)
{
	struct vhu_mem_single ms;
	unsigned int i;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(negotiate(e, 0, 0));
	memset(&ms, 0, sizeof(ms));
	ms.region = mock_fe_region(&e->fe);
	TEST_RUN(ack_of(e, VHU_REQ_ADD_MEM_REG, &ms, sizeof(ms), &e->fe.memfd, 1, 0));
	for (i = 0; i < 2; i++) {
		TEST_ASSERT_EQ(mock_fe_setup_vring(&e->fe, (uint16_t)i, 128), 0, "vring");
		TEST_ASSERT_EQ(mock_fe_vring_enable(&e->fe, (uint16_t)i, 1), 0, "enable");
	}
	TEST_ASSERT_EQ(mock_fe_set_status(&e->fe, VHU_STATUS_DRIVER_OK), 0, "status");
	TEST_ASSERT_EQ(vhu_rec.new_dev, 1, "ready");
	/* removing the region under started rings is fatal */
	TEST_RUN(expect_fatal(e, VHU_REQ_REM_MEM_REG, 0, &ms, sizeof(ms), NULL, 0));
	TEST_ASSERT(vhu_test_wait(&vhu_rec.destroy_dev, 1, 2000), "destroyed");
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* ---- dirty log ---- */

VHU_TEST_F(fast, ctrl_mock_log, env, e)
{
	struct vhu_log_desc ld = { .mmap_size = 4096, .mmap_offset = 0 };
	struct vhu_dev *dev;
	uint8_t *bitmap;
	int logfd, efd;
	uint64_t f;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(setup_ready(e, 2));
	dev = cur_dev();
	logfd = memfd_create("log", MFD_CLOEXEC);
	TEST_ASSERT(ftruncate(logfd, 8192) == 0, "ftruncate");
	bitmap = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, logfd, 0);
	TEST_ASSERT(bitmap != MAP_FAILED, "mmap");
	ld.mmap_offset = 4096;
	TEST_ASSERT_EQ(mock_fe_send(&e->fe, VHU_REQ_SET_LOG_BASE, 0, &ld, sizeof(ld), &logfd, 1), 0,
			"send");
	{
		struct vhu_msg r;

		TEST_ASSERT_EQ(mock_fe_recv(&e->fe, &r), 0, "SET_LOG_BASE reply");
		TEST_ASSERT_EQ(r.hdr.request, VHU_REQ_SET_LOG_BASE, "reply request");
		TEST_ASSERT_EQ(r.payload.u64, 0, "log accepted");
	}
	TEST_ASSERT(dev->log_base != NULL && dev->log_size == 4096, "log mapped");
	TEST_ASSERT(!dev->log_all, "LOG_ALL not negotiated yet");
	f = e->fe.features | VHU_BIT(VHU_F_LOG_ALL);
	TEST_RUN(ack_of(e, VHU_REQ_SET_FEATURES, &f, sizeof(f), NULL, 0, 0));
	TEST_ASSERT(dev->log_all, "logging on");
	TEST_ASSERT_EQ(vhu_vring_is_active(dev->vid, 0), 1, "still running");
	vhu_log_write(dev, 5 * 4096 + 10, 4096); /* pages 5 and 6 */
	TEST_ASSERT_EQ(bitmap[4096], 0x60, "dirty bits in the front-end's log");
	vhu_log_write(dev, 4096ull * 8 * 4096, 1); /* beyond the log: ignored */
	efd = eventfd(0, EFD_CLOEXEC);
	TEST_RUN(ack_of(e, VHU_REQ_SET_LOG_FD, NULL, 0, &efd, 1, 0));
	close(efd);
	f = e->fe.features;
	TEST_RUN(ack_of(e, VHU_REQ_SET_FEATURES, &f, sizeof(f), NULL, 0, 0));
	TEST_ASSERT(!dev->log_all, "logging off");
	/* a log larger than its file */
	ld.mmap_size = 8192;
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_LOG_BASE, 0, &ld, sizeof(ld), &logfd, 1));
	/* no fd */
	TEST_RUN(negotiate(e, 0, 0));
	ld.mmap_size = 4096;
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_LOG_BASE, 0, &ld, sizeof(ld), NULL, 0));
	/* not negotiated: an error reply, connection kept */
	TEST_RUN(negotiate(e, 0, VHU_BIT(VHU_PF_REPLY_ACK)));
	TEST_ASSERT_EQ(mock_fe_send(&e->fe, VHU_REQ_SET_LOG_BASE, 0, &ld, sizeof(ld), &logfd, 1), 0,
			"send");
	{
		struct vhu_msg r;

		TEST_ASSERT_EQ(mock_fe_recv(&e->fe, &r), 0, "reply");
		TEST_ASSERT(r.payload.u64 != 0, "refused");
	}
	TEST_ASSERT(cur_dev()->log_base == NULL, "no log");
	munmap(bitmap, 8192);
	close(logfd);
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* ---- back-end channel, inflight area ---- */

VHU_TEST_F(fast, ctrl_mock_backend_inflight, env, e)
{
	struct vhu_inflight_desc d = { .num_queues = 2, .queue_size = 256 };
	uint8_t *area;
	struct vhu_msg r;
	int sp[2], ifd;
	uint64_t size;

	TEST_RUN(env_init(e, 1));
	TEST_RUN(env_up(e));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0, "socketpair");
	TEST_RUN(ack_of(e, VHU_REQ_SET_BACKEND_REQ_FD, NULL, 0, &sp[1], 1, 0));
	TEST_ASSERT(cur_dev()->backend_fd >= 0, "backend channel kept");
	close(sp[1]);

	TEST_ASSERT_EQ(mock_fe_send(&e->fe, VHU_REQ_GET_INFLIGHT_FD, 0, &d, sizeof(d), NULL, 0), 0,
			"send");
	TEST_ASSERT_EQ(mock_fe_recv(&e->fe, &r), 0, "reply");
	TEST_ASSERT_EQ(r.nfds, 1, "an fd");
	size = 2 * ((16 + 16 * 256 + 63) & ~63ull);
	TEST_ASSERT_EQ(r.payload.inflight.mmap_size, size, "split-ring layout size");
	TEST_ASSERT_EQ(r.payload.inflight.num_queues, 2, "queues");
	ifd = r.fds[0];
	area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ifd, 0);
	TEST_ASSERT(area != MAP_FAILED, "map inflight");
	TEST_ASSERT_EQ(*(uint16_t *)(area + 8), 1, "queue 0 version");
	TEST_ASSERT_EQ(*(uint16_t *)(area + 10), 256, "queue 0 desc_num");
	TEST_ASSERT_EQ(*(uint16_t *)(area + size / 2 + 8), 1, "queue 1 version");
	/* hand it back, as after a reconnect */
	d.mmap_size = size;
	TEST_RUN(ack_of(e, VHU_REQ_SET_INFLIGHT_FD, &d, sizeof(d), &ifd, 1, 0));
	TEST_ASSERT(cur_dev()->inflight_map != NULL, "mapped");
	/* too small */
	d.mmap_size = size - 64;
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_INFLIGHT_FD, 0, &d, sizeof(d), &ifd, 1));
	/* garbage header */
	TEST_RUN(negotiate(e, 0, 0));
	*(uint16_t *)(area + 8) = 7;
	d.mmap_size = size;
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_INFLIGHT_FD, 0, &d, sizeof(d), &ifd, 1));
	/* bad geometry: no area */
	TEST_RUN(negotiate(e, 0, 0));
	d.num_queues = 0;
	TEST_ASSERT_EQ(mock_fe_send(&e->fe, VHU_REQ_GET_INFLIGHT_FD, 0, &d, sizeof(d), NULL, 0), 0,
			"send");
	TEST_ASSERT_EQ(mock_fe_recv(&e->fe, &r), 0, "reply");
	TEST_ASSERT_EQ(r.payload.inflight.mmap_size, 0, "no area");
	TEST_ASSERT_EQ(r.nfds, 0, "no fd");
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_BACKEND_REQ_FD, 0, NULL, 0, NULL, 0));
	munmap(area, size);
	close(ifd);
	close(sp[0]);
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* Packed rings get the packed inflight layout (and any ring size). */
VHU_TEST_F(fast, ctrl_mock_inflight_packed, env, e)
{
	struct vhu_inflight_desc d = { .num_queues = 2, .queue_size = 100 };
	uint64_t size;
	uint8_t *area;
	struct vhu_msg r;

	TEST_RUN(env_init(e, 1));
	e->conf.flags = VHU_SOCK_PACKED;
	TEST_RUN(env_up(e));
	TEST_RUN(negotiate(e, 0, 0));
	TEST_ASSERT(e->fe.features & VHU_BIT(VHU_F_RING_PACKED), "packed negotiated");
	TEST_ASSERT_EQ(mock_fe_send(&e->fe, VHU_REQ_GET_INFLIGHT_FD, 0, &d, sizeof(d), NULL, 0), 0,
			"send");
	TEST_ASSERT_EQ(mock_fe_recv(&e->fe, &r), 0, "reply");
	TEST_ASSERT_EQ(r.nfds, 1, "an fd");
	size = 2 * ((32 + 32 * 100 + 63) & ~63ull);
	TEST_ASSERT_EQ(r.payload.inflight.mmap_size, size, "packed layout size");
	area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fds[0], 0);
	TEST_ASSERT(area != MAP_FAILED, "map");
	TEST_ASSERT_EQ(*(uint16_t *)(area + 8), 1, "version");
	TEST_ASSERT_EQ(*(uint16_t *)(area + 10), 100, "desc_num");
	TEST_ASSERT_EQ(area[20], 1, "used wrap counter starts at 1");
	TEST_ASSERT_EQ(*(uint16_t *)(area + 32 + 2), 1, "descriptor 0 links to 1");
	d.mmap_size = size;
	TEST_RUN(ack_of(e, VHU_REQ_SET_INFLIGHT_FD, &d, sizeof(d), &r.fds[0], 1, 0));
	d.mmap_size = size - 64; /* enough for split, not for packed */
	TEST_RUN(expect_fatal(e, VHU_REQ_SET_INFLIGHT_FD, 0, &d, sizeof(d), &r.fds[0], 1));
	munmap(area, size);
	close(r.fds[0]);
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}

/* ---- device state transfer ---- */

static int
state_fd(struct env *e, uint32_t dir, uint32_t phase, int fd, uint64_t *reply)
{
	struct vhu_device_state_xfer x = { .direction = dir, .phase = phase };
	struct vhu_msg r;

	TEST_ASSERT_EQ(mock_fe_send(&e->fe, VHU_REQ_SET_DEVICE_STATE_FD, 0, &x, sizeof(x), &fd, 1),
			0, "send");
	TEST_ASSERT_EQ(mock_fe_recv(&e->fe, &r), 0, "reply");
	TEST_ASSERT_EQ(r.nfds, 0, "no fd from the back-end");
	*reply = r.payload.u64;
	return TEST_SUCCESS;
}

static int
stop_rings(struct env *e)
{
	uint32_t base;

	TEST_ASSERT_EQ(mock_fe_get_vring_base(&e->fe, 0, &base), 0, "stop 0");
	TEST_ASSERT_EQ(mock_fe_get_vring_base(&e->fe, 1, &base), 0, "stop 1");
	return TEST_SUCCESS;
}

static int
load_blob(struct env *e, const uint8_t *blob, size_t len, uint64_t *check)
{
	uint64_t v;
	int p[2];

	TEST_ASSERT_EQ(pipe2(p, O_CLOEXEC), 0, "pipe");
	TEST_RUN(state_fd(e, VHU_TRANSFER_LOAD, 0, p[0], &v));
	close(p[0]);
	TEST_ASSERT_EQ(v, VHU_STATE_REPLY_NOFD, "load accepted");
	TEST_ASSERT_EQ(write(p[1], blob, len), (ssize_t)len, "write state");
	close(p[1]);
	TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_CHECK_DEVICE_STATE, check), 0, "check");
	return TEST_SUCCESS;
}

VHU_TEST_F(fast, ctrl_mock_device_state, env, e)
{
	static uint8_t blob[70000];
	size_t len = 0;
	uint64_t v;
	ssize_t n;
	int p[2];

	TEST_RUN(env_init(e, 1));
	e->conf.flags = VHU_SOCK_MULTI_CONN;
	TEST_RUN(env_up(e));
	TEST_RUN(setup_ready(e, 2));
	cur_dev()->vq[1]->stats.packets = 1234;
	cur_dev()->vq[0]->stats.bytes = 99999;
	memcpy(vhu_rec.save_blob, "application counters", 20);
	vhu_rec.save_len = 20;
	/* refused while a ring is started */
	TEST_ASSERT_EQ(pipe2(p, O_CLOEXEC), 0, "pipe");
	TEST_RUN(state_fd(e, VHU_TRANSFER_SAVE, 0, p[1], &v));
	TEST_ASSERT_EQ(v, VHU_STATE_REPLY_NOFD | 1, "refused while started");
	TEST_RUN(stop_rings(e));
	/* bad direction / phase: error replies */
	TEST_RUN(state_fd(e, 7, 0, p[1], &v));
	TEST_ASSERT((v & 0xff) != 0 && (v & VHU_STATE_REPLY_NOFD), "bad direction");
	TEST_RUN(state_fd(e, VHU_TRANSFER_SAVE, 1, p[1], &v));
	TEST_ASSERT((v & 0xff) != 0, "bad phase");
	/* CHECK with nothing transferred */
	TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_CHECK_DEVICE_STATE, &v), 0, "check");
	TEST_ASSERT(v != 0, "nothing to check");
	/* save */
	TEST_RUN(state_fd(e, VHU_TRANSFER_SAVE, 0, p[1], &v));
	close(p[1]);
	TEST_ASSERT_EQ(v, VHU_STATE_REPLY_NOFD, "save accepted");
	while ((n = read(p[0], blob + len, sizeof(blob) - len)) > 0)
		len += (size_t)n;
	close(p[0]);
	TEST_ASSERT(len > 20, "state saved (%zu bytes)", len);
	TEST_ASSERT_EQ(mock_fe_get_u64(&e->fe, VHU_REQ_CHECK_DEVICE_STATE, &v), 0, "check");
	TEST_ASSERT_EQ(v, 0, "save succeeded");

	/* load into a second device (destination), rings not started */
	{
		struct mock_fe src = e->fe;
		struct vhu_dev *dst;

		TEST_RUN(env_connect(e));
		TEST_RUN(negotiate(e, 0, 0));
		dst = cur_dev();
		TEST_RUN(load_blob(e, blob, len, &v));
		TEST_ASSERT_EQ(v, 0, "load succeeded");
		TEST_ASSERT_EQ(vhu_rec.load_calls, 1, "load_state called");
		TEST_ASSERT_EQ(vhu_rec.load_len, 20, "application part");
		TEST_ASSERT(memcmp(vhu_rec.load_blob, "application counters", 20) == 0, "content");
		TEST_ASSERT(dst->vq[1] != NULL && dst->vq[1]->stats.packets == 1234,
				"ring counters continue");
		TEST_ASSERT(dst->vq[0] != NULL && dst->vq[0]->stats.bytes == 99999, "bytes");
		/* corrupted, truncated, oversize */
		blob[len / 2] ^= 0x40;
		TEST_RUN(load_blob(e, blob, len, &v));
		TEST_ASSERT(v != 0, "corrupted state refused");
		blob[len / 2] ^= 0x40;
		TEST_RUN(load_blob(e, blob, len - 3, &v));
		TEST_ASSERT(v != 0, "truncated state refused");
		TEST_RUN(load_blob(e, blob, sizeof(blob), &v));
		TEST_ASSERT(v != 0, "oversize state refused");
		/* the application refuses its part */
		vhu_rec.load_rc = -EINVAL;
		TEST_RUN(load_blob(e, blob, len, &v));
		TEST_ASSERT(v != 0, "application refusal reported");
		vhu_rec.load_rc = 0;
		/* no fd */
		{
			struct vhu_device_state_xfer x = { VHU_TRANSFER_LOAD, 0 };

			TEST_RUN(expect_fatal(
					e, VHU_REQ_SET_DEVICE_STATE_FD, 0, &x, sizeof(x), NULL, 0));
		}
		mock_fe_close(&e->fe);
		e->fe = src;
	}
	TEST_RUN(env_down(e));
	return TEST_SUCCESS;
}
