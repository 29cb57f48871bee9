"""The audit chain's head kept outside the catalogue, checked at open before anything is written.

Every open (after its ``unlock`` entry) and every close records the chain's head — entry count
and that entry's MAC — in ``archive.json``, MAC'd with the ``anchor`` key, and each backup
manifest records it too. At the next open, before the catalogue is migrated or written, the
catalogue must still hold that entry with that MAC:

* fewer entries than anchored: the catalogue was replaced by an older copy, or its log was cut;
* the anchored entry has another MAC: the catalogue is another copy, or its log was rewritten;
* the anchor's own MAC fails: someone edited the header.

Any of these opens the archive read-only until an admin acknowledges it (audited). The check
costs one indexed lookup and one HMAC, whatever the archive's size. It does not rely on the
catalogue's own ``audit.head`` setting, which an insider holding the catalogue key can delete.
"""

from __future__ import annotations

from typing import Any

from .header import Header
from .keys import MasterKey

ACKNOWLEDGE_HINT = ("The archive is open read-only until an admin acknowledges this "
                    "(dermarchive audit ARCHIVE --acknowledge, or Users in the app).")


def check_anchor(header: Header, master: MasterKey, catalogue: Any) -> str | None:
    """One plain sentence naming what is missing, or None when the catalogue matches."""
    anchor = header.anchor
    if anchor is None:
        return None  # an archive from before anchoring: the first writable open anchors it
    if not anchor.authentic(master):
        return ("The audit anchor in archive.json fails its check: the header was edited, so whether "
                "the audit log is complete cannot be confirmed.")
    row = catalogue.query_one("SELECT seq FROM audit ORDER BY seq DESC LIMIT 1")
    last = int(row[0]) if row else 0
    if last < anchor.count:
        missing = (f"entry {anchor.count}" if last + 1 == anchor.count
                   else f"entries {last + 1} to {anchor.count}")
        return (f"The audit log is missing {missing}: it ends at entry {last}, but this archive had "
                f"recorded {anchor.count}. The catalogue was replaced by an older copy, or its audit "
                "log was cut short.")
    mac = catalogue.scalar("SELECT mac FROM audit WHERE seq = ?", (anchor.count,))
    if mac != anchor.mac:
        return (f"Audit entry {anchor.count} is not the one this archive recorded: the catalogue was "
                "replaced by another copy, or its audit log was rewritten.")
    return None
