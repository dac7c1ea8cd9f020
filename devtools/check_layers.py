#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
#
# The layers check of devtools/checks.sh (run from the repository root):
#
#   devtools/check_layers.py [TABLE [GUIDE]]
#
# TABLE (devtools/layers.txt) lists the layers bottom up and the files of
# each. Fails, one line per finding, when
#  - a .c/.h file under lib/ or drivers/ is not in the table, or a file in
#    the table is absent;
#  - such a file has more than 1000 lines;
#  - a file of the table includes one of the table's files of a later
#    (higher) layer;
#  - includes join modules (a .c and its .h are one module) in a circle;
#  - the file map of GUIDE (doc/guides/prog_guide/vhu_lib.rst, section
#    "File map": rows that start with ``file.c``, ``file.h`` or
#    ``file.[ch]`` and the layer) gives a file another layer, lists a file
#    the table does not have, or lacks a file of lib/.
# Exit status 0 when none of that is found.

import os
import re
import sys

MAX_LINES = 1000
INCLUDE_DIRS = ("lib/vhu",)  # besides the including file's own directory


def read_table(path, bad):
    """Layers in order and file -> layer."""
    order, layer_of = [], {}
    for n, line in enumerate(open(path), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("layer "):
            name = line.split()[1]
            if name in order:
                bad.append("%s:%d: layer %s listed twice" % (path, n, name))
            order.append(name)
        elif not order:
            bad.append("%s:%d: %s comes before any layer line" % (path, n, line))
        elif line in layer_of:
            bad.append("%s:%d: %s listed twice" % (path, n, line))
        else:
            layer_of[line] = order[-1]
    return order, layer_of


def module(path):
    return os.path.splitext(path)[0]


INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def includes(path, known, bad):
    """(line, target) for every include of a file of the table."""
    out = []
    for n, line in enumerate(open(path, errors="replace"), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        quote, name = m.groups()
        target = None
        for d in (os.path.dirname(path),) + INCLUDE_DIRS:
            cand = os.path.normpath(os.path.join(d, name))
            if cand in known:
                target = cand
                break
        if target is not None:
            out.append((n, target))
        elif quote == '"':
            bad.append('%s:%d: includes "%s", which is no file of the table' % (path, n, name))
    return out


def circles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    return comps


def one_circle(comp, edges):
    """A path through comp that comes back to where it started."""
    start = comp[0]
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, ())):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in comp and w not in prev:
                prev[w] = v
                queue.append(w)
    return comp + [start]


def check_guide(guide, layer_of, table, bad):
    text = open(guide).read()
    m = re.search(r"\nFile map\n-+\n(.*?)(?=\n[^\n]+\n[-=~^]{3,}\n|\Z)", text, re.S)
    if not m:
        bad.append('%s: no "File map" section' % guide)
        return
    mapped = {}
    for row in m.group(1).splitlines():
        # ``name.c``, ``name.h`` or ``name.[ch]`` (both), then the layer
        r = re.match(r"^``([\w./-]+)\.(c|h|\[ch\])``\s+(\S+)", row)
        if r:
            for ext in ("c", "h") if r.group(2) == "[ch]" else (r.group(2),):
                mapped[os.path.basename(r.group(1)) + "." + ext] = r.group(3)
    by_base = {os.path.basename(f): f for f in layer_of}
    for name, lay in sorted(mapped.items()):
        f = by_base.get(name)
        if f is None:
            bad.append("%s: the file map lists %s, which is not in %s" % (guide, name, table))
        elif layer_of[f] != lay:
            bad.append("%s: the file map puts %s in layer %s, %s in layer %s"
                       % (guide, name, lay, table, layer_of[f]))
    for f in sorted(layer_of):
        if f.startswith("lib/") and os.path.basename(f) not in mapped:
            bad.append("%s: the file map lacks %s" % (guide, f))


def main():
    table = sys.argv[1] if len(sys.argv) > 1 else "devtools/layers.txt"
    guide = sys.argv[2] if len(sys.argv) > 2 else "doc/guides/prog_guide/vhu_lib.rst"
    bad = []
    order, layer_of = read_table(table, bad)
    rank = {name: i for i, name in enumerate(order)}

    files = sorted(os.path.join(d, f) for top in ("lib", "drivers")
                   for d, _, fs in os.walk(top) for f in fs if f.endswith((".c", ".h")))
    for f in files:
        if f not in layer_of:
            bad.append("%s: not in %s (give it a layer)" % (f, table))
        with open(f, errors="replace") as fh:
            n = sum(1 for _ in fh)
        if n > MAX_LINES:
            bad.append("%s: %d lines, more than %d" % (f, n, MAX_LINES))
    for f in sorted(layer_of):
        if not os.path.isfile(f):
            bad.append("%s: in %s but absent" % (f, table))

    edges = {}
    for f in files:
        if f not in layer_of:
            continue
        for n, target in includes(f, layer_of, bad):
            lf, lt = layer_of[f], layer_of[target]
            if rank[lt] > rank[lf]:
                bad.append("%s:%d: includes %s: up from layer %s to layer %s"
                           % (f, n, target, lf, lt))
            if module(f) != module(target):
                edges.setdefault(module(f), set()).add(module(target))
    for comp in circles(edges):
        bad.append("include circle: " + " -> ".join(
            os.path.basename(v) for v in one_circle(comp, edges)))

    check_guide(guide, layer_of, table, bad)

    for b in bad:
        print("  " + b)
    if bad:
        return 1
    print("  %d files in %d layers, bottom up: %s" % (len(files), len(order), " < ".join(order)))
    print("  no include up a layer, no circle among %d modules, none over %d lines"
          % (len({module(f) for f in layer_of}), MAX_LINES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
