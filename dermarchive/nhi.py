"""National Health Index numbers (HISO 10046:2023).

Two formats: old ``AAANNNC`` (check digit, mod 11) and new ``AAANNAX`` (check letter, mod 23).
Letters never include I or O; input is case-insensitive and stored upper-case. Numbers starting
with ``Z`` are reserved for testing; they validate (the demo archive uses only those).

The checksum itself is the ``python-nhi`` package's implementation of the standard's routine;
this module adds the specific, user-facing reason when a number is refused.
"""

from __future__ import annotations

import re

import nhi as _nhi

from .errors import InvalidNHI

_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_OLD = re.compile(r"^[A-HJ-NP-Z]{3}\d{4}$")
_NEW = re.compile(r"^[A-HJ-NP-Z]{3}\d{2}[A-HJ-NP-Z]{2}$")


def normalise(raw: str) -> str:
    return raw.strip().replace(" ", "").upper()


def problem(raw: str) -> str | None:
    """The reason ``raw`` is not a valid NHI, or None when it is."""
    value = normalise(raw)
    if not value:
        return "An NHI number is required."
    if len(value) != 7:
        return f"An NHI number has 7 characters; this one has {len(value)}."
    if not value.isalnum() or not value.isascii():
        return "An NHI number has only letters and digits."
    head = value[:3]
    if not head.isalpha():
        return "An NHI number starts with three letters."
    if "I" in head or "O" in head:
        return "NHI numbers never use the letters I or O (they are read as 1 and 0)."
    if _OLD.match(value):
        if not _nhi.is_nhi(value, allow_test_values=True):
            return "The last digit is not the NHI check digit for the rest (mistyped?)."
        return None
    if _NEW.match(value):
        if not _nhi.is_nhi(value, allow_test_values=True):
            return "The last letter is not the NHI check letter for the rest (mistyped?)."
        return None
    if not value[3:5].isdigit():
        return "Characters 4 and 5 of an NHI number are digits."
    if value[5].isdigit():
        return "An NHI number is AAANNNN (old format) or AAANNAA (new format)."
    return "An NHI number is AAANNNN (old format) or AAANNAA (new format), without I or O."


def validate(raw: str) -> str:
    """Return the normalised NHI or raise :class:`InvalidNHI` naming the rule that failed."""
    reason = problem(raw)
    if reason:
        raise InvalidNHI(f"Not a valid NHI number: {reason}")
    return normalise(raw)


def is_test_nhi(value: str) -> bool:
    return normalise(value).startswith("Z")
