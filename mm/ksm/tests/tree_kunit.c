// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the pure logic of the KSM trees: the unstable tree's
 * order by key and rank, its depth under ordered checksums and under one
 * key, and its removals; ordering by key, content ordering and duplicates
 * in the stable tree, stale nodes met during a lookup, collisions reported
 * and marked by insertion; the buckets of trees; and the arithmetic of
 * the item's address and state bits.
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
	fake->node.key = key;
	fake->content = content;
	ksm_stable_insert(root, &fake->node, fake_cmp, &fake->content);
}

/* Deeper than any tree the tests expect; not recursed into (stack). */
#define UNSTABLE_CHECK_DEPTH	128

/*
 * Checks the subtree at @item in order against ksm_unstable_before() (key,
 * then rank) and counts its items; *@depth becomes the deepest level seen.
 * Below UNSTABLE_CHECK_DEPTH nothing is counted, so a tree too deep fails
 * both its depth and its count.
 */
static unsigned int unstable_check(struct kunit *test, struct ksm_item *item,
				   const struct ksm_item **last,
				   unsigned int level, unsigned int *depth)
{
	unsigned int n;

	if (!item)
		return 0;
	*depth = max(*depth, level);
	if (level > UNSTABLE_CHECK_DEPTH)
		return 0;
	n = unstable_check(test, item->left, last, level + 1, depth);
	if (*last)
		KUNIT_EXPECT_TRUE(test, ksm_unstable_before(*last, item));
	*last = item;
	return n + 1 + unstable_check(test, item->right, last, level + 1,
				      depth);
}

static unsigned int unstable_count(struct kunit *test, struct ksm_item *root,
				   unsigned int *depth)
{
	const struct ksm_item *last = NULL;

	*depth = 0;
	return unstable_check(test, root, &last, 1, depth);
}

static void unstable_orders_by_key(struct kunit *test)
{
	static const u64 keys[] = { 50, 30, 90, 10, 70 };
	struct ksm_item items[ARRAY_SIZE(keys)] = {};
	struct ksm_item *root = NULL;
	unsigned int depth;
	int i;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		ksm_item_set_key(&items[i], keys[i]);
		ksm_unstable_insert(&root, &items[i]);
	}
	KUNIT_EXPECT_EQ(test, unstable_count(test, root, &depth),
			(unsigned int)ARRAY_SIZE(keys));
	KUNIT_EXPECT_PTR_EQ(test, ksm_unstable_find(root, 70, NULL), &items[4]);
	KUNIT_EXPECT_NULL(test, ksm_unstable_find(root, 70, &items[4]));
	KUNIT_EXPECT_NULL(test, ksm_unstable_find(root, 60, NULL));
	KUNIT_EXPECT_NULL(test, ksm_unstable_find(root, 100, NULL));
}

/*
 * Items of one key come in the tree's order, each once, whatever the order
 * they were inserted in; an item of another key is never among them.
 */
static void unstable_equal_keys_each_found_once(struct kunit *test)
{
	struct ksm_item items[6] = {};
	static const u64 keys[] = { 7, 3, 7, 9, 7, 3 };
	static const int order[] = { 4, 1, 0, 3, 5, 2 };
	struct ksm_item *root = NULL, *item, *prev;
	unsigned int seen = 0;
	int i;

	for (i = 0; i < ARRAY_SIZE(order); i++) {
		ksm_item_set_key(&items[order[i]], keys[order[i]]);
		ksm_unstable_insert(&root, &items[order[i]]);
	}
	for (prev = NULL, item = ksm_unstable_find(root, 7, NULL); item;
	     prev = item, item = ksm_unstable_find(root, 7, item)) {
		i = item - items;
		KUNIT_ASSERT_TRUE(test, i >= 0 && i < ARRAY_SIZE(items));
		KUNIT_EXPECT_EQ(test, ksm_item_key(item), 7ULL);
		KUNIT_EXPECT_FALSE(test, seen & BIT(i));
		seen |= BIT(i);
		if (prev)
			KUNIT_EXPECT_TRUE(test, ksm_unstable_before(prev, item));
	}
	KUNIT_EXPECT_EQ(test, seen, BIT(0) | BIT(2) | BIT(4));

	item = ksm_unstable_find(root, 3, NULL);
	KUNIT_ASSERT_NOT_NULL(test, item);
	prev = ksm_unstable_find(root, 3, item);
	KUNIT_ASSERT_NOT_NULL(test, prev);
	KUNIT_EXPECT_TRUE(test, item == &items[1] || item == &items[5]);
	KUNIT_EXPECT_TRUE(test, prev == &items[1] || prev == &items[5]);
	KUNIT_EXPECT_PTR_NE(test, item, prev);
	KUNIT_EXPECT_NULL(test, ksm_unstable_find(root, 3, prev));
}

#define UNSTABLE_MANY	4096

/*
 * Checksums that come in order (here 0, 1, 2, ...) would make a plain
 * search tree a list; their keyed hashes make it about 2 ln(n) deep. Then
 * every other item leaves, leaves and inner ones alike, and the rest stay
 * in order and findable.
 */
static void unstable_stays_shallow_and_removes(struct kunit *test)
{
	struct ksm_item *items, *root = NULL;
	unsigned int depth, i;

	items = kunit_kcalloc(test, UNSTABLE_MANY, sizeof(*items), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, items);
	for (i = 0; i < UNSTABLE_MANY; i++) {
		/* Duplicates too: every key twice. */
		ksm_item_set_key(&items[i], ksm_unstable_key(i / 2));
		ksm_unstable_insert(&root, &items[i]);
	}
	KUNIT_EXPECT_EQ(test, unstable_count(test, root, &depth),
			UNSTABLE_MANY);
	/* A random tree of 4096 is about 30 deep at most; a list, 4096. */
	KUNIT_EXPECT_LE(test, depth, 64U);

	for (i = 0; i < UNSTABLE_MANY; i += 2)
		KUNIT_EXPECT_TRUE(test, ksm_unstable_remove(&root, &items[i]));
	KUNIT_EXPECT_FALSE(test, ksm_unstable_remove(&root, &items[0]));
	KUNIT_EXPECT_EQ(test, unstable_count(test, root, &depth),
			UNSTABLE_MANY / 2);
	for (i = 1; i < UNSTABLE_MANY; i += 2)
		KUNIT_EXPECT_PTR_EQ(test,
				    ksm_unstable_find(root,
						      ksm_item_key(&items[i]),
						      NULL),
				    &items[i]);
	for (i = 1; i < UNSTABLE_MANY; i += 2)
		KUNIT_EXPECT_TRUE(test, ksm_unstable_remove(&root, &items[i]));
	KUNIT_EXPECT_NULL(test, root);
}

/*
 * Pages of different contents can be written to share a checksum, so many
 * items can share a key; their items come in address order (an mm's items
 * are allocated in blocks). Ordered by address they would make a list,
 * 4096 deep; ranked by a keyed hash, a random tree. All stay findable.
 */
static void unstable_equal_keys_stay_shallow(struct kunit *test)
{
	struct ksm_item *items, *root = NULL, *item;
	unsigned int depth, found = 0, i;

	items = kunit_kcalloc(test, UNSTABLE_MANY, sizeof(*items), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, items);
	for (i = 0; i < UNSTABLE_MANY; i++) {
		ksm_item_set_key(&items[i], 42);
		ksm_unstable_insert(&root, &items[i]);
	}
	KUNIT_EXPECT_EQ(test, unstable_count(test, root, &depth),
			UNSTABLE_MANY);
	KUNIT_EXPECT_LE(test, depth, 64U);
	for (item = ksm_unstable_find(root, 42, NULL); item;
	     item = ksm_unstable_find(root, 42, item))
		found++;
	KUNIT_EXPECT_EQ(test, found, UNSTABLE_MANY);
	for (i = 0; i < UNSTABLE_MANY; i++)
		KUNIT_EXPECT_TRUE(test, ksm_unstable_remove(&root, &items[i]));
	KUNIT_EXPECT_NULL(test, root);
}

static void stable_orders_by_key_then_content(struct kunit *test)
{
	struct fake_node nodes[5] = {};
	struct rb_root root = RB_ROOT;
	struct ksm_stable_node *found;
	int wanted;

	/* Two contents share key 40 (a collision). */
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
	/* Same content under another key is another page. */
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
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_same_key(node, true),
			    &nodes[2].node);
	for (; node && !fake_cmp(node, &wanted);
	     node = ksm_stable_same_key(node, true))
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
	nodes[3].node.key = 40;
	nodes[3].content = wanted;
	ksm_stable_link(&root, &nodes[3].node, link, parent);
	for (n = rb_first(&root); n; n = rb_next(n)) {
		u64 key = rb_entry(n, struct ksm_stable_node, tree)->key;

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
	/* A stale node of another key is never compared, so not met. */
	found = ksm_stable_find(&root, 30, fake_cmp, &wanted, &link, &parent);
	KUNIT_EXPECT_PTR_EQ(test, found, &nodes[2].node);
	KUNIT_EXPECT_NOT_NULL(test, link);
}

/*
 * Every node of @key has ->collided set if @mixed (the key holds two
 * contents), and none has it otherwise.
 */
static void expect_run_marked(struct kunit *test, struct rb_root *root,
			      u64 key, bool mixed)
{
	struct rb_node *n;

	for (n = rb_first(root); n; n = rb_next(n)) {
		struct ksm_stable_node *node;

		node = rb_entry(n, struct ksm_stable_node, tree);
		if (node->key == key)
			KUNIT_EXPECT_EQ(test, node->collided, mixed);
	}
}

/*
 * The insert that puts a second content under one key must say so,
 * whatever the order of the inserts and the shape of the tree; no insert
 * says so while each key has one content (duplicates included). From
 * then on every node of that key, those inserted later included, is
 * marked collided, and no node of another key is.
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
			nodes[i].node.key = 100 + key;
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
			for (key = 0; key < 3; key++)
				expect_run_marked(test, &root, 100 + key,
						  seen[key][0] && seen[key][1]);
		}
	}
}

/*
 * The buckets of trees: a key's low bits choose its bucket and its higher
 * bits do not, every bucket of an index is reached, and the indexes have
 * buckets of their own; for the stable and the unstable trees alike.
 */
static void trees_bucket_by_low_bits(struct kunit *test)
{
	unsigned long per_index = 1UL << ksm_stable_bits;
	u64 high = 0x5a5aULL << ksm_stable_bits;
	unsigned long i;

	/* Both kinds of roots change under ksm_lock. */
	mutex_lock(&ksm_lock);
	KUNIT_EXPECT_EQ(test, ksm_stable_buckets(),
			(unsigned long)ksm_stable_nr * per_index);
	for (i = 0; i < per_index; i++) {
		KUNIT_EXPECT_PTR_EQ(test, ksm_stable_root(0, i),
				    ksm_stable_root_at(i));
		KUNIT_EXPECT_PTR_EQ(test, ksm_stable_root(0, high | i),
				    ksm_stable_root_at(i));
	}
	/* Index 1's: stable_roots_follow_merge_across_nodes(). */

	per_index = 1UL << ksm_unstable_bits;
	high = 0x5a5aULL << ksm_unstable_bits;
	for (i = 0; i < per_index; i++) {
		KUNIT_EXPECT_PTR_EQ(test, ksm_unstable_root(0, i),
				    &ksm_unstable_roots[i]);
		KUNIT_EXPECT_PTR_EQ(test, ksm_unstable_root(0, high | i),
				    &ksm_unstable_roots[i]);
	}
	mutex_unlock(&ksm_lock);
}

/*
 * The boot sizes: one stable bucket per 64 pages of memory, rounded down to
 * a power of two (at most 2^16), and one unstable bucket per 512 (at most
 * 2^12). Memory may have come or gone since boot: the stable size is
 * checked within a factor of two, and the two sizes against each other,
 * which were taken from one count of pages.
 */
static void trees_sized_at_boot(struct kunit *test)
{
	unsigned long pages = totalram_pages();

	if (ksm_stable_bits < 16)
		KUNIT_EXPECT_TRUE_MSG(test,
				      (1UL << ksm_stable_bits) <= pages / 32 &&
				      (2UL << ksm_stable_bits) > pages / 128,
				      "2^%u stable buckets for %lu pages",
				      ksm_stable_bits, pages);
	KUNIT_EXPECT_LE(test, ksm_unstable_boot_bits, 12U);
	if (ksm_unstable_boot_bits && ksm_unstable_boot_bits < 12 &&
	    ksm_stable_bits < 16)
		KUNIT_EXPECT_EQ(test, ksm_stable_bits,
				ksm_unstable_boot_bits + 3);
}

/* Whether every stable tree is empty. */
static bool stable_roots_empty(void)
{
	unsigned long i;

	for (i = 0; i < ksm_stable_buckets(); i++)
		if (!RB_EMPTY_ROOT(ksm_stable_root_at(i)))
			return false;
	return true;
}

/*
 * The stable roots follow merge_across_nodes: index 0's only while it is 1,
 * every node's while it is 0, all empty, as the knob changes only while
 * there is no stable node; each index has buckets of its own. Done here
 * under ksm_lock as the knob's write does it, with the knob at 1
 * throughout, so that ksmd uses index 0 whatever the roots are meanwhile;
 * left as the knob has them.
 */
static void stable_roots_follow_merge_across_nodes(struct kunit *test)
{
	unsigned long per_index = 1UL << ksm_stable_bits;
	u64 high = 0x5a5aULL << ksm_stable_bits;

	if (ksm_nr_trees < 2)
		kunit_skip(test, "one NUMA node: one set of stable roots");
	mutex_lock(&ksm_lock);
	if (!READ_ONCE(ksm_knobs.merge_across_nodes) ||
	    !ksm_no_stable_nodes()) {
		mutex_unlock(&ksm_lock);
		kunit_skip(test, "merge_across_nodes is 0, or KSM pages exist");
	}
	KUNIT_EXPECT_EQ(test, ksm_stable_nr, 1);

	KUNIT_EXPECT_EQ(test, ksm_stable_roots_set_nodes(true), 0);
	KUNIT_EXPECT_EQ(test, ksm_stable_nr, ksm_nr_trees);
	KUNIT_EXPECT_EQ(test, ksm_stable_buckets(),
			(unsigned long)ksm_nr_trees * per_index);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_root(1, high),
			    ksm_stable_root_at(per_index));
	KUNIT_EXPECT_TRUE(test, stable_roots_empty());

	KUNIT_EXPECT_EQ(test, ksm_stable_roots_set_nodes(false), 0);
	KUNIT_EXPECT_EQ(test, ksm_stable_nr, 1);
	KUNIT_EXPECT_EQ(test, ksm_stable_buckets(), per_index);
	KUNIT_EXPECT_TRUE(test, stable_roots_empty());
	mutex_unlock(&ksm_lock);
}

/*
 * The unstable trees of a pass: one bucket per 4 to 8 items of the pass
 * before, between their boot size and one bucket per 4 pages of memory;
 * grown at once, shrunk only by two powers of two or more.
 */
static void unstable_sized_by_last_pass(struct kunit *test)
{
	unsigned int lo = ksm_unstable_next_bits(0, 0);
	unsigned int hi = ksm_unstable_next_bits(0, ULONG_MAX);
	unsigned int b;

	/* As many as at boot at least, one per 4 pages at most. */
	KUNIT_EXPECT_EQ(test, lo, ksm_unstable_boot_bits);
	KUNIT_EXPECT_LE(test, lo, hi);
	KUNIT_EXPECT_TRUE(test, hi == lo ||
			  (1UL << hi) <= totalram_pages() / 4);
	/* 2^b buckets hold 4 * 2^b to 8 * 2^b - 1 items. */
	for (b = lo; b <= hi; b++) {
		unsigned long least = 4UL << b, most = (8UL << b) - 1;

		KUNIT_EXPECT_EQ(test, ksm_unstable_next_bits(lo, least), b);
		KUNIT_EXPECT_EQ(test, ksm_unstable_next_bits(lo, most), b);
		/* A pass of one size more keeps them, of two shrinks them. */
		KUNIT_EXPECT_EQ(test, ksm_unstable_next_bits(b + 1, most),
				b + 1);
		KUNIT_EXPECT_EQ(test, ksm_unstable_next_bits(b + 2, most), b);
		KUNIT_EXPECT_EQ(test, ksm_unstable_next_bits(hi, least),
				b + 1 == hi ? hi : b);
	}
	KUNIT_EXPECT_EQ(test, ksm_unstable_next_bits(hi, 0), lo + 1 == hi ?
			hi : lo);
	if (lo > 0)
		KUNIT_EXPECT_EQ(test, ksm_unstable_next_bits(lo, 4UL << (lo - 1)),
				lo);
}

static void item_fields_do_not_overlap(struct kunit *test)
{
	struct ksm_stable_node *node;
	struct ksm_block *block;
	struct mm_struct *mm;
	/* High in the address space, on 32-bit machines as on 64-bit ones. */
	unsigned long base = round_down(ULONG_MAX / 2, KSM_BLOCK_SPAN);
	u64 key_max = KSM_KEY_BITS == 64 ? U64_MAX : BIT_ULL(KSM_KEY_BITS) - 1;
	unsigned int i;

	block = kunit_kzalloc(test, struct_size(block, items, KSM_BLOCK_ITEMS),
			      GFP_KERNEL);
	mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	node = kunit_kzalloc(test, sizeof(*node), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_ASSERT_NOT_NULL(test, mm);
	KUNIT_ASSERT_NOT_NULL(test, node);
	KUNIT_ASSERT_EQ(test, base % KSM_BLOCK_SPAN, 0UL);
	KUNIT_ASSERT_EQ(test, (unsigned long)node % KSM_NODE_ALIGN, 0UL);
	block->mm = mm;
	block->base = base;
	for (i = 0; i < KSM_BLOCK_ITEMS; i++) {
		struct ksm_item *item = &block->items[i];
		unsigned long where = KSM_ITEM_LIVE |
				      ((unsigned long)i << KSM_ITEM_INDEX_SHIFT);

		/* Not stable: every bit, the largest generation, age, key. */
		item->info = where | KSM_ITEM_UNSTABLE | KSM_ITEM_GEN_MASK |
			     KSM_ITEM_AGE_MASK;
		ksm_item_set_key(item, key_max);
		KUNIT_EXPECT_PTR_EQ(test, ksm_item_block(item), block);
		KUNIT_EXPECT_PTR_EQ(test, ksm_item_mm(item), mm);
		KUNIT_EXPECT_EQ(test, ksm_item_addr(item), base + i * PAGE_SIZE);
		KUNIT_EXPECT_EQ(test, ksm_item_gen(item), 0xffU);
		KUNIT_EXPECT_EQ(test, ksm_item_age(item), KSM_ITEM_AGE_MAX);
		KUNIT_EXPECT_EQ(test, ksm_item_key(item), key_max);
		KUNIT_EXPECT_TRUE(test, ksm_item_hashed(item));
		KUNIT_EXPECT_TRUE(test, ksm_item_marked(item));
		KUNIT_EXPECT_FALSE(test, ksm_item_stable(item));
		ksm_item_set_key(item, 0);
		KUNIT_EXPECT_EQ(test, ksm_item_key(item), 0ULL);
		KUNIT_EXPECT_EQ(test, ksm_item_age(item), KSM_ITEM_AGE_MAX);
		item->info &= KSM_ITEM_COMMON_MASK;
		KUNIT_EXPECT_EQ(test, ksm_item_gen(item), 0U);
		KUNIT_EXPECT_EQ(test, ksm_item_age(item), 0U);
		KUNIT_EXPECT_EQ(test, ksm_item_index(item), i);

		/* Stable: the node, and nothing else but where it is. */
		item->info = where | (unsigned long)node | KSM_ITEM_STABLE;
		KUNIT_EXPECT_PTR_EQ(test, ksm_item_node(item), node);
		KUNIT_EXPECT_PTR_EQ(test, ksm_item_block(item), block);
		KUNIT_EXPECT_EQ(test, ksm_item_index(item), i);
		KUNIT_EXPECT_EQ(test, ksm_item_age(item), 0U);
		KUNIT_EXPECT_FALSE(test, ksm_item_hashed(item));
		KUNIT_EXPECT_FALSE(test, ksm_item_marked(item));
		KUNIT_EXPECT_FALSE(test, ksm_item_in_unstable(item,
							      ksm_item_gen(item)));
	}
	/* The bits of each state are disjoint. */
	KUNIT_EXPECT_EQ(test, KSM_ITEM_GEN_MASK & KSM_ITEM_AGE_MASK, 0UL);
	KUNIT_EXPECT_EQ(test, (KSM_ITEM_GEN_MASK | KSM_ITEM_AGE_MASK |
			       KSM_ITEM_UNSTABLE | KSM_ITEM_HASHED) &
			KSM_ITEM_COMMON_MASK, 0UL);
	KUNIT_EXPECT_EQ(test, (KSM_ITEM_INDEX_MASK | KSM_ITEM_LIVE |
			       KSM_ITEM_STABLE) & ~KSM_ITEM_COMMON_MASK, 0UL);
	KUNIT_EXPECT_LT(test, KSM_ITEM_AGE_MASK, BIT(KSM_ITEM_KEY_SHIFT));
}

static void item_unstable_generation_wraps(struct kunit *test)
{
	struct ksm_item item = {};

	item.info = KSM_ITEM_UNSTABLE | (0xffUL << KSM_ITEM_GEN_SHIFT);
	KUNIT_EXPECT_TRUE(test, ksm_item_in_unstable(&item, 0xff));
	KUNIT_EXPECT_TRUE(test, ksm_item_in_unstable(&item, 0x1ff));
	KUNIT_EXPECT_FALSE(test, ksm_item_in_unstable(&item, 0x100));
	item.info &= ~KSM_ITEM_UNSTABLE;
	KUNIT_EXPECT_FALSE(test, ksm_item_in_unstable(&item, 0xff));
}

static struct kunit_case ksm_tree_cases[] = {
	KUNIT_CASE(unstable_orders_by_key),
	KUNIT_CASE(unstable_equal_keys_each_found_once),
	KUNIT_CASE(unstable_equal_keys_stay_shallow),
	KUNIT_CASE(unstable_stays_shallow_and_removes),
	KUNIT_CASE(stable_orders_by_key_then_content),
	KUNIT_CASE(stable_duplicates_newest_first),
	KUNIT_CASE(stable_find_compares_a_chain_once),
	KUNIT_CASE(stable_find_gives_insertion_point),
	KUNIT_CASE(stable_find_reports_stale_node),
	KUNIT_CASE(stable_insert_reports_first_collision),
	KUNIT_CASE(trees_bucket_by_low_bits),
	KUNIT_CASE(trees_sized_at_boot),
	KUNIT_CASE(stable_roots_follow_merge_across_nodes),
	KUNIT_CASE(unstable_sized_by_last_pass),
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
