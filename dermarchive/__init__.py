"""DermArchive: an encrypted clinical photo archive for dermatology.

The package is a Qt-free core (``archive``, ``ingest``, ``consent``, ``exports``, ``cli``) and a
PySide6 GUI in ``dermarchive.gui`` that only calls down into the core.
"""

__version__ = "0.1.0"
