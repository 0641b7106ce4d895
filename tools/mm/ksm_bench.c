// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_bench - the workloads of 'make bench' (scripts/bench.sh), run inside
 * the benchmark VM by scripts/vm/bench-plan.sh, one workload per call.
 *
 * Every workload first puts the KSM knobs in the same state (run=2 to drop
 * what an earlier workload left, then the values of set_knobs()), builds
 * its memory with the kselftest helpers (tools/testing/selftests/mm/lib/,
 * ksm_util.h: deterministic page contents, holder processes, the model of
 * what a set of pages merges into), measures, and checks at the end that
 * no process found its data changed. Output, one item per line:
 *
 *   KNOB <name> <value>           a knob as the workload set it
 *   BENCH <metric> <value>        a figure; scripts/bench_report.py knows
 *                                 each metric's unit and direction
 *   INFO <key> <value>            context: sizes, expectations, raw times
 *   SERIES <s> <pages_sharing> <ksmd_cpu_s>   'mixed' over time
 *   FAIL <reason>                 the workload failed (exit status 1)
 *
 * ksmd's CPU time is utime + stime of the ksmd kernel thread from
 * /proc/<pid>/stat, in clock ticks (USER_HZ).
 *
 * Usage: ksm_bench [-p pages_to_scan] [-n procs] [-m MiB] [-t seconds]
 *                  [-s scans] [-d dirty%] [-r rounds] [-z 0|1] [-g stride]
 *                  [-k key] [-S merge_scope] [-c cgroup]... WORKLOAD
 * WORKLOAD is one of: knobs merge scan mixed cow unmerge copies zero sparse
 * guests (see usage()).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksm_util.h"
#include "ksmd_proc.h"

#define MAX_PROCS		8
#define PAGES_PER_MIB		(1024 * 1024 / KSMT_PAGE_SIZE)
/* How often the waits look at the counters. */
#define POLL_MS			5
/* 'mixed': one SERIES line per this many seconds. */
#define SAMPLE_S		0.25
/* 'mixed': the writer rewrites its hot pages in this many slices a second. */
#define WRITER_SLICES		10
/* 'mixed': full scans after reaching 95%, before the final readings. */
#define SETTLE_SCANS		3
/* 'guests': sampling interval, samples kept, full scans to call it final. */
#define GUEST_SAMPLE_MS		250
#define GUEST_MAX_SAMPLES	4096
#define GUEST_STABLE_SCANS	2
#define GUEST_STABLE_S		3.0
/* 'guests': the final count is read this long after run=1, or once calm. */
#define GUEST_FINAL_S		15.0
/* 'cow': most rounds in one run. */
#define MAX_ROUNDS		9
/* 'scan': passes over the pages for the hashing floor. */
#define FLOOR_PASSES		3
#define FLOOR_MAX_MIB		256
/* 'merge': the most MiB its floor reads (two copies of them are mapped). */
#define MERGE_FLOOR_MAX_MIB	64
/* 'sparse': least ksmd CPU time measured, s (its clock ticks 10 ms). */
#define SPARSE_MIN_CPU_S	0.5

/* Name spaces of the page contents, one per workload. */
#define NS_MERGE		0x6d65726765ULL
#define NS_SCAN			0x7363616eULL
#define NS_MIXED		0x6d69786564ULL
#define NS_WRITER		0x7772697465ULL
#define NS_COW			0x636f77ULL
#define NS_UNMERGE		0x756e6d657267ULL
#define NS_COPIES		0x636f70696573ULL
#define NS_SPARSE		0x737061727365ULL

#define MAX_CGROUPS		4

struct bench_opts {
	long pages_to_scan;
	int procs;		/* processes of the workload */
	long mib;		/* MiB each process maps */
	int limit_s;		/* longest wait for ksmd */
	int scans;		/* 'scan': full scans measured */
	int dirty_pct;		/* 'mixed': writer's pages dirtied a second */
	int rounds;		/* 'cow': rounds, each with its control */
	int zero;		/* 'copies': -1, or zero with use_zero_pages */
	int stride;		/* 'sparse': one page mapped in this many */
	const char *key;	/* 'merge', 'scan': key of the figures */
	const char *scope;	/* merge_scope to run under, or NULL: global */
	int ncgroups;		/* 'guests': cgroups whose memory.ksm_stat */
	const char *cgroup[MAX_CGROUPS];	/* is printed at the end */
};

/* Processes that each hold one layout; [0] may be held by someone else. */
struct bench_group {
	int n;
	struct ksmt_layout layout[MAX_PROCS];
	struct ksmt_chan ch[MAX_PROCS];
	pid_t pid[MAX_PROCS];
};

static pid_t ksmd_pid;

/* "KIND key value", the key being workload.field if field is set. */
static void vsay(const char *kind, const char *key, const char *field,
		 const char *fmt, va_list ap)
{
	printf("%s %s%s%s ", kind, key, field ? "." : "", field ? field : "");
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

static void say(const char *kind, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(kind, key, NULL, fmt, ap);
	va_end(ap);
}

static void say_of(const char *kind, const char *workload, const char *field,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(kind, workload, field, fmt, ap);
	va_end(ap);
}

static int fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return -1;
}

static size_t mib_to_pages(long mib)
{
	return (size_t)mib * PAGES_PER_MIB;
}

/* TLB shootdown interrupts received by all CPUs so far, or -1. */
static long long tlb_shootdowns(void)
{
	char line[1024], *p, *end;
	long long sum = -1, n;
	FILE *f;

	f = fopen("/proc/interrupts", "r");
	if (!f)
		return -1;
	while (sum < 0 && fgets(line, sizeof(line), f)) {
		p = strstr(line, "TLB:");
		if (!p)
			continue;
		sum = 0;
		for (p += 4; (n = strtoll(p, &end, 10)), end != p; p = end)
			sum += n;
	}
	fclose(f);
	return sum;
}

/* CPU seconds ksmd has used (utime + stime), or -1. */
static double ksmd_cpu_s(void)
{
	long long ticks = ksmd_proc_cpu_ticks(ksmd_pid);

	return ticks < 0 ? -1 : (double)ticks / sysconf(_SC_CLK_TCK);
}

/*
 * The knobs every workload starts from, the same on both kernels: a clean
 * start (ksmt_reset(): run=2, no advisor, merge_across_nodes=1,
 * max_page_sharing=256, use_zero_pages=0), then smart_scan and the chain
 * pruning interval at their defaults, ksmd without sleeps, scanning
 * pages_to_scan pages per batch, and stopped (run=0) until the workload
 * is in place.
 */
static int set_knobs(const struct bench_opts *o)
{
	static const char * const shown[] = {
		"advisor_mode", "max_page_sharing", "merge_across_nodes",
		"use_zero_pages", "smart_scan",
		"stable_node_chains_prune_millisecs", "sleep_millisecs",
		"pages_to_scan", "run",
	};
	char val[64];
	unsigned int i;
	int err;

	err = ksmt_reset();
	if (!err && ksmt_exists("smart_scan"))
		err = ksmt_write("smart_scan", "1");
	if (!err && ksmt_exists("stable_node_chains_prune_millisecs"))
		err = ksmt_write("stable_node_chains_prune_millisecs", "2000");
	if (!err)
		err = ksmt_write_long("sleep_millisecs", 0);
	if (!err)
		err = ksmt_write_long("pages_to_scan", o->pages_to_scan);
	if (!err)
		err = ksmt_run(0);
	/* After the reset, which puts merge_scope back to global. */
	if (!err && o->scope) {
		err = ksmt_write("merge_scope", o->scope);
		if (!err)
			say("INFO", "merge_scope", "%s", o->scope);
	}
	if (err)
		return fail("setting the knobs: %s", strerror(-err));
	for (i = 0; i < ARRAY_SIZE(shown); i++)
		if (!ksmt_read_str(shown[i], val, sizeof(val)))
			say("KNOB", shown[i], "%s", val);
	return 0;
}

/* Polls a counter until it is at least @want; 0, or -1 at @deadline. */
static int wait_at_least(const char *name, long want, double deadline,
			 long *got)
{
	for (;;) {
		if (ksmt_read_long(name, got))
			return fail("reading %s", name);
		if (*got >= want)
			return 0;
		if (ksmt_now() > deadline)
			return -1;
		ksmt_nap_ms(POLL_MS);
	}
}

/* Waits for the next full scan to end; its full_scans value in *scans. */
static int wait_scan_end(double deadline, long *scans)
{
	long from;

	if (ksmt_read_long("full_scans", &from))
		return fail("reading full_scans");
	return wait_at_least("full_scans", from + 1, deadline, scans);
}

/*
 * Layouts for n processes: each has ngroups x per_group pages with
 * contents its peers share (the same group name space for all), nunique
 * pages of its own and nzero zero-filled pages, shuffled differently in
 * each.
 */
static int group_init(struct bench_group *g, int n, int ngroups,
		      int per_group, int nunique, int nzero, u64 ns)
{
	int i;

	memset(g, 0, sizeof(*g));
	if (n < 1 || n > MAX_PROCS)
		return fail("between 1 and %d processes, not %d", MAX_PROCS, n);
	g->n = n;
	for (i = 0; i < n; i++) {
		g->pid[i] = -1;
		if (ksmt_layout_init(&g->layout[i], ngroups, per_group,
				     nunique, nzero, ns, ns + 1000 + i,
				     ns * 31 + i))
			return fail("no memory for the layouts");
	}
	return 0;
}

/* Forks a holder for each layout from @first on; they fill their memory. */
static int group_spawn(struct bench_group *g, int first)
{
	struct ksmt_layout *l;
	int i;

	for (i = first; i < g->n; i++) {
		l = &g->layout[i];
		g->pid[i] = ksmt_spawn_holder(&g->ch[i], &l, 1);
		if (g->pid[i] < 0)
			return fail("starting holder %d: %s", i,
				    strerror((int)-g->pid[i]));
	}
	return 0;
}

static int group_expect(struct bench_group *g, struct ksmt_expect *e)
{
	struct ksmt_layout *ls[MAX_PROCS];
	int i;

	for (i = 0; i < g->n; i++)
		ls[i] = &g->layout[i];
	if (ksmt_expect_layouts(ls, g->n, false, false, e, NULL))
		return fail("no memory for the expectation");
	return 0;
}

/* Asks the holders to check their data and exit: 0 if all were intact. */
static int group_stop(struct bench_group *g)
{
	int i, status, bad = 0;

	for (i = 0; i < g->n; i++) {
		if (g->pid[i] <= 0)
			continue;
		ksmt_send(g->ch[i].down[1], 'q');
		status = ksmt_waitpid(g->pid[i], 120);
		if (status < 0) {
			ksmt_kill(g->pid[i]);
			bad++;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			bad++;
		}
		ksmt_chan_close(&g->ch[i]);
		g->pid[i] = -1;
	}
	for (i = 0; i < g->n; i++)
		ksmt_layout_free(&g->layout[i]);
	if (bad)
		return fail("%d process(es) found their data changed", bad);
	return 0;
}

/*
 * Starts ksmd and waits until pages_sharing is @want; the wall and ksmd
 * CPU seconds it took in *wall and *cpu. Leaves ksmd running.
 */
static int merge_until(long want, int limit_s, double *wall, double *cpu)
{
	double c0 = ksmd_cpu_s(), t0 = ksmt_now();
	long got;

	if (ksmt_run(1))
		return fail("run=1");
	if (wait_at_least("pages_sharing", want, t0 + limit_s, &got))
		return fail("pages_sharing %ld after %d s, want %ld", got,
			    limit_s, want);
	*wall = ksmt_now() - t0;
	*cpu = ksmd_cpu_s() - c0;
	if (got != want)
		return fail("pages_sharing %ld, more than the %ld possible",
			    got, want);
	return 0;
}

static int page_floors(const struct ksmt_layout *l, const char *key,
		       long max_mib, double *hash, double *cmp);

/*
 * 1. Merge throughput: procs processes whose every page has one twin in
 * each of the others. Wall and ksmd CPU time from run=1 until
 * pages_sharing is exactly what the layout gives; MiB merged is all the
 * mergeable memory (every page ends up mapping a KSM page).
 *
 * Then its floor: the least reading of pages that merging this layout
 * takes under the rules both kernels keep. A page merges only once its
 * content is known steady (hashed at an earlier look, and found the same
 * at this one), and only after a compare with the page it shares. So of
 * the procs copies of each content, each is hashed once; the one kept is
 * hashed again when it is merged; the procs - 1 others are each compared
 * with it, which also tells they did not change. Per page of the layout
 * that is (procs + 1) / procs hashes and (procs - 1) / procs compares,
 * timed here in user space (page_floors()). The ratio of ksmd's CPU time
 * per page to it is how far each kernel is from that floor.
 */
static int bench_merge(const struct bench_opts *o)
{
	size_t pages = mib_to_pages(o->mib);
	struct bench_group g = { 0 };
	struct ksmt_expect e;
	double wall, cpu, mib = (double)o->procs * o->mib;
	double cost, hash, cmp, floor;
	const char *key = o->key ? o->key : "merge";
	long scans;
	int err = -1;

	if (set_knobs(o) ||
	    group_init(&g, o->procs, pages, 1, 0, 0, NS_MERGE) ||
	    group_spawn(&g, 0) || group_expect(&g, &e))
		goto out;
	say_of("INFO", key, "expected_sharing", "%ld", e.sharing);
	if (merge_until(e.sharing, o->limit_s, &wall, &cpu))
		goto out;
	if (!ksmt_read_long("full_scans", &scans))
		say_of("INFO", key, "full_scans", "%ld", scans);
	ksmt_run(0);
	say_of("INFO", key, "mib", "%.0f", mib);
	say_of("INFO", key, "wall_s", "%.3f", wall);
	say_of("INFO", key, "ksmd_cpu_s", "%.3f", cpu);
	say_of("BENCH", key, "mib_per_wall_s", "%.3f", mib / wall);
	if (cpu <= 0) {
		fail("ksmd used no measurable CPU time");
		goto out;
	}
	cost = cpu / (pages * o->procs / 1e6);
	say_of("BENCH", key, "mib_per_cpu_s", "%.3f", mib / cpu);
	say_of("BENCH", key, "cpu_s_per_mpages", "%.4f", cost);
	if (page_floors(&g.layout[0], key, MERGE_FLOOR_MAX_MIB, &hash, &cmp)) {
		fail("no memory or no CPU time for the merging floor");
		goto out;
	}
	floor = (hash * (o->procs + 1) + cmp * (o->procs - 1)) / o->procs;
	say_of("INFO", key, "floor_hash_cpu_s_per_mpages", "%.4f", hash);
	say_of("INFO", key, "floor_compare_cpu_s_per_mpages", "%.4f", cmp);
	say_of("BENCH", key, "floor_cpu_s_per_mpages", "%.4f", floor);
	say_of("BENCH", key, "cost_over_floor", "%.2f", cost / floor);
	err = 0;
out:
	if (group_stop(&g))
		err = -1;
	return err;
}

/*
 * The floor of the scan cost: what reading a page and hashing it costs,
 * with the algorithm both kernels checksum pages with (XXH64, seed 0, as
 * the kernel's xxhash() computes it on 64-bit), here in user space.
 */
#define XXH_P1	0x9e3779b185ebca87ULL
#define XXH_P2	0xc2b2ae3d27d4eb4fULL
#define XXH_P3	0x165667b19e3779f9ULL
#define XXH_P4	0x85ebca77c2b2ae63ULL
#define XXH_P5	0x27d4eb2f165667c5ULL

static inline u64 rotl64(u64 x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline u64 xxh_round(u64 acc, u64 in)
{
	return rotl64(acc + in * XXH_P2, 31) * XXH_P1;
}

static inline u64 xxh_merge(u64 h, u64 v)
{
	return (h ^ xxh_round(0, v)) * XXH_P1 + XXH_P4;
}

static u64 xxh64(const void *buf, size_t len)
{
	const unsigned char *p = buf, *end = p + len;
	u64 h, v1, v2, v3, v4, w;
	u32 w4;

	if (len >= 32) {
		v1 = XXH_P1 + XXH_P2;
		v2 = XXH_P2;
		v3 = 0;
		v4 = -XXH_P1;
		for (; p + 32 <= end; p += 32) {
			memcpy(&w, p, 8);
			v1 = xxh_round(v1, w);
			memcpy(&w, p + 8, 8);
			v2 = xxh_round(v2, w);
			memcpy(&w, p + 16, 8);
			v3 = xxh_round(v3, w);
			memcpy(&w, p + 24, 8);
			v4 = xxh_round(v4, w);
		}
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) +
		    rotl64(v4, 18);
		h = xxh_merge(xxh_merge(xxh_merge(xxh_merge(h, v1), v2), v3),
			      v4);
	} else {
		h = XXH_P5;
	}
	h += len;
	for (; p + 8 <= end; p += 8) {
		memcpy(&w, p, 8);
		h = rotl64(h ^ xxh_round(0, w), 27) * XXH_P1 + XXH_P4;
	}
	if (p + 4 <= end) {
		memcpy(&w4, p, 4);
		h = rotl64(h ^ (w4 * XXH_P1), 23) * XXH_P2 + XXH_P3;
		p += 4;
	}
	for (; p < end; p++)
		h = rotl64(h ^ (*p * XXH_P5), 11) * XXH_P1;
	h ^= h >> 33;
	h *= XXH_P2;
	h ^= h >> 29;
	h *= XXH_P3;
	return h ^ (h >> 32);
}

/* This process's CPU seconds. */
static double own_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Whether two pages hold the same bytes, a word at a time to the first
 * difference: what a kernel's page compare does (lib/string.c memcmp()
 * on 64-bit), not the C library's vector code.
 */
static bool same_words(const char *a, const char *b, size_t page_size)
{
	const u64 *pa = (const u64 *)a, *pb = (const u64 *)b;
	size_t i;

	for (i = 0; i < page_size / sizeof(u64); i++)
		if (pa[i] != pb[i])
			return false;
	return true;
}

/*
 * CPU seconds per million pages to hash each of the n pages at a once
 * or, if b is not NULL, to compare each with the page one place further
 * in b (b's first page for a's last): the fastest of FLOOR_PASSES passes
 * (the host only adds time). What was computed is added to *sum.
 *
 * Not the page at the same place: under QEMU's TCG, two pages a multiple
 * of its TLB's reach apart share its entry, and the compare of such a
 * pair took six times as long (14 us a page against 2.2 us), which the
 * random addresses of a kernel's two pages do not.
 */
static double floor_passes(const char *a, const char *b, size_t n, u64 *sum)
{
	size_t i, ps = KSMT_PAGE_SIZE;
	double best = -1, t;
	int pass;

	for (pass = 0; pass < FLOOR_PASSES; pass++) {
		t = own_cpu_s();
		for (i = 0; i < n; i++) {
			if (b)
				*sum += same_words(a + i * ps,
						   b + (i + 1) % n * ps, ps);
			else
				*sum += xxh64(a + i * ps, ps);
		}
		t = own_cpu_s() - t;
		if (best < 0 || t < best)
			best = t;
	}
	return best / (n / 1e6);
}

/*
 * The floors of layout l's pages (its first max_mib MiB, filled here), in
 * CPU seconds per million pages: to hash each (*hash) and, if cmp is not
 * NULL, to compare each with a copy of it (*cmp), which they all equal.
 * -1 if there was no memory for them.
 */
static int page_floors(const struct ksmt_layout *l, const char *key,
		       long max_mib, double *hash, double *cmp)
{
	struct ksmt_layout part;
	size_t n = l->npages;
	char *buf, *copy = NULL;
	u64 sum = 0;

	if (n > mib_to_pages(max_mib))
		n = mib_to_pages(max_mib);
	buf = ksmt_map(n);
	if (buf == MAP_FAILED)
		return -1;
	part = *l;
	part.npages = n;
	ksmt_layout_fill(&part, buf);
	*hash = floor_passes(buf, NULL, n, &sum);
	if (cmp) {
		copy = ksmt_map(n);
		if (copy == MAP_FAILED) {
			munmap(buf, n * KSMT_PAGE_SIZE);
			return -1;
		}
		memcpy(copy + KSMT_PAGE_SIZE, buf, (n - 1) * KSMT_PAGE_SIZE);
		memcpy(copy, buf + (n - 1) * KSMT_PAGE_SIZE, KSMT_PAGE_SIZE);
		*cmp = floor_passes(buf, copy, n, &sum);
		munmap(copy, n * KSMT_PAGE_SIZE);
	}
	munmap(buf, n * KSMT_PAGE_SIZE);
	/* Keeps the compiler from dropping the work. */
	say_of("INFO", key, "floor_checksum", "%llx", (unsigned long long)sum);
	return *hash > 0 && (!cmp || *cmp > 0) ? 0 : -1;
}

/* The floor of the scan cost: hashing each page once (page_floors()). */
static double hash_floor(const struct ksmt_layout *l, const char *key)
{
	double hash;

	return page_floors(l, key, FLOOR_MAX_MIB, &hash, NULL) ? -1 : hash;
}

/*
 * 2. Scan cost: one process of unique pages, nothing to merge. From the
 * end of a full scan, ksmd CPU over exactly o->scans more full scans,
 * per million pages scanned (the pages_scanned delta; pages smart_scan
 * skipped are not in it, their cost is). Then the floor of that cost, the
 * CPU time of reading and hashing the same pages here (hash_floor()), and
 * the scan cost as a multiple of it.
 */
static int bench_scan(const struct bench_opts *o)
{
	size_t pages = mib_to_pages(o->mib);
	double c0, c1, t0, deadline, cost, floor;
	long s0, s1, k0, k1, scans, sharing;
	const char *key = o->key ? o->key : "scan";
	struct bench_group g = { 0 };
	int err = -1;

	if (set_knobs(o) || group_init(&g, 1, 0, 1, pages, 0, NS_SCAN) ||
	    group_spawn(&g, 0))
		goto out;
	deadline = ksmt_now() + o->limit_s;
	if (ksmt_run(1) || wait_scan_end(deadline, &scans)) {
		fail("no full scan ended in %d s", o->limit_s);
		goto out;
	}
	c0 = ksmd_cpu_s();
	t0 = ksmt_now();
	if (ksmt_read_long("pages_scanned", &s0) ||
	    ksmt_read_long("pages_skipped", &k0))
		goto fail_read;
	if (wait_at_least("full_scans", scans + o->scans, deadline, &scans)) {
		fail("%d full scans took more than %d s", o->scans, o->limit_s);
		goto out;
	}
	c1 = ksmd_cpu_s();
	if (ksmt_read_long("pages_scanned", &s1) ||
	    ksmt_read_long("pages_skipped", &k1) ||
	    ksmt_read_long("pages_sharing", &sharing))
		goto fail_read;
	say_of("INFO", key, "wall_s", "%.3f", ksmt_now() - t0);
	ksmt_run(0);
	say_of("INFO", key, "pages", "%zu", pages);
	say_of("INFO", key, "full_scans", "%d", o->scans);
	say_of("INFO", key, "pages_scanned", "%ld", s1 - s0);
	say_of("INFO", key, "pages_skipped", "%ld", k1 - k0);
	say_of("INFO", key, "ksmd_cpu_s", "%.3f", c1 - c0);
	say_of("INFO", key, "pages_sharing", "%ld", sharing);
	if (s1 <= s0) {
		fail("pages_scanned did not move");
		goto out;
	}
	cost = (c1 - c0) / ((s1 - s0) / 1e6);
	say_of("BENCH", key, "cpu_s_per_mpages", "%.4f", cost);
	floor = hash_floor(&g.layout[0], key);
	if (floor <= 0) {
		fail("no memory or no CPU time for the hashing floor");
		goto out;
	}
	say_of("BENCH", key, "floor_cpu_s_per_mpages", "%.4f", floor);
	say_of("BENCH", key, "cost_over_floor", "%.2f", cost / floor);
	err = 0;
	goto out;
fail_read:
	fail("reading the scan counters");
out:
	ksmt_run(0);
	if (group_stop(&g))
		err = -1;
	return err;
}

/* 'mixed': page i of the writer is hot (rewritten every second). */
static bool is_hot(size_t i, int dirty_pct)
{
	return i % (100 / dirty_pct) == 0;
}

/* Gives the hot pages [from, to) of the writer new contents. */
static void dirty_hot(struct ksmt_layout *l, char *base, size_t from,
		      size_t to, int dirty_pct, u64 *gen)
{
	size_t i;

	for (i = from; i < to; i++)
		if (is_hot(i, dirty_pct))
			ksmt_layout_make_unique(l, base, i,
						ksmt_unique_key(NS_WRITER,
								(*gen)++));
}

/*
 * The writer of 'mixed', in its own process: fills its layout, dirties
 * its hot pages once, says 'r', then rewrites every hot page once a
 * second, a slice every 1/WRITER_SLICES s, until told to stop ('q' or
 * EOF); then it checks all its pages and exits 0 if they are intact.
 */
static void writer_main(struct ksmt_chan *ch, struct ksmt_layout *l,
			int dirty_pct)
{
	size_t n = l->npages, slice = 0;
	struct pollfd pfd = { .fd = ch->down[0], .events = POLLIN };
	double next;
	u64 gen = 0;
	char *base;
	int left;

	base = ksmt_layout_map(l);
	if (base == MAP_FAILED)
		_exit(2);
	dirty_hot(l, base, 0, n, dirty_pct, &gen);
	if (ksmt_send(ch->up[1], 'r'))
		_exit(2);
	next = ksmt_now();
	for (;;) {
		dirty_hot(l, base, n * slice / WRITER_SLICES,
			  n * (slice + 1) / WRITER_SLICES, dirty_pct, &gen);
		slice = (slice + 1) % WRITER_SLICES;
		next += 1.0 / WRITER_SLICES;
		left = (int)((next - ksmt_now()) * 1000);
		if (poll(&pfd, 1, left > 0 ? left : 0) > 0)
			break;
	}
	_exit(ksmt_layout_check(l, base) < 0 ? 0 : 1);
}

static pid_t spawn_writer(struct ksmt_chan *ch, struct ksmt_layout *l,
			  int dirty_pct)
{
	pid_t pid;
	char c;

	if (ksmt_chan_open(ch))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		ksmt_chan_worker(ch);
		writer_main(ch, l, dirty_pct);
	}
	ksmt_chan_parent(ch);
	if (ksmt_recv(ch->up[0], &c, KSMT_SCAN_TIMEOUT) || c != 'r') {
		ksmt_kill(pid);
		return -1;
	}
	return pid;
}

/*
 * The pages KSM's code has vmalloc'd (/proc/vmallocinfo, allocations whose
 * caller is a function named ksm_*, not ksmbd_*: ours sizes the roots of
 * its unstable trees so; stock vmallocs nothing), guard pages not
 * counted. 0 if there are none, -1 if the file cannot be read.
 */
static long ksm_vmalloc_bytes(const char *workload)
{
	char line[512], caller[128];
	long total = 0;
	const char *p;
	long pages;
	FILE *f;

	f = fopen("/proc/vmallocinfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %127s", caller) != 1 ||
		    strncmp(caller, "ksm_", 4))
			continue;
		p = strstr(line, " pages=");
		if (!p || sscanf(p, " pages=%ld", &pages) != 1)
			continue;
		say_of("INFO", workload, "vmalloc", "%s %ld", caller,
		       pages * KSMT_PAGE_SIZE);
		total += pages * KSMT_PAGE_SIZE;
	}
	fclose(f);
	return total;
}

/* Sum over the slab caches named ksm_* of active objects x object size. */
static long ksm_slab_bytes(const char *workload)
{
	char line[512], name[64];
	unsigned long active, num, size;
	long total = 0;
	FILE *f;

	f = fopen("/proc/slabinfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "ksm_", 4) ||
		    sscanf(line, "%63s %lu %lu %lu", name, &active, &num,
			   &size) != 4)
			continue;
		say_of("INFO", workload, "slab", "%s %lu %lu", name, active,
		       size);
		total += active * size;
	}
	fclose(f);
	return total;
}

/*
 * The slab memory the objects in use of KSM's caches take: each cache
 * (/sys/kernel/slab/ksm_*) shrunk first, so that its per-CPU slabs' free
 * objects do not count (ksmt_slab_objects()), then objects x the slab's
 * bytes per object (its rounding and leftover included). Unlike
 * ksm_slab_bytes(), no slack: what a few thousand items cost, not what the
 * caches hold. -1 on failure.
 */
static long ksm_slab_inuse_bytes(const char *workload)
{
	long total = 0, objects, order, per_slab;
	char path[320];
	struct dirent *de;
	DIR *dir;

	dir = opendir("/sys/kernel/slab");
	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "ksm_", 4))
			continue;
		objects = ksmt_slab_objects(de->d_name);
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/order",
			 de->d_name);
		order = ksmt_file_long(path);
		snprintf(path, sizeof(path),
			 "/sys/kernel/slab/%s/objs_per_slab", de->d_name);
		per_slab = ksmt_file_long(path);
		if (objects < 0 || order < 0 || per_slab < 1) {
			total = -1;
			break;
		}
		say_of("INFO", workload, "slab_inuse", "%s %ld %ld",
		       de->d_name, objects,
		       ((long)KSMT_PAGE_SIZE << order) / per_slab);
		total += objects * ((long)KSMT_PAGE_SIZE << order) / per_slab;
	}
	closedir(dir);
	return total;
}

/* One SERIES line: seconds since t0, pages_sharing, ksmd CPU since c0. */
static void sample(double t0, double c0, long sharing)
{
	printf("SERIES %.2f %ld %.3f\n", ksmt_now() - t0, sharing,
	       ksmd_cpu_s() - c0);
	fflush(stdout);
}

struct mixed_state {
	double t0, c0, next_sample;
	long sharing;
};

/* Reads pages_sharing, and prints a sample when one is due. */
static int mixed_poll(struct mixed_state *m)
{
	if (ksmt_read_long("pages_sharing", &m->sharing))
		return fail("reading pages_sharing");
	if (ksmt_now() - m->t0 >= m->next_sample) {
		sample(m->t0, m->c0, m->sharing);
		m->next_sample += SAMPLE_S;
	}
	return 0;
}

/* Waits, sampling, until full_scans reaches @want; 0 or -1 at @deadline. */
static int mixed_wait_scans(struct mixed_state *m, long want, double deadline)
{
	long scans;

	for (;;) {
		if (mixed_poll(m) || ksmt_read_long("full_scans", &scans))
			return -1;
		if (scans >= want)
			return 0;
		if (ksmt_now() > deadline)
			return -1;
		ksmt_nap_ms(POLL_MS);
	}
}

/*
 * After 95%: to the end of the current full scan, then SETTLE_SCANS more,
 * and the pages each of those walked on average (scanned + skipped); then
 * the final general_profit and, as workload 6, the KSM metadata per page
 * of mergeable memory: its slab objects and its vmalloc'd memory.
 */
static int mixed_settle(struct mixed_state *m, const struct bench_opts *o,
			size_t total_pages)
{
	double deadline = ksmt_now() + o->limit_s;
	long scans, a, b, c, d, profit, bytes, vbytes;

	if (ksmt_read_long("full_scans", &scans))
		return fail("reading full_scans");
	if (mixed_wait_scans(m, scans + 1, deadline) ||
	    ksmt_read_long("pages_scanned", &a) ||
	    ksmt_read_long("pages_skipped", &b) ||
	    mixed_wait_scans(m, scans + 1 + SETTLE_SCANS, deadline) ||
	    ksmt_read_long("pages_scanned", &c) ||
	    ksmt_read_long("pages_skipped", &d))
		say("INFO", "mixed.settled", "0");
	else
		say("INFO", "meta.walked_per_full_scan", "%ld",
		    (c + d - a - b) / SETTLE_SCANS);
	if (ksmt_read_long("general_profit", &profit))
		return fail("reading general_profit");
	sample(m->t0, m->c0, m->sharing);
	bytes = ksm_slab_bytes("meta");
	if (bytes <= 0)
		return fail("no ksm slab caches in /proc/slabinfo");
	vbytes = ksm_vmalloc_bytes("meta");
	if (vbytes < 0)
		return fail("reading /proc/vmallocinfo");
	say("INFO", "meta.slab_bytes", "%ld", bytes);
	say("INFO", "meta.vmalloc_bytes", "%ld", vbytes);
	bytes += vbytes;
	say("INFO", "mixed.final_sharing", "%ld", m->sharing);
	say("INFO", "mixed.general_profit", "%ld", profit);
	say("BENCH", "mixed.general_profit_mib", "%.3f", profit / 1048576.0);
	say("INFO", "meta.bytes", "%ld", bytes);
	say("INFO", "meta.pages", "%zu", total_pages);
	say("BENCH", "meta.bytes_per_page", "%.3f",
	    (double)bytes / total_pages);
	return 0;
}

/*
 * 3. Mixed, converging: o->procs processes, half of each one's pages with
 * a twin in every other process, half unique; process 0 is the writer,
 * whose hot pages (every (100 / dirty_pct)th) get new contents every
 * second. Achievable sharing is what the layout gives with the hot pages
 * counted as unique: (procs - 1) sharers per duplicated content, one
 * fewer where the writer's copy is hot. The time and ksmd CPU from run=1
 * until pages_sharing reaches 95% of it (or the time limit: a miss, with
 * mixed.converged 0), then the final readings of mixed_settle().
 */
static int bench_mixed(const struct bench_opts *o)
{
	size_t pages = mib_to_pages(o->mib), i, hot = 0;
	struct mixed_state m = { 0 };
	struct bench_group g = { 0 };
	struct ksmt_expect e;
	double elapsed, cpu;
	long threshold;
	int err = -1;

	if (o->dirty_pct < 1 || o->dirty_pct > 100)
		return fail("dirty%% must be 1..100");
	if (set_knobs(o) ||
	    group_init(&g, o->procs, pages / 2, 1, pages - pages / 2, 0,
		       NS_MIXED))
		goto out;
	g.pid[0] = spawn_writer(&g.ch[0], &g.layout[0], o->dirty_pct);
	if (g.pid[0] < 0) {
		fail("starting the writer");
		goto out;
	}
	if (group_spawn(&g, 1))
		goto out;
	/* The writer's hot pages never stay the same long enough to merge. */
	for (i = 0; i < pages; i++)
		if (is_hot(i, o->dirty_pct)) {
			ksmt_layout_make_unique(&g.layout[0], NULL, i,
						ksmt_unique_key(NS_WRITER + 1, i));
			hot++;
		}
	if (group_expect(&g, &e))
		goto out;
	threshold = (e.sharing * 95 + 99) / 100;
	say("INFO", "mixed.pages", "%zu", pages * o->procs);
	say("INFO", "mixed.hot_pages", "%zu", hot);
	say("INFO", "mixed.achievable_sharing", "%ld", e.sharing);
	say("INFO", "mixed.threshold", "%ld", threshold);

	m.c0 = ksmd_cpu_s();
	m.t0 = ksmt_now();
	if (ksmt_run(1)) {
		fail("run=1");
		goto out;
	}
	for (;;) {
		if (mixed_poll(&m))
			goto out;
		elapsed = ksmt_now() - m.t0;
		cpu = ksmd_cpu_s() - m.c0;
		if (m.sharing >= threshold || elapsed >= o->limit_s)
			break;
		ksmt_nap_ms(POLL_MS);
	}
	sample(m.t0, m.c0, m.sharing);
	say("INFO", "mixed.converged", "%d", m.sharing >= threshold);
	say("BENCH", "mixed.time_to_95_s", "%.3f", elapsed);
	say("BENCH", "mixed.ksmd_cpu_s", "%.3f", cpu);
	err = mixed_settle(&m, o, pages * o->procs);
out:
	ksmt_run(0);
	if (group_stop(&g))
		err = -1;
	return err;
}

/* Writes one byte to each of @pages pages at @base; seconds it took. */
static double write_each_page(char *base, size_t pages)
{
	double t0 = ksmt_now();
	size_t i;

	for (i = 0; i < pages; i++)
		base[i * KSMT_PAGE_SIZE] = 1;
	return ksmt_now() - t0;
}

/*
 * One round of workload 4: this process and a holder map the same
 * contents; once ksmd has merged every pair (pages_sharing exact) and
 * stopped, one byte is written to each page of ours, each write a
 * copy-on-write fault on a KSM page. Nanoseconds per page in *@ns.
 */
static int cow_round(const struct bench_opts *o, double *ns)
{
	size_t pages = mib_to_pages(o->mib);
	struct bench_group g = { 0 };
	long long tlb0, tlb1;
	struct ksmt_expect e;
	char *base = MAP_FAILED;
	double wall, cpu, s;
	int err = -1;

	if (set_knobs(o) || group_init(&g, 2, pages, 1, 0, 0, NS_COW) ||
	    group_spawn(&g, 1) || group_expect(&g, &e))
		goto out;
	base = ksmt_layout_map(&g.layout[0]);
	if (base == MAP_FAILED) {
		fail("mapping %ld MiB", o->mib);
		goto out;
	}
	if (merge_until(e.sharing, o->limit_s, &wall, &cpu))
		goto out;
	ksmt_run(0);
	say("INFO", "cow.merge_wall_s", "%.3f", wall);
	tlb0 = tlb_shootdowns();
	s = write_each_page(base, pages);
	tlb1 = tlb_shootdowns();
	/* Flush IPIs cost a lot under TCG: a source of noise to rule out. */
	say("INFO", "cow.tlb_shootdowns", "%lld", tlb1 - tlb0);
	*ns = s * 1e9 / pages;
	say("INFO", "cow.round_ns_per_page", "%.1f", *ns);
	err = 0;
out:
	if (base != MAP_FAILED)
		munmap(base, pages * KSMT_PAGE_SIZE);
	if (group_stop(&g))
		err = -1;
	return err;
}

/*
 * The control of workload 4, without KSM: the same pages shared with a
 * forked child instead of merged, then written the same way. This path
 * is core mm code in both kernels, so its ratio is what the two kernel
 * images alone make of a copy-on-write fault.
 */
static int cow_control_round(const struct bench_opts *o, double *ns)
{
	size_t pages = mib_to_pages(o->mib), i;
	char *base;
	pid_t pid;
	int status;

	base = ksmt_map(pages);
	if (base == MAP_FAILED)
		return fail("mapping %ld MiB", o->mib);
	for (i = 0; i < pages; i++)
		ksmt_fill_page(base + i * KSMT_PAGE_SIZE, NS_COW + i);
	pid = fork();
	if (pid < 0) {
		munmap(base, pages * KSMT_PAGE_SIZE);
		return fail("fork: %s", strerror(errno));
	}
	if (!pid) {
		pause();
		_exit(0);
	}
	*ns = write_each_page(base, pages) * 1e9 / pages;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	munmap(base, pages * KSMT_PAGE_SIZE);
	say("INFO", "cow.control_round_ns_per_page", "%.1f", *ns);
	return 0;
}

/* The smallest of the @n values at @v. */
static double fastest(const double *v, int n)
{
	double min = v[0];
	int i;

	for (i = 1; i < n; i++)
		if (v[i] < min)
			min = v[i];
	return min;
}

/*
 * 4. COW break: -r rounds of cow_round(), each followed by its control;
 * the fastest of each. The loop runs the same code on the same data every
 * round; what the host does to the VM meanwhile only ever adds time, and
 * on these machines it does so by whole rounds (two modes, some 50%
 * apart). The fastest round is the one the host disturbed least.
 */
static int bench_cow(const struct bench_opts *o)
{
	double ns[MAX_ROUNDS], control[MAX_ROUNDS];
	int r;

	for (r = 0; r < o->rounds; r++) {
		if (cow_round(o, &ns[r]) || cow_control_round(o, &control[r]))
			return -1;
	}
	say("INFO", "cow.pages", "%zu", mib_to_pages(o->mib));
	say("INFO", "cow.rounds", "%d", o->rounds);
	say("BENCH", "cow.ns_per_page", "%.1f", fastest(ns, o->rounds));
	say("BENCH", "cow.control_ns_per_page", "%.1f",
	    fastest(control, o->rounds));
	return 0;
}

/*
 * 5. Unmerge: o->procs holders of the same contents, o->mib MiB each,
 * merged (pages_sharing exact); then the seconds 'echo 2 > run' takes
 * (the write returns once everything is unmerged), and nothing may be
 * left shared after it.
 */
static int bench_unmerge(const struct bench_opts *o)
{
	size_t pages = mib_to_pages(o->mib);
	long shared = -1, sharing = -1;
	struct bench_group g = { 0 };
	struct ksmt_expect e;
	double wall, cpu, t0, t1;
	int err = -1, werr;

	if (set_knobs(o) ||
	    group_init(&g, o->procs, pages, 1, 0, 0, NS_UNMERGE) ||
	    group_spawn(&g, 0) || group_expect(&g, &e))
		goto out;
	if (merge_until(e.sharing, o->limit_s, &wall, &cpu))
		goto out;
	say("INFO", "unmerge.merge_wall_s", "%.3f", wall);
	t0 = ksmt_now();
	werr = ksmt_run(2);
	t1 = ksmt_now();
	if (werr) {
		fail("run=2: %s", strerror(-werr));
		goto out;
	}
	ksmt_read_long("pages_shared", &shared);
	ksmt_read_long("pages_sharing", &sharing);
	if (shared || sharing) {
		fail("after run=2: pages_shared %ld pages_sharing %ld", shared,
		     sharing);
		goto out;
	}
	say("INFO", "unmerge.mib", "%ld", o->procs * o->mib);
	say("BENCH", "unmerge.s", "%.4f", t1 - t0);
	err = 0;
out:
	ksmt_run(0);
	if (group_stop(&g))
		err = -1;
	return err;
}

/* The memory.ksm_stat of cgroup dir as INFO key.<dir's name>.<field>. */
static void say_ksm_stat(const char *key, const char *dir)
{
	static const char * const fields[] = {
		"ksm_rmap_items", "ksm_zero_pages", "ksm_merging_pages",
		"ksm_process_profit",
	};
	const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	char path[PATH_MAX], field[128];
	unsigned int i;

	snprintf(path, sizeof(path), "%s/memory.ksm_stat", dir);
	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		snprintf(field, sizeof(field), "%s.%s", name, fields[i]);
		say_of("INFO", key, field, "%ld",
		       ksmt_file_field(path, fields[i]));
	}
}

/*
 * 8. Guests: o->procs QEMU guests of o->mib MiB each are already running
 * (scripts/vm/bench-plan.sh starts them, stopped, and waits until each has
 * filled its memory). From run=1, pages_sharing is sampled until it is
 * calm, having stayed within 0.1% for GUEST_STABLE_SCANS full scans and
 * GUEST_STABLE_S seconds, at a sample GUEST_FINAL_S seconds or more after
 * run=1 (or until the time limit); the count then is final. The guests go
 * on running and rewriting a few pages meanwhile, so the count drifts a
 * little even when calm: the fixed time reads both kernels at the same
 * age of the guests, not each when it first calmed down (in one run ours
 * did 4.3 s after run=1 and stock 9.4 s after), unless one is not calm
 * by then.
 * Reports the time and ksmd CPU from run=1 to the first sample at 95% of
 * the final sharing, the final general_profit and the memory saved per
 * guest. Running guests keep rewriting a few pages, so unlike the other
 * workloads no exact sharing is expected.
 */
static int bench_guests(const struct bench_opts *o)
{
	const char *key = o->key ? o->key : "guests";
	double t0, c0, t95 = -1, c95 = -1, t_last = 0, t_ref = 0, t_calm = -1;
	long sharing, ref = -1, scans, ref_scans = 0, profit, shared;
	static double when[GUEST_MAX_SAMPLES], cpu[GUEST_MAX_SAMPLES];
	static long seen[GUEST_MAX_SAMPLES];
	int n = 0, i, stable = 0;

	if (o->procs < 1)
		return fail("guests: -n must be at least 1");
	if (set_knobs(o))
		return -1;
	c0 = ksmd_cpu_s();
	t0 = ksmt_now();
	if (ksmt_run(1))
		return fail("run=1");
	for (;;) {
		ksmt_nap_ms(GUEST_SAMPLE_MS);
		if (ksmt_read_long("pages_sharing", &sharing) ||
		    ksmt_read_long("full_scans", &scans))
			return fail("reading the counters");
		t_last = ksmt_now() - t0;
		if (n < GUEST_MAX_SAMPLES) {
			when[n] = t_last;
			cpu[n] = ksmd_cpu_s() - c0;
			seen[n++] = sharing;
		}
		if (ref < 0 || labs(sharing - ref) > ref / 1000) {
			ref = sharing;
			ref_scans = scans;
			t_ref = t_last;
			stable = 0;
		} else if (sharing &&
			   scans >= ref_scans + GUEST_STABLE_SCANS &&
			   t_last - t_ref >= GUEST_STABLE_S) {
			stable = 1;
			if (t_calm < 0)
				t_calm = t_last;
		}
		if (stable && t_last >= GUEST_FINAL_S)
			break;
		if (t_last >= o->limit_s)
			break;
	}
	for (i = 0; i < n; i++) {
		if (seen[i] * 100 >= sharing * 95) {
			t95 = when[i];
			c95 = cpu[i];
			break;
		}
	}
	if (ksmt_read_long("general_profit", &profit) ||
	    ksmt_read_long("pages_shared", &shared))
		return fail("reading general_profit or pages_shared");
	ksmt_run(0);
	say_of("INFO", key, "count", "%d", o->procs);
	say_of("INFO", key, "mib_each", "%ld", o->mib);
	say_of("INFO", key, "converged", "%d", stable);
	say_of("INFO", key, "calm_s", "%.3f", t_calm);
	say_of("INFO", key, "final_s", "%.3f", t_last);
	say_of("INFO", key, "pages_shared", "%ld", shared);
	say_of("INFO", key, "pages_sharing", "%ld", sharing);
	if (!stable)
		return fail("%s: sharing still changing after %d s", key,
			    o->limit_s);
	say_of("BENCH", key, "time_to_95_s", "%.3f", t95);
	say_of("BENCH", key, "ksmd_cpu_s", "%.3f", c95);
	say_of("BENCH", key, "general_profit_mib", "%.1f",
	       (double)profit / (1024 * 1024));
	say_of("BENCH", key, "saved_mib_per_guest", "%.2f",
	       (double)sharing * KSMT_PAGE_SIZE / (1024 * 1024) / o->procs);
	for (i = 0; i < o->ncgroups; i++)
		say_ksm_stat(key, o->cgroup[i]);
	return 0;
}

/*
 * 9. Copies ('copies'; 'zero' with -z N): o->procs processes whose every
 * page holds one and the same content: non-zero (o->zero < 0), or
 * zero-filled with use_zero_pages set to o->zero. With max_page_sharing
 * M, the c copies of a content make a chain of ceil(c / M) KSM pages, each
 * as full as it can be: pages_sharing must reach exactly c - ceil(c / M). Zero-filled pages
 * under use_zero_pages=1 map the zero page instead: ksm_zero_pages must
 * reach c. Wall and ksmd CPU time from run=1 to that, as MiB merged (all
 * of it) per second, and the chains and dups it ends with.
 */
static int bench_copies(const struct bench_opts *o)
{
	const char *name = o->zero < 0 ? "copies" : o->zero ? "zero1" : "zero0";
	const char *counter = o->zero > 0 ? "ksm_zero_pages" : "pages_sharing";
	long copies = (long)mib_to_pages(o->mib) * o->procs, mps, want, got;
	double c0, t0, wall, cpu, mib = (double)o->procs * o->mib;
	long chains = -1, dups = -1, shared = -1, sharing = -1;
	int pages = (int)mib_to_pages(o->mib);
	struct bench_group g = { 0 };
	int err = -1;

	if (set_knobs(o))
		return -1;
	if (o->zero >= 0 && ksmt_write_long("use_zero_pages", o->zero))
		return fail("use_zero_pages=%d", o->zero);
	if (ksmt_read_long("max_page_sharing", &mps) || mps < 2)
		return fail("reading max_page_sharing");
	if ((o->zero < 0 ? group_init(&g, o->procs, 1, pages, 0, 0, NS_COPIES) :
	     group_init(&g, o->procs, 0, 0, 0, pages, NS_COPIES)) ||
	    group_spawn(&g, 0))
		goto out;
	want = o->zero > 0 ? copies : copies - (copies + mps - 1) / mps;
	say_of("INFO", name, "use_zero_pages", "%d", o->zero > 0);
	say_of("INFO", name, "copies", "%ld", copies);
	say_of("INFO", name, "expected", "%s %ld", counter, want);
	c0 = ksmd_cpu_s();
	t0 = ksmt_now();
	if (ksmt_run(1)) {
		fail("run=1");
		goto out;
	}
	if (wait_at_least(counter, want, t0 + o->limit_s, &got)) {
		fail("%s: %s %ld after %d s, want %ld", name, counter, got,
		     o->limit_s, want);
		goto out;
	}
	wall = ksmt_now() - t0;
	cpu = ksmd_cpu_s() - c0;
	ksmt_run(0);
	if (got != want) {
		fail("%s: %s %ld, more than the %ld possible", name, counter,
		     got, want);
		goto out;
	}
	ksmt_read_long("stable_node_chains", &chains);
	ksmt_read_long("stable_node_dups", &dups);
	ksmt_read_long("pages_shared", &shared);
	ksmt_read_long("pages_sharing", &sharing);
	say_of("INFO", name, "mib", "%.0f", mib);
	say_of("INFO", name, "wall_s", "%.3f", wall);
	say_of("INFO", name, "ksmd_cpu_s", "%.3f", cpu);
	say_of("INFO", name, "pages_shared", "%ld", shared);
	say_of("INFO", name, "pages_sharing", "%ld", sharing);
	say_of("INFO", name, "stable_node_chains", "%ld", chains);
	say_of("INFO", name, "stable_node_dups", "%ld", dups);
	say_of("BENCH", name, "mib_per_wall_s", "%.3f", mib / wall);
	if (cpu > 0) {
		say_of("BENCH", name, "mib_per_cpu_s", "%.3f", mib / cpu);
		err = 0;
	} else {
		fail("ksmd used no measurable CPU time");
	}
out:
	ksmt_run(0);
	if (group_stop(&g))
		err = -1;
	return err;
}

/*
 * 11. Sparse: one page in every o->stride of o->mib MiB of mergeable
 * address space is mapped, each with a content of its own (nothing to
 * merge), in this process. Once ksmd has been over every page twice, the
 * bytes of KSM's slab objects in use and of its vmalloc'd memory per
 * mapped page (what tracking a sparse area costs: ksm_slab_inuse_bytes(),
 * ksm_vmalloc_bytes()); then ksmd CPU over o->scans
 * more full scans (more, until it is SPARSE_MIN_CPU_S) per million pages
 * visited, scanned or skipped by smart_scan (with a page in 512 mapped,
 * smart_scan may skip every one of them in those scans); the holes walked
 * over are in the cost.
 */
static int bench_sparse(const struct bench_opts *o)
{
	size_t span = mib_to_pages(o->mib), mapped = 0, i;
	double c0, c1, deadline;
	long s0, s1, k0, k1, scans, bytes, vbytes;
	char name[32], *base;
	int err = -1;

	if (o->stride < 1 || (size_t)o->stride > span)
		return fail("sparse: -g must be 1..%zu", span);
	snprintf(name, sizeof(name), "sparse%d", o->stride);
	if (set_knobs(o))
		return -1;
	base = ksmt_map(span);
	if (base == MAP_FAILED)
		return fail("sparse: mapping %ld MiB", o->mib);
	for (i = 0; i < span; i += o->stride, mapped++)
		ksmt_fill_page(base + i * KSMT_PAGE_SIZE,
			       ksmt_unique_key(NS_SPARSE, i));
	if (ksmt_mergeable(base, span)) {
		fail("sparse: MADV_MERGEABLE");
		goto out;
	}
	deadline = ksmt_now() + o->limit_s;
	if (ksmt_run(1) || wait_scan_end(deadline, &scans) ||
	    wait_at_least("full_scans", scans + 1, deadline, &scans)) {
		fail("sparse: no two full scans in %d s", o->limit_s);
		goto out;
	}
	bytes = ksm_slab_inuse_bytes(name);
	vbytes = ksm_vmalloc_bytes(name);
	c0 = ksmd_cpu_s();
	if (bytes <= 0 || vbytes < 0 ||
	    ksmt_read_long("pages_scanned", &s0) ||
	    ksmt_read_long("pages_skipped", &k0)) {
		fail("sparse: reading the slab caches, vmallocinfo or the counters");
		goto out;
	}
	if (wait_at_least("full_scans", scans + o->scans, deadline, &scans)) {
		fail("sparse: %d full scans took more than %d s", o->scans,
		     o->limit_s);
		goto out;
	}
	/* A few pages take little CPU: enough full scans for ticks to count. */
	while ((c1 = ksmd_cpu_s()) - c0 < SPARSE_MIN_CPU_S) {
		if (wait_scan_end(deadline, &scans)) {
			fail("sparse: ksmd used %.2f s of CPU in %d s",
			     c1 - c0, o->limit_s);
			goto out;
		}
	}
	if (ksmt_read_long("pages_scanned", &s1) ||
	    ksmt_read_long("pages_skipped", &k1) || s1 + k1 <= s0 + k0) {
		fail("sparse: pages_scanned and pages_skipped did not move");
		goto out;
	}
	ksmt_run(0);
	for (i = 0; i < span; i += o->stride)
		if (!ksmt_page_is(base + i * KSMT_PAGE_SIZE,
				  ksmt_unique_key(NS_SPARSE, i))) {
			fail("sparse: page %zu changed", i);
			goto out;
		}
	say_of("INFO", name, "span_pages", "%zu", span);
	say_of("INFO", name, "mapped_pages", "%zu", mapped);
	say_of("INFO", name, "slab_bytes", "%ld", bytes);
	say_of("INFO", name, "vmalloc_bytes", "%ld", vbytes);
	bytes += vbytes;
	say_of("INFO", name, "pages_scanned", "%ld", s1 - s0);
	say_of("INFO", name, "pages_skipped", "%ld", k1 - k0);
	say_of("INFO", name, "ksmd_cpu_s", "%.3f", c1 - c0);
	say_of("BENCH", name, "bytes_per_page", "%.3f",
	       (double)bytes / mapped);
	say_of("BENCH", name, "cpu_s_per_mpages", "%.4f",
	       (c1 - c0) / ((s1 + k1 - s0 - k0) / 1e6));
	err = 0;
out:
	ksmt_run(0);
	munmap(base, span * KSMT_PAGE_SIZE);
	return err;
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: ksm_bench [options] WORKLOAD\n"
		"  knobs    set the knobs of the benchmark and print them\n"
		"  merge    -n procs, -m MiB each, every page with twins\n"
		"  scan     -m MiB of unique pages, -s full scans\n"
		"  mixed    -n procs, -m MiB each, -d dirty%% a second\n"
		"  cow      -m MiB merged, then written, -r rounds (and as\n"
		"           many of the control: shared by fork, not merged)\n"
		"  unmerge  -n procs, -m MiB each, merged, then run=2\n"
		"  guests   -n QEMU guests of -m MiB each, already running\n"
		"  copies   -n procs, -m MiB each, all of one content\n"
		"  zero     the same, zero-filled, with use_zero_pages=N (-z N)\n"
		"  sparse   -m MiB mergeable, one page in every -g mapped,\n"
		"           -s full scans\n"
		"Options: -p pages_to_scan (1000)  -t longest wait in s (120)\n"
		"         -k KEY: merge, scan and guests print their figures as\n"
		"         KEY.*  -S SCOPE: run under merge_scope=SCOPE\n"
		"         -c DIR (up to 4): guests prints the memory.ksm_stat\n"
		"         of the cgroup DIR at the end\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
		.pages_to_scan = 1000, .procs = 4, .mib = 64,
		.limit_s = 120, .scans = 3, .dirty_pct = 5, .rounds = 1,
		.zero = -1, .stride = 16,
	};
	const char *what;
	int c, err;

	while ((c = getopt(argc, argv, "p:n:m:t:s:d:r:z:g:k:S:c:")) != -1) {
		switch (c) {
		case 'p':
			o.pages_to_scan = atol(optarg);
			break;
		case 'n':
			o.procs = atoi(optarg);
			break;
		case 'm':
			o.mib = atol(optarg);
			break;
		case 't':
			o.limit_s = atoi(optarg);
			break;
		case 's':
			o.scans = atoi(optarg);
			break;
		case 'd':
			o.dirty_pct = atoi(optarg);
			break;
		case 'r':
			o.rounds = atoi(optarg);
			break;
		case 'z':
			o.zero = atoi(optarg);
			break;
		case 'g':
			o.stride = atoi(optarg);
			break;
		case 'k':
			o.key = optarg;
			break;
		case 'S':
			o.scope = optarg;
			break;
		case 'c':
			if (o.ncgroups == MAX_CGROUPS)
				usage();
			o.cgroup[o.ncgroups++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || o.mib < 1 || o.pages_to_scan < 1 ||
	    o.rounds < 1 || o.rounds > MAX_ROUNDS || o.zero < -1 || o.zero > 1)
		usage();
	what = argv[optind];
	if (!ksmt_available()) {
		fail("no KSM (%s) or not root", KSMT_DIR);
		return 1;
	}
	ksmd_pid = ksmd_proc_find();
	if (ksmd_pid < 0 || ksmd_cpu_s() < 0) {
		fail("no ksmd thread in /proc");
		return 1;
	}

	if (!strcmp(what, "knobs"))
		err = set_knobs(&o);
	else if (!strcmp(what, "merge"))
		err = bench_merge(&o);
	else if (!strcmp(what, "scan"))
		err = bench_scan(&o);
	else if (!strcmp(what, "mixed"))
		err = bench_mixed(&o);
	else if (!strcmp(what, "cow"))
		err = bench_cow(&o);
	else if (!strcmp(what, "unmerge"))
		err = bench_unmerge(&o);
	else if (!strcmp(what, "copies") && o.zero < 0)
		err = bench_copies(&o);
	else if (!strcmp(what, "zero") && o.zero >= 0)
		err = bench_copies(&o);
	else if (!strcmp(what, "sparse"))
		err = bench_sparse(&o);
	else if (!strcmp(what, "guests"))
		err = bench_guests(&o);
	else
		usage();
	return err ? 1 : 0;
}
