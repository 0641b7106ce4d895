// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of ksm_features.c and ksm_advisor.c; see ksm_features_util.h.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vm_util.h"
#include "ksm_util.h"
#include "ksm_features_util.h"

#define KSMF_PAGE		KSMT_PAGE_SIZE
#define KSMF_MAX_EVENTS		16

int ksmf_pfn_excl(const void *addr, unsigned long *pfn, bool *exclusive)
{
	u64 ent;
	int err;

	err = ksmt_pagemap(0, addr, 1, &ent);
	if (err)
		return err;
	*pfn = 0;
	*exclusive = ent & PM_MMAP_EXCLUSIVE;
	if (!PAGEMAP_PRESENT(ent))
		return 0;
	*pfn = PAGEMAP_PFN(ent);
	return *pfn ? 0 : -EPERM;
}

int ksmf_pfn(const void *addr, unsigned long *pfn)
{
	bool exclusive;

	return ksmf_pfn_excl(addr, pfn, &exclusive);
}

unsigned long ksmf_zero_pfn(void)
{
	static unsigned long zero_pfn;
	unsigned long pfn = 0;
	void *p;

	if (zero_pfn)
		return zero_pfn;
	p = mmap(NULL, KSMF_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return 0;
	/* A read fault of a small page maps the shared zero page. */
	if (!madvise(p, KSMF_PAGE, MADV_NOHUGEPAGE) &&
	    !madvise(p, KSMF_PAGE, MADV_POPULATE_READ) && !ksmf_pfn(p, &pfn))
		zero_pfn = pfn;
	munmap(p, KSMF_PAGE);
	return zero_pfn;
}

static int ksmf_cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

int ksmf_census(const void *base, size_t npages, struct ksmf_census *c)
{
	unsigned long zero = ksmf_zero_pfn(), *pfns;
	size_t i, n = 0, run;
	int err = 0;

	memset(c, 0, sizeof(*c));
	pfns = calloc(npages ? npages : 1, sizeof(*pfns));
	if (!pfns)
		return -ENOMEM;
	for (i = 0; i < npages; i++) {
		unsigned long pfn;
		bool exclusive;

		err = ksmf_pfn_excl((const char *)base + i * KSMF_PAGE, &pfn,
				    &exclusive);
		if (err)
			goto out;
		if (!pfn) {
			c->absent++;
			continue;
		}
		if (!c->first)
			c->first = pfn;
		pfns[n++] = pfn;
		if (pfn == zero)
			c->zero++;
		else if (!exclusive)
			c->shared++;
	}
	qsort(pfns, n, sizeof(*pfns), ksmf_cmp_ulong);
	for (i = 0; i < n; i += run) {
		for (run = 1; i + run < n && pfns[i + run] == pfns[i]; run++)
			;
		c->distinct++;
		if ((long)run > c->max_map)
			c->max_map = run;
	}
out:
	free(pfns);
	return err;
}

long ksmf_off_node(const void *base, size_t npages, int node)
{
	long off = 0;
	size_t i;

	for (i = 0; i < npages; i++) {
		const void *page = (const char *)base + i * KSMF_PAGE;
		int status = -ENOENT;

		/* move_pages(2) without nodes: where each page is. */
		if (syscall(__NR_move_pages, 0, 1UL, &page, NULL, &status, 0) ||
		    status != node)
			off++;
	}
	return off;
}

bool ksmf_node_has_memory(int node)
{
	char buf[256], *s;
	ssize_t n;
	int fd;

	fd = open("/sys/devices/system/node/has_memory", O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* A list such as "0-1" or "0,2-3". */
	for (s = buf; *s && *s != '\n'; ) {
		char *end;
		long lo = strtol(s, &end, 10), hi = lo;

		if (end == s)
			return false;
		if (*end == '-') {
			s = end + 1;
			hi = strtol(s, &end, 10);
			if (end == s)
				return false;
		}
		if (node >= lo && node <= hi)
			return true;
		s = *end == ',' ? end + 1 : end;
	}
	return false;
}

const char *ksmf_tracefs(void)
{
	static const char * const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/trace", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	return NULL;
}

static int ksmf_event_path(const char *event, const char *file, char *path,
			   size_t len)
{
	const char *dir = ksmf_tracefs();

	if (!dir)
		return -ENOENT;
	if (event)
		snprintf(path, len, "%s/events/ksm/%s/%s", dir, event, file);
	else
		snprintf(path, len, "%s/%s", dir, file);
	return 0;
}

bool ksmf_event_exists(const char *event)
{
	char path[256];

	return !ksmf_event_path(event, "enable", path, sizeof(path)) &&
	       !access(path, F_OK);
}

static int ksmf_read_file(const char *path, char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while (done + 1 < len) {
		n = read(fd, buf + done, len - 1 - done);
		if (n < 0) {
			err = -errno;
			break;
		}
		if (!n)
			break;
		done += n;
	}
	close(fd);
	buf[done] = '\0';
	return err;
}

static int ksmf_write_file(const char *path, const char *val, int flags)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY | flags);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

int ksmf_event_read(const char *event, const char *file, char *buf,
		    size_t len)
{
	char path[256];
	int err = ksmf_event_path(event, file, path, sizeof(path));

	return err ? err : ksmf_read_file(path, buf, len);
}

/* What ksmf_trace_restore() puts back. */
static struct {
	int nevents;
	char event[KSMF_MAX_EVENTS][48];
	char enable[KSMF_MAX_EVENTS];
	bool tracing_on_saved;
	char tracing_on;
} ksmf_saved;

int ksmf_event_enable(const char *event, bool on)
{
	char path[256], old[8];
	int i, err;

	err = ksmf_event_path(event, "enable", path, sizeof(path));
	if (err)
		return err;
	for (i = 0; i < ksmf_saved.nevents; i++)
		if (!strcmp(ksmf_saved.event[i], event))
			break;
	if (i == ksmf_saved.nevents) {
		if (i == KSMF_MAX_EVENTS ||
		    strlen(event) >= sizeof(ksmf_saved.event[i]))
			return -E2BIG;
		err = ksmf_read_file(path, old, sizeof(old));
		if (err)
			return err;
		snprintf(ksmf_saved.event[i], sizeof(ksmf_saved.event[i]), "%s",
			 event);
		ksmf_saved.enable[i] = old[0] == '1' ? '1' : '0';
		ksmf_saved.nevents++;
	}
	return ksmf_write_file(path, on ? "1" : "0", 0);
}

int ksmf_trace_clear(void)
{
	char path[256], old[8];
	int err;

	err = ksmf_event_path(NULL, "tracing_on", path, sizeof(path));
	if (err)
		return err;
	if (!ksmf_saved.tracing_on_saved) {
		err = ksmf_read_file(path, old, sizeof(old));
		if (err)
			return err;
		ksmf_saved.tracing_on = old[0] == '0' ? '0' : '1';
		ksmf_saved.tracing_on_saved = true;
	}
	err = ksmf_write_file(path, "1", 0);
	if (err)
		return err;
	/* Opening "trace" with O_TRUNC empties the buffer. */
	err = ksmf_event_path(NULL, "trace", path, sizeof(path));
	return err ? err : ksmf_write_file(path, "", O_TRUNC);
}

int ksmf_trace_restore(void)
{
	char path[256], val[2] = "0";
	int i, err, failed = 0;

	for (i = 0; i < ksmf_saved.nevents; i++) {
		val[0] = ksmf_saved.enable[i];
		if (ksmf_event_path(ksmf_saved.event[i], "enable", path,
				    sizeof(path)) ||
		    ksmf_write_file(path, val, 0))
			failed++;
	}
	ksmf_saved.nevents = 0;
	if (ksmf_saved.tracing_on_saved) {
		val[0] = ksmf_saved.tracing_on;
		err = ksmf_event_path(NULL, "tracing_on", path, sizeof(path));
		if (err || ksmf_write_file(path, val, 0))
			failed++;
		ksmf_saved.tracing_on_saved = false;
	}
	if (!ksmf_event_path(NULL, "trace", path, sizeof(path)))
		ksmf_write_file(path, "", O_TRUNC);
	return failed ? -EIO : 0;
}

char *ksmf_trace_read(void)
{
	size_t len = 0, cap = 1 << 16;
	char path[256], *buf, *bigger;
	ssize_t n;
	int fd;

	if (ksmf_event_path(NULL, "trace", path, sizeof(path)))
		return NULL;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		if (cap - len < 4096) {
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			free(buf);
			buf = NULL;
			break;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* The pid of "comm-pid [cpu] ...", or -1. */
static int ksmf_line_pid(const char *line, const char *end)
{
	const char *bracket = memchr(line, '[', end - line), *p;

	if (!bracket)
		return -1;
	p = bracket;
	while (p > line && p[-1] == ' ')
		p--;
	while (p > line && isdigit((unsigned char)p[-1]))
		p--;
	if (p == line || p[-1] != '-' || !isdigit((unsigned char)*p))
		return -1;
	return atoi(p);
}

bool ksmf_trace_next(const char **pos, const char *event, char *rest,
		     size_t len, int *pid)
{
	char needle[64];
	size_t nlen;

	snprintf(needle, sizeof(needle), " %s: ", event);
	nlen = strlen(needle);
	while (**pos) {
		const char *line = *pos, *end = strchr(line, '\n'), *hit;
		size_t n;

		if (!end)
			end = line + strlen(line);
		*pos = *end ? end + 1 : end;
		if (*line == '#')
			continue;
		hit = memmem(line, end - line, needle, nlen);
		if (!hit)
			continue;
		hit += nlen;
		n = end - hit < (long)len - 1 ? (size_t)(end - hit) : len - 1;
		memcpy(rest, hit, n);
		rest[n] = '\0';
		if (pid)
			*pid = ksmf_line_pid(line, end);
		return true;
	}
	return false;
}
