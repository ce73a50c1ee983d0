"""Which numbers a seat may reach through the outbound trunk (toll-fraud guard).

One list of Asterisk extension patterns serves both sides: the dialplan renders it into
``[from-seats]`` (a seat's phone dialling) and call control checks transfers, three-party calls
and cloud seats' numbers against it before anything is originated. Anything else is refused.

Defaults for a city hotline in mainland China: the emergency and linkage numbers, local 8-digit
fixed lines, and mobile numbers by their real prefixes (so 16800000000, an
information-service number, is not a mobile). International (00…), long distance and premium
numbers are not reachable unless a pattern for them is added (e.g. the city's units elsewhere).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MOBILE = (
    "_13XXXXXXXXX",
    "_14[5-9]XXXXXXXX",
    "_15[0-35-9]XXXXXXXX",
    "_16[2567]XXXXXXXX",
    "_17[0-8]XXXXXXXX",
    "_18XXXXXXXXX",
    "_19[0-35-9]XXXXXXXX",
)
LOCAL = ("_[2-8]XXXXXXX",)
SERVICE = ("110", "119", "120", "122")
DEFAULT_PATTERNS = (*SERVICE, *LOCAL, *MOBILE)
_PATTERN = re.compile(r"^(?:[0-9*#]+|_(?:[0-9XZN]|\[(?:[0-9](?:-[0-9])?)+\])+)$")


def _regex(pattern: str) -> str:
    """An Asterisk extension pattern as a regular expression (digits only: no '.' or '!')."""
    if not pattern.startswith("_"):
        return re.escape(pattern)
    out, i = [], 1
    while i < len(pattern):
        ch = pattern[i]
        if ch == "X":
            out.append("[0-9]")
        elif ch == "Z":
            out.append("[1-9]")
        elif ch == "N":
            out.append("[2-9]")
        elif ch == "[":
            end = pattern.index("]", i)
            out.append("[" + pattern[i + 1 : end] + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class DialPolicy:
    patterns: tuple[str, ...] = DEFAULT_PATTERNS

    def __post_init__(self) -> None:
        for p in self.patterns:
            if not _PATTERN.match(p):
                raise ValueError(
                    f"dial pattern {p!r}: digits, or _ followed by digits, X, Z, N and [..] classes "
                    "(no '.' or '!': an open-ended pattern would let any number through)"
                )
        object.__setattr__(self, "_compiled", re.compile("^(?:" + "|".join(_regex(p) for p in self.patterns) + ")$"))

    def allows(self, number: str) -> bool:
        return bool(self._compiled.match(number))  # type: ignore[attr-defined]


def policy(extra: Iterable[str] = ()) -> DialPolicy:
    """The default patterns plus a deployment's own (settings ``asterisk.dial_allow``), each once."""
    return DialPolicy(tuple(dict.fromkeys((*DEFAULT_PATTERNS, *extra))))


def render_dialplan(policy: DialPolicy, context_note: str = "") -> str:
    """The ``[from-seats]`` rules that dial out: one per allowed pattern, the number filtered to
    digits before it reaches Dial() (nothing like ``&Local/...`` can ride along)."""
    lines = [
        "; Written by the engine from the allowed patterns (hotline/dialing.py, setting",
        "; asterisk.dial_allow): a seat dials out only to these. Do not edit by hand." + context_note,
    ]
    for pattern in policy.patterns:
        lines.append(f"exten => {pattern},1,Dial(PJSIP/${{FILTER(0-9,${{EXTEN}})}}@trunk-out,60)")
        lines.append(" same => n,Hangup()")
    return "\n".join(lines) + "\n"
