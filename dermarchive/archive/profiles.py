"""A user's profile for what they sign: full name, title (e.g. "Dr", "GP", "Nurse practitioner")
and professional registration number. Kept per user in the archive's settings (encrypted with the
catalogue), so a referral says who referred the patient, not a login name."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import InvalidInput
from .archive import Archive

MAX_LENGTH = 120


@dataclass(frozen=True)
class Profile:
    full_name: str = ""
    title: str = ""
    registration: str = ""

    @property
    def signature(self) -> str:
        """'Dr Jane Smith, GP (registration 12345)' — or '' when no full name is set."""
        if not self.full_name:
            return ""
        title, name = self.title.strip(), self.full_name.strip()
        head = f"{title} {name}" if title and len(title) <= 4 else (f"{name}, {title}" if title else name)
        return head + (f" (registration {self.registration})" if self.registration else "")

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _key(user_id: int) -> str:
    return f"user.profile.{user_id}"


def profile(archive: Archive, user_id: int | None = None) -> Profile:
    stored = archive.setting(_key(archive.user.id if user_id is None else user_id), {}) or {}
    return Profile(**{k: str(stored.get(k, "")) for k in ("full_name", "title", "registration")})


def set_profile(archive: Archive, *, full_name: str, title: str = "", registration: str = "") -> Profile:
    """Set the signed-in user's own profile (each user signs for themself). Audited, values not kept."""
    new = Profile(full_name.strip(), title.strip(), registration.strip())
    if any(len(v) > MAX_LENGTH or any(ord(c) < 32 for c in v) for v in (new.full_name, new.title, new.registration)):
        raise InvalidInput(f"Each profile field is one line of at most {MAX_LENGTH} characters.")
    old = profile(archive)
    changed = sorted(k for k, v in new.as_json().items() if getattr(old, k) != v)
    if changed:
        with archive.transaction() as tx:
            archive.set_setting(tx, _key(archive.user.id), new.as_json())
            archive.record(tx, "user.profile", {"user": archive.user.id}, {"changed": changed})
    return new
