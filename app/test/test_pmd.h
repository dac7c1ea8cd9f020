/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Helpers shared by the net_vhu tests (test_pmd.c, test_pmd_peer.c). */

#ifndef TEST_PMD_H
#define TEST_PMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "vhu_test.h"

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

/*
 * A case's scene: a private directory (dir), the ethdev ports of the
 * process, the processes it started (pmd_track). Fixture pmd_env: setup
 * makes dir; teardown waits for the worker lcores' jobs, kills and reaps
 * the tracked processes and removes their EAL files, closes every port
 * left (virtio-user front-ends first) and removes dir.
 */
struct pmd_env {
	char dir[64];
};
extern const struct vhu_test_fixture vhu_fixture_pmd_env;
/* Remember a process the case started, with its EAL --file-prefix (NULL: none). */
void pmd_track(pid_t pid, const char *eal_prefix);
/* It was reaped: nothing to kill any more (its EAL files go at teardown). */
void pmd_untrack(pid_t pid);
/* Close every port of this process: front-ends first, then the others. */
void pmd_close_all(void);
/* What pmd_env's teardown does (for a fixture that embeds a pmd_env). */
void pmd_env_down(struct pmd_env *e);

#endif /* TEST_PMD_H */
