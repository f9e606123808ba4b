from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from livetemplate import ActionContext, ClientError
from livetemplate.actions import call_action, find_actions, model_data, resolve_action


def ctx(**data: Any) -> ActionContext:
    return ActionContext(page=None, action="act", data=data)  # type: ignore[arg-type]


def test_typed_getters_accept_json_values_and_form_strings() -> None:
    c = ctx(i=3, s="7", f="2.5", b="on", n=False, t=" x ", fi=4.0)
    assert (c.get_int("i"), c.get_int("s"), c.get_int("fi")) == (3, 7, 4)
    assert (c.get_float("f"), c.get_float("i")) == (2.5, 3.0)
    assert (c.get_bool("b"), c.get_bool("n")) == (True, False)
    assert (c.get_str("t"), c.get_str("i")) == (" x ", "3")
    assert c.get_int("missing", 9) == 9 and c.get("missing") is None and c.has("i")


@pytest.mark.parametrize(
    ("getter", "value", "expected"),
    [
        ("get_int", "abc", "an integer"),
        ("get_int", True, "an integer"),
        ("get_int", 2.5, "an integer"),
        ("get_float", "x", "a number"),
        ("get_float", 10**400, "a number"),  # JSON allows it; a float cannot hold it
        ("get_bool", "maybe", "a boolean"),
        ("get_str", [1], "a string"),
    ],
)
def test_wrong_types_are_bad_data_naming_the_field(getter: str, value: Any, expected: str) -> None:
    with pytest.raises(ClientError, match=f"field 'v' of action 'act' must be {expected}") as info:
        getattr(ctx(v=value), getter)("v")
    assert info.value.code == "bad_data"


def test_missing_field_without_default_is_bad_data() -> None:
    with pytest.raises(ClientError, match="needs field 'id'"):
        ctx().get_int("id")


class Model:
    def __init__(self) -> None:
        self.count = 0
        self._secret = 1

    def plain(self) -> None:
        self.count += 1

    def with_ctx(self, ctx: ActionContext) -> dict[str, int]:
        return {"count": ctx.get_int("n")}

    async def later(self, ctx: ActionContext) -> None:
        await asyncio.sleep(0)
        self.count = -1

    def _private(self) -> None: ...

    @staticmethod
    def helper() -> None: ...


def test_public_methods_are_the_actions() -> None:
    assert sorted(find_actions(Model())) == ["later", "plain", "with_ctx"]
    assert resolve_action(Model(), "with-ctx") is Model.with_ctx
    assert resolve_action(Model(), "_private") is None
    assert resolve_action(None, "plain") is None


def test_call_action_with_or_without_context_sync_or_async() -> None:
    model = Model()
    asyncio.run(call_action(Model.plain, model, ctx()))
    assert model.count == 1
    assert asyncio.run(call_action(Model.with_ctx, model, ctx(n="5"))) == {"count": 5}
    asyncio.run(call_action(Model.later, model, ctx()))
    assert model.count == -1


@dataclass
class Slotted:
    __slots__ = ("a", "_b")
    a: int
    _b: int


@dataclass
class WithFields:
    items: list[int] = field(default_factory=list)


def test_model_data_is_the_public_attributes() -> None:
    assert model_data(Model()) == {"count": 0}
    assert model_data(Slotted(1, 2)) == {"a": 1}
    assert model_data(WithFields([1])) == {"items": [1]}
    assert model_data(None) == {}
