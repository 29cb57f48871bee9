"""Registration of a later lesion photo onto an earlier one, on generated pairs with known transforms."""

from __future__ import annotations

import numpy as np
import pytest

from dermarchive.compare import registration, synthetic

W, H = 1600, 1200  # 2 MP keeps the suite quick; bench/bench_registration.py measures 12 MP


@pytest.mark.parametrize("rotation, scale, shift, seed", [
    (15.0, 1.15, (60.0, -40.0), 11),
    (-15.0, 0.85, (-50.0, 30.0), 12),
    (0.0, 1.0, (120.0, 80.0), 13),
])
def test_known_transform_is_found_within_a_pixel(rotation, scale, shift, seed):
    pair = synthetic.make_pair(W, H, rotation_deg=rotation, scale=scale, shift=shift, seed=seed)
    result = registration.register(pair.fixed, pair.moving)
    assert result.ok, result.reason
    # 2 px at 12 MP is 0.8 px at this size (long side 1600 vs 4000)
    assert registration.corner_error(pair.truth, result.transform, (W, H)) <= 0.8
    assert result.inliers >= registration.MIN_INLIERS and result.residual_px < 1.0
    # the found transform is not a lucky identity: the true one moves the corners by tens of pixels
    assert registration.corner_error(pair.truth, np.eye(3), (W, H)) > 50


def test_dermoscopy_refines_with_ecc_and_stays_accurate():
    pair = synthetic.make_pair(W, H, rotation_deg=-8, scale=1.08, shift=(20.0, 15.0), seed=21)
    result = registration.register(pair.fixed, pair.moving, dermoscopy=True)
    assert result.ok, result.reason
    assert result.refined.startswith("ecc")
    assert registration.corner_error(pair.truth, result.transform, (W, H)) <= 0.8


def test_warped_later_photo_lies_over_the_earlier_one():
    pair = synthetic.make_pair(W, H, rotation_deg=12, scale=0.9, shift=(30.0, 30.0), seed=31, lighting=False)
    result = registration.register(pair.fixed, pair.moving)
    aligned = registration.warp(pair.moving, result.transform, (W, H)).astype(np.int16)
    plain = pair.moving.astype(np.int16)
    inside = aligned.sum(axis=2) > 0
    diff_aligned = np.abs(aligned - pair.fixed)[inside].mean()
    diff_plain = np.abs(plain - pair.fixed)[inside].mean()
    assert diff_aligned < 3 < diff_plain


def test_pair_without_overlap_fails_with_a_reason():
    pair = synthetic.make_pair(W, H, seed=41, overlap=False)
    result = registration.register(pair.fixed, pair.moving)
    assert not result.ok and result.transform is None
    assert "same area" in result.reason or "implausible" in result.reason or "roughly" in result.reason


def test_blank_photo_fails_without_raising():
    flat = np.full((600, 800, 3), 200, np.uint8)
    result = registration.register(flat, flat.copy())
    assert not result.ok and result.reason and result.inliers == 0


def test_cancel_stops_registration():
    pair = synthetic.make_pair(800, 600, seed=51)
    with pytest.raises(registration.RegistrationCancelled):
        registration.register(pair.fixed, pair.moving, cancelled=lambda: True)


@pytest.mark.parametrize("photo, rotation, scale", [("jolla.jpg", 12.0, 0.9), ("iphone_hdr_NO.jpg", -10.0, 1.12)])
def test_real_phone_photo_through_a_known_transform(corpus, photo, rotation, scale):
    """A real phone photo (not our generator's skin) as the scene both photos were taken of."""
    from PIL import Image, ImageOps

    with Image.open(corpus / photo) as img:
        scene = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    w, h = 1600, 1200
    canvas = np.ascontiguousarray(scene[: int(h * 1.7) + 1, : int(w * 1.7) + 1])
    pair = synthetic.make_pair(w, h, rotation_deg=rotation, scale=scale, shift=(25.0, -35.0), canvas=canvas)
    result = registration.register(pair.fixed, pair.moving)
    assert result.ok, result.reason
    assert registration.corner_error(pair.truth, result.transform, (w, h)) <= 0.8


def test_soft_dermoscopy_without_trackable_corners_is_polished_by_ecc_not_thrown_off():
    """Blurred (soft, low-contrast) pictures leave Lucas-Kanade too few corners; ECC then refines
    the feature match on intensities, and must not drift from it (a lighting gradient once made
    it trade the gradient for a 17 px shift)."""
    import cv2

    pair = synthetic.make_pair(W, H, rotation_deg=-8, scale=1.08, shift=(20.0, 15.0), seed=21)
    a, b = cv2.GaussianBlur(pair.fixed, (0, 0), 3), cv2.GaussianBlur(pair.moving, (0, 0), 3)
    result = registration.register(a, b, dermoscopy=True)
    assert result.ok and result.refined == "ecc"
    assert registration.corner_error(pair.truth, result.transform, (W, H)) <= 1.5
