/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel Samepage Merging: the interface the rest of the kernel uses.
 *
 * KSM shares identical anonymous pages of the areas user space marked
 * mergeable (madvise(MADV_MERGEABLE) or prctl(PR_SET_MEMORY_MERGE)). A
 * merged page is write-protected; a write gets a private copy through the
 * ordinary copy-on-write fault. The implementation lives in mm/ksm/.
 */
#ifndef __LINUX_KSM_H
#define __LINUX_KSM_H

#include <linux/bitops.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched.h>
#include <linux/sched/coredump.h>

#ifdef CONFIG_KSM
int ksm_madvise(struct vm_area_struct *vma, unsigned long start,
		unsigned long end, int advice, unsigned long *vm_flags);
void ksm_add_vma(struct vm_area_struct *vma);
int ksm_enable_merge_any(struct mm_struct *mm);
int ksm_disable_merge_any(struct mm_struct *mm);
int ksm_disable(struct mm_struct *mm);

int __ksm_enter(struct mm_struct *mm);
void __ksm_exit(struct mm_struct *mm);

/*
 * With use_zero_pages, KSM maps empty pages to the shared zero page. Such
 * PTEs are told apart from ordinary zero-page PTEs by the dirty bit, which
 * a zero-page PTE otherwise never has.
 */
static inline bool is_ksm_zero_pte(pte_t pte)
{
	return is_zero_pfn(pte_pfn(pte)) && pte_dirty(pte);
}

/* Number of PTEs KSM currently points at the zero page, system-wide. */
extern atomic_long_t ksm_zero_pages;

/* Accounts one zero-page PTE that KSM just installed in @mm. */
static inline void ksm_map_zero_page(struct mm_struct *mm)
{
	atomic_long_inc(&ksm_zero_pages);
	atomic_long_inc(&mm->ksm_zero_pages);
}

/* Called whenever a PTE is zapped or replaced: forgets KSM zero pages. */
static inline void ksm_might_unmap_zero_page(struct mm_struct *mm, pte_t pte)
{
	if (!is_ksm_zero_pte(pte))
		return;
	atomic_long_dec(&ksm_zero_pages);
	atomic_long_dec(&mm->ksm_zero_pages);
}

static inline long mm_ksm_zero_pages(struct mm_struct *mm)
{
	return atomic_long_read(&mm->ksm_zero_pages);
}

/*
 * fork: the child inherits the mergeable VMAs and, through the copied page
 * tables, the zero pages KSM mapped, but none of the parent's tracking.
 * Registering the child is best effort, as in upstream.
 */
static inline void ksm_fork(struct mm_struct *mm, struct mm_struct *oldmm)
{
	if (!test_bit(MMF_VM_MERGEABLE, &oldmm->flags))
		return;
	mm->ksm_merging_pages = 0;
	mm->ksm_rmap_items = 0;
	/*
	 * The child inherits the KSM zero pages mapped now, under oldmm's
	 * mmap_lock: dup_mm() copied the count before taking it, and ksmd
	 * may have mapped more since.
	 */
	atomic_long_set(&mm->ksm_zero_pages,
			atomic_long_read(&oldmm->ksm_zero_pages));
	atomic_long_add(atomic_long_read(&mm->ksm_zero_pages), &ksm_zero_pages);
	__ksm_enter(mm);
}

/* execve: a process with PR_SET_MEMORY_MERGE keeps it in its new image. */
static inline int ksm_execve(struct mm_struct *mm)
{
	return test_bit(MMF_VM_MERGE_ANY, &mm->flags) ? __ksm_enter(mm) : 0;
}

static inline void ksm_exit(struct mm_struct *mm)
{
	if (test_bit(MMF_VM_MERGEABLE, &mm->flags))
		__ksm_exit(mm);
}

/*
 * Swap-in of a page that may have been a KSM page: returns @folio when it
 * can be mapped at @addr of @vma as it is, a locked private copy when it
 * cannot, NULL when no memory was left for the copy, or
 * ERR_PTR(-EHWPOISON) when the page is poisoned.
 */
struct folio *ksm_might_need_to_copy(struct folio *folio,
				     struct vm_area_struct *vma,
				     unsigned long addr);

void rmap_walk_ksm(struct folio *folio, struct rmap_walk_control *rwc);
void folio_migrate_ksm(struct folio *newfolio, struct folio *folio);
void collect_procs_ksm(struct folio *folio, struct page *page,
		       struct list_head *to_kill, int force_early);
long ksm_process_profit(struct mm_struct *mm);

struct seq_file;
/* memory.ksm_stat of a memory cgroup (CONFIG_MEMCG) */
int ksm_memcg_stat_show(struct seq_file *m, void *v);

#else  /* !CONFIG_KSM */

static inline void ksm_add_vma(struct vm_area_struct *vma)
{
}

static inline int ksm_disable(struct mm_struct *mm)
{
	return 0;
}

static inline void ksm_fork(struct mm_struct *mm, struct mm_struct *oldmm)
{
}

static inline int ksm_execve(struct mm_struct *mm)
{
	return 0;
}

static inline void ksm_exit(struct mm_struct *mm)
{
}

static inline void ksm_might_unmap_zero_page(struct mm_struct *mm, pte_t pte)
{
}

static inline void collect_procs_ksm(struct folio *folio, struct page *page,
				     struct list_head *to_kill, int force_early)
{
}

#ifdef CONFIG_MMU
static inline int ksm_madvise(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end, int advice,
			      unsigned long *vm_flags)
{
	return 0;
}

static inline struct folio *ksm_might_need_to_copy(struct folio *folio,
						   struct vm_area_struct *vma,
						   unsigned long addr)
{
	return folio;
}

static inline void rmap_walk_ksm(struct folio *folio,
				 struct rmap_walk_control *rwc)
{
}

static inline void folio_migrate_ksm(struct folio *newfolio,
				     struct folio *folio)
{
}
#endif /* CONFIG_MMU */
#endif /* !CONFIG_KSM */

#endif /* __LINUX_KSM_H */
