"""The exceptions of the web layer; each carries a wire ``code`` and a message that says what to do."""

from __future__ import annotations

from collections.abc import Mapping


class LiveTemplateError(Exception):
    """Base of every error raised by ``livetemplate``."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TemplateNotFoundError(LiveTemplateError, FileNotFoundError):
    code = "template_not_found"


class DuplicateTemplateError(LiveTemplateError, ValueError):
    code = "duplicate_template"


class PageLookupError(LiveTemplateError, LookupError):
    """No page for this request or connection; ``code`` says why (missing, bad token, gone)."""

    code = "page_not_found"


class TokenMissing(PageLookupError):
    code = "token_missing"


class TokenInvalid(PageLookupError):
    code = "token_invalid"


class TokenExpired(PageLookupError):
    code = "token_expired"


class TokenOtherPage(PageLookupError):
    code = "token_other_page"


class PageNotFound(PageLookupError):
    code = "page_not_found"


class PageLimitError(LiveTemplateError):
    code = "page_limit"


class RenderError(LiveTemplateError):
    """The page's template raised while rendering its data (a filter or a method failed)."""

    code = "render_failed"


class StoreUnavailable(LiveTemplateError):
    """The shared page store (Redis) cannot be reached; nothing was changed, try again later."""

    code = "store_unavailable"


class PageBusy(LiveTemplateError):
    """Another process held the page's lock for longer than the store waits for it."""

    code = "page_busy"


class PageConflict(LiveTemplateError):
    """A change could not be stored because another process changed the page first."""

    code = "page_conflict"


class UnstorableError(LiveTemplateError, TypeError):
    """A page's data or data model cannot be pickled for a shared store; the message names it."""

    code = "unstorable"


class AsyncRequired(LiveTemplateError, RuntimeError):
    """A sync method was called on an application whose store needs I/O (await the async one)."""

    code = "async_required"


class ClientError(LiveTemplateError):
    """A client message that cannot be handled: bad JSON, unknown action, wrong types, ..."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ValidationError(LiveTemplateError):
    """Raised by an action to reject its input with per-field messages.

    The page re-renders with ``errors`` set to the mapping, and the update's ``meta.errors``
    carries it too, so a form shows its messages next to its fields.
    """

    code = "validation"

    def __init__(self, errors: Mapping[str, str] | None = None, **fields: str) -> None:
        merged = {**(errors or {}), **fields}
        super().__init__("; ".join(f"{k}: {v}" for k, v in merged.items()) or "invalid input")
        self.errors: dict[str, str] = merged
