"""Uploads over the live connection: announcement, chunk frames, checks, hand-over and clean-up."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from livetemplate import Application, ClientError, Limits, Upload, UploadEntry
from livetemplate.uploads import MAX_HEADER, chunk_frame, is_chunk, parse_chunk

TEMPLATE = """<form id="f" lvt-submit="save"><input type="file" lvt-upload="photos"></form>
<p id="error">{{ uploads.photos.error }}</p>
<ul>{% for e in uploads.photos.entries %}<li data-key="{{ e.ref }}">{{ e.name }} {{ e.size }}\
 {{ e.progress }}% {{ e.error }}</li>{% endfor %}</ul>
<ol>{% for f in stored %}<li>{{ f }}</li>{% endfor %}</ol>"""

MB = 1024 * 1024
# Any code point: lone surrogates (JSON carries them, UTF-8 cannot), NUL, astral characters.
any_text = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(
    ["\ud800", "a\udfffb", "\x00", "\U0001f600", "\U0010ffff"])


class Gallery:
    photos = Upload(accept=(".png", ".jpg", "image/webp"), max_entries=3, max_size=5 * MB)

    def __init__(self, keep: Path | None = None) -> None:
        self.stored: list[str] = []
        self._keep = keep
        self._seen: list[UploadEntry] = []

    def save(self, ctx: Any) -> None:
        for entry in ctx.uploaded("photos"):
            self._seen.append(entry)
            assert entry.path.exists()
            if self._keep is not None:
                entry.move_to(self._keep / entry.name)
            self.stored.append(f"{entry.name}:{entry.size}:{entry.read_bytes()[:4]!r}"
                               if self._keep is None else f"{entry.name}:{entry.size}")

    def fail(self, ctx: Any) -> None:
        ctx.uploaded("photos")
        raise RuntimeError("boom")

    def other(self) -> None:
        pass

    async def slow(self, ctx: Any) -> None:
        self.stored.append(str(len(ctx.uploaded("photos"))))
        await asyncio.sleep(60)  # cancelled by Limits.action_timeout


def make_app(tmp_path: Path, **limits: Any) -> tuple[Application, Starlette]:
    live = Application(secret="uploads-test", limits=Limits(check_origin=False, **limits))
    live.uploads = type(live.uploads)(live.limits, tmp_path / "up")
    live.add_template("gallery", TEMPLATE)

    def new_page(ws: Any) -> Any:
        return live.new_page("gallery", Gallery())

    return live, Starlette(routes=live.routes("/ws", new_page=new_page))


@contextmanager
def connect(client: TestClient) -> Iterator[Any]:
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "page_token"
        ws.receive_json()  # the full tree
        yield ws


def announce(ws: Any, *entries: tuple[str, str, int], name: str = "photos") -> dict[str, Any]:
    """Send an upload message; returns meta.upload (after the template's update, if any)."""
    ws.send_json({"type": "upload", "upload": name,
                  "entries": [{"name": n, "type": t, "size": s} for n, t, s in entries]})
    while True:
        msg = ws.receive_json()
        if msg.get("type") == "error":
            return msg
        if "upload" in msg.get("meta", {}):
            return msg["meta"]["upload"]


def send_file(ws: Any, ref: str, data: bytes, chunk: int) -> None:
    for offset in range(0, len(data), chunk):
        ws.send_bytes(chunk_frame(ref, offset, data[offset:offset + chunk]))


def html_of(live: Application) -> str:
    (page,) = list(live.pages)
    return page.html()


def files(live: Application) -> list[Path]:
    return sorted(live.uploads.directory.iterdir())


def test_upload_one_file_progress_then_action_takes_it(tmp_path: Path) -> None:
    live, app = make_app(tmp_path, upload_chunk=1000)
    with TestClient(app) as client:
        with connect(client) as ws:
            info = announce(ws, ("cat.png", "image/png", 2500))
            assert info["error"] == "" and len(info["refs"]) == 1 and info["chunk"] == 1000
            assert "cat.png 2500 0%" in html_of(live)
            data = b"\x89PNG" + bytes(2496)
            ws.send_bytes(chunk_frame(info["refs"][0], 0, data[:1000]))
            update = json.dumps(ws.receive_json()["tree"])  # the minimal diff: the percent
            assert '{"3": "40"}' in update and "cat.png 2500 40%" in html_of(live)
            ws.send_bytes(chunk_frame(info["refs"][0], 1000, data[1000:2000]))
            ws.send_bytes(chunk_frame(info["refs"][0], 2000, data[2000:]))
            ws.receive_json(), ws.receive_json()
            assert "100%" in html_of(live)
            (held,) = files(live)
            assert held.read_bytes() == data
            ws.send_json({"type": "action", "action": "save", "data": {}})
            reply = ws.receive_json()
            assert reply["meta"]["success"]
            html = html_of(live)
            assert "<li>cat.png:2500:b&#39;\\x89PNG&#39;</li>" in html
            assert "100%" not in html  # the entry is handed over: gone from the template
            assert files(live) == [] and live.uploads.pending() == []


def test_three_files_moved_by_the_action_are_kept(tmp_path: Path) -> None:
    live, app = make_app(tmp_path)
    keep = tmp_path / "keep"
    keep.mkdir()
    with TestClient(app) as client:
        with connect(client) as ws:
            (page,) = list(live.pages)
            page.model._keep = keep
            sizes = {"a.png": 10, "b.jpg": 70_000, "c.webp": 0}
            info = announce(ws, *((n, "image/webp" if n.endswith("webp") else "", s)
                                  for n, s in sizes.items()))
            assert len(info["refs"]) == 3
            for (name, size), ref in zip(sizes.items(), info["refs"], strict=True):
                send_file(ws, ref, name.encode()[:1] * size, info["chunk"])
            ws.send_json({"type": "action", "action": "save", "data": {}})
            while "action" not in ws.receive_json().get("meta", {}):
                pass
            assert page.model.stored == ["a.png:10", "b.jpg:70000", "c.webp:0"]
            assert (keep / "b.jpg").read_bytes() == b"b" * 70_000
            assert files(live) == []


@pytest.mark.parametrize("entries, why", [
    ([("notes.txt", "text/plain", 10)], "notes.txt is not an accepted type (accepted: .png,"
                                        " .jpg, image/webp)"),
    ([("big.png", "image/png", 6 * MB)], f"big.png is too large: {6 * MB} bytes, the limit is"
                                         f" {5 * MB} bytes per file"),
    ([(f"{i}.png", "image/png", 1) for i in range(4)], "too many files: 4 chosen, at most 3"
                                                       " per upload"),
])
def test_refusals_store_nothing_and_say_why(tmp_path: Path, entries: list[Any],
                                            why: str) -> None:
    live, app = make_app(tmp_path)
    with TestClient(app) as client:
        with connect(client) as ws:
            info = announce(ws, ("ok.png", "image/png", 1), *entries) if len(entries) == 1 else \
                announce(ws, *entries)
            assert info["refs"] == [] and why in info["error"]
            assert why.replace("(", "").split(":")[0] in html_of(live).replace("(", "")
            assert files(live) == []


def test_disconnect_mid_upload_removes_the_files(tmp_path: Path) -> None:
    live, app = make_app(tmp_path, upload_chunk=100)
    with TestClient(app) as client:
        with connect(client) as ws:
            info = announce(ws, ("a.png", "", 1000), ("b.png", "", 10))
            ws.send_bytes(chunk_frame(info["refs"][0], 0, bytes(100)))
            ws.receive_json()
            assert len(files(live)) == 2
    assert files(live) == [] and live.uploads.pending() == []


def test_action_error_still_removes_taken_files(tmp_path: Path) -> None:
    live, app = make_app(tmp_path)
    with TestClient(app) as client:
        with connect(client) as ws:
            info = announce(ws, ("a.png", "", 3))
            ws.send_bytes(chunk_frame(info["refs"][0], 0, b"abc"))
            ws.receive_json()
            ws.send_json({"type": "action", "action": "fail", "data": {}})
            msg = ws.receive_json()
            while msg.get("type") != "error":
                msg = ws.receive_json()
            assert msg["code"] == "action_failed"
            assert files(live) == []


def test_an_action_timing_out_still_removes_taken_files(tmp_path: Path) -> None:
    live, app = make_app(tmp_path, action_timeout=0.05)
    with TestClient(app) as client:
        with connect(client) as ws:
            info = announce(ws, ("a.png", "", 3))
            ws.send_bytes(chunk_frame(info["refs"][0], 0, b"abc"))
            ws.receive_json()
            ws.send_json({"type": "action", "action": "slow", "data": {}})
            assert error_of(ws)["code"] == "action_timeout"
            (page,) = list(live.pages)
            assert page.model.stored == ["1"] and files(live) == []


def test_an_upload_left_waiting_times_out(tmp_path: Path) -> None:
    live, app = make_app(tmp_path, upload_timeout=0.05)
    with TestClient(app) as client:
        with connect(client) as ws:
            info = announce(ws, ("a.png", "", 3))
            assert len(files(live)) == 1
            update = ws.receive_json()  # the expiry re-renders the page: the entry is gone
            assert "a.png" not in json.dumps(update) and files(live) == []
            ws.send_bytes(chunk_frame(info["refs"][0], 0, b"abc"))
            assert ws.receive_json()["code"] == "unknown_entry"


def test_an_action_not_taking_the_upload_leaves_it(tmp_path: Path) -> None:
    live, app = make_app(tmp_path)
    with TestClient(app) as client:
        with connect(client) as ws:
            info = announce(ws, ("a.png", "", 3))
            ws.send_bytes(chunk_frame(info["refs"][0], 0, b"abc"))
            ws.receive_json()
            ws.send_json({"type": "action", "action": "other", "data": {}})
            ws.receive_json()
            assert len(files(live)) == 1 and "a.png 3 100%" in html_of(live)


# --- bad input: a clear error each, the page untouched -------------------------------------


def error_of(ws: Any) -> dict[str, Any]:
    msg = ws.receive_json()
    while msg.get("type") != "error":
        msg = ws.receive_json()
    return msg


def test_bad_chunk_order_abandons_the_upload(tmp_path: Path) -> None:
    live, app = make_app(tmp_path, upload_chunk=10)
    with TestClient(app) as client:
        with connect(client) as ws:
            before = html_of(live)
            info = announce(ws, ("a.png", "", 30))
            ws.send_bytes(chunk_frame(info["refs"][0], 10, bytes(10)))
            err = error_of(ws)
            assert err["code"] == "chunk_order" and "offset 10" in err["message"]
            assert html_of(live) == before and files(live) == []
            (page,) = list(live.pages)
            assert page.model.stored == []


def test_more_bytes_than_announced_abandon_the_upload(tmp_path: Path) -> None:
    live, app = make_app(tmp_path)
    with TestClient(app) as client:
        with connect(client) as ws:
            before = html_of(live)
            info = announce(ws, ("a.png", "", 5))  # a client that lies about the size
            ws.send_bytes(chunk_frame(info["refs"][0], 0, bytes(6)))
            err = error_of(ws)
            assert err["code"] == "upload_size" and "announced as 5 bytes" in err["message"]
            assert html_of(live) == before and files(live) == []


def test_oversized_chunk_frame_is_refused(tmp_path: Path) -> None:
    live, app = make_app(tmp_path, upload_chunk=10)
    with TestClient(app) as client:
        with connect(client) as ws:
            info = announce(ws, ("a.png", "", 30))
            ws.send_bytes(chunk_frame(info["refs"][0], 0, bytes(11)))
            err = error_of(ws)
            assert err["code"] == "chunk_too_large" and "Limits.upload_chunk" in err["message"]
            assert live.uploads.pending() and "a.png 30 0%" in html_of(live)  # nothing stored


def test_unknown_upload_name_is_refused(tmp_path: Path) -> None:
    live, app = make_app(tmp_path)
    with TestClient(app) as client:
        with connect(client) as ws:
            before = html_of(live)
            err = announce(ws, ("a.png", "", 1), name="videos")
            assert err["code"] == "unknown_upload"
            assert "no upload named 'videos'; its uploads: photos" in err["message"]
            assert html_of(live) == before and files(live) == []


def test_chunks_for_another_page_are_refused(tmp_path: Path) -> None:
    live, app = make_app(tmp_path)
    with TestClient(app) as client:
        with connect(client) as ws, connect(client) as other:
            info = announce(ws, ("a.png", "", 3))
            pages = {p.id: p.html() for p in live.pages}
            other.send_bytes(chunk_frame(info["refs"][0], 0, b"abc"))
            err = error_of(other)
            assert err["code"] == "unknown_entry" and "on this page" in err["message"]
            assert {p.id: p.html() for p in live.pages} == pages
            assert [f.stat().st_size for f in files(live)] == [0]


@pytest.mark.parametrize("message, code, needle", [
    ({"type": "upload", "upload": "photos"}, "bad_upload", "non-empty list"),
    ({"type": "upload", "upload": "photos", "entries": [7]}, "bad_upload", "entry 0"),
    ({"type": "upload", "upload": "photos", "entries": [{"name": "a.png", "size": -1}]},
     "bad_upload", "integer >= 0"),
    ({"type": "upload", "upload": "photos", "entries": [{"name": "a\x00.png", "size": 1}]},
     "bad_upload", "control characters"),
    ({"type": "upload", "upload": "photos", "entries": [{"name": "a\ud800.png", "size": 1}]},
     "bad_upload", "lone surrogates"),
    ({"type": "upload", "upload": "photos", "entries": [{"name": "/", "size": 1}]},
     "bad_upload", "1 to 255"),
    ({"type": "upload", "upload": 3, "entries": []}, "unknown_upload", "named 3"),
])
def test_bad_announcements(tmp_path: Path, message: dict[str, Any], code: str,
                           needle: str) -> None:
    live, app = make_app(tmp_path)
    with TestClient(app) as client:
        with connect(client) as ws:
            before = html_of(live)
            ws.send_text(json.dumps(message))
            err = error_of(ws)
            assert err["code"] == code and needle in err["message"], err
            assert html_of(live) == before and files(live) == []


def test_a_new_announcement_replaces_a_refused_one(tmp_path: Path) -> None:
    live, app = make_app(tmp_path)
    with TestClient(app) as client:
        with connect(client) as ws:
            assert announce(ws, ("a.txt", "", 1))["refs"] == []
            assert "a.txt" in html_of(live) and "not an accepted type" in html_of(live)
            info = announce(ws, ("b.png", "", 2))
            assert "a.txt" not in html_of(live) and "b.png 2 0%" in html_of(live)
            ws.send_bytes(chunk_frame(info["refs"][0], 0, b"xy"))
            assert "100" in json.dumps(ws.receive_json()["tree"])
            info = announce(ws, ("c.png", "", 2))  # complete but not taken: replaced too
            assert "b.png" not in html_of(live) and len(files(live)) == 1


def test_a_name_is_a_file_name_never_a_path(tmp_path: Path) -> None:
    live, app = make_app(tmp_path)
    with TestClient(app) as client:
        with connect(client) as ws:
            info = announce(ws, ("../../etc/x.png", "", 1))
            assert info["refs"] and "x.png 1 0%" in html_of(live) and "etc" not in html_of(live)


frames = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda n, rest: n.to_bytes(2, "big") + rest,
              st.integers(0, MAX_HEADER + 2), st.binary(max_size=40)),
    st.builds(lambda ref, off, data: chunk_frame(ref, off, data), any_text,
              st.integers(-(2 ** 63), 2 ** 63), st.binary(max_size=20)),
    st.builds(lambda header: len(header).to_bytes(2, "big") + header,
              st.recursive(st.none() | st.integers() | any_text,
                           lambda c: st.lists(c) | st.dictionaries(any_text, c),
                           max_leaves=5).map(lambda v: json.dumps(v).encode())),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture],
          deadline=None)
@given(frame=frames)
def test_fuzzed_chunk_frames_get_a_clear_error(tmp_path: Path, frame: bytes) -> None:
    live, app = make_app(tmp_path)
    (ws_page,) = [live.new_page("gallery", Gallery())]
    before = ws_page.html()
    try:
        live.uploads.receive(ws_page, b"\x00" + frame[1:] if frame else b"\x00", None)
    except Exception as exc:  # noqa: BLE001 - the kind is what is checked
        assert getattr(exc, "code", None) in {"bad_chunk", "unknown_entry", "chunk_too_large"}, exc
        assert exc.args[0]
    else:
        raise AssertionError("a fuzzed frame was accepted")
    assert ws_page.html() == before and live.uploads.pending() == []


def test_chunk_frames_are_told_from_json() -> None:
    assert is_chunk(chunk_frame("r", 0, b"x"))
    for text in (b'{"type":"action"}', b' {"a":1}', b"\t{}", b"\n{}", b"\r{}", b"\xef\xbb\xbf{}"):
        assert not is_chunk(text)
    ref, offset, data = parse_chunk(chunk_frame("r\u00e9", 7, b"xyz"), 10)
    assert (ref, offset, bytes(data)) == ("r\u00e9", 7, b"xyz")


def test_declaration_is_checked() -> None:
    with pytest.raises(TypeError, match="tuple of extensions"):
        Upload(accept=".png")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tuple of extensions"):
        Upload(accept=("png",))
    with pytest.raises(ValueError, match="max_entries"):
        Upload(max_entries=0)
    with pytest.raises(ValueError, match="max_size"):
        Upload(max_size=True)
    assert Upload(accept=("image/*",)).accepts("x", "IMAGE/PNG")
    assert not Upload(accept=("image/*",)).accepts("x.png", "text/plain")
    assert Upload(accept=(".PNG",)).accepts("a.b.png", "")
    assert not Upload(accept=(".png",)).accepts(".png", "")  # a hidden file, no extension
    assert Upload().accepts("anything", "")


def test_undeclared_name_in_an_action_is_a_key_error(tmp_path: Path) -> None:
    live, _ = make_app(tmp_path)
    page = live.new_page("gallery", Gallery())
    with pytest.raises(KeyError, match="declares no upload 'videos'; its uploads: photos"):
        live.uploads.take(page, "videos")


# --- the HTTP fallback: the same messages over POST ----------------------------------------


def test_http_fallback_uploads_over_post(tmp_path: Path) -> None:
    live, app = make_app(tmp_path, upload_chunk=4)
    page = live.new_page("gallery", Gallery())
    token = page.get_token()
    with TestClient(app) as client:
        headers = {"X-LiveTemplate-Token": token}
        reply = client.post("/ws", headers=headers, json={
            "type": "upload", "upload": "photos",
            "entries": [{"name": "a.png", "type": "image/png", "size": 6}]}).json()
        (ref,) = reply["meta"]["upload"]["refs"]
        for offset, data in ((0, b"abcd"), (4, b"ef")):
            r = client.post("/ws", content=chunk_frame(ref, offset, data),
                            headers={**headers, "Content-Type": "application/octet-stream"})
            assert r.status_code == 200 and "tree" in r.json()
        r = client.post("/ws", content=chunk_frame(ref, 0, bytes(5)),
                        headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 403 and r.json()["code"] == "token_missing"
        r = client.post("/ws", content=bytes(4 + 2 + MAX_HEADER + 1), headers={
            **headers, "Content-Type": "application/octet-stream"})
        assert r.status_code == 413 and r.json()["code"] == "chunk_too_large"
        reply = client.post("/ws", headers=headers,
                            json={"type": "action", "action": "save"}).json()
        assert reply["meta"]["success"]
        r = client.post("/ws", content=chunk_frame(ref, 6, b"x"),
                        headers={**headers, "Content-Type": "application/octet-stream"})
        assert r.status_code == 400 and r.json()["code"] == "unknown_entry"  # taken: gone
    assert page.model.stored == ["a.png:6:b'abcd'"] and files(live) == []


def test_memory_stays_bounded_for_a_large_upload(tmp_path: Path) -> None:
    """100 MB through one connection: the process never holds more than a few chunks."""
    live, app = make_app(tmp_path, upload_chunk=1024 * 1024)
    class Big(Gallery):
        photos = Upload(max_size=100 * MB)

    live.add_template("big", TEMPLATE)
    size = 100 * MB
    block = bytes(1024 * 1024)
    with TestClient(app) as client:
        page = live.new_page("big", Big())
        token = page.get_token()
        with client.websocket_connect("/ws", subprotocols=[
                "livetemplate", f"livetemplate.token.{token}"]) as ws:
            ws.receive_json()
            ws.send_json({"type": "upload", "upload": "photos",
                          "entries": [{"name": "big.bin", "size": size}]})
            while "upload" not in (msg := ws.receive_json()).get("meta", {}):
                pass
            (ref,) = msg["meta"]["upload"]["refs"]
            tracemalloc.start()
            try:
                for offset in range(0, size, len(block)):
                    ws.send_bytes(chunk_frame(ref, offset, block))
                    ws.receive_json()  # each MB is one percent: one update
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert (live.uploads.directory / files(live)[0].name).stat().st_size == size
            assert peak < 6 * MB, peak  # measured: ~2 MB (the test client holds chunks too)
            ws.send_json({"type": "action", "action": "save", "data": {}})
            while "action" not in ws.receive_json().get("meta", {}):
                pass
    assert page.model.stored[0].startswith("big.bin:104857600") and files(live) == []


# --- a shared store (Redis): the upload finishes on the worker that received it -------------


class Tab:
    """A connection that keeps what it is sent."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def deliver(self, text: str) -> None:
        self.messages.append(json.loads(text))


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.redis_server import redis_server

    yield from redis_server(tmp_path_factory.mktemp("redis"))


def test_upload_on_a_shared_store_finishes_on_its_worker(redis: Any, tmp_path: Path) -> None:
    from livetemplate import RedisStore
    from tests.redis_server import free_port

    prefix = f"t{free_port()}:"

    def worker(folder: str) -> Application:
        live = Application(secret="shared", store=RedisStore(redis.url, prefix=prefix),
                           limits=Limits(check_origin=False))
        live.uploads = type(live.uploads)(live.limits, tmp_path / folder)
        live.add_template("gallery", TEMPLATE)
        return live

    async def main() -> None:
        a, b = worker("a"), worker("b")
        try:
            page = a.new_page("gallery", Gallery())
            await page.flush()
            there = await b.load_page(page.token)
            tab, other = Tab(), Tab()
            await page.connect(tab)
            await there.connect(other)
            reply = await a.handle_action(page, json.dumps({
                "type": "upload", "upload": "photos",
                "entries": [{"name": "a.png", "type": "", "size": 4}]}), origin=tab)
            (ref,) = reply["meta"]["upload"]["refs"]
            with pytest.raises(ClientError, match="no upload entry"):  # not on another worker
                b.uploads.receive(there, chunk_frame(ref, 0, b"abcd"), other)
            stored = page._stored.version
            a.uploads.receive(page, chunk_frame(ref, 0, b"abcd"), tab)
            assert "a.png 4 100%" in page.html() and "a.png" not in there.html()
            assert "100" in json.dumps(tab.messages[-1]["tree"])  # progress, sent here
            assert not page._stored.dirty  # and not stored
            assert page._stored.saving is None or page._stored.saving.done()
            assert page._stored.version == stored
            reply = await a.handle_action(page, json.dumps(
                {"type": "action", "action": "save"}), origin=tab)
            assert reply["meta"]["success"] and files(a) == []
            # the stored result reaches the other worker's copy and its connection
            deadline = asyncio.get_running_loop().time() + 5
            while "a.png:4" not in there.html():
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)
            assert any("a.png:4" in json.dumps(m) for m in other.messages)
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_refused_chunks_count_against_the_rate_good_ones_do_not(tmp_path: Path) -> None:
    live, app = make_app(tmp_path, rate=0.001, burst=2, upload_chunk=1)
    with TestClient(app) as client:
        with connect(client) as ws:  # the announcement takes one token of two
            info = announce(ws, ("a.png", "", 5))
            for offset in range(5):  # five good chunks: more than the burst, all stored
                ws.send_bytes(chunk_frame(info["refs"][0], offset, b"x"))
                ws.receive_json()
            assert "a.png 5 100%" in html_of(live)
            ws.send_bytes(chunk_frame("nope", 0, b"x"))
            assert ws.receive_json()["code"] == "unknown_entry"
            ws.send_bytes(chunk_frame("nope", 0, b"x"))
            assert ws.receive_json()["code"] == "rate_limited"


def test_the_client_speaks_these_names() -> None:
    from livetemplate import protocol
    from livetemplate.endpoints import CHUNK_TYPE, CLIENT_FILE
    from livetemplate.uploads import CHUNK_NAME, REFS_NAME, UPLOAD_META

    source = CLIENT_FILE.read_text()
    assert f"type: '{protocol.TYPE_UPLOAD}', upload: name, entries:" in source
    assert f"meta.{UPLOAD_META}," in source
    assert f"info.{REFS_NAME}[n]" in source and f"info.{CHUNK_NAME}" in source
    assert f"'{CHUNK_TYPE}'" in source
    assert "head.length >> 8, head.length & 255" in source  # the 2-byte big-endian length


def test_close_removes_unfinished_uploads_and_the_folder(tmp_path: Path) -> None:
    live = Application(secret="uploads-test")
    live.add_template("gallery", TEMPLATE)
    page = live.new_page("gallery", Gallery())
    info = live.uploads.announce(page, {"upload": "photos",
                                        "entries": [{"name": "a.png", "size": 3}]}, None)
    live.uploads.receive(page, chunk_frame(info["meta"]["upload"]["refs"][0], 0, b"ab"), None)
    folder = live.uploads.directory
    assert folder.name.startswith("livetemplate-uploads-") and len(list(folder.iterdir())) == 1
    asyncio.run(live.close())
    assert not folder.exists() and live.uploads.pending() == []
    assert live.uploads.view(page)["photos"]["entries"] == []  # shutting down: not re-rendered


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=10)
entries_st = st.lists(st.fixed_dictionaries({}, optional={
    "name": any_text | json_values, "type": any_text | json_values,
    "size": st.integers(-(2 ** 64), 2 ** 64) | json_values}) | json_values, max_size=5)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture],
          deadline=None)
@given(name=st.sampled_from(["photos", "videos"]) | json_values, entries=entries_st | json_values)
def test_fuzzed_announcements_get_a_clear_answer(tmp_path: Path, name: Any,
                                                 entries: Any) -> None:
    live, _ = make_app(tmp_path)
    page = live.new_page("gallery", Gallery())
    before = page.html()
    message = json.dumps({"type": "upload", "upload": name, "entries": entries})
    reply = asyncio.run(live.handle_action(page, message))
    if reply.get("type") == "error":
        assert reply["code"] in {"unknown_upload", "bad_upload", "bad_json"}, reply
        assert reply["message"] and page.html() == before and live.uploads.pending() == []
    else:
        info = reply["meta"]["upload"]
        assert bool(info["refs"]) != bool(info["error"])
        assert len(live.uploads.pending()) == len(info["refs"]) <= 3
        page.html().encode()  # whatever the names, the page stays valid UTF-8
