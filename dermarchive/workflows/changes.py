"""What an operation changed, so a view refreshes that and nothing else (Anki's ``OpChanges``).

A window that ran an operation hands its :class:`Changes` to the main window, which re-reads only
what is named: the patient list (50,000 rows take most of a second), an open patient's page, the
backup status. An operation that changed nothing (a referral written, a help page read) costs no
reload at all. ``None`` where a :class:`Changes` is expected means "not known": refresh everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Changes:
    patient_list: bool = False                              # patients added, renamed, merged, counts changed
    patients: frozenset[int] = field(default=frozenset())   # patients whose page (lesions, photos, consent) changed
    backup_status: bool = False                             # a backup was made or its folder changed

    @classmethod
    def of_patient(cls, patient_id: int, *, counts: bool = False) -> Changes:
        """The patient's page changed; ``counts``: so did what the patient list shows of them."""
        return cls(patient_list=counts, patients=frozenset({patient_id}))

    def __or__(self, other: Changes) -> Changes:
        return Changes(self.patient_list or other.patient_list, self.patients | other.patients,
                       self.backup_status or other.backup_status)


NOTHING = Changes()
