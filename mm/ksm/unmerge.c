// SPDX-License-Identifier: GPL-2.0
/*
 * KSM unmerging: giving every mapping of a range, or of every registered
 * mm, a private copy of the KSM pages (and KSM zero pages) it maps.
 *
 * The copy is made by the ordinary unshare fault (FAULT_FLAG_UNSHARE),
 * which works on PROT_NONE and uffd-wp ranges too and leaves the PTE
 * read-only, so nothing else about the mapping changes.
 */

#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/sched/signal.h>

#include "internal.h"

static bool ksm_pte_is_shared(struct vm_area_struct *vma, unsigned long addr,
			      pte_t pte)
{
	struct page *page;

	if (!pte_present(pte))
		return false;
	if (is_ksm_zero_pte(pte))
		return true;
	page = vm_normal_page(vma, addr, pte);
	return page && folio_test_ksm(page_folio(page));
}

/* Addresses of KSM pages (and KSM zero pages) one walk collects. */
#define KSM_UNSHARE_BATCH	16

struct ksm_shared_batch {
	unsigned long addr[KSM_UNSHARE_BATCH];
	unsigned int nr;
};

/* Collects the next KSM pages mapped in the walked range; 1 when full. */
static int ksm_find_shared_pmd(pmd_t *pmd, unsigned long addr,
			       unsigned long end, struct mm_walk *walk)
{
	struct ksm_shared_batch *batch = walk->private;
	pte_t *start, *pte;
	spinlock_t *ptl;	/* page-table lock */

	/* A huge mapping never maps a KSM page. */
	ptl = pmd_trans_huge_lock(pmd, walk->vma);
	if (ptl) {
		spin_unlock(ptl);
		return 0;
	}
	start = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!start) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (pte = start; addr < end; pte++, addr += PAGE_SIZE) {
		if (!ksm_pte_is_shared(walk->vma, addr, ptep_get(pte)))
			continue;
		batch->addr[batch->nr++] = addr;
		if (batch->nr == KSM_UNSHARE_BATCH)
			break;
	}
	pte_unmap_unlock(start, ptl);
	return batch->nr == KSM_UNSHARE_BATCH;
}

static const struct mm_walk_ops ksm_find_shared_ops = {
	.pmd_entry = ksm_find_shared_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/**
 * ksm_unmerge_range() - break every KSM page mapped in part of a VMA
 * @vma: the VMA; mmap_lock is held (read or write)
 * @start: start of the range
 * @end: end of the range
 *
 * One page-table walk finds up to KSM_UNSHARE_BATCH shared pages, then
 * each gets its unshare fault. A page the fault cannot copy (a poisoned
 * one) is left as it is.
 *
 * Return: 0, -ENOMEM, or -EINTR on a fatal signal.
 */
int ksm_unmerge_range(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end)
{
	unsigned long addr = start;

	while (addr < end) {
		struct ksm_shared_batch batch = { .nr = 0 };
		vm_fault_t ret, first = 0;
		unsigned int i;

		if (fatal_signal_pending(current))
			return -EINTR;
		walk_page_range_vma(vma, addr, end, &ksm_find_shared_ops,
				    &batch);
		if (!batch.nr)
			return 0;
		for (i = 0; i < batch.nr; i++) {
			ret = handle_mm_fault(vma, batch.addr[i],
					      FAULT_FLAG_UNSHARE |
					      FAULT_FLAG_REMOTE, NULL);
			if (ret & VM_FAULT_OOM)
				return -ENOMEM;
			if (!i)
				first = ret;
			cond_resched();
		}
		/*
		 * Look again from the first page: one may still (or again,
		 * after a swap round trip) map a KSM page. A first page the
		 * fault cannot copy (poisoned) is beyond repair: go on after
		 * it; a later one becomes the first of the next look.
		 */
		addr = batch.addr[0];
		if (first & VM_FAULT_ERROR)
			addr += PAGE_SIZE;
	}
	return 0;
}

/**
 * ksm_unmerge_mm() - break every KSM page of every mergeable VMA of an mm
 * @mm: the mm; its mmap_lock is held (read or write)
 *
 * Return: 0, -ENOMEM, or -EINTR on a fatal signal.
 */
int ksm_unmerge_mm(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	int err;

	for_each_vma(vmi, vma) {
		if (!(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma)
			continue;
		err = ksm_unmerge_range(vma, vma->vm_start, vma->vm_end);
		if (err)
			return err;
	}
	return 0;
}

/**
 * ksm_unmerge_all() - run=2: break every KSM page and forget all tracking
 *
 * The mms stay registered and their VMAs mergeable; the next run=1 starts
 * from nothing. Called under ksm_lock, in the context of the writer, whose
 * fatal signal stops it.
 *
 * Return: 0, -ENOMEM, or -EINTR.
 */
int ksm_unmerge_all(void)
{
	struct ksm_slot *slot = ksm_cursor_first();
	int err = 0;

	while (slot) {
		struct mm_struct *mm = slot->base.mm;
		bool gone;

		mmap_read_lock(mm);
		gone = !atomic_read(&mm->mm_users);
		if (!gone)
			err = ksm_unmerge_mm(mm);
		if (!err)
			ksm_slot_drop_items(slot);
		mmap_read_unlock(mm);
		if (err)
			break;
		slot = ksm_cursor_next(gone);
	}
	/* Interrupted: the marks of the slots not reached must go too. */
	if (err)
		ksm_forget_unstable();
	ksm_scan_restart();
	if (err)
		return err;
	/* Pages still mapped by an exiting mm keep their nodes for now. */
	ksm_retire_all_nodes();
	/* As upstream: counting passes starts again from nothing. */
	ksm_count.full_scans = 0;
	return 0;
}
