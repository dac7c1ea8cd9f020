/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Guest memory: mapping fds with offsets, immutable tables shared between
 * generations, GPA and front-end address translation at region edges,
 * binary search over 509 regions.
 */

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mock_fe.h"
#include "vhu_mem.h"
#include "vhu_test.h"

#define PG 4096ull

static int
memfd_of(uint64_t size)
{
	int fd = memfd_create("test-mem", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct vhu_mem_region *
map_region(int fd, uint64_t gpa, uint64_t size, uint64_t uva, uint64_t off)
{
	struct vhu_mem_region_desc d = { gpa, size, uva, off };
	struct vhu_mem_region *r = NULL;
	const char *why = NULL;

	if (vhu_mem_region_map(&d, fd, &r, &why) != 0)
		return NULL;
	return r;
}

VHU_TEST(fast, mem_map_fd)
{
	struct vhu_mem_region_desc d = { 0x1000, PG, 0x7000000, 0 };
	struct vhu_mem_region *r = NULL;
	const char *why = NULL;
	uint8_t *p;
	int fd, efd;

	fd = memfd_of(4 * PG);
	TEST_ASSERT(fd >= 0, "memfd");
	p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(p != MAP_FAILED, "mmap");
	p[PG + 100] = 0xab;
	/* an offset that is not page aligned */
	d.mmap_offset = PG + 100;
	d.memory_size = 2 * PG;
	TEST_ASSERT_EQ(vhu_mem_region_map(&d, fd, &r, &why), 0, "map at offset");
	TEST_ASSERT_EQ(*(uint8_t *)(uintptr_t)r->host, 0xab, "offset honoured");
	TEST_ASSERT_EQ(r->gpa_end, 0x1000 + 2 * PG, "gpa_end");
	TEST_ASSERT_EQ(r->fd, -1, "fd not kept");
	vhu_mem_region_unmap(r);
	/* larger than the file */
	d.mmap_offset = 3 * PG;
	TEST_ASSERT_EQ(vhu_mem_region_map(&d, fd, &r, &why), -EINVAL, "beyond the file");
	/* an eventfd cannot be guest memory */
	efd = eventfd(0, EFD_CLOEXEC);
	d.mmap_offset = 0;
	TEST_ASSERT(vhu_mem_region_map(&d, efd, &r, &why) != 0, "eventfd");
	TEST_ASSERT(vhu_mem_region_map(&d, -1, &r, &why) != 0, "no fd");
	d.memory_size = 0;
	TEST_ASSERT_EQ(vhu_mem_region_map(&d, fd, &r, &why), -EINVAL, "empty");
	close(efd);
	munmap(p, 4 * PG);
	close(fd);
	return TEST_SUCCESS;
}

VHU_TEST(fast, mem_tables)
{
	struct vhu_mem_region *a, *b, *c;
	struct vhu_mem *t1 = NULL, *t2 = NULL, *t3 = NULL;
	const char *why = NULL;
	uint8_t *host;
	uint64_t gpa;
	int fd;

	fd = memfd_of(8 * PG);
	TEST_ASSERT(fd >= 0, "memfd");
	a = map_region(fd, 0x100000, 2 * PG, 0x7f0000000000ull, 0);
	b = map_region(fd, 0x10000, 2 * PG, 0x7f0000100000ull, 2 * PG);
	c = map_region(fd, 0x100000 + PG, PG, 0x7f0000200000ull, 4 * PG);
	TEST_ASSERT(a && b && c, "map");
	TEST_ASSERT_EQ(vhu_mem_with(NULL, a, 4, &t1, &why), 0, "t1 = {a}");
	TEST_ASSERT_EQ(vhu_mem_with(t1, b, 4, &t2, &why), 0, "t2 = {b, a}");
	TEST_ASSERT_EQ(t2->nregions, 2, "two");
	TEST_ASSERT(t2->regions[0] == b && t2->regions[1] == a, "sorted by gpa");
	TEST_ASSERT_EQ(a->refs, 2, "a shared by two tables");
	TEST_ASSERT_EQ(vhu_mem_with(t2, c, 4, &t3, &why), -EEXIST, "c overlaps a");
	vhu_mem_free(t1);
	TEST_ASSERT_EQ(a->refs, 1, "t1 dropped");
	/* translations */
	*(uint8_t *)(uintptr_t)(a->host + PG) = 0x42;
	host = vhu_gpa_to_host(t2, 0x100000 + PG, PG);
	TEST_ASSERT(host != NULL && *host == 0x42, "gpa inside a");
	TEST_ASSERT(vhu_gpa_to_host(t2, 0x100000 + PG, PG + 1) == NULL, "crosses a's end");
	TEST_ASSERT(vhu_gpa_to_host(t2, 0x100000 + 2 * PG, 1) == NULL, "just past a");
	TEST_ASSERT(vhu_gpa_to_host(t2, 0x100000 - 1, 1) == NULL, "just before a");
	TEST_ASSERT(vhu_gpa_to_host(t2, ~0ull, 2) == NULL, "wrap");
	{
		uint64_t len = 4 * PG;

		host = vhu_gpa_to_host_part(t2, 0x10000 + 100, &len);
		TEST_ASSERT(host != NULL && len == 2 * PG - 100, "clipped to the region");
	}
	TEST_ASSERT(vhu_mem_uva_to_host(t2, 0x7f0000000000ull + PG, PG) == (void *)(uintptr_t)(a->host + PG),
		    "uva");
	TEST_ASSERT(vhu_mem_uva_to_host(t2, 0x7f0000000000ull + PG, PG + 1) == NULL, "uva end");
	TEST_ASSERT(vhu_mem_uva_to_host(t2, 0x7f0000000000ull, 0) == NULL, "empty range");
	TEST_ASSERT_EQ(vhu_mem_uva_to_gpa(t2, 0x7f0000100010ull, 16, &gpa), 0, "uva -> gpa");
	TEST_ASSERT_EQ(gpa, 0x10010, "gpa");
	TEST_ASSERT_EQ(vhu_mem_uva_to_gpa(t2, 0x7f0000300000ull, 1, &gpa), -EFAULT, "unmapped");
	TEST_ASSERT_EQ(vhu_mem_top_gpa(t2), 0x100000 + 2 * PG, "top");
	/* remove a; b survives in the new table; a unmapped with the last table */
	TEST_ASSERT_EQ(vhu_mem_without(t2, 0x100000, 0x7f0000000000ull, PG, &t3), -ENOENT,
		       "size must match");
	TEST_ASSERT_EQ(vhu_mem_without(t2, 0x100000, 0x7f0000000000ull, 2 * PG, &t3), 0, "remove a");
	TEST_ASSERT_EQ(t3->nregions, 1, "one left");
	TEST_ASSERT_EQ(b->refs, 2, "b in t2 and t3");
	vhu_mem_free(t2);
	TEST_ASSERT_EQ(b->refs, 1, "b in t3");
	TEST_ASSERT(vhu_gpa_to_host(t3, 0x10000, 1) != NULL, "b still mapped");
	/* capacity */
	t1 = vhu_mem_new(1);
	TEST_ASSERT(t1 != NULL, "new");
	TEST_ASSERT_EQ(vhu_mem_with(t3, c, 1, &t2, &why), -ENOSPC, "full");
	vhu_mem_free(t1);
	vhu_mem_free(t3);
	vhu_mem_region_unmap(c);
	vhu_mem_free(NULL);
	close(fd);
	return TEST_SUCCESS;
}

VHU_TEST(fast, mem_509_regions)
{
	const uint64_t n = VHU_MAX_MEM_SLOTS;
	struct vhu_mem *t = NULL, *next;
	const char *why = NULL;
	uint64_t i;
	uint8_t *p, *h;
	int fd;

	fd = memfd_of(n * PG);
	TEST_ASSERT(fd >= 0, "memfd");
	p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(p != MAP_FAILED, "mmap");
	/* inserted in a scrambled order, with holes between regions */
	for (i = 0; i < n; i++) {
		uint64_t k = (i * 211) % n;
		struct vhu_mem_region *r;

		p[k * PG] = (uint8_t)k;
		r = map_region(fd, 0x100000000ull + k * 3 * PG, PG, 0x500000000000ull + k * PG,
			       k * PG);
		TEST_ASSERT(r != NULL, "map %u", (unsigned int)k);
		TEST_ASSERT_EQ(vhu_mem_with(t, r, VHU_MAX_MEM_SLOTS, &next, &why), 0, "add");
		vhu_mem_free(t);
		t = next;
	}
	TEST_ASSERT_EQ(t->nregions, n, "509");
	for (i = 1; i < n; i++)
		TEST_ASSERT(t->regions[i - 1]->gpa < t->regions[i]->gpa, "sorted");
	for (i = 0; i < n; i++) {
		h = vhu_gpa_to_host(t, 0x100000000ull + i * 3 * PG, 1);
		TEST_ASSERT(h != NULL && *h == (uint8_t)i, "region %u", (unsigned int)i);
		TEST_ASSERT(vhu_gpa_to_host(t, 0x100000000ull + i * 3 * PG + PG, 1) == NULL, "hole");
		TEST_ASSERT(vhu_gpa_to_host(t, 0x100000000ull + i * 3 * PG + PG - 1, 1) != NULL,
			    "last byte");
	}
	TEST_ASSERT(vhu_gpa_to_host(t, 0xffffffffull, 1) == NULL, "below all");
	/* the last-hit hint: follows lookups, never misleads */
	h = vhu_gpa_to_host(t, 0x100000000ull + 300 * 3 * PG + 5, 1);
	TEST_ASSERT_EQ(t->hint, 300, "hint on the last region found");
	TEST_ASSERT(h != NULL && h[-5] == (uint8_t)300, "hit");
	h = vhu_gpa_to_host(t, 0x100000000ull + 300 * 3 * PG + PG, 1);
	TEST_ASSERT(h == NULL, "a hole next to the hinted region");
	t->hint = 100000;                 /* garbage hint: ignored */
	h = vhu_gpa_to_host(t, 0x100000000ull + 7 * 3 * PG, 1);
	TEST_ASSERT(h != NULL && *h == 7, "garbage hint");
	TEST_ASSERT_EQ(t->hint, 7, "hint repaired");
	vhu_mem_free(t);
	munmap(p, n * PG);
	close(fd);
	return TEST_SUCCESS;
}

/* Hugepage-backed memory: mapped in whole huge pages, offsets honoured. */
VHU_TEST(fast, mem_map_hugetlb)
{
	const uint64_t hp = 2ull << 20;
	struct vhu_mem_region_desc d = { 0x100000000ull, hp, 0x600000000000ull, hp + 4096 };
	struct vhu_mem_region *r = NULL;
	const char *why = NULL;
	uint8_t *p;
	int fd;

	fd = memfd_create("test-huge", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd < 0 || ftruncate(fd, (off_t)(3 * hp)) != 0) {
		if (fd >= 0)
			close(fd);
		TEST_LOG("no 2 MB huge pages available: %s", strerror(errno));
		return TEST_SKIPPED;
	}
	p = mmap(NULL, 3 * hp, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		TEST_LOG("huge pages not mappable");
		return TEST_SKIPPED;
	}
	p[hp + 4096] = 0x77;
	p[2 * hp + 4095] = 0x88;
	TEST_ASSERT_EQ(vhu_mem_region_map(&d, fd, &r, &why), 0, "map: %s", why ? why : "");
	TEST_ASSERT_EQ(r->map_len % hp, 0, "whole huge pages");
	TEST_ASSERT_EQ((uintptr_t)r->map_addr % hp, 0, "huge page aligned");
	TEST_ASSERT_EQ(*(uint8_t *)(uintptr_t)r->host, 0x77, "offset honoured");
	TEST_ASSERT_EQ(*(uint8_t *)(uintptr_t)(r->host + hp - 1), 0x88, "last byte");
	vhu_mem_region_unmap(r);
	munmap(p, 3 * hp);
	close(fd);
	return TEST_SUCCESS;
}
