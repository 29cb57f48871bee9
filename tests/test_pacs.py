"""Sending to a real Orthanc (started per test on loopback, authentication on, DICOMweb plugin):
STOW-RS, QIDO-RS status, re-send without duplicates, wrong password, unreachable server, Orthanc
stopped mid-send, deletion on withdrawal; the password sealed in the catalogue; the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pydicom
import pytest

from dermarchive.archive import records
from dermarchive.cli import main
from dermarchive.dicom import pacs
from dermarchive.dicom.pixels import clean_jpeg
from tests.conftest import PASSPHRASE, USER
from tests.orthanc_fixture import orthanc  # noqa: F401 - the fixture
from tests.orthanc_fixture import (ORTHANC_PASSWORD, ORTHANC_USER, Orthanc, free_port, make_photo_archive,
                                   start_orthanc)

JPEGS = ("baseline", "rotated-imperfect", "png", "dermoscopic")


def connect(archive, server: Orthanc, password: str = ORTHANC_PASSWORD) -> None:
    pacs.set_target(archive, server.dicomweb, ORTHANC_USER, password)


def test_send_status_and_resend_without_duplicates(archive, corpus: Path, orthanc: Orthanc) -> None:
    pa = make_photo_archive(archive, corpus, which=JPEGS)
    connect(archive, orthanc)
    before = pacs.pacs_status(archive, pa.patient.id)
    assert [i["in_pacs"] for i in before["images"]] == [False] * len(JPEGS)
    seen: list[tuple[int, int]] = []
    summary = pacs.send_to_pacs(archive, pa.patient.id, progress=lambda d, t, m: seen.append((d, t)))
    assert summary["sent"] == len(JPEGS) and summary["already_there"] == 0
    assert seen[-1] == (len(JPEGS), len(JPEGS))
    assert len(orthanc.instances()) == len(JPEGS)
    status = pacs.pacs_status(archive, pa.patient.id)
    assert all(i["in_pacs"] for i in status["images"])
    assert all(i["sop_instance_uid"].startswith("2.25.") for i in status["images"])

    # what Orthanc holds is our instance: the JPEG frame equals the cleaned stored JPEG
    uid = next(i["sop_instance_uid"] for i in status["images"] if i["id"] == pa.ids["baseline"])
    [hit] = orthanc.rest("POST", "/tools/lookup", uid.encode())
    ds = pydicom.dcmread(__import__("io").BytesIO(orthanc.rest("GET", f"/instances/{hit['ID']}/file")))
    frame = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
    assert frame.rstrip(b"\0") == clean_jpeg(pa.sources["baseline"])[0].rstrip(b"\0")
    assert str(ds.PatientName) == "Ngātai-Pōtae^Mere Āio" and ds.PatientID == "ZZZ0016"
    tags = orthanc.rest("GET", f"/instances/{hit['ID']}/simplified-tags")
    assert tags["PatientName"] == "Ngātai-Pōtae^Mere Āio"

    again = pacs.send_to_pacs(archive, pa.patient.id)
    assert again["sent"] == 0 and again["already_there"] == len(JPEGS)
    assert len(orthanc.instances()) == len(JPEGS), "a re-send must not duplicate"
    entries = archive.audit.entries(archive.catalogue, action="pacs.send")
    assert [e.details["sent"] for e in entries] == [len(JPEGS), 0]
    assert "ZZZ0016" not in json.dumps([e.as_json() for e in entries])


def test_wrong_password_and_unreachable_server_are_clear(archive, corpus: Path, orthanc: Orthanc) -> None:
    pa = make_photo_archive(archive, corpus, which=("baseline",))
    with pytest.raises(pacs.PacsError, match="refused the user name or password"):
        connect(archive, orthanc, password="not-the-password")
    assert pacs.get_target(archive) is None, "a failing target is not saved"
    pacs.set_target(archive, orthanc.dicomweb, ORTHANC_USER, "not-the-password", test=False)
    with pytest.raises(pacs.PacsError, match="refused the user name or password"):
        pacs.send_to_pacs(archive, pa.patient.id)
    pacs.set_target(archive, f"http://127.0.0.1:{free_port()}/dicom-web", ORTHANC_USER, "x", test=False)
    with pytest.raises(pacs.PacsError, match="cannot be reached"):
        pacs.send_to_pacs(archive, pa.patient.id)
    assert orthanc.instances() == []
    with pytest.raises(pacs.PacsError, match="secure \\(HTTPS\\) connection"):
        pacs.set_target(archive, orthanc.dicomweb.replace("http://", "https://"), ORTHANC_USER, ORTHANC_PASSWORD)
    with pytest.raises(pacs.PacsError, match="No DICOMweb service|has no DICOMweb"):
        pacs.set_target(archive, orthanc.url + "/not-dicomweb", ORTHANC_USER, ORTHANC_PASSWORD)


@pytest.mark.slow
def test_orthanc_stopped_mid_send_then_resumed(archive, corpus: Path, tmp_path: Path) -> None:
    server = start_orthanc(tmp_path / "orthanc")
    try:
        pa = make_photo_archive(archive, corpus, which=JPEGS)
        connect(archive, server)

        def stop_at_third(done: int, total: int, message: str) -> None:
            if message.startswith("Sending image 3"):
                server.stop()

        with pytest.raises(pacs.PacsError, match="cannot be reached"):
            pacs.send_to_pacs(archive, pa.patient.id, progress=stop_at_third)
        [entry] = archive.audit.entries(archive.catalogue, action="pacs.send")
        assert entry.details["sent"] == 2 and entry.details["stopped"] == "PacsError"
        assert len(pacs.images_in_pacs(archive, list(pa.ids.values()))) == 2

        server.start()  # same storage folder and port
        summary = pacs.send_to_pacs(archive, pa.patient.id)
        assert (summary["sent"], summary["already_there"]) == (len(JPEGS) - 2, 2)
        assert len(server.instances()) == len(JPEGS)
    finally:
        server.stop()
    assert main(["verify", str(archive.path), "--passphrase-file", str(_passfile(tmp_path))]) == 0


def _passfile(tmp_path: Path) -> Path:
    path = tmp_path / "pass.txt"
    path.write_text(PASSPHRASE)
    return path


def test_delete_from_pacs_on_withdrawal(archive, corpus: Path, orthanc: Orthanc) -> None:
    pa = make_photo_archive(archive, corpus, which=("baseline", "png"))
    connect(archive, orthanc)
    pacs.send_to_pacs(archive, pa.patient.id)
    doomed = pa.ids["png"]
    assert set(pacs.images_in_pacs(archive, [doomed, pa.ids["baseline"]])) == {doomed, pa.ids["baseline"]}
    assert pacs.delete_from_pacs(archive, [doomed]) == [doomed]
    assert len(orthanc.instances()) == 1
    records.delete_images(archive, [doomed], reason="consent withdrawn")
    status = pacs.pacs_status(archive, pa.patient.id)
    assert [(i["id"], i["in_pacs"]) for i in status["images"]] == [(pa.ids["baseline"], True)]
    [entry] = archive.audit.entries(archive.catalogue, action="pacs.delete")
    assert entry.subject == {"images": [doomed]}
    assert pacs.delete_from_pacs(archive, [pa.ids["baseline"] + 999]) == []


def test_password_is_sealed_not_plain(archive) -> None:
    pacs.set_target(archive, "http://127.0.0.1:9/dicom-web", "nurse", "s3cret-pacs-pw", test=False)
    raw = archive.catalogue.scalar("SELECT value FROM setting WHERE key = ?", (pacs.SETTING,))
    assert "s3cret-pacs-pw" not in raw and "nurse" in raw
    assert pacs.get_target(archive).password == "s3cret-pacs-pw"
    value = json.loads(raw)
    value["url"] = "http://evil.example/dicom-web"
    tampered = bytearray(__import__("base64").b64decode(value["password"]))
    tampered[-1] ^= 1
    value["password"] = __import__("base64").b64encode(bytes(tampered)).decode()
    with archive.transaction() as tx:
        archive.set_setting(tx, pacs.SETTING, value)
    with pytest.raises(pacs.PacsError, match="cannot be read"):
        pacs.get_target(archive)
    with pytest.raises(Exception, match="http:// or https://"):
        pacs.set_target(archive, "ftp://pacs", "u", "p", test=False)


def test_cli_pacs_set_send_status(tmp_path: Path, passphrase_file: Path, corpus: Path, orthanc: Orthanc,
                                  capsys) -> None:
    from dermarchive.archive import CHEAP_TEST_PARAMS, Archive

    path = tmp_path / "arch"
    with Archive.create(path, USER, PASSPHRASE, kdf=CHEAP_TEST_PARAMS) as a:
        pa = make_photo_archive(a, corpus, which=("baseline", "dermoscopic"))
    pw = tmp_path / "pacs-pw"
    pw.write_text(ORTHANC_PASSWORD + "\n")
    common = [str(path), "--passphrase-file", str(passphrase_file)]
    assert main(["pacs", "set", *common, "--url", orthanc.dicomweb, "--user", ORTHANC_USER,
                 "--password-file", str(pw)]) == 0
    assert "PACS target saved" in capsys.readouterr().out
    assert main(["pacs", "test", *common]) == 0
    assert "Connected to the PACS" in capsys.readouterr().out
    assert main(["pacs", "send", *common, "--patient", "ZZZ0016", "--image", str(pa.ids["baseline"]),
                 str(pa.ids["dermoscopic"]), "--json"]) == 0  # several ids after one --image
    assert json.loads(capsys.readouterr().out)["sent"] == 2
    assert main(["pacs", "send", *common, "--patient", "ZZZ0016", "--image", str(pa.ids["baseline"]),
                 "--image", str(pa.ids["dermoscopic"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["already_there"] == 2
    assert main(["pacs", "status", *common, "--patient", "ZZZ0016", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert sorted(i["id"] for i in status["images"]) == sorted(pa.ids.values())
    assert all(i["in_pacs"] and i["sop_instance_uid"] for i in status["images"])
    bad = tmp_path / "bad-pw"
    bad.write_text("wrong")
    assert main(["pacs", "set", *common, "--url", orthanc.dicomweb, "--user", ORTHANC_USER,
                 "--password-file", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "refused the user name or password" in err and "Traceback" not in err


def test_a_pacs_that_refuses_images_gives_a_clear_error(archive, corpus: Path, tmp_path: Path) -> None:
    refuse_all = "function ReceivedInstanceFilter(dicom, origin, info)\n  return false\nend\n"
    server = start_orthanc(tmp_path / "refusing", lua=refuse_all)
    try:
        pa = make_photo_archive(archive, corpus, which=("baseline",))
        connect(archive, server)
        with pytest.raises(pacs.PacsError, match=f"image\\(s\\) {pa.ids['baseline']} but does not hold them"):
            pacs.send_to_pacs(archive, pa.patient.id)
        assert server.instances() == []
        assert pacs.images_in_pacs(archive, [pa.ids["baseline"]]) == {}
        [entry] = archive.audit.entries(archive.catalogue, action="pacs.send")  # it did leave the archive
        assert entry.details["not_kept"] == [pa.ids["baseline"]] and entry.details["sent"] == 0
    finally:
        server.stop()


def test_withdrawal_with_deletion_deletes_the_pacs_copies_too(archive, corpus: Path, orthanc: Orthanc) -> None:
    from dermarchive.archive.verify import verify
    from dermarchive.workflows.consent import withdraw_consent

    pa = make_photo_archive(archive, corpus, which=("baseline", "png"))
    connect(archive, orthanc)
    pacs.send_to_pacs(archive, pa.patient.id)
    assert len(orthanc.instances()) == 2
    keep, doomed = pa.ids["baseline"], pa.ids["png"]
    w = withdraw_consent(archive, pa.visit_id, reason="patient asked", essential={keep: True, doomed: False},
                         delete_non_essential=True)
    assert (w.deleted, w.in_pacs, w.pacs_deleted, w.left_in_pacs) == ([doomed], [doomed], [doomed], [])
    assert len(orthanc.instances()) == 1
    assert w.pacs_lines() == [f"Also deleted from the practice PACS: image(s) {doomed}."]  # ids, no patient
    assert verify(archive) == []


def test_withdrawal_with_the_pacs_down_still_deletes_here_and_names_what_is_left(
        archive, corpus: Path, tmp_path: Path) -> None:
    from dermarchive.workflows.consent import withdraw_consent

    server = start_orthanc(tmp_path / "orthanc")
    try:
        pa = make_photo_archive(archive, corpus, which=("baseline",))
        connect(archive, server)
        pacs.send_to_pacs(archive, pa.patient.id)
    finally:
        server.stop()
    doomed = pa.ids["baseline"]
    uid = __import__("dermarchive.archive.dicom_store", fromlist=["x"]).known_instance_uids(archive, [doomed])[doomed]
    w = withdraw_consent(archive, pa.visit_id, reason="patient asked", delete_non_essential=True)
    assert w.deleted == [doomed] and records.images(archive, visit_id=pa.visit_id) == []
    assert w.left_in_pacs == [doomed] and w.pacs_problem
    [line] = w.pacs_lines()
    assert line.startswith(f"Still in the practice PACS: image(s) {doomed}. ") and "cannot be reached" in line
    assert "Ask the PACS administrator to delete them there" in line and "ZZZ0016" not in line
    entry = archive.audit.entries(archive.catalogue, action="pacs.delete")[-1]
    assert entry.subject == {"images": [doomed]} and entry.details["sop_instance_uids"] == [uid]


# -- a PACS that is not an Orthanc ---------------------------------------------------------------
class NotOrthanc:
    """A plain local HTTP server standing in for another vendor's PACS: it answers every request
    with a DICOMweb-style 404 (no Orthanc REST API behind it) and records what it was asked."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = b'{"errors": ["Not Found"]}'
                self.send_response(404)
                self.send_header("Content-Type", "application/dicom+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = do_PUT = _answer

            def log_message(self, *args: object) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def dicomweb(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/dicom-web"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def not_orthanc() -> Iterator[NotOrthanc]:
    server = NotOrthanc()
    try:
        yield server
    finally:
        server.close()


def test_a_pacs_that_is_not_an_orthanc_deletes_nothing_there_and_names_the_images(
        archive, corpus: Path, orthanc: Orthanc, not_orthanc: NotOrthanc) -> None:
    from dermarchive.archive.verify import verify
    from dermarchive.workflows.consent import withdraw_consent
    from dermarchive.archive import dicom_store

    pa = make_photo_archive(archive, corpus, which=("baseline", "png"))
    connect(archive, orthanc)
    pacs.send_to_pacs(archive, pa.patient.id)
    ids = sorted(pa.ids.values())
    uids = dicom_store.known_instance_uids(archive, ids)
    # the practice moves to another vendor's PACS (the archive's record of sends stays)
    pacs.set_target(archive, not_orthanc.dicomweb, ORTHANC_USER, ORTHANC_PASSWORD, test=False)

    with pytest.raises(pacs.PacsCannotDelete) as caught:
        pacs.delete_from_pacs(archive, ids)
    assert caught.value.image_ids == ids
    assert f"delete image(s) {ids[0]}, {ids[1]} there" in str(caught.value)
    assert "has no DICOMweb service" not in str(caught.value) and "not an Orthanc" in str(caught.value)
    assert not_orthanc.requests == [("GET", "/system")], "asked which PACS it is, nothing else"
    assert set(pacs.images_in_pacs(archive, ids)) == set(ids), "still marked as in the PACS"
    assert archive.audit.entries(archive.catalogue, action="pacs.delete") == []

    w = withdraw_consent(archive, pa.visit_id, reason="patient asked", delete_non_essential=True)
    assert w.deleted == ids and records.images(archive, visit_id=pa.visit_id) == []  # deleted here all the same
    assert (w.in_pacs, w.pacs_deleted, w.left_in_pacs) == (ids, [], ids)
    [line] = w.pacs_lines()
    assert line.startswith(f"Still in the practice PACS: image(s) {ids[0]}, {ids[1]}. ")
    assert "is not an Orthanc" in line and "Ask the PACS administrator to delete them there" in line
    assert "ZZZ0016" not in line and "Ngātai" not in line
    assert w.as_json()["left_in_pacs"] == ids
    entry = archive.audit.entries(archive.catalogue, action="pacs.delete")[-1]
    assert entry.subject == {"images": ids} and entry.details["not_orthanc"] is True
    assert entry.details["sop_instance_uids"] == [uids[i] for i in ids]
    assert len(orthanc.instances()) == 2  # the old Orthanc was never the target of the delete
    assert all(method == "GET" and path == "/system" for method, path in not_orthanc.requests)
    assert verify(archive) == []


def test_cli_withdrawal_names_what_a_non_orthanc_pacs_keeps(tmp_path: Path, passphrase_file: Path, corpus: Path,
                                                            orthanc: Orthanc, not_orthanc: NotOrthanc,
                                                            capsys) -> None:
    from dermarchive.archive import CHEAP_TEST_PARAMS, Archive

    path = tmp_path / "arch"
    with Archive.create(path, USER, PASSPHRASE, kdf=CHEAP_TEST_PARAMS) as a:
        pa = make_photo_archive(a, corpus, which=("baseline",))
        connect(a, orthanc)
        pacs.send_to_pacs(a, pa.patient.id)
        pacs.set_target(a, not_orthanc.dicomweb, ORTHANC_USER, ORTHANC_PASSWORD, test=False)
    doomed = pa.ids["baseline"]
    common = [str(path), "--passphrase-file", str(passphrase_file)]
    assert main(["consent", "withdraw", *common, "--patient", "ZZZ0016", "--reason", "asked",
                 "--delete-non-essential"]) == 0
    out = capsys.readouterr().out
    assert "Deleted 1 photo(s)" in out and f"Still in the practice PACS: image(s) {doomed}." in out
    assert "not an Orthanc" in out and "Ask the PACS administrator" in out
    with Archive.open(path, USER, PASSPHRASE) as a:
        assert records.images(a, visit_id=pa.visit_id) == []
    assert main(["verify", *common]) == 0
