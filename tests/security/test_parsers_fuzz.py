"""A short fuzz pass over every parser at the edge (bench/fuzz.py's targets, derandomized so the
verdict repeats): each input is accepted or refused with the parser's own error, never a crash."""

from __future__ import annotations

import asyncio

import pytest

from bench import fuzz


@pytest.mark.parametrize("target", sorted(fuzz.TARGETS))
def test_the_parser_accepts_or_refuses_every_input_without_crashing(target):
    tried, crashes = fuzz.fuzz(target, 150)
    assert crashes == [] and tried >= 150


def test_an_ami_frame_with_a_repeated_event_header_costs_that_frame_only():
    from acd.ami import _Protocol
    from hotline.guard import REFUSED

    seen = []

    class Factory(fuzz._Factory):
        def dispatch(self, message):
            seen.append(str(message.get("Event")))

    async def feed():
        proto = _Protocol()
        proto.connection_made(fuzz._Transport())
        proto.factory = Factory()
        before = REFUSED.labels("ami", "frame")._value.get()
        proto.data_received(b"Event: ContactStatus\r\nEvent: Other\r\nAOR: seat1\r\n\r\n")
        proto.data_received(b"Event: ContactStatus\r\nAOR: seat2\r\nContactStatus: Removed\r\n\r\n")
        return REFUSED.labels("ami", "frame")._value.get() - before

    assert asyncio.run(feed()) == 0
    assert seen == ["ContactStatus", "ContactStatus"]  # the odd frame kept its first Event, the next arrived
