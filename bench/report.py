"""One-table benchmark report: LiveTemplate engine vs Jinja2 full re-render, as ratios.

Run from the repository root: ``python -m bench.report`` (or ``scripts/bench``).  Options:
``--quick`` (a couple of rounds, for smoke tests), ``--only W2,W3``, ``--json FILE`` (raw
figures), ``--strict`` (exit 1 when a target is missed).  See bench/README.md for what the
columns mean.

Timing: every measured round is timed on its own with ``time.perf_counter``; a repeat runs rounds
for a fixed wall-clock budget and keeps their median; the figure reported is the best (lowest)
median over the repeats.  The garbage collector stays enabled (it is part of what a server pays),
and is run to completion before each repeat so one repeat's garbage does not land in the next.

Correctness comes first: before anything is timed, each workload runs a few rounds in both update
modes and every update is applied to a client copy of the tree; the HTML joined from it, and
``Mounted.html()``, must equal Jinja2's render of the same data, byte for byte.  The timed runs
are checked the same way after each repeat.  A mismatch aborts the report (exit 3).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.harness import (
    CorrectnessError,
    Jinja2Page,
    LtPage,
    apply_payload,
    first_difference,
    jinja2_env,
    jinja2_step,
    lt_step,
)
from bench.workloads import WORKLOADS, Workload, changed_values_json, compact_json, snapshot

# Targets (DESIGN.md's reason to exist: the cost of an action follows the change, not the page).
TARGET_SPEEDUP = 60.0  # W2-W4: an update at least this many times faster than a re-render
TARGET_SPEEDUP_SMALL = 1.0  # W1: a one-value page, the update must simply not be slower
SMALL_WORKLOADS = frozenset({"W1"})
TARGET_SIZE_RATIO = 1.5  # update bytes / changed-values bytes
TARGET_FIRST_RENDER = 1.0  # LT mount + html time / Jinja2 render time
TARGET_MEMORY_BYTES = 250_000  # W2 mounted page (KB = 1000 bytes)
MEMORY_WORKLOAD = "W2"


@dataclass(frozen=True)
class Settings:
    repeats: int
    budget: float  # wall-clock seconds per repeat of one measurement (set-up included)
    min_rounds: int
    max_rounds: int
    check_rounds: int  # rounds of the correctness + size pass, per update mode


FULL = Settings(repeats=5, budget=0.15, min_rounds=7, max_rounds=20_000, check_rounds=20)
QUICK = Settings(repeats=1, budget=0.0, min_rounds=2, max_rounds=2, check_rounds=2)


@dataclass
class Result:
    workload: str
    jinja2_update_us: float = 0.0
    lt_update_us: float = 0.0
    lt_update_auto_us: float = 0.0
    jinja2_first_us: float = 0.0
    lt_first_us: float = 0.0
    update_bytes: float = 0.0  # mean per action, with ``changed``
    update_auto_bytes: float = 0.0  # mean per action, auto-detect
    changed_bytes: float = 0.0  # mean per action, the changed-values baseline
    html_bytes: int = 0  # size of the full page, for scale
    memory: dict[str, int] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        return self.jinja2_update_us / self.lt_update_us

    @property
    def speedup_auto(self) -> float:
        return self.jinja2_update_us / self.lt_update_auto_us

    @property
    def first_ratio(self) -> float:
        return self.lt_first_us / self.jinja2_first_us

    @property
    def size_ratio(self) -> float:
        return self.update_bytes / self.changed_bytes

    @property
    def size_ratio_auto(self) -> float:
        return self.update_auto_bytes / self.changed_bytes


@dataclass(frozen=True)
class Measurement:
    """One timed figure: ``step(page)`` per round, on pages from ``make`` (never timed)."""

    make: Callable[[], Any]
    step: Callable[[Any], object]
    reset_each_round: bool = False  # a fresh page for every round
    after_repeat: Callable[[Any], None] | None = None  # e.g. check the page's output


def measure(settings: Settings, measurements: list[Measurement]) -> list[float]:
    """Best-of-repeats median seconds per round of each measurement.

    The repeats are interleaved (j2, LT, LT-auto, j2, LT, …) rather than run back to back, so a
    change in machine load during the run hits both sides of a ratio alike.
    """
    perf = time.perf_counter
    medians: list[list[float]] = [[] for _ in measurements]
    for _ in range(settings.repeats):
        for m, out in zip(measurements, medians, strict=True):
            page = m.make()
            gc.collect()
            samples: list[float] = []
            started = perf()
            while len(samples) < settings.max_rounds and (
                len(samples) < settings.min_rounds or perf() - started < settings.budget
            ):
                if m.reset_each_round and samples:
                    page = m.make()
                t0 = perf()
                m.step(page)
                samples.append(perf() - t0)
            if m.after_repeat is not None:
                m.after_repeat(page)
            out.append(statistics.median(samples))
    return [min(out) for out in medians]


class WorkloadRun:
    """Everything the report measures for one workload."""

    def __init__(self, workload: Workload, lt_engine: Any, settings: Settings) -> None:
        self.wl = workload
        self.lt = lt_engine
        self.settings = settings
        self.j2_tpl = jinja2_env().from_string(workload.template)
        self.lt_tpl = lt_engine.Environment().from_string(workload.template)
        self.result = Result(workload.label)

    # -- correctness -------------------------------------------------------------------------

    def expect(self, got: str, data: dict[str, Any], what: str) -> None:
        expected = self.j2_tpl.render(data)
        if got != expected:
            raise CorrectnessError(
                f"{self.wl.label}: {what} differs from Jinja2's render\n"
                + first_difference(got, expected)
            )

    def check_page(self, page: LtPage, what: str) -> None:
        self.expect(page.mounted.html(), page.data, f"{what}: Mounted.html()")
        self.expect(self.lt.to_html(page.client_tree), page.data, f"{what}: client tree")

    def correctness_and_sizes(self, with_changed: bool) -> list[tuple[int, int]]:
        """Run checked rounds; return (update bytes, changed-values bytes) per round."""
        mode = "update(changed=…)" if with_changed else "update() auto-detect"
        sizes: list[tuple[int, int]] = []
        page = LtPage(self.wl, self.lt_tpl, seed=11)
        self.check_page(page, "mount")
        for i in range(self.settings.check_rounds):
            if self.wl.reset_each_round and i:
                page = LtPage(self.wl, self.lt_tpl, seed=11 + i)
            before = snapshot(page.data)
            names = self.wl.action(page.data, page.rng)
            update = page.mounted.update(page.data, changed=names if with_changed else None)
            payload = compact_json(update)
            if payload == "{}":
                raise CorrectnessError(f"{self.wl.label}: {mode} round {i} sent {{}}")
            page.client_tree = apply_payload(page.client_tree, payload)
            self.check_page(page, f"{mode} round {i}")
            # Nothing changed since: the engine must say so, in both modes.
            idle = compact_json(
                page.mounted.update(page.data, changed=set() if with_changed else None)
            )
            if idle != "{}":
                raise CorrectnessError(
                    f"{self.wl.label}: {mode} with nothing changed sent {idle[:200]}"
                )
            sizes.append(
                (len(payload.encode()), len(changed_values_json(before, page.data).encode()))
            )
        return sizes

    # -- timing ------------------------------------------------------------------------------

    def lt_update_measurement(self, with_changed: bool) -> Measurement:
        step = lt_step(self.wl, with_changed)
        payloads: list[str] = []
        seeds = itertools.count()

        def make() -> LtPage:
            payloads.clear()
            return LtPage(self.wl, self.lt_tpl, seed=next(seeds))

        def recording_step(page: LtPage) -> None:
            # The list append sits outside step() and costs ~30 ns; it lets the repeat's real
            # updates be replayed on the client tree afterwards.
            payloads.append(step(page))

        def after(page: LtPage) -> None:
            # For reset workloads only the last round's payload belongs to this page.
            for payload in payloads[-1:] if self.wl.reset_each_round else payloads:
                page.client_tree = apply_payload(page.client_tree, payload)
            self.check_page(page, "timed run")

        return Measurement(make, recording_step, self.wl.reset_each_round, after)

    def run(self) -> Result:
        r = self.result
        r.html_bytes = len(self.j2_tpl.render(self.wl.build()).encode())

        sizes = self.correctness_and_sizes(with_changed=True)
        auto_sizes = self.correctness_and_sizes(with_changed=False)
        r.update_bytes = statistics.fmean(u for u, _ in sizes)
        r.changed_bytes = statistics.fmean(c for _, c in sizes)
        r.update_auto_bytes = statistics.fmean(u for u, _ in auto_sizes)

        j2_update = Measurement(
            lambda: Jinja2Page(self.wl, self.j2_tpl),
            jinja2_step(self.wl),
            self.wl.reset_each_round,
        )
        r.jinja2_update_us, r.lt_update_us, r.lt_update_auto_us = (
            1e6 * t
            for t in measure(
                self.settings,
                [j2_update, self.lt_update_measurement(True), self.lt_update_measurement(False)],
            )
        )

        data = self.wl.build()
        j2_tpl, lt_tpl = self.j2_tpl, self.lt_tpl
        r.jinja2_first_us, r.lt_first_us = (
            1e6 * t
            for t in measure(
                self.settings,
                [
                    Measurement(lambda: data, j2_tpl.render),
                    Measurement(lambda: data, lambda d: lt_tpl.mount(d).html()),
                ],
            )
        )
        return r


def measure_memory(workload: Workload, lt_engine: Any) -> dict[str, int]:
    """Bytes a mounted page keeps allocated, and how many GC-tracked objects it adds.

    The data is built before tracing starts, so only what ``mount`` allocates and keeps counts;
    ``html()`` is not called.  One mount of another copy runs first, so one-time costs (compiled
    code, caches) are not charged to the page.  tracemalloc sees Python's allocators, including
    ``PyMem_Malloc`` from Cython; raw ``malloc`` would be invisible to it.
    """
    tpl = lt_engine.Environment().from_string(workload.template)
    warm = tpl.mount(workload.build())
    del warm
    data = workload.build()
    gc.collect()
    objects_before = len(gc.get_objects())
    tracemalloc.start()
    mounted = tpl.mount(data)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    objects = len(gc.get_objects()) - objects_before
    del mounted
    return {"held_bytes": current, "peak_bytes": peak, "gc_objects": objects}


# -- output ----------------------------------------------------------------------------------

HEADER = (
    "workload",
    "jinja2 re-render µs",
    "LT update µs",
    "speedup",
    "LT auto µs",
    "auto speedup",
    "1st render LT÷j2",
    "update B",
    "changed B",
    "size ratio",
)


def _fmt_us(v: float) -> str:
    return f"{v:,.1f}" if v < 100 else f"{v:,.0f}"


def table(results: list[Result]) -> str:
    rows = [HEADER]
    for r in results:
        rows.append(
            (
                r.workload,
                _fmt_us(r.jinja2_update_us),
                _fmt_us(r.lt_update_us),
                f"{r.speedup:,.1f}×",
                _fmt_us(r.lt_update_auto_us),
                f"{r.speedup_auto:,.1f}×",
                f"{r.first_ratio:.2f}",
                f"{r.update_bytes:,.0f}",
                f"{r.changed_bytes:,.0f}",
                f"{r.size_ratio:.2f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        return "| " + " | ".join(cells) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


def targets(
    results: list[Result], memory: dict[str, int] | None, workloads: list[Workload] | None = None
) -> list[tuple[bool, str]]:
    """Each row's goals.  Rows with their own ``goal`` (pages as users write them) are held to
    it on the auto-detect figures: no ``changed=`` hint, as their workload defines."""
    goals = {w.label: w for w in workloads or WORKLOADS}
    checks: list[tuple[bool, str]] = []
    for r in results:
        wl = goals.get(r.workload)
        if wl is not None and wl.goal is not None:
            checks.append(
                (
                    r.speedup_auto >= wl.goal,
                    f"{r.workload}: update without a hint {r.speedup_auto:,.1f}× faster "
                    f"(target ≥ {wl.goal:g}×)",
                )
            )
            continue
        key = r.workload.split()[0]
        goal = TARGET_SPEEDUP_SMALL if key in SMALL_WORKLOADS else TARGET_SPEEDUP
        checks.append(
            (
                r.speedup >= goal,
                f"{r.workload}: update {r.speedup:,.1f}× faster (target ≥ {goal:g}×)",
            )
        )
    for r in results:
        wl = goals.get(r.workload)
        auto = wl is not None and wl.goal is not None
        ratio = r.size_ratio_auto if auto else r.size_ratio
        size_goal = wl.size_goal if wl is not None else TARGET_SIZE_RATIO
        checks.append(
            (
                ratio <= size_goal,
                f"{r.workload}: update size {ratio:.2f}× the changed values "
                f"(target ≤ {size_goal:g})",
            )
        )
    for r in results:
        checks.append(
            (
                r.first_ratio <= TARGET_FIRST_RENDER,
                f"{r.workload}: first render takes {r.first_ratio:.2f}× Jinja2's time "
                f"(target ≤ {TARGET_FIRST_RENDER:g})",
            )
        )
    if memory is not None:
        held = memory["held_bytes"]
        checks.append(
            (
                held <= TARGET_MEMORY_BYTES,
                f"{MEMORY_WORKLOAD}: mounted page holds {held / 1000:,.1f} KB "
                f"(target ≤ {TARGET_MEMORY_BYTES / 1000:g} KB)",
            )
        )
    return checks


LEGEND = """\
µs = median per action (best of repeats); both sides include the action itself.
  jinja2 re-render: action + Environment(autoescape=True) render of the whole page.
  LT update: action + Mounted.update(data, changed=names) + compact json.dumps of the update.
  LT auto: the same without `changed` (the engine detects the changes itself).
speedup = jinja2 re-render µs / LT update µs (higher is better); auto speedup likewise.
1st render LT÷j2 = time of mount()+html() over Jinja2's render (lower is better; ≤ 1 = no slower).
update B = compact JSON of the update (mean per action); changed B = compact JSON of just the
  changed data leaves keyed by path, e.g. {"todos":{"17":{"done":true}},"remaining":499};
  size ratio = update B / changed B (lower is better)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="two rounds per measurement (smoke test)"
    )
    parser.add_argument("--only", default="", help="comma-separated workload keys, e.g. W2,W3")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    try:
        import lt_engine

        # Without a built package, ``lt_engine/`` in the cwd imports as an empty namespace.
        lt_engine.Environment  # noqa: B018
    except (ImportError, AttributeError) as exc:
        print(
            f"bench.report: cannot import lt_engine ({exc}); run scripts/setup first",
            file=sys.stderr,
        )
        return 2

    settings = QUICK if args.quick else FULL
    wanted = {k.strip().upper() for k in args.only.split(",") if k.strip()}
    workloads = [w for w in WORKLOADS if not wanted or w.key.upper() in wanted]
    if not workloads:
        parser.error(f"--only {args.only!r} matches no workload")

    results: list[Result] = []
    try:
        for wl in workloads:
            started = time.perf_counter()
            results.append(WorkloadRun(wl, lt_engine, settings).run())
            print(
                f"  measured {wl.label} in {time.perf_counter() - started:.1f} s", file=sys.stderr
            )
    except CorrectnessError as exc:
        print(f"bench.report: WRONG OUTPUT, nothing measured is valid:\n{exc}", file=sys.stderr)
        return 3

    memory = None
    mem_wl = next((w for w in workloads if w.key == MEMORY_WORKLOAD), None)
    if mem_wl is not None:
        memory = measure_memory(mem_wl, lt_engine)
        next(r for r in results if r.workload == mem_wl.label).memory = memory

    print(
        f"LiveTemplate engine vs Jinja2 {_jinja2_version()} — Python {sys.version.split()[0]}"
        + (" — QUICK mode, figures are not meaningful" if args.quick else "")
    )
    print(table(results))
    print(LEGEND)
    if memory is not None:
        print(
            f"{mem_wl.label if mem_wl else ''} memory: mounted page holds "
            f"{memory['held_bytes'] / 1000:,.1f} KB after gc (peak during mount "
            f"{memory['peak_bytes'] / 1000:,.1f} KB), +{memory['gc_objects']:,} GC-tracked objects"
        )
    checks = targets(results, memory, workloads)
    print("targets:")
    for ok, text in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    for r in results:
        if r.update_auto_bytes != r.update_bytes:
            print(
                f"  note  {r.workload}: auto-detect updates average {r.update_auto_bytes:,.0f} B "
                f"vs {r.update_bytes:,.0f} B with `changed`"
            )

    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"quick": args.quick, "results": [asdict(r) for r in results]}, fh, indent=2)
    failed = sum(not ok for ok, _ in checks)
    print(f"{len(checks) - failed} of {len(checks)} targets met")
    return 1 if (args.strict and failed) else 0


def _jinja2_version() -> str:
    from importlib.metadata import version

    return version("jinja2")


if __name__ == "__main__":
    sys.exit(main())
