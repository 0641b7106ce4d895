// SPDX-License-Identifier: GPL-2.0
/*
 * KSM pages under memory failure (MADV_HWPOISON), with late and early
 * kill, and soft offlining (MADV_SOFT_OFFLINE). Each case checks what
 * the rest of the kernel must see: every sharer maps the one frame of
 * its KSM page (/proc/<pid>/pagemap, /proc/kpagecount), the data reads
 * back byte for byte, the counters of /sys/kernel/mm/ksm and
 * /proc/<pid>/ksm_stat stay exactly right, and merging, copy-on-write
 * and unmerging go on working afterwards. Migration, offlining and swap
 * are in ksm_moves.c.
 *
 * 6.12's /proc/kpageflags reports KPF_KSM for every anonymous page, so
 * whether a page is a KSM page is read from the KSM: line of
 * /proc/<pid>/smaps_rollup instead (folio_test_ksm() per mapping).
 *
 * Nothing else may use KSM while this runs: the counters are global. The
 * memory-failure cases leave three poisoned and two soft-offlined frames
 * behind when the kernel cannot unpoison (no CONFIG_HWPOISON_INJECT).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kernel-page-flags.h>

#include "../kselftest_harness.h"
#include "vm_util.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"
#include "lib/ksm_sharers.h"
#include "lib/ksm_sharers_check.h"

#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif

/*
 * Memory failure. A victim is a process with one region that serves
 * requests: poison a page (MADV_HWPOISON), touch a page, check its data,
 * report the SIGBUS it got. Its handler records each SIGBUS; one that
 * comes from an access jumps back out of it.
 */
struct victim_cmd {
	char op;		/* 'p'oison, 't'ouch, 'v'erify, 's'tatus, 'q'uit */
	long index;		/* page; for 'v', the page to skip (or -1) */
};

struct victim_reply {
	int err;		/* -errno of the request, 0 if it worked */
	char value;		/* 't': the byte read */
	int sigbus;		/* SIGBUS received so far */
	int code;		/* si_code of the last one */
	int lsb;		/* si_addr_lsb of the last one */
	unsigned long addr;	/* si_addr of the last one */
	long bad;		/* 'v': first page that differs, or -1 */
};

/* Offset of the byte a victim reads to touch a page. */
#define TOUCH_AT	123

/*
 * What the SIGBUS handler saw. Outside the handler it is read and written
 * with atomics and signal fences only, so that the compiler keeps every
 * access where it is, around the accesses that may fault.
 */
static struct {
	int count, code, lsb;
	int armed;		/* jump back out: the access faulted */
	unsigned long addr;
	long at;		/* page being checked */
} bus;
static sigjmp_buf bus_jmp;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	bus.count++;
	bus.code = si->si_code;
	bus.addr = (unsigned long)si->si_addr;
	bus.lsb = si->si_addr_lsb;
	if (bus.armed) {
		bus.armed = 0;
		siglongjmp(bus_jmp, 1);
	}
}

static void bus_arm(int on)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&bus.armed, on, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static int bus_get(const int *field)
{
	return __atomic_load_n(field, __ATOMIC_RELAXED);
}

/* Reads one byte of page into *value: 0, or -EFAULT on SIGBUS. */
static int victim_touch(const char *page, char *value)
{
	if (sigsetjmp(bus_jmp, 1))
		return -EFAULT;
	bus_arm(1);
	*value = page[TOUCH_AT];
	bus_arm(0);
	return 0;
}

/* The first page but skip whose data is wrong or raises SIGBUS, or -1. */
static long victim_check(const struct ksmt_layout *l, const char *base,
			 long skip)
{
	bool good;
	long i;

	if (sigsetjmp(bus_jmp, 1))
		return __atomic_load_n(&bus.at, __ATOMIC_RELAXED);
	for (i = 0; i < (long)l->npages; i++) {
		if (i == skip)
			continue;
		__atomic_store_n(&bus.at, i, __ATOMIC_RELAXED);
		bus_arm(1);
		good = ksmt_page_is(base + i * PAGE, l->key[i]);
		bus_arm(0);
		if (!good)
			return i;
	}
	return -1;
}

static void victim_main(struct ksmt_chan *ch, const struct ksmt_layout *l,
			char *base)
{
	size_t len = l->npages * PAGE;
	struct sigaction sa = { 0 };
	struct victim_reply r;
	struct victim_cmd cmd;
	char *p;

	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	if (sigaction(SIGBUS, &sa, NULL))
		_exit(2);
	p = mmap(base, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p != base || (madvise(p, len, MADV_NOHUGEPAGE) && errno != EINVAL))
		_exit(2);
	ksmt_layout_fill(l, p);
	if (ksmt_mergeable(p, l->npages) || ksmt_send(ch->up[1], 'r'))
		_exit(2);
	for (;;) {
		if (read(ch->down[0], &cmd, sizeof(cmd)) != sizeof(cmd))
			_exit(3);
		memset(&r, 0, sizeof(r));
		r.bad = -1;
		if (cmd.op == 'q')
			_exit(0);
		if (cmd.op == 'p' &&
		    madvise(p + cmd.index * PAGE, PAGE, MADV_HWPOISON))
			r.err = -errno;
		if (cmd.op == 't')
			r.err = victim_touch(p + cmd.index * PAGE, &r.value);
		if (cmd.op == 'v')
			r.bad = victim_check(l, p, cmd.index);
		r.sigbus = bus_get(&bus.count);
		r.code = bus_get(&bus.code);
		r.lsb = bus_get(&bus.lsb);
		r.addr = __atomic_load_n(&bus.addr, __ATOMIC_RELAXED);
		if (write(ch->up[1], &r, sizeof(r)) != sizeof(r))
			_exit(3);
	}
}

struct victim {
	pid_t pid;
	struct ksmt_chan ch;
	struct ksmt_layout l;
	char *base;
};

static int victim_start(struct victim *v)
{
	char c = 0;
	int err;

	v->base = ksmt_reserve(v->l.npages);
	if (v->base == MAP_FAILED)
		return -ENOMEM;
	err = ksmt_chan_open(&v->ch);
	if (err)
		return err;
	fflush(stdout);
	fflush(stderr);
	v->pid = fork();
	if (v->pid < 0)
		return -errno;
	if (v->pid == 0) {
		ksmt_chan_worker(&v->ch);
		victim_main(&v->ch, &v->l, v->base);
	}
	ksmt_chan_parent(&v->ch);
	err = ksmt_recv(v->ch.up[0], &c, KSMT_SCAN_TIMEOUT);
	return err ? err : c == 'r' ? 0 : -EBADMSG;
}

static int victim_ask(struct victim *v, char op, long index,
		      struct victim_reply *r)
{
	struct victim_cmd cmd = { .op = op, .index = index };
	struct pollfd pfd = { .fd = v->ch.up[0], .events = POLLIN };

	if (write(v->ch.down[1], &cmd, sizeof(cmd)) != sizeof(cmd))
		return -EPIPE;
	if (poll(&pfd, 1, KSMT_SCAN_TIMEOUT * 1000) != 1)
		return -ETIMEDOUT;
	return read(v->ch.up[0], r, sizeof(*r)) == sizeof(*r) ? 0 : -EPIPE;
}

static void victim_stop(struct __test_metadata *_metadata, struct victim *v)
{
	struct victim_cmd cmd = { .op = 'q' };
	int status;

	if (v->pid <= 0)
		return;
	if (write(v->ch.down[1], &cmd, sizeof(cmd)) != sizeof(cmd))
		TH_LOG("victim %d: cannot ask it to quit", (int)v->pid);
	status = ksmt_waitpid(v->pid, KSMT_SCAN_TIMEOUT);
	if (status < 0)
		ksmt_kill(v->pid);
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status));
	ksmt_chan_close(&v->ch);
	v->pid = 0;
}

FIXTURE(poison) {
	char early_kill[16];	/* memory_failure_early_kill at the start */
	unsigned long poisoned[4];	/* frames to unpoison at the end */
};

#define EARLY_KILL	"/proc/sys/vm/memory_failure_early_kill"
#define UNPOISON	"/sys/kernel/debug/hwpoison/unpoison-pfn"

/*
 * Gives a poisoned frame back if the kernel can (CONFIG_HWPOISON_INJECT);
 * otherwise it stays out of use for the rest of the boot, which costs
 * one page and disturbs no one.
 */
static void unpoison(struct __test_metadata *_metadata, unsigned long pfn)
{
	char buf[32];
	int err;

	if (!pfn)
		return;
	if (access(UNPOISON, W_OK)) {
		TH_LOG("frame %#lx stays poisoned (no %s)", pfn, UNPOISON);
		return;
	}
	snprintf(buf, sizeof(buf), "%lu", pfn);
	err = ksmt_write_file(UNPOISON, buf);
	if (err)
		TH_LOG("unpoisoning frame %#lx: %s", pfn, strerror(-err));
}

FIXTURE_SETUP(poison)
{
	memset(self->poisoned, 0, sizeof(self->poisoned));
	self->early_kill[0] = '\0';
	if (ksmt_read_file(EARLY_KILL, self->early_kill, sizeof(self->early_kill)))
		SKIP(return, "no memory failure handling (CONFIG_MEMORY_FAILURE)");
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	ASSERT_EQ(0, ksmt_run(1));
}

FIXTURE_TEARDOWN(poison)
{
	unsigned int i;

	if (self->early_kill[0])
		EXPECT_EQ(0, ksmt_write_file(EARLY_KILL, self->early_kill));
	/* After run=2: no stable node holds a poisoned frame any more. */
	EXPECT_EQ(0, ksmt_restore_knobs());
	for (i = 0; i < ARRAY_SIZE(self->poisoned); i++)
		unpoison(_metadata, self->poisoned[i]);
}

/*
 * Settles ksmd; the counters, ksm_stat and KSM: total of the n victims as
 * modelled. smaps counts a page behind a poison entry as what the folio
 * is, and a poisoned KSM folio stays one: poisoned[j] such pages of
 * victim j count in its KSM: total (NULL: none). The global counters
 * are read with ksmd stopped, and copied to *out unless out is NULL:
 * ksmd runs again on return, and a reading taken then could see a pass
 * that meets a page under migration, say.
 */
static void victims_settle(struct __test_metadata *_metadata,
			   struct victim *v, int n, const int *poisoned,
			   struct ksmt_counters *out)
{
	struct ksmt_layout *ls[4];
	struct ksmt_expect e, each[4];
	struct ksmt_counters c;
	struct ksmt_stat st;
	int j;

	for (j = 0; j < n; j++)
		ls[j] = &v[j].l;
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_expect_layouts(ls, n, false, false, &e, each));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ksmt_expect_global(_metadata, &c, &e);
	if (out)
		*out = c;
	for (j = 0; j < n; j++) {
		ASSERT_EQ(0, ksmt_read_stat(v[j].pid, &st));
		ksmt_expect_stat(_metadata, &st, &each[j]);
		EXPECT_EQ((each[j].merging + (poisoned ? poisoned[j] : 0)) *
			  (long)(PAGE / 1024), ksmt_ksm_kb_of(v[j].pid));
	}
	ASSERT_EQ(0, ksmt_run(1));
}

static long index_of_group(const struct ksmt_layout *l, int g)
{
	size_t i;

	for (i = 0; i < l->npages; i++)
		if (l->klass[i] == g)
			return i;
	return -1;
}

/*
 * MADV_HWPOISON on a KSM page that three processes (0, 1, 2) map, from
 * process 0; process 3 holds a KSM page of its own. What 6.12 does with
 * it (memory_failure(), MF_ACTION_REQUIRED): the processes to signal at
 * once are collected over the KSM page's rmap (collect_procs_ksm()) -
 * the poisoning process itself, and the others only if they asked for
 * early kill (vm.memory_failure_early_kill, else none); every mapping is
 * replaced by a poison entry; and since a KSM page is dirty, those
 * collected get SIGBUS now: BUS_MCEERR_AR at their page for the caller,
 * BUS_MCEERR_AO for the others. Any later access to the page gives
 * BUS_MCEERR_AR at the very address touched. Nothing else changes: the
 * other pages are intact, process 3 gets no signal, and ksmd forgets the
 * poisoned page's mappings and nothing more.
 */
static void hwpoison_shared(struct __test_metadata *_metadata, bool early,
			    u64 ns, unsigned long *frame)
{
	const int groups = 8, unique = 8, poisoned[4] = { 1, 1, 1, 0 };
	struct victim v[4] = { 0 };
	unsigned long fx, fy;
	struct victim_reply r;
	int j, err = 0;
	long x[3], y;

	for (j = 0; j < 3 && !err; j++)
		err = ksmt_layout_init(&v[j].l, groups, 1, unique, 0, ns,
				       ns + 1 + j, ns + j);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, ksmt_layout_init(&v[3].l, 1, 2, unique, 0, ns + 10,
				      ns + 11, ns + 12));
	for (j = 0; j < 4 && !err; j++)
		err = victim_start(&v[j]);
	ASSERT_EQ(0, err);
	victims_settle(_metadata, v, 4, NULL, NULL);

	for (j = 0; j < 3; j++) {
		x[j] = index_of_group(&v[j].l, 0);
		ASSERT_LE(0, x[j]);
	}
	fx = ksmt_frame_of(v[0].pid, v[0].base + x[0] * PAGE);
	ASSERT_NE(0UL, fx);
	*frame = fx;
	for (j = 1; j < 3; j++)
		EXPECT_EQ(fx, ksmt_frame_of(v[j].pid, v[j].base + x[j] * PAGE));
	EXPECT_EQ(3, ksmt_frame_mapcount(fx));
	y = index_of_group(&v[3].l, 0);
	fy = ksmt_frame_of(v[3].pid, v[3].base + y * PAGE);
	ASSERT_NE(0UL, fy);
	EXPECT_EQ(2, ksmt_frame_mapcount(fy));

	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, ksmt_write_file(EARLY_KILL, early ? "1" : "0"));
	ASSERT_EQ(0, victim_ask(&v[0], 'p', x[0], &r));
	EXPECT_EQ(0, r.err);
	EXPECT_EQ(1, r.sigbus);
	EXPECT_EQ(BUS_MCEERR_AR, r.code);
	EXPECT_EQ((unsigned long)v[0].base + x[0] * PAGE, r.addr);
	EXPECT_EQ(12, r.lsb);
	for (j = 1; j < 3; j++) {
		ASSERT_EQ(0, victim_ask(&v[j], 's', 0, &r));
		EXPECT_EQ(early ? 1 : 0, r.sigbus);
		if (!early || r.sigbus != 1)
			continue;
		EXPECT_EQ(BUS_MCEERR_AO, r.code);
		EXPECT_EQ((unsigned long)v[j].base + x[j] * PAGE, r.addr);
		EXPECT_EQ(12, r.lsb);
	}
	ASSERT_EQ(0, victim_ask(&v[3], 's', 0, &r));
	EXPECT_EQ(0, r.sigbus);
	EXPECT_TRUE(ksmt_frame_flag(fx, KPF_HWPOISON));
	EXPECT_FALSE(ksmt_frame_flag(fy, KPF_HWPOISON));

	/* No process maps the frame any more: a poison entry instead. */
	for (j = 0; j < 3; j++) {
		char *page = v[j].base + x[j] * PAGE;

		EXPECT_EQ(0UL, ksmt_frame_of(v[j].pid, page));
		EXPECT_TRUE(ksmt_swapped_at(v[j].pid, page));
	}
	for (j = 2; j >= 0; j--) {
		char *page = v[j].base + x[j] * PAGE;
		/* SIGBUS so far: the poisoner's, and early kill's. */
		int before = j == 0 || early;

		ASSERT_EQ(0, victim_ask(&v[j], 't', x[j], &r));
		EXPECT_EQ(-EFAULT, r.err);
		EXPECT_EQ(before + 1, r.sigbus);
		EXPECT_EQ(BUS_MCEERR_AR, r.code);
		EXPECT_EQ((unsigned long)page + TOUCH_AT, r.addr);
		EXPECT_EQ(12, r.lsb);
		ASSERT_EQ(0, victim_ask(&v[j], 'v', x[j], &r));
		EXPECT_EQ(-1, r.bad);
		EXPECT_EQ(before + 1, r.sigbus);
	}
	ASSERT_EQ(0, victim_ask(&v[3], 'v', -1, &r));
	EXPECT_EQ(-1, r.bad);
	EXPECT_EQ(0, r.sigbus);
	EXPECT_EQ(fy, ksmt_frame_of(v[3].pid, v[3].base + y * PAGE));
	EXPECT_EQ(2, ksmt_frame_mapcount(fy));

	/* ksmd drops the poisoned page's mappings, and only those. */
	for (j = 0; j < 3; j++)
		v[j].l.state[x[j]] = KSMT_UNMAPPED;
	ASSERT_EQ(0, ksmt_run(1));
	victims_settle(_metadata, v, 4, poisoned, NULL);

	for (j = 0; j < 4; j++)
		victim_stop(_metadata, &v[j]);
	for (j = 0; j < 4; j++) {
		munmap(v[j].base, v[j].l.npages * PAGE);
		ksmt_layout_free(&v[j].l);
	}
	ksmt_assert_all_zero(_metadata);
}

TEST_F_TIMEOUT(poison, hwpoison_late_kill, KSMT_TEST_TIMEOUT)
{
	hwpoison_shared(_metadata, false, 0xd600, &self->poisoned[0]);
}

TEST_F_TIMEOUT(poison, hwpoison_early_kill, KSMT_TEST_TIMEOUT)
{
	hwpoison_shared(_metadata, true, 0xd700, &self->poisoned[1]);
}

/*
 * After MADV_HWPOISON took a KSM page from its two sharers, new pages of
 * the same content are merged again, but never into the poisoned frame:
 * it is mapped by no one (poison entries), and a node left without
 * mappings is no candidate for sharing (upstream:
 * is_page_sharing_candidate()). The new copies share a sound frame of
 * their own; the poisoned one is never mapped again.
 */
TEST_F_TIMEOUT(poison, hwpoison_then_same_content, KSMT_TEST_TIMEOUT)
{
	const int poisoned[2] = { 1, 1 };
	struct ksmt_counters c0, c1;
	struct victim v[2] = { 0 };
	struct ksmt_layout copies;
	struct victim_reply r;
	unsigned long fx, f;
	long x;
	char *p;
	int j;

	for (j = 0; j < 2; j++) {
		ASSERT_EQ(0, ksmt_layout_init(&v[j].l, 2, 1, 2, 0, 0xda00,
					      0xda01 + j, 0xda10 + j));
		ASSERT_EQ(0, victim_start(&v[j]));
	}
	victims_settle(_metadata, v, 2, NULL, NULL);
	x = index_of_group(&v[0].l, 0);
	ASSERT_LE(0, x);
	fx = ksmt_frame_of(v[0].pid, v[0].base + x * PAGE);
	ASSERT_NE(0UL, fx);
	EXPECT_EQ(2, ksmt_frame_mapcount(fx));
	self->poisoned[0] = fx;

	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, victim_ask(&v[0], 'p', x, &r));
	EXPECT_EQ(0, r.err);
	EXPECT_TRUE(ksmt_frame_flag(fx, KPF_HWPOISON));
	EXPECT_EQ(0, ksmt_frame_mapcount(fx));
	for (j = 0; j < 2; j++)
		v[j].l.state[index_of_group(&v[j].l, 0)] = KSMT_UNMAPPED;
	ASSERT_EQ(0, ksmt_run(1));
	victims_settle(_metadata, v, 2, poisoned, &c0);

	/* Two new copies of the poisoned page's content, in the test. */
	ASSERT_EQ(0, ksmt_layout_init(&copies, 1, 2, 0, 0, 0xda00, 0xda20,
				      0xda21));
	ASSERT_EQ(v[0].l.key[x], copies.key[0]);
	p = ksmt_layout_map(&copies);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_read_counters(&c1));
	EXPECT_EQ(c0.shared + 1, c1.shared);
	EXPECT_EQ(c0.sharing + 1, c1.sharing);
	f = ksmt_frame_of(getpid(), p);
	EXPECT_NE(0UL, f);
	EXPECT_EQ(f, ksmt_frame_of(getpid(), p + PAGE));
	EXPECT_NE(fx, f);
	EXPECT_FALSE(ksmt_frame_flag(f, KPF_HWPOISON));
	EXPECT_EQ(2, ksmt_frame_mapcount(f));
	EXPECT_EQ(0, ksmt_frame_mapcount(fx));
	ksmt_expect_layout(_metadata, &copies, p);
	ASSERT_EQ(0, ksmt_run(1));

	ASSERT_EQ(0, munmap(p, copies.npages * PAGE));
	ksmt_layout_free(&copies);
	for (j = 0; j < 2; j++) {
		victim_stop(_metadata, &v[j]);
		munmap(v[j].base, v[j].l.npages * PAGE);
		ksmt_layout_free(&v[j].l);
	}
	ksmt_assert_all_zero(_metadata);
}

/*
 * MADV_SOFT_OFFLINE on KSM pages shared by three processes: each is
 * migrated (all sharers follow to the new frame, still a KSM page, data
 * and counters unchanged), the old frame is marked poisoned, and merging,
 * copy-on-write and unmerging work on afterwards.
 */
TEST_F_TIMEOUT(poison, soft_offline, KSMT_TEST_TIMEOUT)
{
	const int unique[] = { 4, 4, 4 }, groups = 8, offlined = 2;
	unsigned long f0[KSMT_MAX_GROUPS], f1[KSMT_MAX_GROUPS];
	struct ksmt_counters c0;
	struct ksmt_sharers s;
	size_t i;
	int g;

	ASSERT_EQ(0, ksmt_sharers_start(&s, 3, groups, unique, 0xd800));
	ksmt_sharers_settle(_metadata, &s, false, f0);
	ASSERT_EQ(0, ksmt_run(0));
	ASSERT_EQ(0, ksmt_read_counters(&c0));

	for (g = 0; g < offlined; g++)
		EXPECT_EQ(0, madvise(s.base[0] + s.idx[0][g] * PAGE, PAGE,
				     MADV_SOFT_OFFLINE));
	ASSERT_EQ(0, ksmt_sharers_frames(_metadata, &s, f1));
	EXPECT_EQ(offlined, ksmt_frames_moved(&s, f0, f1));
	for (g = 0; g < offlined; g++) {
		self->poisoned[2 + g] = f0[g];
		EXPECT_NE(f0[g], f1[g]);
		EXPECT_TRUE(ksmt_frame_flag(f0[g], KPF_HWPOISON));
		EXPECT_FALSE(ksmt_frame_flag(f1[g], KPF_HWPOISON));
	}
	ksmt_expect_counters_as(_metadata, &c0);
	ksmt_sharers_verify(_metadata, &s);
	ASSERT_EQ(0, ksmt_run(1));
	ksmt_sharers_settle(_metadata, &s, false, NULL);

	ksmt_join_then_cow(_metadata, &s, 0xd810);

	/* Unmerging: every page of the test's first region its own. */
	ASSERT_EQ(0, madvise(s.base[0], s.l[0].npages * PAGE,
			     MADV_UNMERGEABLE));
	for (i = 0; i < s.l[0].npages; i++) {
		u64 ent = ksmt_pagemap_of(s.pid[0], s.base[0] + i * PAGE);

		EXPECT_TRUE(PAGEMAP_PRESENT(ent) && (ent & PM_MMAP_EXCLUSIVE));
		s.l[0].state[i] = KSMT_UNTRACKED;
	}
	ksmt_sharers_verify(_metadata, &s);
	ksmt_sharers_settle(_metadata, &s, false, NULL);

	ksmt_sharers_stop(_metadata, &s);
	ksmt_assert_all_zero(_metadata);
}

TEST_HARNESS_MAIN
