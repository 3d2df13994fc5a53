"""Lists the import cycles among the files of a package: `python scripts/import_cycles.py webapp`.

Every import counts, at any depth in a file (inside functions too, where a cycle likes to hide), as grimp reads
them for import-linter. Each strongly connected group of files is printed with one cycle through it; the exit
status is the number of groups (0: no cycle). `make test` runs it through tests/test_import_rules.py.
"""

from __future__ import annotations

import argparse
import sys

import grimp


def cycle_groups(package: str) -> list[list[str]]:
    """The groups of files that import each other in a circle (Tarjan's strongly connected components)."""
    graph = grimp.build_graph(package, cache_dir=None)
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in graph.modules and
                       (i == package or i.startswith(package + "."))) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep package cannot overflow Python's stack.
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(edges[succ])))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1 or node in edges[node]:
                        groups.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return sorted(groups)



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", help="a top-level package, e.g. webapp")
    args = parser.parse_args(argv)
    sys.path.insert(0, ".")
    groups = cycle_groups(args.package)
    for n, group in enumerate(groups, 1):
        print(f"cycle group {n} ({len(group)} files):")
        for module in group:
            print(f"  {module}")
    print(f"{len(groups)} cycle group(s) among the files of {args.package}")
    return min(len(groups), 100)


if __name__ == "__main__":
    sys.exit(main())
