"""Chinese speech of numbers, times, positions and durations, and how to play it.

Spoken text is made of a small alphabet (零…九, 十百千万亿, 幺, 两, 点, 分, 秒, 整, 小时, 分钟, 负),
so any number can be played from pre-generated pieces (``pieces_for``) or handed to a
speech synthesizer as text (``tts_text``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from ivr.core.messages import Piece, PromptRef, Say

DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿", "万亿")

# piece prompt name -> its text; the prompt generator makes one file per entry
PIECE_TEXTS: dict[str, str] = {f"num_{i}": DIGITS[i] for i in range(10)}
PIECE_TEXTS.update(
    {
        "num_yao": "幺",
        "num_liang": "两",
        "num_10": "十",
        "num_100": "百",
        "num_1000": "千",
        "num_10000": "万",
        "num_1e8": "亿",
        "word_dian": "点",
        "word_fen": "分",
        "word_miao": "秒",
        "word_zheng": "整",
        "word_hours": "小时",
        "word_minutes": "分钟",
        "word_negative": "负",
    }
)
_TOKENS = sorted(((text, name) for name, text in PIECE_TEXTS.items()), key=lambda p: -len(p[0]))


def _four(n: int) -> str:
    """0 < n < 10000, with inner zeros read once (1005 -> 一千零五)."""
    out: list[str] = []
    zero = False
    for power in (3, 2, 1, 0):
        d = n // 10**power % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(DIGITS[d] + _SMALL_UNITS[power])
    return "".join(out)


def cardinal(n: int) -> str:
    """1234 -> 一千二百三十四, 15 -> 十五, 0 -> 零, 100010 -> 十万零一十."""
    if n < 0:
        return "负" + cardinal(-n)
    if n == 0:
        return "零"
    if n >= 10**16:
        raise ValueError(f"number too large to read: {n}")
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out: list[str] = []
    need_zero = False
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or g < 1000):
            out.append("零")
        out.append(_four(g) + _BIG_UNITS[i])
        need_zero = False
    text = "".join(out)
    # 10-19 are read 十X, not 一十X, when they lead the number
    return text[1:] if text.startswith("一十") else text


def count(n: int) -> str:
    """A quantity before a measure word: 2 -> 两 (两位, 两分钟), 2000 -> 两千."""
    text = cardinal(n)
    if text == "二":
        return "两"
    if len(text) > 1 and text[0] == "二" and text[1] in "千万亿":
        return "两" + text[1:]
    return text


def digit_string(number: str, *, yao: bool = True) -> str:
    """Read a number digit by digit as on the phone: 12345 -> 幺二三四五 (or 一二三四五)."""
    if not number.isdigit() or not number.isascii():
        raise ValueError(f"not a digit string: {number!r}")
    return "".join("幺" if ch == "1" and yao else DIGITS[int(ch)] for ch in number)


def clock(t: dt.time) -> str:
    """08:30 -> 八点三十分, 08:00 -> 八点整, 08:05 -> 八点零五分, 02:00 -> 两点整."""
    hour = count(t.hour)
    if t.minute == 0:
        return f"{hour}点整"
    minute = cardinal(t.minute)
    if t.minute < 10:
        minute = "零" + minute
    return f"{hour}点{minute}分"


def duration(seconds: int) -> str:
    """125 -> 两分钟五秒, 3600 -> 一小时, 3900 -> 一小时五分钟, 0 -> 零秒."""
    if seconds < 0:
        raise ValueError(f"negative duration: {seconds}")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(count(hours) + "小时")
    if minutes:
        parts.append(count(minutes) + "分钟")
    if secs or not parts:
        parts.append(count(secs) + "秒")
    return "".join(parts)


def position(ahead: int) -> tuple[Piece, ...]:
    """您前面还有3位 (callers ahead in the queue)."""
    if ahead <= 0:
        return (PromptRef("position_next"),)
    return (PromptRef("position_before"), Say(count(ahead)), PromptRef("position_after"))


def expected_wait(seconds: float) -> tuple[Piece, ...]:
    """预计等待约2分钟: whole minutes rounded up, hours beyond 60 minutes."""
    if seconds < 60:
        return (PromptRef("wait_under_minute"),)
    minutes = int(-(-seconds // 60))
    spoken = count(minutes) + "分钟" if minutes < 60 else duration(minutes * 60)
    return (PromptRef("wait_before"), Say(spoken))


def position_text(ahead: int) -> str:
    """The same announcement as a page shows it: 您前面还有3位."""
    return "您前面还有0位" if ahead <= 0 else f"您前面还有{ahead}位"


def wait_text(seconds: float) -> str:
    if seconds < 60:
        return "预计等待不到1分钟"
    return f"预计等待约{int(-(-seconds // 60))}分钟"


def pieces_for(text: str) -> list[str]:
    """Spoken text -> the piece prompts that say it; ValueError names a character with no piece."""
    out: list[str] = []
    i = 0
    while i < len(text):
        for token, name in _TOKENS:
            if text.startswith(token, i):
                out.append(name)
                i += len(token)
                break
        else:
            raise ValueError(f"no prompt piece for {text[i]!r} in {text!r}")
    return out


def prompt_files(pieces: Iterable[Piece]) -> list[str]:
    """A Play's pieces as the sequence of prompt names to play one after the other."""
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, PromptRef):
            out.append(piece.name)
        else:
            out.extend(pieces_for(piece.text))
    return out


def tts_text(pieces: Iterable[Piece], catalog: Mapping[str, str]) -> str:
    """A Play's pieces as one Chinese text for a speech synthesizer."""
    return "".join(catalog[p.name] if isinstance(p, PromptRef) else p.text for p in pieces)
