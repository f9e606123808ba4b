"""Server benchmark report: actions/s and round-trip latency through one uvicorn worker.

``python -m bench.server_report`` starts ``uvicorn --factory bench.bench_server:make_app`` (one
worker, loopback) in its own process and drives it from this process over real WebSockets: one
connection sending actions one after another, then 50 concurrent connections doing the same. Each
LiveTemplate workload (W1 counter, W2 1,000-row todo list, one page per connection) is shown
beside a bare Starlette WebSocket echo endpoint measured in the same run; ``vs echo`` is the
workload's actions/s divided by the echo's. Target: W1 and W2 each at least 0.5 of the echo.

Server CPU and GC time come from the server process (``time.process_time`` and ``gc.callbacks``)
over the timed window, divided by the actions in it.  Options: ``--seconds`` per measurement
(default 3), ``--quick`` (0.3 s, a smoke test), ``--json FILE``, ``--strict`` (exit 1 when a
target is missed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict

from bench.bench_server import ENDPOINTS, Run, Server, measure

CONCURRENT = 50
TARGET_VS_ECHO = 0.5
MAX_ACTIONS_PER_CONNECTION = 50_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args(argv)
    seconds = 0.3 if args.quick else args.seconds

    runs: list[Run] = []
    with Server() as server:
        for connections in (1, CONCURRENT):
            for endpoint in ENDPOINTS:
                # A short warm-up run first: imports, first mounts, lazily built state.
                asyncio.run(measure(server.ws, server.http, endpoint, connections, 0.2, 200))
                runs.append(asyncio.run(measure(server.ws, server.http, endpoint, connections,
                                                seconds, MAX_ACTIONS_PER_CONNECTION)))

    print(f"one uvicorn worker on loopback, client in another process, {seconds:g} s per row\n")
    header = ("| endpoint | conns | actions/s | vs echo | p50 µs | p99 µs | server CPU µs/action"
              " | GC % of CPU | GC runs |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    missed = []
    for run in runs:
        echo = next(r for r in runs if r.endpoint == "echo" and r.connections == run.connections)
        ratio = run.per_second / echo.per_second if echo.per_second else 0.0
        cpu_us = run.server_cpu / run.actions * 1e6 if run.actions else 0.0
        gc_share = 100 * run.server_gc / run.server_cpu if run.server_cpu else 0.0
        print(f"| {run.endpoint} | {run.connections} | {run.per_second:,.0f} | {ratio:.2f} |"
              f" {run.median_us:,.0f} | {run.latency_us(0.99):,.0f} | {cpu_us:,.0f} |"
              f" {gc_share:.1f} | {run.gc_collections} |")
        if run.endpoint != "echo" and ratio < TARGET_VS_ECHO:
            missed.append(f"{run.endpoint} with {run.connections} connection(s): {ratio:.2f}")
    print()
    print(f"targets: W1 and W2 >= {TARGET_VS_ECHO} x echo actions/s:",
          "PASS" if not missed else "FAIL (" + "; ".join(missed) + ")")
    if args.json:
        with open(args.json, "w") as out:
            json.dump([{**asdict(r), "latencies": None, "per_second": r.per_second,
                        "p50_us": r.median_us, "p99_us": r.latency_us(0.99)} for r in runs],
                      out, indent=2)
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
