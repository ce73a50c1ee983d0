"""Invariants on random event streams (hypothesis), checked after every event."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.core import (
    AcdSettings,
    CallbackRequested,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    Event,
    Offer,
    OfferAccepted,
    OfferFailed,
    OfferRejected,
    QueueConfig,
    QueueConfigured,
    SeatGone,
    SeatLoggedIn,
    SeatLoggedOut,
    SeatNotReady,
    SeatReady,
    SeatReplied,
    SeatSkillsChanged,
    Tick,
    WrapUpDone,
    event_from_dict,
    event_to_dict,
)
from acd.core.engine import Acd
from acd.core.states import STAFFED

SKILLS = ("general", "business", "lang:yue")
OPS = ("arrive", "arrive", "arrive", "arrive", "login", "login", "ready", "pause", "logout", "gone", "skills", "accept", "accept",
       "accept", "reject", "fail", "end", "abandon", "callback", "wrap", "tick", "reply")  # fmt: skip

skill_sets = st.lists(st.tuples(st.sampled_from(SKILLS[1:]), st.integers(1, 5)), max_size=2, unique_by=lambda x: x[0])
steps = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 7), st.floats(0, 20), skill_sets, st.integers(0, 3)),
    min_size=20,
    max_size=120,
)
# events at most 3 s apart: a contact kept off a language seat (keep_language_seat) is still kept
# at the next event, which 20 s steps would rarely show
fast_steps = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 7), st.floats(0, 3), skill_sets, st.integers(0, 3)),
    min_size=20,
    max_size=120,
)
engine_settings = st.builds(
    lambda rona, during, wrap, chats: AcdSettings(
        rona_limit=rona, chats_during_call=during, max_chats=chats, wrap_up_s={"voice": wrap, "chat": 0.0}
    ),
    st.integers(1, 3),
    st.booleans(),
    st.sampled_from([0.0, 5.0]),
    st.integers(0, 2),
)


def _events(steps: list[tuple[str, int, float, Any, int]], keep: bool = False) -> list[Event]:
    """Turn abstract steps into events; ids come from small pools so that they meet again."""
    now = 0.0
    out: list[Event] = [
        QueueConfigured(0, QueueConfig("q", keep_language_seat=keep)),
        QueueConfigured(0, QueueConfig("q2", strategy="highest_proficiency", skills=(("general", 1),),
                                       max_wait_s=40.0, overflow="queue:q", pack_chats=True,
                                       keep_language_seat=keep)),
    ]  # fmt: skip
    for op, n, dt, skills, k in steps:
        now += dt
        seat, contact = f"s{n % 5}", f"c{n}"
        if op == "arrive":
            channel = ("voice", "webchat", "wechat", "voice")[k]
            prefer = skills[:1] if k == 1 else ()
            out.append(ContactArrived(now, contact, channel, "q2" if k == 2 else "q", ("normal", "emergency")[n % 2],
                                      preferred=tuple(prefer), language="yue" if n % 4 == 3 else None))  # fmt: skip
        elif op == "login":
            # k == 1: no general skill (cannot take q2's contacts, which need it)
            base = () if k == 1 else (("general", 3),)
            out.append(SeatLoggedIn(now, seat, (*base, *skills), kind="cloud" if k == 3 else "onsite",
                                    ready=k % 2 == 0, max_chats=None if k else 1))  # fmt: skip
        elif op == "ready":
            out.append(SeatReady(now, seat))
        elif op == "pause":
            out.append(SeatNotReady(now, seat, "break"))
        elif op == "logout":
            out.append(SeatLoggedOut(now, seat))
        elif op == "gone":
            out.append(SeatGone(now, seat))
        elif op == "skills":
            out.append(SeatSkillsChanged(now, seat, (("general", 2), *skills)))
        elif op in ("accept", "reject", "fail"):
            out.append(("offer", op, now, k))  # type: ignore[arg-type]  # resolved against live offers
        elif op in ("end", "abandon", "callback", "reply") and n % 3:
            out.append(("live", op, now, k))  # type: ignore[arg-type]  # a contact in the right state
        elif op == "end":
            out.append(ContactEnded(now, contact))
        elif op == "abandon":
            out.append(ContactAbandoned(now, contact))
        elif op == "callback":
            out.append(CallbackRequested(now, contact, "13800000000"))
        elif op == "wrap":
            out.append(WrapUpDone(now, seat))
        elif op == "reply":
            out.append(SeatReplied(now, contact))
        else:
            out.append(Tick(now))
    return out


def _resolve(acd: Acd, item: Any) -> Event | None:
    if not isinstance(item, tuple):
        return item  # type: ignore[no-any-return]
    kind, op, now, k = item
    if kind == "live":
        wanted = {"end": "connected", "reply": "connected", "abandon": "waiting", "callback": "waiting"}[op]
        ids = sorted(c.id for c in acd.contacts.values() if c.state == wanted)
        if not ids:
            return Tick(now)
        cid = ids[k % len(ids)]
        if op == "end":
            return ContactEnded(now, cid)
        if op == "reply":
            return SeatReplied(now, cid)
        if op == "abandon":
            return ContactAbandoned(now, cid)
        return CallbackRequested(now, cid, "13800000000")
    offered = sorted((c.id, c.seat) for c in acd.contacts.values() if c.state == "offered")
    if not offered:
        return Tick(now)
    cid, seat = offered[k % len(offered)]
    assert seat is not None
    if op == "accept":
        return OfferAccepted(now, cid, seat)
    if op == "reject":
        return OfferRejected(now, cid, seat)
    return OfferFailed(now, cid, seat, ("busy", "no_answer", "unreachable", "unregistered")[k])


def _eligible(acd: Acd, seat: Any, contact: Any) -> bool:
    """Written apart from the engine's index: may this seat take this contact right now?"""
    _, media, skills, groups, cloud = contact.bucket.key
    if seat.offer is not None or seat.pending:
        return False
    if any(seat.skills.get(name, 0) < level for name, level in skills):
        return False
    if seat.kind == "cloud" and not cloud:
        return False
    if groups and not set(groups) & set(seat.groups):
        return False
    if media == "voice":
        return seat.state == "ready"
    if seat.max_chats <= 0 or len(seat.chats) >= seat.max_chats:
        return False
    if seat.state == "ready":
        return True
    return seat.state == "busy" and (seat.voice is None or acd.settings.chats_during_call)


def _fits(seat: Any, key: Any) -> bool:
    _, _, skills, groups, cloud = key
    if any(seat.skills.get(name, 0) < level for name, level in skills):
        return False
    return (cloud or seat.kind != "cloud") and (not groups or bool(set(groups) & set(seat.groups)))


def _voice_ready(seat: Any) -> bool:
    return seat.state == "ready" and seat.offer is None and not seat.pending


def _alone_for_a_language(acd: Acd, seat: Any) -> bool:
    """Written apart from the engine's index: the only seat ready for some voice bucket that needs a language."""
    if not _voice_ready(seat):
        return False
    others = [o for o in acd.index.seats.values() if o is not seat and _voice_ready(o)]
    for key in acd.index.buckets:
        language = key[1] == "voice" and any(name.startswith("lang:") for name, _ in key[2])
        if language and _fits(seat, key) and not any(_fits(o, key) for o in others):
            return True
    return False


def _may_be_kept(acd: Acd, contact: Any) -> bool:
    """keep_language_seat: a contact needing no language, within projection_margin x its target."""
    queue = acd.index.queues[contact.queue]
    if not queue.keep_language_seat or any(name.startswith("lang:") for name, _ in contact.bucket.key[2]):
        return False
    return acd.now < contact.enq + acd.settings.projection_margin * queue.target_for(contact.channel)


def _check_invariants(acd: Acd, out: list[Any], before: set[str]) -> None:
    seats = acd.index.seats.values()
    held: dict[str, str] = {}
    for seat in seats:
        for cid in [seat.offer, seat.voice, *seat.chats]:
            if cid is not None:
                assert cid not in held, f"{cid} held by {held.get(cid)} and {seat.id}"
                held[cid] = seat.id
        assert len(seat.chats) <= seat.max_chats
        assert not (seat.voice and seat.chats and not acd.settings.chats_during_call)
        assert seat.state != "ready" or (seat.voice is None and not seat.chats)
    for bucket in acd.index.buckets.values():
        staffed = [s for s in seats if s.state in STAFFED and not s.pending and bucket.accepts(s)]
        assert bucket.staffed == len(staffed), f"bucket {bucket.key} counts {bucket.staffed} staffed"
    for contact in acd.contacts.values():
        if contact.state == "offered":
            assert acd.index.seats[contact.seat].offer == contact.id
        if contact.state in ("waiting", "callback"):
            assert contact.entry is not None
            ready = [s for s in seats if _eligible(acd, s, contact)]
            # keep_language_seat: a contact within its margin is kept off seats alone ready for a language
            if ready and _may_be_kept(acd, contact):
                assert all(_alone_for_a_language(acd, s) for s in ready), f"{contact.id} kept off {ready}"
                continue
            assert not ready, f"{contact.id} waits while {[s.id for s in ready]} could take it"
    # contacts that waited before the event and still wait (not those put back by it)
    waiting = [c for c in acd.contacts.values() if c.state in ("waiting", "callback") and c.id in before]
    for cmd in out:
        if isinstance(cmd, Offer) and cmd.contact_id in acd.contacts:
            c = acd.contacts[cmd.contact_id]
            if c.state != "offered":
                continue
            for other in waiting:  # FIFO within equal priority and needs, whatever the level
                same = (other.prio, other.qprio, other.klass) == (c.prio, c.qprio, c.klass)
                assert not (same and (other.enq, other.seq) < (c.enq, c.seq)), f"{other.id} was ahead of {c.id}"


def _run(acd: Acd, items: list[Any], check: bool) -> list[Any]:
    decisions = []
    before: set[str] | None = None
    for item in items:
        event = _resolve(acd, item)
        assert event is not None
        if before is None:  # after a refused event, the state before it: its timers' commands come out now
            before = {c.id for c in acd.contacts.values() if c.state in ("waiting", "callback")}
        try:
            out = acd.handle(event)
        except ValueError:
            decisions.append(("refused", type(event).__name__))
            continue
        if check:
            _check_invariants(acd, out, before)
        before = None
        decisions.append(out)
    return decisions


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(engine_settings, steps, st.booleans())
def test_random_streams_keep_every_invariant(config: AcdSettings, plan: list[Any], keep: bool) -> None:
    _run(Acd(config), _events(plan, keep), check=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(engine_settings, fast_steps)
def test_contacts_are_kept_off_a_language_seat_only_within_their_margin(config: AcdSettings, plan: list[Any]) -> None:
    _run(Acd(config), _events(plan, keep=True), check=True)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(engine_settings, st.one_of(steps, fast_steps), st.integers(0, 60), st.booleans())
def test_snapshot_then_restore_gives_the_same_future_decisions(
    config: AcdSettings, plan: list[Any], cut: int, keep: bool
) -> None:
    items = _events(plan, keep)
    cut = min(cut, len(items))
    original = Acd(config)
    _run(original, items[:cut], check=False)
    copy = Acd.restore(json.loads(json.dumps(original.snapshot())))
    assert _run(copy, items[cut:], check=False) == _run(original, items[cut:], check=False)
    assert original.interval_stats() == copy.interval_stats()


@settings(max_examples=60, deadline=None)
@given(engine_settings, steps, st.booleans())
def test_replaying_the_event_log_gives_the_same_decisions(config: AcdSettings, plan: list[Any], keep: bool) -> None:
    first = Acd(config)
    log: list[dict[str, Any]] = []
    decisions = []
    for item in _events(plan, keep):
        event = _resolve(first, item)
        assert event is not None
        log.append(json.loads(json.dumps(event_to_dict(event))))
        try:
            decisions.append(first.handle(event))
        except ValueError:
            decisions.append(None)
    second = Acd(config)
    replayed = []
    for record in log:
        try:
            replayed.append(second.handle(event_from_dict(record)))
        except ValueError:
            replayed.append(None)
    assert replayed == decisions
