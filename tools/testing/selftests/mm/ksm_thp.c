// SPDX-License-Identifier: GPL-2.0
/*
 * KSM racing THP, with exact checks (fixture thp): huge pages whose 4K
 * subpages have twins are split by KSM and merged, exactly as small pages
 * would be; khugepaged collapsing merged and unmerged ranges at full speed
 * meanwhile makes no counter drift.
 *
 * Throughout, pages read back byte for byte as written; once ksmd settles
 * the counters of /sys/kernel/mm/ksm and /proc/<pid>/ksm_stat are exactly
 * what the pages that are left say (or, while khugepaged keeps changing
 * things, the global counters are exactly the sum of the ksm_stat of the
 * processes using KSM); with the memory gone, every counter is back to
 * zero. Page frames (/proc/self/pagemap) show what shares a frame and
 * /proc/kpageflags (KPF_THP) what is huge; KPF_KSM is no help, 6.12 sets
 * it for every anonymous page. No test may taint the kernel (a WARNING, a
 * bad page, an oops).
 *
 * Root only; nothing else may use KSM while this runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "thp_settings.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"

#define HPAGE_ORDER	9
#define HPAGE_NR	512UL
#define HPAGE		(HPAGE_NR * PAGE)
#define KPF_THP		22
#define THP_SYSFS	"/sys/kernel/mm/transparent_hugepage"

/* ---- page frames ------------------------------------------------------ */

/*
 * Whether the hpage-aligned range at base is one whole huge page: frames
 * contiguous from an aligned one, each flagged KPF_THP.
 */
static bool is_one_thp(const void *base)
{
	u64 *pfn = ksmt_frames_of(base, HPAGE_NR), flags;
	bool huge = false;
	size_t i;
	int fd;

	if (!pfn)
		return false;
	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd >= 0 && pfn[0] && !(pfn[0] % HPAGE_NR)) {
		for (i = 0; i < HPAGE_NR; i++)
			if (pfn[i] != pfn[0] + i ||
			    pread(fd, &flags, sizeof(flags),
				  pfn[i] * sizeof(flags)) != sizeof(flags) ||
			    !(flags & (1ULL << KPF_THP)))
				break;
		huge = i == HPAGE_NR;
	}
	if (fd >= 0)
		close(fd);
	free(pfn);
	return huge;
}

/* Pages among npages at base that are part of a huge page (KPF_THP). */
static long count_huge(const void *base, size_t npages)
{
	u64 *pfn = ksmt_frames_of(base, npages), flags;
	long huge = 0;
	size_t i;
	int fd;

	if (!pfn)
		return -1;
	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0) {
		free(pfn);
		return -1;
	}
	for (i = 0; i < npages; i++) {
		if (!pfn[i])
			continue;
		if (pread(fd, &flags, sizeof(flags), pfn[i] * sizeof(flags)) !=
		    sizeof(flags)) {
			huge = -1;
			break;
		}
		if (flags & (1ULL << KPF_THP))
			huge++;
	}
	close(fd);
	free(pfn);
	return huge;
}

/* ---- layouts ---------------------------------------------------------- */

/* Gives page i of a layout the content of group g (written if base). */
static void layout_make_group(struct ksmt_layout *l, char *base, size_t i,
			      int g)
{
	l->klass[i] = g;
	l->key[i] = ksmt_group_key(l->group_ns, g);
	if (base)
		ksmt_fill_page(base + i * PAGE, l->key[i]);
}

/* ---- THP -------------------------------------------------------------- */

static pid_t thp_saver;

__attribute__((constructor))
static void save_thp_knobs(void)
{
	if (geteuid() || access(THP_SYSFS "/enabled", F_OK))
		return;
	thp_save_settings();
	thp_saver = getpid();
}

/* A test killed before its teardown must not leave THP knobs changed. */
__attribute__((destructor))
static void restore_thp_knobs(void)
{
	if (thp_saver && thp_saver == getpid())
		thp_restore_settings();
}

/*
 * THP for MADV_HUGEPAGE ranges only, PMD-sized only; khugepaged sleeping
 * sleep_ms between passes of pages_to_scan pages, max_ptes_* at their
 * defaults.
 */
static void thp_madvise_only(unsigned int sleep_ms, unsigned int pages_to_scan)
{
	struct thp_settings s;
	int i;

	thp_read_settings(&s);
	s.thp_enabled = THP_MADVISE;
	s.thp_defrag = THP_DEFRAG_MADVISE;
	for (i = 0; i < NR_ORDERS; i++)
		s.hugepages[i].enabled = i == HPAGE_ORDER ? THP_INHERIT :
							    THP_NEVER;
	s.khugepaged.defrag = true;
	s.khugepaged.scan_sleep_millisecs = sleep_ms;
	s.khugepaged.alloc_sleep_millisecs = sleep_ms;
	s.khugepaged.pages_to_scan = pages_to_scan;
	s.khugepaged.max_ptes_none = HPAGE_NR - 1;
	s.khugepaged.max_ptes_swap = HPAGE_NR / 8;
	s.khugepaged.max_ptes_shared = HPAGE_NR / 2;
	thp_push_settings(&s);
}

/* npages (whole huge pages) of memory aligned for THP, MADV_HUGEPAGE. */
static char *map_huge(size_t npages)
{
	size_t len = npages * PAGE;
	char *raw, *p;

	raw = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return raw;
	p = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	if (p > raw)
		munmap(raw, p - raw);
	munmap(p + len, raw + HPAGE - p);
	if (madvise(p, len, MADV_HUGEPAGE)) {
		munmap(p, len);
		return MAP_FAILED;
	}
	return p;
}

FIXTURE(thp) {
	unsigned long taint;
};

FIXTURE_SETUP(thp)
{
	self->taint = ksmt_test_begin();
	if (!thp_saver || !(thp_supported_orders() & (1UL << HPAGE_ORDER)))
		SKIP(return, "no PMD-sized THP (or not root)");
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
}

FIXTURE_TEARDOWN(thp)
{
	thp_restore_settings();
	EXPECT_EQ(0, ksmt_restore_knobs());
	ksmt_test_end(_metadata, self->taint);
}

/*
 * Huge pages whose subpages have twins, in the same huge page, in another
 * one and in small pages: ksmd splits them and merges every subpage that
 * has a twin, exactly as if they had been small pages; no subpage is huge
 * afterwards, every page reads back as written, and copy-on-write of the
 * merged subpages works as usual. The twins of z are all in z itself: the
 * two pages of a pair are in one huge page, which cannot be split while
 * ksmd holds a reference for each (upstream splits it once it has dropped
 * the second one).
 */
TEST_F_TIMEOUT(thp, split_to_merge, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout x, y, z, s, *ls[] = { &x, &y, &z, &s };
	char *bases[4];
	size_t i;
	int j;

	thp_madvise_only(600000, 4096);
	/* x, y and s share 32 contents; z has two of its own, 200 each. */
	ASSERT_EQ(0, ksmt_layout_init(&x, 32, 12, 128, 0, 0xd001, 0xd002, 70));
	ASSERT_EQ(0, ksmt_layout_init(&y, 32, 14, 64, 0, 0xd001, 0xd003, 71));
	ASSERT_EQ(0, ksmt_layout_init(&z, 2, 200, 112, 0, 0xd004, 0xd005, 72));
	ASSERT_EQ(0, ksmt_layout_init(&s, 32, 1, 32, 0, 0xd001, 0xd006, 73));
	for (j = 0; j < 3; j++) {
		ASSERT_EQ(HPAGE_NR, ls[j]->npages);
		bases[j] = map_huge(HPAGE_NR);
		ASSERT_NE(MAP_FAILED, bases[j]);
		ksmt_layout_fill(ls[j], bases[j]);
		if (!is_one_thp(bases[j]))
			SKIP(return, "no huge page could be allocated");
	}
	bases[3] = ksmt_layout_map(&s);
	ASSERT_NE(MAP_FAILED, bases[3]);
	for (j = 0; j < 3; j++)
		ASSERT_EQ(0, ksmt_mergeable(bases[j], HPAGE_NR));
	ASSERT_EQ(0, ksmt_run(1));

	ksmt_settle_and_check(_metadata, ls, 4, false, false);
	EXPECT_EQ(0, ksmt_frames_off_model(ls, bases, 4));
	for (j = 0; j < 3; j++) {
		EXPECT_EQ(0, count_huge(bases[j], HPAGE_NR));
		ksmt_expect_layout(_metadata, ls[j], bases[j]);
	}
	ksmt_expect_layout(_metadata, &s, bases[3]);

	/* Writes to merged subpages get private copies. */
	for (i = 3; i < HPAGE_NR; i += 7) {
		ksmt_layout_make_unique(&x, bases[0], i,
					ksmt_unique_key(0xd007, i));
		ksmt_layout_make_unique(&z, bases[2], i,
					ksmt_unique_key(0xd008, i));
	}
	for (j = 0; j < 4; j++)
		ksmt_expect_layout(_metadata, ls[j], bases[j]);
	ksmt_settle_and_check(_metadata, ls, 4, false, true);
	EXPECT_EQ(0, ksmt_frames_off_model(ls, bases, 4));

	for (j = 0; j < 4; j++) {
		ASSERT_EQ(0, munmap(bases[j], ls[j]->npages * PAGE));
		ksmt_layout_free(ls[j]);
	}
	ksmt_assert_all_zero(_metadata);
}

#define RACE_MERGED	4	/* mergeable huge ranges */
#define RACE_PLAIN	2	/* huge ranges KSM does not see */
#define RACE_ROUNDS	8	/* checkpoints, about 0.8 s apart */
#define RACE_GROUPS	128	/* one copy per range of each content */
#define RACE_NS		0xd011

/* counts[g]: tracked copies of group content g across the layouts. */
static void count_groups(struct ksmt_layout *const *ls, int n, long *counts)
{
	size_t i;
	int j;

	memset(counts, 0, RACE_GROUPS * sizeof(*counts));
	for (j = 0; j < n; j++)
		for (i = 0; i < ls[j]->npages; i++)
			if (ls[j]->state[i] == KSMT_TRACKED &&
			    ls[j]->klass[i] >= 0)
				counts[ls[j]->klass[i]]++;
}

/*
 * New contents for a few tracked pages: unique pages become copies of a
 * group, copies become unique, keeping every group at two copies or more
 * so that what it merges into never depends on history.
 */
static void race_rewrite(struct ksmt_layout *const *ls, char *const *bases,
			 int n, struct ksmt_rng *rng, int round)
{
	long counts[RACE_GROUPS];
	int k;

	count_groups(ls, n, counts);
	for (k = 0; k < 6; k++) {
		int j = ksmt_rand_below(rng, n);
		size_t i = ksmt_rand_below(rng, ls[j]->npages);
		int g = ls[j]->klass[i];

		if (ls[j]->state[i] != KSMT_TRACKED)
			continue;
		if (g < 0) {
			g = ksmt_rand_below(rng, RACE_GROUPS);
			layout_make_group(ls[j], bases[j], i, g);
			counts[g]++;
		} else if (counts[g] > 2) {
			ksmt_layout_make_unique(ls[j], bases[j], i,
						ksmt_unique_key(0xd500 +
								round * n + j,
								i));
			counts[g]--;
		}
	}
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

struct collapse_tally {
	long done;
	long again;
	long inval;
	long other;
};

/* MADV_COLLAPSE of one huge range, as khugepaged would, and its outcome. */
static void collapse_one(char *p, struct collapse_tally *t)
{
	if (!madvise(p, HPAGE, MADV_COLLAPSE))
		t->done++;
	else if (errno == EAGAIN)
		t->again++;
	else if (errno == EINVAL)
		t->inval++;
	else
		t->other++;
}

/* Fills only the non-zero pages of a layout: the rest stay unpopulated. */
static void fill_sparse(const struct ksmt_layout *l, char *base)
{
	size_t i;

	for (i = 0; i < l->npages; i++)
		if (l->key[i])
			ksmt_fill_page(base + i * PAGE, l->key[i]);
}

/*
 * khugepaged at full speed (no sleep, large passes, max_ptes_* at their
 * defaults) on huge ranges KSM has split and merged, and on ranges of
 * small pages KSM does not see, while ksmd merges, MADV_COLLAPSE
 * collapses merged ranges back into huge pages (which ksmd then has to
 * split again) and the test rewrites pages. At every checkpoint (ksmd
 * stopped) the global counters are exactly our ksm_stat and every page
 * reads back as written. Then, khugepaged stopped, the counters settle to
 * exactly what the contents say; after munmap() and run=2 they are all
 * zero.
 */
TEST_F_TIMEOUT(thp, khugepaged_race, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout m[RACE_MERGED], u[RACE_PLAIN];
	struct ksmt_layout *lm[RACE_MERGED];
	char *pm[RACE_MERGED], *pu[RACE_PLAIN];
	struct ksmt_rng rng = { .state = 74 };
	struct collapse_tally collapses = { 0 };
	long collapsed, huge_seen = 0, plain_huge = 0;
	int j, k, r;
	pid_t me = 0;
	size_t i;

	thp_madvise_only(0, 16 * HPAGE_NR);
	collapsed = ksmt_file_long(THP_SYSFS "/khugepaged/pages_collapsed");
	ASSERT_LE(0, collapsed);

	/*
	 * Per range, one copy of each of 128 contents shared by all ranges,
	 * and 384 unique pages: a range mapping one KSM page twice could
	 * never be collapsed (6.12 locks each small folio of the range in
	 * turn, and fails on meeting one it has already locked).
	 */
	for (j = 0; j < RACE_MERGED; j++) {
		lm[j] = &m[j];
		ASSERT_EQ(0, ksmt_layout_init(&m[j], RACE_GROUPS, 1, 384, 0,
					      RACE_NS, 0xd020 + j, 75 + j));
		pm[j] = map_huge(HPAGE_NR);
		ASSERT_NE(MAP_FAILED, pm[j]);
		ksmt_layout_fill(&m[j], pm[j]);
	}
	/* The last range is mergeable in its first half only. */
	for (j = 0; j < RACE_MERGED; j++) {
		size_t n = j < RACE_MERGED - 1 ? HPAGE_NR : HPAGE_NR / 2;

		ASSERT_EQ(0, ksmt_mergeable(pm[j], n));
		for (i = n; i < HPAGE_NR; i++)
			m[j].state[i] = KSMT_UNTRACKED;
	}
	/* Half-populated small pages, khugepaged's to collapse. */
	for (j = 0; j < RACE_PLAIN; j++) {
		ASSERT_EQ(0, ksmt_layout_init(&u[j], 0, 0, HPAGE_NR / 2,
					      HPAGE_NR / 2, 0, 0xd030 + j,
					      80 + j));
		pu[j] = map_huge(HPAGE_NR);
		ASSERT_NE(MAP_FAILED, pu[j]);
		ASSERT_EQ(0, madvise(pu[j], HPAGE, MADV_NOHUGEPAGE));
		fill_sparse(&u[j], pu[j]);
		ASSERT_EQ(0, madvise(pu[j], HPAGE, MADV_HUGEPAGE));
	}
	ASSERT_EQ(0, ksmt_run(1));

	for (r = 0; r < RACE_ROUNDS; r++) {
		for (k = 0; k < 7; k++) {
			ksmt_nap_ms(100);
			collapse_one(pm[(r * 7 + k) % (RACE_MERGED - 1)],
				     &collapses);
		}
		ASSERT_EQ(0, ksmt_run(0));
		ksmt_expect_sum_of_stats(_metadata, &me, 1);
		for (j = 0; j < RACE_MERGED; j++) {
			ksmt_expect_layout(_metadata, &m[j], pm[j]);
			huge_seen += count_huge(pm[j], HPAGE_NR / 2) > 0;
		}
		for (j = 0; j < RACE_PLAIN; j++)
			ksmt_expect_layout(_metadata, &u[j], pu[j]);
		race_rewrite(lm, pm, RACE_MERGED, &rng, r);
		ASSERT_EQ(0, ksmt_run(1));
	}
	/* The plain ranges are never split again: the rest were merged ones. */
	for (j = 0; j < RACE_PLAIN; j++)
		plain_huge += is_one_thp(pu[j]);
	collapsed = ksmt_file_long(THP_SYSFS "/khugepaged/pages_collapsed") -
		    collapsed - plain_huge;
	TH_LOG("khugepaged collapsed %ld plain, %ld merged ranges",
	       plain_huge, collapsed);
	TH_LOG("merged ranges seen huge at %ld checkpoints", huge_seen);
	TH_LOG("MADV_COLLAPSE of merged ranges: %ld done, %ld EAGAIN, %ld EINVAL, %ld other",
	       collapses.done, collapses.again, collapses.inval, collapses.other);
	EXPECT_EQ(RACE_PLAIN, plain_huge);
	/* Else nothing raced. */
	EXPECT_LE(2, collapsed + collapses.done);

	/* khugepaged stopped: ksmd splits what it collapsed and settles. */
	thp_write_string("enabled", "never");
	ksmt_settle_and_check(_metadata, lm, RACE_MERGED, false, false);
	EXPECT_EQ(0, ksmt_frames_off_model(lm, pm, RACE_MERGED));
	for (j = 0; j < RACE_MERGED; j++)
		ksmt_expect_layout(_metadata, &m[j], pm[j]);
	for (j = 0; j < RACE_PLAIN; j++)
		ksmt_expect_layout(_metadata, &u[j], pu[j]);

	for (j = 0; j < RACE_MERGED; j++) {
		ASSERT_EQ(0, munmap(pm[j], HPAGE));
		ksmt_layout_free(&m[j]);
	}
	for (j = 0; j < RACE_PLAIN; j++) {
		ASSERT_EQ(0, munmap(pu[j], HPAGE));
		ksmt_layout_free(&u[j]);
	}
	ASSERT_EQ(0, ksmt_run(2));
	ksmt_expect_all_zero_now(_metadata);
}

TEST_HARNESS_MAIN
