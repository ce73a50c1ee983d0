"""Small flow files for the tests, built as TOML text so line numbers are real."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

from ivr.core.flow import Flow
from ivr.core.flowfile import parse_flow
from ivr.core.speech import PIECE_TEXTS

ROOT = Path(__file__).resolve().parents[3]
CITY = ROOT / "ivr" / "flows" / "city.toml"
MINIMAL = ROOT / "ivr" / "flows" / "minimal.toml"
CATALOG = set(tomllib.loads((ROOT / "ivr" / "prompts.toml").read_text())["prompts"]) | set(PIECE_TEXTS)
QUEUES = {"general", "business", "dialect"}
CST = dt.timezone(dt.timedelta(hours=8))

HEAD = """\
[flow]
name = "t"
start = "{start}"

[lists]
blocked = ["13000000000", "0551*"]
vip = ["+86 139 0000 0000"]
"""


def flow(nodes: str, start: str = "a", **kw: object) -> Flow:
    return parse_flow(HEAD.format(start=start) + nodes, "t.toml", **kw)  # type: ignore[arg-type]


def city() -> Flow:
    return parse_flow(CITY.read_text(), str(CITY), prompts=CATALOG, queues=QUEUES)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)
