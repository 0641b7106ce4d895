// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for KSM's arithmetic: the page checksum that keys the trees
 * and the page compare that merges, the counters a stable node's sharers
 * move (pages_shared, pages_sharing, per-mm merging pages) and the smart
 * scan age a sharer keeps aside, and the profit
 * and volatile-page formulas behind general_profit, pages_volatile and
 * ksm_process_profit.
 */

#include <kunit/test.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/log2.h>
#include <linux/mm_types.h>
#include <linux/rmap.h>

#include "../internal.h"

static struct page *filled_page(struct kunit *test, u8 fill)
{
	struct page *page = alloc_page(GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, page);
	memset_page(page, 0, fill, PAGE_SIZE);
	return page;
}

static void checksum_follows_content(struct kunit *test)
{
	struct page *a = filled_page(test, 0x5a);
	struct page *b = filled_page(test, 0x5a);
	u64 sum_a = ksm_page_checksum(a);

	KUNIT_EXPECT_EQ(test, sum_a, ksm_page_checksum(b));
	/* One bit in the last byte is enough to change the key. */
	memset_page(b, PAGE_SIZE - 1, 0x5b, 1);
	KUNIT_EXPECT_NE(test, sum_a, ksm_page_checksum(b));
	__free_page(a);
	__free_page(b);
}

static void checksum_of_zero_page(struct kunit *test)
{
	struct page *page = filled_page(test, 0);

	KUNIT_EXPECT_EQ(test, ksm_page_checksum(page), ksm_zero_checksum);
	memset_page(page, 100, 1, 1);
	KUNIT_EXPECT_NE(test, ksm_page_checksum(page), ksm_zero_checksum);
	__free_page(page);
}

/* Two pages differ in any one byte: wherever it is, it is seen. */
static void pages_same_sees_every_byte(struct kunit *test)
{
	struct page *a = alloc_page(GFP_KERNEL), *b = alloc_page(GFP_KERNEL);
	u8 *pb;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	pb = page_address(b);
	for (i = 0; i < PAGE_SIZE; i++)
		pb[i] = i * 7 + 3;
	memcpy(page_address(a), pb, PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, ksm_pages_same(a, b));
	for (i = 0; i < PAGE_SIZE; i++) {
		pb[i] ^= 0x80;
		KUNIT_EXPECT_FALSE_MSG(test, ksm_pages_same(a, b), "byte %u", i);
		KUNIT_EXPECT_FALSE(test, ksm_pages_same(b, a));
		pb[i] ^= 0x80;
	}
	KUNIT_EXPECT_TRUE(test, ksm_pages_same(a, b));
	KUNIT_EXPECT_TRUE(test, ksm_pages_same(a, a));
	__free_page(a);
	__free_page(b);
}

static void profit_formula(struct kunit *test)
{
	long item = KSM_ITEM_COST;

	KUNIT_EXPECT_EQ(test, ksm_profit(0, 0, 0), 0L);
	KUNIT_EXPECT_EQ(test, ksm_profit(9, 0, 10), 9 * (long)PAGE_SIZE - 10 * item);
	KUNIT_EXPECT_EQ(test, ksm_profit(3, 2, 0), 5 * (long)PAGE_SIZE);
	/* Scanning without merging costs memory: negative profit. */
	KUNIT_EXPECT_EQ(test, ksm_profit(0, 0, 100), -100 * item);
}

static void volatile_pages_never_negative(struct kunit *test)
{
	struct ksm_counters c = {
		.items = 20, .pages_shared = 2, .pages_sharing = 8,
		.pages_unshared = 4,
	};

	KUNIT_EXPECT_EQ(test, ksm_volatile_pages(&c), 6L);
	/* A torn read while ksmd works must not show a huge number. */
	c.items = 5;
	KUNIT_EXPECT_EQ(test, ksm_volatile_pages(&c), 0L);
}

static void sharers_move_counters(struct kunit *test)
{
	struct ksm_counters before = ksm_count;
	struct ksm_stable_node node = {};
	struct anon_vma *anon_vma;
	struct ksm_item *items, *item;
	struct ksm_block *block;
	struct mm_struct *mm;
	int i;

	mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	anon_vma = kunit_kzalloc(test, sizeof(*anon_vma), GFP_KERNEL);
	block = kunit_kzalloc(test, struct_size(block, items, KSM_BLOCK_ITEMS),
			      GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mm);
	KUNIT_ASSERT_NOT_NULL(test, anon_vma);
	KUNIT_ASSERT_NOT_NULL(test, block);
	block->mm = mm;
	items = block->items;
	/* Our own reference, so the sharers' puts never free it. */
	atomic_set(&anon_vma->refcount, 1);
	node.key = ksm_unstable_key(0x1234abcd5678ef90ULL);

	for (i = 0; i < 3; i++) {
		items[i].info = KSM_ITEM_LIVE |
				 ((unsigned long)i << KSM_ITEM_INDEX_SHIFT);
		ksm_sharer_add(&node, &items[i], anon_vma);
	}
	KUNIT_EXPECT_EQ(test, ksm_count.pages_shared, before.pages_shared + 1);
	KUNIT_EXPECT_EQ(test, ksm_count.pages_sharing, before.pages_sharing + 2);
	KUNIT_EXPECT_EQ(test, mm->ksm_merging_pages, 3UL);
	KUNIT_EXPECT_EQ(test, node.nr_sharers, 3U);
	KUNIT_EXPECT_EQ(test, atomic_read(&anon_vma->refcount), 4);
	KUNIT_EXPECT_TRUE(test, ksm_item_stable(&items[1]));
	KUNIT_EXPECT_PTR_EQ(test, ksm_item_node(&items[1]), &node);
	KUNIT_EXPECT_EQ(test, ksm_item_index(&items[1]), 1U);
	/* The newest first. */
	i = 2;
	for (item = node.sharers; item; item = item->next)
		KUNIT_EXPECT_PTR_EQ(test, item, &items[i--]);
	KUNIT_EXPECT_EQ(test, i, -1);

	/* From the middle of the list. */
	ksm_sharer_del(&items[1]);
	KUNIT_EXPECT_EQ(test, ksm_count.pages_sharing, before.pages_sharing + 1);
	KUNIT_EXPECT_FALSE(test, ksm_item_stable(&items[1]));
	KUNIT_EXPECT_EQ(test, ksm_item_index(&items[1]), 1U);
	KUNIT_EXPECT_TRUE(test, items[1].info & KSM_ITEM_LIVE);
	/* It keeps the key of the content, now its own. */
	KUNIT_EXPECT_TRUE(test, ksm_item_hashed(&items[1]));
	KUNIT_EXPECT_EQ(test, ksm_item_key(&items[1]), node.key);
	KUNIT_EXPECT_PTR_EQ(test, node.sharers, &items[2]);
	KUNIT_EXPECT_PTR_EQ(test, items[2].next, &items[0]);
	KUNIT_EXPECT_NULL(test, items[0].next);
	ksm_sharer_del(&items[0]);
	ksm_sharer_del(&items[2]);
	KUNIT_EXPECT_EQ(test, ksm_count.pages_shared, before.pages_shared);
	KUNIT_EXPECT_EQ(test, ksm_count.pages_sharing, before.pages_sharing);
	KUNIT_EXPECT_EQ(test, mm->ksm_merging_pages, 0UL);
	KUNIT_EXPECT_EQ(test, node.nr_sharers, 0U);
	KUNIT_EXPECT_EQ(test, atomic_read(&anon_vma->refcount), 1);
	KUNIT_EXPECT_NULL(test, node.sharers);
}

/* A stable node whose content is an int, for chains_counted_once(). */
struct int_node {
	struct ksm_stable_node node;
	int content;
};

static int int_node_cmp(struct ksm_stable_node *node, void *arg)
{
	int wanted = *(int *)arg;
	int content = container_of(node, struct int_node, node)->content;

	return wanted < content ? -1 : wanted > content;
}

/*
 * Nodes of one content joined one by one, as max_page_sharing fills each:
 * the second makes a chain of both, and every one after is a dup of that
 * one chain, past the two others at which the count stops walking. A node
 * of another content under the same key (a collision) is no dup. Under
 * ksm_lock, so that ksmd moves no counter meanwhile; what the test added
 * is taken off at the end.
 */
static void chains_counted_once(struct kunit *test)
{
	const int n = 6;
	struct ksm_counters before;
	struct rb_root root = RB_ROOT;
	struct int_node *nodes;
	int i;

	nodes = kunit_kcalloc(test, n + 1, sizeof(*nodes), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, nodes);
	for (i = 0; i <= n; i++) {
		nodes[i].node.key = 77;
		nodes[i].content = i < n ? 1 : 2;
	}
	mutex_lock(&ksm_lock);
	before = ksm_count;
	ksm_stable_insert(&root, &nodes[n].node, int_node_cmp,
			  &nodes[n].content);
	ksm_chain_joined(&nodes[n].node, int_node_cmp, &nodes[n].content);
	for (i = 0; i < n; i++) {
		ksm_stable_insert(&root, &nodes[i].node, int_node_cmp,
				  &nodes[i].content);
		ksm_chain_joined(&nodes[i].node, int_node_cmp,
				 &nodes[i].content);
		KUNIT_EXPECT_EQ(test, ksm_count.chains - before.chains,
				i ? 1UL : 0UL);
		KUNIT_EXPECT_EQ(test, ksm_count.dups - before.dups,
				i ? i + 1UL : 0UL);
		KUNIT_EXPECT_EQ(test, nodes[0].node.dup, i > 0);
		KUNIT_EXPECT_EQ(test, nodes[i].node.dup, i > 0);
	}
	KUNIT_EXPECT_FALSE(test, nodes[n].node.dup);
	ksm_count_add(&ksm_count.chains, -1);
	ksm_count_add(&ksm_count.dups, -n);
	mutex_unlock(&ksm_lock);
}

/*
 * A sharer keeps the smart scan age it had (halved, rounded down, at most
 * 14) and gets it back when it stops being one; the rmap walk sees the
 * anon_vma without it. With the look that merged it, the age is one more,
 * rounded up to an even number.
 */
static void sharers_keep_their_age(struct kunit *test)
{
	static const unsigned int ages[] = { 0, 1, 2, 5, 13, KSM_ITEM_AGE_MAX };
	struct ksm_stable_node node = {};
	struct anon_vma *anon_vma;
	struct ksm_block *block;
	struct ksm_item *item;
	unsigned int i, kept, max;

	anon_vma = kunit_kzalloc(test, sizeof(*anon_vma), GFP_KERNEL);
	block = kunit_kzalloc(test, struct_size(block, items, KSM_BLOCK_ITEMS),
			      GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, anon_vma);
	KUNIT_ASSERT_NOT_NULL(test, block);
	block->mm = kunit_kzalloc(test, sizeof(*block->mm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, block->mm);
	atomic_set(&anon_vma->refcount, 1);
	node.key = ksm_unstable_key(0x0123456789abcdefULL);
	max = KSM_SHARER_AGE_MASK * 2;
	KUNIT_EXPECT_LE(test, max, KSM_ITEM_AGE_MAX);

	for (i = 0; i < ARRAY_SIZE(ages); i++) {
		item = &block->items[i];
		item->info = KSM_ITEM_LIVE |
			     ((unsigned long)i << KSM_ITEM_INDEX_SHIFT) |
			     ((unsigned long)ages[i] << KSM_ITEM_AGE_SHIFT);
		kept = min(round_down(ages[i], 2), max);
		ksm_sharer_add(&node, item, anon_vma);
		KUNIT_EXPECT_PTR_EQ(test, ksm_sharer_anon_vma(item), anon_vma);
		KUNIT_EXPECT_EQ(test, ksm_sharer_age(item), kept);
		KUNIT_EXPECT_EQ(test, ksm_item_age(item), 0U);
		KUNIT_EXPECT_PTR_EQ(test, ksm_item_node(item), &node);
		/* The look that merged it counts, in the sharer's unit of two. */
		ksm_sharer_age_up(item);
		kept = min(round_up(ages[i] + 1, 2), max);
		KUNIT_EXPECT_EQ(test, ksm_sharer_age(item), kept);
		KUNIT_EXPECT_PTR_EQ(test, ksm_sharer_anon_vma(item), anon_vma);
		ksm_sharer_del(item);
		KUNIT_EXPECT_FALSE(test, ksm_item_stable(item));
		KUNIT_EXPECT_EQ(test, ksm_item_age(item), kept);
		KUNIT_EXPECT_EQ(test, ksm_item_index(item), i);
		KUNIT_EXPECT_EQ(test, ksm_item_key(item), node.key);
	}
	KUNIT_EXPECT_EQ(test, atomic_read(&anon_vma->refcount), 1);
	KUNIT_EXPECT_NULL(test, node.sharers);
}

static void item_is_small(struct kunit *test)
{
	/* One per page scanned: upstream's rmap_item is 64 bytes. */
	if (IS_ENABLED(CONFIG_64BIT)) {
		KUNIT_EXPECT_LE(test, sizeof(struct ksm_item), 24UL);
		KUNIT_EXPECT_LE(test, KSM_ITEM_COST, 26UL);
	}
	/* The index bits can name every item of a block. */
	KUNIT_EXPECT_EQ(test, KSM_ITEM_INDEX_MASK >> KSM_ITEM_INDEX_SHIFT,
			(unsigned long)KSM_BLOCK_ITEMS - 1);
	KUNIT_EXPECT_TRUE(test, is_power_of_2(KSM_BLOCK_ITEMS));
	/* A page alone in its span costs no more than upstream's item. */
	if (IS_ENABLED(CONFIG_64BIT))
		KUNIT_EXPECT_LE(test, struct_size_t(struct ksm_block, items, 1),
				48UL);
	/* One per KSM page: a cache line at most, merge domain included. */
	if (IS_ENABLED(CONFIG_64BIT))
		KUNIT_EXPECT_LE(test, sizeof(struct ksm_stable_node), 64UL);
	/* Aligned so that an item's info can hold a pointer to one. */
	KUNIT_EXPECT_EQ(test, __alignof__(struct ksm_stable_node),
			(size_t)KSM_NODE_ALIGN);
	/* Below the threshold, solo blocks cost less than a full one. */
	KUNIT_EXPECT_LT(test, (KSM_BLOCK_SOLO_MAX - 1) *
			struct_size_t(struct ksm_block, items, 1),
			struct_size_t(struct ksm_block, items,
				      KSM_BLOCK_ITEMS));
	KUNIT_EXPECT_GE(test, KSM_BLOCK_SOLO_MAX *
			struct_size_t(struct ksm_block, items, 1),
			struct_size_t(struct ksm_block, items,
				      KSM_BLOCK_ITEMS));
}

static void items_count_in_their_block(struct kunit *test)
{
	unsigned long items = ksm_count.items;
	struct ksm_block *block;
	struct ksm_item *a, *b;
	struct mm_struct *mm;

	mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mm);
	block = ksm_block_alloc(mm, 3 * KSM_BLOCK_SPAN, false);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_EXPECT_FALSE(test, ksm_block_live(block));
	a = ksm_item_init(block, 0);
	b = ksm_item_init(block, KSM_BLOCK_ITEMS - 1);
	KUNIT_EXPECT_TRUE(test, ksm_block_live(block));
	KUNIT_EXPECT_EQ(test, ksm_count.items, items + 2);
	KUNIT_EXPECT_EQ(test, mm->ksm_rmap_items, 2UL);
	KUNIT_EXPECT_EQ(test, ksm_item_addr(b),
			4 * KSM_BLOCK_SPAN - PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, ksm_block_end(block), 4 * KSM_BLOCK_SPAN);
	KUNIT_EXPECT_FALSE(test, b->info & (KSM_ITEM_STABLE |
					    KSM_ITEM_UNSTABLE |
					    KSM_ITEM_HASHED));
	ksm_item_free(a);
	KUNIT_EXPECT_FALSE(test, a->info & KSM_ITEM_LIVE);
	KUNIT_EXPECT_TRUE(test, ksm_block_live(block));
	ksm_item_free(b);
	KUNIT_EXPECT_FALSE(test, ksm_block_live(block));
	KUNIT_EXPECT_EQ(test, ksm_count.items, items);
	KUNIT_EXPECT_EQ(test, mm->ksm_rmap_items, 0UL);
	ksm_block_free(block);
}

static void solo_block_covers_one_page(struct kunit *test)
{
	/* Any page, not at the start of its span. */
	unsigned long addr = 3 * KSM_BLOCK_SPAN + 5 * PAGE_SIZE;
	unsigned long items = ksm_count.items;
	struct ksm_block *block;
	struct ksm_item *a;
	struct mm_struct *mm;

	mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mm);
	block = ksm_block_alloc(mm, addr, true);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_EXPECT_TRUE(test, ksm_block_solo(block));
	KUNIT_EXPECT_EQ(test, ksm_block_cap(block), 1U);
	KUNIT_EXPECT_EQ(test, ksm_block_base(block), addr);
	KUNIT_EXPECT_EQ(test, ksm_block_end(block), addr + PAGE_SIZE);
	a = ksm_item_init(block, 0);
	KUNIT_EXPECT_PTR_EQ(test, ksm_item_block(a), block);
	KUNIT_EXPECT_PTR_EQ(test, ksm_item_mm(a), mm);
	KUNIT_EXPECT_EQ(test, ksm_item_addr(a), addr);
	KUNIT_EXPECT_EQ(test, ksm_count.items, items + 1);
	KUNIT_EXPECT_TRUE(test, ksm_block_live(block));
	ksm_item_free(a);
	KUNIT_EXPECT_FALSE(test, ksm_block_live(block));
	KUNIT_EXPECT_EQ(test, ksm_count.items, items);
	ksm_block_free(block);
}

static struct kunit_case ksm_accounting_cases[] = {
	KUNIT_CASE(checksum_follows_content),
	KUNIT_CASE(checksum_of_zero_page),
	KUNIT_CASE(pages_same_sees_every_byte),
	KUNIT_CASE(profit_formula),
	KUNIT_CASE(volatile_pages_never_negative),
	KUNIT_CASE(sharers_move_counters),
	KUNIT_CASE(chains_counted_once),
	KUNIT_CASE(sharers_keep_their_age),
	KUNIT_CASE(item_is_small),
	KUNIT_CASE(items_count_in_their_block),
	KUNIT_CASE(solo_block_covers_one_page),
	{}
};

static struct kunit_suite ksm_accounting_suite = {
	.name = "ksm_accounting",
	.test_cases = ksm_accounting_cases,
};

kunit_test_suite(ksm_accounting_suite);

MODULE_DESCRIPTION("KUnit tests for KSM checksums and counters");
MODULE_LICENSE("GPL");
