"""``python -m bench.peers``: LiveTemplate beside pyview, Jinja2 and htmx-style fragments.

In one process and one run, on the same pages (``bench.peers.workloads``): the cost of one
action on the server (the action itself included, for every contender), the bytes it sends, and
the cost against page size.  Correctness first: before anything is timed, every contender runs
checked rounds in which its answers are applied the way its browser applies them, and the result
must equal Jinja2's render of the same data byte for byte (exit 3 otherwise).

Timing is ``bench.report``'s: each round timed alone, median per repeat, best of the repeats,
repeats of the contenders interleaved so load on the machine hits them alike, GC enabled.

Then W1 and W2 through one uvicorn worker per framework (``bench.peers.server``; skip with
``--no-server``).  Writes ``peers.md`` (the tables), ``cost-vs-rows.svg`` and
``bytes-per-action.svg`` to ``--out`` (default ``docs/peers``); ``--quick`` is a smoke test
(figures meaningless).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench.harness import CorrectnessError, first_difference
from bench.peers import server
from bench.peers.charts import bar_chart, line_chart
from bench.peers.contenders import CONTENDERS, Contender, IbisTemplate, jinja2_env
from bench.peers.workloads import PEER_WORKLOADS, SCALING_SIZES, SCALING_WORKLOAD, PeerWorkload, get
from bench.report import FULL, QUICK, Measurement, Settings, measure

SCALING_FULL = Settings(repeats=3, budget=0.2, min_rounds=5, max_rounds=2000, check_rounds=3)
QUICK_SIZES = (100, 300)  # --quick: the scaling machinery runs, on small pages
BASELINE = "Jinja2 re-render"


@dataclass
class Row:
    workload: str
    page_bytes: int
    us: dict[str, float] = field(default_factory=dict)  # contender -> median µs per action
    sent: dict[str, float] = field(default_factory=dict)  # contender -> mean bytes per action


class Round:
    """One page of one contender with its own data and random stream."""

    def __init__(self, contender: Contender, wl: PeerWorkload, size: int, seed: int) -> None:
        self.wl = wl
        self.data = wl.build(size)
        self.rng = random.Random(seed)
        self.page = contender.page(self.data)
        if wl.undo is not None:  # steady state: one action and its undo, both answered
            self.page.step(wl.action(self.data, self.rng))
            wl.undo(self.data)
            self.page.step(None)

    def act(self) -> str:
        return self.page.step(self.wl.action(self.data, self.rng))


def check(contender: Contender, wl: PeerWorkload, size: int, rounds: int) -> float:
    """Checked rounds: answers applied as the browser would, compared with Jinja2; mean bytes."""
    oracle = jinja2_env().from_string(wl.template)
    r = Round(contender, wl, size, seed=11)
    expect(r.page.html(), oracle.render(r.data), wl, contender.name, "first render")
    sizes = []
    for i in range(rounds):
        payload = r.act()
        r.page.receive(payload)
        expect(r.page.html(), oracle.render(r.data), wl, contender.name, f"round {i}")
        sizes.append(len(payload.encode()))
    return statistics.fmean(sizes)


def expect(got: str, want: str, wl: PeerWorkload, who: str, what: str) -> None:
    if got != want:
        raise CorrectnessError(f"{wl.label}, {who}, {what}: the page differs from Jinja2's render\n"
                               + first_difference(got, want))


def run_workload(wl: PeerWorkload, names: list[str], settings: Settings, size: int) -> Row:
    contenders = [Contender(name, wl) for name in names]
    row = Row(wl.label, len(jinja2_env().from_string(wl.template).render(wl.build(size)).encode()))
    for c in contenders:
        row.sent[c.name] = check(c, wl, size, settings.check_rounds)
    seeds = iter(range(10**9))
    measurements = [
        Measurement(lambda c=c: Round(c, wl, size, next(seeds)), Round.act,
                    reset_each_round=wl.undo is not None)
        for c in contenders
    ]
    for c, seconds in zip(contenders, measure(settings, measurements), strict=True):
        row.us[c.name] = seconds * 1e6
    return row


# --- output -----------------------------------------------------------------------------------


def _us(v: float) -> str:
    return f"{v:,.1f}" if v < 100 else f"{v:,.0f}"


def _bytes(v: float) -> str:
    return f"{v / 1000:,.1f} KB" if v >= 10_000 else f"{v:,.0f} B"


def _ratio(v: float) -> str:
    return f"{v:.3f}×" if v < 0.1 else f"{v:.2f}×" if v < 10 else f"{v:,.0f}×"


def table(rows: list[Row], names: list[str]) -> str:
    head = ["workload", "page",
            *(f"{n} µs" if n == BASELINE else f"{n} µs (÷ Jinja2)" for n in names)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        base = r.us[BASELINE]
        cells = [r.workload, _bytes(r.page_bytes)]
        cells += [_us(r.us[n]) if n == BASELINE else f"{_us(r.us[n])} ({_ratio(r.us[n] / base)})"
                  for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bytes_table(rows: list[Row], names: list[str]) -> str:
    head = ["workload", *(f"{n}" for n in names)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([r.workload, *(_bytes(r.sent[n]) for n in names)]) + " |")
    return "\n".join(lines)


def scaling_table(sizes: list[int], rows: list[Row], names: list[str]) -> str:
    head = ["rows", "page", *(f"{n} µs" for n in names)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for size, r in zip(sizes, rows, strict=True):
        lines.append("| " + " | ".join([f"{size:,}", _bytes(r.page_bytes),
                                          *(_us(r.us[n]) for n in names)]) + " |")
    return "\n".join(lines)


LEGEND = """\
µs = median time per action on the server, best of repeats, the action itself included:
  LiveTemplate: Mounted.update(data) without a `changed` hint + compact JSON in {"tree","meta"};
  pyview: its event path after the handler: render the template to a tree, calc_diff against the
    previous tree, json.dumps of the phx_reply;
  Jinja2 re-render: the whole page rendered again (autoescape on);
  htmx fragments: a hand-written handler renders only the partials it knows changed.
÷ Jinja2 = that time over Jinja2's full re-render in the same run (lower is better).
bytes = what the server sends per action (mean over the checked rounds): JSON for LiveTemplate
  and pyview, HTML for Jinja2 and htmx (without hx-swap-oob attributes or HTTP headers)."""


def versions() -> str:
    out = []
    for dist in ("jinja2", "pyview-web", "starlette"):
        try:
            out.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            out.append(f"{dist} not installed")
    return ", ".join(out) + f", Python {sys.version.split()[0]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few rounds (smoke test)")
    parser.add_argument("--only", default="", help="comma-separated workload keys, e.g. W2,W3")
    parser.add_argument("--out", default="docs/peers", help="folder for peers.md and the charts")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    parser.add_argument("--no-server", action="store_true",
                        help="skip W1/W2 through uvicorn (bench.peers.server)")
    args = parser.parse_args(argv)

    if IbisTemplate is None:
        print("bench.peers: pyview is not installed; run `scripts/setup peers` "
              "(pip install -e '.[peers]')", file=sys.stderr)
        return 2
    settings = QUICK if args.quick else FULL
    scaling_settings = QUICK if args.quick else SCALING_FULL
    wanted = [k.strip() for k in args.only.split(",") if k.strip()]
    try:
        workloads = [get(k) for k in wanted] if wanted else list(PEER_WORKLOADS)
    except KeyError as exc:
        parser.error(f"no workload {exc}")
    names = list(CONTENDERS)
    try:
        rows = []
        for wl in workloads:
            started = time.perf_counter()
            rows.append(run_workload(wl, names, settings, wl.size))
            print(f"  measured {wl.label} in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
        scaling_wl = get(SCALING_WORKLOAD)
        sizes = list(QUICK_SIZES if args.quick else SCALING_SIZES)
        scaling = []
        for size in sizes:
            started = time.perf_counter()
            scaling.append(run_workload(scaling_wl, names, scaling_settings, size))
            print(f"  measured {scaling_wl.key} at {size:,} rows in "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    except CorrectnessError as exc:
        print(f"bench.peers: WRONG OUTPUT, nothing measured is valid:\n{exc}", file=sys.stderr)
        return 3
    served = [] if args.no_server else server.run_all(0.3 if args.quick else 3.0)

    title = f"LiveTemplate vs peers, one process — {versions()}"
    if args.quick:
        title += " — QUICK mode, figures are not meaningful"
    report = "\n\n".join([
        title, "Cost of one action:", table(rows, names), "Bytes sent per action:",
        bytes_table(rows, names),
        f"Cost against page size ({scaling_wl.label}, toggle one row):",
        scaling_table(sizes, scaling, names), LEGEND,
        *(["Through one uvicorn worker (W1, W2):", server.table(served), server.LEGEND]
          if served else [])])
    print(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "peers.md").write_text(report + "\n", encoding="utf-8")
    (out / "cost-vs-rows.svg").write_text(line_chart(
        "Cost of one action vs page size (todo list, toggle one row)", sizes,
        {n: [r.us[n] for r in scaling] for n in names}, "rows on the page", "µs"),
        encoding="utf-8")
    (out / "bytes-per-action.svg").write_text(bar_chart(
        "Bytes sent per action", [r.workload for r in rows],
        {n: [r.sent[n] for r in rows] for n in names}, "B"), encoding="utf-8")
    print(f"wrote {out / 'peers.md'}, {out / 'cost-vs-rows.svg'}, {out / 'bytes-per-action.svg'}",
          file=sys.stderr)
    if args.json:
        figures: dict[str, Any] = {"quick": args.quick, "versions": versions(),
                                   "workloads": [vars(r) for r in rows],
                                   "server": [{"framework": name, **vars(r), "latencies": None}
                                              for name, r in served],
                                   "scaling": {str(s): vars(r) for s, r in
                                               zip(sizes, scaling, strict=True)}}
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0
