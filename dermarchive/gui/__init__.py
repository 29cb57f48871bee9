"""The PySide6 desktop app. Calls the core only: no SQL, no crypto, no file formats here."""
