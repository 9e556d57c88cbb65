#!/usr/bin/env python3
"""Fail when modules of a crate import each other in a circle.

Each source file is a module. A file depends on another when it names a path into it
(`use crate::a::b::Item`, `crate::a::f()`, `super::x`). Paths from a module to its own
ancestors or descendants are containment, not a dependency between peers, and are ignored.
Prints every strongly connected group of two or more modules and exits 1 if there is one.

    scripts/check-module-cycles.py app/src server/src
"""
import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
PATH_RE = re.compile(rf"\b(crate|super)((?:::{IDENT})+)")
USE_RE = re.compile(r"\buse\s+((?:crate|super)\s*::[^;]*);", re.S)


def module_of(root: Path, file: Path) -> tuple[str, ...]:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def expand_use(tree: str) -> list[str]:
    """`crate::a::{b, c::{d, e}}` -> ["crate::a::b", "crate::a::c::d", "crate::a::c::e"]."""
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        return [tree.split("as")[0] if "::" in tree else tree]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rindex("}")]
    items, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            items.append(inner[start:i])
            start = i + 1
    items.append(inner[start:])
    return [p for item in items if item for p in expand_use(prefix + item)]


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def target(modules: set, here: tuple, path: str) -> tuple | None:
    """The deepest module file that `path`, written inside module `here`, points into."""
    segments = path.split("::")
    if segments[0] == "crate":
        base, rest = (), segments[1:]
    else:
        base = here
        while segments and segments[0] == "super":
            base, segments = base[:-1], segments[1:]
        rest = segments
    best = None
    for n in range(len(rest) + 1):
        candidate = base + tuple(rest[:n])
        if candidate in modules:
            best = candidate
    return best


def related(a: tuple, b: tuple) -> bool:
    short, long = sorted((a, b), key=len)
    return long[: len(short)] == short


def edges_of(root: Path) -> dict:
    files = {module_of(root, f): f for f in root.rglob("*.rs")}
    modules = set(files)
    edges = {m: set() for m in modules}
    for module, file in files.items():
        text = strip_comments(file.read_text())
        paths = [p for use in USE_RE.findall(text) for p in expand_use(use)]
        paths += [m.group(1) + m.group(2) for m in PATH_RE.finditer(USE_RE.sub("", text))]
        for path in paths:
            found = target(modules, module, path)
            if found is not None and not related(module, found):
                edges[module].add(found)
    return edges


def cycles(edges: dict) -> list[list]:
    """Tarjan's strongly connected components, keeping those with more than one module."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def main() -> int:
    failed = False
    for root in map(Path, sys.argv[1:]):
        edges = edges_of(root)
        for group in cycles(edges):
            failed = True
            names = {m: "::".join(m) or "crate" for m in group}
            print(f"{root}: modules import each other in a circle:")
            for m in group:
                inside = sorted(names[w] for w in edges[m] if w in group)
                print(f"  {names[m]} -> {', '.join(inside)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
