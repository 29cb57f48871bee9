"""Catalogue schema as ordered migrations; ``PRAGMA user_version`` holds the applied version.

Append a new ``(version, sql)`` to MIGRATIONS for every change; never edit a released one.
Versions only have to increase (gaps are fine), so features developed side by side can reserve
their own numbers.
"""

from __future__ import annotations

V1 = """
CREATE TABLE user (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role        TEXT NOT NULL CHECK (role IN ('nurse', 'clinician', 'admin')),
    slot_id     TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE patient (
    id          INTEGER PRIMARY KEY,
    nhi         TEXT NOT NULL UNIQUE,
    family      TEXT NOT NULL,
    given       TEXT NOT NULL DEFAULT '',
    dob         TEXT,                        -- ISO date
    sex         TEXT,
    notes       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE lesion (
    id          INTEGER PRIMARY KEY,
    patient_id  INTEGER NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    label       TEXT NOT NULL,
    site        TEXT NOT NULL DEFAULT '',    -- key from dermarchive.archive.bodysites
    site_text   TEXT NOT NULL DEFAULT '',    -- free text beside the standard site
    laterality  TEXT NOT NULL DEFAULT '' CHECK (laterality IN ('', 'left', 'right', 'bilateral', 'midline')),
    status      TEXT NOT NULL DEFAULT 'active',
    diagnosis   TEXT NOT NULL DEFAULT '',
    notes       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    UNIQUE (patient_id, label)
);

CREATE TABLE visit (
    id          INTEGER PRIMARY KEY,
    patient_id  INTEGER NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    date        TEXT NOT NULL,               -- ISO date of the capture session
    clinician   TEXT NOT NULL DEFAULT '',
    notes       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

-- Encrypted blobs: one row per stored file under blobs/. Deleting the row destroys the wrapped
-- data key (secure_delete zeroes the page), which is the crypto-erasure.
CREATE TABLE blob (
    id          TEXT PRIMARY KEY,            -- HMAC-SHA256(blob-id key, plaintext), hex
    wrapped_key BLOB NOT NULL,
    size        INTEGER NOT NULL,            -- plaintext length
    chunks      INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE image (
    id                  INTEGER PRIMARY KEY,
    visit_id            INTEGER NOT NULL REFERENCES visit(id) ON DELETE RESTRICT,
    lesion_id           INTEGER REFERENCES lesion(id) ON DELETE SET NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('clinical', 'dermoscopic', 'consent-form', 'other')),
    taken_at            TEXT,                -- ISO datetime, with offset when the camera gave one
    taken_at_source     TEXT NOT NULL DEFAULT 'unknown',  -- exif-offset, exif-local, file-time, unknown
    imported_at         TEXT NOT NULL,
    imported_by         INTEGER REFERENCES user(id),
    device_make         TEXT NOT NULL DEFAULT '',
    device_model        TEXT NOT NULL DEFAULT '',
    width               INTEGER NOT NULL,
    height              INTEGER NOT NULL,
    orientation         INTEGER NOT NULL DEFAULT 1,
    original_format     TEXT NOT NULL,       -- JPEG, HEIC, PNG, MPO, TIFF, WEBP
    stored_format       TEXT NOT NULL,       -- format of the stored (cleaned) blob
    blob_id             TEXT NOT NULL REFERENCES blob(id),
    thumb_blob_id       TEXT REFERENCES blob(id),
    preview_blob_id     TEXT REFERENCES blob(id),
    source_hmac         TEXT,                -- HMAC(blob-id key, original phone file bytes)
    had_location        INTEGER NOT NULL DEFAULT 0,
    location            TEXT,                -- JSON {lat, lon}; only when the user chose to keep it
    location_reason     TEXT,
    essential_for_care  INTEGER NOT NULL DEFAULT 0,
    notes               TEXT NOT NULL DEFAULT ''
);
CREATE INDEX image_visit ON image(visit_id);
CREATE INDEX image_lesion ON image(lesion_id);
CREATE INDEX image_source ON image(source_hmac);
CREATE INDEX image_blob ON image(blob_id);

-- Consent, versioned per visit: a change inserts a new version; the highest version is current.
CREATE TABLE consent (
    id                  INTEGER PRIMARY KEY,
    visit_id            INTEGER NOT NULL REFERENCES visit(id) ON DELETE CASCADE,
    version             INTEGER NOT NULL,
    scopes              TEXT NOT NULL,       -- JSON list of purposes
    method              TEXT NOT NULL CHECK (method IN ('written-signature', 'photographed-form', 'verbal', 'exemption')),
    exemption_reason    TEXT,
    obtained_by         TEXT NOT NULL,
    obtained_at         TEXT NOT NULL,
    signature_blob_id   TEXT REFERENCES blob(id),
    signature_on_paper  INTEGER NOT NULL DEFAULT 0,
    form_image_id       INTEGER REFERENCES image(id) ON DELETE SET NULL,
    notes               TEXT NOT NULL DEFAULT '',
    recorded_by         INTEGER REFERENCES user(id),
    recorded_at         TEXT NOT NULL,
    withdrawn_at        TEXT,
    withdrawn_reason    TEXT,
    UNIQUE (visit_id, version)
);

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    user        TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,               -- JSON object of ids, e.g. {"patient": 3, "images": [4, 5]}
    details     TEXT NOT NULL,               -- JSON object; never names or NHIs
    prev_mac    TEXT NOT NULL,
    mac         TEXT NOT NULL
);

-- Settings and secrets that belong to the archive (practice letterhead, PACS target, last backup).
CREATE TABLE setting (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);
"""

# 50 (DICOM export, issue 10): dermoscopy acquisition attributes per image (NULL = the archive's
# default, see dermarchive.archive.dicom_store), and the DICOM UIDs of visits (studies), series
# and images, kept so that exporting or sending again reuses them (idempotent in a PACS).
V50 = """
ALTER TABLE image ADD COLUMN dermoscopy_polarization TEXT DEFAULT NULL;
ALTER TABLE image ADD COLUMN dermoscopy_contact TEXT DEFAULT NULL;
ALTER TABLE image ADD COLUMN dermoscopy_immersion TEXT DEFAULT NULL;
ALTER TABLE image ADD COLUMN dermoscopy_magnification REAL DEFAULT NULL;

CREATE TABLE dicom_study (
    visit_id    INTEGER PRIMARY KEY REFERENCES visit(id) ON DELETE CASCADE,
    study_uid   TEXT NOT NULL UNIQUE
);
CREATE TABLE dicom_series (
    visit_id    INTEGER NOT NULL REFERENCES visit(id) ON DELETE CASCADE,
    modality    TEXT NOT NULL,
    series_uid  TEXT NOT NULL UNIQUE,
    PRIMARY KEY (visit_id, modality)
);
CREATE TABLE dicom_instance (
    image_id          INTEGER PRIMARY KEY REFERENCES image(id) ON DELETE CASCADE,
    sop_instance_uid  TEXT NOT NULL UNIQUE,
    sent_at           TEXT,                -- last successful STOW-RS to the PACS target
    sent_to           TEXT                 -- that target's URL
);
"""

# 30 (desktop app): patient list with photo counts over 50,000 patients in 0.9 s instead of 7 s.
V30 = """
CREATE INDEX IF NOT EXISTS visit_patient ON visit(patient_id);
"""

# 60 (issue 19): the patient list in name order straight from an index (no sort of 50,000 rows).
V60 = """
CREATE INDEX IF NOT EXISTS patient_name ON patient(family COLLATE NOCASE, given COLLATE NOCASE);
"""

# 70 (issue 15, key rotation): carried and older-epoch keys, and each blob's key epoch.
V70 = """
CREATE TABLE keyring (
    label  TEXT PRIMARY KEY,   -- 'blob-id', 'audit', 'settings', 'blob-wrap@0', 'backup@0', ...
    key    BLOB NOT NULL
);
ALTER TABLE blob ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
"""

# 80 (issue 17, body map): where each lesion's pin sits on the front or back figure, as fractions
# of the figure's box (archive/bodymap.py holds the figures and the site each point lies on).
V80 = """
CREATE TABLE lesion_pin (
    lesion_id   INTEGER PRIMARY KEY REFERENCES lesion(id) ON DELETE CASCADE,
    view        TEXT NOT NULL CHECK (view IN ('front', 'back')),
    x           REAL NOT NULL CHECK (x >= 0 AND x <= 1),
    y           REAL NOT NULL CHECK (y >= 0 AND y <= 1),
    placed_at   TEXT NOT NULL
);
"""

# 90 (issue 19, backup speed): the SHA-256 of each blob's encrypted file, taken as it is written,
# so a backup copies the file without reading it back to hash it (NULL for blobs stored before:
# a backup hashes those as it copies them).
V90 = """
ALTER TABLE blob ADD COLUMN sha256 TEXT;
"""

MIGRATIONS: list[tuple[int, str]] = [
    (1, V1),
    (30, V30),
    (50, V50),
    (60, V60),
    (70, V70),
    (80, V80),
    (90, V90),
]

LATEST = MIGRATIONS[-1][0]
