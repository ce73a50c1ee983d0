"""Settings of the console, read from ``HOTLINE_CONSOLE__<NAME>`` environment variables.

Kept apart from ``hotline.settings.Settings`` until the lead folds a ``console`` table into it.
"""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotline.settings import SettingsError


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_CONSOLE__", extra="forbid")

    grace_s: float = Field(60.0, gt=0, le=3600, description="a seat without a console this long is set not ready")
    board_every_s: float = Field(2.0, gt=0, le=60, description="how often queue figures are pushed to the pages")
    default_skills: dict[str, int] = Field({"general": 1}, description="skills of a seat without a profile")
    not_ready_reasons: tuple[str, ...] = ("小休", "用餐", "培训", "会议", "事务处理")
    dispositions: tuple[str, ...] = ("已解答", "已建工单", "转接", "骚扰电话", "无声电话", "其他")
    quick_replies: tuple[str, ...] = (
        "您好，这里是12345政务服务便民热线，请问有什么可以帮您？",
        "请您提供详细地址和联系电话，以便我们转交相关部门办理。",
        "您反映的问题已记录并生成工单，承办单位将在规定时限内与您联系。",
        "请稍等，正在为您查询。",
        "感谢您的反映，祝您生活愉快！",
    )
    history_limit: int = Field(10, ge=1, le=100, description="earlier contacts shown to the seat")
    max_notes: int = Field(2000, ge=1, le=20000)
    # Knowledge suggestions (agent_console/kb.py). The score is the knowledge search's (bm25, higher
    # is better): on the 240-entry evaluation set a right first answer scores 15 or more in 19 of 20
    # questions, greetings and chit-chat ("你好", "人呢") under 8.
    kb_suggest_every_s: float = Field(
        2.0, gt=0, le=60, description="at most one chat suggestion per conversation this often"
    )
    kb_suggest_chars: int = Field(200, ge=10, le=2000, description="a message or form is searched cut to this")
    kb_suggest_top: int = Field(3, ge=1, le=10, description="suggestions per message or form")
    kb_suggest_min_score: float = Field(10.0, ge=0, description="entries below this score are not suggested")
    kb_suggest_concurrency: int = Field(4, ge=1, le=64, description="suggestion searches at once")
    kb_suggest_pending: int = Field(64, ge=1, le=10000, description="suggestions waiting beyond this are dropped")
    kb_order_burst: int = Field(3, ge=1, le=100, description="work-order suggestions a seat may ask per window")
    kb_order_window_s: float = Field(5.0, gt=0, le=600)


def load_console_settings(**overrides: object) -> ConsoleSettings:
    try:
        return ConsoleSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"])
        raise SettingsError(f"setting console.{name} [HOTLINE_CONSOLE__{name.upper()}]: {err['msg']}") from None
