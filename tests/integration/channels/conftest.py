from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.plugin import SERVICE, install
from channels.settings import ChannelSettings, WeChatSettings
from channels.sink import QueueContactSink
from channels.wechat_standin import StandInState, build_standin
from hotline.app import error_middleware
from hotline.context import AppContext
from hotline.migrate import upgrade
from hotline.settings import load_settings
from hotline.storage import make_engine, make_sessionmaker

from .wechat_kit import AES_KEY, APP_ID, APP_SECRET, TOKEN


@pytest.fixture
async def standin() -> AsyncIterator[tuple[StandInState, str]]:
    state = StandInState(APP_ID, APP_SECRET)
    server = TestServer(build_standin(state), host="127.0.0.1")
    await server.start_server()
    try:
        yield state, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


class Engine:
    """The channels plugin in a real aiohttp app on a real TCP port, with its database."""

    def __init__(self, client: TestClient, ctx: AppContext, sink: QueueContactSink, data_dir: Path) -> None:
        self.client = client
        self.ctx = ctx
        self.sink = sink
        self.data_dir = data_dir
        self.service = client.app[SERVICE]


async def start_engine(
    url: str,
    tmp_path: Path,
    api_base_url: str = "",
    mode: str = "plain",
    redis: Any = None,
    workorders: bool = False,
    **wechat: Any,
) -> tuple[Engine, Any]:
    await upgrade(url)
    engine = make_engine(url)
    settings = load_settings(data_dir=tmp_path)
    ctx = AppContext(settings=settings, engine=engine, sessions=make_sessionmaker(engine), redis=redis)
    sink = QueueContactSink(keep=10_000)  # the tests read what reached the ACD's door
    ctx.deps.channels_sink = sink
    if workorders:
        # The real work-order service, published in ctx.deps as the engine's plugin order does.
        from workorders import plugin as workorders_plugin

        workorders_plugin.install(web.Application(), ctx)
    channel_settings = ChannelSettings(
        wechat=WeChatSettings(
            token=TOKEN,
            app_id=APP_ID,
            app_secret=APP_SECRET,
            encoding_aes_key=AES_KEY,
            mode=mode,
            api_base_url=api_base_url,
            **wechat,
        )
    )
    app = web.Application(middlewares=[error_middleware])
    install(app, ctx, channel_settings)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return Engine(client, ctx, sink, tmp_path), engine


@pytest.fixture
async def make_engine_app(tmp_path: Path, sqlite_url: str):  # type: ignore[no-untyped-def]
    started: list[tuple[Engine, Any]] = []

    async def factory(url: str | None = None, **kw: Any) -> Engine:
        eng, db = await start_engine(url or sqlite_url, tmp_path, **kw)
        started.append((eng, db))
        return eng

    yield factory
    for eng, db in started:
        await eng.client.close()
        await db.dispose()
