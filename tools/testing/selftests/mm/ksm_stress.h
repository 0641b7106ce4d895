/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksm_stress: what the parts of the program share (ksm_stress.c and
 * ksm_stress_*.c, linked into one program): its constants, the exit
 * statuses of its processes, the operations and the controller's knob
 * writes, the state shared by all processes (struct shared), the run's
 * parameters (struct config), a worker process and the shadow of its
 * regions (struct proc, struct region), and the functions and globals
 * one part defines for the others.
 */
#ifndef KSM_STRESS_H
#define KSM_STRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../kselftest.h"
#include "lib/ksm_util.h"

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

/* The controller's knob writes. */
enum ctl {
	CTL_RUN0, CTL_RUN1, CTL_RUN2, CTL_ZERO_PAGES, CTL_ACROSS_NODES,
	CTL_MAX_SHARING, CTL_SMART_SCAN, CTL_MERGE_SCOPE, NR_CTL
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
struct config {
	int seconds;
	int nprocs;
	int mib;
	u64 seed;
	bool corrupt;		/* -X: damage one page behind the shadow */
	bool numa;		/* node 1 exists */
	bool swap;		/* zram swap is on */
	size_t budget;		/* pages one process may map */
	double start, deadline;
};

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

/* Kinds of content a write puts into a page. */
enum kind { K_DUP, K_UNIQUE, K_ZERO, K_SAME, K_MIXED, K_FRESH };

/* ksm_stress_base.c: the run's globals, the output every process shares. */
extern struct config cfg;
extern struct shared *sh;
void add(long *counter, long n);
long peek(const long *counter);
bool stopping(void);
__printf(1, 2) void say(const char *fmt, ...);
__printf(1, 2) void complain(const char *fmt, ...);
const char *counters_text(const struct ksmt_counters *c, char *buf,
			  size_t len);
unsigned long life_span(unsigned long share, unsigned long cap);

/* ksm_stress_shadow.c: contents, runs of pages, the shadow, verification. */
extern u64 view_buf[KSMT_MAX_PAGE_SIZE / sizeof(u64)];
unsigned long rnd(struct proc *p, unsigned long n);
bool chance(struct proc *p, unsigned int percent);
u64 new_key(struct proc *p, enum kind kind);
char *page_at(const struct region *r, size_t i);
bool is_mapped(const struct region *r, size_t i);
void set_key(struct region *r, size_t i, u64 key);
void put_content(void *page, u64 key);
void forget_page(struct region *r, size_t i);
void note(struct proc *p, int r, size_t first, size_t len);
int pick_region(struct proc *p);
size_t run_length(struct proc *p, size_t max, size_t big);
struct region *pick_run(struct proc *p, int *ri, size_t *first,
			size_t *len, size_t big);
size_t write_run(struct proc *p, struct region *r, size_t first,
		 size_t len, enum kind kind);
int open_mem(struct proc *p);
void dump_history(struct proc *p);
size_t verify_run(struct proc *p, int ri, size_t first, size_t len,
		  bool via_mem);
void verify_all(struct proc *p);
int shadow_alloc(struct region *r, size_t n);
void shadow_free(struct region *r);

/* ksm_stress_ops.c: the operations of a worker. */
extern const char *const op_name[NR_OPS];
int op_mmap(struct proc *p);
void do_op(struct proc *p);

/* ksm_stress_worker.c: the life of a worker and of its children. */
void record_exit(pid_t pid, int status);
bool spawn_worker(int slot, int gen);

/* ksm_stress_control.c: the controller. */
bool spawn_controller(void);

#endif /* KSM_STRESS_H */
