/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Fuzz harnesses: one function per target that runs one input against the
 * library's internal entry points, with no thread and no socket listener.
 * They are linked into the libFuzzer executables (app/fuzz, clang with
 * -fsanitize=fuzzer) and into vhu-test, which replays the kept corpus
 * (app/fuzz/corpus/<target>/) as regression inputs.
 *
 * EAL must be initialised before the first call. Each run returns 0, or
 * -1 when an invariant broke (fd, mbuf or heap leak; a corrupted mbuf; a
 * byte of guest memory written outside the buffers the guest offered);
 * *why then says which. A memory error is found by the sanitizers and the
 * guard pages around guest memory, not by the return value.
 */

#ifndef VHU_FUZZ_HARNESS_H
#define VHU_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* Message stream (codec + dispatcher + handlers) against one device. */
int vhu_fuzz_msg_run(const uint8_t *data, size_t len, const char **why);

/* Split ring: fuzzed rings and buffers in guest memory, both directions. */
int vhu_fuzz_split_run(const uint8_t *data, size_t len, const char **why);

/* Packed ring, same shape as the split target. */
int vhu_fuzz_packed_run(const uint8_t *data, size_t len, const char **why);

/* Quiet the library's log types (fuzzing runs millions of faults). */
void vhu_fuzz_quiet(int quiet);

#endif /* VHU_FUZZ_HARNESS_H */
