"""The audit chain: complete, ids only, and any edit, deletion or truncation is named."""

from dermarchive.archive import records
from dermarchive.archive.verify import verify


def _with_history(archive):
    p = records.add_patient(archive, "ZBN77VL", "Parata", "Wiremu", "1950-01-01")
    records.open_patient(archive, p.id)
    records.add_lesion(archive, p.id, "L1", site="back")
    return p


def test_actions_are_recorded_with_ids_never_identifiers(archive):
    p = _with_history(archive)
    entries = archive.audit.entries(archive.catalogue)
    assert [e.action for e in entries] == ["archive.create", "patient.add", "patient.view", "lesion.add"]
    assert entries[1].subject == {"patient": p.id}
    raw = " ".join(r[0] + r[1] for r in archive.catalogue.query("SELECT subject, details FROM audit"))
    for secret in ("ZBN77VL", "Parata", "Wiremu", "1950"):
        assert secret not in raw
    assert archive.audit.verify(archive.catalogue) == []


def test_altered_entry_is_named(archive):
    _with_history(archive)
    with archive.transaction() as tx:
        tx.execute("UPDATE audit SET details = '{\"note\":\"nothing to see\"}' WHERE seq = 3")
    assert verify(archive)[0] == "audit entry 3 (patient.view): altered (MAC does not match)"


def test_deleted_entry_breaks_the_chain_at_that_point(archive):
    _with_history(archive)
    with archive.transaction() as tx:
        tx.execute("DELETE FROM audit WHERE seq = 2")
    problems = archive.audit.verify(archive.catalogue)
    assert "audit entry 2: missing (next entry is 3)" in problems
    assert "audit entry 3: does not follow entry 2 (chain broken)" in problems


def test_cut_off_tail_is_detected(archive):
    _with_history(archive)
    with archive.transaction() as tx:
        tx.execute("DELETE FROM audit WHERE seq >= 3")
    problems = archive.audit.verify(archive.catalogue)
    assert problems == ["audit log: entries after 2 were removed (the log's head says 4)"]
