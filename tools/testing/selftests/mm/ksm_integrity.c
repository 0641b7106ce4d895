// SPDX-License-Identifier: GPL-2.0
/*
 * KSM data integrity: several processes each fill MADV_MERGEABLE memory
 * with a seeded, deterministic mix of pages duplicated across processes,
 * pages duplicated within the process, unique pages and zero pages, and
 * keep a private shadow copy of what they wrote. Once ksmd has merged
 * (pages_sharing > 0), each process does random writes, copies and
 * zeroing of pages, forks children that write to their own copy, and
 * switches parts of its memory to MADV_UNMERGEABLE and back, all while
 * ksmd keeps scanning at full speed. Every byte of every page must read
 * back as that process last wrote it: merging, unmerging and copy-on-write
 * may change where the data lives, never what it is.
 *
 * Variants: zero pages merged like other contents (use_zero_pages=0),
 * zero pages merged with the zero page (use_zero_pages=1), and memory
 * backed by transparent huge pages, which KSM has to split.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"

#define NR_WORKERS	4
#define NR_PAGES	512	/* per worker: 2 MiB, one huge page */
#define NR_OPS		400	/* random operations per worker */
#define NR_SHARED_POOL	24	/* contents found in every worker */
#define NR_LOCAL_POOL	6	/* contents found several times in one */
#define HUGE		(2UL << 20)

/* Exit codes of a worker. */
#define WORKER_OK		0
#define WORKER_BAD_DATA	1
#define WORKER_SYSCALL	2

struct worker {
	int id;
	struct ksmt_rng rng;
	char *mem;		/* the mergeable region */
	char *shadow;		/* what it must contain */
	size_t npages;
	u64 shared_pool[NR_SHARED_POOL];
	u64 local_pool[NR_LOCAL_POOL];
	int forks;
	const char *who;	/* "worker" or "child", for messages */
};

FIXTURE(integrity) {
	pid_t pids[NR_WORKERS];
	struct ksmt_chan ch[NR_WORKERS];
};

FIXTURE_VARIANT(integrity) {
	bool use_zero_pages;
	int zero_pct;		/* share of zero pages */
	bool thp;
};

FIXTURE_VARIANT_ADD(integrity, mixed) {
	.use_zero_pages = false,
	.zero_pct = 10,
};

FIXTURE_VARIANT_ADD(integrity, use_zero_pages) {
	.use_zero_pages = true,
	.zero_pct = 25,
};

FIXTURE_VARIANT_ADD(integrity, thp) {
	.use_zero_pages = false,
	.zero_pct = 10,
	.thp = true,
};

static bool thp_available(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return !strstr(buf, "[never]");
}

FIXTURE_SETUP(integrity)
{
	int i;

	for (i = 0; i < NR_WORKERS; i++) {
		self->pids[i] = 0;
		self->ch[i].up[0] = -1;
		self->ch[i].up[1] = -1;
		self->ch[i].down[0] = -1;
		self->ch[i].down[1] = -1;
	}
	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	if (variant->thp && !thp_available())
		SKIP(return, "transparent huge pages not available");
	ASSERT_EQ(0, ksmt_reset());
	ASSERT_EQ(0, ksmt_write("use_zero_pages",
				variant->use_zero_pages ? "1" : "0"));
	ASSERT_EQ(0, ksmt_ticker());
	ASSERT_EQ(0, ksmt_run(1));
}

FIXTURE_TEARDOWN(integrity)
{
	int i;

	for (i = 0; i < NR_WORKERS; i++) {
		ksmt_kill(self->pids[i]);
		ksmt_chan_close(&self->ch[i]);
	}
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/* Compares the region with the shadow; reports the first difference. */
static bool verify(struct worker *w, const char *when)
{
	size_t i, j;

	for (i = 0; i < w->npages; i++) {
		const char *got = w->mem + i * PAGE;
		const char *want = w->shadow + i * PAGE;

		if (!memcmp(got, want, PAGE))
			continue;
		for (j = 0; got[j] == want[j]; j++)
			;
		fprintf(stderr,
			"# %s %d (pid %d), %s: page %zu byte %zu is %#x, not %#x\n",
			w->who, w->id, (int)getpid(), when, i, j,
			(unsigned char)got[j], (unsigned char)want[j]);
		return false;
	}
	return true;
}

/* Sets page i to content key (0: zeros), in memory and shadow. */
static void set_page(struct worker *w, size_t i, u64 key)
{
	char *page = w->shadow + i * PAGE;

	if (key)
		ksmt_fill_page(page, key);
	else
		memset(page, 0, PAGE);
	memcpy(w->mem + i * PAGE, page, PAGE);
}

/* A content for a page: shared pool, local pool, unique or zero. */
static u64 pick_content(struct worker *w, int zero_pct)
{
	unsigned long r = ksmt_rand_below(&w->rng, 100);

	if (r < (unsigned long)zero_pct)
		return 0;
	r = ksmt_rand_below(&w->rng, 100);
	if (r < 50)
		return w->shared_pool[ksmt_rand_below(&w->rng,
						      NR_SHARED_POOL)];
	if (r < 70)
		return w->local_pool[ksmt_rand_below(&w->rng,
						     NR_LOCAL_POOL)];
	return ksmt_mix(ksmt_rand(&w->rng)) | 1;
}

/* A random range of 1..16 pages: first page and count. */
static void pick_range(struct worker *w, size_t *first, size_t *count)
{
	*first = ksmt_rand_below(&w->rng, w->npages);
	*count = 1 + ksmt_rand_below(&w->rng, 16);
	if (*first + *count > w->npages)
		*count = w->npages - *first;
}

static int one_op(struct worker *w, int zero_pct, bool may_fork);

/*
 * fork(): the child checks it sees the same data, writes to its copy and
 * checks that; the parent then checks that none of it reached its own.
 */
static int op_fork(struct worker *w, int zero_pct)
{
	pid_t pid;
	int status, i;

	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return WORKER_SYSCALL;
	if (pid == 0) {
		w->who = "child of worker";
		w->rng.state ^= 0x5bd1e995;
		if (!verify(w, "after fork"))
			_exit(WORKER_BAD_DATA);
		for (i = 0; i < 40; i++) {
			int err = one_op(w, zero_pct, false);

			if (err)
				_exit(err);
		}
		_exit(verify(w, "after its writes") ? WORKER_OK : WORKER_BAD_DATA);
	}
	status = ksmt_waitpid(pid, KSMT_SCAN_TIMEOUT);
	if (status < 0) {
		ksmt_kill(pid);
		return WORKER_SYSCALL;
	}
	if (!WIFEXITED(status))
		return WORKER_SYSCALL;
	if (WEXITSTATUS(status))
		return WEXITSTATUS(status);
	return verify(w, "after a child's writes") ? WORKER_OK : WORKER_BAD_DATA;
}

/* One random operation; 0 or a worker exit code. */
static int one_op(struct worker *w, int zero_pct, bool may_fork)
{
	unsigned long what = ksmt_rand_below(&w->rng, 100);
	size_t i, first, count;
	int err = WORKER_OK;

	if (what < 35) {
		/* A few random bytes somewhere in a page. */
		size_t off, len;

		i = ksmt_rand_below(&w->rng, w->npages);
		off = ksmt_rand_below(&w->rng, PAGE);
		len = 1 + ksmt_rand_below(&w->rng, 64);
		if (off + len > PAGE)
			len = PAGE - off;
		while (len--) {
			char b = ksmt_rand(&w->rng);

			w->shadow[i * PAGE + off] = b;
			w->mem[i * PAGE + off] = b;
			off++;
		}
	} else if (what < 65) {
		/* A whole page of new content, often a duplicate. */
		i = ksmt_rand_below(&w->rng, w->npages);
		set_page(w, i, pick_content(w, zero_pct));
	} else if (what < 75) {
		/* Read-modify-write of a byte that may be in a KSM page. */
		i = ksmt_rand_below(&w->rng, w->npages) * PAGE +
		    ksmt_rand_below(&w->rng, PAGE);
		w->shadow[i]++;
		w->mem[i]++;
	} else if (what < 85) {
		pick_range(w, &first, &count);
		if (madvise(w->mem + first * PAGE, count * PAGE,
			    MADV_UNMERGEABLE)) {
			fprintf(stderr, "# MADV_UNMERGEABLE: %s\n",
				strerror(errno));
			return WORKER_SYSCALL;
		}
		if (!verify(w, "after MADV_UNMERGEABLE"))
			return WORKER_BAD_DATA;
	} else if (what < 95) {
		pick_range(w, &first, &count);
		if (madvise(w->mem + first * PAGE, count * PAGE,
			    MADV_MERGEABLE)) {
			fprintf(stderr, "# MADV_MERGEABLE: %s\n",
				strerror(errno));
			return WORKER_SYSCALL;
		}
	} else if (may_fork && w->forks < 3) {
		w->forks++;
		err = op_fork(w, zero_pct);
	} else {
		/* Give ksmd a moment with what is there now. */
		usleep(1000);
	}
	return err;
}

static char *map_region(size_t npages, bool thp)
{
	size_t len = npages * PAGE;
	char *p, *aligned;

	if (!thp)
		return ksmt_map(npages);
	/* Aligned to a huge page, so that it can be one. */
	p = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return p;
	aligned = (char *)(((uintptr_t)p + HUGE - 1) & ~(HUGE - 1));
	if (madvise(aligned, len, MADV_HUGEPAGE))
		return MAP_FAILED;
	return aligned;
}

/*
 * A worker: fills its region, waits for the merge, then does NR_OPS
 * random operations and checks its data, and checks again once ksmd has
 * had time to merge what it left. Commands: 'v' verify, 'o' operate,
 * 'q' verify and exit.
 */
static void worker(struct ksmt_chan *ch, int id, u64 seed, int zero_pct,
		   bool thp)
{
	struct worker w = { .id = id, .who = "worker",
			    .npages = NR_PAGES };
	char cmd;
	size_t i;
	int err;

	w.rng.state = seed;
	for (i = 0; i < NR_SHARED_POOL; i++)
		w.shared_pool[i] = ksmt_group_key(0xd001, i);
	for (i = 0; i < NR_LOCAL_POOL; i++)
		w.local_pool[i] = ksmt_group_key(0xd100 + id, i);
	w.mem = map_region(w.npages, thp);
	w.shadow = malloc(w.npages * PAGE);
	if (w.mem == MAP_FAILED || !w.shadow)
		_exit(WORKER_SYSCALL);
	for (i = 0; i < w.npages; i++)
		set_page(&w, i, pick_content(&w, zero_pct));
	if (ksmt_mergeable(w.mem, w.npages))
		_exit(WORKER_SYSCALL);
	if (ksmt_send(ch->up[1], 'r'))
		_exit(WORKER_SYSCALL);

	for (;;) {
		err = ksmt_recv(ch->down[0], &cmd, 600);
		if (err)
			_exit(WORKER_SYSCALL);
		if (!verify(&w, cmd == 'o' ? "after merging" : "at the end"))
			_exit(WORKER_BAD_DATA);
		if (cmd == 'q')
			_exit(WORKER_OK);
		if (cmd == 'o') {
			for (i = 0; i < NR_OPS; i++) {
				err = one_op(&w, zero_pct, true);
				if (err)
					_exit(err);
				if (i % 50 == 49 && !verify(&w, "during ops"))
					_exit(WORKER_BAD_DATA);
			}
			if (!verify(&w, "after ops"))
				_exit(WORKER_BAD_DATA);
		}
		if (ksmt_send(ch->up[1], 'd'))
			_exit(WORKER_SYSCALL);
	}
}

/* Sends cmd to every worker and waits for each to answer 'd'. */
static int command_all(struct ksmt_chan *ch, char cmd)
{
	int i, err;
	char c;

	for (i = 0; i < NR_WORKERS; i++) {
		err = ksmt_send(ch[i].down[1], cmd);
		if (err)
			return err;
	}
	for (i = 0; i < NR_WORKERS; i++) {
		err = ksmt_recv(ch[i].up[0], &c, 120);
		if (err)
			return err;
		if (c != 'd')
			return -EBADMSG;
	}
	return 0;
}

TEST_F_TIMEOUT(integrity, random_ops, 150)
{
	struct ksmt_counters c;
	unsigned long scans;
	long merged_somewhere = 0;
	int i, status;
	char r;

	for (i = 0; i < NR_WORKERS; i++) {
		ASSERT_EQ(0, ksmt_chan_open(&self->ch[i]));
		fflush(stdout);
		fflush(stderr);
		self->pids[i] = fork();
		ASSERT_LE(0, self->pids[i]);
		if (self->pids[i] == 0) {
			ksmt_chan_worker(&self->ch[i]);
			worker(&self->ch[i], i, 0xd000 + i, variant->zero_pct,
			       variant->thp);
		}
		ksmt_chan_parent(&self->ch[i]);
	}
	for (i = 0; i < NR_WORKERS; i++) {
		ASSERT_EQ(0, ksmt_recv(self->ch[i].up[0], &r,
				       KSMT_SCAN_TIMEOUT));
		ASSERT_EQ('r', r);
	}

	/* Merge; stop ksmd to read counters that agree with each other. */
	scans = ksmt_full_scans();
	ASSERT_EQ(0, ksmt_wait_scans(scans, 3));
	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	TH_LOG("merged: shared %ld sharing %ld unshared %ld zero %ld",
	       c.shared, c.sharing, c.unshared, c.zero_pages);
	EXPECT_LT(0, c.sharing);
	if (variant->use_zero_pages)
		EXPECT_LT(0, c.zero_pages);
	for (i = 0; i < NR_WORKERS; i++) {
		struct ksmt_stat st;

		ASSERT_EQ(0, ksmt_read_stat(self->pids[i], &st));
		EXPECT_LT(0, st.merging_pages + st.zero_pages);
		merged_somewhere += st.merging_pages;
	}
	EXPECT_EQ(c.shared + c.sharing, merged_somewhere);
	ASSERT_EQ(0, ksmt_run(1));

	/*
	 * Random operations while ksmd keeps going, then a check. No new
	 * zero-page merges from here on: a fork() that races with ksmd
	 * merging a zero page into the parent gives the child a wrong
	 * ksm_zero_pages (dup_mm() copies the counter before dup_mmap()
	 * takes the parent's mmap_lock to copy the page tables), and the
	 * global count drifts when the child exits, in upstream as well.
	 * The zero pages merged so far still go through all operations.
	 */
	ASSERT_EQ(0, ksmt_write("use_zero_pages", "0"));
	ASSERT_EQ(0, command_all(self->ch, 'o'));
	scans = ksmt_full_scans();
	ASSERT_EQ(0, ksmt_wait_scans(scans, 3));
	ASSERT_EQ(0, command_all(self->ch, 'v'));
	/* Once more after ksmd stopped and unmerged everything. */
	ASSERT_EQ(0, ksmt_run(2));
	ASSERT_EQ(0, command_all(self->ch, 'v'));
	ASSERT_EQ(0, ksmt_run(1));

	for (i = 0; i < NR_WORKERS; i++) {
		ASSERT_EQ(0, ksmt_send(self->ch[i].down[1], 'q'));
		status = ksmt_waitpid(self->pids[i], KSMT_SCAN_TIMEOUT);
		if (status >= 0)
			self->pids[i] = 0;
		if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			TH_LOG("worker %d: status %#x", i, status);
		EXPECT_TRUE(status >= 0 && WIFEXITED(status) &&
			    WEXITSTATUS(status) == WORKER_OK);
	}
	ksmt_assert_all_zero(_metadata);
}

TEST_HARNESS_MAIN
