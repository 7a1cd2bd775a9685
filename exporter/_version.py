"""The installed package's version, in a module of its own so that any module can read it
without importing the package (no back-edge to ``exporter/__init__``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llm-exporter")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"
