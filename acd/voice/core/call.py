"""What the voice side knows of each call, as plain data: the citizen's channel, the seat leg, the
other parties (a transfer's far end, a third party, a barging supervisor, the citizen being called
back), the bridges, and the timeline that becomes the call's interaction record. What runs for a call (the
IVR's task and inbox, an announcement's request) stays with the adapter (``VoiceService``), so a
call can be stored and restored (:func:`snapshot`, :func:`restore`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from acd.voice.core.states import ARRIVED, CALLBACK, OFFERED, QUEUED, TALKING, next_call_state

# Q.850 causes of a seat leg that never answered -> the core's offer failure causes.
FAILURE_CAUSES = {
    17: "busy",
    21: "busy",
    18: "no_answer",
    19: "no_answer",
    20: "unregistered",
    3: "unreachable",
    1: "unreachable",
    27: "unreachable",
    34: "unreachable",
    38: "unreachable",
}


def failure_cause(code: int | None) -> str:
    return FAILURE_CAUSES.get(code or 0, "unreachable")


@dataclass
class SeatLeg:
    channel_id: str
    seat_id: str
    started: float
    answered: float | None = None
    cancelled: bool = False
    outcome: str | None = None


@dataclass
class Party:
    """Another party on the call: a transfer's or a three-party call's far end (``transfer``,
    ``attended``, ``three_party``), a barging supervisor (``barge``), or the citizen being called
    back from the seat's talk bridge (``citizen``)."""

    channel_id: str
    role: str
    number: str
    started: float
    answered: float | None = None


@dataclass
class Snoop:
    """A supervisor listening to (``listen``), whispering to (``whisper``) the seat's leg through a
    snoop channel and a bridge of their own; a barging supervisor is a party of the call instead."""

    snoop_id: str  # also the snoop channel's id
    supervisor_channel: str
    bridge_id: str
    seat_id: str
    mode: str


@dataclass
class Call:
    contact_id: str
    channel_id: str
    caller: str
    arrived: float
    server: str = "default"
    state: str = ARRIVED
    queue: str | None = None
    enqueued: float | None = None
    answered: float | None = None
    ended: float | None = None
    seat_id: str | None = None
    leg: SeatLeg | None = None
    talk_bridge: str | None = None
    hold_started: float | None = None
    hold_total: float = 0.0
    hangup_side: str | None = None
    hangup_cause: str | None = None
    recording: str | None = None
    ivr_path: list[str] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)
    overflowed: str | None = None
    callback_number: str | None = None
    parties: dict[str, Party] = field(default_factory=dict)  # channel id -> the other parties
    snoops: dict[str, Snoop] = field(default_factory=dict)  # snoop id -> supervisors listening in
    survey: dict[str, Any] | None = None
    recorded: bool = False
    ivr_record: dict[str, Any] | None = None  # flow, path and outcome from the IVR
    # The playback id of the queue announcement playing to the waiting caller. Asterisk runs
    # every later command for the channel (a move into the seat's bridge above all) only once
    # it ends, so it is stopped before any of them.
    announcing: str | None = None

    def move(self, action: str) -> str:
        """Change state as the call table says (acd/voice/core/states.py); a pair not in it
        raises IllegalCallTransition and changes nothing."""
        self.state = next_call_state(self.contact_id, self.state, action)
        return self.state

    @property
    def in_acd(self) -> bool:
        """The ACD holds the call as a contact (waiting, offered, a call-back, or talking to its
        seat) and must hear of its end. Derived from the call's own state: the voice side keeps
        the legs, the ACD the place in line, and neither mirrors the other."""
        if self.state in (QUEUED, OFFERED, CALLBACK):
            return self.overflowed in (None, "callback")
        return self.state == TALKING and self.seat_id is not None

    def party(self, role: str) -> Party | None:
        return next((p for p in self.parties.values() if p.role == role), None)

    def others_talk(self) -> bool:
        """Another party (not the seat, not the citizen) has answered and is on the call."""
        return any(p.answered is not None and p.role != "citizen" for p in self.parties.values())

    def record(self) -> dict[str, Any]:
        wait = (self.answered - self.enqueued) if (self.answered and self.enqueued) else None
        talk = (self.ended - self.answered - self.hold_total) if (self.ended and self.answered) else None
        return {
            "arrived": self.arrived,
            "queue": self.queue,
            "enqueued": self.enqueued,
            "answered": self.answered,
            "ended": self.ended,
            "wait_s": round(wait, 3) if wait is not None else None,
            "talk_s": round(talk, 3) if talk is not None else None,
            "hold_s": round(self.hold_total, 3),
            "seat": self.seat_id,
            "offers": self.offers,
            "ivr_path": self.ivr_path,
            "hangup_side": self.hangup_side,
            "hangup_cause": self.hangup_cause,
            "recording": self.recording,
            "overflow": self.overflowed,
            "callback_number": self.callback_number,
            "survey": self.survey,
            "ivr": self.ivr_record,
            "server": self.server,
            "state": self.state,
        }


def snapshot(call: Call) -> dict[str, Any]:
    """The call as JSON-able data (everything it is; nothing of what runs for it)."""
    return asdict(call)


_CALL_FIELDS = frozenset(f.name for f in fields(Call))
_LEG_FIELDS = frozenset(f.name for f in fields(SeatLeg))
_PARTY_FIELDS = frozenset(f.name for f in fields(Party))
_SNOOP_FIELDS = frozenset(f.name for f in fields(Snoop))


def restore(data: dict[str, Any]) -> Call:
    """A call from :func:`snapshot`; unknown keys (a newer engine's) are ignored."""
    leg = data.get("leg")
    parties, snoops = data.get("parties"), data.get("snoops")
    values = {k: v for k, v in data.items() if k in _CALL_FIELDS and k not in ("leg", "parties", "snoops")}
    call = Call(**values)
    if isinstance(leg, dict):
        call.leg = SeatLeg(**{k: v for k, v in leg.items() if k in _LEG_FIELDS})
    if isinstance(parties, dict):
        for cid, party in parties.items():
            call.parties[cid] = Party(**{k: v for k, v in party.items() if k in _PARTY_FIELDS})
    if isinstance(snoops, dict):
        for sid, snoop in snoops.items():
            call.snoops[sid] = Snoop(**{k: v for k, v in snoop.items() if k in _SNOOP_FIELDS})
    return call


def from_record(contact_id: str, caller: str, arrived: float, data: dict[str, Any]) -> Call | None:
    """A call-back promised before the engine stopped, from its stored interaction record
    (:meth:`Call.record`): the citizen off the line, the place in ``queue`` since ``enqueued``.
    None if the record is no such call-back, or is damaged."""
    if not isinstance(data, dict) or data.get("state") != CALLBACK:
        return None
    number, queue, enqueued = data.get("callback_number"), data.get("queue"), data.get("enqueued")
    if not (isinstance(number, str) and number and isinstance(queue, str) and queue):
        return None
    if isinstance(enqueued, bool) or not isinstance(enqueued, (int, float)):
        return None
    offers = data.get("offers")
    ivr = data.get("ivr")
    return Call(
        contact_id=contact_id,
        channel_id=f"resumed-{contact_id}",  # the citizen's channel is long gone
        caller=caller,
        arrived=arrived,
        server=str(data.get("server") or "default"),
        state=CALLBACK,
        queue=queue,
        enqueued=float(enqueued),
        overflowed="callback",
        callback_number=number,
        ivr_path=[str(p) for p in data.get("ivr_path") or []],
        offers=[o for o in offers if isinstance(o, dict)] if isinstance(offers, list) else [],
        ivr_record=ivr if isinstance(ivr, dict) else None,
        recording=data.get("recording") if isinstance(data.get("recording"), str) else None,
    )


def talk_from_record(
    contact_id: str, caller: str, arrived: float, data: dict[str, Any], channel_id: str | None = None
) -> Call | None:
    """The call of a talk that went on through an engine restart, from its stored record: its
    history kept (offers, IVR path), ready for :class:`~acd.voice.core.events.TalkResumed`. None
    if the record says no seat answered it, or is damaged. ``channel_id``: the citizen's channel
    when it is not the contact id (a call on a peer Asterisk: ``<channel>@<server>``)."""
    answered, enqueued, queue = data.get("answered"), data.get("enqueued"), data.get("queue")
    for value in (answered, enqueued):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
    if not isinstance(queue, str) or not queue:
        return None
    offers, ivr = data.get("offers"), data.get("ivr")
    return Call(
        contact_id=contact_id,
        channel_id=channel_id or contact_id,
        caller=caller,
        arrived=arrived,
        server=str(data.get("server") or "default"),
        ivr_path=[str(p) for p in data.get("ivr_path") or []],
        offers=[o for o in offers if isinstance(o, dict)] if isinstance(offers, list) else [],
        ivr_record=ivr if isinstance(ivr, dict) else None,
    )


def ended_unseen(data: dict[str, Any], now: float) -> dict[str, Any]:
    """The record of a call that ended while no engine watched it (the engine was down, and at
    its start Asterisk no longer had the citizen's channel): ended when the engine learned it,
    marked ``ended_unseen``. A call never answered stays unanswered (an abandon in the figures),
    one answered keeps its talk open-ended (no talk time is made up)."""
    return {**data, "state": "ended", "ended": now, "ended_unseen": True, "hangup_side": data.get("hangup_side") or ""}
