from tests.integration.agent_console.harness import Engine


async def test_seat_logs_in_goes_ready_and_gets_a_chat_offer(engine: Engine) -> None:
    token = await engine.account("1001")
    seat = await engine.client("/agent", token)
    ack = await seat.call("login", {})
    assert ack["ok"], ack
    ack = await seat.call("ready")
    assert ack["ok"] and ack["seat"]["state"] == "ready", ack
    cid = await engine.chat()
    offer = await seat.next("offer")
    assert offer["contact_id"] == cid
