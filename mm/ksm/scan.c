// SPDX-License-Identifier: GPL-2.0
/*
 * The KSM scan: ksmd's walk over the mergeable memory of every registered
 * mm, a batch of pages at a time (collected by walk.c), the upkeep of each
 * mm's address-ordered list of item blocks along the way, the passes and
 * smart scan's choice of the pages to look at.
 */

#include <linux/mm.h>
#include <linux/pagevec.h>
#include <linux/sched/mm.h>
#include <linux/swap.h>

#include <trace/events/ksm.h>

#include "internal.h"

/**
 * ksm_item_forget() - take an item out of whatever tree it is in
 * @item: the item
 */
void ksm_item_forget(struct ksm_item *item)
{
	if (ksm_item_stable(item))
		ksm_item_unlink_stable(item);
	else
		ksm_item_clear_unstable(item, ksm_cursor.gen);
}

/* Frees the live items of @block at indices @from to @to - 1. */
static void ksm_block_drop(struct ksm_block *block, unsigned int from,
			   unsigned int to)
{
	unsigned int i;

	for (i = from; i < to; i++) {
		struct ksm_item *item = &block->items[i];

		if (item->info & KSM_ITEM_LIVE) {
			ksm_item_forget(item);
			ksm_item_free(item);
		}
	}
}

/*
 * Moves the cursor past its block, dropping the items the walk did not
 * come to: their pages are gone. The block goes too if it is empty.
 */
static void ksm_cursor_leave_block(void)
{
	struct ksm_block *block = *ksm_cursor.link;

	ksm_block_drop(block, ksm_cursor.idx, ksm_block_cap(block));
	if (ksm_block_live(block)) {
		ksm_cursor.link = &block->next;
	} else {
		*ksm_cursor.link = block->next;
		ksm_block_free(block);
	}
	ksm_cursor.idx = 0;
}

/* The slow path of ksm_drop_items_below(). */
static void __ksm_drop_items_below(unsigned long addr)
{
	struct ksm_block *block;
	unsigned int idx;

	while ((block = *ksm_cursor.link) && ksm_block_end(block) <= addr)
		ksm_cursor_leave_block();
	if (!block || addr <= ksm_block_base(block))
		return;
	idx = (addr - ksm_block_base(block)) >> PAGE_SHIFT;
	if (idx > ksm_cursor.idx) {
		ksm_block_drop(block, ksm_cursor.idx, idx);
		ksm_cursor.idx = idx;
	}
}

/*
 * Frees the items at the cursor whose address is below @addr. Inline the
 * case of every page but the first of a block in a dense area: @addr is
 * the address of the cursor's index, in the block at the cursor.
 */
static __always_inline void ksm_drop_items_below(unsigned long addr)
{
	struct ksm_block *block = *ksm_cursor.link;

	if (block && ksm_cursor.idx < ksm_block_cap(block) &&
	    addr == ksm_block_base(block) +
		    ((unsigned long)ksm_cursor.idx << PAGE_SHIFT))
		return;
	__ksm_drop_items_below(addr);
}

/**
 * ksm_slot_drop_items() - free every item of an mm
 * @slot: the slot; ksmd is not inside it
 */
void ksm_slot_drop_items(struct ksm_slot *slot)
{
	struct ksm_block *block;

	while ((block = slot->blocks)) {
		ksm_block_drop(block, 0, ksm_block_cap(block));
		slot->blocks = block->next;
		ksm_block_free(block);
		cond_resched();
	}
}

/*
 * Clears the unstable mark of every item of @slot (taking it out of the
 * unstable tree of this pass), and the @flags bits too. A sharer has
 * neither a mark nor a key: it is left as it is, with the age it keeps,
 * until the scan comes to it and it leaves its node.
 */
static void ksm_slot_forget(struct ksm_slot *slot, unsigned long flags)
{
	struct ksm_block *block;
	unsigned int i;

	for (block = slot->blocks; block; block = block->next) {
		for (i = 0; i < ksm_block_cap(block); i++) {
			struct ksm_item *item = &block->items[i];

			if (!(item->info & KSM_ITEM_LIVE) ||
			    ksm_item_stable(item))
				continue;
			ksm_item_clear_unstable(item, ksm_cursor.gen);
			item->info &= ~flags;
		}
		cond_resched();
	}
}

/*
 * Whether the span of the page of batch entry @i gets solo blocks: a
 * block next to the cursor reaches into it already, or fewer than
 * KSM_BLOCK_SOLO_MAX of its pages are mapped from this one on (the
 * batch's entries, then, if the batch ended inside the span, the pages
 * mapped in the rest of it).
 */
static bool ksm_span_sparse(struct vm_area_struct *vma,
			    const struct ksm_batch *b, unsigned int i)
{
	unsigned long span = ALIGN_DOWN(b->addr[i], KSM_BLOCK_SPAN);
	unsigned long span_end = span + KSM_BLOCK_SPAN;
	struct ksm_block *prev, *next = *ksm_cursor.link;
	unsigned int mapped = 0;

	if (ksm_cursor.link != &ksm_cursor.slot->blocks) {
		prev = container_of(ksm_cursor.link, struct ksm_block, next);
		if (ksm_block_end(prev) > span)
			return true;
	}
	if (next && ksm_block_base(next) < span_end)
		return true;
	for (; i < b->nr && b->addr[i] < span_end; i++)
		mapped++;
	if (i == b->nr && b->next < min(span_end, vma->vm_end))
		mapped += ksm_count_mapped(vma, b->next,
					   min(span_end, vma->vm_end));
	return mapped < KSM_BLOCK_SOLO_MAX;
}

/*
 * The item of batch entry @i's page at the cursor, created if need be;
 * NULL if there is no memory for it.
 */
static struct ksm_item *ksm_item_at(struct vm_area_struct *vma,
				    const struct ksm_batch *b, unsigned int i)
{
	unsigned long addr = b->addr[i];
	struct ksm_block *block;
	struct ksm_item *item;
	unsigned int idx;

	ksm_drop_items_below(addr);
	block = *ksm_cursor.link;
	if (!block || addr < ksm_block_base(block)) {
		/* No block covers @addr: the next one starts past it. */
		if (ksm_span_sparse(vma, b, i))
			block = ksm_block_alloc(vma->vm_mm, addr, true);
		else
			block = ksm_block_alloc(vma->vm_mm,
						ALIGN_DOWN(addr, KSM_BLOCK_SPAN),
						false);
		if (!block)
			return NULL;
		block->next = *ksm_cursor.link;
		*ksm_cursor.link = block;
	}
	idx = (addr - ksm_block_base(block)) >> PAGE_SHIFT;
	item = &block->items[idx];
	if (!(item->info & KSM_ITEM_LIVE))
		ksm_item_init(block, idx);
	ksm_cursor.idx = idx + 1;
	/* An unstable mark from the last pass means nothing any more. */
	ksm_item_clear_unstable(item, ksm_cursor.gen);
	return item;
}

/**
 * ksm_skip_for_age() - smart scan's policy
 * @age: passes in a row a page was looked at and not merged
 *
 * A page gets two looks (one to learn its checksum, one to match it)
 * before it is ever skipped; then the longer it has gone unmerged, the
 * more passes it sits out between two looks, up to 8.
 *
 * Return: how many passes the page sits out after each look.
 */
unsigned int ksm_skip_for_age(unsigned int age)
{
	if (age < 3)
		return 0;
	if (age < 5)
		return 1;
	if (age < 8)
		return 2;
	if (age < 12)
		return 4;
	return 8;
}

/**
 * ksm_looks_this_pass() - whether smart scan looks at a page this pass
 * @skip: passes the page sits out between two looks (ksm_skip_for_age())
 * @pass: the number of the pass
 * @pgoff: the page's address in pages, which spreads the looks at pages
 *	of one age over the passes
 *
 * No countdown is stored: a page is looked at every @skip + 1 passes.
 *
 * Return: true if the page is looked at in pass @pass.
 */
bool ksm_looks_this_pass(unsigned int skip, unsigned int pass,
			 unsigned long pgoff)
{
	return !skip || (pass + pgoff) % (skip + 1) == 0;
}

/*
 * Smart scan: true if this pass leaves the page of @item alone (@ksm_page:
 * it is a KSM page). A sharer whose page is a KSM page is never left
 * alone. One whose page a write has copied since is, by the age it kept
 * (ksm_sharer_age()), as a page that never merged would be.
 */
static bool ksm_item_skipped(struct ksm_item *item, bool ksm_page)
{
	unsigned int age;

	if (!READ_ONCE(ksm_knobs.smart_scan))
		return false;
	if (!ksm_item_stable(item))
		age = ksm_item_age(item);
	else if (!ksm_page)
		age = ksm_sharer_age(item);
	else
		return false;
	if (ksm_looks_this_pass(ksm_skip_for_age(age), ksm_cursor.gen,
				ksm_item_addr(item) >> PAGE_SHIFT))
		return false;
	ksm_count_add(&ksm_count.pages_skipped, 1);
	return true;
}

/*
 * Counts a look at a page that was not a KSM page (@was_ksm false): that
 * is the smart scan age. The look that merged it counts too, in the age
 * the sharer keeps, so that a page merged and written again and again ages
 * as one that never merges does, and is looked at less and less often. A
 * look at a KSM page (one that moved to another node, or that failed to
 * leave its merge domain) is no such look.
 */
static void ksm_item_looked_at(struct ksm_item *item, bool was_ksm)
{
	if (ksm_item_stable(item)) {
		if (!was_ksm)
			ksm_sharer_age_up(item);
	} else if (ksm_item_age(item) < KSM_ITEM_AGE_MAX) {
		item->info += 1UL << KSM_ITEM_AGE_SHIFT;
	}
}

/*
 * Drops the batch's reference on a page it is done with. A page no longer
 * mapped (a merge replaced it) is likely freed by it: such pages are
 * released together, which takes the LRU and page allocator locks once per
 * batch instead of once per page. A page still mapped is put at once: a
 * later page of the batch may pair with it, and a reference more would
 * look like a pin.
 */
static void ksm_batch_put(struct folio_batch *done, struct folio *folio)
{
	if (folio_mapped(folio))
		folio_put(folio);
	else if (!folio_batch_add(done, folio))
		folios_put(done);
}

/*
 * Handles the pages of a batch; returns how many were scanned. The batch
 * saw them all at once (walk.c). While ksmd only looks at pages, what it
 * saw stays as fresh as a page looked up on its own; once it works on one
 * (hashes, merges: the page-table lock held, a fault waiting for it), the
 * pages after it may have changed meanwhile, and a page found merged is
 * checked again (ksm_merge_page()): as the page table has it when it is
 * looked at, not when the batch began. Without that, user space that
 * wrote a merged page and waited for the next full scan could find the
 * scan ended without it, the write having waited for ksmd's lock.
 */
static unsigned int ksm_batch_process(struct ksm_batch *b,
				      struct vm_area_struct *vma)
{
	unsigned int i, scanned = 0;
	struct folio_batch done;
	bool fresh = true;

	folio_batch_init(&done);

	for (i = 0; i < b->nr; i++) {
		struct ksm_item *item = ksm_item_at(vma, b, i);
		/* Before the merge: the page a pair keeps is a KSM page after. */
		bool was_ksm = folio_test_ksm(b->pages[i].folio);

		/* A skipped page costs neither budget nor a count. */
		if (!item) {
			/* No memory for its item: not tracked this pass. */
		} else if (ksm_item_skipped(item, was_ksm)) {
			fresh &= ksm_offer_skipped(item, vma, &b->pages[i]);
		} else {
			/* True: still the KSM page of its item, only looked at. */
			if (!ksm_merge_page(item, vma, &b->pages[i], fresh)) {
				fresh = false;
				ksm_item_looked_at(item, was_ksm);
			}
			scanned++;
		}
		ksm_batch_put(&done, b->pages[i].folio);
		ksm_cursor.addr = b->addr[i] + PAGE_SIZE;
	}
	folios_put(&done);
	ksm_count_add(&ksm_count.pages_scanned, scanned);
	return scanned;
}

/*
 * Scans the VMA from the cursor on, at most @budget pages. Returns the
 * number of pages scanned; the cursor is past the VMA when it is done.
 */
static unsigned int ksm_scan_vma(struct vm_area_struct *vma,
				 unsigned int budget)
{
	/* ksm_lock serializes its users. */
	static struct ksm_batch batch;
	struct ksm_batch *b = &batch;
	unsigned int done = 0;

	if (ksm_cursor.addr < vma->vm_start)
		ksm_cursor.addr = vma->vm_start;
	while (ksm_cursor.addr < vma->vm_end && done < budget) {
		/*
		 * Before a batch, when no page holds a reference that
		 * migration and reclaim would find while we sleep; and not
		 * after one, so that the batch that ends a pass ends it at
		 * once (ksm_batch_process()).
		 */
		cond_resched();
		b->max = min_t(unsigned int, KSM_BATCH, budget - done);
		ksm_collect_batch(vma, ksm_cursor.addr, b);
		done += ksm_batch_process(b, vma);
		ksm_cursor.addr = max(ksm_cursor.addr, b->next);
		/* Someone waits to change the mm (fork, mmap): let them. */
		if (mmap_lock_is_contended(vma->vm_mm))
			break;
	}
	return done;
}

/* Points the cursor at the start of @slot; under ksm_slot_lock. */
static void ksm_cursor_set(struct ksm_slot *slot)
{
	ksm_cursor.slot = slot;
	ksm_cursor.addr = 0;
	ksm_cursor.link = slot ? &slot->blocks : NULL;
	ksm_cursor.idx = 0;
}

/**
 * ksm_cursor_first() - point the cursor at the first registered mm
 *
 * Picking the slot and publishing it as the cursor happen under one hold
 * of ksm_slot_lock: __ksm_exit() frees any slot that is not the cursor.
 *
 * Return: the slot, or NULL if no mm is registered.
 */
struct ksm_slot *ksm_cursor_first(void)
{
	spin_lock(&ksm_slot_lock);
	ksm_cursor_set(ksm_slot_first());
	spin_unlock(&ksm_slot_lock);
	return ksm_cursor.slot;
}

/**
 * ksm_cursor_next() - move the cursor to the next registered mm
 * @release: free the slot left behind; its mm exited and it has no items
 *
 * Return: the new slot, or NULL at the end of the list.
 */
struct ksm_slot *ksm_cursor_next(bool release)
{
	struct ksm_slot *left = ksm_cursor.slot;

	spin_lock(&ksm_slot_lock);
	ksm_cursor_set(ksm_slot_next(left));
	if (release)
		ksm_slot_unlink(left);
	spin_unlock(&ksm_slot_lock);
	if (release)
		ksm_slot_release(left);
	return ksm_cursor.slot;
}

/**
 * ksm_cursor_reset() - forget the position: the next batch starts a pass
 */
void ksm_cursor_reset(void)
{
	spin_lock(&ksm_slot_lock);
	ksm_cursor_set(NULL);
	spin_unlock(&ksm_slot_lock);
}

static void ksm_pass_end(void);

/* Moves on to the next mm; past the last one, the pass ends. */
static void ksm_cursor_advance(bool release)
{
	if (!ksm_cursor_next(release))
		ksm_pass_end();
}

/* Scans the mm at the cursor; returns pages scanned. */
static unsigned int ksm_scan_slot(unsigned int budget)
{
	VMA_ITERATOR(vmi, ksm_cursor.slot->base.mm, 0);
	struct mm_struct *mm = ksm_cursor.slot->base.mm;
	struct vm_area_struct *vma;
	unsigned int done = 0;

	mmap_read_lock(mm);
	vma_iter_set(&vmi, ksm_cursor.addr);
	if (!atomic_read(&mm->mm_users)) {
		/* Exiting: forget it; __ksm_exit() waits for our unlock. */
		ksm_slot_drop_items(ksm_cursor.slot);
		mmap_read_unlock(mm);
		ksm_cursor_advance(true);
		return 0;
	}
	/*
	 * Its merge domain, once per visit (the cursor's address is 0 only
	 * before the visit's first batch). An mm in another domain than
	 * last time forgets the checksums and unstable marks of the old
	 * one; its sharers leave their KSM pages when the scan comes to
	 * them (merge.c).
	 */
	if (!ksm_cursor.addr) {
		if (ksm_domain_enter(ksm_cursor.slot))
			ksm_slot_forget(ksm_cursor.slot,
					KSM_ITEM_HASHED | KSM_ITEM_AGE_MASK);
		ksm_cursor.zero_key = ksm_unstable_key(ksm_zero_checksum ^
						       ksm_cursor.salt);
	}
	for_each_vma(vmi, vma) {
		if (!ksm_vma_mergeable(vma))
			continue;
		done += ksm_scan_vma(vma, budget - done);
		/* Out of budget, or mmap_lock wanted: resume here later. */
		if (ksm_cursor.addr < vma->vm_end) {
			mmap_read_unlock(mm);
			return done;
		}
	}
	/* Past the last VMA: items still ahead of the cursor are stale. */
	ksm_drop_items_below(ULONG_MAX);
	/*
	 * Count the pass before letting go of mmap_lock: whoever makes this
	 * mm mergeable now (it waits for the lock) sees full_scans already
	 * counted, so the next two passes both look at the new range, as
	 * user space that waits for two passes expects.
	 */
	ksm_cursor_advance(false);
	mmap_read_unlock(mm);
	return done;
}

static bool ksm_pass_begin(void)
{
	if (!ksm_cursor_first())
		return false;
	/*
	 * A page still in a per-CPU LRU batch holds a reference that looks
	 * like a pin to ksm_wrprotect(): flush them once per pass.
	 */
	lru_add_drain_all();
	ksm_unstable_begin();
	ksm_advisor_pass_begin();
	trace_ksm_start_scan(ksm_count.full_scans, ksm_count.items);
	return true;
}

/**
 * ksm_forget_unstable() - clear every item's unstable mark
 *
 * A pass refreshes the mark of every item it visits; a restart that skips
 * the rest of a pass must clear the marks it did not reach, or an 8-bit
 * generation could come round to them again.
 */
void ksm_forget_unstable(void)
{
	struct ksm_slot *slot;

	/* The cursor keeps the slot in hand safe from __ksm_exit(). */
	for (slot = ksm_cursor_first(); slot; slot = ksm_cursor_next(false))
		ksm_slot_forget(slot, 0);
}

/**
 * ksm_scan_restart() - start the next pass from the first mm, with empty
 * unstable trees
 */
void ksm_scan_restart(void)
{
	ksm_cursor_reset();
	ksm_unstable_reset();
	ksm_cursor.gen++;
}

/**
 * ksm_full_scans_reset() - count full scans from zero again
 *
 * After run=2, as upstream does.
 */
void ksm_full_scans_reset(void)
{
	WRITE_ONCE(ksm_count.full_scans, 0);
}

static void ksm_pass_end(void)
{
	trace_ksm_stop_scan(ksm_count.full_scans, ksm_count.items);
	ksm_advisor_pass_end();
	ksm_scan_restart();
	ksm_count_add(&ksm_count.full_scans, 1);
}

/**
 * ksm_scan_pages() - ksmd's batch: scan up to @budget pages
 * @budget: pages_to_scan
 *
 * Stops early at the end of a full pass, so each pass ends in a batch of
 * its own and full_scans moves one at a time. Called under ksm_lock.
 */
void ksm_scan_pages(unsigned int budget)
{
	unsigned int done = 0;

	if (!ksm_cursor.slot && !ksm_pass_begin())
		return;
	while (done < budget && ksm_run_allowed()) {
		done += ksm_scan_slot(budget - done);
		if (!ksm_cursor.slot)
			break;
	}
}
