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
