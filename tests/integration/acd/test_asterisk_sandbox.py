"""The foundation against the real sandbox Asterisk: a SIP call reaches our Stasis app,
AMI answers CoreStatus, and every ARI call the client makes exists in Asterisk's own API."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import re
import signal
import time

import pytest

from acd.ami import Ami, AmiAuthError
from acd.ari.client import (
    CONNECTED,
    AriAuthError,
    AriClient,
    AriConflict,
    AriNotFound,
    AriUnavailable,
    merged_events,
)
from hotline import sandbox
from tests.integration.asterisk import asterisk_settings, run_sipp, sipp_binary

pytestmark = pytest.mark.integration


@pytest.fixture
def settings():
    return asterisk_settings()


@pytest.fixture
async def ari(settings):
    a = settings.asterisk
    client = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)
    yield client
    with contextlib.suppress(Exception):
        for ch in await client.channels():
            with contextlib.suppress(Exception):
                await client.hangup(ch["id"])
    await client.close()


async def test_sipp_call_to_12345_starts_our_stasis_app(settings, ari):
    sipp_binary()
    events = ari.events()
    assert (await anext(events))["type"] == CONNECTED
    caller = "13912345678"
    sipp = asyncio.create_task(
        run_sipp(
            "caller.xml",
            f"127.0.0.1:{settings.asterisk.sip_port}",
            "-s",
            "12345",
            "-key",
            "caller",
            caller,
            "-m",
            "1",
            "-p",
            "25061",
            timeout=20,
        )
    )
    start = None
    async with asyncio.timeout(15):
        async for event in events:
            if event["type"] == "StasisStart":
                start = event
                break
    assert start is not None
    channel = start["channel"]
    assert channel["caller"]["number"] == caller
    assert channel["dialplan"]["exten"] == "12345"
    assert start["args"] == ["inbound"]
    assert start["application"] == settings.asterisk.app_name
    await ari.answer(channel["id"])
    assert (await ari.channel(channel["id"]))["state"] == "Up"
    await ari.hangup(channel["id"])
    code, out = await sipp
    assert code == 0, out
    await events.aclose()


async def test_run_hands_every_event_to_the_handler_and_a_failing_handler_does_not_stop_the_reading(ari):
    seen: list[dict] = []

    def handle(event: dict) -> None:
        seen.append(event)
        if event["type"] == CONNECTED:
            raise RuntimeError("a handler bug")  # logged; the websocket is still read

    reader = asyncio.create_task(ari.run(handle))
    try:
        async with asyncio.timeout(10):
            while not seen or ari.rest_transport != "websocket":
                await asyncio.sleep(0.02)
        assert seen[0] == {"type": CONNECTED, "server": ari.name}
        await ari.originate("Local/12345@hotline-local", channel_id="run-probe", timeout=5)
        async with asyncio.timeout(10):
            while not any(e["type"] == "StasisStart" for e in seen):
                await asyncio.sleep(0.02)
        start = next(e for e in seen if e["type"] == "StasisStart")
        assert start["server"] == ari.name and start["channel"]["id"].startswith("run-probe")
        assert not reader.done()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    assert ari.rest_transport == "http"  # the websockets closed with the reader


async def test_merged_events_tag_each_servers_events_and_raise_when_one_refuses_the_credentials(settings):
    a = settings.asterisk
    # two "servers": two clients of the sandbox, each its own application (the second one is the
    # application the dialplan sends 12345 to)
    one = AriClient(a.ari_url, a.ari_user, a.ari_password, f"{a.app_name}-merge-1", name="one")
    two = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name, name="two")
    stream = merged_events([one, two])
    try:
        connected = {(await anext(stream))["server"] for _ in range(2)}
        assert connected == {"one", "two"}
        async with asyncio.timeout(5):
            while two.rest_transport != "websocket":
                await asyncio.sleep(0.02)
        await two.originate("Local/12345@hotline-local", channel_id="merge-probe", timeout=5)
        async with asyncio.timeout(10):
            async for event in stream:
                if event["type"] == "StasisStart":
                    break
        assert event["server"] == "two" and event["channel"]["id"].startswith("merge-probe")
        await two.hangup("merge-probe")
    finally:
        await stream.aclose()
        await one.close()
        await two.close()
    bad = AriClient(a.ari_url, a.ari_user, "not-the-password", a.app_name, name="bad")
    good = AriClient(a.ari_url, a.ari_user, a.ari_password, f"{a.app_name}-merge-1", name="good")
    stream = merged_events([good, bad])
    try:
        with pytest.raises(AriAuthError):
            async with asyncio.timeout(10):
                async for _ in stream:
                    pass
    finally:
        await stream.aclose()
        await good.close()
        await bad.close()


async def test_ami_login_reads_core_status(settings):
    a = settings.asterisk
    ami = Ami(a.host, a.ami_port, a.ami_user, a.ami_password, timeout=5)
    await ami.connect()
    try:
        status = await ami.core_status()
        assert status["Response"] == "Success"
        assert int(status["CoreCurrentCalls"]) >= 0
        assert status["CoreStartupDate"]
    finally:
        await ami.close()


async def test_ami_wrong_password_is_refused_with_a_clear_error(settings):
    a = settings.asterisk
    ami = Ami(a.host, a.ami_port, a.ami_user, "wrong-" + a.ami_password, timeout=5)
    with pytest.raises(AmiAuthError, match="refused login"):
        await ami.connect()


async def test_ari_wrong_password_and_unknown_channel_map_to_errors(settings, ari):
    a = settings.asterisk
    bad = AriClient(a.ari_url, a.ari_user, "nope", a.app_name)
    with pytest.raises(AriAuthError):
        await bad.asterisk_info()
    await bad.close()
    with pytest.raises(AriNotFound):
        await ari.channel("no-such-channel")


async def _connected_with_rest_over_websocket(ari, events) -> None:
    """The first event is the connection marker; then a websocket takes requests (probe answered)."""
    assert (await anext(events))["type"] == CONNECTED
    async with asyncio.timeout(5):
        while ari.rest_transport != "websocket":
            await asyncio.sleep(0.02)


async def test_requests_go_over_the_events_websocket_once_asterisk_answers_the_probe(settings, ari):
    a = settings.asterisk
    plain = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)  # no events: HTTP only
    with contextlib.suppress(AriNotFound):  # left by an earlier run that failed half-way
        await plain.destroy_bridge("ws-probe-bridge")
    events = ari.events()
    try:
        await _connected_with_rest_over_websocket(ari, events)
        before = dict(ari.sent)
        bridge = await ari.create_bridge("mixing", bridge_id="ws-probe-bridge", name="over ws")
        assert bridge["id"] == "ws-probe-bridge" and bridge["bridge_type"] == "mixing"
        # the same Asterisk sees it over HTTP
        assert any(b["id"] == "ws-probe-bridge" for b in await plain.bridges())
        with pytest.raises(AriConflict):  # an error status maps to the same exception as over HTTP
            await ari.create_bridge("mixing", bridge_id="ws-probe-bridge")
        with pytest.raises(AriNotFound, match="Channel not found"):
            await ari.set_var("no-such-channel", "X", "1")
        # a JSON body goes along: originate a Local channel with a variable, read it back
        chan = await ari.originate(
            "Local/12345@hotline-local", channel_id="ws-probe-chan", variables={"HOTLINE_PROBE": "42"}, timeout=5
        )
        assert chan["id"] == "ws-probe-chan"
        assert await plain.get_var("ws-probe-chan", "HOTLINE_PROBE") == "42"
        await ari.hangup("ws-probe-chan")
        await ari.destroy_bridge("ws-probe-bridge")
        # Asterisk's bridge list comes from a cache that it updates a moment after the answer
        async with asyncio.timeout(2):
            while any(b["id"] == "ws-probe-bridge" for b in await plain.bridges()):
                await asyncio.sleep(0.02)
        assert ari.sent["websocket"] - before["websocket"] == 6
        assert ari.sent["http"] == before["http"]
    finally:
        await events.aclose()
        await plain.close()
    # with the websocket gone, requests fall back to HTTP
    assert ari.rest_transport == "http"
    with pytest.raises(AriNotFound):
        await ari.channel("no-such-channel")


async def frozen(pid: int) -> None:
    """SIGSTOP and wait until every thread of ``pid`` has stopped: a thread running when the
    signal came goes on until it next enters the kernel, and on a loaded machine it once
    answered the request sent right after the signal."""
    os.kill(pid, signal.SIGSTOP)
    tasks = f"/proc/{pid}/task"
    for _ in range(200):
        states = []
        for tid in os.listdir(tasks):
            with contextlib.suppress(OSError), open(f"{tasks}/{tid}/stat") as fh:
                states.append(fh.read().rsplit(")", 1)[1].split()[0])
        if states and all(state in "tT" for state in states):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"Asterisk (pid {pid}) did not stop: its threads are {states}")


async def test_a_request_asterisk_does_not_answer_times_out_and_the_next_one_goes_through(settings, ari):
    """Asterisk frozen (SIGSTOP) while a request waits on the websocket: the request fails with
    AriUnavailable after its own timeout, nothing is left waiting, and once Asterisk runs again
    the websocket carries requests as before."""
    pid = sandbox.pid_alive(sandbox.paths(settings))
    assert pid is not None, "the sandbox Asterisk is not running"
    events = ari.events()
    try:
        await _connected_with_rest_over_websocket(ari, events)
        try:
            await frozen(pid)
            started = time.monotonic()
            async with asyncio.timeout(5):  # a request that never gave up would hang here
                with pytest.raises(AriUnavailable, match=r"no answer within 0\.3 s"):
                    await ari.request("GET", "/asterisk/info", timeout=0.3)
            assert 0.3 <= time.monotonic() - started < 2.0
            assert all(not lane.pending and not lane.busy for lane in ari.lanes)
        finally:
            os.kill(pid, signal.SIGCONT)
        before = ari.sent["websocket"]
        info = await ari.request("GET", "/asterisk/info", timeout=5)
        assert "system" in info
        assert ari.sent["websocket"] == before + 1
    finally:
        await events.aclose()


async def test_the_event_filter_is_set_on_every_connection_and_cleared_for_a_client_without_one(settings, ari):
    a = settings.asterisk
    ari.event_types = frozenset({"StasisStart", "StasisEnd"})
    events = ari.events()
    try:
        assert (await anext(events))["type"] == CONNECTED
        app = await ari.request("GET", f"/applications/{a.app_name}")
        assert {e["type"] for e in app["events_allowed"]} == {"StasisStart", "StasisEnd", "RESTResponse"}
        # a filtered connection still gets its REST answers
        async with asyncio.timeout(5):
            while ari.rest_transport != "websocket":
                await asyncio.sleep(0.02)
        assert (await ari.request("GET", "/asterisk/ping"))["ping"] == "pong"
    finally:
        await events.aclose()
    other = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)  # consumes every event
    events = other.events()
    try:
        assert (await anext(events))["type"] == CONNECTED
        app = await other.request("GET", f"/applications/{a.app_name}")
        assert app["events_allowed"] == [] and app["events_disallowed"] == []
    finally:
        await events.aclose()
        await other.close()


async def test_requests_spread_over_the_request_websockets_and_follow_one_in_flight_for_the_same_channel(settings, ari):
    a = settings.asterisk
    assert [lane.name for lane in ari.lanes] == ["events", "lane1", "lane2"]
    events = ari.events()
    try:
        assert (await anext(events))["type"] == CONNECTED
        async with asyncio.timeout(5):
            while not all(lane.usable for lane in ari.lanes):
                await asyncio.sleep(0.02)
        # each extra websocket is an application of its own that subscribes to nothing
        apps = {x["name"]: x for x in await ari.request("GET", "/applications")}
        assert {a.app_name, f"{a.app_name}-lane1", f"{a.app_name}-lane2"} <= set(apps)
        assert apps[f"{a.app_name}-lane1"]["channel_ids"] == []
        # nine requests at once: each goes to the websocket with the fewest waiting, three each
        before = [lane.sent for lane in ari.lanes]
        pongs = await asyncio.gather(*(ari.request("GET", "/asterisk/ping") for _ in range(9)))
        assert all(p["ping"] == "pong" for p in pongs)
        assert [lane.sent - b for lane, b in zip(ari.lanes, before, strict=True)] == [3, 3, 3]
        # an originate and the hang-up of the same channel sent together: the hang-up follows the
        # originate on its websocket, so Asterisk never sees it first (it would answer 404)
        for i in range(10):
            cid = f"lane-probe-{i}"
            created, _ = await asyncio.gather(
                ari.originate("Local/12345@hotline-local", channel_id=cid, timeout=5), ari.hangup(cid)
            )
            assert created["id"] == cid
        # a request websocket that drops comes back by itself; requests meanwhile use the others
        lane = ari.lanes[1]
        old = lane.ws
        assert old is not None
        await old.close()
        assert (await ari.request("GET", "/asterisk/ping"))["ping"] == "pong"
        async with asyncio.timeout(5):
            while not lane.usable or lane.ws is old:
                await asyncio.sleep(0.02)
    finally:
        await events.aclose()
    assert ari.rest_transport == "http" and not any(lane.usable for lane in ari.lanes)


async def test_a_channel_hearing_a_prompt_in_a_bridge_holds_up_only_its_own_requests(settings, ari):
    """Asterisk plays a prompt to a channel in a bridge synchronously on the channel's command
    queue, and answers one websocket's requests one after the other: a move of that channel
    waits for the prompt's end, and so would every later request on its websocket. The client
    sends the next requests elsewhere (another websocket, else HTTP); stopping the prompt frees
    the move."""
    a = settings.asterisk
    plain = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)
    # Fresh ids: Asterisk forgets a destroyed bridge's id only a moment after answering.
    hold, talk = f"stall-hold-{time.time_ns()}", f"stall-talk-{time.time_ns()}"
    events = ari.events()
    try:
        await _connected_with_rest_over_websocket(ari, events)
        async with asyncio.timeout(5):
            while not all(lane.usable for lane in ari.lanes):
                await asyncio.sleep(0.02)
        # The dialplan's half of a Local call to 12345 enters the application: the "caller".
        await ari.originate("Local/12345@hotline-local", channel_id="stall-local", timeout=5)
        async with asyncio.timeout(5):
            while (ev := await anext(events)).get("type") != "StasisStart":
                pass
        caller = ev["channel"]["id"]
        await ari.answer(caller)
        await ari.create_bridge("holding", bridge_id=hold)
        await ari.create_bridge("mixing", bridge_id=talk)
        await ari.add_to_bridge(hold, caller)
        await ari.play(caller, f"sound:{a.sounds_dir}/callback_offer", playback_id="stall-prompt")
        move = asyncio.create_task(ari.add_to_bridge(talk, caller))
        await asyncio.sleep(0.5)  # the move now waits in Asterisk behind the prompt (about 10 s)
        assert not move.done()
        stuck = next(lane for lane in ari.lanes if lane.pending)
        # Everything else still goes through, none of it behind the stuck move.
        pongs = await asyncio.gather(*(ari.request("GET", "/asterisk/ping") for _ in range(6)))
        assert all(p["ping"] == "pong" for p in pongs) and not move.done()
        assert len(stuck.pending) == 1
        await ari.stop_playback("stall-prompt")
        async with asyncio.timeout(3):
            await move
        assert (await ari.request("GET", f"/bridges/{talk}"))["channels"] == [caller]
    finally:
        await events.aclose()
        for bridge in (hold, talk):
            with contextlib.suppress(Exception):
                await plain.destroy_bridge(bridge)
        await plain.close()


async def test_no_request_lanes_keeps_requests_on_the_events_websocket(settings):
    a = settings.asterisk
    ari = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name, request_lanes=0)
    events = ari.events()
    try:
        await _connected_with_rest_over_websocket(ari, events)
        await asyncio.gather(*(ari.request("GET", "/asterisk/ping") for _ in range(4)))
        assert [(lane.name, lane.sent) for lane in ari.lanes] == [("events", 4)]
    finally:
        await events.aclose()
        await ari.close()


def _client_operations() -> set[tuple[str, str]]:
    """Every (method, path template) the client's source sends, with placeholders as {}."""
    src = inspect.getsource(AriClient)
    ops = set()
    for method, path in re.findall(r'"(GET|POST|PUT|DELETE)",\s*f?"(/[^"]*)"', src):
        ops.add((method, re.sub(r"\{[^}]*\}", "{}", path)))
    return ops


async def test_every_ari_call_of_the_client_exists_in_asterisks_api_docs(ari):
    docs = await ari.api_docs()
    assert int(docs["apiVersion"].split(".")[0]) >= 9
    available: dict[tuple[str, str], set[str]] = {}
    for api in docs["apis"]:
        name = api["path"].split("/")[-1].replace("{format}", "json")
        resource = await ari.request("GET", f"/api-docs/{name}")
        for entry in resource["apis"]:
            path = re.sub(r"\{[^}]*\}", "{}", entry["path"])
            for op in entry["operations"]:
                available[(op["httpMethod"], path)] = {p["name"] for p in op.get("parameters", [])}
    # The API description itself is served beside the resources, not as one of them.
    used = {op for op in _client_operations() if not op[1].startswith("/api-docs")}
    assert len(used) >= 30
    missing = sorted(op for op in used if op not in available)
    assert missing == [], f"client calls not in Asterisk's ARI: {missing}"
    # The query parameters of originate are the documented ones.
    for param in ("endpoint", "app", "appArgs", "callerId", "timeout", "channelId", "formats", "originator"):
        assert param in available[("POST", "/channels")]
