// SPDX-License-Identifier: GPL-2.0
/*
 * KSM stable nodes: finding the page of a node safely, the sharers list
 * (the reverse map) and its counters, and the end of a node's life.
 *
 * A node lives as long as its KSM page does: the page points at the node
 * through folio->mapping, and the node finds the page through its pfn.
 * When the page is freed (or reused), the node is stale; whoever notices
 * prunes it. All of this runs under ksm_lock.
 */

#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>

#include <trace/events/ksm.h>

#include "internal.h"

static bool ksm_folio_points_at(struct folio *folio,
				struct ksm_stable_node *node)
{
	return READ_ONCE(folio->mapping) ==
	       (void *)((unsigned long)node + PAGE_MAPPING_KSM);
}

/**
 * ksm_node_folio() - get the KSM page of a stable node
 * @node: the node
 * @lock: also lock the folio
 *
 * The pfn is only a hint: the page may have been freed, reused or migrated
 * since. It counts only if, with a reference held, the folio still points
 * at @node and @node still points at it. Migration moves the pfn
 * (folio_migrate_ksm()) while both folios are locked, so a changed pfn
 * means: look again.
 *
 * Return: the folio with a reference (and locked if @lock), or NULL if the
 * node is stale.
 */
struct folio *ksm_node_folio(struct ksm_stable_node *node, bool lock)
{
	struct folio *folio;
	unsigned long kpfn;

again:
	kpfn = READ_ONCE(node->kpfn);
	folio = pfn_folio(kpfn);
	if (!ksm_folio_points_at(folio, node))
		goto stale;
	if (!folio_try_get(folio)) {
		/* Frozen for migration, or on its way to being freed. */
		cond_resched();
		goto again;
	}
	if (!ksm_folio_points_at(folio, node))
		goto stale_put;
	if (lock) {
		folio_lock(folio);
		if (!ksm_folio_points_at(folio, node)) {
			folio_unlock(folio);
			goto stale_put;
		}
	}
	if (READ_ONCE(node->kpfn) != kpfn) {
		if (lock)
			folio_unlock(folio);
		folio_put(folio);
		goto again;
	}
	return folio;

stale_put:
	folio_put(folio);
stale:
	/* Pairs with the barrier in folio_migrate_ksm(). */
	smp_rmb();
	if (READ_ONCE(node->kpfn) != kpfn)
		goto again;
	return NULL;
}

/**
 * ksm_node_looks_alive() - whether a stable node seems to have its page
 * @node: the node
 *
 * A hint for a lookup, which only has to choose a node: no reference is
 * taken, so the page may be freed right after, as it may be after any
 * check. Whoever uses the node gets its page with ksm_node_folio(), and
 * prunes the node if it has none. A page that a migration is moving reads
 * as gone for a moment: ask ksm_node_folio() before pruning on this.
 *
 * Return: true if the folio at the node's pfn points at @node.
 */
bool ksm_node_looks_alive(struct ksm_stable_node *node)
{
	return ksm_folio_points_at(pfn_folio(READ_ONCE(node->kpfn)), node);
}

/**
 * ksm_sharer_add() - record that @item maps the KSM page of @node
 * @node: the node; its folio is locked, or not yet visible to rmap
 * @item: an item in neither tree
 * @anon_vma: anon_vma under which the rmap walk finds the mapping
 */
void ksm_sharer_add(struct ksm_stable_node *node, struct ksm_item *item,
		    struct anon_vma *anon_vma)
{
	unsigned long age = ksm_sharer_age_bits(ksm_item_age(item));

	VM_WARN_ON_ONCE(ksm_item_stable(item) || ksm_item_marked(item));
	VM_WARN_ON_ONCE((unsigned long)node & KSM_ITEM_COMMON_MASK);
	VM_WARN_ON_ONCE((unsigned long)anon_vma & KSM_SHARER_AGE_MASK);
	/*
	 * The key's space becomes the node's and the tree links' the
	 * sharer's. The smart scan age goes with the anon_vma pointer: when
	 * a write copies the page, the item carries on from it
	 * (ksm_sharer_del()).
	 */
	get_anon_vma(anon_vma);
	item->anon_vma = (struct anon_vma *)((unsigned long)anon_vma | age);
	if (node->sharers)
		ksm_count_add(&ksm_count.pages_sharing, 1);
	else
		ksm_count_add(&ksm_count.pages_shared, 1);
	item->next = node->sharers;
	node->sharers = item;
	node->nr_sharers++;
	item->info = (item->info & KSM_ITEM_COMMON_MASK) | (unsigned long)node |
		     KSM_ITEM_STABLE;
	ksm_count_add(&ksm_item_mm(item)->ksm_merging_pages, 1);
}

/**
 * ksm_sharer_del() - forget that @item maps the KSM page of its node
 * @item: a stable item; its node's folio is locked, or stale
 *
 * The item keeps the node's key as its own: it is the key of what the page
 * held when it was last looked at. It gets back the smart scan age it had
 * when it became a sharer (ksm_sharer_add()), so that a page merged and
 * written again and again is looked at less and less often, as one that
 * never merges is: each round costs its owner a copy-on-write fault.
 *
 * The list is singly linked: the item is looked for from its head. Sharers
 * leave in about the order they came (the newest first is at the head),
 * and a node has at most max_page_sharing of them.
 */
void ksm_sharer_del(struct ksm_item *item)
{
	struct ksm_stable_node *node = ksm_item_node(item);
	struct mm_struct *mm = ksm_item_mm(item);
	struct ksm_item **link;
	unsigned int age;

	trace_ksm_remove_rmap_item(node->kpfn, item, mm);
	for (link = &node->sharers; *link != item; link = &(*link)->next)
		;
	*link = item->next;
	node->nr_sharers--;
	if (node->sharers)
		ksm_count_add(&ksm_count.pages_sharing, -1);
	else
		ksm_count_add(&ksm_count.pages_shared, -1);
	age = ksm_sharer_age(item);
	put_anon_vma(ksm_sharer_anon_vma(item));
	item->anon_vma = NULL;
	item->next = NULL;
	item->info &= KSM_ITEM_COMMON_MASK & ~KSM_ITEM_STABLE;
	item->info |= (unsigned long)age << KSM_ITEM_AGE_SHIFT;
	ksm_item_set_key(item, node->key);
	ksm_count_add(&mm->ksm_merging_pages, -1);
}

/*
 * Chains: when a KSM page reaches max_page_sharing, the next page of the
 * same content becomes a KSM page of its own, a duplicate, right next to
 * the first in the stable tree. Nodes of one content that are two or more
 * form a chain; stable_node_chains counts chains, stable_node_dups the
 * nodes in them. Membership is kept in ->dup, since a stale neighbour's
 * content can no longer be read.
 */

/**
 * ksm_chain_joined() - account for a new node next to nodes of its content
 * @node: the node, just inserted
 * @same: returns 0 if another node holds the same content as @node
 * @arg: passed to @same
 */
void ksm_chain_joined(struct ksm_stable_node *node, ksm_content_cmp_t same,
		      void *arg)
{
	struct ksm_stable_node *other;
	unsigned int others = 0;
	bool next;

	/*
	 * Only the nodes next to @node have their content compared; past
	 * them, a chain is told by ->dup (a chain of another content with
	 * the same key next to this one is not worth a compare per node).
	 * Whether there are one or more others is all the counts need: the
	 * walk stops at two, not at the end of a chain of any length.
	 */
	for (next = false; ; next = true) {
		int order = 1;

		/* A stale neighbour would hide the chain behind it. */
		while ((other = ksm_stable_same_key(node, next)) &&
		       (order = same(other, arg)) == KSM_CMP_STALE)
			ksm_node_prune(other);
		if (other && !order) {
			if (!other->dup) {
				other->dup = true;
				ksm_count_add(&ksm_count.dups, 1);
			}
			do {
				others++;
				other = ksm_stable_same_key(other, next);
			} while (other && other->dup && others < 2);
		}
		if (next)
			break;
	}
	if (!others)
		return;
	node->dup = true;
	ksm_count_add(&ksm_count.dups, 1);
	if (others == 1)
		ksm_count_add(&ksm_count.chains, 1);
}

/* Accounts for @node leaving its chain, if it is in one. */
static void ksm_chain_left(struct ksm_stable_node *node)
{
	struct ksm_stable_node *other, *last = NULL;
	unsigned int others = 0;
	bool next;

	if (!node->dup)
		return;
	/* One other, or more: the walk stops at two (ksm_chain_joined()). */
	for (next = false; ; next = true) {
		for (other = ksm_stable_same_key(node, next);
		     other && other->dup && others < 2;
		     other = ksm_stable_same_key(other, next)) {
			last = other;
			others++;
		}
		if (next)
			break;
	}
	node->dup = false;
	ksm_count_add(&ksm_count.dups, -1);
	if (others == 1) {
		/* A single page of that content is no chain any more. */
		last->dup = false;
		ksm_count_add(&ksm_count.dups, -1);
		ksm_count_add(&ksm_count.chains, -1);
	}
}

/**
 * ksm_node_rehome() - move a node to the stable tree of another domain
 * @node: the node, whose page now lives on a node of domain @index
 * @index: the merge domain
 * @cmp: compares the node's content with other nodes
 * @arg: passed to @cmp
 *
 * With merge_across_nodes=0, a KSM page that migrated to another NUMA
 * node must be found by pages of that node, not of its old one.
 */
void ksm_node_rehome(struct ksm_stable_node *node, int index,
		     ksm_content_cmp_t cmp, void *arg)
{
	ksm_chain_left(node);
	rb_erase(&node->tree, ksm_stable_root(node->nid, node->key));
	node->nid = index;
	ksm_stable_insert(ksm_stable_root(index, node->key), node, cmp,
			  arg);
	ksm_chain_joined(node, cmp, arg);
}

/**
 * ksm_node_prune() - free a stale node and forget its sharers
 * @node: a node no folio points at any more
 */
void ksm_node_prune(struct ksm_stable_node *node)
{
	trace_ksm_remove_ksm_page(node->kpfn);
	while (node->sharers)
		ksm_sharer_del(node->sharers);
	ksm_chain_left(node);
	rb_erase(&node->tree, ksm_stable_root(node->nid, node->key));
	ksm_node_free(node);
}

/**
 * ksm_item_unlink_stable() - take a stable item off its node
 * @item: the item
 *
 * If the node turns out to be stale, it is pruned as a whole.
 */
void ksm_item_unlink_stable(struct ksm_item *item)
{
	struct ksm_stable_node *node = ksm_item_node(item);
	struct folio *folio = ksm_node_folio(node, true);

	if (!folio) {
		ksm_node_prune(node);
		return;
	}
	ksm_sharer_del(item);
	folio_unlock(folio);
	folio_put(folio);
}

/**
 * ksm_item_unlink_written() - take a sharer off its node after a write
 * @item: a stable item whose address maps a private page now: a write
 *	copied the KSM page
 *
 * The key of the content the page had goes too: the page was written, and
 * what it holds is not known until a look hashes it. So a page whose merge
 * a write undid merges again only after a look of its own, never by the
 * old key or in a pass that skips it (ksm_offer_skipped()); with the smart
 * scan age it kept (ksm_sharer_del()), a page written again and again
 * after each merge is merged less and less often.
 */
void ksm_item_unlink_written(struct ksm_item *item)
{
	ksm_item_unlink_stable(item);
	item->info &= ~KSM_ITEM_HASHED;
}

/**
 * ksm_node_retire() - end a node whose page nobody maps any more
 * @node: the node
 *
 * The page, if still around (in the swap cache, say), becomes an ordinary
 * page no longer known to KSM.
 *
 * Return: 0, or -EBUSY if the page is still mapped.
 */
int ksm_node_retire(struct ksm_stable_node *node)
{
	struct folio *folio = ksm_node_folio(node, true);

	if (folio) {
		if (folio_mapped(folio)) {
			folio_unlock(folio);
			folio_put(folio);
			return -EBUSY;
		}
		ksm_folio_set_node(folio, NULL);
		folio_unlock(folio);
		folio_put(folio);
	}
	ksm_node_prune(node);
	return 0;
}

/* What a sweep over all stable nodes does to each. */
enum ksm_sweep {
	KSM_PRUNE_STALE,	/* prune it if it is stale */
	KSM_RETIRE,		/* end it if its page is not mapped */
};

static int ksm_sweep_one(struct ksm_stable_node *node, enum ksm_sweep what)
{
	struct folio *folio;

	if (what == KSM_RETIRE)
		return ksm_node_retire(node);
	folio = ksm_node_folio(node, false);
	if (folio)
		folio_put(folio);
	else
		ksm_node_prune(node);
	return 0;
}

/*
 * Visits every stable node whose pfn is in [@start_pfn, @end_pfn).
 * Returns the last error of a visit, or 0.
 */
static int ksm_sweep_nodes(enum ksm_sweep what, unsigned long start_pfn,
			   unsigned long end_pfn)
{
	unsigned long i;
	int err = 0;

	for (i = 0; i < ksm_stable_buckets(); i++) {
		struct rb_node *n = rb_first(ksm_stable_root_at(i));

		while (n) {
			struct ksm_stable_node *node;
			unsigned long kpfn;

			node = rb_entry(n, struct ksm_stable_node, tree);
			n = rb_next(n);
			/* Migration moves it meanwhile (folio_migrate_ksm()). */
			kpfn = READ_ONCE(node->kpfn);
			if (kpfn >= start_pfn && kpfn < end_pfn)
				err = ksm_sweep_one(node, what) ?: err;
			cond_resched();
		}
		/* Most buckets are empty where few pages are merged. */
		if (!(i % 1024))
			cond_resched();
	}
	return err;
}

/**
 * ksm_prune_all_stale() - prune the stale nodes whose pfn is in a range
 * @start_pfn: first pfn
 * @end_pfn: pfn after the last
 */
void ksm_prune_all_stale(unsigned long start_pfn, unsigned long end_pfn)
{
	ksm_sweep_nodes(KSM_PRUNE_STALE, start_pfn, end_pfn);
}

/**
 * ksm_retire_all_nodes() - end every node whose page nobody maps
 *
 * Return: 0, or -EBUSY if some KSM page is still mapped.
 */
int ksm_retire_all_nodes(void)
{
	return ksm_sweep_nodes(KSM_RETIRE, 0, ULONG_MAX);
}

/**
 * ksm_no_stable_nodes() - whether no KSM page exists at all
 *
 * Return: true when every stable tree is empty.
 */
bool ksm_no_stable_nodes(void)
{
	return ksm_count.stable_nodes == 0;
}
