"""Page records as bytes for a store outside the process: pickled, and signed so a changed
value is refused (whole records here; ``livetemplate.records`` makes deltas of them too).

A sealed record is ``HMAC-SHA256(key, body) + body`` where ``body`` is the pickle of the record's
template name, data, data model, errors and creation time. The key is derived from the
application's secret, so a process that does not share the secret (or anyone who can write to
Redis but does not know it) cannot make a record that another process will unpickle: unpickling
runs code, and only records made by this application's processes are ever unpickled.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import pickle
from dataclasses import dataclass
from typing import Any

from .errors import PageNotFound, UnstorableError
from .store import PageRecord

logger = logging.getLogger("livetemplate")

FORMAT = 1  # the layout of the pickled tuple; a record of another layout is refused
MAC_SIZE = 32
HOW_TO_FIX = (
    "A shared store (Redis) pickles every page's data and data model: use values pickle can"
    " store (define classes at module level of an importable module; no lambdas, local"
    " functions, locks, open files, sockets or clients), or give the class __getstate__ /"
    " __setstate__ to leave such attributes out and rebuild them."
)


@dataclass
class Opened:
    template: str
    data: dict[str, Any]
    model: Any
    errors: dict[str, str]
    created: float


class Sealer:
    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        self._key = hmac.new(raw, b"livetemplate.page-record", hashlib.sha256).digest()
        # Deltas have a key of their own: a delta can never pass for a record, nor the reverse.
        self._delta_key = hmac.new(raw, b"livetemplate.page-delta", hashlib.sha256).digest()

    def seal(self, record: PageRecord) -> tuple[bytes, bytes]:
        """``(sealed record, its MAC)``; raises :class:`UnstorableError` naming what failed."""
        state = (FORMAT, record.template, record.data, record.model, record.errors,
                 record.created)
        try:
            body = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise UnstorableError(f"{_culprit(record)} cannot be stored: {exc}. {HOW_TO_FIX}") \
                from exc
        mac = hmac.new(self._key, body, hashlib.sha256).digest()
        return mac + body, mac

    def seal_bytes(self, body: bytes) -> bytes:
        """``body`` (a delta pickled by this application) with its MAC in front."""
        return hmac.new(self._delta_key, body, hashlib.sha256).digest() + body

    def open_bytes(self, page_id: str, sealed: bytes) -> bytes:
        """The body of ``seal_bytes``; refused with ``PageNotFound`` when the MAC fails."""
        mac, body = sealed[:MAC_SIZE], sealed[MAC_SIZE:]
        if not hmac.compare_digest(mac, hmac.new(self._delta_key, body,
                                                 hashlib.sha256).digest()):
            logger.error("livetemplate: a stored change of page %s fails its signature check:"
                         " it was written with another secret or changed outside livetemplate;"
                         " it is refused", page_id)
            raise PageNotFound(
                "the stored page is refused: its signature does not match (every worker must"
                " share the same LIVETEMPLATE_SECRET); reload to start a new page"
            )
        return body

    def unstorable(self, record: PageRecord, exc: BaseException) -> UnstorableError:
        return UnstorableError(f"{_culprit(record)} cannot be stored: {exc}. {HOW_TO_FIX}")

    def check(self, model: Any) -> None:
        """Raise :class:`UnstorableError` now if ``model`` cannot be pickled."""
        self.seal(PageRecord(id="", template="", data={}, model=model))

    def open(self, page_id: str, sealed: bytes) -> tuple[Opened, bytes]:
        """The record and its MAC; a record that fails the check is refused with ``PageNotFound``
        (and a log line), since nothing else can be done with it."""
        mac, body = sealed[:MAC_SIZE], sealed[MAC_SIZE:]
        if not hmac.compare_digest(mac, hmac.new(self._key, body, hashlib.sha256).digest()):
            logger.error("livetemplate: the stored record of page %s fails its signature check:"
                         " it was written with another secret or changed outside livetemplate;"
                         " it is refused", page_id)
            raise PageNotFound(
                "the stored page is refused: its signature does not match (every worker must"
                " share the same LIVETEMPLATE_SECRET); reload to start a new page"
            )
        try:
            state = pickle.loads(body)
            fmt, template, data, model, errors, created = state
            if fmt != FORMAT:
                raise ValueError(f"record format {fmt}, this version reads {FORMAT}")
        except Exception as exc:
            logger.error("livetemplate: the stored record of page %s cannot be loaded: %r (every"
                         " worker must run the same code: the data model's class must be"
                         " importable under the same name)", page_id, exc)
            raise PageNotFound(
                f"the stored page cannot be loaded by this server ({type(exc).__name__}: {exc});"
                " reload to start a new page"
            ) from None
        return Opened(template, data, model, errors, created), mac


def _culprit(record: PageRecord) -> str:
    """Which value of the record pickle refuses, for the error message."""
    model = record.model
    if model is not None:
        try:
            attrs = dict(vars(model))
        except TypeError:
            attrs = {}
        for name, value in attrs.items():
            if not _picklable(value):
                return (f"attribute {name!r} ({type(value).__name__}) of the data model"
                        f" {_type_name(model)}")
        if not _picklable(model):
            return f"the data model {_type_name(model)}"
    for name, value in record.data.items():
        if not _picklable(value):
            return f"page data {name!r} ({type(value).__name__})"
    return "the page's data"


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return False
    return True


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"
