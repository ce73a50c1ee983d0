"""Knowledge-base settings: ``[knowledge]`` in hotline.toml or ``HOTLINE_KNOWLEDGE__<NAME>``."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotline.settings import Settings, SettingsError


class KnowledgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_KNOWLEDGE__", extra="forbid")

    max_query_chars: int = Field(default=200, ge=10, le=2000, description="a longer query is cut to this")
    results_default: int = Field(default=10, ge=1, le=100)
    results_max: int = Field(default=50, ge=1, le=200)
    candidates: int = Field(default=60, ge=10, le=1000, description="rows taken from the index before re-ranking")
    prerank: int = Field(
        default=200, ge=10, le=5000, description="PostgreSQL: rows the SQL pre-rank passes to BM25 (Python)"
    )
    question_weight: float = Field(default=4.0, gt=0, description="bm25 weight of the question against the answer")
    scope_boost: float = Field(default=1.5, ge=1, description="score factor of an entry of the caller's own scope")
    expired_factor: float = Field(default=0.5, gt=0, le=1, description="score factor of an expired entry (seats only)")
    submit_working_days_ahead: float = Field(default=1.0, ge=0, description="submit before the effective date by")
    public_searches_per_minute: int = Field(default=30, ge=1, description="anonymous searches per address per minute")
    import_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0, description="largest import over HTTP")
    search_threads: int = Field(default=2, ge=1, le=16, description="SQLite: reader threads for searches")
    query_working_days: float = Field(default=1.0, gt=0, le=30, description="a unit answers a seat's question within")
    correction_working_days: float = Field(default=1.0, gt=0, le=30, description="a unit corrects a flagged entry in")


def load_knowledge_settings(settings: Settings | None = None, **overrides: Any) -> KnowledgeSettings:
    data: dict[str, Any] = dict(getattr(settings, "knowledge", None) or {})
    data.update(overrides)
    try:
        return KnowledgeSettings(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise SettingsError(f"setting knowledge.{loc} [HOTLINE_KNOWLEDGE__{loc.upper()}]: {err['msg']}") from None
