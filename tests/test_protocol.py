from __future__ import annotations

import json

import pytest

from livetemplate import ActionMessage, ClientError, protocol
from livetemplate.protocol import (
    close_code,
    dumps,
    error_message,
    http_status,
    page_token_message,
    parse_message,
    tree_message,
)


def test_parses_an_action_message() -> None:
    msg = parse_message('{"type":"action","action":"increment","data":{"by":2},"token":"t"}')
    assert msg == ActionMessage(action="increment", data={"by": 2}, token="t")


def test_an_action_may_name_a_component_target() -> None:
    msg = parse_message('{"action":"save","target":"Ab3_x-9Z"}')
    assert msg == ActionMessage(action="save", target="Ab3_x-9Z")
    assert parse_message({"action": "go"}).target is None


def test_type_and_data_are_optional() -> None:
    assert parse_message({"action": "go"}) == ActionMessage(action="go")
    assert parse_message(b'{"action":"go","data":null}').data == {}


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        ("{nope", "bad_json", "not valid JSON"),
        (b"\xff\xfe", "bad_json", "not valid JSON"),
        ("[1, 2]", "bad_message", "JSON object"),
        ('{"type":"hello","action":"x"}', "bad_message", "unknown message type"),
        ('{"action": 5}', "bad_message", '"action" must be'),
        ('{"action": ""}', "bad_message", '"action" must be'),
        ('{"action": "x", "data": [1]}', "bad_message", '"data" must be a JSON object'),
        ('{"action": "x", "token": 7}', "bad_message", '"token" must be a string'),
        ('{"action": "x", "target": 7}', "bad_message", '"target" must be a component id'),
        ('{"action": "x", "target": ""}', "bad_message", '"target" must be a component id'),
        ('{"action": "x", "target": "%s"}' % ("x" * 65), "bad_message", '"target" must be'),
    ],
)
def test_bad_messages_say_what_is_wrong(raw: str | bytes, code: str, words: str) -> None:
    with pytest.raises(ClientError, match=words) as info:
        parse_message(raw)
    assert info.value.code == code


def test_server_messages() -> None:
    assert tree_message({"0": "1"}, {"errors": {}}) == {"tree": {"0": "1"}, "meta": {"errors": {}}}
    assert page_token_message("t") == {"type": "page_token", "token": "t"}
    assert error_message("bad_json", "m") == {"type": "error", "code": "bad_json", "message": "m"}
    assert dumps({"a": "é", "b": [1]}) == '{"a":"é","b":[1]}'


def test_error_codes_map_to_http_status_and_close_codes() -> None:
    assert (http_status("unknown_action"), close_code("unknown_action")) == (400, None)
    assert (http_status("too_large"), close_code("too_large")) == (413, 1009)
    assert (http_status("token_expired"), close_code("token_expired")) == (403, 1008)
    assert (http_status("page_limit"), close_code("page_limit")) == (503, 1013)


def test_dumps_is_compact_utf8_json_and_refuses_other_objects() -> None:
    message = {"tree": {"0": "café \"x\"", "1": [["u", "k", {"0": "y"}]]},
               "meta": {"ok": True, "n": None, "f": 1.5}}
    text = protocol.dumps(message)
    assert text == ('{"tree":{"0":"café \\"x\\"","1":[["u","k",{"0":"y"}]]},'
                    '"meta":{"ok":true,"n":null,"f":1.5}}')
    assert json.loads(text) == message
    with pytest.raises(TypeError, match="not JSON serializable"):
        protocol.dumps({"x": object()})


@pytest.mark.parametrize(("raw", "field"), [
    ('{"action":"add","data":{"text":"\\ud800"}}', "text"),  # a \u escape in the text
    ('{"action":"add","data":{"text":"ok","rows":[{"n":"a"},{"n":"b\\udfff"}]}}', "rows[1].n"),
    ('{"action":"add","data":{"\\ud83d":1}}', "\\ud83d"),  # a key
    ('{"action":"add","data":{"text":"x\ud800"}}', "text"),  # a raw surrogate in a str
    (b'{"action":"add","data":{"t":"\xed\xa0\x80"}}', "t"),  # json.loads(bytes): surrogatepass
    ({"action": "add", "data": {"deep": {"t": ["ok", "\udc80"]}}}, "deep.t[1]"),  # a mapping
])
def test_text_utf8_cannot_encode_is_refused_naming_the_field(raw: str | bytes | dict[str, object],
                                                              field: str) -> None:
    with pytest.raises(ClientError) as info:
        parse_message(raw)
    assert info.value.code == "bad_data" and f"field '{field}'" in info.value.message
    assert "surrogate" in info.value.message
    info.value.message.encode()  # the refusal itself is sendable


def test_valid_unicode_and_escapes_pass() -> None:
    raw = '{"action":"add","data":{"t":"\\ud83d\\ude00 \\u00e9 😀 \\u0000"}}'
    assert parse_message(raw).data == {"t": "😀 é 😀 \x00"}


def test_an_action_name_utf8_cannot_encode_is_refused() -> None:
    with pytest.raises(ClientError, match="surrogate") as info:
        parse_message('{"action":"add\\udc00"}')
    assert info.value.code == "bad_message"


def test_dumps_replaces_lone_surrogates_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    text = dumps(tree_message({"0": "a\ud800b"}))
    assert text == '{"tree":{"0":"a\ufffdb"},"meta":{}}' and text.encode()
    assert "lone surrogate" in caplog.text
    assert dumps({"t": "😀é"}) == '{"t":"😀é"}'  # valid text untouched
