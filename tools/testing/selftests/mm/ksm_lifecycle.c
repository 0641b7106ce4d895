// SPDX-License-Identifier: GPL-2.0
/*
 * KSM and the life of merged memory: fork after merging (the child sees
 * the same data, its writes stay its own, the counters include its
 * mappings), processes exiting or being killed while ksmd scans at full
 * speed, munmap(), mremap() (move), mprotect(), MADV_DONTNEED and
 * MADV_FREE on merged ranges, fork with pages merged with the zero page,
 * page migration and mlock() of merged pages, a child making pages it
 * shares with its parent since fork() mergeable, and merged pages going to
 * swap (zram, through a memory cgroup) and coming back, by faults and by
 * swapoff(). Data must read back as written throughout, the counters
 * must be exactly right after ksmd settles, and once every process (or
 * range) that used KSM is gone, pages_shared, pages_sharing,
 * pages_unshared, pages_volatile, ksm_zero_pages and general_profit must
 * all be back to zero within a few full scans: nothing may leak.
 *
 * Nothing else may use KSM while this runs: the counters are global.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "vm_util.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"
#include "lib/ksm_cgroup.h"
#include "lib/ksm_swap.h"

FIXTURE(life) {
	int unused;
};

FIXTURE_SETUP(life)
{
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	ASSERT_EQ(0, ksmt_run(1));
}

FIXTURE_TEARDOWN(life)
{
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/*
 * The pages the child of fork_after_merge writes: every unique page, and
 * every fourth page of the groups.
 */
static bool child_writes(const struct ksmt_layout *l, size_t i)
{
	return l->klass[i] == KSMT_UNIQUE || i % 4 == 1;
}

/*
 * Child of fork_after_merge: checks it sees the parent's data, writes new
 * contents into some pages, checks those, reports and waits to be told
 * to exit. Exit status 0: all good.
 */
static void fork_child(struct ksmt_chan *ch, struct ksmt_layout *l, char *p)
{
	size_t i;
	char cmd;

	if (ksmt_layout_check(l, p) >= 0)
		_exit(1);
	for (i = 0; i < l->npages; i++)
		if (child_writes(l, i))
			ksmt_layout_make_unique(l, p, i,
						ksmt_unique_key(0xc103, i));
	if (ksmt_layout_check(l, p) >= 0)
		_exit(1);
	if (ksmt_send(ch->up[1], 'r'))
		_exit(2);
	ksmt_recv(ch->down[0], &cmd, 600);
	_exit(ksmt_layout_check(l, p) >= 0 ? 1 : 0);
}

/*
 * fork() after merging: the child maps the same KSM pages and ksmd counts
 * its mappings as sharers; its writes break COW for it alone. After it
 * exits, the counters are the parent's again; after munmap(), zero.
 *
 * ksmd is stopped until the child has written its pages, and the child
 * writes all unique pages: what ksmd makes of a page both map after
 * fork() without it being merged is not something to count on (6.12 was
 * seen to leave one as a KSM page of a single mapping now and then).
 */
TEST_F_TIMEOUT(life, fork_after_merge, KSMT_TEST_TIMEOUT)
{
	const int n = 6, k = 10, u = 24;
	struct ksmt_layout l, *ls[] = { &l };
	long w = 0, nk = n * k;
	struct ksmt_counters c;
	struct ksmt_stat st;
	struct ksmt_chan ch;
	char r = 0;
	int status;
	size_t i;
	pid_t pid;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0xc101, 0xc102, 50));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	/* Group pages the child writes. */
	for (i = 0; i < l.npages; i++)
		if (l.klass[i] >= 0 && child_writes(&l, i))
			w++;
	ASSERT_LT(0, w);

	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, ksmt_chan_open(&ch));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		ksmt_chan_worker(&ch);
		fork_child(&ch, &l, p);
	}
	ksmt_chan_parent(&ch);
	EXPECT_EQ(0, ksmt_recv(ch.up[0], &r, KSMT_SCAN_TIMEOUT));
	EXPECT_EQ('r', r);
	ASSERT_EQ(0, ksmt_run(1));
	/* The child's writes are not ours. */
	ksmt_expect_layout(_metadata, &l, p);

	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	/*
	 * Every group still has the parent's k copies: one KSM page each,
	 * shared by the parent's and the child's remaining mappings. The
	 * unique pages of both, and the pages the child wrote, are not
	 * merged.
	 */
	EXPECT_EQ(n, c.shared);
	EXPECT_EQ(nk + (nk - w) - n, c.sharing);
	EXPECT_EQ(u + u + w, c.unshared + c.volatile_);
	EXPECT_EQ(0, c.zero_pages);
	ASSERT_EQ(0, ksmt_read_stat(0, &st));
	EXPECT_EQ(nk + u, st.rmap_items);
	EXPECT_EQ(nk, st.merging_pages);
	ASSERT_EQ(0, ksmt_read_stat(pid, &st));
	EXPECT_EQ(nk + u, st.rmap_items);
	EXPECT_EQ(nk - w, st.merging_pages);
	ASSERT_EQ(0, ksmt_run(1));

	ksmt_chan_close(&ch);
	status = ksmt_waitpid(pid, KSMT_SCAN_TIMEOUT);
	if (status < 0)
		ksmt_kill(pid);
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status));

	ksmt_settle_and_check(_metadata, ls, 1, false, false);
	ksmt_expect_layout(_metadata, &l, p);
	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/* Keys of the pages of cow_shared_with_parent: one per page of a third. */
static u64 cow_key(size_t i)
{
	return ksmt_unique_key(0xc151, i);
}

/*
 * Child of cow_shared_with_parent: writes the keys of the parent's middle
 * third into the first and the last third of its copy of the region, makes
 * the whole region mergeable, reports and waits for EOF. Exit status 0 if
 * its pages still hold what they must.
 */
static void cow_child(struct ksmt_chan *ch, char *p, size_t n)
{
	size_t i, t;
	char cmd;

	for (t = 0; t < 3; t += 2)
		for (i = 0; i < n; i++)
			ksmt_fill_page(p + (t * n + i) * PAGE, cow_key(i));
	if (ksmt_mergeable(p, 3 * n) || ksmt_send(ch->up[1], 'r'))
		_exit(2);
	ksmt_recv(ch->down[0], &cmd, 600);
	for (t = 0; t < 3; t++)
		for (i = 0; i < n; i++)
			if (!ksmt_page_is(p + (t * n + i) * PAGE, cow_key(i)))
				_exit(1);
	_exit(0);
}

/*
 * A child makes memory mergeable that it still shares with its parent
 * since fork(). ksmd meets the shared pages (the middle third) right after
 * their twins of the first third, so a shared page would be the one to
 * become the KSM page where it is, and with it the parent's mapping: a
 * KSM page in a process that never asked for KSM, on no sharers list once
 * the child is gone (6.12 does this). The parent's pages must stay its
 * own; once the child has exited, no KSM page may be left, which is what
 * a layout knob's change checks (-EBUSY otherwise).
 */
TEST_F_TIMEOUT(life, cow_shared_with_parent, KSMT_TEST_TIMEOUT)
{
	const size_t n = 32;
	struct ksmt_counters c;
	struct ksmt_chan ch;
	long sharing, objects;
	int status;
	char r = 0;
	size_t i;
	pid_t pid;
	char *p;

	p = ksmt_map(3 * n);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < n; i++)
		ksmt_fill_page(p + (n + i) * PAGE, cow_key(i));
	ASSERT_EQ(0, ksmt_read_long("max_page_sharing", &sharing));
	ASSERT_EQ(0, ksmt_chan_open(&ch));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		ksmt_chan_worker(&ch);
		cow_child(&ch, p, n);
	}
	ksmt_chan_parent(&ch);
	EXPECT_EQ(0, ksmt_recv(ch.up[0], &r, KSMT_SCAN_TIMEOUT));
	EXPECT_EQ('r', r);

	/* Each content: one KSM page with the child's three mappings. */
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ((long)n, c.shared);
	EXPECT_EQ((long)(2 * n), c.sharing);
	for (i = 0; i < n; i++)
		EXPECT_TRUE(ksmt_page_is(p + (n + i) * PAGE, cow_key(i)));
	/* The slab count that must drop to zero sees the n nodes now. */
	objects = ksmt_ksm_objects(false);
	if (objects >= 0)
		EXPECT_LE((long)n, objects);
	ASSERT_EQ(0, ksmt_run(1));

	ksmt_chan_close(&ch);
	status = ksmt_waitpid(pid, KSMT_SCAN_TIMEOUT);
	if (status < 0)
		ksmt_kill(pid);
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status));
	ksmt_assert_all_zero(_metadata);
	/* Still mapped in the parent, a KSM page would keep its node. */
	EXPECT_EQ(0, ksmt_write_long("max_page_sharing", sharing + 1));
	for (i = 0; i < n; i++)
		EXPECT_TRUE(ksmt_page_is(p + (n + i) * PAGE, cow_key(i)));
	ASSERT_EQ(0, munmap(p, 3 * n * PAGE));
}

/*
 * How a worker of exit_while_scanning ends: killed, exiting by itself,
 * unmapping first, unmerging first; with or without a forked child
 * sharing its pages.
 */
enum ending { KILLED, EXITS, UNMAPS, UNMERGES, NR_ENDINGS };

static void scan_worker(struct ksmt_chan *ch, struct ksmt_layout *l,
			bool fork_too)
{
	char *p = ksmt_layout_map(l);
	pid_t child = 0, me = getpid();
	char cmd = 'q';

	if (p == MAP_FAILED)
		_exit(2);
	if (fork_too) {
		child = fork();
		if (child < 0)
			_exit(2);
		if (child == 0) {
			/* Write a few pages, then live as long as the parent. */
			ksmt_fill_page(p, 0xdead);
			ksmt_fill_page(p + 5 * PAGE, 0xbeef);
			while (getppid() == me)
				usleep(1000);
			_exit(0);
		}
	}
	if (ksmt_send(ch->up[1], 'r'))
		_exit(2);
	ksmt_recv(ch->down[0], &cmd, 600);
	if (cmd == 'u')
		munmap(p, l->npages * PAGE);
	else if (cmd == 'm')
		madvise(p, l->npages * PAGE, MADV_UNMERGEABLE);
	_exit(0);
}

struct scan_worker {
	pid_t pid;		/* also its process group */
	struct ksmt_chan ch;
	enum ending how;
};

/* Starts a worker in a process group of its own: its pid, or -errno. */
static pid_t start_worker(struct scan_worker *w, struct ksmt_layout *l,
			  bool fork_too)
{
	char ready = 0;
	int err;

	err = ksmt_chan_open(&w->ch);
	if (err)
		return err;
	fflush(stdout);
	fflush(stderr);
	w->pid = fork();
	if (w->pid < 0)
		return -errno;
	if (w->pid == 0) {
		setpgid(0, 0);
		ksmt_chan_worker(&w->ch);
		scan_worker(&w->ch, l, fork_too);
	}
	setpgid(w->pid, w->pid);
	ksmt_chan_parent(&w->ch);
	err = ksmt_recv(w->ch.up[0], &ready, KSMT_SCAN_TIMEOUT);
	if (!err && ready != 'r')
		err = -EBADMSG;
	if (err) {
		kill(-w->pid, SIGKILL);
		waitpid(w->pid, NULL, 0);
		ksmt_chan_close(&w->ch);
		return err;
	}
	return w->pid;
}

/* Ends a worker as w->how says; its wait status, or -errno. */
static int end_worker(struct scan_worker *w)
{
	int status;

	if (w->how == KILLED)
		kill(-w->pid, SIGKILL);
	else
		ksmt_send(w->ch.down[1], w->how == UNMAPS ? 'u' :
			  w->how == UNMERGES ? 'm' : 'q');
	status = ksmt_waitpid(w->pid, 30);
	/* On a timeout, and for the orphan of a killed one. */
	kill(-w->pid, SIGKILL);
	if (status < 0)
		waitpid(w->pid, NULL, 0);
	ksmt_chan_close(&w->ch);
	return status;
}

/*
 * Processes with many mergeable pages, of the same contents, end while
 * ksmd scans at full speed (sleep_millisecs=0), at different moments of
 * the scan, while the next one is already being scanned: nothing hangs,
 * and once all are gone nothing is left.
 */
TEST_F_TIMEOUT(life, exit_while_scanning, KSMT_TEST_TIMEOUT)
{
	const int rounds = 12;
	struct ksmt_rng rng = { .state = 51 };
	struct scan_worker w[2];
	struct ksmt_counters c;
	struct ksmt_layout l;
	long max_shared = 0;
	int r, status;

	ASSERT_EQ(0, ksmt_layout_init(&l, 16, 32, 256, 0, 0xc201, 0xc202,
				      52));
	/* The workers' children, orphaned, are ours to reap (below). */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	for (r = 0; r <= rounds; r++) {
		struct scan_worker *cur = &w[r % 2], *prev = &w[(r + 1) % 2];
		unsigned long scans;

		if (r < rounds) {
			cur->how = r % NR_ENDINGS;
			ASSERT_LT(0, start_worker(cur, &l,
						  (r / NR_ENDINGS) % 2));
		}
		if (r == 0)
			continue;

		/* Somewhere in the first passes over the new one. */
		scans = ksmt_full_scans();
		ASSERT_EQ(0, ksmt_wait_scans(scans,
					     ksmt_rand_below(&rng, 4)));
		usleep(ksmt_rand_below(&rng, 3000));
		ASSERT_EQ(0, ksmt_read_counters(&c));
		if (c.shared > max_shared)
			max_shared = c.shared;

		status = end_worker(prev);
		if (status == -ETIMEDOUT)
			TH_LOG("round %d: worker did not end in 30 s", r);
		if (status < 0 && r < rounds)
			ksmt_kill(cur->pid);
		ASSERT_LE(0, status);
		if (prev->how == KILLED) {
			EXPECT_TRUE(WIFSIGNALED(status));
		} else {
			EXPECT_TRUE(WIFEXITED(status) &&
				    WEXITSTATUS(status) == 0);
		}
	}
	TH_LOG("most KSM pages seen while the workers lived: %ld",
	       max_shared);
	EXPECT_LT(0, max_shared);
	/*
	 * Every worker's group was SIGKILLed: its orphaned child is dead or
	 * dying, and once reaped its mm is gone too. Without waiting for
	 * that, a child still exiting could hold its KSM pages past the
	 * scans ksmt_assert_all_zero() waits.
	 */
	while (waitpid(-1, NULL, 0) > 0)
		;
	ASSERT_EQ(ECHILD, errno);
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/* munmap() of the middle of a merged range, then of the rest. */
TEST_F_TIMEOUT(life, munmap_middle, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 10, u = 32;
	struct ksmt_layout l, *ls[] = { &l };
	size_t i, from, to;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0xc301, 0xc302, 53));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	from = l.npages / 3;
	to = 2 * l.npages / 3;
	ASSERT_EQ(0, munmap(p + from * PAGE, (to - from) * PAGE));
	for (i = from; i < to; i++)
		l.state[i] = KSMT_UNMAPPED;
	ksmt_expect_layout(_metadata, &l, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, true);
	ksmt_expect_layout(_metadata, &l, p);

	ASSERT_EQ(0, munmap(p, from * PAGE));
	ASSERT_EQ(0, munmap(p + to * PAGE, (l.npages - to) * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/*
 * mremap() moving a merged range: the data moves intact, the pages merge
 * again at the new place and the counters come back to what they were.
 * Then part of it moves again, splitting the VMA.
 */
TEST_F_TIMEOUT(life, mremap_move, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 10, u = 32;
	struct ksmt_layout l, *ls[] = { &l };
	size_t i, from, to;
	char *p, *q, *part, *dst;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0xc401, 0xc402, 54));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	dst = ksmt_reserve(l.npages);
	ASSERT_NE(MAP_FAILED, dst);
	q = mremap(p, l.npages * PAGE, l.npages * PAGE,
		   MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, q);
	ksmt_expect_layout(_metadata, &l, q);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);
	ksmt_expect_layout(_metadata, &l, q);

	/* The middle third moves on its own. */
	from = l.npages / 3;
	to = 2 * l.npages / 3;
	dst = ksmt_reserve(to - from);
	ASSERT_NE(MAP_FAILED, dst);
	part = mremap(q + from * PAGE, (to - from) * PAGE, (to - from) * PAGE,
		      MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, part);
	for (i = from; i < to; i++)
		if (!ksmt_page_is(part + (i - from) * PAGE, l.key[i]))
			break;
	EXPECT_EQ(to, i);
	for (i = from; i < to; i++)
		l.state[i] = KSMT_UNMAPPED;
	ksmt_expect_layout(_metadata, &l, q);
	for (i = from; i < to; i++)
		l.state[i] = KSMT_TRACKED;
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	ASSERT_EQ(0, munmap(q, l.npages * PAGE));
	ASSERT_EQ(0, munmap(part, (to - from) * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/*
 * mprotect() of merged ranges: read-only and PROT_NONE keep the pages
 * merged and scanned; made writable again, writes break COW as usual.
 */
TEST_F_TIMEOUT(life, mprotect, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 10, u = 32;
	struct ksmt_layout l, *ls[] = { &l };
	size_t i, half;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0xc501, 0xc502, 55));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	half = l.npages / 2;
	ASSERT_EQ(0, mprotect(p, l.npages * PAGE, PROT_READ));
	ksmt_expect_layout(_metadata, &l, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);
	ASSERT_EQ(0, mprotect(p + half * PAGE, (l.npages - half) * PAGE,
			      PROT_NONE));
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	ASSERT_EQ(0, mprotect(p, l.npages * PAGE, PROT_READ | PROT_WRITE));
	ksmt_expect_layout(_metadata, &l, p);
	/* New contents in every third page, on both sides of the split. */
	for (i = 0; i < l.npages; i += 3)
		ksmt_layout_make_unique(&l, p, i, ksmt_unique_key(0xc503, i));
	ksmt_expect_layout(_metadata, &l, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, true);

	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/*
 * MADV_DONTNEED on a merged range: those pages read back as zeros and
 * leave the counters; written again, they merge again.
 */
TEST_F_TIMEOUT(life, madv_dontneed, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 10, u = 32;
	struct ksmt_layout l, *ls[] = { &l };
	size_t i, from, to;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0xc601, 0xc602, 56));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	from = l.npages / 4;
	to = 3 * l.npages / 4;
	ASSERT_EQ(0, madvise(p + from * PAGE, (to - from) * PAGE,
			     MADV_DONTNEED));
	for (i = from; i < to; i++) {
		l.key[i] = 0;
		l.klass[i] = KSMT_ZERO;
		/* Reading maps the shared zero page: nothing to track. */
		l.state[i] = KSMT_UNTRACKED;
	}
	ksmt_expect_layout(_metadata, &l, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, true);

	/* The original contents again: everything as at the start. */
	ksmt_layout_free(&l);
	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0xc601, 0xc602, 56));
	ksmt_layout_fill(&l, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);
	ksmt_expect_layout(_metadata, &l, p);

	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/*
 * MADV_FREE on a merged range: every page reads back either as it was or
 * as zeros (if reclaimed meanwhile); written again, all is as before.
 */
TEST_F_TIMEOUT(life, madv_free, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 10, u = 32;
	struct ksmt_layout l, *ls[] = { &l };
	size_t i;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0xc701, 0xc702, 57));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	ASSERT_EQ(0, madvise(p, l.npages * PAGE, MADV_FREE));
	ASSERT_EQ(0, ksmt_settle(2));
	for (i = 0; i < l.npages; i++) {
		char *page = p + i * PAGE;

		if (!ksmt_page_is(page, l.key[i]) && !ksmt_page_is(page, 0)) {
			TH_LOG("page %zu is neither old data nor zeros", i);
			break;
		}
	}
	EXPECT_EQ(l.npages, i);
	ASSERT_EQ(0, ksmt_run(1));

	ksmt_layout_fill(&l, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);
	ksmt_expect_layout(_metadata, &l, p);

	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/*
 * Processes sharing contents, and pages merged with the zero page
 * (use_zero_pages=1): once they have all exited, every counter is back
 * to zero.
 */
TEST_F_TIMEOUT(life, all_exit, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout a, b, c1, *la[] = { &a }, *lb[] = { &b, &c1 };
	struct ksmt_chan cha, chb;
	struct ksmt_counters c;
	pid_t pa, pb;
	int status;

	ASSERT_EQ(0, ksmt_write("use_zero_pages", "1"));
	ASSERT_EQ(0, ksmt_layout_init(&a, 8, 6, 32, 24, 0xc801, 0xc802, 58));
	ASSERT_EQ(0, ksmt_layout_init(&b, 8, 3, 32, 24, 0xc801, 0xc803, 59));
	ASSERT_EQ(0, ksmt_layout_init(&c1, 4, 4, 8, 0, 0xc804, 0xc805, 60));
	pa = ksmt_spawn_holder(&cha, la, 1);
	ASSERT_LT(0, pa);
	pb = ksmt_spawn_holder(&chb, lb, 2);
	if (pb <= 0)
		ksmt_kill(pa);
	ASSERT_LT(0, pb);

	ASSERT_EQ(0, ksmt_settle(5));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(8 + 4, c.shared);
	EXPECT_EQ(48, c.zero_pages);
	ASSERT_EQ(0, ksmt_run(1));
	EXPECT_EQ(0, ksmt_holder_verify(&cha));
	EXPECT_EQ(0, ksmt_holder_verify(&chb));

	ksmt_chan_close(&cha);
	ksmt_chan_close(&chb);
	status = ksmt_waitpid(pa, KSMT_SCAN_TIMEOUT);
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status));
	status = ksmt_waitpid(pb, KSMT_SCAN_TIMEOUT);
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&a);
	ksmt_layout_free(&b);
	ksmt_layout_free(&c1);
}

/*
 * fork() with pages merged with the zero page (use_zero_pages=1): the
 * child's copies count in ksm_zero_pages at once, globally and in its
 * ksm_stat; writes and exit take them out again, exactly.
 */
TEST_F_TIMEOUT(life, fork_zero_pages, KSMT_TEST_TIMEOUT)
{
	const int z = 32, written = 8;
	struct ksmt_layout l, *ls[] = { &l };
	struct ksmt_stat st;
	struct ksmt_chan ch;
	int status, done = 0;
	size_t i;
	pid_t pid;
	char r = 0;
	char *p;

	ASSERT_EQ(0, ksmt_write("use_zero_pages", "1"));
	ASSERT_EQ(0, ksmt_layout_init(&l, 4, 6, 16, z, 0xc901, 0xc902, 61));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, true, false);
	ASSERT_EQ(z, ksmt_get("ksm_zero_pages"));

	/* These counts change without ksmd; keep it off the shared pages. */
	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, ksmt_chan_open(&ch));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char cmd;

		ksmt_chan_worker(&ch);
		ksmt_send(ch.up[1], 'r');
		if (ksmt_recv(ch.down[0], &cmd, 600))
			_exit(2);
		for (i = 0; i < l.npages && done < written; i++) {
			if (l.klass[i] != KSMT_ZERO)
				continue;
			ksmt_layout_make_unique(&l, p, i,
						ksmt_unique_key(0xc903, i));
			done++;
		}
		ksmt_send(ch.up[1], 'w');
		if (ksmt_recv(ch.down[0], &cmd, 600))
			_exit(2);
		_exit(ksmt_layout_check(&l, p) >= 0);
	}
	ksmt_chan_parent(&ch);
	ASSERT_EQ(0, ksmt_recv(ch.up[0], &r, KSMT_SCAN_TIMEOUT));
	/* The child maps the same KSM zero pages. */
	EXPECT_EQ(2 * z, ksmt_get("ksm_zero_pages"));
	ASSERT_EQ(0, ksmt_read_stat(pid, &st));
	EXPECT_EQ(z, st.zero_pages);

	ASSERT_EQ(0, ksmt_send(ch.down[1], 'w'));
	ASSERT_EQ(0, ksmt_recv(ch.up[0], &r, KSMT_SCAN_TIMEOUT));
	EXPECT_EQ(2 * z - written, ksmt_get("ksm_zero_pages"));
	ASSERT_EQ(0, ksmt_read_stat(pid, &st));
	EXPECT_EQ(z - written, st.zero_pages);
	ASSERT_EQ(0, ksmt_read_stat(0, &st));
	EXPECT_EQ(z, st.zero_pages);

	ASSERT_EQ(0, ksmt_send(ch.down[1], 'q'));
	status = ksmt_waitpid(pid, KSMT_SCAN_TIMEOUT);
	if (status < 0)
		ksmt_kill(pid);
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status));
	ksmt_chan_close(&ch);
	EXPECT_EQ(z, ksmt_get("ksm_zero_pages"));
	ksmt_expect_layout(_metadata, &l, p);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_settle_and_check(_metadata, ls, 1, true, false);

	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	EXPECT_EQ(0, ksmt_get("ksm_zero_pages"));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/*
 * Page migration of merged pages (move_pages(2) with MPOL_MF_MOVE_ALL, as
 * KSM pages are mapped more than once): the data moves intact, the KSM
 * pages stay KSM pages (the counters do not change), and copy-on-write
 * and unmerging still work afterwards. Once with ksmd stopped, once with
 * ksmd scanning meanwhile.
 */
TEST_F_TIMEOUT(life, migrate_merged, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 10, u = 32;
	struct ksmt_layout l, *ls[] = { &l };
	size_t i;
	char *p;

	if (!ksmt_have_node1())
		SKIP(return, "a single NUMA node");
	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0xca01, 0xca02, 62));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, ksmt_move_to_node(p, l.npages, 1));
	ksmt_expect_layout(_metadata, &l, p);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_settle_and_check(_metadata, ls, 1, false, false);
	EXPECT_EQ(1, ksmt_page_node(p));

	/* Back, while ksmd scans. */
	ASSERT_EQ(0, ksmt_move_to_node(p, l.npages, 0));
	ksmt_expect_layout(_metadata, &l, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	for (i = 0; i < l.npages; i += 3)
		ksmt_layout_make_unique(&l, p, i, ksmt_unique_key(0xca03, i));
	ksmt_expect_layout(_metadata, &l, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, true);
	ASSERT_EQ(0, madvise(p, l.npages * PAGE, MADV_UNMERGEABLE));
	ksmt_expect_layout(_metadata, &l, p);
	for (i = 0; i < l.npages; i++)
		l.state[i] = KSMT_UNTRACKED;
	ksmt_settle_and_check(_metadata, ls, 1, false, true);

	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/*
 * Merging mlock()ed pages: they merge like any others, stay readable,
 * and once unlocked and unmapped, Mlocked in /proc/meminfo is back where
 * it was and nothing is left.
 */
TEST_F_TIMEOUT(life, mlock_merged, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 10, u = 32;
	struct ksmt_layout l, *ls[] = { &l };
	long before, after = -1;
	unsigned long scans;
	int tries;
	size_t i;
	char *p;

	before = ksmt_meminfo("Mlocked");
	ASSERT_LE(0, before);
	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0xcb01, 0xcb02, 63));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	if (mlock(p, l.npages * PAGE))
		SKIP(return, "mlock: %s", strerror(errno));
	ksmt_settle_and_check(_metadata, ls, 1, false, false);
	ksmt_expect_layout(_metadata, &l, p);

	/* Copy-on-write of merged locked pages. */
	for (i = 0; i < l.npages; i += 4)
		ksmt_layout_make_unique(&l, p, i, ksmt_unique_key(0xcb03, i));
	ksmt_settle_and_check(_metadata, ls, 1, false, true);
	ksmt_expect_layout(_metadata, &l, p);

	ASSERT_EQ(0, munlock(p, l.npages * PAGE));
	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	/* Each pass of ksmd drains the per-CPU batches that lag behind. */
	for (tries = 0; tries < 5; tries++) {
		after = ksmt_meminfo("Mlocked");
		if (after == before)
			break;
		scans = ksmt_full_scans();
		ASSERT_EQ(0, ksmt_wait_scans(scans, 1));
	}
	EXPECT_EQ(before, after);
	ksmt_layout_free(&l);
}

/*
 * Swap: merged pages reclaimed to swap (zram) through a memory cgroup's
 * memory.reclaim, then swapped back in by faults, and by swapoff(). The
 * data must come back intact, the pages merge again, and nothing leaks.
 * The fixture sets up zram0 as swap and a cgroup for the test process,
 * and takes both down again.
 */
#define CGROUP_NAME	"ksm_lifecycle"
/* Seconds the reclaim of a test's pages may take. */
#define RECLAIM_TIMEOUT	20

FIXTURE(swap) {
	struct ksmt_swap_env s;
};

FIXTURE_SETUP(swap)
{
	const char *why;

	memset(self, 0, sizeof(*self));
	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	why = ksmt_swap_env_up(&self->s, "32M", CGROUP_NAME);
	if (why) {
		ksmt_swap_env_down(&self->s);
		SKIP(return, "%s", why);
	}
	ASSERT_EQ(0, ksmt_reset());
	ASSERT_EQ(0, ksmt_ticker());
	ASSERT_EQ(0, ksmt_run(1));
}

FIXTURE_TEARDOWN(swap)
{
	ksmt_swap_env_down(&self->s);
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/* Pages of a region of process pid (0: the caller) that are swapped. */
static size_t swapped_in(pid_t pid, char *p, size_t npages)
{
	long n = ksmt_swapped(pid, p, npages);

	return n < 0 ? 0 : n;
}

static size_t swapped(char *p, size_t npages)
{
	return swapped_in(0, p, npages);
}

/* The pages a reclaim is for: the region p, and q of process pid if any. */
struct reclaim_target {
	char *p;
	size_t npages;
	pid_t pid;
	char *q;
	size_t qpages;
};

static size_t target_swapped(const struct reclaim_target *t)
{
	size_t out = swapped(t->p, t->npages);

	if (t->pid)
		out += swapped_in(t->pid, t->q, t->qpages);
	return out;
}

static bool target_out(void *arg)
{
	const struct reclaim_target *t = arg;

	return target_swapped(t) == t->npages + t->qpages;
}

/*
 * Reclaims the cgroup cg, ksmd stopped, until the region p (and the
 * region q of process pid, if any) is out, for RECLAIM_TIMEOUT seconds
 * at most. Returns the pages out.
 */
static size_t reclaim2(const struct ksmt_cgroup *cg, char *p, size_t npages,
		       pid_t pid, char *q, size_t qpages)
{
	struct reclaim_target t = {
		.p = p, .npages = npages, .pid = pid, .q = q, .qpages = qpages,
	};
	size_t out;

	ksmt_run(0);
	ksmt_cgroup_reclaim_until(cg, target_out, &t, RECLAIM_TIMEOUT);
	out = target_swapped(&t);
	ksmt_run(1);
	return out;
}

static size_t reclaim(const struct ksmt_cgroup *cg, char *p, size_t npages)
{
	return reclaim2(cg, p, npages, 0, NULL, 0);
}

TEST_F_TIMEOUT(swap, out_and_in, KSMT_TEST_TIMEOUT)
{
	const int n = 8, k = 10, u = 32;
	struct ksmt_layout l, *ls[] = { &l };
	size_t i, out;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, n, k, u, 0, 0xcc01, 0xcc02, 64));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	/* Out, and back in by faults. */
	out = reclaim(&self->s.cg, p, l.npages);
	TH_LOG("swapped out: %zu of %zu pages", out, l.npages);
	EXPECT_EQ(l.npages, out);
	ksmt_expect_layout(_metadata, &l, p);
	EXPECT_EQ(0U, swapped(p, l.npages));
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	/* Out, and back in by swapoff. */
	out = reclaim(&self->s.cg, p, l.npages);
	TH_LOG("swapped out: %zu of %zu pages", out, l.npages);
	EXPECT_EQ(l.npages, out);
	ASSERT_EQ(0, ksmt_zram_swap_off(&self->s.zram));
	EXPECT_EQ(0U, swapped(p, l.npages));
	ksmt_expect_layout(_metadata, &l, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);

	/* Copy-on-write still works on pages that went through swap. */
	for (i = 0; i < l.npages; i += 3)
		ksmt_layout_make_unique(&l, p, i, ksmt_unique_key(0xcc03, i));
	ksmt_expect_layout(_metadata, &l, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, true);

	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

/*
 * KSM pages shared by two processes go to swap and come back: each
 * process faults in its pages (getting a copy where the swapped page
 * cannot be its own), or swapoff() brings them all back; the contents are
 * intact and merge again, exactly as before.
 */
TEST_F_TIMEOUT(swap, shared_across_processes, KSMT_TEST_TIMEOUT)
{
	const int n = 8, u = 16;
	struct ksmt_layout a, b, *ls[] = { &a, &b }, *lb[] = { &b };
	struct ksmt_expect e, each[2];
	struct ksmt_counters c;
	struct ksmt_stat st;
	struct ksmt_chan ch;
	size_t total;
	int round, status;
	char *pa, *pb;
	pid_t pid;

	ASSERT_EQ(0, ksmt_layout_init(&a, n, 5, u, 0, 0xcd01, 0xcd02, 65));
	ASSERT_EQ(0, ksmt_layout_init(&b, n, 4, u, 0, 0xcd01, 0xcd03, 66));
	total = a.npages + b.npages;
	pb = ksmt_reserve(b.npages);
	ASSERT_NE(MAP_FAILED, pb);
	pid = ksmt_spawn_holder_at(&ch, lb, 1, &pb);
	ASSERT_LT(0, pid);
	pa = ksmt_layout_map(&a);
	ASSERT_NE(MAP_FAILED, pa);
	ASSERT_EQ(0, ksmt_expect_layouts(ls, 2, false, false, &e, each));

	for (round = 0; round < 3; round++) {
		size_t out;

		ASSERT_EQ(0, ksmt_settle(4));
		ASSERT_EQ(0, ksmt_read_counters(&c));
		ksmt_expect_global(_metadata, &c, &e);
		ASSERT_EQ(0, ksmt_read_stat(0, &st));
		ksmt_expect_stat(_metadata, &st, &each[0]);
		ASSERT_EQ(0, ksmt_read_stat(pid, &st));
		ksmt_expect_stat(_metadata, &st, &each[1]);
		ASSERT_EQ(0, ksmt_run(1));
		if (round == 2)
			break;

		out = reclaim2(&self->s.cg, pa, a.npages, pid, pb,
			       b.npages);
		TH_LOG("round %d: swapped out %zu of %zu pages", round, out,
		       total);
		EXPECT_EQ(total, out);
		if (round == 1) {
			ASSERT_EQ(0, ksmt_zram_swap_off(&self->s.zram));
			EXPECT_EQ(0U, swapped(pa, a.npages) +
				  swapped_in(pid, pb, b.npages));
		}
		/* The holder faults its pages in first, then we do. */
		EXPECT_EQ(0, ksmt_holder_verify(&ch));
		ksmt_expect_layout(_metadata, &a, pa);
		EXPECT_EQ(0U, swapped(pa, a.npages) +
			  swapped_in(pid, pb, b.npages));
	}

	ksmt_chan_close(&ch);
	status = ksmt_waitpid(pid, KSMT_SCAN_TIMEOUT);
	if (status < 0)
		ksmt_kill(pid);
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(0, munmap(pa, a.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&a);
	ksmt_layout_free(&b);
}

TEST_HARNESS_MAIN
