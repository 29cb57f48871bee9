"""Sending photos to the practice PACS over DICOMweb (``dicomweb-client``), and asking it back.

* **Target.** URL of the PACS's DICOMweb root, a user name and a password, kept in the catalogue's
  ``setting`` table. The catalogue is SQLCipher-encrypted already; the password is additionally
  sealed with AES-256-GCM under the archive's ``settings`` sub-key (AAD binds the archive id and
  the purpose), so it never appears in a decrypted dump of the settings either.
* **Send** (STOW-RS): one instance per request, each retried (3 attempts, backing off) when the
  server is unreachable or busy (5xx, 429); a wrong password (401/403) or a refusal (4xx, or a
  Failed SOP Sequence in the answer) stops at once with a plain message. Afterwards QIDO-RS is
  asked whether the PACS really holds what it acknowledged (a filtering PACS may say "stored"
  and drop the instance); those images are named and not marked as sent. The catalogue keeps the
  UIDs, so sending again produces the same instances: the PACS keeps one copy (QIDO-RS is asked
  first, and instances already there are not sent again). Every send is audited (``pacs.send``)
  with ids and counts, including a send cut short by an error.
* **Status** (QIDO-RS): which of a patient's photos the PACS holds, by SOP Instance UID.
* **Delete** (Orthanc REST API): for a withdrawal that deletes images, :func:`delete_from_pacs`
  removes their copies from an Orthanc target (``/tools/lookup`` then ``DELETE /instances/…``),
  audited as ``pacs.delete``. Call it *before* deleting the images from the archive (the UIDs are
  kept with the image rows); :func:`images_in_pacs` names the images already sent. DICOMweb has
  no portable delete, so the target is asked first whether it is an Orthanc (``GET /system``);
  any other PACS gets nothing deleted and :class:`PacsCannotDelete` names the images its
  administrator must remove.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import requests
from cryptography.exceptions import InvalidTag

from .. import log
from ..archive import dicom_store, records
from ..archive.header import now_iso
from ..archive.keys import unwrap, wrap
from ..consent import policy
from ..errors import Cancelled, DermArchiveError, InvalidInput
from .build import build_instance
from .export import PURPOSE, images_for_dicom
from .pixels import jpegtran_missing_note

SETTING = "pacs.target"
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
TIMEOUT_SECONDS = 30.0
BUILD_WORKERS = 2   # DICOM instances built ahead of the send, in parallel
BUILD_AHEAD = 3     # built instances waiting at most (each holds one photo's pixels)
Progress = Callable[[int, int, str], None]


class PacsError(DermArchiveError):
    """The PACS could not be reached, refused the login, or refused an image."""


class PacsCannotDelete(PacsError):
    """The PACS is not an Orthanc, so DermArchive cannot delete images there (nothing was deleted).

    ``image_ids`` are the images whose copies the PACS administrator must delete; the message is a
    plain sentence naming them (ids only).
    """

    def __init__(self, target: PacsTarget, image_ids: list[int]) -> None:
        self.image_ids = sorted(image_ids)
        self.reason = (f"The PACS at {target.safe_url()} is not an Orthanc, and DermArchive can delete "
                       "images only from an Orthanc PACS.")
        super().__init__(f"{self.reason} Ask the PACS administrator to delete image(s) "
                         f"{', '.join(map(str, self.image_ids))} there; their DICOM instance UIDs are in "
                         "the audit log.")


@dataclass(frozen=True)
class PacsTarget:
    url: str
    user: str
    password: str

    @property
    def rest_root(self) -> str:
        """Orthanc's REST root: the DICOMweb root without its ``/dicom-web`` suffix."""
        url = self.url.rstrip("/")
        return url[: -len("/dicom-web")] if url.endswith("/dicom-web") else url

    def safe_url(self) -> str:
        p = urlparse(self.url)
        return f"{p.scheme}://{p.hostname}{':' + str(p.port) if p.port else ''}{p.path}"


# -- target (password sealed under the settings sub-key) ----------------------------------------
def _aad(archive: Any) -> bytes:
    return f"{archive.archive_id}/pacs.password".encode()


def _check_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url:
        raise InvalidInput("Enter the PACS's DICOMweb address (ask your PACS administrator).")
    p = urlparse(url)
    if p.scheme not in ("http", "https") or not p.hostname:
        raise InvalidInput(f"The PACS address must start with http:// or https:// (got '{url}').")
    if p.username or p.password:
        raise InvalidInput("Put the PACS user name and password in their own fields, not in the address.")
    return url


def make_target(url: str, user: str, password: str) -> PacsTarget:
    """A checked target from what the user typed (address, user name, password)."""
    target = PacsTarget(_check_url(url), user.strip(), password)
    if not target.user or not password:
        raise InvalidInput("The PACS needs a user name and a password.")
    return target


def set_target(archive: Any, url: str, user: str, password: str, *, test: bool = True) -> PacsTarget:
    """Save the PACS target (admin or clinician); with ``test``, only after the PACS answers."""
    archive.require_role("admin", "clinician", action="change the PACS settings")
    target = make_target(url, user, password)
    if test:
        test_connection(archive, target)
    sealed = wrap(archive.master.subkey("settings"), password.encode(), _aad(archive))
    value = {"url": target.url, "user": target.user, "password": base64.b64encode(sealed).decode()}
    with archive.transaction() as tx:
        archive.set_setting(tx, SETTING, value)
        archive.record(tx, "pacs.set", {"user": archive.user.id},
                       {"host": urlparse(target.url).hostname, "tested": test})
    log.exports.info("PACS target changed")
    return target


def get_target(archive: Any) -> PacsTarget | None:
    value = archive.setting(SETTING)
    if not value:
        return None
    try:
        password = unwrap(archive.master.subkey("settings"), base64.b64decode(value["password"]), _aad(archive))
    except (InvalidTag, ValueError, KeyError):
        raise PacsError("The saved PACS password cannot be read (it was altered); set the PACS again.") from None
    return PacsTarget(value["url"], value["user"], password.decode())


def require_target(archive: Any) -> PacsTarget:
    target = get_target(archive)
    if target is None:
        raise PacsError("No PACS is set up. Set it first (PACS settings, or 'dermarchive pacs set').")
    return target


# -- HTTP with clear errors --------------------------------------------------------------------
def _session(target: PacsTarget) -> requests.Session:
    session = requests.Session()
    session.auth = (target.user, target.password)
    session.trust_env = False  # no proxy from the environment for patient data
    return session


def _client(target: PacsTarget) -> Any:
    from dicomweb_client.api import DICOMwebClient

    client = DICOMwebClient(target.url, session=_session(target), timeout=TIMEOUT_SECONDS)
    # Its own retry (the `retrying` package) also retries a refused connection five times with
    # 2–16 s waits; ours is shorter and knows which failures are worth retrying.
    client.set_http_retry_params(retry=False)
    logging.getLogger("retrying").setLevel(logging.ERROR)  # it logs every failed attempt with a traceback
    return client


def _explain(target: PacsTarget, exc: BaseException, what: str) -> PacsError:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        code = exc.response.status_code
        if code in (401, 403):
            return PacsError(f"The PACS at {target.safe_url()} refused the user name or password "
                             f"(HTTP {code}). Check the PACS settings.")
        if code == 404:
            return PacsError(f"The PACS at {target.safe_url()} has no DICOMweb service at that address "
                             "(HTTP 404). Check the address (it usually ends in /dicom-web).")
        return PacsError(f"The PACS at {target.safe_url()} refused to {what} (HTTP {code}).")
    if isinstance(exc, requests.exceptions.SSLError):
        return PacsError(f"The secure (HTTPS) connection to the PACS at {target.safe_url()} failed: its "
                         "certificate is not trusted by this computer, or it does not speak HTTPS. "
                         "Nothing was sent; ask the PACS administrator.")
    if isinstance(exc, requests.Timeout):
        return PacsError(f"The PACS at {target.safe_url()} did not answer in time while trying to {what}.")
    if isinstance(exc, requests.ConnectionError):
        return PacsError(f"The PACS at {target.safe_url()} cannot be reached to {what} (is it running, "
                         "and is the address right?).")
    return PacsError(f"Could not {what} with the PACS at {target.safe_url()} ({type(exc).__name__}).")


def _retrying(target: PacsTarget, what: str, call: Callable[[], Any]) -> Any:
    """Run ``call``; retry when unreachable/busy; turn failures into a :class:`PacsError`."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return call()
        except requests.HTTPError as exc:
            code = exc.response.status_code if exc.response is not None else 0
            if code not in (429, 500, 502, 503, 504) or attempt == ATTEMPTS:
                raise _explain(target, exc, what) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            if attempt == ATTEMPTS or isinstance(exc, requests.exceptions.SSLError):
                raise _explain(target, exc, what) from None
        except (ValueError, OSError) as exc:
            raise _explain(target, exc, what) from None
        log.exports.info("PACS %s: attempt %d failed, retrying", what, attempt)
        time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def test_connection(archive: Any, target: PacsTarget | None = None) -> str:
    """Ask the PACS a harmless QIDO-RS query; a sentence for the user, or a PacsError."""
    target = target or require_target(archive)
    client = _client(target)
    _retrying(target, "test the connection", lambda: client.search_for_studies(limit=1))
    return f"Connected to the PACS at {target.safe_url()} as {target.user}."


# -- status ------------------------------------------------------------------------------------
def _uids_in_pacs(target: PacsTarget, client: Any, study_uids: set[str]) -> set[str]:
    held: set[str] = set()
    for study in sorted(study_uids):
        found = _retrying(target, "list the images it holds",
                          lambda s=study: client.search_for_instances(study_instance_uid=s,
                                                                      fields=["00080018"]))
        for item in found or []:
            values = item.get("00080018", {}).get("Value", [])
            held.update(str(v) for v in values)
    return held


def pacs_status(archive: Any, patient_id: int) -> dict[str, Any]:
    """``{"images": [{"id", "sop_instance_uid", "in_pacs"}]}`` for the patient's clinical photos."""
    target = require_target(archive)
    images = images_for_dicom(archive, patient_id)
    uids = dicom_store.known_instance_uids(archive, [i.id for i in images])
    held = _uids_in_pacs(target, _client(target), dicom_store.study_uids_of_visits(archive, {i.visit_id for i in images}))
    return {"images": [{"id": i.id, "sop_instance_uid": uids.get(i.id),
                        "in_pacs": uids.get(i.id) in held if i.id in uids else False} for i in images]}


def images_in_pacs(archive: Any, image_ids: list[int]) -> dict[int, str]:
    """Images of ``image_ids`` this archive has sent to a PACS, with when (no network needed)."""
    return dicom_store.sent_images(archive, image_ids)


# -- send --------------------------------------------------------------------------------------
def _check_stored(target: PacsTarget, answer: Any, image_id: int) -> None:
    failed = getattr(answer, "FailedSOPSequence", None) if answer is not None else None
    if failed:
        reason = getattr(failed[0], "FailureReason", "?")
        raise PacsError(f"The PACS at {target.safe_url()} refused image {image_id} "
                        f"(DICOM failure reason {reason}). The images before it were sent.")


def send_to_pacs(archive: Any, patient_id: int, *, image_ids: list[int] | None = None,
                 progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Send the patient's photos (or ``image_ids``) by STOW-RS; returns a summary."""
    target = require_target(archive)
    images = images_for_dicom(archive, patient_id, image_ids)
    policy.require(archive, [i.id for i in images], PURPOSE)
    client = _client(target)
    total = len(images)
    if progress:
        progress(0, total, "Asking the PACS what it already holds")
    # UIDs are made on first build; the studies of never-exported visits are simply unknown yet
    held = _uids_in_pacs(target, client, dicom_store.study_uids_of_visits(archive, {i.visit_id for i in images}))
    known = dicom_store.known_instance_uids(archive, [i.id for i in images])
    sent: list[int] = []
    not_kept: list[int] = []
    already = [i.id for i in images if known.get(i.id) in held]
    without_jpegtran = 0
    error: BaseException | None = None
    try:
        with closing(_built_ahead(archive, images, set(already))) as built:  # stops the builders on any exit
            for n, image, instance in built:
                if cancelled and cancelled():
                    raise Cancelled("Sending to the PACS")
                if progress:
                    progress(n, total, f"Sending image {n + 1} of {total}")
                instance.dataset.preamble = b"\0" * 128
                without_jpegtran += instance.pixels.without_jpegtran
                answer = _retrying(target, "store an image",
                                   lambda ds=instance.dataset: client.store_instances([ds]))
                _check_stored(target, answer, image.id)
                with archive.transaction() as tx:
                    dicom_store.mark_sent(tx, image.id, now_iso(), target.safe_url())
                sent.append(image.id)
        not_kept = _not_kept(archive, target, client, images, sent)
        if not_kept:
            sent = [i for i in sent if i not in not_kept]
            raise PacsError(f"The PACS at {target.safe_url()} answered that it stored image(s) "
                            f"{', '.join(map(str, not_kept))} but does not hold them (it may filter incoming "
                            "images). Ask the PACS administrator; they were not marked as sent.")
    except BaseException as exc:
        error = exc
        raise
    finally:
        if sent or not_kept or already or error is None:  # anything that left the archive
            details: dict[str, Any] = {"sent": len(sent), "already_there": len(already),
                                       "target": urlparse(target.url).hostname}
            if not_kept:
                details["not_kept"] = not_kept
            if error is not None:
                details["stopped"] = type(error).__name__
            with archive.transaction() as tx:
                archive.record(tx, "pacs.send", {"patient": patient_id, "images": sent}, details)
    if progress:
        progress(total, total, "Done")
    log.exports.info("PACS send: %d sent, %d already there", len(sent), len(already))
    return {"sent": len(sent), "already_there": len(already), "images": sent + already,
            "target": target.safe_url(),
            "notes": [jpegtran_missing_note(without_jpegtran)] if without_jpegtran else []}


def _built_ahead(archive: Any, images: list[Any], skip: set[int]) -> Iterator[tuple[int, Any, Any]]:
    """``(position, image, DICOM instance)`` in order, building the next ones on worker threads
    while the caller sends (decrypting and encoding overlap the network; the sends, their
    order and "the images before it were sent" stay as they were). At most BUILD_AHEAD built
    instances wait in memory; leaving early cancels the rest."""
    todo = [(n, image) for n, image in enumerate(images) if image.id not in skip]
    pool = ThreadPoolExecutor(max_workers=BUILD_WORKERS, thread_name_prefix="pacs-build")
    window: deque[tuple[int, Any, Future[Any]]] = deque()
    try:
        for n, image in todo:
            window.append((n, image, pool.submit(build_instance, archive, image)))
            if len(window) > BUILD_AHEAD:
                m, first, future = window.popleft()
                yield m, first, future.result()
        while window:
            m, first, future = window.popleft()
            yield m, first, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _not_kept(archive: Any, target: PacsTarget, client: Any, images: list[Any], sent: list[int]) -> list[int]:
    """Sent images the PACS does not list afterwards (QIDO-RS), unmarked as sent.

    Some PACS answer "stored" and then drop an instance (an Orthanc filter script does exactly
    that); one query per study after the send catches it.
    """
    if not sent:
        return []
    held = _uids_in_pacs(target, client, dicom_store.study_uids_of_visits(archive, {i.visit_id for i in images if i.id in sent}))
    uids = dicom_store.known_instance_uids(archive, sent)
    missing = [i for i in sent if uids.get(i) not in held]
    if missing:
        with archive.transaction() as tx:
            dicom_store.mark_not_sent(tx, missing)
    return missing


def send_images_to_pacs(archive: Any, image_ids: list[int], *, progress: Progress | None = None,
                        cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
    """The main window's "Send to PACS" on selected photos (all of one patient)."""
    if not image_ids:
        raise InvalidInput("Select the photos to send first.")
    patients = records.patients_of_images(archive, image_ids)
    if len(patients) != 1:
        raise InvalidInput("Send the photos of one patient at a time.")
    return send_to_pacs(archive, patients.pop(), image_ids=image_ids, progress=progress, cancelled=cancelled)


# -- delete (Orthanc REST API) -----------------------------------------------------------------
NOT_THERE = (400, 404, 405, 406, 410, 501)  # what a PACS without Orthanc's REST API answers to GET /system


def _is_orthanc(target: PacsTarget, session: requests.Session) -> bool:
    """Whether the target is an Orthanc: its ``GET /system`` answers JSON with "Name" and "Version".

    A wrong password, an unreachable or busy server stay :class:`PacsError` (retried as usual).
    """
    def call() -> bool:
        resp = session.get(target.rest_root + "/system", timeout=TIMEOUT_SECONDS)
        if resp.status_code in NOT_THERE:
            return False
        resp.raise_for_status()
        try:
            body = resp.json()
        except ValueError:  # an HTML page, or nothing
            return False
        return isinstance(body, dict) and "Name" in body and "Version" in body

    return bool(_retrying(target, "find out which kind of PACS it is", call))


def delete_from_pacs(archive: Any, image_ids: list[int]) -> list[int]:
    """Delete these images' copies from an Orthanc PACS; returns the ids deleted there.

    Call before deleting the images locally. Images never sent are skipped; an instance the PACS
    no longer holds counts as deleted. Audited as ``pacs.delete``. A target that is not an Orthanc
    raises :class:`PacsCannotDelete` (nothing deleted there); other failures raise :class:`PacsError`.
    """
    target = get_target(archive)
    uids = dicom_store.known_instance_uids(archive, list(image_ids))
    sent = images_in_pacs(archive, list(image_ids))
    wanted = {i: uids[i] for i in image_ids if i in uids and i in sent}
    if target is None or not wanted:
        return []
    session = _session(target)
    deleted: list[int] = []

    def _call(method: str, path: str, body: str | None = None) -> Any:
        resp = session.request(method, target.rest_root + path, data=body, timeout=TIMEOUT_SECONDS)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    if not _is_orthanc(target, session):
        log.exports.warning("PACS delete: the target is not an Orthanc; %d image(s) left there", len(wanted))
        raise PacsCannotDelete(target, list(wanted))
    try:
        for image_id, uid in wanted.items():
            found = _retrying(target, "find an image to delete", lambda u=uid: _call("POST", "/tools/lookup", u))
            for hit in found or []:
                if hit.get("Type") == "Instance":
                    _retrying(target, "delete an image", lambda h=hit: _call("DELETE", f"/instances/{h['ID']}"))
            deleted.append(image_id)
    finally:
        if deleted:
            with archive.transaction() as tx:
                dicom_store.mark_not_sent(tx, deleted)
                archive.record(tx, "pacs.delete", {"images": deleted},
                               {"count": len(deleted), "target": urlparse(target.url).hostname})
    return deleted
