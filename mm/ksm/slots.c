// SPDX-License-Identifier: GPL-2.0
/*
 * KSM registration: which mms and VMAs ksmd scans. madvise(MADV_MERGEABLE
 * and MADV_UNMERGEABLE), prctl(PR_SET_MEMORY_MERGE), fork, exec and exit
 * all end up here.
 */

#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/dax.h>

#include <trace/events/ksm.h>

#include "internal.h"

#define KSM_SLOT_HASH_BITS	10

DEFINE_SPINLOCK(ksm_slot_lock);
LIST_HEAD(ksm_slot_list);
static DEFINE_HASHTABLE(ksm_slot_hash, KSM_SLOT_HASH_BITS);

/* VMAs whose pages are not private anonymous memory KSM may share. */
#ifdef VM_SAO
#define KSM_VM_SAO		VM_SAO
#else
#define KSM_VM_SAO		VM_NONE
#endif
#ifdef VM_SPARC_ADI
#define KSM_VM_SPARC_ADI	VM_SPARC_ADI
#else
#define KSM_VM_SPARC_ADI	VM_NONE
#endif
#define KSM_INCOMPATIBLE_VM_FLAGS (VM_SHARED | VM_MAYSHARE | VM_PFNMAP |  \
				   VM_IO | VM_DONTEXPAND | VM_HUGETLB |	  \
				   VM_MIXEDMAP | VM_DROPPABLE | KSM_VM_SAO | \
				   KSM_VM_SPARC_ADI)

static bool ksm_flags_compatible(struct vm_area_struct *vma,
				 unsigned long vm_flags)
{
	return !(vm_flags & KSM_INCOMPATIBLE_VM_FLAGS) && !vma_is_dax(vma);
}

/**
 * ksm_vma_mergeable() - whether ksmd may scan a VMA
 * @vma: the VMA
 *
 * Return: true for a VMA marked mergeable that can hold anonymous pages.
 */
bool ksm_vma_mergeable(struct vm_area_struct *vma)
{
	return (vma->vm_flags & VM_MERGEABLE) && vma->anon_vma &&
	       ksm_flags_compatible(vma, vma->vm_flags);
}

/**
 * ksm_slot_first() - the first registered mm
 *
 * Return: its slot, or NULL if none. Called under ksm_slot_lock.
 */
struct ksm_slot *ksm_slot_first(void)
{
	return list_first_entry_or_null(&ksm_slot_list, struct ksm_slot,
					base.mm_node);
}

/**
 * ksm_slot_next() - the registered mm after @slot
 * @slot: a slot on the list
 *
 * Return: the next slot, or NULL at the end. Called under ksm_slot_lock.
 */
struct ksm_slot *ksm_slot_next(struct ksm_slot *slot)
{
	if (list_is_last(&slot->base.mm_node, &ksm_slot_list))
		return NULL;
	return list_next_entry(slot, base.mm_node);
}

/**
 * ksm_slot_unlink() - take an exited mm's slot off the list and the hash
 * @slot: a slot without items whose mm has no users left
 *
 * Called by ksmd, under ksm_lock, in the same hold of ksm_slot_lock that
 * moves the cursor off the slot: __ksm_exit() frees any slot that is not
 * the cursor and still on the list, so between the two it could free
 * this one as well. Once unlinked, __ksm_exit() no longer finds it.
 */
void ksm_slot_unlink(struct ksm_slot *slot)
{
	lockdep_assert_held(&ksm_slot_lock);
	VM_WARN_ON_ONCE(slot->blocks);
	hash_del(&slot->base.hash);
	list_del(&slot->base.mm_node);
}

/**
 * ksm_slot_release() - free the slot of an exited mm
 * @slot: the slot, unlinked by ksm_slot_unlink()
 *
 * Called by ksmd, under ksm_lock.
 */
void ksm_slot_release(struct ksm_slot *slot)
{
	struct mm_struct *mm = slot->base.mm;

	ksm_slot_free(slot);
	clear_bit(MMF_VM_MERGE_ANY, &mm->flags);
	clear_bit(MMF_VM_MERGEABLE, &mm->flags);
	mmdrop(mm);
}

/**
 * __ksm_enter() - register an mm with ksmd
 * @mm: the mm; not yet registered
 *
 * Return: 0, or -ENOMEM.
 */
int __ksm_enter(struct mm_struct *mm)
{
	struct ksm_slot *slot = ksm_slot_alloc();
	struct mm_slot *base;
	bool was_idle;

	if (!slot)
		return -ENOMEM;

	base = &slot->base;
	spin_lock(&ksm_slot_lock);
	was_idle = list_empty(&ksm_slot_list);
	mm_slot_insert(ksm_slot_hash, mm, base);
	/* At the tail: the pass under way reaches it before it ends. */
	list_add_tail(&slot->base.mm_node, &ksm_slot_list);
	spin_unlock(&ksm_slot_lock);

	set_bit(MMF_VM_MERGEABLE, &mm->flags);
	mmgrab(mm);
	trace_ksm_enter(mm);
	if (was_idle)
		wake_up_interruptible(&ksm_thread_wait);
	return 0;
}

/**
 * __ksm_exit() - unregister an mm that is going away
 * @mm: the mm
 *
 * A slot ksmd is not looking at and that has no items goes at once. Any
 * other is left to ksmd, which sees the mm has no users and tears the slot
 * down. Taking mmap_lock for write once makes sure ksmd is no longer inside
 * the mm when exit_mmap() frees its page tables: ksmd checks mm_users
 * under mmap_lock before it touches them.
 */
void __ksm_exit(struct mm_struct *mm)
{
	struct mm_slot *base;
	struct ksm_slot *slot = NULL;
	bool freed = false;

	spin_lock(&ksm_slot_lock);
	base = mm_slot_lookup(ksm_slot_hash, mm);
	if (base) {
		slot = mm_slot_entry(base, struct ksm_slot, base);
		if (ksm_cursor.slot != slot && !slot->blocks) {
			hash_del(&slot->base.hash);
			list_del(&slot->base.mm_node);
			freed = true;
		}
	}
	spin_unlock(&ksm_slot_lock);

	clear_bit(MMF_VM_MERGE_ANY, &mm->flags);
	clear_bit(MMF_VM_MERGEABLE, &mm->flags);
	trace_ksm_exit(mm);
	if (freed) {
		ksm_slot_free(slot);
		mmdrop(mm);
	} else if (slot && !atomic_read(&mm->mm_users)) {
		/*
		 * Only on a real exit: the exec error path calls us with
		 * mmap_lock held and users left; ksmd keeps scanning that mm
		 * until its last user goes.
		 */
		mmap_write_lock(mm);
		mmap_write_unlock(mm);
	}
}

/* Registers @mm with ksmd unless it already is. */
static int ksm_register(struct mm_struct *mm)
{
	return test_bit(MMF_VM_MERGEABLE, &mm->flags) ? 0 : __ksm_enter(mm);
}

/* MADV_MERGEABLE: mark the range, registering the mm if need be. */
static int ksm_mark_range(struct vm_area_struct *vma, unsigned long *vm_flags)
{
	int err;

	/* Refused silently where KSM cannot work, as upstream does. */
	if ((*vm_flags & VM_MERGEABLE) || !ksm_flags_compatible(vma, *vm_flags))
		return 0;
	err = ksm_register(vma->vm_mm);
	if (!err)
		*vm_flags |= VM_MERGEABLE;
	return err;
}

/*
 * MADV_UNMERGEABLE (and mremap(), before it moves a range): break the KSM
 * pages of the range, then unmark it. The VMA is write-locked first: a
 * fault under the per-VMA lock behind the walk would still find the VMA
 * mergeable, and swap-in would map a swap-cache KSM page there as it is
 * (ksm_might_need_to_copy()), out of reach of the reverse map once the
 * flag is gone.
 */
static int ksm_unmark_range(struct vm_area_struct *vma, unsigned long start,
			    unsigned long end, unsigned long *vm_flags)
{
	int err = 0;

	if (!(*vm_flags & VM_MERGEABLE))
		return 0;
	vma_start_write(vma);
	if (vma->anon_vma)
		err = ksm_unmerge_range(vma, start, end);
	if (!err)
		*vm_flags &= ~VM_MERGEABLE;
	return err;
}

/**
 * ksm_madvise() - MADV_MERGEABLE and MADV_UNMERGEABLE on part of a VMA
 * @vma: the VMA
 * @start: start of the range
 * @end: end of the range
 * @advice: MADV_MERGEABLE or MADV_UNMERGEABLE
 * @vm_flags: the VMA's flags to be; the caller applies them
 *
 * Called with mmap_lock held for write.
 *
 * Return: 0, -ENOMEM, or -EINTR on a fatal signal.
 */
int ksm_madvise(struct vm_area_struct *vma, unsigned long start,
		unsigned long end, int advice, unsigned long *vm_flags)
{
	if (advice == MADV_MERGEABLE)
		return ksm_mark_range(vma, vm_flags);
	if (advice == MADV_UNMERGEABLE)
		return ksm_unmark_range(vma, start, end, vm_flags);
	return 0;
}
EXPORT_SYMBOL_GPL(ksm_madvise);

/**
 * ksm_add_vma() - mark a new VMA mergeable in a PR_SET_MEMORY_MERGE process
 * @vma: the VMA, just created; mmap_lock is held for write
 */
void ksm_add_vma(struct vm_area_struct *vma)
{
	if (test_bit(MMF_VM_MERGE_ANY, &vma->vm_mm->flags) &&
	    ksm_flags_compatible(vma, vma->vm_flags))
		vm_flags_set(vma, VM_MERGEABLE);
}

static void ksm_mark_all_vmas(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;

	for_each_vma(vmi, vma)
		ksm_add_vma(vma);
}

/*
 * Breaks every KSM page of @mm, then clears VM_MERGEABLE everywhere; if
 * unmerging fails, every flag stays. Every mergeable VMA is write-locked
 * before the walk, for the reason given at ksm_unmark_range().
 */
static int ksm_unmark_all_vmas(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	int err;

	for_each_vma(vmi, vma)
		if (vma->vm_flags & VM_MERGEABLE)
			vma_start_write(vma);
	err = ksm_unmerge_mm(mm);
	if (err)
		return err;
	vma_iter_set(&vmi, 0);
	for_each_vma(vmi, vma)
		if (vma->vm_flags & VM_MERGEABLE)
			vm_flags_clear(vma, VM_MERGEABLE);
	return 0;
}

/*
 * PR_SET_MEMORY_MERGE: on, every compatible VMA of @mm is mergeable, now
 * and when created; off, every KSM page of @mm is broken and no VMA stays
 * mergeable, or nothing changes and the error is returned.
 */
static int ksm_merge_any(struct mm_struct *mm, bool on)
{
	int err;

	if (test_bit(MMF_VM_MERGE_ANY, &mm->flags) == on)
		return 0;
	err = on ? ksm_register(mm) : ksm_unmark_all_vmas(mm);
	if (err)
		return err;
	assign_bit(MMF_VM_MERGE_ANY, &mm->flags, on);
	if (on)
		ksm_mark_all_vmas(mm);
	return 0;
}

/**
 * ksm_enable_merge_any() - prctl(PR_SET_MEMORY_MERGE, 1)
 * @mm: the caller's mm; mmap_lock is held for write
 *
 * Return: 0, or -ENOMEM.
 */
int ksm_enable_merge_any(struct mm_struct *mm)
{
	return ksm_merge_any(mm, true);
}

/**
 * ksm_disable_merge_any() - prctl(PR_SET_MEMORY_MERGE, 0)
 * @mm: the caller's mm; mmap_lock is held for write
 *
 * Return: 0, -ENOMEM, or -EINTR on a fatal signal; the setting stays on
 * if unmerging fails.
 */
int ksm_disable_merge_any(struct mm_struct *mm)
{
	return ksm_merge_any(mm, false);
}

/**
 * ksm_disable() - turn KSM off for an mm, however it was turned on
 * @mm: the mm; mmap_lock is held for write
 *
 * Return: 0, -ENOMEM, or -EINTR on a fatal signal.
 */
int ksm_disable(struct mm_struct *mm)
{
	int err;

	mmap_assert_write_locked(mm);
	err = ksm_unmark_all_vmas(mm);
	if (!err)
		clear_bit(MMF_VM_MERGE_ANY, &mm->flags);
	return err;
}
