"""The emergency announcement a shift manager's surge switches on (scheduling publishes
``ivr.announcement`` on the bus): spoken to every new caller before the IVR while it is on.

The text is the manager's own, so the prompt is made when it arrives, by the IVR's speech
(``ctx.deps.speak``: espeak-ng + sox, as all generated prompts), into Asterisk's sounds folder
of the sandbox."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.bus import Bus

if TYPE_CHECKING:
    from acd.voice.servers import VoiceServers
    from acd.voice.service import VoiceService

logger = logging.getLogger(__name__)

# speak(name, text, folder): write the spoken text as folder/name.wav (blocking; run in a thread)
Speak = Callable[[str, str, Path], object]


class Announcement:
    def __init__(self, voice: VoiceService | VoiceServers, bus: Bus, sounds_dir: Path, speak: Speak | None) -> None:
        self.voice = voice
        self.speak = speak
        self.sounds_dir = sounds_dir
        bus.subscribe("ivr.announcement", self.on_announcement)

    async def on_announcement(self, _topic: str, payload: dict[str, Any]) -> None:
        text = payload.get("text")
        if not payload.get("active") or not isinstance(text, str) or not text.strip():
            self.voice.notice = None
            logger.info("emergency announcement off")
            return
        name = "notice_" + hashlib.sha256(text.encode()).hexdigest()[:10]
        if self.speak is None:
            logger.error("emergency announcement not made: no speech (the IVR feature is not installed)")
            return
        try:
            self.sounds_dir.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(self.speak, name, text.strip()[:300], self.sounds_dir)
        except Exception:
            logger.exception("emergency announcement not made: callers do not hear it")
            return
        self.voice.notice = name
        logger.info("emergency announcement on", extra={"prompt": name})
