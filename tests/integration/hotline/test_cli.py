"""The hotline command as a user meets it: one clear line on bad input, a clean stop on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HOTLINE = str(Path(sys.executable).parent / "hotline")


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run([HOTLINE, *args], capture_output=True, text=True, env=full, timeout=timeout, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_version_prints_the_package_version():
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.startswith("hotline 0.")


def test_a_wrong_setting_gives_one_line_naming_it(tmp_path):
    out = run("db", "upgrade", env={"HOTLINE_HTTP__PORT": "eighty", "HOTLINE_DATA_DIR": str(tmp_path)})
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "http.port" in lines[0] and "HOTLINE_HTTP__PORT" in lines[0] and "eighty" in lines[0]
    assert "Traceback" not in out.stderr


def test_a_broken_settings_file_is_named(tmp_path):
    cfg = tmp_path / "hotline.toml"
    cfg.write_text("[http]\nport = = 3\n")
    out = run("db", "upgrade", env={"HOTLINE_CONFIG": str(cfg), "HOTLINE_DATA_DIR": str(tmp_path)})
    assert out.returncode != 0
    assert str(cfg) in out.stderr and "Traceback" not in out.stderr


def test_unknown_benchmark_lists_the_known_ones():
    out = run("bench", "no-such-bench", "--json")
    assert out.returncode == 2
    assert "no benchmark named 'no-such-bench'" in out.stderr


def test_db_upgrade_creates_the_sqlite_schema_in_the_data_dir(tmp_path):
    out = run("db", "upgrade", env={"HOTLINE_DATA_DIR": str(tmp_path), "DATABASE_URL": ""})
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "hotline.db").stat().st_size > 0
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def test_unreachable_database_is_one_clear_error(tmp_path):
    port = free_port()
    out = run(
        "db",
        "upgrade",
        env={"HOTLINE_DATA_DIR": str(tmp_path), "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{port}/none"},
    )
    assert out.returncode == 1
    assert "unreachable" in out.stderr and "DATABASE_URL" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_run_serves_health_and_openapi_and_stops_on_ctrl_c(tmp_path, loop):
    port = free_port()
    env = {
        **os.environ,
        "HOTLINE_EVENT_LOOP": loop,
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_HTTP__PORT": str(port),
        "DATABASE_URL": "",
        "REDIS_URL": "",
    }
    proc = subprocess.Popen(
        [HOTLINE, "run", "--no-asterisk"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        body = b""
        while time.monotonic() < deadline:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        assert b'"ok"' in body
        spec = urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=2).read()
        assert b'"openapi": "3.1.0"' in spec
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port} (event loop: {loop})" in out
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)


def test_run_on_a_port_in_use_says_which_setting_to_change(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = run(
            "run",
            "--no-asterisk",
            env={
                "HOTLINE_DATA_DIR": str(tmp_path),
                "HOTLINE_HTTP__PORT": str(port),
                "DATABASE_URL": "",
                "REDIS_URL": "",
            },
            timeout=60,
        )
    assert out.returncode == 1
    assert f"port {port}" in out.stderr and "HOTLINE_HTTP__PORT" in out.stderr
