/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Frames for the KSM kselftests: what the pages of a process map, read
 * from /proc/<pid>/pagemap (frame numbers need root), and what
 * /proc/kpageflags and /proc/kpagecount say of a frame, and whether the
 * frames of layouts are shared as their contents say. The one pagemap
 * reader of the tests. Part of ksm_util.h.
 *
 * /proc/kpageflags is no help to tell KSM pages: 6.12 reports KPF_KSM for
 * every anonymous page. Pages that map one frame in a process that did
 * not fork share it through KSM; pagemap's "exclusively mapped" bit tells
 * a page mapped once from one mapped more than once.
 */
#ifndef KSM_FRAMES_H
#define KSM_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

struct ksmt_layout;

/*
 * The pagemap entries of n pages at addr of process pid (0: the caller)
 * into ents[], in one read. Returns 0 or -errno.
 */
int ksmt_pagemap(pid_t pid, const void *addr, size_t n, u64 *ents);
/* The pagemap entry of one page, 0 if it cannot be read. */
u64 ksmt_pagemap_of(pid_t pid, const void *addr);
/* The frame one page maps, 0 if none is present or it cannot be read. */
unsigned long ksmt_frame_of(pid_t pid, const void *addr);
/* The frames of n pages of the caller into pfn[] (0: none); 0 or -errno. */
int ksmt_frames(const void *addr, size_t n, unsigned long *pfn);
/* How many of n pages of process pid are swap entries; -errno. */
long ksmt_swapped(pid_t pid, const void *addr, size_t n);

/*
 * The page frame mapped at addr in *pfn, 0 if none is present. Returns 0,
 * -EPERM if pagemap hides frame numbers (not root), or another -errno.
 */
int ksmt_pfn(const void *addr, unsigned long *pfn);
/* The same, and whether the frame is mapped only there, in *exclusive. */
int ksmt_pfn_excl(const void *addr, unsigned long *pfn, bool *exclusive);
/* The frame of the shared zero page (0 if it cannot be found). */
unsigned long ksmt_zero_pfn(void);

/* What the npages pages of a region map. */
struct ksmt_census {
	long absent;		/* pages with nothing present */
	long distinct;		/* distinct frames among the present pages */
	long shared;		/* pages whose frame is mapped more than once */
	long zero;		/* pages that map the zero page */
	long max_map;		/* most pages of the region on one frame */
	unsigned long first;	/* frame of the first present page */
};

int ksmt_census(const void *base, size_t npages, struct ksmt_census *c);

/* The frames (0: nothing present) of npages pages at base; NULL on error. */
u64 *ksmt_frames_of(const void *base, size_t npages);

/*
 * Pages in [from, to) of the npages at base that share their frame with
 * another page of the range or map the zero page: none, once unmerged.
 */
long ksmt_count_shared_frames(const char *base, size_t npages, size_t from,
			      size_t to);

/*
 * What merging must have made of the tracked pages of n layouts of ours
 * mapped at bases: the copies of a content map one frame, and pages of
 * different contents never share one. Returns the number of pages out of
 * line (logged), or -1 if the frames cannot be read.
 */
long ksmt_frames_off_model(struct ksmt_layout *const *ls, char *const *bases,
			   int n);

/* The /proc/kpageflags word of a frame, 0 if it cannot be read. */
u64 ksmt_frame_flags(unsigned long pfn);
/* How many times a frame is mapped (/proc/kpagecount), -1 if unknown. */
long ksmt_frame_mapcount(unsigned long pfn);

#endif /* KSM_FRAMES_H */
