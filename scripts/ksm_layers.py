#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that the files of mm/ksm/ call only down their layers.

Documentation/mm/ksm.rst's table of source files gives each file of
mm/ksm/ a layer. A file may use only the functions and data of files of
lower layers: not of its own layer's, not of higher ones. What a file uses
is read from the built objects: the symbols an object leaves undefined
(nm 'U') that another object of mm/ksm/ defines. A file the kernel's
config leaves out (memcg.c without CONFIG_MEMCG) is not in OBJDIR's
built-in.a: it is said to be so and not checked.

    ksm_layers.py DOC OBJDIR

Prints one line per file (its layer and what it uses), then each use that
breaks the rule; exits 1 if there is one, 2 if DOC or OBJDIR cannot be
read as expected.
"""

import os
import re
import subprocess
import sys

ROW = re.compile(r'^(\d+)\s+``([a-z_]+)\.c``')


def layers(doc):
    """{file stem: layer} from the table under 'Source files'."""
    with open(doc) as f:
        text = f.read()
    start = text.index('Source files\n')
    end = text.index('Data model\n', start)
    found = {}
    for line in text[start:end].splitlines():
        m = ROW.match(line)
        if m:
            found[m.group(2)] = int(m.group(1))
    return found


def symbols(obj):
    """(defined, undefined) global symbols of an object file."""
    out = subprocess.run(['nm', obj], capture_output=True, text=True,
                         check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == 'U':
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in 'BDRTV' and parts[1].isupper():
            defined.add(parts[2])
    return defined, undefined


def built(objdir):
    """The stems of the objects of OBJDIR's built-in.a (a thin archive)."""
    out = subprocess.run(['ar', 't', os.path.join(objdir, 'built-in.a')],
                         capture_output=True, text=True, check=True).stdout
    return {os.path.splitext(os.path.basename(line))[0]
            for line in out.splitlines()}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    doc, objdir = sys.argv[1:]
    try:
        layer = layers(doc)
        present = built(objdir)
        for name in sorted(set(layer) - present):
            print(f'{layer[name]} {name}: not built in this config')
            del layer[name]
        syms = {name: symbols(os.path.join(objdir, name + '.o'))
                for name in layer}
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f'ksm_layers: {e}', file=sys.stderr)
        return 2
    if len(layer) < 2:
        print('ksm_layers: no layer table in ' + doc, file=sys.stderr)
        return 2
    owner = {}
    for name, (defined, _) in syms.items():
        for sym in defined:
            owner[sym] = name
    bad = []
    for name in sorted(layer, key=lambda n: (layer[n], n)):
        uses = {}
        for sym in syms[name][1]:
            other = owner.get(sym)
            if other and other != name:
                uses.setdefault(other, []).append(sym)
        print(f'{layer[name]} {name}: ' +
              (', '.join(sorted(uses)) if uses else '-'))
        for other, used in sorted(uses.items()):
            if layer[other] >= layer[name]:
                bad.append(f'{name} (layer {layer[name]}) uses '
                           f'{other} (layer {layer[other]}): '
                           f'{", ".join(sorted(used))}')
    for line in bad:
        print('UP ' + line)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
