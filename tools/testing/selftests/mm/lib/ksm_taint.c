// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's taint flags for the KSM kselftests; see ksm_taint.h.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "ksm_util.h"

long ksmt_file_long(const char *path)
{
	char buf[64] = "";
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

unsigned long ksmt_read_taint(void)
{
	long taint = ksmt_file_long("/proc/sys/kernel/tainted");

	return taint > 0 ? taint : 0;
}

double ksmt_test_started;

unsigned long ksmt_test_begin(void)
{
	ksmt_test_started = ksmt_now();
	return ksmt_read_taint();
}
