"""The consent policy against an independent model of DESIGN §4, over random consent histories.

Each example builds fresh visits in a real archive, plays a random history on each (record with a
random method/scopes/evidence, withdraw with or without deletion, delete the form photo), then for
every purpose compares policy.check with the model, and runs the real de-identified export for
the secondary purposes: it must contain exactly the allowed images, or refuse naming exactly the
refused ones and write nothing.
"""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from dermarchive.archive import Archive, records
from dermarchive.consent import policy
from dermarchive.consent.policy import ConsentRefused
from dermarchive.consent.records import record_consent
from dermarchive.workflows.consent import withdraw_consent
from dermarchive.consent.scopes import CLINICAL, PATIENT_ACCESS, PURPOSES, SECONDARY
from dermarchive.errors import InvalidInput
from dermarchive.exports.deidentified import export_deidentified
from tests.test_consent_support import add_photo, make_patient, signature_png

# Real corpus photos of distinct sizes, so an exported file tells which photo it came from.
PHOTOS = {"noexif.jpg": (50, 50), "exif_gps.jpg": (8, 8), "icc-after-SOF.jpg": (10, 10),
          "multiple_exif.jpg": (1, 1), "invalid-exif.jpg": (200, 200), "clipboard_target.png": (296, 176)}
FORM_PHOTO = "noapp01.jpg"
METHOD_NAMES = ("written-signature", "written-on-paper", "photographed-form", "verbal", "exemption")


# -- the model: DESIGN §4 written out independently of policy.py -------------------------------
@dataclass
class ModelVisit:
    consent: dict[str, Any] | None = None  # method, scopes, evidence, withdrawn
    photos: dict[int, tuple[str, bool]] = field(default_factory=dict)  # id → (kind, essential)
    form: int | None = None


def model_allows(v: ModelVisit, kind: str, purpose: str) -> bool:
    if purpose == PATIENT_ACCESS:
        return True
    if kind == "consent-form" and purpose not in CLINICAL:
        return False
    c = v.consent
    if c is None or c["withdrawn"]:
        return purpose == "clinical.documentation"
    if c["method"] == "exemption":
        return purpose in CLINICAL
    if purpose == "clinical.documentation":
        return True
    if purpose not in c["scopes"]:
        return False
    written = c["method"] in ("written-signature", "photographed-form") and c["evidence"]
    return purpose in CLINICAL or written


def model_record_error(method: str, scopes: set[str]) -> bool:
    secondary = scopes & set(SECONDARY)
    if method == "exemption":
        return bool(secondary)
    if method == "verbal" and secondary:
        return True
    return not scopes


# -- strategies -------------------------------------------------------------------------------
record_step = st.tuples(st.just("record"), st.sampled_from(METHOD_NAMES),
                        st.frozensets(st.sampled_from(PURPOSES), max_size=5))
withdraw_step = st.tuples(st.just("withdraw"), st.booleans())
delete_form_step = st.tuples(st.just("delete-form"))
history = st.lists(st.one_of(record_step, record_step, withdraw_step, delete_form_step), max_size=4)
visit_plan = st.tuples(st.lists(st.tuples(st.sampled_from(sorted(PHOTOS)), st.booleans()), min_size=1, max_size=2),
                       history)


def play(archive: Archive, patient_id: int, plan: Any) -> ModelVisit:
    photos, steps = plan
    vid = records.add_visit(archive, patient_id, "2024-05-01")
    model = ModelVisit()
    for name, essential in photos:
        model.photos[add_photo(archive, vid, name, essential=essential)] = ("clinical", essential)
    for step in steps:
        if step[0] == "record":
            _, method_name, scopes = step
            method = "written-signature" if method_name == "written-on-paper" else method_name
            kwargs: dict[str, Any] = {}
            if method_name == "written-signature":
                kwargs["signature"] = signature_png()
            elif method_name == "written-on-paper":
                kwargs["signature_on_paper"] = True
            elif method == "photographed-form":
                if model.form is None:
                    model.form = add_photo(archive, vid, FORM_PHOTO, kind="consent-form")
                    model.photos[model.form] = ("consent-form", False)
                kwargs["form_image_id"] = model.form
            elif method == "exemption":
                kwargs["exemption_reason"] = "suspected non-accidental injury"
            if model_record_error(method, set(scopes)):
                with pytest.raises(InvalidInput):
                    record_consent(archive, vid, scopes=sorted(scopes), method=method, obtained_by="RN", **kwargs)
                continue
            record_consent(archive, vid, scopes=sorted(scopes), method=method, obtained_by="RN", **kwargs)
            model.consent = {"method": method, "scopes": set(scopes), "evidence": True, "withdrawn": False}
        elif step[0] == "withdraw":
            if model.consent is None or model.consent["withdrawn"]:
                with pytest.raises(InvalidInput):
                    withdraw_consent(archive, vid, reason="asked", delete_non_essential=step[1])
                continue
            w = withdraw_consent(archive, vid, reason="asked", delete_non_essential=step[1])
            model.consent["withdrawn"] = True
            doomed = {i for i, (k, e) in model.photos.items() if step[1] and k != "consent-form" and not e}
            assert set(w.deleted) == doomed
            for i in doomed:
                del model.photos[i]
        elif step[0] == "delete-form" and model.form is not None:
            records.delete_images(archive, [model.form], reason="test")
            del model.photos[model.form]
            model.form = None
            if model.consent is not None and model.consent["method"] == "photographed-form":
                model.consent["evidence"] = False
    # the archive and the model agree on which photos exist
    assert {i.id for i in records.images(archive, visit_id=vid)} == set(model.photos)
    return model


_counter = itertools.count()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(plans=st.lists(visit_plan, min_size=1, max_size=3), selection_seed=st.randoms(use_true_random=False))
def test_exports_contain_exactly_the_allowed_images(archive: Archive, tmp_path: Path, plans: list[Any],
                                                    selection_seed: Any) -> None:
    # One patient per example, so each export sees only this example's photos.
    n = next(_counter)
    patient_id = make_patient(archive, _test_nhi(n), f"Family{n}", "Given")
    visits = [play(archive, patient_id, plan) for plan in plans]
    kinds = {i: k for v in visits for i, (k, _e) in v.photos.items()}
    visit_of = {i: v for v in visits for i in v.photos}
    every = sorted(kinds)

    for purpose in (*PURPOSES, PATIENT_ACCESS):
        expected_refused = {i for i in every if not model_allows(visit_of[i], kinds[i], purpose)}
        assert {r.image_id for r in policy.check(archive, every, purpose)} == expected_refused, purpose
    scopes = policy.image_scopes(archive, every)
    for i in every:
        assert scopes[i] == {p for p in PURPOSES if model_allows(visit_of[i], kinds[i], p)}

    for purpose in SECONDARY:
        chosen = [i for i in every if selection_seed.random() < 0.7] or every
        allowed = [i for i in chosen if model_allows(visit_of[i], kinds[i], purpose)]
        out = tmp_path / f"export-{n}-{purpose}"
        if len(allowed) < len(chosen):
            with pytest.raises(ConsentRefused) as refused:
                export_deidentified(archive, patient_id, purpose, out, image_ids=chosen)
            assert {r.image_id for r in refused.value.refusals} == set(chosen) - set(allowed)
            assert not out.exists()
        if allowed:
            export_deidentified(archive, patient_id, purpose, out, image_ids=allowed)
            files = sorted(p for p in out.iterdir() if p.suffix == ".jpg")
            sizes = sorted(_size(p) for p in files)
            assert sizes == sorted(_expected_size(archive, i) for i in allowed)
            assert json.loads((out / "images.json").read_text())["count"] == len(allowed)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        return img.size


def _expected_size(archive: Archive, image_id: int) -> tuple[int, int]:
    image = records.get_image(archive, image_id)
    with Image.open(io.BytesIO(records.image_bytes(archive, image))) as img:
        return img.size


def _test_nhi(n: int) -> str:
    """The n-th valid test NHI (old format ZZZnnnC: letters ZZZ, 3 digits, mod-11 check digit)."""
    from dermarchive import nhi

    found = -1
    for number in range(1000):
        candidate = f"ZZZ{number:03d}"
        for check in "0123456789":
            try:
                value = nhi.validate(candidate + check)
            except Exception:  # noqa: BLE001 - invalid candidates are skipped
                continue
            found += 1
            if found == n:
                return value
    raise AssertionError("ran out of test NHIs")
