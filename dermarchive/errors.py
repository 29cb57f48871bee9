"""Errors a user can meet, each with a message that can be shown as it is.

Every error raised on purpose by the core derives from :class:`DermArchiveError`; its ``str`` is a
complete, plain-language sentence without patient names or NHIs (those are never put in
messages that may be logged). The CLI prints it and exits non-zero; the GUI shows it in a dialog.
Anything else reaching the top is a bug and gets the crash path.
"""

from __future__ import annotations


class DermArchiveError(Exception):
    """Base of every expected, user-facing failure."""

    exit_code = 2


class WrongPassphrase(DermArchiveError):
    def __init__(self, user: str) -> None:
        super().__init__(f"The passphrase for user '{user}' is wrong. Nothing was changed.")
        self.user = user


class UnknownUser(DermArchiveError):
    def __init__(self, user: str) -> None:
        super().__init__(f"This archive has no user called '{user}'.")
        self.user = user


class PassphrasePolicyError(DermArchiveError):
    pass


class ArchiveNotFound(DermArchiveError):
    pass


class ArchiveCorrupt(DermArchiveError):
    pass


class ArchiveExists(DermArchiveError):
    pass


class ArchiveLocked(DermArchiveError):
    """The archive was locked (idle or by hand); unlock again to continue."""

    def __init__(self) -> None:
        super().__init__("The archive is locked. Unlock it to continue.")


class PermissionDenied(DermArchiveError):
    pass


class InvalidNHI(DermArchiveError):
    pass


class DuplicateNHI(DermArchiveError):
    pass


class NotFound(DermArchiveError):
    pass


class InvalidInput(DermArchiveError):
    pass


class BlobIntegrityError(DermArchiveError):
    """A stored blob is missing, truncated, reordered or tampered with."""

    def __init__(self, blob_id: str, problem: str) -> None:
        super().__init__(f"Stored image data {blob_id[:12]}… is damaged: {problem}.")
        self.blob_id = blob_id
        self.problem = problem


class StorageError(DermArchiveError):
    """The disk refused a write (full, read-only, removed). Nothing was half-written."""


class Cancelled(DermArchiveError):
    def __init__(self, what: str = "The operation") -> None:
        super().__init__(f"{what} was cancelled.")
