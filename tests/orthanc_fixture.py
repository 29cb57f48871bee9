"""Fixtures for the DICOM and PACS tests: an archive with real corpus photos, and a real Orthanc.

``photo_archive`` stores real corpus files (baseline, rotated, PNG, HEIC, a progressive JPEG made
from a real photo by jpegtran; the test skips without it) through the archive core, with consent rows written straight into
the consent table (the import and consent features are built alongside, not relied on here).

``orthanc`` starts the Debian ``Orthanc`` binary on a free loopback port with a temporary
configuration (HTTP authentication on, DICOMweb plugin loaded, its own storage folder, DICOM
port on another free loopback port) and stops it afterwards. The tests skip only when the binary
is absent and ``CI`` is not set; in CI they must run.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from dermarchive.archive import records
from dermarchive.archive.header import now_iso
from tests.helpers import require_tool

ORTHANC_USER = "dermarchive"
ORTHANC_PASSWORD = "pacs-secret-42"
PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc")


# -- photos in an archive ----------------------------------------------------------------------
@dataclass
class PhotoArchive:
    archive: Any
    patient: records.Patient
    visit_id: int
    lesion_id: int
    ids: dict[str, int] = field(default_factory=dict)
    sources: dict[str, bytes] = field(default_factory=dict)


def add_photo(archive: Any, visit_id: int, data: bytes, *, kind: str = "clinical",
              lesion_id: int | None = None, orientation: int = 1, fmt: str = "JPEG",
              taken_at: str | None = "2024-03-05T10:11:12+13:00") -> int:
    import pillow_heif

    pillow_heif.register_heif_opener()
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
    with archive.transaction() as tx:
        blob = archive.store_blob(tx, data)
        return records.insert_image(archive, tx, visit_id=visit_id, kind=kind, blob_id=blob,
                                    width=width, height=height, original_format=fmt,
                                    stored_format=fmt, lesion_id=lesion_id, orientation=orientation,
                                    taken_at=taken_at, device_make="Apple", device_model="iPhone 4S")


def add_consent(archive: Any, visit_id: int, scopes: list[str], method: str = "written-signature") -> None:
    with archive.transaction() as tx:
        version = (tx.scalar("SELECT max(version) FROM consent WHERE visit_id = ?", (visit_id,)) or 0) + 1
        tx.execute("INSERT INTO consent (visit_id, version, scopes, method, obtained_by, obtained_at, "
                   "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (visit_id, version, json.dumps(scopes), method, "Dr Test", now_iso(), now_iso()))


def progressive_from(data: bytes) -> bytes:
    require_tool("jpegtran", "apt-get install libjpeg-turbo-progs")
    done = subprocess.run(["jpegtran", "-progressive", "-copy", "all"], input=data,
                          capture_output=True, check=True)
    return done.stdout


def make_photo_archive(archive: Any, corpus: Path, which: tuple[str, ...] = (
        "baseline", "rotated-perfect", "rotated-imperfect", "png", "heic", "progressive",
        "dermoscopic")) -> PhotoArchive:
    patient = records.add_patient(archive, "ZZZ0016", "Ngātai-Pōtae", "Mere Āio", "1961-07-04")
    visit = records.add_visit(archive, patient.id, "2024-03-05", clinician="Dr Test")
    lesion = records.add_lesion(archive, patient.id, "L1", site="forearm", site_text="dorsal, 3 cm below elbow",
                                laterality="left")
    pa = PhotoArchive(archive, patient, visit, lesion)
    spec = {
        "baseline": ("jolla.jpg", "clinical", 1, "JPEG", None),
        "rotated-perfect": ("Apple iPhone 4S.jpg", "clinical", 6, "JPEG", None),
        "rotated-imperfect": ("landscape_6.jpg", "clinical", 6, "JPEG", None),
        "png": ("clipboard_target.png", "clinical", 1, "PNG", None),
        "heic": ("arrow.heic", "clinical", 1, "HEIC", None),
        "progressive": ("jolla.jpg", "clinical", 1, "JPEG", progressive_from),
        "dermoscopic": ("iphone_hdr_NO.jpg", "dermoscopic", 1, "JPEG", None),
    }
    for name in which:
        filename, kind, orientation, fmt, transform = spec[name]
        data = (corpus / filename).read_bytes()
        if transform:
            data = transform(data)
        pa.sources[name] = data
        pa.ids[name] = add_photo(archive, visit, data, kind=kind, lesion_id=lesion,
                                 orientation=orientation, fmt=fmt)
    add_consent(archive, visit, ["clinical.documentation", "clinical.referral"])
    return pa


# -- a real Orthanc ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _plugin_dir() -> str | None:
    for d in PLUGIN_DIRS:
        if any(p.name.startswith("libOrthancDicomWeb") for p in Path(d).glob("*")) if Path(d).is_dir() else False:
            return d
    return None


@dataclass
class Orthanc:
    url: str                  # http://127.0.0.1:PORT
    user: str
    password: str
    folder: Path
    config: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        token = b64encode(f"{self.user}:{self.password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw

    def instances(self) -> list[str]:
        return list(self.rest("GET", "/instances"))

    def start(self) -> None:
        log = open(self.folder / "orthanc.log", "ab")
        self.process = subprocess.Popen(["Orthanc", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("Orthanc exited at start:\n" + (self.folder / "orthanc.log").read_text()[-3000:])
            try:
                self.rest("GET", "/system")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise RuntimeError("Orthanc did not answer within 60 s")

    def stop(self, *, graceful: bool = True) -> None:
        """Stop Orthanc; ``graceful=False`` kills it (its storage is about to be thrown away)."""
        if self.process is not None and self.process.poll() is None:
            if not graceful:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def start_orthanc(folder: Path, lua: str | None = None) -> Orthanc:
    require_tool("Orthanc", "apt-get install orthanc orthanc-dicomweb")
    if _plugin_dir() is None:
        pytest.fail("Orthanc is installed without its DICOMweb plugin: apt-get install orthanc-dicomweb")
    folder.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = free_port(), free_port()
    config = {
        "Name": "DermArchiveTest",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {ORTHANC_USER: ORTHANC_PASSWORD},
        "DicomServerEnabled": True,
        "DicomPort": dicom_port,
        "DicomAet": "DERMTEST",
        "Plugins": [_plugin_dir()],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "Ssl": False},
        "HttpServerEnabled": True,
        "OrthancExplorerEnabled": False,
        "WebDavEnabled": False,
        "ConcurrentJobs": 1,
        "StableAge": 1,
        "DefaultEncoding": "Utf8",
        "HttpTimeout": 30,
    }
    if lua is not None:  # e.g. a ReceivedInstanceFilter that makes this PACS refuse images
        (folder / "filter.lua").write_text(lua)
        config["LuaScripts"] = [str(folder / "filter.lua")]
    path = folder / "orthanc.json"
    path.write_text(json.dumps(config, indent=2))
    server = Orthanc(f"http://127.0.0.1:{http_port}", ORTHANC_USER, ORTHANC_PASSWORD, folder, path)
    server.start()
    return server


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    server = start_orthanc(tmp_path / "orthanc")
    try:
        yield server
    finally:
        server.stop(graceful=False)
