#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The kernel reports on a VM's console that fail whatever ran there.

The one list of them: a test run (ktest_report.py), a benchmark VM
(bench_report.py) and the demo (scripts/demo.sh, through the command
line) all fail on a console line BADNESS matches.

    kernel_errors.py CONSOLE    prints the first such line; exits 1 if
                                there is one, 0 if none, 2 if CONSOLE
                                cannot be read
"""

import re
import sys

BADNESS = re.compile(
    r'(BUG: |Oops|WARNING: |------------\[ cut here \]|Kernel panic|'
    r'general protection fault|KASAN|UBSAN|possible circular locking|'
    r'possible recursive locking|inconsistent lock state|'
    r'suspicious RCU usage|rcu: INFO|self-detected stall|'
    r'hung_task|soft lockup|list_add corruption|list_del corruption|'
    r'Bad page|bad pte|Bad rss-counter)')


def complaints(lines):
    """The lines of a console that BADNESS matches, stripped."""
    return [line.strip() for line in lines if BADNESS.search(line)]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        with open(sys.argv[1], errors='replace') as f:
            hits = complaints(f)
    except OSError as e:
        print(f'kernel_errors: {e}', file=sys.stderr)
        return 2
    if hits:
        print(hits[0])
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
