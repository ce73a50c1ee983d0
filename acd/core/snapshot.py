"""The whole engine state as a JSON-able dict, and back.

Indexes are not stored: they are rebuilt from seats and contacts. Buckets are recreated in
their original order and contacts keep their widening levels as bucket keys, so a restored
engine makes exactly the decisions the original would have made.
"""

from __future__ import annotations

import heapq
from typing import Any, Final

from acd.core.base import CoreState
from acd.core.commands import command_from_dict, command_to_dict
from acd.core.config import AcdSettings, QueueConfig
from acd.core.model import Contact, Level, Seat, needs_class

VERSION: Final = 1

_SEAT_FIELDS: Final = (
    "id", "seq", "kind", "ring_delay_s", "max_chats", "state", "since", "reason", "pending", "offer",
    "voice", "rona", "idle_since", "occupied_s", "wrap_token",
)  # fmt: skip
_CONTACT_FIELDS: Final = (
    "id", "channel", "media", "queue", "home", "prio", "qprio", "enq", "seq", "caller", "level", "state",
    "seat", "number", "answered_at", "replied", "arrived_at", "timer", "next_announce", "overflowed",
)  # fmt: skip


def _key_out(key: tuple[Any, ...]) -> list[Any]:
    queue, media, skills, groups, cloud = key
    return [queue, media, [list(s) for s in skills], list(groups), cloud]


def _key_in(data: list[Any]) -> tuple[str, str, tuple[tuple[str, int], ...], tuple[str, ...], bool]:
    queue, media, skills, groups, cloud = data
    return (str(queue), str(media), tuple((str(k), int(v)) for k, v in skills), tuple(groups), bool(cloud))


def take(acd: CoreState) -> dict[str, Any]:
    index = acd.index
    buckets = sorted(index.buckets.values(), key=lambda b: b.id)
    seats = []
    for seat in sorted(index.seats.values(), key=lambda s: s.seq):
        item = {name: getattr(seat, name) for name in _SEAT_FIELDS}
        item["skills"] = sorted(seat.skills.items())
        item["groups"] = sorted(seat.groups)
        item["chats"] = list(seat.chats)
        item["calls"] = seat.calls
        seats.append(item)
    contacts = []
    for contact in sorted(acd.contacts.values(), key=lambda c: c.seq):
        item = {name: getattr(contact, name) for name in _CONTACT_FIELDS}
        item["levels"] = [[lv.bucket.id, lv.step, lv.after_s] for lv in contact.levels]
        skills, preferred, language = contact.needs
        item["needs"] = [[list(s) for s in skills], [list(s) for s in preferred], language]
        item["avoid"] = contact.avoid
        item["answered_before"] = contact.answered_before
        item["queued"] = contact.entry is not None
        contacts.append(item)
    return {
        "version": VERSION,
        "settings": acd.settings.to_dict(),
        "now": None if acd.now == float("-inf") else acd.now,
        "queues": [q.to_dict() for _, q in sorted(index.queues.items())],
        "buckets": [_key_out(b.key) for b in buckets],
        "seats": seats,
        "contacts": contacts,
        "timers": [list(t) for t in sorted(acd._timers)],
        "carried": [command_to_dict(c) for c in acd._carried],
        "counters": {"tseq": acd._tseq, "seq": acd._seq, "seat_seq": acd._seat_seq},
        "aht": dict(acd.aht),
        "last_seat": sorted(acd.last_seat.items()),
        "stats": acd.stats.to_dict(),
    }


def settings_of(data: dict[str, Any]) -> AcdSettings:
    """The settings a snapshot was taken with (checked first: the version, then the shape)."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError(f"not an ACD snapshot of version {VERSION}")
    try:
        return AcdSettings.from_dict(data["settings"])
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"damaged ACD snapshot: {exc!r}") from None


def restore_into(acd: CoreState, data: dict[str, Any]) -> None:
    """Fill a new engine made with :func:`settings_of` from :func:`take`; a damaged snapshot raises
    ValueError."""
    try:
        _restore(acd, data)
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"damaged ACD snapshot: {exc!r}") from None


def _restore(acd: CoreState, data: dict[str, Any]) -> None:
    acd.now = float("-inf") if data["now"] is None else float(data["now"])
    index = acd.index
    for q in data["queues"]:
        queue = QueueConfig.from_dict(q)
        index.queues[queue.name] = queue
    by_id = [index.bucket(_key_in(key)) for key in data["buckets"]]
    for item in data["seats"]:
        skills = {str(k): int(v) for k, v in item["skills"]}
        seat = Seat(item["id"], item["seq"], skills, frozenset(item["groups"]), item["kind"],
                    item["ring_delay_s"], item["max_chats"], item["since"])  # fmt: skip
        for name in _SEAT_FIELDS:
            setattr(seat, name, item[name])
        seat.chats = list(item["chats"])
        seat.calls = bool(item.get("calls", True))  # snapshots before chat-only seats took calls
        index.attach(seat)
    # one object per distinct widening path and per distinct needs, as the engine keeps them
    levels_cache: dict[tuple[Any, ...], tuple[tuple[Level, ...], tuple[int, ...]]] = {}
    needs_cache: dict[Any, Any] = {}
    for item in data["contacts"]:
        lkey = tuple((b, step, after) for b, step, after in item["levels"])
        cached = levels_cache.get(lkey)
        if cached is None:
            path = tuple(Level(by_id[b], step, after) for b, step, after in lkey)
            cached = levels_cache[lkey] = (path, needs_class(path))
        levels, klass = cached
        queue = index.queues[item["queue"]]
        contact = Contact(item["id"], item["channel"], item["media"], queue, item["prio"], item["enq"],
                          item["seq"], item["caller"], levels, item["arrived_at"], klass)  # fmt: skip
        for name in _CONTACT_FIELDS:
            setattr(contact, name, item[name])
        contact.avoid = item.get("avoid")  # absent in snapshots taken before seats could be avoided
        contact.answered_before = bool(item.get("answered_before", False))  # absent in older snapshots
        skills, preferred, language = item["needs"]
        needs = (
            tuple((str(k), int(v)) for k, v in skills),
            tuple((str(k), int(v)) for k, v in preferred),
            language,
        )
        contact.needs = needs_cache.setdefault(needs, needs)
        acd.contacts[contact.id] = contact
        if item["queued"]:
            index.push(contact)
    for seat in sorted(index.seats.values(), key=lambda s: s.seq):
        index.refresh_avail(seat)
    # A call or chat held through a restart whose seat is not back: connected, held by no seat.
    for contact in sorted(acd.contacts.values(), key=lambda c: c.seq):
        if contact.state == "connected" and contact.seat is not None:
            holder = index.seats.get(contact.seat)
            if holder is None or (holder.voice != contact.id and contact.id not in holder.chats):
                acd.detached.setdefault(contact.seat, []).append(contact.id)
    acd._timers = [(float(t), int(s), int(k), str(i), int(tok)) for t, s, k, i, tok in data["timers"]]
    heapq.heapify(acd._timers)
    acd._carried = [command_from_dict(c) for c in data.get("carried", [])]
    counters = data["counters"]
    acd._tseq, acd._seq, acd._seat_seq = counters["tseq"], counters["seq"], counters["seat_seq"]
    acd.aht = {str(k): float(v) for k, v in data["aht"].items()}
    acd.last_seat = {str(k): str(v) for k, v in data["last_seat"]}
    acd.stats.load(data["stats"])
