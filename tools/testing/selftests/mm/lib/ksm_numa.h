/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NUMA for the KSM kselftests: the node of a page, and moving pages to a
 * node with move_pages(2) until they are all there. Part of ksm_util.h.
 */
#ifndef KSM_NUMA_H
#define KSM_NUMA_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

/*
 * NUMA: whether node 1 exists; the node of a page of process pid (0: the
 * caller), -errno if none.
 */
bool ksmt_have_node1(void);
int ksmt_page_node_of(pid_t pid, void *page);
int ksmt_page_node(void *page);

/* Seconds ksmt_move_pages() may retry pages that stay busy. */
#define KSMT_MOVE_TIMEOUT	30

/*
 * Moves npages pages at base of process pid (0: the caller) to node with
 * move_pages(2), including pages mapped more than once (MPOL_MF_MOVE_ALL).
 * A page can be busy for a moment: isolating it fails while it sits in a
 * per-CPU batch, migrating it fails while someone else (ksmd, say) holds
 * a reference to it, and move_pages() stops at the first such failure.
 * So the call is repeated until every page is on node, for at most
 * KSMT_MOVE_TIMEOUT seconds. Returns the number of pages not on node
 * afterwards, or -errno; the calls made go to *calls unless it is NULL.
 */
long ksmt_move_pages(pid_t pid, char *base, size_t npages, int node,
		     int *calls);
/* ksmt_move_pages() of the caller's own pages. */
long ksmt_move_to_node(char *base, size_t npages, int node);

/* Node of every page of a region: the number of pages not on node. */
long ksmt_off_node(const void *base, size_t npages, int node);
/* Whether a NUMA node has memory (/sys/devices/system/node/has_memory). */
bool ksmt_node_has_memory(int node);

#endif /* KSM_NUMA_H */
