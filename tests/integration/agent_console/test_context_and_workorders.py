"""Caller history and the work order pre-filled from the contact, with the real work-order service."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from hotline.storage import Interaction
from tests.integration.agent_console.harness import Engine
from tests.integration.agent_console.test_seat_actions import ready_seat
from workorders.models import WoOrder
from workorders.services import WorkOrderService
from workorders.settings import load_workorder_settings


async def test_work_order_is_created_pre_filled_from_the_contact_and_shows_in_history(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001")
    cid = await engine.call(caller="13700001111")
    await seat.next("offer")
    await seat.call("accept", {"contact_id": cid})
    from acd.core import OfferAccepted

    await engine.acd.feed(OfferAccepted(now=engine.acd.now(), contact_id=cid, seat_id="1001"))
    assert await seat.call("create_workorder", {"contact_id": cid, "content": "路灯坏了"}) == {
        "ok": False,
        "error": "工单服务未启用",
    }
    engine.ctx.deps.workorders = WorkOrderService(
        engine.ctx.sessions, load_workorder_settings(engine.ctx.settings), engine.ctx.settings.data_dir
    )
    ack = await seat.call(
        "create_workorder",
        {
            "contact_id": cid,
            "content": "人民路路灯不亮<script>x</script>",
            "address": "人民路 12 号",
            "order_type": "help",
        },
    )
    assert ack["ok"], ack
    async with engine.ctx.sessions() as s:
        order = await s.get(WoOrder, ack["order_id"])
        assert order is not None
        assert (order.citizen_phone, order.contact_id, order.channel, order.created_by) == (
            "13700001111",
            cid,
            "phone",
            "1001",
        )
        assert order.content == "人民路路灯不亮<script>x</script>" and order.address == "人民路 12 号"
    # The next contact from that number shows the open order and the earlier contact.
    async with engine.ctx.sessions() as s, s.begin():
        s.add(Interaction(contact_id=cid, channel="voice", caller="13700001111", arrived_at=dt.datetime.now(dt.UTC)))
    from acd.core import ContactEnded

    await engine.acd.feed(ContactEnded(now=engine.acd.now(), contact_id=cid))
    await seat.call("wrapup", {"contact_id": cid, "disposition": "已建工单", "notes": "已派单"})
    nxt = await engine.call(caller="13700001111")
    ctx = await seat.next("context", where=lambda d: d["contact_id"] == nxt)
    assert [o["id"] for o in ctx["orders"]] == [ack["order_id"]] and ctx["orders"][0]["state_label"]
    assert ctx["contacts"][0]["contact_id"] == cid and ctx["contacts"][0]["disposition"] == "已建工单"
    async with engine.ctx.sessions() as s:
        assert len((await s.execute(select(WoOrder))).scalars().all()) == 1


async def test_ivr_path_of_the_contact_reaches_the_seat(engine: Engine) -> None:
    async with engine.ctx.sessions() as s, s.begin():
        s.add(
            Interaction(
                contact_id="call-1",
                channel="voice",
                caller="13800000000",
                arrived_at=dt.datetime.now(dt.UTC),
                data={
                    "ivr": {
                        "flow": "city",
                        "path": [{"node": "欢迎", "kind": "play"}, {"node": "主菜单", "kind": "menu", "digits": "1"}],
                        "outcome": "queue:general",
                    }
                },
            )
        )
    seat = await ready_seat(engine, "1001")
    cid = await engine.call()
    assert cid == "call-1"
    ctx = await seat.next("context")
    assert ctx["ivr_path"] == ["欢迎", "主菜单（按 1）", "→ queue:general"] and ctx["caller"] == "13800000000"
    again = await seat.call("context", {"contact_id": cid})
    assert again["ok"] and again["ivr_path"] == ctx["ivr_path"]


class Transcripts:
    """Stands in for the channels feature: a web chat's transcript, growing as the test says."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = [
            {"direction": "in", "kind": "text", "body": {"text": "路灯不亮"}, "at": "2026-12-07T09:00:00"}
        ]

    async def transcript(self, conversation: int) -> list[dict[str, object]]:
        return list(self.messages)


async def test_a_work_order_sent_again_under_its_cid_is_opened_once_and_completed(engine: Engine) -> None:
    """The first attempt commits the order, then fails on the chat transcript (a commit of its own);
    the page sends the same form again under the same cid: the same order, now with its transcript,
    and no second one; later repeats (the transcript grew, the engine restarted) change nothing."""
    seat = await ready_seat(engine, "1001")
    from acd.core import ContactArrived

    cid = "webchat-7"
    await engine.acd.feed(
        ContactArrived(now=engine.acd.now(), contact_id=cid, channel="webchat", queue="internet", caller="visitor-1")
    )
    await seat.next("offer", where=lambda d: d["contact_id"] == cid)
    assert (await seat.call("accept", {"contact_id": cid}))["ok"]
    chats = Transcripts()
    engine.ctx.deps.channels = chats  # type: ignore[assignment]
    orders = WorkOrderService(
        engine.ctx.sessions, load_workorder_settings(engine.ctx.settings), engine.ctx.settings.data_dir
    )
    engine.ctx.deps.workorders = orders
    attach = orders.add_attachment
    failures = [OSError("disk full")]

    async def flaky_attachment(*args: object, **kw: object) -> object:
        if failures:
            raise failures.pop()
        return await attach(*args, **kw)  # type: ignore[arg-type]

    orders.add_attachment = flaky_attachment  # type: ignore[method-assign,assignment]
    form = {"contact_id": cid, "content": "人民路路灯不亮", "cid": "form-7f3a9c01"}
    first = await seat.call("create_workorder", form)
    assert first["ok"] is False and "disk full" in first["error"]

    again = await seat.call("create_workorder", form)
    assert again["ok"], again
    async with engine.ctx.sessions() as s:
        rows = (await s.execute(select(WoOrder))).scalars().all()
    assert [r.id for r in rows] == [again["order_id"]] and rows[0].request_id == "form-7f3a9c01"
    assert [a.filename for a in await orders.attachments(again["order_id"])] == [f"会话记录-{cid}.txt"]

    chats.messages.append({"direction": "out", "kind": "text", "body": {"text": "已记录", "seat": "1001"}})
    engine.ctx.deps.workorders = WorkOrderService(  # as after a restart: only the database remembers
        engine.ctx.sessions, load_workorder_settings(engine.ctx.settings), engine.ctx.settings.data_dir
    )
    assert await seat.call("create_workorder", form) == again
    assert len(await orders.attachments(again["order_id"])) == 1

    other = await seat.call("create_workorder", {**form, "cid": "form-7f3a9c02"})
    assert other["ok"] and other["order_id"] != again["order_id"]
    async with engine.ctx.sessions() as s:
        assert len((await s.execute(select(WoOrder))).scalars().all()) == 2
    bad = await seat.call("create_workorder", {**form, "cid": "x" * 65})
    assert bad == {"ok": False, "error": "字段 cid：格式不正确"}
