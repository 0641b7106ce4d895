// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_demo_load - the workload of the KSM demo (scripts/demo.sh).
 *
 * Forks worker processes that each map private anonymous memory, mark it
 * MADV_MERGEABLE and fill it page by page. About DUP percent of the pages
 * get one of a small pool of contents shared by all workers, so they are
 * duplicated both within each process and across processes; every other
 * page gets pseudo-random content of its own. The content of every page is
 * a function of (worker, page index), so it can be checked later.
 *
 * Once all workers have filled their memory the parent creates the ready
 * file and waits for a signal. On SIGUSR1 every worker rewrites a few of
 * its duplicated pages (breaking copy-on-write on pages KSM has merged),
 * checks every page against what it wrote, reports and exits. The parent
 * exits 0 only if every worker found its data intact. SIGTERM or SIGINT
 * instead of SIGUSR1 ends the workers without a check.
 *
 * Usage: ksm_demo_load [-n procs] [-s MiB] [-d dup%] [-p pool] [-w rewrites]
 *                      [-r ready-file]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB		(1024UL * 1024UL)
#define MAX_PROCS	64

/* Salts that keep the three kinds of content apart. */
#define SALT_SHARED	0x5348415245443031ULL
#define SALT_UNIQUE	0x554e495155453031ULL
#define SALT_REWRITE	0x5245575249544531ULL

struct layout {
	unsigned int procs;	/* worker processes */
	unsigned long mib;	/* MiB mapped by each worker */
	unsigned int dup;	/* percent of pages with shared content */
	unsigned int pool;	/* number of distinct shared contents */
	unsigned int rewrites;	/* duplicated pages rewritten before the check */
	size_t page;		/* page size */
	size_t pages;		/* pages per worker */
	uint64_t *shared;	/* the pool of shared contents */
};

static uint64_t mix64(uint64_t x)
{
	/* The finalizer of splitmix64. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t page_key(unsigned int proc, size_t idx)
{
	return mix64(((uint64_t)proc << 40) ^ idx ^ 0x9e3779b97f4a7c15ULL);
}

/* Whether page @idx of worker @proc holds shared content, and which. */
static int page_is_dup(const struct layout *l, unsigned int proc, size_t idx,
		       unsigned int *which)
{
	uint64_t key = page_key(proc, idx);

	*which = (unsigned int)((key >> 32) % l->pool);
	return (key & 0xffff) % 100 < l->dup;
}

static void fill_random(uint64_t *words, size_t nr, uint64_t seed)
{
	size_t i;

	for (i = 0; i < nr; i++)
		words[i] = mix64(seed + (i + 1) * 0x9e3779b97f4a7c15ULL);
}

/*
 * Writes the content page @idx of worker @proc must have into @dst; a
 * rewritten page gets content of its own instead of the shared one.
 */
static void page_content(const struct layout *l, unsigned int proc,
			 size_t idx, int rewritten, uint64_t *dst)
{
	size_t words = l->page / sizeof(uint64_t);
	unsigned int which;

	if (page_is_dup(l, proc, idx, &which) && !rewritten) {
		memcpy(dst, l->shared + which * words, l->page);
		return;
	}
	fill_random(dst, words, page_key(proc, idx) ^
		    (rewritten ? SALT_REWRITE : SALT_UNIQUE));
	/* The tag makes every such page unique beyond doubt. */
	dst[0] = ((uint64_t)proc << 40) | idx;
	dst[1] = rewritten ? SALT_REWRITE : SALT_UNIQUE;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Checks every page; returns the number of pages that differ. */
static size_t check_pages(const struct layout *l, unsigned int proc,
			  const char *mem, uint64_t *want)
{
	unsigned int which, seen = 0;
	size_t idx, bad = 0;
	int rewritten;

	for (idx = 0; idx < l->pages; idx++) {
		rewritten = page_is_dup(l, proc, idx, &which) &&
			    seen++ < l->rewrites;
		page_content(l, proc, idx, rewritten, want);
		if (memcmp(mem + idx * l->page, want, l->page)) {
			if (!bad)
				printf("worker %u: page %zu (%s) differs from what was written\n",
				       proc, idx, rewritten ? "rewritten" :
				       page_is_dup(l, proc, idx, &which) ?
				       "shared content" : "unique");
			bad++;
		}
	}
	return bad;
}

/* Rewrites the first l->rewrites duplicated pages; returns how many. */
static unsigned int rewrite_pages(const struct layout *l, unsigned int proc,
				  char *mem)
{
	unsigned int which, done = 0;
	size_t idx;

	for (idx = 0; idx < l->pages && done < l->rewrites; idx++) {
		if (!page_is_dup(l, proc, idx, &which))
			continue;
		page_content(l, proc, idx, 1, (uint64_t *)(mem + idx * l->page));
		done++;
	}
	return done;
}

/*
 * One worker: fills its memory, reports ready on @ready_fd, waits for a
 * signal, then rewrites, checks and exits. Exit status: 0 intact, 1 data
 * differs, 2 setup failed, 3 told to stop without a check.
 */
static int run_worker(const struct layout *l, unsigned int proc, int ready_fd)
{
	size_t len = l->pages * l->page, idx, bad;
	unsigned int rewritten;
	sigset_t set;
	uint64_t *want;
	char *mem;
	int sig;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	want = malloc(l->page);
	if (mem == MAP_FAILED || !want) {
		printf("worker %u: cannot allocate %lu MiB: %s\n", proc, l->mib,
		       strerror(errno));
		return 2;
	}
	/* Small pages from the start: KSM merges 4 KiB pages. */
	madvise(mem, len, MADV_NOHUGEPAGE);
	if (madvise(mem, len, MADV_MERGEABLE)) {
		printf("worker %u: madvise(MADV_MERGEABLE): %s\n", proc,
		       strerror(errno));
		return 2;
	}
	for (idx = 0; idx < l->pages; idx++)
		page_content(l, proc, idx, 0, (uint64_t *)(mem + idx * l->page));

	if (write(ready_fd, "r", 1) != 1)
		return 2;
	close(ready_fd);

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigwait(&set, &sig) || sig != SIGUSR1)
		return 3;

	rewritten = rewrite_pages(l, proc, mem);
	bad = check_pages(l, proc, mem, want);
	printf("worker %u: %zu pages (%lu MiB) checked after rewriting %u shared pages: %s\n",
	       proc, l->pages, l->mib, rewritten,
	       bad ? "MISMATCH" : "intact");
	if (bad)
		printf("worker %u: %zu pages differ\n", proc, bad);
	return bad ? 1 : 0;
}

/* KSM's max_page_sharing: how many mappings one KSM page may have. */
static unsigned long read_max_page_sharing(void)
{
	unsigned long val = 256;
	FILE *f;

	f = fopen("/sys/kernel/mm/ksm/max_page_sharing", "r");
	if (f) {
		if (fscanf(f, "%lu", &val) != 1 || val < 2)
			val = 256;
		fclose(f);
	}
	return val;
}

/*
 * Prints the layout and the saving KSM can reach at best: of the c pages
 * holding one content, all but one per max_page_sharing are saved.
 */
static void print_layout(const struct layout *l)
{
	unsigned long dups = 0, distinct = 0, saved = 0, total, limit;
	unsigned int proc, which;
	unsigned long *copies;
	size_t idx;
	double ideal;

	copies = calloc(l->pool, sizeof(*copies));
	if (!copies)
		return;
	for (proc = 0; proc < l->procs; proc++) {
		for (idx = 0; idx < l->pages; idx++) {
			if (page_is_dup(l, proc, idx, &which)) {
				copies[which]++;
				dups++;
			}
		}
	}
	limit = read_max_page_sharing();
	for (which = 0; which < l->pool; which++) {
		if (copies[which])
			distinct++;
		saved += copies[which] - (copies[which] + limit - 1) / limit;
	}
	free(copies);

	total = l->procs * l->pages;
	ideal = (double)saved * l->page / MIB;
	printf("workload: %u processes x %lu MiB = %lu MiB mapped (%lu pages of %zu KiB)\n",
	       l->procs, l->mib, l->procs * l->mib, total, l->page / 1024);
	printf("workload: %lu pages (%.1f%%) hold one of %lu shared contents, %lu are unique\n",
	       dups, 100.0 * dups / total, distinct, total - dups);
	printf("workload: best possible saving %.1f MiB (%.1f%%) with max_page_sharing %lu\n",
	       ideal, 100.0 * ideal / (l->procs * l->mib), limit);
}

static int parse_uint(const char *arg, unsigned long min, unsigned long max,
		      unsigned long *val)
{
	char *end;

	errno = 0;
	*val = strtoul(arg, &end, 10);
	return errno || end == arg || *end || *val < min || *val > max ? -1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: ksm_demo_load [-n procs] [-s MiB] [-d dup%%] [-p pool]\n"
		"                     [-w rewrites] [-r ready-file]\n"
		"  -n  worker processes (default 4)\n"
		"  -s  MiB each worker maps (default 32)\n"
		"  -d  percent of pages with shared content (default 80)\n"
		"  -p  number of distinct shared contents (default 256)\n"
		"  -w  shared pages each worker rewrites before its check (default 64)\n"
		"  -r  file to create once all memory is filled\n"
		"SIGUSR1 starts the check and ends the workload.\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct layout l = { .procs = 4, .mib = 32, .dup = 80, .pool = 256,
			    .rewrites = 64 };
	unsigned int proc, ready = 0, intact = 0;
	const char *ready_file = NULL;
	pid_t pids[MAX_PROCS];
	unsigned long val;
	int opt, fds[2], status, sig, fd;
	double start;
	sigset_t set;
	size_t words;
	char byte;

	while ((opt = getopt(argc, argv, "n:s:d:p:w:r:")) != -1) {
		switch (opt) {
		case 'n':
			if (parse_uint(optarg, 1, MAX_PROCS, &val))
				usage();
			l.procs = val;
			break;
		case 's':
			if (parse_uint(optarg, 1, 1UL << 20, &val))
				usage();
			l.mib = val;
			break;
		case 'd':
			if (parse_uint(optarg, 0, 100, &val))
				usage();
			l.dup = val;
			break;
		case 'p':
			if (parse_uint(optarg, 1, 1UL << 16, &val))
				usage();
			l.pool = val;
			break;
		case 'w':
			if (parse_uint(optarg, 0, 1UL << 30, &val))
				usage();
			l.rewrites = val;
			break;
		case 'r':
			ready_file = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	setvbuf(stdout, NULL, _IOLBF, 0);
	l.page = sysconf(_SC_PAGESIZE);
	l.pages = l.mib * MIB / l.page;
	words = l.page / sizeof(uint64_t);
	l.shared = malloc(l.pool * l.page);
	if (!l.shared) {
		perror("ksm_demo_load: malloc");
		return 1;
	}
	for (val = 0; val < l.pool; val++)
		fill_random(l.shared + val * words, words, mix64(val ^ SALT_SHARED));
	print_layout(&l);

	/* Blocked here, so a signal sent early waits for sigwait(). */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if (pipe(fds)) {
		perror("ksm_demo_load: pipe");
		return 1;
	}
	start = now();
	for (proc = 0; proc < l.procs; proc++) {
		pids[proc] = fork();
		if (pids[proc] < 0) {
			perror("ksm_demo_load: fork");
			l.procs = proc;
			break;
		}
		if (!pids[proc]) {
			close(fds[0]);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			exit(run_worker(&l, proc, fds[1]));
		}
	}
	close(fds[1]);
	while (read(fds[0], &byte, 1) == 1)
		ready++;
	close(fds[0]);

	if (ready < l.procs || !l.procs) {
		printf("workload: only %u of %u workers are ready, giving up\n",
		       ready, l.procs);
		sig = SIGTERM;
	} else {
		printf("workload: %u processes filled %lu MiB in %.1f s\n",
		       l.procs, l.procs * l.mib, now() - start);
		if (ready_file) {
			fd = open(ready_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0)
				perror("ksm_demo_load: ready file");
			else
				close(fd);
		}
		if (sigwait(&set, &sig))
			sig = SIGTERM;
	}

	for (proc = 0; proc < l.procs; proc++)
		kill(pids[proc], sig == SIGUSR1 ? SIGUSR1 : SIGTERM);
	for (proc = 0; proc < l.procs; proc++) {
		if (waitpid(pids[proc], &status, 0) == pids[proc] &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0)
			intact++;
	}
	if (sig != SIGUSR1) {
		printf("workload: stopped without a check\n");
		return 1;
	}
	if (intact < l.procs) {
		printf("workload: DATA MISMATCH or failure in %u of %u processes\n",
		       l.procs - intact, l.procs);
		return 1;
	}
	printf("data intact: all %u processes found their %lu MiB as written\n",
	       l.procs, l.mib);
	return 0;
}
