// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/mm/ksm/: the knobs and counters of KSM. A bad value is
 * refused with -EINVAL, a change the current state forbids with -EBUSY,
 * and either way the old value stays. What a change of state does is
 * control.c's: this file parses, checks and calls it.
 */

#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/sysfs.h>

#include "internal.h"

#define KSM_FILE_RO(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RO(_name)
#define KSM_FILE_RW(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RW(_name)

/* A read-only file showing one unsigned long counter. */
#define KSM_COUNTER(_name, _expr)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%lu\n", (unsigned long)(_expr));	\
}									\
KSM_FILE_RO(_name)

/* The show half of a knob that holds an unsigned int. */
#define KSM_UINT_SHOW(_name, _var)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%u\n", READ_ONCE(_var));		\
}

/* A read-only file showing one long value, which may be negative. */
#define KSM_SIGNED_COUNTER(_name, _expr)				\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%ld\n", (long)(_expr));			\
}									\
KSM_FILE_RO(_name)

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
KSM_FILE_RW(_name)

/* A knob that takes what kstrtobool() takes: 0/1, y/n, on/off. */
#define KSM_BOOL_KNOB(_name, _field)					\
static bool *const _name##_knob = &ksm_knobs._field;			\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%u\n", READ_ONCE(*_name##_knob));	\
}									\
static ssize_t _name##_store(struct kobject *kobj,			\
			     struct kobj_attribute *attr,		\
			     const char *buf, size_t count)		\
{									\
	bool value;							\
									\
	if (kstrtobool(buf, &value))					\
		return -EINVAL;						\
	WRITE_ONCE(*_name##_knob, value);				\
	return count;							\
}									\
KSM_FILE_RW(_name)

KSM_COUNTER(pages_scanned, READ_ONCE(ksm_count.pages_scanned));
KSM_COUNTER(pages_shared, READ_ONCE(ksm_count.pages_shared));
KSM_COUNTER(pages_sharing, READ_ONCE(ksm_count.pages_sharing));
KSM_COUNTER(pages_unshared, READ_ONCE(ksm_count.pages_unshared));
KSM_COUNTER(full_scans, READ_ONCE(ksm_count.full_scans));
KSM_COUNTER(pages_skipped, READ_ONCE(ksm_count.pages_skipped));
KSM_COUNTER(stable_node_chains, READ_ONCE(ksm_count.chains));
KSM_COUNTER(stable_node_dups, READ_ONCE(ksm_count.dups));

KSM_SIGNED_COUNTER(pages_volatile, ksm_volatile_pages(&ksm_count));
KSM_SIGNED_COUNTER(ksm_zero_pages, atomic_long_read(&ksm_zero_pages));
KSM_SIGNED_COUNTER(general_profit,
		   ksm_profit(READ_ONCE(ksm_count.pages_sharing),
			      atomic_long_read(&ksm_zero_pages),
			      READ_ONCE(ksm_count.items)));

static ssize_t run_show(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(ksm_knobs.run));
}

static ssize_t run_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	unsigned int value;
	int err;

	err = kstrtouint(buf, 10, &value);
	if (err || value > KSM_RUN_UNMERGE)
		return -EINVAL;
	err = ksm_set_run(value);
	return err ? err : count;
}

KSM_FILE_RW(run);

KSM_BOOL_KNOB(use_zero_pages, use_zero_pages);
KSM_BOOL_KNOB(smart_scan, smart_scan);

/* A knob that lays out the stable trees: -EBUSY while KSM pages exist. */
static ssize_t ksm_store_layout_knob(unsigned int *knob, unsigned int value,
				     bool relayout, size_t count)
{
	int err = ksm_set_layout_knob(knob, value, relayout);

	return err ? err : count;
}

KSM_UINT_SHOW(max_page_sharing, ksm_knobs.max_page_sharing);

static ssize_t max_page_sharing_store(struct kobject *kobj,
				      struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	int value;
	/* A number too large is -ERANGE, not -EINVAL, as upstream. */
	int err = kstrtoint(buf, 10, &value);

	if (err)
		return err;
	if (value < 2)
		return -EINVAL;
	return ksm_store_layout_knob(&ksm_knobs.max_page_sharing, value,
				     false, count);
}

KSM_FILE_RW(max_page_sharing);

#ifdef CONFIG_NUMA
KSM_UINT_SHOW(merge_across_nodes, ksm_knobs.merge_across_nodes);

static ssize_t merge_across_nodes_store(struct kobject *kobj,
					struct kobj_attribute *attr,
					const char *buf, size_t count)
{
	unsigned long value;
	int err = kstrtoul(buf, 10, &value);

	if (err)
		return err;
	if (value > 1)
		return -EINVAL;
	return ksm_store_layout_knob(&ksm_knobs.merge_across_nodes, value,
				     true, count);
}

KSM_FILE_RW(merge_across_nodes);
#endif

/* A knob of named values: all of them, the current one in brackets. */
static ssize_t ksm_show_choice(char *buf, const char * const *names,
			       unsigned int n, unsigned int cur)
{
	unsigned int i;
	int len = 0;

	for (i = 0; i < n; i++)
		len += sysfs_emit_at(buf, len, i == cur ? "%s[%s]" : "%s%s",
				     i ? " " : "", names[i]);
	return len + sysfs_emit_at(buf, len, "\n");
}

/* Which pages may merge: "[global] cgroup process". */
static ssize_t merge_scope_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return ksm_show_choice(buf, ksm_scope_names, KSM_NR_SCOPES,
			       READ_ONCE(ksm_knobs.merge_scope));
}

/* -EINVAL for "cgroup" without the memory controller too. */
static ssize_t merge_scope_store(struct kobject *kobj,
				 struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	int scope = sysfs_match_string(ksm_scope_names, buf);

	if (scope < 0 || !ksm_scope_supported(scope))
		return -EINVAL;
	return ksm_store_layout_knob(&ksm_knobs.merge_scope, scope, true,
				     count);
}

KSM_FILE_RW(merge_scope);

KSM_UINT_SHOW(pages_to_scan, ksm_knobs.pages_to_scan);

/* While the advisor is on, pages_to_scan is its to set. */
static ssize_t pages_to_scan_store(struct kobject *kobj,
				   struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	unsigned int value;

	if (READ_ONCE(ksm_advisor.mode) != KSM_ADVISOR_NONE)
		return -EINVAL;
	if (kstrtouint(buf, 10, &value))
		return -EINVAL;
	WRITE_ONCE(ksm_knobs.pages_to_scan, value);
	ksm_wake_sleeper();
	return count;
}

KSM_FILE_RW(pages_to_scan);

KSM_UINT_KNOB(sleep_millisecs, sleep_millisecs);
KSM_UINT_KNOB(stable_node_chains_prune_millisecs, prune_millisecs);

static const char * const ksm_advisor_modes[] = {
	[KSM_ADVISOR_NONE] = "none",
	[KSM_ADVISOR_SCAN_TIME] = "scan-time",
};

static ssize_t advisor_mode_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return ksm_show_choice(buf, ksm_advisor_modes,
			       ARRAY_SIZE(ksm_advisor_modes),
			       READ_ONCE(ksm_advisor.mode));
}

static ssize_t advisor_mode_store(struct kobject *kobj,
				  struct kobj_attribute *attr,
				  const char *buf, size_t count)
{
	int mode = sysfs_match_string(ksm_advisor_modes, buf);

	if (mode < 0)
		return -EINVAL;
	mutex_lock(&ksm_lock);
	ksm_advisor_set_mode(mode);
	mutex_unlock(&ksm_lock);
	return count;
}

KSM_FILE_RW(advisor_mode);

KSM_UINT_SHOW(advisor_max_cpu, ksm_advisor.max_cpu);

/* A share of one CPU, in percent: 1 to 100. */
static ssize_t advisor_max_cpu_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	unsigned int value;

	if (kstrtouint(buf, 10, &value) || !value || value > 100)
		return -EINVAL;
	WRITE_ONCE(ksm_advisor.max_cpu, value);
	return count;
}

KSM_FILE_RW(advisor_max_cpu);

/*
 * The advisor's bounds: min <= max always holds, so raising both means
 * raising max first. Checked under ksm_lock against the other bound.
 */
static ssize_t ksm_store_bound(const char *buf, size_t count, bool is_min)
{
	unsigned long value;
	int err = 0;

	/* pages_to_scan, which the advisor sets, is an unsigned int. */
	if (kstrtoul(buf, 10, &value) || !value || value > UINT_MAX)
		return -EINVAL;
	mutex_lock(&ksm_lock);
	if (is_min ? value > ksm_advisor.max_pages :
		     value < ksm_advisor.min_pages)
		err = -EINVAL;
	else if (is_min)
		WRITE_ONCE(ksm_advisor.min_pages, value);
	else
		WRITE_ONCE(ksm_advisor.max_pages, value);
	mutex_unlock(&ksm_lock);
	return err ? err : count;
}

static ssize_t advisor_min_pages_to_scan_show(struct kobject *kobj,
					      struct kobj_attribute *attr,
					      char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(ksm_advisor.min_pages));
}

static ssize_t advisor_min_pages_to_scan_store(struct kobject *kobj,
					       struct kobj_attribute *attr,
					       const char *buf, size_t count)
{
	return ksm_store_bound(buf, count, true);
}

KSM_FILE_RW(advisor_min_pages_to_scan);

static ssize_t advisor_max_pages_to_scan_show(struct kobject *kobj,
					      struct kobj_attribute *attr,
					      char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(ksm_advisor.max_pages));
}

static ssize_t advisor_max_pages_to_scan_store(struct kobject *kobj,
					       struct kobj_attribute *attr,
					       const char *buf, size_t count)
{
	return ksm_store_bound(buf, count, false);
}

KSM_FILE_RW(advisor_max_pages_to_scan);

static ssize_t advisor_target_scan_time_show(struct kobject *kobj,
					     struct kobj_attribute *attr,
					     char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  READ_ONCE(ksm_advisor.target_scan_secs));
}

static ssize_t advisor_target_scan_time_store(struct kobject *kobj,
					      struct kobj_attribute *attr,
					      const char *buf, size_t count)
{
	unsigned long value;

	if (kstrtoul(buf, 10, &value) || !value)
		return -EINVAL;
	WRITE_ONCE(ksm_advisor.target_scan_secs, value);
	return count;
}

KSM_FILE_RW(advisor_target_scan_time);

/* Knobs, then counters, then the advisor; a few to a line. */
static struct attribute *ksm_attrs[] = {
	&run_attr.attr, &pages_to_scan_attr.attr, &sleep_millisecs_attr.attr,
	&use_zero_pages_attr.attr, &smart_scan_attr.attr,
	&max_page_sharing_attr.attr, &merge_scope_attr.attr,
	&stable_node_chains_prune_millisecs_attr.attr,
#ifdef CONFIG_NUMA
	&merge_across_nodes_attr.attr,
#endif
	&pages_scanned_attr.attr, &pages_skipped_attr.attr,
	&pages_shared_attr.attr, &pages_sharing_attr.attr,
	&pages_unshared_attr.attr, &pages_volatile_attr.attr,
	&ksm_zero_pages_attr.attr, &full_scans_attr.attr,
	&stable_node_chains_attr.attr, &stable_node_dups_attr.attr,
	&general_profit_attr.attr,
	&advisor_mode_attr.attr, &advisor_target_scan_time_attr.attr,
	&advisor_max_cpu_attr.attr, &advisor_min_pages_to_scan_attr.attr,
	&advisor_max_pages_to_scan_attr.attr, NULL
};

/* /sys/kernel/mm/ksm */
static const struct attribute_group ksm_attr_group = {
	.name = "ksm",
	.attrs = ksm_attrs,
};

/* /sys/kernel/mm/ksm appears once KSM has started (control.c, before). */
static int __init ksm_sysfs_init(void)
{
	if (!IS_ENABLED(CONFIG_SYSFS) || !ksm_started)
		return 0;
	return sysfs_create_group(mm_kobj, &ksm_attr_group);
}
subsys_initcall(ksm_sysfs_init);
