/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksmd_proc.h - finding the ksmd kernel thread and its CPU time in /proc,
 * for the tools of tools/mm/ that watch KSM (ksm_watch, ksm_bench). Each
 * is one static program, so the helpers are static functions here.
 */
#ifndef _TOOLS_MM_KSMD_PROC_H
#define _TOOLS_MM_KSMD_PROC_H

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The pid of the kernel thread named ksmd, or -1. */
static inline int ksmd_proc_find(void)
{
	char path[64], comm[32];
	struct dirent *de;
	int pid = -1;
	DIR *dir;
	FILE *f;

	dir = opendir("/proc");
	if (!dir)
		return -1;
	while (pid < 0 && (de = readdir(dir))) {
		if (!isdigit((unsigned char)de->d_name[0]) ||
		    strlen(de->d_name) > 20)
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "ksmd\n"))
			pid = atoi(de->d_name);
		fclose(f);
	}
	closedir(dir);
	return pid;
}

/* utime + stime of @pid in clock ticks (USER_HZ), or -1. */
static inline long long ksmd_proc_cpu_ticks(int pid)
{
	unsigned long long utime, stime;
	char path[64], buf[1024], *p;
	size_t len;
	FILE *f;

	if (pid < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* The command name may hold spaces; the fields follow its ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &utime, &stime) != 2)
		return -1;
	return utime + stime;
}

#endif /* _TOOLS_MM_KSMD_PROC_H */
