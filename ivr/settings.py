"""IVR settings: ``HOTLINE_IVR__<NAME>`` environment variables (e.g. ``HOTLINE_IVR__FLOW=/etc/hotline/city.toml``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotline.settings import Settings, SettingsError

DEFAULT_FLOW = Path(__file__).with_name("flows") / "city.toml"


class IvrSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_IVR__", extra="forbid")

    flow: Path = Field(DEFAULT_FLOW, description="the hotline's flow file")
    prompts_dir: Path | None = Field(None, description="generated prompts; default <data_dir>/prompts")
    override_dir: Path | None = Field(None, description="operator recordings; default <data_dir>/prompts-override")
    queues: list[str] = Field(default_factory=list, description="ACD queue names a flow may use; empty: not checked")
    reload_seconds: float = Field(5.0, gt=0, description="how often the flow file is checked for changes")
    missed_call_window_hours: float = Field(24.0, gt=0)
    missed_call_grace_seconds: float = Field(120.0, ge=0)
    missed_call_min_wait_seconds: float = Field(0.0, ge=0)


def load_ivr_settings(settings: Settings) -> IvrSettings:
    try:
        ivr = IvrSettings()  # type: ignore[call-arg]  # pydantic fills the defaults from the environment
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"])
        raise SettingsError(f"setting ivr.{name} [HOTLINE_IVR__{name.upper()}]: {err['msg']}") from None
    if ivr.prompts_dir is None:
        ivr.prompts_dir = settings.data_dir / "prompts"
    if ivr.override_dir is None:
        ivr.override_dir = settings.data_dir / "prompts-override"
    return ivr
