// SPDX-License-Identifier: GPL-2.0
/*
 * Frames and memory blocks for the KSM kselftests; see ksm_memblock.h.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kernel-page-flags.h>
#include <linux/mempolicy.h>

#include "vm_util.h"
#include "ksm_memblock.h"
#include "ksm_util.h"

/* kpageflags bits above the UAPI ones (include/linux/kernel-page-flags.h). */
#define KPF_RESERVED_BIT	32

int bind_to_node(int node)
{
	unsigned long mask = 1UL << node;

	if (node < 0)
		return syscall(__NR_set_mempolicy, MPOL_DEFAULT, NULL, 0) ?
		       -errno : 0;
	return syscall(__NR_set_mempolicy, MPOL_BIND, &mask,
		       sizeof(mask) * 8) ? -errno : 0;
}

int pin_to_one_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return -errno;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/*
 * Maps up to max pages and takes them, 8 MiB at a time, until want of
 * them are frames of [lo, hi); all max of them if the range is empty.
 * Returns 0, or -ENOSPC if max pages did not get there (or -errno).
 */
int filler_take_until(struct filler *f, size_t max, unsigned long lo,
		      unsigned long hi, size_t want)
{
	const size_t chunk = 2048;
	size_t i, in = 0;

	memset(f, 0, sizeof(*f));
	f->base = ksmt_map(max);
	f->pfn = calloc(max, sizeof(*f->pfn));
	if (f->base == MAP_FAILED || !f->pfn)
		return -ENOMEM;
	f->pages = max;
	/* Not for the processes forked later. */
	if (madvise(f->base, max * PAGE, MADV_DONTFORK))
		return -errno;
	while (f->taken + chunk <= max) {
		for (i = f->taken; i < f->taken + chunk; i++)
			f->base[i * PAGE] = 1;
		if (ksmt_frames(f->base + f->taken * PAGE, chunk,
				f->pfn + f->taken))
			return -EIO;
		for (i = f->taken; i < f->taken + chunk; i++)
			if (f->pfn[i] >= lo && f->pfn[i] < hi)
				in++;
		f->taken += chunk;
		if (lo < hi && in >= want)
			return 0;
	}
	return lo < hi ? -ENOSPC : 0;
}

/* Gives back the filler's pages for which keep() says no. */
void filler_free_but(struct filler *f,
		     bool (*keep)(size_t i, unsigned long pfn, void *arg),
		     void *arg)
{
	size_t i;

	for (i = 0; i < f->taken; i++)
		if (!keep(i, f->pfn[i], arg))
			madvise(f->base + i * PAGE, PAGE, MADV_DONTNEED);
}

/* Which filler pages filler_free_in() gives back. */
struct frame_range {
	unsigned long lo, hi;	/* frames [lo, hi) */
	size_t left;		/* how many more */
};

static bool keep_unless_in(size_t i, unsigned long pfn, void *arg)
{
	struct frame_range *r = arg;

	if (!r->left || pfn < r->lo || pfn >= r->hi)
		return true;
	r->left--;
	return false;
}

/* Gives back n of the filler's pages that are frames of [lo, hi). */
void filler_free_in(struct filler *f, unsigned long lo,
		    unsigned long hi, size_t n)
{
	struct frame_range r = { .lo = lo, .hi = hi, .left = n };

	filler_free_but(f, keep_unless_in, &r);
}

void filler_release(struct filler *f)
{
	if (f->base && f->base != MAP_FAILED)
		munmap(f->base, f->pages * PAGE);
	free(f->pfn);
	memset(f, 0, sizeof(*f));
}

/*
 * The frames [*start, *end) of the highest zone of node that has memory
 * (where its anonymous pages come from first). Returns 0 or -ENOENT.
 */
int top_zone_of(int node, unsigned long *start, unsigned long *end)
{
	char line[256], want[32];
	long spanned = 0, present = 0, begin;
	bool mine = false;
	int found = -ENOENT;
	FILE *f;

	f = fopen("/proc/zoneinfo", "r");
	if (!f)
		return -errno;
	snprintf(want, sizeof(want), "Node %d,", node);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Node ", 5)) {
			mine = !strncmp(line, want, strlen(want));
			continue;
		}
		if (!mine)
			continue;
		if (sscanf(line, " spanned %ld", &spanned) == 1 ||
		    sscanf(line, " present %ld", &present) == 1)
			continue;
		if (sscanf(line, " start_pfn: %ld", &begin) == 1 && present) {
			*start = begin;
			*end = begin + spanned;
			found = 0;
		}
	}
	fclose(f);
	return found;
}

int block_read(int id, const char *file, char *buf, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), MEMDIR "/memory%d/%s", id, file);
	return ksmt_read_file(path, buf, len);
}

int block_node(int id)
{
	char path[128];
	struct dirent *d;
	int node = -1;
	DIR *dir;

	snprintf(path, sizeof(path), MEMDIR "/memory%d", id);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, "node", 4) &&
		    isdigit((unsigned char)d->d_name[4]))
			node = atoi(d->d_name + 4);
	closedir(dir);
	return node;
}

/* Whether every frame of [start, end) exists and none is reserved. */
bool frames_offlinable(unsigned long start, unsigned long end)
{
	size_t n = end - start, i;
	bool ok = false;
	u64 *flags;
	ssize_t got;
	int fd;

	flags = calloc(n, sizeof(*flags));
	fd = open("/proc/kpageflags", O_RDONLY);
	if (!flags || fd < 0)
		goto out;
	got = pread(fd, flags, n * sizeof(*flags), start * sizeof(*flags));
	if (got != (ssize_t)(n * sizeof(*flags)))
		goto out;
	for (i = 0; i < n; i++)
		if (flags[i] & ((1ULL << KPF_NOPAGE) |
				(1ULL << KPF_RESERVED_BIT)))
			goto out;
	ok = true;
out:
	if (fd >= 0)
		close(fd);
	free(flags);
	return ok;
}

/*
 * The blocks that can go offline into b[], at most max; how many. *movable
 * counts the blocks of ZONE_MOVABLE, offlinable or not.
 */
int offlinable_blocks(struct mem_block *b, int max, int *movable)
{
	unsigned long bpages;
	char buf[64];
	struct dirent *d;
	int n = 0, id;
	DIR *dir;

	*movable = 0;
	if (ksmt_read_file(MEMDIR "/block_size_bytes", buf, sizeof(buf)))
		return 0;
	bpages = strtoul(buf, NULL, 16) / PAGE;
	dir = opendir(MEMDIR);
	if (!dir)
		return 0;
	while ((d = readdir(dir)) && n < max) {
		if (strncmp(d->d_name, "memory", 6) ||
		    !isdigit((unsigned char)d->d_name[6]))
			continue;
		id = atoi(d->d_name + 6);
		if (block_read(id, "valid_zones", buf, sizeof(buf)) ||
		    strcmp(buf, "Movable"))
			continue;
		(*movable)++;
		if (block_read(id, "state", buf, sizeof(buf)) ||
		    strcmp(buf, "online") ||
		    block_read(id, "removable", buf, sizeof(buf)) ||
		    strcmp(buf, "1"))
			continue;
		b[n].id = id;
		b[n].node = block_node(id);
		b[n].start = id * bpages;
		b[n].end = b[n].start + bpages;
		if (b[n].node >= 0 && frames_offlinable(b[n].start, b[n].end))
			n++;
	}
	closedir(dir);
	return n;
}

/*
 * Writes the state of a block: 0 or -errno. A fork() to bound the time
 * would give ksmd one more sharer of every KSM page for a while; an
 * offlining that cannot finish ends with the test's timeout instead (a
 * fatal signal ends it).
 */
int block_set_state(int id, const char *state)
{
	char path[128];

	snprintf(path, sizeof(path), MEMDIR "/memory%d/state", id);
	return ksmt_write_file(path, state);
}

const struct mem_block *block_of(const struct mem_block *b, int n,
				 unsigned long pfn)
{
	int i;

	for (i = 0; i < n; i++)
		if (pfn >= b[i].start && pfn < b[i].end)
			return &b[i];
	return NULL;
}
