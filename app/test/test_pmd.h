/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Helpers shared by the net_vhu tests (test_pmd.c, test_pmd_peer.c). */

#ifndef TEST_PMD_H
#define TEST_PMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

/* mkdtemp under /tmp. */
int pmd_tmpdir(char *dir, size_t len);
/* Remove the files in dir, then dir. */
void pmd_rmdir(const char *dir);
/* Open fds of this process. */
int pmd_count_fds(void);
/* The fd count once it equals want, or once it has held still for 50 ms (2 s at most). */
int pmd_fds_settled(int want);
bool pmd_file_exists(const char *path);
/* Configure nq rx and tx queues (256 descriptors) with conf (NULL: all zero). */
int pmd_port_setup(uint16_t port_id, uint16_t nq, struct rte_mempool *mp,
		const struct rte_eth_conf *conf);
/* Stop and remove a vdev port by name. */
int pmd_close(const char *name);
/* Bytes allocated in the DPDK heaps (all sockets). */
size_t pmd_heap_used(void);

#endif /* TEST_PMD_H */
