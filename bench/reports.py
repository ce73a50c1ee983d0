"""Reports on a year of a city of a million people: daily and monthly report times, spike rounds.

Generates ``--orders`` (300,000) orders over ``--days`` (365) into a fresh SQLite database (or a
PostgreSQL one named by ``--db-url``, which must be empty), with their lifecycle (dispatch,
reply on time or late, callbacks with satisfaction) and the ACD's interval figures of every
15 minutes, then makes the last day's daily report and the last month's unit report as the
schedule would, and times the spike watch's round (it runs once a minute). Counts are checked:
the day's and the month's new orders must be exactly those generated (a loss fails the bench).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import func, insert, select

from hotline.commands.bench import machine

TZ = ZoneInfo("Asia/Shanghai")
AREAS = [
    "如城街道", "城北街道", "城南街道", "东陈镇", "丁堰镇", "白蒲镇", "江安镇", "搬经镇",
    "长江镇", "石庄镇", "吴窑镇", "九华镇", "磨头镇", "下原镇", "林梓镇",
]  # fmt: skip
ROADS = ["海阳路", "福寿路", "益寿路", "宁海路", "解放路", "中山路", "文峰路", "人民路"]
# category → (unit, titles)
CATEGORIES: dict[str, tuple[str, list[str]]] = {
    "城建/供水": ("water", ["{road}停水", "自来水水压低", "{road}水管爆裂", "水费异常"]),
    "城建/物业": ("housing", ["物业不作为", "电梯故障无人维修", "小区停车收费", "物业费上涨"]),
    "城建/燃气": ("gas", ["燃气价格咨询", "燃气管道漏气", "开通燃气"]),
    "城管/占道": ("cityadmin", ["{road}占道经营", "夜市噪音扰民", "店外堆放杂物"]),
    "城管/路灯": ("cityadmin", ["{road}路灯不亮", "路灯损坏"]),
    "交通/公交": ("transport", ["公交车不按站停靠", "公交线路调整", "公交司机态度差"]),
    "交通/道路": ("transport", ["{road}道路破损", "{road}窨井盖缺失", "红绿灯故障"]),
    "环保/噪声": ("env", ["工地夜间施工噪音", "广场舞噪音扰民", "{road}商铺噪音"]),
    "环保/大气": ("env", ["工厂排放异味", "焚烧秸秆", "扬尘污染"]),
    "社保/医保": ("hrss", ["医保异地备案", "医保报销比例", "灵活就业参保"]),
    "社保/就业": ("hrss", ["拖欠工资", "失业金申领", "劳动合同纠纷"]),
    "教育/入学": ("edu", ["学区划分咨询", "新生入学报名", "校车安全"]),
    "市场/消费": ("market", ["预付卡退费", "商品质量问题", "价格欺诈"]),
    "市场/食品": ("market", ["食品过期", "餐馆卫生差", "外卖食品安全"]),
    "卫健/医疗": ("health", ["医院排队时间长", "疫苗接种咨询", "医疗费用咨询"]),
    "公安/户籍": ("police", ["户口迁移咨询", "身份证办理", "居住证办理"]),
    "住房/公积金": ("gjj", ["公积金提取", "公积金贷款额度"]),
    "民政/救助": ("civil", ["低保申请", "高龄津贴", "残疾人补贴"]),
    "电力/停电": ("power", ["{road}停电", "电压不稳", "电费异常"]),
    "通信/网络": ("telecom", ["宽带故障", "手机信号差", "话费争议"]),
}
UNITS = sorted({u for u, _ in CATEGORIES.values()} | {f"town{i:02d}" for i in range(20)})
CHANNELS = [("voice", 0.7), ("webchat", 0.12), ("wechat", 0.13), ("api", 0.05)]
HOURS = [
    0.3,
    0.2,
    0.15,
    0.15,
    0.2,
    0.4,
    1.0,
    2.5,
    7.0,
    9.0,
    9.0,
    7.5,
    4.5,
    5.5,
    7.5,
    7.5,
    7.0,
    6.0,
    4.5,
    3.5,
    3.0,
    2.5,
    1.5,
    0.8,
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=int, default=300_000, help="orders over the whole period")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--end", default="2026-12-01", help="the day after the last generated day")
    parser.add_argument("--db-url", default="", help="an empty database (default: a fresh SQLite file)")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--spike-rounds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the SQLite database (its folder is printed)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))


def _pick(rnd: random.Random, weighted: list[tuple[str, float]]) -> str:
    x, acc = rnd.random() * sum(w for _, w in weighted), 0.0
    for name, w in weighted:
        acc += w
        if x < acc:
            return name
    return weighted[-1][0]


def generate(n: int, first: dt.date, days: int, seed: int) -> list[dict[str, Any]]:
    """``n`` orders spread over the days by a weekday/hour profile, each a row of ``wo_orders``."""
    from workorders.core.deadlines import Urgency
    from workorders.core.model import Assignment, Callback, Order, Satisfaction, State, order_to_dict

    rnd = random.Random(seed)
    cats = list(CATEGORIES)
    cat_w = [(c, 1.0 / (1 + i) ** 0.6) for i, c in enumerate(cats)]
    day_w = [(0.6 if (first + dt.timedelta(days=d)).weekday() >= 5 else 1.0) for d in range(days)]
    total_w = sum(day_w)
    hour_w = [(str(h), w) for h, w in enumerate(HOURS)]
    rows = []
    oid = 0
    for d in range(days):
        day = first + dt.timedelta(days=d)
        count = round(n * sum(day_w[: d + 1]) / total_w) - oid  # exactly n over the period
        for _ in range(count):
            oid += 1
            hour = int(_pick(rnd, hour_w))
            local = dt.datetime.combine(day, dt.time(hour, rnd.randrange(60), rnd.randrange(60)), tzinfo=TZ)
            created = local.astimezone(dt.UTC)
            cat = _pick(rnd, cat_w)
            unit, titles = CATEGORIES[cat]
            area = rnd.choice(AREAS)
            if rnd.random() < 0.3:  # towns handle part of every matter
                unit = f"town{AREAS.index(area):02d}"
            title = rnd.choice(titles).format(road=rnd.choice(ROADS))
            urgency = Urgency.SPECIAL if rnd.random() < 0.004 else Urgency.GENERAL
            if rnd.random() < 0.25:  # answered at once (即时办结)
                order = Order(oid, created, State.ANSWERED, category=cat, urgency=urgency, closed_at=created)
            else:
                disp = created + dt.timedelta(minutes=rnd.randrange(5, 90))
                reply_by = disp + dt.timedelta(days=5)
                replied = disp + dt.timedelta(hours=rnd.uniform(4, 130 if rnd.random() < 0.97 else 200))
                a = Assignment(
                    unit=unit,
                    dispatched_at=disp,
                    sign_by=disp + dt.timedelta(hours=2),
                    return_by=disp + dt.timedelta(days=1),
                    reply_by=reply_by,
                    signed_at=disp + dt.timedelta(minutes=rnd.randrange(5, 150)),
                    replied_at=replied,
                )
                closed = replied + dt.timedelta(hours=rnd.uniform(2, 48))
                sat = _pick(rnd, [("satisfied", 0.85), ("basically_satisfied", 0.1), ("unsatisfied", 0.05)])
                cb = Callback(
                    closed - dt.timedelta(hours=1), rnd.random() < 0.9, Satisfaction(sat), sat != "unsatisfied"
                )
                order = Order(
                    oid,
                    created,
                    State.CLOSED,
                    category=cat,
                    urgency=urgency,
                    lead_unit=unit,
                    assignments=(a,),
                    reply_approved_at=closed - dt.timedelta(hours=2),
                    callback=cb,
                    closed_at=closed,
                )
            rows.append(
                {
                    "id": oid,
                    "version": 1,
                    "state": order.state.value,
                    "urgency": urgency.value,
                    "category": cat,
                    "lead_unit": order.lead_unit,
                    "co_units": "",
                    "title": title,
                    "content": title,
                    "citizen_name": "",
                    "citizen_phone": f"1390000{rnd.randrange(10000):04d}",
                    "address": f"{area}{rnd.choice(ROADS)}{rnd.randrange(1, 300)}号",
                    "channel": _pick(rnd, CHANNELS),
                    "confidential": False,
                    "created_by": "bench",
                    "created_at": created,
                    "updated_at": created,
                    "dispatched_at": order.assignments[0].dispatched_at if order.assignments else None,
                    "reply_by": order.assignments[0].reply_by if order.assignments else None,
                    "closed_at": order.closed_at,
                    "provisional": False,
                    "core": order_to_dict(order),
                }
            )
    return rows


def figures(first: dt.date, days: int, seed: int) -> list[dict[str, Any]]:
    """The ACD's interval figures of every 15 minutes: voice, web chat and WeChat."""
    rnd = random.Random(seed + 1)
    start = dt.datetime.combine(first, dt.time(0), tzinfo=TZ)
    out = []
    for b in range(days * 96):
        t = start + dt.timedelta(minutes=15 * b)
        base = 1100 * HOURS[t.hour] / sum(HOURS) / 4
        for channel, share in (("voice", 0.8), ("webchat", 0.1), ("wechat", 0.1)):
            offered = int(base * share * rnd.uniform(0.7, 1.3))
            answered = int(offered * rnd.uniform(0.9, 1.0))
            row: dict[str, float] = {"offered": offered, "answered": answered, "abandoned": offered - answered}
            if channel == "voice":
                row["answered_within"] = int(answered * rnd.uniform(0.9, 1.0))
            else:
                row["replied"] = answered
                row["replied_within"] = int(answered * rnd.uniform(0.9, 1.0))
            out.append(
                {
                    "interval_start": int(t.timestamp()),
                    "kind": "contacts",
                    "queue": "general",
                    "channel": channel,
                    "figures": row,
                    "updated_at": t.astimezone(dt.UTC),
                }
            )
    return out


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    from hotline.migrate import upgrade
    from hotline.storage import IntervalFigures, make_engine, make_sessionmaker
    from reports.services import ReportService
    from reports.settings import ReportSettings
    from workorders.models import WoOrder, WoUnit

    console = Console(stderr=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    url = args.db_url or f"sqlite+aiosqlite:///{folder / 'hotline.db'}"
    end_day = dt.date.fromisoformat(args.end)
    first = end_day - dt.timedelta(days=args.days)
    losses: list[str] = []
    await upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        t0 = time.perf_counter()
        rows = generate(args.orders, first, args.days, args.seed)
        figs = figures(first, args.days, args.seed)
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
        ) as p:
            task = p.add_task("orders", total=len(rows) + len(figs))
            async with sessions() as s, s.begin():
                await s.execute(insert(WoUnit), [{"code": u, "name": u, "tier": 1, "active": True} for u in UNITS])
            for table, batch_rows in ((WoOrder, rows), (IntervalFigures, figs)):
                for i in range(0, len(batch_rows), 5000):
                    batch = batch_rows[i : i + 5000]
                    async with sessions() as s, s.begin():
                        await s.execute(insert(table), batch)
                    p.update(task, advance=len(batch))
        load_s = time.perf_counter() - t0
        async with sessions() as s:
            stored = (await s.execute(select(func.count()).select_from(WoOrder))).scalar_one()
        if stored != len(rows):
            losses.append(f"orders stored {stored} of {len(rows)}")

        last_day = end_day - dt.timedelta(days=1)
        month_start = last_day.replace(day=1)
        as_of = dt.datetime.combine(end_day, dt.time(2, 0), tzinfo=TZ)
        svc = ReportService(sessions, ReportSettings(schedule=False), tz=lambda: TZ, clock=lambda: as_of)

        from reports.phrases import phrases

        phrases("预热")  # jieba's dictionary (≈ 0.6 s) loads once per process, not per report

        def local_day(r: dict[str, Any]) -> dt.date:
            return r["created_at"].astimezone(TZ).date()

        t0 = time.perf_counter()
        daily = await svc.daily(last_day, replace=True)
        daily_s = time.perf_counter() - t0
        want_day = sum(1 for r in rows if local_day(r) == last_day)
        if daily["orders"]["new"] != want_day:
            losses.append(f"daily report counts {daily['orders']['new']} new orders of {want_day}")
        t0 = time.perf_counter()
        monthly = await svc.monthly(month_start.year, month_start.month, replace=True)
        monthly_s = time.perf_counter() - t0
        want_month = sum(1 for r in rows if month_start <= local_day(r) <= last_day)
        if monthly["orders"]["new"] != want_month:
            losses.append(f"monthly report counts {monthly['orders']['new']} new orders of {want_month}")
        by_units = sum(u["orders"] for u in monthly["units"])
        want_units = sum(1 for r in rows if month_start <= local_day(r) <= last_day and r["lead_unit"])
        if by_units != want_units:
            losses.append(f"monthly report's units hold {by_units} orders of {want_units}")

        # The spike watch at the busiest time of the last working day: one round a minute.
        busy = dt.datetime.combine(last_day, dt.time(9, 7), tzinfo=TZ)
        while busy.weekday() >= 5:
            busy -= dt.timedelta(days=1)
        times = []
        for i in range(args.spike_rounds):
            t0 = time.perf_counter()
            await svc.spike_round(busy + dt.timedelta(minutes=i % 8))
            times.append(time.perf_counter() - t0)
        spike_ms = 1000 * sorted(times)[len(times) // 2] if times else 0.0
    finally:
        await engine.dispose()
        if not args.keep and not args.db_url:
            for f in folder.iterdir():
                f.unlink()
            folder.rmdir()
    return {
        "orders": len(rows),
        "daily_s": round(daily_s, 3),
        "monthly_s": round(monthly_s, 3),
        "spike_detect_ms_per_min": round(spike_ms, 2),
        "day": last_day.isoformat(),
        "day_orders": want_day,
        "month_orders": want_month,
        "interval_rows": len(figs),
        "units": len(monthly["units"]),
        "generate_s": round(gen_s, 1),
        "load_s": round(load_s, 1),
        "database": engine.dialect.name,
        "load_average": list(os.getloadavg()),
        "machine": machine(),
        **({"run_dir": str(folder)} if args.keep and not args.db_url else {}),
        "losses": losses,
    }
