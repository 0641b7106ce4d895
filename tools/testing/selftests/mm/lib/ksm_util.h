/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the KSM kselftests (ksm_*.c), one header for all:
 * the constants here, and by concern ksm_sysfs.h (the files of KSM, the
 * knobs, the counters, waiting for ksmd), ksm_pages.h (page contents,
 * layouts and the model of what they merge into), ksm_procs.h (workers,
 * holders, children), ksm_numa.h (nodes and moving pages),
 * ksm_frames.h (what pages map: pagemap, kpageflags), ksm_trace.h
 * (KSM's tracepoints) and ksm_taint.h (the kernel's taint flags).
 */
#ifndef KSM_UTIL_H
#define KSM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

#define KSMT_DIR		"/sys/kernel/mm/ksm"
/* The page size, from sysconf(): 4K, 16K or 64K, as the kernel runs. */
#define KSMT_PAGE_SIZE		ksmt_page_size()
/* The tests' short name for it. */
#define PAGE			KSMT_PAGE_SIZE
/* The largest page size a test buffer must hold. */
#define KSMT_MAX_PAGE_SIZE	65536UL
/* Seconds a wait for ksmd may take before the test fails. */
#define KSMT_SCAN_TIMEOUT	60
/* Seconds a test that waits for ksmd may take (kselftest harness). */
#define KSMT_TEST_TIMEOUT	90
/* Pages per ksmd batch and ms between batches while a test runs. */
#define KSMT_PAGES_TO_SCAN	5000
#define KSMT_SLEEP_MS		0

#include "ksm_sysfs.h"
#include "ksm_pages.h"
#include "ksm_procs.h"
#include "ksm_numa.h"
#include "ksm_frames.h"
#include "ksm_trace.h"
#include "ksm_taint.h"

#endif /* KSM_UTIL_H */
