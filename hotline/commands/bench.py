"""``hotline bench NAME [--json] [options]``: run one benchmark from the ``bench`` package.

A benchmark is a module ``bench/<name>.py`` with ``run(args) -> dict`` and optionally
``add_arguments(parser)``. Progress goes to stderr; the result is printed last on stdout,
as one JSON object on one line with ``--json``, or as a table otherwise.

A benchmark that counts messages, calls or contacts lists under ``losses`` every one it lost
(what and where, one line each): after the result is printed, those lines go to stderr and the
command exits non-zero. A loss is never only a number in a table.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
from typing import Any

from hotline.errors import CommandError


def available() -> list[str]:
    import bench

    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="run a benchmark (hotline bench NAME --json)")
    p.add_argument("name", help="benchmark name: " + ", ".join(available()))
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of the benchmark")
    p.set_defaults(func=_run)


def machine() -> dict[str, Any]:
    import os

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def _run(args: argparse.Namespace) -> int:
    names = available()
    if args.name not in names:
        raise CommandError(f"no benchmark named {args.name!r}; choose one of: {', '.join(names)}", 2)
    rest = list(args.rest)
    if "--json" in rest:  # `hotline bench NAME --json`: the flag may come after the name
        rest.remove("--json")
        args.json = True
    module = importlib.import_module(f"bench.{args.name}")
    parser = argparse.ArgumentParser(prog=f"hotline bench {args.name}")
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
    bench_args = parser.parse_args(rest)
    result: dict[str, Any] = module.run(bench_args)
    if args.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, sort_keys=False) + "\n")
    else:
        for key, value in result.items():
            print(f"{key:>24}: {json.dumps(value, ensure_ascii=False)}")
    sys.stdout.flush()
    losses = result.get("losses") or []
    if losses:
        for line in losses:
            print(f"LOST {line}", file=sys.stderr)
        where = f" (kept for inspection: {result['run_dir']})" if result.get("run_dir") else ""
        raise CommandError(f"benchmark {args.name}: {len(losses)} loss lines above{where}", 1)
    return 0
