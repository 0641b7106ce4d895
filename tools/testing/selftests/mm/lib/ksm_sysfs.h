/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The files of KSM for its kselftests: /sys/kernel/mm/ksm (knobs and
 * counters, saved and restored around the tests), /proc/<pid>/ksm_stat,
 * waiting for ksmd's full scans, whether anything of KSM is left; and
 * any /proc or /sys file by its path. Part of ksm_util.h.
 */
#ifndef KSM_SYSFS_H
#define KSM_SYSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

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
/*
 * Objects in use in one slab cache of its own, the cache shrunk first (its
 * per-CPU slabs' free objects do not count): -EXDEV if it is merged with
 * others, -errno if it cannot be read.
 */
long ksmt_slab_objects(const char *name);

/* A field of /proc/meminfo in kB (per-CPU deltas folded in), or -1. */
long ksmt_meminfo(const char *field);
/* The number at the start of a file, -1 if it cannot be read. */
long ksmt_file_long(const char *path);
/* The number after "key " in a file of such lines, or -1. */
long ksmt_file_field(const char *path, const char *key);
/*
 * An event counter of /proc/vmstat (cow_ksm, ksm_swpin_copy), or -1 if the
 * kernel has none by that name (no CONFIG_VM_EVENT_COUNTERS, say).
 */
long ksmt_vmstat(const char *name);
/* The 8 bytes at offset off of a file (pagemap, kpageflags); 0 or -errno. */
int ksmt_pread_u64(const char *path, off_t off, u64 *val);

#endif /* KSM_SYSFS_H */
