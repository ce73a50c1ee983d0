"""The caller's path and the survey answer stored on the interaction, on SQLite and PostgreSQL."""

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.storage import Interaction, make_sessionmaker
from ivr.core.messages import DigitsReceived, PromptFinished
from ivr.core.session import IvrSession
from ivr.core.survey import SurveySession
from ivr.records import RecordError, load_ivr_data, save_ivr_path, save_survey
from ivr.store import load_flow

from .test_cli import CITY

AT = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


async def test_the_path_and_the_survey_are_stored_on_the_interaction(migrated_engine: AsyncEngine) -> None:
    async with make_sessionmaker(migrated_engine)() as db, db.begin():
        db.add(
            Interaction(
                contact_id="call-1", channel="voice", caller="13812345678", arrived_at=AT, data={"acd": {"q": 1}}
            )
        )
    flow = load_flow(CITY)
    call = IvrSession(flow, "13812345678", AT.replace(tzinfo=None))
    call.start()
    call.on_event(PromptFinished())
    call.on_event(DigitsReceived("2"))
    await save_ivr_path(migrated_engine, "call-1", call.record())
    survey = SurveySession(flow.survey)
    survey.start()
    survey.on_event(DigitsReceived("3"))
    assert survey.result is not None
    await save_survey(migrated_engine, "call-1", survey.result, AT)

    stored = await load_ivr_data(migrated_engine, "call-1")
    assert stored["ivr"]["outcome"] == "queue:business"
    assert {"node": "main_menu", "kind": "menu", "digits": "2"} in stored["ivr"]["path"]
    assert stored["ivr"]["flow_version"] == flow.version
    assert stored["survey"] == {
        "rating": "不满意",
        "code": "unsatisfied",
        "digit": "3",
        "attempts": 1,
        "note": "",
        "at": AT.isoformat(),
    }
    async with make_sessionmaker(migrated_engine)() as db:
        row = await db.get(Interaction, 1)
        assert row is not None and row.data["acd"] == {"q": 1}  # other features' keys are kept


async def test_writing_to_an_unknown_interaction_is_a_clear_error(migrated_engine: AsyncEngine) -> None:
    with pytest.raises(RecordError, match="no interaction with contact_id 'ghost'"):
        await save_ivr_path(migrated_engine, "ghost", {"path": []})
