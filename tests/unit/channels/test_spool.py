"""The WeChat spool's file: order, bounds, a stop mid-way, a torn line, one owner per folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from channels.spool import PushSpool, SpoolTaken


def fields(n: int) -> dict[str, Any]:
    return {"FromUserName": "o_1", "MsgType": "text", "Content": f"第{n}条", "MsgId": str(n)}


async def test_pushes_come_back_in_order_once_and_the_file_empties(tmp_path: Path) -> None:
    spool = PushSpool(tmp_path / "s.jsonl", 1 << 20)
    for n in range(3):
        assert await spool.keep(fields(n), f"<xml>{n}</xml>")
    got: list[tuple[str, str]] = []

    async def take(f: dict[str, Any], raw: str) -> None:
        got.append((f["Content"], raw))

    assert spool.pending and await spool.replay(take) == 3
    assert got == [("第0条", "<xml>0</xml>"), ("第1条", "<xml>1</xml>"), ("第2条", "<xml>2</xml>")]
    assert not spool.pending and (tmp_path / "s.jsonl").read_bytes() == b""
    assert await spool.replay(take) == 0 and len(got) == 3
    spool.close()


async def test_a_failure_stops_the_replay_and_the_next_one_goes_on_from_there(tmp_path: Path) -> None:
    spool = PushSpool(tmp_path / "s.jsonl", 1 << 20)
    for n in range(4):
        await spool.keep(fields(n), "")
    got: list[str] = []

    async def down_at_two(f: dict[str, Any], _raw: str) -> None:
        if f["Content"] == "第2条":
            raise ConnectionRefusedError("database away")
        got.append(f["Content"])

    with pytest.raises(ConnectionRefusedError):
        await spool.replay(down_at_two)
    assert got == ["第0条", "第1条"] and spool.pending
    await spool.keep(fields(4), "")  # arrives meanwhile: after the ones waiting

    async def up(f: dict[str, Any], _raw: str) -> None:
        got.append(f["Content"])

    assert await spool.replay(up) == 3
    assert got == ["第0条", "第1条", "第2条", "第3条", "第4条"]
    spool.close()


async def test_a_full_spool_keeps_nothing_more(tmp_path: Path) -> None:
    spool = PushSpool(tmp_path / "s.jsonl", 300)
    assert await spool.keep(fields(1), "x" * 100)
    assert not await spool.keep(fields(2), "x" * 200)
    assert len((tmp_path / "s.jsonl").read_bytes().splitlines()) == 1
    spool.close()


async def test_a_line_a_kill_cut_short_is_skipped_and_what_an_earlier_run_left_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    first = PushSpool(path, 1 << 20)
    await first.keep(fields(1), "")
    first.close()
    with path.open("ab") as fh:
        fh.write(b'{"fields": {"Content": "half')  # the write a SIGKILL interrupted
    spool = PushSpool(path, 1 << 20)  # the next start
    assert spool.pending
    got: list[str] = []

    async def take(f: dict[str, Any], _raw: str) -> None:
        got.append(f["Content"])

    assert await spool.replay(take) == 1 and got == ["第1条"]
    assert path.read_bytes() == b""
    spool.close()


def test_one_engine_owns_a_data_folder_s_spool(tmp_path: Path) -> None:
    spool = PushSpool(tmp_path / "s.jsonl", 1 << 20)
    with pytest.raises(SpoolTaken):
        PushSpool(tmp_path / "s.jsonl", 1 << 20)
    spool.close()
    PushSpool(tmp_path / "s.jsonl", 1 << 20).close()  # free again once the first let go


async def test_many_citizens_go_to_the_store_together_each_one_s_messages_in_order(tmp_path: Path) -> None:
    """One at a time, the store's commit window made the replay slower than a busy hour's pushes."""
    import asyncio

    spool = PushSpool(tmp_path / "s.jsonl", 1 << 20)
    for n in range(30):
        await spool.keep({"FromUserName": f"o_{n % 10}", "Content": f"第{n}条"}, "")
    running = peak = 0
    got: list[tuple[str, str]] = []

    async def store(f: dict[str, Any], _raw: str) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)  # the commit window
        got.append((f["FromUserName"], f["Content"]))
        running -= 1

    assert await spool.replay(store) == 30
    assert peak == 10  # ten citizens at once, never two of one citizen
    for who in {w for w, _ in got}:
        mine = [int(c[1:-1]) for w, c in got if w == who]
        assert mine == sorted(mine)
    spool.close()
