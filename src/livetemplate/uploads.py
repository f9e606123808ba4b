"""Uploads: files sent over the live connection in chunks, checked against what the page allows.

A data model declares each upload as a class attribute, ``photos = Upload(accept=(".png",),
max_entries=3, max_size=5 * 1024 * 1024)``; its template reads ``uploads.photos`` (entries with
their progress and errors, the upload's error). The flow (``docs/protocol.md``, "Uploads"):

1. The client announces the files: ``{"type": "upload", "upload": "photos", "entries": [{"name",
   "type", "size"}, …]}``. The server checks every name, type and size and the count against the
   declaration before a byte is stored — a client can lie about all of them, so the sizes are
   checked again as bytes arrive. A refusal refuses the whole announcement and is template data;
   an acceptance gives each entry a ``ref``. Either way the client gets ``meta.upload``.
2. The client sends each accepted entry's bytes as chunk frames (binary WebSocket frames, or POST
   bodies): ``[2-byte big-endian header length][JSON header {"ref", "offset"}][bytes]``. Each
   chunk is appended to the entry's temporary file at once, so a worker holds one chunk at a time
   whatever the file's size. The entry's progress (percent) is template data.
3. An action takes the completed entries: ``ctx.uploaded("photos")``. Their temporary files are
   removed when that action is over, whatever happened in it; an upload never taken is removed
   when its connection closes, or ``Limits.upload_timeout`` seconds after its last chunk.

Upload state lives in the process that received the announcement (with Redis too: the chunks of an
upload go to the worker holding its connection); a page's template sees it only there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import protocol
from .errors import ClientError, RenderError

if TYPE_CHECKING:
    from .connection import Connection
    from .limits import Limits
    from .page import Page

logger = logging.getLogger("livetemplate")

UPLOADS_NAME = "uploads"  # the template name under which a page's uploads are shown
MAX_HEADER = 1024  # bytes of a chunk frame's JSON header
MAX_NAME = 255  # characters of a file name
MAX_TYPE = 255  # characters of a declared content type
# the answer to an announcement: meta["upload"] = {"name", "refs", "error", "chunk"}
UPLOAD_META, REFS_NAME, CHUNK_NAME = "upload", "refs", "chunk"
_CONTROL = re.compile("[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Upload:
    """What a page accepts under one upload name; declared as a class attribute of the model.

    ``accept``: extensions (``".png"``) and content types (``"image/png"``, ``"image/*"``); an
    entry passes when its name's extension or its declared type matches one (empty: any file).
    ``max_entries``: files per upload; ``max_size``: bytes per file.
    """

    accept: tuple[str, ...] = ()
    max_entries: int = 1
    max_size: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        if isinstance(self.accept, str) or not all(
                isinstance(a, str) and (a.startswith(".") or "/" in a) for a in self.accept):
            raise TypeError("Upload(accept=...) is a tuple of extensions ('.png') and content"
                            f" types ('image/png', 'image/*'), not {self.accept!r}")
        object.__setattr__(self, "accept", tuple(a.lower() for a in self.accept))
        for name in ("max_entries", "max_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Upload({name}=...) must be a positive integer, not {value!r}")

    def refusal(self, name: str, content_type: str, size: int) -> str | None:
        """Why this entry is refused (its type, its size), or ``None``."""
        if not self.accepts(name, content_type):
            return f"{name} is not an accepted type (accepted: {', '.join(self.accept)})"
        if size > self.max_size:
            return (f"{name} is too large: {size} bytes, the limit is {self.max_size} bytes"
                    " per file")
        return None

    def accepts(self, name: str, content_type: str) -> bool:
        if not self.accept:
            return True
        dot = name.rfind(".")
        ext = name[dot:].lower() if dot > 0 else ""
        kind = content_type.lower()
        for rule in self.accept:
            if rule.startswith("."):
                if rule == ext:
                    return True
            elif rule == kind or (rule.endswith("/*") and kind.startswith(rule[:-1])):
                return True
        return False


@dataclass(frozen=True)
class UploadEntry:
    """One completed file, as an action receives it: move it away or read it during the action;
    its temporary file is removed when the action is over. ``content_type`` is what the client
    declared (unchecked beyond ``accept``); ``name`` is its file name without folders."""

    name: str
    content_type: str
    size: int
    path: Path

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def move_to(self, destination: str | os.PathLike[str]) -> Path:
        """Move the file to ``destination`` (a file path) and return it: kept after the action."""
        return Path(shutil.move(os.fspath(self.path), os.fspath(destination)))


class _Entry:
    __slots__ = ("ref", "name", "content_type", "size", "received", "path", "error")

    def __init__(self, name: str, content_type: str, size: int, error: str | None) -> None:
        self.ref = secrets.token_urlsafe(12)  # a refused entry's too: a key for the template
        self.name = name
        self.content_type = content_type
        self.size = size
        self.received = 0
        self.path: Path | None = None
        self.error = error

    @property
    def progress(self) -> int:
        return 100 if self.size == 0 else self.received * 100 // self.size

    def view(self) -> dict[str, Any]:
        return {"ref": self.ref, "name": self.name, "type": self.content_type, "size": self.size,
                "progress": self.progress, "done": self.received == self.size,
                "error": self.error or ""}


class _Session:
    """One announcement: its entries, the connection that sends them, its expiry timer."""

    __slots__ = ("page", "name", "owner", "entries", "error", "timer")

    def __init__(self, page: Page, name: str, owner: Connection | None,
                 entries: list[_Entry], error: str) -> None:
        self.page = page
        self.name = name
        self.owner = owner
        self.entries = entries
        self.error = error
        self.timer: asyncio.TimerHandle | None = None

    @property
    def complete(self) -> bool:
        return not self.error and all(e.received == e.size for e in self.entries)

    def view(self, upload: Upload) -> dict[str, Any]:
        return {**_empty_view(upload), "entries": [e.view() for e in self.entries],
                "error": self.error}


def _empty_view(upload: Upload) -> dict[str, Any]:
    return {"accept": ",".join(upload.accept), "max_entries": upload.max_entries,
            "max_size": upload.max_size, "entries": [], "error": ""}


_DECLARED: dict[type, dict[str, Upload]] = {}


def declared_uploads(model: Any) -> dict[str, Upload]:
    """The uploads a data model declares: its class attributes that are :class:`Upload`."""
    if model is None:
        return {}
    cls = type(model)
    found = _DECLARED.get(cls)
    if found is None:
        found = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Upload) and not name.startswith("_"):
                    found[name] = value
        _DECLARED[cls] = found
    return found


def is_chunk(frame: bytes) -> bool:
    """Whether a binary frame is a chunk: its header length's first byte (a header is at most
    ``MAX_HEADER`` bytes) is below any byte a JSON text starts with (whitespace, ``{``, BOM)."""
    return len(frame) > 0 and frame[0] < 0x09


def chunk_frame(ref: str, offset: int, data: bytes) -> bytes:
    """A chunk frame as the client builds it (tests and Python clients)."""
    header = json.dumps({"ref": ref, "offset": offset}).encode()
    return len(header).to_bytes(2, "big") + header + data


def parse_chunk(frame: bytes, limit: int) -> tuple[str, int, memoryview]:
    """``(ref, offset, data)`` of a chunk frame; :class:`ClientError` saying what is wrong."""
    size = int.from_bytes(frame[:2], "big") if len(frame) >= 2 else 0
    if not 0 < size <= MAX_HEADER or len(frame) < 2 + size:
        raise ClientError("bad_chunk", "a chunk frame is [2-byte header length][JSON header,"
                                       f" at most {MAX_HEADER} bytes][bytes]; this one is not")
    try:
        header = json.loads(frame[2:2 + size])
    except (ValueError, UnicodeDecodeError, RecursionError):
        header = None
    ref = header.get("ref") if isinstance(header, dict) else None
    offset = header.get("offset") if isinstance(header, dict) else None
    if not isinstance(ref, str) or not isinstance(offset, int) or isinstance(offset, bool) \
            or offset < 0:
        raise ClientError("bad_chunk", 'a chunk\'s header is a JSON object {"ref": string,'
                                       ' "offset": integer >= 0}; this one is not')
    data = memoryview(frame)[2 + size:]
    if len(data) > limit:
        raise ClientError("chunk_too_large", f"a chunk of {len(data)} bytes is more than the"
                                             f" limit of {limit} (Limits.upload_chunk)")
    return ref, offset, data


class Uploads:
    """The uploads of one application's pages in this process (``app.uploads``)."""

    def __init__(self, limits: Limits, directory: str | os.PathLike[str] | None = None) -> None:
        self.limits = limits
        self._directory = Path(directory) if directory is not None else None
        self._sessions: dict[str, dict[str, _Session]] = {}  # page id -> upload name -> session
        self._refs: dict[str, tuple[_Session, _Entry]] = {}
        self._taken: dict[str, list[Path]] = {}  # page id -> files of taken entries
        self._made = directory is None  # a temporary folder of its own, removed by close()

    @property
    def directory(self) -> Path:
        """Where temporary files are written (made on first use unless given)."""
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="livetemplate-uploads-"))
        self._directory.mkdir(parents=True, exist_ok=True)
        return self._directory

    # --- what templates see -------------------------------------------------------------------

    def view(self, page: Page) -> dict[str, Any] | None:
        """``uploads`` of the page's template, or ``None`` when its model declares none."""
        declared = declared_uploads(page.record.model)  # (cached per class: every render)
        if not declared:
            return None
        sessions = self._sessions.get(page.id) or {}
        return {name: sessions[name].view(upload) if name in sessions else _empty_view(upload)
                for name, upload in declared.items()}

    # --- announcements ------------------------------------------------------------------------

    def announce(self, page: Page, message: Mapping[str, Any],
                 origin: Connection | None) -> dict[str, Any]:
        """Check an upload message; keep its session (accepted or refused) for the template;
        send ``{"tree": {}, "meta": {"upload": …}}`` to ``origin`` and return it."""
        declared = declared_uploads(page.model)
        name = message.get("upload")
        if not isinstance(name, str) or name not in declared:
            known = ", ".join(sorted(declared)) or "none: declare one on the data model"
            raise ClientError("unknown_upload", f"page {page.template_name!r} has no upload"
                                                f" named {_shown(name)}; its uploads: {known}")
        upload = declared[name]
        raw = message.get("entries")
        if not isinstance(raw, list) or not raw:
            raise ClientError("bad_upload", '"entries" must be a non-empty list of {"name",'
                                            ' "type", "size"} objects')
        old = (self._sessions.get(page.id) or {}).get(name)
        if old is not None and old.owner is not None and old.owner is not origin \
                and not old.complete and not old.error:
            raise ClientError("upload_busy", f"another connection is uploading {name!r} to this"
                                             " page; try again when it is done")
        if len(raw) > upload.max_entries:
            # the entries are not even read: the count alone refuses them
            entries: list[_Entry] = []
            error = f"too many files: {len(raw)} chosen, at most {upload.max_entries} per upload"
        else:
            entries = [_entry(upload, i, item) for i, item in enumerate(raw)]
            error = "; ".join(e.error for e in entries if e.error)
        if old is not None:
            self._end(old)  # replaced: its files go (it may drop the page's entry in _sessions)
        session = _Session(page, name, origin, entries, error)
        self._sessions.setdefault(page.id, {})[name] = session
        refs: list[str] = []
        if not error:
            directory = self.directory
            for entry in entries:
                fd, path = tempfile.mkstemp(dir=directory, prefix="upload-")
                os.close(fd)
                entry.path = Path(path)
                self._refs[entry.ref] = (session, entry)
                refs.append(entry.ref)
        self._arm(session)
        _show(page)
        info: dict[str, Any] = {"name": name, REFS_NAME: refs, "error": error,
                                CHUNK_NAME: self.limits.upload_chunk}
        reply = protocol.tree_message({}, {UPLOAD_META: info})
        if origin is not None:  # after the update: the client reads the template's state first
            origin.deliver(protocol.dumps(reply))
        return reply

    # --- chunks -------------------------------------------------------------------------------

    def receive(self, page: Page, frame: bytes, origin: Connection | None) -> None:
        """Append one chunk frame to its entry's file; raise :class:`ClientError` for a bad one.

        A malformed frame or one for an entry this page (or connection) does not have touches
        nothing; a chunk out of order or past the declared size abandons its upload (the
        temporary files are removed) — the page's data is never touched."""
        ref, offset, data = parse_chunk(frame, self.limits.upload_chunk)
        found = self._refs.get(ref)
        if found is None or found[0].page.id != page.id or \
                (found[0].owner is not None and found[0].owner is not origin):
            raise ClientError("unknown_entry", f"no upload entry {_shown(ref)} on this page"
                              " from this connection (refs come from the reply to its"
                              ' "upload" message; an abandoned upload\'s refs are gone)')
        session, entry = found
        if offset != entry.received:
            self._abandon(session)
            raise ClientError("chunk_order", f"chunk at offset {offset} of {entry.name!r}, but"
                              f" {entry.received} bytes came so far: send chunks in order;"
                              " the upload was abandoned")
        if entry.received + len(data) > entry.size:
            self._abandon(session)
            raise ClientError("upload_size", f"{entry.name!r} was announced as {entry.size}"
                              f" bytes but more came; the upload was abandoned")
        before = entry.progress
        assert entry.path is not None
        with open(entry.path, "ab") as file:
            file.write(data)
        entry.received += len(data)
        self._arm(session)
        if entry.progress != before:
            _show(page)

    # --- actions ------------------------------------------------------------------------------

    def take(self, page: Page, name: str) -> list[UploadEntry]:
        """The completed entries of upload ``name`` of ``page`` (``ctx.uploaded``), handed over:
        the template no longer shows them, and their files go when the action is over."""
        if name not in declared_uploads(page.model):
            known = ", ".join(sorted(declared_uploads(page.model))) or "none"
            raise KeyError(f"page {page.template_name!r} declares no upload {name!r}; its"
                           f" uploads: {known}")
        session = (self._sessions.get(page.id) or {}).get(name)
        if session is None or not session.complete:
            return []
        self._forget(session)
        taken = self._taken.setdefault(page.id, [])
        done = []
        for entry in session.entries:
            assert entry.path is not None
            taken.append(entry.path)
            done.append(UploadEntry(entry.name, entry.content_type, entry.size, entry.path))
        return done

    def release(self, page: Page) -> None:
        """After an action of ``page``: remove the files it took and did not move."""
        if not self._taken:  # (after every action: most took no file)
            return
        paths = self._taken.pop(page.id, None)
        if paths:
            for path in paths:
                _remove(path)

    # --- ends ---------------------------------------------------------------------------------

    def disconnected(self, connection: Connection) -> None:
        """A connection closed: abandon the uploads it was sending."""
        owned = [s for sessions in self._sessions.values() for s in sessions.values()
                 if s.owner is connection]
        for session in owned:
            self._abandon(session, update=False)
        for page in {id(s.page): s.page for s in owned}.values():
            _show(page)  # also without connections: the next one gets the mount's tree

    def close(self) -> None:
        """Shutting down: abandon every upload (files removed), and the folder if made here."""
        for sessions in list(self._sessions.values()):
            for session in list(sessions.values()):
                self._end(session)
        for paths in self._taken.values():
            for path in paths:
                _remove(path)
        self._taken.clear()
        if self._made and self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def pending(self) -> list[Path]:
        """The temporary files held now (tests, monitoring)."""
        held = [e.path for s, e in self._refs.values() if e.path is not None]
        return held + [p for paths in self._taken.values() for p in paths]

    def _arm(self, session: _Session) -> None:
        timeout = self.limits.upload_timeout
        if timeout is None:
            return
        if session.timer is not None:
            session.timer.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # sync code (tests driving a page directly): no timer
            return
        session.timer = loop.call_later(timeout, self._expire, session)

    def _expire(self, session: _Session) -> None:
        session.timer = None
        if self._sessions.get(session.page.id, {}).get(session.name) is session:
            logger.info("livetemplate: upload %r of page %s abandoned after %g s without a chunk"
                        " (Limits.upload_timeout)", session.name, session.page.id,
                        self.limits.upload_timeout)
            self._abandon(session)

    def _abandon(self, session: _Session, update: bool = True) -> None:
        self._forget(session)
        self._end(session)
        if update:
            _show(session.page)

    def _forget(self, session: _Session) -> None:
        """Out of the template and the ref table (its files stay until ``_end``/``release``)."""
        sessions = self._sessions.get(session.page.id)
        if sessions is not None and sessions.get(session.name) is session:
            del sessions[session.name]
            if not sessions:
                del self._sessions[session.page.id]
        for entry in session.entries:
            self._refs.pop(entry.ref, None)
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None

    def _end(self, session: _Session) -> None:
        self._forget(session)
        for entry in session.entries:
            if entry.path is not None:
                _remove(entry.path)
                entry.path = None


def _entry(upload: Upload, index: int, item: Any) -> _Entry:
    if not isinstance(item, dict):
        raise ClientError("bad_upload", f"entry {index} must be an object with \"name\","
                                        " \"type\" and \"size\"")
    name, kind, size = item.get("name"), item.get("type", ""), item.get("size")
    if not isinstance(name, str) or not isinstance(kind, str) or len(kind) > MAX_TYPE:
        raise ClientError("bad_upload", f"entry {index}: \"name\" must be a string and \"type\""
                                        f" a string of at most {MAX_TYPE} characters")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ClientError("bad_upload", f"entry {index}: \"size\" must be an integer >= 0")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # a file name, never a path
    if not name or len(name) > MAX_NAME or _CONTROL.search(name) or _CONTROL.search(kind) \
            or protocol.unencodable(name) or protocol.unencodable(kind):
        raise ClientError("bad_upload", f"entry {index}: a file name is 1 to {MAX_NAME}"
                                        " characters without control characters or lone"
                                        " surrogates, and so is its type")
    return _Entry(name, kind, size, upload.refusal(name, kind, size))


def _show(page: Page) -> None:
    """Re-render the page's upload state for its connections here (nothing to store); a
    template that fails is logged by the page and keeps its last good view."""
    try:
        page.render_local()
    except RenderError:
        pass


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:  # moved away by the action
        pass
    except OSError:
        logger.warning("livetemplate: could not remove the upload file %s", path, exc_info=True)
