import datetime as dt

import pytest

from ivr.core.errors import IllegalEvent
from ivr.core.messages import (
    CollectDigits,
    DigitsReceived,
    DigitTimeout,
    Hangup,
    Play,
    PromptFinished,
    PromptRef,
    RequestCallback,
    Say,
)
from ivr.core.waiting import WaitingAnnouncer, WaitPolicy, WaitState, WaitUpdate

T0 = dt.datetime(2026, 11, 26, 10, 0)


def sec(n: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=n)


def announcer(caller: str = "13812345678", **policy: float) -> WaitingAnnouncer:
    return WaitingAnnouncer(caller, "general", T0, WaitPolicy(**policy))  # type: ignore[arg-type]


def test_position_and_expected_wait_are_announced_after_the_first_delay_then_periodically() -> None:
    w = announcer(first_after=20, every=45, offer_callback_from=600)
    assert w.on_event(WaitUpdate(sec(10), 3, 100)) == []
    expected = Play(
        (PromptRef("position_before"), Say("三"), PromptRef("position_after"), PromptRef("wait_before"), Say("两分钟"))
    )
    assert w.on_event(WaitUpdate(sec(20), 3, 100)) == [expected]
    assert w.on_event(WaitUpdate(sec(30), 3, 100)) == []  # the announcement is still playing
    assert w.on_event(PromptFinished()) == [] and w.state is WaitState.HOLDING
    assert w.on_event(WaitUpdate(sec(60), 2, 70)) == []  # 45 s have not passed
    assert w.on_event(WaitUpdate(sec(65), 1, 30))[0] == Play(
        (PromptRef("position_before"), Say("一"), PromptRef("position_after"), PromptRef("wait_under_minute"))
    )


def test_a_long_wait_offers_a_callback_that_keeps_the_callers_place() -> None:
    w = announcer(first_after=0, offer_callback_from=60)
    play, collect = w.on_event(WaitUpdate(sec(1), 8, 300))
    assert isinstance(play, Play) and play.barge_in and play.pieces[-1] == PromptRef("callback_offer")
    assert collect == CollectDigits(1, 5.0, "")
    request, confirm = w.on_event(DigitsReceived("1"))
    assert request == RequestCallback("13812345678", "general", "waiting", keep_place=True)
    assert confirm == Play((PromptRef("callback_offer_done"),))
    assert w.on_event(PromptFinished()) == [Hangup()]
    assert w.accepted_callback and w.state is WaitState.ENDED


def test_declining_or_ignoring_the_offer_returns_to_hold_and_offers_are_limited() -> None:
    w = announcer(first_after=0, every=10, offer_callback_from=60, max_offers=2)
    w.on_event(WaitUpdate(sec(0), 5, 300))
    assert w.on_event(DigitsReceived("2")) == [] and w.state is WaitState.HOLDING
    w.on_event(WaitUpdate(sec(10), 5, 300))
    assert w.on_event(DigitTimeout()) == []
    third = w.on_event(WaitUpdate(sec(20), 5, 300))
    assert len(third) == 1 and PromptRef("callback_offer") not in third[0].pieces  # type: ignore[union-attr]
    assert w.offers == 2 and not w.accepted_callback


def test_anonymous_callers_are_not_offered_a_callback() -> None:
    w = announcer(caller="anonymous", first_after=0, offer_callback_from=0)
    (play,) = w.on_event(WaitUpdate(sec(0), 2, 500))
    assert PromptRef("callback_offer") not in play.pieces  # type: ignore[union-attr]


def test_a_hangup_ends_the_announcer_and_later_keys_are_illegal() -> None:
    w = announcer(first_after=0)
    w.on_event(WaitUpdate(sec(0), 1, 10))
    w.on_event(Hangup())
    assert w.on_event(WaitUpdate(sec(50), 1, 10)) == []
    with pytest.raises(IllegalEvent):
        w.on_event(DigitsReceived("1"))


def test_every_waiting_prompt_is_in_the_prompt_list() -> None:
    from .flows import CATALOG

    w = announcer(first_after=0, offer_callback_from=0)
    out = w.on_event(WaitUpdate(sec(0), 0, 30)) + w.on_event(DigitsReceived("1"))
    names = {p.name for c in out if isinstance(c, Play) for p in c.pieces if isinstance(p, PromptRef)}
    names |= {"position_before", "position_after", "wait_before"}
    assert names <= CATALOG
