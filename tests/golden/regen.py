"""Rewrite the golden files from ``cases.py``: ``python -m tests.golden.regen``.

Review the diff before committing: a changed fixture is a changed wire format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.golden.cases import CASES
from tests.golden.harness import environments

HERE = Path(__file__).parent


def fresh(data: dict[str, Any]) -> dict[str, Any]:
    """The data as tests/test_golden.py reads it back: through JSON, every value a new object
    (a loop with no key attribute recognises moved items by identity first)."""
    return json.loads(json.dumps(data))


def build(case: dict[str, Any]) -> dict[str, Any]:
    jtpl, tpl = environments(case)
    steps = case["steps"]
    mounted = tpl.mount(fresh(steps[0]))
    out: dict[str, Any] = {
        "name": case["name"],
        "templates": case.get("templates") or {"main": case["source"]},
        "options": case.get("options", {}),
        "tree": mounted.tree,
        "html": jtpl.render(steps[0]),
        "steps": [],
    }
    for data in steps[1:]:
        update = mounted.update(fresh(data))
        out["steps"].append({"data": data, "update": update, "html": jtpl.render(data)})
    out["data"] = steps[0]
    return out


def main() -> None:
    for case in CASES:
        path = HERE / f"{case['name']}.json"
        path.write_text(json.dumps(build(case), indent=1, ensure_ascii=False) + "\n")
        print("wrote", path.relative_to(HERE.parent.parent))


if __name__ == "__main__":
    main()
