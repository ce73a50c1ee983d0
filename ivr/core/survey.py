"""The satisfaction survey after the seat hangs up: ask, collect one key, retry, keep the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ivr.core.errors import IllegalEvent
from ivr.core.flow import Survey
from ivr.core.messages import (
    CollectDigits,
    Command,
    DigitsReceived,
    DigitTimeout,
    Event,
    Hangup,
    Play,
    PromptFinished,
    PromptRef,
)

# The satisfaction KPI's codes (workorders.core.model.Satisfaction) for the standard labels; a
# flow may use other labels, which are stored without a code.
SATISFACTION_CODES = {"满意": "satisfied", "基本满意": "basically_satisfied", "不满意": "unsatisfied"}


class SurveyState(StrEnum):
    IDLE = "idle"
    ASKING = "asking"
    CLOSING = "closing"
    ENDED = "ended"


TABLE: dict[SurveyState, dict[type[Any], str]] = {
    SurveyState.IDLE: {Hangup: "_on_hangup"},
    SurveyState.ASKING: {
        PromptFinished: "_ignore",
        DigitsReceived: "_on_digits",
        DigitTimeout: "_on_timeout",
        Hangup: "_on_hangup",
    },
    SurveyState.CLOSING: {PromptFinished: "_on_closed", DigitsReceived: "_ignore", Hangup: "_on_hangup"},
    SurveyState.ENDED: {Hangup: "_ignore"},
}


@dataclass(frozen=True)
class SurveyResult:
    rating: str | None  # e.g. 满意 / 基本满意 / 不满意; None: no valid answer
    digit: str | None
    attempts: int
    note: str = ""  # "", "no_answer" (retries used up) or "hangup"

    @property
    def code(self) -> str | None:
        return SATISFACTION_CODES.get(self.rating or "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "rating": self.rating,
            "code": self.code,
            "digit": self.digit,
            "attempts": self.attempts,
            "note": self.note,
        }


@dataclass
class SurveySession:
    survey: Survey
    state: SurveyState = SurveyState.IDLE
    result: SurveyResult | None = None
    _attempts: int = 0
    _misses: int = 0
    _keys: list[str] = field(default_factory=list)

    def start(self) -> list[Command]:
        if self.state is not SurveyState.IDLE:
            raise IllegalEvent(f"start() in survey state {self.state}")
        self.state = SurveyState.ASKING
        return self._ask(())

    def on_event(self, event: Event) -> list[Command]:
        handler = TABLE[self.state].get(type(event))
        if handler is None:
            raise IllegalEvent(f"{type(event).__name__} in survey state {self.state}")
        out: list[Command] = getattr(self, handler)(event)
        return out

    def _ask(self, before: tuple[str, ...]) -> list[Command]:
        self._attempts += 1
        pieces = tuple(PromptRef(n) for n in before + self.survey.prompt)
        return [Play(pieces, barge_in=True), CollectDigits(1, self.survey.timeout, "")]

    def _ignore(self, event: Event) -> list[Command]:
        return []

    def _on_digits(self, event: Event) -> list[Command]:
        assert isinstance(event, DigitsReceived)
        digit = event.digits[:1]
        rating = dict(self.survey.choices).get(digit)
        if rating is not None:
            self.result = SurveyResult(rating, digit, self._attempts)
            return self._close()
        return self._retry()

    def _on_timeout(self, event: Event) -> list[Command]:
        return self._retry()

    def _retry(self) -> list[Command]:
        self._misses += 1
        if self._misses <= self.survey.retries:
            return self._ask(self.survey.invalid_prompt)
        self.result = SurveyResult(None, None, self._attempts, "no_answer")
        return self._close()

    def _close(self) -> list[Command]:
        self.state = SurveyState.CLOSING
        return [Play(tuple(PromptRef(n) for n in self.survey.thanks_prompt))]

    def _on_closed(self, event: Event) -> list[Command]:
        self.state = SurveyState.ENDED
        return [Hangup()]

    def _on_hangup(self, event: Event) -> list[Command]:
        if self.result is None:
            self.result = SurveyResult(None, None, self._attempts, "hangup")
        self.state = SurveyState.ENDED
        return []
