/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the KSM kselftests (ksm_*.c): the files of
 * /sys/kernel/mm/ksm and /proc/<pid>/ksm_stat, saving and restoring the
 * knobs, waiting for ksmd's full scans, deterministic page contents and a
 * model of what a set of pages should merge into.
 */
#ifndef KSM_UTIL_H
#define KSM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

#define KSMT_DIR		"/sys/kernel/mm/ksm"
/* The page size, from sysconf(): 4K, 16K or 64K, as the kernel runs. */
#define KSMT_PAGE_SIZE		ksmt_page_size()
/* The tests' short name for it. */
#define PAGE			KSMT_PAGE_SIZE
/* The largest page size a test buffer must hold. */
#define KSMT_MAX_PAGE_SIZE	65536UL
/* Seconds a wait for ksmd may take before the test fails. */
#define KSMT_SCAN_TIMEOUT	60
/* Seconds a test that waits for ksmd may take (kselftest harness). */
#define KSMT_TEST_TIMEOUT	90
/* Pages per ksmd batch and ms between batches while a test runs. */
#define KSMT_PAGES_TO_SCAN	5000
#define KSMT_SLEEP_MS		0

/* sysfs access; all return 0 or -errno. Names are relative to KSMT_DIR. */
unsigned long ksmt_page_size(void);
bool ksmt_exists(const char *name);
int ksmt_read_str(const char *name, char *buf, size_t len);
int ksmt_read_long(const char *name, long *val);
int ksmt_write(const char *name, const char *val);
int ksmt_write_long(const char *name, long val);
/* Value of a counter, or -1 (with a message) if it cannot be read. */
long ksmt_get(const char *name);

/*
 * Any file by its path (procfs, sysfs, cgroupfs): writes text; reads at
 * most len - 1 bytes, trailing white space dropped. 0 or -errno.
 */
int ksmt_write_file(const char *path, const char *text);
int ksmt_read_file(const char *path, char *buf, size_t len);

/* Global counters of /sys/kernel/mm/ksm. */
struct ksmt_counters {
	long shared;
	long sharing;
	long unshared;
	long volatile_;
	long zero_pages;
	long general_profit;
	long full_scans;
};

int ksmt_read_counters(struct ksmt_counters *c);

/* /proc/<pid>/ksm_stat; pid 0 means the caller. */
struct ksmt_stat {
	long rmap_items;
	long zero_pages;
	long merging_pages;
	long profit;
};

int ksmt_read_stat(pid_t pid, struct ksmt_stat *st);
int ksmt_read_merging_pages(pid_t pid, long *val);

/*
 * Knobs: the values every writable file had when the program started are
 * saved before main() runs; ksmt_restore_knobs() writes run=2 and puts
 * them back (the fixture teardowns call it). At the program's exit, knobs
 * still changed (a test killed before its teardown) are put back too.
 */
int ksmt_restore_knobs(void);
bool ksmt_available(void);

/*
 * Puts KSM into the state the tests start from: run=2 (nothing merged,
 * nothing tracked), ksmd at full speed, smart_scan off where it exists,
 * default sharing limits. Does not start ksmd. Returns 0 or -errno.
 */
int ksmt_reset(void);
int ksmt_run(int mode);

/*
 * Keeps full_scans moving when no other mm is registered: a mergeable
 * VMA without pages registers the caller's mm but gives ksmd nothing to
 * track, so no counter changes because of it.
 */
int ksmt_ticker(void);

unsigned long ksmt_full_scans(void);
/* The one clock of the tests: CLOCK_MONOTONIC, in seconds. */
double ksmt_now(void);
/* Sleeps ms milliseconds, signals or not. */
void ksmt_nap_ms(unsigned int ms);

/* Waits until full_scans >= from + n; 0 or -ETIMEDOUT. */
int ksmt_wait_scans(unsigned long from, unsigned long n);
/* Waits for n more full scans, then stops ksmd (run=0) to read counters. */
int ksmt_settle(unsigned long n);

/* Deterministic pseudo-random numbers (splitmix64). */
struct ksmt_rng {
	u64 state;
};

u64 ksmt_mix(u64 x);
u64 ksmt_rand(struct ksmt_rng *rng);
unsigned long ksmt_rand_below(struct ksmt_rng *rng, unsigned long n);

/* Page contents: a page derived from a non-zero 64-bit key. */
void ksmt_fill_page(void *page, u64 key);
bool ksmt_page_is(const void *page, u64 key);

/* Private anonymous memory without THP; MAP_FAILED on failure. */
void *ksmt_map(size_t npages);
int ksmt_mergeable(void *addr, size_t npages);

/*
 * A layout: npages pages, each either a copy of one of ngroups group
 * contents, a unique content, or zero. Group contents depend only on
 * group_ns and the group number, so layouts with the same group_ns share
 * them; unique contents depend on unique_ns and the page number.
 */
#define KSMT_UNIQUE	(-1)
#define KSMT_ZERO	(-2)

/* What ksmd can see of a page of a layout. */
#define KSMT_TRACKED	0	/* mapped in a mergeable VMA */
#define KSMT_UNTRACKED	1	/* mapped, but not mergeable or not present */
#define KSMT_UNMAPPED	2	/* gone */

struct ksmt_layout {
	size_t npages;
	int ngroups;
	int *klass;		/* group number, KSMT_UNIQUE or KSMT_ZERO */
	u64 *key;		/* content key, 0 for zero */
	unsigned char *state;	/* KSMT_TRACKED, ... */
	u64 group_ns;
	u64 unique_ns;
};

/*
 * Builds a shuffled layout with ngroups groups of per_group pages each,
 * nunique unique and nzero zero pages. Returns 0 or -ENOMEM.
 */
int ksmt_layout_init(struct ksmt_layout *l, int ngroups, int per_group,
		     int nunique, int nzero, u64 group_ns,
		     u64 unique_ns, u64 seed);
void ksmt_layout_free(struct ksmt_layout *l);
u64 ksmt_group_key(u64 group_ns, int group);
u64 ksmt_unique_key(u64 unique_ns, size_t index);
void ksmt_layout_fill(const struct ksmt_layout *l, void *base);
/* Index of the first mapped page that differs from the layout, or -1. */
long ksmt_layout_check(const struct ksmt_layout *l, const void *base);
/* Maps, fills and registers a layout: the region, or MAP_FAILED. */
char *ksmt_layout_map(const struct ksmt_layout *l);
/* Gives page i a new unique content (and writes it, if base is set). */
void ksmt_layout_make_unique(struct ksmt_layout *l, void *base, size_t i,
			     u64 key);

/*
 * Expected counters once ksmd has settled, for pages that are all present
 * and mergeable. Per content: c copies give one KSM page and c - 1
 * sharers (c <= max_page_sharing); a single copy is unshared unless the
 * caller says it still maps a KSM page (was_ksm[content] set).
 */
struct ksmt_expect {
	long shared;
	long sharing;
	long unshared;
	long zero_pages;	/* pages merged with the zero page */
	long rmap_items;	/* tracked pages: all but the zero pages */
	long merging;		/* pages that map a KSM page */
	long volatile_;		/* tracked pages in no tree */
};

/* Accumulates into *e the contribution of count copies of one content. */
void ksmt_expect_content(struct ksmt_expect *e, long count, bool was_ksm);

/*
 * The expected state of the tracked pages of n layouts (of one or more
 * processes) once ksmd has settled: totals in *total, and the per-process
 * fields (rmap_items, zero_pages, merging) of layout i in each[i] if each
 * is not NULL. zero_merge: use_zero_pages was set while zero pages were
 * merged. merged: every group content (and zero content without
 * zero_merge) that is down to one tracked copy had been merged before,
 * so that copy still maps its KSM page. Returns 0 or -ENOMEM.
 */
int ksmt_expect_layouts(struct ksmt_layout *const *ls, int n, bool zero_merge,
			bool merged, struct ksmt_expect *total,
			struct ksmt_expect *each);

/*
 * The size of an rmap item as ksm_stat's profit implies it:
 * (merging + zero) * page size - profit, divided by rmap_items. Returns
 * -1 unless that is a whole number of bytes between 1 and a page.
 */
long ksmt_item_size(const struct ksmt_stat *st);

/*
 * NUMA: whether node 1 exists; the node of a page of process pid (0: the
 * caller), -errno if none.
 */
bool ksmt_have_node1(void);
int ksmt_page_node_of(pid_t pid, void *page);
int ksmt_page_node(void *page);

/* Seconds ksmt_move_pages() may retry pages that stay busy. */
#define KSMT_MOVE_TIMEOUT	30

/*
 * Moves npages pages at base of process pid (0: the caller) to node with
 * move_pages(2), including pages mapped more than once (MPOL_MF_MOVE_ALL).
 * A page can be busy for a moment: isolating it fails while it sits in a
 * per-CPU batch, migrating it fails while someone else (ksmd, say) holds
 * a reference to it, and move_pages() stops at the first such failure.
 * So the call is repeated until every page is on node, for at most
 * KSMT_MOVE_TIMEOUT seconds. Returns the number of pages not on node
 * afterwards, or -errno; the calls made go to *calls unless it is NULL.
 */
long ksmt_move_pages(pid_t pid, char *base, size_t npages, int node,
		     int *calls);
/* ksmt_move_pages() of the caller's own pages. */
long ksmt_move_to_node(char *base, size_t npages, int node);

/* A field of /proc/meminfo in kB (per-CPU deltas folded in), or -1. */
long ksmt_meminfo(const char *field);
/* The number after "key " in a file of such lines, or -1. */
long ksmt_file_field(const char *path, const char *key);
/*
 * An event counter of /proc/vmstat (cow_ksm, ksm_swpin_copy), or -1 if the
 * kernel has none by that name (no CONFIG_VM_EVENT_COUNTERS, say).
 */
long ksmt_vmstat(const char *name);
/* The 8 bytes at offset off of a file (pagemap, kpageflags); 0 or -errno. */
int ksmt_pread_u64(const char *path, off_t off, u64 *val);

/* Synchronisation with forked workers. */
struct ksmt_chan {
	int up[2];	/* worker -> parent */
	int down[2];	/* parent -> worker */
};

int ksmt_chan_open(struct ksmt_chan *ch);
void ksmt_chan_close(struct ksmt_chan *ch);
/* In the worker, after fork: keep only its ends. */
void ksmt_chan_worker(struct ksmt_chan *ch);
void ksmt_chan_parent(struct ksmt_chan *ch);
/* Sends one byte; receives one with a timeout; 0 or -errno (-EPIPE: EOF). */
int ksmt_send(int fd, char c);
int ksmt_recv(int fd, char *c, int timeout_s);

/*
 * A holder: a forked process that maps the n layouts (each in its own
 * mergeable region), fills them, sends 'r' and then serves commands:
 * 'v' verifies the contents and answers 'v' (good) or 'x' (bad); 'q' or
 * EOF verifies and exits 0 (good) or 1. Returns the pid or -errno.
 */
pid_t ksmt_spawn_holder(struct ksmt_chan *ch, struct ksmt_layout *const *ls,
			int n);
/* The same, with layout j mapped at at[j] (a range the caller reserved). */
pid_t ksmt_spawn_holder_at(struct ksmt_chan *ch, struct ksmt_layout *const *ls,
			   int n, char *const *at);
/* Asks a holder to verify its pages: 0 if good, else -errno or -EBADMSG. */
int ksmt_holder_verify(struct ksmt_chan *ch);

/*
 * Waits (at most max_scans full scans) until every global counter is back
 * to zero; the last reading is left in *c. Returns 0 or -ETIMEDOUT.
 */
int ksmt_wait_zero(unsigned long max_scans, struct ksmt_counters *c);

/*
 * Whether no KSM page is left at all, mapped or not: max_page_sharing, a
 * layout knob, changes only while no stable node exists, so it is set one
 * higher and back. Returns 0, -EBUSY if a node is left, or another -errno.
 */
int ksmt_no_ksm_pages(void);

/*
 * Objects in use in KSM's slab caches: stable nodes and tracking items
 * (ours: item blocks; 6.12's mm/ksm.c: rmap items), and with slots, the
 * mm slots too. Each cache is shrunk first, so that no CPU's partly used
 * slab counts its free objects as used. Needs SLUB's sysfs and caches of
 * their own (slab_nomerge): returns -ENOENT without them, -EXDEV if a
 * cache is merged with others, else the count.
 */
long ksmt_ksm_objects(bool slots);

/* Waits for a child with a timeout; returns its wait status or -errno. */
int ksmt_waitpid(pid_t pid, int timeout_s);
/* Kills (SIGKILL) and reaps a child, ignoring errors. */
void ksmt_kill(pid_t pid);

#endif /* KSM_UTIL_H */
