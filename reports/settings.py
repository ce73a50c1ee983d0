"""Report settings: ``[reports]`` in hotline.toml (once the kernel's settings name the section)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotline.settings import Settings, SettingsError
from reports.core.build import ReportOptions
from reports.core.figures import ContactOptions
from reports.core.spikes import SpikeOptions
from workorders.core.kpi import KpiOptions


class ReportSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_REPORTS__", extra="forbid")

    timezone: str = Field(default="Asia/Shanghai", description="used when the work orders do not run")
    daily_at: str = Field(default="01:00", pattern=r"^\d\d:\d\d$", description="local time of the day's reports")
    schedule: bool = Field(default=True, description="generate daily and monthly reports by themselves")
    count_basically_satisfied: bool = True
    # The ACD counts with its own settings; these must be the same values so the report states them.
    short_abandon_s: float = Field(default=0.0, ge=0)
    internet_response_s: float = Field(default=60.0, gt=0)
    top: int = Field(default=10, ge=1, le=100)
    spike_every_s: float = Field(default=60.0, gt=0, description="0 < seconds between spike rounds")
    spike_weeks: int = Field(default=8, ge=1, le=52)
    spike_alpha: float = Field(default=0.01, gt=0, lt=1)
    spike_min_count: int = Field(default=5, ge=1)
    spike_prior: float = Field(default=0.5, ge=0)
    spike_floor: float = Field(default=0.05, gt=0)

    @property
    def tz(self) -> dt.tzinfo:
        return ZoneInfo(self.timezone)

    @property
    def at(self) -> dt.time:
        return dt.time.fromisoformat(self.daily_at)

    def options(self) -> ReportOptions:
        return ReportOptions(
            kpi=KpiOptions(count_basically_satisfied=self.count_basically_satisfied),
            contacts=ContactOptions(
                exclude_abandons_shorter_than_s=self.short_abandon_s, internet_response_s=self.internet_response_s
            ),
            top=self.top,
        )

    def spikes(self) -> SpikeOptions:
        return SpikeOptions(
            weeks=self.spike_weeks,
            alpha=self.spike_alpha,
            min_count=self.spike_min_count,
            prior=self.spike_prior,
            floor=self.spike_floor,
        )


def load_report_settings(settings: Settings | None = None, **overrides: Any) -> ReportSettings:
    data: dict[str, Any] = dict(getattr(settings, "reports", None) or {})
    data.update(overrides)
    try:
        return ReportSettings(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise SettingsError(f"setting reports.{loc} [HOTLINE_REPORTS__{loc.upper()}]: {err['msg']}") from None
