// SPDX-License-Identifier: GPL-2.0
/*
 * The KSM scan-time advisor (advisor_mode and advisor_* of 6.12):
 *
 *  - advisor_mode reads "[none] scan-time" or "none [scan-time]"; writing
 *    "scan-time" sets pages_to_scan to advisor_min_pages_to_scan, which
 *    then refuses writes with EINVAL; writing "none" sets it back to the
 *    default of 100; anything but the two mode names is EINVAL and
 *    changes nothing.
 *  - convergence: with advisor_target_scan_time=1 and a workload a pass
 *    over which takes several seconds at advisor_min_pages_to_scan pages
 *    per batch, ksmd raises pages_to_scan after every pass that took far
 *    longer than the target, so that the passes get at least twice as
 *    fast and end near 1 s; the ksm_advisor tracepoint, if there is one,
 *    logs every pass with the pages_to_scan chosen.
 *
 * Every knob touched is restored, advisor_mode going back to none before
 * pages_to_scan is restored. Nothing else may use KSM while this runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"

#define DEFAULT_PAGES	100	/* pages_to_scan with advisor_mode none */

FIXTURE(adv) {
	bool traced;		/* the tracing state needs restoring */
};

FIXTURE_SETUP(adv)
{
	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	if (!ksmt_exists("advisor_mode"))
		SKIP(return, "advisor_mode: not in this kernel");
	ASSERT_EQ(0, ksmt_reset());
}

FIXTURE_TEARDOWN(adv)
{
	char mode[64];

	if (self->traced)
		EXPECT_EQ(0, ksmt_trace_restore());
	/* Stopped and unmerged, the advisor off, then the saved values. */
	EXPECT_EQ(0, ksmt_run(2));
	EXPECT_EQ(0, ksmt_write("advisor_mode", "none"));
	EXPECT_EQ(0, ksmt_restore_knobs());
	EXPECT_EQ(0, ksmt_read_str("advisor_mode", mode, sizeof(mode)));
	EXPECT_STREQ("[none] scan-time", mode);
}

static void expect_mode(struct __test_metadata *_metadata, const char *want)
{
	char mode[64];

	ASSERT_EQ(0, ksmt_read_str("advisor_mode", mode, sizeof(mode)));
	EXPECT_STREQ(want, mode);
}

/*
 * none -> scan-time -> none, and what each does to pages_to_scan. The
 * minimum is set to an unusual value first, so that "pages_to_scan is the
 * minimum" cannot hold by chance.
 */
TEST_F(adv, mode_switch)
{
	expect_mode(_metadata, "[none] scan-time");
	ASSERT_EQ(0, ksmt_write("advisor_min_pages_to_scan", "321"));
	ASSERT_EQ(0, ksmt_write("pages_to_scan", "1234"));
	ASSERT_EQ(1234, ksmt_get("pages_to_scan"));

	ASSERT_EQ(0, ksmt_write("advisor_mode", "scan-time"));
	expect_mode(_metadata, "none [scan-time]");
	EXPECT_EQ(321, ksmt_get("pages_to_scan"));
	EXPECT_EQ(-EINVAL, ksmt_write("pages_to_scan", "1000"));
	EXPECT_EQ(-EINVAL, ksmt_write("pages_to_scan", "321"));
	EXPECT_EQ(321, ksmt_get("pages_to_scan"));

	/* "scan-time" again is no change; a new minimum applies later. */
	ASSERT_EQ(0, ksmt_write("advisor_min_pages_to_scan", "432"));
	ASSERT_EQ(0, ksmt_write("advisor_mode", "scan-time\n"));
	expect_mode(_metadata, "none [scan-time]");
	EXPECT_EQ(321, ksmt_get("pages_to_scan"));

	ASSERT_EQ(0, ksmt_write("advisor_mode", "none"));
	expect_mode(_metadata, "[none] scan-time");
	EXPECT_EQ(DEFAULT_PAGES, ksmt_get("pages_to_scan"));
	EXPECT_EQ(0, ksmt_write("pages_to_scan", "1000"));
	EXPECT_EQ(1000, ksmt_get("pages_to_scan"));
	/* "none" again is no change either. */
	ASSERT_EQ(0, ksmt_write("advisor_mode", "none\n"));
	EXPECT_EQ(1000, ksmt_get("pages_to_scan"));

	ASSERT_EQ(0, ksmt_write("advisor_mode", "scan-time"));
	EXPECT_EQ(432, ksmt_get("pages_to_scan"));
}

/* Bad mode strings: EINVAL in either mode, mode and pages_to_scan kept. */
TEST_F(adv, bad_modes)
{
	static const char * const bad[] = {
		"scan", "scan-time2", "scantime", "scan_time", "Scan-time",
		"NONE", "none ", " none", "[none]", "none scan-time",
		"scan-time\n\n", "scan-time none", "0", "1", "-1", "\n",
	};
	static const char * const modes[] = { "none", "scan-time" };
	char before[64], after[64];
	unsigned int i, m;

	for (m = 0; m < ARRAY_SIZE(modes); m++) {
		long pages;

		ASSERT_EQ(0, ksmt_write("advisor_mode", modes[m]));
		ASSERT_EQ(0, ksmt_read_str("advisor_mode", before,
					   sizeof(before)));
		pages = ksmt_get("pages_to_scan");
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			int err = ksmt_write("advisor_mode", bad[i]);

			if (err != -EINVAL)
				TH_LOG("mode %s, wrote \"%s\": %s", modes[m],
				       bad[i], err ? strerror(-err) : "success");
			EXPECT_EQ(-EINVAL, err);
			ASSERT_EQ(0, ksmt_read_str("advisor_mode", after,
						   sizeof(after)));
			EXPECT_STREQ(before, after);
			EXPECT_EQ(pages, ksmt_get("pages_to_scan"));
		}
	}
}

#define CONV_PAGES	8000
#define CONV_MIN	50
#define CONV_MAX	30000
#define CONV_SLEEP_MS	20
#define CONV_TARGET_S	1
#define CONV_PASSES	16
#define CONV_SECONDS	50
/* Trace lines read: more than passes of 0.25 s fit in CONV_SECONDS. */
#define CONV_LOGGED	256
/* A pass seen to end this long after the poll before: its end is unsure. */
#define CONV_LATE_S	0.1

/*
 * One full scan: how long it took, pages_to_scan at its end. A test that
 * stalled (its VM's vCPU not run by the host, say) sees a pass end late,
 * and may see full_scans move by more than one: a record then stands for
 * those passes, with their mean length and the pages_to_scan the last of
 * them left. Its length and that of the next one are not known: those
 * records are not timed, and their lengths are not judged.
 */
struct pass {
	double secs;
	long pages;
	long nr;	/* the last pass it stands for, from 1 */
	bool late;	/* seen over CONV_LATE_S after the poll before */
};

/* Whether rec[i]'s length is known: neither it nor rec[i - 1] was late. */
static bool pass_timed(const struct pass *rec, long i)
{
	return !rec[i].late && !(i && rec[i - 1].late);
}

/*
 * The pages_to_scan of the ksm_advisor lines in text, at most max, into
 * pages[]; their number.
 */
static int advisor_lines(const char *text, long *pages, int max)
{
	const char *pos = text;
	char rest[256];
	int n = 0;

	while (n < max && ksmt_trace_next(&pos, "ksm_advisor", rest,
					  sizeof(rest), NULL)) {
		long long secs;
		unsigned int cpu;

		if (sscanf(rest,
			   "ksm scan time %lld pages_to_scan %ld cpu percent %u",
			   &secs, &pages[n], &cpu) != 3)
			pages[n] = -1;
		n++;
	}
	return n;
}

/*
 * target 1 s, min 50, 20 ms between batches, 8000 pages of distinct
 * contents: the first pass takes at least 8000 / 50 * 20 ms = 3.2 s.
 * Passes are timed from user space by when full_scans moves (ksmd sets
 * pages_to_scan before it counts the pass) until two in a row take less
 * than 1.5 s, for at most 16 passes or 50 s. pages_to_scan is read
 * between two reads of full_scans that agree, so it is the value the
 * pass counted left, not the next one's. Passes the test saw end late
 * are not timed (struct pass).
 */
TEST_F_TIMEOUT(adv, convergence, 90)
{
	const double far = 2.0 * CONV_TARGET_S, near = 1.5 * CONV_TARGET_S;
	struct pass rec[CONV_PASSES];
	long logged[CONV_LOGGED], prev, pages, i;
	unsigned long fs, fs0, now;
	double t, at, calm, deadline;
	bool converged = false;
	int n = 0, lines;
	char *p;

	ASSERT_EQ(0, ksmt_write_long("sleep_millisecs", CONV_SLEEP_MS));
	ASSERT_EQ(0, ksmt_write_long("advisor_max_pages_to_scan", CONV_MAX));
	ASSERT_EQ(0, ksmt_write_long("advisor_min_pages_to_scan", CONV_MIN));
	ASSERT_EQ(0, ksmt_write_long("advisor_target_scan_time",
				     CONV_TARGET_S));
	ASSERT_EQ(0, ksmt_write("advisor_max_cpu", "70"));
	ASSERT_EQ(0, ksmt_write("advisor_mode", "scan-time"));
	ASSERT_EQ(CONV_MIN, ksmt_get("pages_to_scan"));

	p = ksmt_map(CONV_PAGES);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < CONV_PAGES; i++)
		ksmt_fill_page(p + i * PAGE, ksmt_unique_key(0xad01, i));
	ASSERT_EQ(0, ksmt_mergeable(p, CONV_PAGES));

	if (ksmt_tracefs() && ksmt_event_exists("ksm_advisor")) {
		self->traced = true;
		ASSERT_EQ(0, ksmt_trace_clear());
		ASSERT_EQ(0, ksmt_event_enable("ksm_advisor", true));
	}

	fs = ksmt_full_scans();
	fs0 = fs;
	t = ksmt_now();
	calm = t;
	deadline = t + CONV_SECONDS;
	ASSERT_EQ(0, ksmt_run(1));
	while (n < CONV_PASSES && ksmt_now() < deadline) {
		now = ksmt_full_scans();
		if (now == fs) {
			calm = ksmt_now();
			usleep(2000);
			continue;
		}
		pages = ksmt_get("pages_to_scan");
		/* Another pass ended meanwhile: read both again. */
		if (ksmt_full_scans() != now)
			continue;
		at = ksmt_now();
		rec[n].secs = (at - t) / (now - fs);
		rec[n].pages = pages;
		rec[n].nr = now - fs0;
		rec[n].late = at - calm > CONV_LATE_S;
		t = at;
		if (now != fs + 1)
			TH_LOG("pass %d: %lu full scans at once", n, now - fs);
		fs = now;
		n++;
		if (n >= 3 && pass_timed(rec, n - 1) && pass_timed(rec, n - 2) &&
		    rec[n - 1].secs < near && rec[n - 2].secs < near) {
			converged = true;
			break;
		}
	}
	ASSERT_EQ(0, ksmt_run(0));
	for (i = 0; i < n; i++)
		TH_LOG("pass %ld: %.2f s%s, then pages_to_scan %ld", rec[i].nr,
		       rec[i].secs, pass_timed(rec, i) ? "" : " (not timed)",
		       rec[i].pages);

	ASSERT_LE(3, n);
	/* The workload is what this test needs. */
	ASSERT_LE(2.5, rec[0].secs);

	prev = CONV_MIN;
	for (i = 0; i < n; i++) {
		EXPECT_LE(CONV_MIN, rec[i].pages);
		EXPECT_GE(CONV_MAX, rec[i].pages);
		/* A pass far longer than the target calls for more pages. */
		if (pass_timed(rec, i) && rec[i].secs > far &&
		    rec[i].pages <= prev)
			TH_LOG("pass %ld took %.2f s, pages_to_scan %ld -> %ld",
			       rec[i].nr, rec[i].secs, prev, rec[i].pages);
		if (pass_timed(rec, i) && rec[i].secs > far)
			EXPECT_LT(prev, rec[i].pages);
		prev = rec[i].pages;
	}
	/* Two timed passes in a row near the target, so the last is timed. */
	EXPECT_TRUE(converged);
	EXPECT_LT(CONV_MIN, rec[n - 1].pages);
	EXPECT_GE(rec[0].secs / 2, rec[n - 1].secs);
	EXPECT_GE(near, rec[n - 1].secs);
	EXPECT_LE(CONV_TARGET_S / 4.0, rec[n - 1].secs);

	/* Selecting the mode in force again keeps the advisor's value. */
	prev = ksmt_get("pages_to_scan");
	ASSERT_EQ(0, ksmt_write("advisor_mode", "scan-time"));
	EXPECT_EQ(prev, ksmt_get("pages_to_scan"));

	if (self->traced) {
		char *text;

		ASSERT_EQ(0, ksmt_event_enable("ksm_advisor", false));
		text = ksmt_trace_read();
		ASSERT_NE(NULL, text);
		lines = advisor_lines(text, logged, CONV_LOGGED);
		free(text);
		/* One line per pass; one more pass may have ended since. */
		EXPECT_LE(rec[n - 1].nr, lines);
		EXPECT_GE(rec[n - 1].nr + 1, lines);
		for (i = 0; i < n && rec[i].nr <= lines; i++)
			EXPECT_EQ(rec[i].pages, logged[rec[i].nr - 1]);
	}

	ASSERT_EQ(0, ksmt_write("advisor_mode", "none"));
	EXPECT_EQ(DEFAULT_PAGES, ksmt_get("pages_to_scan"));
	EXPECT_EQ(0, munmap(p, CONV_PAGES * PAGE));
}

TEST_HARNESS_MAIN
