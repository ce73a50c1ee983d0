"""Item 3 of the hold-the-line issue, against a real ``hotline run``: logins are shaped and
limited before any password work, password work is bounded and off the loop, sessions end when
they should, and a page of another site cannot act with a seat's cookie."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.security.engine import PASSWORD, running_engine

pytestmark = pytest.mark.integration

# The tests stand behind a "proxy" on loopback, so each can play clients at many addresses.
ENV = {
    "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
    "HOTLINE_SECURITY__LOGIN_FAILURES_PER_ADDRESS": "30",
    "HOTLINE_SECURITY__LOGIN_FAILURES_PER_ACCOUNT": "5",
    "HOTLINE_SECURITY__PASSWORD_CHECKS_AT_ONCE": "2",
    "HOTLINE_SECURITY__PASSWORD_CHECKS_WAITING": "4",
}
ACCOUNTS = [("seat1", "seat", None), ("seat2", "seat", None), ("sup1", "supervisor", None), ("admin1", "admin", None)]


def at(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


@pytest.fixture
async def engine(tmp_path):  # type: ignore[no-untyped-def]
    async with running_engine(tmp_path, ENV, ACCOUNTS) as e:
        yield e


async def test_a_spray_of_unknown_usernames_from_one_address_is_refused_and_others_still_log_in(engine):
    async with aiohttp.ClientSession() as http:
        before = await engine.metric(http, "hotline_refused_total", edge="login", reason="address")

        async def attempt(i: int) -> int:
            body = {"username": f"nobody{i}", "password": "wrong-password"}
            async with http.post(f"{engine.base}/api/login", json=body, headers=at("203.0.113.66")) as r:
                return r.status

        async def health() -> int:
            async with http.get(f"{engine.base}/healthz") as r:
                return r.status

        busy = await engine.metric(http, "hotline_refused_total", edge="login", reason="busy")
        statuses = await asyncio.gather(*(attempt(i) for i in range(300)), *(health() for _ in range(20)))
        logins, checks = statuses[:300], statuses[300:]
        assert checks == [200] * 20  # the engine kept answering during the spray
        # At most the address's 30 were tried; every other one was refused, as busy or as over the limit.
        assert 0 < logins.count(401) <= 30 and set(logins) == {401, 429}
        refused = await engine.metric(http, "hotline_refused_total", edge="login", reason="address") - before
        refused += await engine.metric(http, "hotline_refused_total", edge="login", reason="busy") - busy
        assert refused == logins.count(429)
        for i in range(30):  # keep trying one by one: the address reaches its limit and stays refused
            if await attempt(1000 + i) == 429:
                break
        assert await attempt(2000) == 429
        # The refusals carry Retry-After; the sprayed address stays refused, another is served.
        async with http.post(
            f"{engine.base}/api/login", json={"username": "seat1", "password": PASSWORD}, headers=at("203.0.113.66")
        ) as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) > 0
            assert "秒后再试" in (await r.json())["detail"]
        await engine.login(http, "seat1", headers=at("198.51.100.7"))


async def test_a_huge_or_malformed_username_is_refused_before_any_hashing(engine):
    async with aiohttp.ClientSession() as http:
        rss = engine.rss_mib()
        huge = {"username": "x" * 10_000_000, "password": "p"}
        async with http.post(f"{engine.base}/api/login", json=huge, headers=at("203.0.113.1")) as r:
            assert r.status == 413
        for bad in ({"username": "a b<script>", "password": "x"}, {"username": "seat1", "password": "p" * 300}):
            async with http.post(f"{engine.base}/api/login", json=bad, headers=at("203.0.113.1")) as r:
                assert r.status == 401
        async with http.post(f"{engine.base}/api/login", data=b"[1,2", headers=at("203.0.113.1")) as r:
            assert r.status == 415  # not JSON: refused before parsing
        # The 10 MB body was never read into memory (it was 45 MB of growth before).
        assert engine.rss_mib() - rss < 8


async def test_only_failures_count_per_account_and_a_success_does_not_wipe_an_address(engine):
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            await engine.login(http, "seat2", headers=at("198.51.100.20"))  # successes count nothing
        for n in range(5):  # five wrong passwords from five addresses
            body = {"username": "seat2", "password": "wrong-password"}
            async with http.post(f"{engine.base}/api/login", json=body, headers=at(f"198.51.100.{30 + n}")) as r:
                assert r.status == 401
        body = {"username": "seat2", "password": PASSWORD}
        async with http.post(f"{engine.base}/api/login", json=body, headers=at("198.51.100.99")) as r:
            assert r.status == 429  # the account is held, whatever the address


async def test_password_checks_are_bounded_and_the_rest_refused_at_once(engine):
    async with aiohttp.ClientSession() as http:

        async def attempt(i: int) -> int:
            body = {"username": f"user{i}", "password": f"wrong-{i}"}
            async with http.post(f"{engine.base}/api/login", json=body, headers=at(f"192.0.2.{i}")) as r:
                return r.status

        # 60 clients at once, each within its own limits: 2 hashing and 4 waiting at most, the
        # others refused as busy at once (not queued without end), every one answered.
        statuses = await asyncio.gather(*(attempt(i) for i in range(60)))
        assert set(statuses) == {401, 429} and statuses.count(401) >= 6
        busy = await engine.metric(http, "hotline_refused_total", edge="login", reason="busy")
        assert busy == statuses.count(429)


async def test_a_spray_from_a_few_addresses_cannot_crowd_out_a_seat_logging_in(engine):
    async with aiohttp.ClientSession() as http:
        stop = asyncio.Event()

        async def attempt(address: str) -> int:
            body = {"username": f"nobody-{address}", "password": "wrong-password"}
            async with http.post(f"{engine.base}/api/login", json=body, headers=at(address)) as r:
                return r.status

        async def spray(address: str) -> list[int]:
            statuses: list[int] = []
            while not stop.is_set():
                statuses += await asyncio.gather(*(attempt(address) for _ in range(8)))
            return statuses

        # Four attacking hosts keep the lane's 6 places (2 hashing, 4 waiting) full, until each
        # has spent its 30 failures; a seat meanwhile logs in from its own clean address.
        sprays = [asyncio.create_task(spray(f"203.0.113.{80 + n}")) for n in range(4)]
        await asyncio.sleep(0.3)
        for n in range(5):
            await engine.login(http, "seat1", headers=at(f"198.51.100.{80 + n}"))
        stop.set()
        statuses = [s for task in sprays for s in await task]
        busy = await engine.metric(http, "hotline_refused_total", edge="login", reason="busy")
        assert busy > 0 and 429 in statuses  # the lane was full for the sprayers all along


async def test_forged_socket_tokens_from_one_address_do_not_keep_seats_elsewhere_out(engine):
    async with aiohttp.ClientSession() as http:

        async def seat_socket(address: str, token: str) -> str:
            """Open /agent with this token: '' when let in, else the engine's reason."""
            url = engine.base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
            async with http.ws_connect(url, headers=at(address)) as ws:
                assert (await ws.receive_str()).startswith("0")
                await ws.send_str("40/agent," + json.dumps({"token": token}))
                reply = await ws.receive_str()
            return "" if reply.startswith("40/agent") else json.loads(reply.split(",", 1)[1])["message"]

        reasons = [await seat_socket("203.0.113.90", "forged.token") for _ in range(12)]
        assert all(reasons) and "过多" in reasons[-1]  # past ten a minute, the sprayer is held back...
        token = await engine.login(http, "seat2", headers=at("198.51.100.90"))
        assert await seat_socket("198.51.100.90", token) == ""  # ...and only the sprayer


async def test_logout_ends_the_token_for_every_copy_of_it(engine):
    async with aiohttp.ClientSession() as http:
        token = await engine.login(http, "sup1")
        bearer = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{engine.base}/api/me", headers=bearer) as r:
            assert r.status == 200
        async with http.post(f"{engine.base}/api/logout", headers=bearer) as r:
            assert r.status == 200
        async with http.get(f"{engine.base}/api/me", headers=bearer) as r:
            assert r.status == 401  # a stolen copy of the token is useless after logout


async def test_changing_ones_password_ends_the_other_sessions(engine):
    async with aiohttp.ClientSession() as http:
        other = await engine.login(http, "seat1", headers=at("198.51.100.50"))
        await asyncio.sleep(1.1)  # tokens carry whole seconds: the next one is issued later
        mine = await engine.login(http, "seat1", headers=at("198.51.100.51"))
        change = {"old_password": "wrong-password", "new_password": "a-new-password"}
        async with http.post(
            f"{engine.base}/api/me/password", json=change, headers={"Authorization": f"Bearer {mine}"}
        ) as r:
            assert r.status == 403
        change["old_password"] = PASSWORD
        async with http.post(
            f"{engine.base}/api/me/password", json=change, headers={"Authorization": f"Bearer {mine}"}
        ) as r:
            assert r.status == 200
            fresh = (await r.json())["token"]
        async with http.get(f"{engine.base}/api/me", headers={"Authorization": f"Bearer {other}"}) as r:
            assert r.status == 401
        async with http.get(f"{engine.base}/api/me", headers={"Authorization": f"Bearer {fresh}"}) as r:
            assert r.status == 200
        await engine.login(http, "seat1", "a-new-password", headers=at("198.51.100.52"))


async def test_only_an_admin_resets_a_password_and_the_old_sessions_end(engine):
    async with aiohttp.ClientSession() as http:
        seat = await engine.login(http, "seat2", headers=at("198.51.100.60"))
        sup = await engine.login(http, "sup1", headers=at("198.51.100.61"))
        await asyncio.sleep(1.1)
        admin = await engine.login(http, "admin1", headers=at("198.51.100.62"))
        url = f"{engine.base}/api/accounts/seat2/password"
        async with http.post(
            url, json={"new_password": "reset-by-admin"}, headers={"Authorization": f"Bearer {sup}"}
        ) as r:
            assert r.status == 403
        async with http.post(
            url, json={"new_password": "reset-by-admin"}, headers={"Authorization": f"Bearer {admin}"}
        ) as r:
            assert r.status == 200
        async with http.get(f"{engine.base}/api/me", headers={"Authorization": f"Bearer {seat}"}) as r:
            assert r.status == 401
        await engine.login(http, "seat2", "reset-by-admin", headers=at("198.51.100.63"))


async def test_a_page_of_another_site_cannot_act_with_the_login_cookie(engine):
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        await engine.login(http, "sup1", headers=at("198.51.100.70"))  # the cookie is now in the jar
        evil = {"Origin": "http://evil.example"}
        async with http.post(f"{engine.base}/api/logout", headers=evil) as r:
            assert r.status == 403
        # A cross-site form post: no Origin check can be skipped by leaving it out with a cookie...
        async with http.post(f"{engine.base}/api/logout", data=b"", headers={"Referer": "http://evil.example/x"}) as r:
            assert r.status == 403
        # ... and a form's content type is not an API request.
        same = {"Origin": engine.base, "Content-Type": "application/x-www-form-urlencoded"}
        async with http.post(f"{engine.base}/api/me/password", data=b"old_password=x", headers=same) as r:
            assert r.status == 415
        async with http.get(f"{engine.base}/api/me") as r:
            assert r.status == 200  # the session survived all of that
        async with http.post(f"{engine.base}/api/logout", headers={"Origin": engine.base}) as r:
            assert r.status == 200


async def test_cookies_are_secure_when_the_deployment_says_so(tmp_path):
    env = {**ENV, "HOTLINE_SECURITY__SECURE_COOKIES": "true"}
    async with running_engine(tmp_path, env, ACCOUNTS) as engine, aiohttp.ClientSession() as http:
        body = {"username": "seat1", "password": PASSWORD}
        async with http.post(f"{engine.base}/api/login", json=body) as r:
            cookie = r.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
