// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress: a bounded, randomized stress test of KSM's data integrity.
 *
 * Worker processes map anonymous regions and do random mixes of mmap,
 * munmap, mremap, mprotect, writes of duplicate, unique and zero
 * contents (directly and through /proc/self/mem), MADV_MERGEABLE and
 * MADV_UNMERGEABLE, PR_SET_MEMORY_MERGE, MADV_DONTNEED, MADV_PAGEOUT (to
 * zram swap when it can be set up), move_pages() between the two NUMA
 * nodes, fork() and exit(), while ksmd scans at full speed and a
 * controller process toggles run (0, 1 and now and then 2), use_zero_pages,
 * merge_across_nodes, max_page_sharing and smart_scan.
 *
 * Every process keeps a shadow of its pages: a 64-bit key per page from
 * which the page's content is generated (0: zeros). It verifies every
 * page it owns now and then and before it exits; after fork() both sides
 * own their copies. Each process (workers, their children, the
 * controller) is one check; the last is that once all have exited, every
 * KSM counter drops to zero, first with ksmd running (run=1), then after
 * run=2, and the knobs and swap go back as they were. The last line is
 * 'N passed, N failed'.
 *
 * Usage: ksm_stress [-d seconds] [-p workers] [-m MiB per worker] [-s seed]
 * Exit status: 0 all good, 1 a failure, 4 (skip) without KSM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/mempolicy.h>

#include "../kselftest.h"
#include "lib/ksm_util.h"
#include "lib/ksm_swap.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif

#define MAX_WORKERS	16
#define NR_REGIONS	4
#define MIN_REGION	16	/* pages */
#define NR_POOL		48	/* contents shared by all processes */
#define NR_HIST		16	/* operations remembered for a report */
#define NR_BAD_SHOWN	3	/* bad pages described per process */
#define MAX_COMPLAINTS	60	/* lines of failure messages in all */
#define STOP_GRACE	20	/* s after the end for processes to exit */
#define KILL_GRACE	5	/* s to reap what had to be killed */
#define ZERO_WAIT	10	/* s for the counters to reach zero */
#define DRAIN_WAIT	10	/* s for ksmd to forget exited processes */
#define WORKER_LIFE	60	/* s a worker lives at most (or the run) */
#define CHILD_LIFE	15	/* s a forked child lives at most */
#define SWAP_SIZE	"256M"
#define MIN_SCANS	3	/* full scans after which merging must show */
#define UNMAPPED	0x80	/* prot[]: no page, a PROT_NONE placeholder */

/* Exit statuses of the worker processes and of the controller. */
enum {
	ST_OK,
	ST_CORRUPT,		/* a page did not hold what it must */
	ST_ERROR,		/* a system call failed unexpectedly */
	ST_RANGE,		/* a KSM counter or ksm_stat out of range */
	ST_IDLE,		/* ksmd made full scans but merged nothing */
};

/* What an operation came to; the errors are -errno. */
enum { DONE = 0, REFUSED = 1, NOTHING = 2 };

enum op {
	OP_MMAP, OP_MMAP_FIXED, OP_MUNMAP, OP_MUNMAP_REGION, OP_MREMAP,
	OP_MPROTECT, OP_WRITE_DUP, OP_WRITE_UNIQUE, OP_WRITE_ZERO,
	OP_REWRITE, OP_WRITE_MEM, OP_MERGEABLE, OP_UNMERGEABLE,
	OP_PRCTL_ON, OP_PRCTL_OFF, OP_DONTNEED, OP_PAGEOUT, OP_MOVE_PAGES,
	OP_FORK, OP_VERIFY, OP_NAP, OP_VERIFY_ALL, OP_EXIT, NR_OPS
};

static const char *const op_name[NR_OPS] = {
	[OP_MMAP] = "mmap",
	[OP_MMAP_FIXED] = "mmap-fixed",
	[OP_MUNMAP] = "munmap",
	[OP_MUNMAP_REGION] = "munmap-region",
	[OP_MREMAP] = "mremap",
	[OP_MPROTECT] = "mprotect",
	[OP_WRITE_DUP] = "write-dup",
	[OP_WRITE_UNIQUE] = "write-unique",
	[OP_WRITE_ZERO] = "write-zero",
	[OP_REWRITE] = "rewrite-same",
	[OP_WRITE_MEM] = "write-proc-mem",
	[OP_MERGEABLE] = "madv-mergeable",
	[OP_UNMERGEABLE] = "madv-unmergeable",
	[OP_PRCTL_ON] = "prctl-merge-on",
	[OP_PRCTL_OFF] = "prctl-merge-off",
	[OP_DONTNEED] = "madv-dontneed",
	[OP_PAGEOUT] = "madv-pageout",
	[OP_MOVE_PAGES] = "move-pages",
	[OP_FORK] = "fork",
	[OP_VERIFY] = "verify-range",
	[OP_NAP] = "nap",
	[OP_VERIFY_ALL] = "verify-all",
	[OP_EXIT] = "exit",
};

/* Relative frequency of the operations a busy process picks. */
static const unsigned char op_weight[NR_OPS] = {
	[OP_MMAP] = 3, [OP_MMAP_FIXED] = 3, [OP_MUNMAP] = 3,
	[OP_MUNMAP_REGION] = 1, [OP_MREMAP] = 5, [OP_MPROTECT] = 6,
	[OP_WRITE_DUP] = 14, [OP_WRITE_UNIQUE] = 6, [OP_WRITE_ZERO] = 4,
	[OP_REWRITE] = 4, [OP_WRITE_MEM] = 3, [OP_MERGEABLE] = 6,
	[OP_UNMERGEABLE] = 3, [OP_PRCTL_ON] = 1, [OP_PRCTL_OFF] = 1,
	[OP_DONTNEED] = 4, [OP_PAGEOUT] = 4, [OP_MOVE_PAGES] = 4,
	[OP_FORK] = 3, [OP_VERIFY] = 4, [OP_NAP] = 4,
};

/* The controller's knob writes. */
enum ctl {
	CTL_RUN0, CTL_RUN1, CTL_RUN2, CTL_ZERO_PAGES, CTL_ACROSS_NODES,
	CTL_MAX_SHARING, CTL_SMART_SCAN, NR_CTL
};

static const char *const ctl_name[NR_CTL] = {
	[CTL_RUN0] = "run=0",
	[CTL_RUN1] = "run=1",
	[CTL_RUN2] = "run=2",
	[CTL_ZERO_PAGES] = "use_zero_pages",
	[CTL_ACROSS_NODES] = "merge_across_nodes",
	[CTL_MAX_SHARING] = "max_page_sharing",
	[CTL_SMART_SCAN] = "smart_scan",
};

/* The highest values of the global counters the controller saw. */
struct peaks {
	long shared, sharing, unshared, zero_pages, chains, swap_kb;
};

/* State shared by all processes of the run (MAP_SHARED). */
struct shared {
	long ops[NR_OPS];
	long refused[NR_OPS];
	long pages_written, pages_verified, pages_placed;
	long ctl_done[NR_CTL], ctl_busy[NR_CTL];
	long passed, failed;
	long workers, children;
	long complaints;
	long scans;		/* full scans, summed over run=2 resets */
	struct peaks peak;
	int worker_pid[MAX_WORKERS];
	int worker_gen[MAX_WORKERS];
	int child_pid[MAX_WORKERS];	/* 0 free, -1 claimed */
	int ctl_pid;
	int stop;
	int killing;		/* stragglers are being killed */
	int corrupted;		/* -X has done its damage */
};

/* The run's parameters; set before the first fork, then read-only. */
static struct config {
	int seconds;
	int nprocs;
	int mib;
	u64 seed;
	bool corrupt;		/* -X: damage one page behind the shadow */
	bool numa;		/* node 1 exists */
	bool swap;		/* zram swap is on */
	size_t budget;		/* pages one process may map */
	double start, deadline;
} cfg;

static struct shared *sh;
static int stop_requested;

/* One mapping of a process and the shadow of its pages. */
struct region {
	char *base;
	size_t npages;
	u64 *key;		/* what each page holds: 0 is zeros */
	u64 *prev;		/* what it held before its last change */
	unsigned char *prot;	/* PROT_* of each page, or UNMAPPED */
};

/* An operation, as remembered for a report. */
struct hist {
	enum op op;
	int r;
	size_t first, len;
	int ret;
};

/* A worker process (a child after fork() is one too). */
struct proc {
	struct ksmt_rng rng;
	struct region reg[NR_REGIONS];
	size_t pages;		/* pages of all regions */
	char name[40];
	int child_slot;		/* own entry of sh->child_pid, or -1 */
	int depth;		/* 0 for a worker, 1 for its child, ... */
	int nkids;		/* children not reaped yet */
	double end;		/* when it exits by itself */
	double next_verify;
	double quiet_until, busy_until;
	bool merge_any;		/* PR_SET_MEMORY_MERGE is set */
	bool corrupt;		/* -X falls to this process */
	bool newborn;		/* just forked: the parent counts the fork */
	int memfd;		/* /proc/self/mem, or -1 */
	int status;		/* ST_OK until something failed */
	int bad_shown;
	struct hist cur;
	struct hist hist[NR_HIST];
	unsigned int nhist;
};

/* Buffers of a page (at most) for reading and describing pages. */
static u64 view_buf[KSMT_MAX_PAGE_SIZE / sizeof(u64)];
static u64 want_buf[KSMT_MAX_PAGE_SIZE / sizeof(u64)];

static void add(long *counter, long n)
{
	__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

static long peek(const long *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static void raise_peak(long *peak, long value)
{
	long old = peek(peak);

	while (value > old &&
	       !__atomic_compare_exchange_n(peak, &old, value, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static bool stopping(void)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_RELAXED);
}

/* One line on stdout in one write(), as several processes print. */
static __printf(1, 2) void say(const char *fmt, ...)
{
	char buf[600];
	va_list ap;
	ssize_t done;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	done = write(STDOUT_FILENO, buf, n);
	(void)done;
}

/* say() for failures, at most MAX_COMPLAINTS lines in the whole run. */
static __printf(1, 2) void complain(const char *fmt, ...)
{
	long n = __atomic_add_fetch(&sh->complaints, 1, __ATOMIC_RELAXED);
	char buf[560];
	va_list ap;

	if (n > MAX_COMPLAINTS) {
		if (n == MAX_COMPLAINTS + 1)
			say("# (further failure messages suppressed)");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("# %s", buf);
}

/* Random numbers of a process. */
static unsigned long rnd(struct proc *p, unsigned long n)
{
	return ksmt_rand_below(&p->rng, n);
}

static bool chance(struct proc *p, unsigned int percent)
{
	return rnd(p, 100) < percent;
}

/* A content of the pool that every process draws duplicates from. */
static u64 pool_key(unsigned int i)
{
	return ksmt_mix(ksmt_mix(cfg.seed) + 0x9001 + i) | 1;
}

/* Kinds of content a write puts into a page. */
enum kind { K_DUP, K_UNIQUE, K_ZERO, K_SAME, K_MIXED, K_FRESH };

static u64 new_key(struct proc *p, enum kind kind)
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

static char *page_at(const struct region *r, size_t i)
{
	return r->base + i * PAGE;
}

static bool is_mapped(const struct region *r, size_t i)
{
	return !(r->prot[i] & UNMAPPED);
}

static bool is_writable(const struct region *r, size_t i)
{
	return r->prot[i] == (PROT_READ | PROT_WRITE);
}

static void set_key(struct region *r, size_t i, u64 key)
{
	r->prev[i] = r->key[i];
	r->key[i] = key;
}

static void put_content(void *page, u64 key)
{
	if (key)
		ksmt_fill_page(page, key);
	else
		memset(page, 0, PAGE);
}

static void forget_page(struct region *r, size_t i)
{
	set_key(r, i, 0);
	r->prot[i] = UNMAPPED;
}

/* Notes the range an operation works on, for the history. */
static void note(struct proc *p, int r, size_t first, size_t len)
{
	p->cur.r = r;
	p->cur.first = first;
	p->cur.len = len;
}

/* A region of the process at random, or -1 if it has none. */
static int pick_region(struct proc *p)
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
static size_t run_length(struct proc *p, size_t max, size_t big)
{
	unsigned long r = rnd(p, 100);
	size_t len;

	if (r < 5)
		return max;
	len = 1 + rnd(p, r < 70 ? 8 : big);
	return len < max ? len : max;
}

/* A random run of pages of region ri, noted for the history. */
static struct region *pick_run(struct proc *p, int *ri, size_t *first,
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
static size_t write_run(struct proc *p, struct region *r, size_t first,
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

static int open_mem(struct proc *p)
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

static void dump_history(struct proc *p)
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
static size_t verify_run(struct proc *p, int ri, size_t first, size_t len,
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

static void verify_all(struct proc *p)
{
	int ri;

	if (p->corrupt)
		corrupt_one_page(p);
	for (ri = 0; ri < NR_REGIONS && p->status == ST_OK; ri++)
		if (p->reg[ri].base)
			verify_run(p, ri, 0, p->reg[ri].npages, chance(p, 10));
	add(&sh->ops[OP_VERIFY_ALL], 1);
}

static int shadow_alloc(struct region *r, size_t n)
{
	r->key = calloc(n, sizeof(*r->key));
	r->prev = calloc(n, sizeof(*r->prev));
	r->prot = malloc(n);
	if (!r->key || !r->prev || !r->prot)
		return -ENOMEM;
	memset(r->prot, PROT_READ | PROT_WRITE, n);
	return 0;
}

static void shadow_free(struct region *r)
{
	free(r->key);
	free(r->prev);
	free(r->prot);
	memset(r, 0, sizeof(*r));
}

/* A PROT_NONE mapping that keeps an unmapped range of a region ours. */
static int put_placeholder(char *addr, size_t npages)
{
	void *q = mmap(addr, npages * PAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		       -1, 0);

	if (q == MAP_FAILED)
		return -errno;
	return q == addr ? 0 : -EFAULT;
}

/* Errors KSM may legitimately answer a merge request with. */
static int merge_refusal(int err)
{
	return err == EAGAIN || err == ENOMEM || err == EINTR ? REFUSED : -err;
}

/* A new region, filled with a mix of contents, usually mergeable. */
static int op_mmap(struct proc *p)
{
	size_t left = cfg.budget - p->pages, max, n;
	unsigned long thp = rnd(p, 10);
	struct region *r;
	char *base;
	int ri;

	for (ri = 0; ri < NR_REGIONS; ri++)
		if (!p->reg[ri].base)
			break;
	if (ri == NR_REGIONS || left < MIN_REGION)
		return NOTHING;
	r = &p->reg[ri];
	max = left < cfg.budget / 2 ? left : cfg.budget / 2;
	if (max < MIN_REGION)
		max = MIN_REGION;
	n = MIN_REGION + rnd(p, max - MIN_REGION + 1);
	note(p, ri, 0, n);
	base = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return errno == ENOMEM ? REFUSED : -errno;
	/* THP as the system has it, asked for, or not. */
	if (thp < 7 && madvise(base, n * PAGE, thp < 3 ? MADV_HUGEPAGE :
			       MADV_NOHUGEPAGE) && errno != EINVAL) {
		int err = -errno;

		munmap(base, n * PAGE);
		return err;
	}
	if (shadow_alloc(r, n)) {
		shadow_free(r);
		munmap(base, n * PAGE);
		return -ENOMEM;
	}
	r->base = base;
	r->npages = n;
	p->pages += n;
	write_run(p, r, 0, n, rnd(p, 4) ? K_FRESH : K_DUP);
	if (chance(p, 75) && madvise(base, n * PAGE, MADV_MERGEABLE))
		return merge_refusal(errno);
	return DONE;
}

/* A run of unmapped pages of region ri, at least 1 and at most max long. */
static bool find_hole(struct proc *p, int ri, size_t max, size_t *first,
		      size_t *len)
{
	struct region *r = &p->reg[ri];
	size_t i, n, tries;

	for (tries = 0; tries < 8; tries++) {
		i = rnd(p, r->npages);
		if (is_mapped(r, i))
			continue;
		for (n = 1; n < max && i + n < r->npages; n++)
			if (is_mapped(r, i + n))
				break;
		*first = i;
		*len = n;
		return true;
	}
	return false;
}

/* mmap(MAP_FIXED) of fresh memory over an unmapped run of a region. */
static int op_mmap_fixed(struct proc *p)
{
	size_t i, first, len;
	struct region *r;
	int ri = pick_region(p);
	char *addr;

	if (ri < 0 || !find_hole(p, ri, run_length(p, 64, 64), &first, &len))
		return NOTHING;
	r = &p->reg[ri];
	note(p, ri, first, len);
	addr = mmap(page_at(r, first), len * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (addr == MAP_FAILED)
		return -errno;
	if (addr != page_at(r, first))
		return -EFAULT;
	for (i = first; i < first + len; i++) {
		set_key(r, i, 0);
		r->prot[i] = PROT_READ | PROT_WRITE;
	}
	if (chance(p, 70))
		write_run(p, r, first, len, K_MIXED);
	return DONE;
}

/* munmap() of a run; a placeholder keeps the range for the region. */
static int op_munmap(struct proc *p)
{
	size_t i, first, len;
	struct region *r;
	int ri, err;

	r = pick_run(p, &ri, &first, &len, 64);
	if (!r)
		return NOTHING;
	if (munmap(page_at(r, first), len * PAGE))
		return -errno;
	err = put_placeholder(page_at(r, first), len);
	if (err)
		return err;
	for (i = first; i < first + len; i++)
		forget_page(r, i);
	return DONE;
}

static int op_munmap_region(struct proc *p)
{
	int ri = pick_region(p);
	struct region *r;

	if (ri < 0)
		return NOTHING;
	r = &p->reg[ri];
	note(p, ri, 0, r->npages);
	if (munmap(r->base, r->npages * PAGE))
		return -errno;
	p->pages -= r->npages;
	shadow_free(r);
	return DONE;
}

/* A run of mapped pages of one protection: false if none was found. */
static bool pick_mapped_run(struct proc *p, int ri, size_t max,
			    size_t *first, size_t *len)
{
	struct region *r = &p->reg[ri];
	size_t i, n, tries;

	for (tries = 0; tries < 8; tries++) {
		i = rnd(p, r->npages);
		if (!is_mapped(r, i))
			continue;
		for (n = 1; n < max && i + n < r->npages; n++)
			if (r->prot[i + n] != r->prot[i])
				break;
		*first = i;
		*len = n;
		return true;
	}
	return false;
}

/* A hole of exactly len pages in region ri that does not overlap a run. */
static bool find_hole_for(struct proc *p, int ri, size_t len, size_t *at)
{
	struct region *r = &p->reg[ri];
	size_t i, n, tries;

	if (len > r->npages)
		return false;
	for (tries = 0; tries < 8; tries++) {
		i = rnd(p, r->npages - len + 1);
		for (n = 0; n < len; n++)
			if (is_mapped(r, i + n))
				break;
		if (n == len) {
			*at = i;
			return true;
		}
	}
	return false;
}

/* The shadow of a run moved to a disjoint run of the same region. */
static void move_shadow(struct region *r, size_t from, size_t to, size_t len)
{
	size_t i;

	memcpy(&r->key[to], &r->key[from], len * sizeof(*r->key));
	memcpy(&r->prev[to], &r->prev[from], len * sizeof(*r->prev));
	memcpy(&r->prot[to], &r->prot[from], len);
	for (i = from; i < from + len; i++)
		forget_page(r, i);
}

static void *mremap_to(char *from, size_t npages, char *to)
{
	return mremap(from, npages * PAGE, npages * PAGE,
		      MREMAP_MAYMOVE | MREMAP_FIXED, to);
}

/*
 * mremap() of a run out to a new place and back, to where it was or into
 * a hole of the same region; the run is verified where it ends up.
 */
static int op_mremap(struct proc *p)
{
	size_t first, len, dst;
	int ri = pick_region(p), err;
	struct region *r;
	char *tmp, *src;

	if (ri < 0 || !pick_mapped_run(p, ri, run_length(p, 64, 64), &first,
				       &len))
		return NOTHING;
	r = &p->reg[ri];
	src = page_at(r, first);
	note(p, ri, first, len);
	tmp = mmap(NULL, len * PAGE, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (tmp == MAP_FAILED)
		return -errno;
	if (mremap_to(src, len, tmp) == MAP_FAILED) {
		err = errno;
		munmap(tmp, len * PAGE);
		/* EFAULT: the run spans more than one VMA. */
		return err == EFAULT || err == ENOMEM || err == EAGAIN ?
		       REFUSED : -err;
	}
	dst = first;
	if (chance(p, 50) && !find_hole_for(p, ri, len, &dst))
		dst = first;
	if (mremap_to(tmp, len, page_at(r, dst)) == MAP_FAILED) {
		/* Unexpected; the pages go back where they were, if they can. */
		err = errno;
		if (dst != first && mremap_to(tmp, len, src) != MAP_FAILED)
			put_placeholder(page_at(r, dst), len);
		return -err;
	}
	if (dst != first) {
		err = put_placeholder(src, len);
		if (err)
			return err;
		move_shadow(r, first, dst, len);
	}
	verify_run(p, ri, dst, len, false);
	return DONE;
}

static int op_mprotect(struct proc *p)
{
	static const unsigned char prots[] = {
		PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_WRITE, PROT_READ, PROT_READ, PROT_READ,
		PROT_NONE, PROT_NONE,
	};
	unsigned char prot = prots[rnd(p, ARRAY_SIZE(prots))];
	size_t i, first, len;
	struct region *r;
	int ri;

	r = pick_run(p, &ri, &first, &len, 64);
	if (!r)
		return NOTHING;
	if (mprotect(page_at(r, first), len * PAGE, prot))
		return -errno;
	for (i = first; i < first + len; i++)
		if (is_mapped(r, i))
			r->prot[i] = prot;
	return DONE;
}

static int op_write(struct proc *p, enum kind kind)
{
	size_t first, len;
	struct region *r;
	int ri;

	r = pick_run(p, &ri, &first, &len, 64);
	if (!r)
		return NOTHING;
	return write_run(p, r, first, len, kind) ? DONE : NOTHING;
}

/*
 * Writes through /proc/self/mem, whatever the protection: a write into a
 * read-only page breaks copy-on-write as the debugger's would.
 */
static int op_write_mem(struct proc *p)
{
	size_t i, first, len, n = 0;
	struct region *r;
	int ri, err;

	r = pick_run(p, &ri, &first, &len, 4);
	if (!r)
		return NOTHING;
	err = open_mem(p);
	if (err)
		return err;
	for (i = first; i < first + len; i++) {
		u64 key = new_key(p, chance(p, 70) ? K_DUP : K_UNIQUE);
		ssize_t done;

		if (!is_mapped(r, i))
			continue;
		put_content(view_buf, key);
		done = pwrite(p->memfd, view_buf, PAGE,
			      (off_t)(uintptr_t)page_at(r, i));
		if (done == (ssize_t)PAGE) {
			set_key(r, i, key);
			n++;
			continue;
		}
		if (done < 0 && (errno == EFAULT || errno == EIO))
			return REFUSED;
		return done < 0 ? -errno : -EIO;
	}
	add(&sh->pages_written, n);
	return n ? DONE : NOTHING;
}

static int op_madvise(struct proc *p, int advice)
{
	size_t first, len;
	struct region *r;
	int ri, err;

	r = pick_run(p, &ri, &first, &len, 256);
	if (!r)
		return NOTHING;
	if (chance(p, 30)) {
		first = 0;
		len = r->npages;
		note(p, ri, first, len);
	}
	if (!madvise(page_at(r, first), len * PAGE, advice))
		return DONE;
	err = errno;
	if (advice != MADV_PAGEOUT)
		return merge_refusal(err);
	return err == EAGAIN || err == EINTR ? REFUSED : -err;
}

static int op_prctl(struct proc *p, bool on)
{
	if (p->merge_any == on)
		return NOTHING;
	note(p, -1, 0, 0);
	if (prctl(PR_SET_MEMORY_MERGE, on, 0, 0, 0))
		return merge_refusal(errno);
	p->merge_any = on;
	return DONE;
}

static int op_dontneed(struct proc *p)
{
	size_t i, first, len;
	struct region *r;
	int ri;

	r = pick_run(p, &ri, &first, &len, 64);
	if (!r)
		return NOTHING;
	if (madvise(page_at(r, first), len * PAGE, MADV_DONTNEED))
		return -errno;
	/* The pages read as zeros now, whatever the protection. */
	for (i = first; i < first + len; i++)
		if (is_mapped(r, i))
			set_key(r, i, 0);
	return DONE;
}

/* move_pages() of a run to random nodes, KSM pages included (MOVE_ALL). */
static int op_move_pages(struct proc *p)
{
	void *pages[64];
	int nodes[64], status[64];
	size_t i, first, len, n = 0;
	int ri, node = rnd(p, 3);
	struct region *r;
	long ret;

	if (!cfg.numa)
		return NOTHING;
	r = pick_run(p, &ri, &first, &len, 64);
	if (!r)
		return NOTHING;
	for (i = first; i < first + len && n < ARRAY_SIZE(pages); i++) {
		if (!is_mapped(r, i))
			continue;
		pages[n] = page_at(r, i);
		/* All to node 0, all to node 1, or each to either. */
		nodes[n] = node < 2 ? node : (int)rnd(p, 2);
		status[n++] = -1;
	}
	if (!n)
		return NOTHING;
	ret = syscall(__NR_move_pages, 0, n, pages, nodes, status,
		      chance(p, 70) ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE);
	if (ret < 0)
		return errno == ENOMEM || errno == EBUSY || errno == EAGAIN ?
		       REFUSED : -errno;
	for (i = 0; i < n; i++)
		if (status[i] == nodes[i])
			add(&sh->pages_placed, 1);
	return DONE;
}

static int claim_child_slot(void)
{
	int i, free_;

	for (i = 0; i < cfg.nprocs; i++) {
		free_ = 0;
		if (__atomic_compare_exchange_n(&sh->child_pid[i], &free_, -1,
						false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return i;
	}
	return -1;
}

/* Seconds of life at most: a share of the run, up to a cap. */
static unsigned long life_span(unsigned long share, unsigned long cap)
{
	return share < cap ? share : cap;
}

static void become_child(struct proc *p, int slot, u64 seed)
{
	double t = ksmt_now();

	p->rng.state = seed;
	p->child_slot = slot;
	__atomic_store_n(&sh->child_pid[slot], getpid(), __ATOMIC_RELAXED);
	p->depth++;
	snprintf(p->name, sizeof(p->name), "child %d (depth %d)",
		 (int)getpid(), p->depth);
	p->nkids = 0;
	p->nhist = 0;
	p->corrupt = false;
	p->newborn = true;
	p->bad_shown = 0;
	/* /proc/self/mem of the parent is the parent's memory. */
	if (p->memfd >= 0)
		close(p->memfd);
	p->memfd = -1;
	p->end = t + 0.5 + rnd(p, 1000 * life_span(cfg.seconds / 3 + 1,
						     CHILD_LIFE)) / 1000.0;
	p->next_verify = chance(p, 50) ? t : t + rnd(p, 2000) / 1000.0;
	p->quiet_until = 0;
	p->busy_until = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	add(&sh->children, 1);
}

/* fork(): the child carries on with a copy of everything, shadow too. */
static int op_fork(struct proc *p)
{
	int slot = claim_child_slot();
	u64 seed;
	pid_t pid;

	if (slot < 0)
		return NOTHING;
	note(p, -1, 0, 0);
	seed = ksmt_rand(&p->rng);
	pid = fork();
	if (pid < 0) {
		int err = errno;

		__atomic_store_n(&sh->child_pid[slot], 0, __ATOMIC_RELAXED);
		return err == EAGAIN || err == ENOMEM ? REFUSED : -err;
	}
	if (pid == 0) {
		become_child(p, slot, seed);
		return DONE;
	}
	__atomic_store_n(&sh->child_pid[slot], pid, __ATOMIC_RELAXED);
	p->nkids++;
	return DONE;
}

static int op_verify(struct proc *p)
{
	size_t first, len;
	int ri;

	if (!pick_run(p, &ri, &first, &len, 256))
		return NOTHING;
	verify_run(p, ri, first, len, chance(p, 20));
	return DONE;
}

static int op_nap(struct proc *p)
{
	note(p, -1, 0, 0);
	ksmt_nap_ms(1 + rnd(p, 20));
	return DONE;
}

static int dispatch(struct proc *p, enum op op)
{
	switch (op) {
	case OP_MMAP:
		return op_mmap(p);
	case OP_MMAP_FIXED:
		return op_mmap_fixed(p);
	case OP_MUNMAP:
		return op_munmap(p);
	case OP_MUNMAP_REGION:
		return op_munmap_region(p);
	case OP_MREMAP:
		return op_mremap(p);
	case OP_MPROTECT:
		return op_mprotect(p);
	case OP_WRITE_DUP:
		return op_write(p, K_DUP);
	case OP_WRITE_UNIQUE:
		return op_write(p, K_UNIQUE);
	case OP_WRITE_ZERO:
		return op_write(p, K_ZERO);
	case OP_REWRITE:
		return op_write(p, K_SAME);
	case OP_WRITE_MEM:
		return op_write_mem(p);
	case OP_MERGEABLE:
		return op_madvise(p, MADV_MERGEABLE);
	case OP_UNMERGEABLE:
		return op_madvise(p, MADV_UNMERGEABLE);
	case OP_PRCTL_ON:
		return op_prctl(p, true);
	case OP_PRCTL_OFF:
		return op_prctl(p, false);
	case OP_DONTNEED:
		return op_dontneed(p);
	case OP_PAGEOUT:
		return op_madvise(p, MADV_PAGEOUT);
	case OP_MOVE_PAGES:
		return op_move_pages(p);
	case OP_FORK:
		return op_fork(p);
	case OP_VERIFY:
		return op_verify(p);
	case OP_NAP:
		return op_nap(p);
	default:
		return NOTHING;
	}
}

static enum op pick_op(struct proc *p)
{
	unsigned int total = 0, pick;
	int op;

	for (op = 0; op < NR_OPS; op++)
		total += op_weight[op];
	pick = rnd(p, total);
	for (op = 0; op < NR_OPS; op++) {
		if (pick < op_weight[op])
			return op;
		pick -= op_weight[op];
	}
	return OP_NAP;
}

/* One random operation (a few tries to find one that applies). */
static void do_op(struct proc *p)
{
	int tries, ret = NOTHING;
	enum op op = OP_NAP;

	for (tries = 0; tries < 4 && ret == NOTHING; tries++) {
		/* Without a region, the only thing to do is to map one. */
		op = pick_region(p) < 0 ? OP_MMAP : pick_op(p);
		note(p, -1, 0, 0);
		ret = dispatch(p, op);
	}
	if (ret == NOTHING || p->newborn) {
		p->newborn = false;
		return;
	}
	p->cur.op = op;
	p->cur.ret = ret < 0 ? -1 : ret;
	p->hist[p->nhist++ % NR_HIST] = p->cur;
	add(&sh->ops[op], 1);
	if (ret == REFUSED)
		add(&sh->refused[op], 1);
	if (ret < 0 && p->status == ST_OK) {
		complain("FAIL: %s (pid %d): %s on region %d pages %zu+%zu: %s",
			 p->name, (int)getpid(), op_name[op], p->cur.r,
			 p->cur.first, p->cur.len, strerror(-ret));
		p->status = ST_ERROR;
	}
}

static const char *status_text(int code)
{
	switch (code) {
	case ST_CORRUPT:
		return "data corruption";
	case ST_ERROR:
		return "unexpected error";
	case ST_RANGE:
		return "counter out of range";
	case ST_IDLE:
		return "nothing merged";
	default:
		return "unknown failure";
	}
}

/* Who pid was, freeing its entry of the tables. */
static void forget_pid(pid_t pid, char *who, size_t len)
{
	int i, p = pid;

	snprintf(who, len, "process %d", (int)pid);
	if (__atomic_compare_exchange_n(&sh->ctl_pid, &p, 0, false,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		snprintf(who, len, "controller (pid %d)", (int)pid);
		return;
	}
	for (i = 0; i < cfg.nprocs; i++) {
		p = pid;
		if (__atomic_compare_exchange_n(&sh->worker_pid[i], &p, 0,
						false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			snprintf(who, len, "worker %d/%d (pid %d)", i,
				 sh->worker_gen[i], (int)pid);
			return;
		}
		p = pid;
		if (__atomic_compare_exchange_n(&sh->child_pid[i], &p, 0,
						false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			snprintf(who, len, "child (pid %d)", (int)pid);
			return;
		}
	}
}

/* Counts a reaped process as passed or failed. */
static void record_exit(pid_t pid, int status)
{
	char who[64];

	forget_pid(pid, who, sizeof(who));
	if (WIFEXITED(status) && WEXITSTATUS(status) == ST_OK) {
		add(&sh->passed, 1);
		return;
	}
	add(&sh->failed, 1);
	if (WIFSIGNALED(status))
		complain("FAIL: %s killed by signal %d (%s)%s", who,
			 WTERMSIG(status), strsignal(WTERMSIG(status)),
			 __atomic_load_n(&sh->killing, __ATOMIC_RELAXED) &&
			 WTERMSIG(status) == SIGKILL ?
			 ": it had not ended in time" : "");
	else
		complain("FAIL: %s exited with status %d (%s)", who,
			 WEXITSTATUS(status), status_text(WEXITSTATUS(status)));
}

/* Reaps the process's children; with wait, all of them, until limit. */
static void reap_kids(struct proc *p, bool wait, double limit)
{
	int status;
	pid_t pid;

	while (p->nkids > 0) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			record_exit(pid, status);
			p->nkids--;
			continue;
		}
		if (pid < 0 || !wait || ksmt_now() > limit)
			break;
		ksmt_nap_ms(10);
	}
}

/* ksm_stat of the process: no counter negative or absurdly large. */
static void check_stat(struct proc *p)
{
	const long limit = 8 * (long)cfg.budget + 65536;
	struct ksmt_stat st;
	int err = ksmt_read_stat(0, &st);

	if (err == -ENOENT)
		return;
	if (!err && st.rmap_items >= 0 && st.rmap_items <= limit &&
	    st.zero_pages >= 0 && st.zero_pages <= limit &&
	    st.merging_pages >= 0 && st.merging_pages <= limit)
		return;
	if (err)
		complain("FAIL: %s (pid %d): /proc/self/ksm_stat unreadable: %s",
			 p->name, (int)getpid(), strerror(-err));
	else
		complain("FAIL: %s (pid %d): ksm_stat out of range: %ld %ld %ld",
			 p->name, (int)getpid(), st.rmap_items,
			 st.zero_pages, st.merging_pages);
	p->status = ST_RANGE;
}

/* The end of a process: last verification, children, exit status. */
static __noreturn void proc_exit(struct proc *p)
{
	double t = ksmt_now();

	if (p->status == ST_OK) {
		verify_all(p);
		if (p->status == ST_OK)
			check_stat(p);
	}
	if (t < cfg.deadline && !stopping())
		add(&sh->ops[OP_EXIT], 1);
	/* Children still alive are left to the main process, now and then. */
	if (t >= cfg.deadline || stopping() || chance(p, 50))
		reap_kids(p, true, cfg.deadline + STOP_GRACE - 5);
	_exit(p->status);
}

/*
 * The life of a worker: busy phases of random operations alternate with
 * quiet ones in which ksmd can merge what stays put; everything is
 * verified every few seconds and at the end.
 */
static __noreturn void proc_main(struct proc *p)
{
	for (;;) {
		double t = ksmt_now();

		if (p->status != ST_OK || t >= p->end || t >= cfg.deadline ||
		    stopping())
			break;
		reap_kids(p, false, 0);
		if (t >= p->next_verify) {
			verify_all(p);
			p->next_verify = t + 1 + rnd(p, 2000) / 1000.0;
			continue;
		}
		if (t < p->quiet_until) {
			ksmt_nap_ms(20 + rnd(p, 60));
			if (chance(p, 20))
				do_op(p);
			continue;
		}
		if (t >= p->busy_until) {
			p->quiet_until = t + 0.5 + rnd(p, 3000) / 1000.0;
			p->busy_until = p->quiet_until + 0.2 +
					rnd(p, 1500) / 1000.0;
			continue;
		}
		do_op(p);
	}
	if (p->status != ST_OK)
		dump_history(p);
	proc_exit(p);
}

static __noreturn void worker_main(int slot, int gen)
{
	struct proc p;
	double t = ksmt_now();
	u64 seed = ksmt_mix(ksmt_mix(cfg.seed) ^ ((u64)slot << 32 | gen));

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	memset(&p, 0, sizeof(p));
	p.rng.state = seed;
	p.child_slot = -1;
	p.memfd = -1;
	snprintf(p.name, sizeof(p.name), "worker %d/%d", slot, gen);
	/* Some live through the run, most end before and are replaced. */
	p.end = t + 2 + rnd(&p, 1000 * life_span(cfg.seconds + cfg.seconds / 4,
						 WORKER_LIFE)) / 1000.0;
	p.next_verify = t + 1 + rnd(&p, 2000) / 1000.0;
	p.corrupt = cfg.corrupt && slot == 0 && gen == 0;
	add(&sh->workers, 1);
	if (op_mmap(&p) != DONE) {
		complain("FAIL: %s (pid %d): cannot map its first region",
			 p.name, (int)getpid());
		_exit(ST_ERROR);
	}
	proc_main(&p);
}

/* Starts worker slot (generation gen); false if fork() failed. */
static bool spawn_worker(int slot, int gen)
{
	pid_t pid = fork();

	if (pid < 0) {
		complain("FAIL: fork of worker %d: %s", slot, strerror(errno));
		return false;
	}
	if (pid == 0)
		worker_main(slot, gen);
	sh->worker_gen[slot] = gen;
	__atomic_store_n(&sh->worker_pid[slot], pid, __ATOMIC_RELAXED);
	return true;
}

/* The global counters as one line of text. */
static const char *counters_text(const struct ksmt_counters *c, char *buf,
				 size_t len)
{
	snprintf(buf, len,
		 "pages_shared %ld pages_sharing %ld pages_unshared %ld pages_volatile %ld ksm_zero_pages %ld general_profit %ld",
		 c->shared, c->sharing, c->unshared, c->volatile_,
		 c->zero_pages, c->general_profit);
	return buf;
}

/* Controller: a knob write; errors in busy[] are expected states. */
static bool ctl_write(enum ctl c, const char *knob, long val,
		      const int *busy, int nbusy)
{
	int i, err = ksmt_write_long(knob, val);

	if (!err) {
		add(&sh->ctl_done[c], 1);
		return true;
	}
	for (i = 0; i < nbusy; i++) {
		if (-err == busy[i]) {
			add(&sh->ctl_busy[c], 1);
			return false;
		}
	}
	complain("FAIL: controller: %s=%ld: %s", knob, val, strerror(-err));
	_exit(ST_ERROR);
}

static long read_or(const char *name, long dflt)
{
	long v;

	return ksmt_read_long(name, &v) ? dflt : v;
}

/*
 * Controller: the global counters, their peaks, and a sanity bound: no
 * more KSM mappings than all processes could ever have mapped (an
 * underflow shows as a huge value).
 */
static void ctl_sample(long *last_scans)
{
	const long limit = 8 * (2L * cfg.nprocs + 1) * (long)cfg.budget;
	struct ksmt_counters c;
	static double next_swap;
	char text[256];

	if (ksmt_read_counters(&c))
		_exit(ST_ERROR);
	raise_peak(&sh->peak.shared, c.shared);
	raise_peak(&sh->peak.sharing, c.sharing);
	raise_peak(&sh->peak.unshared, c.unshared);
	raise_peak(&sh->peak.zero_pages, c.zero_pages);
	raise_peak(&sh->peak.chains, read_or("stable_node_chains", 0));
	/* full_scans starts again at 0 after run=2. */
	add(&sh->scans, c.full_scans >= *last_scans ?
	    c.full_scans - *last_scans : c.full_scans);
	*last_scans = c.full_scans;
	if (cfg.swap && ksmt_now() >= next_swap) {
		long total = ksmt_meminfo("SwapTotal");
		long free_ = ksmt_meminfo("SwapFree");

		if (total >= 0 && free_ >= 0)
			raise_peak(&sh->peak.swap_kb, total - free_);
		next_swap = ksmt_now() + 2;
	}
	if (c.shared < 0 || c.shared > limit || c.sharing < 0 ||
	    c.sharing > limit || c.unshared < 0 || c.unshared > limit ||
	    c.zero_pages < 0 || c.zero_pages > limit) {
		complain("FAIL: controller: KSM counter out of range 0-%ld: %s",
			 limit, counters_text(&c, text, sizeof(text)));
		_exit(ST_RANGE);
	}
}

/* Controller: knobs that change only while no KSM page exists. */
static void ctl_layout_knob(struct ksmt_rng *rng, enum ctl c)
{
	static const int busy[] = { EBUSY, ENOMEM };
	static const long sharing[] = { 2, 3, 8, 256 };

	if (c == CTL_ACROSS_NODES) {
		if (ksmt_exists("merge_across_nodes"))
			ctl_write(c, "merge_across_nodes",
				  !read_or("merge_across_nodes", 1), busy,
				  ARRAY_SIZE(busy));
		return;
	}
	ctl_write(c, "max_page_sharing",
		  sharing[ksmt_rand_below(rng, ARRAY_SIZE(sharing))], busy,
		  ARRAY_SIZE(busy));
}

/* One random knob change of the controller; *run is its view of run. */
static void ctl_step(struct ksmt_rng *rng, long *run)
{
	static const int unmerge_busy[] = { EINTR, ENOMEM, EAGAIN };
	unsigned long r = ksmt_rand_below(rng, 100);

	if (*run != 1 && r < 60) {
		ctl_write(CTL_RUN1, "run", 1, NULL, 0);
		*run = 1;
	} else if (r < 10 && *run != 0) {
		ctl_write(CTL_RUN0, "run", 0, NULL, 0);
		*run = 0;
	} else if (r < 14 && *run != 2) {
		/* A failed unmerge leaves ksmd stopped. */
		*run = ctl_write(CTL_RUN2, "run", 2, unmerge_busy,
				 ARRAY_SIZE(unmerge_busy)) ? 2 : 0;
		/* Nothing merged for a moment: layout knobs may change. */
		if (*run == 2 && ksmt_rand_below(rng, 2))
			ctl_layout_knob(rng, ksmt_rand_below(rng, 2) ?
					CTL_ACROSS_NODES : CTL_MAX_SHARING);
	} else if (r < 24) {
		ctl_write(CTL_ZERO_PAGES, "use_zero_pages",
			  !read_or("use_zero_pages", 0), NULL, 0);
	} else if (r < 27) {
		ctl_layout_knob(rng, CTL_ACROSS_NODES);
	} else if (r < 30) {
		ctl_layout_knob(rng, CTL_MAX_SHARING);
	} else if (r < 33 && ksmt_exists("smart_scan")) {
		ctl_write(CTL_SMART_SCAN, "smart_scan",
			  !read_or("smart_scan", 0), NULL, 0);
	}
}

static __noreturn void controller_main(void)
{
	struct ksmt_rng rng = { .state = ksmt_mix(cfg.seed ^ 0xc0de) };
	long run = 1, scans = 0;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	while (ksmt_now() < cfg.deadline && !stopping()) {
		ksmt_nap_ms(50 + ksmt_rand_below(&rng, 250));
		ctl_sample(&scans);
		ctl_step(&rng, &run);
	}
	ctl_sample(&scans);
	/*
	 * A run that never merged anything has not tested much. Judged by
	 * ksmd's passes, not by time: a debug kernel under emulation may
	 * not finish three passes in a minute.
	 */
	if (peek(&sh->scans) >= MIN_SCANS && peek(&sh->peak.sharing) == 0) {
		complain("FAIL: controller: KSM merged nothing in %ld full scans",
			 peek(&sh->scans));
		_exit(ST_IDLE);
	}
	if (peek(&sh->scans) < MIN_SCANS)
		say("# merging not judged: ksmd made only %ld full scans",
		    peek(&sh->scans));
	_exit(ST_OK);
}

static bool spawn_controller(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		complain("FAIL: fork of the controller: %s", strerror(errno));
		return false;
	}
	if (pid == 0)
		controller_main();
	__atomic_store_n(&sh->ctl_pid, pid, __ATOMIC_RELAXED);
	return true;
}

/* Processes of the run not reaped yet, as the tables know them. */
static int live_processes(void)
{
	int i, n = !!__atomic_load_n(&sh->ctl_pid, __ATOMIC_RELAXED);

	for (i = 0; i < cfg.nprocs; i++) {
		n += !!__atomic_load_n(&sh->worker_pid[i], __ATOMIC_RELAXED);
		n += !!__atomic_load_n(&sh->child_pid[i], __ATOMIC_RELAXED);
	}
	return n;
}

/*
 * Main process: reaps its children and the orphans it inherits (it is
 * their subreaper), and replaces the workers that end while there is
 * time left.
 */
static void reap_main(bool respawn)
{
	int status, slot;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (slot = 0; slot < cfg.nprocs; slot++)
			if (__atomic_load_n(&sh->worker_pid[slot],
					    __ATOMIC_RELAXED) == pid)
				break;
		record_exit(pid, status);
		if (respawn && slot < cfg.nprocs &&
		    ksmt_now() < cfg.deadline - 3)
			spawn_worker(slot, sh->worker_gen[slot] + 1);
	}
}

static long total_ops(void)
{
	long n = 0;
	int op;

	for (op = 0; op < NR_OPS; op++)
		n += peek(&sh->ops[op]);
	return n;
}

static void progress(double t)
{
	struct ksmt_counters c;

	if (ksmt_read_counters(&c))
		return;
	say("# %3.0f s: %d processes, %ld ops; shared %ld sharing %ld zero %ld",
	    t - cfg.start, live_processes(), total_ops(), c.shared, c.sharing,
	    c.zero_pages);
}

static void on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&stop_requested, 1, __ATOMIC_RELAXED);
}

/* The run itself, up to the deadline; the counters then in *end. */
static void supervise(struct ksmt_counters *end)
{
	double next = cfg.start + 10, t;

	while ((t = ksmt_now()) < cfg.deadline &&
	       !__atomic_load_n(&stop_requested, __ATOMIC_RELAXED)) {
		reap_main(true);
		if (t >= next) {
			progress(t);
			next += 10;
		}
		ksmt_nap_ms(50);
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	ksmt_read_counters(end);
}

static void kill_tables(void)
{
	int i, pid;

	pid = __atomic_load_n(&sh->ctl_pid, __ATOMIC_RELAXED);
	if (pid > 0)
		kill(pid, SIGKILL);
	for (i = 0; i < cfg.nprocs; i++) {
		pid = __atomic_load_n(&sh->worker_pid[i], __ATOMIC_RELAXED);
		if (pid > 0)
			kill(pid, SIGKILL);
		pid = __atomic_load_n(&sh->child_pid[i], __ATOMIC_RELAXED);
		if (pid > 0)
			kill(pid, SIGKILL);
	}
}

/*
 * After the deadline: every process verifies and exits by itself within
 * STOP_GRACE s, or is killed (and counted as failed). Returns the number
 * of processes that could not even be reaped.
 */
static int wind_down(void)
{
	double limit = ksmt_now() + STOP_GRACE;
	int left;

	while (live_processes() && ksmt_now() < limit) {
		reap_main(false);
		ksmt_nap_ms(50);
	}
	if (!live_processes())
		return 0;
	__atomic_store_n(&sh->killing, 1, __ATOMIC_RELAXED);
	complain("FAIL: %d processes had not ended %d s after the end; killing them",
		 live_processes(), STOP_GRACE);
	limit = ksmt_now() + KILL_GRACE;
	while (live_processes() && ksmt_now() < limit) {
		kill_tables();
		reap_main(false);
		ksmt_nap_ms(50);
	}
	left = live_processes();
	if (left)
		complain("FAIL: %d processes could not be reaped (stuck in the kernel?)",
			 left);
	return left;
}

static bool all_zero(const struct ksmt_counters *c)
{
	return !c->shared && !c->sharing && !c->unshared && !c->volatile_ &&
	       !c->zero_pages && !c->general_profit;
}

/* Waits up to seconds s for every global counter to be zero. */
static bool wait_all_zero(struct ksmt_counters *c, int seconds)
{
	double limit = ksmt_now() + seconds;

	do {
		if (ksmt_read_counters(c))
			return false;
		if (all_zero(c))
			return true;
		ksmt_nap_ms(100);
	} while (ksmt_now() < limit);
	return false;
}

/*
 * With every process gone, nothing may be left: ksmd (run=1) lets go of
 * what the exited processes had within DRAIN_WAIT s, and then run=2
 * leaves pages_shared, pages_sharing, pages_unshared, pages_volatile,
 * ksm_zero_pages and general_profit all zero.
 */
static bool final_counters_zero(struct ksmt_counters *c)
{
	bool ok = true;
	char text[256];
	long objects;
	int err;

	err = ksmt_run(1);
	if (err || !wait_all_zero(c, DRAIN_WAIT)) {
		complain("FAIL: %d s after all processes exited, with run=1: %s",
			 DRAIN_WAIT, counters_text(c, text, sizeof(text)));
		ok = false;
	}
	err = ksmt_run(0);
	if (!err)
		err = ksmt_run(2);
	if (err) {
		complain("FAIL: final run=2: %s", strerror(-err));
		return false;
	}
	if (!wait_all_zero(c, ZERO_WAIT)) {
		complain("FAIL: after all processes exited and run=2: %s",
			 counters_text(c, text, sizeof(text)));
		ok = false;
	}
	/* With every counter at zero, not one KSM page may be left. */
	err = ksmt_no_ksm_pages();
	if (err) {
		complain("FAIL: a KSM page outlived every process: max_page_sharing: %s",
			 strerror(-err));
		ok = false;
	}
	/* Nor a node, an item or a slot in KSM's slab caches. */
	objects = ksmt_ksm_objects(true);
	if (objects == -ENOENT || objects == -EXDEV) {
		say("# KSM's slab caches not counted: %s (slab_nomerge?)",
		    strerror(-objects));
	} else if (objects) {
		complain("FAIL: %ld objects left in KSM's slab caches", objects);
		ok = false;
	}
	return ok;
}

static void print_ops(void)
{
	int op;

	say("# operations (all processes):");
	for (op = 0; op < NR_OPS; op++) {
		long refused = peek(&sh->refused[op]);

		if (refused)
			say("#   %-18s %ld (%ld refused)", op_name[op],
			    peek(&sh->ops[op]), refused);
		else
			say("#   %-18s %ld", op_name[op], peek(&sh->ops[op]));
	}
	say("#   pages written %ld, pages verified %ld, pages placed by move_pages %ld",
	    peek(&sh->pages_written), peek(&sh->pages_verified),
	    peek(&sh->pages_placed));
	say("# controller writes:");
	for (op = 0; op < NR_CTL; op++)
		say("#   %-18s %ld (%ld busy)", ctl_name[op],
		    peek(&sh->ctl_done[op]), peek(&sh->ctl_busy[op]));
}

static void print_ksm(const struct ksmt_counters *end,
		      const struct ksmt_counters *exited)
{
	const struct peaks *pk = &sh->peak;
	char text[256];

	say("# KSM peaks: pages_shared %ld pages_sharing %ld pages_unshared %ld",
	    pk->shared, pk->sharing, pk->unshared);
	say("#   ksm_zero_pages %ld stable_node_chains %ld; swap used %ld kB",
	    pk->zero_pages, pk->chains, pk->swap_kb);
	say("# KSM at the end of the run: %s",
	    counters_text(end, text, sizeof(text)));
	say("# KSM once all had exited: %s",
	    counters_text(exited, text, sizeof(text)));
	say("#   full scans in the run: %ld", peek(&sh->scans));
}

static void bad_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-d seconds] [-p workers] [-m MiB] [-s seed]\n"
		"  -d  how long the run lasts (60)\n"
		"  -p  worker processes, 1-%d (6); each may fork a child\n"
		"  -m  MiB each process maps at most, 1-64 (16)\n"
		"  -s  seed of the random choices (printed when not given)\n",
		prog, MAX_WORKERS);
	exit(KSFT_FAIL);
}

static long parse_num(const char *arg, long lo, long hi, const char *prog)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 0);
	if (errno || *end || v < lo || v > hi)
		bad_usage(prog);
	return v;
}

static void parse_args(int argc, char **argv)
{
	bool seeded = false;
	int opt;

	cfg.seconds = 60;
	cfg.nprocs = 6;
	cfg.mib = 16;
	/* -X is undocumented: it makes the run fail on purpose. */
	while ((opt = getopt(argc, argv, "d:p:m:s:X")) != -1) {
		switch (opt) {
		case 'd':
			cfg.seconds = parse_num(optarg, 1, 86400, argv[0]);
			break;
		case 'p':
			cfg.nprocs = parse_num(optarg, 1, MAX_WORKERS, argv[0]);
			break;
		case 'm':
			cfg.mib = parse_num(optarg, 1, 64, argv[0]);
			break;
		case 's':
			errno = 0;
			cfg.seed = strtoull(optarg, NULL, 0);
			if (errno)
				bad_usage(argv[0]);
			seeded = true;
			break;
		case 'X':
			cfg.corrupt = true;
			break;
		default:
			bad_usage(argv[0]);
		}
	}
	if (optind != argc)
		bad_usage(argv[0]);
	if (!seeded)
		cfg.seed = ksmt_mix((u64)time(NULL) << 20 ^ getpid());
	cfg.budget = (size_t)cfg.mib << 20 >> 12;
}

/*
 * KSM at full speed from a clean start: run=2 first, then nothing may
 * be merged anywhere. Returns false (having said why) if not.
 */
static bool setup_ksm(void)
{
	struct ksmt_counters c;
	char text[256];
	int err;

	err = ksmt_reset();
	if (!err)
		err = ksmt_write_long("pages_to_scan", 4096);
	if (!err)
		err = ksmt_write_long("sleep_millisecs", 0);
	if (err) {
		complain("FAIL: setting up KSM: %s", strerror(-err));
		return false;
	}
	if (wait_all_zero(&c, ZERO_WAIT))
		return true;
	complain("FAIL: KSM not idle after run=2 at the start: %s",
		 counters_text(&c, text, sizeof(text)));
	return false;
}

static struct shared *map_shared(void)
{
	void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Starts the controller and the workers; false if one did not start. */
static bool start_processes(void)
{
	int i;

	if (!spawn_controller())
		return false;
	for (i = 0; i < cfg.nprocs; i++)
		if (!spawn_worker(i, 0))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	struct ksmt_counters end = { 0 }, exited = { 0 }, last;
	struct ksmt_zram_swap zram = { 0 };
	struct shared local = { 0 };
	bool final_ok = true;
	const char *no_swap;
	long passed, failed;
	int err;

	sh = &local;
	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!ksmt_available()) {
		say("# SKIP: no KSM (/sys/kernel/mm/ksm missing) or not root");
		return KSFT_SKIP;
	}
	sh = map_shared();
	if (!sh) {
		sh = &local;
		complain("FAIL: shared memory: %s", strerror(errno));
		return KSFT_FAIL;
	}
	cfg.numa = ksmt_have_node1();
	no_swap = ksmt_zram_swap_on(&zram, SWAP_SIZE);
	cfg.swap = !no_swap;
	say("# ksm_stress: seed %#llx, %d s, %d workers of %d MiB, swap %s, NUMA nodes %d",
	    (unsigned long long)cfg.seed, cfg.seconds, cfg.nprocs, cfg.mib,
	    no_swap ? no_swap : "zram0 " SWAP_SIZE, cfg.numa ? 2 : 1);
	if (no_swap)
		ksmt_zram_swap_down(&zram);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	cfg.start = ksmt_now();
	cfg.deadline = cfg.start + cfg.seconds;
	if (!setup_ksm() || ksmt_run(1) || !start_processes()) {
		final_ok = false;
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	} else {
		supervise(&end);
	}
	if (wind_down())
		add(&sh->failed, live_processes());
	if (!ksmt_read_counters(&last))
		exited = last;
	if (final_ok && !final_counters_zero(&last))
		final_ok = false;
	err = ksmt_restore_knobs();
	if (err) {
		complain("FAIL: %d knobs could not be restored", err);
		final_ok = false;
	}
	err = ksmt_zram_swap_down(&zram);
	if (err) {
		complain("FAIL: taking zram0 swap down: %s", strerror(-err));
		final_ok = false;
	}

	print_ops();
	print_ksm(&end, &exited);
	say("# final check (nothing left with run=1 nor run=2, knobs and swap restored): %s",
	    final_ok ? "ok" : "FAILED");
	say("# %ld workers and %ld children ran; duration %.1f s; seed %#llx",
	    peek(&sh->workers), peek(&sh->children), ksmt_now() - cfg.start,
	    (unsigned long long)cfg.seed);
	passed = peek(&sh->passed) + final_ok;
	failed = peek(&sh->failed) + !final_ok;
	say("%ld passed, %ld failed", passed, failed);
	return failed ? KSFT_FAIL : KSFT_PASS;
}
