"""The 督办 lifecycle and the letters' as tables: a (state, action) pair not in the table is an
illegal transition, refused before anything changes; who may act is a second table."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from supervision.core.model import Actor, LetterState, Result, State, Supervision


class IllegalTransition(Exception):
    """The action does not apply in the current state (HTTP 409)."""


class Forbidden(Exception):
    """The actor may not do this to this supervision or letter (HTTP 403)."""


class InvalidInput(ValueError):
    """A missing or wrong field (HTTP 400)."""


# 督办: follow-ups keep it open; a supervisor closes it (销号) with a result or cancels it (撤销).
TRANSITIONS: Mapping[State, Mapping[str, State]] = {
    State.OPEN: {"follow_up": State.OPEN, "close": State.CLOSED, "cancel": State.CANCELLED},
    State.CLOSED: {},
    State.CANCELLED: {},
}
# Who may take each action: "supervisor" = the supervisor and admin roles; "unit" = an account of
# the supervised unit (never another unit's).
MAY: Mapping[str, frozenset[str]] = {
    "follow_up": frozenset({"supervisor", "unit"}),
    "close": frozenset({"supervisor"}),
    "cancel": frozenset({"supervisor"}),
}

LETTER_TRANSITIONS: Mapping[LetterState, Mapping[str, LetterState]] = {
    LetterState.SENT: {"read": LetterState.READ, "acknowledge": LetterState.ACKNOWLEDGED},
    LetterState.READ: {"read": LetterState.READ, "acknowledge": LetterState.ACKNOWLEDGED},
    LetterState.ACKNOWLEDGED: {"read": LetterState.ACKNOWLEDGED, "answer": LetterState.ANSWERED},
    LetterState.ANSWERED: {"read": LetterState.ANSWERED},
}
MAX_TEXT = 4000


def standing(actor: Actor, unit: str) -> str | None:
    """ "supervisor", "unit" (an account of ``unit``) or None (another unit, a seat...)."""
    if actor.supervises:
        return "supervisor"
    if actor.role == "unit" and actor.unit is not None and actor.unit == unit:
        return "unit"
    return None


def may_see(actor: Actor, unit: str) -> bool:
    return standing(actor, unit) is not None


def allowed(sup: Supervision, actor: Actor) -> list[str]:
    who = standing(actor, sup.unit)
    return [a for a in TRANSITIONS[sup.state] if who is not None and who in MAY[a]]


@dataclass(frozen=True)
class Decision:
    supervision: Supervision
    action: str
    from_state: State
    follow_up: str = ""  # the follow-up's text, for the adapter to store


def decide(sup: Supervision, action: str, actor: Actor, now: dt.datetime, data: Mapping[str, object]) -> Decision:
    """The supervision after ``action`` by ``actor``; raises before anything changes."""
    who = standing(actor, sup.unit)
    if action not in MAY:
        raise InvalidInput(f"未知操作 {action}")
    if who is None or who not in MAY[action]:
        raise Forbidden(f"无权对督办 {sup.id} 执行 {action}")
    target = TRANSITIONS[sup.state].get(action)
    if target is None:
        raise IllegalTransition(f"督办 {sup.id} 状态为 {sup.state.value}，不能 {action}")
    if action == "follow_up":
        text = text_field(data, "text", required=True)
        return Decision(dataclasses.replace(sup, version=sup.version + 1), action, sup.state, text)
    if action == "close":
        try:
            result = Result(str(data.get("result", "")))
        except ValueError:
            raise InvalidInput("result 须为 resolved（办结）或 unresolved（未办结）") from None
        reason = text_field(data, "reason", required=result is Result.UNRESOLVED)
        new = dataclasses.replace(
            sup,
            state=target,
            version=sup.version + 1,
            closed_at=now,
            closed_by=actor.username,
            result=result,
            reason=reason,
        )
        return Decision(new, action, sup.state)
    reason = text_field(data, "reason", required=True)
    new = dataclasses.replace(
        sup, state=target, version=sup.version + 1, closed_at=now, closed_by=actor.username, reason=reason
    )
    return Decision(new, action, sup.state)


def letter_step(state: LetterState, action: str, actor: Actor, unit: str) -> LetterState:
    """A letter is read, acknowledged (签收) and answered (反馈) only by an account of its addressee
    unit; it is answered after it was acknowledged."""
    if actor.role != "unit" or actor.unit != unit:
        raise Forbidden("只有收函单位可以阅读、签收和反馈提醒函")
    target = LETTER_TRANSITIONS[state].get(action)
    if target is None:
        raise IllegalTransition(f"提醒函状态为 {state.value}，不能 {action}")
    return target


def text_field(data: Mapping[str, object], key: str, required: bool) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise InvalidInput(f"{key} 须为文本")
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{key} 不能为空")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{key} 不能超过 {MAX_TEXT} 字")
    return value
