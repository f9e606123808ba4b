"""Cluster benchmark report: uvicorn workers sharing pages through one Redis.

``python -m bench.cluster_report`` starts a ``redis-server`` (``scripts/install-redis``) and
uvicorn processes of ``bench.bench_cluster:make_app`` on loopback, and drives them from this
process over real WebSockets:

1. fan-out latency: an action sent by a client of worker A, until a client of worker B holding the
   same page receives the update (median, p99), beside the sender's own round trip;
2. throughput: actions/s of connections sending actions back to back, each on its own page, on one
   worker with the in-process store, on one worker with Redis, and on two workers with Redis
   (three rounds, the setups taking turns; the best round of each);
3. the cost of one action by page size (``bench/store_cost.py``): the counter, and 1,000 and
   10,000 to-dos with one row toggled, and 1,000 to-dos whose rows actions added as plain dicts
   with one row toggled, on Redis and in-process, beside Jinja2's re-render.

Everything runs on this machine's cores: on a 2-core machine the two workers, Redis and the client
share two cores, so two workers cannot be twice one. Options: ``--seconds`` per measurement
(default 3), ``--connections`` (default 20), ``--quick`` (0.3 s, a smoke test), ``--json FILE``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.bench_cluster import FACTORY, FanOut, cluster_env, fan_out, throughput
from bench.bench_server import Run, Server
from bench.store_cost import costs, table

MAX_ACTIONS = 100_000
ROUNDS = 3  # of the throughput rows, taking turns (this machine's load changes within a minute)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    seconds = 0.3 if args.quick else args.seconds
    connections = max(2, args.connections - args.connections % 2)

    from tests.redis_server import RedisServer

    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        redis = RedisServer(Path(folder)).start()
        stack.callback(redis.stop)
        env = cluster_env(redis.url)
        memory = stack.enter_context(Server(FACTORY, cluster_env(None)))
        a = stack.enter_context(Server(FACTORY, env))
        b = stack.enter_context(Server(FACTORY, env))

        asyncio.run(fan_out(a, b, 200, 2.0))  # warm-up: imports, first mounts, connections
        spread = asyncio.run(fan_out(a, b, MAX_ACTIONS, seconds))
        runs: dict[str, Run] = {}
        setups = (("1 worker, in-process store", [memory]), ("1 worker, Redis", [a]),
                  ("2 workers, Redis", [a, b]))
        for _ in range(1 if args.quick else ROUNDS):  # the setups take turns: best of each
            for label, servers in setups:
                asyncio.run(throughput(servers, connections, 0.2, 200))
                run = asyncio.run(throughput(servers, connections, seconds, MAX_ACTIONS))
                if label not in runs or run.per_second > runs[label].per_second:
                    runs[label] = run
        per_action = costs(redis.url, 1 if args.quick else 3, 0.05 if args.quick else 1.0)

    cores = os.cpu_count() or 0
    print(f"uvicorn workers + redis-server + this client on {cores} cores, loopback,"
          f" {seconds:g} s per row\n")
    print("fan-out: client X on worker A acts, client Y on worker B holds the same page\n")
    print("| | actions | median µs | p99 µs |")
    print("|---|---|---|---|")
    print(f"| X's action -> Y's update (A -> Redis -> B) | {len(spread.crossings)} |"
          f" {FanOut.median(spread.crossings):,.0f} |"
          f" {FanOut.quantile(spread.crossings, .99):,.0f} |")
    print(f"| X's action -> X's reply (on A) | {len(spread.round_trips)} |"
          f" {FanOut.median(spread.round_trips):,.0f} |"
          f" {FanOut.quantile(spread.round_trips, .99):,.0f} |")
    print(f"\nthroughput: {connections} connections, each its own W1 page, actions back to"
          " back\n")
    print("| setup | actions/s | vs 1 worker Redis | p50 µs | p99 µs | server CPU µs/action |")
    print("|---|---|---|---|---|---|")
    base = runs["1 worker, Redis"].per_second
    for label, run in runs.items():
        cpu = run.server_cpu / run.actions * 1e6 if run.actions else 0.0
        print(f"| {label} | {run.per_second:,.0f} | {run.per_second / base if base else 0:.2f} |"
              f" {run.median_us:,.0f} | {run.latency_us(0.99):,.0f} | {cpu:,.0f} |")
    memory_rate = runs["1 worker, in-process store"].per_second
    print(f"\none worker on Redis vs the in-process store (counter): {base / memory_rate:.2f}x"
          " the actions/s" if memory_rate else "")
    print("\nper action, by page size (one process, handle_action back to back, one page):\n")
    print(table(per_action))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({
                "fan_out": {"actions": len(spread.crossings),
                            "median_us": FanOut.median(spread.crossings),
                            "p99_us": FanOut.quantile(spread.crossings, .99),
                            "round_trip_median_us": FanOut.median(spread.round_trips)},
                "throughput": {label: {"per_second": run.per_second, "p50_us": run.median_us,
                                       "p99_us": run.latency_us(0.99)}
                               for label, run in runs.items()},
                "per_action_us": per_action,
            }, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
