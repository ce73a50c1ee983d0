"""``open_on``, the one question the work orders ask supervision, on SQLite and PostgreSQL: an
order is under supervision while one that names it is neither closed nor cancelled, on any unit;
one query, through the state index."""

from sqlalchemy import event

from supervision.http import SERVICE
from tests.integration.supervision.test_supervisions import BASE, open_one


async def test_an_order_is_supervised_while_a_supervision_naming_it_is_open(api):
    svc = api.app[SERVICE]
    assert not await svc.open_on(7)
    sup = await open_one(api, (7, 12), matter="同一小区")
    assert await svc.open_on(7) and await svc.open_on(12)
    for other in (1, 2, 17, 71, 127):  # digits of the listed ids are not ids
        assert not await svc.open_on(other), other
    await api.call("sup1", "POST", f"{BASE}/{sup['id']}/close", json={"result": "resolved"})
    assert not await svc.open_on(7) and not await svc.open_on(12)


async def test_a_cancelled_supervision_leaves_the_order_and_one_on_another_unit_counts(api):
    svc = api.app[SERVICE]
    sup = await open_one(api, (8,))
    await api.call("sup1", "POST", f"{BASE}/{sup['id']}/cancel", json={"reason": "误发"})
    assert not await svc.open_on(8)
    await open_one(api, (8,), unit="power")  # the order's lead unit is water: the supervisor named power
    assert await svc.open_on(8)


async def test_the_query_reads_the_open_supervisions_through_the_state_index(api):
    svc = api.app[SERVICE]
    sent = []  # the statement open_on sends, as the driver gets it

    def keep(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    async with svc.sessions() as s:
        engine = s.get_bind()
        event.listen(engine, "before_cursor_execute", keep)
        try:
            assert not await svc.open_on(7)
        finally:
            event.remove(engine, "before_cursor_execute", keep)
        [(statement, parameters)] = [x for x in sent if "sv_supervisions" in x[0]]
        conn = await s.connection()
        if engine.dialect.name == "postgresql":
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a table this small is scanned
            rows = await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        else:
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        plan = "\n".join(str(r[-1]) for r in rows)
    assert "ix_sv_supervisions_state_deadline" in plan, plan
