#!/usr/bin/env bash
# CI (issue 20): the README's screenshots script still runs against the current app, and what it
# makes is six real pictures (not blank, the committed images' sizes). Runs after the test suite,
# which created .venv. About 30-60 s on the 2-core machine (most of it building the full demo).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s)
timeout --kill-after=30 600 .venv/bin/python docs/make_screenshots.py --out "$out"
.venv/bin/python - "$out" <<'PY'
import sys
from pathlib import Path
from PIL import Image

made, committed = Path(sys.argv[1]), Path("docs/screenshots")
names = ["start-screen", "patient-page", "lesion-compare", "import-wizard", "consent-editor", "referral-page"]
for name in names:
    with Image.open(made / f"{name}.png") as img:
        low, high = zip(*img.convert("RGB").getextrema())
        assert max(high) - min(low) > 64, f"{name}.png is blank"
        size = img.size
    with Image.open(committed / f"{name}.png") as old:
        if old.size != size:
            print(f"after-screenshots: docs/screenshots/{name}.png is {old.size}, the app now makes {size}: "
                  "run docs/make_screenshots.py and commit the images")
print(f"after-screenshots: {len(names)} screenshots made and checked")
PY
echo "after-screenshots: done in $(( $(date +%s) - start )) s"
