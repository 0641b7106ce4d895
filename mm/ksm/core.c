// SPDX-License-Identifier: GPL-2.0
/*
 * KSM core: global state, object caches, page checksums, the ksmd thread
 * and initialization.
 */

#define pr_fmt(fmt) "ksm: " fmt

#include <linux/freezer.h>
#include <linux/highmem.h>
#include <linux/init.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
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
static DECLARE_WAIT_QUEUE_HEAD(ksm_offline_wait);
atomic_long_t ksm_zero_pages = ATOMIC_LONG_INIT(0);
u64 ksm_zero_checksum __read_mostly;

static struct kmem_cache *ksm_block_cache __ro_after_init;
static struct kmem_cache *ksm_node_cache __ro_after_init;
static struct kmem_cache *ksm_slot_cache __ro_after_init;

/**
 * ksm_block_alloc() - allocate an empty block of tracking items
 * @mm: the mm whose addresses it tracks
 * @base: the first address it covers, KSM_BLOCK_SPAN aligned
 *
 * Return: the block, or NULL when memory is short (ksmd then skips the
 * pages it would have tracked).
 */
struct ksm_block *ksm_block_alloc(struct mm_struct *mm, unsigned long base)
{
	struct ksm_block *block;

	block = kmem_cache_zalloc(ksm_block_cache, GFP_KERNEL |
				  __GFP_NORETRY | __GFP_NOWARN);
	if (block) {
		block->mm = mm;
		block->base = base;
	}
	return block;
}

/**
 * ksm_block_free() - free a block that has no live item left
 * @block: the block, off its slot's list
 */
void ksm_block_free(struct ksm_block *block)
{
	VM_WARN_ON_ONCE(block->nr);
	kmem_cache_free(ksm_block_cache, block);
}

/**
 * ksm_item_init() - start tracking the page at index @idx of a block
 * @block: the block
 * @idx: the index; the item there is not live
 *
 * Return: the item, live, in no tree and without a checksum.
 */
struct ksm_item *ksm_item_init(struct ksm_block *block, unsigned int idx)
{
	struct ksm_item *item = &block->items[idx];

	VM_WARN_ON_ONCE(item->flags & KSM_ITEM_LIVE);
	memset(item, 0, sizeof(*item));
	item->flags = KSM_ITEM_LIVE |
		      ((unsigned long)idx << KSM_ITEM_INDEX_SHIFT);
	block->nr++;
	ksm_count.items++;
	block->mm->ksm_rmap_items++;
	return item;
}

/**
 * ksm_item_free() - stop tracking a page: the item is in no tree or list
 * @item: the item; its block is freed by the caller once it is empty
 */
void ksm_item_free(struct ksm_item *item)
{
	struct ksm_block *block = ksm_item_block(item);

	ksm_count.items--;
	block->mm->ksm_rmap_items--;
	block->nr--;
	item->flags = 0;
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
	if (node) {
		INIT_HLIST_HEAD(&node->sharers);
		ksm_count.stable_nodes++;
	}
	return node;
}

/**
 * ksm_node_free() - free a stable node that is in no tree and has no sharers
 * @node: the node
 */
void ksm_node_free(struct ksm_stable_node *node)
{
	VM_WARN_ON_ONCE(!hlist_empty(&node->sharers));
	ksm_count.stable_nodes--;
	kmem_cache_free(ksm_node_cache, node);
}

/**
 * ksm_slot_alloc() - allocate a zeroed mm slot
 *
 * Return: the slot, or NULL when memory is short.
 */
struct ksm_slot *ksm_slot_alloc(void)
{
	return kmem_cache_zalloc(ksm_slot_cache, GFP_KERNEL);
}

/**
 * ksm_slot_free() - free an mm slot that is on no list
 * @slot: the slot
 */
void ksm_slot_free(struct ksm_slot *slot)
{
	kmem_cache_free(ksm_slot_cache, slot);
}

/**
 * ksm_page_checksum() - the 64-bit xxhash of a page's content
 * @page: the page
 *
 * Return: the checksum, the key of both trees.
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

static bool ksm_offlining(void)
{
	return READ_ONCE(ksm_knobs.run) & KSM_RUN_OFFLINE;
}

/**
 * ksm_lock_stable() - take ksm_lock once no memory is being offlined
 *
 * Between MEM_GOING_OFFLINE and the end of the offlining, KSM pages are
 * migrated out of the range and stable nodes may point into it: nothing
 * may walk or end nodes then. The offline notifier does not keep ksm_lock
 * for that whole time (offlining takes locks of its own in between); it
 * sets KSM_RUN_OFFLINE instead, and whoever is about to touch the stable
 * trees waits here until it is cleared.
 */
void ksm_lock_stable(void)
{
	mutex_lock(&ksm_lock);
	while (ksm_offlining()) {
		mutex_unlock(&ksm_lock);
		wait_event(ksm_offline_wait, !ksm_offlining());
		mutex_lock(&ksm_lock);
	}
}

/**
 * ksm_set_offlining() - mark the start or the end of a memory offlining
 * @on: true at MEM_GOING_OFFLINE, false once offlining ended or failed
 *
 * Called under ksm_lock. The end wakes ksm_lock_stable() waiters and ksmd.
 */
void ksm_set_offlining(bool on)
{
	unsigned long run = ksm_knobs.run & ~KSM_RUN_OFFLINE;

	WRITE_ONCE(ksm_knobs.run, on ? run | KSM_RUN_OFFLINE : run);
	if (!on) {
		wake_up_all(&ksm_offline_wait);
		wake_up_interruptible(&ksm_thread_wait);
	}
}

static unsigned int ksm_sleep_gen;

/**
 * ksm_wake_sleeper() - end ksmd's current sleep between batches early
 */
void ksm_wake_sleeper(void)
{
	WRITE_ONCE(ksm_sleep_gen, ksm_sleep_gen + 1);
	wake_up_interruptible(&ksm_thread_wait);
}

static bool ksmd_has_work(void)
{
	return ksm_run_allowed() && !list_empty(&ksm_slot_list);
}

/* Stale nodes are pruned as lookups meet them; this sweeps the rest. */
static void ksmd_prune(unsigned long *next_prune)
{
	unsigned int ms = READ_ONCE(ksm_knobs.prune_millisecs);

	if (time_before(jiffies, *next_prune))
		return;
	ksm_prune_all_stale(0, ULONG_MAX);
	*next_prune = jiffies + msecs_to_jiffies(ms);
}

static void ksmd_sleep(void)
{
	unsigned int ms = READ_ONCE(ksm_knobs.sleep_millisecs);
	unsigned int gen = READ_ONCE(ksm_sleep_gen);

	if (!ms) {
		cond_resched();
		return;
	}
	wait_event_freezable_timeout(ksm_thread_wait,
				     kthread_should_stop() ||
				     READ_ONCE(ksm_sleep_gen) != gen,
				     msecs_to_jiffies(ms));
}

static int ksmd(void *unused)
{
	unsigned long next_prune = jiffies;

	set_freezable();
	set_user_nice(current, 5);

	while (!kthread_should_stop()) {
		mutex_lock(&ksm_lock);
		if (ksmd_has_work()) {
			ksm_scan_pages(READ_ONCE(ksm_knobs.pages_to_scan));
			ksmd_prune(&next_prune);
		}
		mutex_unlock(&ksm_lock);

		if (ksmd_has_work()) {
			ksmd_sleep();
			try_to_freeze();
		} else {
			wait_event_freezable(ksm_thread_wait,
					     ksmd_has_work() ||
					     kthread_should_stop());
		}
	}
	return 0;
}

static int __init ksm_caches_init(void)
{
	ksm_block_cache = KMEM_CACHE(ksm_block, 0);
	ksm_node_cache = KMEM_CACHE(ksm_stable_node, 0);
	ksm_slot_cache = KMEM_CACHE(ksm_slot, 0);
	if (ksm_block_cache && ksm_node_cache && ksm_slot_cache)
		return 0;
	kmem_cache_destroy(ksm_block_cache);
	kmem_cache_destroy(ksm_node_cache);
	kmem_cache_destroy(ksm_slot_cache);
	return -ENOMEM;
}

static int __init ksm_init(void)
{
	struct task_struct *ksmd_task;
	int err;

	ksm_zero_checksum = ksm_page_checksum(ZERO_PAGE(0));
	err = ksm_caches_init() ?: ksm_trees_init();
	if (err)
		goto fail;
	ksmd_task = kthread_run(ksmd, NULL, "ksmd");
	err = PTR_ERR_OR_ZERO(ksmd_task);
	if (err)
		goto fail;
	err = ksm_sysfs_init() ?: ksm_hotplug_init();
	if (!err)
		return 0;
	kthread_stop(ksmd_task);
fail:
	pr_err("not started: %d\n", err);
	return err;
}
subsys_initcall(ksm_init);
