"""Settings of the engine and queue definitions: plain frozen data, checked on creation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

CHANNELS: Final = ("voice", "webchat", "wechat", "callback")
INTERNET_CHANNELS: Final = frozenset({"webchat", "wechat"})
STRATEGIES: Final = ("longest_idle", "least_occupied", "highest_proficiency", "least_skilled")
WIDENING_STEPS: Final = ("proficiency", "preferred", "groups", "cloud")
SELECTIONS: Final = ("target", "fifo")


def media_of(channel: str) -> str:
    """Voice and call-backs take the whole seat; chats share it."""
    return "chat" if channel in INTERNET_CHANNELS else "voice"


Skills = tuple[tuple[str, int], ...]


def check_skills(skills: Skills, what: str) -> Skills:
    out: dict[str, int] = {}
    for item in skills:
        if len(item) != 2:
            raise ValueError(f"{what}: each skill is a (name, proficiency) pair, got {item!r}")
        name, level = item
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}: skill name must be a non-empty string, got {name!r}")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            raise ValueError(f"{what}: proficiency of {name!r} must be an integer 1-5, got {level!r}")
        out[name] = max(out.get(name, 0), level)
    return tuple(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue as data. ``skills`` is a conjunction: every (skill, minimum proficiency) is needed."""

    name: str
    skills: Skills = ()
    groups: tuple[str, ...] = ()  # empty: seats of any group
    priority: int = 0  # lower is served first among equal contact priorities
    target_s: float = 15.0  # voice answer target; chats use internet_target_s
    internet_target_s: float = 60.0
    strategy: str = "longest_idle"
    selection: str = "target"  # "target": most at-risk head first; "fifo": oldest head first
    widening: tuple[str, ...] = WIDENING_STEPS
    widen_on_projection: bool = True
    # chats go to the seat already holding the most of them (below the limit) before an idle one:
    # a call needs the whole seat, so every idle seat kept free of chats can still take one
    pack_chats: bool = False
    # a contact needing no language is kept off the only seat ready for a language (voice) while its
    # wait is below projection_margin x target: that seat is the one a caller of the language needs
    keep_language_seat: bool = False
    widen_after_s: tuple[float | None, ...] = (30.0, 45.0, 60.0, 90.0)  # fixed fallback per step
    floor_proficiency: int = 1
    ring_timeout_s: float = 15.0
    max_length: int | None = None
    max_wait_s: float | None = None
    overflow: str = "callback"  # "queue:<name>", "callback" or "message"
    announce_every_s: float | None = None
    open_hours: tuple[tuple[int, int], ...] = ()  # minutes of day [from, to); empty: 24 h
    utc_offset_s: int = 8 * 3600

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("queue name must not be empty")
        object.__setattr__(self, "skills", check_skills(self.skills, f"queue {self.name}"))
        object.__setattr__(self, "groups", tuple(sorted(set(self.groups))))
        if self.strategy not in STRATEGIES:
            raise ValueError(f"queue {self.name}: strategy must be one of {', '.join(STRATEGIES)}")
        if self.selection not in SELECTIONS:
            raise ValueError(f"queue {self.name}: selection must be one of {', '.join(SELECTIONS)}")
        for step in self.widening:
            if step not in WIDENING_STEPS:
                raise ValueError(f"queue {self.name}: widening step {step!r} not in {WIDENING_STEPS}")
        if len(self.widen_after_s) not in (0, len(self.widening)):
            raise ValueError(f"queue {self.name}: widen_after_s needs one value (or null) per widening step")
        for value in (self.target_s, self.internet_target_s, self.ring_timeout_s):
            if value <= 0:
                raise ValueError(f"queue {self.name}: targets and ring timeout must be positive")
        if not (self.overflow in ("callback", "message") or self.overflow.startswith("queue:")):
            raise ValueError(f"queue {self.name}: overflow must be callback, message or queue:<name>")
        if self.max_length is not None and self.max_length < 0:
            raise ValueError(f"queue {self.name}: max_length must be >= 0")
        if self.announce_every_s is not None and self.announce_every_s <= 0:
            raise ValueError(f"queue {self.name}: announce_every_s must be positive")
        for span in self.open_hours:
            if len(span) != 2 or not 0 <= span[0] < span[1] <= 1440:
                raise ValueError(f"queue {self.name}: open_hours are [from, to) minutes within 0-1440")

    def target_for(self, channel: str) -> float:
        return self.target_s if media_of(channel) == "voice" else self.internet_target_s

    def is_open(self, now: float) -> bool:
        """Opening hours need ``now`` as epoch seconds; queues without hours are always open."""
        if not self.open_hours:
            return True
        minute = int(((now + self.utc_offset_s) % 86400) // 60)
        return any(lo <= minute < hi for lo, hi in self.open_hours)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueueConfig:
        d = dict(data)
        for key in ("skills", "open_hours"):
            if key in d:
                d[key] = tuple(tuple(x) for x in d[key])
        for key in ("groups", "widening", "widen_after_s"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


@dataclass(frozen=True, slots=True)
class AcdSettings:
    """Engine-wide settings; every city sets its own, these are the defaults."""

    max_chats: int = 3
    chats_during_call: bool = False
    rona_limit: int = 2  # consecutive offers not answered before the seat is set not_ready
    wrap_up_s: dict[str, float] = field(default_factory=lambda: {"voice": 10.0, "chat": 0.0})
    short_abandon_s: float = 0.0  # abandons shorter than this leave the 15 s denominator
    internet_response_s: float = 60.0
    priorities: dict[str, int] = field(
        default_factory=lambda: {"emergency": 0, "special": 0, "repeat": 1, "vulnerable": 1, "normal": 2}
    )
    aht_s: dict[str, float] = field(default_factory=lambda: {"voice": 240.0, "chat": 300.0})
    aht_alpha: float = 0.05  # weight of the newest handle time in the moving average
    interval_s: int = 900
    repeat_caller: bool = True
    projection_margin: float = 0.5  # widen when elapsed + projected wait > margin x target

    def __post_init__(self) -> None:
        if self.max_chats < 0 or self.rona_limit < 1:
            raise ValueError("max_chats must be >= 0 and rona_limit >= 1")
        if self.interval_s <= 0 or 86400 % self.interval_s:
            raise ValueError("interval_s must divide a day (900 for 15 minutes)")
        if not 0 < self.aht_alpha <= 1 or not 0 < self.projection_margin <= 1:
            raise ValueError("aht_alpha and projection_margin must be in (0, 1]")
        if "normal" not in self.priorities:
            raise ValueError("priorities must define 'normal'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AcdSettings:
        return cls(**data)
