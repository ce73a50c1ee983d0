"""Asterisk sends the voice side only the ARI event types in ``EVENTS``: every type its code
compares against must be in that list, or the filter would silently starve it."""

from __future__ import annotations

import re
from pathlib import Path

from acd.voice.service import EVENTS

ROOT = Path(__file__).resolve().parents[3]
SOURCES = sorted((ROOT / "acd" / "voice").glob("*.py"))  # the IVR on ARI (acd/voice/ivr.py) among them
ARI_NAME = re.compile(r"\"((?:Stasis|Channel|Playback|Recording|Bridge|Endpoint|Application|Dial)[A-Za-z]*)\"")


def test_every_event_type_the_voice_code_names_is_let_through() -> None:
    named = {m for path in SOURCES for m in ARI_NAME.findall(path.read_text())}
    assert {"StasisStart", "ChannelDtmfReceived", "PlaybackFinished"} <= named  # the scan reads the code
    assert named - EVENTS == set()


def test_the_noisy_types_stay_out() -> None:
    assert not EVENTS & {"ChannelVarset", "ChannelStateChange", "Dial", "ChannelDialplan", "ChannelEnteredBridge"}
