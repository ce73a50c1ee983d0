"""The data quality section of the /reports page: a day's findings by kind, with counts. Every
value from the orders is escaped (titles, reasons and words come from citizens and units)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from reports.core.quality import KIND_LABELS, KINDS


def _evidence(kind: str, ev: dict[str, Any]) -> str:
    if kind == "duplicate":
        return f"工单 {int(ev.get('other_id', 0))}，相似度 {float(ev.get('similarity', 0)):.2f}"
    if kind == "category_mismatch":
        return "建议分类 " + escape(str(ev.get("suggested", ""))) + "；命中词 " + escape("、".join(ev.get("words", [])))
    if kind == "missing_fields":
        return escape("、".join(ev.get("fields", [])))
    return escape(json.dumps(ev, ensure_ascii=False))


def section(run: dict[str, Any] | None) -> str:
    """The section's HTML; ``run`` is ``QualityChecks.stored()``'s answer, or None (no run yet)."""
    head = "<h2>数据质检</h2>"
    if run is None:
        return head + "<p class=quality-none>尚无质检结果（每日定时生成，或通过 POST /api/reports/quality 生成）。</p>"
    date = escape(str(run["date"]))
    counts = run["counts"]
    summary = "".join(
        f'<tr data-kind="{k}"><td>{KIND_LABELS[k]}</td><td class=count>{int(counts.get(k, 0))}</td></tr>' for k in KINDS
    )
    parts = [
        head,
        f"<p>质检日期 <b id=quality-date>{date}</b>，检查工单 {int(run.get('checked', 0))} 件，"
        f'<a href="/api/reports/quality?date={date}">JSON</a></p>',
        f"<table class=quality-summary><tr><th>类别</th><th>件数</th></tr>{summary}</table>",
    ]
    for k in KINDS:
        items = run["findings"].get(k, [])
        if not items:
            continue
        rows = "".join(
            f"<tr><td>{int(f['order_id'])}</td><td>{escape(str(f['reason']))}</td><td>{_evidence(k, f['evidence'])}</td></tr>"
            for f in items[:200]
        )
        more = f"<p>另有 {len(items) - 200} 条，见 JSON。</p>" if len(items) > 200 else ""
        parts.append(
            f'<h3>{KIND_LABELS[k]}（{len(items)}）</h3><table class="quality" data-kind="{k}">'
            f"<tr><th>工单</th><th>原因</th><th>依据</th></tr>{rows}</table>{more}"
        )
    return "".join(parts)
