"""Statistics from the event stream, per interval, queue and channel, by DOMAIN.md's formulas.

A contact counts in the interval in which it entered the seat queue (its original enqueue
time), whatever happens to it later; a call-back counts against the call it replaces.

- 15-second answer rate = voice answered with wait <= target ÷ (voice offered − short abandons),
  short abandons being those with wait < ``short_abandon_s`` (default 0: none excluded);
- connection rate = answered ÷ offered;
- internet real-time response rate = internet contacts with a first seat reply within T s
  (default 60) of asking for a seat ÷ internet contacts that asked for a seat;
- ASA = total wait of answered contacts ÷ answered;
- occupancy = seat time reserved, busy or in wrap-up ÷ seat time ready, reserved, busy or in wrap-up.
Contacts refused at the door (queue full: ``blocked``; queue closed: ``closed``) are not offered.
"""

from __future__ import annotations

from typing import Any, Final

from acd.core.config import INTERNET_CHANNELS

FIELDS: Final = (
    "offered",
    "answered",
    "answered_within",
    "abandoned",
    "short_abandoned",
    "wait_sum",
    "overflowed",
    "blocked",
    "closed",
    "callbacks",
    "replied",
    "replied_within",
    "handled",
    "handle_sum",
)

OCCUPIED: Final = ("reserved", "busy", "wrap_up")
AVAILABLE_TIME: Final = ("ready", "reserved", "busy", "wrap_up")

Key = tuple[int, str, str]  # interval start, queue, channel


class Stats:
    def __init__(self, interval_s: int, short_abandon_s: float, internet_response_s: float) -> None:
        self.interval_s = interval_s
        self.short_abandon_s = short_abandon_s
        self.internet_response_s = internet_response_s
        self.rows: dict[Key, dict[str, float]] = {}
        self.seat_time: dict[tuple[int, str], float] = {}
        # What changed since the adapter last kept the figures (``take_changes``).
        self.changed: set[Key] = set()
        self.seat_changed: set[tuple[int, str]] = set()

    def _start(self, t: float) -> int:
        return int(t // self.interval_s) * self.interval_s

    def row(self, enq: float, queue: str, channel: str) -> dict[str, float]:
        key = (self._start(enq), queue, channel)
        found = self.rows.get(key)
        if found is None:
            found = self.rows[key] = dict.fromkeys(FIELDS, 0.0)
        self.changed.add(key)  # every caller changes the row it asked for
        return found

    def add(self, enq: float, queue: str, channel: str, name: str, value: float = 1.0) -> None:
        self.row(enq, queue, channel)[name] += value

    def answered(self, enq: float, queue: str, channel: str, wait: float, target: float) -> None:
        row = self.row(enq, queue, channel)
        row["answered"] += 1
        row["wait_sum"] += wait
        if wait <= target:
            row["answered_within"] += 1

    def abandoned(self, enq: float, queue: str, channel: str, wait: float) -> None:
        row = self.row(enq, queue, channel)
        row["abandoned"] += 1
        if wait < self.short_abandon_s:
            row["short_abandoned"] += 1

    def replied(self, enq: float, queue: str, channel: str, delay: float) -> None:
        row = self.row(enq, queue, channel)
        row["replied"] += 1
        if delay <= self.internet_response_s:
            row["replied_within"] += 1

    def seat_state_time(self, state: str, start: float, end: float) -> None:
        """Add a seat's time in ``state``, split over interval boundaries."""
        t = start
        while t < end:
            bound = self._start(t) + self.interval_s
            stop = min(bound, end)
            key = (self._start(t), state)
            self.seat_time[key] = self.seat_time.get(key, 0.0) + (stop - t)
            self.seat_changed.add(key)
            t = stop

    # -- reports ---------------------------------------------------------------------------
    def report(
        self, interval_s: int | None = None, by: tuple[str, ...] = ("interval", "queue", "channel")
    ) -> list[dict[str, Any]]:
        """Rows grouped by any of interval, queue and channel, with the derived rates.

        ``interval_s`` must be a multiple of the recording interval (900 -> 1800 for 30 minutes).
        """
        size = interval_s or self.interval_s
        if size % self.interval_s:
            raise ValueError(f"interval_s must be a multiple of {self.interval_s}")
        groups: dict[tuple[Any, ...], dict[str, float]] = {}
        for (start, queue, channel), row in sorted(self.rows.items()):
            parts: dict[str, Any] = {"interval": start // size * size, "queue": queue, "channel": channel}
            gkey = tuple(parts[name] for name in by)
            acc = groups.setdefault(gkey, dict.fromkeys(FIELDS, 0.0))
            acc["voice_offered"] = acc.get("voice_offered", 0.0)
            acc["voice_short"] = acc.get("voice_short", 0.0)
            acc["voice_within"] = acc.get("voice_within", 0.0)
            acc["internet_offered"] = acc.get("internet_offered", 0.0)
            for name in FIELDS:
                acc[name] += row[name]
            if channel == "voice":
                acc["voice_offered"] += row["offered"]
                acc["voice_short"] += row["short_abandoned"]
                acc["voice_within"] += row["answered_within"]
            elif channel in INTERNET_CHANNELS:
                acc["internet_offered"] += row["offered"]
        out = []
        for gkey, acc in groups.items():
            item: dict[str, Any] = dict(zip(by, gkey, strict=True))
            item.update({k: int(v) if k not in ("wait_sum", "handle_sum") else v for k, v in acc.items()})
            item.update(derived(acc))
            if "interval" in by:
                item["occupancy"] = self.occupancy(int(gkey[by.index("interval")]), size)
            out.append(item)
        return out

    def occupancy(self, start: int | None = None, size: int | None = None) -> float | None:
        busy = avail = 0.0
        for (t, state), seconds in sorted(self.seat_time.items()):  # a fixed order: same sums after restore
            if start is not None and size is not None and not start <= t < start + size:
                continue
            if state in OCCUPIED:
                busy += seconds
            if state in AVAILABLE_TIME:
                avail += seconds
        return busy / avail if avail else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": [[list(k), v] for k, v in sorted(self.rows.items())],
            "seat_time": [[list(k), v] for k, v in sorted(self.seat_time.items())],
        }

    def load(self, data: dict[str, Any]) -> None:
        self.rows = {(int(k[0]), str(k[1]), str(k[2])): dict(v) for k, v in data["rows"]}
        self.seat_time = {(int(k[0]), str(k[1])): float(v) for k, v in data["seat_time"]}

    def take_changes(self) -> dict[str, Any]:
        """The rows and seat times changed since the last call, whole (as :meth:`to_dict`), so that
        writing them is idempotent; the changes are forgotten."""
        out = {
            "rows": [[list(k), dict(self.rows[k])] for k in sorted(self.changed)],
            "seat_time": [[list(k), self.seat_time[k]] for k in sorted(self.seat_changed)],
        }
        self.changed = set()
        self.seat_changed = set()
        return out

    def give_back(self, changes: dict[str, Any]) -> None:
        """Changes taken but not kept (the database refused them): taken again next time."""
        self.changed.update((int(k[0]), str(k[1]), str(k[2])) for k, _ in changes["rows"])
        self.seat_changed.update((int(k[0]), str(k[1])) for k, _ in changes["seat_time"])

    def merge(self, data: dict[str, Any]) -> None:
        """Add figures kept before a restart (as :meth:`to_dict`) to what was counted since the
        start (nothing, when they are read before the first contact); a row that had both is
        written again."""
        for k, v in data["rows"]:
            key = (int(k[0]), str(k[1]), str(k[2]))
            kept = {name: float(v.get(name, 0.0)) for name in FIELDS}
            if key in self.rows:
                self.rows[key] = {name: kept[name] + self.rows[key][name] for name in FIELDS}
                self.changed.add(key)
            else:
                self.rows[key] = kept
        for k, v in data["seat_time"]:
            seat_key = (int(k[0]), str(k[1]))
            if seat_key in self.seat_time:
                self.seat_changed.add(seat_key)
            self.seat_time[seat_key] = self.seat_time.get(seat_key, 0.0) + float(v)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def derived(acc: dict[str, float]) -> dict[str, float | None]:
    return {
        "sl15": _ratio(acc.get("voice_within", 0.0), acc.get("voice_offered", 0.0) - acc.get("voice_short", 0.0)),
        "connection_rate": _ratio(acc["answered"], acc["offered"]),
        "internet_response_rate": _ratio(acc["replied_within"], acc.get("internet_offered", 0.0)),
        "asa_s": _ratio(acc["wait_sum"], acc["answered"]),
        "aht_s": _ratio(acc["handle_sum"], acc["handled"]),
    }
