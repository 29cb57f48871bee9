"""A wizard page whose body is a Designer form from ``ui/``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

from PySide6.QtWidgets import QVBoxLayout, QWidget, QWizardPage

from ..forms import child, load_form

if TYPE_CHECKING:
    from .wizard import ImportWizard

T = TypeVar("T")


class FormPage(QWizardPage):
    form_name = ""

    def __init__(self, title: str, subtitle: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.form = load_form(self.form_name, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.form)

    def w(self, cls: type[T], name: str) -> T:
        return child(self.form, cls, name)

    @property
    def wiz(self) -> ImportWizard:
        return cast("ImportWizard", self.wizard())

    @property
    def archive(self) -> Any:
        return self.wiz.archive
