/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Helpers shared by the fuzz harnesses: reading the input, leak marks. */

#ifndef VHU_FUZZ_UTIL_H
#define VHU_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>

/* The unread rest of an input; reads past its end give zeros. */
struct fz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t
fz_u8(struct fz_in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static inline void
fz_bytes(struct fz_in *in, void *dst, size_t len)
{
	size_t l = len < in->n ? len : in->n;

	memcpy(dst, in->p, l);
	memset((uint8_t *)dst + l, 0, len - l);
	in->p += l;
	in->n -= l;
}

static inline uint16_t
fz_u16(struct fz_in *in)
{
	uint16_t v;

	fz_bytes(in, &v, sizeof(v));
	return v;
}

static inline uint32_t
fz_u32(struct fz_in *in)
{
	uint32_t v;

	fz_bytes(in, &v, sizeof(v));
	return v;
}

static inline uint64_t
fz_u64(struct fz_in *in)
{
	uint64_t v;

	fz_bytes(in, &v, sizeof(v));
	return v;
}

/* What must be back to where it was once a run is over. */
struct fz_leaks {
	int low_fd;                  /* lowest free fd number */
	uint64_t heap_allocs;        /* rte_malloc blocks in use */
};

void fz_leaks_mark(struct fz_leaks *l);
/* 0, or -1 with *why when an fd or an rte_malloc block was left behind. */
int fz_leaks_check(const struct fz_leaks *before, const char **why);

/* A consistent mbuf (rte_mbuf_check, lengths add up)? false when fine. */
bool fz_mbuf_bad(const struct rte_mbuf *m, const char **why);

/* An Ethernet frame of len bytes with a pattern. */
void fz_frame(uint8_t *buf, uint32_t len, uint32_t seed);

#endif /* VHU_FUZZ_UTIL_H */
