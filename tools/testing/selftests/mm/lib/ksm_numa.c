// SPDX-License-Identifier: GPL-2.0
/*
 * Nodes of pages and moving them; see ksm_numa.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/mempolicy.h>

#include "ksm_util.h"

bool ksmt_have_node1(void)
{
	return access("/sys/devices/system/node/node1", F_OK) == 0;
}

int ksmt_page_node_of(pid_t pid, void *page)
{
	int status = -ENOENT;

	if (syscall(__NR_move_pages, pid, 1, &page, NULL, &status, 0))
		return -errno;
	return status;
}

int ksmt_page_node(void *page)
{
	return ksmt_page_node_of(0, page);
}

/* How many of the pages are not on node (a page we cannot see counts). */
static long ksmt_pages_off_node(pid_t pid, void **pages, size_t npages,
				int node)
{
	long off = 0;
	size_t i;

	for (i = 0; i < npages; i++)
		if (ksmt_page_node_of(pid, pages[i]) != node)
			off++;
	return off;
}

long ksmt_move_pages(pid_t pid, char *base, size_t npages, int node,
		     int *calls)
{
	double deadline = ksmt_now() + KSMT_MOVE_TIMEOUT;
	void **pages = calloc(npages, sizeof(*pages));
	int *nodes = calloc(npages, sizeof(*nodes));
	int *status = calloc(npages, sizeof(*status));
	long left = -ENOMEM;
	int made = 0;
	size_t i;

	if (!pages || !nodes || !status)
		goto out;
	for (i = 0; i < npages; i++) {
		pages[i] = base + i * KSMT_PAGE_SIZE;
		nodes[i] = node;
	}
	for (;;) {
		made++;
		/* > 0: pages not migrated, the call stopped at one. */
		if (syscall(__NR_move_pages, pid, npages, pages, nodes, status,
			    MPOL_MF_MOVE_ALL) < 0 && errno != EBUSY &&
		    errno != EAGAIN) {
			left = -errno;
			break;
		}
		left = ksmt_pages_off_node(pid, pages, npages, node);
		if (!left || ksmt_now() > deadline)
			break;
		usleep(10000);
	}
out:
	if (calls)
		*calls = made;
	free(pages);
	free(nodes);
	free(status);
	return left;
}

long ksmt_move_to_node(char *base, size_t npages, int node)
{
	return ksmt_move_pages(0, base, npages, node, NULL);
}
