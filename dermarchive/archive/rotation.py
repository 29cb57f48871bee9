"""Removing a user rotates the keys, so an old copy of ``archive.json`` opens nothing current.

A departed user may keep a copy of the header and their passphrase: that opens the *old* master
key. Removal therefore makes a new master key (the next key epoch):

1. the next header — the removed slot gone, every other slot's master key sealed anew to its
   public key (no passphrase needed, see :mod:`.header`) — is written as ``archive.json.next``;
2. in one catalogue transaction under the old key: the user is marked inactive, the keyring
   (carried keys and the old epoch's ``blob-wrap``/``backup`` keys, see :mod:`.keys`) is stored,
   and ``user.remove`` is audited;
3. the catalogue is re-encrypted under the new key (SQLCipher ``PRAGMA rekey``);
4. ``archive.json.next`` replaces ``archive.json``.

Blobs are not re-encrypted: their data keys stay wrapped under the old epoch's key, which now
lives only inside the re-keyed catalogue; blobs written afterwards use the new epoch. A crash at
any step is finished (or undone, before step 2 commits) by the next open
(:func:`finish_interrupted`). Removal needs the archive to itself: other processes holding the
old key would fail mid-work.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import log
from ..errors import ArchiveCorrupt, InvalidInput, UnknownUser
from .catalogue import CATALOGUE_NAME, Catalogue
from .fsutil import exclusive_lock
from .header import HEADER_LOCK_NAME, NEXT_HEADER_NAME, Anchor, Header
from .keys import MasterKey

if TYPE_CHECKING:
    from .archive import Archive, User

Progress = Callable[[int, int, str], None]


def rotate(archive: Archive, target: User, progress: Progress | None = None) -> None:
    progress = progress or _no_progress
    path = archive.path
    if not archive._plock.try_alone():
        raise InvalidInput("The archive is open elsewhere (another window or computer). Close it there "
                           "first: removing a user changes the keys every open copy is using.")
    old = archive.master
    new = MasterKey.generate(archive.archive_id)
    try:
        with exclusive_lock(path / HEADER_LOCK_NAME):
            header = Header.load(path)
            keep = [s for s in header.slots if s.user.casefold() != target.name.casefold()]
            stale = [s.user for s in keep if not s.sealable]
            if stale:
                raise InvalidInput(
                    "These users have key slots from an older DermArchive, which cannot be given a new "
                    f"key without their passphrase: {', '.join(stale)}. Ask each to unlock once (or reset "
                    "their passphrase), then remove the user.")
            progress(0, 4, "Sealing the new key to every remaining user")
            ring = old.keyring_after_rotation()
            new.adopt_keyring(ring)
            for slot in keep:
                slot.seal(new)
            header.slots = keep
            header.save(path, NEXT_HEADER_NAME)
            progress(1, 4, "Recording the removal")
            with archive.transaction() as tx:
                tx.execute("UPDATE user SET active = 0 WHERE id = ?", (target.id,))
                tx.execute("DELETE FROM keyring")
                tx.executemany("INSERT INTO keyring (label, key) VALUES (?, ?)", sorted(ring.items()))
                archive.record(tx, "user.remove", {"user": target.id},
                               {"role": target.role, "key_epoch": new.epoch})
            progress(2, 4, "Re-encrypting the catalogue")
            archive.catalogue.rekey(new.subkey("catalogue"))
            progress(3, 4, "Writing the new header")
            count, mac = archive._audit_head()
            header.anchor = Anchor.make(new, count, mac)
            header.save(path)
            (path / NEXT_HEADER_NAME).unlink(missing_ok=True)
    except BaseException:
        if not (path / NEXT_HEADER_NAME).exists() or archive.catalogue.scalar(
                "SELECT active FROM user WHERE id = ?", (target.id,)) == 1:
            (path / NEXT_HEADER_NAME).unlink(missing_ok=True)  # nothing happened yet: undo
            new.forget()
        archive._plock.share()
        raise
    archive._switch_master(header, new)
    archive._plock.share()
    progress(4, 4, "Done")
    log.archive.info("user %d removed; keys rotated to epoch %d", target.id, new.epoch)


def _no_progress(done: int, total: int, message: str = "") -> None:
    pass


def finish_interrupted(path: Path, user: str, passphrase: str | bytearray) -> None:
    """Complete (or undo) a removal that a crash interrupted; called at open, before unlocking.

    Needs a user who is in the next header (the removed user is not, and opens as before).
    """
    nxt = path / NEXT_HEADER_NAME
    if not nxt.exists():
        return
    with exclusive_lock(path / HEADER_LOCK_NAME):
        if not nxt.exists():
            return
        pending = Header.load(path, NEXT_HEADER_NAME)
        try:
            slot = pending.slot_for(user)
        except UnknownUser:
            return
        new = slot.open(passphrase, pending.archive_id)  # WrongPassphrase: nothing changes
        current = Header.load(path)
        catalogue = _try_open(path, new)
        if catalogue is None:  # not re-keyed yet: was the removal recorded?
            old = current.slot_for(user).open(passphrase, current.archive_id)
            catalogue = Catalogue(path / CATALOGUE_NAME, old.subkey("catalogue"), migrate=False)
            removed = [s.slot_id for s in current.slots if s.slot_id not in {p.slot_id for p in pending.slots}]
            recorded = removed and catalogue.scalar(
                f"SELECT count(*) FROM user WHERE active = 0 AND slot_id IN ({','.join('?' * len(removed))})",
                removed) == len(removed)
            if not recorded:
                catalogue.close()
                nxt.unlink()
                log.archive.info("an interrupted user removal had not started; undone")
                return
            catalogue.rekey(new.subkey("catalogue"))
        row = catalogue.query_one("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1")
        catalogue.close()
        if row is not None:
            pending.anchor = Anchor.make(new, int(row[0]), str(row[1]))
        pending.save(path)
        nxt.unlink()
        log.archive.info("an interrupted user removal was completed")


def _try_open(path: Path, master: MasterKey) -> Any:
    try:
        return Catalogue(path / CATALOGUE_NAME, master.subkey("catalogue"), migrate=False)
    except ArchiveCorrupt:
        return None
