"""The IVR interpreter for one call: events in, commands out, no I/O and no clock reads.

States and the events each accepts are a table; any other pair raises ``IllegalEvent``.
Every path ends in an action (queue, transfer, message + hang-up, recording, callback), so a
caller is never left in silence: invalid or missing digits follow the node's retries and
then its ``on_timeout`` / ``on_failure`` branch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ivr.core.errors import IllegalEvent
from ivr.core.flow import WORK_ORDER_STATUSES, Flow, Kind, Node, QueueLoad, normalize_number, number_in_list
from ivr.core.messages import (
    CollectDigits,
    Command,
    DigitsReceived,
    DigitTimeout,
    Enqueue,
    Event,
    Hangup,
    LookupAnswered,
    LookupWorkOrder,
    Play,
    PromptFinished,
    PromptRef,
    RecordingFinished,
    RecordMessage,
    RequestCallback,
    Say,
    Transfer,
)
from ivr.core.speech import digit_string

WorkingDay = Callable[[dt.date], bool]
MAX_STEPS = 500  # automatic steps per event; the validator forbids unbounded loops, this is a backstop


class State(StrEnum):
    IDLE = "idle"
    PLAYING = "playing"  # a play node's prompt; PromptFinished moves on
    COLLECTING = "collecting"  # menu or lookup: prompt and digit collection
    LOOKING_UP = "looking_up"  # waiting for the work-order lookup's answer
    READING_BACK = "reading_back"  # the lookup result is being read
    RECORDING = "recording"  # voice message
    CLOSING = "closing"  # the last prompt before the terminal action
    HANDED_OFF = "handed_off"  # queue or transfer: the call is no longer the IVR's
    ENDED = "ended"


# state -> event type -> handler; a pair missing here is illegal
TABLE: dict[State, dict[type[Any], str]] = {
    State.IDLE: {Hangup: "_on_hangup"},
    State.PLAYING: {PromptFinished: "_on_played", DigitsReceived: "_ignore", Hangup: "_on_hangup"},
    State.COLLECTING: {
        PromptFinished: "_ignore",
        DigitsReceived: "_on_digits",
        DigitTimeout: "_on_timeout",
        Hangup: "_on_hangup",
    },
    State.LOOKING_UP: {LookupAnswered: "_on_lookup", DigitsReceived: "_ignore", Hangup: "_on_hangup"},
    State.READING_BACK: {PromptFinished: "_on_read_back", DigitsReceived: "_ignore", Hangup: "_on_hangup"},
    State.RECORDING: {RecordingFinished: "_on_recorded", Hangup: "_on_hangup"},
    State.CLOSING: {PromptFinished: "_on_closed", DigitsReceived: "_ignore", Hangup: "_on_hangup"},
    State.HANDED_OFF: {Hangup: "_on_hangup"},
    State.ENDED: {Hangup: "_ignore"},
}


def _chinese_calendar(day: dt.date) -> bool:
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # the calendar package does not cover this year yet: weekdays only (provisional)
        return day.weekday() < 5


@dataclass(frozen=True)
class PathStep:
    node: str
    kind: str
    digits: str | None = None
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"node": self.node, "kind": self.kind}
        if self.digits is not None:
            out["digits"] = self.digits
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PathStep:
        digits = d.get("digits")
        return cls(str(d["node"]), str(d["kind"]), None if digits is None else str(digits), str(d.get("note", "")))


@dataclass
class IvrSession:
    """One caller's way through a flow; ``path`` and ``outcome`` go on the interaction record."""

    flow: Flow
    caller: str
    now: dt.datetime
    calendar: WorkingDay | None = None
    queue_load: Mapping[str, QueueLoad] = field(default_factory=dict)  # the ACD's snapshot at call start
    state: State = State.IDLE
    path: list[PathStep] = field(default_factory=list)
    outcome: str = ""
    tags: list[str] = field(default_factory=list)
    priority_boost: int = 0
    _node: Node | None = None
    _attempts: int = 0
    _visits: dict[str, int] = field(default_factory=dict)
    _closing: list[Command] = field(default_factory=list)
    _lookup_number: str = ""
    # Where the caller is: the node acting now and what came before it, as data. An engine that
    # takes over a caller in the menu goes on from here (``resume``), not from the start.
    checkpoint: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.calendar is None:
            self.calendar = _chinese_calendar

    # -- driving ------------------------------------------------------------------------------

    def start(self) -> list[Command]:
        if self.state is not State.IDLE:
            raise IllegalEvent(f"start() in state {self.state}")
        return self._enter(self.flow.start)

    def resume(self, checkpoint: Mapping[str, Any], prompt: str = "again") -> list[Command]:
        """Start at a ``checkpoint`` another session of the same flow left; the path, tags and
        visits before it are kept. The node acts again, except that a node whose only command
        is its prompt (a greeting, a queue's or a message's words) takes ``prompt`` into
        account: "playing" (the prompt the other session started still plays: its end is
        waited for), "heard" (it played to its end: the node goes on), "again" (unknown: it is
        played again). A menu's prompt is always played again, its keys asked again. A
        checkpoint of another flow or version, or not readable, starts the flow from its
        beginning."""
        if self.state is not State.IDLE:
            raise IllegalEvent(f"resume() in state {self.state}")
        try:
            if checkpoint.get("flow") != self.flow.name or checkpoint.get("version") != self.flow.version:
                raise ValueError("another flow")
            node = self.flow.node(str(checkpoint["node"]))
            path = [PathStep.from_dict(d) for d in checkpoint.get("path") or []]
            tags = [str(t) for t in checkpoint.get("tags") or []]
            boost = int(checkpoint.get("boost") or 0)
            visits = {str(k): int(v) for k, v in dict(checkpoint.get("visits") or {}).items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            return self.start()
        self.path, self.tags, self.priority_boost, self._visits = path, tags, boost, visits
        self._node, self._attempts = node, 0
        self.checkpoint = dict(checkpoint)
        commands = self._act(node)
        if len(commands) == 1 and isinstance(commands[0], Play) and self.state in (State.PLAYING, State.CLOSING):
            if prompt == "playing":
                return []
            if prompt == "heard":
                return self.on_event(PromptFinished())
        return commands

    def on_event(self, event: Event) -> list[Command]:
        handler = TABLE[self.state].get(type(event))
        if handler is None:
            raise IllegalEvent(f"{type(event).__name__} in state {self.state} (node {self.node_id})")
        result: list[Command] = getattr(self, handler)(event)
        return result

    @property
    def node_id(self) -> str:
        return self._node.id if self._node else ""

    @property
    def local_now(self) -> dt.datetime:
        """``now`` on the hotline's wall clock: an aware time is converted, a naive one is taken as local."""
        if self.now.tzinfo is None:
            return self.now
        return self.now.astimezone(dt.timezone(dt.timedelta(hours=self.flow.utc_offset_hours)))

    @property
    def finished(self) -> bool:
        return self.state in (State.HANDED_OFF, State.ENDED)

    def record(self) -> dict[str, Any]:
        """What the interaction record keeps: flow and version, the path, the outcome."""
        return {
            "flow": self.flow.name,
            "flow_version": self.flow.version,
            "path": [s.as_dict() for s in self.path],
            "outcome": self.outcome,
            "tags": list(self.tags),
        }

    # -- moving between nodes --------------------------------------------------------------------

    def _enter(self, node_id: str) -> list[Command]:
        for _ in range(MAX_STEPS):
            node = self.flow.node(node_id)
            visits = self._visits.get(node_id, 0) + 1
            self._visits[node_id] = visits
            if node.max_visits and visits > node.max_visits and node.on_max_visits:
                self.path.append(PathStep(node.id, node.kind.value, note="max_visits"))
                node_id = node.on_max_visits
                continue
            self._node, self._attempts = node, 0
            nxt = self._branch(node)
            if nxt is None:
                self.checkpoint = {
                    "flow": self.flow.name,
                    "version": self.flow.version,
                    "node": node.id,
                    "path": [p.as_dict() for p in self.path],
                    "tags": list(self.tags),
                    "boost": self.priority_boost,
                    "visits": dict(self._visits),
                }
                return self._act(node)
            node_id = nxt
        raise RuntimeError(f"flow {self.flow.name}: more than {MAX_STEPS} steps without the caller")

    def _branch(self, node: Node) -> str | None:
        """Nodes decided without the caller: return the next node id, or None to act."""
        if node.kind is Kind.WORKING_DAY:
            assert self.calendar is not None
            taken = self.calendar(self.local_now.date())
        elif node.kind is Kind.TIME_OF_DAY:
            taken = _in_periods(self.local_now.time(), node)
        elif node.kind is Kind.QUEUE_LOAD:
            # no snapshot for the queue: let the caller in rather than turn them away on a guess
            load = self.queue_load.get(node.queue)
            busy = load is not None and (
                load.seats_logged_in == 0
                or (node.max_waiting > 0 and load.waiting >= node.max_waiting)
                or (node.max_expected_wait > 0 and load.expected_wait >= node.max_expected_wait)
            )
            self.path.append(PathStep(node.id, node.kind.value, note="overloaded" if busy else "ok"))
            target = node.no if busy else node.yes
            assert target is not None
            return target
        elif node.kind is Kind.CALLER_LIST:
            taken = number_in_list(self.caller, self.flow.lists.get(node.list_name, frozenset()))
        elif node.kind is Kind.TAG:
            self.tags.extend(t for t in node.tags if t not in self.tags)
            self.priority_boost += node.priority_boost
            self.path.append(PathStep(node.id, node.kind.value))
            assert node.next is not None
            return node.next
        else:
            return None
        self.path.append(PathStep(node.id, node.kind.value, note="yes" if taken else "no"))
        target = node.yes if taken else node.no
        assert target is not None
        return target

    def _prompts(self, names: tuple[str, ...]) -> tuple[PromptRef, ...]:
        return tuple(PromptRef(n) for n in names)

    def _act(self, node: Node) -> list[Command]:
        kind = node.kind
        if kind in (Kind.MENU, Kind.LOOKUP):
            self.state = State.COLLECTING
            return self._ask(self._prompts(node.prompt))
        self.path.append(PathStep(node.id, kind.value))
        if kind is Kind.PLAY:
            self.state = State.PLAYING
            return [Play(self._prompts(node.prompt))]
        if kind is Kind.QUEUE:
            action: Command = Enqueue(node.queue, node.skills, node.priority + self.priority_boost)
            self.outcome = f"queue:{node.queue}"
        elif kind is Kind.TRANSFER:
            action = Transfer(node.number)
            self.outcome = f"transfer:{node.number}"
        elif kind is Kind.VOICEMAIL:
            action = RecordMessage(node.max_seconds)
            self.outcome = "voicemail"
        elif kind is Kind.CALLBACK:
            number = normalize_number(self.caller)
            self.state = State.CLOSING
            self._closing = [Hangup()]
            if not number:  # nobody to call back: say so, or go where the flow says
                self.path[-1] = PathStep(node.id, kind.value, note="no_number")
                if node.no_number:
                    return self._enter(node.no_number)
                self.outcome = "callback_no_number"
                return [Play((PromptRef("callback_no_number"),))]
            self.outcome = f"callback:{node.queue}"
            said = (Say(digit_string(number, yao=self.flow.say_one_as_yao)),)
            return [
                RequestCallback(self.caller, node.queue, node.reason),
                Play(self._prompts(node.prompt) + said),
            ]
        else:  # message and hang-up
            action = Hangup()
            self.outcome = kind.value
        if node.prompt:
            self.state = State.CLOSING
            self._closing = [action]
            return [Play(self._prompts(node.prompt))]
        return self._finish([action])

    def _finish(self, commands: list[Command]) -> list[Command]:
        last = commands[-1]
        if isinstance(last, Enqueue | Transfer):
            self.state = State.HANDED_OFF
        elif isinstance(last, RecordMessage):
            self.state = State.RECORDING
        else:
            self.state = State.ENDED
        return commands

    def _ask(self, prompt: tuple[PromptRef, ...]) -> list[Command]:
        assert self._node is not None and self._node.collect is not None
        c = self._node.collect
        return [Play(prompt, barge_in=c.barge_in), CollectDigits(c.max_digits, c.timeout, c.terminator)]

    # -- handlers ----------------------------------------------------------------------------

    def _ignore(self, event: Event) -> list[Command]:
        return []

    def _on_hangup(self, event: Event) -> list[Command]:
        if not self.finished:
            self.outcome = self.outcome or "caller_hangup"
            self.path.append(PathStep(self.node_id, "hangup", note="caller"))
        self.state = State.ENDED
        return []

    def _on_played(self, event: Event) -> list[Command]:
        assert self._node is not None and self._node.next is not None
        return self._enter(self._node.next)

    def _on_closed(self, event: Event) -> list[Command]:
        return self._finish(self._closing)

    def _on_recorded(self, event: Event) -> list[Command]:
        assert self._node is not None
        self.state = State.CLOSING
        self._closing = [Hangup()]
        return [Play(self._prompts(self._node.thanks_prompt))]

    def _on_digits(self, event: Event) -> list[Command]:
        assert isinstance(event, DigitsReceived) and self._node is not None and self._node.collect is not None
        node, c = self._node, self._node.collect
        digits = event.digits.removesuffix(c.terminator) if c.terminator else event.digits
        if node.kind is Kind.MENU:
            target = dict(node.choices).get(digits)
            if target is not None:
                self.path.append(PathStep(node.id, node.kind.value, digits=digits))
                return self._enter(target)
        elif digits.isdigit() and digits.isascii() and c.min_digits <= len(digits) <= c.max_digits:
            self.path.append(PathStep(node.id, node.kind.value, digits=digits))
            self.state = State.LOOKING_UP
            self._lookup_number = digits
            return [LookupWorkOrder(digits)]
        self.path.append(PathStep(node.id, node.kind.value, digits=digits, note="invalid"))
        return self._retry(c.invalid_prompt, node.on_failure)

    def _on_timeout(self, event: Event) -> list[Command]:
        assert self._node is not None and self._node.collect is not None
        self.path.append(PathStep(self._node.id, self._node.kind.value, note="timeout"))
        return self._retry(self._node.collect.timeout_prompt, self._node.on_timeout)

    def _retry(self, complaint: tuple[str, ...], fallback: str | None) -> list[Command]:
        assert self._node is not None and self._node.collect is not None
        self._attempts += 1
        if self._attempts <= self._node.collect.retries:
            return self._ask(self._prompts(complaint + self._node.prompt))
        assert fallback is not None
        return self._enter(fallback)

    def _on_lookup(self, event: Event) -> list[Command]:
        assert isinstance(event, LookupAnswered) and self._node is not None
        number = Say(digit_string(self._lookup_number, yao=self.flow.say_one_as_yao))
        if event.found:
            status = event.status if event.status in WORK_ORDER_STATUSES else "unknown"
            pieces: tuple[PromptRef | Say, ...] = (
                PromptRef("wo_readback"), number, PromptRef(f"wo_status_{status}"),
            )  # fmt: skip
            self.path.append(PathStep(self._node.id, "lookup_result", note=status))
        else:
            pieces = (PromptRef("wo_readback"), number, PromptRef("wo_not_found"))
            self.path.append(PathStep(self._node.id, "lookup_result", note="not_found"))
        self.state = State.READING_BACK
        return [Play(pieces)]

    def _on_read_back(self, event: Event) -> list[Command]:
        assert self._node is not None and self._node.next is not None
        return self._enter(self._node.next)


def _in_periods(t: dt.time, node: Node) -> bool:
    for start, end in node.periods:
        if start <= end:
            if start <= t < end:
                return True
        elif t >= start or t < end:  # a period across midnight, e.g. 22:00-06:00
            return True
    return False
