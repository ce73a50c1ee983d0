"""The faults tier: the disk that keeps the citizens' pictures is full. A real ``hotline run`` in a
mount namespace of its own, with a 96 KiB filesystem (tmpfs) on its media folder: the kernel
answers ENOSPC like a full disk. A picture that does not fit is refused with a clear message (the
chat goes on in text), nothing half-written is left, the engine stays up, and the log says it once."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import zlib
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import need_server
from tests.faults.peers import Peer, seat, take_offers
from tests.security.engine import running_engine

pytestmark = pytest.mark.integration
ENV = {"HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"])}
FULL = "存储空间不足，图片暂时无法发送，请先用文字描述"


def png(size: int) -> bytes:
    """A valid 8x8 PNG carrying ``size`` bytes of noise in a text chunk (nothing compresses it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x00\x80\xff" * 8 for _ in range(8))
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    noise = b"noise\x00" + os.urandom(size).hex().encode()[:size]
    body = chunk(b"IHDR", ihdr) + chunk(b"tEXt", noise) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def small_disk(folder: Path, kib: int) -> list[str]:
    """The engine's command runs after a tmpfs of ``kib`` KiB is mounted on ``folder``, in a mount
    namespace of its own (nothing is mounted for anybody else)."""
    userns = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    unshare = ["unshare", *userns, "--mount", "--propagation", "private"]
    probe = subprocess.run([*unshare, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        need_server(f"cannot give the engine a small disk of its own (unshare): {probe.stderr.strip()}")
    script = f'mkdir -p "{folder}" && mount -t tmpfs -o size={kib}k tmpfs "{folder}" && exec "$0" "$@"'
    return [*unshare, "sh", "-c", script]


async def test_a_picture_the_full_disk_cannot_keep_is_refused_clearly_and_the_chat_goes_on(tmp_path):
    media = tmp_path / "engine-data" / "channels" / "media"
    wrap = small_disk(media, 96)
    async with (
        running_engine(tmp_path, ENV, [("seat1", "seat", None)], wrap=wrap) as engine,
        aiohttp.ClientSession() as http,
    ):
        console = await seat(engine, http, "seat1")
        citizen = await Peer.open(engine, "/visitor", "198.51.100.9")
        assert (await citizen.call("hello"))["ok"]
        first = await citizen.call("image", {"type": "image/png", "name": "井盖.png", "data": png(60_000)})
        assert first["ok"], first
        contact = f"webchat-{first['conversation']}"
        assert await take_offers(console, 1) == [contact]
        # The second picture does not fit in what is left.
        second = await citizen.call("image", {"type": "image/png", "name": "井盖2.png", "data": png(60_000)})
        assert second == {"ok": False, "error": FULL}
        third = await citizen.call("image", {"type": "image/png", "name": "井盖3.png", "data": png(50_000)})
        assert third == {"ok": False, "error": FULL}
        # The chat goes on in text, both ways.
        ack = await citizen.call("message", {"text": "井盖在人民路口，照片发不了"})
        assert ack["ok"], ack
        await console.next(
            "chat_message", where=lambda d: d["message"]["body"].get("text") == "井盖在人民路口，照片发不了"
        )
        reply = await console.call("chat_send", {"contact_id": contact, "text": "收到，已记录位置"})
        assert reply["ok"], reply
        await citizen.next("message", where=lambda d: d.get("text") == "收到，已记录位置")
        async with http.get(f"{engine.base}/healthz") as r:
            assert r.status == 200
        assert await engine.metric(http, "hotline_disk_full_total", what="media") == 2
        # Nothing half-written is left on the full disk: one picture, no temporary file.
        kept = sorted(p.name for p in Path(f"/proc/{engine.proc.pid}/root{media}").rglob("*") if p.is_file())
        assert len(kept) == 1 and kept[0].endswith(".png"), kept
        history = await console.call("chat_history", {"contact_id": contact})
        kinds = [m["kind"] for m in history["messages"]]
        assert kinds == ["image", "text", "text"], history  # the refused pictures are not in the chat
        for peer in (console, citizen):
            await peer.sio.disconnect()
    log = (tmp_path / "engine.log").read_text()
    assert log.count("disk full") == 1, log[-2000:]  # one line, not one per picture
    assert "Traceback" not in log, log[-2000:]
