// SPDX-License-Identifier: GPL-2.0
/*
 * KSM and userfaultfd write-protect, with exact checks (fixture uffd): a
 * write to a merged, protected page blocks and reaches the handler as a
 * write-protect fault while ksmd keeps merging; pages merged while
 * protected, and pages unmerged while protected, stay protected.
 *
 * Throughout, pages read back byte for byte as written; once ksmd settles
 * the counters of /sys/kernel/mm/ksm and /proc/<pid>/ksm_stat are exactly
 * what the pages that are left say; with the memory gone, every counter
 * is back to zero. Page frames (/proc/self/pagemap) show what shares a
 * frame, and pagemap's uffd-wp bit what is write-protected. No test may
 * taint the kernel (a WARNING, a bad page, an oops).
 *
 * Root only; nothing else may use KSM while this runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "../kselftest_harness.h"
#include "vm_util.h"
#include "lib/ksm_util.h"
#include "lib/ksm_harness.h"

/* ---- layouts ---------------------------------------------------------- */

/* The first page of a layout that holds a group content at or after i. */
static size_t next_group_page(const struct ksmt_layout *l, size_t i)
{
	while (i < l->npages && l->klass[i] < 0)
		i++;
	return i;
}

/* ---- userfaultfd write-protect ---------------------------------------- */

/*
 * A userfaultfd offering write-protect faults, or -errno; *skip says why
 * the kernel cannot offer one (then the test skips).
 */
static int uffd_open_wp(const char **skip)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP,
	};
	int fd, err;

	*skip = NULL;
	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		*skip = "userfaultfd() failed";
		return -errno;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
		*skip = "UFFDIO_API offers no UFFD_FEATURE_PAGEFAULT_FLAG_WP";
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

static int uffd_set_wp(int fd, void *addr, size_t len, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(fd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

/* Pages among npages at p that pagemap does not show write-protected. */
static long count_unprotected(const char *p, size_t npages)
{
	u64 *ents = calloc(npages ? npages : 1, sizeof(*ents));
	long n = 0;
	size_t i;

	if (!ents || ksmt_pagemap(0, p, npages, ents)) {
		free(ents);
		return -1;
	}
	for (i = 0; i < npages; i++)
		n += !(ents[i] & PM_UFFD_WP);
	free(ents);
	return n;
}

/* A thread writing one page, and whether it got through. */
struct wp_write {
	pthread_t thread;
	char *page;
	u64 key;
	int done;
};

static void *wp_writer(void *arg)
{
	struct wp_write *w = arg;

	ksmt_fill_page(w->page, w->key);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool wp_write_done(struct wp_write *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

static int wp_write_start(struct wp_write *w, char *page, u64 key)
{
	w->page = page;
	w->key = key;
	w->done = 0;
	return -pthread_create(&w->thread, NULL, wp_writer, w);
}

/*
 * The handler's side of a started write: 1 once it has come in as a
 * write-protect fault of its page (the writer is blocked in it), 0 if
 * the write went through without a fault, -errno for anything else.
 */
static int wp_write_fault(int uffd, struct wp_write *w, int timeout_ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	double end = ksmt_now() + timeout_ms / 1000.0;
	struct uffd_msg msg;
	int ret;

	for (;;) {
		ret = poll(&pfd, 1, 20);
		if (ret > 0)
			break;
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (wp_write_done(w))
			return 0;
		if (ksmt_now() > end)
			return -ETIMEDOUT;
	}
	if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
		return -EIO;
	if (msg.event != UFFD_EVENT_PAGEFAULT ||
	    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
		return -EBADMSG;
	if ((msg.arg.pagefault.address & ~(PAGE - 1)) != (uintptr_t)w->page)
		return -EFAULT;
	return wp_write_done(w) ? -EBADMSG : 1;
}

/* Un-protects the page of a write, which then goes on; waits for it. */
static int wp_write_release(int uffd, struct wp_write *w)
{
	int err = uffd_set_wp(uffd, w->page, PAGE, false);

	pthread_join(w->thread, NULL);
	return err;
}

FIXTURE(uffd) {
	unsigned long taint;
	int fd;
};

FIXTURE_SETUP(uffd)
{
	const char *skip;

	self->taint = ksmt_test_begin();
	self->fd = -1;
	if (!ksmt_start_clean(_metadata))
		SKIP(return, "KSM sysfs missing or not root");
	self->fd = uffd_open_wp(&skip);
	if (skip)
		SKIP(return, "%s (%s)", skip, strerror(-self->fd));
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ksmt_run(1));
}

FIXTURE_TEARDOWN(uffd)
{
	if (self->fd >= 0)
		close(self->fd);
	EXPECT_EQ(0, ksmt_restore_knobs());
	ksmt_test_end(_metadata, self->taint);
}

/*
 * A merged range registered for uffd-wp and write-protected: a write from
 * a thread to a merged page blocks, reaching the handler (us) as a
 * write-protect fault. While it waits, ksmd merges new duplicates of the
 * same contents elsewhere, counting exactly, and the page keeps its old
 * content. Un-protected, the write goes on and breaks COW for that page
 * alone.
 */
TEST_F_TIMEOUT(uffd, write_to_merged, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout a, c, *la[] = { &a }, *lac[] = { &a, &c };
	struct wp_write w;
	char *pa, *pc;
	size_t t;

	ASSERT_EQ(0, ksmt_layout_init(&a, 8, 8, 16, 0, 0xd101, 0xd102, 100));
	ASSERT_EQ(0, ksmt_layout_init(&c, 8, 4, 8, 0, 0xd101, 0xd103, 101));
	pa = ksmt_layout_map(&a);
	ASSERT_NE(MAP_FAILED, pa);
	ksmt_settle_and_check(_metadata, la, 1, false, false);
	ASSERT_EQ(0, uffd_register(self->fd, pa, a.npages * PAGE, false, true,
				   false));
	ASSERT_EQ(0, uffd_set_wp(self->fd, pa, a.npages * PAGE, true));
	EXPECT_EQ(0, count_unprotected(pa, a.npages));

	t = next_group_page(&a, 0);
	ASSERT_GT(a.npages, t);
	ASSERT_EQ(0, wp_write_start(&w, pa + t * PAGE,
				    ksmt_unique_key(0xd104, t)));
	ASSERT_EQ(1, wp_write_fault(self->fd, &w, 10000));

	pc = ksmt_layout_map(&c);
	ASSERT_NE(MAP_FAILED, pc);
	ksmt_settle_and_check(_metadata, lac, 2, false, false);
	EXPECT_FALSE(wp_write_done(&w));
	ksmt_expect_layout(_metadata, &a, pa);
	EXPECT_EQ(0, count_unprotected(pa, a.npages));

	ASSERT_EQ(0, wp_write_release(self->fd, &w));
	ksmt_layout_make_unique(&a, NULL, t, w.key);
	ksmt_expect_layout(_metadata, &a, pa);
	ksmt_expect_layout(_metadata, &c, pc);
	EXPECT_EQ(1, count_unprotected(pa, a.npages));
	ksmt_settle_and_check(_metadata, lac, 2, false, true);
	ksmt_expect_layout(_metadata, &a, pa);

	ASSERT_EQ(0, munmap(pa, a.npages * PAGE));
	ASSERT_EQ(0, munmap(pc, c.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&a);
	ksmt_layout_free(&c);
}

/*
 * Up to max pages of different group contents of a layout (of at most 8
 * groups), those pagemap does not show write-protected first.
 */
static size_t pick_targets(const struct ksmt_layout *l, const char *p,
			   size_t *t, size_t max)
{
	u64 *ents = calloc(l->npages, sizeof(*ents));
	bool used[8] = { false };
	size_t i, n = 0;
	int pass;

	if (!ents || ksmt_pagemap(0, p, l->npages, ents)) {
		free(ents);
		return 0;
	}
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < l->npages && n < max; i++) {
			int g = l->klass[i];

			if (g < 0 || g >= 8 || used[g] ||
			    (!pass && (ents[i] & PM_UFFD_WP)))
				continue;
			used[g] = true;
			t[n++] = i;
		}
	}
	free(ents);
	return n;
}

/*
 * Duplicates write-protected before ksmd ever saw them: merging must not
 * drop the protection. Every page still shows it in pagemap, and a write
 * to a merged page (one that had lost it, if any did) reaches the handler
 * as a write-protect fault. Upstream 6.12 fails this: the PTE it installs
 * for the KSM page in place of a duplicate has no uffd-wp bit, so writes
 * there break COW without the handler ever hearing of them.
 */
TEST_F_TIMEOUT(uffd, wp_kept_when_merged, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout b, *lb[] = { &b };
	size_t i, t[3], nt;
	long lost;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&b, 8, 8, 16, 0, 0xd111, 0xd112, 102));
	p = ksmt_map(b.npages);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_layout_fill(&b, p);
	ASSERT_EQ(0, uffd_register(self->fd, p, b.npages * PAGE, false, true,
				   false));
	ASSERT_EQ(0, uffd_set_wp(self->fd, p, b.npages * PAGE, true));
	ASSERT_EQ(0, count_unprotected(p, b.npages));
	ASSERT_EQ(0, ksmt_mergeable(p, b.npages));
	ksmt_settle_and_check(_metadata, lb, 1, false, false);
	ksmt_expect_layout(_metadata, &b, p);

	lost = count_unprotected(p, b.npages);
	if (lost)
		TH_LOG("%ld of %zu pages merged while write-protected lost the protection",
		       lost, b.npages);
	EXPECT_EQ(0, lost);

	nt = pick_targets(&b, p, t, 3);
	ASSERT_EQ(3U, nt);
	for (i = 0; i < nt; i++) {
		struct wp_write w;
		int ret;

		ASSERT_EQ(0, wp_write_start(&w, p + t[i] * PAGE,
					    ksmt_unique_key(0xd113, t[i])));
		ret = wp_write_fault(self->fd, &w, 3000);
		if (!ret)
			TH_LOG("write to merged page %zu: no write-protect fault",
			       t[i]);
		EXPECT_EQ(1, ret);
		ASSERT_EQ(0, wp_write_release(self->fd, &w));
		ksmt_layout_make_unique(&b, NULL, t[i], w.key);
	}
	ksmt_expect_layout(_metadata, &b, p);
	ksmt_settle_and_check(_metadata, lb, 1, false, true);

	ASSERT_EQ(0, munmap(p, b.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&b);
}

/*
 * MADV_UNMERGEABLE on a merged range that is write-protected: it
 * succeeds, no page shares a frame any more, every page is still
 * protected (6.12 unshares with FAULT_FLAG_UNSHARE, which keeps the
 * uffd-wp bit on the new copy), the data is intact, the counters forget
 * the range; and a write to a page that was merged still reaches the
 * handler as a write-protect fault.
 */
TEST_F_TIMEOUT(uffd, unmerge_keeps_wp, KSMT_TEST_TIMEOUT)
{
	struct ksmt_layout l, *ls[] = { &l };
	struct wp_write w;
	size_t i, t;
	char *p;

	ASSERT_EQ(0, ksmt_layout_init(&l, 8, 8, 16, 0, 0xd121, 0xd122, 103));
	p = ksmt_layout_map(&l);
	ASSERT_NE(MAP_FAILED, p);
	ksmt_settle_and_check(_metadata, ls, 1, false, false);
	ASSERT_EQ(0, uffd_register(self->fd, p, l.npages * PAGE, false, true,
				   false));
	ASSERT_EQ(0, uffd_set_wp(self->fd, p, l.npages * PAGE, true));

	ASSERT_EQ(0, madvise(p, l.npages * PAGE, MADV_UNMERGEABLE));
	EXPECT_EQ(0, ksmt_count_shared_frames(p, l.npages, 0, l.npages));
	EXPECT_EQ(0, count_unprotected(p, l.npages));
	ksmt_expect_layout(_metadata, &l, p);
	for (i = 0; i < l.npages; i++)
		l.state[i] = KSMT_UNTRACKED;
	ksmt_settle_and_check(_metadata, ls, 1, false, true);

	t = next_group_page(&l, 0);
	ASSERT_GT(l.npages, t);
	ASSERT_EQ(0, wp_write_start(&w, p + t * PAGE,
				    ksmt_unique_key(0xd123, t)));
	EXPECT_EQ(1, wp_write_fault(self->fd, &w, 5000));
	ASSERT_EQ(0, wp_write_release(self->fd, &w));
	ksmt_layout_make_unique(&l, NULL, t, w.key);
	ksmt_expect_layout(_metadata, &l, p);
	EXPECT_EQ(1, count_unprotected(p, l.npages));

	ASSERT_EQ(0, munmap(p, l.npages * PAGE));
	ksmt_assert_all_zero(_metadata);
	ksmt_layout_free(&l);
}

TEST_HARNESS_MAIN
