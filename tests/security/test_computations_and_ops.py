"""Items 4, 8 (file modes) and 9 of the hold-the-line issue against a real ``hotline run``:
staffing requests bounded and only for the roles that plan seats, the operators' endpoints
closed to the rest of the network, and the engine's secrets and database private."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.security.engine import running_engine

pytestmark = pytest.mark.integration
ENV = {"HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"])}
ACCOUNTS = [("seat1", "seat", None), ("water1", "unit", "water"), ("sup1", "supervisor", None)]


@pytest.fixture
async def engine(tmp_path):  # type: ignore[no-untyped-def]
    async with running_engine(tmp_path, ENV, ACCOUNTS) as e:
        yield e


async def test_staffing_with_huge_inputs_is_refused_and_the_engine_keeps_answering(engine):
    async with aiohttp.ClientSession() as http:
        sup = {"Authorization": f"Bearer {await engine.login(http, 'sup1')}"}
        url = f"{engine.base}/api/scheduling/staffing"
        for query in (
            "arrivals_per_hour=1e12&aht=240",
            "arrivals_per_hour=1e9&aht=240",
            "arrivals_per_hour=600&aht=1e9",
            "arrivals_per_hour=600&aht=240&patience=1e12",
            "arrivals_per_hour=600&aht=240&target=0.99999999999",
            "arrivals_per_hour=600&aht=240&channel=chat&concurrency=100000",
        ):
            async with http.get(f"{url}?{query}", headers=sup) as r:
                assert r.status == 400, query
        # The largest inputs allowed, many at once: answered (or refused as busy), never a stall.
        big = "arrivals_per_hour=100000&aht=7200&patience=3600&target=0.9999"

        async def ask() -> int:
            async with http.get(f"{url}?{big}", headers=sup) as r:
                return r.status

        async def health() -> int:
            async with http.get(f"{engine.base}/healthz") as r:
                return r.status

        statuses = await asyncio.gather(*(ask() for _ in range(8)), *(health() for _ in range(10)))
        assert set(statuses[:8]) <= {200, 503} and 200 in statuses[:8]
        assert statuses[8:] == [200] * 10
        async with http.get(f"{url}?arrivals_per_hour=600&aht=240&target=0.8", headers=sup) as r:
            assert r.status == 200 and (await r.json())["seats"] == 46


async def test_staffing_is_only_for_those_who_plan_seats(engine):
    async with aiohttp.ClientSession() as http:
        for user in ("seat1", "water1"):
            token = await engine.login(http, user)
            async with http.get(
                f"{engine.base}/api/scheduling/staffing?arrivals_per_hour=600&aht=240",
                headers={"Authorization": f"Bearer {token}"},
            ) as r:
                assert r.status == 403, user


async def test_metrics_and_the_api_description_are_for_the_operators_network_only(engine):
    async with aiohttp.ClientSession() as http:
        for path in ("/metrics", "/openapi.json"):
            async with http.get(f"{engine.base}{path}") as r:
                assert r.status == 200, path  # loopback: the operators
            async with http.get(f"{engine.base}{path}", headers={"X-Forwarded-For": "203.0.113.9"}) as r:
                assert r.status == 403, path  # through the proxy, from the internet
        refused = await engine.metric(http, "hotline_refused_total", edge="http", reason="ops_only")
        assert refused == 2


async def test_the_engines_secrets_and_database_are_readable_by_its_user_only(engine):
    for name in ("secrets.json", "hotline.db"):
        mode = (engine.data_dir / name).stat().st_mode & 0o777
        assert mode == 0o600, (name, oct(mode))


async def test_a_surge_of_more_cloud_seats_than_any_hotline_has_is_refused(engine):
    async with aiohttp.ClientSession() as http:
        sup = {"Authorization": f"Bearer {await engine.login(http, 'sup1')}"}
        seats = [{"seat_id": f"c{i}", "skills": {"general": 1}} for i in range(2000)]
        body = {"action": "surge", "why": "突发", "seats": seats}
        async with http.post(f"{engine.base}/api/scheduling/actions", json=body, headers=sup) as r:
            assert r.status == 400 and "最多 500" in (await r.json())["detail"]
        for bad_body in (
            {"action": "surge", "why": "x" * 600, "seats": seats[:1]},
            {"action": "surge", "why": "突发", "seats": [{"seat_id": "c 1", "skills": {"general": 1}}]},
            {"action": "surge", "why": "突发", "seats": seats[:1], "minutes": 1e12},
            {"action": "start_break", "why": "午餐", "seat_ids": [f"s{i}" for i in range(5000)]},
        ):
            async with http.post(f"{engine.base}/api/scheduling/actions", json=bad_body, headers=sup) as r:
                assert r.status == 400, bad_body.get("why", "")[:20]
        # A real emergency's surge still goes through.
        ok = {"action": "surge", "why": "暴雨", "seats": seats[:20], "minutes": 120}
        async with http.post(f"{engine.base}/api/scheduling/actions", json=ok, headers=sup) as r:
            assert r.status == 200, await r.text()
