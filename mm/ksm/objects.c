// SPDX-License-Identifier: GPL-2.0
/*
 * KSM objects: the global state (knobs, counters, the scan cursor, the
 * locks), the caches of blocks, items, stable nodes and mm slots, page
 * checksums and the profit arithmetic. The bottom layer of mm/ksm/: it
 * calls no other file of it.
 */

#include <linux/highmem.h>
#include <linux/idr.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/xxhash.h>

#include "internal.h"

#define CREATE_TRACE_POINTS
#include <trace/events/ksm.h>

struct ksm_knobs ksm_knobs = {
	.pages_to_scan = KSM_DEFAULT_PAGES_TO_SCAN,
	.sleep_millisecs = 20,
	.run = IS_ENABLED(CONFIG_SYSFS) ? KSM_RUN_STOP : KSM_RUN_MERGE,
	.smart_scan = true,
	.max_page_sharing = 256,
	.merge_across_nodes = 1,
	.prune_millisecs = 2000,
};

struct ksm_counters ksm_count;
struct ksm_cursor ksm_cursor;
/* Serializes changes to trees, nodes, items and the cursor. */
DEFINE_MUTEX(ksm_lock);
DECLARE_WAIT_QUEUE_HEAD(ksm_thread_wait);
atomic_long_t ksm_zero_pages = ATOMIC_LONG_INIT(0);
u64 ksm_zero_checksum __read_mostly;

static struct kmem_cache *ksm_block_cache __ro_after_init;
static struct kmem_cache *ksm_solo_cache __ro_after_init;
static struct kmem_cache *ksm_node_cache __ro_after_init;
static struct kmem_cache *ksm_slot_cache __ro_after_init;
/*
 * The ids of live mm slots, handed out in turn: an id comes back only
 * after 2^31 others, so one that a stale KSM page still carries as its
 * merge domain (merge_scope "process") is not a new mm's for ages.
 */
static DEFINE_IDR(ksm_slot_ids);
static DEFINE_SPINLOCK(ksm_slot_ids_lock);

/**
 * ksm_block_alloc() - allocate an empty block of tracking items
 * @mm: the mm whose addresses it tracks
 * @base: the first address it covers: the page's for a solo block, else
 *	KSM_BLOCK_SPAN aligned
 * @solo: room for the one item of @base only
 *
 * Return: the block, or NULL when memory is short (ksmd then skips the
 * pages it would have tracked).
 */
struct ksm_block *ksm_block_alloc(struct mm_struct *mm, unsigned long base,
				  bool solo)
{
	struct ksm_block *block;

	block = kmem_cache_zalloc(solo ? ksm_solo_cache : ksm_block_cache,
				  GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
	if (block) {
		block->mm = mm;
		block->base = base | (solo ? KSM_BLOCK_SOLO : 0);
	}
	return block;
}

/**
 * ksm_block_free() - free a block that has no live item left
 * @block: the block, off its slot's list
 */
void ksm_block_free(struct ksm_block *block)
{
	VM_WARN_ON_ONCE(ksm_block_live(block));
	kmem_cache_free(ksm_block_solo(block) ? ksm_solo_cache :
			ksm_block_cache, block);
}

/**
 * ksm_item_init() - start tracking the page at index @idx of a block
 * @block: the block
 * @idx: the index; the item there is not live
 *
 * Return: the item, live, in no tree and without a key.
 */
struct ksm_item *ksm_item_init(struct ksm_block *block, unsigned int idx)
{
	struct ksm_item *item = &block->items[idx];

	VM_WARN_ON_ONCE(idx >= ksm_block_cap(block));
	VM_WARN_ON_ONCE(item->info & KSM_ITEM_LIVE);
	memset(item, 0, sizeof(*item));
	item->info = KSM_ITEM_LIVE |
		      ((unsigned long)idx << KSM_ITEM_INDEX_SHIFT);
	ksm_count_add(&ksm_count.items, 1);
	ksm_count_add(&block->mm->ksm_rmap_items, 1);
	return item;
}

/**
 * ksm_item_free() - stop tracking a page: the item is in no tree or list
 * @item: the item; its block is freed by the caller once it is empty
 */
void ksm_item_free(struct ksm_item *item)
{
	struct ksm_block *block = ksm_item_block(item);

	ksm_count_add(&ksm_count.items, -1);
	ksm_count_add(&block->mm->ksm_rmap_items, -1);
	item->info = 0;
}

/**
 * ksm_node_alloc() - allocate a zeroed stable node
 *
 * Return: the node, or NULL when memory is short.
 */
struct ksm_stable_node *ksm_node_alloc(void)
{
	struct ksm_stable_node *node;

	node = kmem_cache_zalloc(ksm_node_cache, GFP_KERNEL | __GFP_NORETRY |
				 __GFP_NOWARN);
	if (node)
		ksm_count_add(&ksm_count.stable_nodes, 1);
	return node;
}

/**
 * ksm_node_free() - free a stable node that is in no tree and has no sharers
 * @node: the node
 */
void ksm_node_free(struct ksm_stable_node *node)
{
	VM_WARN_ON_ONCE(node->sharers);
	ksm_count_add(&ksm_count.stable_nodes, -1);
	kmem_cache_free(ksm_node_cache, node);
}

/**
 * ksm_slot_alloc() - allocate a zeroed mm slot with an id of its own
 *
 * Return: the slot, or NULL when memory is short.
 */
struct ksm_slot *ksm_slot_alloc(void)
{
	struct ksm_slot *slot = kmem_cache_zalloc(ksm_slot_cache, GFP_KERNEL);
	int id;

	if (!slot)
		return NULL;
	/* Id 0 is the global merge domain's. */
	idr_preload(GFP_KERNEL);
	spin_lock(&ksm_slot_ids_lock);
	id = idr_alloc_cyclic(&ksm_slot_ids, slot, 1, 0, GFP_NOWAIT);
	spin_unlock(&ksm_slot_ids_lock);
	idr_preload_end();
	if (id < 0) {
		kmem_cache_free(ksm_slot_cache, slot);
		return NULL;
	}
	slot->id = id;
	return slot;
}

/**
 * ksm_slot_free() - free an mm slot that is on no list
 * @slot: the slot
 */
void ksm_slot_free(struct ksm_slot *slot)
{
	spin_lock(&ksm_slot_ids_lock);
	idr_remove(&ksm_slot_ids, slot->id);
	spin_unlock(&ksm_slot_ids_lock);
	kmem_cache_free(ksm_slot_cache, slot);
}

/**
 * ksm_page_checksum() - the 64-bit xxhash of a page's content
 * @page: the page
 *
 * Return: the checksum, the stable tree's key (hashed, the unstable one's).
 */
u64 ksm_page_checksum(struct page *page)
{
	void *addr = kmap_local_page(page);
	/*
	 * The page is still writable: its owner may change it while we
	 * read it. Intended: the checksum only tells whether the page is
	 * volatile and where to look in the trees; nothing merges before
	 * the bytes are compared again with the page write-protected.
	 */
	u64 sum = data_race(xxh64(addr, PAGE_SIZE, 0));

	kunmap_local(addr);
	return sum;
}

/**
 * ksm_pages_same() - whether two pages hold the same bytes
 * @a: a page
 * @b: another page
 *
 * The kernel's memcmp() takes a branch per word and finds the order of
 * two buffers; merging needs only yes or no, so the words here are
 * compared four at a time, with one branch per 32 bytes.
 *
 * An architecture's memcmp_pages() has the last word where it overrides
 * the generic one: arm64 with MTE calls pages with tags different, so that
 * merging never loses a tag.
 *
 * Return: true if the contents are equal.
 */
bool ksm_pages_same(struct page *a, struct page *b)
{
	const unsigned long *pa, *pb;
	unsigned int i;
	bool same = true;

	if (IS_ENABLED(CONFIG_ARM64_MTE))
		return pages_identical(a, b);
	pa = kmap_local_page(a);
	pb = kmap_local_page(b);
	for (i = 0; i < PAGE_SIZE / sizeof(*pa); i += 4) {
		if ((pa[i] ^ pb[i]) | (pa[i + 1] ^ pb[i + 1]) |
		    (pa[i + 2] ^ pb[i + 2]) | (pa[i + 3] ^ pb[i + 3])) {
			same = false;
			break;
		}
	}
	kunmap_local(pb);
	kunmap_local(pa);
	return same;
}

/**
 * ksm_profit() - memory merging saves, less what its tracking costs
 * @merged: pages no longer needed thanks to merging
 * @zero_pages: pages replaced by the zero page
 * @items: tracking items that paid for it
 *
 * Return: bytes; negative when tracking costs more than merging saves.
 */
long ksm_profit(unsigned long merged, long zero_pages, unsigned long items)
{
	return ((long)merged + zero_pages) * (long)PAGE_SIZE -
	       (long)(items * KSM_ITEM_COST);
}

/**
 * ksm_volatile_pages() - tracked pages in no tree
 * @c: the counters
 *
 * Return: items that are neither sharers nor unstable; never negative,
 * though the counters may be read while ksmd changes them.
 */
long ksm_volatile_pages(const struct ksm_counters *c)
{
	long pages = READ_ONCE(c->items) - READ_ONCE(c->pages_shared) -
		     READ_ONCE(c->pages_sharing) - READ_ONCE(c->pages_unshared);

	return max(pages, 0L);
}

/**
 * ksm_run_allowed() - whether ksmd should merge now
 *
 * Return: true when run is 1 and memory offlining is not in progress.
 */
bool ksm_run_allowed(void)
{
	return READ_ONCE(ksm_knobs.run) == KSM_RUN_MERGE;
}

/**
 * ksm_caches_init() - create the caches of blocks (full and solo), stable
 * nodes and slots
 *
 * Return: 0, or -ENOMEM with none created.
 */
int __init ksm_caches_init(void)
{
	size_t full = struct_size_t(struct ksm_block, items, KSM_BLOCK_ITEMS);
	size_t solo = struct_size_t(struct ksm_block, items, 1);
	size_t align = __alignof__(struct ksm_block);

	ksm_block_cache = kmem_cache_create("ksm_block", full, align, 0, NULL);
	ksm_solo_cache = kmem_cache_create("ksm_block_solo", solo, align, 0,
					   NULL);
	ksm_node_cache = KMEM_CACHE(ksm_stable_node, 0);
	ksm_slot_cache = KMEM_CACHE(ksm_slot, 0);
	if (ksm_block_cache && ksm_solo_cache && ksm_node_cache &&
	    ksm_slot_cache)
		return 0;
	kmem_cache_destroy(ksm_block_cache);
	kmem_cache_destroy(ksm_solo_cache);
	kmem_cache_destroy(ksm_node_cache);
	kmem_cache_destroy(ksm_slot_cache);
	return -ENOMEM;
}
