"""The registry of the pages live in one process: lookup by id, the page limit, which pages are
idle, which have connections.

Live means mounted here: a page's record may be in a store (in this process or shared by
several), but its mounted tree and its connections are in one process, in this registry.
``Application`` makes and looks up pages through it; on a shared store (Redis) the notices of
other processes' changes are routed to the page found here, and the pages with connections are
the ones kept alive in the store. ``Limits.max_pages`` bounds its size, whatever the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .errors import PageLimitError
from .page import Page


class LivePages:
    __slots__ = ("_pages",)

    def __init__(self) -> None:
        self._pages: dict[str, Page] = {}

    def get(self, page_id: str) -> Page | None:
        return self._pages.get(page_id)

    def add(self, page: Page) -> None:
        self._pages[page.id] = page

    def drop(self, page_id: str) -> Page | None:
        return self._pages.pop(page_id, None)

    def clear(self) -> None:
        self._pages.clear()

    def __len__(self) -> int:
        return len(self._pages)

    def __iter__(self) -> Iterator[Page]:
        return iter(list(self._pages.values()))  # a copy: callers may add or drop pages

    def connected(self) -> list[Page]:
        """The pages with open connections (never idle)."""
        return [page for page in self._pages.values() if page.connections]

    def of_template(self, name: str) -> list[Page]:
        return [page for page in self._pages.values() if page.template_name == name]

    def make_room(self, max_pages: int, expire: Callable[[], object]) -> None:
        """Raise :class:`PageLimitError` when ``max_pages`` pages are live, after ``expire``
        (dropping the idle ones) was tried."""
        if len(self._pages) >= max_pages:
            expire()
            if len(self._pages) >= max_pages:
                raise PageLimitError(
                    f"{len(self._pages)} pages live in this process: the limit"
                    " (Limits.max_pages) is reached; try again later, or raise max_pages /"
                    " lower page_ttl"
                )
