// SPDX-License-Identifier: GPL-2.0
/*
 * KSM under allocation failures (a kernel with CONFIG_FAULT_INJECTION,
 * FAILSLAB and FAIL_PAGE_ALLOC; it skips elsewhere). Each case puts pages
 * in a known state, then repeats one operation with the nth allocation of
 * the calling task failing (/proc/self/task/<tid>/fail-nth), for n = 1, 2,
 * ... until the operation makes fewer than n allocations, so every
 * allocation it makes fails once: slab objects and pages alike, sleeping
 * allocations included (ignore-gfp-wait off). Each time:
 *
 *  - the call succeeds, or fails with the documented error (ENOMEM, or
 *    EAGAIN where 6.12 returns it);
 *  - every byte of every page is still right;
 *  - once injection is off, the same call succeeds;
 *  - and at the end of the case, with run=2, every counter is zero, no
 *    stable node is left and KSM's slab caches are empty.
 *
 * The operations: MADV_UNMERGEABLE of merged pages (copies), run=2
 * (copies, from the writer's context), MADV_MERGEABLE of new memory
 * (registration), PR_SET_MEMORY_MERGE on and off (registration, then
 * copies), fork() of a process with merged pages, move_pages() of merged
 * pages to the other NUMA node (where there is one), the exit of a
 * process with merged pages, and swap-in of merged pages that went out
 * to swap (the copy a second sharer gets). How many failures each case
 * injected is logged.
 *
 * Memory offlining does not fit fail-nth (it migrates every page of a
 * block, and the pages must be put back in it for each try): offline_merged
 * makes the offlining task's allocations fail at random instead, with the
 * task filter, and counts the failures.
 *
 * ksmd's own allocations are make soak's concern (scripts/vm/soak-plan.sh):
 * fail-nth works only on the calling task. A failed charge of a copy to
 * its memory cgroup is ksm_races' (its oom cases unmerge four times a
 * cgroup's limit).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/mempolicy.h>

#include "../kselftest_harness.h"
#include "vm_util.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"
#include "lib/ksm_swap.h"
#include "lib/ksm_memblock.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif

#define PAIRS		4
#define NPAGES		(2 * PAIRS)
#define KEY		0x4641554c54ULL
/*
 * More allocations than any of these operations makes on 8 pages: the
 * tries of a case go n = 1, 2, ... until a try made fewer than n
 * allocations (fail-nth then reads non-zero), or MAX_NTH (a failure).
 */
#define MAX_NTH		400
#define DBG		"/sys/kernel/debug"
/* The budget of random failures: what is left of it counts them. */
#define TIMES		"1000000000"

/* The debugfs settings changed, and their values before. */
static const char *const settings[][2] = {
	{ DBG "/failslab/ignore-gfp-wait", "N" },
	{ DBG "/fail_page_alloc/ignore-gfp-wait", "N" },
	{ DBG "/fail_page_alloc/ignore-gfp-highmem", "N" },
	{ DBG "/fail_page_alloc/min-order", "0" },
	{ DBG "/failslab/verbose", "0" },
	{ DBG "/fail_page_alloc/verbose", "0" },
	/* Random failures: only for tasks with make-it-fail, counted. */
	{ DBG "/failslab/probability", "0" },
	{ DBG "/fail_page_alloc/probability", "0" },
	{ DBG "/failslab/task-filter", "Y" },
	{ DBG "/fail_page_alloc/task-filter", "Y" },
	{ DBG "/failslab/interval", "1" },
	{ DBG "/fail_page_alloc/interval", "1" },
	{ DBG "/failslab/times", TIMES },
	{ DBG "/fail_page_alloc/times", TIMES },
};

FIXTURE(faults) {
	char saved[ARRAY_SIZE(settings)][32];
	int nth_fd;
	char *p;
	long injected;
	struct ksmt_swap_env swap;	/* swapin_copy's zram and cgroup */
	int offlined;			/* a block offline_merged took, + 1 */
};

/* The pattern: pairs of twins, pair i with key KEY + i. */
static void fill(char *p)
{
	int i;

	for (i = 0; i < NPAGES; i++)
		ksmt_fill_page(p + i * PAGE, KEY + i / 2);
}

static bool intact(const char *p)
{
	int i;

	for (i = 0; i < NPAGES; i++)
		if (!ksmt_page_is(p + i * PAGE, KEY + i / 2))
			return false;
	return true;
}

/* Makes the nth allocation of this task fail; 0 stops it. */
static int fail_nth(int fd, int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", nth);

	return pwrite(fd, buf, len, 0) == len ? 0 : -errno;
}

/* The allocations still to go before the failure: 0 once injected. */
static int nth_left(int fd)
{
	char buf[16] = "";

	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return -1;
	return atoi(buf);
}

/* The fail-nth file of the calling thread, opened; -1 on failure. */
static int open_nth(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	return open(path, O_RDWR);
}

FIXTURE_SETUP(faults)
{
	unsigned int i;

	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	self->nth_fd = open_nth();
	if (self->nth_fd < 0 || access(settings[0][0], W_OK))
		SKIP(return, "no fault injection (fail-nth, failslab) here");
	for (i = 0; i < ARRAY_SIZE(settings); i++) {
		ASSERT_EQ(0, ksmt_read_file(settings[i][0], self->saved[i],
					    sizeof(self->saved[i])));
		ASSERT_EQ(0, ksmt_write_file(settings[i][0], settings[i][1]));
	}
	ASSERT_EQ(0, ksmt_reset());
	self->p = ksmt_map(NPAGES);
	ASSERT_NE(MAP_FAILED, self->p);
}

FIXTURE_TEARDOWN(faults)
{
	unsigned int i;

	if (self->nth_fd >= 0) {
		fail_nth(self->nth_fd, 0);
		close(self->nth_fd);
	}
	for (i = 0; i < ARRAY_SIZE(settings); i++)
		if (self->saved[i][0])
			ksmt_write_file(settings[i][0], self->saved[i]);
	if (self->p && self->p != MAP_FAILED)
		munmap(self->p, NPAGES * PAGE);
	if (self->offlined)
		EXPECT_EQ(0, block_set_state(self->offlined - 1,
					     "online_movable"));
	ksmt_swap_env_down(&self->swap);
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/* Pattern written, marked mergeable, and every pair merged; ksmd stopped. */
static void merge_all(struct __test_metadata *_metadata, char *p)
{
	struct ksmt_counters c;

	fill(p);
	ASSERT_EQ(0, madvise(p, NPAGES * PAGE, MADV_MERGEABLE));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(3));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ASSERT_EQ(PAIRS, c.shared);
	ASSERT_EQ(PAIRS, c.sharing);
}

/*
 * The end of a case: the pages intact and no longer mergeable; once ksmd
 * has run again, nothing merged, tracked or allocated is left.
 */
static void all_clear(struct __test_metadata *_metadata, char *p, long n)
{
	TH_LOG("%ld allocation failures injected", n);
	EXPECT_LT(0, n);
	EXPECT_TRUE(intact(p));
	ASSERT_EQ(0, madvise(p, NPAGES * PAGE, MADV_UNMERGEABLE));
	EXPECT_TRUE(intact(p));
	ASSERT_EQ(0, ksmt_run(2));
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_assert_all_zero(_metadata);
}

/* MADV_UNMERGEABLE of merged pages: every COW copy can fail. */
TEST_F_TIMEOUT(faults, madv_unmergeable, 600)
{
	int nth, left, ret, err;

	for (nth = 1, left = 0; nth <= MAX_NTH && !left; nth++) {
		merge_all(_metadata, self->p);
		ASSERT_EQ(0, fail_nth(self->nth_fd, nth));
		ret = madvise(self->p, NPAGES * PAGE, MADV_UNMERGEABLE);
		err = errno;
		left = nth_left(self->nth_fd);
		ASSERT_EQ(0, fail_nth(self->nth_fd, 0));
		if (!left)
			self->injected++;
		if (ret) {
			EXPECT_TRUE(err == ENOMEM || err == EAGAIN)
				TH_LOG("nth %d: errno %d", nth, err);
		}
		ASSERT_TRUE(intact(self->p)) TH_LOG("nth %d", nth);
		ASSERT_EQ(0, madvise(self->p, NPAGES * PAGE, MADV_UNMERGEABLE));
		ASSERT_TRUE(intact(self->p));
		ASSERT_EQ(0, ksmt_run(2));
	}
	EXPECT_GT(MAX_NTH, nth);
	all_clear(_metadata, self->p, self->injected);
}

/* run=2 from a writer whose allocations fail: ENOMEM and run=0, or done. */
TEST_F_TIMEOUT(faults, run_unmerge, 600)
{
	int nth, left, fd, err = 0;
	ssize_t ret;

	for (nth = 1, left = 0; nth <= MAX_NTH && !left; nth++) {
		merge_all(_metadata, self->p);
		fd = open(KSMT_DIR "/run", O_WRONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, fail_nth(self->nth_fd, nth));
		ret = write(fd, "2", 1);
		err = errno;
		left = nth_left(self->nth_fd);
		ASSERT_EQ(0, fail_nth(self->nth_fd, 0));
		close(fd);
		if (!left)
			self->injected++;
		if (ret != 1) {
			EXPECT_TRUE(err == ENOMEM || err == EAGAIN)
				TH_LOG("nth %d: errno %d", nth, err);
			EXPECT_EQ(0, ksmt_get("run"));
		} else {
			EXPECT_EQ(2, ksmt_get("run"));
		}
		ASSERT_TRUE(intact(self->p)) TH_LOG("nth %d", nth);
		ASSERT_EQ(0, ksmt_run(2));
		ASSERT_TRUE(intact(self->p));
		EXPECT_EQ(0, ksmt_get("pages_sharing"));
	}
	EXPECT_GT(MAX_NTH, nth);
	all_clear(_metadata, self->p, self->injected);
}

/*
 * MADV_MERGEABLE of memory in a fresh process (whose registration
 * allocates): on failure the range is not marked and the process not
 * registered; the retry marks it and the pages merge.
 */
TEST_F_TIMEOUT(faults, madv_mergeable, 600)
{
	struct ksmt_chan ch;
	int nth, left, status;
	pid_t pid;
	char c;

	for (nth = 1, left = 0; nth <= MAX_NTH && !left; nth++) {
		ASSERT_EQ(0, ksmt_chan_open(&ch));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			int fd = open_nth(), ret, err, l;

			ksmt_chan_worker(&ch);
			fill(self->p);
			if (fd < 0 || fail_nth(fd, nth))
				_exit(10);
			ret = madvise(self->p, NPAGES * PAGE, MADV_MERGEABLE);
			err = errno;
			l = nth_left(fd);
			fail_nth(fd, 0);
			if (ret && err != ENOMEM && err != EAGAIN)
				_exit(11);
			if (!intact(self->p))
				_exit(12);
			if (madvise(self->p, NPAGES * PAGE, MADV_MERGEABLE))
				_exit(13);
			if (ksmt_send(ch.up[1], l ? 'n' : 'y'))
				_exit(14);
			/* Stay until the parent saw the pages merge. */
			ksmt_recv(ch.down[0], &c, KSMT_TEST_TIMEOUT);
			_exit(intact(self->p) ? 0 : 16);
		}
		ksmt_chan_parent(&ch);
		ASSERT_EQ(0, ksmt_recv(ch.up[0], &c, KSMT_TEST_TIMEOUT));
		left = c == 'n';
		if (!left)
			self->injected++;
		ASSERT_EQ(0, ksmt_run(1));
		ASSERT_EQ(0, ksmt_settle(3));
		EXPECT_EQ(PAIRS, ksmt_get("pages_sharing")) TH_LOG("nth %d", nth);
		ksmt_chan_close(&ch);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("nth %d", nth);
		ASSERT_EQ(0, ksmt_run(2));
	}
	EXPECT_GT(MAX_NTH, nth);
	fill(self->p);
	all_clear(_metadata, self->p, self->injected);
}

/*
 * PR_SET_MEMORY_MERGE in a child: on (registration, marking every VMA),
 * then, with its pages merged, off (unmerging them). Failures are ENOMEM
 * or EAGAIN, after which PR_GET_MEMORY_MERGE tells the setting as it was;
 * retries succeed; every page stays right.
 */
TEST_F_TIMEOUT(faults, prctl_merge, 900)
{
	int nth, left, status, which;
	struct ksmt_chan ch;
	pid_t pid;
	char c;

	for (which = 1; which >= 0; which--) {
		for (nth = 1, left = 0; nth <= MAX_NTH && !left; nth++) {
			ASSERT_EQ(0, ksmt_chan_open(&ch));
			pid = fork();
			ASSERT_LE(0, pid);
			if (!pid) {
				int fd = open_nth(), ret, err, l;

				ksmt_chan_worker(&ch);
				fill(self->p);
				if (fd < 0)
					_exit(10);
				/* Off: on first, and the parent merges. */
				if (!which &&
				    (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) ||
				     ksmt_send(ch.up[1], 'm') ||
				     ksmt_recv(ch.down[0], &c, KSMT_TEST_TIMEOUT)))
					_exit(11);
				if (fail_nth(fd, nth))
					_exit(12);
				ret = prctl(PR_SET_MEMORY_MERGE, which, 0, 0, 0);
				err = errno;
				l = nth_left(fd);
				fail_nth(fd, 0);
				if (ret && err != ENOMEM && err != EAGAIN)
					_exit(13);
				if (ret &&
				    prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) != !which)
					_exit(14);
				if (!intact(self->p))
					_exit(15);
				if (prctl(PR_SET_MEMORY_MERGE, which, 0, 0, 0) ||
				    prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) != which)
					_exit(16);
				_exit(!intact(self->p) ? 17 : l ? 1 : 0);
			}
			ksmt_chan_parent(&ch);
			if (!which) {
				ASSERT_EQ(0, ksmt_recv(ch.up[0], &c,
						       KSMT_TEST_TIMEOUT));
				ASSERT_EQ(0, ksmt_run(1));
				ASSERT_EQ(0, ksmt_settle(3));
				ASSERT_EQ(PAIRS, ksmt_get("pages_sharing"));
				ASSERT_EQ(0, ksmt_send(ch.down[1], 'g'));
			}
			ksmt_chan_close(&ch);
			ASSERT_EQ(pid, waitpid(pid, &status, 0));
			ASSERT_TRUE(WIFEXITED(status));
			ASSERT_GE(1, WEXITSTATUS(status))
				TH_LOG("prctl %d, nth %d: exit %d", which, nth,
				       WEXITSTATUS(status));
			left = WEXITSTATUS(status);
			if (!left)
				self->injected++;
			ASSERT_EQ(0, ksmt_run(2));
		}
		EXPECT_GT(MAX_NTH, nth);
	}
	fill(self->p);
	all_clear(_metadata, self->p, self->injected);
}

/*
 * fork() of a process whose pages are merged: ENOMEM or EAGAIN, or a
 * child that sees every page right (its KSM registration is best effort);
 * the parent's pages stay right and merged.
 */
TEST_F_TIMEOUT(faults, fork_merged, 600)
{
	int nth, left, status, err;
	pid_t pid;

	merge_all(_metadata, self->p);
	for (nth = 1, left = 0; nth <= MAX_NTH && !left; nth++) {
		ASSERT_EQ(0, fail_nth(self->nth_fd, nth));
		pid = fork();
		if (!pid)
			_exit(intact(self->p) ? 0 : 1);
		err = errno;
		left = nth_left(self->nth_fd);
		ASSERT_EQ(0, fail_nth(self->nth_fd, 0));
		if (!left)
			self->injected++;
		if (pid < 0) {
			EXPECT_TRUE(err == ENOMEM || err == EAGAIN)
				TH_LOG("nth %d: errno %d", nth, err);
		} else {
			ASSERT_EQ(pid, waitpid(pid, &status, 0));
			ASSERT_TRUE(WIFEXITED(status));
			EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("nth %d", nth);
		}
		ASSERT_TRUE(intact(self->p));
	}
	EXPECT_GT(MAX_NTH, nth);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(2));
	EXPECT_EQ(PAIRS, ksmt_get("pages_sharing"));
	all_clear(_metadata, self->p, self->injected);
}

/*
 * move_pages() of merged pages to the other node: each page moves or
 * reports ENOMEM (or EBUSY/EAGAIN while busy); every page stays right.
 */
TEST_F_TIMEOUT(faults, migrate_merged, 600)
{
	int nth, left, i, node, status[NPAGES];
	void *pages[NPAGES];
	int nodes[NPAGES];
	long ret;

	if (!ksmt_have_node1())
		SKIP(return, "one NUMA node");
	merge_all(_metadata, self->p);
	for (i = 0; i < NPAGES; i++)
		pages[i] = self->p + i * PAGE;
	for (nth = 1, left = 0; nth <= MAX_NTH && !left; nth++) {
		node = !ksmt_page_node(self->p);
		for (i = 0; i < NPAGES; i++)
			nodes[i] = node;
		ASSERT_EQ(0, fail_nth(self->nth_fd, nth));
		/* KSM pages are mapped more than once: MOVE_ALL moves them. */
		ret = syscall(SYS_move_pages, 0, NPAGES, pages, nodes, status,
			      MPOL_MF_MOVE_ALL);
		left = nth_left(self->nth_fd);
		ASSERT_EQ(0, fail_nth(self->nth_fd, 0));
		if (!left)
			self->injected++;
		if (ret < 0)
			EXPECT_TRUE(errno == ENOMEM || errno == EAGAIN)
				TH_LOG("nth %d: errno %d", nth, errno);
		for (i = 0; ret >= 0 && i < NPAGES; i++)
			EXPECT_TRUE(status[i] == node || status[i] == -ENOMEM ||
				    status[i] == -EBUSY || status[i] == -EAGAIN)
				TH_LOG("nth %d page %d: %d", nth, i, status[i]);
		ASSERT_TRUE(intact(self->p));
	}
	EXPECT_GT(MAX_NTH, nth);
	all_clear(_metadata, self->p, self->injected);
}

/*
 * The exit of a child whose pages map the KSM pages it shares with us
 * (since fork()). Exit cannot fail, but each allocation it makes on the
 * way (page-table teardown batches and the like) fails once in turn; the
 * child's fail-nth, read while it is a zombie (its mm already gone),
 * tells whether the failure came. Every time our pages stay right and,
 * once ksmd has settled, the counters are ours alone.
 */
TEST_F_TIMEOUT(faults, exit_merged, 600)
{
	int nth, left, status, fd;
	struct ksmt_chan ch;
	char path[64], c;
	siginfo_t si;
	pid_t pid;

	merge_all(_metadata, self->p);
	for (nth = 1, left = 0; nth <= MAX_NTH && !left; nth++) {
		ASSERT_EQ(0, ksmt_chan_open(&ch));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			int nfd = open_nth();

			ksmt_chan_worker(&ch);
			if (nfd < 0 || ksmt_send(ch.up[1], 'r') ||
			    ksmt_recv(ch.down[0], &c, KSMT_TEST_TIMEOUT) ||
			    !intact(self->p) || fail_nth(nfd, nth))
				_exit(1);
			_exit(0);
		}
		ksmt_chan_parent(&ch);
		ASSERT_EQ(0, ksmt_recv(ch.up[0], &c, KSMT_TEST_TIMEOUT));
		/* The child's mappings of our KSM pages counted too. */
		ASSERT_EQ(0, ksmt_run(1));
		ASSERT_EQ(0, ksmt_settle(2));
		EXPECT_EQ(PAIRS + NPAGES, ksmt_get("pages_sharing"));
		snprintf(path, sizeof(path), "/proc/%d/task/%d/fail-nth",
			 (int)pid, (int)pid);
		fd = open(path, O_RDONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ksmt_send(ch.down[1], 'g'));
		ASSERT_EQ(0, waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
		left = nth_left(fd);
		close(fd);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ksmt_chan_close(&ch);
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("nth %d", nth);
		ASSERT_LE(0, left);
		if (!left)
			self->injected++;
		ASSERT_TRUE(intact(self->p)) TH_LOG("nth %d", nth);
		ASSERT_EQ(0, ksmt_run(1));
		ASSERT_EQ(0, ksmt_settle(2));
		EXPECT_EQ(PAIRS, ksmt_get("pages_shared")) TH_LOG("nth %d", nth);
		EXPECT_EQ(PAIRS, ksmt_get("pages_sharing")) TH_LOG("nth %d", nth);
	}
	EXPECT_GT(MAX_NTH, nth);
	all_clear(_metadata, self->p, self->injected);
}

/* How many pages of the region are swap entries. */
static int swapped(const char *p)
{
	return ksmt_swapped(0, p, NPAGES);
}

static bool all_swapped(void *p)
{
	return swapped(p) == NPAGES;
}

/*
 * Swap-in of merged pages. The KSM pages go out to zram swap (the
 * cgroup's reclaim, ksmd stopped), then come back through a read of
 * /proc/self/mem, whose faults fail in turn. The first page of a pair
 * reads the swap entry into the swap cache and keeps that page; the
 * second gets a copy (ksm_might_need_to_copy(): a page of another offset
 * cannot be mapped there). Each try reads every page, stops short, or
 * fails with EIO (what /proc/<pid>/mem makes of a fault's ENOMEM); what
 * it read and what the pages hold are right either way. The last try,
 * without a failure, made PAIRS copies (vmstat ksm_swpin_copy): the
 * copies' allocations were among those that failed.
 */
TEST_F_TIMEOUT(faults, swapin_copy, 900)
{
	int nth, left, err, i, memfd;
	long copies = 0;
	const char *why;
	ssize_t ret;
	char *buf;

	if (ksmt_vmstat("ksm_swpin_copy") < 0)
		SKIP(return, "no ksm_swpin_copy in /proc/vmstat");
	why = ksmt_swap_env_up(&self->swap, "32M", "ksm_faults");
	if (why)
		SKIP(return, "%s", why);
	buf = malloc(NPAGES * PAGE);
	ASSERT_NE(NULL, buf);
	/* Faulted in and kept from reclaim: copying out to it cannot fail. */
	memset(buf, 0, NPAGES * PAGE);
	ASSERT_EQ(0, mlock(buf, NPAGES * PAGE));
	memfd = open("/proc/self/mem", O_RDONLY);
	ASSERT_LE(0, memfd);
	for (nth = 1, left = 0; nth <= MAX_NTH && !left; nth++) {
		merge_all(_metadata, self->p);
		ASSERT_TRUE(ksmt_cgroup_reclaim_until(&self->swap.cg,
						      all_swapped, self->p, 20));
		copies = ksmt_vmstat("ksm_swpin_copy");
		ASSERT_EQ(0, fail_nth(self->nth_fd, nth));
		ret = pread(memfd, buf, NPAGES * PAGE, (off_t)(uintptr_t)self->p);
		err = errno;
		left = nth_left(self->nth_fd);
		ASSERT_EQ(0, fail_nth(self->nth_fd, 0));
		copies = ksmt_vmstat("ksm_swpin_copy") - copies;
		if (!left)
			self->injected++;
		if (ret < 0)
			EXPECT_TRUE(err == EIO || err == ENOMEM)
				TH_LOG("nth %d: errno %d", nth, err);
		for (i = 0; (ssize_t)((i + 1) * PAGE) <= ret; i++)
			EXPECT_TRUE(ksmt_page_is(buf + i * PAGE, KEY + i / 2))
				TH_LOG("nth %d: page %d read wrong", nth, i);
		ASSERT_TRUE(intact(self->p)) TH_LOG("nth %d", nth);
		ASSERT_EQ(0, ksmt_run(2));
	}
	EXPECT_GT(MAX_NTH, nth);
	EXPECT_EQ(PAIRS, copies);
	close(memfd);
	free(buf);
	all_clear(_metadata, self->p, self->injected);
}

/* The files that turn random failures of this task on and off, opened. */
struct random_fail {
	int make_it_fail;
	int probability[2];	/* failslab's, fail_page_alloc's */
};

static int random_fail_open(struct random_fail *rf)
{
	rf->make_it_fail = open("/proc/self/make-it-fail", O_WRONLY);
	rf->probability[0] = open(DBG "/failslab/probability", O_WRONLY);
	rf->probability[1] = open(DBG "/fail_page_alloc/probability",
				  O_WRONLY);
	if (rf->make_it_fail < 0 || rf->probability[0] < 0 ||
	    rf->probability[1] < 0)
		return -errno;
	return 0;
}

static void random_fail_close(struct random_fail *rf)
{
	close(rf->make_it_fail);
	close(rf->probability[0]);
	close(rf->probability[1]);
}

static int write_str(int fd, const char *text)
{
	ssize_t len = strlen(text);

	/* None of these files has a position that matters. */
	return write(fd, text, len) == len ? 0 : -errno;
}

/*
 * Random failures of this task's allocations with percent% chance, or
 * none ("0"). Through files opened before, and in an order where no
 * write is made with failures on: make-it-fail last on, first off.
 */
static int fail_randomly(struct random_fail *rf, const char *percent)
{
	bool on = strcmp(percent, "0");
	int err = 0;

	if (!on)
		err = write_str(rf->make_it_fail, "0");
	if (!err)
		err = write_str(rf->probability[0], percent);
	if (!err)
		err = write_str(rf->probability[1], percent);
	if (!err && on)
		err = write_str(rf->make_it_fail, "1");
	return err;
}

/* The random failures so far: what they took from the budget TIMES. */
static long random_failures(void)
{
	long budget = 2 * atol(TIMES), left;
	char buf[32];

	left = ksmt_read_file(DBG "/failslab/times", buf, sizeof(buf)) ?
		0 : atol(buf);
	budget -= left;
	left = ksmt_read_file(DBG "/fail_page_alloc/times", buf, sizeof(buf)) ?
		0 : atol(buf);
	return budget - left;
}

#define OFFLINE_PERCENT	"50"
#define OFFLINE_ROUNDS	6
#define OFFLINE_TRIES	20
/* Filler frames of the block freed for our pages to take. */
#define PLACE_FRAMES	64

/*
 * Merges our pages with their frames in block b (see struct filler):
 * returns how many of the KSM pages are frames of b. ksmd is stopped.
 */
static int merge_in_block(struct __test_metadata *_metadata, char *p,
			  const struct mem_block *b)
{
	unsigned long zs, ze, pfn[NPAGES];
	struct filler filler;
	cpu_set_t cpus;
	int i, in = 0;

	ASSERT_EQ(0, ksmt_run(2));
	ASSERT_EQ(0, madvise(p, NPAGES * PAGE, MADV_DONTNEED));
	ASSERT_EQ(0, top_zone_of(b->node, &zs, &ze));
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(cpus), &cpus));
	ASSERT_EQ(0, pin_to_one_cpu());
	ASSERT_EQ(0, bind_to_node(b->node));
	ASSERT_EQ(0, filler_take_until(&filler, ze - zs, b->start, b->end,
				       PLACE_FRAMES));
	filler_free_in(&filler, b->start, b->end, PLACE_FRAMES);
	fill(p);
	filler_release(&filler);
	ASSERT_EQ(0, bind_to_node(-1));
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpus), &cpus));
	merge_all(_metadata, p);
	ASSERT_EQ(0, ksmt_frames(p, NPAGES, pfn));
	/* The twins of a pair share the KSM page's frame: count it once. */
	for (i = 0; i < NPAGES; i += 2)
		in += !!block_of(b, 1, pfn[i]);
	return in;
}

/*
 * Offlining memory blocks that hold our KSM pages while half of the
 * offlining task's allocations fail at random (failslab and
 * fail_page_alloc, task filter, make-it-fail): each try takes the block
 * offline (the KSM pages migrate out with their stable nodes) or fails
 * with ENOMEM, EBUSY or EAGAIN, and is made again until the block is
 * offline. The pages stay right and merged, none in the block, and the
 * counters are unchanged; the block goes back online. The failures
 * injected are counted.
 */
TEST_F_TIMEOUT(faults, offline_merged, 900)
{
	int nblocks, movable, round, tries, i, in, state, err, failed = 0;
	unsigned long pfn[NPAGES];
	struct mem_block blocks[64];
	const struct mem_block *b;
	struct random_fail rf;
	char path[128];
	long before;

	nblocks = offlinable_blocks(blocks, ARRAY_SIZE(blocks), &movable);
	if (!movable)
		SKIP(return, "no ZONE_MOVABLE memory block (boot with movablecore=)");
	ASSERT_LT(0, nblocks);
	ASSERT_EQ(0, random_fail_open(&rf));
	for (round = 0; round < OFFLINE_ROUNDS; round++) {
		b = &blocks[round % nblocks];
		in = merge_in_block(_metadata, self->p, b);
		TH_LOG("memory%d (node %d): %d of %d KSM pages in it",
		       b->id, b->node, in, PAIRS);
		ASSERT_LT(0, in);
		snprintf(path, sizeof(path), MEMDIR "/memory%d/state", b->id);
		state = open(path, O_WRONLY);
		ASSERT_LE(0, state);
		for (tries = 0, err = -1; err && tries < OFFLINE_TRIES; tries++) {
			before = random_failures();
			ASSERT_EQ(0, fail_randomly(&rf, OFFLINE_PERCENT));
			err = write_str(state, "offline");
			ASSERT_EQ(0, fail_randomly(&rf, "0"));
			self->injected += random_failures() - before;
			if (!err)
				break;
			failed++;
			EXPECT_TRUE(err == -ENOMEM || err == -EBUSY ||
				    err == -EAGAIN)
				TH_LOG("memory%d: %s", b->id, strerror(-err));
			ASSERT_TRUE(intact(self->p));
		}
		close(state);
		ASSERT_EQ(0, err) TH_LOG("memory%d stayed online", b->id);
		self->offlined = b->id + 1;
		ASSERT_TRUE(intact(self->p));
		EXPECT_EQ(PAIRS, ksmt_get("pages_shared"));
		EXPECT_EQ(PAIRS, ksmt_get("pages_sharing"));
		ASSERT_EQ(0, ksmt_frames(self->p, NPAGES, pfn));
		for (i = 0; i < NPAGES; i++)
			EXPECT_EQ(NULL, block_of(b, 1, pfn[i]));
		for (i = 0; i < NPAGES; i += 2)
			EXPECT_EQ(pfn[i], pfn[i + 1]);
		ASSERT_EQ(0, block_set_state(b->id, "online_movable"));
		self->offlined = 0;
	}
	random_fail_close(&rf);
	TH_LOG("%d blocks offlined, %d tries failed", OFFLINE_ROUNDS, failed);
	/* Still merged where they went: ksmd finds them all in place. */
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(2));
	EXPECT_EQ(PAIRS, ksmt_get("pages_shared"));
	EXPECT_EQ(PAIRS, ksmt_get("pages_sharing"));
	all_clear(_metadata, self->p, self->injected);
}

TEST_HARNESS_MAIN
