"""Key hierarchy: passphrase → Argon2id → key-encryption key → slot key pair → master key → HKDF sub-keys.

* One random 256-bit master key per archive (per key epoch, see below).
* Each user has a key slot: ``Argon2id(passphrase, salt, params)`` gives a KEK that wraps the
  slot's X25519 private key with AES-256-GCM (12-byte random nonce; AAD = archive id ‖ slot id),
  and the master key is sealed to the slot's public key (:func:`seal`), so an admin can give
  every slot a new master key without their passphrases (see :mod:`.header`). A wrong
  passphrase fails at unwrapping, before any database is touched.
* Argon2id parameters are calibrated at creation to about 0.5–1 s on this machine and stored in
  the slot. Tests pass cheap parameters explicitly; the default never is cheap.
* Sub-keys are ``HKDF-SHA256(master, salt=archive id, info="dermarchive/v1/" + label)``. Labels:
  ``catalogue`` (SQLCipher raw key), ``blob-id`` (HMAC for content ids), ``blob-wrap`` (wraps each
  blob's own data key), ``audit`` (HMAC chain), ``backup`` (backup manifests), ``settings``
  (secrets kept in the catalogue, e.g. a PACS password), ``sheet`` (MACs in the codes printed on
  photo consent sheets, so a sheet from another archive or an altered one is recognised),
  ``anchor`` (MAC of the audit chain's head kept in the header).

Key epochs. Removing a user makes a new master key (epoch + 1). Keys that must stay the same
for the archive's life (``CARRIED_LABELS``: content ids must keep deduplicating, the audit chain
must keep verifying, stored secrets must keep opening) are then *carried*: kept in the catalogue's
``keyring`` table, which only the current catalogue key opens, and used in place of the derived
ones. Each older epoch's ``blob-wrap`` and ``backup`` keys are kept there too (``blob-wrap@0``…),
so older blobs keep their wrapped data keys and older backup manifests still authenticate.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from ..errors import PassphrasePolicyError

KEY_LEN = 32
NONCE_LEN = 12
SUBKEY_LABELS = ("catalogue", "blob-id", "blob-wrap", "audit", "backup", "settings", "sheet", "anchor")
# Printed consent sheets carry sheet MACs: they must keep verifying after a rotation too.
CARRIED_LABELS = ("blob-id", "audit", "settings", "sheet")

# Calibration target and bounds. 128 MiB of memory is what OWASP and KeePassXC use on desktops.
TARGET_SECONDS = 0.8
DEFAULT_MEMORY_KIB = 128 * 1024
DEFAULT_LANES = 4
MIN_ITERATIONS = 2


@dataclass(frozen=True)
class KdfParams:
    iterations: int
    memory_kib: int
    lanes: int

    def derive(self, passphrase: str | bytearray, salt: bytes) -> bytes:
        """``passphrase`` as text, or as UTF-8 in a bytearray the caller wipes afterwards (the GUI)."""
        kdf = Argon2id(
            salt=salt,
            length=KEY_LEN,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_kib,
        )
        if isinstance(passphrase, str):
            return kdf.derive(passphrase.encode("utf-8"))
        # cryptography's stub says bytes; it reads any buffer, and bytes() would be a copy nobody can wipe
        return kdf.derive(passphrase)  # type: ignore[arg-type]

    def as_json(self) -> dict[str, int | str]:
        return {"name": "argon2id", **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KdfParams:
        if data.get("name") != "argon2id":
            raise ValueError("unsupported key derivation")
        return cls(int(data["iterations"]), int(data["memory_kib"]), int(data["lanes"]))


# For tests and benchmarks only: never used unless passed explicitly.
CHEAP_TEST_PARAMS = KdfParams(iterations=1, memory_kib=8 * 1024, lanes=1)


def calibrate(target_seconds: float = TARGET_SECONDS) -> KdfParams:
    """Pick Argon2id iterations so one derivation takes about ``target_seconds`` here."""
    probe = KdfParams(iterations=2, memory_kib=DEFAULT_MEMORY_KIB, lanes=DEFAULT_LANES)
    start = time.perf_counter()
    probe.derive("calibration", os.urandom(16))
    per_pass = max((time.perf_counter() - start) / 2, 1e-3)
    iterations = max(MIN_ITERATIONS, math.ceil(target_seconds / per_pass))
    return KdfParams(iterations=iterations, memory_kib=DEFAULT_MEMORY_KIB, lanes=DEFAULT_LANES)


def check_passphrase_policy(passphrase: str) -> None:
    """At least 10 characters, with letters and digits; raises naming every rule it breaks."""
    problems = passphrase_problems(passphrase)
    if problems:
        raise PassphrasePolicyError(" ".join(problems))


def passphrase_problems(passphrase: str) -> list[str]:
    """Every rule the passphrase breaks, in plain words (the GUI shows these as you type)."""
    problems = []
    if len(passphrase) < 10:
        problems.append(f"The passphrase must have at least 10 characters (it has {len(passphrase)}).")
    if not any(c.isalpha() for c in passphrase):
        problems.append("The passphrase must contain letters.")
    if not any(c.isdigit() for c in passphrase):
        problems.append("The passphrase must contain at least one digit.")
    return problems


STRENGTH_WORDS = ("weak", "fair", "strong", "very strong")


def passphrase_strength(passphrase: str) -> tuple[int, str]:
    """A rough guess of how hard the passphrase is to guess: (0–3, word), from its length and the
    kinds of characters it uses, with repeats and a single repeated character counted down.
    Shown while an archive is created; the policy (:func:`passphrase_problems`) is what is enforced."""
    if not passphrase:
        return 0, STRENGTH_WORDS[0]
    pool = sum(size for present, size in ((any(c.islower() for c in passphrase), 26),
                                          (any(c.isupper() for c in passphrase), 26),
                                          (any(c.isdigit() for c in passphrase), 10),
                                          (any(not c.isalnum() for c in passphrase), 33)) if present)
    distinct = len(set(passphrase))
    effective = min(len(passphrase), distinct * 3)  # "aaaaaaaaaa1" is not eleven characters' worth
    bits = effective * math.log2(max(pool, 2))
    score = 0 if bits < 50 else 1 if bits < 70 else 2 if bits < 100 else 3
    return score, STRENGTH_WORDS[score]


def wrap(kek: bytes, secret: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_LEN)
    return nonce + AESGCM(kek).encrypt(nonce, secret, aad)


def unwrap(kek: bytes, wrapped: bytes, aad: bytes) -> bytes:
    """Raises ``InvalidTag`` when the key is wrong or the data was altered."""
    if len(wrapped) < NONCE_LEN + 16:
        raise InvalidTag()
    return AESGCM(kek).decrypt(wrapped[:NONCE_LEN], wrapped[NONCE_LEN:], aad)


class MasterKey:
    """The unlocked master key and its sub-keys. ``forget()`` drops them (best effort in Python)."""

    def __init__(self, key: bytes, archive_id: str) -> None:
        if len(key) != KEY_LEN:
            raise ValueError("master key must be 32 bytes")
        self._key = bytearray(key)
        self.archive_id = archive_id
        self._subkeys: dict[str, bytearray] = {}
        self._keyring: dict[str, bytearray] = {}

    def adopt_keyring(self, keyring: dict[str, bytes]) -> None:
        """Use the catalogue's carried keys (see the module docstring) from now on."""
        for label, key in keyring.items():
            self._keyring[label] = bytearray(key)
            if label in self._subkeys:
                _wipe(self._subkeys.pop(label))

    @property
    def epoch(self) -> int:
        """This master key's epoch: one more than the older epochs the keyring holds."""
        return sum(1 for label in self._keyring if label.startswith("blob-wrap@"))

    def keyring_after_rotation(self) -> dict[str, bytes]:
        """The keyring the next epoch's catalogue holds: carried keys, plus this epoch's
        ``blob-wrap`` and ``backup`` keys kept under their epoch number."""
        ring = {label: bytes(key) for label, key in self._keyring.items()}
        for label in CARRIED_LABELS:
            ring[label] = self.subkey(label)
        ring[f"blob-wrap@{self.epoch}"] = self.subkey("blob-wrap")
        ring[f"backup@{self.epoch}"] = self.subkey("backup")
        return ring

    def epoch_key(self, label: str, epoch: int) -> bytes:
        """``blob-wrap`` or ``backup`` key of ``epoch`` (the current one is derived)."""
        if epoch == self.epoch:
            return self.subkey(label)
        try:
            return bytes(self._keyring[f"{label}@{epoch}"])
        except KeyError:
            raise ValueError(f"no {label} key for key epoch {epoch}") from None

    def older_keys(self, label: str) -> list[bytes]:
        return [bytes(v) for k, v in self._keyring.items() if k.startswith(label + "@")]

    @classmethod
    def generate(cls, archive_id: str) -> MasterKey:
        return cls(os.urandom(KEY_LEN), archive_id)

    @property
    def raw(self) -> bytes:
        if not self._key:
            raise RuntimeError("master key was forgotten")
        return bytes(self._key)

    def subkey(self, label: str) -> bytes:
        if label not in SUBKEY_LABELS:
            raise ValueError(f"unknown sub-key label {label!r}")
        if label in self._keyring:
            return bytes(self._keyring[label])
        if label not in self._subkeys:
            hkdf = HKDF(
                algorithm=hashes.SHA256(),
                length=KEY_LEN,
                salt=bytes.fromhex(self.archive_id),
                info=b"dermarchive/v1/" + label.encode(),
            )
            self._subkeys[label] = bytearray(hkdf.derive(self.raw))
        return bytes(self._subkeys[label])

    def copy(self) -> MasterKey:
        twin = MasterKey(self.raw, self.archive_id)
        twin.adopt_keyring({k: bytes(v) for k, v in self._keyring.items()})
        return twin

    def forget(self) -> None:
        for buf in [self._key, *self._subkeys.values(), *self._keyring.values()]:
            _wipe(buf)
        self._key = bytearray()
        self._subkeys.clear()
        self._keyring.clear()


class HeldKey:
    """A sub-key a component keeps (blob store, audit log); ``forget()`` wipes it when the archive
    closes, after which any use raises :class:`ArchiveLocked` (never a silent empty key)."""

    def __init__(self, key: bytes) -> None:
        self._buf = bytearray(key)

    def get(self) -> bytes:
        if not self._buf:
            from ..errors import ArchiveLocked

            raise ArchiveLocked()
        return bytes(self._buf)

    def forget(self) -> None:
        _wipe(self._buf)
        self._buf = bytearray()


def _wipe(buf: bytearray) -> None:
    """Overwrite key bytes in place (best effort in Python: copies made by ``bytes()`` remain)."""
    for i in range(len(buf)):
        buf[i] = 0


wipe = _wipe  # public: the GUI wipes the passphrase buffer it handed to Archive.open


# -- sealing the master key to a slot's public key (X25519 + HKDF + AES-GCM, as age does) --------
def new_keypair() -> tuple[bytes, bytes]:
    """(private, public) raw X25519 keys."""
    private = X25519PrivateKey.generate()
    return (private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
            private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def _seal_key(shared: bytes, ephemeral: bytes, public: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=ephemeral + public,
                info=b"dermarchive/v1/seal").derive(shared)


def seal(public: bytes, secret: bytes, aad: bytes) -> bytes:
    """Encrypt ``secret`` so that only the holder of ``public``'s private key can open it."""
    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(public))
    return eph_pub + wrap(_seal_key(shared, eph_pub, public), secret, aad)


def unseal(private: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Raises ``InvalidTag`` when the key is wrong or the data was altered."""
    if len(sealed) < 32 + NONCE_LEN + 16:
        raise InvalidTag()
    priv = X25519PrivateKey.from_private_bytes(private)
    public = priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = priv.exchange(X25519PublicKey.from_public_bytes(sealed[:32]))
    return unwrap(_seal_key(shared, sealed[:32], public), sealed[32:], aad)


def hmac_hex(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()
