// SPDX-License-Identifier: GPL-2.0
/*
 * KSM's tracepoints, the events of the "ksm" trace system, with exact
 * expectations:
 *
 *  - the events, their fields and output formats as in upstream (fixture
 *    event, one variant per event);
 *  - what a small merge logs; as upstream, one ksm_merge_one_page per
 *    merge with the zero page, one ksm_merge_with_ksm_page (with the KSM
 *    page's frame) per page that comes to map a KSM page; ksm_enter and
 *    ksm_exit of a process (fixture trace).
 *
 * The other KSM features of the 6.12 ABI are tested in ksm_features.c.
 *
 * The tests skip without tracefs or without the "ksm" events. The frames
 * the events log are compared with the page frames the pages map
 * (/proc/self/pagemap), so the tests run as root: in a process that did
 * not fork, distinct pages that map one frame share a KSM page.
 * Nothing else may use KSM while this runs: the counters are global.
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

/* Why KSM's tracepoints cannot be tested here, or NULL. */
static const char *no_tracing(void)
{
	char dir[256];

	if (!ksmt_available())
		return "KSM sysfs missing or not root";
	if (!ksmt_tracefs())
		return "no tracefs";
	snprintf(dir, sizeof(dir), "%s/events/ksm", ksmt_tracefs());
	if (access(dir, F_OK))
		return "no KSM tracepoints";
	return NULL;
}

/*
 * The fields of the "field:TYPE NAME;" lines of an event's format, other
 * than common_*, as "TYPE NAME;TYPE NAME;..." with single spaces, and the
 * format string of its "print fmt:" line. 0 or -EINVAL.
 */
static int parse_format(const char *text, char *fields, size_t flen,
			char *fmt, size_t fmtlen)
{
	const char *line, *eol;
	size_t used = 0;

	fields[0] = '\0';
	fmt[0] = '\0';
	for (line = text; *line; line = *eol ? eol + 1 : eol) {
		const char *f, *end, *name;
		char one[128];
		size_t i, j = 0;

		eol = strchr(line, '\n');
		if (!eol)
			eol = line + strlen(line);
		if (!strncmp(line, "print fmt: \"", 12)) {
			f = line + 12;
			end = memchr(f, '"', eol - f);
			if (!end || (size_t)(end - f) >= fmtlen)
				return -EINVAL;
			memcpy(fmt, f, end - f);
			fmt[end - f] = '\0';
			continue;
		}
		f = memmem(line, eol - line, "field:", 6);
		if (!f)
			continue;
		f += 6;
		end = memchr(f, ';', eol - f);
		if (!end || (size_t)(end - f) >= sizeof(one))
			return -EINVAL;
		for (i = 0; f + i < end; i++) {
			if (f[i] == ' ' && (!j || one[j - 1] == ' '))
				continue;
			one[j++] = f[i];
		}
		while (j && one[j - 1] == ' ')
			j--;
		one[j] = '\0';
		name = strrchr(one, ' ');
		if (!strncmp(name ? name + 1 : one, "common_", 7))
			continue;
		if (used + j + 2 > flen)
			return -EINVAL;
		memcpy(fields + used, one, j);
		used += j;
		fields[used++] = ';';
		fields[used] = '\0';
	}
	return 0;
}

/* Each event of upstream's "ksm" trace system, with its fields. */
FIXTURE(event) {
	int unused;
};

FIXTURE_VARIANT(event) {
	const char *name;
	const char *fields;
	const char *fmt;
};

FIXTURE_VARIANT_ADD(event, ksm_start_scan) {
	.name = "ksm_start_scan",
	.fields = "int seq;u32 rmap_entries;",
	.fmt = "seq %d rmap size %d",
};

FIXTURE_VARIANT_ADD(event, ksm_stop_scan) {
	.name = "ksm_stop_scan",
	.fields = "int seq;u32 rmap_entries;",
	.fmt = "seq %d rmap size %d",
};

FIXTURE_VARIANT_ADD(event, ksm_enter) {
	.name = "ksm_enter",
	.fields = "void * mm;",
	.fmt = "mm %p",
};

FIXTURE_VARIANT_ADD(event, ksm_exit) {
	.name = "ksm_exit",
	.fields = "void * mm;",
	.fmt = "mm %p",
};

FIXTURE_VARIANT_ADD(event, ksm_merge_one_page) {
	.name = "ksm_merge_one_page",
	.fields = "unsigned long pfn;void * rmap_item;void * mm;int err;",
	.fmt = "ksm pfn %lu rmap_item %p mm %p error %d",
};

FIXTURE_VARIANT_ADD(event, ksm_merge_with_ksm_page) {
	.name = "ksm_merge_with_ksm_page",
	.fields = "void * ksm_page;unsigned long pfn;void * rmap_item;"
		  "void * mm;int err;",
	.fmt = "%spfn %lu rmap_item %p mm %p error %d",
};

FIXTURE_VARIANT_ADD(event, ksm_remove_ksm_page) {
	.name = "ksm_remove_ksm_page",
	.fields = "unsigned long pfn;",
	.fmt = "pfn %lu",
};

FIXTURE_VARIANT_ADD(event, ksm_remove_rmap_item) {
	.name = "ksm_remove_rmap_item",
	.fields = "unsigned long pfn;void * rmap_item;void * mm;",
	.fmt = "pfn %lu rmap_item %p mm %p",
};

FIXTURE_VARIANT_ADD(event, ksm_advisor) {
	.name = "ksm_advisor",
	.fields = "s64 scan_time;unsigned long pages_to_scan;"
		  "unsigned int cpu_percent;",
	.fmt = "ksm scan time %lld pages_to_scan %lu cpu percent %u",
};

FIXTURE_SETUP(event)
{
	const char *why = no_tracing();

	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(event)
{
}

/* The event exists, with upstream's fields (types, names, order). */
TEST_F(event, format)
{
	char text[4096], fields[512], fmt[256];

	ASSERT_TRUE(ksmt_event_exists(variant->name));
	ASSERT_EQ(0, ksmt_event_read(variant->name, "format", text,
				     sizeof(text)));
	ASSERT_EQ(0, parse_format(text, fields, sizeof(fields), fmt,
				  sizeof(fmt)));
	EXPECT_STREQ(variant->fields, fields);
	EXPECT_STREQ(variant->fmt, fmt);
}

/* What KSM logs through its tracepoints. */
FIXTURE(trace) {
	int unused;
};

FIXTURE_SETUP(trace)
{
	const char *why = no_tracing();

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ksmt_reset());
	ASSERT_EQ(0, ksmt_trace_clear());
}

FIXTURE_TEARDOWN(trace)
{
	EXPECT_EQ(0, ksmt_trace_restore());
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/*
 * Parses the payload of a ksm_merge_one_page line into *pfn and *err;
 * false if it does not have upstream's format.
 */
static bool merge_one_page_line(const char *rest, unsigned long *pfn,
				int *err)
{
	return sscanf(rest, "ksm pfn %lu rmap_item %*s mm %*s error %d",
		      pfn, err) == 2;
}

/*
 * A small merge (k copies of one content and z zero pages, with
 * use_zero_pages=1) with ksm_start_scan and ksm_merge_one_page enabled:
 * one ksm_start_scan line per pass begun, numbered on from the full_scans
 * value at the start; at least one successful merge logged by
 * ksm_merge_one_page, each with the frame of the page merged into (the
 * new KSM page, or the zero page).
 */
TEST_F_TIMEOUT(trace, small_merge, KSMT_TEST_TIMEOUT)
{
	const long k = 8, z = 8;
	unsigned long fs0, fs1, kpfn = 0, zero = ksmt_zero_pfn();
	long starts = 0, merges = 0, i;
	struct ksmt_counters c;
	struct ksmt_layout l;
	char rest[256], *text, *p;
	const char *pos;

	ASSERT_NE(0UL, zero);
	ASSERT_EQ(0, ksmt_write("use_zero_pages", "1"));
	/* Not thousands of passes per second: every one is a line. */
	ASSERT_EQ(0, ksmt_write_long("sleep_millisecs", 10));
	ASSERT_EQ(0, ksmt_layout_init(&l, 1, k, 0, z, 0xf401, 0xf402, 51));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_event_enable("ksm_start_scan", true));
	ASSERT_EQ(0, ksmt_event_enable("ksm_merge_one_page", true));
	fs0 = ksmt_full_scans();
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	fs1 = ksmt_full_scans();
	ASSERT_EQ(0, ksmt_event_enable("ksm_start_scan", false));
	ASSERT_EQ(0, ksmt_event_enable("ksm_merge_one_page", false));

	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(1, c.shared);
	EXPECT_EQ(k - 1, c.sharing);
	EXPECT_EQ(z, c.zero_pages);
	for (i = 0; i < (long)l.npages && !kpfn; i++)
		if (l.klass[i] == 0)
			ASSERT_EQ(0, ksmt_pfn(p + i * PAGE, &kpfn));
	ASSERT_NE(0UL, kpfn);

	text = ksmt_trace_read();
	ASSERT_NE(NULL, text);
	pos = text;
	while (ksmt_trace_next(&pos, "ksm_start_scan", rest, sizeof(rest),
			       NULL)) {
		long seq = -1;

		if (sscanf(rest, "seq %ld rmap size", &seq) != 1 ||
		    seq != (long)fs0 + starts)
			TH_LOG("ksm_start_scan #%ld: \"%s\", expected seq %ld",
			       starts, rest, (long)fs0 + starts);
		EXPECT_EQ((long)fs0 + starts, seq);
		starts++;
	}
	TH_LOG("full_scans %lu -> %lu, %ld ksm_start_scan lines", fs0, fs1,
	       starts);
	EXPECT_LE((long)(fs1 - fs0), starts);
	EXPECT_GE((long)(fs1 - fs0) + 1, starts);

	pos = text;
	while (ksmt_trace_next(&pos, "ksm_merge_one_page", rest, sizeof(rest),
			       NULL)) {
		unsigned long pfn = 0;
		int err = -1;

		EXPECT_TRUE(merge_one_page_line(rest, &pfn, &err));
		if (err)
			continue;
		merges++;
		if (pfn != kpfn && pfn != zero)
			TH_LOG("merged into pfn %lu: not %lu (KSM), %lu (zero)",
			       pfn, kpfn, zero);
		EXPECT_TRUE(pfn == kpfn || pfn == zero);
	}
	EXPECT_LT(0, merges);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));
	free(text);
	ksmt_layout_free(&l);
}

/*
 * As in upstream 6.12, every merge of a page with the zero page
 * (use_zero_pages=1) is logged by ksm_merge_one_page, with the zero
 * page's frame and error 0: z zero pages, z such lines.
 */
TEST_F_TIMEOUT(trace, zero_page_merges, KSMT_TEST_TIMEOUT)
{
	const long z = 16;
	unsigned long zero = ksmt_zero_pfn();
	long merges = 0, lines = 0;
	struct ksmt_counters c;
	char rest[256], *text, *p;
	const char *pos;

	ASSERT_NE(0UL, zero);
	ASSERT_EQ(0, ksmt_write("use_zero_pages", "1"));
	p = ksmt_map_zero(z);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_event_enable("ksm_merge_one_page", true));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_event_enable("ksm_merge_one_page", false));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ASSERT_EQ(z, c.zero_pages);

	text = ksmt_trace_read();
	ASSERT_NE(NULL, text);
	pos = text;
	while (ksmt_trace_next(&pos, "ksm_merge_one_page", rest, sizeof(rest),
			       NULL)) {
		unsigned long pfn = 0;
		int err = -1;

		lines++;
		EXPECT_TRUE(merge_one_page_line(rest, &pfn, &err));
		if (!err && pfn == zero)
			merges++;
	}
	TH_LOG("%ld ksm_merge_one_page lines, %ld zero-page merges", lines,
	       merges);
	EXPECT_EQ(z, merges);
	EXPECT_TRUE(ksmt_all_bytes_zero(p, z));
	free(text);
}

/*
 * As in upstream 6.12, ksm_merge_with_ksm_page logs every page that comes
 * to map a KSM page, with the KSM page's frame: k copies of one content,
 * k successful lines, the first (for the page that became the KSM page)
 * without the "ksm " prefix, the k - 1 others with it.
 */
TEST_F_TIMEOUT(trace, merge_with_ksm_page, KSMT_TEST_TIMEOUT)
{
	const long k = 8;
	long lines = 0, merges = 0, prefixed = 0;
	unsigned long kpfn = 0;
	struct ksmt_counters c;
	struct ksmt_layout l;
	char rest[256], *text, *p;
	const char *pos;

	ASSERT_EQ(0, ksmt_layout_init(&l, 1, k, 0, 0, 0xf801, 0xf802, 52));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ksmt_event_enable("ksm_merge_with_ksm_page", true));
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_event_enable("ksm_merge_with_ksm_page", false));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ASSERT_EQ(1, c.shared);
	ASSERT_EQ(k - 1, c.sharing);
	ASSERT_EQ(0, ksmt_pfn(p, &kpfn));

	text = ksmt_trace_read();
	ASSERT_NE(NULL, text);
	pos = text;
	while (ksmt_trace_next(&pos, "ksm_merge_with_ksm_page", rest,
			       sizeof(rest), NULL)) {
		bool ksm = !strncmp(rest, "ksm ", 4);
		unsigned long pfn = 0;
		int err = -1, got;

		lines++;
		got = sscanf(rest + (ksm ? 4 : 0),
			     "pfn %lu rmap_item %*s mm %*s error %d", &pfn,
			     &err);
		EXPECT_EQ(2, got);
		if (err)
			continue;
		merges++;
		prefixed += ksm;
		if (pfn != kpfn)
			TH_LOG("\"%s\": not the KSM page's pfn %lu", rest, kpfn);
		EXPECT_EQ(kpfn, pfn);
	}
	TH_LOG("%ld lines, %ld successful, %ld with a KSM page", lines,
	       merges, prefixed);
	EXPECT_EQ(k, merges);
	EXPECT_EQ(k - 1, prefixed);
	EXPECT_EQ(-1, ksmt_layout_check(&l, p));
	free(text);
	ksmt_layout_free(&l);
}

/*
 * ksm_enter and ksm_exit: a process that registers with MADV_MERGEABLE
 * logs one ksm_enter (from its own context) and, when it exits, one
 * ksm_exit for the same mm.
 */
TEST_F_TIMEOUT(trace, enter_exit, KSMT_TEST_TIMEOUT)
{
	char rest[256], mm[256] = "", *text;
	int enters = 0, exits = 0, who;
	const char *pos;
	pid_t pid;

	ASSERT_EQ(0, ksmt_event_enable("ksm_enter", true));
	ASSERT_EQ(0, ksmt_event_enable("ksm_exit", true));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *p = ksmt_map(1);

		_exit(p == MAP_FAILED || ksmt_mergeable(p, 1));
	}
	EXPECT_EQ(0, ksmt_child_status(pid));
	ASSERT_EQ(0, ksmt_event_enable("ksm_enter", false));
	ASSERT_EQ(0, ksmt_event_enable("ksm_exit", false));

	text = ksmt_trace_read();
	ASSERT_NE(NULL, text);
	pos = text;
	while (ksmt_trace_next(&pos, "ksm_enter", rest, sizeof(rest), &who)) {
		if (who != pid)
			continue;
		enters++;
		snprintf(mm, sizeof(mm), "%s", rest);
	}
	EXPECT_EQ(1, enters);
	ASSERT_EQ(0, strncmp(mm, "mm ", 3));
	pos = text;
	while (ksmt_trace_next(&pos, "ksm_exit", rest, sizeof(rest), NULL))
		if (!strcmp(rest, mm))
			exits++;
	EXPECT_EQ(1, exits);
	free(text);
}

TEST_HARNESS_MAIN
