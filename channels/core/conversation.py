"""Life of one chat conversation (WeChat or web chat) as a transition table.

``window_closed`` is WeChat's 48-hour customer-service window (errcode 45015): the seat
cannot write until the citizen writes again, which re-queues the conversation. A pair
missing from the table is a bug in the caller and raises.
"""

from __future__ import annotations

from typing import Final, Literal

State = Literal["queued", "assigned", "window_closed", "closed"]
Event = Literal["citizen_message", "seat_assigned", "seat_reply", "transfer", "window_expired", "close"]

STATES: Final[tuple[State, ...]] = ("queued", "assigned", "window_closed", "closed")

TRANSITIONS: Final[dict[str, dict[str, State]]] = {
    "queued": {
        "citizen_message": "queued",
        "seat_assigned": "assigned",
        "window_expired": "window_closed",
        "close": "closed",
    },
    "assigned": {
        "citizen_message": "assigned",
        "seat_reply": "assigned",
        "seat_assigned": "assigned",  # a transfer straight to a named seat
        "transfer": "queued",
        "window_expired": "window_closed",
        "close": "closed",
    },
    "window_closed": {
        "citizen_message": "queued",
        "close": "closed",
    },
    "closed": {},
}

# What a seat's console shows for each state (Chinese UI text).
LABELS: Final[dict[State, str]] = {
    "queued": "排队中",
    "assigned": "处理中",
    "window_closed": "已超出48小时回复时限，待市民再次发消息",
    "closed": "已结束",
}


class IllegalTransition(ValueError):
    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"conversation in state {state!r} cannot take event {event!r}")
        self.state = state
        self.event = event


def next_state(state: str, event: str) -> State:
    row = TRANSITIONS.get(state)
    if row is None:
        raise IllegalTransition(state, event)
    target: State | None = row.get(event)
    if target is None:
        raise IllegalTransition(state, event)
    return target


def accepts_citizen(state: str) -> bool:
    """A closed conversation takes no more messages: the next one starts a new conversation."""
    return "citizen_message" in TRANSITIONS.get(state, {})
