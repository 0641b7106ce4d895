// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/mm/ksm/: the knobs and counters of KSM. A bad value is
 * refused with -EINVAL, a change the current state forbids with -EBUSY,
 * and either way the old value stays.
 */

#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/oom.h>
#include <linux/sysfs.h>

#include "internal.h"

#define KSM_ATTR_RO(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RO(_name)
#define KSM_ATTR_RW(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RW(_name)

/* A read-only file showing one unsigned long counter. */
#define KSM_COUNTER(_name, _expr)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%lu\n", (unsigned long)(_expr));	\
}									\
KSM_ATTR_RO(_name)

/*
 * A knob for which every unsigned int is valid. ksmd picks the new value
 * up at once: a sleep under way is cut short.
 */
#define KSM_UINT_KNOB(_name, _field)					\
static unsigned int *const _name##_knob = &ksm_knobs._field;		\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%u\n", READ_ONCE(*_name##_knob));	\
}									\
static ssize_t _name##_store(struct kobject *kobj,			\
			     struct kobj_attribute *attr,		\
			     const char *buf, size_t count)		\
{									\
	unsigned int value;						\
									\
	if (kstrtouint(buf, 10, &value))				\
		return -EINVAL;						\
	WRITE_ONCE(*_name##_knob, value);				\
	ksm_wake_sleeper();						\
	return count;							\
}									\
KSM_ATTR_RW(_name)

KSM_COUNTER(pages_scanned, READ_ONCE(ksm_count.pages_scanned));
KSM_COUNTER(pages_shared, READ_ONCE(ksm_count.pages_shared));
KSM_COUNTER(pages_sharing, READ_ONCE(ksm_count.pages_sharing));
KSM_COUNTER(pages_unshared, READ_ONCE(ksm_count.pages_unshared));
KSM_COUNTER(full_scans, READ_ONCE(ksm_count.full_scans));

static ssize_t pages_volatile_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	long volatile_pages = READ_ONCE(ksm_count.items) -
		READ_ONCE(ksm_count.pages_shared) -
		READ_ONCE(ksm_count.pages_sharing) -
		READ_ONCE(ksm_count.pages_unshared);

	/* The counters are read one by one while ksmd changes them. */
	return sysfs_emit(buf, "%ld\n", max(volatile_pages, 0L));
}
KSM_ATTR_RO(pages_volatile);

static ssize_t ksm_zero_pages_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&ksm_zero_pages));
}
KSM_ATTR_RO(ksm_zero_pages);

static ssize_t general_profit_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	long saved = (READ_ONCE(ksm_count.pages_sharing) +
		      atomic_long_read(&ksm_zero_pages)) * PAGE_SIZE;
	long cost = READ_ONCE(ksm_count.items) * sizeof(struct ksm_item);

	return sysfs_emit(buf, "%ld\n", saved - cost);
}
KSM_ATTR_RO(general_profit);

static ssize_t run_show(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(ksm_knobs.run));
}

static ssize_t run_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	unsigned int value;
	ssize_t ret = count;
	int err;

	err = kstrtouint(buf, 10, &value);
	if (err || value > KSM_RUN_UNMERGE)
		return -EINVAL;

	mutex_lock(&ksm_lock);
	if (ksm_knobs.run != value) {
		WRITE_ONCE(ksm_knobs.run, value);
		if (value == KSM_RUN_UNMERGE) {
			/* If memory runs out, the writer is the one to kill. */
			set_current_oom_origin();
			err = ksm_unmerge_all();
			clear_current_oom_origin();
			if (err) {
				WRITE_ONCE(ksm_knobs.run, KSM_RUN_STOP);
				ret = err;
			}
		}
	}
	mutex_unlock(&ksm_lock);
	if (value == KSM_RUN_MERGE)
		wake_up_interruptible(&ksm_thread_wait);
	return ret;
}
KSM_ATTR_RW(run);

static ssize_t use_zero_pages_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_knobs.use_zero_pages));
}

static ssize_t use_zero_pages_store(struct kobject *kobj,
				    struct kobj_attribute *attr,
				    const char *buf, size_t count)
{
	bool value;

	if (kstrtobool(buf, &value))
		return -EINVAL;
	WRITE_ONCE(ksm_knobs.use_zero_pages, value);
	return count;
}
KSM_ATTR_RW(use_zero_pages);

/*
 * Knobs that change how KSM pages are organised can change only while no
 * KSM page exists. Stale nodes do not count: they are pruned first.
 * Called under ksm_lock.
 */
static int ksm_layout_may_change(void)
{
	ksm_prune_all_stale(0, ULONG_MAX);
	return ksm_no_stable_nodes() ? 0 : -EBUSY;
}

static ssize_t max_page_sharing_show(struct kobject *kobj,
				     struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_knobs.max_page_sharing));
}

static ssize_t max_page_sharing_store(struct kobject *kobj,
				      struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	int value, err;

	if (kstrtoint(buf, 10, &value) || value < 2)
		return -EINVAL;
	mutex_lock(&ksm_lock);
	err = 0;
	if (value != ksm_knobs.max_page_sharing) {
		err = ksm_layout_may_change();
		if (!err)
			WRITE_ONCE(ksm_knobs.max_page_sharing, value);
	}
	mutex_unlock(&ksm_lock);
	return err ? err : count;
}
KSM_ATTR_RW(max_page_sharing);

#ifdef CONFIG_NUMA
static ssize_t merge_across_nodes_show(struct kobject *kobj,
				       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_knobs.merge_across_nodes));
}

static ssize_t merge_across_nodes_store(struct kobject *kobj,
					struct kobj_attribute *attr,
					const char *buf, size_t count)
{
	unsigned long value;
	int err;

	if (kstrtoul(buf, 10, &value) || value > 1)
		return -EINVAL;
	mutex_lock(&ksm_lock);
	err = 0;
	if (value != ksm_knobs.merge_across_nodes) {
		err = ksm_layout_may_change();
		if (!err) {
			WRITE_ONCE(ksm_knobs.merge_across_nodes, value);
			/* Unstable items sit in trees of the old layout. */
			ksm_scan_restart();
		}
	}
	mutex_unlock(&ksm_lock);
	return err ? err : count;
}
KSM_ATTR_RW(merge_across_nodes);
#endif

KSM_UINT_KNOB(pages_to_scan, pages_to_scan);
KSM_UINT_KNOB(sleep_millisecs, sleep_millisecs);
KSM_UINT_KNOB(stable_node_chains_prune_millisecs, prune_millisecs);

static struct attribute *ksm_attrs[] = {
	&sleep_millisecs_attr.attr,
	&pages_to_scan_attr.attr,
	&run_attr.attr,
	&pages_scanned_attr.attr,
	&pages_shared_attr.attr,
	&pages_sharing_attr.attr,
	&pages_unshared_attr.attr,
	&pages_volatile_attr.attr,
	&ksm_zero_pages_attr.attr,
	&full_scans_attr.attr,
#ifdef CONFIG_NUMA
	&merge_across_nodes_attr.attr,
#endif
	&max_page_sharing_attr.attr,
	&stable_node_chains_prune_millisecs_attr.attr,
	&use_zero_pages_attr.attr,
	&general_profit_attr.attr,
	NULL,
};

static const struct attribute_group ksm_attr_group = {
	.attrs = ksm_attrs,
	.name = "ksm",
};

/**
 * ksm_sysfs_init() - create /sys/kernel/mm/ksm
 *
 * Return: 0, or the error of sysfs_create_group().
 */
int __init ksm_sysfs_init(void)
{
	if (!IS_ENABLED(CONFIG_SYSFS))
		return 0;
	return sysfs_create_group(mm_kobj, &ksm_attr_group);
}
