/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Test-only fault switches. A test that must prove a check can fail needs
 * the back-end to misbehave on purpose: VHU_TEST_FAULT in the environment,
 * read once when a device is created, arms a fault on that device. Never
 * set it outside a test: an armed fault corrupts guests on purpose.
 *
 *   VHU_TEST_FAULT=drop-dirty-bit
 *       While the dirty log is on (live migration), the guest receive
 *       buffers the back-end writes are left out of the log; ring writes
 *       are still logged. A migrated guest then finds stale bytes in the
 *       buffers it had not read before the switch-over.
 *
 * The switch is always compiled: it costs one flag test on a path that
 * runs only while a migration logs dirty pages, and the suite that shows
 * the migration check catching the fault runs against the build everybody
 * uses, not a second one.
 */

#ifndef VHU_TESTFAULT_H
#define VHU_TESTFAULT_H

#include <stdint.h>

/* dev->test_fault bits */
#define VHU_TEST_FAULT_DROP_DIRTY 1u

struct vhu_dev;

/* The faults VHU_TEST_FAULT arms for a new device (0: none); logs a warning
 * naming the device when one is armed, and an error for an unknown value. */
uint8_t vhu_test_fault_get(const char *ifname);

/* When the device had a fault armed: say how often it struck (device freed). */
void vhu_test_fault_report(const struct vhu_dev *dev);

#endif /* VHU_TESTFAULT_H */
