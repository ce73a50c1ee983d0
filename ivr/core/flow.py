"""The flow model: an immutable graph of nodes loaded from a flow file.

A ``Flow`` never changes once built, so a call in progress keeps the object it started with
while a hot reload swaps in a new one for the next calls.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    PLAY = "play"
    MENU = "menu"
    LOOKUP = "lookup"
    WORKING_DAY = "working_day"
    TIME_OF_DAY = "time_of_day"
    CALLER_LIST = "caller_list"
    QUEUE_LOAD = "queue_load"
    TAG = "tag"
    QUEUE = "queue"
    TRANSFER = "transfer"
    MESSAGE = "message"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    HANGUP = "hangup"


TERMINALS = frozenset({Kind.QUEUE, Kind.TRANSFER, Kind.MESSAGE, Kind.VOICEMAIL, Kind.CALLBACK, Kind.HANGUP})
COLLECTING = frozenset({Kind.MENU, Kind.LOOKUP})

# The work-order states (workorders.core.model.State values) the lookup reads back; each has a
# prompt ``wo_status_<state>`` in the prompt list, and any other answer reads ``wo_status_unknown``.
WORK_ORDER_STATUSES = (
    "intake", "answered", "transferred", "not_accepted", "pending_dispatch", "dispatched", "return_requested",
    "handling", "extension_requested", "leader_review", "replied", "callback", "visited", "closed", "archived", "merged",
)  # fmt: skip


@dataclass(frozen=True)
class Collect:
    max_digits: int = 1
    min_digits: int = 1
    timeout: float = 5.0
    retries: int = 2
    barge_in: bool = True
    terminator: str = "#"
    invalid_prompt: tuple[str, ...] = ("invalid_input",)
    timeout_prompt: tuple[str, ...] = ("no_input",)


@dataclass(frozen=True)
class Edge:
    label: str
    target: str
    needs_input: bool  # taken only when the caller pressed valid keys


@dataclass(frozen=True)
class Node:
    id: str
    kind: Kind
    line: int = 0
    label: str = ""
    prompt: tuple[str, ...] = ()
    next: str | None = None
    collect: Collect | None = None
    choices: tuple[tuple[str, str], ...] = ()
    on_timeout: str | None = None
    on_failure: str | None = None
    # two-way branches: working_day (yes/no), time_of_day (inside/outside), caller_list (match/other)
    yes: str | None = None
    no: str | None = None
    periods: tuple[tuple[dt.time, dt.time], ...] = ()
    list_name: str = ""
    tags: tuple[str, ...] = ()
    priority_boost: int = 0
    queue: str = ""
    skills: tuple[str, ...] = ()
    priority: int = 0
    number: str = ""
    max_seconds: int = 120
    reason: str = ""
    thanks_prompt: tuple[str, ...] = ()
    max_visits: int = 0
    on_max_visits: str | None = None
    no_number: str | None = None  # callback: where an anonymous caller goes (default: told, then hang-up)
    max_waiting: int = 0  # queue_load: overloaded when more callers wait (0: not checked)
    max_expected_wait: float = 0.0  # queue_load: overloaded when the estimate is longer (0: not checked)

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINALS

    def edges(self) -> tuple[Edge, ...]:
        out: list[Edge] = []
        if self.kind is Kind.MENU:
            out += [Edge(f"按{d}", t, True) for d, t in self.choices]
        if self.kind is Kind.LOOKUP and self.next:
            out.append(Edge("查询后", self.next, True))
        elif self.next:
            out.append(Edge("", self.next, False))
        if self.on_timeout and self.on_timeout != self.on_failure:
            out.append(Edge("超时", self.on_timeout, False))
        if self.on_failure:
            out.append(Edge("无效", self.on_failure, False))
        names = BRANCH_LABELS.get(self.kind)
        if names is not None:
            if self.yes:
                out.append(Edge(names[0], self.yes, False))
            if self.no:
                out.append(Edge(names[1], self.no, False))
        if self.no_number:
            out.append(Edge("无来电号码", self.no_number, False))
        if self.on_max_visits:
            out.append(Edge(f"超过{self.max_visits}次", self.on_max_visits, False))
        return tuple(out)


BRANCH_LABELS: dict[Kind, tuple[str, str]] = {
    Kind.WORKING_DAY: ("工作日", "非工作日"),
    Kind.TIME_OF_DAY: ("时段内", "时段外"),
    Kind.CALLER_LIST: ("在名单", "不在名单"),
    Kind.QUEUE_LOAD: ("正常", "繁忙"),
}
BRANCH_KEYS: dict[Kind, tuple[str, str]] = {
    Kind.WORKING_DAY: ("yes", "no"),
    Kind.TIME_OF_DAY: ("inside", "outside"),
    Kind.CALLER_LIST: ("match", "other"),
    Kind.QUEUE_LOAD: ("ok", "overloaded"),
}


@dataclass(frozen=True)
class QueueLoad:
    """A snapshot of one ACD queue, handed to a session when the call starts."""

    waiting: int
    expected_wait: float  # seconds
    seats_logged_in: int = 1


@dataclass(frozen=True)
class Survey:
    prompt: tuple[str, ...] = ("survey_ask",)
    invalid_prompt: tuple[str, ...] = ("survey_invalid",)
    thanks_prompt: tuple[str, ...] = ("survey_thanks",)
    timeout: float = 6.0
    retries: int = 2
    choices: tuple[tuple[str, str], ...] = (("1", "满意"), ("2", "基本满意"), ("3", "不满意"))


@dataclass(frozen=True)
class Flow:
    name: str
    start: str
    nodes: dict[str, Node] = field(hash=False)
    title: str = ""
    source: str = "<flow>"
    version: str = ""  # a digest of the source text, stored with each caller's path
    lists: dict[str, frozenset[str]] = field(default_factory=dict, hash=False)
    say_one_as_yao: bool = True
    survey: Survey = Survey()
    utc_offset_hours: int = 8  # the hotline's wall clock for time-of-day and working-day branches

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def prompt_names(self) -> set[str]:
        names: set[str] = set()
        for node in self.nodes.values():
            names.update(node.prompt)
            names.update(node.thanks_prompt)
            if node.collect is not None:
                names.update(node.collect.invalid_prompt)
                names.update(node.collect.timeout_prompt)
        names.update(self.survey.prompt + self.survey.invalid_prompt + self.survey.thanks_prompt)
        return names


def normalize_number(number: str) -> str:
    """Digits only, without the +86 / 0086 country prefix, so lists match however the trunk writes it."""
    digits = "".join(ch for ch in number if ch.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 11:
            return digits[len(prefix) :]
    return digits


def number_in_list(number: str, entries: frozenset[str]) -> bool:
    """Exact match, or a prefix match for entries ending in ``*`` (e.g. a whole area code)."""
    n = normalize_number(number)
    if not n:
        return False
    for entry in entries:
        if entry.endswith("*"):
            if n.startswith(entry[:-1]):
                return True
        elif n == entry:
            return True
    return False
