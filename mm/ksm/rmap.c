// SPDX-License-Identifier: GPL-2.0
/*
 * How the rest of mm reaches KSM pages: the reverse-map walk (reclaim,
 * migration, page_referenced), migration moving a stable node to the new
 * page, memory failure finding every sharer, and swap-in deciding whether
 * a once-KSM page can be mapped as it is.
 *
 * The reverse map of a KSM page is its stable node's sharers: each records
 * an address and an anon_vma (held with a reference), and every VMA of that
 * anon_vma covering the address may map the page, forks included.
 */

#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>

#include "../internal.h"
#include "internal.h"

/* Whether @vma, found under a sharer's anon_vma, covers its address. */
static bool ksm_vma_covers(struct vm_area_struct *vma, unsigned long addr)
{
	return addr >= vma->vm_start && addr < vma->vm_end;
}

/**
 * rmap_walk_ksm() - the reverse-map walk of a KSM folio
 * @folio: the folio, locked
 * @rwc: what to do for each mapping
 *
 * The folio lock keeps the sharers list still: ksmd changes it only with
 * that lock held.
 */
void rmap_walk_ksm(struct folio *folio, struct rmap_walk_control *rwc)
{
	struct ksm_stable_node *node = ksm_folio_node(folio);
	struct anon_vma_chain *avc;
	struct ksm_item *item;

	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);
	if (!node)
		return;
	for (item = node->sharers; item; item = item->next) {
		struct anon_vma *anon_vma = ksm_sharer_anon_vma(item);
		unsigned long addr = ksm_item_addr(item);

		cond_resched();
		if (!rwc->try_lock) {
			anon_vma_lock_read(anon_vma);
		} else if (!anon_vma_trylock_read(anon_vma)) {
			rwc->contended = true;
			return;
		}
		anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root,
					       0, ULONG_MAX) {
			struct vm_area_struct *vma = avc->vma;

			if (!ksm_vma_covers(vma, addr))
				continue;
			if (rwc->invalid_vma && rwc->invalid_vma(vma, rwc->arg))
				continue;
			if (!rwc->rmap_one(folio, vma, addr, rwc->arg) ||
			    (rwc->done && rwc->done(folio))) {
				anon_vma_unlock_read(anon_vma);
				return;
			}
		}
		anon_vma_unlock_read(anon_vma);
	}
}

/**
 * folio_migrate_ksm() - the KSM page moved to @newfolio
 * @newfolio: the new folio, locked; ->mapping already copied
 * @folio: the old folio, locked
 */
void folio_migrate_ksm(struct folio *newfolio, struct folio *folio)
{
	struct ksm_stable_node *node = ksm_folio_node(folio);

	if (!node)
		return;
	VM_WARN_ON_ONCE_FOLIO(ksm_folio_node(newfolio) != node, newfolio);
	WRITE_ONCE(node->kpfn, folio_pfn(newfolio));
	/* The new pfn is visible before the old folio loses its mapping. */
	smp_wmb();
}

#ifdef CONFIG_MEMORY_FAILURE
/**
 * collect_procs_ksm() - the processes that map a poisoned KSM page
 * @folio: the folio, locked
 * @page: the poisoned page
 * @to_kill: where to queue them
 * @force_early: kill at once even those that did not ask for it
 */
void collect_procs_ksm(struct folio *folio, struct page *page,
		       struct list_head *to_kill, int force_early)
{
	struct ksm_stable_node *node = ksm_folio_node(folio);
	struct anon_vma_chain *avc;
	struct task_struct *tsk;
	struct ksm_item *item;

	if (!node)
		return;
	for (item = node->sharers; item; item = item->next) {
		struct anon_vma *anon_vma = ksm_sharer_anon_vma(item);
		unsigned long addr = ksm_item_addr(item);

		anon_vma_lock_read(anon_vma);
		rcu_read_lock();
		for_each_process(tsk) {
			struct task_struct *t = task_early_kill(tsk, force_early);

			if (!t)
				continue;
			anon_vma_interval_tree_foreach(avc,
						       &anon_vma->rb_root,
						       0, ULONG_MAX) {
				struct vm_area_struct *vma = avc->vma;

				if (vma->vm_mm == t->mm &&
				    ksm_vma_covers(vma, addr))
					add_to_kill_ksm(t, page, vma, to_kill,
							addr);
			}
		}
		rcu_read_unlock();
		anon_vma_unlock_read(anon_vma);
	}
}
#endif /* CONFIG_MEMORY_FAILURE */

/* Whether a swapped-in page may be mapped at @addr of @vma as it is. */
static bool ksm_swapin_fits(struct folio *folio, struct vm_area_struct *vma,
			    unsigned long addr)
{
	struct anon_vma *anon_vma = folio_anon_vma(folio);

	/*
	 * A KSM page goes back only where ksmd may find it again: unmerging
	 * skips swapped-out pages, and a mapping no item stands for would
	 * be out of reach of the reverse map for good.
	 */
	if (folio_test_ksm(folio))
		return !(READ_ONCE(ksm_knobs.run) & KSM_RUN_UNMERGE) &&
		       ksm_vma_mergeable(vma);
	/* Fresh from swap: the caller adds it as a new anonymous page. */
	if (!anon_vma)
		return true;
	return folio->index == linear_page_index(vma, addr) &&
	       anon_vma->root == vma->anon_vma->root;
}

/**
 * ksm_might_need_to_copy() - swap-in of a page that may have been shared
 * @folio: the swap-cache folio, locked, with a reference held
 * @vma: where it is being mapped
 * @addr: the address
 *
 * A KSM page is mapped as it is, unless everything is being unmerged. A
 * page that belongs to another anon_vma or offset (a KSM page that lost
 * its stable node while swapped out) cannot be mapped here without the
 * locking a KSM page gets, so it is copied; ksmd may merge it again later.
 *
 * Return: @folio; a locked copy with one reference, charged to the mm and
 * not yet mapped or on the LRU; NULL without memory; ERR_PTR(-EHWPOISON)
 * if the page is poisoned.
 */
struct folio *ksm_might_need_to_copy(struct folio *folio,
				     struct vm_area_struct *vma,
				     unsigned long addr)
{
	struct page *page = folio_page(folio, 0);
	struct folio *copy;

	if (folio_test_large(folio) || ksm_swapin_fits(folio, vma, addr))
		return folio;
	/* The caller reports the failed read. */
	if (!folio_test_uptodate(folio))
		return folio;
	if (PageHWPoison(page))
		return ERR_PTR(-EHWPOISON);

	copy = vma_alloc_folio(GFP_HIGHUSER_MOVABLE, 0, vma, addr, false);
	if (!copy)
		return NULL;
	if (mem_cgroup_charge(copy, vma->vm_mm, GFP_KERNEL)) {
		folio_put(copy);
		return NULL;
	}
	if (copy_mc_user_highpage(folio_page(copy, 0), page, addr, vma)) {
		folio_put(copy);
		return ERR_PTR(-EHWPOISON);
	}
	folio_set_dirty(copy);
	__folio_mark_uptodate(copy);
	__folio_set_locked(copy);
	__folio_set_swapbacked(copy);
#ifdef CONFIG_SWAP
	count_vm_event(KSM_SWPIN_COPY);
#endif
	return copy;
}

/**
 * ksm_process_profit() - memory KSM saves an mm, less what it costs it
 * @mm: the mm
 *
 * Return: bytes saved by merged pages and zero pages, minus the bytes of
 * the tracking items of @mm; may be negative.
 */
long ksm_process_profit(struct mm_struct *mm)
{
	return ksm_profit(READ_ONCE(mm->ksm_merging_pages),
			  mm_ksm_zero_pages(mm), READ_ONCE(mm->ksm_rmap_items));
}
