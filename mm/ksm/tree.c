// SPDX-License-Identifier: GPL-2.0
/*
 * KSM trees: the stable and the unstable trees of each tree index (NUMA
 * node, or one index for all while merge_across_nodes). Both kinds are
 * ordered by the same key of a page's content (ksm_unstable_key()).
 * The stable tree is a red-black tree of nodes, equal keys told apart by
 * content through a callback, so this file touches no page. The unstable
 * tree is a plain binary search tree of items, ordered by their key and,
 * among equal keys, by a keyed hash of their address. Callers hold
 * ksm_lock. Nothing here sleeps or allocates after init but
 * ksm_unstable_begin(), at the start of a pass, and
 * ksm_stable_roots_set_nodes(), as merge_across_nodes changes.
 *
 * Why the unstable tree needs no balancing: an item's key is a keyed hash
 * of its checksum (ksm_unstable_key()), under a key drawn at boot. Nobody
 * can choose contents to make keys come in order, so the tree is a random
 * binary search tree whatever is inserted (contents made to share a
 * checksum share a key, and among those a keyed hash orders them too):
 * about 2 ln(n) deep on average (22 for 60,000 items), against log2(n) to
 * 2 log2(n) for a red-black tree. Without colours and parent pointers its
 * links take 16 bytes of an item instead of 24, which is what keeps an
 * item at 24 bytes. The tree is emptied at the end of every pass, so
 * deletions never wear it down.
 *
 * The keys of each tree index are split into buckets by their low bits,
 * and each bucket has a stable and an unstable tree, each an array of
 * roots: a lookup indexes its bucket, then walks a tree of a few dozen
 * nodes instead of one of all of them. The keys are uniform, so the
 * buckets fill evenly; all nodes and items of one key are in one bucket,
 * where they are ordered as in one tree. The stable buckets are sized at
 * boot from the memory there is: one per 64 pages
 * (KSM_STABLE_PAGES_PER_BUCKET) rounded down to a power of two, at most
 * 65536; a VM of 2 GiB (some 508,000 pages) has 4096 (32 KiB) per tree
 * index. A tree so holds as many nodes as there are KSM pages in 64 to
 * 128 pages of memory, up to 16 GiB: a few dozen at most, and 16 to 32
 * where a quarter of memory is KSM pages. The unstable trees are
 * emptied every pass: each pass gets one bucket per 2 to 8 items of the
 * pass before (ksm_unstable_next_bits()), 1 to 4 bytes per item, so that
 * its trees stay a few items deep however much memory is scanned. Their
 * boot buckets, the least a pass gets, are fewer (one per 512 pages, at
 * most 4096): the roots are cleared at every pass, however few pages it
 * scans.
 */

#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/random.h>
#include <linux/siphash.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "internal.h"

/*
 * Pages of memory per bucket at boot, and the most buckets: of the stable
 * trees, and of the unstable trees at boot (the least a pass gets).
 */
#define KSM_STABLE_PAGES_PER_BUCKET	64
#define KSM_STABLE_MAX_BUCKET_BITS	16U
#define KSM_UNSTABLE_BOOT_PAGES_PER_BUCKET	512
#define KSM_UNSTABLE_BOOT_MAX_BUCKET_BITS	12U
/* Items per bucket the unstable trees of a pass are sized for, at least. */
#define KSM_UNSTABLE_ITEMS_PER_BUCKET	4

/*
 * Buckets of trees per tree index. The stable roots have index 0's only
 * while merge_across_nodes, which can change only while there is no
 * stable node: each NUMA node gets its own when it becomes 0
 * (ksm_stable_roots_set_nodes()).
 */
static struct rb_root ksm_boot_stable_root = RB_ROOT;
static struct ksm_item *ksm_boot_unstable_root;
struct rb_root *ksm_stable_roots = &ksm_boot_stable_root;
unsigned int ksm_stable_bits __ro_after_init;
int ksm_stable_nr = 1;
/* Index 0's stable roots allocated at boot, kept for merge_across_nodes. */
static struct rb_root *ksm_stable_boot_roots __ro_after_init =
	&ksm_boot_stable_root;
struct ksm_item **ksm_unstable_roots = &ksm_boot_unstable_root;
unsigned int ksm_unstable_bits;
int ksm_nr_trees __ro_after_init = 1;
/*
 * The unstable roots allocated at boot, for every index,
 * 2^ksm_unstable_boot_bits each: the least a pass gets, and what it falls
 * back to.
 */
static struct ksm_item **ksm_unstable_boot_roots __ro_after_init =
	&ksm_boot_unstable_root;
unsigned int ksm_unstable_boot_bits __ro_after_init;
/* Tree indexes in ksm_unstable_roots, and the most bits it may have. */
static int ksm_unstable_nr = 1;
static unsigned int ksm_unstable_max_bits __ro_after_init;
/*
 * Items put into the unstable trees of each tree index since they were
 * last emptied (one counter, unless there are NUMA nodes), and whether
 * they were emptied since ksm_unstable_begin() last cleared the roots.
 */
static unsigned long ksm_unstable_boot_added;
static unsigned long *ksm_unstable_added __ro_after_init =
	&ksm_unstable_boot_added;
static bool ksm_unstable_stale;
static siphash_key_t ksm_unstable_secret __ro_after_init;
/* Counts the unstable trees emptied, for the order of equal keys. */
static u64 ksm_unstable_pass;

/* Allocates the stable roots of @nr indexes of 2^@bits buckets. */
static struct rb_root *ksm_stable_roots_alloc(int nr, unsigned int bits,
					      gfp_t gfp)
{
	unsigned long i, n = (unsigned long)nr << bits;
	struct rb_root *roots = kvmalloc_array(n, sizeof(*roots), gfp);

	for (i = 0; roots && i < n; i++)
		roots[i] = RB_ROOT;
	return roots;
}

/* The bits of one bucket per @pages_per_bucket pages of memory, at most. */
static unsigned int __init ksm_boot_bits(unsigned long pages_per_bucket,
					 unsigned int max_bits)
{
	unsigned long buckets = totalram_pages() / pages_per_bucket;
	unsigned int bits = buckets > 1 ? ilog2(buckets) : 0;

	return min(bits, max_bits);
}

/**
 * ksm_trees_init() - allocate the buckets of trees
 *
 * The stable roots of index 0, which serves every node while
 * merge_across_nodes, and the unstable boot roots of each NUMA node.
 * Every index is sized for all of memory. Without the memory for that,
 * the stable buckets are as few as the unstable ones; failing that too,
 * one bucket per index does (a machine of one node needs no allocation
 * for it).
 *
 * Return: 0, or -ENOMEM.
 */
int __init ksm_trees_init(void)
{
	unsigned int bits = ksm_boot_bits(KSM_STABLE_PAGES_PER_BUCKET,
					  KSM_STABLE_MAX_BUCKET_BITS);
	unsigned int ubits = ksm_boot_bits(KSM_UNSTABLE_BOOT_PAGES_PER_BUCKET,
					   KSM_UNSTABLE_BOOT_MAX_BUCKET_BITS);
	int nr = IS_ENABLED(CONFIG_NUMA) && nr_node_ids > 1 ? nr_node_ids : 1;
	struct ksm_item **unstable;
	struct rb_root *stable;

	get_random_bytes(&ksm_unstable_secret, sizeof(ksm_unstable_secret));
	if (nr > 1) {
		ksm_unstable_added = kcalloc(nr, sizeof(*ksm_unstable_added),
					     GFP_KERNEL);
		if (!ksm_unstable_added)
			return -ENOMEM;
	}
	ksm_unstable_max_bits = ksm_boot_bits(KSM_UNSTABLE_ITEMS_PER_BUCKET,
					      BITS_PER_LONG - 1);
	for (;;) {
		stable = ksm_stable_roots_alloc(1, bits, GFP_KERNEL);
		/* Zeroed: an empty unstable tree is NULL. */
		unstable = kvcalloc((unsigned long)nr << ubits,
				    sizeof(*unstable), GFP_KERNEL);
		if (stable && unstable)
			break;
		kvfree(stable);
		kvfree(unstable);
		if (!bits && !ubits)
			return nr > 1 ? -ENOMEM : 0;
		/* As many stable buckets as unstable ones, then one each. */
		if (bits > ubits) {
			bits = ubits;
		} else {
			bits = 0;
			ubits = 0;
		}
	}
	ksm_stable_roots = stable;
	ksm_stable_boot_roots = stable;
	ksm_unstable_roots = unstable;
	ksm_unstable_boot_roots = unstable;
	ksm_nr_trees = nr;
	ksm_unstable_nr = nr;
	ksm_stable_bits = bits;
	ksm_unstable_bits = ubits;
	ksm_unstable_boot_bits = ubits;
	ksm_unstable_max_bits = max(ksm_unstable_max_bits, ubits);
	return 0;
}

/**
 * ksm_stable_roots_set_nodes() - stable trees per NUMA node, or one set
 * @per_node: each node gets stable trees of its own (merge_across_nodes
 *	becomes 0), or index 0's serve all (it becomes 1)
 *
 * On a machine of many nodes, the roots of every node but the first
 * would lie unused while merge_across_nodes (the default): up to 512 KiB
 * each on 64-bit. An array for every node is allocated when the knob
 * becomes 0, as the knob's write asks, and freed when it becomes 1 again;
 * index 0's roots from boot serve meanwhile, so that going back never
 * fails. Called under ksm_lock, while there is no stable node: every tree
 * is empty, and the new roots are.
 *
 * Return: 0, or -ENOMEM (nothing changed) for @per_node.
 */
int ksm_stable_roots_set_nodes(bool per_node)
{
	int nr = per_node ? ksm_nr_trees : 1;
	struct rb_root *roots = ksm_stable_boot_roots;

	lockdep_assert_held(&ksm_lock);
	VM_WARN_ON_ONCE(!ksm_no_stable_nodes());
	if (nr == ksm_stable_nr)
		return 0;
	if (nr > 1) {
		roots = ksm_stable_roots_alloc(nr, ksm_stable_bits,
					       GFP_KERNEL | __GFP_NOWARN);
		if (!roots)
			return -ENOMEM;
	}
	if (ksm_stable_roots != ksm_stable_boot_roots)
		kvfree(ksm_stable_roots);
	ksm_stable_roots = roots;
	ksm_stable_nr = nr;
	return 0;
}

/**
 * ksm_unstable_next_bits() - the size of the unstable trees of a pass
 * @cur: the bits of the trees of the pass that ends
 * @items: how many items that pass put into them
 *
 * One bucket per KSM_UNSTABLE_ITEMS_PER_BUCKET items to twice that, never
 * fewer buckets than at boot (ksm_unstable_boot_bits). Grows at once, but
 * keeps its size while there are 2 items per bucket or more, so that a
 * count near a power of two does not change it every pass: one bucket per
 * 2 to 8 items.
 *
 * Return: the bits of the trees of the next pass.
 */
unsigned int ksm_unstable_next_bits(unsigned int cur, unsigned long items)
{
	unsigned long buckets = items / KSM_UNSTABLE_ITEMS_PER_BUCKET;
	unsigned int bits = buckets > 1 ? ilog2(buckets) : 0;

	bits = clamp(bits, ksm_unstable_boot_bits, ksm_unstable_max_bits);
	return bits + 1 == cur ? cur : bits;
}

/*
 * Sizes the unstable roots for the pass that starts: every tree index
 * for the most items one of them got last pass (ksm_unstable_next_bits()),
 * and only the tree indexes merge_across_nodes uses. Allocated apart from
 * the boot roots, with vmalloc: the array is a few bytes per item, and
 * /proc/vmallocinfo shows it. Without the memory (it is not worth
 * reclaiming hard for), the roots stay as they are, or go back to the
 * boot ones if they lack a node that now has trees of its own.
 */
static void ksm_unstable_resize(void)
{
	int i, nr = READ_ONCE(ksm_knobs.merge_across_nodes) ? 1 : ksm_nr_trees;
	unsigned long items = 0;
	struct ksm_item **roots;
	unsigned int bits;

	for (i = 0; i < ksm_nr_trees; i++) {
		items = max(items, ksm_unstable_added[i]);
		ksm_unstable_added[i] = 0;
	}
	bits = ksm_unstable_next_bits(ksm_unstable_bits, items);
	/* The boot array, of that size, has every index. */
	if (bits == ksm_unstable_boot_bits)
		nr = ksm_nr_trees;

	if (nr == ksm_unstable_nr && bits == ksm_unstable_bits)
		return;
	roots = ksm_unstable_boot_roots;
	if (bits != ksm_unstable_boot_bits) {
		roots = __vmalloc(array_size((size_t)nr << bits,
					     sizeof(*roots)),
				  GFP_KERNEL | __GFP_NOWARN |
				  __GFP_RETRY_MAYFAIL);
		if (!roots) {
			/* No memory: keep the array, if it has the indexes. */
			if (nr <= ksm_unstable_nr)
				return;
			roots = ksm_unstable_boot_roots;
			nr = ksm_nr_trees;
			bits = ksm_unstable_boot_bits;
		}
	}
	if (ksm_unstable_roots != ksm_unstable_boot_roots)
		vfree(ksm_unstable_roots);
	ksm_unstable_roots = roots;
	ksm_unstable_nr = nr;
	ksm_unstable_bits = bits;
}

/**
 * ksm_unstable_key() - the key of a checksum, in both trees
 * @checksum: the (salted) checksum of a page
 *
 * Return: a keyed hash of @checksum, KSM_KEY_BITS wide.
 */
u64 ksm_unstable_key(u64 checksum)
{
	return siphash_1u64(checksum, &ksm_unstable_secret) >>
	       (64 - KSM_KEY_BITS);
}

/*
 * Whether @a goes before @b among the items of one key: by a keyed hash of
 * their addresses and of the pass, then by address. Items of one key are
 * rare, but anyone can make them: the checksum is not keyed, so pages of
 * different contents with one checksum can be written on purpose. Ordered
 * by address, such items would come in order and make a list that every
 * insertion walks; so ordered they make a random tree, like the keys. And
 * as a page tries only the first few items of its key (merge.c), the order
 * changes every pass: pages made to share a twin's key may keep it from
 * its twin for a pass, not for good. Looks at no key: out of line, as
 * ties are rare.
 */
static noinline bool ksm_unstable_tie(const struct ksm_item *a,
				      const struct ksm_item *b)
{
	u64 ha = siphash_2u64((unsigned long)a, ksm_unstable_pass,
			      &ksm_unstable_secret);
	u64 hb = siphash_2u64((unsigned long)b, ksm_unstable_pass,
			      &ksm_unstable_secret);

	return ha < hb || (ha == hb && (unsigned long)a < (unsigned long)b);
}

/* Whether @a goes before @b: by key, then ksm_unstable_tie(). */
static __always_inline bool ksm_unstable_order(const struct ksm_item *a,
					       const struct ksm_item *b)
{
	u64 ka = ksm_item_key(a), kb = ksm_item_key(b);

	return ka < kb || (ka == kb && ksm_unstable_tie(a, b));
}

/**
 * ksm_unstable_before() - the order of the unstable tree, for its tests
 * @a: an item
 * @b: another item
 *
 * Return: true if @a goes before @b: by key, then ksm_unstable_tie().
 */
bool ksm_unstable_before(const struct ksm_item *a, const struct ksm_item *b)
{
	return ksm_unstable_order(a, b);
}

/**
 * ksm_unstable_insert() - add an item to an unstable tree
 * @root: the tree
 * @item: the item, hashed; its key is the key
 */
void ksm_unstable_insert(struct ksm_item **root, struct ksm_item *item)
{
	struct ksm_item **link = root;

	while (*link)
		link = ksm_unstable_order(item, *link) ? &(*link)->left :
							  &(*link)->right;
	item->left = NULL;
	item->right = NULL;
	*link = item;
}

/**
 * ksm_unstable_add() - put an item into the unstable tree of this pass
 * @index: the item's tree index (ksm_tree_index())
 * @item: the item, hashed and in no unstable tree; it goes into the tree
 *	of its key's bucket
 * @gen: the generation of this pass
 *
 * From now on the item counts in pages_unshared: until it leaves the
 * tree, or, once the pass is over, until the next pass looks at it.
 */
void ksm_unstable_add(int index, struct ksm_item *item, unsigned int gen)
{
	VM_WARN_ON_ONCE(ksm_unstable_stale);
	item->info &= ~KSM_ITEM_GEN_MASK;
	item->info |= KSM_ITEM_UNSTABLE |
		((unsigned long)(gen & 0xff) << KSM_ITEM_GEN_SHIFT);
	ksm_unstable_insert(ksm_unstable_root(index, ksm_item_key(item)), item);
	ksm_unstable_added[index]++;
	ksm_count_add(&ksm_count.pages_unshared, 1);
}

/**
 * ksm_unstable_find() - an item of an unstable tree with a key
 * @root: the tree
 * @key: the key
 * @after: NULL, or an item that had key @key: only those after it count
 *
 * Return: the first item of key @key (after @after), or NULL.
 */
struct ksm_item *ksm_unstable_find(struct ksm_item *root, u64 key,
				   struct ksm_item *after)
{
	struct ksm_item *found = NULL;

	/* @after may have left the tree, or have another key by now. */
	while (root) {
		u64 k = ksm_item_key(root);

		if (key < k) {
			root = root->left;
		} else if (key > k ||
			   (after && !ksm_unstable_tie(after, root))) {
			root = root->right;
		} else {
			found = root;
			root = root->left;
		}
	}
	return found;
}

/**
 * ksm_unstable_remove() - unlink an item from an unstable tree
 * @root: the tree
 * @item: the item
 *
 * Return: true, or false if @item is not in the tree.
 */
bool ksm_unstable_remove(struct ksm_item **root, struct ksm_item *item)
{
	struct ksm_item **link = root, **min, *next;

	while (*link && *link != item)
		link = ksm_unstable_order(item, *link) ? &(*link)->left :
							  &(*link)->right;
	if (!*link)
		return false;
	if (!item->left) {
		*link = item->right;
	} else if (!item->right) {
		*link = item->left;
	} else {
		/* Its successor, the leftmost of its right subtree, replaces it. */
		for (min = &item->right; (*min)->left; min = &(*min)->left)
			;
		next = *min;
		*min = next->right;
		next->left = item->left;
		next->right = item->right;
		*link = next;
	}
	return true;
}

/**
 * ksm_unstable_erase() - take an item out of the unstable tree it is in
 * @item: an item for which ksm_item_in_unstable() holds
 *
 * Items do not record which tree they are in: the bucket of their key in
 * each of the few tree indexes is searched for it, each in one descent.
 */
void ksm_unstable_erase(struct ksm_item *item)
{
	u64 key = ksm_item_key(item);
	int i;

	for (i = 0; i < ksm_unstable_nr; i++)
		if (ksm_unstable_remove(ksm_unstable_root(i, key), item))
			break;
	VM_WARN_ON_ONCE(i == ksm_unstable_nr);
	item->info &= ~(KSM_ITEM_UNSTABLE | KSM_ITEM_GEN_MASK);
	ksm_count_add(&ksm_count.pages_unshared, -1);
}

/**
 * ksm_unstable_reset() - forget every unstable tree at the end of a pass
 *
 * The items stay flagged; their generation no longer matches, which is how
 * they are known to be out of the (new, empty) tree. They stay counted in
 * pages_unshared until the next pass looks at them again, so the counter
 * reads the same between passes as during one. Items of one key get
 * another order in the new trees (ksm_unstable_tie()). No item is in a
 * tree now, so none is looked for in one: the roots are cleared when the
 * next pass begins (ksm_unstable_begin()), not here, where ksmd may hold
 * the mmap_lock of the last mm of the pass.
 */
void ksm_unstable_reset(void)
{
	ksm_unstable_stale = true;
	ksm_unstable_pass++;
}

/**
 * ksm_unstable_begin() - make the empty unstable trees of a pass
 *
 * After ksm_unstable_reset(), the trees get as many buckets as the items
 * of the last pass fill (ksm_unstable_resize()): a bucket's tree stays a
 * few items deep whatever the size of the memory scanned. Then their
 * roots are cleared. Called with ksm_lock held and no mmap_lock; may
 * sleep.
 */
void ksm_unstable_begin(void)
{
	const size_t step = SZ_1M / sizeof(*ksm_unstable_roots);
	size_t i, n;

	if (!ksm_unstable_stale)
		return;
	ksm_unstable_resize();
	n = (size_t)ksm_unstable_nr << ksm_unstable_bits;
	for (i = 0; i < n; i += step) {
		memset(&ksm_unstable_roots[i], 0,
		       min(step, n - i) * sizeof(*ksm_unstable_roots));
		cond_resched();
	}
	ksm_unstable_stale = false;
}

/**
 * __ksm_item_clear_unstable() - drop the unstable mark an item has
 * @item: the item; ksm_item_marked() holds
 * @gen: the current generation
 *
 * The out-of-line half of ksm_item_clear_unstable().
 */
void __ksm_item_clear_unstable(struct ksm_item *item, unsigned int gen)
{
	if (ksm_item_in_unstable(item, gen)) {
		ksm_unstable_erase(item);
		return;
	}
	item->info &= ~(KSM_ITEM_UNSTABLE | KSM_ITEM_GEN_MASK);
	ksm_count_add(&ksm_count.pages_unshared, -1);
}

/* Orders @key (and what @cmp compares) against @node. */
static int ksm_stable_order(struct ksm_stable_node *node, u64 key,
			    ksm_content_cmp_t cmp, void *arg)
{
	if (key < node->key)
		return -1;
	if (key > node->key)
		return 1;
	return cmp ? cmp(node, arg) : 0;
}

/**
 * ksm_stable_find() - look up content in a stable tree
 * @root: the tree
 * @key: key of the content
 * @cmp: compares the content with a node of equal key
 * @arg: passed to @cmp
 * @linkp: if not NULL, where a new node with this content would go
 * @parentp: if not NULL, the parent of that place
 *
 * Among nodes of equal content (duplicates beyond max_page_sharing) the
 * leftmost is returned. When @cmp reports a stale node, that node is
 * returned with *@linkp set to NULL so the caller can prune it and retry.
 * Duplicates all hold one content, so once one of them was compared the
 * others on the way down are not compared again.
 *
 * Return: the node holding this content, or NULL.
 */
struct ksm_stable_node *ksm_stable_find(struct rb_root *root, u64 key,
					ksm_content_cmp_t cmp, void *arg,
					struct rb_node ***linkp,
					struct rb_node **parentp)
{
	struct rb_node **link = &root->rb_node, *parent = NULL;
	struct ksm_stable_node *found = NULL;
	bool dup_compared = false;
	int dup_order = 0;

	while (*link) {
		struct ksm_stable_node *node;
		bool dup;
		int order;

		parent = *link;
		node = rb_entry(parent, struct ksm_stable_node, tree);
		dup = node->dup && node->key == key;
		if (dup && dup_compared) {
			order = dup_order;
		} else {
			order = ksm_stable_order(node, key, cmp, arg);
			if (dup && order != KSM_CMP_STALE) {
				dup_order = order;
				dup_compared = true;
			}
		}
		if (order == KSM_CMP_STALE) {
			if (linkp)
				*linkp = NULL;
			return node;
		}
		if (order < 0) {
			link = &parent->rb_left;
		} else if (order > 0) {
			link = &parent->rb_right;
		} else {
			found = node;
			link = &parent->rb_left;
		}
	}
	if (linkp) {
		*linkp = link;
		*parentp = parent;
	}
	return found;
}

/**
 * ksm_stable_link() - insert a node where ksm_stable_find() said it goes
 * @root: the tree
 * @node: the new node
 * @link: *@linkp of that lookup
 * @parent: *@parentp of that lookup
 */
void ksm_stable_link(struct rb_root *root, struct ksm_stable_node *node,
		     struct rb_node **link, struct rb_node *parent)
{
	rb_link_node(&node->tree, parent, link);
	rb_insert_color(&node->tree, root);
}

/**
 * ksm_stable_same_key() - a neighbour of a node with the same key
 * @node: a node in a stable tree
 * @next: the in-order successor if true, else the predecessor
 *
 * Nodes of equal key but other content (collisions) are ordered by
 * content, so the nodes of one content are adjacent: a run of ->dup
 * nodes is walked with this.
 *
 * Return: that neighbour if its key is @node's, or NULL.
 */
struct ksm_stable_node *ksm_stable_same_key(struct ksm_stable_node *node,
					    bool next)
{
	struct rb_node *n = next ? rb_next(&node->tree) : rb_prev(&node->tree);
	struct ksm_stable_node *other;

	if (!n)
		return NULL;
	other = rb_entry(n, struct ksm_stable_node, tree);
	return other->key == node->key ? other : NULL;
}

/*
 * Marks @node and every node of its key collided: the run of the key
 * holds more than one content, and a lookup must compare content in it.
 */
static void ksm_stable_mark_run(struct ksm_stable_node *node)
{
	struct ksm_stable_node *other;
	bool next;

	node->collided = true;
	for (next = false; ; next = true) {
		for (other = ksm_stable_same_key(node, next); other;
		     other = ksm_stable_same_key(other, next))
			other->collided = true;
		if (next)
			break;
	}
}

/**
 * ksm_stable_insert() - insert a node into a stable tree
 * @root: the tree
 * @node: the node; ->key is set
 * @cmp: compares @node's content with a node of equal key
 * @arg: passed to @cmp
 *
 * A node equal to present ones (a duplicate, made because they are full)
 * goes before them, where the next lookup meets it first.
 *
 * The nodes of one key are a run in the tree, and the new node's
 * neighbours in it are on the way down: the first node of another content
 * to join a run, or a run to join, is always seen here. Then every node
 * of the run is marked ->collided, and so is a node that joins a run so
 * marked.
 *
 * Return: true if a node of the same key met on the way holds another
 * content, or one whose content cannot be told any more (stale).
 */
bool ksm_stable_insert(struct rb_root *root, struct ksm_stable_node *node,
		       ksm_content_cmp_t cmp, void *arg)
{
	struct rb_node **link = &root->rb_node, *parent = NULL;
	struct ksm_stable_node *other;
	bool collides = false;

	while (*link) {
		int order;

		parent = *link;
		other = rb_entry(parent, struct ksm_stable_node, tree);
		order = ksm_stable_order(other, node->key, cmp, arg);
		if (order && other->key == node->key)
			collides = true;
		if (order <= 0)
			link = &parent->rb_left;
		else
			link = &parent->rb_right;
	}
	node->collided = false;
	ksm_stable_link(root, node, link, parent);
	if (!collides) {
		other = ksm_stable_same_key(node, false);
		if (!other || !other->collided)
			other = ksm_stable_same_key(node, true);
		if (!other || !other->collided)
			return false;
	}
	ksm_stable_mark_run(node);
	return collides;
}
