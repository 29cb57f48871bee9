"""The wizard's adapter over the import core (Qt-free): the nurse's visits and new lesions with
their own sites, carried out on real corpus photos in a real archive."""

from __future__ import annotations

from typing import Any

import pytest

from dermarchive.archive import records
from dermarchive.archive.verify import verify
from dermarchive.consent import records as consent_records
from dermarchive.errors import InvalidInput
from dermarchive.workflows.import_visit import (ConsentChoice, ImportChoices, NewLesion, PhotoChoice,
                                                   carry_out, check_consent, import_slices)
from dermarchive.ingest import scan

NAMES = [f"landscape_{n}.jpg" for n in range(1, 7)]


def test_visits_and_new_lesions_as_the_nurse_arranged_them(archive: Any, corpus_copy: Any) -> None:
    phone = corpus_copy(*NAMES)
    patient = records.add_patient(archive, "ZZZ0016", "Tester", "Aroha")
    records.add_lesion(archive, patient.id, "L1", site="face", laterality="left")
    plan = scan(phone, archive)
    visits = dict(zip(NAMES, [0, 0, 1, 1, 2, 2]))
    lesions = dict(zip(NAMES, ["A", "B", "A", "B", "L1", ""]))
    choices = ImportChoices(
        patient_id=patient.id, clinician="nurse.ana",
        new_lesions={"A": NewLesion("A", "back", "upper", ""), "B": NewLesion("B", "forearm", "", "left")},
        photos={n: PhotoChoice(visit=visits[n], lesion=lesions[n], notes=f"note {n}") for n in NAMES},
        consent=ConsentChoice(method="exemption", exemption_reason="suspected non-accidental injury",
                              obtained_by="Dr Rangi"))
    assert len(import_slices(plan, choices)) == 3  # one core call per new lesion, one for the rest
    outcome = carry_out(archive, plan, choices)
    assert outcome.count("imported") == 6
    by_name = {o.rel: records.get_image(archive, o.image_id) for o in outcome.result.outcomes if o.image_id}
    for a, b in (("landscape_1.jpg", "landscape_2.jpg"), ("landscape_3.jpg", "landscape_4.jpg"),
                 ("landscape_5.jpg", "landscape_6.jpg")):
        assert by_name[a].visit_id == by_name[b].visit_id  # each of the nurse's visits is one visit
    assert len({i.visit_id for i in by_name.values()}) == 3 == len(outcome.result.visits)
    made = {l.label: l for l in records.lesions(archive, patient.id)}
    assert (made["A"].site, made["A"].site_text) == ("back", "upper")
    assert (made["B"].site, made["B"].laterality) == ("forearm", "left")
    assert [by_name[n].lesion_id for n in NAMES] == [made["A"].id, made["B"].id, made["A"].id, made["B"].id,
                                                     made["L1"].id, None]
    assert by_name["landscape_3.jpg"].notes == "note landscape_3.jpg"
    for visit_id in outcome.result.visits:
        current = consent_records.current(archive, visit_id)
        assert current is not None and current.method == "exemption"
        assert current.exemption_reason == "suspected non-accidental injury"
    assert sorted(outcome.consent_recorded) == sorted(outcome.result.visits)
    assert verify(archive) == []


@pytest.mark.parametrize("choice, photos, message", [
    (ConsentChoice(mode="none"), {}, "needs a reason"),
    (ConsentChoice(mode="existing"), {}, "Choose the visit"),
    (ConsentChoice(method="verbal", obtained_by=""), {}, "who obtained"),
    (ConsentChoice(method="exemption", obtained_by="x"), {}, "exemption needs its reason"),
    (ConsentChoice(method="written-signature", obtained_by="x"), {}, "signature"),
    (ConsentChoice(method="verbal", obtained_by="x", scopes=("clinical.documentation", "research")), {},
     "clinical purposes only"),
    (ConsentChoice(method="photographed-form", obtained_by="x"),
     {"a.jpg": PhotoChoice(visit=0, kind="consent-form"), "b.jpg": PhotoChoice(visit=1)}, "in visit 2"),
])
def test_consent_choices_that_could_not_be_recorded_are_refused_before_importing(
        choice: ConsentChoice, photos: dict[str, PhotoChoice], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_consent(choice, photos, list(photos))


def test_a_blank_signature_pad_is_refused_before_importing() -> None:
    from io import BytesIO

    from PIL import Image

    blank = BytesIO()
    Image.new("RGBA", (300, 100), (0, 0, 0, 0)).save(blank, "PNG")
    with pytest.raises(InvalidInput, match="blank"):
        check_consent(ConsentChoice(method="written-signature", obtained_by="x", signature=blank.getvalue()), {}, [])
