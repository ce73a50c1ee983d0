"""Items 5 and 6 of the hold-the-line issue on the sandbox Asterisk with real SIP (sipp): what a
seat's phone can dial, who can pass for the PSTN gateway, seats' passwords that end with their
session, an AMI user that cannot run commands, and an Asterisk that is not root."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from acd.ami import Ami
from acd.ari.client import CONNECTED, AriClient
from acd.voice.phones import SeatPhones
from acd.voice.provision import provision
from acd.voice.seats import SeatDevice
from hotline import sandbox
from hotline.migrate import upgrade
from hotline.storage import make_engine, make_sessionmaker
from tests.integration.acd.voice_harness import next_port, start_sipp, voice_stack
from tests.integration.asterisk import asterisk_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings():  # type: ignore[no-untyped-def]
    return asterisk_settings()


@pytest.fixture
async def sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    await upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_a_seat_phone_reaches_the_trunk_only_for_allowed_numbers(settings, sessions, tmp_path):
    async with voice_stack(settings, sessions) as s:
        _trunk, trunk_log = await s.trunk(tmp_path)
        phones = SeatPhones(settings.secret_key, lambda d, p: provision(settings, d, s.ami, passwords=p))
        user, password = await phones.sign_in(SeatDevice("2401", kind="desk"))
        results = {}
        for number in ("00441234567", "16800000000", "1abc", "9&Local/110%40from-seats/n&PJSIP/2", "13912345678"):
            sp = await start_sipp(
                "seat_dial.xml", s.sip_target, next_port(), "-s", number, "-au", user, "-ap", password,
                "-key", "from", user,
            )  # fmt: skip
            results[number] = await sp.wait(30)
        await phones.stop()
        await asyncio.sleep(0.5)
    assert results == dict.fromkeys(results, 0), results  # each answered or refused as the scenario expects
    invites = [line for line in trunk_log.read_text().splitlines() if line.startswith("INVITE sip:")]
    assert len(invites) == 1 and invites[0].startswith("INVITE sip:13912345678@"), invites


async def test_nobody_passes_for_the_pstn_gateway_from_another_address(settings):
    a = settings.asterisk
    ari = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)
    events = ari.events()
    try:
        assert (await anext(events))["type"] == CONNECTED
        # 127.0.0.2 is on the loopback too, but it is not the gateway's address.
        proc = await asyncio.create_subprocess_exec(
            "sipp", f"127.0.0.1:{a.sip_port}", "-sf", str(Path(__file__).parents[1] / "sipp" / "caller.xml"),
            "-i", "127.0.0.2", "-p", str(next_port()), "-m", "1", "-s", "12345", "-key", "caller", "pstn",
            "-nostdin", "-timeout", "8s", "-timeout_error",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
        started = []
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                while True:
                    ev = await anext(events)
                    if ev.get("type") == "StasisStart":
                        started.append(ev)
    finally:
        await events.aclose()
        await ari.close()
    assert proc.returncode != 0, out.decode(errors="replace")[-800:]
    assert started == []


async def test_a_seats_password_ends_with_its_session(settings, sessions, tmp_path):
    a = settings.asterisk
    ami = Ami(a.host, a.ami_port, a.ami_user, a.ami_password)
    await ami.connect()
    phones = SeatPhones(settings.secret_key, lambda d, p: provision(settings, d, ami, passwords=p))

    async def register(user: str, password: str) -> int:
        sp = await start_sipp(
            "register.xml", f"127.0.0.1:{a.sip_port}", next_port(), "-s", user, "-au", user, "-ap", password,
            "-d", "200", timeout=10,
        )  # fmt: skip
        return await sp.wait(20)

    try:
        user, first = await phones.sign_in(SeatDevice("2402", kind="webrtc"))
        assert await register(user, first) == 0
        await phones.sign_out("2402")
        await asyncio.sleep(0.5)
        assert await register(user, first) != 0  # the session's password is gone with it
        _, second = await phones.sign_in(SeatDevice("2402", kind="webrtc"))
        assert second != first
        assert await register(user, first) != 0
        assert await register(user, second) == 0
    finally:
        await phones.sign_out("2402")
        await phones.stop()
        await ami.close()


async def test_the_ami_user_cannot_run_commands(settings):
    a = settings.asterisk
    ami = Ami(a.host, a.ami_port, a.ami_user, a.ami_password)
    await ami.connect()
    try:
        refused = await ami.action({"Action": "Command", "Command": "core show version"})
        assert not refused.success and "Permission denied" in str(refused.get("Message"))
        assert await ami.core_status()  # what the engine needs still works
        await ami.reload("res_pjsip.so")
    finally:
        await ami.close()


def test_the_sandbox_asterisk_does_not_run_as_root(settings):
    pid = sandbox.pid_alive(sandbox.paths(settings))
    assert pid is not None
    uids = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:"))
    assert all(int(u) != 0 for u in uids.split()[1:]), uids
