// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for KSM's policies: how long smart scan leaves a page that
 * keeps failing to merge alone, at which looks a page with a key is
 * hashed, how the scan-time advisor moves pages_to_scan toward its target
 * under its CPU cap and bounds, and the salts that keep merge domains
 * apart.
 */

#include <kunit/test.h>
#include <linux/math64.h>
#include <linux/memcontrol.h>

#include "../internal.h"

static void smart_scan_gives_two_looks(struct kunit *test)
{
	/* One look learns the checksum, the next can merge: never skip. */
	KUNIT_EXPECT_EQ(test, ksm_skip_for_age(0), 0);
	KUNIT_EXPECT_EQ(test, ksm_skip_for_age(1), 0);
	KUNIT_EXPECT_EQ(test, ksm_skip_for_age(2), 0);
}

static void smart_scan_backs_off(struct kunit *test)
{
	unsigned int age, last = 0;

	for (age = 0; age <= U8_MAX; age++) {
		u8 skip = ksm_skip_for_age(age);

		KUNIT_EXPECT_GE(test, skip, last);
		KUNIT_EXPECT_LE(test, skip, 8);
		last = skip;
	}
	KUNIT_EXPECT_EQ(test, last, 8U);
	KUNIT_EXPECT_GT(test, ksm_skip_for_age(3), 0);
}

static void smart_scan_looks_once_per_period(struct kunit *test)
{
	unsigned int skip, pass, start, looks;

	for (skip = 0; skip <= 8; skip++) {
		for (start = 0; start < 20; start++) {
			looks = 0;
			for (pass = start; pass < start + skip + 1; pass++)
				looks += ksm_looks_this_pass(skip, pass, 0x7f12);
			KUNIT_EXPECT_EQ(test, looks, 1U);
		}
	}
	/* Pages of one age are not all looked at in the same pass. */
	KUNIT_EXPECT_NE(test, ksm_looks_this_pass(4, 10, 0),
			ksm_looks_this_pass(4, 10, 1));
}

static void hashing_skips_no_two_looks_in_a_row(struct kunit *test)
{
	unsigned int age;

	/* The first look learns the key; the second uses it unchecked. */
	KUNIT_EXPECT_TRUE(test, ksm_hashes_at_age(0));
	KUNIT_EXPECT_FALSE(test, ksm_hashes_at_age(1));
	for (age = 0; age < KSM_ITEM_AGE_MAX; age++)
		KUNIT_EXPECT_TRUE(test, ksm_hashes_at_age(age) ||
				  ksm_hashes_at_age(age + 1));
	/* The age stays at its limit: every look there hashes. */
	KUNIT_EXPECT_TRUE(test, ksm_hashes_at_age(KSM_ITEM_AGE_MAX));
}

static struct ksm_advice advice(unsigned long pages, u64 scan_ms,
				u64 target_ms, unsigned int cpu)
{
	struct ksm_advice in = {
		.pages_to_scan = pages, .scan_ms = scan_ms,
		.target_ms = target_ms, .cpu_percent = cpu, .max_cpu = 70,
		.min_pages = 500, .max_pages = 30000,
	};

	return in;
}

static void advisor_speeds_up_slow_passes(struct kunit *test)
{
	/* 4x too slow: the rate that hits the target is 4000; go halfway. */
	struct ksm_advice in = advice(1000, 400000, 100000, 10);

	KUNIT_EXPECT_EQ(test, ksm_advise(&in), 2500UL);
}

static void advisor_slows_down_fast_passes(struct kunit *test)
{
	struct ksm_advice in = advice(8000, 50000, 100000, 10);

	KUNIT_EXPECT_EQ(test, ksm_advise(&in), 6000UL);
}

static void advisor_converges(struct kunit *test)
{
	/* A pass of N pages at rate r takes N/r: iterate the real feedback. */
	const u64 pass_pages_ms = 4000ULL * 200000;
	struct ksm_advice in = advice(500, 0, 200000, 0);
	int i;

	for (i = 0; i < 20; i++) {
		in.scan_ms = div64_u64(pass_pages_ms, in.pages_to_scan);
		in.pages_to_scan = ksm_advise(&in);
	}
	KUNIT_EXPECT_GE(test, in.pages_to_scan, 3990UL);
	KUNIT_EXPECT_LE(test, in.pages_to_scan, 4010UL);
}

static void advisor_respects_cpu_cap(struct kunit *test)
{
	/* 50% CPU now; doubling would be 100%, the cap is 70%: 1400. */
	struct ksm_advice in = advice(1000, 900000, 100000, 50);

	KUNIT_EXPECT_EQ(test, ksm_advise(&in), 1400UL);
}

static void advisor_stays_in_bounds(struct kunit *test)
{
	struct ksm_advice in = advice(20000, 10000000, 1000, 1);

	KUNIT_EXPECT_EQ(test, ksm_advise(&in), 30000UL);
	in = advice(600, 0, 200000, 0);
	KUNIT_EXPECT_EQ(test, ksm_advise(&in), 500UL);
	in.target_ms = 0;
	KUNIT_EXPECT_LE(test, ksm_advise(&in), 30000UL);
}

static void global_scope_has_no_salt(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, ksm_domain_salt(KSM_SCOPE_GLOBAL, 0), 0ULL);
	KUNIT_EXPECT_EQ(test, ksm_domain_salt(KSM_SCOPE_GLOBAL, 12345), 0ULL);
}

#define KSM_TEST_DOMAINS	64

/* Every domain of every other scope: a salt of its own, never 0. */
static void domains_have_distinct_salts(struct kunit *test)
{
	u64 *salt = kunit_kcalloc(test, 2 * KSM_TEST_DOMAINS, sizeof(*salt),
				  GFP_KERNEL);
	unsigned int i, j;

	KUNIT_ASSERT_NOT_NULL(test, salt);
	for (i = 0; i < KSM_TEST_DOMAINS; i++) {
		salt[i] = ksm_domain_salt(KSM_SCOPE_CGROUP, i);
		salt[KSM_TEST_DOMAINS + i] = ksm_domain_salt(KSM_SCOPE_PROCESS,
							     i);
	}
	for (i = 0; i < 2 * KSM_TEST_DOMAINS; i++) {
		KUNIT_EXPECT_NE(test, salt[i], 0ULL);
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_NE(test, salt[i], salt[j]);
	}
	/* The same domain, the same salt. */
	KUNIT_EXPECT_EQ(test, ksm_domain_salt(KSM_SCOPE_CGROUP, 7), salt[7]);
}

static void scopes_supported(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, ksm_scope_supported(KSM_SCOPE_GLOBAL));
	KUNIT_EXPECT_TRUE(test, ksm_scope_supported(KSM_SCOPE_PROCESS));
	KUNIT_EXPECT_EQ(test, ksm_scope_supported(KSM_SCOPE_CGROUP),
			!mem_cgroup_disabled());
	KUNIT_EXPECT_FALSE(test, ksm_scope_supported(KSM_NR_SCOPES));
	KUNIT_EXPECT_FALSE(test, ksm_scope_supported(UINT_MAX));
}

static struct kunit_case ksm_policy_cases[] = {
	KUNIT_CASE(smart_scan_gives_two_looks),
	KUNIT_CASE(smart_scan_backs_off),
	KUNIT_CASE(smart_scan_looks_once_per_period),
	KUNIT_CASE(hashing_skips_no_two_looks_in_a_row),
	KUNIT_CASE(advisor_speeds_up_slow_passes),
	KUNIT_CASE(advisor_slows_down_fast_passes),
	KUNIT_CASE(advisor_converges),
	KUNIT_CASE(advisor_respects_cpu_cap),
	KUNIT_CASE(advisor_stays_in_bounds),
	KUNIT_CASE(global_scope_has_no_salt),
	KUNIT_CASE(domains_have_distinct_salts),
	KUNIT_CASE(scopes_supported),
	{}
};

static struct kunit_suite ksm_policy_suite = {
	.name = "ksm_policy",
	.test_cases = ksm_policy_cases,
};

kunit_test_suite(ksm_policy_suite);

MODULE_DESCRIPTION("KUnit tests for KSM's smart scan, advisor and domains");
MODULE_LICENSE("GPL");
