"""Work-order settings: every limit of the seed is here with the seed's value as default.

Read from environment variables ``HOTLINE_WORKORDERS__<NAME>`` (e.g.
``HOTLINE_WORKORDERS__SIGN_WORKING_HOURS=1.5``) and, once the engine's settings carry a
``workorders`` table, from ``[workorders]`` in hotline.toml.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotline.settings import Settings, SettingsError
from workorders.core.calendar import WorkingHours
from workorders.core.deadlines import Limits, OrderType, SourceLevel


class WorkOrderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_WORKORDERS__", extra="forbid")

    timezone: str = "Asia/Shanghai"
    working_hours: str = Field(default="08:30-12:00,13:30-17:30", description="working periods of a working day")
    sign_working_hours: float = Field(default=2.0, gt=0)
    return_working_days: float = Field(default=1.0, gt=0)
    reply_working_days: dict[OrderType, float] = {
        OrderType.CONSULT: 1.0,
        OrderType.HELP: 5.0,
        OrderType.SUGGESTION: 5.0,
        OrderType.COMPLAINT: 5.0,
        OrderType.REPORT: 5.0,
    }
    extension_notice_working_days: float = Field(default=1.0, ge=0)
    extension_max_total_working_days: float = Field(default=10.0, gt=0)
    consult_extendable: bool = False
    extension_attachment_levels: list[SourceLevel] = [SourceLevel.PROVINCIAL, SourceLevel.NANTONG]
    special_feedback_clock_hours: float = Field(default=4.0, gt=0)
    special_progress_working_days: float = Field(default=3.0, gt=0)
    special_urgent_feedback_clock_hours: float = Field(default=2.0, gt=0)
    special_urgent_progress_working_days: float = Field(default=2.0, gt=0)
    warning_share: float = Field(default=0.25, ge=0, lt=1)
    tier1_onsite_clock_minutes: float = Field(default=30.0, gt=0)
    # Override table on top of the package and the loaded years (from a State Council notice).
    extra_holidays: list[dt.date] = []
    extra_workdays: list[dt.date] = []
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    attachment_types: list[str] = [
        "application/pdf",
        "image/jpeg",
        "image/png",
        "audio/mpeg",
        "audio/wav",
        "text/plain",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ]
    repeat_window_days: int = Field(default=7, ge=1)

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        WorkingHours.parse(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use e.g. Asia/Shanghai") from None
        return value

    @property
    def tz(self) -> dt.tzinfo:
        return ZoneInfo(self.timezone)

    @property
    def hours(self) -> WorkingHours:
        return WorkingHours.parse(self.working_hours)

    def limits(self) -> Limits:
        extendable = {t for t in OrderType if t is not OrderType.CONSULT or self.consult_extendable}
        return Limits(
            sign_working_hours=self.sign_working_hours,
            return_working_days=self.return_working_days,
            reply_working_days={**Limits().reply_working_days, **self.reply_working_days},
            extension_notice_working_days=self.extension_notice_working_days,
            extension_max_total_working_days=self.extension_max_total_working_days,
            extendable_types=frozenset(extendable),
            extension_attachment_levels=frozenset(self.extension_attachment_levels),
            special_feedback_clock_hours=self.special_feedback_clock_hours,
            special_progress_working_days=self.special_progress_working_days,
            special_urgent_feedback_clock_hours=self.special_urgent_feedback_clock_hours,
            special_urgent_progress_working_days=self.special_urgent_progress_working_days,
            warning_share=self.warning_share,
            tier1_onsite_clock_minutes=self.tier1_onsite_clock_minutes,
        )


def load_workorder_settings(settings: Settings | None = None, **overrides: Any) -> WorkOrderSettings:
    data: dict[str, Any] = dict(getattr(settings, "workorders", None) or {})
    data.update(overrides)
    try:
        return WorkOrderSettings(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise SettingsError(f"setting workorders.{loc} [HOTLINE_WORKORDERS__{loc.upper()}]: {err['msg']}") from None
