/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KSM's tracepoints for its kselftests: tracefs, the events of the "ksm"
 * system, switching them on and off and back to how they were, and the
 * trace buffer read as text. Part of ksm_util.h.
 */
#ifndef KSM_TRACE_H
#define KSM_TRACE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * tracefs: the mount point (/sys/kernel/tracing, else the one under
 * debugfs), or NULL. Events are those of the "ksm" system.
 */
const char *ksmt_tracefs(void);
bool ksmt_event_exists(const char *event);
/* Reads file (e.g. "format") of an event into buf; 0 or -errno. */
int ksmt_event_read(const char *event, const char *file, char *buf,
		    size_t len);
/*
 * Enables or disables an event; the first call for an event remembers its
 * old state, and so does the first ksmt_trace_clear() for tracing_on,
 * which it switches on. ksmt_trace_restore() puts all of that back and
 * empties the buffer. 0 or -errno.
 */
int ksmt_event_enable(const char *event, bool on);
int ksmt_trace_clear(void);
int ksmt_trace_restore(void);
/* The trace buffer as text (malloc()ed, NUL-terminated), or NULL. */
char *ksmt_trace_read(void);

/*
 * The next line of text after *pos that contains " event: " (the event
 * name as the trace shows it); the rest of the line after that in rest
 * (up to len bytes), the task's pid in *pid if not NULL. Advances *pos;
 * false at the end.
 */
bool ksmt_trace_next(const char **pos, const char *event, char *rest,
		     size_t len, int *pid);

#endif /* KSM_TRACE_H */
