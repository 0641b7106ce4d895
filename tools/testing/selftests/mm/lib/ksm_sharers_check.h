/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Checks on sharers (ksm_sharers.h) for the KSM kselftests: their data,
 * their frames, their counters, and merging and copy-on-write after a
 * KSM page moved. Static inline functions: include after
 * kselftest_harness.h and vm_util.h (the pagemap bits). Each takes the
 * test's _metadata, so failures count for the calling test.
 */
#ifndef KSM_SHARERS_CHECK_H
#define KSM_SHARERS_CHECK_H

#include <sys/mman.h>
#include <sys/wait.h>

#include "ksm_sharers.h"
#include "ksm_harness.h"

/* Ends the holders (each checks its data once more) and unmaps. */
static inline void ksmt_sharers_stop(struct __test_metadata *_metadata,
				     struct ksmt_sharers *s)
{
	int j, status;

	for (j = 1; j < s->n; j++) {
		if (s->pid[j] <= 0)
			continue;
		/*
		 * Holders forked later hold copies of this one's pipes, so
		 * closing ours is no end of file for it: ask it to quit.
		 */
		ksmt_send(s->ch[j].down[1], 'q');
		ksmt_chan_close(&s->ch[j]);
		status = ksmt_waitpid(s->pid[j], KSMT_SCAN_TIMEOUT);
		if (status < 0)
			ksmt_kill(s->pid[j]);
		EXPECT_TRUE(status >= 0 && WIFEXITED(status) &&
			    !WEXITSTATUS(status));
		munmap(s->base[j], s->l[j].npages * PAGE);
	}
	if (s->n && s->base[0] && s->base[0] != MAP_FAILED)
		munmap(s->base[0], s->l[0].npages * PAGE);
	for (j = 0; j < s->nextra; j++) {
		munmap(s->extra_base[j], s->extra[j].npages * PAGE);
		ksmt_layout_free(&s->extra[j]);
	}
	for (j = 0; j < s->n; j++)
		ksmt_layout_free(&s->l[j]);
	s->n = 0;
	s->nextra = 0;
}

/* Every process's data as it should be. */
static inline void ksmt_sharers_verify(struct __test_metadata *_metadata,
				       struct ksmt_sharers *s)
{
	int j;

	ksmt_expect_layout(_metadata, &s->l[0], s->base[0]);
	for (j = 0; j < s->nextra; j++)
		ksmt_expect_layout(_metadata, &s->extra[j], s->extra_base[j]);
	for (j = 1; j < s->n; j++)
		EXPECT_EQ(0, ksmt_holder_verify(&s->ch[j]));
}

/*
 * The frame of group g: every page that still holds the group's content,
 * in every process, must map one and the same frame, mapped exactly that
 * many times. Returns the frame, 0 on a mismatch (reported).
 */
static inline unsigned long ksmt_group_frame(struct __test_metadata *_metadata,
					     struct ksmt_sharers *s, int g)
{
	unsigned long pfn = 0, got;
	long maps = 0;
	int j;

	for (j = 0; j < s->n + s->nextra; j++) {
		const struct ksmt_layout *l = j < s->n ? &s->l[j] :
					      &s->extra[j - s->n];
		size_t i = j < s->n ? s->idx[j][g] :
			   s->extra_idx[j - s->n][g];
		char *base = j < s->n ? s->base[j] : s->extra_base[j - s->n];
		pid_t pid = j < s->n ? s->pid[j] : s->pid[0];

		if (l->group_ns != s->group_ns || l->klass[i] != g ||
		    l->state[i] != KSMT_TRACKED)
			continue;
		got = ksmt_frame_of(pid, base + i * PAGE);
		if (!pfn)
			pfn = got;
		maps++;
		if (!got || got != pfn) {
			TH_LOG("group %d: region %d maps frame %#lx, not %#lx",
			       g, j, got, pfn);
			return 0;
		}
	}
	if (maps && ksmt_frame_mapcount(pfn) != maps) {
		TH_LOG("group %d: frame %#lx mapped %ld times, not %ld", g,
		       pfn, ksmt_frame_mapcount(pfn), maps);
		return 0;
	}
	return pfn;
}

/* The frames of all groups into pfn[]; the number of groups that fail. */
static inline int ksmt_sharers_frames(struct __test_metadata *_metadata,
				      struct ksmt_sharers *s,
				      unsigned long *pfn)
{
	int g, bad = 0;

	for (g = 0; g < s->groups; g++) {
		pfn[g] = ksmt_group_frame(_metadata, s, g);
		if (!pfn[g])
			bad++;
	}
	return bad;
}

/*
 * With ksmd stopped: the global counters, each process's ksm_stat and
 * its KSM: total against the model, and every group on one frame. The
 * global counters read are copied to *out unless out is NULL.
 */
static inline void ksmt_sharers_expect_now(struct __test_metadata *_metadata,
					   struct ksmt_sharers *s, bool merged,
					   unsigned long *pfn,
					   struct ksmt_counters *out)
{
	struct ksmt_expect e, each[KSMT_MAX_PROCS];
	unsigned long frames[KSMT_MAX_GROUPS];
	struct ksmt_counters c;
	struct ksmt_stat st;
	int j;

	ASSERT_EQ(0, ksmt_sharers_expect(s, merged, &e, each));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ksmt_expect_global(_metadata, &c, &e);
	if (out)
		*out = c;
	for (j = 0; j < s->n; j++) {
		ASSERT_EQ(0, ksmt_read_stat(s->pid[j], &st));
		ksmt_expect_stat(_metadata, &st, &each[j]);
		EXPECT_EQ(each[j].merging * (long)(PAGE / 1024),
			  ksmt_ksm_kb_of(s->pid[j]));
	}
	EXPECT_EQ(0, ksmt_sharers_frames(_metadata, s, pfn ? pfn : frames));
}

/* Lets ksmd settle, checks as ksmt_sharers_expect_now(); ksmd runs again. */
static inline void ksmt_sharers_settle(struct __test_metadata *_metadata,
				       struct ksmt_sharers *s, bool merged,
				       unsigned long *pfn)
{
	ASSERT_EQ(0, ksmt_settle(4));
	ksmt_sharers_expect_now(_metadata, s, merged, pfn, NULL);
	ASSERT_EQ(0, ksmt_run(1));
}

/*
 * After a KSM page moved: new copies of every group, in a new region of
 * the test, merge into the KSM page where it is now (pages_sharing grows
 * by exactly one per group, no new KSM page); then the test writes the
 * page of every other group in its first region: the writer gets a
 * private copy, the others keep the shared frame and their data.
 */
static inline void ksmt_join_then_cow(struct __test_metadata *_metadata,
				      struct ksmt_sharers *s, u64 seed)
{
	unsigned long before[KSMT_MAX_GROUPS], after[KSMT_MAX_GROUPS];
	struct ksmt_counters c0, c1;
	int g, written = 0;

	ASSERT_EQ(0, ksmt_settle(2));
	ASSERT_EQ(0, ksmt_read_counters(&c0));
	ASSERT_EQ(0, ksmt_sharers_frames(_metadata, s, before));
	ASSERT_EQ(0, ksmt_run(1));

	ASSERT_EQ(0, ksmt_sharers_add_extra(s, seed));
	/* c1 too is read with ksmd stopped: one state, the settled one. */
	ASSERT_EQ(0, ksmt_settle(4));
	ksmt_sharers_expect_now(_metadata, s, false, after, &c1);
	EXPECT_EQ(c0.shared, c1.shared);
	EXPECT_EQ(c0.sharing + s->groups, c1.sharing);
	EXPECT_EQ(0, ksmt_frames_moved(s, before, after));

	ASSERT_EQ(0, ksmt_run(0));
	for (g = 0; g < s->groups; g += 2) {
		size_t i = s->idx[0][g];
		char *page = s->base[0] + i * PAGE;
		u64 ent;

		ksmt_layout_make_unique(&s->l[0], s->base[0], i,
					ksmt_unique_key(seed + 1, i));
		ent = ksmt_pagemap_of(s->pid[0], page);
		EXPECT_TRUE(PAGEMAP_PRESENT(ent) && (ent & PM_MMAP_EXCLUSIVE));
		EXPECT_NE(after[g], PAGEMAP_PFN(ent));
		written++;
	}
	ASSERT_LT(0, written);
	ksmt_sharers_verify(_metadata, s);
	/* The others still map the frame they shared, one mapping less. */
	EXPECT_EQ(0, ksmt_sharers_frames(_metadata, s, before));
	EXPECT_EQ(0, ksmt_frames_moved(s, before, after));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ksmt_sharers_expect_now(_metadata, s, false, NULL, &c1);
	EXPECT_EQ(c0.shared, c1.shared);
	EXPECT_EQ(c0.sharing + s->groups - written, c1.sharing);
	ASSERT_EQ(0, ksmt_run(1));
}

/* The global counters now against a reading c0 taken before. */
static inline void ksmt_expect_counters_as(struct __test_metadata *_metadata,
					   const struct ksmt_counters *c0)
{
	struct ksmt_counters c;

	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(c0->shared, c.shared);
	EXPECT_EQ(c0->sharing, c.sharing);
	EXPECT_EQ(c0->unshared + c0->volatile_, c.unshared + c.volatile_);
	EXPECT_EQ(c0->general_profit, c.general_profit);
}

#endif /* KSM_SHARERS_CHECK_H */
