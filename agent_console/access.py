"""Who is on a socket: the signed login token (``auth={"token": ...}`` or the login cookie),
checked against the account table on connect, with failed attempts rate-limited per client
address (behind trusted proxies, the address the proxy names)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from socketio.exceptions import ConnectionRefusedError as Refused
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.auth import COOKIE, Account, Claims, RevokedToken, account_for, read_token, token_holds
from hotline.guard import RateLimiter

logger = logging.getLogger(__name__)

AGENT_ROLES = frozenset({"seat", "supervisor", "manager"})
SUPERVISOR_ROLES = frozenset({"supervisor", "manager", "admin"})


@dataclass(frozen=True)
class Who:
    username: str
    display_name: str
    role: str
    expires: int
    claims: Claims | None = None  # the token it came in with, checked again every second

    def expired(self, now: float) -> bool:
        return now >= self.expires


def token_from(environ: Mapping[str, Any], auth: Any) -> str:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return str(auth["token"])
    raw = environ.get("HTTP_COOKIE", "")
    if raw:
        try:
            jar: SimpleCookie = SimpleCookie(raw)
        except CookieError:
            return ""
        if COOKIE in jar:
            return jar[COOKIE].value
    return ""


class SocketAuth:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        secret: str,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = sessions
        self.secret = secret
        self.limiter = limiter or RateLimiter(limit=10, window=60.0)
        self.clock = clock
        self.live: dict[tuple[str, str], Who] = {}
        self.ending: set[tuple[str, str]] = set()  # found ended, being disconnected

    async def check(self, environ: Mapping[str, Any], auth: Any, roles: frozenset[str]) -> Who:
        """The account behind the socket; raises ConnectionRefusedError with a Chinese reason."""
        # The client's own address (behind trusted proxies, as the Socket.IO edge found it): keyed
        # by the peer, every seat behind the hotline's proxy shared one limit, and ten forged
        # tokens a minute from anywhere kept them all from opening the console.
        key = ("socket", str(environ.get("hotline.remote") or environ.get("REMOTE_ADDR", "")))
        wait = self.limiter.retry_after(key)
        if wait > 0:
            raise Refused(f"登录尝试过多，请 {int(wait) + 1} 秒后再试")
        token = token_from(environ, auth)
        claims = read_token(self.secret, token, self.clock()) if token else None
        if claims is None:
            self.limiter.failed(key)
            raise Refused("请先登录（令牌缺失、无效或已过期）")
        acc = await account_for(self.sessions, claims)
        if acc is None:
            self.limiter.failed(key)
            raise Refused("账号不存在、已停用或登录已失效")
        if acc.role not in roles:
            # Not a guess at a password: no rate-limit penalty, but a clear refusal.
            raise Refused(f"此页面需要角色：{'、'.join(sorted(roles))}")
        self.limiter.succeeded(key)
        return Who(acc.username, acc.display_name or acc.username, acc.role, claims.expires, claims)

    # -- sessions that must end: a disabled account, a logout, a changed password ----------------
    def track(self, namespace: str, sid: str, who: Who) -> None:
        self.live[(namespace, sid)] = who

    def untrack(self, namespace: str, sid: str) -> None:
        self.live.pop((namespace, sid), None)

    async def ended(self) -> list[tuple[str, str]]:
        """The sockets whose login no longer holds (one query for all of them)."""
        # Only the sockets live now are judged: one that connects while the query runs is not in
        # its answer, and must not be taken for an account that is gone.
        live = list(self.live.items())
        if not live:
            return []
        names = {who.username for _, who in live}
        jtis = {who.claims.jti for _, who in live if who.claims is not None and who.claims.jti}
        # Only the exceptions come back: accounts disabled or with a password changed (and how
        # many of the names exist), tokens revoked. Thousands of seats cost a count, not rows.
        async with self.sessions() as s:
            found = int(await s.scalar(select(func.count()).where(Account.username.in_(names))) or 0)
            exist: set[str] | None = None
            if found < len(names):  # an account was deleted: which
                exist = set((await s.execute(select(Account.username).where(Account.username.in_(names)))).scalars())
            special = {
                name: (active, after)
                for name, active, after in await s.execute(
                    select(Account.username, Account.active, Account.tokens_after).where(
                        Account.username.in_(names), or_(Account.active.is_(False), Account.tokens_after.is_not(None))
                    )
                )
            }
            revoked = set()
            if jtis:
                revoked = set((await s.execute(select(RevokedToken.jti).where(RevokedToken.jti.in_(jtis)))).scalars())
        out = []
        for key, who in live:
            if self.live.get(key) is not who:
                continue  # gone while the query ran
            claims = who.claims
            active, after = special.get(who.username, (True, None))
            gone = exist is not None and who.username not in exist
            if gone or claims is None or not token_holds(active, after, claims) or claims.jti in revoked:
                out.append(key)
        return out
