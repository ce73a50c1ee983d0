"""Build what WeChat's servers would send: signed, optionally encrypted pushes (with wechatpy)."""

from __future__ import annotations

import hashlib
import secrets
import time

from wechatpy.crypto import WeChatCrypto

TOKEN = "hotline-test-token"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "s3cret-of-the-test-account"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = "gh_12345citygov"


def sign(token: str, *parts: str) -> str:
    return hashlib.sha1("".join(sorted([token, *parts])).encode()).hexdigest()


def query(timestamp: int | None = None, nonce: str | None = None, token: str = TOKEN) -> dict[str, str]:
    """A signed query as WeChat sends it: a fresh random nonce each time unless given."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(8)
    return {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce}


def xml(openid: str, msg_type: str, create_time: int | None = None, msg_id: int | None = None, **fields: str) -> str:
    ct = int(time.time()) if create_time is None else create_time
    parts = [
        f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>",
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
        f"<CreateTime>{ct}</CreateTime>",
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>",
    ]
    for key, value in fields.items():
        parts.append(
            f"<{key}><![CDATA[{value}]]></{key}>" if not value.replace(".", "").isdigit() else f"<{key}>{value}</{key}>"
        )
    if msg_id is not None:
        parts.append(f"<MsgId>{msg_id}</MsgId>")
    return "<xml>" + "".join(parts) + "</xml>"


def text(openid: str, content: str, msg_id: int, create_time: int | None = None) -> str:
    return xml(openid, "text", create_time, msg_id, Content=content)


def encrypted(
    plain: str, mode: str, timestamp: int | None = None, nonce: str | None = None
) -> tuple[str, dict[str, str]]:
    """The body and query WeChat sends in safe mode (only Encrypt) or compatible mode (both)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(8)
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    envelope = crypto.encrypt_message(plain, nonce, ts)
    encrypt = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
    msg_signature = envelope.split("<MsgSignature><![CDATA[", 1)[1].split("]]>", 1)[0]
    q = query(int(ts), nonce)
    q.update({"encrypt_type": "aes", "msg_signature": msg_signature})
    if mode == "safe":
        body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    else:
        body = plain.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
    return body, q
