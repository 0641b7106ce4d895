// SPDX-License-Identifier: GPL-2.0
/*
 * Frames of pages and what /proc says of them; see ksm_frames.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vm_util.h"
#include "ksm_util.h"

int ksmt_pagemap(pid_t pid, const void *addr, size_t n, u64 *ents)
{
	size_t len = n * sizeof(*ents), done = 0;
	off_t off = (uintptr_t)addr / PAGE * sizeof(*ents);
	char path[64];
	int fd, err = 0;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t got = pread(fd, (char *)ents + done, len - done,
				    off + done);

		if (got <= 0) {
			err = got < 0 ? -errno : -EIO;
			break;
		}
		done += got;
	}
	close(fd);
	return err;
}

u64 ksmt_pagemap_of(pid_t pid, const void *addr)
{
	u64 ent;

	return ksmt_pagemap(pid, addr, 1, &ent) ? 0 : ent;
}

unsigned long ksmt_frame_of(pid_t pid, const void *addr)
{
	u64 ent = ksmt_pagemap_of(pid, addr);

	return PAGEMAP_PRESENT(ent) ? PAGEMAP_PFN(ent) : 0;
}

int ksmt_frames(const void *addr, size_t n, unsigned long *pfn)
{
	u64 *ents = calloc(n ? n : 1, sizeof(*ents));
	size_t i;
	int err;

	if (!ents)
		return -ENOMEM;
	err = ksmt_pagemap(0, addr, n, ents);
	for (i = 0; !err && i < n; i++)
		pfn[i] = PAGEMAP_PRESENT(ents[i]) ? PAGEMAP_PFN(ents[i]) : 0;
	free(ents);
	return err;
}

long ksmt_swapped(pid_t pid, const void *addr, size_t n)
{
	u64 *ents = calloc(n ? n : 1, sizeof(*ents));
	long swapped = 0;
	size_t i;
	int err;

	if (!ents)
		return -ENOMEM;
	err = ksmt_pagemap(pid, addr, n, ents);
	for (i = 0; !err && i < n; i++)
		swapped += !!(ents[i] & PM_SWAP);
	free(ents);
	return err ? err : swapped;
}

u64 ksmt_frame_flags(unsigned long pfn)
{
	u64 flags = 0;

	ksmt_pread_u64("/proc/kpageflags", pfn * sizeof(flags), &flags);
	return flags;
}

long ksmt_frame_mapcount(unsigned long pfn)
{
	u64 count;

	if (ksmt_pread_u64("/proc/kpagecount", pfn * sizeof(count), &count))
		return -1;
	return count;
}
