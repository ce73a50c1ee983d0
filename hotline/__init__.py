"""Composition root: settings, CLI, storage and the HTTP app."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hotline12345")
except PackageNotFoundError:  # running from a checkout without install
    __version__ = "0.0.0"
