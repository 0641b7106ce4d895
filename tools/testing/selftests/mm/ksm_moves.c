// SPDX-License-Identifier: GPL-2.0
/*
 * KSM pages under what moves or frees a page: page migration
 * (move_pages, mbind, compaction), memory offlining, and swap (zram)
 * with sharers in separate processes. Each case checks what the rest of
 * the kernel must see: every sharer maps the one frame of its KSM page
 * (/proc/<pid>/pagemap, /proc/kpagecount), the frame is where it was
 * asked to go, the data reads back byte for byte, the counters of
 * /sys/kernel/mm/ksm and /proc/<pid>/ksm_stat stay exactly right, and
 * merging and copy-on-write go on working afterwards. Memory failure
 * and soft offlining are in ksm_poison.c.
 *
 * 6.12's /proc/kpageflags reports KPF_KSM for every anonymous page, so
 * whether a page is a KSM page is read from the KSM: line of
 * /proc/<pid>/smaps_rollup instead (folio_test_ksm() per mapping).
 *
 * Nothing else may use KSM while this runs: the counters are global.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/kernel-page-flags.h>
#include <linux/mempolicy.h>

#include "../kselftest_harness.h"
#include "vm_util.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"
#include "lib/ksm_cgroup.h"
#include "lib/ksm_swap.h"
#include "lib/ksm_memblock.h"
#include "lib/ksm_sharers.h"
#include "lib/ksm_sharers_check.h"

static long sys_move_pages(pid_t pid, unsigned long n, void **pages,
			   const int *nodes, int *status, int flags)
{
	return syscall(__NR_move_pages, pid, n, pages, nodes, status, flags);
}

/*
 * Moves every page of [base, base + npages) of process pid to node, the
 * shared ones too (MPOL_MF_MOVE_ALL), as ksmt_move_pages() does: a page
 * that is busy for the moment is tried again. Says how many calls that
 * took when it took more than one. Returns the number left elsewhere, or
 * -errno.
 */
static long move_all(struct __test_metadata *_metadata, pid_t pid,
		     char *base, size_t npages, int node)
{
	int calls = 0;
	long left = ksmt_move_pages(pid, base, npages, node, &calls);

	if (calls > 1)
		TH_LOG("move_pages() of %zu pages of %d to node %d: %d calls, %ld left",
		       npages, (int)pid, node, calls, left);
	return left;
}

/*
 * Empties every CPU's batches of pages not yet on the LRU lists: the
 * move_pages(2) of a page to the node it is on disables the LRU caches
 * for a moment, which drains them all, and moves nothing. Reclaim and
 * isolation skip pages still in a batch.
 */
static void drain_lru_batches(void)
{
	static char *scratch;
	int node, status;
	void *page;

	if (!scratch) {
		scratch = ksmt_map(1);
		if (scratch == MAP_FAILED) {
			scratch = NULL;
			return;
		}
	}
	scratch[0] = 1;
	page = scratch;
	node = ksmt_page_node(page);
	if (node >= 0)
		sys_move_pages(0, 1, &page, &node, &status, 0);
}

/* Every page of every process that holds a group's content is on node. */
static void expect_groups_on(struct __test_metadata *_metadata,
			     struct ksmt_sharers *s, int node)
{
	int g, j, off = 0;

	for (g = 0; g < s->groups; g++)
		for (j = 0; j < s->n; j++) {
			size_t i = s->idx[j][g];

			if (s->l[j].klass[i] != g ||
			    s->l[j].state[i] != KSMT_TRACKED)
				continue;
			if (ksmt_page_node_of(s->pid[j],
					      s->base[j] + i * PAGE) != node)
				off++;
		}
	EXPECT_EQ(0, off);
}

/* Migration: move_pages(2), mbind(2), compaction. */

FIXTURE(migrate) {
	cpu_set_t cpus;		/* the CPUs the test may run on */
	struct filler filler[2];
};

FIXTURE_SETUP(migrate)
{
	memset(self->filler, 0, sizeof(self->filler));
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(self->cpus), &self->cpus));
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	if (!ksmt_have_node1())
		SKIP(return, "a single NUMA node");
	ASSERT_EQ(0, ksmt_run(1));
}

FIXTURE_TEARDOWN(migrate)
{
	filler_release(&self->filler[0]);
	filler_release(&self->filler[1]);
	sched_setaffinity(0, sizeof(self->cpus), &self->cpus);
	bind_to_node(-1);
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/*
 * move_pages(2) of KSM pages shared by three processes: without
 * MPOL_MF_MOVE_ALL a page mapped more than once is refused (-EACCES)
 * and stays; with it the KSM page moves and takes all its sharers
 * along, and moving it back from another sharer's side does the same.
 */
TEST_F_TIMEOUT(migrate, move_pages_shared, KSMT_TEST_TIMEOUT)
{
	const int unique[] = { 8, 8, 8 }, groups = 16;
	unsigned long f0[KSMT_MAX_GROUPS], f1[KSMT_MAX_GROUPS];
	unsigned long f2[KSMT_MAX_GROUPS];
	int nodes[KSMT_MAX_GROUPS * 4], status[KSMT_MAX_GROUPS * 4];
	void *pages[KSMT_MAX_GROUPS * 4];
	struct ksmt_counters c0;
	struct ksmt_sharers s;
	size_t i, n;

	ASSERT_EQ(0, ksmt_sharers_start(&s, 3, groups, unique, 0xd100));
	n = s.l[0].npages;
	ksmt_sharers_settle(_metadata, &s, false, NULL);

	/* Everything of the test's on node 0 first, ksmd stopped. */
	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, move_all(_metadata, 0, s.base[0], n, 0));
	ASSERT_EQ(0, ksmt_sharers_frames(_metadata, &s, f0));
	expect_groups_on(_metadata, &s, 0);
	ASSERT_EQ(0, ksmt_read_counters(&c0));

	for (i = 0; i < n; i++) {
		pages[i] = s.base[0] + i * PAGE;
		nodes[i] = 1;
		status[i] = -1;
	}
	EXPECT_EQ(0, sys_move_pages(0, n, pages, nodes, status, 0));
	for (i = 0; i < n; i++)
		EXPECT_EQ(s.l[0].klass[i] >= 0 ? -EACCES : 1, status[i]);
	ASSERT_EQ(0, ksmt_sharers_frames(_metadata, &s, f1));
	EXPECT_EQ(0, ksmt_frames_moved(&s, f0, f1));
	expect_groups_on(_metadata, &s, 0);

	ASSERT_EQ(0, move_all(_metadata, 0, s.base[0], n, 1));
	ASSERT_EQ(0, ksmt_sharers_frames(_metadata, &s, f1));
	EXPECT_EQ(groups, ksmt_frames_moved(&s, f0, f1));
	expect_groups_on(_metadata, &s, 1);
	ksmt_expect_counters_as(_metadata, &c0);
	ksmt_sharers_verify(_metadata, &s);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_sharers_settle(_metadata, &s, false, NULL);

	/*
	 * Back to node 0, moved from a holder's side, ksmd scanning: a page
	 * ksmd holds a reference to fails to migrate for the moment (its
	 * reference count is not the one expected), and is tried again.
	 */
	ASSERT_EQ(0, move_all(_metadata, s.pid[1], s.base[1], s.l[1].npages,
			      0));
	ASSERT_EQ(0, ksmt_sharers_frames(_metadata, &s, f2));
	EXPECT_EQ(groups, ksmt_frames_moved(&s, f1, f2));
	expect_groups_on(_metadata, &s, 0);
	ksmt_sharers_verify(_metadata, &s);
	ksmt_sharers_settle(_metadata, &s, false, NULL);

	ksmt_join_then_cow(_metadata, &s, 0xd110);
	ksmt_sharers_stop(_metadata, &s);
	ksmt_assert_all_zero(_metadata);
}

static long sys_mbind(void *addr, size_t len, int mode, int node,
		      unsigned int flags)
{
	unsigned long mask = 1UL << node;

	return syscall(__NR_mbind, addr, len, mode, &mask, sizeof(mask) * 8,
		       flags);
}

/*
 * mbind(2) with MPOL_MF_MOVE moves only what is mapped once: KSM pages
 * shared with other processes stay where they are, while a KSM page left
 * with a single mapping moves, stays a KSM page, and a new copy of its
 * content merges into it where it went. MPOL_MF_MOVE_ALL then moves the
 * shared ones, with all their sharers.
 */
TEST_F_TIMEOUT(migrate, mbind_shared_and_single, KSMT_TEST_TIMEOUT)
{
	const int unique[] = { 8, 8, 8 }, groups = 16;
	unsigned long f0[KSMT_MAX_GROUPS], f1[KSMT_MAX_GROUPS];
	unsigned long single, moved;
	struct ksmt_layout *pair;
	struct ksmt_counters c0;
	struct ksmt_sharers s;
	char *pb;
	size_t i, n;

	ASSERT_EQ(0, ksmt_sharers_start(&s, 3, groups, unique, 0xd200));
	/* Two copies of a content only the test has. */
	ASSERT_EQ(0, ksmt_sharers_add_region(&s, 0xd2a0, 1, 2, 0xd220));
	pair = &s.extra[0];
	pb = s.extra_base[0];
	n = s.l[0].npages;
	ksmt_sharers_settle(_metadata, &s, false, f0);

	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, move_all(_metadata, 0, s.base[0], n, 0));
	ASSERT_EQ(0, move_all(_metadata, 0, pb, pair->npages, 0));
	/* Copy-on-write of one of the pair: the other maps its KSM page alone. */
	ksmt_layout_make_unique(pair, pb, 1, ksmt_unique_key(0xd230, 1));
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_sharers_settle(_metadata, &s, true, f0);
	single = ksmt_frame_of(getpid(), pb);
	ASSERT_NE(0UL, single);
	EXPECT_EQ(1, ksmt_frame_mapcount(single));
	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, ksmt_read_counters(&c0));
	expect_groups_on(_metadata, &s, 0);

	EXPECT_EQ(0, sys_mbind(s.base[0], n * PAGE, MPOL_BIND, 1,
			       MPOL_MF_MOVE));
	ASSERT_EQ(0, ksmt_sharers_frames(_metadata, &s, f1));
	EXPECT_EQ(0, ksmt_frames_moved(&s, f0, f1));
	expect_groups_on(_metadata, &s, 0);
	for (i = 0; i < n; i++)
		if (s.l[0].klass[i] < 0)
			EXPECT_EQ(1, ksmt_page_node(s.base[0] + i * PAGE));

	EXPECT_EQ(0, sys_mbind(pb, pair->npages * PAGE, MPOL_BIND, 1,
			       MPOL_MF_MOVE));
	moved = ksmt_frame_of(getpid(), pb);
	EXPECT_NE(0UL, moved);
	EXPECT_NE(single, moved);
	EXPECT_EQ(1, ksmt_page_node(pb));
	EXPECT_EQ(1, ksmt_frame_mapcount(moved));
	ksmt_expect_counters_as(_metadata, &c0);
	ksmt_expect_layout(_metadata, pair, pb);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_sharers_settle(_metadata, &s, true, NULL);

	/* A new copy of the single one's content joins it where it went. */
	ASSERT_EQ(0, ksmt_sharers_add_region(&s, 0xd2a0, 1, 1, 0xd240));
	ksmt_sharers_settle(_metadata, &s, true, NULL);
	EXPECT_EQ(moved, ksmt_frame_of(getpid(), pb));
	EXPECT_EQ(moved, ksmt_frame_of(getpid(), s.extra_base[1]));
	EXPECT_EQ(2, ksmt_frame_mapcount(moved));

	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, ksmt_read_counters(&c0));
	ASSERT_EQ(0, ksmt_sharers_frames(_metadata, &s, f0));
	EXPECT_EQ(0, sys_mbind(s.base[0], n * PAGE, MPOL_BIND, 1,
			       MPOL_MF_MOVE_ALL));
	ASSERT_EQ(0, ksmt_sharers_frames(_metadata, &s, f1));
	EXPECT_EQ(groups, ksmt_frames_moved(&s, f0, f1));
	expect_groups_on(_metadata, &s, 1);
	ksmt_expect_counters_as(_metadata, &c0);
	ksmt_sharers_verify(_metadata, &s);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_sharers_settle(_metadata, &s, true, NULL);

	ksmt_sharers_stop(_metadata, &s);
	ksmt_assert_all_zero(_metadata);
}

/* Filler pages kept for compaction: every other one from *arg on. */
static bool keep_above(size_t i, unsigned long pfn, void *arg)
{
	return pfn >= *(unsigned long *)arg && i % 2;
}

/* Frames of [start, end) on an LRU list (what compaction would move). */
static long lru_frames(unsigned long start, unsigned long end)
{
	size_t n = end - start, i;
	long lru = -1;
	u64 *flags;
	int fd;

	flags = calloc(n, sizeof(*flags));
	fd = open("/proc/kpageflags", O_RDONLY);
	if (flags && fd >= 0 &&
	    pread(fd, flags, n * sizeof(*flags), start * sizeof(*flags)) ==
	    (ssize_t)(n * sizeof(*flags)))
		for (lru = 0, i = 0; i < n; i++)
			if (flags[i] & (1ULL << KPF_LRU))
				lru++;
	if (fd >= 0)
		close(fd);
	free(flags);
	return lru;
}

/*
 * Compaction (vm.compact_memory) moves the pages on the LRU lists from
 * the bottom of a zone up into free holes of partly used pageblocks, the
 * highest first, until its two scanners meet; wholly free pageblocks it
 * leaves alone. So the sharers' pages come between two fillers on node
 * 1; then every other filler page in the pageblocks above the highest
 * KSM page's is freed, and every other filler page. With more holes up
 * there than LRU pages below, each KSM page must move up there, its
 * sharers with it.
 */
TEST_F_TIMEOUT(migrate, compaction, KSMT_TEST_TIMEOUT)
{
	const int unique[] = { 4, 4, 4 }, groups = 32;
	unsigned long f0[KSMT_MAX_GROUPS], f1[KSMT_MAX_GROUPS], zs, ze, above;
	const size_t fill = 8192;
	struct ksmt_counters c0;
	size_t i, holes = 0;
	struct ksmt_sharers s;
	int g, k, up = 0;
	long below;

	ASSERT_EQ(0, top_zone_of(1, &zs, &ze));
	ASSERT_EQ(0, pin_to_one_cpu());
	ASSERT_EQ(0, bind_to_node(1));
	ASSERT_EQ(0, filler_take_until(&self->filler[0], fill, 0, 0, 0));
	ASSERT_EQ(0, ksmt_sharers_start(&s, 3, groups, unique, 0xd300));
	ASSERT_EQ(0, filler_take_until(&self->filler[1], fill, 0, 0, 0));
	ksmt_sharers_settle(_metadata, &s, false, f0);
	expect_groups_on(_metadata, &s, 1);
	/* The pageblock (2 MiB) after the one of the highest KSM page. */
	for (above = 0, g = 0; g < groups; g++)
		above = f0[g] > above ? f0[g] : above;
	above = (above | 511) + 1;
	for (k = 0; k < 2; k++) {
		for (i = 1; i < self->filler[k].taken; i += 2)
			if (self->filler[k].pfn[i] >= above)
				holes++;
		filler_free_but(&self->filler[k], keep_above, &above);
	}
	below = lru_frames(zs, above);
	TH_LOG("zone %#lx-%#lx: %ld LRU pages up to %#lx, %zu holes above",
	       zs, ze, below, above, holes);
	ASSERT_LE(0, below);
	ASSERT_LT((size_t)below, holes);

	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, ksmt_read_counters(&c0));
	ASSERT_EQ(0, ksmt_write_file("/proc/sys/vm/compact_memory", "1"));
	ASSERT_EQ(0, ksmt_sharers_frames(_metadata, &s, f1));
	for (g = 0; g < groups; g++)
		if (f1[g] >= above && f1[g] < ze)
			up++;
	EXPECT_EQ(groups, up);
	EXPECT_EQ(groups, ksmt_frames_moved(&s, f0, f1));
	expect_groups_on(_metadata, &s, 1);
	ksmt_expect_counters_as(_metadata, &c0);
	ksmt_sharers_verify(_metadata, &s);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_sharers_settle(_metadata, &s, false, NULL);
	filler_release(&self->filler[0]);
	filler_release(&self->filler[1]);

	ksmt_join_then_cow(_metadata, &s, 0xd310);
	ksmt_sharers_stop(_metadata, &s);
	ksmt_assert_all_zero(_metadata);
}

FIXTURE(offline) {
	int offlined;		/* a block this test took offline, or -1 */
	cpu_set_t cpus;
	struct filler filler;
};

FIXTURE_SETUP(offline)
{
	char buf[16];

	self->offlined = -1;
	memset(&self->filler, 0, sizeof(self->filler));
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(self->cpus), &self->cpus));
	if (access(MEMDIR "/block_size_bytes", F_OK))
		SKIP(return, "no memory hotplug (CONFIG_MEMORY_HOTPLUG)");
	if (block_read(0, "removable", buf, sizeof(buf)) || strcmp(buf, "1"))
		SKIP(return, "no memory hot-remove (CONFIG_MEMORY_HOTREMOVE)");
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	ASSERT_EQ(0, ksmt_run(1));
}

FIXTURE_TEARDOWN(offline)
{
	if (self->offlined >= 0)
		EXPECT_EQ(0, block_set_state(self->offlined, "online_movable"));
	filler_release(&self->filler);
	sched_setaffinity(0, sizeof(self->cpus), &self->cpus);
	bind_to_node(-1);
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/* Filler frames of the block freed for the sharers' pages to take. */
#define PLACE_FRAMES	512
/* Attempts at placing every one of the sharers' pages in the block. */
#define PLACE_TRIES	3
/* Seconds an offlining that fails for the moment is tried again. */
#define OFFLINE_TIMEOUT	20

/* How many pages of the sharers' first regions are frames of block b. */
static size_t sharers_in_block(const struct ksmt_sharers *s,
			       const struct mem_block *b)
{
	size_t i, in = 0;
	int j;

	for (j = 0; j < s->n; j++)
		for (i = 0; i < s->l[j].npages; i++)
			if (block_of(b, 1,
				     ksmt_frame_of(s->pid[j],
						   s->base[j] + i * PAGE)))
				in++;
	return in;
}

/*
 * Starts the sharers of movable_block with their pages in block b (see
 * struct filler), ksmd stopped. Tries again, a few times at most, while
 * some page lands elsewhere; says how it went.
 */
static void sharers_start_in_block(struct __test_metadata *_metadata,
				   struct ksmt_sharers *s,
				   struct filler *filler,
				   const struct mem_block *b, int groups,
				   const int *unique)
{
	unsigned long zs, ze;
	size_t total, in = 0;
	int attempt, j;

	ASSERT_EQ(0, top_zone_of(b->node, &zs, &ze));
	ASSERT_EQ(0, pin_to_one_cpu());
	ASSERT_EQ(0, bind_to_node(b->node));
	ASSERT_EQ(0, ksmt_run(0));
	for (attempt = 1; ; attempt++) {
		ASSERT_EQ(0, filler_take_until(filler, ze - zs, b->start,
					       b->end, PLACE_FRAMES));
		filler_free_in(filler, b->start, b->end, PLACE_FRAMES);
		ASSERT_EQ(0, ksmt_sharers_start(s, 3, groups, unique, 0xd400));
		for (total = 0, j = 0; j < s->n; j++)
			total += s->l[j].npages;
		in = sharers_in_block(s, b);
		if (in == total || attempt == PLACE_TRIES)
			break;
		TH_LOG("attempt %d: %zu of %zu pages in memory%d; again",
		       attempt, in, total, b->id);
		ksmt_sharers_stop(_metadata, s);
		filler_release(filler);
	}
	TH_LOG("memory%d (node %d): %zu of %zu pages of the sharers in it, attempt %d",
	       b->id, b->node, in, total, attempt);
	ASSERT_EQ(0, ksmt_run(1));
}

/* Takes block b offline, trying again while it fails for the moment. */
static int offline_block(const struct mem_block *b)
{
	time_t end = time(NULL) + OFFLINE_TIMEOUT;
	int err;

	for (;;) {
		err = block_set_state(b->id, "offline");
		if ((err != -EBUSY && err != -EAGAIN) || time(NULL) > end)
			return err;
		usleep(200 * 1000);
	}
}

/*
 * A memory block in ZONE_MOVABLE holding KSM pages goes offline: the KSM
 * pages are migrated out of it with all their sharers, stay KSM pages
 * with their data and counters, and new copies merge into them where
 * they went. The block is put online again (ZONE_MOVABLE) at the end.
 */
TEST_F_TIMEOUT(offline, movable_block, KSMT_TEST_TIMEOUT)
{
	const int unique[] = { 4, 4, 4 }, groups = 32;
	unsigned long f0[KSMT_MAX_GROUPS], f1[KSMT_MAX_GROUPS];
	struct mem_block blocks[64];
	const struct mem_block *b;
	int nblocks, movable, g, in_b = 0;
	struct ksmt_counters c0;
	char state[32];
	struct ksmt_sharers s;

	nblocks = offlinable_blocks(blocks, ARRAY_SIZE(blocks), &movable);
	if (!movable)
		SKIP(return, "no ZONE_MOVABLE memory block (boot with movablecore=)");
	if (!nblocks)
		TH_LOG("%d movable blocks, none without reserved frames or holes",
		       movable);
	ASSERT_LT(0, nblocks);

	/* The new pages from the first of them. */
	b = &blocks[0];
	sharers_start_in_block(_metadata, &s, &self->filler, b, groups,
			       unique);
	ksmt_sharers_settle(_metadata, &s, false, f0);
	for (g = 0; g < groups; g++)
		if (block_of(b, 1, f0[g]))
			in_b++;
	TH_LOG("memory%d (node %d): %d of %d KSM pages in it", b->id, b->node,
	       in_b, groups);
	ASSERT_LT(0, in_b);
	filler_release(&self->filler);

	ASSERT_EQ(0, ksmt_settle(1));
	ASSERT_EQ(0, ksmt_read_counters(&c0));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, offline_block(b));
	self->offlined = b->id;
	ASSERT_EQ(0, block_read(b->id, "state", state, sizeof(state)));
	EXPECT_STREQ("offline", state);

	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, ksmt_sharers_frames(_metadata, &s, f1));
	EXPECT_EQ(in_b, ksmt_frames_moved(&s, f0, f1));
	for (g = 0; g < groups; g++)
		EXPECT_EQ(NULL, block_of(b, 1, f1[g]));
	ksmt_expect_counters_as(_metadata, &c0);
	ksmt_sharers_verify(_metadata, &s);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_sharers_settle(_metadata, &s, false, NULL);

	ksmt_join_then_cow(_metadata, &s, 0xd410);

	ASSERT_EQ(0, block_set_state(b->id, "online_movable"));
	self->offlined = -1;
	ASSERT_EQ(0, block_read(b->id, "state", state, sizeof(state)));
	EXPECT_STREQ("online", state);
	ASSERT_EQ(0, block_read(b->id, "valid_zones", state, sizeof(state)));
	EXPECT_STREQ("Movable", state);

	ksmt_sharers_stop(_metadata, &s);
	ksmt_assert_all_zero(_metadata);
}

/*
 * Swap. The fixture makes zram0 a swap device and puts the test in a
 * memory cgroup of its own, whose memory.reclaim pushes the sharers'
 * pages out; it takes both down again.
 */
#define CGROUP_NAME	"ksm_moves"
/* Seconds the reclaim of the sharers' pages may take. */
#define RECLAIM_TIMEOUT	20

FIXTURE(swap) {
	struct ksmt_swap_env env;
};

FIXTURE_SETUP(swap)
{
	const char *why;

	memset(self, 0, sizeof(*self));
	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	why = ksmt_swap_env_up(&self->env, "64M", CGROUP_NAME);
	if (why) {
		ksmt_swap_env_down(&self->env);
		SKIP(return, "%s", why);
	}
	ASSERT_TRUE(ksmt_start_clean(_metadata));
	ASSERT_EQ(0, ksmt_run(1));
}

FIXTURE_TEARDOWN(swap)
{
	ksmt_swap_env_down(&self->env);
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/* Pages of all the sharers' first regions that are out in swap. */
static size_t sharers_swapped(const struct ksmt_sharers *s)
{
	size_t i, out = 0;
	int j;

	for (j = 0; j < s->n; j++)
		for (i = 0; i < s->l[j].npages; i++)
			if (ksmt_swapped_at(s->pid[j], s->base[j] + i * PAGE))
				out++;
	return out;
}

static bool sharers_all_out(void *arg)
{
	const struct ksmt_sharers *s = arg;
	size_t total = 0;
	int j;

	for (j = 0; j < s->n; j++)
		total += s->l[j].npages;
	return sharers_swapped(s) == total;
}

/*
 * Reclaims the cgroup cg, ksmd stopped, until all of the sharers' pages
 * are out, for RECLAIM_TIMEOUT seconds at most. Returns the pages out.
 */
static size_t reclaim_sharers(const struct ksmt_cgroup *cg,
			      struct ksmt_sharers *s)
{
	ksmt_cgroup_reclaim_until(cg, sharers_all_out, s, RECLAIM_TIMEOUT);
	return sharers_swapped(s);
}

/*
 * After process who faulted its pages in from swap: each of its group
 * pages is a page of its own (mapped once). The first process to fault
 * (holder 1) maps the page read from swap, which stays in the swap
 * cache while the other sharers' entries refer to it: its frames go to
 * first[]. Every later one must have been given a copy: a frame of its
 * own, not in the swap cache.
 */
static void expect_swapped_in(struct __test_metadata *_metadata,
			      struct ksmt_sharers *s, int who,
			      unsigned long *first)
{
	int g;

	for (g = 0; g < s->groups; g++) {
		u64 ent = ksmt_pagemap_of(s->pid[who],
				     s->base[who] + s->idx[who][g] * PAGE);
		unsigned long pfn = PAGEMAP_PFN(ent);

		ASSERT_TRUE(PAGEMAP_PRESENT(ent) && pfn);
		EXPECT_TRUE(!!(ent & PM_MMAP_EXCLUSIVE));
		if (who == 1) {
			first[g] = pfn;
			EXPECT_TRUE(ksmt_frame_flag(pfn, KPF_SWAPCACHE));
			continue;
		}
		EXPECT_NE(first[g], pfn);
		EXPECT_FALSE(ksmt_frame_flag(pfn, KPF_SWAPCACHE));
		/* The first one's page is still there, still its own. */
		EXPECT_EQ(first[g], ksmt_frame_of(s->pid[1], s->base[1] +
					     s->idx[1][g] * PAGE));
		EXPECT_EQ(1, ksmt_frame_mapcount(first[g]));
	}
}

/*
 * KSM pages shared by four processes go out to swap and come back by
 * faults, one process after the other. MADV_PAGEOUT leaves them alone
 * (it reclaims only pages mapped once), so the cgroup's reclaim takes
 * them out. Swapping out frees a KSM page: what comes back is a page
 * read from swap, which becomes the first faulting process's own (its
 * anon_vma); every later sharer faults on it in the swap cache and,
 * since it cannot map another process's anonymous page,
 * ksm_might_need_to_copy() gives it a copy (vmstat ksm_swpin_copy). So
 * each process ends with a private page of the right data, and ksmd
 * merges them all again into exactly the KSM pages there were.
 */
TEST_F_TIMEOUT(swap, fault_copies_for_other_sharers, KSMT_TEST_TIMEOUT)
{
	const int unique[] = { 40, 8, 8, 8 }, groups = 16;
	unsigned long f0[KSMT_MAX_GROUPS], first[KSMT_MAX_GROUPS];
	size_t i, n, out, total = 0;
	struct ksmt_sharers s;
	long copies0;
	int j;

	ASSERT_EQ(0, ksmt_sharers_start(&s, 4, groups, unique, 0xd900));
	n = s.l[0].npages;
	for (j = 0; j < s.n; j++)
		total += s.l[j].npages;
	ksmt_sharers_settle(_metadata, &s, false, f0);

	ASSERT_EQ(0, ksmt_run(0));
	drain_lru_batches();
	ASSERT_EQ(0, madvise(s.base[0], n * PAGE, MADV_PAGEOUT));
	out = 0;
	for (i = 0; i < n; i++) {
		char *page = s.base[0] + i * PAGE;
		int k = s.l[0].klass[i];

		if (k < 0) {
			out += ksmt_swapped_at(s.pid[0], page);
			continue;
		}
		EXPECT_EQ(f0[k], ksmt_frame_of(s.pid[0], page));
	}
	EXPECT_EQ((size_t)unique[0], out);

	out = reclaim_sharers(&self->env.cg, &s);
	TH_LOG("swapped out: %zu of %zu pages", out, total);
	ASSERT_EQ(total, out);

	/* -1 if the kernel counts no events (CONFIG_VM_EVENT_COUNTERS). */
	copies0 = ksmt_vmstat("ksm_swpin_copy");
	if (copies0 < 0)
		TH_LOG("no ksm_swpin_copy in /proc/vmstat: copies not counted");
	for (j = 1; j <= s.n; j++) {
		int who = j % s.n;	/* the holders in turn, then the test */

		/* A holder checks its data on request: that faults it in. */
		EXPECT_EQ(0, who ? ksmt_holder_verify(&s.ch[who]) :
			  ksmt_layout_check(&s.l[0], s.base[0]) + 1);
		expect_swapped_in(_metadata, &s, who, first);
		if (copies0 >= 0)
			EXPECT_EQ((j - 1) * groups,
				  ksmt_vmstat("ksm_swpin_copy") - copies0);
	}
	EXPECT_EQ(0U, sharers_swapped(&s));
	for (j = 0; j < s.n; j++)
		EXPECT_EQ(0, ksmt_ksm_kb_of(s.pid[j]));

	ASSERT_EQ(0, ksmt_run(1));
	ksmt_sharers_settle(_metadata, &s, false, NULL);
	ksmt_join_then_cow(_metadata, &s, 0xd910);
	ksmt_sharers_stop(_metadata, &s);
	ksmt_assert_all_zero(_metadata);
}

TEST_HARNESS_MAIN
