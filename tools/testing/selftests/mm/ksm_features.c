// SPDX-License-Identifier: GPL-2.0
/*
 * KSM features of the 6.12 ABI, with exact expectations:
 *
 *  - use_zero_pages: zero pages merged with the shared zero page count in
 *    ksm_zero_pages (global and /proc/self/ksm_stat), not as KSM pages;
 *    MADV_UNMERGEABLE, writes and munmap() take them out of the count at
 *    once; with use_zero_pages=0 they make one ordinary KSM page.
 *  - MADV_UNMERGEABLE: the last mapping of a KSM page takes the page back
 *    instead of copying it (ours; upstream copies it too).
 *  - max_page_sharing: more copies than the limit give several KSM pages
 *    of one content, one stable node chain counting them as dups; all of
 *    it goes away with the pages. run=2 counts full_scans from 0 again.
 *  - merge_across_nodes=0: copies on two NUMA nodes give one KSM page per
 *    node, each staying on its node; with 1, a single KSM page.
 *  - checksum collisions: pages written to share a checksum with a
 *    content do not keep its copies from merging (for more than a few
 *    passes, if there are many).
 *  - smart_scan: pages that never merge are skipped (pages_skipped), so a
 *    pass over a static workload scans clearly fewer pages; a new copy of
 *    a skipped page still merges with it as soon as with any other; a
 *    merged page its owner writes all the time is merged again less and
 *    less often, not at every pass.
 *  - prctl(PR_SET_MEMORY_MERGE): inherited by fork() and kept by exec();
 *    new mappings merge without madvise(); bad arguments are EINVAL;
 *    switching it off unmerges.
 *
 * KSM's tracepoints are tested in ksm_events.c.
 *
 * Merging is checked through the page frames the pages map
 * (/proc/self/pagemap), so the tests run as root: in a process that did
 * not fork, distinct pages that map one frame share a KSM page.
 * Nothing else may use KSM while this runs: the counters are global.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mempolicy.h>

#include "../kselftest_harness.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif

/* argv[1] of the image exec()ed by prctl_merge_exec. */
#define EXEC_CHILD_ARG	"--ksmf-merge-any-child"

/* prctl() with every argument an unsigned long, as the kernel reads them. */
static int xprctl(int op, unsigned long a2, unsigned long a3,
		  unsigned long a4, unsigned long a5)
{
	return prctl(op, a2, a3, a4, a5);
}

/*
 * Waits until the npages (at least 2) pages at p, in a process that did
 * not fork, all map one frame: one KSM page.
 * Returns 0, -ETIMEDOUT or another -errno.
 */
static int wait_one_ksm_page(const char *p, long npages, int timeout_s)
{
	double deadline = ksmt_now() + timeout_s;
	struct ksmt_census cs;
	int err;

	for (;;) {
		err = ksmt_census(p, npages, &cs);
		if (err)
			return err;
		if (cs.distinct == 1 && cs.shared == npages)
			return 0;
		if (ksmt_now() > deadline)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

/*
 * The check run in a process that should have PR_SET_MEMORY_MERGE on: a
 * new mapping of identical pages, never madvise()d, merges into one KSM
 * page. Returns an exit status: 0 if so.
 */
static int merge_any_check(void)
{
	const u64 key = ksmt_group_key(0xf501, 0);
	const long k = 8;
	long i;
	char *p;

	if (xprctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) != 1)
		return 10;
	p = ksmt_map(k);
	if (p == MAP_FAILED)
		return 11;
	for (i = 0; i < k; i++)
		ksmt_fill_page(p + i * PAGE, key);
	if (wait_one_ksm_page(p, k, KSMT_SCAN_TIMEOUT / 2))
		return 12;
	for (i = 0; i < k; i++)
		if (!ksmt_page_is(p + i * PAGE, key))
			return 13;
	return 0;
}

/* The image exec()ed by prctl_merge_exec runs the check before main(). */
__attribute__((constructor))
static void exec_child(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], EXEC_CHILD_ARG))
		_exit(merge_any_check());
}

/*
 * Waits (at most max_scans full scans, ksmd running) until a counter
 * reads want. Returns 0 or -ETIMEDOUT.
 */
static int wait_counter(const char *name, long want, unsigned long max_scans)
{
	double deadline = ksmt_now() + KSMT_SCAN_TIMEOUT;
	unsigned long from = ksmt_full_scans();

	for (;;) {
		unsigned long scans = ksmt_full_scans();

		if (ksmt_get(name) == want)
			return 0;
		if (scans >= from + max_scans || ksmt_now() > deadline)
			return -ETIMEDOUT;
		usleep(2000);
	}
}

FIXTURE(feat) {
	int unused;
};

FIXTURE_SETUP(feat)
{
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	ASSERT_NE(0UL, ksmt_zero_pfn());
}

FIXTURE_TEARDOWN(feat)
{
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/* ksm_zero_pages, global and ours, and no KSM page at all. */
static void expect_zero_pages(struct __test_metadata *_metadata, long zero)
{
	struct ksmt_counters c;
	struct ksmt_stat st;

	ASSERT_EQ(0, ksmt_read_counters(&c));
	ASSERT_EQ(0, ksmt_read_stat(0, &st));
	EXPECT_EQ(zero, c.zero_pages);
	EXPECT_EQ(zero, st.zero_pages);
	EXPECT_EQ(0, c.shared);
	EXPECT_EQ(0, c.sharing);
	EXPECT_EQ(0, st.merging_pages);
}

/*
 * use_zero_pages=1: N zero pages map the zero page and count as N
 * ksm_zero_pages, not as KSM pages. MADV_UNMERGEABLE on half gives them
 * private copies (N/2 left), writing the rest leaves none, and ksmd does
 * not bring any back.
 */
TEST_F_TIMEOUT(feat, zero_pages_counted, KSMT_TEST_TIMEOUT)
{
	const long n = 64, half = n / 2;
	struct ksmt_census cs;
	long i;
	char *p;

	ASSERT_EQ(0, ksmt_write("use_zero_pages", "1"));
	p = ksmt_map_zero(n);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	expect_zero_pages(_metadata, n);
	ASSERT_EQ(0, ksmt_census(p, n, &cs));
	EXPECT_EQ(n, cs.zero);
	EXPECT_EQ(1, cs.distinct);

	ASSERT_EQ(0, madvise(p, half * PAGE, MADV_UNMERGEABLE));
	expect_zero_pages(_metadata, n - half);
	ASSERT_EQ(0, ksmt_census(p, half, &cs));
	EXPECT_EQ(0, cs.absent);
	EXPECT_EQ(0, cs.zero);
	EXPECT_EQ(half, cs.distinct);
	EXPECT_TRUE(ksmt_all_bytes_zero(p, n));

	for (i = half; i < n; i++)
		ksmt_fill_page(p + i * PAGE, ksmt_unique_key(0xf001, i));
	expect_zero_pages(_metadata, 0);
	ASSERT_EQ(0, ksmt_census(p + half * PAGE, n - half, &cs));
	EXPECT_EQ(0, cs.zero);
	EXPECT_EQ(n - half, cs.distinct);

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	expect_zero_pages(_metadata, 0);
	EXPECT_TRUE(ksmt_all_bytes_zero(p, half));
	for (i = half; i < n; i++)
		EXPECT_TRUE(ksmt_page_is(p + i * PAGE,
					 ksmt_unique_key(0xf001, i)));
}

/* munmap() of pages merged with the zero page: the counts drop at once. */
TEST_F_TIMEOUT(feat, zero_pages_munmap, KSMT_TEST_TIMEOUT)
{
	const long n = 48;
	char *p;

	ASSERT_EQ(0, ksmt_write("use_zero_pages", "1"));
	p = ksmt_map_zero(n);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	expect_zero_pages(_metadata, n);

	ASSERT_EQ(0, munmap(p, n * PAGE));
	expect_zero_pages(_metadata, 0);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_assert_all_zero(_metadata);
}

/* use_zero_pages=0: the same zero pages make one ordinary KSM page. */
TEST_F_TIMEOUT(feat, zero_pages_off, KSMT_TEST_TIMEOUT)
{
	const long n = 64;
	struct ksmt_counters c;
	struct ksmt_census cs;
	struct ksmt_stat st;
	char *p;

	ASSERT_EQ(0, ksmt_write("use_zero_pages", "0"));
	p = ksmt_map_zero(n);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(1, c.shared);
	EXPECT_EQ(n - 1, c.sharing);
	EXPECT_EQ(0, c.zero_pages);
	ASSERT_EQ(0, ksmt_read_stat(0, &st));
	EXPECT_EQ(0, st.zero_pages);
	EXPECT_EQ(n, st.merging_pages);
	ASSERT_EQ(0, ksmt_census(p, n, &cs));
	EXPECT_EQ(1, cs.distinct);
	EXPECT_EQ(n, cs.shared);
	EXPECT_EQ(0, cs.zero);
	EXPECT_TRUE(ksmt_all_bytes_zero(p, n));
}

/*
 * max_page_sharing=4 and 11 copies of one content: ceil(11 / 4) = 3 KSM
 * pages (4 + 4 + 3 mappings), 8 sharers, one chain of 3 dups. Once the
 * pages are gone, so are the KSM pages and dups. Upstream frees the empty
 * chain itself only when a lookup of that content meets it: a new copy
 * of the content, scanned, leaves no chain in either implementation.
 * Then the limit can change again.
 */
TEST_F_TIMEOUT(feat, chains, KSMT_TEST_TIMEOUT)
{
	const long limit = 4, copies = 11;
	const long kpages = (copies + limit - 1) / limit;
	struct ksmt_layout l, one;
	struct ksmt_counters c;
	struct ksmt_census cs;
	char *p, *q;

	ASSERT_EQ(0, ksmt_write_long("max_page_sharing", limit));
	ASSERT_EQ(limit, ksmt_get("max_page_sharing"));
	ASSERT_EQ(0, ksmt_layout_init(&l, 1, copies, 0, 0, 0xf101, 0xf102,
				      31));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(6));

	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(kpages, c.shared);
	EXPECT_EQ(copies - kpages, c.sharing);
	EXPECT_EQ(0, c.unshared + c.volatile_);
	EXPECT_EQ(1, ksmt_get("stable_node_chains"));
	EXPECT_EQ(kpages, ksmt_get("stable_node_dups"));
	ASSERT_EQ(0, ksmt_census(p, copies, &cs));
	EXPECT_EQ(kpages, cs.distinct);
	EXPECT_EQ(copies, cs.shared);
	EXPECT_EQ(limit, cs.max_map);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));

	/* While the KSM pages exist, the limit stays. */
	EXPECT_EQ(-EBUSY, ksmt_write("max_page_sharing", "256"));
	EXPECT_EQ(limit, ksmt_get("max_page_sharing"));

	ASSERT_EQ(0, munmap(p, copies * PAGE));
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_assert_all_zero(_metadata);
	EXPECT_EQ(0, wait_counter("stable_node_dups", 0, 4));
	TH_LOG("pages gone: stable_node_chains %ld, stable_node_dups %ld",
	       ksmt_get("stable_node_chains"), ksmt_get("stable_node_dups"));

	ASSERT_EQ(0, ksmt_layout_init(&one, 1, 1, 0, 0, 0xf101, 0xf103, 32));
	q = ksmt_layout_map(&one);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(0, c.shared);
	EXPECT_EQ(0, c.sharing);
	EXPECT_EQ(1, c.unshared + c.volatile_);
	EXPECT_EQ(0, ksmt_get("stable_node_chains"));
	EXPECT_EQ(0, ksmt_get("stable_node_dups"));

	ASSERT_EQ(0, ksmt_run(2));
	EXPECT_EQ(0, ksmt_write("max_page_sharing", "256"));
	EXPECT_EQ(256, ksmt_get("max_page_sharing"));
	EXPECT_EQ(-1, ksmt_layout_check(&one, q));
	ksmt_layout_free(&l);
	ksmt_layout_free(&one);
}

/*
 * XXH64 of a page (seed 0, as the kernel checksums pages), and pages of
 * other contents with the same checksum. XXH64 is no keyed hash: each of
 * its four lanes takes every fourth 8-byte word through a round that can
 * be run backwards, so the last word of a lane can be chosen to bring the
 * lane to any state. A decoy is the victim page with its first word
 * changed and lane 0's last word chosen to give lane 0 the victim's state.
 */
#define XXH_P1	0x9e3779b185ebca87ULL
#define XXH_P2	0xc2b2ae3d27d4eb4fULL
#define XXH_P3	0x165667b19e3779f9ULL
#define XXH_P4	0x85ebca77c2b2ae63ULL
#define PAGE_WORDS	((int)(PAGE / 8))

static u64 rotl64(u64 x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static u64 xxh_round(u64 acc, u64 word)
{
	return rotl64(acc + word * XXH_P2, 31) * XXH_P1;
}

static u64 xxh_merge(u64 h, u64 lane)
{
	return (h ^ xxh_round(0, lane)) * XXH_P1 + XXH_P4;
}

/* The four lanes of a page after all its words, seed 0. */
static void xxh_lanes(const u64 *w, u64 lane[4])
{
	int i;

	lane[0] = XXH_P1 + XXH_P2;
	lane[1] = XXH_P2;
	lane[2] = 0;
	lane[3] = -XXH_P1;
	for (i = 0; i < PAGE_WORDS; i++)
		lane[i % 4] = xxh_round(lane[i % 4], w[i]);
}

static u64 xxh64_page(const void *page)
{
	u64 v[4], h;

	xxh_lanes(page, v);
	h = rotl64(v[0], 1) + rotl64(v[1], 7) + rotl64(v[2], 12) +
	    rotl64(v[3], 18);
	h = xxh_merge(xxh_merge(xxh_merge(xxh_merge(h, v[0]), v[1]), v[2]),
		      v[3]);
	h += PAGE;
	h ^= h >> 33;
	h *= XXH_P2;
	h ^= h >> 29;
	h *= XXH_P3;
	return h ^ (h >> 32);
}

/* The inverse of an odd number modulo 2^64 (Newton's iteration). */
static u64 inverse64(u64 a)
{
	u64 x = a;
	int i;

	for (i = 0; i < 6; i++)
		x *= 2 - a * x;
	return x;
}

/* Fills @decoy with another content than @victim, of the same XXH64. */
static void make_decoy(void *decoy, const void *victim, u64 seed)
{
	u64 *w = decoy, want[4], acc = XXH_P1 + XXH_P2;
	int i, last = PAGE_WORDS - 4;	/* lane 0's last word */

	memcpy(decoy, victim, PAGE);
	xxh_lanes(victim, want);
	w[0] ^= seed * 0x9e3779b97f4a7c15ULL | 1;
	for (i = 0; i < last; i += 4)
		acc = xxh_round(acc, w[i]);
	/* rotl(acc + x * P2, 31) * P1 == want[0], solved for x. */
	w[last] = (rotl64(want[0] * inverse64(XXH_P1), 33) - acc) *
		  inverse64(XXH_P2);
}

/*
 * A mapping of @decoys pages written to have the checksum of @victim's
 * content: two copies of one decoy if @pair, then single decoys, all
 * different; then two copies of the victim, at index @decoys. @victim is
 * filled with the pattern of @content. The pages are checked to be what
 * they must be, or the test would prove nothing, and made mergeable.
 */
static char *map_decoys(struct __test_metadata *_metadata, char *victim,
			u64 content, long decoys, bool pair)
{
	long i, j, n = decoys + 2;
	char *p;

	ksmt_fill_page(victim, content);
	p = ksmt_map(n);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < decoys; i++)
		make_decoy(p + i * PAGE, victim, i + 1);
	if (pair)
		memcpy(p + PAGE, p, PAGE);
	memcpy(p + decoys * PAGE, victim, PAGE);
	memcpy(p + (decoys + 1) * PAGE, victim, PAGE);

	for (i = 0; i < n; i++)
		ASSERT_EQ(xxh64_page(victim), xxh64_page(p + i * PAGE));
	for (i = 0; i < decoys; i++) {
		ASSERT_NE(0, memcmp(victim, p + i * PAGE, PAGE));
		for (j = i + 1; j < decoys; j++)
			ASSERT_EQ(pair && i == 0 && j == 1,
				  !memcmp(p + i * PAGE, p + j * PAGE, PAGE));
	}
	ASSERT_EQ(0, ksmt_mergeable(p, n));
	return p;
}

/*
 * Contents that share a checksum must not keep a page from merging with
 * its twin. Decoys, written to have the checksum of a victim content: two
 * copies of one decoy (a KSM page of that checksum), then three different
 * single decoys (unstable items of it); then two copies of the victim.
 * Both pairs merge, each into its own KSM page, and nothing else does.
 * The checksum is not keyed, so any process can do this; KSM must not
 * take a failed compare under a page's own key as proof that the page
 * changed.
 */
TEST_F_TIMEOUT(feat, checksum_collisions, KSMT_TEST_TIMEOUT)
{
	const long decoys = 5;
	unsigned long pfn[decoys + 2];
	struct ksmt_counters c;
	const long at = decoys;
	u64 victim[PAGE_WORDS];
	char *p, *v = (char *)victim;
	long i;

	p = map_decoys(_metadata, v, 0xc011, decoys, true);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(6));

	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(2, c.shared);
	EXPECT_EQ(2, c.sharing);
	EXPECT_EQ(decoys - 2, c.unshared + c.volatile_);
	ASSERT_EQ(0, ksmt_frames(p, decoys + 2, pfn));
	EXPECT_EQ(pfn[0], pfn[1]);
	EXPECT_EQ(pfn[at], pfn[at + 1]);
	EXPECT_NE(pfn[0], pfn[at]);
	for (i = 2; i < at; i++) {
		EXPECT_NE(pfn[i], pfn[0]);
		EXPECT_NE(pfn[i], pfn[at]);
	}
	EXPECT_EQ(0, memcmp(v, p + at * PAGE, PAGE));
	EXPECT_EQ(0, memcmp(v, p + (at + 1) * PAGE, PAGE));
	ASSERT_EQ(0, munmap(p, (decoys + 2) * PAGE));
}

/*
 * More single decoys than a page tries items of its key in one look (8 in
 * ours): the victims may miss each other in a pass, but the order of one
 * key's items changes every pass, so they merge within a few. Ordered the
 * same way every pass, they would never merge if eight decoys came first
 * (about one time in two with sixteen). Upstream orders its tree by
 * content: the victims merge at once.
 */
TEST_F_TIMEOUT(feat, checksum_collisions_many, KSMT_TEST_TIMEOUT)
{
	const long decoys = 16, max_scans = 40;
	unsigned long pfn[decoys + 2], from;
	struct ksmt_counters c;
	const long at = decoys;
	u64 victim[PAGE_WORDS];
	char *p, *v = (char *)victim;

	p = map_decoys(_metadata, v, 0xc012, decoys, false);
	ASSERT_EQ(0, ksmt_write_long("sleep_millisecs", 0));
	ASSERT_EQ(0, ksmt_run(1));
	from = ksmt_full_scans();
	for (;;) {
		ASSERT_EQ(0, ksmt_wait_scans(ksmt_full_scans(), 1));
		ASSERT_EQ(0, ksmt_frames(p, decoys + 2, pfn));
		if (pfn[at] == pfn[at + 1] ||
		    ksmt_full_scans() >= from + max_scans)
			break;
	}
	ASSERT_EQ(0, ksmt_run(0));
	TH_LOG("victims merged after %lu full scans",
	       ksmt_full_scans() - from);
	EXPECT_EQ(pfn[at], pfn[at + 1]);
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(1, c.shared);
	EXPECT_EQ(1, c.sharing);
	EXPECT_EQ(0, memcmp(v, p + at * PAGE, PAGE));
	EXPECT_EQ(0, memcmp(v, p + (at + 1) * PAGE, PAGE));
	ASSERT_EQ(0, munmap(p, (decoys + 2) * PAGE));
}

/*
 * run=2 starts KSM over: as in upstream, full_scans counts again from 0
 * (ksm_start_scan's seq with it).
 */
TEST_F_TIMEOUT(feat, run2_resets_full_scans, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout l;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, 2, 4, 4, 0, 0xf701, 0xf702, 33));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(3));
	ASSERT_LE(3UL, ksmt_full_scans());
	ASSERT_EQ(2, ksmt_get("pages_shared"));
	ASSERT_EQ(0, ksmt_run(2));
	EXPECT_EQ(0UL, ksmt_full_scans());
	EXPECT_EQ(0, ksmt_get("pages_shared"));
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));
	ksmt_layout_free(&l);
}

/*
 * MADV_UNMERGEABLE on pairs of pages that share a KSM page, in one
 * process: the first page of each pair (the lower address, unshared
 * first) gets a copy, counted in cow_ksm; the second, the last mapping
 * of the KSM page, takes that very page back as its own, exclusively
 * mapped, with no copy. Every page keeps its content, and writing to
 * either page of a pair leaves the other as it was.
 */
TEST_F_TIMEOUT(feat, unmerge_last_mapping_keeps_page, KSMT_TEST_TIMEOUT)
{
	const long n = 32;
	unsigned long ksm_pfn[32], pfn;
	long i, cow0, cow1;
	bool excl;
	char *p;

	p = ksmt_map(2 * n);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < 2 * n; i++)
		ksmt_fill_page(p + i * PAGE, ksmt_group_key(0xf801, i % n));
	ASSERT_EQ(0, ksmt_mergeable(p, 2 * n));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(n, ksmt_get("pages_shared"));
	ASSERT_EQ(n, ksmt_get("pages_sharing"));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, ksmt_pfn(p + i * PAGE, &ksm_pfn[i]));
		ASSERT_EQ(0, ksmt_pfn(p + (n + i) * PAGE, &pfn));
		ASSERT_EQ(ksm_pfn[i], pfn);
	}

	cow0 = ksmt_vmstat("cow_ksm");
	ASSERT_EQ(0, madvise(p, 2 * n * PAGE, MADV_UNMERGEABLE));
	cow1 = ksmt_vmstat("cow_ksm");
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, ksmt_pfn_excl(p + i * PAGE, &pfn, &excl));
		EXPECT_NE(ksm_pfn[i], pfn);
		EXPECT_TRUE(excl);
		ASSERT_EQ(0, ksmt_pfn_excl(p + (n + i) * PAGE, &pfn, &excl));
		EXPECT_EQ(ksm_pfn[i], pfn);
		EXPECT_TRUE(excl);
	}
	if (cow0 < 0)
		TH_LOG("no cow_ksm in /proc/vmstat: copies not counted");
	else
		EXPECT_EQ(n, cow1 - cow0);

	for (i = 0; i < n; i += 2)
		ksmt_fill_page(p + (n + i) * PAGE, ksmt_unique_key(0xf802, i));
	for (i = 1; i < n; i += 2)
		ksmt_fill_page(p + i * PAGE, ksmt_unique_key(0xf802, i));
	for (i = 0; i < n; i++) {
		bool low_written = i % 2;

		EXPECT_TRUE(ksmt_page_is(p + i * PAGE, low_written ?
					 ksmt_unique_key(0xf802, i) :
					 ksmt_group_key(0xf801, i)));
		EXPECT_TRUE(ksmt_page_is(p + (n + i) * PAGE, low_written ?
					 ksmt_group_key(0xf801, i) :
					 ksmt_unique_key(0xf802, i)));
	}
	EXPECT_EQ(0, munmap(p, 2 * n * PAGE));
}

/* npages copies of one content, bound to a NUMA node before first touch. */
static char *map_on_node(long npages, int node, u64 key)
{
	unsigned long mask = 1UL << node;
	char *p = ksmt_map(npages);
	long i;

	if (p == MAP_FAILED)
		return p;
	if (syscall(__NR_mbind, p, npages * PAGE, MPOL_BIND, &mask,
		    sizeof(mask) * 8, 0)) {
		munmap(p, npages * PAGE);
		return MAP_FAILED;
	}
	for (i = 0; i < npages; i++)
		ksmt_fill_page(p + i * PAGE, key);
	if (ksmt_mergeable(p, npages)) {
		munmap(p, npages * PAGE);
		return MAP_FAILED;
	}
	return p;
}

/*
 * merge_across_nodes=0: k copies on node 0 and k on node 1 give one KSM
 * page per node, each on its node. After run=2 and merge_across_nodes=1,
 * all 2k share a single KSM page.
 */
TEST_F_TIMEOUT(feat, numa, KSMT_TEST_TIMEOUT)
{
	const u64 key = ksmt_group_key(0xf201, 0);
	const long k = 3;
	struct ksmt_census ca, cb;
	struct ksmt_counters c;
	long i;
	char *pa, *pb;

	if (!ksmt_exists("merge_across_nodes"))
		SKIP(return, "no merge_across_nodes (CONFIG_NUMA=n)");
	if (!ksmt_node_has_memory(0) || !ksmt_node_has_memory(1))
		SKIP(return, "needs memory on NUMA nodes 0 and 1");
	ASSERT_EQ(0, ksmt_write("merge_across_nodes", "0"));
	pa = map_on_node(k, 0, key);
	ASSERT_NE(MAP_FAILED, pa);
	pb = map_on_node(k, 1, key);
	ASSERT_NE(MAP_FAILED, pb);
	ASSERT_EQ(0, ksmt_off_node(pa, k, 0));
	ASSERT_EQ(0, ksmt_off_node(pb, k, 1));

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(2, c.shared);
	EXPECT_EQ(2 * (k - 1), c.sharing);
	EXPECT_EQ(0, c.unshared + c.volatile_);
	ASSERT_EQ(0, ksmt_census(pa, k, &ca));
	ASSERT_EQ(0, ksmt_census(pb, k, &cb));
	EXPECT_EQ(1, ca.distinct);
	EXPECT_EQ(k, ca.shared);
	EXPECT_EQ(1, cb.distinct);
	EXPECT_EQ(k, cb.shared);
	EXPECT_NE(ca.first, cb.first);
	EXPECT_EQ(0, ksmt_off_node(pa, k, 0));
	EXPECT_EQ(0, ksmt_off_node(pb, k, 1));

	ASSERT_EQ(0, ksmt_run(2));
	ASSERT_EQ(0, ksmt_write("merge_across_nodes", "1"));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(1, c.shared);
	EXPECT_EQ(2 * k - 1, c.sharing);
	ASSERT_EQ(0, ksmt_census(pa, k, &ca));
	ASSERT_EQ(0, ksmt_census(pb, k, &cb));
	EXPECT_EQ(1, ca.distinct);
	EXPECT_EQ(k, ca.shared);
	EXPECT_EQ(1, cb.distinct);
	EXPECT_EQ(k, cb.shared);
	EXPECT_EQ(ca.first, cb.first);
	for (i = 0; i < k; i++) {
		EXPECT_TRUE(ksmt_page_is(pa + i * PAGE, key));
		EXPECT_TRUE(ksmt_page_is(pb + i * PAGE, key));
	}
}

/*
 * pages_scanned and pages_skipped from run=1 until ksmd, after `passes`
 * full scans, is stopped again; *done is the number of full scans in
 * between: more than `passes` when this process was slow to see them
 * end. ksmd must be stopped on entry (run=2) and is stopped on return,
 * so that the counters are read in one state.
 */
static int scan_deltas(unsigned long passes, long *done, long *scanned,
		       long *skipped)
{
	unsigned long from = ksmt_full_scans();
	long s0 = ksmt_get("pages_scanned"), k0 = ksmt_get("pages_skipped");
	int err;

	if (s0 < 0 || k0 < 0)
		return -EIO;
	err = ksmt_run(1);
	if (!err)
		err = ksmt_wait_scans(from, passes);
	if (!err)
		err = ksmt_run(0);
	if (err)
		return err;
	*done = ksmt_full_scans() - from;
	*scanned = ksmt_get("pages_scanned") - s0;
	*skipped = ksmt_get("pages_skipped") - k0;
	return 0;
}

/*
 * smart_scan: n pages of distinct contents that never merge. Over about
 * the same number of full scans from scratch, smart_scan=0 scans every
 * page each time and skips none; smart_scan=1 skips some (pages_skipped)
 * and scans at least 25% fewer per pass, every page being either scanned
 * or skipped. With 50 ms between passes, a pass is one batch: ksmd stops
 * between two, or in the middle of one at most.
 */
TEST_F_TIMEOUT(feat, smart_scan, KSMT_TEST_TIMEOUT)
{
	const long n = 2000, passes = 12;
	long base, base_skipped, smart, smart_skipped, base_done, smart_done;
	struct ksmt_counters c;
	struct ksmt_layout l;
	char *p;

	if (!ksmt_exists("smart_scan"))
		SKIP(return, "smart_scan: not in this kernel");
	ASSERT_EQ(0, ksmt_write("smart_scan", "0"));
	ASSERT_EQ(0, ksmt_write_long("sleep_millisecs", 50));
	ASSERT_EQ(0, ksmt_layout_init(&l, 0, 0, n, 0, 0xf300, 0xf301, 41));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);

	ASSERT_EQ(0, scan_deltas(passes, &base_done, &base, &base_skipped));
	ASSERT_EQ(0, ksmt_run(2));
	ASSERT_EQ(0, ksmt_write("smart_scan", "1"));
	ASSERT_EQ(0, scan_deltas(passes, &smart_done, &smart, &smart_skipped));
	TH_LOG("%ld pages; passes, scanned, skipped:", n);
	TH_LOG("smart_scan=0: %ld, %ld, %ld; smart_scan=1: %ld, %ld, %ld",
	       base_done, base, base_skipped, smart_done, smart,
	       smart_skipped);

	EXPECT_LE(passes, base_done);
	EXPECT_LE(passes, smart_done);
	EXPECT_EQ(0, base_skipped);
	EXPECT_LE(base_done * n, base);
	EXPECT_GE((base_done + 1) * n, base);
	EXPECT_LT(0, smart_skipped);
	/* At least 25% fewer per pass. */
	EXPECT_LE(smart * 4 * base_done, base * 3 * smart_done);
	EXPECT_LE(smart_done * n, smart + smart_skipped);
	EXPECT_GE((smart_done + 1) * n, smart + smart_skipped);

	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(0, c.shared);
	EXPECT_EQ(0, c.sharing);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));
	ksmt_layout_free(&l);
}

/*
 * smart_scan: a new copy of an old page that smart scan now skips in 8
 * passes out of 9 merges as soon as a new page can (its first pass learns
 * its checksum, the second matches it; a third allows for a pass already
 * under way): the skipped old page still takes part in the unstable tree.
 * Upstream leaves a skipped page out, so the copy merges only in a pass
 * in which the old page is looked at: about a third of them in 3 passes.
 */
TEST_F_TIMEOUT(feat, smart_scan_new_copy_of_old_page, KSMT_TEST_TIMEOUT)
{
	const long n = 64;
	struct ksmt_counters c;
	char *old, *copy;
	long i;

	if (!ksmt_exists("smart_scan"))
		SKIP(return, "smart_scan: not in this kernel");
	ASSERT_EQ(0, ksmt_write("smart_scan", "1"));
	ASSERT_EQ(0, ksmt_write_long("sleep_millisecs", 20));
	old = ksmt_map(n);
	ASSERT_NE(MAP_FAILED, old);
	for (i = 0; i < n; i++)
		ksmt_fill_page(old + i * PAGE, 0xf400 + i);
	ASSERT_EQ(0, ksmt_mergeable(old, n));
	/* 16 passes: every old page is 12 or older, looked at 1 pass in 9. */
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_wait_scans(ksmt_full_scans(), 16));
	EXPECT_LT(0, ksmt_get("pages_skipped"));

	copy = ksmt_map(n);
	ASSERT_NE(MAP_FAILED, copy);
	for (i = 0; i < n; i++)
		ksmt_fill_page(copy + i * PAGE, 0xf400 + i);
	ASSERT_EQ(0, ksmt_mergeable(copy, n));
	ASSERT_EQ(0, ksmt_wait_scans(ksmt_full_scans(), 3));
	ASSERT_EQ(0, ksmt_run(0));

	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(n, c.shared);
	EXPECT_EQ(n, c.sharing);
	for (i = 0; i < n; i++) {
		EXPECT_TRUE(ksmt_page_is(old + i * PAGE, 0xf400 + i));
		EXPECT_TRUE(ksmt_page_is(copy + i * PAGE, 0xf400 + i));
	}
	ASSERT_EQ(0, munmap(copy, n * PAGE));
	ASSERT_EQ(0, munmap(old, n * PAGE));
}

struct rewriter {
	char *pages;
	long n;
	bool stop;
};

/* Writes every page's first byte with the value it has, every 1 ms. */
static void *rewrite_pages(void *arg)
{
	struct rewriter *w = arg;
	long i;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < w->n; i++) {
			char *c = w->pages + i * PAGE;

			__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED),
					 __ATOMIC_RELAXED);
		}
		usleep(1000);
	}
	return NULL;
}

/*
 * smart_scan: n pages merged with twins that their owner writes again all
 * the time, with the bytes they hold. Each write copies the KSM page
 * (cow_ksm), and the page has its twin's content again at the next look.
 * Smart scan ages such a page as one that never merges, so over 40 passes
 * ksmd merges it again about 9 times, not at every pass: fewer than half
 * as many copies as passes. The twins, never written, stay merged.
 */
TEST_F_TIMEOUT(feat, smart_scan_rewritten_page, KSMT_TEST_TIMEOUT)
{
	const long n = 32, passes = 40;
	struct rewriter w = { .n = n };
	struct ksmt_counters c;
	long i, cow0, cow;
	pthread_t thread;
	char *twins;

	if (!ksmt_exists("smart_scan"))
		SKIP(return, "smart_scan: not in this kernel");
	if (ksmt_vmstat("cow_ksm") < 0)
		SKIP(return, "no cow_ksm in /proc/vmstat");
	ASSERT_EQ(0, ksmt_write("smart_scan", "1"));
	ASSERT_EQ(0, ksmt_write_long("sleep_millisecs", 20));
	w.pages = ksmt_map(n);
	twins = ksmt_map(n);
	ASSERT_NE(MAP_FAILED, w.pages);
	ASSERT_NE(MAP_FAILED, twins);
	for (i = 0; i < n; i++) {
		ksmt_fill_page(w.pages + i * PAGE, 0xf500 + i);
		ksmt_fill_page(twins + i * PAGE, 0xf500 + i);
	}
	ASSERT_EQ(0, ksmt_mergeable(w.pages, n));
	ASSERT_EQ(0, ksmt_mergeable(twins, n));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, wait_counter("pages_sharing", n, 8));

	cow0 = ksmt_vmstat("cow_ksm");
	ASSERT_EQ(0, pthread_create(&thread, NULL, rewrite_pages, &w));
	EXPECT_EQ(0, ksmt_wait_scans(ksmt_full_scans(), passes));
	__atomic_store_n(&w.stop, true, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_EQ(0, ksmt_run(0));
	cow = ksmt_vmstat("cow_ksm") - cow0;
	TH_LOG("%ld pages rewritten over %ld passes: %ld copies", n, passes,
	       cow);

	/* Merged again at all, but not at every pass. */
	EXPECT_LE(n, cow);
	EXPECT_GT(passes * n / 2, cow);
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_LE(n, c.shared);
	for (i = 0; i < n; i++) {
		EXPECT_TRUE(ksmt_page_is(w.pages + i * PAGE, 0xf500 + i));
		EXPECT_TRUE(ksmt_page_is(twins + i * PAGE, 0xf500 + i));
	}
	ASSERT_EQ(0, munmap(twins, n * PAGE));
	ASSERT_EQ(0, munmap(w.pages, n * PAGE));
}

/*
 * PR_SET_MEMORY_MERGE and PR_GET_MEMORY_MERGE take no more arguments than
 * they use: EINVAL otherwise, and the setting stays as it was.
 */
TEST_F(feat, prctl_args)
{
	static const unsigned long extra[][3] = {
		{ 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 }, { ~0UL, ~0UL, ~0UL },
	};
	static const unsigned long get_extra[][4] = {
		{ 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 },
	};
	unsigned int i;

	ASSERT_EQ(0, xprctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0));
	for (i = 0; i < ARRAY_SIZE(extra); i++) {
		errno = 0;
		EXPECT_EQ(-1, xprctl(PR_SET_MEMORY_MERGE, 1, extra[i][0],
				     extra[i][1], extra[i][2]));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(0, xprctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0));
	}
	for (i = 0; i < ARRAY_SIZE(get_extra); i++) {
		errno = 0;
		EXPECT_EQ(-1, xprctl(PR_GET_MEMORY_MERGE, get_extra[i][0],
				     get_extra[i][1], get_extra[i][2],
				     get_extra[i][3]));
		EXPECT_EQ(EINVAL, errno);
	}

	ASSERT_EQ(0, xprctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0));
	EXPECT_EQ(1, xprctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0));
	for (i = 0; i < ARRAY_SIZE(extra); i++) {
		errno = 0;
		EXPECT_EQ(-1, xprctl(PR_SET_MEMORY_MERGE, 0, extra[i][0],
				     extra[i][1], extra[i][2]));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(1, xprctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0));
	}
	EXPECT_EQ(0, xprctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
	EXPECT_EQ(0, xprctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0));
}

/*
 * PR_SET_MEMORY_MERGE, then fork(): the child has it too, and a mapping
 * it creates merges without madvise().
 */
TEST_F_TIMEOUT(feat, prctl_merge_fork, KSMT_TEST_TIMEOUT)
{
	pid_t pid;

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, xprctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(merge_any_check());
	/* 10: no PR_GET_MEMORY_MERGE; 12: no merge; see merge_any_check(). */
	EXPECT_EQ(0, ksmt_child_status(pid));
}

/*
 * PR_SET_MEMORY_MERGE, then exec() of this program: the new image has it
 * too, and a mapping it creates merges without madvise().
 */
TEST_F_TIMEOUT(feat, prctl_merge_exec, KSMT_TEST_TIMEOUT)
{
	pid_t pid;

	ASSERT_EQ(0, ksmt_run(1));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (xprctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
			_exit(20);
		execl("/proc/self/exe", "ksm_features", EXEC_CHILD_ARG,
		      (char *)NULL);
		_exit(21);
	}
	EXPECT_EQ(0, ksmt_child_status(pid));
}

/*
 * PR_SET_MEMORY_MERGE 0 unmerges at once: pages that shared one KSM page
 * have private copies with their data; they do not merge again, and the
 * counters go back to zero.
 */
TEST_F_TIMEOUT(feat, prctl_merge_off, KSMT_TEST_TIMEOUT)
{
	const u64 key = ksmt_group_key(0xf601, 0);
	const long k = 16;
	struct ksmt_census cs;
	long merging, i;
	char *p;

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, xprctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0));
	p = ksmt_map(k);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < k; i++)
		ksmt_fill_page(p + i * PAGE, key);
	ASSERT_EQ(0, wait_one_ksm_page(p, k, KSMT_SCAN_TIMEOUT / 2));

	ASSERT_EQ(0, xprctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
	EXPECT_EQ(0, xprctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0));
	ASSERT_EQ(0, ksmt_census(p, k, &cs));
	EXPECT_EQ(0, cs.absent);
	EXPECT_EQ(k, cs.distinct);
	EXPECT_EQ(0, cs.shared);
	for (i = 0; i < k; i++)
		EXPECT_TRUE(ksmt_page_is(p + i * PAGE, key));

	/* A registered area keeps ksmd's full scans going. */
	ASSERT_EQ(0, ksmt_ticker());
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_census(p, k, &cs));
	EXPECT_EQ(k, cs.distinct);
	EXPECT_EQ(0, cs.shared);
	ASSERT_EQ(0, ksmt_read_merging_pages(0, &merging));
	EXPECT_EQ(0, merging);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_assert_all_zero(_metadata);
	for (i = 0; i < k; i++)
		EXPECT_TRUE(ksmt_page_is(p + i * PAGE, key));
}

TEST_HARNESS_MAIN
