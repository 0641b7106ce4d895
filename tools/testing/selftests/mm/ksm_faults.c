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
 * copies), fork() of a process with merged pages, and move_pages() of
 * merged pages to the other NUMA node (where there is one). How many
 * failures each case injected is logged.
 *
 * ksmd's own allocations are make soak's concern (scripts/vm/soak-plan.sh):
 * fail-nth works only on the calling task.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif

#define PAGE		KSMT_PAGE_SIZE
#define PAIRS		4
#define NPAGES		(2 * PAIRS)
#define KEY		0x4641554c54ULL
/*
 * More allocations than any of these operations makes on 8 pages: the
 * tries of a case go n = 1, 2, ... until a try made fewer than n
 * allocations (fail-nth then reads non-zero), or MAX_NTH (a failure).
 */
#define MAX_NTH		200
#define DBG		"/sys/kernel/debug"

/* The debugfs settings changed, and their values before. */
static const char *const settings[][2] = {
	{ DBG "/failslab/ignore-gfp-wait", "N" },
	{ DBG "/fail_page_alloc/ignore-gfp-wait", "N" },
	{ DBG "/fail_page_alloc/ignore-gfp-highmem", "N" },
	{ DBG "/fail_page_alloc/min-order", "0" },
	{ DBG "/failslab/verbose", "0" },
	{ DBG "/fail_page_alloc/verbose", "0" },
};

FIXTURE(faults) {
	char saved[ARRAY_SIZE(settings)][32];
	int nth_fd;
	char *p;
	long injected;
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

TEST_HARNESS_MAIN
