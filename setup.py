"""Builds the Cython core of lt_engine; all metadata lives in pyproject.toml."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("lt_engine._core", ["lt_engine/_core.pyx"])],
        compiler_directives={"language_level": "3"},
    ),
)
