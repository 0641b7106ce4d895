// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress: a bounded, randomized stress test of KSM's data integrity.
 *
 * Worker processes map anonymous regions and do random mixes of mmap,
 * munmap, mremap, mprotect, writes of duplicate, unique and zero
 * contents (directly and through /proc/self/mem), MADV_MERGEABLE and
 * MADV_UNMERGEABLE, PR_SET_MEMORY_MERGE, MADV_DONTNEED, MADV_PAGEOUT (to
 * zram swap when it can be set up), move_pages() between the two NUMA
 * nodes, fork() and exit(), while ksmd scans at full speed and a
 * controller process toggles run (0, 1 and now and then 2), use_zero_pages,
 * merge_across_nodes, max_page_sharing, smart_scan and merge_scope.
 *
 * Every process keeps a shadow of its pages: a 64-bit key per page from
 * which the page's content is generated (0: zeros). It verifies every
 * page it owns now and then and before it exits; after fork() both sides
 * own their copies. Each process (workers, their children, the
 * controller) is one check; the last is that once all have exited, every
 * KSM counter drops to zero, first with ksmd running (run=1), then after
 * run=2, and the knobs and swap go back as they were. The last line is
 * 'N passed, N failed'.
 *
 * This file: main, the arguments, setting KSM up, supervising the run,
 * winding it down and the final checks. The run's globals and the output
 * every process shares are in ksm_stress_base.c, the workers' operations
 * (fork() included) in ksm_stress_ops.c, the shadow of their pages and
 * its verification in ksm_stress_shadow.c, their life (start, exit,
 * reaping) in ksm_stress_worker.c, the controller in ksm_stress_control.c;
 * ksm_stress.h holds what the parts share. Each part uses only those
 * listed after it, and the base.
 *
 * Usage: ksm_stress [-d seconds] [-p workers] [-m MiB per worker] [-s seed]
 * Exit status: 0 all good, 1 a failure, 4 (skip) without KSM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"
#include "lib/ksm_util.h"
#include "lib/ksm_swap.h"
#include "ksm_stress.h"

static int stop_requested;

static const char *const ctl_name[NR_CTL] = {
	[CTL_RUN0] = "run=0",
	[CTL_RUN1] = "run=1",
	[CTL_RUN2] = "run=2",
	[CTL_ZERO_PAGES] = "use_zero_pages",
	[CTL_ACROSS_NODES] = "merge_across_nodes",
	[CTL_MAX_SHARING] = "max_page_sharing",
	[CTL_SMART_SCAN] = "smart_scan",
	[CTL_MERGE_SCOPE] = "merge_scope",
};

/* Processes of the run not reaped yet, as the tables know them. */
static int live_processes(void)
{
	int i, n = !!__atomic_load_n(&sh->ctl_pid, __ATOMIC_RELAXED);

	for (i = 0; i < cfg.nprocs; i++) {
		n += !!__atomic_load_n(&sh->worker_pid[i], __ATOMIC_RELAXED);
		n += !!__atomic_load_n(&sh->child_pid[i], __ATOMIC_RELAXED);
	}
	return n;
}

/*
 * Main process: reaps its children and the orphans it inherits (it is
 * their subreaper), and replaces the workers that end while there is
 * time left.
 */
static void reap_main(bool respawn)
{
	int status, slot;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (slot = 0; slot < cfg.nprocs; slot++)
			if (__atomic_load_n(&sh->worker_pid[slot],
					    __ATOMIC_RELAXED) == pid)
				break;
		record_exit(pid, status);
		if (respawn && slot < cfg.nprocs &&
		    ksmt_now() < cfg.deadline - 3)
			spawn_worker(slot, sh->worker_gen[slot] + 1);
	}
}

static long total_ops(void)
{
	long n = 0;
	int op;

	for (op = 0; op < NR_OPS; op++)
		n += peek(&sh->ops[op]);
	return n;
}

static void progress(double t)
{
	struct ksmt_counters c;

	if (ksmt_read_counters(&c))
		return;
	say("# %3.0f s: %d processes, %ld ops; shared %ld sharing %ld zero %ld",
	    t - cfg.start, live_processes(), total_ops(), c.shared, c.sharing,
	    c.zero_pages);
}

static void on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&stop_requested, 1, __ATOMIC_RELAXED);
}

/* The run itself, up to the deadline; the counters then in *end. */
static void supervise(struct ksmt_counters *end)
{
	double next = cfg.start + 10, t;

	while ((t = ksmt_now()) < cfg.deadline &&
	       !__atomic_load_n(&stop_requested, __ATOMIC_RELAXED)) {
		reap_main(true);
		if (t >= next) {
			progress(t);
			next += 10;
		}
		ksmt_nap_ms(50);
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	ksmt_read_counters(end);
}

static void kill_tables(void)
{
	int i, pid;

	pid = __atomic_load_n(&sh->ctl_pid, __ATOMIC_RELAXED);
	if (pid > 0)
		kill(pid, SIGKILL);
	for (i = 0; i < cfg.nprocs; i++) {
		pid = __atomic_load_n(&sh->worker_pid[i], __ATOMIC_RELAXED);
		if (pid > 0)
			kill(pid, SIGKILL);
		pid = __atomic_load_n(&sh->child_pid[i], __ATOMIC_RELAXED);
		if (pid > 0)
			kill(pid, SIGKILL);
	}
}

/*
 * After the deadline: every process verifies and exits by itself within
 * STOP_GRACE s, or is killed (and counted as failed). Returns the number
 * of processes that could not even be reaped.
 */
static int wind_down(void)
{
	double limit = ksmt_now() + STOP_GRACE;
	int left;

	while (live_processes() && ksmt_now() < limit) {
		reap_main(false);
		ksmt_nap_ms(50);
	}
	if (!live_processes())
		return 0;
	__atomic_store_n(&sh->killing, 1, __ATOMIC_RELAXED);
	complain("FAIL: %d processes had not ended %d s after the end; killing them",
		 live_processes(), STOP_GRACE);
	limit = ksmt_now() + KILL_GRACE;
	while (live_processes() && ksmt_now() < limit) {
		kill_tables();
		reap_main(false);
		ksmt_nap_ms(50);
	}
	left = live_processes();
	if (left)
		complain("FAIL: %d processes could not be reaped (stuck in the kernel?)",
			 left);
	return left;
}

static bool all_zero(const struct ksmt_counters *c)
{
	return !c->shared && !c->sharing && !c->unshared && !c->volatile_ &&
	       !c->zero_pages && !c->general_profit;
}

/* Waits up to seconds s for every global counter to be zero. */
static bool wait_all_zero(struct ksmt_counters *c, int seconds)
{
	double limit = ksmt_now() + seconds;

	do {
		if (ksmt_read_counters(c))
			return false;
		if (all_zero(c))
			return true;
		ksmt_nap_ms(100);
	} while (ksmt_now() < limit);
	return false;
}

/*
 * With every process gone, nothing may be left: ksmd (run=1) lets go of
 * what the exited processes had within DRAIN_WAIT s, and then run=2
 * leaves pages_shared, pages_sharing, pages_unshared, pages_volatile,
 * ksm_zero_pages and general_profit all zero.
 */
static bool final_counters_zero(struct ksmt_counters *c)
{
	bool ok = true;
	char text[256];
	long objects;
	int err;

	err = ksmt_run(1);
	if (err || !wait_all_zero(c, DRAIN_WAIT)) {
		complain("FAIL: %d s after all processes exited, with run=1: %s",
			 DRAIN_WAIT, counters_text(c, text, sizeof(text)));
		ok = false;
	}
	err = ksmt_run(0);
	if (!err)
		err = ksmt_run(2);
	if (err) {
		complain("FAIL: final run=2: %s", strerror(-err));
		return false;
	}
	if (!wait_all_zero(c, ZERO_WAIT)) {
		complain("FAIL: after all processes exited and run=2: %s",
			 counters_text(c, text, sizeof(text)));
		ok = false;
	}
	/* With every counter at zero, not one KSM page may be left. */
	err = ksmt_no_ksm_pages();
	if (err) {
		complain("FAIL: a KSM page outlived every process: max_page_sharing: %s",
			 strerror(-err));
		ok = false;
	}
	/* Nor a node, an item or a slot in KSM's slab caches. */
	objects = ksmt_ksm_objects(true);
	if (objects == -ENOENT || objects == -EXDEV) {
		say("# KSM's slab caches not counted: %s (slab_nomerge?)",
		    strerror(-objects));
	} else if (objects) {
		complain("FAIL: %ld objects left in KSM's slab caches", objects);
		ok = false;
	}
	return ok;
}

static void print_ops(void)
{
	int op;

	say("# operations (all processes):");
	for (op = 0; op < NR_OPS; op++) {
		long refused = peek(&sh->refused[op]);

		if (refused)
			say("#   %-18s %ld (%ld refused)", op_name[op],
			    peek(&sh->ops[op]), refused);
		else
			say("#   %-18s %ld", op_name[op], peek(&sh->ops[op]));
	}
	say("#   pages written %ld, pages verified %ld, pages placed by move_pages %ld",
	    peek(&sh->pages_written), peek(&sh->pages_verified),
	    peek(&sh->pages_placed));
	say("# controller writes:");
	for (op = 0; op < NR_CTL; op++)
		say("#   %-18s %ld (%ld busy)", ctl_name[op],
		    peek(&sh->ctl_done[op]), peek(&sh->ctl_busy[op]));
}

static void print_ksm(const struct ksmt_counters *end,
		      const struct ksmt_counters *exited)
{
	const struct peaks *pk = &sh->peak;
	char text[256];

	say("# KSM peaks: pages_shared %ld pages_sharing %ld pages_unshared %ld",
	    pk->shared, pk->sharing, pk->unshared);
	say("#   ksm_zero_pages %ld stable_node_chains %ld; swap used %ld kB",
	    pk->zero_pages, pk->chains, pk->swap_kb);
	say("# KSM at the end of the run: %s",
	    counters_text(end, text, sizeof(text)));
	say("# KSM once all had exited: %s",
	    counters_text(exited, text, sizeof(text)));
	say("#   full scans in the run: %ld", peek(&sh->scans));
}

static void bad_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-d seconds] [-p workers] [-m MiB] [-s seed]\n"
		"  -d  how long the run lasts (60)\n"
		"  -p  worker processes, 1-%d (6); each may fork a child\n"
		"  -m  MiB each process maps at most, 1-64 (16)\n"
		"  -s  seed of the random choices (printed when not given)\n",
		prog, MAX_WORKERS);
	exit(KSFT_FAIL);
}

static long parse_num(const char *arg, long lo, long hi, const char *prog)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 0);
	if (errno || *end || v < lo || v > hi)
		bad_usage(prog);
	return v;
}

static void parse_args(int argc, char **argv)
{
	bool seeded = false;
	int opt;

	cfg.seconds = 60;
	cfg.nprocs = 6;
	cfg.mib = 16;
	/* -X is undocumented: it makes the run fail on purpose. */
	while ((opt = getopt(argc, argv, "d:p:m:s:X")) != -1) {
		switch (opt) {
		case 'd':
			cfg.seconds = parse_num(optarg, 1, 86400, argv[0]);
			break;
		case 'p':
			cfg.nprocs = parse_num(optarg, 1, MAX_WORKERS, argv[0]);
			break;
		case 'm':
			cfg.mib = parse_num(optarg, 1, 64, argv[0]);
			break;
		case 's':
			errno = 0;
			cfg.seed = strtoull(optarg, NULL, 0);
			if (errno)
				bad_usage(argv[0]);
			seeded = true;
			break;
		case 'X':
			cfg.corrupt = true;
			break;
		default:
			bad_usage(argv[0]);
		}
	}
	if (optind != argc)
		bad_usage(argv[0]);
	if (!seeded)
		cfg.seed = ksmt_mix((u64)time(NULL) << 20 ^ getpid());
	cfg.budget = (size_t)cfg.mib << 20 >> 12;
}

/*
 * KSM at full speed from a clean start: run=2 first, then nothing may
 * be merged anywhere. Returns false (having said why) if not.
 */
static bool setup_ksm(void)
{
	struct ksmt_counters c;
	char text[256];
	int err;

	err = ksmt_reset();
	if (!err)
		err = ksmt_write_long("pages_to_scan", 4096);
	if (!err)
		err = ksmt_write_long("sleep_millisecs", 0);
	if (err) {
		complain("FAIL: setting up KSM: %s", strerror(-err));
		return false;
	}
	if (wait_all_zero(&c, ZERO_WAIT))
		return true;
	complain("FAIL: KSM not idle after run=2 at the start: %s",
		 counters_text(&c, text, sizeof(text)));
	return false;
}

static struct shared *map_shared(void)
{
	void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Starts the controller and the workers; false if one did not start. */
static bool start_processes(void)
{
	int i;

	if (!spawn_controller())
		return false;
	for (i = 0; i < cfg.nprocs; i++)
		if (!spawn_worker(i, 0))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	struct ksmt_counters end = { 0 }, exited = { 0 }, last;
	struct ksmt_zram_swap zram = { 0 };
	struct shared local = { 0 };
	bool final_ok = true;
	const char *no_swap;
	long passed, failed;
	int err;

	sh = &local;
	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!ksmt_available()) {
		say("# SKIP: no KSM (/sys/kernel/mm/ksm missing) or not root");
		return KSFT_SKIP;
	}
	sh = map_shared();
	if (!sh) {
		sh = &local;
		complain("FAIL: shared memory: %s", strerror(errno));
		return KSFT_FAIL;
	}
	cfg.numa = ksmt_have_node1();
	no_swap = ksmt_zram_swap_on(&zram, SWAP_SIZE);
	cfg.swap = !no_swap;
	say("# ksm_stress: seed %#llx, %d s, %d workers of %d MiB, swap %s, NUMA nodes %d",
	    (unsigned long long)cfg.seed, cfg.seconds, cfg.nprocs, cfg.mib,
	    no_swap ? no_swap : "zram0 " SWAP_SIZE, cfg.numa ? 2 : 1);
	if (no_swap)
		ksmt_zram_swap_down(&zram);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	cfg.start = ksmt_now();
	cfg.deadline = cfg.start + cfg.seconds;
	if (!setup_ksm() || ksmt_run(1) || !start_processes()) {
		final_ok = false;
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	} else {
		supervise(&end);
	}
	if (wind_down())
		add(&sh->failed, live_processes());
	if (!ksmt_read_counters(&last))
		exited = last;
	if (final_ok && !final_counters_zero(&last))
		final_ok = false;
	err = ksmt_restore_knobs();
	if (err) {
		complain("FAIL: %d knobs could not be restored", err);
		final_ok = false;
	}
	err = ksmt_zram_swap_down(&zram);
	if (err) {
		complain("FAIL: taking zram0 swap down: %s", strerror(-err));
		final_ok = false;
	}

	print_ops();
	print_ksm(&end, &exited);
	say("# final check (nothing left with run=1 nor run=2, knobs and swap restored): %s",
	    final_ok ? "ok" : "FAILED");
	say("# %ld workers and %ld children ran; duration %.1f s; seed %#llx",
	    peek(&sh->workers), peek(&sh->children), ksmt_now() - cfg.start,
	    (unsigned long long)cfg.seed);
	passed = peek(&sh->passed) + final_ok;
	failed = peek(&sh->failed) + !final_ok;
	say("%ld passed, %ld failed", passed, failed);
	return failed ? KSFT_FAIL : KSFT_PASS;
}
