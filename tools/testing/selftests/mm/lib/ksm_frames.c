// SPDX-License-Identifier: GPL-2.0
/*
 * Frames of pages and what /proc says of them; see ksm_frames.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm_util.h"
#include "ksm_util.h"

int ksmt_pagemap(pid_t pid, const void *addr, size_t n, u64 *ents)
{
	size_t len = n * sizeof(*ents), done = 0;
	off_t off = (uintptr_t)addr / PAGE * sizeof(*ents);
	char path[64];
	int fd, err = 0;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t got = pread(fd, (char *)ents + done, len - done,
				    off + done);

		if (got <= 0) {
			err = got < 0 ? -errno : -EIO;
			break;
		}
		done += got;
	}
	close(fd);
	return err;
}

u64 ksmt_pagemap_of(pid_t pid, const void *addr)
{
	u64 ent;

	return ksmt_pagemap(pid, addr, 1, &ent) ? 0 : ent;
}

unsigned long ksmt_frame_of(pid_t pid, const void *addr)
{
	u64 ent = ksmt_pagemap_of(pid, addr);

	return PAGEMAP_PRESENT(ent) ? PAGEMAP_PFN(ent) : 0;
}

int ksmt_frames(const void *addr, size_t n, unsigned long *pfn)
{
	u64 *ents = calloc(n ? n : 1, sizeof(*ents));
	size_t i;
	int err;

	if (!ents)
		return -ENOMEM;
	err = ksmt_pagemap(0, addr, n, ents);
	for (i = 0; !err && i < n; i++)
		pfn[i] = PAGEMAP_PRESENT(ents[i]) ? PAGEMAP_PFN(ents[i]) : 0;
	free(ents);
	return err;
}

long ksmt_swapped(pid_t pid, const void *addr, size_t n)
{
	u64 *ents = calloc(n ? n : 1, sizeof(*ents));
	long swapped = 0;
	size_t i;
	int err;

	if (!ents)
		return -ENOMEM;
	err = ksmt_pagemap(pid, addr, n, ents);
	for (i = 0; !err && i < n; i++)
		swapped += !!(ents[i] & PM_SWAP);
	free(ents);
	return err ? err : swapped;
}

u64 ksmt_frame_flags(unsigned long pfn)
{
	u64 flags = 0;

	ksmt_pread_u64("/proc/kpageflags", pfn * sizeof(flags), &flags);
	return flags;
}

long ksmt_frame_mapcount(unsigned long pfn)
{
	u64 count;

	if (ksmt_pread_u64("/proc/kpagecount", pfn * sizeof(count), &count))
		return -1;
	return count;
}

int ksmt_pfn_excl(const void *addr, unsigned long *pfn, bool *exclusive)
{
	u64 ent;
	int err;

	err = ksmt_pagemap(0, addr, 1, &ent);
	if (err)
		return err;
	*pfn = 0;
	*exclusive = ent & PM_MMAP_EXCLUSIVE;
	if (!PAGEMAP_PRESENT(ent))
		return 0;
	*pfn = PAGEMAP_PFN(ent);
	return *pfn ? 0 : -EPERM;
}

int ksmt_pfn(const void *addr, unsigned long *pfn)
{
	bool exclusive;

	return ksmt_pfn_excl(addr, pfn, &exclusive);
}

unsigned long ksmt_zero_pfn(void)
{
	static unsigned long zero_pfn;
	unsigned long pfn = 0;
	void *p;

	if (zero_pfn)
		return zero_pfn;
	p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return 0;
	/* A read fault of a small page maps the shared zero page. */
	if (!madvise(p, PAGE, MADV_NOHUGEPAGE) &&
	    !madvise(p, PAGE, MADV_POPULATE_READ) && !ksmt_pfn(p, &pfn))
		zero_pfn = pfn;
	munmap(p, PAGE);
	return zero_pfn;
}

static int ksmt_cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

int ksmt_census(const void *base, size_t npages, struct ksmt_census *c)
{
	unsigned long zero = ksmt_zero_pfn(), *pfns;
	size_t i, n = 0, run;
	int err = 0;

	memset(c, 0, sizeof(*c));
	pfns = calloc(npages ? npages : 1, sizeof(*pfns));
	if (!pfns)
		return -ENOMEM;
	for (i = 0; i < npages; i++) {
		unsigned long pfn;
		bool exclusive;

		err = ksmt_pfn_excl((const char *)base + i * PAGE, &pfn,
				    &exclusive);
		if (err)
			goto out;
		if (!pfn) {
			c->absent++;
			continue;
		}
		if (!c->first)
			c->first = pfn;
		pfns[n++] = pfn;
		if (pfn == zero)
			c->zero++;
		else if (!exclusive)
			c->shared++;
	}
	qsort(pfns, n, sizeof(*pfns), ksmt_cmp_ulong);
	for (i = 0; i < n; i += run) {
		for (run = 1; i + run < n && pfns[i + run] == pfns[i]; run++)
			;
		c->distinct++;
		if ((long)run > c->max_map)
			c->max_map = run;
	}
out:
	free(pfns);
	return err;
}

u64 *ksmt_frames_of(const void *base, size_t npages)
{
	u64 *ents = calloc(npages ? npages : 1, sizeof(*ents));
	size_t i;

	if (!ents || ksmt_pagemap(0, base, npages, ents)) {
		free(ents);
		return NULL;
	}
	for (i = 0; i < npages; i++)
		ents[i] = PAGEMAP_PRESENT(ents[i]) ? PAGEMAP_PFN(ents[i]) : 0;
	return ents;
}

long ksmt_count_shared_frames(const char *base, size_t npages, size_t from,
			      size_t to)
{
	unsigned long zero = ksmt_zero_pfn();
	u64 *pfn = ksmt_frames_of(base, npages);
	long shared = 0;
	size_t i, j;

	if (!pfn || !zero) {
		free(pfn);
		return -1;
	}
	for (i = from; i < to; i++) {
		if (!pfn[i])
			continue;
		if (pfn[i] == zero) {
			shared++;
			continue;
		}
		for (j = 0; j < npages; j++)
			if (j != i && pfn[j] == pfn[i])
				break;
		shared += j < npages;
	}
	free(pfn);
	return shared;
}

struct keyed_frame {
	u64 key;
	u64 pfn;
};

static int cmp_by_key(const void *a, const void *b)
{
	const struct keyed_frame *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

static int cmp_by_pfn(const void *a, const void *b)
{
	const struct keyed_frame *x = a, *y = b;

	if (x->pfn != y->pfn)
		return x->pfn < y->pfn ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

long ksmt_frames_off_model(struct ksmt_layout *const *ls, char *const *bases,
			   int n)
{
	struct keyed_frame *kf;
	size_t i, k, total = 0, cnt = 0;
	long off = 0;
	int j;

	for (j = 0; j < n; j++)
		total += ls[j]->npages;
	kf = calloc(total ? total : 1, sizeof(*kf));
	if (!kf)
		return -1;
	for (j = 0; j < n; j++) {
		u64 *pfn = ksmt_frames_of(bases[j], ls[j]->npages);

		if (!pfn) {
			free(kf);
			return -1;
		}
		for (i = 0; i < ls[j]->npages; i++) {
			if (ls[j]->state[i] != KSMT_TRACKED)
				continue;
			kf[cnt].key = ls[j]->key[i];
			kf[cnt++].pfn = pfn[i];
		}
		free(pfn);
	}
	qsort(kf, cnt, sizeof(*kf), cmp_by_key);
	for (i = 0; i < cnt; i = k) {
		for (k = i + 1; k < cnt && kf[k].key == kf[i].key; k++)
			if (kf[k].pfn != kf[i].pfn)
				off++;
	}
	if (off)
		fprintf(stderr, "# %ld copies do not map their content's frame\n",
			off);
	qsort(kf, cnt, sizeof(*kf), cmp_by_pfn);
	for (i = 0; i + 1 < cnt; i++) {
		if (kf[i].pfn == kf[i + 1].pfn && kf[i].key != kf[i + 1].key) {
			fprintf(stderr, "# frame %#llx holds two contents\n",
				(unsigned long long)kf[i].pfn);
			off++;
		}
	}
	free(kf);
	return off;
}
