"""Opening photos while thumbnails load never freezes the app.

QImageReader on a QBuffer made in Python calls back into Python while holding Qt's image-plugin
lock; a viewer decode and a thumbnail decode on two worker threads then deadlocked (the suite hung
about one run in five in the compare test). The decoders now use Pillow off the GUI thread. The
real decoders run in a subprocess here, so a deadlock fails the test instead of hanging it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r'''
import os, sys, tempfile, threading
from pathlib import Path
os.environ["QT_QPA_PLATFORM"] = "offscreen"
tmp = Path(tempfile.mkdtemp(dir=sys.argv[3]))
os.environ["DERMARCHIVE_STATE_DIR"] = str(tmp / "state")
from PySide6.QtGui import QGuiApplication
from dermarchive.archive import CHEAP_TEST_PARAMS, Archive, records
from dermarchive.gui.thumbnails import _decode
from dermarchive.gui.viewer import decode_for_view
from tests.helpers import store_photo
app = QGuiApplication([])
archive = Archive.create(tmp / "a", "nurse", "stress passphrase 1", kdf=CHEAP_TEST_PARAMS)
patient = records.add_patient(archive, "ZZZ0016", "Stress")
image = records.get_image(archive, store_photo(archive, patient.id, Path(sys.argv[1])))
thumb = records.image_bytes(archive, image, "thumb")
rounds = int(sys.argv[2])
def view():
    for _ in range(rounds):
        assert not decode_for_view(archive, image).isNull()
def tiles():
    for _ in range(rounds * 10):
        assert not _decode(thumb, 144).isNull()
threads = [threading.Thread(target=f) for f in (view, view, tiles, tiles)]
[t.start() for t in threads]
[t.join() for t in threads]
archive.close()
print("ok")
'''


def test_viewer_and_thumbnail_decodes_on_worker_threads_never_deadlock(corpus: Path, tmp_path: Path) -> None:
    try:
        done = subprocess.run([sys.executable, "-c", SCRIPT, str(corpus / "landscape_1.jpg"), "80", str(tmp_path)],
                              cwd=REPO, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("decoding photos on worker threads deadlocked (no answer in 90 s)")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_the_viewer_shows_photos_upright_whatever_their_exif_orientation(corpus: Path, qapp: object) -> None:
    """landscape_1…8.jpg are one scene stored in the eight EXIF orientations."""
    from dermarchive.gui.thumbnails import decode_image

    shown = [decode_image((corpus / f"landscape_{n}.jpg").read_bytes()) for n in range(1, 9)]
    reference = shown[0]
    assert reference.width() > reference.height()

    def grey(img: object, x: int, y: int) -> int:
        colour = img.pixelColor(x, y)  # type: ignore[attr-defined]
        return (colour.red() + colour.green() + colour.blue()) // 3

    points = [(reference.width() * i // 7, reference.height() * j // 5) for i in range(1, 7) for j in range(1, 5)]
    for n, img in enumerate(shown[1:], 2):
        assert (img.width(), img.height()) == (reference.width(), reference.height()), n
        diff = sum(abs(grey(img, x, y) - grey(reference, x, y)) for x, y in points) / len(points)
        assert diff < 25, f"landscape_{n}.jpg is shown mirrored or rotated"
