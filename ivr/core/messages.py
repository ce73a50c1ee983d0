"""Events that go into an IVR session and commands that come out.

The ARI adapter turns channel events into these events and executes the commands in order.
A ``Play`` is asynchronous: the adapter starts it and reports ``PromptFinished`` when it ends.
A ``CollectDigits`` in the same batch as a ``Play`` runs alongside it (the play's ``barge_in``
says whether a key stops the playback); the digit timeout counts from the end of the playback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptRef:
    """A recorded or generated prompt, by name (resolved to a file by the adapter)."""

    name: str


@dataclass(frozen=True)
class Say:
    """Chinese text made only of numerals and time words (see ``speech.pieces_for``)."""

    text: str


Piece = PromptRef | Say


# Events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptFinished:
    pass


@dataclass(frozen=True)
class DigitsReceived:
    digits: str


@dataclass(frozen=True)
class DigitTimeout:
    pass


@dataclass(frozen=True)
class Hangup:
    """The caller hung up (as an event) or the IVR ends the call (as a command)."""


@dataclass(frozen=True)
class RecordingFinished:
    seconds: float = 0.0


@dataclass(frozen=True)
class LookupAnswered:
    """The adapter's answer to ``LookupWorkOrder``: found or not, and the order's state key."""

    found: bool
    status: str = ""


Event = PromptFinished | DigitsReceived | DigitTimeout | Hangup | RecordingFinished | LookupAnswered


# Commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    pieces: tuple[Piece, ...]
    barge_in: bool = False


@dataclass(frozen=True)
class CollectDigits:
    max_digits: int
    timeout: float
    terminator: str = "#"


@dataclass(frozen=True)
class Enqueue:
    queue: str
    skills: tuple[str, ...] = ()
    priority: int = 0


@dataclass(frozen=True)
class Transfer:
    number: str


@dataclass(frozen=True)
class RecordMessage:
    max_seconds: int
    beep: bool = True


@dataclass(frozen=True)
class RequestCallback:
    number: str
    queue: str
    reason: str
    keep_place: bool = False  # from the waiting queue: the ACD keeps the caller's place in line


@dataclass(frozen=True)
class LookupWorkOrder:
    number: str


Command = Play | CollectDigits | Enqueue | Transfer | RecordMessage | RequestCallback | LookupWorkOrder | Hangup
