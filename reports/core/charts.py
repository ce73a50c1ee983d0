"""Server-side SVG charts: a page, its PDF and a browser without scripts show the same picture.

Plain strings in, an ``<svg>`` string out; every label is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

FONT = "font-family=\"'WenQuanYi Micro Hei', 'Noto Sans CJK SC', sans-serif\""
COLOR = "#2f6db5"


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def hbar(title: str, items: Sequence[tuple[str, float]], width: int = 560, unit: str = "") -> str:
    """Horizontal bars, one per (label, value), largest scale at the widest bar."""
    row, left, top = 22, 150, 28
    height = top + row * max(1, len(items)) + 10
    peak = max((v for _, v in items), default=0.0) or 1.0
    span = width - left - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT} font-size="12">',
        f'<text x="4" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    if not items:
        parts.append(f'<text x="{left}" y="{top + 14}" fill="#888">无数据</text>')
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = span * value / peak
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(label[:14])}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{_num(w)}" height="{row - 6}" fill="{COLOR}"/>')
        parts.append(f'<text x="{_num(left + w + 4)}" y="{y + 14}">{_num(value)}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def columns(title: str, labels: Sequence[str], values: Sequence[float], width: int = 560, height: int = 200) -> str:
    """Vertical columns (hours of a day, days of a month); every ``step``-th label is written."""
    left, bottom, top = 36, 24, 26
    n = max(1, len(values))
    peak = max(values, default=0.0) or 1.0
    slot = (width - left - 8) / n
    step = max(1, round(n / 12))
    plot = height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT} font-size="11">',
        f'<text x="4" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 4}" y2="{height - bottom}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{_num(peak)}</text>',
    ]
    for i, value in enumerate(values):
        h = plot * value / peak
        x = left + i * slot
        parts.append(
            f'<rect x="{_num(x + 1)}" y="{_num(height - bottom - h)}" width="{_num(max(1.0, slot - 2))}" '
            f'height="{_num(h)}" fill="{COLOR}"><title>{escape(labels[i])}: {_num(value)}</title></rect>'
        )
        if i % step == 0:
            parts.append(
                f'<text x="{_num(x + slot / 2)}" y="{height - 8}" text-anchor="middle">{escape(labels[i])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
