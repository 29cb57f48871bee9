"""The Qt binding must not leak or steal references to None (PySide6 6.12.0 on Python 3.11 did).

With that build every call of a void Qt method (``label.setText``, ``app.processEvents``…) dropped
one reference to ``None``; after a few thousand calls the interpreter aborted with
"none_dealloc: deallocating None" — a clinician's session would crash mid-consultation.
pyproject.toml excludes that version; this test fails on any build with the same fault.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QLabel

pytestmark = pytest.mark.gui


def test_void_calls_keep_none_alive(qtbot: Any) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    app = QApplication.instance()
    before = sys.getrefcount(None)
    for _ in range(5000):
        label.setText("x")
        app.processEvents()
    assert sys.getrefcount(None) >= before - 50
