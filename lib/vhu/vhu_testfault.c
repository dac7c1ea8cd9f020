/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* Test-only fault switches: see vhu_testfault.h. */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vhu_log.h"
#include "vhu_obj.h"
#include "vhu_testfault.h"

uint8_t
vhu_test_fault_get(const char *ifname)
{
	const char *env = getenv("VHU_TEST_FAULT");

	if (env == NULL || env[0] == '\0')
		return 0;
	if (strcmp(env, "drop-dirty-bit") == 0) {
		VHU_LOG_CONFIG(WARNING, ifname,
				"TEST FAULT armed (VHU_TEST_FAULT=drop-dirty-bit): guest receive "
				"buffers written while migrating are left out of the dirty log");
		return VHU_TEST_FAULT_DROP_DIRTY;
	}
	VHU_LOG_CONFIG(ERR, ifname, "VHU_TEST_FAULT=%s is not a known fault: none armed", env);
	return 0;
}

void
vhu_test_fault_report(const struct vhu_dev *dev)
{
	if (dev->test_fault & VHU_TEST_FAULT_DROP_DIRTY)
		VHU_LOG_CONFIG(WARNING, dev->ifname,
				"TEST FAULT drop-dirty-bit: %" PRIu64
				" buffer writes were left out of the dirty log",
				__atomic_load_n(&dev->test_fault_hits, __ATOMIC_RELAXED));
}
