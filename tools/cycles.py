#!/usr/bin/env python3
"""Import cycles of the gateway crate (proxy/src), from its paths.

Each module file (`session/txn.rs` -> `session/txn`, `session/mod.rs` ->
`session`) is a node; a reference `crate::a::b::...` (in a `use` line or
inline) or `super::x` is an edge to the deepest module file it names. Method
calls and child modules' `impl` blocks are not paths, so a parent and its
children are linked only where they name each other. A module's `#[cfg(test)]`
files (`tests.rs`, `tests/`) are left out.

Prints every strongly connected component with more than one module (a
cycle), largest first; `--top` merges nodes to their top-level module
(`session/txn` -> `session`) first. Exit status 0 always: a report, not a gate.

    python3 tools/cycles.py [--top] [--edges] [proxy/src]
"""
import os
import re
import sys


def modules(root):
    mods = {}
    for d, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            p = os.path.relpath(os.path.join(d, f), root)
            name = p[:-3]
            if name in ("lib", "main"):
                name = ""
            elif name.endswith("/mod"):
                name = name[: -len("/mod")]
            parts = name.split("/") if name else []
            if "tests" in parts or name.endswith("_tests"):
                continue
            mods[name] = os.path.join(root, p)
    return mods


PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\buse\s+(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\};", re.S)


def strip(text):
    # Comments and string literals do not name modules; #[cfg(test)] mod
    # tests { ... } at the end of a file is left out.
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    m = re.search(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{", text)
    return text[: m.start()] if m else text


def resolve(mods, base, segs):
    """The deepest module named by `base` + `segs` (lists of names)."""
    best = None
    path = list(base)
    for s in segs:
        path.append(s)
        if "/".join(path) in mods:
            best = "/".join(path)
        else:
            break
    return best


def edges(mods):
    out = {m: set() for m in mods}
    for m, f in mods.items():
        text = strip(open(f, encoding="utf-8").read())
        parent = m.split("/")[:-1] if m else []
        # A `mod.rs` file's `super` is its parent too.
        refs = []
        for kind, rest, inner in GROUP.findall(text):
            prefix = [s for s in rest.split("::") if s]
            for item in re.split(r",", re.sub(r"\{[^{}]*\}", "", inner)):
                item = item.strip().split(" as ")[0].strip()
                if item and item != "self" and item != "*":
                    refs.append((kind, prefix + item.split("::")))
                elif item in ("self", "*"):
                    refs.append((kind, prefix))
            # Nested `{..}` groups: their prefixes.
            for sub in re.findall(r"([A-Za-z_][A-Za-z0-9_:]*)::\{", inner):
                refs.append((kind, prefix + sub.split("::")))
        for kind, rest in PATH.findall(text):
            refs.append((kind, [s for s in rest.split("::") if s]))
        for kind, segs in refs:
            base = [] if kind == "crate" else list(parent)
            while kind == "super" and segs and segs[0] == "super":
                segs = segs[1:]
                base = base[:-1]
            t = resolve(mods, base, segs)
            if t is None:
                t = "/".join(base) if "/".join(base) in mods else None
            if t is not None and t != m and t != "":
                out[m].add(t)
    return out


def sccs(graph):
    index, low, stack, on, res = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        # Iterative Tarjan (deep graphs would hit Python's recursion limit).
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    advanced = True
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                res.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return res


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    top = "--top" in sys.argv
    show_edges = "--edges" in sys.argv
    root = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "proxy", "src")
    mods = modules(root)
    graph = edges(mods)
    if top:
        merged = {}
        for m, ts in graph.items():
            a = m.split("/")[0]
            merged.setdefault(a, set()).update(t.split("/")[0] for t in ts if t.split("/")[0] != a)
        graph = merged
    comps = sorted((c for c in sccs(graph) if len(c) > 1), key=lambda c: (-len(c), c))
    for c in comps:
        print(f"{len(c)}: " + " ".join(c))
        if show_edges:
            inside = set(c)
            for m in c:
                for t in sorted(graph[m] & inside):
                    print(f"    {m} -> {t}")
    print(f"{len(comps)} cycle(s)")


if __name__ == "__main__":
    main()
