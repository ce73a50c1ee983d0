import datetime as dt

from sqlalchemy import select

from hotline.storage import Interaction, make_sessionmaker


async def test_migrations_create_interactions_table_that_round_trips(migrated_engine):
    sessions = make_sessionmaker(migrated_engine)
    arrived = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    async with sessions() as s, s.begin():
        s.add(
            Interaction(
                contact_id="c-1",
                channel="voice",
                caller="13800000000",
                arrived_at=arrived,
                data={"ivr_path": ["welcome", "1"]},
            )
        )
    async with sessions() as s:
        row = (await s.execute(select(Interaction).where(Interaction.contact_id == "c-1"))).scalar_one()
    assert row.data == {"ivr_path": ["welcome", "1"]}
    assert row.arrived_at.replace(tzinfo=dt.UTC) == arrived


async def test_contact_id_is_unique(migrated_engine):
    import pytest
    from sqlalchemy.exc import IntegrityError

    sessions = make_sessionmaker(migrated_engine)
    now = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    async with sessions() as s, s.begin():
        s.add(Interaction(contact_id="dup", channel="voice", caller="", arrived_at=now, data={}))
    with pytest.raises(IntegrityError):
        async with sessions() as s, s.begin():
            s.add(Interaction(contact_id="dup", channel="voice", caller="", arrived_at=now, data={}))
