"""Accounts, login, tokens, role checks and the login rate limit, on SQLite and PostgreSQL."""

import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from hotline import auth
from hotline.commands.user import add_user, disable_user, list_users
from hotline.context import AppContext
from hotline.settings import load_settings
from hotline.storage import make_sessionmaker

SECRET = "unit-test-secret"


def test_password_hashes_are_salted_and_verify_only_the_right_password():
    a, b = auth.hash_password("s3cret-pass"), auth.hash_password("s3cret-pass")
    assert a != b and a.startswith("scrypt$")
    assert auth.verify_password("s3cret-pass", a) and not auth.verify_password("s3cret-pasS", a)
    assert not auth.verify_password("anything", "not-a-hash")


def test_tokens_carry_claims_and_refuse_tampering_expiry_and_other_keys():
    now = time.time()
    tok = auth.make_token(SECRET, "disp1", "dispatcher", None, int(now) + 60)
    claims = auth.read_token(SECRET, tok, now)
    assert claims is not None and (claims.username, claims.role, claims.unit) == ("disp1", "dispatcher", None)
    _body, sig = tok.split(".")
    forged = auth.make_token(SECRET, "disp1", "admin", None, int(now) + 60).split(".")[0] + "." + sig
    assert auth.read_token(SECRET, forged, now) is None
    assert auth.read_token("other-secret", tok, now) is None
    assert auth.read_token(SECRET, tok, now + 61) is None
    assert auth.read_token(SECRET, "garbage", now) is None


async def _app(engine, tmp_path):
    settings = load_settings(data_dir=tmp_path, secret_key=SECRET, security={"login_failures_per_account": 5})
    ctx = AppContext(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    app = web.Application()
    auth.install(app, ctx)
    auth.install(app, ctx)  # a second call is harmless

    @auth.require_roles("dispatcher")
    async def only_dispatchers(request):
        return web.json_response({"hello": request[auth.ACCOUNT].username})

    app.router.add_get("/api/secret", only_dispatchers)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client, ctx


async def test_login_gives_a_bearer_token_and_cookie_and_roles_are_enforced(migrated_engine, tmp_path):
    client, ctx = await _app(migrated_engine, tmp_path)
    try:
        await auth.create_account(ctx.sessions, "disp1", "dispatcher", "password-1", display_name="派单员")
        await auth.create_account(ctx.sessions, "seat1", "seat", "password-2")
        resp = await client.post("/api/login", json={"username": "disp1", "password": "password-1"})
        assert resp.status == 200
        body = await resp.json()
        assert body["account"] == {"username": "disp1", "display_name": "派单员", "role": "dispatcher", "unit": None}
        assert "HttpOnly" in resp.headers["Set-Cookie"]
        # The cookie alone authenticates (the client kept it) ...
        assert (await client.get("/api/secret")).status == 200
        client.session.cookie_jar.clear()
        assert (await client.get("/api/secret")).status == 401
        # ... and so does the bearer token.
        bearer = {"Authorization": "Bearer " + body["token"]}
        assert (await (await client.get("/api/me", headers=bearer)).json())["role"] == "dispatcher"
        seat = await (await client.post("/api/login", json={"username": "seat1", "password": "password-2"})).json()
        client.session.cookie_jar.clear()
        resp = await client.get("/api/secret", headers={"Authorization": "Bearer " + seat["token"]})
        assert resp.status == 403 and "dispatcher" in (await resp.json())["detail"]
        # Disabling the account stops its token at once.
        async with ctx.sessions() as s, s.begin():
            await s.execute(update(auth.Account).where(auth.Account.username == "disp1").values(active=False))
        assert (await client.get("/api/secret", headers=bearer)).status == 401
    finally:
        await client.close()


async def test_failed_logins_of_one_username_are_limited(migrated_engine, tmp_path):
    client, ctx = await _app(migrated_engine, tmp_path)
    try:
        await auth.create_account(ctx.sessions, "seat1", "seat", "password-2")
        for _ in range(5):
            resp = await client.post("/api/login", json={"username": "seat1", "password": "wrong-one"})
            assert resp.status == 401
        resp = await client.post("/api/login", json={"username": "seat1", "password": "password-2"})
        assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
        resp = await client.post("/api/login", data=b"not json")
        assert resp.status == 400
    finally:
        await client.close()


async def test_account_rules_and_the_user_command_functions(migrated_engine, db_url, tmp_path):
    sessions = make_sessionmaker(migrated_engine)
    with pytest.raises(auth.AccountError, match="role"):
        await auth.create_account(sessions, "x1", "boss", "password-1")
    with pytest.raises(auth.AccountError, match="--unit"):
        await auth.create_account(sessions, "u1", "unit", "password-1")
    with pytest.raises(auth.AccountError, match="8 to 256 characters"):
        await auth.create_account(sessions, "u1", "seat", "short")
    await add_user(db_url, "water1", "unit", "water", "水务", "password-3")
    with pytest.raises(auth.AccountError, match="already exists"):
        await add_user(db_url, "water1", "unit", "water", "水务", "password-3")
    assert ("water1", "unit", "water", True, "水务") in await list_users(db_url)
    assert await disable_user(db_url, "water1") is True
    assert await disable_user(db_url, "nobody") is False
    assert ("water1", "unit", "water", False, "水务") in await list_users(db_url)


def test_the_user_command_parses_its_options():
    import argparse

    from hotline.commands import user

    parser = argparse.ArgumentParser()
    user.register(parser.add_subparsers())
    args = parser.parse_args(["user", "add", "water1", "--role", "unit", "--unit", "water", "--password-stdin"])
    assert (args.username, args.role, args.unit, args.password_stdin) == ("water1", "unit", "water", True)
    with pytest.raises(SystemExit):
        parser.parse_args(["user", "add", "x", "--role", "boss"])
