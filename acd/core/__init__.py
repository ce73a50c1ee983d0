"""The ACD core: events and time in, commands out; no I/O, no clock reads.

The adapters (ARI, AMI, Socket.IO, WeChat) turn what happens on the wire into the events
of :mod:`acd.core.events`, feed them to :class:`acd.core.engine.Acd` and carry out the
commands of :mod:`acd.core.commands` it returns.
"""

from acd.core.commands import (
    Announce,
    CancelOffer,
    Command,
    Offer,
    Overflow,
    SeatStateChanged,
    StartCallback,
    Widened,
)
from acd.core.config import AcdSettings, QueueConfig
from acd.core.engine import Acd
from acd.core.events import (
    CallbackRequested,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    Event,
    OfferAccepted,
    OfferFailed,
    OfferRejected,
    QueueConfigured,
    SeatGone,
    SeatLoggedIn,
    SeatLoggedOut,
    SeatNotReady,
    SeatReady,
    SeatReplied,
    SeatSkillsChanged,
    TalkResumed,
    Tick,
    WrapUpDone,
    event_from_dict,
    event_to_dict,
)
from acd.core.states import IllegalTransition
from acd.core.views import ContactView, SeatView

__all__ = [
    "Acd",
    "AcdSettings",
    "Announce",
    "CallbackRequested",
    "CancelOffer",
    "Command",
    "ContactAbandoned",
    "ContactArrived",
    "ContactEnded",
    "ContactView",
    "Event",
    "IllegalTransition",
    "Offer",
    "OfferAccepted",
    "OfferFailed",
    "OfferRejected",
    "Overflow",
    "QueueConfig",
    "QueueConfigured",
    "SeatGone",
    "SeatLoggedIn",
    "SeatLoggedOut",
    "SeatNotReady",
    "SeatReady",
    "SeatReplied",
    "SeatSkillsChanged",
    "SeatStateChanged",
    "SeatView",
    "StartCallback",
    "TalkResumed",
    "Tick",
    "Widened",
    "WrapUpDone",
    "event_from_dict",
    "event_to_dict",
]
