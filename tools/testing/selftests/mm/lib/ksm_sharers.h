/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sharers for the KSM kselftests: the test and holder processes with
 * regions of the same group contents, the model of the counters they
 * give, and what a process's pages are (a swap entry, a frame's flag,
 * its KSM: total in smaps_rollup). Plain functions returning errors; the
 * checks that take a test's _metadata are in ksm_sharers_check.h.
 */
#ifndef KSM_SHARERS_H
#define KSM_SHARERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#include "ksm_util.h"

/* Processes sharing contents in one test, the test itself included. */
#define KSMT_MAX_PROCS	4
/* Regions of the test's own besides its first one. */
#define KSMT_MAX_EXTRA	3
#define KSMT_MAX_GROUPS	64

/* Whether addr of process pid is a swap (or poison) entry. */
bool ksmt_swapped_at(pid_t pid, const void *addr);
/* Whether bit of the /proc/kpageflags word of frame pfn is set. */
bool ksmt_frame_flag(unsigned long pfn, int bit);
/* The KSM: line of /proc/<pid>/smaps_rollup in kB, -1 if not found. */
long ksmt_ksm_kb_of(pid_t pid);

/*
 * Sharers: the test itself (process 0) and holders (ksmt_spawn_holder_at,
 * processes 1..n-1), each with a region of the same group contents, one
 * copy of each group per process, among unique pages. The test may map
 * more regions later (extra), with group contents of the same groups.
 */
struct ksmt_sharers {
	int n;
	pid_t pid[KSMT_MAX_PROCS];
	struct ksmt_chan ch[KSMT_MAX_PROCS];
	struct ksmt_layout l[KSMT_MAX_PROCS];
	char *base[KSMT_MAX_PROCS];
	int groups;
	u64 group_ns;
	/* Page index of group g in region j, fixed when it is mapped. */
	size_t idx[KSMT_MAX_PROCS][KSMT_MAX_GROUPS];
	int nextra;
	struct ksmt_layout extra[KSMT_MAX_EXTRA];
	char *extra_base[KSMT_MAX_EXTRA];
	size_t extra_idx[KSMT_MAX_EXTRA][KSMT_MAX_GROUPS];
};

/*
 * Maps n regions of groups group contents and unique[j] unique pages in
 * n processes; ns picks the contents. Returns 0 or -errno.
 */
int ksmt_sharers_start(struct ksmt_sharers *s, int n, int groups,
		       const int *unique, u64 ns);
/*
 * One more region of the test's own: per_group copies of groups group
 * contents of namespace ns (those of the sharers if ns is their
 * group_ns). Returns 0 or -errno.
 */
int ksmt_sharers_add_region(struct ksmt_sharers *s, u64 ns, int groups,
			    int per_group, u64 seed);
/* One more region of the test's own with a copy of every group. */
int ksmt_sharers_add_extra(struct ksmt_sharers *s, u64 seed);
/*
 * The counters the model expects: in total, and for each process (the
 * test's extra regions added to its own). merged as for
 * ksmt_expect_layouts().
 */
int ksmt_sharers_expect(struct ksmt_sharers *s, bool merged,
			struct ksmt_expect *total, struct ksmt_expect *each);
/* How many groups are on another frame in now[] than in then[]. */
int ksmt_frames_moved(const struct ksmt_sharers *s,
		      const unsigned long *then, const unsigned long *now);

#endif /* KSM_SHARERS_H */
