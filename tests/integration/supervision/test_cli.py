"""``hotline supervision closure`` and the measure in ``hotline kpi``, on a real SQLite database."""

import asyncio
import json

import pytest

from hotline.cli import main
from hotline.settings import load_settings
from hotline.storage import make_engine, make_sessionmaker
from supervision.core.model import Actor
from supervision.services import SupervisionService
from supervision.settings import SupervisionSettings
from tests.integration.supervision.conftest import Clock, FakeOrders, china


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def _supervise(closed_late: bool) -> None:
    engine = make_engine(load_settings().effective_database_url)
    orders, clock = FakeOrders(), Clock(china(2026, 3, 10, 10, 0))
    orders.add(1)
    orders.add(2)
    svc = SupervisionService(make_sessionmaker(engine), SupervisionSettings(), orders, clock)
    sup = Actor("sup1", "supervisor")
    body = {"level": "general", "working_days": 1, "instructions": "x"}
    try:
        first = await svc.open(sup, {**body, "order_ids": [1]})
        second = await svc.open(sup, {**body, "order_ids": [2]})
        await svc.act(first.id, "close", sup, {"result": "resolved"})
        clock.at = china(2026, 3, 12, 10, 0)
        if closed_late:
            await svc.act(second.id, "close", sup, {"result": "resolved"})
    finally:
        await engine.dispose()


def test_closure_prints_the_measure_with_its_options_and_kpi_shows_it_too(data_dir, capsys):
    assert main(["db", "upgrade"]) == 0
    asyncio.run(_supervise(closed_late=True))
    capsys.readouterr()
    assert main(["supervision", "closure", "--from", "2026-03-01", "--to", "2026-03-31", "--json"]) == 0
    rate = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (rate["numerator"], rate["denominator"], rate["percent"]) == (1, 2, 50.0)
    assert rate["options"] == {"resolved_only": False, "unit": None}
    assert main(["supervision", "closure", "--from", "2026-03-01", "--to", "2026-03-31"]) == 0
    out = capsys.readouterr().out
    assert "supervision_closure:   50.00%  (1/2)" in out and "resolved_only=False" in out
    assert main(["kpi", "--from", "2026-03-01", "--to", "2026-03-31", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rep["supervision"]["closure"]["denominator"] == 2


def test_a_bad_period_is_one_line_and_exit_2(data_dir, capsys):
    assert main(["supervision", "closure", "--from", "March", "--to", "2026-03-31"]) == 2
    assert "from" in capsys.readouterr().err


def test_before_the_tables_exist_it_says_to_upgrade(data_dir, capsys):
    assert main(["supervision", "closure", "--from", "2026-03-01", "--to", "2026-03-31"]) != 0
    assert "hotline db upgrade" in capsys.readouterr().err
