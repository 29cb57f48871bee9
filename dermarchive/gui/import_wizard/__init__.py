"""The import wizard (issue 5): a synced phone folder → the archive, over :mod:`dermarchive.ingest`.

Pages (each a Designer form ``ui/import_wizard_*.ui``): Source → Review → Patient → Organise →
Consent → Location → Import → Finish. Slow work (scan, previews, import, removing originals) runs
through :func:`dermarchive.gui.jobs.run_job`; what the nurse chose is an
:class:`~dermarchive.workflows.import_visit.ImportChoices`, carried out by the use case
:func:`~dermarchive.workflows.import_visit.carry_out` (Qt-free, below both faces).
"""

from .wizard import ImportWizard

__all__ = ["ImportWizard"]
