// SPDX-License-Identifier: GPL-2.0
/*
 * KSM racing the rest of mm, with exact checks:
 *
 *  - thp: huge pages whose 4K subpages have twins are split by KSM and
 *    merged, exactly as small pages would be; khugepaged collapsing
 *    merged and unmerged ranges at full speed meanwhile makes no counter
 *    drift.
 *  - uffd: userfaultfd write-protect: a write to a merged, protected page
 *    blocks and reaches the handler as a write-protect fault while ksmd
 *    keeps merging; pages merged while protected, and pages unmerged
 *    while protected, stay protected.
 *  - races (PROT_NONE): PROT_NONE pages merge as upstream merges them,
 *    and MADV_UNMERGEABLE and run=2 on PROT_NONE memory work; mremap()
 *    of merged pages under migration leaves no KSM page behind.
 *  - churn: hundreds of short-lived processes fill duplicates, fork,
 *    write, check and exit (or are killed) while ksmd runs at full speed.
 *  - oom: a process in a memory cgroup merges four times its limit, then
 *    unmerges (madvise, prctl, or run=2 from outside): it fails cleanly
 *    or the OOM killer kills it, and it alone.
 *  - memcg: the last mapping of a KSM page takes the page back on unmerge
 *    only if it is charged to its own memory cgroup; else it copies it.
 *  - swapcache: KSM pages left in the swap cache by reclaim are faulted
 *    in from another thread while MADV_UNMERGEABLE unmerges their range:
 *    none may end up mapped as a KSM page where nothing is mergeable.
 *
 * Throughout, pages read back byte for byte as written; once ksmd settles
 * the counters of /sys/kernel/mm/ksm and /proc/<pid>/ksm_stat are exactly
 * what the pages that are left say (or, while khugepaged and exits keep
 * changing things, the global counters are exactly the sum of the ksm_stat
 * of the processes using KSM); with the memory gone, every counter is
 * back to zero. Page frames (/proc/self/pagemap) show what shares a frame
 * and /proc/kpageflags (KPF_THP) what is huge; KPF_KSM is no help, 6.12
 * sets it for every anonymous page. No test may taint the kernel (a
 * WARNING, a bad page, an oops).
 *
 * Root only; nothing else may use KSM while this runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>

#include "../kselftest_harness.h"
#include "vm_util.h"
#include "thp_settings.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"
#include "lib/ksm_cgroup.h"
#include "lib/ksm_swap.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

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

/* The first page of a layout that holds a group content at or after i. */
static size_t next_group_page(const struct ksmt_layout *l, size_t i)
{
	while (i < l->npages && l->klass[i] < 0)
		i++;
	return i;
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

/* ---- userfaultfd write-protect ---------------------------------------- */

/*
 * A userfaultfd offering write-protect faults, or -errno; *skip says why
 * the kernel cannot offer one (then the test skips).
 */
static int uffd_open_wp(const char **skip)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP,
	};
	int fd, err;

	*skip = NULL;
	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		*skip = "userfaultfd() failed";
		return -errno;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
		*skip = "UFFDIO_API offers no UFFD_FEATURE_PAGEFAULT_FLAG_WP";
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

static int uffd_set_wp(int fd, void *addr, size_t len, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(fd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

/* Pages among npages at p that pagemap does not show write-protected. */
static long count_unprotected(const char *p, size_t npages)
{
	u64 *ents = calloc(npages ? npages : 1, sizeof(*ents));
	long n = 0;
	size_t i;

	if (!ents || ksmt_pagemap(0, p, npages, ents)) {
		free(ents);
		return -1;
	}
	for (i = 0; i < npages; i++)
		n += !(ents[i] & PM_UFFD_WP);
	free(ents);
	return n;
}

/* A thread writing one page, and whether it got through. */
struct wp_write {
	pthread_t thread;
	char *page;
	u64 key;
	int done;
};

static void *wp_writer(void *arg)
{
	struct wp_write *w = arg;

	ksmt_fill_page(w->page, w->key);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool wp_write_done(struct wp_write *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

static int wp_write_start(struct wp_write *w, char *page, u64 key)
{
	w->page = page;
	w->key = key;
	w->done = 0;
	return -pthread_create(&w->thread, NULL, wp_writer, w);
}

/*
 * The handler's side of a started write: 1 once it has come in as a
 * write-protect fault of its page (the writer is blocked in it), 0 if
 * the write went through without a fault, -errno for anything else.
 */
static int wp_write_fault(int uffd, struct wp_write *w, int timeout_ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	double end = ksmt_now() + timeout_ms / 1000.0;
	struct uffd_msg msg;
	int ret;

	for (;;) {
		ret = poll(&pfd, 1, 20);
		if (ret > 0)
			break;
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (wp_write_done(w))
			return 0;
		if (ksmt_now() > end)
			return -ETIMEDOUT;
	}
	if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
		return -EIO;
	if (msg.event != UFFD_EVENT_PAGEFAULT ||
	    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
		return -EBADMSG;
	if ((msg.arg.pagefault.address & ~(PAGE - 1)) != (uintptr_t)w->page)
		return -EFAULT;
	return wp_write_done(w) ? -EBADMSG : 1;
}

/* Un-protects the page of a write, which then goes on; waits for it. */
static int wp_write_release(int uffd, struct wp_write *w)
{
	int err = uffd_set_wp(uffd, w->page, PAGE, false);

	pthread_join(w->thread, NULL);
	return err;
}

FIXTURE(uffd) {
	unsigned long taint;
	int fd;
};

FIXTURE_SETUP(uffd)
{
	const char *skip;

	self->taint = ksmt_test_begin();
	self->fd = -1;
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	self->fd = uffd_open_wp(&skip);
	if (skip)
		SKIP(return, "%s (%s)", skip, strerror(-self->fd));
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ksmt_run(1));
}

FIXTURE_TEARDOWN(uffd)
{
	if (self->fd >= 0)
		close(self->fd);
	EXPECT_EQ(0, ksmt_restore_knobs());
	ksmt_test_end(_metadata, self->taint);
}

/*
 * A merged range registered for uffd-wp and write-protected: a write from
 * a thread to a merged page blocks, reaching the handler (us) as a
 * write-protect fault. While it waits, ksmd merges new duplicates of the
 * same contents elsewhere, counting exactly, and the page keeps its old
 * content. Un-protected, the write goes on and breaks COW for that page
 * alone.
 */
TEST_F_TIMEOUT(uffd, write_to_merged, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout a, c, *la[] = { &a }, *lac[] = { &a, &c };
	struct wp_write w;
	char *pa, *pc;
	size_t t;

	ASSERT_EQ(0, ksmt_layout_init(&a, 8, 8, 16, 0, 0xd101, 0xd102, 100));
	ASSERT_EQ(0, ksmt_layout_init(&c, 8, 4, 8, 0, 0xd101, 0xd103, 101));
	pa = ksmt_layout_map(&a);
	ASSERT_NE(MAP_FAILED, pa);
	ksmt_settle_and_check(_metadata, la, 1, false, false);
	ASSERT_EQ(0, uffd_register(self->fd, pa, a.npages * PAGE, false, true,
				   false));
	ASSERT_EQ(0, uffd_set_wp(self->fd, pa, a.npages * PAGE, true));
	EXPECT_EQ(0, count_unprotected(pa, a.npages));

	t = next_group_page(&a, 0);
	ASSERT_GT(a.npages, t);
	ASSERT_EQ(0, wp_write_start(&w, pa + t * PAGE,
				    ksmt_unique_key(0xd104, t)));
	ASSERT_EQ(1, wp_write_fault(self->fd, &w, 10000));

	pc = ksmt_layout_map(&c);
	ASSERT_NE(MAP_FAILED, pc);
	ksmt_settle_and_check(_metadata, lac, 2, false, false);
	EXPECT_FALSE(wp_write_done(&w));
	ksmt_expect_layout(_metadata, &a, pa);
	EXPECT_EQ(0, count_unprotected(pa, a.npages));

	ASSERT_EQ(0, wp_write_release(self->fd, &w));
	ksmt_layout_make_unique(&a, NULL, t, w.key);
	ksmt_expect_layout(_metadata, &a, pa);
	ksmt_expect_layout(_metadata, &c, pc);
	EXPECT_EQ(1, count_unprotected(pa, a.npages));
	ksmt_settle_and_check(_metadata, lac, 2, false, true);
	ksmt_expect_layout(_metadata, &a, pa);

	ASSERT_EQ(0, munmap(pa, a.npages * PAGE));
	ASSERT_EQ(0, munmap(pc, c.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&a);
	ksmt_layout_free(&c);
}

/*
 * Up to max pages of different group contents of a layout (of at most 8
 * groups), those pagemap does not show write-protected first.
 */
static size_t pick_targets(const struct ksmt_layout *l, const char *p,
			   size_t *t, size_t max)
{
	u64 *ents = calloc(l->npages, sizeof(*ents));
	bool used[8] = { false };
	size_t i, n = 0;
	int pass;

	if (!ents || ksmt_pagemap(0, p, l->npages, ents)) {
		free(ents);
		return 0;
	}
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < l->npages && n < max; i++) {
			int g = l->klass[i];

			if (g < 0 || g >= 8 || used[g] ||
			    (!pass && (ents[i] & PM_UFFD_WP)))
				continue;
			used[g] = true;
			t[n++] = i;
		}
	}
	free(ents);
	return n;
}

/*
 * Duplicates write-protected before ksmd ever saw them: merging must not
 * drop the protection. Every page still shows it in pagemap, and a write
 * to a merged page (one that had lost it, if any did) reaches the handler
 * as a write-protect fault. Upstream 6.12 fails this: the PTE it installs
 * for the KSM page in place of a duplicate has no uffd-wp bit, so writes
 * there break COW without the handler ever hearing of them.
 */
TEST_F_TIMEOUT(uffd, wp_kept_when_merged, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout b, *lb[] = { &b };
	size_t i, t[3], nt;
	long lost;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&b, 8, 8, 16, 0, 0xd111, 0xd112, 102));
	p = ksmt_map(b.npages);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_layout_fill(&b, p);
	ASSERT_EQ(0, uffd_register(self->fd, p, b.npages * PAGE, false, true,
				   false));
	ASSERT_EQ(0, uffd_set_wp(self->fd, p, b.npages * PAGE, true));
	ASSERT_EQ(0, count_unprotected(p, b.npages));
	ASSERT_EQ(0, ksmt_mergeable(p, b.npages));
	ksmt_settle_and_check(_metadata, lb, 1, false, false);
	ksmt_expect_layout(_metadata, &b, p);

	lost = count_unprotected(p, b.npages);
	if (lost)
		TH_LOG("%ld of %zu pages merged while write-protected lost the protection",
		       lost, b.npages);
	EXPECT_EQ(0, lost);

	nt = pick_targets(&b, p, t, 3);
	ASSERT_EQ(3U, nt);
	for (i = 0; i < nt; i++) {
		struct wp_write w;
		int ret;

		ASSERT_EQ(0, wp_write_start(&w, p + t[i] * PAGE,
					    ksmt_unique_key(0xd113, t[i])));
		ret = wp_write_fault(self->fd, &w, 3000);
		if (!ret)
			TH_LOG("write to merged page %zu: no write-protect fault",
			       t[i]);
		EXPECT_EQ(1, ret);
		ASSERT_EQ(0, wp_write_release(self->fd, &w));
		ksmt_layout_make_unique(&b, NULL, t[i], w.key);
	}
	ksmt_expect_layout(_metadata, &b, p);
	ksmt_settle_and_check(_metadata, lb, 1, false, true);

	ASSERT_EQ(0, munmap(p, b.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&b);
}

/*
 * MADV_UNMERGEABLE on a merged range that is write-protected: it
 * succeeds, no page shares a frame any more, every page is still
 * protected (6.12 unshares with FAULT_FLAG_UNSHARE, which keeps the
 * uffd-wp bit on the new copy), the data is intact, the counters forget
 * the range; and a write to a page that was merged still reaches the
 * handler as a write-protect fault.
 */
TEST_F_TIMEOUT(uffd, unmerge_keeps_wp, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout l, *ls[] = { &l };
	struct wp_write w;
	size_t i, t;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, 8, 8, 16, 0, 0xd121, 0xd122, 103));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);
	ASSERT_EQ(0, uffd_register(self->fd, p, l.npages * PAGE, false, true,
				   false));
	ASSERT_EQ(0, uffd_set_wp(self->fd, p, l.npages * PAGE, true));

	ASSERT_EQ(0, madvise(p, l.npages * PAGE, MADV_UNMERGEABLE));
	EXPECT_EQ(0, ksmt_count_shared_frames(p, l.npages, 0, l.npages));
	EXPECT_EQ(0, count_unprotected(p, l.npages));
	ksmt_expect_layout(_metadata, &l, p);
	for (i = 0; i < l.npages; i++)
		l.state[i] = KSMT_UNTRACKED;
	ksmt_settle_and_check(_metadata, ls, 1, false, true);

	t = next_group_page(&l, 0);
	ASSERT_GT(l.npages, t);
	ASSERT_EQ(0, wp_write_start(&w, p + t * PAGE,
				    ksmt_unique_key(0xd123, t)));
	EXPECT_EQ(1, wp_write_fault(self->fd, &w, 5000));
	ASSERT_EQ(0, wp_write_release(self->fd, &w));
	ksmt_layout_make_unique(&l, NULL, t, w.key);
	ksmt_expect_layout(_metadata, &l, p);
	EXPECT_EQ(1, count_unprotected(p, l.npages));

	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/* ---- PROT_NONE -------------------------------------------------------- */

FIXTURE(races) {
	unsigned long taint;
};

FIXTURE_SETUP(races)
{
	self->taint = ksmt_test_begin();
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	ASSERT_EQ(0, ksmt_run(1));
}

FIXTURE_TEARDOWN(races)
{
	EXPECT_EQ(0, ksmt_restore_knobs());
	ksmt_test_end(_metadata, self->taint);
}

/* Pages of a layout read through /proc/self/mem: -1 if all as they should. */
static long mem_layout_check(int memfd, const struct ksmt_layout *l,
			     const char *base)
{
	char *buf = malloc(PAGE);
	long bad = -1;
	size_t i;

	if (!buf)
		return 0;
	for (i = 0; i < l->npages && bad < 0; i++) {
		off_t off = (off_t)(uintptr_t)(base + i * PAGE);

		if (l->state[i] == KSMT_UNMAPPED)
			continue;
		if (pread(memfd, buf, PAGE, off) != (ssize_t)PAGE ||
		    !ksmt_page_is(buf, l->key[i]))
			bad = i;
	}
	free(buf);
	return bad;
}

/*
 * Duplicates (and zero pages, use_zero_pages=1) made PROT_NONE before ksmd
 * ever saw them: upstream merges PROT_NONE pages like any others (its
 * ksm_functional_tests prot_none case relies on it), and so must we,
 * exactly. Writes through /proc/self/mem (FOLL_FORCE) to merged pages
 * break COW for those pages alone; read back through /proc/self/mem and,
 * made readable again, directly, every page is as written.
 */
TEST_F_TIMEOUT(races, prot_none_merge, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout l, *ls[] = { &l };
	char *buf, *p;
	size_t i;
	int fd;

	ASSERT_EQ(0, ksmt_write("use_zero_pages", "1"));
	ASSERT_EQ(0, ksmt_layout_init(&l, 8, 10, 32, 16, 0xd201, 0xd202,
				      110));
	p = ksmt_map(l.npages);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_layout_fill(&l, p);
	ASSERT_EQ(0, mprotect(p, l.npages * PAGE, PROT_NONE));
	ASSERT_EQ(0, ksmt_mergeable(p, l.npages));
	ksmt_settle_and_check(_metadata, ls, 1, true, false);
	EXPECT_EQ(0, ksmt_frames_off_model(ls, &p, 1));

	fd = open("/proc/self/mem", O_RDWR);
	ASSERT_LE(0, fd);
	buf = malloc(PAGE);
	ASSERT_NE(NULL, buf);
	for (i = 4; i < l.npages; i += 9) {
		u64 key = ksmt_unique_key(0xd203, i);

		ksmt_fill_page(buf, key);
		ASSERT_EQ((ssize_t)PAGE,
			  pwrite(fd, buf, PAGE, (off_t)(uintptr_t)(p + i * PAGE)));
		ksmt_layout_make_unique(&l, NULL, i, key);
	}
	EXPECT_EQ(-1, mem_layout_check(fd, &l, p));
	ksmt_settle_and_check(_metadata, ls, 1, true, true);
	EXPECT_EQ(0, ksmt_frames_off_model(ls, &p, 1));
	EXPECT_EQ(-1, mem_layout_check(fd, &l, p));
	free(buf);
	close(fd);

	ASSERT_EQ(0, mprotect(p, l.npages * PAGE, PROT_READ));
	ksmt_expect_layout(_metadata, &l, p);
	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/*
 * A merged range (KSM pages and KSM zero pages) made PROT_NONE:
 * MADV_UNMERGEABLE on half of it succeeds and gives that half private
 * copies, the other half staying merged, exactly; run=2 then unmerges the
 * rest, still PROT_NONE, and every counter is zero at once. Readable and
 * writable again, every page holds its data, and the mergeable half
 * merges again from scratch.
 */
TEST_F_TIMEOUT(races, prot_none_unmerge, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout l, *ls[] = { &l };
	size_t i, half;
	char *p;

	ASSERT_EQ(0, ksmt_write("use_zero_pages", "1"));
	ASSERT_EQ(0, ksmt_layout_init(&l, 8, 10, 32, 16, 0xd211, 0xd212,
				      111));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, true, false);
	ASSERT_EQ(0, mprotect(p, l.npages * PAGE, PROT_NONE));

	half = l.npages / 2;
	ASSERT_EQ(0, madvise(p, half * PAGE, MADV_UNMERGEABLE));
	EXPECT_EQ(0, ksmt_count_shared_frames(p, l.npages, 0, half));
	for (i = 0; i < half; i++)
		l.state[i] = KSMT_UNTRACKED;
	ksmt_settle_and_check(_metadata, ls, 1, true, true);
	EXPECT_EQ(0, ksmt_frames_off_model(ls, &p, 1));

	ASSERT_EQ(0, ksmt_run(2));
	ksmt_expect_all_zero_now(_metadata);
	EXPECT_EQ(0, ksmt_count_shared_frames(p, l.npages, 0, l.npages));

	ASSERT_EQ(0, mprotect(p, l.npages * PAGE, PROT_READ | PROT_WRITE));
	ksmt_expect_layout(_metadata, &l, p);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_settle_and_check(_metadata, ls, 1, true, false);
	EXPECT_EQ(0, ksmt_frames_off_model(ls, &p, 1));
	for (i = half; i < l.npages; i += 5)
		ksmt_layout_make_unique(&l, p, i, ksmt_unique_key(0xd213, i));
	ksmt_expect_layout(_metadata, &l, p);
	/*
	 * Not "merged": a content left with a single copy in the mergeable
	 * half by the unmerge was not merged again after run=2.
	 */
	ksmt_settle_and_check(_metadata, ls, 1, true, false);

	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/*
 * mremap() of a range while its KSM pages are being migrated. mremap()
 * unmerges the range it moves first: a KSM page's reverse map records
 * absolute addresses, which do not follow the move. A KSM page caught
 * with a migration entry in its PTE at that moment is unmerged as well,
 * once its migration is over. Were the entry moved along instead, the
 * migration could no longer find it to put the page back: the next touch
 * of the page then hits a stale migration entry, a kernel BUG.
 */
#define REMAP_PAGES	128
#define REMAP_ROUNDS	1000

/* Shared by the two threads; base and stop through __atomic builtins. */
struct remap_race {
	char *base;		/* where the range is now */
	bool stop;
	long moved;		/* pages move_pages() moved */
};

/* The migrator: the range back and forth between nodes 0 and 1. */
static void *remap_migrator(void *arg)
{
	struct remap_race *r = arg;
	int nodes[REMAP_PAGES], status[REMAP_PAGES], node = 1;
	void *pages[REMAP_PAGES];
	size_t i;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		char *base = __atomic_load_n(&r->base, __ATOMIC_ACQUIRE);

		for (i = 0; i < REMAP_PAGES; i++) {
			pages[i] = base + i * PAGE;
			nodes[i] = node;
			status[i] = -1;
		}
		syscall(__NR_move_pages, 0, REMAP_PAGES, pages, nodes, status,
			MPOL_MF_MOVE_ALL);
		for (i = 0; i < REMAP_PAGES; i++)
			r->moved += status[i] == node;
		node ^= 1;
	}
	return NULL;
}

/* Waits up to 5 s for ksmd to merge something; whether it did. */
static bool remap_wait_merged(void)
{
	double end = ksmt_now() + 5;

	while (ksmt_get("pages_sharing") <= 0) {
		if (ksmt_now() > end)
			return false;
		usleep(1000);
	}
	return true;
}

TEST_F_TIMEOUT(races, mremap_during_migration, KSMT_TEST_TIMEOUT)
{
	size_t len = REMAP_PAGES * PAGE, i;
	struct remap_race r = { 0 };
	int round, merged = 0;
	pthread_t migrator;
	char *area, *cur;

	if (!ksmt_have_node1())
		SKIP(return, "a single NUMA node");
	/* Two slots for the range to move between. */
	area = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	cur = mmap(area, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(area, cur);
	ASSERT_EQ(0, madvise(cur, len, MADV_NOHUGEPAGE));
	/* Two copies of each content: half the pages merge into the rest. */
	for (i = 0; i < REMAP_PAGES; i++)
		ksmt_fill_page(cur + i * PAGE, 0xd300 + i % (REMAP_PAGES / 2));
	ASSERT_EQ(0, madvise(cur, len, MADV_MERGEABLE));

	r.base = cur;
	ASSERT_EQ(0, pthread_create(&migrator, NULL, remap_migrator, &r));
	for (round = 0; round < REMAP_ROUNDS; round++) {
		char *to = cur == area ? area + len : area;

		merged += remap_wait_merged();
		cur = mremap(cur, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (cur == MAP_FAILED)
			break;
		__atomic_store_n(&r.base, cur, __ATOMIC_RELEASE);
		for (i = 0; i < REMAP_PAGES; i++)
			if (!ksmt_page_is(cur + i * PAGE,
					  0xd300 + i % (REMAP_PAGES / 2)))
				break;
		EXPECT_EQ((size_t)REMAP_PAGES, i);
		if (i < REMAP_PAGES)
			break;
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_RELEASE);
	pthread_join(migrator, NULL);
	ASSERT_NE(MAP_FAILED, cur);
	TH_LOG("%d rounds, %d of them merged first, %ld pages migrated",
	       round, merged, r.moved);
	/* Without merges and migrations in flight there was no race. */
	EXPECT_GT(merged, REMAP_ROUNDS / 2);
	EXPECT_GT(r.moved, 0);

	/* Still reachable: merged again and unmerged, no page stays shared. */
	EXPECT_TRUE(remap_wait_merged());
	ASSERT_EQ(0, madvise(cur, len, MADV_UNMERGEABLE));
	EXPECT_EQ(0, ksmt_count_shared_frames(cur, REMAP_PAGES, 0, REMAP_PAGES));
	ASSERT_EQ(0, munmap(cur, len));
	ksmt_assert_all_zero(_metadata);
}

/* ---- exit and fork churn ---------------------------------------------- */

#define CHURN_SECONDS	10
#define CHURN_WORKERS	4
#define CHURN_GROUPS	16
#define CHURN_NS	0xd301
#define CHURN_MAX_KILLS	1024

/*
 * The child of a worker: sees the data as it was at fork(), writes new
 * contents to every third page, checks everything, exits 0 if all good.
 */
static void churn_child(struct ksmt_layout *l, char *p, u64 seed)
{
	struct ksmt_rng rng = { .state = seed ^ 0xc417d };
	size_t i;

	if (ksmt_layout_check(l, p) >= 0)
		_exit(1);
	ksmt_nap_ms(ksmt_rand_below(&rng, 60));
	for (i = 1 + ksmt_rand_below(&rng, 3); i < l->npages; i += 3)
		ksmt_layout_make_unique(l, p, i,
					ksmt_unique_key(seed ^ 0xc41, i));
	_exit(ksmt_layout_check(l, p) >= 0 ? 1 : 0);
}

/*
 * A worker: duplicates of shared contents (merged by madvise or, one in
 * four, prctl), a child forked after a random time, writes of its own,
 * checks before and after the child exits, then one of three endings.
 * Exit status 0: every check passed.
 */
static void churn_worker(u64 seed)
{
	struct ksmt_rng rng = { .state = seed };
	int per = 1 + ksmt_rand_below(&rng, 4);
	int nunique = 8 + ksmt_rand_below(&rng, 24);
	struct ksmt_layout l;
	int status;
	pid_t child;
	size_t i;
	char *p;

	if (ksmt_layout_init(&l, CHURN_GROUPS, per, nunique, 0, CHURN_NS,
			     seed, seed))
		_exit(2);
	if (!ksmt_rand_below(&rng, 4) &&
	    prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		_exit(2);
	p = ksmt_layout_map(&l);
	if (p == MAP_FAILED)
		_exit(2);
	ksmt_nap_ms(ksmt_rand_below(&rng, 150));
	child = fork();
	if (child < 0)
		_exit(2);
	if (child == 0)
		churn_child(&l, p, seed);
	for (i = ksmt_rand_below(&rng, 4); i < l.npages; i += 4)
		ksmt_layout_make_unique(&l, p, i,
					ksmt_unique_key(seed ^ 0x3017, i));
	if (ksmt_layout_check(&l, p) >= 0 || waitpid(child, &status, 0) != child ||
	    !WIFEXITED(status) || WEXITSTATUS(status) ||
	    ksmt_layout_check(&l, p) >= 0)
		_exit(1);
	switch (ksmt_rand_below(&rng, 3)) {
	case 0:
		munmap(p, l.npages * PAGE);
		break;
	case 1:
		if (madvise(p, l.npages * PAGE, MADV_UNMERGEABLE) ||
		    ksmt_layout_check(&l, p) >= 0)
			_exit(1);
		break;
	default:
		ksmt_nap_ms(ksmt_rand_below(&rng, 50));
	}
	_exit(0);
}

struct churn {
	pid_t worker[CHURN_WORKERS];
	double kill_at[CHURN_WORKERS];	/* 0: left to end by itself */
	bool killed[CHURN_WORKERS];
	pid_t killed_group[CHURN_MAX_KILLS];
	int nkilled;
	pid_t holder[2];
	long spawned;
	long orphans;
	long bad;
};

static pid_t churn_spawn(u64 seed)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		churn_worker(seed);
	}
	if (pid > 0)
		setpgid(pid, pid);
	return pid;
}

/*
 * Reaps whatever ended: workers (which must exit 0, or die of the SIGKILL
 * we sent them), and the children of killed workers (reparented to us,
 * a subreaper), which must exit 0 or die of the same SIGKILL.
 */
static void churn_reap(struct churn *ch)
{
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		bool killed = true;

		if (pid == ch->holder[0] || pid == ch->holder[1]) {
			fprintf(stderr, "# holder %d ended: %#x\n", (int)pid,
				status);
			ch->bad++;
			continue;
		}
		for (i = 0; i < CHURN_WORKERS; i++) {
			if (ch->worker[i] == pid) {
				killed = ch->killed[i];
				ch->worker[i] = 0;
				break;
			}
		}
		if (i == CHURN_WORKERS)
			ch->orphans++;
		if (WIFEXITED(status) && !WEXITSTATUS(status))
			continue;
		if (killed && WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGKILL)
			continue;
		fprintf(stderr, "# pid %d ended badly: %#x\n", (int)pid,
			status);
		ch->bad++;
	}
}

/* Keeps CHURN_WORKERS workers going, a quarter of them killed early. */
static void churn_step(struct churn *ch, struct ksmt_rng *rng)
{
	double now = ksmt_now();
	int i;

	for (i = 0; i < CHURN_WORKERS; i++) {
		if (!ch->worker[i]) {
			ch->worker[i] = churn_spawn(1000 + ch->spawned++);
			ch->killed[i] = false;
			ch->kill_at[i] = 0;
			if (ch->worker[i] < 0) {
				ch->worker[i] = 0;
				ch->bad++;
			} else if (!ksmt_rand_below(rng, 4)) {
				ch->kill_at[i] = now +
					ksmt_rand_below(rng, 300) / 1000.0;
			}
		}
		if (ch->kill_at[i] && !ch->killed[i] && now >= ch->kill_at[i] &&
		    ch->nkilled < CHURN_MAX_KILLS) {
			kill(-ch->worker[i], SIGKILL);
			ch->killed[i] = true;
			ch->killed_group[ch->nkilled++] = ch->worker[i];
		}
	}
	churn_reap(ch);
}

/* Waits for the last workers and every member of the groups we killed. */
static bool churn_drain(struct churn *ch)
{
	double end = ksmt_now() + 30;
	int i, left;

	do {
		churn_reap(ch);
		left = 0;
		for (i = 0; i < CHURN_WORKERS; i++)
			left += ch->worker[i] != 0;
		for (i = 0; i < ch->nkilled; i++)
			if (!kill(-ch->killed_group[i], 0))
				left++;
		if (!left)
			return true;
		ksmt_nap_ms(5);
	} while (ksmt_now() < end);
	return false;
}

/* Once no process is registered with KSM, ksmd stops making passes. */
static bool ksmd_goes_idle(void)
{
	unsigned long last = ksmt_full_scans(), now;
	double start = ksmt_now(), still = start;

	while (ksmt_now() - start < 5) {
		ksmt_nap_ms(50);
		now = ksmt_full_scans();
		if (now != last) {
			last = now;
			still = ksmt_now();
		} else if (ksmt_now() - still >= 1) {
			return true;
		}
	}
	return false;
}

FIXTURE(churn) {
	unsigned long taint;
};

FIXTURE_SETUP(churn)
{
	struct ksmt_counters c;

	self->taint = ksmt_test_begin();
	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	signal(SIGPIPE, SIG_IGN);
	/*
	 * No ticker: this process stays out of KSM, so that ksmd has nothing
	 * left to do once the workers and holders are gone.
	 */
	ASSERT_EQ(0, ksmt_reset());
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ASSERT_EQ(0, c.shared);
	ASSERT_EQ(0, c.sharing);
	ASSERT_EQ(0, c.zero_pages);
	ASSERT_EQ(0, ksmt_run(1));
}

FIXTURE_TEARDOWN(churn)
{
	EXPECT_EQ(0, ksmt_restore_knobs());
	ksmt_test_end(_metadata, self->taint);
}

/*
 * For CHURN_SECONDS, with ksmd at full speed (sleep_millisecs=0,
 * pages_to_scan 5000), workers keep coming and going, four at a time:
 * each fills duplicates of contents shared with everyone, forks a child
 * that writes, checks and exits, writes and checks on its own, and exits
 * or unmaps or unmerges first; a quarter are killed (with their children)
 * at a random moment. Two holders live throughout. No process may see
 * wrong data. Then the counters are exactly the holders', their data
 * intact; once they exit too, every counter is zero and ksmd, with no mm
 * left to scan, goes idle: no mm slot leaked.
 */
TEST_F_TIMEOUT(churn, exit_and_fork, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout ha, hb, *hl[] = { &ha, &hb };
	struct ksmt_layout *la[] = { &ha }, *lb[] = { &hb };
	struct ksmt_rng rng = { .state = 120 };
	struct ksmt_expect e, each[2];
	struct ksmt_chan cha, chb;
	struct ksmt_counters c;
	struct ksmt_stat st;
	static struct churn ch;
	double end, next_check;
	int i, status;

	memset(&ch, 0, sizeof(ch));
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	ASSERT_EQ(0, ksmt_layout_init(&ha, CHURN_GROUPS, 2, 24, 0, CHURN_NS,
				      0xd311, 121));
	ASSERT_EQ(0, ksmt_layout_init(&hb, CHURN_GROUPS, 2, 24, 0, CHURN_NS,
				      0xd312, 122));
	ch.holder[0] = ksmt_spawn_holder(&cha, la, 1);
	ASSERT_LT(0, ch.holder[0]);
	ch.holder[1] = ksmt_spawn_holder(&chb, lb, 1);
	if (ch.holder[1] <= 0)
		ksmt_kill(ch.holder[0]);
	ASSERT_LT(0, ch.holder[1]);

	end = ksmt_now() + CHURN_SECONDS;
	next_check = ksmt_now() + 2;
	while (ksmt_now() < end) {
		churn_step(&ch, &rng);
		if (ksmt_now() >= next_check) {
			EXPECT_EQ(0, ksmt_holder_verify(&cha));
			EXPECT_EQ(0, ksmt_holder_verify(&chb));
			next_check += 2;
		}
		ksmt_nap_ms(2);
	}
	EXPECT_TRUE(churn_drain(&ch));
	TH_LOG("%ld workers, %d killed, %ld orphans reaped, %ld ended badly",
	       ch.spawned, ch.nkilled, ch.orphans, ch.bad);
	EXPECT_EQ(0, ch.bad);

	/* The holders alone: exact, and their data intact. */
	ASSERT_EQ(0, ksmt_settle(3));
	ksmt_expect_sum_of_stats(_metadata, ch.holder, 2);
	ASSERT_EQ(0, ksmt_expect_layouts(hl, 2, false, false, &e, each));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ksmt_expect_global(_metadata, &c, &e);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, ksmt_read_stat(ch.holder[i], &st));
		ksmt_expect_stat(_metadata, &st, &each[i]);
	}
	ASSERT_EQ(0, ksmt_run(1));
	EXPECT_EQ(0, ksmt_holder_verify(&cha));
	EXPECT_EQ(0, ksmt_holder_verify(&chb));

	ksmt_chan_close(&cha);
	ksmt_chan_close(&chb);
	for (i = 0; i < 2; i++) {
		status = ksmt_waitpid(ch.holder[i], KSMT_SCAN_TIMEOUT);
		if (status < 0)
			ksmt_kill(ch.holder[i]);
		EXPECT_TRUE(status >= 0 && WIFEXITED(status) &&
			    !WEXITSTATUS(status));
	}
	ksmt_assert_all_zero(_metadata);
	EXPECT_TRUE(ksmd_goes_idle());
	ksmt_layout_free(&ha);
	ksmt_layout_free(&hb);
}

/* ---- OOM while unmerging ---------------------------------------------- */

#define OOM_CG_NAME	"ksm_races"
#define OOM_CG		KSMT_CGROOT "/" OOM_CG_NAME
#define OOM_LIMIT	"16M"
#define OOM_CHUNK	2048	/* pages filled per wait for merging: 8 MiB */
#define OOM_CHUNKS	8	/* 64 MiB of one content: 4 times the limit */
#define OOM_PAGES	(OOM_CHUNK * OOM_CHUNKS)
#define OOM_NS		0xd401
/* Exit statuses of the child that did not get killed. */
#define OOM_EXIT_FAILED	10	/* unmerging failed cleanly, data intact */
#define OOM_EXIT_BAD	11	/* data changed */

enum oom_way { OOM_MADVISE, OOM_PRCTL, OOM_RUN2 };

static bool swap_in_use(void)
{
	char line[256];
	bool used = false;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return false;
	/* A header line, then one per swap device. */
	if (fgets(line, sizeof(line), f))
		used = !!fgets(line, sizeof(line), f);
	fclose(f);
	return used;
}

/* A memory cgroup limited to OOM_LIMIT, without swap; a reason, or NULL. */
static const char *cg_up(struct ksmt_cgroup *cg)
{
	const char *why = ksmt_cgroup_make(cg, OOM_CG_NAME);

	if (why)
		return why;
	if (ksmt_cgroup_write(cg, "memory.max", OOM_LIMIT))
		return "cannot set memory.max";
	if (ksmt_cgroup_has(cg, "memory.swap.max")) {
		if (ksmt_cgroup_write(cg, "memory.swap.max", "0"))
			return "cannot set memory.swap.max";
	} else if (swap_in_use()) {
		return "swap is on and memory.swap.max is missing";
	}
	return NULL;
}

/* Waits until our ksm_merging_pages reaches target; 0 or -ETIMEDOUT. */
static int wait_merging(long target)
{
	double end = ksmt_now() + KSMT_SCAN_TIMEOUT;
	long merging;

	while (ksmt_now() < end) {
		if (!ksmt_read_merging_pages(0, &merging) && merging >= target)
			return 0;
		ksmt_nap_ms(5);
	}
	return -ETIMEDOUT;
}

/*
 * The child: the OOM killer's first choice, in the cgroup, it fills
 * OOM_PAGES pages with one content a chunk at a time, waiting for each
 * chunk to merge so that it stays under the limit; reports 'm'; then
 * unmerges everything (or waits while the parent writes run=2). If it is
 * still alive afterwards, it checks its data and exits OOM_EXIT_FAILED
 * (unmerging failed with EAGAIN, ENOMEM or EINTR), 0 (it worked) or
 * OOM_EXIT_BAD; 2 and 3 are setup failures.
 */
static void oom_child(struct ksmt_chan *ch, enum oom_way way)
{
	size_t i, c, len = OOM_PAGES * PAGE;
	char *p, *tmpl = malloc(PAGE);
	int err = 0;
	char cmd;

	if (ksmt_write_file("/proc/self/oom_score_adj", "1000") ||
	    ksmt_write_file(OOM_CG "/cgroup.procs", "0"))
		_exit(2);
	if (!tmpl || (way == OOM_PRCTL && prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0)))
		_exit(2);
	ksmt_fill_page(tmpl, ksmt_group_key(OOM_NS, 0));
	p = ksmt_map(OOM_PAGES);
	if (p == MAP_FAILED || (way != OOM_PRCTL && ksmt_mergeable(p, OOM_PAGES)))
		_exit(2);
	for (c = 0; c < OOM_CHUNKS; c++) {
		for (i = c * OOM_CHUNK; i < (c + 1) * OOM_CHUNK; i++)
			memcpy(p + i * PAGE, tmpl, PAGE);
		if (wait_merging((c + 1) * OOM_CHUNK))
			_exit(3);
	}
	if (ksmt_send(ch->up[1], 'm'))
		_exit(2);
	switch (way) {
	case OOM_MADVISE:
		err = madvise(p, len, MADV_UNMERGEABLE) ? errno : 0;
		break;
	case OOM_PRCTL:
		err = prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0) ? errno : 0;
		break;
	case OOM_RUN2:
		ksmt_recv(ch->down[0], &cmd, 600);
		err = EAGAIN;
		break;
	}
	for (i = 0; i < OOM_PAGES; i++)
		if (memcmp(p + i * PAGE, tmpl, PAGE))
			_exit(OOM_EXIT_BAD);
	if (err && err != EAGAIN && err != ENOMEM && err != EINTR)
		_exit(OOM_EXIT_BAD);
	_exit(err ? OOM_EXIT_FAILED : 0);
}

/* A process outside the cgroup sharing the child's content. */
struct oom_holder {
	struct ksmt_layout l;
	struct ksmt_chan ch;
	pid_t pid;
};

FIXTURE(oom) {
	unsigned long taint;
	struct ksmt_cgroup cg;
	struct oom_holder h;
};

FIXTURE_SETUP(oom)
{
	struct ksmt_layout *ls[] = { &self->h.l };
	const char *why;

	self->taint = ksmt_test_begin();
	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	/* We and the holder (which inherits it) are never the victim. */
	ASSERT_EQ(0, ksmt_write_file("/proc/self/oom_score_adj", "-1000"));
	signal(SIGPIPE, SIG_IGN);
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	ASSERT_EQ(0, ksmt_run(1));
	/* Its group 0 is the content the child fills its memory with. */
	ASSERT_EQ(0, ksmt_layout_init(&self->h.l, 4, 4, 16, 0, OOM_NS, 0xd402,
				      130));
	self->h.pid = ksmt_spawn_holder(&self->h.ch, ls, 1);
	ASSERT_LT(0, self->h.pid);
	why = cg_up(&self->cg);
	if (why) {
		ksmt_cgroup_remove(&self->cg);
		ksmt_kill(self->h.pid);
		SKIP(return, "%s", why);
	}
}

FIXTURE_TEARDOWN(oom)
{
	if (self->h.pid > 0) {
		ksmt_kill(self->h.pid);
		ksmt_chan_close(&self->h.ch);
	}
	ksmt_cgroup_remove(&self->cg);
	EXPECT_EQ(0, ksmt_restore_knobs());
	ksmt_layout_free(&self->h.l);
	ksmt_test_end(_metadata, self->taint);
}

/*
 * The child of the way given merges OOM_PAGES (four times its cgroup's
 * limit) into the holder's KSM pages, then its memory is unmerged. It
 * must fail cleanly or be OOM-killed (and then be the only one killed),
 * and nothing may be corrupted: the holder's data is intact and the
 * counters, once ksmd settles, are exactly the holder's; run=2 then
 * brings them all to zero, and the holder exits with its data intact.
 */
static void oom_scenario(struct __test_metadata *_metadata,
			 struct oom_holder *h, enum oom_way way)
{
	struct ksmt_layout *ls[] = { &h->l };
	long kills = ksmt_file_field(OOM_CG "/memory.events", "oom_kill");
	struct ksmt_counters c;
	struct ksmt_expect e;
	struct ksmt_chan ch;
	struct ksmt_stat st;
	bool killed, failed;
	int status, err;
	double started;
	char msg = 0;
	pid_t pid;

	ASSERT_LE(0, kills);
	ASSERT_EQ(0, ksmt_chan_open(&ch));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		ksmt_chan_worker(&ch);
		oom_child(&ch, way);
	}
	ksmt_chan_parent(&ch);
	started = ksmt_now();
	err = ksmt_recv(ch.up[0], &msg, 2 * KSMT_SCAN_TIMEOUT);
	if (err || msg != 'm') {
		status = ksmt_waitpid(pid, 1);
		TH_LOG("the child did not merge its pages: %d, status %#x",
		       err, status);
		ksmt_kill(pid);
	}
	ASSERT_TRUE(!err && msg == 'm');
	ASSERT_EQ(0, ksmt_read_stat(pid, &st));
	TH_LOG("child merged %ld pages in %.1f s; cgroup memory.current %ld",
	       st.merging_pages, ksmt_now() - started,
	       ksmt_file_long(OOM_CG "/memory.current"));
	started = ksmt_now();
	EXPECT_LE(OOM_PAGES, st.merging_pages);

	if (way == OOM_RUN2) {
		err = ksmt_run(2);
		TH_LOG("run=2 from outside: %s", err ? strerror(-err) : "done");
		EXPECT_TRUE(!err || err == -ENOMEM);
		ksmt_send(ch.down[1], 'q');
	}
	status = ksmt_waitpid(pid, 2 * KSMT_SCAN_TIMEOUT);
	if (status < 0)
		ksmt_kill(pid);
	ksmt_chan_close(&ch);
	ASSERT_LE(0, status);
	killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	failed = WIFEXITED(status) && WEXITSTATUS(status) == OOM_EXIT_FAILED;
	kills = ksmt_file_field(OOM_CG "/memory.events", "oom_kill") - kills;
	TH_LOG("child %s after %.1f s; OOM kills in its cgroup: %ld",
	       killed ? "OOM-killed" : failed ? "failed to unmerge, cleanly" :
	       "ended otherwise", ksmt_now() - started, kills);
	EXPECT_TRUE(killed || failed);
	EXPECT_EQ(killed ? 1 : 0, kills);
	EXPECT_EQ(0, ksmt_holder_verify(&h->ch));

	/* The child gone, all that is left is the holder's, exactly. */
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_expect_layouts(ls, 1, false, false, &e, NULL));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ksmt_expect_global(_metadata, &c, &e);
	ASSERT_EQ(0, ksmt_read_stat(h->pid, &st));
	ksmt_expect_stat(_metadata, &st, &e);
	ASSERT_EQ(0, ksmt_run(2));
	ksmt_expect_all_zero_now(_metadata);
	EXPECT_EQ(0, ksmt_holder_verify(&h->ch));

	ksmt_chan_close(&h->ch);
	status = ksmt_waitpid(h->pid, KSMT_SCAN_TIMEOUT);
	if (status < 0)
		ksmt_kill(h->pid);
	h->pid = 0;
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status));
	TH_LOG("cgroup memory.current afterwards: %ld",
	       ksmt_file_long(OOM_CG "/memory.current"));
}

TEST_F_TIMEOUT(oom, madvise_unmergeable, KSMT_TEST_TIMEOUT)
{
	oom_scenario(_metadata, &self->h, OOM_MADVISE);
}

TEST_F_TIMEOUT(oom, prctl_merge_off, KSMT_TEST_TIMEOUT)
{
	oom_scenario(_metadata, &self->h, OOM_PRCTL);
}

TEST_F_TIMEOUT(oom, run2_from_outside, KSMT_TEST_TIMEOUT)
{
	oom_scenario(_metadata, &self->h, OOM_RUN2);
}

#define MEMCG_CG_NAME	"ksm_races_memcg"
#define MEMCG_NS	0xd501
#define MEMCG_PAGES	32

/*
 * The child, moved into the cgroup by the parent: maps MEMCG_PAGES pages
 * with the parent's contents, mergeable, and reports 'r'; on 'u' it
 * unmerges them and reports 'k' if they still read as written (else 'x');
 * then it waits to be killed.
 */
static void memcg_child(struct ksmt_chan *ch)
{
	char *p, cmd;
	int i;

	if (ksmt_recv(ch->down[0], &cmd, 60) || cmd != 'g')
		_exit(2);
	p = ksmt_map(MEMCG_PAGES);
	if (p == MAP_FAILED)
		_exit(2);
	for (i = 0; i < MEMCG_PAGES; i++)
		ksmt_fill_page(p + i * PAGE, ksmt_group_key(MEMCG_NS, i));
	if (ksmt_mergeable(p, MEMCG_PAGES) || ksmt_send(ch->up[1], 'r'))
		_exit(2);
	if (ksmt_recv(ch->down[0], &cmd, 600) || cmd != 'u')
		_exit(2);
	cmd = 'k';
	if (madvise(p, MEMCG_PAGES * PAGE, MADV_UNMERGEABLE))
		cmd = 'x';
	for (i = 0; i < MEMCG_PAGES; i++)
		if (!ksmt_page_is(p + i * PAGE, ksmt_group_key(MEMCG_NS, i)))
			cmd = 'x';
	ksmt_send(ch->up[1], cmd);
	pause();
	_exit(0);
}

FIXTURE(memcg) {
	unsigned long taint;
	struct ksmt_cgroup cg;
	struct ksmt_chan ch;
	pid_t pid;
};

FIXTURE_SETUP(memcg)
{
	const char *why;

	self->pid = -1;
	self->taint = ksmt_test_begin();
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	why = ksmt_cgroup_make(&self->cg, MEMCG_CG_NAME);
	if (why) {
		ksmt_cgroup_remove(&self->cg);
		SKIP(return, "%s", why);
	}
	ASSERT_EQ(0, ksmt_chan_open(&self->ch));
}

FIXTURE_TEARDOWN(memcg)
{
	if (self->pid > 0)
		ksmt_kill(self->pid);
	ksmt_chan_close(&self->ch);
	ksmt_cgroup_remove(&self->cg);
	EXPECT_EQ(0, ksmt_restore_knobs());
	ksmt_test_end(_metadata, self->taint);
}

/*
 * Our pages share KSM pages with a child in another memory cgroup. Its
 * mm registers after ours, so ksmd meets its pages second and they become
 * the KSM pages, charged to its cgroup (a page whose frame was ours all
 * along counts as ours). The child unmerges first: it gets copies. Then
 * we unmerge, as the last mapping of every KSM page: a page charged to
 * our own cgroup we take back as it is, but one charged to the child's
 * must be copied, so that the child's cgroup is not left paying for our
 * memory. Every page reads as written throughout.
 */
TEST_F_TIMEOUT(memcg, unmerge_copies_page_charged_elsewhere,
	       KSMT_TEST_TIMEOUT)
{
	unsigned long own[MEMCG_PAGES], ksm[MEMCG_PAGES], pfn;
	int i, theirs = 0;
	char *p, c;

	/* Forked first: it must not inherit our pages. */
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid)
		memcg_child(&self->ch);
	ASSERT_EQ(0, ksmt_cgroup_join(&self->cg, self->pid));
	p = ksmt_map(MEMCG_PAGES);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < MEMCG_PAGES; i++) {
		ksmt_fill_page(p + i * PAGE, ksmt_group_key(MEMCG_NS, i));
		ASSERT_EQ(0, ksmt_pfn(p + i * PAGE, &own[i]));
	}
	ASSERT_EQ(0, ksmt_mergeable(p, MEMCG_PAGES));
	ASSERT_EQ(0, ksmt_send(self->ch.down[1], 'g'));
	ASSERT_EQ(0, ksmt_recv(self->ch.up[0], &c, 60));
	ASSERT_EQ('r', c);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(MEMCG_PAGES, ksmt_get("pages_shared"));
	ASSERT_EQ(MEMCG_PAGES, ksmt_get("pages_sharing"));
	for (i = 0; i < MEMCG_PAGES; i++) {
		ASSERT_EQ(0, ksmt_pfn(p + i * PAGE, &ksm[i]));
		theirs += ksm[i] != own[i];
	}
	TH_LOG("%d of %d KSM pages were the child's", theirs, MEMCG_PAGES);
	/* Else the case this test is about was not tried at all. */
	ASSERT_LT(0, theirs);

	ASSERT_EQ(0, ksmt_send(self->ch.down[1], 'u'));
	ASSERT_EQ(0, ksmt_recv(self->ch.up[0], &c, 120));
	ASSERT_EQ('k', c);
	ASSERT_EQ(0, madvise(p, MEMCG_PAGES * PAGE, MADV_UNMERGEABLE));
	for (i = 0; i < MEMCG_PAGES; i++) {
		ASSERT_EQ(0, ksmt_pfn(p + i * PAGE, &pfn));
		/* Kept if it was ours, else a copy. */
		EXPECT_EQ(ksm[i] == own[i], ksm[i] == pfn);
		EXPECT_TRUE(ksmt_page_is(p + i * PAGE,
					 ksmt_group_key(MEMCG_NS, i)));
	}
	EXPECT_EQ(0, munmap(p, MEMCG_PAGES * PAGE));
}

/*
 * KSM pages in the swap cache. Reclaim unmaps a KSM page from every
 * sharer and then writes it out, but while someone else holds a
 * reference to it (here a pipe, through vmsplice()) it cannot be written
 * or freed: it stays in the swap cache, still a KSM page, every mapping
 * of it a swap entry. A fault on one of those entries in a mergeable VMA
 * maps the KSM page as it is.
 */
#define SWAPC_CG_NAME	"ksm_races_swapcache"
#define SWAPC_NS	0xd601
#define SWAPC_PAIRS	128
#define SWAPC_PAGES	(2 * SWAPC_PAIRS)
#define SWAPC_ROUNDS	6
/* Seconds the reclaim of the region may take. */
#define SWAPC_RECLAIM	20

FIXTURE(swapcache) {
	unsigned long taint;
	struct ksmt_swap_env env;
	char *p;
};

FIXTURE_SETUP(swapcache)
{
	const char *why;

	self->p = MAP_FAILED;
	self->taint = ksmt_test_begin();
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	why = ksmt_swap_env_up(&self->env, "32M", SWAPC_CG_NAME);
	if (why) {
		ksmt_swap_env_down(&self->env);
		SKIP(return, "%s", why);
	}
	self->p = ksmt_map(SWAPC_PAGES);
	ASSERT_NE(MAP_FAILED, self->p);
}

FIXTURE_TEARDOWN(swapcache)
{
	if (self->p != MAP_FAILED)
		munmap(self->p, SWAPC_PAGES * PAGE);
	ksmt_swap_env_down(&self->env);
	EXPECT_EQ(0, ksmt_restore_knobs());
	ksmt_test_end(_metadata, self->taint);
}

/* Pages 2i and 2i + 1 are twins: one KSM page per pair once merged. */
static u64 swapc_key(int round, size_t i)
{
	return ksmt_group_key(SWAPC_NS + round, i / 2);
}

/* How many of the region's pages are swap entries. */
static size_t swapc_swapped(const char *p)
{
	long n = ksmt_swapped(0, p, SWAPC_PAGES);

	return n < 0 ? 0 : n;
}

static bool swapc_all_out(void *arg)
{
	return swapc_swapped(arg) == SWAPC_PAGES;
}

/*
 * Merges the region into SWAPC_PAIRS KSM pages, holds a reference to each
 * in a pipe while the cgroup reclaims it all, then lets go: every KSM
 * page is left in the swap cache. ksmd is stopped at the end.
 */
static void swapc_prepare(struct __test_metadata *_metadata,
			  struct ksmt_swap_env *env, char *p, int round)
{
	struct iovec iov;
	int pipefd[2];
	size_t i;

	for (i = 0; i < SWAPC_PAGES; i++)
		ksmt_fill_page(p + i * PAGE, swapc_key(round, i));
	ASSERT_EQ(0, madvise(p, SWAPC_PAGES * PAGE, MADV_MERGEABLE));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(3));
	ASSERT_EQ(SWAPC_PAIRS, ksmt_get("pages_shared"));
	ASSERT_EQ(SWAPC_PAIRS, ksmt_get("pages_sharing"));

	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_LE((long)(SWAPC_PAIRS * PAGE),
		  fcntl(pipefd[1], F_SETPIPE_SZ, SWAPC_PAIRS * PAGE));
	for (i = 0; i < SWAPC_PAIRS; i++) {
		iov.iov_base = p + 2 * i * PAGE;
		iov.iov_len = PAGE;
		ASSERT_EQ((ssize_t)PAGE, vmsplice(pipefd[1], &iov, 1, 0));
	}
	ASSERT_TRUE(ksmt_cgroup_reclaim_until(&env->cg, swapc_all_out, p,
					      SWAPC_RECLAIM));
	close(pipefd[0]);
	close(pipefd[1]);
}

struct swapc_racer {
	pthread_t thread;
	char *p;
	long cow0;		/* cow_ksm before the unmerge */
	int go;			/* the unmerge is about to start */
	int done;		/* the unmerge returned */
};

/*
 * Once the unmerge has copied SWAPC_BEHIND of the mapped KSM pages (or
 * has returned), faults in the odd pages from the start: those its walk
 * has passed by then are behind it.
 */
#define SWAPC_BEHIND	32
static void *swapc_race(void *arg)
{
	struct swapc_racer *r = arg;
	size_t i;

	while (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE))
		;
	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) &&
	       ksmt_vmstat("cow_ksm") - r->cow0 < SWAPC_BEHIND)
		;
	/* An atomic load: the compiler may not leave it out. */
	for (i = 1; i < SWAPC_PAGES; i += 2)
		__atomic_load_n(&r->p[i * PAGE], __ATOMIC_RELAXED);
	return NULL;
}

/*
 * MADV_UNMERGEABLE of a range whose pairs map their KSM page at one
 * address and hold a swap entry for it at the other, while a second
 * thread faults in those swap entries once the unmerge is under way. The
 * unmerge copies every mapped KSM page (each copy counts in cow_ksm),
 * slowly enough for faults behind its walk to come in meanwhile, and
 * skips the swap entries: the
 * VMA must be locked against faults until it is no longer mergeable, or
 * a fault maps the swap cache's KSM page in a VMA ksmd no longer looks
 * at (the window mremap() opened too, through the same path). Afterwards
 * no write may find a KSM page (vmstat cow_ksm), every page reads as
 * written, and with run=2 nothing of KSM's is left.
 */
TEST_F_TIMEOUT(swapcache, unmerge_vs_swapin, KSMT_TEST_TIMEOUT)
{
	long cow0, copies0, cows = 0, copies = 0;
	struct swapc_racer r;
	int round;
	size_t i;

	cow0 = ksmt_vmstat("cow_ksm");
	copies0 = ksmt_vmstat("ksm_swpin_copy");
	if (cow0 < 0 || copies0 < 0)
		SKIP(return, "no cow_ksm or ksm_swpin_copy in /proc/vmstat");
	for (round = 0; round < SWAPC_ROUNDS; round++) {
		char *p = self->p;

		swapc_prepare(_metadata, &self->env, p, round);
		/* Each pair's KSM page mapped at its first page only. */
		for (i = 0; i < SWAPC_PAGES; i += 2)
			ASSERT_TRUE(ksmt_page_is(p + i * PAGE,
						 swapc_key(round, i)));
		ASSERT_EQ((size_t)SWAPC_PAIRS, swapc_swapped(p));

		memset(&r, 0, sizeof(r));
		r.p = p;
		r.cow0 = ksmt_vmstat("cow_ksm");
		copies0 = ksmt_vmstat("ksm_swpin_copy");
		ASSERT_EQ(0, pthread_create(&r.thread, NULL, swapc_race, &r));
		__atomic_store_n(&r.go, 1, __ATOMIC_RELEASE);
		ASSERT_EQ(0, madvise(p, SWAPC_PAGES * PAGE, MADV_UNMERGEABLE));
		__atomic_store_n(&r.done, 1, __ATOMIC_RELEASE);
		ASSERT_EQ(0, pthread_join(r.thread, NULL));
		copies += ksmt_vmstat("ksm_swpin_copy") - copies0;
		cow0 = ksmt_vmstat("cow_ksm");

		/* Write every page: none may still be a KSM page. */
		for (i = 0; i < SWAPC_PAGES; i++) {
			char *page = p + i * PAGE;

			ASSERT_TRUE(ksmt_page_is(page, swapc_key(round, i)))
				TH_LOG("round %d page %zu", round, i);
			ksmt_fill_page(page, swapc_key(round, i));
		}
		cow0 = ksmt_vmstat("cow_ksm") - cow0;
		cows += cow0;
		EXPECT_EQ(0, cow0)
			TH_LOG("round %d: KSM pages mapped after the unmerge",
			       round);
		ASSERT_EQ(0, ksmt_run(2));
	}
	TH_LOG("%d rounds: %ld swap-ins copied after the unmerge, %ld KSM pages written after it",
	       SWAPC_ROUNDS, copies, cows);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_assert_all_zero(_metadata);
}

TEST_HARNESS_MAIN
