/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Guest memory regions: mapping the front-end's fds, immutable sorted
 * tables shared between generations (a region is unmapped when the last
 * table holding it is freed), and the front-end-address translations the
 * control plane needs for ring addresses.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhu_codec.h"
#include "vhu_mem.h"

int
vhu_map_fd_range(int fd, uint64_t offset, uint64_t size, void **map,
		 size_t *map_len, void **start, const char **why)
{
	uint64_t align, map_off, len;
	long pg = sysconf(_SC_PAGESIZE);
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st) != 0) {
		*why = "bad memory fd";
		return -EBADF;
	}
	/* a device's size cannot be checked: pages past its end fault (SIGBUS) */
	if (!S_ISREG(st.st_mode)) {
		*why = "memory fd is not a regular file";
		return -EINVAL;
	}
	if ((uint64_t)st.st_size < offset + size) {
		*why = "memory fd smaller than offset + size";
		return -EINVAL;
	}
	align = (uint64_t)pg;
	/* hugetlbfs reports its page size in st_blksize: map in whole huge pages */
	if (st.st_blksize > pg && (st.st_blksize & (st.st_blksize - 1)) == 0)
		align = (uint64_t)st.st_blksize;
	map_off = offset & ~(align - 1);
	len = offset + size - map_off;
	if (len + align - 1 < len) {
		*why = "memory region too large";
		return -EINVAL;
	}
	len = (len + align - 1) & ~(align - 1);
	/*
	 * Mapped inaccessible, then opened: an application that called
	 * mlockall(MCL_FUTURE) (dpdk-testpmd does) would otherwise have the
	 * kernel read in every page at mmap time, and on a postcopy
	 * destination a page still on its way would be created, zeroed,
	 * under the guest. Shared mappings are not populated by mprotect.
	 */
	p = mmap(NULL, len, PROT_NONE, MAP_SHARED | MAP_NORESERVE, fd, (off_t)map_off);
	if (p == MAP_FAILED) {
		*why = "mmap of memory fd failed";
		return -errno;
	}
	if (mprotect(p, len, PROT_READ | PROT_WRITE) != 0) {
		int err = errno;

		munmap(p, len);
		*why = "mprotect of the memory mapping failed";
		return -err;
	}
	*map = p;
	*map_len = len;
	*start = (uint8_t *)p + (offset - map_off);
	return 0;
}

int
vhu_mem_region_map(const struct vhu_mem_region_desc *d, int fd,
		   struct vhu_mem_region **out, const char **why)
{
	struct vhu_mem_region *r;
	void *start = NULL;
	int rc;

	if (vhu_check_region(d, why) != 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		*why = "out of memory";
		return -ENOMEM;
	}
	rc = vhu_map_fd_range(fd, d->mmap_offset, d->memory_size, &r->map_addr,
			      &r->map_len, &start, why);
	if (rc != 0) {
		free(r);
		return rc;
	}
	r->gpa = d->guest_phys_addr;
	r->size = d->memory_size;
	r->gpa_end = d->guest_phys_addr + d->memory_size;
	r->uva = d->userspace_addr;
	r->host = (uint64_t)(uintptr_t)start;
	r->fd = -1;      /* the mapping keeps the memory; the fd is not needed */
	r->refs = 0;
	r->adds = 1;
	*out = r;
	return 0;
}

void
vhu_mem_region_unmap(struct vhu_mem_region *r)
{
	if (r == NULL)
		return;
	if (r->map_addr != NULL)
		munmap(r->map_addr, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

struct vhu_mem *
vhu_mem_new(uint32_t capacity)
{
	struct vhu_mem *m;

	m = calloc(1, sizeof(*m) + sizeof(m->regions[0]) * capacity);
	if (m != NULL)
		m->capacity = capacity;
	return m;
}

static int
ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a <= b + (blen - 1) && b <= a + (alen - 1);
}

int
vhu_mem_with(const struct vhu_mem *old, struct vhu_mem_region *r,
	     uint32_t capacity, struct vhu_mem **out, const char **why)
{
	uint32_t n = old != NULL ? old->nregions : 0;
	uint32_t i, j = 0;
	struct vhu_mem *m;

	if (n >= capacity) {
		*why = "no free memory slot";
		return -ENOSPC;
	}
	for (i = 0; i < n; i++) {
		const struct vhu_mem_region *o = old->regions[i];

		if (ranges_overlap(o->gpa, o->size, r->gpa, r->size)) {
			*why = "memory region overlaps another in guest physical space";
			return -EEXIST;
		}
		if (ranges_overlap(o->uva, o->size, r->uva, r->size)) {
			*why = "memory region overlaps another in front-end address space";
			return -EEXIST;
		}
	}
	m = vhu_mem_new(capacity);
	if (m == NULL) {
		*why = "out of memory";
		return -ENOMEM;
	}
	for (i = 0; i < n && old->regions[i]->gpa < r->gpa; i++)
		m->regions[j++] = old->regions[i];
	m->regions[j++] = r;
	for (; i < n; i++)
		m->regions[j++] = old->regions[i];
	m->nregions = j;
	for (i = 0; i < j; i++)
		m->regions[i]->refs++;
	*out = m;
	return 0;
}

struct vhu_mem_region *
vhu_mem_find_exact(const struct vhu_mem *m, uint64_t gpa, uint64_t uva, uint64_t size)
{
	uint32_t i;

	if (m == NULL)
		return NULL;
	for (i = 0; i < m->nregions; i++) {
		struct vhu_mem_region *o = m->regions[i];

		if (o->gpa == gpa && o->uva == uva && o->size == size)
			return o;
	}
	return NULL;
}

int
vhu_mem_without(const struct vhu_mem *old, uint64_t gpa, uint64_t uva,
		uint64_t size, struct vhu_mem **out)
{
	uint32_t i, j = 0, found = 0;
	struct vhu_mem *m;

	if (old == NULL)
		return -ENOENT;
	for (i = 0; i < old->nregions; i++) {
		const struct vhu_mem_region *o = old->regions[i];

		if (o->gpa == gpa && o->uva == uva && o->size == size)
			found = 1;
	}
	if (!found)
		return -ENOENT;
	m = vhu_mem_new(old->capacity);
	if (m == NULL)
		return -ENOMEM;
	for (i = 0; i < old->nregions; i++) {
		struct vhu_mem_region *o = old->regions[i];

		if (o->gpa == gpa && o->uva == uva && o->size == size)
			continue;
		o->refs++;
		m->regions[j++] = o;
	}
	m->nregions = j;
	*out = m;
	return 0;
}

void
vhu_mem_free(struct vhu_mem *m)
{
	uint32_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nregions; i++) {
		struct vhu_mem_region *r = m->regions[i];

		if (--r->refs == 0)
			vhu_mem_region_unmap(r);
	}
	free(m);
}

uint64_t
vhu_mem_top_gpa(const struct vhu_mem *m)
{
	uint64_t top = 0;
	uint32_t i;

	if (m == NULL)
		return 0;
	for (i = 0; i < m->nregions; i++)
		if (m->regions[i]->gpa_end > top)
			top = m->regions[i]->gpa_end;
	return top;
}

/* The region holding [uva, uva + len), front-end addresses are not sorted. */
static const struct vhu_mem_region *
find_uva(const struct vhu_mem *m, uint64_t uva, uint64_t len)
{
	uint32_t i;

	if (m == NULL || len == 0)
		return NULL;
	for (i = 0; i < m->nregions; i++) {
		const struct vhu_mem_region *r = m->regions[i];

		if (uva >= r->uva && uva - r->uva < r->size &&
		    len <= r->size - (uva - r->uva))
			return r;
	}
	return NULL;
}

void *
vhu_mem_uva_to_host(const struct vhu_mem *m, uint64_t uva, uint64_t len)
{
	const struct vhu_mem_region *r = find_uva(m, uva, len);

	if (r == NULL)
		return NULL;
	return (void *)(uintptr_t)(r->host + (uva - r->uva));
}

int
vhu_mem_uva_to_gpa(const struct vhu_mem *m, uint64_t uva, uint64_t len, uint64_t *gpa)
{
	const struct vhu_mem_region *r = find_uva(m, uva, len);

	if (r == NULL)
		return -EFAULT;
	*gpa = r->gpa + (uva - r->uva);
	return 0;
}

void
vhu_log_iova(struct vhu_dev *dev, uint64_t iova, uint64_t len)
{
	uint64_t cur = iova, rem = len;

	while (rem != 0) {
		const struct vhu_mem_region *r = vhu_mem_find_gpa(dev->iova_all, cur);
		uint64_t piece, gpa;

		if (r == NULL)
			return;
		piece = RTE_MIN(rem, r->gpa_end - cur);
		/* a piece may cross guest regions: log what translates, one page at a time at worst */
		while (piece != 0) {
			uint64_t uva = r->uva + (cur - r->gpa);
			uint64_t step = RTE_MIN(piece, VHU_LOG_PAGE - (uva % VHU_LOG_PAGE));

			if (vhu_mem_uva_to_gpa(dev->mem, uva, step, &gpa) == 0)
				vhu_log_gpa(dev, gpa, step);
			cur += step;
			piece -= step;
			rem -= step;
		}
	}
}
