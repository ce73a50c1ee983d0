"""Knowledge-base search: recall@5 and search p99 over an index of 100,000 entries.

Loads the evaluation set (``tests/data/kb/entries.jsonl`` in the import format and
``questions.jsonl``: ``{"question": ..., "entry": <id>}``) through the real import, adds generated
filler entries (the same vocabulary of government services, none of them an answer) until the
index holds ``--entries``, then asks every question as a seat would. An import that loses or
doubles an entry, or a second import that changes anything, is a loss: the bench fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from hotline.commands.bench import machine

PLACES = [
    "如城街道",
    "海安区",
    "城北街道",
    "东陈镇",
    "丁堰镇",
    "白蒲镇",
    "江安镇",
    "搬经镇",
    "长江镇",
    "石庄镇",
    "城南街道",
    "港口区",
]
TOPICS = [
    "营业执照",
    "食品经营许可",
    "排污许可",
    "建筑工程施工许可",
    "道路挖掘",
    "占道经营",
    "户外广告设置",
    "渔业捕捞",
    "农机购置补贴",
    "耕地地力保护补贴",
    "高龄津贴",
    "困难残疾人生活补贴",
    "创业担保贷款",
    "就业见习补贴",
    "技能培训补贴",
    "学区划分",
    "校外培训机构",
    "幼儿园收费",
    "图书馆借阅",
    "体育场馆开放",
    "公交线路调整",
    "停车收费标准",
    "共享单车停放",
    "垃圾分类投放",
    "餐厨垃圾清运",
    "绿化养护",
    "路灯维修",
    "窨井盖破损",
    "道路积水",
    "违章搭建",
    "油烟扰民",
    "宠物犬登记",
    "殡葬服务",
    "婚姻登记预约",
    "收养登记",
    "法律援助申请",
    "人民调解",
    "公证办理",
    "档案查询",
    "税务登记",
    "发票领用",
    "房屋租赁备案",
    "物业维修资金",
    "电梯加装",
    "老旧小区改造",
    "燃气安全检查",
    "水表更换",
    "献血证明",
    "疫苗预约",
    "家庭医生签约",
    "医疗机构执业登记",
    "药店监管",
    "价格投诉",
    "计量器具检定",
    "特种设备检验",
]
ACTIONS = [
    "如何申请",
    "办理流程",
    "需要哪些条件",
    "在哪里办理",
    "收费标准",
    "办理时限",
    "政策依据",
    "咨询电话",
    "网上办理",
    "材料清单",
]
FILLER_SENTENCES = [
    "申请人可登录政务服务网在线提交申请",
    "到区政务服务中心综合窗口现场办理",
    "办理时需携带本人有效证件原件及复印件",
    "符合条件的自受理之日起五个工作日内办结",
    "具体以主管部门最新公告为准",
    "可拨打主管部门咨询电话了解详情",
    "材料不全的一次性告知需补正的内容",
    "办理结果可通过短信通知或窗口领取",
    "本事项不收取任何费用",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--entries", type=int, default=100_000, help="entries in the index (evaluation set + fillers)")
    parser.add_argument(
        "--data", type=Path, default=Path("tests/data/kb"), help="folder of entries.jsonl, questions.jsonl"
    )
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--keep", action="store_true", help="keep the database (its folder is printed)")
    parser.add_argument(
        "--db-url",
        default=None,
        help="an empty database to load instead of a new SQLite file, e.g. postgresql+asyncpg://host/db "
        "(migrated by the bench, never emptied)",
    )


def filler(i: int, rnd: random.Random) -> str:
    topic, action, place = rnd.choice(TOPICS), rnd.choice(ACTIONS), rnd.choice(PLACES)
    scope = place if rnd.random() < 0.6 else "city"
    answer = "。".join(rnd.sample(FILLER_SENTENCES, 3)) + f"。事项编码 SX{i:06d}。"
    return json.dumps(
        {
            "id": f"filler-{i:06d}",
            "question": f"{place}{topic}{action}？",
            "answer": f"<p>{topic}：{answer}</p>",
            "category": f"政务服务/{topic}",
            "scope": scope,
            "unit": f"u{i % 40:02d}",
            "valid_from": "2024-01-01",
            "valid_to": None,
            "keywords": [topic],
        },
        ensure_ascii=False,
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))


def _read(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    from hotline.migrate import upgrade
    from hotline.storage import make_engine
    from knowledge.core.model import Actor
    from knowledge.services import KnowledgeService
    from knowledge.settings import KnowledgeSettings

    entries_lines = _read(args.data / "entries.jsonl")
    questions = [json.loads(ln) for ln in _read(args.data / "questions.jsonl")]
    eval_ids = {json.loads(ln)["id"] for ln in entries_lines}
    losses: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="bench-kb-"))
    url = args.db_url or f"sqlite+aiosqlite:///{folder / 'kb.db'}"
    await upgrade(url)
    engine = make_engine(url)
    svc = KnowledgeService(engine, KnowledgeSettings())
    if held := await svc.count():
        await engine.dispose()
        raise SystemExit(f"the database already holds {held} entries: the bench needs an empty one")
    console = Console(stderr=True)
    actor = Actor("bench", "admin")
    try:
        await svc.start()
        first = await svc.import_lines(entries_lines, actor)
        if first.refused:
            losses += [f"evaluation entry refused: {r}" for r in first.refused]
        if first.created != len(eval_ids):
            losses.append(f"evaluation import created {first.created} entries for {len(eval_ids)} ids")
        again = await svc.import_lines(entries_lines, actor)
        if again.created or again.updated:
            losses.append(f"a second import changed entries: {again.created} created, {again.updated} updated")
        rnd = random.Random(args.seed)
        fillers = max(0, args.entries - len(eval_ids))
        t0 = time.perf_counter()
        with Progress(TextColumn("fillers"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as p:
            task = p.add_task("fillers", total=fillers)
            report = await svc.import_lines(
                (filler(i, rnd) for i in range(fillers)), actor, lambda n: p.update(task, completed=n)
            )
        import_s = time.perf_counter() - t0
        if report.created != fillers or report.refused:
            losses.append(f"filler import created {report.created} of {fillers} ({len(report.refused)} refused)")
        if engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load in a running engine: planner statistics,
            # and the GIN index's pending list merged (every search scans it until then).
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE kb_entries, kb_search, kb_terms")
        total = await svc.count()
        if total != len(eval_ids) + fillers:
            losses.append(f"index holds {total} entries, expected {len(eval_ids) + fillers}")
        # Warm the page cache and the reader threads, as a running engine would be.
        for q in questions[:20]:
            await svc.search(q["question"])
        found, times, misses = 0, [], []
        with Progress(TextColumn("questions"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as p:
            task = p.add_task("questions", total=len(questions))
            for n, q in enumerate(questions, 1):
                s0 = time.perf_counter()
                res = await svc.search(q["question"], q.get("scope"), "seat", 5)
                times.append((time.perf_counter() - s0) * 1000)
                ids = [h.id for h in res.hits]
                if q["entry"] in ids:
                    found += 1
                else:
                    misses.append({"question": q["question"], "entry": q["entry"], "got": ids[:3]})
                if n % 50 == 0:
                    p.update(task, completed=n)
    finally:
        await svc.close()
        await engine.dispose()
        if not args.keep:
            for f in folder.iterdir():
                f.unlink()
            folder.rmdir()
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] if times else 0.0
    return {
        "entries": total,
        "questions": len(questions),
        "recall_at_5": round(found / len(questions), 4) if questions else 0.0,
        "search_p99_ms": round(p99, 2),
        "search_p50_ms": round(statistics.median(times), 2) if times else 0.0,
        "search_max_ms": round(times[-1], 2) if times else 0.0,
        "database": "sqlite (FTS5, bm25)"
        if engine.dialect.name == "sqlite"
        else f"{engine.dialect.name} (tsvector, kb_terms, BM25 in Python)",
        "import_entries_per_s": round(fillers / import_s) if fillers else None,
        "second_import": {"created": again.created, "updated": again.updated, "unchanged": again.unchanged},
        "misses": misses[:20],
        "load_average": list(os.getloadavg()),
        "machine": machine(),
        **({"run_dir": str(folder)} if args.keep else {}),
        "losses": losses,
    }
