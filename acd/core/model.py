"""Hot objects: seats, contacts and buckets, with ``__slots__`` to keep 500,000 waiting cheap.

A bucket holds the waiting contacts of one queue that need exactly the same seats (same
media, skills with minimum proficiency, groups, cloud allowed or not), in service order,
and the seats able to take one of them right now, in the queue's strategy order. Contacts
move between buckets when they widen; their sort key keeps the original enqueue time, so a
contact never loses its place.
"""

from __future__ import annotations

from typing import Any

from sortedcontainers import SortedList

from acd.core.config import QueueConfig

# (queue, media, skills, groups, cloud allowed)
BucketKey = tuple[str, str, tuple[tuple[str, int], ...], tuple[str, ...], bool]


class Bucket:
    __slots__ = (
        "avail", "cloud", "fifo", "groups", "head", "id", "keep", "key", "label", "langs", "media", "queue", "skills",
        "staffed", "target", "voice", "waiting",
    )  # fmt: skip

    def __init__(self, ident: int, key: BucketKey) -> None:
        self.id = ident
        self.key = key
        self.queue, self.media, self.skills, self.groups, self.cloud = key
        # entries (priority, queue priority, enqueue time, seq, contact)
        self.waiting: Any = SortedList()
        # waiting[0], kept by Index.push/pull: a freed seat reads the head of every bucket it
        # serves, and SortedList's indexing costs more than the rest of that look together
        self.head: tuple[int, int, float, int, Contact] | None = None
        self.voice = self.media == "voice"
        # entries (k0, k1, k2, seat seq, seat) in the queue's strategy order
        self.avail: Any = SortedList()
        self.staffed = 0  # eligible seats that are logged in and not paused
        # copied from the queue (refreshed when it is configured again): read on every freed seat
        self.target = 15.0
        self.fifo = False
        self.keep = False  # the queue's keep_language_seat
        # languages needed; a tuple, as the empty one is shared (an empty frozenset costs 216 B a bucket)
        self.langs = tuple(name for name, _ in self.skills if name.startswith("lang:"))
        skills = ",".join(f"{k}>={v}" for k, v in self.skills) or "any skill"
        self.label = f"{self.queue}/{self.media}[{skills}]"

    def configure(self, queue: QueueConfig) -> None:
        self.target = queue.target_s if self.media == "voice" else queue.internet_target_s
        self.fifo = queue.selection == "fifo"
        self.keep = queue.keep_language_seat

    def accepts(self, seat: Seat) -> bool:
        if self.media == "chat" and seat.max_chats <= 0:
            return False
        if self.media == "voice" and not seat.calls:
            return False
        if seat.kind == "cloud" and not self.cloud:
            return False
        if self.groups and seat.groups.isdisjoint(self.groups):
            return False
        skills = seat.skills
        for name, level in self.skills:  # noqa: SIM110 - a plain loop is twice as fast as all() here
            if skills.get(name, 0) < level:
                return False
        return True


class Level:
    """One widening level of a contact: the bucket, and the fixed time after which it applies."""

    __slots__ = ("after_s", "bucket", "step")

    def __init__(self, bucket: Bucket, step: str, after_s: float | None) -> None:
        self.bucket = bucket
        self.step = step
        self.after_s = after_s


def needs_class(levels: tuple[Level, ...]) -> tuple[int, ...]:
    """Contacts with the same widening path have the same needs: FIFO holds among them."""
    return tuple(level.bucket.id for level in levels)


class Seat:
    __slots__ = (
        "avail",
        "avail_sig",
        "buckets",
        "calls",
        "chats",
        "groups",
        "id",
        "idle_since",
        "kind",
        "max_chats",
        "occupied_s",
        "offer",
        "pending",
        "reason",
        "ring_delay_s",
        "rona",
        "seq",
        "since",
        "skills",
        "state",
        "voice",
        "wrap_token",
    )

    def __init__(
        self,
        seat_id: str,
        seq: int,
        skills: dict[str, int],
        groups: frozenset[str],
        kind: str,
        ring_delay_s: float,
        max_chats: int,
        now: float,
    ) -> None:
        self.id = seat_id
        self.seq = seq
        self.skills = skills
        self.groups = groups
        self.kind = kind
        self.ring_delay_s = ring_delay_s
        self.max_chats = max_chats
        self.calls = True  # offered calls; False for a seat signed in for chats only
        self.state = "logged_out"
        self.since = now
        self.reason = ""
        self.pending: str | None = None  # a pause asked while working
        self.offer: str | None = None  # contact offered, one at a time
        self.voice: str | None = None  # voice or call-back contact connected
        self.chats: list[str] = []
        self.rona = 0
        self.idle_since = now
        self.occupied_s = 0.0
        self.wrap_token = 0
        self.buckets: list[Bucket] = []
        self.avail_sig: tuple[object, ...] | None = None
        self.avail: dict[Bucket, tuple[float, float, float, int, Seat]] = {}

    @property
    def load(self) -> int:
        return len(self.chats) + (1 if self.voice else 0)


class Contact:
    __slots__ = (
        "answered_at",
        "answered_before",
        "arrived_at",
        "avoid",
        "caller",
        "channel",
        "enq",
        "entry",
        "home",
        "id",
        "klass",
        "level",
        "levels",
        "media",
        "needs",
        "next_announce",
        "number",
        "overflowed",
        "prio",
        "qprio",
        "queue",
        "replied",
        "seat",
        "seq",
        "state",
        "timer",
    )

    def __init__(
        self,
        contact_id: str,
        channel: str,
        media: str,
        queue: QueueConfig,
        prio: int,
        enq: float,
        seq: int,
        caller: str | None,
        levels: tuple[Level, ...],
        now: float,
        klass: tuple[int, ...] | None = None,
    ) -> None:
        self.id = contact_id
        self.channel = channel
        self.media = media
        self.queue = queue.name
        self.home = queue.name  # statistics stay with the queue the contact first entered
        self.overflowed = False
        self.prio = prio
        self.qprio = queue.priority
        self.enq = enq
        self.seq = seq
        self.caller = caller
        self.levels = levels
        self.klass = needs_class(levels) if klass is None else klass
        self.level = 0
        self.state = "waiting"
        self.entry: tuple[int, int, float, int, Contact] | None = None
        self.seat: str | None = None
        self.number: str | None = None
        self.answered_at: float | None = None
        self.answered_before = False  # a seat answered it before it was re-queued: counted once
        self.replied = False
        self.arrived_at = now
        self.timer = 0
        self.next_announce: float | None = None
        self.avoid: str | None = None
        # (skills, preferred, language) as given, to route again in another queue
        self.needs: tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...], str | None] = ((), (), None)

    @property
    def bucket(self) -> Bucket:
        return self.levels[self.level].bucket
