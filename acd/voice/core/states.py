"""A call's life on the voice side as one table: state -> {action -> next state}.

The voice adapter names what happened (the seat answered, the offer ended, the citizen left...)
and the table alone says where that leads; every change of ``Call.state`` goes through
:func:`next_call_state`. A pair missing from the table is a bug in the adapter and raises
:class:`IllegalCallTransition` before anything changes.

The ACD core keeps the contact's place in line (waiting, offered, connected); these states say
what the voice side holds of the call: the citizen's channel, a seat's leg, the talk bridge.
"""

from __future__ import annotations

from typing import Final

ARRIVED: Final = "arrived"  # in Stasis: the IVR runs (or the call goes straight to a queue)
QUEUED: Final = "queued"  # waiting on hold in a queue's holding bridge
OFFERED: Final = "offered"  # a seat's leg rings
TALKING: Final = "talking"  # the seat answered: citizen and seat share a talk bridge
SURVEY: Final = "survey"  # the seat hung up; the citizen rates the call
CALLBACK: Final = "callback"  # the citizen is off the line and waits to be called back
ENDED: Final = "ended"

CALL_STATES: Final = (ARRIVED, QUEUED, OFFERED, TALKING, SURVEY, CALLBACK, ENDED)

# "offer_ended": an offer is over without a talk (the seat's leg failed or was refused, the core
# cancelled it, the seat answered but could not be bridged) and the citizen waits on the line;
# "offer_ended_away": the same for a citizen waiting off the line for a call-back. Both hold in
# the waiting states too: a cancel may have ended the offer while the seat's answer was being
# bridged, and the bridging's failure then finds the call waiting already.
CALL_TABLE: Final[dict[str, dict[str, str]]] = {
    ARRIVED: {
        "enqueue": QUEUED,  # after the IVR, or straight from Stasis
        "adopt": QUEUED,  # after a restart: a caller the ACD still holds
        "resume": TALKING,  # after a restart: still talking to its seat in the bridge Asterisk kept
        "callback_created": CALLBACK,  # a call-back promised by the IVR, or a missed call's
        "citizen_left": ENDED,
    },
    QUEUED: {
        "offer": OFFERED,
        "offer_ended": QUEUED,
        "callback_hold": CALLBACK,  # pressed 1, then hung up: the place stays
        "citizen_left": ENDED,
    },
    OFFERED: {
        "answered": TALKING,
        "offer_ended": QUEUED,
        "offer_ended_away": CALLBACK,
        "citizen_left": ENDED,
    },
    CALLBACK: {
        "offer": OFFERED,
        "offer_ended_away": CALLBACK,
        # No "citizen_left": the citizen is off the line; their channel's end (after the
        # confirmation, or found gone after a reconnect) keeps the place.
    },
    TALKING: {
        "enqueue": QUEUED,  # transferred to a queue, at the original enqueue time
        "survey": SURVEY,
        "seat_left": ENDED,
        "callback_failed": ENDED,  # the citizen did not answer the call-back
        "citizen_left": ENDED,
    },
    SURVEY: {
        "callback_failed": ENDED,
        "citizen_left": ENDED,
    },
    ENDED: {},
}


class IllegalCallTransition(ValueError):
    """``action`` is not allowed for a call in ``state`` (the adapter's bug, named)."""

    def __init__(self, call: str, state: str, action: str) -> None:
        allowed = ", ".join(sorted(CALL_TABLE.get(state, {}))) or "none"
        super().__init__(f"call {call}: {action!r} is not allowed when {state!r} (allowed: {allowed})")
        self.state = state
        self.action = action


def next_call_state(call: str, state: str, action: str) -> str:
    target = CALL_TABLE.get(state, {}).get(action)
    if target is None:
        raise IllegalCallTransition(call, state, action)
    return target
