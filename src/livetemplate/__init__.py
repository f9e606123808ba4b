"""LiveTemplate: server-rendered Jinja2 pages kept live over WebSocket, on Starlette.

>>> import livetemplate
>>> app = livetemplate.Application()
>>> app.parse_files("templates/*.html")
>>> routes = app.routes(new_page=lambda ws: app.new_page("counter", Counter()))
"""

from __future__ import annotations

from lt_engine import Stream, track, untrack

from .actions import ActionContext
from .app import Application
from .components import Component
from .errors import (
    AsyncRequired,
    ClientError,
    DuplicateTemplateError,
    LiveTemplateError,
    PageBusy,
    PageConflict,
    PageLimitError,
    PageLookupError,
    PageNotFound,
    StoreUnavailable,
    TemplateNotFoundError,
    TokenExpired,
    TokenInvalid,
    TokenMissing,
    TokenOtherPage,
    UnstorableError,
    ValidationError,
)
from .limits import Limits
from .page import Page
from .protocol import ActionMessage
from .redis_store import RedisStore
from .store import Catchup, MemoryStore, PageRecord, PageStore, SharedStore, Update
from .tokens import InsecureSecretWarning
from .uploads import Upload, UploadEntry

__all__ = [
    "ActionContext", "ActionMessage", "Application", "AsyncRequired", "Catchup", "ClientError",
    "Component",
    "DuplicateTemplateError", "InsecureSecretWarning", "Limits", "LiveTemplateError",
    "MemoryStore", "Page", "PageBusy", "PageConflict", "PageLimitError", "PageLookupError",
    "PageNotFound", "PageRecord", "PageStore", "RedisStore", "SharedStore", "StoreUnavailable",
    "TemplateNotFoundError", "TokenExpired", "TokenInvalid", "TokenMissing", "TokenOtherPage",
    "Stream", "UnstorableError", "Upload", "UploadEntry", "Update", "ValidationError", "track",
    "untrack",
]
