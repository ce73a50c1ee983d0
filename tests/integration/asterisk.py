"""Helpers for tests against the sandbox Asterisk: settings, reachability, sipp."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from hotline import sandbox
from hotline.settings import Settings, load_settings
from tests.conftest import need_server

SIPP_DIR = Path(__file__).resolve().parent.parent / "sipp"


def asterisk_settings() -> Settings:
    settings = load_settings()
    if sandbox.ari_info(settings, timeout=2) is None:
        need_server(
            f"Asterisk ARI at {settings.asterisk.ari_url} does not answer: run 'hotline sandbox up' (make test does)"
        )
    return settings


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        need_server("sipp is not installed (Debian package sip-tester; make test installs it)")
    assert path is not None
    return path


async def run_sipp(scenario: str, target: str, *args: str, timeout: float = 30) -> tuple[int, str]:
    """Run one sipp scenario from tests/sipp to the target host:port; return (exit code, output)."""
    proc = await asyncio.create_subprocess_exec(
        sipp_binary(),
        "-sf",
        str(SIPP_DIR / scenario),
        target,
        "-i",
        "127.0.0.1",
        "-nostdin",
        "-timeout",
        f"{int(timeout)}s",
        "-trace_err",
        "-error_file",
        "/dev/stderr",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout + 10)
    return proc.returncode or 0, out.decode(errors="replace")
