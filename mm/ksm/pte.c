// SPDX-License-Identifier: GPL-2.0
/*
 * KSM's page-table surgery, the mechanism merging is made of: lock the
 * folio of a scanned page (splitting a large one), write-protect the PTE
 * that maps it, and point that PTE at the KSM page (or the zero page) in
 * place of the old page. merge.c decides what to merge; this file does
 * it. Of the rest of mm/ksm/ it uses only objects.c's page compare and
 * count of zero pages (through ksm_map_zero_page()).
 */

#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/swap.h>

#include "../internal.h"

#include "internal.h"

/**
 * ksm_page_lock_small() - lock the folio of a scanned page, split if huge
 * @pg: the page and its folio; we hold a reference on the folio
 *
 * KSM pages are always single pages, so a large folio is split first.
 * The split keeps our reference and the lock on the folio of @pg->page.
 *
 * Return: 0 with @pg->folio locked and small, or -EBUSY.
 */
int ksm_page_lock_small(struct ksm_page *pg)
{
	if (!folio_trylock(pg->folio))
		return -EBUSY;
	if (folio_test_large(pg->folio)) {
		if (split_huge_page(pg->page)) {
			folio_unlock(pg->folio);
			return -EBUSY;
		}
		pg->folio = page_folio(pg->page);
	}
	if (!folio_test_anon(pg->folio) || folio_test_ksm(pg->folio)) {
		folio_unlock(pg->folio);
		return -EBUSY;
	}
	return 0;
}

/*
 * A change of the one PTE that maps a page: the notifier range around it
 * (secondary MMUs, KVM, drop their mappings of the page) and the walk that
 * found and locked the PTE.
 */
struct ksm_pte_op {
	struct mmu_notifier_range range;
	struct page_vma_mapped_walk pvmw;
};

/*
 * Starts the notifier range of @addr and locks the PTE that maps @pg
 * there; false, with the range ended, if none does.
 */
static bool ksm_pte_begin(struct ksm_pte_op *op, struct vm_area_struct *vma,
			  unsigned long addr, struct ksm_page *pg)
{
	DEFINE_FOLIO_VMA_WALK(pvmw, pg->folio, vma, addr, 0);

	op->pvmw = pvmw;
	mmu_notifier_range_init(&op->range, MMU_NOTIFY_CLEAR, 0, vma->vm_mm,
				addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&op->range);
	if (page_vma_mapped_walk(&op->pvmw)) {
		if (!WARN_ONCE(!op->pvmw.pte,
			       "ksm: huge mapping of a small folio") &&
		    pte_pfn(ptep_get(op->pvmw.pte)) == page_to_pfn(pg->page))
			return true;
		page_vma_mapped_walk_done(&op->pvmw);
	}
	mmu_notifier_invalidate_range_end(&op->range);
	return false;
}

/* Unlocks the PTE and ends the range of ksm_pte_begin(). */
static void ksm_pte_end(struct ksm_pte_op *op)
{
	page_vma_mapped_walk_done(&op->pvmw);
	mmu_notifier_invalidate_range_end(&op->range);
}

/*
 * Clears the PTE of @op, flushing the TLB, into *@entry. Fails, with the
 * PTE put back, if anyone but the page tables, the swap cache and us holds
 * the page: a GUP pin (DMA, O_DIRECT) could still write to it.
 */
static bool ksm_pte_clear(struct ksm_pte_op *op, struct ksm_page *pg,
			  pte_t *entry)
{
	struct vm_area_struct *vma = op->pvmw.vma;
	unsigned long addr = op->pvmw.address;

	flush_cache_page(vma, addr, pte_pfn(ptep_get(op->pvmw.pte)));
	*entry = ptep_clear_flush(vma, addr, op->pvmw.pte);
	/* The PTE is gone before we look at the references. */
	smp_mb();
	if (folio_ref_count(pg->folio) ==
	    folio_expected_ref_count(pg->folio) + 1)
		return true;
	set_pte_at(vma->vm_mm, addr, op->pvmw.pte, *entry);
	return false;
}

/*
 * Makes the PTE that maps @pg at @addr read-only and clean. Fails if the
 * page may be pinned (ksm_pte_clear()).
 */
int ksm_wrprotect(struct vm_area_struct *vma, struct ksm_page *pg,
		  unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct ksm_pte_op op;
	int err = -EFAULT;
	bool exclusive;
	pte_t entry;

	if (!ksm_pte_begin(&op, vma, addr, pg))
		return -EFAULT;
	entry = ptep_get(op.pvmw.pte);
	exclusive = PageAnonExclusive(pg->page);
	if (pte_write(entry) || pte_dirty(entry) || exclusive ||
	    mm_tlb_flush_pending(mm)) {
		if (!ksm_pte_clear(&op, pg, &entry))
			goto done;
		if (exclusive &&
		    folio_try_share_anon_rmap_pte(pg->folio, pg->page)) {
			set_pte_at(mm, addr, op.pvmw.pte, entry);
			goto done;
		}
		if (pte_dirty(entry))
			folio_mark_dirty(pg->folio);
		entry = pte_mkclean(pte_wrprotect(entry));
		set_pte_at(mm, addr, op.pvmw.pte, entry);
	}
	err = 0;
done:
	ksm_pte_end(&op);
	return err;
}

/* The PTE that maps @kpage (NULL: KSM's zero page) where @orig was. */
static pte_t ksm_shared_pte(struct vm_area_struct *vma, unsigned long addr,
			    struct page *kpage, pte_t orig)
{
	pte_t pte;

	if (kpage) {
		pte = mk_pte(kpage, vma->vm_page_prot);
	} else {
		/* Dirty tells a KSM zero page from any other: is_ksm_zero_pte(). */
		pte = pfn_pte(my_zero_pfn(addr), vma->vm_page_prot);
		pte = pte_mkdirty(pte_mkspecial(pte));
	}
	pte = pte_wrprotect(pte);
	if (pte_uffd_wp(orig))
		pte = pte_mkuffd_wp(pte);
	if (pte_soft_dirty(orig))
		pte = pte_mksoft_dirty(pte);
	return pte;
}

/*
 * With the PTE at @addr cleared (it was @orig) and its lock held: maps
 * @kpage (whose folio is locked) or, for NULL, the zero page there in
 * place of @pg, and drops the mapping of @pg.
 */
static void ksm_map_shared(struct vm_area_struct *vma, unsigned long addr,
			   pte_t *ptep, pte_t orig, struct ksm_page *pg,
			   struct page *kpage)
{
	struct folio *kfolio = kpage ? page_folio(kpage) : NULL;
	struct mm_struct *mm = vma->vm_mm;

	if (kfolio) {
		folio_get(kfolio);
		folio_add_anon_rmap_pte(kfolio, kpage, vma, addr, RMAP_NONE);
	} else {
		ksm_map_zero_page(mm);
		dec_mm_counter(mm, MM_ANONPAGES);
	}
	set_pte_at(mm, addr, ptep, ksm_shared_pte(vma, addr, kpage, orig));
	if (kfolio)
		mlock_vma_folio(kfolio, vma);

	folio_remove_rmap_pte(pg->folio, pg->page, vma);
	munlock_vma_folio(pg->folio, vma);
	if (!folio_mapped(pg->folio))
		folio_free_swap(pg->folio);
	/* The reference the PTE held; the caller still holds its own. */
	folio_put(pg->folio);
}

/**
 * ksm_share_locked() - map a shared page in place of a page of equal content
 * @vma: the VMA of @addr; its mm's mmap_lock is held
 * @addr: where @pg is mapped
 * @pg: the page, its folio locked and small
 * @kpage: a page of a locked KSM folio, or NULL for the zero page
 *
 * The shared page cannot change (a KSM page is write-protected wherever it
 * is mapped): one pass under the PTE lock does it all. The PTE is cleared
 * and the TLB flushed, the page is compared with the shared one, and
 * either the shared page is mapped or the PTE is put back as it was. One
 * walk, one flush and one notifier call instead of two each; and a page
 * that turns out different keeps its writable PTE instead of taking a
 * write fault later.
 *
 * Return: 0; -EAGAIN if the contents differ; -EFAULT if @pg is not mapped
 * there any more or may be pinned.
 */
int ksm_share_locked(struct vm_area_struct *vma, unsigned long addr,
		     struct ksm_page *pg, struct page *kpage)
{
	struct page *model = kpage ? kpage : ZERO_PAGE(0);
	struct ksm_pte_op op;
	int err = -EFAULT;
	bool exclusive;
	pte_t orig;

	if (!ksm_pte_begin(&op, vma, addr, pg))
		return -EFAULT;
	exclusive = PageAnonExclusive(pg->page);
	if (!ksm_pte_clear(&op, pg, &orig))
		goto done;
	err = -EAGAIN;
	if (!ksm_pages_same(pg->page, model))
		goto restore;
	err = -EFAULT;
	if (exclusive &&
	    folio_try_share_anon_rmap_pte(pg->folio, pg->page))
		goto restore;
	if (pte_dirty(orig))
		folio_mark_dirty(pg->folio);
	ksm_map_shared(vma, addr, op.pvmw.pte, orig, pg, kpage);
	err = 0;
	goto done;
restore:
	set_pte_at(vma->vm_mm, addr, op.pvmw.pte, orig);
done:
	ksm_pte_end(&op);
	return err;
}

/*
 * Shares @kpage (locked KSM folio, or NULL for the zero page) at @addr in
 * place of @pg, if their content is the same (ksm_share_locked()).
 */
int ksm_share(struct vm_area_struct *vma, unsigned long addr,
	      struct ksm_page *pg, struct page *kpage)
{
	int err;

	err = ksm_page_lock_small(pg);
	if (err)
		return err;
	err = ksm_share_locked(vma, addr, pg, kpage);
	folio_unlock(pg->folio);
	return err;
}
