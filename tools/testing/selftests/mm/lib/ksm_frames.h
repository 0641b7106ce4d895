/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Frames for the KSM kselftests: what the pages of a process map, read
 * from /proc/<pid>/pagemap (frame numbers need root), and what
 * /proc/kpageflags and /proc/kpagecount say of a frame. The one pagemap
 * reader of the tests. Part of ksm_util.h.
 *
 * /proc/kpageflags is no help to tell KSM pages: 6.12 reports KPF_KSM for
 * every anonymous page.
 */
#ifndef KSM_FRAMES_H
#define KSM_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

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

/* The /proc/kpageflags word of a frame, 0 if it cannot be read. */
u64 ksmt_frame_flags(unsigned long pfn);
/* How many times a frame is mapped (/proc/kpagecount), -1 if unknown. */
long ksmt_frame_mapcount(unsigned long pfn);

#endif /* KSM_FRAMES_H */
