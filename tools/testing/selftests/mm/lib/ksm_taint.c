// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's taint flags for the KSM kselftests; see ksm_taint.h.
 */
#include "ksm_util.h"

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
