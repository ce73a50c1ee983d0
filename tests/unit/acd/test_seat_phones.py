"""Seats' endpoints exist only while signed in; a browser gets a new password each time; many
sign-ins at once cost one write."""

from __future__ import annotations

import asyncio

from acd.voice.phones import SeatPhones
from acd.voice.seats import SeatDevice, render_seats


class Writes:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    async def __call__(self, devices: list[SeatDevice], passwords: dict[str, str]) -> None:
        await asyncio.sleep(0.01)
        self.calls.append(([d.seat_id for d in devices], dict(passwords)))


async def test_a_browser_gets_a_new_password_at_every_sign_in_and_loses_its_endpoint_at_sign_out() -> None:
    writes = Writes()
    phones = SeatPhones("secret", writes, settle_s=0.01)
    user, first = await phones.sign_in(SeatDevice("1001", kind="webrtc"))
    assert user == "seat1001" and writes.calls[-1] == (["1001"], {"1001": first})
    await phones.sign_out("1001")
    assert writes.calls[-1] == ([], {}) and phones.credentials("1001") is None
    _, second = await phones.sign_in(SeatDevice("1001", kind="webrtc"))
    assert second != first  # the old password is worth nothing now
    await phones.stop()


async def test_a_desk_phone_keeps_its_configured_password_but_exists_only_while_signed_in() -> None:
    writes = Writes()
    phones = SeatPhones("secret", writes, settle_s=0.01)
    _, a = await phones.sign_in(SeatDevice("2001", kind="desk"))
    await phones.sign_out("2001")
    _, b = await phones.sign_in(SeatDevice("2001", kind="desk"))
    assert a == b and writes.calls[1] == ([], {})
    await phones.stop()


async def test_many_sign_ins_at_once_are_written_together() -> None:
    writes = Writes()
    phones = SeatPhones("secret", writes, settle_s=0.05)
    await asyncio.gather(*(phones.sign_in(SeatDevice(f"3{i:03d}", kind="webrtc")) for i in range(50)))
    assert len(writes.calls) == 1 and len(writes.calls[0][0]) == 50
    await phones.stop()


async def test_a_failed_write_reaches_the_waiting_sign_ins_and_the_next_one_writes_again() -> None:
    attempts = []

    async def flaky(devices: list[SeatDevice], passwords: dict[str, str]) -> None:
        attempts.append(len(devices))
        if len(attempts) == 1:
            raise OSError("disk full")

    phones = SeatPhones("secret", flaky, settle_s=0.01)
    try:
        await phones.sign_in(SeatDevice("4001", kind="webrtc"))
    except OSError:
        pass
    else:
        raise AssertionError("the failed write was not reported")
    await phones.sign_in(SeatDevice("4002", kind="webrtc"))
    assert attempts == [1, 2]
    await phones.stop()


def test_the_rendered_auth_carries_the_session_password() -> None:
    text = render_seats([SeatDevice("1001", kind="webrtc")], "secret", {"1001": "pw-of-the-day"})
    assert "password=pw-of-the-day" in text and "[seat1001](seat-webrtc-endpoint)" in text
