"""The seats Asterisk must know: every active seat and supervisor account, with the phone its
profile names (browser by default, desk phone, or a cloud seat's external number). The profiles
are the console's (``ConsoleService.phone_profiles``), handed in by the caller."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.voice.seats import SeatDevice
from hotline.auth import Account

logger = logging.getLogger(__name__)
PHONE_ROLES = ("seat", "supervisor", "manager")


async def seat_devices(
    sessions: async_sessionmaker[AsyncSession], profiles: Mapping[str, tuple[str, str]]
) -> list[SeatDevice]:
    """``profiles``: seat id -> (phone, external number); an account without one gets a browser phone."""
    async with sessions() as s:
        accounts = (
            (await s.execute(select(Account).where(Account.active.is_(True), Account.role.in_(PHONE_ROLES))))
            .scalars()
            .all()
        )
    out = []
    for account in accounts:
        phone, number = profiles.get(account.username, ("webrtc", ""))
        try:
            if phone == "external" and number:
                out.append(SeatDevice(account.username, kind="cloud", number=number))
            else:
                out.append(SeatDevice(account.username, kind="desk" if phone == "desk" else "webrtc"))
        except ValueError as exc:
            logger.warning("account without a phone endpoint", extra={"account": account.username, "cause": str(exc)})
    return out
