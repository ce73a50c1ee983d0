"""A citizen who hangs up while a seat's phone rings: the core forgets the contact and cancels the
offer in the same step, and the service still finds the executor for that cancel by the channel
it carries (it looked the contact up, found nothing, logged "no executor for command" and dropped
the cancel: hundreds of warnings a minute at a busy hour's abandons)."""

from __future__ import annotations

import logging

import pytest

from acd.core import CancelOffer, ContactAbandoned, ContactArrived, Offer, QueueConfig, QueueConfigured, SeatLoggedIn
from acd.core.commands import command_from_dict, command_to_dict
from acd.service import AcdService
from hotline.bus import Bus


class Recorder:
    def __init__(self) -> None:
        self.commands: list[object] = []

    async def execute(self, command: object) -> None:
        self.commands.append(command)


@pytest.mark.parametrize(("channel", "media"), [("voice", "voice"), ("webchat", "chat")])
async def test_the_cancel_of_an_abandoned_offer_reaches_its_executor(
    channel: str, media: str, caplog: pytest.LogCaptureFixture
) -> None:
    acd = AcdService(Bus())
    seen = Recorder()
    acd.register(media, seen)
    now = acd.now()
    await acd.feed(QueueConfigured(now, QueueConfig("q")))
    await acd.feed(SeatLoggedIn(now, "s1", (("general", 3),), ready=True))
    await acd.feed(ContactArrived(now, "c1", channel, "q"))
    assert [type(c) for c in seen.commands] == [Offer]
    with caplog.at_level(logging.WARNING, logger="acd.service"):
        await acd.feed(ContactAbandoned(now + 1, "c1"))
    assert seen.commands[1:] == [CancelOffer("c1", "s1", "citizen hung up", channel)]
    assert acd.core.contact("c1") is None
    assert not [r for r in caplog.records if "no executor" in r.getMessage()]


def test_a_cancel_recorded_before_it_carried_its_channel_still_reads() -> None:
    old = {"type": "CancelOffer", "contact_id": "c1", "seat_id": "s1", "reason": "no answer within 15 s"}
    assert command_from_dict(old) == CancelOffer("c1", "s1", "no answer within 15 s")
    again = CancelOffer("c1", "s1", "citizen hung up", "voice")
    assert command_from_dict(command_to_dict(again)) == again
