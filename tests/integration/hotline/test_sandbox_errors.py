"""The sandbox's bad-input paths: each says the cause and the fix, exits non-zero, starts nothing."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from hotline import sandbox
from hotline.errors import CommandError
from hotline.settings import load_settings
from tests.integration.hotline.test_cli import free_port, run


def test_missing_debootstrap_is_named_with_the_package_to_install(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python3", "chroot", "mount", "umount"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bin_dir / tool)
    out = run("sandbox", "up", env={"PATH": str(bin_dir), "HOTLINE_DATA_DIR": str(tmp_path / "var")})
    assert out.returncode == 1
    assert "debootstrap is not installed" in out.stderr and "apt-get install debootstrap" in out.stderr


def test_unreachable_mirror_explains_the_network_problem(tmp_path):
    port = free_port()  # nothing listens there: like a machine without network
    out = run(
        "sandbox",
        "up",
        env={"HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_ASTERISK__MIRROR": f"http://127.0.0.1:{port}/debian"},
        timeout=180,
    )
    assert out.returncode == 1, out.stderr
    assert "cannot reach" in out.stderr or "could not be downloaded" in out.stderr
    assert "HOTLINE_ASTERISK__MIRROR" in out.stderr
    assert not (tmp_path / "sandbox" / "root").exists()  # nothing half-built left behind


def test_port_in_use_names_the_setting(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        settings = load_settings(
            data_dir=tmp_path, asterisk={"sip_port": port, "http_port": free_port(), "ami_port": free_port()}
        )
        with pytest.raises(CommandError, match=f"port {port}.*HOTLINE_ASTERISK__SIP_PORT"):
            sandbox.check_ports(settings)


def test_a_root_without_its_build_record_counts_as_corrupt(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    p = sandbox.paths(settings)
    (p.root / "usr/sbin").mkdir(parents=True)
    (p.root / "usr/bin").mkdir(parents=True)
    (p.root / "usr/sbin/asterisk").write_text("")
    (p.root / "usr/bin/env").write_text("")
    assert not sandbox.is_built(p)
    p.state.write_text("{not json")
    assert not sandbox.is_built(p)
    p.state.write_text(json.dumps({"suite": "unstable"}))
    assert sandbox.is_built(p)
    (p.root / "usr/sbin/asterisk").unlink()
    assert not sandbox.is_built(p)


def test_the_machines_apt_mirror_is_used_and_no_host_is_hard_coded():
    mirror = sandbox.apt_mirror()
    assert mirror == "" or "://" in mirror
    source = Path(sandbox.__file__).read_text()
    assert "debian.org" not in source


def test_status_reports_ports_and_answers_of_the_running_sandbox():
    from tests.integration.asterisk import asterisk_settings

    settings = asterisk_settings()
    st = sandbox.status(settings)
    assert st["ari"] is True and st["ami"] is True
    assert str(st["version"]).startswith("22.")
    assert st["ports"] == {
        "http": settings.asterisk.http_port,
        "ami": settings.asterisk.ami_port,
        "sip_udp": settings.asterisk.sip_port,
    }
