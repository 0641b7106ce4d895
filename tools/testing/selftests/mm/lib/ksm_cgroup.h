/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A memory cgroup (cgroup v2) for the KSM kselftests: mounting cgroup2
 * where nothing is mounted yet, making a group with the memory
 * controller, moving processes into it, reclaiming its memory, and taking
 * all of that down again. Nothing here touches KSM.
 */
#ifndef KSM_CGROUP_H
#define KSM_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define KSMT_CGROOT		"/sys/fs/cgroup"

/* What ksmt_cgroup_make() set up, and so what has to be taken down. */
struct ksmt_cgroup {
	char path[128];		/* the group's directory */
	bool mounted;		/* cgroup2 mounted on KSMT_CGROOT by us */
	bool made;		/* the group made (or found) by us */
	bool joined;		/* the caller moved itself into it */
};

/*
 * Makes the group KSMT_CGROOT/name with the memory controller. Returns
 * NULL, or the reason why not; either way *cg says what to take down.
 */
const char *ksmt_cgroup_make(struct ksmt_cgroup *cg, const char *name);
/* Whether the group has a file of that name (memory.reclaim, say). */
bool ksmt_cgroup_has(const struct ksmt_cgroup *cg, const char *file);
/* Writes text to a file of the group; 0 or -errno. */
int ksmt_cgroup_write(const struct ksmt_cgroup *cg, const char *file,
		      const char *text);
/* Moves process pid (0: the caller) into the group; 0 or -errno. */
int ksmt_cgroup_join(struct ksmt_cgroup *cg, pid_t pid);

/*
 * Reclaims the group's memory until done(arg) is true, for at most
 * timeout_s seconds; returns whether it got there. A page mapped by
 * several processes is activated on reclaim's first look at it, and is
 * deactivated only once the group's statistics show few inactive pages:
 * reading memory.stat between the attempts brings them up to date (else
 * a worker does, every 2 s).
 */
bool ksmt_cgroup_reclaim_until(const struct ksmt_cgroup *cg,
			       bool (*done)(void *arg), void *arg,
			       int timeout_s);

/*
 * Moves the caller back to the root group if it joined, kills whatever
 * is left in the group (children forked in it), removes it and unmounts
 * cgroup2, as *cg says. Returns 0 or the first -errno.
 */
int ksmt_cgroup_remove(struct ksmt_cgroup *cg);

#endif /* KSM_CGROUP_H */
