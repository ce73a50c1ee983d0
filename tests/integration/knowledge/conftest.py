import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline import auth
from hotline.app import error_middleware
from hotline.context import AppContext
from hotline.migrate import upgrade
from hotline.settings import load_settings
from hotline.storage import make_engine, make_sessionmaker
from knowledge import plugin
from knowledge.http import SERVICE
from knowledge.services import KnowledgeService
from knowledge.settings import KnowledgeSettings

NOW = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in China
USERS = [("seat1", "seat", None), ("sup1", "supervisor", None), ("admin1", "admin", None), ("hr1", "unit", "hrss")]
USERS += [("water1", "unit", "water")]


def line(entry_id: str, question: str, answer: str = "答复", **kw: Any) -> str:
    data = {
        "id": entry_id,
        "question": question,
        "answer": answer,
        "category": kw.pop("category", "社会保障"),
        "scope": kw.pop("scope", "city"),
        "unit": kw.pop("unit", "hrss"),
        "valid_from": kw.pop("valid_from", "2024-01-01"),
        "valid_to": kw.pop("valid_to", None),
        "keywords": kw.pop("keywords", []),
        **kw,
    }
    return json.dumps(data, ensure_ascii=False)


# A small base in which the common words appear in many entries, as in a real one.
BASE = [
    line("med-1", "职工医疗保险异地就医如何备案", "通过国家医保服务平台办理备案", category="社会保障/医疗保险"),
    line("gjj-1", "住房公积金提取需要哪些材料", "身份证和银行卡", category="住房/公积金", unit="gjj"),
    line("drv-city", "驾驶证有效期满如何换证", "到车管所换证", category="交通/驾驶证", unit="police"),
    line("drv-haian", "驾驶证有效期满如何换证（海安区）", "到海安车管所换证", scope="海安区", unit="police"),
    line("hukou-1", "新生儿如何办理户籍登记", "持出生医学证明到派出所", category="公安/户籍", unit="police"),
    line("old-1", "2023年社会保险缴费基数", "旧标准", valid_from="2023-01-01", valid_to="2023-12-31"),
    line("ss-1", "社会保险关系如何转移", "在新参保地申请转移接续"),
] + [line(f"fill-{i}", f"第{i}号政务事项办理材料", f"到政务服务中心窗口办理第{i}项") for i in range(30)]


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
async def service(db_url):
    await upgrade(db_url)
    engine = make_engine(db_url)
    svc = KnowledgeService(engine, KnowledgeSettings(), clock=Clock(NOW))
    await svc.start()
    try:
        yield svc
    finally:
        await svc.close()
        await engine.dispose()


@dataclass
class Api:
    client: TestClient
    service: KnowledgeService
    tokens: dict[str, str]

    async def call(self, user: str | None, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        resp = await self.client.request(method, path, headers=headers, **kw)
        ctype = resp.content_type
        body = await resp.json() if ctype == "application/json" else await resp.text()
        return resp.status, body


@pytest.fixture
async def api(db_url, tmp_path):
    await upgrade(db_url)
    engine = make_engine(db_url)
    settings = load_settings(
        data_dir=tmp_path, secret_key="test-secret-key", knowledge={"public_searches_per_minute": 3}
    )
    sessions = make_sessionmaker(engine)
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions)
    app = web.Application(middlewares=[error_middleware])
    plugin.install(app, ctx)
    app[SERVICE].clock = Clock(NOW)
    hashed = auth.hash_password("correct horse 1")
    async with sessions() as s, s.begin():
        for name, role, unit in USERS:
            s.add(
                auth.Account(
                    username=name,
                    display_name=name,
                    role=role,
                    unit_id=unit,
                    password_hash=hashed,
                    active=True,
                    created_at=NOW,
                )
            )
    client = TestClient(TestServer(app))
    await client.start_server()  # runs the plugin's start-up: segmenter, search threads
    expires = int(time.time()) + 3600
    tokens = {n: auth.make_token(settings.secret_key, n, r, u, expires) for n, r, u in USERS}
    try:
        yield Api(client, app[SERVICE], tokens)
    finally:
        await client.close()
        await engine.dispose()
