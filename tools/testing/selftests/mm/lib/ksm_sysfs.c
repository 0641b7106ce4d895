// SPDX-License-Identifier: GPL-2.0
/*
 * The files of KSM for its kselftests; see ksm_sysfs.h.
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

/*
 * At most len - 1 bytes of a file into buf, NUL-terminated, exactly as
 * the kernel wrote them: the format of KSM's files is part of what the
 * tests check, to the newline. 0 or -errno.
 */
static int ksmt_read_raw(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, err;

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

int ksmt_read_str(const char *name, char *buf, size_t len)
{
	char path[256];
	size_t n;
	int err;

	snprintf(path, sizeof(path), KSMT_DIR "/%s", name);
	err = ksmt_read_raw(path, buf, len);
	/* The newline goes, nothing else: a stray blank is a bug to see. */
	for (n = err ? 0 : strlen(buf); n > 0 && buf[n - 1] == '\n'; n--)
		buf[n - 1] = '\0';
	return err;
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
	char path[256];

	snprintf(path, sizeof(path), KSMT_DIR "/%s", name);
	return ksmt_write_file(path, val);
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

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	else
		snprintf(path, sizeof(path), "/proc/self/%s", file);
	return ksmt_read_raw(path, buf, len);
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
	"smart_scan", "stable_node_chains_prune_millisecs", "merge_scope",
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

/*
 * A knob's value as it would be written back. While memory is being
 * offlined, run reads 4 more than its value (the ABI says so): a value
 * nobody can write, and not the one to put back.
 */
static int ksmt_read_knob(const char *name, char *buf, size_t len)
{
	int err = ksmt_read_str(name, buf, len);
	char *end;
	long run;

	if (err)
		return err;
	ksmt_selected(buf);
	if (!strcmp(name, "run")) {
		run = strtol(buf, &end, 10);
		if (end != buf && run >= 4)
			snprintf(buf, len, "%ld", run & ~4L);
	}
	return 0;
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
	if (ksmt_exists("merge_scope")) {
		err = ksmt_write("merge_scope", "global");
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

long ksmt_slab_objects(const char *name)
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
	/* Ours, then 6.12's mm/ksm.c: nodes, items (blocks), then slots. */
	static const char *const caches[][4] = {
		{ "ksm_stable_node", "ksm_block", "ksm_block_solo", "ksm_slot" },
		{ "ksm_stable_node", "ksm_rmap_item", NULL, "ksm_mm_slot" },
	};
	long total = 0, n;
	int impl, i;

	impl = access("/sys/kernel/slab/ksm_block", F_OK) ? 1 : 0;
	for (i = 0; i < (slots ? 4 : 3); i++) {
		if (!caches[impl][i])
			continue;
		n = ksmt_slab_objects(caches[impl][i]);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
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

long ksmt_file_long(const char *path)
{
	char buf[64] = "";
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
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
