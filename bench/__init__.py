"""Benchmarks of the LiveTemplate engine against Jinja2 full re-rendering (see bench/README.md)."""
