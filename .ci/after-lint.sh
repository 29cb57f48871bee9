#!/usr/bin/env bash
# CI (issue 13): the layers of DESIGN §1 as an import-linter contract, ruff, and mypy on the core
# packages that carry types. Runs after the test suite, which created .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. .venv/bin/activate
pip_log=$(mktemp)
pip install -q -e '.[lint]' >"$pip_log" 2>&1 || { cat "$pip_log"; exit 1; }
rm -f "$pip_log"
echo "-- lint-imports"
lint-imports
echo "-- ruff"
ruff check dermarchive tests bench packaging
if grep -q '^\[tool.mypy\]' pyproject.toml; then
    echo "-- mypy"
    mypy
fi
echo "-- import cycles (grimp, the graph import-linter uses; imports only for type checkers excluded)"
python - <<'PY'
import sys

import grimp

graph = grimp.build_graph("dermarchive", exclude_type_checking_imports=True)
modules = sorted(graph.modules)
index: dict[str, int] = {}
low: dict[str, int] = {}
stack: list[str] = []
on_stack: set[str] = set()
cycles: list[list[str]] = []
sys.setrecursionlimit(10_000)


def visit(module: str) -> None:  # Tarjan's strongly connected components
    index[module] = low[module] = len(index)
    stack.append(module)
    on_stack.add(module)
    for other in graph.find_modules_directly_imported_by(module):
        if not other.startswith("dermarchive"):
            continue
        if other not in index:
            visit(other)
            low[module] = min(low[module], low[other])
        elif other in on_stack:
            low[module] = min(low[module], index[other])
    if low[module] == index[module]:
        component = []
        while True:
            top = stack.pop()
            on_stack.discard(top)
            component.append(top)
            if top == module:
                break
        if len(component) > 1:
            cycles.append(sorted(component))


for name in modules:
    if name not in index:
        visit(name)
for cycle in cycles:
    print("import cycle:", " <-> ".join(cycle))
print(f"{len(modules)} modules, {len(cycles)} import cycles")
sys.exit(1 if cycles else 0)
PY
