"""The ``livetemplate`` command (also ``python -m livetemplate``): compile, check and run.

    livetemplate compile SRC_DIR -o OUT_DIR   precompile every template (Application(compiled=))
    livetemplate check SRC_DIR                 report each template problem as path:line: message
    livetemplate run MODULE:APP [--reload]     serve with uvicorn; --reload: dev mode

Exit status: 0 success, 1 a template does not compile (``check``, ``compile``), 2 bad usage (a
missing directory, an ``--env`` that does not import). See docs/cli.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import lt_engine
from lt_engine.precompiled import (
    DEFAULT_PATTERNS,
    PrecompiledError,
    Problem,
    check_dir,
    compile_dir,
)

from .reload import APP_ENV, DEV_ENV, load_object

PROG = "livetemplate"


class UsageError(Exception):
    """Bad arguments found after parsing (exit status 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="LiveTemplate: precompile and check templates, serve an app.",
        epilog="Run `livetemplate COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def source_options(command: argparse.ArgumentParser) -> None:
        # what compile and check share: where the templates are and how to compile them
        command.add_argument("src_dir", metavar="SRC_DIR", type=Path, help="template directory")
        command.add_argument(
            "--env", metavar="MODULE:ATTR",
            help="MODULE:ATTR naming an lt_engine.Environment, an Application (its env is used)"
                 " or a function returning one: its jinja2 options and filters are used to"
                 " compile. Default: a plain Environment()")
        command.add_argument(
            "--pattern", action="append", metavar="GLOB",
            help="file name pattern of the templates (repeatable); default: "
                 + " ".join(DEFAULT_PATTERNS))
        command.add_argument("-q", "--quiet", action="store_true", help="print problems only")

    compile_ = commands.add_parser(
        "compile", help="precompile templates into importable Python modules",
        description="Compile every template under SRC_DIR into OUT_DIR, a Python package that"
                    " Application(compiled=OUT_DIR) loads without parsing. The output is"
                    " deterministic and records the sha256 of every source of every template."
                    " Nothing is written when a template does not compile.",
    )
    source_options(compile_)
    compile_.add_argument("-o", "--output", metavar="OUT_DIR", type=Path, required=True,
                          help="output directory (created; its old generated modules replaced)")
    compile_.set_defaults(func=cmd_compile)

    check = commands.add_parser(
        "check", help="validate templates (path:line: message; exit 1 on any problem)",
        description="Compile every template under SRC_DIR without writing anything and print"
                    " each problem as path:line: message. Exit status 1 when there is any:"
                    " usable in CI and pre-commit hooks.",
    )
    source_options(check)
    check.set_defaults(func=cmd_check)

    run = commands.add_parser(
        "run", help="serve an ASGI app with uvicorn (--reload: dev mode)",
        description="Serve MODULE:APP with uvicorn. With --reload (dev mode): an edited template"
                    " is compiled again and open pages get it without a browser reload, keeping"
                    " their state; stale precompiled templates are compiled from source; a"
                    " changed .py file restarts the server.",
    )
    run.add_argument("app", metavar="MODULE:APP", help="the ASGI app, e.g. myapp.main:app")
    run.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    run.add_argument("--reload", action="store_true", help="dev mode (see above)")
    run.add_argument("--app-dir", default=".", metavar="DIR",
                     help="folder to import MODULE from (default: the current one)")
    run.add_argument("--log-level", default="info",
                     choices=["critical", "error", "warning", "info", "debug", "trace"])
    run.set_defaults(func=cmd_run)
    return parser


def cmd_compile(args: argparse.Namespace) -> int:
    env = resolve_env(args.env)
    src = _src_dir(args.src_dir)
    try:
        result = compile_dir(env, src, args.output, args.pattern or DEFAULT_PATTERNS)
    except PrecompiledError as exc:
        raise UsageError(str(exc)) from None
    if result.problems:
        _print_problems(result.problems, sys.stderr)
        print(f"{PROG} compile: {len(result.problems)} problem(s); {args.output} left as it was",
              file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"compiled {len(result.templates)} template(s) from {src} into {args.output}:"
              f" {len(result.written)} file(s) written, {len(result.removed)} removed")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    env = resolve_env(args.env)
    src = _src_dir(args.src_dir)
    names, problems = check_dir(env, src, args.pattern or DEFAULT_PATTERNS)
    _print_problems(problems, sys.stdout)
    if not args.quiet:
        print(f"{len(names)} template(s) checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn  # an optional dependency, needed by this command only

    app_dir = os.path.abspath(args.app_dir)
    options: dict[str, Any] = {"host": args.host, "port": args.port, "app_dir": app_dir,
                               "log_level": args.log_level}
    if not args.reload:
        uvicorn.run(args.app, **options)
        return 0
    # uvicorn's reloader restarts the server process when a .py file changes; the process it
    # starts imports the app through dev_app, which also watches the templates.
    os.environ[DEV_ENV] = "1"
    os.environ[APP_ENV] = args.app
    uvicorn.run("livetemplate.reload:dev_app", factory=True, reload=True,
                reload_dirs=[app_dir], **options)
    return 0


def resolve_env(spec: str | None) -> lt_engine.Environment:
    """The environment ``--env`` names (see its help), or a default one."""
    if spec is None:
        return lt_engine.Environment()
    try:
        obj = load_object(spec)
    except ValueError as exc:
        raise UsageError(f"--env: {exc}") from None
    for _ in range(2):  # the object, or what calling it returns
        if isinstance(obj, lt_engine.Environment):
            return obj
        if isinstance(getattr(obj, "env", None), lt_engine.Environment):
            return obj.env
        if not callable(obj):
            break
        obj = obj()
    raise UsageError(f"--env {spec}: expected an lt_engine.Environment, an Application or a"
                     f" function returning one, got {type(obj).__name__}")


def _src_dir(path: Path) -> Path:
    if not path.is_dir():
        raise UsageError(f"template directory {path} does not exist")
    return path


def _print_problems(problems: Sequence[Problem], stream: Any) -> None:
    for problem in problems:
        print(Problem(_display(problem.path), problem.line, problem.message), file=stream)


def _display(path: str) -> str:
    # Relative to the current folder when inside it: what editors and CI annotations expect.
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if relative.startswith("..") else relative


def _version() -> str:
    try:
        return version("livetemplate")
    except PackageNotFoundError:
        return "(not installed)"
