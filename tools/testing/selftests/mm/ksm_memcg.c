// SPDX-License-Identifier: GPL-2.0
/*
 * KSM in memory cgroups, with exact checks:
 *
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
 * what the pages that are left say; with the memory gone, every counter
 * is back to zero. Page frames (/proc/self/pagemap) show what a page
 * maps: which KSM pages were whose, what is swapped out. No test may
 * taint the kernel (a WARNING, a bad page, an oops).
 *
 * Root only; nothing else may use KSM while this runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"
#include "lib/ksm_cgroup.h"
#include "lib/ksm_swap.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

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
	/* Two copies of each content: they merge into KSM pages of ours. */
	p = ksmt_map(2 * MEMCG_PAGES);
	if (p == MAP_FAILED)
		_exit(2);
	for (i = 0; i < 2 * MEMCG_PAGES; i++)
		ksmt_fill_page(p + i * PAGE,
			       ksmt_group_key(MEMCG_NS, i % MEMCG_PAGES));
	if (ksmt_mergeable(p, 2 * MEMCG_PAGES) || ksmt_send(ch->up[1], 'r'))
		_exit(2);
	if (ksmt_recv(ch->down[0], &cmd, 600) || cmd != 'u')
		_exit(2);
	cmd = 'k';
	if (madvise(p, 2 * MEMCG_PAGES * PAGE, MADV_UNMERGEABLE))
		cmd = 'x';
	for (i = 0; i < 2 * MEMCG_PAGES; i++)
		if (!ksmt_page_is(p + i * PAGE,
				  ksmt_group_key(MEMCG_NS, i % MEMCG_PAGES)))
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
 * Our pages share KSM pages with a child in another memory cgroup. The
 * child's two copies of each content merge first, into KSM pages charged
 * to its cgroup; ours then merge into those (a page whose frame was ours
 * all along would count as ours). The child unmerges first: it gets copies. Then
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
	ASSERT_EQ(0, ksmt_send(self->ch.down[1], 'g'));
	ASSERT_EQ(0, ksmt_recv(self->ch.up[0], &c, 60));
	ASSERT_EQ('r', c);
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(MEMCG_PAGES, ksmt_get("pages_shared"));
	ASSERT_EQ(MEMCG_PAGES, ksmt_get("pages_sharing"));
	p = ksmt_map(MEMCG_PAGES);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < MEMCG_PAGES; i++) {
		ksmt_fill_page(p + i * PAGE, ksmt_group_key(MEMCG_NS, i));
		ASSERT_EQ(0, ksmt_pfn(p + i * PAGE, &own[i]));
	}
	ASSERT_EQ(0, ksmt_mergeable(p, MEMCG_PAGES));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(MEMCG_PAGES, ksmt_get("pages_shared"));
	ASSERT_EQ(2 * MEMCG_PAGES, ksmt_get("pages_sharing"));
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
