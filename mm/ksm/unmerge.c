// SPDX-License-Identifier: GPL-2.0
/*
 * KSM unmerging: giving every mapping of a range, or of an mm, a private
 * copy of the KSM pages (and KSM zero pages) it maps.
 *
 * The copy is made by the ordinary unshare fault (FAULT_FLAG_UNSHARE),
 * which works on PROT_NONE and uffd-wp ranges too and leaves the PTE
 * read-only, so nothing else about the mapping changes. The last mapping
 * of a KSM page needs no copy: it takes the page back as its own.
 */

#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/rmap.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "internal.h"

/* Addresses of KSM pages (and KSM zero pages) one walk collects. */
#define KSM_UNSHARE_BATCH	16

struct ksm_shared_batch {
	unsigned long addr[KSM_UNSHARE_BATCH];
	unsigned int nr;
	struct mem_cgroup *memcg;	/* of the mm being unmerged */
};

/* Whether nothing but the one PTE that maps it holds the folio. */
static bool ksm_folio_held_once(struct folio *folio)
{
	return folio_mapcount(folio) == 1 && folio_ref_count(folio) == 1;
}

/*
 * The last mapping of a KSM page takes it back as its own anonymous page,
 * where an unshare fault would copy it and free the original: nobody else
 * maps the page or holds a reference to it (no GUP pin, no swap cache),
 * and nobody can start to while its PTE lock and its folio lock are held:
 * ksmd maps a KSM page only with its folio locked. The page must also be
 * charged to the mm's own memory cgroup, as a copy would be. The rest is
 * what a write fault does when it reuses an anonymous page: the folio
 * moves to the VMA's anon_vma, at the offset of @addr, and the page
 * becomes exclusive. The PTE stays read-only, as after the unshare fault.
 * The stable node is stale from then on, and pruned as any other.
 */
static bool ksm_take_back_last(struct vm_area_struct *vma, unsigned long addr,
			       struct folio *folio, struct page *page,
			       struct mem_cgroup *memcg)
{
	bool done = false;

	if (folio_test_large(folio) || !vma->anon_vma ||
	    !ksm_folio_held_once(folio) || !folio_trylock(folio))
		return false;
	/* The lock keeps the folio's memcg binding and its mapping stable. */
	if (folio_test_ksm(folio) && ksm_folio_held_once(folio) &&
	    !folio_test_swapcache(folio) && !folio_test_hwpoison(folio) &&
	    folio_memcg(folio) == memcg) {
		folio->index = linear_page_index(vma, addr);
		/* The offset is in place before the mapping says anon. */
		smp_wmb();
		folio_move_anon_rmap(folio, vma);
		SetPageAnonExclusive(page);
		done = true;
	}
	folio_unlock(folio);
	return done;
}

/*
 * Whether a non-present PTE is the migration entry of a KSM page: the
 * page is still KSM, and mapped here once the migration ends. Under the
 * PTE lock the entry's folio is locked by the migration, so it is safe
 * to look at.
 */
static bool ksm_pte_migrating_ksm(pte_t pte)
{
	swp_entry_t entry;

	if (pte_none(pte))
		return false;
	entry = pte_to_swp_entry(pte);
	return is_migration_entry(entry) &&
	       folio_test_ksm(pfn_swap_entry_folio(entry));
}

/*
 * Whether the PTE maps a KSM page (or the KSM zero page) that needs the
 * unshare fault; the last mapping of a KSM page is taken back here. A KSM
 * page under migration needs it too: the fault waits for the migration
 * to end, and the next look finds the page mapped. Skipping it would
 * leave a KSM page in the range, one that mremap() could then move out of
 * reach of its reverse map, migration entry and all.
 */
static bool ksm_pte_needs_unshare(struct vm_area_struct *vma,
				  unsigned long addr, pte_t pte,
				  struct mem_cgroup *memcg)
{
	struct folio *folio;
	struct page *page;

	if (!pte_present(pte))
		return ksm_pte_migrating_ksm(pte);
	if (is_ksm_zero_pte(pte))
		return true;
	page = vm_normal_page(vma, addr, pte);
	if (!page)
		return false;
	folio = page_folio(page);
	return folio_test_ksm(folio) &&
	       !ksm_take_back_last(vma, addr, folio, page, memcg);
}

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
		if (!ksm_pte_needs_unshare(walk->vma, addr, ptep_get(pte),
					   batch->memcg))
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
 * each gets its unshare fault; the walk itself gives the last mapping of
 * a KSM page the page. A page the fault cannot copy (a poisoned one) is
 * left as it is.
 *
 * Return: 0, -ENOMEM, or -EINTR on a fatal signal.
 */
int ksm_unmerge_range(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end)
{
	struct mem_cgroup *memcg = get_mem_cgroup_from_mm(vma->vm_mm);
	unsigned long addr = start;
	int err = 0;

	while (addr < end) {
		struct ksm_shared_batch batch = { .nr = 0, .memcg = memcg };
		vm_fault_t ret, first = 0;
		unsigned int i;

		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		walk_page_range_vma(vma, addr, end, &ksm_find_shared_ops,
				    &batch);
		if (!batch.nr)
			break;
		for (i = 0; i < batch.nr; i++) {
			ret = handle_mm_fault(vma, batch.addr[i],
					      FAULT_FLAG_UNSHARE |
					      FAULT_FLAG_REMOTE, NULL);
			if (ret & VM_FAULT_OOM) {
				err = -ENOMEM;
				break;
			}
			if (!i)
				first = ret;
			cond_resched();
		}
		if (err)
			break;
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
	mem_cgroup_put(memcg);
	return err;
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
