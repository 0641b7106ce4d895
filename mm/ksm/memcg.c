// SPDX-License-Identifier: GPL-2.0
/*
 * KSM per memory cgroup: memory.ksm_stat, the fields of
 * /proc/<pid>/ksm_stat summed over the processes of a cgroup and of its
 * descendants. Each mm counts once, in the cgroup of its owner: the task
 * the memory controller charges the mm's memory to.
 */

#include <linux/cgroup.h>
#include <linux/memcontrol.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>

#include "internal.h"

struct ksm_memcg_stat {
	unsigned long items;
	long zero_pages;
	unsigned long merging;
};

/* Adds the counters of @task's mm if @task owns it. */
static void ksm_memcg_add_task(struct task_struct *task,
			       struct ksm_memcg_stat *stat)
{
	struct mm_struct *mm;

	/* The task lock keeps task->mm from going away under us. */
	task_lock(task);
	mm = task->mm;
	if (mm && !(task->flags & PF_KTHREAD) &&
	    rcu_access_pointer(mm->owner) == task) {
		/* ksmd changes it under ksm_lock: a snapshot will do. */
		stat->items += data_race(mm->ksm_rmap_items);
		/* As above. */
		stat->merging += data_race(mm->ksm_merging_pages);
		stat->zero_pages += mm_ksm_zero_pages(mm);
	}
	task_unlock(task);
}

/**
 * ksm_memcg_stat_show() - show memory.ksm_stat
 * @m: the seq_file of a memory cgroup's memory.ksm_stat
 * @v: unused
 *
 * Return: 0.
 */
int ksm_memcg_stat_show(struct seq_file *m, void *v)
{
	struct mem_cgroup *memcg = mem_cgroup_from_seq(m);
	struct ksm_memcg_stat stat = { 0 };
	struct mem_cgroup *iter;

	for (iter = mem_cgroup_iter(memcg, NULL, NULL); iter;
	     iter = mem_cgroup_iter(memcg, iter, NULL)) {
		struct css_task_iter it;
		struct task_struct *task;

		css_task_iter_start(&iter->css, 0, &it);
		while ((task = css_task_iter_next(&it)))
			ksm_memcg_add_task(task, &stat);
		css_task_iter_end(&it);
	}
	seq_printf(m, "ksm_rmap_items %lu\n", stat.items);
	seq_printf(m, "ksm_zero_pages %ld\n", stat.zero_pages);
	seq_printf(m, "ksm_merging_pages %lu\n", stat.merging);
	seq_printf(m, "ksm_process_profit %ld\n",
		   ksm_profit(stat.merging, stat.zero_pages, stat.items));
	return 0;
}
