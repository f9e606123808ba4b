"""LiveTemplate: server-rendered Jinja2 pages kept live over WebSocket, on Starlette.

>>> import livetemplate
>>> app = livetemplate.Application()
>>> app.parse_files("templates/*.html")
>>> routes = app.routes(new_page=lambda ws: app.new_page("counter", Counter()))
"""

from __future__ import annotations

from lt_engine import track, untrack

from .actions import ActionContext
from .app import Application
from .errors import (
    ClientError,
    DuplicateTemplateError,
    LiveTemplateError,
    PageLimitError,
    PageLookupError,
    PageNotFound,
    TemplateNotFoundError,
    TokenExpired,
    TokenInvalid,
    TokenMissing,
    TokenOtherPage,
    ValidationError,
)
from .limits import Limits
from .page import Page
from .protocol import ActionMessage
from .store import MemoryStore, PageRecord, PageStore
from .tokens import InsecureSecretWarning

__all__ = [
    "ActionContext", "ActionMessage", "Application", "ClientError", "DuplicateTemplateError",
    "InsecureSecretWarning", "LiveTemplateError", "Limits", "MemoryStore", "Page",
    "PageLimitError", "PageLookupError", "PageNotFound", "PageRecord", "PageStore",
    "TemplateNotFoundError", "TokenExpired", "TokenInvalid", "TokenMissing", "TokenOtherPage",
    "ValidationError", "track", "untrack",
]
