"""Two named sandbox Asterisk instances, ``a`` and ``b``, peered with each other by the trunk the
dialplans render (docs/voice.md, "Several Asterisk servers"), for the cluster tier's tests: the
pair itself is bench/_servers.py's (the failover bench runs one too).

They run from the default instance's root with ports of their own (the default's moved by 100 and
200, RTP ranges of their own); the default instance is never touched, since other tests and
benches use it. Every instance started here is stopped at the end, whatever happened.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping

from bench import _servers
from bench._servers import PEERED, PEERED_CD, Server
from tests.integration.acd.voice_harness import next_port
from tests.integration.asterisk import asterisk_settings, sipp_binary

__all__ = ["PEERED", "PEERED_CD", "Server", "peered_pair"]


@contextlib.asynccontextmanager
async def peered_pair(
    trunk_ports: dict[str, int] | None = None,
    before_up: Callable[[dict[str, Server]], None] | None = None,
    pair: Mapping[str, str] = PEERED,
) -> AsyncIterator[dict[str, Server]]:
    """Instances a and b (or the ``pair`` given, e.g. PEERED_CD) up, peered with each other;
    ``trunk_ports``: where each one's outbound trunk goes (a free port, nothing listening, unless
    given); ``before_up`` may write into their folders first. Both are stopped at the end."""
    base = asterisk_settings()  # the default instance's root is the one reused
    sipp_binary()
    ports = {name: (trunk_ports or {}).get(name) or next_port() for name in pair}
    async with _servers.peered_pair(base, ports, before_up, pair) as servers:
        yield servers
