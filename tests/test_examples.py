"""The examples run as documented: page at ``/``, WebSocket at ``/ws``, the ids outside checks use."""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest
from starlette.testclient import TestClient

os.environ.setdefault("LIVETEMPLATE_SECRET", "examples-under-test")


def client_for(name: str) -> TestClient:
    module = importlib.import_module(f"examples.{name}.app")
    return TestClient(module.app)


def act(ws: Any, name: str, **data: Any) -> dict[str, Any]:
    ws.send_json({"type": "action", "action": name, "data": data})
    return ws.receive_json()


def token_of(html: str) -> str:
    return html.split('name="livetemplate-token" content="')[1].split('"')[0]


def offer(token: str) -> list[str]:
    """The subprotocols the shipped client offers: its page token travels there, not in URLs."""
    return ["livetemplate", f"livetemplate.token.{token}"]


def test_counter_pattern1() -> None:
    with client_for("counter") as client:
        html = client.get("/").text
        for needle in ('<span id="count">0</span>', '<button id="inc" lvt-click="increment">',
                       '<button id="dec" lvt-click="decrement">', "livetemplate-client.js"):
            assert needle in html
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_json()["type"] == "page_token"
            ws.receive_json()
            assert act(ws, "increment")["tree"]
            update = act(ws, "increment")
            assert "2" in update["tree"].values()
            act(ws, "decrement")
            act(ws, "decrement")
            assert "Below zero" in str(act(ws, "decrement")["tree"])


def test_dashboard_pattern2_shared_page() -> None:
    with client_for("dashboard") as client:
        html = client.get("/").text
        token = token_of(html)
        for needle in ('id="count"', 'id="inc"', 'id="dec"', 'id="events"', "cache_token="):
            assert needle in html
        assert token_of(client.get("/").text) != token  # fresh token, same page (cookie)
        with client.websocket_connect("/ws", subprotocols=offer(token)) as tab, \
                client.websocket_connect(f"/ws?cache_token={token}") as device:
            tab.receive_json(), device.receive_json()
            update = act(tab, "increment")
            assert device.receive_json() == {"tree": update["tree"], "meta": {}}
            assert act(device, "add_note", text="")["meta"]["errors"] == {
                "text": "Write something first."}
            tab.receive_json()
            act(device, "add_note", text="hello <world>")
            tab.receive_json()
        page_html = client.get(f"/?cache_token={token}").text
        assert '<span id="count">1</span>' in page_html
        assert "count went up to 1</li>" in page_html and "hello &lt;world&gt;" in page_html


def test_todo_add_toggle_delete_filter() -> None:
    with client_for("todo") as client:
        token = token_of(client.get("/").text)
        with client.websocket_connect("/ws", subprotocols=offer(token)) as ws:
            ws.receive_json()
            act(ws, "add", title="milk")
            act(ws, "add", title="eggs")
            assert act(ws, "add", title="  ")["meta"]["errors"] == {"title": "A todo needs a title."}
            act(ws, "toggle", id="1")
            ws.send_json({"type": "params", "url": "/?filter=active"})  # what a filter link sends
            assert ws.receive_json()["meta"]["action"] == "handle_params"
            assert act(ws, "delete", id=2)["meta"]["success"]
            assert act(ws, "toggle", id=99)["meta"]["errors"]["id"].startswith("No todo #99")
            assert act(ws, "show", filter="all")["code"] == "unknown_action"  # links, not actions
        html = client.get("/?filter=active", headers={"X-LiveTemplate-Token": token}).text
        assert 'data-key="1"' not in html and "0 left" in html
        assert 'id="filter-active" href="?filter=active" lvt-patch aria-current="page"' in html
        assert 'data-key="1"' in client.get("/").text  # no ?filter=: all of them
        assert 'data-key="1"' in client.get("/?filter=done").text
        assert 'data-key="1"' not in client.get("/?filter=active").text
        bad = client.get("/?filter=nope").text
        assert 'class="flash error" role="status">There is no filter' in bad
        assert 'aria-current="page" class="selected">all' in bad
        assert "flash" not in client.get("/?filter=done").text  # shown once
        with client.websocket_connect("/ws", subprotocols=offer(token)) as ws:
            ws.receive_json()
            act(ws, "clear_done")
        assert "<li data-key" not in client.get("/").text  # no rows (<link> also starts "<li")


def test_chat_one_room_for_everyone() -> None:
    with client_for("chat") as client:
        for needle in ('id="messages" lvt-hook="ScrollDown"', 'id="send"', 'id="message"',
                       'id="toggle-members" lvt-click="toggle(#members)', 'id="members"'):
            assert needle in client.get("/").text
        token = token_of(client.get("/").text)
        # Another visitor (no cookie) gets the same room.
        client.cookies.clear()
        other = token_of(client.get("/").text)
        assert other != token
        with client.websocket_connect("/ws", subprotocols=offer(token)) as ws, \
                client.websocket_connect("/ws", subprotocols=offer(other)) as ws2:
            ws.receive_json()
            ws2.receive_json()
            reply = act(ws, "send", author="ann", text="hi <there>")
            assert reply["meta"]["events"] == [["sent", None]]
            # the message is streamed to both, as an append to the messages range
            sent = ws2.receive_json()["tree"]
            assert "hi &lt;there&gt;" in str(sent) and "'a'" in str(sent)
            assert act(ws, "send", text=" ")["meta"]["errors"] == {"text": "Write a message first."}
        # the room keeps no messages: a new visitor sees none of them
        assert "hi &lt;there&gt;" not in client.get("/").text


def test_gallery_uploads_lists_and_refuses() -> None:
    from livetemplate.uploads import chunk_frame

    with client_for("gallery") as client:
        html = client.get("/").text
        for needle in ('<form id="upload-form" lvt-submit="save">', 'id="upload-error"',
                       '<input id="file" type="file" name="photos" lvt-upload="photos" multiple'
                       ' accept=".png,.jpg,.gif,.webp">', 'id="files"', 'lvt-drop-target="photos"'):
            assert needle in html
        with client.websocket_connect("/ws", subprotocols=offer(token_of(html))) as ws:
            ws.receive_json()

            def announce(*entries: tuple[str, int]) -> dict[str, Any]:
                ws.send_json({"type": "upload", "upload": "photos", "entries": [
                    {"name": n, "type": "", "size": s} for n, s in entries]})
                while "upload" not in (msg := ws.receive_json()).get("meta", {}):
                    pass
                return msg["meta"]["upload"]

            refused = announce(*((f"{i}.png", 1) for i in range(4)))
            assert refused["error"] == "too many files: 4 chosen, at most 3 per upload"
            assert "too many files" in client.get("/").text.split('id="upload-error"')[1]
            info = announce(("a.png", 3), ("b.gif", 2))
            for ref, data in zip(info["refs"], (b"abc", b"de"), strict=True):
                ws.send_bytes(chunk_frame(ref, 0, data))
                ws.receive_json()  # the progress bar's update
            reply = act(ws, "save")
            assert reply["meta"]["success"], reply
        page = client.get("/").text
        files = page.split('id="files"')[1].split("</ul>")[0]
        assert files.count("<li") == 2 and "a.png" in files and "3 bytes" in files
        assert "b.gif" in files and "2 bytes" in files
        image = files.split('src="')[1].split('"')[0]
        assert client.get(image).content == b"abc"
        assert client.get("/files/..%2Fapp.py").status_code == 404


@pytest.mark.parametrize("name", ["counter", "dashboard", "todo", "chat", "gallery"])
def test_examples_refuse_cross_origin_sockets(name: str) -> None:
    with client_for(name) as client:
        client.get("/")
        with client.websocket_connect("/ws", headers={"origin": "https://evil.example"}) as ws:
            assert ws.receive_json()["code"] == "origin"


@pytest.mark.parametrize("name", ["counter", "dashboard", "todo", "chat", "gallery"])
def test_examples_serve_their_stylesheet_and_icon(name: str) -> None:
    with client_for(name) as client:
        html = client.get("/").text
        for link in ('href="/static/examples.css"', 'href="/static/favicon.svg"', 'name="viewport"'):
            assert link in html
        for path, kind in (("/static/examples.css", "text/css"), ("/favicon.ico", "image/svg+xml"),
                           ("/static/favicon.svg", "image/svg+xml")):
            response = client.get(path)
            assert response.status_code == 200 and kind in response.headers["content-type"]


def test_form_fields_have_labels_and_mark_their_errors() -> None:
    for name, field, error in (("todo", "new-title", "title-error"),
                               ("dashboard", "note-text", "text-error"),
                               ("chat", "message", "text-error")):
        with client_for(name) as client:
            html = client.get("/").text
            assert f'<label for="{field}"' in html and 'aria-invalid="' in html
            # invalid exactly when the error is shown (the chat room may hold an earlier one)
            assert ('aria-invalid="true"' in html) == (f'id="{error}"' in html)
