"""``bench/store_cost.py`` (printed by ``python -m bench.cluster_report``): every page runs on
both stores and the table has a row per page. No timing assertions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import store_cost
from tests.redis_server import RedisServer, redis_server


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    yield from redis_server(tmp_path_factory.mktemp("redis"))


def test_every_page_is_measured_on_both_stores(redis: RedisServer) -> None:
    result = store_cost.costs(redis.url, repeats=1, scale=0.02)
    assert list(result) == [spec.label for spec in store_cost.PAGES]
    for row in result.values():
        assert set(row) == {"redis", "redis_cpu", "memory", "jinja2"}
        assert all(0 < value < 1e9 for value in row.values())  # each measured, none left out
    table = store_cost.table(result).splitlines()
    assert len(table) == 2 + len(store_cost.PAGES) and "CPU vs the counter" in table[0]


def test_rows_added_by_actions_are_plain_dicts_in_the_tracked_list() -> None:
    """The fourth page is the user's shape: what its add action appends is a plain dict."""
    model = store_cost.AddedTodos()
    model.add()
    assert type(model.todos[0]) is dict and model.remaining in (0, 1)

