// SPDX-License-Identifier: GPL-2.0
/*
 * KSM merge domains (/sys/kernel/mm/ksm/merge_scope) and memory.ksm_stat:
 *
 *  - abi: every value of merge_scope, -EINVAL for bad ones and -EBUSY
 *    while KSM pages exist, each leaving the value as it was; the
 *    memory.ksm_stat of the root and of an empty cgroup.
 *  - isolation: tenants in two memory cgroups hold the same contents.
 *    Under "global" all merge; under "cgroup" only those of one cgroup
 *    share a frame (/proc/<pid>/pagemap); under "process" none but the
 *    copies a process holds itself. The counters are exact, and the
 *    memory.ksm_stat of the cgroups add up to the global counters.
 *  - move (per scope): a process that moves to another cgroup leaves
 *    its old cgroup's KSM pages and merges in the new one under
 *    "cgroup"; under "global" it keeps sharing.
 *  - fork (per scope): a child forked from a process with KSM pages
 *    shares them, but under "process" gets pages of its own.
 *  - probe: an attacker times its own writes to pages equal to a
 *    victim's and to pages nobody else has. Under "global" the two are
 *    told apart (the copy-on-write fault of a merged page is the side
 *    channel); under "cgroup" and "process" they are not (Mann-Whitney
 *    U test, the numbers printed).
 *
 * Every tenant checks at the end that its pages read back as written.
 * Root only; nothing else may use KSM while this runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"
#include "lib/ksm_cgroup.h"

#define DOM_NS		0xd0a1		/* contents all tenants hold */
#define DOM_UNIQUE_NS	0xd0b1		/* contents of one tenant alone */
#define DOM_PAGES	48		/* pages of shared content per tenant */
#define DOM_TENANTS	4
#define DOM_SCANS	4		/* full scans to let ksmd settle */
#define PROBE_PAIRS	512
/* |z| of a Mann-Whitney U test above which two samples differ. */
#define PROBE_Z		4.0

/*
 * A tenant: a process in a cgroup holding npages pages: copies times the
 * same npages / copies shared contents, or, for the attacker of the
 * probe, PROBE_PAIRS shared contents and PROBE_PAIRS of its own, mixed
 * at random (probe_group[]).
 */
struct tenant {
	pid_t pid;
	struct ksmt_chan ch;
	char *base;
	size_t npages;
	int copies;		/* the shared contents are held this many times */
	bool probe;		/* every other page is a content of its own */
};

/*
 * Which of the attacker's pages holds which of the victim's contents (-1:
 * one of its own). Chosen at random, so that whatever else makes the
 * time of a write depend on where the page is (its neighbours, the order
 * of the writes) falls on both kinds alike: under "no channel", the two
 * samples are then two random halves of one, as the U test assumes.
 */
static int probe_group[2 * PROBE_PAIRS];

static void probe_shuffle(void)
{
	struct ksmt_rng rng = { .state = 0xd0c5 };
	int i, g = 0;

	for (i = 0; i < 2 * PROBE_PAIRS; i++)
		probe_group[i] = i < PROBE_PAIRS ? 0 : -1;
	for (i = 2 * PROBE_PAIRS - 1; i > 0; i--) {
		int j = ksmt_rand_below(&rng, i + 1), x = probe_group[i];

		probe_group[i] = probe_group[j];
		probe_group[j] = x;
	}
	for (i = 0; i < 2 * PROBE_PAIRS; i++)
		if (!probe_group[i])
			probe_group[i] = g++;
}

static u64 tenant_key(const struct tenant *t, size_t i, int who)
{
	if (t->probe && probe_group[i] < 0)
		return ksmt_unique_key(DOM_UNIQUE_NS + who, i);
	if (t->probe)
		return ksmt_group_key(DOM_NS, probe_group[i]);
	return ksmt_group_key(DOM_NS, i % (t->npages / t->copies));
}

/* Times a write to each page, in address order, into ns[]. */
static void tenant_probe(struct tenant *t, double *ns)
{
	struct timespec a, b;
	size_t i;

	for (i = 0; i < t->npages; i++) {
		char *c = t->base + i * PAGE + 64;

		clock_gettime(CLOCK_MONOTONIC_RAW, &a);
		/* A write the compiler keeps: the same byte again. */
		__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
		clock_gettime(CLOCK_MONOTONIC_RAW, &b);
		ns[i] = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	}
}

/*
 * The tenant's process: joins cgroup cg, fills and marks its pages,
 * says 'r', then obeys: 'p' probe (results in ns[]), 'f' fork a child
 * that holds the same mappings (its pid goes up), 'v' verify ('y'/'n'),
 * 'q' quit. Setup failures exit 2.
 */
static void tenant_main(struct tenant *t, const char *cg, int who, double *ns)
{
	char cmd, path[160];
	size_t i;
	pid_t child;

	ksmt_chan_worker(&t->ch);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	if (ksmt_write_file(path, "0"))
		_exit(2);
	for (i = 0; i < t->npages; i++)
		ksmt_fill_page(t->base + i * PAGE, tenant_key(t, i, who));
	if (madvise(t->base, t->npages * PAGE, MADV_NOHUGEPAGE) ||
	    ksmt_mergeable(t->base, t->npages) || ksmt_send(t->ch.up[1], 'r'))
		_exit(2);
	while (!ksmt_recv(t->ch.down[0], &cmd, 600)) {
		switch (cmd) {
		case 'p':
			tenant_probe(t, ns);
			cmd = 'd';
			break;
		case 'f':
			child = fork();
			if (child == 0) {
				for (;;)
					pause();
			}
			if (write(t->ch.up[1], &child, sizeof(child)) !=
			    sizeof(child))
				_exit(2);
			continue;
		case 'v':
			cmd = 'y';
			for (i = 0; i < t->npages; i++)
				if (!ksmt_page_is(t->base + i * PAGE,
						  tenant_key(t, i, who)))
					cmd = 'n';
			break;
		default:
			_exit(0);
		}
		if (ksmt_send(t->ch.up[1], cmd))
			_exit(2);
	}
	_exit(3);
}

/* Starts tenant who in the cgroup cg; 0 or -1. */
static int tenant_start(struct tenant *t, const char *cg, int who,
			size_t npages, int copies, bool probe, double *ns)
{
	char msg = 0;

	t->npages = npages;
	t->copies = copies;
	t->probe = probe;
	t->base = ksmt_map(npages);
	if (t->base == MAP_FAILED || ksmt_chan_open(&t->ch))
		return -1;
	fflush(stdout);
	fflush(stderr);
	t->pid = fork();
	if (t->pid < 0)
		return -1;
	if (t->pid == 0)
		tenant_main(t, cg, who, ns);
	ksmt_chan_parent(&t->ch);
	/* Its pages are its own: the parent never touched them. */
	munmap(t->base, npages * PAGE);
	if (ksmt_recv(t->ch.up[0], &msg, KSMT_SCAN_TIMEOUT) || msg != 'r')
		return -1;
	return 0;
}

/* Sends cmd and returns the answer, 0 if none came. */
static char tenant_ask(struct tenant *t, char cmd)
{
	char msg = 0;

	if (ksmt_send(t->ch.down[1], cmd) ||
	    ksmt_recv(t->ch.up[0], &msg, 10 * KSMT_SCAN_TIMEOUT))
		return 0;
	return msg;
}

static void tenant_stop(struct tenant *t)
{
	if (t->pid <= 0)
		return;
	ksmt_kill(t->pid);
	ksmt_chan_close(&t->ch);
	t->pid = 0;
}

static unsigned long tenant_frame(const struct tenant *t, size_t i)
{
	return ksmt_frame_of(t->pid, t->base + i * PAGE);
}

/* What the tests of both fixtures set up: two cgroups, and tenants. */
struct dom_env {
	unsigned long taint;
	struct ksmt_cgroup cg[2];
	struct tenant t[DOM_TENANTS];
	pid_t forked;
	double *ns;	/* the probe's timings, shared with the attacker */
};

/* NULL, or why the test cannot run. */
static const char *env_setup(struct __test_metadata *_metadata,
			     struct dom_env *e)
{
	const char *why;

	e->taint = ksmt_test_begin();
	if (!ksmt_start_clean(_metadata))
		return "KSM sysfs missing or not root";
	if (!ksmt_exists("merge_scope"))
		return "no merge_scope: not this KSM";
	signal(SIGPIPE, SIG_IGN);
	why = ksmt_cgroup_make(&e->cg[0], "ksm_domains_a") ?:
	      ksmt_cgroup_make(&e->cg[1], "ksm_domains_b");
	if (why)
		return why;
	e->ns = mmap(NULL, 2 * PROBE_PAIRS * sizeof(double),
		     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (e->ns == MAP_FAILED)
		return "no memory for the probe's timings";
	return NULL;
}

static void env_teardown(struct __test_metadata *_metadata,
			 struct dom_env *e)
{
	int i;

	if (e->forked > 0)
		ksmt_kill(e->forked);
	for (i = 0; i < DOM_TENANTS; i++)
		tenant_stop(&e->t[i]);
	ksmt_cgroup_remove(&e->cg[1]);
	ksmt_cgroup_remove(&e->cg[0]);
	EXPECT_EQ(0, ksmt_restore_knobs());
	if (e->ns && e->ns != MAP_FAILED)
		munmap(e->ns, 2 * PROBE_PAIRS * sizeof(double));
	ksmt_test_end(_metadata, e->taint);
}

/* The two cgroups. */
enum { IN_A, IN_B };

/* The ABI: one run each. */
FIXTURE(abi) {
	struct dom_env e;
};

FIXTURE_SETUP(abi)
{
	const char *why = env_setup(_metadata, &self->e);

	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(abi)
{
	env_teardown(_metadata, &self->e);
}

/* The behaviour: one run per scope. */
FIXTURE(domains) {
	struct dom_env e;
};

FIXTURE_VARIANT(domains) {
	const char *scope;
};

FIXTURE_VARIANT_ADD(domains, global) {
	.scope = "global",
};

FIXTURE_VARIANT_ADD(domains, cgroup) {
	.scope = "cgroup",
};

FIXTURE_VARIANT_ADD(domains, process) {
	.scope = "process",
};

FIXTURE_SETUP(domains)
{
	const char *why = env_setup(_metadata, &self->e);

	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(domains)
{
	env_teardown(_metadata, &self->e);
}

static void scope_is(struct __test_metadata *_metadata, const char *want)
{
	char buf[64], sel[64];

	ASSERT_EQ(0, ksmt_read_str("merge_scope", buf, sizeof(buf)));
	snprintf(sel, sizeof(sel), "[%s]", want);
	if (!strstr(buf, sel))
		TH_LOG("merge_scope reads '%s', want %s", buf, sel);
	EXPECT_NE(NULL, strstr(buf, sel));
}

/* The four fields of a memory.ksm_stat. */
struct cg_stat {
	long items, zero, merging, profit;
};

static int cg_stat_read(const char *dir, struct cg_stat *s)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/memory.ksm_stat", dir);
	s->items = ksmt_file_field(path, "ksm_rmap_items");
	s->zero = ksmt_file_field(path, "ksm_zero_pages");
	s->merging = ksmt_file_field(path, "ksm_merging_pages");
	s->profit = ksmt_file_field(path, "ksm_process_profit");
	if (s->items < 0 || s->zero < 0 || s->merging < 0)
		return -1;
	return 0;
}

/* Lets ksmd run DOM_SCANS full scans, then stops it. */
static void settle(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, ksmt_run(1));
	ASSERT_EQ(0, ksmt_settle(DOM_SCANS));
}

TEST_F(abi, scope_values)
{
	static const char * const bad[] = {
		"\n", "Global", "globa", "global process", "cgroups",
		"1", "process\nx",
	};
	static const char * const good[] = { "cgroup", "process", "global" };
	unsigned int i;

	scope_is(_metadata, "global");
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		EXPECT_EQ(0, ksmt_write("merge_scope", good[i]));
		scope_is(_metadata, good[i]);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, ksmt_write("merge_scope", bad[i]));
		scope_is(_metadata, "global");
	}
	/* Two tenants of one cgroup merge: KSM pages exist. */
	ASSERT_EQ(0, tenant_start(&self->e.t[0], self->e.cg[0].path, 0,
				  DOM_PAGES, 1, false, NULL));
	ASSERT_EQ(0, tenant_start(&self->e.t[1], self->e.cg[0].path, 1,
				  DOM_PAGES, 1, false, NULL));
	settle(_metadata);
	ASSERT_EQ(DOM_PAGES, ksmt_get("pages_shared"));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-EBUSY, ksmt_write("merge_scope", good[i]));
		scope_is(_metadata, "global");
	}
	/* The value it has is no change. */
	EXPECT_EQ(0, ksmt_write("merge_scope", "global"));
	EXPECT_EQ(DOM_PAGES, ksmt_get("pages_shared"));
	/* Unmerged, it changes. */
	ASSERT_EQ(0, ksmt_run(2));
	EXPECT_EQ(0, ksmt_write("merge_scope", "process"));
	scope_is(_metadata, "process");
	EXPECT_EQ('y', tenant_ask(&self->e.t[0], 'v'));
	EXPECT_EQ('y', tenant_ask(&self->e.t[1], 'v'));
}

TEST_F(abi, ksm_stat)
{
	struct ksmt_counters c;
	struct cg_stat root, empty;

	ASSERT_EQ(0, cg_stat_read(KSMT_CGROOT, &root));
	ASSERT_EQ(0, cg_stat_read(self->e.cg[1].path, &empty));
	EXPECT_EQ(0, empty.items);
	EXPECT_EQ(0, empty.zero);
	EXPECT_EQ(0, empty.merging);
	EXPECT_EQ(0, empty.profit);
	/* Two tenants merge; the root sees them, the empty group does not. */
	ASSERT_EQ(0, tenant_start(&self->e.t[0], self->e.cg[0].path, 0,
				  DOM_PAGES, 1, false, NULL));
	ASSERT_EQ(0, tenant_start(&self->e.t[1], self->e.cg[0].path, 1,
				  DOM_PAGES, 1, false, NULL));
	settle(_metadata);
	ASSERT_EQ(0, ksmt_read_counters(&c));
	ASSERT_EQ(0, cg_stat_read(KSMT_CGROOT, &root));
	ASSERT_EQ(0, cg_stat_read(self->e.cg[1].path, &empty));
	EXPECT_EQ(2 * DOM_PAGES, root.merging);
	EXPECT_EQ(c.shared + c.sharing, root.merging);
	EXPECT_EQ(c.zero_pages, root.zero);
	EXPECT_LE(2 * DOM_PAGES, root.items);
	/* Same items: the two profits differ by the KSM pages themselves. */
	EXPECT_EQ(c.shared * (long)PAGE, root.profit - c.general_profit);
	EXPECT_EQ(0, empty.items);
	EXPECT_EQ(0, empty.merging);
	EXPECT_EQ(0, empty.profit);
}

/* Which tenant is in which domain under each scope. */

struct layout {
	int cg;		/* IN_A or IN_B */
	int copies;
};

/* Tenants 0 and 1 in A, 2 in B, 3 in B holding its contents twice. */
static const struct layout iso_layout[DOM_TENANTS] = {
	{ IN_A, 1 }, { IN_A, 1 }, { IN_B, 1 }, { IN_B, 2 },
};

static bool same_domain(const char *scope, int a, int b)
{
	if (!strcmp(scope, "global"))
		return true;
	if (!strcmp(scope, "cgroup"))
		return iso_layout[a].cg == iso_layout[b].cg;
	return a == b;
}

/*
 * Checks, through the frames the tenants map, that page i of tenants a
 * and b (or two copies in one tenant) share a frame exactly when they
 * are of one domain; returns the KSM pages and mappings it expects.
 */
static void check_frames(struct __test_metadata *_metadata,
			 struct tenant *t, const char *scope,
			 long *shared, long *sharing)
{
	/* Every mapping of content i: its tenant and its frame. */
	unsigned long frame[2 * DOM_TENANTS];
	int who[2 * DOM_TENANTS];
	int a, b, c, i, n, wrong = 0;

	*shared = *sharing = 0;
	for (i = 0; i < DOM_PAGES; i++) {
		int members;

		n = 0;
		for (a = 0; a < DOM_TENANTS; a++) {
			for (c = 0; c < t[a].copies; c++) {
				who[n] = a;
				frame[n] = tenant_frame(&t[a],
							c * DOM_PAGES + i);
				ASSERT_NE(0UL, frame[n]);
				n++;
			}
		}
		for (a = 0; a < n; a++) {
			for (b = 0; b < a; b++) {
				bool same = frame[a] == frame[b];

				if (same != same_domain(scope, who[a], who[b]))
					wrong++;
			}
		}
		/* Each domain with two mappings or more is one KSM page. */
		for (a = 0; a < DOM_TENANTS; a++) {
			bool first = true;

			for (b = 0; b < a; b++)
				if (same_domain(scope, a, b))
					first = false;
			if (!first)
				continue;
			members = 0;
			for (b = 0; b < DOM_TENANTS; b++)
				if (same_domain(scope, a, b))
					members += t[b].copies;
			if (members > 1) {
				(*shared)++;
				(*sharing) += members - 1;
			}
		}
	}
	if (wrong)
		TH_LOG("%s: %d pairs of pages share a frame across domains, or do not within one",
		       scope, wrong);
	EXPECT_EQ(0, wrong);
}

/*
 * Four tenants (two in A, two in B, one of which holds every content
 * twice) with the same contents: the frames they map say which merged,
 * the counters and each cgroup's memory.ksm_stat say exactly as much, and
 * the cgroups' stats add up to the global counters.
 */
TEST_F(domains, isolation)
{
	struct cg_stat st[2], root;
	struct ksmt_counters c;
	struct ksmt_stat ps;
	long shared, sharing, merging[2] = { 0, 0 }, items[2] = { 0, 0 };
	int i;

	ASSERT_EQ(0, ksmt_write("merge_scope", variant->scope));
	for (i = 0; i < DOM_TENANTS; i++)
		ASSERT_EQ(0, tenant_start(&self->e.t[i],
					  self->e.cg[iso_layout[i].cg].path, i,
					  iso_layout[i].copies * DOM_PAGES,
					  iso_layout[i].copies, false, NULL));
	settle(_metadata);
	check_frames(_metadata, self->e.t, variant->scope, &shared, &sharing);
	ASSERT_EQ(0, ksmt_read_counters(&c));
	TH_LOG("%s: pages_shared %ld pages_sharing %ld (want %ld %ld)",
	       variant->scope, c.shared, c.sharing, shared, sharing);
	EXPECT_EQ(shared, c.shared);
	EXPECT_EQ(sharing, c.sharing);
	EXPECT_EQ(0, c.zero_pages);
	for (i = 0; i < DOM_TENANTS; i++) {
		ASSERT_EQ(0, ksmt_read_stat(self->e.t[i].pid, &ps));
		merging[iso_layout[i].cg] += ps.merging_pages;
		items[iso_layout[i].cg] += ps.rmap_items;
	}
	ASSERT_EQ(0, cg_stat_read(self->e.cg[IN_A].path, &st[IN_A]));
	ASSERT_EQ(0, cg_stat_read(self->e.cg[IN_B].path, &st[IN_B]));
	ASSERT_EQ(0, cg_stat_read(KSMT_CGROOT, &root));
	for (i = IN_A; i <= IN_B; i++) {
		EXPECT_EQ(merging[i], st[i].merging);
		EXPECT_EQ(items[i], st[i].items);
	}
	TH_LOG("%s: ksm_merging_pages A %ld B %ld root %ld; items A %ld B %ld root %ld",
	       variant->scope, st[IN_A].merging, st[IN_B].merging,
	       root.merging, st[IN_A].items, st[IN_B].items, root.items);
	EXPECT_EQ(c.shared + c.sharing, st[IN_A].merging + st[IN_B].merging);
	EXPECT_EQ(root.merging, st[IN_A].merging + st[IN_B].merging);
	EXPECT_EQ(root.items, st[IN_A].items + st[IN_B].items);
	EXPECT_EQ(c.shared * (long)PAGE, root.profit - c.general_profit);
	for (i = 0; i < DOM_TENANTS; i++)
		EXPECT_EQ('y', tenant_ask(&self->e.t[i], 'v'));
}

/* Pages of tenants a and b (page i each) on one frame. */
static int frames_shared(struct dom_env *e, int a, int b)
{
	int i, n = 0;

	for (i = 0; i < DOM_PAGES; i++)
		n += tenant_frame(&e->t[a], i) == tenant_frame(&e->t[b], i);
	return n;
}

static void expect_counters(struct __test_metadata *_metadata,
			    const char *when, long shared, long sharing)
{
	struct ksmt_counters c;

	ASSERT_EQ(0, ksmt_read_counters(&c));
	TH_LOG("%s: shared %ld sharing %ld (want %ld %ld)", when, c.shared,
	       c.sharing, shared, sharing);
	EXPECT_EQ(shared, c.shared);
	EXPECT_EQ(sharing, c.sharing);
}

/*
 * Tenants 0 and 1 start in A, then 1 moves to B, where 2 then starts;
 * all hold the same contents. Under "global" nothing changes for 1: it
 * shares with 0, then with 2 too. Under "cgroup", 1 maps none of A's
 * frames once the pass after the move is over, and merges with 2 in B.
 * Under "process" nobody shares anything.
 */
TEST_F(domains, move)
{
	bool global = !strcmp(variant->scope, "global");
	bool cgroup = !strcmp(variant->scope, "cgroup");
	/* What A's two tenants share (under "process": nothing). */
	long in_a = global || cgroup ? DOM_PAGES : 0;
	struct ksmt_stat st;
	int i;

	ASSERT_EQ(0, ksmt_write("merge_scope", variant->scope));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, tenant_start(&self->e.t[i], self->e.cg[IN_A].path,
					  i, DOM_PAGES, 1, false, NULL));
	settle(_metadata);
	expect_counters(_metadata, "both in A", in_a, in_a);
	ASSERT_EQ(0, ksmt_cgroup_join(&self->e.cg[IN_B], self->e.t[1].pid));
	ASSERT_EQ(0, ksmt_run(1));
	/* The next pass over it is over by the end of the second. */
	ASSERT_EQ(0, ksmt_settle(2));
	EXPECT_EQ(global ? DOM_PAGES : 0, frames_shared(&self->e, 0, 1));
	expect_counters(_metadata, "1 moved to B", in_a,
			global ? DOM_PAGES : 0);
	ASSERT_EQ(0, ksmt_read_stat(self->e.t[1].pid, &st));
	EXPECT_EQ(global ? DOM_PAGES : 0, st.merging_pages);

	ASSERT_EQ(0, tenant_start(&self->e.t[2], self->e.cg[IN_B].path, 2,
				  DOM_PAGES, 1, false, NULL));
	settle(_metadata);
	EXPECT_EQ(global ? DOM_PAGES : 0, frames_shared(&self->e, 0, 1));
	EXPECT_EQ(in_a, frames_shared(&self->e, 1, 2));
	if (global)
		expect_counters(_metadata, "2 in B", DOM_PAGES, 2 * DOM_PAGES);
	else if (cgroup)
		expect_counters(_metadata, "2 in B", 2 * DOM_PAGES, DOM_PAGES);
	else
		expect_counters(_metadata, "2 in B", 0, 0);
	for (i = 0; i < 3; i++)
		EXPECT_EQ('y', tenant_ask(&self->e.t[i], 'v'));
}

/*
 * Tenant 0 holds its contents twice, which merge under every scope, then
 * forks. The child inherits the mappings of the KSM pages: under
 * "global" and "cgroup" (the child is in its parent's cgroup) it shares
 * them, as it would without merge domains; under "process" it gets pages
 * of its own, which merge with each other.
 */
TEST_F(domains, fork)
{
	bool process = !strcmp(variant->scope, "process");
	struct ksmt_stat st;
	int i, cross = 0;
	pid_t child = 0;

	ASSERT_EQ(0, ksmt_write("merge_scope", variant->scope));
	ASSERT_EQ(0, tenant_start(&self->e.t[0], self->e.cg[IN_A].path, 0,
				  2 * DOM_PAGES, 2, false, NULL));
	settle(_metadata);
	expect_counters(_metadata, "before fork", DOM_PAGES, DOM_PAGES);
	ASSERT_EQ(0, ksmt_send(self->e.t[0].ch.down[1], 'f'));
	ASSERT_EQ((ssize_t)sizeof(child),
		  read(self->e.t[0].ch.up[0], &child, sizeof(child)));
	ASSERT_LT(0, child);
	self->e.forked = child;
	settle(_metadata);
	for (i = 0; i < 2 * DOM_PAGES; i++)
		if (tenant_frame(&self->e.t[0], i) ==
		    ksmt_frame_of(child, self->e.t[0].base + i * PAGE))
			cross++;
	TH_LOG("%d of the child's pages on its parent's frames", cross);
	EXPECT_EQ(process ? 0 : 2 * DOM_PAGES, cross);
	if (process)
		expect_counters(_metadata, "after fork", 2 * DOM_PAGES,
				2 * DOM_PAGES);
	else
		expect_counters(_metadata, "after fork", DOM_PAGES,
				3 * DOM_PAGES);
	ASSERT_EQ(0, ksmt_read_stat(child, &st));
	EXPECT_EQ(2 * DOM_PAGES, st.merging_pages);
	EXPECT_EQ('y', tenant_ask(&self->e.t[0], 'v'));
}

/* Mann-Whitney U of x[] against y[] (n each), as a z score. */
static double mann_whitney_z(const double *x, const double *y, int n)
{
	double r = 0, u, mean, sd;
	int i, j;

	/* O(n^2), but n is small: rank of each x among all 2n values. */
	for (i = 0; i < n; i++) {
		double below = 0;

		for (j = 0; j < n; j++) {
			below += (y[j] < x[i]) + 0.5 * (y[j] == x[i]);
			if (j != i)
				below += (x[j] < x[i]) + 0.5 * (x[j] == x[i]);
		}
		r += below + 1;
	}
	u = r - n * (n + 1) / 2.0;
	mean = n * (double)n / 2;
	sd = sqrt(n * (double)n * (2 * n + 1) / 12);
	return (u - mean) / sd;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/*
 * The victim (tenant 0) holds PROBE_PAIRS contents; the attacker
 * (tenant 1) holds each of them too, and as many contents of its own,
 * mixed at random. Under "global" and "cgroup" the two
 * are in different cgroups; under "process" in the same one. Once ksmd
 * settled (and stopped), the attacker times one write to each page.
 */
TEST_F(domains, probe)
{
	double match[PROBE_PAIRS], other[PROBE_PAIRS], z, mm, mo;
	bool global = !strcmp(variant->scope, "global");
	int vcg = 0, acg = strcmp(variant->scope, "process") ? 1 : 0, i;
	int nm = 0, no = 0;

	probe_shuffle();
	ASSERT_EQ(0, ksmt_write("merge_scope", variant->scope));
	ASSERT_EQ(0, tenant_start(&self->e.t[0], self->e.cg[vcg].path, 0,
				  PROBE_PAIRS, 1, false, NULL));
	ASSERT_EQ(0, tenant_start(&self->e.t[1], self->e.cg[acg].path, 1,
				  2 * PROBE_PAIRS, 1, true, self->e.ns));
	settle(_metadata);
	EXPECT_EQ(global ? PROBE_PAIRS : 0, ksmt_get("pages_shared"));
	ASSERT_EQ('d', tenant_ask(&self->e.t[1], 'p'));
	for (i = 0; i < 2 * PROBE_PAIRS; i++) {
		if (probe_group[i] < 0)
			other[no++] = self->e.ns[i];
		else
			match[nm++] = self->e.ns[i];
	}
	ASSERT_EQ(PROBE_PAIRS, nm);
	ASSERT_EQ(PROBE_PAIRS, no);
	z = mann_whitney_z(match, other, PROBE_PAIRS);
	mm = median(match, PROBE_PAIRS);
	mo = median(other, PROBE_PAIRS);
	TH_LOG("%s: median write to a victim's content %.0f ns, to its own %.0f ns",
	       variant->scope, mm, mo);
	TH_LOG("%s: ratio %.2f, Mann-Whitney z %.2f (%d pages each)",
	       variant->scope, mm / mo, z, PROBE_PAIRS);
	if (global) {
		/* The channel is real: the attacker tells them apart. */
		EXPECT_LT(PROBE_Z, z);
		EXPECT_LT(2.0, mm / mo);
	} else {
		EXPECT_GT(PROBE_Z, fabs(z));
	}
	EXPECT_EQ('y', tenant_ask(&self->e.t[0], 'v'));
	EXPECT_EQ('y', tenant_ask(&self->e.t[1], 'v'));
}

TEST_HARNESS_MAIN
