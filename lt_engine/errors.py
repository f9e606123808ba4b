"""Errors raised by the engine."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError


class CompileError(TemplateSyntaxError):
    """A template uses a construct that cannot be made live.

    Raised at compile time, never at render time, so no page is ever silently wrong.  ``str()``
    reads ``file:line: message``; the fields of :class:`jinja2.TemplateSyntaxError` are set too.
    """

    def __init__(self, message: str, lineno: int, name: str | None, filename: str | None) -> None:
        super().__init__(message, lineno, name, filename)
        self.construct = message

    def __str__(self) -> str:
        where = self.filename or self.name or "<template>"
        return f"{where}:{self.lineno}: {self.message}"
