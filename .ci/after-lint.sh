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
