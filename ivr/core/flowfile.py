"""Parse a flow file (TOML text) into a ``Flow``; every problem is reported as file:line: reason.

Schema (see docs/ivr.md): ``[flow]`` (name, title, start, say_one_as), ``[lists]`` (caller number
lists), ``[survey]`` and one ``[nodes.ID]`` table per node with a ``type``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from typing import Any

from ivr.core.checks import check_graph
from ivr.core.errors import FlowError, Issue
from ivr.core.flow import BRANCH_KEYS, COLLECTING, Collect, Flow, Kind, Node, Survey, normalize_number
from ivr.core.locate import LineIndex

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PERIOD = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_DIALABLE = re.compile(r"^[0-9*#]+$")

_COMMON = {"type", "label", "prompt", "max_visits", "on_max_visits"}
_COLLECT_KEYS = {
    "max_digits", "min_digits", "timeout", "retries", "barge_in", "terminator",
    "invalid_prompt", "timeout_prompt", "on_timeout", "on_failure",
}  # fmt: skip
ALLOWED: dict[Kind, set[str]] = {
    Kind.PLAY: {"next"},
    Kind.MENU: {"choices"} | _COLLECT_KEYS,
    Kind.LOOKUP: {"next"} | _COLLECT_KEYS,
    Kind.WORKING_DAY: {"yes", "no"},
    Kind.TIME_OF_DAY: {"inside", "outside", "periods"},
    Kind.CALLER_LIST: {"match", "other", "list"},
    Kind.QUEUE_LOAD: {"queue", "ok", "overloaded", "max_waiting", "max_expected_wait"},
    Kind.TAG: {"next", "tags", "priority_boost"},
    Kind.QUEUE: {"queue", "skills", "priority"},
    Kind.TRANSFER: {"number"},
    Kind.MESSAGE: set(),
    Kind.VOICEMAIL: {"max_seconds", "thanks_prompt"},
    Kind.CALLBACK: {"queue", "reason", "no_number"},
    Kind.HANGUP: set(),
}
REQUIRED: dict[Kind, set[str]] = {
    Kind.PLAY: {"prompt", "next"},
    Kind.MENU: {"prompt", "choices", "on_failure"},
    Kind.LOOKUP: {"prompt", "next", "on_failure"},
    Kind.WORKING_DAY: {"yes", "no"},
    Kind.TIME_OF_DAY: {"inside", "outside", "periods"},
    Kind.CALLER_LIST: {"match", "other", "list"},
    Kind.QUEUE_LOAD: {"queue", "ok", "overloaded"},
    Kind.TAG: {"next"},
    Kind.QUEUE: {"queue"},
    Kind.TRANSFER: {"number"},
    Kind.MESSAGE: {"prompt"},
    Kind.VOICEMAIL: {"prompt"},
    Kind.CALLBACK: {"queue", "prompt"},
    Kind.HANGUP: set(),
}


class _Reader:
    """Typed access to one TOML table; wrong types become issues and a default is returned."""

    def __init__(self, data: dict[str, Any], path: tuple[str, ...], index: LineIndex, issues: list[Issue], src: str):
        self.data, self.path, self.index, self.issues, self.src = data, path, index, issues, src

    def line(self, key: str | None = None) -> int:
        return self.index.line(*self.path, key) if key else self.index.line(*self.path)

    def bad(self, key: str | None, reason: str) -> None:
        self.issues.append(Issue(self.src, self.line(key), reason))

    def bad_at(self, keys: tuple[str, ...], reason: str) -> None:
        self.issues.append(Issue(self.src, self.index.line(*self.path, *keys), reason))

    def where(self, key: str) -> str:
        return ".".join((*self.path, key))

    def text(self, key: str, default: str = "") -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            self.bad(key, f"{self.where(key)} must be a string, got {type(value).__name__}")
            return default
        return value

    def opt_text(self, key: str) -> str | None:
        return self.text(key) or None if key in self.data else None

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(key, f"{self.where(key)} must be an integer, got {type(value).__name__}")
            return default
        if not lo <= value <= hi:
            self.bad(key, f"{self.where(key)} must be between {lo} and {hi}, got {value}")
            return default
        return value

    def seconds(self, key: str, default: float, lo: float, hi: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.bad(key, f"{self.where(key)} must be a number of seconds, got {type(value).__name__}")
            return default
        if not lo <= value <= hi:
            self.bad(key, f"{self.where(key)} must be between {lo} and {hi}, got {value}")
            return default
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.bad(key, f"{self.where(key)} must be true or false, got {type(value).__name__}")
            return default
        return value

    def texts(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A string or a list of strings."""
        value = self.data.get(key, list(default))
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.bad(key, f"{self.where(key)} must be a string or a list of strings")
            return default
        return tuple(value)

    def table(self, key: str) -> dict[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            self.bad(key, f"{self.where(key)} must be a table")
            return {}
        return value


def _toml_error_line(exc: tomllib.TOMLDecodeError) -> int:
    m = re.search(r"line (\d+)", str(exc))
    return int(m.group(1)) if m else 1


def _parse_time(text: str) -> tuple[dt.time, dt.time] | None:
    m = _PERIOD.match(text.strip())
    if not m:
        return None
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 != 0):
        return None
    end = dt.time(23, 59, 59, 999999) if h2 == 24 else dt.time(h2, m2)
    return dt.time(h1, m1), end


def _collect(r: _Reader) -> Collect:
    max_digits = r.integer("max_digits", 1, 1, 32)
    min_digits = r.integer("min_digits", 1 if max_digits == 1 else max_digits, 1, 32)
    if min_digits > max_digits:
        r.bad("min_digits", f"min_digits ({min_digits}) is greater than max_digits ({max_digits})")
    terminator = r.text("terminator", "#")
    if terminator not in ("", "#", "*"):
        r.bad("terminator", f"terminator must be '#', '*' or '', got {terminator!r}")
        terminator = "#"
    return Collect(
        max_digits=max_digits,
        min_digits=min(min_digits, max_digits),
        timeout=r.seconds("timeout", 5.0, 0.5, 60.0),
        retries=r.integer("retries", 2, 0, 9),
        barge_in=r.flag("barge_in", True),
        terminator=terminator,
        invalid_prompt=r.texts("invalid_prompt", ("invalid_input",)),
        timeout_prompt=r.texts("timeout_prompt", ("no_input",)),
    )


def _node(node_id: str, data: Any, index: LineIndex, issues: list[Issue], src: str) -> Node | None:
    path = ("nodes", node_id)
    if not isinstance(data, dict):
        issues.append(Issue(src, index.line(*path), f"nodes.{node_id} must be a table"))
        return None
    r = _Reader(data, path, index, issues, src)
    if not _ID.match(node_id):
        r.bad(None, f"node id {node_id!r} must start with a letter and hold only letters, digits and _")
    type_name = data.get("type")
    try:
        kind = Kind(str(type_name))
    except ValueError:
        kinds = ", ".join(k.value for k in Kind)
        r.bad("type" if "type" in data else None, f"node {node_id}: type {type_name!r} is not one of: {kinds}")
        return None
    for key in sorted(set(data) - _COMMON - ALLOWED[kind]):
        r.bad(key, f"node {node_id}: key {key!r} does not belong to a {kind.value} node")
    for key in sorted(REQUIRED[kind] - set(data)):
        r.bad(None, f"node {node_id}: a {kind.value} node needs {key!r}")
    fields: dict[str, Any] = {
        "id": node_id,
        "kind": kind,
        "line": r.line(),
        "label": r.text("label"),
        "prompt": r.texts("prompt"),
        "max_visits": r.integer("max_visits", 0, 0, 100),
        "on_max_visits": r.opt_text("on_max_visits"),
    }
    if (fields["max_visits"] > 0) != (fields["on_max_visits"] is not None):
        r.bad("max_visits", f"node {node_id}: max_visits and on_max_visits go together")
    if "next" in ALLOWED[kind]:
        fields["next"] = r.opt_text("next")
    if kind in COLLECTING:
        fields["collect"] = _collect(r)
        fields["on_failure"] = r.opt_text("on_failure")
        fields["on_timeout"] = r.opt_text("on_timeout") or fields["on_failure"]
    if kind is Kind.MENU:
        choices: list[tuple[str, str]] = []
        for digits, target in r.table("choices").items():
            if not _DIALABLE.match(digits):
                r.bad_at(("choices", digits), f"node {node_id}: choice {digits!r} is not keypad digits (0-9 * #)")
            elif not isinstance(target, str):
                issues.append(
                    Issue(
                        src, index.line(*path, "choices", digits), f"node {node_id}: choice {digits} must name a node"
                    )
                )
            else:
                choices.append((digits, target))
        terminator = fields["collect"].terminator
        for digits, _ in choices:
            if terminator and terminator in digits:
                r.bad_at(
                    ("choices", digits),
                    f'node {node_id}: choice {digits!r} holds the terminator {terminator!r}; set terminator = ""',
                )
        longest = max((len(d) for d, _ in choices), default=1)
        if fields["collect"].max_digits < longest:
            fields["collect"] = Collect(**{**fields["collect"].__dict__, "max_digits": longest})
        fields["choices"] = tuple(choices)
    if kind in BRANCH_KEYS:
        yes_key, no_key = BRANCH_KEYS[kind]
        fields["yes"], fields["no"] = r.opt_text(yes_key), r.opt_text(no_key)
    if kind is Kind.TIME_OF_DAY:
        periods = []
        for text in r.texts("periods"):
            parsed = _parse_time(text)
            if parsed is None:
                r.bad("periods", f"node {node_id}: period {text!r} is not HH:MM-HH:MM")
            else:
                periods.append(parsed)
        fields["periods"] = tuple(periods)
    if kind is Kind.CALLER_LIST:
        fields["list_name"] = r.text("list")
    if kind is Kind.TAG:
        fields["tags"] = r.texts("tags")
        fields["priority_boost"] = r.integer("priority_boost", 0, -100, 100)
    if kind in (Kind.QUEUE, Kind.CALLBACK, Kind.QUEUE_LOAD):
        fields["queue"] = r.text("queue")
    if kind is Kind.QUEUE_LOAD:
        fields["max_waiting"] = r.integer("max_waiting", 0, 0, 100000)
        fields["max_expected_wait"] = r.seconds("max_expected_wait", 0.0, 0.0, 86400.0)
        if not fields["max_waiting"] and not fields["max_expected_wait"]:
            r.bad(None, f"node {node_id}: a queue_load node needs max_waiting or max_expected_wait")
    if kind is Kind.QUEUE:
        fields["skills"] = r.texts("skills")
        fields["priority"] = r.integer("priority", 0, -100, 100)
    if kind is Kind.TRANSFER:
        number = r.text("number")
        if number and not _DIALABLE.match(number):
            r.bad("number", f"node {node_id}: transfer number {number!r} must be digits")
        fields["number"] = number
    if kind is Kind.VOICEMAIL:
        fields["max_seconds"] = r.integer("max_seconds", 120, 5, 600)
        fields["thanks_prompt"] = r.texts("thanks_prompt", ("voicemail_thanks",))
    if kind is Kind.CALLBACK:
        fields["reason"] = r.text("reason", "callback_request")
        fields["no_number"] = r.opt_text("no_number")
    return Node(**fields)


def _survey(r: _Reader) -> Survey:
    if not r.data:
        return Survey()
    allowed = {"prompt", "invalid_prompt", "thanks_prompt", "timeout", "retries", "choices"}
    for key in sorted(set(r.data) - allowed):
        r.bad(key, f"survey: unknown key {key!r}")
    default = Survey()
    choices = default.choices
    if "choices" in r.data:
        table = r.table("choices")
        good = [(d, v) for d, v in table.items() if len(d) == 1 and d.isdigit() and isinstance(v, str)]
        if len(good) != len(table) or not good:
            r.bad("choices", 'survey.choices maps single digits to rating names, e.g. 1 = "满意"')
        choices = tuple(good) or choices
    return Survey(
        prompt=r.texts("prompt", default.prompt),
        invalid_prompt=r.texts("invalid_prompt", default.invalid_prompt),
        thanks_prompt=r.texts("thanks_prompt", default.thanks_prompt),
        timeout=r.seconds("timeout", default.timeout, 1.0, 60.0),
        retries=r.integer("retries", default.retries, 0, 9),
        choices=choices,
    )


def parse_flow(
    text: str, source: str = "<flow>", *, prompts: set[str] | None = None, queues: set[str] | None = None
) -> Flow:
    """Build and check a flow; raise ``FlowError`` listing every problem with its line.

    ``prompts``: the prompt names that exist (None: not checked); ``queues``: the ACD's queue
    names (None: not checked).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FlowError([Issue(source, _toml_error_line(exc), f"not valid TOML: {exc}")]) from None
    index = LineIndex(text)
    issues: list[Issue] = []
    top = _Reader(data, (), index, issues, source)
    for key in sorted(set(data) - {"flow", "lists", "survey", "nodes"}):
        top.bad(key, f"unknown section [{key}]; expected [flow], [lists], [survey], [nodes.ID]")
    head = _Reader(top.table("flow"), ("flow",), index, issues, source)
    for key in sorted(set(head.data) - {"name", "title", "start", "say_one_as", "utc_offset_hours"}):
        head.bad(key, f"flow: unknown key {key!r}")
    name = head.text("name") or source.rsplit("/", 1)[-1].removesuffix(".toml")
    start = head.text("start")
    if not start:
        issues.append(Issue(source, index.line("flow"), "flow.start must name the first node"))
    say_one = head.text("say_one_as", "幺")
    if say_one not in ("幺", "一"):
        head.bad("say_one_as", 'flow.say_one_as must be "幺" or "一"')
    lists: dict[str, frozenset[str]] = {}
    lr = _Reader(top.table("lists"), ("lists",), index, issues, source)
    for list_name in lr.data:
        entries = lr.texts(list_name)
        cleaned = frozenset(
            normalize_number(e) + ("*" if e.strip().endswith("*") else "") for e in entries if normalize_number(e)
        )
        if len(cleaned) != len(set(entries)):
            lr.bad(list_name, f"lists.{list_name}: every entry must be a phone number (digits, optional trailing *)")
        lists[list_name] = cleaned
    nodes: dict[str, Node] = {}
    for node_id, node_data in top.table("nodes").items():
        node = _node(node_id, node_data, index, issues, source)
        if node is not None:
            nodes[node_id] = node
    if not nodes:
        issues.append(Issue(source, index.line("nodes"), "the flow has no nodes: add [nodes.ID] tables"))
    survey = _survey(_Reader(top.table("survey"), ("survey",), index, issues, source))
    flow = Flow(
        name=name,
        title=head.text("title"),
        start=start,
        nodes=nodes,
        source=source,
        version=hashlib.sha256(text.encode()).hexdigest()[:12],
        lists=lists,
        say_one_as_yao=say_one == "幺",
        utc_offset_hours=head.integer("utc_offset_hours", 8, -12, 14),
        survey=survey,
    )
    if start and start not in nodes and nodes:
        issues.append(Issue(source, index.line("flow", "start"), f"flow.start: no node named {start!r}"))
    issues += check_graph(flow, index, prompts=prompts, queues=queues)
    if issues:
        raise FlowError(issues)
    return flow
