"""CLI: ``dermarchive compare`` — the later photo of a lesion laid over the earlier one.

    dermarchive compare ARCHIVE --image A --image B --out DIR

writes ``DIR/aligned.png`` (B turned upright and warped into A's upright frame, A's size) and
``DIR/compare.json`` = ``{"transform": 3×3 matrix mapping B's upright pixel coordinates to A's,
"inliers": n, "residual_px": x, "interval_days": d}``. Audited as a view; the consent policy's
clinical rules apply. When the photos cannot be aligned nothing is written and the exit code is 4.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import ProgressBar, add_archive, emit, open_archive


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("compare", parents=[parent], help="align a later photo of a lesion onto an earlier one",
                       description="Lay photo B over photo A (same place, size and angle) and write the aligned "
                                   "picture and the transform. The stored photos never change.")
    add_archive(p)
    p.add_argument("--image", type=int, action="append", dest="images", required=True, metavar="ID",
                   help="photo id; give it twice: first the earlier photo A, then the later photo B")
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="new (or empty) folder for aligned.png and compare.json")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    import cv2

    from ..archive.fsutil import check_new_folder, new_folder, write_new_file
    from ..errors import InvalidInput, StorageError
    from ..workflows.compare import NotAligned, compare_images

    if len(args.images) != 2:
        raise InvalidInput(f"Give exactly two photos (--image A --image B); got {len(args.images)}.")
    check_new_folder(args.out)
    bar = ProgressBar()
    with open_archive(args) as a:
        result = compare_images(a, args.images[0], args.images[1], progress=bar, cancelled=bar.cancel.is_set)
    if result.aligned is None:
        raise NotAligned(result.registration.reason)
    ok, png = cv2.imencode(".png", cv2.cvtColor(result.aligned, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise StorageError("The aligned picture could not be encoded as PNG.")
    data = result.as_json()
    with new_folder(args.out, action="write the comparison") as tmp:
        write_new_file(tmp / "aligned.png", png.tobytes())
        write_new_file(tmp / "compare.json", (json.dumps(data, indent=2) + "\n").encode())
    days = data["interval_days"]
    emit(args, data, f"Aligned photo {args.images[1]} onto photo {args.images[0]}: {data['inliers']} matching "
                     f"points, median error {data['residual_px']} px"
                     + (f", {days} days apart" if days is not None else "") + f". Written to {args.out}.")
    return 0
