/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Swap on zram0 for the KSM kselftests: sizing the device, writing a swap
 * signature, swapon(), and taking all of that down again. Nothing here
 * touches KSM.
 */
#ifndef KSM_SWAP_H
#define KSM_SWAP_H

#include <stdbool.h>

#include "ksm_cgroup.h"

#define KSMT_ZRAM_DEV		"/dev/zram0"
#define KSMT_ZRAM_SYSFS		"/sys/block/zram0"

/* What ksmt_zram_swap_on() set up, and so what has to be taken down. */
struct ksmt_zram_swap {
	bool sized;		/* disksize set by us: reset the device */
	bool on;		/* KSMT_ZRAM_DEV is swap */
};

/*
 * Makes an unused zram0 of size bytes (a string zram takes, e.g. "32M")
 * the swap device. Returns NULL, or the reason why not; either way *z
 * says what to take down.
 */
const char *ksmt_zram_swap_on(struct ksmt_zram_swap *z, const char *size);
/* swapoff() only, the device stays sized; 0 or -errno. */
int ksmt_zram_swap_off(struct ksmt_zram_swap *z);
/* swapoff() and reset, as needed; 0 or the first -errno. */
int ksmt_zram_swap_down(struct ksmt_zram_swap *z);

/* zram swap, and a memory cgroup of the caller's own that it is in. */
struct ksmt_swap_env {
	struct ksmt_zram_swap zram;	/* zram0 as swap */
	struct ksmt_cgroup cg;		/* the memory cgroup; we are in it */
};

/*
 * Sets up size bytes of zram swap and joins the memory cgroup of that
 * name, which must offer memory.reclaim. Returns NULL, or the reason why
 * not; either way ksmt_swap_env_down() takes down what was set up.
 */
const char *ksmt_swap_env_up(struct ksmt_swap_env *env, const char *size,
			     const char *cgroup);
void ksmt_swap_env_down(struct ksmt_swap_env *env);

#endif /* KSM_SWAP_H */
