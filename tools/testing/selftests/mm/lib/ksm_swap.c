// SPDX-License-Identifier: GPL-2.0
/*
 * Swap on zram0 for the KSM kselftests; see ksm_swap.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/swap.h>
#include <unistd.h>

#include "ksm_util.h"
#include "ksm_swap.h"

/* The size zram reports in disksize, in bytes; -errno on failure. */
static long long ksmt_zram_disksize(void)
{
	char buf[64] = "";
	ssize_t n;
	int fd;

	fd = open(KSMT_ZRAM_SYSFS "/disksize", O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	return atoll(buf);
}

/* A swap signature for a device of size bytes, as mkswap writes it. */
static int ksmt_make_swap(const char *dev, long long size)
{
	char *hdr = calloc(1, KSMT_PAGE_SIZE);
	int fd, err = 0;

	if (!hdr)
		return -ENOMEM;
	*(u32 *)(hdr + 1024) = 1;				/* version */
	*(u32 *)(hdr + 1028) = size / KSMT_PAGE_SIZE - 1;	/* last_page */
	memcpy(hdr + KSMT_PAGE_SIZE - 10, "SWAPSPACE2", 10);
	fd = open(dev, O_WRONLY);
	if (fd < 0 ||
	    pwrite(fd, hdr, KSMT_PAGE_SIZE, 0) != (ssize_t)KSMT_PAGE_SIZE ||
	    fsync(fd))
		err = -errno;
	if (fd >= 0)
		close(fd);
	free(hdr);
	return err;
}

const char *ksmt_zram_swap_on(struct ksmt_zram_swap *z, const char *size)
{
	long long bytes = ksmt_zram_disksize();

	if (bytes < 0)
		return "no zram0";
	if (bytes != 0)
		return "zram0 in use";
	if (ksmt_write_file(KSMT_ZRAM_SYSFS "/disksize", size))
		return "cannot size zram0";
	z->sized = true;
	bytes = ksmt_zram_disksize();
	if (bytes < (long long)(2 * KSMT_PAGE_SIZE))
		return "zram0 did not take its size";
	if (ksmt_make_swap(KSMT_ZRAM_DEV, bytes))
		return "cannot write a swap signature to " KSMT_ZRAM_DEV;
	if (swapon(KSMT_ZRAM_DEV, 0))
		return "swapon " KSMT_ZRAM_DEV " failed";
	z->on = true;
	return NULL;
}

int ksmt_zram_swap_off(struct ksmt_zram_swap *z)
{
	if (!z->on)
		return 0;
	if (swapoff(KSMT_ZRAM_DEV))
		return -errno;
	z->on = false;
	return 0;
}

int ksmt_zram_swap_down(struct ksmt_zram_swap *z)
{
	int err = ksmt_zram_swap_off(z);

	if (!err && z->sized) {
		err = ksmt_write_file(KSMT_ZRAM_SYSFS "/reset", "1");
		if (!err)
			z->sized = false;
	}
	return err;
}

const char *ksmt_swap_env_up(struct ksmt_swap_env *env, const char *size,
			     const char *cgroup)
{
	const char *why = ksmt_zram_swap_on(&env->zram, size);

	if (!why)
		why = ksmt_cgroup_make(&env->cg, cgroup);
	if (why)
		return why;
	if (!ksmt_cgroup_has(&env->cg, "memory.reclaim"))
		return "no memory.reclaim";
	if (ksmt_cgroup_join(&env->cg, 0))
		return "cannot join the cgroup";
	return NULL;
}

void ksmt_swap_env_down(struct ksmt_swap_env *env)
{
	ksmt_cgroup_remove(&env->cg);
	ksmt_zram_swap_down(&env->zram);
}
