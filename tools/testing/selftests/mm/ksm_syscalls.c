// SPDX-License-Identifier: GPL-2.0
/*
 * Bad and boundary input to the system calls KSM serves, seen from user
 * space: madvise(MADV_MERGEABLE / MADV_UNMERGEABLE) and
 * /proc/<pid>/ksm_stat. (The sysfs knobs are ksm_knobs' concern, prctl's
 * arguments ksm_features'.) Each case checks the exact errno of 6.12,
 * that a failing call changed nothing (no VMA marked 'mg' in smaps), and
 * that what a call did mark still merges right:
 *
 *  - an unaligned start, a length that wraps around or that rounds up to
 *    nothing: EINVAL, nothing marked;
 *  - a zero length: 0, nothing marked; a length short of a page: rounded
 *    up to the page, the VMA split there;
 *  - a range with a hole: ENOMEM, but the mapped parts on both sides
 *    marked, and merging with each other; a range with nothing mapped,
 *    or beyond the user address space: ENOMEM;
 *  - shared memory: 0, never marked; PROT_NONE memory: marked, scanned
 *    without harm, its content intact once readable again;
 *  - advice given twice, or undone where never given: 0, no VMA split;
 *  - 16 GiB reserved and marked, with four pages touched: ksmd walks it
 *    in full scans, merges the four, and MADV_UNMERGEABLE undoes it all
 *    (the counters follow on ksmd's next scan, as in 6.12);
 *  - ksm_stat of a zombie reads empty, with no error; ksm_stat read
 *    while processes with merged pages exit never reads garbage.
 *
 * Nothing else may use KSM while this runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"

#define KEY		0x5359534341ULL
#define HUGE_BYTES	(16UL << 30)

/*
 * Whether the VMA holding addr has flag in its VmFlags (1 or 0); -1 if no
 * VMA holds it; -2 if smaps cannot be read.
 */
static int vma_has(const void *addr, const char *flag)
{
	unsigned long a = (unsigned long)addr, lo, hi;
	char line[512], want[16], perms[8];
	bool inside = false;
	int found = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -2;
	snprintf(want, sizeof(want), " %s ", flag);
	while (fgets(line, sizeof(line), f)) {
		/* A VMA's first line: "start-end perms offset dev inode ..." */
		if (sscanf(line, "%lx-%lx %7s ", &lo, &hi, perms) == 3) {
			inside = a >= lo && a < hi;
			continue;
		}
		if (inside && !strncmp(line, "VmFlags:", 8)) {
			/* Every flag between spaces, the last one too. */
			line[strcspn(line, "\n")] = '\0';
			strcat(line, " ");
			found = !!strstr(line + 8, want);
			break;
		}
	}
	fclose(f);
	return found;
}

/* The number of VMAs in this process. */
static int vma_count(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/* Whether @n is a count of at most @max pages. */
static bool count_ok(long n, size_t max)
{
	return n >= 0 && n <= (long)max;
}

/* npages of address space that maps nothing, or MAP_FAILED. */
static void *hole(size_t npages)
{
	void *p = mmap(NULL, npages * PAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED && munmap(p, npages * PAGE))
		return MAP_FAILED;
	return p;
}

FIXTURE(sys) {
	char *p;
	size_t npages;
};

FIXTURE_SETUP(sys)
{
	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	ASSERT_EQ(0, ksmt_reset());
	self->npages = 4;
	self->p = ksmt_map(self->npages);
	ASSERT_NE(MAP_FAILED, self->p);
}

FIXTURE_TEARDOWN(sys)
{
	if (self->p && self->p != MAP_FAILED)
		munmap(self->p, self->npages * PAGE);
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/* Unaligned starts, wrapping lengths: EINVAL for both advices. */
TEST_F(sys, einval_ranges)
{
	static const int advice[] = { MADV_MERGEABLE, MADV_UNMERGEABLE };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(advice); i++) {
		errno = 0;
		EXPECT_EQ(-1, madvise(self->p + 1, PAGE, advice[i]));
		EXPECT_EQ(EINVAL, errno);
		errno = 0;
		EXPECT_EQ(-1, madvise(self->p + PAGE / 2, PAGE, advice[i]));
		EXPECT_EQ(EINVAL, errno);
		/* start + length wraps around the address space */
		errno = 0;
		EXPECT_EQ(-1, madvise(self->p, -(size_t)PAGE, advice[i]));
		EXPECT_EQ(EINVAL, errno);
		/* a length that rounds up to zero */
		errno = 0;
		EXPECT_EQ(-1, madvise(self->p, (size_t)-1, advice[i]));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(0, vma_has(self->p, "mg"));
}

/* Length 0 does nothing; a part of a page stands for the whole page. */
TEST_F(sys, lengths)
{
	int before = vma_count();

	EXPECT_EQ(0, madvise(self->p, 0, MADV_MERGEABLE));
	EXPECT_EQ(0, vma_has(self->p, "mg"));
	EXPECT_EQ(before, vma_count());

	EXPECT_EQ(0, madvise(self->p, PAGE + 1, MADV_MERGEABLE));
	EXPECT_EQ(1, vma_has(self->p, "mg"));
	EXPECT_EQ(1, vma_has(self->p + PAGE, "mg"));
	EXPECT_EQ(0, vma_has(self->p + 2 * PAGE, "mg"));
	EXPECT_EQ(before + 1, vma_count());

	/* Undone the same way, the VMAs join again. */
	EXPECT_EQ(0, madvise(self->p, 2 * PAGE - 1, MADV_UNMERGEABLE));
	EXPECT_EQ(0, vma_has(self->p, "mg"));
	EXPECT_EQ(before, vma_count());
}

/*
 * A hole in the range: ENOMEM, yet both mapped sides are marked, and a
 * page on one side merges with its twin on the other.
 */
TEST_F_TIMEOUT(sys, hole_in_range, KSMT_TEST_TIMEOUT)
{
	struct ksmt_counters c;
	char *p = self->p;

	ksmt_fill_page(p, KEY);
	ksmt_fill_page(p + 3 * PAGE, KEY);
	ASSERT_EQ(0, munmap(p + PAGE, 2 * PAGE));
	errno = 0;
	EXPECT_EQ(-1, madvise(p, 4 * PAGE, MADV_MERGEABLE));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(1, vma_has(p, "mg"));
	EXPECT_EQ(-1, vma_has(p + PAGE, "mg"));
	EXPECT_EQ(1, vma_has(p + 3 * PAGE, "mg"));

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(3));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(1, c.shared);
	EXPECT_EQ(1, c.sharing);
	EXPECT_TRUE(ksmt_page_is(p, KEY));
	EXPECT_TRUE(ksmt_page_is(p + 3 * PAGE, KEY));

	errno = 0;
	EXPECT_EQ(-1, madvise(p, 4 * PAGE, MADV_UNMERGEABLE));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(0, vma_has(p, "mg"));
	EXPECT_EQ(0, vma_has(p + 3 * PAGE, "mg"));
	EXPECT_TRUE(ksmt_page_is(p, KEY));
	EXPECT_TRUE(ksmt_page_is(p + 3 * PAGE, KEY));
	munmap(p, PAGE);
	munmap(p + 3 * PAGE, PAGE);
	self->p = NULL;
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_assert_all_zero(_metadata);
}

/* Nothing mapped at all, or past the end of user space: ENOMEM. */
TEST_F(sys, enomem_ranges)
{
	char *h = hole(8);

	ASSERT_NE(MAP_FAILED, h);
	errno = 0;
	EXPECT_EQ(-1, madvise(h, 8 * PAGE, MADV_MERGEABLE));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(-1, madvise(h, 8 * PAGE, MADV_UNMERGEABLE));
	EXPECT_EQ(ENOMEM, errno);
#if defined(__x86_64__) || defined(__aarch64__)
	/* Past 2^56: beyond any user address space of these architectures. */
	errno = 0;
	EXPECT_EQ(-1, madvise((void *)(1UL << 56), PAGE, MADV_MERGEABLE));
	EXPECT_EQ(ENOMEM, errno);
#endif
}

/* Shared memory is never mergeable: the advice is ignored, with 0. */
TEST_F(sys, shared_ignored)
{
	char *s = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, s);
	EXPECT_EQ(0, madvise(s, 2 * PAGE, MADV_MERGEABLE));
	EXPECT_EQ(0, vma_has(s, "mg"));
	EXPECT_EQ(0, madvise(s, 2 * PAGE, MADV_UNMERGEABLE));
	munmap(s, 2 * PAGE);
}

/* The same advice twice, or undoing what was never given: 0, no split. */
TEST_F(sys, idempotent)
{
	int before = vma_count();

	EXPECT_EQ(0, madvise(self->p, 4 * PAGE, MADV_UNMERGEABLE));
	EXPECT_EQ(before, vma_count());
	EXPECT_EQ(0, madvise(self->p, 4 * PAGE, MADV_MERGEABLE));
	EXPECT_EQ(0, madvise(self->p, 4 * PAGE, MADV_MERGEABLE));
	EXPECT_EQ(0, madvise(self->p + PAGE, PAGE, MADV_MERGEABLE));
	EXPECT_EQ(1, vma_has(self->p, "mg"));
	EXPECT_EQ(before, vma_count());
	EXPECT_EQ(0, madvise(self->p, 4 * PAGE, MADV_UNMERGEABLE));
	EXPECT_EQ(0, madvise(self->p, 4 * PAGE, MADV_UNMERGEABLE));
	EXPECT_EQ(0, vma_has(self->p, "mg"));
	EXPECT_EQ(before, vma_count());
}

/*
 * PROT_NONE memory can be marked; ksmd passing over it does no harm, and
 * the content is intact once readable again.
 */
TEST_F_TIMEOUT(sys, prot_none, KSMT_TEST_TIMEOUT)
{
	size_t i;

	for (i = 0; i < self->npages; i++)
		ksmt_fill_page(self->p + i * PAGE, KEY + (i & 1));
	ASSERT_EQ(0, mprotect(self->p, self->npages * PAGE, PROT_NONE));
	EXPECT_EQ(0, madvise(self->p, self->npages * PAGE, MADV_MERGEABLE));
	EXPECT_EQ(1, vma_has(self->p, "mg"));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(3));
	ASSERT_EQ(0, mprotect(self->p, self->npages * PAGE, PROT_READ));
	for (i = 0; i < self->npages; i++)
		EXPECT_TRUE(ksmt_page_is(self->p + i * PAGE, KEY + (i & 1)));
	EXPECT_EQ(0, madvise(self->p, self->npages * PAGE, MADV_UNMERGEABLE));
	for (i = 0; i < self->npages; i++)
		EXPECT_TRUE(ksmt_page_is(self->p + i * PAGE, KEY + (i & 1)));
	munmap(self->p, self->npages * PAGE);
	self->p = NULL;
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_assert_all_zero(_metadata);
}

/*
 * 16 GiB of address space reserved (MAP_NORESERVE) and marked, four of
 * its pages touched, far apart, two pairs of twins: ksmd completes full
 * scans over it and merges the pairs; MADV_UNMERGEABLE undoes it all.
 */
TEST_F_TIMEOUT(sys, huge_reservation, KSMT_TEST_TIMEOUT)
{
	size_t stride = HUGE_BYTES / 4;
	struct ksmt_counters c;
	char *h;
	int i;

	h = mmap(NULL, HUGE_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (h == MAP_FAILED)
		SKIP(return, "cannot reserve 16 GiB of address space");
	ASSERT_EQ(0, madvise(h, HUGE_BYTES, MADV_NOHUGEPAGE));
	for (i = 0; i < 4; i++)
		ksmt_fill_page(h + i * stride, KEY + (i & 1));
	ASSERT_EQ(0, madvise(h, HUGE_BYTES, MADV_MERGEABLE));
	EXPECT_EQ(1, vma_has(h + HUGE_BYTES - PAGE, "mg"));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(3));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(2, c.shared);
	EXPECT_EQ(2, c.sharing);
	/* The counters follow on ksmd's next scan (ksmt_assert_all_zero). */
	EXPECT_EQ(0, madvise(h, HUGE_BYTES, MADV_UNMERGEABLE));
	EXPECT_EQ(0, vma_has(h, "mg"));
	for (i = 0; i < 4; i++)
		EXPECT_TRUE(ksmt_page_is(h + i * stride, KEY + (i & 1)));
	munmap(h, HUGE_BYTES);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_assert_all_zero(_metadata);
}

/*
 * A child that merged pages and exited, not yet reaped: its ksm_stat
 * reads empty without an error, and its pages are gone from the counters.
 */
TEST_F_TIMEOUT(sys, ksm_stat_zombie, KSMT_TEST_TIMEOUT)
{
	char path[64], buf[256];
	struct ksmt_stat st;
	int sync[2], fd, status;
	ssize_t n;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(sync));
	ASSERT_EQ(0, ksmt_run(1));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		long merged = 0;
		int tries;

		close(sync[0]);
		ksmt_fill_page(self->p, KEY);
		ksmt_fill_page(self->p + PAGE, KEY);
		if (madvise(self->p, self->npages * PAGE, MADV_MERGEABLE))
			_exit(1);
		for (tries = 0; tries < KSMT_SCAN_TIMEOUT * 10 && merged < 2; tries++) {
			usleep(100000);
			if (ksmt_read_merging_pages(0, &merged))
				_exit(2);
		}
		_exit(merged == 2 && write(sync[1], "m", 1) == 1 ? 0 : 3);
	}
	close(sync[1]);
	ASSERT_EQ(1, read(sync[0], &c, 1));
	close(sync[0]);
	/* The child has exited once it is a zombie: wait for that state. */
	ASSERT_EQ(0, waitid(P_PID, pid, NULL, WEXITED | WNOWAIT));

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf));
	EXPECT_EQ(0, n);
	close(fd);
	EXPECT_NE(0, ksmt_read_stat(pid, &st));

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ksmt_assert_all_zero(_metadata);
}

/*
 * ksm_stat read while processes with merged pages exit: every read is
 * either complete (four fields, each a count the process can have: none
 * below zero, none above its npages mergeable pages) or empty, or fails
 * because the process is gone.
 *
 * The fields are not one snapshot: 6.12's fs/proc/base.c reads them one
 * after the other, with no lock, while ksmd adds items and merges. So a
 * read can count merges of items it did not count yet: merging pages
 * above rmap items is not garbage here. (With a delay put between the
 * two reads, every run read 4 merging pages and 0 items.)
 */
TEST_F_TIMEOUT(sys, ksm_stat_racing_exit, KSMT_TEST_TIMEOUT)
{
	int round, reads = 0, full = 0;

	ASSERT_EQ(0, ksmt_run(1));
	for (round = 0; round < 40; round++) {
		struct ksmt_stat st;
		char path[64], buf[512];
		int status, fd;
		ssize_t n;
		pid_t pid;

		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			size_t i;

			for (i = 0; i < self->npages; i++)
				ksmt_fill_page(self->p + i * PAGE, KEY);
			if (madvise(self->p, self->npages * PAGE, MADV_MERGEABLE))
				_exit(1);
			usleep(1000 * (round % 8) * 25);
			_exit(0);
		}
		snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
		for (;;) {
			fd = open(path, O_RDONLY);
			if (fd < 0)
				break;
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n <= 0)
				break;
			buf[n] = '\0';
			reads++;
			if (!ksmt_read_stat(pid, &st)) {
				full++;
				EXPECT_TRUE(count_ok(st.rmap_items, self->npages));
				EXPECT_TRUE(count_ok(st.merging_pages,
						     self->npages));
				EXPECT_TRUE(count_ok(st.zero_pages, self->npages));
				EXPECT_TRUE(labs(st.profit) <=
					    (long)(self->npages * PAGE));
			}
			EXPECT_NE(NULL, strstr(buf, "ksm_rmap_items "));
			EXPECT_NE(NULL, strstr(buf, "ksm_process_profit "));
			if (waitpid(pid, &status, WNOHANG) == pid) {
				pid = 0;
				break;
			}
		}
		if (pid)
			ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	TH_LOG("%d reads of a live process's ksm_stat, %d parsed", reads, full);
	EXPECT_LT(0, reads);
	ksmt_assert_all_zero(_metadata);
}

TEST_HARNESS_MAIN
