// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress: the operations a worker process does at random.
 *
 * mmap (new regions and MAP_FIXED over holes), munmap of runs and of
 * regions, mremap out and back, mprotect, writes of duplicate, unique and
 * zero contents (directly and through /proc/self/mem), MADV_MERGEABLE,
 * MADV_UNMERGEABLE, PR_SET_MEMORY_MERGE, MADV_DONTNEED, MADV_PAGEOUT,
 * move_pages(), verifying a run and napping; each keeps the shadow in
 * step, and fork(), after which the child carries on with a copy of
 * everything, shadow too. Then dispatch(), the weighted choice of an
 * operation and do_op(), which does one and counts and reports what it
 * came to.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/mempolicy.h>

#include "lib/ksm_util.h"
#include "ksm_stress.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif

const char *const op_name[NR_OPS] = {
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
int op_mmap(struct proc *p)
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
void do_op(struct proc *p)
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
