"""``hotline ivr ...``: check and draw flow files, generate prompts, try a flow without a phone."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from hotline.errors import CommandError
from ivr.core.errors import FlowError
from ivr.core.messages import (
    CollectDigits,
    DigitsReceived,
    DigitTimeout,
    Event,
    Hangup,
    LookupAnswered,
    LookupWorkOrder,
    Play,
    PromptFinished,
    RecordingFinished,
    RecordMessage,
)
from ivr.core.session import IvrSession
from ivr.core.speech import cardinal, digit_string, pieces_for, tts_text
from ivr.draw import render_svg
from ivr.prompts import FORMATS, PromptError, PromptResolver, Voice, generate, load_catalog
from ivr.store import known_prompts, load_flow

logger = logging.getLogger(__name__)


def prompt_dirs(generated: str | None, override: str | None) -> tuple[Path, Path]:
    """Default directories under the data dir: ``prompts/`` (generated) and ``prompts-override/``."""
    if generated and override:
        return Path(generated), Path(override)
    from hotline.settings import load_settings

    data = load_settings().data_dir
    return Path(generated or data / "prompts"), Path(override or data / "prompts-override")


def _queues(text: str | None) -> set[str] | None:
    if text is None:
        return None
    names = {q.strip() for q in text.split(",") if q.strip()}
    if not names:
        raise CommandError("--queues: give the queue names separated by commas, e.g. general,business")
    return names


def _load(args: argparse.Namespace) -> tuple[object, set[str] | None]:
    override = Path(args.override_dir) if getattr(args, "override_dir", None) else None
    prompts = known_prompts(PromptResolver(override, None) if override else None)
    queues = _queues(getattr(args, "queues", None))
    try:
        return load_flow(Path(args.file), prompts=prompts, queues=queues), queues
    except FlowError as exc:
        print(str(exc), file=sys.stderr)
        raise CommandError(f"{args.file}: {len(exc.issues)} problem(s), the flow was not accepted", 1) from None
    except PromptError as exc:
        raise CommandError(str(exc)) from None


def _check(args: argparse.Namespace) -> int:
    flow, queues = _load(args)
    note = "" if queues is not None else " (queue names not checked: give --queues)"
    print(f"{args.file}: ok, flow {flow.name!r} with {len(flow.nodes)} nodes{note}")  # type: ignore[attr-defined]
    return 0


def _draw(args: argparse.Namespace) -> int:
    flow, _ = _load(args)
    out = Path(args.out)
    if out.suffix.lower() != ".svg":
        raise CommandError(f"--out {out}: only .svg is written; name the file X.svg")
    try:
        out.write_text(render_svg(flow), encoding="utf-8")  # type: ignore[arg-type]
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror}") from None
    print(f"wrote {out}")
    return 0


def _prompts(args: argparse.Namespace) -> int:
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    try:
        catalog = load_catalog()
        if args.list:
            for name, text in sorted(catalog.items()):
                print(f"{name}\t{text}")
            return 0
        out = Path(args.out) if args.out else prompt_dirs(None, None)[0]
        if not 80 <= args.speed <= 400:
            raise CommandError(f"--speed {args.speed}: give words per minute between 80 and 400")
        voice = Voice(name=args.voice, speed=args.speed)
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("prompts", total=len(catalog))
            result = generate(
                out, catalog, voice=voice, formats=formats, force=args.force, progress=lambda _: bar.advance(task)
            )
    except PromptError as exc:
        raise CommandError(str(exc)) from None
    print(f"{out}: {result['generated']} generated, {result['unchanged']} unchanged, formats {','.join(formats)}")
    return 0


def _say(args: argparse.Namespace) -> int:
    text = args.value.strip()
    if not text.isdigit():
        raise CommandError(f"{text!r}: give a number, e.g. 1234")
    spoken = digit_string(text, yao=not args.yi) if args.digits else cardinal(int(text))
    print(spoken)
    print(" ".join(pieces_for(spoken)))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    flow, _ = _load(args)
    try:
        now = dt.datetime.fromisoformat(args.at) if args.at else dt.datetime.now()
    except ValueError:
        raise CommandError(f"--at {args.at!r}: use ISO time, e.g. 2026-10-01T09:30") from None
    keys = list(args.keys)
    session = IvrSession(flow, args.caller, now)  # type: ignore[arg-type]
    catalog = load_catalog()
    commands = session.start()
    for _ in range(200):
        events: list[Event] = []
        for cmd in commands:
            print(f"  {type(cmd).__name__}: " + (tts_text(cmd.pieces, catalog) if isinstance(cmd, Play) else str(cmd)))
            if isinstance(cmd, CollectDigits):
                events.append(DigitsReceived(keys.pop(0)) if keys else DigitTimeout())
            elif isinstance(cmd, LookupWorkOrder):
                events.append(LookupAnswered(True, args.status))
            elif isinstance(cmd, RecordMessage):
                events.append(RecordingFinished(10.0))
        if any(isinstance(c, Play) for c in commands) and not any(isinstance(c, CollectDigits) for c in commands):
            events.insert(0, PromptFinished())
        if session.finished or not events:
            break
        commands = [c for e in events for c in session.on_event(e)]
    if not session.finished:
        session.on_event(Hangup())
    print(
        "path:",
        " → ".join(
            s.node + (f"[{s.digits}]" if s.digits else "") + (f"({s.note})" if s.note else "") for s in session.path
        ),
    )
    print("outcome:", session.outcome)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ivr", help="IVR flows and prompts (check, draw, prompts, say, simulate)")
    ivr_sub = p.add_subparsers(dest="ivr_command", metavar="SUBCOMMAND")
    ivr_sub.required = True

    def flow_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("file", help="flow file (TOML), e.g. ivr/flows/city.toml")
        q.add_argument("--queues", help="the ACD's queue names, comma separated; unknown queues are refused")
        q.add_argument("--override-dir", help="operator recordings that count as available prompts")

    q = ivr_sub.add_parser("check", help="validate a flow file; prints file:line: reason and exits 1 on errors")
    flow_args(q)
    q.set_defaults(func=_check)
    q = ivr_sub.add_parser("draw", help="draw a flow file as an SVG diagram")
    flow_args(q)
    q.add_argument("--out", required=True, help="SVG file to write")
    q.set_defaults(func=_draw)
    q = ivr_sub.add_parser("prompts", help="generate the Mandarin prompts with espeak-ng and sox")
    q.add_argument("--out", help="directory for the files (default: <data_dir>/prompts)")
    q.add_argument("--formats", default="wav", help=f"comma separated, of: {', '.join(FORMATS)} (default wav)")
    q.add_argument("--voice", default="cmn", help="espeak-ng voice (default cmn, Mandarin)")
    q.add_argument("--speed", type=int, default=150, help="words per minute (default 150)")
    q.add_argument("--force", action="store_true", help="regenerate unchanged prompts too")
    q.add_argument("--list", action="store_true", help="print the prompt list (name, text) and exit")
    q.set_defaults(func=_prompts)
    q = ivr_sub.add_parser("say", help="show how a number is spoken and which pieces play it")
    q.add_argument("value", help="a number, e.g. 1234")
    q.add_argument("--digits", action="store_true", help="digit by digit, as a phone or work-order number")
    q.add_argument("--yi", action="store_true", help="read 1 as 一 instead of 幺")
    q.set_defaults(func=_say)
    q = ivr_sub.add_parser("simulate", help="walk a flow with given keys, without a phone")
    flow_args(q)
    q.add_argument("--caller", default="13812345678", help="caller number")
    q.add_argument("--at", help="local time of the call, ISO (default now)")
    q.add_argument("--keys", nargs="*", default=[], help="key presses in order; missing ones time out")
    q.add_argument("--status", default="handling", help="work-order state the lookup answers")
    q.set_defaults(func=_simulate)
