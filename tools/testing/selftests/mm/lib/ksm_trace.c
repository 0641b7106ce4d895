// SPDX-License-Identifier: GPL-2.0
/*
 * KSM's tracepoints for its kselftests; see ksm_trace.h.
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

#define KSMT_MAX_EVENTS		16

const char *ksmt_tracefs(void)
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

static int ksmt_event_path(const char *event, const char *file, char *path,
			   size_t len)
{
	const char *dir = ksmt_tracefs();

	if (!dir)
		return -ENOENT;
	if (event)
		snprintf(path, len, "%s/events/ksm/%s/%s", dir, event, file);
	else
		snprintf(path, len, "%s/%s", dir, file);
	return 0;
}

bool ksmt_event_exists(const char *event)
{
	char path[256];

	return !ksmt_event_path(event, "enable", path, sizeof(path)) &&
	       !access(path, F_OK);
}

static int trace_read_file(const char *path, char *buf, size_t len)
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

static int trace_write_file(const char *path, const char *val, int flags)
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

int ksmt_event_read(const char *event, const char *file, char *buf,
		    size_t len)
{
	char path[256];
	int err = ksmt_event_path(event, file, path, sizeof(path));

	return err ? err : trace_read_file(path, buf, len);
}

/* What ksmt_trace_restore() puts back. */
static struct {
	int nevents;
	char event[KSMT_MAX_EVENTS][48];
	char enable[KSMT_MAX_EVENTS];
	bool tracing_on_saved;
	char tracing_on;
} ksmt_saved;

int ksmt_event_enable(const char *event, bool on)
{
	char path[256], old[8];
	int i, err;

	err = ksmt_event_path(event, "enable", path, sizeof(path));
	if (err)
		return err;
	for (i = 0; i < ksmt_saved.nevents; i++)
		if (!strcmp(ksmt_saved.event[i], event))
			break;
	if (i == ksmt_saved.nevents) {
		if (i == KSMT_MAX_EVENTS ||
		    strlen(event) >= sizeof(ksmt_saved.event[i]))
			return -E2BIG;
		err = trace_read_file(path, old, sizeof(old));
		if (err)
			return err;
		snprintf(ksmt_saved.event[i], sizeof(ksmt_saved.event[i]), "%s",
			 event);
		ksmt_saved.enable[i] = old[0] == '1' ? '1' : '0';
		ksmt_saved.nevents++;
	}
	return trace_write_file(path, on ? "1" : "0", 0);
}

int ksmt_trace_clear(void)
{
	char path[256], old[8];
	int err;

	err = ksmt_event_path(NULL, "tracing_on", path, sizeof(path));
	if (err)
		return err;
	if (!ksmt_saved.tracing_on_saved) {
		err = trace_read_file(path, old, sizeof(old));
		if (err)
			return err;
		ksmt_saved.tracing_on = old[0] == '0' ? '0' : '1';
		ksmt_saved.tracing_on_saved = true;
	}
	err = trace_write_file(path, "1", 0);
	if (err)
		return err;
	/* Opening "trace" with O_TRUNC empties the buffer. */
	err = ksmt_event_path(NULL, "trace", path, sizeof(path));
	return err ? err : trace_write_file(path, "", O_TRUNC);
}

int ksmt_trace_restore(void)
{
	char path[256], val[2] = "0";
	int i, err, failed = 0;

	for (i = 0; i < ksmt_saved.nevents; i++) {
		val[0] = ksmt_saved.enable[i];
		if (ksmt_event_path(ksmt_saved.event[i], "enable", path,
				    sizeof(path)) ||
		    trace_write_file(path, val, 0))
			failed++;
	}
	ksmt_saved.nevents = 0;
	if (ksmt_saved.tracing_on_saved) {
		val[0] = ksmt_saved.tracing_on;
		err = ksmt_event_path(NULL, "tracing_on", path, sizeof(path));
		if (err || trace_write_file(path, val, 0))
			failed++;
		ksmt_saved.tracing_on_saved = false;
	}
	if (!ksmt_event_path(NULL, "trace", path, sizeof(path)))
		trace_write_file(path, "", O_TRUNC);
	return failed ? -EIO : 0;
}

char *ksmt_trace_read(void)
{
	size_t len = 0, cap = 1 << 16;
	char path[256], *buf, *bigger;
	ssize_t n;
	int fd;

	if (ksmt_event_path(NULL, "trace", path, sizeof(path)))
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
static int ksmt_line_pid(const char *line, const char *end)
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

bool ksmt_trace_next(const char **pos, const char *event, char *rest,
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
			*pid = ksmt_line_pid(line, end);
		return true;
	}
	return false;
}
