// SPDX-License-Identifier: GPL-2.0
/*
 * The page-table walk of the KSM scan: the next batch of mapped anonymous
 * pages of a VMA. The page tables are walked one PMD range at a time under
 * a single page-table lock, collecting up to KSM_BATCH pages with a
 * reference each; the caller handles them with the lock dropped. A page of
 * a large folio is alone in its batch: merging it means splitting the
 * folio, which fails while we hold more than one reference on it. Also
 * counts the pages a range maps, for the scan to size a new block. Calls
 * no other file of mm/ksm/.
 */

#include <linux/mm.h>
#include <linux/pagewalk.h>

#include "internal.h"

static void ksm_batch_add(struct ksm_batch *b, unsigned long addr,
			  struct page *page, struct folio *folio)
{
	folio_get(folio);
	b->addr[b->nr] = addr;
	b->pages[b->nr].page = page;
	b->pages[b->nr].folio = folio;
	b->nr++;
}

/*
 * Adds the page at @addr unless the batch must end before it; returns
 * whether the walk stops after this address.
 */
static bool ksm_collect(struct ksm_batch *b, unsigned long addr,
			struct page *page, struct folio *folio)
{
	bool large = folio_test_large(folio);

	if (large && b->nr) {
		/* Not here: it starts the next batch, alone. */
		b->next = addr;
		return true;
	}
	ksm_batch_add(b, addr, page, folio);
	b->next = addr + PAGE_SIZE;
	return large || b->nr >= b->max;
}

/* A PMD-mapped THP: the page at @addr, if the batch can take it. */
static void ksm_collect_huge(struct ksm_batch *b, pmd_t pmd,
			     unsigned long addr, unsigned long end)
{
	struct folio *folio;
	struct page *head;

	b->next = end;
	if (!pmd_present(pmd) || is_huge_zero_pmd(pmd))
		return;
	head = pmd_page(pmd);
	folio = page_folio(head);
	if (folio_test_anon(folio))
		ksm_collect(b, addr, nth_page(head, (addr & ~HPAGE_PMD_MASK) >>
					      PAGE_SHIFT), folio);
}

/*
 * The anonymous page a PTE maps, if it maps one. Inlined even in a kernel
 * built for size: a call for every PTE of the scan's walk, mapped or not,
 * costs ksmd up to three times its CPU time in a sparse area.
 */
static __always_inline struct page *ksm_anon_page(struct vm_area_struct *vma,
						  unsigned long addr, pte_t pte)
{
	struct page *page = NULL;

	if (pte_present(pte))
		page = vm_normal_page(vma, addr, pte);
	return page && folio_test_anon(page_folio(page)) ? page : NULL;
}

static int ksm_collect_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			   struct mm_walk *walk)
{
	struct ksm_batch *b = walk->private;
	struct vm_area_struct *vma = walk->vma;
	pte_t *start, *pte;
	spinlock_t *ptl;	/* page-table lock */

	ptl = pmd_trans_huge_lock(pmd, vma);
	if (ptl) {
		ksm_collect_huge(b, pmdp_get(pmd), addr, end);
		spin_unlock(ptl);
		return b->nr > 0;
	}

	start = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!start) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	b->next = end;
	for (pte = start; addr < end; pte++, addr += PAGE_SIZE) {
		struct page *page = ksm_anon_page(vma, addr, ptep_get(pte));

		if (page && ksm_collect(b, addr, page, page_folio(page)))
			break;
	}
	pte_unmap_unlock(start, ptl);
	return addr < end;
}

static const struct mm_walk_ops ksm_collect_ops = {
	.pmd_entry = ksm_collect_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

static int ksm_count_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			 struct mm_walk *walk)
{
	unsigned int *mapped = walk->private;
	struct vm_area_struct *vma = walk->vma;
	pte_t *start, *pte;
	spinlock_t *ptl;	/* page-table lock */

	ptl = pmd_trans_huge_lock(pmd, vma);
	if (ptl) {
		pmd_t val = pmdp_get(pmd);

		if (pmd_present(val) && !is_huge_zero_pmd(val) &&
		    folio_test_anon(page_folio(pmd_page(val))))
			*mapped += (end - addr) >> PAGE_SHIFT;
		spin_unlock(ptl);
		return 0;
	}
	start = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!start)
		return 0;
	for (pte = start; addr < end; pte++, addr += PAGE_SIZE)
		if (ksm_anon_page(vma, addr, ptep_get(pte)))
			(*mapped)++;
	pte_unmap_unlock(start, ptl);
	return 0;
}

static const struct mm_walk_ops ksm_count_ops = {
	.pmd_entry = ksm_count_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/**
 * ksm_count_mapped() - how many anonymous pages a range of a VMA maps
 * @vma: the VMA; its mmap_lock is held
 * @start: the first address
 * @end: the address past the range, within @vma
 *
 * Return: the pages mapped, a huge page counting as the pages it maps.
 */
unsigned int ksm_count_mapped(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end)
{
	unsigned int mapped = 0;

	walk_page_range_vma(vma, start, end, &ksm_count_ops, &mapped);
	return mapped;
}

/**
 * ksm_collect_batch() - the next mapped anonymous pages of a VMA
 * @vma: the VMA; its mmap_lock is held
 * @start: the address to start at
 * @b: the batch; ->max says how many pages it may take
 *
 * On return ->nr pages, each with a reference the caller drops, are in
 * ->pages (their addresses in ->addr), and ->next is where the next batch
 * starts.
 */
void ksm_collect_batch(struct vm_area_struct *vma, unsigned long start,
		       struct ksm_batch *b)
{
	b->nr = 0;
	b->next = vma->vm_end;
	if (walk_page_range_vma(vma, start, vma->vm_end, &ksm_collect_ops,
				b) <= 0)
		b->next = vma->vm_end;
}
