// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the pure logic of the KSM trees: ordering by checksum,
 * insertion order among equal checksums in the unstable tree, content
 * ordering and duplicates in the stable tree, stale nodes met during a
 * lookup, collisions reported by insertion, and the arithmetic of the item's address and flag bits.
 */

#include <kunit/test.h>
#include <linux/rbtree.h>

#include "../internal.h"

/* A stable node whose "content" is an int, compared by the callback. */
struct fake_node {
	struct ksm_stable_node node;
	int content;
	bool stale;
};

static int fake_cmp(struct ksm_stable_node *node, void *arg)
{
	struct fake_node *fake = container_of(node, struct fake_node, node);
	int wanted = *(int *)arg;

	if (fake->stale)
		return KSM_CMP_STALE;
	return wanted < fake->content ? -1 : wanted > fake->content;
}

static void fake_insert(struct rb_root *root, struct fake_node *fake,
			u64 key, int content)
{
	fake->node.checksum = key;
	fake->content = content;
	ksm_stable_insert(root, &fake->node, fake_cmp, &fake->content);
}

static void unstable_orders_by_checksum(struct kunit *test)
{
	static const u64 keys[] = { 50, 30, 90, 10, 70 };
	struct ksm_item items[ARRAY_SIZE(keys)] = {};
	struct rb_root root = RB_ROOT;
	struct rb_node *n;
	u64 last = 0;
	int i, count = 0;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		items[i].checksum = keys[i];
		ksm_unstable_insert(&root, &items[i]);
	}
	for (n = rb_first(&root); n; n = rb_next(n), count++) {
		u64 key = rb_entry(n, struct ksm_item, unstable)->checksum;

		KUNIT_EXPECT_GE(test, key, last);
		last = key;
	}
	KUNIT_EXPECT_EQ(test, count, (int)ARRAY_SIZE(keys));
	KUNIT_EXPECT_PTR_EQ(test, ksm_unstable_first(&root, 70), &items[4]);
	KUNIT_EXPECT_NULL(test, ksm_unstable_first(&root, 60));
	KUNIT_EXPECT_NULL(test, ksm_unstable_first(&root, 100));
}

static void unstable_equal_keys_keep_insertion_order(struct kunit *test)
{
	struct ksm_item items[6] = {};
	static const u64 keys[] = { 7, 3, 7, 9, 7, 3 };
	struct rb_root root = RB_ROOT;
	struct ksm_item *item;
	int i;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		items[i].checksum = keys[i];
		ksm_unstable_insert(&root, &items[i]);
	}
	item = ksm_unstable_first(&root, 7);
	KUNIT_EXPECT_PTR_EQ(test, item, &items[0]);
	item = ksm_unstable_next_equal(item);
	KUNIT_EXPECT_PTR_EQ(test, item, &items[2]);
	item = ksm_unstable_next_equal(item);
	KUNIT_EXPECT_PTR_EQ(test, item, &items[4]);
	KUNIT_EXPECT_NULL(test, ksm_unstable_next_equal(item));

	item = ksm_unstable_first(&root, 3);
	KUNIT_EXPECT_PTR_EQ(test, item, &items[1]);
	KUNIT_EXPECT_PTR_EQ(test, ksm_unstable_next_equal(item), &items[5]);
}

static void stable_orders_by_checksum_then_content(struct kunit *test)
{
	struct fake_node nodes[5] = {};
	struct rb_root root = RB_ROOT;
	struct ksm_stable_node *found;
	int wanted;

	/* Two contents share checksum 40 (a collision). */
	fake_insert(&root, &nodes[0], 40, 2);
	fake_insert(&root, &nodes[1], 20, 9);
	fake_insert(&root, &nodes[2], 40, 1);
	fake_insert(&root, &nodes[3], 60, 5);
	fake_insert(&root, &nodes[4], 40, 3);

	wanted = 1;
	found = ksm_stable_find(&root, 40, fake_cmp, &wanted, NULL, NULL);
	KUNIT_EXPECT_PTR_EQ(test, found, &nodes[2].node);
	wanted = 3;
	found = ksm_stable_find(&root, 40, fake_cmp, &wanted, NULL, NULL);
	KUNIT_EXPECT_PTR_EQ(test, found, &nodes[4].node);
	wanted = 4;
	KUNIT_EXPECT_NULL(test, ksm_stable_find(&root, 40, fake_cmp, &wanted,
						NULL, NULL));
	/* Same content under another checksum is another page. */
	wanted = 9;
	KUNIT_EXPECT_NULL(test, ksm_stable_find(&root, 60, fake_cmp, &wanted,
						NULL, NULL));
}

static void stable_duplicates_newest_first(struct kunit *test)
{
	struct fake_node nodes[4] = {};
	struct rb_root root = RB_ROOT;
	struct ksm_stable_node *node;
	int wanted = 5, count = 0;

	fake_insert(&root, &nodes[0], 10, 5);
	fake_insert(&root, &nodes[1], 10, 6);
	fake_insert(&root, &nodes[2], 10, 5);
	fake_insert(&root, &nodes[3], 10, 5);

	/* The newest duplicate, the one likely to have room, comes first. */
	node = ksm_stable_find(&root, 10, fake_cmp, &wanted, NULL, NULL);
	KUNIT_ASSERT_NOT_NULL(test, node);
	KUNIT_EXPECT_PTR_EQ(test, node, &nodes[3].node);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_next_equal(node), &nodes[2].node);
	for (; node && !fake_cmp(node, &wanted);
	     node = ksm_stable_next_equal(node))
		count++;
	KUNIT_EXPECT_EQ(test, count, 3);
}

static int compares;

static int counting_cmp(struct ksm_stable_node *node, void *arg)
{
	compares++;
	return fake_cmp(node, arg);
}

static void stable_find_compares_a_chain_once(struct kunit *test)
{
	const int count = 15;
	struct fake_node *nodes;
	struct rb_root root = RB_ROOT;
	struct ksm_stable_node *found;
	int i, wanted = 7;

	nodes = kunit_kcalloc(test, count, sizeof(*nodes), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, nodes);
	/* A chain of 15 duplicates: a tree of depth 4, all one content. */
	for (i = 0; i < count; i++) {
		fake_insert(&root, &nodes[i], 99, 7);
		nodes[i].node.dup = true;
	}
	compares = 0;
	found = ksm_stable_find(&root, 99, counting_cmp, &wanted, NULL, NULL);
	KUNIT_EXPECT_PTR_EQ(test, found, &nodes[count - 1].node);
	KUNIT_EXPECT_EQ(test, compares, 1);
}

static void stable_find_gives_insertion_point(struct kunit *test)
{
	struct fake_node nodes[4] = {};
	struct rb_root root = RB_ROOT;
	struct rb_node **link, *parent, *n;
	u64 last = 0;
	int wanted = 8;

	fake_insert(&root, &nodes[0], 30, 1);
	fake_insert(&root, &nodes[1], 10, 1);
	fake_insert(&root, &nodes[2], 50, 1);

	KUNIT_EXPECT_NULL(test, ksm_stable_find(&root, 40, fake_cmp, &wanted,
						&link, &parent));
	KUNIT_ASSERT_NOT_NULL(test, link);
	nodes[3].node.checksum = 40;
	nodes[3].content = wanted;
	ksm_stable_link(&root, &nodes[3].node, link, parent);
	for (n = rb_first(&root); n; n = rb_next(n)) {
		u64 key = rb_entry(n, struct ksm_stable_node, tree)->checksum;

		KUNIT_EXPECT_GT(test, key, last);
		last = key;
	}
	KUNIT_EXPECT_EQ(test, last, 50ULL);
}

static void stable_find_reports_stale_node(struct kunit *test)
{
	struct fake_node nodes[3] = {};
	struct rb_root root = RB_ROOT;
	struct ksm_stable_node *found;
	struct rb_node **link, *parent;
	int wanted = 4;

	fake_insert(&root, &nodes[0], 20, 4);
	fake_insert(&root, &nodes[1], 10, 4);
	fake_insert(&root, &nodes[2], 30, 4);
	nodes[0].stale = true;

	found = ksm_stable_find(&root, 20, fake_cmp, &wanted, &link, &parent);
	KUNIT_EXPECT_PTR_EQ(test, found, &nodes[0].node);
	KUNIT_EXPECT_NULL(test, link);
	/* A stale node of another checksum is never compared, so not met. */
	found = ksm_stable_find(&root, 30, fake_cmp, &wanted, &link, &parent);
	KUNIT_EXPECT_PTR_EQ(test, found, &nodes[2].node);
	KUNIT_EXPECT_NOT_NULL(test, link);
}

/*
 * The insert that puts a second content under one checksum must say so,
 * whatever the order of the inserts and the shape of the tree; no insert
 * says so while each checksum has one content (duplicates included).
 */
static void stable_insert_reports_first_collision(struct kunit *test)
{
	enum { NODES = 24, ROUNDS = 200 };
	struct fake_node *nodes;
	u32 seed = 12345;
	int round, i;

	nodes = kunit_kcalloc(test, NODES, sizeof(*nodes), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, nodes);
	for (round = 0; round < ROUNDS; round++) {
		struct rb_root root = RB_ROOT;
		bool seen[3][2] = {};
		bool collided = false;

		memset(nodes, 0, NODES * sizeof(*nodes));
		for (i = 0; i < NODES; i++) {
			int key, content;
			bool said, mixed;

			seed = seed * 1103515245 + 12345;
			key = (seed >> 16) % 3;
			/* Content 1 under key 1 is rare: the collision. */
			content = key == 1 && (seed >> 8) % 8 == 0;
			seen[key][content] = true;
			nodes[i].node.checksum = 100 + key;
			nodes[i].content = content;
			said = ksm_stable_insert(&root, &nodes[i].node, fake_cmp,
						 &nodes[i].content);
			mixed = seen[key][0] && seen[key][1];
			/* Past the first, a collision may be met or not. */
			if (key != 1 || !collided)
				KUNIT_EXPECT_EQ_MSG(test, said, mixed,
						    "round %d insert %d", round,
						    i);
			collided |= mixed;
		}
	}
}

static void item_fields_do_not_overlap(struct kunit *test)
{
	struct ksm_block *block;
	struct mm_struct *mm;
	/* High in the address space, on 32-bit machines as on 64-bit ones. */
	unsigned long base = round_down(ULONG_MAX / 2, KSM_BLOCK_SPAN);
	unsigned int i;

	block = kunit_kzalloc(test, struct_size(block, items, KSM_BLOCK_ITEMS),
			      GFP_KERNEL);
	mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_ASSERT_NOT_NULL(test, mm);
	KUNIT_ASSERT_EQ(test, base % KSM_BLOCK_SPAN, 0UL);
	block->mm = mm;
	block->base = base;
	/* Every state bit, the largest generation and age, at every index. */
	for (i = 0; i < KSM_BLOCK_ITEMS; i++) {
		struct ksm_item *item = &block->items[i];

		item->flags = KSM_ITEM_STABLE | KSM_ITEM_UNSTABLE |
			      KSM_ITEM_HASHED | KSM_ITEM_LIVE |
			      KSM_ITEM_GEN_MASK | KSM_ITEM_AGE_MASK |
			      ((unsigned long)i << KSM_ITEM_INDEX_SHIFT);
		KUNIT_EXPECT_PTR_EQ(test, ksm_item_block(item), block);
		KUNIT_EXPECT_PTR_EQ(test, ksm_item_mm(item), mm);
		KUNIT_EXPECT_EQ(test, ksm_item_addr(item), base + i * PAGE_SIZE);
		KUNIT_EXPECT_EQ(test, ksm_item_gen(item), 0xffU);
		KUNIT_EXPECT_EQ(test, ksm_item_age(item), KSM_ITEM_AGE_MAX);
		item->flags &= KSM_ITEM_INDEX_MASK;
		KUNIT_EXPECT_EQ(test, ksm_item_gen(item), 0U);
		KUNIT_EXPECT_EQ(test, ksm_item_age(item), 0U);
		KUNIT_EXPECT_EQ(test, ksm_item_index(item), i);
	}
	/* The state bits, generation, age and index are disjoint. */
	KUNIT_EXPECT_EQ(test, KSM_ITEM_GEN_MASK & KSM_ITEM_AGE_MASK, 0UL);
	KUNIT_EXPECT_EQ(test, KSM_ITEM_AGE_MASK & KSM_ITEM_INDEX_MASK, 0UL);
	KUNIT_EXPECT_EQ(test, KSM_ITEM_GEN_MASK & 0xfUL, 0UL);
}

static void item_unstable_generation_wraps(struct kunit *test)
{
	struct ksm_item item = {};

	item.flags = KSM_ITEM_UNSTABLE | (0xffUL << KSM_ITEM_GEN_SHIFT);
	KUNIT_EXPECT_TRUE(test, ksm_item_in_unstable(&item, 0xff));
	KUNIT_EXPECT_TRUE(test, ksm_item_in_unstable(&item, 0x1ff));
	KUNIT_EXPECT_FALSE(test, ksm_item_in_unstable(&item, 0x100));
	item.flags &= ~KSM_ITEM_UNSTABLE;
	KUNIT_EXPECT_FALSE(test, ksm_item_in_unstable(&item, 0xff));
}

static struct kunit_case ksm_tree_cases[] = {
	KUNIT_CASE(unstable_orders_by_checksum),
	KUNIT_CASE(unstable_equal_keys_keep_insertion_order),
	KUNIT_CASE(stable_orders_by_checksum_then_content),
	KUNIT_CASE(stable_duplicates_newest_first),
	KUNIT_CASE(stable_find_compares_a_chain_once),
	KUNIT_CASE(stable_find_gives_insertion_point),
	KUNIT_CASE(stable_find_reports_stale_node),
	KUNIT_CASE(stable_insert_reports_first_collision),
	KUNIT_CASE(item_fields_do_not_overlap),
	KUNIT_CASE(item_unstable_generation_wraps),
	{}
};

static struct kunit_suite ksm_tree_suite = {
	.name = "ksm_tree",
	.test_cases = ksm_tree_cases,
};

kunit_test_suite(ksm_tree_suite);

MODULE_DESCRIPTION("KUnit tests for the KSM trees");
MODULE_LICENSE("GPL");
