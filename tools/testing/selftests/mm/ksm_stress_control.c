// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress: the controller process.
 *
 * While the workers run, it toggles run (0, 1 and now and then 2),
 * use_zero_pages, merge_across_nodes, max_page_sharing, smart_scan and
 * merge_scope,
 * samples the global counters (their peaks, the full scans, swap used)
 * and checks they stay in range, and at the end fails the run if ksmd
 * made full scans but merged nothing. Its exit status is its check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/ksm_util.h"
#include "ksm_stress.h"

static void raise_peak(long *peak, long value)
{
	long old = peek(peak);

	while (value > old &&
	       !__atomic_compare_exchange_n(peak, &old, value, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* Controller: a knob write; errors in busy[] are expected states. */
static bool ctl_write_str(enum ctl c, const char *knob, const char *val,
			  const int *busy, int nbusy)
{
	int i, err = ksmt_write(knob, val);

	if (!err) {
		add(&sh->ctl_done[c], 1);
		return true;
	}
	for (i = 0; i < nbusy; i++) {
		if (-err == busy[i]) {
			add(&sh->ctl_busy[c], 1);
			return false;
		}
	}
	complain("FAIL: controller: %s=%s: %s", knob, val, strerror(-err));
	_exit(ST_ERROR);
}

static bool ctl_write(enum ctl c, const char *knob, long val,
		      const int *busy, int nbusy)
{
	char text[32];

	snprintf(text, sizeof(text), "%ld", val);
	return ctl_write_str(c, knob, text, busy, nbusy);
}

static long read_or(const char *name, long dflt)
{
	long v;

	return ksmt_read_long(name, &v) ? dflt : v;
}

/*
 * Controller: the global counters, their peaks, and a sanity bound: no
 * more KSM mappings than all processes could ever have mapped (an
 * underflow shows as a huge value).
 */
static void ctl_sample(long *last_scans)
{
	const long limit = 8 * (2L * cfg.nprocs + 1) * (long)cfg.budget;
	struct ksmt_counters c;
	static double next_swap;
	char text[256];

	if (ksmt_read_counters(&c))
		_exit(ST_ERROR);
	raise_peak(&sh->peak.shared, c.shared);
	raise_peak(&sh->peak.sharing, c.sharing);
	raise_peak(&sh->peak.unshared, c.unshared);
	raise_peak(&sh->peak.zero_pages, c.zero_pages);
	raise_peak(&sh->peak.chains, read_or("stable_node_chains", 0));
	/* full_scans starts again at 0 after run=2. */
	add(&sh->scans, c.full_scans >= *last_scans ?
	    c.full_scans - *last_scans : c.full_scans);
	*last_scans = c.full_scans;
	if (cfg.swap && ksmt_now() >= next_swap) {
		long total = ksmt_meminfo("SwapTotal");
		long free_ = ksmt_meminfo("SwapFree");

		if (total >= 0 && free_ >= 0)
			raise_peak(&sh->peak.swap_kb, total - free_);
		next_swap = ksmt_now() + 2;
	}
	if (c.shared < 0 || c.shared > limit || c.sharing < 0 ||
	    c.sharing > limit || c.unshared < 0 || c.unshared > limit ||
	    c.zero_pages < 0 || c.zero_pages > limit) {
		complain("FAIL: controller: KSM counter out of range 0-%ld: %s",
			 limit, counters_text(&c, text, sizeof(text)));
		_exit(ST_RANGE);
	}
}

/* Controller: knobs that change only while no KSM page exists. */
static void ctl_layout_knob(struct ksmt_rng *rng, enum ctl c)
{
	static const int busy[] = { EBUSY, ENOMEM };
	static const long sharing[] = { 2, 3, 8, 256 };
	static const char * const scope[] = { "global", "cgroup", "process" };

	if (c == CTL_MERGE_SCOPE) {
		if (ksmt_exists("merge_scope"))
			ctl_write_str(c, "merge_scope",
				      scope[ksmt_rand_below(rng,
							    ARRAY_SIZE(scope))],
				      busy, ARRAY_SIZE(busy));
		return;
	}
	if (c == CTL_ACROSS_NODES) {
		if (ksmt_exists("merge_across_nodes"))
			ctl_write(c, "merge_across_nodes",
				  !read_or("merge_across_nodes", 1), busy,
				  ARRAY_SIZE(busy));
		return;
	}
	ctl_write(c, "max_page_sharing",
		  sharing[ksmt_rand_below(rng, ARRAY_SIZE(sharing))], busy,
		  ARRAY_SIZE(busy));
}

/* One random knob change of the controller; *run is its view of run. */
static void ctl_step(struct ksmt_rng *rng, long *run)
{
	static const int unmerge_busy[] = { EINTR, ENOMEM, EAGAIN };
	static const enum ctl layout[] = {
		CTL_ACROSS_NODES, CTL_MAX_SHARING, CTL_MERGE_SCOPE,
	};
	unsigned long r = ksmt_rand_below(rng, 100);

	if (*run != 1 && r < 60) {
		ctl_write(CTL_RUN1, "run", 1, NULL, 0);
		*run = 1;
	} else if (r < 10 && *run != 0) {
		ctl_write(CTL_RUN0, "run", 0, NULL, 0);
		*run = 0;
	} else if (r < 14 && *run != 2) {
		/* A failed unmerge leaves ksmd stopped. */
		*run = ctl_write(CTL_RUN2, "run", 2, unmerge_busy,
				 ARRAY_SIZE(unmerge_busy)) ? 2 : 0;
		/* Nothing merged for a moment: layout knobs may change. */
		if (*run == 2 && ksmt_rand_below(rng, 2))
			ctl_layout_knob(rng, layout[ksmt_rand_below(rng, 3)]);
	} else if (r < 24) {
		ctl_write(CTL_ZERO_PAGES, "use_zero_pages",
			  !read_or("use_zero_pages", 0), NULL, 0);
	} else if (r < 27) {
		ctl_layout_knob(rng, CTL_ACROSS_NODES);
	} else if (r < 30) {
		ctl_layout_knob(rng, CTL_MAX_SHARING);
	} else if (r < 33 && ksmt_exists("smart_scan")) {
		ctl_write(CTL_SMART_SCAN, "smart_scan",
			  !read_or("smart_scan", 0), NULL, 0);
	} else if (r < 36) {
		ctl_layout_knob(rng, CTL_MERGE_SCOPE);
	}
}

static __noreturn void controller_main(void)
{
	struct ksmt_rng rng = { .state = ksmt_mix(cfg.seed ^ 0xc0de) };
	long run = 1, scans = 0;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	while (ksmt_now() < cfg.deadline && !stopping()) {
		ksmt_nap_ms(50 + ksmt_rand_below(&rng, 250));
		ctl_sample(&scans);
		ctl_step(&rng, &run);
	}
	ctl_sample(&scans);
	/*
	 * A run that never merged anything has not tested much. Judged by
	 * ksmd's passes, not by time: a debug kernel under emulation may
	 * not finish three passes in a minute.
	 */
	if (peek(&sh->scans) >= MIN_SCANS && peek(&sh->peak.sharing) == 0) {
		complain("FAIL: controller: KSM merged nothing in %ld full scans",
			 peek(&sh->scans));
		_exit(ST_IDLE);
	}
	if (peek(&sh->scans) < MIN_SCANS)
		say("# merging not judged: ksmd made only %ld full scans",
		    peek(&sh->scans));
	_exit(ST_OK);
}

bool spawn_controller(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		complain("FAIL: fork of the controller: %s", strerror(errno));
		return false;
	}
	if (pid == 0)
		controller_main();
	__atomic_store_n(&sh->ctl_pid, pid, __ATOMIC_RELAXED);
	return true;
}
