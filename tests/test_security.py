"""Issue 15: the attacks an insider or a careless user can make on an archive, each as a test.

Real archives (``init`` through the CLI, or ``Archive.create``), real photos from the corpus,
real processes for concurrency, a real small filesystem for the full disk.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlcipher3

from dermarchive.archive import Archive, records
from dermarchive.archive.header import Header
from dermarchive.archive.keys import CHEAP_TEST_PARAMS
from dermarchive.archive.verify import verify
from dermarchive.errors import (
    ArchiveCorrupt,
    DermArchiveError,
    InvalidInput,
    WrongPassphrase,
)

from .conftest import PASSPHRASE, REPO, USER, needs_root
from .helpers import store_photo

CHEAP = "1,8192,1"
PHOTOS = ("landscape_1.jpg", "landscape_3.jpg", "landscape_5.jpg")


def cli(*args: object, env: dict[str, str] | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    """The real command line in its own process (imports this worktree's code)."""
    return subprocess.run([sys.executable, "-m", "dermarchive.cli", *map(str, args)], check=False, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
                          **kw)


def popen(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "dermarchive.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def secret(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.pass"
    path.write_text(text + "\n")
    return path


@pytest.fixture
def admin_pass(tmp_path: Path) -> Path:
    return secret(tmp_path, "admin", PASSPHRASE)


@pytest.fixture
def arch(tmp_path: Path, admin_pass: Path) -> Path:
    path = tmp_path / "clinic"
    proc = cli("init", path, "--user", USER, "--passphrase-file", admin_pass, "--kdf-params", CHEAP)
    assert proc.returncode == 0, proc.stderr
    return path


def add_user(arch: Path, admin_pass: Path, tmp_path: Path, name: str, role: str = "clinician") -> Path:
    pw = secret(tmp_path, name, f"{name} passphrase 7")
    proc = cli("user", "add", arch, "--user", USER, "--passphrase-file", admin_pass, "--name", name,
               "--role", role, "--new-passphrase-file", pw, "--kdf-params", CHEAP)
    assert proc.returncode == 0, proc.stderr
    return pw


def unlocks(folder: Path, user: str, passphrase: str) -> bool:
    """Does ``passphrase`` open ``user``'s slot of the header file in ``folder``?"""
    try:
        Header.load(folder).slot_for(user).open(passphrase, Header.load(folder).archive_id)
    except (WrongPassphrase, DermArchiveError):
        return False
    return True


# -- 1. two header writers at once lose nothing ------------------------------------------------
@pytest.mark.slow
def test_concurrent_user_adds_and_passwd_all_survive(arch, admin_pass, tmp_path):
    """Two `user add` (by the admin) and a `passwd` (by another user) at the same moment, three
    times over: every change is kept."""
    lee_pw = add_user(arch, admin_pass, tmp_path, "dr.lee")
    for trial in range(3):
        names = [f"dr.a{trial}", f"dr.b{trial}"]
        pws = [secret(tmp_path, n, f"{n} passphrase 7") for n in names]
        new_lee = secret(tmp_path, f"lee{trial}", f"lee new passphrase {trial}")
        procs = [popen("user", "add", arch, "--user", USER, "--passphrase-file", admin_pass, "--name", n,
                       "--role", "clinician", "--new-passphrase-file", pw, "--kdf-params", CHEAP)
                 for n, pw in zip(names, pws, strict=True)]
        procs.append(popen("passwd", arch, "--user", "dr.lee", "--passphrase-file", lee_pw,
                           "--new-passphrase-file", new_lee, "--kdf-params", CHEAP))
        for p in procs:
            _out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        lee_pw = new_lee
        for n in names:
            assert unlocks(arch, n, f"{n} passphrase 7"), f"trial {trial}: {n} lost its key slot"
        assert unlocks(arch, "dr.lee", f"lee new passphrase {trial}"), f"trial {trial}: the passphrase change was lost"
    with Archive.open(arch, USER, PASSPHRASE) as a:
        assert verify(a) == []
        assert {u.name for u in a.users()} == {USER, "dr.lee"} | {f"dr.{x}{t}" for x in "ab" for t in range(3)}


def test_verify_names_slots_and_users_that_do_not_match(arch, admin_pass, tmp_path):
    add_user(arch, admin_pass, tmp_path, "dr.lee")
    data = json.loads((arch / "archive.json").read_text())
    lee = next(s for s in data["slots"] if s["user"] == "dr.lee")
    data["slots"].remove(lee)
    data["slots"].append({**lee, "id": "0123456789abcdef", "user": "mallory"})
    (arch / "archive.json").write_text(json.dumps(data))
    proc = cli("verify", arch, "--user", USER, "--passphrase-file", admin_pass)
    assert proc.returncode == 1
    assert "'dr.lee' is a user of the catalogue but has no key slot in archive.json" in proc.stdout
    assert "archive.json has a key slot for 'mallory', who is not a user of the catalogue" in proc.stdout


# -- 2. no file left behind opens with an old passphrase ------------------------------------------
def test_after_passwd_no_file_in_the_archive_opens_with_the_old_passphrase(arch, admin_pass, tmp_path):
    new = secret(tmp_path, "new", "brand new pass 8")
    proc = cli("passwd", arch, "--passphrase-file", admin_pass, "--new-passphrase-file", new, "--kdf-params", CHEAP)
    assert proc.returncode == 0, proc.stderr
    assert unlocks(arch, USER, "brand new pass 8")
    for f in sorted(p for p in arch.rglob("*") if p.is_file()):
        probe = tmp_path / "probe"
        shutil.rmtree(probe, ignore_errors=True)
        probe.mkdir()
        shutil.copy(f, probe / "archive.json")  # any file copied back as the header
        assert not unlocks(probe, USER, PASSPHRASE), f"{f.name} still opens with the old passphrase"


def test_an_old_header_copy_after_passwd_opens_nothing_current(arch, admin_pass, tmp_path):
    old_header = (arch / "archive.json").read_bytes()
    new = secret(tmp_path, "new", "brand new pass 8")
    assert cli("passwd", arch, "--passphrase-file", admin_pass, "--new-passphrase-file", new,
               "--kdf-params", CHEAP).returncode == 0
    # the old slot's key pair was replaced: its private key cannot open the current header's seal
    old = Header.load(arch)
    copy = tmp_path / "old"
    copy.mkdir()
    (copy / "archive.json").write_bytes(old_header)
    stale = Header.load(copy).slot_for(USER)
    assert stale.public != old.slot_for(USER).public


# -- 3. user removal rotates the keys --------------------------------------------------------------
def test_user_remove_is_for_admins_never_the_last_admin_and_audited(arch, admin_pass, tmp_path):
    nurse_pw = add_user(arch, admin_pass, tmp_path, "rn.kim", role="nurse")
    add_user(arch, admin_pass, tmp_path, "dr.lee")
    proc = cli("user", "remove", arch, "--user", "rn.kim", "--passphrase-file", nurse_pw, "--name", "dr.lee")
    assert proc.returncode != 0 and "Only admin users may remove users" in proc.stderr
    proc = cli("user", "remove", arch, "--user", USER, "--passphrase-file", admin_pass, "--name", USER)
    assert proc.returncode != 0 and "cannot remove yourself" in proc.stderr
    boss_pw = add_user(arch, admin_pass, tmp_path, "dr.boss", role="admin")
    assert cli("user", "remove", arch, "--user", "dr.boss", "--passphrase-file", boss_pw,
               "--name", USER).returncode == 0
    proc = cli("user", "role", arch, "--user", "dr.boss", "--passphrase-file", boss_pw, "--name", "dr.boss",
               "--role", "clinician")
    assert proc.returncode != 0 and "last admin" in proc.stderr
    proc = cli("user", "remove", arch, "--user", "dr.boss", "--passphrase-file", boss_pw, "--name", "dr.lee",
               "--json")
    assert proc.returncode == 0, proc.stderr
    with Archive.open(arch, "dr.boss", "dr.boss passphrase 7") as a:
        removals = a.audit.entries(a.catalogue, action="user.remove")
        assert [(e.user, e.details["key_epoch"]) for e in removals] == [("dr.boss", 1), ("dr.boss", 2)]
        assert {u.name for u in a.users()} == {"dr.boss", "rn.kim"}
        assert verify(a) == []
    assert Archive.users_of(arch) == ["rn.kim", "dr.boss"]


def test_an_old_header_of_a_removed_user_opens_neither_the_catalogue_nor_later_photos(
        make_archive, corpus, tmp_path):
    path = tmp_path / "clinic"
    a = make_archive(path)
    a.add_user("dr.gone", "clinician", "gone passphrase 1", kdf=CHEAP_TEST_PARAMS)
    a.add_user("dr.stay", "clinician", "stay passphrase 2", kdf=CHEAP_TEST_PARAMS)
    patient = records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
    before = store_photo(a, patient.id, corpus / PHOTOS[0])
    kept_header = (path / "archive.json").read_bytes()  # what the departing user walks off with
    a.remove_user("dr.gone")
    after = store_photo(a, patient.id, corpus / PHOTOS[1])
    later_blob = records.get_image(a, after).blob_id
    later_ref = a.blob_ref(later_blob)
    assert later_ref.epoch == 1 and a.blob_ref(records.get_image(a, before).blob_id).epoch == 0
    a.close()

    # Their old header and passphrase still give the old master key ...
    stolen = tmp_path / "stolen"
    stolen.mkdir()
    (stolen / "archive.json").write_bytes(kept_header)
    old_master = Header.load(stolen).slot_for("dr.gone").open("gone passphrase 1", Header.load(stolen).archive_id)
    # ... which opens neither the current catalogue ...
    conn = sqlcipher3.connect(str(path / "catalogue.db"))
    conn.execute(f"PRAGMA key = \"x'{old_master.subkey('catalogue').hex()}'\"")
    with pytest.raises(sqlcipher3.dbapi2.DatabaseError):
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    conn.close()
    # ... nor, even given its wrapped key, a photo stored after the removal;
    from cryptography.exceptions import InvalidTag

    from dermarchive.archive.blobs import _aad
    from dermarchive.archive.keys import unwrap
    with pytest.raises(InvalidTag):
        unwrap(old_master.subkey("blob-wrap"), later_ref.wrapped_key, _aad(later_blob))
    # ... and the whole old header copied back over the archive opens nothing.
    shutil.copytree(path, tmp_path / "copy")
    (tmp_path / "copy" / "archive.json").write_bytes(kept_header)
    with pytest.raises(ArchiveCorrupt):
        Archive.open(tmp_path / "copy", "dr.gone", "gone passphrase 1")
    with pytest.raises(DermArchiveError, match="no user called 'dr.gone'"):
        Archive.open(path, "dr.gone", "gone passphrase 1")

    # Everyone else opens as before; old and new photos read; content still deduplicates.
    with Archive.open(path, "dr.stay", "stay passphrase 2") as b:
        for image_id in (before, after):
            assert records.image_bytes(b, records.get_image(b, image_id)) == (
                corpus / PHOTOS[0 if image_id == before else 1]).read_bytes()
        with b.transaction() as tx:
            assert b.store_blob(tx, (corpus / PHOTOS[0]).read_bytes()) == records.get_image(b, before).blob_id
        assert verify(b) == []


def test_removal_needs_the_archive_to_itself(make_archive, tmp_path):
    path = tmp_path / "clinic"
    a = make_archive(path)
    a.add_user("dr.gone", "clinician", "gone passphrase 1", kdf=CHEAP_TEST_PARAMS)
    other = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from dermarchive.archive import Archive\n"
        f"a = Archive.open({str(path)!r}, {USER!r}, {PASSPHRASE!r}); print('open', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert other.stdout.readline().strip() == "open"
        with pytest.raises(InvalidInput, match="open elsewhere"):
            a.remove_user("dr.gone")
    finally:
        other.kill()
        other.wait()
    assert "dr.gone" in Header.load(path).users()
    a.remove_user("dr.gone")
    assert "dr.gone" not in Header.load(path).users()


@pytest.mark.parametrize("power_cut", ["before re-keying", "after re-keying"])
def test_a_removal_interrupted_after_it_was_recorded_is_finished_at_the_next_open(make_archive, tmp_path,
                                                                                  monkeypatch, corpus, power_cut):
    from dermarchive.archive import rotation
    from dermarchive.archive.catalogue import Catalogue
    path = tmp_path / "clinic"
    a = make_archive(path)
    a.add_user("dr.gone", "clinician", "gone passphrase 1", kdf=CHEAP_TEST_PARAMS)
    patient = records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
    photo = store_photo(a, patient.id, corpus / PHOTOS[0])

    def cut(*_args: object, **_kw: object) -> None:
        raise KeyboardInterrupt  # the power goes here

    if power_cut == "before re-keying":
        monkeypatch.setattr(Catalogue, "rekey", cut)
    else:
        monkeypatch.setattr(rotation.Anchor, "make", cut)
    with pytest.raises(KeyboardInterrupt):
        a.remove_user("dr.gone")
    monkeypatch.undo()
    a.catalogue.close()  # the process died: nothing more is written
    a._plock.release()
    assert (path / "archive.json.next").exists()
    with Archive.open(path, USER, PASSPHRASE) as b:
        assert "dr.gone" not in b.header.users() and not (path / "archive.json.next").exists()
        assert records.image_bytes(b, records.get_image(b, photo)) == (corpus / PHOTOS[0]).read_bytes()
        assert verify(b) == []
    with pytest.raises(DermArchiveError, match="no user called 'dr.gone'"):
        Archive.open(path, "dr.gone", "gone passphrase 1")


# -- 4. audit anchoring -----------------------------------------------------------------------------
def _sha(path: Path) -> str:
    import hashlib
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_rolled_back_catalogue_opens_read_only_and_verify_names_the_missing_entries(
        arch, admin_pass, tmp_path, corpus):
    older = tmp_path / "older-catalogue.db"
    shutil.copy(arch / "catalogue.db", older)
    with Archive.open(arch, USER, PASSPHRASE) as a:
        patient = records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
        newer = [store_photo(a, patient.id, corpus / name) for name in PHOTOS]
        blob_files = {p.name for p in (arch / "blobs").rglob("*") if p.is_file()}
        newest = a.catalogue.scalar("SELECT max(seq) FROM audit")
    newer_catalogue = tmp_path / "newer-catalogue.db"
    shutil.copy(arch / "catalogue.db", newer_catalogue)
    shutil.copy(older, arch / "catalogue.db")  # the rollback
    before = _sha(arch / "catalogue.db")

    proc = cli("verify", arch, "--passphrase-file", admin_pass)
    assert proc.returncode == 1
    assert f"The audit log is missing entries 2 to {newest}" in proc.stdout
    assert "replaced by an older copy" in proc.stderr
    assert _sha(arch / "catalogue.db") == before  # checked before anything was written
    # nothing lost: the newer photos' files are all still there (kept, not swept)
    assert {p.name for p in (arch / "blobs").rglob("*") if p.is_file()} == blob_files
    proc = cli("patient", "add", arch, "--passphrase-file", admin_pass, "--nhi", "ZAC5361", "--family", "X")
    assert proc.returncode != 0 and "read-only until an admin acknowledges" in proc.stderr

    # Putting the newer catalogue back heals it, photos and all.
    shutil.copy(newer_catalogue, arch / "catalogue.db")
    with Archive.open(arch, USER, PASSPHRASE) as a:
        assert a.anchor_problem is None and a.writable
        assert [records.get_image(a, i).id for i in newer] == newer
        assert verify(a) == []


def test_an_admin_acknowledges_a_rollback_and_it_is_audited(arch, admin_pass, tmp_path, corpus):
    older = tmp_path / "older-catalogue.db"
    shutil.copy(arch / "catalogue.db", older)
    with Archive.open(arch, USER, PASSPHRASE) as a:
        patient = records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
        photo = store_photo(a, patient.id, corpus / PHOTOS[0])
        blob = records.get_image(a, photo).blob_id
    shutil.copy(older, arch / "catalogue.db")
    proc = cli("audit", arch, "--passphrase-file", admin_pass, "--acknowledge")
    assert proc.returncode == 0, proc.stderr
    with Archive.open(arch, USER, PASSPHRASE) as a:
        assert a.writable
        ack = a.audit.entries(a.catalogue, action="audit.acknowledge")
        assert len(ack) == 1 and ack[0].user == USER and ack[0].details["found_entries"] == 1
        problems = verify(a)  # the newer photo's files are quarantined, not deleted
        assert len(problems) == 1 and "kept in" in problems[0]
        assert blob in a.blobs.quarantined()
    proc = cli("verify", arch, "--passphrase-file", admin_pass)
    assert proc.returncode == 1 and "have no catalogue row" in proc.stdout


def _insider_sql(arch: Path, *statements: str) -> None:
    """What someone holding the catalogue key (an insider) can do to the catalogue directly."""
    with Archive.open(arch, USER, PASSPHRASE) as a:
        key = a.master.subkey("catalogue")
    conn = sqlcipher3.connect(str(arch / "catalogue.db"), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    for sql in statements:
        conn.execute(sql)
    conn.close()


def test_a_cut_audit_tail_is_detected_even_with_the_head_setting_deleted(arch, admin_pass):
    for nhi in ("ZZZ0016", "ZAC5361", "ZZZ0024"):
        assert cli("patient", "add", arch, "--passphrase-file", admin_pass, "--nhi", nhi,
                   "--family", "X").returncode == 0
    with Archive.open(arch, USER, PASSPHRASE) as a:
        last = a.catalogue.scalar("SELECT max(seq) FROM audit")
    _insider_sql(arch, f"DELETE FROM audit WHERE seq > {last - 4}", "DELETE FROM setting WHERE key = 'audit.head'")
    proc = cli("verify", arch, "--passphrase-file", admin_pass)
    assert proc.returncode == 1
    assert f"The audit log is missing entries {last - 3} to" in proc.stdout
    assert "head record (setting audit.head) is missing" in proc.stdout


def test_an_edited_anchor_is_named(arch, admin_pass):
    data = json.loads((arch / "archive.json").read_text())
    data["audit_anchor"]["mac"] = "0" * 64  # as if an older entry were the head
    (arch / "archive.json").write_text(json.dumps(data))
    proc = cli("verify", arch, "--passphrase-file", admin_pass)
    assert proc.returncode == 1 and "audit anchor in archive.json fails its check" in proc.stdout


def test_the_backup_manifest_carries_the_audit_head_and_restore_checks_it(arch, admin_pass, tmp_path):
    from dermarchive.backup.create import backup, read_manifest, verify_backup
    with Archive.open(arch, USER, PASSPHRASE) as a:
        records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
        backup(a, tmp_path / "usb", create=True)
        head = a.catalogue.query_one("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1")
    manifest = read_manifest(tmp_path / "usb")
    assert manifest.audit_head["count"] == head[0] - 1  # the snapshot's head; 'backup' came after it
    check = verify_backup(tmp_path / "usb", user=USER, passphrase=PASSPHRASE)
    assert check.ok, check.problems
    # A snapshot whose audit log was cut (with the key) no longer matches its manifest.
    snap = tmp_path / "usb" / manifest.catalogue["name"]
    with Archive.open(arch, USER, PASSPHRASE) as a:
        key = a.master.subkey("catalogue")
    conn = sqlcipher3.connect(str(snap), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    conn.execute(f"DELETE FROM audit WHERE seq > {head[0] - 3}")
    conn.execute("UPDATE setting SET value = (SELECT seq || ':' || mac FROM audit ORDER BY seq DESC LIMIT 1) "
                 "WHERE key = 'audit.head'")
    conn.close()
    import hashlib
    raw = json.loads((tmp_path / "usb" / "dermarchive-backup.json").read_text())
    raw["catalogue"].update(size=snap.stat().st_size, sha256=hashlib.sha256(snap.read_bytes()).hexdigest())
    (tmp_path / "usb" / "dermarchive-backup.json").write_text(json.dumps(raw))  # checksums fixed, MAC cannot be
    problems = verify_backup(tmp_path / "usb", user=USER, passphrase=PASSPHRASE).problems
    assert "manifest: fails its authentication check (altered, or not made with this key)" in problems
    assert any(f"audit log is missing entries {head[0] - 2} to {head[0] - 1}" in p for p in problems), problems


# -- 5. a rolled-back catalogue deletes nothing; a restored newer one re-attaches ---------------
def test_orphans_are_quarantined_and_come_back_with_the_newer_catalogue(make_archive, corpus, tmp_path):
    path = tmp_path / "clinic"
    a = make_archive(path)
    patient = records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
    a.close()
    older = tmp_path / "older.db"
    shutil.copy(path / "catalogue.db", older)
    with Archive.open(path, USER, PASSPHRASE) as b:
        ids = [store_photo(b, patient.id, corpus / name) for name in PHOTOS]
        blobs = sorted(b.blobs.stored_ids())
    newer = tmp_path / "newer.db"
    shutil.copy(path / "catalogue.db", newer)
    shutil.copy(older, path / "catalogue.db")
    with Archive.open(path, USER, PASSPHRASE) as c:  # read-only: the anchor does not match
        assert sorted(c.blobs.stored_ids()) == blobs  # not swept at open
        c.acknowledge_anchor()
        problems = verify(c)
        assert problems == [p for p in problems if "have no catalogue row" in p] and problems
        assert sorted(c.blobs.quarantined()) == blobs and list(c.blobs.stored_ids()) == []
    shutil.copy(newer, path / "catalogue.db")  # the newer catalogue comes back from a copy
    with Archive.open(path, USER, PASSPHRASE) as d:
        assert "is not the one this archive recorded" in d.anchor_problem  # replaced again: asked again
        d.acknowledge_anchor()
        assert d.reattached == len(blobs) and d.blobs.quarantined() == []
        for image_id, name in zip(ids, PHOTOS, strict=True):
            assert records.image_bytes(d, records.get_image(d, image_id)) == (corpus / name).read_bytes()


def test_open_does_not_list_the_blob_folders(make_archive, tmp_path, monkeypatch):
    """Open cost does not grow with the archive: only blobs/tmp/ is listed."""
    path = tmp_path / "clinic"
    a = make_archive(path)
    with a.transaction() as tx:
        for n in range(40):
            a.store_blob(tx, os.urandom(100) + bytes([n]))
    a.close()
    listed: list[str] = []
    real_scandir, real_iterdir = os.scandir, Path.iterdir
    monkeypatch.setattr(os, "scandir", lambda p=".": listed.append(str(p)) or real_scandir(p))
    monkeypatch.setattr(Path, "iterdir", lambda self: listed.append(str(self)) or real_iterdir(self))
    Archive.open(path, USER, PASSPHRASE).close()
    blob_subfolders = [p for p in listed if Path(p).parent.name == "blobs" and len(Path(p).name) == 2]
    assert blob_subfolders == [] and str(path / "blobs") not in listed


# -- 6. failed-unlock notes cannot forge audit entries ----------------------------------------------
def test_forged_failed_unlock_notes_do_not_become_audit_entries(make_archive, tmp_path, _isolated_state):
    from dermarchive.archive import unlock_failures
    path = tmp_path / "clinic"
    a = make_archive(path)
    archive_id = a.archive_id
    a.close()
    with pytest.raises(WrongPassphrase):
        Archive.open(path, USER, "wrong horse 42")
    notes = unlock_failures._file(path, archive_id)
    data = json.loads(notes.read_text())
    assert data == {USER: {"count": 1, "first": data[USER]["first"], "last": data[USER]["last"]}}
    # What the old format allowed: any user, any time, free text; and junk of every kind.
    (_isolated_state / "failed-unlocks.jsonl").write_text(json.dumps(
        {"archive_id": archive_id, "user": "dr.who", "at": "not-a-date", "reason": "x" * 5000}) + "\n")
    data["dr.who"] = {"count": 5, "first": data[USER]["first"], "last": data[USER]["last"]}
    data[USER]["reason"] = "I was here " * 500
    notes.write_text(json.dumps(data))
    with Archive.open(path, USER, PASSPHRASE) as b:
        failed = b.audit.entries(b.catalogue, action="unlock.failed")
    assert failed == []  # a note with anything but count and times is dropped whole
    notes.write_text(json.dumps({"dr.who": {"count": 5, "first": "2026-01-01T00:00:00+00:00",
                                            "last": "2026-01-02T00:00:00+00:00"},
                                 USER: {"count": 2, "first": "not-a-date", "last": "2026-01-02T00:00:00+00:00"}}))
    with Archive.open(path, USER, PASSPHRASE) as b:
        assert b.audit.entries(b.catalogue, action="unlock.failed") == []
    notes.write_bytes(b"{" + b" " * 100_000 + b"}")
    with Archive.open(path, USER, PASSPHRASE) as b:
        assert b.audit.entries(b.catalogue, action="unlock.failed") == []
    for _ in range(2):
        with pytest.raises(WrongPassphrase):
            Archive.open(path, USER, "wrong horse 42")
    with Archive.open(path, USER, PASSPHRASE) as b:
        failed = b.audit.entries(b.catalogue, action="unlock.failed")
    assert len(failed) == 1 and failed[0].user == USER
    assert set(failed[0].details) == {"count", "first", "last", "unverified"} and failed[0].details["count"] == 2


def test_failed_unlocks_of_one_archive_never_reach_a_copy_of_it(make_archive, tmp_path):
    path = tmp_path / "clinic"
    make_archive(path).close()
    with pytest.raises(WrongPassphrase):
        Archive.open(path, USER, "wrong horse 42")
    shutil.copytree(path, tmp_path / "copy")
    with Archive.open(tmp_path / "copy", USER, PASSPHRASE) as c:
        assert c.audit.entries(c.catalogue, action="unlock.failed") == []
    with Archive.open(path, USER, PASSPHRASE) as a:
        assert len(a.audit.entries(a.catalogue, action="unlock.failed")) == 1


# -- 7. a full disk opens read-only, and viewing, verify, export and backup still work -------------
@needs_root
@pytest.mark.slow
def test_a_full_disk_opens_read_only_and_still_views_verifies_exports_and_backs_up(
        tmpfs, tmp_path, admin_pass, corpus):
    disk = tmpfs(6)
    path = disk / "clinic"
    assert cli("init", path, "--user", USER, "--passphrase-file", admin_pass, "--kdf-params", CHEAP).returncode == 0
    with Archive.open(path, USER, PASSPHRASE) as a:
        patient = records.add_patient(a, "ZZZ0016", "Ngata", "Hine")
        image = store_photo(a, patient.id, corpus / PHOTOS[0])
    with open(disk / "filler", "wb") as fh:  # someone's video fills the disk to the last byte
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    proc = cli("info", path, "--passphrase-file", admin_pass, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "The disk holding the archive is full (0 MB free)" in proc.stderr
    assert json.loads(proc.stdout)["images"] == 1
    proc = cli("verify", path, "--passphrase-file", admin_pass)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = cli("patient", "add", path, "--passphrase-file", admin_pass, "--nhi", "ZAC5361", "--family", "X")
    assert proc.returncode != 0 and "The disk holding the archive is full" in proc.stderr
    with Archive.open(path, USER, PASSPHRASE) as a:
        assert not a.writable
        img = records.get_image(a, image)
        assert records.view_image(a, img) == (corpus / PHOTOS[0]).read_bytes()
        from dermarchive.backup.create import backup
        from dermarchive.exports.patient_access import export_patient_access
        export_patient_access(a, patient.id, tmp_path / "for-patient")
        assert any((tmp_path / "for-patient").iterdir())
        summary = backup(a, tmp_path / "usb", create=True)
        assert summary.images == 1
    (disk / "filler").unlink()
    with Archive.open(path, USER, PASSPHRASE) as a:
        assert a.writable and verify(a) == []


# -- 8. private files whatever the umask -----------------------------------------------------------
def test_archive_and_export_folders_are_private_whatever_the_umask(tmp_path, admin_pass, corpus):
    path = tmp_path / "clinic"
    script = (
        "import os, sys; os.umask(0)\n"
        "from dermarchive.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")

    def run(*args: object) -> None:
        proc = subprocess.run([sys.executable, "-c", script, *map(str, args)], check=False, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
        assert proc.returncode == 0, proc.stderr

    run("init", path, "--user", USER, "--passphrase-file", admin_pass, "--kdf-params", CHEAP)
    folder = tmp_path / "phone"
    folder.mkdir()
    shutil.copy(corpus / PHOTOS[0], folder)
    run("patient", "add", path, "--passphrase-file", admin_pass, "--nhi", "ZZZ0016", "--family", "Ngata")
    with Archive.open(path, USER, PASSPHRASE) as a:
        store_photo(a, records.patient_by_nhi(a, "ZZZ0016").id, corpus / PHOTOS[0])
    modes = {str(p.relative_to(path)): stat.S_IMODE(p.stat().st_mode) for p in [path, *path.rglob("*")]}
    assert modes["."] == 0o700
    loose = {name: oct(m) for name, m in modes.items()
             if m & 0o077 or (m != 0o700 and (path / name).is_dir()) or (m != 0o600 and (path / name).is_file())}
    assert loose == {}, loose
    out = tmp_path / "export"
    with Archive.open(path, USER, PASSPHRASE) as a:
        os.umask(0)
        try:
            from dermarchive.exports.patient_access import export_patient_access
            export_patient_access(a, records.patient_by_nhi(a, "ZZZ0016").id, out)
        finally:
            os.umask(0o022)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.rglob("*") if p.is_file())


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_private_modes_per_os_branch(tmp_path, os_name):
    """Each OS branch of fsutil, selected on this machine (Windows: modes are left to ACLs)."""
    from dermarchive.archive import fsutil
    old = os.umask(0)
    try:
        fsutil.private_mkdir(tmp_path / "d", os_name=os_name)
        with open(tmp_path / "d" / "f", "xb", opener=lambda p, f: fsutil.private_opener(p, f, os_name=os_name)):
            pass
    finally:
        os.umask(old)
    dir_mode = stat.S_IMODE((tmp_path / "d").stat().st_mode)
    file_mode = stat.S_IMODE((tmp_path / "d" / "f").stat().st_mode)
    if os_name == "windows":
        assert file_mode == 0o777  # not narrowed by us: on Windows the profile's ACLs protect it
    else:
        assert (dir_mode, file_mode) == (0o700, 0o600)
    fsutil.fsync_dir(tmp_path / "d", os_name=os_name)  # Windows branch: no folder handle, no error
    assert fsutil.is_read_only_medium(tmp_path, os_name=os_name) is False


def test_format_1_slots_still_open_and_are_upgraded_at_unlock(make_archive, tmp_path):
    """Archives made before issue 15 wrap the master key straight with the passphrase key."""
    from dermarchive.archive.keys import wrap
    path = tmp_path / "clinic"
    a = make_archive(path)
    a.add_user("dr.old", "clinician", "old passphrase 3", kdf=CHEAP_TEST_PARAMS)
    master = a.master.raw
    a.close()
    data = json.loads((path / "archive.json").read_text())
    for slot in data["slots"]:  # rewrite every slot the way format 1 wrote it
        pw = PASSPHRASE if slot["user"] == USER else "old passphrase 3"
        salt = os.urandom(16)
        kek = CHEAP_TEST_PARAMS.derive(pw, salt)
        aad = f"dermarchive-slot|{data['archive_id']}|{slot['id']}".encode()
        for key in ("public", "wrapped_private", "sealed_master"):
            del slot[key]
        slot.update(salt=base64.b64encode(salt).decode(),
                    wrapped_master=base64.b64encode(wrap(kek, master, aad)).decode())
    data["version"] = 1
    (path / "archive.json").write_text(json.dumps(data))
    with Archive.open(path, USER, PASSPHRASE) as b:
        assert Header.load(path).slot_for(USER).sealable  # upgraded with the passphrase just typed
        assert not Header.load(path).slot_for("dr.old").sealable
        b.add_user("dr.x", "nurse", "x passphrase 11", kdf=CHEAP_TEST_PARAMS)
        with pytest.raises(InvalidInput, match="older DermArchive, which cannot be given a new key.*dr.old"):
            b.remove_user("dr.x")
        assert "dr.x" in Header.load(path).users() and not (path / "archive.json.next").exists()
        assert verify(b) == []
    with Archive.open(path, "dr.old", "old passphrase 3") as c:
        assert c.master.raw == master
    assert Header.load(path).slot_for("dr.old").sealable
