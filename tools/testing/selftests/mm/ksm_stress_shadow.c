// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress: the shadow of a worker's pages and what is done with it.
 *
 * Each page of a region has a 64-bit key in the shadow from which its
 * content is generated (0: zeros). Here: a process's random numbers, the
 * contents and keys, picking a region or a run of pages (noted for the
 * history), writing runs and keeping the shadow in step, reading pages
 * (in place or through /proc/self/mem), verifying them against the shadow
 * and reporting a bad page with the process's last operations, -X's one
 * deliberate corruption, and allocating and freeing a region's shadow.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/ksm_util.h"
#include "ksm_stress.h"

/* Buffers of a page (at most) for reading and describing pages. */
u64 view_buf[KSMT_MAX_PAGE_SIZE / sizeof(u64)];
static u64 want_buf[KSMT_MAX_PAGE_SIZE / sizeof(u64)];

/* Random numbers of a process. */
unsigned long rnd(struct proc *p, unsigned long n)
{
	return ksmt_rand_below(&p->rng, n);
}

bool chance(struct proc *p, unsigned int percent)
{
	return rnd(p, 100) < percent;
}

/* A content of the pool that every process draws duplicates from. */
static u64 pool_key(unsigned int i)
{
	return ksmt_mix(ksmt_mix(cfg.seed) + 0x9001 + i) | 1;
}

u64 new_key(struct proc *p, enum kind kind)
{
	switch (kind) {
	case K_DUP:
		return pool_key(rnd(p, NR_POOL));
	case K_UNIQUE:
		return ksmt_rand(&p->rng) | 1;
	default:
		return 0;
	}
}

char *page_at(const struct region *r, size_t i)
{
	return r->base + i * PAGE;
}

bool is_mapped(const struct region *r, size_t i)
{
	return !(r->prot[i] & UNMAPPED);
}

static bool is_writable(const struct region *r, size_t i)
{
	return r->prot[i] == (PROT_READ | PROT_WRITE);
}

void set_key(struct region *r, size_t i, u64 key)
{
	r->prev[i] = r->key[i];
	r->key[i] = key;
}

void put_content(void *page, u64 key)
{
	if (key)
		ksmt_fill_page(page, key);
	else
		memset(page, 0, PAGE);
}

void forget_page(struct region *r, size_t i)
{
	set_key(r, i, 0);
	r->prot[i] = UNMAPPED;
}

/* Notes the range an operation works on, for the history. */
void note(struct proc *p, int r, size_t first, size_t len)
{
	p->cur.r = r;
	p->cur.first = first;
	p->cur.len = len;
}

/* A region of the process at random, or -1 if it has none. */
int pick_region(struct proc *p)
{
	int i, n = 0, pick;

	for (i = 0; i < NR_REGIONS; i++)
		n += !!p->reg[i].base;
	if (!n)
		return -1;
	pick = rnd(p, n);
	for (i = 0; i < NR_REGIONS; i++)
		if (p->reg[i].base && !pick--)
			return i;
	return -1;
}

/* Mostly a few pages, sometimes more, now and then all of max. */
size_t run_length(struct proc *p, size_t max, size_t big)
{
	unsigned long r = rnd(p, 100);
	size_t len;

	if (r < 5)
		return max;
	len = 1 + rnd(p, r < 70 ? 8 : big);
	return len < max ? len : max;
}

/* A random run of pages of region ri, noted for the history. */
struct region *pick_run(struct proc *p, int *ri, size_t *first,
			size_t *len, size_t big)
{
	struct region *r;

	*ri = pick_region(p);
	if (*ri < 0)
		return NULL;
	r = &p->reg[*ri];
	*len = run_length(p, r->npages, big);
	*first = rnd(p, r->npages - *len + 1);
	note(p, *ri, *first, *len);
	return r;
}

/*
 * Writes contents of the given kind into the mapped and writable pages of
 * a run; K_FRESH (new pages only) leaves some untouched. Returns the
 * number of pages written.
 */
size_t write_run(struct proc *p, struct region *r, size_t first,
		 size_t len, enum kind kind)
{
	static const enum kind mix[] = {
		K_DUP, K_DUP, K_DUP, K_DUP, K_DUP, K_DUP, K_UNIQUE, K_UNIQUE,
		K_ZERO, K_FRESH,
	};
	size_t i, n = 0;

	for (i = first; i < first + len; i++) {
		enum kind k = kind;
		u64 key;

		if (!is_writable(r, i))
			continue;
		if (k == K_MIXED || k == K_FRESH)
			k = mix[rnd(p, ARRAY_SIZE(mix) - (kind != K_FRESH))];
		if (k == K_FRESH)
			continue;
		key = k == K_SAME ? r->key[i] : new_key(p, k);
		set_key(r, i, key);
		put_content(page_at(r, i), key);
		n++;
	}
	add(&sh->pages_written, n);
	return n;
}

int open_mem(struct proc *p)
{
	if (p->memfd < 0)
		p->memfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	return p->memfd < 0 ? -errno : 0;
}

/*
 * The content of page i of r: read in place, or through /proc/self/mem
 * (always for PROT_NONE pages, with via_mem for the others too). NULL if
 * it cannot be read at all.
 */
static const void *page_view(struct proc *p, struct region *r, size_t i,
			     bool via_mem)
{
	char *addr = page_at(r, i);

	if ((r->prot[i] & PROT_READ) && !via_mem)
		return addr;
	if (!open_mem(p) &&
	    pread(p->memfd, view_buf, PAGE, (off_t)(uintptr_t)addr) ==
	    (ssize_t)PAGE)
		return view_buf;
	if (r->prot[i] & PROT_READ)
		return addr;
	/* /proc/self/mem refused: make the page readable for a moment. */
	if (mprotect(addr, PAGE, PROT_READ))
		return NULL;
	memcpy(view_buf, addr, PAGE);
	if (mprotect(addr, PAGE, PROT_NONE))
		return NULL;
	return view_buf;
}

/* What a bad page holds instead, as far as the shadow can tell. */
static void identify(struct proc *p, const struct region *r, size_t i,
		     const void *page, char *out, size_t len)
{
	unsigned int k;
	size_t j;
	int q;

	if (ksmt_page_is(page, 0)) {
		snprintf(out, len, "zeros");
		return;
	}
	if (r->prev[i] && ksmt_page_is(page, r->prev[i])) {
		snprintf(out, len, "its previous content %#llx",
			 (unsigned long long)r->prev[i]);
		return;
	}
	for (k = 0; k < NR_POOL; k++) {
		if (ksmt_page_is(page, pool_key(k))) {
			snprintf(out, len, "pool content %u", k);
			return;
		}
	}
	for (q = 0; q < NR_REGIONS; q++) {
		const struct region *o = &p->reg[q];

		for (j = 0; o->base && j < o->npages; j++) {
			if (!o->key[j] || !is_mapped(o, j) ||
			    !ksmt_page_is(page, o->key[j]))
				continue;
			snprintf(out, len, "the content of region %d page %zu",
				 q, j);
			return;
		}
	}
	snprintf(out, len, "unknown content");
}

void dump_history(struct proc *p)
{
	unsigned int k = p->nhist > NR_HIST ? p->nhist - NR_HIST : 0;
	char line[400];
	size_t n = 0;

	for (; k < p->nhist; k++) {
		const struct hist *h = &p->hist[k % NR_HIST];

		n += snprintf(line + n, sizeof(line) - n, " %s r%d %zu+%zu%s;",
			      op_name[h->op], h->r, h->first, h->len,
			      h->ret == DONE ? "" : h->ret == REFUSED ?
			      "(refused)" : "(failed)");
		if (n > 250 || k + 1 == p->nhist) {
			complain("  %s last ops:%s", p->name, line);
			n = 0;
		}
	}
}

static void report_bad(struct proc *p, int ri, size_t i, const void *page)
{
	const struct region *r = &p->reg[ri];
	const u64 *got = page;
	size_t k, first = 0, nbad = 0;
	char what[96];

	put_content(want_buf, r->key[i]);
	for (k = 0; k < PAGE / sizeof(u64); k++) {
		if (got[k] == want_buf[k])
			continue;
		if (!nbad++)
			first = k;
	}
	identify(p, r, i, page, what, sizeof(what));
	complain("FAIL: %s (pid %d): region %d page %zu (%p, prot %#x) is bad:",
		 p->name, (int)getpid(), ri, i, (void *)page_at(r, i),
		 r->prot[i]);
	complain("  %zu of %zu words differ, from byte %zu; holds %s, want %#llx",
		 nbad, (size_t)(PAGE / sizeof(u64)), first * sizeof(u64), what,
		 (unsigned long long)r->key[i]);
}

/* Verifies a run of region ri; the number of bad pages. */
size_t verify_run(struct proc *p, int ri, size_t first, size_t len,
		  bool via_mem)
{
	struct region *r = &p->reg[ri];
	size_t i, bad = 0, seen = 0;

	for (i = first; i < first + len; i++) {
		const void *page;

		if (!is_mapped(r, i))
			continue;
		page = page_view(p, r, i, via_mem);
		if (!page) {
			complain("FAIL: %s (pid %d): cannot read region %d page %zu: %s",
				 p->name, (int)getpid(), ri, i,
				 strerror(errno));
			p->status = ST_ERROR;
			break;
		}
		seen++;
		if (ksmt_page_is(page, r->key[i]))
			continue;
		bad++;
		if (p->bad_shown++ < NR_BAD_SHOWN)
			report_bad(p, ri, i, page);
	}
	add(&sh->pages_verified, seen);
	if (bad) {
		p->status = ST_CORRUPT;
		complain("FAIL: %s (pid %d): %zu bad pages in region %d pages %zu-%zu",
			 p->name, (int)getpid(), bad, ri, first,
			 first + len - 1);
	}
	return bad;
}

/*
 * -X: flips one byte of a mapped page without telling the shadow, once in
 * the whole run, to show that verification catches it.
 */
static void corrupt_one_page(struct proc *p)
{
	int expected = 0, ri = pick_region(p);
	struct region *r;
	size_t i, k, off;
	unsigned char b;

	if (ri < 0)
		return;
	r = &p->reg[ri];
	for (k = 0, i = rnd(p, r->npages); k < r->npages;
	     k++, i = (i + 1) % r->npages)
		if (is_mapped(r, i))
			break;
	if (k == r->npages || open_mem(p))
		return;
	if (!__atomic_compare_exchange_n(&sh->corrupted, &expected, 1, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	off = rnd(p, PAGE);
	if (pread(p->memfd, &b, 1, (off_t)(uintptr_t)(page_at(r, i) + off)) != 1)
		return;
	b ^= 0x5a;
	if (pwrite(p->memfd, &b, 1, (off_t)(uintptr_t)(page_at(r, i) + off)) != 1)
		return;
	say("# -X: %s (pid %d) corrupted byte %zu of region %d page %zu behind the shadow's back",
	    p->name, (int)getpid(), off, ri, i);
	p->corrupt = false;
}

void verify_all(struct proc *p)
{
	int ri;

	if (p->corrupt)
		corrupt_one_page(p);
	for (ri = 0; ri < NR_REGIONS && p->status == ST_OK; ri++)
		if (p->reg[ri].base)
			verify_run(p, ri, 0, p->reg[ri].npages, chance(p, 10));
	add(&sh->ops[OP_VERIFY_ALL], 1);
}

int shadow_alloc(struct region *r, size_t n)
{
	r->key = calloc(n, sizeof(*r->key));
	r->prev = calloc(n, sizeof(*r->prev));
	r->prot = malloc(n);
	if (!r->key || !r->prev || !r->prot)
		return -ENOMEM;
	memset(r->prot, PROT_READ | PROT_WRITE, n);
	return 0;
}

void shadow_free(struct region *r)
{
	free(r->key);
	free(r->prev);
	free(r->prot);
	memset(r, 0, sizeof(*r));
}
