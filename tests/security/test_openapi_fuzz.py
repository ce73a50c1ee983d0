"""Every route of the OpenAPI description, fuzzed by schemathesis against a real ``hotline run``:
no 500, no traceback in a response, only documented statuses and content types."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.security.engine import running_engine

pytestmark = pytest.mark.integration
ST = str(Path(sys.executable).parent / "st")
# Routes that end the session the fuzzer runs with; tested by hand in test_login_and_sessions.
SESSION_ENDERS = ("/api/logout", "/api/me/password", "/api/accounts/{username}/password")
# A fixed seed keeps the suite's verdict repeatable; `hotline bench fuzz` explores new seeds.
SEED = "20261206"


@pytest.mark.parametrize(("user", "role", "unit"), [("admin1", "admin", None), ("water1", "unit", "water")])
async def test_no_route_answers_500_or_an_undocumented_status(tmp_path, user, role, unit):
    async with running_engine(tmp_path, {}, [(user, role, unit)]) as engine:
        async with aiohttp.ClientSession() as http:
            token = await engine.login(http, user)
        argv = [ST, "run", f"{engine.base}/openapi.json", "-H", f"Authorization: Bearer {token}"]
        argv += ["-H", f"Origin: {engine.base}", "--checks", "not_a_server_error,status_code_conformance,"]
        argv[-1] += "content_type_conformance"
        argv += ["--max-examples", "40", "--workers", "1", "--seed", SEED, "--phases", "examples,coverage,fuzzing"]
        for path in SESSION_ENDERS:
            argv += ["--exclude-path", path]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env={"NO_COLOR": "1", "PATH": ""}
        )
        out, _ = await proc.communicate()
        text = out.decode(errors="replace")
        log = (tmp_path / "engine.log").read_text(errors="replace")
    assert proc.returncode == 0, text[-6000:]
    assert " passed" in text and "generated" in text
    assert "Traceback" not in log, log[-4000:]  # nothing the fuzzer sent broke a handler
