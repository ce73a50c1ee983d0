"""Every seat action through a real socket, and every refusal of acting on another seat's contact."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from acd.core import ContactEnded, OfferAccepted, QueueConfigured
from acd.core.commands import Offer
from acd.queues import load_queues
from agent_console.models import ConsoleActivity
from hotline.storage import Interaction
from tests.integration.agent_console.harness import Client, Engine, FakeVoice


async def ready_seat(engine: Engine, name: str, phone: str = "webrtc") -> Client:
    seat = await engine.client("/agent", await engine.account(name))
    assert (await seat.call("login", {"phone": phone, "ready": True}))["ok"]
    return seat


async def activities(engine: Engine, seat: str) -> list[tuple[str, str, str, str]]:
    await engine.console.activity.flush()
    async with engine.ctx.sessions() as s:
        rows = (await s.execute(select(ConsoleActivity).where(ConsoleActivity.seat_id == seat))).scalars()
        return [(r.kind, r.contact_id, r.disposition, r.notes) for r in rows]


async def test_login_not_ready_with_reason_ready_and_logout_change_the_acd_seat(engine: Engine) -> None:
    seat = await engine.client("/agent", await engine.account("1001"))
    ack = await seat.call("login", {})
    assert ack["ok"] and ack["logged_in"] and ack["seat"]["state"] == "not_ready"
    assert ack["sip"]["username"] == "seat1001" and ack["sip"]["ws_url"] == "/sip/ws"
    assert "小休" in ack["reasons"] and "已解答" in ack["dispositions"]
    assert (await seat.call("ready"))["seat"]["state"] == "ready"
    ack = await seat.call("not_ready", {"reason": "用餐"})
    assert ack["seat"]["state"] == "not_ready" and ack["seat"]["reason"] == "用餐"
    assert engine.acd.core.seat_state("1001")["reason"] == "用餐"
    ack = await seat.call("logout")
    assert ack["ok"] and not ack["logged_in"] and not engine.acd.core.has_seat("1001")


async def test_a_seat_for_chats_only_gets_no_phone_and_no_call_and_one_for_calls_only_no_chat(engine: Engine) -> None:
    """网络座席 and 话务座席 side by side: the call waits for the calls seat, the chat for the chat
    seat, whoever was ready first; the chat seat's page is given no phone to register."""
    web = await engine.client("/agent", await engine.account("1001"))
    ack = await web.call("login", {"phone": "webrtc", "ready": True, "media": "chat"})
    assert ack["ok"] and ack["media"] == "chat" and ack["sip"] is None
    call = await engine.call()
    await engine.chat(caller="wx-7")
    offer = await web.next("offer")
    assert offer["channel"] == "webchat"
    assert engine.acd.core.contact(call) is not None and engine.acd.core.contact(call).state == "waiting"
    phone = await engine.client("/agent", await engine.account("1002"))
    ack = await phone.call("login", {"phone": "webrtc", "ready": True, "media": "voice"})
    assert ack["ok"] and ack["media"] == "voice" and ack["sip"]["username"] == "seat1002"
    offer = await phone.next("offer")
    assert offer["contact_id"] == call and offer["channel"] == "voice"
    assert (await phone.call("state"))["media"] == "voice"
    bad = await web.call("login", {"media": "fax"})
    assert not bad["ok"]


async def test_state_changes_are_pushed_to_the_seat_page(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001")
    await seat.call("not_ready", {"reason": "培训"})
    pushed = await seat.next("state", where=lambda d: d["state"] == "not_ready")
    assert pushed["reason"] == "培训" and pushed["label"] == "示忙"


async def test_chat_offer_carries_countdown_and_context_then_accept_end_and_wrapup(engine: Engine) -> None:
    async with engine.ctx.sessions() as s, s.begin():
        s.add(
            Interaction(
                contact_id="old-1", channel="voice", caller="wx-42", arrived_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
            )
        )
    seat = await ready_seat(engine, "1001")
    cid = await engine.chat(caller="wx-42")
    offer = await seat.next("offer")
    assert offer["contact_id"] == cid and offer["channel"] == "webchat" and offer["queue"] == "internet"
    assert offer["ring_timeout_s"] == 15.0 and offer["deadline"] == pytest.approx(offer["offered_at"] + 15.0)
    assert offer["caller"] == "wx-42"
    ctx = await seat.next("context")
    assert ctx["caller"] == "wx-42" and [c["contact_id"] for c in ctx["contacts"]] == ["old-1"]

    ack = await seat.call("accept", {"contact_id": cid})
    assert ack == {"ok": True, "contact_id": cid, "channel": "webchat", "auto_answer": False, "hint": ""}
    assert engine.acd.core.seat_state("1001")["chats"] == [cid]

    # A chat cannot be wrapped up while it is still open.
    early = await seat.call("wrapup", {"contact_id": cid, "disposition": "已解答"})
    assert early == {"ok": False, "error": "通话/会话尚未结束，结束后再提交话后处理"}
    ack = await seat.call("hangup", {"contact_id": cid})
    assert ack["ok"] and ack["action"] == "end_chat" and engine.acd.core.seat_state("1001")["chats"] == []
    ack = await seat.call("wrapup", {"contact_id": cid, "disposition": "已解答", "notes": "咨询公积金<b>提取</b>"})
    assert ack["ok"]
    assert (await seat.call("wrapup", {"contact_id": cid, "disposition": "已解答"}))["error"] == (
        "该来电/会话已提交过话后处理"
    )
    kinds = await activities(engine, "1001")
    assert ("wrapup", cid, "已解答", "咨询公积金<b>提取</b>") in kinds
    assert [k for k, *_ in kinds] == ["offer", "accept", "wrapup"]

    today = await seat.call("today")
    assert today["ok"] and today["offered"] == 1 and today["accepted"] == 1 and today["wrapped"] == 1
    assert today["chats"] == 1 and today["calls"] == 0 and today["avg_handle_s"] >= 0


async def test_reject_sends_the_offer_to_another_seat(engine: Engine) -> None:
    first = await ready_seat(engine, "1001")
    cid = await engine.chat()
    offer = await first.next("offer")
    second = await ready_seat(engine, "1002")
    ack = await first.call("reject", {"contact_id": offer["contact_id"]})
    assert ack["ok"]
    again = await second.next("offer")
    assert again["contact_id"] == cid
    assert [k for k, *_ in await activities(engine, "1001")] == ["offer", "reject"]


async def test_offer_that_times_out_disappears_from_the_page(engine: Engine) -> None:
    internet = next(q for q in load_queues() if q.name == "internet")
    from dataclasses import replace

    await engine.acd.feed(QueueConfigured(now=engine.acd.now(), queue=replace(internet, ring_timeout_s=0.3)))
    seat = await ready_seat(engine, "1001")
    cid = await engine.chat()
    assert (await seat.next("offer"))["ring_timeout_s"] == 0.3
    gone = await seat.next("offer_gone", timeout=3)
    assert gone == {"contact_id": cid, "answered": False}
    assert (await seat.call("accept", {"contact_id": cid}))["ok"] is False


async def test_a_seat_cannot_accept_reject_or_wrap_up_another_seats_contact(engine: Engine) -> None:
    owner = await ready_seat(engine, "1001")
    cid = await engine.chat()
    await owner.next("offer")
    other = await engine.client("/agent", await engine.account("1002"))
    assert (await other.call("login"))["ok"]
    mine = {"ok": False, "error": "该来电/会话不属于您"}
    assert await other.call("accept", {"contact_id": cid}) == mine
    assert await other.call("reject", {"contact_id": cid}) == mine
    assert await other.call("context", {"contact_id": cid}) == mine
    assert (await owner.call("accept", {"contact_id": cid}))["ok"]
    assert await other.call("hangup", {"contact_id": cid}) == mine
    assert await other.call("wrapup", {"contact_id": cid, "disposition": "已解答"}) == mine
    assert await other.call("create_workorder", {"contact_id": cid, "content": "x"}) == mine
    assert engine.acd.core.seat_state("1001")["chats"] == [cid]


async def test_unknown_contact_and_unknown_disposition_are_refused(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001")
    assert (await seat.call("accept", {"contact_id": "nope"}))["error"] == "该来电/会话已不存在（已超时或对方已挂断）"
    bad = await seat.call("wrapup", {"contact_id": "nope", "disposition": "随便"})
    assert bad["ok"] is False and bad["error"].startswith("处理结果须为：")


@pytest.fixture
async def in_call(engine: Engine) -> tuple[Client, str, FakeVoice]:
    voice = FakeVoice()
    engine.ctx.deps.voice = voice
    seat = await ready_seat(engine, "1001")
    cid = await engine.call(caller="13912345678")
    offer = await seat.next("offer")
    assert offer["channel"] == "voice" and offer["caller"] == "13912345678"
    ack = await seat.call("accept", {"contact_id": cid})
    assert ack["auto_answer"] is True  # the page's soft-phone answers the ringing call itself
    assert [c for c in engine.executor.commands if isinstance(c, Offer)][-1].seat_id == "1001"
    # The voice adapter tells the ACD once the soft-phone has answered.
    await engine.acd.feed(OfferAccepted(now=engine.acd.now(), contact_id=cid, seat_id="1001"))
    assert engine.acd.core.seat_state("1001")["voice"] == cid
    return seat, cid, voice


async def test_a_call_answered_on_the_phone_without_a_click_is_the_seats_to_wrap_up(engine: Engine) -> None:
    """A desk or cloud seat answers the ringing phone by hand, never touching the page: the call is
    still its own, listed to wrap up and wrapped up (before, it was "not yours" for ever)."""
    engine.ctx.deps.voice = FakeVoice()
    seat = await ready_seat(engine, "1001", phone="external")
    cid = await engine.call(caller="13912345679")
    await seat.next("offer")
    await engine.acd.feed(OfferAccepted(now=engine.acd.now(), contact_id=cid, seat_id="1001"))  # the phone answered
    await seat.next("offer_gone")
    await engine.acd.feed(ContactEnded(now=engine.acd.now(), contact_id=cid))
    state = await seat.call("state")
    assert state["to_wrap"] == [cid], state
    ack = await seat.call("wrapup", {"contact_id": cid, "disposition": "已解答"})
    assert ack["ok"], ack
    assert (await seat.call("state"))["to_wrap"] == []


@pytest.mark.parametrize(
    ("event", "extra", "call"),
    [
        ("hold", {}, ("hold", ("1001",))),
        ("unhold", {}, ("unhold", ("1001",))),
        ("mute", {"on": True}, ("mute", ("1001", True))),
        ("dtmf", {"digits": "12#"}, ("dtmf", ("1001", "12#"))),
        ("transfer", {"target": "queue:business"}, ("transfer", ("1001", "queue:business", False))),
        ("transfer", {"target": "seat:1002", "attended": True}, ("transfer", ("1001", "seat:1002", True))),
        ("complete_transfer", {}, ("complete_transfer", ("1001",))),
        ("emergency", {"service": "police"}, ("emergency_transfer", ("1001", "police"))),
        ("emergency", {"service": "ambulance"}, ("emergency_transfer", ("1001", "ambulance"))),
        ("three_party", {"number": "110"}, ("three_party", ("1001", "110"))),
        ("leave_three_party", {}, ("leave_three_party", ("1001",))),
        ("hangup", {}, ("hangup", ("1001",))),
    ],
)
async def test_call_control_goes_to_the_voice_side_for_the_seats_own_call(
    in_call: tuple[Client, str, FakeVoice], event: str, extra: dict[str, object], call: tuple[str, tuple[object, ...]]
) -> None:
    seat, cid, voice = in_call
    ack = await seat.call(event, {"contact_id": cid, **extra})
    assert ack["ok"], ack
    assert voice.calls == [call]


async def test_call_control_refusals(engine: Engine, in_call: tuple[Client, str, FakeVoice]) -> None:
    seat, cid, voice = in_call
    assert await seat.call("hold", {"contact_id": "someone-elses"}) == {"ok": False, "error": "该来电/会话不属于您"}
    assert await seat.call("transfer", {"contact_id": cid, "target": "seat:1001"}) == {
        "ok": False,
        "error": "不能转接给自己",
    }
    voice.fail = "对方已挂机"
    assert await seat.call("hold", {"contact_id": cid}) == {"ok": False, "error": "对方已挂机"}
    other = await engine.client("/agent", await engine.account("1002"))
    assert await other.call("hangup", {"contact_id": cid}) == {"ok": False, "error": "该来电/会话不属于您"}
    engine.ctx.deps.voice = None
    assert await seat.call("mute", {"contact_id": cid, "on": True}) == {"ok": False, "error": "语音服务未启用"}
    assert voice.calls == []


async def test_voice_wrapup_after_the_call_ends_makes_the_seat_ready(
    engine: Engine, in_call: tuple[Client, str, FakeVoice]
) -> None:
    seat, cid, _ = in_call
    await engine.acd.feed(ContactEnded(now=engine.acd.now(), contact_id=cid))
    assert engine.acd.core.seat_state("1001")["state"] == "wrap_up"
    assert (await seat.call("state"))["to_wrap"] == [cid]  # a refresh still asks for the wrap-up
    ack = await seat.call("wrapup", {"contact_id": cid, "disposition": "已建工单", "notes": "路灯不亮"})
    assert ack["ok"] and ack["seat"]["state"] == "ready"
    today = await seat.call("today")
    assert today["calls"] == 1 and today["wrapped"] == 1
    assert (await seat.call("state"))["to_wrap"] == []


async def test_desk_phone_seat_is_told_to_answer_on_the_phone(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001", phone="desk")
    cid = await engine.call()
    await seat.next("offer")
    ack = await seat.call("accept", {"contact_id": cid})
    assert ack["auto_answer"] is False and ack["hint"] == "请在话机上接听"
    assert (await seat.call("sip")) == {"ok": False, "error": "本座席未使用网页话机"}


async def test_seat_joins_the_rooms_of_its_queues_and_gets_their_figures(engine: Engine) -> None:
    seat = await engine.client("/agent", await engine.account("1001"))  # default skills: general 1
    ack = await seat.call("login", {})
    assert "general" in ack["queues"] and "business" not in ack["queues"]
    general = next(f for f in ack["queue_figures"] if f["queue"] == "general")
    assert general == {"queue": "general", "waiting": 0, "longest_wait_s": 0.0}
    await engine.call(queue="business")
    await engine.call(queue="general")  # the seat is not ready: the call waits
    got = await seat.next("queue", where=lambda d: d["queue"] == "general" and d["waiting"] == 1)
    assert set(got) == {"queue", "waiting", "longest_wait_s"}
    seen = {
        d["queue"] for d in [got, *[seat.events["queue"].get_nowait() for _ in range(seat.events["queue"].qsize())]]
    }
    assert "business" not in seen


async def test_rejected_voice_offer_rings_the_next_seat(engine: Engine) -> None:
    first = await ready_seat(engine, "1001")
    cid = await engine.call()
    await first.next("offer")
    second = await ready_seat(engine, "1002")
    assert (await first.call("reject", {"contact_id": cid}))["ok"]
    assert (await second.next("offer"))["contact_id"] == cid
    assert engine.acd.core.contact(cid).seat == "1002"
    # The contact is no longer the first seat's to refuse.
    assert (await first.call("reject", {"contact_id": cid})) == {"ok": False, "error": "该来电/会话不属于您"}


class FakeChannels:
    """Stands in for the channels feature's ChannelService (transcript and send_text)."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, str]] = []

    async def transcript(self, conversation_id: int) -> list[dict[str, object]]:
        return [{"id": 1, "direction": "in", "kind": "text", "body": {"text": "<b>你好</b>"}, "at": "2026-11-26T08:00"}]

    async def send_text(self, conversation_id: int, seat: str, text: str, sent_as: str | None = None) -> object:
        from channels.seats import ConversationError, Sent

        if text == "late":
            raise ConversationError("超出48小时回复时限")
        self.sent.append((conversation_id, seat, text))
        return Sent(len(self.sent), "sent")


async def test_chat_messages_go_through_the_channels_and_the_first_reply_counts(engine: Engine) -> None:
    from acd.core import ContactArrived

    seat = await ready_seat(engine, "1001")
    await engine.acd.feed(
        ContactArrived(now=engine.acd.now(), contact_id="wechat-42", channel="wechat", queue="internet", caller="o-x")
    )
    await seat.next("offer")
    await seat.call("accept", {"contact_id": "wechat-42"})
    assert await seat.call("chat_send", {"contact_id": "wechat-42", "text": "您好"}) == {
        "ok": False,
        "error": "会话服务未启用",
    }
    channels = FakeChannels()
    engine.ctx.deps.channels = channels
    history = await seat.call("chat_history", {"contact_id": "wechat-42"})
    assert history["ok"] and history["messages"][0]["body"]["text"] == "<b>你好</b>"
    ack = await seat.call("chat_send", {"contact_id": "wechat-42", "text": "您好，请讲"})
    assert ack == {"ok": True, "contact_id": "wechat-42", "status": "sent", "detail": ""}
    assert channels.sent == [(42, "1001", "您好，请讲")]
    assert engine.acd.core.contact("wechat-42").replied is True
    late = await seat.call("chat_send", {"contact_id": "wechat-42", "text": "late"})
    assert late == {"ok": False, "error": "超出48小时回复时限"}
    other = await engine.client("/agent", await engine.account("1002"))
    assert (await other.call("chat_send", {"contact_id": "wechat-42", "text": "hi"}))["error"] == "该来电/会话不属于您"


async def test_the_seat_phone_opens_with_the_sign_in_closes_with_the_sign_out_and_asterisk_away_blocks_neither(
    engine: Engine,
) -> None:
    from acd.voice.phones import SeatPhones

    writes: list[list[str]] = []
    fail = [False]

    async def write(devices, passwords):  # type: ignore[no-untyped-def]
        if fail[0]:
            raise OSError("AMI not reachable")
        writes.append(sorted(d.seat_id for d in devices))

    engine.ctx.deps.phones = phones = SeatPhones("secret", write, settle_s=0.01)
    seat = await engine.client("/agent", await engine.account("1201"))
    ack = await seat.call("login", {"phone": "webrtc"})
    assert ack["ok"] and writes[-1] == ["1201"]
    first = ack["sip"]["password"]
    assert phones.credentials("1201") == ("seat1201", first)
    assert (await seat.call("logout"))["ok"] and writes[-1] == []
    fail[0] = True  # Asterisk away: the sign-in still works, the phone opens with the next write
    ack = await seat.call("login", {"phone": "webrtc"})
    assert ack["ok"] and ack["sip"]["password"] != first
    await phones.stop()
