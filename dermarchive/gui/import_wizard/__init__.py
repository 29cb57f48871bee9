"""The import wizard (issue 5): a synced phone folder → the archive, over :mod:`dermarchive.ingest`.

Pages (each a Designer form ``ui/import_wizard_*.ui``): Source → Review → Patient → Organise →
Consent → Location → Import → Finish. Slow work (scan, previews, import, removing originals) runs
through :func:`dermarchive.gui.jobs.run_job`; what the nurse chose is an
:class:`~.choices.ImportChoices`, carried out by :func:`~.choices.carry_out` (Qt-free).
"""

from .wizard import ImportWizard

__all__ = ["ImportWizard"]
