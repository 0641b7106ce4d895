/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Page contents for the KSM kselftests: deterministic pseudo-random
 * numbers, pages derived from a key, mergeable regions, layouts of group,
 * unique and zero pages, and the model of what a set of layouts merges
 * into once ksmd has settled. Part of ksm_util.h.
 */
#ifndef KSM_PAGES_H
#define KSM_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

struct ksmt_stat;

/* Deterministic pseudo-random numbers (splitmix64). */
struct ksmt_rng {
	u64 state;
};

u64 ksmt_mix(u64 x);
u64 ksmt_rand(struct ksmt_rng *rng);
unsigned long ksmt_rand_below(struct ksmt_rng *rng, unsigned long n);

/* Page contents: a page derived from a non-zero 64-bit key. */
void ksmt_fill_page(void *page, u64 key);
bool ksmt_page_is(const void *page, u64 key);

/* Private anonymous memory without THP; MAP_FAILED on failure. */
void *ksmt_map(size_t npages);
int ksmt_mergeable(void *addr, size_t npages);
/* Private, present, zero-filled pages in a mergeable area, or MAP_FAILED. */
char *ksmt_map_zero(long npages);
/* Whether the npages pages at p hold nothing but zero bytes. */
bool ksmt_all_bytes_zero(const char *p, long npages);

/*
 * A layout: npages pages, each either a copy of one of ngroups group
 * contents, a unique content, or zero. Group contents depend only on
 * group_ns and the group number, so layouts with the same group_ns share
 * them; unique contents depend on unique_ns and the page number.
 */
#define KSMT_UNIQUE	(-1)
#define KSMT_ZERO	(-2)

/* What ksmd can see of a page of a layout. */
#define KSMT_TRACKED	0	/* mapped in a mergeable VMA */
#define KSMT_UNTRACKED	1	/* mapped, but not mergeable or not present */
#define KSMT_UNMAPPED	2	/* gone */

struct ksmt_layout {
	size_t npages;
	int ngroups;
	int *klass;		/* group number, KSMT_UNIQUE or KSMT_ZERO */
	u64 *key;		/* content key, 0 for zero */
	unsigned char *state;	/* KSMT_TRACKED, ... */
	u64 group_ns;
	u64 unique_ns;
};

/*
 * Builds a shuffled layout with ngroups groups of per_group pages each,
 * nunique unique and nzero zero pages. Returns 0 or -ENOMEM.
 */
int ksmt_layout_init(struct ksmt_layout *l, int ngroups, int per_group,
		     int nunique, int nzero, u64 group_ns,
		     u64 unique_ns, u64 seed);
void ksmt_layout_free(struct ksmt_layout *l);
u64 ksmt_group_key(u64 group_ns, int group);
u64 ksmt_unique_key(u64 unique_ns, size_t index);
void ksmt_layout_fill(const struct ksmt_layout *l, void *base);
/* Index of the first mapped page that differs from the layout, or -1. */
long ksmt_layout_check(const struct ksmt_layout *l, const void *base);
/* Maps, fills and registers a layout: the region, or MAP_FAILED. */
char *ksmt_layout_map(const struct ksmt_layout *l);
/* Gives page i a new unique content (and writes it, if base is set). */
void ksmt_layout_make_unique(struct ksmt_layout *l, void *base, size_t i,
			     u64 key);

/*
 * Expected counters once ksmd has settled, for pages that are all present
 * and mergeable. Per content: c copies give one KSM page and c - 1
 * sharers (c <= max_page_sharing); a single copy is unshared unless the
 * caller says it still maps a KSM page (was_ksm[content] set).
 */
struct ksmt_expect {
	long shared;
	long sharing;
	long unshared;
	long zero_pages;	/* pages merged with the zero page */
	long rmap_items;	/* tracked pages: all but the zero pages */
	long merging;		/* pages that map a KSM page */
	long volatile_;		/* tracked pages in no tree */
};

/* Accumulates into *e the contribution of count copies of one content. */
void ksmt_expect_content(struct ksmt_expect *e, long count, bool was_ksm);

/*
 * The expected state of the tracked pages of n layouts (of one or more
 * processes) once ksmd has settled: totals in *total, and the per-process
 * fields (rmap_items, zero_pages, merging) of layout i in each[i] if each
 * is not NULL. zero_merge: use_zero_pages was set while zero pages were
 * merged. merged: every group content (and zero content without
 * zero_merge) that is down to one tracked copy had been merged before,
 * so that copy still maps its KSM page. Returns 0 or -ENOMEM.
 */
int ksmt_expect_layouts(struct ksmt_layout *const *ls, int n, bool zero_merge,
			bool merged, struct ksmt_expect *total,
			struct ksmt_expect *each);

/*
 * The size of an rmap item as ksm_stat's profit implies it:
 * (merging + zero) * page size - profit, divided by rmap_items. Returns
 * -1 unless that is a whole number of bytes between 1 and a page.
 */
long ksmt_item_size(const struct ksmt_stat *st);

#endif /* KSM_PAGES_H */
