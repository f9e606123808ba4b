"""Load tool: many WebSocket connections against one uvicorn worker, with every update checked.

``python -m bench.load --idle 10000 --active 2000 --seconds 20`` starts ``uvicorn --factory
bench.load_app:make_app`` (one worker, loopback) in its own process, or targets a running one
(``--port``), then from ``--clients`` worker processes (``bench/load_client.py``):

1. ``--pages`` pages without connections (memory per live page),
2. ``--idle`` connections, each on its own page, that only answer pings,
3. ``--active`` connections, on their own pages (``--group 1``) or ``--group`` to a shared
   page, each sending ``increment`` actions one after another (or ``--rate`` per second) for
   ``--seconds`` or ``--max-actions``,

and reports actions/s, latency median/p99, server RSS (``/proc/<pid>/status``) per page and per
idle connection, server and client CPU, errors and lost updates. Every update must carry the
next count (on a shared page every member sees every member's action), so a skipped, repeated or
missing update is counted. Exit status 0 when there were no errors and no lost updates, else 1.
Loops are bounded in count and time; everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from array import array
from collections import defaultdict
from multiprocessing.connection import Connection as Pipe
from typing import Any

from bench.bench_server import ROOT, free_port
from bench.load_app import LIMITS_ENV
from bench.load_client import worker_main

HOST = "127.0.0.1"
MAX_SECONDS = 600.0
MAX_CONNECTIONS = 40_000
MAX_ACTIONS = 1_000_000
PAGES_PER_REQUEST = 1_000
REPLY_TIMEOUT = 600.0  # seconds a worker may take for one command before the run is abandoned


class LoadServer:
    """``uvicorn --factory bench.load_app:make_app`` in its own process, on loopback."""

    def __init__(self, port: int | None = None, limits: dict[str, Any] | None = None,
                 uvicorn_args: list[str] | None = None) -> None:
        self.external = port is not None
        self.port = port or free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.limits = limits or {}
        self.uvicorn_args = uvicorn_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self._http: http.client.HTTPConnection | None = None

    def call(self, path: str, method: str = "GET") -> dict[str, Any]:
        """A request on one kept-alive connection: it still works when the server has no file
        descriptor left for a new one (new connections then fail, and are counted)."""
        for attempt in (1, 2):
            if self._http is None:
                self._http = http.client.HTTPConnection(HOST, self.port, timeout=120)
            try:
                self._http.request(method, path)
                response = self._http.getresponse()
                return json.loads(response.read())
            except (OSError, http.client.HTTPException):
                self._http.close()
                self._http = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def stats(self, group: str | None = None, reset_gc: bool = False) -> dict[str, Any]:
        query = "&".join(([f"group={group}"] if group else []) + (["reset_gc=1"] if reset_gc
                                                                  else []))
        return self.call("/stats" + (f"?{query}" if query else ""))

    def __enter__(self) -> LoadServer:
        if self.external:
            self.stats()
            return self
        env = {**os.environ, "PYTHONPATH": str(ROOT), LIMITS_ENV: json.dumps(self.limits)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "bench.load_app:make_app",
             "--host", HOST, "--port", str(self.port), "--workers", "1",
             # the kernel caps the backlog at net.core.somaxconn (4096 here)
             "--backlog", "4096", "--log-level", "warning", "--no-access-log",
             "--timeout-keep-alive", "3600",  # the tool's stats connection stays open
             *self.uvicorn_args],
            cwd=ROOT, env=env,
        )
        give_up = time.monotonic() + 30
        while True:
            try:
                self.stats()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > give_up:
                    self.__exit__()
                    raise RuntimeError("the load server did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self._http is not None:
            self._http.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Workers:
    """The client processes and their pipes."""

    def __init__(self, count: int, port: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Pipe] = []
        self.procs = []
        for _ in range(count):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(theirs, HOST, port), daemon=True)
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)

    def ask(self, commands: list[tuple[str, Any]]) -> list[Any]:
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        replies = []
        give_up = time.monotonic() + REPLY_TIMEOUT
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            while not pipe.poll(1.0):
                if not proc.is_alive():
                    raise RuntimeError(f"client process {proc.pid} died ({proc.exitcode})")
                if time.monotonic() > give_up:
                    raise RuntimeError("a client process did not answer in time")
            replies.append(pipe.recv())
        return replies

    def spread(self, items: list[Any]) -> list[list[Any]]:
        return [items[i::len(self.pipes)] for i in range(len(self.pipes))]

    def close(self) -> None:
        try:
            self.ask([("close", None)] * len(self.pipes))
        finally:
            for proc in self.procs:
                proc.join(10)
                if proc.is_alive():
                    proc.kill()


def rss(pid: int, field: str = "VmRSS") -> int:
    """The server's resident memory (``VmHWM``: its peak) in KiB, read from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    limits = json.loads(args.limits) if args.limits else {}
    out: dict[str, Any] = {"args": {k: v for k, v in vars(args).items() if k != "json"}}
    with LoadServer(args.port, limits, args.uvicorn_arg) as server:
        pid = server.stats()["pid"]
        workers = Workers(args.clients, server.port)
        try:
            out.update(_phases(args, server, pid, workers))
        finally:
            workers.close()
        out["final"] = server.stats()
    return out


def _phases(args: argparse.Namespace, server: LoadServer, pid: int,
            workers: Workers) -> dict[str, Any]:
    out: dict[str, Any] = {}
    memory: dict[str, Any] = {"start_kib": rss(pid)}
    if args.pages:
        before = rss(pid)
        for done in range(0, args.pages, PAGES_PER_REQUEST):
            server.call(f"/pages?n={min(PAGES_PER_REQUEST, args.pages - done)}", "POST")
        memory["per_page_kib"] = (rss(pid) - before) / args.pages

    before = rss(pid)
    began = time.perf_counter()
    idle = [(f"i{i}", "/own") for i in range(args.idle)]
    opened = sum(r["opened"] for r in workers.ask([("idle", part)
                                                   for part in workers.spread(idle)]))
    out["idle_opened"] = opened
    out["idle_open_seconds"] = time.perf_counter() - began
    if opened:
        memory["per_idle_connection_kib"] = (rss(pid) - before) / opened

    members = []
    for i in range(args.active):
        if args.group <= 1:
            members.append((f"a{i}", "/own", f"a{i}"))
        else:
            group = f"g{i // args.group}"
            members.append((f"a{i}", f"/shared?group={group}", group))
    before = rss(pid)
    began = time.perf_counter()
    opened = sum(r["opened"] for r in workers.ask([("active", part)
                                                   for part in workers.spread(members)]))
    out["active_opened"] = opened
    out["active_open_seconds"] = time.perf_counter() - began
    if opened:
        memory["per_active_connection_kib"] = (rss(pid) - before) / opened
    memory["before_run_kib"] = rss(pid)
    if args.gc_freeze:
        out["gc_frozen"] = server.call("/gc-freeze", "POST")["frozen"]

    stats_before = server.stats(reset_gc=True)
    start = time.time() + 0.5
    run = {"start": start, "seconds": args.seconds, "max_actions": args.max_actions,
           "rate": args.rate}
    replies = workers.ask([("run", run)] * len(workers.pipes))
    wall = time.time() - start
    stats_after = server.stats()
    memory["after_run_kib"] = rss(pid)
    memory["peak_kib"] = rss(pid, "VmHWM")

    group_of = {name: group for name, _, group in members}
    expected: dict[str, int] = defaultdict(int)
    for reply in replies:
        for name, sent in reply["sent"].items():
            expected[group_of[name]] += sent
    reports = workers.ask([("settle", dict(expected))] * len(workers.pipes))

    latencies = array("d")
    for report in reports:
        latencies.frombytes(report["latencies"])
    active = [m for r in reports for m in r["active"]]
    lost = sum(m["lost"] + max(0, expected[m["group"]] - m["count"]) for m in active
               if m["opened"])  # one that never opened is an error, not a lost update
    errors = (sum(r["n_open_errors"] for r in reports) + sum(m["n_errors"] for m in active)
              + sum(len(r["idle_errors"]) for r in reports)
              + (out["idle_opened"] - sum(r["idle_open"] for r in reports)))
    samples = sorted(latencies)
    out.update({
        "actions": len(samples),
        "wall_seconds": wall,
        "actions_per_second": len(samples) / wall if wall > 0 else 0.0,
        "latency_ms": {
            "median": statistics.median(samples) * 1e3 if samples else 0.0,
            "p99": samples[min(len(samples) - 1, int(0.99 * len(samples)))] * 1e3
            if samples else 0.0,
            "max": samples[-1] * 1e3 if samples else 0.0,
        },
        "server_cpu_share": (stats_after["cpu"] - stats_before["cpu"]) / wall,
        "server_gc_seconds": stats_after["gc"] - stats_before["gc"],
        # GC's share of the server's CPU time during the run
        "server_gc_cpu_share": ((stats_after["gc"] - stats_before["gc"])
                                / max(1e-9, stats_after["cpu"] - stats_before["cpu"])),
        "server_gc_longest_ms": stats_after["gc_longest"] * 1e3,
        "server_gc_longest_cpu_ms": stats_after["gc_longest_cpu"] * 1e3,
        "server_gc_full": stats_after["gc_full"],
        "client_cpu_share": [r["cpu"] / wall for r in replies],
        "errors": errors,
        "lost_updates": lost,
        "idle_still_open": sum(r["idle_open"] for r in reports),
        "error_samples": ([e for r in reports for e in r["open_errors"]]
                          + [e for m in active for e in m["errors"]]
                          + [e for r in reports for e in r["idle_errors"]])[:10],
        "memory": memory,
    })
    return out


def print_report(out: dict[str, Any]) -> None:
    a = out["args"]
    mem = out["memory"]
    mode = "own page each" if a["group"] <= 1 else f"{a['group']} per shared page"
    pace = f"{a['rate']:g} actions/s each" if a["rate"] else "back to back"
    print(f"one uvicorn worker on loopback; {a['clients']} client processes\n")
    print(f"connections: {out['idle_opened']:,} idle (opened in {out['idle_open_seconds']:.1f} s),"
          f" {out['active_opened']:,} active ({mode}, {pace})")
    print(f"actions:     {out['actions']:,} in {out['wall_seconds']:.1f} s ="
          f" {out['actions_per_second']:,.0f}/s; latency median"
          f" {out['latency_ms']['median']:.1f} ms, p99 {out['latency_ms']['p99']:.1f} ms,"
          f" max {out['latency_ms']['max']:.1f} ms")
    print(f"CPU:         server {100 * out['server_cpu_share']:.0f}% of a core (GC"
          f" {out['server_gc_seconds']:.2f} s = {100 * out['server_gc_cpu_share']:.0f}% of its CPU,"
          f" {out['server_gc_full']} full collections, longest pause"
          f" {out['server_gc_longest_ms']:.0f} ms, {out['server_gc_longest_cpu_ms']:.0f} ms"
          " in CPU time); clients "
          + " + ".join(f"{100 * c:.0f}%" for c in out["client_cpu_share"]))
    parts = [f"start {mem['start_kib'] / 1024:.0f} MiB"]
    if "per_page_kib" in mem:
        parts.append(f"{mem['per_page_kib']:.1f} KiB per page")
    if "per_idle_connection_kib" in mem:
        parts.append(f"{mem['per_idle_connection_kib']:.1f} KiB per idle connection (own page)")
    if "per_active_connection_kib" in mem:
        parts.append(f"{mem['per_active_connection_kib']:.1f} KiB per active connection")
    parts.append(f"after the run {mem['after_run_kib'] / 1024:.0f} MiB,"
                 f" peak {mem['peak_kib'] / 1024:.0f} MiB")
    print("server RSS:  " + "; ".join(parts))
    if "gc_frozen" in out:
        print(f"gc.freeze() before the run: {out['gc_frozen']:,} objects left out of collections")
    print(f"idle still open after the run: {out['idle_still_open']:,} of {out['idle_opened']:,}")
    print(f"errors: {out['errors']}, lost updates: {out['lost_updates']}")
    for sample in out["error_samples"]:
        print(f"  {sample}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=0, help="idle connections (own page each)")
    parser.add_argument("--active", type=int, default=100, help="connections sending actions")
    parser.add_argument("--group", type=int, default=1,
                        help="active connections per page (1: each its own page)")
    parser.add_argument("--pages", type=int, default=0, help="pages without connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the action run")
    parser.add_argument("--max-actions", type=int, default=100_000, help="per connection")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="actions/s per active connection (0: each waits for its reply,"
                             " then sends the next)")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() in the server once every connection is open")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--port", type=int, help="target a running load server on 127.0.0.1")
    parser.add_argument("--limits", help='Limits overrides as JSON, e.g. \'{"send_queue": 64}\'')
    parser.add_argument("--uvicorn-arg", action="append", default=[],
                        help="extra uvicorn option (repeat), e.g. --uvicorn-arg=--ws-ping-interval=5")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.idle + args.active + args.pages > MAX_CONNECTIONS:
        parser.error(f"at most {MAX_CONNECTIONS} connections and pages in all")
    if not 0 < args.seconds <= MAX_SECONDS or not 0 < args.max_actions <= MAX_ACTIONS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS:g}], --max-actions in"
                     f" (0, {MAX_ACTIONS}]")
    if args.clients < 1 or args.group < 1:
        parser.error("--clients and --group must be at least 1")
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the server and workers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Each side holds one descriptor per connection: use the whole hard limit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    out = measure(args)
    print_report(out)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0 if out["errors"] == 0 and out["lost_updates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
