"""Work-order settings: every limit of the seed is here with the seed's value as default.

Read from environment variables ``HOTLINE_WORKORDERS__<NAME>`` (e.g.
``HOTLINE_WORKORDERS__SIGN_WORKING_HOURS=1.5``) and, once the engine's settings carry a
``workorders`` table, from ``[workorders]`` in hotline.toml.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotline import outbox
from hotline.auth import UNIT_RE
from hotline.settings import Settings, SettingsError
from workorders.core.calendar import WorkingHours
from workorders.core.deadlines import Limits, OrderType, SourceLevel, Urgency
from workorders.core.warnings import DeadlineKind

SENDERS = ("sms", "wechat")


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
    # 答复须经分管领导审核: replies of supervised orders always wait for the lead unit's leader;
    # so do those of these urgencies (major orders) and every reply of these units.
    approval_urgencies: list[Urgency] = [Urgency.SPECIAL, Urgency.SPECIAL_URGENT]
    approval_units: list[str] = []
    # Deadline warnings and escalations (workorders/core/warnings.py, workorders/notices.py). The
    # lead of a warning is warning_share of the limit, at least warning_min_lead_minutes.
    warning_min_lead_minutes: float = Field(default=30.0, ge=0)
    respond_clock_hours: float = Field(default=2.0, gt=0, description="tier-1/2 units sign within these clock hours")
    alert_deadlines: list[DeadlineKind] = Field(
        default=list(DeadlineKind), description="deadlines warned and escalated: sign, respond, return, extension, ..."
    )
    alerts_per_round: int = Field(default=200, ge=1, description="at most this many alerts per watch round")
    notice_max_tries: int = Field(default=8, ge=1, le=outbox.MAX_TRIES)
    sms_url: str = ""
    sms_app_key: str = ""
    sms_app_secret: str = ""
    sms_sign_name: str = "【12345热线】"
    sms_template_id: str = ""
    # Phones per unit code, and under "supervisors" the supervisors' phones.
    sms_phones: dict[str, list[str]] = {}
    wechat_url: str = "https://api.weixin.qq.com"
    wechat_appid: str = ""
    wechat_secret: str = ""
    wechat_template_id: str = ""
    # Openids (of the official account's followers) per unit code and under "supervisors".
    wechat_openids: dict[str, list[str]] = {}
    # Which outside senders are on besides the in-app notices: "sms", "wechat". Checked last (needs the rest).
    notice_senders: list[str] = []

    @field_validator("notice_senders")
    @classmethod
    def _senders(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for name in value:
            if name not in SENDERS:
                raise ValueError(
                    f"unknown sender {name!r}; senders: {', '.join(SENDERS)} (in-app notices are always on)"
                )
        if "sms" in value:
            d = info.data
            missing = [k for k in ("sms_url", "sms_app_key", "sms_app_secret", "sms_template_id") if not d.get(k)]
            if missing:
                raise ValueError(f"the SMS sender needs {', '.join(missing)}")
            if not str(d["sms_url"]).startswith(("http://", "https://")):
                raise ValueError(f"sms_url {d['sms_url']!r} is not an http(s) URL")
            if not re.fullmatch(r"【[^【】]{2,12}】", str(d.get("sms_sign_name", ""))):
                raise ValueError("sms_sign_name must be the registered signature in 【】, 2 to 12 characters")
            for who, phones in (d.get("sms_phones") or {}).items():
                bad = [p for p in phones if not re.fullmatch(r"1[3-9]\d{9}", p)]
                if bad:
                    raise ValueError(f"sms_phones.{who}: {', '.join(bad)} is not a mainland mobile number")
        if "wechat" in value:
            d = info.data
            missing = [k for k in ("wechat_url", "wechat_appid", "wechat_secret", "wechat_template_id") if not d.get(k)]
            if missing:
                raise ValueError(f"the WeChat sender needs {', '.join(missing)}")
            if not str(d["wechat_url"]).startswith(("http://", "https://")):
                raise ValueError(f"wechat_url {d['wechat_url']!r} is not an http(s) URL")
            if not re.fullmatch(r"wx[0-9a-f]{16}", str(d["wechat_appid"])):
                raise ValueError("wechat_appid must look like wx followed by 16 hex digits")
            for who, openids in (d.get("wechat_openids") or {}).items():
                bad = [o for o in openids if not re.fullmatch(r"[A-Za-z0-9_-]{28}", o)]
                if bad:
                    raise ValueError(f"wechat_openids.{who}: {', '.join(bad)} is not an openid (28 characters)")
        return value

    @field_validator("approval_units")
    @classmethod
    def _units(cls, value: list[str]) -> list[str]:
        bad = [u for u in value if not UNIT_RE.match(u)]
        if bad:
            raise ValueError(f"{', '.join(repr(u[:40]) for u in bad)} is not a unit code of the dispatch directory")
        return value

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
