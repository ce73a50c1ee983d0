"""``hotline bench fuzz``: the parsers at the engine's edges fed generated hostile input.

Each target takes what a stranger (or a careless administrator) can hand the engine and must
either accept it or refuse it with the parser's own error: any other exception is a crash. The
inputs come from hypothesis (random bytes and text, and mutations of valid samples); a crash is
shrunk to its smallest form and reported. ``make test`` runs a short pass of the same targets
(tests/security/test_parsers_fuzz.py); this benchmark runs as long as asked.

Targets: WeChat push bodies (the XML screen, the message parser, normalisation), AMI frames
(the engine's AMI protocol, panoramisk's underneath, feeding the phone-presence handler), the seat console's
Socket.IO payload schemas, IVR flow files, working-calendar files and the settings file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hotline.commands.bench import machine
from hotline.errors import CommandError

SAMPLES = Path(__file__).resolve().parent.parent


# -- the targets: each returns normally or raises one of the errors its parser promises ---------
def wechat_push(body: bytes) -> None:
    from xml.parsers.expat import ExpatError

    from wechatpy import parse_message

    from channels.core.inbound import BadMessage, normalise
    from channels.core.xmlguard import XmlRejected, screen_xml

    try:
        text = screen_xml(body, 65536)
    except XmlRejected:
        return
    try:
        message = parse_message(text)
    except (ExpatError, KeyError, AttributeError, TypeError, ValueError):
        return  # the webhook answers 400 "malformed" for these
    data = getattr(message, "_data", None)
    if not isinstance(data, dict):
        return
    with contextlib.suppress(BadMessage):
        normalise(data)


class _Factory:
    """What panoramisk's protocol hands events to: here the engine's phone-presence handler."""

    def __init__(self) -> None:
        from acd.service import AcdService
        from acd.voice.presence import PhonePresence
        from hotline.bus import Bus

        self.presence = PhonePresence(AcdService(Bus()))
        self.forgetable_actions: tuple[str, ...] = ()
        self.awaiting_actions: list[Any] = []

    def dispatch(self, message: Any) -> None:
        if str(message.get("Event", "")) == "ContactStatus":
            self.presence.on_contact_status(message)

    def connection_lost(self, _exc: Any) -> None:
        pass


class _Transport:
    def write(self, _data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def ami_frames(chunks: list[bytes]) -> None:
    from acd.ami import _Protocol

    async def feed() -> None:
        proto = _Protocol()
        proto.connection_made(_Transport())
        proto.factory = _Factory()
        for chunk in chunks:
            proto.data_received(chunk)
        await asyncio.sleep(0)  # presence hands a gone phone to the ACD in a task

    asyncio.run(feed())


def _console_events() -> dict[str, Any]:
    from agent_console.namespaces import AgentNamespace, SupervisorNamespace

    return {
        f"{ns.__name__}.{event}": model
        for ns in (AgentNamespace, SupervisorNamespace)
        for event, (model, _action) in ns.events.items()
    }


def console_payload(pair: tuple[str, Any]) -> None:
    from agent_console.schemas import parse

    event, data = pair
    with contextlib.suppress(ValueError):
        parse(_console_events()[event], data)


def ivr_flow(text: str) -> None:
    from ivr.core.errors import FlowError
    from ivr.core.flowfile import parse_flow

    with contextlib.suppress(FlowError):
        parse_flow(text)


def calendar_file(text: str) -> None:
    from workorders.calendar_source import CalendarFileError, parse_calendar_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "year.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        with contextlib.suppress(CalendarFileError, UnicodeError):
            parse_calendar_file(path)


def settings_file(text: str) -> None:
    from hotline.settings import SettingsError, load_settings

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hotline.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        old = {k: os.environ.get(k) for k in ("HOTLINE_CONFIG", "HOTLINE_DATA_DIR")}
        os.environ["HOTLINE_CONFIG"], os.environ["HOTLINE_DATA_DIR"] = str(path), tmp
        try:
            with contextlib.suppress(SettingsError):
                load_settings()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


# -- how to generate inputs for each ---------------------------------------------------------------
def _valid_samples() -> dict[str, list[str]]:
    flows = sorted((SAMPLES / "ivr" / "flows").glob("*.toml"))
    calendars = sorted((SAMPLES / "workorders" / "calendars").glob("*.toml"))
    return {
        "ivr_flow": [p.read_text(encoding="utf-8") for p in flows],
        "calendar_file": [p.read_text(encoding="utf-8") for p in calendars],
        "settings_file": ["[http]\nport = 8345\n[asterisk]\nrtp_start = 20000\nrtp_end = 29999\n"],
        "wechat_push": [
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>"
            "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            "<Content><![CDATA[停水了]]></Content><MsgId>1</MsgId></xml>"
        ],
        "ami_frames": [
            "Asterisk Call Manager/9.0.0\r\nEvent: ContactStatus\r\nAOR: seat1001\r\nContactStatus: Removed\r\n\r\n"
        ],
    }


def strategies() -> dict[str, Any]:
    from hypothesis import strategies as st

    samples = _valid_samples()

    def mutated(texts: list[str]) -> Any:
        """A valid sample with a slice replaced, inserted or dropped (the inputs that get far)."""

        @st.composite
        def build(draw: Any) -> str:
            base = draw(st.sampled_from(texts))
            if not base:
                return draw(st.text())
            i = draw(st.integers(0, len(base)))
            j = draw(st.integers(i, min(len(base), i + 200)))
            return base[:i] + draw(st.text(max_size=60)) + base[j:]

        return build()

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
        max_leaves=20,
    )
    event_names = sorted(_console_events())
    return {
        "wechat_push": st.one_of(st.binary(max_size=2048), mutated(samples["wechat_push"]).map(str.encode)),
        "ami_frames": st.lists(
            st.one_of(
                st.binary(max_size=300), mutated(samples["ami_frames"]).map(lambda t: t.encode("ascii", "ignore"))
            ),
            max_size=6,
        ),
        "console_payload": st.tuples(st.sampled_from(event_names), json_values),
        "ivr_flow": st.one_of(st.text(max_size=500), mutated(samples["ivr_flow"])),
        "calendar_file": st.one_of(st.text(max_size=300), mutated(samples["calendar_file"])),
        "settings_file": st.one_of(st.text(max_size=300), mutated(samples["settings_file"])),
    }


TARGETS: dict[str, Callable[[Any], None]] = {
    "wechat_push": wechat_push,
    "ami_frames": ami_frames,
    "console_payload": console_payload,
    "ivr_flow": ivr_flow,
    "calendar_file": calendar_file,
    "settings_file": settings_file,
}


def fuzz(name: str, examples: int, seed: int | None = None) -> tuple[int, list[str]]:
    """Run one target for ``examples`` generated inputs: (inputs tried, crashes as text)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    target, strategy = TARGETS[name], strategies()[name]
    tried = [0]

    def body(value: Any) -> None:
        tried[0] += 1
        target(value)

    test = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
    )(given(strategy)(body))
    if seed is not None:
        test = hseed(seed)(test)
    try:
        test()
    except Exception as exc:  # the crash, shrunk by hypothesis to its smallest input
        return tried[0], [f"{name}: {type(exc).__name__}: {exc}"[:2000]]
    return tried[0], []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", type=int, default=2000, help="inputs per target (default 2000)")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated targets (default: all)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a new one each run)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    names = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        raise CommandError(f"unknown targets {unknown}; choose from {', '.join(TARGETS)}")
    if args.examples < 1:
        raise CommandError("--examples must be at least 1")
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    from rich.console import Console
    from rich.progress import Progress

    per: dict[str, Any] = {}
    crashes: list[str] = []
    with Progress(console=Console(stderr=True)) as progress:
        task = progress.add_task("fuzzing", total=len(names))
        for name in names:
            started = time.perf_counter()
            tried, found = fuzz(name, args.examples, seed)
            per[name] = {"inputs": tried, "crashes": len(found), "seconds": round(time.perf_counter() - started, 2)}
            crashes += found
            progress.advance(task)
    result = {
        "inputs": sum(p["inputs"] for p in per.values()),
        "crashes": len(crashes),
        "seed": seed,
        "targets": per,
        "machine": machine(),
        # A crash is an input the engine lost its footing on: listed like a loss, the run fails.
        "losses": [f"crash of {c}" for c in crashes],
    }
    return result
