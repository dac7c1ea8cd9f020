/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Helpers shared by the fuzz harnesses. */

#include <fcntl.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>

#include "fuzz_harness.h"
#include "fuzz_util.h"

static int
lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

static uint64_t
heap_allocs(void)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < rte_socket_count(); i++) {
		struct rte_malloc_socket_stats st;

		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &st) == 0)
			n += st.alloc_count;
	}
	return n;
}

void
fz_leaks_mark(struct fz_leaks *l)
{
	l->low_fd = lowest_free_fd();
	l->heap_allocs = heap_allocs();
}

int
fz_leaks_check(const struct fz_leaks *before, const char **why)
{
	if (lowest_free_fd() != before->low_fd) {
		*why = "a file descriptor was left open";
		return -1;
	}
	if (heap_allocs() != before->heap_allocs) {
		*why = "an rte_malloc block was left allocated";
		return -1;
	}
	return 0;
}

bool
fz_mbuf_bad(const struct rte_mbuf *m, const char **why)
{
	const struct rte_mbuf *s;
	const char *reason = NULL;
	uint32_t sum = 0, n = 0;

	if (rte_mbuf_check(m, 1, &reason) != 0) {
		*why = reason != NULL ? reason : "rte_mbuf_check";
		return true;
	}
	for (s = m; s != NULL; s = s->next) {
		sum += s->data_len;
		n++;
	}
	if (sum != m->pkt_len || n != m->nb_segs || m->pkt_len == 0) {
		*why = "mbuf lengths do not add up";
		return true;
	}
	return false;
}

void
fz_frame(uint8_t *buf, uint32_t len, uint32_t seed)
{
	static const uint8_t hdr[14] = {
		0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x88, 0xb5,
	};
	uint32_t i;

	for (i = 0; i < len; i++)
		buf[i] = i < sizeof(hdr) ? hdr[i] : (uint8_t)(seed * 31 + i * 7);
}

void
vhu_fuzz_quiet(int quiet)
{
	rte_log_set_level_pattern("lib.vhu.config", quiet ? RTE_LOG_EMERG : RTE_LOG_INFO);
	rte_log_set_level_pattern("lib.vhu.data", quiet ? RTE_LOG_EMERG : RTE_LOG_WARNING);
}
