// SPDX-License-Identifier: GPL-2.0
/*
 * KSM merging: what ksmd does with one scanned page. It looks the page up
 * in the stable tree, then in the unstable tree, and merges it where it
 * finds its twin. The page-table surgery that takes (write-protect the
 * page that becomes a KSM page; clear the PTE of a page merged into one,
 * compare the content, then point the PTE at the shared page or the zero
 * page and drop the old one) is pte.c's.
 */

#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/swap.h>

#include "../internal.h"
#include <trace/events/ksm.h>

#include "internal.h"

/* Unstable items of equal key compared at most, per scanned page. */
#define KSM_MAX_UNSTABLE_PROBES	8

/* The node of a folio we hold a reference to. */
static int ksm_folio_nid(const struct folio *folio)
{
	/*
	 * Its node bits never change, but others flip other bits of the
	 * same flags word atomically meanwhile (PG_anon_exclusive when
	 * migration unmaps it, PG_locked): a race on bits not looked at.
	 */
	return data_race(folio_nid(folio));
}

/*
 * With merge_across_nodes=0 two pages merge only on the same node; their
 * trees say so at lookup, but a page may have migrated since.
 */
static bool ksm_same_domain(struct folio *a, struct folio *b)
{
	return READ_ONCE(ksm_knobs.merge_across_nodes) ||
	       ksm_folio_nid(a) == ksm_folio_nid(b);
}

/* The key of @page's content, salted for the merge domain being scanned. */
static u64 ksm_page_key(struct page *page)
{
	return ksm_unstable_key(ksm_page_checksum(page) ^ ksm_cursor.salt);
}

/*
 * Hashes the page of @item, which failed a compare under the item's key,
 * and gives the item the key found. Return: whether the key changed (the
 * page changed) rather than stayed (the contents share a key).
 */
static bool ksm_rekey(struct ksm_item *item, struct page *page)
{
	u64 key = ksm_page_key(page);

	if (key == ksm_item_key(item))
		return false;
	ksm_item_set_key(item, key);
	return true;
}

/*
 * Merges the page @item maps into the KSM page of @node. Return: 0, -ENOENT
 * if the node has lost its page (it is pruned), or why the merge failed.
 */
static int ksm_merge_into_node(struct ksm_item *item,
			       struct vm_area_struct *vma,
			       struct ksm_page *pg,
			       struct ksm_stable_node *node)
{
	struct folio *kfolio = ksm_node_folio(node, true);
	int err = 0;

	if (!kfolio) {
		ksm_node_prune(node);
		return -ENOENT;
	}
	/* Already mapped here, e.g. inherited through fork: just record it. */
	if (kfolio == pg->folio)
		err = 0;
	/* Memory failure took the page: nobody new may map it. */
	else if (folio_test_hwpoison(kfolio))
		err = -EHWPOISON;
	/* Equal salted keys, other domains: a 64-bit collision. */
	else if (node->domain != ksm_cursor.domain)
		err = -EAGAIN;
	/* Not yet moved to the tree of its node: try again later. */
	else if (!ksm_same_domain(kfolio, pg->folio))
		err = -EBUSY;
	else
		err = ksm_share(vma, ksm_item_addr(item), pg,
				folio_page(kfolio, 0));
	trace_ksm_merge_with_ksm_page(kfolio, folio_pfn(kfolio), item,
				      vma->vm_mm, err);
	if (!err)
		ksm_sharer_add(node, item, vma->anon_vma);
	folio_unlock(kfolio);
	folio_put(kfolio);
	return err;
}

/* Orders a scanned page against the KSM page of a node of equal key. */
static int ksm_cmp_with_node(struct ksm_stable_node *node, void *arg)
{
	struct folio *kfolio = ksm_node_folio(node, false);
	int ret;

	if (!kfolio)
		return KSM_CMP_STALE;
	/*
	 * The page of another merge domain is not looked at: its domain
	 * orders it (only a collision of salted keys gets it here).
	 */
	if (node->domain != ksm_cursor.domain) {
		folio_put(kfolio);
		return ksm_cursor.domain < node->domain ? -1 : 1;
	}
	/*
	 * A page being scanned is still writable: its owner may write it
	 * during the comparison. Intended: the order found only guides the
	 * search, and ksm_share() compares again once the page's PTE is
	 * cleared. (Nobody writes a KSM page, the other callers' case.)
	 */
	ret = data_race(memcmp_pages(arg, folio_page(kfolio, 0)));
	folio_put(kfolio);
	return ret;
}

/*
 * Whether @node still has its KSM page; its content is not looked at. The
 * merge takes the page locked and prunes the node if it has gone since
 * (ksm_merge_into_node()): a node that looks alive is taken as it is, and
 * only one that does not is asked again, with a reference, before pruning.
 */
static int ksm_node_alive(struct ksm_stable_node *node, void *arg)
{
	struct folio *kfolio;

	if (ksm_node_looks_alive(node))
		return 0;
	kfolio = ksm_node_folio(node, false);
	if (!kfolio)
		return KSM_CMP_STALE;
	folio_put(kfolio);
	return 0;
}

/*
 * Whether the scanned page (@arg) holds the content of @node, of the key
 * looked up: the key tells it while no other content has that key; the
 * merge compares the content in any case, once the page is
 * write-protected. In a run of collided keys, content is compared.
 */
static int ksm_cmp_for_lookup(struct ksm_stable_node *node, void *arg)
{
	if (node->collided)
		return ksm_cmp_with_node(node, arg);
	return ksm_node_alive(node, arg);
}

/*
 * The stable node holding the content of @page (of key @key) that can
 * take one more sharer, pruning stale nodes met on the way. Duplicates of
 * a content are a run of ->dup nodes, the newest (emptiest) first.
 */
static struct ksm_stable_node *ksm_stable_lookup(int index, u64 key,
						 struct page *page)
{
	struct rb_root *root = ksm_stable_root(index, key);
	unsigned int limit = READ_ONCE(ksm_knobs.max_page_sharing);
	struct ksm_stable_node *node;
	struct rb_node **link, *parent;

	for (;;) {
		node = ksm_stable_find(root, key, ksm_cmp_for_lookup, page,
				       &link, &parent);
		if (!node || link)
			break;
		ksm_node_prune(node);
	}
	/*
	 * A node without sharers is no target: its page is on its way out,
	 * or memory failure poisoned it and holds it for good.
	 */
	while (node) {
		if (node->nr_sharers && node->nr_sharers < limit)
			return node;
		if (!node->dup)
			break;
		node = ksm_stable_same_key(node, true);
		if (node && !node->dup)
			break;
	}
	return NULL;
}

/* Looks at the page an unstable item maps; holds the item's mmap_lock. */
struct ksm_peer {
	struct ksm_item *item;
	struct vm_area_struct *vma;
	struct ksm_page pg;
	bool unlock_mm;
};

static int ksm_peer_get(struct ksm_peer *peer, struct mm_struct *mm)
{
	struct mm_struct *pmm = ksm_item_mm(peer->item);
	unsigned long addr = ksm_item_addr(peer->item);
	struct folio_walk fw;
	struct folio *folio;

	peer->unlock_mm = false;
	peer->pg.folio = NULL;
	if (pmm != mm) {
		if (!mmap_read_trylock(pmm))
			return -EBUSY;
		peer->unlock_mm = true;
	}
	if (!atomic_read(&pmm->mm_users))
		return -ESRCH;
	peer->vma = vma_lookup(pmm, addr);
	if (!peer->vma || !ksm_vma_mergeable(peer->vma))
		return -ESRCH;
	folio = folio_walk_start(&fw, peer->vma, addr, 0);
	if (!folio)
		return -ESRCH;
	if (folio_test_anon(folio) && !folio_test_ksm(folio)) {
		folio_get(folio);
		peer->pg.folio = folio;
		peer->pg.page = fw.page;
	}
	folio_walk_end(&fw, peer->vma);
	return peer->pg.folio ? 0 : -ESRCH;
}

static void ksm_peer_put(struct ksm_peer *peer)
{
	if (peer->pg.folio)
		folio_put(peer->pg.folio);
	if (peer->unlock_mm)
		mmap_read_unlock(ksm_item_mm(peer->item));
}

/*
 * Whether a page of a pair may become the KSM page where it is: only if
 * the PTE at which we found it is its one mapping. A page still shared with
 * another process since fork() would become a KSM page there too, in a
 * mapping no sharer stands for once ours is gone: reclaim, migration and
 * memory failure would miss it, and a process that never asked for KSM
 * (the parent of a mergeable child, say) would keep a KSM page mapped for
 * good. The same goes for swap PTEs of other processes that would map it
 * from the swap cache later: the page leaves the swap cache first, which
 * works only if no swap PTE refers to it any more. Nobody can map the page
 * anew meanwhile: its folio is locked (swap-in and migration wait for
 * it), and the mmap_lock of its mm keeps fork() and mremap() away.
 */
static bool ksm_sole_mapping(struct folio *folio)
{
	if (folio_mapcount(folio) != 1)
		return false;
	return !folio_test_swapcache(folio) || folio_free_swap(folio);
}

/*
 * Turns the page of @keep into a new KSM page of key @key and merges the
 * page of @drop into it, if it has the same content. Both folios are
 * locked, @keep's PTE is write-protected and its page of key @key, and
 * mapped there alone. @drop's page is compared with it once its PTE is
 * cleared (ksm_share_locked()): one walk of its page table, and a page
 * that turns out different keeps its writable PTE. An item of the pair
 * that is in the unstable tree leaves it; if @drop's page cannot be
 * replaced, all goes back as it was. Return: 0, -EAGAIN if the contents
 * differ, or why @drop's page could not be replaced.
 */
static int ksm_pair_into(struct ksm_peer *keep, struct ksm_peer *drop,
			 int index, u64 key)
{
	unsigned int gen = ksm_cursor.gen;
	bool keep_unstable = ksm_item_in_unstable(keep->item, gen);
	struct folio *folio = keep->pg.folio;
	struct address_space *anon_mapping = folio->mapping;
	struct anon_vma *anon_vma = folio_anon_vma(folio);
	unsigned long age = keep->item->info & KSM_ITEM_AGE_MASK;
	struct ksm_stable_node *node;
	int err;

	node = ksm_node_alloc();
	if (!node)
		return -ENOMEM;
	if (keep_unstable)
		ksm_unstable_erase(keep->item);
	/*
	 * Equal salted keys: both pages are of the domain of the page being
	 * scanned.
	 */
	node->kpfn = folio_pfn(folio);
	node->key = key;
	node->nid = index;
	node->domain = ksm_cursor.domain;
	ksm_folio_set_node(folio, node);
	ksm_stable_insert(ksm_stable_root(index, key), node,
			  ksm_cmp_with_node, keep->pg.page);
	ksm_chain_joined(node, ksm_cmp_with_node, keep->pg.page);
	ksm_sharer_add(node, keep->item, anon_vma);

	err = ksm_share_locked(drop->vma, ksm_item_addr(drop->item), &drop->pg,
			       keep->pg.page);
	/* As upstream: one event for the page made KSM, one for its twin. */
	if (!err)
		trace_ksm_merge_with_ksm_page(NULL, node->kpfn, keep->item,
					      keep->vma->vm_mm, 0);
	trace_ksm_merge_with_ksm_page(folio, node->kpfn, drop->item,
				      drop->vma->vm_mm, err);
	if (!err) {
		if (ksm_item_in_unstable(drop->item, gen))
			ksm_unstable_erase(drop->item);
		ksm_sharer_add(node, drop->item, drop->vma->anon_vma);
		return 0;
	}
	/*
	 * No twin after all: the kept page goes back to what it was, and its
	 * item to the smart scan age it had.
	 */
	ksm_sharer_del(keep->item);
	keep->item->info = (keep->item->info & ~KSM_ITEM_AGE_MASK) | age;
	WRITE_ONCE(folio->mapping, anon_mapping);
	ksm_node_prune(node);
	if (keep_unstable)
		ksm_unstable_add(index, keep->item, ksm_cursor.gen);
	return err;
}

/*
 * Merges the page of @item with that of the unstable @peer into a new KSM
 * page: one of the two becomes it, the other is replaced, if their contents
 * are the same. Both are locked; the one kept is write-protected and
 * hashed, the other compared with it under its PTE lock (ksm_pair_into()).
 *
 * The pair is found under the key of the last look of @item's page. The
 * page kept is hashed once it is write-protected: its key must be that one,
 * and is the new KSM page's. That is the volatility check of both pages:
 * the one kept did not change since its key was taken, and the other, of
 * that key then, has its content now. The peer's page is kept if it can
 * be: ours, replaced, is then released with the rest of the batch
 * (scan.c), not on its own by the peer's reference.
 *
 * *@hashed is set once our page was kept, and so hashed, or was found
 * changed. A page of the pair found changed gets its new key; a peer
 * leaves the unstable tree and is passed over (-ESRCH), while for ours the
 * search ends (-ESTALE): the caller hashes it if *@hashed is not set.
 */
static int ksm_merge_pair(struct ksm_item *item, struct vm_area_struct *vma,
			  struct ksm_page *pg, struct ksm_peer *peer, int index,
			  bool *hashed)
{
	struct ksm_peer self, *keep, *drop;
	u64 key;
	int err;

	err = ksm_page_lock_small(pg);
	if (err)
		return err;
	err = ksm_page_lock_small(&peer->pg);
	if (err)
		goto unlock_page;
	err = -EAGAIN;
	if (pg->folio == peer->pg.folio ||
	    !ksm_same_domain(pg->folio, peer->pg.folio))
		goto unlock_both;

	/* Our page is locked and will not split any more. */
	self = (struct ksm_peer){ .item = item, .vma = vma, .pg = *pg };
	keep = peer;
	drop = &self;
	if (!ksm_sole_mapping(peer->pg.folio)) {
		/* Both shared since fork(): wait for a twin of our own. */
		err = -ESRCH;
		if (!ksm_sole_mapping(pg->folio))
			goto unlock_both;
		keep = &self;
		drop = peer;
	}
	err = -EAGAIN;
	if (ksm_wrprotect(keep->vma, &keep->pg, ksm_item_addr(keep->item)))
		goto unlock_both;
	/*
	 * Ours, kept at an earlier candidate of this look, was hashed then
	 * and has stayed write-protected: a write would have copied it.
	 */
	if (keep == &self && *hashed)
		key = ksm_item_key(item);
	else
		key = ksm_page_key(keep->pg.page);
	if (key != ksm_item_key(item)) {
		/* The page kept changed since its key was taken. */
		err = -ESRCH;
		if (keep == &self)
			err = -ESTALE;
		else if (ksm_item_in_unstable(peer->item, ksm_cursor.gen))
			ksm_unstable_erase(peer->item);
		ksm_item_set_key(keep->item, key);
		goto done;
	}
	err = ksm_pair_into(keep, drop, index, key);
	/*
	 * The contents differ under one key: the other page changed since its
	 * key was taken, or the two contents share a key. A candidate is
	 * passed over: the next one may be the twin. Ours is hashed to tell:
	 * changed, the search ends (it is a page of new content); unchanged,
	 * the keys collide, and the search goes on.
	 */
	if (err == -EAGAIN && drop == &self) {
		err = -ESRCH;
		if (ksm_rekey(item, pg->page)) {
			*hashed = true;
			err = -ESTALE;
		}
	} else if (err == -EAGAIN) {
		err = -ESRCH;
	}
done:
	if (keep == &self)
		*hashed = true;
unlock_both:
	folio_unlock(peer->pg.folio);
unlock_page:
	folio_unlock(pg->folio);
	return err;
}

/* Maps the zero page in place of the empty page @item maps. */
static int ksm_merge_zero(struct ksm_item *item, struct vm_area_struct *vma,
			  struct ksm_page *pg)
{
	unsigned long addr = ksm_item_addr(item);
	int err = ksm_share(vma, addr, pg, NULL);

	trace_ksm_merge_one_page(my_zero_pfn(addr), item, vma->vm_mm, err);
	return err;
}

/*
 * Splits the huge folio of @pg while we hold the only extra reference on
 * it, so that two of its pages can become a pair. Return: 0 or -EBUSY.
 */
static int ksm_split_own_folio(struct ksm_page *pg)
{
	int err;

	if (!folio_trylock(pg->folio))
		return -EBUSY;
	err = split_huge_page(pg->page);
	/* The lock and our reference stay with the folio of @pg->page. */
	pg->folio = page_folio(pg->page);
	folio_unlock(pg->folio);
	return err ? -EBUSY : 0;
}

/*
 * Tries the unstable items of the key of @item; 0 once one merged, -ESRCH
 * if none did (ksm_merge_pair() for @hashed and -ESTALE).
 */
static int ksm_merge_unstable(struct ksm_item *item,
			      struct vm_area_struct *vma, struct ksm_page *pg,
			      int index, bool *hashed)
{
	u64 key = ksm_item_key(item);
	struct ksm_item **root = ksm_unstable_root(index, key);
	struct ksm_item *other = ksm_unstable_find(*root, key, NULL);
	int probes = KSM_MAX_UNSTABLE_PROBES;

	/* A failed merge may have changed the tree: each step from its root. */
	for (; other && probes--; other = ksm_unstable_find(*root, key, other)) {
		struct ksm_peer peer = { .item = other };
		int err = ksm_peer_get(&peer, vma->vm_mm);

		/*
		 * The twin is in our own huge page: with its reference held
		 * too the folio cannot split. Drop it, split, look again.
		 */
		if (!err && peer.pg.folio == pg->folio) {
			ksm_peer_put(&peer);
			if (!folio_test_large(pg->folio) ||
			    ksm_split_own_folio(pg))
				return -EBUSY;
			peer = (struct ksm_peer){ .item = other };
			err = ksm_peer_get(&peer, vma->vm_mm);
		}
		if (!err)
			err = ksm_merge_pair(item, vma, pg, &peer, index,
					     hashed);
		ksm_peer_put(&peer);
		if (!err)
			return 0;
		if (err != -ESRCH)
			return err;
	}
	return -ESRCH;
}

/**
 * ksm_offer_skipped() - keep a page smart scan sits out findable
 * @item: the item of the address; in no unstable tree of this pass
 * @vma: the VMA; its mm's mmap_lock is held for read
 * @pg: the page mapped there and its folio, with a reference held
 *
 * A page smart scan skips is not hashed this pass, but if its content was
 * steady when it was last looked at, it takes part in the unstable tree
 * under that key: it pairs with a new copy of itself already there, or
 * goes in for one still to come. A new copy of an old page so merges in
 * the pass it is first matched, instead of waiting for the pass in which
 * the old page is looked at again (up to 8 later). A pair hashes the page
 * it keeps once it is write-protected and compares the other with it
 * (ksm_merge_pair()), as always, so a page that changed since costs one
 * failed try.
 *
 * A sharer is skipped only once a write has copied its page: it leaves
 * its node, with its key (ksm_item_unlink_written()), and is not offered.
 *
 * Return: true if the page was only looked at (ksm_merge_page()).
 */
bool ksm_offer_skipped(struct ksm_item *item, struct vm_area_struct *vma,
		       struct ksm_page *pg)
{
	bool hashed = false;
	int index;

	if (ksm_item_stable(item)) {
		ksm_item_unlink_written(item);
		return false;
	}
	if (!ksm_item_hashed(item) || folio_test_ksm(pg->folio))
		return true;
	/* The zero page path wants a look at the page itself. */
	if (READ_ONCE(ksm_knobs.use_zero_pages) &&
	    ksm_item_key(item) == ksm_cursor.zero_key)
		return true;
	index = ksm_tree_index(ksm_folio_nid(pg->folio));
	if (ksm_merge_unstable(item, vma, pg, index, &hashed) == -ESRCH)
		ksm_unstable_add(index, item, ksm_cursor.gen);
	return false;
}

/*
 * The page maps the KSM page of another merge domain: its mm moved to
 * another memory cgroup since, or, under merge_scope "process", inherited
 * the mapping through fork(). It gets a copy of its own, and may merge
 * again in its domain later. The copy comes first: until it is made, a
 * sharer item stands for the mapping in the reverse map. If it cannot
 * be made now (no memory), the next look tries again.
 */
static void ksm_leave_domain(struct ksm_item *item,
			     struct vm_area_struct *vma)
{
	unsigned long addr = ksm_item_addr(item);

	if (ksm_unmerge_range(vma, addr, addr + PAGE_SIZE))
		return;
	if (ksm_item_stable(item))
		ksm_item_unlink_stable(item);
	/* The node's key it kept is salted for the other domain. */
	item->info &= ~KSM_ITEM_HASHED;
}

/*
 * Merges the page of @item into a KSM page of content key @key that can
 * take one more sharer. A node whose page went since the lookup was pruned
 * by the merge (-ENOENT): the lookup is done again, as another node of
 * that content may take the page. Return: 0 once merged, -ESRCH if there
 * is no such node, else why the merge failed.
 */
static int ksm_merge_by_lookup(struct ksm_item *item,
			       struct vm_area_struct *vma, struct ksm_page *pg,
			       int index, u64 key)
{
	struct ksm_stable_node *node;
	int err;

	do {
		node = ksm_stable_lookup(index, key, pg->page);
		if (!node)
			return -ESRCH;
		err = ksm_merge_into_node(item, vma, pg, node);
	} while (err == -ENOENT);
	return err;
}

/*
 * Merges the page of @item into the KSM page of content key @key or, with
 * use_zero_pages, into the zero page if @key is the empty page's. Return:
 * 0 once merged, -ESRCH if there is neither, else why the merge failed
 * (-EAGAIN: for the page's content, among others).
 */
static int ksm_merge_by_key(struct ksm_item *item, struct vm_area_struct *vma,
			    struct ksm_page *pg, int index, u64 key)
{
	int err = ksm_merge_by_lookup(item, vma, pg, index, key);

	/* Even if a KSM page of other bytes has the empty page's key. */
	if ((err == -ESRCH || err == -EAGAIN) &&
	    READ_ONCE(ksm_knobs.use_zero_pages) && key == ksm_cursor.zero_key)
		return ksm_merge_zero(item, vma, pg);
	return err;
}

/*
 * Whether @vma still maps @page at @addr. A batch's pages are collected
 * before any is handled (walk.c): a page's owner may have written it since,
 * while ksmd was at the pages before it, and a write fault that waited for
 * the page-table lock that ksmd held for them is then done.
 */
static bool ksm_still_mapped(struct vm_area_struct *vma, unsigned long addr,
			     struct page *page)
{
	struct folio_walk fw;
	bool same;

	if (!folio_walk_start(&fw, vma, addr, 0))
		return false;
	same = fw.page == page;
	folio_walk_end(&fw, vma);
	return same;
}

/**
 * ksm_hashes_at_age() - the policy of hashing a page with a key
 * @age: the page's smart scan age at this look (looks so far, not merged)
 *
 * A page whose last look gave it a key, and which matched nothing under
 * that key, is hashed at every other look: those of even age. At the
 * others the key goes unchecked until a pair checks it. From the age limit
 * on, where the age stays and smart scan looks once in 9 passes, it is
 * hashed at every look.
 *
 * Return: true if the page is hashed at this look.
 */
bool ksm_hashes_at_age(unsigned int age)
{
	return !(age & 1) || age >= KSM_ITEM_AGE_MAX;
}

/**
 * ksm_merge_page() - what ksmd does with one mapped page
 * @item: the item of the address; in no unstable tree of this pass
 * @vma: the VMA; its mm's mmap_lock is held for read
 * @pg: the page mapped there and its folio, with a reference held; the
 *	folio may change if it has to be split
 * @fresh: nothing but looks since the batch saw @pg (ksm_batch_process())
 *
 * A page that still maps the KSM page its item is a sharer of is only
 * looked at. Unless @fresh, that is checked in the page table first.
 *
 * A page whose content was hashed on an earlier look is first merged by
 * that key, unhashed: into the KSM page of that content, or the zero page
 * if it was empty. The merge compares the page with the shared one under
 * the PTE lock, and equal content is all a hash could tell: a page that
 * merges this way is not hashed at all. (The zero page is taken only by a
 * page whose content was steady, as below; equal to the zero page now, a
 * page hashes to the empty page's key it had.) If there is neither, the
 * page pairs with an unstable item of that key (ksm_merge_pair(), which
 * hashes the page it keeps). A page that changed costs a failed compare.
 * A page that failed the compare but hashes to its key still shares that
 * key with other content (anyone can write pages with one checksum): it
 * goes on to the unstable tree, where its twin may be.
 *
 * If nothing matched, at a look of odd age the page goes to the unstable
 * tree under that key, unhashed: a pair checks it. At the other looks
 * (ksm_hashes_at_age()), or if a pair found it changed, it is hashed, if
 * no pair did it: with new content, it merges into a KSM page of it or
 * waits for the next look (the volatility check); with the content of the
 * last look, it goes to the unstable tree. Both trees are looked up under
 * the key of the checksum salted for the page's merge domain (the
 * cursor's).
 *
 * Return: true if the page was only looked at.
 */
bool ksm_merge_page(struct ksm_item *item, struct vm_area_struct *vma,
		    struct ksm_page *pg, bool fresh)
{
	int index = ksm_tree_index(ksm_folio_nid(pg->folio));
	struct ksm_stable_node *node;
	bool known, hashed = false, rehashed = false;
	int err = -ESRCH;
	u64 last = 0;

	if (folio_test_ksm(pg->folio)) {
		node = ksm_folio_node(pg->folio);
		if (node->domain != ksm_cursor.domain) {
			ksm_leave_domain(item, vma);
			return false;
		}
		if (node->nid != index)
			ksm_node_rehome(node, index, ksm_cmp_with_node,
					pg->page);
		if (ksm_item_stable(item) && ksm_item_node(item) == node) {
			if (fresh || ksm_still_mapped(vma, ksm_item_addr(item),
						      pg->page))
				return true;
			/*
			 * Written since the batch saw it, while we were at the
			 * pages before it: the mapping this item stood for is
			 * gone. Its new page is looked at next pass.
			 */
			ksm_item_unlink_written(item);
			return false;
		}
		if (ksm_item_stable(item))
			ksm_item_unlink_stable(item);
		ksm_merge_into_node(item, vma, pg, node);
		return false;
	}
	/*
	 * Whatever KSM page it mapped, it maps a private page now: a write
	 * copied it, and this look hashes it (the key went with the write).
	 */
	if (ksm_item_stable(item))
		ksm_item_unlink_written(item);

	known = ksm_item_hashed(item);
	if (known) {
		last = ksm_item_key(item);
		err = ksm_merge_by_key(item, vma, pg, index, last);
		/*
		 * The page of our key holds other bytes: ours changed since
		 * its key was taken, or the two contents share a key. The
		 * hash tells; in a collision the twin may be in the unstable
		 * tree. (A pair that keeps our page hashes it again: only
		 * then is it write-protected.)
		 */
		if (err == -EAGAIN) {
			rehashed = true;
			if (!ksm_rekey(item, pg->page))
				err = -ESRCH;
		}
		if (err == -ESRCH)
			err = ksm_merge_unstable(item, vma, pg, index, &hashed);
		hashed |= rehashed;
		/* Merged, or failed for now for another reason than content. */
		if (err != -ESRCH && err != -EAGAIN && err != -ESTALE)
			return false;
		/*
		 * No twin, at a look of odd age: the page goes to the
		 * unstable tree under its key, unhashed. A pair checks the
		 * key (ksm_merge_pair()); a page that changed since costs
		 * one failed try, and is hashed at its next look.
		 */
		if (err == -ESRCH && !hashed &&
		    !ksm_hashes_at_age(ksm_item_age(item))) {
			ksm_unstable_add(index, item, ksm_cursor.gen);
			return false;
		}
	}
	if (!hashed)
		ksm_item_set_key(item, ksm_page_key(pg->page));
	if (!known || ksm_item_key(item) != last) {
		/*
		 * New content: a KSM page of it takes the page now; else it
		 * waits for the next look.
		 */
		ksm_merge_by_lookup(item, vma, pg, index, ksm_item_key(item));
		return false;
	}
	/*
	 * Steady content, without a twin in the unstable tree. If a KSM page
	 * of it failed to take the page, try again next pass: pairing the
	 * page with another would make a second KSM page of one content.
	 */
	if (err == -ESRCH)
		ksm_unstable_add(index, item, ksm_cursor.gen);
	return false;
}
