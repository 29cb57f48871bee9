"""The README's screenshots, made by the real app from the demo archive (so they stay current).

    python docs/make_screenshots.py [--out docs/screenshots] [--small]

Builds a throw-away demo archive (synthetic patients, test NHIs starting with Z) in a temporary
folder, with the app's state folder there too (the real user's recent archives and settings are
never read or touched), then drives the real windows on Qt's offscreen platform at 1280×720 and
saves: start screen, patient page, lesion compare, import wizard, consent editor, and page 1 of
a referral letter (the PDF rendered by the same code as the referral dialog's preview).
CI runs it into a temporary folder (.ci/after-screenshots.sh); the committed images are its output.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SIZE = (1280, 720)  # the smallest screen the app is built for
SHOTS = ("start-screen", "patient-page", "lesion-compare", "import-wizard", "consent-editor", "referral-page")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="folder for the PNGs")
    parser.add_argument("--small", action="store_true", help="the small demo (3 patients): quicker, for checks")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    # A fixed, readable folder (the start screen lists the archive's path), emptied before and after.
    tmp = Path(tempfile.gettempdir()) / "DermArchive screenshots"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ["DERMARCHIVE_STATE_DIR"] = str(tmp / "state")
        sys.path.insert(0, str(REPO))
        made = Screenshots(tmp, args.out, small=args.small).run()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for path in made:
        print(path)
    return 0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"make_screenshots: timed out waiting for {what}")
        QApplication.processEvents()
        time.sleep(0.02)


def settle(seconds: float = 0.3) -> None:
    """Let queued paints and thumbnail deliveries land before a grab."""
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


class Screenshots:
    def __init__(self, tmp: Path, out: Path, *, small: bool) -> None:
        self.tmp, self.out, self.small = tmp, out, small
        self.made: list[Path] = []

    def save(self, name: str, widget: Any) -> None:
        settle()
        path = self.out / f"{name}.png"
        if not widget.grab().save(str(path)):
            raise SystemExit(f"make_screenshots: could not write {path}")
        self.made.append(path)

    def run(self) -> list[Path]:
        from PySide6.QtCore import qInstallMessageHandler

        from dermarchive import demo
        from dermarchive.archive import Archive
        from dermarchive.archive.keys import KdfParams
        from dermarchive.gui import settings
        from dermarchive.gui.app import App, application

        def quiet(_mode: Any, _context: Any, message: str) -> None:
            if "This plugin does not support" not in message:  # the offscreen platform has no window manager
                print(message, file=sys.stderr)

        qInstallMessageHandler(quiet)
        application()
        path = self.tmp / "demo-archive"
        # A throw-away copy: a cheap key derivation is enough (the real demo's default is not cheap).
        demo.ensure_demo(path, demo.DEMO_PASSPHRASE, kdf=KdfParams(1, 8192, 1),
                         size=demo.SMALL if self.small else demo.FULL)
        settings.add_recent(path)

        controller = App()
        controller.show_start()
        controller.start.resize(*SIZE)
        self.save("start-screen", controller.start)
        controller.start.hide()

        with Archive.open(path, demo.DEMO_USER, demo.DEMO_PASSPHRASE) as archive:
            self.referral_page(archive)
        archive = Archive.open(path, demo.DEMO_USER, demo.DEMO_PASSPHRASE)
        try:
            self.main_window_shots(archive)
        finally:
            archive.close()  # does nothing if closing the main window closed it
        order = {name: n for n, name in enumerate(SHOTS)}
        return sorted(self.made, key=lambda p: order[p.stem])

    # -- the main window and its dialogs ------------------------------------------------------
    def main_window_shots(self, archive: Any) -> None:
        from dermarchive.archive import records
        from dermarchive.gui.main_window import MainWindow

        window = MainWindow(archive)
        window.resize(*SIZE)
        window.show()
        wait_until(lambda: window.patients_ready, "the patient list")
        patient_row, lesion = self.richest_lesion(window, archive)
        window.patient_table.selectRow(patient_row)
        wait_until(lambda: window.patient_page.ready, "the patient page")
        page = window.patient_page
        page.select_lesion(lesion.id)
        clinical = [i for i in page.timeline_model.images() if i.kind == "clinical"]
        page.select_images([clinical[-1].id])  # the details panel shows the photo and its consent
        self.wait_thumbnails(window)
        self.save("patient-page", window)

        window.compare_images(clinical[0], clinical[-1])  # the first and the latest visit
        wait_until(lambda: window.compare.left.view.has_image() and window.compare.right.view.has_image(),
                   "both photos of the compare view")
        self.save("lesion-compare", window)
        window.back_to_patient()

        self.import_wizard(window, archive, records.images(archive, patient_id=page.patient.id))
        self.consent_editor(window, archive, self.signed_visit(archive, page.patient.id))
        window.close()
        window.loader.pool.waitForDone(5000)

    def richest_lesion(self, window: Any, archive: Any) -> tuple[int, Any]:
        """The patient row and lesion with the most clinical photos (the fullest timeline)."""
        from dermarchive.archive import records

        best: tuple[int, int, Any] | None = None
        for row in range(window.patient_model.rowCount()):
            patient = window.patient_model.patient_at(row)
            for lesion in records.lesions(archive, patient.id):
                count = sum(1 for i in records.images(archive, patient_id=patient.id)
                            if i.lesion_id == lesion.id and i.kind == "clinical")
                if best is None or count > best[0]:
                    best = (count, row, lesion)
        assert best is not None, "the demo archive has no lesions"
        return best[1], best[2]

    def wait_thumbnails(self, window: Any) -> None:
        loader = window.loader
        wait_until(lambda: loader.cache.bytes > 0 and loader.pool.activeThreadCount() == 0, "the thumbnails",
                   timeout=120)

    def import_wizard(self, window: Any, archive: Any, images: list[Any]) -> None:
        """The wizard's review page on a 'phone folder' of a few demo photos."""
        import piexif
        from PySide6.QtWidgets import QLabel

        from dermarchive.archive import records
        from dermarchive.gui.import_wizard import ImportWizard
        from dermarchive.gui.import_wizard.wizard import PAGE_REVIEW

        phone = self.tmp / "Phone camera"
        phone.mkdir()
        for n, image in enumerate(images[:8]):
            taken = f"2025:03:{12 + n // 4:02d} 10:{15 + 3 * n:02d}:00"
            exif = piexif.dump({"0th": {piexif.ImageIFD.Make: b"Demo", piexif.ImageIFD.Model: b"Phone"},
                                "Exif": {piexif.ExifIFD.DateTimeOriginal: taken.encode()}})
            out = io.BytesIO()
            piexif.insert(exif, records.image_bytes(archive, image), out)
            (phone / f"IMG_{taken[:10].replace(':', '')}_{taken[11:].replace(':', '')}.jpg").write_bytes(
                out.getvalue())
        wizard = ImportWizard(archive, parent=window, folder=phone)
        wizard.resize(*SIZE)
        wizard.show()
        wizard.next()
        wait_until(lambda: wizard.currentId() == PAGE_REVIEW, "the import wizard's review page")
        wait_until(lambda: len(wizard.thumbs) >= min(len(images), 8), "the wizard's thumbnails", timeout=120)
        preview = wizard.review.w(QLabel, "previewLabel")
        wizard.review.show_preview(1)
        wait_until(lambda: preview.pixmap() is not None and not preview.pixmap().isNull(), "the large preview")
        self.save("import-wizard", wizard)
        wizard.reject()

    def signed_visit(self, archive: Any, patient_id: int) -> int:
        """A visit of the patient whose consent was signed on the screen (else any with consent)."""
        from dermarchive.archive import records
        from dermarchive.consent import policy

        visits = sorted({i.visit_id for i in records.images(archive, patient_id=patient_id)})
        consents = policy.current_consents(archive, visits)
        signed = [v for v, c in consents.items() if c.method == "written-signature"]
        return (signed or list(consents) or visits)[-1]

    def consent_editor(self, window: Any, archive: Any, visit_id: int) -> None:
        from dermarchive.gui.consent_editor import ConsentEditorDialog

        dialog = ConsentEditorDialog(archive, visit_id, parent=window)
        dialog.show()
        # The size it opens with on a 1280x720 desktop (the offscreen platform's own screen is
        # 800x600, which would squeeze it into scroll bars no laptop user sees).
        # (forms.fit_to_screen: 1140x780, capped to 94 % x 92 % of the screen)
        dialog.resize(min(1140, int(SIZE[0] * 0.94)), min(780, int(SIZE[1] * 0.92)))
        self.save("consent-editor", dialog)
        dialog.reject()

    # -- the referral letter ------------------------------------------------------------------
    def referral_page(self, archive: Any) -> None:
        from dermarchive.archive import records
        from dermarchive.exports.referral import default_image_ids, preview_referral

        for patient in records.find_patients(archive):
            ids = default_image_ids(archive, patient.id)
            if len(ids) >= 2:
                break
        else:
            raise SystemExit("make_screenshots: no demo patient has photos with referral consent")
        preview = preview_referral(
            archive, patient.id, dpi=110, image_ids=ids[:4], to="Dermatology Service, City Hospital",
            question="Please assess this changing pigmented lesion for melanoma and advise on excision.",
            history="Noticed by the patient three months ago; darker and larger since. No personal or family "
                    "history of melanoma. No regular medications.",
            urgency="urgent", referrer="Dr Demo Clinician")
        path = self.out / "referral-page.png"
        path.write_bytes(preview.png)
        self.made.append(path)


if __name__ == "__main__":
    sys.exit(main())
