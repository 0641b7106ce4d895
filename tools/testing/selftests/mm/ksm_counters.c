// SPDX-License-Identifier: GPL-2.0
/*
 * KSM counters: synthetic workloads with a known number of duplicate,
 * unique and zero pages must give exactly the expected global counters of
 * /sys/kernel/mm/ksm (pages_shared, pages_sharing, pages_unshared,
 * pages_volatile, ksm_zero_pages, general_profit) and per-process
 * counters (/proc/<pid>/ksm_merging_pages and ksm_stat), in one process
 * and across processes; after copy-on-write breaks they must go down by
 * exactly what was broken, and after munmap() and run=2 back to zero.
 * Also: one content is never split over two KSM pages (below
 * max_page_sharing) when merged pages are rewritten or read while ksmd
 * merges; use_zero_pages on and off; the max_page_sharing limit; with
 * merge_across_nodes=0, merging only within a NUMA node (even after a KSM
 * page migrated to another node).
 *
 * Nothing else may use KSM while this runs: the counters are global.
 * The size of an rmap item is implementation-defined; it is derived from
 * the first ksm_stat reading and checked against all the others.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mempolicy.h>

#include "../kselftest_harness.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"

FIXTURE(counters) {
	long itemsize;		/* rmap item size, once known */
};

FIXTURE_SETUP(counters)
{
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	self->itemsize = -1;
}

FIXTURE_TEARDOWN(counters)
{
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/*
 * Checks the global counters against *e and, for the n processes pids[]
 * (0 is the caller), their ksm_stat and ksm_merging_pages against each[],
 * their profit and general_profit. The rmap item size is learnt from the
 * first reading with items in it. ksmd must be stopped (run=0) so that
 * nothing moves meanwhile.
 */
static void check_counters(struct __test_metadata *_metadata,
			   long *itemsize, const struct ksmt_expect *e,
			   const struct ksmt_expect *each, const pid_t *pids,
			   int n)
{
	struct ksmt_counters c;
	long rmap_items = 0;
	int i;

	ASSERT_EQ(0, ksmt_read_counters(&c));
	ksmt_expect_global(_metadata, &c, e);
	for (i = 0; i < n; i++) {
		struct ksmt_stat st;
		long merging;

		ASSERT_EQ(0, ksmt_read_stat(pids[i], &st));
		ksmt_expect_stat(_metadata, &st, &each[i]);
		ASSERT_EQ(0, ksmt_read_merging_pages(pids[i], &merging));
		EXPECT_EQ(each[i].merging, merging);
		if (*itemsize < 0 && st.rmap_items > 0) {
			*itemsize = ksmt_item_size(&st);
			TH_LOG("rmap item size: %ld bytes", *itemsize);
			ASSERT_LT(0, *itemsize);
		}
		if (*itemsize > 0)
			ksmt_expect_profit(_metadata, &st, *itemsize);
		rmap_items += st.rmap_items;
	}
	if (*itemsize > 0)
		EXPECT_EQ((c.sharing + c.zero_pages) * (long)PAGE -
			  rmap_items * *itemsize, c.general_profit);
}

/* check_counters() for layouts all held by the calling process. */
static void check_self(struct __test_metadata *_metadata, long *itemsize,
		       struct ksmt_layout *const *ls, int n, bool zero_merge,
		       bool merged)
{
	struct ksmt_expect e, each[8], mine = { 0 };
	pid_t me = 0;
	int i;

	ASSERT_GE(8, n);
	ASSERT_EQ(0, ksmt_expect_layouts(ls, n, zero_merge, merged, &e, each));
	for (i = 0; i < n; i++) {
		mine.rmap_items += each[i].rmap_items;
		mine.merging += each[i].merging;
		mine.zero_pages += each[i].zero_pages;
	}
	check_counters(_metadata, itemsize, &e, &mine, &me, 1);
}

/* N groups of K identical pages and U unique ones in one process. */
TEST_F_TIMEOUT(counters, one_process, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 16, u = 64;
	struct ksmt_layout l, *ls[] = { &l };
	struct ksmt_counters c;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0x1001, 0x1002, 1));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));

	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(n, c.shared);
	EXPECT_EQ(n * (k - 1), c.sharing);
	check_self(_metadata, &self->itemsize, ls, 1, false, false);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));

	/* Nothing changes while ksmd keeps scanning a settled state. */
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(3));
	check_self(_metadata, &self->itemsize, ls, 1, false, false);
	ksmt_layout_free(&l);
}

/*
 * Unique pages that do not change are "unique but repeatedly checked for
 * merging": pages_unshared counts them, pages_volatile ("changing too
 * fast to be placed in a tree") does not. Read with ksmd stopped between
 * batches, after passes that changed nothing; again after some pages got
 * new unique contents.
 */
TEST_F_TIMEOUT(counters, unshared_not_volatile, KSMT_TEST_TIMEOUT)
{
	const int n = 4, k = 8, u = 48;
	struct ksmt_layout l, *ls[] = { &l };
	struct ksmt_counters c;
	struct ksmt_expect e;
	size_t i;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0x1101, 0x1102, 30));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_expect_layouts(ls, 1, false, false, &e, NULL));
	ASSERT_EQ(u, e.unshared);
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ksmt_expect_global(_metadata, &c, &e);
	ksmt_expect_split(_metadata, &c, &e);

	/* A third of the group pages get new unique contents. */
	for (i = 0; i < l.npages; i++)
		if (l.klass[i] >= 0 && i % 3 == 0)
			ksmt_layout_make_unique(&l, p, i,
						ksmt_unique_key(0x1103, i));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_expect_layouts(ls, 1, false, true, &e, NULL));
	ASSERT_LT(u, e.unshared);
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ksmt_expect_global(_metadata, &c, &e);
	ksmt_expect_split(_metadata, &c, &e);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));
	ksmt_layout_free(&l);
}

/*
 * Two processes: N groups with K1 copies in one and K2 in the other, M
 * groups with a single copy in each (merged only across processes), and
 * unique pages in both.
 */
TEST_F_TIMEOUT(counters, two_processes, KSMT_TEST_TIMEOUT)
{
	const int n = 12, k1 = 3, k2 = 2, m = 8, u = 24;
	struct ksmt_layout a, b, a1, b1;
	struct ksmt_layout *la[] = { &a, &a1 }, *lb[] = { &b, &b1 };
	struct ksmt_layout *all[] = { &a, &a1, &b, &b1 };
	struct ksmt_expect e, each[4], per[2] = { { 0 } };
	struct ksmt_chan cha, chb;
	pid_t pids[2];
	int i, status;

	ASSERT_EQ(0, ksmt_layout_init(&a, n, k1, u, 0, 0x2001, 0x2002, 2));
	ASSERT_EQ(0, ksmt_layout_init(&b, n, k2, u, 0, 0x2001, 0x2003, 3));
	ASSERT_EQ(0, ksmt_layout_init(&a1, m, 1, 0, 0, 0x2004, 0x2005, 4));
	ASSERT_EQ(0, ksmt_layout_init(&b1, m, 1, 0, 0, 0x2004, 0x2006, 5));
	pids[0] = ksmt_spawn_holder(&cha, la, 2);
	ASSERT_LT(0, pids[0]);
	pids[1] = ksmt_spawn_holder(&chb, lb, 2);
	if (pids[1] <= 0)
		ksmt_kill(pids[0]);
	ASSERT_LT(0, pids[1]);

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_expect_layouts(all, 4, false, false, &e, each));
	EXPECT_EQ(n + m, e.shared);
	EXPECT_EQ(n * (k1 + k2 - 1) + m, e.sharing);
	for (i = 0; i < 4; i++) {
		per[i / 2].rmap_items += each[i].rmap_items;
		per[i / 2].merging += each[i].merging;
	}
	EXPECT_EQ(n * k1 + m, per[0].merging);
	EXPECT_EQ(n * k2 + m, per[1].merging);
	check_counters(_metadata, &self->itemsize, &e, per, pids, 2);
	EXPECT_EQ(0, ksmt_holder_verify(&cha));
	EXPECT_EQ(0, ksmt_holder_verify(&chb));

	/* Once both are gone, nothing is left. */
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_chan_close(&cha);
	ksmt_chan_close(&chb);
	for (i = 0; i < 2; i++) {
		status = ksmt_waitpid(pids[i], KSMT_SCAN_TIMEOUT);
		EXPECT_TRUE(status >= 0 && WIFEXITED(status) &&
			    !WEXITSTATUS(status));
		if (status < 0)
			ksmt_kill(pids[i]);
	}
	ksmt_assert_all_zero(_metadata);
	for (i = 0; i < 4; i++)
		ksmt_layout_free(all[i]);
}

/*
 * Copy-on-write: writing new contents into merged pages takes them out of
 * their KSM page. A group that loses all pages loses its KSM page, one
 * left with a single mapping keeps it (pages_shared counts it, with no
 * sharer), the written pages become unique ones.
 */
TEST_F_TIMEOUT(counters, cow_breaks, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 8, u = 32;
	struct ksmt_layout l, *ls[] = { &l };
	struct ksmt_counters c;
	int written[8] = { 0 };
	u64 key = 0;
	size_t i;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0x3001, 0x3002, 6));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	check_self(_metadata, &self->itemsize, ls, 1, false, false);

	/* One unique page gets another unique content. */
	for (i = 0; l.klass[i] != KSMT_UNIQUE; i++)
		;
	ksmt_layout_make_unique(&l, p, i, ksmt_unique_key(0x3003, key++));
	/* Group 0: all pages; 1: all but one; 2: three; 3: one. */
	for (i = 0; i < l.npages; i++) {
		int g = l.klass[i];
		int limit[] = { k, k - 1, 3, 1 };

		if (g < 0 || g > 3 || written[g] == limit[g])
			continue;
		written[g]++;
		ksmt_layout_make_unique(&l, p, i,
					ksmt_unique_key(0x3003, key++));
	}
	ASSERT_EQ(-1, ksmt_layout_check(&l, p));

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	/* Group 0 is gone; group 1 keeps its KSM page with no sharer. */
	EXPECT_EQ(n - 1, c.shared);
	EXPECT_EQ(n * (k - 1) - (k - 1) - (k - 1) - 3 - 1, c.sharing);
	check_self(_metadata, &self->itemsize, ls, 1, false, true);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));
	ksmt_layout_free(&l);
}

/*
 * Rewriting merged pages with the contents they already have: every write
 * breaks COW and leaves a private copy, which ksmd then merges back into
 * the KSM page that still holds that content, or, once all its mappings
 * are gone, into a new one. Either way one content ends up in one KSM
 * page: a content is never split over two KSM pages below
 * max_page_sharing. Several rounds, ksmd scanning all along.
 */
TEST_F_TIMEOUT(counters, rewrite_same_content, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 10, u = 32, rounds = 8;
	struct ksmt_layout l, *ls[] = { &l };
	struct ksmt_counters c;
	int r;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0x3101, 0x3102, 31));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	check_self(_metadata, &self->itemsize, ls, 1, false, false);

	for (r = 0; r < rounds; r++) {
		ASSERT_EQ(0, ksmt_run(1));
		ksmt_layout_fill(&l, p);
		ASSERT_EQ(0, ksmt_settle(4));
		ASSERT_EQ(0, ksmt_read_counters(&c));
		if (c.shared != n)
			TH_LOG("round %d: %ld KSM pages for %d contents", r,
			       c.shared, n);
		check_self(_metadata, &self->itemsize, ls, 1, false, false);
	}
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));
	ksmt_layout_free(&l);
}

/* What the reader thread of merge_under_access works on. */
struct reader {
	char *p;
	size_t npages;
	bool stop;		/* read and written atomically */
	unsigned long reads;
};

/*
 * Reads every page over and over; MADV_COLD now and then clears the
 * accessed bits again, so that reads keep changing page table entries.
 */
static void *reader(void *arg)
{
	struct reader *rd = arg;
	unsigned long sum = 0;
	size_t i;

	while (!__atomic_load_n(&rd->stop, __ATOMIC_RELAXED)) {
		madvise(rd->p, rd->npages * PAGE, MADV_COLD);
		for (i = 0; i < rd->npages; i++)
			sum += __atomic_load_n((unsigned long *)(rd->p + i * PAGE),
					       __ATOMIC_RELAXED);
		rd->reads++;
	}
	return (void *)sum;
}

/*
 * Merging while another thread reads the pages: a merge may fail when a
 * page table entry changes under it, and is tried again later; it must
 * never leave one content split over two KSM pages (below
 * max_page_sharing). Rounds of fresh copies, rewritten in place.
 */
TEST_F_TIMEOUT(counters, merge_under_access, KSMT_TEST_TIMEOUT)
{
	const int n = 16, k = 32, u = 64, rounds = 4;
	struct ksmt_layout l, *ls[] = { &l };
	struct reader rd = { 0 };
	struct ksmt_counters c;
	pthread_t thread;
	int r;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0x3201, 0x3202, 32));
	rd.npages = l.npages;
	rd.p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, rd.p);

	for (r = 0; r < rounds; r++) {
		ASSERT_EQ(0, ksmt_run(1));
		__atomic_store_n(&rd.stop, false, __ATOMIC_RELAXED);
		ASSERT_EQ(0, pthread_create(&thread, NULL, reader, &rd));
		ASSERT_EQ(0, ksmt_wait_scans(ksmt_full_scans(), 3));
		__atomic_store_n(&rd.stop, true, __ATOMIC_RELAXED);
		ASSERT_EQ(0, pthread_join(thread, NULL));
		ASSERT_EQ(0, ksmt_settle(4));
		ASSERT_EQ(0, ksmt_read_counters(&c));
		if (c.shared != n)
			TH_LOG("round %d: %ld KSM pages for %d contents", r,
			       c.shared, n);
		check_self(_metadata, &self->itemsize, ls, 1, false, false);
		/* The same contents again: copies of the KSM pages. */
		ksmt_layout_fill(&l, rd.p);
	}
	TH_LOG("reader passes: %lu", rd.reads);
	EXPECT_EQ(-1, ksmt_layout_check(&l, rd.p));
	ksmt_layout_free(&l);
}

/* munmap(): half of the pages first, then the rest; nothing leaks. */
TEST_F_TIMEOUT(counters, munmap, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 12, u = 32;
	struct ksmt_layout l, *ls[] = { &l };
	struct ksmt_stat st;
	size_t i, half;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0x4001, 0x4002, 7));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	check_self(_metadata, &self->itemsize, ls, 1, false, false);

	half = l.npages / 2;
	ASSERT_EQ(0, munmap(p, half * PAGE));
	for (i = 0; i < half; i++)
		l.state[i] = KSMT_UNMAPPED;
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	check_self(_metadata, &self->itemsize, ls, 1, false, true);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));

	ASSERT_EQ(0, munmap(p + half * PAGE, (l.npages - half) * PAGE));
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_assert_all_zero(_metadata);
	ASSERT_EQ(0, ksmt_read_stat(0, &st));
	EXPECT_EQ(0, st.rmap_items);
	EXPECT_EQ(0, st.merging_pages);
	EXPECT_EQ(0, st.zero_pages);
	EXPECT_EQ(0, st.profit);
	ksmt_layout_free(&l);
}

/*
 * run=2 unmerges everything and forgets all tracking before the write
 * returns; the areas stay registered and merge again with run=1.
 */
TEST_F_TIMEOUT(counters, run2_unmerges, KSMT_TEST_TIMEOUT)
{
	const int n = 6, k = 10, u = 20;
	struct ksmt_layout l, *ls[] = { &l };
	struct ksmt_counters c;
	struct ksmt_stat st;
	long merging;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0x5001, 0x5002, 8));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	check_self(_metadata, &self->itemsize, ls, 1, false, false);

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_run(2));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(0, c.shared);
	EXPECT_EQ(0, c.sharing);
	EXPECT_EQ(0, c.unshared);
	EXPECT_EQ(0, c.volatile_);
	EXPECT_EQ(0, c.general_profit);
	ASSERT_EQ(0, ksmt_read_stat(0, &st));
	EXPECT_EQ(0, st.rmap_items);
	EXPECT_EQ(0, st.merging_pages);
	EXPECT_EQ(0, st.profit);
	ASSERT_EQ(0, ksmt_read_merging_pages(0, &merging));
	EXPECT_EQ(0, merging);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	check_self(_metadata, &self->itemsize, ls, 1, false, false);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));
	ksmt_layout_free(&l);
}

/*
 * use_zero_pages=1: zero pages are merged with the zero page, counted in
 * ksm_zero_pages (global and per process) and not in pages_shared or
 * pages_sharing. Writing to one, or MADV_UNMERGEABLE, takes it out of the
 * count at once; munmap() too.
 */
TEST_F_TIMEOUT(counters, zero_pages, KSMT_TEST_TIMEOUT)
{
	const int n = 4, k = 8, u = 16, z = 64;
	struct ksmt_layout l, *ls[] = { &l };
	struct ksmt_counters c;
	struct ksmt_stat st;
	long zero = z, unmerge_zero = 0;
	size_t i, from, to;
	u64 key = 0;
	int written = 0;
	char *p;

	ASSERT_EQ(0, ksmt_write("use_zero_pages", "1"));
	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, z, 0x6001, 0x6002, 9));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	/* One more scan: the items of zero pages go once they are merged. */
	ASSERT_EQ(0, ksmt_settle(5));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(z, c.zero_pages);
	EXPECT_EQ(n, c.shared);
	check_self(_metadata, &self->itemsize, ls, 1, true, false);

	/* Writes: 8 zero pages get contents, the count drops at once. */
	for (i = 0; i < l.npages && written < 8; i++) {
		if (l.klass[i] != KSMT_ZERO)
			continue;
		ksmt_layout_make_unique(&l, p, i,
					ksmt_unique_key(0x6003, key++));
		written++;
	}
	zero -= written;
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(zero, c.zero_pages);
	ASSERT_EQ(0, ksmt_read_stat(0, &st));
	EXPECT_EQ(zero, st.zero_pages);

	/* MADV_UNMERGEABLE on the last quarter: its zero pages too. */
	from = l.npages - l.npages / 4;
	to = l.npages;
	for (i = from; i < to; i++) {
		if (l.state[i] == KSMT_TRACKED && !l.key[i])
			unmerge_zero++;
		l.state[i] = KSMT_UNTRACKED;
	}
	ASSERT_LT(0, unmerge_zero);
	ASSERT_EQ(0, madvise(p + from * PAGE, (to - from) * PAGE,
			     MADV_UNMERGEABLE));
	zero -= unmerge_zero;
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(zero, c.zero_pages);
	ASSERT_EQ(0, ksmt_read_stat(0, &st));
	EXPECT_EQ(zero, st.zero_pages);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(5));
	check_self(_metadata, &self->itemsize, ls, 1, true, true);

	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(0, c.zero_pages);
	ASSERT_EQ(0, ksmt_read_stat(0, &st));
	EXPECT_EQ(0, st.zero_pages);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/* use_zero_pages=0: zero pages merge with each other like any content. */
TEST_F_TIMEOUT(counters, zero_pages_off, KSMT_TEST_TIMEOUT)
{
	const int n = 4, k = 8, u = 16, z = 40;
	struct ksmt_layout l, *ls[] = { &l };
	struct ksmt_counters c;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, z, 0x7001, 0x7002, 10));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(0, c.zero_pages);
	EXPECT_EQ(n + 1, c.shared);
	EXPECT_EQ(n * (k - 1) + z - 1, c.sharing);
	check_self(_metadata, &self->itemsize, ls, 1, false, false);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));
	ksmt_layout_free(&l);
}

/*
 * max_page_sharing caps the mappings of one KSM page: c copies of a
 * content need several KSM pages. Expectation as in ksm_tests.c: with
 * limit m, c % m == 0 or 1 gives c / m KSM pages of m mappings (and one
 * unmerged page); otherwise c / m + 1 KSM pages sharing all c copies.
 */
TEST_F_TIMEOUT(counters, max_page_sharing, KSMT_TEST_TIMEOUT)
{
	const int limit = 4, copies[] = { 10, 9, 3, 8 };
	struct ksmt_layout l[4];
	long shared = 0, sharing = 0, unshared = 0;
	struct ksmt_counters c;
	int i;

	ASSERT_EQ(0, ksmt_write_long("max_page_sharing", limit));
	for (i = 0; i < 4; i++) {
		int cnt = copies[i];
		long s;

		ASSERT_EQ(0, ksmt_layout_init(&l[i], 1, cnt, 0, 0,
					      0x8001 + i, 0x8101, 11 + i));
		ASSERT_NE(MAP_FAILED, ksmt_layout_map(&l[i]));
		if (cnt % limit <= 1) {
			s = cnt / limit;
			shared += s;
			sharing += s * (limit - 1);
			unshared += cnt % limit;
		} else {
			s = cnt / limit + 1;
			shared += s;
			sharing += cnt - s;
		}
	}
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(6));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(shared, c.shared);
	EXPECT_EQ(sharing, c.sharing);
	EXPECT_EQ(unshared, c.unshared + c.volatile_);
	for (i = 0; i < 4; i++)
		ksmt_layout_free(&l[i]);
}

static long bind_node(void *addr, size_t len, int node)
{
	unsigned long mask = 1UL << node;

	return syscall(__NR_mbind, addr, len, MPOL_BIND, &mask,
		       sizeof(mask) * 8, 0);
}

/* Node of every page of a region: 0 if all are on node, else -1. */
static int on_node(char *p, size_t npages, int node)
{
	size_t i;

	for (i = 0; i < npages; i++)
		if (ksmt_page_node(p + i * PAGE) != node)
			return -1;
	return 0;
}

static char *map_on_node(struct ksmt_layout *l, int node)
{
	char *p = ksmt_map(l->npages);

	if (p == MAP_FAILED)
		return p;
	if (bind_node(p, l->npages * PAGE, node))
		return MAP_FAILED;
	ksmt_layout_fill(l, p);
	if (on_node(p, l->npages, node) ||
	    ksmt_mergeable(p, l->npages))
		return MAP_FAILED;
	return p;
}

/*
 * merge_across_nodes=0 merges only pages of the same NUMA node: the same
 * contents on two nodes give two KSM pages; with 1, one.
 */
TEST_F_TIMEOUT(counters, numa_nodes, KSMT_TEST_TIMEOUT)
{
	const int n = 6, k = 5, u = 8;
	struct ksmt_layout a, b, *la[] = { &a }, *lb[] = { &b };
	struct ksmt_layout *both[] = { &a, &b };
	struct ksmt_expect ea, eb, e;
	struct ksmt_counters c;
	char *pa, *pb;

	if (!ksmt_exists("merge_across_nodes"))
		SKIP(return, "no merge_across_nodes (CONFIG_NUMA=n)");
	if (!ksmt_have_node1())
		SKIP(return, "a single NUMA node");
	ASSERT_EQ(0, ksmt_write("merge_across_nodes", "0"));
	ASSERT_EQ(0, ksmt_layout_init(&a, n, k, u, 0, 0x9001, 0x9002, 20));
	ASSERT_EQ(0, ksmt_layout_init(&b, n, k, u, 0, 0x9001, 0x9003, 21));
	pa = map_on_node(&a, 0);
	pb = map_on_node(&b, 1);
	if (pa == MAP_FAILED || pb == MAP_FAILED)
		SKIP(return, "cannot place pages on nodes 0 and 1");

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_expect_layouts(la, 1, false, false, &ea, NULL));
	ASSERT_EQ(0, ksmt_expect_layouts(lb, 1, false, false, &eb, NULL));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(2 * n, ea.shared + eb.shared);
	EXPECT_EQ(ea.shared + eb.shared, c.shared);
	EXPECT_EQ(ea.sharing + eb.sharing, c.sharing);
	EXPECT_EQ(ea.unshared + eb.unshared, c.unshared + c.volatile_);
	EXPECT_EQ(0, on_node(pa, a.npages, 0));
	EXPECT_EQ(0, on_node(pb, b.npages, 1));

	ASSERT_EQ(0, ksmt_run(2));
	ASSERT_EQ(0, ksmt_write("merge_across_nodes", "1"));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_expect_layouts(both, 2, false, false, &e, NULL));
	EXPECT_EQ(n, e.shared);
	check_self(_metadata, &self->itemsize, both, 2, false, false);
	EXPECT_EQ(-1, ksmt_layout_check(&a, pa));
	EXPECT_EQ(-1, ksmt_layout_check(&b, pb));
	ksmt_layout_free(&a);
	ksmt_layout_free(&b);
}

/* Pages of a region not on node: their number. */
static long off_node(char *p, size_t npages, int node)
{
	size_t i;
	long off = 0;

	for (i = 0; i < npages; i++)
		if (ksmt_page_node(p + i * PAGE) != node)
			off++;
	return off;
}

/*
 * merge_across_nodes=0 and a KSM page that migrated to another node: it
 * now belongs with the pages of its new node. A later copy of its content
 * on its old node must not be merged into it (that page would then live
 * on the wrong node); a copy on its new node merges into it.
 */
TEST_F_TIMEOUT(counters, numa_migrated_ksm_page, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout a, b, c1;
	struct ksmt_counters c;
	char *pa, *pb, *pc;

	if (!ksmt_exists("merge_across_nodes"))
		SKIP(return, "no merge_across_nodes (CONFIG_NUMA=n)");
	if (!ksmt_have_node1())
		SKIP(return, "a single NUMA node");
	ASSERT_EQ(0, ksmt_write("merge_across_nodes", "0"));
	/* Four copies of one content on node 0: one KSM page. */
	ASSERT_EQ(0, ksmt_layout_init(&a, 1, 4, 0, 0, 0xa001, 0xa002, 22));
	pa = map_on_node(&a, 0);
	if (pa == MAP_FAILED)
		SKIP(return, "cannot place pages on node 0");
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ASSERT_EQ(1, c.shared);
	ASSERT_EQ(3, c.sharing);

	/* The KSM page moves to node 1; ksmd has a look at it there. */
	ASSERT_EQ(0, ksmt_move_to_node(pa, a.npages, 1));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	EXPECT_EQ(0, off_node(pa, a.npages, 1));

	/* Two copies on node 0: a KSM page of their own, on node 0. */
	ASSERT_EQ(0, ksmt_layout_init(&b, 1, 2, 0, 0, 0xa001, 0xa003, 23));
	pb = map_on_node(&b, 0);
	ASSERT_NE(MAP_FAILED, pb);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(0, off_node(pb, b.npages, 0));
	EXPECT_EQ(2, c.shared);
	EXPECT_EQ(3 + 1, c.sharing);

	/* One copy on node 1: it joins the migrated KSM page. */
	ASSERT_EQ(0, ksmt_layout_init(&c1, 1, 1, 0, 0, 0xa001, 0xa004, 24));
	pc = map_on_node(&c1, 1);
	ASSERT_NE(MAP_FAILED, pc);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(2, c.shared);
	EXPECT_EQ(3 + 1 + 1, c.sharing);
	EXPECT_EQ(0, c.unshared + c.volatile_);
	EXPECT_EQ(0, off_node(pa, a.npages, 1));
	EXPECT_EQ(0, off_node(pb, b.npages, 0));
	EXPECT_EQ(0, off_node(pc, c1.npages, 1));
	EXPECT_EQ(-1, ksmt_layout_check(&a, pa));
	EXPECT_EQ(-1, ksmt_layout_check(&b, pb));
	EXPECT_EQ(-1, ksmt_layout_check(&c1, pc));
	ksmt_layout_free(&a);
	ksmt_layout_free(&b);
	ksmt_layout_free(&c1);
}

TEST_HARNESS_MAIN
