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

long ksmt_off_node(const void *base, size_t npages, int node)
{
	long off = 0;
	size_t i;

	for (i = 0; i < npages; i++) {
		const void *page = (const char *)base + i * PAGE;
		int status = -ENOENT;

		/* move_pages(2) without nodes: where each page is. */
		if (syscall(__NR_move_pages, 0, 1UL, &page, NULL, &status, 0) ||
		    status != node)
			off++;
	}
	return off;
}

bool ksmt_node_has_memory(int node)
{
	char buf[256], *s;
	ssize_t n;
	int fd;

	fd = open("/sys/devices/system/node/has_memory", O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* A list such as "0-1" or "0,2-3". */
	for (s = buf; *s && *s != '\n'; ) {
		char *end;
		long lo = strtol(s, &end, 10), hi = lo;

		if (end == s)
			return false;
		if (*end == '-') {
			s = end + 1;
			hi = strtol(s, &end, 10);
			if (end == s)
				return false;
		}
		if (node >= lo && node <= hi)
			return true;
		s = *end == ',' ? end + 1 : end;
	}
	return false;
}
