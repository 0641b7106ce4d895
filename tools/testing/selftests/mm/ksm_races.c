// SPDX-License-Identifier: GPL-2.0
/*
 * KSM racing the rest of mm, with exact checks:
 *
 *  - races (PROT_NONE): PROT_NONE pages merge as upstream merges them,
 *    and MADV_UNMERGEABLE and run=2 on PROT_NONE memory work; mremap()
 *    of merged pages under migration leaves no KSM page behind.
 *  - churn: hundreds of short-lived processes fill duplicates, fork,
 *    write, check and exit (or are killed) while ksmd runs at full speed.
 *
 * Throughout, pages read back byte for byte as written; once ksmd settles
 * the counters of /sys/kernel/mm/ksm and /proc/<pid>/ksm_stat are exactly
 * what the pages that are left say (or, while exits keep changing things,
 * the global counters are exactly the sum of the ksm_stat of the
 * processes using KSM); with the memory gone, every counter is back to
 * zero. Page frames (/proc/self/pagemap) show what shares a frame. No
 * test may taint the kernel (a WARNING, a bad page, an oops).
 *
 * Root only; nothing else may use KSM while this runs.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
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
#endif

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

TEST_HARNESS_MAIN
