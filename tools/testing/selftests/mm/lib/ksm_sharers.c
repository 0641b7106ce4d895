// SPDX-License-Identifier: GPL-2.0
/*
 * Sharers for the KSM kselftests, and what a process's pages are; see
 * ksm_sharers.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm_util.h"
#include "ksm_util.h"
#include "ksm_sharers.h"

/* Whether addr of process pid is a swap (or poison) entry. */
bool ksmt_swapped_at(pid_t pid, const void *addr)
{
	return ksmt_pagemap_of(pid, addr) & PM_SWAP;
}

bool ksmt_frame_flag(unsigned long pfn, int bit)
{
	return ksmt_frame_flags(pfn) & (1ULL << bit);
}

/* The KSM: line of /proc/<pid>/smaps_rollup in kB, -1 if not found. */
long ksmt_ksm_kb_of(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "KSM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void index_groups(const struct ksmt_layout *l, size_t *idx)
{
	size_t i;

	for (i = 0; i < l->npages; i++)
		if (l->klass[i] >= 0)
			idx[l->klass[i]] = i;
}

/*
 * Maps n regions of groups group contents and unique[j] unique pages in
 * n processes; ns picks the contents. Returns 0 or -errno.
 */
int ksmt_sharers_start(struct ksmt_sharers *s, int n, int groups,
		       const int *unique, u64 ns)
{
	struct ksmt_layout *one[1];
	int j, err;

	memset(s, 0, sizeof(*s));
	if (n > KSMT_MAX_PROCS || groups > KSMT_MAX_GROUPS)
		return -E2BIG;
	s->groups = groups;
	s->group_ns = ns;
	for (j = 0; j < n; j++) {
		err = ksmt_layout_init(&s->l[j], groups, 1, unique[j], 0, ns,
				       ns + 1 + j, ns + 100 + j);
		if (err)
			return err;
		index_groups(&s->l[j], s->idx[j]);
		s->n = j + 1;
	}
	s->pid[0] = getpid();
	/* The holders first: none may inherit the test's region. */
	for (j = 1; j < n; j++) {
		s->base[j] = ksmt_reserve(s->l[j].npages);
		if (s->base[j] == MAP_FAILED)
			return -ENOMEM;
		one[0] = &s->l[j];
		s->pid[j] = ksmt_spawn_holder_at(&s->ch[j], one, 1,
						 &s->base[j]);
		if (s->pid[j] <= 0)
			return s->pid[j] ? s->pid[j] : -ECHILD;
	}
	s->base[0] = ksmt_layout_map(&s->l[0]);
	return s->base[0] == MAP_FAILED ? -ENOMEM : 0;
}

/*
 * One more region of the test's own: per_group copies of groups group
 * contents of namespace ns (those of the sharers if ns is their
 * group_ns). Returns 0 or -errno.
 */
int ksmt_sharers_add_region(struct ksmt_sharers *s, u64 ns, int groups,
			    int per_group, u64 seed)
{
	struct ksmt_layout *l = &s->extra[s->nextra];
	int err;

	if (s->nextra == KSMT_MAX_EXTRA || groups > KSMT_MAX_GROUPS)
		return -E2BIG;
	err = ksmt_layout_init(l, groups, per_group, 0, 0, ns, seed, seed);
	if (err)
		return err;
	s->extra_base[s->nextra] = ksmt_layout_map(l);
	if (s->extra_base[s->nextra] == MAP_FAILED) {
		ksmt_layout_free(l);
		return -ENOMEM;
	}
	index_groups(l, s->extra_idx[s->nextra]);
	s->nextra++;
	return 0;
}

/* One more region of the test's own with a copy of every group. */
int ksmt_sharers_add_extra(struct ksmt_sharers *s, u64 seed)
{
	return ksmt_sharers_add_region(s, s->group_ns, s->groups, 1, seed);
}

/*
 * The counters the model expects: in total, and for each process (the
 * test's extra regions added to its own). merged as for
 * ksmt_expect_layouts().
 */
int ksmt_sharers_expect(struct ksmt_sharers *s, bool merged,
			struct ksmt_expect *total, struct ksmt_expect *each)
{
	struct ksmt_layout *ls[KSMT_MAX_PROCS + KSMT_MAX_EXTRA];
	struct ksmt_expect per[KSMT_MAX_PROCS + KSMT_MAX_EXTRA];
	int j, k = 0, err;

	for (j = 0; j < s->n; j++)
		ls[k++] = &s->l[j];
	for (j = 0; j < s->nextra; j++)
		ls[k++] = &s->extra[j];
	err = ksmt_expect_layouts(ls, k, false, merged, total, per);
	if (err)
		return err;
	for (j = 0; j < s->n; j++)
		each[j] = per[j];
	for (j = 0; j < s->nextra; j++) {
		each[0].rmap_items += per[s->n + j].rmap_items;
		each[0].merging += per[s->n + j].merging;
	}
	return 0;
}

/* How many groups are on another frame in now[] than in then[]. */
int ksmt_frames_moved(const struct ksmt_sharers *s, const unsigned long *then,
		      const unsigned long *now)
{
	int g, moved = 0;

	for (g = 0; g < s->groups; g++)
		if (then[g] != now[g])
			moved++;
	return moved;
}
