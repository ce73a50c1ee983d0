"""The typed bundle every feature's plugin receives: the kernel's services (settings, storage,
Redis, the compute lane) and ``deps``, what the features provide to one another.

Part of the composition root: ``Deps`` names the features' services (as types only), so the
kernel never imports this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hotline.bus import Bus
from hotline.lease import ALWAYS, Lease
from hotline.offload import Lane
from hotline.outbox import Outbox
from hotline.redislink import RedisHealth
from hotline.settings import Settings
from hotline.sockets import GuardedServer

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from acd.ami import Ami
    from acd.chat import ChatBridge
    from acd.service import AcdService
    from acd.voice.api import VoiceControl
    from acd.voice.phones import SeatPhones
    from acd.voice.presence import PhonePresence
    from acd.voice.service import VoiceService
    from agent_console.services import ConsoleService
    from channels.services import ChannelService
    from channels.sink import QueueContactSink
    from channels.visitor import VisitorNamespace
    from ivr.service import IvrService
    from knowledge.services import KnowledgeService
    from scheduling.services import SchedulingService
    from supervision.services import SupervisionService
    from workorders.services import WorkOrderService


@dataclass
class Deps:
    """What the features provide to one another, each set by the feature that owns it when it
    is installed (``None`` while that feature is absent or not installed yet). A feature reads
    the others only through these fields, never by importing their adapters; the bus carries
    what one feature tells all the others (``hotline.bus``)."""

    bus: Bus = field(default_factory=Bus)
    sio: GuardedServer | None = None  # the Socket.IO server, built by the composition root
    acd: AcdService | None = None
    voice: VoiceControl | None = None  # call control for the console and supervisors
    voice_service: VoiceService | None = None  # seats' devices, for the roster and scheduling
    ami: Ami | None = None
    phones: SeatPhones | None = None
    phone_presence: PhonePresence | None = None
    provision_seats: Callable[[], Awaitable[int]] | None = None
    ivr: IvrService | None = None
    speak: Callable[[str, str, Path], object] | None = None  # the IVR's speech: speak(name, text, folder)
    workorders: WorkOrderService | None = None
    channels: ChannelService | None = None
    channels_sink: QueueContactSink | None = None
    chat_bridge: ChatBridge | None = None
    console: ConsoleService | None = None
    webchat: VisitorNamespace | None = None
    scheduling: SchedulingService | None = None
    knowledge: KnowledgeService | None = None  # search and entries, for the consoles and the channels
    supervision: SupervisionService | None = None  # 督办: open supervisions, for the work orders' reply approval
    # Other features' sections of the work orders' KPI page: ``async section(start, end, unit) -> str``
    # (HTML, escaped by the section), rendered under the work orders' figures for the same period.
    kpi_sections: list[Callable[[dt.datetime, dt.datetime, str | None], Awaitable[str]]] = field(default_factory=list)


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis | None = None
    redis_health: RedisHealth = field(default_factory=RedisHealth)  # what Redis's users saw of it
    deps: Deps = field(default_factory=Deps)
    # Whether this process may route (cluster.enabled: a PostgreSQL lease; else always): every
    # command to Asterisk and every batch of call records checks it (hotline/lease.py).
    lease: Lease = ALWAYS
    _compute: Lane | None = field(default=None, repr=False)
    _outbox: Outbox | None = field(default=None, repr=False)

    @property
    def outbox(self) -> Outbox:
        """What must follow a commit, written in it (``hotline.outbox``): features register the
        kinds they carry out; the composition root runs its worker."""
        if self._outbox is None:
            self._outbox = Outbox(self.sessions)
        return self._outbox

    @property
    def compute(self) -> Lane:
        """Worker processes for computations a request may ask for (staffing, Erlang): bounded in
        number, each with a time limit, never on the event loop (settings.security)."""
        if self._compute is None:
            sec = self.settings.security
            self._compute = Lane("compute", workers=sec.computations_at_once, waiting=4, processes=True)
        return self._compute
