"""Commands: ``hotline kb import FILE``, ``hotline kb export FILE``, ``hotline kb search "问题"``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from hotline.errors import CommandError
from hotline.settings import load_settings
from knowledge.core.model import Actor

T = TypeVar("T")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("kb", help="knowledge base (热线百科): import, export, search")
    ksub = p.add_subparsers(dest="kb_command", metavar="ACTION")
    ksub.required = True
    imp = ksub.add_parser("import", help="import entries from a JSON Lines file (idempotent by id)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--as", dest="actor", default="import", help="name recorded in the versions")
    imp.set_defaults(func=_import)
    exp = ksub.add_parser("export", help="export published and expired entries as JSON Lines ('-': stdout)")
    exp.add_argument("file")
    exp.set_defaults(func=_export)
    s = ksub.add_parser("search", help="search as a seat would (expired entries marked)")
    s.add_argument("query")
    s.add_argument("--scope", help="the caller's district: its entries rank higher")
    s.add_argument("--public", action="store_true", help="search as a citizen (no expired entries)")
    s.add_argument("--limit", type=int, default=5)
    s.add_argument("--json", action="store_true", help='last line: {"results": [...]}')
    s.set_defaults(func=_search)
    from knowledge.requests_kpi import register_cli

    register_cli()  # the units' knowledge figures in `hotline kpi`


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    from hotline.storage import make_engine
    from knowledge.services import KnowledgeService
    from knowledge.settings import load_knowledge_settings

    async def go() -> T:
        settings = load_settings()
        engine = make_engine(settings.effective_database_url)
        svc = KnowledgeService(engine, load_knowledge_settings(settings))
        try:
            await svc.start()
            return await work(svc)
        finally:
            await svc.close()
            await engine.dispose()

    try:
        return asyncio.run(go())
    except (OSError, SQLAlchemyError) as exc:
        raise CommandError(f"database error ({type(exc).__name__}: {exc}); run `hotline db upgrade` first") from None


def _import(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    try:
        lines = args.file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{args.file}: cannot read ({exc})", 2) from None
    console = Console(stderr=True)
    with Progress(TextColumn("import"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as progress:
        task = progress.add_task("import", total=len(lines))
        report = _run(
            lambda svc: svc.import_lines(
                lines, Actor(args.actor, "admin"), lambda n: progress.update(task, completed=n)
            )
        )
    for refused in report.refused:
        print(f"{args.file}: {refused}", file=sys.stderr)
    print(
        f"{args.file}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged,"
        f" {len(report.refused)} refused"
    )
    return 1 if report.refused else 0


def _export(args: argparse.Namespace) -> int:
    async def go(svc: Any) -> int:
        out = sys.stdout if args.file == "-" else open(args.file, "w", encoding="utf-8")  # noqa: SIM115
        n = 0
        try:
            async for line in svc.export_lines():
                out.write(line + "\n")
                n += 1
        finally:
            if out is not sys.stdout:
                out.close()
        return n

    try:
        n = _run(go)
    except OSError as exc:
        raise CommandError(f"{args.file}: cannot write ({exc})", 2) from None
    print(f"{n} entries exported", file=sys.stderr if args.file == "-" else sys.stdout)
    return 0


def _search(args: argparse.Namespace) -> int:
    res = _run(lambda svc: svc.search(args.query, args.scope, "public" if args.public else "seat", args.limit))
    if res.cut:
        print(f"(query cut to {len(res.query)} characters)", file=sys.stderr)
    if args.json:
        results = [
            {"id": h.id, "score": h.score, "question": h.question, "scope": h.scope, "expired": h.expired}
            for h in res.hits
        ]
        print(json.dumps({"results": results, "took_ms": res.ms}, ensure_ascii=False))
        return 0
    if not res.hits:
        print("no entry found")
    for i, h in enumerate(res.hits, 1):
        mark = " [expired]" if h.expired else ""
        print(f"{i:>2}. {h.score:8.3f}  {h.id}  {h.question}  ({h.scope}){mark}")
    return 0
