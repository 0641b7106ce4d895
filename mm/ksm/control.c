// SPDX-License-Identifier: GPL-2.0
/*
 * KSM control: the ksmd thread, the run states (what writing 0, 1 or 2
 * to run does), changes of the knobs that lay out the stable trees, the
 * gate that keeps everyone off the stable trees while memory goes
 * offline, and initialization. The top of mm/ksm/: sysfs.c calls it for
 * every change of state, and no file below calls it.
 */

#define pr_fmt(fmt) "ksm: " fmt

#include <linux/freezer.h>
#include <linux/init.h>
#include <linux/kthread.h>
#include <linux/memory.h>
#include <linux/oom.h>
#include <linux/mm.h>
#include <linux/sched.h>

#include "internal.h"

static DECLARE_WAIT_QUEUE_HEAD(ksm_offline_wait);
/* Set once everything is up; sysfs.c shows the knobs only then. */
bool ksm_started __ro_after_init;

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
static void ksm_lock_stable(void)
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
static void ksm_set_offlining(bool on)
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

/**
 * ksm_unmerge_all() - run=2: break every KSM page and forget all tracking
 *
 * The mms stay registered and their VMAs mergeable; the next run=1 starts
 * from nothing. Called under ksm_lock, in the context of the writer, whose
 * fatal signal stops it.
 *
 * Return: 0, -ENOMEM, or -EINTR.
 */
static int ksm_unmerge_all(void)
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
	ksm_full_scans_reset();
	return 0;
}

/**
 * ksm_set_run() - what writing the run knob does
 * @run: KSM_RUN_STOP, KSM_RUN_MERGE or KSM_RUN_UNMERGE
 *
 * Stopping only stops ksmd after its batch. Merging wakes it. Unmerging
 * breaks every KSM page first, in the context of the writer, whose fatal
 * signal stops it and whom the OOM killer picks if memory runs out; if it
 * fails, run is left at 0, not 2.
 *
 * Return: 0, -ENOMEM or -EINTR.
 */
int ksm_set_run(unsigned int run)
{
	int err = 0;

	ksm_lock_stable();
	if (ksm_knobs.run != run) {
		WRITE_ONCE(ksm_knobs.run, run);
		if (run == KSM_RUN_UNMERGE) {
			set_current_oom_origin();
			err = ksm_unmerge_all();
			clear_current_oom_origin();
			if (err)
				WRITE_ONCE(ksm_knobs.run, KSM_RUN_STOP);
		}
	}
	mutex_unlock(&ksm_lock);
	if (run == KSM_RUN_MERGE)
		wake_up_interruptible(&ksm_thread_wait);
	return err;
}

/*
 * Knobs that change how KSM pages are organised can change only while no
 * KSM page is mapped. Nodes of pages nobody maps (freed, or only in the
 * swap cache) are ended first. Called under ksm_lock.
 */
static int ksm_layout_may_change(void)
{
	ksm_retire_all_nodes();
	return ksm_no_stable_nodes() ? 0 : -EBUSY;
}

/**
 * ksm_set_layout_knob() - change a knob that lays out the stable trees
 * @knob: merge_across_nodes, merge_scope or max_page_sharing in ksm_knobs
 * @value: its new value, already checked
 * @relayout: the unstable trees, which the knob lays out too, start afresh
 *
 * merge_across_nodes also sizes the array of stable roots: each NUMA node
 * has trees of its own only while it is 0.
 *
 * Return: 0, -EBUSY while a KSM page exists, or -ENOMEM when
 * merge_across_nodes becomes 0 without the memory for the stable roots
 * of each node; no change on error.
 */
int ksm_set_layout_knob(unsigned int *knob, unsigned int value,
			bool relayout)
{
	int err = 0;

	ksm_lock_stable();
	if (*knob != value) {
		err = ksm_layout_may_change();
		if (!err && knob == &ksm_knobs.merge_across_nodes)
			err = ksm_stable_roots_set_nodes(!value);
		if (!err)
			WRITE_ONCE(*knob, value);
		if (!err && relayout) {
			ksm_forget_unstable();
			ksm_scan_restart();
		}
	}
	mutex_unlock(&ksm_lock);
	return err;
}

/*
 * Memory offlining migrates every KSM page out of the range (moving the
 * stable nodes along), then frees the struct pages' meaning. Nobody may
 * touch the stable trees in between (ksm_lock_stable() waits, ksmd does
 * not run), and nodes left pointing into the range (stale ones) must go
 * before anyone looks at their pfn again. ksm_lock is taken only for each
 * step: offlining takes locks of its own between the notifications.
 */
static int ksm_memory_callback(struct notifier_block *nb, unsigned long action,
			       void *arg)
{
	struct memory_notify *mn = arg;

	switch (action) {
	case MEM_GOING_OFFLINE:
		mutex_lock(&ksm_lock);
		ksm_set_offlining(true);
		mutex_unlock(&ksm_lock);
		break;
	case MEM_OFFLINE:
		mutex_lock(&ksm_lock);
		ksm_prune_all_stale(mn->start_pfn,
				    mn->start_pfn + mn->nr_pages);
		ksm_set_offlining(false);
		mutex_unlock(&ksm_lock);
		break;
	case MEM_CANCEL_OFFLINE:
		/* Also when a notifier before us failed MEM_GOING_OFFLINE. */
		mutex_lock(&ksm_lock);
		ksm_set_offlining(false);
		mutex_unlock(&ksm_lock);
		break;
	}
	return NOTIFY_OK;
}

/**
 * ksm_hotplug_init() - register for memory offlining events
 *
 * Return: 0.
 */
static int __init ksm_hotplug_init(void)
{
	return hotplug_memory_notifier(ksm_memory_callback, KSM_CALLBACK_PRI);
}

static int __init ksm_init(void)
{
	struct task_struct *ksmd_task;
	int err;

	ksm_zero_checksum = ksm_page_checksum(ZERO_PAGE(0));
	ksm_domain_init();
	err = ksm_caches_init() ?: ksm_trees_init();
	if (err)
		goto fail;
	ksmd_task = kthread_run(ksmd, NULL, "ksmd");
	err = PTR_ERR_OR_ZERO(ksmd_task);
	if (err)
		goto fail;
	err = ksm_hotplug_init();
	if (!err) {
		ksm_started = true;
		return 0;
	}
	kthread_stop(ksmd_task);
fail:
	pr_err("not started: %d\n", err);
	return err;
}
subsys_initcall(ksm_init);
