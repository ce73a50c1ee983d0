"""Who is who in the abuse bench: accounts, addresses and the WeChat token, shared by the engine's
set-up, the legitimate load and the attackers.

Every client stands for its own remote address through ``X-Forwarded-For`` (the engine trusts
loopback as its proxy during the bench). Citizens and seats each have their own address, as they
would; the attackers are a handful of hosts, as a few attacking machines would be. All addresses
are from ranges that route nowhere (RFC 1918, RFC 6598 and the documentation ranges).
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time

PASSWORD = "bench-password-1"
WECHAT_TOKEN = "bench-wechat-token"

MANAGER = "duty1"  # the shift manager who asks for staffing figures now and then
STOLEN_MANAGER = "duty9"  # a manager's account in the attackers' hands
STOLEN_UNIT = "water1"  # a member unit's account in the attackers' hands (unit "water")

MANAGER_ADDRESS = "10.30.0.1"
WECHAT_SERVER = "198.51.100.10"  # WeChat's servers push from their own addresses
ATTACKER_HOSTS = ("203.0.113.10", "203.0.113.11", "203.0.113.12", "203.0.113.13")
SPRAY_HOST = "203.0.113.66"  # cookie-less visitor ids and left messages, from one address
PAGE_SPRAY_HOST = "203.0.113.67"  # visitor ids minted by the chat page, from one address


def seat_name(i: int) -> str:
    return f"s{i:04d}"


def seat_address(i: int) -> str:
    return str(ipaddress.IPv4Address("10.20.0.1") + i)


def visitor_address(n: int) -> str:
    """The n-th citizen's address (100.64.0.0/10 holds four million)."""
    return str(ipaddress.IPv4Address("100.64.0.1") + n % 4_000_000)


def accounts(seats: int) -> list[tuple[str, str, str | None]]:
    """(username, role, unit) of everyone the engine must know before it starts."""
    return [
        *((seat_name(i), "seat", None) for i in range(seats)),
        (MANAGER, "manager", None),
        (STOLEN_MANAGER, "manager", None),
        (STOLEN_UNIT, "unit", "water"),
    ]


def signed_query(token: str = WECHAT_TOKEN, timestamp: int | None = None) -> dict[str, str]:
    """What WeChat puts on a push's URL: a fresh nonce, signed with the account's token."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(8)
    signature = hashlib.sha1("".join(sorted([token, ts, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": ts, "nonce": nonce}


def wechat_text(openid: str, content: str, msg_id: int) -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_12345bench]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )
