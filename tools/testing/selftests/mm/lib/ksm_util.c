// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the KSM kselftests; see ksm_util.h.
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

#define KSMT_MAX_KNOBS	16

bool ksmt_exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), KSMT_DIR "/%s", name);
	return access(path, F_OK) == 0;
}

int ksmt_read_str(const char *name, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), KSMT_DIR "/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

int ksmt_read_long(const char *name, long *val)
{
	char buf[64], *end;
	int err;

	err = ksmt_read_str(name, buf, sizeof(buf));
	if (err)
		return err;
	errno = 0;
	*val = strtol(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}

unsigned long ksmt_page_size(void)
{
	static unsigned long size;

	if (!size)
		size = sysconf(_SC_PAGESIZE);
	return size;
}

int ksmt_write(const char *name, const char *val)
{
	size_t len = strlen(val);
	char path[256];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), KSMT_DIR "/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

int ksmt_write_long(const char *name, long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", val);
	return ksmt_write(name, buf);
}

long ksmt_get(const char *name)
{
	long val;
	int err = ksmt_read_long(name, &val);

	if (err) {
		fprintf(stderr, "# reading %s: %s\n", name, strerror(-err));
		return -1;
	}
	return val;
}

int ksmt_write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n == (ssize_t)len ? 0 : n < 0 ? n : -EIO;
}

int ksmt_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
	return 0;
}

int ksmt_read_counters(struct ksmt_counters *c)
{
	static const struct {
		const char *name;
		size_t offset;
	} files[] = {
		{ "pages_shared", offsetof(struct ksmt_counters, shared) },
		{ "pages_sharing", offsetof(struct ksmt_counters, sharing) },
		{ "pages_unshared", offsetof(struct ksmt_counters, unshared) },
		{ "pages_volatile", offsetof(struct ksmt_counters, volatile_) },
		{ "ksm_zero_pages", offsetof(struct ksmt_counters, zero_pages) },
		{ "general_profit",
		  offsetof(struct ksmt_counters, general_profit) },
		{ "full_scans", offsetof(struct ksmt_counters, full_scans) },
	};
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		err = ksmt_read_long(files[i].name,
				     (long *)((char *)c + files[i].offset));
		if (err) {
			fprintf(stderr, "# reading %s: %s\n", files[i].name,
				strerror(-err));
			return err;
		}
	}
	return 0;
}

static int ksmt_read_proc(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd, err;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	else
		snprintf(path, sizeof(path), "/proc/self/%s", file);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	return 0;
}

int ksmt_read_stat(pid_t pid, struct ksmt_stat *st)
{
	static const struct {
		const char *name;
		size_t offset;
	} fields[] = {
		{ "ksm_rmap_items", offsetof(struct ksmt_stat, rmap_items) },
		{ "ksm_zero_pages", offsetof(struct ksmt_stat, zero_pages) },
		{ "ksm_merging_pages",
		  offsetof(struct ksmt_stat, merging_pages) },
		{ "ksm_process_profit", offsetof(struct ksmt_stat, profit) },
	};
	const unsigned int nfields = ARRAY_SIZE(fields);
	char buf[512], *line, *save = NULL;
	unsigned int i, found = 0;
	int err;

	err = ksmt_read_proc(pid, "ksm_stat", buf, sizeof(buf));
	if (err)
		return err;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		for (i = 0; i < nfields; i++) {
			size_t n = strlen(fields[i].name);
			char *end;
			long v;

			if (strncmp(line, fields[i].name, n) || line[n] != ' ')
				continue;
			errno = 0;
			v = strtol(line + n + 1, &end, 10);
			if (errno || *end)
				return -EINVAL;
			*(long *)((char *)st + fields[i].offset) = v;
			found |= 1U << i;
		}
	}
	return found == (1U << nfields) - 1 ? 0 : -ENOENT;
}

int ksmt_read_merging_pages(pid_t pid, long *val)
{
	char buf[64], *end;
	int err;

	err = ksmt_read_proc(pid, "ksm_merging_pages", buf, sizeof(buf));
	if (err)
		return err;
	errno = 0;
	*val = strtol(buf, &end, 10);
	if (errno || end == buf || strcmp(end, "\n"))
		return -EINVAL;
	return 0;
}

/*
 * The writable knobs, in the order they are restored: run=2 comes first
 * (so that no KSM page blocks max_page_sharing or merge_across_nodes),
 * advisor_mode before pages_to_scan (a mode change resets it), and the
 * saved run value last.
 */
static const char * const ksmt_knob_names[] = {
	"advisor_mode", "advisor_max_cpu", "advisor_min_pages_to_scan",
	"advisor_max_pages_to_scan", "advisor_target_scan_time",
	"max_page_sharing", "merge_across_nodes", "use_zero_pages",
	"smart_scan", "stable_node_chains_prune_millisecs",
	"sleep_millisecs", "pages_to_scan", "run",
};

static struct {
	bool valid;
	pid_t owner;
	int n;
	const char *name[KSMT_MAX_KNOBS];
	char value[KSMT_MAX_KNOBS][64];
} ksmt_saved;

/* "[none] scan-time" -> "none"; other values are left as they are. */
static void ksmt_selected(char *buf)
{
	char *open = strchr(buf, '['), *close;

	if (!open)
		return;
	close = strchr(open, ']');
	if (!close)
		return;
	*close = '\0';
	memmove(buf, open + 1, strlen(open + 1) + 1);
}

static int ksmt_read_knob(const char *name, char *buf, size_t len)
{
	int err = ksmt_read_str(name, buf, len);

	if (!err)
		ksmt_selected(buf);
	return err;
}

__attribute__((constructor))
static void ksmt_save_knobs(void)
{
	unsigned int i;

	if (geteuid() != 0 || !ksmt_exists("run"))
		return;
	for (i = 0; i < ARRAY_SIZE(ksmt_knob_names); i++) {
		int n = ksmt_saved.n;

		if (n == KSMT_MAX_KNOBS)
			break;
		if (ksmt_read_knob(ksmt_knob_names[i], ksmt_saved.value[n],
				   sizeof(ksmt_saved.value[n])))
			continue;
		ksmt_saved.name[n] = ksmt_knob_names[i];
		ksmt_saved.n++;
	}
	ksmt_saved.owner = getpid();
	ksmt_saved.valid = true;
}

bool ksmt_available(void)
{
	return ksmt_saved.valid;
}

/* Whether any saved knob has another value now. */
static bool ksmt_knobs_changed(void)
{
	char cur[64];
	int i;

	for (i = 0; i < ksmt_saved.n; i++)
		if (ksmt_read_knob(ksmt_saved.name[i], cur, sizeof(cur)) ||
		    strcmp(cur, ksmt_saved.value[i]))
			return true;
	return false;
}

/*
 * Puts back every knob that changed, after run=2 (so that no KSM page
 * keeps max_page_sharing or merge_across_nodes from changing back).
 * Without unmerge, does nothing at all if no knob changed.
 */
static int ksmt_restore(bool unmerge)
{
	int i, err, failed = 0;
	char cur[64];

	if (!ksmt_saved.valid || (!unmerge && !ksmt_knobs_changed()))
		return 0;
	err = ksmt_write("run", "2");
	if (err) {
		fprintf(stderr, "# restore: run=2: %s\n", strerror(-err));
		failed++;
	}
	for (i = 0; i < ksmt_saved.n; i++) {
		const char *name = ksmt_saved.name[i];

		if (!ksmt_read_knob(name, cur, sizeof(cur)) &&
		    !strcmp(cur, ksmt_saved.value[i]))
			continue;
		/* A scan-time advisor owns pages_to_scan. */
		if (!strcmp(name, "pages_to_scan") &&
		    !ksmt_read_knob("advisor_mode", cur, sizeof(cur)) &&
		    strcmp(cur, "none"))
			continue;
		err = ksmt_write(name, ksmt_saved.value[i]);
		if (err) {
			fprintf(stderr, "# restore: %s=%s: %s\n", name,
				ksmt_saved.value[i], strerror(-err));
			failed++;
		}
	}
	return failed;
}

int ksmt_restore_knobs(void)
{
	return ksmt_restore(true);
}

/*
 * The safety net for tests killed before their teardown (by the harness's
 * timeout): in the process that saved the knobs only, and only if one of
 * them is not as it was, so that other programs linked with this file see
 * no change at all.
 */
__attribute__((destructor))
static void ksmt_restore_at_exit(void)
{
	if (ksmt_saved.valid && ksmt_saved.owner == getpid())
		ksmt_restore(false);
}

int ksmt_run(int mode)
{
	return ksmt_write_long("run", mode);
}

int ksmt_reset(void)
{
	char cur[64];
	int err;

	/* Writing the current value is a no-op: make run=2 unmerge. */
	if (!ksmt_read_knob("run", cur, sizeof(cur)) && !strcmp(cur, "2")) {
		err = ksmt_run(0);
		if (err)
			return err;
	}
	err = ksmt_run(2);
	if (err)
		return err;
	if (!ksmt_read_knob("advisor_mode", cur, sizeof(cur)) &&
	    strcmp(cur, "none")) {
		err = ksmt_write("advisor_mode", "none");
		if (err)
			return err;
	}
	if (ksmt_exists("smart_scan")) {
		err = ksmt_write("smart_scan", "0");
		if (err)
			return err;
	}
	if (ksmt_exists("merge_across_nodes")) {
		err = ksmt_write("merge_across_nodes", "1");
		if (err)
			return err;
	}
	err = ksmt_write("max_page_sharing", "256");
	if (!err)
		err = ksmt_write("use_zero_pages", "0");
	if (!err)
		err = ksmt_write_long("pages_to_scan", KSMT_PAGES_TO_SCAN);
	if (!err)
		err = ksmt_write_long("sleep_millisecs", KSMT_SLEEP_MS);
	return err;
}

int ksmt_ticker(void)
{
	void *p = mmap(NULL, KSMT_PAGE_SIZE, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	if (madvise(p, KSMT_PAGE_SIZE, MADV_MERGEABLE))
		return -errno;
	return 0;
}

unsigned long ksmt_full_scans(void)
{
	long val = 0;

	ksmt_read_long("full_scans", &val);
	return val;
}

double ksmt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void ksmt_nap_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int ksmt_wait_scans(unsigned long from, unsigned long n)
{
	double deadline = ksmt_now() + KSMT_SCAN_TIMEOUT;
	unsigned long now;

	for (;;) {
		now = ksmt_full_scans();
		if (now >= from + n)
			return 0;
		if (ksmt_now() > deadline)
			break;
		ksmt_nap_ms(2);
	}
	fprintf(stderr, "# full_scans stuck at %lu, waited %d s for %lu\n",
		now, KSMT_SCAN_TIMEOUT, from + n);
	return -ETIMEDOUT;
}

int ksmt_settle(unsigned long n)
{
	int err = ksmt_wait_scans(ksmt_full_scans(), n);

	return err ? err : ksmt_run(0);
}

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

int ksmt_chan_open(struct ksmt_chan *ch)
{
	if (pipe(ch->up))
		return -errno;
	if (pipe(ch->down)) {
		int err = -errno;

		close(ch->up[0]);
		close(ch->up[1]);
		return err;
	}
	return 0;
}

void ksmt_chan_close(struct ksmt_chan *ch)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (ch->up[i] >= 0)
			close(ch->up[i]);
		if (ch->down[i] >= 0)
			close(ch->down[i]);
		ch->up[i] = -1;
		ch->down[i] = -1;
	}
}

void ksmt_chan_worker(struct ksmt_chan *ch)
{
	close(ch->up[0]);
	close(ch->down[1]);
	ch->up[0] = -1;
	ch->down[1] = -1;
}

void ksmt_chan_parent(struct ksmt_chan *ch)
{
	close(ch->up[1]);
	close(ch->down[0]);
	ch->up[1] = -1;
	ch->down[0] = -1;
}

int ksmt_send(int fd, char c)
{
	ssize_t n = write(fd, &c, 1);

	if (n == 1)
		return 0;
	return n < 0 ? -errno : -EIO;
}

int ksmt_recv(int fd, char *c, int timeout_s)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int ret;

	do {
		ret = poll(&pfd, 1, timeout_s * 1000);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	if (ret == 0)
		return -ETIMEDOUT;
	n = read(fd, c, 1);
	if (n == 1)
		return 0;
	return n < 0 ? -errno : -EPIPE;
}

int ksmt_waitpid(pid_t pid, int timeout_s)
{
	double deadline = ksmt_now() + timeout_s;
	int status;
	pid_t ret;

	for (;;) {
		ret = waitpid(pid, &status, WNOHANG);
		if (ret == pid)
			return status;
		if (ret < 0)
			return -errno;
		if (ksmt_now() > deadline)
			return -ETIMEDOUT;
		ksmt_nap_ms(2);
	}
}

void ksmt_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void ksmt_holder(struct ksmt_chan *ch, struct ksmt_layout *const *ls,
			int n, char *const *at)
{
	char *base[8];
	bool good;
	int j, i;
	char cmd;

	if (n > 8)
		_exit(2);
	for (j = 0; j < n; j++) {
		size_t len = ls[j]->npages * KSMT_PAGE_SIZE;

		if (!at) {
			base[j] = ksmt_layout_map(ls[j]);
			if (base[j] == MAP_FAILED)
				_exit(2);
			continue;
		}
		base[j] = mmap(at[j], len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (base[j] != at[j] ||
		    (madvise(base[j], len, MADV_NOHUGEPAGE) && errno != EINVAL))
			_exit(2);
		ksmt_layout_fill(ls[j], base[j]);
		if (ksmt_mergeable(base[j], ls[j]->npages))
			_exit(2);
	}
	if (ksmt_send(ch->up[1], 'r'))
		_exit(2);
	for (;;) {
		int err = ksmt_recv(ch->down[0], &cmd, 600);

		good = true;
		for (j = 0; j < n; j++) {
			i = ksmt_layout_check(ls[j], base[j]);
			if (i >= 0) {
				fprintf(stderr,
					"# holder %d: region %d page %d differs\n",
					(int)getpid(), j, i);
				good = false;
			}
		}
		if (err || cmd == 'q')
			_exit(good ? 0 : 1);
		if (ksmt_send(ch->up[1], good ? 'v' : 'x'))
			_exit(2);
	}
}

pid_t ksmt_spawn_holder(struct ksmt_chan *ch, struct ksmt_layout *const *ls,
			int n)
{
	return ksmt_spawn_holder_at(ch, ls, n, NULL);
}

pid_t ksmt_spawn_holder_at(struct ksmt_chan *ch, struct ksmt_layout *const *ls,
			   int n, char *const *at)
{
	pid_t pid;
	char c;
	int err;

	err = ksmt_chan_open(ch);
	if (err)
		return err;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		ksmt_chan_close(ch);
		return err;
	}
	if (pid == 0) {
		ksmt_chan_worker(ch);
		ksmt_holder(ch, ls, n, at);
	}
	ksmt_chan_parent(ch);
	err = ksmt_recv(ch->up[0], &c, KSMT_SCAN_TIMEOUT);
	if (!err && c != 'r')
		err = -EBADMSG;
	if (err) {
		ksmt_kill(pid);
		ksmt_chan_close(ch);
		return err;
	}
	return pid;
}

int ksmt_holder_verify(struct ksmt_chan *ch)
{
	char c;
	int err;

	err = ksmt_send(ch->down[1], 'v');
	if (!err)
		err = ksmt_recv(ch->up[0], &c, KSMT_SCAN_TIMEOUT);
	if (!err && c != 'v')
		err = -EBADMSG;
	return err;
}

static bool ksmt_all_zero(const struct ksmt_counters *c)
{
	return !c->shared && !c->sharing && !c->unshared && !c->volatile_ &&
	       !c->zero_pages && !c->general_profit;
}

int ksmt_wait_zero(unsigned long max_scans, struct ksmt_counters *c)
{
	double deadline = ksmt_now() + KSMT_SCAN_TIMEOUT;
	unsigned long from = ksmt_full_scans();

	for (;;) {
		/* Counters read after the scans they have to reflect. */
		unsigned long scans = ksmt_full_scans();

		if (ksmt_read_counters(c))
			return -EIO;
		if (ksmt_all_zero(c))
			return 0;
		if (scans >= from + max_scans || ksmt_now() > deadline)
			return -ETIMEDOUT;
		ksmt_nap_ms(2);
	}
}

int ksmt_no_ksm_pages(void)
{
	long sharing;
	int err = ksmt_read_long("max_page_sharing", &sharing);

	if (!err)
		err = ksmt_write_long("max_page_sharing", sharing + 1);
	if (!err)
		err = ksmt_write_long("max_page_sharing", sharing);
	return err;
}

/* Objects in use in one slab cache of its own, shrunk; or -errno. */
static long ksmt_slab_objects(const char *name)
{
	char path[256], text[256], target[256], *end;
	long objects;
	int err;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s", name);
	/* A mergeable cache's name is a link to a cache others may share. */
	if (readlink(path, target, sizeof(target)) >= 0)
		return -EXDEV;
	if (errno != EINVAL)
		return -errno;
	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", name);
	err = ksmt_write_file(path, "1");
	if (err)
		return err;
	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/objects", name);
	err = ksmt_read_file(path, text, sizeof(text));
	if (err)
		return err;
	/* "N N0=n0 ...": the total first. */
	errno = 0;
	objects = strtol(text, &end, 10);
	if (errno || end == text)
		return -EIO;
	return objects;
}

long ksmt_ksm_objects(bool slots)
{
	/* Ours, then 6.12's mm/ksm.c: nodes, items, slots. */
	static const char *const caches[][3] = {
		{ "ksm_stable_node", "ksm_block", "ksm_slot" },
		{ "ksm_stable_node", "ksm_rmap_item", "ksm_mm_slot" },
	};
	long total = 0, n;
	int impl, i;

	impl = access("/sys/kernel/slab/ksm_block", F_OK) ? 1 : 0;
	for (i = 0; i < (slots ? 3 : 2); i++) {
		n = ksmt_slab_objects(caches[impl][i]);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

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

/* The number after key and sep at the start of a line of path, or -1. */
static long ksmt_field_in(const char *path, const char *key, char sep)
{
	size_t klen = strlen(key);
	char line[256];
	long val = -1;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == sep) {
			val = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

long ksmt_meminfo(const char *field)
{
	int fd;

	/* Fold the per-CPU differences into the global counters first. */
	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	if (fd >= 0) {
		ssize_t done = write(fd, "1", 1);

		close(fd);
		if (done != 1)
			return -1;
	}
	return ksmt_field_in("/proc/meminfo", field, ':');
}

long ksmt_file_field(const char *path, const char *key)
{
	return ksmt_field_in(path, key, ' ');
}

long ksmt_vmstat(const char *name)
{
	return ksmt_file_field("/proc/vmstat", name);
}

int ksmt_pread_u64(const char *path, off_t off, u64 *val)
{
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = pread(fd, val, sizeof(*val), off);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return n == sizeof(*val) ? 0 : -EIO;
}
