"""Plugin wiring: settings from the environment, OpenAPI, and state that survives a restart."""

from __future__ import annotations

import pytest
from aiohttp import web
from sqlalchemy import select

from channels import plugin
from channels.models import ChannelConversation
from channels.settings import load_channel_settings
from hotline.app import build_openapi
from hotline.settings import SettingsError

from . import wechat_kit as kit
from .conftest import start_engine


def test_settings_come_from_hotline_wechat_environment_variables(monkeypatch):
    monkeypatch.setenv("HOTLINE_WECHAT__TOKEN", "tok")
    monkeypatch.setenv("HOTLINE_WECHAT__MODE", "safe")
    monkeypatch.setenv("HOTLINE_WECHAT__APP_ID", "wx1")
    monkeypatch.setenv("HOTLINE_WECHAT__ENCODING_AES_KEY", kit.AES_KEY)
    monkeypatch.setenv("HOTLINE_CHAT__REALTIME_THRESHOLD", "45")
    settings = load_channel_settings()
    assert (settings.wechat.token, settings.wechat.mode, settings.chat.realtime_threshold) == ("tok", "safe", 45)
    assert settings.wechat.api_enabled is False  # no base URL: outbound not configured


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("HOTLINE_WECHAT__MODE", "safe", "needs encoding_aes_key"),
        ("HOTLINE_WECHAT__ENCODING_AES_KEY", "short", "43 characters"),
        ("HOTLINE_WECHAT__API_BASE_URL", "ftp://x", "http"),
        ("HOTLINE_CHAT__REASSIGN_AFTER", "10", "greater than flag_after"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_the_variable(monkeypatch, name, value, words):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_channel_settings()
    text = str(info.value)
    assert words in text and "HOTLINE_" in text and "\n" not in text


def test_openapi_lists_the_webhook():
    doc = build_openapi([plugin])
    assert set(doc["paths"]["/wechat/webhook"]) == {"get", "post"}


def test_without_a_token_the_webhook_is_not_routed(monkeypatch, tmp_path):
    from unittest.mock import MagicMock

    from hotline.context import AppContext
    from hotline.settings import load_settings

    monkeypatch.delenv("HOTLINE_WECHAT__TOKEN", raising=False)
    ctx = AppContext(settings=load_settings(data_dir=tmp_path), engine=MagicMock(), sessions=MagicMock())
    app = web.Application()
    plugin.install(app, ctx)
    assert all(r.resource.canonical != "/wechat/webhook" for r in app.router.routes() if r.resource)
    assert ctx.deps.channels is app[plugin.SERVICE]


async def test_response_tracking_is_restored_after_a_restart(tmp_path, standin):
    state, url = standin
    db = f"sqlite+aiosqlite:///{tmp_path / 'restart.db'}"
    first, engine = await start_engine(db, tmp_path, api_base_url=url)
    state.user_wrote("o_restart")
    await first.client.post("/wechat/webhook", params=kit.query(), data=kit.text("o_restart", "在吗", 1))
    async with first.ctx.sessions() as s:
        conv_id = (await s.execute(select(ChannelConversation.id))).scalar_one()
    await first.service.send_text(conv_id, "seat-9", "在的")
    before = first.service.tracker.times(str(conv_id))
    await first.client.close()
    await engine.dispose()
    second, engine2 = await start_engine(db, tmp_path, api_base_url=url)
    try:
        after = second.service.tracker.times(str(conv_id))
        assert after.first_response_s == pytest.approx(before.first_response_s, abs=1.0)
        assert after.seat == "seat-9" and after.waiting_since is None
    finally:
        await second.client.close()
        await engine2.dispose()
