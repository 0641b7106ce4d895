/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of ksm_features.c and ksm_advisor.c: which page frame each page
 * of a region maps (/proc/self/pagemap; frame numbers need root), where
 * pages are (NUMA), and KSM's tracepoints (tracefs). Everything here is
 * prefixed ksmf_; it adds nothing to ksm_util.h.
 *
 * /proc/kpageflags is of no use to tell KSM pages: 6.12 reports KPF_KSM
 * for every anonymous page. Pages that map one frame in a process that
 * did not fork share it through KSM; pagemap's "exclusively mapped" bit
 * tells a page mapped once from one mapped more than once.
 */
#ifndef KSM_FEATURES_UTIL_H
#define KSM_FEATURES_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/*
 * The page frame mapped at addr in *pfn, 0 if none is present. Returns 0,
 * -EPERM if pagemap hides frame numbers (not root), or another -errno.
 */
int ksmf_pfn(const void *addr, unsigned long *pfn);
/* The same, and whether the frame is mapped only there, in *exclusive. */
int ksmf_pfn_excl(const void *addr, unsigned long *pfn, bool *exclusive);
/* The frame of the shared zero page (0 if it cannot be found). */
unsigned long ksmf_zero_pfn(void);

/* What the npages pages of a region map. */
struct ksmf_census {
	long absent;		/* pages with nothing present */
	long distinct;		/* distinct frames among the present pages */
	long shared;		/* pages whose frame is mapped more than once */
	long zero;		/* pages that map the zero page */
	long max_map;		/* most pages of the region on one frame */
	unsigned long first;	/* frame of the first present page */
};

int ksmf_census(const void *base, size_t npages, struct ksmf_census *c);

/* Node of every page of a region: the number of pages not on node. */
long ksmf_off_node(const void *base, size_t npages, int node);
/* Whether a NUMA node has memory (/sys/devices/system/node/has_memory). */
bool ksmf_node_has_memory(int node);

/*
 * tracefs: the mount point (/sys/kernel/tracing, else the one under
 * debugfs), or NULL. Events are those of the "ksm" system.
 */
const char *ksmf_tracefs(void);
bool ksmf_event_exists(const char *event);
/* Reads file (e.g. "format") of an event into buf; 0 or -errno. */
int ksmf_event_read(const char *event, const char *file, char *buf,
		    size_t len);
/*
 * Enables or disables an event; the first call for an event remembers its
 * old state, and so does the first ksmf_trace_clear() for tracing_on,
 * which it switches on. ksmf_trace_restore() puts all of that back and
 * empties the buffer. 0 or -errno.
 */
int ksmf_event_enable(const char *event, bool on);
int ksmf_trace_clear(void);
int ksmf_trace_restore(void);
/* The trace buffer as text (malloc()ed, NUL-terminated), or NULL. */
char *ksmf_trace_read(void);

/*
 * The next line of text after *pos that contains " event: " (the event
 * name as the trace shows it); the rest of the line after that in rest
 * (up to len bytes), the task's pid in *pid if not NULL. Advances *pos;
 * false at the end.
 */
bool ksmf_trace_next(const char **pos, const char *event, char *rest,
		     size_t len, int *pid);

#endif /* KSM_FEATURES_UTIL_H */
