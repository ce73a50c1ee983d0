"""提醒函 in the official letter format: its number, and its page as HTML (the PDF is printed from
the same HTML). Pure string work; every text from users is escaped."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

# 如皋12345提〔2026〕第7号: the issuer's prefix, the year in 六角括号, a sequence per year from 1.
NUMBER_FORMAT = "{prefix}〔{year}〕第{seq}号"
NUMBER_RE = re.compile(r"(?P<prefix>[^\s〔〕]+)〔(?P<year>\d{4})〕第(?P<seq>[1-9]\d*)号")
PREFIX_RE = re.compile(r"[^\s〔〕]{1,30}")  # no spaces or brackets: a number must read back
FONT = "WenQuanYi Micro Hei"


def letter_number(prefix: str, year: int, seq: int) -> str:
    if not PREFIX_RE.fullmatch(prefix) or seq < 1 or not 1900 <= year <= 9999:
        raise ValueError(f"bad letter number parts: {prefix!r} {year} {seq}")
    return NUMBER_FORMAT.format(prefix=prefix, year=year, seq=seq)


def parse_number(number: str) -> tuple[str, int, int]:
    m = NUMBER_RE.fullmatch(number)
    if m is None:
        raise ValueError(f"not a letter number: {number!r}")
    return m["prefix"], int(m["year"]), int(m["seq"])


def chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class LetterPage:
    number: str
    unit_name: str  # the addressee (主送单位)
    facts: str  # 事实: what happened, with the orders' numbers
    request: str  # 要求: what the unit must do
    deadline: dt.date  # 请于…前办结并反馈
    issued_on: dt.date
    hotline_name: str  # the signature, e.g. 如皋市12345政务服务便民热线


CSS = f"""@page {{ size: A4; margin: 37mm 26mm 35mm 28mm; }}
body {{ font-family: '{FONT}', sans-serif; font-size: 16pt; line-height: 1.8; color: #000; }}
h1 {{ font-size: 22pt; text-align: center; color: #c00; letter-spacing: 0.3em; margin: 0 0 0.2em; }}
.number {{ text-align: center; margin: 0 0 0.3em; }}
hr {{ border: 0; border-top: 2px solid #c00; margin: 0 0 1.2em; }}
.to {{ margin: 0; }}
p.body {{ text-indent: 2em; margin: 0; white-space: pre-wrap; }}
.sign {{ text-align: right; margin-top: 2.5em; }}"""


def letter_html(page: LetterPage) -> str:
    e = html.escape
    deadline = chinese_date(page.deadline)
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>{e(page.number)}</title><style>{CSS}</style></head><body>
<h1>提醒函</h1>
<p class="number">{e(page.number)}</p>
<hr>
<p class="to">{e(page.unit_name)}：</p>
<p class="body">{e(page.facts)}</p>
<p class="body">{e(page.request)}请于{deadline}前办理完毕，并将办理情况反馈至12345热线。</p>
<p class="sign">{e(page.hotline_name)}<br>{chinese_date(page.issued_on)}</p>
</body></html>"""
