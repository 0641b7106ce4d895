// SPDX-License-Identifier: GPL-2.0
/*
 * The KSM advisor: with advisor_mode=scan-time, ksmd sets pages_to_scan
 * itself at the end of every full pass, so that a pass takes about
 * advisor_target_scan_time seconds without ksmd using more than
 * advisor_max_cpu percent of a CPU.
 *
 * For a given sleep between batches, the time a pass takes is close to
 * inversely proportional to pages_to_scan; so is ksmd's CPU share to
 * pages_to_scan directly. Each pass moves pages_to_scan halfway to the
 * value the last pass says would have hit the target, capped by the CPU
 * limit and clamped to [min, max].
 */

#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/sched.h>
#include <linux/sched/cputime.h>

#include <trace/events/ksm.h>

#include "internal.h"

struct ksm_advisor_knobs ksm_advisor = {
	.mode = KSM_ADVISOR_NONE,
	.max_cpu = 70,
	.min_pages = 500,
	.max_pages = 30000,
	.target_scan_secs = 200,
};

/* When the pass under way began, in wall and in ksmd CPU time. */
static ktime_t ksm_pass_start;
static u64 ksm_pass_start_cpu;

/**
 * ksm_advise() - the pages_to_scan the last pass calls for
 * @in: what the last pass measured and the advisor's limits
 *
 * Return: the new pages_to_scan, within [@in->min_pages, @in->max_pages].
 */
unsigned long ksm_advise(const struct ksm_advice *in)
{
	u64 wanted, next;

	/* The rate that would have made the pass take the target time. */
	if (!in->target_ms)
		wanted = in->max_pages;
	else
		wanted = div64_u64((u64)in->pages_to_scan * in->scan_ms,
				   in->target_ms);
	/* Halfway there: one noisy pass does not swing it all the way. */
	next = ((u64)in->pages_to_scan + wanted) / 2;

	/* What that rate would cost in CPU, if over the cap: back off. */
	if (in->cpu_percent && in->pages_to_scan &&
	    div64_u64(next * in->cpu_percent, in->pages_to_scan) > in->max_cpu)
		next = div64_u64((u64)in->pages_to_scan * in->max_cpu,
				 in->cpu_percent);

	return clamp_t(u64, next, in->min_pages, in->max_pages);
}

/**
 * ksm_advisor_pass_begin() - remember when a full pass starts
 */
void ksm_advisor_pass_begin(void)
{
	ksm_pass_start = ktime_get();
	/*
	 * Not current->se.sum_exec_runtime: the tick updates it under the
	 * runqueue lock while we read it, and it lacks the time since.
	 */
	ksm_pass_start_cpu = task_sched_runtime(current);
}

/**
 * ksm_advisor_pass_end() - a full pass ended: set pages_to_scan
 *
 * Called by ksmd under ksm_lock.
 */
void ksm_advisor_pass_end(void)
{
	struct ksm_advice in;
	u64 wall_ns, cpu_ns;
	unsigned long pages;

	if (READ_ONCE(ksm_advisor.mode) != KSM_ADVISOR_SCAN_TIME ||
	    !ksm_pass_start)
		return;
	wall_ns = ktime_to_ns(ktime_sub(ktime_get(), ksm_pass_start));
	cpu_ns = task_sched_runtime(current) - ksm_pass_start_cpu;

	in.pages_to_scan = READ_ONCE(ksm_knobs.pages_to_scan);
	in.scan_ms = div64_u64(wall_ns, NSEC_PER_MSEC);
	in.target_ms = (u64)READ_ONCE(ksm_advisor.target_scan_secs) *
		       MSEC_PER_SEC;
	in.cpu_percent = wall_ns ? div64_u64(cpu_ns * 100, wall_ns) : 0;
	in.max_cpu = READ_ONCE(ksm_advisor.max_cpu);
	in.min_pages = READ_ONCE(ksm_advisor.min_pages);
	in.max_pages = READ_ONCE(ksm_advisor.max_pages);
	pages = ksm_advise(&in);

	WRITE_ONCE(ksm_knobs.pages_to_scan, pages);
	trace_ksm_advisor(div64_u64(wall_ns, NSEC_PER_SEC), pages,
			  in.cpu_percent);
}

/**
 * ksm_advisor_set_mode() - switch the advisor on or off
 * @mode: KSM_ADVISOR_NONE or KSM_ADVISOR_SCAN_TIME
 *
 * pages_to_scan restarts from the default (off) or from the advisor's
 * minimum (on), and the pass under way is not measured.
 */
void ksm_advisor_set_mode(enum ksm_advisor_mode mode)
{
	if (mode == READ_ONCE(ksm_advisor.mode))
		return;
	WRITE_ONCE(ksm_advisor.mode, mode);
	ksm_pass_start = 0;
	WRITE_ONCE(ksm_knobs.pages_to_scan, mode == KSM_ADVISOR_NONE ?
		   KSM_DEFAULT_PAGES_TO_SCAN : ksm_advisor.min_pages);
}
