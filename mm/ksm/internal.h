/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KSM internals: the data model shared by the files of mm/ksm/.
 *
 * mm slot      one per registered mm; holds the tracking items of that mm
 *              in ascending address order, and an mm_count reference.
 * item         one per (mm, address) ksmd has seen mapped; remembers the
 *              checksum of the page and is either in an unstable tree, a
 *              sharer of a stable node, or neither.
 * stable node  one per KSM page; its sharers list is the reverse map.
 *
 * Both trees are ordered by the 64-bit xxhash of the page first and by the
 * content second. A stable node's key never changes (KSM pages are
 * write-protected); an unstable item's key is the checksum it had when it
 * was inserted, so a page that changes afterwards cannot disorder the tree.
 *
 * Locking: ksm_lock (a mutex) serializes everything that changes trees,
 * nodes, items or the scan cursor: ksmd, run=2, knob changes and memory
 * offlining. It nests outside mmap_lock. The sharers list of a stable node
 * is changed only with the KSM folio locked (rmap walkers hold that lock),
 * or once no folio points at the node any more. ksm_slot_lock (a spinlock)
 * protects the list and hash of mm slots, which __ksm_enter() and
 * __ksm_exit() change without ksm_lock.
 */
#ifndef _MM_KSM_INTERNAL_H
#define _MM_KSM_INTERNAL_H

#include <linux/ksm.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/rbtree.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include "../mm_slot.h"

/* Values of the run knob; KSM_RUN_OFFLINE is or-ed in while offlining. */
#define KSM_RUN_STOP		0
#define KSM_RUN_MERGE		1
#define KSM_RUN_UNMERGE		2
#define KSM_RUN_OFFLINE		4

/*
 * Bits of ksm_item.info. An item does not store its address or its mm:
 * its block does, and the index bits say where in the block it is. The
 * low KSM_ITEM_COMMON_BITS mean the same in every state; what the rest
 * holds depends on KSM_ITEM_STABLE:
 *
 * stable       the stable node (nodes are aligned to KSM_NODE_ALIGN)
 * not stable   the unstable mark, its generation, the smart scan age (the
 *              passes in a row the page was looked at and not merged) and,
 *              on 64-bit, the key (see ksm_unstable_key())
 */
#define KSM_ITEM_LIVE		BIT(0)	/* the block slot holds an item */
#define KSM_ITEM_STABLE		BIT(1)	/* sharer of ksm_item_node() */
#define KSM_ITEM_INDEX_SHIFT	2
#define KSM_ITEM_COMMON_BITS	6
#define KSM_ITEM_COMMON_MASK	(BIT(KSM_ITEM_COMMON_BITS) - 1)
#define KSM_ITEM_UNSTABLE	BIT(6)	/* in the unstable tree of its gen */
#define KSM_ITEM_HASHED		BIT(7)	/* the key is valid */
#define KSM_ITEM_GEN_SHIFT	8
#define KSM_ITEM_GEN_MASK	(0xffUL << KSM_ITEM_GEN_SHIFT)
#define KSM_ITEM_AGE_SHIFT	16
#define KSM_ITEM_AGE_MAX	0xfU
#define KSM_ITEM_AGE_MASK	((unsigned long)KSM_ITEM_AGE_MAX << \
				 KSM_ITEM_AGE_SHIFT)
#define KSM_ITEM_KEY_SHIFT	20
/* Bits of an unstable key: what is left of info on 64-bit, else a u32. */
#define KSM_KEY_BITS		(IS_ENABLED(CONFIG_64BIT) ? \
				 64 - KSM_ITEM_KEY_SHIFT : 32)

/* Items per block, and the (aligned) range of addresses a block covers. */
#define KSM_BLOCK_ITEMS		16
#define KSM_BLOCK_SPAN		(KSM_BLOCK_ITEMS * PAGE_SIZE)
#define KSM_ITEM_INDEX_MASK	((unsigned long)(KSM_BLOCK_ITEMS - 1) << \
				 KSM_ITEM_INDEX_SHIFT)

/* Stable nodes are aligned so that an item's info can hold a pointer. */
#define KSM_NODE_ALIGN		BIT(KSM_ITEM_COMMON_BITS)

struct ksm_stable_node;

/**
 * struct ksm_item - what ksmd knows about one mapped address of one mm
 * @info: KSM_ITEM_* bits, and the node or the key
 * @left: (unstable) the subtree of smaller keys in the unstable tree
 * @right: (unstable) the subtree of greater keys
 * @anon_vma: (stable) anon_vma under which the rmap walk finds the mapping,
 *	with the item's smart scan age in its low bits (ksm_sharer_anon_vma())
 * @next: (stable) the next sharer of the same node
 * @key: (32-bit only) the unstable key
 *
 * A stable item needs no key of its own (its node has it) and is
 * in no unstable tree, so the two halves share their space: 24 bytes on
 * 64-bit. The unstable tree needs no parent pointers (tree.c), and the
 * sharers list is singly linked, as nothing walks it backwards.
 */
struct ksm_item {
	unsigned long info;
	union {
		struct {
			struct ksm_item *left;
			struct ksm_item *right;
		};
		struct {
			struct anon_vma *anon_vma;
			struct ksm_item *next;
		};
	};
#ifndef CONFIG_64BIT
	u32 key;
#endif
};

/**
 * struct ksm_block - the items of consecutive pages of an mm
 * @next: the block of the same mm at the next higher address
 * @mm: the mm; its slot's mm_count reference keeps it valid
 * @base: address of the page of items[0], and KSM_BLOCK_SOLO in bit 0 for
 *	a block of one item; a full block's is KSM_BLOCK_SPAN aligned
 * @items: the item of page i of the range, live if KSM_ITEM_LIVE is set
 *
 * Keeping the mm, the address and the list link once per block instead
 * of once per item makes an item 24 bytes instead of 48: a full block of
 * KSM_BLOCK_ITEMS costs 25.5 bytes per page where memory is mapped densely.
 * Where few pages of a span are mapped, each gets a block of its own
 * (KSM_BLOCK_SOLO, 48 bytes) instead: a span holds either one full block
 * or solo blocks, never both, and blocks never overlap. Neither kind of
 * block changes its range, nor does an item move, while it lives.
 */
struct ksm_block {
	struct ksm_block *next;
	struct mm_struct *mm;
	unsigned long base;
	struct ksm_item items[];
};

#define KSM_BLOCK_SOLO		1UL

/*
 * Fewer pages than this mapped in a span: solo blocks cost less than a
 * full one.
 */
#define KSM_BLOCK_SOLO_MAX	(DIV_ROUND_UP(struct_size_t(struct ksm_block, \
				 items, KSM_BLOCK_ITEMS), \
				 struct_size_t(struct ksm_block, items, 1)))

/* What general_profit charges for each item: its share of a full block. */
#define KSM_ITEM_COST		DIV_ROUND_UP(struct_size_t(struct ksm_block, \
				 items, KSM_BLOCK_ITEMS), KSM_BLOCK_ITEMS)

static inline bool ksm_block_solo(const struct ksm_block *block)
{
	return block->base & KSM_BLOCK_SOLO;
}

static inline unsigned long ksm_block_base(const struct ksm_block *block)
{
	return block->base & PAGE_MASK;
}

/* How many items the block has room for. */
static inline unsigned int ksm_block_cap(const struct ksm_block *block)
{
	return ksm_block_solo(block) ? 1 : KSM_BLOCK_ITEMS;
}

/* The address past the block's range. */
static inline unsigned long ksm_block_end(const struct ksm_block *block)
{
	return ksm_block_base(block) +
	       ((unsigned long)ksm_block_cap(block) << PAGE_SHIFT);
}

/* Whether any item of the block is live. */
static inline bool ksm_block_live(const struct ksm_block *block)
{
	unsigned int i;

	for (i = 0; i < ksm_block_cap(block); i++)
		if (block->items[i].info & KSM_ITEM_LIVE)
			return true;
	return false;
}

/* Where an item is: its block, its index there, its address and mm. */
static inline unsigned int ksm_item_index(const struct ksm_item *item)
{
	return (item->info & KSM_ITEM_INDEX_MASK) >> KSM_ITEM_INDEX_SHIFT;
}

static inline struct ksm_block *ksm_item_block(struct ksm_item *item)
{
	return container_of(item - ksm_item_index(item), struct ksm_block,
			    items[0]);
}

static inline unsigned long ksm_item_addr(struct ksm_item *item)
{
	return ksm_block_base(ksm_item_block(item)) +
	       ((unsigned long)ksm_item_index(item) << PAGE_SHIFT);
}

static inline struct mm_struct *ksm_item_mm(struct ksm_item *item)
{
	return ksm_item_block(item)->mm;
}

static inline bool ksm_item_stable(const struct ksm_item *item)
{
	return item->info & KSM_ITEM_STABLE;
}

/* The node of a stable item. */
static inline struct ksm_stable_node *ksm_item_node(const struct ksm_item *item)
{
	return (struct ksm_stable_node *)(item->info & ~KSM_ITEM_COMMON_MASK);
}

/* Whether the item is not stable and has a key. */
static inline bool ksm_item_hashed(const struct ksm_item *item)
{
	return (item->info & (KSM_ITEM_STABLE | KSM_ITEM_HASHED)) ==
	       KSM_ITEM_HASHED;
}

/* The key of an item for which ksm_item_hashed() holds. */
static inline u64 ksm_item_key(const struct ksm_item *item)
{
#ifdef CONFIG_64BIT
	return item->info >> KSM_ITEM_KEY_SHIFT;
#else
	return item->key;
#endif
}

/* Gives an item that is not stable a key: it is hashed from now on. */
static inline void ksm_item_set_key(struct ksm_item *item, u64 key)
{
#ifdef CONFIG_64BIT
	item->info &= BIT(KSM_ITEM_KEY_SHIFT) - 1;
	item->info |= key << KSM_ITEM_KEY_SHIFT;
#else
	item->key = key;
#endif
	item->info |= KSM_ITEM_HASHED;
}

/*
 * The smart scan age of an item that is not stable. A sharer's is kept
 * aside (ksm_sharer_age()).
 */
static inline unsigned int ksm_item_age(const struct ksm_item *item)
{
	if (ksm_item_stable(item))
		return 0;
	return (item->info & KSM_ITEM_AGE_MASK) >> KSM_ITEM_AGE_SHIFT;
}

/*
 * A sharer keeps its smart scan age in the low bits of its anon_vma
 * pointer, which slab alignment leaves clear: halved, rounded down, and
 * up to 14 (none where slab objects may be less aligned: it is then lost).
 * The look that merges the page adds one to the bits: the age kept counts
 * that look too, rounded up to an even number. ksmd changes the bits
 * while rmap walks read the pointer, which the bits never change.
 */
#define KSM_SHARER_AGE_MASK	(ARCH_SLAB_MINALIGN >= 8 ? 7UL : 0UL)
static_assert(KSM_SHARER_AGE_MASK * 2 <= KSM_ITEM_AGE_MAX);

/* The bits that keep @age. */
static inline unsigned long ksm_sharer_age_bits(unsigned int age)
{
	return min_t(unsigned long, age / 2, KSM_SHARER_AGE_MASK);
}

/* The anon_vma of a sharer, without the age. */
static inline struct anon_vma *ksm_sharer_anon_vma(const struct ksm_item *item)
{
	return (struct anon_vma *)((unsigned long)READ_ONCE(item->anon_vma) &
				   ~KSM_SHARER_AGE_MASK);
}

/* The smart scan age a sharer keeps (ksm_sharer_age_bits()). */
static inline unsigned int ksm_sharer_age(const struct ksm_item *item)
{
	return ((unsigned long)READ_ONCE(item->anon_vma) &
		KSM_SHARER_AGE_MASK) * 2;
}

/* Adds a look to the age a sharer keeps, in its unit of two. */
static inline void ksm_sharer_age_up(struct ksm_item *item)
{
	unsigned long v = (unsigned long)item->anon_vma;

	if ((v & KSM_SHARER_AGE_MASK) < KSM_SHARER_AGE_MASK)
		WRITE_ONCE(item->anon_vma, (struct anon_vma *)(v + 1));
}

static inline unsigned int ksm_item_gen(const struct ksm_item *item)
{
	return (item->info & KSM_ITEM_GEN_MASK) >> KSM_ITEM_GEN_SHIFT;
}

/* Whether the item carries an unstable mark, of this pass or an old one. */
static inline bool ksm_item_marked(const struct ksm_item *item)
{
	return (item->info & (KSM_ITEM_STABLE | KSM_ITEM_UNSTABLE)) ==
	       KSM_ITEM_UNSTABLE;
}

static inline bool ksm_item_in_unstable(const struct ksm_item *item,
					unsigned int gen)
{
	return ksm_item_marked(item) && ksm_item_gen(item) == (gen & 0xff);
}

/**
 * struct ksm_stable_node - one KSM page
 * @tree: node in the stable tree
 * @sharers: the items that map the page, linked by ->next: the reverse map
 * @kpfn: page frame of the KSM page; follows it through migration
 * @key: the key of the (unchangeable) content, ksm_unstable_key() of its
 *	xxhash64 salted with the merge domain's salt (see domain.c): the
 *	key an item of that content has, in either tree
 * @nr_sharers: length of @sharers, checked against max_page_sharing
 * @nid: index of the stable tree the node is in
 * @domain: the merge domain the page belongs to; all its sharers are in it
 *	or leave it on ksmd's next look at them
 * @dup: one of several nodes of the same content (a chain)
 * @collided: a node of another content has the same key (a collision);
 *	set on every node of the key, and lookups there compare content
 */
struct ksm_stable_node {
	struct rb_node tree;
	struct ksm_item *sharers;
	unsigned long kpfn;
	u64 key;
	unsigned int nr_sharers;
	int nid;
	u32 domain;
	bool dup;
	bool collided;
} __aligned(KSM_NODE_ALIGN);

/**
 * struct ksm_page - a page ksmd holds a reference on, and its folio
 * @page: the page mapped at the address being scanned
 * @folio: its folio (changes when a huge folio is split)
 */
struct ksm_page {
	struct page *page;
	struct folio *folio;
};

/**
 * struct ksm_slot - an mm registered with KSM
 * @base: hash and list linkage, and the mm (held with mmgrab)
 * @blocks: blocks of tracking items of the mm, ascending address
 * @salt: the salt of the merge domain its items' checksums are salted
 *	with (0 for the global domain)
 * @id: a number no other live slot has: the mm's domain under
 *	merge_scope "process"
 */
struct ksm_slot {
	struct mm_slot base;
	struct ksm_block *blocks;
	u64 salt;
	u32 id;
};

#define KSM_DEFAULT_PAGES_TO_SCAN	100

/* Values of the merge_scope knob: which pages may merge with which. */
enum ksm_merge_scope {
	KSM_SCOPE_GLOBAL,	/* any two pages */
	KSM_SCOPE_CGROUP,	/* pages of one memory cgroup */
	KSM_SCOPE_PROCESS,	/* pages of one mm */
	KSM_NR_SCOPES,
};

enum ksm_advisor_mode {
	KSM_ADVISOR_NONE,
	KSM_ADVISOR_SCAN_TIME,
};

/* The advisor's knobs (advisor.c). */
struct ksm_advisor_knobs {
	enum ksm_advisor_mode mode;
	unsigned int max_cpu;
	unsigned long min_pages;
	unsigned long max_pages;
	unsigned long target_scan_secs;
};

/**
 * struct ksm_advice - what the advisor decides from
 * @pages_to_scan: the value during the last pass
 * @scan_ms: how long the last pass took
 * @target_ms: how long a pass should take
 * @cpu_percent: ksmd's CPU use during the last pass
 * @max_cpu: the CPU use not to exceed
 * @min_pages: lower bound of the answer
 * @max_pages: upper bound of the answer
 */
struct ksm_advice {
	unsigned long pages_to_scan;
	u64 scan_ms;
	u64 target_ms;
	unsigned int cpu_percent;
	unsigned int max_cpu;
	unsigned long min_pages;
	unsigned long max_pages;
};

/* Tunables (sysfs.c validates; ksmd reads them with READ_ONCE). */
struct ksm_knobs {
	unsigned int pages_to_scan;
	unsigned int sleep_millisecs;
	unsigned long run;
	bool use_zero_pages;
	bool smart_scan;
	unsigned int max_page_sharing;
	unsigned int merge_across_nodes;
	unsigned int prune_millisecs;
	unsigned int merge_scope;
};

/* Counters, written under ksm_lock, read locklessly by sysfs. */
struct ksm_counters {
	unsigned long pages_scanned;
	unsigned long pages_shared;
	unsigned long pages_sharing;
	unsigned long pages_unshared;
	unsigned long pages_skipped;
	unsigned long items;
	unsigned long stable_nodes;
	unsigned long full_scans;
	unsigned long chains;
	unsigned long dups;
};

/*
 * Where ksmd is: which slot, which address, and which item comes next:
 * the one at index @idx of the block at *@link, or a later one. @domain
 * and @salt are the merge domain of the slot's mm and its salt, as
 * ksm_domain_enter() found them when ksmd last came to the slot, and
 * @zero_key the unstable key an empty page has in that domain.
 */
struct ksm_cursor {
	struct ksm_slot *slot;
	unsigned long addr;
	struct ksm_block **link;
	unsigned int idx;
	unsigned int gen;
	u32 domain;
	u64 salt;
	u64 zero_key;
};

/*
 * Changes a counter of ksm_count or of an mm: under ksm_lock, which makes
 * the plain read safe, with a marked write for sysfs and procfs, which
 * read without it.
 */
static inline void ksm_count_add(unsigned long *counter, long delta)
{
	WRITE_ONCE(*counter, *counter + delta);
}

extern struct ksm_knobs ksm_knobs;
extern struct ksm_advisor_knobs ksm_advisor;
extern struct ksm_counters ksm_count;
extern struct ksm_cursor ksm_cursor;
extern struct mutex ksm_lock;
extern spinlock_t ksm_slot_lock;
extern struct list_head ksm_slot_list;
extern wait_queue_head_t ksm_thread_wait;
extern u64 ksm_zero_checksum;

/* objects.c */
int ksm_caches_init(void);
struct ksm_block *ksm_block_alloc(struct mm_struct *mm, unsigned long base,
				  bool solo);
void ksm_block_free(struct ksm_block *block);
struct ksm_item *ksm_item_init(struct ksm_block *block, unsigned int idx);
void ksm_item_free(struct ksm_item *item);
struct ksm_stable_node *ksm_node_alloc(void);
void ksm_node_free(struct ksm_stable_node *node);
struct ksm_slot *ksm_slot_alloc(void);
void ksm_slot_free(struct ksm_slot *slot);
bool ksm_run_allowed(void);
u64 ksm_page_checksum(struct page *page);
bool ksm_pages_same(struct page *a, struct page *b);
long ksm_profit(unsigned long merged, long zero_pages, unsigned long items);
long ksm_volatile_pages(const struct ksm_counters *c);

/* control.c */
extern bool ksm_started;
void ksm_wake_sleeper(void);
int ksm_set_run(unsigned int run);
int ksm_set_layout_knob(unsigned int *knob, unsigned int value,
			bool relayout);

/* slots.c */
struct ksm_slot *ksm_slot_first(void);
struct ksm_slot *ksm_slot_next(struct ksm_slot *slot);
void ksm_slot_unlink(struct ksm_slot *slot);
void ksm_slot_release(struct ksm_slot *slot);
bool ksm_vma_mergeable(struct vm_area_struct *vma);

/* walk.c: a batch of the pages of a VMA, with a reference each */
#define KSM_BATCH	32

struct ksm_batch {
	unsigned int nr;
	unsigned int max;
	unsigned long next;
	unsigned long addr[KSM_BATCH];
	struct ksm_page pages[KSM_BATCH];
};

void ksm_collect_batch(struct vm_area_struct *vma, unsigned long start,
		       struct ksm_batch *b);
unsigned int ksm_count_mapped(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end);

/* scan.c */
void ksm_scan_pages(unsigned int budget);
unsigned int ksm_skip_for_age(unsigned int age);
bool ksm_looks_this_pass(unsigned int skip, unsigned int pass,
			 unsigned long pgoff);
struct ksm_slot *ksm_cursor_first(void);
struct ksm_slot *ksm_cursor_next(bool release);
void ksm_cursor_reset(void);
void ksm_scan_restart(void);
void ksm_full_scans_reset(void);
void ksm_forget_unstable(void);
void ksm_slot_drop_items(struct ksm_slot *slot);
void ksm_item_forget(struct ksm_item *item);

/* tree.c */
/**
 * typedef ksm_content_cmp_t - orders two pages of equal key
 * @node: the stable node met in the tree
 * @arg: what the caller is looking for
 *
 * Return: <0, 0 or >0 as memcmp(), or KSM_CMP_STALE if @node has lost its
 * page (the caller then prunes it and looks again).
 */
typedef int (*ksm_content_cmp_t)(struct ksm_stable_node *node, void *arg);
#define KSM_CMP_STALE	INT_MIN

/*
 * The buckets of the trees of each tree index (tree.c): the stable trees'
 * roots, 2^ksm_stable_bits per index, sized at boot, of ksm_stable_nr
 * indexes (index 0's only while merge_across_nodes); the unstable trees'
 * roots, 2^ksm_unstable_bits per index, sized again when a pass begins
 * (ksm_unstable_begin(), under ksm_lock), index 0's only while
 * merge_across_nodes, and never fewer than at boot
 * (2^ksm_unstable_boot_bits); and how many tree indexes there are.
 */
extern struct rb_root *ksm_stable_roots;
extern unsigned int ksm_stable_bits;
extern int ksm_stable_nr;
extern struct ksm_item **ksm_unstable_roots;
extern unsigned int ksm_unstable_bits;
extern unsigned int ksm_unstable_boot_bits;
extern int ksm_nr_trees;

/**
 * ksm_tree_index() - the merge domain a page on node @nid belongs to
 * @nid: NUMA node of the page
 *
 * Inline, as ksm_stable_root(): ksmd asks for every page it looks at.
 *
 * Return: index of its trees: 0 when pages merge across nodes.
 */
static inline int ksm_tree_index(int nid)
{
	if (READ_ONCE(ksm_knobs.merge_across_nodes) || nid < 0 ||
	    nid >= ksm_nr_trees)
		return 0;
	return nid;
}

/* Bucket of @key in tree index @index, among 2^@bits per index. */
static inline unsigned long ksm_bucket(int index, u64 key, unsigned int bits)
{
	return ((unsigned long)index << bits) |
	       (unsigned long)(key & (BIT_ULL(bits) - 1));
}

/**
 * ksm_stable_root() - the stable tree of a tree index that holds a key
 * @index: a value returned by ksm_tree_index()
 * @key: the key (ksm_unstable_key())
 *
 * Return: the root of the stable tree of the key's bucket.
 */
static inline struct rb_root *ksm_stable_root(int index, u64 key)
{
	return &ksm_stable_roots[ksm_bucket(index, key, ksm_stable_bits)];
}

/**
 * ksm_unstable_root() - the unstable tree of a tree index that holds a key
 * @index: a value returned by ksm_tree_index()
 * @key: the key (ksm_unstable_key())
 *
 * Return: the root of the unstable tree of the key's bucket.
 */
static inline struct ksm_item **ksm_unstable_root(int index, u64 key)
{
	return &ksm_unstable_roots[ksm_bucket(index, key, ksm_unstable_bits)];
}

/* The stable trees of all tree indexes, to walk with ksm_stable_root_at(). */
static inline unsigned long ksm_stable_buckets(void)
{
	return (unsigned long)ksm_stable_nr << ksm_stable_bits;
}

/* Stable tree @i of ksm_stable_buckets(), index after index. */
static inline struct rb_root *ksm_stable_root_at(unsigned long i)
{
	return &ksm_stable_roots[i];
}

int ksm_trees_init(void);
int ksm_stable_roots_set_nodes(bool per_node);
u64 ksm_unstable_key(u64 checksum);
bool ksm_unstable_before(const struct ksm_item *a, const struct ksm_item *b);
void ksm_unstable_insert(struct ksm_item **root, struct ksm_item *item);
void ksm_unstable_add(int index, struct ksm_item *item, unsigned int gen);
struct ksm_item *ksm_unstable_find(struct ksm_item *root, u64 key,
				   struct ksm_item *after);
bool ksm_unstable_remove(struct ksm_item **root, struct ksm_item *item);
void ksm_unstable_erase(struct ksm_item *item);
void ksm_unstable_reset(void);
void ksm_unstable_begin(void);
unsigned int ksm_unstable_next_bits(unsigned int cur, unsigned long items);
void __ksm_item_clear_unstable(struct ksm_item *item, unsigned int gen);

/**
 * ksm_item_clear_unstable() - drop an item's unstable mark
 * @item: the item
 * @gen: the current generation
 *
 * Takes the item out of the current tree if it is in it. Most items ksmd
 * comes to have no mark: that test is inline.
 */
static inline void ksm_item_clear_unstable(struct ksm_item *item,
					   unsigned int gen)
{
	if (ksm_item_marked(item))
		__ksm_item_clear_unstable(item, gen);
}

struct ksm_stable_node *ksm_stable_find(struct rb_root *root, u64 key,
					ksm_content_cmp_t cmp, void *arg,
					struct rb_node ***linkp,
					struct rb_node **parentp);
struct ksm_stable_node *ksm_stable_same_key(struct ksm_stable_node *node,
					    bool next);
void ksm_stable_link(struct rb_root *root, struct ksm_stable_node *node,
		     struct rb_node **link, struct rb_node *parent);
bool ksm_stable_insert(struct rb_root *root, struct ksm_stable_node *node,
		       ksm_content_cmp_t cmp, void *arg);

/* node.c */
struct folio *ksm_node_folio(struct ksm_stable_node *node, bool lock);
bool ksm_node_looks_alive(struct ksm_stable_node *node);
void ksm_node_prune(struct ksm_stable_node *node);
int ksm_node_retire(struct ksm_stable_node *node);
void ksm_sharer_add(struct ksm_stable_node *node, struct ksm_item *item,
		    struct anon_vma *anon_vma);
void ksm_sharer_del(struct ksm_item *item);
void ksm_item_unlink_stable(struct ksm_item *item);
void ksm_item_unlink_written(struct ksm_item *item);
void ksm_prune_all_stale(unsigned long start_pfn, unsigned long end_pfn);
int ksm_retire_all_nodes(void);
bool ksm_no_stable_nodes(void);
void ksm_node_rehome(struct ksm_stable_node *node, int index,
		     ksm_content_cmp_t cmp, void *arg);
void ksm_chain_joined(struct ksm_stable_node *node, ksm_content_cmp_t same,
		      void *arg);

/* pte.c */
int ksm_page_lock_small(struct ksm_page *pg);
int ksm_wrprotect(struct vm_area_struct *vma, struct ksm_page *pg,
		  unsigned long addr);
int ksm_share_locked(struct vm_area_struct *vma, unsigned long addr,
		     struct ksm_page *pg, struct page *kpage);
int ksm_share(struct vm_area_struct *vma, unsigned long addr,
	      struct ksm_page *pg, struct page *kpage);

/* merge.c */
bool ksm_merge_page(struct ksm_item *item, struct vm_area_struct *vma,
		    struct ksm_page *pg, bool fresh);
bool ksm_offer_skipped(struct ksm_item *item, struct vm_area_struct *vma,
		       struct ksm_page *pg);
bool ksm_hashes_at_age(unsigned int age);

/* unmerge.c */
int ksm_unmerge_range(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end);
int ksm_unmerge_mm(struct mm_struct *mm);

/* rmap.c */
static inline struct ksm_stable_node *ksm_folio_node(struct folio *folio)
{
	unsigned long mapping = (unsigned long)READ_ONCE(folio->mapping);

	if ((mapping & PAGE_MAPPING_FLAGS) != PAGE_MAPPING_KSM)
		return NULL;
	return (struct ksm_stable_node *)(mapping & ~PAGE_MAPPING_FLAGS);
}

static inline void ksm_folio_set_node(struct folio *folio,
				      struct ksm_stable_node *node)
{
	unsigned long mapping = node ? (unsigned long)node + PAGE_MAPPING_KSM : 0;

	WRITE_ONCE(folio->mapping, (struct address_space *)mapping);
}

/* domain.c */
extern const char * const ksm_scope_names[KSM_NR_SCOPES];
void ksm_domain_init(void);
bool ksm_scope_supported(unsigned int scope);
u64 ksm_domain_salt(unsigned int scope, u32 domain);
bool ksm_domain_enter(struct ksm_slot *slot);

/* advisor.c */
unsigned long ksm_advise(const struct ksm_advice *in);
void ksm_advisor_pass_begin(void);
void ksm_advisor_pass_end(void);
void ksm_advisor_set_mode(enum ksm_advisor_mode mode);

#endif /* _MM_KSM_INTERNAL_H */
