/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Processes for the KSM kselftests: a channel to a forked worker, waiting
 * for and killing children, and holders: processes that map layouts (at
 * address ranges the caller may reserve) and check them on request. Part
 * of ksm_util.h.
 */
#ifndef KSM_PROCS_H
#define KSM_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

struct ksmt_layout;

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
/* A free address range of npages, reserved PROT_NONE (MAP_FAILED if not). */
char *ksmt_reserve(size_t npages);
/* Asks a holder to verify its pages: 0 if good, else -errno or -EBADMSG. */
int ksmt_holder_verify(struct ksmt_chan *ch);

/* Waits for a child with a timeout; returns its wait status or -errno. */
int ksmt_waitpid(pid_t pid, int timeout_s);
/* Kills (SIGKILL) and reaps a child, ignoring errors. */
void ksmt_kill(pid_t pid);
/* Waits for a child; its exit status, or -1 (it is killed). */
int ksmt_child_status(pid_t pid);

#endif /* KSM_PROCS_H */
