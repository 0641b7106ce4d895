// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_watch - a live view of what KSM is doing.
 *
 * Samples the counters in /sys/kernel/mm/ksm/ and the CPU time of the ksmd
 * thread (utime + stime from /proc/<pid>/stat) at a fixed interval and
 * prints one row per sample: pages scanned and the scan rate, pages_shared,
 * pages_sharing, the memory saved (pages_sharing pages), ksmd's CPU use
 * since the previous sample and full_scans. On a terminal the row is
 * redrawn in place; with -p, or when the output is not a terminal, every
 * sample gets a line of its own.
 *
 * It runs until interrupted, until the time limit of -t, or with -c until
 * sharing has converged: pages_shared and pages_sharing unchanged, give or
 * take 0.1% (running guests keep rewriting a few pages), while ksmd
 * completed a whole full scan. With -m it ends with the line
 * "saved X MiB of Y MiB mapped (Z%)", Y being the given amount of
 * mergeable memory; -l names that memory instead of "mapped" (the guest
 * demo says "of guest RAM").
 *
 * Usage: ksm_watch [-i ms] [-t seconds] [-c] [-m MiB] [-l what] [-p]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ksmd_proc.h"

#define KSM_DIR		"/sys/kernel/mm/ksm"
#define MIB		(1024.0 * 1024.0)
#define NO_TICKS	ULLONG_MAX

struct sample {
	struct timespec when;
	unsigned long scanned;
	unsigned long shared;
	unsigned long sharing;
	unsigned long full_scans;
	unsigned long long ksmd_ticks;	/* utime + stime, or NO_TICKS */
};

static int read_counter(const char *name, unsigned long *val)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), KSM_DIR "/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%lu", val) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

static int take_sample(struct sample *s, int ksmd)
{
	long long ticks;

	clock_gettime(CLOCK_MONOTONIC, &s->when);
	ticks = ksmd_proc_cpu_ticks(ksmd);
	s->ksmd_ticks = ticks < 0 ? NO_TICKS : ticks;
	if (read_counter("pages_scanned", &s->scanned) ||
	    read_counter("pages_shared", &s->shared) ||
	    read_counter("pages_sharing", &s->sharing) ||
	    read_counter("full_scans", &s->full_scans))
		return -1;
	return 0;
}

/* Whether @cur moved away from @ref by more than 0.1% (at least a page). */
static int moved(unsigned long ref, unsigned long cur)
{
	unsigned long diff = cur > ref ? cur - ref : ref - cur;

	return diff > ref / 1000;
}

static double seconds_between(const struct timespec *a,
			      const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

static void print_header(void)
{
	printf("%7s %13s %7s %8s %8s %10s %9s %6s\n", "time", "pages scanned",
	       "MiB/s", "shared", "sharing", "saved MiB", "ksmd CPU",
	       "scans");
}

static void print_row(const struct sample *first, const struct sample *prev,
		      const struct sample *cur, long page_size, long clk_tck,
		      int in_place)
{
	double dt = seconds_between(&prev->when, &cur->when);
	double rate = 0.0;
	char cpu[16];

	if (dt > 0)
		rate = (cur->scanned - prev->scanned) * page_size / MIB / dt;
	if (dt > 0 && cur->ksmd_ticks != NO_TICKS &&
	    prev->ksmd_ticks != NO_TICKS)
		snprintf(cpu, sizeof(cpu), "%.0f%%",
			 100.0 * (cur->ksmd_ticks - prev->ksmd_ticks) /
			 clk_tck / dt);
	else
		snprintf(cpu, sizeof(cpu), "-");

	printf("%s%6.1fs %13lu %7.1f %8lu %8lu %10.1f %9s %6lu%s",
	       in_place ? "\r\033[K" : "",
	       seconds_between(&first->when, &cur->when), cur->scanned, rate,
	       cur->shared, cur->sharing, cur->sharing * page_size / MIB, cpu,
	       cur->full_scans, in_place ? "" : "\n");
	fflush(stdout);
}

/*
 * Waits until @next on CLOCK_MONOTONIC, unless a signal of @set (blocked)
 * comes first. Return: 0 at @next, or the number of the signal.
 */
static int wait_until(const struct timespec *next, const sigset_t *set)
{
	struct timespec now, left;
	int sig;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = next->tv_sec - now.tv_sec;
		left.tv_nsec = next->tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_nsec += 1000000000L;
			left.tv_sec--;
		}
		if (left.tv_sec < 0 || (!left.tv_sec && !left.tv_nsec))
			return 0;
		sig = sigtimedwait(set, NULL, &left);
		if (sig > 0)
			return sig;
		/* Timed out (EAGAIN) or interrupted (EINTR): look again. */
	}
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: ksm_watch [-i ms] [-t seconds] [-c] [-m MiB] [-l what] [-p]\n"
		"  -i  sampling interval in milliseconds (default 1000)\n"
		"  -t  stop after this many seconds (default: never)\n"
		"  -c  stop once sharing is unchanged over a whole full scan\n"
		"  -m  MiB of mergeable memory, for the closing summary line\n"
		"  -l  what that memory is, in that line (default \"mapped\")\n"
		"  -p  one line per sample, even on a terminal\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long interval_ms = 1000, limit = 0, mapped = 0, changed_at;
	int opt, ksmd, in_place, converge = 0, plain = 0, converged = 0;
	int stop_signal = 0;
	const char *what = "mapped";
	struct sample first, prev, cur, ref;
	struct timespec next;
	long page_size, clk_tck;
	sigset_t stop_set;
	double elapsed = 0;
	char *end;

	while ((opt = getopt(argc, argv, "i:t:cm:l:p")) != -1) {
		switch (opt) {
		case 'i':
			interval_ms = strtoul(optarg, &end, 10);
			if (*end || !interval_ms)
				usage();
			break;
		case 't':
			limit = strtoul(optarg, &end, 10);
			if (*end)
				usage();
			break;
		case 'c':
			converge = 1;
			break;
		case 'm':
			mapped = strtoul(optarg, &end, 10);
			if (*end || !mapped)
				usage();
			break;
		case 'l':
			what = optarg;
			break;
		case 'p':
			plain = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	page_size = sysconf(_SC_PAGESIZE);
	clk_tck = sysconf(_SC_CLK_TCK);
	in_place = !plain && isatty(STDOUT_FILENO);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Blocked, and taken by wait_until(), so a sample is never cut short. */
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop_set, NULL);

	ksmd = ksmd_proc_find();
	if (ksmd < 0)
		fprintf(stderr, "ksm_watch: no ksmd thread found, CPU use not shown\n");
	if (take_sample(&first, ksmd)) {
		fprintf(stderr, "ksm_watch: cannot read " KSM_DIR ": %s\n",
			strerror(errno));
		return 1;
	}
	prev = first;
	cur = first;
	changed_at = first.full_scans;
	ref = first;
	next = first.when;
	print_header();

	for (;;) {
		next.tv_nsec += (interval_ms % 1000) * 1000000L;
		next.tv_sec += interval_ms / 1000 + next.tv_nsec / 1000000000L;
		next.tv_nsec %= 1000000000L;
		stop_signal = wait_until(&next, &stop_set);
		if (stop_signal)
			break;
		if (take_sample(&cur, ksmd)) {
			fprintf(stderr, "\nksm_watch: reading " KSM_DIR " failed\n");
			return 1;
		}
		print_row(&first, &prev, &cur, page_size, clk_tck, in_place);

		/*
		 * A change is seen at most one sample late, so a full scan
		 * without changes surely lies between the sample that saw the
		 * last change and a sample two full scans later.
		 */
		if (moved(ref.shared, cur.shared) ||
		    moved(ref.sharing, cur.sharing)) {
			changed_at = cur.full_scans;
			ref = cur;
		}
		prev = cur;
		elapsed = seconds_between(&first.when, &cur.when);
		if (converge && cur.full_scans >= changed_at + 2) {
			converged = 1;
			break;
		}
		if (limit && elapsed >= limit)
			break;
	}
	if (in_place)
		printf("\n");

	if (converged)
		printf("ksm_watch: converged in %.1f s: stable for a full scan (full_scans %lu)\n",
		       elapsed, cur.full_scans);
	else if (stop_signal)
		printf("ksm_watch: stopped by %s after %.1f s\n",
		       strsignal(stop_signal), elapsed);
	else if (limit)
		printf("ksm_watch: stopped at the %lu s limit%s\n", limit,
		       converge ? ", sharing still changing" : "");
	if (mapped)
		printf("saved %.1f MiB of %lu MiB %s (%.1f%%)\n",
		       cur.sharing * page_size / MIB, mapped, what,
		       100.0 * cur.sharing * page_size / MIB / mapped);
	return 0;
}
