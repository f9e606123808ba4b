"""Builds the Cython core of lt_engine; all metadata lives in pyproject.toml.

On Linux the extension is linked stripped (``-s``): its debug symbols are ~90 % of the file
(4.35 MB -> ~0.5 MB) and no user reads them.  ``LT_ENGINE_KEEP_SYMBOLS=1`` keeps them, for
profiling the core with perf or gdb.
"""

import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

STRIP = sys.platform.startswith("linux") and not os.environ.get("LT_ENGINE_KEEP_SYMBOLS")

setup(
    ext_modules=cythonize(
        [Extension("lt_engine._core", ["lt_engine/_core.pyx"],
                   extra_link_args=["-s"] if STRIP else [])],
        compiler_directives={"language_level": "3"},
    ),
)
