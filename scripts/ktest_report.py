#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns one test VM's logs into the harness's result lines.

Reads the plan's output (results.log: blocks between '##KSMT BEGIN' and
'##KSMT END' markers), KUnit's KTAP on the kernel console (console.log) and
the console itself for kernel error reports. Prints one line per case:

    PASS suite/case
    FAIL suite/case (reason)
    SKIP suite/case (reason)
    XFAIL suite/case (reason)

and exits 1 if any case failed. Cases listed in the expected-failures file
are reported as XFAIL when they fail and as FAIL when they pass, so the list
stays true. Each status is also appended to --tally, from which check.sh
prints the summary line over all runs.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_errors import complaints  # noqa: E402

BEGIN = re.compile(r'^##KSMT BEGIN (\S+) (rc|tap)\s*$')
END = re.compile(r'^##KSMT END (\S+) rc=(\d+)(?: secs=\d+)?\s*$')
TAP = re.compile(r'^(not ok|ok)\s+\d+\s*-?\s*(.*?)\s*$')
RUN = re.compile(r'^#\s*\[RUN\]\s*(\S+)')
KSFT_SKIP = 4
TIMEOUT_RCS = (124, 137, 143)



def case_name(text):
    """A TAP description turned into a case name."""
    text = re.sub(r'#.*$', '', text).strip()
    return re.sub(r'[^A-Za-z0-9_.:+-]+', '_', text).strip('_') or 'unnamed'


def tap_result(full, ok, desc):
    skip = re.search(r'#\s*SKIP\b:?\s*(.*)$', desc, re.I)
    if skip:
        return full, 'SKIP', skip.group(1).strip() or 'skipped'
    if ok:
        return full, 'PASS', ''
    return full, 'FAIL', re.sub(r'#.*$', '', desc).strip() or 'failed'


def parse_tap(suite, lines):
    """Yields (suite/case, status, reason) from kselftest TAP output.

    ksm_functional_tests announces each case with '# [RUN] name' and reports
    it with a description; the announced name wins when there is one. A
    forked child may announce and report a case of its own before its
    parent reports, so announcements are matched like brackets, and a case
    reported twice is reported once, with its worst status.
    """
    announced, seen, order = [], {}, []
    rank = {'FAIL': 2, 'SKIP': 1, 'PASS': 0}
    for line in lines:
        m = RUN.match(line.strip())
        if m:
            announced.append(m.group(1))
            continue
        m = TAP.match(line)
        if not m:
            continue
        name = announced.pop() if announced else case_name(m.group(2))
        result = tap_result(f'{suite}/{name}', m.group(1) == 'ok', m.group(2))
        if name not in seen:
            order.append(name)
            seen[name] = result
        elif rank[result[1]] > rank[seen[name][1]]:
            seen[name] = result
    for name in order:
        yield seen[name]


def last_words(block):
    for line in reversed(block):
        if line.strip():
            return line.strip()[:160]
    return ''


def finish_block(name, kind, block, rc):
    if rc in TIMEOUT_RCS:
        case = name if kind == 'rc' else f'{name}/timeout'
        yield case, 'FAIL', f'killed by the per-case timeout (rc={rc})'
        return
    if kind == 'rc':
        if rc == 0:
            yield name, 'PASS', ''
        elif rc == KSFT_SKIP:
            yield name, 'SKIP', last_words(block) or 'skipped'
        else:
            yield name, 'FAIL', f'exit {rc}: {last_words(block)}'
        return
    cases = list(parse_tap(name, block))
    yield from cases
    if not cases:
        status = 'SKIP' if rc == KSFT_SKIP else 'FAIL'
        yield name, status, f'no TAP results (exit {rc}): {last_words(block)}'
    elif rc not in (0, KSFT_SKIP) and all(s != 'FAIL' for _, s, _ in cases):
        yield f'{name}/exit', 'FAIL', f'exit {rc} with no failed case'


def parse_results(lines):
    """Yields results of the plan, one per case, from results.log."""
    block, name, kind = None, None, None
    for line in lines:
        m = BEGIN.match(line)
        if m:
            block, name, kind = [], m.group(1), m.group(2)
            continue
        m = END.match(line)
        if m and block is not None and m.group(1) == name:
            yield from finish_block(name, kind, block, int(m.group(2)))
            block = None
            continue
        if block is not None:
            block.append(line)
    if block is not None:
        yield name, 'FAIL', 'did not finish (VM died or was killed)'
    if not any(line.startswith('##KSMT DONE') for line in lines):
        yield 'vm/plan', 'FAIL', 'the test plan did not complete'


def parse_kunit(lines):
    """Yields KUnit results from the console as kunit:suite/case.

    KTAP nests by four spaces: '# Subtest: suite' opens a suite at some
    depth, and the result lines at that depth are its cases. Suite summary
    lines (depth 0) are not cases.
    """
    suites = {}
    for raw in lines:
        line = raw.rstrip()
        text = line.lstrip(' ')
        depth = (len(line) - len(text)) // 4
        m = re.match(r'^# Subtest: (\S+)', text)
        if m:
            suites[depth] = m.group(1)
            for d in [d for d in suites if d > depth]:
                del suites[d]
            continue
        m = TAP.match(text)
        if not m or depth == 0 or depth not in suites:
            continue
        path = '/'.join(suites[d] for d in sorted(suites) if d <= depth)
        name = re.sub(r'\s*#.*$', '', m.group(2))
        yield tap_result(f'kunit:{path}/{name}', m.group(1) == 'ok',
                         m.group(2))


KCSAN_HEAD = re.compile(r'BUG: KCSAN: (.*?)\s*$')
KCSAN_TAIL = re.compile(r'Reported by Kernel Concurrency Sanitizer|^(\[[^]]*\]\s*)?=+\s*$')
# The line that starts one of a report's accesses, and whether it is marked
# (atomic, READ_ONCE/WRITE_ONCE, data_race ...).
KCSAN_ACCESS = re.compile(r'\b(?:read|write|read-write)( \(marked\))?'
                          r'(?: \(reordered\))? to 0x[0-9a-f]+ of \d+ bytes')
FRAME = re.compile(r'^(?:\[[^]]*\]\s*)?\s*([A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+')


def base_symbol(name):
    """foo.isra.0, foo.constprop.0 and foo+0x1/0x2 are all foo."""
    return re.split(r'[.+]', name, maxsplit=1)[0]


def kcsan_reports(lines):
    """Splits KCSAN's reports out of the console.

    Returns (the other lines, reports), each report a tuple of its title
    ('data-race in f / g'), the functions of its stacks, top first, and its
    accesses: for each, whether it is marked and the functions of its
    stack.
    """
    rest, reports, current = [], [], None
    for line in lines:
        m = KCSAN_HEAD.search(line)
        if m:
            current = (m.group(1), [], [])
            reports.append(current)
            continue
        if current is not None:
            if KCSAN_TAIL.search(line):
                current = None
                continue
            a = KCSAN_ACCESS.search(line)
            if a:
                current[2].append((bool(a.group(1)), []))
                continue
            f = FRAME.match(line)
            if f:
                current[1].append(base_symbol(f.group(1)))
                if current[2]:
                    current[2][-1][1].append(base_symbol(f.group(1)))
            continue
        rest.append(line)
    return rest, reports


def marked_here_plain_elsewhere(accesses, symbols):
    """Whether a two-sided race has its marked side(s) in our code and
    its plain side(s) outside it: the plain access is the one that races."""
    ours = [marked for marked, frames in accesses
            if frames and frames[0] in symbols]
    others = [marked for marked, frames in accesses
              if not (frames and frames[0] in symbols)]
    return len(accesses) == 2 and ours and others and all(ours) and \
        not any(others)


def kcsan_verdict(reports, symbols, out):
    """One result for KCSAN's reports: a race at an access of our code fails.

    A report is ours when one of the two racing functions its title names
    is one of ours (symbols: the text symbols of mm/ksm/), or when it names
    one function only (a race at unknown origin: the other side is user
    space, a device or code KCSAN does not instrument) and that function
    is ours or was called by ours: a library routine reading what we gave
    it (xxh64() hashing a page user space writes). Deeper, the access is
    the kernel's own business, not made for us: smp_call_function_many_cond()
    reading mm_cpumask(), which the uninstrumented arch/x86/mm/ changes, in
    any TLB flush. Such a report is listed 'under ours'. Where our access is
    marked (an atomic bit operation inlined into our function, say) and
    the other, plain, access is not ours, the race is the plain access's:
    'under ours'. It is listed as 'under ours' too when only a deeper frame
    of a two-sided race is ours, and as 'elsewhere' when no frame is.
    Every distinct title goes to out with its count and class.
    """
    classes = {}
    for title, frames, accesses in reports:
        named = title.split(' in ', 1)[-1].split(' / ')
        deeper = any(f in symbols for f in frames)
        if any(base_symbol(f.strip()) in symbols for f in named) and \
                marked_here_plain_elsewhere(accesses, symbols):
            cls = 'under-ours'
        elif any(base_symbol(f.strip()) in symbols for f in named) or \
                (len(named) == 1 and any(f in symbols for f in frames[:2])):
            cls = 'ours'
        elif deeper:
            cls = 'under-ours'
        else:
            cls = 'elsewhere'
        entry = classes.setdefault(title, [cls, 0])
        entry[1] += 1
    with open(out, 'w') as f:
        for title, (cls, n) in sorted(classes.items(),
                                      key=lambda kv: (kv[1][0], kv[0])):
            f.write(f'{cls:10} {n:4}  {title}\n')
    count = {c: sum(n for cl, n in classes.values() if cl == c)
             for c in ('ours', 'under-ours', 'elsewhere')}
    summary = (f"{count['ours']} report(s) in mm/ksm/, "
               f"{count['under-ours']} under it, {count['elsewhere']} elsewhere; "
               f'list in {out}')
    ours = [t for t, (cl, _) in classes.items() if cl == 'ours']
    if ours:
        yield 'kernel/kcsan', 'FAIL', f'{summary}; first: {sorted(ours)[0]}'
    else:
        yield 'kernel/kcsan', 'PASS', summary


def console_badness(lines):
    hits = complaints(lines)
    if hits:
        yield 'kernel/console', 'FAIL', \
            f'{len(hits)} report(s), first: {hits[0][:160]}'
    else:
        yield 'kernel/console', 'PASS', ''


def load_xfail(path):
    xfail = {}
    if not path:
        return xfail
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            case, _, reason = line.partition(' ')
            xfail[case] = reason.strip() or 'listed in expected-failures'
    return xfail


def read_lines(path):
    try:
        with open(path, errors='replace') as f:
            return f.read().splitlines()
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--results', required=True)
    ap.add_argument('--console', required=True)
    ap.add_argument('--xfail', help='expected-failures file')
    ap.add_argument('--prefix', default='', help='e.g. "debug:"')
    ap.add_argument('--tally', required=True, help='file to append statuses to')
    ap.add_argument('--kcsan', metavar='OUT',
                    help='judge KCSAN reports apart (a case of their own), '
                    'listing them in OUT')
    ap.add_argument('--symbols', help='with --kcsan: our functions, one a line')
    args = ap.parse_args()

    console = read_lines(args.console)
    results = list(parse_kunit(console))
    results += list(parse_results(read_lines(args.results)))
    if args.kcsan:
        console, reports = kcsan_reports(console)
        symbols = set(read_lines(args.symbols)) if args.symbols else set()
        results += list(kcsan_verdict(reports, symbols, args.kcsan))
    results += list(console_badness(console))
    xfail = load_xfail(args.xfail)

    failed = 0
    with open(args.tally, 'a') as tally:
        for case, status, reason in results:
            if case in xfail:
                if status == 'FAIL':
                    status, reason = 'XFAIL', xfail[case]
                elif status == 'PASS':
                    status = 'FAIL'
                    reason = 'unexpectedly passed: remove it from expected-failures'
            failed += status == 'FAIL'
            line = f'{status} {args.prefix}{case}'
            print(f'{line} ({reason})' if reason else line, flush=True)
            tally.write(status + '\n')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
