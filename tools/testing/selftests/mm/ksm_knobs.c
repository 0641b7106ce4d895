// SPDX-License-Identifier: GPL-2.0
/*
 * KSM sysfs knobs: every writable file of /sys/kernel/mm/ksm accepts its
 * valid values and rejects bad input (not a number, negative, out of
 * range, trailing garbage, too large for its type) with the exact errno
 * of 6.12, keeping its old value; run takes only 0, 1 and 2;
 * max_page_sharing and merge_across_nodes refuse to change with EBUSY
 * while KSM pages exist; pages_to_scan belongs to the scan-time advisor
 * while that is on; the read-only counters refuse to be opened for
 * writing. Knobs that a kernel may lack (smart_scan, advisor_*) are
 * tested only where they exist.
 *
 * Writes are single write(2) calls on a fresh file descriptor, so the
 * errno is the one the kernel's store handler returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"

struct bad_input {
	const char *text;
	int err;
};

#define END	{ NULL, 0 }

/* kstrtouint(), any error reported as EINVAL. */
static const struct bad_input bad_uint[] = {
	{ "abc", EINVAL }, { "-1", EINVAL }, { "1x", EINVAL },
	{ "12 ", EINVAL }, { " 12", EINVAL }, { "1.5", EINVAL },
	{ "0x10", EINVAL }, { "\n", EINVAL }, { "1\n\n", EINVAL },
	{ "4294967296", EINVAL }, { "99999999999999999999999", EINVAL },
	END
};

/* run: a uint of at most 2. */
static const struct bad_input bad_run[] = {
	{ "3", EINVAL }, { "4", EINVAL }, { "5", EINVAL }, { "10", EINVAL },
	{ "abc", EINVAL }, { "-1", EINVAL }, { "1x", EINVAL },
	{ "2 ", EINVAL }, { "\n", EINVAL }, { "4294967296", EINVAL },
	{ "4294967297", EINVAL }, END
};

/* kstrtoul() errors as they are, then at most 1. */
static const struct bad_input bad_merge_across_nodes[] = {
	{ "2", EINVAL }, { "-1", EINVAL }, { "abc", EINVAL },
	{ "1x", EINVAL }, { "0 ", EINVAL }, { "\n", EINVAL },
	{ "4294967297", EINVAL }, { "18446744073709551616", ERANGE },
	END
};

/* kstrtoint() errors as they are, then at least 2. */
static const struct bad_input bad_max_page_sharing[] = {
	{ "1", EINVAL }, { "0", EINVAL }, { "-1", EINVAL },
	{ "-2147483648", EINVAL }, { "abc", EINVAL }, { "2x", EINVAL },
	{ "3 ", EINVAL }, { "\n", EINVAL }, { "2147483648", ERANGE },
	{ "99999999999999999999", ERANGE }, END
};

/* kstrtobool(): only the first one or two characters count. */
static const struct bad_input bad_bool[] = {
	{ "2", EINVAL }, { "-1", EINVAL }, { "x", EINVAL }, { "o", EINVAL },
	{ "ox", EINVAL }, { " 1", EINVAL }, { "\n", EINVAL }, END
};

/* Exactly "none" or "scan-time", with an optional newline. */
static const struct bad_input bad_advisor_mode[] = {
	{ "foo", EINVAL }, { "none2", EINVAL }, { " none", EINVAL },
	{ "scan_time", EINVAL }, { "Scan-time", EINVAL },
	{ "none\n\n", EINVAL }, { "\n", EINVAL }, END
};

/* kstrtoul(), any error reported as EINVAL. */
static const struct bad_input bad_ulong[] = {
	{ "abc", EINVAL }, { "-1", EINVAL }, { "1x", EINVAL },
	{ "7 ", EINVAL }, { "\n", EINVAL },
	{ "18446744073709551616", EINVAL }, END
};

/* advisor_target_scan_time: kstrtoul() and at least 1. */
static const struct bad_input bad_scan_time[] = {
	{ "0", EINVAL }, { "abc", EINVAL }, { "-1", EINVAL },
	{ "1x", EINVAL }, { "18446744073709551616", EINVAL }, END
};

/* Good input and what reading back shows; NULL ends the list. */
struct good_input {
	const char *text;
	const char *shown;
};

FIXTURE(knob) {
	int unused;
};

FIXTURE_VARIANT(knob) {
	const char *name;
	bool optional;		/* may be missing in a 6.12 kernel */
	const struct bad_input *bad;
	struct good_input good[6];
};

FIXTURE_VARIANT_ADD(knob, sleep_millisecs) {
	.name = "sleep_millisecs",
	.bad = bad_uint,
	.good = { { "7", "7" }, { "9\n", "9" }, { "+11", "11" },
		  { "0", "0" } },
};

FIXTURE_VARIANT_ADD(knob, pages_to_scan) {
	.name = "pages_to_scan",
	.bad = bad_uint,
	.good = { { "123", "123" }, { "4294967295", "4294967295" },
		  { "64\n", "64" } },
};

FIXTURE_VARIANT_ADD(knob, run) {
	.name = "run",
	.bad = bad_run,
	.good = { { "1", "1" }, { "0", "0" }, { "2", "2" }, { "1\n", "1" },
		  { "0", "0" } },
};

FIXTURE_VARIANT_ADD(knob, merge_across_nodes) {
	.name = "merge_across_nodes",
	.bad = bad_merge_across_nodes,
	.good = { { "0", "0" }, { "1", "1" }, { "0\n", "0" }, { "1", "1" } },
};

FIXTURE_VARIANT_ADD(knob, max_page_sharing) {
	.name = "max_page_sharing",
	.bad = bad_max_page_sharing,
	.good = { { "2", "2" }, { "300", "300" },
		  { "2147483647", "2147483647" }, { "256\n", "256" } },
};

FIXTURE_VARIANT_ADD(knob, stable_node_chains_prune_millisecs) {
	.name = "stable_node_chains_prune_millisecs",
	.bad = bad_uint,
	.good = { { "1500", "1500" }, { "0", "0" }, { "2000\n", "2000" } },
};

FIXTURE_VARIANT_ADD(knob, use_zero_pages) {
	.name = "use_zero_pages",
	.bad = bad_bool,
	.good = { { "1", "1" }, { "n", "0" }, { "Y", "1" }, { "off", "0" },
		  { "on", "1" }, { "0\n", "0" } },
};

FIXTURE_VARIANT_ADD(knob, smart_scan) {
	.name = "smart_scan",
	.optional = true,
	.bad = bad_bool,
	.good = { { "0", "0" }, { "y", "1" }, { "N", "0" }, { "1\n", "1" } },
};

FIXTURE_VARIANT_ADD(knob, advisor_mode) {
	.name = "advisor_mode",
	.optional = true,
	.bad = bad_advisor_mode,
	.good = { { "scan-time", "none [scan-time]" },
		  { "none", "[none] scan-time" },
		  { "scan-time\n", "none [scan-time]" },
		  { "none\n", "[none] scan-time" } },
};

FIXTURE_VARIANT_ADD(knob, advisor_max_cpu) {
	.name = "advisor_max_cpu",
	.optional = true,
	.bad = bad_ulong,
	.good = { { "50", "50" }, { "100\n", "100" } },
};

FIXTURE_VARIANT_ADD(knob, advisor_min_pages_to_scan) {
	.name = "advisor_min_pages_to_scan",
	.optional = true,
	.bad = bad_ulong,
	.good = { { "300", "300" }, { "700\n", "700" } },
};

FIXTURE_VARIANT_ADD(knob, advisor_max_pages_to_scan) {
	.name = "advisor_max_pages_to_scan",
	.optional = true,
	.bad = bad_ulong,
	.good = { { "20000", "20000" }, { "40000\n", "40000" } },
};

FIXTURE_VARIANT_ADD(knob, advisor_target_scan_time) {
	.name = "advisor_target_scan_time",
	.optional = true,
	.bad = bad_scan_time,
	.good = { { "1", "1" }, { "150\n", "150" } },
};

FIXTURE_SETUP(knob)
{
	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	if (!ksmt_exists(variant->name)) {
		if (variant->optional)
			SKIP(return, "%s: not in this kernel", variant->name);
		if (!strcmp(variant->name, "merge_across_nodes") &&
		    access("/sys/devices/system/node", F_OK))
			SKIP(return, "merge_across_nodes needs CONFIG_NUMA");
	}
	ASSERT_TRUE(ksmt_exists(variant->name));
	ASSERT_EQ(0, ksmt_reset());
}

FIXTURE_TEARDOWN(knob)
{
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/* write(2) of text in one call: 0 or -errno. */
static int write_knob(const char *name, const char *text)
{
	return ksmt_write(name, text);
}

/* Printable form of an input, for messages. */
static const char *show(const char *text, char *buf, size_t len)
{
	size_t i, j = 0;

	for (i = 0; text[i] && j + 3 < len; i++) {
		if (text[i] == '\n') {
			buf[j++] = '\\';
			buf[j++] = 'n';
		} else {
			buf[j++] = text[i];
		}
	}
	buf[j] = '\0';
	return buf;
}

TEST_F(knob, accepts_valid)
{
	char cur[64], in[64];
	int i;

	for (i = 0; i < 6 && variant->good[i].text; i++) {
		const struct good_input *g = &variant->good[i];
		int err = write_knob(variant->name, g->text);

		if (err)
			TH_LOG("%s <- \"%s\": %s", variant->name,
			       show(g->text, in, sizeof(in)), strerror(-err));
		EXPECT_EQ(0, err);
		ASSERT_EQ(0, ksmt_read_str(variant->name, cur, sizeof(cur)));
		EXPECT_STREQ(g->shown, cur);
	}
}

TEST_F(knob, rejects_invalid)
{
	const struct bad_input *b;
	char before[64], after[64], in[64];

	/* A value that is not the default, to see that it stays. */
	ASSERT_EQ(0, write_knob(variant->name, variant->good[0].text));
	ASSERT_EQ(0, ksmt_read_str(variant->name, before, sizeof(before)));
	ASSERT_STREQ(variant->good[0].shown, before);

	for (b = variant->bad; b->text; b++) {
		int err = write_knob(variant->name, b->text);

		if (err != -b->err)
			TH_LOG("%s <- \"%s\": expected %s, got %s",
			       variant->name, show(b->text, in, sizeof(in)),
			       strerror(b->err),
			       err ? strerror(-err) : "success");
		EXPECT_EQ(-b->err, err);
		ASSERT_EQ(0, ksmt_read_str(variant->name, after, sizeof(after)));
		EXPECT_STREQ(before, after);
	}
}

/* The read-only files: opening them for writing fails with EACCES. */
FIXTURE(counter) {
	int unused;
};

FIXTURE_VARIANT(counter) {
	const char *name;
	bool optional;
};

FIXTURE_VARIANT_ADD(counter, pages_scanned) {
	.name = "pages_scanned",
};

FIXTURE_VARIANT_ADD(counter, pages_shared) {
	.name = "pages_shared",
};

FIXTURE_VARIANT_ADD(counter, pages_sharing) {
	.name = "pages_sharing",
};

FIXTURE_VARIANT_ADD(counter, pages_unshared) {
	.name = "pages_unshared",
};

FIXTURE_VARIANT_ADD(counter, pages_volatile) {
	.name = "pages_volatile",
};

FIXTURE_VARIANT_ADD(counter, ksm_zero_pages) {
	.name = "ksm_zero_pages",
};

FIXTURE_VARIANT_ADD(counter, full_scans) {
	.name = "full_scans",
};

FIXTURE_VARIANT_ADD(counter, general_profit) {
	.name = "general_profit",
};

FIXTURE_VARIANT_ADD(counter, stable_node_chains) {
	.name = "stable_node_chains",
};

FIXTURE_VARIANT_ADD(counter, stable_node_dups) {
	.name = "stable_node_dups",
};

FIXTURE_VARIANT_ADD(counter, pages_skipped) {
	.name = "pages_skipped",
	.optional = true,
};

FIXTURE_SETUP(counter)
{
	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	if (variant->optional && !ksmt_exists(variant->name))
		SKIP(return, "%s: not in this kernel", variant->name);
}

FIXTURE_TEARDOWN(counter)
{
}

TEST_F(counter, read_only)
{
	char path[128];
	struct stat st;
	long val;
	int fd;

	snprintf(path, sizeof(path), KSMT_DIR "/%s", variant->name);
	if (stat(path, &st))
		TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0444U, st.st_mode & 07777);
	ASSERT_EQ(0, ksmt_read_long(variant->name, &val));

	fd = open(path, O_WRONLY);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EACCES, errno);
	if (fd >= 0)
		close(fd);
	fd = open(path, O_RDWR);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EACCES, errno);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(-EACCES, ksmt_write(variant->name, "0"));
}

/* Tests that need no more than saving and restoring the knobs. */
FIXTURE(plain) {
	int unused;
};

FIXTURE_SETUP(plain)
{
	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	ASSERT_EQ(0, ksmt_reset());
}

FIXTURE_TEARDOWN(plain)
{
	EXPECT_EQ(0, ksmt_restore_knobs());
}

/* Every writable file of 6.12 that a kernel has, mode 0644. */
TEST_F(plain, writable_modes)
{
	static const char * const rw[] = {
		"sleep_millisecs", "pages_to_scan", "run",
		"max_page_sharing", "stable_node_chains_prune_millisecs",
		"use_zero_pages", "merge_across_nodes", "smart_scan",
		"advisor_mode", "advisor_max_cpu",
		"advisor_min_pages_to_scan", "advisor_max_pages_to_scan",
		"advisor_target_scan_time",
	};
	char path[128];
	struct stat st;
	unsigned int i, seen = 0;

	for (i = 0; i < ARRAY_SIZE(rw); i++) {
		snprintf(path, sizeof(path), KSMT_DIR "/%s", rw[i]);
		if (stat(path, &st))
			continue;
		seen++;
		if ((st.st_mode & 07777) != 0644)
			TH_LOG("%s: mode %o", rw[i], st.st_mode & 07777);
		EXPECT_EQ(0644U, st.st_mode & 07777);
	}
	/* The ones every 6.12 kernel with KSM has. */
	EXPECT_LE(6U, seen);
}

/*
 * A knob that changes how KSM pages are organised cannot change while
 * KSM pages exist: EBUSY, and the value stays. Writing the current value
 * succeeds. Once run=2 has unmerged everything the change goes through.
 */
FIXTURE(busy) {
	char *p;
	struct ksmt_layout l;
};

FIXTURE_VARIANT(busy) {
	const char *name;
	const char *other;	/* a value different from the default */
};

FIXTURE_VARIANT_ADD(busy, max_page_sharing) {
	.name = "max_page_sharing",
	.other = "100",
};

FIXTURE_VARIANT_ADD(busy, merge_across_nodes) {
	.name = "merge_across_nodes",
	.other = "0",
};

FIXTURE_SETUP(busy)
{
	if (!ksmt_available())
		SKIP(return, "KSM sysfs missing or not root");
	if (!ksmt_exists(variant->name))
		SKIP(return, "%s: not in this kernel", variant->name);
	ASSERT_EQ(0, ksmt_reset());
	ASSERT_EQ(0, ksmt_ticker());
	ASSERT_EQ(0, ksmt_layout_init(&self->l, 4, 8, 8, 0, 0xb001, 0xb002,
				      40));
	self->p = ksmt_layout_map(&self->l);
	ASSERT_NE(MAP_FAILED, self->p);
}

FIXTURE_TEARDOWN(busy)
{
	EXPECT_EQ(0, ksmt_restore_knobs());
	ksmt_layout_free(&self->l);
}

static void expect_busy(struct __test_metadata *_metadata,
			const char *name, const char *other)
{
	char before[64], after[64];
	struct ksmt_counters c;

	ASSERT_EQ(0, ksmt_read_counters(&c));
	ASSERT_EQ(4, c.shared);
	ASSERT_EQ(0, ksmt_read_str(name, before, sizeof(before)));
	ASSERT_STRNE(other, before);
	EXPECT_EQ(-EBUSY, write_knob(name, other));
	ASSERT_EQ(0, ksmt_read_str(name, after, sizeof(after)));
	EXPECT_STREQ(before, after);
	/* The same value again is no change. */
	EXPECT_EQ(0, write_knob(name, before));
	ASSERT_EQ(0, ksmt_read_str(name, after, sizeof(after)));
	EXPECT_STREQ(before, after);
}

TEST_F_TIMEOUT(busy, ebusy_while_merged, KSMT_TEST_TIMEOUT)
{
	char cur[64];

	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(4));
	/* Stopped, with KSM pages. */
	expect_busy(_metadata, variant->name, variant->other);
	/* Running, with KSM pages. */
	ASSERT_EQ(0, ksmt_run(1));
	expect_busy(_metadata, variant->name, variant->other);

	ASSERT_EQ(0, ksmt_run(2));
	EXPECT_EQ(0, write_knob(variant->name, variant->other));
	ASSERT_EQ(0, ksmt_read_str(variant->name, cur, sizeof(cur)));
	EXPECT_STREQ(variant->other, cur);
	EXPECT_EQ(-1, ksmt_layout_check(&self->l, self->p));
}

/* With the scan-time advisor on, pages_to_scan is not the user's. */
TEST_F(plain, pages_to_scan_under_advisor)
{
	char cur[64];

	if (!ksmt_exists("advisor_mode"))
		SKIP(return, "advisor_mode: not in this kernel");
	ASSERT_EQ(0, ksmt_write("pages_to_scan", "321"));
	ASSERT_EQ(0, ksmt_write("advisor_mode", "scan-time"));
	ASSERT_EQ(0, ksmt_read_str("pages_to_scan", cur, sizeof(cur)));
	EXPECT_STRNE("321", cur);
	EXPECT_EQ(-EINVAL, ksmt_write("pages_to_scan", "222"));
	ASSERT_EQ(0, ksmt_write("advisor_mode", "none"));
	EXPECT_EQ(0, ksmt_write("pages_to_scan", "222"));
	ASSERT_EQ(0, ksmt_read_str("pages_to_scan", cur, sizeof(cur)));
	EXPECT_STREQ("222", cur);
}

TEST_HARNESS_MAIN
