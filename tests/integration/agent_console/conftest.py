from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.agent_console.harness import Engine, start_engine, stop_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    e = await start_engine(tmp_path)
    try:
        yield e
    finally:
        await stop_engine(e)
