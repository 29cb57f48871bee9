"""Render the application icon from its SVG source into every size desktops ask for.

    python packaging/render_icons.py               render all (overwrites)
    python packaging/render_icons.py --if-missing  render only if an output is missing (build)
    python packaging/render_icons.py --check       exit 1 if a committed file is missing or stale

Source: resources/app-icon/dermarchive.svg. Outputs (committed, so an install needs no Qt):
resources/app-icon/png/dermarchive-<N>.png for N in SIZES (freedesktop hicolor sizes, 16…512),
dermarchive.ico (Windows: 16…256 in one file) and dermarchive.icns (macOS). Rendered with Qt's
QSvgRenderer on the offscreen platform, then packed into ICO/ICNS with Pillow.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "app-icon"
SVG = ICON_DIR / "dermarchive.svg"
PNG_DIR = ICON_DIR / "png"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICO = ICON_DIR / "dermarchive.ico"
ICNS = ICON_DIR / "dermarchive.icns"
# Mean absolute difference per channel (0-255) above which a committed PNG counts as stale.
STALE_THRESHOLD = 2.0


def png_path(size: int) -> Path:
    return PNG_DIR / f"dermarchive-{size}.png"


def outputs() -> list[Path]:
    return [png_path(s) for s in SIZES] + [ICO, ICNS]


def render_png(size: int) -> bytes:
    """The SVG rendered at size x size pixels, antialiased, on a transparent background."""
    from PySide6.QtCore import QBuffer, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {SVG} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    return bytes(buf.data().data())


def render_all() -> None:
    from PIL import Image

    PNG_DIR.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        png_path(size).write_bytes(render_png(size))
    # ICO and ICNS from renders at each exact size (sharper than downscaling one big PNG).
    frames = {s: Image.open(io.BytesIO(render_png(s))).convert("RGBA") for s in ICO_SIZES}
    frames[256].save(ICO, format="ICO", sizes=[(s, s) for s in ICO_SIZES],
                     append_images=[frames[s] for s in ICO_SIZES if s != 256])
    big = Image.open(png_path(512)).convert("RGBA")
    big.save(ICNS, format="ICNS")
    print(f"render_icons: wrote {len(SIZES)} PNGs, {ICO.name} and {ICNS.name} in {ICON_DIR}")


def stale() -> list[str]:
    """Committed outputs that are missing or no longer match the SVG."""
    from PIL import Image, ImageChops, ImageStat

    problems = [f"missing: {p.relative_to(ICON_DIR)}" for p in outputs() if not p.exists()]
    for size in SIZES:
        path = png_path(size)
        if not path.exists():
            continue
        committed = Image.open(path).convert("RGBA")
        if committed.size != (size, size):
            problems.append(f"{path.name} is {committed.size}, expected {size}x{size}")
            continue
        fresh = Image.open(io.BytesIO(render_png(size))).convert("RGBA")
        diff = ImageStat.Stat(ImageChops.difference(committed, fresh)).mean
        if max(diff) > STALE_THRESHOLD:
            problems.append(f"{path.name} differs from the SVG (mean difference {max(diff):.1f}): re-render")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--if-missing", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for p in problems:
            print(f"render_icons: {p}", file=sys.stderr)
        return 1 if problems else 0
    if args.if_missing and all(p.exists() for p in outputs()):
        return 0
    render_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
