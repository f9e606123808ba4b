"""The README's code runs and does what it says."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

README = (Path(__file__).parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_the_two_quickstart_commands() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    assert "scripts/serve" in quickstart and "scripts/test" in quickstart


def test_live_page_example(monkeypatch) -> None:
    monkeypatch.setenv("LIVETEMPLATE_SECRET", "readme-test-secret")
    namespace: dict = {}
    exec(compile(BLOCKS[0], "README.md", "exec"), namespace)
    client = TestClient(namespace["app"])
    html = client.get("/").text
    token = re.search(r'name="livetemplate-token" content="([^"]+)"', html).group(1)
    with client.websocket_connect(f"/ws?cache_token={token}",
                                  headers={"origin": "http://testserver"}) as ws:
        assert ws.receive_json()["tree"]["1"] == "0"
        ws.send_json({"type": "action", "action": "increment"})
        assert ws.receive_json()["tree"] == {"1": "1"}


def test_engine_example() -> None:
    namespace: dict = {}
    exec(compile(BLOCKS[1], "README.md", "exec"), namespace)
    assert namespace["update"] == {"0": {"0": [["u", "3", {"1": "renamed"}]]}}
