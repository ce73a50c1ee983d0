"""Supervision settings: ``supervision`` in the settings or ``HOTLINE_SUPERVISION__<NAME>``."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotline.settings import Settings, SettingsError


class SupervisionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_SUPERVISION__", extra="forbid")

    hotline_name: str = Field(default="如皋市12345政务服务便民热线", min_length=1, max_length=60)
    letter_prefix: str = Field(
        default="如皋12345提", pattern=r"^[^\s〔〕]{1,30}$", description="before 〔year〕; no spaces or brackets"
    )
    letter_working_days: float = Field(default=3.0, gt=0, le=60, description="a letter's default deadline")
    letters_cap: int = Field(default=50, ge=1, le=10000, description="a rule run above this needs a confirmation")
    returned_times: int = Field(default=2, ge=1, le=20, description="rule: returned at least this many times")
    unsatisfied_at_least: int = Field(default=3, ge=1, le=1000, description="rule: 不满意 callbacks per unit")


def load_supervision_settings(settings: Settings | None = None, **overrides: Any) -> SupervisionSettings:
    data: dict[str, Any] = dict(getattr(settings, "supervision", None) or {})
    data.update(overrides)
    try:
        return SupervisionSettings(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise SettingsError(f"setting supervision.{loc} [HOTLINE_SUPERVISION__{loc.upper()}]: {err['msg']}") from None
