"""The ``hotline`` console script.

Each feature package (``hotline.features.FEATURES``) may hold a ``cli.py`` with
``register(subparsers)``; a feature adds its commands without editing this file.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from hotline import __version__, features
from hotline.errors import CommandError
from hotline.settings import SettingsError

logger = logging.getLogger(__name__)

CORE_COMMANDS = (
    "hotline.commands.user",
    "hotline.commands.run",
    "hotline.commands.sandbox",
    "hotline.commands.db",
    "hotline.commands.outbox",
    "hotline.commands.cluster",
    "hotline.commands.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="12345 政务服务便民热线 contact-center engine")
    parser.add_argument("--version", action="version", version=f"hotline {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in CORE_COMMANDS:
        importlib.import_module(name).register(sub)
    for module in features.commands():
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except (SettingsError, CommandError) as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
