/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Assertions on KSM counters for the KSM kselftests and the check of the
 * kernel's taint at the end of a test; include after kselftest_harness.h
 * and ksm_util.h. The assertions take the test's _metadata, so failures
 * count for the calling test.
 */
#ifndef KSM_HARNESS_H
#define KSM_HARNESS_H

/*
 * The global counters *c against the expectation *e. Tracked pages that
 * are not merged are pages_unshared (in the unstable tree) or
 * pages_volatile (in no tree): only their sum is checked here, the split
 * with ksmt_expect_split().
 */
static inline void ksmt_expect_global(struct __test_metadata *_metadata,
				      const struct ksmt_counters *c,
				      const struct ksmt_expect *e)
{
	if (c->shared != e->shared || c->sharing != e->sharing ||
	    c->unshared + c->volatile_ != e->unshared + e->volatile_ ||
	    c->zero_pages != e->zero_pages) {
		TH_LOG("want shared %ld sharing %ld unshared %ld volatile %ld zero %ld",
		       e->shared, e->sharing, e->unshared, e->volatile_,
		       e->zero_pages);
		TH_LOG("got shared %ld sharing %ld unshared %ld volatile %ld zero %ld",
		       c->shared, c->sharing, c->unshared, c->volatile_,
		       c->zero_pages);
	}
	EXPECT_EQ(e->shared, c->shared);
	EXPECT_EQ(e->sharing, c->sharing);
	EXPECT_EQ(e->unshared + e->volatile_, c->unshared + c->volatile_);
	EXPECT_EQ(e->zero_pages, c->zero_pages);
}

/* pages_unshared and pages_volatile of *c, each against *e. */
static inline void ksmt_expect_split(struct __test_metadata *_metadata,
				     const struct ksmt_counters *c,
				     const struct ksmt_expect *e)
{
	EXPECT_EQ(e->unshared, c->unshared);
	EXPECT_EQ(e->volatile_, c->volatile_);
}

/* One process's ksm_stat *st against the expectation *e. */
static inline void ksmt_expect_stat(struct __test_metadata *_metadata,
				    const struct ksmt_stat *st,
				    const struct ksmt_expect *e)
{
	if (st->rmap_items != e->rmap_items ||
	    st->merging_pages != e->merging ||
	    st->zero_pages != e->zero_pages) {
		TH_LOG("want ksm_stat rmap_items %ld merging %ld zero %ld",
		       e->rmap_items, e->merging, e->zero_pages);
		TH_LOG("got ksm_stat rmap_items %ld merging %ld zero %ld",
		       st->rmap_items, st->merging_pages, st->zero_pages);
	}
	EXPECT_EQ(e->rmap_items, st->rmap_items);
	EXPECT_EQ(e->merging, st->merging_pages);
	EXPECT_EQ(e->zero_pages, st->zero_pages);
}

/* ksm_process_profit of *st, given the rmap item size itemsize. */
static inline void ksmt_expect_profit(struct __test_metadata *_metadata,
				      const struct ksmt_stat *st,
				      long itemsize)
{
	EXPECT_EQ((st->merging_pages + st->zero_pages) * (long)KSMT_PAGE_SIZE -
		  st->rmap_items * itemsize, st->profit);
}

/*
 * The start of a test: unmerge all (run=2), require that nothing is merged
 * anywhere (nobody else uses KSM) and start counting full scans. Returns
 * false, having done nothing, where KSM cannot be driven: the test skips.
 */
static inline bool ksmt_start_clean(struct __test_metadata *_metadata)
{
	struct ksmt_counters c;

	if (!ksmt_available())
		return false;
	ASSERT_EQ(0, ksmt_reset());
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ASSERT_EQ(0, c.shared);
	ASSERT_EQ(0, c.sharing);
	ASSERT_EQ(0, c.zero_pages);
	ASSERT_EQ(0, ksmt_ticker());
	return true;
}

/* Every global counter back to zero within a few full scans. */
static inline void ksmt_assert_all_zero(struct __test_metadata *_metadata)
{
	struct ksmt_counters c;
	int err = ksmt_wait_zero(4, &c);
	long objects;

	if (err) {
		TH_LOG("not back to zero after 4 full scans:");
		TH_LOG("shared %ld sharing %ld unshared %ld volatile %ld zero %ld profit %ld",
		       c.shared, c.sharing, c.unshared, c.volatile_,
		       c.zero_pages, c.general_profit);
	}
	ASSERT_EQ(0, err);
	/* Counters can miss a KSM page no sharer stands for: look. */
	err = ksmt_no_ksm_pages();
	if (err)
		TH_LOG("a KSM page is left: max_page_sharing: %s",
		       strerror(-err));
	ASSERT_EQ(0, err);
	/* Nor may a node or an item be left in KSM's slab caches. */
	objects = ksmt_ksm_objects(false);
	if (objects == -ENOENT || objects == -EXDEV)
		TH_LOG("KSM's slab caches not counted: %s (slab_nomerge?)",
		       strerror(-objects));
	else
		ASSERT_EQ(0, objects);
}

/* The mapped pages at base hold what layout l says. */
static inline void ksmt_expect_layout(struct __test_metadata *_metadata,
				      const struct ksmt_layout *l,
				      const void *base)
{
	long bad = ksmt_layout_check(l, base);

	if (bad >= 0)
		TH_LOG("page %ld differs (class %d)", bad, l->klass[bad]);
	EXPECT_EQ(-1, bad);
}

/*
 * Lets ksmd settle, then checks the global counters and the caller's
 * ksm_stat against the layouts it holds; ksmd runs again afterwards.
 */
static inline void ksmt_settle_and_check(struct __test_metadata *_metadata,
					 struct ksmt_layout *const *ls, int n,
					 bool zero_merge, bool merged)
{
	struct ksmt_counters c;
	struct ksmt_expect e;
	struct ksmt_stat st;

	ASSERT_EQ(0, ksmt_settle(4));
	ASSERT_EQ(0, ksmt_expect_layouts(ls, n, zero_merge, merged, &e, NULL));
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ksmt_expect_global(_metadata, &c, &e);
	ASSERT_EQ(0, ksmt_read_stat(0, &st));
	ksmt_expect_stat(_metadata, &st, &e);
	ASSERT_EQ(0, ksmt_run(1));
}

/*
 * With ksmd stopped, and pids[] (0: us) the only processes that use KSM:
 * the global counters are the sum of their ksm_stat. KSM pages and their
 * sharers are the pages that map them; tracked pages are rmap items; the
 * profit of the processes exceeds general_profit by the pages_shared
 * that are counted as merging pages but save nothing.
 */
static inline void ksmt_expect_sum_of_stats(struct __test_metadata *_metadata,
					    const pid_t *pids, int n)
{
	struct ksmt_stat st, sum = { 0 };
	struct ksmt_counters c;
	int i;

	ASSERT_EQ(0, ksmt_read_counters(&c));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, ksmt_read_stat(pids[i], &st));
		sum.rmap_items += st.rmap_items;
		sum.merging_pages += st.merging_pages;
		sum.zero_pages += st.zero_pages;
		sum.profit += st.profit;
	}
	if (c.shared + c.sharing != sum.merging_pages ||
	    c.shared + c.sharing + c.unshared + c.volatile_ != sum.rmap_items ||
	    c.zero_pages != sum.zero_pages) {
		TH_LOG("global: shared %ld sharing %ld unshared %ld volatile %ld zero %ld",
		       c.shared, c.sharing, c.unshared, c.volatile_,
		       c.zero_pages);
		TH_LOG("ksm_stat: merging %ld rmap_items %ld zero %ld",
		       sum.merging_pages, sum.rmap_items, sum.zero_pages);
	}
	EXPECT_EQ(c.shared + c.sharing, sum.merging_pages);
	EXPECT_EQ(c.shared + c.sharing + c.unshared + c.volatile_,
		  sum.rmap_items);
	EXPECT_EQ(c.zero_pages, sum.zero_pages);
	EXPECT_EQ(c.shared * (long)PAGE, sum.profit - c.general_profit);
}

/* Every global counter is zero right now (after run=2, say). */
static inline void ksmt_expect_all_zero_now(struct __test_metadata *_metadata)
{
	struct ksmt_counters c;

	ASSERT_EQ(0, ksmt_read_counters(&c));
	EXPECT_EQ(0, c.shared);
	EXPECT_EQ(0, c.sharing);
	EXPECT_EQ(0, c.unshared);
	EXPECT_EQ(0, c.volatile_);
	EXPECT_EQ(0, c.zero_pages);
	EXPECT_EQ(0, c.general_profit);
	EXPECT_EQ(0, ksmt_get("stable_node_chains"));
	EXPECT_EQ(0, ksmt_get("stable_node_dups"));
}

/* The end of every teardown: no new taint; how long the test took. */
static inline void ksmt_test_end(struct __test_metadata *_metadata,
				 unsigned long before)
{
	unsigned long added = ksmt_read_taint() & ~before & KSMT_TAINT_BAD;

	if (added)
		TH_LOG("the kernel got tainted (%#lx): see the console", added);
	EXPECT_EQ(0UL, added);
	TH_LOG("took %.1f s", ksmt_now() - ksmt_test_started);
}

#endif /* KSM_HARNESS_H */
