// SPDX-License-Identifier: GPL-2.0
/*
 * A memory cgroup for the KSM kselftests; see ksm_cgroup.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ksm_util.h"
#include "ksm_cgroup.h"

/* How long the removal waits for killed processes to leave the group. */
#define KSMT_CGROUP_EMPTY_MS	5000

/* The path of a file of the group into buf. */
static const char *ksmt_cgroup_file(const struct ksmt_cgroup *cg,
				    const char *file, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", cg->path, file);
	return buf;
}

const char *ksmt_cgroup_make(struct ksmt_cgroup *cg, const char *name)
{
	memset(cg, 0, sizeof(*cg));
	if (access(KSMT_CGROOT "/cgroup.controllers", F_OK)) {
		if (mount("none", KSMT_CGROOT, "cgroup2", 0, NULL))
			return "cannot mount cgroup2";
		cg->mounted = true;
	}
	/* Fails if it is on already; a missing controller shows below. */
	ksmt_write_file(KSMT_CGROOT "/cgroup.subtree_control", "+memory");
	snprintf(cg->path, sizeof(cg->path), KSMT_CGROOT "/%s", name);
	if (mkdir(cg->path, 0755) && errno != EEXIST)
		return "cannot make a cgroup";
	cg->made = true;
	if (!ksmt_cgroup_has(cg, "memory.max"))
		return "no memory controller (CONFIG_MEMCG)";
	return NULL;
}

bool ksmt_cgroup_has(const struct ksmt_cgroup *cg, const char *file)
{
	char path[256];

	return !access(ksmt_cgroup_file(cg, file, path, sizeof(path)), F_OK);
}

int ksmt_cgroup_write(const struct ksmt_cgroup *cg, const char *file,
		      const char *text)
{
	char path[256];

	return ksmt_write_file(ksmt_cgroup_file(cg, file, path, sizeof(path)),
			       text);
}

int ksmt_cgroup_join(struct ksmt_cgroup *cg, pid_t pid)
{
	char num[32];
	int err;

	snprintf(num, sizeof(num), "%d", (int)pid);
	err = ksmt_cgroup_write(cg, "cgroup.procs", num);
	if (!err && !pid)
		cg->joined = true;
	return err;
}

bool ksmt_cgroup_reclaim_until(const struct ksmt_cgroup *cg,
			       bool (*done)(void *arg), void *arg,
			       int timeout_s)
{
	double deadline = ksmt_now() + timeout_s;
	char path[256], stat[4096];

	ksmt_cgroup_file(cg, "memory.stat", path, sizeof(path));
	for (;;) {
		/* Fails (EAGAIN) when it reclaimed less than asked: fine. */
		ksmt_cgroup_write(cg, "memory.reclaim", "64M");
		if (done(arg))
			return true;
		if (ksmt_now() > deadline)
			return false;
		ksmt_read_file(path, stat, sizeof(stat));
		ksmt_nap_ms(100);
	}
}

/* Removes the group, waiting a while for killed processes to leave it. */
static int ksmt_cgroup_rmdir(const struct ksmt_cgroup *cg)
{
	long waited;

	for (waited = 0; rmdir(cg->path); waited += 20) {
		if (errno != EBUSY || waited >= KSMT_CGROUP_EMPTY_MS)
			return -errno;
		ksmt_nap_ms(20);
	}
	return 0;
}

int ksmt_cgroup_remove(struct ksmt_cgroup *cg)
{
	int err = 0, e;

	if (cg->joined) {
		err = ksmt_write_file(KSMT_CGROOT "/cgroup.procs", "0");
		if (!err)
			cg->joined = false;
	}
	if (cg->made && !cg->joined) {
		/* Children forked in the group that are still around. */
		if (ksmt_cgroup_has(cg, "cgroup.kill"))
			ksmt_cgroup_write(cg, "cgroup.kill", "1");
		e = ksmt_cgroup_rmdir(cg);
		if (!e)
			cg->made = false;
		err = err ?: e;
	}
	if (cg->mounted) {
		e = umount(KSMT_CGROOT) ? -errno : 0;
		if (!e)
			cg->mounted = false;
		err = err ?: e;
	}
	return err;
}
