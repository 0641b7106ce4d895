// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress: the run's globals (its parameters and the memory all its
 * processes share) and the output every process uses: counters added to
 * from any process, one-write lines, failure messages with a cap on them.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "lib/ksm_util.h"
#include "ksm_stress.h"

/* The run's parameters; set before the first fork, then read-only. */
struct config cfg;

struct shared *sh;

void add(long *counter, long n)
{
	__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

long peek(const long *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

bool stopping(void)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_RELAXED);
}

/* One line on stdout in one write(), as several processes print. */
__printf(1, 2) void say(const char *fmt, ...)
{
	char buf[600];
	va_list ap;
	ssize_t done;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	done = write(STDOUT_FILENO, buf, n);
	(void)done;
}

/* say() for failures, at most MAX_COMPLAINTS lines in the whole run. */
__printf(1, 2) void complain(const char *fmt, ...)
{
	long n = __atomic_add_fetch(&sh->complaints, 1, __ATOMIC_RELAXED);
	char buf[560];
	va_list ap;

	if (n > MAX_COMPLAINTS) {
		if (n == MAX_COMPLAINTS + 1)
			say("# (further failure messages suppressed)");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("# %s", buf);
}

/* The global counters as one line of text. */
const char *counters_text(const struct ksmt_counters *c, char *buf,
			  size_t len)
{
	snprintf(buf, len,
		 "pages_shared %ld pages_sharing %ld pages_unshared %ld pages_volatile %ld ksm_zero_pages %ld general_profit %ld",
		 c->shared, c->sharing, c->unshared, c->volatile_,
		 c->zero_pages, c->general_profit);
	return buf;
}

/* Seconds of life at most: a share of the run, up to a cap. */
unsigned long life_span(unsigned long share, unsigned long cap)
{
	return share < cap ? share : cap;
}
