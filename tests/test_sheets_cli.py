"""``dermarchive sheet`` and ``dermarchive import --by-sheet`` as a script outside the project runs
them: a subprocess with the exact command-line forms of issue 18, JSON read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import REPO
from .sheet_photos import Shot, fill, jpeg, photograph, skin_photo


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "dermarchive.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_sheet_then_import_by_sheet(cli_archive, tmp_path):
    archive, *auth = cli_archive
    for nhi, family in (("ZZZ0016", "Tester"), ("ZZZ0024", "Ngata")):
        done = _run("patient", "add", archive, "--nhi", nhi, "--family", family, "--given", "Ana", *auth)
        assert done.returncode == 0, done.stderr
    sheet_a, sheet_b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    done = _run("sheet", archive, "--patient", "ZZZ0016", "--visit-date", "2026-11-30", "--lesion", "L1",
                "--lesion", "back mole", "--out", str(sheet_a), *auth)
    assert done.returncode == 0, done.stderr
    assert _run("sheet", archive, "--patient", "ZZZ0024", "--out", str(sheet_b), *auth).returncode == 0
    assert _run("sheet", archive, "--patient", "ZZZ0099", "--out", str(tmp_path / "x.pdf"), *auth).returncode != 0
    assert not (tmp_path / "x.pdf").exists()

    phone = tmp_path / "phone"
    phone.mkdir()
    shots = [("IMG_1.JPG", None), ("IMG_2.JPG", "A"), ("IMG_3.JPG", None), ("IMG_4.JPG", "B"), ("IMG_5.JPG", None)]
    for n, (name, sheet) in enumerate(shots):
        when = f"2026-11-30T10:{n:02d}:00"
        if sheet == "A":
            page = fill(sheet_a.read_bytes(), ["clinical.documentation", "publication"], signed=True, seed=n)
            img = photograph(page, Shot(angle=95, tilt=0.05, light=0.4, blur=1.2, seed=n))
        elif sheet == "B":
            page = fill(sheet_b.read_bytes(), ["clinical.documentation"], signed=False, seed=n)
            img = photograph(page, Shot(angle=-12, tilt=0.05, light=0.3, blur=0.9, seed=n))
        else:
            img = skin_photo(n)
        (phone / name).write_bytes(jpeg(img, taken_at=when, quality=80))

    dry = _run("import", archive, str(phone), "--by-sheet", "--dry-run", "--json", *auth)
    assert dry.returncode == 0, dry.stderr
    rows = {r["path"]: r for r in json.loads(dry.stdout)["entries"]}
    assert {p: r["patient"] for p, r in rows.items()} == {
        "IMG_1.JPG": None, "IMG_2.JPG": "ZZZ0016", "IMG_3.JPG": "ZZZ0016", "IMG_4.JPG": "ZZZ0024",
        "IMG_5.JPG": "ZZZ0024"}
    assert rows["IMG_1.JPG"]["status"] == "needs-patient" and rows["IMG_1.JPG"]["reason"]
    assert rows["IMG_2.JPG"]["sheet"] is True and rows["IMG_3.JPG"]["sheet"] is False
    assert rows["IMG_2.JPG"]["consent"] == {"ticked": ["clinical.documentation", "publication"], "signed": True,
                                            "unclear": []}
    assert rows["IMG_4.JPG"]["consent"]["signed"] is False
    assert "consent" not in rows["IMG_3.JPG"]

    done = _run("import", archive, str(phone), "--by-sheet", "--json", "--accept-sheet-consent", *auth)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    real = {r["path"]: r for r in out["entries"]}
    # dry run == import: the same patients and sheets
    assert {p: (r["patient"], r["sheet"]) for p, r in real.items()} == \
        {p: (r["patient"], r["sheet"]) for p, r in rows.items()}
    assert real["IMG_1.JPG"]["status"] == "needs-patient"
    assert all(real[p]["status"] == "imported" for p in ("IMG_2.JPG", "IMG_3.JPG", "IMG_4.JPG", "IMG_5.JPG"))
    patients = {g["patient"]: g for g in out["patients"]}
    assert patients["ZZZ0016"]["consent_recorded"] is True
    assert patients["ZZZ0024"]["consent_recorded"] is False and "not signed" in patients["ZZZ0024"]["consent_note"]

    images = json.loads(_run("images", archive, "--patient", "ZZZ0016", "--json", *auth).stdout)["images"]
    assert sorted(i["kind"] for i in images) == ["clinical", "consent-form"]
    consent = json.loads(_run("consent", "show", archive, "--patient", "ZZZ0016", "--json", *auth).stdout)
    assert "photographed-form" in json.dumps(consent) and "publication" in json.dumps(consent)

    # --by-sheet never takes --patient; --accept-sheet-consent never runs dry
    bad = _run("import", archive, str(phone), "--by-sheet", "--patient", "ZZZ0016", *auth)
    assert bad.returncode != 0 and "--patient" in bad.stderr
    bad = _run("import", archive, str(phone), "--by-sheet", "--dry-run", "--accept-sheet-consent", *auth)
    assert bad.returncode != 0
    bad = _run("import", archive, str(phone), *auth)
    assert bad.returncode != 0 and "--by-sheet" in bad.stderr
    bad = _run("import", archive, str(phone), "--by-sheet", "--kind", "dermoscopic", *auth)
    assert bad.returncode != 0 and "--kind" in bad.stderr


def test_sheet_pdf_page_renders_with_poppler(cli_archive, tmp_path):
    """The printed sheet opens in a second PDF reader (poppler's pdftoppm), not only PDFium."""
    from .helpers import require_tool

    require_tool("pdftoppm", "apt-get install poppler-utils")  # skips on a fresh machine; CI installs it
    archive, *auth = cli_archive
    assert _run("patient", "add", archive, "--nhi", "ZZZ0016", "--family", "Tester", *auth).returncode == 0
    out = tmp_path / "s.pdf"
    assert _run("sheet", archive, "--patient", "ZZZ0016", "--out", str(out), *auth).returncode == 0
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(out), str(tmp_path / "page")], check=True)
    assert Path(tmp_path / "page-1.png").stat().st_size > 1000
