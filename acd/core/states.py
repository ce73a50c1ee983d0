"""Seat and contact life cycles as tables: state -> {action -> next state}.

The engine names the action (it knows whether a seat still holds other contacts, whether
a pause is pending...); the table alone says where that leads. A pair missing from a table
is a bug in the caller or the adapter and raises :class:`IllegalTransition`.
"""

from __future__ import annotations

from typing import Final

# Seat states
LOGGED_OUT: Final = "logged_out"
NOT_READY: Final = "not_ready"
READY: Final = "ready"
RESERVED: Final = "reserved"
BUSY: Final = "busy"
WRAP_UP: Final = "wrap_up"

SEAT_STATES: Final = (LOGGED_OUT, NOT_READY, READY, RESERVED, BUSY, WRAP_UP)

# "pause" in a working state only records a pending not_ready that takes effect when the
# seat has finished its contacts; "resume" cancels it.
SEAT_TABLE: Final[dict[str, dict[str, str]]] = {
    # "login_talking": the seat signs in while a call it was talking on before an engine restart
    # goes on; "talk_resumed": such a call is given back to a seat signed in and free.
    LOGGED_OUT: {"login": NOT_READY, "login_ready": READY, "login_talking": BUSY},
    NOT_READY: {
        "talk_resumed": BUSY,
        "ready": READY,
        "pause": NOT_READY,
        "logout": LOGGED_OUT,
        "gone": LOGGED_OUT,
    },
    READY: {
        "talk_resumed": BUSY,
        "offer": RESERVED,
        "pause": NOT_READY,
        "ready": READY,
        "logout": LOGGED_OUT,
        "gone": LOGGED_OUT,
    },
    RESERVED: {
        "accept": BUSY,
        "release_idle": READY,
        "release_busy": BUSY,
        "release_paused": NOT_READY,  # pending pause, or too many offers not answered
        "end_busy": RESERVED,  # a chat ended while another offer rings
        "pause": RESERVED,
        "resume": RESERVED,
        "logout": LOGGED_OUT,
        "gone": LOGGED_OUT,
    },
    BUSY: {
        "offer": RESERVED,
        "end_busy": BUSY,
        "end_wrap": WRAP_UP,
        "end_idle": READY,
        "end_paused": NOT_READY,
        "pause": BUSY,
        "resume": BUSY,
        "gone": LOGGED_OUT,
    },
    WRAP_UP: {
        "wrap_done": READY,
        "wrap_done_paused": NOT_READY,
        "pause": WRAP_UP,
        "resume": WRAP_UP,
        "logout": LOGGED_OUT,
        "gone": LOGGED_OUT,
    },
}

# States in which a seat counts as staffed for wait projections (it will serve soon).
STAFFED: Final = frozenset({READY, RESERVED, BUSY, WRAP_UP})
OCCUPIED_STATES: Final = frozenset({RESERVED, BUSY, WRAP_UP})

# Contact states
WAITING: Final = "waiting"
CALLBACK: Final = "callback"  # the citizen hung up and waits for a call back, keeping the place
OFFERED: Final = "offered"
CONNECTED: Final = "connected"
ENDED: Final = "ended"
ABANDONED: Final = "abandoned"
OVERFLOWED: Final = "overflowed"

CONTACT_STATES: Final = (WAITING, CALLBACK, OFFERED, CONNECTED, ENDED, ABANDONED, OVERFLOWED)

CONTACT_TABLE: Final[dict[str, dict[str, str]]] = {
    WAITING: {
        "offer": OFFERED,
        "callback": CALLBACK,
        "abandon": ABANDONED,
        "overflow": OVERFLOWED,
        "move": WAITING,  # overflow into another queue
    },
    CALLBACK: {"offer": OFFERED, "abandon": ABANDONED, "move": CALLBACK},
    OFFERED: {
        "accept": CONNECTED,
        "requeue": WAITING,
        "requeue_callback": CALLBACK,
        "abandon": ABANDONED,
    },
    CONNECTED: {"end": ENDED, "requeue": WAITING},
    ENDED: {},
    ABANDONED: {},
    OVERFLOWED: {},
}

QUEUED: Final = frozenset({WAITING, CALLBACK})


class IllegalTransition(ValueError):
    """An action that the state table does not allow in the current state."""

    def __init__(self, kind: str, ident: str, state: str, action: str) -> None:
        super().__init__(f"{kind} {ident!r} in state {state!r} cannot take {action!r}")
        self.kind = kind
        self.ident = ident
        self.state = state
        self.action = action


def next_seat_state(seat_id: str, state: str, action: str) -> str:
    try:
        return SEAT_TABLE[state][action]
    except KeyError:
        raise IllegalTransition("seat", seat_id, state, action) from None


def next_contact_state(contact_id: str, state: str, action: str) -> str:
    try:
        return CONTACT_TABLE[state][action]
    except KeyError:
        raise IllegalTransition("contact", contact_id, state, action) from None
