"""The WebSocket endpoint and its POST fallback, end to end through Starlette's TestClient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from livetemplate import Application, Limits, Page, PageLookupError
from livetemplate.endpoints import CLIENT_FILE
from tests.fake_shared_store import FakeSharedStore

TEMPLATE = '<span id="count">{{ count }}</span>{% for e in events %}<i data-key="{{ e }}">{{ e }}</i>{% endfor %}'


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.events: list[int] = []

    def increment(self) -> None:
        self.count += 1
        self.events.append(self.count)

    def set(self, ctx: Any) -> None:
        self.count = ctx.get_int("value")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make(limits: Limits | None = None, clock: Clock | None = None) -> tuple[Application, TestClient]:
    """Pattern 2 at ``/`` + ``/ws``, Pattern 1 at ``/ws1``, a server push at ``/bump``."""
    live = Application(secret="test", limits=limits, **({"clock": clock} if clock else {}))
    live.add_template("counter", TEMPLATE)

    async def index(request: Request) -> Response:
        try:
            page = live.get_page(request)
        except PageLookupError:
            page = live.new_page("counter", Counter())
        return page.serve_http(request)

    async def bump(request: Request) -> Response:
        page = live.get_page(request)
        page.model.count += 100
        return JSONResponse(await page.push())

    routes = [Route("/", index), Route("/bump", bump, methods=["POST"]), *live.routes("/ws"),
              *live.routes("/ws1", new_page=lambda ws: live.new_page("counter", Counter()))]
    return live, TestClient(Starlette(routes=routes))


def token_of(html: str) -> str:
    return html.split('name="livetemplate-token" content="')[1].split('"')[0]


def action(name: str, **data: Any) -> str:
    return json.dumps({"type": "action", "action": name, "data": data})


def closed(ws: Any) -> tuple[int, str]:
    with pytest.raises(WebSocketDisconnect) as info:
        ws.receive_text()
    return info.value.code, info.value.reason


@pytest.fixture
def served() -> Iterator[tuple[Application, TestClient, str]]:
    live, client = make()
    with client:
        yield live, client, token_of(client.get("/").text)


def test_pattern1_new_page_per_connection_token_first(served: Any) -> None:
    live, client, _ = served
    with client.websocket_connect("/ws1") as ws:
        first = ws.receive_json()
        assert first["type"] == "page_token"
        full = ws.receive_json()
        assert full["tree"]["s"][0] == '<span id="count">' and full["tree"]["0"] == "0"
        ws.send_text(action("increment"))
        assert ws.receive_json()["tree"]["0"] == "1"
        page = live.page_for_token(first["token"])
    with client.websocket_connect("/ws1") as ws2:  # another connection, another page
        token2 = ws2.receive_json()["token"]
        assert ws2.receive_json()["tree"]["0"] == "0"
    assert live.page_for_token(token2) is not page and page.model.count == 1


@pytest.mark.parametrize("how", ["query", "header", "subprotocol"])
def test_pattern2_the_socket_finds_the_http_page(served: Any, how: str) -> None:
    live, client, token = served
    client.cookies.clear()
    url, headers, subprotocols = "/ws", {}, None
    if how == "query":  # the seed's manual pattern
        url = f"/ws?cache_token={token}"
    elif how == "header":
        headers = {"X-LiveTemplate-Token": token}
    else:  # what the shipped client does: the token stays out of the URL
        subprotocols = ["livetemplate", f"livetemplate.token.{token}"]
    with client.websocket_connect(url, headers=headers, subprotocols=subprotocols) as ws:
        assert ws.accepted_subprotocol == ("livetemplate" if subprotocols else None)
        assert ws.receive_json()["tree"]["0"] == "0"  # no page_token: the page already exists
        ws.send_text(action("increment"))
        assert ws.receive_json()["tree"] == {"0": "1", "1": {"0": [["a", [{"0": "1", "1": "1"}]]]}}
    assert live.page_for_token(token).model.count == 1
    assert '<span id="count">1</span>' in client.get(f"/?cache_token={token}").text


def test_every_connection_of_a_page_gets_each_update(served: Any) -> None:
    live, client, token = served
    url = f"/ws?cache_token={token}"
    with client.websocket_connect(url) as a, client.websocket_connect(url) as b, \
            client.websocket_connect("/ws1") as other:
        a.receive_json(), b.receive_json(), other.receive_json(), other.receive_json()
        a.send_text(action("increment"))
        update_a, update_b = a.receive_json(), b.receive_json()
        assert update_a["tree"] == update_b["tree"] and update_a["tree"]["0"] == "1"
        assert update_a["meta"]["action"] == "increment" and update_b["meta"] == {}
        b.send_text(action("set", value="7"))
        assert a.receive_json()["tree"] == b.receive_json()["tree"] == {"0": "7"}
        # The POST fallback and a server push reach the sockets too.
        response = client.post("/ws", content=action("increment"),
                               headers={"X-LiveTemplate-Token": token})
        assert response.status_code == 200 and response.json()["tree"]["s"]  # a full tree
        assert a.receive_json()["tree"]["0"] == b.receive_json()["tree"]["0"] == "8"
        assert client.post("/bump", headers={"X-LiveTemplate-Token": token}).json() == {"0": "108"}
        assert a.receive_json()["tree"] == b.receive_json()["tree"] == {"0": "108"}
        other.send_text(action("increment"))
        assert other.receive_json()["tree"]["0"] == "1"  # the other page is untouched
        a.send_text(action("increment"))
        assert a.receive_json()["tree"]["0"] == "109"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "bad_json"),
        (json.dumps([1, 2]), "bad_message"),
        (json.dumps({"type": "action", "action": 3}), "bad_message"),
        (json.dumps({"type": "action", "action": "set", "data": "x"}), "bad_message"),
        (action("explode"), "unknown_action"),
        (action("__init__"), "unknown_action"),
        (action("set", value="seven"), "bad_data"),
        (action("set"), "bad_data"),
    ],
)
def test_bad_input_gets_an_error_and_the_connection_survives(served: Any, message: str,
                                                             code: str) -> None:
    live, client, token = served
    with client.websocket_connect(f"/ws?cache_token={token}") as ws:
        ws.receive_json()
        ws.send_text(message)
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == code and error["message"]
        ws.send_text(action("increment"))
        assert ws.receive_json()["tree"]["0"] == "1"
    assert live.page_for_token(token).model.count == 1


def test_binary_frames_are_messages_too(served: Any) -> None:
    _, client, token = served
    with client.websocket_connect(f"/ws?cache_token={token}") as ws:
        ws.receive_json()
        ws.send_bytes(action("increment").encode())
        assert ws.receive_json()["tree"]["0"] == "1"


def test_an_oversized_frame_closes_with_1009() -> None:
    live, client = make(Limits(max_message_bytes=100))
    with client, client.websocket_connect("/ws1") as ws:
        ws.receive_json(), ws.receive_json()
        ws.send_text(action("set", value="1" * 200))
        error = ws.receive_json()
        assert error["code"] == "too_large" and "100 bytes" in error["message"]
        assert closed(ws)[0] == 1009


def test_a_flood_is_rate_limited_and_survives() -> None:
    live, client = make(Limits(rate=0.001, burst=3))
    with client, client.websocket_connect("/ws1") as ws:
        token = ws.receive_json()["token"]
        ws.receive_json()
        for _ in range(5):
            ws.send_text(action("increment"))
        replies = [ws.receive_json() for _ in range(5)]
        assert [r.get("code") for r in replies] == [None, None, None, "rate_limited", "rate_limited"]
        assert "messages/s" in replies[3]["message"]
    assert live.page_for_token(token).model.count == 3


@pytest.mark.parametrize("path", ["/ws", "/ws1"])
def test_cross_origin_upgrades_are_refused(served: Any, path: str) -> None:
    live, client, token = served
    count = live.page_count
    with client.websocket_connect(f"{path}?cache_token={token}",
                                  headers={"origin": "https://evil.example"}) as ws:
        error = ws.receive_json()
        assert error["code"] == "origin" and "allowed_origins" in error["message"]
        code, reason = closed(ws)
        assert code == 1008 and "evil.example" in reason
    assert live.page_count == count  # no page made for it


def test_same_origin_and_allow_listed_origins_connect() -> None:
    _, client = make(Limits(allowed_origins=("https://app.example",)))
    with client:
        for origin in ("http://testserver", "https://app.example"):
            with client.websocket_connect("/ws1", headers={"origin": origin}) as ws:
                assert ws.receive_json()["type"] == "page_token"


def forge(token: str) -> str:
    return token[:-3] + ("abc" if not token.endswith("abc") else "xyz")


@pytest.mark.parametrize("kind", ["missing", "forged", "other_secret", "expired"])
def test_bad_tokens_are_refused_with_a_reason(kind: str) -> None:
    clock = Clock()
    live, client = make(Limits(token_max_age=60, page_ttl=120), clock)
    with client:
        token = token_of(client.get("/").text)
        client.cookies.clear()
        if kind == "forged":
            token = forge(token)
        elif kind == "other_secret":
            stranger = Application(secret="someone-else")
            stranger.add_template("counter", "x")
            token = stranger.new_page("counter").token
        elif kind == "expired":
            clock.now += 61
        url = "/ws" if kind == "missing" else f"/ws?cache_token={token}"
        with client.websocket_connect(url) as ws:
            error = ws.receive_json()
            code, reason = closed(ws)
    expected = {"missing": "token_missing", "forged": "token_invalid",
                "other_secret": "token_invalid", "expired": "token_expired"}[kind]
    assert error["code"] == expected and code == 1008 and reason
    assert live.page_count == 1  # nothing made, nothing touched


def test_an_expired_page_with_a_valid_token_is_gone() -> None:
    clock = Clock()
    live, client = make(Limits(token_max_age=1000, page_ttl=100), clock)
    with client:
        token = token_of(client.get("/").text)
        clock.now += 101
        with client.websocket_connect(f"/ws?cache_token={token}") as ws:
            error = ws.receive_json()
            assert error["code"] == "page_not_found" and "reload" in error["message"]
            assert closed(ws)[0] == 1008


def test_a_message_with_another_pages_token_is_refused(served: Any) -> None:
    live, client, token = served
    other = live.new_page("counter", Counter()).token
    with client.websocket_connect(f"/ws?cache_token={token}") as ws:
        ws.receive_json()
        ws.send_text(json.dumps({"type": "action", "action": "increment", "token": other}))
        assert ws.receive_json()["code"] == "token_other_page"
        ws.send_text(json.dumps({"type": "action", "action": "increment", "token": token}))
        assert ws.receive_json()["tree"]["0"] == "1"
    assert live.page_for_token(other).model.count == 0


def test_the_page_limit_refuses_new_connections_clearly() -> None:
    live, client = make(Limits(max_pages=1))
    with client, client.websocket_connect("/ws1") as first:
        first.receive_json()
        with client.websocket_connect("/ws1") as second:
            error = second.receive_json()
            assert error["code"] == "page_limit" and "max_pages" in error["message"]
            assert closed(second)[0] == 1013
        first.send_text(action("increment"))
        first.receive_json()
        assert first.receive_json()["tree"]["0"] == "1"


def test_post_fallback(served: Any) -> None:
    live, client, token = served
    headers = {"X-LiveTemplate-Token": token}
    ok = client.post("/ws", content=action("increment"), headers=headers)
    assert ok.status_code == 200
    assert ok.json() == {"tree": live.page_for_token(token).tree,
                         "meta": {"action": "increment", "success": True, "errors": {}}}
    in_body = client.post("/ws", json={"action": "increment", "token": token})
    assert in_body.status_code == 200 and in_body.json()["tree"]["0"] == "2"
    assert client.post(f"/ws?cache_token={token}", content=action("increment")).status_code == 200
    cases = [
        ({}, action("increment"), 403, "token_missing"),  # the cookie alone is not enough
        (headers, "{bad", 400, "bad_json"),
        (headers, action("nope"), 400, "unknown_action"),
        (headers, action("set", value=[1]), 400, "bad_data"),
        (headers, "x" * 70_000, 413, "too_large"),
        ({"X-LiveTemplate-Token": forge(token)}, action("increment"), 403, "token_invalid"),
        ({**headers, "origin": "https://evil.example"}, action("increment"), 403, "origin"),
    ]
    for extra, body, status, code in cases:
        response = client.post("/ws", content=body, headers=extra)
        assert (response.status_code, response.json()["code"]) == (status, code), body[:20]
    assert live.page_for_token(token).model.count == 3


def test_client_script_route_serves_the_file_or_a_clear_404(served: Any) -> None:
    _, client, _ = served
    response = client.get("/livetemplate-client.js")
    if CLIENT_FILE.is_file():
        assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    else:
        assert response.status_code == 404 and "not part of this build" in response.text


# --- the seed's hand-written loops, in Python ------------------------------------------------


def hand_written_app() -> tuple[Application, TestClient]:
    live = Application(secret="test")
    live.add_template("counter", TEMPLATE)

    async def pattern1(websocket: WebSocket) -> None:
        await websocket.accept()
        page = live.new_page("counter", {"count": 0, "events": []})
        page.register_data_model(Counter())
        await websocket.send_json({"type": "page_token", "token": page.get_token()})
        await websocket.send_json(page.tree_message())
        try:
            while True:
                message = await websocket.receive_text()
                await websocket.send_json(await live.handle_action(page, message))
        except WebSocketDisconnect:
            pass

    async def index(request: Request) -> Response:
        page = live.new_page("counter", Counter())
        return page.serve_http(request)

    async def pattern2(websocket: WebSocket) -> None:
        page: Page = live.get_page(websocket)
        await websocket.accept()
        await websocket.send_json(page.tree_message())
        async for message in websocket.iter_text():
            await websocket.send_json(await live.handle_action(page, message))

    async def plain(request: Request) -> Response:
        return HTMLResponse(live.render("counter", {"count": 0}))

    routes = [WebSocketRoute("/p1", pattern1), Route("/", index), WebSocketRoute("/p2", pattern2),
              Route("/plain", plain)]
    return live, TestClient(Starlette(routes=routes))


def test_hand_written_pattern1_loop() -> None:
    _, client = hand_written_app()
    with client, client.websocket_connect("/p1") as ws:
        assert ws.receive_json()["type"] == "page_token"
        assert ws.receive_json()["tree"]["0"] == "0"
        ws.send_text(action("increment"))
        assert ws.receive_json()["tree"]["0"] == "1"
        ws.send_text("{bad")
        assert ws.receive_json()["code"] == "bad_json"


def test_hand_written_pattern2_loop() -> None:
    _, client = hand_written_app()
    with client:
        token = token_of(client.get("/").text)
        assert "livetemplate-client.js" in client.get("/plain").text
        with client.websocket_connect(f"/p2?cache_token={token}") as ws:
            assert ws.receive_json()["tree"]["0"] == "0"
            ws.send_text(action("increment"))
            assert ws.receive_json()["tree"]["0"] == "1"


# --- text that UTF-8 cannot encode (lone surrogates) ------------------------------------------------


NOTES = '<ul>{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul><b>{{ count }}</b>'


class Notes:
    def __init__(self) -> None:
        self.notes: list[str] = ["first 😀"]
        self.count = 0

    def add_note(self, ctx: Any) -> None:
        self.notes.append(ctx.get_str("text"))
        self.count += 1


def shared_notes_app(store: str) -> tuple[Application, TestClient]:
    """One shared page (Pattern 2) on the in-process store or on a shared one (Redis's contract,
    in memory: tests/fake_shared_store.py)."""
    live = Application(secret="test", limits=Limits(rate=None),
                       store=FakeSharedStore() if store == "shared" else None)
    live.add_template("notes", NOTES)
    made: list[Page] = []

    async def index(request: Request) -> Response:
        if made:
            page = await live.load_page(made[0].token)
        else:
            made.append(live.new_page("notes", Notes()))
            page = made[0]
        return page.serve_http(request)

    return live, TestClient(Starlette(routes=[Route("/", index), *live.routes("/ws")]))


@pytest.mark.parametrize("store", ["memory", "shared"])
def test_a_lone_surrogate_from_one_tab_leaves_the_shared_page_served_and_live(store: str) -> None:
    live, client = shared_notes_app(store)
    with client:
        token = token_of(client.get("/").text)
        url = f"/ws?cache_token={token}"
        with client.websocket_connect(url) as bad, client.websocket_connect(url) as good:
            bad.receive_json(), good.receive_json()
            # valid JSON; what JSON.stringify makes of half an emoji
            bad.send_text('{"type":"action","action":"add_note","data":{"text":"x\\ud800"}}')
            error = bad.receive_json()
            assert error["type"] == "error" and error["code"] == "bad_data"
            assert "'text'" in error["message"] and "surrogate" in error["message"]
            bad.send_text(action("add_note", text="after"))  # the same tab goes on
            assert bad.receive_json()["tree"]["1"] == "1"
            assert good.receive_json()["tree"]["1"] == "1"  # the other tab is live
            with client.websocket_connect(url) as late:  # a new tab gets the whole tree
                assert late.receive_json()["tree"]["1"] == "1"
        page = client.get("/")
        assert page.status_code == 200
        assert "<li>first 😀</li><li>after</li></ul><b>1</b>" in page.text  # nothing corrupted
        post = client.post("/ws", content=action("add_note", text="\ud83d\ude00 ok"),
                           headers={"X-LiveTemplate-Token": token})
        assert post.status_code == 200 and post.json()["tree"]["1"] == "2"


@pytest.mark.parametrize("store", ["memory", "shared"])
def test_a_lone_surrogate_put_in_by_server_code_is_sent_as_a_replacement_character(
        store: str, caplog: pytest.LogCaptureFixture) -> None:
    live, client = shared_notes_app(store)
    with client:
        token = token_of(client.get("/").text)
        with client.websocket_connect(f"/ws?cache_token={token}") as ws:
            ws.receive_json()
            page = client.portal.call(live.load_page, token)  # type: ignore[union-attr]
            page.model.notes.append("bad \udc80 text")  # e.g. bytes decoded with surrogateescape
            client.portal.call(page.push)  # type: ignore[union-attr]
            update = ws.receive_json()
            (op, [item]), = update["tree"]["0"]["0"]  # a top-level range: in a node of its own
            assert op == "a" and item["0"] == "bad \ufffd text"
        served = client.get("/")
        assert served.status_code == 200 and "<li>bad \ufffd text</li>" in served.text
        assert "lone surrogate" in caplog.text


# --- pages per route --------------------------------------------------------------------------------


@pytest.mark.parametrize("store", ["memory", "shared"])
def test_two_shared_page_routes_keep_their_own_pages(store: str) -> None:
    """The documented Pattern 2 on two routes of one app: each route's cookie finds its page."""
    live = Application(secret="test", limits=Limits(rate=None),
                       store=FakeSharedStore() if store == "shared" else None)
    live.add_template("counter", TEMPLATE)
    live.add_template("signup", "<form>{{ name }}</form>")

    def route(name: str, data: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                page = await live.load_page(request, name)
            except PageLookupError:
                page = live.new_page(name, data())
            return page.serve_http(request)
        return endpoint

    client = TestClient(Starlette(routes=[
        Route("/shared", route("counter", Counter)),
        Route("/signup", route("signup", lambda: {"name": "form"})),
        *live.routes("/ws")]))
    with client:
        shared = token_of(client.get("/shared").text)
        signup = token_of(client.get("/signup").text)
        assert token_of(client.get("/shared").text) != shared  # a fresh token ...
        with client.websocket_connect(f"/ws?cache_token={shared}") as ws:
            ws.receive_json()
            ws.send_text(action("increment"))
            ws.receive_json()
        # ... of the same page, on each route, whichever was visited last
        assert '<span id="count">1</span>' in client.get("/shared").text
        assert "<form>form</form>" in client.get("/signup").text
        assert '<span id="count">1</span>' in client.get("/shared").text
        assert token_of(client.get("/signup").text) != signup
        assert len({c.name for c in client.cookies.jar}) == 2


@pytest.mark.parametrize("store", ["memory", "shared"])
def test_no_log_line_holds_a_token(store: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    live, client = shared_notes_app(store)
    with client:
        token = token_of(client.get("/").text)
        offered = ["livetemplate", f"livetemplate.token.{token}"]
        with client.websocket_connect("/ws", subprotocols=offered) as ws:
            ws.receive_json()
            ws.send_text(json.dumps({"action": "add_note", "data": {"text": "x"}, "token": token}))
            ws.receive_json()
            ws.send_text(json.dumps({"action": "add_note", "token": token[:-2] + "xx"}))
            assert ws.receive_json()["code"] == "token_invalid"
            ws.send_text(json.dumps({"action": "nope", "data": {}}))
            assert ws.receive_json()["code"] == "unknown_action"
        for bad in (token[:-2] + "xx", token + "x"):  # refused connections are logged
            with client.websocket_connect("/ws", subprotocols=["livetemplate",
                                                                f"livetemplate.token.{bad}"]) as ws:
                assert ws.receive_json()["code"] == "token_invalid"
        client.post("/ws", content=action("add_note"), headers={"X-LiveTemplate-Token": token})
    assert caplog.records  # the refusals were logged ...
    assert token not in caplog.text and token[:-2] not in caplog.text  # ... without a token
