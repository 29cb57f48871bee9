"""Register a later photo of a lesion onto an earlier one (view-time only; stored photos never change).

Pure numpy + OpenCV: no archive, no Qt. The steps:

1. Both pictures are turned grey and downscaled to about :data:`WORK_SIDE` pixels on the long side
   (features on a 12 MP photo would cost seconds and add nothing at the lesion's scale).
2. SIFT features, ratio-test matches, and a RANSAC homography on the small copies.
3. Refinement at a finer scale (:data:`REFINE_SIDE`): the moving picture is warped with the coarse
   transform, corners of the fixed picture are tracked into it with pyramidal Lucas–Kanade
   (sub-pixel, checked forwards and backwards), and a second RANSAC fits the correction. For
   dermoscopy (a flat, contact view where features are few and soft) ECC first polishes the
   coarse homography on intensities.
4. The transform is rescaled to full resolution: it maps the moving picture's pixel coordinates to
   the fixed picture's pixel coordinates.

A result always says how good it is (inlier count, median residual in full-resolution pixels) and
``ok`` is False, with a plain reason, when the pair cannot be aligned (too few matches, a
degenerate or implausible transform): the caller then shows the plain pair and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np

WORK_SIDE = 1024          # long side of the copies the features are found on
FEATURES = 2500           # SIFT keypoints kept per work copy
REFINE_SIDE = 2048        # long side of the copies the transform is refined on
MIN_INLIERS = 12          # fewer RANSAC inliers than this: the pair is not aligned
MAX_RESIDUAL_PX = 8.0     # median reprojection error (full resolution, on the fixed photo) above this: failed
RATIO = 0.75              # Lowe's ratio test
RANSAC_PX = 3.0           # RANSAC threshold on the work copies

Progress = Callable[[int, int, str], None]


class RegistrationCancelled(Exception):
    """The cancel flag was set while registering."""


@dataclass(frozen=True)
class Registration:
    """How to lay the moving photo over the fixed one, and how well that works."""

    ok: bool
    transform: np.ndarray | None  # 3×3, moving pixel (x, y, 1) → fixed pixel, full resolution
    inliers: int
    matches: int
    residual_px: float | None     # median reprojection error of the inliers, fixed photo's pixels
    refined: str = ""             # "tracking", "ecc", "ecc+tracking" or "" (coarse features only / failed)
    reason: str = ""              # why it failed (plain words), empty when ok
    fixed_size: tuple[int, int] = (0, 0)   # (width, height)
    moving_size: tuple[int, int] = (0, 0)
    timings: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ok, "transform": None if self.transform is None else
                [[float(v) for v in row] for row in self.transform],
                "inliers": self.inliers, "matches": self.matches,
                "residual_px": None if self.residual_px is None else round(self.residual_px, 3),
                "refined": self.refined, "reason": self.reason}


def _gray(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return img
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_RGBA2GRAY)
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def _shrink(gray: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """A copy whose long side is at most ``side``, and the factor small = factor × full."""
    h, w = gray.shape[:2]
    f = min(1.0, side / max(h, w))
    if f >= 1.0:
        return gray, 1.0
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA), f


def _scale(f: float) -> np.ndarray:
    return np.diag([f, f, 1.0])


def _equalise(gray: np.ndarray) -> np.ndarray:
    """Local contrast (CLAHE) so that a change of lighting between visits moves few features."""
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    return clahe.apply(gray)


def _features(gray: np.ndarray, n: int) -> tuple[list[cv2.KeyPoint], np.ndarray | None]:
    sift = cv2.SIFT_create(nfeatures=n)
    return sift.detectAndCompute(gray, None)  # type: ignore[return-value]


def _match(da: np.ndarray | None, db: np.ndarray | None) -> list[tuple[int, int]]:
    """Ratio-test matches (index in A, index in B), cross-checked both ways."""
    if da is None or db is None or len(da) < 2 or len(db) < 2:
        return []
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    fwd = matcher.knnMatch(db, da, k=2)
    pairs = [(m.trainIdx, m.queryIdx) for m, n in (p for p in fwd if len(p) == 2) if m.distance < RATIO * n.distance]
    return pairs


def _plausible(h: np.ndarray, size: tuple[int, int]) -> bool:
    """Rejects transforms no follow-up photo needs: mirror images, > 4× scale, strong perspective."""
    if not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-12:
        return False
    h = h / h[2, 2]
    det = float(np.linalg.det(h[:2, :2]))
    if det <= 0 or not (1 / 16 <= det <= 16):
        return False
    w, hh = size
    corners = np.float32([[0, 0], [w, 0], [w, hh], [0, hh]]).reshape(-1, 1, 2)
    out = cv2.perspectiveTransform(corners, h).reshape(-1, 2)
    # a convex quadrilateral of the same orientation: no fold-over
    edges = [out[(i + 1) % 4] - out[i] for i in range(4)]
    cross = [edges[i][0] * edges[(i + 1) % 4][1] - edges[i][1] * edges[(i + 1) % 4][0] for i in range(4)]
    if not (all(c > 0 for c in cross) or all(c < 0 for c in cross)):
        return False
    denom = np.array([[0, 0, 1], [w, 0, 1], [w, hh, 1], [0, hh, 1]], float) @ h[2]
    return bool(np.all(denom > 0.2) and np.all(denom < 5))


def _fit(pa: np.ndarray, pb: np.ndarray, threshold: float) -> tuple[np.ndarray | None, np.ndarray]:
    if len(pa) < 4:
        return None, np.zeros(len(pa), bool)
    h, mask = cv2.findHomography(pb, pa, cv2.USAC_MAGSAC, threshold, maxIters=5000, confidence=0.9999)
    if h is None:
        return None, np.zeros(len(pa), bool)
    return h, mask.ravel().astype(bool)


def _residuals(h: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    proj = cv2.perspectiveTransform(pb.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)
    return np.linalg.norm(proj - pa.reshape(-1, 2), axis=1)


def _flat(gray: np.ndarray) -> np.ndarray:
    """Lighting taken out: the picture minus its broad shading, contrast-stretched (uint8)."""
    f = gray.astype(np.float32)
    small = cv2.resize(f, (max(1, f.shape[1] // 8), max(1, f.shape[0] // 8)), interpolation=cv2.INTER_AREA)
    shade = cv2.resize(cv2.GaussianBlur(small, (0, 0), 1.5), (f.shape[1], f.shape[0]),
                       interpolation=cv2.INTER_LINEAR)
    hp = f - shade
    sd = float(hp.std()) or 1.0
    return np.clip(128 + hp * (40 / sd), 0, 255).astype(np.uint8)


def register(fixed: np.ndarray, moving: np.ndarray, *, dermoscopy: bool = False,
             progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> Registration:
    """Find the homography that lays ``moving`` (later photo) over ``fixed`` (earlier photo).

    Both are upright pictures as arrays (H×W grey, H×W×3 RGB or H×W×4 RGBA, uint8). Never raises
    on a pair that does not align: the result's ``ok`` is False with the reason.
    """
    import time

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    fsize = (int(fixed.shape[1]), int(fixed.shape[0]))
    msize = (int(moving.shape[1]), int(moving.shape[0]))

    def step(i: int, msg: str) -> None:
        if cancelled is not None and cancelled():
            raise RegistrationCancelled()
        if progress:
            progress(i, 4, msg)

    def failed(reason: str, inliers: int = 0, matches: int = 0) -> Registration:
        timings["total"] = time.perf_counter() - t0
        return Registration(False, None, inliers, matches, None, "", reason, fsize, msize, timings)

    step(0, "Finding features")
    ga, gb = _gray(fixed), _gray(moving)
    a1, fa1 = _shrink(ga, REFINE_SIDE)
    b1, fb1 = _shrink(gb, REFINE_SIDE)
    a0, fa0 = _shrink(a1, WORK_SIDE)
    b0, fb0 = _shrink(b1, WORK_SIDE)
    fa0, fb0 = fa0 * fa1, fb0 * fb1
    a0, b0 = _equalise(a0), _equalise(b0)
    timings["downscale"] = time.perf_counter() - t0

    # the two pictures' features at once: OpenCV releases the GIL, and there are two cores
    with ThreadPoolExecutor(max_workers=2) as pool:
        fut_b = pool.submit(_features, b0, FEATURES)
        ka, da = _features(a0, FEATURES)
        kb, db = fut_b.result()
    pairs = _match(da, db)
    timings["features"] = time.perf_counter() - t0
    step(1, "Matching")
    if len(pairs) < MIN_INLIERS:
        return failed(f"only {len(pairs)} matching points were found; the photos may not show the same area",
                      0, len(pairs))
    pa = np.float32([ka[i].pt for i, _ in pairs])
    pb = np.float32([kb[j].pt for _, j in pairs])
    h0, mask = _fit(pa, pb, RANSAC_PX)
    n_in = int(mask.sum())
    if h0 is None or n_in < MIN_INLIERS:
        return failed(f"only {n_in} of {len(pairs)} matches agree on one transform; "
                      "the photos may not show the same area", n_in, len(pairs))
    # full-resolution transform: fixed_full ← fixed_small ← moving_small ← moving_full
    coarse = np.linalg.inv(_scale(fa0)) @ h0 @ _scale(fb0)
    coarse /= coarse[2, 2]
    if not _plausible(coarse, msize):
        return failed("the matches describe an implausible transform (mirrored, folded or a very large "
                      "change of scale)", n_in, len(pairs))
    timings["coarse"] = time.perf_counter() - t0

    step(2, "Refining")
    h, refined, pa_in, pb_in = _refine(a1, b1, fa1, fb1, coarse, dermoscopy)
    if h is None:
        h, refined = coarse, ""
    if not len(pa_in):  # quality measured on the coarse inliers
        pa_in = pa[mask] / fa0
        pb_in = pb[mask] / fb0
    timings["refine"] = time.perf_counter() - t0

    step(3, "Checking")
    res = _residuals(h, pa_in, pb_in)
    residual = float(np.median(res)) if len(res) else float("inf")
    inliers = int(len(res))
    timings["total"] = time.perf_counter() - t0
    if not _plausible(h, msize):
        return failed("the refined transform is implausible", inliers, len(pairs))
    if residual > MAX_RESIDUAL_PX:
        return failed(f"the photos align only roughly (median error {residual:.1f} px)", inliers, len(pairs))
    step(4, "Done")
    return Registration(True, h, inliers, len(pairs), residual, refined, "", fsize, msize, timings)


def _refine(a1: np.ndarray, b1: np.ndarray, fa1: float, fb1: float, coarse: np.ndarray,
            dermoscopy: bool) -> tuple[np.ndarray | None, str, np.ndarray, np.ndarray]:
    """Second pass at REFINE_SIDE (see the module's docstring).

    Returns the full-resolution transform, how it was refined, and the inlier point pairs in
    full-resolution coordinates (fixed, moving); (None, "", …) when refining does not help, and
    the coarse transform stands.
    """
    empty = np.zeros((0, 2), np.float32)
    hr = _scale(fa1) @ coarse @ np.linalg.inv(_scale(fb1))  # fixed_r ← moving_r
    starts = [(hr, "")]
    if dermoscopy:
        polished = _ecc_polish(a1, b1, hr)
        if polished is not None:
            starts.insert(0, (polished, "ecc"))
    fa = _flat(a1)
    for start, how in starts:
        tracked = _track(fa, b1, start)
        if tracked is not None:
            corr, pa, pw = tracked
            full = np.linalg.inv(_scale(fa1)) @ corr @ start @ _scale(fb1)
            pm = cv2.perspectiveTransform(pw.reshape(-1, 1, 2).astype(np.float64), np.linalg.inv(start))
            return (full / full[2, 2], f"{how}+tracking" if how else "tracking",
                    (pa / fa1).astype(np.float32), (pm.reshape(-1, 2) / fb1).astype(np.float32))
    if len(starts) > 1:  # ECC alone
        full = np.linalg.inv(_scale(fa1)) @ starts[0][0] @ _scale(fb1)
        return full / full[2, 2], "ecc", empty, empty
    return None, "", empty, empty


def _ecc_polish(a1: np.ndarray, b1: np.ndarray, hr: np.ndarray) -> np.ndarray | None:
    """ECC on work-size copies (it costs per pixel and per iteration): a small affine correction
    of ``hr`` found on intensities; None when ECC does not converge or wants to move far."""
    a2, f2a = _shrink(a1, WORK_SIDE)
    b2, f2b = _shrink(b1, WORK_SIDE)
    h2 = _scale(f2a) @ hr @ np.linalg.inv(_scale(f2b))
    w2 = cv2.warpPerspective(b2, h2, (a2.shape[1], a2.shape[0]), flags=cv2.INTER_LINEAR)
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-5)
    try:
        # band-pass: the lighting's gradient (which ECC's global gain cannot absorb, and would
        # answer with a shift) goes with the broad shading, JPEG noise with the fine blur
        cc, warp = cv2.findTransformECC(cv2.GaussianBlur(_flat(a2), (0, 0), 2.0),
                                        cv2.GaussianBlur(_flat(w2), (0, 0), 2.0), warp, cv2.MOTION_AFFINE,
                                        criteria, (w2 > 0).astype(np.uint8), 1)
    except cv2.error:
        return None
    corr = np.linalg.inv(np.vstack([warp.astype(np.float64), [0, 0, 1]]))  # ECC's warp: fixed → moving
    if np.abs(corr[:2, :2] - np.eye(2)).max() > 0.02 or np.abs(corr[:2, 2]).max() > 6:
        return None  # the coarse features were already within a few pixels: a big jump is ECC lost
    out = np.linalg.inv(_scale(f2a)) @ corr @ h2 @ _scale(f2b)
    return out / out[2, 2]


def _track(fa: np.ndarray, b1: np.ndarray, hr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Warp B onto A's grid with ``hr``, track corners of A into it (pyramidal Lucas–Kanade,
    sub-pixel, checked forwards and backwards) and fit the small affine correction left.

    ``fa`` is A's refine copy with lighting taken out. Returns (correction warped → fixed, inlier
    points on A's grid, the same points on the warped grid), or None.
    """
    size = (fa.shape[1], fa.shape[0])
    warped = cv2.warpPerspective(b1, hr, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    # where the warped B has picture, 16 px in from its edges (a tracking window must not see the border)
    bh, bw = b1.shape[:2]
    inset = np.float64([[16, 16], [bw - 16, 16], [bw - 16, bh - 16], [16, bh - 16]]).reshape(-1, 1, 2)
    quad = cv2.perspectiveTransform(inset, hr).reshape(-1, 2)
    valid = np.zeros(fa.shape, np.uint8)
    cv2.fillConvexPoly(valid, np.round(quad).astype(np.int32), 255)
    fw = _flat(warped)
    corners = cv2.goodFeaturesToTrack(fa, maxCorners=3000, qualityLevel=0.001, minDistance=8,
                                      mask=valid, blockSize=7)
    if corners is None or len(corners) < MIN_INLIERS:
        return None
    # minEigThreshold: a window with too little structure is dropped rather than left to wander
    lk = {"winSize": (21, 21), "maxLevel": 2, "minEigThreshold": 1e-3,
          "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)}
    tracked, status, _err = cv2.calcOpticalFlowPyrLK(fa, fw, corners, None, **lk)
    back, status2, _err2 = cv2.calcOpticalFlowPyrLK(fw, fa, tracked, None, **lk)
    pa, pw = corners.reshape(-1, 2), tracked.reshape(-1, 2)
    good = (status.ravel() == 1) & (status2.ravel() == 1)
    good &= np.linalg.norm(back.reshape(-1, 2) - pa, axis=1) < 0.3
    good &= np.linalg.norm(pw - pa, axis=1) < 8.0
    if good.sum() < MIN_INLIERS:
        return None
    # The correction left after the coarse homography is small and nearly affine; an affine fit
    # extrapolates to the corners stably even when the tracked points sit in one part of the photo.
    corr, inl = cv2.estimateAffine2D(pw[good], pa[good], method=cv2.RANSAC, ransacReprojThreshold=1.0,
                                     maxIters=4000, confidence=0.999, refineIters=20)
    if corr is None:
        return None
    mask = inl.ravel().astype(bool)
    if mask.sum() < MIN_INLIERS or (np.ptp(pa[good][mask], axis=0) / np.array(size, float)).min() < 0.25:
        return None  # too few, or bunched in one corner: the coarse transform stands
    pa_in, pw_in = pa[good][mask], pw[good][mask]
    # Final fit: a full homography, least squares over the inliers, so that the coarse transform's
    # small perspective error (which an affine correction cannot undo) goes too.
    full, _ = cv2.findHomography(pw_in, pa_in, 0)
    if full is not None and _plausible(full, size):
        err_full = np.median(_residuals(full, pa_in, pw_in))
        err_aff = np.median(_residuals(np.vstack([corr, [0, 0, 1]]), pa_in, pw_in))
        if err_full <= err_aff:
            return full / full[2, 2], pa_in, pw_in
    return np.vstack([corr, [0, 0, 1]]), pa_in, pw_in


def warp(moving: np.ndarray, transform: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``moving`` warped into the fixed photo's frame (``size`` = fixed (width, height)); outside
    the moving photo is black."""
    return cv2.warpPerspective(moving, transform, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def corner_error(truth: np.ndarray, found: np.ndarray, size: tuple[int, int]) -> float:
    """Largest distance (pixels of the fixed photo) between where the two transforms put the
    moving photo's four corners; ``size`` is the moving photo's (width, height)."""
    w, h = size
    corners = np.float64([[0, 0], [w, 0], [w, h], [0, h]]).reshape(-1, 1, 2)
    a = cv2.perspectiveTransform(corners, truth).reshape(-1, 2)
    b = cv2.perspectiveTransform(corners, found).reshape(-1, 2)
    return float(np.max(np.linalg.norm(a - b, axis=1)))
