"""What one action costs on each store, by page size: the counter, and 1,000 and 10,000 to-dos
with one row toggled, and 1,000 to-dos whose rows were added by actions (plain dicts appended,
as a user's ``add_todo`` does) with one row toggled (``python -m bench.cluster_report`` prints
it; alone: ``python -m bench.store_cost --redis-url URL``).

One process, no network between client and server: ``await app.handle_action(page, frame)``
back to back on one page with one connection attached, so the figure is the page path plus the
store (on Redis: the lease, the commit of what changed, the round trips to a local
``redis-server``). Beside it, Jinja2 re-rendering the same page after the same action, in the
same run. The pages are written as users write them: a data model holding a plain list of dicts
(``Application`` tracks it), an action that flips one row's ``done`` and keeps the count.
Wall time per action (Redis is another process, whose work is in it), and this process's CPU
time per action (what the action costs the worker, whatever the scheduler does meanwhile); best
of ``repeats`` runs, the pages taking turns in each.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2

from bench.sink import Sink
from bench.workloads import W1_TEMPLATE, W2_TEMPLATE, W1Counter
from livetemplate import Application, Limits, RedisStore


def todo_row(i: int) -> dict[str, Any]:
    return {"id": i, "title": (f"Task #{i}: buy milk & <eggs>" if i % 7 == 0
                               else f"Task #{i}: write docs"), "done": i % 3 == 0}


class TodoList:
    """W2's page as a data model: a plain list of dicts, one row toggled per action."""

    def __init__(self, rows: int) -> None:
        self.title = "Todos"
        self.todos = [todo_row(i) for i in range(rows)]
        self.remaining = sum(1 for t in self.todos if not t["done"])

    def toggle(self, ctx: Any) -> None:
        todo = self.todos[ctx.get_int("id")]
        todo["done"] = not todo["done"]
        self.remaining += -1 if todo["done"] else 1


class AddedTodos(TodoList):
    """The same page with its rows added by actions, as a user's ``add_todo`` does: each a
    plain dict appended to the list the data model holds (which ``Application`` tracks; the
    dicts it cannot see change, so it follows them by their version or encoding)."""

    def __init__(self) -> None:
        super().__init__(0)

    def add(self) -> None:
        row = todo_row(len(self.todos))
        self.todos.append(row)
        self.remaining += 0 if row["done"] else 1


@dataclass
class Page:
    label: str
    template: str
    model: Callable[[], Any]
    action: Callable[[random.Random, Any], dict[str, Any]]
    actions: int
    adds: int = 0  # "add" actions that build the page first (not measured)


PAGES = [
    Page("counter", W1_TEMPLATE, W1Counter, lambda rng, m: {"action": "increment"}, 2000),
    Page("todos 1,000 rows, toggle one", W2_TEMPLATE, lambda: TodoList(1000),
         lambda rng, m: {"action": "toggle", "data": {"id": rng.randrange(1000)}}, 1000),
    Page("todos 10,000 rows, toggle one", W2_TEMPLATE, lambda: TodoList(10_000),
         lambda rng, m: {"action": "toggle", "data": {"id": rng.randrange(10_000)}}, 500),
    Page("todos 1,000 rows added by actions (plain dicts), toggle one", W2_TEMPLATE,
         AddedTodos, lambda rng, m: {"action": "toggle", "data": {"id": rng.randrange(1000)}},
         1000, adds=1000),
]


async def live_cost(spec: Page, redis_url: str | None, actions: int) -> tuple[float, float]:
    """``(seconds, CPU seconds of this process)`` per action."""
    store = RedisStore(redis_url, prefix=f"cost{random.randrange(1 << 30)}:") if redis_url \
        else None
    app = Application(secret="bench-store-cost", store=store, limits=Limits(rate=None))
    app.add_template("page", spec.template)
    page = app.new_page("page", spec.model())
    await page.connect(Sink())
    add = json.dumps({"type": "action", "action": "add"})
    for _ in range(spec.adds):
        assert "tree" in await app.handle_action(page, add)
    rng = random.Random(7)
    frames = [json.dumps({"type": "action", **spec.action(rng, page.model)})
              for _ in range(actions + 20)]
    for frame in frames[:20]:  # warm-up
        assert "tree" in await app.handle_action(page, frame)
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    for frame in frames[20:]:
        await app.handle_action(page, frame)
    elapsed = (time.perf_counter() - started) / actions
    cpu = (time.process_time() - cpu) / actions
    await app.close()
    return elapsed, cpu


def jinja_cost(spec: Page, actions: int) -> float:
    template = jinja2.Environment(autoescape=True).from_string(spec.template)
    model = spec.model()
    for _ in range(spec.adds):
        model.add()
    rng = random.Random(7)

    class Ctx:
        def __init__(self, data: dict[str, Any]) -> None:
            self.data = data

        def get_int(self, name: str) -> int:
            return int(self.data[name])

    messages = [spec.action(rng, model) for _ in range(actions)]
    started = time.perf_counter()
    for message in messages:
        method = getattr(model, message["action"])
        if "data" in message:
            method(Ctx(message["data"]))
        else:
            method()
        template.render(vars(model))
    return (time.perf_counter() - started) / actions


def costs(redis_url: str, repeats: int = 3, scale: float = 1.0) -> dict[str, dict[str, float]]:
    """µs per action per page, the best of ``repeats``: on Redis (wall and this process's CPU),
    in-process, and Jinja2's re-render. The pages take turns within each repeat, so a change in
    the machine's load falls on every row alike."""
    result = {spec.label: {"redis": 1e9, "redis_cpu": 1e9, "memory": 1e9, "jinja2": 1e9}
              for spec in PAGES}
    for _ in range(repeats):
        for spec in PAGES:
            n = max(20, int(spec.actions * scale))
            row = result[spec.label]
            wall, cpu = asyncio.run(live_cost(spec, redis_url, n))
            row["redis"], row["redis_cpu"] = min(row["redis"], wall), min(row["redis_cpu"], cpu)
            row["memory"] = min(row["memory"], asyncio.run(live_cost(spec, None, n))[0])
            row["jinja2"] = min(row["jinja2"], jinja_cost(spec, max(5, n // 10)))
    return {label: {k: v * 1e6 for k, v in row.items()} for label, row in result.items()}


def table(result: dict[str, dict[str, float]]) -> str:
    counter = result["counter"]
    lines = ["| page | Redis µs/action | vs the counter on Redis | Redis CPU µs/action |"
             " CPU vs the counter | in-process µs/action | Jinja2 re-render µs |"
             " Redis vs Jinja2 |",
             "|---|---|---|---|---|---|---|---|"]
    for label, row in result.items():
        lines.append(f"| {label} | {row['redis']:,.0f} | {row['redis'] / counter['redis']:.2f} |"
                     f" {row['redis_cpu']:,.0f} | {row['redis_cpu'] / counter['redis_cpu']:.2f} |"
                     f" {row['memory']:,.0f} | {row['jinja2']:,.0f} |"
                     f" {row['redis'] / row['jinja2']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(table(costs(args.redis_url, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
