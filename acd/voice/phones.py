"""Seats' SIP endpoints that exist only while the seat is signed in, with a password of the day.

A browser soft-phone gets a new password at every console login; it is written into Asterisk
(pjsip_seats.conf, then one reload of res_pjsip for all changes of the moment) before the console
hands it over. At logout, or when the account is disabled, the seat's endpoint is removed at
once: a stolen password is worth nothing after the session it came with, and no phone of a
seat who is not working can place a call. A desk phone keeps the one password configured in
it (derived from the engine's secret), but its endpoint too exists only while its seat works.

Endpoints with a static contact (test and load-test phones that never register) are always there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable

from acd.voice.api import sip_credentials
from acd.voice.seats import SeatDevice

logger = logging.getLogger(__name__)
Writer = Callable[[list[SeatDevice], dict[str, str]], Awaitable[None]]


def session_password(secret_key: str, seat_id: str, token: str) -> str:
    return hmac.new(secret_key.encode(), f"sip:{seat_id}:{token}".encode(), hashlib.sha256).hexdigest()[:24]


class SeatPhones:
    """Which seats' endpoints exist now, and with which password; ``write`` makes Asterisk agree."""

    def __init__(self, secret_key: str, write: Writer, settle_s: float = 0.2) -> None:
        self.secret_key = secret_key
        self.write = write
        self.settle_s = settle_s
        self.static: dict[str, SeatDevice] = {}  # devices with a fixed contact: always present
        self.open: dict[str, tuple[SeatDevice, str]] = {}  # seat -> (device, password)
        self._dirty = asyncio.Event()
        self._applied: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    # -- what the console asks -------------------------------------------------------------------
    async def sign_in(self, device: SeatDevice) -> tuple[str, str]:
        """Open the seat's endpoint (a fresh password for a browser); returns (username, password)
        once Asterisk has it."""
        user, stable = sip_credentials(self.secret_key, device.seat_id)
        if device.kind == "webrtc" or device.browser:
            password = session_password(self.secret_key, device.seat_id, secrets.token_hex(8))
        else:
            password = stable  # a desk phone's own, configured once in the phone
        self.open[device.seat_id] = (device, password)
        await self._apply()
        return user, password

    async def sign_out(self, seat_id: str) -> None:
        """Remove the seat's endpoint now (its registration and its password with it)."""
        if self.open.pop(seat_id, None) is not None:
            await self._apply()

    def credentials(self, seat_id: str) -> tuple[str, str] | None:
        found = self.open.get(seat_id)
        return (f"seat{seat_id}", found[1]) if found is not None else None

    def add_static(self, device: SeatDevice) -> None:
        self.static[device.seat_id] = device

    # -- writing, coalesced ----------------------------------------------------------------------
    async def _apply(self) -> None:
        """Ask for a write and wait until one that includes this change has finished: many seats
        signing in together cost one reload of res_pjsip, not one each."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._writer(), name="seat-phones")
        if self._applied is None or self._applied.done():
            self._applied = asyncio.get_running_loop().create_future()
        waiter = self._applied
        self._dirty.set()
        await asyncio.shield(waiter)

    async def _writer(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.settle_s)  # let the others signing in at the same moment join
            self._dirty.clear()
            done, self._applied = self._applied, None
            devices = [*self.static.values(), *(d for d, _ in self.open.values())]
            passwords = {seat: p for seat, (_, p) in self.open.items()}
            try:
                await self.write(devices, passwords)
            except Exception as exc:
                logger.warning("seat endpoints not written", extra={"cause": str(exc)})
                if done is not None and not done.done():
                    done.set_exception(exc)
                continue
            if done is not None and not done.done():
                done.set_result(None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
