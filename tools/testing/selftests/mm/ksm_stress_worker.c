// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress: the life of a worker process and of its children.
 *
 * The bookkeeping of who exited how (each process is one check, passed
 * or failed), reaping children, the check of a process's ksm_stat, the
 * main loop of busy and quiet phases, the last verification before a
 * process exits, and starting a worker.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/ksm_util.h"
#include "ksm_stress.h"

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
void record_exit(pid_t pid, int status)
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
bool spawn_worker(int slot, int gen)
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
