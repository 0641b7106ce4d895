// SPDX-License-Identifier: GPL-2.0
/*
 * Page contents, layouts and the merge model; see ksm_pages.h.
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

u64 ksmt_mix(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

u64 ksmt_rand(struct ksmt_rng *rng)
{
	rng->state += 0x9e3779b97f4a7c15ULL;
	return ksmt_mix(rng->state);
}

unsigned long ksmt_rand_below(struct ksmt_rng *rng, unsigned long n)
{
	return n ? ksmt_rand(rng) % n : 0;
}

void ksmt_fill_page(void *page, u64 key)
{
	u64 *w = page;
	size_t i;

	for (i = 0; i < KSMT_PAGE_SIZE / sizeof(*w); i++)
		w[i] = ksmt_mix(key * 0x100000001b3ULL + i);
}

bool ksmt_page_is(const void *page, u64 key)
{
	const u64 *w = page;
	size_t i;

	for (i = 0; i < KSMT_PAGE_SIZE / sizeof(*w); i++)
		if (w[i] != (key ? ksmt_mix(key * 0x100000001b3ULL + i) : 0))
			return false;
	return true;
}

void *ksmt_map(size_t npages)
{
	size_t len = npages * KSMT_PAGE_SIZE;
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return p;
	/* Small pages only, so that what merges does not depend on THP. */
	if (madvise(p, len, MADV_NOHUGEPAGE) && errno != EINVAL) {
		munmap(p, len);
		return MAP_FAILED;
	}
	return p;
}

int ksmt_mergeable(void *addr, size_t npages)
{
	if (madvise(addr, npages * KSMT_PAGE_SIZE, MADV_MERGEABLE))
		return -errno;
	return 0;
}

char *ksmt_map_zero(long npages)
{
	char *p = ksmt_map(npages);

	if (p == MAP_FAILED)
		return p;
	memset(p, 0, npages * PAGE);
	if (ksmt_mergeable(p, npages)) {
		munmap(p, npages * PAGE);
		return MAP_FAILED;
	}
	return p;
}

bool ksmt_all_bytes_zero(const char *p, long npages)
{
	long i;

	for (i = 0; i < npages * (long)PAGE; i++)
		if (p[i])
			return false;
	return true;
}

u64 ksmt_group_key(u64 group_ns, int group)
{
	u64 key = ksmt_mix(ksmt_mix(group_ns) + 2 * (u64)group);

	return key ? key : 1;
}

u64 ksmt_unique_key(u64 unique_ns, size_t index)
{
	u64 key = ksmt_mix(ksmt_mix(unique_ns) + 2 * (u64)index + 1);

	return key ? key : 1;
}

int ksmt_layout_init(struct ksmt_layout *l, int ngroups, int per_group,
		     int nunique, int nzero, u64 group_ns,
		     u64 unique_ns, u64 seed)
{
	struct ksmt_rng rng = { .state = seed };
	size_t i, n = 0;
	int g, j;

	memset(l, 0, sizeof(*l));
	l->npages = (size_t)ngroups * per_group + nunique + nzero;
	l->ngroups = ngroups;
	l->group_ns = group_ns;
	l->unique_ns = unique_ns;
	l->klass = calloc(l->npages ? l->npages : 1, sizeof(*l->klass));
	l->key = calloc(l->npages ? l->npages : 1, sizeof(*l->key));
	l->state = calloc(l->npages ? l->npages : 1, sizeof(*l->state));
	if (!l->klass || !l->key || !l->state) {
		ksmt_layout_free(l);
		return -ENOMEM;
	}
	for (g = 0; g < ngroups; g++)
		for (j = 0; j < per_group; j++)
			l->klass[n++] = g;
	for (j = 0; j < nunique; j++)
		l->klass[n++] = KSMT_UNIQUE;
	for (j = 0; j < nzero; j++)
		l->klass[n++] = KSMT_ZERO;
	/* Fisher-Yates, so that groups interleave in the address space. */
	for (i = l->npages; i > 1; i--) {
		size_t k = ksmt_rand_below(&rng, i);
		int tmp = l->klass[i - 1];

		l->klass[i - 1] = l->klass[k];
		l->klass[k] = tmp;
	}
	for (i = 0; i < l->npages; i++) {
		if (l->klass[i] >= 0)
			l->key[i] = ksmt_group_key(group_ns, l->klass[i]);
		else if (l->klass[i] == KSMT_UNIQUE)
			l->key[i] = ksmt_unique_key(unique_ns, i);
		else
			l->key[i] = 0;
	}
	return 0;
}

void ksmt_layout_free(struct ksmt_layout *l)
{
	free(l->klass);
	free(l->key);
	free(l->state);
	l->klass = NULL;
	l->key = NULL;
	l->state = NULL;
}

void ksmt_layout_fill(const struct ksmt_layout *l, void *base)
{
	size_t i;

	for (i = 0; i < l->npages; i++) {
		char *page = (char *)base + i * KSMT_PAGE_SIZE;

		if (l->key[i])
			ksmt_fill_page(page, l->key[i]);
		else
			memset(page, 0, KSMT_PAGE_SIZE);
	}
}

long ksmt_layout_check(const struct ksmt_layout *l, const void *base)
{
	size_t i;

	for (i = 0; i < l->npages; i++) {
		if (l->state[i] == KSMT_UNMAPPED)
			continue;
		if (!ksmt_page_is((const char *)base + i * KSMT_PAGE_SIZE,
				  l->key[i]))
			return i;
	}
	return -1;
}

char *ksmt_layout_map(const struct ksmt_layout *l)
{
	char *p = ksmt_map(l->npages);

	if (p == MAP_FAILED)
		return p;
	ksmt_layout_fill(l, p);
	if (ksmt_mergeable(p, l->npages)) {
		munmap(p, l->npages * KSMT_PAGE_SIZE);
		return MAP_FAILED;
	}
	return p;
}

void ksmt_layout_make_unique(struct ksmt_layout *l, void *base, size_t i,
			     u64 key)
{
	l->klass[i] = KSMT_UNIQUE;
	l->key[i] = key;
	if (base)
		ksmt_fill_page((char *)base + i * KSMT_PAGE_SIZE, key);
}

void ksmt_expect_content(struct ksmt_expect *e, long count, bool was_ksm)
{
	if (count <= 0)
		return;
	e->rmap_items += count;
	if (count >= 2) {
		e->shared++;
		e->sharing += count - 1;
	} else if (was_ksm) {
		e->shared++;
	} else {
		e->unshared++;
	}
}

static int ksmt_cmp_key(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Number of copies of key in the sorted array keys[0..n). */
static long ksmt_copies(const u64 *keys, size_t n, u64 key)
{
	size_t lo = 0, hi = n, first;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (keys[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	while (lo < n && keys[lo] == key)
		lo++;
	return lo - first;
}

int ksmt_expect_layouts(struct ksmt_layout *const *ls, int n, bool zero_merge,
			bool merged, struct ksmt_expect *total,
			struct ksmt_expect *each)
{
	size_t i, nkeys = 0, cap = 0;
	u64 *keys;
	int j;

	for (j = 0; j < n; j++)
		cap += ls[j]->npages;
	keys = calloc(cap ? cap : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (j = 0; j < n; j++)
		for (i = 0; i < ls[j]->npages; i++)
			if (ls[j]->state[i] == KSMT_TRACKED &&
			    (ls[j]->key[i] || !zero_merge))
				keys[nkeys++] = ls[j]->key[i];
	qsort(keys, nkeys, sizeof(*keys), ksmt_cmp_key);

	memset(total, 0, sizeof(*total));
	/* Contents with several copies: one KSM page each. */
	for (i = 0; i < nkeys; ) {
		long count = ksmt_copies(keys, nkeys, keys[i]);

		if (count >= 2)
			ksmt_expect_content(total, count, false);
		i += count;
	}
	/* Zero pages, and contents down to a single copy. */
	for (j = 0; j < n; j++) {
		const struct ksmt_layout *l = ls[j];
		struct ksmt_expect mine = { 0 };

		for (i = 0; i < l->npages; i++) {
			long count;

			if (l->state[i] != KSMT_TRACKED)
				continue;
			if (!l->key[i] && zero_merge) {
				mine.zero_pages++;
				continue;
			}
			mine.rmap_items++;
			count = ksmt_copies(keys, nkeys, l->key[i]);
			if (count >= 2) {
				mine.merging++;
			} else if (merged && l->klass[i] != KSMT_UNIQUE) {
				/* Its twins are gone; it still maps the KSM page. */
				mine.merging++;
				ksmt_expect_content(total, 1, true);
			} else {
				ksmt_expect_content(total, 1, false);
			}
		}
		total->zero_pages += mine.zero_pages;
		if (each)
			each[j] = mine;
	}
	total->merging = total->shared + total->sharing;
	free(keys);
	return 0;
}

long ksmt_item_size(const struct ksmt_stat *st)
{
	long cost = (st->merging_pages + st->zero_pages) * (long)KSMT_PAGE_SIZE -
		    st->profit;

	if (st->rmap_items <= 0 || cost % st->rmap_items)
		return -1;
	cost /= st->rmap_items;
	return cost > 0 && cost < (long)KSMT_PAGE_SIZE ? cost : -1;
}
