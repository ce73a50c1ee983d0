"""The supervisor's board and actions, live over a real socket."""

from __future__ import annotations

from acd.core import ContactEnded, OfferAccepted
from agent_console.models import SeatProfile
from tests.integration.agent_console.harness import Client, Engine, FakeVoice
from tests.integration.agent_console.test_seat_actions import ready_seat


async def supervisor(engine: Engine, name: str = "boss") -> Client:
    return await engine.client("/supervisor", await engine.account(name, "supervisor"))


async def test_board_shows_queues_seats_and_todays_intervals(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001")
    cid = await engine.call()
    await seat.next("offer")
    await engine.acd.feed(OfferAccepted(now=engine.acd.now(), contact_id=cid, seat_id="1001"))
    await engine.call()  # waits: the only seat is busy
    sup = await supervisor(engine)
    board = await sup.call("board")
    assert board["ok"]
    general = next(q for q in board["queues"] if q["queue"] == "general")
    assert general["waiting"] == 1 and general["offered"] == 2 and general["answered"] == 1
    # Answered at once, one still waiting: 1 of 2 voice contacts answered within 15 s so far.
    assert general["sl15_today"] == 0.5 and general["sl15_last30"] == 0.5
    assert general["internet_rate_today"] is None
    (row,) = board["seats"]
    assert row["seat"] == "1001" and row["state"] == "busy" and row["voice"] == cid and row["online"] == "online"
    assert row["time_in_state_s"] >= 0 and row["groups"] == [] and row["skills"] == {"general": 1}
    assert board["by_state"]["busy"] == 1
    assert board["series"][-1]["offered"] == 2 and board["interval_s"] == 900


async def test_seat_actions_reach_every_supervisor_at_once(engine: Engine) -> None:
    sups = [await supervisor(engine, f"boss{i}") for i in range(3)]
    seat = await ready_seat(engine, "1001")
    await seat.call("not_ready", {"reason": "会议"})
    for sup in sups:
        row = await sup.next("seat", where=lambda d: d["state"] == "not_ready")
        assert row["seat"] == "1001" and row["reason"] == "会议"


async def test_queue_figures_are_pushed_to_supervisors(engine: Engine) -> None:
    sup = await supervisor(engine)
    await engine.call(queue="business")
    got = await sup.next("queues", where=lambda d: any(q["waiting"] for q in d["queues"]))
    business = next(q for q in got["queues"] if q["queue"] == "business")
    assert business["waiting"] == 1 and business["longest_wait_s"] >= 0
    one = await sup.next("queue", where=lambda d: d["queue"] == "business")
    assert one["waiting"] == 1
    assert (await sup.call("watch", {"queues": ["general"]}))["queues"] == ["general"]
    assert (await sup.call("watch", {"queues": ["nope"]})) == {"ok": False, "error": "没有队列：nope"}


async def test_force_not_ready_tells_the_seat_who_did_it(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001")
    sup = await supervisor(engine)
    ack = await sup.call("force_not_ready", {"seat_id": "1001", "reason": "班长置忙"})
    assert ack["ok"] and ack["seat"]["state"] == "not_ready"
    assert await seat.next("forced") == {"action": "not_ready", "by": "boss", "reason": "班长置忙"}


async def test_force_logout_is_refused_during_a_call_and_works_when_idle(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001")
    cid = await engine.call()
    await seat.next("offer")
    await engine.acd.feed(OfferAccepted(now=engine.acd.now(), contact_id=cid, seat_id="1001"))
    sup = await supervisor(engine)
    assert await sup.call("force_logout", {"seat_id": "1001"}) == {
        "ok": False,
        "error": "当前状态（服务中）不允许此操作",
    }
    await engine.acd.feed(ContactEnded(now=engine.acd.now(), contact_id=cid))
    ack = await sup.call("force_logout", {"seat_id": "1001"})
    assert ack["ok"] and ack["seat"]["state"] == "logged_out"
    assert (await seat.next("forced"))["action"] == "logout"
    assert not engine.acd.core.has_seat("1001")


async def test_moving_a_seat_between_groups_changes_routing_now_and_at_next_login(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001")
    sup = await supervisor(engine)
    ack = await sup.call(
        "move_seat", {"seat_id": "1001", "groups": ["涉企组"], "skills": {"general": 2, "business": 3}}
    )
    assert ack["ok"] and ack["seat"]["groups"] == ["涉企组"] and ack["seat"]["skills"] == {"business": 3, "general": 2}
    assert engine.acd.core.seat("1001").groups == frozenset({"涉企组"})
    assert "business" in (await seat.call("state"))["queues"]
    async with engine.ctx.sessions() as s:
        prof = await s.get(SeatProfile, "1001")
        assert prof is not None and prof.groups == ["涉企组"] and prof.updated_by == "boss"
    await seat.call("logout")
    again = await seat.call("login", {})
    assert again["seat"]["skills"] == {"business": 3, "general": 2} and again["seat"]["groups"] == ["涉企组"]
    bad = await sup.call("move_seat", {"seat_id": "1001", "groups": [], "skills": {"general": 9}})
    assert bad["ok"] is False and "1-5" in bad["error"]


async def test_listen_whisper_and_barge_use_the_voice_snoop(engine: Engine) -> None:
    voice = FakeVoice()
    engine.ctx.deps.voice = voice
    seat = await ready_seat(engine, "1001")
    cid = await engine.call()
    await seat.next("offer")
    sup = await supervisor(engine)
    assert await sup.call("snoop", {"seat_id": "1001", "mode": "listen"}) == {
        "ok": False,
        "error": "座席 1001 当前没有通话",
    }
    await engine.acd.feed(OfferAccepted(now=engine.acd.now(), contact_id=cid, seat_id="1001"))
    ids = []
    for mode in ("listen", "whisper", "barge"):
        ack = await sup.call("snoop", {"seat_id": "1001", "mode": mode})
        assert ack["ok"] and ack["mode"] == mode
        ids.append(ack["snoop_id"])
    assert [c[1][1:] for c in voice.calls] == [("1001", "listen"), ("1001", "whisper"), ("1001", "barge")]
    assert voice.calls[0][1][0] == "PJSIP/seatboss"
    creds = await sup.call("sip")
    assert creds["ok"] and creds["username"] == "seatboss" and creds["ws_url"] == "/sip/ws"
    other = await supervisor(engine, "boss2")
    assert (await other.call("stop_snoop", {"snoop_id": ids[0]}))["ok"] is False
    assert (await sup.call("stop_snoop", {"snoop_id": ids[0]}))["ok"]
    assert voice.calls[-1] == ("stop_snoop", (ids[0],))
    engine.ctx.deps.voice = None
    assert await sup.call("snoop", {"seat_id": "1001", "mode": "listen"}) == {"ok": False, "error": "语音服务未启用"}
