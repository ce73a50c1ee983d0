"""Keep the IVR's part of an interaction record: the caller's path and the survey answer.

Both go into ``interactions.data`` (keys ``ivr`` and ``survey``), next to what other features
write there; the row is locked while it is updated so concurrent writers do not lose keys.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.storage import Interaction, make_sessionmaker
from ivr.core.survey import SurveyResult

logger = logging.getLogger(__name__)


class RecordError(Exception):
    """The interaction to write to does not exist."""


async def _merge(engine: AsyncEngine, contact_id: str, key: str, value: dict[str, Any]) -> None:
    async with make_sessionmaker(engine)() as db, db.begin():
        row = (
            await db.execute(select(Interaction).where(Interaction.contact_id == contact_id).with_for_update())
        ).scalar_one_or_none()
        if row is None:
            raise RecordError(f"no interaction with contact_id {contact_id!r}; the channel creates it on arrival")
        row.data = {**(row.data or {}), key: value}  # a new dict, so the JSON column is marked changed


async def save_ivr_path(engine: AsyncEngine, contact_id: str, record: dict[str, Any]) -> None:
    """``record`` is ``IvrSession.record()``: flow, version, path, outcome, tags."""
    await _merge(engine, contact_id, "ivr", record)


async def save_survey(engine: AsyncEngine, contact_id: str, result: SurveyResult, at: dt.datetime) -> None:
    await _merge(engine, contact_id, "survey", {**result.as_dict(), "at": at.isoformat()})


async def load_ivr_data(engine: AsyncEngine, contact_id: str) -> dict[str, Any]:
    async with make_sessionmaker(engine)() as db:
        row = (await db.execute(select(Interaction).where(Interaction.contact_id == contact_id))).scalar_one_or_none()
        if row is None:
            raise RecordError(f"no interaction with contact_id {contact_id!r}")
        return {k: v for k, v in (row.data or {}).items() if k in ("ivr", "survey")}
