// SPDX-License-Identifier: GPL-2.0
/*
 * KSM merge domains: which pages may merge with which, as the merge_scope
 * knob says. Under "global" every page is in domain 0; under "cgroup" a
 * page is in the domain of its mm's memory cgroup (the inode number of
 * the cgroup's directory); under "process" in its mm's own (the id of
 * the mm's slot).
 *
 * A domain's pages are keyed in the trees by their checksum xor-ed with
 * the domain's salt: a keyed hash of the domain, under a key drawn at
 * boot, which user space can neither read nor predict. Pages of two
 * domains so never meet under one key in a tree (but with the odds of a
 * 64-bit collision), and the merge checks the domain of a stable node as
 * well before it maps its page. Under "global" the salt is 0: the keys
 * are today's, and nothing costs more.
 */

#include <linux/cgroup.h>
#include <linux/init.h>
#include <linux/memcontrol.h>
#include <linux/random.h>
#include <linux/siphash.h>

#include "internal.h"

const char * const ksm_scope_names[KSM_NR_SCOPES] = {
	[KSM_SCOPE_GLOBAL] = "global",
	[KSM_SCOPE_CGROUP] = "cgroup",
	[KSM_SCOPE_PROCESS] = "process",
};

static siphash_key_t ksm_salt_key __ro_after_init;

/**
 * ksm_domain_init() - draw the key the salts of the domains are made with
 */
void __init ksm_domain_init(void)
{
	get_random_bytes(&ksm_salt_key, sizeof(ksm_salt_key));
}

/**
 * ksm_scope_supported() - whether merge_scope may take a value
 * @scope: a value of enum ksm_merge_scope, or anything else
 *
 * Return: true if @scope is one, and the kernel can tell its domains
 * apart: "cgroup" needs the memory controller.
 */
bool ksm_scope_supported(unsigned int scope)
{
	if (scope == KSM_SCOPE_CGROUP)
		return !mem_cgroup_disabled();
	return scope < KSM_NR_SCOPES;
}

/**
 * ksm_domain_salt() - what the checksums of a domain's pages are xor-ed with
 * @scope: the merge_scope the domain is one of
 * @domain: the domain
 *
 * Return: 0 under "global"; else a value that is never 0 and, with all but
 * 2^-64 odds, differs between any two domains.
 */
u64 ksm_domain_salt(unsigned int scope, u32 domain)
{
	if (scope == KSM_SCOPE_GLOBAL)
		return 0;
	return siphash_2u32(scope, domain, &ksm_salt_key) ?: 1;
}

/* The memory cgroup domain of @mm: the inode number of its cgroup. */
static u32 ksm_memcg_domain(struct mm_struct *mm)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg = get_mem_cgroup_from_mm(mm);
	u32 domain;

	if (!memcg)
		return 0;
	/* The low half is the inode number, unique among live cgroups. */
	domain = lower_32_bits(cgroup_ino(memcg->css.cgroup));
	mem_cgroup_put(memcg);
	return domain;
#else
	return 0;
#endif
}

/**
 * ksm_domain_enter() - find the merge domain of the mm ksmd is to scan
 * @slot: the slot at the cursor; its mm's mmap_lock is held
 *
 * Sets the cursor's domain and salt, and the slot's salt. Called under
 * ksm_lock.
 *
 * Return: true if the mm is in another domain than last time (it moved
 * to another memory cgroup, or merge_scope changed): what its items keyed
 * for the old one must be forgotten.
 */
bool ksm_domain_enter(struct ksm_slot *slot)
{
	unsigned int scope = READ_ONCE(ksm_knobs.merge_scope);
	u32 domain = 0;

	if (scope == KSM_SCOPE_CGROUP)
		domain = ksm_memcg_domain(slot->base.mm);
	else if (scope == KSM_SCOPE_PROCESS)
		domain = slot->id;
	ksm_cursor.domain = domain;
	ksm_cursor.salt = ksm_domain_salt(scope, domain);
	if (slot->salt == ksm_cursor.salt)
		return false;
	slot->salt = ksm_cursor.salt;
	return true;
}
