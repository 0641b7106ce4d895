/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's taint flags for the KSM kselftests: read at the start of
 * every fixture's setup (ksmt_test_begin()), then checked at the end of
 * its teardown (ksmt_test_end() in ksm_harness.h): no test may taint the
 * kernel (a WARNING, a bad page, an oops). Part of ksm_util.h.
 */
#ifndef KSM_TAINT_H
#define KSM_TAINT_H

/* Taints of a BUG or oops, a bad page, a WARNING and a soft lockup. */
#define KSMT_TAINT_BAD	((1UL << 5) | (1UL << 7) | (1UL << 9) | (1UL << 14))

/* The kernel's taint flags, 0 if they cannot be read. */
unsigned long ksmt_read_taint(void);

/* When the test of this process started (each test runs in its own). */
extern double ksmt_test_started;

/* The start of every fixture's setup: the kernel's taint flags so far. */
unsigned long ksmt_test_begin(void);

#endif /* KSM_TAINT_H */
