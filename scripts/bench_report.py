#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the benchmark VMs' logs into the table, results.json and the plot.

scripts/bench.sh runs one VM per (variant, repeat) and lists them in a
manifest (variant, repeat, log directory, vm-run exit status, seconds,
accelerator). From each VM's results.log this reads the lines of
tools/mm/ksm_bench and scripts/vm/bench-plan.sh:

    BENCH <metric> <value>     KNOB <name> <value>     INFO <key> <value>
    SERIES <s> <pages_sharing> <ksmd_cpu_s>     FAIL ...     SKIP ...

and the kernel console for error reports. It prints one table, metric,
stock, ours, ratio, each cell 'median [min..max]' over the repeats. The
ratio is that of the two medians of its row, oriented so that above 1.0
means ours is better: ours/stock where higher is better, stock/ours where
lower is better; its [min..max] are those of the ratios taken per repeat
(the stock and ours VMs of one repeat ran one after the other).

Writes OUT/results.json, OUT/mixed.png (gnuplot: pages_sharing and
ksmd CPU over time in workload 3, every VM of both variants) and
OUT/scale.png (workload 12: ksmd CPU per page against the size, one line
per kernel and operation). With --hot, it also lists where each kernel's
hot functions lie in their pages of code (code_layout()). Exit status:
0, 1 if anything failed, 3 if the two variants did not run under the same
conditions (kernel config, guest CPUs, accelerator or knobs differ).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_errors import complaints  # noqa: E402

VARIANTS = ('stock', 'ours')

# key, label, unit, direction (which way is better).
METRICS = (
    ('merge.mib_per_wall_s', '1 merge: MiB per wall s', 'MiB/s', 'higher'),
    ('merge.mib_per_cpu_s', '1 merge: MiB per ksmd CPU s', 'MiB/s', 'higher'),
    ('merge.cpu_s_per_mpages', '1 merge: ksmd CPU s per M pages merged',
     's/Mpage', 'lower'),
    ('merge.floor_cpu_s_per_mpages',
     '1 floor: its hashes + compares in user space', 's/Mpage', 'lower'),
    ('merge.cost_over_floor', '1 merge cost / floor', 'x', 'lower'),
    ('scan.cpu_s_per_mpages', '2 scan: ksmd CPU s per M pages scanned',
     's/Mpage', 'lower'),
    ('scan.floor_cpu_s_per_mpages', '2 floor: read + xxhash64 in user space',
     's/Mpage', 'lower'),
    ('scan.cost_over_floor', '2 scan cost / floor', 'x', 'lower'),
    ('mixed.time_to_95_s', '3 mixed: time to 95% of achievable', 's',
     'lower'),
    ('mixed.ksmd_cpu_s', '3 mixed: ksmd CPU to 95%', 's', 'lower'),
    ('mixed.general_profit_mib', '3 mixed: final general_profit', 'MiB',
     'higher'),
    ('cow.ns_per_page', '4 COW break per page', 'ns', 'lower'),
    ('cow.control_ns_per_page', '4 control: fork COW, no KSM', 'ns',
     'lower'),
    ('unmerge.s', '5 unmerge, run=2', 's', 'lower'),
    ('meta.bytes_per_page', '6 metadata per page (after 3)', 'B', 'lower'),
    ('ksm_tests.P_mib_per_s', '7 ksm_tests -P -s {mib}', 'MiB/s', 'higher'),
    ('ksm_tests.H_mib_per_s', '7 ksm_tests -H -s {mib}', 'MiB/s', 'higher'),
    ('guests.time_to_95_s', '8 {guests} QEMU guests: time to 95% of final',
     's', 'lower'),
    ('guests.ksmd_cpu_s', '8 {guests} QEMU guests: ksmd CPU to 95%', 's',
     'lower'),
    ('guests.general_profit_mib', '8 {guests} QEMU guests: general_profit',
     'MiB', 'higher'),
    ('guests.saved_mib_per_guest', '8 {guests} QEMU guests: saved per guest',
     'MiB', 'higher'),
    ('copies.mib_per_wall_s', '9 copies: MiB per wall s', 'MiB/s', 'higher'),
    ('copies.mib_per_cpu_s', '9 copies: MiB per ksmd CPU s', 'MiB/s',
     'higher'),
    ('zero0.mib_per_wall_s', '10 zero, use_zero_pages=0: MiB per wall s',
     'MiB/s', 'higher'),
    ('zero0.mib_per_cpu_s', '10 zero, use_zero_pages=0: MiB per ksmd CPU s',
     'MiB/s', 'higher'),
    ('zero1.mib_per_wall_s', '10 zero, use_zero_pages=1: MiB per wall s',
     'MiB/s', 'higher'),
    ('zero1.mib_per_cpu_s', '10 zero, use_zero_pages=1: MiB per ksmd CPU s',
     'MiB/s', 'higher'),
    ('sparse16.bytes_per_page', '11 sparse 1/16: metadata per mapped page',
     'B', 'lower'),
    ('sparse16.cpu_s_per_mpages', '11 sparse 1/16: ksmd CPU s per M pages',
     's/Mpage', 'lower'),
    ('sparse512.bytes_per_page', '11 sparse 1/512: metadata per mapped page',
     'B', 'lower'),
    ('sparse512.cpu_s_per_mpages', '11 sparse 1/512: ksmd CPU s per M pages',
     's/Mpage', 'lower'),
) + tuple(
    (f'scale_{op}{i}.cpu_s_per_mpages',
     f'12 scaling: {op} {{scale{i}}} MiB, ksmd CPU per page', 'us', 'lower')
    for op in ('merge', 'scan') for i in (1, 2, 3))
SCALE_OPS = ('merge', 'scan')

# Rows of ours alone (stock has no merge_scope): key, label, unit, and the
# row of the table each is compared with, ours against ours.
OURS_ONLY = (
    ('tenants.saved_mib_per_guest',
     '8t the guests as 2 tenants, merge_scope=cgroup: saved per guest',
     'MiB', 'guests.saved_mib_per_guest'),
    ('tenants.general_profit_mib',
     '8t the guests as 2 tenants, merge_scope=cgroup: general_profit',
     'MiB', 'guests.general_profit_mib'),
)

LINE = re.compile(r'^(BENCH|INFO|KNOB|SERIES|FAIL|SKIP)\s+(.*?)\s*$')


class Run:
    """One VM: its manifest entry and what its logs say."""

    def __init__(self, variant, repeat, logdir, vm_rc, seconds, accel):
        self.variant = variant
        self.repeat = int(repeat)
        self.logdir = logdir
        self.vm_rc = int(vm_rc)
        self.seconds = float(seconds)
        self.accel = accel
        self.metrics = {}
        self.info = {}
        self.knobs = {}
        self.series = []
        self.failures = []
        self.skips = []
        self.console = []
        self.finished = False

    def read(self):
        for line in read_lines(os.path.join(self.logdir, 'results.log')):
            if line.startswith('##KSMT DONE'):
                self.finished = True
            m = LINE.match(line)
            if m:
                self.take(m.group(1), m.group(2))
        self.console = complaints(
            read_lines(os.path.join(self.logdir, 'console.log')))
        if self.vm_rc:
            self.failures.append(f'the VM failed (vm-run exit {self.vm_rc})')
        elif not self.finished:
            self.failures.append('the plan did not finish')
        if self.console:
            self.failures.append(f'kernel console: {self.console[0][:120]}')

    def take(self, kind, rest):
        key, _, value = rest.partition(' ')
        if kind == 'BENCH':
            self.metrics[key] = float(value)
        elif kind == 'INFO':
            self.info.setdefault(key, []).append(value)
        elif kind == 'KNOB':
            self.knobs.setdefault(key, set()).add(value)
        elif kind == 'SERIES':
            t, sharing, cpu = rest.split()
            self.series.append((float(t), int(sharing), float(cpu)))
        elif kind == 'FAIL':
            self.failures.append(rest)
        elif kind == 'SKIP':
            self.skips.append(rest)

    def first_info(self, key, default=None):
        return self.info.get(key, [default])[0]

    def name(self):
        return f'{self.variant}-{self.repeat}'


def read_lines(path):
    try:
        with open(path, errors='replace') as f:
            return [line.rstrip('\r\n').rstrip('\r')
                    for line in f.read().splitlines()]
    except OSError:
        return []


def read_manifest(path):
    runs = []
    for line in read_lines(path):
        if line.strip():
            fields = line.split('\t')
            fields += [''] * (6 - len(fields))
            runs.append(Run(*fields[:6]))
    return runs


def read_settings(path):
    settings = {}
    for line in read_lines(path):
        for m in re.finditer(r'\b(BENCH_[A-Z_]+)=(\S+)', line):
            settings[m.group(1)] = m.group(2)
    return settings


def summary(samples):
    if not samples:
        return {'samples': [], 'median': None, 'min': None, 'max': None}
    return {'samples': samples, 'median': statistics.median(samples),
            'min': min(samples), 'max': max(samples)}


def oriented_ratio(stock, ours, direction):
    """Above 1.0 means ours is better."""
    num, den = (ours, stock) if direction == 'higher' else (stock, ours)
    if den == 0 or num is None or den is None:
        return None
    return num / den


def metric_results(runs, key, direction):
    by_variant = {v: [r for r in runs if r.variant == v] for v in VARIANTS}
    result = {}
    for v in VARIANTS:
        result[v] = summary([r.metrics[key] for r in by_variant[v]
                             if key in r.metrics])
    pairs = []
    for s in by_variant['stock']:
        for o in by_variant['ours']:
            if o.repeat == s.repeat and key in s.metrics and \
                    key in o.metrics:
                ratio = oriented_ratio(s.metrics[key], o.metrics[key],
                                       direction)
                if ratio is not None:
                    pairs.append(ratio)
    result['ratio'] = summary(pairs)
    medians = (result['stock']['median'], result['ours']['median'])
    result['ratio_of_medians'] = oriented_ratio(medians[0], medians[1],
                                                direction)
    return result


def fmt(value):
    if value is None:
        return '-'
    a = abs(value)
    if a >= 1000:
        return f'{value:.0f}'
    if a >= 100:
        return f'{value:.1f}'
    if a >= 10:
        return f'{value:.2f}'
    return f'{value:.3f}'


def cell(s, mark=''):
    if s['median'] is None:
        return '-'
    if len(s['samples']) == 1:
        return f'{fmt(s["median"])}{mark}'
    return f'{fmt(s["median"])}{mark} [{fmt(s["min"])}..{fmt(s["max"])}]'


def ratio_cell(res):
    """The ratio of the row's medians, with the per-repeat ratios' range."""
    if res['ratio_of_medians'] is None:
        return '-'
    pairs = res['ratio']
    if pairs['median'] is None or len(pairs['samples']) < 2:
        return fmt(res['ratio_of_medians'])
    return (f'{fmt(res["ratio_of_medians"])} '
            f'[{fmt(pairs["min"])}..{fmt(pairs["max"])}]')


def accel_name(flags):
    """'kvm' or 'tcg' from QEMU's accelerator flags."""
    return 'KVM' if 'kvm' in flags else 'TCG' if 'tcg' in flags else flags


def clocksource(run):
    """The guest's clock source at the end of the run (tsc-early is tsc)."""
    cs = run.first_info('guest.clocksource_end') or \
        run.first_info('guest.clocksource')
    return cs.replace('tsc-early', 'tsc') if cs else None


def differs(runs, what, get):
    """A problem if the runs do not all agree on get(run), else None."""
    seen = {}
    for r in runs:
        value = get(r)
        if value is not None:
            seen.setdefault(r.variant, set()).add(value)
    if len(set().union(*seen.values()) if seen else set()) <= 1:
        return None
    return f'{what} differ: ' + ', '.join(
        f'{v} {"/".join(sorted(seen.get(v, [])))}' for v in VARIANTS)


def conditions(runs, config_diff):
    """What differed between the variants' runs besides KSM itself."""
    problems = []
    if config_diff:
        problems.append(f'kernel configs differ in {len(config_diff)} '
                        f'option(s), e.g. {config_diff[0]}')
    for what, get in (('guest CPUs', lambda r: r.first_info('guest.cpus')),
                      ('accelerators', lambda r: r.accel),
                      ('clock sources', clocksource)):
        problem = differs(runs, what, get)
        if problem:
            problems.append(problem)
    jiffies = [r.name() for r in runs if 'jiffies' in (clocksource(r) or '')]
    if jiffies:
        problems.append('timed on a jiffies clock source (no usable TSC: '
                        'coarse, and slow under load) in ' +
                        ', '.join(jiffies))
    knobs = {}
    for r in runs:
        for name, values in r.knobs.items():
            knobs.setdefault(name, set()).update(values)
    odd = sorted(n for n, values in knobs.items() if len(values) > 1)
    if odd:
        problems.append('knobs differ between runs: ' + ', '.join(odd))
    return problems, {n: sorted(v)[0] for n, v in knobs.items()}


CODE_PAGE = 4096


def code_layout(hot_args):
    """Where each kernel's hot functions lie in its 4 KiB pages of code.

    hot_args: 'variant=path' of files of 'name start size' lines (hex, from
    nm). Returns ({name: {variant: {'offset', 'size', 'crosses'}}}, notes).
    TCG chains translated blocks only within a page of guest code, so a
    loop that crosses a page runs much slower: a function that crosses in
    one kernel only can move a ratio with no change in the work done.
    """
    layout = {}
    for arg in hot_args:
        variant, _, path = arg.partition('=')
        for line in read_lines(path):
            fields = line.split()
            if len(fields) != 3:
                continue
            start, size = int(fields[1], 16), int(fields[2], 16)
            offset = start % CODE_PAGE
            layout.setdefault(fields[0], {})[variant] = {
                'offset': offset, 'size': size,
                'crosses': offset + size > CODE_PAGE}
    notes = []
    for name in sorted(layout):
        where = layout[name]
        parts = [f'{v} {where[v]["offset"]:#05x}+{where[v]["size"]:#x}'
                 f'{" CROSSES" if where[v]["crosses"] else ""}'
                 for v in VARIANTS if v in where]
        notes.append(f'code layout: {name}: ' + ', '.join(parts))
        crossing = [v for v in VARIANTS if where.get(v, {}).get('crosses')]
        if len(crossing) == 1 and all(v in where for v in VARIANTS):
            notes.append(f'LAYOUT DIFFERS: {name} crosses a 4 KiB page of '
                         f'code in {crossing[0]} only; under TCG its rows '
                         'measure that too')
    return layout, notes


def print_table(rows, title, notes):
    head = ('metric', 'unit', 'better', 'stock', 'ours', 'ratio (>1: ours)')
    widths = [max(len(str(row[i])) for row in rows + [head])
              for i in range(len(head))]
    print(title)
    for row in [head] + rows:
        print('  '.join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    for note in notes:
        print(note)


def scale_sizes(settings):
    """The sizes of workload 12 in MiB, in order (BENCH_SCALE_MIBS)."""
    return [int(x) for x in settings.get('BENCH_SCALE_MIBS', '').split(',')
            if x.strip().isdigit()]


def scale_names(settings):
    sizes = scale_sizes(settings)
    return {f'scale{i}': sizes[i - 1] if i <= len(sizes) else '?'
            for i in (1, 2, 3)}


def scaling(metrics, settings):
    """Workload 12: per kernel and operation, the median cost per page at
    each size, and how much it grew from the smallest size to the largest.
    """
    sizes = scale_sizes(settings)
    result = {'sizes_mib': sizes}
    for op in SCALE_OPS:
        for v in VARIANTS:
            costs = [metrics.get(f'scale_{op}{i}.cpu_s_per_mpages', {})
                     .get(v, {}).get('median')
                     for i in range(1, len(sizes) + 1)]
            growth = (costs[-1] / costs[0] if costs and costs[0] and
                      costs[-1] is not None else None)
            result[f'{op}.{v}'] = {'us_per_page': costs, 'growth': growth}
    return result


def write_scale_plot(scale, out):
    """Workload 12: cost per page against size, one line per kernel and
    operation. None, or what went wrong."""
    sizes = scale['sizes_mib']
    if not sizes:
        return 'no BENCH_SCALE_MIBS in the settings'
    gnuplot = shutil.which('gnuplot')
    if not gnuplot:
        return 'gnuplot missing (scripts/install-deps.sh installs gnuplot-nox)'
    data = os.path.join(out, 'scale.dat')
    png = os.path.join(out, 'scale.png')
    lines = []
    with open(data, 'w') as f:
        for op in SCALE_OPS:
            for v in VARIANTS:
                f.write(f'# {op} {v}\n')
                for mib, cost in zip(sizes, scale[f'{op}.{v}']['us_per_page']):
                    if cost is not None:
                        f.write(f'{mib} {cost}\n')
                f.write('\n\n')
                lines.append((op, v))
    colour = {'stock': '#1f77b4', 'ours': '#d62728'}
    dash = {'merge': 1, 'scan': 2}
    plots = ', '.join(
        f'"{data}" index {i} using 1:2 with linespoints pt 7 lw 2 '
        f'lc rgb "{colour[v]}" dt {dash[op]} title "{op}, {v}"'
        for i, (op, v) in enumerate(lines))
    script = f'''
set terminal pngcairo size 900,600 font "sans,10" noenhanced
set output "{png}"
set title "Workload 12: ksmd CPU per page against mergeable memory (medians)"
set xlabel "mergeable memory, MiB"
set ylabel "ksmd CPU per page, us"
set logscale x 2
set xrange [{sizes[0] / 1.5}:{sizes[-1] * 1.5}]
set xtics ({", ".join(f'"{m}" {m}' for m in sizes)})
set yrange [0:*]
set key top left
set grid
plot {plots}
'''
    proc = subprocess.run([gnuplot], input=script, text=True,
                          capture_output=True)
    if proc.returncode != 0 or not os.path.exists(png):
        return f'gnuplot failed: {proc.stderr.strip()[:200]}'
    return None


def write_plot(runs, out, settings):
    """Two panels over time in workload 3: pages_sharing, ksmd CPU."""
    data = os.path.join(out, 'mixed-series.dat')
    png = os.path.join(out, 'mixed.png')
    # Stock first, so that ours (dashed) is drawn over it.
    plotted = [r for v in VARIANTS for r in runs
               if r.variant == v and r.series]
    if not plotted:
        return 'no time series to plot'
    gnuplot = shutil.which('gnuplot')
    if not gnuplot:
        return 'gnuplot missing (scripts/install-deps.sh installs gnuplot-nox)'
    with open(data, 'w') as f:
        for r in plotted:
            f.write(f'# {r.name()}\n')
            for t, sharing, cpu in r.series:
                f.write(f'{t} {sharing} {cpu}\n')
            f.write('\n\n')
    achievable = plotted[0].first_info('mixed.achievable_sharing')
    colour = {'stock': '#1f77b4', 'ours': '#d62728'}
    dash = {'stock': 1, 'ours': 2}
    sharing, cpu = [], []
    titled = set()
    for i, r in enumerate(plotted):
        title = f'title "{r.variant}"' if r.variant not in titled \
            else 'notitle'
        titled.add(r.variant)
        style = ('with linespoints pt 7 ps 0.4 lw 1.5 '
                 f'lc rgb "{colour[r.variant]}" dt {dash[r.variant]}')
        sharing.append(f'"{data}" index {i} using 1:2 {style} {title}')
        cpu.append(f'"{data}" index {i} using 1:3 {style} notitle')
    if achievable:
        sharing.append(f'{achievable} with lines dt 2 lc rgb "gray40" '
                       'title "achievable"')
        sharing.append(f'{int(achievable) * 0.95} with lines dt 3 '
                       'lc rgb "gray60" title "95%"')
    title = (f'Workload 3 (mixed): {settings.get("BENCH_MIXED_PROCS", "?")} '
             f'processes x {settings.get("BENCH_MIXED_MIB", "?")} MiB, half '
             'duplicated, one writer; one line per VM')
    script = f'''
set terminal pngcairo size 1000,800 font "sans,10" noenhanced
set output "{png}"
set multiplot layout 2,1 title "{title}"
set grid
set key bottom right
set xlabel "seconds since run=1"
set ylabel "pages_sharing"
set yrange [0:*]
plot {", ".join(sharing)}
set key top left
set ylabel "ksmd CPU seconds"
plot {", ".join(cpu)}
unset multiplot
'''
    proc = subprocess.run([gnuplot], input=script, text=True,
                          capture_output=True)
    if proc.returncode:
        return f'gnuplot failed: {proc.stderr.strip()[:200]}'
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--manifest', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--quick', default='0')
    ap.add_argument('--config-diff')
    ap.add_argument('--settings', help='the plan, with its settings')
    ap.add_argument('--hot', action='append', default=[],
                    help="VARIANT=FILE of 'name start size' (hex) lines")
    ap.add_argument('--vm', action='append', default=[],
                    help='KEY=VALUE describing the VMs')
    args = ap.parse_args()

    runs = read_manifest(args.manifest)
    for r in runs:
        r.read()
    settings = read_settings(args.settings) if args.settings else {}
    config_diff = [line for line in read_lines(args.config_diff or '')
                   if line.strip()]
    problems, knobs = conditions(runs, config_diff)
    quick = args.quick not in ('0', '')
    repeats = max((r.repeat for r in runs), default=0)

    rows, metrics = [], {}
    misses = {v: sum(1 for r in runs if r.variant == v and
                     r.first_info('mixed.converged') == '0')
              for v in VARIANTS}
    for key, label, unit, direction in METRICS:
        label = label.format(mib=settings.get('BENCH_KSM_TESTS_MIB', '?'),
                             guests=settings.get('BENCH_GUESTS', '?'),
                             **scale_names(settings))
        res = metric_results(runs, key, direction)
        metrics[key] = {'label': label, 'unit': unit, 'direction': direction,
                        **res}
        marks = {v: '*' if key == 'mixed.time_to_95_s' and misses[v] else ''
                 for v in VARIANTS}
        rows.append((label, unit, direction,
                     cell(res['stock'], marks['stock']),
                     cell(res['ours'], marks['ours']), ratio_cell(res)))
    if any(misses.values()):
        metrics['mixed.time_to_95_s']['misses'] = misses
    for key, label, unit, against in OURS_ONLY:
        res = metric_results(runs, key, 'higher')
        base = metrics[against]['ours']['median']
        kept = (res['ours']['median'] / base
                if res['ours']['median'] is not None and base else None)
        metrics[key] = {'label': label, 'unit': unit, 'direction': 'higher',
                        'ours_only': True, 'against': against,
                        'kept_of_global': kept, **res}
        rows.append((label, unit, 'higher', 'n/a', cell(res['ours']),
                     f'{fmt(kept)} of global' if kept is not None else '-'))

    accel = sorted({r.accel for r in runs if r.accel})
    title = (f'KSM benchmark, {"QUICK (smaller sizes)" if quick else "full"}: '
             f'{repeats} VM(s) per variant, alternating stock/ours, '
             f'{" / ".join(accel_name(a) for a in accel) or "?"}; '
             'cells: median [min..max]')
    notes = []
    if any(misses.values()):
        notes.append('* missed 95% within the time limit in '
                     + ', '.join(f'{misses[v]} {v} run(s)' for v in VARIANTS)
                     + ' (counted as the limit)')
    failed = [r for r in runs if r.failures]
    for r in failed:
        for f in r.failures:
            notes.append(f'FAILED {r.name()}: {f}')
    for r in runs:
        for s in r.skips:
            notes.append(f'SKIP {r.name()}: {s}')
    skipped = {s.split()[0] for r in runs for s in r.skips if s.split()}
    missing = [key for key, *_ in METRICS if key not in skipped and
               any(metrics[key][v]['median'] is None for v in VARIANTS)]
    # The tenants run on ours wherever the guests did.
    missing += [key for key, _, _, against in OURS_ONLY
                if metrics[against]['ours']['median'] is not None and
                metrics[key]['ours']['median'] is None]
    kept = metrics['tenants.saved_mib_per_guest']['kept_of_global']
    if kept is not None:
        notes.append('8t keeping 2 tenants apart (merge_scope=cgroup) keeps '
                     f'{100 * kept:.1f}% of the saving per guest of global '
                     '(ours only: stock has no merge_scope)')
    if missing:
        notes.append('no figure for: ' + ', '.join(missing))
    for p in problems:
        notes.append(f'NOT COMPARABLE: {p}')
    layout, layout_notes = code_layout(args.hot)
    notes += layout_notes
    plot_problem = write_plot(runs, args.out, settings)
    if plot_problem:
        notes.append(f'plot: {plot_problem}')
    scale = scaling(metrics, settings)
    scale_problem = write_scale_plot(scale, args.out)
    if scale_problem:
        notes.append(f'scaling plot: {scale_problem}')
        plot_problem = plot_problem or scale_problem
    sizes = scale['sizes_mib']
    for op in SCALE_OPS:
        grown = ', '.join(
            f'{v} {scale[f"{op}.{v}"]["growth"]:.2f}x'
            if scale[f'{op}.{v}']['growth'] is not None else f'{v} -'
            for v in VARIANTS)
        if sizes:
            notes.append(f'12 scaling: {op} cost per page at {sizes[-1]} MiB '
                         f'/ at {sizes[0]} MiB: {grown}')
    print_table(rows, title, notes)

    results = {
        'quick': quick,
        'repeats': repeats,
        'order': [r.name() for r in runs],
        'accelerator': accel[0] if len(accel) == 1 else accel,
        'vm': dict(kv.split('=', 1) for kv in args.vm),
        'settings': settings,
        'knobs': knobs,
        'comparable': not problems,
        'problems': problems,
        'config_differences': config_diff,
        'code_layout': layout,
        'kernels': {v: sorted({r.first_info('guest.kernel') for r in runs
                               if r.variant == v and
                               r.first_info('guest.kernel')})
                    for v in VARIANTS},
        'metrics': metrics,
        'scaling': scale,
        'runs': [{'variant': r.variant, 'repeat': r.repeat,
                  'vm_exit': r.vm_rc, 'seconds': r.seconds,
                  'accelerator': r.accel, 'failures': r.failures,
                  'skips': r.skips, 'console_reports': r.console[:5],
                  'info': r.info, 'series': r.series,
                  'logs': r.logdir} for r in runs],
    }
    with open(os.path.join(args.out, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
        f.write('\n')

    if failed or missing or plot_problem:
        return 1
    return 3 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
