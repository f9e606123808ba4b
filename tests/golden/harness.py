"""Environments for a golden case: jinja2 (the oracle) and lt_engine, with the same options."""

from __future__ import annotations

from typing import Any

import jinja2

import lt_engine


def shout(value: str) -> str:
    """A user-registered filter, to show those work like built-ins."""
    return str(value).upper() + "!"


def environments(case: dict[str, Any]) -> tuple[jinja2.Template, lt_engine.Template]:
    templates = case.get("templates") or {"main": case["source"]}
    options = case.get("options", {})
    loader = jinja2.DictLoader(templates)
    jenv = jinja2.Environment(loader=loader, autoescape=True, **options)
    lenv = lt_engine.Environment(loader=loader, **options)
    for env in (jenv, lenv):
        env.filters["shout"] = shout
    return jenv.get_template("main"), lenv.get_template("main")
