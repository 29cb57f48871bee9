"""``dermarchive demo``: the synthetic demo archive, from the command line and from the start screen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from dermarchive import nhi
from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records
from dermarchive.archive.verify import verify
from dermarchive.launch import main as cli
from dermarchive.consent import policy
from dermarchive.demo import DEMO_PASSPHRASE, DEMO_USER, FULL, default_path, plan_counts


def _counts(archive: Archive) -> dict[str, Any]:
    patients = records.find_patients(archive)
    lesions = [les for p in patients for les in records.lesions(archive, p.id)]
    images = records.images(archive)
    visits = {i.visit_id for i in images}
    consents = policy.current_consents(archive, sorted(visits))
    return {"patients": patients, "lesions": lesions, "images": images, "visits": visits, "consents": consents}


def test_small_demo_from_the_cli_is_real_and_reopens(tmp_path: Path, passphrase_file: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "demo"
    args = ["demo", "--path", str(path), "--no-gui", "--passphrase-file", str(passphrase_file),
            "--kdf-params", "1,8192,1", "--small", "--json"]
    assert cli(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["created"] is True and first["patients"] == 3
    assert cli(args) == 0  # reopens, does not rebuild
    again = json.loads(capsys.readouterr().out)
    assert again["created"] is False and again["images"] == first["images"]
    with Archive.open(path, DEMO_USER, passphrase_file.read_text().strip()) as archive:
        c = _counts(archive)
        assert all(nhi.is_test_nhi(p.nhi) and nhi.problem(p.nhi) is None for p in c["patients"])
        assert {i.kind for i in c["images"]} >= {"clinical", "dermoscopic", "consent-form"}
        # one consent-form photo per visit
        forms = [i for i in c["images"] if i.kind == "consent-form"]
        assert sorted(i.visit_id for i in forms) == sorted(c["visits"])
        data = records.image_bytes(archive, c["images"][0])
        assert data[:3] == b"\xff\xd8\xff"  # a real JPEG
        assert verify(archive) == []
    # Nothing in the archive folder is a plaintext JPEG.
    for f in path.rglob("*"):
        if f.is_file():
            assert b"\xff\xd8\xff\xe0" not in f.read_bytes()[:4]


def test_demo_kdf_params_need_a_passphrase_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["demo", "--path", str(tmp_path / "d"), "--no-gui", "--kdf-params", "1,8192,1"]) == 2
    assert "--kdf-params needs --passphrase-file" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_demo_refuses_a_folder_with_other_files(tmp_path: Path, passphrase_file: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    assert cli(["demo", "--path", str(tmp_path / "d"), "--no-gui", "--passphrase-file", str(passphrase_file),
                "--kdf-params", "1,8192,1", "--small"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "d" / "notes.txt").read_text() == "mine"


def test_demo_without_a_display_builds_and_says_so(tmp_path: Path, passphrase_file: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "demo"
    assert cli(["demo", "--path", str(path), "--passphrase-file", str(passphrase_file),
                "--kdf-params", "1,8192,1", "--small"]) == 0
    err = capsys.readouterr().err
    assert "no display is available" in err and str(path) in err
    assert (path / "archive.json").exists()


@pytest.mark.gui
def test_open_demo_from_the_start_screen(qtbot: Any, messages: Any) -> None:
    from dermarchive.gui.app import App

    app = App(demo_kdf=CHEAP_TEST_PARAMS, demo_small=True)
    qtbot.addWidget(app.start)
    app.show_start()
    qtbot.mouseClick(app.start.demo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.unlock_dialog is not None, timeout=30_000)
    panel = app.unlock_dialog.panel
    assert panel.passphrase.text() == DEMO_PASSPHRASE and panel.user_combo.currentText() == DEMO_USER
    qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.main is not None, timeout=10_000)
    window = app.main
    qtbot.waitUntil(lambda: window.patients_ready)
    assert window.patient_model.total == 3
    assert all(window.patient_model.patient_at(r).nhi.startswith("Z") for r in range(3))
    assert Path(window.archive.path) == default_path()
    window.close()


@pytest.mark.slow
def test_default_demo_meets_the_counts(tmp_path: Path, passphrase_file: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    patients, lesions, photos = plan_counts(FULL)
    assert patients >= 8 and lesions >= 30 and photos >= 300
    path = tmp_path / "demo"
    assert cli(["demo", "--path", str(path), "--no-gui", "--passphrase-file", str(passphrase_file),
                "--kdf-params", "1,8192,1"]) == 0
    with Archive.open(path, DEMO_USER, passphrase_file.read_text().strip()) as archive:
        c = _counts(archive)
        assert len(c["patients"]) == patients and len(c["lesions"]) == lesions and len(c["images"]) == photos
        assert len({les.site for les in c["lesions"]}) >= 8  # across body sites
        methods = {x.method for x in c["consents"].values()}
        assert methods == {"written-signature", "photographed-form", "verbal", "exemption"}
        assert any(x.withdrawn for x in c["consents"].values())
        assert len(c["consents"]) < len(c["visits"])  # some visits have no consent at all
        # The policy sees the variety: some photos may be used for teaching, some not.
        scopes = policy.image_scopes(archive, [i.id for i in c["images"] if i.kind == "clinical"])
        assert any("education" in s for s in scopes.values())
        assert any("education" not in s for s in scopes.values())
    assert cli(["verify", str(path), "--passphrase-file", str(passphrase_file)]) == 0


def test_app_without_a_display_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert cli([]) == 2
    assert "no display is available" in capsys.readouterr().err


def test_demo_no_gui_needs_no_qt(tmp_path: Path, passphrase_file: Path) -> None:
    """A headless server without Qt can still build the demo archive (the core is Qt-free)."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['PySide6'] = None; from dermarchive.cli import main; "
            f"sys.exit(main(['demo', '--path', {str(tmp_path / 'd')!r}, '--no-gui', '--small', "
            f"'--passphrase-file', {str(passphrase_file)!r}, '--kdf-params', '1,8192,1']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "d" / "archive.json").exists()


def test_demo_opens_the_window_first_and_builds_in_it(tmp_path: Path, passphrase_file: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """First impression (issue 19): with a display, `dermarchive demo` hands the build to the app
    (a progress window) instead of building for a minute in a silent terminal first."""
    from dermarchive.cli import main as cli_main

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    path = tmp_path / "demo"
    seen: dict[str, Any] = {}

    def open_app(where: Path, *, user: str | None = None, prefill_passphrase: str | None = None,
                 prepare: Any = None) -> int:
        seen.update(where=where, user=user, existed=(where / "archive.json").exists(), prepare=prepare)
        steps: list[tuple[int, int]] = []
        prepare(lambda done, total, message="": steps.append((done, total)), lambda: False)
        seen["steps"] = steps
        return 0

    assert cli_main(["demo", "--path", str(path), "--passphrase-file", str(passphrase_file),
                     "--kdf-params", "1,8192,1", "--small"], open_app=open_app) == 0
    assert seen["where"] == path.resolve() and seen["user"] == DEMO_USER
    assert seen["existed"] is False                       # the window came before the build
    assert (path / "archive.json").exists() and seen["steps"][-1][0] == seen["steps"][-1][1]


@pytest.mark.gui
def test_the_app_shows_progress_then_asks_to_unlock(qtbot: Any, tmp_path: Path, messages: Any) -> None:
    from dermarchive.demo import SMALL, ensure_demo
    from dermarchive.gui.app import App

    app = App()
    qtbot.addWidget(app.start)
    path = tmp_path / "demo"
    app.prepare_then_unlock(lambda progress, cancelled: ensure_demo(path, DEMO_PASSPHRASE, kdf=CHEAP_TEST_PARAMS,
                                                                    size=SMALL, progress=progress,
                                                                    cancelled=cancelled),
                            path, DEMO_USER, DEMO_PASSPHRASE)
    assert app.start.isVisible() and app.unlock_dialog is None   # a window at once, the build behind it
    qtbot.waitUntil(lambda: app.unlock_dialog is not None, timeout=60_000)
    assert app.unlock_dialog.panel.passphrase.text() == DEMO_PASSPHRASE
    assert (path / "archive.json").exists() and messages.entries == []
